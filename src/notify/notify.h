/* notify.h — notification channels: what a message says (content.c), email over SMTP
 * (smtp.c), generic and Slack-compatible webhooks (webhook.c), their configuration file
 * (channels.c), digests of low alerts (digest.c), per-channel rate limits (ratelimit.c), and
 * the notifier (one thread and one bounded queue per channel, retries with exponential
 * backoff; notifier.c). */
#ifndef SIEM_NOTIFY_H
#define SIEM_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/strbuf.h"

enum notify_kind { NOTIFY_EMAIL, NOTIFY_WEBHOOK, NOTIFY_SLACK };
enum notify_tls { NOTIFY_TLS_DEFAULT, NOTIFY_TLS_OFF, NOTIFY_TLS_TRY, NOTIFY_TLS_REQUIRED };

#define NOTIFY_MAX_CHANNELS 32
#define NOTIFY_MAX_TO 32
#define NOTIFY_MAX_HEADERS 8

/* One channel as the configuration file describes it. Strings are malloc'd. */
struct notify_channel_config {
	char name[49]; /* [A-Za-z0-9_.-], the metrics label */
	enum notify_kind kind;
	char *url;
	int min_severity; /* 1..5: alerts below are not sent on this channel */
	int retries;	  /* attempts after the first */
	int64_t backoff_ms, backoff_max_ms, timeout_ms;
	size_t queue_max;
	char *ca_file; /* extra trust anchors (PEM), or NULL for the system's */
	/* email */
	enum notify_tls starttls;
	char *user, *password, *from;
	size_t n_to;
	char *to[NOTIFY_MAX_TO];
	/* webhook */
	char *secret; /* HMAC-SHA256 key for X-Minisiem-Signature, or NULL */
	/* routing: when set, only alerts of these rule ids, or of rules with one of these tags
	 * (comma-separated; tags any case), come to this channel */
	char *rules, *rule_tags;
	size_t n_headers;
	char *headers[NOTIFY_MAX_HEADERS]; /* "Name: value" */
	/* digest: alerts at or below digest_max_severity are held and sent together, one
	 * message per digest_ms (0: off) */
	int64_t digest_ms;
	int digest_max_severity;
	/* rate limit: at most rate_limit messages per rate_window_ms (0: off) */
	int rate_limit;
	int64_t rate_window_ms;
	bool backfill; /* send alerts raised by imported history ("backfill": true) */
};

/* Parse a channels file (format in docs/alerting.md). On failure returns SIEM_EPARSE with
 * err naming the line. *out is an array of *n channels; free with notify_config_free. */
int notify_config_parse(const char *text, size_t len, struct notify_channel_config **out, size_t *n,
			char *err, size_t errlen);
int notify_config_load(const char *path, struct notify_channel_config **out, size_t *n, char *err,
		       size_t errlen);
void notify_config_free(struct notify_channel_config *ch, size_t n);

/* Delay before retry number attempt (1 = the first retry): base * 2^(attempt-1), at most
 * max. Deterministic (no jitter): one failing channel retries at a pace that is easy to read
 * in the logs. */
int64_t notify_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms);

/* ---- what a message says (content.c) ---- */

#define NOTIFY_EVENTS_MAX 5    /* events shown per alert */
#define NOTIFY_MESSAGE_MAX 300 /* bytes of an event's message, or of a summary */
#define NOTIFY_LINK_MAX 500    /* a longer link is left out (a cut URL is wrong) */
#define NOTIFY_TAGS_MAX 16
#define NOTIFY_REFS_MAX 5
#define NOTIFY_DIGEST_ITEMS 50 /* alerts listed in a digest ("and N more" past it) */
#define NOTIFY_NOTICE_ITEMS 20 /* summaries listed in a rate-limit notice */

/* s without control characters (as spaces) and bidirectional overrides (dropped), cut at a
 * UTF-8 boundary to at most max bytes with "…" after a cut; invalid UTF-8 becomes '?'.
 * Writes at most outlen bytes with the NUL; returns the length. */
