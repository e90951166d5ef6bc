/* test_memidx.c — the in-memory postings of unindexed segments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>

#include "store/memidx.h"

static void test_counts_and_collects_in_order(void **state)
{
	(void)state;
	struct memidx *m = memidx_new(1000);
	assert_non_null(m);
	for (int64_t seq = 1000; seq < 1100; seq++) {
		assert_int_equal(
		    memidx_add(m, MI_USER, seq % 2 ? "odd" : "even", seq % 2 ? 3 : 4, seq), 0);
		assert_int_equal(memidx_add(m, MI_APP, "web", 3, seq), 0);
	}
	assert_int_equal(memidx_count(m, MI_USER, "odd", 3), 50);
	assert_int_equal(memidx_count(m, MI_USER, "even", 4), 50);
	assert_int_equal(memidx_count(m, MI_APP, "web", 3), 100);
	assert_int_equal(memidx_count(m, MI_USER, "web", 3), 0); /* fields are apart */
	assert_int_equal(memidx_count(m, MI_USER, "od", 2), 0);
	int64_t *out = NULL;
	size_t n = 0, cap = 0;
	assert_int_equal(memidx_collect(m, MI_USER, "odd", 3, &out, &n, &cap), 0);
	assert_int_equal(n, 50);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i], 1001 + 2 * (int64_t)i);
	free(out);
	memidx_free(m);
}

static void test_keys_with_nul_bytes_and_growth(void **state)
{
	(void)state;
	struct memidx *m = memidx_new(1);
	char key[8] = {'a', '\0', 'b'};
	assert_int_equal(memidx_add(m, MI_HOST, key, 3, 1), 0);
	assert_int_equal(memidx_count(m, MI_HOST, "a", 1), 0);
	assert_int_equal(memidx_count(m, MI_HOST, key, 3), 1);
	/* Many distinct keys: the table grows and keeps every one. */
	for (int i = 0; i < 20000; i++) {
		char k[16];
		int kn = snprintf(k, sizeof(k), "ip%d", i);
		assert_int_equal(memidx_add(m, MI_IP, k, (size_t)kn, 2 + i), 0);
	}
	for (int i = 0; i < 20000; i += 997) {
		char k[16];
		int kn = snprintf(k, sizeof(k), "ip%d", i);
		assert_int_equal(memidx_count(m, MI_IP, k, (size_t)kn), 1);
	}
	assert_true(memidx_bytes(m) > 0);
	/* Seqs below the base or too far above it are refused. */
	assert_int_equal(memidx_add(m, MI_APP, "x", 1, 0), -ERANGE);
	assert_int_equal(memidx_add(m, MI_APP, "x", 1, 1 + ((int64_t)1 << 33)), -ERANGE);
	memidx_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counts_and_collects_in_order),
	    cmocka_unit_test(test_keys_with_nul_bytes_and_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
