/* store_sqlite.c — the embedded store: a main SQLite database for hub state and a
 * directory of segment files for events. The writer thread appends to the active segment
 * (WAL, group commit); a full segment is sealed and a background thread builds its query
 * and text indices in bulk, and checkpoints the active segment's WAL off the write path. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "store/schema.h"
#include "store/stats_rollup.h"
#include "store/store_int.h"

#define SUB "store"

void store_config_defaults(struct store_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dir = "var/minisiem.db";
	cfg->segment_rows = 500000;
	cfg->segment_max_age_s = 86400;
	cfg->cache_mb = 16; /* the writer appends: it needs the right edge of two B-trees */
	cfg->readers = 4;
}

int store_sql_err(sqlite3 *db, const char *what)
{
	log_error(SUB, "%s: %s", what, sqlite3_errmsg(db));
	int ext = sqlite3_extended_errcode(db);
	if ((ext & 0xff) == SQLITE_FULL)
		return -ENOSPC;
	if ((ext & 0xff) == SQLITE_BUSY || (ext & 0xff) == SQLITE_LOCKED)
		return -EBUSY;
	return SIEM_ESQL;
}

int store_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error(SUB, "'%.60s': %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return (sqlite3_extended_errcode(db) & 0xff) == SQLITE_FULL ? -ENOSPC : SIEM_ESQL;
	}
	return 0;
}

/* The text a segment's FTS index holds for an event: message, the raw line when it says
 * more, and the HTTP path. */
static void fn_fts_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *m = (const char *)sqlite3_value_text(argv[0]);
	size_t mn = (size_t)sqlite3_value_bytes(argv[0]);
	const char *r = (const char *)sqlite3_value_text(argv[1]);
	size_t rn = (size_t)sqlite3_value_bytes(argv[1]);
	const char *p = (const char *)sqlite3_value_text(argv[2]);
	size_t pn = (size_t)sqlite3_value_bytes(argv[2]);
	if (r && m && rn == mn && memcmp(r, m, mn) == 0)
		r = NULL, rn = 0;
	size_t n = (m ? mn + 1 : 0) + (r ? rn + 1 : 0) + (p ? pn : 0);
	char *out = sqlite3_malloc64(n + 1);
	if (!out) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	size_t k = 0;
	if (m) {
		memcpy(out, m, mn);
		k = mn;
		out[k++] = '\n';
	}
	if (r) {
		memcpy(out + k, r, rn);
		k += rn;
		out[k++] = '\n';
	}
	if (p) {
		memcpy(out + k, p, pn);
		k += pn;
	}
	sqlite3_result_text(ctx, out, (int)k, sqlite3_free);
}

/* siem_text_has(message, raw, path, q): every whitespace-separated term of q occurs in one
 * of the three texts, ASCII case-insensitively, starting at the start of a word (as the text
 * index matches word prefixes). The exact check behind the text index. */
