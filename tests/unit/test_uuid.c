/* test_uuid.c — event ids: parse and format (both text forms), the deterministic v5 in the
 * project's namespace (vectors computed with Python's uuid.uuid5), random v4 ids. */
#include <ctype.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/event.h"

static void test_uuid_parse_format_round_trip(void **state)
{
	(void)state;
	static const uint8_t want[16] = {0x3f, 0x25, 0x04, 0xe0, 0x4f, 0x89, 0x41, 0xd3,
					 0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01};
	uint8_t id[16];
	char buf[37];
	assert_int_equal(uuid_parse("3F2504E0-4f89-41D3-9a0c-0305e82c3301", 36, id), 0);
	assert_memory_equal(id, want, 16);
	uuid_format(id, buf);
	assert_string_equal(buf, "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
	memset(id, 0, 16);
	assert_int_equal(uuid_parse("3f2504e04f8941d39a0c0305e82c3301", 32, id), 0);
	assert_memory_equal(id, want, 16);
}

static void test_uuid_parse_rejects(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "",
	    "3f2504e0-4f89-41d3-9a0c-0305e82c330",
	    "3f2504e0-4f89-41d3-9a0c-0305e82c33011",
	    "3f2504e04f89-41d3-9a0c-0305e82c3301-",
	    "3f2504e0-4f89-41d3-9a0c-0305e82c330g",
	    "3f2504e0+4f89-41d3-9a0c-0305e82c3301",
	    "3f2504e0-4f89+41d3-9a0c-0305e82c3301",
	    "3f2504e0-4f89-41d3+9a0c-0305e82c3301",
	    "3f2504e0-4f89-41d3-9a0c+0305e82c3301",
	    "{3f2504e0-4f89-41d3-9a0c-0305e82c33}",
	    "3f2504e04f8941d39a0c0305e82c330z",
	};
	uint8_t id[16];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (uuid_parse(bad[i], strlen(bad[i]), id) != SIEM_EPARSE)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_uuid_v5_deterministic(void **state)
{
	(void)state;
	uint8_t a[16], b[16], c[16];
	char buf[37];
	uuid_v5("auth.log:1234:0", 15, a);
	uuid_v5("auth.log:1234:0", 15, b);
	uuid_v5("auth.log:1234:1", 15, c);
	assert_memory_equal(a, b, 16);
	assert_memory_not_equal(a, c, 16);
	/* Same as Python: uuid5(UUID("e0fb347a-3294-52db-9bc2-9be6fe9d520b"), name) */
	uuid_format(a, buf);
	assert_string_equal(buf, "dae762d2-39aa-5685-b42e-4e34ba5c08b7");
	uuid_v5("", 0, a);
	uuid_format(a, buf);
	assert_string_equal(buf, "1be4a182-e91a-59d2-b982-8dab46f13586");
}

static void test_uuid_v5_version_and_variant(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 64; i++) {
		uint8_t id[16];
		uuid_v5(&i, sizeof(i), id);
		assert_int_equal(id[6] >> 4, 5);
		assert_int_equal(id[8] & 0xc0, 0x80);
	}
}

static void test_uuid_v4_version_and_unique(void **state)
{
	(void)state;
	uint8_t prev[16] = {0};
	for (int i = 0; i < 64; i++) {
		uint8_t id[16];
		uuid_v4(id);
		assert_int_equal(id[6] >> 4, 4);
		assert_int_equal(id[8] & 0xc0, 0x80);
		assert_memory_not_equal(id, prev, 16);
		memcpy(prev, id, 16);
	}
}

/* More vectors: uuid.uuid5(UUID("e0fb347a-3294-52db-9bc2-9be6fe9d520b"), name) in Python,
 * the namespace itself being uuid5(NAMESPACE_URL, "urn:minisiem:event"). Changing any of
 * them changes every deterministic event id, so a replayed log would be stored twice. */
static void test_uuid_v5_known_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *name, *id;
	} v[] = {
	    {"a", "d8754f8d-16c7-5027-9adc-421537baaa5b"},
	    {"hello", "0a0348bd-fd99-5ae4-8a13-d1653cf9ce6c"},
	    {"dev:1:2:3:line", "f630e35c-bade-55fe-9fa5-5324cdffcd21"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t id[16];
		char buf[37];
		uuid_v5(v[i].name, strlen(v[i].name), id);
		uuid_format(id, buf);
		assert_string_equal(buf, v[i].id);
	}
}

/* The text form of a v4 id: 8-4-4-4-12 lower-case hex, "4" as the version digit, 8/9/a/b
 * as the variant digit; and what uuid_format writes, uuid_parse reads back. */
static void test_uuid_v4_text_form(void **state)
{
	(void)state;
	for (int i = 0; i < 200; i++) {
		uint8_t id[16], back[16];
		char buf[37];
		memset(buf, 'X', sizeof(buf));
		uuid_v4(id);
		uuid_format(id, buf);
		assert_int_equal(strlen(buf), 36);
		for (int k = 0; k < 36; k++) {
			if (k == 8 || k == 13 || k == 18 || k == 23)
				assert_int_equal(buf[k], '-');
			else if (!isxdigit((unsigned char)buf[k]) || isupper((unsigned char)buf[k]))
				fail_msg("not lower-case hex at %d: %s", k, buf);
		}
		assert_int_equal(buf[14], '4');
		assert_non_null(strchr("89ab", buf[19]));
		assert_int_equal(uuid_parse(buf, 36, back), 0);
		assert_memory_equal(back, id, 16);
	}
}

/* Each thread draws from its own pool of random bytes: no two threads hand out one id. */
#define V4_THREADS 4
#define V4_PER_THREAD 2000

static uint8_t v4_ids[V4_THREADS][V4_PER_THREAD][16];

static void *v4_worker(void *arg)
{
	uint8_t(*ids)[16] = arg;
	for (int i = 0; i < V4_PER_THREAD; i++)
		uuid_v4(ids[i]);
	return NULL;
}

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static void test_uuid_v4_unique_across_threads(void **state)
{
	(void)state;
	pthread_t t[V4_THREADS];
	for (int i = 0; i < V4_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, v4_worker, v4_ids[i]), 0);
	for (int i = 0; i < V4_THREADS; i++)
		pthread_join(t[i], NULL);
	qsort(v4_ids, V4_THREADS * V4_PER_THREAD, 16, cmp16);
	uint8_t *all = &v4_ids[0][0][0];
	for (size_t i = 1; i < V4_THREADS * V4_PER_THREAD; i++)
		if (memcmp(all + (i - 1) * 16, all + i * 16, 16) == 0)
			fail_msg("the same v4 id was handed out twice");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uuid_parse_format_round_trip),
	    cmocka_unit_test(test_uuid_parse_rejects),
	    cmocka_unit_test(test_uuid_v5_deterministic),
	    cmocka_unit_test(test_uuid_v5_known_vectors),
	    cmocka_unit_test(test_uuid_v5_version_and_variant),
	    cmocka_unit_test(test_uuid_v4_version_and_unique),
	    cmocka_unit_test(test_uuid_v4_text_form),
	    cmocka_unit_test(test_uuid_v4_unique_across_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
