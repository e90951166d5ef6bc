/* test_event.c — event_from_json / event_to_json (names, aliases, defaults, caps, errors).
 * The UUID helpers are tested in test_uuid.c. */
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

#define NOW 1710506096000000LL /* 2024-03-15T12:34:56Z */
#define T0 NOW

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

static json_t *load(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j)
		fail_msg("bad test JSON %s: %s", text, je.text);
	return j;
}

static int norm_j(json_t *j)
{
	int rc = event_from_json(&EV, j, &A, NOW, ERR, sizeof(ERR));
	json_decref(j); /* the event must not point into the JSON */
	return rc;
}

static int norm(const char *text)
{
	return norm_j(load(text));
}

static void ok(const char *text)
{
	int rc = norm(text);
	if (rc)
		fail_msg("%s: rc %d \"%s\"", text, rc, ERR);
}

static void expect_err(const char *text, const char *msg)
{
	int rc = norm(text);
	if (rc != SIEM_ESCHEMA || strcmp(ERR, msg))
		fail_msg("%s: rc %d \"%s\", want \"%s\"", text, rc, ERR, msg);
}

static void sv_is(struct sv v, const char *s, size_t n)
{
	if (!v.p)
		fail_msg("absent, want \"%s\"", s);
	if (v.n != n || memcmp(v.p, s, n))
		fail_msg("got \"%.*s\" (%zu), want \"%s\" (%zu)", (int)v.n, v.p, v.n, s, n);
	assert_int_equal(v.p[n], '\0');
}
#define assert_sv(v, s) sv_is((v), (s), sizeof(s) - 1)

static void assert_data(const char *want)
{
	if (!EV.data.p)
		fail_msg("data absent, want %s", want);
	json_t *got = json_loadb(EV.data.p, EV.data.n, JSON_ALLOW_NUL, NULL);
	json_t *w = load(want);
	if (!json_equal(got, w))
		fail_msg("data %.*s, want %s", (int)EV.data.n, EV.data.p, want);
	json_decref(got);
	json_decref(w);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- names, aliases, data ---- */

static void test_minimal_event_gets_defaults(void **state)
{
	(void)state;
	ok("{\"message\": \"hello\"}");
	assert_sv(EV.message, "hello");
	assert_sv(EV.event_type, "GENERIC");
	assert_sv(EV.os_type, "UNKNOWN");
	assert_sv(EV.user, "system");
	assert_sv(EV.source_host, "unknown");
	assert_null(EV.source_ip.p);
	assert_null(EV.raw_message.p);
	assert_null(EV.level.p);
	assert_null(EV.app.p);
	assert_null(EV.data.p);
	assert_int_equal(EV.severity, 1);
	assert_int_equal(EV.ts, NOW);
	assert_int_equal(EV.received_at, NOW);
	assert_int_equal(EV.flags, EV_TS_MISSING | EV_ID_GENERATED);
	assert_int_equal(EV.id[6] >> 4, 4);
}

static void test_canonical_names(void **state)
{
	(void)state;
	ok("{\"event_id\": \"3f2504e0-4f89-41d3-9a0c-0305e82c3301\","
	   " \"timestamp\": \"2024-03-15T12:34:56Z\", \"source_host\": \"web1\","
	   " \"os_type\": \"linux\", \"event_type\": \"LOGIN_FAIL\", \"severity\": 3,"
	   " \"level\": \"warning\", \"source_ip\": \"10.0.0.5\", \"user\": \"bob\","
	   " \"app\": \"api\", \"message\": \"bad password\", \"raw_message\": \"raw line\","
	   " \"request_id\": \"r1\", \"user_agent\": \"curl/8\", \"http_method\": \"POST\","
	   " \"http_path\": \"/login\", \"http_status\": 401, \"latency_ms\": 12.5,"
	   " \"error_type\": \"auth\", \"source\": \"tail\", \"source_file\": \"/var/log/x\","
	   " \"source_offset\": 4096}");
	static const uint8_t id[16] = {0x3f, 0x25, 0x04, 0xe0, 0x4f, 0x89, 0x41, 0xd3,
				       0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01};
	assert_memory_equal(EV.id, id, 16);
	assert_int_equal(EV.ts, T0);
	assert_sv(EV.source_host, "web1");
	assert_sv(EV.os_type, "LINUX");
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_int_equal(EV.severity, 3);
	assert_sv(EV.level, "WARNING"); /* stored upper-case */
	assert_sv(EV.source_ip, "10.0.0.5");
	assert_sv(EV.user, "bob");
	assert_sv(EV.app, "api");
	assert_sv(EV.message, "bad password");
	assert_sv(EV.raw_message, "raw line");
	assert_sv(EV.request_id, "r1");
	assert_sv(EV.user_agent, "curl/8");
	assert_sv(EV.http_method, "POST");
	assert_sv(EV.http_path, "/login");
	assert_int_equal(EV.http_status, 401);
	assert_true(EV.latency_ms == 12.5);
	assert_sv(EV.error_type, "auth");
	assert_sv(EV.source, "tail");
	assert_sv(EV.source_file, "/var/log/x");
	assert_int_equal(EV.source_offset, 4096);
	assert_int_equal(EV.flags, EV_HAS_IP | EV_HAS_HTTP_STATUS | EV_HAS_LATENCY | EV_HAS_OFFSET);
	assert_null(EV.data.p);
}

static void test_string_aliases(void **state)
{
	(void)state;
	static const struct {
		const char *alias;
		size_t off;
	} rows[] = {
	    {"host", offsetof(struct event, source_host)},
	    {"hostname", offsetof(struct event, source_host)},
	    {"user_id", offsetof(struct event, user)},
	    {"username", offsetof(struct event, user)},
	    {"msg", offsetof(struct event, message)},
	    {"raw", offsetof(struct event, raw_message)},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"%s\": \"v%zu\"}",
			 rows[i].alias, i);
		ok(text);
		const struct sv *v = (const struct sv *)((const char *)&EV + rows[i].off);
		char want[8];
		snprintf(want, sizeof(want), "v%zu", i);
		if (!v->p || v->n != strlen(want) || memcmp(v->p, want, v->n))
			fail_msg("alias %s not mapped", rows[i].alias);
		if (EV.data.p)
			fail_msg("alias %s also went into data", rows[i].alias);
	}
}

