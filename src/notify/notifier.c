/* notifier.c — delivery of new alerts: one thread and one bounded queue per channel (full:
 * drop and count), retries with exponential backoff, the channel's backfill choice, digest
 * and rate limit, per-channel metrics and status. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "core/metrics.h"
#include "notify/notify.h"

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_clock(void *arg)
{
	(void)arg;
	return mono_ms();
}

int64_t notify_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms)
{
	if (attempt < 1)
		return 0;
	int64_t d = base_ms > 0 ? base_ms : 1;
	for (int i = 1; i < attempt && d < max_ms; i++)
		d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
	return d < max_ms ? d : max_ms;
}

/* Per-channel metrics live for the whole process (the registry keeps pointers), shared by
 * every notifier that has a channel of that name. */
#define CHAN_METRICS_MAX 64
struct chan_metrics {
	char name[49];
	char labels[64];
	struct metric sent, failed, dropped, retries, rate_limited, backfill_skipped;
};
static struct chan_metrics chan_metrics[CHAN_METRICS_MAX];
static size_t n_chan_metrics;
static pthread_mutex_t chan_metrics_mu = PTHREAD_MUTEX_INITIALIZER;

static struct chan_metrics *chan_metrics_for(const char *name)
{
	struct chan_metrics *m = NULL;
	pthread_mutex_lock(&chan_metrics_mu);
	for (size_t i = 0; i < n_chan_metrics && !m; i++)
		if (strcmp(chan_metrics[i].name, name) == 0)
			m = &chan_metrics[i];
	if (!m) {
		bool full = n_chan_metrics == CHAN_METRICS_MAX;
		m = &chan_metrics[full ? CHAN_METRICS_MAX - 1 : n_chan_metrics++];
		if (!full) {
			snprintf(m->name, sizeof(m->name), "%s", name);
			snprintf(m->labels, sizeof(m->labels), "channel=\"%s\"", name);
			m->sent = (struct metric)METRIC_COUNTER_INIT(
			    "minisiem_notify_sent_total", m->labels, "Notifications delivered.");
			m->failed = (struct metric)METRIC_COUNTER_INIT(
			    "minisiem_notify_failed_total", m->labels,
			    "Notifications given up after their retries (or refused for good).");
			m->dropped = (struct metric)METRIC_COUNTER_INIT(
			    "minisiem_notify_dropped_total", m->labels,
			    "Notifications dropped: channel queue full, or the hub stopping.");
			m->retries = (struct metric)METRIC_COUNTER_INIT(
			    "minisiem_notify_retries_total", m->labels,
			    "Delivery attempts that failed and were retried.");
			m->rate_limited = (struct metric)METRIC_COUNTER_INIT(
			    "minisiem_notify_rate_limited_total", m->labels,
			    "Alerts not sent: over the channel's rate limit (one notice says so).");
			m->backfill_skipped = (struct metric)METRIC_COUNTER_INIT(
			    "minisiem_notify_backfill_skipped_total", m->labels,
			    "Alerts raised by imported history, not sent: the channel does not "
			    "want them.");
			metric_register(&m->sent);
			metric_register(&m->failed);
			metric_register(&m->dropped);
			metric_register(&m->retries);
			metric_register(&m->rate_limited);
			metric_register(&m->backfill_skipped);
		}
	}
	pthread_mutex_unlock(&chan_metrics_mu);
	return m;
}

struct delivery {
	struct delivery *next;
	char what[40]; /* "alert 42", "digest", "rate-limit notice": for the log */
	size_t n;
	char body[];
};

struct channel {
	struct notifier *nt;
	struct notify_channel_config cfg;
	struct chan_metrics *m;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct delivery *head, *tail;
	size_t queued;
	bool busy, stop;
	char last_error[256];
	int64_t last_error_at, last_sent_at;
	/* under mu; out is the channel thread's: the list it is sending */
	struct notify_digest digest;
	struct notify_ratelimit rate;
	struct notify_list out_digest, out_notice;
};

struct notifier {
	size_t n, ncfg;
	struct channel *ch;
	struct notify_channel_config *cfgs;
	notify_clock_fn clock;
	void *clock_arg;
};

