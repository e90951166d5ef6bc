/* pipeline.c — group commit in two stages: the writer thread takes every queued batch (up to
 * a transaction cap), appends their events in one transaction and commits; the detect thread
 * then runs the committed hook (detection) on the transaction's stored events and only then
 * answers its batches, while the writer commits the next transaction. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "enrich/enrich.h"
#include "ingest/pipeline.h"

/* Committed transactions waiting for the detect thread. Their events count against
 * max_events until they are answered, as those queued for the writer do; when the ring is
 * full, the writer waits. */
#define DETECT_TXNS 4
/* Below this many events a transaction's detection costs less than waking the detect thread
 * (measured with one event per request: the hand-off added ~5 µs of CPU a request), so the
 * writer runs it itself when the detect thread has nothing waiting. */
#define DETECT_HERE_MAX 64

struct committed_txn {
	struct ingest_batch *batches; /* a list by next */
	size_t n;		      /* their events, counted in queued until answered */
	int rc;
};

struct pipeline {
	struct store *store;
	pthread_t thread, detect_thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ingest_batch *head, *tail;
	pthread_cond_t room; /* signalled when batches are answered */
	size_t queued, max_events, txn_events;
	bool stopping, started, detect_started, writer_done;
	/* The ring of committed transactions, its two conditions (work for the detect thread,
	 * room for the writer) under mu. */
	struct committed_txn done_q[DETECT_TXNS];
	size_t done_head, done_n;
	pthread_cond_t done_work, done_room;
	struct pipeline_stats st;
	void (*committed)(void *ctx, const struct event *ev);
	void *committed_ctx;
	void (*maint)(void *arg);
	void *maint_arg;
	int64_t maint_interval_us, maint_next_us;
	int64_t probe_next_us;
	struct enrich *enrich;	   /* set before the first submit, then only read */
	struct pipeline_sink sink; /* likewise; write NULL: the store */
};

#define PROBE_INTERVAL_US 1000000

/* Run the upkeep function when due. Called with p->mu held; releases it meanwhile. */
static void maybe_maintain(struct pipeline *p)
{
	int64_t now = ts_now_us();
	if (!p->maint || now < p->maint_next_us)
		return;
	p->maint_next_us = now + p->maint_interval_us;
	pthread_mutex_unlock(&p->mu);
	p->maint(p->maint_arg);
	pthread_mutex_lock(&p->mu);
}

void pipeline_set_committed_hook(struct pipeline *p, void (*fn)(void *ctx, const struct event *ev),
				 void *ctx)
{
	pthread_mutex_lock(&p->mu);
	p->committed = fn;
	p->committed_ctx = ctx;
	pthread_mutex_unlock(&p->mu);
}