static void test_source_ip_aliases(void **state)
{
	(void)state;
	static const char *aliases[] = {"src_ip", "ip", "client_ip"};
	for (size_t i = 0; i < 3; i++) {
		char text[128];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"%s\": \"1.2.3.%zu\"}",
			 aliases[i], i);
		ok(text);
		char want[16];
		snprintf(want, sizeof(want), "1.2.3.%zu", i);
		assert_true(EV.flags & EV_HAS_IP);
		assert_int_equal(EV.source_ip.n, strlen(want));
		assert_memory_equal(EV.source_ip.p, want, EV.source_ip.n);
		assert_null(EV.data.p);
	}
}

static void test_timestamp_aliases(void **state)
{
	(void)state;
	static const char *aliases[] = {"ts", "@timestamp", "time"};
	for (size_t i = 0; i < 3; i++) {
		char text[128];
		snprintf(text, sizeof(text),
			 "{\"event_type\": \"X\", \"%s\": \"2024-03-15T12:34:56Z\"}", aliases[i]);
		ok(text);
		assert_int_equal(EV.ts, T0);
		assert_false(EV.flags & EV_TS_MISSING);
		assert_null(EV.data.p);
	}
}

static void test_canonical_beats_alias(void **state)
{
	(void)state;
	ok("{\"timestamp\": \"2024-03-15T12:34:56Z\", \"ts\": \"2020-01-01T00:00:00Z\","
	   " \"source_host\": \"a\", \"host\": \"b\", \"message\": \"m\", \"msg\": \"n\"}");
	assert_int_equal(EV.ts, T0);
	assert_sv(EV.source_host, "a");
	assert_sv(EV.message, "m");
	assert_data("{\"ts\": \"2020-01-01T00:00:00Z\", \"host\": \"b\", \"msg\": \"n\"}");
}

static void test_canonical_beats_alias_given_first(void **state)
{
	(void)state;
	ok("{\"user_id\": \"u1\", \"raw\": \"r1\", \"user\": \"u0\", \"raw_message\": \"r0\"}");
	assert_sv(EV.user, "u0");
	assert_sv(EV.raw_message, "r0");
	assert_data("{\"user_id\": \"u1\", \"raw\": \"r1\"}");
}

static void test_first_listed_alias_wins(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"client_ip\": \"3.3.3.3\", \"ip\": \"2.2.2.2\","
	   " \"src_ip\": \"1.1.1.1\"}");
	assert_sv(EV.source_ip, "1.1.1.1");
	assert_data("{\"client_ip\": \"3.3.3.3\", \"ip\": \"2.2.2.2\"}");
}

static void test_alias_order_for_host_user_time(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"hostname\": \"h2\", \"host\": \"h1\","
	   " \"username\": \"u2\", \"user_id\": \"u1\", \"time\": 3, \"@timestamp\": 2,"
	   " \"ts\": 1}");
	assert_sv(EV.source_host, "h1");
	assert_sv(EV.user, "u1");
	assert_int_equal(EV.ts, 1000000);
	assert_data("{\"hostname\": \"h2\", \"username\": \"u2\", \"time\": 3,"
		    " \"@timestamp\": 2}");
	ok("{\"event_type\": \"X\", \"time\": 3, \"@timestamp\": 2}");
	assert_int_equal(EV.ts, 2000000);
}

static void test_null_field_is_absent(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"timestamp\": null, \"ts\": \"2024-03-15T12:34:56Z\","
	   " \"user\": null, \"severity\": null}");
	assert_int_equal(EV.ts, T0);
	assert_sv(EV.user, "system");
	assert_int_equal(EV.severity, 1);
	assert_null(EV.data.p);
}

