/* api.c — the route table, auth callbacks and shared context of the HTTP API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/alerts_api.h"
#include "api/api.h"
#include "api/tokens.h"
#include "api/web_api.h"
#include "auth/auth.h"
#include "core/err.h"
#include "core/log.h"

struct api *api_ctx;

#define JSON_TYPES "application/json,application/x-ndjson,application/ndjson,*none*"

#define R(m, p, a, f) .method = (m), .path = (p), .auth = (a), .fn = (f)

const struct http_route api_routes[] = {
	{ R("POST", "/ingest", AUTH_APIKEY, api_ingest), .body = true, .types = JSON_TYPES,
	  .max_body = HTTP_BODY_SERVER },
	/* Any type: `curl -d '{"password": ...}'` sends a form type with a JSON body. Anyone may
	 * call it: a few KiB are all a login needs. */
	{ R("POST", "/auth/login", AUTH_NONE, api_login), .body = true, .max_body = 4096 },
	{ R("POST", "/auth/logout", AUTH_JWT, api_logout) },
	{ R("GET", "/auth/me", AUTH_JWT, api_me) },
	{ R("GET", "/events", AUTH_JWT, api_events_list) },
	{ R("GET", "/events/", AUTH_JWT, api_events_get) },
	{ R("GET", "/apps", AUTH_JWT, api_apps) },
	{ R("GET", "/hosts", AUTH_JWT, api_hosts) },
	{ R("GET", "/event-types", AUTH_JWT, api_event_types) },
	{ R("GET", "/dead-letters", AUTH_JWT, api_dead_letters), .admin = true },
	{ R("GET", "/keys", AUTH_JWT, api_keys_list), .admin = true },
	{ R("POST", "/keys", AUTH_JWT, api_keys_create), .body = true,
	  .types = "application/json,*none*", .admin = true },
	{ R("DELETE", "/keys/", AUTH_JWT, api_keys_delete), .admin = true },
	{ R("GET", "/audit", AUTH_JWT, api_audit), .admin = true },
	ALERTS_API_ROUTES
	{ R("GET", "/health", AUTH_NONE, api_health) },
	{ R("GET", "/ready", AUTH_NONE, api_ready) },
	{ R("GET", "/metrics", AUTH_NONE, api_metrics) },
	WEB_API_ROUTES,
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

static int check_key(void *ctx, const char *key, struct http_req *r)
{
	struct api *a = ctx;
	char hash[65];
	int64_t now = ts_now_us();
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
	struct api_key_entry e = { .id = found ? info.id : 0, .checked_us = now };
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
	http_set_identity(r, e.name, "agent", e.id);
	return 0;
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

const struct http_auth_ops api_auth_ops = { check_key, check_jwt, NULL };

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
			struct api_key_entry *k = &keys[n++];
			size_t nl = (size_t)(colon - p);
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
	api_ingest_register_metrics();
	api_session_register_metrics();
	return 0;
}

void api_release(struct api *a)
{
	pthread_mutex_destroy(&a->key_mu);
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
	uint64_t v[2] = { 0, 0 };
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
