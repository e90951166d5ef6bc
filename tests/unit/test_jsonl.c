/* test_jsonl.c — jsonl_line_to_event: the JSONL-app aliases, unknown fields into data, the
 * line as raw_message, generated ids and receive-time timestamps, and the dead-letter errors. */
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
#include "parse/jsonl.h"

#define NOW 1710506096000000LL /* 2024-03-15T12:34:56Z */

static struct arena A;
static struct event EV;
static char ERR[256];

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	memset(&EV, 0, sizeof(EV));
	ERR[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_release(&A);
	return 0;
}

static int conv_n(const char *line, size_t n)
{
	/* A private copy without a terminator: the parser must stay inside [line, line+n). */
	char *c = malloc(n ? n : 1);
	assert_non_null(c);
	memcpy(c, line, n);
	int rc = jsonl_line_to_event(c, n, NOW, &EV, &A, ERR, sizeof(ERR));
	memset(c, 'X', n); /* the event must not point into the line */
	free(c);
	return rc;
}

static int conv(const char *line)
{
	return conv_n(line, strlen(line));
}

static void assert_sv(struct sv v, const char *want)
{
	if (!want) {
		assert_null(v.p);
		return;
	}
	assert_non_null(v.p);
	if (v.n != strlen(want) || memcmp(v.p, want, v.n) != 0)
		fail_msg("got '%.*s', want '%s'", (int)v.n, v.p, want);
}

static void test_app_line_aliases(void **state)
{
	(void)state;
	const char *line =
	    "{\"ts\":\"2024-03-15T12:00:00.250Z\",\"app\":\"billing\",\"host\":\"web-1\","
	    "\"level\":\"ERROR\",\"event_type\":\"auth_oauth_google_login_failed\","
	    "\"message\":\"login failed\",\"request_id\":\"r-42\",\"user_id\":\"u-7\","
	    "\"src_ip\":\"203.0.113.9\",\"user_agent\":\"curl/8\",\"http_method\":\"POST\","
	    "\"http_path\":\"/login\",\"http_status\":401,\"latency_ms\":12.5,"
	    "\"error_type\":\"InvalidGrant\",\"tenant\":\"acme\",\"attempt\":3}";
	assert_int_equal(conv(line), 0);
	assert_int_equal(EV.ts, 1710504000250000LL);
	assert_sv(EV.app, "billing");
	assert_sv(EV.source_host, "web-1");
	assert_sv(EV.level, "ERROR");
	assert_int_equal(EV.severity, 3);
	assert_sv(EV.event_type, "auth_oauth_google_login_failed");
	assert_sv(EV.message, "login failed");
	assert_sv(EV.request_id, "r-42");
	assert_sv(EV.user, "u-7");
	assert_sv(EV.source_ip, "203.0.113.9");
	assert_true(EV.flags & EV_HAS_IP);
	assert_sv(EV.user_agent, "curl/8");
	assert_sv(EV.http_method, "POST");
	assert_sv(EV.http_path, "/login");
	assert_true(EV.flags & EV_HAS_HTTP_STATUS);
	assert_int_equal(EV.http_status, 401);
	assert_true(EV.flags & EV_HAS_LATENCY);
	assert_true(EV.latency_ms == 12.5);
	assert_sv(EV.error_type, "InvalidGrant");
	assert_sv(EV.os_type, "APP");
	/* Everything else goes into data; the whole line is the raw message. */
	assert_sv(EV.data, "{\"tenant\":\"acme\",\"attempt\":3}");
	assert_sv(EV.raw_message, line);
	assert_true(EV.flags & EV_ID_GENERATED);
	assert_false(EV.flags & EV_TS_MISSING);
	assert_false(EV.flags & EV_TRUNC_RAW);
}

static void test_own_event_id_kept(void **state)
{
	(void)state;
	uint8_t want[16];
	assert_int_equal(uuid_parse("6c1f1d4e-6a0e-4c36-9d3f-2f5bb7f0c0de", 36, want), 0);
	assert_int_equal(conv("{\"event_id\":\"6c1f1d4e-6a0e-4c36-9d3f-2f5bb7f0c0de\","
			      "\"message\":\"m\"}"),
			 0);
	assert_memory_equal(EV.id, want, 16);
	assert_false(EV.flags & EV_ID_GENERATED);
}

static void test_missing_timestamp_is_receive_time(void **state)
{
	(void)state;
	assert_int_equal(conv("{\"message\":\"no time\"}"), 0);
	assert_int_equal(EV.ts, NOW);
	assert_true(EV.flags & EV_TS_MISSING);
	assert_int_equal(EV.received_at, NOW);
}

static void test_crlf_and_bom(void **state)
{
	(void)state;
	assert_int_equal(conv("{\"message\":\"dos\"}\r\n"), 0);
	assert_sv(EV.raw_message, "{\"message\":\"dos\"}");
	assert_int_equal(conv("\xef\xbb\xbf{\"message\":\"bom\"}"), 0);
	assert_sv(EV.message, "bom");
	assert_sv(EV.raw_message, "{\"message\":\"bom\"}");
}

