/* follow.c — one file followed: its lines read through a bounded buffer, cut when too long,
 * the bytes before the position checked before every read (truncation, rewrites), and, when
 * followed by path, rename rotation and resuming where the saved file is now. */
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
#include "source/nofollow.h"

#define BUF_MIN ((size_t)16 << 10)
#define READ_MAX ((size_t)64 << 10)
#define MARK_KEEP 1024 /* bytes before the position compared with the file before each read */

struct follow {
	char *path;  /* followed by path; NULL when attached to a descriptor */
	char *opath; /* path as opened under root ("./x" for a bare name) */
	char *root;  /* the folder no symbolic link may lead out of */
	size_t root_n;
	const char *name;   /* in log lines */
	const char *log_as; /* their subsystem */
	int fd;		    /* -1: the path does not exist (yet) */
	uint64_t dev, ino;
	int64_t pos;   /* next byte to read from fd */
	int64_t start; /* file offset of buf[0] */
	char *buf;
	size_t cap, len, head, scan; /* buf[head..len) not delivered; no newline in [head..scan) */
	size_t line_max, head_max, read_max;
	bool eof;      /* the last look found nothing more to read */
	bool skipping; /* in a line longer than line_max: dropped up to its newline */
	char *cut;     /* its first head_max bytes */
	size_t cut_n;
	int64_t cut_off;	       /* where it starts */
	uint32_t cut_crc, cut_mark_n;  /* the saved mark before it */
	unsigned char mark[MARK_KEEP]; /* the file's bytes just before buf[0] */
	size_t mark_n;		       /* 0 after a restart: only a newline is known there */
	bool rotated; /* by path: the path names another file now: fd is read to its end */
	int64_t last_data_ms, rotated_ms;
	int64_t rotate_wait_ms;
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

/* ---- the buffer and the position ---- */

int64_t follow_offset(const struct follow *f)
{
	return f->skipping ? f->cut_off : f->start + (int64_t)f->head;
}

int64_t follow_read_pos(const struct follow *f)
{
	return f->pos;
}

int64_t follow_last_data_ms(const struct follow *f)
{
	return f->last_data_ms;
}

bool follow_at_end(const struct follow *f)
{
	return f->eof;
}

int follow_fd(const struct follow *f)
{
	return f->fd;
}

void follow_set_name(struct follow *f, const char *name)
{
	f->name = name;
}

const char *follow_path(const struct follow *f)
{
	return f->path;
}

/* The last bytes (want at most) before start + head: the mark, then what buf delivered. */
static size_t cur_mark(const struct follow *f, unsigned char *out, size_t want)
{
	size_t from_buf = f->head < want ? f->head : want;
	size_t from_mark = want - from_buf;
	if (from_mark > f->mark_n)
		from_mark = f->mark_n;
	memcpy(out, f->mark + f->mark_n - from_mark, from_mark);
	if (from_buf)
		memcpy(out + from_mark, f->buf + f->head - from_buf, from_buf);
	return from_mark + from_buf;
}

void follow_get_pos(const struct follow *f, struct follow_pos *out)
{
	unsigned char m[FOLLOW_MARK];
	if (f->skipping) {
		*out = (struct follow_pos){f->ino, f->cut_off, f->cut_crc, f->cut_mark_n};
		return;
	}
	size_t n = cur_mark(f, m, FOLLOW_MARK);
	*out = (struct follow_pos){f->ino, follow_offset(f), crc_of(m, n), (uint32_t)n};
}

static void reset_to(struct follow *f, int64_t off)
{
	f->pos = f->start = off;
	f->len = f->head = f->scan = 0;
	f->skipping = false;
	f->cut_n = 0;
	f->mark_n = 0;
	f->eof = false;
}

/* Drop the delivered bytes from buf, keeping the last of them as the mark. */
static void compact(struct follow *f)
{
	unsigned char m[MARK_KEEP];
	if (!f->head)
		return;
	size_t n = cur_mark(f, m, MARK_KEEP);
	memcpy(f->mark, m, n);
	f->mark_n = n;
	memmove(f->buf, f->buf + f->head, f->len - f->head);
	f->start += (int64_t)f->head;
	f->len -= f->head;
	f->scan -= f->head;
	f->head = 0;
}

/* Is what we read before start still there? A file truncated and written again past our
 * position (copytruncate, while we were not looking) has other bytes there: the ones we read
 * last, or when we have read none since a restart, the newline before it. */
static bool unchanged(struct follow *f)
{
	unsigned char b[MARK_KEEP];
	size_t n = f->mark_n ? f->mark_n : 1;
	ssize_t r;
	if (f->start == 0)
		return true;
	do
		r = pread(f->fd, b, n, (off_t)(f->start - (int64_t)n));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return true; /* the read that follows reports it */
	if (r != (ssize_t)n)
		return false; /* shorter: truncated */
	return f->mark_n ? memcmp(b, f->mark, n) == 0 : b[0] == '\n';
}

/* Room to read up to pending more bytes: at most an unfinished line plus read_max. */
static int make_room(struct follow *f, int64_t pending)
{
	size_t max = f->line_max + 2 + f->read_max;
	size_t more =
	    pending > 0 && (uint64_t)pending < f->read_max ? (size_t)pending : f->read_max;
	size_t want = f->len + more;
	if (want > max)
		want = max;
	if (f->cap >= want || (f->cap > f->len && f->cap == max))
		return 0;
	size_t cap = f->cap > BUF_MIN ? f->cap : BUF_MIN;
	while (cap < want)
		cap *= 2;
	if (cap > max)
		cap = max;
	char *b = realloc(f->buf, cap);
	if (!b)
		return -ENOMEM;
	f->buf = b;
	f->cap = cap;
	return 0;
}

/* A line too long with no newline yet: its first head_max bytes kept, the rest skipped. */
static int start_cut(struct follow *f, const char *p, size_t avail)
{
	unsigned char m[FOLLOW_MARK];
	if (!f->cut && !(f->cut = malloc(f->head_max)))
		return -ENOMEM;
	f->cut_n = avail < f->head_max ? avail : f->head_max;
	memcpy(f->cut, p, f->cut_n);
	f->cut_off = follow_offset(f);
	size_t n = cur_mark(f, m, FOLLOW_MARK);
	f->cut_crc = crc_of(m, n);
	f->cut_mark_n = (uint32_t)n;
	f->skipping = true;
	f->head = f->scan = f->len;
	return 0;
}

/* A complete line in buf[head..len)? */
static int take_line(struct follow *f, struct follow_line *ln)
{
	while (f->head < f->len) {
		char *p = f->buf + f->head;
		size_t avail = f->len - f->head;
		char *nl = memchr(f->buf + f->scan, '\n', f->len - f->scan);
		if (f->skipping) {
			if (!nl) {
				f->head = f->scan = f->len; /* dropped as it is read */
				return 0;
			}
			f->head = f->scan = (size_t)(nl - f->buf) + 1;
			f->skipping = false;
			*ln = (struct follow_line){f->cut, f->cut_n, f->ino, f->cut_off, true};
			return 1;
		}
		if (!nl) {
			f->scan = f->len;
			if (avail <= f->line_max + 1) /* room for a "\r" before the newline */
				return 0;
			int rc = start_cut(f, p, avail);
			if (rc < 0)
				return rc;
			continue;
		}
		size_t n = (size_t)(nl - p);
		if (n && p[n - 1] == '\r')
			n--;
		*ln = (struct follow_line){p, n, f->ino, follow_offset(f), false};
		if (n > f->line_max)
			*ln = (struct follow_line){p, f->head_max, f->ino, ln->off, true};
		f->head = f->scan = (size_t)(nl - f->buf) + 1;
		return 1;
	}
	return 0;
}

int follow_finish(struct follow *f, struct follow_line *ln)
{
	if (f->skipping) {
		*ln = (struct follow_line){f->cut, f->cut_n, f->ino, f->cut_off, true};
		f->skipping = false;
		f->head = f->scan = f->len;
		return 1;
	}
	if (f->head == f->len)
		return 0;
	char *p = f->buf + f->head;
	size_t n = f->len - f->head;
	*ln = (struct follow_line){p, n, f->ino, follow_offset(f), false};
	if (p[n - 1] == '\r')
		ln->n--;
	if (ln->n > f->line_max) {
		ln->n = f->head_max;
		ln->cut = true;
	}
	f->head = f->scan = f->len;
	return 1;
}

/* ---- opening ---- */

static int init(struct follow **out, const struct follow_opts *o)
{
	struct follow *f = calloc(1, sizeof(*f));
	*out = NULL;
	if (!f)
		return -ENOMEM;
	f->fd = -1;
	f->line_max = o && o->line_max ? o->line_max : FOLLOW_LINE_MAX;
	f->head_max = o && o->head_max && o->head_max < f->line_max ? o->head_max : f->line_max;
	f->read_max = o && o->read_max ? o->read_max : READ_MAX;
	f->rotate_wait_ms = o ? o->rotate_wait_ms : 1000;
	f->log_as = o && o->log_as ? o->log_as : "follow";
	*out = f;
	return 0;
}

static void take_fd(struct follow *f, int fd, const struct stat *st)
{
	f->fd = fd;
	f->dev = (uint64_t)st->st_dev;
	f->ino = (uint64_t)st->st_ino;
	f->last_data_ms = mono_ms();
}

int follow_attach(struct follow **out, int fd, const struct stat *st, int64_t off, const char *name,
		  const struct follow_opts *o)
{
	struct follow *f;
	int rc = init(&f, o);
	if (rc < 0)
		return rc;
	take_fd(f, fd, st);
	reset_to(f, off);
	f->name = name;
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
	free(f->cut);
	free(f->path);
	free(f->opath);
	free(f->root);
	free(f);
}

/* ---- followed by path ---- */

static void close_fd(struct follow *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->rotated = false;
	f->ino = f->dev = 0;
	reset_to(f, 0);
}

static int lstat_path(const struct follow *f, struct stat *st)
{
	return nofollow_lstat(f->root, f->root_n, f->opath, st);
}

bool follow_gone(const struct follow *f)
{
	struct stat st;
	return f->path && f->fd < 0 && lstat_path(f, &st) == -ENOENT;
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

/* Take the open file fd (path or, for resuming, the file it was renamed to), and seek to the
 * saved position if it is still valid there. */
static int attach(struct follow *f, int fd, const struct stat *st, const struct follow_pos *at,
		  const char *name)
{
	take_fd(f, fd, st);
	reset_to(f, 0);
	if (!at || at->off == 0)
		return 0;
	if (at->off <= (int64_t)st->st_size &&
	    mark_matches(fd, at->off, at->mark_crc, at->mark_n, f->mark)) {
		reset_to(f, at->off);
		f->mark_n = at->mark_n;
		log_info(f->log_as, "resuming '%s' at byte %" PRId64, name, at->off);
		return 0;
	}
	log_warn(f->log_as,
		 "'%s' changed while the agent was stopped (truncated or rewritten before "
		 "byte %" PRId64 "): reading it from the start",
		 name, at->off);
	return 0;
}

static int open_path(struct follow *f, const struct follow_pos *at)
{
	struct stat st;
	int fd = nofollow_open(f->root, f->root_n, f->opath, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (fd == -ELOOP && !f->missing_logged)
			log_warn(f->log_as,
				 "skipping '%s': symbolic links are not followed (tried again)",
				 f->path);
		else if (fd != -ENOENT && !f->missing_logged)
			log_warn(f->log_as, "cannot open '%s': %s (tried again)", f->path,
				 strerror(-fd));
		f->missing_logged = true;
		return fd == -ENOENT || fd == -ELOOP ? 0 : fd; /* a link: like no file there */
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (!f->missing_logged)
			log_warn(f->log_as, "'%s' is not a regular file", f->path);
		f->missing_logged = true;
		close(fd);
		return 0;
	}
	f->missing_logged = false;
	return attach(f, fd, &st, at && at->ino == (uint64_t)st.st_ino ? at : NULL, f->path);
}

/* The folder path is in, open (no link followed below root). */
static DIR *open_dir_of(const struct follow *f, char *dir, size_t dirn)
{
	const char *slash = strrchr(f->opath, '/');
	snprintf(dir, dirn, "%.*s", slash == f->opath ? 1 : (int)(slash - f->opath), f->opath);
	int fd = strlen(dir) == f->root_n || (f->root_n == 0 && !strcmp(dir, "/"))
		     ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
		     : nofollow_open(f->root, f->root_n, dir, O_RDONLY | O_DIRECTORY);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d && fd >= 0)
		close(fd);
	return d;
}

/* The saved file is no longer at the path: find it renamed beside it (auth.log.1,
 * auth.log-20261121) to read the rest of it first. */
static int find_rotated(struct follow *f, const struct follow_pos *at)
{
	char dir[4096], path[4400];
	const char *slash = strrchr(f->opath, '/');
	const char *base = slash + 1;
	size_t bn = strlen(base);
	DIR *d = open_dir_of(f, dir, sizeof(dir));
	if (!d)
		return -1;
	struct dirent *e;
	int found = -1;
	while (found < 0 && (e = readdir(d))) {
		if ((uint64_t)e->d_ino != at->ino || strncmp(e->d_name, base, bn) || !e->d_name[bn])
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		int fd = openat(dirfd(d), e->d_name,
				O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != at->ino) {
			close(fd);
			continue;
		}
		log_info(f->log_as,
			 "'%s' was rotated while the agent was stopped: reading the rest "
			 "of '%s' first",
			 f->path, path);
		attach(f, fd, &st, at, path);
		if (follow_offset(f) != at->off) { /* rewritten too: nothing of it is known */
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
	struct follow *f;
	struct stat st;
	int rc = init(&f, o);
	if (rc < 0)
		return rc;
	const char *slash = strrchr(path, '/');
	const char *root = o && o->root ? o->root : NULL;
	size_t rn = root ? strlen(root) : slash ? (size_t)(slash - path) : 1;
	f->path = strdup(path);
	f->opath = slash ? strdup(path) : malloc(strlen(path) + 3);
	f->root = root ? strdup(root) : slash ? strndup(path, rn) : strdup(".");
	if (!f->path || !f->opath || !f->root) {
		follow_close(f);
		return -ENOMEM;
	}
	if (!slash)
		snprintf(f->opath, strlen(path) + 3, "./%s", path);
	f->root_n = rn == 1 && f->root[0] == '/' ? 0 : rn; /* "/": "/x" is below it */
	if (rn == 0)
		f->root_n = 0, f->root[0] = '\0'; /* "/x": the file's folder is "/" */
	f->name = f->path;
	*out = f;
	if (saved && saved->off > 0 &&
	    (lstat_path(f, &st) < 0 || (uint64_t)st.st_ino != saved->ino) &&
	    find_rotated(f, saved) == 0)
		return 0;
	if (saved && saved->off > 0 && lstat_path(f, &st) == 0 && (uint64_t)st.st_ino != saved->ino)
		log_warn(f->log_as,
			 "'%s' was rotated while the agent was stopped and the old file is "
			 "not beside it: its lines after byte %" PRId64 " are not read",
			 path, saved->off);
	open_path(f, saved);
	return 0;
}

/* The rotated file is finished: its unterminated last line is delivered as it is. */
static int finish_rotated(struct follow *f, struct follow_line *ln)
{
	if (follow_finish(f, ln)) {
		log_info(f->log_as,
			 "'%s' (rotated) ended without a newline: its last %zu bytes taken "
			 "as a line",
			 f->path, (size_t)(f->pos - ln->off));
		return 1;
	}
	log_info(f->log_as, "finished the rotated file of '%s'; following the new one", f->path);
	close_fd(f);
	return 0;
}

/* At the end of fd: has the path been rotated, and is it time to move on? 1: a last line;
 * 0: nothing now; 2: moved to the file the path names now, read it. */
static int at_eof(struct follow *f, struct follow_line *ln)
{
	struct stat st;
	int s = lstat_path(f, &st);
	if (s < 0 && s != -ENOENT)
		return 0;
	if (s == 0 && (uint64_t)st.st_ino == f->ino && (uint64_t)st.st_dev == f->dev)
		return 0;
	int64_t now = mono_ms();
	if (!f->rotated) {
		f->rotated = true;
		f->rotated_ms = now;
		log_info(f->log_as, "'%s' was renamed or removed: reading the old file to its end",
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

/* ---- reading ---- */

/* At the end of what there is to read: 0, or for a path, what at_eof says. */
static int at_end(struct follow *f, struct follow_line *ln)
{
	f->eof = true;
	compact(f);
	/* Idle: give the buffer back, all of it or what an unfinished line does not use (many
	 * files, few of them busy). */
	if (f->len == 0) {
		free(f->buf);
		f->buf = NULL;
		f->cap = 0;
	} else if (f->len < f->cap / 4) {
		char *b = realloc(f->buf, f->len);
		if (b) {
			f->buf = b;
			f->cap = f->len;
		}
	}
	return f->path ? at_eof(f, ln) : 0;
}

int follow_next(struct follow *f, struct follow_line *ln)
{
	struct stat st;
	int rc;
	if ((rc = take_line(f, ln)) != 0)
		return rc;
	if (f->fd < 0) {
		if (!f->path)
			return 0;
		rc = open_path(f, NULL);
		if (f->fd < 0)
			return rc;
	}
	for (int round = 0; round < 64; round++) {
		if (fstat(f->fd, &st) < 0)
			return -errno;
		if (st.st_size < f->pos) {
			log_info(f->log_as, "'%s' was truncated: reading it from the start",
				 f->name);
			reset_to(f, 0);
		}
		if (st.st_size == f->pos) {
			if ((rc = at_end(f, ln)) != 2)
				return rc;
			continue;
		}
		compact(f);
		if (!unchanged(f)) {
			log_warn(f->log_as,
				 "'%s' was rewritten (what we read before byte %" PRId64
				 " changed): reading it from the start",
				 f->name, f->start);
			reset_to(f, 0);
		}
		if ((rc = make_room(f, (int64_t)st.st_size - f->pos)) < 0)
			return rc;
		ssize_t r = pread(f->fd, f->buf + f->len, f->cap - f->len, (off_t)f->pos);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rc = -errno;
			if (!f->error_logged)
				log_error(f->log_as, "cannot read '%s': %s", f->name,
					  strerror(errno));
			f->error_logged = true;
			return rc;
		}
		f->error_logged = false;
		if (r == 0) {
			if ((rc = at_end(f, ln)) != 2)
				return rc;
			continue;
		}
		f->eof = false;
		f->len += (size_t)r;
		f->pos += r;
		f->last_data_ms = mono_ms();
		if ((rc = take_line(f, ln)) != 0)
			return rc;
	}
	return 0;
}