static int64_t now_ms(struct channel *c)
{
	return c->nt->clock(c->nt->clock_arg);
}

static bool chan_stopping(void *arg)
{
	struct channel *c = arg;
	pthread_mutex_lock(&c->mu);
	bool s = c->stop;
	pthread_mutex_unlock(&c->mu);
	return s;
}

/* Wait up to ms, or until the channel stops. Returns true when stopping. */
static bool chan_sleep(struct channel *c, int64_t ms)
{
	struct timespec ts = clock_deadline_ms(ms);
	pthread_mutex_lock(&c->mu);
	while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &ts) == 0)
		;
	bool s = c->stop;
	pthread_mutex_unlock(&c->mu);
	return s;
}

static void deliver(struct channel *c, struct delivery *d)
{
	char err[256];
	for (int attempt = 0;; attempt++) {
		enum notify_result r =
		    c->cfg.kind == NOTIFY_EMAIL
			? notify_smtp_send(&c->cfg, d->body, d->n, chan_stopping, c, err,
					   sizeof(err))
			: notify_webhook_send(&c->cfg, d->body, d->n, chan_stopping, c, err,
					      sizeof(err));
		pthread_mutex_lock(&c->mu);
		if (r == NOTIFY_OK) {
			c->last_sent_at = ts_now_us();
		} else {
			snprintf(c->last_error, sizeof(c->last_error), "%s", err);
			c->last_error_at = ts_now_us();
		}
		bool stop = c->stop;
		pthread_mutex_unlock(&c->mu);
		if (r == NOTIFY_OK) {
			metric_add(&c->m->sent, 1);
			return;
		}
		if (stop) {
			metric_add(&c->m->dropped, 1);
			return;
		}
		if (r == NOTIFY_FAIL || attempt >= c->cfg.retries) {
			metric_add(&c->m->failed, 1);
			log_warn("notify", "channel '%s': %s not delivered after %d attempts: %s",
				 c->cfg.name, d->what, attempt + 1, err);
			return;
		}
		metric_add(&c->m->retries, 1);
		int64_t wait =
		    notify_backoff_ms(attempt + 1, c->cfg.backoff_ms, c->cfg.backoff_max_ms);
		log_info("notify", "channel '%s': %s: %s; retry in %lld ms", c->cfg.name, d->what,
			 err, (long long)wait);
		if (chan_sleep(c, wait)) {
			metric_add(&c->m->dropped, 1);
			return;
		}
	}
}

static struct delivery *delivery_new(const struct strbuf *b, const char *what)
{
	struct delivery *d = malloc(sizeof(*d) + b->n + 1);
	if (!d)
		return NULL;
	d->next = NULL;
	snprintf(d->what, sizeof(d->what), "%s", what);
	d->n = b->n;
	memcpy(d->body, b->p ? b->p : "", b->n);
	d->body[b->n] = '\0';
	return d;
}

/* When the thread has work besides its queue: a digest or a rate-limit notice (INT64_MAX:
 * none). With mu held. */
static int64_t next_due(struct channel *c)
{
	int64_t a = notify_digest_deadline(&c->digest), b = notify_ratelimit_deadline(&c->rate);
	return a < b ? a : b;
}

/* Send a digest or a rate-limit notice (without mu; busy is set). */
static void send_list(struct channel *c, enum notify_list_kind kind, const struct notify_list *l)
{
	const char *what = kind == NOTIFY_DIGEST ? "digest" : "rate-limit notice";
	struct strbuf b;
	strbuf_init(&b, 1024 * 1024);
	int rc = notify_format_list(&c->cfg, kind, l, ts_now_us(), &b);
	struct delivery *d = rc == 0 ? delivery_new(&b, what) : NULL;
	strbuf_release(&b);
	if (!d) {
		metric_add(&c->m->dropped, 1);
		log_warn("notify", "channel '%s': %s of %zu alerts not sent: %s", c->cfg.name, what,
			 l->total, siem_strerror(rc < 0 ? rc : -ENOMEM));
		return;
	}
	deliver(c, d);
	free(d);
}

