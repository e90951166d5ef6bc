/* test_detect_alerts.c — what the engine says about each hit: the rules' minisiem: block and
 * its refusals, group keys and the default grouping, summaries (placeholders, absent fields,
 * caps, hostile values), new events per hit, new-value rules (memory, eviction, expiry, the
 * state file, swaps), rule info (tags, references, used_by) and per-rule match counts. */
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

#include "core/err.h"
#include "core/event.h"
#include "core/hash.h"
#include "detect/detect.h"
#include "detect/sigma_int.h"

#define T0 1740823200000000LL /* 2025-03-01T10:00:00Z */
#define SEC 1000000LL
#define DAY (86400 * SEC)
#define MAXHITS 128

struct hit {
	char rule[64], key[1024], summary[SUMMARY_MAX + 1];
	int64_t count, new_events;
};

static struct detector *D;
static struct arena A;
static struct hit H[MAXHITS];
static int NH;
static char STATE[256];
static char ERR[1024];

static void sink(void *ctx, const struct detect_hit *h)
{
	(void)ctx;
	assert_true(NH < MAXHITS);
	struct hit *x = &H[NH++];
	snprintf(x->rule, sizeof(x->rule), "%s", h->rule->id);
	snprintf(x->key, sizeof(x->key), "%s", h->group_key);
	assert_non_null(h->summary);
	assert_true(strlen(h->summary) <= SUMMARY_MAX);
	snprintf(x->summary, sizeof(x->summary), "%s", h->summary);
	x->count = h->count;
	x->new_events = h->new_events;
}

static void open_detector(void)
{
	struct detector_config cfg = {STATE[0] ? STATE : NULL, 0};
	assert_int_equal(detector_open(&D, &cfg), 0);
}

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	NH = 0;
	STATE[0] = '\0';
	D = NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	detector_close(D);
	D = NULL;
	arena_release(&A);
	if (STATE[0]) {
		unlink(STATE);
		char tmp[300];
		snprintf(tmp, sizeof(tmp), "%s.tmp", STATE);
		unlink(tmp);
	}
	return 0;
}

static void rules(const char *yaml)
{
	struct rule **r;
	size_t n;
	if (rule_compile(yaml, strlen(yaml), "test", &r, &n, ERR, sizeof(ERR)))
		fail_msg("compile: %s\n%s", ERR, yaml);
	if (detector_set_rules(D, r, n, ERR, sizeof(ERR)))
		fail_msg("set_rules: %s", ERR);
}

/* One event at T0 + ms milliseconds; body is the rest of a JSON object. */
static void feed(int64_t ms, const char *body)
{
	char js[8192], ts[32];
	ts_format(T0 + ms * 1000, ts);
	snprintf(js, sizeof(js), "{\"timestamp\":\"%s\",%s}", ts, body);
	json_error_t je;
	json_t *j = json_loads(js, JSON_ALLOW_NUL, &je);
	if (!j)
		fail_msg("bad JSON %s: %s", js, je.text);
	struct event ev;
	char err[256];
	arena_reset(&A);
	/* received a year later: event time drives the windows, arrival does not matter */
	if (event_from_json(&ev, j, &A, T0 + 400 * DAY, err, sizeof(err)))
		fail_msg("%s: %s", js, err);
	json_decref(j);
	detector_eval(D, &ev, sink, NULL);
}

static void refused(const char *yaml, const char *want)
{
	struct rule **r = NULL;
	size_t n = 0;
	int rc = rule_compile(yaml, strlen(yaml), "test", &r, &n, ERR, sizeof(ERR));
	if (rc == 0) {
		for (size_t i = 0; i < n; i++)
			rule_free(r[i]);
		free(r);
		fail_msg("compiled, want refusal '%s':\n%s", want, yaml);
	}
	assert_int_equal(rc, SIEM_ESCHEMA);
	if (!strstr(ERR, want))
		fail_msg("error \"%s\" lacks \"%s\"", ERR, want);
}

/* A detection rule over our events with this selection body and minisiem: block. */
static void detection(char *out, size_t n, const char *id, const char *sel, const char *block)
{
	snprintf(out, n,
		 "title: %s rule\nid: %s\nlogsource:\n  product: minisiem\ndetection:\n  s:\n%s\n"
		 "  condition: s\n%s",
		 id, id, sel, block);
}

static const struct rule_info *info_of(const char *yaml, struct rule ***keep, size_t *n)
{
	if (rule_compile(yaml, strlen(yaml), "test", keep, n, ERR, sizeof(ERR)))
		fail_msg("compile: %s", ERR);
	return rule_get_info((*keep)[0]);
}

static void free_rules(struct rule **r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rule_free(r[i]);
	free(r);
}

/* ---- the block ---- */

