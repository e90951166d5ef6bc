/* store_stats.c — counts for the dashboard. Per-minute rollups (os_type, event_type,
 * severity) are written with each transaction's events; top-value counts (source IP, user,
 * host, app, DNS domain, per event type and 10-minute period) are kept in memory for the
 * active segment and written into a segment when it is sealed. Queries read them for whole
 * minutes (periods) and count the partial ones at the edges, and what no rollup holds, from
 * the events. */
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/metrics.h"
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
		bool dot = false;
		while (i < n && !isspace((unsigned char)m[i]))
			dot |= m[i++] == '.';
		size_t k = dot ? domain_norm(m + s, i - s, out) : 0;
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
		uint64_t h = hash_cont(1469598103934665603ULL, k, n);
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
	uint64_t h = hash_cont(1469598103934665603ULL, k, n);
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

/* Which whole units (minutes, periods) of [from, to] a segment whose events span
 * [smin, smax] can take from its rollups, and the edges to count from its events. A unit
 * is whole when the range holds every event the segment has in it: a range reaching past
 * a segment's newest or oldest event ("the last hour") needs no edge at that end. */
struct split {
	int64_t ulo, uhi;   /* none when ulo > uhi */
	int64_t edge[2][2]; /* [lo, hi], empty when lo > hi */
};

static struct split unit_split(int64_t from, int64_t to, int64_t smin, int64_t smax, int64_t unit)
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
	sqlite3_stmt *st = NULL;
	int rc = 0;
	*smin = g->min_ts;
	*smax = g->max_ts;
	if (g->state != SEG_ACTIVE)
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT min_ts, max_ts FROM segment", -1, &st, NULL) !=
	    SQLITE_OK)
		return store_sql_err(db, "stats bounds");
	if (sqlite3_step(st) == SQLITE_ROW) {
		*smin = sqlite3_column_int64(st, 0);
		*smax = sqlite3_column_int64(st, 1);
	} else {
		rc = store_sql_err(db, "stats bounds");
	}
	sqlite3_finalize(st);
	return rc;
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
	int64_t smin, smax;
	int rc;
	if (!rollups || f->no_rollups || f->app.n || f->source_host.n)
		return count_raw(db, j, lo, hi);
	if ((rc = snapshot_bounds(db, g, &smin, &smax)) < 0)
		return rc;
	struct split sp = unit_split(f->from, f->to, smin, smax, MINUTE_US);
	j->used |= sp.ulo <= sp.uhi;
	if (sp.ulo <= sp.uhi && (rc = count_rollup(db, j, sp.ulo, sp.uhi)) < 0)
		return rc;
	for (int e = 0; e < 2; e++)
		if (sp.edge[e][0] <= sp.edge[e][1] &&
		    (rc = count_raw(db, j, sp.edge[e][0], sp.edge[e][1])) < 0)
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
	struct store *s;
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

static int top_memory(struct store *s, sqlite3 *db, const struct seg_view *g, struct top_job *j,
		      bool *kept);

