/* events_stream.c — GET /events/stream: new events as they are committed, filtered like
 * GET /events, as Server-Sent Events (the explorer's live tail). The writer hands each stored
 * event to events_stream_publish; every stream has a bounded queue, and a full one drops and
 * counts (the client is told), so a slow client never holds up the writer. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/tokens.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

/* Events waiting for one client; past it they are dropped and counted. */
#define STREAM_QUEUE 256
/* Streams open at once, all users; and per user, so one user cannot take them all. */
#define STREAMS_MAX 64
#define STREAMS_PER_USER 4
#define STREAM_CHECK_MS 1000	  /* how often a stream checks its login token */
#define STREAM_KEEPALIVE_MS 15000 /* a comment line when nothing was written for this long */

static struct metric m_sent = METRIC_COUNTER_INIT("minisiem_events_stream_sent_total", NULL,
						  "Events queued to GET /events/stream clients.");
static struct metric m_dropped =
    METRIC_COUNTER_INIT("minisiem_events_stream_dropped_total", NULL,
			"Events not sent to a GET /events/stream client whose queue was full.");
static struct metric m_open =
    METRIC_GAUGE_INIT("minisiem_events_streams", NULL, "GET /events/stream connections open.");
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void register_metrics(void)
{
	metric_register(&m_sent);
	metric_register(&m_dropped);
	metric_register(&m_open);
}

/* One event's SSE text, shared by every stream it goes to. */
struct msg {
	atomic_int ref;
	size_t len;
	char text[];
};

static void msg_put(struct msg *m)
{
	if (m && atomic_fetch_sub(&m->ref, 1) == 1)
		free(m);
}

struct slot {
	struct msg *m;
	uint64_t dropped_before; /* events dropped just before this one */
};

struct evstream {
	struct evstream *prev, *next; /* subscribers (subs_mu) */
	struct http_stream *st;
	struct event_query q;
	struct arena a; /* q's strings */

	pthread_mutex_t mu; /* the queue, between the writer and the HTTP thread */
	struct slot queue[STREAM_QUEUE];
	size_t head, count;
	uint64_t dropped; /* dropped since the last queued event */

	/* HTTP thread only: what is being written */
	struct msg *cur;
	const char *text;
	size_t len, off;
	char note[160];
	bool finishing;
	int64_t last_write_ms, next_check_ms;
	int keepalive_ms;
	char *token;
	char user[128];
};

static pthread_mutex_t subs_mu = PTHREAD_MUTEX_INITIALIZER;
static struct evstream *subs;
static int nsubs;
static struct stream_user {
	char name[128];
	int n;
} users[STREAMS_MAX];

/* Count a stream for user: 0, or -EBUSY when every slot is taken, -EMFILE when the user has
 * STREAMS_PER_USER already. */
static int stream_take(const char *user)
{
	struct stream_user *free_slot = NULL;
	int rc = 0;
	pthread_mutex_lock(&subs_mu);
	for (size_t i = 0; i < STREAMS_MAX; i++) {
		struct stream_user *u = &users[i];
		if (u->n && strcmp(u->name, user) == 0) {
			free_slot = u;
			break;
		}
		if (!u->n && !free_slot)
			free_slot = u;
	}
	if (nsubs >= STREAMS_MAX || !free_slot)
		rc = -EBUSY;
	else if (free_slot->n >= STREAMS_PER_USER)
		rc = -EMFILE;
	if (rc == 0) {
		if (!free_slot->n)
			snprintf(free_slot->name, sizeof(free_slot->name), "%s", user);
		free_slot->n++;
		nsubs++;
	}
	pthread_mutex_unlock(&subs_mu);
	return rc;
}

/* Called with subs_mu held. */
static void stream_give(const char *user)
{
	for (size_t i = 0; i < STREAMS_MAX; i++) {
		if (users[i].n && strcmp(users[i].name, user) == 0) {
			users[i].n--;
			break;
		}
	}
	nsubs--;
}

/* Streams with nothing to send are parked: a ticker wakes them every half second, so that
 * they check their token and send keep-alives. It runs while streams are open. */
#define TICK_MS 500
static bool ticking;

