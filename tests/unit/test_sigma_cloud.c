/* test_sigma_cloud.c — logsources of services that send JSON (AWS CloudTrail, Azure sign-in,
 * audit and activity logs, GCP audit, Okta, Microsoft 365, GitHub, Kubernetes audit), web
 * servers, proxies and Zeek: a realistic record per service (tests/samples/cloud/, written
 * from the services' documentation) fires the rule with SigmaHQ's detection for it, and only
 * when app says so; Linux and macOS categories minisiem cannot feed say so. */
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

#include "detect/detect.h"

#define SAMPLES "tests/samples/cloud"

static struct arena A;
static struct rule **R;
static size_t NR;
static char ERR[1024];

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
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free_rules();
	arena_release(&A);
	return 0;
}

static void compile(const char *text)
{
	free_rules();
	if (rule_compile(text, strlen(text), "test", &R, &NR, ERR, sizeof(ERR)))
		fail_msg("compile: %s\n%s", ERR, text);
}

static bool match_json(json_t *j)
{
	struct event e;
	char err[256];
	arena_reset(&A);
	if (event_from_json(&e, j, &A, 1772359200000000LL, err, sizeof(err)))
		fail_msg("event: %s", err);
	return rule_matches(R[0], &e);
}

static bool match_text(const char *json)
{
	json_error_t je;
	json_t *j = json_loads(json, 0, &je);
	if (!j)
		fail_msg("bad JSON: %s\n%s", je.text, json);
	if (!json_object_get(j, "message")) /* an event needs one */
		json_object_set_new(j, "message", json_string("m"));
	bool r = match_json(j);
	json_decref(j);
	return r;
}

