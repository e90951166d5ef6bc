/* session.c — POST /auth/login, /auth/logout, GET /auth/me: analysts trade the admin
 * password for an HS256 token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/auth.h"
#include "core/err.h"
#include "core/log.h"

enum http_result api_login(struct http_req *r)
{
	size_t len;
	const char *body = http_body(r, &len);
	json_error_t jerr;
	json_t *v = json_loadb(body, len, 0, &jerr);
	if (!v || !json_is_object(v)) {
		json_decref(v);
		return http_reply_error(r, 400, "malformed JSON", "expected {\"password\": \"...\"}");
	}
	const char *user = json_string_value(json_object_get(v, "username"));
	const char *pw = json_string_value(json_object_get(v, "password"));
	if (!pw || !*pw || strlen(pw) > 1024) {
		json_decref(v);
		return http_reply_error(r, 422, "invalid login", "password: required string");
	}
	if (!user || !*user)
		user = "admin";
	int rc = SIEM_EAUTH;
	if (strcmp(user, "admin") == 0 && api_ctx->admin_hash)
		rc = password_verify(api_ctx->admin_hash, pw);
	if (rc < 0) {
		log_warn("auth", "failed login for '%.64s' from %s", user, http_client_addr(r));
		json_decref(v);
		return http_reply_error(r, 401, "unauthorized", "wrong user name or password");
	}
	struct jwt_claims c;
	memset(&c, 0, sizeof(c));
	snprintf(c.sub, sizeof(c.sub), "%s", user);
	snprintf(c.role, sizeof(c.role), "admin");
	json_decref(v);
	c.iat = ts_now_us() / 1000000;
	c.exp = c.iat + api_ctx->jwt_ttl_s;
	char *tok = NULL;
	if ((rc = jwt_sign_hs256(&c, api_ctx->jwt_key, api_ctx->jwt_keylen, &tok)) < 0)
		return http_reply_error(r, 500, "cannot sign token", NULL);
	json_t *o = json_object();
	json_object_set_new(o, "access_token", json_string(tok));
	json_object_set_new(o, "token_type", json_string("bearer"));
	json_object_set_new(o, "expires_in", json_integer(api_ctx->jwt_ttl_s));
	free(tok);
	return http_reply_json(r, 200, o);
}

enum http_result api_logout(struct http_req *r)
{
	/* Tokens are stateless: the client drops its copy. */
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
