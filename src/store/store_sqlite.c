/* store_sqlite.c — the embedded store: SQLite in WAL mode, one writer connection owned by
 * the pipeline's writer thread, a pool of read-only connections for queries. Events go to
 * the active segment table; a full segment is sealed and a new one started. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "core/err.h"
#include "core/log.h"
#include "store/facets.h"
#include "store/schema.h"
#include "store/store.h"

#define SUB "store"
#define MAX_READERS 16

struct segment {
	int64_t id;
	int64_t min_ts, max_ts; /* INT64_MAX/INT64_MIN while empty */
	int64_t rows;
	bool sealed;
	sqlite3_stmt *probe; /* writer: SELECT 1 FROM ev_<id> WHERE id = ? (sealed only) */
};

struct store {
	char *path;
	int64_t segment_rows;

	/* writer */
	sqlite3 *w;
	sqlite3_stmt *ins, *ins_fts, *seg_upd, *off_upsert;
	bool in_txn;
	int64_t next_seq;
	int64_t txn_min_ts, txn_max_ts, txn_rows;
	struct facets facets;

	/* segments: appended by the writer, read by everyone under seg_mu */
	pthread_mutex_t seg_mu;
	struct segment *segs;
	size_t nseg, capseg;
	int64_t events_total;
	int64_t last_commit_us;

	/* readers */
	pthread_mutex_t rd_mu;
	pthread_cond_t rd_cv;
	sqlite3 *rd[MAX_READERS];
	bool rd_busy[MAX_READERS];
	int nrd;

	/* admin connection: meta, keys (any thread, serialized) */
	pthread_mutex_t adm_mu;
	sqlite3 *adm;
};

void store_config_defaults(struct store_config *cfg)
{
	cfg->dir = "var/minisiem.db";
	cfg->segment_rows = 2000000;
	cfg->cache_mb = 64;
	cfg->readers = 4;
}

static int sql_err(sqlite3 *db, const char *what)
{
	log_error(SUB, "%s: %s", what, sqlite3_errmsg(db));
	int ext = sqlite3_extended_errcode(db);
	if (ext == SQLITE_FULL)
		return -ENOSPC;
	if ((ext & 0xff) == SQLITE_BUSY || (ext & 0xff) == SQLITE_LOCKED)
		return -EBUSY;
	return SIEM_ESQL;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error(SUB, "'%.80s': %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return sqlite3_extended_errcode(db) == SQLITE_FULL ? -ENOSPC : SIEM_ESQL;
	}
	return 0;
}

