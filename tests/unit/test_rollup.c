/* test_rollup.c — the dashboard's rollups: top-N counts kept in memory for the active
 * segment and written out when it is sealed, per-minute counts written per commit. Every
 * answer is checked against a count of the events themselves (and against a scan) across
 * commits, rollbacks, late events, segment rolls, restarts, the memory bound's fallback,
 * and readers racing the writer. */
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
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

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/strbuf.h"
#include "store/store.h"
#include "store/store_stats.h"

#define MIN 60000000LL
#define PERIOD (10 * MIN)
#define T0 (1795000000LL * 1000000 / PERIOD * PERIOD) /* a period start in 2026 */
#define MAX_EV 60000

static char DIRPATH[64];
static char DBPATH[128];
static struct store *S;
static struct arena A;
static int64_t seg_rows;

/* What was committed, as the test made it: the oracle. */
struct rec {
	int64_t ts;
	const char *type;
	const char *val[5]; /* source_ip (text), user, host, app, domain; NULL when absent */
};
static struct rec *R;
static size_t NR;
static int next_id;
static int seq; /* put_random's events so far */
static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void open_store(void)
{
	struct store_config c;
	store_config_defaults(&c);
	c.dir = DBPATH;
	c.segment_rows = seg_rows;
	c.cache_mb = 2;
	S = NULL;
	assert_int_equal(store_open(&S, &c), 0);
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_ERROR);
	snprintf(DIRPATH, sizeof(DIRPATH), "/tmp/test_rollup.XXXXXX");
	if (!mkdtemp(DIRPATH))
		return -1;
	snprintf(DBPATH, sizeof(DBPATH), "%s/store", DIRPATH);
	arena_init(&A, 0);
	R = calloc(MAX_EV, sizeof(*R));
	NR = 0;
	next_id = 1;
	seq = 0;
	seg_rows = 1000000;
	stats_rollup_set_limit(16u << 20);
	return R ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	store_close(S);
	S = NULL;
	arena_release(&A);
	free(R);
	test_rm_tree(DIRPATH);
	stats_rollup_set_limit(16u << 20);
	return 0;
}

/* ---- events ---- */

static const char *const TYPES[] = {"LOGIN_FAIL", "DNS_BLOCK", "DNS_QUERY", "SUDO", "GENERIC"};
static const char *const OSES[] = {"LINUX", "WINDOWS", "PIHOLE"};

static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	return arena_strndup(&A, buf, (size_t)n);
}

static struct sv sv_of(const char *s)
{
	return (struct sv){s, s ? strlen(s) : 0};
}

/* An event and its record; ip may be IPv4 or IPv6 text (canonical), domain only for DNS
 * types (carried in data). */
static void make(struct event *ev, struct rec *rc, int64_t ts, const char *type, const char *ip,
		 const char *user, const char *host, const char *app, const char *domain)
{
	char id[40];
	memset(ev, 0, sizeof(*ev));
	snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", next_id++);
	assert_int_equal(uuid_parse(id, 36, ev->id), 0);
	ev->ts = ts;
	ev->received_at = ts;
	ev->severity = 1 + (int)(rnd() % 5);
	ev->event_type = sv_of(type);
	ev->os_type = sv_of(OSES[rnd() % 3]);
	ev->source_host = sv_of(host);
	ev->user = sv_of(user);
	ev->app = sv_of(app);
	ev->message = sv_of("an event");
	if (ip) {
		assert_int_equal(ip_parse(ip, strlen(ip), ev->ip), 0);
		ev->flags |= EV_HAS_IP;
	}
	if (domain)
		ev->data = sv_of(fmt("{\"domain\":\"%s\",\"n\":1}", domain));
	*rc = (struct rec){ts, type, {ip, user, host, app, domain}};
}

/* A random event at ts: nips addresses (a tenth IPv6), nusers users. */
static void make_random(struct event *ev, struct rec *rc, int64_t ts, int nips, int nusers)
{
	const char *type = TYPES[rnd() % 5];
	int k = (int)(rnd() % (uint64_t)nips);
	const char *ip = rnd() % 8 == 0 ? NULL
			 : k % 10 == 0	? fmt("2001:db8::%x", k + 1)
					: fmt("10.%d.%d.%d", k >> 16 & 255, k >> 8 & 255, k & 255);
	const char *user = rnd() % 4 == 0 ? NULL : fmt("user%d", (int)(rnd() % (uint64_t)nusers));
	const char *host = fmt("host-%d", (int)(rnd() % 7));
	const char *app = rnd() % 3 == 0 ? NULL : fmt("app%d", (int)(rnd() % 4));
	const char *dom = strncmp(type, "DNS", 3) == 0 && rnd() % 4
			      ? fmt("d%d.example-long-domain-name.com", (int)(rnd() % 40))
			      : NULL;
	make(ev, rc, ts, type, ip, user, host, app, dom);
}

