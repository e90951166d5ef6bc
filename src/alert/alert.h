/* alert.h — what happens after a hit: suppression (one alert per rule and group within a
 * cooldown, repeats counted on it), the alerts table, live subscribers (SSE) and
 * notification channels (SMTP, webhook, Slack). Fed by the detection engine through
 * alerts_sink on the writer thread, so nothing here may block: storage writes are small and
 * notifications are queued to a thread of their own. */
#ifndef SIEM_ALERT_H
#define SIEM_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/strbuf.h"
#include "detect/detect.h"
#include "store/store.h"
#include "store/store_alerts.h"

struct alerts;

struct alerts_config {
	int64_t cooldown_s;	   /* suppression window per rule and group (default 600) */
	const char *channels_file; /* notification channels (format documented in docs/), or NULL */
	/* An alert whose completing event arrived more than this after its timestamp is a
	 * backfill (imported history): marked, and not notified unless a channel asks. 0: one
	 * hour; negative: never. */
	int64_t backfill_after_s;
	const char *public_url; /* the dashboard's address, for links in notifications */
};

int alerts_open(struct alerts **out, struct store *s, const struct alerts_config *cfg);
/* The detect_sink: ctx is the struct alerts. */
void alerts_sink(void *ctx, const struct detect_hit *hit);
void alerts_close(struct alerts *a);

struct alerts_tuning {
	size_t max_open;  /* alerts kept for suppression (default 4096); beyond, the oldest
			   * is forgotten (counted in minisiem_alerts_evicted_total) */
	size_t sub_queue; /* messages waiting per SSE subscriber before it is dropped (256) */
	size_t max_subs;  /* SSE subscribers (32) */
	int keepalive_ms; /* SSE keep-alive comment after this much silence (15000) */
	bool manual;	  /* tests: no alerts thread, alerts_flush does the writing */
};
void alerts_tuning_defaults(struct alerts_tuning *t);
int alerts_open_tuned(struct alerts **out, struct store *s, const struct alerts_config *cfg,
		      const struct alerts_tuning *t);
int alerts_keepalive_ms(struct alerts *a);

/* Write the pending alert changes now, then publish them (SSE, notifications). The alerts
 * thread does this on its own within milliseconds; tests call it to be deterministic. */
int alerts_flush(struct alerts *a);

/* alerts_flush until nothing is pending: 0 once every alert change so far is durable. */
int alerts_flush_all(struct alerts *a);
/* The channel of store_notify a hub sends on after writing alert changes (payload: the
 * last alert id written). */
#define ALERTS_CHANNEL "minisiem_alerts"
/* Publish to this hub's subscribers the alert changes other hubs wrote into the store. */
void alerts_publish_stored(struct alerts *a);
/* Broker mode, a detector taking over: alert ids and versions continue after the store's,
 * and the suppression table is the store's open alerts (those another node raised). */
int alerts_resync(struct alerts *a);

/* Acknowledge or close alert id as who; *out (may be NULL) gets the alert after the change.
 * SIEM_ENOTFOUND, -EPERM (acknowledging a closed alert); repeating a change is not an error
 * (*out is the alert as it is). A closed alert no longer absorbs repeats: the next hit of
 * its rule and group opens a new alert. */
int alerts_set_status(struct alerts *a, int64_t id, enum alert_status to, const char *who,
		      json_t **out);

/* Notification channels and their counters (see notifier_status). */
void alerts_channels(struct alerts *a, json_t *out);
/* Send a test message on one channel now (notifier_test); SIEM_ENOTFOUND without it. */
int alerts_channel_test(struct alerts *a, const char *name, const char *who, char *err,
			size_t errlen);
/* Wait until the notification queues are empty (tests). */
bool alerts_notify_idle(struct alerts *a, int timeout_ms);

struct alerts_stats {
	uint64_t hits, raised, suppressed, evicted, dropped, write_failures;
	uint64_t sse_dropped;
	size_t open_tracked, subscribers;
};
void alerts_get_stats(struct alerts *a, struct alerts_stats *st);

/* ---- live subscribers (SSE; stream.c) ---- */

struct alerts_sub;
struct alerts_msg; /* one SSE message ("id: <alert>-<version>\nevent: alert\ndata: ...") */

/* Subscribe: every alert change published from now on is queued for s (bounded: a
 * subscriber whose queue is full is dropped and counted; it ends after what it has).
 * wake(arg) is called (with an internal lock held: it must only signal) when a message
 * arrives or the subscription ends. -EBUSY when there are too many subscribers. */
int alerts_subscribe(struct alerts *a, void (*wake)(void *arg), void *arg, struct alerts_sub **out);
/* 1 with *m (release with alerts_msg_put), 0 when nothing is queued, -1 when the
 * subscription is over (dropped for being slow, or the hub is stopping). */
int alerts_sub_next(struct alerts_sub *s, struct alerts_msg **m);
bool alerts_sub_dropped(struct alerts_sub *s);
void alerts_unsubscribe(struct alerts_sub *s);
const char *alerts_msg_text(const struct alerts_msg *m, size_t *n);
int64_t alerts_msg_rev(const struct alerts_msg *m);
void alerts_msg_put(struct alerts_msg *m);
/* Messages for the alerts changed after version `after`, oldest change first, at most
 * limit: the stream's resume after Last-Event-ID. */
int alerts_replay(struct alerts *a, int64_t after, int limit, struct alerts_msg ***out, size_t *n);
/* The SSE text of one alert object. */
int alerts_format_sse(const json_t *alert, struct strbuf *out);

#endif
