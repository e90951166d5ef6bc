/* test_sigma_filters.c — Sigma filters (meta filter documents): applied by id, by name and to
 * every rule of their logsource; their condition ANDed to the rule's; never to rules outside
 * their logsource or a correlation; no hits of their own; refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "detect/detect.h"
#include "detect/sigma_int.h"

static struct arena A;
static struct detector *D;
static char ERR[1024];
static char HITS[4096]; /* ids of the rules that hit, space separated */

static void sink(void *ctx, const struct detect_hit *h)
{
	(void)ctx;
	size_t n = strlen(HITS);
	snprintf(HITS + n, sizeof(HITS) - n, "%s ", h->rule->id);
}

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	struct detector_config dc = {NULL, 0};
	assert_int_equal(detector_open(&D, &dc), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	detector_close(D);
	arena_release(&A);
	return 0;
}

#define PROC "logsource:\n  category: process_creation\n  product: windows\n"

/* Two process rules (one named), a registry rule, then the filters given. */
static int load(const char *filters)
{
	char y[8192];
	snprintf(y, sizeof(y),
		 "title: cmd\nid: r-cmd\n" PROC
		 "detection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n"
		 "  condition: sel\n---\n"
		 "title: rar\nid: r-rar\nname: rar_use\n" PROC
		 "detection:\n  sel:\n    Image|endswith: '\\rar.exe'\n  condition: sel\n---\n"
		 "title: reg\nid: r-reg\nlogsource:\n  category: registry_set\n  product: windows\n"
		 "detection:\n  sel:\n    TargetObject|contains: Run\n  condition: sel\n%s",
		 filters);
	struct rule **r = NULL;
	size_t n = 0;
	int rc = rule_compile(y, strlen(y), "test", &r, &n, ERR, sizeof(ERR));
	if (rc)
		return rc;
	return detector_set_rules(D, r, n, ERR, sizeof(ERR));
}

/* Hits for a Sysmon event of this EventID and data fields. */
static const char *ev(int eid, const char *fields)
{
	char j[1024];
	snprintf(j, sizeof(j),
		 "{\"os_type\":\"WINDOWS\",\"event_type\":\"x\",\"data\":{\"Channel\":"
		 "\"Microsoft-Windows-Sysmon/Operational\",\"EventID\":%d,%s}}",
		 eid, fields);
	json_error_t je;
	json_t *o = json_loads(j, 0, &je);
	if (!o)
		fail_msg("bad JSON %s: %s", j, je.text);
	struct event e;
	char err[256];
	arena_reset(&A);
	assert_int_equal(event_from_json(&e, o, &A, 1700000000000000LL, err, sizeof(err)), 0);
	json_decref(o);
	HITS[0] = '\0';
	detector_eval(D, &e, sink, NULL);
	return HITS;
}

static void test_filter_by_id_and_name(void **state)
{
	(void)state;
	assert_int_equal(load("---\ntitle: admins\nid: f-adm\n" PROC "filter:\n  rules:\n"
			      "    - r-cmd\n    - rar_use\n  sel:\n    User|startswith: adm_\n"
			      "  condition: not sel\n"),
			 0);
	assert_string_equal(ev(1, "\"Image\":\"C:\\\\cmd.exe\",\"User\":\"bob\""), "r-cmd ");
	assert_string_equal(ev(1, "\"Image\":\"C:\\\\cmd.exe\",\"User\":\"ADM_joe\""), "");
	assert_string_equal(ev(1, "\"Image\":\"C:\\\\rar.exe\",\"User\":\"adm_joe\""), "");
	assert_string_equal(ev(1, "\"Image\":\"C:\\\\rar.exe\""), "r-rar "); /* no User */
	/* outside the filter's logsource: untouched */
	assert_string_equal(ev(13, "\"TargetObject\":\"HKLM\\\\Run\",\"User\":\"adm_x\""),
			    "r-reg ");
	/* the filter raises nothing of its own, and says what it is */
	struct detector_stats st;
	detector_get_stats(D, &st);
	assert_int_equal(st.detection_rules, 3);
}

