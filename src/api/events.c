/* events.c — GET /events (filters, cursor, count), GET /events/{id}, and the distinct-value
 * lists /apps, /hosts, /event-types. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/qparam.h"
#include "core/err.h"

#define Q_MAX_LEN 1024

/* count=true counts the matching events up to this many; past it the answer says "more than"
 * (a count reads every matching event up to the bound: this keeps it fast enough for a
 * header above a page). */
#define COUNT_BOUND 100000

struct qparse {
	struct qparam qp;
	struct event_query *q;
	struct arena *a;
	bool count;		  /* count=true */
	int64_t to_all;		  /* q->to before a position narrows it: the count's upper bound */
	const char *const *known; /* the parameters taken (NULL: every one of GET /events) */
};

static struct strset *set_for(struct event_query *q, const char *param)
{
	static const struct {
		const char *name;
		size_t off;
	} map[] = {
	    {"event_type", offsetof(struct event_query, event_type)},
	    {"app", offsetof(struct event_query, app)},
	    {"level", offsetof(struct event_query, level)},
	    {"os_type", offsetof(struct event_query, os_type)},
	    {"source_host", offsetof(struct event_query, source_host)},
	    {"host", offsetof(struct event_query, source_host)},
	    {"user", offsetof(struct event_query, user)},
	    {"user_id", offsetof(struct event_query, user)},
	    {"request_id", offsetof(struct event_query, request_id)},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, param) == 0)
			return (struct strset *)(void *)((char *)q + map[i].off);
	return NULL;
}

static int add_str(void *arg, const char *v, size_t n)
{
	struct qparse *p = arg;
	struct strset *set = set_for(p->q, p->qp.name);
	if (set->n >= QUERY_MAX_VALUES)
		return qparam_bad(&p->qp, "too many values");
	if (!(set->v[set->n] = arena_strndup(p->a, v, n)))
		return -ENOMEM;
	/* os_type and level are stored upper-case (a level stored before in another case is
	 * compared upper-cased by the store). */
	if (strcmp(p->qp.name, "os_type") == 0 || strcmp(p->qp.name, "level") == 0)
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

/* One more integer lo..hi into vals (*nvals of them). */
static int add_int(struct qparse *p, const char *v, size_t n, int *vals, size_t *nvals, long lo,
		   long hi, const char *why)
{
	if (*nvals >= QUERY_MAX_VALUES)
		return qparam_bad(&p->qp, "too many values");
	if (parse_int(v, n, lo, hi, &vals[*nvals]) < 0)
		return qparam_bad(&p->qp, why);
	(*nvals)++;
	return 0;
}

static int add_severity(void *arg, const char *v, size_t n)
{
	struct qparse *p = arg;
	return add_int(p, v, n, p->q->severity, &p->q->n_severity, 1, 5, "must be an integer 1..5");
}

static int add_status(void *arg, const char *v, size_t n)
{
	struct qparse *p = arg;
	return add_int(p, v, n, p->q->http_status, &p->q->n_status, 100, 599,
		       "must be an integer 100..599");
}

static int add_cidr(void *arg, const char *v, size_t n)
{
	struct qparse *p = arg;
	struct event_query *q = p->q;
	if (q->n_cidr >= QUERY_MAX_VALUES)
		return qparam_bad(&p->qp, "too many values");
	if (cidr_parse(v, n, q->cidr_lo[q->n_cidr], q->cidr_hi[q->n_cidr]) < 0)
		return qparam_bad(&p->qp, "not an IP address or CIDR block");
	q->n_cidr++;
	return 0;
}

static int add_country(void *arg, const char *v, size_t n)
{
	struct qparse *p = arg;
	struct strset *set = &p->q->country;
	if (set->n >= QUERY_MAX_VALUES)
		return qparam_bad(&p->qp, "too many values");
	char *c = n == 2 ? arena_strndup(p->a, v, n) : NULL;
	if (n == 2 && !c)
		return -ENOMEM;
	for (size_t i = 0; c && i < 2; i++) {
		if (c[i] >= 'a' && c[i] <= 'z')
			c[i] = (char)(c[i] - 'a' + 'A');
		if (c[i] < 'A' || c[i] > 'Z')
			c = NULL;
	}
	if (!c)
		return qparam_bad(&p->qp, "a two-letter country code (ISO 3166-1)");
	set->v[set->n++] = c;
	return 0;
}

/* "AS15169" or "15169". */
static int add_asn(void *arg, const char *v, size_t n)
{
	struct qparse *p = arg;
	struct event_query *q = p->q;
	if (q->n_asn >= QUERY_MAX_VALUES)
		return qparam_bad(&p->qp, "too many values");
	if (n > 2 && (v[0] == 'A' || v[0] == 'a') && (v[1] == 'S' || v[1] == 's')) {
		v += 2;
		n -= 2;
	}
	int64_t x = 0;
	for (size_t i = 0; i < n && x <= UINT32_MAX; i++)
		x = v[i] >= '0' && v[i] <= '9' ? x * 10 + (v[i] - '0') : INT64_MAX;
	if (n == 0 || n > 10 || x > UINT32_MAX)
		return qparam_bad(&p->qp, "an AS number (15169 or AS15169)");
	q->asn[q->n_asn++] = x;
	return 0;
}

/* A tag as the store matches it: ",tag," for the whole tag, ",prefix" for "prefix*". */
static int add_tag(void *arg, const char *v, size_t n)
{
	struct qparse *p = arg;
	struct strset *set = &p->q->tag;
	bool prefix = n && v[n - 1] == '*';
	size_t k = n - prefix;
	if (set->n >= QUERY_MAX_VALUES)
		return qparam_bad(&p->qp, "too many values");
	if (k == 0 || k > 256)
		return qparam_bad(&p->qp, "a tag (intel:NAME), or a prefix and * (intel:*)");
	char *t = arena_alloc(p->a, k + 3);
	if (!t)
		return -ENOMEM;
	t[0] = ',';
	for (size_t i = 0; i < k; i++) {
		char c = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] - 'A' + 'a') : v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("_.:/-", c)) || !c)
			return qparam_bad(&p->qp, "tags are made of a-z 0-9 _ . : / -");
		t[i + 1] = c;
	}
	t[k + 1] = prefix ? '\0' : ',';
	t[k + 2] = '\0';
	set->v[set->n++] = t;
	return 0;
}

