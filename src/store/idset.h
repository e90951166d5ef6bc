/* idset.h — the event_ids of the active segment in memory (id -> seq). Ingest checks
 * duplicates here instead of in a random-keyed B-tree index, whose pages would all be
 * rewritten by every commit; the index is built in bulk when the segment is sealed. */
#ifndef SIEM_IDSET_H
#define SIEM_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idset_slot {
	uint8_t id[16];
	int64_t seq; /* 0 = empty */
};

struct idset {
	struct idset_slot *slot;
	size_t cap, n;
	size_t expect; /* ids it will hold at most (0: unknown): its last growth stops there */
};

void idset_init(struct idset *s);
void idset_release(struct idset *s);
/* It will hold at most n ids (a segment's rows): the table grows by doubling, and its last
 * step only to what n ids need at the highest load, not to the next power of two. */
void idset_expect(struct idset *s, size_t n);
/* The seq stored for id, or 0. */
int64_t idset_get(const struct idset *s, const uint8_t id[16]);
/* Add id -> seq (seq > 0); -ENOMEM when it cannot grow. */
int idset_put(struct idset *s, const uint8_t id[16], int64_t seq);
/* Remove id (a rolled-back insert). */
void idset_del(struct idset *s, const uint8_t id[16]);
size_t idset_bytes(const struct idset *s);

#endif
