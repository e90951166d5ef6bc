/* test_csv.c — CSV rows into JSON objects: RFC 4180 quoting (commas, quotes and newlines in
 * fields), CRLF and a BOM, the header's names kept for the normalizer's aliases, and bad
 * input (a wide, long or unterminated row refused on its own; an unusable header). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/event.h"
#include "parse/csv.h"

struct got {
	size_t n;
	json_t *rows[16];
	char errs[16][200];
};

static int take(void *arg, size_t row, json_t *obj, const char *err)
{
	struct got *g = arg;
	assert_int_equal(row, g->n + 1);
	assert_true(g->n < 16);
	if (obj)
		g->rows[g->n] = json_incref(obj);
	else
		snprintf(g->errs[g->n], sizeof(g->errs[0]), "%s", err);
	g->n++;
	return 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		json_decref(g->rows[i]);
}

static const char *field(struct got *g, size_t i, const char *k)
{
	return json_string_value(json_object_get(g->rows[i], k));
}

static int read_csv(const char *text, struct got *g, char *err)
{
	memset(g, 0, sizeof(*g));
	return csv_records(text, strlen(text), take, g, err, 256);
}

static void test_rfc4180(void **state)
{
	(void)state;
	struct got g;
	char err[256];
	const char *text =
	    "\xEF\xBB\xBFtimestamp,host,src_ip,event_type,message,level\r\n"
	    "2024-03-15T12:34:56Z,web1,203.0.113.7,LOGIN_FAIL,\"bad, password\",info\r\n"
	    "2024-03-15T12:35:00Z,web2,,LOGIN_FAIL,\"two\r\nlines and \"\"quotes\"\"\","
	    "\r\n"
	    "\r\n"
	    "2024-03-15T12:36:00Z,web3\r\n";
	assert_int_equal(read_csv(text, &g, err), 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(field(&g, 0, "timestamp"), "2024-03-15T12:34:56Z");
	assert_string_equal(field(&g, 0, "message"), "bad, password");
	assert_string_equal(field(&g, 0, "src_ip"), "203.0.113.7");
	assert_string_equal(field(&g, 1, "message"), "two\r\nlines and \"quotes\"");
	assert_null(json_object_get(g.rows[1], "src_ip")); /* empty: absent */
	assert_null(json_object_get(g.rows[1], "level"));
	assert_string_equal(field(&g, 2, "host"), "web3");
	/* Each row is an event through the same names and aliases as JSON. */
	struct event ev;
	struct arena a;
	arena_init(&a, 0);
	assert_int_equal(event_from_json(&ev, g.rows[0], &a, 0, err, sizeof(err)), 0);
	assert_true(ev.flags & EV_HAS_IP);
	assert_int_equal(ev.ts, 1710506096LL * 1000000);
	assert_true(ev.source_host.n == 4 && !memcmp(ev.source_host.p, "web1", 4));
	assert_true(ev.level.n == 4 && !memcmp(ev.level.p, "INFO", 4));
	arena_release(&a);
	got_free(&g);
}

static void test_bad_rows(void **state)
{
	(void)state;
	struct got g;
	char err[256];
	char *big = malloc(CSV_ROW_MAX + 128);
	assert_non_null(big);
	int k = snprintf(big, 64, "event_type,message\nA,");
	memset(big + k, 'x', CSV_ROW_MAX);
	static const char rest[] =
	    "\nB,ok\nC,\xff\xfe\nD,1,2\nF,a\"b\nG,\"fine, \"\"quoted\"\"\"\nE,\"never closed";
	memcpy(big + k + CSV_ROW_MAX, rest, sizeof(rest));
	assert_int_equal(read_csv(big, &g, err), 0);
	assert_int_equal(g.n, 7);
	assert_string_equal(g.errs[0], "row longer than 65536 bytes");
	assert_string_equal(field(&g, 1, "message"), "ok");
	assert_string_equal(g.errs[2], "field 'message': not valid UTF-8");
	assert_string_equal(g.errs[3], "row has more than the header's 2 fields");
	assert_string_equal(g.errs[4], "malformed quoting");
	assert_string_equal(field(&g, 5, "message"), "fine, \"quoted\"");
	assert_string_equal(g.errs[6], "unterminated quoted field");
	free(big);
	got_free(&g);
}

static void test_bad_header(void **state)
{
	(void)state;
	struct got g;
	char err[256];
	assert_int_equal(read_csv("a,b,a\n1,2,3\n", &g, err), SIEM_EPARSE);
	assert_string_equal(err, "header: column 'a' twice");
	assert_int_equal(read_csv("a,,b\n1,2,3\n", &g, err), SIEM_EPARSE);
	assert_string_equal(err, "header: column 2 has no name (or not valid UTF-8)");
	assert_int_equal(read_csv("", &g, err), SIEM_EPARSE);
	assert_string_equal(err, "no header row");
	assert_int_equal(g.n, 0);
	char wide[8 * (CSV_COLS_MAX + 2)];
	size_t n = 0;
	for (int i = 0; i <= CSV_COLS_MAX; i++)
		n += (size_t)snprintf(wide + n, sizeof(wide) - n, "c%d,", i);
	assert_int_equal(read_csv(wide, &g, err), SIEM_EPARSE);
	assert_string_equal(err, "header: more than 256 columns");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4180),
	    cmocka_unit_test(test_bad_rows),
	    cmocka_unit_test(test_bad_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
