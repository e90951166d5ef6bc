/* session.c — POST /auth/login, /auth/logout, GET /auth/me: users trade a password for an
 * HS256 token carrying their role. Failed logins are rate-limited per client address and per
 * user name and stored as LOGIN_FAIL events, so the SIEM watches itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/ratelimit.h"
#include "api/tokens.h"
#include "auth/auth.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

static struct metric m_login_fail =
    METRIC_COUNTER_INIT("minisiem_login_failures_total", NULL, "Failed logins to the hub.");
static struct metric m_login_limited = METRIC_COUNTER_INIT(
    "minisiem_login_rate_limited_total", NULL, "Logins refused by the rate limit.");
static struct metric m_login_busy =
    METRIC_COUNTER_INIT("minisiem_login_busy_total", NULL,
			"Logins refused (503) because --max-password-checks were running.");
static struct metric m_self_dropped = METRIC_COUNTER_INIT(
    "minisiem_self_events_dropped_total", NULL,
    "The hub's own events (failed logins) not stored because the writer queue was full.");

void api_session_register_metrics(void)
{
	metric_register(&m_login_fail);
	metric_register(&m_login_limited);
	metric_register(&m_login_busy);
	metric_register(&m_self_dropped);
}

/* A failed login is an event of its own: a batch of one, queued without waiting. */
static void self_done(struct ingest_batch *b)
{
	ingest_batch_release(b);
	free(b);
}

static struct sv sv_copy(struct arena *a, const char *s)
{
	struct sv v = {NULL, 0};
	if (s && (v.p = arena_strndup(a, s, strlen(s))))
		v.n = strlen(s);
	return v;
}

static void record_failure(struct http_req *r, const char *user)
{
	struct ingest_batch *b = malloc(sizeof(*b));
	char host[256] = "localhost", msg[300];
	if (!b)
		return;
	if (ingest_batch_init(b, 1, 0, 64 * 1024) < 0) {
		free(b);
		return;
	}
	struct event *ev = ingest_batch_add_event(b);
	const char *addr = http_client_addr(r);
	gethostname(host, sizeof(host) - 1);
	uuid_v4(ev->id);
	ev->ts = ev->received_at = ts_now_us();
	ev->severity = 3;
	ev->flags = EV_ID_GENERATED;
	if (ip_parse(addr, strlen(addr), ev->ip) == 0) {
		ev->flags |= EV_HAS_IP;
		ev->source_ip = sv_copy(&b->arena, addr);
	}
	snprintf(msg, sizeof(msg), "failed login to minisiem for '%.64s' from %s", user, addr);
	ev->event_type = sv_copy(&b->arena, "LOGIN_FAIL");
	ev->os_type = sv_copy(&b->arena, "APP");
	ev->app = sv_copy(&b->arena, "minisiem");
	ev->level = sv_copy(&b->arena, "WARNING");
	ev->source = sv_copy(&b->arena, "minisiem");
	ev->source_host = sv_copy(&b->arena, host);
	ev->user = sv_copy(&b->arena, user);
	ev->message = sv_copy(&b->arena, msg);
	b->done = self_done;
	if (pipeline_submit(api_ctx->pipeline, b) < 0) {
		metric_add(&m_self_dropped, 1);
		self_done(b);
	}
}

/* Check name/password: a user of the users table, else "admin" against the admin hash. */
static int check_login(const char *user, const char *pw, char *role, size_t rolelen)
{
	char *urole = NULL, *uhash = NULL, *admin = tokens_admin_hash(api_ctx->tokens);
	int rc = store_user_get(api_ctx->store, user, &urole, &uhash);
	if (rc == 0) {
		rc = password_verify(uhash, pw);
		snprintf(role, rolelen, "%s", urole);
	} else if (rc == SIEM_ENOTFOUND && strcmp(user, "admin") == 0 && admin) {
		rc = password_verify(admin, pw);
		snprintf(role, rolelen, "admin");
	} else if (rc == SIEM_ENOTFOUND) {
		/* Same cost as a real check, so that timing does not tell names apart. */
		password_verify(admin ? admin : "", pw);
		rc = SIEM_EAUTH;
	}
	free(urole);
	free(uhash);
	free(admin);
	return rc < 0 ? SIEM_EAUTH : 0;
}

/* The login limits give their places back: how says whether a password was checked. */
static void login_release(const char *bucket, const char *user, enum ratelimit_outcome how)
{
	int64_t now = ts_now_us();
	if (user && api_ctx->login_name)
		ratelimit_release(api_ctx->login_name, user, now, how);
	if (api_ctx->login_addr)
		ratelimit_release(api_ctx->login_addr, bucket, now, how);
}

static enum http_result refuse(struct http_req *r, unsigned status, int64_t wait_s,
			       const char *error, const char *detail)
{
	char ra[24];
	snprintf(ra, sizeof(ra), "%lld", (long long)wait_s);
	http_add_header(r, "Retry-After", ra);
	return http_reply_error(r, status, error, detail);
}

