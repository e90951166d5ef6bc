/* metrics.c — the registry of metrics and their Prometheus text rendering. */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "core/metrics.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metric *head, *tail;
static struct metric_family *families;

const double metric_buckets_s[METRIC_NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
						  0.5,	 1,    2.5,   5,    10};

static const char *const stage_names[STAGE_COUNT] = {"parse",	 "normalize", "enrich", "insert",
						     "postings", "commit",    "detect", "alerts",
						     "indexer",	 "checkpoint"};
static _Atomic int64_t stage_ns[STAGE_COUNT];
static _Atomic uint64_t stage_events[STAGE_COUNT];

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void stage_start(struct stage_timer *t, size_t work)
{
	static _Thread_local unsigned small;
	t->weight = work >= STAGE_SAMPLE_MIN		? 1
		    : small++ % STAGE_SAMPLE_EVERY == 0 ? STAGE_SAMPLE_EVERY
							: 0;
	t->at = t->weight ? thread_cpu_ns() : 0;
}

void stage_lap(struct stage_timer *t, enum stage s, uint64_t events)
{
	int64_t ns = 0;
	if (t->weight) {
		int64_t now = thread_cpu_ns();
		ns = (now - t->at) * t->weight;
		t->at = now;
	}
	stage_add(s, ns, events);
}

void stage_add(enum stage s, int64_t cpu_ns, uint64_t events)
{
	if ((unsigned)s >= STAGE_COUNT)
		return;
	if (cpu_ns > 0)
		atomic_fetch_add_explicit(&stage_ns[s], cpu_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&stage_events[s], events, memory_order_relaxed);
}

void stage_get(enum stage s, int64_t *cpu_ns, uint64_t *events)
{
	*cpu_ns = (unsigned)s < STAGE_COUNT ? atomic_load(&stage_ns[s]) : 0;
	*events = (unsigned)s < STAGE_COUNT ? atomic_load(&stage_events[s]) : 0;
}

static int stages_render(struct strbuf *out)
{
	int rc = strbuf_addf(out, "# HELP minisiem_stage_cpu_seconds_total Thread CPU time spent "
				  "in each pipeline stage.\n"
				  "# TYPE minisiem_stage_cpu_seconds_total counter\n");
	for (int i = 0; i < STAGE_COUNT && rc == 0; i++)
		rc = strbuf_addf(
		    out, "minisiem_stage_cpu_seconds_total{stage=\"%s\"} %.9f\n", stage_names[i],
		    (double)atomic_load_explicit(&stage_ns[i], memory_order_relaxed) / 1e9);
	if (rc == 0)
		rc = strbuf_addf(out, "# HELP minisiem_stage_events_total Events (rows for the "
				      "indexer) each pipeline stage handled.\n"
				      "# TYPE minisiem_stage_events_total counter\n");
	for (int i = 0; i < STAGE_COUNT && rc == 0; i++)
		rc = strbuf_addf(out, "minisiem_stage_events_total{stage=\"%s\"} %" PRIu64 "\n",
				 stage_names[i],
				 atomic_load_explicit(&stage_events[i], memory_order_relaxed));
	return rc;
}

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
	for (struct metric_family *f = families; f && rc == 0; f = f->next)
		rc = f->render(out, f->arg);
	pthread_mutex_unlock(&reg_mu);
	if (rc == 0)
		rc = stages_render(out);
	return rc;
}

void metric_family_register(struct metric_family *f)
{
	pthread_mutex_lock(&reg_mu);
	struct metric_family **p = &families;
	while (*p && *p != f)
		p = &(*p)->next;
	if (!*p) {
		f->next = NULL;
		*p = f;
	}
	pthread_mutex_unlock(&reg_mu);
}

void metric_family_unregister(struct metric_family *f)
{
	pthread_mutex_lock(&reg_mu);
	for (struct metric_family **p = &families; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	pthread_mutex_unlock(&reg_mu);
}

void metric_histogram_observe(struct metric_histogram *h, int64_t us)
{
	if (us < 0)
		us = 0;
	for (int i = 0; i < METRIC_NBUCKETS; i++)
		if ((double)us <= metric_buckets_s[i] * 1e6) {
			atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
			break;
		}
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

int metric_histogram_render(struct strbuf *out, const char *name, const char *labels,
			    struct metric_histogram *h)
{
	const char *sep = labels && *labels ? "," : "";
	labels = labels ? labels : "";
	int64_t cum = 0, count = atomic_load_explicit(&h->count, memory_order_relaxed);
	int rc = 0;
	for (int i = 0; i < METRIC_NBUCKETS && rc == 0; i++) {
		cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		rc = strbuf_addf(out, "%s_bucket{%s%sle=\"%g\"} %" PRId64 "\n", name, labels, sep,
				 metric_buckets_s[i], cum);
	}
	/* The count was read first: one racing this render may be in a bucket already */
	if (count < cum)
		count = cum;
	const char *lo = *labels ? "{" : "", *lc = *labels ? "}" : "";
	if (rc == 0)
		rc = strbuf_addf(out,
				 "%s_bucket{%s%sle=\"+Inf\"} %" PRId64 "\n%s_sum%s%s%s %.6f\n"
				 "%s_count%s%s%s %" PRId64 "\n",
				 name, labels, sep, count, name, lo, labels, lc,
				 (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) /
				     1e6,
				 name, lo, labels, lc, count);
	return rc;
}
