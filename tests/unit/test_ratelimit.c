/* test_ratelimit.c — the brute-force limiter: places reserved before the check, the window,
 * the backoff, separate tables, bounded memory, IPv6 /64 buckets and long keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/ratelimit.h"

#define S 1000000LL /* one second in microseconds */
#define T0 (1000 * S)

static struct ratelimit *make(int max, int64_t window_s, int64_t backoff_s, size_t slots)
{
	struct ratelimit *rl = NULL;
	struct ratelimit_config c = {
	    .max_failures = max, .window_s = window_s, .backoff_max_s = backoff_s, .slots = slots};
	assert_int_equal(ratelimit_new(&rl, &c), 0);
	return rl;
}

static void fail_n(struct ratelimit *rl, const char *key, int n, int64_t now)
{
	for (int i = 0; i < n; i++) {
		assert_int_equal(ratelimit_acquire(rl, key, now), 0);
		ratelimit_release(rl, key, now, RATELIMIT_FAILED);
	}
}

/* Twelve attempts at once: five get a place, the others wait a second; when the five fail
 * the key waits for its window. */
static void test_places_in_flight_count(void **state)
{
	(void)state;
	struct ratelimit *rl = make(5, 60, 0, 64);
	int placed = 0;
	for (int i = 0; i < 12; i++) {
		int64_t w = ratelimit_acquire(rl, "10.0.0.1", T0);
		if (w == 0)
			placed++;
		else
			assert_int_equal(w, 1);
	}
	assert_int_equal(placed, 5);
	for (int i = 0; i < 5; i++)
		ratelimit_release(rl, "10.0.0.1", T0 + S, RATELIMIT_FAILED);
	assert_int_equal(ratelimit_acquire(rl, "10.0.0.1", T0 + 2 * S), 59);
	/* another key is not affected */
	assert_int_equal(ratelimit_acquire(rl, "10.0.0.2", T0 + 2 * S), 0);
	ratelimit_release(rl, "10.0.0.2", T0 + 2 * S, RATELIMIT_RELEASE);
	ratelimit_free(rl);
}

static void test_window_ends(void **state)
{
	(void)state;
	struct ratelimit *rl = make(3, 60, 0, 64);
	fail_n(rl, "a", 3, T0);
	assert_true(ratelimit_acquire(rl, "a", T0 + 59 * S) > 0);
	assert_int_equal(ratelimit_acquire(rl, "a", T0 + 60 * S), 0);
	ratelimit_release(rl, "a", T0 + 60 * S, RATELIMIT_FAILED);
	/* a new series: one failure so far */
	fail_n(rl, "a", 1, T0 + 61 * S);
	assert_int_equal(ratelimit_acquire(rl, "a", T0 + 62 * S), 0);
	ratelimit_release(rl, "a", T0 + 62 * S, RATELIMIT_FAILED);
	assert_int_equal(ratelimit_acquire(rl, "a", T0 + 63 * S), 60 - 3);
	ratelimit_free(rl);
}

static void test_success_forgets_release_keeps(void **state)
{
	(void)state;
	struct ratelimit *rl = make(3, 60, 0, 64);
	fail_n(rl, "a", 2, T0);
	assert_int_equal(ratelimit_acquire(rl, "a", T0), 0);
	ratelimit_release(rl, "a", T0, RATELIMIT_RELEASE); /* not a failure, not a pass */
	fail_n(rl, "a", 1, T0);
	assert_true(ratelimit_acquire(rl, "a", T0) > 0);

	fail_n(rl, "b", 2, T0);
	assert_int_equal(ratelimit_acquire(rl, "b", T0), 0);
	ratelimit_release(rl, "b", T0, RATELIMIT_PASSED);
	fail_n(rl, "b", 2, T0); /* counted from zero again */
	assert_int_equal(ratelimit_acquire(rl, "b", T0), 0);
	ratelimit_release(rl, "b", T0, RATELIMIT_RELEASE);
	ratelimit_free(rl);
}

