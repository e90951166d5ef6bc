/* spool.h — the agent's on-disk queue of unacknowledged batches: one fsync'd file per batch,
 * oldest first, bounded in bytes (when full the oldest are dropped, counted and logged). */
#ifndef SIEM_AGENT_SPOOL_H
#define SIEM_AGENT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spool;

struct spool_stats {
	uint64_t files, bytes;	  /* waiting now */
	uint64_t dropped_batches; /* removed to make room, or found damaged */
	uint64_t dropped_events;
	uint64_t aside_files;	/* set aside now (refused whole by the hub) */
	uint64_t aside_dropped; /* set-aside batches removed to make room */
};

/* One batch read back. body points into buf. */
struct spool_batch {
	char *buf;
	const char *body;
	size_t n;
	uint32_t events;
	uint64_t seq;
};

/* Open (creating) dir; aside is where refused batches are kept. Files a crash left half
 * written are removed; damaged ones are dropped and counted. */
int spool_open(struct spool **out, const char *dir, const char *aside, uint64_t max_bytes);
void spool_close(struct spool *s);
/* Store a batch durably (its file is fsync'd and renamed into place before this returns).
 * When the spool would exceed its bound the oldest batches are dropped first. */
int spool_put(struct spool *s, const char *body, size_t n, uint32_t events);
bool spool_empty(const struct spool *s);
/* The oldest batch (caller frees b->buf). -ENOENT when empty. A damaged file is dropped
 * (counted, logged) and the next one returned. */
int spool_peek(struct spool *s, struct spool_batch *b);
/* The oldest batch was acknowledged: delete it. */
int spool_pop(struct spool *s, uint64_t seq);
/* The hub refused the oldest batch as a whole: move it to the set-aside directory. */
int spool_set_aside(struct spool *s, uint64_t seq);
/* A batch that was never spooled, refused as a whole: keep it in the set-aside directory. */
int spool_set_aside_body(struct spool *s, const char *body, size_t n, uint32_t events);
void spool_get_stats(const struct spool *s, struct spool_stats *st);

#endif