size_t notify_clean(char *out, size_t outlen, const char *s, size_t max);
/* An absolute http:// or https:// URL without spaces, quotes or angle brackets. */
bool notify_is_web_url(const char *s);

/* What a notification about one alert says, from the alert object. Every string is
 * attacker-influenced text made safe by notify_clean: a format only escapes it. Empty
 * strings are absent members. */
struct notify_content {
	char summary[NOTIFY_MESSAGE_MAX + 4];	 /* the alert's "summary" */
	char headline[NOTIFY_MESSAGE_MAX + 240]; /* summary, else "title (group)" */
	char title[204], rule_id[104], author[204], group[304], status[32];
	char level[16]; /* "HIGH" */
	long long severity, id, count;
	char first_seen[40], last_seen[40];
	bool backfill;
	char hosts[200], users[200], addresses[200]; /* "nas, nas2": group_key, then events */
	size_t n_events;			     /* lines in events[] */
	long long events_total;			     /* events behind the alert */
	char events[NOTIFY_EVENTS_MAX][NOTIFY_MESSAGE_MAX + 120]; /* "date time  host  message" */
	size_t n_event_ids; /* event ids (when no events are given) */
	char description[1004];
	size_t n_attack, n_tags, n_refs;
	char attack[NOTIFY_TAGS_MAX][68]; /* "attack.t1110", ... */
	char tags[NOTIFY_TAGS_MAX][68];	  /* the other tags */
	char refs[NOTIFY_REFS_MAX][NOTIFY_LINK_MAX + 4];
	char link[NOTIFY_LINK_MAX + 4]; /* a web URL, or "" */
};
void notify_content_build(const json_t *alert, struct notify_content *c);

/* One alert as a line of a digest or of a rate-limit notice. */
struct notify_item {
	long long id;
	int severity;
	char level[16];
	char time[24]; /* "2026-12-07 10:01:02" (first seen) */
	char summary[NOTIFY_MESSAGE_MAX + 240];
	char link[NOTIFY_LINK_MAX + 4];
};
void notify_item_build(const json_t *alert, struct notify_item *it);

/* Alerts listed in one message: the first cap are kept, total counts them all. */
struct notify_list {
	size_t cap, n, total;
	struct notify_item *items;
};
int notify_list_init(struct notify_list *l, size_t cap);
void notify_list_add(struct notify_list *l, const struct notify_item *it);
/* Count every alert of src into l, keeping items while there is room. */
void notify_list_merge(struct notify_list *l, const struct notify_list *src);
void notify_list_clear(struct notify_list *l);
void notify_list_release(struct notify_list *l);

enum notify_list_kind { NOTIFY_DIGEST, NOTIFY_RATE_NOTICE };
/* "12 alerts at LOW or below in the last 1h (digest of channel ops-mail)" or "7 alerts were
 * not sent (rate limit of 20 per 1h on channel ops-mail)". */
void notify_list_headline(const struct notify_channel_config *ch, enum notify_list_kind kind,
			  const struct notify_list *l, char *out, size_t outlen);
/* "1h", "90m", "30s", "250ms". */
void notify_duration_text(int64_t ms, char *out, size_t outlen);

/* ---- message formats (alert is the JSON object the API shows) ---- */

/* {"source": "minisiem", "type": "alert", "alert": {...}, "summary", "severity", "level",
 *  "link", "description", "tags", "references", "events": [...], "n_events"}: the alert
 * without its events, which are at the top, cut to NOTIFY_EVENTS_MAX; every string and
 * array bounded. */
int notify_format_webhook(const json_t *alert, struct strbuf *out);
/* {"text": "..."} with Slack's &, <, > escaped: the headline, the alert's facts, the events
 * as a short list, the link as <url|Open in minisiem>. */
int notify_format_slack(const json_t *alert, struct strbuf *out);
/* The subject line: "[minisiem] HIGH: <summary>" (or "<title> (<group>)" without one),
 * control characters removed. */
int notify_format_subject(const json_t *alert, struct strbuf *out);
/* A whole RFC 5322 message (CRLF lines): Date (now_us), From, To, Subject (RFC 2047 when
 * not ASCII), Message-ID, MIME-Version, multipart/alternative of a text/plain and a
 * text/html part (UTF-8, quoted-printable). */
