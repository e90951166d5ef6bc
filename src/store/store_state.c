/* store_state.c — hub state in the main database: meta key/values, agent API keys, users
 * and the audit log. Any thread; one connection serialized by a mutex (these are rare, small
 * writes). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/store_int.h"

/* Bind arguments described by types: 't' text (const char *, NULL binds NULL), 'i' int64. */
static void bind_args(sqlite3_stmt *st, const char *types, va_list ap)
{
	for (int i = 0; types[i]; i++) {
		if (types[i] == 't') {
			const char *v = va_arg(ap, const char *);
			if (v)
				sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT);
			else
				sqlite3_bind_null(st, i + 1);
		} else {
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		}
	}
}

/* Run one statement on the main database. *changes gets the rows changed (may be NULL),
 * *rowid the new row's id (may be NULL). */
static int adm_run(struct store *s, const char *sql, int64_t *changes, int64_t *rowid,
		   const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	va_list ap;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	va_start(ap, types);
	bind_args(st, types, ap);
	va_end(ap);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = (sqlite3_extended_errcode(s->adm) & 0xff) == SQLITE_CONSTRAINT
			     ? -EEXIST
			     : store_sql_err(s->adm, "write state");
		goto out;
	}
	if (changes)
		*changes = sqlite3_changes(s->adm);
	if (rowid)
		*rowid = sqlite3_last_insert_rowid(s->adm);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

/* Rows of a query as JSON objects appended to out. cols names each column; a column whose
 * name ends in "_at" or is "time" holds microseconds and is written as ISO-8601; one named
 * like "revoked" is written as a boolean. */
static int adm_rows(struct store *s, const char *sql, const char *const *cols, json_t *out,
		    const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, r;
	char buf[32];
	va_list ap;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	va_start(ap, types);
	bind_args(st, types, ap);
	va_end(ap);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int i = 0; cols[i]; i++) {
			size_t n = strlen(cols[i]);
			json_t *v;
			if (sqlite3_column_type(st, i) == SQLITE_NULL) {
				v = json_null();
			} else if ((n > 3 && strcmp(cols[i] + n - 3, "_at") == 0) ||
				   strcmp(cols[i], "time") == 0 || strcmp(cols[i], "last_seen") == 0) {
				ts_format(sqlite3_column_int64(st, i), buf);
				v = json_string(buf);
			} else if (strcmp(cols[i], "revoked") == 0) {
				v = json_boolean(sqlite3_column_int(st, i));
			} else if (sqlite3_column_type(st, i) == SQLITE_INTEGER) {
				v = json_integer(sqlite3_column_int64(st, i));
			} else {
				v = json_string((const char *)sqlite3_column_text(st, i));
			}
			json_object_set_new(o, cols[i], v ? v : json_null());
		}
		json_array_append_new(out, o);
	}
	if (r != SQLITE_DONE)
		rc = store_sql_err(s->adm, "read state");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

