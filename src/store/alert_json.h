/* alert_json.h — an alert as the API shows it, and a page of them, the same for both store
 * backends (store_alerts.c on SQLite, pg/pg_alerts.c on PostgreSQL): each reads a row selected
 * with ALERT_COLS into struct alert_vals and calls alert_json; a page is selected with the
 * text of alert_query_sql and cut with alert_page. Private to src/store/. */
#ifndef SIEM_ALERT_JSON_H
#define SIEM_ALERT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store_alerts.h"

/* The columns of the alerts table an alert is selected with, the same in both schemas. */
#define ALERT_COLS                                                                            \
	"id, rev, rule_id, rule_title, rule_level, rule_author, severity, group_key,"         \
	" first_seen, last_seen, created_at, updated_at, count, event_ids, n_events, status," \
	" acknowledged_by, acknowledged_at, closed_by, closed_at, summary, backfill"

/* One alert's values (strings borrowed, NULL for SQL NULL). */
struct alert_vals {
	int64_t id, rev;
	const char *rule_id, *rule_title, *rule_level, *rule_author, *group_key, *status;
	int severity;
	int64_t first_seen, last_seen, created_at, updated_at, count, n_events;
	const uint8_t *event_ids; /* n_ids * 16 bytes */
	size_t n_ids;
	const char *acknowledged_by, *closed_by;
	const int64_t *acknowledged_at, *closed_at; /* NULL when not set */
	const char *summary;			    /* NULL: the rule's title stands for it */
	bool backfill;
};

/* The alert as the API shows it; NULL when out of memory. */
json_t *alert_json(const struct alert_vals *a);

/* The SELECT of a page of store_alerts_query into sql (cap bytes): ALERT_COLS, newest first,
 * its parameters numbered with mark ('?' for SQLite, '$' for PostgreSQL) in this order: the
 * statuses, severities and rule ids, then from, to, the id to stay below and limit + 1.
 * -EINVAL past the query's limits, -E2BIG when it does not fit. */
int alert_query_sql(const struct alert_query *q, char mark, char *sql, size_t cap);
/* The n rows a page query selected (one more than limit when another page follows: it is
 * dropped, and *next_id is the last id shown) appended to out. */
void alert_page(json_t *rows, size_t n, int limit, json_t *out, int64_t *next_id);

#endif
