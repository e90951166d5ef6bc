/* test_pihole.c — the Pi-hole reader on the FTL v6 fixture (against its CSV oracle), on v5
 * databases built from ftl-schema-v5.sql while they grow, and under FTL's write lock. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"
#include <jansson.h>
#include <sqlite3.h>

#include "core/err.h"
#include "source/pihole.h"

#define MAXEV 600

static struct arena A;
static struct event EV[MAXEV];
static char TMP[256]; /* a private directory for databases the tests write */

static const char *data_dir(void)
{
	return test_data_dir("pihole/SOURCE.md");
}

static const char *need_data(void)
{
	const char *d = data_dir();
	if (!d)
		print_message("shared data not found (../shared/data or $SIEM_TEST_DATA): "
			      "skipping\n");
	return d;
}

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	snprintf(TMP, sizeof(TMP), "/tmp/test_pihole.XXXXXX");
	return mkdtemp(TMP) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	arena_release(&A);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", TMP);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open '%s'", path);
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)sz + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
	b[sz] = '\0';
	fclose(f);
	*n = (size_t)sz;
	return b;
}

static bool sv_is(struct sv v, const char *s)
{
	return v.p && v.n == strlen(s) && !memcmp(v.p, s, v.n);
}

#define assert_sv(v, want)                                                     \
	do {                                                                   \
		if (!sv_is((v), (want)))                                       \
			fail_msg("%s = \"%.*s\", want \"%s\"", #v, (int)(v).n, \
				 (v).p ? (v).p : "(absent)", (want));          \
	} while (0)

static json_t *data_of(const struct event *ev)
{
	json_t *d = json_loadb(ev->data.p, ev->data.n, 0, NULL);
	assert_true(json_is_object(d));
	return d;
}

static const char *dstr(json_t *d, const char *k)
{
	return json_string_value(json_object_get(d, k));
}

/* Read everything after `after` in batches of `batch`; returns the events made. */
static size_t read_all(struct pihole_reader *r, int64_t after, size_t batch, int64_t *last)
{
	size_t total = 0;
	*last = after;
	for (;;) {
		size_t n = 0, room = MAXEV - total;
		int64_t l;
		assert_true(room > 0);
		int rc = pihole_read(r, *last, batch < room ? batch : room, EV + total, &n, &A, &l);
		if (rc)
			fail_msg("pihole_read = %d", rc);
		assert_true(n <= batch);
		if (l == *last)
			return total;
		assert_true(l > *last);
		*last = l;
		total += n;
	}
}

/* ---- the v6 fixture against pihole-FTL.queries.csv ---- */

struct row {
	long id;
	char ts[32];
	int type, status;
	char domain[256], client[64], forward[64], addinfo[256], reply_type[8], reply_time[32],
	    list_id[8], ede[8];
};

static int load_csv(const char *dir, struct row *rows, int max)
{
	char p[700];
	size_t n;
	snprintf(p, sizeof(p), "%s/pihole/pihole-FTL.queries.csv", dir);
	char *b = slurp(p, &n), *save = NULL, *line = strtok_r(b, "\n", &save);
	int k = 0;
	assert_string_equal(line, "id,timestamp,type,status,domain,client,forward,additional_info,"
				  "reply_type,reply_time,dnssec,list_id,ede");
	while ((line = strtok_r(NULL, "\n", &save)) && k < max) {
		char *f[13] = {NULL};
		int nf = 0;
		for (char *c = line; nf < 13;) {
			f[nf++] = c;
			c = strchr(c, ',');
			if (!c)
				break;
			*c++ = '\0';
		}
		assert_int_equal(nf, 13);
		struct row *r = &rows[k++];
		r->id = strtol(f[0], NULL, 10);
		snprintf(r->ts, sizeof(r->ts), "%s", f[1]);
		r->type = (int)strtol(f[2], NULL, 10);
		r->status = (int)strtol(f[3], NULL, 10);
		snprintf(r->domain, sizeof(r->domain), "%s", f[4]);
		snprintf(r->client, sizeof(r->client), "%s", f[5]);
		snprintf(r->forward, sizeof(r->forward), "%s", f[6]);
		snprintf(r->addinfo, sizeof(r->addinfo), "%s", f[7]);
		snprintf(r->reply_type, sizeof(r->reply_type), "%s", f[8]);
		snprintf(r->reply_time, sizeof(r->reply_time), "%s", f[9]);
		snprintf(r->list_id, sizeof(r->list_id), "%s", f[11]);
		snprintf(r->ede, sizeof(r->ede), "%s", f[12]);
	}
	free(b);
	return k;
}

