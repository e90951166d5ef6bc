/* idset.c — open addressing with linear probing and backward-shift deletion, filled up to
 * three quarters. UUIDs are random enough that their own bytes serve as the hash (mixed for
 * non-random ids); a slot is the hash scaled to the table's size, which need not be a power
 * of two. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/idset.h"

void idset_init(struct idset *s)
{
	s->slot = NULL;
	s->cap = s->n = s->expect = 0;
}

void idset_expect(struct idset *s, size_t n)
{
	s->expect = n;
}

void idset_release(struct idset *s)
{
	free(s->slot);
	idset_init(s);
}

/* The home slot of id in a table of cap slots. */
static size_t home(const uint8_t id[16], size_t cap)
{
	uint64_t a, b;
	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
	h ^= h >> 32;
	return (size_t)(((unsigned __int128)h * cap) >> 64);
}

static inline size_t next(size_t i, size_t cap)
{
	return i + 1 == cap ? 0 : i + 1;
}

int64_t idset_get(const struct idset *s, const uint8_t id[16])
{
	if (!s->cap)
		return 0;
	for (size_t i = home(id, s->cap);; i = next(i, s->cap)) {
		const struct idset_slot *e = &s->slot[i];
		if (!e->seq)
			return 0;
		if (memcmp(e->id, id, 16) == 0)
			return e->seq;
	}
}

static void insert(struct idset_slot *slot, size_t cap, const uint8_t id[16], int64_t seq)
{
	for (size_t i = home(id, cap);; i = next(i, cap)) {
		if (!slot[i].seq || memcmp(slot[i].id, id, 16) == 0) {
			memcpy(slot[i].id, id, 16);
			slot[i].seq = seq;
			return;
		}
	}
}

int idset_put(struct idset *s, const uint8_t id[16], int64_t seq)
{
	if ((s->n + 1) * 4 > s->cap * 3) {
		size_t cap = s->cap ? s->cap * 2 : 65536, full = s->expect / 3 * 4 + 4;
		if (s->expect && s->cap < full && cap > full)
			cap = full;
		else if (s->expect && s->cap >= full)
			cap = s->cap + s->cap / 4; /* a last transaction past the segment's rows */
		struct idset_slot *n = calloc(cap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i].seq)
				insert(n, cap, s->slot[i].id, s->slot[i].seq);
		free(s->slot);
		s->slot = n;
		s->cap = cap;
	}
	if (!idset_get(s, id))
		s->n++;
	insert(s->slot, s->cap, id, seq);
	return 0;
}

void idset_del(struct idset *s, const uint8_t id[16])
{
	if (!s->cap)
		return;
	size_t cap = s->cap, i = home(id, cap);
	for (;; i = next(i, cap)) {
		if (!s->slot[i].seq)
			return;
		if (memcmp(s->slot[i].id, id, 16) == 0)
			break;
	}
	/* Backward shift: move later entries of the run into the hole when their home allows. */
	size_t hole = i;
	for (size_t j = next(i, cap); s->slot[j].seq; j = next(j, cap)) {
		size_t h = home(s->slot[j].id, cap);
		bool movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
		if (movable) {
			s->slot[hole] = s->slot[j];
			hole = j;
		}
	}
	s->slot[hole].seq = 0;
	s->n--;
}

size_t idset_bytes(const struct idset *s)
{
	return s->cap * sizeof(struct idset_slot);
}
