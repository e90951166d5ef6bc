/* api.c — the route table, auth callbacks and shared context of the HTTP API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/alerts_api.h"
#include "api/api.h"
#include "api/ratelimit.h"
#include "api/tokens.h"
#include "api/web_api.h"
#include "auth/auth.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

struct api *api_ctx;

static struct metric m_key_fail = METRIC_COUNTER_INIT(
    "minisiem_apikey_failures_total", NULL, "Requests with a wrong, unknown or revoked API key.");
static struct metric m_key_limited = METRIC_COUNTER_INIT(
    "minisiem_apikey_rate_limited_total", NULL,
    "Requests refused (429) because their address sent too many wrong API keys.");

#define JSON_TYPES "application/json,application/x-ndjson,application/ndjson,*none*"

/* GET /events: the parameters events.c takes (event_params) */
#define EVENT_QUERY                                                             \
	"event_type:string,app:string,level:string,os_type:string,"             \
	"source_host:string,host:string,user:string,user_id:string,"            \
	"request_id:string,severity:integer,http_status:integer,"               \
	"source_ip:string,src_ip:string,country:string,asn:string,tag:string,"  \
	"from:string,to:string,start:string,end:string,limit:integer,q:string," \
	"cursor:string,before_ts:string,before_id:string,count:boolean"

#define R(m, p, a, f) .method = (m), .path = (p), .auth = (a), .fn = (f)

