/* store.c — the store's public calls, each handed to the backend the store was opened with:
 * the embedded SQLite store (sqlite.h) or PostgreSQL (pg/pg.h). What a call does is
 * documented once, in the public headers; the backends' files say where they differ. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/pg/pg.h"
#include "store/sqlite.h"
#include "store/store.h"

struct store {
	struct sq_store *sq; /* exactly one of the two is set */
	struct pg_store *pg;
	uint64_t txn_events; /* appended since store_begin (PostgreSQL's stage counts) */
};

/* The call fn of whichever backend s has, with s's backend handle and the arguments. */
#define BACKEND(fn, ...) (s->pg ? pg_##fn(s->pg, __VA_ARGS__) : sq_##fn(s->sq, __VA_ARGS__))
#define BACKEND0(fn) (s->pg ? pg_##fn(s->pg) : sq_##fn(s->sq))

int store_open(struct store **out, const struct store_config *cfg)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int rc = cfg->postgres ? pg_open(&s->pg, cfg) : sq_open(&s->sq, cfg);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->pg)
		pg_close(s->pg);
	else
		sq_close(s->sq);
	free(s);
}

int store_begin(struct store *s)
{
	s->txn_events = 0;
	return BACKEND0(begin);
}

int store_append(struct store *s, const struct event *ev, bool *dup)
{
	return BACKEND(append, ev, dup);
}

int store_append_many(struct store *s, const struct event *ev, size_t n, bool *dup)
{
	if (s->sq)
		return sq_append_many(s->sq, ev, n, dup);
	int rc = 0;
	struct stage_timer clk;
	stage_start(&clk, n);
	for (size_t i = 0; i < n && rc == 0; i++) {
		dup[i] = false;
		rc = pg_append(s->pg, &ev[i], &dup[i]);
	}
	stage_lap(&clk, STAGE_INSERT, n);
	s->txn_events += n;
	return rc;
}

int store_set_offset(struct store *s, const char *path, uint64_t dev, uint64_t ino, int64_t offset)
{
	return BACKEND(set_offset, path, dev, ino, offset);
}

int store_add_dead_letter(struct store *s, const char *source, const char *file, int64_t offset,
			  const char *reason, const char *raw, size_t raw_n, int64_t now_us)
{
	return BACKEND(add_dead_letter, source, file, offset, reason, raw, raw_n, now_us);
}

int store_commit(struct store *s)
{
	if (s->sq)
		return sq_commit(s->sq); /* counts its stages itself */
	struct stage_timer clk;
	stage_start(&clk, s->txn_events);
	int rc = pg_commit(s->pg);
	stage_lap(&clk, STAGE_COMMIT, rc == 0 ? s->txn_events : 0);
	return rc;
}

int store_ping(struct store *s)
{
	return BACKEND0(ping);
}

void store_rollback(struct store *s)
{
	BACKEND0(rollback);
}

int store_retain(struct store *s, int64_t cutoff_us, int64_t *removed_segments,
		 int64_t *removed_events)
{
	return BACKEND(retain, cutoff_us, removed_segments, removed_events);
}

int store_stats(struct store *s, struct store_stats *st)
{
	return BACKEND(stats, st);
}

int store_query_events(struct store *s, const struct event_query *q, json_t *out, bool *has_next,
		       int64_t *next_ts, int64_t *next_seq)
{
	return BACKEND(query_events, q, out, has_next, next_ts, next_seq);
}

int store_count_events(struct store *s, const struct event_query *q, int64_t bound, int64_t *n,
		       bool *exact)
{
	return BACKEND(count_events, q, bound, n, exact);
}

int store_event_position(struct store *s, const uint8_t id[16], int64_t *ts, int64_t *seq)
{
	return BACKEND(event_position, id, ts, seq);
}

int store_get_event(struct store *s, const uint8_t id[16], json_t **out)
{
	return BACKEND(get_event, id, out);
}

int store_distinct(struct store *s, enum store_distinct_field f, const char *app, json_t *out)
{
	return BACKEND(distinct, f, app, out);
}

