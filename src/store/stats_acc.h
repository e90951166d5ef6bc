/* stats_acc.h — what the dashboard statistics of both store backends share, with no SQLite in
 * it (private to src/store/): counts per key and per time bucket as a query collects them
 * (stats_acc.c), the query around them from the caller's filter to the JSON it answers
 * (stats_acc.c), and the domain of a DNS event (stats_domain.c). stats_query.c (SQLite) and
 * pg/pg_stats.c (PostgreSQL) count into it, each from its own tables. */
#ifndef SIEM_STATS_ACC_H
#define SIEM_STATS_ACC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "store/store_stats.h"

#define MINUTE_US 60000000LL
#define MAX_KEYS 2000000 /* distinct values one query may collect */
#define OTHER "(other)"

static inline int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- counts per key and per bucket ---- */

struct acc_key {
	char *k;
	size_t n;
	uint64_t h;
	int64_t total;
	int64_t *counts; /* nb entries when nb > 1 */
};

struct acc {
	size_t nb;	 /* buckets (1 for a top-N) */
	size_t cap_keys; /* distinct keys kept; past it new ones go to "(other)" */
	size_t nkeys, nslot;
	struct acc_key *slot;
	struct arena arena;
};

int acc_init(struct acc *a, size_t nb, size_t cap_keys);
void acc_release(struct acc *a);
/* Add count to key k (bucket: its index when nb > 1). Past cap_keys new keys go to "(other)"
 * (a time series) or fail with -E2BIG (a top-N). */
int acc_add(struct acc *a, const char *k, size_t n, size_t bucket, int64_t count);
/* count for each of the tags of v[0..n) (an event's tags, joined by ','). */
int acc_add_tags(struct acc *a, const char *v, size_t n, int64_t count);
/* The keys, most frequent first (then by key); the caller frees the array. */
struct acc_key **acc_sorted(struct acc *a);

/* ---- a statistics query ---- */

/* What a query collects: counts per key, from the caller's filter with its range clamped to
 * what timestamps can be. A time series counts into buckets of width: bucket b holds
 * [base + b * width, base + (b + 1) * width). */
struct stats_query {
	struct stats_filter f;
	struct acc acc;
	struct acc_key **keys; /* sorted by the *_json calls */
	int64_t base, width, nb;
};

/* Start a time series of interval_us split by by (store_stats_series' arguments): -EINVAL
 * for an empty range, an interval that is not a whole number of minutes or a field a series
 * is not split by; -E2BIG for too many buckets. *used_rollups is cleared. On success the
 * caller ends with stats_query_release. */
int stats_series_start(struct stats_query *q, const struct stats_filter *filter,
		       int64_t interval_us, enum stats_field by, bool *used_rollups);
/* Start a top-N of field (store_stats_top's arguments): -EINVAL for an empty range or
 * STATS_NONE. As stats_series_start otherwise. */
int stats_top_start(struct stats_query *q, const struct stats_filter *filter,
		    enum stats_field field, bool *used_rollups);
/* The counted keys sorted, and out as store_stats_series writes it: buckets, the first
 * max_series series, the rest summed into "(other)", and the total. */
int stats_series_json(struct stats_query *q, size_t max_series, json_t *out);
/* The counted keys sorted, and out as store_stats_top writes it: the first n values, how
 * many distinct, the total. */
int stats_top_json(struct stats_query *q, enum stats_field field, size_t n, json_t *out);
void stats_query_release(struct stats_query *q);

/* ---- the domain of a DNS event (stats_domain.c) ---- */

bool stats_dns_type(const char *t, size_t n);
/* The domain of an event of a DNS type (data's "domain", else the first host name in the
 * message), lower case, into out; its length, 0 when it has none. */
size_t stats_event_domain(const char *type, size_t tn, const char *data, size_t dn, const char *msg,
			  size_t mn, char out[256]);

#endif
