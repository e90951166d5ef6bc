/* sender.h — POST a batch to the hub's /ingest with the agent's API key: libcurl on POSIX
 * (sender_curl.c), WinHTTP on Windows (sender_win.c). */
#ifndef SIEM_AGENT_SENDER_H
#define SIEM_AGENT_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sender;

struct sender_config {
	const char *server; /* "https://hub:8080" (with or without /ingest) */
	const char *api_key;
	const char *ca_file; /* PEM bundle to verify the hub with, NULL: the system's */
	bool insecure;	     /* no certificate verification (explicit) */
	bool allow_http;     /* http:// allowed (explicit: --insecure-http) */
	bool gzip;
	int64_t timeout_s;
};

struct sender_reply {
	long status;	     /* HTTP status, 0 when no answer came */
	int64_t retry_after; /* seconds from Retry-After, 0 when absent */
	char *body;	     /* the answer (NUL-terminated, capped), caller frees */
	size_t body_n;
	char err[256]; /* why there was no answer */
};

int sender_open(struct sender **out, const struct sender_config *cfg);
void sender_close(struct sender *s);
/* Send an NDJSON body. 0 when the hub answered (r->status), negative when it could not be
 * reached or the exchange failed (r->err). */
int sender_post(struct sender *s, const char *body, size_t n, struct sender_reply *r);
void sender_reply_free(struct sender_reply *r);

#endif
