/* test_idset.c — the in-memory event ids of unindexed segments: lookups, deletion by
 * backward shift, and the table's size when the ids to expect are known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/idset.h"

/* Deterministic ids: a splitmix64 stream (random-looking, like UUIDv4s), or a counter in
 * the first bytes (clustered, the worst case for the hash). */
static void make_id(uint8_t id[16], uint64_t i, int clustered)
{
	uint64_t a = i, b = 0;
	if (!clustered) {
		uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ULL;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		a = z ^ (z >> 31);
		b = a * 31 + i;
	}
	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

static void check_put_get_del(int clustered, size_t expect)
{
	struct idset s;
	uint8_t id[16];
	const size_t n = 200000;
	idset_init(&s);
	idset_expect(&s, expect);
	for (size_t i = 0; i < n; i++) {
		make_id(id, i, clustered);
		assert_int_equal(idset_get(&s, id), 0);
		assert_int_equal(idset_put(&s, id, (int64_t)i + 1), 0);
	}
	assert_int_equal(s.n, n);
	/* Remove every third id: the others stay findable across the holes. */
	for (size_t i = 0; i < n; i += 3) {
		make_id(id, i, clustered);
		idset_del(&s, id);
	}
	for (size_t i = 0; i < n; i++) {
		make_id(id, i, clustered);
		assert_int_equal(idset_get(&s, id), i % 3 ? (int64_t)i + 1 : 0);
	}
	/* Put back: the same seqs again. */
	for (size_t i = 0; i < n; i += 3) {
		make_id(id, i, clustered);
		assert_int_equal(idset_put(&s, id, (int64_t)i + 1), 0);
	}
	for (size_t i = 0; i < n; i++) {
		make_id(id, i, clustered);
		assert_int_equal(idset_get(&s, id), (int64_t)i + 1);
	}
	assert_int_equal(s.n, n);
	idset_release(&s);
}

static void test_random_ids(void **state)
{
	(void)state;
	check_put_get_del(0, 0);
}

static void test_clustered_ids(void **state)
{
	(void)state;
	check_put_get_del(1, 0);
}

static void test_expected_size_not_a_power_of_two(void **state)
{
	(void)state;
	check_put_get_del(0, 200000);
	struct idset s;
	uint8_t id[16];
	idset_init(&s);
	idset_expect(&s, 500000);
	for (size_t i = 0; i < 500000; i++) {
		make_id(id, i, 0);
		assert_int_equal(idset_put(&s, id, (int64_t)i + 1), 0);
	}
	/* 500,000 ids at three quarters full, not the 1,048,576 slots of a power of two. */
	assert_true(s.cap >= 500000 / 3 * 4);
	assert_true(s.cap < 700000);
	/* Past the expected count it still grows, by a quarter. */
	size_t cap = s.cap;
	for (size_t i = 500000; i < 600000; i++) {
		make_id(id, i, 0);
		assert_int_equal(idset_put(&s, id, (int64_t)i + 1), 0);
	}
	assert_true(s.cap > cap && s.cap < cap * 2);
	for (size_t i = 0; i < 600000; i += 997) {
		make_id(id, i, 0);
		assert_int_equal(idset_get(&s, id), (int64_t)i + 1);
	}
	assert_int_equal(idset_bytes(&s), s.cap * sizeof(struct idset_slot));
	idset_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_ids),
	    cmocka_unit_test(test_clustered_ids),
	    cmocka_unit_test(test_expected_size_not_a_power_of_two),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
