/* alerts.c — GET /alerts (filters, cursor), GET /alerts/{id} with its events, POST
 * /alerts/{id}/ack|close, GET /alerts/stream (Server-Sent Events, Last-Event-ID resume) and
 * GET /alerts/channels (notification channels and their counters). */
#include <inttypes.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/alert.h"
#include "api/alerts_api.h"
#include "api/api.h"
#include "api/qparam.h"
#include "api/tokens.h"
#include "core/err.h"
#include "core/log.h"

#define REPLAY_PAGE 200

struct alerts_api alerts_api_ctx;

/* The numeric id at the start of a path argument ("42" or "42/ack"); -1 when not one. */
static int64_t path_id(struct http_req *r)
{
	const char *arg = http_path_arg(r);
	char buf[24];
	size_t n = arg ? strcspn(arg, "/") : 0;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, arg, n);
	buf[n] = '\0';
	char *end = NULL;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	return errno || *end || v <= 0 ? -1 : (int64_t)v;
}

static enum http_result no_alerts(struct http_req *r)
{
	return http_reply_error(r, 503, "alerting is not running", NULL);
}

/* ---- GET /alerts ---- */

struct list_parse {
	struct qparam qp;
	struct alert_query *q;
};

static int add_value(void *arg, const char *v, size_t n)
{
	struct list_parse *p = arg;
	char buf[256];
	struct alert_query *q = p->q;
	if (n >= sizeof(buf))
		return qparam_bad(&p->qp, "value too long");
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (strcmp(p->qp.name, "status") == 0) {
		enum alert_status st;
		if (alert_status_parse(buf, &st) < 0)
			return qparam_bad(&p->qp, "must be open, acknowledged or closed");
		for (size_t i = 0; i < q->n_status; i++)
			if (q->status[i] == st)
				return 0;
		q->status[q->n_status++] = st;
		return 0;
	}
	if (strcmp(p->qp.name, "severity") == 0) {
		int sev = buf[0] >= '1' && buf[0] <= '5' && !buf[1] ? buf[0] - '0' : -1;
		static const char *const names[] = {"informational", "low", "medium", "high",
						    "critical"};
		for (int i = 0; i < 5 && sev < 0; i++)
			if (strcmp(buf, names[i]) == 0 || (i == 0 && strcmp(buf, "info") == 0))
				sev = i + 1;
		if (sev < 0)
			return qparam_bad(
			    &p->qp, "must be 1..5 or informational, low, medium, high, critical");
		for (size_t i = 0; i < q->n_severity; i++)
			if (q->severity[i] == sev)
				return 0;
		q->severity[q->n_severity++] = sev;
		return 0;
	}
	if (q->n_rule >= QUERY_MAX_VALUES)
		return qparam_bad(&p->qp, "too many values");
	if (!(q->rule[q->n_rule] = strdup(buf)))
		return -ENOMEM;
	q->n_rule++;
	return 0;
}