static void test_block_refusals(void **state)
{
	(void)state;
	static const char *det = "title: Bad\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
				 "    event_type: X\n  condition: s\n";
	static const struct {
		const char *block, *want;
	} t[] = {
	    {"minisiem: [a]\n", "minisiem must be a map (group-by, summary, new-value"},
	    {"minisiem:\n  groupby: [user]\n",
	     "line 9: minisiem: unknown key 'groupby' (group-by, summary, new-value, "
	     "new-value-days, channels)"},
	    {"minisiem:\n  channels: ['ops mail']\n", "channel name 'ops mail' is not one of"},
	    {"minisiem:\n  channels: [a, a]\n", "minisiem: channels lists 'a' twice"},
	    {"minisiem:\n  group-by:\n    a: b\n", "minisiem: group-by must be a list of strings"},
	    {"minisiem:\n  group-by: [[a]]\n", "minisiem: group-by must be a list of strings"},
	    {"minisiem:\n  group-by: [user, user]\n", "minisiem: group-by lists 'user' twice"},
	    {"minisiem:\n  group-by: ['']\n", "minisiem: group-by has an empty name"},
	    {"minisiem:\n  group-by: ['a,b']\n", "has a character a field name cannot have"},
	    {"minisiem:\n  group-by: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q]\n",
	     "more than 16 fields"},
	    {"minisiem:\n  summary: [a]\n", "minisiem: summary must be a string"},
	    {"minisiem:\n  summary: ''\n", "minisiem: summary is empty"},
	    {"minisiem:\n  summary: 'a {user'\n", "'{' without '}'"},
	    {"minisiem:\n  summary: 'a user}'\n", "'}' without '{'"},
	    {"minisiem:\n  summary: 'a {} b'\n", "placeholder '{}' names no field"},
	    {"minisiem:\n  summary: '{window}'\n", "'{window}' is for correlation rules"},
	    {"minisiem:\n  summary: '{values}'\n",
	     "'{values}' is for value_count and value_* correlations"},
	    {"minisiem:\n  new-value: []\n", "minisiem: new-value needs a field"},
	    {"minisiem:\n  new-value-days: 3\n", "new-value-days without new-value"},
	    {"minisiem:\n  new-value: [user]\n  new-value-days: 0\n", "1 to 3650"},
	    {"minisiem:\n  new-value: [user]\n  new-value-days: 5000\n", "1 to 3650"},
	    {"minisiem:\n  new-value: [user]\n  new-value-days: '7'\n", "whole number of days"},
	    {"minisiem:\n  new-value: [user]\n  new-value-days: 1.5\n", "whole number of days"},
	    {"minisiem:\n  summary: a\n  summary: b\n", "'summary' given twice"},
	};
	char y[2048];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(y, sizeof(y), "%s%s", det, t[i].block);
		refused(y, t[i].want);
		/* the error names the rule and a line, as every compile error does */
		if (strncmp(ERR, "rule 'Bad' (document 1): line ", 30))
			fail_msg("error \"%s\" does not name the rule and line", ERR);
	}
	/* correlations group by their own group-by and have no new-value */
	static const char *corr =
	    "title: C\ncorrelation:\n  type: event_count\n  rules: [b]\n  group-by: [user]\n"
	    "  timespan: 5m\n  condition:\n    gte: 2\n";
	snprintf(y, sizeof(y), "%sminisiem:\n  group-by: [source_ip]\n", corr);
	refused(y, "a correlation groups by its own group-by");
	snprintf(y, sizeof(y), "%sminisiem:\n  new-value: [user]\n", corr);
	refused(y, "new-value is for detection rules");
	snprintf(y, sizeof(y), "%sminisiem:\n  summary: '{values}'\n", corr);
	refused(y, "'{values}' is for value_count and value_* correlations");
	/* tags and references must be strings */
	refused("title: t\ntags:\n  - a: b\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		"    a: b\n  condition: s\n",
		"'tags' must be a list of strings");
}

static void test_rule_info(void **state)
{
	(void)state;
	struct rule **r;
	size_t n;
	const struct rule_info *in =
	    info_of("title: T\nid: t1\ntags: [attack.t1110, attack.credential-access]\n"
		    "references:\n  - https://example.org/a\n  - https://example.org/b\n"
		    "logsource:\n  product: minisiem\ndetection:\n  s:\n    event_type: X\n"
		    "  condition: s\nminisiem:\n  group-by: [app, data.Computer]\n"
		    "  summary: 'X on {{data.Computer}}: {data.Computer}'\n",
		    &r, &n);
	assert_int_equal(in->n_tags, 2);
	assert_string_equal(in->tags[0], "attack.t1110");
	assert_string_equal(in->tags[1], "attack.credential-access");
	assert_int_equal(in->n_references, 2);
	assert_string_equal(in->references[1], "https://example.org/b");
	assert_int_equal(in->n_group_by, 2);
	assert_string_equal(in->group_by[0], "app");
	assert_string_equal(in->group_by[1], "data.Computer");
	assert_string_equal(in->summary, "X on {{data.Computer}}: {data.Computer}");
	assert_null(in->used_by);
	free_rules(r, n);
	/* no block: no template; a single tag string is one tag */
	in = info_of("title: T\ntags: one\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		     "    event_type: X\n  condition: s\n",
		     &r, &n);
	assert_null(in->summary);
	assert_int_equal(in->n_tags, 1);
	assert_int_equal(in->n_references, 0);
	free_rules(r, n);
	/* a correlation lists its group-by; its helper names it (by id) */
	static const char *pair =
	    "title: C\nid: corr-id\ncorrelation:\n  type: event_count\n"
	    "  rules: [helper]\n  group-by: [source_ip, user]\n  timespan: 5m\n"
	    "  condition:\n    gte: 2\n---\n"
	    "title: H\nname: helper\nlogsource:\n  product: minisiem\n"
	    "detection:\n  s:\n    event_type: X\n  condition: s\n";
	info_of(pair, &r, &n);
	assert_int_equal(n, 2);
	in = rule_get_info(r[0]);
	assert_int_equal(in->n_group_by, 2);
	assert_string_equal(in->group_by[1], "user");
	assert_null(in->used_by);
	assert_string_equal(rule_get_info(r[1])->used_by, "corr-id");
	/* and so it stays in the engine, which works it out again over the whole set */
	open_detector();
	assert_int_equal(detector_set_rules(D, r, n, ERR, sizeof(ERR)), 0);
	rules("title: C2\nid: c2\ngenerate: true\ncorrelation:\n  type: event_count\n"
	      "  rules: [helper]\n  timespan: 5m\n  condition:\n    gte: 2\n---\n"
	      "title: H\nid: h\nname: helper\nlogsource:\n  product: minisiem\n"
	      "detection:\n  s:\n    event_type: X\n  condition: s\n");
	feed(0, "\"event_type\":\"X\"");
	assert_int_equal(NH, 1); /* generate: true: the helper alerts, and is no helper */
	assert_string_equal(H[0].rule, "h");
}

