/* static.h — the web dashboard's files, embedded in the binary (build/gen/web_assets.c is
 * generated from web/dist by web/embed.py) and served with cache validators, pre-compressed
 * gzip and a strict Content-Security-Policy. */
#ifndef SIEM_HTTP_STATIC_H
#define SIEM_HTTP_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

struct web_asset {
	const char *name; /* "index.html", "ui.html", "assets/app.3f2a9c1e.js" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
	const unsigned char *gz; /* gzip of data, NULL when it would not be smaller */
	size_t gz_len;
	const char *etag; /* quoted strong validator */
	bool immutable;	  /* content-hashed name: cached for a year */
};

/* The generated table (build/gen/web_assets.c, linked into the hub only). */
extern const struct web_asset web_assets[];
extern const size_t web_nassets;

/* The embedded files (once, before http_start): http_static_init(web_assets, web_nassets).
 * Without them the dashboard paths answer 404. */
void http_static_init(const struct web_asset *assets, size_t n);

/* Handler for GET /, /ui, /ui/{page} (the single-page app: index.html and ui.html, which
 * differ only in their <base href>) and /assets/{file}. */
enum http_result http_static_serve(struct http_req *r);

#endif