enum http_result api_alerts_list(struct http_req *r)
{
	struct alert_query q;
	struct list_parse p = {.q = &q};
	static const char *const multi[] = {"status", "severity", "rule", "rule_id"};
	static const char *const known[] = {"status", "severity", "rule",   "rule_id",	"from",
					    "to",     "limit",	  "cursor", "backfill", NULL};
	memset(&q, 0, sizeof(q));
	int rc = qparam_known(r, &p.qp, known);
	q.from = INT64_MIN;
	q.to = INT64_MAX;
	q.limit = 100;
	for (size_t i = 0; i < 4 && rc == 0; i++)
		rc = qparam_each(r, &p.qp, multi[i], add_value, &p);
	/* An empty from or to is an error here. */
	p.qp.name = "from";
	if (rc == 0)
		rc = qparam_time(&p.qp, http_query(r, "from"), &q.from);
	p.qp.name = "to";
	if (rc == 0)
		rc = qparam_time(&p.qp, http_query(r, "to"), &q.to);
	const char *lim = http_query(r, "limit"), *cur = http_query(r, "cursor");
	if (rc == 0 && lim) {
		char *end = NULL;
		long v = strtol(lim, &end, 10);
		p.qp.name = "limit";
		if (!*lim || *end || v < 1 || v > 1000)
			rc = qparam_bad(&p.qp, "must be an integer 1..1000");
		else
			q.limit = (int)v;
	}
	const char *bf = http_query(r, "backfill");
	if (rc == 0 && bf) {
		p.qp.name = "backfill";
		if (!strcmp(bf, "true"))
			q.backfill = ALERTS_BACKFILL;
		else if (!strcmp(bf, "false"))
			q.backfill = ALERTS_LIVE;
		else
			rc = qparam_bad(&p.qp, "true or false");
	}
	if (rc == 0 && cur) {
		int64_t ts = 0;
		p.qp.name = "cursor";
		if (cursor_decode(cur, &ts, &q.before_id) < 0)
			rc = qparam_bad(&p.qp, "not a cursor from this API");
	}
	json_t *alerts = NULL;
	int64_t next = 0;
	if (rc == 0) {
		alerts = json_array();
		rc = store_alerts_query(api_ctx->store, &q, alerts, &next);
	}
	for (size_t i = 0; i < q.n_rule; i++)
		free((char *)q.rule[i]);
	if (rc == SIEM_EPARSE)
		return http_reply_error(r, 400, "invalid query", p.qp.err);
	if (rc < 0) {
		json_decref(alerts);
		return api_store_error(r, rc, "query failed");
	}
	json_t *o = json_object();
	json_object_set_new(o, "alerts", alerts);
	if (next) {
		char c[33];
		cursor_encode(0, next, c);
		json_object_set_new(o, "next_cursor", json_string(c));
	} else {
		json_object_set_new(o, "next_cursor", json_null());
	}
	return http_reply_json(r, 200, o);
}

/* ---- GET /alerts/{id} ---- */

enum http_result api_alerts_get(struct http_req *r)
{
	int64_t id = path_id(r);
	json_t *alert = NULL;
	if (id < 0)
		return http_reply_error(r, 400, "invalid alert id", http_path_arg(r));
	int rc = store_alert_get(api_ctx->store, id, &alert);
	if (rc < 0)
		return api_store_error(r, rc, "query failed");
	if (!alert)
		return http_reply_error(r, 404, "not found", http_path_arg(r));
	json_t *events = json_array(), *missing = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(alert, "event_ids"), i, v) {
		const char *s = json_string_value(v);
		uint8_t eid[16];
		json_t *ev = NULL;
		if (!s || uuid_parse(s, strlen(s), eid) < 0)
			continue;
		if (store_get_event(api_ctx->store, eid, &ev) == 0 && ev)
			json_array_append_new(events, ev);
		else
			json_array_append_new(missing, json_string(s)); /* retention took it */
	}
	json_object_set_new(alert, "events", events);
	json_object_set_new(alert, "events_missing", missing);
	/* Who acknowledged or closed it, when, and what they wrote: the audit log's entries
	 * about it, oldest first. */
	char obj[32];
	snprintf(obj, sizeof(obj), "alert:%lld", (long long)id);
	json_t *audit = json_array(), *history = json_array();
	if (store_audit_list(api_ctx->store, 100, obj, audit) == 0)
		for (size_t k = json_array_size(audit); k-- > 0;) {
			json_t *a = json_array_get(audit, k), *h = json_object();
			const char *act = json_string_value(json_object_get(a, "action"));
			json_object_set(h, "time", json_object_get(a, "time"));
			json_object_set(h, "actor", json_object_get(a, "actor"));
			json_object_set_new(h, "action",
					    json_string(act && !strncmp(act, "alert.", 6) ? act + 6
							: act				  ? act
											  : ""));
			json_object_set(h, "comment", json_object_get(a, "detail"));
			json_array_append_new(history, h);
		}
	json_decref(audit);
	json_object_set_new(alert, "history", history);
	return http_reply_json(r, 200, alert);
}

