/* pg_alerts.c — alerts, API-managed rules and saved dashboards in PostgreSQL; the twin of
 * store_alerts.c and dashboards.c, answering as they do (same JSON, order and error codes).
 * Text is sorted with COLLATE "C": the byte order SQLite's BINARY collation gives, whatever
 * the database's locale. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "store/pg/pg_int.h"

#define ALERT_COLS                                                                            \
	"id, rev, rule_id, rule_title, rule_level, rule_author, severity, group_key,"         \
	" first_seen, last_seen, created_at, updated_at, count, event_ids, n_events, status," \
	" acknowledged_by, acknowledged_at, closed_by, closed_at"

/* ---- helpers ---- */

static json_t *time_json(int64_t us)
{
	char buf[32];
	return json_stringn(buf, ts_format(us, buf));
}

static json_t *text_json(const char *v)
{
	return v ? json_string(v) : json_null();
}

/* The bytea at (row, col) decoded into a malloc'd buffer (*out NULL and *n 0 for SQL NULL). */
static int bytea_get(const PGresult *r, int row, int col, uint8_t **out, size_t *n)
{
	/* Its text is at least as long as its bytes, in either output format. */
	size_t cap = (size_t)PQgetlength(r, row, col) + 1;
	long len;
	*out = NULL;
	*n = 0;
	if (pg_null(r, row, col))
		return 0;
	if (!(*out = malloc(cap)))
		return -ENOMEM;
	if ((len = pg_bytea(r, row, col, *out, cap)) < 0) {
		free(*out);
		*out = NULL;
		return SIEM_ESQL;
	}
	*n = (size_t)len;
	return 0;
}

/* A LIMIT parameter: SQLite reads a negative limit as none, PostgreSQL refuses it, so a
 * negative one is bound as NULL (LIMIT NULL: no limit). */
static void p_limit(struct pg_params *p, int64_t limit)
{
	if (limit < 0)
		pg_p_text(p, NULL);
	else
		pg_p_i64(p, limit);
}

static int64_t changes(PGresult *r)
{
	const char *t = r ? PQcmdTuples(r) : "";
	return *t ? strtoll(t, NULL, 10) : 0;
}

/* The end of a transaction on c: commit when rc is 0, else (or when the commit fails) roll
 * back; the result. */
static int txn_end(PGconn *c, int rc)
{
	if (rc == 0 && (rc = pg_exec(c, "COMMIT", NULL, NULL, "commit")) == 0)
		return 0;
	pg_exec(c, "ROLLBACK", NULL, NULL, "rollback");
	return rc;
}

/* ---- the alert object ---- */

/* One alert's values (strings borrowed, NULL for SQL NULL). Backend-independent: a candidate
 * to share with store_alerts.c, whose alert_row_json builds the same object from a row. */
struct alert_vals {
	int64_t id, rev;
	const char *rule_id, *rule_title, *rule_level, *rule_author, *group_key, *status;
	int severity;
	int64_t first_seen, last_seen, created_at, updated_at, count, n_events;
	const uint8_t *event_ids; /* n_ids * 16 bytes */
	size_t n_ids;
	const char *acknowledged_by, *closed_by;
	const int64_t *acknowledged_at, *closed_at; /* NULL when not set */
};

