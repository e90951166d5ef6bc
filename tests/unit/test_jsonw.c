/* test_jsonw.c — the one JSON string escaper: quotes, backslashes and controls escaped,
 * NUL and every byte that is not UTF-8 (overlong, surrogate, past U+10FFFF, cut short)
 * written as U+FFFD, valid UTF-8 kept, the worst case inside JSON_ESCAPE_MAX, and what it
 * writes always valid JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/jsonw.h"

#define FFFD "\\ufffd"

static void expect(const char *in, size_t n, const char *want)
{
	char out[JSON_ESCAPE_MAX(64) + 1];
	assert_true(n <= 64);
	size_t m = json_escape(out, in, n);
	out[m] = '\0';
	if (m != strlen(want) || memcmp(out, want, m) != 0)
		fail_msg("escaped to \"%s\", want \"%s\"", out, want);
}

#define EXPECT(in, want) expect(in, sizeof(in) - 1, want)

static void test_plain_ascii_unchanged(void **state)
{
	(void)state;
	EXPECT("", "");
	EXPECT("hello world", "hello world");
	EXPECT("/path?a=1&b=<x>'y'", "/path?a=1&b=<x>'y'");
	EXPECT("\x7f", "\x7f"); /* DEL is no control character for JSON */
}

static void test_quotes_and_backslashes(void **state)
{
	(void)state;
	EXPECT("say \"hi\"", "say \\\"hi\\\"");
	EXPECT("C:\\temp\\x", "C:\\\\temp\\\\x");
	EXPECT("\\\"", "\\\\\\\"");
}