/* Every parameter GET /events takes (docs/api.md). */
static const char *const event_params[] = {
    "event_type", "app",	"level",     "os_type",	    "source_host", "host",   "user",
    "user_id",	  "request_id", "severity",  "http_status", "source_ip",   "src_ip", "country",
    "asn",	  "tag",	"from",	     "to",	    "start",	   "end",    "limit",
    "q",	  "cursor",	"before_ts", "before_id",   "count",	   NULL};

/* A time bound given under either of its names (from/start, to/end), not both. */
static int time_bound(struct http_req *r, struct qparam *qp, const char *name, const char *alias,
		      int64_t *out)
{
	const char *v = qparam_get(r, qp, name), *a = qparam_get(r, qp, alias);
	char why[48];
	if (!v && a)
		return qparam_time(qp, a, out); /* an error names the alias, as sent */
	qp->name = name;
	if (v && a) {
		snprintf(why, sizeof(why), "given twice (also as %s)", alias);
		return qparam_bad(qp, why);
	}
	return qparam_time(qp, v, out);
}

/* Where a page continues: the opaque cursor, or the event it follows (before_id, with
 * before_ts its time), or a time alone (before_ts: strictly older events). */
static int parse_position(struct http_req *r, struct qparse *p)
{
	struct event_query *q = p->q;
	const char *cur = qparam_get(r, &p->qp, "cursor");
	const char *bts = qparam_get(r, &p->qp, "before_ts");
	const char *bid = qparam_get(r, &p->qp, "before_id");
	int64_t ts = 0;
	uint8_t id[16];
	int rc;
	if (cur && (bts || bid)) {
		p->qp.name = "cursor";
		return qparam_bad(&p->qp, "give either cursor or before_ts/before_id");
	}
	if (cur) {
		p->qp.name = "cursor";
		if (cursor_decode(cur, &q->cursor_ts, &q->cursor_seq) < 0)
			return qparam_bad(&p->qp, "invalid cursor");
		q->has_cursor = true;
		return 0;
	}
	p->qp.name = "before_ts";
	if ((rc = qparam_time(&p->qp, bts, &ts)) < 0)
		return rc;
	if (!bid) {
		if (bts) /* strictly older than that time */
			q->to = ts - 1 < q->to ? ts - 1 : q->to;
		return 0;
	}
	p->qp.name = "before_id";
	if (uuid_parse(bid, strlen(bid), id) < 0)
		return qparam_bad(&p->qp, "not a UUID");
	rc = store_event_position(api_ctx->store, id, &q->cursor_ts, &q->cursor_seq);
	if (rc == SIEM_ENOTFOUND)
		return qparam_bad(&p->qp, "no such event");
	if (rc < 0)
		return rc;
	if (bts && ts != q->cursor_ts)
		return qparam_bad(&p->qp, "its event has another timestamp than before_ts");
	q->has_cursor = true;
	return 0;
}