/* The alert as the API shows it. */
static json_t *alert_json(const struct alert_vals *a)
{
	json_t *o = json_object(), *ids = json_array();
	char buf[37];
	if (!o || !ids) {
		json_decref(o);
		json_decref(ids);
		return NULL;
	}
	for (size_t i = 0; i < a->n_ids; i++) {
		uuid_format(a->event_ids + 16 * i, buf);
		json_array_append_new(ids, json_stringn(buf, 36));
	}
	json_object_set_new(o, "id", json_integer(a->id));
	json_object_set_new(o, "version", json_integer(a->rev));
	json_object_set_new(o, "rule_id", text_json(a->rule_id));
	json_object_set_new(o, "rule_title", text_json(a->rule_title));
	json_object_set_new(o, "rule_level", text_json(a->rule_level));
	json_object_set_new(o, "rule_author", text_json(a->rule_author));
	json_object_set_new(o, "severity", json_integer(a->severity));
	json_object_set_new(o, "group_key", text_json(a->group_key));
	json_object_set_new(o, "first_seen", time_json(a->first_seen));
	json_object_set_new(o, "last_seen", time_json(a->last_seen));
	json_object_set_new(o, "created_at", time_json(a->created_at));
	json_object_set_new(o, "updated_at", time_json(a->updated_at));
	json_object_set_new(o, "count", json_integer(a->count));
	json_object_set_new(o, "suppressed", json_integer(a->count > 0 ? a->count - 1 : 0));
	json_object_set_new(o, "events_total", json_integer(a->n_events));
	json_object_set_new(o, "event_ids", ids);
	json_object_set_new(o, "event_ids_truncated",
			    json_boolean(a->n_events > (int64_t)a->n_ids));
	json_object_set_new(o, "status", text_json(a->status));
	json_object_set_new(o, "acknowledged_by", text_json(a->acknowledged_by));
	json_object_set_new(o, "acknowledged_at",
			    a->acknowledged_at ? time_json(*a->acknowledged_at) : json_null());
	json_object_set_new(o, "closed_by", text_json(a->closed_by));
	json_object_set_new(o, "closed_at", a->closed_at ? time_json(*a->closed_at) : json_null());
	return o;
}

/* Row `row` of a result selected with ALERT_COLS as the API shows it. */
static int alert_row_json(const PGresult *r, int row, json_t **out)
{
	uint8_t *ids = NULL;
	size_t nb = 0;
	int64_t ack_at = pg_i64(r, row, 17), closed_at = pg_i64(r, row, 19);
	int rc = bytea_get(r, row, 13, &ids, &nb);
	if (rc < 0)
		return rc;
	struct alert_vals a = {
	    .id = pg_i64(r, row, 0),
	    .rev = pg_i64(r, row, 1),
	    .rule_id = pg_str(r, row, 2),
	    .rule_title = pg_str(r, row, 3),
	    .rule_level = pg_str(r, row, 4),
	    .rule_author = pg_str(r, row, 5),
	    .severity = (int)pg_i64(r, row, 6),
	    .group_key = pg_str(r, row, 7),
	    .first_seen = pg_i64(r, row, 8),
	    .last_seen = pg_i64(r, row, 9),
	    .created_at = pg_i64(r, row, 10),
	    .updated_at = pg_i64(r, row, 11),
	    .count = pg_i64(r, row, 12),
	    .event_ids = ids,
	    .n_ids = nb / 16,
	    .n_events = pg_i64(r, row, 14),
	    .status = pg_str(r, row, 15),
	    .acknowledged_by = pg_str(r, row, 16),
	    .acknowledged_at = pg_null(r, row, 17) ? NULL : &ack_at,
	    .closed_by = pg_str(r, row, 18),
	    .closed_at = pg_null(r, row, 19) ? NULL : &closed_at,
	};
	*out = alert_json(&a);
	free(ids);
	return *out ? 0 : -ENOMEM;
}

/* Run sql (selecting ALERT_COLS) with p and append each row's JSON to out; *nrows (may be
 * NULL) gets the count. */
static int alert_rows(struct pg_store *s, const char *sql, const struct pg_params *p, json_t *out,
		      size_t *nrows)
{
	PGresult *r = NULL;
	size_t n = 0;
	int rc = pg_run(s, sql, p, &r, "read alerts");
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		json_t *o = NULL;
		if ((rc = alert_row_json(r, i, &o)) == 0) {
			json_array_append_new(out, o);
			n++;
		}
	}
	PQclear(r);
	if (nrows)
		*nrows = n;
	return rc;
}

/* ---- writes from the alerting module ---- */

/* One record: an insert binds every column ($1..$15 in the order of ins_sql); an update
 * only the counters it sets (numbered to match upd_sql). Status columns are never touched. */
