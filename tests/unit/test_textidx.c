/* test_textidx.c — the text filter of segments without a text index: which blocks of seqs
 * may hold a search's terms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>

#include "store/textidx.h"

#define B TEXTIDX_BLOCK

/* Event seq at time seq * 10. */
static void add(struct textidx *t, int64_t seq, const char *message, const char *path)
{
	struct sv v[3] = {
	    {message, message ? strlen(message) : 0}, {NULL, 0}, {path, path ? strlen(path) : 0}};
	assert_int_equal(textidx_add(t, seq, seq * 10, v, 3), 0);
}

/* The blocks q may be in at a time within from..to, as "first seq of each, newest first". */
static const char *blocks_in(const struct textidx *t, const char *q, int64_t from, int64_t to)
{
	static char buf[1024];
	struct text_range r[16];
	struct textq tq;
	textq_build(&tq, q);
	size_t n = textidx_blocks(t, &tq, from, to, r, 16), k = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && i < 16; i++) {
		assert_int_equal(r[i].hi, r[i].lo + B - 1);
		assert_true(r[i].min_ts >= r[i].lo * 10 && r[i].max_ts <= r[i].hi * 10);
		assert_true(r[i].min_ts <= r[i].max_ts);
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%lld", i ? "," : "",
				      (long long)r[i].lo);
	}
	if (n > 16)
		snprintf(buf + k, sizeof(buf) - k, "+%zu", n - 16);
	return buf;
}

static const char *blocks(const struct textidx *t, const char *q)
{
	return blocks_in(t, q, INT64_MIN, INT64_MAX);
}

/* Ten blocks from seq 1000 of filler text; one rare word in block 3 and one in block 7. */
static struct textidx *sample(void)
{
	struct textidx *t = textidx_new(1000);
	assert_non_null(t);
	for (int64_t seq = 1000; seq < 1000 + 10 * B; seq++)
		add(t, seq, "Accepted publickey for alice from 10.0.0.1 port 22", "/api/v1/login");
	add(t, 1000 + 3 * B + 5, "database VACUUMED in 3 s", NULL);
	add(t, 1000 + 7 * B, "Ünïcode naïve", "/Quota/Exceeded");
	return t;
}

static void test_narrows_to_the_blocks_holding_a_word(void **state)
{
	(void)state;
	struct textidx *t = sample();
	char want[64];
	snprintf(want, sizeof(want), "%d", 1000 + 3 * B);
	assert_string_equal(blocks(t, "vacuumed"), want);
	assert_string_equal(blocks(t, "VacuuMED"), want);     /* ASCII letters folded */
	assert_string_equal(blocks(t, "acuum"), want);	      /* any substring of three or more */
	assert_string_equal(blocks(t, "vacuumed 3 s"), want); /* short terms do not narrow */
	assert_string_equal(blocks(t, "database vacuumed"), want);
	assert_string_equal(blocks(t, "vacuumed quota"), ""); /* every term, in one block */
	snprintf(want, sizeof(want), "%d", 1000 + 7 * B);
	assert_string_equal(blocks(t, "quota/exceeded"), want); /* the path too */
	assert_string_equal(blocks(t, "naïve"), want);
	assert_string_equal(blocks(t, "Ünï"), want);
	assert_string_equal(blocks(t, "ünï"), ""); /* other bytes are not folded */
	assert_string_equal(blocks(t, "zebra"), "");
	/* In every block: newest first, all of them counted beyond what fits. */
	assert_string_equal(blocks(t, "publickey"), "1576,1512,1448,1384,1320,1256,1192,1128,"
						    "1064,1000");
	textidx_free(t);
}

static void test_terms_without_trigrams(void **state)
{
	(void)state;
	struct textq tq;
	textq_build(&tq, "ab  c\tde");
	assert_int_equal(tq.n, 0);
	textq_build(&tq, "");
	assert_int_equal(tq.n, 0);
	textq_build(&tq, NULL);
	assert_int_equal(tq.n, 0);
	textq_build(&tq, "aaaa AAA");
	assert_int_equal(tq.n, 1); /* the same trigram once */
	textq_build(&tq, "abcd");
	assert_int_equal(tq.n, 2);
	struct textidx *t = sample();
	textq_build(&tq, "ab");
	struct text_range r[4];
	assert_int_equal(textidx_blocks(t, &tq, INT64_MIN, INT64_MAX, r, 4), 10); /* every block */
	assert_int_equal(r[0].lo, 1000 + 9 * B);
	textidx_free(t);
}

static void test_blocks_grow_and_gaps_stay_empty(void **state)
{
	(void)state;
	struct textidx *t = textidx_new(1);
	assert_non_null(t);
	assert_int_equal(textidx_nblocks(t), 0);
	assert_string_equal(blocks(t, "anything"), "");
	add(t, 1, "first", NULL);
	add(t, 1 + 500 * B, "far later", NULL); /* seqs skipped (rolled back): empty blocks */
	assert_int_equal(textidx_nblocks(t), 501);
	assert_true(textidx_bytes(t) >= 501 * 512);
	char want[64];
	snprintf(want, sizeof(want), "%d", 1 + 500 * B);
	assert_string_equal(blocks(t, "later"), want);
	assert_string_equal(blocks(t, "first"), "1");
	struct sv v = {"x", 1};
	assert_int_equal(textidx_add(t, 0, 0, &v, 1), -ERANGE);
	assert_int_equal(textidx_add(t, 1 + ((int64_t)1 << 33), 0, &v, 1), -ERANGE);
	textidx_free(t);
}

/* Blocks without an event in the time range are left out; a block's range is its events'. */
static void test_time_range(void **state)
{
	(void)state;
	struct textidx *t = sample(); /* event seq at seq * 10 */
	int64_t b3 = 1000 + 3 * B, b7 = 1000 + 7 * B;
	char want[64];
	snprintf(want, sizeof(want), "%lld", (long long)b3);
	assert_string_equal(blocks_in(t, "vacuumed", b3 * 10, b3 * 10), want);
	assert_string_equal(blocks_in(t, "vacuumed", (b3 + B - 1) * 10, INT64_MAX), want);
	assert_string_equal(blocks_in(t, "vacuumed", (b3 + B) * 10, INT64_MAX), "");
	assert_string_equal(blocks_in(t, "vacuumed", INT64_MIN, b3 * 10 - 1), "");
	snprintf(want, sizeof(want), "%lld,%lld", (long long)b7, (long long)(b7 - B));
	assert_string_equal(blocks_in(t, "publickey", (b7 - 1) * 10, b7 * 10), want);
	textidx_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_narrows_to_the_blocks_holding_a_word),
	    cmocka_unit_test(test_terms_without_trigrams),
	    cmocka_unit_test(test_blocks_grow_and_gaps_stay_empty),
	    cmocka_unit_test(test_time_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