static void test_control_characters(void **state)
{
	(void)state;
	EXPECT("a\nb\rc\td", "a\\nb\\rc\\td");
	EXPECT("\x01\x08\x0c\x1b\x1f", "\\u0001\\u0008\\u000c\\u001b\\u001f");
	/* every control character becomes a valid escape */
	for (int c = 1; c < 0x20; c++) {
		char in[1] = {(char)c}, out[JSON_ESCAPE_MAX(1) + 3];
		out[0] = '"';
		size_t m = json_escape(out + 1, in, 1);
		out[m + 1] = '"';
		json_t *v = json_loadb(out, m + 2, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		assert_int_equal(json_string_length(v), 1);
		assert_int_equal(json_string_value(v)[0], c);
		json_decref(v);
	}
}

static void test_nul_is_replacement_character(void **state)
{
	(void)state;
	EXPECT("a\0b", "a" FFFD "b");
	EXPECT("\0\0", FFFD FFFD);
}

static void test_valid_utf8_kept(void **state)
{
	(void)state;
	EXPECT("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"); /* été */
	EXPECT("\xe2\x98\x83", "\xe2\x98\x83");		  /* U+2603 */
	EXPECT("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");	  /* U+1F600 */
	EXPECT("\xc2\x80", "\xc2\x80");			  /* U+0080, the smallest 2-byte */
	EXPECT("\xe0\xa0\x80", "\xe0\xa0\x80");		  /* U+0800 */
	EXPECT("\xed\x9f\xbf", "\xed\x9f\xbf");		  /* U+D7FF, below the surrogates */
	EXPECT("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");	  /* U+10FFFF */
}

static void test_invalid_utf8_replaced_byte_by_byte(void **state)
{
	(void)state;
	EXPECT("\xff", FFFD);
	EXPECT("a\xfe"
	       "b",
	       "a" FFFD "b");
	EXPECT("\x80", FFFD);				 /* a lone continuation byte */
	EXPECT("\xc0\xaf", FFFD FFFD);			 /* overlong '/' */
	EXPECT("\xc1\xbf", FFFD FFFD);			 /* overlong */
	EXPECT("\xe0\x80\xaf", FFFD FFFD FFFD);		 /* overlong, 3 bytes */
	EXPECT("\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD); /* overlong, 4 bytes */
	EXPECT("\xed\xa0\x80", FFFD FFFD FFFD);		 /* U+D800, a surrogate */
	EXPECT("\xed\xbf\xbf", FFFD FFFD FFFD);		 /* U+DFFF */
	EXPECT("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* U+110000 */
	EXPECT("\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD); /* no such lead byte */
	EXPECT("\xe2\x98", FFFD FFFD);			 /* cut short at the end */
	EXPECT("\xe2\x98x", FFFD FFFD "x");		 /* cut short by ASCII */
	EXPECT("\xc3\xc3\xa9", FFFD "\xc3\xa9");	 /* a lead byte, then a whole character */
	EXPECT("\xf0\x9f\x98", FFFD FFFD FFFD);
}

static void test_worst_case_fits(void **state)
{
	(void)state;
	char in[64];
	memset(in, 0x01, sizeof(in));
	char out[JSON_ESCAPE_MAX(sizeof(in))];
	assert_int_equal(json_escape(out, in, sizeof(in)), JSON_ESCAPE_MAX(sizeof(in)));
	memset(in, 0xff, sizeof(in));
	assert_int_equal(json_escape(out, in, sizeof(in)), JSON_ESCAPE_MAX(sizeof(in)));
}

/* Random bytes: the output stays within bounds, is valid JSON, holds no NUL, and equals
 * the input wherever the input was valid UTF-8 without NULs. */
static void test_random_bytes_give_valid_json(void **state)
{
	(void)state;
	srand(12345);
	char in[200], out[JSON_ESCAPE_MAX(200) + 2];
	for (int round = 0; round < 5000; round++) {
		size_t n = (size_t)(rand() % (int)sizeof(in));
		for (size_t i = 0; i < n; i++)
			in[i] = (char)(round % 3 ? rand() % 256 : 0x20 + rand() % 0x60);
		out[0] = '"';
		size_t m = json_escape(out + 1, in, n);
		assert_true(m <= JSON_ESCAPE_MAX(n));
		out[m + 1] = '"';
		json_error_t err;
		json_t *v = json_loadb(out, m + 2, JSON_DECODE_ANY, &err);
		if (!v)
			fail_msg("not JSON: %s", err.text);
		assert_true(json_is_string(v));
		assert_null(memchr(json_string_value(v), 0, json_string_length(v)));
		json_decref(v);
		if (round % 3 == 0) { /* printable ASCII: unchanged but for the two escapes */
			size_t want = n;
			for (size_t i = 0; i < n; i++)
				want += in[i] == '"' || in[i] == '\\';
			assert_int_equal(m, want);
		}
	}
}

static void test_writer(void **state)
{
	(void)state;
	char buf[128];
	struct jsonw w = {buf, 0};
	jsonw_raw(&w, "{", 1);
	jsonw_str(&w, "k\"ey", 4);
	jsonw_raw(&w, ":", 1);
	jsonw_str(&w, "v\0\n\xff", 4);
	jsonw_raw(&w, ",\"e\":", 5);
	jsonw_str(&w, "", 0);
	jsonw_raw(&w, "}", 1);
	const char want[] = "{\"k\\\"ey\":\"v" FFFD "\\n" FFFD "\",\"e\":\"\"}";
	assert_int_equal(w.n, sizeof(want) - 1);
	assert_memory_equal(buf, want, w.n);
	json_t *o = json_loadb(buf, w.n, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "k\"ey")),
			    "v\xef\xbf\xbd\n\xef\xbf\xbd");
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_ascii_unchanged),
	    cmocka_unit_test(test_quotes_and_backslashes),
	    cmocka_unit_test(test_control_characters),
	    cmocka_unit_test(test_nul_is_replacement_character),
	    cmocka_unit_test(test_valid_utf8_kept),
	    cmocka_unit_test(test_invalid_utf8_replaced_byte_by_byte),
	    cmocka_unit_test(test_worst_case_fits),
	    cmocka_unit_test(test_random_bytes_give_valid_json),
	    cmocka_unit_test(test_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
