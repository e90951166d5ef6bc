/* test_store_text.c — the embedded store's text search q on segments without a text index
 * (the active one, sealed ones until indexed), which reads the blocks their in-memory text
 * filter names: the same answers as the exact check over every event, after a rollback and a
 * reopen (the filter is rebuilt from the rows), page by page and within a time range,
 * across sealed segments, and for a word in so many blocks that the segment is read newest
 * first instead. */
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
#include "store/store.h"

#define NOW 1710506096000000LL /* 2024-03-15T12:34:56Z */

static char DIRPATH[64];
static char DBPATH[128];
static struct store *S;
static struct arena A;
static int64_t SEG_ROWS;

static void open_store(void)
{
	struct store_config c;
	store_config_defaults(&c);
	c.dir = DBPATH;
	c.segment_rows = SEG_ROWS;
	c.cache_mb = 2;
	S = NULL;
	assert_int_equal(store_open(&S, &c), 0);
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_WARN);
	snprintf(DIRPATH, sizeof(DIRPATH), "/tmp/test_store_text.XXXXXX");
	if (!mkdtemp(DIRPATH))
		return -1;
	snprintf(DBPATH, sizeof(DBPATH), "%s/store", DIRPATH);
	arena_init(&A, 0);
	SEG_ROWS = 100000;
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

/* Event n: event_id ending in n, timestamp NOW + n s, message "Event w<n>x <extra>". */
static void mk(struct event *ev, int n, const char *extra)
{
	char json[256], err[256], id[40];
	json_error_t je;
	snprintf(json, sizeof(json), "{\"event_type\":\"T\",\"message\":\"Event w%05dx %s\"}", n,
		 extra);
	json_t *j = json_loads(json, 0, &je);
	assert_non_null(j);
	int rc = event_from_json(ev, j, &A, NOW, err, sizeof(err));
	json_decref(j);
	if (rc)
		fail_msg("%s: %s", json, err);
	snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", n);
	assert_int_equal(uuid_parse(id, 36, ev->id), 0);
	ev->flags &= ~(unsigned)(EV_ID_GENERATED | EV_TS_MISSING);
	ev->ts = NOW + (int64_t)n * 1000000;
}

/* Events first..first+n-1 committed txn at a time (the last transaction rolled back with
 * rollback). Odd events say "odd", even ones "pair"; extra (when set) replaces both. */
static void put_many(int first, int n, int txn, bool rollback, const char *extra)
{
	struct event ev;
	for (int i = 0; i < n; i += txn) {
		assert_int_equal(store_begin(S), 0);
		for (int j = i; j < n && j < i + txn; j++) {
			bool dup = true;
			mk(&ev, first + j, extra ? extra : (first + j) % 2 ? "odd" : "pair");
			assert_int_equal(store_append(S, &ev, &dup), 0);
			assert_false(dup);
		}
		if (rollback && i + txn >= n)
			store_rollback(S);
		else
			assert_int_equal(store_commit(S), 0);
		arena_reset(&A);
	}
}

static int num_of(json_t *ev)
{
	const char *id = json_string_value(json_object_get(ev, "event_id"));
	assert_non_null(id);
	return (int)strtol(id + 24, NULL, 10);
}

static void qinit(struct event_query *q, const char *text, int limit)
{
	memset(q, 0, sizeof(*q));
	q->from = INT64_MIN;
	q->to = INT64_MAX;
	q->limit = limit;
	q->q = text;
}

