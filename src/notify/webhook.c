/* webhook.c — alert notifications as HTTP POSTs: a generic JSON webhook signed with
 * HMAC-SHA256 (X-Minisiem-Signature) and a Slack-compatible {"text"} webhook. Also the libcurl
 * settings both HTTP and SMTP deliveries share. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/err.h"
#include "notify/notify.h"

#ifndef SIEM_VERSION
#define SIEM_VERSION "dev"
#endif

const char *notify_str(const json_t *alert, const char *key)
{
	const char *v = json_string_value(json_object_get(alert, key));
	return v ? v : "";
}

long long notify_int(const json_t *alert, const char *key)
{
	return (long long)json_integer_value(json_object_get(alert, key));
}

static const char *const level_names[] = {"informational", "low", "medium", "high", "critical"};

int notify_level_severity(const char *s)
{
	if (!s)
		return -1;
	if (s[0] >= '1' && s[0] <= '5' && !s[1])
		return s[0] - '0';
	if (strcmp(s, "info") == 0)
		return 1;
	for (int i = 0; i < 5; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i + 1;
	return -1;
}

void notify_level_upper(const json_t *alert, char *out, size_t outlen)
{
	const char *lvl = notify_str(alert, "rule_level");
	long long sev = notify_int(alert, "severity");
	if (notify_level_severity(lvl) < 0)
		lvl = sev >= 1 && sev <= 5 ? level_names[sev - 1] : "unknown";
	size_t i = 0;
	for (; lvl[i] && i + 1 < outlen; i++)
		out[i] = lvl[i] >= 'a' && lvl[i] <= 'z' ? (char)(lvl[i] - 'a' + 'A') : lvl[i];
	out[i] = '\0';
}

int notify_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t n, char out[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!HMAC(EVP_sha256(), key, (int)keylen, data, n, mac, &len) || len != 32)
		return SIEM_ECRYPTO;
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

int notify_format_webhook(const json_t *alert, struct strbuf *out)
{
	json_t *o =
	    json_pack("{s:s, s:s, s:O}", "source", "minisiem", "type", "alert", "alert", alert);
	if (!o)
		return -ENOMEM;
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	int rc = strbuf_add(out, text, strlen(text));
	free(text);
	return rc;
}

static int add_slack_escaped(struct strbuf *b, const char *s)
{
	int rc = 0;
	for (; s && *s && rc == 0; s++) {
		if (*s == '&')
			rc = strbuf_add(b, "&amp;", 5);
		else if (*s == '<')
			rc = strbuf_add(b, "&lt;", 4);
		else if (*s == '>')
			rc = strbuf_add(b, "&gt;", 4);
		else
			rc = strbuf_add(b, s, 1);
	}
	return rc;
}

int notify_format_slack(const json_t *alert, struct strbuf *out)
{
	struct strbuf t;
	char level[16];
	int rc;
	strbuf_init(&t, 16 * 1024);
	notify_level_upper(alert, level, sizeof(level));
	const char *group = notify_str(alert, "group_key");
	rc = strbuf_addf(&t, "*[%s] ", level);
	rc = rc ? rc : add_slack_escaped(&t, notify_str(alert, "rule_title"));
	rc = rc ? rc : strbuf_addf(&t, "*\nalert #%lld", (long long)notify_int(alert, "id"));
	if (!rc && *group) {
		rc = strbuf_add(&t, " · group ", strlen(" · group "));
		rc = rc ? rc : add_slack_escaped(&t, group);
	}
	rc = rc ? rc
		: strbuf_addf(&t, " · count %lld · first seen %s · rule ",
			      (long long)notify_int(alert, "count"),
			      notify_str(alert, "first_seen"));
	rc = rc ? rc : add_slack_escaped(&t, notify_str(alert, "rule_id"));
	if (!rc && *notify_str(alert, "rule_author")) {
		rc = strbuf_add(&t, " by ", 4);
		rc = rc ? rc : add_slack_escaped(&t, notify_str(alert, "rule_author"));
	}
	if (rc == 0) {
		json_t *o = json_pack("{s:s}", "text", t.p ? t.p : "");
		char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		rc = text ? strbuf_add(out, text, strlen(text)) : -ENOMEM;
		free(text);
	}
	strbuf_release(&t);
	return rc;
}

/* ---- libcurl plumbing shared with smtp.c ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

int notify_curl_global(void)
{
	pthread_once(&curl_once, curl_init);
	return curl_init_rc;
}

struct abort_ctx {
	notify_abort_fn fn;
	void *arg;
};

static int xferinfo(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	struct abort_ctx *a = p;
	return a->fn && a->fn(a->arg) ? 1 : 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

void *notify_curl_open(const struct notify_channel_config *ch, notify_abort_fn abort_fn,
		       void *abort_arg, void *abort_ctx_storage, char *err, size_t errlen)
{
	struct abort_ctx *a = abort_ctx_storage;
	err[0] = '\0';
	if (notify_curl_global() < 0) {
		snprintf(err, errlen, "libcurl initialization failed");
		return NULL;
	}
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->fn = abort_fn;
	a->arg = abort_arg;
	curl_easy_setopt(c, CURLOPT_URL, ch->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ch->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(ch->timeout_ms < 5000 ? ch->timeout_ms : 5000));
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (ch->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, ch->ca_file);
	return c;
}

_Static_assert(sizeof(struct abort_ctx) <= NOTIFY_ABORT_CTX_SIZE, "abort context too large");

enum notify_result notify_curl_result(int code, long status, bool smtp, char *err, size_t errlen)
{
	CURLcode cc = (CURLcode)code;
	if (cc == CURLE_OK) {
		if (smtp || (status >= 200 && status < 300))
			return NOTIFY_OK;
		snprintf(err, errlen, "HTTP %ld", status);
		return status >= 500 || status == 408 || status == 429 ? NOTIFY_RETRY : NOTIFY_FAIL;
	}
	if (smtp && status >= 400)
		snprintf(err, errlen, "%s (SMTP %ld)", curl_easy_strerror(cc), status);
	else
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_LOGIN_DENIED:
		return NOTIFY_FAIL;
	default:
		break;
	}
	if (smtp && status >= 500 && status < 600)
		return NOTIFY_FAIL;
	return NOTIFY_RETRY;
}

enum notify_result notify_webhook_send(const struct notify_channel_config *ch, const char *body,
				       size_t n, notify_abort_fn abort_fn, void *abort_arg,
				       char *err, size_t errlen)
{
	struct curl_slist *h = NULL, *t;
	char abort_store[NOTIFY_ABORT_CTX_SIZE];
	char line[160];
	long status = 0;
	CURL *c = notify_curl_open(ch, abort_fn, abort_arg, abort_store, err, errlen);
	if (!c)
		return NOTIFY_RETRY;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "minisiem/" SIEM_VERSION);
	h = curl_slist_append(h, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip for small bodies. */
	if (h && (t = curl_slist_append(h, "Expect:")))
		h = t;
	if (h && ch->kind == NOTIFY_WEBHOOK && ch->secret) {
		char hex[65];
		if (notify_hmac_sha256_hex(ch->secret, strlen(ch->secret), body, n, hex) < 0) {
			snprintf(err, errlen, "cannot compute the signature");
			curl_slist_free_all(h);
			curl_easy_cleanup(c);
			return NOTIFY_FAIL;
		}
		snprintf(line, sizeof(line), "X-Minisiem-Signature: sha256=%s", hex);
		if ((t = curl_slist_append(h, line)))
			h = t;
	}
	for (size_t i = 0; h && i < ch->n_headers; i++)
		if ((t = curl_slist_append(h, ch->headers[i])))
			h = t;
	if (!h) {
		snprintf(err, errlen, "out of memory");
		curl_easy_cleanup(c);
		return NOTIFY_RETRY;
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return notify_curl_result((int)cc, status, false, err, errlen);
}
