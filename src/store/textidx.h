/* textidx.h — a text filter for a segment that has no text index yet (the active one, and a
 * sealed one until the indexer has built its FTS5 index): per block of TEXTIDX_BLOCK
 * consecutive seqs, a bit set of the byte trigrams of its events' texts (message, raw line,
 * HTTP path), ASCII letters folded. A search for q reads only the blocks whose bits hold every
 * trigram of q's terms; the exact check (siem_text_has) decides on their rows. About 8
 * bytes per event, and a fraction of a microsecond to add one. */
#ifndef SIEM_TEXTIDX_H
#define SIEM_TEXTIDX_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

#define TEXTIDX_BLOCK 64 /* seqs per block */
#define TEXTQ_MAX 64	 /* trigrams a query tests (more only narrow less) */

struct textidx;

/* The trigrams of q's terms as bit positions: n is 0 when no term has three bytes or more
 * (then the filter cannot narrow: read every block). */
struct textq {
	size_t n;
	uint16_t bit[TEXTQ_MAX];
};

/* Blocks hold seqs base_seq + k * TEXTIDX_BLOCK onwards. NULL when out of memory. */
struct textidx *textidx_new(int64_t base_seq);
void textidx_free(struct textidx *t);
/* Record the texts of event seq, at time ts (n of them; a NULL p is skipped). -ENOMEM when
 * it cannot grow, -ERANGE for a seq below base_seq or 2^32 or more above it. */
int textidx_add(struct textidx *t, int64_t seq, int64_t ts, const struct sv *texts, size_t n);
void textq_build(struct textq *tq, const char *q);
/* Seqs lo..hi whose events' times lie within min_ts..max_ts. */
struct text_range {
	int64_t lo, hi, min_ts, max_ts;
};

/* The blocks that may hold q's text and have an event in from..to, newest first, into r (up
 * to max). Returns how many blocks may (which can exceed max: r then holds the newest max). */
size_t textidx_blocks(const struct textidx *t, const struct textq *tq, int64_t from, int64_t to,
		      struct text_range *r, size_t max);
/* How many blocks it has. */
size_t textidx_nblocks(const struct textidx *t);
size_t textidx_bytes(const struct textidx *t);

#endif
