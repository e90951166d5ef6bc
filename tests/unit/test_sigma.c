/* test_sigma.c — the Sigma compiler and matcher: every modifier and condition form, refusals,
 * and real data (SigmaHQ rules and regressions, EVTX exports, Pi-hole, loghub). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testdata.h"
#include <jansson.h>

#include "core/err.h"
#include "core/event.h"
#include "core/strbuf.h"
#include "detect/detect.h"
#include "detect/sigma_int.h"

static struct arena A;
static struct rule **R;
static size_t NR;
static char ERR[1024];

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	R = NULL;
	NR = 0;
	ERR[0] = '\0';
	return 0;
}

static void free_rules(void)
{
	for (size_t i = 0; i < NR; i++)
		rule_free(R[i]);
	free(R);
	R = NULL;
	NR = 0;
}

static int teardown(void **state)
{
	(void)state;
	free_rules();
	arena_release(&A);
	return 0;
}

static const char *data_dir(void)
{
	const char *d = getenv("SIEM_TEST_DATA");
	return d ? d : "../shared/data";
}

static void compile_ok(const char *yaml)
{
	free_rules();
	int rc = rule_compile(yaml, strlen(yaml), "test", &R, &NR, ERR, sizeof(ERR));
	if (rc)
		fail_msg("compile failed: %s\n%s", ERR, yaml);
}

static void refused(const char *yaml, const char *want)
{
	free_rules();
	int rc = rule_compile(yaml, strlen(yaml), "test", &R, &NR, ERR, sizeof(ERR));
	if (rc == 0)
		fail_msg("compiled, want refusal '%s':\n%s", want, yaml);
	if (!strstr(ERR, want))
		fail_msg("error \"%s\" lacks \"%s\"", ERR, want);
}

static struct event *mkev(const char *json)
{
	json_error_t je;
	json_t *j = json_loads(json, JSON_ALLOW_NUL, &je);
	if (!j)
		fail_msg("bad test JSON %s: %s", json, je.text);
	struct event *ev = arena_alloc(&A, sizeof(*ev));
	char err[256];
	int rc = event_from_json(ev, j, &A, 1700000000000000LL, err, sizeof(err));
	json_decref(j);
	if (rc)
		fail_msg("event %s: %s", json, err);
	return ev;
}

static bool m(const char *json)
{
	return rule_matches(R[0], mkev(json));
}

#define YES(j) assert_true(m(j))
#define NO(j) assert_false(m(j))

/* A detection rule over our own events with one selection. */
static void sel(const char *body)
{
	char y[8192];
	snprintf(y, sizeof(y),
		 "title: t\nlogsource:\n  product: minisiem\ndetection:\n  sel:\n%s\n"
		 "  condition: sel\n",
		 body);
	compile_ok(y);
}

/* ---- matching basics ---- */

static void test_equality_case_and_lists(void **state)
{
	(void)state;
	sel("    event_type: login_fail\n    user:\n      - root\n      - admin");
	YES("{\"event_type\":\"LOGIN_FAIL\",\"user\":\"root\"}");
	YES("{\"event_type\":\"Login_Fail\",\"user\":\"ADMIN\"}");
	NO("{\"event_type\":\"LOGIN_FAIL\",\"user\":\"bob\"}");
	NO("{\"event_type\":\"LOGIN_FAILED\",\"user\":\"root\"}");
	/* list of maps: OR */
	sel("    - event_type: a\n      user: x\n    - event_type: b");
	YES("{\"event_type\":\"a\",\"user\":\"x\"}");
	NO("{\"event_type\":\"a\",\"user\":\"y\"}");
	YES("{\"event_type\":\"b\",\"user\":\"y\"}");
	/* numbers: our integer fields, and numeric equality of a YAML integer */
	sel("    severity: 4\n    http_status: 403");
	YES("{\"event_type\":\"x\",\"severity\":4,\"http_status\":403}");
	NO("{\"event_type\":\"x\",\"severity\":3,\"http_status\":403}");
	sel("    LogonType: 3");
	YES("{\"event_type\":\"x\",\"data\":{\"LogonType\":3}}");
	YES("{\"event_type\":\"x\",\"data\":{\"LogonType\":\"3\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"LogonType\":\"03\"}}"); /* numerically equal */
	NO("{\"event_type\":\"x\",\"data\":{\"LogonType\":\"30\"}}");
	sel("    LogonType: '3'");
	NO("{\"event_type\":\"x\",\"data\":{\"LogonType\":\"03\"}}"); /* a quoted string is text */
	/* empty string is not absent */
	sel("    Field: ''");
	YES("{\"event_type\":\"x\",\"data\":{\"Field\":\"\"}}");
	NO("{\"event_type\":\"x\",\"data\":{}}");
	NO("{\"event_type\":\"x\",\"data\":{\"Field\":\"a\"}}");
}

static void test_wildcards_and_escapes(void **state)
{
	(void)state;
	sel("    message: 'a*c'");
	YES("{\"message\":\"abbbc\"}");
	YES("{\"message\":\"AC\"}");
	NO("{\"message\":\"abcd\"}");
	sel("    message: 'a?c'");
	YES("{\"message\":\"abc\"}");
	YES("{\"message\":\"a\xc3\xa9"
	    "c\"}"); /* ? is one character, not one byte */
	NO("{\"message\":\"ac\"}");
	NO("{\"message\":\"abbc\"}");
	sel("    message: '*mid*dle*'");
	YES("{\"message\":\"xx mid yy dle zz\"}");
	NO("{\"message\":\"xx dle yy mid zz\"}");
	/* escapes: \\* is a literal star, \\? a literal question mark */
	sel("    message: 'a\\*c'");
	YES("{\"message\":\"a*c\"}");
	NO("{\"message\":\"abc\"}");
	sel("    message: 'what\\?'");
	YES("{\"message\":\"what?\"}");
	NO("{\"message\":\"whats\"}");
	/* \\\\ before a wildcard: a backslash, then the wildcard */
	sel("    message: 'C:\\\\*'");
	YES("{\"message\":\"C:\\\\Windows\"}");
	NO("{\"message\":\"C:Windows\"}");
	/* \\\\\\* : a backslash and a literal star */
	sel("    message: 'x\\\\\\*'");
	YES("{\"message\":\"x\\\\*\"}");
	NO("{\"message\":\"x\\\\abc\"}");
	/* plain backslashes stay as they are */
	sel("    Image: 'C:\\Windows\\System32\\cmd.exe'");
	YES("{\"event_type\":\"x\",\"data\":{\"Image\":\"c:\\\\windows\\\\system32\\\\CMD.EXE\"}}");
	/* sudo CVE-2019-14287 style */
	sel("    USER:\n      - '#-*'\n      - '#*4294967295'");
	YES("{\"event_type\":\"x\",\"data\":{\"USER\":\"#-1\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"USER\":\"#4294967295\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"USER\":\"root\"}}");
}

static void test_string_modifiers(void **state)
{
	(void)state;
	sel("    message|contains: 'Failed Password'");
	YES("{\"message\":\"sshd: failed password for root\"}");
	NO("{\"message\":\"failed passwd\"}");
	sel("    message|startswith: 'abc'");
	YES("{\"message\":\"ABCdef\"}");
	NO("{\"message\":\"xabc\"}");
	sel("    message|endswith: '.exe'");
	YES("{\"message\":\"cmd.EXE\"}");
	NO("{\"message\":\"cmd.exe \"}");
	sel("    message|contains|all:\n      - 'user'\n      - 'add'");
	YES("{\"message\":\"net user bob /add\"}");
	NO("{\"message\":\"net user bob\"}");
	sel("    message|contains:\n      - 'aaa'\n      - 'bbb'");
	YES("{\"message\":\"x bbb\"}");
	NO("{\"message\":\"x ccc\"}");
	/* cased */
	sel("    message|cased: 'Hello'");
	YES("{\"message\":\"Hello\"}");
	NO("{\"message\":\"hello\"}");
	sel("    message|contains|cased: 'EVIL'");
	YES("{\"message\":\"an EVIL thing\"}");
	NO("{\"message\":\"an evil thing\"}");
	/* neq */
	sel("    user|neq:\n      - root\n      - admin");
	YES("{\"message\":\"x\",\"user\":\"bob\"}");
	NO("{\"message\":\"x\",\"user\":\"ROOT\"}");
}

