/* test_strbuf.c — the bounded buffer: appends stay NUL-terminated, the cap holds exactly
 * (for add and for formatted text, short or long), and detach hands the text over. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/strbuf.h"

static void test_add_and_terminate(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b, 1000);
	assert_null(b.p);
	assert_int_equal(strbuf_add(&b, "abc", 3), 0);
	assert_int_equal(strbuf_add(&b, "", 0), 0);
	assert_int_equal(strbuf_add(&b, "de\0f", 4), 0); /* bytes, NULs included */
	assert_int_equal(b.n, 7);
	assert_memory_equal(b.p, "abcde\0f", 8);
	strbuf_release(&b);
	assert_null(b.p);
	assert_int_equal(b.n, 0);
	assert_int_equal(b.max, 1000); /* usable again with the same cap */
	assert_int_equal(strbuf_add(&b, "x", 1), 0);
	assert_string_equal(b.p, "x");
	strbuf_release(&b);
}

static void test_empty_add_gives_an_empty_string(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b, 10);
	assert_int_equal(strbuf_add(&b, NULL, 0), 0);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	strbuf_release(&b);
}

static void test_cap_is_exact(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b, 10);
	assert_int_equal(strbuf_add(&b, "0123456789", 10), 0); /* exactly max */
	assert_int_equal(strbuf_add(&b, "x", 1), -E2BIG);
	assert_int_equal(strbuf_add(&b, "", 0), 0);
	assert_int_equal(b.n, 10);
	assert_string_equal(b.p, "0123456789"); /* a refusal changes nothing */
	assert_true(b.cap <= 11);
	strbuf_release(&b);

	strbuf_init(&b, 10);
	assert_int_equal(strbuf_add(&b, "01234", 5), 0);
	assert_int_equal(strbuf_add(&b, "abcdef", 6), -E2BIG); /* one over: nothing added */
	assert_int_equal(b.n, 5);
	assert_string_equal(b.p, "01234");
	assert_int_equal(strbuf_add(&b, NULL, SIZE_MAX), -E2BIG);
	strbuf_release(&b);
}

static void test_growth_keeps_content(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b, 1 << 20);
	char chunk[100];
	for (int i = 0; i < 5000; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		assert_int_equal(strbuf_add(&b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(b.n, 500000);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(b.p[i * 100 + 99], 'a' + i % 26);
	assert_int_equal(b.p[b.n], '\0');
	assert_true(b.cap > b.n);
	strbuf_release(&b);
}

static void test_addf(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b, 4096);
	assert_int_equal(strbuf_addf(&b, "%s=%d", "n", 42), 0);
	assert_int_equal(strbuf_addf(&b, ",%05.1f|%-3s|%x", 3.14159, "a", 255u), 0);
	assert_string_equal(b.p, "n=42,003.1|a  |ff");
	assert_int_equal(b.n, strlen("n=42,003.1|a  |ff"));
	/* longer than the 512-byte scratch buffer: formatted straight into the buffer */
	char big[1500];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(strbuf_addf(&b, "[%s]", big), 0);
	assert_int_equal(b.n, 17 + 1501);
	assert_int_equal(b.p[17], '[');
	assert_int_equal(b.p[17 + 1500], ']');
	assert_int_equal(b.p[b.n], '\0');
	strbuf_release(&b);
}

static void test_addf_respects_the_cap(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b, 8);
	assert_int_equal(strbuf_addf(&b, "%d", 1234567), 0);
	assert_int_equal(strbuf_addf(&b, "%d", 89), -E2BIG); /* 9 > 8 */
	assert_string_equal(b.p, "1234567");
	assert_int_equal(strbuf_addf(&b, "%d", 8), 0);
	assert_string_equal(b.p, "12345678");
	strbuf_release(&b);
	/* a long format over the cap is refused whole */
	strbuf_init(&b, 1000);
	char big[1200];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(strbuf_add(&b, "ab", 2), 0);
	assert_int_equal(strbuf_addf(&b, "%s", big), -E2BIG);
	assert_int_equal(b.n, 2);
	assert_string_equal(b.p, "ab");
	strbuf_release(&b);
}

static void test_detach(void **state)
{
	(void)state;
	struct strbuf b;
	strbuf_init(&b, 64);
	assert_int_equal(strbuf_addf(&b, "id=%u", 7u), 0);
	size_t n = 0;
	char *s = strbuf_detach(&b, &n);
	assert_string_equal(s, "id=7");
	assert_int_equal(n, 4);
	assert_null(b.p); /* b starts over, same cap */
	assert_int_equal(b.n, 0);
	assert_int_equal(b.max, 64);
	free(s);
	assert_null(strbuf_detach(&b, NULL)); /* nothing added: nothing to hand over */
	strbuf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_and_terminate),
	    cmocka_unit_test(test_empty_add_gives_an_empty_string),
	    cmocka_unit_test(test_cap_is_exact),
	    cmocka_unit_test(test_growth_keeps_content),
	    cmocka_unit_test(test_addf),
	    cmocka_unit_test(test_addf_respects_the_cap),
	    cmocka_unit_test(test_detach),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