static void test_line_without_message_or_type(void **state)
{
	(void)state;
	/* The line is its own raw message, so it is an event (message from the line). */
	const char *line = "{\"app\":\"x\",\"foo\":1}";
	assert_int_equal(conv(line), 0);
	assert_sv(EV.raw_message, line);
	assert_sv(EV.message, line);
	assert_sv(EV.event_type, "GENERIC");
	assert_sv(EV.data, "{\"foo\":1}");
}

static void test_raw_field_replaced_by_line(void **state)
{
	(void)state;
	const char *line = "{\"raw_message\":\"inner\",\"event_type\":\"T\"}";
	assert_int_equal(conv(line), 0);
	assert_sv(EV.raw_message, line);
	assert_sv(EV.message, "inner");
}

static void test_nul_escape(void **state)
{
	(void)state;
	assert_int_equal(conv("{\"message\":\"a\\u0000b\"}"), 0);
	assert_int_equal(EV.message.n, 3);
	assert_memory_equal(EV.message.p, "a\0b", 3);
}

static void test_errors(void **state)
{
	(void)state;
	assert_int_equal(conv("{\"message\": \"unterminated"), SIEM_EPARSE);
	assert_non_null(strstr(ERR, "malformed JSON"));
	assert_int_equal(conv("not json at all"), SIEM_EPARSE);
	assert_int_equal(conv("{\"a\":1} trailing"), SIEM_EPARSE);
	assert_int_equal(conv(""), SIEM_EPARSE);
	assert_string_equal(ERR, "empty line");
	assert_int_equal(conv("  \t\r\n"), SIEM_EPARSE);
	assert_int_equal(conv("[1,2,3]"), SIEM_ESCHEMA);
	assert_string_equal(ERR, "event: must be a JSON object");
	assert_int_equal(conv("42"), SIEM_ESCHEMA);
	assert_int_equal(conv("\"str\""), SIEM_ESCHEMA);
	assert_int_equal(conv("null"), SIEM_ESCHEMA);
	/* Schema: wrong types and bad values. */
	assert_int_equal(conv("{\"message\":\"m\",\"http_status\":\"abc\"}"), SIEM_ESCHEMA);
	assert_non_null(strstr(ERR, "http_status"));
	assert_int_equal(conv("{\"message\":\"m\",\"ts\":\"yesterday\"}"), SIEM_ESCHEMA);
	assert_non_null(strstr(ERR, "ts"));
	assert_int_equal(conv("{\"message\":\"m\",\"src_ip\":\"999.1.1.1\"}"), SIEM_ESCHEMA);
	assert_non_null(strstr(ERR, "src_ip"));
	assert_int_equal(conv("{\"message\":{\"nested\":1}}"), SIEM_ESCHEMA);
	assert_int_equal(conv("{\"message\":\"m\",\"event_id\":\"nope\"}"), SIEM_ESCHEMA);
	assert_int_equal(conv("{\"message\":\"m\",\"data\":[1]}"), SIEM_ESCHEMA);
}

static void test_invalid_utf8_and_binary(void **state)
{
	(void)state;
	assert_int_equal(conv("{\"message\":\"\xff\xfe\"}"), SIEM_EPARSE);
	assert_int_equal(conv("{\"message\":\"\xc3\x28\"}"), SIEM_EPARSE);
	static const char bin[] = "{\"m\":\0\x01\x02}";
	assert_int_equal(conv_n(bin, sizeof(bin) - 1), SIEM_EPARSE);
	static const char nul_only[] = "\0\0\0";
	assert_int_equal(conv_n(nul_only, 3), SIEM_EPARSE);
}

static void test_long_line_raw_capped(void **state)
{
	(void)state;
	size_t n = EV_CAP_RAW + 1000;
	char *line = malloc(n + 1);
	assert_non_null(line);
	memcpy(line, "{\"message\":\"", 12);
	memset(line + 12, 'a', n - 14);
	memcpy(line + n - 2, "\"}", 2);
	line[n] = '\0';
	assert_int_equal(conv_n(line, n), 0);
	assert_int_equal(EV.raw_message.n, EV_CAP_RAW);
	assert_true(EV.flags & EV_TRUNC_RAW);
	assert_true(EV.flags & EV_TRUNC_MESSAGE);
	assert_memory_equal(EV.raw_message.p, line, EV_CAP_RAW);
	free(line);
}

static void test_deep_nesting_rejected_not_crash(void **state)
{
	(void)state;
	size_t depth = 100000;
	char *line = malloc(depth * 2 + 32);
	assert_non_null(line);
	size_t k = 0;
	k += (size_t)snprintf(line, 32, "{\"message\":\"m\",\"x\":");
	for (size_t i = 0; i < depth; i++)
		line[k++] = '[';
	for (size_t i = 0; i < depth; i++)
		line[k++] = ']';
	line[k++] = '}';
	assert_int_equal(conv_n(line, k), SIEM_EPARSE);
	free(line);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_app_line_aliases),
	    T(test_own_event_id_kept),
	    T(test_missing_timestamp_is_receive_time),
	    T(test_crlf_and_bom),
	    T(test_line_without_message_or_type),
	    T(test_raw_field_replaced_by_line),
	    T(test_nul_escape),
	    T(test_errors),
	    T(test_invalid_utf8_and_binary),
	    T(test_long_line_raw_capped),
	    T(test_deep_nesting_rejected_not_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
