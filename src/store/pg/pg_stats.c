/* pg_stats.c — the dashboard's counts on PostgreSQL: events per time bucket and key, top-N
 * values of a field, alerts raised in a range; the twin of stats_query.c, answering with the
 * same JSON. There are no rollups: PostgreSQL groups and counts the events of the range, and
 * the counts are gathered and ordered by stats_acc.c as SQLite's are. Rows are streamed in
 * single-row mode, so a query with many distinct values never holds its whole result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "store/pg/pg_int.h"
#include "store/stats_int.h" /* acc_*, stats_event_domain, floor_div, MINUTE_US, MAX_KEYS */

/* As stats_query.c has them (private there). */
#define TS_MAX 253402300799999999LL /* 9999-12-31T23:59:59.999999Z */
#define SERIES_KEYS 1000	    /* distinct series keys before the rest is "(other)" */
#define MAX_BUCKETS 100000

#define SQL_MAX (16 * 1024)

/* ---- SQL text and owned parameters (as in pg_events.c) ---- */

/* SQL text with a hard cap (core/strbuf); the first error is kept and reported when the
 * text is used. */
struct sql {
	struct strbuf b;
	int rc;
};

static void sql_rc(struct sql *q, int rc)
{
	if (rc < 0 && q->rc == 0)
		q->rc = rc;
}

#define sql_add(q, ...) sql_rc((q), strbuf_addf(&(q)->b, __VA_ARGS__))

/* Parameters whose text this file made (freed with qp_release). */
struct qparams {
	struct pg_params p;
	char *own[PG_MAX_PARAMS];
	int nown;
};

/* Bind s (owned from now on) as the next text parameter: its number, or -ENOMEM. */
static int qp_own(struct qparams *x, char *s)
{
	if (!s)
		return -ENOMEM;
	if (x->nown >= PG_MAX_PARAMS) {
		free(s);
		return -E2BIG;
	}
	x->own[x->nown++] = s;
	pg_p_text(&x->p, s);
	return x->p.n;
}

static int qp_i64(struct qparams *x, int64_t v)
{
	pg_p_i64(&x->p, v);
	return x->p.n;
}

static void qp_release(struct qparams *x)
{
	for (int i = 0; i < x->nown; i++)
		free(x->own[i]);
	x->nown = 0;
}

/* A set of values as one text[] literal, {"v1","v2"}, with \ and " escaped; each value
 * made valid UTF-8 as the writer stores text (pg_write.c), so that it finds what was
 * stored from the same bytes. */
static char *text_array(const struct strset *set)
{
	size_t cap = 3;
	for (size_t i = 0; i < set->n; i++)
		cap += 6 * strlen(set->v[i]) + 3;
	char *out = malloc(cap);
	size_t k = 0;
	if (!out)
		return NULL;
	out[k++] = '{';
	for (size_t i = 0; i < set->n; i++) {
		size_t n = strlen(set->v[i]);
		char *v = malloc(3 * n + 1);
		if (!v) {
			free(out);
			return NULL;
		}
		v[utf8_copy_repair(v, (const unsigned char *)set->v[i], n, false)] = '\0';
		if (i)
			out[k++] = ',';
		out[k++] = '"';
		for (const char *c = v; *c; c++) {
			if (*c == '\\' || *c == '"')
				out[k++] = '\\';
			out[k++] = *c;
		}
		out[k++] = '"';
		free(v);
	}
	out[k++] = '}';
	out[k] = '\0';
	return out;
}

/* " AND col = ANY($n::text[])" for a non-empty set. */
static int where_set(struct sql *q, struct qparams *x, const char *col, const struct strset *set)
{
	if (set->n == 0)
		return 0;
	int k = qp_own(x, text_array(set));
	if (k < 0)
		return k;
	sql_add(q, " AND %s = ANY($%d::text[])", col, k);
	return 0;
}

/* ---- the filter, and streamed rows ---- */

/* "ts >= $a AND ts <= $b" and the filter's conditions, as stats_query.c's scans of events
 * have them (event types, OS types, severities, apps, hosts). */
static int where_filter(struct sql *q, struct qparams *x, const struct stats_filter *f)
{
	int rc, a = qp_i64(x, f->from), b = qp_i64(x, f->to);
	sql_add(q, " WHERE ts >= $%d AND ts <= $%d", a, b);
	if ((rc = where_set(q, x, "event_type", &f->event_type)) < 0 ||
	    (rc = where_set(q, x, "os_type", &f->os_type)) < 0 ||
	    (rc = where_set(q, x, "app", &f->app)) < 0 ||
	    (rc = where_set(q, x, "host", &f->source_host)) < 0)
		return rc;
	if (f->n_severity) {
		/* numbers we parsed ourselves, written into the text */
		sql_add(q, " AND severity IN (");
		for (size_t i = 0; i < f->n_severity; i++)
			sql_add(q, "%s%d", i ? "," : "", f->severity[i]);
		sql_add(q, ")");
	}
	return 0;
}

