/* store_alerts.c — the alerts and rules tables of the main database: batched alert writes
 * from the alerting module, status changes, filtered pages, and rule rows. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/alert_json.h"
#include "store/store_alerts.h"
#include "store/store_int.h"

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

/* A string that outlives the statement's next step (its bindings are cleared after). */
static void bind_static(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
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

static const char *col_str(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* A time column that may be NULL: into *v, and v, or NULL. */
static const int64_t *col_opt(sqlite3_stmt *st, int i, int64_t *v)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	*v = sqlite3_column_int64(st, i);
	return v;
}

/* A row selected with ALERT_COLS as the API shows it. */
static json_t *alert_row_json(sqlite3_stmt *st)
{
	int64_t ack_at, closed_at;
	const uint8_t *ids = sqlite3_column_blob(st, 13);
	size_t nb = (size_t)sqlite3_column_bytes(st, 13) / 16;
	struct alert_vals a = {
	    .id = sqlite3_column_int64(st, 0),
	    .rev = sqlite3_column_int64(st, 1),
	    .rule_id = col_str(st, 2),
	    .rule_title = col_str(st, 3),
	    .rule_level = col_str(st, 4),
	    .rule_author = col_str(st, 5),
	    .severity = sqlite3_column_int(st, 6),
	    .group_key = col_str(st, 7),
	    .first_seen = sqlite3_column_int64(st, 8),
	    .last_seen = sqlite3_column_int64(st, 9),
	    .created_at = sqlite3_column_int64(st, 10),
	    .updated_at = sqlite3_column_int64(st, 11),
	    .count = sqlite3_column_int64(st, 12),
	    .event_ids = ids,
	    .n_ids = ids ? nb : 0,
	    .n_events = sqlite3_column_int64(st, 14),
	    .status = col_str(st, 15),
	    .acknowledged_by = col_str(st, 16),
	    .acknowledged_at = col_opt(st, 17, &ack_at),
	    .closed_by = col_str(st, 18),
	    .closed_at = col_opt(st, 19, &closed_at),
	    .summary = col_str(st, 20),
	    .backfill = sqlite3_column_int(st, 21) != 0,
	};
	return alert_json(&a);
}

/* ---- writes from the alerting module ---- */

/* The end of a transaction on the main database: commit when rc is 0, else (or when the
 * commit fails) roll back; the result. */
static int txn_end(struct sq_store *s, int rc)
{
	if (rc == 0 && (rc = store_exec(s->adm, "COMMIT")) == 0)
		return 0;
	store_exec(s->adm, "ROLLBACK");
	return rc;
}

static int write_recs(struct sq_store *s, sqlite3_stmt *ins, sqlite3_stmt *upd,
		      const struct alert_rec *recs, const bool *is_new, size_t n)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct alert_rec *a = &recs[i];
		sqlite3_stmt *st = is_new[i] ? ins : upd;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		sqlite3_bind_int64(st, 1, a->id);
		sqlite3_bind_int64(st, 2, a->rev);
		if (is_new[i]) {
			bind_static(st, 3, a->rule_id ? a->rule_id : "");
			bind_static(st, 4, a->rule_title ? a->rule_title : "");
			bind_static(st, 5, a->rule_level);
			bind_static(st, 6, a->rule_author);
			bind_static(st, 8, a->group_key ? a->group_key : "");
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
		bind_static(st, 16, a->summary);
		if (is_new[i])
			sqlite3_bind_int(st, 17, a->backfill);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_sql_err(s->adm, "write alert");
	}
	/* The statements stay prepared: none may keep the caller's strings. */
	sqlite3_reset(ins);
	sqlite3_clear_bindings(ins);
	sqlite3_reset(upd);
	sqlite3_clear_bindings(upd);
	return rc;
}

/* Under adm_mu: the alert write statements, prepared on first use and kept. */
static int alert_stmts(struct sq_store *s)
{
	static const char ins_sql[] =
	    "INSERT INTO alerts(id, rev, rule_id, rule_title, rule_level, rule_author, severity,"
	    " group_key, first_seen, last_seen, created_at, updated_at, count, event_ids,"
	    " n_events, summary, backfill) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
	static const char upd_sql[] =
	    "UPDATE alerts SET rev = ?2, first_seen = ?9, last_seen = ?10, updated_at = ?12,"
	    " count = ?13, event_ids = ?14, n_events = ?15, severity = ?7,"
	    " summary = coalesce(?16, summary) WHERE id = ?1";
	if (!s->alert_ins && sqlite3_prepare_v3(s->adm, ins_sql, -1, SQLITE_PREPARE_PERSISTENT,
						&s->alert_ins, NULL) != SQLITE_OK)
		return store_sql_err(s->adm, "prepare alerts");
	if (!s->alert_upd && sqlite3_prepare_v3(s->adm, upd_sql, -1, SQLITE_PREPARE_PERSISTENT,
						&s->alert_upd, NULL) != SQLITE_OK)
		return store_sql_err(s->adm, "prepare alerts");
	return 0;
}