/* Every event matches its CSV row. */
static void check_row(const struct event *ev, const struct row *w)
{
	json_t *d = data_of(ev);
	assert_int_equal(json_integer_value(json_object_get(d, "id")), w->id);
	assert_int_equal(ev->source_offset, w->id);
	assert_string_equal(dstr(d, "domain"), w->domain);
	assert_string_equal(dstr(d, "query"), w->domain);
	assert_string_equal(dstr(d, "client"), w->client);
	assert_sv(ev->source_ip, w->client); /* every fixture client is canonical */
	assert_int_equal(json_integer_value(json_object_get(d, "status_code")), w->status);
	assert_int_equal(json_is_true(json_object_get(d, "blocked")),
			 pihole_status_blocked(w->status));
	if (*w->forward)
		assert_string_equal(dstr(d, "forward"), w->forward);
	else
		assert_null(json_object_get(d, "forward"));
	if (*w->reply_time)
		assert_true(fabs(json_real_value(json_object_get(d, "reply_time")) -
				 strtod(w->reply_time, NULL)) < 1e-9);
	else
		assert_null(json_object_get(d, "reply_time"));
	if (*w->list_id)
		assert_int_equal(json_integer_value(json_object_get(d, "list_id")),
				 strtol(w->list_id, NULL, 10));
	/* the CSV prints the time with 3 decimals */
	int64_t t = llround(strtod(w->ts, NULL) * 1e6);
	if (llabs(ev->ts - t) > 500)
		fail_msg("query %ld: ts %lld, want %s s", w->id, (long long)ev->ts, w->ts);
	assert_false(ev->flags & (EV_TS_MISSING | EV_TRUNC_OTHER | EV_TRUNC_DATA));
	assert_sv(ev->os_type, "PIHOLE");
	assert_sv(ev->source_host, "pi.hole");
	uint8_t id[16];
	char name[64];
	int n = snprintf(name, sizeof(name), "pihole:pi.hole:%ld", w->id);
	uuid_v5(name, (size_t)n, id);
	assert_memory_equal(ev->id, id, 16);
	json_decref(d);
}

