/* stats.c — GET /stats/summary, /stats/timeseries and /stats/top: the counts the dashboard
 * draws, over a time range (default: the last 24 hours) and the usual event filters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/web_api.h"
#include "core/err.h"
#include "store/store_stats.h"

#define DAY_US (86400LL * 1000000)
#define MAX_POINTS 1500 /* buckets a chart gets at most */
#define DEFAULT_SERIES 12
#define DEFAULT_TOP 10
#define MAX_TOP 100

struct sparse {
	struct stats_filter *f;
	struct arena *a;
	const char *param;
	char err[160];
};

static int bad(struct sparse *p, const char *why)
{
	snprintf(p->err, sizeof(p->err), "%s: %s", p->param, why);
	return SIEM_EPARSE;
}

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

static int add_value(struct sparse *p, const char *v, size_t n)
{
	struct stats_filter *f = p->f;
	if (strcmp(p->param, "severity") == 0 || strcmp(p->param, "min_severity") == 0) {
		char buf[8];
		long x;
		if (n >= sizeof(buf))
			return bad(p, "must be an integer 1..5");
		memcpy(buf, v, n);
		buf[n] = '\0';
		if (parse_long(buf, 1, 5, &x) < 0)
			return bad(p, "must be an integer 1..5");
		for (long s = x; s <= (p->param[0] == 'm' ? 5 : x); s++) {
			bool have = false;
			for (size_t i = 0; i < f->n_severity; i++)
				have |= f->severity[i] == s;
			if (!have)
				f->severity[f->n_severity++] = (int)s;
		}
		return 0;
	}
	struct strset *set = strcmp(p->param, "event_type") == 0 ? &f->event_type
			     : strcmp(p->param, "os_type") == 0	 ? &f->os_type
			     : strcmp(p->param, "app") == 0	 ? &f->app
								 : &f->source_host;
	if (set->n >= QUERY_MAX_VALUES)
		return bad(p, "too many values");
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

static int each_value(void *arg, const char *value)
{
	struct sparse *p = arg;
	for (const char *s = value;;) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);
		int rc;
		if (n > 0 && (rc = add_value(p, s, n)))
			return rc;
		if (!c)
			return 0;
		s = c + 1;
	}
}

/* from, to (default: the 24 hours up to now) and the filters every stats endpoint takes. */
static int parse_filter(struct http_req *r, struct sparse *p)
{
	static const char *const params[] = {"event_type", "os_type",  "app",	      "source_host",
					     "host",	   "severity", "min_severity"};
	struct stats_filter *f = p->f;
	const char *v;
	int rc;
	memset(f, 0, sizeof(*f));
	f->to = ts_now_us();
	if ((v = http_query(r, "to")) && *v) {
		p->param = "to";
		if (ts_parse(v, strlen(v), &f->to) < 0)
			return bad(p, "not ISO-8601 or epoch");
	}
	f->from = f->to - DAY_US + 1;
	if ((v = http_query(r, "from")) && *v) {
		p->param = "from";
		if (ts_parse(v, strlen(v), &f->from) < 0)
			return bad(p, "not ISO-8601 or epoch");
	}
	if ((v = http_query(r, "rollups")) && *v) {
		p->param = "rollups";
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return bad(p, "0 or 1");
		f->no_rollups = v[0] == '0';
	}
	if (f->from > f->to) {
		p->param = "from";
		return bad(p, "after 'to'");
	}
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		p->param = params[i];
		if ((rc = http_query_each(r, params[i], each_value, p)))
			return rc;
	}
	return 0;
}

static enum http_result fail(struct http_req *r, int rc, struct sparse *p)
{
	if (rc == SIEM_EPARSE)
		return http_reply_error(r, 400, "invalid query", p->err);
	if (rc == -E2BIG)
		return http_reply_error(r, 400, "invalid query",
					"too many distinct values or buckets");
	return http_reply_error(r, 500, "query failed", siem_strerror(rc));
}

static void put_range(json_t *o, const struct stats_filter *f)
{
	char buf[32];
	ts_format(f->from, buf);
	json_object_set_new(o, "from", json_string(buf));
	ts_format(f->to, buf);
	json_object_set_new(o, "to", json_string(buf));
}

