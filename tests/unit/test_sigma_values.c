/* test_sigma_values.c — long value lists: exact, startswith, endswith and contains lists of
 * any size decided by a hash table or an automaton (compared with the one-by-one answer on
 * random lists), mixed lists, neq, arrays, and rule files over the API's 64 KiB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/err.h"
#include "core/strbuf.h"
#include "detect/detect.h"
#include "detect/sigma_int.h"

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

static void compile_file_ok(const char *yaml)
{
	free_rules();
	if (rule_compile_file(yaml, strlen(yaml), "test", &R, &NR, ERR, sizeof(ERR)))
		fail_msg("compile failed: %s", ERR);
}

static bool m_tags(const char *json, const char *tags)
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
	if (tags)
		ev.tags = (struct sv){tags, strlen(tags)};
	return rule_matches(R[0], &ev);
}

static bool m(const char *json)
{
	return m_tags(json, NULL);
}

/* A rule whose one item is "F|mods:" over the values. */
static void list_rule(struct strbuf *b, const char *key, char **vals, size_t n)
{
	b->n = 0;
	strbuf_addf(b, "title: t\nlogsource:\n  product: minisiem\ndetection:\n  sel:\n    %s:\n",
		    key);
	for (size_t i = 0; i < n; i++)
		strbuf_addf(b, "      - '%s'\n", vals[i]);
	strbuf_addf(b, "  condition: sel\n");
	compile_file_ok(b->p);
}

static const struct fcond *first_item(void)
{
	return &R[0]->var[0].det.sel[0].alt[0].fc[0];
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void rnd_word(char *out, size_t min, size_t max, const char *alpha)
{
	size_t n = min + rnd() % (max - min + 1), k = strlen(alpha);
	for (size_t i = 0; i < n; i++)
		out[i] = alpha[rnd() % k];
	out[n] = '\0';
}

static bool naive(int mode, char **vals, size_t n, const char *text)
{
	size_t tn = strlen(text);
	for (size_t i = 0; i < n; i++) {
		size_t vn = strlen(vals[i]);
		if (mode == 'x' && !strcasecmp(text, vals[i]))
			return true;
		if (mode == 's' && tn >= vn && !strncasecmp(text, vals[i], vn))
			return true;
		if (mode == 'e' && tn >= vn && !strcasecmp(text + tn - vn, vals[i]))
			return true;
		if (mode == 'c' && strcasestr(text, vals[i]))
			return true;
	}
	return false;
}

/* Random lists over a small alphabet (many shared prefixes, overlaps and literals inside
 * others) against random texts: the set answers as comparing one by one does. */
static void test_random_lists_agree(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b, 1 << 20);
	static const struct {
		int mode;
		const char *key;
	} kinds[] = {{'x', "f"}, {'s', "f|startswith"}, {'e', "f|endswith"}, {'c', "f|contains"}};
	char *vals[400];
	char text[64], json[256];
	for (size_t i = 0; i < 400; i++)
		vals[i] = malloc(16);
	for (size_t k = 0; k < 4; k++) {
		for (int round = 0; round < 6; round++) {
			size_t n = 16 + rnd() % 384;
			for (size_t i = 0; i < n; i++)
				rnd_word(vals[i], 1, k == 3 ? 6 : 8, "abcAB-");
			list_rule(&b, kinds[k].key, vals, n);
			assert_non_null(first_item()->set);
			assert_int_equal(first_item()->nset, first_item()->nval);
			size_t hits = 0;
			for (int t = 0; t < 300; t++) {
				rnd_word(text, 0, k == 3 ? 30 : 10, "abcAB-");
				snprintf(json, sizeof(json),
					 "{\"event_type\":\"x\",\"data\":{\"f\":\"%s\"}}", text);
				bool want = naive(kinds[k].mode, vals, n, text);
				if (m(json) != want)
					fail_msg("mode %c, %zu values, text '%s': want %d",
						 kinds[k].mode, n, text, want);
				hits += want;
			}
			assert_true(hits > 0); /* the comparison saw both answers */
			assert_true(hits < 300);
		}
	}
	for (size_t i = 0; i < 400; i++)
		free(vals[i]);
	strbuf_release(&b);
}

/* A list of 5,000 hashes as SigmaHQ writes them (Hashes|contains: 'MD5=...'): found in the
 * middle of the event's value, in any case; 64 KiB of rule text is no limit for a file. */