static void test_fixture(void **state)
{
	(void)state;
	const char *dir = need_data();
	if (!dir)
		skip();
	static struct row rows[600];
	int nrows = load_csv(dir, rows, 600);
	assert_int_equal(nrows, 493);
	int nblocked = 0;
	for (int i = 0; i < nrows; i++)
		nblocked += pihole_status_blocked(rows[i].status);
	assert_int_equal(nblocked, 185); /* SOURCE.md: counters id1 = 185 */

	char path[700];
	snprintf(path, sizeof(path), "%s/pihole/pihole-FTL.db", dir);
	struct pihole_reader *r;
	struct pihole_config cfg = {.db_path = path, .host = "pi.hole"};

	/* blocked only (the default), in batches of 50 rows examined */
	assert_int_equal(pihole_open(&r, &cfg), 0);
	int64_t last;
	size_t n = read_all(r, 0, 50, &last);
	assert_int_equal(last, 493);
	assert_int_equal(n, 185);
	int k = 0;
	for (size_t i = 0; i < n; i++) {
		while (!pihole_status_blocked(rows[k].status))
			k++;
		assert_sv(EV[i].event_type, "DNS_BLOCK");
		assert_int_equal(EV[i].severity, 2);
		check_row(&EV[i], &rows[k++]);
	}
	pihole_close(r);
	arena_reset(&A);

	/* everything, in odd batch sizes */
	cfg.all_queries = true;
	assert_int_equal(pihole_open(&r, &cfg), 0);
	n = read_all(r, 0, 37, &last);
	assert_int_equal(n, 493);
	int blocks = 0, queries = 0;
	for (size_t i = 0; i < n; i++) {
		check_row(&EV[i], &rows[i]);
		if (sv_is(EV[i].event_type, "DNS_BLOCK")) {
			blocks++;
			assert_true(pihole_status_blocked(rows[i].status));
		} else {
			assert_sv(EV[i].event_type, "DNS_QUERY");
			assert_int_equal(EV[i].severity, 1);
			queries++;
		}
	}
	assert_int_equal(blocks, 185);
	assert_int_equal(queries, 308);

	/* a read from the end finds nothing and stays there */
	size_t z = 9;
	int64_t l2 = 0;
	assert_int_equal(pihole_read(r, 493, 10, EV, &z, &A, &l2), 0);
	assert_int_equal(z, 0);
	assert_int_equal(l2, 493);
	/* and max 0 reads nothing */
	assert_int_equal(pihole_read(r, 0, 0, EV, &z, &A, &l2), 0);
	assert_int_equal(z, 0);
	assert_int_equal(l2, 0);
	pihole_close(r);
	arena_reset(&A);
}

static const struct event *find(size_t n, long id)
{
	for (size_t i = 0; i < n; i++)
		if (EV[i].source_offset == id)
			return &EV[i];
	fail_msg("no event for query %ld", id);
	return NULL;
}

