/* store.h — where events and hub state live. One writer thread, many readers. store.c hands
 * each call to one of two backends: the embedded SQLite store (store_sqlite.c and its
 * neighbours) or PostgreSQL (pg/), chosen by store_config.postgres. */
#ifndef SIEM_STORE_H
#define SIEM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/event.h"

struct store;

struct store_config {
	const char *dir;	   /* main database file; segments go to "<dir>-segments/" */
	const char *postgres;	   /* set: PostgreSQL at this libpq connection string or URL
				    * (dir and the segment settings are not used then) */
	int retention_days;	   /* PostgreSQL: day partitions are made only for days that
				    * retention keeps (0: no retention) */
	int64_t segment_rows;	   /* events per segment before a new one starts */
	int64_t segment_max_age_s; /* a segment older than this is sealed too */
	int cache_mb;		   /* page cache of the writer connection */
	int index_cache_mb;	   /* page cache and sort memory of the indexer's builds (0: 4) */
	size_t pending_bytes;	   /* event ids and postings of sealed segments waiting for the
				    * indexer, all together (0: 32 MiB); past it the oldest
				    * postings leave memory, then the writer waits for id indices */
	int64_t sqlite_heap;	   /* SQLite's heap, soft limit (0: none): page caches stop
				    * growing near it and idle readers give theirs back */
	int readers;		   /* unused by SQLite: readers are pooled per segment */
	bool state_only;	   /* command-line tools beside a running hub: hub state (keys,
				    * users, audit) only, no writer and no background thread */
};

void store_config_defaults(struct store_config *cfg);
int store_open(struct store **out, const struct store_config *cfg);
void store_close(struct store *s);

/* ---- writer side: called from one thread only ---- */

/* Start a write transaction. Appends and offsets become durable together at commit. */
int store_begin(struct store *s);
/* Append one event. *dup is set when its event_id is already stored (nothing written); a
 * backend may set it only at store_commit, so read it after a successful commit. */
int store_append(struct store *s, const struct event *ev, bool *dup);
/* store_append on each of n events in order, dup holding their n flags: the backend may do
 * the work besides the inserts (postings, rollups) in a pass of its own after them. */
int store_append_many(struct store *s, const struct event *ev, size_t n, bool *dup);
/* Record a file source's read position in the same transaction as its events. */
int store_set_offset(struct store *s, const char *path, uint64_t dev, uint64_t ino, int64_t offset);
/* Keep a record that could not be parsed (inside the transaction). offset -1 for none. */
int store_add_dead_letter(struct store *s, const char *source, const char *file, int64_t offset,
			  const char *reason, const char *raw, size_t raw_n, int64_t now_us);
int store_commit(struct store *s);
void store_rollback(struct store *s);
/* After failed commits, with nothing to write: can a commit succeed again? 0 when the store's
 * database answers the writer again; -ENOTSUP when only a commit can tell (the embedded store:
 * a full disk); another error while it cannot. */
int store_ping(struct store *s);

/* ---- readers: any thread ---- */

#define QUERY_MAX_VALUES 32

struct strset {
	size_t n;
	const char *v[QUERY_MAX_VALUES];
};

struct event_query {
	int64_t from, to; /* inclusive microsecond bounds; INT64_MIN/MAX when open */
	struct strset event_type, app, level, os_type, source_host, user, request_id;
	size_t n_severity;
	int severity[QUERY_MAX_VALUES];
	size_t n_status;
	int http_status[QUERY_MAX_VALUES];
	size_t n_cidr;
	uint8_t cidr_lo[QUERY_MAX_VALUES][16], cidr_hi[QUERY_MAX_VALUES][16];
	struct strset country; /* geo.country, ISO code upper-case */
	size_t n_asn;
	int64_t asn[QUERY_MAX_VALUES]; /* geo.asn */
	/* Events with any of these tags: ",tag," matches the whole tag, ",prefix" every tag
	 * that starts with prefix (the API's "intel:*"). */
	struct strset tag;
	const char *q;	 /* text search, NULL for none */
	int limit;	 /* 1..1000 */
	bool has_cursor; /* continue strictly after (cursor_ts, cursor_seq) */
	int64_t cursor_ts, cursor_seq;
};

/* Newest first. Appends event objects to out (a JSON array). When more may follow,
 * *has_next is set and *next_ts, *next_seq name the last event returned. */
int store_query_events(struct store *s, const struct event_query *q, json_t *out, bool *has_next,
		       int64_t *next_ts, int64_t *next_seq);
/* How many events match every filter of q (its cursor and limit aside), counting no further
 * than bound: *n is the number and *exact true when it is at most bound, else *n is bound and
 * *exact false (more match). A count reads what a query would (indices, text search), and
 * stops early past bound, so a large bound costs no more than the matching events up to it. */
int store_count_events(struct store *s, const struct event_query *q, int64_t bound, int64_t *n,
		       bool *exact);
/* The whole event by event_id (text UUID), with raw_message and data. */
int store_get_event(struct store *s, const uint8_t id[16], json_t **out);
/* Where the event with id stands in the newest-first order: its time and sequence number (a
 * cursor continuing after it); SIEM_ENOTFOUND when there is none. */
