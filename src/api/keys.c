/* keys.c — agent API keys: GET /keys, POST /keys {"name"} (the key is shown once),
 * DELETE /keys/{id} (revoke). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/auth.h"
#include "core/err.h"
#include "core/log.h"

void api_keys_count(struct api *a, int64_t id, const char *name, uint64_t events, int64_t now_us)
{
	name = name ? name : "";
	pthread_mutex_lock(&a->key_mu);
	size_t i;
	for (i = 0; i < a->n_key_counts; i++) {
		struct api_key_count *c = &a->key_counts[i];
		if (c->id == id && (id != 0 || strcmp(c->name, name) == 0))
			break;
	}
	if (i == a->n_key_counts && i < API_KEY_COUNTS) {
		a->key_counts[i].id = id;
		snprintf(a->key_counts[i].name, sizeof(a->key_counts[i].name), "%s", name);
		a->n_key_counts++;
	}
	if (i < a->n_key_counts) {
		a->key_counts[i].events += events;
		if (id)
			a->key_counts[i].pending += events;
		a->key_counts[i].last_us = now_us;
	} else {
		a->key_counts_other += events;
	}
	pthread_mutex_unlock(&a->key_mu);
}

void api_keys_flush(struct api *a)
{
	struct {
		int64_t id, last_us;
		uint64_t n;
	} todo[API_KEY_COUNTS];
	size_t n = 0;
	pthread_mutex_lock(&a->key_mu);
	for (size_t i = 0; i < a->n_key_counts; i++) {
		struct api_key_count *c = &a->key_counts[i];
		if (c->id && c->pending) {
			todo[n].id = c->id;
			todo[n].last_us = c->last_us;
			todo[n++].n = c->pending;
			c->pending = 0;
		}
	}
	pthread_mutex_unlock(&a->key_mu);
	for (size_t k = 0; k < n; k++) {
		if (store_key_add_events(a->store, todo[k].id, (int64_t)todo[k].n,
					 todo[k].last_us) == 0)
			continue;
		/* Kept for the next time: counted once, whenever the store takes it. */
		pthread_mutex_lock(&a->key_mu);
		for (size_t i = 0; i < a->n_key_counts; i++)
			if (a->key_counts[i].id == todo[k].id)
				a->key_counts[i].pending += todo[k].n;
		pthread_mutex_unlock(&a->key_mu);
	}
}

static void set_count(json_t *o, const struct api_key_count *c)
{
	json_object_set_new(o, "events", json_integer(c ? (json_int_t)c->events : 0));
	if (c && c->last_us) {
		char t[32];
		ts_format(c->last_us, t);
		json_object_set_new(o, "last_event", json_string(t));
	} else {
		json_object_set_new(o, "last_event", json_null());
	}
}

/* The store's keys with the events each sent (totals kept in the store); the keys of
 * SIEM_API_KEYS apart (env_keys: name and events since the hub started only, they cannot be
 * revoked here). */
enum http_result api_keys_list(struct http_req *r)
{
	json_t *keys = json_array(), *k, *env = json_array();
	size_t i;
	api_keys_flush(api_ctx);
	int rc = store_key_list(api_ctx->store, keys);
	if (rc < 0) {
		json_decref(env);
		return api_reply_list(r, rc, "keys", keys);
	}
	pthread_mutex_lock(&api_ctx->key_mu);
	/* A count the store did not take yet (it failed) is added to the store's total. */
	json_array_foreach (keys, i, k) {
		int64_t id = json_integer_value(json_object_get(k, "id"));
		const struct api_key_count *c = NULL;
		for (size_t j = 0; j < api_ctx->n_key_counts && !c; j++)
			if (api_ctx->key_counts[j].id == id)
				c = &api_ctx->key_counts[j];
		if (c && c->pending)
			json_object_set_new(
			    k, "events",
			    json_integer(json_integer_value(json_object_get(k, "events")) +
					 (json_int_t)c->pending));
	}
	for (i = 0; i < api_ctx->n_env_keys; i++) {
		const char *name = api_ctx->env_keys[i].name;
		const struct api_key_count *c = NULL;
		for (size_t j = 0; j < api_ctx->n_key_counts && !c; j++)
			if (api_ctx->key_counts[j].id == 0 &&
			    strcmp(api_ctx->key_counts[j].name, name) == 0)
				c = &api_ctx->key_counts[j];
		json_t *o = json_pack("{s:s}", "name", name);
		set_count(o, c);
		json_array_append_new(env, o);
	}
	json_int_t other = (json_int_t)api_ctx->key_counts_other;
	pthread_mutex_unlock(&api_ctx->key_mu);
	json_t *o = json_object();
	json_object_set_new(o, "keys", keys);
	json_object_set_new(o, "env_keys", env);
	json_object_set_new(o, "events_uncounted", json_integer(other));
	return http_reply_json(r, 200, o);
}

enum http_result api_keys_create(struct http_req *r)
{
	size_t len;
	const char *body = http_body(r, &len);
	json_error_t jerr;
	json_t *v = json_loadb(body, len, 0, &jerr);
	const char *name = v ? json_string_value(json_object_get(v, "name")) : NULL;
	if (!name || !*name || strlen(name) > 100) {
		json_decref(v);
		return http_reply_error(r, 422, "invalid key",
					"name: required string of 1..100 bytes");
	}
	char key[64], hash[65];
	int64_t id = 0;
	int rc = apikey_generate(key, sizeof(key));
	if (rc == 0) {
		apikey_hash(key, strlen(key), hash);
		rc = store_key_add(api_ctx->store, name, hash, &id);
	}
	if (rc < 0) {
		json_decref(v);
		return api_store_error(r, rc, "cannot create key");
	}
	log_info("api", "key %lld '%s' created by %s", (long long)id, name, http_identity(r));
	char obj[32];
	snprintf(obj, sizeof(obj), "key:%lld", (long long)id);
	store_audit(api_ctx->store, http_identity(r), http_client_addr(r), "key.create", obj, name);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "key", json_string(key));
	json_decref(v);
	return http_reply_json(r, 201, o);
}

enum http_result api_keys_delete(struct http_req *r)
{
	const char *arg = http_path_arg(r);
	char *end = NULL;
	long long id = strtoll(arg, &end, 10);
	if (!*arg || *end || id <= 0)
		return http_reply_error(r, 400, "invalid key id", arg);
	int rc = store_key_revoke(api_ctx->store, id);
	if (rc == SIEM_ENOTFOUND)
		return http_reply_error(r, 404, "not found", arg);
	if (rc < 0)
		return api_store_error(r, rc, "cannot revoke key");
	/* Forget cached answers so the revocation is immediate. */
	pthread_mutex_lock(&api_ctx->key_mu);
	memset(api_ctx->key_cache, 0, sizeof(api_ctx->key_cache));
	pthread_mutex_unlock(&api_ctx->key_mu);
	log_info("api", "key %lld revoked by %s", id, http_identity(r));
	char obj[32];
	snprintf(obj, sizeof(obj), "key:%lld", id);
	store_audit(api_ctx->store, http_identity(r), http_client_addr(r), "key.revoke", obj, NULL);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "revoked", json_true());
	return http_reply_json(r, 200, o);
}
