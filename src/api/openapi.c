/* openapi.c — GET /openapi.json: an OpenAPI 3.1 description of the API made at run time from
 * the route table the server uses (api_routes[] and its documentation columns), so that the
 * document and the routes cannot drift apart. No login, like /health. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/alerts_api.h"
#include "api/api.h"
#include "api/web_api.h"

static const struct {
	unsigned code;
	const char *text;
} reasons[] = {
    {200, "OK"},
    {201, "Created"},
    {304, "Not modified (If-None-Match)"},
    {400, "Invalid request: a query parameter or the body, named in detail"},
    {401, "Missing or invalid credentials"},
    {403, "The admin role is needed"},
    {404, "Not found"},
    {409, "Conflict with the current state"},
    {413, "Request body too large"},
    {415, "Unsupported media type or content encoding"},
    {422, "The body is well-formed but invalid"},
    {429, "Too many requests: see Retry-After"},
    {500, "Internal error"},
    {503, "Unavailable for now: see Retry-After"},
};

static const char *reason(unsigned code)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].text;
	return "Answer";
}

static json_t *schema(const char *type)
{
	return json_pack("{s:s}", "type", type);
}

/* {"type": ctype: {"schema": ...}} for the route's successful answers. */
static json_t *success_content(const struct http_route *rt)
{
	const char *ctype = "application/json";
	json_t *sch = schema("object");
	size_t n = strlen(rt->path);
	if (rt->fn == http_static_serve) {
		ctype =
		    strcmp(rt->path, "/assets/") == 0 ? "application/octet-stream" : "text/html";
		json_decref(sch);
		sch = schema("string");
	} else if (rt->fn == api_metrics) {
		ctype = "text/plain";
		json_decref(sch);
		sch = schema("string");
	} else if (rt->fn == api_alerts_stream ||
		   (n >= 7 && strcmp(rt->path + n - 7, "/stream") == 0)) { /* event streams */
		ctype = "text/event-stream";
		json_decref(sch);
		sch = schema("string");
	}
	return json_pack("{s:{s:o}}", ctype, "schema", sch);
}

static void add_response(json_t *responses, const struct http_route *rt, unsigned code)
{
	char key[8];
	snprintf(key, sizeof(key), "%u", code);
	if (json_object_get(responses, key))
		return;
	json_t *resp = json_pack("{s:s}", "description", reason(code));
	if (code >= 400)
		json_object_set_new(resp, "content",
				    json_pack("{s:{s:{s:s}}}", "application/json", "schema", "$ref",
					      "#/components/schemas/Error"));
	else if (code != 304 && code != 204)
		json_object_set_new(resp, "content", success_content(rt));
	json_object_set_new(responses, key, resp);
}

static json_t *parameters(const struct http_route *rt, const char *pattern)
{
	json_t *list = json_array();
	if (strstr(pattern, "{id}"))
		json_array_append_new(list,
				      json_pack("{s:s,s:s,s:b,s:o}", "name", "id", "in", "path",
						"required", 1, "schema", schema("string")));
	for (const char *p = rt->query ? rt->query : ""; *p;) {
		size_t n = strcspn(p, ",");
		const char *colon = memchr(p, ':', n);
		size_t nl = colon ? (size_t)(colon - p) : n;
		char name[64], type[16];
		snprintf(name, sizeof(name), "%.*s", (int)nl, p);
		snprintf(type, sizeof(type), "%.*s", colon ? (int)(n - nl - 1) : 6,
			 colon ? colon + 1 : "string");
		json_array_append_new(list, json_pack("{s:s,s:s,s:o}", "name", name, "in", "query",
						      "schema", schema(type)));
		p += n + (p[n] == ',');
	}
	return list;
}

static json_t *request_body(const struct http_route *rt)
{
	json_t *content = json_object();
	const char *types = rt->types ? rt->types : "application/json";
	bool optional = strstr(types, "*none*") != NULL;
	for (const char *p = types; *p;) {
		size_t n = strcspn(p, ",");
		char t[64];
		snprintf(t, sizeof(t), "%.*s", (int)n, p);
		if (strcmp(t, "*none*") != 0) {
			bool ndjson = strstr(t, "ndjson") != NULL;
			json_object_set_new(content, t,
					    json_pack("{s:o}", "schema",
						      ndjson ? schema("string") : json_object()));
		}
		p += n + (p[n] == ',');
	}
	json_t *body = json_pack("{s:o,s:b}", "content", content, "required", !optional);
	if (optional)
		json_object_set_new(body, "description",
				    json_string("Without a Content-Type the body is read as JSON"));
	return body;
}

