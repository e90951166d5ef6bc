/* pipeline.h — the bounded queue between receivers and the single store writer. Receivers
 * submit batches (ingest/batch.h); the writer commits many batches in one transaction
 * (group commit) and hands the transaction to the pipeline's detect thread, which runs the
 * committed hook and then calls each batch's done() (a small one the writer does itself). */
#ifndef SIEM_PIPELINE_H
#define SIEM_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "ingest/batch.h"
#include "store/store.h"

struct pipeline_stats {
	size_t queued_events, max_events;
	uint64_t commits, committed_events, duplicate_events, failed_commits;
	uint64_t last_commit_rows;
	uint64_t failed_commits_in_row; /* 0 once a commit succeeds again */
	int64_t last_commit_us, last_commit_latency_us;
	bool writer_alive;
};

struct pipeline;

/* max_events bounds the events waiting for the writer; txn_events caps one transaction. */
int pipeline_start(struct pipeline **out, struct store *s, size_t max_events, size_t txn_events);
/* Queue a batch. SIEM_EFULL when it does not fit now (answer 503), SIEM_ECLOSED when
 * stopping. */
int pipeline_submit(struct pipeline *p, struct ingest_batch *b);
/* Queue a batch, waiting up to timeout_ms for room (file sources wait rather than drop).
 * SIEM_EFULL after the timeout, SIEM_ECLOSED when stopping. */
int pipeline_submit_wait(struct pipeline *p, struct ingest_batch *b, int timeout_ms);
void pipeline_stats(struct pipeline *p, struct pipeline_stats *st);
/* Have every submitted batch enriched (src/enrich) on its submitter's thread before it is
 * queued, so the store and detection see geo, tags and rdns. Call before the first submit. */
struct enrich;
void pipeline_set_enrich(struct pipeline *p, struct enrich *e);
/* Have the pipeline call fn(ctx, ev) for every event a transaction stored (not the
 * duplicates), in commit order, after its commit and before the batches are answered:
 * detection runs here, on the detect thread beside the writer's next transaction (or on the
 * writer for a small transaction when the detect thread has nothing waiting). */
void pipeline_set_committed_hook(struct pipeline *p, void (*fn)(void *ctx, const struct event *ev),
				 void *ctx);
/* Have the writer thread call fn(arg) every interval_ms, between transactions (store
 * upkeep such as retention runs there, so it never races the writer). */
void pipeline_set_maintenance(struct pipeline *p, void (*fn)(void *arg), void *arg,
			      int interval_ms);
/* Another writer stage than the store (broker mode's ingest role publishes instead of
 * committing): write() gets the batches the writer took, a list by next, and sets each one's
 * rc and accepted (rc 0: durable where the sink puts it); the committed hook does not run.
 * idle() runs on the writer thread when nothing is queued, at least once a second (keeping
 * a connection alive) and returns 0 while the sink can take batches (after failures, /ready
 * recovers on it). Call before the first submit. */
struct pipeline_sink {
	void (*write)(void *ctx, struct ingest_batch *list);
	int (*idle)(void *ctx);
	void *ctx;
};
void pipeline_set_sink(struct pipeline *p, const struct pipeline_sink *s);
/* Commit everything queued, then stop the writer and free the pipeline. */
void pipeline_stop(struct pipeline *p);

#endif
