/* dashboards.c — GET|POST /dashboards, GET|PUT|DELETE /dashboards/{id}: the dashboards a
 * user composes in the web UI (named lists of widgets, each a chart type and a query), kept
 * in the main database per user. The hub checks their shape, not what the queries mean. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/web_api.h"
#include "core/err.h"
#include "store/dashboards.h"

#define NAME_MAX_LEN 200
#define MAX_WIDGETS 50
#define SPEC_MAX (64 * 1024)

static const char *const widget_types[] = {"timeseries", "top", "number", "table"};

/* {"name": "...", "widgets": [{"type": ..., "title"?: "...", "query"?: {...}, ...}]} ->
 * name and the widgets' compact JSON (malloc'd). err says what is wrong. */
static int parse_body(struct http_req *r, const char **name, char **spec, json_t **root, char *err,
		      size_t errlen)
{
	size_t len;
	const char *body = http_body(r, &len);
	json_error_t je;
	*spec = NULL;
	if (!(*root = json_loadb(body, len, 0, &je))) {
		snprintf(err, errlen, "line %d: %s", je.line, je.text);
		return SIEM_EPARSE;
	}
	json_t *n = json_object_get(*root, "name"), *w = json_object_get(*root, "widgets");
	if (!json_is_object(*root)) {
		snprintf(err, errlen, "the body must be an object");
		return SIEM_ESCHEMA;
	}
	if (!json_is_string(n) || json_string_length(n) == 0 ||
	    json_string_length(n) > NAME_MAX_LEN ||
	    strlen(json_string_value(n)) != json_string_length(n)) {
		snprintf(err, errlen, "name: a string of 1..%d characters", NAME_MAX_LEN);
		return SIEM_ESCHEMA;
	}
	if (!w)
		w = json_array();
	else
		json_incref(w);
	if (!json_is_array(w) || json_array_size(w) > MAX_WIDGETS) {
		json_decref(w);
		snprintf(err, errlen, "widgets: an array of at most %d widgets", MAX_WIDGETS);
		return SIEM_ESCHEMA;
	}
	size_t i;
	json_t *x;
	json_array_foreach (w, i, x) {
		const char *t = json_string_value(json_object_get(x, "type"));
		bool ok = false;
		for (size_t k = 0; t && k < sizeof(widget_types) / sizeof(widget_types[0]); k++)
			ok |= strcmp(t, widget_types[k]) == 0;
		json_t *q = json_object_get(x, "query"), *title = json_object_get(x, "title");
		if (!json_is_object(x) || !ok || (q && !json_is_object(q)) ||
		    (title && !json_is_string(title))) {
			json_decref(w);
			snprintf(
			    err, errlen,
			    "widgets[%zu]: an object with type timeseries, top, number or table,"
			    " an optional string title and an optional query object",
			    i);
			return SIEM_ESCHEMA;
		}
	}
	*spec = json_dumps(w, JSON_COMPACT);
	json_decref(w);
	if (!*spec)
		return -ENOMEM;
	if (strlen(*spec) > SPEC_MAX) {
		free(*spec);
		*spec = NULL;
		snprintf(err, errlen, "widgets: larger than %d bytes", SPEC_MAX);
		return SIEM_ETOOBIG;
	}
	*name = json_string_value(n);
	return 0;
}

static int parse_id(struct http_req *r, int64_t *id)
{
	const char *v = http_path_arg(r);
	char *end = NULL;
	errno = 0;
	long long x = v ? strtoll(v, &end, 10) : 0;
	if (!v || !*v || errno || *end || x <= 0)
		return SIEM_EPARSE;
	*id = x;
	return 0;
}

static enum http_result store_fail(struct http_req *r, int rc)
{
	if (rc == SIEM_ENOTFOUND)
		return http_reply_error(r, 404, "not found", "no such dashboard");
	if (rc == -EEXIST)
		return http_reply_error(r, 409, "conflict", "a dashboard of that name exists");
	return api_store_error(r, rc, "store failed");
}

static enum http_result reply_one(struct http_req *r, unsigned status, int64_t id)
{
	json_t *o = NULL;
	int rc = store_dashboard_get(api_ctx->store, http_identity(r), id, &o);
	if (rc < 0)
		return store_fail(r, rc);
	return http_reply_json(r, status, o);
}

enum http_result api_dashboards_list(struct http_req *r)
{
	json_t *list = json_array();
	int rc = store_dashboard_list(api_ctx->store, http_identity(r), list);
	if (rc < 0) {
		json_decref(list);
		return store_fail(r, rc);
	}
	json_t *o = json_object();
	json_object_set_new(o, "dashboards", list);
	return http_reply_json(r, 200, o);
}

static enum http_result write_one(struct http_req *r, int64_t id)
{
	const char *name = NULL;
	char *spec = NULL, err[200];
	json_t *root = NULL;
	enum http_result res;
	int rc = parse_body(r, &name, &spec, &root, err, sizeof(err));
	if (rc == SIEM_EPARSE)
		res = http_reply_error(r, 400, "malformed JSON", err);
	else if (rc == SIEM_ESCHEMA)
		res = http_reply_error(r, 422, "invalid dashboard", err);
	else if (rc == SIEM_ETOOBIG)
		res = http_reply_error(r, 413, "dashboard too large", err);
	else if (rc < 0)
		res = http_reply_error(r, 500, "out of memory", NULL);
	else if (id == 0)
		res = (rc = store_dashboard_add(api_ctx->store, http_identity(r), name, spec,
						&id)) < 0
			  ? store_fail(r, rc)
			  : reply_one(r, 201, id);
	else
		res = (rc = store_dashboard_update(api_ctx->store, http_identity(r), id, name,
						   spec)) < 0
			  ? store_fail(r, rc)
			  : reply_one(r, 200, id);
	free(spec);
	json_decref(root);
	return res;
}

enum http_result api_dashboards_create(struct http_req *r)
{
	return write_one(r, 0);
}

enum http_result api_dashboards_get(struct http_req *r)
{
	int64_t id;
	if (parse_id(r, &id) < 0)
		return http_reply_error(r, 400, "invalid dashboard id", "a positive integer");
	return reply_one(r, 200, id);
}

enum http_result api_dashboards_update(struct http_req *r)
{
	int64_t id;
	if (parse_id(r, &id) < 0)
		return http_reply_error(r, 400, "invalid dashboard id", "a positive integer");
	return write_one(r, id);
}

enum http_result api_dashboards_delete(struct http_req *r)
{
	int64_t id;
	if (parse_id(r, &id) < 0)
		return http_reply_error(r, 400, "invalid dashboard id", "a positive integer");
	int rc = store_dashboard_delete(api_ctx->store, http_identity(r), id);
	if (rc < 0)
		return store_fail(r, rc);
	json_t *o = json_object();
	json_object_set_new(o, "deleted", json_integer(id));
	return http_reply_json(r, 200, o);
}