void pipeline_set_maintenance(struct pipeline *p, void (*fn)(void *arg), void *arg, int interval_ms)
{
	pthread_mutex_lock(&p->mu);
	p->maint = fn;
	p->maint_arg = arg;
	p->maint_interval_us = (int64_t)(interval_ms > 0 ? interval_ms : 60000) * 1000;
	p->maint_next_us = ts_now_us();
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* The sink's turn instead of a transaction. -> the first failure, or 0. */
static int sink_write(struct pipeline *p, struct ingest_batch *batches, int64_t t0)
{
	int rc = 0;
	for (struct ingest_batch *b = batches; b; b = b->next) {
		for (size_t i = 0; i < b->n; i++) {
			if (!b->received_set)
				b->ev[i].received_at = t0;
			b->dup[i] = false;
		}
		b->rc = 0;
		b->accepted = b->duplicates = 0;
	}
	p->sink.write(p->sink.ctx, batches);
	for (struct ingest_batch *b = batches; b && rc == 0; b = b->next)
		rc = b->rc;
	return rc;
}

static void run_committed(struct pipeline *p, struct committed_txn *t);

static void run_batch(struct pipeline *p, struct ingest_batch *batches, size_t n_events)
{
	int64_t t0 = ts_now_us();
	uint64_t rows = 0, dups = 0;
	int rc = 0;
	if (p->sink.write) {
		rc = sink_write(p, batches, t0);
		goto counted;
	}
	rc = store_begin(p->store);
	for (struct ingest_batch *b = batches; b && rc == 0; b = b->next) {
		for (size_t i = 0; i < b->n && !b->received_set; i++)
			b->ev[i].received_at = t0;
		if (b->n)
			rc = store_append_many(p->store, b->ev, b->n, b->dup);
		for (size_t i = 0; i < b->n_offsets && rc == 0; i++) {
			const struct ingest_offset *o = &b->offsets[i];
			rc = store_set_offset(p->store, o->path, o->dev, o->ino, o->offset);
		}
		for (size_t i = 0; i < b->n_dead && rc == 0; i++)
			rc = store_add_dead_letter(p->store, b->dead[i].source, b->dead[i].file,
						   b->dead[i].offset, b->dead[i].reason,
						   b->dead[i].raw, b->dead[i].raw_n, t0);
	}
	if (rc == 0)
		rc = store_commit(p->store);
	else
		store_rollback(p->store);
	/* The duplicate flags are final only after the commit. */
	for (struct ingest_batch *b = batches; b; b = b->next) {
		b->accepted = b->duplicates = 0;
		b->rc = rc;
		for (size_t i = 0; rc == 0 && i < b->n; i++)
			*(b->dup[i] ? &b->duplicates : &b->accepted) += 1;
	}
counted:;
	/* A sink answers each batch on its own: some of a group may fail and others not. */
	bool any_ok = false, any_failed = false;
	for (struct ingest_batch *b = batches; b; b = b->next) {
		rows += b->accepted;
		dups += b->duplicates;
		*(b->rc == 0 ? &any_ok : &any_failed) = true;
	}
	int64_t t1 = ts_now_us();

	pthread_mutex_lock(&p->mu);
	if (any_ok) {
		p->st.commits++;
		p->st.committed_events += rows;
		p->st.duplicate_events += dups;
		p->st.last_commit_rows = rows;
		p->st.failed_commits_in_row = 0;
	}
	if (any_failed) {
		p->st.failed_commits++;
		p->st.failed_commits_in_row++;
	}
	p->st.last_commit_us = t1;
	p->st.last_commit_latency_us = t1 - t0;
	pthread_mutex_unlock(&p->mu);
	if (rc < 0 && !p->sink.write) /* a sink logs its own failures */
		log_error("pipeline", "commit failed: %s", siem_strerror(rc));

	/* Detection and the answers on the detect thread, while this one writes the next; a
	 * small transaction with nothing before it waiting there, here (same order). */
	struct committed_txn t = {.batches = batches, .n = n_events, .rc = rc};
	pthread_mutex_lock(&p->mu);
	bool here = p->done_n == 0 && n_events < DETECT_HERE_MAX;
	while (!here && p->done_n == DETECT_TXNS)
		pthread_cond_wait(&p->done_room, &p->mu);
	if (!here) {
		p->done_q[(p->done_head + p->done_n++) % DETECT_TXNS] = t;
		pthread_cond_signal(&p->done_work);
	}
	pthread_mutex_unlock(&p->mu);
	if (here) {
		run_committed(p, &t);
		pthread_mutex_lock(&p->mu);
		p->queued -= t.n;
		p->st.queued_events = p->queued;
		pthread_cond_broadcast(&p->room);
		pthread_mutex_unlock(&p->mu);
	}
}

/* The committed hook on a transaction's stored events, in commit order, then its answers. */
static void run_committed(struct pipeline *p, struct committed_txn *t)
{
	pthread_mutex_lock(&p->mu);
	void (*hook)(void *, const struct event *) = p->committed;
	void *hook_ctx = p->committed_ctx;
	pthread_mutex_unlock(&p->mu);
	if (hook && !p->sink.write && t->rc == 0) {
		struct stage_timer clk;
		stage_start(&clk, t->n);
		uint64_t n = 0;
		for (struct ingest_batch *b = t->batches; b; b = b->next)
			for (size_t i = 0; i < b->n; i++)
				if (!b->dup[i]) {
					hook(hook_ctx, &b->ev[i]);
					n++;
				}
		stage_lap(&clk, STAGE_DETECT, n);
	}
	for (struct ingest_batch *b = t->batches, *next; b; b = next) {
		next = b->next;
		b->done(b); /* may free b */
	}
}

static void *detect_main(void *arg)
{
	struct pipeline *p = arg;
	pthread_setname_np(pthread_self(), "siem-detect"); /* for top -H and perf */
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->done_n == 0 && !p->writer_done)
			pthread_cond_wait(&p->done_work, &p->mu);
		if (p->done_n == 0)
			break; /* the writer has stopped and everything it committed is answered */
		struct committed_txn t = p->done_q[p->done_head];
		pthread_mutex_unlock(&p->mu);
		run_committed(p, &t);
		pthread_mutex_lock(&p->mu);
		p->done_head = (p->done_head + 1) % DETECT_TXNS;
		p->done_n--;
		pthread_cond_signal(&p->done_room);
		p->queued -= t.n;
		p->st.queued_events = p->queued;
		pthread_cond_broadcast(&p->room);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* After failed commits, with nothing queued: ask the store whether a commit can succeed
 * again, so that /ready recovers without waiting for the next event. Called with p->mu held;
 * releases it meanwhile. */
static void maybe_probe(struct pipeline *p)
{
	int64_t now = ts_now_us();
	if (p->sink.idle) {
		/* A sink's connection needs its turn whether or not a batch failed. */
		pthread_mutex_unlock(&p->mu);
		int rc = p->sink.idle(p->sink.ctx);
		pthread_mutex_lock(&p->mu);
		if (rc == 0 && !p->head)
			p->st.failed_commits_in_row = 0;
		return;
	}
	if (p->st.failed_commits_in_row == 0 || p->head || now < p->probe_next_us)
		return;
	p->probe_next_us = now + PROBE_INTERVAL_US;
	pthread_mutex_unlock(&p->mu);
	int rc = store_ping(p->store);
	pthread_mutex_lock(&p->mu);
	if (rc == 0 && !p->head)
		p->st.failed_commits_in_row = 0;
}

static void *writer_main(void *arg)
{
	struct pipeline *p = arg;
	pthread_setname_np(pthread_self(), "siem-writer");
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stopping) {
			maybe_maintain(p);
			maybe_probe(p);
			if (p->head || p->stopping)
				break;
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&p->cv, &p->mu, &until);
		}
		if (!p->head && p->stopping)
			break;
		/* Take batches up to the transaction cap (at least one; a batch that asks to be
		 * alone, alone). */
		struct ingest_batch *first = p->head, *last = p->head;
		size_t n = last->n;
		while (!first->alone && last->next && !last->next->alone &&
		       n + last->next->n <= p->txn_events) {
			last = last->next;
			n += last->n;
		}
		p->head = last->next;
		if (!p->head)
			p->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&p->mu);

		run_batch(p, first, n);

		pthread_mutex_lock(&p->mu);
		maybe_maintain(p);
	}
	p->st.writer_alive = false;
	p->writer_done = true;
	pthread_cond_signal(&p->done_work);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int pipeline_start(struct pipeline **out, struct store *s, size_t max_events, size_t txn_events)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->store = s;
	p->max_events = max_events ? max_events : 200000;
	p->txn_events = txn_events ? txn_events : 50000;
	p->st.max_events = p->max_events;
	p->st.writer_alive = true;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_cond_init(&p->room, NULL);
	pthread_cond_init(&p->done_work, NULL);
	pthread_cond_init(&p->done_room, NULL);
	int err = pthread_create(&p->detect_thread, NULL, detect_main, p);
	if (err) {
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		pthread_cond_destroy(&p->room);
		pthread_cond_destroy(&p->done_work);
		pthread_cond_destroy(&p->done_room);
		free(p);
		return -err;
	}
	p->detect_started = true;
	if ((err = pthread_create(&p->thread, NULL, writer_main, p)) != 0) {
		p->writer_done = true;
		pipeline_stop(p);
		return -err;
	}
	p->started = true;
	*out = p;
	return 0;
}

