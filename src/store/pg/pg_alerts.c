/* pg_alerts.c — alerts, API-managed rules and saved dashboards in PostgreSQL; the twin of
 * store_alerts.c and dashboards.c, answering as they do (same JSON, order and error codes).
 * Text is sorted with COLLATE "C": the byte order SQLite's BINARY collation gives, whatever
 * the database's locale. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "store/alert_json.h"
#include "store/pg/pg_int.h"

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

/* ---- the alert object ---- */

/* Row `row` of a result selected with ALERT_COLS as the API shows it. */
static int alert_row_json(const PGresult *r, int row, json_t **out)
{
	uint8_t *ids = NULL;
	size_t nb = 0;
	int64_t ack_at = pg_i64(r, row, 17), closed_at = pg_i64(r, row, 19);
	int rc = pg_bytea_dup(r, row, 13, &ids, &nb);
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
	    .summary = pg_str(r, row, 20),
	    .backfill = pg_str(r, row, 21) && pg_str(r, row, 21)[0] == 't',
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

/* One record: an insert binds every column ($1..$17 in the order of ins_sql); an update
 * only the counters it sets (numbered to match upd_sql). Status columns are never touched.
 * Sent, not waited for: write_recs reads the results. */
static int send_rec(PGconn *c, const struct alert_rec *a, bool is_new)
{
	static const char ins_sql[] =
	    "INSERT INTO alerts(id, rev, rule_id, rule_title, rule_level, rule_author, severity,"
	    " group_key, first_seen, last_seen, created_at, updated_at, count, event_ids,"
	    " n_events, summary, backfill)"
	    " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)";
	static const char upd_sql[] =
	    "UPDATE alerts SET rev = $2, severity = $3, first_seen = $4, last_seen = $5,"
	    " updated_at = $6, count = $7, event_ids = $8, n_events = $9,"
	    " summary = coalesce($10, summary) WHERE id = $1";
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
	pg_p_text(&p, a->summary);
	if (is_new)
		pg_p_text(&p, a->backfill ? "true" : "false");
	if (p.over)
		return -E2BIG;
	if (!PQsendQueryParams(c, is_new ? ins_sql : upd_sql, p.n, NULL, p.v, p.len, p.fmt, 0))
		return pg_err(c, NULL, "write alert");
	return 0;
}

/* Inside the transaction: every record in one round trip (libpq's pipeline mode), then
 * their results; the first error is the result (the server skips what follows it). A
 * connection left in a bad state is closed by pg_conn_put. */
static int write_recs(PGconn *c, const struct alert_rec *recs, const bool *is_new, size_t n)
{
	int rc = 0;
	size_t sent = 0;
	if (PQenterPipelineMode(c) != 1)
		return pg_err(c, NULL, "write alerts");
	while (rc == 0 && sent < n) {
		rc = send_rec(c, &recs[sent], is_new[sent]);
		if (rc == 0)
			sent++;
	}
	if (PQpipelineSync(c) != 1)
		return rc < 0 ? rc : pg_err(c, NULL, "write alerts");
	for (size_t i = 0; i < sent; i++) {
		PGresult *r = PQgetResult(c);
		if (!r)
			return rc < 0 ? rc : pg_err(c, NULL, "write alert");
		ExecStatusType st = PQresultStatus(r);
		if (rc == 0 && st != PGRES_COMMAND_OK) {
			rc = pg_err(c, r, "write alert");
			/* A taken id or rev is a store error here, as SQLite reports it. */
			if (rc == -EEXIST)
				rc = SIEM_ESQL;
		}
		PQclear(r);
		PQclear(PQgetResult(c)); /* the NULL that ends this statement's results */
	}
	PGresult *r = PQgetResult(c);
	bool synced = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
	PQclear(r);
	if ((!synced || PQexitPipelineMode(c) != 1) && rc == 0)
		rc = pg_err(c, NULL, "write alerts");
	return rc;
}

int pg_alerts_write(struct pg_store *s, const struct alert_rec *recs, const bool *is_new, size_t n)
{
	PGconn *c;
	int rc;
	if (n == 0)
		return 0;
	if ((rc = pg_conn_get(s, &c)) < 0)
		return rc;
	if ((rc = pg_exec(c, "BEGIN", NULL, NULL, "write alerts")) == 0)
		rc = pg_txn_end(c, write_recs(c, recs, is_new, n), "write alerts");
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
		rc = pg_txn_end(c, set_status(c, id, to, who, now_us, rev), "alert status");
	pg_conn_put(s, c);
	return rc;
}

/* ---- reads ---- */

int pg_alerts_query(struct pg_store *s, const struct alert_query *q, json_t *out, int64_t *next_id)
{
	char sql[4096];
	size_t n = 0;
	struct pg_params p = {0};
	int rc;
	*next_id = 0;
	if ((rc = alert_query_sql(q, '$', sql, sizeof(sql))) < 0)
		return rc;
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
	if ((rc = alert_rows(s, sql, &p, rows, &n)) == 0)
		alert_page(rows, n, q->limit, out, next_id);
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
	pg_p_limit(&p, limit);
	return alert_rows(s,
			  "SELECT " ALERT_COLS " FROM alerts WHERE rev > $1 ORDER BY rev LIMIT $2",
			  &p, out, NULL);
}

static char *dup_col(const PGresult *r, int row, int col)
{
	const char *v = pg_str(r, row, col);
	return v ? strdup(v) : NULL;
}

/* How the rows of a query become a calloc'd array of structs with malloc'd strings, as
 * store_alerts.c allocates them (its *_free calls free either). */
struct row_type {
	size_t size;					     /* of an element */
	int (*fill)(const PGresult *r, int row, void *elem); /* from a row (zeroed before) */
	void (*free_rows)(void *v, size_t n);
};

/* Run sql with p into *rows (*n of them; NULL and 0 when there are none); on an error
 * nothing is kept. */
static int rows_read(struct pg_store *s, const struct row_type *t, const char *sql,
		     const struct pg_params *p, void **rows, size_t *n, const char *what)
{
	PGresult *r = NULL;
	char *v = NULL;
	size_t nrows = 0;
	*rows = NULL;
	*n = 0;
	int rc = pg_run(s, sql, p, &r, what);
	if (rc < 0 || PQntuples(r) == 0)
		goto out;
	nrows = (size_t)PQntuples(r);
	if (!(v = calloc(nrows, t->size))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < nrows; i++)
		rc = t->fill(r, (int)i, v + i * t->size);
	if (rc < 0) {
		t->free_rows(v, nrows); /* calloc'd: unfilled rows hold NULLs */
		goto out;
	}
	*rows = v;
	*n = nrows;
out:
	PQclear(r);
	return rc;
}

/* Row `row` into elem (zeroed), as store_alerts.c's open_row fills it. */
static int open_row(const PGresult *r, int row, void *elem)
{
	struct alert_open_row *o = elem;
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
	o->summary = pg_null(r, row, 14) ? NULL : dup_col(r, row, 14);
	o->backfill = pg_str(r, row, 15) && pg_str(r, row, 15)[0] == 't';
	if (!o->rule_id || !o->group_key || !o->rule_title)
		return -ENOMEM;
	int rc = pg_bytea_dup(r, row, 13, &ids, &nb);
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

static void open_rows_free(void *v, size_t n)
{
	store_alert_open_rows_free(v, n);
}

static const struct row_type open_rows = {sizeof(struct alert_open_row), open_row, open_rows_free};

int pg_alerts_open_since(struct pg_store *s, int64_t since_us, size_t limit,
			 struct alert_open_row **rows, size_t *n)
{
	struct pg_params p = {0};
	void *v = NULL;
	*rows = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	pg_p_i64(&p, since_us);
	pg_p_limit(&p, (int64_t)limit);
	int rc = rows_read(s, &open_rows,
			   "SELECT id, created_at, first_seen, last_seen, count, n_events, rule_id,"
			   " group_key, rule_title, rule_level, rule_author, severity, status,"
			   " event_ids, summary, backfill FROM alerts WHERE status <> 'closed'"
			   " AND created_at >= $1"
			   " ORDER BY id DESC LIMIT $2",
			   &p, &v, n, "read alerts");
	*rows = v;
	return rc;
}

/* Per rule, in rule id order (SQLite's GROUP BY gives that order too). */
int pg_alerts_rule_stats(struct pg_store *s, json_t *out)
{
	PGresult *r = NULL;
	struct pg_params p = {0};
	pg_p_i64(&p, ts_now_us() - 86400LL * 1000000);
	int rc = pg_run(s,
			"SELECT rule_id, count(*), sum(count)::bigint,"
			" count(*) FILTER (WHERE status <> 'closed'), max(last_seen),"
			" count(*) FILTER (WHERE created_at >= $1), sum(n_events)::bigint"
			" FROM alerts GROUP BY rule_id ORDER BY rule_id COLLATE \"C\"",
			&p, &r, "read alerts");
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
		json_object_set_new(o, "alerts_24h", json_integer(pg_i64(r, i, 5)));
		json_object_set_new(o, "events", json_integer(pg_i64(r, i, 6)));
		json_object_set_new(out, pg_str(r, i, 0), o);
	}
	PQclear(r);
	return rc;
}

/* ---- rules ---- */

static int rule_row(const PGresult *r, int row, void *elem)
{
	struct rule_row *o = elem;
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

static void rule_rows_free(void *v, size_t n)
{
	store_rule_rows_free(v, n);
}

static const struct row_type rule_rows = {sizeof(struct rule_row), rule_row, rule_rows_free};

int pg_rules_list(struct pg_store *s, struct rule_row **rows, size_t *n)
{
	void *v = NULL;
	int rc = rows_read(s, &rule_rows,
			   "SELECT id, origin, yaml, enabled, created_at, updated_at, created_by,"
			   " updated_by FROM rules ORDER BY created_at, id COLLATE \"C\"",
			   NULL, &v, n, "read rules");
	*rows = v;
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
	if (rc == 0 && pg_changes(r) == 0)
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
	if (rc == 0 && pg_changes(r) == 0)
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
