/* pg_store.c — the PostgreSQL backend opened and closed, its health, and retention by
 * dropping whole day partitions. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/calendar.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "store/pg/pg_int.h"

#define SUB "postgres"
#define LOCK_RETAIN "7283546103"

int pg_open(struct pg_store **out, const struct store_config *cfg)
{
	struct pg_store *s = calloc(1, sizeof(*s));
	if (!s || !(s->conninfo = strdup(cfg->postgres))) {
		free(s);
		return -ENOMEM;
	}
	s->retention_days = cfg->retention_days;
	s->max_open = cfg->readers > 0 && cfg->readers <= PG_POOL_MAX ? cfg->readers + 2 : 6;
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_cond_init(&s->pool_cv, NULL);
	pthread_mutex_init(&s->stat_mu, NULL);
	PGconn *c = NULL;
	int rc = pg_conn_get(s, &c);
	if (rc == 0 && (rc = pg_migrate(c)) == 0 && !cfg->state_only) {
		int64_t now = ts_now_us();
		rc = pg_partitions_ensure(c, now - PG_DAY_US, now + 2 * PG_DAY_US,
					  s->retention_days);
	}
	pg_conn_put(s, c);
	if (rc < 0) {
		pg_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void pg_close(struct pg_store *s)
{
	if (!s)
		return;
	if (s->w)
		PQfinish(s->w);
	pg_writer_free(s->wr);
	for (int i = 0; i < s->nidle; i++)
		PQfinish(s->idle[i]);
	pthread_mutex_destroy(&s->pool_mu);
	pthread_cond_destroy(&s->pool_cv);
	pthread_mutex_destroy(&s->stat_mu);
	free(s->conninfo);
	free(s);
}

int pg_stats(struct pg_store *s, struct store_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->stat_mu);
	st->last_commit_us = s->last_commit_us;
	st->removed_segments = s->removed_partitions;
	st->removed_events = s->removed_events;
	st->conn_errors = s->conn_errors;
	st->backend = "postgres";
	/* While the database is away, the counts it last gave (not zeros, which would look like
	 * lost events on a dashboard of /metrics). */
	st->events = s->known_events;
	st->segments = s->known_partitions;
	st->oldest_ts = s->known_oldest_ts;
	pthread_mutex_unlock(&s->stat_mu);
	PGresult *r = NULL;
	int rc = pg_run(s, "SELECT coalesce(sum(events), 0), count(*), min(day) FROM event_days",
			NULL, &r, "stats");
	if (rc < 0)
		return rc;
	st->reachable = true;
	st->events = pg_i64(r, 0, 0);
	st->segments = pg_i64(r, 0, 1);
	st->oldest_ts = pg_null(r, 0, 2) ? 0 : (pg_i64(r, 0, 2) + 1) * PG_DAY_US - 1;
	PQclear(r);
	pthread_mutex_lock(&s->stat_mu);
	s->known_events = st->events;
	s->known_partitions = st->segments;
	s->known_oldest_ts = st->oldest_ts;
	pthread_mutex_unlock(&s->stat_mu);
	return 0;
}

/* Drop one day's partition (it holds only events older than the cutoff) and its count. */
static int drop_day(PGconn *c, const char *name, int64_t day, int64_t *events)
{
	char sql[256];
	PGresult *r = NULL;
	struct pg_params p = {0};
	pg_p_i64(&p, day);
	int rc = pg_exec(c, "BEGIN", NULL, NULL, "retention");
	if (rc < 0)
		return rc;
	snprintf(sql, sizeof(sql), "DROP TABLE %s", name);
	if ((rc = pg_exec(c, "DELETE FROM event_days WHERE day = $1 RETURNING events", &p, &r,
			  "retention")) == 0)
		rc = pg_exec(c, sql, NULL, NULL, "retention");
	if ((rc = pg_txn_end(c, rc, "retention")) < 0) {
		PQclear(r);
		return rc;
	}
	*events = PQntuples(r) ? pg_i64(r, 0, 0) : 0;
	PQclear(r);
	log_info(SUB, "retention: dropped partition %s (%" PRId64 " events)", name, *events);
	return 0;
}

/* Events of far-off days live in the default partition: those past the cutoff go row by row
 * (they are few: a day with its own partition never has rows there). */
static int trim_default(PGconn *c, int64_t cutoff_us, int64_t *events)
{
	PGresult *r = NULL;
	struct pg_params p = {0};
	pg_p_i64(&p, cutoff_us);
	int rc =
	    pg_exec(c,
		    "WITH gone AS (DELETE FROM events_default WHERE ts < $1 RETURNING ts),"
		    " n AS (SELECT ts / 86400000000 AS day, count(*) AS k FROM gone GROUP BY 1),"
		    " upd AS (UPDATE event_days d SET events = d.events - n.k FROM n"
		    " WHERE d.day = n.day) SELECT coalesce(sum(k), 0) FROM n",
		    &p, &r, "retention");
	if (rc < 0)
		return rc;
	*events = pg_i64(r, 0, 0);
	PQclear(r);
	if (*events)
		pg_exec(c, "DELETE FROM event_days WHERE events <= 0", NULL, NULL, "retention");
	return 0;
}

int pg_retain(struct pg_store *s, int64_t cutoff_us, int64_t *removed_partitions,
	      int64_t *removed_events)
{
	/* The retention setting may have changed since start (SIGHUP): the cutoff carries it, and
	 * the writer (this thread) makes partitions for the days it keeps. */
	s->retention_days = (int)((ts_now_us() - cutoff_us + PG_DAY_US / 2) / PG_DAY_US);
	*removed_partitions = *removed_events = 0;
	PGconn *c = NULL;
	PGresult *r = NULL;
	int rc = pg_conn_get(s, &c);
	if (rc < 0)
		return rc;
	/* One hub at a time; the others find the work done. */
	if ((rc = pg_exec(c, "SELECT pg_try_advisory_lock(" LOCK_RETAIN ")", NULL, &r,
			  "retention lock")) < 0)
		goto out;
	bool locked = pg_str(r, 0, 0) && pg_str(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!locked)
		goto out;
	/* Partitions for the days ahead, made before the events that need them arrive. */
	int64_t now = ts_now_us();
	pg_partitions_ensure(c, now, now + 2 * PG_DAY_US, s->retention_days);
	rc = pg_exec(c,
		     "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
		     " WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_[0-9]{8}$'"
		     " ORDER BY 1",
		     NULL, &r, "partitions");
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		const char *name = pg_str(r, i, 0);
		int64_t day =
		    days_from_civil(date_digits(name + 7, 4), (unsigned)date_digits(name + 11, 2),
				    (unsigned)date_digits(name + 13, 2));
		if ((day + 1) * PG_DAY_US > cutoff_us)
			break; /* in name order: the rest are newer */
		int64_t n = 0;
		if ((rc = drop_day(c, name, day, &n)) == 0) {
			(*removed_partitions)++;
			*removed_events += n;
		}
	}
	PQclear(r);
	int64_t n = 0;
	if (rc == 0 && (rc = trim_default(c, cutoff_us, &n)) == 0)
		*removed_events += n;
	pg_exec(c, "SELECT pg_advisory_unlock(" LOCK_RETAIN ")", NULL, NULL, "retention unlock");
	pthread_mutex_lock(&s->stat_mu);
	s->removed_partitions += *removed_partitions;
	s->removed_events += *removed_events;
	pthread_mutex_unlock(&s->stat_mu);
out:
	pg_conn_put(s, c);
	return rc;
}
