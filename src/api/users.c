/* users.c — dashboard logins from the API, as `minisiem users` does from the shell: GET /users,
 * POST /users, PUT /users/{name} (role), POST /users/{name}/password, DELETE /users/{name}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/tokens.h"
#include "auth/auth.h"
#include "core/err.h"
#include "core/log.h"

static size_t utf8_chars(const char *s)
{
	size_t c = 0;
	for (; *s; s++)
		c += ((unsigned char)*s & 0xc0) != 0x80;
	return c;
}

static bool valid_name(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (len == 0 || len > 100)
		return false;
	for (const unsigned char *p = (const unsigned char *)n; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return false;
	return true;
}

static bool valid_role(const char *r)
{
	return r && (strcmp(r, "admin") == 0 || strcmp(r, "analyst") == 0);
}

/* The body as an object, or NULL (and a 400 sent) when it is not one. */
static json_t *body_object(struct http_req *r, enum http_result *res)
{
	size_t len;
	const char *body = http_body(r, &len);
	json_error_t jerr;
	json_t *v = json_loadb(body ? body : "", len, 0, &jerr);
	if (!json_is_object(v)) {
		json_decref(v);
		*res = http_reply_error(r, 400, "invalid JSON", "expected an object");
		return NULL;
	}
	return v;
}

/* A user of the table: 0, SIEM_ENOTFOUND, or a store error. */
static int user_role(const char *name, char **role)
{
	char *hash = NULL;
	int rc = store_user_get(api_ctx->store, name, role, &hash);
	if (hash)
		explicit_bzero(hash, strlen(hash));
	free(hash);
	return rc;
}

/* A password of PASSWORD_MIN characters or more, hashed into hash; else a reply in *res. */
static int hash_password(struct http_req *r, json_t *v, char *hash, size_t len,
			 enum http_result *res)
{
	const char *pw = json_string_value(json_object_get(v, "password"));
	if (!pw || utf8_chars(pw) < PASSWORD_MIN || strlen(pw) > 1024) {
		char detail[96];
		snprintf(detail, sizeof(detail), "password: %d to 1024 characters", PASSWORD_MIN);
		*res = http_reply_error(r, 422, "invalid password", detail);
		return SIEM_EPARSE;
	}
	int rc = password_hash(pw, hash, len);
	if (rc < 0)
		*res = http_reply_error(r, 500, "cannot hash the password", siem_strerror(rc));
	return rc;
}

static void audit(struct http_req *r, const char *action, const char *name, const char *detail)
{
	store_audit(api_ctx->store, http_identity(r), http_client_addr(r), action, name, detail);
	log_info("api", "%s '%s' by %s", action, name, http_identity(r));
}

static const char *cell(const json_t *u)
{
	const char *s = json_string_value(json_object_get(u, "name"));
	return s ? s : "";
}

/* The built-in admin first (unless a user of the table is named admin), then the table's
 * users by name: what `users list --json` prints. */
enum http_result api_users_list(struct http_req *r)
{
	json_t *users = json_array(), *u;
	size_t i;
	int rc = store_user_list(api_ctx->store, users);
	bool has_admin = false;
	json_array_foreach (users, i, u) {
		json_object_set_new(u, "builtin", json_false());
		has_admin = has_admin || strcmp(cell(u), "admin") == 0;
	}
	if (rc == 0 && !has_admin)
		json_array_insert_new(users, 0,
				      json_pack("{s:s, s:s, s:n, s:b}", "name", "admin", "role",
						"admin", "created_at", "builtin", 1));
	return api_reply_list(r, rc, "users", users);
}

enum http_result api_users_create(struct http_req *r)
{
	enum http_result res;
	json_t *v = body_object(r, &res);
	if (!v)
		return res;
	const char *name = json_string_value(json_object_get(v, "name"));
	const char *role = json_string_value(json_object_get(v, "role"));
	char hash[256] = "";
	if (!valid_name(name)) {
		res = http_reply_error(r, 422, "invalid user",
				       "name: 1 to 100 bytes, no control character or '/'");
		goto out;
	}
	if (!valid_role(role)) {
		res = http_reply_error(r, 422, "invalid user", "role: admin or analyst");
		goto out;
	}
	if (strcmp(name, "admin") == 0) {
		res =
		    http_reply_error(r, 409, "user exists", "admin is the built-in administrator");
		goto out;
	}
	if (hash_password(r, v, hash, sizeof(hash), &res) < 0)
		goto out;
	int rc = store_user_add(api_ctx->store, name, role, hash);
	if (rc == -EEXIST) {
		res = http_reply_error(r, 409, "user exists", name);
		goto out;
	}
	if (rc < 0) {
		res = api_store_error(r, rc, "cannot add user");
		goto out;
	}
	audit(r, "user.add", name, role);
	res = http_reply_json(
	    r, 201, json_pack("{s:s, s:s, s:b}", "name", name, "role", role, "builtin", 0));
out:
	explicit_bzero(hash, sizeof(hash));
	json_decref(v);
	return res;
}

