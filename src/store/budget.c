/* budget.c — the embedded store's share of the hub's memory budget: the event ids and
 * postings of sealed segments that wait for the indexer, and the page caches of idle
 * readers. The active segment's ids and postings grow with --segment-rows; the writer's
 * and the indexer's page caches are fixed when their connections open (conn.c). */
#include <stdlib.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/store_int.h"

#define SUB "store"

/* How long the writer waits for id indices before it goes on past the bound: a slow or
 * failing indexer must not hold requests near their clients' time-outs. */
#define WAIT_IDS_MAX_MS 5000

static struct metric m_dropped = METRIC_COUNTER_INIT(
    "minisiem_store_postings_dropped_total", NULL,
    "In-memory postings or text filters of sealed segments that left memory before the "
    "indexer was done with them (queries use B-tree indices or scan until then).");
static struct metric m_waits =
    METRIC_COUNTER_INIT("minisiem_store_budget_waits_total", NULL,
			"Times the writer waited for the indexer because the ids of sealed "
			"segments were past their memory bound.");
static struct metric m_held =
    METRIC_GAUGE_INIT("minisiem_store_pending_memory_bytes", NULL,
		      "Memory held by the event ids and postings of segments without "
		      "their indices (the active one and sealed ones waiting for the indexer).");

static size_t seg_pending(const struct segment *g)
{
	return (g->ids ? idset_bytes(g->ids) : 0) + memidx_bytes(g->mem) + textidx_bytes(g->text);
}

/* With seg_mu held. */
static size_t sealed_pending(struct sq_store *s)
{
	size_t n = 0;
	for (size_t i = 0; i + 1 < s->nseg; i++)
		n += seg_pending(s->segs[i]);
	return n;
}

size_t store_budget_held(struct sq_store *s)
{
	pthread_mutex_lock(&s->seg_mu);
	size_t n = sealed_pending(s);
	pthread_mutex_unlock(&s->seg_mu);
	pthread_mutex_lock(&s->ids_mu);
	n += idset_bytes(&s->ids);
	pthread_mutex_unlock(&s->ids_mu);
	pthread_rwlock_rdlock(&s->mem_mu);
	n += memidx_bytes(s->mem) + textidx_bytes(s->text);
	pthread_rwlock_unlock(&s->mem_mu);
	return n;
}

static void drop_postings(struct sq_store *s, struct segment *x)
{
	pthread_rwlock_wrlock(&s->mem_mu);
	struct memidx *m = x->mem;
	x->mem = NULL;
	pthread_rwlock_unlock(&s->mem_mu);
	memidx_free(m);
}

static void drop_text(struct sq_store *s, struct segment *x)
{
	pthread_rwlock_wrlock(&s->mem_mu);
	struct textidx *t = x->text;
	x->text = NULL;
	pthread_rwlock_unlock(&s->mem_mu);
	textidx_free(t);
}

static void drop_ids(struct sq_store *s, struct segment *x)
{
	pthread_mutex_lock(&s->ids_mu);
	struct idset *ids = x->ids;
	x->ids = NULL;
	pthread_mutex_unlock(&s->ids_mu);
	if (ids) {
		idset_release(ids);
		free(ids);
	}
}

/* With seg_mu held: free what the indexer made unneeded. */
static void release_indexed(struct sq_store *s)
{
	for (size_t i = 0; i + 1 < s->nseg; i++) {
		struct segment *x = s->segs[i];
		if (x->state == SEG_INDEXED) {
			drop_postings(s, x);
			drop_text(s, x);
		}
		if (x->ids && (x->state == SEG_INDEXED || x->id_indexed))
			drop_ids(s, x);
	}
}

void store_budget_writer(struct sq_store *s)
{
	pthread_mutex_lock(&s->seg_mu);
	release_indexed(s);
	size_t held = sealed_pending(s);
	/* Postings first, oldest first: they only speed up queries (a segment whose B-tree
	 * query indices exist already is served by them; SQLite's plan there may walk one
	 * event type's events in time order, slower than the postings' few candidates). Then
	 * text filters, oldest first (an eighth of the postings' size; without one, q scans
	 * the segment until its text index exists): the newest, which a first page of q reads,
	 * stay longest. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i + 1 < s->nseg && held > s->pending_bytes; i++) {
			struct segment *x = s->segs[i];
			size_t n = pass == 0 ? memidx_bytes(x->mem) : textidx_bytes(x->text);
			if (!n)
				continue;
			held -= n;
			if (pass == 0)
				drop_postings(s, x);
			else
				drop_text(s, x);
			s->pending_dropped++;
			metric_add(&m_dropped, 1);
			log_warn(SUB,
				 "segment %lld: %s dropped from memory before indexing (memory "
				 "budget)",
				 (long long)x->id, pass == 0 ? "postings" : "text filter");
		}
	/* The ids find duplicates: they stay until the id index is built. */
	if (held > s->pending_bytes && !s->stopping) {
		metric_add(&m_waits, 1);
		struct timespec until = clock_deadline_ms(WAIT_IDS_MAX_MS);
		while (held > s->pending_bytes && !s->stopping) {
			pthread_cond_broadcast(&s->seg_cv); /* the indexer may be sleeping */
			if (pthread_cond_timedwait(&s->idx_cv, &s->seg_mu, &until) != 0) {
				log_warn(SUB,
					 "the indexer is slow: sealed segments hold %zu MiB of "
					 "ids, past the memory budget",
					 held >> 20);
				break;
			}
			release_indexed(s);
			held = sealed_pending(s);
		}
	}
	pthread_mutex_unlock(&s->seg_mu);
	metric_set(&m_held, (int64_t)store_budget_held(s));
}

void store_budget_reader_idle(struct sq_store *s, sqlite3 *db)
{
	if (s->sqlite_heap > 0 && sqlite3_memory_used() > s->sqlite_heap / 2)
		sqlite3_db_release_memory(db);
}
