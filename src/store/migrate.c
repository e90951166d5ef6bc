/* migrate.c — `minisiem migrate`: the embedded store copied into PostgreSQL. The SQLite
 * files are read directly (read-only: the main database for hub state, each segment file for
 * its events, dead letters and file offsets); events go through the PostgreSQL writer, which
 * skips an (event_id, ts) it holds already, so a batch sent twice is stored once. Progress is
 * kept in the destination's meta table ("migrate.segment.N": the last seq copied of segment
 * N; "migrate.dead.N": its last dead letter), so a run that was stopped carries on. State
 * rows keep their ids (upserts), and the sequences move past them. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "store/migrate_int.h"

#define BATCH_BYTES (32 * 1024 * 1024) /* a batch's text at most, whatever its count */
#define PROGRESS_EVERY 250	       /* events between progress calls */

int mig_fail(struct mig *m, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->r->msg, sizeof(m->r->msg), fmt, ap);
	va_end(ap);
	return rc;
}

static void progress(struct mig *m, const char *phase)
{
	m->p.phase = phase;
	if (m->o->progress)
		m->o->progress(m->o->arg, &m->p);
}

static bool stopping(const struct mig *m)
{
	return m->o->stop && *m->o->stop;
}

int64_t mig_sq_int(sqlite3 *db, const char *sql, int64_t bind, int *rc)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		*rc = store_sql_err(db, sql);
		return 0;
	}
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, bind);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else if (s != SQLITE_DONE)
		*rc = store_sql_err(db, sql);
	sqlite3_finalize(st);
	return v;
}

/* ---- the source ---- */

static int src_open(struct mig *m)
{
	struct stat sb;
	int rc = 0;
	if (stat(m->o->from, &sb) < 0)
		return mig_fail(m, -errno, "cannot read '%s': %s", m->o->from, strerror(errno));
	if ((rc = store_open_conn(m->o->from, true, 8, &m->main)) < 0)
		return mig_fail(m, rc, "cannot open '%s' as a minisiem store", m->o->from);
	int64_t v =
	    mig_sq_int(m->main, "SELECT value FROM meta WHERE key = 'schema_version'", 0, &rc);
	if (rc < 0)
		return mig_fail(m, rc, "'%s' is not a minisiem store (no meta table)", m->o->from);
	if (v != schema_version)
		return mig_fail(m, SIEM_ESQL,
				"'%s' has schema version %" PRId64
				", this minisiem %d: start and stop "
				"the hub of this version on it once, then migrate",
				m->o->from, v, schema_version);
	return 0;
}