int store_event_position(struct store *s, const uint8_t id[16], int64_t *ts, int64_t *seq);

enum store_distinct_field { DISTINCT_APP, DISTINCT_EVENT_TYPE, DISTINCT_HOST };
/* Distinct values with their counts: [{"value": "...", "count": n}, ...]. */
int store_distinct(struct store *s, enum store_distinct_field f, const char *app, json_t *out);

/* The newest dead letters, newest first, at most limit: [{"id", "time", "source", "file",
 * "offset", "reason", "raw", "raw_bytes", "raw_truncated"}] (raw: the first KiB). id is
 * stable and unique in the store: a removed dead letter's id is never given to another. */
int store_list_dead_letters(struct store *s, int limit, json_t *out);

/* Which dead letters store_read_dead_letters reads: the ids listed, or (n_ids 0) those that
 * every filter set matches, newest first. */
struct dead_filter {
	const int64_t *ids;
	size_t n_ids;
	const char *source; /* exactly this source; NULL: any */
	const char *reason; /* the reason contains this text; NULL: any */
	int64_t from, to;   /* kept in this time (inclusive); INT64_MIN / INT64_MAX when open */
	size_t limit;	    /* at most this many */
	size_t max_bytes;   /* and no more raw bytes than this (at least one record is read) */
};

/* One dead letter, raw whole (as kept: at most EV_CAP_RAW bytes). */
struct dead_letter {
	int64_t id, ts, offset; /* offset -1 when none */
	char *source, *file;	/* file NULL when none */
	char *reason;
	char *raw;
	size_t raw_n;
};

/* The dead letters f selects into a malloc'd array (ids not found are left out); *more is
 * set when the limit or max_bytes stopped the read before every match was read. */
int store_read_dead_letters(struct store *s, const struct dead_filter *f, struct dead_letter **out,
			    size_t *n, bool *more);
void store_dead_letters_free(struct dead_letter *d, size_t n);

/* What became of a dead letter read again: reason NULL removes it (its record is stored now),
 * else its reason becomes this one. */
struct dead_settle {
	int64_t id;
	const char *reason;
};
/* Apply v (any thread). Each store's part is one transaction: a crash leaves a dead letter
 * either as it was or settled. Ids no longer there are skipped. */
int store_settle_dead_letters(struct store *s, const struct dead_settle *v, size_t n);

/* Stored read position of a file, 0 with *found false when none. */
int store_get_offset(struct store *s, const char *path, uint64_t *dev, uint64_t *ino,
		     int64_t *offset, bool *found);
/* The committed offset of every file a tailer follows (or followed), by path, at most limit:
 * [{"path", "offset"}]. */
int store_list_offsets(struct store *s, int limit, json_t *out);

/* ---- notices between hubs sharing a PostgreSQL store (NOTIFY / LISTEN) ---- */

/* Tell the hubs listening on channel (payload: a short text). A SQLite store has no other
 * hub to tell: 0. */
int store_notify(struct store *s, const char *channel, const char *payload);
struct store_listener;
/* A connection of its own listening on channel; -ENOTSUP on a SQLite store. */
int store_listen(struct store *s, const char *channel, struct store_listener **out);
/* Wait up to timeout_ms for notices: 1 when one or more came (they are consumed), 0 when
 * none, <0 when the connection is lost (close it and listen again). */
int store_listener_wait(struct store_listener *l, int timeout_ms);
void store_listener_close(struct store_listener *l);

/* ---- hub state (meta key/value, API keys) ---- */

/* Value for key into a malloc'd string (*out NULL when absent). */
int store_meta_get(struct store *s, const char *key, char **out);
int store_meta_set(struct store *s, const char *key, const char *value);
int store_meta_delete(struct store *s, const char *key);
/* Set key to value only if it still holds expect (NULL: only if it is absent): 0 when set,
 * -EAGAIN when another value is there (hubs sharing a store settle first-run values so). */
int store_meta_cas(struct store *s, const char *key, const char *expect, const char *value);

struct api_key_info {
	int64_t id;
	char name[128];
	bool revoked;
};
/* hash is the hex SHA-256 of the key. */
int store_key_add(struct store *s, const char *name, const char *hash, int64_t *id);
int store_key_find(struct store *s, const char *hash, struct api_key_info *info, bool *found);
int store_key_list(struct store *s, json_t *out);
int store_key_revoke(struct store *s, int64_t id);
int store_key_touch(struct store *s, int64_t id, int64_t now_us);
/* Add events stored from key id, the last at last_us (kept with the key: "events" and
 * "last_event" of store_key_list). */
int store_key_add_events(struct store *s, int64_t id, int64_t events, int64_t last_us);

/* Users: role "admin" or "analyst", hash argon2id or bcrypt. -EEXIST for a taken name;
 * SIEM_ENOTFOUND for an unknown one. */
