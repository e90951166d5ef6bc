/* test_store.c — the embedded SQLite store: append/commit/rollback, every query filter and
 * text search, cursor pages across segments, bounded counts, duplicates, facets, offsets,
 * meta, keys, reopen, the ingest key and the migration of segments written by an older
 * version. */
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"
#include <sqlite3.h>

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "store/schema.h"
#include "store/store.h"

#define SEG_ROWS 50
#define NOW 1710506096000000LL /* 2024-03-15T12:34:56Z */
#define SEC 1000000LL
#define NO_TS INT64_MIN

static char DIRPATH[64];
static char DBPATH[128];
static struct store *S;
static struct arena A;

static void open_store(void)
{
	struct store_config c;
	store_config_defaults(&c);
	c.dir = DBPATH;
	c.segment_rows = SEG_ROWS;
	c.cache_mb = 2;
	c.readers = 2;
	S = NULL;
	assert_int_equal(store_open(&S, &c), 0);
	assert_non_null(S);
}

static void reopen(void)
{
	store_close(S);
	open_store();
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_WARN);
	snprintf(DIRPATH, sizeof(DIRPATH), "/tmp/test_store.XXXXXX");
	if (!mkdtemp(DIRPATH))
		return -1;
	snprintf(DBPATH, sizeof(DBPATH), "%s/store", DIRPATH);
	arena_init(&A, 0);
	open_store();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	store_close(S);
	S = NULL;
	arena_release(&A);
	test_rm_tree(DIRPATH);
	return 0;
}

/* ---- building events ---- */

static void id_of(int n, uint8_t id[16])
{
	char s[40];
	snprintf(s, sizeof(s), "00000000-0000-4000-8000-%012d", n);
	assert_int_equal(uuid_parse(s, 36, id), 0);
}

/* Event number n (its event_id ends in n) from JSON; ts overrides the timestamp unless
 * NO_TS, which leaves the event without one (received at now). */
static void mk_at(struct event *ev, int n, int64_t ts, int64_t now, const char *json)
{
	json_error_t je;
	char err[256];
	json_t *j = json_loads(json, JSON_ALLOW_NUL, &je);
	if (!j)
		fail_msg("bad test JSON %s: %s", json, je.text);
	int rc = event_from_json(ev, j, &A, now, err, sizeof(err));
	json_decref(j);
	if (rc)
		fail_msg("%s: rc %d %s", json, rc, err);
	id_of(n, ev->id);
	ev->flags &= ~(unsigned)EV_ID_GENERATED;
	if (ts != NO_TS) {
		ev->ts = ts;
		ev->flags &= ~(unsigned)EV_TS_MISSING;
	}
}

static void mk(struct event *ev, int n, int64_t ts, const char *json)
{
	mk_at(ev, n, ts, NOW, json);
}

static void mk_plain(struct event *ev, int n, int64_t ts)
{
	mk(ev, n, ts, "{\"event_type\": \"TICK\", \"message\": \"tick\"}");
}

/* One transaction; dup[i] (when given) receives each event's duplicate flag. */
static void put(struct event *evs, size_t n, bool *dup)
{
	assert_int_equal(store_begin(S), 0);
	for (size_t i = 0; i < n; i++) {
		bool d = true;
		assert_int_equal(store_append(S, &evs[i], &d), 0);
		if (dup)
			dup[i] = d;
		else
			assert_false(d);
	}
	assert_int_equal(store_commit(S), 0);
}

static void put1(const struct event *ev, bool *dup)
{
	struct event e = *ev;
	put(&e, 1, dup);
}

/* Events numbered first..first+n-1 with timestamps ts(i), committed txn at a time. */
static void put_many(int first, int n, int txn, int64_t (*ts)(int))
{
	struct event *evs = calloc((size_t)txn, sizeof(*evs));
	assert_non_null(evs);
	for (int i = 0; i < n; i += txn) {
		int k = n - i < txn ? n - i : txn;
		for (int j = 0; j < k; j++)
			mk_plain(&evs[j], first + i + j, ts(first + i + j));
		put(evs, (size_t)k, NULL);
		arena_reset(&A);
	}
	free(evs);
}

/* ---- querying ---- */

static void qinit(struct event_query *q)
{
	memset(q, 0, sizeof(*q));
	q->from = INT64_MIN;
	q->to = INT64_MAX;
	q->limit = 1000;
}

static int num_of(json_t *ev)
{
	const char *id = json_string_value(json_object_get(ev, "event_id"));
	if (!id || strlen(id) != 36)
		fail_msg("event without event_id");
	return (int)strtol(id + 24, NULL, 10);
}

/* The event numbers a query returns, newest first, as "6,5,1". */
static const char *found(const struct event_query *q)
{
	static char buf[8192];
	json_t *a = json_array();
	bool more = true;
	int64_t nts = 0, nseq = 0;
	int rc = store_query_events(S, q, a, &more, &nts, &nseq);
	if (rc) {
		json_decref(a);
		fail_msg("query (q '%s') failed: %d (%s)", q->q ? q->q : "", rc, siem_strerror(rc));
	}
	size_t n = 0, i;
	json_t *e;
	buf[0] = '\0';
	json_array_foreach (a, i, e) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d", i ? "," : "", num_of(e));
		assert_true(n < sizeof(buf));
	}
	json_decref(a);
	return buf;
}

static const char *all(void)
{
	struct event_query q;
	qinit(&q);
	return found(&q);
}

static const char *search(const char *text)
{
	struct event_query q;
	qinit(&q);
	q.q = text;
	return found(&q);
}

static void add_cidr(struct event_query *q, const char *c)
{
	assert_true(q->n_cidr < QUERY_MAX_VALUES);
	assert_int_equal(cidr_parse(c, strlen(c), q->cidr_lo[q->n_cidr], q->cidr_hi[q->n_cidr]), 0);
	q->n_cidr++;
}

static void set1(struct strset *s, const char *v)
{
	s->v[s->n++] = v;
}

/* ---- a small data set for the filters ---- */

#define T(k) (NOW + (k)*SEC)

static void load_dataset(void)
{
	struct event ev[6];
	mk(&ev[0], 1, T(1),
	   "{\"event_type\":\"LOGIN_FAIL\",\"app\":\"web\",\"level\":\"ERROR\",\"os_type\":"
	   "\"LINUX\","
	   "\"host\":\"h1\",\"user\":\"alice\",\"request_id\":\"r-1\",\"severity\":3,"
	   "\"http_status\":401,\"source_ip\":\"10.0.0.5\","
	   "\"message\":\"Failed password for alice from "
	   "10.0.0.5\",\"http_path\":\"/api/v1/login\"}");
	mk(&ev[1], 2, T(2),
	   "{\"event_type\":\"LOGIN_SUCCESS\",\"app\":\"web\",\"level\":\"INFO\",\"os_type\":"
	   "\"LINUX\","
	   "\"host\":\"h2\",\"user\":\"bob\",\"request_id\":\"r-2\",\"severity\":1,"
	   "\"http_status\":200,\"source_ip\":\"10.0.1.7\",\"message\":\"Accepted publickey for "
	   "bob\"}");
	mk(&ev[2], 3, T(3),
	   "{\"event_type\":\"SUDO_ESCALATION\",\"level\":\"WARNING\",\"os_type\":\"LINUX\","
	   "\"host\":\"h1\",\"user\":\"alice\",\"severity\":4,\"source_ip\":\"192.168.1.10\","
	   "\"message\":\"alice : TTY=pts/0 ; COMMAND=/bin/bash\"}");
	mk(&ev[3], 4, T(4),
	   "{\"event_type\":\"DNS_BLOCK\",\"os_type\":\"PIHOLE\",\"host\":\"pi\",\"severity\":2,"
	   "\"source_ip\":\"2001:db8::1\",\"message\":\"blocked ads.example.com\"}");
	mk(&ev[4], 5, T(5),
	   "{\"event_type\":\"auth_oauth_google_login_failed\",\"app\":\"billing\",\"level\":"
	   "\"ERROR\","
	   "\"host\":\"h2\",\"user\":\"carol\",\"request_id\":\"r-5\",\"severity\":3,"
	   "\"http_status\":500,\"source_ip\":\"2001:db8:1::9\","
	   "\"message\":\"OAuth login failed: invalid_grant\",\"http_path\":\"/api/v2/oauth\"}");
	mk(&ev[5], 6, T(6),
	   "{\"event_type\":\"CRITICAL_ERROR\",\"app\":\"billing\",\"level\":\"CRITICAL\","
	   "\"host\":\"h3\",\"severity\":5,"
	   "\"message\":\"Unhandled \\\"quoted\\\" error (code*7) NEAR x-ray key:value\","
	   "\"raw_message\":\"RAW-LINE unhandled exception in worker\","
	   "\"data\":{\"k\":\"v\",\"n\":1},\"extra_field\":true}");
	put(ev, 6, NULL);
}

