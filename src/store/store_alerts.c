/* store_alerts.c — the alerts and rules tables of the main database: batched alert writes
 * from the alerting module, status changes, filtered pages, and rule rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/store_alerts.h"
#include "store/store_int.h"

#define ALERT_COLS                                                                            \
	"id, rev, rule_id, rule_title, rule_level, rule_author, severity, group_key,"         \
	" first_seen, last_seen, created_at, updated_at, count, event_ids, n_events, status," \
	" acknowledged_by, acknowledged_at, closed_by, closed_at"

static const char *const status_names[] = {"open", "acknowledged", "closed"};

const char *alert_status_name(enum alert_status st)
{
	return (unsigned)st < 3 ? status_names[st] : "open";
}

int alert_status_parse(const char *s, enum alert_status *out)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum alert_status)i;
			return 0;
		}
	if (strcmp(s, "ack") == 0 || strcmp(s, "acked") == 0) {
		*out = ALERT_ACKNOWLEDGED;
		return 0;
	}
	return SIEM_EPARSE;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static json_t *col_time(sqlite3_stmt *st, int i)
{
	char buf[32];
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_stringn(buf, ts_format(sqlite3_column_int64(st, i), buf));
}

static json_t *col_text(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	return v ? json_string(v) : json_null();
}

/* A row selected with ALERT_COLS as the API shows it. */
static json_t *alert_row_json(sqlite3_stmt *st)
{
	json_t *o = json_object(), *ids = json_array();
	char buf[37];
	if (!o || !ids) {
		json_decref(o);
		json_decref(ids);
		return NULL;
	}
	int64_t count = sqlite3_column_int64(st, 12), n_events = sqlite3_column_int64(st, 14);
	const uint8_t *blob = sqlite3_column_blob(st, 13);
	size_t nb = (size_t)sqlite3_column_bytes(st, 13) / 16;
	for (size_t i = 0; blob && i < nb; i++) {
		uuid_format(blob + 16 * i, buf);
		json_array_append_new(ids, json_stringn(buf, 36));
	}
	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(o, "version", json_integer(sqlite3_column_int64(st, 1)));
	json_object_set_new(o, "rule_id", col_text(st, 2));
	json_object_set_new(o, "rule_title", col_text(st, 3));
	json_object_set_new(o, "rule_level", col_text(st, 4));
	json_object_set_new(o, "rule_author", col_text(st, 5));
	json_object_set_new(o, "severity", json_integer(sqlite3_column_int(st, 6)));
	json_object_set_new(o, "group_key", col_text(st, 7));
	json_object_set_new(o, "first_seen", col_time(st, 8));
	json_object_set_new(o, "last_seen", col_time(st, 9));
	json_object_set_new(o, "created_at", col_time(st, 10));
	json_object_set_new(o, "updated_at", col_time(st, 11));
	json_object_set_new(o, "count", json_integer(count));
	json_object_set_new(o, "suppressed", json_integer(count > 0 ? count - 1 : 0));
	json_object_set_new(o, "events_total", json_integer(n_events));
	json_object_set_new(o, "event_ids", ids);
	json_object_set_new(o, "event_ids_truncated", json_boolean(n_events > (int64_t)nb));
	json_object_set_new(o, "status", col_text(st, 15));
	json_object_set_new(o, "acknowledged_by", col_text(st, 16));
	json_object_set_new(o, "acknowledged_at", col_time(st, 17));
	json_object_set_new(o, "closed_by", col_text(st, 18));
	json_object_set_new(o, "closed_at", col_time(st, 19));
	return o;
}

/* ---- writes from the alerting module ---- */