static int open_conn(const char *path, bool readonly, int cache_mb, sqlite3 **out)
{
	int flags = SQLITE_OPEN_NOMUTEX |
		    (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		log_error(SUB, "cannot open '%s': %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return SIEM_ESQL;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-%d;"
		 " PRAGMA temp_store=MEMORY; PRAGMA secure_delete=OFF; PRAGMA foreign_keys=OFF;",
		 cache_mb * 1024);
	int rc = exec(db, readonly ? "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-8192;" : sql);
	if (rc < 0) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return sql_err(db, "prepare");
	return 0;
}

/* siem_text_has(message, raw, path, q): every whitespace-separated term of q occurs in
 * one of the three texts, ASCII case-insensitively. The exact check behind the FTS filter. */
static bool has_term(const unsigned char *t, size_t tn, const unsigned char *w, size_t wn)
{
	if (!t || wn > tn)
		return false;
	for (size_t i = 0; i + wn <= tn; i++) {
		size_t j = 0;
		while (j < wn && tolower(t[i + j]) == tolower(w[j]))
			j++;
		if (j == wn)
			return true;
	}
	return false;
}

static void fn_text_has(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *q = sqlite3_value_text(argv[argc - 1]);
	const unsigned char *txt[3];
	size_t len[3];
	for (int i = 0; i < 3; i++) {
		txt[i] = sqlite3_value_text(argv[i]);
		len[i] = (size_t)sqlite3_value_bytes(argv[i]);
	}
	int ok = 1;
	for (const unsigned char *p = q; ok && p && *p;) {
		while (*p && isspace(*p))
			p++;
		const unsigned char *w = p;
		while (*p && !isspace(*p))
			p++;
		size_t wn = (size_t)(p - w);
		if (wn == 0)
			break;
		ok = has_term(txt[0], len[0], w, wn) || has_term(txt[1], len[1], w, wn) ||
		     has_term(txt[2], len[2], w, wn);
	}
	sqlite3_result_int(ctx, ok);
}

static int register_functions(sqlite3 *db)
{
	if (sqlite3_create_function(db, "siem_text_has", 4, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, fn_text_has, NULL, NULL) != SQLITE_OK)
		return sql_err(db, "register function");
	return 0;
}

/* ---- schema ---- */

static int migrate(sqlite3 *db)
{
	int version = 0, rc = 0;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st,
			       NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	if (version > schema_version) {
		log_error(SUB, "store schema version %d is newer than this build (%d)", version,
			  schema_version);
		return SIEM_ESQL;
	}
	if (version == schema_version)
		return 0;
	if ((rc = exec(db, "BEGIN IMMEDIATE")) < 0)
		return rc;
	for (int v = version; v < schema_version; v++) {
		if ((rc = exec(db, schema_migrations[v])) < 0)
			goto fail;
		log_info(SUB, "schema migrated to version %d", v + 1);
	}
	char sql[128];
	snprintf(sql, sizeof(sql),
		 "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '%d')",
		 schema_version);
	if ((rc = exec(db, sql)) < 0 || (rc = exec(db, "COMMIT")) < 0)
		goto fail;
	return 0;
fail:
	exec(db, "ROLLBACK");
	return rc;
}

static struct segment *seg_push(struct store *s, int64_t id)
{
	if (s->nseg == s->capseg) {
		size_t cap = s->capseg ? s->capseg * 2 : 16;
		struct segment *n = realloc(s->segs, cap * sizeof(*n));
		if (!n)
			return NULL;
		s->segs = n;
		s->capseg = cap;
	}
	struct segment *g = &s->segs[s->nseg++];
	memset(g, 0, sizeof(*g));
	g->id = id;
	g->min_ts = INT64_MAX;
	g->max_ts = INT64_MIN;
	return g;
}

static int load_segments(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(s->w,
			       "SELECT id, min_ts, max_ts, rows, sealed FROM segments ORDER BY id", -1,
			       &st, NULL) != SQLITE_OK)
		return sql_err(s->w, "load segments");
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct segment *g = seg_push(s, sqlite3_column_int64(st, 0));
		if (!g) {
			rc = -ENOMEM;
			break;
		}
		g->min_ts = sqlite3_column_int64(st, 1);
		g->max_ts = sqlite3_column_int64(st, 2);
		g->rows = sqlite3_column_int64(st, 3);
		g->sealed = sqlite3_column_int(st, 4) != 0;
		s->events_total += g->rows;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Create segment id (inside the caller's transaction). */
static int create_segment_sql(struct store *s, int64_t id)
{
	char sql[2048], ins[160];
	snprintf(sql, sizeof(sql), segment_ddl, (long long)id);
	int rc = exec(s->w, sql);
	if (rc < 0)
		return rc;
	snprintf(ins, sizeof(ins),
		 "INSERT INTO segments(id, min_ts, max_ts, rows, sealed, created_at)"
		 " VALUES(%lld, %lld, %lld, 0, 0, %lld)",
		 (long long)id, (long long)INT64_MAX, (long long)INT64_MIN, (long long)ts_now_us());
	return exec(s->w, ins);
}

static void finalize_writer_stmts(struct store *s)
{
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->ins_fts);
	sqlite3_finalize(s->seg_upd);
	s->ins = s->ins_fts = s->seg_upd = NULL;
}

static int prepare_writer_stmts(struct store *s)
{
	int64_t id = s->segs[s->nseg - 1].id;
	char sql[1024];
	int rc;
	finalize_writer_stmts(s);
	snprintf(sql, sizeof(sql),
		 "INSERT OR IGNORE INTO ev_%lld(seq, ts, id, received_at, host, os_type, event_type,"
		 " severity, level, ip, user, app, message, raw, request_id, user_agent, http_method,"
		 " http_path, http_status, latency_ms, error_type, data, source, source_file,"
		 " source_offset, flags) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		 (long long)id);
	if ((rc = prepare(s->w, sql, &s->ins)) < 0)
		return rc;
	snprintf(sql, sizeof(sql), "INSERT INTO ev_%lld_fts(rowid, txt) VALUES(?, ?)",
		 (long long)id);
	if ((rc = prepare(s->w, sql, &s->ins_fts)) < 0)
		return rc;
	snprintf(sql, sizeof(sql),
		 "UPDATE segments SET min_ts = min(min_ts, ?), max_ts = max(max_ts, ?),"
		 " rows = rows + ? WHERE id = %lld",
		 (long long)id);
	return prepare(s->w, sql, &s->seg_upd);
}

static int find_next_seq(struct store *s)
{
	s->next_seq = 1;
	for (size_t i = s->nseg; i-- > 0;) {
		char sql[96];
		sqlite3_stmt *st = NULL;
		snprintf(sql, sizeof(sql), "SELECT max(seq) FROM ev_%lld", (long long)s->segs[i].id);
		if (sqlite3_prepare_v2(s->w, sql, -1, &st, NULL) != SQLITE_OK)
			return sql_err(s->w, "max seq");
		bool found = false;
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			s->next_seq = sqlite3_column_int64(st, 0) + 1;
			found = true;
		}
		sqlite3_finalize(st);
		if (found)
			break;
	}
	return 0;
}

int store_open(struct store **out, const struct store_config *cfg)
{
	struct store *s = calloc(1, sizeof(*s));
	int rc = 0;
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->seg_mu, NULL);
	pthread_mutex_init(&s->rd_mu, NULL);
	pthread_cond_init(&s->rd_cv, NULL);
	pthread_mutex_init(&s->adm_mu, NULL);
	s->segment_rows = cfg->segment_rows > 0 ? cfg->segment_rows : 2000000;
	if (!(s->path = strdup(cfg->dir))) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = open_conn(s->path, false, cfg->cache_mb > 0 ? cfg->cache_mb : 64, &s->w)) < 0)
		goto fail;
	if ((rc = migrate(s->w)) < 0 || (rc = load_segments(s)) < 0)
		goto fail;
	if (s->nseg == 0) {
		if ((rc = exec(s->w, "BEGIN IMMEDIATE")) < 0)
			goto fail;
		if ((rc = create_segment_sql(s, 1)) < 0 || (rc = exec(s->w, "COMMIT")) < 0) {
			exec(s->w, "ROLLBACK");
			goto fail;
		}
		if (!seg_push(s, 1)) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	if ((rc = find_next_seq(s)) < 0 || (rc = prepare_writer_stmts(s)) < 0)
		goto fail;
	if ((rc = prepare(s->w,
			  "INSERT INTO file_offsets(path, dev, ino, offset, updated_at)"
			  " VALUES(?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET dev=excluded.dev,"
			  " ino=excluded.ino, offset=excluded.offset, updated_at=excluded.updated_at",
			  &s->off_upsert)) < 0)
		goto fail;
	if ((rc = facets_init(&s->facets, s->w)) < 0)
		goto fail;
	if ((rc = open_conn(s->path, false, 2, &s->adm)) < 0)
		goto fail;
	s->nrd = cfg->readers > 0 ? (cfg->readers < MAX_READERS ? cfg->readers : MAX_READERS) : 4;
	for (int i = 0; i < s->nrd; i++) {
		if ((rc = open_conn(s->path, true, 8, &s->rd[i])) < 0)
			goto fail;
		if ((rc = register_functions(s->rd[i])) < 0)
			goto fail;
	}
	log_info(SUB, "opened '%s': %zu segments, %" PRId64 " events", s->path, s->nseg,
		 s->events_total);
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->in_txn)
		store_rollback(s);
	finalize_writer_stmts(s);
	sqlite3_finalize(s->off_upsert);
	facets_release(&s->facets);
	for (size_t i = 0; i < s->nseg; i++)
		sqlite3_finalize(s->segs[i].probe);
	if (s->w) {
		/* Leave a small WAL behind: a clean stop checkpoints it. */
		sqlite3_exec(s->w, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
		sqlite3_close(s->w);
	}
	for (int i = 0; i < s->nrd; i++)
		sqlite3_close(s->rd[i]);
	sqlite3_close(s->adm);
	pthread_mutex_destroy(&s->seg_mu);
	pthread_mutex_destroy(&s->rd_mu);
	pthread_cond_destroy(&s->rd_cv);
	pthread_mutex_destroy(&s->adm_mu);
	free(s->segs);
	free(s->path);
	free(s);
}

