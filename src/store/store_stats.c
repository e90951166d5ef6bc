/* store_stats.c — counts for the dashboard: per-minute rollups (os_type, event_type,
 * severity) and 10-minute top-value rollups (source IP, user, host, app, DNS domain) kept in
 * each segment by the writer, read for whole minutes (periods) of a query, with the partial
 * ones at its edges and segments without rollups scanned; and saved dashboards. */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/store_int.h"
#include "store/store_stats.h"

#define SUB "stats"
#define MINUTE_US 60000000LL
#define PERIOD_US (600LL * 1000000) /* a stats_top row covers 10 minutes */
#define TS_MAX 253402300799999999LL /* 9999-12-31T23:59:59.999999Z */
#define MAX_KEYS 2000000	    /* distinct values one query may collect */
#define SERIES_KEYS 1000	    /* distinct series keys before the rest is "(other)" */
#define OTHER "(other)"

static const char rollup_ddl[] =
    "CREATE TABLE stats_minute(minute INTEGER NOT NULL, os_type TEXT NOT NULL,"
    " event_type TEXT NOT NULL, severity INTEGER NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(minute, os_type, event_type, severity)) WITHOUT ROWID;"
    "CREATE TABLE stats_top(field INTEGER NOT NULL, event_type TEXT NOT NULL,"
    " period INTEGER NOT NULL, value TEXT NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(field, event_type, period, value)) WITHOUT ROWID;";

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

/* The fields kept in stats_top; the others come from stats_minute. */
static bool top_field(enum stats_field f)
{
	return f == STATS_SOURCE_IP || f == STATS_USER || f == STATS_HOST || f == STATS_APP ||
	       f == STATS_DOMAIN;
}

/* ---- the domain of a DNS event ---- */

static bool dns_type(const char *t, size_t n)
{
	return t && n >= 3 && (t[0] == 'D' || t[0] == 'd') && (t[1] == 'N' || t[1] == 'n') &&
	       (t[2] == 'S' || t[2] == 's');
}

