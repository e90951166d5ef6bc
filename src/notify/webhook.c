/* webhook.c — alert notifications as HTTP POSTs: a generic JSON webhook signed with
 * HMAC-SHA256 (X-Minisiem-Signature) and a Slack-compatible {"text"} webhook, for alerts,
 * digests and rate-limit notices. Also the libcurl settings both HTTP and SMTP deliveries
 * share. */
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

/* ---- the generic webhook ---- */

/* How many bytes of s (n long) fit in max, cut at a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* A copy of v with strings cut at max bytes, arrays and objects at 100 members, nothing
 * deeper than depth, and *budget bytes of text in all (then strings are cut to nothing and
 * members left out): the body stays bounded whatever the alert holds. */
static json_t *bounded(const json_t *v, size_t max, int depth, size_t *budget)
{
	size_t cost = 16, i;
	json_t *o = NULL, *x;
	if (*budget < cost)
		return NULL;
	*budget -= cost;
	switch (json_typeof(v)) {
	case JSON_STRING: {
		size_t n = json_string_length(v), lim = max < *budget ? max : *budget;
		n = utf8_cut(json_string_value(v), n, lim);
		*budget -= n;
		return json_stringn(json_string_value(v), n);
	}
	case JSON_ARRAY:
		if (depth <= 0 || !(o = json_array()))
			return NULL;
		json_array_foreach (v, i, x) {
			json_t *c = i < 100 ? bounded(x, max, depth - 1, budget) : NULL;
			if (!c || json_array_append_new(o, c) < 0)
				break;
		}
		return o;
	case JSON_OBJECT: {
		const char *k;
		if (depth <= 0 || !(o = json_object()))
			return NULL;
		i = 0;
		json_object_foreach ((json_t *)v, k, x) {
			size_t kn = strlen(k);
			if (i++ >= 100 || kn > 128 || *budget < kn)
				break;
			*budget -= kn;
			json_t *c = bounded(x, max, depth - 1, budget);
			if (!c || json_object_set_new(o, k, c) < 0)
				break;
		}
		return o;
	}
	default:
		return json_deep_copy(v);
	}
}

static json_t *string_or_null(const char *s)
{
	return *s ? json_string(s) : json_null();
}

static int add_json(struct strbuf *out, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return -ENOMEM;
	int rc = strbuf_add(out, text, strlen(text));
	free(text);
	return rc;
}

