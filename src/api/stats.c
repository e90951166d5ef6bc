/* stats.c — GET /stats/summary, /stats/timeseries and /stats/top: the counts the dashboard
 * draws, over a time range (default: the last 24 hours) and the usual event filters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/qparam.h"
#include "api/web_api.h"
#include "core/err.h"
#include "store/store_stats.h"

#define DAY_US (86400LL * 1000000)
#define MAX_POINTS 1500 /* buckets a chart gets at most */
#define DEFAULT_SERIES 12
#define DEFAULT_TOP 10
#define MAX_TOP 100

struct sparse {
	struct qparam qp;
	struct stats_filter *f;
	struct arena *a;
};

static int parse_long(const char *v, long lo, long hi, long *out)
{
	char *end = NULL;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (!*v || errno || *end || x < lo || x > hi)
		return SIEM_EPARSE;
	*out = x;
	return 0;
}

static int add_value(void *arg, const char *v, size_t n)
{
	struct sparse *p = arg;
	struct stats_filter *f = p->f;
	const char *param = p->qp.name;
	if (strcmp(param, "severity") == 0 || strcmp(param, "min_severity") == 0) {
		char buf[8];
		long x;
		if (n >= sizeof(buf))
			return qparam_bad(&p->qp, "must be an integer 1..5");
		memcpy(buf, v, n);
		buf[n] = '\0';
		if (parse_long(buf, 1, 5, &x) < 0)
			return qparam_bad(&p->qp, "must be an integer 1..5");
		for (long s = x; s <= (param[0] == 'm' ? 5 : x); s++) {
			bool have = false;
			for (size_t i = 0; i < f->n_severity; i++)
				have |= f->severity[i] == s;
			if (!have)
				f->severity[f->n_severity++] = (int)s;
		}
		return 0;
	}
	struct strset *set = strcmp(param, "event_type") == 0 ? &f->event_type
			     : strcmp(param, "os_type") == 0  ? &f->os_type
			     : strcmp(param, "app") == 0      ? &f->app
							      : &f->source_host;
	if (set->n >= QUERY_MAX_VALUES)
		return qparam_bad(&p->qp, "too many values");
	char *c = arena_strndup(p->a, v, n);
	if (!c)
		return -ENOMEM;
	if (set == &f->os_type) /* stored upper-case */
		for (char *x = c; *x; x++)
			if (*x >= 'a' && *x <= 'z')
				*x = (char)(*x - 'a' + 'A');
	set->v[set->n++] = c;
	return 0;
}

/* from, to (default: the 24 hours up to now) and the filters every stats endpoint takes. */
static int parse_filter(struct http_req *r, struct sparse *p)
{
	static const char *const params[] = {"event_type", "os_type",  "app",	      "source_host",
					     "host",	   "severity", "min_severity"};
	struct stats_filter *f = p->f;
	struct qparam *qp = &p->qp;
	const char *v;
	int rc;
	memset(f, 0, sizeof(*f));
	f->to = ts_now_us();
	if ((rc = qparam_time(qp, qparam_get(r, qp, "to"), &f->to)) < 0)
		return rc;
	f->from = f->to - DAY_US + 1;
	if ((rc = qparam_time(qp, qparam_get(r, qp, "from"), &f->from)) < 0)
		return rc;
	if ((v = qparam_get(r, qp, "rollups"))) {
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return qparam_bad(qp, "0 or 1");
		f->no_rollups = v[0] == '0';
	}
	if (f->from > f->to) {
		qp->name = "from";
		return qparam_bad(qp, "after 'to'");
	}
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if ((rc = qparam_each(r, qp, params[i], add_value, p)))
			return rc;
	return 0;
}

/* A stats endpoint: fn answers into o once the range and filters are read; rollups: whether
 * rollups answered any of it. */
typedef int (*stats_fn)(struct http_req *r, struct sparse *p, json_t *o, bool *rollups);

/* The parameters every stats endpoint takes (parse_filter), then an endpoint's own. */
#define STATS_PARAMS                                                                    \
	"from", "to", "rollups", "event_type", "os_type", "app", "source_host", "host", \
	    "severity", "min_severity"

