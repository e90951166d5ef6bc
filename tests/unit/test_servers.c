/* test_servers.c — the agent's --server list (commas, repeats, blanks, bad URLs, the bound)
 * and its failover order: the next hub on a failure, the same hub while it works, back to
 * the first after the failback time, and the backoff rounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <errno.h>

#include <cmocka.h>

#include "agent/servers.h"

static void test_list_commas_and_repeats(void **state)
{
	(void)state;
	struct server_list l = {0};
	char err[300] = "";
	assert_int_equal(
	    servers_add(&l, " https://a:8080 ,http://b:8080/ingest,, ", err, sizeof(err)), 0);
	assert_int_equal(servers_add(&l, "https://c", err, sizeof(err)), 0);
	assert_int_equal(servers_add(&l, "https://a:8080", err, sizeof(err)), 0); /* once */
	assert_int_equal(l.n, 3);
	assert_string_equal(l.url[0], "https://a:8080");
	assert_string_equal(l.url[1], "http://b:8080/ingest");
	assert_string_equal(l.url[2], "https://c");
	assert_true(servers_any_plain(&l));
	servers_release(&l);
	assert_int_equal(l.n, 0);
	assert_int_equal(servers_add(&l, "", err, sizeof(err)), 0);
	assert_int_equal(servers_add(&l, NULL, err, sizeof(err)), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(servers_add(&l, "https://only", err, sizeof(err)), 0);
	assert_false(servers_any_plain(&l));
	servers_release(&l);
}

static void test_list_bad_urls_change_nothing(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "https://a,ftp://b",     "https://a,hub:8080", "https://",
	    "http://:8080",	     "https:///ingest",	   "https://a b",
	    "https://a,https://\tb",
	};
	struct server_list l = {0};
	char err[300];
	assert_int_equal(servers_add(&l, "https://first", err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(servers_add(&l, bad[i], err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "--server"));
		assert_int_equal(l.n, 1); /* the good URLs before the bad one are not added */
	}
	assert_non_null(strstr(err, "blank"));
	servers_release(&l);
}

static void test_list_bound(void **state)
{
	(void)state;
	struct server_list l = {0};
	char err[300], u[64];
	for (int i = 0; i < SERVERS_MAX; i++) {
		snprintf(u, sizeof(u), "https://h%d", i);
		assert_int_equal(servers_add(&l, u, err, sizeof(err)), 0);
	}
	assert_int_equal(servers_add(&l, "https://one-too-many", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than"));
	assert_int_equal(l.n, SERVERS_MAX);
	servers_release(&l);
}

static void test_failover_order(void **state)
{
	(void)state;
	struct failover f;
	bool back;
	failover_init(&f, 3, 300000);
	assert_int_equal(failover_pick(&f, 0, &back), 0);
	assert_false(back);
	/* a working hub is kept */
	failover_ok(&f);
	assert_int_equal(failover_pick(&f, 10, &back), 0);
	/* failures walk the list; the backoff round grows only once all were tried */
	assert_int_equal(failover_failed(&f, 100), 0);
	assert_int_equal(failover_pick(&f, 100, &back), 1);
	assert_int_equal(failover_failed(&f, 200), 0);
	assert_int_equal(failover_pick(&f, 200, &back), 2);
	assert_int_equal(failover_failed(&f, 300), 0);
	assert_int_equal(failover_pick(&f, 300, &back), 0); /* wrapped around */
	assert_int_equal(failover_failed(&f, 400), 1);
	assert_int_equal(failover_failed(&f, 500), 1);
	assert_int_equal(failover_failed(&f, 600), 1);
	assert_int_equal(failover_failed(&f, 700), 2);
	assert_int_equal(failover_pick(&f, 700, &back), 1);
	/* the second one works: it is kept, the rounds start again */
	failover_ok(&f);
	assert_int_equal(failover_pick(&f, 1000, &back), 1);
	assert_false(back);
	assert_int_equal(failover_failed(&f, 1100), 0);
	assert_int_equal(failover_pick(&f, 1100, &back), 2);
	failover_ok(&f);
	/* it left the first at 700: it goes back to it at 700 + 300000, not before */
	assert_int_equal(failover_pick(&f, 300699, &back), 2);
	assert_false(back);
	assert_int_equal(failover_pick(&f, 300700, &back), 0);
	assert_true(back);
	assert_int_equal(failover_pick(&f, 300701, &back), 0);
	assert_false(back);
	/* the first fails again: on to the second, and the first is tried again a failback
	 * time after this failure */
	assert_int_equal(failover_failed(&f, 400000), 0);
	assert_int_equal(failover_pick(&f, 400000, &back), 1);
	assert_int_equal(failover_pick(&f, 699999, &back), 1);
	assert_int_equal(failover_pick(&f, 700000, &back), 0);
	assert_true(back);
}

static void test_failover_single(void **state)
{
	(void)state;
	struct failover f;
	bool back;
	failover_init(&f, 1, 1000);
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(failover_failed(&f, (int64_t)i * 5000), i); /* doubles each try */
		assert_int_equal(failover_pick(&f, (int64_t)i * 5000, &back), 0);
		assert_false(back);
	}
	failover_ok(&f);
	assert_int_equal(failover_failed(&f, 99999), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_commas_and_repeats),
	    cmocka_unit_test(test_list_bad_urls_change_nothing),
	    cmocka_unit_test(test_list_bound),
	    cmocka_unit_test(test_failover_order),
	    cmocka_unit_test(test_failover_single),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
