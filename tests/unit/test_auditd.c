/* test_auditd.c — Linux audit records: fields, quoting, hex-encoded values, the enriched
 * names, nested user-space fields, node= and the kernel's form; through logline_to_event as
 * audit.log lines and as syslog sends them; SigmaHQ's auditd detections fire on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "testdata.h"

#include "core/err.h"
#include "detect/detect.h"
#include "parse/auditd.h"
#include "parse/logline.h"

#define SAMPLES "tests/samples/auditd"
#define NOW 1764700000000000LL

static struct arena A;

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
	return 0;
}

static const char *fval(const struct audit_rec *r, const char *k)
{
	static char buf[512];
	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].keyn == strlen(k) && !memcmp(r->f[i].key, k, r->f[i].keyn)) {
			snprintf(buf, sizeof(buf), "%.*s", (int)r->f[i].valn, r->f[i].val);
			return buf;
		}
	return NULL;
}

static void test_parse(void **state)
{
	(void)state;
	struct audit_rec r;
	const char *s = "type=SYSCALL msg=audit(1764670218.443:5012): arch=c000003e syscall=59 "
			"a0=55d1c2a3b4c0 comm=\"sysctl\" exe=2F7573722F62696E2F612062 key=\"exec\""
			"\x1d"
			"ARCH=x86_64 SYSCALL=execve AUID=\"alice\"";
	assert_int_equal(auditd_parse(s, strlen(s), &r, &A), 0);
	assert_int_equal(r.typen, 7);
	assert_memory_equal(r.type, "SYSCALL", 7);
	assert_int_equal(r.ts, 1764670218443000LL);
	assert_int_equal(r.serial, 5012);
	assert_string_equal(fval(&r, "syscall"), "59");
	assert_string_equal(fval(&r, "a0"), "55d1c2a3b4c0"); /* a syscall's number, not text */
	assert_string_equal(fval(&r, "comm"), "sysctl");
	assert_string_equal(fval(&r, "exe"), "/usr/bin/a b"); /* hex-encoded: decoded */
	assert_string_equal(fval(&r, "key"), "exec");
	assert_string_equal(fval(&r, "SYSCALL"), "execve"); /* enriched, after 0x1d */
	assert_string_equal(fval(&r, "AUID"), "alice");
	/* EXECVE arguments: quoted, hex, a long one split in pieces */
	s = "type=EXECVE msg=audit(1.000:2): argc=3 a0=\"ls\" a1=2D6C61 a2[0]=4142 a2_len=4";
	assert_int_equal(auditd_parse(s, strlen(s), &r, &A), 0);
	assert_string_equal(fval(&r, "a0"), "ls");
	assert_string_equal(fval(&r, "a1"), "-la");
	assert_string_equal(fval(&r, "a2[0]"), "AB");
	assert_string_equal(fval(&r, "a2_len"), "4");
	/* node=, the kernel's form without msg=, nested fields of user-space records */
	s = "node=web1 type=1400 audit(1764670260.123:5050): apparmor=\"DENIED\" "
	    "name=\"/etc/shadow\"";
	assert_int_equal(auditd_parse(s, strlen(s), &r, &A), 0);
	assert_int_equal(r.noden, 4);
	assert_string_equal(fval(&r, "apparmor"), "DENIED");
	s = "type=USER_AUTH msg=audit(5.001:9): pid=1 msg='op=PAM:authentication acct=\"bob\" "
	    "exe=\"/usr/bin/su\" res=failed'";
	assert_int_equal(auditd_parse(s, strlen(s), &r, &A), 0);
	assert_string_equal(fval(&r, "op"), "PAM:authentication");
	assert_string_equal(fval(&r, "acct"), "bob");
	assert_string_equal(fval(&r, "res"), "failed");
	assert_null(fval(&r, "msg"));
	/* not audit records, or broken ones */
	static const char *bad[] = {"",
				    "type=",
				    "type=SYSCALL",
				    "type=SYSCALL msg=audit(",
				    "type=SYSCALL msg=audit(12.34:5): x=1",
				    "type=X msg=audit(1.123:): a=b",
				    "type=X msg=audit(1.123:9 a=b",
				    "hello type=SYSCALL",
				    "node=a",
				    "type=X msg=audit(.123:9): a=b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (auditd_parse(bad[i], strlen(bad[i]), &r, &A) != SIEM_EPARSE)
			fail_msg("'%s' parsed", bad[i]);
	/* an unterminated quote ends at the end; bytes past n are never read */
	s = "type=X msg=audit(1.123:9): a=\"open b=c";
	assert_int_equal(auditd_parse(s, strlen(s) - 4, &r, &A), 0);
	assert_string_equal(fval(&r, "a"), "open");
}

struct evs {
	struct event ev[16];
	size_t n;
};

static void read_lines(const char *file, struct evs *out)
{
	char path[256];
	snprintf(path, sizeof(path), SAMPLES "/%s", file);
	size_t n;
	char *text = test_slurp(path, &n);
	if (!text)
		fail_msg("missing %s (run from the repository)", path);
	out->n = 0;
	struct logline_ctx ctx = {.source = "logtest"};
	for (char *p = text, *e; p < text + n && out->n < 16; p = e + 1) {
		e = memchr(p, '\n', (size_t)(text + n - p));
		if (!e)
			e = text + n;
		char err[256];
		if (logline_to_event(FMT_AUTO, p, (size_t)(e - p), &ctx, NOW, &out->ev[out->n], &A,
				     err, sizeof(err), NULL))
			fail_msg("%s: %s", file, err);
		out->n++;
	}
	/* the events point into the arena, not into text: it may go */
	free(text);
}