/* Each check holds an argon2id hash's 64 MiB: a burst of logins must not exhaust memory. */
static bool password_check_begin(void)
{
	int cap = api_ctx->max_password_checks;
	if (atomic_fetch_add(&api_ctx->password_checks, 1) < cap || cap <= 0)
		return true;
	atomic_fetch_sub(&api_ctx->password_checks, 1);
	return false;
}

/* Limits, in order: the client address (IPv6 per /64), the user name (backoff), the number
 * of password checks running. The first two take their place before the password is
 * checked, so that parallel guesses count at once. */
enum http_result api_login(struct http_req *r)
{
	size_t len;
	const char *body = http_body(r, &len);
	const char *addr = http_client_addr(r);
	char bucket[64], user[128], role[32];
	int64_t now = ts_now_us(), wait;
	ratelimit_addr_key(addr, bucket, sizeof(bucket));
	if (api_ctx->login_addr &&
	    (wait = ratelimit_acquire(api_ctx->login_addr, bucket, now)) > 0) {
		metric_add(&m_login_limited, 1);
		return refuse(r, 429, wait, "too many failed logins", "try again later");
	}
	json_error_t jerr;
	json_t *v = json_loadb(body, len, 0, &jerr);
	if (!v || !json_is_object(v)) {
		json_decref(v);
		login_release(bucket, NULL, RATELIMIT_RELEASE);
		return http_reply_error(r, 400, "malformed JSON",
					"expected {\"password\": \"...\"}");
	}
	const char *u = json_string_value(json_object_get(v, "username"));
	const char *pw = json_string_value(json_object_get(v, "password"));
	if (!pw || !*pw || strlen(pw) > 1024 || (u && strlen(u) > 100)) {
		json_decref(v);
		login_release(bucket, NULL, RATELIMIT_RELEASE);
		return http_reply_error(r, 422, "invalid login", "password: required string");
	}
	snprintf(user, sizeof(user), "%s", u && *u ? u : "admin");
	if (api_ctx->login_name && (wait = ratelimit_acquire(api_ctx->login_name, user, now)) > 0) {
		json_decref(v);
		login_release(bucket, NULL, RATELIMIT_RELEASE);
		metric_add(&m_login_limited, 1);
		return refuse(r, 429, wait, "too many failed logins",
			      "too many failed logins for this user name; try again later");
	}
	if (!password_check_begin()) {
		json_decref(v);
		login_release(bucket, user, RATELIMIT_RELEASE);
		metric_add(&m_login_busy, 1);
		return refuse(r, 503, 1, "busy", "too many logins at once; try again");
	}
	int rc = check_login(user, pw, role, sizeof(role));
	atomic_fetch_sub(&api_ctx->password_checks, 1);
	json_decref(v);
	login_release(bucket, user, rc < 0 ? RATELIMIT_FAILED : RATELIMIT_PASSED);
	if (rc < 0) {
		log_warn("auth", "failed login for '%.64s' from %s", user, addr);
		metric_add(&m_login_fail, 1);
		record_failure(r, user);
		return http_reply_error(r, 401, "unauthorized", "wrong user name or password");
	}
	char *tok = NULL;
	if ((rc = tokens_issue(api_ctx->tokens, user, role, now / 1000000, api_ctx->jwt_ttl_s,
			       &tok)) < 0)
		return http_reply_error(r, 500, "cannot sign token", NULL);
	json_t *o = json_object();
	json_object_set_new(o, "access_token", json_string(tok));
	json_object_set_new(o, "token_type", json_string("bearer"));
	json_object_set_new(o, "expires_in", json_integer(api_ctx->jwt_ttl_s));
	json_object_set_new(o, "role", json_string(role));
	free(tok);
	return http_reply_json(r, 200, o);
}

enum http_result api_logout(struct http_req *r)
{
	struct jwt_claims c;
	const char *tok = http_bearer(r);
	if (!tok || tokens_check(api_ctx->tokens, tok, ts_now_us() / 1000000, &c) < 0)
		return http_reply_error(r, 401, "unauthorized", "invalid or expired token");
	if (tokens_revoke(api_ctx->tokens, tok, &c) < 0)
		return http_reply_error(r, 500, "cannot revoke the token", NULL);
	json_t *o = json_object();
	json_object_set_new(o, "ok", json_true());
	return http_reply_json(r, 200, o);
}

enum http_result api_me(struct http_req *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "user", json_string(http_identity(r)));
	json_object_set_new(o, "role", json_string(http_role(r)));
	return http_reply_json(r, 200, o);
}

enum http_result api_audit(struct http_req *r)
{
	const char *v = http_query(r, "limit");
	long limit = 200;
	if (v && *v) {
		char *end = NULL;
		limit = strtol(v, &end, 10);
		if (*end || limit < 1 || limit > 1000)
			return http_reply_error(r, 400, "invalid query",
						"limit: must be an integer 1..1000");
	}
	/* An empty filter is no filter: the page's fields send them as they are. */
	const char *actor = http_query(r, "actor"), *action = http_query(r, "action");
	struct audit_filter f = {.actor = actor && *actor ? actor : NULL,
				 .action = action && *action ? action : NULL};
	json_t *list = json_array();
	int rc = store_audit_find(api_ctx->store, (int)limit, &f, list);
	return api_reply_list(r, rc, "audit", list);
}
