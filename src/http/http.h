/* http.h — the hub's HTTP server around libmicrohttpd: a route table, bounded request
 * bodies, JSON replies with the right status, and suspend/resume so a handler can answer
 * from another thread (ingest answers after the writer's commit). */
#ifndef SIEM_HTTP_H
#define SIEM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sys/types.h>

struct http_server;
struct http_req;

/* What a handler returns. */
enum http_result {
	HTTP_DONE,	/* a reply was queued */
	HTTP_SUSPENDED, /* http_resume() will be called later; the handler runs again then */
};

enum http_auth {
	AUTH_NONE,   /* public */
	AUTH_APIKEY, /* agents: X-API-Key / api_key / Authorization: Bearer <key> */
	AUTH_JWT,    /* analysts: Authorization: Bearer <jwt> */
};

typedef enum http_result (*http_handler)(struct http_req *r);

struct http_route {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* exact path, or a prefix ending in '/' that takes one segment */
	enum http_auth auth;
	http_handler fn;
	bool body;	   /* the handler reads a body (POST/PUT): it is buffered first */
	const char *types; /* accepted media types, comma-separated ("*none*": a request
			    * without Content-Type is fine); NULL accepts any. Others get 415
			    * before the body is read. */
	bool admin;	   /* AUTH_JWT routes only the admin role may use (others: 403) */
	size_t max_body;   /* bytes, after gunzip too: 0 for HTTP_BODY_CONTROL, HTTP_BODY_SERVER
			    * for the server's max_body (ingest) */
	/* For GET /openapi.json (api/openapi.c): what the route does in one line, its query
	 * parameters ("name:type,name:type", type one of string, integer, number, boolean;
	 * NULL for none) and its answers besides the ones the table implies (401 for a login,
	 * 403 for admin, 413/415 for a body, 400 for parameters): "200,404". */
	const char *summary;
	const char *query;
	const char *codes;
};

/* The route's path as OpenAPI and /metrics show it: "/events/" -> "/events/{id}",
 * "/alerts/x/ack" with a '*' segment -> "/alerts/{id}/ack". */
void http_route_pattern(const struct http_route *rt, char *buf, size_t n);

/* The route table's documentation columns: HTTP_DOC("List events", "limit:integer", "200") */
#define HTTP_DOC(s, q, c) .summary = (s), .query = (q), .codes = (c)

#define HTTP_BODY_CONTROL ((size_t)64 * 1024) /* JSON control routes: small bodies only */
#define HTTP_BODY_SERVER ((size_t)-1)

/* Authentication callbacks, supplied by the api layer. Return 0 when allowed; on refusal
 * fill a reason. */
struct http_auth_ops {
	int (*check_key)(void *ctx, const char *key, struct http_req *r);
	int (*check_jwt)(void *ctx, const char *token, struct http_req *r);
	void *ctx;
};

struct http_config {
	const char *listen;   /* "127.0.0.1:8080", "[::1]:8080", port 0 picks a free one */
	int listen_fd;	      /* a socket from http_bind (>= 0), or -1 to bind listen here */
	const char *tls_cert; /* PEM files: HTTPS when both are set */
	const char *tls_key;
	const char *root_path; /* serve everything under this prefix ("/siem"), NULL for "/" */
	size_t max_body;       /* bytes, after decompression too (routes with HTTP_BODY_SERVER) */
	size_t body_budget;    /* bytes of request bodies held at once, all requests together;
				* past it a request is answered 503 + Retry-After */
	unsigned threads;      /* listener threads */
	unsigned max_conns;
	unsigned max_conns_per_ip;   /* 0: no per-address limit */
	unsigned conn_timeout;	     /* seconds of inactivity before a connection is closed */
	unsigned header_timeout;     /* seconds for a request's headers to arrive (also an idle
				      * keep-alive connection's wait for its next request) */
	unsigned request_timeout;    /* seconds for a request's body to arrive */
	const char *cors_origins;    /* comma-separated, NULL for none */
	const char *trusted_proxies; /* "CIDR[,CIDR...]": peers whose X-Forwarded-For names the
				      * client (http_client_addr); NULL or "" for none */
};

/* Bind and listen on "HOST:PORT" (so that a port below 1024 can be bound before privileges
 * are dropped). */
int http_bind(const char *listen, int *fd);
/* Replace the CORS origins (SIGHUP); NULL or "" for none. */
int http_set_cors(struct http_server *srv, const char *origins);
int http_start(struct http_server **out, const struct http_config *cfg,
	       const struct http_route *routes, size_t nroutes, const struct http_auth_ops *auth);
