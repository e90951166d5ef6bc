/* test_http.c — the HTTP server wrapper on a real loopback port: route matching (exact,
 * prefix, wildcard, 404 against 405, the root path), bearer and API-key parsing, media
 * types and encodings, and body limits with and without a Content-Length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "core/err.h"
#include "http/http.h"

#define MAX_BODY 1024 /* the server's max_body (routes with HTTP_BODY_SERVER) */

/* ---- the server under test ---- */

/* Echo what the handler saw, so each test checks the wrapper's work. */
static enum http_result echo(struct http_req *r)
{
	size_t n = 0;
	const char *body = http_body(r, &n);
	const char *arg = http_path_arg(r), *tok = http_bearer(r);
	json_t *o =
	    json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s, s:I, s:I, s:s%}", "method", http_method(r),
		      "path", http_path(r), "arg", arg, "bearer", tok, "who", http_identity(r),
		      "role", http_role(r), "key_id", (json_int_t)http_key_id(r), "len",
		      (json_int_t)n, "body", body ? body : "", body ? n : 0);
	return http_reply_json(r, 200, o);
}

static const struct http_route routes[] = {
    {"GET", "/health", AUTH_NONE, echo, false, NULL, false, 0, NULL, NULL, NULL},
    {"GET", "/events", AUTH_JWT, echo, false, NULL, false, 0, NULL, NULL, NULL},
    {"GET", "/events/", AUTH_JWT, echo, false, NULL, false, 0, NULL, NULL, NULL},
    {"DELETE", "/keys/", AUTH_JWT, echo, false, NULL, true, 0, NULL, NULL, NULL},
    {"POST", "/rules/*/enable", AUTH_JWT, echo, false, NULL, false, 0, NULL, NULL, NULL},
    {"GET", "/dash/*/panel/*", AUTH_NONE, echo, false, NULL, false, 0, NULL, NULL, NULL},
    {"POST", "/ingest", AUTH_APIKEY, echo, true, "application/json,application/x-ndjson", false,
     HTTP_BODY_SERVER, NULL, NULL, NULL},
    {"POST", "/control", AUTH_JWT, echo, true, "application/json", false, 0, NULL, NULL, NULL},
    {"POST", "/small", AUTH_NONE, echo, true, NULL, false, 16, NULL, NULL, NULL},
    {"POST", "/logout", AUTH_NONE, echo, true, "*none*,application/json", false, 0, NULL, NULL,
     NULL},
};

static int check_key(void *ctx, const char *key, struct http_req *r)
{
	(void)ctx;
	if (strcmp(key, "good-key") == 0) {
		http_set_identity(r, "agent-7", NULL, 7);
		return 0;
	}
	if (strcmp(key, "limited-key") == 0)
		return SIEM_ELIMITED;
	return SIEM_EAUTH;
}

static int check_jwt(void *ctx, const char *token, struct http_req *r)
{
	(void)ctx;
	if (strcmp(token, "admin-token") == 0)
		http_set_identity(r, "root", "admin", 0);
	else if (strcmp(token, "analyst-token") == 0)
		http_set_identity(r, "ana", "analyst", 0);
	else
		return SIEM_EAUTH;
	return 0;
}

static const struct http_auth_ops auth = {check_key, check_jwt, NULL};

struct server {
	struct http_server *srv;
	unsigned port;
};

static struct server plain, rooted;

static int start(struct server *s, const char *root)
{
	struct http_config cfg = {
	    .listen = "127.0.0.1:0", .listen_fd = -1, .root_path = root, .max_body = MAX_BODY};
	if (http_start(&s->srv, &cfg, routes, sizeof(routes) / sizeof(routes[0]), &auth) < 0)
		return -1;
	s->port = http_port(s->srv);
	return s->port ? 0 : -1;
}

static int setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return start(&plain, NULL) || start(&rooted, "/siem/");
}

static int teardown(void **state)
{
	(void)state;
	http_stop(plain.srv);
	http_stop(rooted.srv);
	curl_global_cleanup();
	return 0;
}

/* ---- a client ---- */