static enum http_result stats_reply(struct http_req *r, stats_fn fn, const char *const *known)
{
	struct stats_filter f;
	struct arena a;
	struct sparse p = {.f = &f, .a = &a};
	json_t *o = json_object();
	enum http_result res;
	bool roll = false;
	arena_init(&a, 64 * 1024);
	int rc = qparam_known(r, &p.qp, known);
	if (rc >= 0)
		rc = parse_filter(r, &p);
	if (rc >= 0)
		rc = fn(r, &p, o, &roll);
	if (rc == SIEM_EPARSE) {
		res = http_reply_error(r, 400, "invalid query", p.qp.err);
	} else if (rc == -E2BIG) {
		res = http_reply_error(r, 400, "invalid query",
				       "too many distinct values or buckets");
	} else if (rc < 0) {
		res = api_store_error(r, rc, "query failed");
	} else {
		json_object_set_new(o, "rollups", json_boolean(roll));
		res = http_reply_json(r, 200, o);
		o = NULL;
	}
	json_decref(o);
	arena_release(&a);
	return res;
}

static void put_range(json_t *o, const struct stats_filter *f)
{
	char buf[32];
	ts_format(f->from, buf);
	json_object_set_new(o, "from", json_string(buf));
	ts_format(f->to, buf);
	json_object_set_new(o, "to", json_string(buf));
}

/* store_stats_top into o, any_roll set when the rollups answered. */
static int top_into(const struct stats_filter *f, enum stats_field field, size_t n, json_t *o,
		    bool *any_roll)
{
	bool roll = false;
	int rc = store_stats_top(api_ctx->store, f, field, n, o, &roll);
	*any_roll |= roll;
	return rc;
}

static int summary(struct http_req *r, struct sparse *p, json_t *o, bool *any_roll)
{
	const struct stats_filter *f = p->f;
	struct stats_filter t;
	json_t *sev = json_object(), *os = json_object(), *dom = json_object();
	bool avail = false;
	int64_t alerts = 0, backfill = 0;
	int rc;
	(void)r;
	/* Every event by severity; threats (severity >= 3) by OS; the most blocked domain. */
	if ((rc = top_into(f, STATS_SEVERITY, 5, sev, any_roll)) < 0)
		goto out;
	t = *f;
	t.n_severity = 3;
	t.severity[0] = 3, t.severity[1] = 4, t.severity[2] = 5;
	if ((rc = top_into(&t, STATS_OS_TYPE, 50, os, any_roll)) < 0)
		goto out;
	t = *f;
	t.event_type.n = 1;
	t.event_type.v[0] = "DNS_BLOCK";
	if ((rc = top_into(&t, STATS_DOMAIN, 1, dom, any_roll)) < 0)
		goto out;
	if ((rc = store_stats_alerts(api_ctx->store, f->from, f->to, &alerts, &backfill, &avail)) <
	    0)
		goto out;

	put_range(o, f);
	json_object_set(o, "events", json_object_get(sev, "total"));
	json_object_set(o, "by_severity", json_object_get(sev, "values"));
	json_object_set_new(o, "alerts", avail ? json_integer(alerts) : json_null());
	json_object_set_new(o, "alerts_backfill", avail ? json_integer(backfill) : json_null());
	json_t *threats = json_array(), *v;
	size_t i;
	json_array_foreach (json_object_get(os, "values"), i, v) {
		json_t *x = json_object();
		json_object_set(x, "os_type", json_object_get(v, "value"));
		json_object_set(x, "count", json_object_get(v, "count"));
		json_array_append_new(threats, x);
	}
	json_object_set_new(o, "threats_by_os", threats);
	json_object_set(o, "threats", json_object_get(os, "total"));
	json_t *top = json_array_get(json_object_get(dom, "values"), 0);
	if (top) {
		json_t *x = json_object();
		json_object_set(x, "domain", json_object_get(top, "value"));
		json_object_set(x, "count", json_object_get(top, "count"));
		json_object_set_new(o, "top_blocked_domain", x);
	} else {
		json_object_set_new(o, "top_blocked_domain", json_null());
	}
	json_object_set(o, "blocked", json_object_get(dom, "total"));
out:
	json_decref(sev);
	json_decref(os);
	json_decref(dom);
	return rc;
}

enum http_result api_stats_summary(struct http_req *r)
{
	static const char *const known[] = {STATS_PARAMS, NULL};
	return stats_reply(r, summary, known);
}

