/* test_hash.c — 64-bit FNV-1a against the published test vectors (Landon Curt Noll's
 * table), and hash_cont continuing a hash piece by piece. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/hash.h"

static void test_fnv1a_64_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t n;
		uint64_t h;
	} v[] = {
	    {"", 0, 0xcbf29ce484222325ULL},
	    {"a", 1, 0xaf63dc4c8601ec8cULL},
	    {"b", 1, 0xaf63df4c8601f1a5ULL},
	    {"foobar", 6, 0x85944171f73967e8ULL},
	    {"\0", 1, 0xaf63bd4c8601b7dfULL},
	    {"chongo was here!\n", 17, 0x46810940eff5f915ULL},
	    {"\xff\xff\xff\xff", 4, 0x994f76653e2a3951ULL},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (hash_bytes(v[i].s, v[i].n) != v[i].h)
			fail_msg("hash_bytes(\"%s\") = %#llx, want %#llx", v[i].s,
				 (unsigned long long)hash_bytes(v[i].s, v[i].n),
				 (unsigned long long)v[i].h);
	assert_true(HASH_FNV_OFFSET == 0xcbf29ce484222325ULL);
	assert_true(HASH_FNV_PRIME == 0x100000001b3ULL);
}

static void test_cont_is_hash_of_the_concatenation(void **state)
{
	(void)state;
	uint64_t h = hash_cont(HASH_FNV_OFFSET, "foo", 3);
	assert_true(hash_cont(h, "bar", 3) == hash_bytes("foobar", 6));
	assert_true(hash_cont(h, "", 0) == h);
	/* every split of a string gives the same hash */
	const char *s = "the quick brown fox";
	size_t n = strlen(s);
	for (size_t k = 0; k <= n; k++)
		assert_true(hash_cont(hash_cont(HASH_FNV_OFFSET, s, k), s + k, n - k) ==
			    hash_bytes(s, n));
}

static void test_bytes_not_strings(void **state)
{
	(void)state;
	/* the length counts, NULs and high bytes included (no sign extension) */
	assert_true(hash_bytes("a\0b", 3) != hash_bytes("a", 1));
	assert_true(hash_bytes("a\0b", 3) != hash_bytes("a\0c", 3));
	assert_true(hash_bytes("\x80", 1) == 0xaf643d4c8602915fULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fnv1a_64_vectors),
	    cmocka_unit_test(test_cont_is_hash_of_the_concatenation),
	    cmocka_unit_test(test_bytes_not_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