typedef int (*row_fn)(void *arg, const PGresult *r, int row);

/* Stop a statement whose rows are no longer wanted (its error is then ignored). */
static void cancel(PGconn *c)
{
	char err[256];
	PGcancel *k = PQgetCancel(c);
	if (k) {
		PQcancel(k, err, sizeof(err));
		PQfreeCancel(k);
	}
}

/* Run q on a pooled connection in single-row mode and call fn on each row; an error of fn
 * cancels the statement, and every result is read before the connection goes back. */
static int stream(struct pg_store *s, struct sql *q, const struct qparams *x, row_fn fn, void *arg,
		  const char *what)
{
	const struct pg_params *p = &x->p;
	PGconn *c = NULL;
	PGresult *r;
	int rc = q->rc;
	if (rc == 0 && p->over)
		rc = -E2BIG;
	if (rc < 0 || (rc = pg_conn_get(s, &c)) < 0)
		return rc;
	if (!PQsendQueryParams(c, q->b.p, p->n, NULL, p->v, p->len, p->fmt, 0)) {
		rc = pg_err(c, NULL, what);
		goto out;
	}
	PQsetSingleRowMode(c); /* if refused, the rows come in one result */
	while ((r = PQgetResult(c))) {
		ExecStatusType st = PQresultStatus(r);
		if (rc == 0 && (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK)) {
			for (int i = 0; rc == 0 && i < PQntuples(r); i++)
				rc = fn(arg, r, i);
			if (rc < 0)
				cancel(c);
		} else if (rc == 0) {
			rc = pg_err(c, r, what);
		}
		PQclear(r);
	}
out:
	pg_conn_put(s, c);
	return rc;
}

/* The caller's filter with its range clamped to what timestamps can be; -EINVAL when the
 * range is empty (as stats_query.c's query_start). */
static int clamp_range(struct stats_filter *f, const struct stats_filter *filter,
		       bool *used_rollups)
{
	*f = *filter;
	*used_rollups = false;
	if (f->from < 0)
		f->from = 0;
	if (f->to > TS_MAX)
		f->to = TS_MAX;
	return f->from > f->to ? -EINVAL : 0;
}

/* ---- counts per bucket ---- */

struct series_job {
	struct acc *acc;
	enum stats_field by;
};

/* Row (bucket, key, count); buckets outside the range are not counted. */
static int series_row(void *arg, const PGresult *r, int row)
{
	struct series_job *j = arg;
	int64_t b = pg_i64(r, row, 0);
	const char *k = "all";
	size_t n = 3;
	if (j->by != STATS_NONE) {
		k = pg_str(r, row, 1);
		n = (size_t)PQgetlength(r, row, 1);
		if (!k)
			k = "", n = 0;
	}
	if (b < 0 || (size_t)b >= j->acc->nb)
		return 0;
	return acc_add(j->acc, k, n, (size_t)b, pg_i64(r, row, 2));
}

/* The key a count is split by, as text (stats_query.c's count_keys, on events). */
static const char *const series_keys[] = {
    [STATS_NONE] = "NULL::text",
    [STATS_OS_TYPE] = "coalesce(os_type, '')",
    [STATS_EVENT_TYPE] = "coalesce(event_type, '')",
    [STATS_SEVERITY] = "coalesce(severity, 0)::text",
};

/* Counts per (bucket, key) into acc. Keys come most frequent first, so that past
 * SERIES_KEYS the ones acc_add folds into "(other)" are the least frequent. */
static int series_count(struct pg_store *s, const struct stats_filter *f, int64_t base,
			int64_t width, enum stats_field by, struct acc *acc)
{
	struct sql q = {.rc = 0};
	struct qparams x = {.nown = 0};
	struct series_job j = {acc, by};
	strbuf_init(&q.b, SQL_MAX);
	int a = qp_i64(&x, base), b = qp_i64(&x, width);
	sql_add(&q,
		"SELECT b, k, c FROM (SELECT (ts - $%d) / $%d AS b, %s AS k, count(*) AS c"
		" FROM events",
		a, b, series_keys[by]);
	int rc = where_filter(&q, &x, f);
	sql_add(&q, " GROUP BY 1, 2) g ORDER BY sum(c) OVER (PARTITION BY k) DESC,"
		    " k COLLATE \"C\"");
	if (rc == 0)
		rc = stream(s, &q, &x, series_row, &j, "stats series");
	qp_release(&x);
	strbuf_release(&q.b);
	return rc;
}