static int top_segment(sqlite3 *db, const struct seg_view *g, int rollups, void *arg)
{
	struct top_job *j = arg;
	const struct stats_filter *f = j->f;
	int64_t lo = f->from > g->min_ts ? f->from : g->min_ts;
	int64_t hi = f->to < g->max_ts ? f->to : g->max_ts;
	bool kept = false;
	int rc;
	/* The counts are split by event type only. */
	if (!rollups || f->no_rollups || f->os_type.n || f->n_severity || f->app.n ||
	    f->source_host.n)
		return top_raw(db, j, lo, hi);
	if ((rollups & ROLL_TOTALS) && g->state != SEG_ACTIVE) {
		/* Sealed and written out: its totals, a row per value, when the range holds it
		 * whole; else its periods and the edges. */
		j->used = true;
		if (f->from <= g->min_ts && g->max_ts <= f->to)
			return top_total(db, j);
		struct split sp = unit_split(f->from, f->to, g->min_ts, g->max_ts, PERIOD_US);
		if (sp.ulo <= sp.uhi && (rc = top_rollup(db, j, sp.ulo, sp.uhi)) < 0)
			return rc;
		for (int e = 0; e < 2; e++)
			if (sp.edge[e][0] <= sp.edge[e][1] &&
			    (rc = top_raw(db, j, sp.edge[e][0], sp.edge[e][1])) < 0)
				return rc;
		return 0;
	}
	/* The active segment, or a sealed one the indexer has not written out: memory. */
	if ((rc = top_memory(j->s, db, g, j, &kept)) < 0 || kept)
		return rc;
	return top_raw(db, j, lo, hi);
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
		struct top_job j = {&f, field, &acc, false, s};
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

/* Per-minute counts are few per transaction (minutes x OS x type x severity): they are
 * aggregated here and upserted at commit. Top-N counts have a key per distinct value,
 * nearly one per event in a busy transaction, so the active segment's are kept in memory
 * (struct segcounts), published when a transaction commits and written out once, when the
 * segment is sealed. */

#define MINUTE_SLOTS 1024 /* a transaction's minute keys before an early write */
#define TOP_FIELDS 5	  /* STATS_SOURCE_IP .. STATS_DOMAIN */
#define T_IPV4 TOP_FIELDS /* a sixth table: IPv4 source addresses, keyed by the address */
#define TOP_TABLES (TOP_FIELDS + 1)
#define ID_MAX 0xfffeu	  /* event types and periods of a segment: cells keep 16 bits */
#define CELL_FREE 0xffffu /* the type of a free cell */
#define BATCH_EVENTS 32	  /* events whose top-field values are looked up together */
#define BATCH_ITEMS (BATCH_EVENTS * TOP_FIELDS)
#define PIPE 6 /* values between two steps of a lookup (top_resolve) */
#define PENDING_LIMITS                                                                        \
	2			/* sealed segments' counts waiting for the indexer: this many \
				 * times a segment's memory bound, all together */
#define WAIT_PUBLISH_US 2000000 /* a reader waits this long for a commit to be published */

_Static_assert(STATS_SOURCE_IP == 4 && STATS_USER == 5 && STATS_HOST == 6 && STATS_APP == 7 &&
		   STATS_DOMAIN == 8,
	       "top fields are STATS_SOURCE_IP + 0..4, as stats_top numbers them");

static _Atomic size_t mem_limit = 16u << 20;

#define FALLBACK_HELP                                                                        \
	"Top-N fields of a segment counted from its events because their values outgrew the" \
	" memory bound."
static struct metric m_fallback[TOP_FIELDS] = {
    METRIC_COUNTER_INIT("minisiem_stats_top_fallbacks_total", "field=\"source_ip\"", FALLBACK_HELP),
    METRIC_COUNTER_INIT("minisiem_stats_top_fallbacks_total", "field=\"user\"", FALLBACK_HELP),
    METRIC_COUNTER_INIT("minisiem_stats_top_fallbacks_total", "field=\"source_host\"",
			FALLBACK_HELP),
    METRIC_COUNTER_INIT("minisiem_stats_top_fallbacks_total", "field=\"app\"", FALLBACK_HELP),
    METRIC_COUNTER_INIT("minisiem_stats_top_fallbacks_total", "field=\"domain\"", FALLBACK_HELP),
};
static struct metric m_dropped = METRIC_COUNTER_INIT(
    "minisiem_stats_top_dropped_total", NULL,
    "Sealed segments whose top-N counts left memory before the indexer wrote them.");
static struct metric m_bytes =
    METRIC_GAUGE_INIT("minisiem_stats_top_memory_bytes", NULL,
		      "Memory holding the top-N counts of the active and just sealed segments.");

void stats_rollup_set_limit(size_t bytes)
{
	mem_limit = bytes;
}

/* The first and last 8 (4, 1) bytes of p, n <= 16: together they cover it. */
static void load_ends(const unsigned char *p, size_t n, uint64_t *a, uint64_t *b)
{
	uint32_t x, y;
	if (n >= 8) {
		memcpy(a, p, 8);
		memcpy(b, p + n - 8, 8);
	} else if (n >= 4) {
		memcpy(&x, p, 4);
		memcpy(&y, p + n - 4, 4);
		*a = x, *b = y;
	} else {
		*a = n ? (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1] : 0;
		*b = 0;
	}
}

/* Copy n <= 16 bytes: a few loads and stores, no call. */
static void copy_short(char *to, const char *from, size_t n)
{
	uint64_t a, b;
	uint32_t x, y;
	if (n >= 8) {
		memcpy(&a, from, 8);
		memcpy(&b, from + n - 8, 8);
		memcpy(to, &a, 8);
		memcpy(to + n - 8, &b, 8);
	} else if (n >= 4) {
		memcpy(&x, from, 4);
		memcpy(&y, from + n - 4, 4);
		memcpy(to, &x, 4);
		memcpy(to + n - 4, &y, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			to[i] = from[i];
	}
}

/* a and b, n <= 16 bytes each, are equal: a few loads, no call. */
static bool eq_short(const void *a, const void *b, size_t n)
{
	uint64_t a1, a2, b1, b2;
	load_ends(a, n, &a1, &a2);
	load_ends(b, n, &b1, &b2);
	return a1 == b1 && a2 == b2;
}

static bool bytes_eq(const char *a, const char *b, size_t n)
{
	return n <= 16 ? eq_short(a, b, n) : memcmp(a, b, n) == 0;
}

/* A seeded 64-bit hash: values come from the network, and this runs for every value of
 * every event, most of them short. */
static uint64_t hash_mem(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL), w;
	if (n <= 16) {
		uint64_t x, y;
		load_ends(b, n, &x, &y);
		h = (h ^ x) * 0xff51afd7ed558ccdULL;
		h = (h ^ (h >> 32) ^ y) * 0xc4ceb9fe1a85ec53ULL;
		return h ^ (h >> 29);
	}
	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 31;
	}
	w = 0;
	if (n)
		memcpy(&w, b, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 29);
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

/* Interned byte strings: dense ids that never change, found by hash. Up to 16 bytes (most
 * names) are kept in the entry itself, which saves a cache miss a lookup. */
#define NAME_INLINE 16

struct name {
	uint64_t h;
	uint32_t n;
	union {
		const char *p;
		char in[NAME_INLINE];
	} s;
};

static const char *name_bytes(const struct name *e)
{
	return e->n <= NAME_INLINE ? e->s.in : e->s.p;
}

struct names {
	struct name *v;
	size_t n, cap;
	uint64_t *slot; /* the hash's top half << 32 | id + 1, 0 when free; a power of two, at
			 * most 3/4 full */
	size_t nslot;
	struct arena text; /* the longer ones */
};

static void names_release(struct names *d)
{
	free(d->v);
	free(d->slot);
	arena_release(&d->text);
	memset(d, 0, sizeof(*d));
}

static size_t names_bytes(const struct names *d)
{
	return d->cap * sizeof(*d->v) + d->nslot * sizeof(*d->slot) + d->text.used;
}

static bool names_find(const struct names *d, const void *p, size_t n, uint64_t h, uint32_t *id)
{
	if (!d->nslot)
		return false;
	for (size_t i = h & (d->nslot - 1); d->slot[i]; i = (i + 1) & (d->nslot - 1)) {
		if (d->slot[i] >> 32 != h >> 32)
			continue;
		uint32_t k = (uint32_t)d->slot[i] - 1;
		const struct name *e = &d->v[k];
		if (e->h != h || e->n != n)
			continue;
		if (n <= NAME_INLINE ? eq_short(e->s.in, p, n) : memcmp(e->s.p, p, n) == 0) {
			*id = k;
			return true;
		}
	}
	return false;
}

/* Prefetch what names_find(h) will read. */
static void names_prefetch(const struct names *d, uint64_t h)
{
	if (!d->nslot)
		return;
	for (size_t i = h & (d->nslot - 1); d->slot[i]; i = (i + 1) & (d->nslot - 1))
		if (d->slot[i] >> 32 == h >> 32) {
			__builtin_prefetch(&d->v[(uint32_t)d->slot[i] - 1]);
			return;
		}
}

/* The id of p, added when new: -E2BIG when that would make more than max. */
static int names_put(struct names *d, const void *p, size_t n, uint64_t h, size_t max, uint32_t *id)
{
	if (names_find(d, p, n, h, id))
		return 0;
	if (d->n >= max || n > UINT32_MAX)
		return -E2BIG;
	if ((d->n + 1) * 4 > d->nslot * 3) {
		size_t nslot = d->nslot ? d->nslot * 2 : 64;
		uint64_t *sl = calloc(nslot, sizeof(*sl));
		if (!sl)
			return -ENOMEM;
		for (size_t k = 0; k < d->n; k++) {
			size_t i = d->v[k].h & (nslot - 1);
			while (sl[i])
				i = (i + 1) & (nslot - 1);
			sl[i] = (d->v[k].h >> 32) << 32 | (k + 1);
		}
		free(d->slot);
		d->slot = sl;
		d->nslot = nslot;
	}
	if (d->n == d->cap) {
		/* Aligned to cache lines, so that an entry is one line, not two. */
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct name *v = aligned_alloc(64, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		if (d->n)
			memcpy(v, d->v, d->n * sizeof(*v));
		free(d->v);
		d->v = v;
		d->cap = cap;
	}
	struct name *e = &d->v[d->n];
	memset(e, 0, sizeof(*e));
	if (n > NAME_INLINE) {
		char *copy = arena_alloc(&d->text, n);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, p, n);
		e->s.p = copy;
	} else if (n) {
		memcpy(e->s.in, p, n);
	}
	e->h = h;
	e->n = (uint32_t)n;
	size_t i = h & (d->nslot - 1);
	while (d->slot[i])
		i = (i + 1) & (d->nslot - 1);
	d->slot[i] = (h >> 32) << 32 | (d->n + 1);
	*id = (uint32_t)d->n++;
	return 0;
}

/* The count of one value for one event type in one 10-minute period of a segment. */
struct cell {
	uint32_t value; /* the name's id; the address itself in the IPv4 table */
	uint32_t count;
	uint16_t type; /* CELL_FREE for a free cell */
};

/* A cell of a packed period: its type is where it lies. */
struct pcell {
	uint32_t value, count;
};

/* The cells of one period. While events arrive for it, an open-addressing table keyed by
 * value and type: a table per period keeps the cells events count (the current period's)
 * together, a fraction of the segment's that stays in the caches. Once the segment's events
 * have moved on two periods, packed: sorted by type and value, 8 bytes a cell, found by
 * binary search (a late event), and hashed again for good if one brings a new cell. */
struct ptab {
	struct cell *cell; /* hashed: a power of two, at most 3/4 full */
	uint32_t nslot, ncell;
	struct pcell *pk; /* packed: ncell of them, by type then value */
	uint32_t *tstart; /* packed: type t's cells are pk[tstart[t]] .. pk[tstart[t + 1] - 1] */
	uint32_t ntype;	  /* packed: types 0 .. ntype - 1 have a range */
	bool rehashed;	  /* packed once and hashed again: stays hashed */
};

/* The counts of a field: one table set per top field, and one for IPv4 source addresses,
 * which need no names (the most frequent of the many-valued fields: a lookup fewer). */
struct topt {
	struct names values; /* IPv6 source addresses as their 16 bytes, the others as text */
	struct ptab *per;    /* by period id */
	size_t nper, ncell;
	uint64_t *log; /* what the open transaction counted, an entry per event and value
			* (period id << 32 | slot): its counts are in the cells already, readers
			* take them out and a rollback undoes them. Its size follows the
			* transaction's. */
	size_t nlog, caplog;
};

/* The top-N counts of one segment: the active one, or a sealed one the indexer has not
 * written out yet. Guarded by stats_rollup.mu (the writer, the only thread that changes
 * them, reads them without it); a sealed segment's never change again. */
struct segcounts {
	int64_t seg_id;
	int64_t rows, min_ts, max_ts; /* as of the last published commit */
	struct names types, periods;  /* event types; periods as their int64 bytes */
	int64_t last_period;	      /* the writer's */
	uint32_t last_pid;
	int64_t newest_period; /* of the segment's events */
	int64_t packed_below;  /* periods before it are packed (unless hashed again) */
	struct topt t[TOP_TABLES];
	bool over[TOP_FIELDS]; /* outgrew the memory bound: counted from the events */
	int pins;	       /* the indexer is reading it without the lock */
	struct segcounts *next;
};

/* A top-field value of an appended event, waiting for its batch's lookup. */
struct item {
	uint64_t h;
	const char *p; /* in[] or the batch's arena */
	uint32_t n;
	uint32_t value; /* the address (IPv4), else the name's id once looked up */
	uint16_t type, period;
	uint8_t table; /* of a name: the field */
	size_t ch;     /* hash of the cell */
	char in[NAME_INLINE];
};

struct mentry {
	uint64_t h;
	int64_t minute, count;
	const char *os, *type;
	uint32_t nos, ntype;
	int sev;
};

struct stats_rollup {
	pthread_mutex_t mu;
	pthread_cond_t published;
	uint64_t seed;
	sqlite3 *db; /* the active segment's writer connection */
	sqlite3_stmt *up_minute;
	struct segcounts *cur;	  /* the active segment's counts */
	struct segcounts *sealed; /* newest first */
	/* the open transaction (writer thread only) */
	int64_t txn_rows, txn_min, txn_max;
	size_t mused;
	struct arena marena;
	struct mentry mslot[MINUTE_SLOTS];
	struct mentry *morder[MINUTE_SLOTS];
	/* top-field values waiting for a batch lookup: names from the start, IPv4 addresses
	 * from the end; and their events */
	size_t nitem, nitem4, nbatch;
	struct arena barena; /* the longer of those values */
	struct item item[BATCH_ITEMS];
};

static int table_field(int k)
{
	return k == T_IPV4 ? 0 : k;
}

static void topt_release(struct topt *t)
{
	names_release(&t->values);
	for (size_t p = 0; p < t->nper; p++) {
		free(t->per[p].cell);
		free(t->per[p].pk);
		free(t->per[p].tstart);
	}
	free(t->per);
	free(t->log);
	memset(t, 0, sizeof(*t));
}

static size_t topt_bytes(const struct topt *t)
{
	size_t n = names_bytes(&t->values) + t->nper * sizeof(*t->per);
	for (size_t p = 0; p < t->nper; p++)
		n += t->per[p].nslot * sizeof(struct cell) +
		     (t->per[p].pk ? t->per[p].ncell * sizeof(struct pcell) +
					 (t->per[p].ntype + 1) * sizeof(uint32_t)
				   : 0);
	return n;
}

static size_t field_bytes(const struct segcounts *c, int i)
{
	return topt_bytes(&c->t[i]) + (i == 0 ? topt_bytes(&c->t[T_IPV4]) : 0);
}

static size_t counts_bytes(const struct segcounts *c)
{
	size_t n = sizeof(*c) + names_bytes(&c->types) + names_bytes(&c->periods);
	for (int k = 0; k < TOP_TABLES; k++)
		n += topt_bytes(&c->t[k]);
	return n;
}

static void counts_free(struct segcounts *c)
{
	if (!c)
		return;
	names_release(&c->types);
	names_release(&c->periods);
	for (int k = 0; k < TOP_TABLES; k++)
		topt_release(&c->t[k]);
	free(c);
}

/* Give up keeping field i of c in memory (under the lock): queries count it from the
 * events. */
static void field_over(struct segcounts *c, int i, const char *why)
{
	if (c->over[i])
		return;
	topt_release(&c->t[i]);
	if (i == 0)
		topt_release(&c->t[T_IPV4]);
	c->over[i] = true;
	metric_add(&m_fallback[i], 1);
	log_warn(SUB, "segment %lld: %s counted from the events from now on (%s)",
		 (long long)c->seg_id, stats_field_name((enum stats_field)(STATS_SOURCE_IP + i)),
		 why);
}

static void count_failed(struct segcounts *c, int i, int rc)
{
	field_over(c, i,
		   rc == -E2BIG	      ? "too many event types, periods or values in one segment"
		   : rc == -EOVERFLOW ? "a count outgrew 32 bits"
				      : "out of memory");
}

/* Past the memory bound: drop the biggest field. */
static void enforce_limit(struct segcounts *c)
{
	while (counts_bytes(c) > mem_limit) {
		int big = -1;
		size_t most = 0;
		for (int i = 0; i < TOP_FIELDS; i++) {
			size_t b = field_bytes(c, i);
			if (!c->over[i] && b >= most) {
				most = b;
				big = i;
			}
		}
		if (big < 0)
			return;
		field_over(c, big, "too many distinct values for the memory bound");
	}
}

static size_t cell_hash(uint32_t value, uint32_t type)
{
	uint64_t k = (uint64_t)value << 32 | type;
	k = (k ^ (k >> 33)) * 0xff51afd7ed558ccdULL;
	k = (k ^ (k >> 33)) * 0xc4ceb9fe1a85ec53ULL;
	return (size_t)(k ^ (k >> 33));
}

/* Period pid's table of t when it is hashed, else NULL. */
static struct ptab *ptab_of(const struct topt *t, uint32_t pid)
{
	return pid < t->nper && t->per[pid].nslot ? &t->per[pid] : NULL;
}

static int pcell_cmp(const void *x, const void *y)
{
	const struct cell *a = x, *b = y;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return (a->value > b->value) - (a->value < b->value);
}

/* Pack period pid's hashed table of t (under the lock, with no transaction logged): cells
 * a rolled-back transaction made and never counted are left out. ntype: the segment's
 * event types. */
static int ptab_pack(struct topt *t, uint32_t pid, uint32_t ntype)
{
	struct ptab *pt = &t->per[pid];
	size_t n = 0;
	for (size_t k = 0; k < pt->nslot; k++)
		n += pt->cell[k].type != CELL_FREE && pt->cell[k].count;
	struct pcell *pk = malloc((n ? n : 1) * sizeof(*pk));
	uint32_t *ts = malloc(((size_t)ntype + 1) * sizeof(*ts));
	if (!pk || !ts) {
		free(pk);
		free(ts);
		return -ENOMEM;
	}
	n = 0;
	for (size_t k = 0; k < pt->nslot; k++)
		if (pt->cell[k].type != CELL_FREE && pt->cell[k].count)
			pt->cell[n++] = pt->cell[k];
	qsort(pt->cell, n, sizeof(*pt->cell), pcell_cmp);
	for (size_t k = 0, ty = 0; ty <= ntype; ty++) {
		while (k < n && pt->cell[k].type < ty)
			k++;
		ts[ty] = (uint32_t)k;
	}
	for (size_t k = 0; k < n; k++)
		pk[k] = (struct pcell){pt->cell[k].value, pt->cell[k].count};
	t->ncell -= pt->ncell - n;
	free(pt->cell);
	*pt = (struct ptab){NULL, 0, (uint32_t)n, pk, ts, ntype, false};
	return 0;
}

/* The index of (value, type) in packed pt, -1 when it has none. */
static int64_t ptab_search(const struct ptab *pt, uint32_t value, uint32_t type)
{
	if (type >= pt->ntype)
		return -1;
	uint32_t lo = pt->tstart[type], hi = pt->tstart[type + 1];
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (pt->pk[mid].value < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pt->tstart[type + 1] && pt->pk[lo].value == value ? (int64_t)lo : -1;
}

/* Visit the counted cells of period table pt whose type ok_type admits (NULL: all). */
typedef void (*cell_fn)(void *arg, uint32_t type, uint32_t value, uint32_t count);

static void ptab_each(const struct ptab *pt, const uint8_t *ok_type, cell_fn fn, void *arg)
{
	if (pt->pk) {
		for (uint32_t ty = 0; ty < pt->ntype; ty++)
			for (uint32_t k = pt->tstart[ty];
			     (!ok_type || ok_type[ty]) && k < pt->tstart[ty + 1]; k++)
				if (pt->pk[k].count)
					fn(arg, ty, pt->pk[k].value, pt->pk[k].count);
		return;
	}
	for (uint32_t k = 0; k < pt->nslot; k++) {
		const struct cell *x = &pt->cell[k];
		if (x->type != CELL_FREE && x->count && (!ok_type || ok_type[x->type]))
			fn(arg, x->type, x->value, x->count);
	}
}

/* The count a log entry of t names. */
static uint32_t *log_count(const struct topt *t, uint64_t e)
{
	struct ptab *pt = &t->per[e >> 32];
	return pt->pk ? &pt->pk[(uint32_t)e].count : &pt->cell[(uint32_t)e].count;
}

/* The type and value of the cell a log entry of t names. */
static void log_cell(const struct topt *t, uint64_t e, uint32_t *type, uint32_t *value)
{
	const struct ptab *pt = &t->per[e >> 32];
	uint32_t k = (uint32_t)e;
	if (!pt->pk) {
		*type = pt->cell[k].type;
		*value = pt->cell[k].value;
		return;
	}
	uint32_t lo = 0, hi = pt->ntype; /* the last type whose range starts at or before k */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (pt->tstart[mid] <= k)
			lo = mid;
		else
			hi = mid;
	}
	*type = lo;
	*value = pt->pk[k].value;
}

/* Twice the slots of period pid's table (made with 16 when new); the open transaction's log
 * follows its cells. */
static int cells_grow(struct topt *t, uint32_t pid)
{
	if (pid >= t->nper) {
		size_t nper = pid + 16;
		struct ptab *per = realloc(t->per, nper * sizeof(*per));
		if (!per)
			return -ENOMEM;
		memset(per + t->nper, 0, (nper - t->nper) * sizeof(*per));
		t->per = per;
		t->nper = nper;
	}
	struct ptab *pt = &t->per[pid];
	size_t had = pt->pk ? pt->ncell : pt->nslot; /* the log's indices: cells or slots */
	size_t nslot = pt->nslot ? (size_t)pt->nslot * 2 : 16;
	while (nslot * 3 < ((size_t)pt->ncell + 1) * 4)
		nslot *= 2;
	if (nslot > (size_t)1 << 31)
		return -E2BIG;
	struct cell *n = malloc(nslot * sizeof(*n));
	uint32_t *moved = t->nlog && had ? malloc(had * sizeof(*moved)) : NULL;
	if (!n || (t->nlog && had && !moved)) {
		free(n);
		free(moved);
		return -ENOMEM;
	}
	memset(n, 0xff, nslot * sizeof(*n)); /* every type CELL_FREE */
	for (size_t k = 0, ty = 0; k < had; k++) {
		struct cell x;
		if (pt->pk) {
			while (pt->tstart[ty + 1] <= k)
				ty++;
			x = (struct cell){pt->pk[k].value, pt->pk[k].count, (uint16_t)ty};
		} else if ((x = pt->cell[k]).type == CELL_FREE) {
			continue;
		}
		size_t i = cell_hash(x.value, x.type) & (nslot - 1);
		while (n[i].type != CELL_FREE)
			i = (i + 1) & (nslot - 1);
		n[i] = x;
		if (moved)
			moved[k] = (uint32_t)i;
	}
	for (size_t k = 0; moved && k < t->nlog; k++)
		if (t->log[k] >> 32 == pid)
			t->log[k] = (uint64_t)pid << 32 | moved[(uint32_t)t->log[k]];
	free(moved);
	free(pt->cell);
	if (pt->pk) {
		free(pt->pk);
		free(pt->tstart);
		pt->pk = NULL;
		pt->tstart = NULL;
		pt->ntype = 0;
		pt->rehashed = true;
	}
	pt->cell = n;
	pt->nslot = (uint32_t)nslot;
	return 0;
}

/* The slot of (value, type) in pt, hash ch: true when it is there, else the free slot it
 * would take. */
static bool cell_find(const struct ptab *pt, uint32_t value, uint32_t type, size_t ch, size_t *slot)
{
	for (size_t i = ch & (pt->nslot - 1);; i = (i + 1) & (pt->nslot - 1)) {
		const struct cell *x = &pt->cell[i];
		*slot = i;
		if (x->type == CELL_FREE)
			return false;
		if (x->value == value && x->type == type)
			return true;
	}
}

/* Count (value, type) of period pid of t for the open transaction (under the lock). *grew
 * tells that memory was allocated. */
static int cell_count(struct topt *t, uint32_t value, uint32_t type, uint32_t pid, size_t ch,
		      bool *grew)
{
	struct ptab *pt = ptab_of(t, pid);
	size_t i = 0;
	int64_t at;
	int rc;
	if (pid < t->nper && t->per[pid].pk && (at = ptab_search(&t->per[pid], value, type)) >= 0) {
		i = (size_t)at; /* a late event for a packed period */
	} else if (!pt || !cell_find(pt, value, type, ch, &i)) {
		if (!pt || (pt->ncell + 1) * 4 > pt->nslot * 3) {
			if ((rc = cells_grow(t, pid)) < 0)
				return rc;
			*grew = true;
			pt = &t->per[pid];
			cell_find(pt, value, type, ch, &i);
		}
		pt->cell[i] = (struct cell){value, 0, (uint16_t)type};
		pt->ncell++;
		t->ncell++;
	}
	if (t->nlog == t->caplog) {
		size_t cap = t->caplog ? t->caplog * 2 : 1024;
		uint64_t *l = realloc(t->log, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		t->log = l;
		t->caplog = cap;
	}
	t->log[t->nlog] = (uint64_t)pid << 32 | i;
	uint32_t *n = log_count(t, t->log[t->nlog]);
	if (*n == UINT32_MAX)
		return -EOVERFLOW;
	++*n;
	t->nlog++;
	return 0;
}

/* Count the batch's values into c. A value takes up to four steps, each reading what the
 * one before prefetched: its name's slot, its name, its cell. The steps run PIPE values
 * apart, so that the cache misses of different values overlap instead of following one
 * another: they are most of the cost once a segment's values outgrow the caches. IPv4
 * addresses, which need no name, go first, in two passes. The lock is taken once for the
 * batch (tens of microseconds). */
static void top_resolve(struct stats_rollup *r, struct segcounts *c)
{
	struct item *it = r->item;
	size_t n = r->nitem, first4 = BATCH_ITEMS - r->nitem4;
	bool grew = false;
	int e;
	pthread_mutex_lock(&r->mu);
	for (size_t k = first4; k < BATCH_ITEMS && !c->over[0]; k++) {
		const struct ptab *pt = ptab_of(&c->t[T_IPV4], it[k].period);
		it[k].ch = cell_hash(it[k].value, it[k].type);
		if (pt)
			__builtin_prefetch(&pt->cell[it[k].ch & (pt->nslot - 1)]);
	}
	for (size_t k = first4; k < BATCH_ITEMS && !c->over[0]; k++)
		if ((e = cell_count(&c->t[T_IPV4], it[k].value, it[k].type, it[k].period, it[k].ch,
				    &grew)) < 0)
			count_failed(c, 0, e);
	for (size_t s = 0; s < n + 3 * PIPE; s++) {
		struct item *x;
		struct topt *t;
		if (s < n && !c->over[(x = &it[s])->table] && (t = &c->t[x->table])->values.nslot)
			__builtin_prefetch(&t->values.slot[x->h & (t->values.nslot - 1)]);
		if (s >= PIPE && s - PIPE < n && !c->over[(x = &it[s - PIPE])->table])
			names_prefetch(&c->t[x->table].values, x->h);
		if (s >= 2 * PIPE && s - 2 * PIPE < n && !c->over[(x = &it[s - 2 * PIPE])->table]) {
			size_t had = (t = &c->t[x->table])->values.n;
			if ((e = names_put(&t->values, x->p, x->n, x->h, UINT32_MAX - 1,
					   &x->value)) < 0) {
				count_failed(c, x->table, e);
			} else {
				const struct ptab *pt = ptab_of(t, x->period);
				grew |= t->values.n != had;
				x->ch = cell_hash(x->value, x->type);
				if (pt)
					__builtin_prefetch(&pt->cell[x->ch & (pt->nslot - 1)]);
			}
		}
		if (s >= 3 * PIPE && !c->over[(x = &it[s - 3 * PIPE])->table] &&
		    (e = cell_count(&c->t[x->table], x->value, x->type, x->period, x->ch, &grew)) <
			0)
			count_failed(c, x->table, e);
	}
	if (grew)
		enforce_limit(c);
	pthread_mutex_unlock(&r->mu);
	r->nitem = r->nitem4 = r->nbatch = 0;
	arena_reset(&r->barena);
}

static struct sv or_empty(struct sv v)
{
	return v.p ? v : (struct sv){"", 0};
}

/* The writer is the only thread that changes the counts: it looks them up without the
 * lock, and takes it to add to them. */
static int locked_put(struct stats_rollup *r, struct names *d, const void *p, size_t n, uint64_t h,
		      uint32_t *id)
{
	pthread_mutex_lock(&r->mu);
	int rc = names_put(d, p, n, h, ID_MAX, id);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Queue ev's top-field values for c's next batch lookup (type: its event type, th: that
 * type's hash). */
static void top_count(struct stats_rollup *r, struct segcounts *c, const struct event *ev,
		      struct sv type, uint64_t th)
{
	struct sv v[TOP_FIELDS] = {
	    {(ev->flags & EV_HAS_IP) ? (const char *)ev->ip : NULL, 16},
	    ev->user,
	    ev->source_host,
	    ev->app,
	    {NULL, 0},
	};
	uint32_t tid = 0, pid = 0;
	char dom[256];
	int rc = 0;
	size_t dn = event_domain(ev->event_type.p, ev->event_type.n, ev->data.p, ev->data.n,
				 ev->message.p, ev->message.n, dom);
	if (dn)
		v[4] = (struct sv){dom, dn};
	int64_t period = floor_div(ev->ts, PERIOD_US);
	if (!names_find(&c->types, type.p, type.n, th, &tid))
		rc = locked_put(r, &c->types, type.p, type.n, th, &tid);
	if (rc == 0 && (period != c->last_period || !c->periods.n)) {
		uint64_t ph = hash_mem(&period, sizeof(period), r->seed);
		if (!names_find(&c->periods, &period, sizeof(period), ph, &pid))
			rc = locked_put(r, &c->periods, &period, sizeof(period), ph, &pid);
		if (rc == 0) {
			c->last_period = period;
			c->last_pid = pid;
			if (period > c->newest_period)
				c->newest_period = period;
		}
	}
	for (int i = 0; i < TOP_FIELDS; i++) {
		struct item *x = &r->item[r->nitem];
		if (!v[i].p || c->over[i])
			continue;
		if (rc < 0) {
			pthread_mutex_lock(&r->mu);
			count_failed(c, i, rc);
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		if (i == 0 && memcmp(ev->ip, v4_prefix, sizeof(v4_prefix)) == 0) {
			x = &r->item[BATCH_ITEMS - ++r->nitem4];
			x->value = (uint32_t)ev->ip[12] << 24 | (uint32_t)ev->ip[13] << 16 |
				   (uint32_t)ev->ip[14] << 8 | ev->ip[15];
			x->type = (uint16_t)tid;
			x->period = (uint16_t)c->last_pid;
			continue;
		}
		x->type = (uint16_t)tid;
		x->period = (uint16_t)c->last_pid;
		x->table = (uint8_t)i;
		if (v[i].n <= NAME_INLINE) {
			copy_short(x->in, v[i].p, v[i].n);
			x->p = x->in;
		} else if (!(x->p = arena_strndup(&r->barena, v[i].p, v[i].n))) {
			pthread_mutex_lock(&r->mu);
			count_failed(c, i, -ENOMEM);
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		x->n = (uint32_t)v[i].n;
		x->h = hash_mem(v[i].p, v[i].n, r->seed + (uint64_t)i + 1);
		r->nitem++;
	}
	if (++r->nbatch == BATCH_EVENTS)
		top_resolve(r, c);
}

/* The transaction committed (under the lock): what it counted is no longer taken out. */
static void publish(struct segcounts *c)
{
	for (int k = 0; k < TOP_TABLES; k++)
		c->t[k].nlog = 0;
	if (c->newest_period - 2 <= c->packed_below)
		return;
	/* The events have moved on: pack the periods they left. */
	c->packed_below = c->newest_period - 2;
	for (int k = 0; k < TOP_TABLES; k++) {
		struct topt *t = &c->t[k];
		for (uint32_t p = 0; p < t->nper && p < c->periods.n; p++) {
			int64_t v;
			memcpy(&v, name_bytes(&c->periods.v[p]), sizeof(v));
			if (t->per[p].nslot && !t->per[p].rehashed && v < c->packed_below &&
			    ptab_pack(t, p, (uint32_t)c->types.n) < 0)
				break; /* out of memory: stays hashed */
		}
	}
}

static void update_bytes_metric(struct stats_rollup *r)
{
	size_t n = 0;
	if (r->cur)
		n += counts_bytes(r->cur);
	for (struct segcounts *c = r->sealed; c; c = c->next)
		n += counts_bytes(c);
	metric_set(&m_bytes, (int64_t)n);
}

/* The active segment's counts from its events (after a restart). */
static int counts_load(struct stats_rollup *r, struct segcounts *c, sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int r2, n = 0;
	if (sqlite3_prepare_v2(
		db, "SELECT ts, event_type, ip, user, host, app, data, message FROM events", -1,
		&st, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats counts");
	while ((r2 = sqlite3_step(st)) == SQLITE_ROW) {
		struct event ev;
		memset(&ev, 0, sizeof(ev));
		ev.ts = sqlite3_column_int64(st, 0);
		struct sv *col[] = {&ev.event_type, NULL, &ev.user, &ev.source_host, &ev.app};
		for (int i = 0; i < 5; i++) {
			if (!col[i])
				continue;
			col[i]->p = (const char *)sqlite3_column_text(st, i + 1);
			col[i]->n = (size_t)sqlite3_column_bytes(st, i + 1);
		}
		if (sqlite3_column_bytes(st, 2) == 16) {
			memcpy(ev.ip, sqlite3_column_blob(st, 2), 16);
			ev.flags |= EV_HAS_IP;
		}
		if (dns_type(ev.event_type.p, ev.event_type.n)) {
			ev.data.p = (const char *)sqlite3_column_text(st, 6);
			ev.data.n = (size_t)sqlite3_column_bytes(st, 6);
			ev.message.p = (const char *)sqlite3_column_text(st, 7);
			ev.message.n = (size_t)sqlite3_column_bytes(st, 7);
		}
		struct sv type = or_empty(ev.event_type);
		top_count(r, c, &ev, type, hash_mem(type.p, type.n, r->seed));
		if (++n % 4096 == 0) {
			top_resolve(r, c);
			publish(c); /* not shared yet: no lock needed */
		}
	}
	top_resolve(r, c);
	publish(c);
	sqlite3_finalize(st);
	return r2 == SQLITE_DONE ? 0 : store_sql_err(db, "stats counts");
}

/* ---- per-minute counts of the open transaction ---- */

static int minute_cmp(const void *x, const void *y)
{
	const struct mentry *a = *(const struct mentry *const *)x;
	const struct mentry *b = *(const struct mentry *const *)y;
	int c;
	if (a->minute != b->minute)
		return a->minute < b->minute ? -1 : 1;
	if ((c = cmp_bytes(a->os, a->nos, b->os, b->nos)))
		return c;
	if ((c = cmp_bytes(a->type, a->ntype, b->type, b->ntype)))
		return c;
	return (a->sev > b->sev) - (a->sev < b->sev);
}

static void minutes_reset(struct stats_rollup *r)
{
	if (r->mused)
		memset(r->mslot, 0, sizeof(r->mslot));
	r->mused = 0;
	arena_reset(&r->marena);
}

/* Upsert the aggregated minutes in the tables' key order, so that the B-tree is walked
 * forward. */
static int minutes_write(struct stats_rollup *r)
{
	size_t n = 0;
	for (size_t i = 0; i < MINUTE_SLOTS && n < r->mused; i++)
		if (r->mslot[i].os)
			r->morder[n++] = &r->mslot[i];
	qsort(r->morder, n, sizeof(r->morder[0]), minute_cmp);
	for (size_t i = 0; i < n; i++) {
		struct mentry *e = r->morder[i];
		sqlite3_stmt *st = r->up_minute;
		sqlite3_bind_int64(st, 1, e->minute);
		sqlite3_bind_text(st, 2, e->os, (int)e->nos, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e->type, (int)e->ntype, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, e->sev);
		sqlite3_bind_int64(st, 5, e->count);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return store_sql_err(r->db, "stats rollup");
	}
	minutes_reset(r);
	return 0;
}

static int minute_bump(struct stats_rollup *r, int64_t minute, int sev, struct sv os,
		       struct sv type, uint64_t th)
{
	int rc;
	uint64_t h = hash_mem(
	    os.p, os.n, th ^ ((uint64_t)minute * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)(unsigned)sev);
	for (size_t s = h & (MINUTE_SLOTS - 1);; s = (s + 1) & (MINUTE_SLOTS - 1)) {
		struct mentry *e = &r->mslot[s];
		if (!e->os)
			break;
		if (e->h == h && e->minute == minute && e->sev == sev && e->nos == os.n &&
		    e->ntype == type.n && bytes_eq(e->os, os.p, os.n) &&
		    bytes_eq(e->type, type.p, type.n)) {
			e->count++;
			return 0;
		}
	}
	if (r->mused >= MINUTE_SLOTS * 3 / 4 && (rc = minutes_write(r)) < 0)
		return rc; /* full: write what we have, still inside the transaction */
	size_t s = h & (MINUTE_SLOTS - 1);
	while (r->mslot[s].os)
		s = (s + 1) & (MINUTE_SLOTS - 1);
	struct mentry *e = &r->mslot[s];
	if (!(e->os = arena_strndup(&r->marena, os.p, os.n)) ||
	    !(e->type = arena_strndup(&r->marena, type.p, type.n)))
		return -ENOMEM;
	e->h = h;
	e->nos = (uint32_t)os.n;
	e->ntype = (uint32_t)type.n;
	e->minute = minute;
	e->sev = sev;
	e->count = 1;
	r->mused++;
	return 0;
}

/* ---- the hooks ---- */

static const char backfill_minute_sql[] =
    "INSERT INTO stats_minute SELECT ts / 60000000, coalesce(os_type, ''),"
    " coalesce(event_type, ''), coalesce(severity, 0), count(*) FROM events GROUP BY 1, 2, 3, 4;";

/* A top field's rows of stats_top counted from the events (a field memory did not keep). */
static const char *const backfill_top_sql[TOP_FIELDS] = {
    "INSERT INTO stats_top SELECT 4, coalesce(event_type, ''), ts / 600000000,"
    " siem_stats_ip(ip), count(*) FROM events WHERE length(ip) = 16 GROUP BY 2, 3, 4",
    "INSERT INTO stats_top SELECT 5, coalesce(event_type, ''), ts / 600000000, user, count(*)"
    " FROM events WHERE user IS NOT NULL GROUP BY 2, 3, 4",
    "INSERT INTO stats_top SELECT 6, coalesce(event_type, ''), ts / 600000000, host, count(*)"
    " FROM events WHERE host IS NOT NULL GROUP BY 2, 3, 4",
    "INSERT INTO stats_top SELECT 7, coalesce(event_type, ''), ts / 600000000, app, count(*)"
    " FROM events WHERE app IS NOT NULL GROUP BY 2, 3, 4",
    "INSERT INTO stats_top SELECT 8, et, p, v, count(*) FROM (SELECT coalesce(event_type, '')"
    " AS et, ts / 600000000 AS p, siem_stats_domain(event_type, data, message) AS v"
    " FROM events) WHERE v IS NOT NULL GROUP BY 2, 3, 4",
};

static int segment_row(sqlite3 *db, int64_t *id, int64_t *rows, int64_t *min_ts, int64_t *max_ts)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, rows, min_ts, max_ts FROM segment", -1, &st, NULL) !=
	    SQLITE_OK)
		return store_sql_err(db, "stats segment");
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*rows = sqlite3_column_int64(st, 1);
		*min_ts = sqlite3_column_int64(st, 2);
		*max_ts = sqlite3_column_int64(st, 3);
	} else {
		rc = store_sql_err(db, "stats segment");
	}
	sqlite3_finalize(st);
	return rc;
}

static int rollup_new(struct stats_rollup **out)
{
	struct stats_rollup *r = calloc(1, sizeof(*r));
	uint8_t seed[16];
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->published, NULL);
	arena_init(&r->marena, 0);
	arena_init(&r->barena, 0);
	uuid_v4(seed);
	memcpy(&r->seed, seed, sizeof(r->seed));
	for (int i = 0; i < TOP_FIELDS; i++)
		metric_register(&m_fallback[i]);
	metric_register(&m_dropped);
	metric_register(&m_bytes);
	*out = r;
	return 0;
}

int stats_rollup_init(struct stats_rollup **out, sqlite3 *writer)
{
	struct stats_rollup *r = *out;
	struct segcounts *c = NULL;
	bool fresh = !r;
	int rc, flags = 0;
	if (fresh && (rc = rollup_new(&r)) < 0)
		return rc;
	sqlite3_finalize(r->up_minute);
	r->up_minute = NULL;
	r->db = writer;
	if ((rc = register_fns(writer)) < 0 || (rc = rollup_tables(writer, &flags)) < 0)
		goto fail;
	if (!(flags & ROLL_KEPT)) {
		/* A segment written before rollups existed: its per-minute counts from its
		 * events, in one transaction, so that a reader sees them complete or not at all. */
		int64_t t0 = ts_now_us();
		if ((rc = store_exec(writer, "BEGIN IMMEDIATE")) < 0)
			goto fail;
		if ((rc = store_exec(writer, rollup_ddl)) < 0 ||
		    (rc = store_exec(writer, backfill_minute_sql)) < 0 ||
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
			       -1, SQLITE_PREPARE_PERSISTENT, &r->up_minute, NULL) != SQLITE_OK) {
		rc = store_sql_err(writer, "stats rollup");
		goto fail;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = segment_row(writer, &c->seg_id, &c->rows, &c->min_ts, &c->max_ts)) < 0)
		goto fail;
	if (c->rows > 0) {
		/* After a restart: the counts were in memory only. */
		int64_t t0 = ts_now_us(), rows = c->rows;
		c->rows = 0;
		if ((rc = counts_load(r, c, writer)) < 0)
			goto fail;
		c->rows = rows;
		log_info(SUB, "top-N counts of segment %lld (%lld events) loaded in %lld ms",
			 (long long)c->seg_id, (long long)rows,
			 (long long)(ts_now_us() - t0) / 1000);
	}
	pthread_mutex_lock(&r->mu);
	counts_free(r->cur);
	r->cur = c;
	update_bytes_metric(r);
	pthread_mutex_unlock(&r->mu);
	*out = r;
	return 0;
fail:
	counts_free(c);
	if (fresh) {
		stats_rollup_free(r);
	} else {
		sqlite3_finalize(r->up_minute);
		r->up_minute = NULL;
		r->db = NULL;
	}
	return rc;
}

void stats_rollup_free(struct stats_rollup *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->up_minute);
	counts_free(r->cur);
	while (r->sealed) {
		struct segcounts *c = r->sealed;
		r->sealed = c->next;
		counts_free(c);
	}
	arena_release(&r->marena);
	arena_release(&r->barena);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->published);
	free(r);
}

void stats_rollup_roll(struct stats_rollup *r)
{
	if (!r)
		return;
	stats_rollup_reset(r);
	sqlite3_finalize(r->up_minute);
	r->up_minute = NULL;
	r->db = NULL;
	pthread_mutex_lock(&r->mu);
	struct segcounts *c = r->cur;
	r->cur = NULL;
	if (c) {
		/* Nothing counts into it any more: packed, it takes about half the memory. */
		for (int k = 0; k < TOP_TABLES; k++) {
			struct topt *t = &c->t[k];
			free(t->log);
			t->log = NULL;
			t->nlog = t->caplog = 0;
			for (uint32_t p = 0; p < t->nper && p < c->periods.n; p++)
				if (t->per[p].nslot && !t->per[p].rehashed)
					ptab_pack(t, p, (uint32_t)c->types.n);
		}
		c->next = r->sealed;
		r->sealed = c;
	}
	/* A lagging indexer: past the bound, the oldest sealed counts leave memory (their
	 * queries scan until the indexer writes their tables from the events). */
	size_t n = 0;
	for (struct segcounts **p = &r->sealed; *p;) {
		struct segcounts *x = *p;
		size_t b = counts_bytes(x);
		if (n + b > PENDING_LIMITS * mem_limit && x != r->sealed && !x->pins) {
			*p = x->next;
			log_warn(SUB,
				 "segment %lld: top-N counts dropped from memory before indexing",
				 (long long)x->seg_id);
			counts_free(x);
			metric_add(&m_dropped, 1);
			continue;
		}
		n += b;
		p = &x->next;
	}
	update_bytes_metric(r);
	pthread_mutex_unlock(&r->mu);
}

void stats_rollup_reset(struct stats_rollup *r)
{
	if (!r)
		return;
	minutes_reset(r);
	r->txn_rows = 0;
	r->txn_min = INT64_MAX;
	r->txn_max = INT64_MIN;
	if (r->cur) {
		pthread_mutex_lock(&r->mu);
		for (int k = 0; k < TOP_TABLES; k++) {
			struct topt *t = &r->cur->t[k];
			for (size_t j = 0; j < t->nlog; j++)
				--*log_count(t, t->log[j]);
			t->nlog = 0;
		}
		pthread_mutex_unlock(&r->mu);
	}
	r->nitem = r->nitem4 = r->nbatch = 0;
	arena_reset(&r->barena);
}

int stats_rollup_add(struct stats_rollup *r, const struct event *ev)
{
	int rc;
	if (!r || !r->db)
		return 0;
	struct sv type = or_empty(ev->event_type);
	uint64_t th = hash_mem(type.p, type.n, r->seed);
	if ((rc = minute_bump(r, floor_div(ev->ts, MINUTE_US), ev->severity, or_empty(ev->os_type),
			      type, th)) < 0)
		return rc;
	r->txn_rows++;
	if (ev->ts < r->txn_min)
		r->txn_min = ev->ts;
	if (ev->ts > r->txn_max)
		r->txn_max = ev->ts;
	if (r->cur)
		top_count(r, r->cur, ev, type, th);
	return 0;
}

int stats_rollup_flush(struct stats_rollup *r)
{
	return r && r->db ? minutes_write(r) : 0;
}

void stats_rollup_commit(struct stats_rollup *r)
{
	if (!r || !r->cur)
		return;
	if (r->nbatch)
		top_resolve(r, r->cur);
	pthread_mutex_lock(&r->mu);
	struct segcounts *c = r->cur;
	publish(c);
	if (r->txn_rows > 0) {
		c->rows += r->txn_rows;
		if (r->txn_min < c->min_ts)
			c->min_ts = r->txn_min;
		if (r->txn_max > c->max_ts)
			c->max_ts = r->txn_max;
		update_bytes_metric(r);
	}
	pthread_cond_broadcast(&r->published);
	pthread_mutex_unlock(&r->mu);
	r->txn_rows = 0;
	r->txn_min = INT64_MAX;
	r->txn_max = INT64_MIN;
}

/* ---- sealing: the indexer writes the counts out ---- */

struct rank_item {
	const char *p;
	size_t n;
	int64_t num;
	uint32_t id;
};

static int rank_text_cmp(const void *x, const void *y)
{
	const struct rank_item *a = x, *b = y;
	return cmp_bytes(a->p, a->n, b->p, b->n);
}

static int rank_num_cmp(const void *x, const void *y)
{
	const struct rank_item *a = x, *b = y;
	return (a->num > b->num) - (a->num < b->num);
}

/* rank[id]: where each name comes in the order of a table key (bytes, or text[id] when
 * given, or int64 keys when num); by: the inverse. */
static int rank_names(const struct names *d, const struct sv *text, bool num, uint32_t **rank,
		      uint32_t **by)
{
	size_t n = d->n ? d->n : 1;
	struct rank_item *it = malloc(n * sizeof(*it));
	*rank = malloc(n * sizeof(**rank));
	*by = malloc(n * sizeof(**by));
	if (!it || !*rank || !*by) {
		free(it);
		return -ENOMEM;
	}
	for (size_t k = 0; k < d->n; k++) {
		it[k] = (struct rank_item){name_bytes(&d->v[k]), d->v[k].n, 0, (uint32_t)k};
		if (text)
			it[k].p = text[k].p, it[k].n = text[k].n;
		if (num)
			memcpy(&it[k].num, it[k].p, sizeof(it[k].num));
	}
	qsort(it, d->n, sizeof(*it), num ? rank_num_cmp : rank_text_cmp);
	for (size_t k = 0; k < d->n; k++) {
		(*by)[k] = it[k].id;
		(*rank)[it[k].id] = (uint32_t)k;
	}
	free(it);
	return 0;
}

struct out_row {
	uint64_t key; /* type rank << 48 | period rank << 32 | value rank (or address) */
	uint32_t count, value;
};

struct rows_ctx {
	struct out_row *rows;
	size_t n;
	const uint32_t *trank, *vrank;
	uint64_t prank; /* the period's rank, shifted */
};

static void add_row_cb(void *arg, uint32_t type, uint32_t value, uint32_t count)
{
	struct rows_ctx *x = arg;
	x->rows[x->n++] = (struct out_row){(uint64_t)x->trank[type] << 48 | x->prank |
					       (x->vrank ? x->vrank[value] : value),
					   count, value};
}

static int out_cmp(const void *x, const void *y)
{
	uint64_t a = ((const struct out_row *)x)->key, b = ((const struct out_row *)y)->key;
	return (a > b) - (a < b);
}

static size_t ipv4_format(uint32_t a, char buf[46])
{
	uint8_t ip[16];
	memcpy(ip, v4_prefix, sizeof(v4_prefix));
	ip[12] = (uint8_t)(a >> 24), ip[13] = (uint8_t)(a >> 16), ip[14] = (uint8_t)(a >> 8);
	ip[15] = (uint8_t)a;
	return ip_format(ip, buf);
}

/* Table k's rows of stats_top from c, in the table's key order (the IPv4 table's by
 * address, which is near enough). */
static int write_table(sqlite3 *db, const struct segcounts *c, int k, const uint32_t *trank,
		       const uint32_t *tby, const uint32_t *prank, const uint32_t *pby)
{
	const struct topt *t = &c->t[k];
	uint32_t *vrank = NULL, *vby = NULL;
	struct sv *text = NULL;
	struct out_row *rows = NULL;
	sqlite3_stmt *st = NULL;
	struct arena a;
	char buf[46];
	size_t n = 0;
	int rc = 0;
	arena_init(&a, 0);
	if (k == 0) { /* IPv6 addresses as the text the API answers with, and sorted as such */
		if (!(text = malloc((t->values.n ? t->values.n : 1) * sizeof(*text)))) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t v = 0; v < t->values.n; v++) {
			char *b = arena_alloc(&a, 46);
			if (!b) {
				rc = -ENOMEM;
				goto out;
			}
			text[v] = (struct sv){
			    b, ip_format((const uint8_t *)name_bytes(&t->values.v[v]), b)};
		}
	}
	if (k != T_IPV4 && (rc = rank_names(&t->values, text, false, &vrank, &vby)) < 0)
		goto out;
	if (!(rows = malloc((t->ncell ? t->ncell : 1) * sizeof(*rows)))) {
		rc = -ENOMEM;
		goto out;
	}
	struct rows_ctx rc_ = {rows, 0, trank, vrank, 0};
	for (size_t p = 0; p < t->nper && p < c->periods.n; p++) {
		rc_.prank = (uint64_t)prank[p] << 32;
		ptab_each(&t->per[p], NULL, add_row_cb, &rc_);
	}
	n = rc_.n;
	qsort(rows, n, sizeof(*rows), out_cmp);
	if (sqlite3_prepare_v2(db, "INSERT INTO stats_top VALUES(?,?,?,?,?)", -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = store_sql_err(db, "stats seal");
		goto out;
	}
	for (size_t j = 0; j < n && rc == 0; j++) {
		const struct name *ty = &c->types.v[tby[rows[j].key >> 48]];
		const struct name *pe = &c->periods.v[pby[(rows[j].key >> 32) & 0xffff]];
		int64_t period;
		struct sv val;
		memcpy(&period, name_bytes(pe), sizeof(period));
		if (k == T_IPV4)
			val = (struct sv){buf, ipv4_format(rows[j].value, buf)};
		else if (text)
			val = text[rows[j].value];
		else
			val = (struct sv){name_bytes(&t->values.v[rows[j].value]),
					  t->values.v[rows[j].value].n};
		sqlite3_bind_int(st, 1, STATS_SOURCE_IP + table_field(k));
		sqlite3_bind_text(st, 2, name_bytes(ty), (int)ty->n, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, period);
		sqlite3_bind_text(st, 4, val.p, (int)val.n, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, rows[j].count);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_sql_err(db, "stats seal");
		sqlite3_reset(st);
	}
out:
	sqlite3_finalize(st);
	free(rows);
	free(text);
	free(vrank);
	free(vby);
	arena_release(&a);
	return rc;
}

/* c's fields kept in memory into stats_top; the others from the events. */
static int write_counts(sqlite3 *db, const struct segcounts *c)
{
	uint32_t *trank = NULL, *tby = NULL, *prank = NULL, *pby = NULL;
	int rc = 0;
	if (c && ((rc = rank_names(&c->types, NULL, false, &trank, &tby)) < 0 ||
		  (rc = rank_names(&c->periods, NULL, true, &prank, &pby)) < 0))
		goto out;
	for (int i = 0; i < TOP_FIELDS && rc == 0; i++) {
		if (!c || c->over[i]) {
			rc = store_exec(db, backfill_top_sql[i]);
			continue;
		}
		rc = write_table(db, c, i, trank, tby, prank, pby);
		if (rc == 0 && i == 0)
			rc = write_table(db, c, T_IPV4, trank, tby, prank, pby);
	}
out:
	free(trank);
	free(tby);
	free(prank);
	free(pby);
	return rc;
}

static struct segcounts *counts_of(struct stats_rollup *r, int64_t seg_id)
{
	if (r->cur && r->cur->seg_id == seg_id)
		return r->cur;
	for (struct segcounts *c = r->sealed; c; c = c->next)
		if (c->seg_id == seg_id)
			return c;
	return NULL;
}

int stats_rollup_seal(struct stats_rollup *r, int64_t seg_id, sqlite3 *db)
{
	struct segcounts *c = NULL;
	int flags = 0, rc = rollup_tables(db, &flags);
	if (rc < 0 || !(flags & ROLL_KEPT))
		return rc;
	if ((rc = register_fns(db)) < 0 ||
	    (rc = store_exec(
		 db, "CREATE TABLE IF NOT EXISTS stats_total(field INTEGER NOT NULL,"
		     " event_type TEXT NOT NULL, value TEXT NOT NULL, count INTEGER NOT NULL,"
		     " PRIMARY KEY(field, event_type, value)) WITHOUT ROWID;"
		     "DELETE FROM stats_total; DELETE FROM stats_top;")) < 0)
		return rc;
	if (r) {
		pthread_mutex_lock(&r->mu);
		if ((c = counts_of(r, seg_id)) && c != r->cur)
			c->pins++; /* sealed: nothing changes it any more, read it unlocked */
		else
			c = NULL;
		pthread_mutex_unlock(&r->mu);
	}
	int64_t t0 = ts_now_us();
	rc = write_counts(db, c);
	if (rc == 0)
		rc = store_exec(
		    db, "INSERT INTO stats_total SELECT field, event_type, value, sum(count)"
			" FROM stats_top GROUP BY field, event_type, value;");
	if (c) {
		pthread_mutex_lock(&r->mu);
		c->pins--;
		pthread_mutex_unlock(&r->mu);
	}
	if (rc == 0)
		log_info(SUB, "segment %lld: top-N tables written %s in %lld ms", (long long)seg_id,
			 c ? "from memory" : "from its events",
			 (long long)(ts_now_us() - t0) / 1000);
	return rc;
}

void stats_rollup_sealed(struct stats_rollup *r, int64_t seg_id)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	for (struct segcounts **p = &r->sealed; *p; p = &(*p)->next) {
		struct segcounts *c = *p;
		if (c->seg_id == seg_id && !c->pins) {
			*p = c->next;
			counts_free(c);
			break;
		}
	}
	update_bytes_metric(r);
	pthread_mutex_unlock(&r->mu);
}

