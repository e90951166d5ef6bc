/* events.c — GET /events (filters, cursor), GET /events/{id}, and the distinct-value lists
 * /apps, /hosts, /event-types. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"

#define Q_MAX_LEN 1024

struct qparse {
	struct event_query *q;
	struct arena *a;
	const char *param; /* for error messages */
	char err[160];
};

/* Split one parameter value on commas and hand each piece to add. */
static int split_each(struct qparse *p, const char *value,
		      int (*add)(struct qparse *p, const char *v, size_t n), const char *param)
{
	p->param = param;
	for (const char *s = value;;) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);
		if (n > 0) {
			int rc = add(p, s, n);
			if (rc)
				return rc;
		}
		if (!c)
			return 0;
		s = c + 1;
	}
}

static int bad(struct qparse *p, const char *why)
{
	snprintf(p->err, sizeof(p->err), "%s: %s", p->param, why);
	return SIEM_EPARSE;
}

static struct strset *set_for(struct event_query *q, const char *param)
{
	static const struct {
		const char *name;
		size_t off;
	} map[] = {
		{ "event_type", offsetof(struct event_query, event_type) },
		{ "app", offsetof(struct event_query, app) },
		{ "level", offsetof(struct event_query, level) },
		{ "os_type", offsetof(struct event_query, os_type) },
		{ "source_host", offsetof(struct event_query, source_host) },
		{ "host", offsetof(struct event_query, source_host) },
		{ "user", offsetof(struct event_query, user) },
		{ "user_id", offsetof(struct event_query, user) },
		{ "request_id", offsetof(struct event_query, request_id) },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, param) == 0)
			return (struct strset *)(void *)((char *)q + map[i].off);
	return NULL;
}