static int cmp_seg(const void *a, const void *b)
{
	const struct mig_seg *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* The segment files, oldest first (a file without its description, left by a creation that
 * did not finish, holds nothing and is left out). */
static int src_list(struct mig *m)
{
	char dir[PATH_MAX];
	size_t cap = 0;
	int rc = 0;
	snprintf(dir, sizeof(dir), "%s-segments", m->o->from);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT
			   ? 0
			   : mig_fail(m, -errno, "cannot read '%s': %s", dir, strerror(errno));
	struct dirent *de;
	while ((de = readdir(d)) && rc == 0) {
		long long id;
		char tail[8];
		if (sscanf(de->d_name, "seg-%8lld.%3s", &id, tail) != 2 ||
		    strcmp(tail, "db") != 0 || strlen(de->d_name) != 15)
			continue;
		if (m->nseg == cap) {
			cap = cap ? cap * 2 : 32;
			struct mig_seg *n = realloc(m->segs, cap * sizeof(*n));
			if (!n) {
				rc = -ENOMEM;
				break;
			}
			m->segs = n;
		}
		struct mig_seg *g = &m->segs[m->nseg];
		memset(g, 0, sizeof(*g));
		g->id = id;
		size_t n = strlen(dir) + strlen(de->d_name) + 2;
		if (!(g->path = malloc(n))) {
			rc = -ENOMEM;
			break;
		}
		snprintf(g->path, n, "%s/%s", dir, de->d_name);
		m->nseg++;
	}
	closedir(d);
	if (m->nseg > 1)
		qsort(m->segs, m->nseg, sizeof(*m->segs), cmp_seg);
	return rc;
}

int mig_ev_select(sqlite3 *db, const char *tail, sqlite3_stmt **st)
{
	static const char *const cols[] = {
#define MIG_COL(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, POS, FULL, DFLT, COLUMN, T) COLUMN,
	    EVENT_FIELDS(MIG_COL)
#undef MIG_COL
	};
	char sql[4096];
	size_t n = (size_t)snprintf(sql, sizeof(sql), "SELECT seq");
	sqlite3_stmt *all = NULL;
	if (sqlite3_prepare_v2(db, "SELECT * FROM events LIMIT 0", -1, &all, NULL) != SQLITE_OK)
		return store_sql_err(db, "events");
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]) && n < sizeof(sql); i++) {
		bool has = false;
		for (int k = 0; k < sqlite3_column_count(all) && !has; k++)
			has = strcmp(sqlite3_column_name(all, k), cols[i]) == 0;
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, has ? ", \"%s\"" : ", NULL",
				      cols[i]);
	}
	sqlite3_finalize(all);
	if (n < sizeof(sql))
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " FROM events %s", tail);
	if (n >= sizeof(sql))
		return -E2BIG;
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return store_sql_err(db, "events");
	return 0;
}

/* A segment's size and version; *skip when it is an unfinished, empty file. */
static int src_scan(struct mig *m, struct mig_seg *g, bool *skip)
{
	sqlite3 *db = NULL;
	int rc = store_open_conn(g->path, true, 2, &db);
	*skip = false;
	if (rc < 0)
		return mig_fail(m, rc, "cannot open '%s'", g->path);
	int64_t desc =
	    mig_sq_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'segment'", 0, &rc);
	if (rc == 0 && desc)
		desc = mig_sq_int(db, "SELECT count(*) FROM segment", 0, &rc);
	if (rc == 0 && !desc) {
		*skip = true;
		goto out;
	}
	int64_t v = rc == 0 ? mig_sq_int(db, "PRAGMA user_version", 0, &rc) : 0;
	if (rc == 0 && v > segment_version) { /* an older one reads as mig_ev_select says */
		rc = mig_fail(m, SIEM_ESQL,
			      "'%s' has segment version %" PRId64
			      ", newer than this minisiem's (%d)",
			      g->path, v, segment_version);
		goto out;
	}
	if (rc == 0)
		g->rows = mig_sq_int(db, "SELECT count(*) FROM events", 0, &rc);
	if (rc == 0) /* what earlier runs copied of it */
		m->p.events_done +=
		    mig_sq_int(db, "SELECT count(*) FROM events WHERE seq <= ?", g->done_seq, &rc);
	if (rc == 0)
		g->min_seq = mig_sq_int(db, "SELECT min(seq) FROM events", 0, &rc);
	if (rc == 0)
		g->max_seq = mig_sq_int(db, "SELECT max(seq) FROM events", 0, &rc);
	if (rc < 0)
		mig_fail(m, rc, "cannot read '%s'", g->path);
out:
	sqlite3_close(db);
	return rc;
}

/* Every segment: its size, and how far earlier runs copied it (the destination's meta). */
static int src_scan_all(struct mig *m)
{
	size_t keep = 0;
	int rc = 0;
	for (size_t i = 0; i < m->nseg; i++) {
		bool skip = false;
		char key[48];
		struct mig_seg *g = &m->segs[i];
		snprintf(key, sizeof(key), "migrate.segment.%08" PRId64, g->id);
		if (rc == 0 && (rc = mig_meta_i64(m, key, &g->done_seq)) == 0)
			rc = src_scan(m, g, &skip);
		if (rc < 0 || skip) {
			free(g->path);
			continue;
		}
		m->p.events_total += g->rows;
		m->segs[keep++] = *g;
	}
	m->nseg = keep;
	return rc;
}

