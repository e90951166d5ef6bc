/* settings.c — the parts of the Settings page that read or act on the running hub rather than
 * on the store: its options with the secrets masked (GET /config), its sources' health
 * (GET /sources), a test message on a notification channel (POST
 * /alerts/channels/{name}/test). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "alert/alert.h"
#include "api/alerts_api.h"
#include "api/api.h"
#include "core/config.h"
#include "core/err.h"
#include "source/syslog_listen.h"

#define MASK "********"

/* Is an option a secret by its variable's name, whatever its table says? (SIEM_..._PASSWORD,
 * ..._PASSWORD_HASH, ..._TOKEN, ...SECRET..., ...API_KEYS; not SIEM_MAX_PASSWORD_CHECKS.) */
static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && strcmp(s + n - m, tail) == 0;
}

static bool secret_name(const char *env)
{
	return env && (ends_with(env, "_PASSWORD") || ends_with(env, "_PASSWORD_HASH") ||
		       ends_with(env, "_TOKEN") || ends_with(env, "API_KEYS") ||
		       strstr(env, "SECRET") != NULL);
}

/* A value with its password masked: "scheme://user:***@host/..." or "... password=*** ...".
 * Anything else that holds a password is masked whole. */
static json_t *masked_url(const char *v)
{
	char out[1024];
	const char *scheme = strstr(v, "://");
	if (scheme && !strcasestr(v, "password")) {
		const char *host = scheme + 3, *at = strchr(host, '@');
		const char *colon = at ? memchr(host, ':', (size_t)(at - host)) : NULL;
		if (colon) {
			snprintf(out, sizeof(out), "%.*s:" MASK "%s", (int)(colon - v), v, at);
			return json_string(out);
		}
	}
	return json_string(MASK);
}

/* {"options": [{"name", "env", "value", "default", "secret"}]}: every option of `minisiem
 * serve` as it runs; a secret's value is "********" when set (null when not), a URL's
 * password is masked. */
enum http_result api_config(struct http_req *r)
{
	const struct config *c = api_ctx->config;
	json_t *list = json_array();
	for (size_t i = 0; c && i < c->n; i++) {
		const struct opt_def *d = &c->defs[i];
		const char *v = c->val[i];
		bool secret = d->secret || secret_name(d->env);
		json_t *value;
		if (d->kind == OPT_FLAG && d->name)
			value = json_boolean(config_flag(c, d->name));
		else if (!v)
			value = json_null();
		else if (secret && *v)
			value = json_string(MASK);
		else if (url_has_password(v))
			value = masked_url(v);
		else
			value = json_string(v);
		json_t *o = json_pack("{s:s?, s:s?, s:o, s:b}", "name", d->name, "env", d->env,
				      "value", value, "secret", secret);
		json_object_set_new(o, "default",
				    d->def && !secret ? json_string(d->def) : json_null());
		json_array_append_new(list, o);
	}
	json_t *o = json_object();
	json_object_set_new(o, "options", list);
	json_object_set_new(o, "version", json_string(api_ctx->version ? api_ctx->version : ""));
	return http_reply_json(r, 200, o);
}

/* 200 when the channel took the message, 502 with its error when not, 404 for no such
 * channel. The send runs on this request's thread, bounded by the channel's timeout. */
enum http_result api_channel_test(struct http_req *r)
{
	const char *arg = http_path_arg(r); /* "{name}/test" */
	char name[64], err[256];
	size_t n = strcspn(arg, "/");
	if (n == 0 || n >= sizeof(name))
		return http_reply_error(r, 404, "not found", "no such channel");
	snprintf(name, sizeof(name), "%.*s", (int)n, arg);
	if (!alerts_api_ctx.alerts)
		return http_reply_error(r, 404, "not found", "alerting is off");
	int rc =
	    alerts_channel_test(alerts_api_ctx.alerts, name, http_identity(r), err, sizeof(err));
	if (rc == SIEM_ENOTFOUND)
		return http_reply_error(r, 404, "not found", err);
	store_audit(api_ctx->store, http_identity(r), http_client_addr(r), "channel.test", name,
		    rc == 0 ? "delivered" : err);
	if (rc < 0)
		return http_reply_error(r, 502, "not delivered", err);
	return http_reply_json(r, 200, json_pack("{s:s, s:b}", "channel", name, "delivered", 1));
}

/* The files the tailer follows (at most this many listed). */
#define SOURCES_FILES_MAX 500

/* {"tail": {"dir", "files": [{"path", "offset", "size", "behind"}]} | null,
 *  "syslog": [{"protocol", "address", "received", ...}],
 *  "agents": [{"name", "id", "events", "last_event"}]}: what feeds the hub, and how far each
 * part has come. A file's offset is what the store has committed; size is the file's now
 * (null when it is gone), behind the bytes not read yet. */
enum http_result api_sources(struct http_req *r)
{
	json_t *o = json_object(), *tail = json_null();
	if (api_ctx->tail_dir && *api_ctx->tail_dir) {
		json_t *files = json_array(), *f;
		size_t i;
		int rc = store_list_offsets(api_ctx->store, SOURCES_FILES_MAX, files);
		if (rc < 0) {
			json_decref(files);
			json_decref(o);
			return api_store_error(r, rc, "cannot read file offsets");
		}
		json_array_foreach (files, i, f) {
			struct stat st;
			const char *path = json_string_value(json_object_get(f, "path"));
			json_int_t off = json_integer_value(json_object_get(f, "offset"));
			bool here = path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
			json_object_set_new(f, "size",
					    here ? json_integer(st.st_size) : json_null());
			json_object_set_new(f, "behind",
					    here && st.st_size > off
						? json_integer(st.st_size - off)
						: json_integer(0));
		}
		tail = json_pack("{s:s, s:o}", "dir", api_ctx->tail_dir, "files", files);
	}
	json_object_set_new(o, "tail", tail);
	json_t *sys = json_array();
	pthread_mutex_lock(&api_ctx->sources_mu); /* the listener stops before the server */
	syslog_listen_status(api_ctx->syslog, sys);
	pthread_mutex_unlock(&api_ctx->sources_mu);
	json_object_set_new(o, "syslog", sys);
	json_t *agents = json_array();
	pthread_mutex_lock(&api_ctx->key_mu);
	for (size_t i = 0; i < api_ctx->n_key_counts; i++) {
		const struct api_key_count *c = &api_ctx->key_counts[i];
		char t[32];
		ts_format(c->last_us, t);
		json_array_append_new(agents,
				      json_pack("{s:s, s:o, s:I, s:s}", "name", c->name, "id",
						c->id ? json_integer(c->id) : json_null(), "events",
						(json_int_t)c->events, "last_event", t));
	}
	pthread_mutex_unlock(&api_ctx->key_mu);
	json_object_set_new(o, "agents", agents);
	return http_reply_json(r, 200, o);
}