static void test_re(void **state)
{
	(void)state;
	sel("    WorkstationName|re: '^[A-Za-z0-9]{16}$'");
	YES("{\"event_type\":\"x\",\"data\":{\"WorkstationName\":\"aB3dE5gH7jK9mN1p\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"WorkstationName\":\"DESKTOP-1\"}}");
	sel("    message|re: 'abc'"); /* case-sensitive by default */
	YES("{\"message\":\"xabcx\"}");
	NO("{\"message\":\"xABCx\"}");
	sel("    message|re|i: 'abc'");
	YES("{\"message\":\"xABCx\"}");
	sel("    message|re: '^b'");
	NO("{\"message\":\"a\\nb\"}");
	sel("    message|re|m: '^b'");
	YES("{\"message\":\"a\\nb\"}");
	sel("    message|re: 'a.b'");
	NO("{\"message\":\"a\\nb\"}");
	sel("    message|re|s: 'a.b'");
	YES("{\"message\":\"a\\nb\"}");
	/* catastrophic backtracking is cut short: no match, and quickly */
	sel("    message|re: '^(a+)+$'");
	NO("{\"message\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"}");
	refused(
	    "title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    message|re: '(a'\n"
	    "  condition: s\n",
	    "invalid regular expression");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    message|i: 'a'\n"
		"  condition: s\n",
		"unsupported: modifier 'i'");
}

static void test_cidr(void **state)
{
	(void)state;
	sel("    source_ip|cidr:\n      - 10.0.0.0/8\n      - 'fc00::/7'");
	YES("{\"message\":\"x\",\"source_ip\":\"10.1.2.3\"}");
	YES("{\"message\":\"x\",\"source_ip\":\"fd00::1:42\"}");
	NO("{\"message\":\"x\",\"source_ip\":\"11.1.2.3\"}");
	NO("{\"message\":\"x\",\"source_ip\":\"2001:db8::1\"}");
	NO("{\"message\":\"x\"}");
	sel("    IpAddress|cidr: '192.168.0.0/16'");
	YES("{\"event_type\":\"x\",\"data\":{\"IpAddress\":\"192.168.198.149\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"IpAddress\":\"-\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"IpAddress\":\"192.169.0.1\"}}");
	sel("    IpAddress|cidr: '::1/128'");
	YES("{\"event_type\":\"x\",\"data\":{\"IpAddress\":\"::1\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"IpAddress\":\"::2\"}}");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    ip|cidr: "
		"'10.0.0.0/33'\n  condition: s\n",
		"invalid CIDR");
}

static void test_encodings(void **state)
{
	(void)state;
	/* base64("Invoke-") = SW52b2tlLQ== */
	sel("    CommandLine|base64: 'Invoke-'");
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"SW52b2tlLQ==\"}}");
	sel("    CommandLine|base64|contains: 'Invoke-'");
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"-enc SW52b2tlLQ== x\"}}");
	/* base64offset: the three shifts of "Invoke-" inside longer base64 text */
	sel("    CommandLine|base64offset|contains: 'Invoke-'");
	/* base64 of "Invoke-Expression", "xInvoke-Expression", "xxInvoke-Expression" */
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"SW52b2tlLUV4cHJlc3Npb24=\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"eEludm9rZS1FeHByZXNzaW9u\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"eHhJbnZva2UtRXhwcmVzc2lvbg==\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"SW52b2tl\"}}");
	/* wide (UTF-16LE) then base64offset: what PowerShell -enc carries; the SigmaHQ rule's
	 * hand-made values SQBuAHYAbwBrAGUALQ, kAbgB2AG8AawBlAC0A, JAG4AdgBvAGsAZQAtA */
	sel("    CommandLine|wide|base64offset|contains: 'Invoke-'");
	assert_int_equal(R[0]->var[0].det.sel[0].alt[0].fc[0].nval, 3);
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"x SQBuAHYAbwBrAGUALQ y\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"x kAbgB2AG8AawBlAC0A y\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"x JAG4AdgBvAGsAZQAtA y\"}}");
	/* utf16 variants and wide: raw bytes with NULs (JSON \\u0000) */
	sel("    Blob|wide: 'ab'");
	YES("{\"event_type\":\"x\",\"data\":{\"Blob\":\"a\\u0000b\\u0000\"}}");
	sel("    Blob|utf16be: 'ab'");
	YES("{\"event_type\":\"x\",\"data\":{\"Blob\":\"\\u0000a\\u0000b\"}}");
	sel("    Blob|utf16|base64: 'a'");
	/* FF FE 61 00 -> //5hAA== */
	YES("{\"event_type\":\"x\",\"data\":{\"Blob\":\"//5hAA==\"}}");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a|base64: 'x*'\n"
		"  condition: s\n",
		"unsupported: base64 of a value with wildcards");
}

static void test_windash(void **state)
{
	(void)state;
	sel("    CommandLine|contains|windash: ' -l'");
	assert_int_equal(R[0]->var[0].det.sel[0].alt[0].fc[0].nval, 5);
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"cmdkey /l\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"cmdkey -l\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"cmdkey \xe2\x80\x93l\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"cmdkey \xe2\x80\x94l\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"cmdkey \xe2\x80\x95l\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"cmdkey +l\"}}");
	/* only a dash that starts a word: "a-b" stays as it is */
	sel("    CommandLine|windash: 'a-b /c'");
	assert_int_equal(R[0]->var[0].det.sel[0].alt[0].fc[0].nval, 5);
	YES("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"a-b -c\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"a/b /c\"}}");
}

static void test_numeric(void **state)
{
	(void)state;
	sel("    http_status|gte: 500");
	YES("{\"message\":\"x\",\"http_status\":500}");
	YES("{\"message\":\"x\",\"http_status\":503}");
	NO("{\"message\":\"x\",\"http_status\":499}");
	NO("{\"message\":\"x\"}");
	sel("    latency_ms|gt: 1000.5");
	YES("{\"message\":\"x\",\"latency_ms\":1000.6}");
	NO("{\"message\":\"x\",\"latency_ms\":1000.5}");
	sel("    Size|lt: 10");
	YES("{\"event_type\":\"x\",\"data\":{\"Size\":\"9\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"Size\":10}}");
	NO("{\"event_type\":\"x\",\"data\":{\"Size\":\"ten\"}}");
	sel("    Size|lte: 10");
	YES("{\"event_type\":\"x\",\"data\":{\"Size\":10}}");
	NO("{\"event_type\":\"x\",\"data\":{\"Size\":10.01}}");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a|gt: abc\n"
		"  condition: s\n",
		"not a number");
}

static void test_null_exists_fieldref(void **state)
{
	(void)state;
	sel("    PasswordLastSet: null");
	YES("{\"event_type\":\"x\",\"data\":{}}");
	YES("{\"event_type\":\"x\",\"data\":{\"PasswordLastSet\":null}}");
	YES("{\"event_type\":\"x\"}");
	NO("{\"event_type\":\"x\",\"data\":{\"PasswordLastSet\":\"-\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"PasswordLastSet\":\"\"}}");
	sel("    PasswordLastSet|exists: true");
	YES("{\"event_type\":\"x\",\"data\":{\"PasswordLastSet\":\"\"}}");
	YES("{\"event_type\":\"x\",\"data\":{\"PasswordLastSet\":null}}"); /* present, even null */
	NO("{\"event_type\":\"x\",\"data\":{}}");
	sel("    source_ip|exists: false");
	YES("{\"message\":\"x\",\"source_ip\":\"N/A\"}");
	NO("{\"message\":\"x\",\"source_ip\":\"1.2.3.4\"}");
	sel("    SubjectUserName|fieldref: TargetUserName");
	YES("{\"event_type\":\"x\",\"data\":{\"SubjectUserName\":\"Bob\",\"TargetUserName\":"
	    "\"bob\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"SubjectUserName\":\"bob\",\"TargetUserName\":"
	   "\"alice\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"SubjectUserName\":\"bob\"}}");
	sel("    SubjectUserName|fieldref|cased: TargetUserName");
	NO("{\"event_type\":\"x\",\"data\":{\"SubjectUserName\":\"Bob\",\"TargetUserName\":\"bob\"}"
	   "}");
	sel("    user|fieldref|neq: TargetUserName");
	YES("{\"event_type\":\"x\",\"user\":\"alice\",\"data\":{\"TargetUserName\":\"bob\"}}");
	NO("{\"event_type\":\"x\",\"user\":\"bob\",\"data\":{\"TargetUserName\":\"bob\"}}");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a|exists: maybe\n"
		"  condition: s\n",
		"'exists' needs true or false");
	refused(
	    "title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a|contains: null\n"
	    "  condition: s\n",
	    "null cannot take modifiers");
}