/* The event numbers the search returns, newest first ("7,5"), at most limit. */
static const char *search(const char *text, int limit)
{
	static char buf[8192];
	struct event_query q;
	qinit(&q, text, limit);
	json_t *a = json_array();
	bool more = false;
	int64_t nts = 0, nseq = 0;
	assert_int_equal(store_query_events(S, &q, a, &more, &nts, &nseq), 0);
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

static int64_t count(const char *text)
{
	struct event_query q;
	qinit(&q, text, 10);
	int64_t n = -1;
	bool exact = false;
	assert_int_equal(store_count_events(S, &q, 100000, &n, &exact), 0);
	assert_true(exact);
	return n;
}

/* Events first..last found by their own word (in any case), one in step of them; and the
 * counts of odd and pair among them all. */
static void check_words(int first, int last, int step)
{
	char w[16], want[16];
	for (int i = first; i <= last; i += step) {
		snprintf(want, sizeof(want), "%d", i);
		snprintf(w, sizeof(w), "w%05dx", i);
		assert_string_equal(search(w, 10), want);
		snprintf(w, sizeof(w), "W%05dX", i);
		assert_string_equal(search(w, 10), want);
	}
	int odd = 0;
	for (int i = first; i <= last; i++)
		odd += i % 2;
	assert_int_equal(count("ODD"), odd);
	assert_int_equal(count("pair"), last - first + 1 - odd);
	assert_int_equal(count("nowhere"), 0);
}

static void test_active_segment(void **state)
{
	(void)state;
	put_many(1, 3000, 100, false, NULL);
	check_words(1, 3000, 37);
	assert_string_equal(search("odd", 3), "2999,2997,2995");
	/* Every term, in one event: a block may hold both in different events. */
	assert_string_equal(search("w00010x pair", 10), "10");
	assert_string_equal(search("w00011x pair", 10), "");
	assert_string_equal(search("w0001", 100), "19,18,17,16,15,14,13,12,11,10");
}

/* Pages through the blocks (each page skips what is older than its last event) and a time
 * range: every odd event once, newest first. */
static void test_pages_and_time_range(void **state)
{
	(void)state;
	put_many(1, 3000, 100, false, NULL);
	struct event_query q;
	qinit(&q, "odd", 97);
	int expect = 2999, pages = 0;
	for (;;) {
		json_t *a = json_array();
		bool more = false;
		int64_t nts = 0, nseq = 0;
		assert_int_equal(store_query_events(S, &q, a, &more, &nts, &nseq), 0);
		size_t i;
		json_t *e;
		json_array_foreach (a, i, e) {
			assert_int_equal(num_of(e), expect);
			expect -= 2;
		}
		json_decref(a);
		pages++;
		if (!more)
			break;
		q.has_cursor = true;
		q.cursor_ts = nts;
		q.cursor_seq = nseq;
	}
	assert_int_equal(expect, -1);
	assert_int_equal(pages, 16);
	qinit(&q, "pair", 1000);
	q.from = NOW + 1000 * 1000000LL;
	q.to = NOW + 1010 * 1000000LL;
	int64_t n = 0;
	bool exact = false;
	assert_int_equal(store_count_events(S, &q, 100000, &n, &exact), 0);
	assert_int_equal(n, 6);
	q.limit = 3;
	json_t *a = json_array();
	bool more = false;
	int64_t nts = 0, nseq = 0;
	assert_int_equal(store_query_events(S, &q, a, &more, &nts, &nseq), 0);
	assert_int_equal(json_array_size(a), 3);
	assert_int_equal(num_of(json_array_get(a, 0)), 1010);
	assert_int_equal(num_of(json_array_get(a, 2)), 1006);
	assert_true(more);
	json_decref(a);
}

static void test_rollback_and_reopen(void **state)
{
	(void)state;
	put_many(1, 500, 50, false, NULL);
	put_many(501, 100, 100, true, "rolledback");
	put_many(601, 10, 10, false, "kept");
	assert_int_equal(count("rolledback"), 0);
	assert_string_equal(search("kept", 3), "610,609,608");
	store_close(S);
	open_store();
	assert_string_equal(search("kept", 3), "610,609,608");
	assert_string_equal(search("w00007x", 3), "7");
	assert_int_equal(count("rolledback"), 0);
	assert_int_equal(count("odd"), 250);
}

/* Sealed segments, indexed or not yet (the indexer runs meanwhile), answer the same. */
static void test_sealed_segments(void **state)
{
	(void)state;
	store_close(S);
	SEG_ROWS = 1000;
	open_store();
	put_many(1, 3500, 250, false, NULL);
	check_words(1, 3500, 53);
	assert_string_equal(search("pair", 4), "3500,3498,3496,3494");
}

/* A hub stopped before its sealed segments were indexed: their postings and text filters are
 * built again from their rows (beside the indexing), and every answer is the same meanwhile. */
static void test_sealed_segments_after_restart(void **state)
{
	(void)state;
	store_close(S);
	SEG_ROWS = 1000;
	open_store();
	put_many(1, 3500, 250, false, NULL);
	store_close(S);
	S = NULL;
	for (int id = 1; id <= 3; id++) {
		char path[256], *msg = NULL;
		sqlite3 *db = NULL;
		snprintf(path, sizeof(path), "%s-segments/seg-%08d.db", DBPATH, id);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		sqlite3_busy_timeout(db, 10000);
		if (sqlite3_exec(db, "UPDATE segment SET state = 1", NULL, NULL, &msg) != SQLITE_OK)
			fail_msg("%s", msg);
		sqlite3_close(db);
	}
	open_store();
	check_words(1, 3500, 53);
	put_many(3501, 10, 10, false, "later");
	assert_string_equal(search("later", 2), "3510,3509");
	check_words(1, 3500, 101);
	/* The postings too: a filter by event type reads its events by seq. */
	struct event_query q;
	qinit(&q, NULL, 1000);
	q.event_type.v[q.event_type.n++] = "T";
	q.to = NOW + 2500 * 1000000LL;
	q.from = NOW + 1001 * 1000000LL;
	int64_t n = 0;
	bool exact = false;
	assert_int_equal(store_count_events(S, &q, 100000, &n, &exact), 0);
	assert_int_equal(n, 1500);
}

/* A word in more blocks than are read one by one: the segment is read newest first. */
static void test_common_word(void **state)
{
	(void)state;
	put_many(1, 40000, 5000, false, "common");
	assert_string_equal(search("common", 3), "40000,39999,39998");
	assert_string_equal(search("w39990x common", 3), "39990");
	assert_int_equal(count("common"), 40000);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_active_segment),
	    T(test_pages_and_time_range),
	    T(test_rollback_and_reopen),
	    T(test_sealed_segments),
	    T(test_sealed_segments_after_restart),
	    T(test_common_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
