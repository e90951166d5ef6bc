/* follow.c — one file followed by path: complete lines only, and a position (inode, offset,
 * checksum of the bytes before it) that survives restarts, rotation and copy-truncate. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "core/log.h"
#include "source/follow.h"

#define FOLLOW_BUF_MIN ((size_t)16 << 10)

struct follow {
	char *path;
	int fd; /* -1: the path does not exist (yet) */
	uint64_t dev, ino;
	int64_t pos;   /* next byte to read from fd */
	int64_t start; /* file offset of buf[0] */
	char *buf;
	size_t cap, len, head; /* buf[head..len) not yet delivered; start + head = line start */
	size_t line_max;
	bool skipping; /* dropping the rest of an overlong line */
	bool rotated;  /* the path names another file now: fd is read to its end */
	int64_t last_data_ms, rotated_ms;
	int64_t rotate_wait_ms;
	unsigned char mark[FOLLOW_MARK]; /* the bytes just before the line start */
	size_t mark_n;
	bool missing_logged, error_logged;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t crc_of(const void *p, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

int follow_pos_format(const struct follow_pos *p, char *buf, size_t n)
{
	int k = snprintf(buf, n, "ino=%" PRIu64 " off=%" PRId64 " mark=%08" PRIx32 "/%" PRIu32,
			 p->ino, p->off, p->mark_crc, p->mark_n);
	return k > 0 && (size_t)k < n ? 0 : -ENAMETOOLONG;
}

int follow_pos_parse(const char *s, struct follow_pos *p)
{
	uint64_t ino;
	int64_t off;
	uint32_t crc, mn;
	if (!s ||
	    sscanf(s, "ino=%" SCNu64 " off=%" SCNd64 " mark=%" SCNx32 "/%" SCNu32, &ino, &off, &crc,
		   &mn) != 4 ||
	    off < 0 || mn > FOLLOW_MARK || (uint64_t)off < mn)
		return -EINVAL;
	*p = (struct follow_pos){ino, off, crc, mn};
	return 0;
}

static int64_t line_start(const struct follow *f)
{
	return f->start + (int64_t)f->head;
}

void follow_get_pos(const struct follow *f, struct follow_pos *out)
{
	*out = (struct follow_pos){f->ino, line_start(f), crc_of(f->mark, f->mark_n),
				   (uint32_t)f->mark_n};
}

const char *follow_path(const struct follow *f)
{
	return f->path;
}

bool follow_gone(const struct follow *f)
{
	struct stat st;
	return f->fd < 0 && stat(f->path, &st) < 0 && errno == ENOENT;
}

static void reset_to(struct follow *f, int64_t off)
{
	f->pos = f->start = off;
	f->len = f->head = 0;
	f->skipping = false;
	f->mark_n = 0;
}

static void close_fd(struct follow *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->rotated = false;
	f->ino = f->dev = 0;
	reset_to(f, 0);
}

/* Do the mark_n bytes before off read from fd checksum to crc? */
static bool mark_matches(int fd, int64_t off, uint32_t crc, uint32_t mark_n, unsigned char *copy)
{
	unsigned char b[FOLLOW_MARK];
	if (off == 0)
		return true;
	if (mark_n == 0) /* legacy: at least the byte before must end a line */
		mark_n = 1, crc = crc_of("\n", 1);
	ssize_t r = pread(fd, b, mark_n, (off_t)(off - (int64_t)mark_n));
	if (r != (ssize_t)mark_n || crc_of(b, mark_n) != crc)
		return false;
	if (copy)
		memcpy(copy, b, mark_n);
	return true;
}

/* Open path (or, for resuming, the file fd already names) and seek to the saved position if
 * it is still valid there. */
static int attach(struct follow *f, int fd, const struct stat *st, const struct follow_pos *at,
		  const char *name)
{
	f->fd = fd;
	f->dev = (uint64_t)st->st_dev;
	f->ino = (uint64_t)st->st_ino;
	f->last_data_ms = mono_ms();
	reset_to(f, 0);
	if (!at || at->off == 0)
		return 0;
	if (at->off <= (int64_t)st->st_size &&
	    mark_matches(fd, at->off, at->mark_crc, at->mark_n, f->mark)) {
		reset_to(f, at->off);
		f->mark_n = at->mark_n;
		log_info("follow", "resuming '%s' at byte %" PRId64, name, at->off);
		return 0;
	}
	log_warn("follow",
		 "'%s' changed while the agent was stopped (truncated or rewritten before "
		 "byte %" PRId64 "): reading it from the start",
		 name, at->off);
	return 0;
}

static int open_path(struct follow *f, const struct follow_pos *at)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENOENT && !f->missing_logged)
			log_warn("follow", "cannot open '%s': %s (tried again)", f->path,
				 strerror(errno));
		f->missing_logged = true;
		return errno == ENOENT ? 0 : -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (!f->missing_logged)
			log_warn("follow", "'%s' is not a regular file", f->path);
		f->missing_logged = true;
		close(fd);
		return 0;
	}
	f->missing_logged = false;
	return attach(f, fd, &st, at && at->ino == (uint64_t)st.st_ino ? at : NULL, f->path);
}