int store_list_offsets(struct store *s, int limit, json_t *out)
{
	return BACKEND(list_offsets, limit, out);
}

int store_list_dead_letters(struct store *s, int limit, json_t *out)
{
	return BACKEND(list_dead_letters, limit, out);
}

int store_read_dead_letters(struct store *s, const struct dead_filter *f, struct dead_letter **out,
			    size_t *n, bool *more)
{
	*out = NULL;
	*n = 0;
	*more = false;
	return BACKEND(read_dead_letters, f, out, n, more);
}

void store_dead_letters_free(struct dead_letter *d, size_t n)
{
	for (size_t i = 0; d && i < n; i++) {
		free(d[i].source);
		free(d[i].file);
		free(d[i].reason);
		free(d[i].raw);
	}
	free(d);
}

int store_settle_dead_letters(struct store *s, const struct dead_settle *v, size_t n)
{
	return n ? BACKEND(settle_dead_letters, v, n) : 0;
}

int store_get_offset(struct store *s, const char *path, uint64_t *dev, uint64_t *ino,
		     int64_t *offset, bool *found)
{
	return BACKEND(get_offset, path, dev, ino, offset, found);
}

int store_stats_series(struct store *s, const struct stats_filter *f, int64_t interval_us,
		       enum stats_field by, size_t max_series, json_t *out, bool *used_rollups)
{
	return BACKEND(stats_series, f, interval_us, by, max_series, out, used_rollups);
}

int store_stats_top(struct store *s, const struct stats_filter *f, enum stats_field field, size_t n,
		    json_t *out, bool *used_rollups)
{
	return BACKEND(stats_top, f, field, n, out, used_rollups);
}

int store_stats_alerts(struct store *s, int64_t from, int64_t to, int64_t *n, int64_t *backfill,
		       bool *available)
{
	return BACKEND(stats_alerts, from, to, n, backfill, available);
}

int store_notify(struct store *s, const char *channel, const char *payload)
{
	return s->pg ? pg_notify(s->pg, channel, payload) : 0;
}

int store_listen(struct store *s, const char *channel, struct store_listener **out)
{
	return s->pg ? pg_listen(s->pg, channel, out) : -ENOTSUP;
}

int store_meta_get(struct store *s, const char *key, char **out)
{
	return BACKEND(meta_get, key, out);
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
	return BACKEND(meta_set, key, value);
}

int store_meta_cas(struct store *s, const char *key, const char *expect, const char *value)
{
	return BACKEND(meta_cas, key, expect, value);
}

int store_meta_delete(struct store *s, const char *key)
{
	return BACKEND(meta_delete, key);
}

int store_key_add(struct store *s, const char *name, const char *hash, int64_t *id)
{
	return BACKEND(key_add, name, hash, id);
}

int store_key_find(struct store *s, const char *hash, struct api_key_info *info, bool *found)
{
	return BACKEND(key_find, hash, info, found);
}

int store_key_list(struct store *s, json_t *out)
{
	return BACKEND(key_list, out);
}

int store_key_add_events(struct store *s, int64_t id, int64_t events, int64_t last_us)
{
	return BACKEND(key_add_events, id, events, last_us);
}

int store_key_revoke(struct store *s, int64_t id)
{
	return BACKEND(key_revoke, id);
}

int store_key_touch(struct store *s, int64_t id, int64_t now_us)
{
	return BACKEND(key_touch, id, now_us);
}

int store_user_add(struct store *s, const char *name, const char *role, const char *hash)
{
	return BACKEND(user_add, name, role, hash);
}

int store_user_get(struct store *s, const char *name, char **role, char **hash)
{
	return BACKEND(user_get, name, role, hash);
}

int store_user_set_hash(struct store *s, const char *name, const char *hash)
{
	return BACKEND(user_set_hash, name, hash);
}

int store_user_set_role(struct store *s, const char *name, const char *role)
{
	return BACKEND(user_set_role, name, role);
}

int store_user_auth(struct store *s, const char *name, char **role, int64_t *gen)
{
	return BACKEND(user_auth, name, role, gen);
}

