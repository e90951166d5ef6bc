/* memidx.h — in-memory postings for a segment that has no query indices yet (the active
 * one, and a sealed one until the indexer is done): for each value of event_type, app,
 * host, user, request_id and source address, the seqs of its events. A selective filter on
 * such a segment then reads its few rows by seq instead of scanning the segment. */
#ifndef SIEM_MEMIDX_H
#define SIEM_MEMIDX_H

#include <stddef.h>
#include <stdint.h>

enum memidx_field { MI_EVENT_TYPE, MI_APP, MI_HOST, MI_USER, MI_REQUEST_ID, MI_IP, MI_NFIELDS };

struct memidx;

/* Seqs are stored as 32-bit offsets from base_seq (a segment holds fewer than 2^32 events). */
struct memidx *memidx_new(int64_t base_seq);
void memidx_free(struct memidx *m);
/* Record that the event seq has key in field. -ENOMEM when it cannot grow. */
int memidx_add(struct memidx *m, int field, const void *key, size_t n, int64_t seq);
/* How many events have key in field. */
size_t memidx_count(const struct memidx *m, int field, const void *key, size_t n);
/* Append the seqs of key to *out (grown as needed). */
int memidx_collect(const struct memidx *m, int field, const void *key, size_t n, int64_t **out,
		   size_t *nout, size_t *cap);
size_t memidx_bytes(const struct memidx *m);

#endif
