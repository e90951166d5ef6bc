/* test_spool.c — the agent's spool: oldest first, bounded (the oldest dropped and counted),
 * durable across reopen, crash debris (half-written and damaged files) detected and
 * discarded, refused batches set aside. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/spool.h"

static char DIR_[64], SPOOL[128], ASIDE[128];

static int setup(void **state)
{
	(void)state;
	snprintf(DIR_, sizeof(DIR_), "/tmp/test_spool.XXXXXX");
	if (!mkdtemp(DIR_))
		return -1;
	snprintf(SPOOL, sizeof(SPOOL), "%s/spool", DIR_);
	snprintf(ASIDE, sizeof(ASIDE), "%s/rejected", DIR_);
	return 0;
}

static int rm_cb(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	return rmdir(dir);
}

static int teardown(void **state)
{
	(void)state;
	rm_cb(SPOOL);
	rm_cb(ASIDE);
	rmdir(DIR_);
	return 0;
}

static size_t count_files(const char *dir, const char *ext)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ext))
			n++;
	closedir(d);
	return n;
}

/* A body of n bytes: "batch <tag>" padded with x, ending in a newline. */
static char *body(int tag, size_t n)
{
	char *b = malloc(n + 1);
	assert_non_null(b);
	memset(b, 'x', n);
	int k = snprintf(b, n, "batch %d ", tag);
	b[k] = ' ';
	b[n - 1] = '\n';
	b[n] = '\0';
	return b;
}

static void expect_oldest(struct spool *s, int tag, uint32_t events)
{
	struct spool_batch b;
	char want[32];
	assert_int_equal(spool_peek(s, &b), 0);
	snprintf(want, sizeof(want), "batch %d ", tag);
	assert_true(b.n > strlen(want));
	assert_memory_equal(b.body, want, strlen(want));
	assert_int_equal(b.events, events);
	assert_int_equal(spool_pop(s, b.seq), 0);
	free(b.buf);
}

static void test_order(void **state)
{
	(void)state;
	struct spool *s;
	assert_int_equal(spool_open(&s, SPOOL, ASIDE, 1 << 20), 0);
	assert_true(spool_empty(s));
	for (int i = 1; i <= 5; i++) {
		char *b = body(i, 100);
		assert_int_equal(spool_put(s, b, 100, (uint32_t)i), 0);
		free(b);
	}
	assert_false(spool_empty(s));
	for (int i = 1; i <= 5; i++)
		expect_oldest(s, i, (uint32_t)i);
	assert_true(spool_empty(s));
	struct spool_batch b;
	assert_int_equal(spool_peek(s, &b), -ENOENT);
	assert_int_equal(count_files(SPOOL, ".spl"), 0);
	spool_close(s);
}

static void test_reopen_keeps_order(void **state)
{
	(void)state;
	struct spool *s;
	assert_int_equal(spool_open(&s, SPOOL, ASIDE, 1 << 20), 0);
	for (int i = 1; i <= 3; i++) {
		char *b = body(i, 50);
		assert_int_equal(spool_put(s, b, 50, 7), 0);
		free(b);
	}
	spool_close(s);
	assert_int_equal(spool_open(&s, SPOOL, ASIDE, 1 << 20), 0);
	char *b = body(4, 50); /* numbered after the ones found */
	assert_int_equal(spool_put(s, b, 50, 7), 0);
	free(b);
	struct spool_stats st;
	spool_get_stats(s, &st);
	assert_int_equal(st.files, 4);
	for (int i = 1; i <= 4; i++)
		expect_oldest(s, i, 7);
	spool_close(s);
}

static void test_bounded_drops_oldest(void **state)
{
	(void)state;
	struct spool *s;
	const uint64_t max = 1000;
	assert_int_equal(spool_open(&s, SPOOL, ASIDE, max), 0);
	/* Each file is ~300 bytes with its header: three fit, the fourth drops the first. */
	for (int i = 1; i <= 6; i++) {
		char *b = body(i, 280);
		assert_int_equal(spool_put(s, b, 280, 10), 0);
		free(b);
		struct spool_stats st;
		spool_get_stats(s, &st);
		assert_true(st.bytes <= max);
	}
	struct spool_stats st;
	spool_get_stats(s, &st);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.dropped_batches, 3);
	assert_int_equal(st.dropped_events, 30);
	assert_int_equal(count_files(SPOOL, ".spl"), 3);
	for (int i = 4; i <= 6; i++) /* the newest are kept, still oldest first */
		expect_oldest(s, i, 10);
	/* A batch larger than the whole spool is dropped and counted, not written. */
	char *big = body(9, 2000);
	assert_int_equal(spool_put(s, big, 2000, 5), 0);
	free(big);
	spool_get_stats(s, &st);
	assert_int_equal(st.dropped_events, 35);
	assert_true(spool_empty(s));
	spool_close(s);
}