static void test_unknown_fields_into_data(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"foo\": 1, \"bar\": {\"a\": [1, 2]}, \"Message\": \"m\","
	   " \"nothing\": null}");
	assert_data(
	    "{\"foo\": 1, \"bar\": {\"a\": [1, 2]}, \"Message\": \"m\", \"nothing\": null}");
	assert_sv(EV.message, "X");
}

static void test_data_is_compact_json(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"data\": {\"k\": \"v\", \"n\": [1, 2]}}");
	assert_sv(EV.data, "{\"k\":\"v\",\"n\":[1,2]}");
}

static void test_data_merge_explicit_wins(void **state)
{
	(void)state;
	ok("{\"k\": \"outer\", \"event_type\": \"X\", \"z\": 1, \"data\": {\"k\": \"inner\", "
	   "\"y\": 2}}");
	assert_data("{\"k\": \"inner\", \"y\": 2, \"z\": 1}");
}

static void test_empty_data_is_absent(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"data\": {}}");
	assert_null(EV.data.p);
}

static void test_received_at_ignored(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"received_at\": \"2020-01-01T00:00:00Z\"}");
	assert_int_equal(EV.received_at, NOW);
	assert_null(EV.data.p);
}

static void test_scalars_become_text(void **state)
{
	(void)state;
	ok("{\"event_type\": 42, \"source_host\": 123, \"user\": true, \"app\": 1.5,"
	   " \"level\": false}");
	assert_sv(EV.event_type, "42");
	assert_sv(EV.source_host, "123");
	assert_sv(EV.user, "true");
	assert_sv(EV.app, "1.5");
	assert_sv(EV.level, "FALSE");
}

static void test_empty_strings_are_absent(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"user\": \"\", \"source_host\": \"\", \"app\": \"\","
	   " \"timestamp\": \"\", \"event_id\": \"\", \"source_ip\": \"\"}");
	assert_sv(EV.user, "system");
	assert_sv(EV.source_host, "unknown");
	assert_null(EV.app.p);
	assert_int_equal(EV.flags, EV_TS_MISSING | EV_ID_GENERATED);
}

/* ---- defaults ---- */

static void test_os_type_upper_cased(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"os_type\": \"Windows-10\"}");
	assert_sv(EV.os_type, "WINDOWS-10");
}

static void test_os_type_app_when_app_set(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"app\": \"billing\"}");
	assert_sv(EV.os_type, "APP");
}

static void test_message_from_raw_message(void **state)
{
	(void)state;
	ok("{\"raw_message\": \"Mar 15 sshd[1]: Failed password\"}");
	assert_sv(EV.message, "Mar 15 sshd[1]: Failed password");
	assert_sv(EV.event_type, "GENERIC");
}

static void test_message_from_event_type(void **state)
{
	(void)state;
	ok("{\"event_type\": \"DNS_BLOCK\"}");
	assert_sv(EV.message, "DNS_BLOCK");
}

static void test_message_from_long_raw_is_capped(void **state)
{
	(void)state;
	char *big = repeat('r', EV_CAP_MESSAGE + 10);
	json_t *j = json_pack("{s:s}", "raw", big);
	assert_int_equal(norm_j(j), 0);
	assert_int_equal(EV.raw_message.n, EV_CAP_MESSAGE + 10);
	assert_int_equal(EV.message.n, EV_CAP_MESSAGE);
	assert_int_equal(EV.message.p[EV_CAP_MESSAGE], '\0');
	assert_int_equal(EV.flags & (EV_TRUNC_MESSAGE | EV_TRUNC_RAW), EV_TRUNC_MESSAGE);
	free(big);
}

/* ---- severity ---- */

static void test_severity_integers_and_strings(void **state)
{
	(void)state;
	static const char *in[] = {"1", "2", "3", "4", "5", "\"1\"", "\"5\"", "3.0"};
	static const int want[] = {1, 2, 3, 4, 5, 1, 5, 3};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char text[96];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"severity\": %s}", in[i]);
		ok(text);
		if (EV.severity != want[i])
			fail_msg("severity %s gave %d", in[i], EV.severity);
	}
}

static void test_severity_names(void **state)
{
	(void)state;
	static const char *in[] = {"info", "LOW", "Medium", "high", "CRITICAL"};
	for (size_t i = 0; i < 5; i++) {
		char text[96];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"severity\": \"%s\"}",
			 in[i]);
		ok(text);
		if (EV.severity != (int)i + 1)
			fail_msg("severity %s gave %d", in[i], EV.severity);
	}
}