/* ---- order ---- */

static void test_query_newest_first(void **state)
{
	(void)state;
	struct event ev[5];
	mk_plain(&ev[0], 1, T(1));
	mk_plain(&ev[1], 2, T(3));
	mk_plain(&ev[2], 3, T(2));
	mk_plain(&ev[3], 4, T(3));
	mk_plain(&ev[4], 5, T(1));
	put(ev, 5, NULL);
	/* ts descending; equal ts: the later insert first */
	assert_string_equal(all(), "4,2,3,5,1");
}

static void test_query_empty_store(void **state)
{
	(void)state;
	assert_string_equal(all(), "");
}

static void test_list_view_fields(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	set1(&q.request_id, "r-1");
	json_t *a = json_array();
	bool more = true;
	int64_t t = 0, s = 0;
	assert_int_equal(store_query_events(S, &q, a, &more, &t, &s), 0);
	assert_false(more);
	assert_int_equal(json_array_size(a), 1);
	json_t *e = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(e, "event_id")),
			    "00000000-0000-4000-8000-000000000001");
	assert_string_equal(json_string_value(json_object_get(e, "timestamp")),
			    "2024-03-15T12:34:57.000000Z");
	assert_string_equal(json_string_value(json_object_get(e, "source_ip")), "10.0.0.5");
	assert_string_equal(json_string_value(json_object_get(e, "http_path")), "/api/v1/login");
	assert_int_equal(json_integer_value(json_object_get(e, "http_status")), 401);
	assert_int_equal(json_integer_value(json_object_get(e, "severity")), 3);
	assert_null(json_object_get(e, "raw_message")); /* list view leaves raw out */
	json_decref(a);
}

/* ---- filters ---- */

static void test_filter_event_type(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	set1(&q.event_type, "LOGIN_FAIL");
	assert_string_equal(found(&q), "1");
	set1(&q.event_type, "DNS_BLOCK");
	assert_string_equal(found(&q), "4,1");
	qinit(&q);
	set1(&q.event_type, "login_fail"); /* exact, case-sensitive */
	assert_string_equal(found(&q), "");
}

static void test_filter_app(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	set1(&q.app, "web");
	assert_string_equal(found(&q), "2,1");
	set1(&q.app, "billing");
	assert_string_equal(found(&q), "6,5,2,1");
	qinit(&q);
	set1(&q.app, "we");
	assert_string_equal(found(&q), "");
}

static void test_filter_level(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	set1(&q.level, "ERROR");
	assert_string_equal(found(&q), "5,1");
	set1(&q.level, "WARNING");
	assert_string_equal(found(&q), "5,3,1");
}

/* Levels were stored as sent before they were upper-cased: a query (upper-case, as the API
 * makes it) finds those too. */
static void test_filter_level_stored_in_any_case(void **state)
{
	(void)state;
	struct event ev[3];
	mk(&ev[0], 1, NOW - 3, "{\"event_type\": \"A\", \"level\": \"info\"}");
	mk(&ev[1], 2, NOW - 2, "{\"event_type\": \"A\", \"level\": \"INFO\"}");
	mk(&ev[2], 3, NOW - 1, "{\"event_type\": \"A\", \"level\": \"warn\"}");
	ev[0].level = (struct sv){"info", 4}; /* as an older hub stored it */
	ev[2].level = (struct sv){"Warn", 4};
	put(ev, 3, NULL);
	struct event_query q;
	qinit(&q);
	set1(&q.level, "INFO");
	assert_string_equal(found(&q), "2,1");
	qinit(&q);
	set1(&q.level, "WARN");
	assert_string_equal(found(&q), "3");
}

static void test_filter_os_type(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	set1(&q.os_type, "LINUX");
	assert_string_equal(found(&q), "3,2,1");
	qinit(&q);
	set1(&q.os_type, "APP"); /* the default when app is set */
	assert_string_equal(found(&q), "6,5");
}

static void test_filter_source_host(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	set1(&q.source_host, "h1");
	assert_string_equal(found(&q), "3,1");
	qinit(&q);
	set1(&q.source_host, "h2");
	set1(&q.source_host, "h3");
	assert_string_equal(found(&q), "6,5,2");
}

static void test_filter_user(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	set1(&q.user, "alice");
	assert_string_equal(found(&q), "3,1");
	qinit(&q);
	set1(&q.user, "system"); /* the default user */
	assert_string_equal(found(&q), "6,4");
}

static void test_filter_request_id(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	set1(&q.request_id, "r-5");
	assert_string_equal(found(&q), "5");
	set1(&q.request_id, "r-2");
	assert_string_equal(found(&q), "5,2");
	qinit(&q);
	set1(&q.request_id, "r-9");
	assert_string_equal(found(&q), "");
}

static void test_filter_severity_list(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	q.severity[q.n_severity++] = 3;
	assert_string_equal(found(&q), "5,1");
	q.severity[q.n_severity++] = 5;
	q.severity[q.n_severity++] = 4;
	assert_string_equal(found(&q), "6,5,3,1");
}

static void test_filter_http_status(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	q.http_status[q.n_status++] = 401;
	q.http_status[q.n_status++] = 500;
	assert_string_equal(found(&q), "5,1");
	qinit(&q);
	q.http_status[q.n_status++] = 404;
	assert_string_equal(found(&q), "");
}

static void test_filter_cidr_v4(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	add_cidr(&q, "10.0.0.0/24");
	assert_string_equal(found(&q), "1");
	qinit(&q);
	add_cidr(&q, "10.0.0.0/16");
	assert_string_equal(found(&q), "2,1");
	qinit(&q);
	add_cidr(&q, "10.0.0.5");
	assert_string_equal(found(&q), "1");
	qinit(&q);
	add_cidr(&q, "192.168.0.0/16");
	assert_string_equal(found(&q), "3");
	qinit(&q);
	add_cidr(&q, "0.0.0.0/0"); /* every IPv4 address, no IPv6 one */
	assert_string_equal(found(&q), "3,2,1");
	qinit(&q);
	add_cidr(&q, "172.16.0.0/12");
	assert_string_equal(found(&q), "");
}

static void test_filter_cidr_v6(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	add_cidr(&q, "2001:db8::/32");
	assert_string_equal(found(&q), "5,4");
	qinit(&q);
	add_cidr(&q, "2001:db8::/48");
	assert_string_equal(found(&q), "4");
	qinit(&q);
	add_cidr(&q, "2001:db8:1::9");
	assert_string_equal(found(&q), "5");
	qinit(&q);
	add_cidr(&q, "::/0"); /* every address; events without one stay out */
	assert_string_equal(found(&q), "5,4,3,2,1");
}

static void test_filter_several_cidrs(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	add_cidr(&q, "10.0.0.0/24");
	add_cidr(&q, "2001:db8:1::/48");
	assert_string_equal(found(&q), "5,1");
}

static void test_filter_time_bounds_inclusive(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	q.from = T(2);
	q.to = T(4);
	assert_string_equal(found(&q), "4,3,2");
	q.from = T(2) + 1;
	assert_string_equal(found(&q), "4,3");
	q.to = T(4) - 1;
	assert_string_equal(found(&q), "3");
	qinit(&q);
	q.from = T(6);
	assert_string_equal(found(&q), "6");
	qinit(&q);
	q.to = T(1);
	assert_string_equal(found(&q), "1");
	qinit(&q);
	q.from = T(7);
	assert_string_equal(found(&q), "");
}

static void test_filters_combine_with_and(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	set1(&q.app, "web");
	set1(&q.level, "ERROR");
	assert_string_equal(found(&q), "1");
	set1(&q.user, "bob");
	assert_string_equal(found(&q), "");
	qinit(&q);
	set1(&q.source_host, "h2");
	q.severity[q.n_severity++] = 3;
	add_cidr(&q, "2001:db8::/32");
	q.from = T(5);
	assert_string_equal(found(&q), "5");
}

static void test_filter_many_values(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	static char names[QUERY_MAX_VALUES][16];
	for (int i = 0; i < QUERY_MAX_VALUES - 1; i++) {
		snprintf(names[i], sizeof(names[i]), "nope%d", i);
		set1(&q.event_type, names[i]);
	}
	set1(&q.event_type, "SUDO_ESCALATION");
	assert_string_equal(found(&q), "3");
}

/* ---- text search ---- */

static void test_search_word(void **state)
{
	(void)state;
	load_dataset();
	assert_string_equal(search("password"), "1");
	assert_string_equal(search("publickey"), "2");
}