static void test_filter_any_and_condition(void **state)
{
	(void)state;
	/* rules: any — every rule whose logsource is within the filter's; the condition is
	 * ANDed as written (here: only events of one host pass) */
	assert_int_equal(load("---\ntitle: lab only\nlogsource:\n  product: windows\nfilter:\n"
			      "  rules: any\n  lab:\n    Computer: lab-1\n  condition: lab\n"),
			 0);
	assert_string_equal(ev(1, "\"Image\":\"x\\\\cmd.exe\",\"Computer\":\"LAB-1\""), "r-cmd ");
	assert_string_equal(ev(1, "\"Image\":\"x\\\\cmd.exe\",\"Computer\":\"prod\""), "");
	assert_string_equal(ev(13, "\"TargetObject\":\"Run\",\"Computer\":\"prod\""), "");
	assert_string_equal(ev(13, "\"TargetObject\":\"Run\",\"Computer\":\"lab-1\""), "r-reg ");
	/* an empty list is any too; two filters both apply */
	assert_int_equal(load("---\ntitle: f1\n" PROC "filter:\n  rules: []\n  s:\n    User: a\n"
			      "  condition: not s\n---\ntitle: f2\n" PROC
			      "filter:\n  rules: r-cmd\n  s:\n    User: b\n  condition: not s\n"),
			 0);
	assert_string_equal(ev(1, "\"Image\":\"x\\\\cmd.exe\",\"User\":\"a\""), "");
	assert_string_equal(ev(1, "\"Image\":\"x\\\\cmd.exe\",\"User\":\"b\""), "");
	assert_string_equal(ev(1, "\"Image\":\"x\\\\rar.exe\",\"User\":\"b\""), "r-rar ");
	assert_string_equal(ev(1, "\"Image\":\"x\\\\cmd.exe\",\"User\":\"c\""), "r-cmd ");
	/* naming a rule that is not in the set, or a rule outside its logsource: applies to none */
	assert_int_equal(load("---\ntitle: f3\n" PROC "filter:\n  rules: [nosuch]\n  s:\n"
			      "    User: a\n  condition: not s\n---\ntitle: f4\nlogsource:\n"
			      "  category: registry_set\n  product: windows\n"
			      "filter:\n  rules: r-cmd\n  s:\n    User: a\n  condition: not s\n"),
			 0);
	assert_string_equal(ev(1, "\"Image\":\"x\\\\cmd.exe\",\"User\":\"a\""), "r-cmd ");
}

static void test_filter_refusals(void **state)
{
	(void)state;
	struct rule **r = NULL;
	size_t n = 0;
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"title: f\n" PROC "filter:\n  s:\n    User: a\n  condition: not s\n", "needs 'rules'"},
	    {"title: f\n" PROC "filter:\n  rules: {a: b}\n  s:\n    User: a\n  condition: not s\n",
	     "rule ids or names"},
	    {"title: f\n" PROC "filter:\n  rules: any\n  s:\n    User: a\n", "no condition"},
	    {"title: f\nfilter:\n  rules: any\n  s:\n    User: a\n  condition: s\n",
	     "needs a logsource"},
	    {"title: f\n" PROC "filter:\n  rules: any\n  condition: s\n"
	     "detection:\n  s:\n    a: b\n  condition: s\n",
	     "one of detection, correlation or filter"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = rule_compile(cases[i].text, strlen(cases[i].text), "t", &r, &n, ERR,
				      sizeof(ERR));
		if (rc == 0 || !strstr(ERR, cases[i].want))
			fail_msg("case %zu: rc %d, error '%s', want '%s'", i, rc, ERR,
				 cases[i].want);
	}
	/* a filter compiles alone and says it is one */
	const char *ok = "title: f\n" PROC "filter:\n  rules: any\n  s:\n    User: a\n"
			 "  condition: not s\n";
	assert_int_equal(rule_compile(ok, strlen(ok), "t", &r, &n, ERR, sizeof(ERR)), 0);
	assert_int_equal(rule_get_info(r[0])->kind, RULE_FILTER);
	assert_false(rule_get_info(r[0])->generates);
	rule_free(r[0]);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_filter_by_id_and_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_filter_any_and_condition, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_filter_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
