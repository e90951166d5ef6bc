/* test_jsonread.c — the ingest path's JSON reader: what it reads is what jansson reads (the
 * same values, key order and number text once written back), and what it is not sure of it
 * leaves to jansson rather than deciding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "parse/jsonread.h"

/* The reader's value for text[0..n), in a private copy without a terminator (nothing may
 * be read past the end), or NULL. */
static json_t *fast(const char *text, size_t n)
{
	char *c = malloc(n ? n : 1);
	assert_non_null(c);
	memcpy(c, text, n);
	json_t *v = jsonread_document(c, n);
	memset(c, 'X', n); /* the value must not point into the text */
	free(c);
	return v;
}

/* The reader takes text, and its value is jansson's, written back byte for byte. */
static void same_as_jansson(const char *text)
{
	size_t n = strlen(text);
	json_error_t jerr;
	json_t *v = fast(text, n);
	json_t *want = json_loadb(text, n, JSON_ALLOW_NUL, &jerr);
	if (!v)
		fail_msg("the reader declined %s", text);
	assert_non_null(want);
	char *a = json_dumps(v, JSON_COMPACT);
	char *b = json_dumps(want, JSON_COMPACT);
	assert_non_null(a);
	assert_non_null(b);
	if (strcmp(a, b) != 0)
		fail_msg("reader %s, jansson %s", a, b);
	assert_true(json_equal(v, want));
	free(a);
	free(b);
	json_decref(v);
	json_decref(want);
}

static void declined(const char *text, size_t n)
{
	json_t *v = fast(text, n);
	if (v)
		fail_msg("the reader took %.*s", (int)n, text);
}

static void declines(const char *text)
{
	declined(text, strlen(text));
}

static void test_events_as_jansson_reads_them(void **state)
{
	(void)state;
	same_as_jansson("{\"event_id\":\"62b06ed6-628b-4b46-926c-ac0ba18911c6\","
			"\"timestamp\":\"2026-12-07T11:13:49.416473Z\",\"source_host\":\"pi\","
			"\"severity\":1,\"latency_ms\":57.8,\"data\":{\"EventID\":4688,\"x\":[1,"
			"-2,3.5e3,true,false,null,{}],\"y\":[]}}");
	same_as_jansson(" [ {\"a\" : 1} , {\"b\":\"c\"}\t]\r\n");
	same_as_jansson("[]");
	same_as_jansson("{}");
	/* the last of a repeated key wins, at the first one's place */
	same_as_jansson("{\"a\":1,\"b\":2,\"a\":3}");
	/* escapes and UTF-8 in keys and values */
	same_as_jansson("{\"k\\\"ey\\\\\":\"C:\\\\Windows\\\\System32 \\/ \\b\\f\\n\\r\\t\","
			"\"caf\xc3\xa9\":\"\xe2\x82\xac \xf0\x9f\x94\x92\"}");
	/* numbers at the edges of what the reader converts itself */
	same_as_jansson("[0,-0,123456789012345678,-123456789012345678,0.5,-1e-3,1E+2,2.5e-320]");
	same_as_jansson("[1.7976931348623157e308,4.9e-324]");
}

/* A special byte at every position of strings of every length around a word's size, so
 * that each place of the eight-byte scan is crossed. */
static void test_every_position_of_a_special_byte(void **state)
{
	(void)state;
	static const char *const specials[] = {"\\\"",	   "\\\\",	   "\\n",
					       "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x92"};
	char text[128];
	for (size_t len = 0; len <= 20; len++) {
		for (size_t pos = 0; pos <= len; pos++) {
			for (size_t s = 0; s < sizeof(specials) / sizeof(specials[0]); s++) {
				int n =
				    snprintf(text, sizeof(text), "{\"k\":\"%.*s%s%.*s\"}", (int)pos,
					     "abcdefghijklmnopqrstuvwxyz", specials[s],
					     (int)(len - pos), "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
				assert_true(n > 0 && (size_t)n < sizeof(text));
				same_as_jansson(text);
			}
		}
	}
}

/* What only jansson may decide: syntax errors (their messages are jansson's), \u escapes,
 * invalid UTF-8, control characters, numbers it range-checks, deep nesting, scalars. */
static void test_what_it_leaves_to_jansson(void **state)
{
	(void)state;
	declines("");
	declines("   ");
	declines("42");
	declines("\"s\"");
	declines("null");
	declines("{\"a\":1} x");
	declines("{\"a\":1}{\"b\":2}");
	declines("{\"a\":1,}");
	declines("[1,]");
	declines("{\"a\" 1}");
	declines("{a:1}");
	declines("{\"a\":01}");
	declines("{\"a\":1.}");
	declines("{\"a\":.5}");
	declines("{\"a\":1e}");
	declines("{\"a\":+1}");
	declines("{\"a\":tru}");
	declines("{\"a\":NaN}");
	declines("{\"a\":\"\\u00e9\"}");
	declines("{\"a\":\"x\\ud800y\"}");
	declines("{\"a\":\"\\x\"}");
	declines("{\"a\":\"bad \xff\xfe\"}");
	declines("{\"a\":\"\xc0\xaf\"}");	  /* overlong */
	declines("{\"a\":\"\xed\xa0\x80\"}");	  /* a surrogate */
	declines("{\"a\":\"\xf4\x90\x80\x80\"}"); /* above U+10FFFF */
	declines("{\"a\":\"\xe2\x82\"}");	  /* cut short */
	declines("{\"a\":\"tab\there\"}");
	declines("{\"a\":1234567890123456789}"); /* 19 digits: jansson's range check */
	declines("{\"a\":1e999}");
	declines("{\"a\":\"open");
	declines("[{\"a\":1}");
	declined("{\"a\":\"x\0y\"}", 11); /* a raw NUL */

	char deep[80];
	memset(deep, '[', 33);
	memset(deep + 33, ']', 33);
	declined(deep, 66);
	same_as_jansson(
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"); /* 32 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events_as_jansson_reads_them),
	    cmocka_unit_test(test_every_position_of_a_special_byte),
	    cmocka_unit_test(test_what_it_leaves_to_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