int store_user_end_tokens(struct store *s, const char *name)
{
	return BACKEND(user_end_tokens, name);
}

int store_token_revoke(struct store *s, const uint8_t *sig, size_t n, int64_t exp)
{
	return BACKEND(token_revoke, sig, n, exp);
}

int store_token_revoked_each(struct store *s, int64_t now_s,
			     void (*fn)(void *arg, const uint8_t *sig, size_t n, int64_t exp),
			     void *arg)
{
	return BACKEND(token_revoked_each, now_s, fn, arg);
}

int store_user_remove(struct store *s, const char *name)
{
	return BACKEND(user_remove, name);
}

int store_user_list(struct store *s, json_t *out)
{
	return BACKEND(user_list, out);
}

int store_audit(struct store *s, const char *actor, const char *client, const char *action,
		const char *object, const char *detail)
{
	return BACKEND(audit, actor, client, action, object, detail);
}

int store_audit_list(struct store *s, int limit, const char *object, json_t *out)
{
	struct audit_filter f = {.object = object};
	return BACKEND(audit_list, limit, &f, out);
}

int store_audit_find(struct store *s, int limit, const struct audit_filter *f, json_t *out)
{
	return BACKEND(audit_list, limit, f, out);
}

int store_alerts_write(struct store *s, const struct alert_rec *recs, const bool *is_new, size_t n)
{
	return BACKEND(alerts_write, recs, is_new, n);
}

int store_alerts_max(struct store *s, int64_t *max_id, int64_t *max_rev)
{
	return BACKEND(alerts_max, max_id, max_rev);
}

int store_alert_set_status(struct store *s, int64_t id, enum alert_status to, const char *who,
			   int64_t now_us, int64_t rev)
{
	return BACKEND(alert_set_status, id, to, who, now_us, rev);
}

int store_alerts_query(struct store *s, const struct alert_query *q, json_t *out, int64_t *next_id)
{
	return BACKEND(alerts_query, q, out, next_id);
}

int store_alert_get(struct store *s, int64_t id, json_t **out)
{
	return BACKEND(alert_get, id, out);
}

int store_alerts_since(struct store *s, int64_t rev, int limit, json_t *out)
{
	return BACKEND(alerts_since, rev, limit, out);
}

int store_alerts_open_since(struct store *s, int64_t since_us, size_t limit,
			    struct alert_open_row **rows, size_t *n)
{
	return BACKEND(alerts_open_since, since_us, limit, rows, n);
}

int store_alerts_rule_stats(struct store *s, json_t *out)
{
	return BACKEND(alerts_rule_stats, out);
}

int store_rules_list(struct store *s, struct rule_row **rows, size_t *n)
{
	return BACKEND(rules_list, rows, n);
}

int store_rule_put(struct store *s, const char *id, const char *origin, const char *yaml,
		   bool enabled, const char *who)
{
	return BACKEND(rule_put, id, origin, yaml, enabled, who);
}

int store_rule_set_enabled(struct store *s, const char *id, const char *origin, bool enabled,
			   const char *who)
{
	return BACKEND(rule_set_enabled, id, origin, enabled, who);
}

int store_rule_delete(struct store *s, const char *id)
{
	return BACKEND(rule_delete, id);
}

int store_dashboard_list(struct store *s, const char *owner, json_t *out)
{
	return BACKEND(dashboard_list, owner, out);
}

int store_dashboard_get(struct store *s, const char *owner, int64_t id, json_t **out)
{
	return BACKEND(dashboard_get, owner, id, out);
}

int store_dashboard_add(struct store *s, const char *owner, const char *name, const char *spec,
			int64_t *id)
{
	return BACKEND(dashboard_add, owner, name, spec, id);
}

int store_dashboard_update(struct store *s, const char *owner, int64_t id, const char *name,
			   const char *spec)
{
	return BACKEND(dashboard_update, owner, id, name, spec);
}

int store_dashboard_delete(struct store *s, const char *owner, int64_t id)
{
	return BACKEND(dashboard_delete, owner, id);
}
