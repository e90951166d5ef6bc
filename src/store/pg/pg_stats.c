/* pg_stats.c — the dashboard's counts on PostgreSQL: events per time bucket and key, top-N
 * values of a field, alerts raised in a range; the twin of stats_query.c, answering with the
 * same JSON. There are no rollups: PostgreSQL groups and counts the events of the range, and
 * the counts are gathered and ordered by stats_acc.c as SQLite's are. Rows are streamed in
 * single-row mode, so a query with many distinct values never holds its whole result. */
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "store/pg/pg_sql.h"
#include "store/stats_acc.h"

#define SQL_MAX (16 * 1024)

/* ---- the filter, and streamed rows ---- */

/* "ts >= $a AND ts <= $b" and the filter's conditions, as stats_query.c's scans of events
 * have them (event types, OS types, severities, apps, hosts). */
static int where_filter(struct pg_sql *q, struct pg_qparams *x, const struct stats_filter *f)
{
	int rc, a = pg_qp_i64(x, f->from), b = pg_qp_i64(x, f->to);
	pg_sql_add(q, " WHERE ts >= $%d AND ts <= $%d", a, b);
	if ((rc = pg_where_set(q, x, "event_type", &f->event_type)) < 0 ||
	    (rc = pg_where_set(q, x, "os_type", &f->os_type)) < 0 ||
	    (rc = pg_where_set(q, x, "app", &f->app)) < 0 ||
	    (rc = pg_where_set(q, x, "host", &f->source_host)) < 0)
		return rc;
	pg_where_ints(q, "severity", f->severity, f->n_severity);
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
static int stream(struct pg_store *s, struct pg_sql *q, const struct pg_qparams *x, row_fn fn,
		  void *arg, const char *what)
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
	struct pg_sql q = {.rc = 0};
	struct pg_qparams x = {.nown = 0};
	struct series_job j = {acc, by};
	strbuf_init(&q.b, SQL_MAX);
	int a = pg_qp_i64(&x, base), b = pg_qp_i64(&x, width);
	pg_sql_add(&q,
		   "SELECT b, k, c FROM (SELECT (ts - $%d) / $%d AS b, %s AS k, count(*) AS c"
		   " FROM events",
		   a, b, series_keys[by]);
	int rc = where_filter(&q, &x, f);
	pg_sql_add(&q, " GROUP BY 1, 2) g ORDER BY sum(c) OVER (PARTITION BY k) DESC,"
		       " k COLLATE \"C\"");
	if (rc == 0)
		rc = stream(s, &q, &x, series_row, &j, "stats series");
	pg_qp_release(&x);
	strbuf_release(&q.b);
	return rc;
}

int pg_stats_series(struct pg_store *s, const struct stats_filter *filter, int64_t interval_us,
		    enum stats_field by, size_t max_series, json_t *out, bool *used_rollups)
{
	struct stats_query q;
	int rc;
	if ((rc = stats_series_start(&q, filter, interval_us, by, used_rollups)) < 0)
		return rc;
	if ((rc = series_count(s, &q.f, q.base, q.width, by, &q.acc)) == 0)
		rc = stats_series_json(&q, max_series, out);
	stats_query_release(&q);
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

/* Row (tags, count): the count for each of the tags (joined by ','). */
static int top_tags_row(void *arg, const PGresult *r, int row)
{
	const char *v = pg_str(r, row, 0);
	return v ? acc_add_tags(arg, v, (size_t)PQgetlength(r, row, 0), pg_i64(r, row, 1)) : 0;
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
	case STATS_COUNTRY:
		return "geo_country";
	case STATS_ASN:
		return "geo_asn";
	case STATS_TAG:
		*fn = top_tags_row;
		return "tags";
	default:
		*fn = top_domain_row;
		return NULL;
	}
}

/* Counts of field's values into acc. */
static int top_count(struct pg_store *s, const struct stats_filter *f, enum stats_field field,
		     struct acc *acc)
{
	struct pg_sql q = {.rc = 0};
	struct pg_qparams x = {.nown = 0};
	row_fn fn;
	const char *v = top_value(field, &fn);
	bool split = field <= STATS_SEVERITY;
	strbuf_init(&q.b, SQL_MAX);
	if (v)
		pg_sql_add(&q, "SELECT %s, count(*) FROM events", v);
	else
		pg_sql_add(&q, "SELECT data, message FROM events");
	int rc = where_filter(&q, &x, f);
	if (!v)
		pg_sql_add(&q, " AND event_type ~ '^[dD][nN][sS]'"); /* stats_dns_type */
	else if (split)
		pg_sql_add(&q, " GROUP BY 1");
	else
		pg_sql_add(&q, " AND %s IS NOT NULL GROUP BY 1", v);
	if (rc == 0)
		rc = stream(s, &q, &x, fn, acc, "stats top");
	pg_qp_release(&x);
	strbuf_release(&q.b);
	return rc;
}

int pg_stats_top(struct pg_store *s, const struct stats_filter *filter, enum stats_field field,
		 size_t n, json_t *out, bool *used_rollups)
{
	struct stats_query q;
	int rc;
	if ((rc = stats_top_start(&q, filter, field, used_rollups)) < 0)
		return rc;
	if ((rc = top_count(s, &q.f, field, &q.acc)) == 0)
		rc = stats_top_json(&q, field, n, out);
	stats_query_release(&q);
	return rc;
}

/* ---- alerts ---- */

int pg_stats_alerts(struct pg_store *s, int64_t from, int64_t to, int64_t *n, int64_t *backfill,
		    bool *available)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	*n = *backfill = 0;
	*available = false;
	pg_p_i64(&p, from);
	pg_p_i64(&p, to);
	int rc =
	    pg_run(s,
		   "SELECT count(*) FILTER (WHERE NOT backfill), count(*) FILTER (WHERE backfill)"
		   " FROM alerts WHERE created_at >= $1 AND created_at <= $2",
		   &p, &r, "count alerts");
	if (rc == 0) {
		*n = pg_i64(r, 0, 0);
		*backfill = pg_i64(r, 0, 1);
		*available = true;
	}
	PQclear(r);
	return rc;
}