static void test_severity_from_level(void **state)
{
	(void)state;
	static const struct {
		const char *level;
		int sev;
	} rows[] = {
	    {"DEBUG", 1},    {"trace", 1},     {"Info", 1},    {"NOTICE", 1},
	    {"warn", 2},     {"WARNING", 2},   {"error", 3},   {"ERR", 3},
	    {"critical", 4}, {"CRIT", 4},      {"alert", 4},   {"Fatal", 4},
	    {"EMERG", 5},    {"emergency", 5}, {"verbose", 1}, {"errors", 1},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[96];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"level\": \"%s\"}",
			 rows[i].level);
		ok(text);
		if (EV.severity != rows[i].sev)
			fail_msg("level %s gave %d, want %d", rows[i].level, EV.severity,
				 rows[i].sev);
	}
}

static void test_severity_beats_level(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"level\": \"EMERG\", \"severity\": 2}");
	assert_int_equal(EV.severity, 2);
	assert_sv(EV.level, "EMERG");
}

/* ---- timestamps through the event ---- */

static void test_timestamp_forms(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		int64_t us;
	} rows[] = {
	    {"\"2024-03-15T12:34:56Z\"", T0},
	    {"\"2024-03-15T14:34:56+02:00\"", T0},
	    {"\"2024-03-15 07:04:56.5-0530\"", T0 + 500000},
	    {"1710506096", T0},
	    {"1710506096123", T0 + 123000},
	    {"1710506096123456", T0 + 123456},
	    {"1710506096.25", T0 + 250000},
	    {"\"1710506096\"", T0},
	    {"\"1710506096123\"", T0 + 123000},
	    {"\"1710506096123456\"", T0 + 123456},
	    {"\"1710506096.000001\"", T0 + 1},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"ts\": %s}", rows[i].v);
		ok(text);
		if (EV.ts != rows[i].us || (EV.flags & EV_TS_MISSING))
			fail_msg("ts %s gave %lld", rows[i].v, (long long)EV.ts);
	}
}

/* ---- schema errors, exact text ---- */

static void test_error_not_an_object(void **state)
{
	(void)state;
	expect_err("[1]", "event: must be a JSON object");
	expect_err("\"x\"", "event: must be a JSON object");
	expect_err("null", "event: must be a JSON object");
}

static void test_error_needs_type_or_message(void **state)
{
	(void)state;
	expect_err("{}", "event: needs event_type, message or raw_message");
	expect_err("{\"user\": \"bob\", \"message\": \"\", \"event_type\": null}",
		   "event: needs event_type, message or raw_message");
}

static void test_error_event_id(void **state)
{
	(void)state;
	expect_err("{\"event_type\": \"X\", \"event_id\": \"nope\"}", "event_id: not a UUID");
	expect_err("{\"event_type\": \"X\", \"event_id\": 12}", "event_id: not a UUID");
	expect_err("{\"event_type\": \"X\", \"event_id\": \"3f2504e0-4f89-41d3-9a0c-0305e82c330\"}",
		   "event_id: not a UUID");
}

static void test_error_timestamp(void **state)
{
	(void)state;
	expect_err("{\"event_type\": \"X\", \"timestamp\": \"yesterday\"}",
		   "timestamp: not ISO-8601 or epoch");
	expect_err("{\"event_type\": \"X\", \"ts\": \"2023-02-29T00:00:00Z\"}",
		   "ts: not ISO-8601 or epoch");
	expect_err("{\"event_type\": \"X\", \"time\": true}", "time: not ISO-8601 or epoch");
	expect_err("{\"event_type\": \"X\", \"@timestamp\": {}}",
		   "@timestamp: not ISO-8601 or epoch");
}

static void test_error_timestamp_out_of_range(void **state)
{
	(void)state;
	expect_err("{\"event_type\": \"X\", \"timestamp\": \"1969-12-31T23:59:59Z\"}",
		   "timestamp: out of range");
	expect_err("{\"event_type\": \"X\", \"timestamp\": -1}", "timestamp: out of range");
	expect_err("{\"event_type\": \"X\", \"timestamp\": -1.5}", "timestamp: out of range");
	expect_err("{\"event_type\": \"X\", \"timestamp\": 253402300800000000}",
		   "timestamp: out of range");
}

static void test_error_severity(void **state)
{
	(void)state;
	static const char *bad[] = {"0",	  "6",	  "-1",	 "2.5",	   "\"6\"",
				    "\"urgent\"", "true", "[1]", "\" 3\"", "\"\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[96];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"severity\": %s}", bad[i]);
		expect_err(text, "severity: must be an integer 1..5");
	}
}

static void test_error_source_ip(void **state)
{
	(void)state;
	expect_err("{\"event_type\": \"X\", \"source_ip\": \"1.2.3\"}",
		   "source_ip: not an IP address");
	expect_err("{\"event_type\": \"X\", \"src_ip\": \"fe80::1%eth0\"}",
		   "src_ip: not an IP address");
	expect_err("{\"event_type\": \"X\", \"ip\": 167772161}", "ip: not an IP address");
	expect_err("{\"event_type\": \"X\", \"client_ip\": \"010.1.1.1\"}",
		   "client_ip: not an IP address");
}

static void test_error_http_status(void **state)
{
	(void)state;
	static const char *bad[] = {"99", "600", "\"abc\"", "\"2000\"", "200.5", "true"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[96];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"http_status\": %s}",
			 bad[i]);
		expect_err(text, "http_status: must be an integer 100..599");
	}
}