static void test_keywords(void **state)
{
	(void)state;
	compile_ok("title: t\nlogsource:\n  product: minisiem\ndetection:\n  keywords:\n"
		   "    - 'Trojan*FOUND'\n    - 'evil thing'\n  condition: keywords\n");
	YES("{\"message\":\"/tmp/x: Win.Trojan.Agent FOUND\"}");
	YES("{\"message\":\"an EVIL THING happened\"}");
	YES("{\"message\":\"summary\",\"raw_message\":\"<13>host app: evil thing\"}");
	NO("{\"message\":\"trojan\"}");
	compile_ok("title: t\nlogsource:\n  product: minisiem\ndetection:\n  keywords:\n"
		   "    '|all':\n      - 'pkexec'\n      - 'XAUTHORITY'\n  condition: keywords\n");
	YES("{\"message\":\"pkexec: The value for environment variable XAUTHORITY contains\"}");
	NO("{\"message\":\"pkexec: something else\"}");
	/* a single keyword string */
	compile_ok("title: t\nlogsource:\n  product: minisiem\ndetection:\n  k: 'needle'\n"
		   "  condition: k\n");
	YES("{\"message\":\"hay needle hay\"}");
	NO("{\"message\":\"hay\"}");
}

static void test_data_access(void **state)
{
	(void)state;
	sel("    TargetUserName: admin\n    Provider_Name: Microsoft-Windows-Security-Auditing\n"
	    "    Computer: DC01");
	/* flat */
	YES("{\"event_type\":\"x\",\"data\":{\"TargetUserName\":\"admin\",\"Provider_Name\":"
	    "\"Microsoft-Windows-Security-Auditing\",\"Computer\":\"DC01\"}}");
	/* under EventData and System, Provider as an object */
	YES("{\"event_type\":\"x\",\"data\":{\"EventData\":{\"TargetUserName\":\"admin\"},"
	    "\"System\":{\"Computer\":\"DC01\",\"Provider\":{\"Name\":"
	    "\"Microsoft-Windows-Security-Auditing\"}}}}");
	NO("{\"event_type\":\"x\",\"data\":{\"EventData\":{\"TargetUserName\":\"bob\"},"
	   "\"Computer\":\"DC01\",\"Provider_Name\":\"Microsoft-Windows-Security-Auditing\"}}");
	/* flat wins over EventData */
	sel("    Channel: Security");
	YES("{\"event_type\":\"x\",\"data\":{\"Channel\":\"Security\",\"UserData\":{\"L\":"
	    "{\"Channel\":\"System\"}}}}");
	NO("{\"event_type\":\"x\",\"data\":{\"Channel\":\"System\",\"EventData\":{\"Channel\":"
	   "\"Security\"}}}");
	/* UserData.<element>.field */
	sel("    Operation|contains|all:\n      - 'Win32_NTEventlogFile'\n      - cleareventlog");
	YES("{\"event_type\":\"x\",\"data\":{\"UserData\":{\"Operation_ClientFailure\":{"
	    "\"Operation\":\"ExecMethod Win32_NTEventlogFile.Name=\\\"x\\\"::ClearEventLog\"}}}}");
	/* dotted path, escapes, arrays */
	sel("    loc.country: FR");
	YES("{\"event_type\":\"x\",\"data\":{\"loc\":{\"country\":\"fr\"}}}");
	YES("{\"event_type\":\"x\",\"data\":{\"loc.country\":\"FR\"}}");
	NO("{\"event_type\":\"x\",\"data\":{\"loc\":{\"city\":\"FR\"}}}");
	sel("    Path|endswith: '\\caf\xc3\xa9.txt'");
	YES("{\"event_type\":\"x\",\"data\":{\"Path\":\"C:\\\\caf\\u00e9.txt\"}}");
	sel("    labels: bad");
	YES("{\"event_type\":\"x\",\"data\":{\"labels\":[\"good\",\"BAD\"]}}");
	NO("{\"event_type\":\"x\",\"data\":{\"labels\":[\"good\"]}}");
	/* the hub's enrichment: geo.* and tags name our fields, never the client's data */
	sel("    geo.country: FR\n    geo.asn|gte: 1000\n    tags: intel:drop");
	NO("{\"event_type\":\"x\",\"data\":{\"geo\":{\"country\":\"FR\",\"asn\":2000},"
	   "\"tags\":[\"intel:drop\"]}}");
	struct event *ge = mkev("{\"event_type\":\"x\"}");
	ge->geo_country = (struct sv){"FR", 2};
	ge->geo_asn = 3215;
	ge->flags |= EV_HAS_ASN;
	ge->tags = (struct sv){"intel:tor,intel:drop,intel:drop/botnet", 38};
	assert_true(rule_matches(R[0], ge));
	ge->tags = (struct sv){"intel:drop/botnet,intel:dropx", 29};
	assert_false(rule_matches(R[0], ge)); /* a whole tag, not a part of one */
	ge->tags = (struct sv){"intel:drop", 10};
	ge->geo_asn = 999;
	assert_false(rule_matches(R[0], ge));
	sel("    tags|startswith: 'intel:'");
	ge->tags = (struct sv){"ssh,intel:tor", 13};
	assert_true(rule_matches(R[0], ge));
	ge->tags = (struct sv){"ssh,xintel:tor", 14};
	assert_false(rule_matches(R[0], ge));
	/* our own fields and their aliases */
	sel("    src_ip: 10.0.0.1\n    host: web1\n    os_type: linux");
	YES("{\"message\":\"x\",\"source_ip\":\"10.0.0.1\",\"source_host\":\"web1\","
	    "\"os_type\":\"linux\"}");
	/* unparsable or absent data: fields are absent, nothing crashes */
	sel("    A: b");
	NO("{\"event_type\":\"x\"}");
	struct event *ev = mkev("{\"event_type\":\"x\",\"data\":{\"A\":\"b\"}}");
	assert_true(rule_matches(R[0], ev));
	ev->data.p = "{\"A\":\"b\"";
	ev->data.n = strlen(ev->data.p);
	assert_false(rule_matches(R[0], ev));
	ev->data.p =
	    "{\"A\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]"
	    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}";
	ev->data.n = strlen(ev->data.p);
	assert_false(rule_matches(R[0], ev));
}

/* ---- conditions ---- */

static const char *cond_rule(const char *cond)
{
	static char y[2048];
	snprintf(y, sizeof(y),
		 "title: t\nlogsource:\n  product: minisiem\ndetection:\n"
		 "  sel_a:\n    user: a\n  sel_b:\n    app: b\n  filter_c:\n    level: c\n"
		 "  _hidden:\n    source_host: h\n  condition: %s\n",
		 cond);
	return y;
}

static bool cm(const char *u, const char *app, const char *lvl, const char *host)
{
	char j[512];
	snprintf(j, sizeof(j),
		 "{\"message\":\"x\",\"user\":\"%s\",\"app\":\"%s\",\"level\":\"%s\","
		 "\"source_host\":\"%s\"}",
		 u, app, lvl, host);
	return m(j);
}