static int write_rec(PGconn *c, const struct alert_rec *a, bool is_new)
{
	static const char ins_sql[] =
	    "INSERT INTO alerts(id, rev, rule_id, rule_title, rule_level, rule_author, severity,"
	    " group_key, first_seen, last_seen, created_at, updated_at, count, event_ids,"
	    " n_events) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)";
	static const char upd_sql[] =
	    "UPDATE alerts SET rev = $2, severity = $3, first_seen = $4, last_seen = $5,"
	    " updated_at = $6, count = $7, event_ids = $8, n_events = $9 WHERE id = $1";
	struct pg_params p = {0};
	pg_p_i64(&p, a->id);
	pg_p_i64(&p, a->rev);
	if (is_new) {
		pg_p_text(&p, a->rule_id ? a->rule_id : "");
		pg_p_text(&p, a->rule_title ? a->rule_title : "");
		pg_p_text(&p, a->rule_level);
		pg_p_text(&p, a->rule_author);
	}
	pg_p_i64(&p, a->severity);
	if (is_new)
		pg_p_text(&p, a->group_key ? a->group_key : "");
	pg_p_i64(&p, a->first_seen);
	pg_p_i64(&p, a->last_seen);
	if (is_new)
		pg_p_i64(&p, a->created_at);
	pg_p_i64(&p, a->updated_at);
	pg_p_i64(&p, a->count);
	pg_p_bytes(&p, a->n_ids ? (const void *)a->event_ids : "", a->n_ids * 16);
	pg_p_i64(&p, a->n_events);
	int rc = pg_exec(c, is_new ? ins_sql : upd_sql, &p, NULL, "write alert");
	/* A taken id or rev is a store error here, as SQLite reports it (not "name taken"). */
	return rc == -EEXIST ? SIEM_ESQL : rc;
}

int pg_alerts_write(struct pg_store *s, const struct alert_rec *recs, const bool *is_new, size_t n)
{
	PGconn *c;
	int rc;
	if (n == 0)
		return 0;
	if ((rc = pg_conn_get(s, &c)) < 0)
		return rc;
	if ((rc = pg_exec(c, "BEGIN", NULL, NULL, "write alerts")) == 0) {
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = write_rec(c, &recs[i], is_new[i]);
		rc = txn_end(c, rc);
	}
	pg_conn_put(s, c);
	return rc;
}

int pg_alerts_max(struct pg_store *s, int64_t *max_id, int64_t *max_rev)
{
	PGresult *r = NULL;
	*max_id = *max_rev = 0;
	int rc = pg_run(s, "SELECT max(id), max(rev) FROM alerts", NULL, &r, "read alerts");
	if (rc == 0 && PQntuples(r) > 0) {
		*max_id = pg_i64(r, 0, 0);
		*max_rev = pg_i64(r, 0, 1);
	}
	PQclear(r);
	return rc;
}

/* Inside the transaction of pg_alert_set_status: the row is locked until it ends, so two
 * changes of one alert are applied one after the other (SQLite's BEGIN IMMEDIATE). */
static int set_status(PGconn *c, int64_t id, enum alert_status to, const char *who, int64_t now_us,
		      int64_t rev)
{
	const char *sql =
	    to == ALERT_CLOSED
		? "UPDATE alerts SET status = 'closed', closed_by = $1, closed_at = $2,"
		  " rev = $3, updated_at = $2 WHERE id = $4"
		: "UPDATE alerts SET status = 'acknowledged', acknowledged_by = $1,"
		  " acknowledged_at = $2, rev = $3, updated_at = $2 WHERE id = $4";
	struct pg_params p = {0};
	PGresult *r = NULL;
	enum alert_status cur = ALERT_OPEN;
	pg_p_i64(&p, id);
	int rc =
	    pg_exec(c, "SELECT status FROM alerts WHERE id = $1 FOR UPDATE", &p, &r, "read alert");
	if (rc == 0 && PQntuples(r) == 0)
		rc = SIEM_ENOTFOUND;
	if (rc == 0 && !pg_null(r, 0, 0))
		alert_status_parse(pg_str(r, 0, 0), &cur);
	PQclear(r);
	if (rc < 0)
		return rc;
	if (cur == ALERT_CLOSED)
		return to == ALERT_CLOSED ? -EALREADY : -EPERM;
	if (cur == to)
		return -EALREADY;
	p = (struct pg_params){0};
	pg_p_text(&p, who);
	pg_p_i64(&p, now_us);
	pg_p_i64(&p, rev);
	pg_p_i64(&p, id);
	rc = pg_exec(c, sql, &p, NULL, "write alert status");
	return rc == -EEXIST ? SIEM_ESQL : rc;
}

