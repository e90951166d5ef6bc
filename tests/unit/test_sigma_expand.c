/* test_sigma_expand.c — the `expand` modifier: placeholders replaced by the values of a
 * placeholder file, combined with other modifiers and in keywords; unknown or empty
 * placeholders refused; a bad placeholder file refused. */
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
#include "detect/sigma_int.h"

static struct arena A;
static struct rule **R;
static size_t NR;
static char ERR[1024];

static const char PH[] = "Administrators: [adm_*, Administrator]\n"
			 "'%dc_ip_addresses%': 192.0.2.2\n"
			 "DC-MACHINE-NAME: ['DC01$', 'DC02$']\n"
			 "userdomain: [CORP, LAB]\n"
			 "empty: []\n";

static void free_rules(void)
{
	for (size_t i = 0; i < NR; i++)
		rule_free(R[i]);
	free(R);
	R = NULL;
	NR = 0;
}

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	assert_int_equal(sigma_placeholders_set(PH, strlen(PH), ERR, sizeof(ERR)), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free_rules();
	arena_release(&A);
	return 0;
}

static int compile_sel(const char *body)
{
	char y[2048];
	snprintf(y, sizeof(y),
		 "title: t\nlogsource:\n  product: minisiem\ndetection:\n  sel:\n%s\n"
		 "  condition: sel\n",
		 body);
	free_rules();
	return rule_compile(y, strlen(y), "test", &R, &NR, ERR, sizeof(ERR));
}

static bool m(const char *json)
{
	json_error_t je;
	json_t *j = json_loads(json, 0, &je);
	if (!j)
		fail_msg("bad test JSON %s: %s", json, je.text);
	struct event ev;
	char err[256];
	arena_reset(&A);
	int rc = event_from_json(&ev, j, &A, 1700000000000000LL, err, sizeof(err));
	json_decref(j);
	if (rc)
		fail_msg("event %s: %s", json, err);
	return rule_matches(R[0], &ev);
}

static void test_expand_values(void **state)
{
	(void)state;
	/* a placeholder's values are Sigma strings: wildcards work */
	assert_int_equal(compile_sel("    TargetUserName|expand: '%Administrators%'"), 0);
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"TargetUserName\":\"ADM_bob\"}}"));
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"TargetUserName\":\"administrator\"}}"));
	assert_false(m("{\"event_type\":\"x\",\"data\":{\"TargetUserName\":\"bob\"}}"));
	/* a name written with its '%' in the file; dashes in names; a list of values */
	assert_int_equal(compile_sel("    IpAddress|expand: '%dc_ip_addresses%'\n"
				     "    TargetUserName|expand:\n"
				     "      - '%DC-MACHINE-NAME%'\n"
				     "      - 'svc'"),
			 0);
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"IpAddress\":\"192.0.2.2\","
		      "\"TargetUserName\":\"dc02$\"}}"));
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"IpAddress\":\"192.0.2.2\","
		      "\"TargetUserName\":\"svc\"}}"));
	assert_false(m("{\"event_type\":\"x\",\"data\":{\"IpAddress\":\"192.0.2.3\","
		       "\"TargetUserName\":\"dc02$\"}}"));
	/* inside a longer value, with contains; two placeholders give every combination */
	assert_int_equal(
	    compile_sel("    CommandLine|contains|expand: 'net user /domain:%userdomain%'"), 0);
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"c:\\\\net user "
		      "/domain:lab x\"}}"));
	assert_false(m("{\"event_type\":\"x\",\"data\":{\"CommandLine\":\"net user /domain:\"}}"));
	assert_int_equal(compile_sel("    f|expand: '%userdomain%\\\\%DC-MACHINE-NAME%'"), 0);
	assert_int_equal(R[0]->var[0].det.sel[0].alt[0].fc[0].nval, 4);
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":\"LAB\\\\DC01$\"}}"));
	/* '%%', and a value without a placeholder, stay as written */
	assert_int_equal(compile_sel("    f|expand: ['100%%', '50%']"), 0);
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":\"100%%\"}}"));
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":\"50%\"}}"));
	/* keywords */
	assert_int_equal(compile_sel("    '|expand': ['login as %Administrators%']"), 0);
	assert_true(m("{\"message\":\"a login as administrator now\"}"));
	assert_false(m("{\"message\":\"a login as bob now\"}"));
}

static void test_expand_refusals(void **state)
{
	(void)state;
	assert_int_not_equal(compile_sel("    f|expand: '%nosuch%'"), 0);
	assert_non_null(strstr(ERR, "unsupported: placeholder '%nosuch%' without values "
				    "(--sigma-placeholders FILE)"));
	assert_int_not_equal(compile_sel("    f|expand: '%empty%'"), 0);
	assert_non_null(strstr(ERR, "empty value list"));
	/* without expand a placeholder is text */
	assert_int_equal(compile_sel("    f: '%nosuch%'"), 0);
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":\"%nosuch%\"}}"));
	/* bad files */
	assert_int_not_equal(sigma_placeholders_set("[a, b]", 6, ERR, sizeof(ERR)), 0);
	assert_non_null(strstr(ERR, "a map of names"));
	assert_int_not_equal(sigma_placeholders_set("a: {b: c}", 9, ERR, sizeof(ERR)), 0);
	assert_non_null(strstr(ERR, "'a' must be a value or a list"));
	char path[] = "/tmp/test_sigma_expand_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x: [1, 2\n", 9), 9);
	close(fd);
	assert_int_not_equal(sigma_placeholders_load(path, ERR, sizeof(ERR)), 0);
	assert_non_null(strstr(ERR, path));
	unlink(path);
	assert_int_not_equal(sigma_placeholders_load(path, ERR, sizeof(ERR)), 0);
	assert_non_null(strstr(ERR, "cannot read"));
	/* the set in force stayed the one of setup */
	assert_int_equal(compile_sel("    f|expand: '%userdomain%'"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_expand_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expand_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