/* Exact fields of the rows SOURCE.md describes. */
static void test_fixture_rows(void **state)
{
	(void)state;
	const char *dir = need_data();
	if (!dir)
		skip();
	char path[700];
	snprintf(path, sizeof(path), "%s/pihole/pihole-FTL.db", dir);
	struct pihole_reader *r;
	struct pihole_config cfg = {.db_path = path, .host = "pi.hole", .all_queries = true};
	assert_int_equal(pihole_open(&r, &cfg), 0);
	int64_t last;
	size_t n = read_all(r, 0, 500, &last);
	assert_int_equal(n, 493);
	pihole_close(r);

	const struct event *e = find(n, 138);
	json_t *d = data_of(e);
	assert_sv(e->message, "blocked doubleclick.net for 192.168.1.20 (gravity)");
	assert_sv(e->event_type, "DNS_BLOCK");
	assert_sv(e->source_ip, "192.168.1.20");
	assert_sv(e->app, "pihole-FTL");
	assert_int_equal(e->ts, 1740823389590143LL); /* REAL 1740823389.590143 */
	assert_string_equal(dstr(d, "status"), "GRAVITY");
	assert_string_equal(dstr(d, "type"), "A");
	assert_string_equal(dstr(d, "record_type"), "A");
	assert_string_equal(dstr(d, "reply"), "IP");
	assert_string_equal(dstr(d, "client_name"), "smart-tv.lan");
	assert_int_equal(json_integer_value(json_object_get(d, "list_id")), -2);
	assert_null(json_object_get(d, "ede"));
	assert_null(json_object_get(d, "dnssec"));
	assert_non_null(
	    strstr(e->data.p, "\"reply_time\":0.000186,")); /* not 0.0001860000000000001 */
	json_decref(d);
	/* raw_message is the row */
	json_t *raw = json_loadb(e->raw_message.p, e->raw_message.n, 0, NULL);
	assert_non_null(raw);
	assert_int_equal(json_integer_value(json_object_get(raw, "status")), 1);
	assert_string_equal(dstr(raw, "domain"), "doubleclick.net");
	assert_true(fabs(json_real_value(json_object_get(raw, "timestamp")) - 1740823389.590143) <
		    1e-6);
	json_decref(raw);

	/* 15: the one timestamp stored as an INTEGER; IPv6 client */
	e = find(n, 15);
	assert_int_equal(e->ts, 1740794277000000LL);
	assert_sv(e->source_ip, "fd00::1:42");
	assert_sv(e->message, "query slack.com for fd00::1:42 (cache)");

	/* 8: status 0, no reply time, a client with an empty name */
	e = find(n, 8);
	d = data_of(e);
	assert_sv(e->event_type, "DNS_QUERY");
	assert_string_equal(dstr(d, "status"), "UNKNOWN");
	assert_null(json_object_get(d, "reply"));
	assert_null(json_object_get(d, "reply_time"));
	assert_null(json_object_get(d, "client_name"));
	json_decref(d);

	/* 185: blocked by CNAME inspection: the CNAME is the answer */
	e = find(n, 185);
	d = data_of(e);
	assert_sv(e->message, "blocked f7ds.liberation.fr for 192.168.1.10 (gravity_cname)");
	assert_string_equal(dstr(d, "cname"), "liberation.eulerian.net");
	assert_string_equal(dstr(d, "answer"), "liberation.eulerian.net");
	json_decref(d);

	/* 112 upstream-blocked, 282 BOGUS DNSSEC, 382 EDE 15, 435 CAA, 493 in progress */
	e = find(n, 112);
	d = data_of(e);
	assert_sv(e->event_type, "DNS_BLOCK");
	assert_string_equal(dstr(d, "status"), "EXTERNAL_BLOCKED_IP");
	assert_string_equal(dstr(d, "forward"), "208.67.222.123#53");
	json_decref(d);
	e = find(n, 282);
	d = data_of(e);
	assert_sv(e->event_type, "DNS_QUERY");
	assert_string_equal(dstr(d, "status"), "RETRIED_DNSSEC");
	assert_string_equal(dstr(d, "dnssec"), "BOGUS");
	assert_string_equal(dstr(d, "reply"), "SERVFAIL");
	json_decref(d);
	e = find(n, 382);
	d = data_of(e);
	assert_sv(e->message,
		  "blocked phish-login.bad.example.org for 192.168.1.66 (external_blocked_ede15)");
	assert_int_equal(json_integer_value(json_object_get(d, "ede")), 15);
	json_decref(d);
	e = find(n, 435);
	d = data_of(e);
	assert_string_equal(dstr(d, "type"), "CAA");
	assert_string_equal(dstr(d, "reply"), "OTHER");
	json_decref(d);
	e = find(n, 431);
	d = data_of(e);
	assert_string_equal(dstr(d, "type"), "PTR");
	assert_sv(e->source_ip, "127.0.0.1");
	assert_string_equal(dstr(d, "client_name"), "localhost");
	json_decref(d);
	e = find(n, 493);
	d = data_of(e);
	assert_string_equal(dstr(d, "status"), "IN_PROGRESS");
	assert_null(json_object_get(d, "reply_time"));
	json_decref(d);
	/* 406: allowlisted (list_id 1) is a query, not a block */
	e = find(n, 406);
	d = data_of(e);
	assert_sv(e->event_type, "DNS_QUERY");
	assert_int_equal(json_integer_value(json_object_get(d, "list_id")), 1);
	json_decref(d);
	/* 331-333 SPECIAL_DOMAIN counts as blocked (FTL's is_blocked) */
	assert_sv(find(n, 332)->event_type, "DNS_BLOCK");
	arena_reset(&A);
}

static void test_status_blocked(void **state)
{
	(void)state;
	static const int blocked[] = {1, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 18};
	for (int s = -1; s < 40; s++) {
		bool want = false;
		for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
			want |= blocked[i] == s;
		assert_int_equal(pihole_status_blocked(s), want);
	}
}

/* ---- v5 databases ---- */