static void test_error_latency(void **state)
{
	(void)state;
	static const char *bad[] = {"-1",	"\"abc\"",  "\"inf\"", "\"1 \"",
				    "\"0x10\"", "\"-0.5\"", "true",    "[]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[96];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"latency_ms\": %s}", bad[i]);
		expect_err(text, "latency_ms: must be a number >= 0");
	}
}

static void test_error_source_offset(void **state)
{
	(void)state;
	static const char *bad[] = {"-1", "1.5", "\"x\"", "\"-3\"", "{}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[96];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"source_offset\": %s}",
			 bad[i]);
		expect_err(text, "source_offset: must be an integer >= 0");
	}
}

static void test_error_string_field_not_string(void **state)
{
	(void)state;
	expect_err("{\"event_type\": \"X\", \"host\": {\"a\": 1}}", "host: must be a string");
	expect_err("{\"event_type\": [\"X\"]}", "event_type: must be a string");
	expect_err("{\"event_type\": \"X\", \"message\": []}", "message: must be a string");
}

static void test_error_data_not_object(void **state)
{
	(void)state;
	expect_err("{\"event_type\": \"X\", \"data\": [1]}", "data: must be an object");
	expect_err("{\"event_type\": \"X\", \"data\": \"k=v\"}", "data: must be an object");
}

/* ---- numbers ---- */

static void test_http_numbers_from_strings(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"http_status\": \"404\", \"latency_ms\": \"12.5\","
	   " \"source_offset\": \"123\"}");
	assert_int_equal(EV.http_status, 404);
	assert_true(EV.latency_ms == 12.5);
	assert_int_equal(EV.source_offset, 123);
	ok("{\"event_type\": \"X\", \"http_status\": 100, \"latency_ms\": 0, \"source_offset\": "
	   "0}");
	assert_int_equal(EV.http_status, 100);
	assert_true(EV.latency_ms == 0);
	assert_int_equal(EV.flags & (EV_HAS_HTTP_STATUS | EV_HAS_LATENCY | EV_HAS_OFFSET),
			 EV_HAS_HTTP_STATUS | EV_HAS_LATENCY | EV_HAS_OFFSET);
}

/* ---- source_ip ---- */

static void test_source_ip_canonical(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} rows[] = {
	    {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
	    {"::ffff:1.2.3.4", "1.2.3.4"},
	    {"[::1]", "::1"},
	    {"192.168.0.1", "192.168.0.1"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[96];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"source_ip\": \"%s\"}",
			 rows[i].in);
		ok(text);
		assert_true(EV.flags & EV_HAS_IP);
		if (EV.source_ip.n != strlen(rows[i].out) ||
		    memcmp(EV.source_ip.p, rows[i].out, EV.source_ip.n))
			fail_msg("%s gave %s", rows[i].in, EV.source_ip.p);
	}
}

static void test_source_ip_absent_words(void **state)
{
	(void)state;
	static const char *words[] = {"N/A", "n/a", "-", "unknown", "UNKNOWN", ""};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		char text[96];
		snprintf(text, sizeof(text), "{\"event_type\": \"X\", \"source_ip\": \"%s\"}",
			 words[i]);
		ok(text);
		assert_false(EV.flags & EV_HAS_IP);
		assert_null(EV.source_ip.p);
	}
	json_t *o = event_to_json(&EV, false);
	assert_string_equal(json_string_value(json_object_get(o, "source_ip")), "N/A");
	json_decref(o);
}

/* ---- caps ---- */

/* A message of `pad` ASCII bytes followed by "€" (3 bytes). */
static void message_with_euro(size_t pad)
{
	char *s = repeat('a', pad + 3);
	memcpy(s + pad, "\xe2\x82\xac", 3);
	assert_int_equal(norm_j(json_pack("{s:s}", "message", s)), 0);
	free(s);
}

static void test_message_cap_exact_fits(void **state)
{
	(void)state;
	message_with_euro(EV_CAP_MESSAGE - 3);
	assert_int_equal(EV.message.n, EV_CAP_MESSAGE);
	assert_false(EV.flags & EV_TRUNC_MESSAGE);
}

static void test_message_cap_cuts_before_straddling_char(void **state)
{
	(void)state;
	message_with_euro(EV_CAP_MESSAGE - 1); /* € occupies cap-1 .. cap+1 */
	assert_int_equal(EV.message.n, EV_CAP_MESSAGE - 1);
	assert_int_equal(EV.message.p[EV.message.n - 1], 'a');
	assert_true(EV.flags & EV_TRUNC_MESSAGE);
	message_with_euro(EV_CAP_MESSAGE - 2); /* € occupies cap-2 .. cap */
	assert_int_equal(EV.message.n, EV_CAP_MESSAGE - 2);
	assert_true(EV.flags & EV_TRUNC_MESSAGE);

	json_t *o = event_to_json(&EV, false);
	assert_non_null(o);
	json_t *t = json_object_get(o, "truncated");
	assert_int_equal(json_array_size(t), 1);
	assert_string_equal(json_string_value(json_array_get(t, 0)), "message");
	json_decref(o);
}