/* ---- grouping ---- */

static void test_group_keys(void **state)
{
	(void)state;
	char a[1024], b[1024], c[1024], all[4096];
	detection(a, sizeof(a), "explicit", "    event_type: ACCOUNT_CREATE",
		  "minisiem:\n  group-by: [source_host, user, data.SubjectUserName]\n");
	detection(b, sizeof(b), "ungrouped", "    event_type: ACCOUNT_CREATE",
		  "minisiem:\n  group-by: []\n");
	detection(c, sizeof(c), "nested", "    event_type: ACCOUNT_CREATE",
		  "minisiem:\n  group-by: [geo.country, win.host]\n");
	snprintf(all, sizeof(all), "%s---\n%s---\n%s", a, b, c);
	open_detector();
	rules(all);
	feed(0, "\"event_type\":\"ACCOUNT_CREATE\",\"source_host\":\"nas\",\"user\":\"svc-backup\","
		"\"data\":{\"SubjectUserName\":\"admin\",\"win\":{\"host\":\"DC1\"}}");
	feed(1, "\"event_type\":\"ACCOUNT_CREATE\",\"user\":\"backdoor\"");
	assert_int_equal(NH, 6);
	assert_string_equal(H[0].key, "source_host=nas,user=svc-backup,data.SubjectUserName=admin");
	assert_string_equal(H[1].key, "");
	assert_string_equal(H[2].key, "geo.country=,win.host=DC1");
	/* absent fields are empty (an event without a host has normalization's "unknown") */
	assert_string_equal(H[3].key, "source_host=unknown,user=backdoor,data.SubjectUserName=");
	assert_string_equal(H[5].key, "geo.country=,win.host=");
	for (int i = 0; i < NH; i++)
		assert_int_equal(H[i].new_events, 1);
	/* a long value is cut at 512 bytes, at a character */
	NH = 0;
	char body[2048] = "\"event_type\":\"ACCOUNT_CREATE\",\"user\":\"";
	size_t k = strlen(body);
	for (int i = 0; i < 300; i++) {
		memcpy(body + k, "\xc3\xa9", 2); /* é: 600 bytes in all */
		k += 2;
	}
	snprintf(body + k, sizeof(body) - k, "\",\"source_host\":\"h\"");
	feed(2, body);
	const char *u = strstr(H[0].key, "user=") + 5;
	assert_int_equal(strcspn(u, ","), 512);
}