void sq_alerts_release(struct sq_store *s)
{
	sqlite3_finalize(s->alert_ins);
	sqlite3_finalize(s->alert_upd);
	s->alert_ins = s->alert_upd = NULL;
}

int sq_alerts_write(struct sq_store *s, const struct alert_rec *recs, const bool *is_new, size_t n)
{
	int rc;
	if (n == 0)
		return 0;
	pthread_mutex_lock(&s->adm_mu);
	if ((rc = alert_stmts(s)) == 0 && (rc = store_exec(s->adm, "BEGIN IMMEDIATE")) == 0)
		rc = txn_end(s, write_recs(s, s->alert_ins, s->alert_upd, recs, is_new, n));
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

int sq_alerts_max(struct sq_store *s, int64_t *max_id, int64_t *max_rev)
{
	sqlite3_stmt *st;
	int rc;
	*max_id = *max_rev = 0;
	if ((rc = adm_prepare(s, "SELECT MAX(id), MAX(rev) FROM alerts", &st, "prepare")) < 0)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*max_id = sqlite3_column_int64(st, 0);
		*max_rev = sqlite3_column_int64(st, 1);
	} else {
		rc = store_sql_err(s->adm, "read alerts");
	}
out:
	adm_end(s, st);
	return rc;
}

/* Inside the transaction of store_alert_set_status. */
static int set_status(struct sq_store *s, int64_t id, enum alert_status to, const char *who,
		      int64_t now_us, int64_t rev)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	const char *sql = to == ALERT_CLOSED
			      ? "UPDATE alerts SET status = 'closed', closed_by = ?, closed_at = ?,"
				" rev = ?, updated_at = ?2 WHERE id = ?"
			      : "UPDATE alerts SET status = 'acknowledged', acknowledged_by = ?,"
				" acknowledged_at = ?, rev = ?, updated_at = ?2 WHERE id = ?";
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
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_sql_err(s->adm, "write alert status");
out:
	sqlite3_finalize(st);
	return rc;
}

int sq_alert_set_status(struct sq_store *s, int64_t id, enum alert_status to, const char *who,
			int64_t now_us, int64_t rev)
{
	int rc;
	if (to == ALERT_OPEN)
		return -EINVAL;
	pthread_mutex_lock(&s->adm_mu);
	if ((rc = store_exec(s->adm, "BEGIN IMMEDIATE")) == 0)
		rc = txn_end(s, set_status(s, id, to, who, now_us, rev));
	pthread_mutex_unlock(&s->adm_mu);
	return rc;
}

/* ---- reads ---- */

struct json_rows {
	json_t *out;
	size_t n;
};

static int json_row(sqlite3_stmt *st, void *arg)
{
	struct json_rows *a = arg;
	json_t *o = alert_row_json(st);
	if (!o)
		return -ENOMEM;
	json_array_append_new(a->out, o);
	a->n++;
	return 0;
}

