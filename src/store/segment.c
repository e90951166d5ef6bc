/* segment.c — segment files: find and read them when the store opens (migrating older ones),
 * create the next one, and seal the active one when it is full. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "store/schema.h"
#include "store/stats_rollup.h"
#include "store/store_int.h"

#define SUB "store"

static char *seg_path(struct sq_store *s, int64_t id)
{
	size_t n = strlen(s->segdir) + 32;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/seg-%08lld.db", s->segdir, (long long)id);
	return p;
}

void seg_free(struct segment *g)
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
	textidx_free(g->text);
	free(g->path);
	free(g);
}

static int seg_append(struct sq_store *s, struct segment *g)
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
static int seg_load(struct sq_store *s, int64_t id, struct segment **out)
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
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
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

int seg_load_all(struct sq_store *s)
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
		if (sscanf(de->d_name, "seg-%8lld.%3s", &id, tail) != 2 ||
		    strcmp(tail, "db") != 0 || strlen(de->d_name) != 15)
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
			/* The newest file was being created when the hub stopped: start it again.
			 */
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

/* Create segment file id, carrying over the file offsets of prev (NULL for none), and make
 * it the writer's. */
int seg_create(struct sq_store *s, int64_t id, sqlite3 *prev)
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
	if ((rc = store_exec(db, "BEGIN IMMEDIATE")) < 0 ||
	    (rc = store_exec(db, segment_schema)) < 0)
		goto fail_txn;
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", segment_version);
	if ((rc = store_exec(db, sql)) < 0)
		goto fail_txn;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO segment(id, min_ts, max_ts, rows, state, created_at)"
		 " VALUES(%lld, %lld, %lld, 0, 0, %lld)",
		 (long long)id, (long long)INT64_MAX, (long long)INT64_MIN,
		 (long long)g->created_us);
	if ((rc = store_exec(db, sql)) < 0)
		goto fail_txn;
	if (prev) {
		sqlite3_stmt *rd = NULL, *wr = NULL;
		if (sqlite3_prepare_v2(
			prev, "SELECT path, dev, ino, offset, updated_at FROM file_offsets", -1,
			&rd, NULL) != SQLITE_OK ||
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
	return store_open_writer(s, g);
fail_txn:
	store_exec(db, "ROLLBACK");
fail:
	sqlite3_close(db);
	seg_free(g);
	return rc;
}

/* Build the in-memory postings and text filter of a sealed segment not indexed yet (after a
 * restart only the active segment's are rebuilt, by the writer), unless it has them. */
int seg_mem_load(struct sq_store *s, struct segment *g)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct textidx *t = NULL;
	struct memidx *m = NULL;
	int rc, r = SQLITE_DONE;
	if ((rc = store_open_conn(g->path, true, 2, &db)) < 0)
		return rc;
	/* the columns of enum memidx_field, in its order, then the texts */
	if (sqlite3_prepare_v2(db,
			       "SELECT seq, event_type, app, host, user, request_id, ip, message,"
			       " raw, http_path, ts FROM events ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(db, "segment filters");
		goto out;
	}
	while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		struct sv v[3];
		if (!t && (!(t = textidx_new(seq)) || !(m = memidx_new(seq)))) {
			rc = -ENOMEM;
			break;
		}
		for (int f = 0; f <= MI_IP && rc == 0; f++) {
			const void *p = sqlite3_column_blob(st, 1 + f);
			size_t n = (size_t)sqlite3_column_bytes(st, 1 + f);
			if (p && (f < MI_IP || n == 16))
				rc = memidx_add(m, f, p, n, seq);
		}
		for (int i = 0; i < 3; i++) {
			v[i].p = (const char *)sqlite3_column_text(st, 7 + i);
			v[i].n = (size_t)sqlite3_column_bytes(st, 7 + i);
		}
		if (v[1].p && v[0].p && v[1].n == v[0].n && memcmp(v[0].p, v[1].p, v[0].n) == 0)
			v[1].p = NULL;
		if (rc == 0)
			rc = textidx_add(t, seq, sqlite3_column_int64(st, 10), v, 3);
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = store_sql_err(db, "segment filters");
	if (rc == 0 && t) {
		pthread_mutex_lock(&s->seg_mu);
		bool want = g->state == SEG_SEALED;
		pthread_mutex_unlock(&s->seg_mu);
		pthread_rwlock_wrlock(&s->mem_mu);
		if (want && !g->text && !g->mem) {
			g->text = t;
			g->mem = m;
			t = NULL;
			m = NULL;
		}
		pthread_rwlock_unlock(&s->mem_mu);
	}
out:
	textidx_free(t);
	memidx_free(m);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* Seal the active segment and start the next one. */
int seg_roll(struct sq_store *s)
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
	cur->text = s->text;
	s->text = NULL;
	pthread_rwlock_unlock(&s->mem_mu);
	sqlite3 *prev = s->w;
	s->w = NULL;
	store_writer_release_stmts(s);
	stats_rollup_roll(s->rollup); /* stats rollups: its counts wait for the indexer */
	rc = seg_create(s, cur->id + 1, prev);
	sqlite3_close(prev);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->seg_mu);
	cur->state = SEG_SEALED;
	pthread_cond_broadcast(&s->seg_cv);
	pthread_mutex_unlock(&s->seg_mu);
	log_info(SUB, "segment %lld sealed (%lld events), segment %lld started", (long long)cur->id,
		 (long long)cur->rows, (long long)cur->id + 1);
	return 0;
}