static bool has_term(const unsigned char *t, size_t tn, const unsigned char *w, size_t wn)
{
	if (!t || wn > tn)
		return false;
	int first = tolower(w[0]);
	/* Bytes of non-ASCII letters count as word characters, as the index sees them. */
	bool word = isalnum(w[0]) || w[0] >= 0x80;
	for (size_t i = 0; i + wn <= tn; i++) {
		if (tolower(t[i]) != first ||
		    (word && i > 0 && (isalnum(t[i - 1]) || t[i - 1] >= 0x80)))
			continue;
		size_t j = 1;
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

/* A new database file is made 0600 before SQLite opens it: SQLite would create it 0644 less
 * the umask, and gives its -wal and -shm the mode of the main file. */
static void create_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

int store_open_conn(const char *path, bool readonly, int cache_mb, sqlite3 **out)
{
	int flags = SQLITE_OPEN_NOMUTEX |
		    (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	sqlite3 *db = NULL;
	char sql[320];
	int rc;
	if (!readonly)
		create_private(path);
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		log_error(SUB, "cannot open '%s': %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return SIEM_ESQL;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	if (readonly)
		snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY;",
			 cache_mb * 1024);
	else
		snprintf(sql, sizeof(sql),
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-%d;"
			 " PRAGMA temp_store=MEMORY; PRAGMA secure_delete=OFF;"
			 " PRAGMA journal_size_limit=67108864;",
			 cache_mb * 1024);
	if ((rc = store_exec(db, sql)) < 0)
		goto fail;
	if (sqlite3_create_function(db, "siem_text_has", 4, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, fn_text_has, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "siem_fts_text", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, fn_fts_text, NULL, NULL) != SQLITE_OK) {
		rc = store_sql_err(db, "register functions");
		goto fail;
	}
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return rc;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return store_sql_err(db, "prepare");
	return 0;
}

/* ---- main database ---- */

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
	if ((rc = store_exec(db, "BEGIN IMMEDIATE")) < 0)
		return rc;
	for (int v = version; v < schema_version; v++) {
		if ((rc = store_exec(db, schema_migrations[v])) < 0)
			goto fail;
		log_info(SUB, "schema migrated to version %d", v + 1);
	}
	char sql[128];
	snprintf(sql, sizeof(sql),
		 "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '%d')",
		 schema_version);
	if ((rc = store_exec(db, sql)) < 0 || (rc = store_exec(db, "COMMIT")) < 0)
		goto fail;
	return 0;
fail:
	store_exec(db, "ROLLBACK");
	return rc;
}

/* ---- segments ---- */

static char *seg_path(struct store *s, int64_t id)
{
	size_t n = strlen(s->segdir) + 32;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/seg-%08lld.db", s->segdir, (long long)id);
	return p;
}

static void seg_free(struct segment *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->nidle; i++)
		sqlite3_close(g->idle[i]);
	sqlite3_finalize(g->probe);
	sqlite3_close(g->probe_db);
	if (g->ids) {
		idset_release(g->ids);
		free(g->ids);
	}
	memidx_free(g->mem);
	free(g->path);
	free(g);
}

static int seg_append(struct store *s, struct segment *g)
{
	if (s->nseg == s->capseg) {
		size_t cap = s->capseg ? s->capseg * 2 : 16;
		struct segment **n = realloc(s->segs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->segs = n;
		s->capseg = cap;
	}
	s->segs[s->nseg++] = g;
	return 0;
}

/* Bring a segment file made by an older version up to segment_version, in one transaction.
 * Adding a column rewrites no row: the events already there read it as NULL. */
static int seg_migrate(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int version = 0, rc;
	char sql[64];
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return store_sql_err(db, "segment version");
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version == segment_version)
		return 0;
	if (version > segment_version) {
		log_error(SUB, "segment %lld has version %d, newer than this build (%d)",
			  (long long)id, version, segment_version);
		return SIEM_ESQL;
	}
	if ((rc = store_exec(db, "BEGIN IMMEDIATE")) < 0)
		return rc;
	for (int v = version; v < segment_version; v++)
		if ((rc = store_exec(db, segment_migrations[v])) < 0)
			goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", segment_version);
	if ((rc = store_exec(db, sql)) < 0 || (rc = store_exec(db, "COMMIT")) < 0)
		goto fail;
	log_info(SUB, "segment %lld migrated from version %d to %d", (long long)id, version,
		 segment_version);
	return 0;
fail:
	store_exec(db, "ROLLBACK");
	return rc;
}

/* Read a segment file's own description, migrating an older file first. -ENOENT when it has
 * none (a creation that did not finish). */
static int seg_load(struct store *s, int64_t id, struct segment **out)
{
	struct segment *g = calloc(1, sizeof(*g));
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;
	if (!g || !(g->path = seg_path(s, id))) {
		free(g);
		return -ENOMEM;
	}
	g->id = id;
	if ((rc = store_open_conn(g->path, false, 2, &db)) < 0)
		goto fail;
	if (sqlite3_prepare_v2(db, "SELECT min_ts, max_ts, rows, state, created_at FROM segment",
			       -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		rc = -ENOENT;
		goto fail;
	}
	g->min_ts = sqlite3_column_int64(st, 0);
	g->max_ts = sqlite3_column_int64(st, 1);
	g->rows = sqlite3_column_int64(st, 2);
	g->state = (enum seg_state)sqlite3_column_int(st, 3);
	g->created_us = sqlite3_column_int64(st, 4);
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = seg_migrate(db, id)) < 0)
		goto fail;
	sqlite3_close(db);
	*out = g;
	return 0;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	seg_free(g);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int load_segments(struct store *s)
{
	DIR *d = opendir(s->segdir);
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		long long id;
		char tail[8];
		if (sscanf(de->d_name, "seg-%8lld.%3s", &id, tail) != 2 || strcmp(tail, "db") != 0 ||
		    strlen(de->d_name) != 15)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *t = realloc(ids, cap * sizeof(*t));
			if (!t) {
				rc = -ENOMEM;
				goto out;
			}
			ids = t;
		}
		ids[n++] = id;
	}
	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp_i64);
	for (size_t i = 0; i < n; i++) {
		struct segment *g = NULL;
		rc = seg_load(s, ids[i], &g);
		if (rc == -ENOENT && i == n - 1) {
			/* The newest file was being created when the hub stopped: start it again. */
			char *p = seg_path(s, ids[i]);
			log_warn(SUB, "removing unfinished segment '%s'", p ? p : "?");
			if (p) {
				unlink(p);
				free(p);
			}
			rc = 0;
			break;
		}
		if (rc < 0) {
			log_error(SUB, "cannot read segment %lld: %s", (long long)ids[i],
				  siem_strerror(rc));
			goto out;
		}
		if ((rc = seg_append(s, g)) < 0) {
			seg_free(g);
			goto out;
		}
		s->events_total += g->rows;
	}
out:
	closedir(d);
	free(ids);
	return rc;
}

static void finalize_writer(struct store *s)
{
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->seg_upd);
	sqlite3_finalize(s->off_upsert);
	sqlite3_finalize(s->dead_ins);
	s->ins = s->seg_upd = s->off_upsert = s->dead_ins = NULL;
	facets_release(&s->facets);
	stats_rollup_free(s->rollup);
	s->rollup = NULL;
	if (s->w) {
		sqlite3_close(s->w);
		s->w = NULL;
	}
}

