/* stats_query.c — the statistics queries: counts per time bucket (store_stats_series) and
 * top-N values of a field (store_stats_top), segment by segment, from the rollups for whole
 * minutes (periods) and from the events at the edges and where no rollup holds them; and
 * the alerts raised in a time range. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "store/stats_int.h"

/* ---- fields ---- */

static const struct {
	const char *name;
	enum stats_field f;
	bool by; /* low cardinality: a time series may be split by it */
} fields[] = {
    {"none", STATS_NONE, true},
    {"os_type", STATS_OS_TYPE, true},
    {"event_type", STATS_EVENT_TYPE, true},
    {"severity", STATS_SEVERITY, true},
    {"source_ip", STATS_SOURCE_IP, false},
    {"src_ip", STATS_SOURCE_IP, false},
    {"user", STATS_USER, false},
    {"user_id", STATS_USER, false},
    {"source_host", STATS_HOST, false},
    {"host", STATS_HOST, false},
    {"app", STATS_APP, false},
    {"domain", STATS_DOMAIN, false},
    {"country", STATS_COUNTRY, false},
    {"asn", STATS_ASN, false},
    {"tag", STATS_TAG, false},
};

int stats_field_parse(const char *name, bool by_ok)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(fields[i].name, name) == 0) {
			if (by_ok && !fields[i].by)
				return -1;
			if (!by_ok && fields[i].f == STATS_NONE)
				return -1;
			return (int)fields[i].f;
		}
	return -1;
}

const char *stats_field_name(enum stats_field f)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].f == f)
			return fields[i].name;
	return "?";
}

/* The fields counted from the events alone (no rollup keeps them). */
static bool scan_field(enum stats_field f)
{
	return f == STATS_COUNTRY || f == STATS_ASN || f == STATS_TAG;
}

/* The fields kept in stats_top; the others come from stats_minute. */
static bool top_field(enum stats_field f)
{
	return f == STATS_SOURCE_IP || f == STATS_USER || f == STATS_HOST || f == STATS_APP ||
	       f == STATS_DOMAIN;
}

/* ---- SQL text ---- */

struct sql {
	char b[8192];
	size_t n;
	bool over;
};