static void test_default_grouping(void **state)
{
	(void)state;
	static const struct {
		const char *sel;
		const char *want;
	} t[] = {
	    {"    event_type: LOGIN_FAIL", "source_ip"},
	    {"    event_type: [login_success, X]", "source_ip"}, /* any case, any of a list */
	    {"    event_type: DNS_BLOCK", "source_ip"},
	    {"    src_ip|cidr: 10.0.0.0/8", "source_ip"},
	    {"    event_type: ACCOUNT_CREATE", "source_host,user"},
	    {"    message|contains: LOGIN_FAIL", "source_host,user"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char y[1024], got[128] = "";
		struct rule **r;
		size_t n;
		detection(y, sizeof(y), "d", t[i].sel, "");
		const struct rule_info *in = info_of(y, &r, &n);
		for (size_t g = 0; g < in->n_group_by; g++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", g ? "," : "",
				 in->group_by[g]);
		if (strcmp(got, t[i].want))
			fail_msg("'%s' groups by %s, want %s", t[i].sel, got, t[i].want);
		free_rules(r, n);
	}
	/* in the engine */
	open_detector();
	rules("title: Failed\nid: f\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: LOGIN_FAIL\n  condition: s\n---\n"
	      "title: Created\nid: c\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: ACCOUNT_CREATE\n  condition: s\n");
	feed(0, "\"event_type\":\"LOGIN_FAIL\",\"source_ip\":\"203.0.113.7\",\"user\":\"root\"");
	feed(0, "\"event_type\":\"ACCOUNT_CREATE\",\"source_host\":\"nas\",\"user\":\"svc\"");
	assert_int_equal(NH, 2);
	assert_string_equal(H[0].key, "source_ip=203.0.113.7");
	assert_string_equal(H[1].key, "source_host=nas,user=svc");
	/* the default summary: the title, and the host, user and address the event has */
	assert_string_equal(H[0].summary, "Failed for root from 203.0.113.7");
	assert_string_equal(H[1].summary, "Created on nas for svc");
}

/* ---- summaries ---- */

static void test_summary_placeholders(void **state)
{
	(void)state;
	open_detector();
	rules("title: Account created\nid: ac\nlogsource:\n  product: minisiem\ndetection:\n"
	      "  s:\n    event_type: ACCOUNT_CREATE\n  condition: s\nminisiem:\n"
	      "  group-by: [source_host, user]\n"
	      "  summary: 'Account {user} created on {source_host} by {data.SubjectUserName} "
	      "({SubjectUserName}, {a.b.c}, {user_id}, {severity}) [{rule}] {{{group}}} x{count} "
	      "at {first}/{last}; {nope}'\n");
	feed(1500, "\"event_type\":\"ACCOUNT_CREATE\",\"source_host\":\"nas\",\"user\":"
		   "\"svc-backup\",\"severity\":4,\"data\":{\"SubjectUserName\":\"admin\","
		   "\"a\":{\"b\":{\"c\":42}}}");
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].summary,
			    "Account svc-backup created on nas by admin (admin, 42, svc-backup, 4) "
			    "[Account created] {source_host=nas,user=svc-backup} x1 at "
			    "2025-03-01T10:00:01.500000Z/2025-03-01T10:00:01.500000Z; ?");
	/* absent fields are "?" (normalization gives every event a user, host and severity) */
	NH = 0;
	feed(0, "\"event_type\":\"ACCOUNT_CREATE\"");
	assert_string_equal(H[0].summary,
			    "Account system created on unknown by ? (?, ?, system, 1) [Account "
			    "created] {source_host=unknown,user=system} x1 at "
			    "2025-03-01T10:00:00.000000Z/2025-03-01T10:00:00.000000Z; ?");
	/* the default, without a host: only what the event has */
	NH = 0;
	rules("title: Plain\nid: p\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: ACCOUNT_CREATE\n  condition: s\n");
	feed(0, "\"event_type\":\"ACCOUNT_CREATE\",\"user\":\"bob\"");
	feed(0, "\"event_type\":\"ACCOUNT_CREATE\"");
	assert_string_equal(H[0].summary, "Plain for bob");
	assert_string_equal(H[1].summary, "Plain");
}

static void test_summary_correlations(void **state)
{
	(void)state;
	open_detector();
	/* the brute force of the pack, with raw Windows events counted by IpAddress */
	rules("title: Brute force\nid: bf\ncorrelation:\n  type: event_count\n"
	      "  rules: [fail, winfail]\n  aliases:\n    source_ip:\n      fail: source_ip\n"
	      "      winfail: IpAddress\n  group-by: [source_ip]\n  timespan: 5m\n"
	      "  condition:\n    gte: 3\nminisiem:\n"
	      "  summary: 'Brute force: {count} failed logins from {source_ip} ({geo.country}) "
	      "in {window}, {user}'\n---\n"
	      "title: f\nname: fail\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: LOGIN_FAIL\n  condition: s\n---\n"
	      "title: w\nname: winfail\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    EventID: 4625\n  condition: s\n---\n"
	      "title: Spray\nid: spray\ncorrelation:\n  type: value_count\n  rules: [fail]\n"
	      "  group-by: [source_ip]\n  timespan: 10m\n  condition:\n    field: user\n"
	      "    gte: 12\nminisiem:\n  summary: '{count} accounts from {source_ip}: {values}'\n"
	      "---\n"
	      "title: Default corr\nid: dc\ncorrelation:\n  type: event_count\n  rules: [fail]\n"
	      "  group-by: [user, source_ip]\n  timespan: 5m\n  condition:\n    gte: 2\n");
	feed(0, "\"event_type\":\"LOGIN_FAIL\",\"source_ip\":\"81.2.69.142\",\"user\":\"root\","
		"\"source_host\":\"nas\"");
	feed(1000,
	     "\"event_type\":\"X\",\"data\":{\"EventID\":4625,\"IpAddress\":\"81.2.69.142\"}");
	feed(2000, "\"event_type\":\"LOGIN_FAIL\",\"source_ip\":\"81.2.69.142\",\"user\":\"admin\","
		   "\"source_host\":\"nas\"");
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].rule, "bf");
	assert_string_equal(H[0].summary,
			    "Brute force: 3 failed logins from 81.2.69.142 in 5m, admin");
	/* the group's value when the completing event has it only under an alias */
	NH = 0;
	feed(3000, "\"event_type\":\"LOGIN_FAIL\",\"source_ip\":\"198.51.100.1\",\"user\":\"u\"");
	feed(4000, "\"event_type\":\"LOGIN_FAIL\",\"source_ip\":\"198.51.100.1\",\"user\":\"u\"");
	feed(5000,
	     "\"event_type\":\"X\",\"data\":{\"EventID\":4625,\"IpAddress\":\"198.51.100.1\"}");
	assert_int_equal(NH, 2);
	assert_string_equal(H[0].rule, "dc"); /* the default summary names the group's values */
	assert_string_equal(H[0].summary, "Default corr for u from 198.51.100.1");
	assert_string_equal(H[1].summary,
			    "Brute force: 3 failed logins from 198.51.100.1 in 5m, system");
	/* value_count lists its values, oldest first, at most 10 */
	NH = 0;
	for (int i = 0; i < 12; i++) {
		char b[256];
		snprintf(
		    b, sizeof(b),
		    "\"event_type\":\"LOGIN_FAIL\",\"source_ip\":\"192.0.2.9\",\"user\":\"u%02d\","
		    "\"source_host\":\"h%d\"",
		    i, i);
		feed(10000 + i, b);
	}
	int spray = -1;
	for (int i = 0; i < NH; i++)
		if (!strcmp(H[i].rule, "spray"))
			spray = i;
	assert_true(spray >= 0);
	assert_string_equal(H[spray].summary,
			    "12 accounts from 192.0.2.9: u00, u01, u02, u03, u04, "
			    "u05, u06, u07, u08, u09, \xe2\x80\xa6");
}

