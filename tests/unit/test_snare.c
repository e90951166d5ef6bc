/* test_snare.c — Windows events forwarded as syslog by Snare (MSWinEventLog records): rsyslog's
 * Snare test vectors from shared/data, modern and legacy failed logons, and records too
 * short or malformed to be Snare's, which stay plain syslog events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "parse/logline.h"
#include "testdata.h"

#define NOW (1795248000LL * 1000000) /* 2026-11-21T08:00:00Z */

static struct arena A;
static struct event EV;
static const struct logline_ctx CTX = {.source = "syslog_udp", .host = "192.0.2.4"};

static void conv(const char *line)
{
	char err[256];
	arena_reset(&A);
	if (logline_to_event(FMT_SYSLOG, line, strlen(line), &CTX, NOW, &EV, &A, err, sizeof(err),
			     NULL))
		fail_msg("logline_to_event: %s", err);
}

static bool sv_eq(struct sv v, const char *s)
{
	return v.p && v.n == strlen(s) && !memcmp(v.p, s, v.n);
}

#define assert_sv(v, want)                                                                  \
	do {                                                                                \
		if (!sv_eq((v), (want)))                                                    \
			fail_msg("line %d: %s = \"%.*s\", want \"%s\"", __LINE__, #v,       \
				 (v).p ? (int)(v).n : 6, (v).p ? (v).p : "absent", (want)); \
	} while (0)

static json_t *snare_data(void)
{
	json_t *d = json_loadb(EV.data.p, EV.data.n, 0, NULL);
	if (!json_is_object(d))
		fail_msg("data is no object: %.*s", (int)EV.data.n, EV.data.p);
	json_t *s = json_incref(json_object_get(d, "snare"));
	json_decref(d);
	return s;
}

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

/* A modern failed logon, as Snare writes event 4625 (the expanded message on one line). */
static void test_failed_logon_4625(void **state)
{
	(void)state;
	conv(
	    "<132>Nov 21 07:55:49 dc01.corp.example MSWinEventLog\t2\tSecurity\t1234\tSat Nov 21 "
	    "07:55:49 2026\t4625\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tFailure "
	    "Audit\tDC01\tLogon\t\tAn account failed to log on.    Subject:   Security ID:  "
	    "S-1-0-0  "
	    " Account Name:  -   Account Domain:  -   Logon ID:  0x0    Logon Type:   3    Account "
	    "For Which Logon Failed:   Security ID:  S-1-0-0   Account Name:  administrator   "
	    "Account Domain:  CORP    Failure Information:   Failure Reason:  Unknown user name "
	    "or bad password.   Status:   0xC000006D   Sub Status:  0xC000006A    Network "
	    "Information:   Workstation Name: KALI   Source Network Address: 203.0.113.7   "
	    "Source Port:  51234\t88");
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_int_equal(EV.severity, 3);
	assert_sv(EV.os_type, "WINDOWS");
	assert_sv(EV.level, "AUDIT_FAILURE");
	assert_sv(EV.user, "administrator");
	assert_sv(EV.source_ip, "203.0.113.7");
	assert_sv(EV.source_host, "dc01.corp.example");
	json_t *s = snare_data();
	assert_int_equal(json_integer_value(json_object_get(s, "event_id")), 4625);
	assert_string_equal(json_string_value(json_object_get(s, "computer")), "DC01");
	json_decref(s);
	/* Windows 2003's 529 is the same failure. */
	conv("<132>Nov 21 07:55:49 srv MSWinEventLog\t1\tSecurity\t77\tSat Nov 21 07:55:49 "
	     "2026\t529\tSecurity\tSYSTEM\tUser\tFailure Audit\tSRV\tLogon/Logoff\t\tLogon "
	     "Failure:     Reason: Unknown user name or bad password     User Name: bob     "
	     "Domain: SRV     Logon Type: 3     Source Network Address: 198.51.100.4     Source "
	     "Port: 0    \t9");
	assert_sv(EV.event_type, "LOGIN_FAIL");
	assert_sv(EV.user, "bob");
	assert_sv(EV.source_ip, "198.51.100.4");
}

/* rsyslog's Snare vectors: every record typed, the logons with their addresses. */
static void test_rsyslog_vectors(void **state)
{
	(void)state;
	const char *dir = test_data_dir("syslog/rsyslog-testsuites/snare.parse1");
	if (!dir)
		skip();
	char path[600];
	snprintf(path, sizeof(path), "%s/syslog/rsyslog-testsuites/snare.parse1", dir);
	char *text = test_slurp(path, NULL);
	assert_non_null(text);
	size_t records = 0, logons = 0, with_ip = 0;
	char *save = NULL;
	bool expect_line = true;
	for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		if (ln[0] == '#') {
			expect_line = true;
			continue;
		}
		if (!expect_line)
			continue; /* rsyslog's expected output */
		expect_line = false;
		/* Undo the vectors' escapes: \011 is a tab, a final '\' is a continuation. */
		char line[4096];
		size_t n = 0;
		for (const char *c = ln; *c && n < sizeof(line) - 1; c++) {
			if (c[0] == '\\' && !strncmp(c + 1, "011", 3)) {
				line[n++] = '\t';
				c += 3;
			} else if (!(c[0] == '\\' && c[1] == '\0')) {
				line[n++] = *c;
			}
		}
		line[n] = '\0';
		conv(line);
		records++;
		assert_sv(EV.os_type, "WINDOWS");
		assert_sv(EV.app, "MSWinEventLog");
		json_t *s = snare_data();
		json_int_t id = json_integer_value(json_object_get(s, "event_id"));
		json_decref(s);
		if (id == 540) {
			logons++;
			assert_sv(EV.event_type, "LOGIN_SUCCESS");
			if (EV.flags & EV_HAS_IP)
				with_ip++;
		} else {
			char want[32];
			snprintf(want, sizeof(want), "WINEVENT_%lld", (long long)id);
			assert_sv(EV.event_type, want);
		}
		assert_false(sv_eq(EV.user, "Domain:"));
	}
	free(text);
	assert_int_equal(records, 17);
	assert_int_equal(logons, 9);
	assert_int_equal(with_ip, 8);
}

static void test_not_snare(void **state)
{
	(void)state;
	/* Too few fields, an id that is no number: plain syslog events. */
	conv("<14>Nov 21 07:55:49 h MSWinEventLog\t1\tSecurity\t5");
	assert_sv(EV.event_type, "SYSLOG");
	assert_sv(EV.os_type, "LINUX");
	conv("<14>Nov 21 07:55:49 h MSWinEventLog\t1\tSecurity\t5\tt\t4x25\ts\tu\tU\tFailure "
	     "Audit\tC\tL\t\tmsg");
	assert_sv(EV.event_type, "SYSLOG");
	conv("<14>Nov 21 07:55:49 h MSWinEventLog\t1\tSecurity\t5\tt\t99999999999\ts\tu\tU\ta\tC\tL"
	     "\t\tmsg");
	assert_sv(EV.event_type, "SYSLOG");
	/* An unknown id: its own type, severity from the audit result. */
	conv("<14>Nov 21 07:55:49 h MSWinEventLog\t1\tSecurity\t5\tt\t4740\ts\tu\tU\tFailure "
	     "Audit\tC\tL\t\tA user account was locked out.");
	assert_sv(EV.event_type, "WINEVENT_4740");
	assert_int_equal(EV.severity, 3);
	assert_sv(EV.message, "A user account was locked out.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failed_logon_4625),
	    cmocka_unit_test(test_rsyslog_vectors),
	    cmocka_unit_test(test_not_snare),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
