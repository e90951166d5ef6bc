/* indexer.c — the background threads that build a sealed segment's indices in bulk: one
 * builds its event_id index right after it is sealed (so its in-memory ids can go), then
 * its B-tree query indices; the other its text index (and writes its statistics tables,
 * after which its postings go), and checkpoints the active segment's WAL off the write
 * path. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/schema.h"
#include "store/stats_rollup.h"
#include "store/store_int.h"

#define SUB "store"

/* Below the writer and the receivers: a segment's index build is bulk work that may wait,
 * ingest is not. Nice applies per thread on Linux. */
#define INDEXER_NICE 10

static void lower_priority(const char *name)
{
	pthread_setname_np(pthread_self(), name);
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), INDEXER_NICE) != 0)
		log_warn(SUB, "cannot lower the indexer's priority: %s", strerror(errno));
}

/* A connection for index builds: its page cache is also the sorter's memory, and sorts
 * that outgrow it spill to temporary files rather than to the heap. */
static int open_build_conn(struct sq_store *s, struct segment *g, sqlite3 **db)
{
	int rc = store_open_conn(g->path, false, s->index_cache_mb, db);
	if (rc == 0 && (rc = store_exec(*db, "PRAGMA temp_store=FILE")) < 0) {
		sqlite3_close(*db);
		*db = NULL;
	}
	return rc;
}

static void mark(struct sq_store *s, bool *flag)
{
	pthread_mutex_lock(&s->seg_mu);
	*flag = true;
	pthread_cond_broadcast(&s->idx_cv); /* a writer may wait for memory to be released */
	pthread_cond_broadcast(&s->seg_cv); /* the other thread may start */
	pthread_mutex_unlock(&s->seg_mu);
}

/* The event_id index in its own transaction (with it the writer drops the segment's
 * in-memory ids), then the B-tree query indices in another (with them a segment whose
 * postings had to leave memory is not scanned); the text index and the statistics tables
 * follow on the other thread. */
static int index_fast(struct sq_store *s, struct segment *g)
{
	sqlite3 *db = NULL;
	struct stage_timer clk;
	stage_start(&clk, SIZE_MAX);
	int rc = open_build_conn(s, g, &db);
	if (rc < 0)
		return rc;
	if (!g->id_indexed) { /* only this thread sets it */
		if ((rc = store_exec(db, "CREATE INDEX IF NOT EXISTS events_id ON events(id)")) < 0)
			goto out;
		mark(s, &g->id_indexed);
	}
	if ((rc = store_exec(db, "BEGIN IMMEDIATE")) == 0) {
		if ((rc = store_exec(db, segment_query_index_ddl)) == 0)
			rc = store_exec(db, "COMMIT");
		else
			store_exec(db, "ROLLBACK");
	}
	if (rc == 0)
		mark(s, &g->query_indexed);
out:
	sqlite3_close(db);
	stage_lap(&clk, STAGE_INDEXER, 0);
	return rc;
}

static int index_segment(struct sq_store *s, struct segment *g)
{
	sqlite3 *db = NULL;
	int64_t t0 = ts_now_us();
	struct stage_timer clk;
	stage_start(&clk, SIZE_MAX);
	int rc = open_build_conn(s, g, &db);
	if (rc < 0)
		return rc;
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
		int64_t rows = g->rows;
		pthread_mutex_unlock(&s->seg_mu);
		stage_lap(&clk, STAGE_INDEXER, (uint64_t)rows);
		log_info(SUB, "segment %lld indexed in %.1f s", (long long)g->id,
			 (double)(ts_now_us() - t0) / 1e6);
	}
	return rc;
}

/* Sealed segments the hub found not indexed at start have no postings and text filter in
 * memory: build them for the newest few first (a second or so each; ~16 MB per 500,000
 * events), the segments a first page reads, so that queries need not scan those while they
 * wait for the index. */
#define MEM_REBUILD_SEGMENTS 4

