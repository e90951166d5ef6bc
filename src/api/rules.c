/* rules.c — the rules resource: GET|POST /rules, GET|PUT|DELETE /rules/{id},
 * POST /rules/{id}/enable|disable (POST /rules/test is rules_test.c) on the rule catalog
 * (detect/ruleset.c). Every change is validated by the engine, takes effect at once
 * (detector_set_rules), is stored and is written to the audit log. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/alerts_api.h"
#include "api/api.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "detect/ruleset.h"
#include "store/store_alerts.h"
#include "store/store_stats.h"

#define SUB "rules"

/* ---- JSON ---- */

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static void set_time(json_t *o, const char *k, int64_t us)
{
	char buf[32];
	json_object_set_new(o, k, us ? json_stringn(buf, ts_format(us, buf)) : json_null());
}

/* One running rule into the stats object (under the engine's lock: no calls back). */
static void running_rule(void *ctx, const struct rule_info *ri, uint64_t matches)
{
	json_t *stats = ctx, *st = json_object_get(stats, ri->id);
	if (!st) {
		st = json_object();
		if (!st || json_object_set_new(stats, ri->id, st) < 0)
			return;
	}
	json_t *gb = json_array();
	for (size_t i = 0; gb && i < ri->n_group_by; i++)
		json_array_append_new(gb, json_string(ri->group_by[i]));
	json_object_set_new(st, "matches", json_integer((json_int_t)matches));
	json_object_set_new(st, "group_by", gb ? gb : json_null());
	json_object_set_new(st, "summary", ri->summary ? json_string(ri->summary) : json_null());
	json_object_set_new(st, "used_by", ri->used_by ? json_string(ri->used_by) : json_null());
}

/* Per rule id: its alerts (the store) and, while it runs, its matches since the hub started
 * and how its alerts are grouped and summed up (the engine). */
static void rule_stats(json_t *stats)
{
	store_alerts_rule_stats(api_ctx->store, stats);
	if (alerts_api_ctx.detector)
		detector_rule_counts(alerts_api_ctx.detector, running_rule, stats);
}

/* The os_type and app values of the events this hub has stored (the stats rollups answer):
 * what tells a rule that nothing sends it events. */
#define SEEN_MAX 512
struct seen_buf {
	json_t *json[2];
	const char *v[2][SEEN_MAX];
	struct seen_sources ss;
};

static const struct seen_sources *seen_load(struct seen_buf *b)
{
	static const enum stats_field f[2] = {STATS_OS_TYPE, STATS_APP};
	struct stats_filter flt;
	size_t n[2] = {0, 0};
	memset(&flt, 0, sizeof(flt));
	flt.to = ts_now_us(); /* the last 30 days: what a hub receives now */
	flt.from = flt.to - 30LL * 86400 * 1000000;
	for (int k = 0; k < 2; k++) {
		bool roll;
		b->json[k] = json_object();
		if (!b->json[k] ||
		    store_stats_top(api_ctx->store, &flt, f[k], SEEN_MAX, b->json[k], &roll) < 0)
			return NULL; /* unknown: no warnings rather than wrong ones */
		json_t *vals = json_object_get(b->json[k], "values"), *it;
		size_t i;
		json_array_foreach (vals, i, it) {
			const char *v = json_string_value(json_object_get(it, "value"));
			if (v && n[k] < SEEN_MAX)
				b->v[k][n[k]++] = v;
		}
	}
	b->ss = (struct seen_sources){b->v[0], n[0], b->v[1], n[1]};
	return &b->ss;
}

static void seen_release(struct seen_buf *b)
{
	json_decref(b->json[0]);
	json_decref(b->json[1]);
}

/* Why the rule cannot fire: on no hub (its logsource's mapping says so), or on this one
 * (no stored event is of a source its logsource needs). NULL when it can. */
static json_t *rule_warning(const struct ruleset_entry *e, const struct seen_sources *seen)
{
	char buf[800], what[512];
	if (e->never) {
		snprintf(buf, sizeof(buf), "can never fire: %s", e->never);
		return json_string(buf);
	}
	if (!e->needs || !seen || source_needs_met(e->needs, seen))
		return json_null();
	source_needs_text(e->needs, what, sizeof(what));
	snprintf(buf, sizeof(buf),
		 "cannot fire yet: no event stored on this hub is of its logsource (it needs %s)",
		 what);
	return json_string(buf);
}