/* ---- writer ---- */

static int roll_segment(struct store *s)
{
	struct segment *cur = &s->segs[s->nseg - 1];
	int64_t id = cur->id + 1;
	char sql[96];
	int rc;
	if ((rc = exec(s->w, "BEGIN IMMEDIATE")) < 0)
		return rc;
	snprintf(sql, sizeof(sql), "UPDATE segments SET sealed = 1 WHERE id = %lld",
		 (long long)cur->id);
	if ((rc = exec(s->w, sql)) < 0 || (rc = create_segment_sql(s, id)) < 0)
		goto fail;
	snprintf(sql, sizeof(sql), "INSERT INTO ev_%lld_fts(ev_%lld_fts) VALUES('optimize')",
		 (long long)cur->id, (long long)cur->id);
	if ((rc = exec(s->w, sql)) < 0 || (rc = exec(s->w, "COMMIT")) < 0)
		goto fail;
	pthread_mutex_lock(&s->seg_mu);
	s->segs[s->nseg - 1].sealed = true;
	struct segment *g = seg_push(s, id);
	pthread_mutex_unlock(&s->seg_mu);
	if (!g)
		return -ENOMEM;
	log_info(SUB, "segment %lld sealed, segment %lld started", (long long)(id - 1),
		 (long long)id);
	return prepare_writer_stmts(s);
fail:
	exec(s->w, "ROLLBACK");
	return rc;
}

int store_begin(struct store *s)
{
	int rc;
	if (s->segs[s->nseg - 1].rows >= s->segment_rows && (rc = roll_segment(s)) < 0)
		return rc;
	if ((rc = exec(s->w, "BEGIN IMMEDIATE")) < 0)
		return rc;
	s->in_txn = true;
	s->txn_min_ts = INT64_MAX;
	s->txn_max_ts = INT64_MIN;
	s->txn_rows = 0;
	facets_reset(&s->facets);
	return 0;
}

