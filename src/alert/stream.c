/* stream.c — live subscribers of alert changes (GET /alerts/stream): the SSE text of an
 * alert, bounded per-subscriber queues (a subscriber that falls behind is dropped and
 * counted), fan-out of each published change, and the replay after a Last-Event-ID. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert_int.h"
#include "core/err.h"
#include "core/metrics.h"
#include "store/store_alerts.h"

static struct metric m_sse_subs =
    METRIC_GAUGE_INIT("minisiem_alerts_stream_subscribers", NULL, "Clients on GET /alerts/stream.");
static struct metric m_sse_dropped =
    METRIC_COUNTER_INIT("minisiem_alerts_stream_dropped_total", NULL,
			"Stream subscribers dropped because they did not keep up.");

struct alerts_msg {
	atomic_int refs;
	int64_t rev;
	size_t n;
	char text[];
};

struct alerts_sub {
	struct alerts *a;
	struct alerts_msg **q;
	size_t head, n, cap;
	bool dropped, ended;
	void (*wake)(void *);
	void *arg;
	struct alerts_sub *prev, *next;
};

void alerts_stream_register_metrics(void)
{
	metric_register(&m_sse_subs);
	metric_register(&m_sse_dropped);
}

int alerts_format_sse(const json_t *alert, struct strbuf *out)
{
	char *data = json_dumps(alert, JSON_COMPACT);
	if (!data)
		return -ENOMEM;
	int rc =
	    strbuf_addf(out, "id: %lld-%lld\nevent: alert\ndata: %s\n\n",
			(long long)json_integer_value(json_object_get(alert, "id")),
			(long long)json_integer_value(json_object_get(alert, "version")), data);
	free(data);
	return rc;
}

struct alerts_msg *alerts_msg_new(const json_t *alert)
{
	struct strbuf b;
	strbuf_init(&b, 1024 * 1024);
	struct alerts_msg *m = NULL;
	if (alerts_format_sse(alert, &b) == 0 && (m = malloc(sizeof(*m) + b.n + 1))) {
		atomic_init(&m->refs, 1);
		m->rev = json_integer_value(json_object_get(alert, "version"));
		m->n = b.n;
		memcpy(m->text, b.p, b.n + 1);
	}
	strbuf_release(&b);
	return m;
}

const char *alerts_msg_text(const struct alerts_msg *m, size_t *n)
{
	*n = m->n;
	return m->text;
}

int64_t alerts_msg_rev(const struct alerts_msg *m)
{
	return m->rev;
}

void alerts_msg_put(struct alerts_msg *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1)
		free(m);
}

int alerts_subscribe(struct alerts *a, void (*wake)(void *), void *arg, struct alerts_sub **out)
{
	struct alerts_sub *s = calloc(1, sizeof(*s));
	if (!s || !(s->q = calloc(a->t.sub_queue, sizeof(*s->q)))) {
		free(s);
		return -ENOMEM;
	}
	s->a = a;
	s->cap = a->t.sub_queue;
	s->wake = wake;
	s->arg = arg;
	pthread_mutex_lock(&a->sub_mu);
	if (a->nsubs >= a->t.max_subs) {
		pthread_mutex_unlock(&a->sub_mu);
		free(s->q);
		free(s);
		return -EBUSY;
	}
	s->next = a->subs;
	if (a->subs)
		a->subs->prev = s;
	a->subs = s;
	a->nsubs++;
	metric_set(&m_sse_subs, (int64_t)a->nsubs);
	pthread_mutex_unlock(&a->sub_mu);
	*out = s;
	return 0;
}

int alerts_sub_next(struct alerts_sub *s, struct alerts_msg **m)
{
	struct alerts *a = s->a;
	int rc;
	pthread_mutex_lock(&a->sub_mu);
	if (s->n > 0) {
		*m = s->q[s->head];
		s->q[s->head] = NULL;
		s->head = (s->head + 1) % s->cap;
		s->n--;
		rc = 1;
	} else {
		rc = s->dropped || s->ended ? -1 : 0;
	}
	pthread_mutex_unlock(&a->sub_mu);
	return rc;
}

bool alerts_sub_dropped(struct alerts_sub *s)
{
	pthread_mutex_lock(&s->a->sub_mu);
	bool d = s->dropped;
	pthread_mutex_unlock(&s->a->sub_mu);
	return d;
}

void alerts_unsubscribe(struct alerts_sub *s)
{
	if (!s)
		return;
	struct alerts *a = s->a;
	pthread_mutex_lock(&a->sub_mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		a->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	a->nsubs--;
	metric_set(&m_sse_subs, (int64_t)a->nsubs);
	pthread_mutex_unlock(&a->sub_mu);
	for (size_t i = 0; i < s->n; i++)
		alerts_msg_put(s->q[(s->head + i) % s->cap]);
	free(s->q);
	free(s);
}

/* Give m to every subscriber; one that cannot take it is dropped (it will end after the
 * messages it holds, and the client resumes from its Last-Event-ID). */
void alerts_fan_out(struct alerts *a, struct alerts_msg *m)
{
	pthread_mutex_lock(&a->sub_mu);
	for (struct alerts_sub *s = a->subs; s; s = s->next) {
		if (s->dropped || s->ended)
			continue;
		if (s->n == s->cap) {
			s->dropped = true;
			metric_add(&m_sse_dropped, 1);
			atomic_fetch_add(&a->sse_dropped, 1);
		} else {
			atomic_fetch_add(&m->refs, 1);
			s->q[(s->head + s->n) % s->cap] = m;
			s->n++;
		}
		if (s->wake)
			s->wake(s->arg);
	}
	pthread_mutex_unlock(&a->sub_mu);
}

void alerts_wake_all(struct alerts *a, bool end)
{
	pthread_mutex_lock(&a->sub_mu);
	for (struct alerts_sub *s = a->subs; s; s = s->next) {
		if (end)
			s->ended = true;
		if (s->wake)
			s->wake(s->arg);
	}
	pthread_mutex_unlock(&a->sub_mu);
}

int alerts_replay(struct alerts *a, int64_t after, int limit, struct alerts_msg ***out, size_t *n)
{
	json_t *rows = json_array();
	struct alerts_msg **v = NULL;
	size_t cnt = 0;
	*out = NULL;
	*n = 0;
	if (!rows)
		return -ENOMEM;
	int rc = store_alerts_since(a->s, after, limit, rows);
	if (rc == 0 && json_array_size(rows) && !(v = calloc(json_array_size(rows), sizeof(*v))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < json_array_size(rows); i++) {
		if (!(v[cnt] = alerts_msg_new(json_array_get(rows, i))))
			rc = -ENOMEM;
		else
			cnt++;
	}
	json_decref(rows);
	if (rc < 0) {
		for (size_t i = 0; i < cnt; i++)
			alerts_msg_put(v[i]);
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}