int store_alerts_write(struct store *s, const struct alert_rec *recs, const bool *is_new, size_t n)
{
	static const char ins_sql[] =
	    "INSERT INTO alerts(id, rev, rule_id, rule_title, rule_level, rule_author, severity,"
	    " group_key, first_seen, last_seen, created_at, updated_at, count, event_ids,"
	    " n_events) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
	static const char upd_sql[] =
	    "UPDATE alerts SET rev = ?2, first_seen = ?9, last_seen = ?10, updated_at = ?12,"
	    " count = ?13, event_ids = ?14, n_events = ?15, severity = ?7 WHERE id = ?1";
	sqlite3_stmt *ins = NULL, *upd = NULL;
	int rc = 0;
	bool began = false;
	if (n == 0)
		return 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, ins_sql, -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->adm, upd_sql, -1, &upd, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare alerts");
		goto out;
	}
	if ((rc = store_exec(s->adm, "BEGIN IMMEDIATE")) < 0)
		goto out;
	began = true;
	for (size_t i = 0; i < n; i++) {
		const struct alert_rec *a = &recs[i];
		sqlite3_stmt *st = is_new[i] ? ins : upd;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		sqlite3_bind_int64(st, 1, a->id);
		sqlite3_bind_int64(st, 2, a->rev);
		if (is_new[i]) {
			bind_text(st, 3, a->rule_id ? a->rule_id : "");
			bind_text(st, 4, a->rule_title ? a->rule_title : "");
			bind_text(st, 5, a->rule_level);
			bind_text(st, 6, a->rule_author);
			bind_text(st, 8, a->group_key ? a->group_key : "");
			sqlite3_bind_int64(st, 11, a->created_at);
		}
		sqlite3_bind_int(st, 7, a->severity);
		sqlite3_bind_int64(st, 9, a->first_seen);
		sqlite3_bind_int64(st, 10, a->last_seen);
		sqlite3_bind_int64(st, 12, a->updated_at);
		sqlite3_bind_int64(st, 13, a->count);
		sqlite3_bind_blob(st, 14, a->n_ids ? (const void *)a->event_ids : "",
				  (int)(a->n_ids * 16), SQLITE_STATIC);
		sqlite3_bind_int64(st, 15, a->n_events);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = store_sql_err(s->adm, "write alert");
			goto out;
		}
	}
	rc = store_exec(s->adm, "COMMIT");
	began = rc < 0;