static void test_search_prefix(void **state)
{
	(void)state;
	load_dataset();
	assert_string_equal(search("pass"), "1");
	assert_string_equal(search("publ"), "2");
}

static void test_search_case_insensitive(void **state)
{
	(void)state;
	load_dataset();
	assert_string_equal(search("FAILED"), "5,1");
	assert_string_equal(search("oauth"), "5");
	assert_string_equal(search("UnHandled"), "6");
}

static void test_search_all_words(void **state)
{
	(void)state;
	load_dataset();
	assert_string_equal(search("failed alice"), "1");
	assert_string_equal(search("  failed   alice  "), "1");
	assert_string_equal(search("failed bob"), "");
}

static void test_search_ip_and_path(void **state)
{
	(void)state;
	load_dataset();
	assert_string_equal(search("10.0.0.5"), "1");
	assert_string_equal(search("10.0.0.6"), "");
	assert_string_equal(search("/api/v1"), "1");
	assert_string_equal(search("/api"), "5,1");
	assert_string_equal(search("/api/v2/oauth"), "5");
	assert_string_equal(search("ads.example.com"), "4");
	assert_string_equal(search("invalid_grant"), "5");
	assert_string_equal(search("invalid_"), "5");
	assert_string_equal(search("COMMAND=/bin/bash"), "3");
}

static void test_search_raw_message(void **state)
{
	(void)state;
	load_dataset();
	assert_string_equal(search("RAW-LINE"), "6");
	assert_string_equal(search("exception worker"), "6");
	assert_string_equal(search("unhandled exception"), "6");
}

static void test_search_no_match(void **state)
{
	(void)state;
	load_dataset();
	assert_string_equal(search("zebra"), "");
	assert_string_equal(search("passwordx"), "");
}

static void test_search_empty_query_matches_all(void **state)
{
	(void)state;
	load_dataset();
	assert_string_equal(search(""), "6,5,4,3,2,1");
}

static void test_search_fts_syntax_is_literal(void **state)
{
	(void)state;
	load_dataset();
	assert_string_equal(search("\"quoted\""), "6");
	assert_string_equal(search("\"quoted"), "6");
	assert_string_equal(search("\""), "6");
	assert_string_equal(search("code*7"), "6");
	assert_string_equal(search("(code*7)"), "6");
	assert_string_equal(search("*"), "6");
	assert_string_equal(search("NEAR"), "6");
	assert_string_equal(search("NEAR(code 7)"), "");
	assert_string_equal(search("zebra OR password"), "");
	assert_string_equal(search("NOT zebra"), "");
	assert_string_equal(search("x-ray"), "6");
	assert_string_equal(search("-ray"), "6");
	assert_string_equal(search("-"), "6"); /* "x-ray", "RAW-LINE" */
	assert_string_equal(search("key:value"), "6");
	assert_string_equal(search("message:failed"), "");
	assert_string_equal(search(":"), "6,5,3");
	assert_string_equal(search("^unhandled"), "");
	assert_string_equal(search("a + b"), "");
	assert_string_equal(search("{key}"), "");
}

/* Text outside ASCII: unicode61 splits on non-ASCII punctuation (’ — …), so a term like
 * "can’t" becomes two tokens. The search must still answer, and match the text literally. */
static void test_search_non_ascii_punctuation(void **state)
{
	(void)state;
	struct event ev[2];
	mk(&ev[0], 1, T(1),
	   "{\"event_type\":\"E\",\"message\":\"Can\\u2019t open /etc/shadow\\u2014permission "
	   "denied\"}");
	mk(&ev[1], 2, T(2), "{\"event_type\":\"E\",\"message\":\"caf\\u00e9 ol\\u00e9\"}");
	put(ev, 2, NULL);
	assert_string_equal(search("caf\xc3\xa9"), "2");
	assert_string_equal(search("can\xe2\x80\x99t"), "1");
	assert_string_equal(search("shadow\xe2\x80\x94permission"), "1");
}

/* ---- pages ---- */

static int64_t ts_distinct(int i)
{
	return NOW + i * 1000;
}

static int64_t ts_groups_of_40(int i)
{
	return NOW + (i / 40) * 1000;
}

static int64_t ts_shuffled(int i)
{
	return NOW + ((i * 37) % 100) * 1000;
}

static int64_t (*sort_ts)(int);

static int cmp_newest(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	int64_t tx = sort_ts(x), ty = sort_ts(y);
	if (tx != ty)
		return tx < ty ? 1 : -1;
	return x < y ? 1 : -1; /* later insert (higher seq) first */
}

/* Walk every page of limit events and check each event comes exactly once, in order. */
static void check_pages(int n, int limit, int64_t (*ts)(int))
{
	int *want = malloc((size_t)n * sizeof(int)), got = 0, pages = 0;
	assert_non_null(want);
	for (int i = 0; i < n; i++)
		want[i] = i;
	sort_ts = ts;
	qsort(want, (size_t)n, sizeof(int), cmp_newest);

	struct event_query q;
	qinit(&q);
	q.limit = limit;
	for (;;) {
		json_t *a = json_array();
		bool more = false;
		int64_t nts = 0, nseq = 0;
		assert_int_equal(store_query_events(S, &q, a, &more, &nts, &nseq), 0);
		size_t i;
		json_t *e;
		pages++;
		json_array_foreach (a, i, e) {
			if (got >= n)
				fail_msg("more than %d events", n);
			int k = num_of(e);
			if (k != want[got])
				fail_msg("page %d item %zu: event %d, want %d", pages, i, k,
					 want[got]);
			got++;
		}
		if (more)
			assert_int_equal(json_array_size(a), (size_t)limit);
		else
			assert_true(json_array_size(a) > 0 || got == 0);
		json_decref(a);
		if (!more)
			break;
		q.has_cursor = true;
		q.cursor_ts = nts;
		q.cursor_seq = nseq;
		if (pages > n + 2)
			fail_msg("pages never end");
	}
	assert_int_equal(got, n);
	assert_int_equal(pages, (n + limit - 1) / limit);
	free(want);
}

static void test_pages_across_segments(void **state)
{
	(void)state;
	put_many(0, 230, 10, ts_distinct);
	struct store_stats st;
	assert_int_equal(store_stats(S, &st), 0);
	assert_int_equal(st.segments, 5);
	check_pages(230, 7, ts_distinct);
	check_pages(230, 10, ts_distinct);
	check_pages(230, 1000, ts_distinct);
}

static void test_pages_with_equal_timestamps(void **state)
{
	(void)state;
	put_many(0, 230, 10, ts_groups_of_40);
	check_pages(230, 7, ts_groups_of_40);
	check_pages(230, 40, ts_groups_of_40);
}

static void test_pages_with_late_events(void **state)
{
	(void)state;
	/* Timestamps out of order, so every segment spans most of the time range. */
	put_many(0, 230, 10, ts_shuffled);
	check_pages(230, 7, ts_shuffled);
	check_pages(230, 1, ts_shuffled);
}

static void test_next_cursor_names_last_event(void **state)
{
	(void)state;
	put_many(0, 5, 5, ts_distinct);
	struct event_query q;
	qinit(&q);
	q.limit = 2;
	json_t *a = json_array();
	bool more = false;
	int64_t nts = 0, nseq = 0;
	assert_int_equal(store_query_events(S, &q, a, &more, &nts, &nseq), 0);
	assert_true(more);
	assert_int_equal(nts, ts_distinct(3));
	assert_int_equal(nseq, 4); /* the fourth event appended on a fresh store */
	json_decref(a);

	/* A cursor that lies before every event: nothing more. */
	qinit(&q);
	q.has_cursor = true;
	q.cursor_ts = ts_distinct(0);
	q.cursor_seq = 1;
	assert_string_equal(found(&q), "");
}

/* 150 events in batches of 10: every third one type A with "needle here", the others type B
 * with "hay". */
static void put_needles_and_hay(void)
{
	struct event ev[10];
	for (int i = 0; i < 150; i += 10) {
		for (int j = 0; j < 10; j++)
			mk(&ev[j], i + j, ts_distinct(i + j),
			   (i + j) % 3 == 0 ? "{\"event_type\":\"A\",\"message\":\"needle here\"}"
					    : "{\"event_type\":\"B\",\"message\":\"hay\"}");
		put(ev, 10, NULL);
		arena_reset(&A);
	}
}

static void test_pages_with_filter_and_search(void **state)
{
	(void)state;
	put_needles_and_hay();
	struct event_query q;
	qinit(&q);
	q.limit = 4;
	set1(&q.event_type, "A");
	q.q = "needle";
	int got = 0, expect = 147;
	for (;;) {
		json_t *a = json_array();
		bool more = false;
		int64_t nts = 0, nseq = 0;
		assert_int_equal(store_query_events(S, &q, a, &more, &nts, &nseq), 0);
		size_t i;
		json_t *e;
		json_array_foreach (a, i, e) {
			assert_int_equal(num_of(e), expect);
			expect -= 3;
			got++;
		}
		json_decref(a);
		if (!more)
			break;
		q.has_cursor = true;
		q.cursor_ts = nts;
		q.cursor_seq = nseq;
	}
	assert_int_equal(got, 50);
}

