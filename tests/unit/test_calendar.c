/* test_calendar.c — proleptic Gregorian dates: known day numbers (checked with Python's
 * datetime), round trips over four centuries, leap years and month lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/calendar.h"

static const struct {
	int64_t y;
	unsigned m, d;
	int64_t days; /* (date(y, m, d) - date(1970, 1, 1)).days */
} known[] = {
    {1970, 1, 1, 0},	  {1969, 12, 31, -1},	  {2000, 2, 29, 11016}, {2000, 3, 1, 11017},
    {1900, 3, 1, -25508}, {2024, 12, 31, 20088},  {1, 1, 1, -719162},	{9999, 12, 31, 2932896},
    {2100, 3, 1, 47541},  {1600, 2, 29, -135081}, {2038, 1, 19, 24855}, {1972, 2, 29, 789},
};

static void test_known_dates(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		int64_t got = days_from_civil(known[i].y, known[i].m, known[i].d);
		if (got != known[i].days)
			fail_msg("%04lld-%02u-%02u: %lld days, want %lld", (long long)known[i].y,
				 known[i].m, known[i].d, (long long)got, (long long)known[i].days);
		int64_t y;
		unsigned m, d;
		civil_from_days(known[i].days, &y, &m, &d);
		assert_int_equal(y, known[i].y);
		assert_int_equal(m, known[i].m);
		assert_int_equal(d, known[i].d);
	}
}

/* Every day from 1800 to 2200, in order: each the next day number, each a real date. */
static void test_consecutive_days_round_trip(void **state)
{
	(void)state;
	int64_t z = days_from_civil(1800, 1, 1);
	for (int64_t y = 1800; y < 2200; y++) {
		for (unsigned m = 1; m <= 12; m++) {
			for (unsigned d = 1; d <= days_in_month(y, m); d++, z++) {
				assert_int_equal(days_from_civil(y, m, d), z);
				int64_t yy;
				unsigned mm, dd;
				civil_from_days(z, &yy, &mm, &dd);
				if (yy != y || mm != m || dd != d)
					fail_msg("day %lld: %lld-%u-%u, want %lld-%u-%u",
						 (long long)z, (long long)yy, mm, dd, (long long)y,
						 m, d);
			}
		}
	}
	assert_int_equal(z, days_from_civil(2200, 1, 1));
}

static void test_leap_years(void **state)
{
	(void)state;
	static const int64_t leap[] = {1600, 1972, 1996, 2000, 2004, 2024, 2400, 0, -4};
	static const int64_t common[] = {1700, 1800, 1900, 1970, 1999, 2023, 2100, 2200, 2300, -1};
	for (size_t i = 0; i < sizeof(leap) / sizeof(leap[0]); i++) {
		assert_true(is_leap_year(leap[i]));
		assert_int_equal(days_in_month(leap[i], 2), 29);
	}
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
		assert_false(is_leap_year(common[i]));
		assert_int_equal(days_in_month(common[i], 2), 28);
	}
	/* a year is 366 days exactly when it is a leap year */
	for (int64_t y = 1890; y < 2110; y++)
		assert_int_equal(days_from_civil(y + 1, 1, 1) - days_from_civil(y, 1, 1),
				 is_leap_year(y) ? 366 : 365);
}

static void test_month_lengths(void **state)
{
	(void)state;
	static const unsigned want[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	for (unsigned m = 1; m <= 12; m++) {
		assert_int_equal(days_in_month(2023, m), want[m - 1]);
		assert_int_equal(days_in_month(2024, m), m == 2 ? 29 : want[m - 1]);
		/* the month's length is the distance to the first of the next month */
		int64_t next =
		    m == 12 ? days_from_civil(2024, 1, 1) : days_from_civil(2023, m + 1, 1);
		assert_int_equal(next - days_from_civil(2023, m, 1), want[m - 1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_dates),
	    cmocka_unit_test(test_consecutive_days_round_trip),
	    cmocka_unit_test(test_leap_years),
	    cmocka_unit_test(test_month_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