static json_t *rule_json(const struct ruleset_entry *e, json_t *stats, bool with_text,
			 const struct seen_sources *seen)
{
	json_t *o = json_object(), *st = stats ? json_object_get(stats, e->id) : NULL;
	json_object_set_new(o, "warning", rule_warning(e, seen));
	set_str(o, "id", e->id);
	set_str(o, "name", e->name);
	set_str(o, "title", e->title);
	set_str(o, "level", e->level);
	json_object_set_new(o, "severity", json_integer(e->severity));
	set_str(o, "author", e->author);
	set_str(o, "status", e->status);
	set_str(o, "description", e->description);
	set_str(o, "kind",
		e->kind == RULE_CORRELATION ? "correlation"
		: e->kind == RULE_FILTER    ? "filter"
					    : "detection");
	set_str(o, "origin", e->origin);
	json_object_set_new(o, "builtin", json_boolean(e->builtin));
	json_object_set_new(o, "enabled", json_boolean(e->enabled));
	json_object_set_new(o, "running", json_boolean(e->enabled && !e->error));
	set_str(o, "error", e->error);
	json_object_set_new(o, "hits",
			    json_integer(json_integer_value(json_object_get(st, "hits"))));
	json_object_set_new(o, "alerts",
			    json_integer(json_integer_value(json_object_get(st, "alerts"))));
	json_object_set_new(o, "open_alerts",
			    json_integer(json_integer_value(json_object_get(st, "open"))));
	json_object_set_new(o, "alerts_24h",
			    json_integer(json_integer_value(json_object_get(st, "alerts_24h"))));
	json_object_set_new(o, "alert_events",
			    json_integer(json_integer_value(json_object_get(st, "events"))));
	json_object_set_new(o, "matches",
			    json_integer(json_integer_value(json_object_get(st, "matches"))));
	static const char *const running[] = {"group_by", "summary", "used_by"};
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
		json_t *v = json_object_get(st, running[i]);
		json_object_set_new(o, running[i], v ? json_incref(v) : json_null());
	}
	json_t *lh = json_object_get(st, "last_hit");
	json_object_set_new(o, "last_hit", lh ? json_incref(lh) : json_null());
	if (!e->builtin) {
		set_time(o, "created_at", e->created_at);
		set_str(o, "created_by", e->created_by);
		set_time(o, "updated_at", e->updated_at);
		set_str(o, "updated_by", e->updated_by);
	}
	if (with_text)
		set_str(o, "yaml", e->text);
	return o;
}

static struct ruleset *ctx_rules(void)
{
	return alerts_api_ctx.rules;
}

static enum http_result no_rules(struct http_req *r)
{
	return http_reply_error(r, 503, "detection is not running", NULL);
}

enum http_result rules_reply_error(struct http_req *r, unsigned status, const char *what,
				   const char *err)
{
	json_t *o = json_object();
	set_str(o, "error", what);
	set_str(o, "detail", err);
	const char *l = strstr(err, "line ");
	if (l && l[5] >= '0' && l[5] <= '9')
		json_object_set_new(o, "line", json_integer(strtol(l + 5, NULL, 10)));
	return http_reply_json(r, status, o);
}

enum http_result rules_reply_too_big(struct http_req *r, size_t limit, const char *what)
{
	char detail[200];
	if (limit == RULE_TEXT_MAX)
		snprintf(detail, sizeof(detail),
			 "%s over %zu bytes (%zu KiB), the limit for a rule", what, limit,
			 limit / 1024);
	else
		snprintf(detail, sizeof(detail),
			 "%s over %zu bytes (%zu KiB), the limit for a rule request (its rule text "
			 "may have up to %d bytes, 64 KiB)",
			 what, limit, limit / 1024, RULE_TEXT_MAX);
	json_t *o = json_object();
	set_str(o, "error", "rule too large");
	set_str(o, "detail", detail);
	json_object_set_new(o, "limit", json_integer((json_int_t)limit));
	return http_reply_json(r, 413, o);
}