static void test_summary_hostile(void **state)
{
	(void)state;
	open_detector();
	rules("title: Hostile\nid: h\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: X\n  condition: s\nminisiem:\n  group-by: []\n"
	      "  summary: \"[{user}] [{data.v}] [{source_host}]\\ttab\"\n");
	/* control characters (C0, DEL, C1), line separators and bidi overrides go */
	feed(0, "\"event_type\":\"X\",\"user\":\"a\\nb\\u0007c\\u007fd\\u0085e\","
		"\"source_host\":\"x\\u2028y\\u202ez\\u2066w\","
		"\"data\":{\"v\":\"p\\r\\nq\\u001b[31m\"}");
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].key, "");
	assert_string_equal(H[0].summary, "[abcde] [pq[31m] [xyzw]tab");
	/* bytes that are not UTF-8 (an event from a raw source) become '?': rendered directly
	 * from a hand-made event */
	{
		struct rule **r;
		size_t n;
		static const char raw[] =
		    "title: Raw\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		    "    event_type: X\n  condition: s\nminisiem:\n"
		    "  summary: '<{user}> <{source_host}>'\n";
		static const char user[] = "a\xff"
					   "b\xc0\x80"
					   "c\xed\xa0\x80"
					   "d\xe2\x82";
		static const char host[] = "\xf4\x90\x80\x80\xf0\x9f\x98\x80";
		if (rule_compile(raw, strlen(raw), "test", &r, &n, ERR, sizeof(ERR)))
			fail_msg("%s", ERR);
		struct event ev;
		memset(&ev, 0, sizeof(ev));
		ev.event_type = (struct sv){"X", 1};
		ev.user = (struct sv){user, sizeof(user) - 1};
		ev.source_host = (struct sv){host, sizeof(host) - 1};
		struct scratch sc;
		assert_int_equal(scratch_init(&sc), 0);
		scratch_begin(&sc, &ev);
		struct hit_view hv = {"", 0, 0, 1, 0, NULL, NULL, NULL};
		char out[SUMMARY_MAX + 1];
		alertspec_summary(r[0], &sc, &hv, out);
		/* overlong, surrogate, truncated and past-U+10FFFF sequences: '?' per byte */
		assert_string_equal(out, "<a?b?\?c?\?\?d?\?> <?\?\?\?\xf0\x9f\x98\x80>");
		json_t *j = json_string(out);
		assert_non_null(j);
		json_decref(j);
		scratch_release(&sc);
		free_rules(r, n);
	}
	/* a long value: 100 bytes of it, then an ellipsis; the whole at most 300 bytes, cut at a
	 * character */
	NH = 0;
	char body[8192], v[1600];
	for (int i = 0; i < 500; i++)
		memcpy(v + 3 * i, "\xe2\x82\xac", 3); /* € */
	v[1500] = '\0';
	snprintf(body, sizeof(body),
		 "\"event_type\":\"X\",\"user\":\"%s\",\"source_host\":\"%s\","
		 "\"data\":{\"v\":\"%s\"}",
		 v, v, v);
	feed(1, body);
	const char *s = H[0].summary;
	size_t n = strlen(s);
	assert_true(n <= SUMMARY_MAX);
	assert_true(n > SUMMARY_MAX - 6);
	/* valid UTF-8, ending with the ellipsis */
	json_t *j = json_string(s);
	assert_non_null(j);
	json_decref(j);
	assert_memory_equal(s + n - 3, "\xe2\x80\xa6", 3);
	/* the first value: 33 euro signs (99 bytes) and the ellipsis */
	assert_memory_equal(s, "[", 1);
	assert_memory_equal(s + 1 + 99, "\xe2\x80\xa6]", 4);
	/* the template itself is capped too */
	NH = 0;
	char y[2048], tpl[1100];
	memset(tpl, 'x', 1000);
	tpl[1000] = '\0';
	snprintf(y, sizeof(y),
		 "title: Long\nid: l\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		 "    event_type: X\n  condition: s\nminisiem:\n  summary: '%s'\n",
		 tpl);
	rules(y);
	feed(2, "\"event_type\":\"X\"");
	assert_int_equal(strlen(H[0].summary), SUMMARY_MAX);
	memset(tpl, 'x', 1025);
	tpl[1025] = '\0';
	snprintf(y, sizeof(y),
		 "title: Long\nid: l\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
		 "    event_type: X\n  condition: s\nminisiem:\n  summary: '%s'\n",
		 tpl);
	refused(y, "summary longer than 1024 bytes");
}