/* out as store_stats_series writes it from the sorted keys: buckets, the first max_series
 * series, the rest summed into "(other)", and the total. */
static int series_json(struct acc *acc, struct acc_key **keys, int64_t base, int64_t width,
		       int64_t nb, size_t max_series, json_t *out)
{
	json_t *buckets = json_array(), *series = json_array();
	int64_t total = 0, *other = NULL;
	json_object_set_new(out, "buckets", buckets);
	json_object_set_new(out, "series", series);
	for (int64_t b = 0; b < nb; b++)
		json_array_append_new(buckets, json_integer((base + b * width) / 1000000));
	for (size_t i = 0; i < acc->nkeys; i++) {
		struct acc_key *k = keys[i];
		total += k->total;
		bool is_other = k->n == sizeof(OTHER) - 1 && memcmp(k->k, OTHER, k->n) == 0;
		if (i < max_series && !is_other) {
			json_t *o = json_object(), *c = json_array();
			json_object_set_new(o, "key", json_stringn(k->k, k->n));
			for (int64_t b = 0; b < nb; b++)
				json_array_append_new(
				    c, json_integer(k->counts ? k->counts[b] : k->total));
			json_object_set_new(o, "counts", c);
			json_object_set_new(o, "total", json_integer(k->total));
			json_array_append_new(series, o);
			continue;
		}
		if (!other && !(other = calloc((size_t)nb, sizeof(*other))))
			return -ENOMEM;
		for (int64_t b = 0; b < nb; b++)
			other[b] += k->counts ? k->counts[b] : k->total;
	}
	if (other) {
		json_t *o = json_object(), *c = json_array();
		int64_t t = 0;
		for (int64_t b = 0; b < nb; b++) {
			json_array_append_new(c, json_integer(other[b]));
			t += other[b];
		}
		json_object_set_new(o, "key", json_string(OTHER));
		json_object_set_new(o, "counts", c);
		json_object_set_new(o, "total", json_integer(t));
		json_array_append_new(series, o);
		free(other);
	}
	json_object_set_new(out, "total", json_integer(total));
	return 0;
}

