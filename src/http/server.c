/* server.c — libmicrohttpd glue: routing, auth, bounded and gunzipped bodies, JSON replies,
 * CORS, and suspend/resume for answers given from other threads. */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <zlib.h>

#include "core/err.h"
#include "core/event.h"
#include "core/file.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/clock.h"
#include "http/http.h"
#include "http/http_int.h"
#include "http/watchdog.h"

#define SUB "http"
/* Each connection's libmicrohttpd memory: its read buffer, the request's headers, the reply's
 * headers. libmicrohttpd zeroes all of it between two requests of a keep-alive connection,
 * so its size is paid on every request: 32 KiB (libmicrohttpd's default) takes header blocks
 * of about 30 KiB, a 16 KiB token among them (a larger block gets 431). */
#define CONN_MEMORY ((size_t)32 * 1024)

static struct metric m_budget_refused = METRIC_COUNTER_INIT(
    "minisiem_http_body_budget_refused_total", NULL,
    "Requests answered 503 because request bodies in memory were over the budget.");
static struct metric m_body_bytes = METRIC_GAUGE_INIT(
    "minisiem_http_body_bytes", NULL, "Bytes of request bodies held in memory now.");

/* Requests answered per route and status code, and their latency to the reply's headers. */
static const unsigned stat_codes[] = {200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404,
				      405, 408, 409, 410, 413, 415, 422, 429, 500, 501, 503};
#define NCODES (sizeof(stat_codes) / sizeof(stat_codes[0]))
static const char *const stat_methods[] = {"GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"};
#define NMETHODS (sizeof(stat_methods) / sizeof(stat_methods[0]))
struct route_stat {
	_Atomic int64_t codes[NCODES + 1]; /* the last: any other code */
	struct metric_histogram latency;
};

/* ---- accessors ---- */

const char *http_method(struct http_req *r)
{
	return r->method;
}
const char *http_path(struct http_req *r)
{
	return r->url;
}
const char *http_path_arg(struct http_req *r)
{
	return r->path_arg;
}
void *http_state(struct http_req *r)
{
	return r->state;
}
const char *http_identity(struct http_req *r)
{
	return r->who;
}
const char *http_role(struct http_req *r)
{
	return r->role;
}
int64_t http_key_id(struct http_req *r)
{
	return r->key_id;
}
const char *http_client_addr(struct http_req *r)
{
	return r->addr;
}
const char *http_prefix(struct http_req *r)
{
	return r->prefix;
}

void http_set_state(struct http_req *r, void *state, void (*free_fn)(void *))
{
	r->state = state;
	r->state_free = free_fn;
}

void http_set_identity(struct http_req *r, const char *who, const char *role, int64_t key_id)
{
	snprintf(r->who, sizeof(r->who), "%s", who ? who : "");
	snprintf(r->role, sizeof(r->role), "%s", role ? role : "");
	r->key_id = key_id;
}

const char *http_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct each_ctx {
	const char *name;
	int (*fn)(void *, const char *);
	void *arg;
	int rc;
};

static enum MHD_Result each_cb(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	(void)kind;
	struct each_ctx *c = cls;
	if (key && strcmp(key, c->name) == 0 && value) {
		c->rc = c->fn(c->arg, value);
		if (c->rc)
			return MHD_NO;
	}
	return MHD_YES;
}

int http_query_each(struct http_req *r, const char *name, int (*fn)(void *, const char *),
		    void *arg)
{
	struct each_ctx c = {name, fn, arg, 0};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_cb, &c);
	return c.rc;
}

struct names_ctx {
	int (*fn)(void *, const char *);
	void *arg;
	int rc;
};

static enum MHD_Result names_cb(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	(void)kind;
	(void)value;
	struct names_ctx *c = cls;
	if (key && (c->rc = c->fn(c->arg, key)))
		return MHD_NO;
	return MHD_YES;
}

int http_query_names(struct http_req *r, int (*fn)(void *, const char *), void *arg)
{
	struct names_ctx c = {fn, arg, 0};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, names_cb, &c);
	return c.rc;
}

const char *http_body(struct http_req *r, size_t *len)
{
	if (r->decoded) {
		*len = r->decoded_len;
		return r->decoded;
	}
	*len = r->len;
	return r->body ? r->body : "";
}

/* ---- replies ---- */