static void bind_sv(sqlite3_stmt *st, int i, struct sv v)
{
	if (v.p)
		sqlite3_bind_text(st, i, v.p, (int)v.n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Is id already in a sealed segment whose time range can hold it? Only events older than
 * the newest sealed data (late or replayed) ever reach a probe. */
static int probe_sealed(struct store *s, const struct event *ev, bool *found)
{
	int64_t lo = ev->ts, hi = ev->ts;
	*found = false;
	if (ev->flags & EV_TS_MISSING) {
		/* A retry without a timestamp got a new one: look back a day. */
		lo = ev->ts - 86400LL * 1000000;
	}
	for (size_t i = s->nseg - 1; i-- > 0;) {
		struct segment *g = &s->segs[i];
		if (g->rows == 0 || g->max_ts < lo || g->min_ts > hi)
			continue;
		if (!g->probe) {
			char sql[96];
			snprintf(sql, sizeof(sql), "SELECT 1 FROM ev_%lld WHERE id = ?", (long long)g->id);
			int rc = prepare(s->w, sql, &g->probe);
			if (rc < 0)
				return rc;
		}
		sqlite3_bind_blob(g->probe, 1, ev->id, 16, SQLITE_STATIC);
		int r = sqlite3_step(g->probe);
		sqlite3_reset(g->probe);
		if (r == SQLITE_ROW) {
			*found = true;
			return 0;
		}
		if (r != SQLITE_DONE)
			return sql_err(s->w, "probe");
	}
	return 0;
}

int store_append(struct store *s, const struct event *ev, bool *dup)
{
	sqlite3_stmt *st = s->ins;
	int rc;
	if ((rc = probe_sealed(s, ev, dup)) < 0 || *dup)
		return rc;
	int64_t seq = s->next_seq;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, ev->ts);
	sqlite3_bind_blob(st, 3, ev->id, 16, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, ev->received_at);
	bind_sv(st, 5, ev->source_host);
	bind_sv(st, 6, ev->os_type);
	bind_sv(st, 7, ev->event_type);
	sqlite3_bind_int(st, 8, ev->severity);
	bind_sv(st, 9, ev->level);
	if (ev->flags & EV_HAS_IP)
		sqlite3_bind_blob(st, 10, ev->ip, 16, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 10);
	bind_sv(st, 11, ev->user);
	bind_sv(st, 12, ev->app);
	bind_sv(st, 13, ev->message);
	bind_sv(st, 14, ev->raw_message);
	bind_sv(st, 15, ev->request_id);
	bind_sv(st, 16, ev->user_agent);
	bind_sv(st, 17, ev->http_method);
	bind_sv(st, 18, ev->http_path);
	if (ev->flags & EV_HAS_HTTP_STATUS)
		sqlite3_bind_int(st, 19, ev->http_status);
	else
		sqlite3_bind_null(st, 19);
	if (ev->flags & EV_HAS_LATENCY)
		sqlite3_bind_double(st, 20, ev->latency_ms);
	else
		sqlite3_bind_null(st, 20);
	bind_sv(st, 21, ev->error_type);
	bind_sv(st, 22, ev->data);
	bind_sv(st, 23, ev->source);
	bind_sv(st, 24, ev->source_file);
	if (ev->flags & EV_HAS_OFFSET)
		sqlite3_bind_int64(st, 25, ev->source_offset);
	else
		sqlite3_bind_null(st, 25);
	sqlite3_bind_int(st, 26, (int)ev->flags);
	int r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r != SQLITE_DONE)
		return sql_err(s->w, "insert event");
	if (sqlite3_changes(s->w) == 0) {
		*dup = true;
		return 0;
	}
	s->next_seq++;

	/* The text index: message, raw line (when it says more) and path, one document. */
	char stackbuf[2048];
	char *txt = stackbuf;
	size_t need = ev->message.n + ev->raw_message.n + ev->http_path.n + 3;
	if (need > sizeof(stackbuf) && !(txt = malloc(need)))
		return -ENOMEM;
	size_t n = 0;
	if (ev->message.p) {
		memcpy(txt + n, ev->message.p, ev->message.n);
		n += ev->message.n;
		txt[n++] = '\n';
	}
	if (ev->raw_message.p &&
	    !(ev->raw_message.n == ev->message.n &&
	      memcmp(ev->raw_message.p, ev->message.p, ev->message.n) == 0)) {
		memcpy(txt + n, ev->raw_message.p, ev->raw_message.n);
		n += ev->raw_message.n;
		txt[n++] = '\n';
	}
	if (ev->http_path.p) {
		memcpy(txt + n, ev->http_path.p, ev->http_path.n);
		n += ev->http_path.n;
	}
	sqlite3_bind_int64(s->ins_fts, 1, seq);
	sqlite3_bind_text(s->ins_fts, 2, txt, (int)n, SQLITE_STATIC);
	r = sqlite3_step(s->ins_fts);
	sqlite3_reset(s->ins_fts);
	if (txt != stackbuf)
		free(txt);
	if (r != SQLITE_DONE)
		return sql_err(s->w, "insert text index");

	if (ev->ts < s->txn_min_ts)
		s->txn_min_ts = ev->ts;
	if (ev->ts > s->txn_max_ts)
		s->txn_max_ts = ev->ts;
	s->txn_rows++;
	return facets_add(&s->facets, s->segs[s->nseg - 1].id, ev);
}

int store_set_offset(struct store *s, const char *path, uint64_t dev, uint64_t ino,
		     int64_t offset)
{
	sqlite3_stmt *st = s->off_upsert;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)dev);
	sqlite3_bind_int64(st, 3, (int64_t)ino);
	sqlite3_bind_int64(st, 4, offset);
	sqlite3_bind_int64(st, 5, ts_now_us());
	int r = sqlite3_step(st);
	sqlite3_reset(st);
	return r == SQLITE_DONE ? 0 : sql_err(s->w, "save offset");
}