/* Run sql (with binds done by bind(st, arg)) and append each row's JSON to out. */
static int alert_rows(struct sq_store *s, const char *sql,
		      void (*bind)(sqlite3_stmt *, const void *), const void *arg, json_t *out,
		      size_t *nrows)
{
	sqlite3_stmt *st;
	struct json_rows rows = {out, 0};
	int rc = adm_prepare(s, sql, &st, "prepare alerts query");
	if (rc == 0) {
		bind(st, arg);
		rc = adm_each_row(s, st, json_row, &rows, "read alerts");
	}
	adm_end(s, st);
	if (nrows)
		*nrows = rows.n;
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

int sq_alerts_query(struct sq_store *s, const struct alert_query *q, json_t *out, int64_t *next_id)
{
	char sql[4096];
	size_t n = 0;
	int rc;
	*next_id = 0;
	if ((rc = alert_query_sql(q, '?', sql, sizeof(sql))) < 0)
		return rc;
	json_t *rows = json_array();
	if (!rows)
		return -ENOMEM;
	if ((rc = alert_rows(s, sql, bind_query, q, rows, &n)) == 0)
		alert_page(rows, n, q->limit, out, next_id);
	json_decref(rows);
	return rc;
}

static void bind_id(sqlite3_stmt *st, const void *arg)
{
	sqlite3_bind_int64(st, 1, *(const int64_t *)arg);
}

int sq_alert_get(struct sq_store *s, int64_t id, json_t **out)
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

int sq_alerts_since(struct sq_store *s, int64_t rev, int limit, json_t *out)
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

/* How the rows of a query become an array of structs. */
struct row_type {
	size_t size;				   /* of an element */
	int (*fill)(sqlite3_stmt *st, void *elem); /* an element from a row (zeroed before) */
	size_t nstr, str[6];			   /* offsets of the element's malloc'd strings */
};

static void rows_free(const struct row_type *t, void *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		for (size_t k = 0; k < t->nstr; k++)
			free(*(char **)(void *)((char *)v + i * t->size + t->str[k]));
	free(v);
}

/* The rows read so far: room for first of them at the first row, then twice as much. */
struct collect {
	const struct row_type *t;
	size_t first;
	char *v;
	size_t n, cap;
};

static int collect_row(sqlite3_stmt *st, void *arg)
{
	struct collect *c = arg;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : c->first;
		char *nv = realloc(c->v, ncap * c->t->size);
		if (!nv)
			return -ENOMEM;
		c->v = nv;
		c->cap = ncap;
	}
	void *e = c->v + c->n++ * c->t->size;
	memset(e, 0, c->t->size);
	return c->t->fill(st, e);
}

/* Run sql with its int64 parameters args[0..nargs) into c; on error c holds nothing. */
static int collect(struct sq_store *s, const char *sql, const int64_t *args, int nargs,
		   struct collect *c, const char *what)
{
	sqlite3_stmt *st;
	int rc = adm_prepare(s, sql, &st, "prepare");
	if (rc == 0) {
		for (int i = 0; i < nargs; i++)
			sqlite3_bind_int64(st, i + 1, args[i]);
		rc = adm_each_row(s, st, collect_row, c, what);
	}
	adm_end(s, st);
	if (rc < 0) {
		rows_free(c->t, c->v, c->n);
		c->v = NULL;
		c->n = 0;
	}
	return rc;
}

static int open_row(sqlite3_stmt *st, void *elem)
{
	struct alert_open_row *o = elem;
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
	o->acknowledged = strcmp((const char *)sqlite3_column_text(st, 12), "acknowledged") == 0;
	o->summary = dup_col(st, 14);
	o->backfill = sqlite3_column_int(st, 15) != 0;
	size_t nb = (size_t)sqlite3_column_bytes(st, 13) / 16;
	if (nb > ALERT_MAX_EVENTS)
		nb = ALERT_MAX_EVENTS;
	if (nb)
		memcpy(o->ids, sqlite3_column_blob(st, 13), nb * 16);
	o->n_ids = nb;
	return !o->rule_id || !o->group_key || !o->rule_title ? -ENOMEM : 0;
}

static const struct row_type open_rows = {
    sizeof(struct alert_open_row),
    open_row,
    6,
    {offsetof(struct alert_open_row, rule_id), offsetof(struct alert_open_row, group_key),
     offsetof(struct alert_open_row, rule_title), offsetof(struct alert_open_row, rule_level),
     offsetof(struct alert_open_row, rule_author), offsetof(struct alert_open_row, summary)}};

void store_alert_open_rows_free(struct alert_open_row *rows, size_t n)
{
	rows_free(&open_rows, rows, n);
}

int sq_alerts_open_since(struct sq_store *s, int64_t since_us, size_t limit,
			 struct alert_open_row **rows, size_t *n)
{
	/* At most limit rows: room for them all at the first. */
	struct collect c = {&open_rows, limit, NULL, 0, 0};
	const int64_t args[] = {since_us, (int64_t)limit};
	*rows = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	int rc = collect(s,
			 "SELECT id, created_at, first_seen, last_seen, count, n_events, rule_id,"
			 " group_key, rule_title, rule_level, rule_author, severity, status,"
			 " event_ids, summary, backfill FROM alerts WHERE status != 'closed'"
			 " AND created_at >= ?"
			 " ORDER BY id DESC LIMIT ?",
			 args, 2, &c, "read alerts");
	*rows = (struct alert_open_row *)(void *)c.v;
	*n = c.n;
	return rc;
}

