/* store_int.h — internals shared by the embedded store's files: store_sqlite.c (open,
 * close, the writer), conn.c (connections), segment.c (segment files), indexer.c (the
 * background indexer), snapshot.c (what readers pin), store_query.c (readers), retain.c,
 * backup.c, adm.c (statements on the main database), store_state.c (hub state), and the
 * stats, alerts and dashboards files. */
#ifndef SIEM_STORE_INT_H
#define SIEM_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/facets.h"
#include "store/idset.h"
#include "store/memidx.h"
#include "store/textidx.h"
#include "store/sqlite.h"
#include "store/store.h"

struct stats_rollup;

enum seg_state { SEG_ACTIVE = 0, SEG_SEALED = 1, SEG_INDEXED = 2 };

#define SEG_IDLE_READERS 1

/* One segment file. Fields other than the writer's are guarded by store.seg_mu. */
struct segment {
	int64_t id;
	char *path;
	int64_t min_ts, max_ts; /* INT64_MAX / INT64_MIN while empty */
	int64_t rows;
	int64_t created_us;
	enum seg_state state;
	bool id_indexed;    /* sealed: its event_id index exists (built first) */
	bool query_indexed; /* sealed: its B-tree query indices too (built second) */
	int refs;	    /* queries holding it */
	sqlite3 *idle[SEG_IDLE_READERS];
	int nidle;
	sqlite3 *probe_db; /* writer only: duplicate probes on a sealed segment */
	sqlite3_stmt *probe;
	struct idset *ids;    /* sealed, not yet indexed: its ids (guarded by ids_mu) */
	struct memidx *mem;   /* sealed, not yet indexed: its postings (guarded by mem_mu) */
	struct textidx *text; /* sealed, not yet indexed: its text filter (guarded by mem_mu) */
};

/* A segment as a query sees it: a pinned pointer and the values at snapshot time. */
struct seg_view {
	struct segment *seg;
	int64_t id, min_ts, max_ts, rows;
	enum seg_state state;
};

struct sq_store {
	char *path;   /* main database */
	char *segdir; /* "<path>-segments" */
	int64_t segment_rows, segment_max_age_us;
	int cache_mb, index_cache_mb;
	size_t pending_bytes;	 /* bound of the sealed segments' ids and postings (budget.c) */
	int64_t sqlite_heap;	 /* soft limit of SQLite's heap, 0: none */
	pthread_cond_t idx_cv;	 /* with seg_mu: the indexer built an id index (wakes the writer) */
	int64_t pending_dropped; /* sealed segments whose postings left memory early */

	/* writer (one thread) */
	sqlite3 *w; /* the active segment */
	sqlite3_stmt *ins, *seg_upd, *off_upsert, *dead_ins;
	bool in_txn;
	int64_t next_seq;
	int64_t txn_min_ts, txn_max_ts, txn_rows;
	struct facets facets;
	struct stats_rollup *rollup; /* dashboard counts (stats_rollup.c), same transaction */
	struct idset ids;	     /* the active segment's event_ids; written under ids_mu */
	pthread_mutex_t ids_mu;
	uint8_t (*txn_ids)[16]; /* ids added by the open transaction, undone on rollback */
	struct memidx *mem;	/* the active segment's postings; written under mem_mu */
	struct textidx *text;	/* the active segment's text filter; written under mem_mu */
	pthread_rwlock_t mem_mu;
	size_t ntxn_ids, captxn_ids;

	/* segments, oldest first */
	pthread_mutex_t seg_mu;
	pthread_cond_t seg_cv; /* wakes the indexer threads (broadcast) */
	struct segment **segs;
	size_t nseg, capseg;
	int64_t events_total;
	int64_t last_commit_us;
	int64_t removed_segments, removed_events;
	bool state_only;
	bool stopping;
	pthread_t indexer, indexer_fast;
	bool indexer_started;

	/* main database connection: meta, keys (any thread, serialized) */
	pthread_mutex_t adm_mu;
	sqlite3 *adm;
	sqlite3_stmt *alert_ins, *alert_upd; /* alert writes, prepared once (store_alerts.c) */
};

/* A dead letter's id in the store: its segment's id and its row id in the segment's table
 * (dead.c; `minisiem migrate` keeps it on PostgreSQL). */
#define DEAD_ROW_BITS 32
#define DEAD_ROW_MASK ((INT64_C(1) << DEAD_ROW_BITS) - 1)
static inline int64_t dead_letter_id(int64_t seg, int64_t row)
{
	return (seg << DEAD_ROW_BITS) | (row & DEAD_ROW_MASK);
}

/* ---- connections (conn.c) ---- */

