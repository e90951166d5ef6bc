/* stats_acc.c — counts per key (and per time bucket) as a query collects them: an
 * open-addressing table over the keys, sorted by count at the end. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"
#include "store/stats_int.h"

int acc_init(struct acc *a, size_t nb, size_t cap_keys)
{
	memset(a, 0, sizeof(*a));
	a->nb = nb;
	a->cap_keys = cap_keys;
	a->nslot = 1024;
	arena_init(&a->arena, 0);
	return (a->slot = calloc(a->nslot, sizeof(*a->slot))) ? 0 : -ENOMEM;
}

void acc_release(struct acc *a)
{
	if (a->slot)
		for (size_t i = 0; i < a->nslot; i++)
			free(a->slot[i].counts);
	free(a->slot);
	arena_release(&a->arena);
}

static int acc_grow(struct acc *a)
{
	size_t nslot = a->nslot * 2;
	struct acc_key *s = calloc(nslot, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < a->nslot; i++) {
		if (!a->slot[i].k)
			continue;
		size_t j = a->slot[i].h & (nslot - 1);
		while (s[j].k)
			j = (j + 1) & (nslot - 1);
		s[j] = a->slot[i];
	}
	free(a->slot);
	a->slot = s;
	a->nslot = nslot;
	return 0;
}

int acc_add(struct acc *a, const char *k, size_t n, size_t bucket, int64_t count)
{
	if (a->nkeys >= a->cap_keys) {
		/* Past the cap only keys already seen keep their own entry. */
		uint64_t h = hash_cont(1469598103934665603ULL, k, n);
		for (size_t i = h & (a->nslot - 1); a->slot[i].k; i = (i + 1) & (a->nslot - 1))
			if (a->slot[i].h == h && a->slot[i].n == n &&
			    memcmp(a->slot[i].k, k, n) == 0)
				goto found_or_new;
		if (a->nb == 1)
			return -E2BIG;
		k = OTHER;
		n = sizeof(OTHER) - 1;
	}
found_or_new:;
	uint64_t h = hash_cont(1469598103934665603ULL, k, n);
	size_t i = h & (a->nslot - 1);
	for (; a->slot[i].k; i = (i + 1) & (a->nslot - 1))
		if (a->slot[i].h == h && a->slot[i].n == n && memcmp(a->slot[i].k, k, n) == 0)
			break;
	struct acc_key *e = &a->slot[i];
	if (!e->k) {
		if (a->nkeys >= MAX_KEYS)
			return -E2BIG;
		if (!(e->k = arena_strndup(&a->arena, k, n)))
			return -ENOMEM;
		e->n = n;
		e->h = h;
		if (a->nb > 1 && !(e->counts = calloc(a->nb, sizeof(*e->counts))))
			return -ENOMEM;
		a->nkeys++;
	}
	e->total += count;
	if (e->counts && bucket < a->nb)
		e->counts[bucket] += count;
	if (a->nkeys * 10 >= a->nslot * 7)
		return acc_grow(a);
	return 0;
}

static int by_total(const void *x, const void *y)
{
	const struct acc_key *a = *(const struct acc_key *const *)x;
	const struct acc_key *b = *(const struct acc_key *const *)y;
	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	int c = memcmp(a->k, b->k, a->n < b->n ? a->n : b->n);
	return c ? c : (a->n > b->n) - (a->n < b->n);
}

/* The keys, most frequent first (then by key). */
struct acc_key **acc_sorted(struct acc *a)
{
	struct acc_key **v = malloc((a->nkeys ? a->nkeys : 1) * sizeof(*v));
	size_t k = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < a->nslot; i++)
		if (a->slot[i].k)
			v[k++] = &a->slot[i];
	qsort(v, k, sizeof(*v), by_total);
	return v;
}