static void test_conditions(void **state)
{
	(void)state;
	compile_ok(cond_rule("sel_a and sel_b"));
	assert_true(cm("a", "b", "-", "-"));
	assert_false(cm("a", "-", "-", "-"));
	compile_ok(cond_rule("sel_a or sel_b and filter_c")); /* and binds tighter */
	assert_true(cm("a", "-", "-", "-"));
	assert_false(cm("-", "b", "-", "-"));
	assert_true(cm("-", "b", "c", "-"));
	compile_ok(cond_rule("(sel_a or sel_b) and not filter_c"));
	assert_true(cm("-", "b", "-", "-"));
	assert_false(cm("-", "b", "c", "-"));
	compile_ok(cond_rule("not not sel_a"));
	assert_true(cm("a", "-", "-", "-"));
	compile_ok(cond_rule("1 of sel_*"));
	assert_true(cm("-", "b", "-", "-"));
	assert_false(cm("-", "-", "c", "-"));
	compile_ok(cond_rule("all of sel_* and not 1 of filter_*"));
	assert_true(cm("a", "b", "-", "-"));
	assert_false(cm("a", "b", "c", "-"));
	assert_false(cm("a", "-", "-", "-"));
	compile_ok(cond_rule("1 of them"));
	assert_true(cm("-", "-", "c", "-"));
	assert_false(cm("-", "-", "-", "h")); /* _hidden is not part of "them" */
	compile_ok(cond_rule("all of them"));
	assert_true(cm("a", "b", "c", "-"));
	assert_false(cm("a", "b", "-", "h"));
	compile_ok(cond_rule("1 of _hid*"));
	assert_true(cm("-", "-", "-", "h"));
	compile_ok(cond_rule("any of sel*"));
	assert_true(cm("a", "-", "-", "-"));
	/* a list of conditions is ORed */
	compile_ok("title: t\nlogsource:\n  product: minisiem\ndetection:\n  a:\n    user: a\n"
		   "  b:\n    user: b\n  condition:\n    - a\n    - b\n");
	YES("{\"message\":\"x\",\"user\":\"b\"}");
	NO("{\"message\":\"x\",\"user\":\"c\"}");
	/* errors */
	refused(cond_rule("sel_a and"), "unexpected end");
	refused(cond_rule("(sel_a"), "missing ')'");
	refused(cond_rule("sel_a sel_b"), "unexpected 'sel_b'");
	refused(cond_rule("nope"), "unknown search identifier 'nope'");
	refused(cond_rule("1 of zz*"), "matches no search identifier");
	refused(cond_rule("sel_*"), "needs '1 of' or 'all of'");
	refused(cond_rule("2 of sel_*"), "unsupported: '2 of'");
	refused(cond_rule("sel_a | count() > 5"), "unsupported: aggregation");
	refused(cond_rule("sel_a near sel_b"), "unexpected 'near'");
	refused(cond_rule("near"), "unsupported: condition operator 'near'");
	char deep[256];
	memset(deep, '(', 100);
	memcpy(deep + 100, "sel_a", 5);
	memset(deep + 105, ')', 100);
	deep[205] = '\0';
	refused(cond_rule(deep), "nested too deeply");
}

/* ---- refusals, errors, metadata ---- */

static void test_refusals(void **state)
{
	(void)state;
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a|expand: "
		"'%Servers%'\n  condition: s\n",
		"unsupported: placeholder '%Servers%' without values");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    ts|hour: 3\n"
		"  condition: s\n",
		"unsupported: time modifier 'hour'");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a|frobnicate: 3\n"
		"  condition: s\n",
		"unsupported: modifier 'frobnicate'");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a|re|cidr: x\n"
		"  condition: s\n",
		"unsupported: modifier 'cidr' combined with 're'");
	refused(
	    "title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a|contains|re: x\n"
	    "  condition: s\n",
	    "unsupported: modifier 're' combined with contains");
	refused(
	    "title: t\nlogsource:\n  product: nosuch\n  service: x\ndetection:\n  s:\n    a: b\n"
	    "  condition: s\n",
	    "unsupported: logsource product=nosuch service=x");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a:\n      b: c\n"
		"  condition: s\n",
		"unsupported: a map as a field value");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a: b\n"
		"  timeframe: 5m\n  condition: s\n",
		"unsupported: 'timeframe'");
	refused("title: t\ncorrelation:\n  type: value_median\n  rules: [a]\n  timespan: 1h\n"
		"  group-by: [x]\n  condition:\n    field: bytes\n    gt: 10\n",
		"unknown correlation type 'value_median'");
	refused("title: t\naction: global\nlogsource:\n  product: minisiem\n",
		"unsupported: 'action'");
	refused("title: t\nfilter:\n  rules: [x]\n", "a rule needs a logsource map");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a|windash: "
		"'-a -b -c -d -e -f'\n  condition: s\n",
		"unsupported: windash expansion");
	/* the error names the rule, the document and the line */
	refused("title: one\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a: b\n"
		"  condition: s\n---\ntitle: Second Rule\nlogsource:\n  product: minisiem\n"
		"detection:\n  s:\n    a|bogus: b\n  condition: s\n",
		"rule 'Second Rule' (document 2): line 14: unsupported: modifier 'bogus'");
	refused("title: t\ndetection: [\n", "document 1: line 3");
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a: b\n",
		"detection has no condition");
	refused("logsource:\n  product: minisiem\ndetection:\n  s:\n    a: b\n  condition: s\n",
		"a rule needs a title");
	refused("title: t\nlevel: severe\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		"    a: b\n  condition: s\n",
		"level must be");
	refused("", "no rule in the text");
	/* aliases that loop back do not hang the compiler */
	refused("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s: &x [*x]\n"
		"  condition: s\n",
		"");
}

/* A valid rule whose extra key "x" holds depth nested lists: flow "[[...]]" (closed or not)
 * or block "- - - v". The root map is the first level. */
static char *nested_rule(int depth, bool flow, bool closed)
{
	static const char head[] = "title: t\nlogsource:\n  product: minisiem\ndetection:\n"
				   "  s:\n    a: b\n  condition: s\nx:";
	size_t n = sizeof(head) + 2 * (size_t)depth + 16;
	char *t = malloc(n), *p = t;
	assert_non_null(t);
	p += snprintf(p, n, "%s%s", head, flow ? " " : "\n");
	for (int i = 0; i < depth; i++) {
		if (flow) {
			*p++ = '[';
		} else {
			*p++ = '-';
			*p++ = ' ';
		}
	}
	*p++ = 'v';
	for (int i = 0; flow && closed && i < depth; i++)
		*p++ = ']';
	*p++ = '\n';
	*p = '\0';
	return t;
}

static void sb_add(struct strbuf *b, const char *p, size_t n)
{
	assert_int_equal(strbuf_add(b, p, n), 0);
}

