/* ceiling.c — benchmark (f): the loadgen events inserted straight into SQLite by a minimal
 * C loop (flat table, WAL, one prepared statement, 1000-row transactions); the hub's ceiling. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gen.h"

static const char schema[] =
    "CREATE TABLE events("
    " id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, event_id BLOB NOT NULL,"
    " received_at INTEGER NOT NULL, host TEXT, os_type TEXT, event_type TEXT,"
    " severity INTEGER, level TEXT, source_ip TEXT, user TEXT, app TEXT, message TEXT,"
    " raw TEXT, request_id TEXT, user_agent TEXT, http_method TEXT, http_path TEXT,"
    " http_status INTEGER, latency_ms REAL, error_type TEXT, data TEXT)";

/* The naive design's indices (DESIGN §5 list, all on the one table). */
static const char indices[] = "CREATE INDEX ev_ts ON events(ts);"
			      "CREATE INDEX ev_type_ts ON events(event_type, ts);"
			      "CREATE INDEX ev_ip_ts ON events(source_ip, ts);"
			      "CREATE INDEX ev_app_ts ON events(app, ts);"
			      "CREATE INDEX ev_user_ts ON events(user, ts);"
			      "CREATE INDEX ev_req ON events(request_id);"
			      "CREATE UNIQUE INDEX ev_id ON events(event_id);";