/* ---- counts ---- */

static const char *BF5 = "title: bf\nid: bf\ncorrelation:\n  type: event_count\n  rules: [fail]\n"
			 "  group-by: [source_ip]\n  timespan: 5m\n  condition:\n    gte: 5\n---\n"
			 "title: f\nname: fail\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
			 "    event_type: LOGIN_FAIL\n  condition: s\n";

static void fail_from(int64_t ms, const char *ip, const char *user)
{
	char b[256];
	snprintf(b, sizeof(b), "\"event_type\":\"LOGIN_FAIL\",\"source_ip\":\"%s\",\"user\":\"%s\"",
		 ip, user);
	feed(ms, b);
}

static void test_new_events(void **state)
{
	(void)state;
	open_detector();
	rules(BF5);
	/* 30 failed logins from one address: the hits' new events add up to 30, however many
	 * times the correlation fired */
	for (int i = 0; i < 30; i++)
		fail_from(i * 1000, "203.0.113.9", "root");
	assert_int_equal(NH, 6);
	int64_t sum = 0;
	for (int i = 0; i < NH; i++) {
		assert_int_equal(H[i].count, 5);
		sum += H[i].new_events;
	}
	assert_int_equal(sum, 30);
	/* events that left the window before a hit were in none: 3, a gap, then 5 */
	NH = 0;
	for (int i = 0; i < 3; i++)
		fail_from(100000 + i, "198.51.100.4", "u");
	for (int i = 0; i < 5; i++)
		fail_from(900000 + i, "198.51.100.4", "u");
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].new_events, 5);

	/* value_count: repeats of a value are events of the window too */
	NH = 0;
	rules("title: spray\nid: spray\ncorrelation:\n  type: value_count\n  rules: [fail]\n"
	      "  group-by: [source_ip]\n  timespan: 10m\n  condition:\n    field: user\n"
	      "    gte: 3\n---\n"
	      "title: f\nname: fail\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: LOGIN_FAIL\n  condition: s\n");
	const char *users[] = {"a", "a", "A", "b", "a", "c", /* hit: 6 events, 3 values */
			       "d", "d", "e", "f"};	     /* hit: 4 events */
	for (int i = 0; i < 10; i++)
		fail_from(i * 1000, "10.0.0.1", users[i]);
	assert_int_equal(NH, 2);
	assert_int_equal(H[0].count, 3);
	assert_int_equal(H[0].new_events, 6);
	assert_int_equal(H[1].new_events, 4);

	/* closing windows (an upper bound): every event of the window */
	NH = 0;
	rules("title: few\nid: few\ncorrelation:\n  type: event_count\n  rules: [fail]\n"
	      "  group-by: [source_ip]\n  timespan: 1m\n  condition:\n    gte: 2\n    lte: 4\n"
	      "---\n"
	      "title: f\nname: fail\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: LOGIN_FAIL\n  condition: s\n");
	for (int i = 0; i < 3; i++)
		fail_from(i * 1000, "10.0.0.2", "u");
	fail_from(120000, "10.0.0.2", "u"); /* closes the first window */
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].count, 3);
	assert_int_equal(H[0].new_events, 3);

	/* temporal: one event per rule in the window */
	NH = 0;
	rules("title: tmp\nid: tmp\ncorrelation:\n  type: temporal_ordered\n  rules: [ra, rb]\n"
	      "  group-by: [user]\n  timespan: 1m\n---\n"
	      "title: a\nname: ra\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: A\n  condition: s\n---\n"
	      "title: b\nname: rb\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: B\n  condition: s\n");
	feed(0, "\"event_type\":\"A\",\"user\":\"u\"");
	feed(1000, "\"event_type\":\"B\",\"user\":\"u\"");
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].new_events, 2);
}

/* ---- new-value rules ---- */

static const char *NEWSUDO =
    "title: First sudo\nid: ns\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
    "    event_type: SUDO_ESCALATION\n  condition: s\nminisiem:\n"
    "  group-by: [source_host, user]\n  new-value: [user, source_host]\n"
    "  summary: '{user} used sudo on {source_host}'\n";

static void sudo(int64_t ms, const char *user, const char *host)
{
	char b[256];
	snprintf(b, sizeof(b),
		 "\"event_type\":\"SUDO_ESCALATION\",\"user\":\"%s\",\"source_host\":\"%s\"", user,
		 host);
	feed(ms, b);
}