/* ---- POST /alerts/{id}/ack, /close ---- */

static enum http_result change_status(struct http_req *r, enum alert_status to)
{
	struct alerts *a = alerts_api_ctx.alerts;
	int64_t id = path_id(r);
	char obj[32], comment[512] = "";
	json_t *alert = NULL;
	size_t len;
	if (!a)
		return no_alerts(r);
	if (id < 0)
		return http_reply_error(r, 400, "invalid alert id", http_path_arg(r));
	/* An optional {"comment": "..."} goes to the audit log. */
	const char *body = http_body(r, &len);
	if (len > 0) {
		json_t *b = json_loadb(body, len, 0, NULL);
		const char *c = json_string_value(json_object_get(b, "comment"));
		if (c)
			snprintf(comment, sizeof(comment), "%s", c);
		json_decref(b);
	}
	int rc = alerts_set_status(a, id, to, http_identity(r), &alert);
	if (rc == SIEM_ENOTFOUND || (rc == 0 && !alert))
		return http_reply_error(r, 404, "not found", http_path_arg(r));
	if (rc == -EPERM)
		return http_reply_error(r, 409, "conflict", "the alert is closed");
	if (rc < 0)
		return api_store_error(r, rc, "cannot change the alert");
	snprintf(obj, sizeof(obj), "alert:%lld", (long long)id);
	store_audit(api_ctx->store, http_identity(r), http_client_addr(r),
		    to == ALERT_CLOSED ? "alert.close" : "alert.ack", obj,
		    comment[0] ? comment : NULL);
	return http_reply_json(r, 200, alert);
}

enum http_result api_alerts_ack(struct http_req *r)
{
	return change_status(r, ALERT_ACKNOWLEDGED);
}
enum http_result api_alerts_close(struct http_req *r)
{
	return change_status(r, ALERT_CLOSED);
}

/* ---- GET /alerts/channels ---- */

enum http_result api_alerts_channels(struct http_req *r)
{
	json_t *list = json_array(), *o = json_object();
	if (alerts_api_ctx.alerts)
		alerts_channels(alerts_api_ctx.alerts, list);
	json_object_set_new(o, "channels", list);
	return http_reply_json(r, 200, o);
}

#define SIEM_STR_(x) #x
#define SIEM_STR(x) SIEM_STR_(x)

/* ---- GET /alerts/stream ---- */

struct sse {
	struct alerts *a;
	struct alerts_sub *sub;
	int64_t last_rev; /* highest version written */
	bool replaying, page_full;
	struct alerts_msg **page;
	size_t npage, ipage;
	struct alerts_msg *cur; /* being written */
	const char *text;	/* cur's text, or a comment */
	size_t len, off;
	char note[256];
	bool finishing; /* the last note is out: end after it */
	int64_t last_write_ms;
	int keepalive_ms;
	/* the login behind the stream: it ends when the token does */
	char *token;
	char user[128];
	int64_t next_check_ms;
};

/* Streams one user may hold at once, so that one user cannot take every slot. */
#define STREAMS_PER_USER 4
/* How often a stream checks that its token is still good (expiry, logout, password). */
#define STREAM_CHECK_MS 1000

static pthread_mutex_t streams_mu = PTHREAD_MUTEX_INITIALIZER;
static struct stream_user {
	char name[128];
	int n;
} stream_users[64];

/* Count a stream for user; false when it has STREAMS_PER_USER already or the table is
 * full. */
static bool stream_take(const char *user)
{
	struct stream_user *free_slot = NULL;
	bool ok = false;
	pthread_mutex_lock(&streams_mu);
	for (size_t i = 0; i < sizeof(stream_users) / sizeof(stream_users[0]); i++) {
		struct stream_user *u = &stream_users[i];
		if (u->n && strcmp(u->name, user) == 0) {
			ok = u->n < STREAMS_PER_USER;
			u->n += ok;
			goto out;
		}
		if (!u->n && !free_slot)
			free_slot = u;
	}
	if (free_slot) {
		snprintf(free_slot->name, sizeof(free_slot->name), "%s", user);
		free_slot->n = 1;
		ok = true;
	}
out:
	pthread_mutex_unlock(&streams_mu);
	return ok;
}