static void test_raw_message_cap(void **state)
{
	(void)state;
	char *s = repeat('r', EV_CAP_RAW + 1);
	assert_int_equal(norm_j(json_pack("{s:s, s:s}", "raw_message", s, "message", "m")), 0);
	assert_int_equal(EV.raw_message.n, EV_CAP_RAW);
	assert_int_equal(EV.flags & (EV_TRUNC_RAW | EV_TRUNC_MESSAGE), EV_TRUNC_RAW);
	free(s);
}

static void test_short_field_cap_utf8(void **state)
{
	(void)state;
	/* a 4-byte character straddling the short cap */
	char *s = repeat('h', EV_CAP_SHORT + 3);
	memcpy(s + EV_CAP_SHORT - 2, "\xf0\x9f\x98\x80", 4);
	s[EV_CAP_SHORT + 2] = '\0';
	assert_int_equal(norm_j(json_pack("{s:s, s:s}", "event_type", "X", "host", s)), 0);
	assert_int_equal(EV.source_host.n, EV_CAP_SHORT - 2);
	assert_int_equal(EV.flags & (EV_TRUNC_OTHER | EV_TRUNC_MESSAGE), EV_TRUNC_OTHER);
	json_t *o = event_to_json(&EV, false);
	json_t *t = json_object_get(o, "truncated");
	assert_int_equal(json_array_size(t), 1);
	assert_string_equal(json_string_value(json_array_get(t, 0)), "source_host");
	json_decref(o);
	free(s);
}

static void test_data_cap_marker(void **state)
{
	(void)state;
	char *s = repeat('x', 70000);
	assert_int_equal(norm_j(json_pack("{s:s, s:{s:s}}", "event_type", "X", "data", "big", s)),
			 0);
	assert_sv(EV.data, "{\"_truncated\":true,\"_original_bytes\":70010}");
	assert_true(EV.flags & EV_TRUNC_DATA);
	free(s);
}

static void test_data_just_under_cap_kept(void **state)
{
	(void)state;
	size_t n = EV_CAP_DATA - 10; /* {"big":"...."} adds 10 bytes */
	char *s = repeat('x', n);
	assert_int_equal(norm_j(json_pack("{s:s, s:s}", "event_type", "X", "big", s)), 0);
	assert_int_equal(EV.data.n, EV_CAP_DATA);
	assert_false(EV.flags & EV_TRUNC_DATA);
	assert_memory_equal(EV.data.p, "{\"big\":\"xxx", 11);
	assert_int_equal(EV.data.p[EV.data.n], '\0');
	free(s);
}

static void test_data_one_byte_over_cap_marked(void **state)
{
	(void)state;
	char *s = repeat('x', EV_CAP_DATA - 9);
	assert_int_equal(norm_j(json_pack("{s:s, s:s}", "event_type", "X", "big", s)), 0);
	assert_sv(EV.data, "{\"_truncated\":true,\"_original_bytes\":65537}");
	assert_true(EV.flags & EV_TRUNC_DATA);
	json_t *o = event_to_json(&EV, true);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "truncated"), 0)),
			    "data");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(o, "data"), "_original_bytes")),
	    65537);
	json_decref(o);
	free(s);
}

static void test_arena_limit_is_enomem(void **state)
{
	(void)state;
	struct arena small;
	arena_init(&small, 64);
	json_t *j = load("{\"message\": \"a message much longer than the sixty-four bytes"
			 " this arena may hand out\"}");
	assert_int_equal(event_from_json(&EV, j, &small, NOW, ERR, sizeof(ERR)), -ENOMEM);
	assert_string_equal(ERR, "event: out of memory");
	json_decref(j);
	arena_release(&small);
}

/* ---- NUL bytes and JSON output ---- */

static void test_nul_bytes_round_trip(void **state)
{
	(void)state;
	ok("{\"message\": \"a\\u0000b\", \"user\": \"x\\u0000\", \"k\": \"v\\u0000w\"}");
	sv_is(EV.message, "a\0b", 3);
	sv_is(EV.user, "x\0", 2);
	json_t *o = event_to_json(&EV, true);
	assert_non_null(o);
	json_t *m = json_object_get(o, "message");
	assert_int_equal(json_string_length(m), 3);
	assert_memory_equal(json_string_value(m), "a\0b", 3);
	json_t *k = json_object_get(json_object_get(o, "data"), "k");
	assert_int_equal(json_string_length(k), 3);
	assert_memory_equal(json_string_value(k), "v\0w", 3);
	json_decref(o);
}

