/* tail_file.c — one file the tailer reads (source/follow.h): its complete lines, each
 * normalized into the batch (or kept as a dead letter), and the file's offset saved with them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/jsonalloc.h"
#include "core/log.h"
#include "core/metrics.h"
#include "parse/csv.h"
#include "parse/jsonl.h"
#include "source/tail_int.h"

unsigned tail_path_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (unsigned)(h >> 20) & (TAIL_HASH - 1);
}

static unsigned hash_id(uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ (dev << 32 | dev >> 32)) * 0x9e3779b97f4a7c15ULL;
	return (unsigned)(h >> 40) & (TAIL_HASH - 1);
}

struct tail_file *tail_find_path(struct tailer *t, const char *path)
{
	for (struct tail_file *f = t->by_path[tail_path_hash(path)]; f; f = f->next_path)
		if (strcmp(f->name, path) == 0)
			return f;
	return NULL;
}

struct tail_file *tail_find_id(struct tailer *t, uint64_t dev, uint64_t ino)
{
	for (struct tail_file *f = t->by_id[hash_id(dev, ino)]; f; f = f->next_id)
		if (f->dev == dev && f->ino == ino)
			return f;
	return NULL;
}

void tail_hash_path(struct tailer *t, struct tail_file *f)
{
	unsigned h = tail_path_hash(f->name);
	f->next_path = t->by_path[h];
	t->by_path[h] = f;
}

void tail_unhash_path(struct tailer *t, struct tail_file *f)
{
	for (struct tail_file **pp = &t->by_path[tail_path_hash(f->name)]; *pp;
	     pp = &(*pp)->next_path)
		if (*pp == f) {
			*pp = f->next_path;
			f->next_path = NULL;
			return;
		}
}

static void unhash_id(struct tailer *t, struct tail_file *f)
{
	for (struct tail_file **pp = &t->by_id[hash_id(f->dev, f->ino)]; *pp; pp = &(*pp)->next_id)
		if (*pp == f) {
			*pp = f->next_id;
			return;
		}
}

struct tail_file *tail_file_open(struct tailer *t, const char *path, const struct stat *st,
				 int64_t offset, bool orphan)
{
	struct stat fs;
	/* O_NONBLOCK: a FIFO put in place of the file between stat and open must not block us.
	 * A symbolic link put there is not followed (ELOOP). */
	int fd = tail_open(t, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd == -ELOOP) {
		tail_skip_link(t, path);
		return NULL;
	}
	if (fd < 0) {
		/* Retried at every rescan: say so a few times, not every 2 s forever. */
		if (fd != -ENOENT && (t->open_errors++ < 10 || t->open_errors % 1000 == 0))
			log_warn("tail", "cannot open '%s': %s (%" PRIu64 " such errors)", path,
				 fd == -EXDEV ? "not under the tailed folder" : strerror(-fd),
				 t->open_errors);
		return NULL;
	}
	/* The very file that was examined: a regular file, same device and inode. */
	if (fstat(fd, &fs) < 0 || !S_ISREG(fs.st_mode) || fs.st_dev != st->st_dev ||
	    fs.st_ino != st->st_ino) {
		close(fd); /* replaced between stat and open: the next scan sees the new one */
		return NULL;
	}
	struct tail_file *f = calloc(1, sizeof(*f));
	/* An overlong line becomes a dead letter with as much of it as the store keeps: whole
	 * when it fits, so that a replay after raising the limit stores it (add_line tells it
	 * from the others); the follower cuts only what the store could not keep anyway. */
	size_t line_max = t->cfg.line_max > EV_CAP_RAW ? t->cfg.line_max : EV_CAP_RAW;
	struct follow_opts o = {.line_max = line_max,
				.head_max = EV_CAP_RAW,
				.read_max = TAIL_READ_CHUNK,
				.log_as = "tail"};
	if (f && (!(f->name = strdup(path)) || !(f->key = strdup(path)) ||
		  follow_attach(&f->fl, fd, &fs, offset, f->name, &o) < 0)) {
		free(f->name);
		free(f->key);
		free(f);
		f = NULL;
	}
	if (!f) {
		close(fd);
		log_error("tail", "cannot follow '%s': out of memory", path);
		return NULL;
	}
	f->dev = (uint64_t)fs.st_dev;
	f->ino = (uint64_t)fs.st_ino;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	f->csv = strstr(base, ".csv") && !strstr(base, ".jsonl");
	f->orphan = orphan;
	f->ready = true;
	f->active_us = tail_mono_us();
	f->next = t->files;
	t->files = f;
	unsigned h = hash_id(f->dev, f->ino);
	f->next_id = t->by_id[h];
	t->by_id[h] = f;
	if (!orphan)
		tail_hash_path(t, f);
	t->n_open++;
	metric_add(&tail_m_files, 1);
	if (offset > 0)
		log_info("tail", "resuming '%s' at byte %" PRId64, path, offset);
	else
		log_info("tail", "following '%s'", path);
	return f;
}