/* ---- the destination ---- */

/* meta value key as a number (0 when absent). */
int mig_meta_i64(struct mig *m, const char *key, int64_t *v)
{
	char *s = NULL;
	int rc = pg_meta_get(m->pg, key, &s);
	*v = s ? strtoll(s, NULL, 10) : 0;
	free(s);
	return rc;
}

int mig_meta_set_i64(PGconn *c, const char *key, int64_t v)
{
	char num[24];
	snprintf(num, sizeof(num), "%" PRId64, v);
	return pg_meta_put(c, key, num, "migration progress");
}

/* Connect, and make sure the database is empty or holds a migration of this same file. */
static int dst_open(struct mig *m)
{
	struct store_config cfg;
	char *mark = NULL, *real = realpath(m->o->from, NULL);
	PGresult *res = NULL;
	int rc;
	store_config_defaults(&cfg);
	cfg.postgres = m->o->to;
	if (!real)
		return mig_fail(m, -errno, "cannot resolve '%s': %s", m->o->from, strerror(errno));
	if ((rc = pg_open(&m->pg, &cfg)) < 0) {
		mig_fail(m, rc, "cannot open the PostgreSQL database (--to): %s",
			 siem_strerror(rc));
		goto out;
	}
	if ((rc = pg_meta_get(m->pg, "migrate.source", &mark)) < 0)
		goto out;
	if (mark) {
		if (strcmp(mark, real) != 0)
			rc = mig_fail(
			    m, -EEXIST,
			    "the destination holds a migration of '%s', not of '%s': use a new, "
			    "empty database",
			    mark, real);
		goto out;
	}
	rc = pg_run(m->pg,
		    "SELECT (SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1) e)"
		    " + (SELECT count(*) FROM meta) + (SELECT count(*) FROM users)"
		    " + (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM alerts)"
		    " + (SELECT count(*) FROM rules) + (SELECT count(*) FROM dashboards)"
		    " + (SELECT count(*) FROM audit_log)",
		    NULL, &res, "destination check");
	if (rc == 0 && pg_i64(res, 0, 0) > 0)
		rc =
		    mig_fail(m, -EEXIST,
			     "the destination database is not empty: migrate into a new, empty one "
			     "(createdb -E UTF8 NAME)");
	if (rc == 0)
		rc = pg_meta_set(m->pg, "migrate.source", real);
out:
	PQclear(res);
	free(mark);
	free(real);
	return rc;
}

/* ---- events ---- */

/* Keep to max_rate events per second (for a PostgreSQL that serves others meanwhile). */
static void pace(struct mig *m)
{
	if (m->o->max_rate <= 0)
		return;
	int64_t due = m->t0_us + m->p.run_events * 1000000 / m->o->max_rate;
	int64_t now = clock_mono_us();
	if (due > now)
		usleep((useconds_t)(due - now > 1000000 ? 1000000 : due - now));
}

/* One batch: up to o->batch events (and BATCH_BYTES of text) after *seq, committed. *more
 * is cleared when the segment has no further event. */
static int copy_batch(struct mig *m, sqlite3_stmt *st, int64_t *seq, bool *dup, bool *more)
{
	int n = 0, rc = pg_begin(m->pg), s = SQLITE_ROW;
	size_t bytes = 0;
	while (rc == 0 && n < m->o->batch && bytes < BATCH_BYTES && !stopping(m) &&
	       (s = sqlite3_step(st)) == SQLITE_ROW) {
		struct event ev;
		char ipbuf[46];
		store_row_event(st, &ev, ipbuf);
		rc = pg_append(m->pg, &ev, &dup[n++]);
		bytes += ev.message.n + ev.raw_message.n + ev.data.n + 512;
		*seq = sqlite3_column_int64(st, 0);
		m->p.events_done++;
		if (++m->p.run_events % PROGRESS_EVERY == 0) {
			progress(m, "events");
			pace(m);
		}
	}
	if (rc == 0 && s != SQLITE_ROW && s != SQLITE_DONE)
		rc = SIEM_ESQL;
	*more = s == SQLITE_ROW;
	if (rc < 0) {
		pg_rollback(m->pg);
		return rc;
	}
	if ((rc = pg_commit(m->pg)) < 0)
		return rc;
	for (int i = 0; i < n; i++)
		dup[i] ? m->r->present++ : m->r->copied++;
	return 0;
}