struct reply {
	long status;
	char head[4096], body[2 * HTTP_BODY_CONTROL + 1024]; /* the echo of a 64 KiB body */
	size_t head_n, body_n;
	json_t *json; /* the body parsed, or NULL */
};

static size_t keep(char *buf, size_t n, char *dst, size_t *dn, size_t cap)
{
	size_t take = n < cap - 1 - *dn ? n : cap - 1 - *dn;
	memcpy(dst + *dn, buf, take);
	*dn += take;
	dst[*dn] = '\0';
	return n;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	return keep(p, size * n, r->body, &r->body_n, sizeof(r->body));
}

static size_t on_head(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	return keep(p, size * n, r->head, &r->head_n, sizeof(r->head));
}

/* method path on a server, with NULL-ended "Name: value" headers and an optional body. */
static void call(struct reply *out, const struct server *s, const char *method, const char *path,
		 const char *const *headers, const void *body, size_t n)
{
	memset(out, 0, sizeof(*out));
	char url[2048];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", s->port, path);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	struct curl_slist *h = curl_slist_append(NULL, "Expect:");
	for (size_t i = 0; headers && headers[i]; i++)
		h = curl_slist_append(h, headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	out->json = json_loadb(out->body, out->body_n, 0, NULL);
}

static const char *str(const struct reply *r, const char *key)
{
	return json_string_value(json_object_get(r->json, key));
}

static json_int_t num(const struct reply *r, const char *key)
{
	return json_integer_value(json_object_get(r->json, key));
}

static void expect_status(struct reply *r, long status)
{
	if (r->status != status)
		fail_msg("want %ld, got %ld: %s", status, r->status, r->body);
}

/* An error reply: the status and {"error": error, "detail": detail (NULL: null)}. */
static void expect_error(struct reply *r, long status, const char *error, const char *detail)
{
	expect_status(r, status);
	assert_non_null(r->json);
	assert_string_equal(str(r, "error"), error);
	if (detail)
		assert_string_equal(str(r, "detail"), detail);
	else
		assert_true(json_is_null(json_object_get(r->json, "detail")));
}

static void done(struct reply *r)
{
	json_decref(r->json);
	r->json = NULL;
}

static const char *const admin[] = {"Authorization: Bearer admin-token", NULL};

/* The whole exchange over a plain socket (for what libcurl will not send). */
static void raw(const struct server *s, const char *req, size_t n, char *out, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = 20};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	size_t sent = 0;
	while (sent < n) {
		ssize_t w = send(fd, req + sent, n - sent, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* answered and closed early: read the answer */
		sent += (size_t)w;
	}
	size_t got = 0;
	for (;;) {
		ssize_t k = recv(fd, out + got, cap - 1 - got, 0);
		if (k <= 0 || (got += (size_t)k) == cap - 1)
			break;
		out[got] = '\0';
		if (strstr(out, "\r\n\r\n") && strstr(out, "}\n"))
			break; /* the JSON body is whole */
	}
	out[got] = '\0';
	close(fd);
}

/* ---- routes ---- */

static void test_exact_route(void **state)
{
	(void)state;
	struct reply r;
	call(&r, &plain, "GET", "/health", NULL, NULL, 0);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "path"), "/health");
	assert_true(json_is_null(json_object_get(r.json, "arg")));
	assert_non_null(strstr(r.head, "Content-Type: application/json"));
	done(&r);
	/* neither a longer path nor one with a trailing slash is the route */
	const char *paths[] = {"/health/", "/healthz", "/health/x", "/HEALTH", "/"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		call(&r, &plain, "GET", paths[i], NULL, NULL, 0);
		expect_error(&r, 404, "not found", paths[i]);
		done(&r);
	}
}

static void test_prefix_route_takes_one_segment(void **state)
{
	(void)state;
	struct reply r;
	call(&r, &plain, "GET", "/events/abc-123", admin, NULL, 0);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "arg"), "abc-123");
	done(&r);
	call(&r, &plain, "GET", "/events", admin, NULL, 0); /* the exact route next to it */
	expect_status(&r, 200);
	assert_true(json_is_null(json_object_get(r.json, "arg")));
	done(&r);
	const char *paths[] = {"/events/", "/events/a/b", "/events/a/"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		call(&r, &plain, "GET", paths[i], admin, NULL, 0);
		expect_error(&r, 404, "not found", paths[i]);
		done(&r);
	}
}

