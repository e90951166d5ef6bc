/* test_logline.c — logline_to_event: the formats (auto, syslog, auth, jsonl), the event
 * fields a syslog line gives with exact values, and hostile lines (empty, 1 MiB, invalid
 * UTF-8, NUL bytes) that must still make valid JSON. */
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
#include "core/tz.h"
#include "parse/logline.h"

#define S 1000000LL
#define NOW (1795248000LL * S) /* 2026-11-21T08:00:00Z */

static struct arena A;
static struct event EV;
static struct decode_explain EX;
static char ERR[256];
static const struct logline_ctx CTX = {.source = "test"};

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

static int conv_n(enum log_format f, const char *line, size_t n, const struct logline_ctx *ctx)
{
	arena_reset(&A);
	return logline_to_event(f, line, n, ctx, NOW, &EV, &A, ERR, sizeof(ERR), &EX);
}

static int conv(enum log_format f, const char *line)
{
	return conv_n(f, line, strlen(line), &CTX);
}

static bool sv_eq(struct sv v, const char *s)
{
	return v.p && v.n == strlen(s) && !memcmp(v.p, s, v.n);
}

#define assert_sv(v, want) assert_sv_((v), (want), #v, __LINE__)
static void assert_sv_(struct sv v, const char *want, const char *what, int line)
{
	if (!want) {
		if (v.p)
			fail_msg("line %d: %s = \"%.*s\", want absent", line, what, (int)v.n, v.p);
		return;
	}
	if (!sv_eq(v, want))
		fail_msg("line %d: %s = \"%.*s\", want \"%s\"", line, what, v.p ? (int)v.n : 6,
			 v.p ? v.p : "absent", want);
}

/* The event as JSON must exist (valid UTF-8 everywhere). */
static json_t *as_json(void)
{
	json_t *o = event_to_json(&EV, true);
	if (!o)
		fail_msg("event_to_json failed");
	if (EV.data.p) {
		json_t *d = json_loadb(EV.data.p, EV.data.n, 0, NULL);
		if (!json_is_object(d))
			fail_msg("data is not a JSON object: %.*s", (int)EV.data.n, EV.data.p);
		json_decref(d);
	}
	return o;
}

static void test_format_names(void **state)
{
	(void)state;
	enum log_format f;
	assert_int_equal(log_format_parse("auto", &f), 0);
	assert_int_equal(f, FMT_AUTO);
	assert_int_equal(log_format_parse("syslog", &f), 0);
	assert_int_equal(f, FMT_SYSLOG);
	assert_int_equal(log_format_parse("auth", &f), 0);
	assert_int_equal(f, FMT_AUTH);
	assert_int_equal(log_format_parse("jsonl", &f), 0);
	assert_int_equal(f, FMT_JSONL);
	assert_int_equal(log_format_parse("winxml", &f), 0);
	assert_int_equal(f, FMT_WINXML);
	assert_int_equal(log_format_parse("xml", &f), -EINVAL);
	assert_int_equal(log_format_parse("SYSLOG", &f), -EINVAL);
	assert_int_equal(log_format_parse("", &f), -EINVAL);
	assert_int_equal(log_format_parse(NULL, &f), -EINVAL);
}

static void test_syslog_event_fields(void **state)
{
	(void)state;
	const char *line = "<38>Nov 21 07:55:49 web1 sshd[822]: Failed password for root from "
			   "203.0.113.7 port 52114 ssh2\n";
	assert_int_equal(conv(FMT_SYSLOG, line), 0);
	assert_int_equal(EV.ts, 1795247749LL * S);
	assert_int_equal(EV.received_at, NOW);
	assert_true(EV.flags & EV_ID_GENERATED);
	assert_false(EV.flags & EV_TS_MISSING);
	assert_sv(EV.source_host, "web1");
	assert_sv(EV.os_type, "LINUX");
	assert_sv(EV.app, "sshd");
	assert_sv(EV.level, "INFO");
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_int_equal(EV.severity, 3);
	assert_sv(EV.user, "root");
	assert_sv(EV.source_ip, "203.0.113.7");
	assert_true(EV.flags & EV_HAS_IP);
	assert_sv(EV.message, "Failed password for root from 203.0.113.7 port 52114 ssh2");
	assert_sv(EV.raw_message, "<38>Nov 21 07:55:49 web1 sshd[822]: Failed password for root "
				  "from 203.0.113.7 port 52114 ssh2");
	assert_sv(EV.source, "test");
	assert_sv(EV.data, "{\"syslog\":{\"format\":\"rfc3164\",\"facility\":4,\"severity\":6,"
			   "\"pid\":822},\"port\":52114,\"method\":\"password\","
			   "\"reason\":\"wrong_password\"}");
	assert_string_equal(EX.decoder, "sshd");
	assert_string_equal(EX.pattern, "failed_password");

	json_t *o = as_json();
	assert_string_equal(json_string_value(json_object_get(o, "timestamp")),
			    "2026-11-21T07:55:49.000000Z");
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(json_object_get(o, "data"), "syslog"), "pid")),
			 822);
	json_decref(o);
}