static void test_to_json_full(void **state)
{
	(void)state;
	ok("{\"event_id\": \"3F2504E0-4F89-41D3-9A0C-0305E82C3301\", \"ts\": 1710506096.5,"
	   " \"host\": \"web1\", \"event_type\": \"LOGIN_FAIL\", \"level\": \"error\","
	   " \"src_ip\": \"2001:db8::0:1\", \"user_id\": \"bob\", \"app\": \"api\","
	   " \"msg\": \"bad password\", \"raw\": \"line\", \"http_status\": 401,"
	   " \"latency_ms\": 2.5, \"source_offset\": 7, \"extra\": {\"a\": 1}}");
	json_t *want =
	    load("{\"event_id\": \"3f2504e0-4f89-41d3-9a0c-0305e82c3301\","
		 " \"timestamp\": \"2024-03-15T12:34:56.500000Z\","
		 " \"received_at\": \"2024-03-15T12:34:56.000000Z\", \"source_host\": \"web1\","
		 " \"os_type\": \"APP\", \"event_type\": \"LOGIN_FAIL\", \"severity\": 3,"
		 " \"level\": \"ERROR\", \"source_ip\": \"2001:db8::1\", \"user\": \"bob\","
		 " \"message\": \"bad password\", \"app\": \"api\", \"http_status\": 401,"
		 " \"latency_ms\": 2.5, \"source_offset\": 7, \"raw_message\": \"line\","
		 " \"data\": {\"extra\": {\"a\": 1}}}");
	json_t *got = event_to_json(&EV, true);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT);
		fail_msg("got %s", g);
	}
	json_decref(got);
	json_decref(want);
}

static void test_to_json_list_view_omits_raw_and_data(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"raw\": \"line\", \"extra\": 1}");
	json_t *o = event_to_json(&EV, false);
	assert_null(json_object_get(o, "raw_message"));
	assert_null(json_object_get(o, "data"));
	assert_null(json_object_get(o, "truncated"));
	assert_null(json_object_get(o, "app"));
	assert_null(json_object_get(o, "http_status"));
	assert_string_equal(json_string_value(json_object_get(o, "user")), "system");
	assert_int_equal(json_object_size(o), 10);
	json_decref(o);
}

static void test_to_json_round_trip(void **state)
{
	(void)state;
	ok("{\"event_type\": \"SUDO\", \"os_type\": \"linux\", \"ip\": \"::ffff:10.1.2.3\","
	   " \"timestamp\": \"2024-03-15T12:34:56.123456Z\", \"severity\": \"high\","
	   " \"data\": {\"cmd\": \"ls\"}, \"source_file\": \"/var/log/auth.log\"}");
	struct event first = EV;
	json_t *o = event_to_json(&first, true);
	assert_int_equal(event_from_json(&EV, o, &A, NOW + 5, ERR, sizeof(ERR)), 0);
	json_decref(o);
	assert_memory_equal(EV.id, first.id, 16);
	assert_int_equal(EV.ts, first.ts);
	assert_int_equal(EV.received_at, NOW + 5);
	assert_int_equal(EV.severity, 4);
	assert_memory_equal(EV.ip, first.ip, 16);
	assert_sv(EV.source_ip, "10.1.2.3");
	assert_sv(EV.os_type, "LINUX");
	assert_sv(EV.source_file, "/var/log/auth.log");
	assert_data("{\"cmd\": \"ls\"}");
	assert_int_equal(EV.flags, EV_HAS_IP);
}

static void test_to_json_replaces_invalid_utf8(void **state)
{
	(void)state;
	struct event ev;
	memset(&ev, 0, sizeof(ev));
	ev.severity = 1;
	ev.message = (struct sv){"ok\xff\xe2\x82", 5};
	json_t *o = event_to_json(&ev, false);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "message")), "ok???");
	assert_string_equal(json_string_value(json_object_get(o, "event_type")), "GENERIC");
	json_decref(o);
}

/* ---- ingest_key: set by the hub, never from the JSON ---- */

static void test_ingest_key_from_json_goes_to_data(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\", \"source\": \"http:b\", \"ingest_key\": \"b\","
	   " \"ingest_key_id\": 7}");
	assert_null(EV.ingest_key.p);
	assert_int_equal(EV.ingest_key_id, 0);
	assert_sv(EV.source, "http:b");
	assert_data("{\"ingest_key\": \"b\", \"ingest_key_id\": 7}");
	ok("{\"event_type\": \"X\", \"ingest_key\": {\"name\": \"b\", \"id\": 2}}");
	assert_null(EV.ingest_key.p);
	assert_data("{\"ingest_key\": {\"name\": \"b\", \"id\": 2}}");
}

