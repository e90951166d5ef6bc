/* test_correlate.c — correlations through the detector: hits at count and time edges, out of
 * order, every type, chains, aliases, bounded groups, swaps, a restart mid-window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/err.h"
#include "core/event.h"
#include "detect/detect.h"

#define T0 1740823200000000LL /* 2025-03-01T10:00:00Z */
#define SEC 1000000LL
#define MAXHITS 64

struct hit {
	char rule[64], key[256];
	int64_t first, last, count;
	size_t nids;
	int ids[8]; /* event numbers behind the hit (from their ids) */
	int event;  /* the event that completed it */
};

static struct detector *D;
static struct arena A;
static struct hit H[MAXHITS];
static int NH;
static int EVNO;
static char STATE[256];

static int id_no(const uint8_t id[16])
{
	return id[14] << 8 | id[15];
}

static void sink(void *ctx, const struct detect_hit *h)
{
	(void)ctx;
	assert_true(NH < MAXHITS);
	struct hit *x = &H[NH++];
	memset(x, 0, sizeof(*x));
	snprintf(x->rule, sizeof(x->rule), "%s", h->rule->id);
	snprintf(x->key, sizeof(x->key), "%s", h->group_key);
	x->first = h->first_ts;
	x->last = h->last_ts;
	x->count = h->count;
	x->nids = h->n_events;
	for (size_t i = 0; i < h->n_events && i < 8; i++)
		x->ids[i] = id_no(h->event_ids[i]);
	x->event = id_no(h->event->id);
}

static void open_detector(size_t max_groups)
{
	struct detector_config cfg = {STATE[0] ? STATE : NULL, max_groups};
	assert_int_equal(detector_open(&D, &cfg), 0);
}

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	NH = 0;
	EVNO = 0;
	STATE[0] = '\0';
	D = NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	detector_close(D);
	D = NULL;
	arena_release(&A);
	if (STATE[0]) {
		unlink(STATE);
		char tmp[300];
		snprintf(tmp, sizeof(tmp), "%s.tmp", STATE);
		unlink(tmp);
	}
	return 0;
}

static int load_rules(const char *yaml, char *err, size_t errlen)
{
	struct rule **r;
	size_t n;
	int rc = rule_compile(yaml, strlen(yaml), "test", &r, &n, err, errlen);
	if (rc)
		fail_msg("compile: %s", err);
	return detector_set_rules(D, r, n, err, errlen);
}

static void rules(const char *yaml)
{
	char err[512];
	if (load_rules(yaml, err, sizeof(err)))
		fail_msg("set_rules: %s", err);
}

/* Event number EVNO+1 at T0 + ms milliseconds; extra is a JSON object body. */
static int feed(int64_t ms, const char *extra)
{
	char js[1024], ts[32];
	int no = ++EVNO;
	ts_format(T0 + ms * 1000, ts);
	snprintf(js, sizeof(js),
		 "{\"event_id\":\"00000000-0000-4000-8000-00000000%04x\",\"timestamp\":\"%s\",%s}",
		 no, ts, extra);
	json_error_t je;
	json_t *j = json_loads(js, 0, &je);
	if (!j)
		fail_msg("bad JSON %s: %s", js, je.text);
	struct event ev;
	char err[256];
	arena_reset(&A);
	if (event_from_json(&ev, j, &A, T0 + 3600 * SEC, err, sizeof(err)))
		fail_msg("%s: %s", js, err);
	json_decref(j);
	detector_eval(D, &ev, sink, NULL);
	return no;
}

static int fail_from(int64_t ms, const char *ip, const char *user)
{
	char b[256];
	snprintf(b, sizeof(b), "\"event_type\":\"LOGIN_FAIL\",\"source_ip\":\"%s\",\"user\":\"%s\"",
		 ip, user);
	return feed(ms, b);
}

static const char *COUNT5 =
    "title: bf\nid: bf\ncorrelation:\n  type: event_count\n  rules: [fail]\n"
    "  group-by: [source_ip]\n  timespan: 5m\n  condition:\n    gte: 5\nlevel: high\n---\n"
    "title: f\nname: fail\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
    "    event_type: LOGIN_FAIL\n  condition: s\n";