static const char insert_sql[] =
    "INSERT INTO events(ts, event_id, received_at, host, os_type, event_type, severity, level,"
    " source_ip, user, app, message, raw, request_id, user_agent, http_method, http_path,"
    " http_status, latency_ms, error_type, data)"
    " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static double mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void usage(void)
{
	fputs("usage: ceiling [--db PATH] [--rows N] [--batch B] [--indices] [--report-every K]\n"
	      "               [--seconds S] [--cache-mb M] [--pool N] [--seed X]\n"
	      "Creates a fresh database (default: a temporary file, removed at exit), inserts N\n"
	      "generated events in transactions of B rows, prints JSON lines. Counts take k/M.\n",
	      stderr);
	exit(2);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s && s[0])
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* The database and its write-ahead log. */
static long long db_bytes(const char *path)
{
	char wal[4200];
	struct stat a, b;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	return (stat(path, &a) == 0 ? (long long)a.st_size : 0) +
	       (stat(wal, &b) == 0 ? (long long)b.st_size : 0);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"db", 1, 0, 'd'},
					   {"rows", 1, 0, 'r'},
					   {"batch", 1, 0, 'b'},
					   {"indices", 0, 0, 'i'},
					   {"report-every", 1, 0, 'R'},
					   {"seconds", 1, 0, 's'},
					   {"cache-mb", 1, 0, 'c'},
					   {"pool", 1, 0, 'p'},
					   {"seed", 1, 0, 'S'},
					   {"help", 0, 0, 'h'},
					   {0, 0, 0, 0}};
	long long rows = 1000000, batch = 1000, every = 0, cache_mb = 0, npool = 10000, seed = 1;
	double seconds = 3600;
	bool with_indices = false, temp = false;
	char path[4096] = "";
	struct gen gen;
	struct gen_event *pool = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *err = NULL;
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		long long *dst = NULL, lo_ = 1, hi = 1000000000000LL;
		switch (opt) {
		case 'd':
			if (strlen(optarg) >= sizeof(path))
				usage();
			memcpy(path, optarg, strlen(optarg) + 1);
			continue;
		case 'i':
			with_indices = true;
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
			hi = 10000000;
			break;
		case 'R':
			dst = &every;
			break;
		case 'c':
			dst = &cache_mb;
			hi = 1 << 20;
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
	if (optind != argc)
		usage();

	if (gen_init(&gen, (uint64_t)seed) < 0) {
		fputs("ceiling: no random source\n", stderr);
		return 1;
	}
	pool = malloc((size_t)npool * sizeof(*pool));
	if (!pool) {
		fputs("ceiling: out of memory\n", stderr);
		return 1;
	}
	long long pool_bytes = 0;
	for (long long i = 0; i < npool; i++) {
		char buf[4096];
		size_t a, b;
		gen_next(&gen, &pool[i], gen_now_us());
		pool_bytes += (long long)gen_json(&pool[i], buf, sizeof(buf), &a, &b);
	}

	if (!path[0]) {
		const char *dir = getenv("TMPDIR");
		int fd;
		snprintf(path, sizeof(path), "%s/ceiling-XXXXXX", dir && dir[0] ? dir : "/tmp");
		if ((fd = mkstemp(path)) < 0) {
			fprintf(stderr, "ceiling: cannot create a file in '%s': %s\n",
				dir && dir[0] ? dir : "/tmp", strerror(errno));
			goto out;
		}
		close(fd);
		unlink(path);
		temp = true;
	} else if (access(path, F_OK) == 0) {
		fprintf(stderr, "ceiling: '%s' exists; give a new path\n", path);
		goto out;
	}
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		fprintf(stderr, "ceiling: cannot open '%s': %s\n", path, sqlite3_errmsg(db));
		goto out;
	}
	{
		char pragmas[256];
		snprintf(pragmas, sizeof(pragmas),
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;%s%lld;",
			 cache_mb ? " PRAGMA cache_size=-" : " --", cache_mb * 1024);
		if (sqlite3_exec(db, pragmas, NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK ||
		    (with_indices && sqlite3_exec(db, indices, NULL, NULL, &err) != SQLITE_OK))
			goto sqlerr;
	}
	if (sqlite3_prepare_v2(db, insert_sql, -1, &st, NULL) != SQLITE_OK)
		goto sqlerr;

	/* the pool is ready: the clock starts here */
	double cpu0 = gen_cpu_seconds(), t0 = mono(), t_rep = t0, now = t0;
	long long done = 0, rep_done = 0;
	while (done < rows && now - t0 < seconds) {
		long long n = rows - done < batch ? rows - done : batch;
		if (sqlite3_exec(db, "BEGIN", NULL, NULL, &err) != SQLITE_OK)
			goto sqlerr;
		for (long long k = 0; k < n; k++) {
			const struct gen_event *e = &pool[(done + k) % npool];
			int64_t us = gen_now_us();
			uint8_t id[16];
			gen_id(&gen, (uint64_t)(done + k + 1), id);
			sqlite3_bind_int64(st, 1, us);
			sqlite3_bind_blob(st, 2, id, 16, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 3, us);
			bind_text(st, 4, e->host);
			bind_text(st, 5, e->os_type);
			bind_text(st, 6, e->event_type);
			sqlite3_bind_int(st, 7, e->severity);
			bind_text(st, 8, e->level);
			bind_text(st, 9, e->source_ip);
			bind_text(st, 10, e->user);
			bind_text(st, 11, e->app);
			bind_text(st, 12, e->message);
			bind_text(st, 13, e->raw);
			if (e->has_http) {
				bind_text(st, 14, e->request_id);
				bind_text(st, 15, e->user_agent);
				bind_text(st, 16, e->http_method);
				bind_text(st, 17, e->http_path);
				sqlite3_bind_int(st, 18, e->http_status);
				sqlite3_bind_double(st, 19, e->latency_ms);
				bind_text(st, 20, e->error_type);
			} else {
				for (int c = 14; c <= 20; c++)
					sqlite3_bind_null(st, c);
			}
			bind_text(st, 21, e->data);
			if (sqlite3_step(st) != SQLITE_DONE)
				goto sqlerr;
			sqlite3_reset(st);
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK)
			goto sqlerr;
		done += n;
		now = mono();
		if (every && done - rep_done >= every) {
			printf("{\"rows\":%lld,\"elapsed_s\":%.2f,\"interval_rows_per_s\":%.0f}\n",
			       done, now - t0, (double)(done - rep_done) / (now - t_rep));
			fflush(stdout);
			rep_done = done;
			t_rep = now;
		}
	}
	double secs = now - t0;
	if (secs <= 0)
		secs = 1e-9;
	printf("{\"rows\":%lld,\"seconds\":%.3f,\"rows_per_s\":%.0f,\"indices\":%s,\"batch\":%lld,"
	       "\"avg_event_bytes\":%.0f,\"db_bytes\":%lld,\"cpu_s\":%.3f,\"sqlite\":\"%s\"}\n",
	       done, secs, (double)done / secs, with_indices ? "true" : "false", batch,
	       (double)pool_bytes / (double)npool, db_bytes(path), gen_cpu_seconds() - cpu0,
	       sqlite3_libversion());
	rc = 0;
	goto out;
sqlerr:
	fprintf(stderr, "ceiling: sqlite: %s\n", err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (temp) {
		char p[4200];
		unlink(path);
		snprintf(p, sizeof(p), "%s-wal", path);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", path);
		unlink(p);
	}
	free(pool);
	return rc;
}