int store_commit(struct store *s)
{
	int rc;
	if (s->txn_rows > 0) {
		sqlite3_bind_int64(s->seg_upd, 1, s->txn_min_ts);
		sqlite3_bind_int64(s->seg_upd, 2, s->txn_max_ts);
		sqlite3_bind_int64(s->seg_upd, 3, s->txn_rows);
		int r = sqlite3_step(s->seg_upd);
		sqlite3_reset(s->seg_upd);
		if (r != SQLITE_DONE) {
			rc = sql_err(s->w, "update segment");
			store_rollback(s);
			return rc;
		}
		if ((rc = facets_flush(&s->facets)) < 0) {
			store_rollback(s);
			return rc;
		}
	}
	if ((rc = exec(s->w, "COMMIT")) < 0) {
		store_rollback(s);
		return rc;
	}
	s->in_txn = false;
	pthread_mutex_lock(&s->seg_mu);
	struct segment *g = &s->segs[s->nseg - 1];
	if (s->txn_rows > 0) {
		if (s->txn_min_ts < g->min_ts)
			g->min_ts = s->txn_min_ts;
		if (s->txn_max_ts > g->max_ts)
			g->max_ts = s->txn_max_ts;
		g->rows += s->txn_rows;
		s->events_total += s->txn_rows;
	}
	s->last_commit_us = ts_now_us();
	pthread_mutex_unlock(&s->seg_mu);
	return 0;
}

void store_rollback(struct store *s)
{
	if (!s->in_txn)
		return;
	sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
	s->in_txn = false;
	/* seq values handed out in the failed transaction are simply skipped. */
}

/* ---- readers ---- */

static sqlite3 *reader_get(struct store *s, int *slot)
{
	pthread_mutex_lock(&s->rd_mu);
	for (;;) {
		for (int i = 0; i < s->nrd; i++) {
			if (!s->rd_busy[i]) {
				s->rd_busy[i] = true;
				pthread_mutex_unlock(&s->rd_mu);
				*slot = i;
				return s->rd[i];
			}
		}
		pthread_cond_wait(&s->rd_cv, &s->rd_mu);
	}
}

static void reader_put(struct store *s, int slot)
{
	pthread_mutex_lock(&s->rd_mu);
	s->rd_busy[slot] = false;
	pthread_cond_signal(&s->rd_cv);
	pthread_mutex_unlock(&s->rd_mu);
}