/* The saved file is no longer at the path: find it renamed beside it (auth.log.1,
 * auth.log-20261121) to read the rest of it first. */
static int find_rotated(struct follow *f, const struct follow_pos *at)
{
	char dir[4096], path[4400];
	const char *slash = strrchr(f->path, '/');
	const char *base = slash ? slash + 1 : f->path;
	size_t bn = strlen(base);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - f->path + (slash == f->path)) : 1,
		 slash ? f->path : ".");
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	int found = -1;
	while (found < 0 && (e = readdir(d))) {
		if ((uint64_t)e->d_ino != at->ino || strncmp(e->d_name, base, bn) || !e->d_name[bn])
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != at->ino) {
			close(fd);
			continue;
		}
		log_info("follow",
			 "'%s' was rotated while the agent was stopped: reading the rest "
			 "of '%s' first",
			 f->path, path);
		attach(f, fd, &st, at, path);
		if (line_start(f) != at->off) { /* rewritten too: nothing of it is known */
			close_fd(f);
			continue;
		}
		f->rotated = true;
		found = 0;
	}
	closedir(d);
	return found;
}

int follow_open(struct follow **out, const char *path, const struct follow_pos *saved,
		const struct follow_opts *o)
{
	struct follow *f = calloc(1, sizeof(*f));
	struct stat st;
	*out = NULL;
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return -ENOMEM;
	}
	f->fd = -1;
	f->line_max = o && o->line_max ? o->line_max : FOLLOW_LINE_MAX;
	f->rotate_wait_ms = o ? o->rotate_wait_ms : 1000;
	if (saved && saved->off > 0 && (stat(path, &st) < 0 || (uint64_t)st.st_ino != saved->ino) &&
	    find_rotated(f, saved) == 0) {
		*out = f;
		return 0;
	}
	if (saved && saved->off > 0 && stat(path, &st) == 0 && (uint64_t)st.st_ino != saved->ino)
		log_warn("follow",
			 "'%s' was rotated while the agent was stopped and the old file is "
			 "not beside it: its lines after byte %" PRId64 " are not read",
			 path, saved->off);
	open_path(f, saved);
	*out = f;
	return 0;
}

void follow_close(struct follow *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->buf);
	free(f->path);
	free(f);
}

static void add_mark(struct follow *f, const char *p, size_t n)
{
	if (n >= FOLLOW_MARK) {
		memcpy(f->mark, p + n - FOLLOW_MARK, FOLLOW_MARK);
		f->mark_n = FOLLOW_MARK;
		return;
	}
	size_t keep = f->mark_n + n > FOLLOW_MARK ? FOLLOW_MARK - n : f->mark_n;
	memmove(f->mark, f->mark + f->mark_n - keep, keep);
	memcpy(f->mark + keep, p, n);
	f->mark_n = keep + n;
}

/* A complete line in buf[head..len)? */
static int take_line(struct follow *f, struct follow_line *ln)
{
	while (f->head < f->len) {
		char *p = f->buf + f->head;
		size_t avail = f->len - f->head;
		char *nl = memchr(p, '\n', avail);
		if (f->skipping) {
			size_t k = nl ? (size_t)(nl - p) + 1 : avail;
			add_mark(f, p, k);
			f->head += k;
			if (nl)
				f->skipping = false;
			continue;
		}
		if (!nl) {
			if (avail < f->line_max)
				return 0;
			/* No newline within line_max bytes: deliver them, skip to the newline. */
			*ln = (struct follow_line){p, f->line_max, f->ino, line_start(f), true};
			add_mark(f, p, f->line_max);
			f->head += f->line_max;
			f->skipping = true;
			return 1;
		}
		size_t n = (size_t)(nl - p);
		*ln = (struct follow_line){p, n, f->ino, line_start(f), false};
		if (n && p[n - 1] == '\r')
			ln->n--;
		add_mark(f, p, n + 1);
		f->head += n + 1;
		return 1;
	}
	return 0;
}

