/* test_audit_asm.c — the records of one Linux audit event put together (audit_asm.c) and
 * decoded as one event (auditd.c): interleaved events, EOE, PROCTITLE, a missing EOE (the
 * wait, a source that stops), the bounds, the syslog forms, records that stand alone; and a
 * SigmaHQ-style process_creation rule firing on the assembled event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "detect/detect.h"
#include "parse/audit_asm.h"
#include "parse/logline.h"
#include "source/source.h"

#define SAMPLES "tests/samples/auditd"
#define NOW 1764700000000000LL

/* What an assembler handed on: each event's text and tag. */
struct got {
	char *text[256];
	int tag[256];
	size_t n;
};

static int out(void *ctx, const char *text, size_t n, const void *tag)
{
	struct got *g = ctx;
	assert_true(g->n < 256);
	g->text[g->n] = strndup(text, n);
	memcpy(&g->tag[g->n], tag, sizeof(int));
	g->n++;
	return 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->text[i]);
	g->n = 0;
}

static size_t count_lines(const char *s)
{
	size_t n = 1;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The lines of a sample file, each its own string. */
static size_t sample_lines(const char *name, char **lines, size_t max)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", SAMPLES, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = 0;
	char *l = NULL;
	size_t cap = 0;
	ssize_t k;
	while (n < max && (k = getline(&l, &cap, f)) > 0) {
		while (k && (l[k - 1] == '\n' || l[k - 1] == '\r'))
			l[--k] = '\0';
		lines[n++] = strdup(l);
	}
	free(l);
	fclose(f);
	return n;
}

static void sv_eq(struct sv v, const char *want)
{
	if (v.n != strlen(want) || memcmp(v.p, want, v.n))
		fail_msg("'%.*s', want '%s'", (int)v.n, v.p ? v.p : "", want);
}

static int feed(struct audit_asm *m, const char *line, int tag, int64_t now, struct got *g)
{
	return audit_asm_feed(m, line, strlen(line), &tag, now, out, g);
}

/* events.log: a process start (7 records, PROCTITLE, then EOE), a file read (4 records ending
 * with PROCTITLE), a user-space record alone, a denial without PROCTITLE or EOE. */