static void test_event_count_thresholds(void **state)
{
	(void)state;
	open_detector(0);
	rules(COUNT5);
	for (int i = 0; i < 4; i++)
		fail_from(i * 1000, "10.0.0.1", "root");
	assert_int_equal(NH, 0); /* just below */
	int e5 = fail_from(4000, "10.0.0.1", "root");
	assert_int_equal(NH, 1); /* at */
	assert_string_equal(H[0].rule, "bf");
	assert_string_equal(H[0].key, "source_ip=10.0.0.1");
	assert_int_equal(H[0].count, 5);
	assert_int_equal(H[0].first, T0);
	assert_int_equal(H[0].last, T0 + 4 * SEC);
	assert_int_equal(H[0].event, e5);
	assert_int_equal(H[0].nids, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(H[0].ids[i], i + 1); /* oldest first */
	/* above: the window was consumed, the 6th..9th do not fire, the 10th does */
	for (int i = 5; i < 9; i++)
		fail_from(i * 1000, "10.0.0.1", "root");
	assert_int_equal(NH, 1);
	fail_from(9000, "10.0.0.1", "root");
	assert_int_equal(NH, 2);
	assert_int_equal(H[1].first, T0 + 5 * SEC);
	/* other groups and other event types do not count */
	for (int i = 0; i < 4; i++)
		fail_from(10000 + i, "10.0.0.2", "root");
	feed(10010, "\"event_type\":\"LOGIN_SUCCESS\",\"source_ip\":\"10.0.0.2\"");
	fail_from(10020, "10.0.0.3", "root");
	assert_int_equal(NH, 2);
	/* a base rule referred to by the correlation does not alert on its own */
	struct detector_stats st;
	detector_get_stats(D, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.events, 16);
	assert_int_equal(st.rules, 2);
	assert_int_equal(st.detection_rules, 1);
	assert_int_equal(st.correlation_rules, 1);
	assert_int_equal(st.groups, 3);
}

static void test_event_count_time_edges(void **state)
{
	(void)state;
	open_detector(0);
	rules(COUNT5);
	/* exactly 5 minutes between first and last: inside */
	for (int i = 0; i < 4; i++)
		fail_from(i * 60000, "10.0.0.1", "u");
	fail_from(300000, "10.0.0.1", "u");
	assert_int_equal(NH, 1);
	/* 5 minutes and 1 ms: the first has left the window */
	for (int i = 0; i < 4; i++)
		fail_from(1000000 + i * 60000, "10.0.0.2", "u");
	fail_from(1000000 + 300001, "10.0.0.2", "u");
	assert_int_equal(NH, 1);
	fail_from(1000000 + 300002, "10.0.0.2", "u"); /* 2nd..6th: five inside */
	assert_int_equal(NH, 2);
	assert_int_equal(H[1].first, T0 + (1000000 + 60000) * 1000);
	assert_int_equal(H[1].count, 5);
}

static void test_event_count_out_of_order(void **state)
{
	(void)state;
	open_detector(0);
	rules(COUNT5);
	/* arrival order 10 s, 5 s, 20 s, 15 s, 12 s: five within the window */
	fail_from(10000, "10.0.0.1", "u");
	fail_from(5000, "10.0.0.1", "u");
	fail_from(20000, "10.0.0.1", "u");
	fail_from(15000, "10.0.0.1", "u");
	assert_int_equal(NH, 0);
	fail_from(12000, "10.0.0.1", "u");
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].first, T0 + 5 * SEC);
	assert_int_equal(H[0].last, T0 + 20 * SEC);
	int want[5] = {2, 1, 5, 4, 3}; /* by event time */
	for (int i = 0; i < 5; i++)
		assert_int_equal(H[0].ids[i], want[i]);
	/* a late event older than the window of the newest does not count */
	fail_from(400000, "10.0.0.9", "u");
	for (int i = 0; i < 4; i++)
		fail_from(90000 + i, "10.0.0.9", "u"); /* 5 min before 400 s is 100 s: outside */
	assert_int_equal(NH, 1);
}

static void test_value_count(void **state)
{
	(void)state;
	open_detector(0);
	rules("title: spray\nid: spray\ncorrelation:\n  type: value_count\n  rules: [fail]\n"
	      "  group-by: [source_ip]\n  timespan: 10m\n  condition:\n    field: user\n"
	      "    gte: 3\n---\n"
	      "title: f\nname: fail\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: LOGIN_FAIL\n  condition: s\n");
	fail_from(0, "10.0.0.1", "alice");
	fail_from(1000, "10.0.0.1", "alice");
	fail_from(2000, "10.0.0.1", "ALICE"); /* same value, case-insensitively */
	fail_from(3000, "10.0.0.1", "bob");
	fail_from(4000, "10.0.0.2", "carol");
	assert_int_equal(NH, 0);
	fail_from(5000, "10.0.0.1", "carol");
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].count, 3);
	assert_string_equal(H[0].key, "source_ip=10.0.0.1");
	/* the newest event of each value is what counts for the window */
	fail_from(100000, "10.0.0.3", "a");
	fail_from(200000, "10.0.0.3", "b");
	fail_from(650000, "10.0.0.3", "a"); /* refreshes a; b at 200 s is inside 650-600 */
	assert_int_equal(NH, 1);
	fail_from(801000, "10.0.0.3", "c"); /* b (200 s) left at 800 s: a, c */
	assert_int_equal(NH, 1);
	fail_from(802000, "10.0.0.3", "d");
	assert_int_equal(NH, 2);
	assert_int_equal(H[1].first, T0 + 650 * SEC);
}

/* ---- value_sum, value_avg, value_percentile ---- */

static const char *WEB_BASE = "title: w\nname: web\nlogsource:\n  product: minisiem\n"
			      "detection:\n  s:\n    event_type: WEB\n  condition: s\n";

