/* test_alerts.c — alerting after a hit: suppression with exact counts at the cooldown's edges,
 * the alerts table round trip (also across a restart), status changes, SSE fan-out bounds and
 * resume, and the bounded suppression table. */
#include <ftw.h>
#include <limits.h>
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

#include "alert/alert.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store_alerts.h"

#define SEC 1000000LL
#define T0 1710506096000000LL /* 2024-03-15T12:34:56Z */

static char DIRPATH[64], DBPATH[128];
static struct store *S;

static void open_store(void)
{
	struct store_config c;
	memset(&c, 0, sizeof(c)); /* store_config_defaults leaves state_only unset */
	store_config_defaults(&c);
	c.dir = DBPATH;
	c.cache_mb = 2;
	S = NULL;
	assert_int_equal(store_open(&S, &c), 0);
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_ERROR);
	snprintf(DIRPATH, sizeof(DIRPATH), "/tmp/test_alerts.XXXXXX");
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

static struct alerts *open_alerts(int64_t cooldown_s, size_t max_open, size_t sub_queue,
				  size_t max_subs)
{
	struct alerts *a = NULL;
	struct alerts_config cfg = {.cooldown_s = cooldown_s, .channels_file = NULL};
	struct alerts_tuning t;
	alerts_tuning_defaults(&t);
	t.manual = true;
	if (max_open)
		t.max_open = max_open;
	if (sub_queue)
		t.sub_queue = sub_queue;
	if (max_subs)
		t.max_subs = max_subs;
	assert_int_equal(alerts_open_tuned(&a, S, &cfg, &t), 0);
	return a;
}

static const struct rule_info RULE_A = {
    .id = "6a3f0c1e-0000-4000-8000-00000000000a",
    .title = "Brute force",
    .level = "high",
    .severity = 4,
    .author = "Jane Doe (ACME)",
    .origin = "test",
    .kind = RULE_DETECTION,
    .generates = true,
};
static const struct rule_info RULE_B = {
    .id = "rule-b",
    .title = "Sudo",
    .level = "medium",
    .severity = 3,
    .author = NULL,
    .origin = "test",
    .kind = RULE_DETECTION,
    .generates = true,
};

/* A hit of rule on group at hub time recv_us, by one event numbered n. */
static void hit(struct alerts *a, const struct rule_info *rule, const char *group, int64_t recv_us,
		unsigned n)
{
	struct event ev;
	memset(&ev, 0, sizeof(ev));
	ev.id[0] = (uint8_t)(n >> 8);
	ev.id[1] = (uint8_t)n;
	ev.id[15] = 0x5a;
	ev.ts = recv_us - 5 * SEC;
	ev.received_at = recv_us;
	struct detect_hit h = {.rule = rule,
			       .group_key = group,
			       .first_ts = ev.ts,
			       .last_ts = ev.ts,
			       .count = 1,
			       .n_events = 1,
			       .event_ids = (const uint8_t(*)[16])ev.id,
			       .event = &ev};
	alerts_sink(a, &h);
}

static json_t *all_alerts(void)
{
	struct alert_query q;
	int64_t next = 0;
	memset(&q, 0, sizeof(q));
	q.from = INT64_MIN;
	q.to = INT64_MAX;
	q.limit = 1000;
	json_t *out = json_array();
	assert_int_equal(store_alerts_query(S, &q, out, &next), 0);
	assert_int_equal(next, 0);
	return out; /* newest first */
}