static void test_rfc5424_event(void **state)
{
	(void)state;
	const char *line = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
			   "[exampleSDID@32473 iut=\"3\" eventSource= \"Application\" "
			   "eventID=\"1011\"][examplePriority@32473 class=\"hi\\\"gh\"] "
			   "\xEF\xBB\xBF"
			   "An application event log entry...";
	assert_int_equal(conv(FMT_SYSLOG, line), 0);
	assert_int_equal(EV.ts, 1065910455LL * S + 3000);
	assert_sv(EV.source_host, "mymachine.example.com");
	assert_sv(EV.app, "evntslog");
	assert_sv(EV.level, "NOTICE");
	assert_int_equal(EV.severity, 1);
	assert_sv(EV.event_type, "SYSLOG");
	assert_sv(EV.message, "An application event log entry...");
	assert_sv(EV.data, "{\"syslog\":{\"format\":\"rfc5424\",\"facility\":20,\"severity\":5,"
			   "\"msgid\":\"ID47\",\"sd\":{\"exampleSDID@32473\":{\"iut\":\"3\","
			   "\"eventSource\":\"Application\",\"eventID\":\"1011\"},"
			   "\"examplePriority@32473\":{\"class\":\"hi\\\"gh\"}}}}");
	assert_null(EX.decoder);
	json_decref(as_json());

	/* SD only, no message: the message is the raw line. Malformed SD is kept as text. */
	assert_int_equal(conv(FMT_SYSLOG, "<14>1 - h a - - [x@1 k=v]"), 0);
	assert_true(EV.flags & EV_TS_MISSING);
	assert_int_equal(EV.ts, NOW);
	assert_sv(EV.message, "<14>1 - h a - - [x@1 k=v]");
	assert_sv(EV.data, "{\"syslog\":{\"format\":\"rfc5424\",\"facility\":1,\"severity\":6,"
			   "\"sd\":\"[x@1 k=v]\"}}");
	/* A PROCID with leading zeros is still a JSON number (fuzzer find). */
	assert_int_equal(conv(FMT_SYSLOG, "<14>1 - h a 007 - - m"), 0);
	assert_sv(EV.data, "{\"syslog\":{\"format\":\"rfc5424\",\"facility\":1,\"severity\":6,"
			   "\"pid\":7}}");
	assert_int_equal(conv(FMT_SYSLOG, "<14>1 - h a 000 - - m"), 0);
	assert_non_null(memmem(EV.data.p, EV.data.n, "\"pid\":0}", 8));
	json_decref(as_json());
	/* A non-numeric PROCID stays a string. */
	assert_int_equal(conv(FMT_SYSLOG, "<14>1 - h a worker-1 - - m"), 0);
	assert_sv(EV.data, "{\"syslog\":{\"format\":\"rfc5424\",\"facility\":1,\"severity\":6,"
			   "\"pid\":\"worker-1\"}}");
}

