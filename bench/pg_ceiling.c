/* pg_ceiling.c — benchmark (f) on the PostgreSQL store: the loadgen events COPYed straight
 * into PostgreSQL by a minimal libpq loop (one unindexed, unpartitioned table with the events
 * table's columns, COPY text format, one COPY of B rows per transaction); the hub's ceiling
 * there. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "gen.h"

/* The events table's columns (src/store/pg/pg_schema.c, from core/event_fields.h) in its
 * order, seq numbered by a sequence as there; no index, no partition. */
static const char schema[] =
    "SET client_min_messages = warning;"
    "DROP TABLE IF EXISTS ceiling_events; DROP SEQUENCE IF EXISTS ceiling_seq;"
    "CREATE SEQUENCE ceiling_seq;"
    "CREATE TABLE ceiling_events(seq bigint NOT NULL DEFAULT nextval('ceiling_seq'),"
    " ts bigint NOT NULL, id uuid NOT NULL, received_at bigint NOT NULL, host text,"
    " os_type text, event_type text, severity integer, level text, ip bytea, \"user\" text,"
    " app text, message text, raw text, request_id text, user_agent text, http_method text,"
    " http_path text, http_status integer, latency_ms double precision, error_type text,"
    " data text, source text, source_file text, source_offset bigint, flags integer NOT NULL,"
    " ingest_key text, ingest_key_id bigint)";

static const char copy_sql[] =
    "COPY ceiling_events(ts, id, received_at, host, os_type, event_type, severity, level, ip,"
    " \"user\", app, message, raw, request_id, user_agent, http_method, http_path,"
    " http_status, latency_ms, error_type, data, source, source_file, source_offset, flags,"
    " ingest_key, ingest_key_id) FROM STDIN";

static const char drop_sql[] = "DROP TABLE ceiling_events; DROP SEQUENCE ceiling_seq";

/* What the hub stores for an event from POST /ingest with the key named "bench". */
#define INGEST_KEY "bench"

static double mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void usage(void)
{
	fputs("usage: pg_ceiling --url URL [--rows N] [--batch B] [--seconds S] [--pool N]\n"
	      "                  [--seed X] [--keep]\n"
	      "Makes the table ceiling_events in the database of URL (dropping an old one), COPYs\n"
	      "N generated events into it in transactions of B rows, prints one JSON line, drops\n"
	      "the table (--keep: leaves it). Counts take k/M.\n",
	      stderr);
	exit(2);
}

/* ---- a growing buffer ---- */