/* ---- top-N from memory (readers) ---- */

/* The rows the reader's snapshot of a segment holds. */
static int snapshot_rows(sqlite3 *db, int64_t *rows)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(db, "SELECT rows FROM segment", -1, &st, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats rows");
	if (sqlite3_step(st) == SQLITE_ROW)
		*rows = sqlite3_column_int64(st, 0);
	else
		rc = store_sql_err(db, "stats rows");
	sqlite3_finalize(st);
	return rc;
}

struct v4_sum {
	uint32_t addr;
	int64_t count;
};

struct v4_ctx {
	struct v4_sum *v;
	size_t n;
};

static void v4_cb(void *arg, uint32_t type, uint32_t value, uint32_t count)
{
	struct v4_ctx *x = arg;
	(void)type;
	x->v[x->n++] = (struct v4_sum){value, count};
}

static void sum_cb(void *arg, uint32_t type, uint32_t value, uint32_t count)
{
	(void)type;
	((int64_t *)arg)[value] += count;
}

static int v4_cmp(const void *x, const void *y)
{
	uint32_t a = ((const struct v4_sum *)x)->addr, b = ((const struct v4_sum *)y)->addr;
	return (a > b) - (a < b);
}

/* Whole periods plo..phi of field i into the job's accumulator (under the lock). The IPv4
 * cells that match go to *v4 (*nv4 of them), summed by the caller once the lock is
 * released. */
