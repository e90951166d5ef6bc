/* store_state.c — hub state in the main database: meta key/values and agent API keys.
 * Any thread; one connection serialized by a mutex (these are rare, small writes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/store_int.h"

#define sql_err store_sql_err


int store_meta_get(struct store *s, const char *key, char **out)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	*out = NULL;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = sql_err(s->adm, "meta get");
		goto out;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		if (v && !(*out = strdup(v)))
			rc = -ENOMEM;
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1,
			       &st, NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "meta set");
		goto out;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sql_err(s->adm, "meta set");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_key_add(struct store *s, const char *name, const char *hash, int64_t *id)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm,
			       "INSERT INTO api_keys(name, hash, created_at) VALUES(?, ?, ?)", -1,
			       &st, NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "add key");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ts_now_us());
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sql_err(s->adm, "add key");
	else if (id)
		*id = sqlite3_last_insert_rowid(s->adm);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_key_find(struct store *s, const char *hash, struct api_key_info *info, bool *found)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	*found = false;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "SELECT id, name, revoked FROM api_keys WHERE hash = ?", -1,
			       &st, NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "find key");
		goto out;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		info->id = sqlite3_column_int64(st, 0);
		const char *n = (const char *)sqlite3_column_text(st, 1);
		snprintf(info->name, sizeof(info->name), "%s", n ? n : "");
		info->revoked = sqlite3_column_int(st, 2) != 0;
		*found = true;
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_key_list(struct store *s, json_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	char buf[32];
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm,
			       "SELECT id, name, created_at, last_seen, revoked FROM api_keys ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "list keys");
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *k = json_object();
		json_object_set_new(k, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(k, "name", json_string((const char *)sqlite3_column_text(st, 1)));
		ts_format(sqlite3_column_int64(st, 2), buf);
		json_object_set_new(k, "created_at", json_string(buf));
		if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
			ts_format(sqlite3_column_int64(st, 3), buf);
			json_object_set_new(k, "last_seen", json_string(buf));
		} else {
			json_object_set_new(k, "last_seen", json_null());
		}
		json_object_set_new(k, "revoked", json_boolean(sqlite3_column_int(st, 4)));
		json_array_append_new(out, k);
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_key_revoke(struct store *s, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "UPDATE api_keys SET revoked = 1 WHERE id = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "revoke key");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sql_err(s->adm, "revoke key");
	else if (sqlite3_changes(s->adm) == 0)
		rc = SIEM_ENOTFOUND;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_key_touch(struct store *s, int64_t id, int64_t now_us)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "UPDATE api_keys SET last_seen = ? WHERE id = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = sql_err(s->adm, "touch key");
		goto out;
	}
	sqlite3_bind_int64(st, 1, now_us);
	sqlite3_bind_int64(st, 2, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sql_err(s->adm, "touch key");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