/* One transaction of n events from gen; committed (and recorded) unless rollback. */
static void put(struct event *evs, struct rec *rcs, size_t n, bool rollback)
{
	assert_int_equal(store_begin(S), 0);
	for (size_t i = 0; i < n; i++) {
		bool dup = true;
		assert_int_equal(store_append(S, &evs[i], &dup), 0);
		assert_false(dup);
	}
	if (rollback) {
		store_rollback(S);
		return;
	}
	assert_int_equal(store_commit(S), 0);
	assert_true(NR + n <= MAX_EV);
	memcpy(&R[NR], rcs, n * sizeof(*rcs));
	NR += n;
}

/* n random events in transactions of txn, timestamps from ts(i), i counting from 0. */
static void put_random(int n, int txn, int64_t (*ts)(int), int nips, int nusers)
{
	struct event *evs = calloc((size_t)txn, sizeof(*evs));
	struct rec *rcs = calloc((size_t)txn, sizeof(*rcs));
	assert_non_null(evs);
	assert_non_null(rcs);
	for (int i = 0; i < n; i += txn) {
		int k = n - i < txn ? n - i : txn;
		for (int j = 0; j < k; j++)
			make_random(&evs[j], &rcs[j], ts(seq++), nips, nusers);
		put(evs, rcs, (size_t)k, false);
	}
	free(evs);
	free(rcs);
}

/* ---- the oracle and the checks ---- */

struct vc {
	const char *v;
	int64_t n;
};

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int vc_cmp(const void *x, const void *y)
{
	const struct vc *a = x, *b = y;
	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	return strcmp(a->v, b->v);
}

/* The counts of field i (0..4) over [lo, hi], type when given, from the records. */
static json_t *expect_top(int i, const char *type, int64_t lo, int64_t hi, int64_t *distinct,
			  int64_t *total)
{
	const char **m = calloc(NR + 1, sizeof(*m));
	struct vc *v = calloc(NR + 1, sizeof(*v));
	size_t nm = 0, nv = 0;
	assert_non_null(m);
	assert_non_null(v);
	for (size_t k = 0; k < NR; k++) {
		const struct rec *rc = &R[k];
		if (rc->ts >= lo && rc->ts <= hi && rc->val[i] &&
		    (!type || !strcmp(type, rc->type)))
			m[nm++] = rc->val[i];
	}
	qsort(m, nm, sizeof(*m), str_cmp);
	for (size_t k = 0; k < nm; k++) {
		if (!nv || strcmp(v[nv - 1].v, m[k]))
			v[nv++] = (struct vc){m[k], 0};
		v[nv - 1].n++;
	}
	qsort(v, nv, sizeof(*v), vc_cmp);
	json_t *a = json_array();
	for (size_t k = 0; k < nv && k < 100; k++) {
		json_t *o = json_object();
		json_object_set_new(o, "value", json_string(v[k].v));
		json_object_set_new(o, "count", json_integer(v[k].n));
		json_array_append_new(a, o);
	}
	*distinct = (int64_t)nv;
	*total = (int64_t)nm;
	free(m);
	free(v);
	return a;
}

static json_t *top(int i, const char *type, int64_t lo, int64_t hi, bool scan, bool *used)
{
	struct stats_filter f;
	memset(&f, 0, sizeof(f));
	f.from = lo;
	f.to = hi;
	f.no_rollups = scan;
	if (type) {
		f.event_type.n = 1;
		f.event_type.v[0] = type;
	}
	json_t *o = json_object();
	int rc = store_stats_top(S, &f, (enum stats_field)(STATS_SOURCE_IP + i), 100, o, used);
	if (rc)
		fail_msg("top %d: %s", i, siem_strerror(rc));
	return o;
}