/* A copy of the segment list, newest first, for one query. */
static int seg_snapshot(struct store *s, struct segment **out, size_t *n)
{
	pthread_mutex_lock(&s->seg_mu);
	struct segment *c = malloc((s->nseg ? s->nseg : 1) * sizeof(*c));
	if (!c) {
		pthread_mutex_unlock(&s->seg_mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->nseg; i++) {
		c[i] = s->segs[s->nseg - 1 - i];
		c[i].probe = NULL;
	}
	*n = s->nseg;
	pthread_mutex_unlock(&s->seg_mu);
	*out = c;
	return 0;
}

#define EV_COLS                                                                            \
	"seq, ts, id, received_at, host, os_type, event_type, severity, level, ip, user, app," \
	" message, raw, request_id, user_agent, http_method, http_path, http_status,"        \
	" latency_ms, error_type, data, source, source_file, source_offset, flags"

static struct sv col_sv(sqlite3_stmt *st, int i)
{
	struct sv v = { NULL, 0 };
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return v;
	v.p = (const char *)sqlite3_column_text(st, i);
	v.n = (size_t)sqlite3_column_bytes(st, i);
	if (!v.p)
		v.p = "";
	return v;
}

/* Row (selected with EV_COLS) -> JSON object. */
static json_t *row_to_json(sqlite3_stmt *st, bool full)
{
	struct event ev;
	char ipbuf[46];
	memset(&ev, 0, sizeof(ev));
	ev.ts = sqlite3_column_int64(st, 1);
	if (sqlite3_column_bytes(st, 2) == 16)
		memcpy(ev.id, sqlite3_column_blob(st, 2), 16);
	ev.received_at = sqlite3_column_int64(st, 3);
	ev.source_host = col_sv(st, 4);
	ev.os_type = col_sv(st, 5);
	ev.event_type = col_sv(st, 6);
	ev.severity = sqlite3_column_int(st, 7);
	ev.level = col_sv(st, 8);
	ev.flags = (unsigned)sqlite3_column_int(st, 25);
	ev.flags &= ~(unsigned)(EV_HAS_IP | EV_HAS_HTTP_STATUS | EV_HAS_LATENCY | EV_HAS_OFFSET);
	if (sqlite3_column_bytes(st, 9) == 16) {
		memcpy(ev.ip, sqlite3_column_blob(st, 9), 16);
		ev.flags |= EV_HAS_IP;
		ev.source_ip.n = ip_format(ev.ip, ipbuf);
		ev.source_ip.p = ipbuf;
	}
	ev.user = col_sv(st, 10);
	ev.app = col_sv(st, 11);
	ev.message = col_sv(st, 12);
	ev.raw_message = col_sv(st, 13);
	ev.request_id = col_sv(st, 14);
	ev.user_agent = col_sv(st, 15);
	ev.http_method = col_sv(st, 16);
	ev.http_path = col_sv(st, 17);
	if (sqlite3_column_type(st, 18) != SQLITE_NULL) {
		ev.http_status = sqlite3_column_int(st, 18);
		ev.flags |= EV_HAS_HTTP_STATUS;
	}
	if (sqlite3_column_type(st, 19) != SQLITE_NULL) {
		ev.latency_ms = sqlite3_column_double(st, 19);
		ev.flags |= EV_HAS_LATENCY;
	}
	ev.error_type = col_sv(st, 20);
	ev.data = col_sv(st, 21);
	ev.source = col_sv(st, 22);
	ev.source_file = col_sv(st, 23);
	if (sqlite3_column_type(st, 24) != SQLITE_NULL) {
		ev.source_offset = sqlite3_column_int64(st, 24);
		ev.flags |= EV_HAS_OFFSET;
	}
	return event_to_json(&ev, full);
}

/* Growable SQL text with a hard cap. */
struct sqlbuf {
	char b[16384];
	size_t n;
	bool over;
};

static void sb_add(struct sqlbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sqlbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(sb->b + sb->n, sizeof(sb->b) - sb->n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= sizeof(sb->b) - sb->n)
		sb->over = true;
	else
		sb->n += (size_t)m;
}

static void sb_in(struct sqlbuf *sb, const char *col, size_t n)
{
	if (n == 0)
		return;
	sb_add(sb, " AND %s IN (", col);
	for (size_t i = 0; i < n; i++)
		sb_add(sb, i ? ",?" : "?");
	sb_add(sb, ")");
}

/* Build the FTS5 query for q: every term's tokens as prefix tokens, ANDed. A token is a run
 * of ASCII letters/digits or non-ASCII bytes, as the unicode61 tokenizer splits them. */
static int fts_query(const char *q, char *out, size_t outlen)
{
	size_t n = 0;
	bool any = false;
	for (const unsigned char *p = (const unsigned char *)q; *p;) {
		while (*p && !(isalnum(*p) || *p >= 0x80))
			p++;
		if (!*p)
			break;
		const unsigned char *t = p;
		while (*p && (isalnum(*p) || *p >= 0x80))
			p++;
		size_t tl = (size_t)(p - t);
		if (n + tl + 8 >= outlen)
			return -E2BIG;
		if (any)
			out[n++] = ' ';
		out[n++] = '"';
		memcpy(out + n, t, tl);
		n += tl;
		out[n++] = '"';
		out[n++] = '*';
		any = true;
	}
	out[n] = '\0';
	return any ? 0 : -ENOENT;
}

struct hit {
	int64_t ts, seq;
	json_t *ev;
};

/* Keep hits sorted newest first, at most cap of them. */
static void hits_insert(struct hit *h, size_t *n, size_t cap, struct hit x)
{
	size_t i = *n;
	while (i > 0 && (h[i - 1].ts < x.ts || (h[i - 1].ts == x.ts && h[i - 1].seq < x.seq)))
		i--;
	if (i >= cap) {
		json_decref(x.ev);
		return;
	}
	if (*n == cap) {
		json_decref(h[cap - 1].ev);
		(*n)--;
	}
	memmove(&h[i + 1], &h[i], (*n - i) * sizeof(*h));
	h[i] = x;
	(*n)++;
}

static int query_segment(sqlite3 *db, int64_t seg, const struct event_query *q, const char *fts,
			 int want, struct hit *hits, size_t *nhits, size_t cap)
{
	struct sqlbuf sb = { .n = 0, .over = false };
	sqlite3_stmt *st = NULL;
	int rc = 0, k = 1;

	sb_add(&sb, "SELECT " EV_COLS " FROM ev_%lld WHERE ts >= ? AND ts <= ?", (long long)seg);
	if (q->has_cursor)
		sb_add(&sb, " AND (ts < ? OR (ts = ? AND seq < ?))");
	sb_in(&sb, "event_type", q->event_type.n);
	sb_in(&sb, "app", q->app.n);
	sb_in(&sb, "level", q->level.n);
	sb_in(&sb, "os_type", q->os_type.n);
	sb_in(&sb, "host", q->source_host.n);
	sb_in(&sb, "user", q->user.n);
	sb_in(&sb, "request_id", q->request_id.n);
	sb_in(&sb, "severity", q->n_severity);
	sb_in(&sb, "http_status", q->n_status);
	if (q->n_cidr) {
		sb_add(&sb, " AND (");
		for (size_t i = 0; i < q->n_cidr; i++)
			sb_add(&sb, "%s(ip BETWEEN ? AND ?)", i ? " OR " : "");
		sb_add(&sb, ")");
	}
	if (fts)
		sb_add(&sb, " AND seq IN (SELECT rowid FROM ev_%lld_fts WHERE ev_%lld_fts MATCH ?)",
		       (long long)seg, (long long)seg);
	if (q->q && q->q[0])
		sb_add(&sb, " AND siem_text_has(message, raw, http_path, ?)");
	sb_add(&sb, " ORDER BY ts DESC, seq DESC LIMIT %d", want);
	if (sb.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, sb.b, (int)sb.n, &st, NULL) != SQLITE_OK)
		return sql_err(db, "query");
	sqlite3_bind_int64(st, k++, q->from);
	sqlite3_bind_int64(st, k++, q->to);
	if (q->has_cursor) {
		sqlite3_bind_int64(st, k++, q->cursor_ts);
		sqlite3_bind_int64(st, k++, q->cursor_ts);
		sqlite3_bind_int64(st, k++, q->cursor_seq);
	}
	const struct strset *sets[] = { &q->event_type, &q->app, &q->level, &q->os_type,
					&q->source_host, &q->user, &q->request_id };
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		for (size_t j = 0; j < sets[i]->n; j++)
			sqlite3_bind_text(st, k++, sets[i]->v[j], -1, SQLITE_STATIC);
	for (size_t i = 0; i < q->n_severity; i++)
		sqlite3_bind_int(st, k++, q->severity[i]);
	for (size_t i = 0; i < q->n_status; i++)
		sqlite3_bind_int(st, k++, q->http_status[i]);
	for (size_t i = 0; i < q->n_cidr; i++) {
		sqlite3_bind_blob(st, k++, q->cidr_lo[i], 16, SQLITE_STATIC);
		sqlite3_bind_blob(st, k++, q->cidr_hi[i], 16, SQLITE_STATIC);
	}
	if (fts)
		sqlite3_bind_text(st, k++, fts, -1, SQLITE_STATIC);
	if (q->q && q->q[0])
		sqlite3_bind_text(st, k++, q->q, -1, SQLITE_STATIC);
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct hit h = { sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0), NULL };
		/* Skip building JSON for rows that cannot enter the page. */
		if (*nhits == cap && (hits[cap - 1].ts > h.ts ||
				      (hits[cap - 1].ts == h.ts && hits[cap - 1].seq > h.seq)))
			break;
		if (!(h.ev = row_to_json(st, false))) {
			rc = -ENOMEM;
			break;
		}
		hits_insert(hits, nhits, cap, h);
	}
	if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = sql_err(db, "query step");
	sqlite3_finalize(st);
	return rc;
}