static void test_wildcard_route(void **state)
{
	(void)state;
	struct reply r;
	call(&r, &plain, "POST", "/rules/r-1/enable", admin, NULL, 0);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "arg"), "r-1/enable"); /* from the first '*' on */
	done(&r);
	/* the path arg is the first wildcard's segment onward; two wildcards both match */
	call(&r, &plain, "GET", "/dash/d1/panel/p2", NULL, NULL, 0);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "arg"), "d1/panel/p2");
	done(&r);
	const char *paths[] = {"/rules//enable", "/rules/r-1/enable/x", "/rules/r-1/disable",
			       "/rules/enable",	 "/rules/a/b/enable",	"/dash/d1/panel/"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		call(&r, &plain, strncmp(paths[i], "/dash", 5) ? "POST" : "GET", paths[i], admin,
		     NULL, 0);
		expect_error(&r, 404, "not found", paths[i]);
		done(&r);
	}
}

static void test_known_path_other_method_is_405(void **state)
{
	(void)state;
	struct reply r;
	call(&r, &plain, "POST", "/health", NULL, "{}", 2);
	expect_error(&r, 405, "method not allowed", "POST");
	done(&r);
	call(&r, &plain, "GET", "/keys/3", admin, NULL, 0);
	expect_error(&r, 405, "method not allowed", "GET");
	done(&r);
	call(&r, &plain, "DELETE", "/nowhere", admin, NULL, 0);
	expect_error(&r, 404, "not found", "/nowhere");
	done(&r);
}

static void test_nul_in_query_is_400(void **state)
{
	(void)state;
	struct reply r;
	call(&r, &plain, "GET", "/health?app=a%00b", NULL, NULL, 0);
	expect_error(&r, 400, "invalid query", "app: contains a NUL byte");
	done(&r);
}

static void test_root_path(void **state)
{
	(void)state;
	struct reply r;
	call(&r, &rooted, "GET", "/siem/health", NULL, NULL, 0);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "path"), "/health"); /* handlers see the path without it */
	done(&r);
	call(&r, &rooted, "GET", "/siem/events/e1", admin, NULL, 0);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "arg"), "e1");
	done(&r);
	/* a proxy that strips the prefix: the same routes without it */
	call(&r, &rooted, "GET", "/health", NULL, NULL, 0);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "path"), "/health");
	done(&r);
	call(&r, &rooted, "GET", "/events/e2", admin, NULL, 0);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "arg"), "e2");
	done(&r);
	/* a path that only starts like the prefix is no route */
	const char *paths[] = {"/siemx/health", "/sie"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		call(&r, &rooted, "GET", paths[i], NULL, NULL, 0);
		expect_error(&r, 404, "not found", paths[i]);
		done(&r);
	}
	call(&r, &rooted, "GET", "/siem", NULL, NULL, 0); /* the prefix alone is its "/" */
	expect_error(&r, 404, "not found", "/");
	done(&r);
}

static void test_route_pattern(void **state)
{
	(void)state;
	char buf[64];
	const char *want[] = {"/health",
			      "/events",
			      "/events/{id}",
			      "/keys/{id}",
			      "/rules/{id}/enable",
			      "/dash/{id}/panel/{id}"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		http_route_pattern(&routes[i], buf, sizeof(buf));
		assert_string_equal(buf, want[i]);
	}
	http_route_pattern(&routes[4], buf, 8); /* cut, still terminated */
	assert_true(strlen(buf) < 8);
}

/* ---- authentication ---- */