static void sql_add(struct sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql_add(struct sql *q, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(q->b + q->n, sizeof(q->b) - q->n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= sizeof(q->b) - q->n)
		q->over = true;
	else
		q->n += (size_t)m;
}

static void sql_in(struct sql *q, const char *col, size_t n)
{
	if (n == 0)
		return;
	sql_add(q, " AND %s IN (", col);
	for (size_t i = 0; i < n; i++)
		sql_add(q, i ? ",?" : "?");
	sql_add(q, ")");
}

/* Filters on events; raw adds the columns only events have. Bind with bind_filter. */
static void sql_filter(struct sql *q, const struct stats_filter *f, bool raw)
{
	sql_in(q, "event_type", f->event_type.n);
	sql_in(q, "os_type", f->os_type.n);
	sql_in(q, "severity", f->n_severity);
	if (raw) {
		sql_in(q, "app", f->app.n);
		sql_in(q, "host", f->source_host.n);
	}
}

static int bind_filter(sqlite3_stmt *st, int k, const struct stats_filter *f, bool raw)
{
	for (size_t i = 0; i < f->event_type.n; i++)
		sqlite3_bind_text(st, k++, f->event_type.v[i], -1, SQLITE_STATIC);
	for (size_t i = 0; i < f->os_type.n; i++)
		sqlite3_bind_text(st, k++, f->os_type.v[i], -1, SQLITE_STATIC);
	for (size_t i = 0; i < f->n_severity; i++)
		sqlite3_bind_int(st, k++, f->severity[i]);
	if (raw) {
		for (size_t i = 0; i < f->app.n; i++)
			sqlite3_bind_text(st, k++, f->app.v[i], -1, SQLITE_STATIC);
		for (size_t i = 0; i < f->source_host.n; i++)
			sqlite3_bind_text(st, k++, f->source_host.v[i], -1, SQLITE_STATIC);
	}
	return k;
}

/* ---- per-segment work ---- */

struct count_job {
	const struct stats_filter *f;
	enum stats_field by; /* STATS_NONE..STATS_SEVERITY */
	int64_t base, width; /* bucket b holds [base + b*width, base + (b+1)*width) */
	struct acc *acc;
	bool used; /* rollups answered some of it */
};

/* The key a count is split by: the column of stats_minute, and the expression on events. */
static const struct {
	const char *minute, *raw;
} count_keys[] = {
    [STATS_NONE] = {"NULL", "NULL"},
    [STATS_OS_TYPE] = {"os_type", "coalesce(os_type, '')"},
    [STATS_EVENT_TYPE] = {"event_type", "coalesce(event_type, '')"},
    [STATS_SEVERITY] = {"severity", "coalesce(severity, 0)"},
};

static const char *count_key(enum stats_field by, bool raw)
{
	if (by > STATS_SEVERITY)
		return "NULL";
	return raw ? count_keys[by].raw : count_keys[by].minute;
}

static int add_row(struct count_job *j, sqlite3_stmt *st)
{
	int64_t b = sqlite3_column_int64(st, 0);
	const char *k = "all";
	size_t n = 3;
	if (j->by != STATS_NONE) {
		k = (const char *)sqlite3_column_text(st, 1);
		n = (size_t)sqlite3_column_bytes(st, 1);
		if (!k)
			k = "", n = 0;
	}
	if (b < 0 || (size_t)b >= j->acc->nb)
		return 0;
	return acc_add(j->acc, k, n, (size_t)b, sqlite3_column_int64(st, 2));
}

static int run_rows(sqlite3 *db, sqlite3_stmt *st, struct count_job *j)
{
	int r, rc = 0;
	while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW)
		rc = add_row(j, st);
	if (rc == 0 && r != SQLITE_DONE)
		rc = store_sql_err(db, "stats");
	return rc;
}

/* q prepared on db, or its error (what names the query in the message). */
static int sql_prepare(sqlite3 *db, const struct sql *q, sqlite3_stmt **st, const char *what)
{
	if (q->over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, q->b, (int)q->n, st, NULL) != SQLITE_OK)
		return store_sql_err(db, what);
	return 0;
}

/* Run a count query: its first parameters are the bucket base and width and the range
 * [lo, hi], then the filter (raw: with the columns only events have). */
static int count_query(sqlite3 *db, struct count_job *j, const struct sql *q, bool raw, int64_t lo,
		       int64_t hi, const char *what)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if ((rc = sql_prepare(db, q, &st, what)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, j->base);
	sqlite3_bind_int64(st, 2, j->width);
	sqlite3_bind_int64(st, 3, lo);
	sqlite3_bind_int64(st, 4, hi);
	bind_filter(st, 5, j->f, raw);
	rc = run_rows(db, st, j);
	sqlite3_finalize(st);
	return rc;
}

/* Events of [lo, hi] counted from the rows. */
static int count_raw(sqlite3 *db, void *job, int64_t lo, int64_t hi)
{
	struct count_job *j = job;
	struct sql q = {.n = 0};
	sql_add(&q, "SELECT (ts - ?) / ?, %s, count(*) FROM events WHERE ts >= ? AND ts <= ?",
		count_key(j->by, true));
	sql_filter(&q, j->f, true);
	sql_add(&q, " GROUP BY 1, 2");
	return count_query(db, j, &q, true, lo, hi, "stats scan");
}

/* Whole minutes mlo..mhi from stats_minute. */
static int count_rollup(sqlite3 *db, void *job, int64_t mlo, int64_t mhi)
{
	struct count_job *j = job;
	struct sql q = {.n = 0};
	sql_add(&q,
		"SELECT (minute * %lld - ?) / ?, %s, count FROM stats_minute"
		" WHERE minute >= ? AND minute <= ?",
		MINUTE_US, count_key(j->by, false));
	/* No GROUP BY: the rows stream into the accumulator, which is cheaper than a sort. */
	sql_filter(&q, j->f, false);
	return count_query(db, j, &q, false, mlo, mhi, "stats rollup");
}

