/* pg_state.c — hub state in PostgreSQL: meta key/values, agent API keys, users, logged-out
 * tokens and the audit log; the twin of store_state.c, answering as it does. Each call is one
 * statement on a pooled connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "store/pg/pg_int.h"

/* ---- helpers ---- */

/* A write; *n (may be NULL) gets the count of rows it changed. */
static int write_n(struct pg_store *s, const char *sql, const struct pg_params *p, int64_t *n)
{
	PGresult *r = NULL;
	int rc = pg_run(s, sql, p, &r, "write state");
	if (rc == 0 && n)
		*n = pg_changes(r);
	PQclear(r);
	return rc;
}

/* A write that must change a row, else SIEM_ENOTFOUND. */
static int write_one(struct pg_store *s, const char *sql, const struct pg_params *p)
{
	int64_t n = 0;
	int rc = write_n(s, sql, p, &n);
	return rc < 0 ? rc : n == 0 ? SIEM_ENOTFOUND : 0;
}

/* How a column shows in JSON (store_state.c decides it from the name: "_at", "time" and
 * "last_seen" are times, "revoked" a boolean). */
enum col_kind { COL_INT, COL_TEXT, COL_TIME, COL_BOOL };

struct col {
	const char *name;
	enum col_kind kind;
};

static json_t *col_json(const PGresult *r, int row, int i, enum col_kind kind)
{
	char buf[32];
	const char *v = pg_str(r, row, i);
	if (!v)
		return json_null();
	switch (kind) {
	case COL_INT:
		return json_integer(pg_i64(r, row, i));
	case COL_TIME:
		return json_stringn(buf, ts_format(pg_i64(r, row, i), buf));
	case COL_BOOL:
		return json_boolean(v[0] == 't');
	default:
		return json_string(v);
	}
}

/* Each row of sql (its columns those of cols, in order) as an object appended to out. */
static int select_json(struct pg_store *s, const char *sql, const struct pg_params *p,
		       const struct col *cols, size_t ncols, json_t *out)
{
	PGresult *r = NULL;
	int rc = pg_run(s, sql, p, &r, "read state");
	for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
		json_t *o = json_object();
		if (!o) {
			rc = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < ncols; i++) {
			json_t *v = col_json(r, row, (int)i, cols[i].kind);
			json_object_set_new(o, cols[i].name, v ? v : json_null());
		}
		json_array_append_new(out, o);
	}
	PQclear(r);
	return rc;
}

/* The first column of the first row as a malloc'd string (*out NULL when there is none). */
static int select_text(struct pg_store *s, const char *sql, const struct pg_params *p, char **out)
{
	PGresult *r = NULL;
	int rc = pg_run(s, sql, p, &r, "read state");
	*out = NULL;
	if (rc == 0 && PQntuples(r) > 0 && !pg_null(r, 0, 0) && !(*out = strdup(pg_str(r, 0, 0))))
		rc = -ENOMEM;
	PQclear(r);
	return rc;
}

/* ---- file offsets (the tailer's) ---- */

int pg_list_offsets(struct pg_store *s, int limit, json_t *out)
{
	static const struct col cols[] = {{"path", COL_TEXT}, {"offset", COL_INT}};
	struct pg_params p = {0};
	pg_p_limit(&p, limit);
	return select_json(s, "SELECT path, \"offset\" FROM file_offsets ORDER BY path LIMIT $1",
			   &p, cols, sizeof(cols) / sizeof(cols[0]), out);
}

/* ---- meta ---- */

int pg_meta_get(struct pg_store *s, const char *key, char **out)
{
	struct pg_params p = {0};
	pg_p_text(&p, key);
	return select_text(s, "SELECT value FROM meta WHERE key = $1", &p, out);
}

