/* metrics.c — the registry of metrics and their Prometheus text rendering. */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "core/metrics.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metric *head, *tail;

void metric_register(struct metric *m)
{
	pthread_mutex_lock(&reg_mu);
	for (struct metric *x = head; x; x = x->next)
		if (x == m) {
			pthread_mutex_unlock(&reg_mu);
			return;
		}
	m->next = NULL;
	if (tail)
		tail->next = m;
	else
		head = m;
	tail = m;
	pthread_mutex_unlock(&reg_mu);
}

int metrics_render(struct strbuf *out)
{
	int rc = 0;
	pthread_mutex_lock(&reg_mu);
	/* A family's samples must be contiguous: print each name once, with all its series. */
	for (struct metric *m = head; m && rc == 0; m = m->next) {
		bool first = true;
		for (struct metric *x = head; x != m; x = x->next)
			if (strcmp(x->name, m->name) == 0)
				first = false;
		if (!first)
			continue;
		rc = strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
				 m->kind == METRIC_COUNTER ? "counter" : "gauge");
		for (struct metric *x = m; x && rc == 0; x = x->next)
			if (strcmp(x->name, m->name) == 0)
				rc = strbuf_addf(out, "%s%s%s%s %" PRId64 "\n", x->name,
						 x->labels ? "{" : "", x->labels ? x->labels : "",
						 x->labels ? "}" : "", metric_get(x));
	}
	pthread_mutex_unlock(&reg_mu);
	return rc;
}