static void test_bearer_parsing(void **state)
{
	(void)state;
	struct reply r;
	const char *ok[] = {
	    "Authorization: Bearer admin-token", "Authorization: bearer admin-token",
	    "Authorization: BEARER admin-token", "Authorization: Bearer    admin-token"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *h[] = {ok[i], NULL};
		call(&r, &plain, "GET", "/events", h, NULL, 0);
		expect_status(&r, 200);
		assert_string_equal(str(&r, "bearer"), "admin-token");
		assert_string_equal(str(&r, "who"), "root");
		assert_string_equal(str(&r, "role"), "admin");
		done(&r);
	}
	/* no token at all: WWW-Authenticate: Bearer */
	const char *missing[] = {NULL,
				 "Authorization: Bearer",
				 "Authorization: Bearer    ",
				 "Authorization: Basic YWRtaW46eA==",
				 "Authorization: Bearer-admin-token",
				 "Authorization: admin-token",
				 "X-API-Key: good-key"};
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		const char *h[] = {missing[i], NULL};
		call(&r, &plain, "GET", "/events", missing[i] ? h : NULL, NULL, 0);
		expect_error(&r, 401, "unauthorized", "a bearer token is required");
		assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer\r\n"));
		done(&r);
	}
	/* a token the callback refuses */
	const char *bad[] = {"Authorization: Bearer nope", "Authorization: Bearer admin-token x",
			     "Authorization: Bearer good-key"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *h[] = {bad[i], NULL};
		call(&r, &plain, "GET", "/events", h, NULL, 0);
		expect_error(&r, 401, "unauthorized", "invalid or expired token");
		assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer error=\"invalid_token\""));
		done(&r);
	}
	/* a public route passes the token through but does not need it */
	const char *h[] = {"Authorization: Bearer whatever", NULL};
	call(&r, &plain, "GET", "/health", h, NULL, 0);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "bearer"), "whatever");
	assert_string_equal(str(&r, "who"), "");
	done(&r);
}

static void test_admin_route_needs_admin_role(void **state)
{
	(void)state;
	struct reply r;
	const char *ana[] = {"Authorization: Bearer analyst-token", NULL};
	call(&r, &plain, "DELETE", "/keys/3", ana, NULL, 0);
	expect_error(&r, 403, "forbidden", "this needs the admin role");
	done(&r);
	call(&r, &plain, "DELETE", "/keys/3", admin, NULL, 0);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "arg"), "3");
	done(&r);
	call(&r, &plain, "GET", "/events/3", ana, NULL, 0); /* not an admin route */
	expect_status(&r, 200);
	assert_string_equal(str(&r, "role"), "analyst");
	done(&r);
}

static void test_api_key_headers(void **state)
{
	(void)state;
	struct reply r;
	const char *ok[] = {"X-API-Key: good-key", "api_key: good-key",
			    "Authorization: Bearer good-key"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *h[] = {ok[i], "Content-Type: application/json", NULL};
		call(&r, &plain, "POST", "/ingest", h, "{}", 2);
		expect_status(&r, 200);
		assert_string_equal(str(&r, "who"), "agent-7");
		assert_int_equal(num(&r, "key_id"), 7);
		done(&r);
	}
	const char *none[] = {"Content-Type: application/json", NULL};
	call(&r, &plain, "POST", "/ingest", none, "{}", 2);
	expect_error(&r, 401, "unauthorized", "an API key is required");
	done(&r);
	const char *wrong[] = {"X-API-Key: bad-key", "Content-Type: application/json", NULL};
	call(&r, &plain, "POST", "/ingest", wrong, "{}", 2);
	expect_error(&r, 401, "unauthorized", "invalid API key");
	done(&r);
	const char *limited[] = {"X-API-Key: limited-key", "Content-Type: application/json", NULL};
	call(&r, &plain, "POST", "/ingest", limited, "{}", 2);
	expect_error(&r, 429, "too many requests", "too many invalid API keys from this address");
	done(&r);
	/* the key is checked before the media type: no key, wrong type -> 401 */
	const char *plain_text[] = {"Content-Type: text/plain", NULL};
	call(&r, &plain, "POST", "/ingest", plain_text, "{}", 2);
	expect_error(&r, 401, "unauthorized", "an API key is required");
	done(&r);
}

/* ---- media types and encodings ---- */