static void *chan_main(void *arg)
{
	struct channel *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		int64_t now = now_ms(c);
		enum notify_list_kind kind = NOTIFY_DIGEST;
		struct notify_list *l = NULL;
		struct delivery *d = NULL;
		if (notify_ratelimit_take_notice(&c->rate, now, &c->out_notice)) {
			kind = NOTIFY_RATE_NOTICE;
			l = &c->out_notice;
		} else if (notify_digest_take(&c->digest, now, &c->out_digest)) {
			l = &c->out_digest;
			if (!notify_ratelimit_allow(&c->rate, now)) {
				notify_ratelimit_refuse_list(&c->rate, l);
				metric_add(&c->m->rate_limited, (int64_t)l->total);
				notify_list_clear(l);
				continue;
			}
		} else if (c->head) {
			d = c->head;
			c->head = d->next;
			if (!c->head)
				c->tail = NULL;
			c->queued--;
		} else {
			int64_t due = next_due(c);
			if (due == INT64_MAX) {
				pthread_cond_wait(&c->cv, &c->mu);
			} else {
				/* woken early by a submit, notifier_wait_idle or stop; at most a
				 * minute at a time, in case the wall clock jumps */
				int64_t wait = due - now < 1	   ? 1
					       : due - now > 60000 ? 60000
								   : due - now;
				struct timespec ts = clock_deadline_ms(wait);
				pthread_cond_timedwait(&c->cv, &c->mu, &ts);
			}
			continue;
		}
		c->busy = true;
		pthread_mutex_unlock(&c->mu);
		if (d) {
			deliver(c, d);
			free(d);
		} else {
			send_list(c, kind, l);
		}
		pthread_mutex_lock(&c->mu);
		if (l)
			notify_list_clear(l);
		c->busy = false;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static int chan_init(struct channel *c)
{
	int rc;
	if ((rc = notify_digest_init(&c->digest, c->cfg.digest_ms, c->cfg.digest_max_severity)) <
		0 ||
	    (rc = notify_ratelimit_init(&c->rate, c->cfg.rate_limit, c->cfg.rate_window_ms)) < 0)
		return rc;
	if (c->cfg.digest_ms > 0 &&
	    (rc = notify_list_init(&c->out_digest, NOTIFY_DIGEST_ITEMS)) < 0)
		return rc;
	if (c->cfg.rate_limit > 0 &&
	    (rc = notify_list_init(&c->out_notice, NOTIFY_NOTICE_ITEMS)) < 0)
		return rc;
	return 0;
}

int notifier_start_clock(struct notifier **out, struct notify_channel_config *channels, size_t n,
			 notify_clock_fn clock, void *clock_arg)
{
	struct notifier *nt = calloc(1, sizeof(*nt));
	if (!nt || (n && !(nt->ch = calloc(n, sizeof(*nt->ch))))) {
		free(nt);
		notify_config_free(channels, n);
		return -ENOMEM;
	}
	nt->cfgs = channels;
	nt->ncfg = n;
	nt->clock = clock ? clock : mono_clock;
	nt->clock_arg = clock_arg;
	if (n && notify_curl_global() < 0) {
		free(nt->ch);
		free(nt);
		notify_config_free(channels, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct channel *c = &nt->ch[i];
		c->nt = nt;
		c->cfg = channels[i];
		c->m = chan_metrics_for(c->cfg.name);
		pthread_mutex_init(&c->mu, NULL);
		pthread_cond_init(&c->cv, NULL);
		nt->n = i + 1;
		int rc = chan_init(c);
		if (rc == 0 && pthread_create(&c->thread, NULL, chan_main, c) != 0)
			rc = -EAGAIN;
		if (rc < 0) {
			notifier_stop(nt);
			return rc;
		}
		c->started = true;
	}
	*out = nt;
	return 0;
}

int notifier_start(struct notifier **out, struct notify_channel_config *channels, size_t n)
{
	return notifier_start_clock(out, channels, n, NULL, NULL);
}

/* Whether word (n bytes) is one of the comma-separated items of list (spaces around items
 * ignored; case ignored when fold). */
static bool in_list(const char *list, const char *word, size_t n, bool fold)
{
	for (const char *p = list; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > p && t[-1] == ' ')
			t--;
		if ((size_t)(t - p) == n && n &&
		    (fold ? !strncasecmp(p, word, n) : !memcmp(p, word, n)))
			return true;
		p = e;
	}
	return false;
}

/* Routing: a rule that names its channels goes only to them; a channel with rules or
 * rule_tags takes only the alerts of those rules or tags. */
static bool routed_here(const struct notify_channel_config *c, const json_t *alert)
{
	size_t i;
	json_t *v, *want = json_object_get(alert, "rule_channels");
	if (json_array_size(want)) {
		bool named = false;
		json_array_foreach (want, i, v)
			named |= json_is_string(v) && !strcmp(json_string_value(v), c->name);
		if (!named)
			return false;
	}
	if (!(c->rules && *c->rules) && !(c->rule_tags && *c->rule_tags))
		return true;
	const char *id = json_string_value(json_object_get(alert, "rule_id"));
	if (id && c->rules && in_list(c->rules, id, strlen(id), false))
		return true;
	json_array_foreach (json_object_get(alert, "rule_tags"), i, v) {
		const char *t = json_string_value(v);
		if (t && c->rule_tags && in_list(c->rule_tags, t, strlen(t), true))
			return true;
	}
	return false;
}

void notifier_submit(struct notifier *nt, const json_t *alert)
{
	int sev = (int)json_integer_value(json_object_get(alert, "severity"));
	bool backfill = json_is_true(json_object_get(alert, "backfill"));
	long long id = (long long)json_integer_value(json_object_get(alert, "id"));
	struct notify_item item;
	bool have_item = false;
	char what[40];
	snprintf(what, sizeof(what), "alert %lld", id);
	for (size_t i = 0; nt && i < nt->n; i++) {
		struct channel *c = &nt->ch[i];
		struct strbuf b;
		if (sev < c->cfg.min_severity || !routed_here(&c->cfg, alert))
			continue;
		if (backfill && !c->cfg.backfill) {
			metric_add(&c->m->backfill_skipped, 1);
			continue;
		}
		/* the digest's and rate limit's settings do not change: read without mu */
		bool digest = notify_digest_wants(&c->digest, sev);
		if ((digest || c->cfg.rate_limit > 0) && !have_item) {
			notify_item_build(alert, &item);
			have_item = true;
		}
		if (digest) {
			pthread_mutex_lock(&c->mu);
			if (c->stop) {
				metric_add(&c->m->dropped, 1);
			} else {
				notify_digest_hold(&c->digest, &item, now_ms(c));
				pthread_cond_broadcast(&c->cv);
			}
			pthread_mutex_unlock(&c->mu);
			continue;
		}
		strbuf_init(&b, 1024 * 1024);
		int rc = notify_format_alert(&c->cfg, alert, ts_now_us(), &b);
		struct delivery *d = rc == 0 ? delivery_new(&b, what) : NULL;
		strbuf_release(&b);
		pthread_mutex_lock(&c->mu);
		if (!d || c->queued >= c->cfg.queue_max || c->stop) {
			pthread_mutex_unlock(&c->mu);
			free(d);
			metric_add(&c->m->dropped, 1);
			if (rc < 0)
				log_warn("notify", "channel '%s': alert %lld not sent: %s",
					 c->cfg.name, id, siem_strerror(rc));
			continue;
		}
		if (!notify_ratelimit_allow(&c->rate, now_ms(c))) {
			notify_ratelimit_refuse(&c->rate, &item);
			pthread_cond_broadcast(&c->cv); /* the thread waits for the notice */
			pthread_mutex_unlock(&c->mu);
			free(d);
			metric_add(&c->m->rate_limited, 1);
			continue;
		}
		if (c->tail)
			c->tail->next = d;
		else
			c->head = d;
		c->tail = d;
		c->queued++;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
}

/* scheme://host[:port] of a URL: no credentials, path or query (webhook URLs are secrets). */
static void redact_url(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url ? url : "", "://");
	if (!p) {
		snprintf(out, outlen, "(invalid)");
		return;
	}
	const char *host = p + 3, *end = host + strcspn(host, "/?#");
	const char *at = memchr(host, '@', (size_t)(end - host));
	if (at)
		host = at + 1;
	snprintf(out, outlen, "%.*s%.*s", (int)(p + 3 - url), url, (int)(end - host), host);
}

void notifier_status(struct notifier *nt, json_t *out)
{
	static const char *const kinds[] = {"email", "webhook", "slack"};
	static const char *const levels[] = {"informational", "low", "medium", "high", "critical"};
	char buf[256], ts[32];
	for (size_t i = 0; nt && i < nt->n; i++) {
		struct channel *c = &nt->ch[i];
		json_t *o = json_object();
		redact_url(c->cfg.url, buf, sizeof(buf));
		json_object_set_new(o, "name", json_string(c->cfg.name));
		json_object_set_new(o, "type", json_string(kinds[c->cfg.kind]));
		json_object_set_new(o, "url", json_string(buf));
		json_object_set_new(o, "min_level", json_string(levels[c->cfg.min_severity - 1]));
		json_object_set_new(o, "sent", json_integer(metric_get(&c->m->sent)));
		json_object_set_new(o, "failed", json_integer(metric_get(&c->m->failed)));
		json_object_set_new(o, "dropped", json_integer(metric_get(&c->m->dropped)));
		json_object_set_new(o, "retries", json_integer(metric_get(&c->m->retries)));
		json_object_set_new(o, "rate_limited",
				    json_integer(metric_get(&c->m->rate_limited)));
		json_object_set_new(o, "backfill_skipped",
				    json_integer(metric_get(&c->m->backfill_skipped)));
		notify_duration_text(c->cfg.digest_ms, buf, sizeof(buf));
		json_object_set_new(o, "digest", c->cfg.digest_ms ? json_string(buf) : json_null());
		if (c->cfg.digest_ms)
			json_object_set_new(o, "digest_max_level",
					    json_string(levels[c->cfg.digest_max_severity - 1]));
		if (c->cfg.rate_limit) {
			char w[32];
			notify_duration_text(c->cfg.rate_window_ms, w, sizeof(w));
			snprintf(buf, sizeof(buf), "%d/%s", c->cfg.rate_limit, w);
		}
		json_object_set_new(o, "rate_limit",
				    c->cfg.rate_limit ? json_string(buf) : json_null());
		json_object_set_new(o, "backfill", json_boolean(c->cfg.backfill));
		pthread_mutex_lock(&c->mu);
		json_object_set_new(o, "queued", json_integer((json_int_t)(c->queued + c->busy)));
		json_object_set_new(o, "held", json_integer((json_int_t)c->digest.held.total));
		json_object_set_new(o, "last_error",
				    c->last_error_at ? json_string(c->last_error) : json_null());
		json_object_set_new(o, "last_error_at",
				    c->last_error_at
					? json_stringn(ts, ts_format(c->last_error_at, ts))
					: json_null());
		json_object_set_new(o, "last_sent_at",
				    c->last_sent_at
					? json_stringn(ts, ts_format(c->last_sent_at, ts))
					: json_null());
		pthread_mutex_unlock(&c->mu);
		json_array_append_new(out, o);
	}
}

int notifier_test(struct notifier *nt, const char *name, const char *who, char *err, size_t errlen)
{
	struct channel *c = NULL;
	for (size_t i = 0; nt && i < nt->n && !c; i++)
		if (strcmp(nt->ch[i].cfg.name, name) == 0)
			c = &nt->ch[i];
	snprintf(err, errlen, "no channel '%s'", name);
	if (!c)
		return SIEM_ENOTFOUND;
	char ts[32], summary[300];
	int64_t now = ts_now_us();
	ts_format(now, ts);
	snprintf(summary, sizeof(summary),
		 "Test message from minisiem to channel '%s', sent by %s: it works", name, who);
	json_t *alert =
	    json_pack("{s:I, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:b}", "id", (json_int_t)0,
		      "rule_title", "minisiem test message", "summary", summary, "rule_id", "test",
		      "severity", 1, "rule_level", "informational", "status", "open", "first_seen",
		      ts, "last_seen", ts, "test", 1);
	struct strbuf b;
	strbuf_init(&b, 1024 * 1024);
	int rc = alert ? notify_format_alert(&c->cfg, alert, now, &b) : -ENOMEM;
	json_decref(alert);
	if (rc < 0) {
		snprintf(err, errlen, "cannot format the message: %s", siem_strerror(rc));
		strbuf_release(&b);
		return rc;
	}
	char why[200] = ""; /* room for "test message: " in last_error */
	enum notify_result r =
	    c->cfg.kind == NOTIFY_EMAIL
		? notify_smtp_send(&c->cfg, b.p ? b.p : "", b.n, chan_stopping, c, why, sizeof(why))
		: notify_webhook_send(&c->cfg, b.p ? b.p : "", b.n, chan_stopping, c, why,
				      sizeof(why));
	strbuf_release(&b);
	pthread_mutex_lock(&c->mu);
	if (r == NOTIFY_OK) {
		c->last_sent_at = ts_now_us();
	} else {
		snprintf(c->last_error, sizeof(c->last_error), "test message: %s", why);
		c->last_error_at = ts_now_us();
	}
	pthread_mutex_unlock(&c->mu);
	log_info("notify", "channel '%s': test message by %s: %s", name, who,
		 r == NOTIFY_OK ? "delivered" : why);
	snprintf(err, errlen, "%s", r == NOTIFY_OK ? "" : why);
	return r == NOTIFY_OK ? 0 : SIEM_EUNAVAIL;
}

/* Nothing queued, sending or due. With mu held. */
static bool chan_idle(struct channel *c)
{
	if (c->head || c->busy)
		return false;
	int64_t due = next_due(c);
	return due == INT64_MAX || due > now_ms(c);
}

bool notifier_wait_idle(struct notifier *nt, int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	for (size_t i = 0; nt && i < nt->n; i++) {
		struct channel *c = &nt->ch[i];
		pthread_mutex_lock(&c->mu);
		/* the clock may have moved (tests): the thread looks again at what is due */
		pthread_cond_broadcast(&c->cv);
		while (!chan_idle(c) && mono_ms() < end) {
			struct timespec ts = clock_deadline_ms(10);
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		}
		bool idle = chan_idle(c);
		pthread_mutex_unlock(&c->mu);
		if (!idle)
			return false;
	}
	return true;
}

void notifier_stop(struct notifier *nt)
{
	if (!nt)
		return;
	for (size_t i = 0; i < nt->n; i++) {
		struct channel *c = &nt->ch[i];
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
	for (size_t i = 0; i < nt->n; i++) {
		struct channel *c = &nt->ch[i];
		if (c->started)
			pthread_join(c->thread, NULL);
		size_t left = 0;
		for (struct delivery *d = c->head, *nx; d; d = nx) {
			nx = d->next;
			free(d);
			left++;
		}
		if (left) {
			metric_add(&c->m->dropped, (int64_t)left);
			log_warn("notify", "channel '%s': %zu notifications not sent at stop",
				 c->cfg.name, left);
		}
		if (c->digest.held.total) {
			metric_add(&c->m->dropped, (int64_t)c->digest.held.total);
			log_warn("notify",
				 "channel '%s': %zu alerts held for the digest not sent at stop",
				 c->cfg.name, c->digest.held.total);
		}
		size_t refused = c->rate.refused.total + c->rate.notice.total;
		if (refused)
			log_warn(
			    "notify",
			    "channel '%s': the notice of %zu alerts over the rate limit not sent "
			    "at stop",
			    c->cfg.name, refused);
		notify_digest_release(&c->digest);
		notify_ratelimit_release(&c->rate);
		notify_list_release(&c->out_digest);
		notify_list_release(&c->out_notice);
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
	}
	notify_config_free(nt->cfgs, nt->ncfg);
	free(nt->ch);
	free(nt);
}