static void value_rules(const char *type, const char *cond)
{
	char y[2048];
	snprintf(y, sizeof(y),
		 "title: v\nid: v\ncorrelation:\n  type: %s\n  rules: [web]\n"
		 "  group-by: [user]\n  timespan: 1h\n  condition:\n    field: bytes\n%s"
		 "minisiem:\n  summary: '{user}: {values}'\n---\n%s",
		 type, cond, WEB_BASE);
	rules(y);
}

static int web(int64_t ms, const char *user, const char *bytes)
{
	char b[256];
	snprintf(b, sizeof(b), "\"event_type\":\"WEB\",\"user\":\"%s\",\"data\":{\"bytes\":%s}",
		 user, bytes);
	return feed(ms, b);
}

static void test_value_sum(void **state)
{
	(void)state;
	snprintf(STATE, sizeof(STATE), "/tmp/test_correlate_v%d.state", (int)getpid());
	unlink(STATE);
	open_detector(0);
	value_rules("value_sum", "    gt: 1000\n");
	web(0, "a", "400");
	web(1000, "a", "\"300\""); /* a number written as a string counts */
	web(1500, "b", "900");
	web(2000, "a", "\"lots\"");			     /* not a number: not counted */
	feed(2500, "\"event_type\":\"WEB\",\"user\":\"a\""); /* no value */
	assert_int_equal(NH, 0);
	web(3000, "a", "300"); /* 1000: not above */
	assert_int_equal(NH, 0);
	/* across a restart mid-window: the values are kept */
	assert_int_equal(detector_save(D), 0);
	detector_close(D);
	D = NULL;
	open_detector(0);
	value_rules("value_sum", "    gt: 1000\n");
	web(4000, "a", "\"0x1\""); /* 1001: hexadecimal too */
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].key, "user=a");
	assert_int_equal(H[0].count, 4);
	assert_int_equal(H[0].first, T0);
	assert_int_equal(H[0].last, T0 + 4 * SEC);
	assert_int_equal(H[0].nids, 4);
	/* consumed: the next hit needs another 1000 */
	web(5000, "a", "999");
	assert_int_equal(NH, 1);
	/* an hour and a bit later the old values have left the window */
	web(5000 + 3601000, "a", "2");
	assert_int_equal(NH, 1);
	web(5000 + 3602000, "a", "1000");
	assert_int_equal(NH, 2);
	assert_int_equal(H[1].count, 2);
}

static void test_value_avg_and_bounds(void **state)
{
	(void)state;
	open_detector(0);
	value_rules("value_avg", "    gte: 100\n");
	web(0, "a", "50");
	assert_int_equal(NH, 0);
	web(1000, "a", "150.0"); /* average 100 */
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].count, 2);
	/* an upper bound: judged once the window is over, by the next event after it */
	value_rules("value_avg", "    lt: 10\n    gt: 1\n");
	web(10000, "u", "4");
	web(20000, "u", "8"); /* 6 so far: not judged yet */
	assert_int_equal(NH, 1);
	web(10000 + 3601000, "u", "1000");
	assert_int_equal(NH, 2);
	assert_int_equal(H[1].count, 2);
	assert_int_equal(H[1].first, T0 + 10 * SEC);
	web(10000 + 3 * 3601000, "u", "1"); /* the 1000 window: 1000 is not below 10 */
	assert_int_equal(NH, 2);
}

static void test_value_percentile(void **state)
{
	(void)state;
	open_detector(0);
	/* a value seen in at most 10 % of the user's events in the hour */
	value_rules("value_percentile", "    lte: 10\n");
	for (int i = 0; i < 9; i++)
		web(i * 1000, "a", "\"svchost\"");
	web(9000, "a", "\"evil\""); /* 1 of 10: 10 % */
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].count, 10);
	assert_int_equal(H[0].nids, 1);
	assert_int_equal(H[0].ids[0], 10);
	web(10000, "a", "\"SVCHOST\""); /* 10 of 11 */
	web(11000, "a", "\"evil\"");	/* 2 of 12 */
	assert_int_equal(NH, 1);
	web(12000, "b", "\"evil\""); /* 1 of 1 in its own group */
	assert_int_equal(NH, 1);
}

static void test_value_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *cond, *want;
	} cases[] = {
	    {"  condition:\n    gt: 5\n", "needs condition.field: one field"},
	    {"  condition:\n    field: [a, b]\n    gt: 5\n", "needs condition.field: one field"},
	    {"  condition:\n    field: a\n", "needs a condition"},
	    {"  condition:\n    field: a\n    gt: x\n", "'gt' must be a number"},
	};
	char y[1024], err[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(y, sizeof(y),
			 "title: v\ncorrelation:\n  type: value_sum\n  rules: [web]\n"
			 "  timespan: 1h\n%s",
			 cases[i].cond);
		struct rule **r = NULL;
		size_t n = 0;
		int rc = rule_compile(y, strlen(y), "t", &r, &n, err, sizeof(err));
		if (rc == 0 || !strstr(err, cases[i].want))
			fail_msg("case %zu: '%s', want '%s'", i, err, cases[i].want);
	}
	snprintf(y, sizeof(y),
		 "title: v\ncorrelation:\n  type: value_percentile\n  rules: [web]\n"
		 "  timespan: 1h\n  condition:\n    field: a\n    lte: 101\n");
	struct rule **r = NULL;
	size_t n = 0;
	assert_int_not_equal(rule_compile(y, strlen(y), "t", &r, &n, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "is a percentage"));
}