struct buf {
	char *p;
	size_t n, cap;
	bool failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->n + n > b->cap) {
		size_t c = b->cap ? b->cap : 4096;
		while (c < b->n + n)
			c *= 2;
		char *p = realloc(b->p, c);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = c;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void put_s(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* ---- one event as COPY text ---- */

/* A text field: \N when absent or empty (as ceiling.c binds NULL), else escaped. */
static void put_text(struct buf *b, const char *s)
{
	if (!s || !s[0]) {
		put(b, "\\N", 2);
		return;
	}
	for (; *s; s++) {
		switch (*s) {
		case '\\':
			put(b, "\\\\", 2);
			break;
		case '\t':
			put(b, "\\t", 2);
			break;
		case '\n':
			put(b, "\\n", 2);
			break;
		case '\r':
			put(b, "\\r", 2);
			break;
		default:
			put(b, s, 1);
		}
	}
}

static void put_int(struct buf *b, long long v)
{
	char t[24];
	put(b, t, (size_t)snprintf(t, sizeof(t), "%lld", v));
}

/* The address as the store keeps it: 16 bytes, IPv4 mapped into IPv6, as bytea hex. */
static void put_ip(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t a[16] = {0};
	if (!s || !s[0]) {
		put(b, "\\N", 2);
		return;
	}
	if (inet_pton(AF_INET, s, a + 12) == 1)
		a[10] = a[11] = 0xff;
	else if (inet_pton(AF_INET6, s, a) != 1) {
		put(b, "\\N", 2);
		return;
	}
	put(b, "\\\\x", 3);
	for (int i = 0; i < 16; i++) {
		char h[2] = {hex[a[i] >> 4], hex[a[i] & 15]};
		put(b, h, 2);
	}
}

/* Every field of e after received_at, each after a tab, and the newline: the part of a row
 * that does not change, made before the clock starts. */
static void put_tail(struct buf *b, const struct gen_event *e)
{
	char t[40];
	put(b, "\t", 1), put_text(b, e->host);
	put(b, "\t", 1), put_text(b, e->os_type);
	put(b, "\t", 1), put_text(b, e->event_type);
	put(b, "\t", 1), put_int(b, e->severity);
	put(b, "\t", 1), put_text(b, e->level);
	put(b, "\t", 1), put_ip(b, e->source_ip);
	put(b, "\t", 1), put_text(b, e->user);
	put(b, "\t", 1), put_text(b, e->app);
	put(b, "\t", 1), put_text(b, e->message);
	put(b, "\t", 1), put_text(b, e->raw);
	if (e->has_http) {
		put(b, "\t", 1), put_text(b, e->request_id);
		put(b, "\t", 1), put_text(b, e->user_agent);
		put(b, "\t", 1), put_text(b, e->http_method);
		put(b, "\t", 1), put_text(b, e->http_path);
		put(b, "\t", 1), put_int(b, e->http_status);
		put(b, "\t", 1), put(b, t, (size_t)snprintf(t, sizeof(t), "%.17g", e->latency_ms));
		put(b, "\t", 1), put_text(b, e->error_type);
	} else {
		put_s(b, "\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N");
	}
	put(b, "\t", 1), put_text(b, e->data);
	put_s(b, "\t\\N\t\\N\t\\N\t0\t" INGEST_KEY "\t\\N\n"); /* source..ingest_key_id */
}

/* ---- PostgreSQL ---- */

static int run(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "pg_ceiling: %s", PQerrorMessage(c));
	PQclear(r);
	return ok ? 0 : -1;
}

/* One COPY (one transaction, autocommit) of the n bytes of rows at p. */
static int copy_rows(PGconn *c, const char *p, size_t n)
{
	PGresult *r = PQexec(c, copy_sql);
	int rc = 0;
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		fprintf(stderr, "pg_ceiling: copy: %s", PQerrorMessage(c));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	if (PQputCopyData(c, p, (int)n) != 1 || PQputCopyEnd(c, NULL) != 1) {
		fprintf(stderr, "pg_ceiling: copy data: %s", PQerrorMessage(c));
		rc = -1;
	}
	while ((r = PQgetResult(c))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
			fprintf(stderr, "pg_ceiling: copy: %s", PQerrorMessage(c));
			rc = -1;
		}
		PQclear(r);
	}
	return rc;
}

