/* test_follow.c — the single-file follower (source/follow.h): complete lines only, partial lines
 * completed later, rotation by rename (the old file read to its end first), copy-truncate,
 * a rewrite behind our back, long lines, and resuming at a saved position — also after the
 * file was rotated or rewritten while the agent was stopped; links at the path not followed. */
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

#include "source/follow.h"

static char DIR_[64], LOG[128], LOG1[128];
static const struct follow_opts NOW = {.rotate_wait_ms = 0}; /* leave a rotated file at once */

static int setup(void **state)
{
	(void)state;
	snprintf(DIR_, sizeof(DIR_), "/tmp/test_follow.XXXXXX");
	if (!mkdtemp(DIR_))
		return -1;
	snprintf(LOG, sizeof(LOG), "%s/auth.log", DIR_);
	snprintf(LOG1, sizeof(LOG1), "%s/auth.log.1", DIR_);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(LOG);
	unlink(LOG1);
	rmdir(DIR_);
	return 0;
}

static void append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void rewrite(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void expect(struct follow *f, const char *line, int64_t off)
{
	struct follow_line ln;
	int rc = follow_next(f, &ln);
	assert_int_equal(rc, 1);
	if (ln.n != strlen(line) || memcmp(ln.p, line, ln.n))
		fail_msg("want '%s', got '%.*s'", line, (int)ln.n, ln.p);
	if (off >= 0)
		assert_int_equal(ln.off, off);
}

static void expect_none(struct follow *f)
{
	struct follow_line ln;
	int rc = follow_next(f, &ln);
	if (rc != 0)
		fail_msg("want no line, got rc %d '%.*s'", rc, rc == 1 ? (int)ln.n : 0,
			 rc == 1 ? ln.p : "");
}

static void test_lines_and_partial(void **state)
{
	(void)state;
	struct follow *f;
	append(LOG, "one\ntwo\r\nthr");
	assert_int_equal(follow_open(&f, LOG, NULL, &NOW), 0);
	expect(f, "one", 0);
	expect(f, "two", 4);
	expect_none(f); /* "thr" waits for its newline */
	struct follow_pos p;
	follow_get_pos(f, &p);
	assert_int_equal(p.off, 9);
	append(LOG, "ee\n\nfour\n");
	expect(f, "three", 9);
	expect(f, "", 15);
	expect(f, "four", 16);
	expect_none(f);
	follow_get_pos(f, &p);
	assert_int_equal(p.off, 21);
	follow_close(f);
}

static void test_missing_then_created(void **state)
{
	(void)state;
	struct follow *f;
	assert_int_equal(follow_open(&f, LOG, NULL, &NOW), 0);
	expect_none(f);
	append(LOG, "hello\n");
	expect(f, "hello", 0);
	follow_close(f);
}

static void test_rotation_by_rename(void **state)
{
	(void)state;
	struct follow *f;
	append(LOG, "a1\na2\n");
	assert_int_equal(follow_open(&f, LOG, NULL, &NOW), 0);
	expect(f, "a1", 0);
	/* The writer adds to the old file, then logrotate renames it and creates a new one,
	 * and the writer adds a last unterminated line to the old file before switching. */
	append(LOG, "a3\n");
	assert_int_equal(rename(LOG, LOG1), 0);
	append(LOG, "b1\nb2\n");
	append(LOG1, "a4");
	expect(f, "a2", 3);
	expect(f, "a3", 6);
	expect(f, "a4", 9); /* the rotated file's last line, taken as it is */
	expect(f, "b1", 0);
	expect(f, "b2", 3);
	expect_none(f);
	follow_close(f);
}

static void test_rotation_waits_for_late_writes(void **state)
{
	(void)state;
	struct follow *f;
	const struct follow_opts wait = {.rotate_wait_ms = 60000};
	append(LOG, "a1\n");
	assert_int_equal(follow_open(&f, LOG, NULL, &wait), 0);
	expect(f, "a1", 0);
	assert_int_equal(rename(LOG, LOG1), 0);
	append(LOG, "b1\n");
	expect_none(f); /* within the wait the old file is still watched */
	append(LOG1, "a2\n");
	expect(f, "a2", 3);
	expect_none(f);
	follow_close(f);
}

static void test_copy_truncate(void **state)
{
	(void)state;
	struct follow *f;
	append(LOG, "old1\nold2\n");
	assert_int_equal(follow_open(&f, LOG, NULL, &NOW), 0);
	expect(f, "old1", 0);
	expect(f, "old2", 5);
	expect_none(f);
	/* copytruncate: the file is emptied in place, the writer goes on from 0. */
	assert_int_equal(truncate(LOG, 0), 0);
	append(LOG, "new1\n");
	expect(f, "new1", 0);
	expect_none(f);
	/* Truncated and written past our position before we look: the bytes before our
	 * position changed, so it is read from the start. */
	assert_int_equal(truncate(LOG, 0), 0);
	append(LOG, "NEWER-1\nNEWER-2\n");
	expect(f, "NEWER-1", 0);
	expect(f, "NEWER-2", 8);
	expect_none(f);
	follow_close(f);
}

static void test_long_line_cut(void **state)
{
	(void)state;
	struct follow *f;
	const struct follow_opts o = {.line_max = 100};
	char big[400];
	memset(big, 'z', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	append(LOG, big);
	append(LOG, "\nafter\n");
	assert_int_equal(follow_open(&f, LOG, NULL, &o), 0);
	struct follow_line ln;
	assert_int_equal(follow_next(f, &ln), 1);
	assert_int_equal(ln.n, 100);
	assert_true(ln.cut);
	assert_int_equal(ln.off, 0);
	expect(f, "after", 400);
	expect_none(f);
	follow_close(f);
}

static void test_resume_at_saved_position(void **state)
{
	(void)state;
	struct follow *f;
	struct follow_pos p, q;
	char buf[128];
	append(LOG, "l1\nl2\nl3\n");
	assert_int_equal(follow_open(&f, LOG, NULL, &NOW), 0);
	expect(f, "l1", 0);
	expect(f, "l2", 3);
	follow_get_pos(f, &p); /* only l1 and l2 were acknowledged */
	follow_close(f);
	assert_int_equal(follow_pos_format(&p, buf, sizeof(buf)), 0);
	assert_int_equal(follow_pos_parse(buf, &q), 0);
	assert_memory_equal(&p, &q, sizeof(p));
	append(LOG, "l4\n");
	assert_int_equal(follow_open(&f, LOG, &q, &NOW), 0);
	expect(f, "l3", 6);
	expect(f, "l4", 9);
	expect_none(f);
	follow_close(f);
	assert_int_equal(follow_pos_parse("ino=1 off=x", &q), -EINVAL);
}

static void test_resume_after_rotation_while_stopped(void **state)
{
	(void)state;
	struct follow *f;
	struct follow_pos p;
	append(LOG, "r1\nr2\n");
	assert_int_equal(follow_open(&f, LOG, NULL, &NOW), 0);
	expect(f, "r1", 0);
	follow_get_pos(f, &p);
	follow_close(f);
	/* While stopped: more lines, rotation, a new file. */
	append(LOG, "r3\n");
	assert_int_equal(rename(LOG, LOG1), 0);
	append(LOG, "s1\n");
	assert_int_equal(follow_open(&f, LOG, &p, &NOW), 0);
	expect(f, "r2", 3);
	expect(f, "r3", 6);
	expect(f, "s1", 0);
	expect_none(f);
	follow_close(f);
}

static void test_resume_after_rewrite_while_stopped(void **state)
{
	(void)state;
	struct follow *f;
	struct follow_pos p;
	append(LOG, "w1\nw2\n");
	assert_int_equal(follow_open(&f, LOG, NULL, &NOW), 0);
	expect(f, "w1", 0);
	expect(f, "w2", 3);
	follow_get_pos(f, &p);
	follow_close(f);
	/* Same inode, other content at least as long: started over, nothing skipped. */
	rewrite(LOG, "X1\nX2\nX3\n");
	assert_int_equal(follow_open(&f, LOG, &p, &NOW), 0);
	expect(f, "X1", 0);
	expect(f, "X2", 3);
	expect(f, "X3", 6);
	follow_close(f);
	/* Shorter than the saved position: started over too. */
	rewrite(LOG, "Y\n");
	assert_int_equal(follow_open(&f, LOG, &p, &NOW), 0);
	expect(f, "Y", 0);
	expect_none(f);
	follow_close(f);
}

/* The agent often runs as root: a link at the followed path, put there before or while it
 * runs, must not read a file from elsewhere. */
static void test_links_not_followed(void **state)
{
	(void)state;
	struct follow *f;
	char secret[160], staged[160];
	snprintf(secret, sizeof(secret), "%s/secret", DIR_);
	snprintf(staged, sizeof(staged), "%s/staged", DIR_);
	append(secret, "SECRET\n");
	assert_int_equal(symlink(secret, LOG), 0);
	assert_int_equal(follow_open(&f, LOG, NULL, &NOW), 0);
	expect_none(f);
	expect_none(f);
	/* A regular file in its place is read. */
	assert_int_equal(unlink(LOG), 0);
	append(LOG, "real1\n");
	expect(f, "real1", 0);
	/* Replaced by a link while followed: the old file is finished, the link not read. */
	assert_int_equal(symlink(secret, staged), 0);
	assert_int_equal(rename(staged, LOG), 0);
	expect_none(f);
	expect_none(f);
	follow_close(f);
	unlink(secret);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_lines_and_partial),
	    T(test_missing_then_created),
	    T(test_rotation_by_rename),
	    T(test_rotation_waits_for_late_writes),
	    T(test_copy_truncate),
	    T(test_long_line_cut),
	    T(test_resume_at_saved_position),
	    T(test_resume_after_rotation_while_stopped),
	    T(test_resume_after_rewrite_while_stopped),
	    T(test_links_not_followed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