static sqlite3 *db_create(const char *name, const char *schema_sql, char *path, size_t plen)
{
	sqlite3 *db;
	char *err = NULL;
	snprintf(path, plen, "%s/%s", TMP, name);
	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, schema_sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("schema: %s", err);
	return db;
}

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* n more queries the way FTL v5 stores them: integer timestamps, ids into the link tables. */
static void v5_insert(sqlite3 *db, int n, int *seq)
{
	exec(db, "BEGIN");
	for (int i = 0; i < n; i++, (*seq)++) {
		char sql[512];
		int s = *seq;
		/* statuses cycle over blocked and permitted ones, v5's 0..17 */
		int status = s % 18;
		snprintf(
		    sql, sizeof(sql),
		    "INSERT OR IGNORE INTO domain_by_id(domain) VALUES('d%d.example.com');"
		    "INSERT INTO query_storage(timestamp, type, status, domain, client, forward,"
		    " additional_info, reply_type, reply_time, dnssec) VALUES(%d, %d, %d,"
		    " (SELECT id FROM domain_by_id WHERE domain = 'd%d.example.com'), 1,"
		    " %s, NULL, 4, 0.0012, 0)",
		    s, 1700000000 + s, 1 + s % 2, status, s, status == 2 ? "1" : "NULL");
		exec(db, sql);
	}
	exec(db, "COMMIT");
}

static void test_v5_growing(void **state)
{
	(void)state;
	const char *dir = need_data();
	if (!dir)
		skip();
	char p[700], path[400];
	size_t sn;
	snprintf(p, sizeof(p), "%s/pihole/ftl-schema-v5.sql", dir);
	char *schema = slurp(p, &sn);
	sqlite3 *db = db_create("v5.db", schema, path, sizeof(path));
	free(schema);
	exec(db, "INSERT INTO client_by_id(id, ip, name) VALUES(1, '10.0.0.5', 'nas.lan');"
		 "INSERT INTO forward_by_id(id, forward) VALUES(1, '9.9.9.9#53');");
	int seq = 0;
	v5_insert(db, 10, &seq);

	struct pihole_reader *r;
	struct pihole_config cfg = {.db_path = path, .host = "pi5", .all_queries = true};
	assert_int_equal(pihole_open(&r, &cfg), 0);
	int seen[200] = {0};
	int64_t last = 0;
	size_t total = 0;
	for (int round = 0; round < 60; round++) {
		size_t n = 0;
		int64_t l;
		assert_int_equal(pihole_read(r, last, 3, EV, &n, &A, &l), 0);
		for (size_t i = 0; i < n; i++) {
			json_t *d = data_of(&EV[i]);
			long id = (long)json_integer_value(json_object_get(d, "id"));
			assert_true(id > last && id <= l);
			seen[id]++;
			char dom[64];
			snprintf(dom, sizeof(dom), "d%ld.example.com", id - 1);
			assert_string_equal(dstr(d, "domain"), dom);
			assert_string_equal(dstr(d, "client_name"), "nas.lan");
			assert_sv(EV[i].source_ip, "10.0.0.5");
			assert_int_equal(EV[i].ts, (1700000000LL + id - 1) * 1000000);
			int status = (int)((id - 1) % 18);
			assert_sv(EV[i].event_type,
				  pihole_status_blocked(status) ? "DNS_BLOCK" : "DNS_QUERY");
			if (status == 5) /* v5 called it BLACKLIST: one name for both */
				assert_string_equal(dstr(d, "status"), "DENYLIST");
			if (status == 2)
				assert_string_equal(dstr(d, "forward"), "9.9.9.9#53");
			assert_null(json_object_get(d, "ede")); /* no such column in v5 */
			json_decref(d);
		}
		total += n;
		last = l;
		arena_reset(&A);
		/* FTL keeps writing between our batches */
		if (round % 3 == 0 && seq < 100)
			v5_insert(db, 7, &seq);
		/* a write in progress (RESERVED lock) does not block readers, and its rows are
		 * not seen until committed */
		if (round == 10) {
			exec(db, "BEGIN IMMEDIATE");
			exec(db,
			     "INSERT INTO query_storage(timestamp, type, status, domain, client)"
			     " VALUES(1700000999, 1, 1, 1, 1)");
			size_t n2 = 0;
			int64_t l2;
			assert_int_equal(pihole_read(r, last, 200, EV, &n2, &A, &l2), 0);
			assert_true(l2 < seq + 1);
			exec(db, "ROLLBACK");
			arena_reset(&A);
		}
	}
	assert_int_equal(seq, 101);
	assert_int_equal(last, 101);
	assert_int_equal(total, 101);
	for (int i = 1; i <= 101; i++)
		assert_int_equal(seen[i], 1);
	pihole_close(r);
	sqlite3_close(db);
}