int notify_format_email(const struct notify_channel_config *ch, const json_t *alert, int64_t now_us,
			struct strbuf *out);
/* The message for ch's kind. */
int notify_format_alert(const struct notify_channel_config *ch, const json_t *alert, int64_t now_us,
			struct strbuf *out);
/* A digest or a rate-limit notice for ch's kind. */
int notify_format_list(const struct notify_channel_config *ch, enum notify_list_kind kind,
		       const struct notify_list *l, int64_t now_us, struct strbuf *out);
int notify_format_list_email(const struct notify_channel_config *ch, enum notify_list_kind kind,
			     const struct notify_list *l, int64_t now_us, struct strbuf *out);
int notify_format_list_webhook(const struct notify_channel_config *ch, enum notify_list_kind kind,
			       const struct notify_list *l, struct strbuf *out);
int notify_format_list_slack(const struct notify_channel_config *ch, enum notify_list_kind kind,
			     const struct notify_list *l, struct strbuf *out);
/* Lower-case hex HMAC-SHA256 of data under key; out holds 65 bytes. */
int notify_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t n,
			   char out[65]);

/* ---- delivery (blocking, on a channel's own thread) ---- */

enum notify_result {
	NOTIFY_OK,
	NOTIFY_RETRY, /* transient: connection refused, timeout, 5xx, 408, 429, SMTP 4xx */
	NOTIFY_FAIL,  /* permanent: other 4xx, SMTP 5xx, bad configuration */
};

/* Abort hook: the transfer stops when it returns true (the hub is stopping). */
typedef bool (*notify_abort_fn)(void *arg);

/* POST body to a webhook (generic: with the signature header when a secret is set; Slack:
 * plain). err gets a short reason on failure. */
enum notify_result notify_webhook_send(const struct notify_channel_config *ch, const char *body,
				       size_t n, notify_abort_fn abort_fn, void *abort_arg,
				       char *err, size_t errlen);
/* Send a formatted message to every recipient over SMTP (smtp:// with STARTTLS per
 * ch->starttls, or smtps://). */
enum notify_result notify_smtp_send(const struct notify_channel_config *ch, const char *msg,
				    size_t n, notify_abort_fn abort_fn, void *abort_arg, char *err,
				    size_t errlen);

/* ---- shared by smtp.c and webhook.c ---- */

/* String / integer member of an alert object ("" / 0 when absent). */
const char *notify_str(const json_t *alert, const char *key);
long long notify_int(const json_t *alert, const char *key);
/* "HIGH", "CRITICAL", ... from rule_level (or severity). */
void notify_level_upper(const json_t *alert, char *out, size_t outlen);
/* Severity 1..5 from a level name ("informational".."critical", "info") or digit; -1. */
int notify_level_severity(const char *s);
int notify_curl_global(void);
#define NOTIFY_ABORT_CTX_SIZE 32
/* A CURL handle with the options every transfer shares (URL, timeouts, abort hook, CA
 * file); storage (NOTIFY_ABORT_CTX_SIZE bytes) must outlive the transfer. err is emptied;
 * NULL with the reason in err when libcurl cannot start or make a handle (retry later). */
void *notify_curl_open(const struct notify_channel_config *ch, notify_abort_fn abort_fn,
		       void *abort_arg, void *storage, char *err, size_t errlen);
/* Classify a finished transfer (CURLcode, HTTP status or last SMTP reply code). */
enum notify_result notify_curl_result(int code, long status, bool smtp, char *err, size_t errlen);

/* ---- digests and rate limits: per channel, on a monotonic clock in ms (now) ---- */

/* Alerts at or below max_severity wait; the first one held starts an interval, at whose
 * end they go out as one message. */