/* Field i over [lo, hi] (type filter or NULL) as the oracle, the rollups and a scan say. */
static void check_top(int i, const char *type, int64_t lo, int64_t hi, bool want_rollups)
{
	int64_t distinct, total;
	bool used = false, used_scan = true;
	json_t *want = expect_top(i, type, lo, hi, &distinct, &total);
	json_t *got = top(i, type, lo, hi, false, &used);
	json_t *scan = top(i, type, lo, hi, true, &used_scan);
	if (!json_equal(json_object_get(got, "values"), want) ||
	    json_integer_value(json_object_get(got, "distinct")) != distinct ||
	    json_integer_value(json_object_get(got, "total")) != total) {
		char *a = json_dumps(got, JSON_COMPACT), *b = json_dumps(want, JSON_COMPACT);
		fail_msg("field %d type %s [%lld, %lld]: got %.600s\nwant %.600s (distinct %lld, "
			 "total %lld)",
			 i, type ? type : "*", (long long)(lo - T0), (long long)(hi - T0), a, b,
			 (long long)distinct, (long long)total);
	}
	assert_true(json_equal(json_object_get(scan, "values"), want));
	assert_false(used_scan);
	if (want_rollups && total > 0 && hi - lo >= 2 * PERIOD)
		assert_true(used);
	json_decref(want);
	json_decref(got);
	json_decref(scan);
}

/* Per-minute counts (time series by event type) against a scan. */
static void check_series(int64_t lo, int64_t hi)
{
	struct stats_filter f;
	bool used;
	memset(&f, 0, sizeof(f));
	f.from = lo;
	f.to = hi;
	json_t *a = json_object(), *b = json_object();
	assert_int_equal(store_stats_series(S, &f, 5 * MIN, STATS_EVENT_TYPE, 50, a, &used), 0);
	f.no_rollups = true;
	assert_int_equal(store_stats_series(S, &f, 5 * MIN, STATS_EVENT_TYPE, 50, b, &used), 0);
	assert_true(json_equal(a, b));
	int64_t n = 0;
	for (size_t k = 0; k < NR; k++)
		n += R[k].ts >= lo && R[k].ts <= hi;
	assert_int_equal(json_integer_value(json_object_get(a, "total")), n);
	json_decref(a);
	json_decref(b);
}

/* Every field, with and without a type filter, over ranges that start and end on and off
 * period and minute bounds, inside, across and beyond the events. */
static void check_all(int64_t span, bool want_rollups)
{
	const int64_t edges[][2] = {
	    {T0 - PERIOD, T0 + span + PERIOD},
	    {T0, T0 + span},
	    {T0 + 1, T0 + span - 1},
	    {T0 + 7 * MIN + 3, T0 + span - 13 * MIN - 7},
	    {T0 + PERIOD, T0 + 3 * PERIOD - 1},
	    {T0 + PERIOD + 1, T0 + 3 * PERIOD + 1},
	    {T0 + 2 * PERIOD + 17, T0 + 2 * PERIOD + 5 * MIN},
	    {T0 + span / 2, INT64_MAX / 2},
	};
	for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++) {
		if (edges[e][0] > edges[e][1])
			continue;
		for (int i = 0; i < 5; i++) {
			check_top(i, NULL, edges[e][0], edges[e][1], want_rollups && e < 2);
			check_top(i, TYPES[e % 5], edges[e][0], edges[e][1], false);
		}
		check_top(4, "DNS_BLOCK", edges[e][0], edges[e][1], false);
		if (edges[e][1] - edges[e][0] < 100 * PERIOD)
			check_series(edges[e][0], edges[e][1]);
	}
}

static int64_t ts_spread(int i)
{
	return T0 + (int64_t)i * 200000; /* 5 events a second: 3,000 a period */
}

static int64_t ts_late(int i)
{
	/* Mostly in order, a tenth up to 40 minutes late (into packed periods). */
	int64_t t = T0 + 30 * MIN + (int64_t)i * 150000;
	return i % 10 == 3 ? t - (int64_t)(rnd() % (uint64_t)(40 * MIN)) : t;
}

static int64_t ts_random(int i)
{
	(void)i;
	return T0 + (int64_t)(rnd() % (uint64_t)(24 * PERIOD));
}

static void wait_indexed(void)
{
	for (int k = 0; k < 600; k++) {
		struct store_stats st;
		assert_int_equal(store_stats(S, &st), 0);
		if (st.unindexed == 0)
			return;
		usleep(50 * 1000);
	}
	fail_msg("sealed segments not indexed in 30 s");
}

static int64_t metric_value(const char *prefix)
{
	struct strbuf b;
	int64_t v = -1;
	strbuf_init(&b, 1 << 20);
	assert_int_equal(metrics_render(&b), 0);
	for (char *l = b.p; l && *l;) {
		char *nl = strchr(l, '\n');
		if (strncmp(l, prefix, strlen(prefix)) == 0)
			v = strtoll(l + strlen(prefix), NULL, 10);
		l = nl ? nl + 1 : NULL;
	}
	strbuf_release(&b);
	return v;
}