/* ---- counts ---- */

/* store_count_events of q up to bound; *exact set when given. */
static int64_t count_of(const struct event_query *q, int64_t bound, bool *exact)
{
	int64_t n = -1;
	bool ex = false;
	int rc = store_count_events(S, q, bound, &n, &ex);
	if (rc)
		fail_msg("count failed: %d (%s)", rc, siem_strerror(rc));
	if (exact)
		*exact = ex;
	return n;
}

/* The count of q equals the number of events its query returns (one page holds them all). */
static void check_count(const struct event_query *q)
{
	const char *ids = found(q);
	int64_t want = ids[0] ? 1 : 0;
	for (const char *c = ids; *c; c++)
		want += *c == ',';
	bool exact = false;
	assert_int_equal(count_of(q, 100000, &exact), want);
	assert_true(exact);
}

static void test_count_filters(void **state)
{
	(void)state;
	load_dataset();
	struct event_query q;
	qinit(&q);
	check_count(&q);
	set1(&q.app, "web");
	check_count(&q);
	set1(&q.level, "ERROR");
	check_count(&q);
	qinit(&q);
	q.from = T(2);
	q.to = T(4);
	check_count(&q);
	qinit(&q);
	add_cidr(&q, "10.0.0.0/8");
	check_count(&q);
	add_cidr(&q, "2001:db8::/32");
	q.severity[q.n_severity++] = 3;
	check_count(&q);
	qinit(&q);
	q.q = "failed";
	check_count(&q);
	q.q = "ADS.example";
	check_count(&q);
	q.q = "zebra";
	check_count(&q);
	q.q = "!!"; /* no term long enough for the text index */
	check_count(&q);
	qinit(&q);
	q.from = T(7);
	check_count(&q);
}

static void test_count_bound(void **state)
{
	(void)state;
	bool exact = false;
	struct event_query q;
	qinit(&q);
	assert_int_equal(count_of(&q, 10, &exact), 0);
	assert_true(exact);
	put_many(0, 230, 10, ts_distinct); /* 5 segments */
	assert_int_equal(count_of(&q, 100000, &exact), 230);
	assert_true(exact);
	assert_int_equal(count_of(&q, 230, &exact), 230);
	assert_true(exact);
	assert_int_equal(count_of(&q, 229, &exact), 229);
	assert_false(exact);
	assert_int_equal(count_of(&q, 100, &exact), 100);
	assert_false(exact);
	assert_int_equal(count_of(&q, 0, &exact), 0);
	assert_false(exact);
	/* Within segments, and across some of them. */
	q.from = ts_distinct(20);
	q.to = ts_distinct(139);
	assert_int_equal(count_of(&q, 100000, &exact), 120);
	assert_true(exact);
	assert_int_equal(count_of(&q, 119, &exact), 119);
	assert_false(exact);
	/* The cursor and the limit do not change it: it counts every page. */
	q.limit = 7;
	q.has_cursor = true;
	q.cursor_ts = ts_distinct(30);
	q.cursor_seq = 31;
	assert_int_equal(count_of(&q, 100000, &exact), 120);
	int64_t n = 0;
	assert_int_equal(store_count_events(S, &q, -1, &n, &exact), -EINVAL);
}

static void test_count_filter_and_search_across_segments(void **state)
{
	(void)state;
	put_needles_and_hay();
	bool exact = false;
	struct event_query q;
	qinit(&q);
	set1(&q.event_type, "A");
	assert_int_equal(count_of(&q, 1000, &exact), 50);
	assert_true(exact);
	q.q = "needle";
	assert_int_equal(count_of(&q, 1000, &exact), 50);
	assert_true(exact);
	assert_int_equal(count_of(&q, 49, &exact), 49);
	assert_false(exact);
	qinit(&q);
	q.q = "hay";
	q.from = ts_distinct(100);
	assert_int_equal(count_of(&q, 1000, &exact), 34); /* 100..149 but 102, 105, ..., 147 */
	assert_true(exact);
}

/* ---- duplicates ---- */

static void test_dup_in_same_transaction(void **state)
{
	(void)state;
	struct event ev[3];
	bool dup[3];
	mk(&ev[0], 1, T(1), "{\"event_type\":\"E\",\"message\":\"first\"}");
	mk(&ev[1], 2, T(2), "{\"event_type\":\"E\",\"message\":\"other\"}");
	mk(&ev[2], 1, T(1), "{\"event_type\":\"E\",\"message\":\"again\"}");
	put(ev, 3, dup);
	assert_false(dup[0]);
	assert_false(dup[1]);
	assert_true(dup[2]);
	assert_string_equal(all(), "2,1");
	assert_string_equal(search("again"), "");
	struct store_stats st;
	store_stats(S, &st);
	assert_int_equal(st.events, 2);
}

static void test_dup_across_transactions(void **state)
{
	(void)state;
	struct event ev;
	bool dup;
	mk(&ev, 1, T(1), "{\"event_type\":\"E\",\"message\":\"first\"}");
	put1(&ev, &dup);
	assert_false(dup);
	mk(&ev, 1, T(1), "{\"event_type\":\"E\",\"message\":\"again\"}");
	put1(&ev, &dup);
	assert_true(dup);
	assert_string_equal(all(), "1");
	assert_string_equal(search("first"), "1");
	struct store_stats st;
	store_stats(S, &st);
	assert_int_equal(st.events, 1);
}

static void test_dup_in_sealed_segment(void **state)
{
	(void)state;
	put_many(0, SEG_ROWS, 10, ts_distinct);	 /* fills segment 1 */
	put_many(SEG_ROWS, 10, 10, ts_distinct); /* segment 2 */
	struct store_stats st;
	store_stats(S, &st);
	assert_int_equal(st.segments, 2);

	struct event ev[2];
	bool dup[2];
	/* A replay of event 10 (old time, in sealed segment 1) and a new late event. */
	mk(&ev[0], 10, ts_distinct(10), "{\"event_type\":\"E\",\"message\":\"replay\"}");
	mk(&ev[1], 1000, ts_distinct(10) + 1, "{\"event_type\":\"E\",\"message\":\"late\"}");
	put(ev, 2, dup);
	assert_true(dup[0]);
	assert_false(dup[1]);
	assert_string_equal(search("replay"), "");
	assert_string_equal(search("late"), "1000");
	store_stats(S, &st);
	assert_int_equal(st.events, SEG_ROWS + 11);

	/* And again after a restart, when the segment list comes from disk. */
	reopen();
	bool d = false;
	put1(&ev[0], &d);
	assert_true(d);
	put1(&ev[1], &d);
	assert_true(d);
	store_stats(S, &st);
	assert_int_equal(st.events, SEG_ROWS + 11);
}

static void test_dup_of_late_event_in_later_segment(void **state)
{
	(void)state;
	put_many(0, SEG_ROWS, 10, ts_distinct);
	/* Segment 2 receives a very old event, then fills and is sealed. */
	struct event ev;
	bool dup;
	mk(&ev, 5000, NOW - 3600 * SEC, "{\"event_type\":\"E\",\"message\":\"old\"}");
	put1(&ev, &dup);
	assert_false(dup);
	put_many(SEG_ROWS, SEG_ROWS, 10, ts_distinct);
	put_many(2 * SEG_ROWS, 5, 5, ts_distinct);
	struct store_stats st;
	store_stats(S, &st);
	assert_int_equal(st.segments, 3);
	mk(&ev, 5000, NOW - 3600 * SEC, "{\"event_type\":\"E\",\"message\":\"old again\"}");
	put1(&ev, &dup);
	assert_true(dup);
	store_stats(S, &st);
	assert_int_equal(st.events, 2 * SEG_ROWS + 6);
}

static void test_dup_without_timestamp_within_a_day(void **state)
{
	(void)state;
	const char *js = "{\"event_type\":\"E\",\"message\":\"no time\"}";
	struct event ev;
	bool dup;
	/* In the active segment. */
	mk_at(&ev, 7, NO_TS, NOW, js);
	assert_true(ev.flags & EV_TS_MISSING);
	put1(&ev, &dup);
	assert_false(dup);
	mk_at(&ev, 7, NO_TS, NOW + 3600 * SEC, js); /* the retry is stamped an hour later */
	put1(&ev, &dup);
	assert_true(dup);

	/* In a sealed segment: a retry up to a day later is still recognised. */
	put_many(100, SEG_ROWS - 1, 7, ts_distinct);
	put_many(200, 3, 3, ts_distinct); /* segment 2 */
	mk_at(&ev, 7, NO_TS, NOW + 20 * 3600 * SEC, js);
	put1(&ev, &dup);
	assert_true(dup);
	struct store_stats st;
	store_stats(S, &st);
	assert_int_equal(st.segments, 2);
	assert_int_equal(st.events, SEG_ROWS + 3);
	assert_string_equal(search("time"), "7");
}

