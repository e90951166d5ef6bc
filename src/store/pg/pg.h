/* pg.h — the PostgreSQL backend: the calls of store.h, store_alerts.h, store_stats.h and
 * dashboards.h on a struct pg_store, which store.c dispatches to when the store was opened
 * with a PostgreSQL connection string. Each behaves as its public counterpart documents;
 * where the backend differs (duplicates, text search, retention) docs/postgres.md says so. */
#ifndef SIEM_PG_H
#define SIEM_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/dashboards.h"
#include "store/store.h"
#include "store/store_alerts.h"
#include "store/store_stats.h"

struct pg_store;

/* conninfo: a libpq connection string or postgresql:// URL. */
int pg_open(struct pg_store **out, const struct store_config *cfg);
void pg_close(struct pg_store *s);

/* writer (pg_write.c). *dup of pg_append is set by the time pg_commit returns. */
int pg_begin(struct pg_store *s);
int pg_append(struct pg_store *s, const struct event *ev, bool *dup);
int pg_set_offset(struct pg_store *s, const char *path, uint64_t dev, uint64_t ino, int64_t offset);
int pg_add_dead_letter(struct pg_store *s, const char *source, const char *file, int64_t offset,
		       const char *reason, const char *raw, size_t raw_n, int64_t now_us);
int pg_commit(struct pg_store *s);
void pg_rollback(struct pg_store *s);
int pg_ping(struct pg_store *s);
int pg_retain(struct pg_store *s, int64_t cutoff_us, int64_t *removed_partitions,
	      int64_t *removed_events);
int pg_stats(struct pg_store *s, struct store_stats *st);

/* events (pg_events.c) */
int pg_query_events(struct pg_store *s, const struct event_query *q, json_t *out, bool *has_next,
		    int64_t *next_ts, int64_t *next_seq);
int pg_count_events(struct pg_store *s, const struct event_query *q, int64_t bound, int64_t *n,
		    bool *exact);
int pg_get_event(struct pg_store *s, const uint8_t id[16], json_t **out);
int pg_event_position(struct pg_store *s, const uint8_t id[16], int64_t *ts, int64_t *seq);
int pg_distinct(struct pg_store *s, enum store_distinct_field f, const char *app, json_t *out);
int pg_list_dead_letters(struct pg_store *s, int limit, json_t *out);
int pg_read_dead_letters(struct pg_store *s, const struct dead_filter *f, struct dead_letter **out,
			 size_t *n, bool *more);
int pg_settle_dead_letters(struct pg_store *s, const struct dead_settle *v, size_t n);
int pg_list_offsets(struct pg_store *s, int limit, json_t *out);
int pg_get_offset(struct pg_store *s, const char *path, uint64_t *dev, uint64_t *ino,
		  int64_t *offset, bool *found);

/* dashboard counts (pg_stats.c) */
int pg_stats_series(struct pg_store *s, const struct stats_filter *f, int64_t interval_us,
		    enum stats_field by, size_t max_series, json_t *out, bool *used_rollups);
int pg_stats_top(struct pg_store *s, const struct stats_filter *f, enum stats_field field, size_t n,
		 json_t *out, bool *used_rollups);
int pg_stats_alerts(struct pg_store *s, int64_t from, int64_t to, int64_t *n, int64_t *backfill,
		    bool *available);

/* notices between hubs (pg_notify.c) */
int pg_notify(struct pg_store *s, const char *channel, const char *payload);
int pg_listen(struct pg_store *s, const char *channel, struct store_listener **out);

/* hub state (pg_state.c) */
int pg_meta_get(struct pg_store *s, const char *key, char **out);
int pg_meta_set(struct pg_store *s, const char *key, const char *value);
int pg_meta_delete(struct pg_store *s, const char *key);
int pg_meta_cas(struct pg_store *s, const char *key, const char *expect, const char *value);
int pg_key_add(struct pg_store *s, const char *name, const char *hash, int64_t *id);
int pg_key_find(struct pg_store *s, const char *hash, struct api_key_info *info, bool *found);
int pg_key_list(struct pg_store *s, json_t *out);
int pg_key_revoke(struct pg_store *s, int64_t id);
int pg_key_touch(struct pg_store *s, int64_t id, int64_t now_us);
int pg_key_add_events(struct pg_store *s, int64_t id, int64_t events, int64_t last_us);
int pg_user_add(struct pg_store *s, const char *name, const char *role, const char *hash);
int pg_user_get(struct pg_store *s, const char *name, char **role, char **hash);
int pg_user_set_hash(struct pg_store *s, const char *name, const char *hash);
int pg_user_set_role(struct pg_store *s, const char *name, const char *role);
int pg_user_auth(struct pg_store *s, const char *name, char **role, int64_t *gen);
int pg_user_end_tokens(struct pg_store *s, const char *name);
int pg_token_revoke(struct pg_store *s, const uint8_t *sig, size_t n, int64_t exp);
int pg_token_revoked_each(struct pg_store *s, int64_t now_s,
			  void (*fn)(void *arg, const uint8_t *sig, size_t n, int64_t exp),
			  void *arg);
int pg_user_remove(struct pg_store *s, const char *name);
int pg_user_list(struct pg_store *s, json_t *out);
int pg_audit(struct pg_store *s, const char *actor, const char *client, const char *action,
	     const char *object, const char *detail);
int pg_audit_list(struct pg_store *s, int limit, const struct audit_filter *f, json_t *out);

/* alerts, rules, dashboards (pg_alerts.c) */
int pg_alerts_write(struct pg_store *s, const struct alert_rec *recs, const bool *is_new, size_t n);
int pg_alerts_max(struct pg_store *s, int64_t *max_id, int64_t *max_rev);
int pg_alert_set_status(struct pg_store *s, int64_t id, enum alert_status to, const char *who,
			int64_t now_us, int64_t rev);
int pg_alerts_query(struct pg_store *s, const struct alert_query *q, json_t *out, int64_t *next_id);
int pg_alert_get(struct pg_store *s, int64_t id, json_t **out);
int pg_alerts_since(struct pg_store *s, int64_t rev, int limit, json_t *out);
int pg_alerts_open_since(struct pg_store *s, int64_t since_us, size_t limit,
			 struct alert_open_row **rows, size_t *n);
int pg_alerts_rule_stats(struct pg_store *s, json_t *out);
int pg_rules_list(struct pg_store *s, struct rule_row **rows, size_t *n);
int pg_rule_put(struct pg_store *s, const char *id, const char *origin, const char *yaml,
		bool enabled, const char *who);
int pg_rule_set_enabled(struct pg_store *s, const char *id, const char *origin, bool enabled,
			const char *who);
int pg_rule_delete(struct pg_store *s, const char *id);
int pg_dashboard_list(struct pg_store *s, const char *owner, json_t *out);
int pg_dashboard_get(struct pg_store *s, const char *owner, int64_t id, json_t **out);
int pg_dashboard_add(struct pg_store *s, const char *owner, const char *name, const char *spec,
		     int64_t *id);
int pg_dashboard_update(struct pg_store *s, const char *owner, int64_t id, const char *name,
			const char *spec);
int pg_dashboard_delete(struct pg_store *s, const char *owner, int64_t id);

#endif