out:
	if (began)
		store_exec(s->adm, "ROLLBACK");
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_alerts_max(struct store *s, int64_t *max_id, int64_t *max_rev)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	*max_id = *max_rev = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, "SELECT MAX(id), MAX(rev) FROM alerts", -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		*max_id = sqlite3_column_int64(st, 0);
		*max_rev = sqlite3_column_int64(st, 1);
	} else {
		rc = store_sql_err(s->adm, "read alerts");
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_alert_set_status(struct store *s, int64_t id, enum alert_status to, const char *who,
			   int64_t now_us, int64_t rev)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	bool began = false;
	const char *sql = to == ALERT_CLOSED
			      ? "UPDATE alerts SET status = 'closed', closed_by = ?, closed_at = ?,"
				" rev = ?, updated_at = ?2 WHERE id = ?"
			      : "UPDATE alerts SET status = 'acknowledged', acknowledged_by = ?,"
				" acknowledged_at = ?, rev = ?, updated_at = ?2 WHERE id = ?";
	if (to == ALERT_OPEN)
		return -EINVAL;
	pthread_mutex_lock(&s->adm_mu);
	if ((rc = store_exec(s->adm, "BEGIN IMMEDIATE")) < 0)
		goto out;
	began = true;
	if (sqlite3_prepare_v2(s->adm, "SELECT status FROM alerts WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	int r = sqlite3_step(st);
	if (r != SQLITE_ROW) {
		rc = r == SQLITE_DONE ? SIEM_ENOTFOUND : store_sql_err(s->adm, "read alert");
		goto out;
	}
	enum alert_status cur = ALERT_OPEN;
	alert_status_parse((const char *)sqlite3_column_text(st, 0), &cur);
	sqlite3_finalize(st);
	st = NULL;
	if (cur == ALERT_CLOSED) {
		rc = to == ALERT_CLOSED ? -EALREADY : -EPERM;
		goto out;
	}
	if (cur == to) {
		rc = -EALREADY;
		goto out;
	}
	if (sqlite3_prepare_v2(s->adm, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	bind_text(st, 1, who);
	sqlite3_bind_int64(st, 2, now_us);
	sqlite3_bind_int64(st, 3, rev);
	sqlite3_bind_int64(st, 4, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_sql_err(s->adm, "write alert status");
		goto out;
	}
	rc = store_exec(s->adm, "COMMIT");
	began = rc < 0;
out:
	if (began)
		store_exec(s->adm, "ROLLBACK");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

/* ---- reads ---- */

/* Run sql (with binds done by bind(st, arg)) and append each row's JSON to out. */
static int alert_rows(struct store *s, const char *sql, void (*bind)(sqlite3_stmt *, const void *),
		      const void *arg, json_t *out, size_t *nrows)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, r;
	size_t n = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare alerts query");
		goto out;
	}
	bind(st, arg);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = alert_row_json(st);
		if (!o) {
			rc = -ENOMEM;
			goto out;
		}
		json_array_append_new(out, o);
		n++;
	}
	if (r != SQLITE_DONE)
		rc = store_sql_err(s->adm, "read alerts");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	if (nrows)
		*nrows = n;
	return rc;
}

static void bind_query(sqlite3_stmt *st, const void *arg)
{
	const struct alert_query *q = arg;
	int i = 1;
	for (size_t k = 0; k < q->n_status; k++)
		sqlite3_bind_text(st, i++, alert_status_name(q->status[k]), -1, SQLITE_STATIC);
	for (size_t k = 0; k < q->n_severity; k++)
		sqlite3_bind_int(st, i++, q->severity[k]);
	for (size_t k = 0; k < q->n_rule; k++)
		sqlite3_bind_text(st, i++, q->rule[k], -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, i++, q->from);
	sqlite3_bind_int64(st, i++, q->to);
	sqlite3_bind_int64(st, i++, q->before_id > 0 ? q->before_id : INT64_MAX);
	sqlite3_bind_int(st, i, q->limit + 1);
}

static void add_in(char *sql, size_t cap, size_t *len, const char *col, size_t n)
{
	if (n == 0)
		return;
	*len += (size_t)snprintf(sql + *len, cap - *len, " AND %s IN (", col);
	for (size_t i = 0; i < n && *len < cap; i++)
		*len += (size_t)snprintf(sql + *len, cap - *len, i ? ",?" : "?");
	if (*len < cap)
		*len += (size_t)snprintf(sql + *len, cap - *len, ")");
}

int store_alerts_query(struct store *s, const struct alert_query *q, json_t *out, int64_t *next_id)
{
	char sql[4096];
	size_t len = 0, n = 0;
	if (q->limit < 1 || q->limit > 1000 || q->n_status > 3 || q->n_severity > 5 ||
	    q->n_rule > QUERY_MAX_VALUES)
		return -EINVAL;
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT " ALERT_COLS " FROM alerts WHERE 1");
	add_in(sql, sizeof(sql), &len, "status", q->n_status);
	add_in(sql, sizeof(sql), &len, "severity", q->n_severity);
	add_in(sql, sizeof(sql), &len, "rule_id", q->n_rule);
	if (len < sizeof(sql))
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					" AND last_seen >= ? AND first_seen <= ? AND id < ?"
					" ORDER BY id DESC LIMIT ?");
	if (len >= sizeof(sql))
		return -E2BIG;
	json_t *rows = json_array();
	if (!rows)
		return -ENOMEM;
	int rc = alert_rows(s, sql, bind_query, q, rows, &n);
	*next_id = 0;
	if (rc == 0 && n > (size_t)q->limit) {
		json_array_remove(rows, (size_t)q->limit);
		*next_id = json_integer_value(
		    json_object_get(json_array_get(rows, (size_t)q->limit - 1), "id"));
	}
	if (rc == 0)
		json_array_extend(out, rows);
	json_decref(rows);
	return rc;
}

static void bind_id(sqlite3_stmt *st, const void *arg)
{
	sqlite3_bind_int64(st, 1, *(const int64_t *)arg);
}

int store_alert_get(struct store *s, int64_t id, json_t **out)
{
	json_t *rows = json_array();
	*out = NULL;
	if (!rows)
		return -ENOMEM;
	int rc = alert_rows(s, "SELECT " ALERT_COLS " FROM alerts WHERE id = ?", bind_id, &id, rows,
			    NULL);
	if (rc == 0 && json_array_size(rows) == 1)
		*out = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return rc;
}

struct since_arg {
	int64_t rev;
	int limit;
};

static void bind_since(sqlite3_stmt *st, const void *arg)
{
	const struct since_arg *a = arg;
	sqlite3_bind_int64(st, 1, a->rev);
	sqlite3_bind_int(st, 2, a->limit);
}

int store_alerts_since(struct store *s, int64_t rev, int limit, json_t *out)
{
	struct since_arg a = {rev, limit};
	return alert_rows(s, "SELECT " ALERT_COLS " FROM alerts WHERE rev > ? ORDER BY rev LIMIT ?",
			  bind_since, &a, out, NULL);
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	return v ? strdup(v) : NULL;
}

void store_alert_open_rows_free(struct alert_open_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].rule_id);
		free(rows[i].group_key);
		free(rows[i].rule_title);
		free(rows[i].rule_level);
		free(rows[i].rule_author);
	}
	free(rows);
}