static void test_hash_list_contains(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b, 1 << 20);
	char *vals[5000];
	for (size_t i = 0; i < 5000; i++) {
		vals[i] = malloc(48);
		char h[33];
		rnd_word(h, 32, 32, "0123456789abcdef");
		snprintf(vals[i], 48, "MD5=%s", h);
	}
	list_rule(&b, "Hashes|contains", vals, 5000);
	assert_true(b.n > RULE_TEXT_MAX);
	assert_non_null(first_item()->set);
	printf("5,000 contains literals (%zu bytes of rule text): %zu bytes of automaton\n", b.n,
	       valset_bytes(first_item()->set));
	assert_true(valset_bytes(first_item()->set) < 40 * b.n); /* proportional to the text */
	char json[512];
	for (size_t i = 0; i < 5000; i += 1249) {
		char up[48];
		snprintf(up, sizeof(up), "%s", vals[i]);
		for (char *p = up; *p; p++) /* any case */
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		snprintf(json, sizeof(json),
			 "{\"event_type\":\"x\",\"data\":{\"Hashes\":\"SHA1=0000,%s,IMPHASH=99\"}}",
			 up);
		assert_true(m(json));
	}
	assert_false(m("{\"event_type\":\"x\",\"data\":{\"Hashes\":\"MD5=0000,SHA1=11\"}}"));
	/* speed, printed: the automaton against comparing the 5,000 literals one by one */
	const char *ev =
	    "{\"event_type\":\"x\",\"data\":{\"Hashes\":\"SHA1=4C3F2A1B0D9E8F7A6B5C4D3E"
	    "2F1A0B9C8D7E6F50,MD5=0F1E2D3C4B5A69788796A5B4C3D2E1F0,SHA256=9A8B7C6D5E4F3A2"
	    "B1C0D9E8F7A6B5C4D3E2F1A0B9C8D7E6F5A4B3C2D1E0F9A8B,IMPHASH=00112233445566778"
	    "899AABBCCDDEEFF\"}}";
	json_error_t je;
	json_t *j = json_loads(ev, 0, &je);
	struct event e;
	char err[256];
	assert_int_equal(event_from_json(&e, j, &A, 1700000000000000LL, err, sizeof(err)), 0);
	json_decref(j);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t hits = 0;
	for (int i = 0; i < 20000; i++)
		hits += rule_matches(R[0], &e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double set_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	const char *h = strstr(ev, "SHA1=");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 200; i++)
		hits += naive('c', vals, 5000, h);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double lin_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(hits, 0);
	printf("an event against the list: %.0f /s with the automaton, %.0f /s one by one\n",
	       20000 / set_s, 200 / lin_s);
	assert_false(m("{\"event_type\":\"x\"}"));
	/* the API keeps its 64 KiB per rule */
	struct rule **r2 = NULL;
	size_t n2 = 0;
	assert_int_equal(rule_compile(b.p, b.n, "api", &r2, &n2, ERR, sizeof(ERR)), SIEM_ETOOBIG);
	assert_non_null(strstr(ERR, "larger than 65536 bytes"));
	for (size_t i = 0; i < 5000; i++)
		free(vals[i]);
	strbuf_release(&b);
}

/* Lists that are not all plain: wildcards in the middle, numbers, cased values; and neq,
 * arrays and the tags. */
static void test_mixed_lists(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b, 1 << 20);
	char *vals[40];
	for (size_t i = 0; i < 40; i++) {
		vals[i] = malloc(32);
		snprintf(vals[i], 32, "value%02zu", i);
	}
	snprintf(vals[38], 32, "mid*dle");
	snprintf(vals[39], 32, "pre*");
	list_rule(&b, "f", vals, 40);
	assert_int_equal(first_item()->nset, 38);
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":\"VALUE07\"}}"));
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":\"midXYZdle\"}}"));
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":\"prefix\"}}"));
	assert_false(m("{\"event_type\":\"x\",\"data\":{\"f\":\"value7\"}}"));
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":[\"a\",\"value39x\",\"value12\"]}}"));
	assert_false(m("{\"event_type\":\"x\",\"data\":{\"f\":[\"a\",\"value39x\"]}}"));
	list_rule(&b, "f|cased", vals, 38);
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":\"value07\"}}"));
	assert_false(m("{\"event_type\":\"x\",\"data\":{\"f\":\"VALUE07\"}}"));
	list_rule(&b, "f|neq", vals, 38);
	assert_false(m("{\"event_type\":\"x\",\"data\":{\"f\":\"value07\"}}"));
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":\"other\"}}"));
	list_rule(&b, "tags", vals, 38);
	assert_true(m_tags("{\"event_type\":\"x\"}", "intel:x,value21"));
	assert_false(m_tags("{\"event_type\":\"x\"}", "intel:x,value2"));
	/* numbers keep matching numerically (outside the set) */
	for (size_t i = 0; i < 40; i++)
		snprintf(vals[i], 32, "%zu", 4600 + i);
	b.n = 0;
	strbuf_addf(&b, "title: t\nlogsource:\n  product: minisiem\ndetection:\n  sel:\n"
			"    EventID:\n");
	for (size_t i = 0; i < 40; i++)
		strbuf_addf(&b, "      - %s\n", vals[i]);
	strbuf_addf(&b, "  condition: sel\n");
	compile_file_ok(b.p);
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"EventID\":\"04624\"}}"));
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"EventID\":4639}}"));
	assert_false(m("{\"event_type\":\"x\",\"data\":{\"EventID\":4640}}"));
	/* all: never a set */
	list_rule(&b, "f|contains|all", vals, 40);
	assert_null(first_item()->set);
	assert_true(m("{\"event_type\":\"x\",\"data\":{\"f\":\"4600 4601 4602 4603 4604 4605 4606 "
		      "4607 4608 4609 4610 4611 4612 4613 4614 4615 4616 4617 4618 4619 4620 "
		      "4621 4622 4623 4624 4625 4626 4627 4628 4629 4630 4631 4632 4633 4634 "
		      "4635 4636 4637 4638 4639\"}}"));
	assert_false(m("{\"event_type\":\"x\",\"data\":{\"f\":\"4600\"}}"));
	for (size_t i = 0; i < 40; i++)
		free(vals[i]);
	strbuf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_random_lists_agree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hash_list_contains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mixed_lists, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
