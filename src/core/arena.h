/* arena.h — bump allocator for one request or batch, freed in one call. */
#ifndef SIEM_ARENA_H
#define SIEM_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t used;  /* bytes handed out, for limits */
	size_t limit; /* 0 = unbounded */
};

void arena_init(struct arena *a, size_t limit);
/* Returns NULL when out of memory or over the limit. Memory is 16-byte aligned. */
void *arena_alloc(struct arena *a, size_t n);
/* Copy n bytes and add a NUL terminator. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Free everything allocated since arena_init (or the last reset); the arena stays usable. */
void arena_reset(struct arena *a);
void arena_release(struct arena *a);

#endif