static void test_severity_map(void **state)
{
	(void)state;
	static const int want[8] = {5, 5, 4, 3, 2, 1, 1, 1};
	static const char *lvl[8] = {"EMERG",	"ALERT",  "CRIT", "ERR",
				     "WARNING", "NOTICE", "INFO", "DEBUG"};
	for (int s = 0; s < 8; s++) {
		char line[64];
		snprintf(line, sizeof(line), "<%d>Oct 11 22:14:15 h kernel: x", 8 + s);
		assert_int_equal(conv(FMT_SYSLOG, line), 0);
		assert_int_equal(EV.severity, want[s]);
		assert_sv(EV.level, lvl[s]);
	}
	/* No PRI: no level, severity 1. A decoder's severity wins over syslog's. */
	assert_int_equal(conv(FMT_SYSLOG, "Oct 11 22:14:15 h kernel: x"), 0);
	assert_null(EV.level.p);
	assert_int_equal(EV.severity, 1);
	assert_int_equal(conv(FMT_SYSLOG, "<8>Oct 11 22:14:15 h useradd[1]: new user: name=x"), 0);
	assert_int_equal(EV.severity, 4);
	assert_int_equal(conv(FMT_SYSLOG, "<8>Oct 11 22:14:15 h sshd[1]: Server listening"), 0);
	assert_sv(EV.event_type, "SSHD");
	assert_int_equal(EV.severity, 5);
}

static void test_context(void **state)
{
	(void)state;
	const struct logline_ctx ctx = {
	    .source = "syslog_udp", .os_type = "NETWORK", .host = "192.0.2.50"};
	const char *line = "<13>su: x";
	assert_int_equal(conv_n(FMT_SYSLOG, line, strlen(line), &ctx), 0);
	assert_sv(EV.source_host, "192.0.2.50");
	assert_sv(EV.os_type, "NETWORK");
	assert_sv(EV.source, "syslog_udp");
	line = "<13>Oct 11 22:14:15 web2 su: x";
	assert_int_equal(conv_n(FMT_SYSLOG, line, strlen(line), &ctx), 0);
	assert_sv(EV.source_host, "web2");
	/* Without a context: defaults. */
	assert_int_equal(conv_n(FMT_SYSLOG, "x", 1, NULL), 0);
	assert_sv(EV.source_host, "unknown");
	assert_sv(EV.os_type, "LINUX");
	assert_sv(EV.user, "system");
	assert_null(EV.source.p);
	assert_sv(EV.message, "x");
	assert_int_equal(logline_to_event(FMT_SYSLOG, "x", 1, NULL, NOW, &EV, &A, NULL, 0, NULL),
			 0);
}

static void test_auth_format(void **state)
{
	(void)state;
	assert_int_equal(conv(FMT_AUTH, "Nov 21 07:55:49 host sshd[822]: Accepted password for "
					"bob from 10.0.0.1 port 22 ssh2"),
			 0);
	assert_sv(EV.event_type, "LOGIN_SUCCESS");
	assert_sv(EV.os_type, "LINUX");
	assert_int_equal(EV.ts, 1795247749LL * S);
	assert_int_equal(conv(FMT_AUTH, "2026-11-21T07:55:49.123456+00:00 host sshd[822]: Invalid "
					"user x from 10.0.0.2"),
			 0);
	assert_int_equal(EV.ts, 1795247749LL * S + 123456);
	assert_sv(EV.user, "x");
	assert_sv(EV.source_host, "host");
	/* A line without a timestamp is not an auth.log line. */
	assert_int_equal(conv(FMT_AUTH, "hello world"), SIEM_EPARSE);
	assert_non_null(strstr(ERR, "no 'Mmm dd HH:MM:SS'"));
	/* ... but is syslog text. */
	assert_int_equal(conv(FMT_SYSLOG, "hello world"), 0);
	assert_sv(EV.message, "hello world");
	assert_sv(EV.event_type, "SYSLOG");
	/* CRLF endings as in the loghub files. */
	assert_int_equal(conv(FMT_AUTH, "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster "
					"from 173.234.31.186\r\n"),
			 0);
	assert_sv(EV.source_ip, "173.234.31.186");
	assert_sv(EV.raw_message, "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from "
				  "173.234.31.186");
}