int store_query_events(struct store *s, const struct event_query *q, json_t *out,
		       bool *has_next, int64_t *next_ts, int64_t *next_seq)
{
	struct segment *segs = NULL;
	size_t nseg = 0, nhits = 0, cap = (size_t)q->limit + 1;
	struct hit *hits = NULL;
	char ftsbuf[4096];
	const char *fts = NULL;
	int slot = -1, rc;

	*has_next = false;
	if (q->q && q->q[0]) {
		rc = fts_query(q->q, ftsbuf, sizeof(ftsbuf));
		if (rc == -ENOENT) {
			fts = NULL; /* only punctuation: matches by substring alone below */
		} else if (rc < 0) {
			return rc;
		} else {
			fts = ftsbuf;
		}
	}
	if ((rc = seg_snapshot(s, &segs, &nseg)) < 0)
		return rc;
	if (!(hits = calloc(cap, sizeof(*hits)))) {
		rc = -ENOMEM;
		goto out;
	}
	sqlite3 *db = reader_get(s, &slot);
	if ((rc = exec(db, "BEGIN")) < 0)
		goto out;
	int64_t upper = q->has_cursor && q->cursor_ts < q->to ? q->cursor_ts : q->to;
	/* Segments newest first by max_ts, so that the page fills early and the rest is cut. */
	for (size_t i = 1; i < nseg; i++) {
		struct segment x = segs[i];
		size_t j = i;
		while (j > 0 && segs[j - 1].max_ts < x.max_ts) {
			segs[j] = segs[j - 1];
			j--;
		}
		segs[j] = x;
	}
	for (size_t i = 0; i < nseg; i++) {
		struct segment *g = &segs[i];
		if (g->rows == 0 && i != 0 && g->max_ts == INT64_MIN)
			continue;
		if (g->max_ts < q->from || g->min_ts > upper)
			continue;
		if (nhits == cap && g->max_ts < hits[cap - 1].ts)
			break;
		if ((rc = query_segment(db, g->id, q, fts ? fts : NULL, (int)cap, hits, &nhits, cap)) <
		    0)
			break;
	}
	exec(db, "COMMIT");
	if (rc < 0)
		goto out;
	size_t keep = nhits > (size_t)q->limit ? (size_t)q->limit : nhits;
	for (size_t i = 0; i < keep; i++) {
		json_array_append_new(out, hits[i].ev);
		hits[i].ev = NULL;
	}
	if (nhits > (size_t)q->limit) {
		*has_next = true;
		*next_ts = hits[keep - 1].ts;
		*next_seq = hits[keep - 1].seq;
	}
out:
	if (slot >= 0)
		reader_put(s, slot);
	if (hits)
		for (size_t i = 0; i < nhits; i++)
			json_decref(hits[i].ev);
	free(hits);
	free(segs);
	return rc;
}

