/* test_time.c — ts_parse / ts_from_number / ts_format: every accepted form, exact
 * microseconds, the 1970..9999 range and the formatting round trip. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/event.h"

/* 2024-03-15T12:34:56Z */
#define T0 1710506096000000LL

static int64_t parse_ok(const char *s)
{
	int64_t us = -1;
	int rc = ts_parse(s, strlen(s), &us);
	if (rc)
		fail_msg("ts_parse(\"%s\") = %d", s, rc);
	return us;
}

static int parse_rc(const char *s)
{
	int64_t us;
	return ts_parse(s, strlen(s), &us);
}

static void test_iso_z(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2024-03-15T12:34:56Z"), T0);
	assert_int_equal(parse_ok("2024-03-15t12:34:56z"), T0);
}

static void test_iso_no_zone_is_utc(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2024-03-15T12:34:56"), T0);
}

static void test_iso_space_separator(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2024-03-15 12:34:56"), T0);
	assert_int_equal(parse_ok("2024-03-15 12:34:56.5Z"), T0 + 500000);
}

static void test_iso_positive_offset(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2024-03-15T12:34:56+02:00"), 1710498896000000LL);
	assert_int_equal(parse_ok("2024-03-15T12:34:56+0200"), 1710498896000000LL);
}

static void test_iso_negative_offset(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2024-03-15T12:34:56-0530"), 1710525896000000LL);
	assert_int_equal(parse_ok("2024-03-15T12:34:56-05:30"), 1710525896000000LL);
	assert_int_equal(parse_ok("2024-03-15T12:34:56+00:00"), T0);
}

static void test_iso_fraction_digits(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2024-03-15T12:34:56.123Z"), T0 + 123000);
	assert_int_equal(parse_ok("2024-03-15T12:34:56.123456Z"), T0 + 123456);
	/* nanoseconds are truncated to microseconds */
	assert_int_equal(parse_ok("2024-03-15T12:34:56.123456789Z"), T0 + 123456);
	assert_int_equal(parse_ok("2024-03-15T12:34:56.1+01:00"), T0 + 100000 - 3600000000LL);
}

static void test_iso_leap_day(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), 1709164800000000LL);
	assert_int_equal(parse_ok("2000-02-29T00:00:00Z"), 951782400000000LL);
	assert_int_equal(parse_rc("2023-02-29T00:00:00Z"), SIEM_EPARSE);
	assert_int_equal(parse_rc("1900-02-29T00:00:00Z"), SIEM_EPARSE);
}

static void test_iso_field_ranges(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "2024-00-10T00:00:00Z", "2024-13-10T00:00:00Z",	 "2024-04-31T00:00:00Z",
	    "2024-01-00T00:00:00Z", "2024-01-10T24:00:00Z",	 "2024-01-10T23:60:00Z",
	    "2024-01-10T23:59:61Z", "2024-01-10T00:00:00+24:00", "2024-01-10T00:00:00+01:60",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_rc(bad[i]) != SIEM_EPARSE)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_iso_leap_second_is_next_minute(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2016-12-31T23:59:60Z"), 1483228800000000LL);
}

static void test_iso_malformed(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "",
	    "2024-03-15",
	    "2024-03-15T12:34",
	    "2024-03-15T12:34:56.",
	    "2024-03-15T12:34:56.1234567890Z",
	    "2024-03-15T12:34:56ZZ",
	    "2024-03-15T12:34:56+02",
	    "2024-03-15T12:34:56+2:00",
	    "2024-03-15X12:34:56Z",
	    "2024/03/15T12:34:56Z",
	    "24-03-15T12:34:56Z",
	    " 2024-03-15T12:34:56Z",
	    "2024-03-15T12:34:56Z ",
	    "yesterday",
	    "1.2.3",
	    ".5",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_rc(bad[i]) != SIEM_EPARSE)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_iso_embedded_nul_rejected(void **state)
{
	(void)state;
	int64_t us;
	assert_int_equal(ts_parse("2024-03-15T12:34:56Z\0x", 22, &us), SIEM_EPARSE);
}

static void test_range_limits(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("9999-12-31T23:59:59.999999Z"), 253402300799999999LL);
	assert_int_equal(parse_rc("1969-12-31T23:59:59Z"), -ERANGE);
	assert_int_equal(parse_rc("1970-01-01T00:30:00+01:00"), -ERANGE);
	assert_int_equal(parse_rc("9999-12-31T23:30:00-01:00"), -ERANGE);
	assert_int_equal(parse_rc("0000-01-01T00:00:00Z"), -ERANGE);
}