struct split stats_unit_split(int64_t from, int64_t to, int64_t smin, int64_t smax, int64_t unit)
{
	struct split s = {1, 0, {{1, 0}, {1, 0}}};
	int64_t lo = from > smin ? from : smin, hi = to < smax ? to : smax;
	if (lo > hi)
		return s;
	int64_t ulo = floor_div(lo, unit), uhi = floor_div(hi, unit);
	bool lead = lo > smin && lo != ulo * unit;
	bool trail = hi < smax && hi != (uhi + 1) * unit - 1;
	if (ulo == uhi && (lead || trail)) {
		s.edge[0][0] = lo;
		s.edge[0][1] = hi;
		return s;
	}
	s.ulo = ulo + lead;
	s.uhi = uhi - trail;
	if (lead) {
		s.edge[0][0] = lo;
		s.edge[0][1] = (ulo + 1) * unit - 1;
	}
	if (trail) {
		s.edge[1][0] = uhi * unit;
		s.edge[1][1] = hi;
	}
	return s;
}

/* The time span of a segment's events as the reader's snapshot has it: an active
 * segment's seg_view may be older. */
static int snapshot_bounds(sqlite3 *db, const struct seg_view *g, int64_t *smin, int64_t *smax)
{
	struct seg_row sr;
	int rc;
	*smin = g->min_ts;
	*smax = g->max_ts;
	if (g->state != SEG_ACTIVE)
		return 0;
	if ((rc = stats_segment_row(db, "stats bounds", &sr)) == 0) {
		*smin = sr.min_ts;
		*smax = sr.max_ts;
	}
	return rc;
}

/* Run fn on every segment overlapping [f->from, f->to], each inside one read transaction so
 * that its rollups and rows are seen as of one commit. */
typedef int (*seg_fn)(sqlite3 *db, const struct seg_view *g, int rollups, void *arg);

static int each_segment(struct sq_store *s, const struct stats_filter *f, seg_fn fn, void *arg)
{
	struct seg_view *segs = NULL;
	size_t nseg = 0;
	int rc = store_snapshot(s, &segs, &nseg);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nseg && rc == 0; i++) {
		struct seg_view *g = &segs[i];
		sqlite3 *db = NULL;
		int roll = 0;
		if (g->rows == 0 || g->max_ts < f->from || g->min_ts > f->to)
			continue;
		if ((rc = store_reader_get(s, g->seg, &db)) < 0)
			break;
		if ((rc = stats_register_fns(db)) == 0 && (rc = store_exec(db, "BEGIN")) == 0) {
			if ((rc = stats_rollup_tables(db, &roll)) == 0)
				rc = fn(db, g, roll, arg);
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		}
		store_reader_put(s, g->seg, db);
	}
	store_snapshot_release(s, segs, nseg);
	return rc;
}

/* A count over [lo, hi] of a segment: its events (a scan), or whole units of its rollups. */
typedef int (*range_fn)(sqlite3 *db, void *job, int64_t lo, int64_t hi);

/* scan over the part of g's events that [f->from, f->to] holds. */
static int scan_segment(sqlite3 *db, const struct stats_filter *f, const struct seg_view *g,
			range_fn scan, void *job)
{
	int64_t lo = f->from > g->min_ts ? f->from : g->min_ts;
	int64_t hi = f->to < g->max_ts ? f->to : g->max_ts;
	return scan(db, job, lo, hi);
}

/* The whole units of sp from the rollups, its edges from the events. */
static int scan_split(sqlite3 *db, const struct split *sp, range_fn units, range_fn scan, void *job)
{
	int rc;
	if (sp->ulo <= sp->uhi && (rc = units(db, job, sp->ulo, sp->uhi)) < 0)
		return rc;
	for (int e = 0; e < 2; e++)
		if (sp->edge[e][0] <= sp->edge[e][1] &&
		    (rc = scan(db, job, sp->edge[e][0], sp->edge[e][1])) < 0)
			return rc;
	return 0;
}