static const char *TEMPORAL =
    "title: tmp\nid: tmp\ncorrelation:\n  type: temporal\n  rules: [ra, rb]\n"
    "  group-by: [user]\n  timespan: 1m\n---\n"
    "title: a\nname: ra\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
    "    event_type: A\n  condition: s\n---\n"
    "title: b\nname: rb\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
    "    event_type: B\n  condition: s\n";

static void test_temporal(void **state)
{
	(void)state;
	open_detector(0);
	rules(TEMPORAL);
	feed(0, "\"event_type\":\"B\",\"user\":\"u1\"");
	feed(1000, "\"event_type\":\"B\",\"user\":\"u2\"");
	assert_int_equal(NH, 0);
	feed(60000, "\"event_type\":\"A\",\"user\":\"u1\""); /* 60 s: inside 1m, any order */
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].key, "user=u1");
	assert_int_equal(H[0].count, 2);
	assert_int_equal(H[0].ids[0], 1);
	assert_int_equal(H[0].ids[1], 3);
	feed(62000, "\"event_type\":\"A\",\"user\":\"u2\""); /* 61 s after B: outside */
	assert_int_equal(NH, 1);
	feed(63000, "\"event_type\":\"B\",\"user\":\"u2\""); /* a fresh B pairs with that A */
	assert_int_equal(NH, 2);
	/* partial condition: 2 of 3 rules */
	rules("title: tmp3\nid: tmp3\ncorrelation:\n  type: temporal\n  rules: [ra, rb, rc]\n"
	      "  group-by: [user]\n  timespan: 1m\n  condition:\n    gte: 2\n---\n"
	      "title: a\nname: ra\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: A\n  condition: s\n---\n"
	      "title: b\nname: rb\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: B\n  condition: s\n---\n"
	      "title: c\nname: rc\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: C\n  condition: s\n");
	feed(200000, "\"event_type\":\"C\",\"user\":\"u3\"");
	feed(201000, "\"event_type\":\"C\",\"user\":\"u3\"");
	assert_int_equal(NH, 2);
	feed(202000, "\"event_type\":\"A\",\"user\":\"u3\"");
	assert_int_equal(NH, 3);
	assert_string_equal(H[2].rule, "tmp3");
}

static const char *ORDERED =
    "title: ord\nid: ord\ncorrelation:\n  type: temporal_ordered\n  rules: [ra, rb, rc]\n"
    "  group-by: [user]\n  timespan: 1m\n---\n"
    "title: a\nname: ra\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
    "    event_type: A\n  condition: s\n---\n"
    "title: b\nname: rb\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
    "    event_type: B\n  condition: s\n---\n"
    "title: c\nname: rc\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
    "    event_type: C\n  condition: s\n";

static void test_temporal_ordered(void **state)
{
	(void)state;
	open_detector(0);
	rules(ORDERED);
	/* out of order: C, B, A -> nothing */
	feed(0, "\"event_type\":\"C\",\"user\":\"u\"");
	feed(1000, "\"event_type\":\"B\",\"user\":\"u\"");
	feed(2000, "\"event_type\":\"A\",\"user\":\"u\"");
	assert_int_equal(NH, 0);
	/* A (2 s), then B, then C within 1 minute of A */
	feed(3000, "\"event_type\":\"B\",\"user\":\"u\"");
	feed(4000, "\"event_type\":\"B\",\"user\":\"v\"");
	assert_int_equal(NH, 0);
	int c = feed(62000, "\"event_type\":\"C\",\"user\":\"u\"");
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].first, T0 + 2 * SEC);
	assert_int_equal(H[0].last, T0 + 62 * SEC);
	assert_int_equal(H[0].event, c);
	assert_int_equal(H[0].nids, 3);
	assert_int_equal(H[0].ids[0], 3);
	assert_int_equal(H[0].ids[1], 4);
	assert_int_equal(H[0].ids[2], c);
	/* A, B, C but C 60.001 s after A: too late; a later A restarts the chain */
	feed(100000, "\"event_type\":\"A\",\"user\":\"w\"");
	feed(110000, "\"event_type\":\"B\",\"user\":\"w\"");
	feed(160001, "\"event_type\":\"C\",\"user\":\"w\"");
	assert_int_equal(NH, 1);
	feed(161000, "\"event_type\":\"A\",\"user\":\"w\"");
	feed(162000, "\"event_type\":\"B\",\"user\":\"w\"");
	feed(163000, "\"event_type\":\"C\",\"user\":\"w\"");
	assert_int_equal(NH, 2);
	assert_int_equal(H[1].first, T0 + 161 * SEC);
	/* a step that never started does not create groups */
	struct detector_stats st;
	detector_get_stats(D, &st);
	size_t groups = st.groups;
	for (int i = 0; i < 20; i++) {
		char b[64];
		snprintf(b, sizeof(b), "\"event_type\":\"C\",\"user\":\"x%d\"", i);
		feed(170000 + i, b);
	}
	detector_get_stats(D, &st);
	assert_int_equal(st.groups, groups);
}

