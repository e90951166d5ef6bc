/* store_sqlite.c — the embedded store: a main SQLite database for hub state and a
 * directory of segment files for events (segment.c). store_open and store_close, and the
 * writer thread's side: it appends to the active segment (WAL, group commit) and seals it
 * when full; indexer.c builds a sealed segment's indices in the background. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
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
	cfg->index_cache_mb = 4;
	cfg->pending_bytes = (size_t)32 << 20;
	cfg->readers = 4;
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

/* ---- the writer's connection ---- */

void store_writer_release_stmts(struct sq_store *s)
{
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->seg_upd);
	sqlite3_finalize(s->off_upsert);
	sqlite3_finalize(s->dead_ins);
	s->ins = s->seg_upd = s->off_upsert = s->dead_ins = NULL;
	facets_release(&s->facets);
}

static void finalize_writer(struct sq_store *s)
{
	store_writer_release_stmts(s);
	stats_rollup_free(s->rollup);
	s->rollup = NULL;
	if (s->w) {
		sqlite3_close(s->w);
		s->w = NULL;
	}
}

static int prepare_writer(struct sq_store *s)
{
	int rc;
	if ((rc = prepare(s->w,
			  "INSERT OR IGNORE INTO events(seq" EVENT_FIELDS(
			      EVENT_COL_NAME) ") VALUES(?" EVENT_FIELDS(EVENT_COL_PARAM) ")",
			  &s->ins)) < 0 ||
	    (rc = prepare(s->w,
			  "UPDATE segment SET min_ts = min(min_ts, ?), max_ts = max(max_ts, ?),"
			  " rows = rows + ?",
			  &s->seg_upd)) < 0 ||
	    (rc = prepare(
		 s->w,
		 "INSERT INTO file_offsets(path, dev, ino, offset, updated_at)"
		 " VALUES(?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET dev=excluded.dev,"
		 " ino=excluded.ino, offset=excluded.offset, updated_at=excluded.updated_at",
		 &s->off_upsert)) < 0 ||
	    (rc = prepare(
		 s->w,
		 "INSERT INTO dead_letters(ts, source, source_file, source_offset, reason, raw)"
		 " VALUES(?,?,?,?,?,?)",
		 &s->dead_ins)) < 0)
		return rc;
	if ((rc = facets_init(&s->facets, s->w)) < 0)
		return rc;
	/* stats rollups: one object for the store's life, attached to each segment's writer */
	return stats_rollup_init(&s->rollup, s->w);
}

/* The searched texts of an event: message, the raw line when it differs, the HTTP path. */
static void event_texts(struct sv t[3], struct sv message, struct sv raw, struct sv path)
{
	t[0] = message;
	t[1] = raw;
	if (raw.p && message.p && raw.n == message.n && memcmp(raw.p, message.p, raw.n) == 0)
		t[1] = (struct sv){NULL, 0};
	t[2] = path;
}

/* The postings of one event: the fields a selective filter names; and its texts. The caller
 * holds mem_mu for writing. */
static int mem_add_locked(struct sq_store *s, const struct sv *vals, const uint8_t *ip,
			  const struct sv texts[3], int64_t seq, int64_t ts)
{
	int rc = 0;
	if (!s->mem && !(s->mem = memidx_new(seq)))
		rc = -ENOMEM;
	if (rc == 0 && !s->text && !(s->text = textidx_new(seq)))
		rc = -ENOMEM;
	for (int f = 0; f < MI_IP && rc == 0; f++)
		if (vals[f].p)
			rc = memidx_add(s->mem, f, vals[f].p, vals[f].n, seq);
	if (rc == 0 && ip)
		rc = memidx_add(s->mem, MI_IP, ip, 16, seq);
	if (rc == 0)
		rc = textidx_add(s->text, seq, ts, texts, 3);
	return rc;
}

static int mem_add(struct sq_store *s, const struct sv *vals, const uint8_t *ip,
		   const struct sv texts[3], int64_t seq, int64_t ts)
{
	pthread_rwlock_wrlock(&s->mem_mu);
	int rc = mem_add_locked(s, vals, ip, texts, seq, ts);
	pthread_rwlock_unlock(&s->mem_mu);
	return rc;
}

static struct sv col_text(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return (struct sv){NULL, 0};
	const char *p = (const char *)sqlite3_column_text(st, i);
	return (struct sv){p ? p : "", (size_t)sqlite3_column_bytes(st, i)};
}

