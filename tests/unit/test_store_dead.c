/* test_store_dead.c — the embedded store's dead letters as a replay uses them: ids made of
 * the segment and the row, stable across a reopen and never given again once removed; read
 * whole by ids or by source, reason and time, within a count and a byte budget; removed or
 * given a new reason in the segment that holds each. */
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

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "store/store.h"

#define SEG_ROWS 5
#define NOW 1710506096000000LL /* 2024-03-15T12:34:56Z */

static char DIRPATH[64];
static char DBPATH[128];
static struct store *S;

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
	snprintf(DIRPATH, sizeof(DIRPATH), "/tmp/test_store_dead.XXXXXX");
	if (!mkdtemp(DIRPATH))
		return -1;
	snprintf(DBPATH, sizeof(DBPATH), "%s/store", DIRPATH);
	open_store();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	store_close(S);
	S = NULL;
	test_rm_tree(DIRPATH);
	return 0;
}

static void dead(const char *source, const char *reason, const char *raw, int64_t ts)
{
	assert_int_equal(store_begin(S), 0);
	assert_int_equal(store_add_dead_letter(S, source, source[0] == 't' ? "/l/a.jsonl" : NULL,
					       source[0] == 't' ? 10 : -1, reason, raw, strlen(raw),
					       ts),
			 0);
	assert_int_equal(store_commit(S), 0);
}

/* SEG_ROWS events: the next transaction starts a new segment. */
static void fill_segment(int base)
{
	assert_int_equal(store_begin(S), 0);
	for (int i = 0; i < SEG_ROWS; i++) {
		struct event ev;
		memset(&ev, 0, sizeof(ev));
		char id[40];
		snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", base + i);
		assert_int_equal(uuid_parse(id, 36, ev.id), 0);
		ev.ts = ev.received_at = NOW;
		ev.event_type = (struct sv){"TICK", 4};
		ev.message = (struct sv){"tick", 4};
		bool dup = true;
		assert_int_equal(store_append(S, &ev, &dup), 0);
	}
	assert_int_equal(store_commit(S), 0);
}

/* The ids GET /dead-letters lists, newest first, into ids (at most n); how many. */
static size_t listed(int64_t *ids, size_t n, json_t **keep)
{
	json_t *a = json_array();
	assert_int_equal(store_list_dead_letters(S, 100, a), 0);
	size_t k = json_array_size(a);
	for (size_t i = 0; i < k && i < n; i++)
		ids[i] = json_integer_value(json_object_get(json_array_get(a, i), "id"));
	if (keep)
		*keep = a;
	else
		json_decref(a);
	return k;
}

static struct dead_filter all(void)
{
	return (struct dead_filter){
	    .from = INT64_MIN, .to = INT64_MAX, .limit = 100, .max_bytes = 1 << 20};
}

static void test_ids_span_segments_and_survive_a_reopen(void **state)
{
	(void)state;
	dead("tail", "line longer than 8 bytes", "{\"a\":\"long line\"}", NOW);
	dead("syslog_udp", "empty line", " ", NOW + 1);
	fill_segment(1);
	dead("tail", "malformed JSON at column 1", "not json", NOW + 2);
	int64_t ids[3];
	assert_int_equal(listed(ids, 3, NULL), 3);
	/* newest first: the second segment's, then the first's, its newest first */
	assert_int_equal(ids[0] >> 32, 2);
	assert_int_equal(ids[1] >> 32, 1);
	assert_int_equal(ids[2] >> 32, 1);
	assert_true(ids[1] > ids[2]);
	store_close(S);
	open_store();
	int64_t again[3];
	assert_int_equal(listed(again, 3, NULL), 3);
	assert_memory_equal(ids, again, sizeof(ids));
}