static void test_chain_and_aliases(void **state)
{
	(void)state;
	open_detector(0);
	/* brute force (event_count) followed by a success, the failure rule seeing Windows
	 * events through an alias */
	rules("title: bfs\nid: bfs\ncorrelation:\n  type: temporal_ordered\n"
	      "  rules: [bf, ok]\n  group-by: [ip]\n  timespan: 10m\n"
	      "  aliases:\n    ip:\n      bf: ip\n      ok: source_ip\n---\n"
	      "title: bf\nid: bf-id\nname: bf\ncorrelation:\n  type: event_count\n"
	      "  rules: [fail, winfail]\n  group-by: [ip]\n  timespan: 5m\n"
	      "  aliases:\n    ip:\n      fail: source_ip\n      winfail: IpAddress\n"
	      "  condition:\n    gte: 3\n---\n"
	      "title: f\nname: fail\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: LOGIN_FAIL\n  condition: s\n---\n"
	      "title: wf\nname: winfail\nlogsource:\n  product: windows\n  service: security\n"
	      "detection:\n  s:\n    EventID: 4625\n  condition: s\n---\n"
	      "title: ok\nname: ok\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: LOGIN_SUCCESS\n  condition: s\n");
	fail_from(0, "10.1.1.1", "u");
	feed(1000, "\"event_type\":\"X\",\"os_type\":\"WINDOWS\",\"data\":{\"EventID\":4625,"
		   "\"Channel\":\"Security\",\"EventData\":{\"IpAddress\":\"10.1.1.1\"}}");
	feed(1500, "\"event_type\":\"LOGIN_SUCCESS\",\"source_ip\":\"10.1.1.1\"");
	assert_int_equal(NH, 0); /* success before the brute force is complete */
	fail_from(2000, "10.1.1.1", "u");
	assert_int_equal(NH, 0); /* the inner correlation hit does not alert on its own */
	feed(3000, "\"event_type\":\"LOGIN_SUCCESS\",\"source_ip\":\"10.1.1.2\"");
	int ok = feed(4000, "\"event_type\":\"LOGIN_SUCCESS\",\"source_ip\":\"10.1.1.1\"");
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].rule, "bfs");
	assert_string_equal(H[0].key, "ip=10.1.1.1");
	assert_int_equal(H[0].first, T0 + 2 * SEC);
	assert_int_equal(H[0].event, ok);
	/* with generate: true the referred rules alert too */
	NH = 0;
	rules("title: c\nid: c\ngenerate: true\ncorrelation:\n  type: event_count\n"
	      "  rules: [fail]\n  group-by: [source_ip]\n  timespan: 5m\n  condition:\n"
	      "    gte: 2\n---\n"
	      "title: f\nname: fail\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: LOGIN_FAIL\n  condition: s\n");
	fail_from(10000, "10.2.2.2", "u");
	fail_from(11000, "10.2.2.2", "u");
	assert_int_equal(NH, 3); /* two matches and the correlation */
	assert_string_equal(H[2].rule, "c");
	/* no group-by: one group for everything */
	NH = 0;
	rules("title: all\nid: all\ncorrelation:\n  type: event_count\n  rules: [fail]\n"
	      "  timespan: 5m\n  condition:\n    gte: 2\n---\n"
	      "title: f\nname: fail\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: LOGIN_FAIL\n  condition: s\n");
	fail_from(20000, "10.3.3.3", "u");
	fail_from(21000, "10.3.3.4", "u");
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].key, "");
	/* an event without a group-by value is not correlated */
	NH = 0;
	rules(COUNT5);
	for (int i = 0; i < 6; i++)
		feed(30000 + i, "\"event_type\":\"LOGIN_FAIL\",\"source_ip\":\"N/A\"");
	assert_int_equal(NH, 0);
}