static int rule_stats_row(sqlite3_stmt *st, void *out)
{
	json_t *o = json_object();
	json_object_set_new(o, "alerts", json_integer(sqlite3_column_int64(st, 1)));
	json_object_set_new(o, "hits", json_integer(sqlite3_column_int64(st, 2)));
	json_object_set_new(o, "open", json_integer(sqlite3_column_int64(st, 3)));
	json_object_set_new(o, "last_hit", col_time(st, 4));
	json_object_set_new(o, "alerts_24h", json_integer(sqlite3_column_int64(st, 5)));
	json_object_set_new(o, "events", json_integer(sqlite3_column_int64(st, 6)));
	json_object_set_new(out, (const char *)sqlite3_column_text(st, 0), o);
	return 0;
}

int sq_alerts_rule_stats(struct sq_store *s, json_t *out)
{
	sqlite3_stmt *st;
	int rc = adm_prepare(s,
			     "SELECT rule_id, COUNT(*), SUM(count), SUM(status != 'closed'),"
			     " MAX(last_seen), SUM(created_at >= ?), SUM(n_events) FROM alerts"
			     " GROUP BY rule_id",
			     &st, "prepare");
	if (rc == 0)
		sqlite3_bind_int64(st, 1, ts_now_us() - 86400LL * 1000000);
	if (rc == 0)
		rc = adm_each_row(s, st, rule_stats_row, out, "read alerts");
	adm_end(s, st);
	return rc;
}

/* ---- rules ---- */

static int rule_row(sqlite3_stmt *st, void *elem)
{
	struct rule_row *o = elem;
	o->id = dup_col(st, 0);
	o->origin = dup_col(st, 1);
	o->yaml = dup_col(st, 2);
	o->enabled = sqlite3_column_int(st, 3) != 0;
	o->created_at = sqlite3_column_int64(st, 4);
	o->updated_at = sqlite3_column_int64(st, 5);
	o->created_by = dup_col(st, 6);
	o->updated_by = dup_col(st, 7);
	return !o->id || !o->origin ? -ENOMEM : 0;
}

static const struct row_type rule_rows = {
    sizeof(struct rule_row),
    rule_row,
    5,
    {offsetof(struct rule_row, id), offsetof(struct rule_row, origin),
     offsetof(struct rule_row, yaml), offsetof(struct rule_row, created_by),
     offsetof(struct rule_row, updated_by)}};

void store_rule_rows_free(struct rule_row *rows, size_t n)
{
	rows_free(&rule_rows, rows, n);
}

int sq_rules_list(struct sq_store *s, struct rule_row **rows, size_t *n)
{
	struct collect c = {&rule_rows, 16, NULL, 0, 0};
	int rc = collect(s,
			 "SELECT id, origin, yaml, enabled, created_at, updated_at, created_by,"
			 " updated_by FROM rules ORDER BY created_at, id",
			 NULL, 0, &c, "read rules");
	*rows = (struct rule_row *)(void *)c.v;
	*n = c.n;
	return rc;
}

/* One statement on the state connection; *changes gets the rows changed. */
static int rule_stmt(struct sq_store *s, const char *sql, const char *id, const char *origin,
		     const char *yaml, int enabled, const char *who, int64_t *changes)
{
	sqlite3_stmt *st;
	int rc;
	if ((rc = adm_prepare(s, sql, &st, "prepare")) < 0)
		goto out;
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
	adm_end(s, st);
	return rc;
}

int sq_rule_put(struct sq_store *s, const char *id, const char *origin, const char *yaml,
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

int sq_rule_set_enabled(struct sq_store *s, const char *id, const char *origin, bool enabled,
			const char *who)
{
	return rule_stmt(s,
			 "INSERT INTO rules(id, origin, yaml, enabled, created_at, created_by,"
			 " updated_at, updated_by) VALUES(:id, :origin, NULL, :enabled, :now, :who,"
			 " :now, :who) ON CONFLICT(id) DO UPDATE SET enabled = excluded.enabled,"
			 " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
			 id, origin, NULL, enabled, who, NULL);
}

int sq_rule_delete(struct sq_store *s, const char *id)
{
	int64_t n = 0;
	int rc = rule_stmt(s, "DELETE FROM rules WHERE id = :id", id, NULL, NULL, 0, NULL, &n);
	return rc < 0 ? rc : n == 0 ? SIEM_ENOTFOUND : 0;
}
