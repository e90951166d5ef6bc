/* pg_int.h — internals shared by the PostgreSQL backend's files: pg_conn.c (connections,
 * statements, errors), pg_schema.c (migrations, day partitions), pg_write.c (the writer: COPY,
 * group commit), pg_events.c (event reads), pg_stats.c (dashboard counts), pg_sql.c (the SQL
 * text of those reads, pg_sql.h), pg_state.c (meta, keys, users, tokens, audit), pg_alerts.c
 * (alerts, rules, dashboards).
 *
 * Every reader or state call borrows a connection from a small pool (pg_conn_get/put); the
 * writer thread has its own. A broken connection is dropped when it is put back and the next
 * borrower connects anew, so a database that went away and came back is used again without
 * anything else to do; meanwhile calls return SIEM_EUNAVAIL (HTTP 503 + Retry-After). */
#ifndef SIEM_PG_INT_H
#define SIEM_PG_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "store/pg/pg.h"

#define PG_POOL_MAX 16

/* Events are partitioned by UTC day: day d holds [d * PG_DAY_US, (d + 1) * PG_DAY_US). */
#define PG_DAY_US INT64_C(86400000000)
static inline int64_t pg_day(int64_t us)
{
	return us >= 0 ? us / PG_DAY_US : (us - PG_DAY_US + 1) / PG_DAY_US;
}

struct pg_writer; /* pg_write.c */

struct pg_store {
	char *conninfo;	    /* libpq connection string or URL */
	int retention_days; /* the writer's: from the config, then from each retention run */

	/* the writer's connection and its batch (writer thread only) */
	PGconn *w;
	struct pg_writer *wr;

	/* pooled connections for readers and state calls */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	PGconn *idle[PG_POOL_MAX];
	int nidle, nopen, max_open;
	int64_t retry_at_us; /* no new connection attempt before this (backoff) */
	int backoff_ms;

	/* what /health and /metrics show (guarded by stat_mu) */
	pthread_mutex_t stat_mu;
	int64_t last_commit_us, commit_latency_us, commits, commit_errors, conn_errors;
	int64_t removed_partitions, removed_events;
	int64_t known_events, known_partitions, known_oldest_ts; /* as pg_stats last read them */
};

/* ---- connections (pg_conn.c) ---- */

/* Connect with conninfo (client encoding UTF8, UTC, a statement timeout); the server's
 * encoding must be UTF8. SIEM_EUNAVAIL when it cannot be reached. */
int pg_connect(struct pg_store *s, PGconn **out);
/* Borrow a pooled connection (a new one when none is idle and the pool has room; waits up to
 * a few seconds when it is full). SIEM_EUNAVAIL while the database cannot be reached. */
int pg_conn_get(struct pg_store *s, PGconn **c);
/* Give it back; a connection in a bad state (lost, or inside a transaction) is closed. */
void pg_conn_put(struct pg_store *s, PGconn *c);

/* Parameters of one statement, all sent as text except those added with pg_p_bytes (binary).
 * NULL text binds SQL NULL. The numbers' text lives in the struct: keep it until the call. */
#define PG_MAX_PARAMS 64
struct pg_params {
	int n;
	bool over; /* more than PG_MAX_PARAMS were added: the statement is not run */
	const char *v[PG_MAX_PARAMS];
	int len[PG_MAX_PARAMS], fmt[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][24];
};
void pg_p_text(struct pg_params *p, const char *s);
void pg_p_i64(struct pg_params *p, int64_t v);
void pg_p_bytes(struct pg_params *p, const void *b, size_t n);
/* A LIMIT parameter: SQLite reads a negative limit as none, PostgreSQL refuses it, so a
 * negative one is bound as NULL (LIMIT NULL: no limit). */
void pg_p_limit(struct pg_params *p, int64_t limit);

/* Run sql with p (may be NULL) on c. *res (may be NULL: cleared) holds the result on
 * success (PQclear it). Errors are logged with what and mapped: a lost connection ->
 * SIEM_EUNAVAIL, a unique violation -> -EEXIST, anything else -> SIEM_ESQL. */
int pg_exec(PGconn *c, const char *sql, const struct pg_params *p, PGresult **res,
	    const char *what);
/* pg_exec on a pooled connection (borrowed and given back around it). */
int pg_run(struct pg_store *s, const char *sql, const struct pg_params *p, PGresult **res,
	   const char *what);
/* The error code of a failed result or connection (as pg_exec maps it), logged as what. */
int pg_err(PGconn *c, const PGresult *r, const char *what);
/* Rows a write changed, from its command tag (0 for a NULL result). */
int64_t pg_changes(PGresult *r);
/* The end of a transaction on c (opened with "BEGIN"): commit when rc is 0, else (or when
 * the commit fails) roll back, errors logged as what; the result. */
int pg_txn_end(PGconn *c, int rc, const char *what);

/* Column helpers on a text-format result: NULL reads as 0 / NULL. */
int64_t pg_i64(const PGresult *r, int row, int col);
const char *pg_str(const PGresult *r, int row, int col); /* NULL for SQL NULL */
bool pg_null(const PGresult *r, int row, int col);
/* A bytea column in text format (\x hex) decoded into out (at most cap bytes); the length,
 * or -1 when NULL or malformed. */
long pg_bytea(const PGresult *r, int row, int col, uint8_t *out, size_t cap);
/* The same into a malloc'd buffer (*out NULL and *n 0 for SQL NULL); SIEM_ESQL when
 * malformed. */
int pg_bytea_dup(const PGresult *r, int row, int col, uint8_t **out, size_t *n);

/* A failed attempt to reach the database (counted for /metrics). */
void pg_note_conn_error(struct pg_store *s);

/* ---- schema (pg_schema.c) ---- */

/* Migrate the schema to this build's version under an advisory lock (two hubs starting at
 * once migrate once). */
int pg_migrate(PGconn *c);
/* Make sure the day partitions of [from_us, to_us] exist, for the days within the bounds
 * pg_schema.c keeps (a week ahead; back to retention_days + 2, or 400 days without
 * retention):
 * events of other days go to the default partition. */
int pg_partitions_ensure(PGconn *c, int64_t from_us, int64_t to_us, int retention_days);

/* ---- hub state (pg_state.c) ---- */

/* Set meta key to value on c (in c's transaction, if one is open); errors logged as what. */
int pg_meta_put(PGconn *c, const char *key, const char *value, const char *what);

/* ---- the writer (pg_write.c) ---- */

void pg_writer_free(struct pg_writer *w);

/* ---- the events table: its columns in EVENT_FIELDS order, for COPY and SELECT ---- */

/* "seq","ts","id",... as the events table has them (every name quoted). */
extern const char pg_event_cols[];
/* A row selected (text format) with pg_event_cols as the API shows it (pg_events.c). */
json_t *pg_row_to_json(const PGresult *r, int row, bool full);

#endif