static void test_upper_bounds(void **state)
{
	(void)state;
	open_detector(0);
	/* eq 3: judged when the window (from the group's first event) has closed */
	rules("title: eq\nid: eq\ncorrelation:\n  type: event_count\n  rules: [f]\n"
	      "  group-by: [user]\n  timespan: 1m\n  condition:\n    eq: 3\n---\n"
	      "title: f\nname: f\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: E\n  condition: s\n");
	for (int i = 0; i < 3; i++)
		feed(i * 1000, "\"event_type\":\"E\",\"user\":\"a\"");
	for (int i = 0; i < 4; i++)
		feed(i * 1000, "\"event_type\":\"E\",\"user\":\"b\"");
	assert_int_equal(NH, 0);
	int ca = feed(60001, "\"event_type\":\"E\",\"user\":\"a\"");
	feed(60001, "\"event_type\":\"E\",\"user\":\"b\"");
	assert_int_equal(NH, 1); /* a had exactly 3, b had 4 */
	assert_string_equal(H[0].key, "user=a");
	assert_int_equal(H[0].count, 3);
	assert_int_equal(H[0].event, ca);
	/* a range: more than 2 and at most 4 */
	NH = 0;
	rules("title: rg\nid: rg\ncorrelation:\n  type: event_count\n  rules: [f]\n"
	      "  group-by: [user]\n  timespan: 1m\n  condition:\n    gt: 2\n    lte: 4\n---\n"
	      "title: f\nname: f\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: E\n  condition: s\n");
	for (int n = 2; n <= 5; n++) {
		char b[64];
		snprintf(b, sizeof(b), "\"event_type\":\"E\",\"user\":\"n%d\"", n);
		for (int i = 0; i < n; i++)
			feed(100000 + i, b);
		feed(200000, b);
	}
	assert_int_equal(NH, 2);
	assert_string_equal(H[0].key, "user=n3");
	assert_string_equal(H[1].key, "user=n4");
	/* lt on value_count */
	NH = 0;
	rules("title: lt\nid: lt\ncorrelation:\n  type: value_count\n  rules: [f]\n"
	      "  group-by: [source_host]\n  timespan: 1m\n  condition:\n    field: user\n"
	      "    lt: 2\n---\n"
	      "title: f\nname: f\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: E\n  condition: s\n");
	feed(300000, "\"event_type\":\"E\",\"user\":\"a\",\"source_host\":\"h1\"");
	feed(301000, "\"event_type\":\"E\",\"user\":\"a\",\"source_host\":\"h1\"");
	feed(300000, "\"event_type\":\"E\",\"user\":\"a\",\"source_host\":\"h2\"");
	feed(301000, "\"event_type\":\"E\",\"user\":\"b\",\"source_host\":\"h2\"");
	feed(400000, "\"event_type\":\"E\",\"user\":\"a\",\"source_host\":\"h1\"");
	feed(400000, "\"event_type\":\"E\",\"user\":\"a\",\"source_host\":\"h2\"");
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].key, "source_host=h1");
	assert_int_equal(H[0].count, 1);
}

static void test_restart_mid_window(void **state)
{
	(void)state;
	snprintf(STATE, sizeof(STATE), "/tmp/test_correlate_%d.state", (int)getpid());
	unlink(STATE);
	open_detector(0);
	rules(ORDERED);
	/* rule sets are replaced wholesale: load both kinds together */
	char both[4096];
	snprintf(both, sizeof(both), "%s---\n%s", COUNT5,
		 "title: ord\nid: ord\ncorrelation:\n  type: temporal_ordered\n  rules: [ra, rb]\n"
		 "  group-by: [user]\n  timespan: 1m\n---\n"
		 "title: a\nname: ra\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		 "    event_type: A\n  condition: s\n---\n"
		 "title: b\nname: rb\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		 "    event_type: B\n  condition: s\n");
	rules(both);
	for (int i = 0; i < 3; i++)
		fail_from(i * 1000, "10.0.0.1", "u");
	feed(3000, "\"event_type\":\"A\",\"user\":\"u\"");
	assert_int_equal(detector_save(D), 0);
	detector_close(D);
	D = NULL;
	/* the hub restarts: same state file, the same rules compiled again */
	open_detector(0);
	rules(both);
	struct detector_stats st;
	detector_get_stats(D, &st);
	assert_int_equal(st.groups, 2);
	fail_from(4000, "10.0.0.1", "u");
	assert_int_equal(NH, 0);
	fail_from(5000, "10.0.0.1", "u");
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].count, 5);
	assert_int_equal(H[0].first, T0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(H[0].ids[i], i == 3 ? 5 : i < 3 ? i + 1 : 6);
	feed(6000, "\"event_type\":\"B\",\"user\":\"u\"");
	assert_int_equal(NH, 2);
	assert_string_equal(H[1].rule, "ord");
	/* detector_close saves too; a swap that keeps the rule id keeps the window */
	for (int i = 0; i < 4; i++)
		fail_from(10000 + i, "10.0.0.7", "u");
	detector_close(D);
	D = NULL;
	open_detector(0);
	rules(both);
	rules(both); /* swap: same ids */
	fail_from(10010, "10.0.0.7", "u");
	assert_int_equal(NH, 3);
	/* a damaged state file costs the windows, not the start */
	detector_close(D);
	D = NULL;
	FILE *f = fopen(STATE, "r+b");
	assert_non_null(f);
	fseek(f, 20, SEEK_SET);
	fputc(0x5a, f);
	fclose(f);
	open_detector(0);
	rules(both);
	detector_get_stats(D, &st);
	assert_int_equal(st.groups, 0);
}

/* Broker mode: the state as a blob, loaded into another detector with the rules already in
 * force (the node taking over), resumes the window; a damaged blob is refused. */
