/* sigma_valset.c — a long ORed value list of plain literals decided in one pass instead of
 * one comparison per value: a hash table for exact, startswith and endswith lists (one probe
 * per distinct literal length), an Aho-Corasick automaton with sibling lists (memory
 * proportional to the literals' bytes) for contains lists. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "detect/sigma_int.h"

struct valset {
	enum vm_kind kind;
	bool cased;
	size_t n; /* literals */
	/* exact / prefix / suffix: open addressing over the literals (NULL: empty slot) */
	size_t mask;
	const struct vmatch **slot;
	size_t nlens; /* distinct lengths, ascending */
	size_t *lens;
	/* contains: the trie, its failure links and which states end a literal */
	size_t nstates;
	uint32_t *child, *sibling, *fail;
	uint8_t *byte, *term;
	uint32_t root[256]; /* the root's transitions, dense (0: stay at the root) */
	size_t bytes;	    /* memory held, for the docs' measurements and tests */
};

static bool set_lookup(const struct valset *vs, const char *p, size_t n)
{
	size_t i = (size_t)hash_bytes(p, n) & vs->mask;
	for (const struct vmatch *m; (m = vs->slot[i]); i = (i + 1) & vs->mask)
		if (m->n == n && sigma_eqb(m->s, p, n))
			return true;
	return false;
}

static uint32_t edge(const struct valset *vs, uint32_t st, uint8_t c)
{
	if (st == 0)
		return vs->root[c];
	for (uint32_t k = vs->child[st]; k; k = vs->sibling[k])
		if (vs->byte[k] == c)
			return k;
	return 0;
}

static bool ac_scan(const struct valset *vs, const char *p, size_t n)
{
	uint32_t st = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)p[i];
		uint32_t t = 0;
		while (st && !(t = edge(vs, st, c)))
			st = vs->fail[st];
		st = st ? t : vs->root[c];
		if (vs->term[st])
			return true;
	}
	return false;
}

bool valset_match(const struct valset *vs, const char *p, size_t n)
{
	switch (vs->kind) {
	case VM_EXACT:
		return set_lookup(vs, p, n);
	case VM_PREFIX:
	case VM_SUFFIX:
		for (size_t i = 0; i < vs->nlens && vs->lens[i] <= n; i++) {
			size_t l = vs->lens[i];
			if (set_lookup(vs, vs->kind == VM_PREFIX ? p : p + n - l, l))
				return true;
		}
		return false;
	case VM_CONTAINS:
		return ac_scan(vs, p, n);
	default:
		return false;
	}
}

enum vm_kind valset_kind(const struct valset *vs)
{
	return vs->kind;
}

bool valset_cased(const struct valset *vs)
{
	return vs->cased;
}

size_t valset_bytes(const struct valset *vs)
{
	return vs->bytes;
}

static void *zalloc(struct arena *a, size_t n, size_t *bytes)
{
	void *p = arena_alloc(a, n ? n : 1);
	if (p) {
		memset(p, 0, n);
		*bytes += n;
	}
	return p;
}

static int by_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

static int build_table(struct arena *a, struct valset *vs, const struct vmatch *v, size_t n)
{
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	vs->mask = cap - 1;
	vs->slot = zalloc(a, cap * sizeof(*vs->slot), &vs->bytes);
	vs->lens = zalloc(a, n * sizeof(*vs->lens), &vs->bytes);
	if (!vs->slot || !vs->lens)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		const struct vmatch *m = &v[k];
		if (set_lookup(vs, m->s, m->n))
			continue; /* a repeated literal */
		size_t i = (size_t)hash_bytes(m->s, m->n) & vs->mask;
		while (vs->slot[i])
			i = (i + 1) & vs->mask;
		vs->slot[i] = m;
		size_t j = 0;
		while (j < vs->nlens && vs->lens[j] != m->n)
			j++;
		if (j == vs->nlens)
			vs->lens[vs->nlens++] = m->n;
	}
	qsort(vs->lens, vs->nlens, sizeof(*vs->lens), by_size);
	return 0;
}

static int build_automaton(struct arena *a, struct valset *vs, const struct vmatch *v, size_t n)
{
	size_t total = 1;
	for (size_t k = 0; k < n; k++)
		total += v[k].n;
	if (total > UINT32_MAX)
		return -E2BIG;
	vs->child = zalloc(a, total * sizeof(uint32_t), &vs->bytes);
	vs->sibling = zalloc(a, total * sizeof(uint32_t), &vs->bytes);
	vs->fail = zalloc(a, total * sizeof(uint32_t), &vs->bytes);
	vs->byte = zalloc(a, total, &vs->bytes);
	vs->term = zalloc(a, total, &vs->bytes);
	if (!vs->child || !vs->sibling || !vs->fail || !vs->byte || !vs->term)
		return -ENOMEM;
	vs->nstates = 1;
	for (size_t k = 0; k < n; k++) {
		uint32_t st = 0;
		for (size_t i = 0; i < v[k].n && !vs->term[st]; i++) {
			uint8_t c = (uint8_t)v[k].s[i];
			uint32_t t = edge(vs, st, c);
			if (!t) {
				t = (uint32_t)vs->nstates++;
				vs->byte[t] = c;
				if (st == 0) {
					vs->root[c] = t;
				} else {
					vs->sibling[t] = vs->child[st];
					vs->child[st] = t;
				}
			}
			st = t;
		}
		vs->term[st] = 1; /* a literal that contains another needs nothing below it */
	}
	/* failure links, breadth first; a state is terminal when a suffix of it is */
	uint32_t *queue = malloc(vs->nstates * sizeof(*queue));
	if (!queue)
		return -ENOMEM;
	size_t qh = 0, qt = 0;
	for (int c = 0; c < 256; c++)
		if (vs->root[c])
			queue[qt++] = vs->root[c];
	while (qh < qt) {
		uint32_t u = queue[qh++];
		for (uint32_t k = vs->child[u]; k; k = vs->sibling[k]) {
			uint32_t f = vs->fail[u], t = 0;
			while (f && !(t = edge(vs, f, vs->byte[k])))
				f = vs->fail[f];
			if (!f)
				t = vs->root[vs->byte[k]];
			vs->fail[k] = t != k ? t : 0;
			vs->term[k] |= vs->term[vs->fail[k]];
			queue[qt++] = k;
		}
	}
	free(queue);
	return 0;
}

int valset_build(struct arena *a, enum vm_kind kind, bool cased, const struct vmatch *v, size_t n,
		 struct valset **out)
{
	struct valset *vs = arena_alloc(a, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	memset(vs, 0, sizeof(*vs));
	vs->kind = kind;
	vs->cased = cased;
	vs->n = n;
	vs->bytes = sizeof(*vs);
	int rc = kind == VM_CONTAINS ? build_automaton(a, vs, v, n) : build_table(a, vs, v, n);
	if (rc)
		return rc;
	*out = vs;
	return 0;
}
