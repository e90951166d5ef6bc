/* memidx.c — a hash table from (field, value) to a growing array of seq offsets. Keys are
 * copied into one growing buffer; each posting list is its own array, doubled when full. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "store/memidx.h"

struct entry {
	uint64_t hash;
	size_t key_off;
	uint32_t key_len;
	uint32_t n, cap;
	int field;
	uint32_t *post;
};

struct memidx {
	int64_t base;
	struct entry *slot;
	size_t cap, used;
	char *keys;
	size_t keys_len, keys_cap;
	size_t post_bytes;
};

static uint64_t hash(int field, const void *key, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(field + 1) * 0x9e3779b97f4a7c15ULL;
	return hash_cont(h, key, n) | 1; /* 0 marks an empty slot */
}

struct memidx *memidx_new(int64_t base_seq)
{
	struct memidx *m = calloc(1, sizeof(*m));
	if (m)
		m->base = base_seq;
	return m;
}

void memidx_free(struct memidx *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slot[i].post);
	free(m->slot);
	free(m->keys);
	free(m);
}

static struct entry *find(const struct memidx *m, int field, const void *key, size_t n, uint64_t h)
{
	if (!m->cap)
		return NULL;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct entry *e = &m->slot[i];
		if (!e->hash)
			return e;
		if (e->hash == h && e->field == field && e->key_len == n &&
		    memcmp(m->keys + e->key_off, key, n) == 0)
			return e;
	}
}

static int grow(struct memidx *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	struct entry *n = calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct entry *e = &m->slot[i];
		if (!e->hash)
			continue;
		size_t j = e->hash & (cap - 1);
		while (n[j].hash)
			j = (j + 1) & (cap - 1);
		n[j] = *e;
	}
	free(m->slot);
	m->slot = n;
	m->cap = cap;
	return 0;
}

int memidx_add(struct memidx *m, int field, const void *key, size_t n, int64_t seq)
{
	if (n > UINT32_MAX || seq < m->base || seq - m->base > UINT32_MAX)
		return -ERANGE;
	if ((m->used + 1) * 2 > m->cap && grow(m) < 0)
		return -ENOMEM;
	uint64_t h = hash(field, key, n);
	struct entry *e = find(m, field, key, n, h);
	if (!e->hash) {
		if (m->keys_len + n > m->keys_cap) {
			size_t cap = m->keys_cap ? m->keys_cap * 2 : 65536;
			while (cap < m->keys_len + n)
				cap *= 2;
			char *k = realloc(m->keys, cap);
			if (!k)
				return -ENOMEM;
			m->keys = k;
			m->keys_cap = cap;
		}
		if (n)
			memcpy(m->keys + m->keys_len, key, n);
		e->hash = h;
		e->field = field;
		e->key_off = m->keys_len;
		e->key_len = (uint32_t)n;
		m->keys_len += n;
		m->used++;
	}
	if (e->n == e->cap) {
		uint32_t cap = e->cap ? e->cap * 2 : 4;
		uint32_t *p = realloc(e->post, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		m->post_bytes += (size_t)(cap - e->cap) * sizeof(*p);
		e->post = p;
		e->cap = cap;
	}
	e->post[e->n++] = (uint32_t)(seq - m->base);
	return 0;
}

size_t memidx_count(const struct memidx *m, int field, const void *key, size_t n)
{
	const struct entry *e = find(m, field, key, n, hash(field, key, n));
	return e && e->hash ? e->n : 0;
}

int memidx_collect(const struct memidx *m, int field, const void *key, size_t n, int64_t **out,
		   size_t *nout, size_t *cap)
{
	const struct entry *e = find(m, field, key, n, hash(field, key, n));
	if (!e || !e->hash)
		return 0;
	if (*nout + e->n > *cap) {
		size_t c = *cap ? *cap : 256;
		while (c < *nout + e->n)
			c *= 2;
		int64_t *p = realloc(*out, c * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*out = p;
		*cap = c;
	}
	for (uint32_t i = 0; i < e->n; i++)
		(*out)[(*nout)++] = m->base + e->post[i];
	return 0;
}

size_t memidx_bytes(const struct memidx *m)
{
	return m ? m->cap * sizeof(struct entry) + m->keys_cap + m->post_bytes : 0;
}