int store_sql_err(sqlite3 *db, const char *what);
int store_exec(sqlite3 *db, const char *sql);
int store_open_conn(const char *path, bool readonly, int cache_mb, sqlite3 **out);
/* Create a database file 0600 when it does not exist yet, before SQLite opens it. */
void store_create_private(const char *path);

/* Finalize the alert write statements, before the main database closes (store_alerts.c). */
void sq_alerts_release(struct sq_store *s);

/* ---- statements on the main database (adm.c) ---- */

/* Lock the main database and prepare sql on it (an error is logged as what, *st NULL).
 * Every adm_prepare, failed or not, is ended by adm_end: finalize st and unlock. */
int adm_prepare(struct sq_store *s, const char *sql, sqlite3_stmt **st, const char *what);
void adm_end(struct sq_store *s, sqlite3_stmt *st);
/* Step st, row(st, arg) for each row until one returns non-zero (the result); a step error
 * is logged as what. */
int adm_each_row(struct sq_store *s, sqlite3_stmt *st, int (*row)(sqlite3_stmt *st, void *arg),
		 void *arg, const char *what);
/* Prepare sql, bind its arguments described by types ('t' text, const char *, NULL binds
 * NULL; 'i' int64_t), and let step(s, st, arg) run it; all under the lock. */
int adm_exec(struct sq_store *s, const char *sql,
	     int (*step)(struct sq_store *s, sqlite3_stmt *st, void *arg), void *arg,
	     const char *types, ...);

/* ---- segment files (segment.c) ---- */

void seg_free(struct segment *g);
/* Read the segment files of s->segdir, oldest first (store_open). */
int seg_load_all(struct sq_store *s);
/* A new segment file id, made the writer's; prev: the segment before it, or NULL. */
int seg_create(struct sq_store *s, int64_t id, sqlite3 *prev);
/* Seal the active segment and start the next one (writer thread). */
int seg_roll(struct sq_store *s);
/* Build the postings and text filter of sealed segment g from its rows (indexer thread,
 * after a restart). */
int seg_mem_load(struct sq_store *s, struct segment *g);

/* ---- the writer (store_sqlite.c) ---- */

/* Open segment g as the writer's, with its statements and in-memory ids. */
int store_open_writer(struct sq_store *s, struct segment *g);

/* ---- the background indexer (indexer.c) ---- */

/* Its thread, from store_open to store_close. */
int indexer_start(struct sq_store *s);
void indexer_stop(struct sq_store *s);

/* ---- the store's memory budget (budget.c) ---- */

/* Writer thread, before a transaction: free what indexed segments no longer need, and keep
 * the ids and postings of sealed segments waiting for the indexer within pending_bytes:
 * drop the oldest postings (queries then scan those segments until they are indexed), and
 * when the ids alone are past it, wait for the indexer's id indices. */
void store_budget_writer(struct sq_store *s);
/* A reader connection going back to the idle pool: its page cache goes back to the heap
 * when SQLite's heap is past half its soft limit. */
void store_budget_reader_idle(struct sq_store *s, sqlite3 *db);
/* Bytes held by the active segment's and sealed segments' ids and postings. */
size_t store_budget_held(struct sq_store *s);

/* ---- what queries read (snapshot.c) ---- */

/* Pin the segments for a query, newest first; release unpins. */
int store_snapshot(struct sq_store *s, struct seg_view **out, size_t *n);
void store_snapshot_release(struct sq_store *s, struct seg_view *v, size_t n);
/* A read connection to a segment (pooled); put it back after use. */
int store_reader_get(struct sq_store *s, struct segment *g, sqlite3 **db);
void store_reader_put(struct sq_store *s, struct segment *g, sqlite3 *db);

/* A row of a segment's events table selected as "seq" EVENT_FIELDS(EVENT_COL_NAME) into *ev
 * (store_query.c; migrate.c reads segments with it too). Its strings point into the row:
 * valid until the statement steps again; the address text goes into ipbuf. */
void store_row_event(sqlite3_stmt *st, struct event *ev, char ipbuf[46]);

/* The seq of id in segment g from the in-memory ids (active or sealed-not-indexed).
 * *known is false when g has no such set and its id index must be used. */
int64_t store_ids_lookup(struct sq_store *s, struct segment *g, const uint8_t id[16], bool *known);

/* Candidate events of segment g for q from its in-memory postings (a segment without query
 * indices): 1 with *out holding their seqs (newest first; the caller frees), 0 when q has
 * no filter the postings serve selectively, negative on error. */
int store_mem_candidates(struct sq_store *s, struct segment *g, const struct event_query *q,
			 int64_t **out, size_t *n);

/* The writer's prepared statements and in-memory facets, released when the writer closes or
 * moves to a new segment. */
void store_writer_release_stmts(struct sq_store *s);

#endif