/* Past the limit: 2, 4, 8... s after each failure, capped; forgotten after a quiet window. */
static void test_backoff_doubles_and_is_capped(void **state)
{
	(void)state;
	struct ratelimit *rl = make(5, 900, 20, 64);
	fail_n(rl, "alice", 5, T0);
	int64_t now = T0, want[] = {2, 4, 8, 16, 20, 20};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(ratelimit_acquire(rl, "alice", now), want[i]);
		assert_true(ratelimit_acquire(rl, "alice", now + (want[i] - 1) * S) > 0);
		now += want[i] * S;
		assert_int_equal(ratelimit_acquire(rl, "alice", now), 0);
		/* one attempt at a time past the limit */
		assert_int_equal(ratelimit_acquire(rl, "alice", now), 1);
		ratelimit_release(rl, "alice", now, RATELIMIT_FAILED);
	}
	/* failures are forgotten after 900 quiet seconds, not before */
	now += 899 * S;
	assert_int_equal(ratelimit_acquire(rl, "alice", now), 0);
	ratelimit_release(rl, "alice", now, RATELIMIT_FAILED);
	assert_int_equal(ratelimit_acquire(rl, "alice", now + 899 * S), 0);
	assert_int_equal(ratelimit_acquire(rl, "alice", now + 899 * S), 1);
	ratelimit_release(rl, "alice", now + 899 * S, RATELIMIT_RELEASE);
	now += 900 * S;
	fail_n(rl, "alice", 4, now);
	assert_int_equal(ratelimit_acquire(rl, "alice", now), 0);
	ratelimit_release(rl, "alice", now, RATELIMIT_PASSED);
	/* a pass forgets at once */
	fail_n(rl, "alice", 4, now);
	assert_int_equal(ratelimit_acquire(rl, "alice", now), 0);
	ratelimit_release(rl, "alice", now, RATELIMIT_RELEASE);
	ratelimit_free(rl);
}

static void test_tables_are_separate(void **state)
{
	(void)state;
	struct ratelimit *a = make(2, 60, 0, 64), *b = make(2, 60, 0, 64);
	fail_n(a, "k", 2, T0);
	assert_true(ratelimit_acquire(a, "k", T0) > 0);
	assert_int_equal(ratelimit_acquire(b, "k", T0), 0);
	ratelimit_release(b, "k", T0, RATELIMIT_RELEASE);
	ratelimit_free(a);
	ratelimit_free(b);
}

/* A flood of new keys stays within the table, evicts the keys with fewest failures first,
 * and never a key with an attempt in flight. */
static void test_bounded_and_eviction_order(void **state)
{
	(void)state;
	struct ratelimit *rl = make(5, 60, 0, 64);
	fail_n(rl, "target", 5, T0);
	assert_int_equal(ratelimit_acquire(rl, "busy", T0), 0);
	char k[32];
	for (int i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "flood-%d", i);
		if (ratelimit_acquire(rl, k, T0 + S) == 0)
			ratelimit_release(rl, k, T0 + S, RATELIMIT_FAILED);
	}
	assert_true(ratelimit_acquire(rl, "target", T0 + 2 * S) > 0);
	ratelimit_release(rl, "busy", T0 + 2 * S, RATELIMIT_FAILED);
	assert_true(ratelimit_evictions(rl) > 0);
	ratelimit_free(rl);
}

static const char *bucket(const char *addr)
{
	static char out[64];
	ratelimit_addr_key(addr, out, sizeof(out));
	return out;
}

static void test_address_buckets(void **state)
{
	(void)state;
	assert_string_equal(bucket("192.0.2.7"), "192.0.2.7");
	assert_string_equal(bucket("::ffff:192.0.2.7"), "192.0.2.7");
	assert_string_equal(bucket("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
	assert_string_equal(bucket("2001:db8:1:2::1"), "2001:db8:1:2::/64");
	assert_string_equal(bucket("2001:db8:1:3::1"), "2001:db8:1:3::/64");
	assert_string_equal(bucket("::1"), "::/64");
	assert_string_equal(bucket("unknown"), "unknown");
}

/* A key is counted by its first 103 bytes: two that differ only after them share their
 * failures, one that differs before does not. */
static void test_long_keys_are_cut(void **state)
{
	(void)state;
	struct ratelimit *rl = make(3, 60, 0, 64);
	char a[300], b[300], c[300];
	memset(a, 'u', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	memcpy(c, a, sizeof(c));
	b[103] = 'x';
	c[102] = 'x';
	fail_n(rl, a, 3, T0);
	assert_int_equal(ratelimit_acquire(rl, b, T0 + S), 59);
	assert_int_equal(ratelimit_acquire(rl, c, T0 + S), 0);
	ratelimit_release(rl, c, T0 + S, RATELIMIT_RELEASE);
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_places_in_flight_count),
	    cmocka_unit_test(test_window_ends),
	    cmocka_unit_test(test_success_forgets_release_keeps),
	    cmocka_unit_test(test_backoff_doubles_and_is_capped),
	    cmocka_unit_test(test_tables_are_separate),
	    cmocka_unit_test(test_bounded_and_eviction_order),
	    cmocka_unit_test(test_address_buckets),
	    cmocka_unit_test(test_long_keys_are_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