static void write_raw(const char *name, const char *text, size_t n)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", SPOOL, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
}

static void test_crash_debris(void **state)
{
	(void)state;
	struct spool *s;
	assert_int_equal(spool_open(&s, SPOOL, ASIDE, 1 << 20), 0);
	for (int i = 1; i <= 3; i++) {
		char *b = body(i, 64);
		assert_int_equal(spool_put(s, b, 64, 4), 0);
		free(b);
	}
	spool_close(s);
	/* A write the crash interrupted before its rename: removed, not counted (its events'
	 * positions were never saved, so they are read again). */
	write_raw("0000000000000010.tmp", "MSPOOL1 4 64 00000000\nbatch", 27);
	/* A file with the final name cut short (a disk that lied): dropped and counted. */
	write_raw("0000000000000002.spl", "MSPOOL1 4 64 12345678\nbatch 2 xx", 32);
	/* Junk with the final name: dropped, its event count unknown. */
	write_raw("0000000000000011.spl", "garbage", 7);
	assert_int_equal(spool_open(&s, SPOOL, ASIDE, 1 << 20), 0);
	struct spool_stats st;
	spool_get_stats(s, &st);
	assert_int_equal(st.files, 2);
	assert_int_equal(st.dropped_batches, 2);
	assert_int_equal(st.dropped_events, 4);
	assert_int_equal(count_files(SPOOL, ".tmp"), 0);
	expect_oldest(s, 1, 4);
	expect_oldest(s, 3, 4);
	assert_true(spool_empty(s));
	spool_close(s);
}

static void test_damaged_after_open(void **state)
{
	(void)state;
	struct spool *s;
	assert_int_equal(spool_open(&s, SPOOL, ASIDE, 1 << 20), 0);
	for (int i = 1; i <= 2; i++) {
		char *b = body(i, 64);
		assert_int_equal(spool_put(s, b, 64, 3), 0);
		free(b);
	}
	/* Flip a byte of the first file's body: its checksum no longer matches. */
	char p[256];
	snprintf(p, sizeof(p), "%s/0000000000000001.spl", SPOOL);
	int fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "Y", 1, 40), 1);
	close(fd);
	expect_oldest(s, 2, 3);
	struct spool_stats st;
	spool_get_stats(s, &st);
	assert_int_equal(st.dropped_batches, 1);
	assert_int_equal(st.dropped_events, 3);
	spool_close(s);
}

static void test_set_aside(void **state)
{
	(void)state;
	struct spool *s;
	struct spool_batch b;
	assert_int_equal(spool_open(&s, SPOOL, ASIDE, 1 << 20), 0);
	char *x = body(1, 64);
	assert_int_equal(spool_put(s, x, 64, 2), 0);
	assert_int_equal(spool_put(s, x, 64, 2), 0);
	assert_int_equal(spool_peek(s, &b), 0);
	assert_int_equal(spool_set_aside(s, b.seq), 0);
	free(b.buf);
	assert_int_equal(spool_set_aside_body(s, x, 64, 2), 0);
	free(x);
	struct spool_stats st;
	spool_get_stats(s, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.aside_files, 2);
	assert_int_equal(count_files(ASIDE, ".spl"), 2);
	assert_int_equal(count_files(SPOOL, ".spl"), 1);
	spool_close(s);
	/* Set-aside files are kept, not sent again. */
	assert_int_equal(spool_open(&s, SPOOL, ASIDE, 1 << 20), 0);
	spool_get_stats(s, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.aside_files, 2);
	spool_close(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_order),	  T(test_reopen_keeps_order), T(test_bounded_drops_oldest),
	    T(test_crash_debris), T(test_damaged_after_open), T(test_set_aside),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