const struct http_route api_routes[] = {
    {R("POST", "/ingest", AUTH_APIKEY, api_ingest), .body = true, .types = JSON_TYPES ",text/csv",
     .max_body = HTTP_BODY_SERVER,
     HTTP_DOC("Store events: a JSON array or object, NDJSON, or CSV with a header row; answered "
	      "after the commit",
	      NULL, "200,429,503")},
    /* Any type: `curl -d '{"password": ...}'` sends a form type with a JSON body. Anyone may
     * call it: a few KiB are all a login needs. */
    {R("POST", "/auth/login", AUTH_NONE, api_login), .body = true, .max_body = 4096,
     HTTP_DOC("Log in with a user name and password: a JWT", NULL, "200,401,422,429,503")},
    {R("POST", "/auth/logout", AUTH_JWT, api_logout),
     HTTP_DOC("Revoke the token of the request", NULL, "200")},
    {R("GET", "/auth/me", AUTH_JWT, api_me), HTTP_DOC("The token's user and role", NULL, "200")},
    {R("GET", "/events", AUTH_JWT, api_events_list),
     HTTP_DOC("Search events, newest first, a page at a time", EVENT_QUERY, "200,503")},
    {R("GET", "/events/stream", AUTH_JWT, api_events_stream),
     HTTP_DOC("New events as they are committed (Server-Sent Events), with the filters of"
	      " GET /events that one event can be checked against",
	      NULL, "200,400,429,503")},
    {R("GET", "/events/", AUTH_JWT, api_events_get),
     HTTP_DOC("One whole event by its event_id", NULL, "200,400,404")},
    {R("GET", "/apps", AUTH_JWT, api_apps), HTTP_DOC("The apps seen", NULL, "200")},
    {R("GET", "/hosts", AUTH_JWT, api_hosts), HTTP_DOC("The hosts seen", NULL, "200")},
    {R("GET", "/event-types", AUTH_JWT, api_event_types),
     HTTP_DOC("The event types seen", NULL, "200")},
    {R("GET", "/dead-letters", AUTH_JWT, api_dead_letters), .admin = true,
     HTTP_DOC("The newest records that could not be parsed", "limit:integer", "200")},
    {R("POST", "/dead-letters/replay", AUTH_JWT, api_dead_letters_replay), .body = true,
     .types = "application/json,*none*", .admin = true, .max_body = 64 << 10,
     HTTP_DOC("Decode dead letters again (by ids, or by source, reason and time): store what"
	      " decodes now, keep the others with their new reason",
	      NULL, "200,400,503")},
    {R("GET", "/keys", AUTH_JWT, api_keys_list), .admin = true,
     HTTP_DOC("The agents' API keys (without the keys)", NULL, "200")},
    {R("POST", "/keys", AUTH_JWT, api_keys_create), .body = true,
     .types = "application/json,*none*", .admin = true,
     HTTP_DOC("Create an API key: the key is shown only in this answer", NULL, "201,409")},
    {R("DELETE", "/keys/", AUTH_JWT, api_keys_delete), .admin = true,
     HTTP_DOC("Revoke an API key", NULL, "200,404")},
    {R("GET", "/audit", AUTH_JWT, api_audit), .admin = true,
     HTTP_DOC("The audit log, newest first", "limit:integer", "200")},
    /* Settings (users.c, settings.c): users, the running options, sources, a channel test. */
    {R("GET", "/users", AUTH_JWT, api_users_list), .admin = true,
     HTTP_DOC("The users (the built-in admin too)", NULL, "200")},
    {R("POST", "/users", AUTH_JWT, api_users_create), .body = true,
     .types = "application/json,*none*", .admin = true, .max_body = 4096,
     HTTP_DOC("Add a user: name, role (admin or analyst), password", NULL, "201,409,422")},
    {R("PUT", "/users/", AUTH_JWT, api_users_put), .body = true, .types = "application/json,*none*",
     .admin = true, .max_body = 4096, HTTP_DOC("Change a user's role", NULL, "200,404,409,422")},
    {R("POST", "/users/*/password", AUTH_JWT, api_users_password), .body = true,
     .types = "application/json,*none*", .admin = true, .max_body = 4096,
     HTTP_DOC("Set a user's password (their sessions end)", NULL, "200,404,409,422")},
    {R("DELETE", "/users/", AUTH_JWT, api_users_delete), .admin = true,
     HTTP_DOC("Remove a user", NULL, "200,404,409")},
    {R("GET", "/config", AUTH_JWT, api_config), .admin = true,
     HTTP_DOC("The options the hub runs with, secrets masked", NULL, "200")},
    {R("GET", "/sources", AUTH_JWT, api_sources),
     HTTP_DOC("Tailed files, syslog listeners and agents seen", NULL, "200")},
    {R("POST", "/alerts/channels/*/test", AUTH_JWT, api_channel_test), .body = true,
     .types = "application/json,*none*", .admin = true, .max_body = 4096,
     HTTP_DOC("Send a test message through a notification channel now", NULL, "200,404,502")},
    ALERTS_API_ROUTES{R("GET", "/health", AUTH_NONE, api_health),
		      HTTP_DOC("The process answers", NULL, "200")},
    {R("GET", "/ready", AUTH_NONE, api_ready),
     HTTP_DOC("Ready to ingest (the store writer), and each component's state", NULL, "200,503")},
    {R("GET", "/metrics", AUTH_NONE, api_metrics),
     HTTP_DOC("Prometheus metrics (text format)", NULL, "200")},
    {R("GET", "/openapi.json", AUTH_NONE, api_openapi),
     HTTP_DOC("This API's OpenAPI 3.1 description, made from the route table", NULL, "200")},
    WEB_API_ROUTES,
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

/* The key's identity, or SIEM_EAUTH when it is no (longer a) valid key. */
static int find_key(struct api *a, const char *key, struct http_req *r, int64_t now)
{
	char hash[65];
	size_t n = strnlen(key, 513);
	if (n == 0 || n > 512)
		return SIEM_EAUTH;
	apikey_hash(key, n, hash);
	pthread_mutex_lock(&a->key_mu);
	for (size_t i = 0; i < a->n_env_keys; i++) {
		if (ct_equal(a->env_keys[i].hash, hash, 64)) {
			http_set_identity(r, a->env_keys[i].name, "agent", 0);
			pthread_mutex_unlock(&a->key_mu);
			return 0;
		}
	}
	/* Store keys: a short-lived cache so a busy agent does not query per request, while a
	 * revocation takes effect within two seconds. */
	for (size_t i = 0; i < API_KEY_CACHE; i++) {
		struct api_key_entry *e = &a->key_cache[i];
		if (e->checked_us && now - e->checked_us < 2000000 && ct_equal(e->hash, hash, 64)) {
			bool ok = e->valid;
			if (ok)
				http_set_identity(r, e->name, "agent", e->id);
			pthread_mutex_unlock(&a->key_mu);
			return ok ? 0 : SIEM_EAUTH;
		}
	}
	pthread_mutex_unlock(&a->key_mu);

	struct api_key_info info;
	bool found = false;
	int rc = store_key_find(a->store, hash, &info, &found);
	if (rc < 0)
		return rc;
	struct api_key_entry e = {.id = found ? info.id : 0, .checked_us = now};
	memcpy(e.hash, hash, sizeof(e.hash));
	e.valid = found && !info.revoked;
	if (found)
		snprintf(e.name, sizeof(e.name), "%s", info.name);
	pthread_mutex_lock(&a->key_mu);
	a->key_cache[a->key_cache_next++ % API_KEY_CACHE] = e;
	pthread_mutex_unlock(&a->key_mu);
	if (!e.valid)
		return SIEM_EAUTH;
	store_key_touch(a->store, e.id, now);
	api_keys_flush(a); /* every few seconds while agents send: the keys' event counts */
	http_set_identity(r, e.name, "agent", e.id);
	return 0;
}

/* Failed keys are counted per client address (IPv6 per /64); past the limit the address is
 * refused before its key is even looked at. A right key does not wipe the failures: agents
 * behind one address share its allowance. */
static int check_key(void *ctx, const char *key, struct http_req *r)
{
	struct api *a = ctx;
	char who[64];
	int64_t now = ts_now_us();
	ratelimit_addr_key(http_client_addr(r), who, sizeof(who));
	if (a->key_addr) {
		int64_t wait = ratelimit_acquire(a->key_addr, who, now);
		if (wait > 0) {
			char ra[24];
			snprintf(ra, sizeof(ra), "%lld", (long long)wait);
			http_add_header(r, "Retry-After", ra);
			metric_add(&m_key_limited, 1);
			return SIEM_ELIMITED;
		}
	}
	int rc = find_key(a, key, r, now);
	if (rc == SIEM_EAUTH)
		metric_add(&m_key_fail, 1);
	if (a->key_addr)
		ratelimit_release(a->key_addr, who, now,
				  rc == SIEM_EAUTH ? RATELIMIT_FAILED : RATELIMIT_RELEASE);
	return rc;
}

static int check_jwt(void *ctx, const char *token, struct http_req *r)
{
	struct api *a = ctx;
	struct jwt_claims c;
	int rc = tokens_check(a->tokens, token, ts_now_us() / 1000000, &c);
	if (rc < 0)
		return rc;
	http_set_identity(r, c.sub, c.role, 0);
	return 0;
}

const struct http_auth_ops api_auth_ops = {check_key, check_jwt, NULL};

static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

int api_load_env_keys(struct api *a, const char *spec)
{
	struct api_key_entry *keys = NULL;
	size_t n = 0, cap = 1;
	for (const char *p = spec ? spec : ""; *p; p++)
		cap += *p == ',';
	if (spec && *spec && !(keys = calloc(cap, sizeof(*keys))))
		return -ENOMEM;
	for (const char *p = spec ? spec : ""; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		if (len > 0) {
			if (!colon || colon == p || colon + 1 == p + len) {
				log_error("api", "SIEM_API_KEYS: entry %zu is not NAME:KEY", n + 1);
				free(keys);
				return -EINVAL;
			}
			size_t nl = (size_t)(colon - p);
			if (utf8_chars(colon + 1, len - nl - 1) < API_KEY_MIN) {
				log_error("api",
					  "SIEM_API_KEYS: the key of entry %zu ('%.*s') is shorter"
					  " than %d characters",
					  n + 1, (int)(nl < 64 ? nl : 64), p, API_KEY_MIN);
				free(keys);
				return -EINVAL;
			}
			struct api_key_entry *k = &keys[n++];
			snprintf(k->name, sizeof(k->name), "%.*s", (int)nl, p);
			apikey_hash(colon + 1, len - nl - 1, k->hash);
			k->valid = true;
		}
		p += len + (e ? 1 : 0);
	}
	/* Swap: requests in flight finish with the old list. */
	pthread_mutex_lock(&a->key_mu);
	struct api_key_entry *old = a->env_keys;
	a->env_keys = keys;
	a->n_env_keys = n;
	pthread_mutex_unlock(&a->key_mu);
	free(old);
	return 0;
}

int api_init(struct api *a, struct store *s, struct pipeline *p)
{
	a->store = s;
	a->pipeline = p;
	a->started_us = ts_now_us();
	pthread_mutex_init(&a->key_mu, NULL);
	pthread_mutex_init(&a->sources_mu, NULL);
	api_ingest_register_metrics();
	api_session_register_metrics();
	api_replay_register_metrics();
	return 0;
}

void api_set_sources(struct api *a, struct tailer *t, struct syslog_listener *l)
{
	pthread_mutex_lock(&a->sources_mu);
	a->tailer = t;
	a->syslog = l;
	pthread_mutex_unlock(&a->sources_mu);
}

int api_set_limits(struct api *a, const struct api_limits *l)
{
	/* Per address: failures count for a minute. Per name: past the limit the wait doubles
	 * with each failure, up to the cap; forgotten after 15 quiet minutes. */
	struct ratelimit_config addr = {
	    .max_failures = l->login_max_failures, .window_s = 60, .slots = 4096};
	struct ratelimit_config name = {.max_failures = l->login_max_failures,
					.window_s = 900,
					.backoff_max_s = l->login_backoff_max_s,
					.slots = 4096};
	struct ratelimit_config key = {
	    .max_failures = l->apikey_max_failures, .window_s = 60, .slots = 4096};
	int rc;
	if ((rc = ratelimit_new(&a->login_addr, &addr)) < 0 ||
	    (rc = ratelimit_new(&a->login_name, &name)) < 0 ||
	    (rc = ratelimit_new(&a->key_addr, &key)) < 0)
		return rc;
	a->max_password_checks = l->max_password_checks;
	metric_register(&m_key_fail);
	metric_register(&m_key_limited);
	return 0;
}

void api_release(struct api *a)
{
	ratelimit_free(a->login_addr);
	ratelimit_free(a->login_name);
	ratelimit_free(a->key_addr);
	a->login_addr = a->login_name = a->key_addr = NULL;
	pthread_mutex_destroy(&a->key_mu);
	pthread_mutex_destroy(&a->sources_mu);
	free(a->env_keys);
	tokens_close(a->tokens);
	a->env_keys = NULL;
	a->tokens = NULL;
}

void cursor_encode(int64_t ts, int64_t seq, char out[33])
{
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)ts, (unsigned long long)seq);
}

int cursor_decode(const char *s, int64_t *ts, int64_t *seq)
{
	uint64_t v[2] = {0, 0};
	if (strlen(s) != 32)
		return SIEM_EPARSE;
	for (int i = 0; i < 32; i++) {
		int c = s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return SIEM_EPARSE;
		v[i / 16] = (v[i / 16] << 4) | (uint64_t)d;
	}
	*ts = (int64_t)v[0];
	*seq = (int64_t)v[1];
	if (*seq <= 0)
		return SIEM_EPARSE;
	return 0;
}

enum http_result api_reply_list(struct http_req *r, int rc, const char *key, json_t *list)
{
	if (rc < 0) {
		json_decref(list);
		return api_store_error(r, rc, "query failed");
	}
	json_t *o = json_object();
	json_object_set_new(o, key, list);
	return http_reply_json(r, 200, o);
}

enum http_result api_store_error(struct http_req *r, int rc, const char *error)
{
	if (rc == SIEM_EUNAVAIL) {
		http_add_header(r, "Retry-After", "5");
		return http_reply_error(r, 503, "store unavailable", siem_strerror(rc));
	}
	return http_reply_error(r, 500, error, siem_strerror(rc));
}