static void test_content_type_checks(void **state)
{
	(void)state;
	struct reply r;
	const char *ok[] = {"Content-Type: application/json", "Content-Type: application/x-ndjson",
			    "Content-Type: application/json; charset=utf-8",
			    "Content-Type: APPLICATION/JSON",
			    "Content-Type: application/json ;q=1"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *h[] = {"X-API-Key: good-key", ok[i], NULL};
		call(&r, &plain, "POST", "/ingest", h, "[1]", 3);
		expect_status(&r, 200);
		assert_string_equal(str(&r, "body"), "[1]");
		done(&r);
	}
	const char *bad[] = {"Content-Type: text/plain",
			     "Content-Type: application/jsonx",
			     "Content-Type: application/js",
			     "Content-Type: json",
			     "Content-Type: application/x-www-form-urlencoded",
			     "Content-Type:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *h[] = {"X-API-Key: good-key", bad[i], NULL};
		call(&r, &plain, "POST", "/ingest", h, "[1]", 3);
		expect_error(&r, 415, "unsupported media type",
			     "application/json,application/x-ndjson");
		done(&r);
	}
	/* "*none*": a body without Content-Type is fine there, and only there */
	const char *no_type[] = {"Content-Type:", NULL}; /* curl: send no Content-Type */
	call(&r, &plain, "POST", "/logout", no_type, "", 0);
	expect_status(&r, 200);
	done(&r);
	const char *ctl[] = {"Authorization: Bearer admin-token", NULL};
	call(&r, &plain, "POST", "/control", ctl, "{}", 2);
	expect_error(&r, 415, "unsupported media type", "application/json");
	done(&r);
	/* a route without a type list takes any */
	const char *any[] = {"Content-Type: image/png", NULL};
	call(&r, &plain, "POST", "/small", any, "x", 1);
	expect_status(&r, 200);
	done(&r);
}

static size_t gz(const void *in, size_t n, unsigned char *out, size_t cap)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t m = cap - z.avail_out;
	deflateEnd(&z);
	return m;
}

static void test_content_encoding(void **state)
{
	(void)state;
	struct reply r;
	static unsigned char zipped[4096];
	const char *text = "{\"event_type\":\"zipped\"}";
	size_t zn = gz(text, strlen(text), zipped, sizeof(zipped));
	const char *h_gzip[] = {"X-API-Key: good-key", "Content-Type: application/json",
				"Content-Encoding: gzip", NULL};
	call(&r, &plain, "POST", "/ingest", h_gzip, zipped, zn);
	expect_status(&r, 200);
	assert_string_equal(str(&r, "body"), text); /* the handler reads it decoded */
	assert_int_equal(num(&r, "len"), (json_int_t)strlen(text));
	done(&r);
	const char *h_id[] = {"X-API-Key: good-key", "Content-Type: application/json",
			      "Content-Encoding: identity", NULL};
	call(&r, &plain, "POST", "/ingest", h_id, text, strlen(text));
	expect_status(&r, 200);
	assert_string_equal(str(&r, "body"), text);
	done(&r);
	const char *h_br[] = {"X-API-Key: good-key", "Content-Type: application/json",
			      "Content-Encoding: br", NULL};
	call(&r, &plain, "POST", "/ingest", h_br, text, strlen(text));
	expect_error(&r, 415, "unsupported content encoding", "br");
	done(&r);
	/* not gzip at all, and a gzip stream cut short */
	call(&r, &plain, "POST", "/ingest", h_gzip, text, strlen(text));
	expect_error(&r, 400, "malformed gzip body", NULL);
	done(&r);
	call(&r, &plain, "POST", "/ingest", h_gzip, zipped, zn / 2);
	expect_error(&r, 400, "malformed gzip body", NULL);
	done(&r);
	/* small on the wire, over max_body once decompressed */
	static char big[MAX_BODY * 8];
	memset(big, ' ', sizeof(big));
	zn = gz(big, sizeof(big), zipped, sizeof(zipped));
	assert_true(zn < MAX_BODY);
	call(&r, &plain, "POST", "/ingest", h_gzip, zipped, zn);
	expect_error(&r, 413, "request body too large", "decompressed size over the limit");
	done(&r);
	/* exactly max_body decompressed is fine */
	zn = gz(big, MAX_BODY, zipped, sizeof(zipped));
	call(&r, &plain, "POST", "/ingest", h_gzip, zipped, zn);
	expect_status(&r, 200);
	assert_int_equal(num(&r, "len"), MAX_BODY);
	done(&r);
}