static void sb_reset(struct strbuf *b)
{
	b->n = 0;
	if (b->p)
		b->p[0] = '\0';
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Refused with rc, err containing want, within a time bound (before the limits were
 * checked on the parser's events, 40,000 levels took seconds and 8 MiB took hours). */
static void refused_rc(const char *text, size_t n, int want_rc, const char *want)
{
	struct timespec t0;
	free_rules();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = rule_compile(text, n, "test", &R, &NR, ERR, sizeof(ERR));
	double took = seconds_since(&t0);
	if (rc != want_rc)
		fail_msg("rc %d (%s), want %d", rc, ERR, want_rc);
	if (!strstr(ERR, want))
		fail_msg("error \"%s\" lacks \"%s\"", ERR, want);
	if (took > 5.0)
		fail_msg("refusal took %.1f s", took);
}

static void test_limits(void **state)
{
	(void)state;
	char *t;
	/* nesting: 64 levels in all are fine, the 65th is refused where it opens */
	t = nested_rule(63, true, true);
	compile_ok(t);
	free(t);
	t = nested_rule(63, false, false);
	compile_ok(t);
	free(t);
	t = nested_rule(64, true, true);
	refused_rc(t, strlen(t), SIEM_EPARSE,
		   "document 1: line 8, column 67: nesting deeper than 64 levels");
	free(t);
	t = nested_rule(64, false, false);
	refused_rc(t, strlen(t), SIEM_EPARSE,
		   "document 1: line 9, column 127: nesting deeper than 64 levels");
	free(t);
	/* the attack: 40,000 levels, closed or not, flow or block (80 KB: over the byte limit
	 * of a document too, but the 65th level comes first) */
	for (int k = 0; k < 3; k++) {
		t = nested_rule(40000, k != 2, k == 0);
		refused_rc(t, strlen(t), SIEM_EPARSE, "nesting deeper than 64 levels");
		free(t);
		t = nested_rule(30000, k != 2, k == 0);
		refused_rc(t, strlen(t), SIEM_EPARSE, "nesting deeper than 64 levels");
		free(t);
	}
	/* flow maps, and the second document of a text */
	struct strbuf b;
	strbuf_init(&b, 4 * RULE_FILE_MAX);
	sb_add(&b, "title: a\n---\ntitle: t\nx: ", 24);
	for (int i = 0; i < 10000; i++)
		sb_add(&b, "{a: ", 4);
	refused_rc(b.p, b.n, SIEM_EPARSE, "document 2: line 4, column ");
	assert_non_null(strstr(ERR, "nesting deeper than 64 levels"));
	/* node count */
	sb_reset(&b);
	const char *base = "title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a: b\n"
			   "  condition: s\nx: [v";
	sb_add(&b, base, strlen(base));
	for (int i = 0; i < RULE_MAX_NODES - 100; i++)
		sb_add(&b, ",v", 2);
	sb_add(&b, "]\n", 2);
	compile_ok(b.p);
	b.n -= 2;
	for (int i = 0; i < 100; i++)
		sb_add(&b, ",v", 2);
	sb_add(&b, "]\n", 2);
	refused_rc(b.p, b.n, SIEM_EPARSE, "more than 10000 YAML nodes");
	/* bytes: a document of up to 64 KiB, a text of up to 1 MiB */
	const char *rule = "title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a: b\n"
			   "  condition: s\ndescription: ";
	sb_reset(&b);
	sb_add(&b, rule, strlen(rule));
	while (b.n < RULE_TEXT_MAX - 1)
		sb_add(&b, "d", 1);
	sb_add(&b, "\n", 1);
	assert_int_equal(b.n, RULE_TEXT_MAX);
	compile_ok(b.p);
	sb_add(&b, "description2: more\n", 19);
	refused_rc(b.p, b.n, SIEM_ETOOBIG, "document 1: larger than 65536 bytes (64 KiB)");
	sb_reset(&b);
	for (int d = 0; d < 3; d++) { /* three documents of 40 KB */
		sb_add(&b, d ? "---\n" : "", d ? 4 : 0);
		sb_add(&b, rule, strlen(rule));
		for (int i = 0; i < 40000; i++)
			sb_add(&b, "d", 1);
		sb_add(&b, "\n", 1);
	}
	compile_ok(b.p);
	assert_int_equal(NR, 3);
	while (b.n <= RULE_FILE_MAX)
		sb_add(&b, "# comment\n", 10);
	refused_rc(b.p, b.n, SIEM_ETOOBIG, "rule text larger than 1048576 bytes (1024 KiB)");
	strbuf_release(&b);
	/* the mapping has the same nesting limit; a refused one leaves the current in place */
	t = nested_rule(40000, true, false);
	assert_int_not_equal(sigma_mapping_set(t, strlen(t), ERR, sizeof(ERR)), 0);
	assert_non_null(strstr(ERR, "nesting deeper than 64 levels"));
	free(t);
	compile_ok("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a: b\n"
		   "  condition: s\n");
}

static void test_metadata(void **state)
{
	(void)state;
	compile_ok("title: Meta\nid: 11111111-2222-3333-4444-555555555555\nname: meta_rule\n"
		   "status: test\ndescription: d\nauthor: Jane Doe\nlevel: critical\n"
		   "tags: [attack.t1110]\nfalsepositives: [none]\nfields: [user]\n"
		   "logsource:\n  product: minisiem\ndetection:\n  s:\n    a: b\n  condition: s\n");
	const struct rule_info *in = rule_get_info(R[0]);
	assert_string_equal(in->id, "11111111-2222-3333-4444-555555555555");
	assert_string_equal(in->name, "meta_rule");
	assert_string_equal(in->author, "Jane Doe");
	assert_string_equal(in->level, "critical");
	assert_int_equal(in->severity, 5);
	assert_string_equal(in->origin, "test");
	assert_int_equal(in->kind, RULE_DETECTION);
	assert_true(in->generates);
	/* no id: the name, else the title */
	compile_ok(
	    "title: Only Title\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a: b\n"
	    "  condition: s\n");
	assert_string_equal(rule_get_info(R[0])->id, "Only Title");
	assert_string_equal(rule_get_info(R[0])->level, "medium");
	/* multi-document: a correlation and its base rule, which then does not alert alone */
	compile_ok("title: c\ncorrelation:\n  type: event_count\n  rules: [base]\n"
		   "  group-by: [user]\n  timespan: 5m\n  condition:\n    gte: 3\n---\n"
		   "title: b\nname: base\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		   "    a: b\n  condition: s\n");
	assert_int_equal(NR, 2);
	assert_int_equal(rule_get_info(R[0])->kind, RULE_CORRELATION);
	/* empty documents are skipped */
	compile_ok("---\n---\ntitle: a\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		   "    a: b\n  condition: s\n---\n---\ntitle: b\nlogsource:\n  product: "
		   "minisiem\ndetection:\n  s:\n    a: b\n  condition: s\n---\n");
	assert_int_equal(NR, 2);
	compile_ok("title: c\ncorrelation:\n  type: event_count\n  rules: [base]\n"
		   "  group-by: [user]\n  timespan: 5m\n  condition:\n    gte: 3\n---\n"
		   "title: b\nname: base\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		   "    a: b\n  condition: s\n");
	assert_false(rule_get_info(R[1])->generates);
	assert_false(rule_matches(R[0], mkev("{\"message\":\"x\"}")));
}

static void test_prefilter(void **state)
{
	(void)state;
	compile_ok("title: t\nlogsource:\n  product: windows\n  service: security\ndetection:\n"
		   "  s:\n    EventID: [4624, 4625]\n  condition: s\n");
	assert_int_equal(R[0]->pf.evf, EVF_OS_TYPE);
	assert_int_equal(R[0]->pf.neid, 2);
	compile_ok("title: t\nlogsource:\n  product: minisiem\ndetection:\n  a:\n"
		   "    event_type: LOGIN_FAIL\n  b:\n    event_type: LOGIN_SUCCESS\n"
		   "  condition: a or b\n");
	assert_int_equal(R[0]->pf.evf, EVF_EVENT_TYPE);
	assert_int_equal(R[0]->pf.nvals, 2);
	/* a negation or an OR with an unconstrained branch leaves a rule unindexed */
	compile_ok("title: t\nlogsource:\n  product: minisiem\ndetection:\n  a:\n"
		   "    event_type: LOGIN_FAIL\n  b:\n    user: root\n  condition: a or b\n");
	assert_int_equal(R[0]->pf.evf, -1);
	compile_ok("title: t\nlogsource:\n  product: minisiem\ndetection:\n  a:\n"
		   "    event_type: LOGIN_FAIL\n  condition: not a\n");
	assert_int_equal(R[0]->pf.evf, -1);
}

/* ---- SigmaHQ rules and regression data ---- */

struct pathlist {
	char **p;
	size_t n, cap;
};

static void walk(const char *dir, const char *suffix, struct pathlist *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(path, suffix, out);
			continue;
		}
		size_t l = strlen(path), sl = strlen(suffix);
		if (l < sl || strcmp(path + l - sl, suffix))
			continue;
		if (out->n == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 64;
			out->p = realloc(out->p, out->cap * sizeof(char *));
		}
		out->p[out->n++] = strdup(path);
	}
	closedir(d);
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void pathlist_free(struct pathlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->p[i]);
	free(l->p);
}

/* Every SigmaHQ rule compiles or is refused naming an unsupported feature; the refusals are
 * listed in docs/detection.md. */
static void test_sigmahq_corpus(void **state)
{
	(void)state;
	char dir[4096];
	struct pathlist l = {0};
	snprintf(dir, sizeof(dir), "%s/sigma/rules", data_dir());
	walk(dir, ".yml", &l);
	snprintf(dir, sizeof(dir), "%s/sigma/rules-emerging-threats", data_dir());
	walk(dir, ".yml", &l);
	if (l.n == 0)
		skip();
	qsort(l.p, l.n, sizeof(char *), cmpstr);
	size_t ok = 0, refusals = 0;
	for (size_t i = 0; i < l.n; i++) {
		size_t n;
		char *text = test_slurp(l.p[i], &n);
		assert_non_null(text);
		free_rules();
		int rc = rule_compile(text, n, l.p[i], &R, &NR, ERR, sizeof(ERR));
		free(text);
		if (rc == 0) {
			ok++;
			continue;
		}
		refusals++;
		print_message("refused %s: %s\n", l.p[i], ERR);
		if (!strstr(ERR, "unsupported: "))
			fail_msg("%s: not refused for an unsupported feature: %s", l.p[i], ERR);
	}
	print_message("SigmaHQ rules: %zu compiled, %zu refused\n", ok, refusals);
	assert_int_equal(ok + refusals, 75);
	assert_int_equal(refusals, 0);
	pathlist_free(&l);
}

/* The SigmaHQ regression event as our event: System fields and EventData fields flat in
 * data (UserData kept nested, as the Windows agent sends it). */
static struct event *regression_event(json_t *root)
{
	json_t *e = json_object_get(root, "Event");
	json_t *sys = json_object_get(e, "System");
	json_t *data = json_object();
	json_object_set(data, "EventID", json_object_get(sys, "EventID"));
	json_object_set(data, "Channel", json_object_get(sys, "Channel"));
	json_object_set(data, "Computer", json_object_get(sys, "Computer"));
	json_t *prov = json_object_get(
	    json_object_get(json_object_get(sys, "Provider"), "#attributes"), "Name");
	if (prov)
		json_object_set(data, "Provider_Name", prov);
	const char *k;
	json_t *v;
	json_object_foreach (json_object_get(e, "EventData"), k, v) {
		if (k[0] != '#')
			json_object_set(data, k, v);
	}
	if (json_object_get(e, "UserData"))
		json_object_set(data, "UserData", json_object_get(e, "UserData"));
	json_t *ev = json_object();
	json_object_set_new(ev, "os_type", json_string("WINDOWS"));
	json_object_set_new(ev, "event_type", json_string("WIN_EVENT"));
	json_object_set(
	    ev, "timestamp",
	    json_object_get(json_object_get(json_object_get(sys, "TimeCreated"), "#attributes"),
			    "SystemTime"));
	json_object_set_new(ev, "data", data);
	struct event *out = arena_alloc(&A, sizeof(*out));
	char err[256];
	int rc = event_from_json(out, ev, &A, 1700000000000000LL, err, sizeof(err));
	json_decref(ev);
	if (rc)
		fail_msg("regression event: %s", err);
	return out;
}

static void test_sigmahq_regression(void **state)
{
	(void)state;
	char dir[4096];
	struct pathlist l = {0};
	snprintf(dir, sizeof(dir), "%s/sigma/regression_data", data_dir());
	walk(dir, "info.yml", &l);
	if (l.n == 0)
		skip();
	qsort(l.p, l.n, sizeof(char *), cmpstr);
	size_t passed = 0;
	for (size_t i = 0; i < l.n; i++) {
		/* regression_data/<rule path>/info.yml -> rules path and the event json */
		char rule[4096], base[4096];
		snprintf(base, sizeof(base), "%s", l.p[i]);
		*strrchr(base, '/') = '\0';
		const char *rel = strstr(base, "regression_data/") + strlen("regression_data/");
		snprintf(rule, sizeof(rule), "%s/sigma/%s.yml", data_dir(), rel);
		char *info = test_slurp(l.p[i], NULL);
		assert_non_null(info);
		long want = 1;
		const char *mc = strstr(info, "match_count:");
		if (mc)
			want = strtol(mc + 12, NULL, 10);
		const char *idp = strstr(strstr(info, "rule_metadata:"), "id: ");
		char id[64] = "";
		sscanf(idp + 4, "%63s", id);
		free(info);
		char evpath[4200];
		snprintf(evpath, sizeof(evpath), "%s/%s.json", base, id);
		size_t n;
		char *text = test_slurp(rule, &n);
		if (!text)
			fail_msg("missing rule %s", rule);
		free_rules();
		if (rule_compile(text, n, rule, &R, &NR, ERR, sizeof(ERR)))
			fail_msg("%s: %s", rule, ERR);
		free(text);
		json_error_t je;
		json_t *j = json_load_file(evpath, 0, &je);
		if (!j)
			fail_msg("%s: %s", evpath, je.text);
		struct event *ev = regression_event(j);
		json_decref(j);
		long got = rule_matches(R[0], ev) ? 1 : 0;
		if (got < want)
			fail_msg("%s: %ld matches, want >= %ld", rel, got, want);
		passed++;
	}
	print_message("SigmaHQ regression cases: %zu of %zu pass\n", passed, l.n);
	assert_int_equal(passed, 11);
	pathlist_free(&l);
}

/* ---- EVTX XML exports ---- */

/* XML text to plain: the five predefined entities. */
static json_t *xml_text(const char *p, size_t n)
{
	char *o = malloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		static const struct {
			const char *e;
			char c;
		} ent[] = {{"&amp;", '&'},
			   {"&lt;", '<'},
			   {"&gt;", '>'},
			   {"&quot;", '"'},
			   {"&apos;", '\''}};
		bool done = false;
		for (size_t e = 0; e < 5 && !done && p[i] == '&'; e++) {
			size_t el = strlen(ent[e].e);
			if (i + el <= n && !memcmp(p + i, ent[e].e, el)) {
				o[k++] = ent[e].c;
				i += el - 1;
				done = true;
			}
		}
		if (!done)
			o[k++] = p[i];
	}
	json_t *s = json_stringn(o, k);
	free(o);
	return s;
}

static const char *between(const char *s, const char *end, const char *a, const char *b, size_t *n)
{
	const char *p = strstr(s, a);
	if (!p || p > end)
		return NULL;
	p += strlen(a);
	const char *q = strstr(p, b);
	if (!q || q > end)
		return NULL;
	*n = (size_t)(q - p);
	return p;
}

/* <Data Name="X">v</Data> or <Data Name="X"/> into obj, within [s, end). */
static void xml_data(const char *s, const char *end, json_t *obj)
{
	for (const char *p = s; (p = strstr(p, "<Data Name=\"")) && p < end;) {
		p += 12;
		const char *q = strchr(p, '"');
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)(q - p), p);
		if (q[1] == '/') {
			json_object_set_new(obj, name, json_string(""));
			p = q;
			continue;
		}
		const char *v = q + 2, *ve = strstr(v, "</Data>");
		json_object_set_new(obj, name, xml_text(v, (size_t)(ve - v)));
		p = ve;
	}
}