static int64_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}
static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void test_suppression_edges(void **state)
{
	(void)state;
	struct alerts *a = open_alerts(60, 0, 0, 0);
	hit(a, &RULE_A, "source_ip=1.2.3.4", T0, 1);
	hit(a, &RULE_A, "source_ip=1.2.3.4", T0 + 30 * SEC, 2);
	hit(a, &RULE_A, "source_ip=1.2.3.4", T0 + 60 * SEC - 1, 3); /* last instant inside */
	hit(a, &RULE_A, "source_ip=1.2.3.4", T0 + 60 * SEC, 4);	    /* first instant outside */
	hit(a, &RULE_A, "source_ip=5.6.7.8", T0 + 1 * SEC, 5);	    /* another group */
	hit(a, &RULE_B, "source_ip=1.2.3.4", T0 + 2 * SEC, 6);	    /* another rule */
	hit(a, &RULE_A, "source_ip=1.2.3.4", T0 + 119 * SEC, 7);    /* inside the 2nd window */
	hit(a, &RULE_A, "source_ip=1.2.3.4", T0 + 120 * SEC, 8);    /* a 3rd alert */
	assert_int_equal(alerts_flush(a), 0);

	struct alerts_stats st;
	alerts_get_stats(a, &st);
	assert_int_equal(st.hits, 8);
	assert_int_equal(st.raised, 5);
	assert_int_equal(st.suppressed, 3);
	assert_int_equal(st.dropped, 0);

	json_t *v = all_alerts();
	assert_int_equal(json_array_size(v), 5);
	/* ids in creation order: A/1.2.3.4 (3 hits), A/1.2.3.4 (2), A/5.6.7.8, B, A/1.2.3.4 */
	json_t *first = json_array_get(v, 4);
	assert_string_equal(jstr(first, "rule_id"), RULE_A.id);
	assert_string_equal(jstr(first, "group_key"), "source_ip=1.2.3.4");
	assert_int_equal(jint(first, "count"), 3);
	assert_int_equal(jint(first, "suppressed"), 2);
	assert_int_equal(json_array_size(json_object_get(first, "event_ids")), 3);
	assert_string_equal(jstr(first, "rule_author"), "Jane Doe (ACME)");
	assert_string_equal(jstr(first, "rule_level"), "high");
	assert_int_equal(jint(first, "severity"), 4);
	assert_string_equal(jstr(first, "status"), "open");
	assert_string_equal(jstr(first, "first_seen"), "2024-03-15T12:34:51.000000Z");
	assert_string_equal(jstr(first, "last_seen"), "2024-03-15T12:35:50.999999Z");
	json_t *second = json_array_get(v, 3);
	assert_int_equal(jint(second, "count"), 2);
	assert_string_equal(jstr(json_array_get(v, 2), "group_key"), "source_ip=5.6.7.8");
	assert_string_equal(jstr(json_array_get(v, 1), "rule_id"), "rule-b");
	assert_true(json_is_null(json_object_get(json_array_get(v, 1), "rule_author")));
	assert_int_equal(jint(json_array_get(v, 0), "count"), 1);
	json_decref(v);
	alerts_close(a);
}

static void test_cooldown_zero_and_repeated_ids(void **state)
{
	(void)state;
	struct alerts *a = open_alerts(0, 0, 0, 0);
	hit(a, &RULE_B, "", T0, 1);
	hit(a, &RULE_B, "", T0, 2);
	assert_int_equal(alerts_flush(a), 0);
	json_t *v = all_alerts();
	assert_int_equal(json_array_size(v), 2);
	json_decref(v);
	alerts_close(a);

	/* A correlation's overlapping windows: ids are kept once, at most 100. */
	a = open_alerts(3600, 0, 0, 0);
	uint8_t ids[150][16];
	memset(ids, 0, sizeof(ids));
	for (int i = 0; i < 150; i++)
		ids[i][0] = (uint8_t)i, ids[i][1] = 0x77;
	for (int k = 0; k < 146; k++) {
		struct event ev;
		memset(&ev, 0, sizeof(ev));
		ev.received_at = T0 + k;
		ev.ts = T0 + k;
		struct detect_hit h = {.rule = &RULE_A,
				       .group_key = "user=root",
				       .first_ts = T0,
				       .last_ts = T0 + k,
				       .count = 5,
				       .n_events = 5,
				       .event_ids = (const uint8_t(*)[16])ids[k],
				       .event = &ev};
		alerts_sink(a, &h);
	}
	assert_int_equal(alerts_flush(a), 0);
	v = all_alerts();
	assert_int_equal(json_array_size(v), 3); /* the two above and this one */
	json_t *al = json_array_get(v, 0);
	assert_int_equal(jint(al, "count"), 146);
	assert_int_equal(json_array_size(json_object_get(al, "event_ids")), 100);
	assert_true(json_is_true(json_object_get(al, "event_ids_truncated")));
	json_decref(v);
	alerts_close(a);
}