static void test_epoch_strings(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("1710506096"), T0);
	assert_int_equal(parse_ok("1710506096123"), T0 + 123000);
	assert_int_equal(parse_ok("1710506096123456"), T0 + 123456);
	assert_int_equal(parse_ok("1710506096.25"), T0 + 250000);
	assert_int_equal(parse_ok("1710506096.1234567"), T0 + 123456);
	assert_int_equal(parse_ok("0"), 0);
	/* unit boundaries: < 1e11 seconds, < 1e14 milliseconds, else microseconds */
	assert_int_equal(parse_ok("99999999999"), 99999999999000000LL);
	assert_int_equal(parse_ok("100000000000"), 100000000000000LL);
	assert_int_equal(parse_ok("99999999999999"), 99999999999999000LL);
	assert_int_equal(parse_ok("100000000000000"), 100000000000000LL);
}

static void test_epoch_strings_out_of_range(void **state)
{
	(void)state;
	assert_int_equal(parse_rc("253402300800000000"), -ERANGE);
	assert_int_equal(parse_rc("99999999999999999999999"), -ERANGE);
	assert_int_equal(parse_rc("1710506096."), SIEM_EPARSE);
}

static void test_epoch_numbers(void **state)
{
	(void)state;
	int64_t us = -1;
	assert_int_equal(ts_from_number(1710506096.0, &us), 0);
	assert_int_equal(us, T0);
	assert_int_equal(ts_from_number(1710506096123.0, &us), 0);
	assert_int_equal(us, T0 + 123000);
	assert_int_equal(ts_from_number(1710506096123456.0, &us), 0);
	assert_int_equal(us, T0 + 123456);
	assert_int_equal(ts_from_number(1710506096.123456, &us), 0);
	assert_int_equal(us, T0 + 123456);
	assert_int_equal(ts_from_number(0.1, &us), 0);
	assert_int_equal(us, 100000);
}

static void test_epoch_numbers_rejected(void **state)
{
	(void)state;
	int64_t us;
	assert_int_equal(ts_from_number(-1.0, &us), -ERANGE);
	assert_int_equal(ts_from_number(1e18, &us), -ERANGE);
	assert_int_equal(ts_from_number(NAN, &us), SIEM_EPARSE);
	assert_int_equal(ts_from_number(INFINITY, &us), SIEM_EPARSE);
}

static void test_format_exact(void **state)
{
	(void)state;
	char buf[32];
	assert_int_equal(ts_format(T0 + 123, buf), 27);
	assert_string_equal(buf, "2024-03-15T12:34:56.000123Z");
	ts_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
	ts_format(253402300799999999LL, buf);
	assert_string_equal(buf, "9999-12-31T23:59:59.999999Z");
	ts_format(1709164800000000LL, buf);
	assert_string_equal(buf, "2024-02-29T00:00:00.000000Z");
	ts_format(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
}

static void test_format_parse_round_trip(void **state)
{
	(void)state;
	/* Walk 1970..9999 in irregular steps (days, months, leap years, fractions). */
	char buf[32];
	for (int64_t us = 0; us < 253402300799999999LL; us += 86399999937LL * 61 + 12345) {
		size_t n = ts_format(us, buf);
		int64_t back = -1;
		assert_int_equal(ts_parse(buf, n, &back), 0);
		assert_int_equal(back, us);
	}
}

static void test_now_is_recent(void **state)
{
	(void)state;
	int64_t now = ts_now_us();
	assert_true(now > 1700000000000000LL);
	assert_true(now < 4102444800000000LL); /* 2100 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_iso_z),
	    cmocka_unit_test(test_iso_no_zone_is_utc),
	    cmocka_unit_test(test_iso_space_separator),
	    cmocka_unit_test(test_iso_positive_offset),
	    cmocka_unit_test(test_iso_negative_offset),
	    cmocka_unit_test(test_iso_fraction_digits),
	    cmocka_unit_test(test_iso_leap_day),
	    cmocka_unit_test(test_iso_field_ranges),
	    cmocka_unit_test(test_iso_leap_second_is_next_minute),
	    cmocka_unit_test(test_iso_malformed),
	    cmocka_unit_test(test_iso_embedded_nul_rejected),
	    cmocka_unit_test(test_range_limits),
	    cmocka_unit_test(test_epoch_strings),
	    cmocka_unit_test(test_epoch_strings_out_of_range),
	    cmocka_unit_test(test_epoch_numbers),
	    cmocka_unit_test(test_epoch_numbers_rejected),
	    cmocka_unit_test(test_format_exact),
	    cmocka_unit_test(test_format_parse_round_trip),
	    cmocka_unit_test(test_now_is_recent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
