/* test_ruleset.c — the rule catalog following the store (broker mode: another node changed a
 * rule through its API): a rule put, disabled, enabled, edited and deleted in the store
 * reaches the catalog and the engine on ruleset_reload, and the window state of the rules
 * that stay is kept across it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testdata.h"

#include "core/log.h"
#include "detect/detect.h"
#include "detect/ruleset.h"
#include "store/store_alerts.h"

#define SEC 1000000LL
#define T0 1740823200000000LL /* 2025-03-01T10:00:00Z */

#define ID_A "5b0f2a7e-8c1d-4e59-9a61-3f2d7c1e0a01"
#define ID_BASE "5b0f2a7e-8c1d-4e59-9a61-3f2d7c1e0a02"
#define ID_CORR "5b0f2a7e-8c1d-4e59-9a61-3f2d7c1e0a03"

static const char YAML_A[] = "title: Live A\n"
			     "id: " ID_A "\n"
			     "level: high\n"
			     "logsource:\n"
			     "    product: minisiem\n"
			     "detection:\n"
			     "    selection:\n"
			     "        event_type: LIVE_A\n"
			     "    condition: selection\n";
static const char YAML_BASE[] = "title: Live base\n"
				"id: " ID_BASE "\n"
				"name: live_base\n"
				"level: low\n"
				"logsource:\n"
				"    product: minisiem\n"
				"detection:\n"
				"    selection:\n"
				"        event_type: LIVE_C\n"
				"    condition: selection\n";
static const char YAML_CORR[] = "title: Three live C\n"
				"id: " ID_CORR "\n"
				"level: high\n"
				"correlation:\n"
				"    type: event_count\n"
				"    rules:\n"
				"        - live_base\n"
				"    group-by:\n"
				"        - source_host\n"
				"    timespan: 5m\n"
				"    condition:\n"
				"        gte: 3\n";

static char DIRPATH[64], DBPATH[128];
static struct store *S;
static struct detector *D;
static struct ruleset *RS;
static char HITS[16][64];
static int NH;

static void sink(void *ctx, const struct detect_hit *h)
{
	(void)ctx;
	if (NH < 16)
		snprintf(HITS[NH], sizeof(HITS[NH]), "%s", h->rule->id);
	NH++;
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_ERROR);
	snprintf(DIRPATH, sizeof(DIRPATH), "/tmp/test_ruleset.XXXXXX");
	if (!mkdtemp(DIRPATH))
		return -1;
	snprintf(DBPATH, sizeof(DBPATH), "%s/store", DIRPATH);
	struct store_config c;
	memset(&c, 0, sizeof(c));
	store_config_defaults(&c);
	c.dir = DBPATH;
	c.cache_mb = 2;
	struct detector_config dc = {NULL, 0};
	if (store_open(&S, &c) < 0 || detector_open(&D, &dc) < 0 ||
	    ruleset_open(&RS, S, D, NULL) < 0)
		return -1;
	NH = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ruleset_close(RS);
	detector_close(D);
	store_close(S);
	RS = NULL;
	D = NULL;
	S = NULL;
	test_rm_tree(DIRPATH);
	return 0;
}

/* Hits of one event of type type from host at T0 + n seconds. */
static int eval(const char *type, const char *host, int n)
{
	struct event ev;
	memset(&ev, 0, sizeof(ev));
	ev.id[0] = (uint8_t)n;
	ev.id[15] = 0x5a;
	ev.ts = ev.received_at = T0 + n * SEC;
	ev.event_type = (struct sv){type, strlen(type)};
	ev.source_host = (struct sv){host, strlen(host)};
	NH = 0;
	detector_eval(D, &ev, sink, NULL);
	return NH;
}

/* Is rule id in the catalog, and enabled? -1: not there. */
static int catalog(const char *id)
{
	ruleset_lock(RS);
	struct ruleset_entry *e = ruleset_find(RS, id);
	int r = e ? e->enabled : -1;
	ruleset_unlock(RS);
	return r;
}

static void test_reload_follows_the_store(void **state)
{
	(void)state;
	assert_int_equal(store_rule_put(S, ID_A, "api", YAML_A, true, "ana"), 0);
	assert_int_equal(catalog(ID_A), -1); /* another node's change: not here yet */
	assert_int_equal(eval("LIVE_A", "web1", 1), 0);
	assert_int_equal(ruleset_reload(RS), 0);
	assert_int_equal(catalog(ID_A), 1);
	assert_int_equal(eval("LIVE_A", "web1", 2), 1);
	assert_string_equal(HITS[0], ID_A);

	assert_int_equal(store_rule_set_enabled(S, ID_A, "api", false, "ana"), 0);
	assert_int_equal(ruleset_reload(RS), 0);
	assert_int_equal(catalog(ID_A), 0);
	assert_int_equal(eval("LIVE_A", "web1", 3), 0);

	assert_int_equal(store_rule_set_enabled(S, ID_A, "api", true, "ana"), 0);
	assert_int_equal(ruleset_reload(RS), 0);
	assert_int_equal(eval("LIVE_A", "web1", 4), 1);

	/* edited: the new text runs */
	char edited[sizeof(YAML_A) + 8];
	snprintf(edited, sizeof(edited), "%s", YAML_A);
	memcpy(strstr(edited, "LIVE_A"), "LIVE_E", 6);
	assert_int_equal(store_rule_put(S, ID_A, "api", edited, true, "ana"), 0);
	assert_int_equal(ruleset_reload(RS), 0);
	assert_int_equal(eval("LIVE_A", "web1", 5), 0);
	assert_int_equal(eval("LIVE_E", "web1", 6), 1);

	assert_int_equal(store_rule_delete(S, ID_A), 0);
	assert_int_equal(ruleset_reload(RS), 0);
	assert_int_equal(catalog(ID_A), -1);
	assert_int_equal(eval("LIVE_E", "web1", 7), 0);
}

static void test_reload_keeps_the_windows_of_rules_that_stay(void **state)
{
	(void)state;
	assert_int_equal(store_rule_put(S, ID_BASE, "api", YAML_BASE, true, "ana"), 0);
	assert_int_equal(store_rule_put(S, ID_CORR, "api", YAML_CORR, true, "ana"), 0);
	assert_int_equal(ruleset_reload(RS), 0);
	assert_int_equal(eval("LIVE_C", "web9", 1), 0);
	assert_int_equal(eval("LIVE_C", "web9", 2), 0);
	/* another rule comes and goes: the correlation's window of two stays */
	assert_int_equal(store_rule_put(S, ID_A, "api", YAML_A, true, "ana"), 0);
	assert_int_equal(ruleset_reload(RS), 0);
	assert_int_equal(store_rule_delete(S, ID_A), 0);
	assert_int_equal(ruleset_reload(RS), 0);
	assert_int_equal(eval("LIVE_C", "web9", 3), 1);
	assert_string_equal(HITS[0], ID_CORR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reload_follows_the_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_keeps_the_windows_of_rules_that_stay, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