/* ---- rollback ---- */

static void test_rollback_leaves_nothing(void **state)
{
	(void)state;
	struct event ev[3];
	bool dup;
	for (int i = 0; i < 3; i++)
		mk(&ev[i], i + 1, T(i + 1),
		   "{\"event_type\":\"E\",\"app\":\"a\",\"message\":\"gone\"}");
	assert_int_equal(store_begin(S), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_append(S, &ev[i], &dup), 0);
	assert_int_equal(store_set_offset(S, "/var/log/x", 1, 2, 300), 0);
	store_rollback(S);

	assert_string_equal(all(), "");
	assert_string_equal(search("gone"), "");
	json_t *out = NULL;
	assert_int_equal(store_get_event(S, ev[0].id, &out), SIEM_ENOTFOUND);
	uint64_t dev = 9, ino = 9;
	int64_t off = 9;
	bool hit = true;
	assert_int_equal(store_get_offset(S, "/var/log/x", &dev, &ino, &off, &hit), 0);
	assert_false(hit);
	json_t *apps = json_array();
	assert_int_equal(store_distinct(S, DISTINCT_APP, NULL, apps), 0);
	assert_int_equal(json_array_size(apps), 0);
	json_decref(apps);
	struct store_stats st;
	store_stats(S, &st);
	assert_int_equal(st.events, 0);

	/* The same events can be written afterwards: they are not duplicates. */
	bool dups[3];
	put(ev, 3, dups);
	assert_false(dups[0] || dups[1] || dups[2]);
	assert_string_equal(all(), "3,2,1");
	store_stats(S, &st);
	assert_int_equal(st.events, 3);
}

/* ---- single event ---- */

static void test_get_event_full(void **state)
{
	(void)state;
	load_dataset();
	uint8_t id[16];
	id_of(6, id);
	json_t *e = NULL;
	assert_int_equal(store_get_event(S, id, &e), 0);
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "event_id")),
			    "00000000-0000-4000-8000-000000000006");
	assert_string_equal(json_string_value(json_object_get(e, "raw_message")),
			    "RAW-LINE unhandled exception in worker");
	assert_string_equal(json_string_value(json_object_get(e, "message")),
			    "Unhandled \"quoted\" error (code*7) NEAR x-ray key:value");
	assert_string_equal(json_string_value(json_object_get(e, "app")), "billing");
	assert_string_equal(json_string_value(json_object_get(e, "level")), "CRITICAL");
	assert_string_equal(json_string_value(json_object_get(e, "source_ip")), "N/A");
	json_t *want = json_pack("{s:s, s:i, s:b}", "k", "v", "n", 1, "extra_field", 1);
	assert_true(json_equal(json_object_get(e, "data"), want));
	json_decref(want);
	json_decref(e);
}

static void test_get_event_in_sealed_segment(void **state)
{
	(void)state;
	put_many(0, 120, 10, ts_distinct);
	uint8_t id[16];
	id_of(3, id);
	json_t *e = NULL;
	assert_int_equal(store_get_event(S, id, &e), 0);
	assert_int_equal(num_of(e), 3);
	assert_string_equal(json_string_value(json_object_get(e, "message")), "tick");
	json_decref(e);
}

static void test_get_event_unknown(void **state)
{
	(void)state;
	load_dataset();
	uint8_t id[16];
	id_of(99, id);
	json_t *e = (json_t *)1;
	assert_int_equal(store_get_event(S, id, &e), SIEM_ENOTFOUND);
	assert_null(e);
}

/* ---- distinct values ---- */

static void assert_json(json_t *got, const char *want)
{
	json_t *w = json_loads(want, 0, NULL);
	assert_non_null(w);
	if (!json_equal(got, w)) {
		char *g = json_dumps(got, JSON_COMPACT);
		fail_msg("got %s, want %s", g, want);
	}
	json_decref(w);
}

static void check_distinct(enum store_distinct_field f, const char *app, const char *want)
{
	json_t *a = json_array();
	assert_int_equal(store_distinct(S, f, app, a), 0);
	assert_json(a, want);
	json_decref(a);
}

static void test_distinct_apps(void **state)
{
	(void)state;
	load_dataset();
	check_distinct(DISTINCT_APP, NULL,
		       "[{\"value\":\"billing\",\"count\":2},{\"value\":\"web\",\"count\":2}]");
}

static void test_distinct_hosts(void **state)
{
	(void)state;
	load_dataset();
	check_distinct(DISTINCT_HOST, NULL,
		       "[{\"value\":\"h1\",\"count\":2},{\"value\":\"h2\",\"count\":2},"
		       "{\"value\":\"h3\",\"count\":1},{\"value\":\"pi\",\"count\":1}]");
}

static void test_distinct_event_types(void **state)
{
	(void)state;
	load_dataset();
	check_distinct(
	    DISTINCT_EVENT_TYPE, NULL,
	    "[{\"value\":\"CRITICAL_ERROR\",\"count\":1},{\"value\":\"DNS_BLOCK\",\"count\":1},"
	    "{\"value\":\"LOGIN_FAIL\",\"count\":1},{\"value\":\"LOGIN_SUCCESS\",\"count\":1},"
	    "{\"value\":\"SUDO_ESCALATION\",\"count\":1},"
	    "{\"value\":\"auth_oauth_google_login_failed\",\"count\":1}]");
}

static void test_distinct_event_types_per_app(void **state)
{
	(void)state;
	load_dataset();
	struct event ev;
	mk(&ev, 7, T(7), "{\"event_type\":\"LOGIN_FAIL\",\"app\":\"web\",\"message\":\"m\"}");
	put1(&ev, NULL);
	mk(&ev, 8, T(8), "{\"event_type\":\"X\",\"app\":\"web2\",\"message\":\"m\"}");
	put1(&ev, NULL);
	check_distinct(
	    DISTINCT_EVENT_TYPE, "web",
	    "[{\"value\":\"LOGIN_FAIL\",\"count\":2},{\"value\":\"LOGIN_SUCCESS\",\"count\":1}]");
	check_distinct(DISTINCT_EVENT_TYPE, "billing",
		       "[{\"value\":\"CRITICAL_ERROR\",\"count\":1},"
		       "{\"value\":\"auth_oauth_google_login_failed\",\"count\":1}]");
	check_distinct(DISTINCT_EVENT_TYPE, "web2", "[{\"value\":\"X\",\"count\":1}]");
	check_distinct(DISTINCT_EVENT_TYPE, "we", "[]");
	check_distinct(DISTINCT_EVENT_TYPE, "nope", "[]");
}

static void test_distinct_counts_across_segments(void **state)
{
	(void)state;
	struct event ev[10];
	for (int i = 0; i < 120; i += 10) {
		for (int j = 0; j < 10; j++)
			mk(&ev[j], i + j, ts_distinct(i + j),
			   i + j < 70 ? "{\"app\":\"a\",\"event_type\":\"E\",\"host\":\"x\"}"
				      : "{\"app\":\"b\",\"event_type\":\"E\",\"host\":\"x\"}");
		put(ev, 10, NULL);
		arena_reset(&A);
	}
	struct store_stats st;
	store_stats(S, &st);
	assert_int_equal(st.segments, 3);
	check_distinct(DISTINCT_APP, NULL,
		       "[{\"value\":\"a\",\"count\":70},{\"value\":\"b\",\"count\":50}]");
	check_distinct(DISTINCT_HOST, NULL, "[{\"value\":\"x\",\"count\":120}]");
	check_distinct(DISTINCT_EVENT_TYPE, "b", "[{\"value\":\"E\",\"count\":50}]");
}

static void test_distinct_ignores_duplicates_and_rollbacks(void **state)
{
	(void)state;
	struct event ev;
	bool dup;
	mk(&ev, 1, T(1), "{\"app\":\"a\",\"event_type\":\"E\"}");
	put1(&ev, &dup);
	put1(&ev, &dup);
	assert_true(dup);
	mk(&ev, 2, T(2), "{\"app\":\"a\",\"event_type\":\"E\"}");
	assert_int_equal(store_begin(S), 0);
	assert_int_equal(store_append(S, &ev, &dup), 0);
	store_rollback(S);
	check_distinct(DISTINCT_APP, NULL, "[{\"value\":\"a\",\"count\":1}]");
	check_distinct(DISTINCT_EVENT_TYPE, "a", "[{\"value\":\"E\",\"count\":1}]");
}