int pg_alert_set_status(struct pg_store *s, int64_t id, enum alert_status to, const char *who,
			int64_t now_us, int64_t rev)
{
	PGconn *c;
	int rc;
	if (to == ALERT_OPEN)
		return -EINVAL;
	if ((rc = pg_conn_get(s, &c)) < 0)
		return rc;
	if ((rc = pg_exec(c, "BEGIN", NULL, NULL, "alert status")) == 0)
		rc = txn_end(c, set_status(c, id, to, who, now_us, rev));
	pg_conn_put(s, c);
	return rc;
}

/* ---- reads ---- */

/* " AND col IN ($k,...)" for n values, numbered from *k on. */
static void add_in(char *sql, size_t cap, size_t *len, const char *col, size_t n, int *k)
{
	if (n == 0 || *len >= cap)
		return;
	*len += (size_t)snprintf(sql + *len, cap - *len, " AND %s IN (", col);
	for (size_t i = 0; i < n && *len < cap; i++)
		*len += (size_t)snprintf(sql + *len, cap - *len, i ? ",$%d" : "$%d", (*k)++);
	if (*len < cap)
		*len += (size_t)snprintf(sql + *len, cap - *len, ")");
}

int pg_alerts_query(struct pg_store *s, const struct alert_query *q, json_t *out, int64_t *next_id)
{
	char sql[4096];
	size_t len, n = 0;
	int k = 1;
	struct pg_params p = {0};
	*next_id = 0;
	if (q->limit < 1 || q->limit > 1000 || q->n_status > 3 || q->n_severity > 5 ||
	    q->n_rule > QUERY_MAX_VALUES)
		return -EINVAL;
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT " ALERT_COLS " FROM alerts WHERE true");
	add_in(sql, sizeof(sql), &len, "status", q->n_status, &k);
	add_in(sql, sizeof(sql), &len, "severity", q->n_severity, &k);
	add_in(sql, sizeof(sql), &len, "rule_id", q->n_rule, &k);
	if (len < sizeof(sql))
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					" AND last_seen >= $%d AND first_seen <= $%d AND id < $%d"
					" ORDER BY id DESC LIMIT $%d",
					k, k + 1, k + 2, k + 3);
	if (len >= sizeof(sql))
		return -E2BIG;
	for (size_t i = 0; i < q->n_status; i++)
		pg_p_text(&p, alert_status_name(q->status[i]));
	for (size_t i = 0; i < q->n_severity; i++)
		pg_p_i64(&p, q->severity[i]);
	for (size_t i = 0; i < q->n_rule; i++)
		pg_p_text(&p, q->rule[i]);
	pg_p_i64(&p, q->from);
	pg_p_i64(&p, q->to);
	pg_p_i64(&p, q->before_id > 0 ? q->before_id : INT64_MAX);
	pg_p_i64(&p, (int64_t)q->limit + 1);

	json_t *rows = json_array();
	if (!rows)
		return -ENOMEM;
	int rc = alert_rows(s, sql, &p, rows, &n);
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

/* *out NULL (and 0 returned) when there is no such alert. */
int pg_alert_get(struct pg_store *s, int64_t id, json_t **out)
{
	struct pg_params p = {0};
	json_t *rows = json_array();
	*out = NULL;
	if (!rows)
		return -ENOMEM;
	pg_p_i64(&p, id);
	int rc = alert_rows(s, "SELECT " ALERT_COLS " FROM alerts WHERE id = $1", &p, rows, NULL);
	if (rc == 0 && json_array_size(rows) == 1)
		*out = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return rc;
}

int pg_alerts_since(struct pg_store *s, int64_t rev, int limit, json_t *out)
{
	struct pg_params p = {0};
	pg_p_i64(&p, rev);
	p_limit(&p, limit);
	return alert_rows(s,
			  "SELECT " ALERT_COLS " FROM alerts WHERE rev > $1 ORDER BY rev LIMIT $2",
			  &p, out, NULL);
}