static void test_export_import_into_a_running_detector(void **state)
{
	(void)state;
	open_detector(0);
	rules(COUNT5);
	for (int i = 0; i < 4; i++)
		fail_from(i * 1000, "10.0.0.1", "u");
	uint8_t *blob = NULL;
	size_t n = 0;
	assert_int_equal(detector_export(D, &blob, &n), 0);
	assert_true(n > 16);
	struct detector *first = D;
	open_detector(0);
	rules(COUNT5);
	for (int i = 0; i < 4; i++) /* a window of its own, replaced by the import */
		fail_from(i * 1000, "10.0.0.9", "u");
	assert_int_equal(detector_import(D, blob, n), 0);
	struct detector_stats st;
	detector_get_stats(D, &st);
	assert_int_equal(st.groups, 1);
	fail_from(4000, "10.0.0.1", "u");
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].count, 5);
	assert_int_equal(H[0].first, T0);
	fail_from(5000, "10.0.0.9", "u");
	assert_int_equal(NH, 1);
	blob[n / 2] ^= 0x5a;
	assert_int_equal(detector_import(D, blob, n), SIEM_EPARSE);
	assert_int_equal(detector_import(D, blob, 3), SIEM_EPARSE);
	free(blob);
	detector_close(first);
}

static void test_bounded_groups(void **state)
{
	(void)state;
	open_detector(3);
	rules(COUNT5);
	fail_from(0, "10.0.0.1", "u");
	fail_from(1, "10.0.0.2", "u");
	fail_from(2, "10.0.0.3", "u");
	fail_from(3, "10.0.0.1", "u"); /* 10.0.0.1 becomes the most recent */
	fail_from(4, "10.0.0.4", "u"); /* evicts 10.0.0.2, the least recent */
	fail_from(5, "10.0.0.5", "u"); /* evicts 10.0.0.3 */
	struct detector_stats st;
	detector_get_stats(D, &st);
	assert_int_equal(st.groups, 3);
	assert_int_equal(st.evicted_groups, 2);
	for (int i = 0; i < 3; i++)
		fail_from(10 + i, "10.0.0.1", "u"); /* 10.0.0.1 kept its two */
	assert_int_equal(NH, 1);
	/* a new group while full evicts again */
	fail_from(300000, "10.9.9.9", "u");
	detector_get_stats(D, &st);
	assert_int_equal(st.groups, 3);
	assert_int_equal(st.evicted_groups, 3);
	/* expiry: once event time is past window and grace (5 m + 60 s), the old groups go
	 * without counting as evictions */
	fail_from(370000, "10.9.9.9", "u");
	detector_get_stats(D, &st);
	assert_int_equal(st.groups, 1);
	assert_int_equal(st.evicted_groups, 3);
}

static void test_refs_and_prefilter(void **state)
{
	(void)state;
	open_detector(0);
	/* a rule listed twice counts once; one correlation asking generate: true is enough for
	 * the referred rule to alert, even when another does not ask */
	rules("title: twice\nid: twice\ncorrelation:\n  type: event_count\n  rules: [f, f]\n"
	      "  timespan: 5m\n  condition:\n    gte: 2\n---\n"
	      "title: gen\nid: gen\ngenerate: true\ncorrelation:\n  type: event_count\n"
	      "  rules: [f]\n  timespan: 5m\n  condition:\n    gte: 100\n---\n"
	      "title: f\nid: f-id\nname: f\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: LOGIN_FAIL\n  condition: s\n");
	fail_from(0, "10.0.0.1", "u");
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].rule, "f-id");
	fail_from(1000, "10.0.0.1", "u");
	assert_int_equal(NH, 3);
	assert_string_equal(H[2].rule, "twice");
	assert_int_equal(H[2].count, 2);
	/* the EventID index accepts what the matcher accepts */
	NH = 0;
	rules("title: w\nid: w\nlogsource:\n  product: windows\n  service: security\n"
	      "detection:\n  s:\n    EventID: 4625\n  condition: s\n");
	feed(0, "\"event_type\":\"X\",\"os_type\":\"WINDOWS\",\"data\":{\"EventID\":\"04625\","
		"\"Channel\":\"Security\"}");
	feed(0, "\"event_type\":\"X\",\"os_type\":\"WINDOWS\",\"data\":{\"EventID\":4625.0,"
		"\"Channel\":\"Security\"}");
	feed(0, "\"event_type\":\"X\",\"os_type\":\"WINDOWS\",\"data\":{\"System\":{"
		"\"EventID\":4625,\"Channel\":\"Security\"}}");
	feed(0, "\"event_type\":\"X\",\"os_type\":\"WINDOWS\",\"data\":{\"EventID\":4624,"
		"\"Channel\":\"Security\"}");
	feed(0, "\"event_type\":\"X\",\"os_type\":\"WINDOWS\",\"data\":{\"EventID\":4625,"
		"\"Channel\":\"System\"}");
	assert_int_equal(NH, 3);
}

/* Keyword rules through the detector, where one automaton scans message and raw_message
 * and rules whose keywords cannot occur are skipped: same answers as rule_matches. */