static int add_str(struct qparse *p, const char *v, size_t n)
{
	struct strset *set = set_for(p->q, p->param);
	if (set->n >= QUERY_MAX_VALUES)
		return bad(p, "too many values");
	if (!(set->v[set->n] = arena_strndup(p->a, v, n)))
		return -ENOMEM;
	/* os_type is stored upper-case. */
	if (strcmp(p->param, "os_type") == 0)
		for (char *c = (char *)set->v[set->n]; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
	set->n++;
	return 0;
}

static int parse_int(const char *v, size_t n, long lo, long hi, int *out)
{
	char buf[24];
	if (n == 0 || n >= sizeof(buf))
		return SIEM_EPARSE;
	memcpy(buf, v, n);
	buf[n] = '\0';
	char *end = NULL;
	errno = 0;
	long x = strtol(buf, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return SIEM_EPARSE;
	*out = (int)x;
	return 0;
}

static int add_severity(struct qparse *p, const char *v, size_t n)
{
	if (p->q->n_severity >= QUERY_MAX_VALUES)
		return bad(p, "too many values");
	if (parse_int(v, n, 1, 5, &p->q->severity[p->q->n_severity]) < 0)
		return bad(p, "must be an integer 1..5");
	p->q->n_severity++;
	return 0;
}

static int add_status(struct qparse *p, const char *v, size_t n)
{
	if (p->q->n_status >= QUERY_MAX_VALUES)
		return bad(p, "too many values");
	if (parse_int(v, n, 100, 599, &p->q->http_status[p->q->n_status]) < 0)
		return bad(p, "must be an integer 100..599");
	p->q->n_status++;
	return 0;
}

static int add_cidr(struct qparse *p, const char *v, size_t n)
{
	struct event_query *q = p->q;
	if (q->n_cidr >= QUERY_MAX_VALUES)
		return bad(p, "too many values");
	if (cidr_parse(v, n, q->cidr_lo[q->n_cidr], q->cidr_hi[q->n_cidr]) < 0)
		return bad(p, "not an IP address or CIDR block");
	q->n_cidr++;
	return 0;
}

struct each_arg {
	struct qparse *p;
	int (*add)(struct qparse *, const char *, size_t);
	const char *param;
};

static int each_value(void *arg, const char *value)
{
	struct each_arg *e = arg;
	return split_each(e->p, value, e->add, e->param);
}


/* Fill q from the request's query string; on error p->err names the parameter. */
static int parse_query(struct http_req *r, struct qparse *p)
{
	struct event_query *q = p->q;
	static const char *const str_params[] = { "event_type", "app", "level", "os_type",
						   "source_host", "host", "user", "user_id",
						   "request_id" };
	int rc;
	memset(q, 0, sizeof(*q));
	q->from = INT64_MIN;
	q->to = INT64_MAX;
	q->limit = 200;
	for (size_t i = 0; i < sizeof(str_params) / sizeof(str_params[0]); i++) {
		struct each_arg e = { p, add_str, str_params[i] };
		if ((rc = http_query_each(r, str_params[i], each_value, &e)))
			return rc;
	}
	struct each_arg sev = { p, add_severity, "severity" };
	struct each_arg st = { p, add_status, "http_status" };
	struct each_arg ip = { p, add_cidr, "source_ip" };
	struct each_arg ip2 = { p, add_cidr, "src_ip" };
	if ((rc = http_query_each(r, "severity", each_value, &sev)) ||
	    (rc = http_query_each(r, "http_status", each_value, &st)) ||
	    (rc = http_query_each(r, "source_ip", each_value, &ip)) ||
	    (rc = http_query_each(r, "src_ip", each_value, &ip2)))
		return rc;

	const char *v;
	if ((v = http_query(r, "from")) && *v) {
		p->param = "from";
		if (ts_parse(v, strlen(v), &q->from) < 0)
			return bad(p, "not ISO-8601 or epoch");
	}
	if ((v = http_query(r, "to")) && *v) {
		p->param = "to";
		if (ts_parse(v, strlen(v), &q->to) < 0)
			return bad(p, "not ISO-8601 or epoch");
	}
	if ((v = http_query(r, "limit")) && *v) {
		p->param = "limit";
		if (parse_int(v, strlen(v), 1, 1000, &q->limit) < 0)
			return bad(p, "must be an integer 1..1000");
	}
	if ((v = http_query(r, "q")) && *v) {
		p->param = "q";
		if (strlen(v) > Q_MAX_LEN)
			return bad(p, "longer than 1024 bytes");
		q->q = v;
	}
	if ((v = http_query(r, "cursor")) && *v) {
		p->param = "cursor";
		if (cursor_decode(v, &q->cursor_ts, &q->cursor_seq) < 0)
			return bad(p, "invalid cursor");
		q->has_cursor = true;
	}
	return 0;
}

enum http_result api_events_list(struct http_req *r)
{
	struct event_query *q = calloc(1, sizeof(*q));
	struct arena a;
	struct qparse p = { .q = q, .a = &a };
	enum http_result res;
	arena_init(&a, 64 * 1024);
	if (!q)
		return http_reply_error(r, 500, "out of memory", NULL);
	int rc = parse_query(r, &p);
	if (rc < 0) {
		res = rc == SIEM_EPARSE ? http_reply_error(r, 400, "invalid query", p.err)
					: http_reply_error(r, 500, "internal error", NULL);
		goto out;
	}
	json_t *events = json_array();
	bool more = false;
	int64_t nts = 0, nseq = 0;
	if ((rc = store_query_events(api_ctx->store, q, events, &more, &nts, &nseq)) < 0) {
		json_decref(events);
		res = rc == -E2BIG ? http_reply_error(r, 400, "invalid query", "query too complex")
				   : http_reply_error(r, 500, "query failed", siem_strerror(rc));
		goto out;
	}
	json_t *o = json_object();
	json_object_set_new(o, "events", events);
	if (more) {
		char cur[33];
		cursor_encode(nts, nseq, cur);
		json_object_set_new(o, "next_cursor", json_string(cur));
	} else {
		json_object_set_new(o, "next_cursor", json_null());
	}
	res = http_reply_json(r, 200, o);
out:
	arena_release(&a);
	free(q);
	return res;
}

enum http_result api_events_get(struct http_req *r)
{
	const char *id = http_path_arg(r);
	uint8_t bin[16];
	json_t *ev = NULL;
	if (!id || uuid_parse(id, strlen(id), bin) < 0)
		return http_reply_error(r, 400, "invalid event id", "not a UUID");
	int rc = store_get_event(api_ctx->store, bin, &ev);
	if (rc == SIEM_ENOTFOUND)
		return http_reply_error(r, 404, "not found", id);
	if (rc < 0)
		return http_reply_error(r, 500, "query failed", siem_strerror(rc));
	return http_reply_json(r, 200, ev);
}

static enum http_result distinct(struct http_req *r, enum store_distinct_field f, const char *app)
{
	json_t *values = json_array();
	int rc = store_distinct(api_ctx->store, f, app, values);
	if (rc < 0) {
		json_decref(values);
		return http_reply_error(r, 500, "query failed", siem_strerror(rc));
	}
	json_t *o = json_object();
	json_object_set_new(o, "values", values);
	return http_reply_json(r, 200, o);
}

enum http_result api_apps(struct http_req *r) { return distinct(r, DISTINCT_APP, NULL); }
enum http_result api_hosts(struct http_req *r) { return distinct(r, DISTINCT_HOST, NULL); }

enum http_result api_event_types(struct http_req *r)
{
	const char *app = http_query(r, "app");
	return distinct(r, DISTINCT_EVENT_TYPE, app && *app ? app : NULL);
}