int store_alerts_open_since(struct store *s, int64_t since_us, size_t limit,
			    struct alert_open_row **rows, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct alert_open_row *v = NULL;
	size_t cnt = 0;
	int rc = 0, r;
	*rows = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(
		s->adm,
		"SELECT id, created_at, first_seen, last_seen, count, n_events, rule_id,"
		" group_key, rule_title, rule_level, rule_author, severity, status,"
		" event_ids FROM alerts WHERE status != 'closed' AND created_at >= ?"
		" ORDER BY id DESC LIMIT ?",
		-1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	sqlite3_bind_int64(st, 1, since_us);
	sqlite3_bind_int64(st, 2, (int64_t)limit);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (!v && !(v = calloc(limit, sizeof(*v)))) {
			rc = -ENOMEM;
			goto out;
		}
		struct alert_open_row *o = &v[cnt++];
		o->id = sqlite3_column_int64(st, 0);
		o->created_at = sqlite3_column_int64(st, 1);
		o->first_seen = sqlite3_column_int64(st, 2);
		o->last_seen = sqlite3_column_int64(st, 3);
		o->count = sqlite3_column_int64(st, 4);
		o->n_events = sqlite3_column_int64(st, 5);
		o->rule_id = dup_col(st, 6);
		o->group_key = dup_col(st, 7);
		o->rule_title = dup_col(st, 8);
		o->rule_level = dup_col(st, 9);
		o->rule_author = dup_col(st, 10);
		o->severity = sqlite3_column_int(st, 11);
		o->acknowledged =
		    strcmp((const char *)sqlite3_column_text(st, 12), "acknowledged") == 0;
		size_t nb = (size_t)sqlite3_column_bytes(st, 13) / 16;
		if (nb > ALERT_MAX_EVENTS)
			nb = ALERT_MAX_EVENTS;
		if (nb)
			memcpy(o->ids, sqlite3_column_blob(st, 13), nb * 16);
		o->n_ids = nb;
		if (!o->rule_id || !o->group_key || !o->rule_title) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (r != SQLITE_DONE)
		rc = store_sql_err(s->adm, "read alerts");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	if (rc < 0) {
		store_alert_open_rows_free(v, cnt);
		return rc;
	}
	*rows = v;
	*n = cnt;
	return 0;
}

int store_alerts_rule_stats(struct store *s, json_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, r;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm,
			       "SELECT rule_id, COUNT(*), SUM(count), SUM(status != 'closed'),"
			       " MAX(last_seen) FROM alerts GROUP BY rule_id",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		json_object_set_new(o, "alerts", json_integer(sqlite3_column_int64(st, 1)));
		json_object_set_new(o, "hits", json_integer(sqlite3_column_int64(st, 2)));
		json_object_set_new(o, "open", json_integer(sqlite3_column_int64(st, 3)));
		json_object_set_new(o, "last_hit", col_time(st, 4));
		json_object_set_new(out, (const char *)sqlite3_column_text(st, 0), o);
	}
	if (r != SQLITE_DONE)
		rc = store_sql_err(s->adm, "read alerts");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

/* ---- rules ---- */

void store_rule_rows_free(struct rule_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].id);
		free(rows[i].origin);
		free(rows[i].yaml);
		free(rows[i].created_by);
		free(rows[i].updated_by);
	}
	free(rows);
}