static void stream_give(const char *user)
{
	pthread_mutex_lock(&streams_mu);
	for (size_t i = 0; i < sizeof(stream_users) / sizeof(stream_users[0]); i++) {
		if (stream_users[i].n && strcmp(stream_users[i].name, user) == 0) {
			stream_users[i].n--;
			break;
		}
	}
	pthread_mutex_unlock(&streams_mu);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sse_wake(void *arg)
{
	http_stream_wake(arg);
}

static void set_note(struct sse *s, const char *text)
{
	snprintf(s->note, sizeof(s->note), "%s", text);
	s->text = s->note;
	s->len = strlen(s->note);
	s->off = 0;
}

static void release_page(struct sse *s)
{
	for (size_t i = s->ipage; i < s->npage; i++)
		alerts_msg_put(s->page[i]);
	free(s->page);
	s->page = NULL;
	s->npage = s->ipage = 0;
}

/* The next message to write into s->text, or 0 when none now, -1 at the end. */
static int next_text(struct sse *s)
{
	struct alerts_msg *m = NULL;
	for (;;) {
		if (s->replaying) {
			if (s->ipage == s->npage) {
				bool more = s->page_full || !s->page;
				release_page(s);
				if (!more) {
					s->replaying = false;
					continue;
				}
				if (alerts_replay(s->a, s->last_rev, REPLAY_PAGE, &s->page,
						  &s->npage) < 0) {
					set_note(s,
						 "event: error\ndata: {\"error\":\"cannot read the"
						 " store\"}\n\n");
					s->finishing = true;
					return 1;
				}
				s->page_full = s->npage == REPLAY_PAGE;
				if (s->npage == 0) {
					free(s->page);
					s->page = NULL;
					s->replaying = false;
					continue;
				}
			}
			m = s->page[s->ipage++];
		} else {
			int r = alerts_sub_next(s->sub, &m);
			if (r == 0)
				return 0;
			if (r < 0) {
				if (!alerts_sub_dropped(s->sub))
					return -1;
				/* Too slow: say so, end; the client reconnects with Last-Event-ID.
				 */
				set_note(
				    s,
				    "event: overflow\ndata: {\"reason\":\"the client did not keep"
				    " up\",\"resume\":\"reconnect with Last-Event-ID\"}\n\n");
				s->finishing = true;
				return 1;
			}
		}
		if (alerts_msg_rev(m) <= s->last_rev) {
			alerts_msg_put(m);
			continue;
		}
		s->cur = m;
		s->last_rev = alerts_msg_rev(m);
		s->text = alerts_msg_text(m, &s->len);
		s->off = 0;
		return 1;
	}
}

static ssize_t sse_fill(void *ctx, char *buf, size_t max)
{
	struct sse *s = ctx;
	size_t n = 0;
	int64_t t = now_ms();
	if (!s->finishing && t >= s->next_check_ms) {
		struct jwt_claims c;
		s->next_check_ms = t + STREAM_CHECK_MS;
		if (tokens_check(api_ctx->tokens, s->token, ts_now_us() / 1000000, &c) < 0) {
			/* Whatever is being written is cut: the client is no longer let in. */
			if (s->cur) {
				alerts_msg_put(s->cur);
				s->cur = NULL;
			}
			set_note(s, "event: end\ndata: {\"reason\":\"the login token expired or was"
				    " revoked\"}\n\n");
			s->finishing = true;
		}
	}
	while (n < max) {
		if (!s->text) {
			if (s->finishing)
				break;
			int r = next_text(s);
			if (r < 0)
				return n ? (ssize_t)n : -1;
			if (r == 0)
				break;
		}
		size_t k = s->len - s->off;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, s->text + s->off, k);
		n += k;
		s->off += k;
		if (s->off == s->len) {
			s->text = NULL;
			alerts_msg_put(s->cur);
			s->cur = NULL;
		}
	}
	if (n == 0 && s->finishing)
		return -1;
	int64_t now = now_ms();
	if (n == 0 && now - s->last_write_ms >= s->keepalive_ms) {
		set_note(s, ": keep-alive\n\n");
		return sse_fill(ctx, buf, max);
	}
	if (n)
		s->last_write_ms = now;
	return (ssize_t)n;
}