/* ---- body limits ---- */

static void test_body_limits_per_route(void **state)
{
	(void)state;
	struct reply r;
	static char buf[HTTP_BODY_CONTROL + 2];
	memset(buf, 'a', sizeof(buf));
	/* a route's own limit (16 bytes) */
	call(&r, &plain, "POST", "/small", NULL, buf, 16);
	expect_status(&r, 200);
	assert_int_equal(num(&r, "len"), 16);
	done(&r);
	call(&r, &plain, "POST", "/small", NULL, buf, 17);
	expect_error(&r, 413, "request body too large", "at most 16 bytes here");
	done(&r);
	/* HTTP_BODY_SERVER: the server's max_body */
	const char *h_ing[] = {"X-API-Key: good-key", "Content-Type: application/json", NULL};
	call(&r, &plain, "POST", "/ingest", h_ing, buf, MAX_BODY);
	expect_status(&r, 200);
	assert_int_equal(num(&r, "len"), MAX_BODY);
	done(&r);
	call(&r, &plain, "POST", "/ingest", h_ing, buf, MAX_BODY + 1);
	expect_error(&r, 413, "request body too large", "at most 1024 bytes here");
	done(&r);
	/* 0: a control route's 64 KiB */
	const char *h_ctl[] = {"Authorization: Bearer admin-token",
			       "Content-Type: application/json", NULL};
	call(&r, &plain, "POST", "/control", h_ctl, buf, HTTP_BODY_CONTROL);
	expect_status(&r, 200);
	assert_int_equal(num(&r, "len"), HTTP_BODY_CONTROL);
	done(&r);
	call(&r, &plain, "POST", "/control", h_ctl, buf, HTTP_BODY_CONTROL + 1);
	expect_error(&r, 413, "request body too large", "at most 65536 bytes here");
	done(&r);
}

static void test_body_limit_without_content_length(void **state)
{
	(void)state;
	char req[512], out[4096];
	/* announced too big: refused from the header, before any body byte */
	int n = snprintf(req, sizeof(req),
			 "POST /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			 "Content-Length: 999999999999\r\n\r\n");
	raw(&plain, req, (size_t)n, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 413"));
	assert_non_null(strstr(out, "at most 16 bytes here"));
	/* a Content-Length that is no number: libmicrohttpd answers 400 and closes */
	n = snprintf(req, sizeof(req),
		     "POST /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		     "Content-Length: 12abc\r\n\r\n");
	raw(&plain, req, (size_t)n, out, sizeof(out));
	assert_true(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
	/* chunked, no length: counted as it arrives */
	n = snprintf(req, sizeof(req),
		     "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		     "Connection: close\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nX\r\n0\r\n\r\n");
	raw(&plain, req, (size_t)n, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 413"));
	assert_non_null(strstr(out, "at most 16 bytes here"));
	n = snprintf(req, sizeof(req),
		     "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		     "Connection: close\r\n\r\n8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n");
	raw(&plain, req, (size_t)n, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 200"));
	assert_non_null(strstr(out, "\"body\":\"0123456789abcdef\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_route),
	    cmocka_unit_test(test_prefix_route_takes_one_segment),
	    cmocka_unit_test(test_wildcard_route),
	    cmocka_unit_test(test_known_path_other_method_is_405),
	    cmocka_unit_test(test_nul_in_query_is_400),
	    cmocka_unit_test(test_root_path),
	    cmocka_unit_test(test_route_pattern),
	    cmocka_unit_test(test_bearer_parsing),
	    cmocka_unit_test(test_admin_route_needs_admin_role),
	    cmocka_unit_test(test_api_key_headers),
	    cmocka_unit_test(test_content_type_checks),
	    cmocka_unit_test(test_content_encoding),
	    cmocka_unit_test(test_body_limits_per_route),
	    cmocka_unit_test(test_body_limit_without_content_length),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