/* "HIGH" -> "high", as rule_level spells it. */
static void lower(const char *s, char *out, size_t outlen)
{
	size_t i = 0;
	for (; s[i] && i + 1 < outlen; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
	out[i] = '\0';
}

int notify_format_webhook(const json_t *alert, struct strbuf *out)
{
	char level[16];
	struct notify_content *c = malloc(sizeof(*c));
	size_t budget = 64 * 1024, i;
	json_t *inner = NULL, *o = NULL, *ev;
	if (!c)
		return -ENOMEM;
	notify_content_build(alert, c);
	lower(c->level, level, sizeof(level));
	json_t *events = json_array(), *tags = json_array(), *refs = json_array();
	inner = bounded(alert, 1024, 6, &budget);
	if (!events || !tags || !refs || !json_is_object(inner))
		goto fail;
	json_object_del(inner, "events");
	json_array_foreach (json_object_get(alert, "events"), i, ev) {
		size_t ev_budget = 8 * 1024; /* each event its share */
		json_t *e =
		    i < NOTIFY_EVENTS_MAX ? bounded(ev, NOTIFY_MESSAGE_MAX, 3, &ev_budget) : NULL;
		if (!e || json_array_append_new(events, e) < 0)
			break;
	}
	for (i = 0; i < c->n_attack; i++)
		json_array_append_new(tags, json_string(c->attack[i]));
	for (i = 0; i < c->n_tags; i++)
		json_array_append_new(tags, json_string(c->tags[i]));
	for (i = 0; i < c->n_refs; i++)
		json_array_append_new(refs, json_string(c->refs[i]));
	o = json_pack("{s:s, s:s, s:o, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:I}", "source",
		      "minisiem", "type", "alert", "alert", inner, "summary", c->headline,
		      "severity", (json_int_t)c->severity, "level", level, "link",
		      string_or_null(c->link), "description", string_or_null(c->description),
		      "tags", tags, "references", refs, "events", events, "n_events",
		      (json_int_t)c->events_total);
	free(c);
	return add_json(out, o); /* json_pack took the references, even on failure */
fail:
	json_decref(inner);
	json_decref(events);
	json_decref(tags);
	json_decref(refs);
	free(c);
	return -ENOMEM;
}

/* ---- Slack ---- */

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

/* <url|text>: the URL with '|' encoded (it ends the URL) and & escaped. */
static int add_slack_link(struct strbuf *b, const char *url, const char *text)
{
	int rc = strbuf_add(b, "<", 1);
	for (const char *p = url; *p && rc == 0; p++)
		rc = *p == '|' ? strbuf_add(b, "%7C", 3) : add_slack_escaped(b, (char[2]){*p, 0});
	rc = rc ? rc : strbuf_add(b, "|", 1);
	rc = rc ? rc : add_slack_escaped(b, text);
	return rc ? rc : strbuf_add(b, ">", 1);
}

static int slack_text(const struct notify_content *c, struct strbuf *t)
{
	int rc = strbuf_addf(t, "*[%s] ", c->level);
	rc = rc ? rc
		: add_slack_escaped(t, *c->summary ? c->summary
				       : *c->title ? c->title
						   : c->headline);
	rc = rc ? rc : strbuf_add(t, "*", 1);
	if (!rc && c->backfill)
		rc = strbuf_addf(t, " (backfill: raised by imported history)");
	const char *names[3] = {"Host ", "User ", "Address "};
	const char *vals[3] = {c->hosts, c->users, c->addresses};
	bool first = true;
	for (int i = 0; i < 3 && rc == 0; i++) {
		if (!*vals[i])
			continue;
		rc = strbuf_addf(t, "%s%s", first ? "\n" : " · ", names[i]);
		rc = rc ? rc : add_slack_escaped(t, vals[i]);
		first = false;
	}
	for (size_t i = 0; i < c->n_events && rc == 0; i++) {
		rc = strbuf_add(t, "\n• ", strlen("\n• "));
		rc = rc ? rc : add_slack_escaped(t, c->events[i]);
	}
	if (!rc && c->events_total > (long long)c->n_events)
		rc = strbuf_addf(t, "\nand %lld more", c->events_total - (long long)c->n_events);
	rc = rc ? rc : strbuf_add(t, "\nrule ", 6);
	rc = rc ? rc : add_slack_escaped(t, c->title);
	if (!rc && *c->author) {
		rc = strbuf_add(t, " by ", 4);
		rc = rc ? rc : add_slack_escaped(t, c->author);
	}
	for (size_t i = 0; i < c->n_attack && rc == 0; i++) {
		rc = strbuf_add(t, i ? ", " : " · ", i ? 2 : strlen(" · "));
		rc = rc ? rc : add_slack_escaped(t, c->attack[i]);
	}
	rc = rc ? rc : strbuf_addf(t, "\nalert #%lld", c->id);
	if (!rc && *c->group) {
		rc = strbuf_add(t, " · group ", strlen(" · group "));
		rc = rc ? rc : add_slack_escaped(t, c->group);
	}
	rc = rc ? rc : strbuf_addf(t, " · count %lld · first seen ", c->count);
	rc = rc ? rc : add_slack_escaped(t, c->first_seen);
	rc = rc ? rc : strbuf_add(t, " · rule id ", strlen(" · rule id "));
	rc = rc ? rc : add_slack_escaped(t, c->rule_id);
	if (!rc && *c->link) {
		rc = strbuf_add(t, "\n", 1);
		rc = rc ? rc : add_slack_link(t, c->link, "Open in minisiem");
	}
	return rc;
}

/* {"text": t} */
static int slack_body(struct strbuf *t, struct strbuf *out)
{
	return add_json(out, json_pack("{s:s}", "text", t->p ? t->p : ""));
}

int notify_format_slack(const json_t *alert, struct strbuf *out)
{
	struct notify_content *c = malloc(sizeof(*c));
	struct strbuf t;
	int rc;
	if (!c)
		return -ENOMEM;
	notify_content_build(alert, c);
	strbuf_init(&t, 64 * 1024);
	rc = slack_text(c, &t);
	rc = rc ? rc : slack_body(&t, out);
	strbuf_release(&t);
	free(c);
	return rc;
}

/* ---- digests and rate-limit notices ---- */

int notify_format_list_webhook(const struct notify_channel_config *ch, enum notify_list_kind kind,
			       const struct notify_list *l, struct strbuf *out)
{
	char head[400], d[32];
	json_t *alerts = json_array(), *o;
	if (!alerts)
		return -ENOMEM;
	notify_list_headline(ch, kind, l, head, sizeof(head));
	for (size_t i = 0; i < l->n; i++) {
		const struct notify_item *it = &l->items[i];
		char level[16];
		lower(it->level, level, sizeof(level));
		json_array_append_new(
		    alerts, json_pack("{s:I, s:i, s:s, s:s, s:s, s:o}", "id", (json_int_t)it->id,
				      "severity", it->severity, "level", level, "time", it->time,
				      "summary", it->summary, "link", string_or_null(it->link)));
	}
	if (kind == NOTIFY_DIGEST) {
		notify_duration_text(ch->digest_ms, d, sizeof(d));
		o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:s, s:i}", "source", "minisiem",
			      "type", "digest", "channel", ch->name, "text", head, "total",
			      (json_int_t)l->total, "alerts", alerts, "more",
			      (json_int_t)(l->total - l->n), "interval", d, "max_severity",
			      ch->digest_max_severity);
	} else {
		notify_duration_text(ch->rate_window_ms, d, sizeof(d));
		o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:i, s:s}", "source", "minisiem",
			      "type", "rate_limited", "channel", ch->name, "text", head, "total",
			      (json_int_t)l->total, "alerts", alerts, "more",
			      (json_int_t)(l->total - l->n), "limit", ch->rate_limit, "window", d);
	}
	return add_json(out, o);
}