struct notify_digest {
	int64_t interval_ms;
	int max_severity;
	bool pending;
	int64_t due_ms;
	struct notify_list held;
};
int notify_digest_init(struct notify_digest *d, int64_t interval_ms, int max_severity);
/* Does an alert of this severity wait for the digest? */
bool notify_digest_wants(const struct notify_digest *d, int severity);
void notify_digest_hold(struct notify_digest *d, const struct notify_item *it, int64_t now);
/* When the held alerts are due (INT64_MAX: none held). */
int64_t notify_digest_deadline(const struct notify_digest *d);
/* Swap the held alerts (when due at now) into out, which must be empty and as large;
 * false when nothing is due. */
bool notify_digest_take(struct notify_digest *d, int64_t now, struct notify_list *out);
void notify_digest_release(struct notify_digest *d);

/* At most limit messages per window; the window starts with the first message after the
 * previous one ended. What is refused is remembered for one notice, due when the window
 * ends. */
struct notify_ratelimit {
	int limit;
	int64_t window_ms;
	bool active;
	int64_t end_ms;
	int used;
	struct notify_list refused; /* in this window */
	struct notify_list notice;  /* of ended windows, not yet taken */
};
int notify_ratelimit_init(struct notify_ratelimit *r, int limit, int64_t window_ms);
/* May one more message go at now? Counts it when so. */
bool notify_ratelimit_allow(struct notify_ratelimit *r, int64_t now);
/* Remember alerts that were not sent (the caller counts them). */
void notify_ratelimit_refuse(struct notify_ratelimit *r, const struct notify_item *it);
void notify_ratelimit_refuse_list(struct notify_ratelimit *r, const struct notify_list *l);
/* When the notice is due (INT64_MIN: now; INT64_MAX: nothing was refused). */
int64_t notify_ratelimit_deadline(const struct notify_ratelimit *r);
/* Swap the refused alerts (when their window has ended at now) into out, which must be
 * empty and as large; false when no notice is due. The notice itself is not limited. */
bool notify_ratelimit_take_notice(struct notify_ratelimit *r, int64_t now, struct notify_list *out);
void notify_ratelimit_release(struct notify_ratelimit *r);

/* ---- the notifier: one thread and one bounded queue per channel ---- */

struct notifier;

/* Starts a thread per channel (takes ownership of channels). Registers the metrics
 * minisiem_notify_{sent,failed,dropped,retries,rate_limited,backfill_skipped}_total
 * {channel="..."}. */
int notifier_start(struct notifier **out, struct notify_channel_config *channels, size_t n);
/* The clock digests and rate limits use: milliseconds, never going back. */
typedef int64_t (*notify_clock_fn)(void *arg);
/* notifier_start on another clock (tests: a fake one, moved by hand; notifier_wait_idle
 * then sends what became due). */
int notifier_start_clock(struct notifier **out, struct notify_channel_config *channels, size_t n,
			 notify_clock_fn clock, void *clock_arg);
/* Queue alert (a new alert's JSON) on every channel whose minimum level it reaches, unless
 * it is a backfill the channel does not want, waits for the channel's digest, or is over
 * its rate limit. Never blocks: a full queue drops the message and counts it. */
void notifier_submit(struct notifier *nt, const json_t *alert);
/* [{"name", "type", "url" (without credentials or path), "min_level", "queued", "held",
 *   "sent", "failed", "dropped", "retries", "rate_limited", "backfill_skipped",
 *   "last_error", "last_error_at", "last_sent_at"}] */
void notifier_status(struct notifier *nt, json_t *out);
/* Send a test message on the channel named name now, from the caller's thread: one attempt,
 * no queue, digest or rate limit; the channel's last_error / last_sent_at tell the result
 * (its alert counters do not move). 0 when delivered, SIEM_ENOTFOUND for no such channel,
 * else a negative code with the reason in err. */
int notifier_test(struct notifier *nt, const char *name, const char *who, char *err, size_t errlen);
/* Wait until every queue is empty, no delivery is in progress and no digest or rate-limit
 * notice is due, up to timeout_ms (tests). Returns true when idle. */
bool notifier_wait_idle(struct notifier *nt, int timeout_ms);
/* Stop: an attempt in progress is aborted; what is still queued is dropped and counted. */
void notifier_stop(struct notifier *nt);

#endif