static int count_segment(sqlite3 *db, const struct seg_view *g, int rollups, void *arg)
{
	struct count_job *j = arg;
	const struct stats_filter *f = j->f;
	int64_t smin, smax;
	int rc;
	if (!rollups || f->no_rollups || f->app.n || f->source_host.n)
		return scan_segment(db, f, g, count_raw, j);
	if ((rc = snapshot_bounds(db, g, &smin, &smax)) < 0)
		return rc;
	struct split sp = stats_unit_split(f->from, f->to, smin, smax, MINUTE_US);
	j->used |= sp.ulo <= sp.uhi;
	return scan_split(db, &sp, count_rollup, count_raw, j);
}

int sq_stats_series(struct sq_store *s, const struct stats_filter *filter, int64_t interval_us,
		    enum stats_field by, size_t max_series, json_t *out, bool *used_rollups)
{
	struct stats_query q;
	int rc;
	if ((rc = stats_series_start(&q, filter, interval_us, by, used_rollups)) < 0)
		return rc;
	struct count_job j = {&q.f, by, q.base, q.width, &q.acc, false};
	rc = each_segment(s, &q.f, count_segment, &j);
	*used_rollups = j.used;
	if (rc == 0)
		rc = stats_series_json(&q, max_series, out);
	stats_query_release(&q);
	return rc;
}

/* ---- top-N ---- */

static const char *top_expr(enum stats_field f)
{
	switch (f) {
	case STATS_SOURCE_IP:
		return "ip";
	case STATS_USER:
		return "user";
	case STATS_HOST:
		return "host";
	case STATS_APP:
		return "app";
	case STATS_COUNTRY:
		return "geo_country";
	case STATS_ASN:
		return "geo_asn";
	case STATS_TAG:
		return "tags";
	default:
		return "siem_stats_domain(event_type, data, message)";
	}
}

static int top_rows(sqlite3 *db, sqlite3_stmt *st, struct top_job *j, bool ip)
{
	int r, rc = 0;
	char buf[46];
	while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v;
		size_t n;
		if (ip) {
			if (sqlite3_column_bytes(st, 0) != 16)
				continue;
			n = ip_format(sqlite3_column_blob(st, 0), buf);
			v = buf;
		} else {
			v = (const char *)sqlite3_column_text(st, 0);
			n = (size_t)sqlite3_column_bytes(st, 0);
			if (!v)
				continue;
		}
		if (j->field == STATS_TAG)
			rc = acc_add_tags(j->acc, v, n, sqlite3_column_int64(st, 1));
		else
			rc = acc_add(j->acc, v, n, 0, sqlite3_column_int64(st, 1));
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = store_sql_err(db, "stats top");
	return rc;
}