static json_t *data_of(const struct event *e)
{
	json_error_t je;
	json_t *d = json_loadb(e->data.p, e->data.n, 0, &je);
	if (!d)
		fail_msg("data is not JSON: %s", je.text);
	return d;
}

static void sv_eq(struct sv v, const char *want)
{
	if (v.n != strlen(want) || memcmp(v.p, want, v.n))
		fail_msg("'%.*s', want '%s'", (int)v.n, v.p ? v.p : "", want);
}

static void test_audit_log(void **state)
{
	(void)state;
	struct evs l;
	read_lines("audit.log", &l);
	assert_int_equal(l.n, 9);
	sv_eq(l.ev[0].event_type, "AUDIT_SYSCALL");
	sv_eq(l.ev[0].app, "auditd");
	sv_eq(l.ev[0].os_type, "LINUX");
	sv_eq(l.ev[0].user, "alice"); /* the login user, enriched */
	assert_int_equal(l.ev[0].ts, 1764670218443000LL);
	json_t *d = data_of(&l.ev[0]);
	assert_string_equal(json_string_value(json_object_get(d, "type")), "SYSCALL");
	assert_string_equal(json_string_value(json_object_get(d, "exe")), "/usr/sbin/sysctl");
	assert_string_equal(json_string_value(json_object_get(d, "SYSCALL")), "execve");
	assert_int_equal(json_integer_value(json_object_get(d, "audit_serial")), 5012);
	json_decref(d);
	d = data_of(&l.ev[4]);
	assert_string_equal(json_string_value(json_object_get(d, "proctitle")),
			    "sysctl -w kernel.randomize_va_space=0");
	json_decref(d);
	d = data_of(&l.ev[5]);
	assert_string_equal(json_string_value(json_object_get(d, "a1")), "/tmp/a b");
	json_decref(d);
	/* the failed login: who, from where, how it went */
	sv_eq(l.ev[6].event_type, "AUDIT_USER_LOGIN");
	sv_eq(l.ev[6].user, "mallory");
	sv_eq(l.ev[6].source_ip, "203.0.113.9");
	assert_int_equal(l.ev[6].severity, 2);
	d = data_of(&l.ev[8]);
	assert_string_equal(json_string_value(json_object_get(d, "node")), "web1");
	json_decref(d);
}

static void test_syslog_forms(void **state)
{
	(void)state;
	struct evs l;
	read_lines("syslog.log", &l);
	assert_int_equal(l.n, 4);
	sv_eq(l.ev[0].app, "auditd"); /* audispd */
	sv_eq(l.ev[0].event_type, "AUDIT_EXECVE");
	sv_eq(l.ev[0].source_host, "web1");
	json_t *d = data_of(&l.ev[0]);
	assert_string_equal(json_string_value(json_object_get(d, "a2")),
			    "kernel.randomize_va_space=0");
	assert_non_null(json_object_get(d, "syslog")); /* what syslog said is kept */
	json_decref(d);
	sv_eq(l.ev[1].app, "auditd"); /* audisp-syslog */
	sv_eq(l.ev[1].user, "mallory");
	sv_eq(l.ev[2].app, "auditd"); /* the kernel's */
	sv_eq(l.ev[2].event_type, "AUDIT_1400");
	/* a program that is no audit daemon keeps its own event */
	sv_eq(l.ev[3].app, "myapp");
	sv_eq(l.ev[3].event_type, "SYSLOG");
}

/* The detection of SigmaHQ's "ASLR Disabled Via Sysctl or Direct Syscall - Linux" and of its
 * mknod rule, on the records. */
static void test_sigma_rules_fire(void **state)
{
	(void)state;
	struct evs l;
	read_lines("audit.log", &l);
	static const struct {
		const char *sel;
		int hit; /* the record it fires on */
	} c[] = {
	    {"    type: 'EXECVE'\n    a0: 'sysctl'\n    a1: '-w'\n    a2: "
	     "'kernel.randomize_va_space=0'",
	     1},
	    {"    type: 'SYSCALL'\n    SYSCALL: 'mknod'", 8},
	    {"    type: 'PATH'\n    name: '/usr/sbin/sysctl'\n    nametype: NORMAL", 3},
	    {"    type: 'SYSCALL'\n    exe|endswith: '/sysctl'\n    key: exec", 0},
	};
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		char y[512];
		snprintf(y, sizeof(y),
			 "title: t\nlogsource:\n  product: linux\n  service: auditd\ndetection:\n"
			 "  sel:\n%s\n  condition: sel\n",
			 c[k].sel);
		struct rule **r;
		size_t n;
		char err[512];
		if (rule_compile(y, strlen(y), "t", &r, &n, err, sizeof(err)))
			fail_msg("%s", err);
		assert_null(rule_never_fires(r[0]));
		for (size_t i = 0; i < l.n; i++)
			if (rule_matches(r[0], &l.ev[i]) != ((int)i == c[k].hit))
				fail_msg("rule %zu, record %zu: want %s", k, i,
					 (int)i == c[k].hit ? "a match" : "none");
		rule_free(r[0]);
		free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syslog_forms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sigma_rules_fire, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
