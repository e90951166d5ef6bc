/* test_ip.c — ip_parse / ip_format / cidr_parse: canonical text, strictness, exact ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/event.h"

/* Parse then format; fails the test when the text is refused. */
static const char *canon(const char *s)
{
	static char buf[46];
	uint8_t ip[16];
	int rc = ip_parse(s, strlen(s), ip);
	if (rc)
		fail_msg("ip_parse(\"%s\") = %d", s, rc);
	size_t n = ip_format(ip, buf);
	assert_int_equal(n, strlen(buf));
	return buf;
}

static int parse_rc(const char *s)
{
	uint8_t ip[16];
	return ip_parse(s, strlen(s), ip);
}

static void test_ipv4_is_mapped(void **state)
{
	(void)state;
	static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 20};
	uint8_t ip[16];
	assert_int_equal(ip_parse("192.168.1.20", 12, ip), 0);
	assert_memory_equal(ip, want, 16);
	assert_string_equal(canon("192.168.1.20"), "192.168.1.20");
	assert_string_equal(canon("0.0.0.0"), "0.0.0.0");
	assert_string_equal(canon("255.255.255.255"), "255.255.255.255");
}

static void test_ipv6_rfc5952(void **state)
{
	(void)state;
	assert_string_equal(canon("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
	assert_string_equal(canon("2001:0db8:0000:0000:0001:0000:0000:0001"), "2001:db8::1:0:0:1");
	assert_string_equal(canon("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
	assert_string_equal(canon("2001:db8:0:0:1:0:0:0"), "2001:db8:0:0:1::");
	assert_string_equal(canon("0:0:0:0:0:0:0:0"), "::");
	assert_string_equal(canon("::1"), "::1");
	assert_string_equal(canon("fe80::"), "fe80::");
	assert_string_equal(canon("::1:2"), "::1:2");
	assert_string_equal(canon("::102:304"), "::102:304");
}

static void test_ipv4_mapped_ipv6_shown_dotted(void **state)
{
	(void)state;
	assert_string_equal(canon("::ffff:1.2.3.4"), "1.2.3.4");
	assert_string_equal(canon("::FFFF:0102:0304"), "1.2.3.4");
}

static void test_brackets_accepted(void **state)
{
	(void)state;
	assert_string_equal(canon("[::1]"), "::1");
	assert_string_equal(canon("[2001:db8::0:1]"), "2001:db8::1");
	assert_int_equal(parse_rc("[1.2.3.4]"), SIEM_EPARSE);
	assert_int_equal(parse_rc("[::1"), SIEM_EPARSE);
	assert_int_equal(parse_rc("[]"), SIEM_EPARSE);
}

static void test_invalid_rejected(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "",
	    "1.2.3",
	    "256.1.1.1",
	    "1.2.3.4.5",
	    "1.2.3.",
	    ".1.2.3",
	    "1..2.3",
	    "010.1.1.1",
	    "1.2.3.04",
	    "1234.1.1.1",
	    "-1.2.3.4",
	    " 1.2.3.4",
	    "1.2.3.4 ",
	    "a.b.c.d",
	    "fe80::1%eth0",
	    "::ffff:010.1.1.1",
	    "1:2:3:4:5:6:7:8:9",
	    "::g",
	    ":::",
	    "1::2::3",
	    "localhost",
	    "N/A",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_rc(bad[i]) != SIEM_EPARSE)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_embedded_nul_rejected(void **state)
{
	(void)state;
	uint8_t ip[16];
	assert_int_equal(ip_parse("1.2.3.4\0", 8, ip), SIEM_EPARSE);
	assert_int_equal(ip_parse("::1\0", 4, ip), SIEM_EPARSE);
}

static void test_length_bounds(void **state)
{
	(void)state;
	/* longest legal text: 45 characters */
	assert_string_equal(canon("0000:0000:0000:0000:0000:ffff:255.255.255.255"),
			    "255.255.255.255");
	assert_int_equal(parse_rc("00000:0000:0000:0000:0000:ffff:255.255.255.255"), SIEM_EPARSE);
}

/* cidr_parse then format lo and hi. */
static void range(const char *s, const char *lo_want, const char *hi_want)
{
	uint8_t lo[16], hi[16];
	char a[46], b[46];
	int rc = cidr_parse(s, strlen(s), lo, hi);
	if (rc)
		fail_msg("cidr_parse(\"%s\") = %d", s, rc);
	ip_format(lo, a);
	ip_format(hi, b);
	if (strcmp(a, lo_want) || strcmp(b, hi_want))
		fail_msg("%s: got %s..%s, want %s..%s", s, a, b, lo_want, hi_want);
}

static void test_cidr_v4(void **state)
{
	(void)state;
	range("10.0.0.0/8", "10.0.0.0", "10.255.255.255");
	range("192.168.1.77/24", "192.168.1.0", "192.168.1.255");
	range("172.16.0.0/12", "172.16.0.0", "172.31.255.255");
	range("1.2.3.4/31", "1.2.3.4", "1.2.3.5");
	range("1.2.3.4/32", "1.2.3.4", "1.2.3.4");
	range("1.2.3.4", "1.2.3.4", "1.2.3.4");
}

static void test_cidr_v4_zero_stays_v4(void **state)
{
	(void)state;
	static const uint8_t lo_want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
	static const uint8_t hi_want[16] = {0, 0, 0,	0,    0,    0,	  0,	0,
					    0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t lo[16], hi[16];
	assert_int_equal(cidr_parse("0.0.0.0/0", 9, lo, hi), 0);
	assert_memory_equal(lo, lo_want, 16);
	assert_memory_equal(hi, hi_want, 16);
}

static void test_cidr_v6(void **state)
{
	(void)state;
	range("2001:db8:1:2::/64", "2001:db8:1:2::", "2001:db8:1:2:ffff:ffff:ffff:ffff");
	range("2001:db8::1/128", "2001:db8::1", "2001:db8::1");
	range("::1", "::1", "::1");
	range("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	range("2001:db8::/33", "2001:db8::", "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff");
	range("[2001:db8::]/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
}

static void test_cidr_v4_in_v6_form(void **state)
{
	(void)state;
	range("::ffff:10.1.0.0/112", "10.1.0.0", "10.1.255.255");
	range("::ffff:10.1.2.3/128", "10.1.2.3", "10.1.2.3");
	range("::ffff:0.0.0.0/96", "0.0.0.0", "255.255.255.255");
}

static void test_cidr_bad_prefix(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "10.0.0.0/33",  "10.0.0.0/",   "10.0.0.0/-1",    "10.0.0.0/+8", "10.0.0.0/08",
	    "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0/8a",    "::/129",	    "::/1000",
	    "/8",	    "10.0.0/8",	   "fe80::/64%eth0",
	};
	uint8_t lo[16], hi[16];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cidr_parse(bad[i], strlen(bad[i]), lo, hi) != SIEM_EPARSE)
			fail_msg("accepted \"%s\"", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_is_mapped),
	    cmocka_unit_test(test_ipv6_rfc5952),
	    cmocka_unit_test(test_ipv4_mapped_ipv6_shown_dotted),
	    cmocka_unit_test(test_brackets_accepted),
	    cmocka_unit_test(test_invalid_rejected),
	    cmocka_unit_test(test_embedded_nul_rejected),
	    cmocka_unit_test(test_length_bounds),
	    cmocka_unit_test(test_cidr_v4),
	    cmocka_unit_test(test_cidr_v4_zero_stays_v4),
	    cmocka_unit_test(test_cidr_v6),
	    cmocka_unit_test(test_cidr_v4_in_v6_form),
	    cmocka_unit_test(test_cidr_bad_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
