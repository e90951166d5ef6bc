/* test_forward.c — forwarders' HTTP records (Fluent Bit, Vector, Logstash, syslog-ng, the
 * raw envelope) as they post them: their log line decoded like a syslog line, the
 * forwarder kept in data, typed and application events left as they are. */
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

#define S 1000000LL
#define NOW (1795248000LL * S)	   /* 2026-11-21T08:00:00Z */
#define LINE_TS (1795247749LL * S) /* Nov 21 07:55:49 */
#define FAILED "Failed password for root from 203.0.113.7 port 52114 ssh2"
#define LINE "Nov 21 07:55:49 LabSZ sshd[24200]: " FAILED

static struct arena A;
static struct event EV;
static char ERR[256];

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_release(&A);
	decode_release();
	return 0;
}

static int conv(const char *json)
{
	json_error_t je;
	json_t *o = json_loads(json, 0, &je);
	if (!o)
		fail_msg("bad test JSON %s: %s", json, je.text);
	arena_reset(&A);
	int rc = forward_event_from_json(&EV, o, &A, NOW, ERR, sizeof(ERR));
	json_decref(o);
	return rc;
}

static void assert_sv_(struct sv v, const char *want, int line)
{
	if (!want ? v.p != NULL : !v.p || v.n != strlen(want) || memcmp(v.p, want, v.n))
		fail_msg("line %d: \"%.*s\", want \"%s\"", line, v.p ? (int)v.n : 6,
			 v.p ? v.p : "absent", want ? want : "absent");
}
#define assert_sv(v, want) assert_sv_((v), (want), __LINE__)

/* data's string at "a" or "a.b", or NULL. */
static const char *data_str(const char *k1, const char *k2, char *buf, size_t n)
{
	json_t *d = json_loadb(EV.data.p ? EV.data.p : "{}", EV.data.p ? EV.data.n : 2, 0, NULL);
	json_t *v = json_object_get(d, k1);
	if (k2)
		v = json_object_get(v, k2);
	const char *r = NULL;
	if (json_is_string(v)) {
		snprintf(buf, n, "%s", json_string_value(v));
		r = buf;
	}
	json_decref(d);
	return r;
}

static void assert_data_(const char *k1, const char *k2, const char *want, int line)
{
	char b[256];
	const char *v = data_str(k1, k2, b, sizeof(b));
	if (!want ? v != NULL : !v || strcmp(v, want))
		fail_msg("line %d: data.%s%s%s = %s, want %s (data %.*s)", line, k1, k2 ? "." : "",
			 k2 ? k2 : "", v ? v : "absent", want ? want : "absent",
			 EV.data.p ? (int)EV.data.n : 0, EV.data.p ? EV.data.p : "");
}
#define assert_data(k1, k2, want) assert_data_((k1), (k2), (want), __LINE__)

/* What every decoded sshd failure of LINE holds. */
static void assert_line_decoded(void)
{
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_sv(EV.source_host, "LabSZ");
	assert_sv(EV.app, "sshd");
	assert_sv(EV.os_type, "LINUX");
	assert_sv(EV.source_ip, "203.0.113.7");
	assert_true(EV.flags & EV_HAS_IP);
	assert_sv(EV.user, "root");
	assert_sv(EV.message, FAILED);
	assert_int_equal(EV.ts, LINE_TS);
	assert_false(EV.flags & EV_TS_MISSING);
	assert_data("syslog", "format", "rfc3164");
}