int store_user_add(struct store *s, const char *name, const char *role, const char *hash);
/* *role and *hash are malloc'd. */
int store_user_get(struct store *s, const char *name, char **role, char **hash);
/* A new hash also ends every token of the user (its token generation moves on). */
int store_user_set_hash(struct store *s, const char *name, const char *hash);
/* A new role also ends every token of the user (they carry the old one). */
int store_user_set_role(struct store *s, const char *name, const char *role);
/* Role and token generation of a user, for checking a token; SIEM_ENOTFOUND if none.
 * *role is malloc'd. */
int store_user_auth(struct store *s, const char *name, char **role, int64_t *gen);
/* End every token of a user (move its generation on). */
int store_user_end_tokens(struct store *s, const char *name);
/* Logged-out tokens (by a digest of their signature) until they expire (exp in seconds);
 * _each drops the expired ones and calls fn for the others. */
int store_token_revoke(struct store *s, const uint8_t *sig, size_t n, int64_t exp);
int store_token_revoked_each(struct store *s, int64_t now_s,
			     void (*fn)(void *arg, const uint8_t *sig, size_t n, int64_t exp),
			     void *arg);
int store_user_remove(struct store *s, const char *name);
int store_user_list(struct store *s, json_t *out);

/* Audit log: who changed what (keys, users, rules, settings). Never holds secrets. */
int store_audit(struct store *s, const char *actor, const char *client, const char *action,
		const char *object, const char *detail);
/* Newest first: [{"id", "time", "actor", "client", "action", "object", "detail"}]; only the
 * entries about object ("alert:42") when it is not NULL. */
int store_audit_list(struct store *s, int limit, const char *object, json_t *out);
/* The same, filtered by what is not NULL: object, actor, and action ("user.add", or "user"
 * for every "user.*"). */
struct audit_filter {
	const char *object, *actor, *action;
};
int store_audit_find(struct store *s, int limit, const struct audit_filter *f, json_t *out);

/* Retention (writer thread): remove whole sealed segments whose newest event is older than
 * cutoff_us. Segments a query is reading are left for the next call. */
int store_retain(struct store *s, int64_t cutoff_us, int64_t *removed_segments,
		 int64_t *removed_events);

/* A consistent copy of every file of the store (each file as of one moment; VACUUM INTO)
 * into directory dest, which must not exist yet; each copy is checked by opening it. Safe
 * while a hub writes the store. */
int store_backup(const char *db_path, const char *dest);

/* Health: can the store be reached, how many events, how many segments (PostgreSQL: day
 * partitions). */
struct store_stats {
	int64_t events, segments, last_commit_us;
	int64_t unindexed; /* sealed segments waiting for their query indices */
	int64_t oldest_ts; /* newest-event time of the oldest segment (retention's horizon) */
	int64_t removed_segments, removed_events; /* by retention since start */
	bool reachable;	     /* the database answered (always, for the embedded store) */
	int64_t conn_errors; /* failed attempts to reach the database since start */
	const char *backend; /* "sqlite" or "postgres" */
};
int store_stats(struct store *s, struct store_stats *st);

/* ---- moving a store to PostgreSQL ---- */

/* Where a migration is; progress is called with it every few hundred events and at each
 * phase. The event counts include what earlier, interrupted runs copied. */
struct store_migrate_progress {
	const char *phase;		   /* "state", "events", "dead letters", "verify" */
	int64_t events_done, events_total; /* of the source's events */
	int64_t run_events;		   /* read by this run (its rate) */
	int64_t segment, segments;	   /* the segment file being read (from 1), of how many */
};

struct store_migrate_opts {
	const char *from; /* the embedded store's main database file (opened read-only) */
	const char *to;	  /* PostgreSQL connection string or URL */
	int batch;	  /* events per transaction */
	int sample;	  /* events compared (as JSON, source against destination) at the end */
	int64_t max_rate; /* events per second at most; 0: as fast as it goes */
	const volatile int *stop; /* set (by a signal handler): stop after the batch at hand */
	void (*progress)(void *arg, const struct store_migrate_progress *p);
	void *arg;
};

struct store_migrate_result {
	int64_t events_source, events_dest; /* counted at the end */
	int64_t copied, present;	    /* by this run: events written, found there already */
	int64_t segments, state_rows, dead_letters;
	int sampled, mismatched;
	char msg[768]; /* why it failed, or the first difference found (for the command) */
};

/* Copy everything of the SQLite store o->from into the PostgreSQL database o->to (events,
 * alerts, rules, users, keys, revoked tokens, audit log, meta, dashboards, file offsets,
 * dead letters), then check it: event and row counts, and o->sample events compared as
 * store_get_event gives them. The destination must be empty, or hold an earlier, unfinished
 * migration of the same file: the progress is kept in its meta table ("migrate.*"), and a
 * second run carries on where the first stopped, writing nothing twice. Texts that
 * PostgreSQL cannot hold (a NUL, bytes that are not UTF-8) are stored with U+FFFD instead,
 * as the PostgreSQL writer does, and compared so. Returns 0 when copied and verified;
 * -EINTR when *stop ended it (run again to continue); -EBADMSG when the check found a
 * difference; another error otherwise; r->msg says what. */
int store_migrate(const struct store_migrate_opts *o, struct store_migrate_result *r);

#endif
