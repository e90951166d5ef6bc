/* sender_curl.c — sender.h over libcurl: one easy handle kept for the process (keep-alive),
 * TLS verified unless --insecure, optional gzip, Retry-After read from the answer. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "agent/gz.h"
#include "agent/sender.h"
#include "core/log.h"
#include "core/strbuf.h"

#define REPLY_MAX ((size_t)1 << 20)

struct sender {
	CURL *h;
	struct curl_slist *hdr;
	char *url;
	bool gzip;
	struct strbuf resp;
	int64_t retry_after;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sender *s = ctx;
	size_t n = size * nmemb;
	if (strbuf_add(&s->resp, p, n) == -E2BIG)
		return n; /* the rest is not needed */
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sender *s = ctx;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1)) {
		const char *v = p + sizeof(name) - 1;
		while (v < p + n && (*v == ' ' || *v == '\t'))
			v++;
		int64_t x = 0;
		while (v < p + n && isdigit((unsigned char)*v) && x < 86400)
			x = x * 10 + (*v++ - '0');
		s->retry_after = x; /* an HTTP date is ignored: the backoff applies */
	}
	return n;
}

int sender_open(struct sender **out, const struct sender_config *cfg)
{
	static bool inited;
	struct sender *s = calloc(1, sizeof(*s));
	char hdr[1200];
	int rc = -ENOMEM;
	*out = NULL;
	if (!s)
		return -ENOMEM;
	if (!inited && curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		goto fail;
	inited = true;
	size_t n = strlen(cfg->server);
	while (n && cfg->server[n - 1] == '/')
		n--;
	bool has_path = n >= 7 && !strncmp(cfg->server + n - 7, "/ingest", 7);
	if (!(s->url = malloc(n + 8)))
		goto fail;
	snprintf(s->url, n + 8, "%.*s%s", (int)n, cfg->server, has_path ? "" : "/ingest");
	strbuf_init(&s->resp, REPLY_MAX);
	s->gzip = cfg->gzip;
	if (!(s->h = curl_easy_init()))
		goto fail;
	snprintf(hdr, sizeof(hdr), "X-API-Key: %s", cfg->api_key);
	struct curl_slist *l = curl_slist_append(NULL, hdr);
	if (l)
		l = curl_slist_append(l, "Content-Type: application/x-ndjson");
	if (l)
		l = curl_slist_append(l, "Expect:");
	if (l && s->gzip)
		l = curl_slist_append(l, "Content-Encoding: gzip");
	if (!l)
		goto fail;
	s->hdr = l;
	CURL *h = s->h;
	curl_easy_setopt(h, CURLOPT_URL, s->url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)cfg->timeout_s);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* The API key goes in every request: in clear text only when asked for. */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, cfg->allow_http ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "minisiem-agent/" SIEM_VERSION);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
	if (cfg->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	*out = s;
	return 0;
fail:
	sender_close(s);
	return rc;
}

void sender_close(struct sender *s)
{
	if (!s)
		return;
	if (s->h)
		curl_easy_cleanup(s->h);
	curl_slist_free_all(s->hdr);
	strbuf_release(&s->resp);
	free(s->url);
	free(s);
}

int sender_post(struct sender *s, const char *body, size_t n, struct sender_reply *r)
{
	char *gz = NULL;
	size_t gz_n = 0;
	int rc = 0;
	memset(r, 0, sizeof(*r));
	if (s->gzip && (rc = gz_compress(body, n, &gz, &gz_n)) < 0) {
		snprintf(r->err, sizeof(r->err), "gzip: %s", strerror(-rc));
		return rc;
	}
	strbuf_release(&s->resp);
	strbuf_init(&s->resp, REPLY_MAX);
	s->retry_after = 0;
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, gz ? gz : body);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(gz ? gz_n : n));
	CURLcode c = curl_easy_perform(s->h);
	free(gz);
	if (c != CURLE_OK) {
		snprintf(r->err, sizeof(r->err), "%s",
			 s->errbuf[0] ? s->errbuf : curl_easy_strerror(c));
		return -EIO;
	}
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &r->status);
	r->retry_after = s->retry_after;
	if (strbuf_add(&s->resp, "", 0) == 0 && s->resp.p) {
		r->body = strbuf_detach(&s->resp, &r->body_n);
	} else {
		r->body = calloc(1, 1);
		r->body_n = 0;
	}
	return 0;
}

void sender_reply_free(struct sender_reply *r)
{
	free(r->body);
	r->body = NULL;
}
