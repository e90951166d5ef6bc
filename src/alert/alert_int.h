/* alert_int.h — what alerts.c (suppression, persistence) and stream.c (SSE subscribers)
 * share: the alerts object and the publication hooks. Not for use outside src/alert/. */
#ifndef SIEM_ALERT_INT_H
#define SIEM_ALERT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert/alert.h"

struct entry;
struct notifier;

struct alerts {
	struct store *s;
	int64_t cooldown_us;
	int64_t backfill_us; /* an event older than this at arrival raises a backfill alert */
	char *public_url;    /* the dashboard's address for links in notifications, or NULL */
	struct alerts_tuning t;

	pthread_mutex_t mu; /* the table, the dirty list, clock */
	pthread_cond_t cv;
	struct entry **buckets;
	size_t nbuckets, in_table, retired; /* retired: out of the table, not written yet */
	struct entry *oldest, *newest;
	struct entry *dirty, *dirty_tail; /* changes not written yet, oldest first */
	int64_t next_id;
	int64_t clock; /* newest hit time seen: expiry is measured on it */
	bool stop;

	pthread_mutex_t db_mu; /* writes and publication, in rev order */
	int64_t rev, published_rev;
	int64_t retry_at;

	pthread_mutex_t sub_mu;
	struct alerts_sub *subs;
	size_t nsubs;

	struct notifier *notifier;
	pthread_t thread;
	bool thread_started;
	atomic_uint_fast64_t hits, raised, suppressed, evicted, dropped, write_failures,
	    sse_dropped;
};

/* ---- stream.c, for the alerts thread ---- */

void alerts_stream_register_metrics(void);
/* The SSE message of one alert (a reference for the caller), or NULL. */
struct alerts_msg *alerts_msg_new(const json_t *alert);
/* Give m to every subscriber; one that cannot take it is dropped (it will end after the
 * messages it holds, and the client resumes from its Last-Event-ID). */
void alerts_fan_out(struct alerts *a, struct alerts_msg *m);
/* Wake every subscriber (so that it can send its keep-alive); end: end every stream. */
void alerts_wake_all(struct alerts *a, bool end);

#endif