static void test_new_value(void **state)
{
	(void)state;
	snprintf(STATE, sizeof(STATE), "/tmp/test_detect_alerts_%d.state", (int)getpid());
	unlink(STATE);
	open_detector();
	rules(NEWSUDO);
	for (int i = 0; i < 20; i++) /* one admin, one host, all day */
		sudo(i * 1800 * 1000LL, "alice", "nas");
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].key, "source_host=nas,user=alice");
	assert_string_equal(H[0].summary, "alice used sudo on nas");
	sudo(0, "bob", "homelab"); /* another user on another host */
	sudo(0, "alice", "homelab");
	sudo(0, "ALICE", "Nas"); /* the same, case-insensitively */
	sudo(0, "bob", "homelab");
	assert_int_equal(NH, 3);
	assert_string_equal(H[1].key, "source_host=homelab,user=bob");
	assert_string_equal(H[2].key, "source_host=homelab,user=alice");
	struct detector_stats st;
	detector_get_stats(D, &st);
	assert_int_equal(st.new_values, 3);
	/* matches count every event, new or not */
	/* the memory survives a restart (the state file) */
	assert_int_equal(detector_save(D), 0);
	detector_close(D);
	D = NULL;
	open_detector();
	rules(NEWSUDO);
	detector_get_stats(D, &st);
	assert_int_equal(st.new_values, 3);
	NH = 0;
	sudo(11 * 3600 * 1000LL, "alice", "nas");
	sudo(11 * 3600 * 1000LL, "bob", "homelab");
	assert_int_equal(NH, 0);
	sudo(11 * 3600 * 1000LL, "carol", "nas");
	assert_int_equal(NH, 1);
	/* and a swap that keeps the rule (same id, same fields); other days take effect */
	char y[2048];
	snprintf(y, sizeof(y), "%s  new-value-days: 1\n", NEWSUDO);
	rules(y);
	NH = 0;
	sudo(12 * 3600 * 1000LL, "carol", "nas");
	assert_int_equal(NH, 0);
	sudo(37 * 3600 * 1000LL, "carol", "nas"); /* 25 h after: past one day */
	assert_int_equal(NH, 1);
	/* other fields: a new memory */
	rules("title: First sudo\nid: ns\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: SUDO_ESCALATION\n  condition: s\nminisiem:\n"
	      "  new-value: [user]\n");
	NH = 0;
	sudo(38 * 3600 * 1000LL, "carol", "nas");
	assert_int_equal(NH, 1);
	assert_string_equal(H[0].key, "source_host=nas,user=carol"); /* the default grouping */
	sudo(38 * 3600 * 1000LL, "carol", "web1");
	assert_int_equal(NH, 1);
}

static void test_new_value_days_and_bounds(void **state)
{
	(void)state;
	open_detector();
	rules(NEWSUDO);
	/* 30 days by default, since the newest sighting */
	sudo(0, "alice", "nas");
	sudo(20 * DAY / 1000, "alice", "nas");
	sudo(50 * DAY / 1000, "alice", "nas"); /* 30 days after the 20th: not yet new */
	assert_int_equal(NH, 1);
	sudo(80 * DAY / 1000 + 1, "alice", "nas"); /* 30 days and 1 ms */
	assert_int_equal(NH, 2);
	/* expiry: combinations older than the span are forgotten (not counted as evicted) */
	sudo(200 * DAY / 1000, "zed", "web1");
	struct detector_stats st;
	detector_get_stats(D, &st);
	assert_int_equal(st.new_values, 1);
	assert_int_equal(st.evicted_new_values, 0);
	/* bounded: past the limit the least recently seen is forgotten and counted */
	detector_close(D);
	D = NULL;
	open_detector();
	detector_set_max_new_values(D, 3);
	rules(NEWSUDO);
	NH = 0;
	sudo(0, "a", "h");
	sudo(1, "b", "h");
	sudo(2, "c", "h");
	sudo(3, "a", "h"); /* a is the most recent now */
	sudo(4, "d", "h"); /* forgets b */
	assert_int_equal(NH, 4);
	detector_get_stats(D, &st);
	assert_int_equal(st.new_values, 3);
	assert_int_equal(st.evicted_new_values, 1);
	sudo(5, "a", "h");
	assert_int_equal(NH, 4);
	sudo(6, "b", "h"); /* forgotten: new again (and forgets c) */
	assert_int_equal(NH, 5);
	detector_get_stats(D, &st);
	assert_int_equal(st.evicted_new_values, 2);
}

/* ---- counts per rule and the state file's older layout ---- */

struct counts {
	char id[8][32];
	uint64_t n[8];
	int len;
};

static void count_fn(void *ctx, const struct rule_info *ri, uint64_t matches)
{
	struct counts *c = ctx;
	assert_true(c->len < 8);
	snprintf(c->id[c->len], sizeof(c->id[0]), "%s", ri->id);
	c->n[c->len++] = matches;
}

static uint64_t count_of(struct counts *c, const char *id)
{
	for (int i = 0; i < c->len; i++)
		if (!strcmp(c->id[i], id))
			return c->n[i];
	fail_msg("no count for %s", id);
	return 0;
}

