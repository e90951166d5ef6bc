/* arena.c — chunked bump allocator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

/* A request of one event needs a few KiB: the first chunk is small and each next one twice
 * the last, up to CHUNK_MAX, so that small arenas do not malloc (and free) 64 KiB each. */
#define CHUNK_FIRST (4 * 1024)
#define CHUNK_MAX (64 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t cap, off;
	_Alignas(16) unsigned char mem[];
};

void arena_init(struct arena *a, size_t limit)
{
	a->head = NULL;
	a->used = 0;
	a->limit = limit;
}

void *arena_alloc(struct arena *a, size_t n)
{
	if (n > SIZE_MAX - 15)
		return NULL; /* rounding up would wrap */
	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	if (a->limit && (n > a->limit || a->used > a->limit - n))
		return NULL;
	struct arena_chunk *c = a->head;
	if (!c || c->cap - c->off < n) {
		size_t cap = !c ? CHUNK_FIRST : c->cap >= CHUNK_MAX / 2 ? CHUNK_MAX : c->cap * 2;
		if (cap < n)
			cap = n;
		if (cap > SIZE_MAX - sizeof(*c))
			return NULL;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->off = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->mem + c->off;
	c->off += n;
	a->used += n;
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *p = arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void arena_reset(struct arena *a)
{
	/* Keep the newest chunk if it is not an oversized one: the next batch reuses it. */
	struct arena_chunk *keep = a->head;
	if (keep && keep->cap > CHUNK_MAX)
		keep = NULL;
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *n = c->next;
		if (c != keep)
			free(c);
		c = n;
	}
	if (keep) {
		keep->next = NULL;
		keep->off = 0;
	}
	a->head = keep;
	a->used = 0;
}

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *n = c->next;
		free(c);
		c = n;
	}
	a->head = NULL;
	a->used = 0;
}