/* pg_total_relation_size of the table (heap and TOAST), or -1. */
static long long table_bytes(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT pg_total_relation_size('ceiling_events')");
	long long v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"url", 1, 0, 'u'},	    {"rows", 1, 0, 'r'}, {"batch", 1, 0, 'b'},
	    {"seconds", 1, 0, 's'}, {"pool", 1, 0, 'p'}, {"seed", 1, 0, 'S'},
	    {"keep", 0, 0, 'k'},    {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	long long rows = 1000000, batch = 1000, npool = 10000, seed = 1;
	double seconds = 3600;
	bool keep = false;
	const char *url = NULL;
	struct gen gen;
	struct buf *tails = NULL, rowbuf = {0};
	PGconn *c = NULL;
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		long long *dst = NULL, lo_ = 1, hi = 1000000000000LL;
		switch (opt) {
		case 'u':
			url = optarg;
			continue;
		case 'k':
			keep = true;
			continue;
		case 's': {
			char *end;
			seconds = strtod(optarg, &end);
			if (*end || !(seconds > 0 && seconds <= 86400))
				usage();
			continue;
		}
		case 'r':
			dst = &rows;
			break;
		case 'b':
			dst = &batch;
			hi = 1000000;
			break;
		case 'p':
			dst = &npool;
			hi = 1000000;
			break;
		case 'S':
			dst = &seed;
			lo_ = 0;
			break;
		default:
			usage();
		}
		if (gen_parse_count(optarg, lo_, hi, dst) < 0)
			usage();
	}
	if (optind != argc || !url)
		usage();

	if (gen_init(&gen, (uint64_t)seed) < 0) {
		fputs("pg_ceiling: no random source\n", stderr);
		return 1;
	}
	/* The pool: each event's fixed part of a row, and its JSON size (for avg_event_bytes). */
	if (!(tails = calloc((size_t)npool, sizeof(*tails)))) {
		fputs("pg_ceiling: out of memory\n", stderr);
		return 1;
	}
	long long pool_bytes = 0;
	for (long long i = 0; i < npool; i++) {
		struct gen_event e;
		char js[4096];
		size_t a, b;
		gen_next(&gen, &e, gen_now_us());
		pool_bytes += (long long)gen_json(&e, js, sizeof(js), &a, &b);
		put_tail(&tails[i], &e);
		if (tails[i].failed) {
			fputs("pg_ceiling: out of memory\n", stderr);
			goto out;
		}
	}

	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg_ceiling: cannot connect: %s", PQerrorMessage(c));
		goto out;
	}
	if (run(c, schema) < 0)
		goto out;

	/* the pool is ready: the clock starts here */
	double cpu0 = gen_cpu_seconds(), t0 = mono(), now = t0;
	long long done = 0;
	while (done < rows && now - t0 < seconds) {
		long long n = rows - done < batch ? rows - done : batch;
		rowbuf.n = 0;
		for (long long k = 0; k < n; k++) {
			const struct buf *t = &tails[(done + k) % npool];
			char id[GEN_ID_LEN];
			int64_t us = gen_now_us();
			gen_id_text(&gen, (uint64_t)(done + k + 1), id);
			put_int(&rowbuf, (long long)us);
			put(&rowbuf, "\t", 1);
			put(&rowbuf, id, GEN_ID_LEN);
			put(&rowbuf, "\t", 1);
			put_int(&rowbuf, (long long)us);
			put(&rowbuf, t->p, t->n);
		}
		if (rowbuf.failed) {
			fputs("pg_ceiling: out of memory\n", stderr);
			goto out;
		}
		if (copy_rows(c, rowbuf.p, rowbuf.n) < 0)
			goto out;
		done += n;
		now = mono();
	}
	double secs = now - t0, cpu = gen_cpu_seconds() - cpu0;
	if (secs <= 0)
		secs = 1e-9;
	long long tb = table_bytes(c);
	printf("{\"rows\":%lld,\"seconds\":%.3f,\"rows_per_s\":%.0f,\"batch\":%lld,"
	       "\"avg_event_bytes\":%.0f,\"table_bytes\":%lld,\"bytes_per_row\":%.0f,"
	       "\"cpu_s\":%.3f,\"postgres\":\"%s\"}\n",
	       done, secs, (double)done / secs, batch, (double)pool_bytes / (double)npool, tb,
	       done > 0 ? (double)tb / (double)done : 0.0, cpu,
	       PQparameterStatus(c, "server_version") ? PQparameterStatus(c, "server_version")
						      : "?");
	rc = 0;
out:
	if (c && PQstatus(c) == CONNECTION_OK && !keep && run(c, drop_sql) < 0)
		rc = 1;
	PQfinish(c);
	for (long long i = 0; tails && i < npool; i++)
		free(tails[i].p);
	free(tails);
	free(rowbuf.p);
	return rc;
}