static void test_distinct_many_values_in_one_transaction(void **state)
{
	(void)state;
	/* More distinct values than the in-memory table holds: it flushes mid-transaction. */
	enum { N = 3500 };
	struct event *ev = calloc(N, sizeof(*ev));
	assert_non_null(ev);
	char js[96];
	for (int i = 0; i < N; i++) {
		snprintf(js, sizeof(js), "{\"event_type\":\"E\",\"host\":\"host%04d\"}", i);
		mk(&ev[i], i, ts_distinct(i), js);
	}
	assert_int_equal(store_begin(S), 0);
	for (int i = 0; i < N; i++) {
		bool dup = true;
		assert_int_equal(store_append(S, &ev[i], &dup), 0);
		assert_false(dup);
	}
	/* The same hosts again in the same transaction: counts become 2. */
	for (int i = 0; i < N; i++) {
		bool dup = true;
		ev[i].id[0] = 0xee;
		assert_int_equal(store_append(S, &ev[i], &dup), 0);
		assert_false(dup);
	}
	assert_int_equal(store_commit(S), 0);
	free(ev);
	json_t *a = json_array();
	assert_int_equal(store_distinct(S, DISTINCT_HOST, NULL, a), 0);
	assert_int_equal(json_array_size(a), N);
	size_t i;
	json_t *o;
	json_array_foreach (a, i, o) {
		char want[32];
		snprintf(want, sizeof(want), "host%04zu", i);
		assert_string_equal(json_string_value(json_object_get(o, "value")), want);
		assert_int_equal(json_integer_value(json_object_get(o, "count")), 2);
	}
	json_decref(a);
	check_distinct(DISTINCT_EVENT_TYPE, NULL, "[{\"value\":\"E\",\"count\":7000}]");
}

/* ---- file offsets ---- */

static void test_offset_commits_with_events(void **state)
{
	(void)state;
	struct event ev;
	bool dup;
	mk(&ev, 1, T(1), "{\"event_type\":\"E\"}");
	assert_int_equal(store_begin(S), 0);
	assert_int_equal(store_append(S, &ev, &dup), 0);
	assert_int_equal(store_set_offset(S, "/var/log/auth.log", 2049, 123456789012ULL, 4096), 0);
	assert_int_equal(store_commit(S), 0);

	uint64_t dev = 0, ino = 0;
	int64_t off = 0;
	bool hit = false;
	assert_int_equal(store_get_offset(S, "/var/log/auth.log", &dev, &ino, &off, &hit), 0);
	assert_true(hit);
	assert_int_equal(dev, 2049);
	assert_int_equal(ino, 123456789012ULL);
	assert_int_equal(off, 4096);

	/* A later transaction moves it on; a large device number survives the round trip. */
	assert_int_equal(store_begin(S), 0);
	assert_int_equal(store_set_offset(S, "/var/log/auth.log", UINT64_MAX, 7, 8192), 0);
	assert_int_equal(store_commit(S), 0);
	assert_int_equal(store_get_offset(S, "/var/log/auth.log", &dev, &ino, &off, &hit), 0);
	assert_true(hit);
	assert_true(dev == UINT64_MAX);
	assert_int_equal(ino, 7);
	assert_int_equal(off, 8192);
}

static void test_offset_rollback_keeps_old(void **state)
{
	(void)state;
	assert_int_equal(store_begin(S), 0);
	assert_int_equal(store_set_offset(S, "/a", 1, 1, 100), 0);
	assert_int_equal(store_commit(S), 0);

	struct event ev;
	bool dup;
	mk(&ev, 1, T(1), "{\"event_type\":\"E\"}");
	assert_int_equal(store_begin(S), 0);
	assert_int_equal(store_append(S, &ev, &dup), 0);
	assert_int_equal(store_set_offset(S, "/a", 1, 1, 200), 0);
	store_rollback(S);

	uint64_t dev = 0, ino = 0;
	int64_t off = 0;
	bool hit = false;
	assert_int_equal(store_get_offset(S, "/a", &dev, &ino, &off, &hit), 0);
	assert_true(hit);
	assert_int_equal(off, 100);
	assert_string_equal(all(), "");
}

static void test_offset_unknown_path(void **state)
{
	(void)state;
	uint64_t dev = 5, ino = 5;
	int64_t off = 5;
	bool hit = true;
	assert_int_equal(store_get_offset(S, "/nope", &dev, &ino, &off, &hit), 0);
	assert_false(hit);
	assert_int_equal(off, 0);
}

static void test_offsets_survive_reopen(void **state)
{
	(void)state;
	assert_int_equal(store_begin(S), 0);
	assert_int_equal(store_set_offset(S, "/a", 3, 4, 5), 0);
	assert_int_equal(store_set_offset(S, "/b", 6, 7, 8), 0);
	assert_int_equal(store_commit(S), 0);
	reopen();
	uint64_t dev = 0, ino = 0;
	int64_t off = 0;
	bool hit = false;
	assert_int_equal(store_get_offset(S, "/b", &dev, &ino, &off, &hit), 0);
	assert_true(hit);
	assert_int_equal(dev, 6);
	assert_int_equal(ino, 7);
	assert_int_equal(off, 8);
}

/* ---- meta ---- */

static void test_meta_get_set(void **state)
{
	(void)state;
	char *v = (char *)1;
	assert_int_equal(store_meta_get(S, "jwt_secret", &v), 0);
	assert_null(v);
	assert_int_equal(store_meta_set(S, "jwt_secret", "abc"), 0);
	assert_int_equal(store_meta_get(S, "jwt_secret", &v), 0);
	assert_string_equal(v, "abc");
	free(v);
	assert_int_equal(store_meta_set(S, "jwt_secret", "def"), 0);
	assert_int_equal(store_meta_set(S, "other", ""), 0);
	reopen();
	assert_int_equal(store_meta_get(S, "jwt_secret", &v), 0);
	assert_string_equal(v, "def");
	free(v);
	assert_int_equal(store_meta_get(S, "other", &v), 0);
	assert_string_equal(v, "");
	free(v);
}

/* ---- API keys ---- */

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

static void test_keys_add_find_revoke(void **state)
{
	(void)state;
	int64_t id1 = 0, id2 = 0;
	assert_int_equal(store_key_add(S, "agent-1", H1, &id1), 0);
	assert_int_equal(store_key_add(S, "agent-2", H2, &id2), 0);
	assert_true(id1 > 0);
	assert_true(id2 > id1);

	struct api_key_info info;
	bool hit = false;
	assert_int_equal(store_key_find(S, H2, &info, &hit), 0);
	assert_true(hit);
	assert_int_equal(info.id, id2);
	assert_string_equal(info.name, "agent-2");
	assert_false(info.revoked);

	assert_int_equal(store_key_revoke(S, id2), 0);
	assert_int_equal(store_key_find(S, H2, &info, &hit), 0);
	assert_true(hit);
	assert_true(info.revoked);
	assert_int_equal(store_key_find(S, H1, &info, &hit), 0);
	assert_true(hit);
	assert_false(info.revoked);

	assert_int_equal(store_key_find(S, "00", &info, &hit), 0);
	assert_false(hit);
	assert_int_equal(store_key_revoke(S, id2 + 100), SIEM_ENOTFOUND);
}

static void test_keys_list(void **state)
{
	(void)state;
	int64_t id1 = 0, id2 = 0;
	assert_int_equal(store_key_add(S, "agent-1", H1, &id1), 0);
	assert_int_equal(store_key_add(S, "agent-2", H2, &id2), 0);
	assert_int_equal(store_key_revoke(S, id1), 0);
	assert_int_equal(store_key_touch(S, id2, NOW), 0);
	json_t *a = json_array();
	assert_int_equal(store_key_list(S, a), 0);
	assert_int_equal(json_array_size(a), 2);
	json_t *k1 = json_array_get(a, 0), *k2 = json_array_get(a, 1);
	assert_int_equal(json_integer_value(json_object_get(k1, "id")), id1);
	assert_string_equal(json_string_value(json_object_get(k1, "name")), "agent-1");
	assert_true(json_is_true(json_object_get(k1, "revoked")));
	assert_true(json_is_null(json_object_get(k1, "last_seen")));
	assert_int_equal(json_integer_value(json_object_get(k2, "id")), id2);
	assert_string_equal(json_string_value(json_object_get(k2, "name")), "agent-2");
	assert_true(json_is_false(json_object_get(k2, "revoked")));
	assert_string_equal(json_string_value(json_object_get(k2, "last_seen")),
			    "2024-03-15T12:34:56.000000Z");
	assert_true(json_is_string(json_object_get(k2, "created_at")));
	assert_null(json_object_get(k1, "hash")); /* the hash is never listed */
	json_decref(a);
}