static int sum_cells(struct stats_rollup *r, struct segcounts *c, int i, struct top_job *j,
		     int64_t plo, int64_t phi, struct v4_sum **v4, size_t *nv4)
{
	const struct topt *t = &c->t[i], *t4 = &c->t[T_IPV4];
	const struct strset *et = &j->f->event_type;
	uint8_t *ok_type = calloc(c->types.n ? c->types.n : 1, 1);
	uint8_t *ok_period = calloc(c->periods.n ? c->periods.n : 1, 1);
	int64_t *sum = calloc(t->values.n ? t->values.n : 1, sizeof(*sum));
	char buf[46];
	int rc = 0;
	*v4 = NULL;
	*nv4 = 0;
	if (!ok_type || !ok_period || !sum) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t p = 0; p < c->periods.n; p++) {
		int64_t v;
		memcpy(&v, name_bytes(&c->periods.v[p]), sizeof(v));
		ok_period[p] = v >= plo && v <= phi;
	}
	if (!et->n)
		memset(ok_type, 1, c->types.n);
	for (size_t k = 0; k < et->n; k++) {
		uint32_t id;
		size_t n = strlen(et->v[k]);
		if (names_find(&c->types, et->v[k], n, hash_mem(et->v[k], n, r->seed), &id))
			ok_type[id] = 1;
	}
	for (size_t p = 0; p < t->nper && p < c->periods.n; p++)
		if (ok_period[p])
			ptab_each(&t->per[p], ok_type, sum_cb, sum);
	/* The open transaction's counts, not committed: out. */
	for (size_t k = 0; k < t->nlog; k++) {
		uint32_t ty, v;
		log_cell(t, t->log[k], &ty, &v);
		if (ok_period[t->log[k] >> 32] && ok_type[ty])
			sum[v]--;
	}
	for (size_t v = 0; v < t->values.n && rc == 0; v++) {
		const struct name *nm = &t->values.v[v];
		if (!sum[v])
			continue;
		if (i == 0)
			rc = acc_add(j->acc, buf, ip_format((const uint8_t *)name_bytes(nm), buf),
				     0, sum[v]);
		else
			rc = acc_add(j->acc, name_bytes(nm), nm->n, 0, sum[v]);
	}
	if (rc == 0 && i == 0 && t4->ncell) {
		if (!(*v4 = malloc((t4->ncell + t4->nlog) * sizeof(**v4)))) {
			rc = -ENOMEM;
			goto out;
		}
		struct v4_ctx vc = {*v4, 0};
		for (size_t p = 0; p < t4->nper && p < c->periods.n; p++)
			if (ok_period[p])
				ptab_each(&t4->per[p], ok_type, v4_cb, &vc);
		for (size_t k = 0; k < t4->nlog; k++) {
			uint32_t ty, v;
			log_cell(t4, t4->log[k], &ty, &v);
			if (ok_period[t4->log[k] >> 32] && ok_type[ty])
				vc.v[vc.n++] = (struct v4_sum){v, -1};
		}
		*nv4 = vc.n;
	}