static void test_services(void **state)
{
	(void)state;
	static const char *svc[] = {"aws-cloudtrail",	  "azure-signinlogs", "azure-auditlogs",
				    "azure-activitylogs", "gcp-audit",	      "okta",
				    "m365-audit",	  "github-audit",     "kubernetes-audit"};
	char path[256];
	for (size_t i = 0; i < sizeof(svc) / sizeof(svc[0]); i++) {
		snprintf(path, sizeof(path), SAMPLES "/%s.yml", svc[i]);
		char *rule = test_slurp(path, NULL);
		if (!rule)
			fail_msg("missing %s (run from the repository)", path);
		compile(rule);
		free(rule);
		snprintf(path, sizeof(path), SAMPLES "/%s.json", svc[i]);
		json_error_t je;
		json_t *j = json_load_file(path, 0, &je);
		if (!j)
			fail_msg("%s: %s", path, je.text);
		if (!match_json(j))
			fail_msg("%s: the sample does not fire its rule", svc[i]);
		/* the same record from another service (or none) is not this logsource */
		json_object_set_new(j, "app", json_string("some-other-app"));
		if (match_json(j))
			fail_msg("%s: fires for app some-other-app", svc[i]);
		json_object_del(j, "app");
		if (match_json(j))
			fail_msg("%s: fires without app", svc[i]);
		/* app is compared as Sigma compares strings: case-insensitively */
		char up[64];
		snprintf(up, sizeof(up), "%s", svc[i]);
		for (char *p = up; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		json_object_set_new(j, "app", json_string(up));
		if (!match_json(j))
			fail_msg("%s: app %s does not select it", svc[i], up);
		json_decref(j);
	}
}

/* What the mapping adds for these services: names as other exports write them, paths through
 * arrays, contains in an object's text. */
static void test_service_fields(void **state)
{
	(void)state;
	/* Log Analytics' ResultType is the Event Hub export's resultType */
	compile("title: t\nlogsource:\n  product: azure\n  service: signinlogs\ndetection:\n"
		"  s:\n    ResultType: 50126\n  condition: s\n");
	assert_true(
	    match_text("{\"app\":\"azure-signinlogs\",\"data\":{\"resultType\":\"50126\"}}"));
	assert_true(match_text("{\"app\":\"azure-signinlogs\",\"data\":{\"ResultType\":50126}}"));
	assert_false(match_text("{\"app\":\"azure-signinlogs\",\"data\":{\"resultType\":\"0\"}}"));
	/* GCP: the rules' data.protoPayload... is the LogEntry's protoPayload...; through the
	 * authorizationInfo array */
	compile("title: t\nlogsource:\n  product: gcp\n  service: gcp.audit\ndetection:\n"
		"  s:\n    gcp.audit.method_name: 'io.k8s.core.v*.secrets.delete'\n"
		"  condition: s\n");
	assert_true(match_text("{\"app\":\"gcp-audit\",\"data\":{\"protoPayload\":{\"methodName\":"
			       "\"io.k8s.core.v1.secrets.delete\"}}}"));
	compile("title: t\nlogsource:\n  product: gcp\n  service: gcp.audit\ndetection:\n"
		"  s:\n    data.protoPayload.authorizationInfo.permission: b.delete\n"
		"  condition: s\n");
	assert_true(
	    match_text("{\"app\":\"gcp-audit\",\"data\":{\"protoPayload\":{"
		       "\"authorizationInfo\":[{\"x\":1},{\"permission\":\"b.delete\"}]}}}"));
	/* CloudTrail's address as SigmaHQ's src_ip */
	compile("title: t\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n"
		"  s:\n    src_ip|cidr: 198.51.100.0/24\n  condition: s\n");
	assert_true(match_text(
	    "{\"app\":\"aws-cloudtrail\",\"data\":{\"sourceIPAddress\":\"198.51.100.23\"}}"));
	assert_false(match_text(
	    "{\"app\":\"aws-cloudtrail\",\"data\":{\"sourceIPAddress\":\"203.0.113.1\"}}"));
	/* contains looks into objects' JSON text; other matchers do not */
	compile("title: t\nlogsource:\n  product: azure\n  service: auditlogs\ndetection:\n"
		"  s:\n    properties.targetResources: Administrator\n  condition: s\n");
	assert_false(match_text("{\"app\":\"azure-auditlogs\",\"data\":{\"properties\":{"
				"\"targetResources\":[{\"a\":\"Administrator\"}]}}}"));
}

static void test_webserver_proxy_zeek(void **state)
{
	(void)state;
	/* an access-log event (the web decoder's, or a JSON application log's fields) */
	compile("title: t\nlogsource:\n  category: webserver\ndetection:\n  s:\n"
		"    cs-method: GET\n    cs-uri-query|contains: '../../etc/passwd'\n"
		"    sc-status: 200\n    c-ip|cidr: 203.0.113.0/24\n"
		"    cs-user-agent|contains: curl\n  condition: s\n");
	const char *hit =
	    "{\"app\":\"nginx\",\"source_ip\":\"203.0.113.5\",\"http_method\":\"GET\","
	    "\"http_path\":\"/download?file=../../etc/passwd\",\"http_status\":200,"
	    "\"user_agent\":\"curl/8.5.0\",\"message\":\"GET /download\"}";
	assert_true(match_text(hit));
	assert_false(
	    match_text("{\"app\":\"nginx\",\"source_ip\":\"203.0.113.5\",\"http_method\":"
		       "\"GET\",\"http_path\":\"/download?file=report.pdf\",\"http_status\":"
		       "200,\"user_agent\":\"curl/8.5.0\",\"message\":\"GET\"}"));
	/* a query the decoder kept apart wins over the path */
	compile("title: t\nlogsource:\n  category: webserver\ndetection:\n  s:\n"
		"    cs-uri-query: 'id=1'\n    cs-uri-stem: /item\n  condition: s\n");
	assert_true(match_text("{\"app\":\"apache\",\"http_method\":\"GET\",\"http_path\":"
			       "\"/item?id=1\",\"message\":\"m\",\"data\":{\"path\":\"/item\","
			       "\"query\":\"id=1\"}}"));
	/* not a web request */
	assert_false(match_text("{\"app\":\"sshd\",\"message\":\"m\",\"data\":{\"path\":\"/item\","
				"\"query\":\"id=1\"}}"));
	compile("title: t\nlogsource:\n  category: proxy\ndetection:\n  s:\n"
		"    c-uri|contains: '/wp-login.php'\n  condition: s\n");
	assert_true(match_text("{\"app\":\"squid\",\"message\":\"m\",\"data\":{\"c-uri\":"
			       "\"http://blog.example/wp-login.php\"}}"));
	/* Zeek's JSON logs: app says which log */
	compile("title: t\nlogsource:\n  product: zeek\n  service: dns\ndetection:\n  s:\n"
		"    query|endswith: .onion\n  condition: s\n");
	assert_true(match_text("{\"app\":\"zeek-dns\",\"message\":\"m\",\"data\":{\"query\":"
			       "\"abc.onion\"}}"));
	assert_false(match_text("{\"app\":\"zeek-http\",\"message\":\"m\",\"data\":{\"query\":"
				"\"abc.onion\"}}"));
}

static void test_never_fires(void **state)
{
	(void)state;
	static const char *ls[] = {"category: process_creation\n  product: macos",
				   "category: file_event\n  product: macos"};
	char y[512];
	for (size_t i = 0; i < sizeof(ls) / sizeof(ls[0]); i++) {
		snprintf(y, sizeof(y),
			 "title: t\nlogsource:\n  %s\ndetection:\n  s:\n    Image|endswith: /sh\n"
			 "  condition: s\n",
			 ls[i]);
		compile(y);
		if (!rule_never_fires(R[0]))
			fail_msg("%s: not said to be unable to fire", ls[i]);
	}
	/* Linux ones fire on the records of an audit event put together */
	static const char *lin[] = {"process_creation", "file_event", "network_connection"};
	for (size_t i = 0; i < sizeof(lin) / sizeof(lin[0]); i++) {
		snprintf(y, sizeof(y),
			 "title: t\nlogsource:\n  category: %s\n  product: linux\ndetection:\n"
			 "  s:\n    Image|endswith: /sh\n  condition: s\n",
			 lin[i]);
		compile(y);
		if (rule_never_fires(R[0]))
			fail_msg("%s: said to be unable to fire", lin[i]);
	}
	compile("title: t\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n"
		"  s:\n    eventName: x\n  condition: s\n");
	assert_null(rule_never_fires(R[0]));
}

/* What a rule's logsource needs of a hub's sources, kept as text apart from the rule. */
static void test_source_needs(void **state)
{
	(void)state;
	compile("title: t\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  s:\n"
		"    message|contains: x\n  condition: s\n");
	char *needs = rule_source_needs(R[0]);
	assert_non_null(needs);
	assert_string_equal(needs, "os_type=linux;app=sshd,sshd(*)");
	char text[256];
	source_needs_text(needs, text, sizeof(text));
	assert_string_equal(text, "os_type linux with app sshd or sshd(*)");
	const char *os[] = {"WINDOWS", "linux"}, *apps[] = {"cron", "sshd(pam_unix)"};
	struct seen_sources seen = {os, 2, apps, 2};
	assert_true(source_needs_met(needs, &seen));
	seen.n_apps = 1; /* cron only */
	assert_false(source_needs_met(needs, &seen));
	seen.n_os = 1; /* Windows only */
	seen.n_apps = 2;
	assert_false(source_needs_met(needs, &seen));
	free(needs);
	/* several alternatives (the auth service: programs, or the file it came from): either */
	compile("title: t\nlogsource:\n  product: linux\n  service: auth\ndetection:\n  s:\n"
		"    message|contains: x\n  condition: s\n");
	needs = rule_source_needs(R[0]);
	assert_non_null(needs);
	assert_non_null(strchr(needs, '\n'));
	const char *linux_only[] = {"LINUX"}, *none[] = {"nginx"};
	struct seen_sources s2 = {linux_only, 1, none, 1};
	assert_true(source_needs_met(needs, &s2)); /* the auth.log alternative needs no app */
	free(needs);
	/* Windows: os_type only (the channel is not judged) */
	compile("title: t\nlogsource:\n  category: process_creation\n  product: windows\n"
		"detection:\n  s:\n    Image|endswith: x\n  condition: s\n");
	needs = rule_source_needs(R[0]);
	assert_string_equal(needs, "os_type=windows\nos_type=windows");
	free(needs);
	/* any event: no needs, never a warning */
	compile("title: t\nlogsource:\n  product: minisiem\ndetection:\n  s:\n    a: b\n"
		"  condition: s\n");
	assert_null(rule_source_needs(R[0]));
	assert_true(source_needs_met(NULL, &seen));
	/* cloud services: app alone */
	compile("title: t\nlogsource:\n  product: okta\n  service: okta\ndetection:\n  s:\n"
		"    eventType: x\n  condition: s\n");
	needs = rule_source_needs(R[0]);
	assert_string_equal(needs, "app=okta,okta-system-log");
	const char *okta[] = {"Okta"};
	struct seen_sources s3 = {NULL, 0, okta, 1};
	assert_true(source_needs_met(needs, &s3));
	free(needs);
}

static char HITS[512];
static void hit_sink(void *ctx, const struct detect_hit *h)
{
	(void)ctx;
	size_t n = strlen(HITS);
	snprintf(HITS + n, sizeof(HITS) - n, "%s ", h->rule->id);
}

/* Rules no index can select (web servers, the auth files) run in the detector only for the
 * events their logsource takes, and in rule order. */
static void test_unindexed_rules_in_detector(void **state)
{
	(void)state;
	static const char *set =
	    "title: w1\nid: w1\nlogsource:\n  category: webserver\ndetection:\n  s:\n"
	    "    cs-uri-query|contains: passwd\n  condition: s\n---\n"
	    "title: a1\nid: a1\nlogsource:\n  product: linux\n  service: auth\ndetection:\n"
	    "  s:\n    message|contains: passwd\n  condition: s\n---\n"
	    "title: w2\nid: w2\nlogsource:\n  category: webserver\ndetection:\n  s:\n"
	    "    sc-status: 200\n  condition: s\n---\n"
	    "title: any\nid: any\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	    "    message|contains: passwd\n  condition: s\n";
	struct rule **r;
	size_t n;
	struct detector *d;
	struct detector_config dc = {NULL, 0};
	assert_int_equal(rule_compile(set, strlen(set), "t", &r, &n, ERR, sizeof(ERR)), 0);
	assert_int_equal(detector_open(&d, &dc), 0);
	assert_int_equal(detector_set_rules(d, r, n, ERR, sizeof(ERR)), 0);
	static const struct {
		const char *json, *want;
	} c[] = {
	    {"{\"app\":\"nginx\",\"http_method\":\"GET\",\"http_path\":\"/x?f=passwd\","
	     "\"http_status\":200,\"message\":\"GET /x?f=passwd\"}",
	     "w1 w2 any "},
	    {"{\"os_type\":\"LINUX\",\"app\":\"sshd\",\"message\":\"passwd changed\"}", "a1 any "},
	    {"{\"os_type\":\"LINUX\",\"app\":\"cron\",\"source_file\":\"/var/log/auth.log\","
	     "\"message\":\"passwd\"}",
	     "a1 any "},
	    {"{\"app\":\"other\",\"message\":\"passwd\",\"http_status\":200}", "any "},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		json_error_t je;
		json_t *j = json_loads(c[i].json, 0, &je);
		struct event e;
		char err[256];
		arena_reset(&A);
		assert_int_equal(event_from_json(&e, j, &A, 1772359200000000LL, err, sizeof(err)),
				 0);
		json_decref(j);
		HITS[0] = '\0';
		detector_eval(d, &e, hit_sink, NULL);
		if (strcmp(HITS, c[i].want))
			fail_msg("event %zu: hits '%s', want '%s'", i, HITS, c[i].want);
	}
	detector_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_services, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_service_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_webserver_proxy_zeek, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_never_fires, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_source_needs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unindexed_rules_in_detector, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