static void test_key_same_hash_twice_fails(void **state)
{
	(void)state;
	int64_t id = 0;
	assert_int_equal(store_key_add(S, "a", H1, &id), 0);
	assert_true(store_key_add(S, "b", H1, &id) < 0);
	json_t *a = json_array();
	assert_int_equal(store_key_list(S, a), 0);
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
}

/* ---- reopen, sequence numbers ---- */

/* seq of the newest event (needs two or more events). */
static int64_t newest_seq(void)
{
	struct event_query q;
	qinit(&q);
	q.limit = 1;
	json_t *a = json_array();
	bool more = false;
	int64_t nts = 0, nseq = 0;
	assert_int_equal(store_query_events(S, &q, a, &more, &nts, &nseq), 0);
	assert_true(more);
	json_decref(a);
	return nseq;
}

static void test_reopen_sees_everything(void **state)
{
	(void)state;
	put_many(0, 120, 10, ts_distinct);
	assert_int_equal(store_key_add(S, "k", H1, NULL), 0);
	reopen();
	struct store_stats st;
	store_stats(S, &st);
	assert_int_equal(st.events, 120);
	assert_int_equal(st.segments, 3);
	check_pages(120, 13, ts_distinct);
	check_distinct(DISTINCT_EVENT_TYPE, NULL, "[{\"value\":\"TICK\",\"count\":120}]");
	struct api_key_info info;
	bool hit = false;
	assert_int_equal(store_key_find(S, H1, &info, &hit), 0);
	assert_true(hit);
}

static void test_reopen_seq_continues(void **state)
{
	(void)state;
	put_many(0, 20, 10, ts_distinct);
	int64_t before = newest_seq();
	assert_int_equal(before, 20);
	reopen();
	put_many(20, 1, 1, ts_distinct);
	assert_int_equal(newest_seq(), before + 1);
	/* The new event is a new row, not an overwrite of an old seq. */
	struct store_stats st;
	store_stats(S, &st);
	assert_int_equal(st.events, 21);
	check_pages(21, 4, ts_distinct);
}

static void test_reopen_seq_continues_after_empty_segment(void **state)
{
	(void)state;
	put_many(0, SEG_ROWS, 10, ts_distinct);
	/* An empty transaction starts segment 2, which stays empty. */
	assert_int_equal(store_begin(S), 0);
	assert_int_equal(store_commit(S), 0);
	struct store_stats st;
	store_stats(S, &st);
	assert_int_equal(st.segments, 2);
	reopen();
	put_many(SEG_ROWS, 1, 1, ts_distinct);
	assert_int_equal(newest_seq(), SEG_ROWS + 1);
	check_pages(SEG_ROWS + 1, 9, ts_distinct);
}

static void test_seq_not_reused_after_rollback(void **state)
{
	(void)state;
	put_many(0, 3, 3, ts_distinct);
	struct event ev;
	bool dup;
	mk_plain(&ev, 3, ts_distinct(3));
	assert_int_equal(store_begin(S), 0);
	assert_int_equal(store_append(S, &ev, &dup), 0);
	store_rollback(S);
	put_many(3, 2, 2, ts_distinct); /* event 3 again, and 4 */
	assert_true(newest_seq() > 4);
	check_pages(5, 1, ts_distinct);
}

/* ---- odd content ---- */

static void test_nul_bytes_round_trip(void **state)
{
	(void)state;
	struct event ev;
	mk(&ev, 1, T(1),
	   "{\"event_type\":\"E\\u0000T\",\"app\":\"a\\u0000b\",\"user\":\"u\\u0000v\","
	   "\"message\":\"before\\u0000after\",\"raw_message\":\"raw\\u0000line\","
	   "\"data\":{\"k\":\"x\\u0000y\"}}");
	put1(&ev, NULL);
	json_t *e = NULL;
	assert_int_equal(store_get_event(S, ev.id, &e), 0);
	json_t *m = json_object_get(e, "message");
	assert_int_equal(json_string_length(m), 12);
	assert_memory_equal(json_string_value(m), "before\0after", 12);
	m = json_object_get(e, "raw_message");
	assert_int_equal(json_string_length(m), 8);
	assert_memory_equal(json_string_value(m), "raw\0line", 8);
	m = json_object_get(e, "user");
	assert_int_equal(json_string_length(m), 3);
	assert_memory_equal(json_string_value(m), "u\0v", 3);
	m = json_object_get(e, "event_type");
	assert_int_equal(json_string_length(m), 3);
	assert_memory_equal(json_string_value(m), "E\0T", 3);
	m = json_object_get(json_object_get(e, "data"), "k");
	assert_int_equal(json_string_length(m), 3);
	assert_memory_equal(json_string_value(m), "x\0y", 3);
	json_decref(e);

	json_t *a = json_array();
	assert_int_equal(store_distinct(S, DISTINCT_APP, NULL, a), 0);
	assert_int_equal(json_array_size(a), 1);
	m = json_object_get(json_array_get(a, 0), "value");
	assert_int_equal(json_string_length(m), 3);
	assert_memory_equal(json_string_value(m), "a\0b", 3);
	json_decref(a);
	assert_string_equal(search("after"), "1");
}

/* ---- the ingest key, and segments from before it ---- */

static void check_key(int n, const char *name, int64_t id)
{
	uint8_t eid[16];
	json_t *e = NULL;
	id_of(n, eid);
	assert_int_equal(store_get_event(S, eid, &e), 0);
	json_t *k = json_object_get(e, "ingest_key");
	if (!name) {
		assert_null(k);
	} else {
		assert_string_equal(json_string_value(json_object_get(k, "name")), name);
		json_t *jid = json_object_get(k, "id");
		if (id)
			assert_int_equal(json_integer_value(jid), id);
		else
			assert_true(json_is_null(jid));
	}
	json_decref(e);
}

static void test_ingest_key_stored(void **state)
{
	(void)state;
	struct event ev[3];
	mk(&ev[0], 1, T(1), "{\"event_type\": \"A\", \"source\": \"http:other\"}");
	ev[0].ingest_key = (struct sv){"agent-one", 9};
	ev[0].ingest_key_id = 7;
	mk(&ev[1], 2, T(2), "{\"event_type\": \"B\"}");
	ev[1].ingest_key = (struct sv){"env", 3};
	mk(&ev[2], 3, T(3), "{\"event_type\": \"C\"}");
	put(ev, 3, NULL);
	check_key(1, "agent-one", 7);
	check_key(2, "env", 0);
	check_key(3, NULL, 0);

	/* The list view carries it too. */
	struct event_query q;
	qinit(&q);
	json_t *a = json_array();
	bool more = false;
	int64_t nts = 0, nseq = 0;
	assert_int_equal(store_query_events(S, &q, a, &more, &nts, &nseq), 0);
	assert_int_equal(json_array_size(a), 3);
	json_t *k = json_object_get(json_array_get(a, 2), "ingest_key"); /* event 1, oldest */
	assert_string_equal(json_string_value(json_object_get(k, "name")), "agent-one");
	assert_int_equal(json_integer_value(json_object_get(k, "id")), 7);
	assert_null(json_object_get(json_array_get(a, 0), "ingest_key"));
	json_decref(a);
}

/* Run sql on every segment file of the (closed) store. */
static void each_segment(const char *sql)
{
	char path[256];
	int done = 0;
	for (int id = 1; id < 100; id++) {
		snprintf(path, sizeof(path), "%s-segments/seg-%08d.db", DBPATH, id);
		if (access(path, F_OK) < 0)
			continue;
		sqlite3 *db = NULL;
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		/* a checkpoint of the closed store may still be ending */
		sqlite3_busy_timeout(db, 10000);
		char *msg = NULL;
		if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
			fail_msg("%s: %s: %s", path, sql, msg ? msg : "?");
		sqlite3_close(db);
		done++;
	}
	assert_true(done > 0);
}

