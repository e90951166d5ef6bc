/* test_decoders.c — user-defined decoder files: grok expansion and the standard library,
 * load errors naming file, line and pattern, order and fall-through between user and
 * built-in decoders, constants and conversions, and swapping sets while threads decode. */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testdata.h"

#include "core/err.h"
#include "parse/decode.h"
#include "parse/grok.h"

static struct arena A;
static struct event EV;
static struct decode_explain EX;
static char DIR_[256];

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	snprintf(DIR_, sizeof(DIR_), "/tmp/test_decoders.XXXXXX");
	return mkdtemp(DIR_) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	arena_release(&A);
	decode_release();
	test_rm_tree(DIR_);
	return 0;
}

static struct sv sv(const char *s)
{
	return (struct sv){s, s ? strlen(s) : 0};
}

static bool sv_eq(struct sv v, const char *s)
{
	return v.p && v.n == strlen(s) && !memcmp(v.p, s, v.n);
}

static int dec(const char *app, const char *msg)
{
	memset(&EV, 0, sizeof(EV));
	arena_reset(&A);
	EV.app = sv(app);
	EV.message = sv(msg);
	EV.user = sv("system");
	EV.event_type = sv("SYSLOG");
	EV.severity = 1;
	return decode_auth(&EV, &A, &EX);
}