static void test_fluent_bit_tail(void **state)
{
	(void)state;
	/* out_http, format json, json_date_key date (epoch seconds, its default format). */
	assert_int_equal(conv("{\"date\": 1795247940.25, \"log\": \"" LINE "\"}"), 0);
	assert_line_decoded();
	assert_sv(EV.raw_message, LINE);
	assert_data("forwarder", "timestamp", "2026-11-21T07:59:00.250000Z");
	assert_data("forwarder", "host", NULL);
	/* json_date_format iso8601, and a record of the syslog input (its own field names). */
	assert_int_equal(conv("{\"date\": \"2026-11-21T07:55:49.000Z\", \"pri\": \"38\", \"host\": "
			      "\"web1\", \"ident\": \"sshd\", \"pid\": \"822\", \"message\": "
			      "\"" FAILED "\"}"),
			 0);
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_sv(EV.app, "sshd");
	assert_sv(EV.source_host, "web1");
	assert_sv(EV.source_ip, "203.0.113.7");
	assert_sv(EV.os_type, "LINUX");
	assert_int_equal(EV.ts, LINE_TS);
	assert_data("pid", NULL, "822");
}

static void test_vector(void **state)
{
	(void)state;
	/* The file source, as the http sink's json codec writes it. */
	assert_int_equal(conv("{\"file\": \"/var/log/auth.log\", \"host\": \"vec1\", \"message\": "
			      "\"" LINE "\", \"source_type\": \"file\", \"timestamp\": "
			      "\"2026-11-21T07:59:00.1Z\"}"),
			 0);
	assert_line_decoded();
	assert_sv(EV.source_file, "/var/log/auth.log");
	assert_data("forwarder", "host", "vec1");
	assert_data("forwarder", "timestamp", "2026-11-21T07:59:00.100000Z");
	assert_data("source_type", NULL, "file");
	/* The syslog source: the program and its message apart, severity a level name. */
	assert_int_equal(conv("{\"appname\": \"sshd\", \"facility\": \"auth\", \"hostname\": "
			      "\"web1\", \"message\": \"" FAILED "\", \"procid\": 822, "
			      "\"severity\": \"notice\", \"source_type\": \"syslog\", "
			      "\"timestamp\": \"2026-11-21T07:55:49Z\"}"),
			 0);
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_sv(EV.source_host, "web1");
	assert_sv(EV.level, "NOTICE");
	assert_sv(EV.user, "root");
	assert_int_equal(EV.ts, LINE_TS);
}

static void test_logstash(void **state)
{
	(void)state;
	/* ECS mode: "host" is an object, the line also under event.original. */
	assert_int_equal(conv("{\"@timestamp\": \"2026-11-21T07:59:00.000Z\", \"@version\": \"1\", "
			      "\"host\": {\"name\": \"ls1\", \"ip\": [\"192.0.2.5\"]}, \"log\": "
			      "{\"file\": {\"path\": \"/var/log/auth.log\"}}, \"message\": \"" LINE
			      "\", \"event\": {\"original\": \"" LINE "\"}}"),
			 0);
	assert_line_decoded();
	assert_sv(EV.raw_message, LINE);
	assert_data("forwarder", "host", "ls1");
	/* Legacy mode: "host" a string, the syslog input's program and logsource. */
	assert_int_equal(conv("{\"@timestamp\": \"2026-11-21T07:55:49.000Z\", \"host\": "
			      "\"192.0.2.5\", \"logsource\": \"web1\", \"program\": \"sshd\", "
			      "\"message\": \"" FAILED "\"}"),
			 0);
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_sv(EV.source_host, "192.0.2.5");
	assert_sv(EV.app, "sshd");
	assert_data("logsource", NULL, "web1");
}

static void test_syslog_ng_format_json(void **state)
{
	(void)state;
	assert_int_equal(conv("{\"PROGRAM\": \"sshd\", \"PRIORITY\": \"info\", \"PID\": \"24200\", "
			      "\"MESSAGE\": \"" FAILED "\", \"HOST\": \"LabSZ\", \"FACILITY\": "
			      "\"auth\", \"DATE\": \"Nov 21 07:55:49\", \"ISODATE\": "
			      "\"2026-11-21T07:55:49+00:00\"}"),
			 0);
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_sv(EV.source_host, "LabSZ");
	assert_sv(EV.app, "sshd");
	assert_sv(EV.level, "INFO");
	assert_sv(EV.source_ip, "203.0.113.7");
	assert_int_equal(EV.ts, LINE_TS);
	assert_data("PID", NULL, "24200");
}