/* Fill q from the request's query string; on error p->qp.err names the parameter. */
static int parse_query(struct http_req *r, struct qparse *p)
{
	struct event_query *q = p->q;
	static const char *const str_params[] = {"event_type", "app",	      "level",
						 "os_type",    "source_host", "host",
						 "user",       "user_id",     "request_id"};
	int rc;
	memset(q, 0, sizeof(*q));
	if ((rc = qparam_known(r, &p->qp, p->known ? p->known : event_params)) < 0)
		return rc;
	q->from = INT64_MIN;
	q->to = INT64_MAX;
	q->limit = 200;
	for (size_t i = 0; i < sizeof(str_params) / sizeof(str_params[0]); i++)
		if ((rc = qparam_each(r, &p->qp, str_params[i], add_str, p)))
			return rc;
	if ((rc = qparam_each(r, &p->qp, "severity", add_severity, p)) ||
	    (rc = qparam_each(r, &p->qp, "http_status", add_status, p)) ||
	    (rc = qparam_each(r, &p->qp, "source_ip", add_cidr, p)) ||
	    (rc = qparam_each(r, &p->qp, "src_ip", add_cidr, p)) ||
	    (rc = qparam_each(r, &p->qp, "country", add_country, p)) ||
	    (rc = qparam_each(r, &p->qp, "asn", add_asn, p)) ||
	    (rc = qparam_each(r, &p->qp, "tag", add_tag, p)))
		return rc;

	const char *v;
	if ((rc = time_bound(r, &p->qp, "from", "start", &q->from)) < 0 ||
	    (rc = time_bound(r, &p->qp, "to", "end", &q->to)) < 0)
		return rc;
	if ((v = qparam_get(r, &p->qp, "limit")) && parse_int(v, strlen(v), 1, 1000, &q->limit) < 0)
		return qparam_bad(&p->qp, "must be an integer 1..1000");
	if ((v = qparam_get(r, &p->qp, "q"))) {
		if (strlen(v) > Q_MAX_LEN)
			return qparam_bad(&p->qp, "longer than 1024 bytes");
		q->q = v;
	}
	if ((v = qparam_get(r, &p->qp, "count"))) {
		if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
			return qparam_bad(&p->qp, "true or false");
		p->count = v[0] == 't';
	}
	p->to_all = q->to;
	return parse_position(r, p);
}

enum http_result api_events_list(struct http_req *r)
{
	struct event_query *q = calloc(1, sizeof(*q));
	struct arena a;
	struct qparse p = {.q = q, .a = &a};
	enum http_result res;
	arena_init(&a, 64 * 1024);
	if (!q)
		return http_reply_error(r, 500, "out of memory", NULL);
	int rc = parse_query(r, &p);
	if (rc < 0) {
		res = rc == SIEM_EPARSE ? http_reply_error(r, 400, "invalid query", p.qp.err)
					: api_store_error(r, rc, "internal error");
		goto out;
	}
	json_t *events = json_array();
	bool more = false;
	int64_t nts = 0, nseq = 0;
	if ((rc = store_query_events(api_ctx->store, q, events, &more, &nts, &nseq)) < 0) {
		json_decref(events);
		res = rc == -E2BIG ? http_reply_error(r, 400, "invalid query", "query too complex")
				   : api_store_error(r, rc, "query failed");
		goto out;
	}
	int64_t total = 0;
	bool exact = true;
	if (p.count) {
		/* The events of every page: without the cursor, and without before_ts alone (where
		 * a page starts too). */
		q->has_cursor = false;
		q->to = p.to_all;
		rc = store_count_events(api_ctx->store, q, COUNT_BOUND, &total, &exact);
	}
	if (rc < 0) {
		json_decref(events);
		res = rc == -E2BIG ? http_reply_error(r, 400, "invalid query", "query too complex")
				   : api_store_error(r, rc, "count failed");
		goto out;
	}
	json_t *o = json_object();
	json_object_set_new(o, "events", events);
	if (p.count) {
		json_object_set_new(o, "total", json_integer(total));
		json_object_set_new(o, "total_exact", json_boolean(exact));
	}
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

int api_events_filter(struct http_req *r, const char *const *known, struct event_query *q,
		      struct arena *a, char *err, size_t errlen)
{
	struct qparse p = {.q = q, .a = a, .known = known};
	int rc = parse_query(r, &p);
	if (rc == SIEM_EPARSE)
		snprintf(err, errlen, "%s", p.qp.err);
	return rc;
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
		return api_store_error(r, rc, "query failed");
	return http_reply_json(r, 200, ev);
}

static enum http_result distinct(struct http_req *r, enum store_distinct_field f, const char *app)
{
	json_t *values = json_array();
	int rc = store_distinct(api_ctx->store, f, app, values);
	return api_reply_list(r, rc, "values", values);
}

enum http_result api_apps(struct http_req *r)
{
	return distinct(r, DISTINCT_APP, NULL);
}
enum http_result api_hosts(struct http_req *r)
{
	return distinct(r, DISTINCT_HOST, NULL);
}

enum http_result api_event_types(struct http_req *r)
{
	const char *app = http_query(r, "app");
	return distinct(r, DISTINCT_EVENT_TYPE, app && *app ? app : NULL);
}