/* Before database version 10 `queries` was a table holding the strings themselves. */
static void test_legacy_table(void **state)
{
	(void)state;
	char path[400];
	sqlite3 *db = db_create(
	    "v5-legacy.db",
	    "CREATE TABLE queries (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT "
	    "NULL, type INTEGER NOT NULL, status INTEGER NOT NULL, domain TEXT NOT NULL, client "
	    "TEXT NOT NULL, forward TEXT, additional_info TEXT);"
	    "INSERT INTO queries VALUES(1, 1600000000, 1, 2, 'debian.org', '192.168.0.2', "
	    "'1.1.1.1#53', NULL);"
	    "INSERT INTO queries VALUES(2, 1600000001, 2, 1, 'ads.example', '192.168.0.2', NULL, "
	    "NULL);"
	    "INSERT INTO queries VALUES(3, 1600000002, 1, 9, 'x.example', 'host-without-ip', NULL,"
	    " 'tracker.example');"
	    "INSERT INTO queries VALUES(4, 1600000003, 99, 5, CAST(X'41FF42' AS TEXT), "
	    "'::ffff:192.168.0.3', NULL, NULL);",
	    path, sizeof(path));
	sqlite3_close(db);
	struct pihole_reader *r;
	struct pihole_config cfg = {.db_path = path, .host = "old"};
	assert_int_equal(pihole_open(&r, &cfg), 0);
	size_t n;
	int64_t last;
	assert_int_equal(pihole_read(r, 0, 10, EV, &n, &A, &last), 0);
	assert_int_equal(n, 3);
	assert_int_equal(last, 4);
	assert_sv(EV[0].message, "blocked ads.example for 192.168.0.2 (gravity)");
	assert_int_equal(EV[0].ts, 1600000001000000LL);
	assert_sv(EV[0].source_host, "old");
	/* a client that is not an address: no source_ip, kept in data */
	json_t *d = data_of(&EV[1]);
	assert_null(EV[1].source_ip.p);
	assert_false(EV[1].flags & EV_HAS_IP);
	assert_string_equal(dstr(d, "client"), "host-without-ip");
	assert_string_equal(dstr(d, "cname"), "tracker.example");
	json_decref(d);
	/* invalid UTF-8 in the database becomes U+FFFD; an unknown type code says so */
	d = data_of(&EV[2]);
	assert_string_equal(dstr(d, "domain"), "A\xEF\xBF\xBD"
					       "B");
	assert_string_equal(dstr(d, "type"), "UNKNOWN");
	assert_sv(EV[2].source_ip, "192.168.0.3");
	json_decref(d);
	pihole_close(r);
	arena_reset(&A);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void copy_file(const char *from, const char *to)
{
	size_t n;
	char *b = slurp(from, &n);
	FILE *f = fopen(to, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	free(b);
}

/* FTL holding its lock: the read says -EBUSY promptly, hands nothing over, and the next read
 * after the lock is released gets every row. Once before the first read (the schema is read
 * then) and once mid-way. */
static void test_locked(void **state)
{
	(void)state;
	const char *dir = need_data();
	if (!dir)
		skip();
	char from[700], path[400];
	snprintf(from, sizeof(from), "%s/pihole/pihole-FTL.db", dir);
	snprintf(path, sizeof(path), "%s/locked.db", TMP);
	copy_file(from, path);
	sqlite3 *ftl;
	assert_int_equal(sqlite3_open(path, &ftl), SQLITE_OK);

	struct pihole_reader *r;
	struct pihole_config cfg = {.db_path = path, .host = "pi.hole"};
	exec(ftl, "BEGIN EXCLUSIVE");
	assert_int_equal(pihole_open(&r, &cfg), 0);
	size_t n = 99;
	int64_t last = -1;
	double t0 = now_s();
	assert_int_equal(pihole_read(r, 0, 100, EV, &n, &A, &last), -EBUSY);
	assert_true(now_s() - t0 < 2.0);
	assert_int_equal(n, 0);
	assert_int_equal(last, 0);
	exec(ftl, "COMMIT");

	int64_t at;
	size_t got = 0;
	assert_int_equal(pihole_read(r, 0, 100, EV, &n, &A, &at), 0);
	got += n;
	assert_true(at == 100);

	exec(ftl, "BEGIN EXCLUSIVE");
	t0 = now_s();
	assert_int_equal(pihole_read(r, at, 100, EV, &n, &A, &last), -EBUSY);
	assert_true(now_s() - t0 < 2.0);
	assert_int_equal(n, 0);
	assert_int_equal(last, at);
	exec(ftl, "COMMIT");
	arena_reset(&A);
	size_t rest = read_all(r, at, 100, &last);
	assert_int_equal(last, 493);
	assert_int_equal(got + rest, 185);
	pihole_close(r);
	sqlite3_close(ftl);
	arena_reset(&A);
}

static void test_errors(void **state)
{
	(void)state;
	struct pihole_reader *r = (struct pihole_reader *)1;
	struct pihole_config cfg = {.db_path = "/nonexistent/pihole-FTL.db"};
	assert_int_equal(pihole_open(&r, &cfg), -ENOENT);
	assert_null(r);
	cfg.db_path = "/";
	assert_int_equal(pihole_open(&r, &cfg), -EINVAL);
	pihole_close(NULL);

	/* an SQLite database that is not FTL's, and a file that is not a database */
	char path[400];
	sqlite3 *db = db_create("other.db", "CREATE TABLE t(x);", path, sizeof(path));
	sqlite3_close(db);
	cfg.db_path = path;
	assert_int_equal(pihole_open(&r, &cfg), 0);
	size_t n;
	int64_t last;
	assert_int_equal(pihole_read(r, 0, 10, EV, &n, &A, &last), SIEM_ESQL);
	assert_int_equal(n, 0);
	pihole_close(r);
	snprintf(path, sizeof(path), "%s/garbage.db", TMP);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs("this is not an SQLite database, just some text long enough to look at", f);
	fclose(f);
	assert_int_equal(pihole_open(&r, &cfg), 0);
	assert_int_equal(pihole_read(r, 0, 10, EV, &n, &A, &last), SIEM_ESQL);
	pihole_close(r);

	/* no host configured: this machine's name */
	const char *dir = data_dir();
	if (!dir)
		return;
	char fx[700], host[256];
	snprintf(fx, sizeof(fx), "%s/pihole/pihole-FTL.db", dir);
	struct pihole_config c2 = {.db_path = fx};
	assert_int_equal(pihole_open(&r, &c2), 0);
	assert_int_equal(pihole_read(r, 0, 2, EV, &n, &A, &last), 0);
	assert_int_equal(n, 1);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_sv(EV[0].source_host, host);
	pihole_close(r);
	arena_reset(&A);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_blocked), cmocka_unit_test(test_fixture),
	    cmocka_unit_test(test_fixture_rows),   cmocka_unit_test(test_v5_growing),
	    cmocka_unit_test(test_legacy_table),   cmocka_unit_test(test_locked),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