static void test_round_trip_and_restart(void **state)
{
	(void)state;
	struct alerts *a = open_alerts(600, 0, 0, 0);
	int64_t now = ts_now_us();
	hit(a, &RULE_A, "user=root", now, 1);
	hit(a, &RULE_A, "user=root", now + 1, 2);
	assert_int_equal(alerts_flush(a), 0);
	alerts_close(a);

	store_close(S);
	open_store();
	json_t *got = NULL;
	assert_int_equal(store_alert_get(S, 1, &got), 0);
	assert_non_null(got);
	assert_int_equal(jint(got, "id"), 1);
	assert_int_equal(jint(got, "count"), 2);
	assert_string_equal(jstr(got, "rule_title"), "Brute force");
	assert_string_equal(jstr(got, "rule_author"), "Jane Doe (ACME)");
	json_t *ids = json_object_get(got, "event_ids");
	assert_int_equal(json_array_size(ids), 2);
	assert_string_equal(json_string_value(json_array_get(ids, 0)),
			    "00010000-0000-0000-0000-00000000005a");
	json_decref(got);

	/* After the restart the open alert still absorbs repeats within its window. */
	a = open_alerts(600, 0, 0, 0);
	hit(a, &RULE_A, "user=root", now + 2, 3);
	hit(a, &RULE_A, "user=admin", now + 3, 4);
	assert_int_equal(alerts_flush(a), 0);
	json_t *v = all_alerts();
	assert_int_equal(json_array_size(v), 2);
	assert_int_equal(jint(json_array_get(v, 1), "id"), 1);
	assert_int_equal(jint(json_array_get(v, 1), "count"), 3);
	assert_int_equal(jint(json_array_get(v, 0), "id"), 2);
	/* versions are unique and ordered: 1 (create), 2 (update after restart), 3 (new) */
	assert_int_equal(jint(json_array_get(v, 1), "version"), 2);
	assert_int_equal(jint(json_array_get(v, 0), "version"), 3);
	json_decref(v);
	alerts_close(a);
}

static void test_status_changes(void **state)
{
	(void)state;
	struct alerts *a = open_alerts(600, 0, 0, 0);
	json_t *al = NULL;
	hit(a, &RULE_B, "host=web1", T0, 1);
	assert_int_equal(alerts_flush(a), 0);
	assert_int_equal(alerts_set_status(a, 99, ALERT_ACKNOWLEDGED, "alice", &al),
			 SIEM_ENOTFOUND);
	assert_int_equal(alerts_set_status(a, 1, ALERT_ACKNOWLEDGED, "alice", &al), 0);
	assert_string_equal(jstr(al, "status"), "acknowledged");
	assert_string_equal(jstr(al, "acknowledged_by"), "alice");
	assert_non_null(jstr(al, "acknowledged_at"));
	json_decref(al);
	/* Acknowledged alerts still absorb repeats. */
	hit(a, &RULE_B, "host=web1", T0 + SEC, 2);
	assert_int_equal(alerts_flush(a), 0);
	assert_int_equal(alerts_set_status(a, 1, ALERT_ACKNOWLEDGED, "bob", &al), 0);
	assert_string_equal(jstr(al, "acknowledged_by"), "alice"); /* unchanged */
	assert_int_equal(jint(al, "count"), 2);
	json_decref(al);
	assert_int_equal(alerts_set_status(a, 1, ALERT_CLOSED, "bob", &al), 0);
	assert_string_equal(jstr(al, "status"), "closed");
	assert_string_equal(jstr(al, "closed_by"), "bob");
	json_decref(al);
	assert_int_equal(alerts_set_status(a, 1, ALERT_ACKNOWLEDGED, "carol", &al), -EPERM);
	assert_int_equal(alerts_set_status(a, 1, ALERT_CLOSED, "carol", &al), 0);
	assert_string_equal(jstr(al, "closed_by"), "bob");
	json_decref(al);
	/* A closed alert does not absorb: the next hit opens a new one. */
	hit(a, &RULE_B, "host=web1", T0 + 2 * SEC, 3);
	assert_int_equal(alerts_flush(a), 0);
	json_t *v = all_alerts();
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(jstr(json_array_get(v, 0), "status"), "open");
	assert_int_equal(jint(json_array_get(v, 1), "count"), 2);
	json_decref(v);

	struct alert_query q;
	int64_t next = 0;
	memset(&q, 0, sizeof(q));
	q.from = INT64_MIN;
	q.to = INT64_MAX;
	q.limit = 1;
	q.n_status = 1;
	q.status[0] = ALERT_CLOSED;
	v = json_array();
	assert_int_equal(store_alerts_query(S, &q, v, &next), 0);
	assert_int_equal(json_array_size(v), 1);
	assert_int_equal(jint(json_array_get(v, 0), "id"), 1);
	json_decref(v);
	alerts_close(a);
}

