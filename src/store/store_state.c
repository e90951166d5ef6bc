/* store_state.c — hub state in the main database: meta key/values, agent API keys, users
 * and the audit log. Any thread; one connection serialized by a mutex (these are rare, small
 * writes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/store_int.h"

/* Steps for adm_exec. */

static int write_done(struct sq_store *s, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		return (sqlite3_extended_errcode(s->adm) & 0xff) == SQLITE_CONSTRAINT
			   ? -EEXIST
			   : store_sql_err(s->adm, "write state");
	return 0;
}

/* A write; arg: where the count of rows changed goes (int64_t *, may be NULL). */
static int step_write(struct sq_store *s, sqlite3_stmt *st, void *arg)
{
	int64_t *changes = arg;
	int rc = write_done(s, st);
	if (rc == 0 && changes)
		*changes = sqlite3_changes(s->adm);
	return rc;
}

/* An insert; arg: where the new row's id goes (int64_t *, may be NULL). */
static int step_insert(struct sq_store *s, sqlite3_stmt *st, void *arg)
{
	int64_t *rowid = arg;
	int rc = write_done(s, st);
	if (rc == 0 && rowid)
		*rowid = sqlite3_last_insert_rowid(s->adm);
	return rc;
}

/* Rows as JSON objects appended to out. cols names each column; a column whose name ends
 * in "_at" or is "time" holds microseconds and is written as ISO-8601; one named like
 * "revoked" is written as a boolean. */
struct json_rows {
	const char *const *cols;
	json_t *out;
};