out:
	free(ok_type);
	free(ok_period);
	free(sum);
	return rc;
}

/* The IPv4 cells sum_cells found, by address, into the accumulator. */
static int sum_v4(struct top_job *j, struct v4_sum *v, size_t n)
{
	char buf[46];
	int rc = 0;
	qsort(v, n, sizeof(*v), v4_cmp);
	for (size_t k = 0; k < n && rc == 0;) {
		int64_t sum = 0;
		uint32_t a = v[k].addr;
		for (; k < n && v[k].addr == a; k++)
			sum += v[k].count;
		if (sum)
			rc = acc_add(j->acc, buf, ipv4_format(a, buf), 0, sum);
	}
	return rc;
}

static int top_memory(struct store *s, sqlite3 *db, const struct seg_view *g, struct top_job *j,
		      bool *kept)
{
	struct stats_rollup *r = s->rollup;
	int i = (int)j->field - STATS_SOURCE_IP, rc = 0;
	struct v4_sum *v4 = NULL;
	size_t nv4 = 0;
	struct split sp;
	*kept = false;
	if (!r)
		return 0;
	for (int attempt = 0; attempt < 8; attempt++) {
		int64_t rows = 0;
		if ((rc = snapshot_rows(db, &rows)) < 0)
			return rc;
		pthread_mutex_lock(&r->mu);
		struct segcounts *c = counts_of(r, g->id);
		int64_t until = ts_now_us() + WAIT_PUBLISH_US;
		/* The writer has committed what this snapshot sees and is about to publish. */
		while (c && !c->over[i] && c->rows < rows && ts_now_us() < until) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&r->published, &r->mu, &ts);
			c = counts_of(r, g->id);
		}
		if (!c || c->over[i] || c->rows < rows) {
			pthread_mutex_unlock(&r->mu);
			return 0;
		}
		if (c->rows > rows) {
			/* The snapshot is older than the counts: read again from a newer one. */
			pthread_mutex_unlock(&r->mu);
			if ((rc = store_exec(db, "COMMIT")) < 0 ||
			    (rc = store_exec(db, "BEGIN")) < 0)
				return rc;
			continue;
		}
		sp = unit_split(j->f->from, j->f->to, c->min_ts, c->max_ts, PERIOD_US);
		if (sp.ulo <= sp.uhi) {
			rc = sum_cells(r, c, i, j, sp.ulo, sp.uhi, &v4, &nv4);
			j->used = true;
		}
		pthread_mutex_unlock(&r->mu);
		*kept = true;
		if (rc == 0 && v4)
			rc = sum_v4(j, v4, nv4);
		free(v4);
		for (int e = 0; e < 2 && rc == 0; e++)
			if (sp.edge[e][0] <= sp.edge[e][1])
				rc = top_raw(db, j, sp.edge[e][0], sp.edge[e][1]);
		return rc;
	}
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