int pg_stats_series(struct pg_store *s, const struct stats_filter *filter, int64_t interval_us,
		    enum stats_field by, size_t max_series, json_t *out, bool *used_rollups)
{
	struct stats_filter f;
	struct acc acc;
	struct acc_key **keys = NULL;
	int rc;
	if ((rc = clamp_range(&f, filter, used_rollups)) < 0)
		return rc;
	if (interval_us < MINUTE_US || interval_us % MINUTE_US || by > STATS_SEVERITY)
		return -EINVAL;
	int64_t base = floor_div(f.from, interval_us) * interval_us;
	int64_t nb = floor_div(f.to, interval_us) - floor_div(f.from, interval_us) + 1;
	if (nb > MAX_BUCKETS)
		return -E2BIG;
	if ((rc = acc_init(&acc, (size_t)nb, SERIES_KEYS)) < 0)
		goto out;
	if ((rc = series_count(s, &f, base, interval_us, by, &acc)) < 0)
		goto out;
	if (!(keys = acc_sorted(&acc))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = series_json(&acc, keys, base, interval_us, nb, max_series, out);
out:
	free(keys);
	acc_release(&acc);
	return rc;
}

/* ---- top-N ---- */

/* Row (value, count); NULL values are not counted. */
static int top_row(void *arg, const PGresult *r, int row)
{
	const char *v = pg_str(r, row, 0);
	if (!v)
		return 0;
	return acc_add(arg, v, (size_t)PQgetlength(r, row, 0), 0, pg_i64(r, row, 1));
}

/* Row (ip, count): the address as the API writes source_ip. */
static int top_ip_row(void *arg, const PGresult *r, int row)
{
	uint8_t ip[16];
	char buf[46];
	if (pg_bytea(r, row, 0, ip, sizeof(ip)) != 16)
		return 0;
	size_t n = ip_format(ip, buf);
	return acc_add(arg, buf, n, 0, pg_i64(r, row, 1));
}

/* Row (data, message) of a DNS event: its domain, as siem_stats_domain() finds it. The
 * query keeps only event types stats_dns_type admits, so the type is not sent. */
static int top_domain_row(void *arg, const PGresult *r, int row)
{
	char out[256];
	const char *d = pg_str(r, row, 0), *m = pg_str(r, row, 1);
	size_t k = stats_event_domain("dns", 3, d, d ? (size_t)PQgetlength(r, row, 0) : 0, m,
				      m ? (size_t)PQgetlength(r, row, 1) : 0, out);
	return k ? acc_add(arg, out, k, 0, 1) : 0;
}

/* What a top-N of field selects: the value, grouped and counted, or for the domain the
 * DNS events' data and message, whose domain is found here. */
static const char *top_value(enum stats_field field, row_fn *fn)
{
	*fn = top_row;
	switch (field) {
	case STATS_OS_TYPE: /* the split keys: a missing value counts as "" (or 0) */
	case STATS_EVENT_TYPE:
	case STATS_SEVERITY:
		return series_keys[field];
	case STATS_SOURCE_IP:
		*fn = top_ip_row;
		return "ip";
	case STATS_USER:
		return "\"user\"";
	case STATS_HOST:
		return "host";
	case STATS_APP:
		return "app";
	default:
		*fn = top_domain_row;
		return NULL;
	}
}

/* Counts of field's values into acc. */
static int top_count(struct pg_store *s, const struct stats_filter *f, enum stats_field field,
		     struct acc *acc)
{
	struct sql q = {.rc = 0};
	struct qparams x = {.nown = 0};
	row_fn fn;
	const char *v = top_value(field, &fn);
	bool split = field <= STATS_SEVERITY;
	strbuf_init(&q.b, SQL_MAX);
	if (v)
		sql_add(&q, "SELECT %s, count(*) FROM events", v);
	else
		sql_add(&q, "SELECT data, message FROM events");
	int rc = where_filter(&q, &x, f);
	if (!v)
		sql_add(&q, " AND event_type ~ '^[dD][nN][sS]'"); /* stats_dns_type */
	else if (split)
		sql_add(&q, " GROUP BY 1");
	else
		sql_add(&q, " AND %s IS NOT NULL GROUP BY 1", v);
	if (rc == 0)
		rc = stream(s, &q, &x, fn, acc, "stats top");
	qp_release(&x);
	strbuf_release(&q.b);
	return rc;
}

/* out as store_stats_top writes it: the first n values, how many distinct, the total. */
static void top_json(struct acc *acc, struct acc_key **keys, enum stats_field field, size_t n,
		     json_t *out)
{
	json_t *values = json_array();
	int64_t total = 0;
	for (size_t i = 0; i < acc->nkeys; i++) {
		total += keys[i]->total;
		if (i >= n)
			continue;
		json_t *o = json_object();
		if (field == STATS_SEVERITY)
			json_object_set_new(o, "value", json_integer(strtol(keys[i]->k, NULL, 10)));
		else
			json_object_set_new(o, "value", json_stringn(keys[i]->k, keys[i]->n));
		json_object_set_new(o, "count", json_integer(keys[i]->total));
		json_array_append_new(values, o);
	}
	json_object_set_new(out, "values", values);
	json_object_set_new(out, "distinct", json_integer((json_int_t)acc->nkeys));
	json_object_set_new(out, "total", json_integer(total));
}

int pg_stats_top(struct pg_store *s, const struct stats_filter *filter, enum stats_field field,
		 size_t n, json_t *out, bool *used_rollups)
{
	struct stats_filter f;
	struct acc acc;
	struct acc_key **keys = NULL;
	int rc;
	if ((rc = clamp_range(&f, filter, used_rollups)) < 0)
		return rc;
	if (field == STATS_NONE)
		return -EINVAL;
	if ((rc = acc_init(&acc, 1, MAX_KEYS)) < 0)
		goto out;
	if ((rc = top_count(s, &f, field, &acc)) < 0)
		goto out;
	if (!(keys = acc_sorted(&acc))) {
		rc = -ENOMEM;
		goto out;
	}
	top_json(&acc, keys, field, n, out);
out:
	free(keys);
	acc_release(&acc);
	return rc;
}

/* ---- alerts ---- */

int pg_stats_alerts(struct pg_store *s, int64_t from, int64_t to, int64_t *n, bool *available)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	*n = 0;
	*available = false;
	pg_p_i64(&p, from);
	pg_p_i64(&p, to);
	int rc =
	    pg_run(s, "SELECT count(*) FROM alerts WHERE created_at >= $1 AND created_at <= $2", &p,
		   &r, "count alerts");
	if (rc == 0) {
		*n = pg_i64(r, 0, 0);
		*available = true;
	}
	PQclear(r);
	return rc;
}