static int prepare_writer(struct store *s)
{
	int rc;
	if ((rc = prepare(s->w,
			  "INSERT OR IGNORE INTO events(seq, ts, id, received_at, host, os_type,"
			  " event_type, severity, level, ip, user, app, message, raw, request_id,"
			  " user_agent, http_method, http_path, http_status, latency_ms, error_type,"
			  " data, source, source_file, source_offset, flags, ingest_key,"
			  " ingest_key_id)"
			  " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			  &s->ins)) < 0 ||
	    (rc = prepare(s->w,
			  "UPDATE segment SET min_ts = min(min_ts, ?), max_ts = max(max_ts, ?),"
			  " rows = rows + ?",
			  &s->seg_upd)) < 0 ||
	    (rc = prepare(s->w,
			  "INSERT INTO file_offsets(path, dev, ino, offset, updated_at)"
			  " VALUES(?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET dev=excluded.dev,"
			  " ino=excluded.ino, offset=excluded.offset, updated_at=excluded.updated_at",
			  &s->off_upsert)) < 0 ||
	    (rc = prepare(s->w,
			  "INSERT INTO dead_letters(ts, source, source_file, source_offset, reason, raw)"
			  " VALUES(?,?,?,?,?,?)",
			  &s->dead_ins)) < 0)
		return rc;
	if ((rc = facets_init(&s->facets, s->w)) < 0)
		return rc;
	/* stats rollups: one object for the store's life, attached to each segment's writer */
	return stats_rollup_init(&s->rollup, s->w);
}

/* The postings of one event: the fields a selective filter names. */
static int mem_add(struct store *s, const struct sv *vals, const uint8_t *ip, int64_t seq)
{
	int rc = 0;
	pthread_rwlock_wrlock(&s->mem_mu);
	if (!s->mem && !(s->mem = memidx_new(seq)))
		rc = -ENOMEM;
	for (int f = 0; f < MI_IP && rc == 0; f++)
		if (vals[f].p)
			rc = memidx_add(s->mem, f, vals[f].p, vals[f].n, seq);
	if (rc == 0 && ip)
		rc = memidx_add(s->mem, MI_IP, ip, 16, seq);
	pthread_rwlock_unlock(&s->mem_mu);
	return rc;
}

/* The active segment's event_ids and postings into memory (after a restart). */
static int load_ids(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, r;
	if (sqlite3_prepare_v2(s->w,
			       "SELECT id, seq, event_type, app, host, user, request_id, ip"
			       " FROM events ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK)
		return store_sql_err(s->w, "load ids");
	while ((r = sqlite3_step(st)) == SQLITE_ROW && rc == 0) {
		int64_t seq = sqlite3_column_int64(st, 1);
		struct sv vals[MI_IP];
		for (int f = 0; f < MI_IP; f++) {
			vals[f].p = (const char *)sqlite3_column_text(st, 2 + f);
			vals[f].n = (size_t)sqlite3_column_bytes(st, 2 + f);
		}
		const uint8_t *ip = sqlite3_column_bytes(st, 7) == 16 ? sqlite3_column_blob(st, 7) : NULL;
		if ((rc = mem_add(s, vals, ip, seq)) < 0)
			break;
		if (sqlite3_column_bytes(st, 0) == 16) {
			pthread_mutex_lock(&s->ids_mu);
			rc = idset_put(&s->ids, sqlite3_column_blob(st, 0), seq);
			pthread_mutex_unlock(&s->ids_mu);
		}
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = store_sql_err(s->w, "load ids");
	sqlite3_finalize(st);
	return rc;
}

static int open_writer(struct store *s, struct segment *g)
{
	int rc = store_open_conn(g->path, false, s->cache_mb, &s->w);
	if (rc < 0)
		return rc;
	/* Checkpoints run on the indexer thread; this one is only a backstop. */
	if ((rc = store_exec(s->w, "PRAGMA wal_autocheckpoint=32768")) < 0 ||
	    (rc = prepare_writer(s)) < 0)
		return rc;
	return g->rows > 0 ? load_ids(s) : 0;
}

/* Create segment file id, carrying over the file offsets of prev (NULL for none), and make
 * it the writer's. */
static int create_segment(struct store *s, int64_t id, sqlite3 *prev)
{
	struct segment *g = calloc(1, sizeof(*g));
	sqlite3 *db = NULL;
	char sql[256];
	int rc;
	if (!g || !(g->path = seg_path(s, id))) {
		free(g);
		return -ENOMEM;
	}
	g->id = id;
	g->min_ts = INT64_MAX;
	g->max_ts = INT64_MIN;
	g->created_us = ts_now_us();
	g->state = SEG_ACTIVE;
	unlink(g->path);
	if ((rc = store_open_conn(g->path, false, 2, &db)) < 0)
		goto fail;
	if ((rc = store_exec(db, "BEGIN IMMEDIATE")) < 0 || (rc = store_exec(db, segment_schema)) < 0)
		goto fail_txn;
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", segment_version);
	if ((rc = store_exec(db, sql)) < 0)
		goto fail_txn;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO segment(id, min_ts, max_ts, rows, state, created_at)"
		 " VALUES(%lld, %lld, %lld, 0, 0, %lld)",
		 (long long)id, (long long)INT64_MAX, (long long)INT64_MIN, (long long)g->created_us);
	if ((rc = store_exec(db, sql)) < 0)
		goto fail_txn;
	if (prev) {
		sqlite3_stmt *rd = NULL, *wr = NULL;
		if (sqlite3_prepare_v2(prev, "SELECT path, dev, ino, offset, updated_at FROM file_offsets",
				       -1, &rd, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "INSERT INTO file_offsets VALUES(?,?,?,?,?)", -1, &wr,
				       NULL) != SQLITE_OK) {
			sqlite3_finalize(rd);
			rc = store_sql_err(db, "carry offsets");
			goto fail_txn;
		}
		while (rc == 0 && sqlite3_step(rd) == SQLITE_ROW) {
			for (int i = 0; i < 5; i++)
				sqlite3_bind_value(wr, i + 1, sqlite3_column_value(rd, i));
			if (sqlite3_step(wr) != SQLITE_DONE)
				rc = store_sql_err(db, "carry offsets");
			sqlite3_reset(wr);
		}
		sqlite3_finalize(rd);
		sqlite3_finalize(wr);
		if (rc < 0)
			goto fail_txn;
	}
	if ((rc = store_exec(db, "COMMIT")) < 0)
		goto fail_txn;
	sqlite3_close(db);
	db = NULL;
	pthread_mutex_lock(&s->seg_mu);
	rc = seg_append(s, g);
	pthread_mutex_unlock(&s->seg_mu);
	if (rc < 0)
		goto fail;
	return open_writer(s, g);
fail_txn:
	store_exec(db, "ROLLBACK");
fail:
	sqlite3_close(db);
	seg_free(g);
	return rc;
}

/* Seal the active segment and start the next one. */
static int roll_segment(struct store *s)
{
	struct segment *cur = s->segs[s->nseg - 1];
	struct idset *keep = malloc(sizeof(*keep));
	int rc;
	if (!keep)
		return -ENOMEM;
	if ((rc = store_exec(s->w, "UPDATE segment SET state = 1")) < 0) {
		free(keep);
		return rc;
	}
	/* Its ids stay in memory until the indexer has built its id index. */
	pthread_mutex_lock(&s->ids_mu);
	*keep = s->ids;
	cur->ids = keep;
	idset_init(&s->ids);
	pthread_mutex_unlock(&s->ids_mu);
	pthread_rwlock_wrlock(&s->mem_mu);
	cur->mem = s->mem;
	s->mem = NULL;
	pthread_rwlock_unlock(&s->mem_mu);
	sqlite3 *prev = s->w;
	s->w = NULL;
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->seg_upd);
	sqlite3_finalize(s->off_upsert);
	sqlite3_finalize(s->dead_ins);
	s->ins = s->seg_upd = s->off_upsert = s->dead_ins = NULL;
	facets_release(&s->facets);
	stats_rollup_roll(s->rollup); /* stats rollups: its counts wait for the indexer */
	rc = create_segment(s, cur->id + 1, prev);
	sqlite3_close(prev);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->seg_mu);
	cur->state = SEG_SEALED;
	pthread_cond_signal(&s->seg_cv);
	pthread_mutex_unlock(&s->seg_mu);
	log_info(SUB, "segment %lld sealed (%lld events), segment %lld started", (long long)cur->id,
		 (long long)cur->rows, (long long)cur->id + 1);
	return 0;
}

static int find_next_seq(struct store *s)
{
	s->next_seq = 1;
	for (size_t i = s->nseg; i-- > 0;) {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		int rc = store_open_conn(s->segs[i]->path, true, 1, &db);
		if (rc < 0)
			return rc;
		bool found = false;
		if (sqlite3_prepare_v2(db, "SELECT max(seq) FROM events", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			s->next_seq = sqlite3_column_int64(st, 0) + 1;
			found = true;
		}
		sqlite3_finalize(st);
		sqlite3_close(db);
		if (found)
			break;
	}
	return 0;
}

/* ---- indexer thread: bulk indices for sealed segments, WAL checkpoints ---- */

static int index_segment(struct store *s, struct segment *g)
{
	sqlite3 *db = NULL;
	int64_t t0 = ts_now_us();
	int rc = store_open_conn(g->path, false, 16, &db);
	if (rc < 0)
		return rc;
	if (!g->id_indexed) {
		/* The event_id index first, in its own transaction: with it the writer can drop
		 * the segment's in-memory ids even while the rest waits for a busy indexer. */
		if ((rc = store_exec(db, "CREATE INDEX IF NOT EXISTS events_id ON events(id)")) < 0) {
			sqlite3_close(db);
			return rc;
		}
		pthread_mutex_lock(&s->seg_mu);
		g->id_indexed = true;
		pthread_mutex_unlock(&s->seg_mu);
		sqlite3_close(db);
		return 0;
	}
	if ((rc = store_exec(db, "BEGIN IMMEDIATE")) == 0) {
		if ((rc = store_exec(db, segment_index_ddl)) == 0 &&
		    (rc = stats_rollup_seal(s->rollup, g->id, db)) == 0 &&
		    (rc = store_exec(db, "UPDATE segment SET state = 2")) == 0)
			rc = store_exec(db, "COMMIT");
		else
			store_exec(db, "ROLLBACK");
	}
	if (rc == 0)
		sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(db);
	if (rc == 0) {
		stats_rollup_sealed(s->rollup, g->id); /* stats rollups: written, leave memory */
		pthread_mutex_lock(&s->seg_mu);
		g->state = SEG_INDEXED;
		pthread_mutex_unlock(&s->seg_mu);
		log_info(SUB, "segment %lld indexed in %.1f s", (long long)g->id,
			 (double)(ts_now_us() - t0) / 1e6);
	}
	return rc;
}

static void *indexer_main(void *arg)
{
	struct store *s = arg;
	sqlite3 *ckpt = NULL;
	int64_t ckpt_id = 0;
	pthread_mutex_lock(&s->seg_mu);
	while (!s->stopping) {
		struct segment *todo = NULL;
		/* Every sealed segment's id index before any segment's other indices. */
		for (size_t i = 0; i < s->nseg && !todo; i++)
			if (s->segs[i]->state == SEG_SEALED && !s->segs[i]->id_indexed)
				todo = s->segs[i];
		for (size_t i = 0; i < s->nseg && !todo; i++)
			if (s->segs[i]->state == SEG_SEALED)
				todo = s->segs[i];
		if (todo)
			todo->refs++;
		struct segment *active = s->segs[s->nseg - 1];
		int64_t active_id = active->id;
		char *active_path = strdup(active->path);
		pthread_mutex_unlock(&s->seg_mu);

		if (todo) {
			int rc = index_segment(s, todo);
			if (rc < 0)
				log_error(SUB, "cannot index segment %lld: %s", (long long)todo->id,
					  siem_strerror(rc));
			pthread_mutex_lock(&s->seg_mu);
			todo->refs--;
			if (rc < 0) {
				/* Leave it sealed; queries scan it. Retry on the next wake-up. */
				struct timespec until;
				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_sec += 30;
				pthread_cond_timedwait(&s->seg_cv, &s->seg_mu, &until);
			}
			pthread_mutex_unlock(&s->seg_mu);
		}
		/* Checkpoint the active segment's WAL so that the writer never has to. */
		if (active_path && active_id != ckpt_id) {
			sqlite3_close(ckpt);
			ckpt = NULL;
			if (store_open_conn(active_path, false, 1, &ckpt) == 0)
				ckpt_id = active_id;
		}
		free(active_path);
		if (ckpt)
			sqlite3_wal_checkpoint_v2(ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

		pthread_mutex_lock(&s->seg_mu);
		if (!todo && !s->stopping) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 500 * 1000 * 1000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&s->seg_cv, &s->seg_mu, &until);
		}
	}
	pthread_mutex_unlock(&s->seg_mu);
	sqlite3_close(ckpt);
	return NULL;
}

/* ---- open / close ---- */

/* Stores made before their files were private keep their modes: say so once. */
static void warn_if_shared(const struct store *s)
{
	struct stat a, b;
	if ((stat(s->path, &a) == 0 && (a.st_mode & 077)) ||
	    (stat(s->segdir, &b) == 0 && (b.st_mode & 077)))
		log_warn(SUB,
			 "'%s' or '%s' can be read by other users: chmod 600 the store files and "
			 "chmod 700 the folders (see docs/operations.md)",
			 s->path, s->segdir);
}

int store_open(struct store **out, const struct store_config *cfg)
{
	struct store *s = calloc(1, sizeof(*s));
	int rc = 0;
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->seg_mu, NULL);
	pthread_cond_init(&s->seg_cv, NULL);
	pthread_mutex_init(&s->adm_mu, NULL);
	pthread_mutex_init(&s->ids_mu, NULL);
	pthread_rwlock_init(&s->mem_mu, NULL);
	idset_init(&s->ids);
	s->segment_rows = cfg->segment_rows > 0 ? cfg->segment_rows : 1000000;
	s->segment_max_age_us = (cfg->segment_max_age_s > 0 ? cfg->segment_max_age_s : 86400) *
				1000000LL;
	s->cache_mb = cfg->cache_mb > 0 ? cfg->cache_mb : 16;
	size_t n = strlen(cfg->dir) + 16;
	if (!(s->path = strdup(cfg->dir)) || !(s->segdir = malloc(n))) {
		rc = -ENOMEM;
		goto fail;
	}
	snprintf(s->segdir, n, "%s-segments", cfg->dir);
	if (mkdir(s->segdir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		log_error(SUB, "cannot create '%s': %s", s->segdir, strerror(errno));
		goto fail;
	}
	if ((rc = store_open_conn(s->path, false, 2, &s->adm)) < 0 || (rc = migrate(s->adm)) < 0)
		goto fail;
	warn_if_shared(s);
	if ((s->state_only = cfg->state_only)) {
		*out = s;
		return 0;
	}
	if ((rc = load_segments(s)) < 0)
		goto fail;
	struct segment *last = s->nseg ? s->segs[s->nseg - 1] : NULL;
	if (last && last->state == SEG_ACTIVE) {
		if ((rc = open_writer(s, last)) < 0)
			goto fail;
	} else {
		/* No segment yet, or the hub stopped between sealing one and starting the next. */
		sqlite3 *prev = NULL;
		if (last && (rc = store_open_conn(last->path, true, 1, &prev)) < 0)
			goto fail;
		rc = create_segment(s, last ? last->id + 1 : 1, prev);
		sqlite3_close(prev);
		if (rc < 0)
			goto fail;
	}
	if ((rc = find_next_seq(s)) < 0)
		goto fail;
	int err = pthread_create(&s->indexer, NULL, indexer_main, s);
	if (err) {
		rc = -err;
		goto fail;
	}
	s->indexer_started = true;
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
	if (s->indexer_started) {
		pthread_mutex_lock(&s->seg_mu);
		s->stopping = true;
		pthread_cond_signal(&s->seg_cv);
		pthread_mutex_unlock(&s->seg_mu);
		pthread_join(s->indexer, NULL);
	}
	if (s->in_txn)
		store_rollback(s);
	if (s->w)
		sqlite3_exec(s->w, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	finalize_writer(s);
	for (size_t i = 0; i < s->nseg; i++)
		seg_free(s->segs[i]);
	sqlite3_close(s->adm);
	idset_release(&s->ids);
	memidx_free(s->mem);
	free(s->txn_ids);
	pthread_mutex_destroy(&s->ids_mu);
	pthread_rwlock_destroy(&s->mem_mu);
	pthread_mutex_destroy(&s->seg_mu);
	pthread_cond_destroy(&s->seg_cv);
	pthread_mutex_destroy(&s->adm_mu);
	free(s->segs);
	free(s->segdir);
	free(s->path);
	free(s);
}

/* ---- writer ---- */

int store_begin(struct store *s)
{
	int rc;
	pthread_mutex_lock(&s->seg_mu);
	for (size_t i = 0; i + 1 < s->nseg; i++) {
		struct segment *x = s->segs[i];
		if (x->mem && x->state == SEG_INDEXED) {
			pthread_rwlock_wrlock(&s->mem_mu);
			memidx_free(x->mem);
			x->mem = NULL;
			pthread_rwlock_unlock(&s->mem_mu);
		}
		if (x->ids && (x->state == SEG_INDEXED || x->id_indexed)) {
			pthread_mutex_lock(&s->ids_mu);
			idset_release(x->ids);
			free(x->ids);
			x->ids = NULL;
			pthread_mutex_unlock(&s->ids_mu);
		}
	}
	pthread_mutex_unlock(&s->seg_mu);
	struct segment *g = s->segs[s->nseg - 1];
	bool full = g->rows >= s->segment_rows ||
		    (g->rows > 0 && ts_now_us() - g->created_us > s->segment_max_age_us);
	if (full && (rc = roll_segment(s)) < 0)
		return rc;
	if ((rc = store_exec(s->w, "BEGIN IMMEDIATE")) < 0)
		return rc;
	s->in_txn = true;
	s->txn_min_ts = INT64_MAX;
	s->txn_max_ts = INT64_MIN;
	s->txn_rows = 0;
	s->ntxn_ids = 0;
	facets_reset(&s->facets);
	stats_rollup_reset(s->rollup);
	return 0;
}

static void bind_sv(sqlite3_stmt *st, int i, struct sv v)
{
	if (v.p)
		sqlite3_bind_text(st, i, v.p, (int)v.n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Is the id already in a sealed segment whose time range can hold it? Live events are newer
 * than everything sealed, so only late or replayed ones ever reach a probe. */
static int probe_sealed(struct store *s, const struct event *ev, bool *found)
{
	int64_t lo = ev->ts, hi = ev->ts;
	*found = false;
	if (ev->flags & EV_TS_MISSING)
		lo = ev->ts - 86400LL * 1000000; /* a retry without a timestamp got a new one */
	for (size_t i = s->nseg - 1; i-- > 0;) {
		struct segment *g = s->segs[i];
		if (g->rows == 0 || g->max_ts < lo || g->min_ts > hi)
			continue;
		if (g->ids) { /* only this thread changes it: no lock to read */
			if (idset_get(g->ids, ev->id)) {
				*found = true;
				return 0;
			}
			continue;
		}
		if (!g->probe) {
			int rc = store_open_conn(g->path, true, 2, &g->probe_db);
			if (rc < 0 || (rc = prepare(g->probe_db, "SELECT 1 FROM events WHERE id = ?",
						    &g->probe)) < 0)
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
			return store_sql_err(g->probe_db, "probe");
	}
	return 0;
}

int store_append(struct store *s, const struct event *ev, bool *dup)
{
	sqlite3_stmt *st = s->ins;
	int rc;
	if (idset_get(&s->ids, ev->id)) {
		*dup = true;
		return 0;
	}
	if ((rc = probe_sealed(s, ev, dup)) < 0 || *dup)
		return rc;
	if (s->ntxn_ids == s->captxn_ids) {
		size_t cap = s->captxn_ids ? s->captxn_ids * 2 : 4096;
		uint8_t(*n)[16] = realloc(s->txn_ids, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->txn_ids = n;
		s->captxn_ids = cap;
	}
	sqlite3_bind_int64(st, 1, s->next_seq);
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
	bind_sv(st, 27, ev->ingest_key);
	if (ev->ingest_key.p && ev->ingest_key_id > 0)
		sqlite3_bind_int64(st, 28, ev->ingest_key_id);
	else
		sqlite3_bind_null(st, 28);
	int r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r != SQLITE_DONE)
		return store_sql_err(s->w, "insert event");
	if (sqlite3_changes(s->w) == 0) {
		*dup = true;
		return 0;
	}
	pthread_mutex_lock(&s->ids_mu);
	rc = idset_put(&s->ids, ev->id, s->next_seq);
	pthread_mutex_unlock(&s->ids_mu);
	if (rc < 0)
		return rc;
	memcpy(s->txn_ids[s->ntxn_ids++], ev->id, 16);
	const struct sv vals[MI_IP] = { ev->event_type, ev->app, ev->source_host, ev->user,
					ev->request_id };
	if ((rc = mem_add(s, vals, (ev->flags & EV_HAS_IP) ? ev->ip : NULL, s->next_seq)) < 0)
		return rc;
	s->next_seq++;
	if (ev->ts < s->txn_min_ts)
		s->txn_min_ts = ev->ts;
	if (ev->ts > s->txn_max_ts)
		s->txn_max_ts = ev->ts;
	s->txn_rows++;
	if ((rc = facets_add(&s->facets, ev)) < 0)
		return rc;
	return stats_rollup_add(s->rollup, ev);
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
	return r == SQLITE_DONE ? 0 : store_sql_err(s->w, "save offset");
}

int store_add_dead_letter(struct store *s, const char *source, const char *file, int64_t offset,
			  const char *reason, const char *raw, size_t raw_n, int64_t now_us)
{
	sqlite3_stmt *st = s->dead_ins;
	sqlite3_bind_int64(st, 1, now_us);
	sqlite3_bind_text(st, 2, source ? source : "unknown", -1, SQLITE_STATIC);
	if (file)
		sqlite3_bind_text(st, 3, file, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	if (offset >= 0)
		sqlite3_bind_int64(st, 4, offset);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_text(st, 5, reason ? reason : "unknown", -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, raw ? raw : "", (int)(raw_n > EV_CAP_RAW ? EV_CAP_RAW : raw_n),
			  SQLITE_STATIC);
	int r = sqlite3_step(st);
	sqlite3_reset(st);
	return r == SQLITE_DONE ? 0 : store_sql_err(s->w, "dead letter");
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
			rc = store_sql_err(s->w, "update segment");
			store_rollback(s);
			return rc;
		}
		if ((rc = facets_flush(&s->facets)) < 0 || (rc = stats_rollup_flush(s->rollup)) < 0) {
			store_rollback(s);
			return rc;
		}
	}
	if ((rc = store_exec(s->w, "COMMIT")) < 0) {
		store_rollback(s);
		return rc;
	}
	stats_rollup_commit(s->rollup); /* stats rollups: readers may now see its counts */
	s->in_txn = false;
	pthread_mutex_lock(&s->seg_mu);
	struct segment *g = s->segs[s->nseg - 1];
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
	pthread_mutex_lock(&s->ids_mu);
	for (size_t i = 0; i < s->ntxn_ids; i++)
		idset_del(&s->ids, s->txn_ids[i]);
	pthread_mutex_unlock(&s->ids_mu);
	s->ntxn_ids = 0;
	stats_rollup_reset(s->rollup);
	/* seq values handed out in the failed transaction are skipped, never reused. */
}

int store_retain(struct store *s, int64_t cutoff_us, int64_t *removed_segments,
		 int64_t *removed_events)
{
	struct segment *gone[64];
	size_t ngone = 0;
	*removed_segments = *removed_events = 0;
	pthread_mutex_lock(&s->seg_mu);
	/* Oldest first; never the active segment; one that is in use waits for next time. */
	for (size_t i = 0; i + 1 < s->nseg && ngone < sizeof(gone) / sizeof(gone[0]);) {
		struct segment *g = s->segs[i];
		if (g->max_ts >= cutoff_us)
			break;
		if (g->refs > 0) {
			i++;
			continue;
		}
		gone[ngone++] = g;
		memmove(&s->segs[i], &s->segs[i + 1], (s->nseg - i - 1) * sizeof(*s->segs));
		s->nseg--;
		s->events_total -= g->rows;
		s->removed_segments++;
		s->removed_events += g->rows;
		*removed_events += g->rows;
	}
	pthread_mutex_unlock(&s->seg_mu);
	for (size_t i = 0; i < ngone; i++) {
		struct segment *g = gone[i];
		size_t n = strlen(g->path) + 8;
		char *aux = malloc(n);
		log_info(SUB, "retention: segment %lld removed (%lld events, newest %lld s old)",
			 (long long)g->id, (long long)g->rows,
			 (long long)((ts_now_us() - g->max_ts) / 1000000));
		if (unlink(g->path) < 0)
			log_warn(SUB, "cannot remove '%s': %s", g->path, strerror(errno));
		for (int k = 0; aux && k < 2; k++) {
			snprintf(aux, n, "%s%s", g->path, k ? "-shm" : "-wal");
			unlink(aux);
		}
		free(aux);
		seg_free(g);
	}
	*removed_segments = (int64_t)ngone;
	return 0;
}

/* Copy one database file as of one moment, then check the copy. */
static int vacuum_into(const char *from, const char *to)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = store_open_conn(from, true, 2, &db);
	if (rc < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "VACUUM INTO ?", -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(db, "backup");
		goto out;
	}
	create_private(to); /* VACUUM INTO takes an empty file */
	sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_sql_err(db, "backup");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	sqlite3_close(db);
	db = NULL;
	/* The copy must open and pass a quick check. */
	if ((rc = store_open_conn(to, true, 2, &db)) < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		log_error(SUB, "backup copy '%s' fails its check", to);
		rc = SIEM_ESQL;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* snprintf that reports truncation instead of hiding it. */
static int path_fmt(char *buf, size_t len, const char *fmt, const char *a, const char *b)
{
	int n = snprintf(buf, len, fmt, a, b);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int store_backup(const char *db_path, const char *dest)
{
	char src[4096], dst[4096], from[4096], to[4096];
	int rc;
	const char *base = strrchr(db_path, '/');
	base = base ? base + 1 : db_path;
	if ((rc = path_fmt(src, sizeof(src), "%s%s", db_path, "-segments")) < 0 ||
	    (rc = path_fmt(dst, sizeof(dst), "%s/%s-segments", dest, base)) < 0)
		return rc;
	if (mkdir(dest, 0700) < 0) {
		log_error(SUB, "cannot create '%s': %s", dest, strerror(errno));
		return -errno;
	}
	/* The same layout as the live store: DEST/NAME and DEST/NAME-segments/. */
	if (mkdir(dst, 0700) < 0)
		return -errno;
	if ((rc = path_fmt(to, sizeof(to), "%s/%s", dest, base)) < 0 ||
	    (rc = vacuum_into(db_path, to)) < 0)
		return rc;
	DIR *d = opendir(src);
	if (!d)
		return -errno;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		long long id;
		char tail[8];
		if (sscanf(de->d_name, "seg-%8lld.%3s", &id, tail) != 2 || strcmp(tail, "db") != 0 ||
		    strlen(de->d_name) != 15)
			continue;
		if ((rc = path_fmt(from, sizeof(from), "%s/%s", src, de->d_name)) < 0 ||
		    (rc = path_fmt(to, sizeof(to), "%s/%s", dst, de->d_name)) < 0)
			break;
		if (access(from, F_OK) < 0)
			continue; /* removed by retention meanwhile */
		rc = vacuum_into(from, to);
	}
	closedir(d);
	return rc;
}

int store_stats(struct store *s, struct store_stats *st)
{
	pthread_mutex_lock(&s->seg_mu);
	st->events = s->events_total;
	st->oldest_ts = s->nseg ? s->segs[0]->max_ts : 0;
	st->removed_segments = s->removed_segments;
	st->removed_events = s->removed_events;
	st->segments = (int64_t)s->nseg;
	st->last_commit_us = s->last_commit_us;
	st->unindexed = 0;
	for (size_t i = 0; i < s->nseg; i++)
		st->unindexed += s->segs[i]->state == SEG_SEALED;
	pthread_mutex_unlock(&s->seg_mu);
	return 0;
}

/* ---- snapshots and read connections (used by store_query.c) ---- */

int store_snapshot(struct store *s, struct seg_view **out, size_t *n)
{
	pthread_mutex_lock(&s->seg_mu);
	struct seg_view *v = malloc((s->nseg ? s->nseg : 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&s->seg_mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->nseg; i++) {
		struct segment *g = s->segs[s->nseg - 1 - i];
		g->refs++;
		v[i] = (struct seg_view){ g, g->id, g->min_ts, g->max_ts, g->rows, g->state };
	}
	*n = s->nseg;
	pthread_mutex_unlock(&s->seg_mu);
	*out = v;
	return 0;
}

void store_snapshot_release(struct store *s, struct seg_view *v, size_t n)
{
	pthread_mutex_lock(&s->seg_mu);
	for (size_t i = 0; i < n; i++)
		v[i].seg->refs--;
	pthread_mutex_unlock(&s->seg_mu);
	free(v);
}

int store_reader_get(struct store *s, struct segment *g, sqlite3 **db)
{
	pthread_mutex_lock(&s->seg_mu);
	if (g->nidle > 0) {
		*db = g->idle[--g->nidle];
		pthread_mutex_unlock(&s->seg_mu);
		return 0;
	}
	pthread_mutex_unlock(&s->seg_mu);
	/* A small cache: queries read few pages of each segment, and one connection per
	 * segment stays open, so this is what memory grows with as the store does. */
	return store_open_conn(g->path, true, 2, db);
}

void store_reader_put(struct store *s, struct segment *g, sqlite3 *db)
{
	pthread_mutex_lock(&s->seg_mu);
	if (g->nidle < SEG_IDLE_READERS) {
		g->idle[g->nidle++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&s->seg_mu);
	sqlite3_close(db);
}

int64_t store_ids_lookup(struct store *s, struct segment *g, const uint8_t id[16], bool *known)
{
	int64_t seq = 0;
	*known = false;
	pthread_mutex_lock(&s->seg_mu);
	bool active = g == s->segs[s->nseg - 1];
	pthread_mutex_unlock(&s->seg_mu);
	pthread_mutex_lock(&s->ids_mu);
	struct idset *set = active ? &s->ids : g->ids;
	if (set) {
		*known = true;
		seq = idset_get(set, id);
	}
	pthread_mutex_unlock(&s->ids_mu);
	return seq;
}

/* Selective enough to read row by row rather than scan (a rowid lookup costs about as much
 * as scanning a few dozen rows). */
#define MEM_CANDIDATES_MAX 20000

static int cmp_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x > y ? -1 : x < y;
}

int store_mem_candidates(struct store *s, struct segment *g, const struct event_query *q,
			 int64_t **out, size_t *n)
{
	const struct strset *sets[MI_IP] = { &q->event_type, &q->app, &q->source_host, &q->user,
					     &q->request_id };
	int rc = 0, best = -1;
	size_t best_total = SIZE_MAX, cap = 0;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->seg_mu);
	bool active = g == s->segs[s->nseg - 1];
	pthread_mutex_unlock(&s->seg_mu);
	pthread_rwlock_rdlock(&s->mem_mu);
	const struct memidx *m = active ? s->mem : g->mem;
	if (!m)
		goto out;
	/* The filter with the fewest events; addresses only when each is a single one. */
	bool exact_ips = q->n_cidr > 0;
	for (size_t i = 0; i < q->n_cidr; i++)
		exact_ips &= memcmp(q->cidr_lo[i], q->cidr_hi[i], 16) == 0;
	for (int f = 0; f <= MI_IP; f++) {
		size_t total = 0;
		if (f < MI_IP && sets[f]->n) {
			for (size_t j = 0; j < sets[f]->n; j++)
				total += memidx_count(m, f, sets[f]->v[j], strlen(sets[f]->v[j]));
		} else if (f == MI_IP && exact_ips) {
			for (size_t j = 0; j < q->n_cidr; j++)
				total += memidx_count(m, f, q->cidr_lo[j], 16);
		} else {
			continue;
		}
		if (total < best_total) {
			best_total = total;
			best = f;
		}
	}
	if (best < 0 || best_total > MEM_CANDIDATES_MAX)
		goto out;
	if (best < MI_IP) {
		for (size_t j = 0; j < sets[best]->n && rc == 0; j++)
			rc = memidx_collect(m, best, sets[best]->v[j], strlen(sets[best]->v[j]), out, n,
					    &cap);
	} else {
		for (size_t j = 0; j < q->n_cidr && rc == 0; j++)
			rc = memidx_collect(m, best, q->cidr_lo[j], 16, out, n, &cap);
	}
	rc = rc < 0 ? rc : 1;
out:
	pthread_rwlock_unlock(&s->mem_mu);
	if (rc == 1 && *n > 1) {
		qsort(*out, *n, sizeof(**out), cmp_desc);
		size_t k = 1;
		for (size_t i = 1; i < *n; i++)
			if ((*out)[i] != (*out)[k - 1])
				(*out)[k++] = (*out)[i];
		*n = k;
	}
	if (rc <= 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