/* ---- tests ---- */

/* Known numbers, by hand. */
static void test_exact_small(void **state)
{
	(void)state;
	struct event ev[8];
	struct rec rc[8];
	open_store();
	make(&ev[0], &rc[0], T0 + 1, "LOGIN_FAIL", "198.51.100.1", "root", "h1", "sshd", NULL);
	make(&ev[1], &rc[1], T0 + 2, "LOGIN_FAIL", "198.51.100.1", "root", "h1", "sshd", NULL);
	make(&ev[2], &rc[2], T0 + 3, "LOGIN_FAIL", "2001:db8::1", "admin", "h2", "sshd", NULL);
	make(&ev[3], &rc[3], T0 + PERIOD + 4, "LOGIN_FAIL", "198.51.100.2", "root", "h1", "sshd",
	     NULL);
	make(&ev[4], &rc[4], T0 + PERIOD + 5, "DNS_BLOCK", "192.168.1.10", NULL, "pihole", NULL,
	     "ads.example.com");
	make(&ev[5], &rc[5], T0 + 2 * PERIOD, "DNS_BLOCK", "192.168.1.10", NULL, "pihole", NULL,
	     "ads.example.com");
	put(ev, rc, 3, false);
	put(ev + 3, rc + 3, 3, false);
	bool used = false;
	json_t *o = top(0, "LOGIN_FAIL", T0, T0 + 3 * PERIOD, false, &used);
	json_t *want =
	    json_pack("[{s:s,s:i},{s:s,s:i},{s:s,s:i}]", "value", "198.51.100.1", "count", 2,
		      "value", "198.51.100.2", "count", 1, "value", "2001:db8::1", "count", 1);
	assert_true(json_equal(json_object_get(o, "values"), want));
	assert_int_equal(json_integer_value(json_object_get(o, "total")), 4);
	assert_true(used);
	json_decref(o);
	json_decref(want);
	o = top(4, NULL, T0, T0 + 3 * PERIOD, false, &used);
	want = json_pack("[{s:s,s:i}]", "value", "ads.example.com", "count", 2);
	assert_true(json_equal(json_object_get(o, "values"), want));
	json_decref(o);
	json_decref(want);
	check_all(3 * PERIOD, true);
}

static void test_exact_across_commits(void **state)
{
	(void)state;
	open_store();
	put_random(6000, 97, ts_spread, 300, 40);
	check_all(6000 * 200000LL, true);
	put_random(3000, 500, ts_spread, 300, 40);
	check_all(9000 * 200000LL, true);
}

static void test_rollback_counts_nothing(void **state)
{
	(void)state;
	struct event evs[300];
	struct rec rcs[300];
	open_store();
	for (int i = 0; i < 300; i++) /* past a batch: some are looked up before the rollback */
		make_random(&evs[i], &rcs[i], T0 + i * 1000000LL, 50, 10);
	put(evs, rcs, 300, true);
	check_all(300 * 1000000LL, false);
	put(evs + 100, rcs + 100, 100, false);
	check_all(300 * 1000000LL, true);
}

static void test_late_events_and_packed_periods(void **state)
{
	(void)state;
	open_store();
	put_random(12000, 400, ts_late, 2000, 100);
	check_all(30 * MIN + 12000 * 150000LL, true);
}

static void test_random_times(void **state)
{
	(void)state;
	open_store();
	put_random(8000, 333, ts_random, 500, 60);
	check_all(24 * PERIOD, true);
}

static void test_rolls_and_sealed_segments(void **state)
{
	(void)state;
	seg_rows = 1500;
	open_store();
	put_random(5000, 250, ts_spread, 400, 40);
	check_all(5000 * 200000LL, true); /* sealed segments in memory or written out */
	wait_indexed();
	check_all(5000 * 200000LL, true);
	put_random(4000, 250, ts_late, 400, 40);
	wait_indexed();
	check_all(30 * MIN + 9000 * 150000LL, true);
}

/* Segments sealed faster than the indexer writes them out: the oldest counts leave memory
 * and their segments are counted from the events until then. */
static void test_many_rolls(void **state)
{
	(void)state;
	seg_rows = 60;
	stats_rollup_set_limit(40 * 1024); /* a few sealed segments' counts wait in memory */
	open_store();
	put_random(3000, 60, ts_spread, 200, 20);
	check_all(3000 * 200000LL, false);
	wait_indexed();
	check_all(3000 * 200000LL, true);
}