/* <UserData><Elem ...><K>v</K><K2/></Elem></UserData> */
static void xml_userdata(const char *s, const char *end, json_t *data)
{
	const char *u = strstr(s, "<UserData>");
	if (!u || u > end)
		return;
	const char *ue = strstr(u, "</UserData>");
	const char *el = strchr(u + 10, '<');
	if (!el || el > ue)
		return;
	el++;
	size_t en = strcspn(el, " >/");
	char ename[128];
	snprintf(ename, sizeof(ename), "%.*s", (int)en, el);
	json_t *inner = json_object();
	const char *p = strchr(el, '>') + 1;
	while ((p = strchr(p, '<')) && p < ue) {
		if (p[1] == '/') {
			p++;
			continue;
		}
		size_t kn = strcspn(p + 1, " >/");
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)kn, p + 1);
		const char *gt = strchr(p, '>');
		if (gt[-1] == '/') {
			json_object_set_new(inner, key, json_string(""));
			p = gt;
			continue;
		}
		char close[140];
		snprintf(close, sizeof(close), "</%s>", key);
		const char *ce = strstr(gt, close);
		if (!ce || ce > ue)
			break;
		json_object_set_new(inner, key, xml_text(gt + 1, (size_t)(ce - gt - 1)));
		p = ce + strlen(close);
	}
	json_t *ud = json_object();
	json_object_set_new(ud, ename, inner);
	json_object_set_new(data, "UserData", ud);
}

struct evlist {
	struct event **ev;
	size_t n, cap;
};

static void evlist_add(struct evlist *l, struct event *e)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->ev = realloc(l->ev, l->cap * sizeof(*l->ev));
	}
	l->ev[l->n++] = e;
}