static void sse_free(void *ctx)
{
	struct sse *s = ctx;
	alerts_unsubscribe(s->sub);
	alerts_msg_put(s->cur);
	release_page(s);
	stream_give(s->user);
	free(s->token);
	free(s);
}

/* "42-17" (alert id, version) or "17": the version to resume after; -1 when not one. */
static int64_t parse_resume(const char *v)
{
	if (!v || !*v)
		return -1;
	const char *dash = strrchr(v, '-');
	const char *num = dash ? dash + 1 : v;
	char *end = NULL;
	errno = 0;
	long long x = strtoll(num, &end, 10);
	if (errno || end == num || *end || x < 0)
		return -1;
	return (int64_t)x;
}

enum http_result api_alerts_stream(struct http_req *r)
{
	struct alerts *a = alerts_api_ctx.alerts;
	if (!a)
		return no_alerts(r);
	const char *resume = http_header(r, "Last-Event-ID");
	if (!resume)
		resume = http_query(r, "last_event_id");
	if (!resume)
		resume = http_query(r, "since");
	int64_t after = parse_resume(resume);
	if (resume && after < 0)
		return http_reply_error(r, 400, "invalid Last-Event-ID", resume);
	struct sse *s = calloc(1, sizeof(*s));
	struct http_stream *st = http_stream_new();
	if (!s || !st) {
		free(s);
		http_stream_free(st);
		return http_reply_error(r, 500, "out of memory", NULL);
	}
	s->a = a;
	s->keepalive_ms = alerts_keepalive_ms(a);
	/* A client behind a proxy with a short idle timeout may ask for more. */
	const char *ka = http_query(r, "keepalive");
	if (ka) {
		char *end = NULL;
		long v = strtol(ka, &end, 10);
		if (!*ka || *end || v < 1 || v > 300) {
			free(s);
			http_stream_free(st);
			return http_reply_error(r, 400, "invalid query",
						"keepalive: seconds 1..300");
		}
		s->keepalive_ms = (int)v * 1000;
	}
	s->last_write_ms = now_ms();
	s->next_check_ms = s->last_write_ms + STREAM_CHECK_MS;
	snprintf(s->user, sizeof(s->user), "%s", http_identity(r));
	if (!(s->token = strdup(http_bearer(r) ? http_bearer(r) : ""))) {
		free(s);
		http_stream_free(st);
		return http_reply_error(r, 500, "out of memory", NULL);
	}
	if (!stream_take(s->user)) {
		free(s->token);
		free(s);
		http_stream_free(st);
		http_add_header(r, "Retry-After", "10");
		return http_reply_error(r, 429, "too many streams",
					"at most " SIEM_STR(STREAMS_PER_USER) " streams per user");
	}
	/* Subscribe before reading the store: a change made in between is in one or the
	 * other, and the version filter drops the copy. */
	int rc = alerts_subscribe(a, sse_wake, st, &s->sub);
	if (rc < 0) {
		stream_give(s->user);
		free(s->token);
		free(s);
		http_stream_free(st);
		if (rc == -EBUSY) {
			http_add_header(r, "Retry-After", "10");
			return http_reply_error(r, 503, "too many stream clients", NULL);
		}
		return api_store_error(r, rc, "cannot subscribe");
	}
	if (after >= 0) {
		s->last_rev = after;
		s->replaying = true;
	} else {
		s->last_rev = -1;
	}
	/* The headers and a first line go out at once: the client sees it is connected. */
	set_note(s, "retry: 3000\n: minisiem alerts\n\n");
	return http_reply_stream(r, st, "text/event-stream", sse_fill, s, sse_free);
}