/* Make room for reading: drop delivered bytes, grow up to line_max. */
static int make_room(struct follow *f)
{
	if (f->head) {
		memmove(f->buf, f->buf + f->head, f->len - f->head);
		f->start += (int64_t)f->head;
		f->len -= f->head;
		f->head = 0;
	}
	if (f->len < f->cap)
		return 0;
	size_t cap = f->cap ? f->cap * 2 : FOLLOW_BUF_MIN;
	if (cap > f->line_max + 1)
		cap = f->line_max + 1;
	if (cap <= f->cap)
		return 0;
	char *b = realloc(f->buf, cap);
	if (!b)
		return -ENOMEM;
	f->buf = b;
	f->cap = cap;
	return 0;
}

/* The rotated file is finished: its unterminated last line is delivered as it is. */
static int finish_rotated(struct follow *f, struct follow_line *ln)
{
	if (f->head < f->len && !f->skipping) {
		size_t n = f->len - f->head;
		*ln = (struct follow_line){f->buf + f->head, n, f->ino, line_start(f), false};
		add_mark(f, f->buf + f->head, n);
		f->head = f->len;
		log_info("follow",
			 "'%s' (rotated) ended without a newline: its last %zu bytes taken "
			 "as a line",
			 f->path, n);
		return 1;
	}
	log_info("follow", "finished the rotated file of '%s'; following the new one", f->path);
	close_fd(f);
	return 0;
}

/* At the end of fd: has the path been rotated, and is it time to move on? 1: a last line;
 * 0: nothing now; 2: moved to the file the path names now, read it. */
static int at_eof(struct follow *f, struct follow_line *ln)
{
	struct stat st;
	int s = stat(f->path, &st);
	if (s < 0 && errno != ENOENT)
		return 0;
	if (s == 0 && (uint64_t)st.st_ino == f->ino && (uint64_t)st.st_dev == f->dev)
		return 0;
	int64_t now = mono_ms();
	if (!f->rotated) {
		f->rotated = true;
		f->rotated_ms = now;
		log_info("follow", "'%s' was renamed or removed: reading the old file to its end",
			 f->path);
	}
	int64_t since = f->rotated_ms > f->last_data_ms ? f->rotated_ms : f->last_data_ms;
	if (now - since < f->rotate_wait_ms)
		return 0;
	int rc = finish_rotated(f, ln);
	if (rc != 0)
		return rc;
	open_path(f, NULL);
	return f->fd >= 0 ? 2 : 0;
}

int follow_next(struct follow *f, struct follow_line *ln)
{
	struct stat st;
	int rc;
	if ((rc = take_line(f, ln)) != 0)
		return rc;
	if (f->fd < 0) {
		rc = open_path(f, NULL);
		if (f->fd < 0)
			return rc;
	}
	for (int round = 0; round < 64; round++) {
		if (fstat(f->fd, &st) < 0)
			return -errno;
		if (st.st_size < f->pos) {
			log_info("follow", "'%s' was truncated: reading it from the start",
				 f->path);
			reset_to(f, 0);
		}
		if (st.st_size == f->pos) {
			if (f->len == f->head && f->cap > FOLLOW_BUF_MIN) {
				/* Idle: give the buffer back (many files, few of them busy). */
				free(f->buf);
				f->buf = NULL;
				f->cap = f->len = f->head = 0;
			}
			if ((rc = at_eof(f, ln)) != 2)
				return rc;
			continue;
		}
		if (!mark_matches(f->fd, line_start(f), crc_of(f->mark, f->mark_n),
				  (uint32_t)f->mark_n, NULL)) {
			log_warn("follow",
				 "'%s' was rewritten (the bytes before %" PRId64
				 " changed): reading it from the start",
				 f->path, line_start(f));
			reset_to(f, 0);
		}
		if ((rc = make_room(f)) < 0)
			return rc;
		ssize_t r = pread(f->fd, f->buf + f->len, f->cap - f->len, (off_t)f->pos);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (!f->error_logged)
				log_error("follow", "cannot read '%s': %s", f->path,
					  strerror(errno));
			f->error_logged = true;
			return -errno;
		}
		f->error_logged = false;
		if (r == 0) {
			if ((rc = at_eof(f, ln)) != 2)
				return rc;
			continue;
		}
		f->len += (size_t)r;
		f->pos += r;
		f->last_data_ms = mono_ms();
		if ((rc = take_line(f, ln)) != 0)
			return rc;
	}
	return 0;
}