/* The active segment's event_ids and postings into memory (after a restart). */
static int load_ids(struct sq_store *s)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, r;
	if (sqlite3_prepare_v2(s->w,
			       "SELECT id, seq, event_type, app, host, user, request_id, ip,"
			       " message, raw, http_path, ts FROM events ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK)
		return store_sql_err(s->w, "load ids");
	while ((r = sqlite3_step(st)) == SQLITE_ROW && rc == 0) {
		int64_t seq = sqlite3_column_int64(st, 1);
		struct sv vals[MI_IP];
		for (int f = 0; f < MI_IP; f++) {
			vals[f].p = (const char *)sqlite3_column_text(st, 2 + f);
			vals[f].n = (size_t)sqlite3_column_bytes(st, 2 + f);
		}
		const uint8_t *ip =
		    sqlite3_column_bytes(st, 7) == 16 ? sqlite3_column_blob(st, 7) : NULL;
		struct sv texts[3];
		event_texts(texts, col_text(st, 8), col_text(st, 9), col_text(st, 10));
		if ((rc = mem_add(s, vals, ip, texts, seq, sqlite3_column_int64(st, 11))) < 0)
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

int store_open_writer(struct sq_store *s, struct segment *g)
{
	int rc = store_open_conn(g->path, false, s->cache_mb, &s->w);
	if (rc < 0)
		return rc;
	idset_expect(&s->ids, (size_t)s->segment_rows);
	/* Checkpoints run on the indexer thread; this one is only a backstop. */
	if ((rc = store_exec(s->w, "PRAGMA wal_autocheckpoint=32768")) < 0 ||
	    (rc = prepare_writer(s)) < 0)
		return rc;
	return g->rows > 0 ? load_ids(s) : 0;
}

static int find_next_seq(struct sq_store *s)
{
	s->next_seq = 1;
	for (size_t i = s->nseg; i-- > 0;) {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		int rc = store_open_conn(s->segs[i]->path, true, 1, &db);
		if (rc < 0)
			return rc;
		bool found = false;
		if (sqlite3_prepare_v2(db, "SELECT max(seq) FROM events", -1, &st, NULL) ==
			SQLITE_OK &&
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

/* ---- open / close ---- */

/* Stores made before their files were private keep their modes: say so once. */
static void warn_if_shared(const struct sq_store *s)
{
	struct stat a, b;
	if ((stat(s->path, &a) == 0 && (a.st_mode & 077)) ||
	    (stat(s->segdir, &b) == 0 && (b.st_mode & 077)))
		log_warn(SUB,
			 "'%s' or '%s' can be read by other users: chmod 600 the store files and "
			 "chmod 700 the folders (see docs/operations.md)",
			 s->path, s->segdir);
}

int sq_open(struct sq_store **out, const struct store_config *cfg)
{
	struct sq_store *s = calloc(1, sizeof(*s));
	int rc = 0;
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->seg_mu, NULL);
	pthread_cond_init(&s->seg_cv, NULL);
	pthread_cond_init(&s->idx_cv, NULL);
	pthread_mutex_init(&s->adm_mu, NULL);
	pthread_mutex_init(&s->ids_mu, NULL);
	pthread_rwlock_init(&s->mem_mu, NULL);
	idset_init(&s->ids);
	s->segment_rows = cfg->segment_rows > 0 ? cfg->segment_rows : 1000000;
	s->segment_max_age_us =
	    (cfg->segment_max_age_s > 0 ? cfg->segment_max_age_s : 86400) * 1000000LL;
	s->cache_mb = cfg->cache_mb > 0 ? cfg->cache_mb : 16;
	s->index_cache_mb = cfg->index_cache_mb > 0 ? cfg->index_cache_mb : 4;
	s->pending_bytes = cfg->pending_bytes ? cfg->pending_bytes : (size_t)32 << 20;
	if ((s->sqlite_heap = cfg->sqlite_heap) > 0)
		sqlite3_soft_heap_limit64(s->sqlite_heap);
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
	if ((rc = seg_load_all(s)) < 0)
		goto fail;
	struct segment *last = s->nseg ? s->segs[s->nseg - 1] : NULL;
	if (last && last->state == SEG_ACTIVE) {
		if ((rc = store_open_writer(s, last)) < 0)
			goto fail;
	} else {
		/* No segment yet, or the hub stopped between sealing one and starting the next. */
		sqlite3 *prev = NULL;
		if (last && (rc = store_open_conn(last->path, true, 1, &prev)) < 0)
			goto fail;
		rc = seg_create(s, last ? last->id + 1 : 1, prev);
		sqlite3_close(prev);
		if (rc < 0)
			goto fail;
	}
	if ((rc = find_next_seq(s)) < 0)
		goto fail;
	if ((rc = indexer_start(s)) < 0)
		goto fail;
	log_info(SUB, "opened '%s': %zu segments, %" PRId64 " events", s->path, s->nseg,
		 s->events_total);
	*out = s;
	return 0;
fail:
	sq_close(s);
	return rc;
}

void sq_close(struct sq_store *s)
{
	if (!s)
		return;
	indexer_stop(s);
	if (s->in_txn)
		sq_rollback(s);
	if (s->w)
		sqlite3_exec(s->w, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	finalize_writer(s);
	for (size_t i = 0; i < s->nseg; i++)
		seg_free(s->segs[i]);
	sq_alerts_release(s);
	sqlite3_close(s->adm);
	idset_release(&s->ids);
	memidx_free(s->mem);
	textidx_free(s->text);
	free(s->txn_ids);
	pthread_mutex_destroy(&s->ids_mu);
	pthread_rwlock_destroy(&s->mem_mu);
	pthread_mutex_destroy(&s->seg_mu);
	pthread_cond_destroy(&s->seg_cv);
	pthread_cond_destroy(&s->idx_cv);
	pthread_mutex_destroy(&s->adm_mu);
	free(s->segs);
	free(s->segdir);
	free(s->path);
	free(s);
}

/* ---- writer ---- */

int sq_begin(struct sq_store *s)
{
	int rc;
	store_budget_writer(s);
	struct segment *g = s->segs[s->nseg - 1];
	bool full = g->rows >= s->segment_rows ||
		    (g->rows > 0 && ts_now_us() - g->created_us > s->segment_max_age_us);
	if (full && (rc = seg_roll(s)) < 0)
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

static void bind_int_if(sqlite3_stmt *st, int i, bool set, int v)
{
	if (set)
		sqlite3_bind_int(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void bind_int64_if(sqlite3_stmt *st, int i, bool set, int64_t v)
{
	if (set)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void bind_double_if(sqlite3_stmt *st, int i, bool set, double v)
{
	if (set)
		sqlite3_bind_double(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void bind_blob16_if(sqlite3_stmt *st, int i, bool set, const uint8_t *v)
{
	if (set)
		sqlite3_bind_blob(st, i, v, 16, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* A field of ev to parameter i of the insert, as its kind is stored (core/event_fields.h):
 * a number whose presence flag is clear, an absent string or address, is NULL. */
#define EV_SET(ev, flag) (!(flag) || ((ev)->flags & (flag)) != 0)
#define BIND_STR(st, i, ev, m, flag) bind_sv(st, i, (ev)->m)
#define BIND_DATA BIND_STR
#define BIND_KEY BIND_STR
#define BIND_TAGS BIND_STR
#define BIND_TIME(st, i, ev, m, flag) sqlite3_bind_int64(st, i, (ev)->m)
#define BIND_UUID(st, i, ev, m, flag) sqlite3_bind_blob(st, i, (ev)->m, 16, SQLITE_STATIC)
#define BIND_INT(st, i, ev, m, flag) bind_int_if(st, i, EV_SET(ev, flag), (ev)->m)
#define BIND_I64(st, i, ev, m, flag) bind_int64_if(st, i, EV_SET(ev, flag), (ev)->m)
#define BIND_REAL(st, i, ev, m, flag) bind_double_if(st, i, EV_SET(ev, flag), (ev)->m)
#define BIND_IP(st, i, ev, m, flag) bind_blob16_if(st, i, ((ev)->flags & (flag)) != 0, (ev)->m)
#define BIND_FLAGS(st, i, ev, m, flag) sqlite3_bind_int(st, i, (int)(ev)->m)
#define BIND_KEYID(st, i, ev, m, flag) \
	bind_int64_if(st, i, (ev)->ingest_key.p && (ev)->m > 0, (ev)->m)
#define BIND_FIELD(ID, MEMBER, KIND, FLAG, ...) BIND_##KIND(st, EVENT_PARAM(ID), ev, MEMBER, FLAG);

/* Is the id already in a sealed segment whose time range can hold it? Live events are newer
 * than everything sealed, so only late or replayed ones ever reach a probe. */
static int probe_sealed(struct sq_store *s, const struct event *ev, bool *found)
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
			if (rc < 0 ||
			    (rc = prepare(g->probe_db, "SELECT 1 FROM events WHERE id = ?",
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

/* The insert of one event and its duplicate checks; *seq is its row's seq when stored. */
static int insert_one(struct sq_store *s, const struct event *ev, bool *dup, int64_t *seq)
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
	EVENT_FIELDS(BIND_FIELD)
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
	*seq = s->next_seq++;
	return 0;
}

/* An event's postings: the fields a selective filter names, and its texts. */
static int postings_locked(struct sq_store *s, const struct event *ev, int64_t seq)
{
	const struct sv vals[MI_IP] = {ev->event_type, ev->app, ev->source_host, ev->user,
				       ev->request_id};
	struct sv texts[3];
	event_texts(texts, ev->message, ev->raw_message, ev->http_path);
	return mem_add_locked(s, vals, (ev->flags & EV_HAS_IP) ? ev->ip : NULL, texts, seq, ev->ts);
}

/* What a stored event adds besides its row and postings: the transaction's time range,
 * facets and stats rollups. */
static int accumulate(struct sq_store *s, const struct event *ev)
{
	int rc;
	if (ev->ts < s->txn_min_ts)
		s->txn_min_ts = ev->ts;
	if (ev->ts > s->txn_max_ts)
		s->txn_max_ts = ev->ts;
	s->txn_rows++;
	if ((rc = facets_add(&s->facets, ev)) < 0)
		return rc;
	return stats_rollup_add(s->rollup, ev);
}

int sq_append(struct sq_store *s, const struct event *ev, bool *dup)
{
	int64_t seq = 0;
	int rc = insert_one(s, ev, dup, &seq);
	if (rc < 0 || *dup)
		return rc;
	pthread_rwlock_wrlock(&s->mem_mu);
	rc = postings_locked(s, ev, seq);
	pthread_rwlock_unlock(&s->mem_mu);
	return rc < 0 ? rc : accumulate(s, ev);
}

/* The inserts first, then the rest in passes of their own: each stage's CPU time is counted
 * once, and the postings' lock is taken once a batch (readers wait at most that pass, well
 * under a microsecond an event), not once an event. */
int sq_append_many(struct sq_store *s, const struct event *ev, size_t n, bool *dup)
{
	int rc = 0;
	int64_t seq0 = s->next_seq, seq = 0;
	struct stage_timer clk;
	stage_start(&clk, n);
	for (size_t i = 0; i < n && rc == 0; i++) {
		dup[i] = false;
		rc = insert_one(s, &ev[i], &dup[i], &seq);
	}
	stage_lap(&clk, STAGE_INSERT, n);
	if (rc < 0)
		return rc;
	/* Stored events got consecutive seqs, in order. */
	uint64_t stored = 0;
	pthread_rwlock_wrlock(&s->mem_mu);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (!dup[i])
			rc = postings_locked(s, &ev[i], seq0 + (int64_t)stored++);
	pthread_rwlock_unlock(&s->mem_mu);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (!dup[i])
			rc = accumulate(s, &ev[i]);
	stage_lap(&clk, STAGE_POSTINGS, stored);
	return rc;
}

int sq_set_offset(struct sq_store *s, const char *path, uint64_t dev, uint64_t ino, int64_t offset)
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

int sq_add_dead_letter(struct sq_store *s, const char *source, const char *file, int64_t offset,
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

int sq_commit(struct sq_store *s)
{
	int rc;
	struct stage_timer clk;
	stage_start(&clk, (size_t)s->txn_rows);
	if (s->txn_rows > 0) {
		sqlite3_bind_int64(s->seg_upd, 1, s->txn_min_ts);
		sqlite3_bind_int64(s->seg_upd, 2, s->txn_max_ts);
		sqlite3_bind_int64(s->seg_upd, 3, s->txn_rows);
		int r = sqlite3_step(s->seg_upd);
		sqlite3_reset(s->seg_upd);
		if (r != SQLITE_DONE) {
			rc = store_sql_err(s->w, "update segment");
			sq_rollback(s);
			return rc;
		}
		if ((rc = facets_flush(&s->facets)) < 0 ||
		    (rc = stats_rollup_flush(s->rollup)) < 0) {
			sq_rollback(s);
			return rc;
		}
		/* The facets' and rollups' rows are their stage's cost, not the commit's. */
		stage_lap(&clk, STAGE_POSTINGS, 0);
	}
	if ((rc = store_exec(s->w, "COMMIT")) < 0) {
		sq_rollback(s);
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
	uint64_t rows = (uint64_t)s->txn_rows;
	pthread_mutex_unlock(&s->seg_mu);
	stage_lap(&clk, STAGE_COMMIT, rows);
	return 0;
}

void sq_rollback(struct sq_store *s)
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

int sq_ping(struct sq_store *s)
{
	(void)s;
	return -ENOTSUP; /* a full disk shows only when a commit fails */
}

int sq_stats(struct sq_store *s, struct store_stats *st)
{
	pthread_mutex_lock(&s->seg_mu);
	st->events = s->events_total;
	st->oldest_ts = s->nseg ? s->segs[0]->max_ts : 0;
	st->removed_segments = s->removed_segments;
	st->removed_events = s->removed_events;
	st->segments = (int64_t)s->nseg;
	st->last_commit_us = s->last_commit_us;
	st->unindexed = 0;
	st->reachable = true;
	st->conn_errors = 0;
	st->backend = "sqlite";
	for (size_t i = 0; i < s->nseg; i++)
		st->unindexed += s->segs[i]->state == SEG_SEALED;
	pthread_mutex_unlock(&s->seg_mu);
	return 0;
}