static int copy_segment(struct mig *m, struct mig_seg *g, bool *dup)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char key[48];
	bool more = g->done_seq < g->max_seq;
	int64_t seq = g->done_seq;
	int rc = store_open_conn(g->path, true, 8, &db);
	if (rc < 0)
		return mig_fail(m, rc, "cannot open '%s'", g->path);
	snprintf(key, sizeof(key), "migrate.segment.%08" PRId64, g->id);
	if ((rc = mig_ev_select(db, "WHERE seq > ? ORDER BY seq", &st)) < 0) {
		mig_fail(m, rc, "cannot read the events of '%s'", g->path);
		goto out;
	}
	sqlite3_bind_int64(st, 1, g->done_seq);
	while (more && rc == 0) {
		if ((rc = copy_batch(m, st, &seq, dup, &more)) < 0) {
			mig_fail(m, rc, "copying the events of '%s' failed: %s", g->path,
				 siem_strerror(rc));
			break;
		}
		PGconn *c = NULL;
		if ((rc = pg_conn_get(m->pg, &c)) == 0) {
			rc = mig_meta_set_i64(c, key, seq);
			pg_conn_put(m->pg, c);
		}
		progress(m, "events");
		if (rc == 0 && stopping(m))
			rc = -EINTR;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* ---- the whole run ---- */

static int run(struct mig *m)
{
	int rc;
	bool *dup = NULL;
	if ((rc = src_open(m)) < 0 || (rc = src_list(m)) < 0 || (rc = dst_open(m)) < 0)
		return rc;
	if ((rc = src_scan_all(m)) < 0)
		return rc;
	m->r->segments = m->p.segments = (int64_t)m->nseg;
	progress(m, "state");
	if ((rc = mig_copy_state(m)) < 0)
		return rc;
	if (!(dup = calloc((size_t)m->o->batch, sizeof(*dup))))
		return -ENOMEM;
	m->t0_us = clock_mono_us();
	progress(m, "events");
	for (size_t i = 0; i < m->nseg && rc == 0; i++) {
		m->p.segment = (int64_t)i + 1;
		rc = copy_segment(m, &m->segs[i], dup);
	}
	free(dup);
	if (rc < 0)
		return rc;
	progress(m, "dead letters");
	if ((rc = mig_copy_dead_letters(m)) < 0 || (rc = mig_copy_offsets(m)) < 0 ||
	    (rc = mig_bump_sequences(m)) < 0)
		return rc;
	progress(m, "verify");
	return mig_check(m);
}

int store_migrate(const struct store_migrate_opts *o, struct store_migrate_result *r)
{
	struct mig m = {.o = o, .r = r};
	memset(r, 0, sizeof(*r));
	int rc = o->batch > 0 ? run(&m) : -EINVAL;
	if (rc == -EINTR)
		mig_fail(&m, rc, "stopped after %" PRId64 " of %" PRId64 " events", m.p.events_done,
			 m.p.events_total);
	else if (rc < 0 && !r->msg[0])
		mig_fail(&m, rc, "%s", siem_strerror(rc));
	for (size_t i = 0; i < m.nseg; i++)
		free(m.segs[i].path);
	free(m.segs);
	sqlite3_close(m.main);
	pg_close(m.pg);
	return rc;
}