enum http_result api_stats_summary(struct http_req *r)
{
	struct stats_filter f, t;
	struct arena a;
	struct sparse p = {.f = &f, .a = &a};
	json_t *o = json_object(), *sev = json_object(), *os = json_object(), *dom = json_object();
	enum http_result res;
	bool roll = false, any_roll = false, avail = false;
	int64_t alerts = 0;
	arena_init(&a, 64 * 1024);
	int rc = parse_filter(r, &p);
	if (rc < 0)
		goto fail;
	/* Every event by severity; threats (severity >= 3) by OS; the most blocked domain. */
	if ((rc = store_stats_top(api_ctx->store, &f, STATS_SEVERITY, 5, sev, &roll)) < 0)
		goto fail;
	any_roll |= roll;
	t = f;
	t.n_severity = 3;
	t.severity[0] = 3, t.severity[1] = 4, t.severity[2] = 5;
	if ((rc = store_stats_top(api_ctx->store, &t, STATS_OS_TYPE, 50, os, &roll)) < 0)
		goto fail;
	any_roll |= roll;
	t = f;
	t.event_type.n = 1;
	t.event_type.v[0] = "DNS_BLOCK";
	if ((rc = store_stats_top(api_ctx->store, &t, STATS_DOMAIN, 1, dom, &roll)) < 0)
		goto fail;
	any_roll |= roll;
	if ((rc = store_stats_alerts(api_ctx->store, f.from, f.to, &alerts, &avail)) < 0)
		goto fail;

	put_range(o, &f);
	json_object_set(o, "events", json_object_get(sev, "total"));
	json_object_set(o, "by_severity", json_object_get(sev, "values"));
	json_object_set_new(o, "alerts", avail ? json_integer(alerts) : json_null());
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
	json_object_set_new(o, "rollups", json_boolean(any_roll));
	res = http_reply_json(r, 200, o);
	o = NULL;
	goto out;
fail:
	res = fail(r, rc, &p);
out:
	json_decref(o);
	json_decref(sev);
	json_decref(os);
	json_decref(dom);
	arena_release(&a);
	return res;
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

enum http_result api_stats_timeseries(struct http_req *r)
{
	struct stats_filter f;
	struct arena a;
	struct sparse p = {.f = &f, .a = &a};
	json_t *o = NULL;
	enum http_result res;
	const char *v;
	long want = 60, nseries = DEFAULT_SERIES;
	int by = STATS_OS_TYPE;
	bool roll = false;
	arena_init(&a, 64 * 1024);
	int rc = parse_filter(r, &p);
	if (rc < 0)
		goto fail;
	if ((v = http_query(r, "interval")) && *v && (want = parse_interval(v)) < 0) {
		p.param = "interval";
		rc = bad(&p, "a duration such as 60s, 5m, 1h or 1d");
		goto fail;
	}
	if ((v = http_query(r, "by")) && *v && (by = stats_field_parse(v, true)) < 0) {
		p.param = "by";
		rc = bad(&p, "one of none, os_type, event_type, severity");
		goto fail;
	}
	if ((v = http_query(r, "series")) && *v && parse_long(v, 1, 50, &nseries) < 0) {
		p.param = "series";
		rc = bad(&p, "must be an integer 1..50");
		goto fail;
	}
	long interval = choose_interval(&f, want);
	o = json_object();
	if ((rc = store_stats_series(api_ctx->store, &f, (int64_t)interval * 1000000,
				     (enum stats_field)by, (size_t)nseries, o, &roll)) < 0)
		goto fail;
	char buf[24];
	put_range(o, &f);
	format_interval(interval, buf);
	json_object_set_new(o, "interval", json_string(buf));
	json_object_set_new(o, "interval_s", json_integer(interval));
	json_object_set_new(o, "by", json_string(stats_field_name((enum stats_field)by)));
	json_object_set_new(o, "rollups", json_boolean(roll));
	res = http_reply_json(r, 200, o);
	o = NULL;
	goto out;
fail:
	res = fail(r, rc, &p);
out:
	json_decref(o);
	arena_release(&a);
	return res;
}

enum http_result api_stats_top(struct http_req *r)
{
	struct stats_filter f;
	struct arena a;
	struct sparse p = {.f = &f, .a = &a};
	json_t *o = NULL;
	enum http_result res;
	const char *v;
	long n = DEFAULT_TOP;
	int field = STATS_SOURCE_IP;
	bool roll = false;
	arena_init(&a, 64 * 1024);
	int rc = parse_filter(r, &p);
	if (rc < 0)
		goto fail;
	if ((v = http_query(r, "field")) && *v && (field = stats_field_parse(v, false)) < 0) {
		p.param = "field";
		rc = bad(&p, "one of source_ip, user, source_host, app, domain, event_type, "
			     "os_type, severity");
		goto fail;
	}
	if ((v = http_query(r, "n")) && *v && parse_long(v, 1, MAX_TOP, &n) < 0) {
		p.param = "n";
		rc = bad(&p, "must be an integer 1..100");
		goto fail;
	}
	o = json_object();
	if ((rc = store_stats_top(api_ctx->store, &f, (enum stats_field)field, (size_t)n, o,
				  &roll)) < 0)
		goto fail;
	put_range(o, &f);
	json_object_set_new(o, "field", json_string(stats_field_name((enum stats_field)field)));
	json_object_set_new(o, "rollups", json_boolean(roll));
	res = http_reply_json(r, 200, o);
	o = NULL;
	goto out;
fail:
	res = fail(r, rc, &p);
out:
	json_decref(o);
	arena_release(&a);
	return res;
}
