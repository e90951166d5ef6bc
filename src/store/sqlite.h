/* sqlite.h — the embedded (SQLite) backend: the calls of store.h, store_alerts.h,
 * store_stats.h and dashboards.h on a struct sq_store, which store.c dispatches to. Each
 * behaves as its public counterpart documents. */
#ifndef SIEM_STORE_SQLITE_H
#define SIEM_STORE_SQLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/dashboards.h"
#include "store/store.h"
#include "store/store_alerts.h"
#include "store/store_stats.h"

struct sq_store;

int sq_open(struct sq_store **out, const struct store_config *cfg);
void sq_close(struct sq_store *s);

/* writer (sq_write.c). *dup of sq_append is set by the time sq_commit returns. */
int sq_begin(struct sq_store *s);
int sq_append(struct sq_store *s, const struct event *ev, bool *dup);
int sq_append_many(struct sq_store *s, const struct event *ev, size_t n, bool *dup);
int sq_set_offset(struct sq_store *s, const char *path, uint64_t dev, uint64_t ino, int64_t offset);
int sq_add_dead_letter(struct sq_store *s, const char *source, const char *file, int64_t offset,
		       const char *reason, const char *raw, size_t raw_n, int64_t now_us);
int sq_commit(struct sq_store *s);
void sq_rollback(struct sq_store *s);
int sq_ping(struct sq_store *s);
int sq_retain(struct sq_store *s, int64_t cutoff_us, int64_t *removed_segments,
	      int64_t *removed_events);
int sq_stats(struct sq_store *s, struct store_stats *st);

/* events (sq_events.c) */
int sq_query_events(struct sq_store *s, const struct event_query *q, json_t *out, bool *has_next,
		    int64_t *next_ts, int64_t *next_seq);
int sq_count_events(struct sq_store *s, const struct event_query *q, int64_t bound, int64_t *n,
		    bool *exact);
int sq_get_event(struct sq_store *s, const uint8_t id[16], json_t **out);
int sq_event_position(struct sq_store *s, const uint8_t id[16], int64_t *ts, int64_t *seq);
int sq_distinct(struct sq_store *s, enum store_distinct_field f, const char *app, json_t *out);
int sq_list_dead_letters(struct sq_store *s, int limit, json_t *out);
int sq_read_dead_letters(struct sq_store *s, const struct dead_filter *f, struct dead_letter **out,
			 size_t *n, bool *more);
int sq_settle_dead_letters(struct sq_store *s, const struct dead_settle *v, size_t n);
int sq_list_offsets(struct sq_store *s, int limit, json_t *out);
int sq_get_offset(struct sq_store *s, const char *path, uint64_t *dev, uint64_t *ino,
		  int64_t *offset, bool *found);

/* dashboard counts (sq_stats.c) */
int sq_stats_series(struct sq_store *s, const struct stats_filter *f, int64_t interval_us,
		    enum stats_field by, size_t max_series, json_t *out, bool *used_rollups);
int sq_stats_top(struct sq_store *s, const struct stats_filter *f, enum stats_field field, size_t n,
		 json_t *out, bool *used_rollups);
int sq_stats_alerts(struct sq_store *s, int64_t from, int64_t to, int64_t *n, int64_t *backfill,
		    bool *available);

/* hub state (sq_state.c) */
int sq_meta_get(struct sq_store *s, const char *key, char **out);
int sq_meta_set(struct sq_store *s, const char *key, const char *value);
int sq_meta_delete(struct sq_store *s, const char *key);
int sq_meta_cas(struct sq_store *s, const char *key, const char *expect, const char *value);
int sq_key_add(struct sq_store *s, const char *name, const char *hash, int64_t *id);
int sq_key_find(struct sq_store *s, const char *hash, struct api_key_info *info, bool *found);
int sq_key_list(struct sq_store *s, json_t *out);
int sq_key_revoke(struct sq_store *s, int64_t id);
int sq_key_touch(struct sq_store *s, int64_t id, int64_t now_us);
int sq_key_add_events(struct sq_store *s, int64_t id, int64_t events, int64_t last_us);
int sq_user_add(struct sq_store *s, const char *name, const char *role, const char *hash);
int sq_user_get(struct sq_store *s, const char *name, char **role, char **hash);
int sq_user_set_hash(struct sq_store *s, const char *name, const char *hash);
int sq_user_set_role(struct sq_store *s, const char *name, const char *role);
int sq_user_auth(struct sq_store *s, const char *name, char **role, int64_t *gen);
int sq_user_end_tokens(struct sq_store *s, const char *name);
int sq_token_revoke(struct sq_store *s, const uint8_t *sig, size_t n, int64_t exp);
int sq_token_revoked_each(struct sq_store *s, int64_t now_s,
			  void (*fn)(void *arg, const uint8_t *sig, size_t n, int64_t exp),
			  void *arg);
int sq_user_remove(struct sq_store *s, const char *name);
int sq_user_list(struct sq_store *s, json_t *out);
int sq_audit(struct sq_store *s, const char *actor, const char *client, const char *action,
	     const char *object, const char *detail);
int sq_audit_list(struct sq_store *s, int limit, const struct audit_filter *f, json_t *out);

/* alerts, rules, dashboards (sq_alerts.c) */
int sq_alerts_write(struct sq_store *s, const struct alert_rec *recs, const bool *is_new, size_t n);
int sq_alerts_max(struct sq_store *s, int64_t *max_id, int64_t *max_rev);
int sq_alert_set_status(struct sq_store *s, int64_t id, enum alert_status to, const char *who,
			int64_t now_us, int64_t rev);
int sq_alerts_query(struct sq_store *s, const struct alert_query *q, json_t *out, int64_t *next_id);
int sq_alert_get(struct sq_store *s, int64_t id, json_t **out);
int sq_alerts_since(struct sq_store *s, int64_t rev, int limit, json_t *out);
int sq_alerts_open_since(struct sq_store *s, int64_t since_us, size_t limit,
			 struct alert_open_row **rows, size_t *n);
int sq_alerts_rule_stats(struct sq_store *s, json_t *out);
int sq_rules_list(struct sq_store *s, struct rule_row **rows, size_t *n);
int sq_rule_put(struct sq_store *s, const char *id, const char *origin, const char *yaml,
		bool enabled, const char *who);
int sq_rule_set_enabled(struct sq_store *s, const char *id, const char *origin, bool enabled,
			const char *who);
int sq_rule_delete(struct sq_store *s, const char *id);
int sq_dashboard_list(struct sq_store *s, const char *owner, json_t *out);
int sq_dashboard_get(struct sq_store *s, const char *owner, int64_t id, json_t **out);
int sq_dashboard_add(struct sq_store *s, const char *owner, const char *name, const char *spec,
		     int64_t *id);
int sq_dashboard_update(struct sq_store *s, const char *owner, int64_t id, const char *name,
			const char *spec);
int sq_dashboard_delete(struct sq_store *s, const char *owner, int64_t id);

#endif
