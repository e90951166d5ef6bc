/* test_redecode.c — a dead letter decoded again as its source decodes records now: a tailed
 * line within today's limit (source, file and offset as the tailer sets them), one still over
 * it, malformed JSON, a syslog message, a source with no decoder, and the replay's event id:
 * fixed per dead letter, the line's own when it has one. */
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
#include "source/redecode.h"

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

static int run(int64_t id, const char *source, const char *raw, size_t line_max)
{
	struct redecode_rec d = {id, source, "/logs/app.jsonl", 120, raw, strlen(raw)};
	struct redecode_opts o = {.tail_line_max = line_max};
	return redecode(&d, &o, NOW, &EV, &A, ERR, sizeof(ERR));
}

static bool sv_is(struct sv v, const char *s)
{
	return v.p && v.n == strlen(s) && memcmp(v.p, s, v.n) == 0;
}

static void test_tail_line_within_the_limit(void **state)
{
	(void)state;
	const char *line =
	    "{\"app\":\"billing\",\"event_type\":\"export_done\",\"message\":\"ok\"}";
	assert_int_equal(run(7, "tail", line, 1 << 20), 0);
	assert_true(sv_is(EV.source, "tail"));
	assert_true(sv_is(EV.source_file, "/logs/app.jsonl"));
	assert_true(EV.flags & EV_HAS_OFFSET);
	assert_int_equal(EV.source_offset, 120);
	assert_true(sv_is(EV.app, "billing"));
	assert_true(sv_is(EV.raw_message, line));
	uint8_t first[16];
	memcpy(first, EV.id, 16);
	/* The same dead letter again: the same id (a second replay is a duplicate) ... */
	assert_int_equal(run(7, "tail", line, 1 << 20), 0);
	assert_memory_equal(first, EV.id, 16);
	/* ... the same line kept as another dead letter: another event */
	assert_int_equal(run(8, "tail", line, 1 << 20), 0);
	assert_memory_not_equal(first, EV.id, 16);
	/* uuid_v5 of "dead-letter:7:" and the line */
	char name[256];
	int n = snprintf(name, sizeof(name), "dead-letter:7:%s", line);
	uint8_t want[16];
	uuid_v5(name, (size_t)n, want);
	assert_memory_equal(first, want, 16);
}

static void test_own_event_id_is_kept(void **state)
{
	(void)state;
	assert_int_equal(
	    run(7, "tail",
		"{\"event_id\":\"0b7e3f5c-1d2a-4c1e-9f00-1234567890ab\",\"message\":\"x\"}", 0),
	    0);
	uint8_t want[16];
	assert_int_equal(uuid_parse("0b7e3f5c-1d2a-4c1e-9f00-1234567890ab", 36, want), 0);
	assert_memory_equal(EV.id, want, 16);
}

static void test_tail_line_still_too_long(void **state)
{
	(void)state;
	char line[300];
	memset(line, 'x', sizeof(line) - 1);
	line[0] = '{';
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(run(1, "tail", line, 256), SIEM_ETOOBIG);
	assert_string_equal(ERR, "line longer than 256 bytes");
}

static void test_malformed_json_says_why(void **state)
{
	(void)state;
	assert_int_equal(run(1, "tail", "not json", 0), SIEM_EPARSE);
	assert_non_null(strstr(ERR, "malformed JSON"));
}

static void test_syslog_message(void **state)
{
	(void)state;
	const char *msg = "<38>Mar 15 12:00:00 bastion sshd[42]: Failed password for root from "
			  "203.0.113.9 port 40000 ssh2";
	assert_int_equal(run(3, "syslog_udp", msg, 0), 0);
	assert_true(sv_is(EV.source, "syslog_udp"));
	assert_true(sv_is(EV.source_host, "bastion"));
	assert_true(sv_is(EV.event_type, "LOGIN_FAIL"));
	assert_false(EV.flags & EV_HAS_OFFSET);
}

static void test_unknown_source(void **state)
{
	(void)state;
	assert_int_equal(run(3, "evtx", "<Event/>", 0), SIEM_EPARSE);
	assert_string_equal(ERR, "no decoder for records of source 'evtx'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tail_line_within_the_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_own_event_id_is_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tail_line_still_too_long, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_json_says_why, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syslog_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_source, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