/* One file of `evtxexport -f xml` output: EventData kept nested under data.EventData. */
static void load_evtx_xml(const char *path, struct evlist *out)
{
	size_t tn;
	char *text = test_slurp(path, &tn);
	assert_non_null(text);
	/* memmem with lengths: strstr would rescan the rest of a 10 MB file per event */
	for (char *p = text; (p = memmem(p, tn - (size_t)(p - text), "<Event xmlns", 12));) {
		char *end = memmem(p, tn - (size_t)(p - text), "</Event>", 8);
		assert_non_null(end);
		*end = '\0'; /* every search below stays inside this event */
		size_t n;
		json_t *data = json_object(), *ed = json_object();
		const char *v;
		if ((v = between(p, end, "<Provider Name=\"", "\"", &n)))
			json_object_set_new(data, "Provider_Name", json_stringn(v, n));
		if ((v = between(p, end, "<EventID", "</EventID>", &n))) {
			const char *gt = memchr(v, '>', n);
			json_object_set_new(data, "EventID",
					    json_integer(strtol(gt + 1, NULL, 10)));
		}
		if ((v = between(p, end, "<Channel>", "</Channel>", &n)))
			json_object_set_new(data, "Channel", json_stringn(v, n));
		if ((v = between(p, end, "<Computer>", "</Computer>", &n)))
			json_object_set_new(data, "Computer", json_stringn(v, n));
		const char *eds = strstr(p, "<EventData>");
		if (eds && eds < end)
			xml_data(eds, end, ed);
		json_object_set_new(data, "EventData", ed);
		xml_userdata(p, end, data);
		json_t *ev = json_object();
		json_object_set_new(ev, "os_type", json_string("WINDOWS"));
		json_object_set_new(ev, "event_type", json_string("WIN_EVENT"));
		if ((v = between(p, end, "SystemTime=\"", "\"", &n)))
			json_object_set_new(ev, "timestamp", json_stringn(v, n));
		json_object_set_new(ev, "data", data);
		struct event *e = arena_alloc(&A, sizeof(*e));
		char err[256];
		if (event_from_json(e, ev, &A, 1700000000000000LL, err, sizeof(err)))
			fail_msg("%s: %s", path, err);
		json_decref(ev);
		evlist_add(out, e);
		p = end + 1;
	}
	free(text);
}

static size_t count_matches(const char *rule_rel, const struct evlist *l)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/sigma/%s", data_dir(), rule_rel);
	size_t n;
	char *text = test_slurp(path, &n);
	if (!text)
		fail_msg("missing %s", path);
	free_rules();
	if (rule_compile(text, n, path, &R, &NR, ERR, sizeof(ERR)))
		fail_msg("%s: %s", path, ERR);
	free(text);
	size_t c = 0;
	for (size_t i = 0; i < l->n; i++)
		c += rule_matches(R[0], l->ev[i]);
	return c;
}

static void test_evtx_exports(void **state)
{
	(void)state;
	char dir[4096];
	struct pathlist files = {0};
	snprintf(dir, sizeof(dir), "%s/evtx", data_dir());
	walk(dir, ".evtx.xml", &files);
	if (files.n == 0)
		skip();
	struct evlist l = {0};
	for (size_t i = 0; i < files.n; i++)
		load_evtx_xml(files.p[i], &l);
	assert_int_equal(l.n, 3912); /* SOURCE.md: allocated records across the 17 files */
	static const struct {
		const char *rule;
		size_t want;
	} exp[] = {
	    /* every 1102 has Provider Microsoft-Windows-Eventlog: one per file that has one */
	    {"rules/windows/builtin/security/win_security_audit_log_cleared.yml", 8},
	    {"rules/windows/builtin/security/win_security_user_creation.yml", 4},
	    {"rules/windows/builtin/security/win_security_hidden_user_creation.yml", 0},
	    /* 3,561 random 16-character WorkstationNames in smb-password-guessing plus the
	     * 4624 in Eternal_Romance */
	    {"rules/windows/builtin/security/win_security_metasploit_authentication.yml", 3562},
	    /* the two 0xc0000072 failures carry SubjectUserSid S-1-0-0: filtered */
	    {"rules/windows/builtin/security/win_security_susp_failed_logon_reasons.yml", 0},
	    {"rules/windows/builtin/security/account_management/"
	     "win_security_susp_failed_logon_source.yml",
	     0},
	    /* Windows writes LogonProcessName "NtLmSsp " (trailing space): Sigma equality is
	     * exact, so only selection_logon9 (seclogo) matches, once */
	    {"rules/windows/builtin/security/account_management/win_security_pass_the_hash_2.yml",
	     1},
	    /* through the 4688 mapping: Image -> NewProcessName */
	    {"rules/windows/process_creation/proc_creation_win_net_user_add.yml", 2},
	    {"rules/windows/process_creation/proc_creation_win_powershell_frombase64string.yml", 3},
	};
	for (size_t i = 0; i < sizeof(exp) / sizeof(exp[0]); i++) {
		size_t got = count_matches(exp[i].rule, &l);
		if (got != exp[i].want)
			fail_msg("%s: %zu matches, want %zu", exp[i].rule, got, exp[i].want);
	}
	free(l.ev);
	pathlist_free(&files);
}

/* ---- Pi-hole fixture ---- */

static void test_pihole_dns(void **state)
{
	(void)state;
	char path[4096];
	snprintf(path, sizeof(path), "%s/pihole/pihole-FTL.queries.csv", data_dir());
	char *text = test_slurp(path, NULL);
	if (!text)
		skip();
	static const char *qtype[] = {"",	"A",   "AAAA",	"ANY",	"SRV",	"SOA",
				      "PTR",	"TXT", "NAPTR", "MX",	"DS",	"RRSIG",
				      "DNSKEY", "NS",  "OTHER", "SVCB", "HTTPS"};
	static const int blocked[] = {1, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 18};
	struct evlist l = {0};
	long ids[600];
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save); /* header */
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *f[13] = {NULL};
		int nf = 0;
		for (char *p = line; nf < 13; nf++) {
			f[nf] = p;
			char *c = strchr(p, ',');
			if (!c) {
				nf++;
				break;
			}
			*c = '\0';
			p = c + 1;
		}
		assert_int_equal(nf, 13);
		int type = (int)strtol(f[2], NULL, 10), status = (int)strtol(f[3], NULL, 10);
		bool blk = false;
		for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
			blk |= blocked[i] == status;
		json_t *data =
		    json_pack("{s:s, s:s, s:i}", "query", f[4], "record_type",
			      type > 0 && type <= 16 ? qtype[type] : "OTHER", "status", status);
		json_t *ev =
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "timestamp", f[1], "os_type",
			      "PIHOLE", "event_type", blk ? "DNS_BLOCK" : "DNS_QUERY", "source_ip",
			      f[5], "message", f[4], "data", data);
		struct event *e = arena_alloc(&A, sizeof(*e));
		char err[256];
		if (event_from_json(e, ev, &A, 1740873600000000LL, err, sizeof(err)))
			fail_msg("row %s: %s", f[0], err);
		json_decref(ev);
		ids[l.n] = strtol(f[0], NULL, 10);
		evlist_add(&l, e);
	}
	free(text);
	assert_int_equal(l.n, 493);
	static const struct {
		const char *rule;
		long rows[3];
	} exp[] = {
	    {"rules/network/dns/net_dns_susp_telegram_api.yml", {459}},
	    {"rules/network/dns/net_dns_pua_cryptocoin_mining_xmr.yml", {462, 465}},
	    {"rules/network/dns/net_dns_wannacry_killswitch_domain.yml", {468}},
	    {"rules/network/dns/net_dns_external_service_interaction_domains.yml", {471}},
	    {"rules/network/dns/net_dns_mal_cobaltstrike.yml", {474}},
	    {"rules/network/dns/net_dns_susp_b64_queries.yml", {476}},
	    {"rules/network/dns/net_dns_susp_txt_exec_strings.yml", {0}},
	    {"rules/windows/dns_query/dns_query_win_susp_external_ip_lookup.yml", {479, 482}},
	    {"rules/windows/dns_query/dns_query_win_mega_nz.yml", {486}},
	    {"rules/windows/dns_query/dns_query_win_tor_onion_domain_query.yml", {489}},
	    {"rules/windows/dns_query/dns_query_win_anonymfiles_com.yml", {0}},
	    {"rules/windows/dns_query/dns_query_win_ufile_io_query.yml", {0}},
	};
	for (size_t i = 0; i < sizeof(exp) / sizeof(exp[0]); i++) {
		snprintf(path, sizeof(path), "%s/sigma/%s", data_dir(), exp[i].rule);
		size_t n;
		char *t = test_slurp(path, &n);
		assert_non_null(t);
		free_rules();
		if (rule_compile(t, n, path, &R, &NR, ERR, sizeof(ERR)))
			fail_msg("%s: %s", path, ERR);
		free(t);
		size_t k = 0;
		for (size_t e = 0; e < l.n; e++) {
			if (!rule_matches(R[0], l.ev[e]))
				continue;
			if (k >= 3 || exp[i].rows[k] != ids[e])
				fail_msg("%s: unexpected match on row %ld", exp[i].rule, ids[e]);
			k++;
		}
		if (k < 3 && exp[i].rows[k])
			fail_msg("%s: row %ld not matched", exp[i].rule, exp[i].rows[k]);
	}
	free(l.ev);
}