static void load_mem_filters(struct sq_store *s)
{
	int done = 0;
	pthread_mutex_lock(&s->seg_mu);
	for (size_t i = s->nseg; i-- > 0 && !s->stopping && done < MEM_REBUILD_SEGMENTS;) {
		if (i >= s->nseg) /* retention removed some meanwhile */
			continue;
		struct segment *g = s->segs[i];
		pthread_rwlock_rdlock(&s->mem_mu);
		bool has = g->text || g->mem;
		pthread_rwlock_unlock(&s->mem_mu);
		if (g->state != SEG_SEALED || has)
			continue;
		g->refs++;
		pthread_mutex_unlock(&s->seg_mu);
		int rc = seg_mem_load(s, g);
		if (rc < 0)
			log_warn(SUB, "segment %lld: no postings in memory: %s", (long long)g->id,
				 siem_strerror(rc));
		done++;
		pthread_mutex_lock(&s->seg_mu);
		g->refs--;
	}
	pthread_mutex_unlock(&s->seg_mu);
}

/* The id and query indices, on a thread of their own: a segment's ids leave memory a
 * moment after it is sealed, and its query indices follow, however long the other
 * thread's text index of an earlier segment takes. */
static void *fast_main(void *arg)
{
	struct sq_store *s = arg;
	/* Not niced: the writer may wait for it when sealed segments' ids pass their bound. */
	pthread_setname_np(pthread_self(), "siem-idindexer");
	pthread_mutex_lock(&s->seg_mu);
	while (!s->stopping) {
		struct segment *todo = NULL;
		for (size_t i = 0; i < s->nseg && !todo; i++)
			if (s->segs[i]->state == SEG_SEALED &&
			    (!s->segs[i]->id_indexed || !s->segs[i]->query_indexed))
				todo = s->segs[i];
		if (!todo) {
			struct timespec until = clock_deadline_ms(500);
			pthread_cond_timedwait(&s->seg_cv, &s->seg_mu, &until);
			continue;
		}
		todo->refs++;
		pthread_mutex_unlock(&s->seg_mu);
		int rc = index_fast(s, todo);
		if (rc < 0)
			log_error(SUB, "cannot build the id and query indices of segment %lld: %s",
				  (long long)todo->id, siem_strerror(rc));
		pthread_mutex_lock(&s->seg_mu);
		todo->refs--;
		if (rc < 0 && !s->stopping) {
			/* Leave it; the writer's probes scan it meanwhile. Retry later. */
			struct timespec until = clock_deadline_ms(30000);
			pthread_cond_timedwait(&s->seg_cv, &s->seg_mu, &until);
		}
	}
	pthread_mutex_unlock(&s->seg_mu);
	return NULL;
}

static void *indexer_main(void *arg)
{
	struct sq_store *s = arg;
	sqlite3 *ckpt = NULL;
	int64_t ckpt_id = 0;
	lower_priority("siem-indexer");
	load_mem_filters(s);
	pthread_mutex_lock(&s->seg_mu);
	while (!s->stopping) {
		struct segment *todo = NULL;
		/* A segment's text index after its id and query indices (fast_main); the newest
		 * first, as queries read them: when ingest outruns this thread, a search still
		 * finds its first pages in indexed segments. */
		for (size_t i = s->nseg; i-- > 0 && !todo;)
			if (s->segs[i]->state == SEG_SEALED && s->segs[i]->query_indexed)
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
		if (ckpt) {
			struct stage_timer clk;
			stage_start(&clk, SIZE_MAX);
			sqlite3_wal_checkpoint_v2(ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
						  NULL);
			stage_lap(&clk, STAGE_CHECKPOINT, 0);
		}

		pthread_mutex_lock(&s->seg_mu);
		if (!todo && !s->stopping) {
			struct timespec until = clock_deadline_ms(500);
			pthread_cond_timedwait(&s->seg_cv, &s->seg_mu, &until);
		}
	}
	pthread_mutex_unlock(&s->seg_mu);
	sqlite3_close(ckpt);
	return NULL;
}

static void indexer_stop_main(struct sq_store *s)
{
	pthread_mutex_lock(&s->seg_mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->seg_cv);
	pthread_cond_broadcast(&s->idx_cv);
	pthread_mutex_unlock(&s->seg_mu);
	pthread_join(s->indexer, NULL);
}

int indexer_start(struct sq_store *s)
{
	int err = pthread_create(&s->indexer, NULL, indexer_main, s);
	if (err)
		return -err;
	if ((err = pthread_create(&s->indexer_fast, NULL, fast_main, s)) != 0) {
		indexer_stop_main(s);
		return -err;
	}
	s->indexer_started = true;
	return 0;
}

void indexer_stop(struct sq_store *s)
{
	if (s->indexer_started) {
		indexer_stop_main(s);
		pthread_join(s->indexer_fast, NULL);
	}
}