static char *dup_col(const PGresult *r, int row, int col)
{
	const char *v = pg_str(r, row, col);
	return v ? strdup(v) : NULL;
}

/* Row `row` into o (zeroed), as store_alerts.c's open_row fills it. */
static int open_row(const PGresult *r, int row, struct alert_open_row *o)
{
	const char *status = pg_str(r, row, 12);
	uint8_t *ids = NULL;
	size_t nb = 0;
	o->id = pg_i64(r, row, 0);
	o->created_at = pg_i64(r, row, 1);
	o->first_seen = pg_i64(r, row, 2);
	o->last_seen = pg_i64(r, row, 3);
	o->count = pg_i64(r, row, 4);
	o->n_events = pg_i64(r, row, 5);
	o->rule_id = dup_col(r, row, 6);
	o->group_key = dup_col(r, row, 7);
	o->rule_title = dup_col(r, row, 8);
	o->rule_level = dup_col(r, row, 9);
	o->rule_author = dup_col(r, row, 10);
	o->severity = (int)pg_i64(r, row, 11);
	o->acknowledged = status && strcmp(status, "acknowledged") == 0;
	if (!o->rule_id || !o->group_key || !o->rule_title)
		return -ENOMEM;
	int rc = bytea_get(r, row, 13, &ids, &nb);
	if (rc < 0)
		return rc;
	nb /= 16;
	if (nb > ALERT_MAX_EVENTS)
		nb = ALERT_MAX_EVENTS;
	if (nb)
		memcpy(o->ids, ids, nb * 16);
	o->n_ids = nb;
	free(ids);
	return 0;
}

/* One malloc'd array of rows with malloc'd strings, as store_alerts.c allocates them:
 * store_alert_open_rows_free frees either. */
int pg_alerts_open_since(struct pg_store *s, int64_t since_us, size_t limit,
			 struct alert_open_row **rows, size_t *n)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	struct alert_open_row *v = NULL;
	size_t nrows = 0;
	*rows = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	pg_p_i64(&p, since_us);
	p_limit(&p, (int64_t)limit);
	int rc = pg_run(s,
			"SELECT id, created_at, first_seen, last_seen, count, n_events, rule_id,"
			" group_key, rule_title, rule_level, rule_author, severity, status,"
			" event_ids FROM alerts WHERE status <> 'closed' AND created_at >= $1"
			" ORDER BY id DESC LIMIT $2",
			&p, &r, "read alerts");
	if (rc < 0 || PQntuples(r) == 0)
		goto out;
	nrows = (size_t)PQntuples(r);
	if (!(v = calloc(nrows, sizeof(*v)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < nrows; i++)
		rc = open_row(r, (int)i, &v[i]);
	if (rc < 0) {
		store_alert_open_rows_free(v, nrows); /* calloc'd: unfilled rows hold NULLs */
		goto out;
	}
	*rows = v;
	*n = nrows;
out:
	PQclear(r);
	return rc;
}

/* Per rule, in rule id order (SQLite's GROUP BY gives that order too). */
int pg_alerts_rule_stats(struct pg_store *s, json_t *out)
{
	PGresult *r = NULL;
	int rc = pg_run(s,
			"SELECT rule_id, count(*), sum(count)::bigint,"
			" count(*) FILTER (WHERE status <> 'closed'), max(last_seen)"
			" FROM alerts GROUP BY rule_id ORDER BY rule_id COLLATE \"C\"",
			NULL, &r, "read alerts");
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		json_t *o = json_object();
		if (!o) {
			rc = -ENOMEM;
			break;
		}
		json_object_set_new(o, "alerts", json_integer(pg_i64(r, i, 1)));
		json_object_set_new(o, "hits", json_integer(pg_i64(r, i, 2)));
		json_object_set_new(o, "open", json_integer(pg_i64(r, i, 3)));
		json_object_set_new(o, "last_hit",
				    pg_null(r, i, 4) ? json_null() : time_json(pg_i64(r, i, 4)));
		json_object_set_new(out, pg_str(r, i, 0), o);
	}
	PQclear(r);
	return rc;
}

