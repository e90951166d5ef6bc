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
	/* Enrichment (no rollups: counted from the events in range). These numbers are stored
	 * in rollup tables for the ones above: a new field is a new last one. */
	STATS_COUNTRY, /* geo.country */
	STATS_ASN,     /* geo.asn */
	STATS_TAG,     /* each of an event's tags ("total" counts tags, not events) */
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

/* Alerts raised (created) within [from, to]: *n live ones, *backfill those of imported
 * history; *available is false when this store keeps no alerts (a hub without the alerts
 * table). */
int store_stats_alerts(struct store *s, int64_t from, int64_t to, int64_t *n, int64_t *backfill,
		       bool *available);

/* ---- rollups, maintained by the writer (store/stats_rollup.h) ---- */

/* Memory bound of one segment's top-N counts in bytes (default 16 MiB); lower it before
 * store_open to exercise the fallback (tests). */
void stats_rollup_set_limit(size_t bytes);

#endif