void http_add_header(struct http_req *r, const char *name, const char *value)
{
	if (r->nextra >= MAX_EXTRA_HEADERS)
		return;
	char *v = strdup(value);
	if (!v)
		return;
	r->extra_name[r->nextra] = name;
	r->extra_value[r->nextra++] = v;
}

static void add_cors(struct http_req *r, struct MHD_Response *resp)
{
	const char *origin = http_header(r, "Origin");
	if (!origin)
		return;
	size_t n = strlen(origin);
	pthread_mutex_lock(&r->srv->cors_mu);
	for (const char *p = r->srv->cors; p && *p;) {
		const char *e = strchr(p, ',');
		size_t m = e ? (size_t)(e - p) : strlen(p);
		while (m && *p == ' ') {
			p++;
			m--;
		}
		/* Exact origins only: never "*", which must not go with credentials. */
		if (m == n && strncmp(p, origin, n) == 0) {
			MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
			MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
			MHD_add_response_header(resp, "Vary", "Origin");
			break;
		}
		p += m + (e ? 1 : 0);
	}
	pthread_mutex_unlock(&r->srv->cors_mu);
}

int http_set_cors(struct http_server *srv, const char *origins)
{
	char *c = origins && *origins ? strdup(origins) : NULL;
	if (origins && *origins && !c)
		return -ENOMEM;
	pthread_mutex_lock(&srv->cors_mu);
	char *old = srv->cors;
	srv->cors = c;
	pthread_mutex_unlock(&srv->cors_mu);
	free(old);
	return 0;
}

static enum http_result send_typed(struct http_req *r, unsigned status, const char *type,
				   char *text, size_t n)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return HTTP_DONE;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	http_queue_response(r, status, resp);
	MHD_destroy_response(resp);
	return HTTP_DONE;
}

static enum http_result send_text(struct http_req *r, unsigned status, char *text, size_t n)
{
	return send_typed(r, status, "application/json", text, n);
}

enum http_result http_reply_text(struct http_req *r, unsigned status, const char *type, char *text,
				 size_t n)
{
	return send_typed(r, status, type, text ? text : strdup(""), text ? n : 0);
}

enum http_result http_reply_json(struct http_req *r, unsigned status, json_t *body)
{
	/* Into a malloc'd buffer (MHD frees it), with a newline that makes curl output
	 * readable. */
	size_t n = body ? json_dumpb(body, NULL, 0, JSON_COMPACT) : 0;
	char *text = n ? malloc(n + 1) : NULL;
	if (text && json_dumpb(body, text, n, JSON_COMPACT) != n) {
		free(text);
		text = NULL;
	}
	json_decref(body);
	if (!text) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";
		return send_text(r, 500, strdup(oom), sizeof(oom) - 1);
	}
	text[n++] = '\n';
	return send_text(r, status, text, n);
}

enum http_result http_reply_error(struct http_req *r, unsigned status, const char *error,
				  const char *detail)
{
	json_t *o = json_object();
	json_object_set_new(o, "error", json_string(error));
	json_object_set_new(o, "detail", detail ? json_string(detail) : json_null());
	return http_reply_json(r, status, o);
}

struct MHD_Connection *http_connection(struct http_req *r)
{
	return r->conn;
}

static void count_reply(struct http_req *r, unsigned status)
{
	struct http_server *srv = r->srv;
	size_t slot = srv->nroutes + NMETHODS; /* an unknown route with an unusual method */
	if (r->route) {
		slot = (size_t)(r->route - srv->routes);
	} else {
		for (size_t i = 0; i < NMETHODS; i++)
			if (strcmp(r->method, stat_methods[i]) == 0)
				slot = srv->nroutes + i;
	}
	struct route_stat *st = &srv->stats[slot];
	size_t c = NCODES;
	for (size_t i = 0; i < NCODES; i++)
		if (stat_codes[i] == status)
			c = i;
	atomic_fetch_add_explicit(&st->codes[c], 1, memory_order_relaxed);
	metric_histogram_observe(&st->latency, clock_mono_us() - r->start_us);
}

