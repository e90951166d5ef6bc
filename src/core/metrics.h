/* metrics.h — process-wide counters and gauges, exposed by GET /metrics in Prometheus text
 * format. A metric is registered once (static storage) and bumped with relaxed atomics, so
 * any thread may count on a hot path. */
#ifndef SIEM_METRICS_H
#define SIEM_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
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
/* A batch's way through one or more stages on one thread. Reading the thread's CPU clock is
 * a system call (~0.5 µs), too much for a batch of one event: a batch of STAGE_SAMPLE_MIN
 * events or more is always timed; of smaller ones, one in STAGE_SAMPLE_EVERY per thread,
 * its time counted that many times over. Events are always counted. */
#define STAGE_SAMPLE_MIN 16
#define STAGE_SAMPLE_EVERY 16
struct stage_timer {
	int64_t at; /* this thread's CPU time at the last lap, ns */
	int weight; /* 0: not timed */
};
/* Start on a batch of about work events. */
void stage_start(struct stage_timer *t, size_t work);
/* Stage s gets the CPU time since the start or the last lap (when timed) and events. */
void stage_lap(struct stage_timer *t, enum stage s, uint64_t events);
void stage_add(enum stage s, int64_t cpu_ns, uint64_t events);
/* The totals so far (tests). */
void stage_get(enum stage s, int64_t *cpu_ns, uint64_t *events);

#endif