/* The bound port (useful with port 0). */
unsigned http_port(struct http_server *srv);
/* Stop accepting new connections; in-flight requests continue. */
void http_quiesce(struct http_server *srv);
/* Requests received whole and not yet answered (a body still uploading does not count). */
unsigned http_inflight(struct http_server *srv);
/* Requests begun whose body is still arriving. */
unsigned http_uploading(struct http_server *srv);
void http_stop(struct http_server *srv);

/* ---- request accessors, valid inside a handler ---- */
const char *http_method(struct http_req *r);
const char *http_path(struct http_req *r);
/* The path segment after the route's prefix ("/events/{id}" -> "{id}"). */
const char *http_path_arg(struct http_req *r);
const char *http_header(struct http_req *r, const char *name);
/* First value of a query parameter, or NULL. */
const char *http_query(struct http_req *r, const char *name);
/* Every value of a query parameter (repetitions), calling fn for each; stops on non-zero. */
int http_query_each(struct http_req *r, const char *name, int (*fn)(void *arg, const char *value),
		    void *arg);
/* The name of every query parameter (once per occurrence), calling fn for each; stops on
 * non-zero and returns it. */
int http_query_names(struct http_req *r, int (*fn)(void *arg, const char *name), void *arg);
/* Decoded body (gunzipped when Content-Encoding: gzip). */
const char *http_body(struct http_req *r, size_t *len);
/* The prefix the client sees this server under ("/siem", "" at the root): X-Forwarded-Prefix
 * from a trusted proxy, else the configured root path; NULL when neither is known (no root
 * path, no header), so that a page can keep relative URLs. */
const char *http_prefix(struct http_req *r);
/* The client's address, canonical ("192.0.2.1", "2001:db8::1"): the peer's, or behind a
 * trusted proxy the rightmost X-Forwarded-For address that is not a trusted proxy. */
const char *http_client_addr(struct http_req *r);
/* The token of "Authorization: Bearer <token>", or NULL. */
const char *http_bearer(struct http_req *r);
/* Per-request slot for the handler's own state across suspend/resume; freed with free_fn. */
void *http_state(struct http_req *r);
void http_set_state(struct http_req *r, void *state, void (*free_fn)(void *));
/* Identity set by the auth callbacks. */
void http_set_identity(struct http_req *r, const char *who, const char *role, int64_t key_id);
const char *http_identity(struct http_req *r);
const char *http_role(struct http_req *r);
int64_t http_key_id(struct http_req *r);

/* ---- replies ---- */
/* Reply with a JSON value (reference stolen). */
enum http_result http_reply_json(struct http_req *r, unsigned status, json_t *body);
/* {"error": error, "detail": detail} (detail may be NULL). */
enum http_result http_reply_error(struct http_req *r, unsigned status, const char *error,
				  const char *detail);
/* Reply with text of a given type; takes ownership of malloc'd text. */
enum http_result http_reply_text(struct http_req *r, unsigned status, const char *type, char *text,
				 size_t n);
void http_add_header(struct http_req *r, const char *name, const char *value);

/* Suspend: the handler returns HTTP_SUSPENDED; any thread later calls http_resume(). */
void http_suspend(struct http_req *r);
void http_resume(struct http_req *r);

/* ---- streamed replies (stream.c): Server-Sent Events and the like ---- */

struct http_stream;
/* Write the next bytes of a stream into buf (at most max): > 0 bytes written; 0 nothing
 * now (the connection is parked until http_stream_wake); -1 the response is complete. Runs
 * on an HTTP thread and must not block. */
typedef ssize_t (*http_stream_fill)(void *ctx, char *buf, size_t max);
/* A stream to answer with; wakes before http_reply_stream are remembered. */
struct http_stream *http_stream_new(void);
/* Free a stream never given to http_reply_stream (NULL is fine). */
void http_stream_free(struct http_stream *st);
/* Answer 200 with a body produced by fill as data arrives (chunked), e.g. text/event-stream.
 * Owns st and ctx from here: ctx_free(ctx) runs once the connection is done (also on
 * failure), after which st is freed; http_stream_wake(st) is allowed until ctx_free returns. */
enum http_result http_reply_stream(struct http_req *r, struct http_stream *st, const char *type,
				   http_stream_fill fill, void *ctx, void (*ctx_free)(void *));
/* Any thread: data may be ready, run fill again. */
void http_stream_wake(struct http_stream *st);
/* Shutdown: end every open stream (call after http_quiesce, before waiting for the requests
 * in flight: a stream never ends by itself). */
void http_streams_end(void);
/* For stream.c: queue a response built elsewhere with the usual headers, CORS and the
 * handler's extra headers, and mark the request answered; and the request's connection. */
struct MHD_Response;
struct MHD_Connection;
enum http_result http_queue_response(struct http_req *r, unsigned status,
				     struct MHD_Response *resp);
struct MHD_Connection *http_connection(struct http_req *r);

#endif