static int segment_user_version(int id)
{
	char path[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(path, sizeof(path), "%s-segments/seg-%08d.db", DBPATH, id);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* What a segment made before enrichment lacks (segment migration 2 -> 3). */
#define DROP_ENRICHMENT                                                                       \
	"DROP INDEX IF EXISTS events_country; ALTER TABLE events DROP COLUMN geo_country; "   \
	"ALTER TABLE events DROP COLUMN "                                                     \
	"geo_country_name; ALTER TABLE events DROP COLUMN geo_city; ALTER TABLE events DROP " \
	"COLUMN geo_lat; ALTER TABLE events DROP COLUMN geo_lon; ALTER TABLE events DROP "    \
	"COLUMN geo_asn; ALTER TABLE events DROP COLUMN geo_as_org; ALTER TABLE events DROP " \
	"COLUMN tags; ALTER TABLE events DROP COLUMN rdns;"

static void test_old_segments_migrated_on_open(void **state)
{
	(void)state;
	put_many(0, 120, 10, ts_distinct); /* three segments, two sealed */
	store_close(S);
	S = NULL;
	for (int id = 1; id <= 3; id++)
		assert_int_equal(segment_user_version(id), segment_version);
	/* What a version without the ingest key wrote. */
	each_segment("ALTER TABLE events DROP COLUMN ingest_key;"
		     "ALTER TABLE events DROP COLUMN ingest_key_id;" DROP_ENRICHMENT
		     "PRAGMA user_version=0;");
	open_store();
	for (int id = 1; id <= 3; id++)
		assert_int_equal(segment_user_version(id), segment_version);
	check_pages(120, 13, ts_distinct);
	check_key(3, NULL, 0);
	check_key(119, NULL, 0);
	struct event ev;
	mk_plain(&ev, 120, ts_distinct(120));
	ev.ingest_key = (struct sv){"k", 1};
	ev.ingest_key_id = 3;
	put1(&ev, NULL);
	check_key(120, "k", 3);
	reopen();
	check_key(120, "k", 3);
	check_pages(121, 50, ts_distinct);
}

/* The stored format: a new segment's events table, text and columns, is what every version
 * wrote (a store written by one version is read by the next and the one before). */
static void test_segment_events_table_format(void **state)
{
	(void)state;
	static const char want_sql[] =
	    "CREATE TABLE events(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, id BLOB NOT NULL,"
	    " received_at INTEGER NOT NULL, host TEXT, os_type TEXT, event_type TEXT,"
	    " severity INTEGER, level TEXT, ip BLOB, user TEXT, app TEXT, message TEXT, raw TEXT,"
	    " request_id TEXT, user_agent TEXT, http_method TEXT, http_path TEXT,"
	    " http_status INTEGER, latency_ms REAL, error_type TEXT, data TEXT, source TEXT,"
	    " source_file TEXT, source_offset INTEGER, flags INTEGER NOT NULL, ingest_key TEXT,"
	    " ingest_key_id INTEGER, geo_country TEXT, geo_country_name TEXT, geo_city TEXT,"
	    " geo_lat REAL, geo_lon REAL, geo_asn INTEGER, geo_as_org TEXT, tags TEXT, rdns TEXT)";
	static const char want_cols[] =
	    "0 seq INTEGER 0 1|1 ts INTEGER 1 0|2 id BLOB 1 0|3 received_at INTEGER 1 0|"
	    "4 host TEXT 0 0|5 os_type TEXT 0 0|6 event_type TEXT 0 0|7 severity INTEGER 0 0|"
	    "8 level TEXT 0 0|9 ip BLOB 0 0|10 user TEXT 0 0|11 app TEXT 0 0|"
	    "12 message TEXT 0 0|13 raw TEXT 0 0|14 request_id TEXT 0 0|15 user_agent TEXT 0 0|"
	    "16 http_method TEXT 0 0|17 http_path TEXT 0 0|18 http_status INTEGER 0 0|"
	    "19 latency_ms REAL 0 0|20 error_type TEXT 0 0|21 data TEXT 0 0|22 source TEXT 0 0|"
	    "23 source_file TEXT 0 0|24 source_offset INTEGER 0 0|25 flags INTEGER 1 0|"
	    "26 ingest_key TEXT 0 0|27 ingest_key_id INTEGER 0 0|28 geo_country TEXT 0 0|"
	    "29 geo_country_name TEXT 0 0|30 geo_city TEXT 0 0|31 geo_lat REAL 0 0|"
	    "32 geo_lon REAL 0 0|33 geo_asn INTEGER 0 0|34 geo_as_org TEXT 0 0|35 tags TEXT 0 0|"
	    "36 rdns TEXT 0 0|";
	put_many(0, 5, 5, ts_distinct);
	store_close(S);
	S = NULL;
	char path[256], cols[2048] = "";
	snprintf(path, sizeof(path), "%s-segments/seg-%08d.db", DBPATH, 1);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name='events'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), want_sql);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA table_info(events)", -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		size_t n = strlen(cols);
		snprintf(cols + n, sizeof(cols) - n, "%d %s %s %d %d|", sqlite3_column_int(st, 0),
			 (const char *)sqlite3_column_text(st, 1),
			 (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
			 sqlite3_column_int(st, 5));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_string_equal(cols, want_cols);
	open_store();
}

static void test_newer_segment_refused(void **state)
{
	(void)state;
	put_many(0, 5, 5, ts_distinct);
	store_close(S);
	S = NULL;
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", segment_version + 1);
	each_segment(sql);
	struct store_config c;
	store_config_defaults(&c);
	c.dir = DBPATH;
	assert_int_equal(store_open(&S, &c), SIEM_ESQL);
	assert_null(S);
}

/* ---- stats ---- */

static void test_stats_counts(void **state)
{
	(void)state;
	struct store_stats st;
	assert_int_equal(store_stats(S, &st), 0);
	assert_int_equal(st.events, 0);
	assert_int_equal(st.segments, 1);
	int64_t t0 = ts_now_us();
	put_many(0, 120, 10, ts_distinct);
	int64_t t1 = ts_now_us();
	assert_int_equal(store_stats(S, &st), 0);
	assert_int_equal(st.events, 120);
	assert_int_equal(st.segments, 3);
	assert_true(st.last_commit_us >= t0 && st.last_commit_us <= t1);
}

#define TS(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TS(test_query_newest_first),
	    TS(test_query_empty_store),
	    TS(test_list_view_fields),
	    TS(test_filter_event_type),
	    TS(test_filter_app),
	    TS(test_filter_level),
	    TS(test_filter_level_stored_in_any_case),
	    TS(test_filter_os_type),
	    TS(test_filter_source_host),
	    TS(test_filter_user),
	    TS(test_filter_request_id),
	    TS(test_filter_severity_list),
	    TS(test_filter_http_status),
	    TS(test_filter_cidr_v4),
	    TS(test_filter_cidr_v6),
	    TS(test_filter_several_cidrs),
	    TS(test_filter_time_bounds_inclusive),
	    TS(test_filters_combine_with_and),
	    TS(test_filter_many_values),
	    TS(test_search_word),
	    TS(test_search_prefix),
	    TS(test_search_case_insensitive),
	    TS(test_search_all_words),
	    TS(test_search_ip_and_path),
	    TS(test_search_raw_message),
	    TS(test_search_no_match),
	    TS(test_search_empty_query_matches_all),
	    TS(test_search_fts_syntax_is_literal),
	    TS(test_search_non_ascii_punctuation),
	    TS(test_pages_across_segments),
	    TS(test_pages_with_equal_timestamps),
	    TS(test_pages_with_late_events),
	    TS(test_next_cursor_names_last_event),
	    TS(test_pages_with_filter_and_search),
	    TS(test_count_filters),
	    TS(test_count_bound),
	    TS(test_count_filter_and_search_across_segments),
	    TS(test_dup_in_same_transaction),
	    TS(test_dup_across_transactions),
	    TS(test_dup_in_sealed_segment),
	    TS(test_dup_of_late_event_in_later_segment),
	    TS(test_dup_without_timestamp_within_a_day),
	    TS(test_rollback_leaves_nothing),
	    TS(test_get_event_full),
	    TS(test_get_event_in_sealed_segment),
	    TS(test_get_event_unknown),
	    TS(test_distinct_apps),
	    TS(test_distinct_hosts),
	    TS(test_distinct_event_types),
	    TS(test_distinct_event_types_per_app),
	    TS(test_distinct_counts_across_segments),
	    TS(test_distinct_ignores_duplicates_and_rollbacks),
	    TS(test_distinct_many_values_in_one_transaction),
	    TS(test_offset_commits_with_events),
	    TS(test_offset_rollback_keeps_old),
	    TS(test_offset_unknown_path),
	    TS(test_offsets_survive_reopen),
	    TS(test_meta_get_set),
	    TS(test_keys_add_find_revoke),
	    TS(test_keys_list),
	    TS(test_key_same_hash_twice_fails),
	    TS(test_reopen_sees_everything),
	    TS(test_reopen_seq_continues),
	    TS(test_reopen_seq_continues_after_empty_segment),
	    TS(test_seq_not_reused_after_rollback),
	    TS(test_nul_bytes_round_trip),
	    TS(test_ingest_key_stored),
	    TS(test_old_segments_migrated_on_open),
	    TS(test_newer_segment_refused),
	    TS(test_segment_events_table_format),
	    TS(test_stats_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