/* The first column of the first row as a malloc'd string (*out NULL when no row). */
static int adm_text(struct store *s, const char *sql, char **out, const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	va_list ap;
	*out = NULL;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	va_start(ap, types);
	bind_args(st, types, ap);
	va_end(ap);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		if (v && !(*out = strdup(v)))
			rc = -ENOMEM;
	} else if (r != SQLITE_DONE) {
		rc = store_sql_err(s->adm, "read state");
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

/* ---- meta ---- */

int store_meta_get(struct store *s, const char *key, char **out)
{
	return adm_text(s, "SELECT value FROM meta WHERE key = ?", out, "t", key);
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
	return adm_run(s, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", NULL, NULL, "tt",
		       key, value);
}

int store_meta_delete(struct store *s, const char *key)
{
	return adm_run(s, "DELETE FROM meta WHERE key = ?", NULL, NULL, "t", key);
}

/* ---- API keys ---- */

int store_key_add(struct store *s, const char *name, const char *hash, int64_t *id)
{
	return adm_run(s, "INSERT INTO api_keys(name, hash, created_at) VALUES(?, ?, ?)", NULL, id,
		       "tti", name, hash, ts_now_us());
}

int store_key_find(struct store *s, const char *hash, struct api_key_info *info, bool *found)
{
	static const char *const cols[] = { "id", "name", "revoked", NULL };
	json_t *rows = json_array();
	int rc = adm_rows(s, "SELECT id, name, revoked FROM api_keys WHERE hash = ?", cols, rows,
			  "t", hash);
	json_t *k = json_array_get(rows, 0);
	*found = rc == 0 && k;
	if (*found) {
		info->id = json_integer_value(json_object_get(k, "id"));
		snprintf(info->name, sizeof(info->name), "%s",
			 json_string_value(json_object_get(k, "name")));
		info->revoked = json_is_true(json_object_get(k, "revoked"));
	}
	json_decref(rows);
	return rc;
}

int store_key_list(struct store *s, json_t *out)
{
	static const char *const cols[] = { "id", "name", "created_at", "last_seen", "revoked",
					    NULL };
	return adm_rows(s, "SELECT id, name, created_at, last_seen, revoked FROM api_keys ORDER BY id",
			cols, out, "");
}

int store_key_revoke(struct store *s, int64_t id)
{
	int64_t n = 0;
	int rc = adm_run(s, "UPDATE api_keys SET revoked = 1 WHERE id = ?", &n, NULL, "i", id);
	return rc < 0 ? rc : n == 0 ? SIEM_ENOTFOUND : 0;
}

int store_key_touch(struct store *s, int64_t id, int64_t now_us)
{
	return adm_run(s, "UPDATE api_keys SET last_seen = ? WHERE id = ?", NULL, NULL, "ii", now_us,
		       id);
}

/* ---- users ---- */

/* A user's token generation starts at the time of creation and only grows, so a name
 * removed and added again does not bring its old tokens back. */
int store_user_add(struct store *s, const char *name, const char *role, const char *hash)
{
	int64_t now = ts_now_us();
	return adm_run(s,
		       "INSERT INTO users(name, role, hash, created_at, token_gen)"
		       " VALUES(?, ?, ?, ?, ?)",
		       NULL, NULL, "tttii", name, role, hash, now, now);
}

int store_user_auth(struct store *s, const char *name, char **role, int64_t *gen)
{
	sqlite3_stmt *st = NULL;
	int rc = SIEM_ENOTFOUND;
	*role = NULL;
	*gen = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "SELECT role, token_gen FROM users WHERE name = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		*gen = sqlite3_column_int64(st, 1);
		rc = v && (*role = strdup(v)) ? 0 : -ENOMEM;
	} else if (r != SQLITE_DONE) {
		rc = store_sql_err(s->adm, "read state");
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_user_end_tokens(struct store *s, const char *name)
{
	int64_t n = 0;
	int rc = adm_run(s, "UPDATE users SET token_gen = max(token_gen + 1, ?) WHERE name = ?", &n,
			 NULL, "it", ts_now_us(), name);
	return rc < 0 ? rc : n == 0 ? SIEM_ENOTFOUND : 0;
}

int store_token_revoke(struct store *s, const uint8_t *sig, size_t n, int64_t exp)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "INSERT OR IGNORE INTO revoked_tokens(sig, exp) VALUES(?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	sqlite3_bind_blob(st, 1, sig, (int)n, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, exp);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_sql_err(s->adm, "write state");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_token_revoked_each(struct store *s, int64_t now_s,
			     void (*fn)(void *arg, const uint8_t *sig, size_t n, int64_t exp),
			     void *arg)
{
	sqlite3_stmt *st = NULL;
	int rc = adm_run(s, "DELETE FROM revoked_tokens WHERE exp <= ?", NULL, NULL, "i", now_s);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "SELECT sig, exp FROM revoked_tokens", -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
		   sqlite3_column_int64(st, 1));
	if (r != SQLITE_DONE)
		rc = store_sql_err(s->adm, "read state");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_user_get(struct store *s, const char *name, char **role, char **hash)
{
	int rc = adm_text(s, "SELECT role FROM users WHERE name = ?", role, "t", name);
	if (rc < 0 || !*role)
		return rc < 0 ? rc : SIEM_ENOTFOUND;
	if ((rc = adm_text(s, "SELECT hash FROM users WHERE name = ?", hash, "t", name)) < 0 ||
	    !*hash) {
		free(*role);
		*role = NULL;
		return rc < 0 ? rc : SIEM_ENOTFOUND;
	}
	return 0;
}

int store_user_set_hash(struct store *s, const char *name, const char *hash)
{
	int64_t n = 0;
	int rc = adm_run(s,
			 "UPDATE users SET hash = ?, token_gen = max(token_gen + 1, ?) WHERE name = ?",
			 &n, NULL, "tit", hash, ts_now_us(), name);
	return rc < 0 ? rc : n == 0 ? SIEM_ENOTFOUND : 0;
}

int store_user_remove(struct store *s, const char *name)
{
	int64_t n = 0;
	int rc = adm_run(s, "DELETE FROM users WHERE name = ?", &n, NULL, "t", name);
	return rc < 0 ? rc : n == 0 ? SIEM_ENOTFOUND : 0;
}

int store_user_list(struct store *s, json_t *out)
{
	static const char *const cols[] = { "name", "role", "created_at", NULL };
	return adm_rows(s, "SELECT name, role, created_at FROM users ORDER BY name", cols, out, "");
}

/* ---- audit log ---- */

int store_audit(struct store *s, const char *actor, const char *client, const char *action,
		const char *object, const char *detail)
{
	return adm_run(s,
		       "INSERT INTO audit_log(ts, actor, client, action, object, detail)"
		       " VALUES(?, ?, ?, ?, ?, ?)",
		       NULL, NULL, "ittttt", ts_now_us(), actor, client, action, object, detail);
}

int store_audit_list(struct store *s, int limit, json_t *out)
{
	static const char *const cols[] = { "id", "time", "actor", "client", "action", "object",
					    "detail", NULL };
	return adm_rows(s,
			"SELECT id, ts, actor, client, action, object, detail FROM audit_log"
			" ORDER BY id DESC LIMIT ?",
			cols, out, "i", (int64_t)limit);
}