static int render_stats(struct strbuf *out, void *arg)
{
	struct http_server *srv = arg;
	size_t nslots = srv->nroutes + NMETHODS + 1;
	char route[128], labels[256];
	int rc = strbuf_addf(out, "# HELP minisiem_http_requests_total HTTP requests answered, by"
				  " route pattern (\"other\": no route), method and status code.\n"
				  "# TYPE minisiem_http_requests_total counter\n");
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		if (pass == 1)
			rc = strbuf_addf(
			    out,
			    "# HELP minisiem_http_request_duration_seconds Time from a request's"
			    " headers to its reply's, by route pattern and method.\n"
			    "# TYPE minisiem_http_request_duration_seconds histogram\n");
		for (size_t i = 0; i < nslots && rc == 0; i++) {
			struct route_stat *st = &srv->stats[i];
			const char *method = "other";
			if (i < srv->nroutes) {
				http_route_pattern(&srv->routes[i], route, sizeof(route));
				method = srv->routes[i].method;
			} else {
				snprintf(route, sizeof(route), "other");
				if (i - srv->nroutes < NMETHODS)
					method = stat_methods[i - srv->nroutes];
			}
			snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\"", route,
				 method);
			if (pass == 1) {
				if (atomic_load_explicit(&st->latency.count, memory_order_relaxed))
					rc = metric_histogram_render(
					    out, "minisiem_http_request_duration_seconds", labels,
					    &st->latency);
				continue;
			}
			for (size_t c = 0; c <= NCODES && rc == 0; c++) {
				int64_t v =
				    atomic_load_explicit(&st->codes[c], memory_order_relaxed);
				if (!v)
					continue;
				char code[8];
				if (c < NCODES)
					snprintf(code, sizeof(code), "%u", stat_codes[c]);
				else
					snprintf(code, sizeof(code), "other");
				rc = strbuf_addf(
				    out,
				    "minisiem_http_requests_total{%s,code=\"%s\"} %" PRId64 "\n",
				    labels, code, v);
			}
		}
	}
	return rc;
}

void http_route_pattern(const struct http_route *rt, char *buf, size_t n)
{
	size_t o = 0;
	const char *p = rt->path;
	for (; *p && o + 1 < n; p++) {
		const char *sub = NULL;
		if (p[0] == '*' && p > rt->path && p[-1] == '/' && (p[1] == '/' || !p[1]))
			sub = "{id}";
		if (!sub) {
			buf[o++] = *p;
			continue;
		}
		size_t m = strlen(sub);
		if (o + m >= n)
			break;
		memcpy(buf + o, sub, m);
		o += m;
	}
	size_t len = strlen(rt->path);
	if (len > 1 && rt->path[len - 1] == '/' && o + 4 < n) {
		memcpy(buf + o, "{id}", 4);
		o += 4;
	}
	buf[o] = '\0';
}

enum http_result http_queue_response(struct http_req *r, unsigned status, struct MHD_Response *resp)
{
	/* A handler's own Cache-Control (the dashboard's files) replaces the default. */
	bool own_cache = false;
	for (size_t i = 0; i < r->nextra; i++)
		own_cache |= strcasecmp(r->extra_name[i], "Cache-Control") == 0;
	if (!own_cache)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	for (size_t i = 0; i < r->nextra; i++)
		MHD_add_response_header(resp, r->extra_name[i], r->extra_value[i]);
	add_cors(r, resp);
	if (MHD_queue_response(r->conn, status, resp) == MHD_YES) {
		r->replied = true;
		count_reply(r, status);
	} else {
		log_warn(SUB, "cannot queue a %u reply for %s %s", status, r->method, r->url);
	}
	return HTTP_DONE;
}

void http_suspend(struct http_req *r)
{
	r->suspended = true;
	MHD_suspend_connection(r->conn);
}

void http_resume(struct http_req *r)
{
	MHD_resume_connection(r->conn);
}

/* ---- request lifecycle ---- */

/* A route segment "*" matches one non-empty URL segment; the path arg is the first such
 * segment (it runs to the next '/'). */
static bool match_wild(const char *pat, const char *url, const char **arg)
{
	char prev = '\0';
	*arg = NULL;
	while (*pat && *url) {
		if (pat[0] == '*' && prev == '/' && (pat[1] == '/' || !pat[1])) {
			size_t n = strcspn(url, "/");
			if (n == 0)
				return false;
			if (!*arg)
				*arg = url;
			url += n;
			prev = *pat++;
			continue;
		}
		if (*pat != *url++)
			return false;
		prev = *pat++;
	}
	return !*pat && !*url;
}

