/* static.c — serves the embedded dashboard: the page for / and /ui/{page}, hashed assets
 * under /assets/ with a year of caching, the gzip copy made at build time when the client
 * takes it, 304 on a matching If-None-Match, and the security headers of every page. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/static.h"

static const struct web_asset *assets;
static size_t nassets;

/* No inline script or style, no framing, nothing loaded from elsewhere. */
#define CSP                                                                              \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;" \
	" connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'self';"    \
	" form-action 'self'; frame-ancestors 'none'"

void http_static_init(const struct web_asset *a, size_t n)
{
	assets = a;
	nassets = n;
}

static const struct web_asset *find(const char *name)
{
	for (size_t i = 0; i < nassets; i++)
		if (strcmp(assets[i].name, name) == 0)
			return &assets[i];
	return NULL;
}

/* Does Accept-Encoding allow gzip? "gzip" or "*" listed without q=0. */
static bool takes_gzip(const char *ae)
{
	for (const char *p = ae; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ",;");
		size_t m = n;
		while (m && p[m - 1] == ' ')
			m--;
		bool name = (m == 4 && strncasecmp(p, "gzip", 4) == 0) || (m == 1 && *p == '*');
		const char *e = p + strcspn(p, ",");
		if (name) {
			const char *q = memchr(p, ';', (size_t)(e - p));
			if (!q)
				return true;
			q++;
			while (*q == ' ')
				q++;
			/* q=0, q=0.0, q=0.00... refuse it. */
			if (strncasecmp(q, "q=0", 3) != 0)
				return true;
			for (q += 3; q < e && (*q == '.' || *q == '0' || *q == ' '); q++)
				;
			if (q < e)
				return true;
		}
		p = *e ? e + 1 : e;
	}
	return false;
}

/* If-None-Match holds the validator (a list, or "*"). */
static bool not_modified(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	if (!inm)
		return false;
	for (const char *p = inm; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		size_t m = strcspn(p, ",");
		while (m && p[m - 1] == ' ')
			m--;
		if ((m == 1 && *p == '*') || (m == n && strncmp(p, etag, n) == 0))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static void page_headers(struct http_req *r)
{
	http_add_header(r, "Content-Security-Policy", CSP);
	http_add_header(r, "X-Frame-Options", "DENY");
	http_add_header(r, "Referrer-Policy", "no-referrer");
}

/* A page with <base href="PREFIX/">: its validator is the file's with the prefix's hash. */
static enum http_result serve_page(struct http_req *r, const struct web_asset *a,
				   const char *prefix)
{
	static const char tag[] = "<base href=\"";
	const char *base = memmem(a->data, a->len, tag, sizeof(tag) - 1);
	const char *start = base ? base + sizeof(tag) - 1 : NULL;
	const char *end =
	    start ? memchr(start, '"', a->len - (size_t)(start - (const char *)a->data)) : NULL;
	if (!end)
		return http_reply_error(r, 500, "page without a <base href>", a->name);
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = prefix; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	char etag[96];
	size_t el = strlen(a->etag);
	snprintf(etag, sizeof(etag), "%.*s-%08x\"", (int)(el > 1 ? el - 1 : 0), a->etag, h);
	page_headers(r);
	http_add_header(r, "Cache-Control", "no-cache");
	http_add_header(r, "ETag", etag);
	http_add_header(r, "Vary", "X-Forwarded-Prefix");
	if (not_modified(http_header(r, "If-None-Match"), etag))
		return http_reply_text(r, 304, a->type, NULL, 0);
	size_t head = (size_t)(start - (const char *)a->data), pl = strlen(prefix);
	size_t tail = a->len - (size_t)(end - (const char *)a->data);
	char *page = malloc(head + pl + 1 + tail);
	if (!page)
		return http_reply_error(r, 500, "out of memory", NULL);
	memcpy(page, a->data, head);
	memcpy(page + head, prefix, pl);
	page[head + pl] = '/';
	memcpy(page + head + pl + 1, end, tail);
	return http_reply_text(r, 200, a->type, page, head + pl + 1 + tail);
}

enum http_result http_static_serve(struct http_req *r)
{
	const char *path = http_path(r), *name;
	if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0)
		name = "index.html";
	else if (strncmp(path, "/ui/", 4) == 0)
		name = "ui.html"; /* every page of the app; the script routes it */
	else
		name = path + 1;
	const struct web_asset *a = find(name);
	if (!a)
		return http_reply_error(r, 404, "not found",
					nassets ? path
						: "the dashboard is not built into this binary");

	/* A page's <base href> is relative ("./", "../") unless the prefix the browser sees is
	 * known: then it is absolute, right under any URL the page is reached by. */
	const char *prefix = http_prefix(r);
	if (prefix && (strcmp(name, "index.html") == 0 || strcmp(name, "ui.html") == 0))
		return serve_page(r, a, prefix);

	page_headers(r);
	http_add_header(r, "Cache-Control",
			a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
	http_add_header(r, "ETag", a->etag);
	if (a->gz)
		http_add_header(r, "Vary", "Accept-Encoding");
	if (not_modified(http_header(r, "If-None-Match"), a->etag))
		return http_reply_text(r, 304, a->type, NULL, 0);

	const unsigned char *body = a->data;
	size_t len = a->len;
	if (a->gz && takes_gzip(http_header(r, "Accept-Encoding"))) {
		http_add_header(r, "Content-Encoding", "gzip");
		body = a->gz;
		len = a->gz_len;
	}
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return http_reply_error(r, 500, "out of memory", NULL);
	memcpy(copy, body, len);
	return http_reply_text(r, 200, a->type, copy, len);
}
