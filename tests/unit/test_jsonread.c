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

#include "core/err.h"
#include "parse/decode.h"
#include "parse/forward.h"
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

#define NOW 1700000000000000LL

static void same_sv(struct sv a, struct sv b, const char *what, const char *body)
{
	if (!a.p != !b.p || a.n != b.n || (a.p && memcmp(a.p, b.p, a.n) != 0))
		fail_msg("%s differs for %s: '%.*s' / '%.*s'", what, body, (int)a.n, a.p ? a.p : "",
			 (int)b.n, b.p ? b.p : "");
}

/* Each object of body, normalized from the reader's members and from jansson's tree: the
 * same result, the same error, the same event (byte for byte in data and raw_message). */
static void same_events(const char *body)
{
	struct arena a;
	struct jsonread jr;
	json_error_t jerr;
	size_t n = strlen(body), i = 0;
	json_t *doc = json_loadb(body, n, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	assert_non_null(doc);
	arena_init(&a, 0);
	jsonread_open(&jr, body, n, true);
	enum jsonread_item it;
	while ((it = jsonread_next(&jr)) == JSONREAD_OBJECT || it == JSONREAD_OTHER) {
		json_t *want = json_is_array(doc) ? json_array_get(doc, i) : doc;
		i++;
		assert_non_null(want);
		if (it == JSONREAD_OTHER) {
			assert_false(json_is_object(want));
			continue;
		}
		json_t *copy = json_deep_copy(want); /* forward renames keys */
		struct event e1, e2;
		char err1[256] = "", err2[256] = "";
		int r1 = forward_event_from_members(&e1, jr.m, jr.n, &a, NOW, err1, sizeof(err1));
		int r2 = forward_event_from_json(&e2, copy, &a, NOW, err2, sizeof(err2));
		json_decref(copy);
		if (r1 != r2 || strcmp(err1, err2) != 0)
			fail_msg("%s: members %d '%s', tree %d '%s'", body, r1, err1, r2, err2);
		if (r1 != 0)
			continue;
		assert_int_equal(e1.flags, e2.flags);
		if (e1.flags & EV_ID_GENERATED)
			memcpy(e2.id, e1.id, 16);
		same_sv(e1.data, e2.data, "data", body);
		same_sv(e1.raw_message, e2.raw_message, "raw_message", body);
		json_t *j1 = event_to_json(&e1, true), *j2 = event_to_json(&e2, true);
		if (!json_equal(j1, j2)) {
			char *t1 = json_dumps(j1, JSON_COMPACT), *t2 = json_dumps(j2, JSON_COMPACT);
			fail_msg("%s:\n members %s\n tree    %s", body, t1, t2);
		}
		json_decref(j1);
		json_decref(j2);
	}
	assert_int_equal(it, JSONREAD_END);
	assert_int_equal(i, json_is_array(doc) ? json_array_size(doc) : 1);
	jsonread_close(&jr);
	json_decref(doc);
	arena_release(&a);
}

static void test_members_normalize_as_the_tree(void **state)
{
	(void)state;
	same_events(
	    "{\"event_id\":\"62b06ed6-628b-4b46-926c-ac0ba18911c6\",\"timestamp\":"
	    "\"2026-12-07T11:13:49.416473Z\",\"source_host\":\"ws-1\",\"os_type\":"
	    "\"windows\",\"event_type\":\"PROCESS_CREATE\",\"severity\":1,\"user\":\"r.k\","
	    "\"app\":\"Security\",\"message\":\"C:\\\\Windows\\\\svchost.exe\",\"raw_message\":"
	    "\"<Event><Data Name='x'>y</Data></Event>\",\"data\":{\"EventID\":4688,\"P\":"
	    "\"0x69a1\"}}");
	same_events(
	    "[{\"ts\":1700000000,\"msg\":\"a\",\"src_ip\":\"10.0.0.1\",\"level\":\"warn\","
	    "\"http_status\":\"404\",\"latency_ms\":\"12.5\",\"tenant\":\"acme\",\"n\":[1,2]},"
	    "{\"message\":\"b\",\"timestamp\":1.7e9,\"severity\":\"high\",\"latency_ms\":3},"
	    "{\"raw\":\"c\",\"source_ip\":\"N/A\",\"user_id\":\"u\",\"user\":\"v\"},"
	    "{\"event_type\":\"x\",\"message\":5,\"app\":true,\"source_offset\":7.0},"
	    "1,\"two\",null,[4],{}]");
	/* a repeated key: its last value at its first place; aliases ranked, the loser in data */
	same_events("{\"message\":\"a\",\"x\":1,\"message\":\"b\",\"msg\":\"c\",\"x\":2,"
		    "\"data\":{\"x\":3,\"y\":4},\"z\":\"tab\\tnl\\n\"}");
	/* schema errors name the field as the client did */
	same_events(
	    "[{\"event_type\":\"a\",\"severity\":9},{\"event_type\":\"a\",\"src_ip\":\"nope\"},"
	    "{\"event_type\":\"a\",\"ts\":\"yesterday\"},{\"event_type\":\"a\",\"event_id\":1},"
	    "{\"event_type\":\"a\",\"http_status\":42},{\"event_type\":\"a\",\"data\":[1]},"
	    "{\"event_type\":\"a\",\"latency_ms\":-1},{\"app\":\"x\"},"
	    "{\"event_type\":\"a\",\"user\":{\"n\":1}},{\"event_type\":\"a\",\"received_at\":1}]");
	/* forwarders' records: their names, their syslog lines */
	same_events(
	    "[{\"date\":1700000000.5,\"log\":\"Nov 21 07:55:49 LabSZ sshd[24200]: Failed "
	    "password for root from 203.0.113.7 port 52114 ssh2\"},"
	    "{\"host\":{\"name\":\"h1\"},\"event\":{\"original\":\"Nov 21 07:55:49 h1 sudo: "
	    "pam_unix(sudo:session): session opened for user root\"},\"severity\":\"notice\"},"
	    "{\"appname\":\"sshd\",\"message\":\"Accepted password for bob from 10.1.2.3 port 22 "
	    "ssh2\",\"severity\":\"info\",\"source_type\":\"syslog\"},"
	    "{\"MESSAGE\":\"x\",\"PROGRAM\":\"cron\",\"HOST\":\"h2\"},"
	    "{\"message\":\"Nov 21 07:55:49 LabSZ sshd[1]: Invalid user a from 203.0.113.9\","
	    "\"host\":\"h3\"}]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events_as_jansson_reads_them),
	    cmocka_unit_test(test_every_position_of_a_special_byte),
	    cmocka_unit_test(test_what_it_leaves_to_jansson),
	    cmocka_unit_test(test_members_normalize_as_the_tree),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	decode_release();
	return rc;
}