static const struct http_route *find_route(struct http_server *srv, const char *url,
					   const char *method, const char **arg, bool *path_known)
{
	*path_known = false;
	for (size_t i = 0; i < srv->nroutes; i++) {
		const struct http_route *rt = &srv->routes[i];
		size_t n = strlen(rt->path);
		bool match = false;
		if (strchr(rt->path, '*')) {
			match = match_wild(rt->path, url, arg);
		} else if (n > 1 && rt->path[n - 1] == '/') {
			if (strncmp(url, rt->path, n) == 0 && url[n] && !strchr(url + n, '/')) {
				match = true;
				*arg = url + n;
			}
		} else if (strcmp(url, rt->path) == 0) {
			match = true;
			*arg = NULL;
		}
		if (!match)
			continue;
		*path_known = true;
		if (strcmp(rt->method, method) == 0)
			return rt;
	}
	return NULL;
}

static bool type_allowed(const char *types, const char *ct)
{
	if (!types)
		return true;
	if (!ct || !*ct)
		return strstr(types, "*none*") != NULL;
	size_t n = strcspn(ct, ";");
	while (n > 0 && isspace((unsigned char)ct[n - 1]))
		n--;
	for (const char *p = types; *p;) {
		const char *e = strchr(p, ',');
		size_t m = e ? (size_t)(e - p) : strlen(p);
		if (m == n && strncasecmp(p, ct, n) == 0)
			return true;
		p += m + (e ? 1 : 0);
	}
	return false;
}

/* Take n more bytes of the body budget for r; false when that would pass the budget. */
static bool reserve(struct http_req *r, size_t n)
{
	struct http_server *srv = r->srv;
	size_t before = atomic_fetch_add(&srv->body_bytes, n);
	if (before + n > srv->body_budget) {
		atomic_fetch_sub(&srv->body_bytes, n);
		return false;
	}
	r->reserved += n;
	metric_add(&m_body_bytes, (int64_t)n);
	return true;
}

static void release(struct http_req *r)
{
	if (!r->reserved)
		return;
	atomic_fetch_sub(&r->srv->body_bytes, r->reserved);
	metric_add(&m_body_bytes, -(int64_t)r->reserved);
	r->reserved = 0;
}

static int gunzip(struct http_req *r)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	size_t cap = r->len * 4 + 1024, max = r->limit;
	if (cap > max + 1)
		cap = max + 1;
	if (!reserve(r, cap + 1))
		return -EBUSY;
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	char *out = malloc(cap + 1);
	int rc = 0;
	if (!out) {
		inflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)r->body;
	z.avail_in = (uInt)r->len;
	size_t have = 0;
	for (;;) {
		if (have == cap) {
			if (cap > max) {
				rc = SIEM_ETOOBIG;
				break;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if (!reserve(r, ncap - cap)) {
				rc = -EBUSY;
				break;
			}
			char *n = realloc(out, ncap + 1);
			if (!n) {
				rc = -ENOMEM;
				break;
			}
			out = n;
			cap = ncap;
		}
		z.next_out = (Bytef *)out + have;
		z.avail_out = (uInt)(cap - have);
		int zr = inflate(&z, Z_NO_FLUSH);
		have = cap - z.avail_out;
		if (zr == Z_STREAM_END) {
			if (have > max)
				rc = SIEM_ETOOBIG;
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = SIEM_EPARSE;
			break;
		}
		if (zr == Z_BUF_ERROR && z.avail_in == 0) {
			rc = SIEM_EPARSE; /* truncated stream */
			break;
		}
	}
	inflateEnd(&z);
	if (rc < 0) {
		free(out);
		return rc;
	}
	out[have] = '\0';
	r->decoded = out;
	r->decoded_len = have;
	return 0;
}

static bool bearer(const char *auth, const char **tok)
{
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	*tok = auth + 7;
	while (**tok == ' ')
		(*tok)++;
	return **tok != '\0';
}

const char *http_bearer(struct http_req *r)
{
	const char *tok = NULL;
	return bearer(http_header(r, "Authorization"), &tok) ? tok : NULL;
}

/* A credential could not be checked because the store's database cannot be reached: the
 * client is not told it is wrong, only to come back (an agent keeps its spool). */
static bool unavailable(struct http_req *r)
{
	http_add_header(r, "Retry-After", "5");
	http_reply_error(r, 503, "store unavailable", "cannot check credentials now, retry later");
	return false;
}

