/* alert_json.c — an alert as the API shows it, from the values either store backend read, and
 * the query and cut of a page of them (alert_json.h). */
#include <errno.h>
#include <stdio.h>

#include "core/event.h"
#include "store/alert_json.h"

static json_t *time_json(int64_t us)
{
	char buf[32];
	return json_stringn(buf, ts_format(us, buf));
}

static json_t *text_json(const char *v)
{
	return v ? json_string(v) : json_null();
}

json_t *alert_json(const struct alert_vals *a)
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
	json_object_set_new(o, "summary", text_json(a->summary ? a->summary : a->rule_title));
	json_object_set_new(o, "backfill", json_boolean(a->backfill));
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

/* ---- a page ---- */

/* " AND col IN (?k,...)" for n values, numbered from *k on. */
static void add_in(char *sql, size_t cap, size_t *len, char mark, const char *col, size_t n, int *k)
{
	if (n == 0 || *len >= cap)
		return;
	*len += (size_t)snprintf(sql + *len, cap - *len, " AND %s IN (", col);
	for (size_t i = 0; i < n && *len < cap; i++)
		*len +=
		    (size_t)snprintf(sql + *len, cap - *len, i ? ",%c%d" : "%c%d", mark, (*k)++);
	if (*len < cap)
		*len += (size_t)snprintf(sql + *len, cap - *len, ")");
}

int alert_query_sql(const struct alert_query *q, char mark, char *sql, size_t cap)
{
	size_t len;
	int k = 1;
	if (q->limit < 1 || q->limit > 1000 || q->n_status > 3 || q->n_severity > 5 ||
	    q->n_rule > QUERY_MAX_VALUES)
		return -EINVAL;
	len = (size_t)snprintf(sql, cap, "SELECT " ALERT_COLS " FROM alerts WHERE true");
	add_in(sql, cap, &len, mark, "status", q->n_status, &k);
	add_in(sql, cap, &len, mark, "severity", q->n_severity, &k);
	add_in(sql, cap, &len, mark, "rule_id", q->n_rule, &k);
	if (q->backfill != ALERTS_ANY && len < cap)
		len += (size_t)snprintf(sql + len, cap - len, " AND backfill = %s",
					q->backfill == ALERTS_BACKFILL ? "true" : "false");
	if (len < cap)
		len +=
		    (size_t)snprintf(sql + len, cap - len,
				     " AND last_seen >= %c%d AND first_seen <= %c%d AND id < %c%d"
				     " ORDER BY id DESC LIMIT %c%d",
				     mark, k, mark, k + 1, mark, k + 2, mark, k + 3);
	return len >= cap ? -E2BIG : 0;
}

void alert_page(json_t *rows, size_t n, int limit, json_t *out, int64_t *next_id)
{
	if (n > (size_t)limit) {
		json_array_remove(rows, (size_t)limit);
		*next_id = json_integer_value(
		    json_object_get(json_array_get(rows, (size_t)limit - 1), "id"));
	}
	json_array_extend(out, rows);
}