/* The user named by the path: a row of the table that is not the caller, else a reply. */
static int target(struct http_req *r, const char *name, bool not_self, enum http_result *res)
{
	char *role = NULL;
	if (!valid_name(name)) {
		*res = http_reply_error(r, 400, "invalid user name", name);
		return SIEM_EPARSE;
	}
	int rc = user_role(name, &role);
	free(role);
	if (rc == SIEM_ENOTFOUND && strcmp(name, "admin") == 0) {
		*res = http_reply_error(r, 409, "built-in user",
					"the built-in admin is changed with `minisiem users passwd "
					"admin` and cannot be removed or given another role");
	} else if (rc == SIEM_ENOTFOUND) {
		*res = http_reply_error(r, 404, "not found", name);
	} else if (rc < 0) {
		*res = api_store_error(r, rc, "cannot read user");
	} else if (not_self && strcmp(name, http_identity(r)) == 0) {
		*res = http_reply_error(r, 409, "not yourself",
					"another admin must change your own role or account");
		rc = SIEM_EAUTH;
	}
	return rc;
}

enum http_result api_users_delete(struct http_req *r)
{
	const char *name = http_path_arg(r);
	enum http_result res;
	if (target(r, name, true, &res) < 0)
		return res;
	int rc = store_user_remove(api_ctx->store, name);
	if (rc == SIEM_ENOTFOUND)
		return http_reply_error(r, 404, "not found", name);
	if (rc < 0)
		return api_store_error(r, rc, "cannot remove user");
	tokens_forget(api_ctx->tokens, name);
	audit(r, "user.remove", name, NULL);
	return http_reply_json(r, 200, json_pack("{s:s, s:b}", "name", name, "removed", 1));
}

enum http_result api_users_put(struct http_req *r)
{
	const char *name = http_path_arg(r);
	enum http_result res;
	json_t *v = body_object(r, &res);
	if (!v)
		return res;
	const char *role = json_string_value(json_object_get(v, "role"));
	if (!valid_role(role)) {
		res = http_reply_error(r, 422, "invalid user", "role: admin or analyst");
	} else if (target(r, name, true, &res) == 0) {
		int rc = store_user_set_role(api_ctx->store, name, role);
		if (rc < 0) {
			res = rc == SIEM_ENOTFOUND ? http_reply_error(r, 404, "not found", name)
						   : api_store_error(r, rc, "cannot change user");
		} else {
			tokens_forget(api_ctx->tokens, name);
			audit(r, "user.role", name, role);
			res = http_reply_json(r, 200,
					      json_pack("{s:s, s:s}", "name", name, "role", role));
		}
	}
	json_decref(v);
	return res;
}

enum http_result api_users_password(struct http_req *r)
{
	const char *arg = http_path_arg(r); /* "{name}/password" */
	char name[128];
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "/"), arg);
	enum http_result res;
	char hash[256] = "";
	json_t *v = body_object(r, &res);
	if (!v)
		return res;
	if (target(r, name, false, &res) == 0 &&
	    hash_password(r, v, hash, sizeof(hash), &res) == 0) {
		int rc = store_user_set_hash(api_ctx->store, name, hash);
		if (rc < 0) {
			res = rc == SIEM_ENOTFOUND ? http_reply_error(r, 404, "not found", name)
						   : api_store_error(r, rc, "cannot change user");
		} else {
			tokens_forget(api_ctx->tokens, name);
			audit(r, "user.passwd", name, NULL);
			res = http_reply_json(r, 200,
					      json_pack("{s:s, s:b}", "name", name, "changed", 1));
		}
	}
	explicit_bzero(hash, sizeof(hash));
	json_decref(v);
	return res;
}