/* Returns true when the request may go on; otherwise a 401, 403, 429 or 503 was queued. */
static bool authenticate(struct http_req *r)
{
	struct http_server *srv = r->srv;
	const char *tok = NULL;
	int rc = SIEM_EAUTH;
	if (r->route->auth == AUTH_APIKEY) {
		if (!(tok = http_header(r, "X-API-Key")) && !(tok = http_header(r, "api_key")) &&
		    !bearer(http_header(r, "Authorization"), &tok)) {
			http_reply_error(r, 401, "unauthorized", "an API key is required");
			return false;
		}
		rc = srv->auth.check_key(srv->auth.ctx, tok, r);
		if (rc == SIEM_EUNAVAIL)
			return unavailable(r);
		if (rc == SIEM_ELIMITED) { /* check_key added Retry-After */
			http_reply_error(r, 429, "too many requests",
					 "too many invalid API keys from this address");
			return false;
		}
		if (rc < 0) {
			http_reply_error(r, 401, "unauthorized", "invalid API key");
			return false;
		}
		return true;
	}
	if (!bearer(http_header(r, "Authorization"), &tok)) {
		http_add_header(r, "WWW-Authenticate", "Bearer");
		http_reply_error(r, 401, "unauthorized", "a bearer token is required");
		return false;
	}
	rc = srv->auth.check_jwt(srv->auth.ctx, tok, r);
	if (rc == SIEM_EUNAVAIL)
		return unavailable(r);
	if (rc < 0) {
		http_add_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		http_reply_error(r, 401, "unauthorized", "invalid or expired token");
		return false;
	}
	if (r->route->admin && strcmp(r->role, "admin") != 0) {
		http_reply_error(r, 403, "forbidden", "this needs the admin role");
		return false;
	}
	return true;
}

static enum http_result preflight(struct http_req *r)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return HTTP_DONE;
	add_cors(r, resp);
	if (MHD_get_response_header(resp, "Access-Control-Allow-Origin")) {
		MHD_add_response_header(resp, "Access-Control-Allow-Methods",
					"GET, POST, PUT, DELETE, OPTIONS");
		MHD_add_response_header(resp, "Access-Control-Allow-Headers",
					"Authorization, Content-Type, Content-Encoding, X-API-Key");
		MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
	}
	MHD_queue_response(r->conn, 204, resp);
	MHD_destroy_response(resp);
	r->replied = true;
	return HTTP_DONE;
}

static enum MHD_Result nul_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
			      const char *value, size_t value_size)
{
	(void)kind;
	char *name = cls;
	if ((key && strlen(key) != key_size) || (value && strlen(value) != value_size)) {
		snprintf(name, 64, "%s", key && *key ? key : "a parameter name");
		return MHD_NO;
	}
	return MHD_YES;
}

/* Query values are handed around as C strings: one with a NUL inside ("%00") would be cut
 * short and match something else, so such a request is refused whole. Fills name (64
 * bytes) with the parameter. */
static bool has_nul_argument(struct MHD_Connection *conn, char *name)
{
	name[0] = '\0';
	MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, nul_cb, name);
	return name[0] != '\0';
}

static enum http_result body_too_large(struct http_req *r)
{
	char detail[64];
	snprintf(detail, sizeof(detail), "at most %zu bytes here", r->limit);
	return http_reply_error(r, 413, "request body too large", detail);
}

/* First call for a request: route, authenticate, check type and announced size. Returns
 * HTTP_DONE when a reply was queued (the body, if any, is then not read). */
static enum http_result begin(struct http_req *r)
{
	struct http_server *srv = r->srv;
	bool known = false;
	if (strcmp(r->method, "OPTIONS") == 0)
		return preflight(r);
	char bad[64], detail[100];
	if (has_nul_argument(r->conn, bad)) {
		snprintf(detail, sizeof(detail), "%s: contains a NUL byte", bad);
		return http_reply_error(r, 400, "invalid query", detail);
	}
	http_set_prefix(r);
	/* Under a root path, a proxy may keep the prefix or strip it: both arrive here ("/prefix"
	 * alone is its "/"). */
	if (srv->root && strncmp(r->url, srv->root, srv->root_len) == 0 &&
	    (r->url[srv->root_len] == '/' || r->url[srv->root_len] == '\0'))
		r->url = r->url[srv->root_len] ? r->url + srv->root_len : "/";
	r->route = find_route(srv, r->url, r->method, &r->path_arg, &known);
	if (!r->route) {
		if (known)
			return http_reply_error(r, 405, "method not allowed", r->method);
		return http_reply_error(r, 404, "not found", r->url);
	}
	r->limit = r->route->max_body == HTTP_BODY_SERVER ? srv->max_body
		   : r->route->max_body			  ? r->route->max_body
							  : HTTP_BODY_CONTROL;
	if (r->route->auth != AUTH_NONE && !authenticate(r))
		return HTTP_DONE;
	if (!r->route->body)
		return HTTP_SUSPENDED;
	if (!type_allowed(r->route->types, http_header(r, "Content-Type")))
		return http_reply_error(r, 415, "unsupported media type", r->route->types);
	const char *enc = http_header(r, "Content-Encoding");
	if (enc && strcasecmp(enc, "gzip") != 0 && strcasecmp(enc, "identity") != 0)
		return http_reply_error(r, 415, "unsupported content encoding", enc);
	const char *cl = http_header(r, "Content-Length");
	if (cl) {
		char *end = NULL;
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);
		if (errno || end == cl || v > r->limit)
			return body_too_large(r);
		r->announced = (size_t)v + 1;
	}
	return HTTP_SUSPENDED;
}

