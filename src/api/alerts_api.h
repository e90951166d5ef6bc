/* alerts_api.h — the alerts and rules resources (api/alerts.c, api/rules.c), the rule set
 * they manage, and what they need beyond alerts.h and http.h (proposed additions, marked). */
#ifndef SIEM_ALERTS_API_H
#define SIEM_ALERTS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "core/strbuf.h"
#include "detect/alerts.h"
#include "detect/detect.h"
#include "http/http.h"
#include "store/store.h"
#include "store/store_alerts.h"

/* ==== proposed additions to detect/alerts.h (implemented in detect/alerts.c) ==== */

struct alerts_tuning {
	size_t max_open;  /* alerts kept for suppression (default 4096); beyond, the oldest
			   * is forgotten (counted in minisiem_alerts_evicted_total) */
	size_t sub_queue; /* messages waiting per SSE subscriber before it is dropped (256) */
	size_t max_subs;  /* SSE subscribers (32) */
	int keepalive_ms; /* SSE keep-alive comment after this much silence (15000) */
	bool manual;	  /* tests: no alerts thread, alerts_flush does the writing */
};
void alerts_tuning_defaults(struct alerts_tuning *t);
int alerts_open_tuned(struct alerts **out, struct store *s, const struct alerts_config *cfg,
		      const struct alerts_tuning *t);
int alerts_keepalive_ms(struct alerts *a);

/* Write the pending alert changes now, then publish them (SSE, notifications). The alerts
 * thread does this on its own within milliseconds; tests call it to be deterministic. */
int alerts_flush(struct alerts *a);

/* Acknowledge or close alert id as who; *out (may be NULL) gets the alert after the change.
 * SIEM_ENOTFOUND, -EPERM (acknowledging a closed alert); repeating a change is not an error
 * (*out is the alert as it is). A closed alert no longer absorbs repeats: the next hit of
 * its rule and group opens a new alert. */
int alerts_set_status(struct alerts *a, int64_t id, enum alert_status to, const char *who,
		      json_t **out);

/* Notification channels and their counters (see notifier_status). */
void alerts_channels(struct alerts *a, json_t *out);
/* Wait until the notification queues are empty (tests). */
bool alerts_notify_idle(struct alerts *a, int timeout_ms);

struct alerts_stats {
	uint64_t hits, raised, suppressed, evicted, dropped, write_failures;
	uint64_t sse_dropped;
	size_t open_tracked, subscribers;
};
void alerts_get_stats(struct alerts *a, struct alerts_stats *st);

/* ---- live subscribers (SSE) ---- */

struct alerts_sub;
struct alerts_msg; /* one SSE message ("id: <alert>-<version>\nevent: alert\ndata: ...") */

/* Subscribe: every alert change published from now on is queued for s (bounded: a
 * subscriber whose queue is full is dropped and counted; it ends after what it has).
 * wake(arg) is called (with an internal lock held: it must only signal) when a message
 * arrives or the subscription ends. -EBUSY when there are too many subscribers. */
int alerts_subscribe(struct alerts *a, void (*wake)(void *arg), void *arg, struct alerts_sub **out);
/* 1 with *m (release with alerts_msg_put), 0 when nothing is queued, -1 when the
 * subscription is over (dropped for being slow, or the hub is stopping). */
int alerts_sub_next(struct alerts_sub *s, struct alerts_msg **m);
bool alerts_sub_dropped(struct alerts_sub *s);
void alerts_unsubscribe(struct alerts_sub *s);
const char *alerts_msg_text(const struct alerts_msg *m, size_t *n);
int64_t alerts_msg_rev(const struct alerts_msg *m);
void alerts_msg_put(struct alerts_msg *m);
/* Messages for the alerts changed after version `after`, oldest change first, at most
 * limit: the stream's resume after Last-Event-ID. */
int alerts_replay(struct alerts *a, int64_t after, int limit, struct alerts_msg ***out, size_t *n);
/* The SSE text of one alert object. */
int alerts_format_sse(const json_t *alert, struct strbuf *out);

/* ==== the rule set: built-in rules (a directory) and API rules (the store) ==== */

struct ruleset;

/* Load every *.yml / *.yaml of dir (origin "builtin:<file>"; may be NULL) and the API rules
 * of the store, apply the stored enabled flags, and hand the enabled ones to d. A rule that
 * fails to compile or to resolve is logged, listed with its error, and left out. */
int ruleset_open(struct ruleset **out, struct store *s, struct detector *d, const char *dir);
/* SIGHUP: read the directory again (API rules and enabled flags stay). */
int ruleset_reload_dir(struct ruleset *rs);
void ruleset_close(struct ruleset *rs);
size_t ruleset_count(struct ruleset *rs);
/* The text of rule id, malloc'd into *text; SIEM_ENOTFOUND when there is no such rule. */
int ruleset_rule_text(struct ruleset *rs, const char *id, char **text);

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
	{ .method = "GET", .path = "/alerts", .auth = AUTH_JWT, .fn = api_alerts_list },          \
	{ .method = "GET", .path = "/alerts/stream", .auth = AUTH_JWT, .fn = api_alerts_stream }, \
	{ .method = "GET", .path = "/alerts/channels", .auth = AUTH_JWT,                          \
	  .fn = api_alerts_channels },                                                            \
	{ .method = "GET", .path = "/alerts/", .auth = AUTH_JWT, .fn = api_alerts_get },          \
	{ .method = "POST", .path = "/alerts/*/ack", .auth = AUTH_JWT, .fn = api_alerts_ack,      \
	  .body = true },                                                                         \
	{ .method = "POST", .path = "/alerts/*/close", .auth = AUTH_JWT, .fn = api_alerts_close,  \
	  .body = true },                                                                         \
	{ .method = "GET", .path = "/rules", .auth = AUTH_JWT, .fn = api_rules_list },            \
	{ .method = "POST", .path = "/rules", .auth = AUTH_JWT, .fn = api_rules_create,           \
	  .body = true, .admin = true, .max_body = RULE_JSON_BODY_MAX },                          \
	{ .method = "POST", .path = "/rules/test", .auth = AUTH_JWT, .fn = api_rules_test,        \
	  .body = true, .max_body = RULE_JSON_BODY_MAX },                                         \
	{ .method = "GET", .path = "/rules/", .auth = AUTH_JWT, .fn = api_rules_get },            \
	{ .method = "PUT", .path = "/rules/", .auth = AUTH_JWT, .fn = api_rules_put,              \
	  .body = true, .admin = true, .max_body = RULE_JSON_BODY_MAX },                          \
	{ .method = "DELETE", .path = "/rules/", .auth = AUTH_JWT, .fn = api_rules_delete,        \
	  .admin = true },                                                                        \
	{ .method = "POST", .path = "/rules/*/enable", .auth = AUTH_JWT, .fn = api_rules_enable,  \
	  .body = true, .admin = true },                                                          \
	{ .method = "POST", .path = "/rules/*/disable", .auth = AUTH_JWT,                         \
	  .fn = api_rules_disable, .body = true, .admin = true },
/* clang-format on */

#endif