/* ---- rules ---- */

static int rule_row(const PGresult *r, int row, struct rule_row *o)
{
	const char *enabled = pg_str(r, row, 3);
	o->id = dup_col(r, row, 0);
	o->origin = dup_col(r, row, 1);
	o->yaml = dup_col(r, row, 2);
	o->enabled = enabled && enabled[0] == 't';
	o->created_at = pg_i64(r, row, 4);
	o->updated_at = pg_i64(r, row, 5);
	o->created_by = dup_col(r, row, 6);
	o->updated_by = dup_col(r, row, 7);
	return !o->id || !o->origin ? -ENOMEM : 0;
}

/* Allocated as store_alerts.c does: store_rule_rows_free frees either. */
int pg_rules_list(struct pg_store *s, struct rule_row **rows, size_t *n)
{
	PGresult *r = NULL;
	struct rule_row *v = NULL;
	size_t nrows = 0;
	*rows = NULL;
	*n = 0;
	int rc = pg_run(s,
			"SELECT id, origin, yaml, enabled, created_at, updated_at, created_by,"
			" updated_by FROM rules ORDER BY created_at, id COLLATE \"C\"",
			NULL, &r, "read rules");
	if (rc < 0 || PQntuples(r) == 0)
		goto out;
	nrows = (size_t)PQntuples(r);
	if (!(v = calloc(nrows, sizeof(*v)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < nrows; i++)
		rc = rule_row(r, (int)i, &v[i]);
	if (rc < 0) {
		store_rule_rows_free(v, nrows);
		goto out;
	}
	*rows = v;
	*n = nrows;
out:
	PQclear(r);
	return rc;
}

/* A rule statement with $1 id, $2 origin, $3 yaml, $4 enabled, $5 now, $6 who. */
static int rule_upsert(struct pg_store *s, const char *sql, const char *id, const char *origin,
		       const char *yaml, bool enabled, const char *who)
{
	struct pg_params p = {0};
	pg_p_text(&p, id);
	pg_p_text(&p, origin);
	pg_p_text(&p, yaml);
	pg_p_text(&p, enabled ? "true" : "false");
	pg_p_i64(&p, ts_now_us());
	pg_p_text(&p, who);
	int rc = pg_run(s, sql, &p, NULL, "write rule");
	return rc == -EEXIST ? SIEM_ESQL : rc;
}

/* Keeps created_at/created_by of an existing row. */
int pg_rule_put(struct pg_store *s, const char *id, const char *origin, const char *yaml,
		bool enabled, const char *who)
{
	return rule_upsert(s,
			   "INSERT INTO rules(id, origin, yaml, enabled, created_at, created_by,"
			   " updated_at, updated_by) VALUES($1, $2, $3, $4, $5, $6, $5, $6)"
			   " ON CONFLICT(id) DO UPDATE SET origin = excluded.origin,"
			   " yaml = excluded.yaml, enabled = excluded.enabled,"
			   " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
			   id, origin, yaml, enabled, who);
}

/* A new row has no yaml (an override of a built-in rule); an existing one keeps its own. */
int pg_rule_set_enabled(struct pg_store *s, const char *id, const char *origin, bool enabled,
			const char *who)
{
	return rule_upsert(s,
			   "INSERT INTO rules(id, origin, yaml, enabled, created_at, created_by,"
			   " updated_at, updated_by) VALUES($1, $2, $3, $4, $5, $6, $5, $6)"
			   " ON CONFLICT(id) DO UPDATE SET enabled = excluded.enabled,"
			   " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
			   id, origin, NULL, enabled, who);
}

int pg_rule_delete(struct pg_store *s, const char *id)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	pg_p_text(&p, id);
	int rc = pg_run(s, "DELETE FROM rules WHERE id = $1", &p, &r, "write rule");
	if (rc == 0 && changes(r) == 0)
		rc = SIEM_ENOTFOUND;
	PQclear(r);
	return rc;
}

/* ---- dashboards ---- */

/* [{"id", "name", "created_at", "updated_at"}] of owner, by name. */
int pg_dashboard_list(struct pg_store *s, const char *owner, json_t *out)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	pg_p_text(&p, owner);
	int rc = pg_run(s,
			"SELECT id, name, created_at, updated_at FROM dashboards"
			" WHERE owner = $1 ORDER BY name COLLATE \"C\", id",
			&p, &r, "dashboards");
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		json_t *o = json_object();
		if (!o) {
			rc = -ENOMEM;
			break;
		}
		json_object_set_new(o, "id", json_integer(pg_i64(r, i, 0)));
		json_object_set_new(o, "name", text_json(pg_str(r, i, 1)));
		json_object_set_new(o, "created_at", time_json(pg_i64(r, i, 2)));
		json_object_set_new(o, "updated_at", time_json(pg_i64(r, i, 3)));
		json_array_append_new(out, o);
	}
	PQclear(r);
	return rc;
}

