/* stats_acc.c — counts per key (and per time bucket) as a query collects them: an
 * open-addressing table over the keys, sorted by count at the end; and the statistics query
 * around them, from the caller's filter to the JSON, as both store backends answer it. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"
#include "store/stats_acc.h"

#define TS_MAX 253402300799999999LL /* 9999-12-31T23:59:59.999999Z */
#define SERIES_KEYS 1000	    /* distinct series keys before the rest is "(other)" */
#define MAX_BUCKETS 100000

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

/* ---- a statistics query ---- */

/* The caller's filter with its range clamped; -EINVAL when the range is empty. */
static int query_start(struct stats_query *q, const struct stats_filter *filter, bool *used_rollups)
{
	memset(q, 0, sizeof(*q));
	q->f = *filter;
	*used_rollups = false;
	if (q->f.from < 0)
		q->f.from = 0;
	if (q->f.to > TS_MAX)
		q->f.to = TS_MAX;
	return q->f.from > q->f.to ? -EINVAL : 0;
}

/* acc_init, released again when it fails. */
static int query_acc(struct stats_query *q, size_t nb, size_t cap_keys)
{
	int rc = acc_init(&q->acc, nb, cap_keys);
	if (rc < 0)
		acc_release(&q->acc);
	return rc;
}

int stats_series_start(struct stats_query *q, const struct stats_filter *filter,
		       int64_t interval_us, enum stats_field by, bool *used_rollups)
{
	int rc;
	if ((rc = query_start(q, filter, used_rollups)) < 0)
		return rc;
	if (interval_us < MINUTE_US || interval_us % MINUTE_US || by > STATS_SEVERITY)
		return -EINVAL;
	q->base = floor_div(q->f.from, interval_us) * interval_us;
	q->width = interval_us;
	q->nb = floor_div(q->f.to, interval_us) - floor_div(q->f.from, interval_us) + 1;
	if (q->nb > MAX_BUCKETS)
		return -E2BIG;
	return query_acc(q, (size_t)q->nb, SERIES_KEYS);
}

int stats_top_start(struct stats_query *q, const struct stats_filter *filter,
		    enum stats_field field, bool *used_rollups)
{
	int rc;
	if ((rc = query_start(q, filter, used_rollups)) < 0)
		return rc;
	if (field == STATS_NONE)
		return -EINVAL;
	return query_acc(q, 1, MAX_KEYS);
}

void stats_query_release(struct stats_query *q)
{
	free(q->keys);
	q->keys = NULL;
	acc_release(&q->acc);
}

/* The counted keys, most frequent first. */
static int query_sort(struct stats_query *q)
{
	return (q->keys = acc_sorted(&q->acc)) ? 0 : -ENOMEM;
}

/* A series {"key", "counts", "total"} appended to series. */
static void series_add(json_t *series, json_t *key, const int64_t *counts, int64_t each, int64_t nb,
		       int64_t total)
{
	json_t *o = json_object(), *c = json_array();
	json_object_set_new(o, "key", key);
	for (int64_t b = 0; b < nb; b++)
		json_array_append_new(c, json_integer(counts ? counts[b] : each));
	json_object_set_new(o, "counts", c);
	json_object_set_new(o, "total", json_integer(total));
	json_array_append_new(series, o);
}

int stats_series_json(struct stats_query *q, size_t max_series, json_t *out)
{
	int rc;
	if ((rc = query_sort(q)) < 0)
		return rc;
	json_t *buckets = json_array(), *series = json_array();
	int64_t nb = q->nb, total = 0, *other = NULL;
	json_object_set_new(out, "buckets", buckets);
	json_object_set_new(out, "series", series);
	for (int64_t b = 0; b < nb; b++)
		json_array_append_new(buckets, json_integer((q->base + b * q->width) / 1000000));
	for (size_t i = 0; i < q->acc.nkeys; i++) {
		struct acc_key *k = q->keys[i];
		total += k->total;
		bool is_other = k->n == sizeof(OTHER) - 1 && memcmp(k->k, OTHER, k->n) == 0;
		if (i < max_series && !is_other) {
			series_add(series, json_stringn(k->k, k->n), k->counts, k->total, nb,
				   k->total);
			continue;
		}
		if (!other && !(other = calloc((size_t)nb, sizeof(*other))))
			return -ENOMEM;
		for (int64_t b = 0; b < nb; b++)
			other[b] += k->counts ? k->counts[b] : k->total;
	}
	if (other) {
		int64_t t = 0;
		for (int64_t b = 0; b < nb; b++)
			t += other[b];
		series_add(series, json_string(OTHER), other, 0, nb, t);
		free(other);
	}
	json_object_set_new(out, "total", json_integer(total));
	return 0;
}

int stats_top_json(struct stats_query *q, enum stats_field field, size_t n, json_t *out)
{
	int rc;
	if ((rc = query_sort(q)) < 0)
		return rc;
	json_t *values = json_array();
	int64_t total = 0;
	for (size_t i = 0; i < q->acc.nkeys; i++) {
		const struct acc_key *k = q->keys[i];
		total += k->total;
		if (i >= n)
			continue;
		json_t *o = json_object();
		if (field == STATS_SEVERITY)
			json_object_set_new(o, "value", json_integer(strtol(k->k, NULL, 10)));
		else
			json_object_set_new(o, "value", json_stringn(k->k, k->n));
		json_object_set_new(o, "count", json_integer(k->total));
		json_array_append_new(values, o);
	}
	json_object_set_new(out, "values", values);
	json_object_set_new(out, "distinct", json_integer((json_int_t)q->acc.nkeys));
	json_object_set_new(out, "total", json_integer(total));
	return 0;
}

int acc_add_tags(struct acc *a, const char *v, size_t n, int64_t count)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n;) {
		const char *c = memchr(v + i, ',', n - i);
		size_t e = c ? (size_t)(c - v) : n;
		if (e > i)
			rc = acc_add(a, v + i, e - i, 0, count);
		i = e + 1;
	}
	return rc;
}
