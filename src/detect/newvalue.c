/* newvalue.c — new-value rules' memory: the value combinations (their hashes) one rule has
 * seen, each with its newest event time, bounded (the least recently seen is forgotten and
 * counted), expired after the rule's span, and kept as bytes in the detector's state file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "detect/sigma_int.h"

#define NIL UINT32_MAX

struct nvent {
	uint64_t h;
	int64_t ts;	     /* newest sighting, event time */
	uint32_t hnext;	     /* hash chain */
	uint32_t prev, next; /* recency: most recently seen first */
};

struct nvstate {
	size_t max;
	int64_t span_us;
	struct nvent *e; /* slots; free ones chained through next */
	size_t cap, used;
	uint32_t freel;
	uint32_t *ht; /* bucket heads */
	size_t htcap;
	uint32_t head, tail;
	size_t count;
	uint64_t evicted;
};

int nvstate_new(size_t max, int64_t span_us, struct nvstate **out)
{
	struct nvstate *nv = calloc(1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	nv->max = max ? max : NEWVALUE_MAX;
	if (nv->max > NIL - 1)
		nv->max = NIL - 1;
	nv->span_us = span_us;
	nv->head = nv->tail = nv->freel = NIL;
	*out = nv;
	return 0;
}

void nvstate_free(struct nvstate *nv)
{
	if (!nv)
		return;
	free(nv->e);
	free(nv->ht);
	free(nv);
}

void nvstate_clear(struct nvstate *nv)
{
	free(nv->e);
	free(nv->ht);
	nv->e = NULL;
	nv->ht = NULL;
	nv->cap = nv->used = nv->htcap = nv->count = 0;
	nv->head = nv->tail = nv->freel = NIL;
	nv->evicted = 0;
}

void nvstate_set_span(struct nvstate *nv, int64_t span_us)
{
	nv->span_us = span_us;
}

size_t nvstate_count(const struct nvstate *nv)
{
	return nv->count;
}

uint64_t nvstate_evicted(const struct nvstate *nv)
{
	return nv->evicted;
}

static void unlink_lru(struct nvstate *nv, uint32_t i)
{
	struct nvent *e = &nv->e[i];
	if (e->prev != NIL)
		nv->e[e->prev].next = e->next;
	else
		nv->head = e->next;
	if (e->next != NIL)
		nv->e[e->next].prev = e->prev;
	else
		nv->tail = e->prev;
}

static void push_front(struct nvstate *nv, uint32_t i)
{
	struct nvent *e = &nv->e[i];
	e->prev = NIL;
	e->next = nv->head;
	if (nv->head != NIL)
		nv->e[nv->head].prev = i;
	nv->head = i;
	if (nv->tail == NIL)
		nv->tail = i;
}

static uint32_t find(const struct nvstate *nv, uint64_t h)
{
	if (!nv->htcap)
		return NIL;
	for (uint32_t i = nv->ht[h & (nv->htcap - 1)]; i != NIL; i = nv->e[i].hnext)
		if (nv->e[i].h == h)
			return i;
	return NIL;
}

static void remove_entry(struct nvstate *nv, uint32_t i)
{
	uint32_t *pp = &nv->ht[nv->e[i].h & (nv->htcap - 1)];
	while (*pp != NIL && *pp != i)
		pp = &nv->e[*pp].hnext;
	if (*pp == i)
		*pp = nv->e[i].hnext;
	unlink_lru(nv, i);
	nv->e[i].next = nv->freel;
	nv->freel = i;
	nv->count--;
}

/* Room for one more slot and a table at most half full. */
static int reserve(struct nvstate *nv)
{
	if (nv->htcap < 2 * (nv->count + 1)) {
		size_t cap = nv->htcap ? nv->htcap * 2 : 1024;
		uint32_t *ht = malloc(cap * sizeof(*ht));
		if (!ht)
			return -ENOMEM;
		for (size_t k = 0; k < cap; k++)
			ht[k] = NIL;
		for (uint32_t i = nv->head; i != NIL; i = nv->e[i].next) {
			size_t b = nv->e[i].h & (cap - 1);
			nv->e[i].hnext = ht[b];
			ht[b] = i;
		}
		free(nv->ht);
		nv->ht = ht;
		nv->htcap = cap;
	}
	if (nv->freel == NIL && nv->used == nv->cap) {
		size_t cap = nv->cap ? nv->cap * 2 : 256;
		if (cap > nv->max)
			cap = nv->max;
		struct nvent *e = realloc(nv->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		nv->e = e;
		nv->cap = cap;
	}
	return 0;
}

static void insert(struct nvstate *nv, uint64_t h, int64_t ts)
{
	if (nv->count >= nv->max && nv->tail != NIL) {
		remove_entry(nv, nv->tail);
		nv->evicted++;
	}
	if (reserve(nv))
		return; /* out of memory: not remembered, so it will count as new again */
	uint32_t i;
	if (nv->freel != NIL) {
		i = nv->freel;
		nv->freel = nv->e[i].next;
	} else {
		i = (uint32_t)nv->used++;
	}
	struct nvent *e = &nv->e[i];
	e->h = h;
	e->ts = ts;
	size_t b = h & (nv->htcap - 1);
	e->hnext = nv->ht[b];
	nv->ht[b] = i;
	push_front(nv, i);
	nv->count++;
}

bool nvstate_check(struct nvstate *nv, uint64_t h, int64_t ts)
{
	uint32_t i = find(nv, h);
	if (i == NIL) {
		insert(nv, h, ts);
		return true;
	}
	struct nvent *e = &nv->e[i];
	bool fresh = ts > e->ts && ts - e->ts > nv->span_us;
	if (ts > e->ts)
		e->ts = ts;
	unlink_lru(nv, i);
	push_front(nv, i);
	return fresh;
}

void nvstate_expire(struct nvstate *nv, int64_t watermark)
{
	if (watermark == INT64_MIN)
		return;
	int64_t limit = watermark - nv->span_us;
	while (nv->tail != NIL && nv->e[nv->tail].ts < limit)
		remove_entry(nv, nv->tail);
}

/* Layout: u64 evicted, u32 n, then n of {u64 hash, u64 ts}, least recently seen first. */
void nvstate_save(const struct nvstate *nv, struct wbuf *w)
{
	wb_u64(w, nv->evicted);
	wb_u32(w, (uint32_t)nv->count);
	for (uint32_t i = nv->tail; i != NIL; i = nv->e[i].prev) {
		wb_u64(w, nv->e[i].h);
		wb_u64(w, (uint64_t)nv->e[i].ts);
	}
}

int nvstate_load(struct nvstate *nv, struct rbuf *r)
{
	uint64_t evicted = rb_u64(r);
	uint32_t n = rb_u32(r);
	if (r->err || n > r->n / 16)
		return SIEM_EPARSE;
	for (uint32_t k = 0; k < n && !r->err; k++) {
		uint64_t h = rb_u64(r);
		int64_t ts = (int64_t)rb_u64(r);
		if (r->err)
			break;
		uint32_t i = find(nv, h);
		if (i != NIL) {
			if (ts > nv->e[i].ts)
				nv->e[i].ts = ts;
			unlink_lru(nv, i);
			push_front(nv, i);
		} else {
			insert(nv, h, ts);
		}
	}
	nv->evicted += evicted;
	return r->err ? SIEM_EPARSE : 0;
}