static int wakes;
static void count_wake(void *arg)
{
	(void)arg;
	wakes++;
}

static void test_fanout_bounds_and_replay(void **state)
{
	(void)state;
	struct alerts *a = open_alerts(600, 0, 4, 2);
	struct alerts_sub *slow = NULL, *fast = NULL, *third = NULL;
	struct alerts_msg *m = NULL;
	size_t n = 0;
	assert_int_equal(alerts_subscribe(a, count_wake, NULL, &slow), 0);
	assert_int_equal(alerts_subscribe(a, count_wake, NULL, &fast), 0);
	assert_int_equal(alerts_subscribe(a, count_wake, NULL, &third), -EBUSY);
	wakes = 0;
	int fast_got = 0;
	for (unsigned i = 0; i < 10; i++) {
		char group[16];
		snprintf(group, sizeof(group), "g=%u", i);
		hit(a, &RULE_A, group, T0 + i, i);
		assert_int_equal(alerts_flush(a), 0);
		/* the fast one drains as it goes */
		while (alerts_sub_next(fast, &m) == 1) {
			fast_got++;
			assert_int_equal(alerts_msg_rev(m), fast_got);
			alerts_msg_put(m);
		}
	}
	assert_int_equal(fast_got, 10);
	assert_true(wakes >= 10);
	/* the slow one holds the first 4, then is dropped */
	for (int i = 1; i <= 4; i++) {
		assert_int_equal(alerts_sub_next(slow, &m), 1);
		assert_int_equal(alerts_msg_rev(m), i);
		const char *t = alerts_msg_text(m, &n);
		char head[64];
		snprintf(head, sizeof(head), "id: %d-%d\nevent: alert\ndata: {", i, i);
		assert_memory_equal(t, head, strlen(head));
		assert_memory_equal(t + n - 2, "\n\n", 2);
		alerts_msg_put(m);
	}
	assert_int_equal(alerts_sub_next(slow, &m), -1);
	assert_true(alerts_sub_dropped(slow));
	assert_false(alerts_sub_dropped(fast));
	struct alerts_stats st;
	alerts_get_stats(a, &st);
	assert_int_equal(st.sse_dropped, 1);
	assert_int_equal(st.subscribers, 2);
	alerts_unsubscribe(slow);
	/* the dropped client resumes from its last id: everything after version 4 */
	struct alerts_msg **msgs = NULL;
	assert_int_equal(alerts_replay(a, 4, 100, &msgs, &n), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(alerts_msg_rev(msgs[i]), 5 + (int64_t)i);
		alerts_msg_put(msgs[i]);
	}
	free(msgs);
	/* an update carries the alert's id with its new version */
	hit(a, &RULE_A, "g=0", T0 + 20, 99);
	assert_int_equal(alerts_flush(a), 0);
	assert_int_equal(alerts_sub_next(fast, &m), 1);
	assert_int_equal(alerts_msg_rev(m), 11);
	const char *t = alerts_msg_text(m, &n);
	assert_memory_equal(t, "id: 1-11\n", 9);
	alerts_msg_put(m);
	alerts_unsubscribe(fast);
	alerts_close(a);
}

/* Changes written while nobody listens are not sent to a later subscriber (it reads them from
 * the store after its Last-Event-ID); what follows its subscription is, in version order. One
 * write of alerts holding different numbers of events keeps each alert's own ids. */
