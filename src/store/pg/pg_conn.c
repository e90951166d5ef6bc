/* pg_conn.c — the PostgreSQL backend's connections: a small pool shared by readers and
 * state calls, statements with parameters, results and errors. A lost connection is
 * dropped when given back; new attempts back off (100 ms doubling to 5 s) while the server
 * is away, and callers get SIEM_EUNAVAIL meanwhile. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store/pg/pg_int.h"

#define SUB "postgres"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define POOL_WAIT_MS 5000

/* Settings of every session: UTC, and no statement of ours runs forever. The writer's COPY
 * of a large group commit stays well under the timeout. */
#define SESSION_SETUP "SET TIME ZONE 'UTC'; SET statement_timeout = '60s'"

static void notice_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "relation already exists, skipping" and the like */
}

void pg_note_conn_error(struct pg_store *s)
{
	pthread_mutex_lock(&s->stat_mu);
	s->conn_errors++;
	pthread_mutex_unlock(&s->stat_mu);
}

int pg_connect(struct pg_store *s, PGconn **out)
{
	const char *keys[] = {"dbname", "client_encoding", "application_name", "connect_timeout",
			      NULL};
	const char *vals[] = {s->conninfo, "UTF8", "minisiem", "10", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c)
		return -ENOMEM;
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		msg[strcspn(msg, "\n")] = '\0';
		log_warn(SUB, "cannot connect: %s", msg);
		PQfinish(c);
		pg_note_conn_error(s);
		return SIEM_EUNAVAIL;
	}
	PQsetNoticeProcessor(c, notice_quiet, NULL);
	const char *enc = PQparameterStatus(c, "server_encoding");
	if (!enc || strcmp(enc, "UTF8") != 0) {
		log_error(SUB,
			  "the database's encoding is %s; minisiem needs UTF8 (createdb -E UTF8)",
			  enc ? enc : "unknown");
		PQfinish(c);
		return SIEM_ESQL;
	}
	int rc = pg_exec(c, SESSION_SETUP, NULL, NULL, "session setup");
	if (rc < 0) {
		PQfinish(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- the pool ---- */

int pg_conn_get(struct pg_store *s, PGconn **c)
{
	struct timespec until = clock_deadline_ms(POOL_WAIT_MS);
	pthread_mutex_lock(&s->pool_mu);
	for (;;) {
		if (s->nidle > 0) {
			*c = s->idle[--s->nidle];
			pthread_mutex_unlock(&s->pool_mu);
			return 0;
		}
		if (s->nopen < s->max_open)
			break;
		if (pthread_cond_timedwait(&s->pool_cv, &s->pool_mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&s->pool_mu);
			return SIEM_EFULL;
		}
	}
	int64_t now = clock_mono_us();
	if (now < s->retry_at_us) {
		pthread_mutex_unlock(&s->pool_mu);
		return SIEM_EUNAVAIL;
	}
	s->nopen++;
	pthread_mutex_unlock(&s->pool_mu);

	int rc = pg_connect(s, c);

	pthread_mutex_lock(&s->pool_mu);
	if (rc < 0) {
		s->nopen--;
		s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (s->backoff_ms > BACKOFF_MAX_MS)
			s->backoff_ms = BACKOFF_MAX_MS;
		s->retry_at_us = clock_mono_us() + (int64_t)s->backoff_ms * 1000;
		pthread_cond_signal(&s->pool_cv);
	} else {
		s->backoff_ms = 0;
		s->retry_at_us = 0;
	}
	pthread_mutex_unlock(&s->pool_mu);
	return rc;
}

void pg_conn_put(struct pg_store *s, PGconn *c)
{
	if (!c)
		return;
	bool bad = PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE;
	pthread_mutex_lock(&s->pool_mu);
	if (bad || s->nidle >= PG_POOL_MAX) {
		s->nopen--;
		pthread_mutex_unlock(&s->pool_mu);
		PQfinish(c);
		pthread_mutex_lock(&s->pool_mu);
	} else {
		s->idle[s->nidle++] = c;
	}
	pthread_cond_signal(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mu);
}

/* ---- parameters ---- */

static int p_slot(struct pg_params *p)
{
	if (p->n >= PG_MAX_PARAMS) {
		p->over = true;
		return -1;
	}
	return p->n++;
}

void pg_p_text(struct pg_params *p, const char *s)
{
	int i = p_slot(p);
	if (i >= 0) {
		p->v[i] = s;
		p->len[i] = 0;
		p->fmt[i] = 0;
	}
}

void pg_p_i64(struct pg_params *p, int64_t v)
{
	int i = p_slot(p);
	if (i >= 0) {
		snprintf(p->num[i], sizeof(p->num[i]), "%lld", (long long)v);
		p->v[i] = p->num[i];
		p->len[i] = 0;
		p->fmt[i] = 0;
	}
}

void pg_p_bytes(struct pg_params *p, const void *b, size_t n)
{
	int i = p_slot(p);
	if (i >= 0) {
		p->v[i] = b ? (const char *)b : "";
		p->len[i] = (int)n;
		p->fmt[i] = 1;
	}
}

void pg_p_limit(struct pg_params *p, int64_t limit)
{
	if (limit < 0)
		pg_p_text(p, NULL);
	else
		pg_p_i64(p, limit);
}

/* ---- statements ---- */

int pg_err(PGconn *c, const PGresult *r, const char *what)
{
	if (!c || PQstatus(c) != CONNECTION_OK) {
		log_warn(SUB, "%s: connection lost", what);
		return SIEM_EUNAVAIL;
	}
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[256];
	snprintf(msg, sizeof(msg), "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	msg[strcspn(msg, "\n")] = '\0';
	if (state && strcmp(state, "23505") == 0)
		return -EEXIST; /* unique_violation: the caller decides whether it is an error */
	/* Class 08 (connection exception), 57P01..03 (shutdown, cannot connect now), 53 (out of
	 * resources): the server is away or overloaded, try again later. */
	if (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
		      strncmp(state, "53", 2) == 0)) {
		log_warn(SUB, "%s: %s", what, msg);
		return SIEM_EUNAVAIL;
	}
	log_error(SUB, "%s: %s", what, msg);
	return SIEM_ESQL;
}

int pg_exec(PGconn *c, const char *sql, const struct pg_params *p, PGresult **res, const char *what)
{
	if (res)
		*res = NULL;
	if (p && p->over) {
		log_error(SUB, "%s: too many parameters", what);
		return -E2BIG;
	}
	PGresult *r =
	    p ? PQexecParams(c, sql, p->n, NULL, p->v, p->len, p->fmt, 0) : PQexec(c, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		int rc = pg_err(c, r, what);
		PQclear(r);
		return rc;
	}
	if (res)
		*res = r;
	else
		PQclear(r);
	return 0;
}

int pg_run(struct pg_store *s, const char *sql, const struct pg_params *p, PGresult **res,
	   const char *what)
{
	PGconn *c = NULL;
	int rc = pg_conn_get(s, &c);
	if (rc < 0)
		return rc;
	rc = pg_exec(c, sql, p, res, what);
	pg_conn_put(s, c);
	return rc;
}

int64_t pg_changes(PGresult *r)
{
	const char *t = r ? PQcmdTuples(r) : "";
	return *t ? strtoll(t, NULL, 10) : 0;
}

int pg_txn_end(PGconn *c, int rc, const char *what)
{
	if (rc == 0 && (rc = pg_exec(c, "COMMIT", NULL, NULL, what)) == 0)
		return 0;
	pg_exec(c, "ROLLBACK", NULL, NULL, what);
	return rc;
}

/* ---- columns ---- */

bool pg_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) != 0;
}

const char *pg_str(const PGresult *r, int row, int col)
{
	return pg_null(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int64_t pg_i64(const PGresult *r, int row, int col)
{
	const char *v = pg_str(r, row, col);
	return v ? strtoll(v, NULL, 10) : 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

long pg_bytea(const PGresult *r, int row, int col, uint8_t *out, size_t cap)
{
	const char *v = pg_str(r, row, col);
	if (!v || v[0] != '\\' || v[1] != 'x')
		return -1;
	size_t n = strlen(v + 2);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval((unsigned char)v[2 + 2 * i]),
		    lo = hexval((unsigned char)v[3 + 2 * i]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

int pg_bytea_dup(const PGresult *r, int row, int col, uint8_t **out, size_t *n)
{
	/* Its text is at least as long as its bytes, in either output format. */
	size_t cap = (size_t)PQgetlength(r, row, col) + 1;
	long len;
	*out = NULL;
	*n = 0;
	if (pg_null(r, row, col))
		return 0;
	if (!(*out = malloc(cap)))
		return -ENOMEM;
	if ((len = pg_bytea(r, row, col, *out, cap)) < 0) {
		free(*out);
		*out = NULL;
		return SIEM_ESQL;
	}
	*n = (size_t)len;
	return 0;
}