static void put(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", DIR_, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void load_ok(void)
{
	char err[512];
	int rc = decode_load(DIR_, err, sizeof(err));
	if (rc)
		fail_msg("decode_load: %s", err);
}

static void expect_type(const char *app, const char *msg, const char *type, const char *decoder,
			const char *pattern)
{
	int rc = dec(app, msg);
	if (rc != 1)
		fail_msg("%s: \"%s\": decode_auth = %d, want %s", app, msg, rc, type);
	if (!sv_eq(EV.event_type, type))
		fail_msg("%s: \"%s\": type %.*s, want %s", app, msg, (int)EV.event_type.n,
			 EV.event_type.p, type);
	assert_string_equal(EX.decoder, decoder);
	assert_string_equal(EX.pattern, pattern);
}

/* ---- grok ---- */

static void test_grok_expand(void **state)
{
	(void)state;
	struct grok_out g;
	grok_out_init(&g);
	assert_int_equal(
	    grok_expand("from %{IP:source_ip} port %{INT:data.port:int} %{WORD}", NULL, &g), 0);
	assert_non_null(strstr(g.re.p, "from (?<source_ip>(?:"));
	assert_non_null(strstr(g.re.p, " port (?<data_port>(?:[+-]?[0-9]+))"));
	assert_int_equal(g.ncaps, 2);
	assert_string_equal(g.caps[0].target, "source_ip");
	assert_false(g.caps[0].as_int);
	assert_string_equal(g.caps[1].group, "data_port");
	assert_string_equal(g.caps[1].target, "data.port");
	assert_true(g.caps[1].as_int);
	grok_out_release(&g);

	/* A file's library first, then the standard one; a name used twice is one group. */
	const char *names[] = {"ADDR", "LOOP", "WORD"};
	const char *defs[] = {"%{IPORHOST}", "x%{LOOP}", "[a-z]+"};
	struct grok_lib lib = {names, defs, 3};
	grok_out_init(&g);
	assert_int_equal(grok_expand("(?:%{ADDR:h}|h=%{WORD:h})", &lib, &g), 0);
	assert_non_null(strstr(g.re.p, "h=(?<h>[a-z]+)"));
	assert_int_equal(g.ncaps, 1);
	grok_out_release(&g);

	static const struct {
		const char *src, *err;
	} bad[] = {
	    {"%{NOPE}", "unknown pattern 'NOPE'"},
	    {"%{LOOP}", "patterns nest deeper than 16 levels"},
	    {"%{IP:x:float}", "unknown conversion 'float'"},
	    {"%{IP:1x}", "bad field name '1x'"},
	    {"a %{IP", "unclosed '%{'"},
	    {"%{}", "empty pattern name"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		grok_out_init(&g);
		assert_int_equal(grok_expand(bad[i].src, &lib, &g), SIEM_EPARSE);
		if (!strstr(g.err, bad[i].err))
			fail_msg("'%s': error '%s', want '%s'", bad[i].src, g.err, bad[i].err);
		grok_out_release(&g);
	}
	assert_non_null(grok_std("GREEDYDATA", 10));
	assert_null(grok_std("GREEDY", 6));
}

/* The standard library's pieces match what their names promise, through a decoder. */
static void test_grok_library(void **state)
{
	(void)state;
	put("lib.yml", "decoders:\n"
		       "  - name: lib\n"
		       "    programs: [lib]\n"
		       "    patterns:\n"
		       "      - name: ip\n"
		       "        match: 'ip %{IP:source_ip}$'\n"
		       "        type: IP\n"
		       "      - name: host\n"
		       "        match: 'host %{IPORHOST:data.h}$'\n"
		       "        type: HOST\n"
		       "      - name: num\n"
		       "        match: 'num %{NUMBER:data.n} %{POSINT:data.p:int} %{USER:user}$'\n"
		       "        type: NUM\n"
		       "      - name: uri\n"
		       "        match: '%{WORD:http_method} %{URIPATHPARAM:path} at "
		       "%{HTTPDATE:when}$'\n"
		       "        type: URI\n");
	load_ok();
	static const struct {
		const char *msg, *type, *pattern, *ip;
	} ok[] = {
	    {"ip 192.0.2.10", "IP", "ip", "192.0.2.10"},
	    {"ip 2001:db8::1", "IP", "ip", "2001:db8::1"},
	    {"ip ::ffff:198.51.100.7", "IP", "ip", "198.51.100.7"},
	    {"ip fe80::", "IP", "ip", "fe80::"},
	    {"host mail.example.org", "HOST", "host", NULL},
	    {"host 10.0.0.1", "HOST", "host", NULL},
	    {"num -1.5 42 alice.b", "NUM", "num", NULL},
	    {"GET /a/b?x=1&y=2 at 07/Dec/2026:08:00:01 +0000", "URI", "uri", NULL},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		expect_type("lib", ok[i].msg, ok[i].type, "lib", ok[i].pattern);
		if (ok[i].ip)
			assert_true(sv_eq(EV.source_ip, ok[i].ip));
	}
	assert_non_null(strstr(EV.data.p, "\"path\":\"/a/b?x=1&y=2\""));
	assert_true(sv_eq(EV.user, "system"));
	dec("lib", "num -1.5 42 alice.b");
	assert_true(sv_eq(EV.user, "alice.b"));
	assert_non_null(strstr(EV.data.p, "\"n\":\"-1.5\""));
	assert_non_null(strstr(EV.data.p, "\"p\":42"));
	/* Not an address, not a number: no match (the decoder has no generic type). */
	assert_int_equal(dec("lib", "ip 1.2.3.999"), 0);
	assert_int_equal(dec("lib", "ip 300.1.1.1"), 0);
	assert_int_equal(dec("lib", "num x 42 bob"), 0);
	assert_int_equal(dec("lib", "num 1 0 bob"), 0);
}

/* ---- errors ---- */

static void expect_error(const char *text, const char *want)
{
	char err[512], path[400];
	put("bad.yml", text);
	int rc = decode_load(DIR_, err, sizeof(err));
	assert_true(rc < 0);
	snprintf(path, sizeof(path), "%s/bad.yml:", DIR_);
	if (strncmp(err, path, strlen(path)) || !strstr(err, want))
		fail_msg("error '%s', want '%s...%s'", err, path, want);
}

static void test_errors(void **state)
{
	(void)state;
	/* A good set first: a failed load must leave it in force. */
	put("good.yml", "decoders:\n"
			"  - name: good\n"
			"    programs: [goodapp]\n"
			"    patterns:\n"
			"      - {name: hello, match: 'hello', type: GOOD}\n");
	load_ok();
	expect_type("goodapp", "hello", "GOOD", "good", "hello");

	static const struct {
		const char *text, *err;
	} cases[] = {
	    {"decoders:\n  - name: x\n    programs: [x]\n    patterns:\n      - name: p1\n"
	     "        type: T\n        match: 'a %{IPP:ip}'\n",
	     "7: decoder 'x' pattern 'p1': unknown pattern 'IPP'"},
	    {"decoders:\n  - name: x\n    programs: [x]\n    patterns:\n      - name: p1\n"
	     "        type: T\n        match: 'a (b'\n",
	     "7: decoder 'x' pattern 'p1': missing closing parenthesis at offset 4 of 'a (b'"},
	    {"decoders:\n  - name: x\n    programz: [x]\n",
	     "3: decoder 'x': unknown key 'programz'"},
	    {"decoders:\n  - name: x\n   bad: [x\n", "3: did not find expected '-' indicator"},
	    {"decoders:\n  - name: x\n    patterns:\n      - name: p1\n        match: a\n",
	     "4: decoder 'x' pattern 'p1': no 'type', and the decoder has no 'generic' type"},
	    {"decoders:\n  - name: x\n    patterns:\n      - name: p1\n        match: a\n"
	     "        type: T\n        severity: 9\n",
	     "7: decoder 'x' pattern 'p1': severity must be 1 to 5"},
	    {"decoders:\n  - name: x\n    patterns:\n      - match: a\n",
	     "4: decoder 'x': a pattern needs a 'name'"},
	    {"patterns:\n  bad-name: x\ndecoders: []\n", "2: pattern name 'bad-name'"},
	    {"decoders:\n  - name: x\n    patterns: []\n",
	     "3: decoder 'x': 'patterns' must be a non-empty list"},
	    {"decoders:\n  - name: x\n    patterns:\n      - name: p\n        match: a\n"
	     "        type: 'two words'\n",
	     "6: decoder 'x' pattern 'p': 'type' must be a name"},
	    {"- just a list\n", "1: a decoder file is a map"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expect_error(cases[i].text, cases[i].err);
		expect_type("goodapp", "hello", "GOOD", "good", "hello");
	}
	char err[512];
	assert_true(decode_load("/nonexistent/decoders", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot open decoders folder '/nonexistent/decoders'"));
	expect_type("goodapp", "hello", "GOOD", "good", "hello");
}

/* ---- order and fall-through ---- */

static void test_fall_through(void **state)
{
	(void)state;
	put("10-first.yml",
	    "decoders:\n"
	    "  - name: first\n"
	    "    programs: [app, sshd]\n"
	    "    patterns:\n"
	    "      - {name: a, match: 'A %{INT:n}', type: FIRST_A}\n"
	    "      - {name: root_fail, match: 'Failed password for root from %{IP:ip}',"
	    " type: ROOT_FAIL, severity: 5}\n"
	    "  - name: second\n"
	    "    programs:\n"
	    "      app: APP_GENERIC\n"
	    "      other:\n"
	    "    patterns:\n"
	    "      - {name: a, match: 'A', type: SECOND_A}\n"
	    "      - {name: b, match: 'B %{GREEDYDATA:rest}'}\n");
	put("20-any.yml", "decoders:\n"
			  "  - name: anyprog\n"
			  "    prefilter: 'MAGIC'\n"
			  "    generic: ANY\n"
			  "    patterns:\n"
			  "      - {name: m, match: '.*MAGIC=%{WORD:magic}', type: MAGIC}\n");
	put("README", "not a decoder file: skipped");
	load_ok();
	/* First match wins, in file then pattern order; the next decoder when one has none. */
	expect_type("app", "A 12", "FIRST_A", "first", "a");
	expect_type("app", "A x", "SECOND_A", "second", "a");
	/* A typeless pattern gets the program's generic type. */
	expect_type("app", "B rest of it", "APP_GENERIC", "second", "b");
	assert_non_null(strstr(EV.data.p, "\"rest\":\"rest of it\""));
	/* No pattern: the program's generic type; no generic: not decoded. */
	expect_type("app", "zzz", "APP_GENERIC", "second", "generic");
	assert_int_equal(dec("other", "zzz"), 0);
	assert_null(EX.decoder);
	/* User decoders come before the built-in ones, which still get what they leave. */
	expect_type("sshd", "Failed password for root from 1.2.3.4 port 22 ssh2", "ROOT_FAIL",
		    "first", "root_fail");
	assert_int_equal(EV.severity, 5);
	expect_type("sshd", "Failed password for bob from 1.2.3.4 port 22 ssh2", "LOGIN_FAIL",
		    "sshd", "failed_password");
	expect_type("sshd", "something new", "SSHD", "sshd", "generic");
	/* A prefilter-only decoder sees every program, only lines holding its text. */
	expect_type("cron", "x MAGIC=abc y", "MAGIC", "anyprog", "m");
	assert_int_equal(dec("cron", "x magic=abc y"), 0);
	assert_int_equal(dec("cron", "MAGIC but no value"), 0);

	/* Without the folder: only the built-in decoders. */
	char err[256];
	assert_int_equal(decode_load(NULL, err, sizeof(err)), 0);
	assert_int_equal(dec("app", "A 12"), 0);
	expect_type("sshd", "Failed password for root from 1.2.3.4 port 22 ssh2", "LOGIN_FAIL",
		    "sshd", "failed_password");
	/* And back: decode_reload reads the last folder loaded (none now). */
	assert_int_equal(decode_reload(err, sizeof(err)), 0);
	assert_int_equal(dec("app", "A 12"), 0);
}

static void test_fields_and_constants(void **state)
{
	(void)state;
	put("c.yml",
	    "patterns:\n"
	    "  KV: '%{WORD:data.key}=%{NOTSPACE:data.value}'\n"
	    "decoders:\n"
	    "  - name: c\n"
	    "    programs: [capp]\n"
	    "    convert: {uid: int}\n"
	    "    patterns:\n"
	    "      - name: all\n"
	    "        match: 'u=%{USER:user} rh=%{IPORHOST:rhost} uid=(?<uid>\\d+) %{KV}'\n"
	    "        type: C_ALL\n"
	    "        severity: 4\n"
	    "        data: {flag: true, count: 3, note: 'x \"q\"', zero: '007', nul: null}\n"
	    "      - name: constant_user\n"
	    "        match: 'boot'\n"
	    "        type: C_BOOT\n"
	    "        user: root\n");
	load_ok();
	expect_type("capp", "u=eve rh=host.example uid=0042 mode=on", "C_ALL", "c", "all");
	assert_int_equal(EV.severity, 4);
	assert_true(sv_eq(EV.user, "eve"));
	assert_false(EV.flags & EV_HAS_IP);
	static const char *const want[] = {
	    "\"rhost\":\"host.example\"", "\"uid\":42",	      "\"key\":\"mode\"",
	    "\"value\":\"on\"",		  "\"flag\":true",    "\"count\":3",
	    "\"note\":\"x \\\"q\\\"\"",	  "\"zero\":\"007\"", "\"nul\":null"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(EV.data.p, want[i]))
			fail_msg("data %s lacks %s", EV.data.p, want[i]);
	/* rhost as an address becomes source_ip. */
	expect_type("capp", "u=eve rh=192.0.2.1 uid=1 a=b", "C_ALL", "c", "all");
	assert_true(sv_eq(EV.source_ip, "192.0.2.1"));
	expect_type("capp", "boot", "C_BOOT", "c", "constant_user");
	assert_true(sv_eq(EV.user, "root"));
	assert_string_equal(EX.file + strlen(EX.file) - 5, "c.yml");
}

/* ---- swapping sets under load ---- */

static atomic_bool stop;

static void *decoder_thread(void *arg)
{
	long *bad = arg;
	struct arena a;
	arena_init(&a, 0);
	while (!atomic_load(&stop)) {
		struct event ev;
		memset(&ev, 0, sizeof(ev));
		ev.app = sv("swap");
		ev.message = sv("ping 1.2.3.4");
		arena_reset(&a);
		if (decode_auth(&ev, &a, NULL) != 1 ||
		    !(sv_eq(ev.event_type, "SET_A") || sv_eq(ev.event_type, "SET_B")))
			(*bad)++;
	}
	arena_release(&a);
	return NULL;
}

static void test_swap_while_decoding(void **state)
{
	(void)state;
	put("s.yml", "decoders:\n  - name: s\n    programs: [swap]\n    patterns:\n"
		     "      - {name: p, match: 'ping %{IP:ip}', type: SET_A}\n");
	load_ok();
	pthread_t th[2];
	long bad[2] = {0, 0};
	atomic_store(&stop, false);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, decoder_thread, &bad[i]), 0);
	char err[256];
	for (int i = 0; i < 40; i++) {
		put("s.yml", i % 2
				 ? "decoders:\n  - name: s\n    programs: [swap]\n    patterns:\n"
				   "      - {name: p, match: 'ping %{IP:ip}', type: SET_A}\n"
				 : "patterns:\n  X: '(?<a>a)?(?<b>b)?(?<c>c)?(?<d>d)?'\n"
				   "decoders:\n  - name: s\n    programs: [swap]\n    patterns:\n"
				   "      - {name: p, match: '%{X}ping %{IP:ip}', type: SET_B}\n");
		assert_int_equal(decode_reload(err, sizeof(err)), 0);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(bad[0] + bad[1], 0);
	expect_type("swap", "ping 1.2.3.4", "SET_A", "s", "p");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_grok_expand, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grok_library, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fall_through, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fields_and_constants, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_swap_while_decoding, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
