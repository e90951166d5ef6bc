/* store_stats.h — what the dashboard draws: event counts per time bucket and per key
 * (os_type, event_type, severity), and top-N values of a field. Counts come from rollups
 * the writer maintains (stats_rollup_*): per-minute counts in each segment, top-value counts
 * in memory for the active segment and in the segment once it is sealed; else from scans
 * with the segment's indices. Both give the same exact numbers. */
#ifndef SIEM_STORE_STATS_H
#define SIEM_STORE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/event.h"
#include "store/store.h"

/* Which events a statistic counts. Times are inclusive microsecond bounds. */
struct stats_filter {
	int64_t from, to;
	struct strset event_type, os_type, app, source_host;
	size_t n_severity;
	int severity[QUERY_MAX_VALUES];
	bool no_rollups; /* scan the events even where rollups are kept (diagnostics) */
};

/* What a count is split by (a series per value), or the field of a top-N. */
enum stats_field {
	STATS_NONE,
	STATS_OS_TYPE,
	STATS_EVENT_TYPE,
	STATS_SEVERITY,
	STATS_SOURCE_IP,
	STATS_USER,
	STATS_HOST,
	STATS_APP,
	STATS_DOMAIN, /* DNS events: data.domain, else the first domain-like word of message */
};

/* "os_type" -> STATS_OS_TYPE ...; -1 when unknown. by_ok: only the low-cardinality fields a
 * time series may be split by. */
int stats_field_parse(const char *name, bool by_ok);
const char *stats_field_name(enum stats_field f);

/* Counts per bucket of width interval_us (a multiple of 60 s), buckets aligned to
 * multiples of the width since the epoch, the first holding f->from. out gets
 * {"buckets": [start seconds...], "series": [{"key", "counts": [...], "total"}...],
 * "total"}: series most frequent first (then by key), at most max_series of them, the rest
 * summed into one with key "(other)". *used_rollups tells whether rollups answered. */
int store_stats_series(struct store *s, const struct stats_filter *f, int64_t interval_us,
		       enum stats_field by, size_t max_series, json_t *out, bool *used_rollups);

/* The n most frequent values of field among the filtered events, ties by value (byte order):
 * out gets {"values": [{"value", "count"}...], "distinct", "total"} where total counts the
 * events that have the field. */
int store_stats_top(struct store *s, const struct stats_filter *f, enum stats_field field, size_t n,
		    json_t *out, bool *used_rollups);

/* Alerts raised (created) within [from, to]; *available is false when this store keeps no
 * alerts (a hub without the alerts table). */
int store_stats_alerts(struct store *s, int64_t from, int64_t to, int64_t *n, bool *available);

/* ---- rollups, maintained by the writer ---- */

/* One per store (struct store.rollup), from the first writer connection to store_close.
 * Per-minute counts (os_type, event_type, severity) are written in each transaction with
 * its events. The top-N counts (source IP, user, host, app, DNS domain per event type and
 * 10-minute period) of the active segment are kept in memory only, published to readers
 * when a transaction commits, and written into the segment once, when the indexer seals
 * it. A field whose values outgrow the memory bound is counted from the events instead. */
struct stats_rollup;

/* Attach to a segment's writer connection (at open, and again after each roll; the first
 * call allocates *out): creates the rollup tables when missing, filling the per-minute ones
 * from the events already there, and counts the segment's events into memory. */
int stats_rollup_init(struct stats_rollup **out, sqlite3 *writer);
void stats_rollup_free(struct stats_rollup *r);
/* The active segment is being sealed (roll_segment, before the next one is attached): its
 * counts stay in memory, for queries and for the indexer, until stats_rollup_sealed. */
void stats_rollup_roll(struct stats_rollup *r);
/* Forget what the open transaction added (store_begin, store_rollback). */
void stats_rollup_reset(struct stats_rollup *r);
/* Count one appended event (store_append, after the row is written). */
int stats_rollup_add(struct stats_rollup *r, const struct event *ev);
/* Write the transaction's per-minute counts (store_commit, before COMMIT). */
int stats_rollup_flush(struct stats_rollup *r);
/* The transaction committed: readers may see its top-N counts (store_commit, after COMMIT). */
void stats_rollup_commit(struct stats_rollup *r);
/* Write a sealed segment's top-N counts, per period (stats_top) and for the whole segment
 * (stats_total), from memory or, where memory has none, from its events (the indexer,
 * inside its transaction). Nothing to do for a segment without rollups. */
int stats_rollup_seal(struct stats_rollup *r, int64_t seg_id, sqlite3 *db);
/* The indexer committed seg_id's tables: drop its counts from memory. */
void stats_rollup_sealed(struct stats_rollup *r, int64_t seg_id);
/* Memory bound of one segment's top-N counts in bytes (default 16 MiB); lower it before
 * store_open to exercise the fallback (tests). */
void stats_rollup_set_limit(size_t bytes);

#endif