int pg_meta_put(PGconn *c, const char *key, const char *value, const char *what)
{
	struct pg_params p = {0};
	pg_p_text(&p, key);
	pg_p_text(&p, value);
	return pg_exec(c,
		       "INSERT INTO meta(key, value) VALUES($1, $2)"
		       " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
		       &p, NULL, what);
}

int pg_meta_set(struct pg_store *s, const char *key, const char *value)
{
	PGconn *c = NULL;
	int rc = pg_conn_get(s, &c);
	if (rc < 0)
		return rc;
	rc = pg_meta_put(c, key, value, "write state");
	pg_conn_put(s, c);
	return rc;
}

int pg_meta_cas(struct pg_store *s, const char *key, const char *expect, const char *value)
{
	struct pg_params p = {0};
	int64_t n = 0;
	pg_p_text(&p, key);
	pg_p_text(&p, value);
	if (expect)
		pg_p_text(&p, expect);
	int rc =
	    write_n(s,
		    expect ? "UPDATE meta SET value = $2 WHERE key = $1 AND value = $3"
			   : "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT DO NOTHING",
		    &p, &n);
	return rc < 0 ? rc : n == 1 ? 0 : -EAGAIN;
}

int pg_meta_delete(struct pg_store *s, const char *key)
{
	struct pg_params p = {0};
	pg_p_text(&p, key);
	return write_n(s, "DELETE FROM meta WHERE key = $1", &p, NULL);
}

/* ---- API keys ---- */

int pg_key_add(struct pg_store *s, const char *name, const char *hash, int64_t *id)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	pg_p_text(&p, name);
	pg_p_text(&p, hash);
	pg_p_i64(&p, ts_now_us());
	int rc = pg_run(s,
			"INSERT INTO api_keys(name, hash, created_at) VALUES($1, $2, $3)"
			" RETURNING id",
			&p, &r, "write state");
	if (rc == 0 && id)
		*id = pg_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

int pg_key_find(struct pg_store *s, const char *hash, struct api_key_info *info, bool *found)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	pg_p_text(&p, hash);
	int rc = pg_run(s, "SELECT id, name, revoked FROM api_keys WHERE hash = $1", &p, &r,
			"read state");
	*found = rc == 0 && PQntuples(r) > 0;
	if (*found) {
		const char *name = pg_str(r, 0, 1), *revoked = pg_str(r, 0, 2);
		info->id = pg_i64(r, 0, 0);
		snprintf(info->name, sizeof(info->name), "%s", name ? name : "");
		info->revoked = revoked && revoked[0] == 't';
	}
	PQclear(r);
	return rc;
}

int pg_key_list(struct pg_store *s, json_t *out)
{
	static const struct col cols[] = {{"id", COL_INT},	    {"name", COL_TEXT},
					  {"created_at", COL_TIME}, {"last_seen", COL_TIME},
					  {"revoked", COL_BOOL},    {"events", COL_INT},
					  {"last_event", COL_TIME}};
	return select_json(s,
			   "SELECT id, name, created_at, last_seen, revoked, events, last_event"
			   " FROM api_keys ORDER BY id",
			   NULL, cols, sizeof(cols) / sizeof(cols[0]), out);
}

int pg_key_revoke(struct pg_store *s, int64_t id)
{
	struct pg_params p = {0};
	pg_p_i64(&p, id);
	return write_one(s, "UPDATE api_keys SET revoked = true WHERE id = $1", &p);
}

int pg_key_touch(struct pg_store *s, int64_t id, int64_t now_us)
{
	struct pg_params p = {0};
	pg_p_i64(&p, now_us);
	pg_p_i64(&p, id);
	return write_n(s, "UPDATE api_keys SET last_seen = $1 WHERE id = $2", &p, NULL);
}

int pg_key_add_events(struct pg_store *s, int64_t id, int64_t events, int64_t last_us)
{
	struct pg_params p = {0};
	pg_p_i64(&p, events);
	pg_p_i64(&p, last_us);
	pg_p_i64(&p, id);
	return write_n(s,
		       "UPDATE api_keys SET events = events + $1,"
		       " last_event = GREATEST(coalesce(last_event, 0), $2) WHERE id = $3",
		       &p, NULL);
}