int stats_top_raw(sqlite3 *db, struct top_job *j, int64_t lo, int64_t hi)
{
	struct sql q = {.n = 0};
	sqlite3_stmt *st = NULL;
	const char *e = top_expr(j->field);
	int rc;
	sql_add(&q, "SELECT %s AS v, count(*) FROM events WHERE ts >= ? AND ts <= ?", e);
	sql_filter(&q, j->f, true);
	sql_add(&q, " AND v IS NOT NULL GROUP BY v");
	if ((rc = sql_prepare(db, &q, &st, "stats top scan")) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	bind_filter(st, 3, j->f, true);
	rc = top_rows(db, st, j, j->field == STATS_SOURCE_IP);
	sqlite3_finalize(st);
	return rc;
}

/* The stored counts of j's field: periods plo..phi of stats_top, or with whole the
 * segment's stats_total. */
static int top_stored(sqlite3 *db, struct top_job *j, bool whole, int64_t plo, int64_t phi)
{
	struct sql q = {.n = 0};
	sqlite3_stmt *st = NULL;
	int rc;
	sql_add(&q, "SELECT value, count FROM %s WHERE field = ?",
		whole ? "stats_total" : "stats_top");
	sql_in(&q, "event_type", j->f->event_type.n);
	if (!whole)
		sql_add(&q, " AND period >= ? AND period <= ?");
	if ((rc = sql_prepare(db, &q, &st, whole ? "stats top totals" : "stats top rollup")) < 0)
		return rc;
	int k = 1;
	sqlite3_bind_int(st, k++, (int)j->field);
	for (size_t i = 0; i < j->f->event_type.n; i++)
		sqlite3_bind_text(st, k++, j->f->event_type.v[i], -1, SQLITE_STATIC);
	if (!whole) {
		sqlite3_bind_int64(st, k++, plo);
		sqlite3_bind_int64(st, k++, phi);
	}
	rc = top_rows(db, st, j, false);
	sqlite3_finalize(st);
	return rc;
}

static int top_scan(sqlite3 *db, void *job, int64_t lo, int64_t hi)
{
	return stats_top_raw(db, job, lo, hi);
}

static int top_periods(sqlite3 *db, void *job, int64_t plo, int64_t phi)
{
	return top_stored(db, job, false, plo, phi);
}

static int top_segment(sqlite3 *db, const struct seg_view *g, int rollups, void *arg)
{
	struct top_job *j = arg;
	const struct stats_filter *f = j->f;
	bool kept = false;
	int rc;
	/* The counts are split by event type only. */
	if (!rollups || scan_field(j->field) || f->no_rollups || f->os_type.n || f->n_severity ||
	    f->app.n || f->source_host.n)
		return scan_segment(db, f, g, top_scan, j);
	if ((rollups & ROLL_TOTALS) && g->state != SEG_ACTIVE) {
		/* Sealed and written out: its totals, a row per value, when the range holds it
		 * whole; else its periods and the edges. */
		j->used = true;
		if (f->from <= g->min_ts && g->max_ts <= f->to)
			return top_stored(db, j, true, 0, 0);
		struct split sp = stats_unit_split(f->from, f->to, g->min_ts, g->max_ts, PERIOD_US);
		return scan_split(db, &sp, top_periods, top_scan, j);
	}
	/* The active segment, or a sealed one the indexer has not written out: memory. */
	if ((rc = stats_rollup_top(j->s, db, g, j, &kept)) < 0 || kept)
		return rc;
	return scan_segment(db, f, g, top_scan, j);
}

int sq_stats_top(struct sq_store *s, const struct stats_filter *filter, enum stats_field field,
		 size_t n, json_t *out, bool *used_rollups)
{
	struct stats_query q;
	int rc;
	if ((rc = stats_top_start(&q, filter, field, used_rollups)) < 0)
		return rc;
	if (top_field(field) || scan_field(field)) {
		struct top_job j = {&q.f, field, &q.acc, false, s};
		rc = each_segment(s, &q.f, top_segment, &j);
		*used_rollups = j.used;
	} else {
		/* Low-cardinality fields: one bucket of the per-minute counts. */
		struct count_job j = {
		    &q.f,	   field,  floor_div(q.f.from, MINUTE_US) * MINUTE_US,
		    INT64_MAX / 2, &q.acc, false};
		rc = each_segment(s, &q.f, count_segment, &j);
		*used_rollups = j.used;
	}
	if (rc == 0)
		rc = stats_top_json(&q, field, n, out);
	stats_query_release(&q);
	return rc;
}

/* ---- alerts ---- */

int sq_stats_alerts(struct sq_store *s, int64_t from, int64_t to, int64_t *n, int64_t *backfill,
		    bool *available)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	*n = *backfill = 0;
	*available = false;
	pthread_mutex_lock(&s->adm_mu);
	/* The alerts table comes with a later schema than this file's first: ask, don't fail. */
	if (sqlite3_prepare_v2(s->adm,
			       "SELECT count(*) - total(backfill), total(backfill) FROM alerts"
			       " WHERE created_at >= ? AND created_at <= ?",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		*backfill = sqlite3_column_int64(st, 1);
		*available = true;
	} else {
		rc = store_sql_err(s->adm, "count alerts");
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}
