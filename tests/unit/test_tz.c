/* test_tz.c — zones for times written without one: fixed offsets, IANA zones from the
 * system's TZif files across daylight saving changes, bad names, and the sender map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/tz.h"

#define S 1000000LL

static struct tz *load(const char *name)
{
	struct tz *z = NULL;
	char err[256] = "";
	if (tz_load(name, &z, err, sizeof(err)) < 0)
		fail_msg("tz_load '%s': %s", name, err);
	return z;
}

static void test_fixed(void **state)
{
	(void)state;
	struct tz *z = load("+09:00");
	assert_int_equal(tz_local_to_utc(z, 1768478400LL * S), 1768446000LL * S);
	tz_free(z);
	z = load("-0530");
	assert_int_equal(tz_local_to_utc(z, 0), (5 * 3600 + 1800) * S);
	tz_free(z);
	z = load("UTC");
	assert_int_equal(tz_local_to_utc(z, 123), 123);
	assert_string_equal(tz_name(z), "UTC");
	tz_free(z);
	assert_int_equal(tz_local_to_utc(NULL, 77), 77);
}

static void test_iana(void **state)
{
	(void)state;
	struct tz *z = load("Asia/Tokyo");
	/* 2026-01-15 12:00 in Tokyo is 03:00Z. */
	assert_int_equal(tz_local_to_utc(z, 1768478400LL * S), 1768446000LL * S);
	tz_free(z);

	z = load("Europe/Paris");
	assert_string_equal(tz_name(z), "Europe/Paris");
	assert_int_equal(tz_local_to_utc(z, 1768478400LL * S), 1768474800LL * S); /* winter */
	assert_int_equal(tz_local_to_utc(z, 1782907200LL * S), 1782900000LL * S); /* summer */
	/* 2026-03-29: 02:30 does not exist (the offset before, +1, is used); 03:30 is +2. */
	assert_int_equal(tz_local_to_utc(z, 1774751400LL * S), 1774747800LL * S);
	assert_int_equal(tz_local_to_utc(z, 1774755000LL * S), 1774747800LL * S);
	/* 2026-10-25: 02:30 happens twice (the first, +2, is used); 03:30 is +1 again. */
	assert_int_equal(tz_local_to_utc(z, 1792895400LL * S), 1792888200LL * S);
	assert_int_equal(tz_local_to_utc(z, 1792899000LL * S), 1792895400LL * S);
	tz_free(z);
}

/* "localtime" is this machine's zone: it agrees with the C library's (TZ unset). */
static void test_localtime(void **state)
{
	(void)state;
	unsetenv("TZ");
	tzset();
	struct tz *z = load("localtime");
	assert_string_equal(tz_name(z), "localtime");
	for (time_t t = 1700000000; t < 1700000000 + 400 * 86400; t += 86400 / 3) {
		struct tm tm;
		assert_non_null(localtime_r(&t, &tm));
		int64_t wall = (int64_t)t + tm.tm_gmtoff;
		assert_int_equal(tz_local_to_utc(z, wall * S), (int64_t)t * S);
	}
	tz_free(z);
}

static void test_bad_names(void **state)
{
	(void)state;
	const char *bad[] = {"",   "../../etc/passwd", "/etc/localtime", "Nowhere/City", "+25:00",
			     "+9", "Asia/Tokyo;rm",    "+09:0x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tz *z = NULL;
		char err[256] = "";
		assert_true(tz_load(bad[i], &z, err, sizeof(err)) < 0);
		assert_null(z);
		assert_true(err[0] != '\0');
	}
}

static void test_map(void **state)
{
	(void)state;
	struct tz_map *m = NULL;
	char err[256] = "";
	assert_int_equal(tz_map_parse("Europe/Paris, 192.0.2.9=Asia/Tokyo,Tokyo-GW=+09:00", &m, err,
				      sizeof(err)),
			 0);
	struct sv none = {NULL, 0}, gw = {"tokyo-gw", 8}, other = {"web1", 4};
	assert_string_equal(tz_name(tz_map_find(m, "192.0.2.9", other)), "Asia/Tokyo");
	assert_string_equal(tz_name(tz_map_find(m, "198.51.100.1", gw)), "+09:00");
	assert_string_equal(tz_name(tz_map_find(m, "198.51.100.1", other)), "Europe/Paris");
	assert_string_equal(tz_name(tz_map_find(m, NULL, none)), "Europe/Paris");
	tz_map_free(m);

	/* UTC as the default converts nothing; an override still applies. */
	assert_int_equal(tz_map_parse("UTC,10.0.0.1=+02:00", &m, err, sizeof(err)), 0);
	assert_null(tz_map_find(m, "10.0.0.2", none));
	assert_string_equal(tz_name(tz_map_find(m, "10.0.0.1", none)), "+02:00");
	tz_map_free(m);

	assert_true(tz_map_parse("UTC,Europe/Paris", &m, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "two default zones"));
	assert_true(tz_map_parse("host=Mars/Olympus", &m, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "unknown time zone 'Mars/Olympus'"));
	assert_true(tz_map_parse("=UTC", &m, err, sizeof(err)) < 0);
	assert_null(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixed),     cmocka_unit_test(test_iana),
	    cmocka_unit_test(test_localtime), cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