int store_get_event(struct store *s, const uint8_t id[16], json_t **out)
{
	struct segment *segs = NULL;
	size_t nseg = 0;
	int slot = -1, rc;
	*out = NULL;
	if ((rc = seg_snapshot(s, &segs, &nseg)) < 0)
		return rc;
	sqlite3 *db = reader_get(s, &slot);
	rc = SIEM_ENOTFOUND;
	for (size_t i = 0; i < nseg && rc == SIEM_ENOTFOUND; i++) {
		char sql[512];
		sqlite3_stmt *st = NULL;
		snprintf(sql, sizeof(sql), "SELECT " EV_COLS " FROM ev_%lld WHERE id = ?",
			 (long long)segs[i].id);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			rc = sql_err(db, "get event");
			break;
		}
		sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			rc = (*out = row_to_json(st, true)) ? 0 : -ENOMEM;
		else if (r != SQLITE_DONE)
			rc = sql_err(db, "get event");
		sqlite3_finalize(st);
	}
	reader_put(s, slot);
	free(segs);
	return rc;
}

int store_distinct(struct store *s, enum store_distinct_field f, const char *app, json_t *out)
{
	int slot = -1;
	sqlite3 *db = reader_get(s, &slot);
	int rc = facets_query(db, f, app, out);
	reader_put(s, slot);
	return rc;
}

int store_get_offset(struct store *s, const char *path, uint64_t *dev, uint64_t *ino,
		     int64_t *offset, bool *found)
{
	int slot = -1, rc = 0;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = reader_get(s, &slot);
	*found = false;
	*offset = 0;
	if (sqlite3_prepare_v2(db, "SELECT dev, ino, offset FROM file_offsets WHERE path = ?", -1,
			       &st, NULL) != SQLITE_OK) {
		rc = sql_err(db, "get offset");
		goto out;
	}
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*dev = (uint64_t)sqlite3_column_int64(st, 0);
		*ino = (uint64_t)sqlite3_column_int64(st, 1);
		*offset = sqlite3_column_int64(st, 2);
		*found = true;
	}
out:
	sqlite3_finalize(st);
	reader_put(s, slot);
	return rc;
}

/* ---- hub state on the admin connection ---- */

int store_meta_get(struct store *s, const char *key, char **out)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	*out = NULL;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = sql_err(s->adm, "meta get");
		goto out;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		if (v && !(*out = strdup(v)))
			rc = -ENOMEM;
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1,
			       &st, NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "meta set");
		goto out;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sql_err(s->adm, "meta set");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_key_add(struct store *s, const char *name, const char *hash, int64_t *id)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm,
			       "INSERT INTO api_keys(name, hash, created_at) VALUES(?, ?, ?)", -1,
			       &st, NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "add key");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ts_now_us());
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sql_err(s->adm, "add key");
	else if (id)
		*id = sqlite3_last_insert_rowid(s->adm);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_key_find(struct store *s, const char *hash, struct api_key_info *info, bool *found)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	*found = false;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "SELECT id, name, revoked FROM api_keys WHERE hash = ?", -1,
			       &st, NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "find key");
		goto out;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		info->id = sqlite3_column_int64(st, 0);
		const char *n = (const char *)sqlite3_column_text(st, 1);
		snprintf(info->name, sizeof(info->name), "%s", n ? n : "");
		info->revoked = sqlite3_column_int(st, 2) != 0;
		*found = true;
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_key_list(struct store *s, json_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	char buf[32];
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm,
			       "SELECT id, name, created_at, last_seen, revoked FROM api_keys ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "list keys");
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *k = json_object();
		json_object_set_new(k, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(k, "name", json_string((const char *)sqlite3_column_text(st, 1)));
		ts_format(sqlite3_column_int64(st, 2), buf);
		json_object_set_new(k, "created_at", json_string(buf));
		if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
			ts_format(sqlite3_column_int64(st, 3), buf);
			json_object_set_new(k, "last_seen", json_string(buf));
		} else {
			json_object_set_new(k, "last_seen", json_null());
		}
		json_object_set_new(k, "revoked", json_boolean(sqlite3_column_int(st, 4)));
		json_array_append_new(out, k);
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_key_revoke(struct store *s, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "UPDATE api_keys SET revoked = 1 WHERE id = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "revoke key");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sql_err(s->adm, "revoke key");
	else if (sqlite3_changes(s->adm) == 0)
		rc = SIEM_ENOTFOUND;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_key_touch(struct store *s, int64_t id, int64_t now_us)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "UPDATE api_keys SET last_seen = ? WHERE id = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "touch key");
		goto out;
	}
	sqlite3_bind_int64(st, 1, now_us);
	sqlite3_bind_int64(st, 2, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sql_err(s->adm, "touch key");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_stats(struct store *s, struct store_stats *st)
{
	pthread_mutex_lock(&s->seg_mu);
	st->events = s->events_total;
	st->segments = (int64_t)s->nseg;
	st->last_commit_us = s->last_commit_us;
	pthread_mutex_unlock(&s->seg_mu);
	return 0;
}