/* A body chunk: kept while under the route's limit and the memory budget, else dropped as
 * it comes (MHD cannot answer before the body ends) up to a bound past which the
 * connection is simply closed. */
static enum MHD_Result take_body(struct http_req *r, const char *upload, size_t n)
{
	if (r->too_big || r->over_budget) {
		size_t bound = 16 * r->limit > 1024 * 1024 ? 16 * r->limit : 1024 * 1024;
		r->discarded += n;
		return r->discarded > bound ? MHD_NO : MHD_YES;
	}
	if (n > r->limit || r->len > r->limit - n) {
		r->too_big = true;
	} else if (r->len + n + 1 > r->cap) {
		/* The first buffer: a small body's announced size (so that it holds no more of
		 * the budget than it needs), else 16 KiB, doubled as the body comes. */
		size_t first = r->limit < 16384 ? r->limit + 1 : 16384;
		if (r->announced > r->len + n && r->announced < first)
			first = r->announced;
		size_t cap = r->cap ? r->cap : first;
		while (cap < r->len + n + 1)
			cap *= 2;
		if (cap > r->limit + 1)
			cap = r->limit + 1;
		char *b = NULL;
		if (!reserve(r, cap - r->cap))
			r->over_budget = true;
		else if (!(b = realloc(r->body, cap)))
			return MHD_NO;
		if (b) {
			r->body = b;
			r->cap = cap;
		}
	}
	if (r->too_big || r->over_budget) {
		r->discarded = n;
		free(r->body);
		r->body = NULL;
		r->len = r->cap = 0;
		release(r);
		return MHD_YES;
	}
	memcpy(r->body + r->len, upload, n);
	r->len += n;
	r->body[r->len] = '\0';
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)version;
	struct http_server *srv = cls;
	struct http_req *r = *con_cls;

	if (!r) {
		if (!(r = calloc(1, sizeof(*r))))
			return MHD_NO;
		r->srv = srv;
		r->conn = conn;
		r->method = method;
		r->url = url;
		r->limit = HTTP_BODY_CONTROL;
		r->start_us = clock_mono_us();
		*con_cls = r;
		atomic_fetch_add(&srv->inflight, 1);
		watchdog_set(srv->watchdog, conn,
			     WATCH_BODY); /* the headers are here; a body may follow */
		http_find_client(r);
		begin(r);
		return MHD_YES;
	}
	if (r->replied) {
		*upload_size = 0; /* discard the rest of a refused body */
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		return take_body(r, upload, n);
	}
	/* The whole request is here (or we were resumed). */
	watchdog_set(srv->watchdog, conn, WATCH_BUSY);
	if (r->too_big) {
		body_too_large(r);
		return MHD_YES;
	}
	if (r->over_budget) {
		metric_add(&m_budget_refused, 1);
		http_add_header(r, "Retry-After", "1");
		http_reply_error(r, 503, "server busy", "request bodies over the memory budget");
		return MHD_YES;
	}
	if (!r->counted) {
		r->counted = true;
		atomic_fetch_add(&srv->busy, 1);
	}
	if (r->suspended) {
		r->suspended = false;
	} else if (r->route->body) {
		const char *enc = http_header(r, "Content-Encoding");
		if (enc && strcasecmp(enc, "gzip") == 0) {
			int rc = gunzip(r);
			if (rc == SIEM_ETOOBIG) {
				http_reply_error(r, 413, "request body too large",
						 "decompressed size over the limit");
				return MHD_YES;
			}
			if (rc == -EBUSY) {
				metric_add(&m_budget_refused, 1);
				http_add_header(r, "Retry-After", "1");
				http_reply_error(r, 503, "server busy",
						 "request bodies over the memory budget");
				return MHD_YES;
			}
			if (rc < 0) {
				http_reply_error(r, 400, "malformed gzip body", NULL);
				return MHD_YES;
			}
		}
	}
	enum http_result res = r->route->fn(r);
	if (res == HTTP_DONE && !r->replied)
		http_reply_error(r, 500, "internal error", NULL);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)conn;
	(void)toe;
	struct http_server *srv = cls;
	struct http_req *r = *con_cls;
	if (!r)
		return;
	if (r->state && r->state_free)
		r->state_free(r->state);
	for (size_t i = 0; i < r->nextra; i++)
		free(r->extra_value[i]);
	free(r->body);
	free(r->decoded);
	release(r);
	if (r->counted)
		atomic_fetch_sub(&srv->busy, 1);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->inflight, 1);
	watchdog_set(srv->watchdog, conn,
		     WATCH_HEADERS); /* keep-alive: the next request's headers */
}

