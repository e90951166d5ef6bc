/* test_store_text.c — the embedded store's text search q and its text index: the writer adds
 * the active segment's events to it a chunk at a time as they commit (segment.fts_seq), a
 * search reads what it names and scans the events past it; a rollback, a reopen, a
 * segment made before the index followed the active segment (it catches up), and a word in
 * more events than the index's candidates are read one by one for. */
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
#define CHUNK 4 /* events per chunk of the text index, unless a test sets TEXT_CHUNK */

static char DIRPATH[64];
static char DBPATH[128];
static struct store *S;
static struct arena A;
static int64_t SEG_ROWS = 1000, TEXT_CHUNK = CHUNK;

static void open_store(void)
{
	struct store_config c;
	store_config_defaults(&c);
	c.dir = DBPATH;
	c.segment_rows = SEG_ROWS;
	c.text_chunk = TEXT_CHUNK;
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
	SEG_ROWS = 1000;
	TEXT_CHUNK = CHUNK;
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
	snprintf(json, sizeof(json), "{\"event_type\":\"T\",\"message\":\"Event w%03dx %s\"}", n,
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

/* Events first..first+n-1, committed txn at a time; with rollback the last transaction is
 * rolled back instead. Odd events also say "odd", even ones "pair". */
static void put_many(int first, int n, int txn, bool rollback)
{
	struct event ev;
	for (int i = 0; i < n; i += txn) {
		assert_int_equal(store_begin(S), 0);
		for (int j = i; j < n && j < i + txn; j++) {
			bool dup = true;
			mk(&ev, first + j, (first + j) % 2 ? "odd" : "pair");
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

/* The event numbers q's search returns, newest first ("7,5"), at most limit. */
static const char *search(const char *text, int limit)
{
	static char buf[8192];
	struct event_query q;
	memset(&q, 0, sizeof(q));
	q.from = INT64_MIN;
	q.to = INT64_MAX;
	q.limit = limit;
	q.q = text;
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
	memset(&q, 0, sizeof(q));
	q.from = INT64_MIN;
	q.to = INT64_MAX;
	q.limit = 10;
	q.q = text;
	int64_t n = -1;
	bool exact = false;
	assert_int_equal(store_count_events(S, &q, 1000000, &n, &exact), 0);
	assert_true(exact);
	return n;
}

/* One integer from sql on segment file id (read only, beside the open store). */
static int64_t seg_value(int id, const char *sql)
{
	char path[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(path, sizeof(path), "%s-segments/seg-%08d.db", DBPATH, id);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int64_t fts_seq(int id)
{
	return seg_value(id, "SELECT fts_seq FROM segment");
}

/* The seq of the one event segment id's text index names for trigram t, 0 for none. */
static int64_t fts_names(int id, const char *t)
{
	char sql[128];
	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(max(rowid), 0) FROM events_fts WHERE events_fts MATCH '\"%s\"'",
		 t);
	return seg_value(id, sql);
}

/* Every event 1..n found by its own word, in any case, and by part of it; odd and even. */
static void check_all(int n)
{
	char w[16], want[16];
	for (int i = 1; i <= n; i++) {
		snprintf(want, sizeof(want), "%d", i);
		snprintf(w, sizeof(w), "w%03dx", i);
		assert_string_equal(search(w, 10), want);
		snprintf(w, sizeof(w), "W%03dX", i);
		assert_string_equal(search(w, 10), want);
	}
	assert_int_equal(count("odd"), (n + 1) / 2);
	assert_int_equal(count("PAIR"), n / 2);
	assert_int_equal(count("vent"), n);
	assert_int_equal(count("nowhere"), 0);
}

static void test_active_segment_indexed_by_chunks(void **state)
{
	(void)state;
	put_many(1, 30, 3, false);
	/* Ten commits of three: a chunk of four waits after every second, six go in each time. */
	assert_int_equal(fts_seq(1), 30);
	assert_int_equal(fts_names(1, "007"), 7);
	assert_int_equal(fts_names(1, "030"), 30);
	put_many(31, 1, 1, false); /* one past the index */
	assert_int_equal(fts_seq(1), 30);
	assert_int_equal(fts_names(1, "031"), 0);
	check_all(31);
	assert_string_equal(search("odd", 3), "31,29,27");
	assert_string_equal(search("w03", 100), "31,30");
}

/* A transaction rolled back adds nothing to what waits for the index; its seqs stay unused. */
static void test_rollback_adds_nothing_waiting(void **state)
{
	(void)state;
	put_many(1, 3, 3, false);
	put_many(4, 3, 3, true);
	assert_int_equal(fts_seq(1), 0);
	assert_string_equal(search("w005x", 10), "");
	put_many(7, 1, 1, false); /* 4 waiting */
	assert_int_equal(fts_seq(1), 7);
	assert_string_equal(search("odd", 10), "7,3,1");
	assert_string_equal(search("w00", 10), "7,3,2,1");
}

static void test_reopen_counts_what_waits(void **state)
{
	(void)state;
	put_many(1, 11, 11, false);
	assert_int_equal(fts_seq(1), 11);
	put_many(12, 3, 3, false);
	assert_int_equal(fts_seq(1), 11);
	store_close(S);
	open_store();
	check_all(14);
	put_many(15, 1, 1, false); /* the three from before and this one */
	assert_int_equal(fts_seq(1), 15);
	check_all(15);
}

/* A store written before the active segment had a text index: its events go in a few chunks
 * per commit, found all along. */
static void test_older_active_segment_catches_up(void **state)
{
	(void)state;
	put_many(1, 40, 40, false);
	store_close(S);
	S = NULL;
	char path[256], *msg = NULL;
	sqlite3 *db = NULL;
	snprintf(path, sizeof(path), "%s-segments/seg-%08d.db", DBPATH, 1);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db,
			 "DROP TABLE events_fts; ALTER TABLE segment DROP COLUMN fts_seq;"
			 "PRAGMA user_version=4;",
			 NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s", msg);
	sqlite3_close(db);
	open_store();
	assert_int_equal(fts_seq(1), 0);
	check_all(40);
	put_many(41, 1, 1, false);
	assert_int_equal(fts_seq(1), 4 * CHUNK); /* at most four chunks per commit */
	check_all(41);
	put_many(42, 2, 1, false); /* 26 waiting, then 11 */
	assert_int_equal(fts_seq(1), 43);
	put_many(44, 1, 1, false);
	assert_int_equal(fts_seq(1), 43);
	check_all(44);
}

/* Sealed segments (indexed or not yet: the indexer runs meanwhile) answer the same. */
static void test_search_across_segments(void **state)
{
	(void)state;
	store_close(S);
	SEG_ROWS = 8; /* sealed at 9 events, 3 of them past the index */
	open_store();
	put_many(1, 95, 3, false);
	check_all(95);
	assert_string_equal(search("odd", 4), "95,93,91,89");
	assert_string_equal(search("w02", 100), "29,28,27,26,25,24,23,22,21,20");
}

/* A word in more events than the index's candidates are read one by one for: the segment is
 * read newest first instead, with the same answers. */
static void test_common_word(void **state)
{
	(void)state;
	store_close(S);
	TEXT_CHUNK = 4000;
	open_store();
	put_many(1, 999, 333, false);
	struct event ev;
	assert_int_equal(store_begin(S), 0);
	for (int i = 1000; i <= 11500; i++) {
		bool dup = true;
		mk(&ev, i, "odd");
		assert_int_equal(store_append(S, &ev, &dup), 0);
	}
	assert_int_equal(store_commit(S), 0);
	arena_reset(&A);
	assert_true(fts_seq(1) == 11500); /* all in the index */
	assert_string_equal(search("odd", 3), "11500,11499,11498");
	assert_string_equal(search("w10099x", 3), "10099");
	assert_int_equal(count("odd"), 500 + 10501);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_active_segment_indexed_by_chunks), T(test_rollback_adds_nothing_waiting),
	    T(test_reopen_counts_what_waits),	      T(test_older_active_segment_catches_up),
	    T(test_search_across_segments),	      T(test_common_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