static int json_row(sqlite3_stmt *st, void *arg)
{
	const struct json_rows *a = arg;
	const char *const *cols = a->cols;
	char buf[32];
	json_t *o = json_object();
	for (int i = 0; cols[i]; i++) {
		size_t n = strlen(cols[i]);
		json_t *v;
		if (sqlite3_column_type(st, i) == SQLITE_NULL) {
			v = json_null();
		} else if ((n > 3 && strcmp(cols[i] + n - 3, "_at") == 0) ||
			   strcmp(cols[i], "time") == 0 || strcmp(cols[i], "last_seen") == 0 ||
			   strcmp(cols[i], "last_event") == 0) {
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
	json_array_append_new(a->out, o);
	return 0;
}

/* arg: struct json_rows. */
static int step_rows(struct sq_store *s, sqlite3_stmt *st, void *arg)
{
	return adm_each_row(s, st, json_row, arg, "read state");
}

/* The first column of the first row as a malloc'd string; arg: char ** (the caller sets it
 * to NULL: it stays so when there is no row). */
static int step_text(struct sq_store *s, sqlite3_stmt *st, void *arg)
{
	char **out = arg;
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		if (v && !(*out = strdup(v)))
			return -ENOMEM;
	} else if (r != SQLITE_DONE) {
		return store_sql_err(s->adm, "read state");
	}
	return 0;
}

/* ---- meta ---- */

int sq_meta_get(struct sq_store *s, const char *key, char **out)
{
	*out = NULL;
	return adm_exec(s, "SELECT value FROM meta WHERE key = ?", step_text, out, "t", key);
}

int sq_meta_set(struct sq_store *s, const char *key, const char *value)
{
	return adm_exec(s, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", step_write, NULL,
			"tt", key, value);
}

int sq_meta_cas(struct sq_store *s, const char *key, const char *expect, const char *value)
{
	int64_t n = 0;
	int rc = expect ? adm_exec(s, "UPDATE meta SET value = ? WHERE key = ? AND value = ?",
				   step_write, &n, "ttt", value, key, expect)
			: adm_exec(s, "INSERT OR IGNORE INTO meta(key, value) VALUES(?, ?)",
				   step_write, &n, "tt", key, value);
	return rc < 0 ? rc : n == 1 ? 0 : -EAGAIN;
}

int sq_meta_delete(struct sq_store *s, const char *key)
{
	return adm_exec(s, "DELETE FROM meta WHERE key = ?", step_write, NULL, "t", key);
}

/* ---- API keys ---- */

int sq_key_add(struct sq_store *s, const char *name, const char *hash, int64_t *id)
{
	return adm_exec(s, "INSERT INTO api_keys(name, hash, created_at) VALUES(?, ?, ?)",
			step_insert, id, "tti", name, hash, ts_now_us());
}

int sq_key_find(struct sq_store *s, const char *hash, struct api_key_info *info, bool *found)
{
	static const char *const cols[] = {"id", "name", "revoked", NULL};
	struct json_rows rows = {cols, json_array()};
	int rc = adm_exec(s, "SELECT id, name, revoked FROM api_keys WHERE hash = ?", step_rows,
			  &rows, "t", hash);
	json_t *k = json_array_get(rows.out, 0);
	*found = rc == 0 && k;
	if (*found) {
		info->id = json_integer_value(json_object_get(k, "id"));
		snprintf(info->name, sizeof(info->name), "%s",
			 json_string_value(json_object_get(k, "name")));
		info->revoked = json_is_true(json_object_get(k, "revoked"));
	}
	json_decref(rows.out);
	return rc;
}

int sq_key_list(struct sq_store *s, json_t *out)
{
	static const char *const cols[] = {"id",      "name",	"created_at", "last_seen",
					   "revoked", "events", "last_event", NULL};
	struct json_rows rows = {cols, out};
	return adm_exec(s,
			"SELECT id, name, created_at, last_seen, revoked, events, last_event"
			" FROM api_keys ORDER BY id",
			step_rows, &rows, "");
}

/* The statement changed a row, else SIEM_ENOTFOUND. */
static int changed_one(int rc, int64_t n)
{
	return rc < 0 ? rc : n == 0 ? SIEM_ENOTFOUND : 0;
}

int sq_key_revoke(struct sq_store *s, int64_t id)
{
	int64_t n = 0;
	int rc =
	    adm_exec(s, "UPDATE api_keys SET revoked = 1 WHERE id = ?", step_write, &n, "i", id);
	return changed_one(rc, n);
}

int sq_key_touch(struct sq_store *s, int64_t id, int64_t now_us)
{
	return adm_exec(s, "UPDATE api_keys SET last_seen = ? WHERE id = ?", step_write, NULL, "ii",
			now_us, id);
}

int sq_key_add_events(struct sq_store *s, int64_t id, int64_t events, int64_t last_us)
{
	return adm_exec(s,
			"UPDATE api_keys SET events = events + ?,"
			" last_event = max(coalesce(last_event, 0), ?) WHERE id = ?",
			step_write, NULL, "iii", events, last_us, id);
}

/* ---- users ---- */

/* A user's token generation starts at the time of creation and only grows, so a name
 * removed and added again does not bring its old tokens back. */
int sq_user_add(struct sq_store *s, const char *name, const char *role, const char *hash)
{
	int64_t now = ts_now_us();
	return adm_exec(s,
			"INSERT INTO users(name, role, hash, created_at, token_gen)"
			" VALUES(?, ?, ?, ?, ?)",
			step_write, NULL, "tttii", name, role, hash, now, now);
}

struct auth_row {
	char **role;
	int64_t *gen;
};

static int step_auth(struct sq_store *s, sqlite3_stmt *st, void *arg)
{
	const struct auth_row *a = arg;
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		*a->gen = sqlite3_column_int64(st, 1);
		return v && (*a->role = strdup(v)) ? 0 : -ENOMEM;
	}
	return r == SQLITE_DONE ? SIEM_ENOTFOUND : store_sql_err(s->adm, "read state");
}

int sq_user_auth(struct sq_store *s, const char *name, char **role, int64_t *gen)
{
	struct auth_row a = {role, gen};
	*role = NULL;
	*gen = 0;
	return adm_exec(s, "SELECT role, token_gen FROM users WHERE name = ?", step_auth, &a, "t",
			name);
}

int sq_user_end_tokens(struct sq_store *s, const char *name)
{
	int64_t n = 0;
	int rc = adm_exec(s, "UPDATE users SET token_gen = max(token_gen + 1, ?) WHERE name = ?",
			  step_write, &n, "it", ts_now_us(), name);
	return changed_one(rc, n);
}

int sq_token_revoke(struct sq_store *s, const uint8_t *sig, size_t n, int64_t exp)
{
	sqlite3_stmt *st;
	int rc = adm_prepare(s, "INSERT OR IGNORE INTO revoked_tokens(sig, exp) VALUES(?, ?)", &st,
			     "prepare");
	if (rc == 0) {
		sqlite3_bind_blob(st, 1, sig, (int)n, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, exp);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_sql_err(s->adm, "write state");
	}
	adm_end(s, st);
	return rc;
}