/* What libmicrohttpd says when a client went away (a closed browser tab under an event
 * stream, a dropped connection): normal, not worth a warning. */
static const char *const client_gone[] = {
    "no longer available",
    "reset by peer",
    "Broken pipe",
    "closed by remote",
    "Socket disconnected",
    "Connection was closed",
    "Socket has been disconnected",
};

/* libmicrohttpd's own messages are mostly about clients that went away; a client can make
 * many of them, so at most one line every ten seconds is logged, saying how many were not. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static int64_t next_us;
	static long skipped;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	for (size_t i = 0; i < sizeof(client_gone) / sizeof(client_gone[0]); i++)
		if (strcasestr(buf, client_gone[i])) {
			log_debug(SUB, "%s", buf);
			return;
		}
	int64_t now = clock_mono_us();
	pthread_mutex_lock(&mu);
	long before = skipped;
	bool show = now >= next_us;
	if (show) {
		next_us = now + 10 * 1000000;
		skipped = 0;
	} else {
		skipped++;
	}
	pthread_mutex_unlock(&mu);
	if (show && before)
		log_warn(SUB, "%s (%ld similar messages not shown)", buf, before);
	else if (show)
		log_warn(SUB, "%s", buf);
}

static int parse_listen(const char *s, struct sockaddr_storage *ss, bool *v6)
{
	char host[128];
	const char *colon;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		colon = e + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	char *end = NULL;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		return -EINVAL;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*v6 = true;
		return 0;
	}
	return -EINVAL;
}

int http_bind(const char *listen_addr, int *fd)
{
	struct sockaddr_storage ss;
	bool v6 = false;
	int one = 1;
	if (parse_listen(listen_addr, &ss, &v6) < 0) {
		log_error(SUB, "invalid listen address '%s' (want HOST:PORT)", listen_addr);
		return -EINVAL;
	}
	int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (bind(s, (struct sockaddr *)&ss, len) < 0 || listen(s, 1024) < 0) {
		int err = errno;
		log_error(SUB, "cannot listen on '%s': %s", listen_addr, strerror(err));
		close(s);
		return -err;
	}
	*fd = s;
	return 0;
}

static int read_pem(const char *path, char **out)
{
	char *buf = NULL;
	size_t n = 0;
	int rc = file_read_all(path, 1024 * 1024, &buf, &n);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0 && rc != SIEM_ETOOBIG) {
		log_error(SUB, "cannot open '%s': %s", path, strerror(-rc));
		return rc;
	}
	if (rc < 0 || n == 0) {
		log_error(SUB, "'%s' is empty or larger than 1 MiB", path);
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

static void server_free(struct http_server *srv)
{
	metric_family_unregister(&srv->stats_family);
	free(srv->stats);
	watchdog_free(srv->watchdog);
	if (srv->tls_key)
		explicit_bzero(srv->tls_key, strlen(srv->tls_key));
	free(srv->tls_key);
	free(srv->tls_cert);
	free(srv->cors);
	free(srv->root);
	pthread_mutex_destroy(&srv->cors_mu);
	free(srv);
}

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	(void)addr;
	(void)len;
	const struct http_server *srv = cls;
	return atomic_load(&srv->closing) ? MHD_NO : MHD_YES;
}

int http_start(struct http_server **out, const struct http_config *cfg,
	       const struct http_route *routes, size_t nroutes, const struct http_auth_ops *auth)
{
	int fd = cfg->listen_fd, rc;
	struct http_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	pthread_mutex_init(&srv->cors_mu, NULL);
	srv->routes = routes;
	srv->nroutes = nroutes;
	srv->auth = *auth;
	srv->max_body = cfg->max_body;
	srv->body_budget = cfg->body_budget ? cfg->body_budget : (size_t)64 << 20;
	metric_register(&m_budget_refused);
	metric_register(&m_body_bytes);
	if (!(srv->stats = calloc(nroutes + NMETHODS + 1, sizeof(*srv->stats)))) {
		server_free(srv);
		return -ENOMEM;
	}
	srv->stats_family.render = render_stats;
	srv->stats_family.arg = srv;
	metric_family_register(&srv->stats_family);
	if ((rc = watchdog_start(&srv->watchdog, cfg->header_timeout ? cfg->header_timeout : 10,
				 cfg->request_timeout ? cfg->request_timeout : 60)) < 0 ||
	    (rc = http_set_cors(srv, cfg->cors_origins)) < 0 ||
	    (rc = http_set_proxies(srv, cfg->trusted_proxies)) < 0)
		goto fail;
	if (cfg->root_path && *cfg->root_path && strcmp(cfg->root_path, "/") != 0) {
		size_t n = strlen(cfg->root_path);
		while (n > 1 && cfg->root_path[n - 1] == '/')
			n--;
		if (cfg->root_path[0] != '/' || !(srv->root = strndup(cfg->root_path, n))) {
			log_error(SUB, "root path '%s' must start with '/'", cfg->root_path);
			rc = -EINVAL;
			goto fail;
		}
		srv->root_len = n;
	}
	unsigned tls = 0;
	if ((cfg->tls_cert && *cfg->tls_cert) || (cfg->tls_key && *cfg->tls_key)) {
		if (!cfg->tls_cert || !*cfg->tls_cert || !cfg->tls_key || !*cfg->tls_key) {
			log_error(SUB, "TLS needs both a certificate and a key");
			rc = -EINVAL;
			goto fail;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			log_error(SUB, "this libmicrohttpd has no TLS support");
			rc = -ENOTSUP;
			goto fail;
		}
		if ((rc = read_pem(cfg->tls_cert, &srv->tls_cert)) < 0 ||
		    (rc = read_pem(cfg->tls_key, &srv->tls_key)) < 0)
			goto fail;
		tls = MHD_USE_TLS;
	}
	if (fd < 0 && (rc = http_bind(cfg->listen, &fd)) < 0)
		goto fail;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	bool v6 = ss.ss_family == AF_INET6;
	srv->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			     : ((struct sockaddr_in *)&ss)->sin_port);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) |
			 tls;
	struct MHD_OptionItem tls_opts[] = {
	    {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, srv->tls_key},
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert},
	    {MHD_OPTION_END, 0, NULL},
	};
	srv->d = MHD_start_daemon(
	    flags, 0, accept_policy, srv, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
	    NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE,
	    cfg->threads ? cfg->threads : 2, MHD_OPTION_CONNECTION_LIMIT,
	    cfg->max_conns ? cfg->max_conns : 1024, MHD_OPTION_CONNECTION_TIMEOUT,
	    cfg->conn_timeout ? cfg->conn_timeout : 60, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    CONN_MEMORY, MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_conns_per_ip,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
	    watchdog_notify, srv->watchdog, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
	if (!srv->d) {
		log_error(SUB, "cannot start the HTTP server on '%s'", cfg->listen);
		rc = -EIO;
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	if (fd >= 0)
		close(fd); /* ours now, also when the caller bound it */
	server_free(srv);
	return rc;
}

unsigned http_port(struct http_server *srv)
{
	return srv->port;
}

/* Once the hub stops, a new connection is closed at once (its client retries elsewhere)
 * while the requests in flight finish. Not MHD_quiesce_daemon: with the epoll event loop its
 * removal of the listening socket races the pool threads' own, and libmicrohttpd aborts
 * ("Failed to remove listen FD from epoll set"). The daemon closes the socket when it stops. */
void http_quiesce(struct http_server *srv)
{
	atomic_store(&srv->closing, true);
}

unsigned http_inflight(struct http_server *srv)
{
	return atomic_load(&srv->busy);
}

unsigned http_uploading(struct http_server *srv)
{
	unsigned all = atomic_load(&srv->inflight), busy = atomic_load(&srv->busy);
	return all > busy ? all - busy : 0;
}

void http_stop(struct http_server *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->d);
	server_free(srv);
}