int notify_format_list_slack(const struct notify_channel_config *ch, enum notify_list_kind kind,
			     const struct notify_list *l, struct strbuf *out)
{
	char head[400];
	struct strbuf t;
	int rc;
	notify_list_headline(ch, kind, l, head, sizeof(head));
	strbuf_init(&t, 256 * 1024);
	rc = strbuf_add(&t, "*", 1);
	rc = rc ? rc : add_slack_escaped(&t, head);
	rc = rc ? rc : strbuf_add(&t, "*", 1);
	size_t shown = 0;
	/* 50 lines fit; escaped worst cases stop the list early, "and N more" says so */
	for (; shown < l->n && rc == 0 && t.n < 128 * 1024; shown++) {
		const struct notify_item *it = &l->items[shown];
		rc = strbuf_add(&t, "\n• ", strlen("\n• "));
		rc = rc ? rc : add_slack_escaped(&t, it->time);
		rc = rc ? rc : strbuf_addf(&t, "  %s  ", it->level);
		rc = rc ? rc : add_slack_escaped(&t, it->summary);
		if (!rc && *it->link) {
			rc = strbuf_add(&t, " ", 1);
			rc = rc ? rc : add_slack_link(&t, it->link, "open");
		}
	}
	if (!rc && l->total > shown)
		rc = strbuf_addf(&t, "\nand %zu more", l->total - shown);
	rc = rc ? rc : slack_body(&t, out);
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