void tail_file_close(struct tailer *t, struct tail_file *f)
{
	for (struct tail_file **pp = &t->files; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	if (!f->orphan)
		tail_unhash_path(t, f);
	unhash_id(t, f);
	follow_close(f->fl);
	t->n_open--;
	metric_add(&tail_m_files, -1);
	csv_header_free(f->hdr);
	free(f->pend);
	free(f->name);
	free(f->key);
	free(f);
}

void tail_file_set_key(struct tailer *t, struct tail_file *f, const char *key)
{
	(void)t;
	char *k = key ? strdup(key) : NULL;
	char *n = key ? strdup(key) : NULL;
	if (key && (!k || !n)) {
		log_error("tail", "out of memory: the offset of '%s' is no longer saved", f->name);
		free(k);
		free(n);
		k = n = NULL;
	}
	free(f->key);
	f->key = k;
	f->slot_gen = 0; /* a new row: the old key's entry in the batch stays as it is */
	f->name_gen = 0;
	if (n) {
		free(f->name);
		f->name = n;
		follow_set_name(f->fl, n);
	}
}

void tail_file_rekey(struct tailer *t, struct tail_file *f)
{
	char link[64], cur[PATH_MAX];
	struct stat st;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", follow_fd(f->fl));
	ssize_t n = readlink(link, cur, sizeof(cur) - 1);
	if (n > 0 && (size_t)n < sizeof(cur) - 1) {
		cur[n] = '\0';
		if ((size_t)n > t->root_n && memcmp(cur, t->root, t->root_n) == 0 &&
		    cur[t->root_n] == '/' && tail_lstat(t, cur, &st) == 0 &&
		    (uint64_t)st.st_dev == f->dev && (uint64_t)st.st_ino == f->ino) {
			tail_file_set_key(t, f, cur);
			return;
		}
	}
	/* Deleted, or moved out of the directory: it is read to the end, but a crash before
	 * that leaves its unread lines behind (nothing at a path says where it went). */
	tail_file_set_key(t, f, NULL);
}

bool tail_batch_full(struct tailer *t)
{
	struct tail_batch *b = &t->b[t->cur];
	return ingest_batch_full(&b->batch) || b->bytes >= TAIL_BATCH_BYTES;
}

int tail_batch_offset(struct tailer *t, struct tail_file *f)
{
	struct tail_batch *b = &t->b[t->cur];
	if (!f->key)
		return 0;
	size_t row = f->slot_gen == b->gen ? f->slot : INGEST_NO_ROW;
	/* A CSV record still open: a restart reads it again from its start. */
	int64_t off = f->pend ? f->pend_off : follow_offset(f->fl);
	int rc = ingest_batch_set_offset(&b->batch, &row, f->key, f->dev, f->ino, off);
	if (rc < 0)
		return rc;
	f->slot = row;
	f->slot_gen = b->gen;
	return 0;
}

static int add_dead(struct tailer *t, struct tail_file *f, int64_t off, const char *reason,
		    const char *raw, size_t n)
{
	struct tail_batch *b = &t->b[t->cur];
	if (n > EV_CAP_RAW)
		n = EV_CAP_RAW; /* what the store keeps */
	int rc = ingest_batch_add_dead(&b->batch, "tail", f->name, off, reason, raw, n);
	if (rc < 0)
		return rc;
	b->bytes += n;
	metric_add(&tail_m_rejected, 1);
	log_debug("tail", "'%s' at byte %" PRId64 ": %s", f->name, off, reason);
	return 0;
}

static int add_overlong(struct tailer *t, struct tail_file *f, int64_t off, const char *head,
			size_t n)
{
	char reason[64];
	snprintf(reason, sizeof(reason), "line longer than %zu bytes", t->cfg.line_max);
	metric_add(&tail_m_received, 1);
	return add_dead(t, f, off, reason, head, n);
}

/* ---- CSV files ---- */

/* A refused CSV header or record: received, and a dead letter. */
static int csv_dead(struct tailer *t, struct tail_file *f, int64_t off, const char *reason,
		    const char *raw, size_t n)
{
	metric_add(&tail_m_received, 1);
	return add_dead(t, f, off, reason, raw, n);
}

/* The header of f read from its first line, for a file resumed past it. */
static int csv_read_header(struct tail_file *f, char *err, size_t errlen)
{
	size_t cap = CSV_ROW_MAX + 2;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	ssize_t r = pread(follow_fd(f->fl), buf, cap, 0);
	int rc;
	const char *lf = r > 0 ? memchr(buf, '\n', (size_t)r) : NULL;
	if (!lf) {
		snprintf(err, errlen, "no header line within %d bytes at the start", CSV_ROW_MAX);
		rc = SIEM_EPARSE;
	} else {
		size_t n = (size_t)(lf - buf);
		while (n && buf[n - 1] == '\r')
			n--;
		rc = csv_header_parse(buf, n, &f->hdr, err, errlen);
	}
	free(buf);
	return rc;
}

/* A CSV line: the header (at byte 0), part of a record whose quoted field spans lines, or
 * a whole record (*p, *n and *off then say where it is). Returns 1 for a record to turn
 * into an event, 0 when there is none (yet), negative on error. A refused header or row is
 * a dead letter. */
static int csv_line(struct tailer *t, struct tail_file *f, const char **p, size_t *n, int64_t *off,
		    json_t **obj, char *err, size_t errlen)
{
	size_t max = t->cfg.line_max < CSV_ROW_MAX ? t->cfg.line_max : CSV_ROW_MAX;
	char why[64];
	int rc;
	snprintf(why, sizeof(why), "row longer than %zu bytes", max);
	if (*off == 0) {
		/* The header; a truncated file starts again with one. */
		csv_header_free(f->hdr);
		f->hdr = NULL;
		free(f->pend);
		f->pend = NULL;
		f->pend_n = 0;
		if ((rc = csv_header_parse(*p, *n, &f->hdr, err, errlen)) == -ENOMEM)
			return rc;
		return rc < 0 ? csv_dead(t, f, 0, err, *p, *n) : 0;
	}
	if (!f->hdr) {
		if ((rc = csv_read_header(f, err, errlen)) == -ENOMEM)
			return rc;
		if (rc < 0)
			return csv_dead(t, f, *off, err, *p, *n);
	}
	if (f->pend) {
		/* The next line of an open record: joined with the line break it had. */
		if (f->pend_n + 1 + *n > max) {
			rc = csv_dead(t, f, f->pend_off, why, f->pend, f->pend_n);
			free(f->pend);
			f->pend = NULL;
			f->pend_n = 0;
			return rc;
		}
		f->pend[f->pend_n++] = '\n';
		memcpy(f->pend + f->pend_n, *p, *n);
		f->pend_n += *n;
		*p = f->pend;
		*n = f->pend_n;
		*off = f->pend_off;
	}
	rc = csv_row_parse(f->hdr, *p, *n, obj, err, errlen);
	if (rc == CSV_MORE) {
		if (!f->pend) {
			if (*n > max)
				return csv_dead(t, f, *off, why, *p, *n);
			if (!(f->pend = malloc(max + 1)))
				return -ENOMEM;
			memcpy(f->pend, *p, *n);
			f->pend_n = *n;
			f->pend_off = *off;
		}
		return 0;
	}
	if (rc == -ENOMEM)
		return rc;
	metric_add(&tail_m_received, 1); /* a record (its lines and the header are not) */
	return 1;
}

/* One CSV record (obj, NULL when csv_row_parse refused it with err) into an event; the
 * record is its raw_message. */
static int csv_to_event(json_t *obj, const char *p, size_t n, int64_t now_us, struct event *ev,
			struct arena *a, char *err, size_t errlen)
{
	if (!obj)
		return SIEM_EPARSE;
	int rc = event_from_json(ev, obj, a, now_us, err, errlen);
	if (rc == 0 && !ev->raw_message.p)
		rc = sv_capped(a, &ev->raw_message, p, n, EV_CAP_RAW, EV_TRUNC_RAW, &ev->flags);
	return rc;
}

/* One complete line (without its "\n" or "\r\n") that starts at byte off. */
static int add_line(struct tailer *t, struct tail_file *f, const char *p, size_t n, int64_t off,
		    int64_t now_us)
{
	struct tail_batch *b = &t->b[t->cur];
	char err[256];
	size_t sp = 0;
	while (sp < n && (p[sp] == ' ' || p[sp] == '\t' || p[sp] == '\r'))
		sp++;
	if (sp == n && !f->pend)
		return 0; /* blank lines are skipped, as in NDJSON (not inside a CSV field) */
	if (n > t->cfg.line_max)
		return add_overlong(t, f, off, p, n);
	if (!f->csv)
		metric_add(&tail_m_received, 1); /* CSV: counted per record (csv_line) */

	json_t *obj = NULL;
	int rc;
	jsonalloc_begin();
	if (f->csv && (rc = csv_line(t, f, &p, &n, &off, &obj, err, sizeof(err))) <= 0) {
		jsonalloc_end();
		return rc; /* the header, a record still open, or a bad header */
	}
	struct event *ev = ingest_batch_add_event(&b->batch); /* the caller checked for room */
	rc = f->csv ? csv_to_event(obj, p, n, now_us, ev, &b->batch.arena, err, sizeof(err))
		    : jsonl_line_to_event(p, n, now_us, ev, &b->batch.arena, err, sizeof(err));
	json_decref(obj);
	jsonalloc_end();
	if (f->pend && p == f->pend) {
		/* The record is whole: its copy goes with the batch, the buffer is free again. */
		char *copy = arena_strndup(&b->batch.arena, p, n);
		free(f->pend);
		f->pend = NULL;
		f->pend_n = 0;
		if (!copy) {
			ingest_batch_cancel_event(&b->batch);
			return -ENOMEM;
		}
		p = copy;
	}
	if (rc < 0) {
		ingest_batch_cancel_event(&b->batch);
		return add_dead(t, f, off, err[0] ? err : siem_strerror(rc), p, n);
	}

	ev->source = (struct sv){"tail", 4};
	if (f->name_gen != b->gen) { /* one copy of the name per batch */
		size_t fn = strlen(f->name);
		f->name_n = fn > EV_CAP_SHORT ? EV_CAP_SHORT : fn;
		if (!(f->name_copy = arena_strndup(&b->batch.arena, f->name, f->name_n))) {
			ingest_batch_cancel_event(&b->batch);
			return add_dead(t, f, off, "out of memory", p, n);
		}
		f->name_gen = b->gen;
	}
	ev->source_file = (struct sv){f->name_copy, f->name_n};
	if (f->name_n < strlen(f->name))
		ev->flags |= EV_TRUNC_OTHER;
	ev->source_offset = off;
	ev->flags |= EV_HAS_OFFSET;
	if (ev->flags & EV_ID_GENERATED) {
		/* Deterministic: a line read again after a crash gets the same id, and the store
		 * keeps it once. The line itself is part of the name: it tells apart the different
		 * lines written at the same offset of the same inode (copy-truncate, a reused
		 * inode). */
		int len = snprintf(t->idbuf, TAIL_ID_PREFIX, "%" PRIu64 ":%" PRIu64 ":%" PRId64 ":",
				   f->dev, f->ino, off);
		memcpy(t->idbuf + len, p, n);
		uuid_v5(t->idbuf, (size_t)len + n, ev->id);
	}
	b->bytes += n;
	return 0;
}

int tail_file_read(struct tailer *t, struct tail_file *f)
{
	struct follow_line ln;
	int64_t before = follow_offset(f->fl), now = ts_now_us();
	int rc = 0;
	while (!tail_batch_full(t)) {
		rc = follow_next(f->fl, &ln);
		if (rc <= 0) {
			/* A read error is logged by the follower and tried again later. */
			f->ready = rc == 0 && !follow_at_end(f->fl);
			rc = rc == -ENOMEM ? rc : 0;
			break;
		}
		rc = ln.cut ? add_overlong(t, f, ln.off, ln.p, ln.n)
			    : add_line(t, f, ln.p, ln.n, ln.off, now);
		if (rc < 0)
			break;
	}
	if (tail_batch_full(t))
		f->ready = true;
	/* Truncated, or lines read: the offset moves, in the transaction of those lines. */
	if (rc == 0 && follow_offset(f->fl) != before)
		rc = tail_batch_offset(t, f);
	return rc;
}

/* A CSV record still open when its file is done: a dead letter, not a silent loss. */
static int finish_csv_record(struct tailer *t, struct tail_file *f)
{
	if (!f->pend)
		return 0;
	int rc = csv_dead(t, f, f->pend_off, "unterminated quoted field", f->pend, f->pend_n);
	free(f->pend);
	f->pend = NULL;
	f->pend_n = 0;
	return rc;
}

int tail_file_finish(struct tailer *t, struct tail_file *f)
{
	struct follow_line ln;
	int64_t end = follow_read_pos(f->fl);
	int rc = 0;
	if (follow_finish(f->fl, &ln) != 0) {
		rc = ln.cut ? add_overlong(t, f, ln.off, ln.p, ln.n)
			    : add_line(t, f, ln.p, ln.n, ln.off, ts_now_us());
		log_info("tail",
			 "'%s' ended without a newline: its last %" PRId64 " bytes taken as a line",
			 f->name, end - ln.off);
	} else if (!f->pend) {
		return 0;
	}
	if (rc == 0)
		rc = finish_csv_record(t, f);
	if (rc == 0)
		rc = tail_batch_offset(t, f);
	return rc;
}