static void test_unheard_changes(void **state)
{
	(void)state;
	struct alerts *a = open_alerts(600, 0, 0, 0);
	struct alerts_sub *sub = NULL;
	struct alerts_msg *m = NULL;
	size_t n = 0;
	hit(a, &RULE_A, "g=1", T0, 1);
	hit(a, &RULE_A, "g=1", T0 + 1, 2);
	hit(a, &RULE_A, "g=1", T0 + 2, 3);
	hit(a, &RULE_B, "g=2", T0 + 3, 4);
	assert_int_equal(alerts_flush(a), 0); /* versions 1 (three events) and 2 (one) */
	json_t *v = all_alerts();
	assert_int_equal(json_array_size(v), 2);
	json_t *a1 = json_array_get(v, 1), *a2 = json_array_get(v, 0);
	assert_int_equal(jint(a1, "id"), 1);
	assert_int_equal(json_array_size(json_object_get(a1, "event_ids")), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(a1, "event_ids"), 2)),
			    "00030000-0000-0000-0000-00000000005a");
	assert_int_equal(jint(a2, "id"), 2);
	assert_int_equal(json_array_size(json_object_get(a2, "event_ids")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(a2, "event_ids"), 0)),
			    "00040000-0000-0000-0000-00000000005a");
	json_decref(v);
	assert_int_equal(alerts_set_status(a, 2, ALERT_ACKNOWLEDGED, "ann", NULL), 0); /* 3 */
	assert_int_equal(alerts_subscribe(a, count_wake, NULL, &sub), 0);
	assert_int_equal(alerts_sub_next(sub, &m), 0);
	hit(a, &RULE_A, "g=1", T0 + 4, 5);
	assert_int_equal(alerts_flush(a), 0);					 /* 4 */
	assert_int_equal(alerts_set_status(a, 1, ALERT_CLOSED, "ann", NULL), 0); /* 5 */
	for (int64_t rev = 4; rev <= 5; rev++) {
		assert_int_equal(alerts_sub_next(sub, &m), 1);
		assert_int_equal(alerts_msg_rev(m), rev);
		const char *t = alerts_msg_text(m, &n);
		assert_memory_equal(t, "id: 1-", 6);
		alerts_msg_put(m);
	}
	assert_int_equal(alerts_sub_next(sub, &m), 0);
	/* the store has every change, oldest first */
	struct alerts_msg **msgs = NULL;
	assert_int_equal(alerts_replay(a, 0, 100, &msgs, &n), 0);
	assert_int_equal(n, 2); /* the newest version of each alert */
	assert_int_equal(alerts_msg_rev(msgs[0]), 3);
	assert_int_equal(alerts_msg_rev(msgs[1]), 5);
	for (size_t i = 0; i < n; i++)
		alerts_msg_put(msgs[i]);
	free(msgs);
	alerts_unsubscribe(sub);
	alerts_close(a);
}

static void test_table_bounds(void **state)
{
	(void)state;
	struct alerts *a = open_alerts(3600, 16, 0, 0);
	char group[16];
	/* 20 groups with nothing written yet: 16 fit, 4 hits are dropped and counted. */
	for (unsigned i = 0; i < 20; i++) {
		snprintf(group, sizeof(group), "g=%u", i);
		hit(a, &RULE_A, group, T0 + i, i);
	}
	struct alerts_stats st;
	alerts_get_stats(a, &st);
	assert_int_equal(st.raised, 16);
	assert_int_equal(st.dropped, 4);
	assert_int_equal(st.open_tracked, 16);
	assert_int_equal(alerts_flush(a), 0);
	/* Written ones can be forgotten: 4 new groups evict the 4 oldest (counted). */
	for (unsigned i = 20; i < 24; i++) {
		snprintf(group, sizeof(group), "g=%u", i);
		hit(a, &RULE_A, group, T0 + i, i);
	}
	alerts_get_stats(a, &st);
	assert_int_equal(st.raised, 20);
	assert_int_equal(st.evicted, 4);
	assert_int_equal(st.open_tracked, 16);
	/* g=0 was evicted: its next hit opens a new alert; g=10 is still tracked. */
	hit(a, &RULE_A, "g=0", T0 + 30, 30);
	hit(a, &RULE_A, "g=10", T0 + 31, 31);
	alerts_get_stats(a, &st);
	assert_int_equal(st.raised, 21);
	assert_int_equal(st.suppressed, 1);
	assert_int_equal(alerts_flush(a), 0);
	json_t *v = all_alerts();
	assert_int_equal(json_array_size(v), 21);
	json_decref(v);
	alerts_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_suppression_edges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cooldown_zero_and_repeated_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip_and_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fanout_bounds_and_replay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unheard_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_bounds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