static void test_keywords_in_engine(void **state)
{
	(void)state;
	open_detector(0);
	rules("title: k1\nid: k1\nlogsource:\n  product: linux\ndetection:\n  keywords:\n"
	      "    - 'Corrupted MAC'\n    - 'bad DH value'\n  condition: keywords\n---\n"
	      "title: k2\nid: k2\nlogsource:\n  product: linux\ndetection:\n  sel:\n"
	      "    - 'rm /var/log/syslog'\n  fp:\n    - '/syslog.'\n"
	      "  condition: sel and not fp\n---\n"
	      "title: k3\nid: k3\nlogsource:\n  product: linux\ndetection:\n  kw_a:\n"
	      "    - 'alpha'\n  kw_b:\n    - 'beta'\n  condition: 1 of kw_*\n---\n"
	      "title: k4\nid: k4\nlogsource:\n  product: linux\ndetection:\n  k:\n"
	      "    - 'Trojan*FOUND'\n  condition: k\n---\n"
	      "title: k5\nid: k5\nlogsource:\n  product: linux\ndetection:\n  k:\n"
	      "    '|all':\n      - 'pkexec'\n      - 'XAUTHORITY'\n  condition: k\n---\n"
	      "title: k6\nid: k6\nlogsource:\n  product: linux\ndetection:\n  a:\n"
	      "    - 'new user'\n  b:\n    - 'UID=0,'\n    - 'GID=0,'\n  condition: (a or a) and "
	      "all of b\n"
	      "---\ntitle: k7\nid: k7\nlogsource:\n  product: linux\ndetection:\n  k:\n"
	      "    - 'CaseSensitive'\n  c:\n    message|cased: 'exact'\n  condition: k or c\n");
	static const struct {
		const char *msg;
		const char *want;
	} t[] = {
	    {"sshd: Corrupted MAC on input", "k1"},
	    {"sshd: BAD DH VALUE received", "k1"},
	    {"sshd: fine", ""},
	    {"bash: rm /var/log/syslog", "k2"},
	    {"bash: rm /var/log/syslog.1", ""},
	    {"x alpha y", "k3"},
	    {"x BETA y", "k3"},
	    {"clamd: /tmp/a: Win.Trojan.X FOUND", "k4"},
	    {"clamd: /tmp/a: Trojan found nothing", "k4"},
	    {"clamd: FOUND Trojan", ""},
	    {"pkexec: XAUTHORITY contains suspicious content", "k5"},
	    {"pkexec: nothing", ""},
	    {"useradd: new user: name=a, UID=0, GID=5,", "k6"},
	    {"useradd: new user: name=a, UID=5, GID=5,", ""},
	    {"casesensitive", "k7"},
	    {"exact", "k7"},
	    {"EXACT", ""},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char b[512];
		NH = 0;
		snprintf(b, sizeof(b), "\"os_type\":\"LINUX\",\"message\":\"%s\"", t[i].msg);
		feed((int64_t)i, b);
		if (t[i].want[0] && (NH != 1 || strcmp(H[0].rule, t[i].want)))
			fail_msg("'%s': %d hits (%s), want %s", t[i].msg, NH, NH ? H[0].rule : "-",
				 t[i].want);
		if (!t[i].want[0] && NH)
			fail_msg("'%s': hit %s, want none", t[i].msg, H[0].rule);
	}
	/* raw_message is searched too */
	NH = 0;
	feed(100, "\"os_type\":\"LINUX\",\"message\":\"summary\",\"raw_message\":"
		  "\"<13>host sshd[1]: Corrupted MAC on input\"");
	assert_int_equal(NH, 1);
}

static void test_set_rules_errors(void **state)
{
	(void)state;
	char err[512];
	open_detector(0);
	rules(COUNT5);
	assert_int_equal(load_rules("title: c\ncorrelation:\n  type: event_count\n  rules: [nope]\n"
				    "  timespan: 5m\n  condition:\n    gte: 2\n",
				    err, sizeof(err)),
			 SIEM_ESCHEMA);
	assert_non_null(strstr(err, "unknown rule 'nope'"));
	assert_int_equal(load_rules("title: c1\nname: c1\ncorrelation:\n  type: event_count\n"
				    "  rules: [c2]\n  timespan: 5m\n  condition:\n    gte: 2\n---\n"
				    "title: c2\nname: c2\ncorrelation:\n  type: event_count\n"
				    "  rules: [c1]\n  timespan: 5m\n  condition:\n    gte: 2\n",
				    err, sizeof(err)),
			 SIEM_ESCHEMA);
	assert_non_null(strstr(err, "refers back to itself"));
	assert_int_equal(load_rules("title: a\nid: same\nlogsource:\n  product: minisiem\n"
				    "detection:\n  s:\n    a: b\n  condition: s\n---\n"
				    "title: b\nid: same\nlogsource:\n  product: minisiem\n"
				    "detection:\n  s:\n    a: b\n  condition: s\n",
				    err, sizeof(err)),
			 SIEM_ESCHEMA);
	assert_non_null(strstr(err, "duplicate rule id 'same'"));
	/* the old set is still in force */
	for (int i = 0; i < 5; i++)
		fail_from(i, "10.0.0.1", "u");
	assert_int_equal(NH, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_event_count_thresholds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_count_time_edges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_count_out_of_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_value_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_value_sum, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_value_avg_and_bounds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_value_percentile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_value_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_temporal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_temporal_ordered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_and_aliases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upper_bounds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_mid_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_import_into_a_running_detector, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bounded_groups, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refs_and_prefilter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keywords_in_engine, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_rules_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