/* ---- users ---- */

/* A user's token generation starts at the time of creation and only grows, so a name
 * removed and added again does not bring its old tokens back. A taken name is a unique
 * violation: -EEXIST. */
int pg_user_add(struct pg_store *s, const char *name, const char *role, const char *hash)
{
	struct pg_params p = {0};
	int64_t now = ts_now_us();
	pg_p_text(&p, name);
	pg_p_text(&p, role);
	pg_p_text(&p, hash);
	pg_p_i64(&p, now);
	return write_n(s,
		       "INSERT INTO users(name, role, hash, created_at, token_gen)"
		       " VALUES($1, $2, $3, $4, $4)",
		       &p, NULL);
}

int pg_user_get(struct pg_store *s, const char *name, char **role, char **hash)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	*role = *hash = NULL;
	pg_p_text(&p, name);
	int rc = pg_run(s, "SELECT role, hash FROM users WHERE name = $1", &p, &r, "read state");
	if (rc < 0)
		goto out;
	if (PQntuples(r) == 0 || pg_null(r, 0, 0) || pg_null(r, 0, 1)) {
		rc = SIEM_ENOTFOUND;
		goto out;
	}
	if (!(*role = strdup(pg_str(r, 0, 0))) || !(*hash = strdup(pg_str(r, 0, 1)))) {
		free(*role);
		*role = NULL;
		rc = -ENOMEM;
	}
out:
	PQclear(r);
	return rc;
}

/* A new hash also ends every token of the user. */
int pg_user_set_hash(struct pg_store *s, const char *name, const char *hash)
{
	struct pg_params p = {0};
	pg_p_text(&p, hash);
	pg_p_i64(&p, ts_now_us());
	pg_p_text(&p, name);
	return write_one(s,
			 "UPDATE users SET hash = $1, token_gen = greatest(token_gen + 1, $2)"
			 " WHERE name = $3",
			 &p);
}

int pg_user_set_role(struct pg_store *s, const char *name, const char *role)
{
	struct pg_params p = {0};
	pg_p_text(&p, role);
	pg_p_i64(&p, ts_now_us());
	pg_p_text(&p, name);
	return write_one(s,
			 "UPDATE users SET role = $1, token_gen = greatest(token_gen + 1, $2)"
			 " WHERE name = $3",
			 &p);
}

int pg_user_auth(struct pg_store *s, const char *name, char **role, int64_t *gen)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	*role = NULL;
	*gen = 0;
	pg_p_text(&p, name);
	int rc =
	    pg_run(s, "SELECT role, token_gen FROM users WHERE name = $1", &p, &r, "read state");
	if (rc == 0 && PQntuples(r) == 0) {
		rc = SIEM_ENOTFOUND;
	} else if (rc == 0) {
		*gen = pg_i64(r, 0, 1);
		if (pg_null(r, 0, 0) || !(*role = strdup(pg_str(r, 0, 0))))
			rc = -ENOMEM;
	}
	PQclear(r);
	return rc;
}

int pg_user_end_tokens(struct pg_store *s, const char *name)
{
	struct pg_params p = {0};
	pg_p_i64(&p, ts_now_us());
	pg_p_text(&p, name);
	return write_one(
	    s, "UPDATE users SET token_gen = greatest(token_gen + 1, $1) WHERE name = $2", &p);
}

/* The table is not bounded here: src/api/tokens.c keeps at most REVOKED_MAX live entries and,
 * past that, ends all of a user's tokens instead of adding one (as with SQLite). */
int pg_token_revoke(struct pg_store *s, const uint8_t *sig, size_t n, int64_t exp)
{
	struct pg_params p = {0};
	pg_p_bytes(&p, n ? (const void *)sig : "", n);
	pg_p_i64(&p, exp);
	return write_n(s,
		       "INSERT INTO revoked_tokens(sig, exp) VALUES($1, $2)"
		       " ON CONFLICT(sig) DO NOTHING",
		       &p, NULL);
}