static int submit(struct pipeline *p, struct ingest_batch *b, int timeout_ms)
{
	int rc = 0;
	struct timespec until;
	if (timeout_ms > 0)
		until = clock_deadline_ms(timeout_ms);
	b->next = NULL;
	/* Enrichment, on the receiver's thread (once: a batch may be offered again). */
	if (!b->enriched) {
		struct stage_timer clk;
		stage_start(&clk, b->n);
		enrich_events(p->enrich, b->ev, b->n, &b->arena);
		stage_lap(&clk, STAGE_ENRICH, b->n);
	}
	b->enriched = true;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->stopping || !p->st.writer_alive) {
			rc = SIEM_ECLOSED;
			break;
		}
		/* A single batch larger than the queue is still taken when the queue is empty. */
		if (p->queued + b->n <= p->max_events || p->queued == 0)
			break;
		if (timeout_ms <= 0 || pthread_cond_timedwait(&p->room, &p->mu, &until) != 0) {
			rc = SIEM_EFULL;
			break;
		}
	}
	if (rc == 0) {
		if (p->tail)
			p->tail->next = b;
		else
			p->head = b;
		p->tail = b;
		p->queued += b->n;
		p->st.queued_events = p->queued;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int pipeline_submit(struct pipeline *p, struct ingest_batch *b)
{
	return submit(p, b, 0);
}

int pipeline_submit_wait(struct pipeline *p, struct ingest_batch *b, int timeout_ms)
{
	return submit(p, b, timeout_ms);
}

void pipeline_set_enrich(struct pipeline *p, struct enrich *e)
{
	p->enrich = e;
}

void pipeline_set_sink(struct pipeline *p, const struct pipeline_sink *s)
{
	pthread_mutex_lock(&p->mu);
	p->sink = *s;
	pthread_mutex_unlock(&p->mu);
}

void pipeline_stats(struct pipeline *p, struct pipeline_stats *st)
{
	pthread_mutex_lock(&p->mu);
	*st = p->st;
	pthread_mutex_unlock(&p->mu);
}

void pipeline_stop(struct pipeline *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_signal(&p->cv);
	pthread_cond_broadcast(&p->room);
	pthread_mutex_unlock(&p->mu);
	if (p->started)
		pthread_join(p->thread, NULL);
	if (p->detect_started) /* it answers what the writer committed last, then ends */
		pthread_join(p->detect_thread, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_cond_destroy(&p->room);
	pthread_cond_destroy(&p->done_work);
	pthread_cond_destroy(&p->done_room);
	free(p);
}