/* "90", "90s", "5m", "1h", "2d", "1w" -> seconds; -1 when malformed. */
static long parse_interval(const char *v)
{
	static const struct {
		char suffix;
		long seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
	char *end = NULL;
	errno = 0;
	long x = strtol(v, &end, 10), unit = *end ? 0 : 1;
	if (!*v || errno || end == v || x <= 0 || (*end && end[1]))
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && !unit; i++)
		if (units[i].suffix == *end)
			unit = units[i].seconds;
	if (!unit || x > 100L * 365 * 86400 / unit)
		return -1;
	return x * unit;
}

static void format_interval(long s, char out[24])
{
	if (s % 604800 == 0)
		snprintf(out, 24, "%ldw", s / 604800);
	else if (s % 86400 == 0)
		snprintf(out, 24, "%ldd", s / 86400);
	else if (s % 3600 == 0)
		snprintf(out, 24, "%ldh", s / 3600);
	else
		snprintf(out, 24, "%ldm", s / 60);
}

static int64_t buckets(const struct stats_filter *f, long s)
{
	int64_t w = (int64_t)s * 1000000;
	return f->to / w - f->from / w + 1;
}

/* The requested width rounded up to whole minutes, then widened along nice steps until the
 * range needs at most MAX_POINTS buckets. */
static long choose_interval(const struct stats_filter *f, long want)
{
	static const long steps[] = {60,   120,	  300,	 600,	900,   1800,   3600,
				     7200, 10800, 21600, 43200, 86400, 172800, 604800};
	long s = (want + 59) / 60 * 60;
	if (buckets(f, s) <= MAX_POINTS)
		return s;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] > s && buckets(f, steps[i]) <= MAX_POINTS)
			return steps[i];
	for (s = 2 * 604800; buckets(f, s) > MAX_POINTS; s += 604800)
		;
	return s;
}

static int timeseries(struct http_req *r, struct sparse *p, json_t *o, bool *roll)
{
	const char *v;
	long want = 60, nseries = DEFAULT_SERIES;
	int by = STATS_OS_TYPE, rc;
	if ((v = qparam_get(r, &p->qp, "interval")) && (want = parse_interval(v)) < 0)
		return qparam_bad(&p->qp, "a duration such as 60s, 5m, 1h or 1d");
	if ((v = qparam_get(r, &p->qp, "by")) && (by = stats_field_parse(v, true)) < 0)
		return qparam_bad(&p->qp, "one of none, os_type, event_type, severity");
	if ((v = qparam_get(r, &p->qp, "series")) && parse_long(v, 1, 50, &nseries) < 0)
		return qparam_bad(&p->qp, "must be an integer 1..50");
	long interval = choose_interval(p->f, want);
	if ((rc = store_stats_series(api_ctx->store, p->f, (int64_t)interval * 1000000,
				     (enum stats_field)by, (size_t)nseries, o, roll)) < 0)
		return rc;
	char buf[24];
	put_range(o, p->f);
	format_interval(interval, buf);
	json_object_set_new(o, "interval", json_string(buf));
	json_object_set_new(o, "interval_s", json_integer(interval));
	json_object_set_new(o, "by", json_string(stats_field_name((enum stats_field)by)));
	return 0;
}

enum http_result api_stats_timeseries(struct http_req *r)
{
	static const char *const known[] = {STATS_PARAMS, "interval", "by", "series", NULL};
	return stats_reply(r, timeseries, known);
}

static int top(struct http_req *r, struct sparse *p, json_t *o, bool *roll)
{
	const char *v;
	long n = DEFAULT_TOP;
	int field = STATS_SOURCE_IP, rc;
	if ((v = qparam_get(r, &p->qp, "field")) && (field = stats_field_parse(v, false)) < 0)
		return qparam_bad(&p->qp, "one of source_ip, user, source_host, app, domain, "
					  "country, asn, tag, event_type, os_type, severity");
	if ((v = qparam_get(r, &p->qp, "n")) && parse_long(v, 1, MAX_TOP, &n) < 0)
		return qparam_bad(&p->qp, "must be an integer 1..100");
	if ((rc = store_stats_top(api_ctx->store, p->f, (enum stats_field)field, (size_t)n, o,
				  roll)) < 0)
		return rc;
	put_range(o, p->f);
	json_object_set_new(o, "field", json_string(stats_field_name((enum stats_field)field)));
	return 0;
}

enum http_result api_stats_top(struct http_req *r)
{
	static const char *const known[] = {STATS_PARAMS, "field", "n", NULL};
	return stats_reply(r, top, known);
}