static void *ticker(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = {0, TICK_MS * 1000000L};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&subs_mu);
		if (!subs) {
			ticking = false;
			pthread_mutex_unlock(&subs_mu);
			return NULL;
		}
		for (struct evstream *s = subs; s; s = s->next)
			http_stream_wake(s->st);
		pthread_mutex_unlock(&subs_mu);
	}
}

/* Called with subs_mu held, a stream just added. */
static void ticker_start(void)
{
	pthread_t t;
	pthread_attr_t attr;
	if (ticking || pthread_attr_init(&attr) != 0)
		return;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, ticker, NULL) == 0)
		ticking = true;
	else
		log_warn("api", "cannot start the event streams' ticker: keep-alives are late");
	pthread_attr_destroy(&attr);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- matching one event, as the store's query would ---- */

static bool sv_in(struct sv v, const struct strset *set)
{
	if (!set->n)
		return true;
	if (!v.p)
		return false;
	for (size_t i = 0; i < set->n; i++)
		if (strlen(set->v[i]) == v.n && memcmp(set->v[i], v.p, v.n) == 0)
			return true;
	return false;
}

static bool int_in(int v, const int *vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (vals[i] == v)
			return true;
	return false;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* w occurs in t, ASCII case folded (the store's siem_text_has). */
static bool has_term(struct sv t, const char *w, size_t wn)
{
	if (!t.p || wn > t.n)
		return false;
	for (size_t i = 0; i + wn <= t.n; i++) {
		size_t j = 0;
		while (j < wn && lower((unsigned char)t.p[i + j]) == lower((unsigned char)w[j]))
			j++;
		if (j == wn)
			return true;
	}
	return false;
}

static bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Every whitespace-separated term of q in the message, the raw message or the path. */
static bool text_has(const struct event *ev, const char *q)
{
	for (const char *p = q; *p;) {
		while (*p && is_space(*p))
			p++;
		const char *w = p;
		while (*p && !is_space(*p))
			p++;
		size_t wn = (size_t)(p - w);
		if (wn && !has_term(ev->message, w, wn) && !has_term(ev->raw_message, w, wn) &&
		    !has_term(ev->http_path, w, wn))
			return false;
	}
	return true;
}

/* Tags as the store matches them: ",tag," or ",prefix" in ",tags,". */
static bool tags_have(struct sv tags, const struct strset *set)
{
	if (!set->n)
		return true;
	if (!tags.p || !tags.n)
		return false;
	for (size_t i = 0; i < set->n; i++) {
		const char *t = set->v[i];
		size_t tn = strlen(t);
		for (size_t k = 0; k + tn <= tags.n + 2; k++) {
			size_t j = 0;
			for (; j < tn; j++) {
				size_t at = k + j; /* position in ",tags," */
				char c = at == 0 || at == tags.n + 1 ? ',' : tags.p[at - 1];
				if (c != t[j])
					break;
			}
			if (j == tn)
				return true;
		}
	}
	return false;
}

static bool matches(const struct event_query *q, const struct event *ev)
{
	if (ev->ts < q->from || ev->ts > q->to)
		return false;
	if (!sv_in(ev->event_type, &q->event_type) || !sv_in(ev->app, &q->app) ||
	    !sv_in(ev->level, &q->level) || !sv_in(ev->os_type, &q->os_type) ||
	    !sv_in(ev->source_host, &q->source_host) || !sv_in(ev->user, &q->user) ||
	    !sv_in(ev->request_id, &q->request_id) || !sv_in(ev->geo_country, &q->country))
		return false;
	if (q->n_severity && !int_in(ev->severity, q->severity, q->n_severity))
		return false;
	if (q->n_status && (!(ev->flags & EV_HAS_HTTP_STATUS) ||
			    !int_in(ev->http_status, q->http_status, q->n_status)))
		return false;
	if (q->n_cidr) {
		bool in = false;
		for (size_t i = 0; i < q->n_cidr && (ev->flags & EV_HAS_IP) && !in; i++)
			in = memcmp(ev->ip, q->cidr_lo[i], 16) >= 0 &&
			     memcmp(ev->ip, q->cidr_hi[i], 16) <= 0;
		if (!in)
			return false;
	}
	if (q->n_asn) {
		bool in = false;
		for (size_t i = 0; i < q->n_asn && (ev->flags & EV_HAS_ASN) && !in; i++)
			in = q->asn[i] == ev->geo_asn;
		if (!in)
			return false;
	}
	if (!tags_have(ev->tags, &q->tag))
		return false;
	return !q->q || !q->q[0] || text_has(ev, q->q);
}

/* ---- the writer's side ---- */

static struct msg *render(const struct event *ev)
{
	json_t *o = event_to_json(ev, false);
	char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!js)
		return NULL;
	char id[37];
	uuid_format(ev->id, id);
	size_t n = strlen(js) + 64;
	struct msg *m = malloc(sizeof(*m) + n);
	if (m) {
		atomic_init(&m->ref, 1);
		int k = snprintf(m->text, n, "id: %s\nevent: event\ndata: %s\n\n", id, js);
		m->len = (size_t)k;
	}
	free(js);
	return m;
}

void events_stream_publish(const struct event *ev)
{
	struct msg *m = NULL;
	pthread_mutex_lock(&subs_mu);
	for (struct evstream *s = subs; s; s = s->next) {
		if (!matches(&s->q, ev))
			continue;
		if (!m && !(m = render(ev))) {
			metric_add(&m_dropped, 1);
			continue;
		}
		pthread_mutex_lock(&s->mu);
		if (s->count == STREAM_QUEUE) {
			s->dropped++;
			metric_add(&m_dropped, 1);
		} else {
			struct slot *sl = &s->queue[(s->head + s->count++) % STREAM_QUEUE];
			atomic_fetch_add(&m->ref, 1);
			sl->m = m;
			sl->dropped_before = s->dropped;
			s->dropped = 0;
			metric_add(&m_sent, 1);
		}
		pthread_mutex_unlock(&s->mu);
		http_stream_wake(s->st);
	}
	pthread_mutex_unlock(&subs_mu);
	msg_put(m);
}

/* ---- the HTTP side ---- */

static void set_note(struct evstream *s, const char *text)
{
	snprintf(s->note, sizeof(s->note), "%s", text);
	s->text = s->note;
	s->len = strlen(s->note);
	s->off = 0;
}

static void note_dropped(struct evstream *s, uint64_t n)
{
	char t[128];
	snprintf(t, sizeof(t), "event: dropped\ndata: {\"dropped\":%llu}\n\n",
		 (unsigned long long)n);
	set_note(s, t);
}

/* The next text to write: 1, or 0 when nothing waits. A drop notice goes out where the
 * events were lost: after the events queued before them. */
static int next_text(struct evstream *s)
{
	pthread_mutex_lock(&s->mu);
	int r = 0;
	if (s->count) {
		struct slot *sl = &s->queue[s->head];
		if (sl->dropped_before) {
			note_dropped(s, sl->dropped_before);
			sl->dropped_before = 0;
		} else {
			s->cur = sl->m;
			s->text = s->cur->text;
			s->len = s->cur->len;
			s->off = 0;
			sl->m = NULL;
			s->head = (s->head + 1) % STREAM_QUEUE;
			s->count--;
		}
		r = 1;
	} else if (s->dropped) {
		note_dropped(s, s->dropped);
		s->dropped = 0;
		r = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

static ssize_t stream_fill(void *ctx, char *buf, size_t max)
{
	struct evstream *s = ctx;
	size_t n = 0;
	int64_t t = now_ms();
	if (!s->finishing && t >= s->next_check_ms) {
		struct jwt_claims c;
		s->next_check_ms = t + STREAM_CHECK_MS;
		if (tokens_check(api_ctx->tokens, s->token, ts_now_us() / 1000000, &c) < 0) {
			msg_put(s->cur);
			s->cur = NULL;
			set_note(s, "event: end\ndata: {\"reason\":\"the login token expired or was"
				    " revoked\"}\n\n");
			s->finishing = true;
		}
	}
	while (n < max) {
		if (!s->text && (s->finishing || next_text(s) == 0))
			break;
		size_t k = s->len - s->off;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, s->text + s->off, k);
		n += k;
		s->off += k;
		if (s->off == s->len) {
			s->text = NULL;
			msg_put(s->cur);
			s->cur = NULL;
		}
	}
	if (n == 0 && s->finishing)
		return -1;
	if (n == 0 && t - s->last_write_ms >= s->keepalive_ms) {
		set_note(s, ": keep-alive\n\n");
		return stream_fill(ctx, buf, max);
	}
	if (n)
		s->last_write_ms = t;
	return (ssize_t)n;
}

static void stream_free(void *ctx)
{
	struct evstream *s = ctx;
	pthread_mutex_lock(&subs_mu);
	if (s->prev)
		s->prev->next = s->next;
	else if (subs == s)
		subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	stream_give(s->user);
	pthread_mutex_unlock(&subs_mu);
	metric_add(&m_open, -1);
	for (size_t i = 0; i < s->count; i++)
		msg_put(s->queue[(s->head + i) % STREAM_QUEUE].m);
	msg_put(s->cur);
	pthread_mutex_destroy(&s->mu);
	arena_release(&s->a);
	free(s->token);
	free(s);
}

/* The filters of GET /events that one event can be checked against, and the stream's own. */
static const char *const stream_params[] = {
    "event_type", "app",     "level",	   "os_type",	"source_host", "host",
    "user",	  "user_id", "request_id", "severity",	"http_status", "source_ip",
    "src_ip",	  "country", "asn",	   "tag",	"q",	       "from",
    "to",	  "start",   "end",	   "keepalive", NULL};

enum http_result api_events_stream(struct http_req *r)
{
	char err[160] = "";
	pthread_once(&metrics_once, register_metrics);
	struct evstream *s = calloc(1, sizeof(*s));
	if (!s)
		return http_reply_error(r, 500, "out of memory", NULL);
	arena_init(&s->a, 16 * 1024);
	pthread_mutex_init(&s->mu, NULL);
	s->keepalive_ms = STREAM_KEEPALIVE_MS;
	int rc = api_events_filter(r, stream_params, &s->q, &s->a, err, sizeof(err));
	const char *ka = http_query(r, "keepalive");
	if (rc == 0 && ka) {
		char *end = NULL;
		long v = strtol(ka, &end, 10);
		if (!*ka || *end || v < 1 || v > 300) {
			snprintf(err, sizeof(err), "keepalive: seconds 1..300");
			rc = SIEM_EPARSE;
		}
		s->keepalive_ms = (int)v * 1000;
	}
	/* q points into the request: the stream outlives it. */
	if (rc == 0 && s->q.q && !(s->q.q = arena_strndup(&s->a, s->q.q, strlen(s->q.q))))
		rc = -ENOMEM;
	snprintf(s->user, sizeof(s->user), "%s", http_identity(r));
	if (rc == 0 && !(s->token = strdup(http_bearer(r) ? http_bearer(r) : "")))
		rc = -ENOMEM;
	if (rc < 0) {
		pthread_mutex_destroy(&s->mu);
		arena_release(&s->a);
		free(s->token);
		free(s);
		if (rc == SIEM_EPARSE)
			return http_reply_error(r, 400, "invalid query", err);
		return http_reply_error(r, 500, "out of memory", NULL);
	}
	struct http_stream *st = http_stream_new();
	rc = st ? stream_take(s->user) : -ENOMEM;
	if (rc < 0) {
		http_stream_free(st);
		pthread_mutex_destroy(&s->mu);
		arena_release(&s->a);
		free(s->token);
		free(s);
		http_add_header(r, "Retry-After", "10");
		if (rc == -EMFILE)
			return http_reply_error(r, 429, "too many streams",
						"at most 4 event streams per user");
		if (rc == -EBUSY)
			return http_reply_error(r, 503, "too many stream clients", NULL);
		return http_reply_error(r, 500, "out of memory", NULL);
	}
	s->st = st;
	s->last_write_ms = now_ms();
	s->next_check_ms = s->last_write_ms + STREAM_CHECK_MS;
	metric_add(&m_open, 1);
	pthread_mutex_lock(&subs_mu);
	s->next = subs;
	if (subs)
		subs->prev = s;
	subs = s;
	ticker_start();
	pthread_mutex_unlock(&subs_mu);
	/* The headers and a first line go out at once: the client sees it is connected, and
	 * every event committed from here on is sent. */
	set_note(s, "retry: 3000\n: minisiem events\n\n");
	return http_reply_stream(r, st, "text/event-stream", stream_fill, s, stream_free);
}