/* The rule id of the path ("{id}" or "{id}/enable"), into buf. */
static const char *path_rule_id(struct http_req *r, char *buf, size_t len)
{
	const char *arg = http_path_arg(r);
	size_t n = arg ? strcspn(arg, "/") : 0;
	if (n == 0 || n >= len)
		return NULL;
	memcpy(buf, arg, n);
	buf[n] = '\0';
	return buf;
}

static void audit(struct http_req *r, const char *action, const char *id, const char *detail)
{
	char obj[300];
	snprintf(obj, sizeof(obj), "rule:%s", id);
	store_audit(api_ctx->store, http_identity(r), http_client_addr(r), action, obj, detail);
}

/* Hubs sharing the store (broker mode) read the rules again: the active detector runs the
 * change without a restart. A notice lost is caught up by the next one. */
static void tell_other_hubs(const char *id)
{
	if (store_notify(api_ctx->store, RULES_CHANNEL, id) < 0)
		log_warn(SUB, "cannot tell other hubs that rule '%s' changed", id);
}

/* ---- GET /rules, GET /rules/{id} ---- */

enum http_result api_rules_list(struct http_req *r)
{
	struct ruleset *rs = ctx_rules();
	if (!rs)
		return no_rules(r);
	json_t *stats = json_object(), *list = json_array();
	struct seen_buf sb = {{NULL, NULL}, {{NULL}}, {NULL, 0, NULL, 0}};
	const struct seen_sources *seen = seen_load(&sb);
	rule_stats(stats);
	ruleset_lock(rs);
	for (size_t i = 0; i < ruleset_len(rs); i++)
		json_array_append_new(list, rule_json(ruleset_at(rs, i), stats, false, seen));
	ruleset_unlock(rs);
	seen_release(&sb);
	json_decref(stats);
	json_t *o = json_object();
	json_object_set_new(o, "rules", list);
	return http_reply_json(r, 200, o);
}

enum http_result api_rules_get(struct http_req *r)
{
	struct ruleset *rs = ctx_rules();
	char idbuf[256];
	const char *id = path_rule_id(r, idbuf, sizeof(idbuf));
	if (!rs)
		return no_rules(r);
	if (!id)
		return http_reply_error(r, 400, "invalid rule id", NULL);
	json_t *stats = json_object(), *o = NULL;
	struct seen_buf sb = {{NULL, NULL}, {{NULL}}, {NULL, 0, NULL, 0}};
	const struct seen_sources *seen = seen_load(&sb);
	rule_stats(stats);
	ruleset_lock(rs);
	struct ruleset_entry *e = ruleset_find(rs, id);
	if (e)
		o = rule_json(e, stats, true, seen);
	ruleset_unlock(rs);
	seen_release(&sb);
	json_decref(stats);
	if (!o)
		return http_reply_error(r, 404, "not found", id);
	return http_reply_json(r, 200, o);
}

/* ---- POST /rules ---- */

/* The rule text of a request: a JSON {"yaml": "..."} body, or the body itself. NULL when
 * the body or the text is over its limit: a 413 was queued into *res. The limits are checked
 * before anything is parsed, so that parsing costs a bounded time. */
static const char *body_text(struct http_req *r, json_t **json, size_t *len, enum http_result *res)
{
	size_t n;
	const char *b = http_body(r, &n);
	const char *ct = http_header(r, "Content-Type");
	bool is_json = ct && strncmp(ct, "application/json", 16) == 0;
	*json = NULL;
	*len = n;
	if (is_json && n > RULE_JSON_BODY_MAX) {
		*res = rules_reply_too_big(r, RULE_JSON_BODY_MAX, "JSON body");
		return NULL;
	}
	if (is_json) {
		*json = json_loadb(b, n, 0, NULL);
		const char *y = json_string_value(json_object_get(*json, "yaml"));
		if (y) {
			*len = strlen(y);
			b = y;
		}
	}
	if (*len > RULE_TEXT_MAX) {
		json_decref(*json);
		*json = NULL;
		*res = rules_reply_too_big(r, RULE_TEXT_MAX, "rule text");
		return NULL;
	}
	return b;
}