static void test_ingest_key_to_json(void **state)
{
	(void)state;
	ok("{\"event_type\": \"X\"}");
	json_t *o = event_to_json(&EV, true);
	assert_null(json_object_get(o, "ingest_key"));
	json_decref(o);

	EV.ingest_key = (struct sv){"agent-one", 9};
	EV.ingest_key_id = 42;
	for (int full = 0; full < 2; full++) {
		o = event_to_json(&EV, full);
		json_t *want = load("{\"name\": \"agent-one\", \"id\": 42}");
		assert_true(json_equal(json_object_get(o, "ingest_key"), want));
		json_decref(want);
		json_decref(o);
	}

	EV.ingest_key = (struct sv){"env", 3};
	EV.ingest_key_id = 0; /* a key of SIEM_API_KEYS has no id */
	o = event_to_json(&EV, false);
	json_t *want = load("{\"name\": \"env\", \"id\": null}");
	assert_true(json_equal(json_object_get(o, "ingest_key"), want));
	json_decref(want);
	json_decref(o);
}

/* The order of the output's keys is what the API and logtest have always written. */
static void test_to_json_key_order(void **state)
{
	(void)state;
	char big[1100];
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"event_id\": \"3F2504E0-4F89-41D3-9A0C-0305E82C3301\", \"ts\": 1710506096.5,"
		 " \"source_host\": \"web1\", \"os_type\": \"linux\", \"event_type\": \"T\","
		 " \"severity\": 2, \"level\": \"warn\", \"source_ip\": \"10.0.0.1\","
		 " \"user\": \"bob\", \"app\": \"api\", \"message\": \"m\", \"raw_message\": \"r\","
		 " \"request_id\": \"q\", \"user_agent\": \"%s\", \"http_method\": \"GET\","
		 " \"http_path\": \"/\", \"http_status\": 200, \"latency_ms\": 1.5,"
		 " \"error_type\": \"E\", \"source\": \"s\", \"source_file\": \"f\","
		 " \"source_offset\": 3, \"extra\": 1}",
		 big);
	ok(text);
	EV.ingest_key = (struct sv){"k", 1};
	EV.ingest_key_id = 7;
	static const char *const want[] = {
	    "event_id",	   "timestamp",	    "received_at", "source_host", "os_type",
	    "event_type",  "severity",	    "level",	   "source_ip",	  "user",
	    "message",	   "app",	    "request_id",  "user_agent",  "http_method",
	    "http_path",   "http_status",   "latency_ms",  "error_type",  "source",
	    "source_file", "source_offset", "ingest_key",  "truncated",	  "raw_message",
	    "data",
	};
	for (int full = 0; full < 2; full++) {
		json_t *o = event_to_json(&EV, full);
		size_t n = full ? 26 : 24, i = 0;
		assert_int_equal(json_object_size(o), n);
		const char *k;
		json_t *v;
		json_object_foreach (o, k, v) {
			assert_true(i < n);
			assert_string_equal(k, want[i]);
			i++;
		}
		json_decref(o);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_minimal_event_gets_defaults),
	    T(test_canonical_names),
	    T(test_string_aliases),
	    T(test_source_ip_aliases),
	    T(test_timestamp_aliases),
	    T(test_canonical_beats_alias),
	    T(test_canonical_beats_alias_given_first),
	    T(test_first_listed_alias_wins),
	    T(test_alias_order_for_host_user_time),
	    T(test_null_field_is_absent),
	    T(test_unknown_fields_into_data),
	    T(test_data_is_compact_json),
	    T(test_data_merge_explicit_wins),
	    T(test_empty_data_is_absent),
	    T(test_received_at_ignored),
	    T(test_scalars_become_text),
	    T(test_empty_strings_are_absent),
	    T(test_os_type_upper_cased),
	    T(test_os_type_app_when_app_set),
	    T(test_message_from_raw_message),
	    T(test_message_from_event_type),
	    T(test_message_from_long_raw_is_capped),
	    T(test_severity_integers_and_strings),
	    T(test_severity_names),
	    T(test_severity_from_level),
	    T(test_severity_beats_level),
	    T(test_timestamp_forms),
	    T(test_error_not_an_object),
	    T(test_error_needs_type_or_message),
	    T(test_error_event_id),
	    T(test_error_timestamp),
	    T(test_error_timestamp_out_of_range),
	    T(test_error_severity),
	    T(test_error_source_ip),
	    T(test_error_http_status),
	    T(test_error_latency),
	    T(test_error_source_offset),
	    T(test_error_string_field_not_string),
	    T(test_error_data_not_object),
	    T(test_http_numbers_from_strings),
	    T(test_source_ip_canonical),
	    T(test_source_ip_absent_words),
	    T(test_message_cap_exact_fits),
	    T(test_message_cap_cuts_before_straddling_char),
	    T(test_raw_message_cap),
	    T(test_short_field_cap_utf8),
	    T(test_data_cap_marker),
	    T(test_data_just_under_cap_kept),
	    T(test_data_one_byte_over_cap_marked),
	    T(test_arena_limit_is_enomem),
	    T(test_nul_bytes_round_trip),
	    T(test_to_json_full),
	    T(test_to_json_list_view_omits_raw_and_data),
	    T(test_to_json_round_trip),
	    T(test_to_json_replaces_invalid_utf8),
	    T(test_ingest_key_from_json_goes_to_data),
	    T(test_ingest_key_to_json),
	    T(test_to_json_key_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