/* Events one at a time until the active segment is sealed. */
static void put_until_roll(void)
{
	struct store_stats st;
	assert_int_equal(store_stats(S, &st), 0);
	int64_t segs = st.segments;
	while (st.segments == segs) {
		put_random(1, 1, ts_spread, 500, 50);
		assert_int_equal(store_stats(S, &st), 0);
	}
}

static void test_restart_reloads_the_active_segment(void **state)
{
	(void)state;
	seg_rows = 4000;
	open_store();
	put_random(6000, 300, ts_spread, 500, 50);
	store_close(S);
	open_store();
	check_all(6000 * 200000LL, true);
	put_random(3000, 300, ts_spread, 500, 50);
	/* Stopped right after a roll: that segment's counts were in memory only, and its
	 * tables are made from its events after the restart. */
	put_until_roll();
	store_close(S);
	open_store();
	check_all((int64_t)seq * 200000, true);
	wait_indexed();
	check_all((int64_t)seq * 200000, true);
}

static void test_memory_bound_falls_back_to_scans(void **state)
{
	(void)state;
	const char *m = "minisiem_stats_top_fallbacks_total{field=\"source_ip\"} ";
	int64_t before = metric_value(m);
	stats_rollup_set_limit(256 * 1024);
	seg_rows = 15000;
	open_store();
	put_random(20000, 1000, ts_spread, 20000, 30);
	assert_true(metric_value(m) > before);
	assert_true(metric_value("minisiem_stats_top_memory_bytes ") <= 2 * 256 * 1024);
	check_all(20000 * 200000LL, false);
	/* The fields kept still answer from memory. */
	bool used = false;
	json_decref(top(3, NULL, T0 + 16000 * 200000LL, T0 + 20000 * 200000LL, false, &used));
	assert_true(used);
	/* The sealed segment's tables: the field memory dropped from its events. */
	wait_indexed();
	check_all(20000 * 200000LL, false);
	store_close(S);
	open_store(); /* reloading falls back the same way */
	check_all(20000 * 200000LL, false);
}

/* ---- readers racing the writer ---- */

static _Atomic int stop_reader;
static int reader_failures, reader_checks;

/* Each transaction adds 5 events for user "race" in period 0 and 5 in period 2 (at its
 * start); a range covering period 0 whole and period 2's first minute counts period 0 from
 * memory and the minute from the events: the two must be of the same commit. */
static void *reader(void *arg)
{
	(void)arg;
	while (!stop_reader) {
		bool used;
		json_t *o = top(1, NULL, T0, T0 + 2 * PERIOD + MIN, false, &used);
		json_t *v = json_array_get(json_object_get(o, "values"), 0);
		int64_t n = v ? json_integer_value(json_object_get(v, "count")) : 0;
		if (n % 10)
			reader_failures++;
		reader_checks++;
		json_decref(o);
	}
	return NULL;
}

static void test_readers_see_whole_commits(void **state)
{
	(void)state;
	struct event evs[11];
	struct rec rcs[11];
	pthread_t th;
	open_store();
	/* A late event keeps period 2 from being the segment's last: its edge is scanned. */
	make(&evs[0], &rcs[0], T0 + 5 * PERIOD, "GENERIC", NULL, "other", "h", NULL, NULL);
	put(evs, rcs, 1, false);
	stop_reader = 0;
	assert_int_equal(pthread_create(&th, NULL, reader, NULL), 0);
	for (int t = 0; t < 1500; t++) {
		for (int i = 0; i < 10; i++)
			make(&evs[i], &rcs[i], T0 + (i < 5 ? 1 : 2 * PERIOD + 1), "GENERIC", NULL,
			     "race", "h", NULL, NULL);
		put(evs, rcs, 10, false);
		arena_reset(&A);
	}
	stop_reader = 1;
	pthread_join(th, NULL);
	assert_true(reader_checks > 0);
	assert_int_equal(reader_failures, 0);
	json_t *o = top(1, NULL, T0, T0 + 2 * PERIOD + MIN, false, &(bool){false});
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(o, "values"), 0), "count")),
			 15000);
	json_decref(o);
}

#define TS(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TS(test_exact_small),
	    TS(test_exact_across_commits),
	    TS(test_rollback_counts_nothing),
	    TS(test_late_events_and_packed_periods),
	    TS(test_random_times),
	    TS(test_rolls_and_sealed_segments),
	    TS(test_many_rolls),
	    TS(test_restart_reloads_the_active_segment),
	    TS(test_memory_bound_falls_back_to_scans),
	    TS(test_readers_see_whole_commits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
