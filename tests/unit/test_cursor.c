/* test_cursor.c — the opaque page cursor of GET /events: (ts, seq) to 32 lowercase hex
 * digits and back, and what cursor_decode refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "core/err.h"

static void round_trip(int64_t ts, int64_t seq)
{
	char c[33];
	int64_t t = 0, s = 0;
	memset(c, 'x', sizeof(c));
	cursor_encode(ts, seq, c);
	assert_int_equal(strlen(c), 32);
	assert_int_equal(cursor_decode(c, &t, &s), 0);
	if (t != ts || s != seq)
		fail_msg("%s: got (%lld, %lld), want (%lld, %lld)", c, (long long)t, (long long)s,
			 (long long)ts, (long long)seq);
}

static void rejects(const char *c)
{
	int64_t t = 0, s = 0;
	int rc = cursor_decode(c, &t, &s);
	if (rc != SIEM_EPARSE)
		fail_msg("'%s': rc %d, want SIEM_EPARSE", c, rc);
}

static void test_encode_is_lowercase_hex(void **state)
{
	(void)state;
	char c[33];
	cursor_encode(100, 7, c);
	assert_string_equal(c, "00000000000000640000000000000007");
	cursor_encode(0xabcdef, 0x1234567890abcdefLL, c);
	assert_string_equal(c, "0000000000abcdef1234567890abcdef");
	cursor_encode(-1, 1, c);
	assert_string_equal(c, "ffffffffffffffff0000000000000001");
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip(1710506096000000LL, 1);
	round_trip(0, 1);
	round_trip(1, 42);
	round_trip(253402300799999999LL, 123456789); /* 9999-12-31T23:59:59.999999Z */
	round_trip(INT64_MAX, INT64_MAX);
}

static void test_round_trip_negative_timestamps(void **state)
{
	(void)state;
	round_trip(-1, 1);
	round_trip(-1710506096000000LL, 7);
	round_trip(INT64_MIN, 1);
	round_trip(INT64_MIN + 1, INT64_MAX);
}

static void test_decode_rejects_wrong_length(void **state)
{
	(void)state;
	rejects("");
	rejects("0");
	rejects("0000000000000064000000000000007");   /* 31 */
	rejects("000000000000006400000000000000070"); /* 33 */
	rejects("00000000000000640000000000000007 ");
	rejects("0000000000000064\0"
		"000000000000007");
}

static void test_decode_rejects_uppercase_hex(void **state)
{
	(void)state;
	rejects("0000000000ABCDEF0000000000000001");
	rejects("00000000000000640000000000000A07");
	rejects("FFFFFFFFFFFFFFFF0000000000000001");
}

static void test_decode_rejects_non_hex(void **state)
{
	(void)state;
	rejects("0000000000000g640000000000000007");
	rejects("000000000000006400000000000000-7");
	rejects("0x000000000000640000000000000007");
	rejects(" 0000000000000640000000000000007");
	rejects("00000000000000640000000000000+07");
	rejects("00000000:00000640000000000000007");
	rejects("0000000000000064000000000000000\xc3");
}

static void test_decode_rejects_seq_zero_or_negative(void **state)
{
	(void)state;
	rejects("00000000000000640000000000000000");
	rejects("0000000000000064ffffffffffffffff"); /* -1 */
	rejects("00000000000000648000000000000000"); /* INT64_MIN */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_is_lowercase_hex),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_round_trip_negative_timestamps),
	    cmocka_unit_test(test_decode_rejects_wrong_length),
	    cmocka_unit_test(test_decode_rejects_uppercase_hex),
	    cmocka_unit_test(test_decode_rejects_non_hex),
	    cmocka_unit_test(test_decode_rejects_seq_zero_or_negative),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