struct revoked_each {
	void (*fn)(void *arg, const uint8_t *sig, size_t n, int64_t exp);
	void *arg;
};

static int revoked_row(sqlite3_stmt *st, void *arg)
{
	const struct revoked_each *e = arg;
	e->fn(e->arg, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
	      sqlite3_column_int64(st, 1));
	return 0;
}

int sq_token_revoked_each(struct sq_store *s, int64_t now_s,
			  void (*fn)(void *arg, const uint8_t *sig, size_t n, int64_t exp),
			  void *arg)
{
	struct revoked_each e = {fn, arg};
	sqlite3_stmt *st;
	int rc =
	    adm_exec(s, "DELETE FROM revoked_tokens WHERE exp <= ?", step_write, NULL, "i", now_s);
	if (rc < 0)
		return rc;
	if ((rc = adm_prepare(s, "SELECT sig, exp FROM revoked_tokens", &st, "prepare")) == 0)
		rc = adm_each_row(s, st, revoked_row, &e, "read state");
	adm_end(s, st);
	return rc;
}

int sq_user_get(struct sq_store *s, const char *name, char **role, char **hash)
{
	*role = NULL;
	int rc = adm_exec(s, "SELECT role FROM users WHERE name = ?", step_text, role, "t", name);
	if (rc < 0 || !*role)
		return rc < 0 ? rc : SIEM_ENOTFOUND;
	*hash = NULL;
	if ((rc = adm_exec(s, "SELECT hash FROM users WHERE name = ?", step_text, hash, "t",
			   name)) < 0 ||
	    !*hash) {
		free(*role);
		*role = NULL;
		return rc < 0 ? rc : SIEM_ENOTFOUND;
	}
	return 0;
}

int sq_user_set_hash(struct sq_store *s, const char *name, const char *hash)
{
	int64_t n = 0;
	int rc = adm_exec(
	    s, "UPDATE users SET hash = ?, token_gen = max(token_gen + 1, ?) WHERE name = ?",
	    step_write, &n, "tit", hash, ts_now_us(), name);
	return changed_one(rc, n);
}

int sq_user_set_role(struct sq_store *s, const char *name, const char *role)
{
	int64_t n = 0;
	int rc = adm_exec(
	    s, "UPDATE users SET role = ?, token_gen = max(token_gen + 1, ?) WHERE name = ?",
	    step_write, &n, "tit", role, ts_now_us(), name);
	return changed_one(rc, n);
}

int sq_user_remove(struct sq_store *s, const char *name)
{
	int64_t n = 0;
	int rc = adm_exec(s, "DELETE FROM users WHERE name = ?", step_write, &n, "t", name);
	return changed_one(rc, n);
}

int sq_user_list(struct sq_store *s, json_t *out)
{
	static const char *const cols[] = {"name", "role", "created_at", NULL};
	struct json_rows rows = {cols, out};
	return adm_exec(s, "SELECT name, role, created_at FROM users ORDER BY name", step_rows,
			&rows, "");
}

/* ---- audit log ---- */

int sq_audit(struct sq_store *s, const char *actor, const char *client, const char *action,
	     const char *object, const char *detail)
{
	return adm_exec(s,
			"INSERT INTO audit_log(ts, actor, client, action, object, detail)"
			" VALUES(?, ?, ?, ?, ?, ?)",
			step_write, NULL, "ittttt", ts_now_us(), actor, client, action, object,
			detail);
}

int sq_audit_list(struct sq_store *s, int limit, const struct audit_filter *f, json_t *out)
{
	static const char *const cols[] = {"id",     "time",   "actor",	 "client",
					   "action", "object", "detail", NULL};
	struct json_rows rows = {cols, out};
	return adm_exec(
	    s,
	    "SELECT id, ts, actor, client, action, object, detail FROM audit_log"
	    " WHERE (?2 IS NULL OR object = ?2) AND (?3 IS NULL OR actor = ?3)"
	    " AND (?4 IS NULL OR action = ?4 OR substr(action, 1, length(?4) + 1) = ?4 || '.')"
	    " ORDER BY id DESC LIMIT ?1",
	    step_rows, &rows, "itttt", (int64_t)limit, f->object, f->actor, f->action);
}