static void test_rule_counts(void **state)
{
	(void)state;
	open_detector();
	char both[4096];
	snprintf(both, sizeof(both), "%s---\n%s", BF5, NEWSUDO);
	rules(both);
	for (int i = 0; i < 7; i++)
		fail_from(i, "10.0.0.1", "u");
	for (int i = 0; i < 4; i++)
		sudo(i, "alice", "nas");
	struct counts c = {0};
	detector_rule_counts(D, count_fn, &c);
	assert_int_equal(c.len, 3);
	assert_int_equal(count_of(&c, "bf"), 1);   /* correlations: hits */
	assert_int_equal(count_of(&c, "fail"), 7); /* helpers count too (id: their name) */
	assert_int_equal(count_of(&c, "ns"), 4);   /* every match, new or not */
	/* kept across a swap for the ids that stay */
	rules(both);
	fail_from(10, "10.0.0.1", "u");
	memset(&c, 0, sizeof(c));
	detector_rule_counts(D, count_fn, &c);
	assert_int_equal(count_of(&c, "fail"), 8);
	assert_int_equal(count_of(&c, "ns"), 4);
	rules(NEWSUDO);
	memset(&c, 0, sizeof(c));
	detector_rule_counts(D, count_fn, &c);
	assert_int_equal(c.len, 1);
	assert_int_equal(count_of(&c, "ns"), 4);
}

static void put32(uint8_t **p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*(*p)++ = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t **p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p, (uint32_t)(v >> 32));
}

static void putstr(uint8_t **p, const void *s, size_t n)
{
	put32(p, (uint32_t)n);
	memcpy(*p, s, n);
	*p += n;
}

/* A state file of the first layout (MSCORR1: entries without event counts) still restores
 * the windows; the next save writes the new one. */
static void test_state_file_v1(void **state)
{
	(void)state;
	snprintf(STATE, sizeof(STATE), "/tmp/test_detect_alerts_v1_%d.state", (int)getpid());
	static uint8_t buf[4096], blob[2048];
	uint8_t *b = blob;
	const char *key = "source_ip=10.0.0.1", *val = "10.0.0.1";
	put64(&b, 0); /* evicted */
	put32(&b, 1); /* groups */
	putstr(&b, key, strlen(key));
	put32(&b, 1);
	putstr(&b, val, strlen(val));
	put64(&b, (uint64_t)INT64_MIN); /* start */
	put64(&b, (uint64_t)(T0 + 3 * SEC));
	put64(&b, 0);
	put32(&b, 4); /* four entries */
	for (int i = 0; i < 4; i++) {
		uint8_t id[16] = {0};
		id[15] = (uint8_t)(i + 1);
		put64(&b, (uint64_t)(T0 + i * SEC));
		put64(&b, 0);
		memcpy(b, id, 16);
		b += 16;
	}
	put32(&b, 0);
	put32(&b, 0);
	uint8_t *p = buf;
	memcpy(p, "MSCORR1\n", 8);
	p += 8;
	put64(&p, (uint64_t)(T0 + 3 * SEC));
	put32(&p, 1);
	putstr(&p, "bf", 2);
	put32(&p, 0); /* event_count */
	put32(&p, 1);
	put32(&p, 1);
	put64(&p, 300 * SEC);
	putstr(&p, blob, (size_t)(b - blob));
	put64(&p, hash_bytes(buf, (size_t)(p - buf)));
	FILE *f = fopen(STATE, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, (size_t)(p - buf), f), (size_t)(p - buf));
	fclose(f);
	open_detector();
	rules(BF5);
	fail_from(4000, "10.0.0.1", "u");
	assert_int_equal(NH, 1);
	assert_int_equal(H[0].count, 5);
	assert_int_equal(H[0].new_events, 5);
	assert_int_equal(detector_save(D), 0);
	f = fopen(STATE, "rb");
	char magic[8];
	assert_int_equal(fread(magic, 1, 8, f), 8);
	fclose(f);
	assert_memory_equal(magic, "MSCORR2\n", 8);
}

/* {events} is left to the alerting module (detect_summary_fill writes the alert's count); an
 * absent field in " ({x})" takes its parentheses with it, elsewhere it is "?". */
static void test_summary_events_and_absent(void **state)
{
	(void)state;
	open_detector();
	rules("title: E\nid: e\nlogsource:\n  product: minisiem\ndetection:\n  s:\n"
	      "    event_type: X\n  condition: s\nminisiem:\n"
	      "  summary: '{events} from {source_ip} ({geo.country}) [{geo.city}] ({user})'\n");
	feed(0, "\"event_type\":\"X\",\"source_ip\":\"203.0.113.1\",\"user\":\"u\"");
	assert_int_equal(NH, 1);
	char out[64];
	assert_int_equal(detect_summary_fill(H[0].summary, 30, out, sizeof(out)),
			 strlen("30 from 203.0.113.1 [?] (u)"));
	assert_string_equal(out, "30 from 203.0.113.1 [?] (u)");
	/* cut at the buffer, always terminated */
	assert_int_equal(detect_summary_fill(H[0].summary, 123456, out, 8), 7);
	assert_string_equal(out, "123456 ");
	assert_int_equal(detect_summary_fill("", 1, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_block_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rule_info, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_default_grouping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_summary_placeholders, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_summary_correlations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_summary_hostile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_summary_events_and_absent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_value, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_value_days_and_bounds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rule_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_file_v1, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
