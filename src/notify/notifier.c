/* notifier.c — delivery of new alerts: one thread and one bounded queue per channel (full:
 * drop and count), retries with exponential backoff, per-channel metrics and status. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	struct metric sent, failed, dropped, retries;
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
			metric_register(&m->sent);
			metric_register(&m->failed);
			metric_register(&m->dropped);
			metric_register(&m->retries);
		}
	}
	pthread_mutex_unlock(&chan_metrics_mu);
	return m;
}

struct delivery {
	struct delivery *next;
	int64_t alert_id;
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
};

struct notifier {
	size_t n, ncfg;
	struct channel *ch;
	struct notify_channel_config *cfgs;
};

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
			log_warn("notify",
				 "channel '%s': alert %lld not delivered after %d attempts: %s",
				 c->cfg.name, (long long)d->alert_id, attempt + 1, err);
			return;
		}
		metric_add(&c->m->retries, 1);
		int64_t wait =
		    notify_backoff_ms(attempt + 1, c->cfg.backoff_ms, c->cfg.backoff_max_ms);
		log_info("notify", "channel '%s': alert %lld: %s; retry in %lld ms", c->cfg.name,
			 (long long)d->alert_id, err, (long long)wait);
		if (chan_sleep(c, wait)) {
			metric_add(&c->m->dropped, 1);
			return;
		}
	}
}

static void *chan_main(void *arg)
{
	struct channel *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->head && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		struct delivery *d = c->head;
		c->head = d->next;
		if (!c->head)
			c->tail = NULL;
		c->queued--;
		c->busy = true;
		pthread_mutex_unlock(&c->mu);
		deliver(c, d);
		free(d);
		pthread_mutex_lock(&c->mu);
		c->busy = false;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int notifier_start(struct notifier **out, struct notify_channel_config *channels, size_t n)
{
	struct notifier *nt = calloc(1, sizeof(*nt));
	if (!nt || (n && !(nt->ch = calloc(n, sizeof(*nt->ch))))) {
		free(nt);
		notify_config_free(channels, n);
		return -ENOMEM;
	}
	nt->cfgs = channels;
	nt->ncfg = n;
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
		if (pthread_create(&c->thread, NULL, chan_main, c) != 0) {
			notifier_stop(nt);
			return -EAGAIN;
		}
		c->started = true;
	}
	*out = nt;
	return 0;
}

void notifier_submit(struct notifier *nt, const json_t *alert)
{
	int sev = (int)json_integer_value(json_object_get(alert, "severity"));
	for (size_t i = 0; nt && i < nt->n; i++) {
		struct channel *c = &nt->ch[i];
		struct strbuf b;
		if (sev < c->cfg.min_severity)
			continue;
		strbuf_init(&b, 1024 * 1024);
		int rc = c->cfg.kind == NOTIFY_EMAIL
			     ? notify_format_email(&c->cfg, alert, ts_now_us(), &b)
			 : c->cfg.kind == NOTIFY_SLACK ? notify_format_slack(alert, &b)
						       : notify_format_webhook(alert, &b);
		struct delivery *d = rc == 0 ? malloc(sizeof(*d) + b.n + 1) : NULL;
		if (d) {
			d->next = NULL;
			d->alert_id = json_integer_value(json_object_get(alert, "id"));
			d->n = b.n;
			memcpy(d->body, b.p ? b.p : "", b.n);
			d->body[b.n] = '\0';
		}
		strbuf_release(&b);
		pthread_mutex_lock(&c->mu);
		if (!d || c->queued >= c->cfg.queue_max || c->stop) {
			pthread_mutex_unlock(&c->mu);
			free(d);
			metric_add(&c->m->dropped, 1);
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
		pthread_mutex_lock(&c->mu);
		json_object_set_new(o, "queued", json_integer((json_int_t)(c->queued + c->busy)));
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

bool notifier_wait_idle(struct notifier *nt, int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	for (size_t i = 0; nt && i < nt->n; i++) {
		struct channel *c = &nt->ch[i];
		pthread_mutex_lock(&c->mu);
		while ((c->head || c->busy) && mono_ms() < end) {
			struct timespec ts = clock_deadline_ms(10);
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		}
		bool idle = !c->head && !c->busy;
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
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
	}
	notify_config_free(nt->cfgs, nt->ncfg);
	free(nt->ch);
	free(nt);
}