static void test_auto_and_jsonl(void **state)
{
	(void)state;
	assert_int_equal(conv(FMT_AUTO, "  {\"message\": \"hi\", \"app\": \"web\"}"), 0);
	assert_sv(EV.message, "hi");
	assert_sv(EV.app, "web");
	assert_sv(EV.source, "test");
	assert_null(EX.decoder);
	assert_int_equal(conv(FMT_AUTO, "<13>Oct 11 22:14:15 h sshd[1]: Invalid user x from ::1"),
			 0);
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_sv(EV.source_ip, "::1");
	/* Bad JSON: the jsonl parser's error, not a syslog event. */
	assert_true(conv(FMT_AUTO, "{\"message\": ") < 0);
	assert_true(ERR[0] != '\0');
	assert_true(conv(FMT_JSONL, "not json") < 0);
	assert_int_equal(conv(FMT_JSONL, ""), SIEM_EPARSE);
	assert_int_equal(conv(FMT_JSONL, "\r\n"), SIEM_EPARSE);
}

static void test_empty(void **state)
{
	(void)state;
	const char *empties[] = {"", "\n", "\r\n", "\0\0"};
	size_t lens[] = {0, 1, 2, 2};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(conv_n(FMT_SYSLOG, empties[i], lens[i], &CTX), SIEM_EPARSE);
		assert_string_equal(ERR, "empty line");
		assert_int_equal(conv_n(FMT_AUTO, empties[i], lens[i], &CTX), SIEM_EPARSE);
	}
	assert_int_equal(conv_n(FMT_SYSLOG, NULL, 5, &CTX), SIEM_EPARSE);
	/* Only a BOM and spaces is still a line of text. */
	assert_int_equal(conv(FMT_SYSLOG, "   "), 0);
}

static void test_invalid_utf8_and_nul(void **state)
{
	(void)state;
	static const char line[] = "<13>Oct 11 22:14:15 h sshd[1]: Failed password for a\0b\xc3 "
				   "from 1.2.3.4 port 2 \xed\xa0\x80 \xf4\x90\x80\x80 ok \xc3\xa9";
	assert_int_equal(conv_n(FMT_SYSLOG, line, sizeof(line) - 1, &CTX), 0);
	/* Each bad byte (and the NUL) became U+FFFD; valid é stays. */
	assert_sv(EV.user, "a\xEF\xBF\xBD"
			   "b\xEF\xBF\xBD");
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_non_null(memmem(EV.message.p, EV.message.n, "ok \xc3\xa9", 5));
	assert_non_null(memmem(EV.data.p, EV.data.n, "\"invalid_utf8\":9", 16));
	json_t *o = as_json();
	char *s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	free(s);
	json_decref(o);
	static const char tag[] = "<13>Oct 11 22:14:15 h ap\xffp: m";
	assert_int_equal(conv_n(FMT_SYSLOG, tag, sizeof(tag) - 1, &CTX), 0);
	assert_sv(EV.app, "ap\xEF\xBF\xBDp");
	/* Trailing NULs are terminators, not content. */
	static const char t[] = "<13>Oct 11 22:14:15 h a: m\0\0\0";
	assert_int_equal(conv_n(FMT_SYSLOG, t, sizeof(t) - 1, &CTX), 0);
	assert_sv(EV.message, "m");
	assert_null(memmem(EV.data.p, EV.data.n, "invalid_utf8", 12));
}

static void test_huge_line(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, 'x', n);
	memcpy(big, "<13>Oct 11 22:14:15 h sshd[1]: ", 31);
	assert_int_equal(conv_n(FMT_SYSLOG, big, n, &CTX), 0);
	assert_int_equal(EV.raw_message.n, EV_CAP_RAW);
	assert_int_equal(EV.message.n, EV_CAP_MESSAGE);
	assert_true(EV.flags & EV_TRUNC_RAW);
	assert_true(EV.flags & EV_TRUNC_MESSAGE);
	assert_sv(EV.event_type, "SSHD");
	json_t *o = as_json();
	assert_int_equal(json_array_size(json_object_get(o, "truncated")), 2);
	json_decref(o);
	/* A cut never splits a UTF-8 sequence. */
	for (size_t i = 31; i + 1 < n; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[31] = 'a';
	assert_int_equal(conv_n(FMT_SYSLOG, big, n, &CTX), 0);
	assert_true(EV.raw_message.n <= EV_CAP_RAW);
	json_decref(as_json());
	/* Huge structured data is left out of data, flagged. */
	memset(big, 'a', n);
	memcpy(big, "<14>1 - h a - - [x@1 k=\"", 24);
	memcpy(big + n - 3, "\"] ", 3);
	assert_int_equal(conv_n(FMT_SYSLOG, big, n, &CTX), 0);
	assert_true(EV.flags & EV_TRUNC_DATA);
	assert_non_null(memmem(EV.data.p, EV.data.n, "\"sd_truncated\":true", 19));
	json_decref(as_json());
	free(big);
}

