/* alerts_api.h — the alerts and rules resources (api/alerts.c, api/rules.c, api/rules_test.c):
 * their context, handlers and route-table fragment, and the POST /rules/test worker pool. */
#ifndef SIEM_ALERTS_API_H
#define SIEM_ALERTS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/detect.h"
#include "http/http.h"
#include "store/store.h"

struct alerts;
struct ruleset;

/* ==== POST /rules/test: tests scanned by a small pool of workers, off the HTTP threads ==== */

#define RULE_TEST_BUDGET_MS 5000 /* scanning time of one test; past it, what was found */

struct ruletest_pool;
/* Start the workers; budget_ms 0 for RULE_TEST_BUDGET_MS. */
int ruletest_pool_start(struct ruletest_pool **out, struct store *s, int64_t budget_ms);
/* Shutdown: waiting tests are answered 503, scans under way stop at their next page and
 * answer what they found, the workers are joined; later tests get 503. Call after
 * http_quiesce, before waiting for the requests in flight. Idempotent. */
void ruletest_pool_stop(struct ruletest_pool *p);
/* Stop if needed, then free (after http_stop: handlers may look at the pool until then). */
void ruletest_pool_free(struct ruletest_pool *p);

/* ==== context and handlers ==== */

struct alerts_api {
	struct alerts *alerts;
	struct ruleset *rules;
	struct detector *detector; /* the running rules' matches, grouping and summaries */
	int test_max_scan; /* POST /rules/test scans at most this many events (default 10000) */
	struct ruletest_pool *tests; /* NULL: POST /rules/test answers 503 */
};
/* Set by the hub before http_start. */
extern struct alerts_api alerts_api_ctx;

enum http_result api_alerts_list(struct http_req *r);
enum http_result api_alerts_get(struct http_req *r);
enum http_result api_alerts_ack(struct http_req *r);
enum http_result api_alerts_close(struct http_req *r);
enum http_result api_alerts_stream(struct http_req *r);
enum http_result api_alerts_channels(struct http_req *r);

enum http_result api_rules_list(struct http_req *r);
enum http_result api_rules_create(struct http_req *r);
enum http_result api_rules_test(struct http_req *r);
enum http_result api_rules_get(struct http_req *r);
enum http_result api_rules_put(struct http_req *r);
enum http_result api_rules_delete(struct http_req *r);
enum http_result api_rules_enable(struct http_req *r);
enum http_result api_rules_disable(struct http_req *r);
/* Shared by the rules handlers: {"error": what, "detail": err, "line": N} (the line when err
 * names one); and 413 for text over limit bytes, naming the limit. */
enum http_result rules_reply_error(struct http_req *r, unsigned status, const char *what,
				   const char *err);
enum http_result rules_reply_too_big(struct http_req *r, size_t limit, const char *what);
/* A rule request's JSON body may be this large (its text, RULE_TEXT_MAX, escaped). */
#define RULE_JSON_BODY_MAX (4 * RULE_TEXT_MAX)

/* Route-table fragment for api.c's api_routes[] (before any other "/alerts..." or
 * "/rules..." entry). The rule routes take bodies up to RULE_JSON_BODY_MAX; the others the
 * server's small default for control routes. */
/* clang-format off */
#define ALERTS_API_ROUTES                                                                        \
	{ .method = "GET", .path = "/alerts", .auth = AUTH_JWT, .fn = api_alerts_list,           \
	  HTTP_DOC("List alerts, newest first", "status:string,severity:string,rule:string,"     \
		   "rule_id:string,from:string,to:string,limit:integer,cursor:string,"           \
		   "backfill:boolean", "200") },                                                 \
	{ .method = "GET", .path = "/alerts/stream", .auth = AUTH_JWT, .fn = api_alerts_stream,  \
	  HTTP_DOC("New and changed alerts as Server-Sent Events",                               \
		   "last_event_id:string,since:string,keepalive:integer", "200,503") },          \
	{ .method = "GET", .path = "/alerts/channels", .auth = AUTH_JWT,                         \
	  .fn = api_alerts_channels,                                                             \
	  HTTP_DOC("Notification channels and their counters", NULL, "200") },                   \
	{ .method = "GET", .path = "/alerts/", .auth = AUTH_JWT, .fn = api_alerts_get,           \
	  HTTP_DOC("One alert with its events", NULL, "200,400,404") },                          \
	{ .method = "POST", .path = "/alerts/*/ack", .auth = AUTH_JWT, .fn = api_alerts_ack,     \
	  .body = true, HTTP_DOC("Acknowledge an alert", NULL, "200,404,409") },                 \
	{ .method = "POST", .path = "/alerts/*/close", .auth = AUTH_JWT, .fn = api_alerts_close, \
	  .body = true, HTTP_DOC("Close an alert", NULL, "200,404,409") },                       \
	{ .method = "GET", .path = "/rules", .auth = AUTH_JWT, .fn = api_rules_list,             \
	  HTTP_DOC("The rules and their matches", "enabled:boolean", "200") },                   \
	{ .method = "POST", .path = "/rules", .auth = AUTH_JWT, .fn = api_rules_create,          \
	  .body = true, .admin = true, .max_body = RULE_JSON_BODY_MAX,                           \
	  HTTP_DOC("Add a rule (Sigma YAML)", NULL, "201,409,422") },                            \
	{ .method = "POST", .path = "/rules/test", .auth = AUTH_JWT, .fn = api_rules_test,       \
	  .body = true, .max_body = RULE_JSON_BODY_MAX,                                          \
	  HTTP_DOC("Run a rule over stored events", "from:string,to:string,max_events:integer,"  \
		   "limit:integer,cursor:string", "200,422,429,503") },                          \
	{ .method = "GET", .path = "/rules/", .auth = AUTH_JWT, .fn = api_rules_get,             \
	  HTTP_DOC("One rule with its YAML", NULL, "200,404") },                                 \
	{ .method = "PUT", .path = "/rules/", .auth = AUTH_JWT, .fn = api_rules_put,             \
	  .body = true, .admin = true, .max_body = RULE_JSON_BODY_MAX,                           \
	  HTTP_DOC("Replace a rule", NULL, "200,404,409,422") },                                 \
	{ .method = "DELETE", .path = "/rules/", .auth = AUTH_JWT, .fn = api_rules_delete,       \
	  .admin = true, HTTP_DOC("Delete a rule (not a built-in one)", NULL, "200,404,409") },  \
	{ .method = "POST", .path = "/rules/*/enable", .auth = AUTH_JWT, .fn = api_rules_enable, \
	  .body = true, .admin = true, HTTP_DOC("Enable a rule", NULL, "200,404") },             \
	{ .method = "POST", .path = "/rules/*/disable", .auth = AUTH_JWT,                        \
	  .fn = api_rules_disable, .body = true, .admin = true,                                  \
	  HTTP_DOC("Disable a rule", NULL, "200,404") },
/* clang-format on */

#endif
