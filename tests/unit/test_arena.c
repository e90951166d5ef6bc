/* test_arena.c — the bump allocator: alignment, copies, the limit, chunks past the usual
 * size, reset keeping (and reusing) one chunk, and sizes that would overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"

static void test_alloc_is_aligned_and_counted(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	size_t want = 0;
	for (size_t n = 0; n < 100; n++) {
		unsigned char *p = arena_alloc(&a, n);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 0xab, n); /* writable to its end */
		want += n == 0 ? 16 : (n + 15) / 16 * 16;
		assert_int_equal(a.used, want);
	}
	arena_release(&a);
	assert_null(a.head);
	assert_int_equal(a.used, 0);
}

static void test_allocations_do_not_overlap(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	unsigned char *p[300];
	for (int i = 0; i < 300; i++) { /* 300 x 1000 bytes: several 64 KiB chunks */
		p[i] = arena_alloc(&a, 1000);
		assert_non_null(p[i]);
		memset(p[i], i & 0xff, 1000);
	}
	for (int i = 0; i < 300; i++)
		for (int k = 0; k < 1000; k += 111)
			assert_int_equal(p[i][k], i & 0xff);
	arena_release(&a);
}

static void test_strndup_copies_and_terminates(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	const char src[] = "hello, world";
	char *s = arena_strndup(&a, src, 5);
	assert_string_equal(s, "hello");
	assert_ptr_not_equal(s, src);
	char *e = arena_strndup(&a, src, 0);
	assert_non_null(e);
	assert_string_equal(e, "");
	char *nul = arena_strndup(&a, "a\0b", 3); /* n bytes, NULs included */
	assert_memory_equal(nul, "a\0b\0", 4);
	assert_null(arena_strndup(&a, src, SIZE_MAX));
	arena_release(&a);
}

static void test_limit(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 64);
	assert_non_null(arena_alloc(&a, 48));
	assert_non_null(arena_alloc(&a, 16)); /* exactly at the limit */
	assert_int_equal(a.used, 64);
	assert_null(arena_alloc(&a, 1));
	assert_int_equal(a.used, 64); /* a refusal takes nothing */
	assert_null(arena_strndup(&a, "x", 1));
	arena_reset(&a);
	assert_int_equal(a.used, 0);
	assert_non_null(arena_alloc(&a, 64));
	assert_null(arena_alloc(&a, 1)); /* rounds to 16: over */
	arena_release(&a);

	arena_init(&a, 100);
	assert_null(arena_alloc(&a, 101));
	assert_null(arena_alloc(&a, SIZE_MAX / 2));
	assert_int_equal(a.used, 0);
	arena_release(&a);
}

static void test_big_allocation_gets_its_own_chunk(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	unsigned char *small = arena_alloc(&a, 100);
	unsigned char *big = arena_alloc(&a, 1 << 20);
	assert_non_null(small);
	assert_non_null(big);
	memset(big, 1, 1 << 20);
	memset(small, 2, 100);
	assert_int_equal(big[(1 << 20) - 1], 1);
	assert_int_equal(a.used, 112 + (1 << 20));
	arena_release(&a);
}

static void test_reset_keeps_the_arena_usable(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 200; i++) {
			char *p = arena_alloc(&a, 500);
			assert_non_null(p);
			memset(p, 'x', 500);
		}
		arena_reset(&a);
		assert_int_equal(a.used, 0);
		assert_non_null(a.head); /* one chunk of the usual size is kept for the next */
	}
	/* a reset after one big allocation keeps nothing (only usual-size chunks are kept) */
	assert_non_null(arena_alloc(&a, 1 << 20));
	arena_reset(&a);
	assert_null(a.head);
	arena_release(&a);
}

/* A small arena (one request) reuses its first chunk after each reset; one that grew over
 * several chunks keeps the newest. */
static void test_reset_reuses_the_newest_chunk(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	void *first = arena_alloc(&a, 100);
	for (int round = 0; round < 10; round++) {
		arena_reset(&a);
		assert_ptr_equal(arena_alloc(&a, 100), first);
	}
	for (int i = 0; i < 300; i++)
		assert_non_null(arena_alloc(&a, 1000));
	struct arena_chunk *newest = a.head;
	arena_reset(&a);
	assert_ptr_equal(a.head, newest);
	assert_int_equal(a.used, 0);
	arena_release(&a);
}

/* A size near SIZE_MAX must be refused, not rounded up past zero into a 16-byte block. */
static void test_overflowing_sizes_are_refused(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 14, SIZE_MAX - 15};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = arena_alloc(&a, sizes[i]);
		if (p)
			fail_msg("arena_alloc(SIZE_MAX - %zu) returned a block (the size wrapped "
				 "around when rounded up to 16)",
				 SIZE_MAX - sizes[i]);
	}
	assert_null(arena_strndup(&a, "x", SIZE_MAX - 1));
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alloc_is_aligned_and_counted),
	    cmocka_unit_test(test_allocations_do_not_overlap),
	    cmocka_unit_test(test_strndup_copies_and_terminates),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_big_allocation_gets_its_own_chunk),
	    cmocka_unit_test(test_reset_keeps_the_arena_usable),
	    cmocka_unit_test(test_reset_reuses_the_newest_chunk),
	    cmocka_unit_test(test_overflowing_sizes_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
