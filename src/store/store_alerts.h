/* store_alerts.h — alerts and API-managed rules in the main database (schema 2). Any thread;
 * they share the store's state connection and its mutex with keys, users and the audit log. */
#ifndef SIEM_STORE_ALERTS_H
#define SIEM_STORE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

#define ALERT_MAX_EVENTS 100

/* One alert as the alerting module writes it. Strings are borrowed. */
struct alert_rec {
	int64_t id;
	int64_t rev; /* hub-wide change number, unique and increasing */
	const char *rule_id, *rule_title, *rule_level, *rule_author;
	int severity;
	const char *group_key;
	int64_t first_seen, last_seen;	/* event time */
	int64_t created_at, updated_at; /* hub time */
	int64_t count;			/* hits: 1 + suppressed repeats */
	int64_t n_events;		/* events behind it (ids beyond event_ids not kept) */
	size_t n_ids;
	const uint8_t (*event_ids)[16]; /* at most ALERT_MAX_EVENTS */
	const char *summary;		/* what happened where, one line (written every time) */
	bool backfill;			/* raised by events older than the backfill bound */
};

/* Insert new alerts (is_new[i]) or update the counters of existing ones, in one
 * transaction. Status columns are never touched here. */
int store_alerts_write(struct store *s, const struct alert_rec *recs, const bool *is_new, size_t n);

/* Highest alert id and rev (0 when none). */
int store_alerts_max(struct store *s, int64_t *max_id, int64_t *max_rev);

enum alert_status { ALERT_OPEN, ALERT_ACKNOWLEDGED, ALERT_CLOSED };
const char *alert_status_name(enum alert_status st);
int alert_status_parse(const char *s, enum alert_status *out);

/* Move alert id to status `to` (acknowledged or closed) with who/when and a new rev.
 * SIEM_ENOTFOUND when no such alert; -EALREADY when it is closed already (or already in
 * `to`: nothing is written then); -EPERM when acknowledging a closed alert. */
int store_alert_set_status(struct store *s, int64_t id, enum alert_status to, const char *who,
			   int64_t now_us, int64_t rev);

struct alert_query {
	size_t n_status;
	enum alert_status status[3];
	size_t n_severity;
	int severity[5];
	size_t n_rule;
	const char *rule[QUERY_MAX_VALUES];
	int64_t from, to;  /* activity overlaps [from, to]; INT64_MIN / INT64_MAX when open */
	int64_t before_id; /* cursor: only ids below it; 0 for none */
	enum { ALERTS_ANY, ALERTS_LIVE, ALERTS_BACKFILL } backfill;
	int limit; /* 1..1000 */
};

/* Newest first (by id). Appends alert objects to out; *next_id is the id to continue below
 * (0 when this was the last page). */
int store_alerts_query(struct store *s, const struct alert_query *q, json_t *out, int64_t *next_id);
/* One alert (*out NULL when none), and its event ids for the caller to fetch. */
int store_alert_get(struct store *s, int64_t id, json_t **out);
/* Alerts changed after rev, oldest change first, at most limit. */
int store_alerts_since(struct store *s, int64_t rev, int limit, json_t *out);
/* Open and acknowledged alerts created at or after since_us, newest first, at most limit,
 * with their event ids as raw bytes: the alerting module rebuilds its suppression table. */
struct alert_open_row {
	int64_t id, created_at, first_seen, last_seen, count, n_events;
	char *rule_id, *group_key, *rule_title, *rule_level, *rule_author; /* malloc'd */
	char *summary;							   /* or NULL */
	int severity;
	bool acknowledged, backfill;
	size_t n_ids;
	uint8_t ids[ALERT_MAX_EVENTS][16];
};
int store_alerts_open_since(struct store *s, int64_t since_us, size_t limit,
			    struct alert_open_row **rows, size_t *n);
void store_alert_open_rows_free(struct alert_open_row *rows, size_t n);
/* Per rule: {"<rule id>": {"alerts": n, "hits": n, "open": n, "last_hit": "..."}}. */
int store_alerts_rule_stats(struct store *s, json_t *out);

/* ---- rules added through the API, and enabled overrides of built-in rules ---- */

struct rule_row {
	char *id, *origin, *yaml; /* yaml NULL for a built-in override */
	bool enabled;
	int64_t created_at, updated_at;
	char *created_by, *updated_by;
};
int store_rules_list(struct store *s, struct rule_row **rows, size_t *n);
void store_rule_rows_free(struct rule_row *rows, size_t n);
/* Insert or replace a rule row (keeps created_at/created_by of an existing row). */
int store_rule_put(struct store *s, const char *id, const char *origin, const char *yaml,
		   bool enabled, const char *who);
int store_rule_set_enabled(struct store *s, const char *id, const char *origin, bool enabled,
			   const char *who);
/* SIEM_ENOTFOUND when absent. */
int store_rule_delete(struct store *s, const char *id);

#endif