struct create_ctx {
	struct ruleset_entry *v;
	size_t n, cap;
	char err[600];
};

static int create_doc(void *arg, const char *doc, size_t n, int line)
{
	struct create_ctx *c = arg;
	char err[512];
	char *text = strndup(doc, n);
	if (!text)
		return -ENOMEM;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		struct ruleset_entry *v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			free(text);
			return -ENOMEM;
		}
		c->v = v;
		c->cap = cap;
	}
	memset(&c->v[c->n], 0, sizeof(c->v[0]));
	int rc = ruleset_entry_describe(&c->v[c->n], text, "api", err, sizeof(err));
	free(text);
	if (rc < 0) {
		snprintf(c->err, sizeof(c->err), "document at line %d: %s", line, err);
		return rc;
	}
	c->n++;
	return 0;
}

enum http_result api_rules_create(struct http_req *r)
{
	struct ruleset *rs = ctx_rules();
	struct create_ctx c = {0};
	char err[600];
	json_t *json = NULL;
	size_t len;
	int rc;
	enum http_result res = HTTP_DONE;
	if (!rs)
		return no_rules(r);
	const char *text = body_text(r, &json, &len, &res);
	if (!text)
		return res;
	/* The whole body first, so that error lines count from its first line. */
	struct rule **rules = NULL;
	size_t nr = 0;
	if ((rc = rule_compile(text, len, "api", &rules, &nr, err, sizeof(err))) < 0) {
		json_decref(json);
		return rules_reply_error(r, 422, "invalid rule", err);
	}
	for (size_t i = 0; i < nr; i++)
		rule_free(rules[i]);
	free(rules);
	if (nr == 0) {
		json_decref(json);
		return rules_reply_error(r, 422, "invalid rule", "no rule in the body");
	}
	rc = ruleset_each_doc(text, len, create_doc, &c);
	json_decref(json);
	if (rc < 0) {
		for (size_t i = 0; i < c.n; i++)
			ruleset_entry_release(&c.v[i]);
		free(c.v);
		return rules_reply_error(r, 422, "invalid rule", c.err);
	}
	bool enabled =
	    !(http_query(r, "enabled") && strcmp(http_query(r, "enabled"), "false") == 0);
	struct seen_buf sb = {{NULL, NULL}, {{NULL}}, {NULL, 0, NULL, 0}};
	const struct seen_sources *seen = seen_load(&sb);
	ruleset_lock(rs);
	size_t n0 = ruleset_len(rs);
	for (size_t i = 0; i < c.n; i++) {
		bool dup = ruleset_find(rs, c.v[i].id) != NULL;
		for (size_t k = 0; k < i && !dup; k++)
			dup = strcmp(c.v[k].id, c.v[i].id) == 0;
		if (dup) {
			snprintf(err, sizeof(err), "a rule with id '%s' exists", c.v[i].id);
			res = http_reply_error(r, 409, "conflict", err);
			goto undo;
		}
	}
	int64_t now = ts_now_us();
	for (size_t i = 0; i < c.n; i++) {
		c.v[i].enabled = enabled;
		c.v[i].created_at = c.v[i].updated_at = now;
		c.v[i].created_by = strdup(http_identity(r));
		c.v[i].updated_by = strdup(http_identity(r));
		if (ruleset_push(rs, &c.v[i]) < 0) {
			res = http_reply_error(r, 500, "out of memory", NULL);
			goto undo;
		}
	}
	if ((rc = ruleset_apply(rs, err, sizeof(err))) < 0) {
		res = rules_reply_error(r, 422, "rule refused by the engine", err);
		goto undo;
	}
	for (size_t i = n0; i < ruleset_len(rs); i++) {
		struct ruleset_entry *e = ruleset_at(rs, i);
		if ((rc = store_rule_put(api_ctx->store, e->id, "api", e->text, e->enabled,
					 http_identity(r))) < 0) {
			for (size_t k = n0; k < i; k++)
				store_rule_delete(api_ctx->store, ruleset_at(rs, k)->id);
			res = api_store_error(r, rc, "cannot store the rule");
			goto undo;
		}
	}
	json_t *list = json_array();
	for (size_t i = n0; i < ruleset_len(rs); i++) {
		struct ruleset_entry *e = ruleset_at(rs, i);
		audit(r, "rule.create", e->id, e->title);
		log_info(SUB, "rule '%s' added by %s", e->id, http_identity(r));
		tell_other_hubs(e->id);
		json_array_append_new(list, rule_json(e, NULL, false, seen));
	}
	ruleset_unlock(rs);
	seen_release(&sb);
	for (size_t i = 0; i < c.n; i++)
		ruleset_entry_release(&c.v[i]);
	free(c.v);
	json_t *o = json_object();
	json_object_set_new(o, "rules", list);
	return http_reply_json(r, 201, o);
undo:
	ruleset_truncate(rs, n0);
	ruleset_apply(rs, err, sizeof(err));
	ruleset_unlock(rs);
	seen_release(&sb);
	for (size_t i = 0; i < c.n; i++)
		ruleset_entry_release(&c.v[i]);
	free(c.v);
	return res;
}