static void test_control_chars_in_data(void **state)
{
	(void)state;
	assert_int_equal(conv(FMT_SYSLOG, "<14>1 - h a p\"\\\x01 - [i\x02 k=\"v\\\\\\]\\x\"] m"),
			 0);
	json_t *o = as_json();
	json_t *d = json_object_get(o, "data");
	assert_true(json_is_object(d));
	json_t *sd = json_object_get(json_object_get(d, "syslog"), "sd");
	assert_string_equal(json_string_value(json_object_get(json_object_get(sd, "i\x02"), "k")),
			    "v\\]\\x");
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "syslog"), "pid")),
			    "p\"\\\x01");
	json_decref(o);
}

/* data's value at a dotted path ("forwarder.host") as text, or NULL. */
static const char *data_str(const char *path, char *buf, size_t n)
{
	json_t *d = json_loadb(EV.data.p, EV.data.n, 0, NULL), *v = d;
	char copy[128], *save = NULL;
	snprintf(copy, sizeof(copy), "%s", path);
	for (char *k = strtok_r(copy, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	const char *r = NULL;
	if (json_is_string(v)) {
		snprintf(buf, n, "%s", json_string_value(v));
		r = buf;
	}
	json_decref(d);
	return r;
}

#define assert_data(path, want) assert_data_((path), (want), __LINE__)
static void assert_data_(const char *path, const char *want, int line)
{
	char b[256];
	const char *v = data_str(path, b, sizeof(b));
	if (!want ? v != NULL : !v || strcmp(v, want))
		fail_msg("line %d: data.%s = %s, want %s (data %.*s)", line, path, v ? v : "absent",
			 want ? want : "absent", (int)EV.data.n, EV.data.p);
}

/* rsyslog's standard RFC 5424 forwarding template: two spaces before the message. */
static void test_rsyslog_5424_template(void **state)
{
	(void)state;
	assert_int_equal(conv(FMT_SYSLOG, "<38>1 2026-11-21T07:55:49.000000+00:00 web1 sshd 822 - "
					  "-  Failed password for root from 203.0.113.7 port "
					  "52114 ssh2"),
			 0);
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_sv(EV.source_ip, "203.0.113.7");
	assert_sv(EV.user, "root");
	assert_sv(EV.message, "Failed password for root from 203.0.113.7 port 52114 ssh2");
	assert_int_equal(EV.ts, 1795247749LL * S);
}

/* A file forwarded line by line: the message is itself a whole syslog line. */
static void test_forwarded_line(void **state)
{
	(void)state;
	const struct logline_ctx ctx = {.source = "syslog_tcp", .host = "192.0.2.7"};
	const char *fail = "Failed password for root from 203.0.113.7 port 52114 ssh2";
	char line[512];
	/* rsyslog imfile forwarded in RFC 3164 and in RFC 5424 (with the template's two
	 * spaces), syslog-ng and Fluent Bit without a host of their own. */
	const char *outers[] = {
	    "<133>Nov 21 07:59:00 fwd1 authlog: ",
	    "<133>1 2026-11-21T07:59:00Z fwd1 authlog - - -  ",
	    "<133>Nov 21 07:59:00 authlog: ",
	};
	for (size_t i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "%sNov 21 07:55:49 LabSZ sshd[24200]: %s", outers[i],
			 fail);
		assert_int_equal(conv_n(FMT_SYSLOG, line, strlen(line), &ctx), 0);
		assert_sv(EV.source_host, "LabSZ");
		assert_sv(EV.app, "sshd");
		assert_int_equal(EV.ts, 1795247749LL * S);
		assert_sv(EV.event_type, "LOGIN_FAIL");
		assert_sv(EV.source_ip, "203.0.113.7");
		assert_sv(EV.message, fail);
		assert_sv(EV.level, "NOTICE"); /* the forwarder's PRI: the line has none */
		assert_sv(EV.raw_message, line);
		assert_data("forwarder.host", i == 2 ? "192.0.2.7" : "fwd1");
		assert_data("forwarder.app", "authlog");
		assert_data("forwarder.timestamp", "2026-11-21T07:59:00.000000Z");
		assert_data("forwarder.format", i == 1 ? "rfc5424" : "rfc3164");
		json_decref(as_json());
	}
	/* A message that starts with a date but names no program stays as it is. */
	assert_int_equal(conv(FMT_SYSLOG, "<13>Nov 21 07:59:00 fwd1 app: Nov 21 07:55:49 was "
					  "when it broke"),
			 0);
	assert_sv(EV.app, "app");
	assert_sv(EV.source_host, "fwd1");
	assert_data("forwarder.host", NULL);
}

static void test_zones_and_future(void **state)
{
	(void)state;
	struct tz_map *zones = NULL;
	char err[256];
	assert_int_equal(tz_map_parse("Europe/Paris,192.0.2.9=Asia/Tokyo,tokyo-gw=+09:00", &zones,
				      err, sizeof(err)),
			 0);
	struct logline_ctx ctx = {.source = "syslog_udp", .host = "192.0.2.9", .zones = zones};
	/* 16:55:49 in Tokyo is 07:55:49Z; by address, then by the host the line names. */
	const char *tokyo = "<38>Nov 21 16:55:49 web1 sshd[1]: x";
	assert_int_equal(conv_n(FMT_SYSLOG, tokyo, strlen(tokyo), &ctx), 0);
	assert_int_equal(EV.ts, 1795247749LL * S);
	assert_data("syslog.timezone", "Asia/Tokyo");
	ctx.host = "198.51.100.1";
	const char *gw = "<38>Nov 21 16:55:49 Tokyo-GW sshd[1]: x";
	assert_int_equal(conv_n(FMT_SYSLOG, gw, strlen(gw), &ctx), 0);
	assert_int_equal(EV.ts, 1795247749LL * S);
	assert_data("syslog.timezone", "+09:00");
	/* Everyone else: the default zone, Paris (+1 in November). */
	const char *paris = "<38>Nov 21 08:55:49 web1 sshd[1]: x";
	assert_int_equal(conv_n(FMT_SYSLOG, paris, strlen(paris), &ctx), 0);
	assert_int_equal(EV.ts, 1795247749LL * S);
	/* A time with its zone is not moved. */
	const char *iso = "<38>1 2026-11-21T07:55:49Z web1 sshd 1 - - x";
	assert_int_equal(conv_n(FMT_SYSLOG, iso, strlen(iso), &ctx), 0);
	assert_int_equal(EV.ts, 1795247749LL * S);
	assert_data("syslog.timezone", NULL);
	tz_map_free(zones);

	/* Without the zone the Tokyo line lies 9 hours ahead: stored at the receive time, its
	 * own time kept in data; a few minutes ahead is clock drift and kept. */
	assert_int_equal(conv(FMT_SYSLOG, tokyo), 0);
	assert_int_equal(EV.ts, NOW);
	assert_data("future_timestamp", "2026-11-21T16:55:49.000000Z");
	assert_int_equal(conv(FMT_SYSLOG, "<38>Nov 21 08:10:00 web1 sshd[1]: x"), 0);
	assert_int_equal(EV.ts, NOW + 600 * S);
	assert_data("future_timestamp", NULL);
	json_decref(as_json());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_names),
	    cmocka_unit_test(test_syslog_event_fields),
	    cmocka_unit_test(test_rfc5424_event),
	    cmocka_unit_test(test_severity_map),
	    cmocka_unit_test(test_context),
	    cmocka_unit_test(test_auth_format),
	    cmocka_unit_test(test_auto_and_jsonl),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_invalid_utf8_and_nul),
	    cmocka_unit_test(test_huge_line),
	    cmocka_unit_test(test_control_chars_in_data),
	    cmocka_unit_test(test_rsyslog_5424_template),
	    cmocka_unit_test(test_forwarded_line),
	    cmocka_unit_test(test_zones_and_future),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