static void test_sample_events(void **state)
{
	(void)state;
	char *l[32];
	size_t n = sample_lines("events.log", l, 32);
	assert_int_equal(n, 17);
	struct audit_asm *m = audit_asm_new(sizeof(int), 0);
	assert_non_null(m);
	struct got g = {.n = 0};
	int alone = -1;
	for (size_t i = 0; i < n; i++) {
		int took = feed(m, l[i], (int)i + 1, 1000, &g);
		assert_true(took >= 0);
		if (!took)
			alone = (int)i + 1;
	}
	assert_int_equal(alone, 13); /* USER_ACCT: decoded alone */
	assert_int_equal(g.n, 2);    /* ended by PROCTITLE; the EOE after it is dropped */
	assert_int_equal(g.tag[0], 1);
	assert_int_equal(count_lines(g.text[0]), 7);
	assert_int_equal(g.tag[1], 9);
	assert_int_equal(count_lines(g.text[1]), 4);
	assert_int_equal(audit_asm_open(m), 1);
	int tag = 0;
	assert_true(audit_asm_oldest_tag(m, &tag));
	assert_int_equal(tag, 14); /* the denial's first record: not to be checkpointed past */
	assert_int_equal(audit_asm_deadline(m), 1000 + AUDIT_ASM_WAIT_MS);
	/* the source stops: what it holds is handed on */
	assert_int_equal(audit_asm_expire(m, INT64_MAX, out, &g), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(count_lines(g.text[2]), 4);
	assert_int_equal(audit_asm_open(m), 0);
	assert_false(audit_asm_oldest_tag(m, &tag));

	/* decoded: one event each, typed, with the Sigma names */
	struct arena a;
	arena_init(&a, 0);
	struct logline_ctx ctx = {.source = "test"};
	struct event ev;
	char err[256];
	assert_int_equal(logline_to_event(FMT_SYSLOG, g.text[0], strlen(g.text[0]), &ctx, NOW, &ev,
					  &a, err, sizeof(err), NULL),
			 0);
	sv_eq(ev.event_type, "PROCESS_START");
	sv_eq(ev.app, "auditd");
	assert_int_equal(ev.ts, 1655465398534000LL);
	json_t *d = json_loadb(ev.data.p, ev.data.n, 0, NULL);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "Image")), "/bin/sh4");
	const char *cl = json_string_value(json_object_get(d, "CommandLine"));
	assert_non_null(cl);
	assert_true(!strncmp(cl, "/bin/sh -efu /usr/bin/ld -plugin ", 33));
	assert_non_null(strstr(cl, " /usr/lib64/gcc/aarch64-alt-linux/8/../../../../lib64/crtn.o"));
	assert_string_equal(json_string_value(json_object_get(d, "CurrentDirectory")),
			    "/usr/src/RPM/BUILD/zlib-1.2.11-alt1");
	assert_string_equal(json_string_value(json_object_get(d, "ProcessId")), "105183");
	assert_string_equal(json_string_value(json_object_get(d, "ParentProcessId")), "105182");
	assert_string_equal(json_string_value(json_object_get(d, "User")), "573");
	assert_string_equal(json_string_value(json_object_get(d, "type")), "EXECVE");
	assert_string_equal(json_string_value(json_object_get(d, "a0")), "/bin/sh");
	assert_string_equal(json_string_value(json_object_get(d, "a3")), "-plugin");
	assert_string_equal(json_string_value(json_object_get(d, "records")),
			    "SYSCALL,EXECVE,CWD,PATH,PATH,PATH,PROCTITLE");
	json_decref(d);

	arena_reset(&a);
	assert_int_equal(logline_to_event(FMT_SYSLOG, g.text[1], strlen(g.text[1]), &ctx, NOW, &ev,
					  &a, err, sizeof(err), NULL),
			 0);
	sv_eq(ev.event_type, "FILE_ACCESS");
	assert_int_equal(ev.severity, 2); /* success=no */
	d = json_loadb(ev.data.p, ev.data.n, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(d, "TargetFilename")),
			    "/etc/ssh/sshd_config");
	assert_string_equal(json_string_value(json_object_get(d, "Image")), "/bin/cat");
	assert_string_equal(json_string_value(json_object_get(d, "CommandLine")),
			    "cat /etc/ssh/sshd_config");
	assert_string_equal(json_string_value(json_object_get(d, "key")), "sshd_config");
	json_decref(d);

	arena_reset(&a);
	assert_int_equal(logline_to_event(FMT_SYSLOG, g.text[2], strlen(g.text[2]), &ctx, NOW, &ev,
					  &a, err, sizeof(err), NULL),
			 0);
	sv_eq(ev.event_type, "FILE_ACCESS");
	d = json_loadb(ev.data.p, ev.data.n, 0, NULL);
	/* a relative name, joined to the working directory */
	assert_string_equal(json_string_value(json_object_get(d, "TargetFilename")),
			    "/var/spool/postfix/maildrop");
	assert_string_equal(json_string_value(json_object_get(d, "records")),
			    "AVC,SYSCALL,CWD,PATH");
	json_decref(d);

	/* a SigmaHQ-style process_creation rule (product linux) fires on the process start,
	 * and not on the file events */
	const char *y = "title: t\nlogsource:\n  category: process_creation\n  product: linux\n"
			"detection:\n  sel:\n    Image|endswith: '/sh4'\n"
			"    CommandLine|contains: ' -soname libz.so.1 '\n"
			"    CurrentDirectory|startswith: '/usr/src/'\n  condition: sel\n";
	struct rule **r;
	size_t nr;
	assert_int_equal(rule_compile(y, strlen(y), "t", &r, &nr, err, sizeof(err)), 0);
	assert_null(rule_never_fires(r[0]));
	for (size_t k = 0; k < 3; k++) {
		arena_reset(&a);
		assert_int_equal(logline_to_event(FMT_SYSLOG, g.text[k], strlen(g.text[k]), &ctx,
						  NOW, &ev, &a, err, sizeof(err), NULL),
				 0);
		assert_int_equal(rule_matches(r[0], &ev), k == 0);
	}
	rule_free(r[0]);
	free(r);
	/* and a file_event rule on the file read */
	y = "title: t\nlogsource:\n  category: file_event\n  product: linux\n"
	    "detection:\n  sel:\n    TargetFilename: /etc/ssh/sshd_config\n  condition: sel\n";
	assert_int_equal(rule_compile(y, strlen(y), "t", &r, &nr, err, sizeof(err)), 0);
	arena_reset(&a);
	assert_int_equal(logline_to_event(FMT_SYSLOG, g.text[1], strlen(g.text[1]), &ctx, NOW, &ev,
					  &a, err, sizeof(err), NULL),
			 0);
	assert_true(rule_matches(r[0], &ev));
	rule_free(r[0]);
	free(r);
	arena_release(&a);
	got_free(&g);
	audit_asm_free(m);
	for (size_t i = 0; i < n; i++)
		free(l[i]);
}