static void test_read_by_ids_and_by_filter(void **state)
{
	(void)state;
	dead("tail", "line longer than 8 bytes", "{\"a\":\"long line\"}", NOW);
	dead("syslog_udp", "empty line", " ", NOW + 1);
	fill_segment(1);
	dead("tail", "malformed JSON at column 1", "not json", NOW + 2);
	int64_t ids[3];
	listed(ids, 3, NULL);

	struct dead_letter *d = NULL;
	size_t n = 0;
	bool more = true;
	int64_t want[] = {ids[2], ids[0], (INT64_C(1) << 32) | 999, (INT64_C(77) << 32) | 1};
	struct dead_filter f = all();
	f.ids = want;
	f.n_ids = 4;
	assert_int_equal(store_read_dead_letters(S, &f, &d, &n, &more), 0);
	assert_int_equal(n, 2); /* ids no longer (or never) there are left out */
	assert_false(more);
	assert_int_equal(d[0].id, ids[0]);
	assert_string_equal(d[0].raw, "not json");
	assert_int_equal(d[0].raw_n, 8);
	assert_string_equal(d[0].file, "/l/a.jsonl");
	assert_int_equal(d[0].offset, 10);
	assert_int_equal(d[1].id, ids[2]);
	assert_string_equal(d[1].reason, "line longer than 8 bytes");
	store_dead_letters_free(d, n);

	f = all();
	f.source = "tail";
	assert_int_equal(store_read_dead_letters(S, &f, &d, &n, &more), 0);
	assert_int_equal(n, 2);
	store_dead_letters_free(d, n);
	f.reason = "longer than";
	assert_int_equal(store_read_dead_letters(S, &f, &d, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].id, ids[2]);
	store_dead_letters_free(d, n);
	f = all();
	f.from = NOW + 1;
	f.to = NOW + 1;
	assert_int_equal(store_read_dead_letters(S, &f, &d, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].source, "syslog_udp");
	assert_null(d[0].file);
	assert_int_equal(d[0].offset, -1);
	store_dead_letters_free(d, n);

	/* the count and the byte budget stop the read, and say more matched */
	f = all();
	f.limit = 2;
	assert_int_equal(store_read_dead_letters(S, &f, &d, &n, &more), 0);
	assert_int_equal(n, 2);
	assert_true(more);
	store_dead_letters_free(d, n);
	f = all();
	f.max_bytes = 8; /* "not json" fits, the next (one byte) does not */
	assert_int_equal(store_read_dead_letters(S, &f, &d, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_true(more);
	store_dead_letters_free(d, n);
	f.max_bytes = 1; /* one record is read whatever its size */
	assert_int_equal(store_read_dead_letters(S, &f, &d, &n, &more), 0);
	assert_int_equal(n, 1);
	store_dead_letters_free(d, n);
}

static void test_settled_in_place_and_never_reused(void **state)
{
	(void)state;
	dead("tail", "line longer than 8 bytes", "{\"a\":\"long line\"}", NOW);
	dead("syslog_udp", "empty line", " ", NOW + 1);
	fill_segment(1);
	dead("tail", "malformed JSON at column 1", "not json", NOW + 2);
	int64_t ids[3];
	listed(ids, 3, NULL);
	struct dead_settle v[] = {{ids[2], NULL},
				  {ids[1], "still empty"},
				  {ids[0], NULL},
				  {(INT64_C(9) << 32) | 1, NULL}};
	assert_int_equal(store_settle_dead_letters(S, v, 4), 0);
	json_t *a = NULL;
	int64_t left[1];
	assert_int_equal(listed(left, 1, &a), 1);
	assert_int_equal(left[0], ids[1]);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "reason")),
			    "still empty");
	json_decref(a);
	/* the active segment's newest row was removed: the next dead letter gets a new id */
	dead("tail", "malformed JSON at column 1", "again", NOW + 3);
	int64_t now[2];
	assert_int_equal(listed(now, 2, NULL), 2);
	assert_int_equal(now[0] >> 32, ids[0] >> 32);
	assert_true(now[0] > ids[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ids_span_segments_and_survive_a_reopen, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_read_by_ids_and_by_filter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_settled_in_place_and_never_reused, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
