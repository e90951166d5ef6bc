/* idset.c — open addressing with linear probing and backward-shift deletion. UUIDs are
 * random enough that their own bytes serve as the hash (mixed for non-random ids). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/idset.h"

void idset_init(struct idset *s)
{
	s->slot = NULL;
	s->cap = s->n = 0;
}

void idset_release(struct idset *s)
{
	free(s->slot);
	idset_init(s);
}

static size_t hash(const uint8_t id[16])
{
	uint64_t a, b;
	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
	return (size_t)(h ^ (h >> 32));
}

int64_t idset_get(const struct idset *s, const uint8_t id[16])
{
	if (!s->cap)
		return 0;
	for (size_t i = hash(id) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		const struct idset_slot *e = &s->slot[i];
		if (!e->seq)
			return 0;
		if (memcmp(e->id, id, 16) == 0)
			return e->seq;
	}
}

static void insert(struct idset_slot *slot, size_t cap, const uint8_t id[16], int64_t seq)
{
	for (size_t i = hash(id) & (cap - 1);; i = (i + 1) & (cap - 1)) {
		if (!slot[i].seq || memcmp(slot[i].id, id, 16) == 0) {
			memcpy(slot[i].id, id, 16);
			slot[i].seq = seq;
			return;
		}
	}
}

int idset_put(struct idset *s, const uint8_t id[16], int64_t seq)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 65536;
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
	size_t mask = s->cap - 1, i = hash(id) & mask;
	for (;; i = (i + 1) & mask) {
		if (!s->slot[i].seq)
			return;
		if (memcmp(s->slot[i].id, id, 16) == 0)
			break;
	}
	/* Backward shift: move later entries of the run into the hole when their home allows. */
	size_t hole = i;
	for (size_t j = (i + 1) & mask; s->slot[j].seq; j = (j + 1) & mask) {
		size_t home = hash(s->slot[j].id) & mask;
		bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
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