int pg_dashboard_get(struct pg_store *s, const char *owner, int64_t id, json_t **out)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	*out = NULL;
	pg_p_text(&p, owner);
	pg_p_i64(&p, id);
	int rc = pg_run(s,
			"SELECT id, name, spec, created_at, updated_at FROM dashboards"
			" WHERE owner = $1 AND id = $2",
			&p, &r, "dashboards");
	if (rc == 0 && PQntuples(r) == 0)
		rc = SIEM_ENOTFOUND;
	if (rc == 0) {
		json_t *o = json_object();
		const char *spec = pg_str(r, 0, 2);
		json_t *w = spec ? json_loads(spec, 0, NULL) : NULL;
		if (!o) {
			json_decref(w);
			rc = -ENOMEM;
			goto out;
		}
		json_object_set_new(o, "id", json_integer(pg_i64(r, 0, 0)));
		json_object_set_new(o, "name", text_json(pg_str(r, 0, 1)));
		json_object_set_new(o, "widgets", w ? w : json_array());
		json_object_set_new(o, "created_at", time_json(pg_i64(r, 0, 3)));
		json_object_set_new(o, "updated_at", time_json(pg_i64(r, 0, 4)));
		*out = o;
	}
out:
	PQclear(r);
	return rc;
}

/* One write: -EEXIST on a taken name (pg_exec's unique violation), SIEM_ENOTFOUND when
 * nothing matched; *id (may be NULL) gets the id a RETURNING clause gives. */
static int dash_write(struct pg_store *s, const char *sql, const struct pg_params *p, int64_t *id)
{
	PGresult *r = NULL;
	int rc = pg_run(s, sql, p, &r, "dashboards");
	if (rc == 0 && changes(r) == 0)
		rc = SIEM_ENOTFOUND;
	else if (rc == 0 && id)
		*id = pg_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

/* spec is the compact JSON of the widgets array. */
int pg_dashboard_add(struct pg_store *s, const char *owner, const char *name, const char *spec,
		     int64_t *id)
{
	struct pg_params p = {0};
	pg_p_text(&p, name);
	pg_p_text(&p, spec);
	pg_p_i64(&p, ts_now_us());
	pg_p_text(&p, owner);
	return dash_write(s,
			  "INSERT INTO dashboards(name, spec, created_at, updated_at, owner)"
			  " VALUES($1, $2, $3, $3, $4) RETURNING id",
			  &p, id);
}

int pg_dashboard_update(struct pg_store *s, const char *owner, int64_t id, const char *name,
			const char *spec)
{
	struct pg_params p = {0};
	pg_p_text(&p, name);
	pg_p_text(&p, spec);
	pg_p_i64(&p, ts_now_us());
	pg_p_text(&p, owner);
	pg_p_i64(&p, id);
	return dash_write(s,
			  "UPDATE dashboards SET name = $1, spec = $2, updated_at = $3"
			  " WHERE owner = $4 AND id = $5",
			  &p, NULL);
}

int pg_dashboard_delete(struct pg_store *s, const char *owner, int64_t id)
{
	struct pg_params p = {0};
	pg_p_text(&p, owner);
	pg_p_i64(&p, id);
	return dash_write(s, "DELETE FROM dashboards WHERE owner = $1 AND id = $2", &p, NULL);
}