/* Two events' records interleaved, each ended by its EOE; the wait ends one without. */
static void test_interleaved_and_wait(void **state)
{
	(void)state;
	struct audit_asm *m = audit_asm_new(sizeof(int), 500);
	struct got g = {.n = 0};
	const char *a1 = "type=SYSCALL msg=audit(1.000:10): syscall=59 exe=\"/bin/a\"",
		   *b1 = "type=SYSCALL msg=audit(1.000:11): syscall=59 exe=\"/bin/b\"",
		   *a2 = "type=EXECVE msg=audit(1.000:10): argc=1 a0=\"a\"",
		   *b2 = "type=EXECVE msg=audit(1.000:11): argc=1 a0=\"b\"",
		   *be = "type=EOE msg=audit(1.000:11): ", *ae = "type=EOE msg=audit(1.000:10): ";
	assert_int_equal(feed(m, a1, 1, 0, &g), 1);
	assert_int_equal(feed(m, b1, 2, 0, &g), 1);
	assert_int_equal(feed(m, a2, 3, 0, &g), 1);
	assert_int_equal(feed(m, b2, 4, 0, &g), 1);
	assert_int_equal(audit_asm_open(m), 2);
	assert_int_equal(feed(m, be, 5, 0, &g), 1);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.tag[0], 2);
	assert_string_equal(g.text[0],
			    "type=SYSCALL msg=audit(1.000:11): syscall=59 exe=\"/bin/b\"\n"
			    "type=EXECVE msg=audit(1.000:11): argc=1 a0=\"b\"");
	assert_int_equal(feed(m, ae, 6, 0, &g), 1);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.tag[1], 1);
	assert_int_equal(count_lines(g.text[1]), 2);
	/* the same serial on another node is another event */
	assert_int_equal(feed(m, "node=x type=SYSCALL msg=audit(2.000:7): a=1", 7, 100, &g), 1);
	assert_int_equal(feed(m, "node=y type=SYSCALL msg=audit(2.000:7): a=2", 8, 100, &g), 1);
	assert_int_equal(audit_asm_open(m), 2);
	/* one assembler several senders share: the same event id from two of them is two */
	assert_int_equal(
	    audit_asm_feed_from(m, "192.0.2.1", a1, strlen(a1), &(int){20}, 100, out, &g), 1);
	assert_int_equal(
	    audit_asm_feed_from(m, "192.0.2.2", a2, strlen(a2), &(int){21}, 100, out, &g), 1);
	assert_int_equal(audit_asm_open(m), 4);
	assert_int_equal(
	    audit_asm_feed_from(m, "192.0.2.1", ae, strlen(ae), &(int){22}, 100, out, &g), 1);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.tag[2], 20);
	assert_int_equal(count_lines(g.text[2]), 1);
	assert_int_equal(
	    audit_asm_feed_from(m, "192.0.2.2", ae, strlen(ae), &(int){23}, 100, out, &g), 1);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.tag[3], 21);
	got_free(&g);
	/* a sender that has gone: its open events are handed on, the others' stay */
	assert_int_equal(
	    audit_asm_feed_from(m, "192.0.2.1/7", a1, strlen(a1), &(int){30}, 100, out, &g), 1);
	assert_int_equal(
	    audit_asm_feed_from(m, "192.0.2.1/8", b1, strlen(b1), &(int){31}, 100, out, &g), 1);
	assert_int_equal(audit_asm_expire_scope(m, "192.0.2.1/7", out, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.tag[0], 30);
	assert_int_equal(audit_asm_expire_scope(m, "192.0.2.1/8", out, &g), 0);
	assert_int_equal(g.n, 2);
	got_free(&g);
	/* no EOE: the wait ends them, at the next record or expire() */
	assert_int_equal(audit_asm_expire(m, 599, out, &g), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(audit_asm_expire(m, 600, out, &g), 0);
	assert_int_equal(g.n, 2);
	struct audit_asm_stats st;
	audit_asm_get_stats(m, &st);
	assert_int_equal(st.expired, 4);
	assert_int_equal(st.events, 4);
	/* an EOE of nothing open, and lines that are not records of an event */
	assert_int_equal(feed(m, "type=EOE msg=audit(9.000:1): ", 9, 700, &g), 1);
	assert_int_equal(
	    feed(m, "type=USER_LOGIN msg=audit(9.000:2): pid=1 res=failed", 9, 700, &g), 0);
	assert_int_equal(feed(m, "type=ADD_USER msg=audit(9.000:3): pid=1", 9, 700, &g), 0);
	assert_int_equal(
	    feed(m, "Dec  2 10:10:18 web1 sshd[1]: type=SYSCALL msg=audit(9.000:4):", 9, 700, &g),
	    0);
	assert_int_equal(feed(m, "type=SYSCALL msg=audit(broken", 9, 700, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(audit_asm_open(m), 0);
	got_free(&g);
	audit_asm_free(m);
}

/* syslog's forms: the record found after the audit daemons' and the kernel's prefixes; the
 * event keeps the first line whole and the others from their "type=". */
static void test_syslog_prefixes(void **state)
{
	(void)state;
	const char *ok[] = {
	    "<86>Dec  2 10:10:18 web1 audispd: type=X msg=audit(1.000:1): a=1",
	    "Dec  2 10:10:18 web1 audisp-syslog[77]: node=w type=X msg=audit(1.0:1):",
	    "<4>Dec 2 10:11:00 web1 kernel: audit: type=1300 audit(1.000:2): a=1",
	    "<4>Dec 2 10:11:00 web1 kernel: [ 12.5] audit: type=1300 audit(1.0:2):",
	    "type=SYSCALL msg=audit(1.000:1):",
	    "node=a type=SYSCALL msg=audit(1.0:1):"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (audit_asm_record_start(ok[i], strlen(ok[i])) < 0)
			fail_msg("no record found in '%s'", ok[i]);
	const char *no[] = {
	    "<86>Dec  2 10:10:18 web1 myapp: type=X msg=audit(1.000:1): a=1",
	    "<86>Dec  2 10:10:18 web1 notaudispd: type=X msg=audit(1.000:1):", "hello type=X", ""};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (audit_asm_record_start(no[i], strlen(no[i])) >= 0)
			fail_msg("a record found in '%s'", no[i]);

	struct audit_asm *m = audit_asm_new(sizeof(int), 0);
	struct got g = {.n = 0};
	assert_int_equal(
	    feed(m,
		 "<86>Dec  2 10:10:18 web1 audispd: type=SYSCALL "
		 "msg=audit(1764670218.443:5012): arch=c000003e syscall=59 "
		 "success=yes exit=0 ppid=1843 pid=1901 auid=1000 uid=0 comm=\"sysctl\" "
		 "exe=\"/usr/sbin/sysctl\" key=\"exec\"",
		 1, 0, &g),
	    1);
	assert_int_equal(feed(m,
			      "<86>Dec  2 10:10:18 web1 audispd: type=EXECVE "
			      "msg=audit(1764670218.443:5012): argc=3 a0=\"sysctl\" a1=\"-w\" "
			      "a2=\"kernel.randomize_va_space=0\"",
			      2, 0, &g),
			 1);
	assert_int_equal(
	    feed(m, "<86>Dec  2 10:10:18 web1 audispd: type=EOE msg=audit(1764670218.443:5012): ",
		 3, 0, &g),
	    1);
	assert_int_equal(g.n, 1);
	assert_non_null(strstr(g.text[0], "\ntype=EXECVE msg=audit(1764670218.443:5012): argc=3"));
	struct arena a;
	arena_init(&a, 0);
	struct logline_ctx ctx = {.source = "syslog_udp"};
	struct event ev;
	char err[256];
	assert_int_equal(logline_to_event(FMT_SYSLOG, g.text[0], strlen(g.text[0]), &ctx, NOW, &ev,
					  &a, err, sizeof(err), NULL),
			 0);
	sv_eq(ev.event_type, "PROCESS_START");
	sv_eq(ev.source_host, "web1");
	json_t *d = json_loadb(ev.data.p, ev.data.n, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(d, "CommandLine")),
			    "sysctl -w kernel.randomize_va_space=0");
	assert_string_equal(json_string_value(json_object_get(d, "Image")), "/usr/sbin/sysctl");
	json_decref(d);
	arena_release(&a);
	got_free(&g);
	audit_asm_free(m);
}

/* The bounds: records and bytes per event (the rest left out and counted), open events per
 * source (one more hands on the oldest). */
static void test_bounds(void **state)
{
	(void)state;
	struct audit_asm *m = audit_asm_new(sizeof(int), 0);
	struct got g = {.n = 0};
	char line[512];
	for (int i = 0; i < AUDIT_ASM_RECORDS + 10; i++) {
		snprintf(line, sizeof(line), "type=PATH msg=audit(1.000:1): item=%d name=\"/x\"",
			 i);
		assert_int_equal(feed(m, line, 1, 0, &g), 1);
	}
	assert_int_equal(feed(m, "type=EOE msg=audit(1.000:1): ", 1, 0, &g), 1);
	assert_int_equal(g.n, 1);
	assert_int_equal(count_lines(g.text[0]), AUDIT_ASM_RECORDS);
	struct audit_asm_stats st;
	audit_asm_get_stats(m, &st);
	assert_int_equal(st.dropped, 10);
	/* bytes: long records stop at AUDIT_ASM_BYTES */
	static char big[8200];
	for (int i = 0; i < 20; i++) {
		int k = snprintf(big, sizeof(big), "type=EXECVE msg=audit(1.000:2): a%d=\"", i);
		memset(big + k, 'x', 8000);
		big[k + 8000] = '"';
		big[k + 8001] = '\0';
		assert_int_equal(feed(m, big, 2, 0, &g), 1);
	}
	assert_int_equal(feed(m, "type=EOE msg=audit(1.000:2): ", 2, 0, &g), 1);
	assert_int_equal(g.n, 2);
	assert_true(strlen(g.text[1]) <= AUDIT_ASM_BYTES);
	assert_true(strlen(g.text[1]) > AUDIT_ASM_BYTES - 8100);
	/* open events */
	for (int i = 0; i < AUDIT_ASM_OPEN + 3; i++) {
		snprintf(line, sizeof(line), "type=SYSCALL msg=audit(5.000:%d): a=1", 100 + i);
		assert_int_equal(feed(m, line, 100 + i, 0, &g), 1);
	}
	assert_int_equal(audit_asm_open(m), AUDIT_ASM_OPEN);
	assert_int_equal(g.n, 5);
	assert_int_equal(g.tag[2], 100); /* the oldest handed on first */
	assert_int_equal(g.tag[4], 102);
	audit_asm_get_stats(m, &st);
	assert_int_equal(st.evicted, 3);
	int tag;
	assert_true(audit_asm_oldest_tag(m, &tag));
	assert_int_equal(tag, 103);
	got_free(&g);
	audit_asm_free(m); /* frees what is still open */
}

/* An event is named by what it is about: a rule change's CONFIG_CHANGE, not its SYSCALL; a
 * connect(2) is a NETWORK_CONNECT (its SYSCALL as go-libaudit's documentation shows it). */
static void test_named_by_its_record(void **state)
{
	(void)state;
	const char *t = "type=CONFIG_CHANGE msg=audit(1.000:5): auid=1000 ses=3 op=remove_rule "
			"key=\"exec\" list=4 res=1\n"
			"type=SYSCALL msg=audit(1.000:5): arch=c000003e syscall=44 success=yes "
			"exit=1072 items=0 ppid=1 pid=2 auid=1000 uid=0 comm=\"auditctl\" "
			"exe=\"/usr/sbin/auditctl\" key=(null)\n"
			"type=PROCTITLE msg=audit(1.000:5): proctitle=617564697463746C002D44";
	struct arena a;
	arena_init(&a, 0);
	struct logline_ctx ctx = {.source = "test"};
	struct event ev;
	char err[256];
	assert_int_equal(
	    logline_to_event(FMT_SYSLOG, t, strlen(t), &ctx, NOW, &ev, &a, err, sizeof(err), NULL),
	    0);
	sv_eq(ev.event_type, "AUDIT_CONFIG_CHANGE");
	json_t *d = json_loadb(ev.data.p, ev.data.n, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(d, "type")), "CONFIG_CHANGE");
	assert_string_equal(json_string_value(json_object_get(d, "op")), "remove_rule");
	assert_string_equal(json_string_value(json_object_get(d, "exe")), "/usr/sbin/auditctl");
	json_decref(d);

	/* connect(2): its SOCKADDR (a struct sockaddr_in, AF_INET, port 25, 127.0.0.1) */
	t = "type=SYSCALL msg=audit(1490137971.011:50406): arch=c000003e syscall=42 success=yes "
	    "exit=0 a0=15 a1=7ffd83722200 a2=6e a3=ea60 items=1 ppid=1 pid=1229 auid=4294967295 "
	    "uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 "
	    "comm=\"master\" exe=\"/usr/libexec/postfix/master\" "
	    "subj=system_u:system_r:postfix_master_t:s0 key=(null)\n"
	    "type=SOCKADDR msg=audit(1490137971.011:50406): saddr=020000197F0000010000000000000000";
	arena_reset(&a);
	assert_int_equal(
	    logline_to_event(FMT_SYSLOG, t, strlen(t), &ctx, NOW, &ev, &a, err, sizeof(err), NULL),
	    0);
	sv_eq(ev.event_type, "NETWORK_CONNECT");
	sv_eq(ev.user, "0");
	d = json_loadb(ev.data.p, ev.data.n, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(d, "DestinationIp")), "127.0.0.1");
	assert_string_equal(json_string_value(json_object_get(d, "DestinationPort")), "25");
	assert_string_equal(json_string_value(json_object_get(d, "Image")),
			    "/usr/libexec/postfix/master");
	json_decref(d);
	arena_release(&a);
}

/* The agent's auditd source with a sink of its own: events held until they end, the
 * checkpoint never past the first record of an open event, and a --once run's end hands on
 * what is still open. */
struct fake_sink {
	struct source_sink k;
	char types[16][64];
	int64_t offs[16];
	int n, rejected;
	char pos[256];
};

static int sink_emit(struct source_sink *k, struct source *src, const struct event *ev)
{
	(void)src;
	struct fake_sink *f = (struct fake_sink *)k;
	assert_true(f->n < 16);
	snprintf(f->types[f->n], sizeof(f->types[0]), "%.*s", (int)ev->event_type.n,
		 ev->event_type.p);
	f->offs[f->n++] = ev->source_offset;
	return 0;
}

static void sink_reject(struct source_sink *k, struct source *src, const char *where,
			const char *why)
{
	(void)src;
	(void)where;
	(void)why;
	((struct fake_sink *)k)->rejected++;
}

static const char *sink_saved(struct source_sink *k, const char *key)
{
	(void)k;
	(void)key;
	return NULL;
}

static int sink_cp(struct source_sink *k, const char *key, const char *value)
{
	(void)key;
	struct fake_sink *f = (struct fake_sink *)k;
	snprintf(f->pos, sizeof(f->pos), "%s", value ? value : "");
	return 0;
}

/* "ino=N off=OFF mark=..." -> OFF */
static long long pos_off(const char *pos)
{
	const char *o = strstr(pos, " off=");
	assert_non_null(o);
	return strtoll(o + 5, NULL, 10);
}

static void test_agent_source(void **state)
{
	(void)state;
	char *l[32];
	size_t n = sample_lines("events.log", l, 32);
	char dir[] = "/tmp/test_audit_asm_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (size_t i = 0; i < 4; i++) /* the process start's first four records */
		fprintf(fp, "%s\n", l[i]);
	fclose(fp);

	struct arena a;
	arena_init(&a, 0);
	struct fake_sink f = {.k = {.arena = &a,
				    .emit = sink_emit,
				    .reject = sink_reject,
				    .saved = sink_saved,
				    .checkpoint = sink_cp}};
	struct source_config cfg = {.host = "h1", .batch_max = 100};
	struct source s = {.ops = &src_auditd, .arg = path, .cfg = &cfg, .sink = &f.k};
	assert_int_equal(s.ops->open(&s), 0);
	assert_int_equal(s.ops->read(&s, 100), 4);
	assert_int_equal(f.n, 0); /* held: the event is open */
	assert_int_equal(s.ops->commit(&s), 0);
	assert_int_equal(pos_off(f.pos), 0); /* not past its first record */

	fp = fopen(path, "a");
	assert_non_null(fp);
	for (size_t i = 4; i < n; i++)
		fprintf(fp, "%s\n", l[i]);
	fclose(fp);
	fp = fopen(path, "r");
	long long size = 0, off = 0, denial = -1;
	char *line = NULL;
	size_t cap = 0;
	ssize_t k;
	for (int i = 0; (k = getline(&line, &cap, fp)) > 0; i++) {
		if (i == 13)
			denial = off;
		off += k;
	}
	size = off;
	free(line);
	fclose(fp);
	arena_reset(&a);
	assert_true(s.ops->read(&s, 100) > 0);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.types[0], "PROCESS_START");
	assert_int_equal(f.offs[0], 0);
	assert_string_equal(f.types[1], "FILE_ACCESS");
	assert_string_equal(f.types[2], "AUDIT_USER_ACCT");
	assert_int_equal(s.ops->commit(&s), 0);
	assert_int_equal(pos_off(f.pos), denial); /* the denial is still open */

	/* a --once run that has read the file: what is open is handed on */
	cfg.once = true;
	arena_reset(&a);
	assert_int_equal(s.ops->read(&s, 100), 1);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.types[3], "FILE_ACCESS");
	assert_int_equal(f.offs[3], denial);
	assert_int_equal(s.ops->commit(&s), 0);
	assert_int_equal(pos_off(f.pos), size);
	arena_reset(&a);
	assert_int_equal(s.ops->read(&s, 100), 0);
	assert_int_equal(f.rejected, 0);
	s.ops->close(&s);
	arena_release(&a);
	unlink(path);
	rmdir(dir);
	for (size_t i = 0; i < n; i++)
		free(l[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sample_events),	cmocka_unit_test(test_interleaved_and_wait),
	    cmocka_unit_test(test_syslog_prefixes),	cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_named_by_its_record), cmocka_unit_test(test_agent_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
