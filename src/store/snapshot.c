/* snapshot.c — what a query reads from: the segments pinned as of one moment, pooled read
 * connections, and the in-memory ids and postings of segments that have no indices yet. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/store_int.h"

int store_snapshot(struct sq_store *s, struct seg_view **out, size_t *n)
{
	pthread_mutex_lock(&s->seg_mu);
	struct seg_view *v = malloc((s->nseg ? s->nseg : 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&s->seg_mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->nseg; i++) {
		struct segment *g = s->segs[s->nseg - 1 - i];
		g->refs++;
		v[i] = (struct seg_view){g, g->id, g->min_ts, g->max_ts, g->rows, g->state};
	}
	*n = s->nseg;
	pthread_mutex_unlock(&s->seg_mu);
	*out = v;
	return 0;
}

void store_snapshot_release(struct sq_store *s, struct seg_view *v, size_t n)
{
	pthread_mutex_lock(&s->seg_mu);
	for (size_t i = 0; i < n; i++)
		v[i].seg->refs--;
	pthread_mutex_unlock(&s->seg_mu);
	free(v);
}

int store_reader_get(struct sq_store *s, struct segment *g, sqlite3 **db)
{
	pthread_mutex_lock(&s->seg_mu);
	if (g->nidle > 0) {
		*db = g->idle[--g->nidle];
		pthread_mutex_unlock(&s->seg_mu);
		return 0;
	}
	pthread_mutex_unlock(&s->seg_mu);
	/* A small cache: queries read few pages of each segment, and one connection per
	 * segment stays open, so this is what memory grows with as the store does. */
	return store_open_conn(g->path, true, 2, db);
}

void store_reader_put(struct sq_store *s, struct segment *g, sqlite3 *db)
{
	store_budget_reader_idle(s, db);
	pthread_mutex_lock(&s->seg_mu);
	if (g->nidle < SEG_IDLE_READERS) {
		g->idle[g->nidle++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&s->seg_mu);
	sqlite3_close(db);
}

int64_t store_ids_lookup(struct sq_store *s, struct segment *g, const uint8_t id[16], bool *known)
{
	int64_t seq = 0;
	*known = false;
	pthread_mutex_lock(&s->seg_mu);
	bool active = g == s->segs[s->nseg - 1];
	pthread_mutex_unlock(&s->seg_mu);
	pthread_mutex_lock(&s->ids_mu);
	/* A segment being sealed has its own set before the next segment is the active one:
	 * its own set first, or a reader would see the fresh empty set and miss its events. */
	struct idset *set = g->ids ? g->ids : active ? &s->ids : NULL;
	if (set) {
		*known = true;
		seq = idset_get(set, id);
	}
	pthread_mutex_unlock(&s->ids_mu);
	return seq;
}

/* Selective enough to read row by row rather than scan (a rowid lookup costs about as much
 * as scanning a few dozen rows). */
#define MEM_CANDIDATES_MAX 20000

static int cmp_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x > y ? -1 : x < y;
}

int store_mem_candidates(struct sq_store *s, struct segment *g, const struct event_query *q,
			 int64_t **out, size_t *n)
{
	const struct strset *sets[MI_IP] = {&q->event_type, &q->app, &q->source_host, &q->user,
					    &q->request_id};
	int rc = 0, best = -1;
	size_t best_total = SIZE_MAX, cap = 0;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->seg_mu);
	bool active = g == s->segs[s->nseg - 1];
	pthread_mutex_unlock(&s->seg_mu);
	pthread_rwlock_rdlock(&s->mem_mu);
	const struct memidx *m = g->mem ? g->mem : active ? s->mem : NULL; /* likewise */
	if (!m)
		goto out;
	/* The filter with the fewest events; addresses only when each is a single one. */
	bool exact_ips = q->n_cidr > 0;
	for (size_t i = 0; i < q->n_cidr; i++)
		exact_ips &= memcmp(q->cidr_lo[i], q->cidr_hi[i], 16) == 0;
	for (int f = 0; f <= MI_IP; f++) {
		size_t total = 0;
		if (f < MI_IP && sets[f]->n) {
			for (size_t j = 0; j < sets[f]->n; j++)
				total += memidx_count(m, f, sets[f]->v[j], strlen(sets[f]->v[j]));
		} else if (f == MI_IP && exact_ips) {
			for (size_t j = 0; j < q->n_cidr; j++)
				total += memidx_count(m, f, q->cidr_lo[j], 16);
		} else {
			continue;
		}
		if (total < best_total) {
			best_total = total;
			best = f;
		}
	}
	if (best < 0 || best_total > MEM_CANDIDATES_MAX)
		goto out;
	if (best < MI_IP) {
		for (size_t j = 0; j < sets[best]->n && rc == 0; j++)
			rc = memidx_collect(m, best, sets[best]->v[j], strlen(sets[best]->v[j]),
					    out, n, &cap);
	} else {
		for (size_t j = 0; j < q->n_cidr && rc == 0; j++)
			rc = memidx_collect(m, best, q->cidr_lo[j], 16, out, n, &cap);
	}
	rc = rc < 0 ? rc : 1;
out:
	pthread_rwlock_unlock(&s->mem_mu);
	if (rc == 1 && *n > 1) {
		qsort(*out, *n, sizeof(**out), cmp_desc);
		size_t k = 1;
		for (size_t i = 1; i < *n; i++)
			if ((*out)[i] != (*out)[k - 1])
				(*out)[k++] = (*out)[i];
		*n = k;
	}
	if (rc <= 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