/* ---- loghub syslog samples ---- */

/* "Mmm dd HH:MM:SS host prog[pid]: msg" -> app prog, message msg, raw the line. */
static void load_syslog(const char *path, struct evlist *out)
{
	char *text = test_slurp(path, NULL);
	assert_non_null(text);
	char *save = NULL;
	for (char *line = strtok_r(text, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *host;
		char prog[128] = "";
		const char *msg = line;
		if (strlen(line) > 16) {
			char *tag = line + 16;
			host = strchr(tag, ' ');
			if (host) {
				char *colon = strstr(host + 1, ": ");
				char *br = strchr(host + 1, '[');
				char *end = colon;
				if (br && colon && br < colon)
					end = br;
				if (end) {
					snprintf(prog, sizeof(prog), "%.*s", (int)(end - host - 1),
						 host + 1);
					msg = colon ? colon + 2 : line;
				}
			}
		}
		json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "os_type", "LINUX", "app", prog,
				       "message", msg, "raw_message", line, "source_host", "host");
		struct event *e = arena_alloc(&A, sizeof(*e));
		char err[256];
		if (event_from_json(e, ev, &A, 1700000000000000LL, err, sizeof(err)))
			fail_msg("%s: %s", path, err);
		json_decref(ev);
		evlist_add(out, e);
	}
	free(text);
}

static void test_loghub_linux(void **state)
{
	(void)state;
	char path[4096];
	struct evlist ssh = {0}, lin = {0};
	snprintf(path, sizeof(path), "%s/loghub/OpenSSH/OpenSSH_2k.log", data_dir());
	FILE *f = fopen(path, "rb");
	if (!f)
		skip();
	fclose(f);
	load_syslog(path, &ssh);
	snprintf(path, sizeof(path), "%s/loghub/Linux/Linux_2k.log", data_dir());
	load_syslog(path, &lin);
	assert_int_equal(ssh.n, 2000);
	assert_int_equal(lin.n, 2000);
	/* No SigmaHQ Linux rule matches these samples: an independent check (each keyword as a
	 * case-insensitive regex, '*' as '.*', over every line, in Python) finds none of their
	 * keywords in either file, except lnx_file_copy's filter ('@', ':') whose 'tools'
	 * selection ('scp ', 'rsync ', 'sftp ') never occurs. */
	struct pathlist rl = {0};
	snprintf(path, sizeof(path), "%s/sigma/rules/linux", data_dir());
	walk(path, ".yml", &rl);
	snprintf(path, sizeof(path), "%s/sigma/rules-emerging-threats", data_dir());
	walk(path, ".yml", &rl);
	assert_int_equal(rl.n, 26);
	for (size_t i = 0; i < rl.n; i++) {
		const char *rel = strstr(rl.p[i], "sigma/") + 6;
		size_t c = count_matches(rel, &ssh) + count_matches(rel, &lin);
		if (c)
			fail_msg("%s: %zu matches on loghub, want 0", rel, c);
	}
	pathlist_free(&rl);
	/* The sshd logsource keeps sshd and sshd(pam_unix) lines and no others (su(pam_unix)
	 * also logs "authentication failure"):
	 *   grep 'sshd(pam_unix)' Linux_2k.log | grep -c 'authentication failure\|check pass'
	 *     -> 605
	 *   grep -ci 'authentication failure\|check pass' OpenSSH_2k.log -> 642 */
	compile_ok("title: t\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n"
		   "  k:\n    - 'authentication failure'\n    - 'check pass'\n  condition: k\n");
	size_t c = 0;
	for (size_t i = 0; i < lin.n; i++)
		c += rule_matches(R[0], lin.ev[i]);
	assert_int_equal(c, 605);
	c = 0;
	for (size_t i = 0; i < ssh.n; i++)
		c += rule_matches(R[0], ssh.ev[i]);
	assert_int_equal(c, 642);
	free(ssh.ev);
	free(lin.ev);
}

/* The event fields a rule may name, by canonical name or alias; other names are data keys
 * (the ingest-only aliases and the fields the hub sets among them). */
static void test_event_field_names(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int evf;
	} want[] = {
	    {"event_id", EVF_EVENT_ID},
	    {"timestamp", EVF_TIMESTAMP},
	    {"ts", EVF_TIMESTAMP},
	    {"received_at", EVF_RECEIVED_AT},
	    {"source_host", EVF_SOURCE_HOST},
	    {"host", EVF_SOURCE_HOST},
	    {"os_type", EVF_OS_TYPE},
	    {"event_type", EVF_EVENT_TYPE},
	    {"severity", EVF_SEVERITY},
	    {"level", EVF_LEVEL},
	    {"source_ip", EVF_SOURCE_IP},
	    {"src_ip", EVF_SOURCE_IP},
	    {"user", EVF_USER},
	    {"user_id", EVF_USER},
	    {"app", EVF_APP},
	    {"message", EVF_MESSAGE},
	    {"raw_message", EVF_RAW_MESSAGE},
	    {"request_id", EVF_REQUEST_ID},
	    {"user_agent", EVF_USER_AGENT},
	    {"http_method", EVF_HTTP_METHOD},
	    {"http_path", EVF_HTTP_PATH},
	    {"http_status", EVF_HTTP_STATUS},
	    {"latency_ms", EVF_LATENCY_MS},
	    {"error_type", EVF_ERROR_TYPE},
	    {"source", EVF_SOURCE},
	    {"source_file", EVF_SOURCE_FILE},
	    {"source_offset", EVF_SOURCE_OFFSET},
	    {"@timestamp", EVF_DATA},
	    {"time", EVF_DATA},
	    {"hostname", EVF_DATA},
	    {"ip", EVF_DATA},
	    {"client_ip", EVF_DATA},
	    {"username", EVF_DATA},
	    {"msg", EVF_DATA},
	    {"raw", EVF_DATA},
	    {"data", EVF_DATA},
	    {"flags", EVF_DATA},
	    {"truncated", EVF_DATA},
	    {"ingest_key", EVF_DATA},
	    {"ingest_key_id", EVF_DATA},
	    {"Timestamp", EVF_DATA},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (evf_lookup(want[i].name, strlen(want[i].name)) != want[i].evf)
			fail_msg("%s: %d, want %d", want[i].name,
				 evf_lookup(want[i].name, strlen(want[i].name)), want[i].evf);
	}
	for (int evf = 0; evf < EVF_COUNT; evf++) {
		const char *name = evf_name(evf);
		assert_int_equal(evf_lookup(name, strlen(name)), evf);
	}
	assert_string_equal(evf_name(EVF_TIMESTAMP), "timestamp");
	assert_string_equal(evf_name(EVF_SOURCE_IP), "source_ip");
	assert_string_equal(evf_name(EVF_DATA), "data");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_event_field_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_equality_case_and_lists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wildcards_and_escapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_string_modifiers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_re, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cidr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_encodings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_windash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numeric, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_null_exists_fieldref, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keywords, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_data_access, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conditions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prefilter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sigmahq_corpus, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sigmahq_regression, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_evtx_exports, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pihole_dns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loghub_linux, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