int store_rules_list(struct store *s, struct rule_row **rows, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct rule_row *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0, r;
	*rows = NULL;
	*n = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(
		s->adm,
		"SELECT id, origin, yaml, enabled, created_at, updated_at, created_by,"
		" updated_by FROM rules ORDER BY created_at, id",
		-1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct rule_row *nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		struct rule_row *o = &v[cnt++];
		memset(o, 0, sizeof(*o));
		o->id = dup_col(st, 0);
		o->origin = dup_col(st, 1);
		o->yaml = dup_col(st, 2);
		o->enabled = sqlite3_column_int(st, 3) != 0;
		o->created_at = sqlite3_column_int64(st, 4);
		o->updated_at = sqlite3_column_int64(st, 5);
		o->created_by = dup_col(st, 6);
		o->updated_by = dup_col(st, 7);
		if (!o->id || !o->origin) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (r != SQLITE_DONE)
		rc = store_sql_err(s->adm, "read rules");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	if (rc < 0) {
		store_rule_rows_free(v, cnt);
		return rc;
	}
	*rows = v;
	*n = cnt;
	return 0;
}

/* One statement on the state connection; *changes gets the rows changed. */
static int rule_stmt(struct store *s, const char *sql, const char *id, const char *origin,
		     const char *yaml, int enabled, const char *who, int64_t *changes)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(s->adm, "prepare");
		goto out;
	}
	/* Named parameters: absent ones are simply not in the statement. */
	int i;
	if ((i = sqlite3_bind_parameter_index(st, ":id")))
		bind_text(st, i, id);
	if ((i = sqlite3_bind_parameter_index(st, ":origin")))
		bind_text(st, i, origin);
	if ((i = sqlite3_bind_parameter_index(st, ":yaml")))
		bind_text(st, i, yaml);
	if ((i = sqlite3_bind_parameter_index(st, ":enabled")))
		sqlite3_bind_int(st, i, enabled);
	if ((i = sqlite3_bind_parameter_index(st, ":who")))
		bind_text(st, i, who);
	if ((i = sqlite3_bind_parameter_index(st, ":now")))
		sqlite3_bind_int64(st, i, ts_now_us());
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_sql_err(s->adm, "write rule");
		goto out;
	}
	if (changes)
		*changes = sqlite3_changes(s->adm);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int store_rule_put(struct store *s, const char *id, const char *origin, const char *yaml,
		   bool enabled, const char *who)
{
	return rule_stmt(
	    s,
	    "INSERT INTO rules(id, origin, yaml, enabled, created_at, created_by,"
	    " updated_at, updated_by) VALUES(:id, :origin, :yaml, :enabled, :now, :who,"
	    " :now, :who) ON CONFLICT(id) DO UPDATE SET origin = excluded.origin,"
	    " yaml = excluded.yaml, enabled = excluded.enabled,"
	    " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
	    id, origin, yaml, enabled, who, NULL);
}

int store_rule_set_enabled(struct store *s, const char *id, const char *origin, bool enabled,
			   const char *who)
{
	return rule_stmt(s,
			 "INSERT INTO rules(id, origin, yaml, enabled, created_at, created_by,"
			 " updated_at, updated_by) VALUES(:id, :origin, NULL, :enabled, :now, :who,"
			 " :now, :who) ON CONFLICT(id) DO UPDATE SET enabled = excluded.enabled,"
			 " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
			 id, origin, NULL, enabled, who, NULL);
}

int store_rule_delete(struct store *s, const char *id)
{
	int64_t n = 0;
	int rc = rule_stmt(s, "DELETE FROM rules WHERE id = :id", id, NULL, NULL, 0, NULL, &n);
	return rc < 0 ? rc : n == 0 ? SIEM_ENOTFOUND : 0;
}
