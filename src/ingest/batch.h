/* batch.h — one batch on its way from a receiver to the writer: events, their duplicate
 * flags, the dead letters and file offsets committed with them, and the arena they live in. */
#ifndef SIEM_INGEST_BATCH_H
#define SIEM_INGEST_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/event.h"

/* A file source's read position, committed with the events read before it. */
struct ingest_offset {
	const char *path;
	uint64_t dev, ino;
	int64_t offset;
};

/* A record that could not be parsed, kept with its reason (DESIGN §7). */
struct ingest_dead {
	const char *source; /* "tail", "syslog_udp", ... */
	const char *file;   /* or NULL */
	int64_t offset;	    /* -1 when none */
	const char *reason;
	const char *raw;
	size_t raw_n;
};

/* A receiver produces a batch (ingest_batch_add_*), sets done and ctx, and hands it to
 * pipeline_submit; the writer commits it and the pipeline's detect thread calls done(). What
 * the batch points to is in its own arrays and arena, or is a string constant (a dead
 * letter's source): nothing points into the receiver's buffers, so a submitted batch stands
 * alone.
 * The writer reads it and sets dup, rc, accepted and duplicates; it changes nothing else. */
struct ingest_batch {
	struct event *ev;
	size_t n;
	bool *dup;		  /* n flags, set by the writer */
	struct ingest_dead *dead; /* committed in the same transaction */
	size_t n_dead;
	struct ingest_offset *offsets; /* likewise */
	size_t n_offsets;
	size_t cap, cap_dead, cap_offsets;
	struct arena arena;

	bool enriched;	   /* enrichment done (ingest/pipeline.c), cleared by ingest_batch_reset */
	bool received_set; /* received_at set already (a batch from the broker): kept */
	bool alone;	   /* committed in a transaction of its own (a retry after its group
			    * failed: a poison batch does not take its neighbours down again) */
	int rc;		   /* commit result, set by the writer */
	size_t accepted, duplicates;	      /* likewise */
	void (*done)(struct ingest_batch *b); /* from the pipeline, after commit */
	void *ctx;
	struct ingest_batch *next; /* the pipeline's queue */
};

/* Room for cap records (events and dead letters together), max_dead of which may be dead
 * letters; arena_limit bounds the arena's bytes (0: no bound). 0 or -ENOMEM. */
int ingest_batch_init(struct ingest_batch *b, size_t cap, size_t max_dead, size_t arena_limit);
/* The next event, zeroed, for the caller to fill; NULL when the batch is full. */
struct event *ingest_batch_add_event(struct ingest_batch *b);
/* The event just added could not be filled: give its place back. */
void ingest_batch_cancel_event(struct ingest_batch *b);
/* A dead letter: file, reason and raw (cut at EV_CAP_RAW bytes) are copied into the arena;
 * source is a string constant; file may be NULL, offset -1. -ENOSPC when full, -ENOMEM. */
int ingest_batch_add_dead(struct ingest_batch *b, const char *source, const char *file,
			  int64_t offset, const char *reason, const char *raw, size_t raw_n);
/* A file (path, dev, ino) has been read up to offset. *row is INGEST_NO_ROW for a new row
 * (path copied into the arena, *row set to it), or a row set before in this batch, whose
 * offset moves. The rows grow as needed: one per file the batch read. 0 or -ENOMEM. */
#define INGEST_NO_ROW SIZE_MAX
int ingest_batch_set_offset(struct ingest_batch *b, size_t *row, const char *path, uint64_t dev,
			    uint64_t ino, int64_t offset);
/* Events and dead letters in it; full when they reach cap. */
size_t ingest_batch_records(const struct ingest_batch *b);
bool ingest_batch_full(const struct ingest_batch *b);
/* Empty again, for the next batch (its memory kept; done and ctx stay). */
void ingest_batch_reset(struct ingest_batch *b);
void ingest_batch_release(struct ingest_batch *b);

#endif
