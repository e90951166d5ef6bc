/* notify.h — notification channels: email over SMTP (smtp.c), generic and Slack-compatible
 * webhooks (webhook.c), their configuration file (channels.c), and the notifier (one thread
 * and one bounded queue per channel, retries with exponential backoff; notifier.c). */
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
	size_t n_headers;
	char *headers[NOTIFY_MAX_HEADERS]; /* "Name: value" */
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

/* ---- message formats (alert is the JSON object the API shows) ---- */

/* {"source": "minisiem", "type": "alert", "alert": {...}} */
int notify_format_webhook(const json_t *alert, struct strbuf *out);
/* {"text": "..."} with Slack's &, <, > escaped. */
int notify_format_slack(const json_t *alert, struct strbuf *out);
/* The subject line: "[minisiem] HIGH: <title> (<group>)", control characters removed. */
int notify_format_subject(const json_t *alert, struct strbuf *out);
/* A whole RFC 5322 message (CRLF lines): Date (now_us), From, To, Subject (RFC 2047 when
 * not ASCII), Message-ID, MIME-Version, text/plain UTF-8 quoted-printable body. */
int notify_format_email(const struct notify_channel_config *ch, const json_t *alert, int64_t now_us,
			struct strbuf *out);
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

/* ---- the notifier: one thread and one bounded queue per channel ---- */

struct notifier;

/* Starts a thread per channel (takes ownership of channels). Registers the metrics
 * minisiem_notify_{sent,failed,dropped,retries}_total{channel="..."}. */
int notifier_start(struct notifier **out, struct notify_channel_config *channels, size_t n);
/* Queue alert (a new alert's JSON) on every channel whose minimum level it reaches. Never
 * blocks: a full queue drops the message and counts it. */
void notifier_submit(struct notifier *nt, const json_t *alert);
/* [{"name", "type", "url" (without credentials or path), "min_level", "queued", "sent",
 *   "failed", "dropped", "retries", "last_error", "last_error_at", "last_sent_at"}] */
void notifier_status(struct notifier *nt, json_t *out);
/* Wait until every queue is empty and no delivery is in progress, up to timeout_ms (tests).
 * Returns true when idle. */
bool notifier_wait_idle(struct notifier *nt, int timeout_ms);
/* Stop: an attempt in progress is aborted; what is still queued is dropped and counted. */
void notifier_stop(struct notifier *nt);

#endif