static void test_raw_envelope(void **state)
{
	(void)state;
	assert_int_equal(conv("{\"timestamp\": \"2026-11-21T07:59:00Z\", \"host\": \"agent1\", "
			      "\"source\": \"auth.log\", \"raw\": \"" LINE "\"}"),
			 0);
	assert_line_decoded();
	assert_sv(EV.source, "auth.log");
	assert_sv(EV.raw_message, LINE);
	assert_data("forwarder", "host", "agent1");
	/* With a PRI and an RFC 5424 header (rsyslog's template: two spaces). */
	assert_int_equal(
	    conv("{\"raw\": \"<38>1 2026-11-21T07:55:49Z LabSZ sshd 24200 - -  " FAILED "\"}"), 0);

	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_sv(EV.level, "INFO");
	assert_data("syslog", "format", "rfc5424");
}

static void test_left_alone(void **state)
{
	(void)state;
	/* A record that names its type is the sender's: no decoding. */
	assert_int_equal(conv("{\"event_type\": \"MY_TYPE\", \"message\": \"" LINE "\"}"), 0);
	assert_sv(EV.event_type, "MY_TYPE");
	assert_sv(EV.source_host, "unknown");
	assert_sv(EV.message, LINE);
	assert_data("forwarder", NULL, NULL);
	/* An application's event: as before. */
	assert_int_equal(conv("{\"app\": \"web\", \"message\": \"user logged in\"}"), 0);
	assert_sv(EV.event_type, "GENERIC");
	assert_sv(EV.os_type, "APP");
	/* A message that starts with a date but is no syslog line. */
	assert_int_equal(conv("{\"message\": \"Nov 21 was a good day for everyone\"}"), 0);
	assert_sv(EV.event_type, "GENERIC");
	assert_sv(EV.message, "Nov 21 was a good day for everyone");
	/* A host object without a name is data, not a schema failure. */
	assert_int_equal(conv("{\"host\": {\"ip\": [\"192.0.2.5\"]}, \"message\": \"x\"}"), 0);
	assert_sv(EV.source_host, "unknown");
	/* Malformed values still fail with the field named. */
	assert_int_equal(conv("{\"date\": \"yesterday\", \"log\": \"x\"}"), SIEM_ESCHEMA);
	assert_non_null(strstr(ERR, "timestamp"));
	assert_int_equal(conv("{\"log\": {\"nested\": true}}"), SIEM_ESCHEMA);
	/* An oversized line: decoded from what is kept, every cut marked. */
	size_t big = 100 * 1024;
	char *body = malloc(big + 64);
	assert_non_null(body);
	int k = snprintf(body, 64, "{\"log\": \"Nov 21 07:55:49 LabSZ sshd[1]: ");
	memset(body + k, 'x', big);
	memcpy(body + k + big, "\"}", 3);
	assert_int_equal(conv(body), 0);
	assert_sv(EV.app, "sshd");
	assert_sv(EV.source_host, "LabSZ");
	assert_true(EV.flags & EV_TRUNC_MESSAGE);
	assert_true(EV.flags & EV_TRUNC_RAW);
	assert_true(EV.message.n <= EV_CAP_MESSAGE && EV.raw_message.n <= EV_CAP_RAW);
	free(body);
	assert_int_equal(conv("{\"raw\": \"Nov 21 07:55:49 LabSZ sshd[1]: " FAILED "\"}"), 0);
	assert_sv(EV.event_type, "LOGIN_FAIL");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fluent_bit_tail), cmocka_unit_test(test_vector),
	    cmocka_unit_test(test_logstash),	    cmocka_unit_test(test_syslog_ng_format_json),
	    cmocka_unit_test(test_raw_envelope),    cmocka_unit_test(test_left_alone),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