/* ---- PUT /rules/{id}, enable, disable, DELETE ---- */

static enum http_result set_enabled(struct http_req *r, const char *id, bool enabled)
{
	struct ruleset *rs = ctx_rules();
	char err[600];
	ruleset_lock(rs);
	struct ruleset_entry *e = ruleset_find(rs, id);
	if (!e) {
		ruleset_unlock(rs);
		return http_reply_error(r, 404, "not found", id);
	}
	bool was = e->enabled;
	e->enabled = enabled;
	int rc = ruleset_apply(rs, err, sizeof(err));
	if (rc == 0)
		rc = store_rule_set_enabled(api_ctx->store, id, e->builtin ? "builtin" : "api",
					    enabled, http_identity(r));
	if (rc < 0) {
		char err2[300];
		e->enabled = was;
		ruleset_apply(rs, err2, sizeof(err2));
		ruleset_unlock(rs);
		return rc == SIEM_ESCHEMA || rc == SIEM_EPARSE
			   ? rules_reply_error(r, 409, "the rule set would be invalid", err)
			   : api_store_error(r, rc, "cannot change the rule");
	}
	if (!e->builtin) {
		e->updated_at = ts_now_us();
		free(e->updated_by);
		e->updated_by = strdup(http_identity(r));
	}
	if (was != enabled)
		audit(r, enabled ? "rule.enable" : "rule.disable", id, NULL);
	tell_other_hubs(id);
	json_t *stats = json_object();
	rule_stats(stats);
	json_t *o = rule_json(e, stats, false, NULL);
	json_decref(stats);
	ruleset_unlock(rs);
	return http_reply_json(r, 200, o);
}

/* POST /rules/{id}/enable and /disable. */
static enum http_result enable_path(struct http_req *r, bool enabled)
{
	char idbuf[256];
	const char *id = path_rule_id(r, idbuf, sizeof(idbuf));
	if (!ctx_rules())
		return no_rules(r);
	return id ? set_enabled(r, id, enabled) : http_reply_error(r, 400, "invalid rule id", NULL);
}

enum http_result api_rules_enable(struct http_req *r)
{
	return enable_path(r, true);
}

enum http_result api_rules_disable(struct http_req *r)
{
	return enable_path(r, false);
}

