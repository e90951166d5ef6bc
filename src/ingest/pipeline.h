/* pipeline.h — the bounded queue between receivers and the single store writer. Receivers
 * submit jobs (a batch of normalized events); the writer commits many jobs in one
 * transaction (group commit) and then calls each job's done() from its thread. */
#ifndef SIEM_PIPELINE_H
#define SIEM_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "store/store.h"

/* A file source's read position, committed with the events read before it. */
struct ingest_offset {
	const char *path;
	uint64_t dev, ino;
	int64_t offset;
};

/* A record that could not be parsed, kept with its reason (DESIGN §7). */
struct ingest_dead {
	const char *source;      /* "tail", "syslog_udp", ... */
	const char *file;        /* or NULL */
	int64_t offset;          /* -1 when none */
	const char *reason;
	const char *raw;
	size_t raw_n;
};

struct ingest_job {
	struct event *ev;
	size_t n;
	const struct ingest_offset *offsets; /* written in the same transaction */
	size_t n_offsets;
	const struct ingest_dead *dead;      /* likewise */
	size_t n_dead;
	bool *dup;   /* n flags, set by the writer */
	int rc;      /* commit result, set by the writer */
	size_t accepted, duplicates;
	void (*done)(struct ingest_job *j); /* from the writer thread, after commit */
	void *ctx;
	struct ingest_job *next;
};

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
/* Queue a job. SIEM_EFULL when it does not fit now (answer 503), SIEM_ECLOSED when stopping. */
int pipeline_submit(struct pipeline *p, struct ingest_job *j);
/* Queue a job, waiting up to timeout_ms for room (file sources wait rather than drop).
 * SIEM_EFULL after the timeout, SIEM_ECLOSED when stopping. */
int pipeline_submit_wait(struct pipeline *p, struct ingest_job *j, int timeout_ms);
void pipeline_stats(struct pipeline *p, struct pipeline_stats *st);
/* Have the writer thread call fn(ctx, ev) for every event a transaction stored (not the
 * duplicates), after its commit and before the jobs are answered: detection runs here. */
void pipeline_set_committed_hook(struct pipeline *p, void (*fn)(void *ctx, const struct event *ev),
				 void *ctx);
/* Have the writer thread call fn(arg) every interval_ms, between transactions (store
 * upkeep such as retention runs there, so it never races the writer). */
void pipeline_set_maintenance(struct pipeline *p, void (*fn)(void *arg), void *arg,
			      int interval_ms);
/* Commit everything queued, then stop the writer and free the pipeline. */
void pipeline_stop(struct pipeline *p);

#endif