/* Drops the expired entries and reads the others in one statement (the SELECT sees the table
 * as it was before the DELETE, hence its own condition). */
int pg_token_revoked_each(struct pg_store *s, int64_t now_s,
			  void (*fn)(void *arg, const uint8_t *sig, size_t n, int64_t exp),
			  void *arg)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	uint8_t *buf = NULL;
	size_t cap = 1;
	pg_p_i64(&p, now_s);
	int rc = pg_run(s,
			"WITH gone AS (DELETE FROM revoked_tokens WHERE exp <= $1)"
			" SELECT sig, exp FROM revoked_tokens WHERE exp > $1",
			&p, &r, "read state");
	if (rc < 0)
		goto out;
	/* The text of a bytea is longer than its bytes: one buffer of the longest text fits all. */
	for (int i = 0; i < PQntuples(r); i++)
		if ((size_t)PQgetlength(r, i, 0) > cap)
			cap = (size_t)PQgetlength(r, i, 0);
	if (!(buf = malloc(cap))) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		long n = pg_bytea(r, i, 0, buf, cap);
		if (n >= 0)
			fn(arg, buf, (size_t)n, pg_i64(r, i, 1));
	}
out:
	free(buf);
	PQclear(r);
	return rc;
}

int pg_user_remove(struct pg_store *s, const char *name)
{
	struct pg_params p = {0};
	pg_p_text(&p, name);
	return write_one(s, "DELETE FROM users WHERE name = $1", &p);
}

/* By name in byte order, as SQLite's BINARY collation sorts (not the database's locale). */
int pg_user_list(struct pg_store *s, json_t *out)
{
	static const struct col cols[] = {
	    {"name", COL_TEXT}, {"role", COL_TEXT}, {"created_at", COL_TIME}};
	return select_json(s,
			   "SELECT name, role, created_at FROM users ORDER BY name COLLATE \"C\"",
			   NULL, cols, sizeof(cols) / sizeof(cols[0]), out);
}

/* ---- audit log ---- */

int pg_audit(struct pg_store *s, const char *actor, const char *client, const char *action,
	     const char *object, const char *detail)
{
	struct pg_params p = {0};
	pg_p_i64(&p, ts_now_us());
	pg_p_text(&p, actor);
	pg_p_text(&p, client);
	pg_p_text(&p, action);
	pg_p_text(&p, object);
	pg_p_text(&p, detail);
	return write_n(s,
		       "INSERT INTO audit_log(ts, actor, client, action, object, detail)"
		       " VALUES($1, $2, $3, $4, $5, $6)",
		       &p, NULL);
}

int pg_audit_list(struct pg_store *s, int limit, const struct audit_filter *f, json_t *out)
{
	static const struct col cols[] = {
	    {"id", COL_INT},	  {"time", COL_TIME},	{"actor", COL_TEXT}, {"client", COL_TEXT},
	    {"action", COL_TEXT}, {"object", COL_TEXT}, {"detail", COL_TEXT}};
	struct pg_params p = {0};
	pg_p_limit(&p, limit);
	pg_p_text(&p, f->object);
	pg_p_text(&p, f->actor);
	pg_p_text(&p, f->action);
	return select_json(
	    s,
	    "SELECT id, ts, actor, client, action, object, detail FROM audit_log"
	    " WHERE ($2::text IS NULL OR object = $2) AND ($3::text IS NULL OR actor = $3)"
	    " AND ($4::text IS NULL OR action = $4"
	    " OR substr(action, 1, length($4) + 1) = $4 || '.')"
	    " ORDER BY id DESC LIMIT $1",
	    &p, cols, sizeof(cols) / sizeof(cols[0]), out);
}