enum http_result api_rules_put(struct http_req *r)
{
	struct ruleset *rs = ctx_rules();
	char idbuf[256], err[600];
	const char *id = path_rule_id(r, idbuf, sizeof(idbuf));
	json_t *json = NULL;
	size_t len;
	if (!rs)
		return no_rules(r);
	if (!id)
		return http_reply_error(r, 400, "invalid rule id", NULL);
	enum http_result res = HTTP_DONE;
	const char *text = body_text(r, &json, &len, &res);
	if (!text)
		return res;
	/* {"enabled": bool} alone switches the rule on or off. */
	json_t *en = json_object_get(json, "enabled");
	if (json_is_boolean(en) && !json_object_get(json, "yaml")) {
		bool on = json_is_true(en);
		json_decref(json);
		return set_enabled(r, id, on);
	}
	struct ruleset_entry e;
	memset(&e, 0, sizeof(e));
	char *t = strndup(text, len);
	int rc = t ? ruleset_entry_describe(&e, t, "api", err, sizeof(err)) : -ENOMEM;
	free(t);
	json_decref(json);
	if (rc < 0)
		return rules_reply_error(r, 422, "invalid rule", err);
	if (strcmp(e.id, id) != 0) {
		snprintf(err, sizeof(err), "the rule's id is '%s', not '%s'", e.id, id);
		ruleset_entry_release(&e);
		return rules_reply_error(r, 422, "invalid rule", err);
	}
	ruleset_lock(rs);
	struct ruleset_entry *old = ruleset_find(rs, id);
	if (!old || old->builtin) {
		ruleset_unlock(rs);
		ruleset_entry_release(&e);
		return old ? http_reply_error(r, 409, "conflict",
					      "built-in rules can only be enabled or disabled")
			   : http_reply_error(r, 404, "not found", id);
	}
	struct ruleset_entry saved = *old;
	e.enabled = saved.enabled;
	e.created_at = saved.created_at;
	e.created_by = saved.created_by ? strdup(saved.created_by) : NULL;
	e.updated_at = ts_now_us();
	e.updated_by = strdup(http_identity(r));
	*old = e;
	if ((rc = ruleset_apply(rs, err, sizeof(err))) < 0 ||
	    (rc = store_rule_put(api_ctx->store, id, "api", old->text, old->enabled,
				 http_identity(r))) < 0) {
		ruleset_entry_release(old);
		*old = saved;
		char err2[300];
		ruleset_apply(rs, err2, sizeof(err2));
		ruleset_unlock(rs);
		return rc == SIEM_ESCHEMA || rc == SIEM_EPARSE
			   ? rules_reply_error(r, 422, "rule refused by the engine", err)
			   : api_store_error(r, rc, "cannot store the rule");
	}
	ruleset_entry_release(&saved);
	audit(r, "rule.update", id, old->title);
	tell_other_hubs(id);
	json_t *o = rule_json(old, NULL, true, NULL);
	ruleset_unlock(rs);
	return http_reply_json(r, 200, o);
}

enum http_result api_rules_delete(struct http_req *r)
{
	struct ruleset *rs = ctx_rules();
	char idbuf[256], err[600];
	const char *id = path_rule_id(r, idbuf, sizeof(idbuf));
	if (!rs)
		return no_rules(r);
	if (!id)
		return http_reply_error(r, 400, "invalid rule id", NULL);
	ruleset_lock(rs);
	struct ruleset_entry *e = ruleset_find(rs, id);
	if (!e || e->builtin) {
		ruleset_unlock(rs);
		return e ? http_reply_error(
			       r, 409, "conflict",
			       "built-in rules cannot be deleted; disable them instead")
			 : http_reply_error(r, 404, "not found", id);
	}
	struct ruleset_entry saved;
	size_t idx = ruleset_remove(rs, e, &saved);
	int rc = ruleset_apply(rs, err, sizeof(err));
	if (rc == 0)
		rc = store_rule_delete(api_ctx->store, saved.id);
	if (rc < 0) {
		ruleset_reinsert(rs, idx, &saved);
		char err2[300];
		ruleset_apply(rs, err2, sizeof(err2));
		ruleset_unlock(rs);
		return rc == SIEM_ESCHEMA || rc == SIEM_EPARSE
			   ? rules_reply_error(r, 409, "other rules refer to it", err)
			   : api_store_error(r, rc, "cannot delete the rule");
	}
	audit(r, "rule.delete", saved.id, saved.title);
	tell_other_hubs(saved.id);
	log_info(SUB, "rule '%s' deleted by %s", saved.id, http_identity(r));
	json_t *o = json_object();
	set_str(o, "id", saved.id);
	json_object_set_new(o, "deleted", json_true());
	ruleset_unlock(rs);
	ruleset_entry_release(&saved);
	return http_reply_json(r, 200, o);
}
