/* dashboards.c — saved dashboards: named lists of widgets per owner, in the main database. */
#include "core/err.h"
#include "store/dashboards.h"
#include "store/store_int.h"

static json_t *ts_json(int64_t us)
{
	char buf[32];
	ts_format(us, buf);
	return json_string(buf);
}

static int list_row(sqlite3_stmt *st, void *arg)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(o, "name", json_string((const char *)sqlite3_column_text(st, 1)));
	json_object_set_new(o, "created_at", ts_json(sqlite3_column_int64(st, 2)));
	json_object_set_new(o, "updated_at", ts_json(sqlite3_column_int64(st, 3)));
	json_array_append_new(arg, o);
	return 0;
}

int sq_dashboard_list(struct sq_store *s, const char *owner, json_t *out)
{
	sqlite3_stmt *st;
	int rc = adm_prepare(s,
			     "SELECT id, name, created_at, updated_at FROM dashboards"
			     " WHERE owner = ? ORDER BY name, id",
			     &st, "dashboards");
	if (rc == 0) {
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
		rc = adm_each_row(s, st, list_row, out, "dashboards");
	}
	adm_end(s, st);
	return rc;
}

int sq_dashboard_get(struct sq_store *s, const char *owner, int64_t id, json_t **out)
{
	sqlite3_stmt *st;
	int r, rc;
	*out = NULL;
	if ((rc = adm_prepare(s,
			      "SELECT id, name, spec, created_at, updated_at FROM dashboards"
			      " WHERE owner = ? AND id = ?",
			      &st, "dashboards")) < 0)
		goto out;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		const char *spec = (const char *)sqlite3_column_text(st, 2);
		json_t *w = spec ? json_loads(spec, 0, NULL) : NULL;
		json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(o, "name",
				    json_string((const char *)sqlite3_column_text(st, 1)));
		json_object_set_new(o, "widgets", w ? w : json_array());
		json_object_set_new(o, "created_at", ts_json(sqlite3_column_int64(st, 3)));
		json_object_set_new(o, "updated_at", ts_json(sqlite3_column_int64(st, 4)));
		*out = o;
	} else if (r == SQLITE_DONE) {
		rc = SIEM_ENOTFOUND;
	} else {
		rc = store_sql_err(s->adm, "dashboards");
	}
out:
	adm_end(s, st);
	return rc;
}

/* One write; -EEXIST on a taken name, SIEM_ENOTFOUND when nothing matched. */
static int dash_write(struct sq_store *s, const char *sql, const char *owner, int64_t id,
		      const char *name, const char *spec, int64_t *rowid)
{
	sqlite3_stmt *st;
	int rc, k = 1;
	if ((rc = adm_prepare(s, sql, &st, "dashboards")) < 0)
		goto out;
	if (name)
		sqlite3_bind_text(st, k++, name, -1, SQLITE_STATIC);
	if (spec)
		sqlite3_bind_text(st, k++, spec, -1, SQLITE_STATIC);
	if (name || spec)
		sqlite3_bind_int64(st, k++, ts_now_us());
	sqlite3_bind_text(st, k++, owner, -1, SQLITE_STATIC);
	if (id)
		sqlite3_bind_int64(st, k++, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = (sqlite3_extended_errcode(s->adm) & 0xff) == SQLITE_CONSTRAINT
			 ? -EEXIST
			 : store_sql_err(s->adm, "dashboards");
		goto out;
	}
	if (sqlite3_changes(s->adm) == 0)
		rc = SIEM_ENOTFOUND;
	else if (rowid)
		*rowid = sqlite3_last_insert_rowid(s->adm);
out:
	adm_end(s, st);
	return rc;
}

int sq_dashboard_add(struct sq_store *s, const char *owner, const char *name, const char *spec,
		     int64_t *id)
{
	return dash_write(s,
			  "INSERT INTO dashboards(name, spec, created_at, updated_at, owner)"
			  " VALUES(?1, ?2, ?3, ?3, ?4)",
			  owner, 0, name, spec, id);
}

int sq_dashboard_update(struct sq_store *s, const char *owner, int64_t id, const char *name,
			const char *spec)
{
	return dash_write(s,
			  "UPDATE dashboards SET name = ?1, spec = ?2, updated_at = ?3"
			  " WHERE owner = ?4 AND id = ?5",
			  owner, id, name, spec, NULL);
}

int sq_dashboard_delete(struct sq_store *s, const char *owner, int64_t id)
{
	return dash_write(s, "DELETE FROM dashboards WHERE owner = ?1 AND id = ?2", owner, id, NULL,
			  NULL, NULL);
}
