/* metrics.h — process-wide counters and gauges, exposed by GET /metrics in Prometheus text
 * format. A metric is registered once (static storage) and bumped with relaxed atomics, so
 * any thread may count on a hot path. */
#ifndef SIEM_METRICS_H
#define SIEM_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/strbuf.h"

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE };

struct metric {
	const char *name;   /* "minisiem_events_received_total" */
	const char *labels; /* "source=\"syslog_udp\"" or NULL */
	const char *help;
	enum metric_kind kind;
	_Atomic int64_t value;
	struct metric *next; /* registry list, set by metric_register */
};

/* Declare a metric with static storage:
 *   static struct metric m_drops = METRIC_COUNTER_INIT("minisiem_syslog_udp_dropped_total",
 *                                                       NULL, "UDP datagrams dropped");
 * and register it once at start-up with metric_register(&m_drops). */
#define METRIC_COUNTER_INIT(n, l, h)                   \
	{                                              \
		(n), (l), (h), METRIC_COUNTER, 0, NULL \
	}
#define METRIC_GAUGE_INIT(n, l, h)                   \
	{                                            \
		(n), (l), (h), METRIC_GAUGE, 0, NULL \
	}

void metric_register(struct metric *m);
static inline void metric_add(struct metric *m, int64_t v)
{
	atomic_fetch_add_explicit(&m->value, v, memory_order_relaxed);
}
static inline void metric_set(struct metric *m, int64_t v)
{
	atomic_store_explicit(&m->value, v, memory_order_relaxed);
}
static inline int64_t metric_get(struct metric *m)
{
	return atomic_load_explicit(&m->value, memory_order_relaxed);
}
/* Append every registered metric in Prometheus text format, then every family. */
int metrics_render(struct strbuf *out);

/* A latency histogram with the fixed buckets METRIC_BUCKETS_S (seconds, 0.005..10). */
#define METRIC_NBUCKETS 11
extern const double metric_buckets_s[METRIC_NBUCKETS];
struct metric_histogram {
	_Atomic int64_t bucket[METRIC_NBUCKETS]; /* observations <= the bound (not cumulative) */
	_Atomic int64_t count;
	_Atomic int64_t sum_us;
};
void metric_histogram_observe(struct metric_histogram *h, int64_t us);
/* The series of one histogram (no HELP/TYPE lines): name_bucket{labels,le=...}, _sum, _count.
 * labels may be NULL. */
int metric_histogram_render(struct strbuf *out, const char *name, const char *labels,
			    struct metric_histogram *h);

/* Series whose labels are only known at run time (a bounded set: the HTTP routes), rendered
 * by their owner after the static metrics. Register with static or owner-held storage and
 * unregister before freeing it. */
struct metric_family {
	int (*render)(struct strbuf *out, void *arg);
	void *arg;
	struct metric_family *next;
};
void metric_family_register(struct metric_family *f);
void metric_family_unregister(struct metric_family *f);

/* Where the hub's CPU goes: each pipeline stage's thread CPU time and the events it handled,
 * counted once per batch or transaction (never per event: reading the clock is a system
 * call), rendered by metrics_render as minisiem_stage_cpu_seconds_total{stage} and
 * minisiem_stage_events_total{stage}. */
enum stage {
	STAGE_PARSE,	  /* request bodies into JSON values (NDJSON, CSV: with normalize) */
	STAGE_NORMALIZE,  /* JSON values into events */
	STAGE_ENRICH,	  /* GeoIP, ASN, intel tags, cached reverse DNS */
	STAGE_INSERT,	  /* the store's row inserts and duplicate checks */
	STAGE_POSTINGS,	  /* in-memory postings, facets and stats rollups */
	STAGE_COMMIT,	  /* the transaction's commit */
	STAGE_DETECT,	  /* the committed hook: rules, correlation, alerts, live tails */
	STAGE_ALERTS,	  /* the alerts thread writing and publishing alerts */
	STAGE_INDEXER,	  /* sealed segments' indices and statistics */
	STAGE_CHECKPOINT, /* the active segment's WAL checkpoints */
	STAGE_COUNT
};
/* This thread's CPU time in nanoseconds. */
int64_t stage_clock(void);
void stage_add(enum stage s, int64_t cpu_ns, uint64_t events);
/* stage_add(s, stage_clock() - since, events), returning the clock read, for the next lap. */
int64_t stage_lap(enum stage s, int64_t since, uint64_t events);
/* The totals so far (tests). */
void stage_get(enum stage s, int64_t *cpu_ns, uint64_t *events);

#endif