static bool domain_char(int c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

/* A host name: domain characters only, a dot inside, a letter somewhere (not an IPv4). */
static size_t domain_norm(const char *p, size_t n, char out[256])
{
	bool dot = false, alpha = false;
	while (n && p[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || p[0] == '.' || p[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!domain_char(c))
			return 0;
		dot |= c == '.' && i > 0;
		alpha |= isalpha(c) != 0;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return dot && alpha ? n : 0;
}

/* The string value of a top-level "domain" key in compact or spaced JSON object text;
 * escaped values are refused (no real domain needs one). */
static size_t data_domain(const char *d, size_t n, char out[256])
{
	int depth = 0;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == '"') {
			size_t s = ++i;
			bool esc = false;
			while (i < n && d[i] != '"') {
				if (d[i] == '\\') {
					esc = true;
					i++;
				}
				i++;
			}
			if (i >= n)
				return 0;
			size_t len = i - s;
			if (depth != 1 || esc || len != 6 || memcmp(d + s, "domain", 6) != 0)
				continue;
			size_t j = i + 1;
			while (j < n && isspace((unsigned char)d[j]))
				j++;
			if (j >= n || d[j] != ':')
				continue; /* a value that happens to read "domain" */
			j++;
			while (j < n && isspace((unsigned char)d[j]))
				j++;
			if (j >= n || d[j] != '"')
				return 0;
			size_t vs = ++j;
			while (j < n && d[j] != '"' && d[j] != '\\')
				j++;
			if (j >= n || d[j] != '"')
				return 0;
			return domain_norm(d + vs, j - vs, out);
		}
	}
	return 0;
}

/* The first whitespace-separated word of a message that is a host name. */
static size_t message_domain(const char *m, size_t n, char out[256])
{
	for (size_t i = 0; i < n;) {
		while (i < n && isspace((unsigned char)m[i]))
			i++;
		size_t s = i;
		while (i < n && !isspace((unsigned char)m[i]))
			i++;
		size_t k = domain_norm(m + s, i - s, out);
		if (k)
			return k;
	}
	return 0;
}

static size_t event_domain(const char *type, size_t tn, const char *data, size_t dn,
			   const char *msg, size_t mn, char out[256])
{
	size_t k = 0;
	if (!dns_type(type, tn))
		return 0;
	if (data && (k = data_domain(data, dn, out)))
		return k;
	return msg ? message_domain(msg, mn, out) : 0;
}

/* siem_stats_domain(event_type, data, message): the same, for scans and backfills. */
static void fn_domain(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	char out[256];
	size_t k = event_domain(
	    (const char *)sqlite3_value_text(argv[0]), (size_t)sqlite3_value_bytes(argv[0]),
	    (const char *)sqlite3_value_text(argv[1]), (size_t)sqlite3_value_bytes(argv[1]),
	    (const char *)sqlite3_value_text(argv[2]), (size_t)sqlite3_value_bytes(argv[2]), out);
	if (k)
		sqlite3_result_text(ctx, out, (int)k, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
}

/* siem_stats_ip(ip blob): canonical text, as the API writes source_ip. */
static void fn_ip(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	char buf[46];
	if (sqlite3_value_bytes(argv[0]) != 16) {
		sqlite3_result_null(ctx);
		return;
	}
	size_t n = ip_format(sqlite3_value_blob(argv[0]), buf);
	sqlite3_result_text(ctx, buf, (int)n, SQLITE_TRANSIENT);
}

static int register_fns(sqlite3 *db)
{
	if (sqlite3_create_function(db, "siem_stats_domain", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, fn_domain, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "siem_stats_ip", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, fn_ip, NULL, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats functions");
	return 0;
}

/* ---- accumulating counts per key (and per bucket) ---- */

struct acc_key {
	char *k;
	size_t n;
	uint64_t h;
	int64_t total;
	int64_t *counts; /* nb entries when nb > 1 */
};

struct acc {
	size_t nb;	 /* buckets (1 for a top-N) */
	size_t cap_keys; /* distinct keys kept; past it new ones go to "(other)" */
	size_t nkeys, nslot;
	struct acc_key *slot;
	struct arena arena;
};

static int acc_init(struct acc *a, size_t nb, size_t cap_keys)
{
	memset(a, 0, sizeof(*a));
	a->nb = nb;
	a->cap_keys = cap_keys;
	a->nslot = 1024;
	arena_init(&a->arena, 0);
	return (a->slot = calloc(a->nslot, sizeof(*a->slot))) ? 0 : -ENOMEM;
}

static void acc_release(struct acc *a)
{
	if (a->slot)
		for (size_t i = 0; i < a->nslot; i++)
			free(a->slot[i].counts);
	free(a->slot);
	arena_release(&a->arena);
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int acc_grow(struct acc *a)
{
	size_t nslot = a->nslot * 2;
	struct acc_key *s = calloc(nslot, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < a->nslot; i++) {
		if (!a->slot[i].k)
			continue;
		size_t j = a->slot[i].h & (nslot - 1);
		while (s[j].k)
			j = (j + 1) & (nslot - 1);
		s[j] = a->slot[i];
	}
	free(a->slot);
	a->slot = s;
	a->nslot = nslot;
	return 0;
}

static int acc_add(struct acc *a, const char *k, size_t n, size_t bucket, int64_t count)
{
	if (a->nkeys >= a->cap_keys) {
		/* Past the cap only keys already seen keep their own entry. */
		uint64_t h = hash_bytes(k, n, 1469598103934665603ULL);
		for (size_t i = h & (a->nslot - 1); a->slot[i].k; i = (i + 1) & (a->nslot - 1))
			if (a->slot[i].h == h && a->slot[i].n == n &&
			    memcmp(a->slot[i].k, k, n) == 0)
				goto found_or_new;
		if (a->nb == 1)
			return -E2BIG;
		k = OTHER;
		n = sizeof(OTHER) - 1;
	}
found_or_new:;
	uint64_t h = hash_bytes(k, n, 1469598103934665603ULL);
	size_t i = h & (a->nslot - 1);
	for (; a->slot[i].k; i = (i + 1) & (a->nslot - 1))
		if (a->slot[i].h == h && a->slot[i].n == n && memcmp(a->slot[i].k, k, n) == 0)
			break;
	struct acc_key *e = &a->slot[i];
	if (!e->k) {
		if (a->nkeys >= MAX_KEYS)
			return -E2BIG;
		if (!(e->k = arena_strndup(&a->arena, k, n)))
			return -ENOMEM;
		e->n = n;
		e->h = h;
		if (a->nb > 1 && !(e->counts = calloc(a->nb, sizeof(*e->counts))))
			return -ENOMEM;
		a->nkeys++;
	}
	e->total += count;
	if (e->counts && bucket < a->nb)
		e->counts[bucket] += count;
	if (a->nkeys * 10 >= a->nslot * 7)
		return acc_grow(a);
	return 0;
}

static int by_total(const void *x, const void *y)
{
	const struct acc_key *a = *(const struct acc_key *const *)x;
	const struct acc_key *b = *(const struct acc_key *const *)y;
	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	int c = memcmp(a->k, b->k, a->n < b->n ? a->n : b->n);
	return c ? c : (a->n > b->n) - (a->n < b->n);
}

/* The keys, most frequent first (then by key). */
static struct acc_key **acc_sorted(struct acc *a)
{
	struct acc_key **v = malloc((a->nkeys ? a->nkeys : 1) * sizeof(*v));
	size_t k = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < a->nslot; i++)
		if (a->slot[i].k)
			v[k++] = &a->slot[i];
	qsort(v, k, sizeof(*v), by_total);
	return v;
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

static const char *minute_key(enum stats_field by)
{
	switch (by) {
	case STATS_OS_TYPE:
		return "os_type";
	case STATS_EVENT_TYPE:
		return "event_type";
	case STATS_SEVERITY:
		return "severity";
	default:
		return "NULL";
	}
}

static const char *raw_key(enum stats_field by)
{
	switch (by) {
	case STATS_OS_TYPE:
		return "coalesce(os_type, '')";
	case STATS_EVENT_TYPE:
		return "coalesce(event_type, '')";
	case STATS_SEVERITY:
		return "coalesce(severity, 0)";
	default:
		return "NULL";
	}
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

/* Events of [lo, hi] counted from the rows. */
static int count_raw(sqlite3 *db, struct count_job *j, int64_t lo, int64_t hi)
{
	struct sql q = {.n = 0};
	sqlite3_stmt *st = NULL;
	int rc;
	sql_add(&q, "SELECT (ts - ?) / ?, %s, count(*) FROM events WHERE ts >= ? AND ts <= ?",
		raw_key(j->by));
	sql_filter(&q, j->f, true);
	sql_add(&q, " GROUP BY 1, 2");
	if (q.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, q.b, (int)q.n, &st, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats scan");
	sqlite3_bind_int64(st, 1, j->base);
	sqlite3_bind_int64(st, 2, j->width);
	sqlite3_bind_int64(st, 3, lo);
	sqlite3_bind_int64(st, 4, hi);
	bind_filter(st, 5, j->f, true);
	rc = run_rows(db, st, j);
	sqlite3_finalize(st);
	return rc;
}

/* Whole minutes mlo..mhi from stats_minute. */
static int count_rollup(sqlite3 *db, struct count_job *j, int64_t mlo, int64_t mhi)
{
	struct sql q = {.n = 0};
	sqlite3_stmt *st = NULL;
	int rc;
	sql_add(&q,
		"SELECT (minute * %lld - ?) / ?, %s, count FROM stats_minute"
		" WHERE minute >= ? AND minute <= ?",
		MINUTE_US, minute_key(j->by));
	/* No GROUP BY: the rows stream into the accumulator, which is cheaper than a sort. */
	sql_filter(&q, j->f, false);
	if (q.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, q.b, (int)q.n, &st, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats rollup");
	sqlite3_bind_int64(st, 1, j->base);
	sqlite3_bind_int64(st, 2, j->width);
	sqlite3_bind_int64(st, 3, mlo);
	sqlite3_bind_int64(st, 4, mhi);
	bind_filter(st, 5, j->f, false);
	rc = run_rows(db, st, j);
	sqlite3_finalize(st);
	return rc;
}

enum { ROLL_KEPT = 1, ROLL_TOTALS = 2 };

/* Which rollup tables a segment has: ROLL_KEPT (stats_minute and stats_top, complete since
 * the segment began) and ROLL_TOTALS (stats_total, made when it was sealed). */
static int rollup_tables(sqlite3 *db, int *flags)
{
	sqlite3_stmt *st = NULL;
	int r;
	*flags = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT name FROM sqlite_master WHERE type = 'table'"
			       " AND name IN ('stats_minute', 'stats_top', 'stats_total')",
			       -1, &st, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats tables");
	int n = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (strcmp(name, "stats_total") == 0)
			*flags |= ROLL_TOTALS;
		else
			n++;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return store_sql_err(db, "stats tables");
	if (n == 2)
		*flags |= ROLL_KEPT;
	else
		*flags = 0;
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Split [lo, hi] at multiples of unit: whole units ulo..uhi (none when ulo > uhi) and the
 * partial edges [lo, elo] and [ehi, hi] (empty when elo < lo / ehi > hi). */
struct split {
	int64_t ulo, uhi, elo, ehi;
};

static struct split split_range(int64_t lo, int64_t hi, int64_t unit)
{
	struct split s;
	s.ulo = floor_div(lo + unit - 1, unit);
	s.uhi = floor_div(hi + 1, unit) - 1;
	if (s.ulo > s.uhi) {
		s.elo = hi; /* everything is an edge */
		s.ehi = hi + 1;
		return s;
	}
	s.elo = s.ulo * unit - 1;
	s.ehi = (s.uhi + 1) * unit;
	return s;
}

/* Run fn on every segment overlapping [f->from, f->to], each inside one read transaction so
 * that its rollups and rows are seen as of one commit. */
typedef int (*seg_fn)(sqlite3 *db, const struct seg_view *g, int rollups, void *arg);

static int each_segment(struct store *s, const struct stats_filter *f, seg_fn fn, void *arg)
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
		if ((rc = register_fns(db)) == 0 && (rc = store_exec(db, "BEGIN")) == 0) {
			if ((rc = rollup_tables(db, &roll)) == 0)
				rc = fn(db, g, roll, arg);
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		}
		store_reader_put(s, g->seg, db);
	}
	store_snapshot_release(s, segs, nseg);
	return rc;
}

static int count_segment(sqlite3 *db, const struct seg_view *g, int rollups, void *arg)
{
	struct count_job *j = arg;
	const struct stats_filter *f = j->f;
	int64_t lo = f->from > g->min_ts ? f->from : g->min_ts;
	int64_t hi = f->to < g->max_ts ? f->to : g->max_ts;
	int rc;
	if (!rollups || f->no_rollups || f->app.n || f->source_host.n)
		return count_raw(db, j, lo, hi);
	struct split sp = split_range(lo, hi, MINUTE_US);
	j->used |= sp.ulo <= sp.uhi;
	if (sp.ulo <= sp.uhi && (rc = count_rollup(db, j, sp.ulo, sp.uhi)) < 0)
		return rc;
	if (sp.elo >= lo && (rc = count_raw(db, j, lo, sp.elo)) < 0)
		return rc;
	if (sp.ehi <= hi && (rc = count_raw(db, j, sp.ehi, hi)) < 0)
		return rc;
	return 0;
}

static void clamp(struct stats_filter *f)
{
	if (f->from < 0)
		f->from = 0;
	if (f->to > TS_MAX)
		f->to = TS_MAX;
}

int store_stats_series(struct store *s, const struct stats_filter *filter, int64_t interval_us,
		       enum stats_field by, size_t max_series, json_t *out, bool *used_rollups)
{
	struct stats_filter f = *filter;
	struct acc acc;
	struct acc_key **keys = NULL;
	int rc;
	*used_rollups = false;
	clamp(&f);
	if (interval_us < MINUTE_US || interval_us % MINUTE_US || f.from > f.to ||
	    by > STATS_SEVERITY)
		return -EINVAL;
	int64_t base = floor_div(f.from, interval_us) * interval_us;
	int64_t nb = floor_div(f.to, interval_us) - floor_div(f.from, interval_us) + 1;
	if (nb > 100000)
		return -E2BIG;
	if ((rc = acc_init(&acc, (size_t)nb, SERIES_KEYS)) < 0)
		goto out;
	struct count_job j = {&f, by, base, interval_us, &acc, false};
	rc = each_segment(s, &f, count_segment, &j);
	*used_rollups = j.used;
	if (rc < 0)
		goto out;
	if (!(keys = acc_sorted(&acc))) {
		rc = -ENOMEM;
		goto out;
	}
	json_t *buckets = json_array(), *series = json_array();
	json_object_set_new(out, "buckets", buckets);
	json_object_set_new(out, "series", series);
	for (int64_t b = 0; b < nb; b++)
		json_array_append_new(buckets, json_integer((base + b * interval_us) / 1000000));
	int64_t total = 0, *other = NULL;
	bool has_other = false;
	for (size_t i = 0; i < acc.nkeys; i++) {
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
		if (!other && !(other = calloc((size_t)nb, sizeof(*other)))) {
			rc = -ENOMEM;
			goto out;
		}
		has_other = true;
		for (int64_t b = 0; b < nb; b++)
			other[b] += k->counts ? k->counts[b] : k->total;
	}
	if (has_other) {
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
	}
	free(other);
	json_object_set_new(out, "total", json_integer(total));
out:
	free(keys);
	acc_release(&acc);
	return rc;
}

/* ---- top-N ---- */

struct top_job {
	const struct stats_filter *f;
	enum stats_field field;
	struct acc *acc;
	bool used;
};

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
		rc = acc_add(j->acc, v, n, 0, sqlite3_column_int64(st, 1));
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = store_sql_err(db, "stats top");
	return rc;
}

static int top_raw(sqlite3 *db, struct top_job *j, int64_t lo, int64_t hi)
{
	struct sql q = {.n = 0};
	sqlite3_stmt *st = NULL;
	const char *e = top_expr(j->field);
	sql_add(&q, "SELECT %s AS v, count(*) FROM events WHERE ts >= ? AND ts <= ?", e);
	sql_filter(&q, j->f, true);
	sql_add(&q, " AND v IS NOT NULL GROUP BY v");
	if (q.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, q.b, (int)q.n, &st, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats top scan");
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	bind_filter(st, 3, j->f, true);
	int rc = top_rows(db, st, j, j->field == STATS_SOURCE_IP);
	sqlite3_finalize(st);
	return rc;
}

static int top_rollup(sqlite3 *db, struct top_job *j, int64_t plo, int64_t phi)
{
	struct sql q = {.n = 0};
	sqlite3_stmt *st = NULL;
	sql_add(&q, "SELECT value, count FROM stats_top WHERE field = ?");
	sql_in(&q, "event_type", j->f->event_type.n);
	sql_add(&q, " AND period >= ? AND period <= ?");
	if (q.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, q.b, (int)q.n, &st, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats top rollup");
	int k = 1;
	sqlite3_bind_int(st, k++, (int)j->field);
	for (size_t i = 0; i < j->f->event_type.n; i++)
		sqlite3_bind_text(st, k++, j->f->event_type.v[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, k++, plo);
	sqlite3_bind_int64(st, k++, phi);
	int rc = top_rows(db, st, j, false);
	sqlite3_finalize(st);
	return rc;
}

static int top_total(sqlite3 *db, struct top_job *j)
{
	struct sql q = {.n = 0};
	sqlite3_stmt *st = NULL;
	sql_add(&q, "SELECT value, count FROM stats_total WHERE field = ?");
	sql_in(&q, "event_type", j->f->event_type.n);
	if (q.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, q.b, (int)q.n, &st, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats top totals");
	int k = 1;
	sqlite3_bind_int(st, k++, (int)j->field);
	for (size_t i = 0; i < j->f->event_type.n; i++)
		sqlite3_bind_text(st, k++, j->f->event_type.v[i], -1, SQLITE_STATIC);
	int rc = top_rows(db, st, j, false);
	sqlite3_finalize(st);
	return rc;
}

static int top_segment(sqlite3 *db, const struct seg_view *g, int rollups, void *arg)
{
	struct top_job *j = arg;
	const struct stats_filter *f = j->f;
	int64_t lo = f->from > g->min_ts ? f->from : g->min_ts;
	int64_t hi = f->to < g->max_ts ? f->to : g->max_ts;
	int rc;
	/* stats_top is split by event type only. */
	if (!rollups || f->no_rollups || f->os_type.n || f->n_severity || f->app.n ||
	    f->source_host.n)
		return top_raw(db, j, lo, hi);
	/* A sealed segment wholly inside the range: its totals, a row per value. */
	if ((rollups & ROLL_TOTALS) && g->state != SEG_ACTIVE && f->from <= g->min_ts &&
	    g->max_ts <= f->to) {
		j->used = true;
		return top_total(db, j);
	}
	struct split sp = split_range(lo, hi, PERIOD_US);
	j->used |= sp.ulo <= sp.uhi;
	if (sp.ulo <= sp.uhi && (rc = top_rollup(db, j, sp.ulo, sp.uhi)) < 0)
		return rc;
	if (sp.elo >= lo && (rc = top_raw(db, j, lo, sp.elo)) < 0)
		return rc;
	if (sp.ehi <= hi && (rc = top_raw(db, j, sp.ehi, hi)) < 0)
		return rc;
	return 0;
}

int store_stats_top(struct store *s, const struct stats_filter *filter, enum stats_field field,
		    size_t n, json_t *out, bool *used_rollups)
{
	struct stats_filter f = *filter;
	struct acc acc;
	struct acc_key **keys = NULL;
	int rc;
	*used_rollups = false;
	clamp(&f);
	if (field == STATS_NONE || f.from > f.to)
		return -EINVAL;
	if ((rc = acc_init(&acc, 1, MAX_KEYS)) < 0)
		goto out;
	if (top_field(field)) {
		struct top_job j = {&f, field, &acc, false};
		rc = each_segment(s, &f, top_segment, &j);
		*used_rollups = j.used;
	} else {
		/* Low-cardinality fields: one bucket of the per-minute counts. */
		struct count_job j = {
		    &f,	  field, floor_div(f.from, MINUTE_US) * MINUTE_US, INT64_MAX / 2,
		    &acc, false};
		rc = each_segment(s, &f, count_segment, &j);
		*used_rollups = j.used;
	}
	if (rc < 0)
		goto out;
	if (!(keys = acc_sorted(&acc))) {
		rc = -ENOMEM;
		goto out;
	}
	json_t *values = json_array();
	int64_t total = 0;
	for (size_t i = 0; i < acc.nkeys; i++) {
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
	json_object_set_new(out, "distinct", json_integer((json_int_t)acc.nkeys));
	json_object_set_new(out, "total", json_integer(total));
out:
	free(keys);
	acc_release(&acc);
	return rc;
}

/* ---- rollups: the writer side ---- */

#define ROLL_SLOTS 16384

enum { R_MINUTE, R_TOP };

struct roll_entry {
	const char *s1, *s2; /* minute: os_type, event_type; top: event_type, value */
	size_t n1, n2;
	int64_t t;   /* minute or period */
	int kind, i; /* i: severity or field */
	uint64_t h;
	int64_t count;
};

struct stats_rollup {
	sqlite3 *db;
	sqlite3_stmt *up_minute, *up_top;
	struct arena arena;
	size_t used;
	struct roll_entry slot[ROLL_SLOTS];
	struct roll_entry *order[ROLL_SLOTS]; /* flush order: the tables' key order */
};

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

/* Primary-key order of the row each entry updates, so that a flush walks each B-tree
 * forward instead of jumping around it. */
static int roll_cmp(const void *x, const void *y)
{
	const struct roll_entry *a = *(const struct roll_entry *const *)x;
	const struct roll_entry *b = *(const struct roll_entry *const *)y;
	int c;
	if (a->kind != b->kind)
		return a->kind - b->kind;
	if (a->kind == R_MINUTE) {
		if (a->t != b->t)
			return a->t < b->t ? -1 : 1;
		if ((c = cmp_bytes(a->s1, a->n1, b->s1, b->n1)))
			return c;
		if ((c = cmp_bytes(a->s2, a->n2, b->s2, b->n2)))
			return c;
		return a->i - b->i;
	}
	if (a->i != b->i)
		return a->i - b->i;
	if ((c = cmp_bytes(a->s1, a->n1, b->s1, b->n1)))
		return c;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return cmp_bytes(a->s2, a->n2, b->s2, b->n2);
}

static const char backfill_sql[] =
    "INSERT INTO stats_minute SELECT ts / 60000000, coalesce(os_type, ''),"
    " coalesce(event_type, ''), coalesce(severity, 0), count(*) FROM events GROUP BY 1, 2, 3, 4;"
    "INSERT INTO stats_top SELECT 4, coalesce(event_type, ''), ts / 600000000,"
    " siem_stats_ip(ip) AS v, count(*) FROM events WHERE ip IS NOT NULL GROUP BY 2, 3, 4;"
    "INSERT INTO stats_top SELECT 5, coalesce(event_type, ''), ts / 600000000, user, count(*)"
    " FROM events WHERE user IS NOT NULL GROUP BY 2, 3, 4;"
    "INSERT INTO stats_top SELECT 6, coalesce(event_type, ''), ts / 600000000, host, count(*)"
    " FROM events WHERE host IS NOT NULL GROUP BY 2, 3, 4;"
    "INSERT INTO stats_top SELECT 7, coalesce(event_type, ''), ts / 600000000, app, count(*)"
    " FROM events WHERE app IS NOT NULL GROUP BY 2, 3, 4;"
    "INSERT INTO stats_top SELECT 8, et, p, v, count(*) FROM (SELECT coalesce(event_type, '')"
    " AS et, ts / 600000000 AS p, siem_stats_domain(event_type, data, message) AS v"
    " FROM events) WHERE v IS NOT NULL GROUP BY 1, 2, 3;";

_Static_assert(STATS_SOURCE_IP == 4 && STATS_USER == 5 && STATS_HOST == 6 && STATS_APP == 7 &&
		   STATS_DOMAIN == 8,
	       "backfill_sql numbers the fields");

int stats_rollup_init(struct stats_rollup **out, sqlite3 *writer)
{
	struct stats_rollup *r = calloc(1, sizeof(*r));
	bool exists = false;
	int rc;
	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->db = writer;
	arena_init(&r->arena, 0);
	int flags = 0;
	if ((rc = register_fns(writer)) < 0 || (rc = rollup_tables(writer, &flags)) < 0)
		goto fail;
	exists = flags & ROLL_KEPT;
	if (!exists) {
		/* A segment written before rollups existed: fill them from its events, all in
		 * one transaction, so that a reader sees complete rollups or none. */
		int64_t t0 = ts_now_us();
		if ((rc = store_exec(writer, "BEGIN IMMEDIATE")) < 0)
			goto fail;
		if ((rc = store_exec(writer, rollup_ddl)) < 0 ||
		    (rc = store_exec(writer, backfill_sql)) < 0 ||
		    (rc = store_exec(writer, "COMMIT")) < 0) {
			store_exec(writer, "ROLLBACK");
			goto fail;
		}
		int64_t ms = (ts_now_us() - t0) / 1000;
		if (ms > 100)
			log_info(SUB, "rollups of the active segment built in %lld ms",
				 (long long)ms);
	}
	if (sqlite3_prepare_v3(writer,
			       "INSERT INTO stats_minute VALUES(?,?,?,?,?) ON CONFLICT DO UPDATE"
			       " SET count = count + excluded.count",
			       -1, SQLITE_PREPARE_PERSISTENT, &r->up_minute, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(writer,
			       "INSERT INTO stats_top VALUES(?,?,?,?,?) ON CONFLICT DO UPDATE"
			       " SET count = count + excluded.count",
			       -1, SQLITE_PREPARE_PERSISTENT, &r->up_top, NULL) != SQLITE_OK) {
		rc = store_sql_err(writer, "stats rollup");
		goto fail;
	}
	*out = r;
	return 0;
fail:
	stats_rollup_free(r);
	return rc;
}

int stats_rollup_seal(sqlite3 *db)
{
	int flags = 0, rc = rollup_tables(db, &flags);
	if (rc < 0 || !(flags & ROLL_KEPT))
		return rc;
	return store_exec(db,
			  "CREATE TABLE IF NOT EXISTS stats_total(field INTEGER NOT NULL,"
			  " event_type TEXT NOT NULL, value TEXT NOT NULL, count INTEGER NOT NULL,"
			  " PRIMARY KEY(field, event_type, value)) WITHOUT ROWID;"
			  "DELETE FROM stats_total;"
			  "INSERT INTO stats_total SELECT field, event_type, value, sum(count)"
			  " FROM stats_top GROUP BY field, event_type, value;");
}

void stats_rollup_free(struct stats_rollup *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->up_minute);
	sqlite3_finalize(r->up_top);
	arena_release(&r->arena);
	free(r);
}

void stats_rollup_reset(struct stats_rollup *r)
{
	if (!r)
		return;
	if (r->used)
		memset(r->slot, 0, sizeof(r->slot));
	r->used = 0;
	arena_reset(&r->arena);
}

int stats_rollup_flush(struct stats_rollup *r)
{
	size_t n = 0;
	if (!r)
		return 0;
	for (size_t i = 0; i < ROLL_SLOTS && n < r->used; i++)
		if (r->slot[i].s1)
			r->order[n++] = &r->slot[i];
	qsort(r->order, n, sizeof(r->order[0]), roll_cmp);
	for (size_t i = 0; i < n; i++) {
		struct roll_entry *e = r->order[i];
		sqlite3_stmt *st = e->kind == R_MINUTE ? r->up_minute : r->up_top;
		if (e->kind == R_MINUTE) {
			sqlite3_bind_int64(st, 1, e->t);
			sqlite3_bind_text(st, 2, e->s1, (int)e->n1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, e->s2, (int)e->n2, SQLITE_STATIC);
			sqlite3_bind_int(st, 4, e->i);
		} else {
			sqlite3_bind_int(st, 1, e->i);
			sqlite3_bind_text(st, 2, e->s1, (int)e->n1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, e->t);
			sqlite3_bind_text(st, 4, e->s2, (int)e->n2, SQLITE_STATIC);
		}
		sqlite3_bind_int64(st, 5, e->count);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return store_sql_err(r->db, "stats rollup");
	}
	stats_rollup_reset(r);
	return 0;
}

static int bump(struct stats_rollup *r, int kind, int64_t t, int i, struct sv a, struct sv b)
{
	int rc;
	if (r->used >= ROLL_SLOTS * 3 / 4) {
		/* Full: write what we have (still inside the transaction) and go on. */
		if ((rc = stats_rollup_flush(r)) < 0)
			return rc;
	}
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind ^ ((uint64_t)i << 8);
	h = hash_bytes(&t, sizeof(t), h);
	h = hash_bytes(a.p, a.n, h);
	h = hash_bytes("\0", 1, h);
	h = hash_bytes(b.p, b.n, h);
	for (size_t s = h & (ROLL_SLOTS - 1);; s = (s + 1) & (ROLL_SLOTS - 1)) {
		struct roll_entry *e = &r->slot[s];
		if (!e->s1) {
			if (!(e->s1 = arena_strndup(&r->arena, a.p, a.n)) ||
			    !(e->s2 = arena_strndup(&r->arena, b.p, b.n)))
				return -ENOMEM;
			e->n1 = a.n;
			e->n2 = b.n;
			e->t = t;
			e->kind = kind;
			e->i = i;
			e->h = h;
			e->count = 1;
			r->used++;
			return 0;
		}
		if (e->h == h && e->kind == kind && e->t == t && e->i == i && e->n1 == a.n &&
		    e->n2 == b.n && memcmp(e->s1, a.p, a.n) == 0 && memcmp(e->s2, b.p, b.n) == 0) {
			e->count++;
			return 0;
		}
	}
}

static struct sv or_empty(struct sv v)
{
	return v.p ? v : (struct sv){"", 0};
}

int stats_rollup_add(struct stats_rollup *r, const struct event *ev)
{
	int rc;
	char buf[256];
	if (!r)
		return 0;
	struct sv type = or_empty(ev->event_type);
	int64_t minute = floor_div(ev->ts, MINUTE_US), period = floor_div(ev->ts, PERIOD_US);
	if ((rc = bump(r, R_MINUTE, minute, ev->severity, or_empty(ev->os_type), type)) < 0)
		return rc;
	if (ev->flags & EV_HAS_IP) {
		struct sv ip = {buf, ip_format(ev->ip, buf)};
		if ((rc = bump(r, R_TOP, period, STATS_SOURCE_IP, type, ip)) < 0)
			return rc;
	}
	if (ev->user.p && (rc = bump(r, R_TOP, period, STATS_USER, type, ev->user)) < 0)
		return rc;
	if (ev->source_host.p &&
	    (rc = bump(r, R_TOP, period, STATS_HOST, type, ev->source_host)) < 0)
		return rc;
	if (ev->app.p && (rc = bump(r, R_TOP, period, STATS_APP, type, ev->app)) < 0)
		return rc;
	size_t k = event_domain(ev->event_type.p, ev->event_type.n, ev->data.p, ev->data.n,
				ev->message.p, ev->message.n, buf);
	if (k && (rc = bump(r, R_TOP, period, STATS_DOMAIN, type, (struct sv){buf, k})) < 0)
		return rc;
	return 0;
}

/* ---- alerts ---- */

int store_stats_alerts(struct store *s, int64_t from, int64_t to, int64_t *n, bool *available)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	*n = 0;
	*available = false;
	pthread_mutex_lock(&s->adm_mu);
	/* The alerts table comes with a later schema than this file's first: ask, don't fail. */
	if (sqlite3_prepare_v2(
		s->adm, "SELECT count(*) FROM alerts WHERE created_at >= ? AND created_at <= ?", -1,
		&st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		*available = true;
	} else {
		rc = store_sql_err(s->adm, "count alerts");
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

/* ---- saved dashboards ---- */

static int adm_prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(s->adm, sql, -1, st, NULL) != SQLITE_OK)
		return store_sql_err(s->adm, "dashboards");
	return 0;
}

static json_t *ts_json(int64_t us)
{
	char buf[32];
	ts_format(us, buf);
	return json_string(buf);
}

int store_dashboard_list(struct store *s, const char *owner, json_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc, r;
	pthread_mutex_lock(&s->adm_mu);
	if ((rc = adm_prepare(s,
			      "SELECT id, name, created_at, updated_at FROM dashboards"
			      " WHERE owner = ? ORDER BY name, id",
			      &st)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(o, "name",
				    json_string((const char *)sqlite3_column_text(st, 1)));
		json_object_set_new(o, "created_at", ts_json(sqlite3_column_int64(st, 2)));
		json_object_set_new(o, "updated_at", ts_json(sqlite3_column_int64(st, 3)));
		json_array_append_new(out, o);
	}
	if (r != SQLITE_DONE)
		rc = store_sql_err(s->adm, "dashboards");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_dashboard_get(struct store *s, const char *owner, int64_t id, json_t **out)
{
	sqlite3_stmt *st = NULL;
	int rc, r;
	*out = NULL;
	pthread_mutex_lock(&s->adm_mu);
	if ((rc = adm_prepare(s,
			      "SELECT id, name, spec, created_at, updated_at FROM dashboards"
			      " WHERE owner = ? AND id = ?",
			      &st)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		const char *spec = (const char *)sqlite3_column_text(st, 2);
		json_t *w = spec ? json_loads(spec, 0, NULL) : NULL;
		json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(o, "name",
				    json_string((const char *)sqlite3_column_text(st, 1)));
		json_object_set_new(o, "widgets", w ? w : json_array());
		json_object_set_new(o, "created_at", ts_json(sqlite3_column_int64(st, 3)));
		json_object_set_new(o, "updated_at", ts_json(sqlite3_column_int64(st, 4)));
		*out = o;
	} else if (r == SQLITE_DONE) {
		rc = SIEM_ENOTFOUND;
	} else {
		rc = store_sql_err(s->adm, "dashboards");
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

/* One write; -EEXIST on a taken name, SIEM_ENOTFOUND when nothing matched. */
static int dash_write(struct store *s, const char *sql, const char *owner, int64_t id,
		      const char *name, const char *spec, int64_t *rowid)
{
	sqlite3_stmt *st = NULL;
	int rc, k = 1;
	pthread_mutex_lock(&s->adm_mu);
	if ((rc = adm_prepare(s, sql, &st)) < 0)
		goto out;
	if (name)
		sqlite3_bind_text(st, k++, name, -1, SQLITE_STATIC);
	if (spec)
		sqlite3_bind_text(st, k++, spec, -1, SQLITE_STATIC);
	if (name || spec)
		sqlite3_bind_int64(st, k++, ts_now_us());
	sqlite3_bind_text(st, k++, owner, -1, SQLITE_STATIC);
	if (id)
		sqlite3_bind_int64(st, k++, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = (sqlite3_extended_errcode(s->adm) & 0xff) == SQLITE_CONSTRAINT
			 ? -EEXIST
			 : store_sql_err(s->adm, "dashboards");
		goto out;
	}
	if (sqlite3_changes(s->adm) == 0)
		rc = SIEM_ENOTFOUND;
	else if (rowid)
		*rowid = sqlite3_last_insert_rowid(s->adm);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_dashboard_add(struct store *s, const char *owner, const char *name, const char *spec,
			int64_t *id)
{
	return dash_write(s,
			  "INSERT INTO dashboards(name, spec, created_at, updated_at, owner)"
			  " VALUES(?1, ?2, ?3, ?3, ?4)",
			  owner, 0, name, spec, id);
}

int store_dashboard_update(struct store *s, const char *owner, int64_t id, const char *name,
			   const char *spec)
{
	return dash_write(s,
			  "UPDATE dashboards SET name = ?1, spec = ?2, updated_at = ?3"
			  " WHERE owner = ?4 AND id = ?5",
			  owner, id, name, spec, NULL);
}

int store_dashboard_delete(struct store *s, const char *owner, int64_t id)
{
	return dash_write(s, "DELETE FROM dashboards WHERE owner = ?1 AND id = ?2", owner, id, NULL,
			  NULL, NULL);
}