/* "GET" "/alerts/{id}/ack" -> "get_alerts_id_ack" */
static void operation_id(const char *method, const char *pattern, char *out, size_t n)
{
	size_t o = 0;
	for (const char *m = method; *m && o + 1 < n; m++)
		out[o++] = (char)(*m >= 'A' && *m <= 'Z' ? *m - 'A' + 'a' : *m);
	for (const char *p = pattern; *p && o + 1 < n; p++) {
		char c = *p;
		bool word =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (word)
			out[o++] = c;
		else if (c == '/' || c == '-' || c == '.')
			out[o++] = '_';
	}
	while (o > 0 && out[o - 1] == '_')
		o--;
	if (o == strlen(method)) /* "/" */
		o += (size_t)snprintf(out + o, n - o, "_root");
	out[o < n ? o : n - 1] = '\0';
}

static json_t *operation(const struct http_route *rt, const char *pattern)
{
	char id[160];
	operation_id(rt->method, pattern, id, sizeof(id));
	char tag[64];
	const char *seg = pattern + 1;
	size_t tn = strcspn(seg, "/.{");
	snprintf(tag, sizeof(tag), "%.*s", (int)(tn ? tn : 9), tn ? seg : "dashboard");
	if (rt->fn == http_static_serve)
		snprintf(tag, sizeof(tag), "dashboard");
	json_t *op = json_pack("{s:s,s:s,s:[s]}", "summary", rt->summary ? rt->summary : rt->path,
			       "operationId", id, "tags", tag);
	if (rt->auth == AUTH_NONE)
		json_object_set_new(op, "security", json_array());
	else
		json_object_set_new(
		    op, "security",
		    json_pack("[{s:[]}]", rt->auth == AUTH_APIKEY ? "apiKey" : "jwt"));
	json_t *params = parameters(rt, pattern);
	if (json_array_size(params))
		json_object_set_new(op, "parameters", params);
	else
		json_decref(params);
	if (rt->body)
		json_object_set_new(op, "requestBody", request_body(rt));
	json_t *responses = json_object();
	for (const char *p = rt->codes ? rt->codes : "200"; *p;) {
		add_response(responses, rt, (unsigned)strtoul(p, NULL, 10));
		p += strcspn(p, ",");
		p += *p == ',';
	}
	/* what the table implies */
	if (rt->query || rt->body)
		add_response(responses, rt, 400);
	if (rt->auth != AUTH_NONE)
		add_response(responses, rt, 401);
	if (rt->admin)
		add_response(responses, rt, 403);
	if (rt->body)
		add_response(responses, rt, 413);
	if (rt->body && rt->types)
		add_response(responses, rt, 415);
	json_object_set_new(op, "responses", responses);
	return op;
}

json_t *api_openapi_document(const char *prefix)
{
	json_t *paths = json_object();
	for (size_t i = 0; i < api_nroutes; i++) {
		const struct http_route *rt = &api_routes[i];
		char pattern[256], method[16];
		http_route_pattern(rt, pattern, sizeof(pattern));
		size_t m = 0;
		for (; rt->method[m] && m + 1 < sizeof(method); m++)
			method[m] = (char)(rt->method[m] >= 'A' && rt->method[m] <= 'Z'
					       ? rt->method[m] - 'A' + 'a'
					       : rt->method[m]);
		method[m] = '\0';
		json_t *item = json_object_get(paths, pattern);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, pattern, item);
		}
		json_object_set_new(item, method, operation(rt, pattern));
	}
	char server[160];
	snprintf(server, sizeof(server), "%s/", prefix ? prefix : "");
	return json_pack(
	    "{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o,s:{s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}},"
	    "s:{s:{s:s,s:{s:{s:s},s:{}},s:[s]}}}}",
	    "openapi", "3.1.0", "info", "title", "minisiem", "version",
	    api_ctx && api_ctx->version ? api_ctx->version : "dev", "description",
	    "The minisiem hub's HTTP API. Errors are {\"error\", \"detail\"}.", "servers", "url",
	    server, "paths", paths, "components", "securitySchemes", "apiKey", "type", "apiKey",
	    "in", "header", "name", "X-API-Key", "jwt", "type", "http", "scheme", "bearer",
	    "bearerFormat", "JWT", "schemas", "Error", "type", "object", "properties", "error",
	    "type", "string", "detail", "required", "error");
}

enum http_result api_openapi(struct http_req *r)
{
	json_t *doc = api_openapi_document(http_prefix(r));
	if (!doc)
		return http_reply_error(r, 500, "cannot build the document", NULL);
	return http_reply_json(r, 200, doc);
}
