/* textidx.c — per block of seqs, a 4096-bit set of byte trigrams (one bit per trigram: a
 * multiplicative hash of its three folded bytes) and the range of its events' times. Blocks
 * are growing arrays. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/textidx.h"

#define BITS 4096
#define WORDS (BITS / 64)

struct textidx {
	int64_t base;
	uint64_t *w;	  /* WORDS per block */
	int64_t (*ts)[2]; /* per block: min and max time (INT64_MAX, INT64_MIN while empty) */
	size_t nblocks, cap;
};

static inline unsigned fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static inline uint16_t tri_bit(unsigned a, unsigned b, unsigned c)
{
	uint32_t v = a | b << 8 | c << 16;
	return (uint16_t)((v * 0x9E3779B1u) >> 20); /* 12 bits */
}

struct textidx *textidx_new(int64_t base_seq)
{
	struct textidx *t = calloc(1, sizeof(*t));
	if (t)
		t->base = base_seq;
	return t;
}

void textidx_free(struct textidx *t)
{
	if (!t)
		return;
	free(t->w);
	free(t->ts);
	free(t);
}

int textidx_add(struct textidx *t, int64_t seq, int64_t ts, const struct sv *texts, size_t n)
{
	if (seq < t->base || seq - t->base > UINT32_MAX) /* a segment holds < 2^32 events */
		return -ERANGE;
	size_t b = (size_t)((seq - t->base) / TEXTIDX_BLOCK);
	if (b >= t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		while (cap <= b)
			cap *= 2;
		uint64_t *w = realloc(t->w, cap * WORDS * sizeof(*w));
		if (!w)
			return -ENOMEM;
		memset(w + t->cap * WORDS, 0, (cap - t->cap) * WORDS * sizeof(*w));
		t->w = w;
		int64_t(*r)[2] = realloc(t->ts, cap * sizeof(*r));
		if (!r)
			return -ENOMEM; /* w grew: cap stays, so the next call grows both again */
		for (size_t i = t->cap; i < cap; i++) {
			r[i][0] = INT64_MAX;
			r[i][1] = INT64_MIN;
		}
		t->ts = r;
		t->cap = cap;
	}
	if (ts < t->ts[b][0])
		t->ts[b][0] = ts;
	if (ts > t->ts[b][1])
		t->ts[b][1] = ts;
	if (b >= t->nblocks)
		t->nblocks = b + 1;
	uint64_t *w = t->w + b * WORDS;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)texts[i].p;
		if (!p || texts[i].n < 3)
			continue;
		unsigned a = fold(p[0]), c = fold(p[1]);
		for (size_t k = 2; k < texts[i].n; k++) {
			unsigned d = fold(p[k]);
			uint16_t bit = tri_bit(a, c, d);
			w[bit >> 6] |= 1ULL << (bit & 63);
			a = c;
			c = d;
		}
	}
	return 0;
}

/* Terms split as siem_text_has splits them (isspace). */
void textq_build(struct textq *tq, const char *q)
{
	tq->n = 0;
	for (const unsigned char *p = (const unsigned char *)q; p && *p && tq->n < TEXTQ_MAX;) {
		while (*p && isspace(*p))
			p++;
		const unsigned char *w = p;
		while (*p && !isspace(*p))
			p++;
		for (const unsigned char *x = w; x + 3 <= p && tq->n < TEXTQ_MAX; x++) {
			uint16_t bit = tri_bit(fold(x[0]), fold(x[1]), fold(x[2]));
			size_t j = 0;
			while (j < tq->n && tq->bit[j] != bit)
				j++;
			if (j == tq->n)
				tq->bit[tq->n++] = bit;
		}
	}
}

size_t textidx_blocks(const struct textidx *t, const struct textq *tq, int64_t from, int64_t to,
		      struct text_range *r, size_t max)
{
	size_t found = 0;
	for (size_t b = t->nblocks; b-- > 0;) {
		if (t->ts[b][1] < from || t->ts[b][0] > to) /* empty blocks too */
			continue;
		const uint64_t *w = t->w + b * WORDS;
		size_t j = 0;
		while (j < tq->n && (w[tq->bit[j] >> 6] >> (tq->bit[j] & 63) & 1))
			j++;
		if (j < tq->n)
			continue;
		if (found < max) {
			r[found].lo = t->base + (int64_t)b * TEXTIDX_BLOCK;
			r[found].hi = r[found].lo + TEXTIDX_BLOCK - 1;
			r[found].min_ts = t->ts[b][0];
			r[found].max_ts = t->ts[b][1];
		}
		found++;
	}
	return found;
}

size_t textidx_nblocks(const struct textidx *t)
{
	return t ? t->nblocks : 0;
}

size_t textidx_bytes(const struct textidx *t)
{
	return t ? t->cap * (WORDS * sizeof(uint64_t) + sizeof(*t->ts)) : 0;
}
