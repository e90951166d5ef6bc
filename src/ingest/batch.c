/* batch.c — the one batch type every receiver fills for the writer: bounded arrays of events
 * and dead letters, the file offsets read, and an arena for everything they point to. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/batch.h"

int ingest_batch_init(struct ingest_batch *b, size_t cap, size_t max_dead, size_t arena_limit)
{
	memset(b, 0, sizeof(*b));
	arena_init(&b->arena, arena_limit);
	b->cap = cap;
	b->cap_dead = max_dead;
	b->ev = malloc((cap ? cap : 1) * sizeof(*b->ev));
	b->dup = calloc(cap ? cap : 1, sizeof(*b->dup));
	if (max_dead)
		b->dead = malloc(max_dead * sizeof(*b->dead));
	if (!b->ev || !b->dup || (max_dead && !b->dead)) {
		ingest_batch_release(b);
		return -ENOMEM;
	}
	return 0;
}

struct event *ingest_batch_add_event(struct ingest_batch *b)
{
	if (ingest_batch_full(b))
		return NULL;
	struct event *ev = &b->ev[b->n++];
	memset(ev, 0, sizeof(*ev));
	return ev;
}

void ingest_batch_cancel_event(struct ingest_batch *b)
{
	if (b->n)
		b->n--;
}

int ingest_batch_add_dead(struct ingest_batch *b, const char *source, const char *file,
			  int64_t offset, const char *reason, const char *raw, size_t raw_n)
{
	if (b->n_dead >= b->cap_dead || ingest_batch_full(b))
		return -ENOSPC;
	struct ingest_dead *d = &b->dead[b->n_dead];
	if (raw_n > EV_CAP_RAW)
		raw_n = EV_CAP_RAW; /* what the store keeps */
	d->source = source;
	d->file = file ? arena_strndup(&b->arena, file, strlen(file)) : NULL;
	d->offset = offset;
	d->reason = arena_strndup(&b->arena, reason, strlen(reason));
	d->raw = arena_strndup(&b->arena, raw, raw_n);
	d->raw_n = raw_n;
	if ((file && !d->file) || !d->reason || !d->raw)
		return -ENOMEM;
	b->n_dead++;
	return 0;
}

int ingest_batch_set_offset(struct ingest_batch *b, size_t *row, const char *path, uint64_t dev,
			    uint64_t ino, int64_t offset)
{
	if (*row < b->n_offsets) {
		b->offsets[*row].offset = offset;
		return 0;
	}
	if (b->n_offsets == b->cap_offsets) {
		size_t cap = b->cap_offsets ? b->cap_offsets * 2 : 16;
		struct ingest_offset *o = realloc(b->offsets, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		b->offsets = o;
		b->cap_offsets = cap;
	}
	const char *k = arena_strndup(&b->arena, path, strlen(path));
	if (!k)
		return -ENOMEM;
	b->offsets[b->n_offsets] = (struct ingest_offset){k, dev, ino, offset};
	*row = b->n_offsets++;
	return 0;
}

size_t ingest_batch_records(const struct ingest_batch *b)
{
	return b->n + b->n_dead;
}

bool ingest_batch_full(const struct ingest_batch *b)
{
	return b->n + b->n_dead >= b->cap;
}

void ingest_batch_reset(struct ingest_batch *b)
{
	arena_reset(&b->arena);
	b->n = b->n_dead = b->n_offsets = 0;
	b->rc = 0;
	b->enriched = false;
	b->received_set = false;
	b->alone = false;
	b->accepted = b->duplicates = 0;
	b->next = NULL;
}

void ingest_batch_release(struct ingest_batch *b)
{
	arena_release(&b->arena);
	free(b->ev);
	free(b->dup);
	free(b->dead);
	free(b->offsets);
	b->ev = NULL;
	b->dup = NULL;
	b->dead = NULL;
	b->offsets = NULL;
	b->n = b->n_dead = b->n_offsets = 0;
	b->cap = b->cap_dead = b->cap_offsets = 0;
}
