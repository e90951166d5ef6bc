/* spool.c — batches waiting for the hub, one "<seq>.spl" file each (header with event count,
 * length and CRC-32, then NDJSON), written as a temporary file, fsync'd and renamed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "agent/plat.h"
#include "agent/spool.h"
#include "core/log.h"

#define SPOOL_MAGIC "MSPOOL1"
#define SPOOL_HDR_MAX 64
#define SPOOL_FILE_MAX ((size_t)1 << 30)

struct spool_item {
	uint64_t seq;
	uint64_t bytes; /* whole file */
	uint32_t events;
};

struct spool_list {
	struct spool_item *v;
	size_t n, cap;
};

struct spool {
	char *dir, *aside;
	uint64_t max_bytes;
	uint64_t total, aside_total;
	struct spool_list q, a; /* sorted by seq, oldest first */
	uint64_t next_seq;
	uint64_t dropped_batches, dropped_events, aside_dropped;
};

static uint32_t crc_of(const char *p, size_t n)
{
	uLong c = crc32(0L, Z_NULL, 0);
	while (n) {
		uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
		c = crc32(c, (const Bytef *)p, k);
		p += k;
		n -= k;
	}
	return (uint32_t)c;
}

static int list_push(struct spool_list *l, struct spool_item it)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct spool_item *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = it;
	return 0;
}

static void list_shift(struct spool_list *l)
{
	if (l->n > 1)
		memmove(l->v, l->v + 1, (l->n - 1) * sizeof(*l->v));
	l->n--;
}

static int cmp_item(const void *x, const void *y)
{
	const struct spool_item *a = x, *b = y;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void path_of(char *buf, size_t n, const char *dir, uint64_t seq, const char *ext)
{
	snprintf(buf, n, "%s" PLAT_SEP "%016" PRIx64 "%s", dir, seq, ext);
}

/* "MSPOOL1 <events> <bytes> <crc>\n": 0 and the header's length, or SIEM-style -EBADMSG. */
static int parse_header(const char *p, size_t n, uint32_t *events, uint64_t *bytes, uint32_t *crc,
			size_t *hlen)
{
	const char *nl = memchr(p, '\n', n < SPOOL_HDR_MAX ? n : SPOOL_HDR_MAX);
	char hdr[SPOOL_HDR_MAX + 1], magic[16];
	unsigned ev, c;
	unsigned long long b;
	if (!nl)
		return -EBADMSG;
	memcpy(hdr, p, (size_t)(nl - p));
	hdr[nl - p] = '\0';
	if (sscanf(hdr, "%15s %u %llu %x", magic, &ev, &b, &c) != 4 || strcmp(magic, SPOOL_MAGIC))
		return -EBADMSG;
	*events = ev;
	*bytes = b;
	*crc = c;
	*hlen = (size_t)(nl - p) + 1;
	return 0;
}

struct scan {
	struct spool *s;
	struct spool_list *l;
	const char *dir;
	int rc;
	unsigned tmp_removed;
};

/* Read a file's header only: its event count, and whether its size is the one announced. */
static int check_file(const char *path, uint32_t *events, uint64_t *size)
{
	char *buf = NULL;
	size_t n = 0;
	uint64_t bytes;
	uint32_t crc;
	size_t hlen;
	int rc = plat_read_file(path, SPOOL_FILE_MAX, &buf, &n);
	*events = 0;
	*size = n;
	if (rc < 0)
		return rc;
	rc = parse_header(buf, n, events, &bytes, &crc, &hlen);
	if (rc == 0 && (hlen + bytes != n || crc_of(buf + hlen, (size_t)bytes) != crc))
		rc = -EBADMSG;
	free(buf);
	return rc;
}

static int scan_one(void *ctx, const char *name)
{
	struct scan *sc = ctx;
	char path[4200];
	uint64_t seq;
	int used = 0;
	size_t len = strlen(name);
	if (len == 20 && !strcmp(name + 16, ".tmp")) {
		/* Interrupted before its rename: the positions of its events were never saved,
		 * so they are read again from their source. */
		snprintf(path, sizeof(path), "%s" PLAT_SEP "%s", sc->dir, name);
		plat_unlink(path);
		sc->tmp_removed++;
		return 0;
	}
	if (len != 20 || strcmp(name + 16, ".spl") ||
	    sscanf(name, "%16" SCNx64 "%n", &seq, &used) != 1 || used != 16)
		return 0;
	snprintf(path, sizeof(path), "%s" PLAT_SEP "%s", sc->dir, name);
	uint32_t events;
	uint64_t size;
	int rc = check_file(path, &events, &size);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		sc->s->dropped_batches++;
		sc->s->dropped_events += events;
		log_error("spool",
			  "'%s' is damaged (%s): dropped, its %" PRIu32
			  " events are lost (0 when unknown)",
			  path, rc == -EBADMSG ? "bad header, length or checksum" : strerror(-rc),
			  events);
		plat_unlink(path);
		return 0;
	}
	if (seq >= sc->s->next_seq)
		sc->s->next_seq = seq + 1;
	if ((rc = list_push(sc->l, (struct spool_item){seq, size, events})) < 0)
		return rc;
	return 0;
}

static int load_dir(struct spool *s, struct spool_list *l, const char *dir, uint64_t *total)
{
	struct scan sc = {s, l, dir, 0, 0};
	int rc = plat_list(dir, scan_one, &sc);
	if (rc < 0)
		return rc;
	if (sc.tmp_removed)
		log_info("spool",
			 "removed %u batch files a crash left half written in '%s' (their "
			 "events are read again)",
			 sc.tmp_removed, dir);
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_item);
	*total = 0;
	for (size_t i = 0; i < l->n; i++)
		*total += l->v[i].bytes;
	return 0;
}

int spool_open(struct spool **out, const char *dir, const char *aside, uint64_t max_bytes)
{
	struct spool *s = calloc(1, sizeof(*s));
	int rc;
	*out = NULL;
	if (!s || !(s->dir = strdup(dir)) || !(s->aside = strdup(aside))) {
		rc = -ENOMEM;
		goto fail;
	}
	s->max_bytes = max_bytes;
	s->next_seq = 1;
	if ((rc = plat_mkdirs(dir)) < 0 || (rc = plat_mkdirs(aside)) < 0) {
		log_error("spool", "cannot create '%s': %s", rc == 0 ? aside : dir, strerror(-rc));
		goto fail;
	}
	if ((rc = load_dir(s, &s->q, dir, &s->total)) < 0 ||
	    (rc = load_dir(s, &s->a, aside, &s->aside_total)) < 0) {
		log_error("spool", "cannot read '%s': %s", dir, strerror(-rc));
		goto fail;
	}
	if (s->q.n)
		log_info("spool", "%" PRIu64 " batches (%" PRIu64 " bytes) waiting in '%s'",
			 (uint64_t)s->q.n, s->total, dir);
	if (s->a.n)
		log_warn("spool", "%" PRIu64 " batches the hub refused are kept in '%s'",
			 (uint64_t)s->a.n, aside);
	*out = s;
	return 0;
fail:
	spool_close(s);
	return rc;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	free(s->q.v);
	free(s->a.v);
	free(s->dir);
	free(s->aside);
	free(s);
}

bool spool_empty(const struct spool *s)
{
	return s->q.n == 0;
}

static void drop_oldest(struct spool *s, struct spool_list *l, const char *dir, uint64_t *total,
			bool aside)
{
	char path[4200];
	struct spool_item it = l->v[0];
	path_of(path, sizeof(path), dir, it.seq, ".spl");
	plat_unlink(path);
	*total -= it.bytes;
	list_shift(l);
	if (aside) {
		s->aside_dropped++;
		log_error(
		    "spool",
		    "set-aside directory full: removed the oldest refused batch '%s' (%" PRIu32
		    " events)",
		    path, it.events);
		return;
	}
	s->dropped_batches++;
	s->dropped_events += it.events;
	log_error("spool",
		  "SPOOL FULL (%" PRIu64 " bytes max): dropped the oldest batch, %" PRIu32
		  " events lost (%" PRIu64 " events dropped so far)",
		  s->max_bytes, it.events, s->dropped_events);
}

static int write_batch(struct spool *s, const char *dir, struct spool_list *l, uint64_t *total,
		       const char *body, size_t n, uint32_t events, bool aside)
{
	char hdr[SPOOL_HDR_MAX], tmp[4200], path[4200];
	int h = snprintf(hdr, sizeof(hdr), SPOOL_MAGIC " %" PRIu32 " %zu %08" PRIx32 "\n", events,
			 n, crc_of(body, n));
	uint64_t size = (uint64_t)h + n;
	if (size > s->max_bytes) {
		if (aside) {
			s->aside_dropped++;
		} else {
			s->dropped_batches++;
			s->dropped_events += events;
		}
		log_error("spool",
			  "a batch of %" PRIu64 " bytes is larger than the whole spool: "
			  "dropped, %" PRIu32 " events lost",
			  size, events);
		return 0;
	}
	while (l->n && *total + size > s->max_bytes)
		drop_oldest(s, l, dir, total, aside);
	char *buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, hdr, (size_t)h);
	memcpy(buf + h, body, n);
	uint64_t seq = s->next_seq++;
	path_of(tmp, sizeof(tmp), dir, seq, ".tmp");
	path_of(path, sizeof(path), dir, seq, ".spl");
	int rc = plat_write_new(tmp, path, buf, (size_t)size);
	free(buf);
	if (rc < 0) {
		log_error("spool", "cannot write '%s': %s", path, strerror(-rc));
		return rc;
	}
	if ((rc = list_push(l, (struct spool_item){seq, size, events})) < 0)
		return rc;
	*total += size;
	return 0;
}

int spool_put(struct spool *s, const char *body, size_t n, uint32_t events)
{
	return write_batch(s, s->dir, &s->q, &s->total, body, n, events, false);
}

int spool_set_aside_body(struct spool *s, const char *body, size_t n, uint32_t events)
{
	return write_batch(s, s->aside, &s->a, &s->aside_total, body, n, events, true);
}

int spool_peek(struct spool *s, struct spool_batch *b)
{
	memset(b, 0, sizeof(*b));
	while (s->q.n) {
		struct spool_item it = s->q.v[0];
		char path[4200];
		char *buf = NULL;
		size_t n = 0, hlen = 0;
		uint64_t bytes = 0;
		uint32_t events = 0, crc = 0;
		path_of(path, sizeof(path), s->dir, it.seq, ".spl");
		int rc = plat_read_file(path, SPOOL_FILE_MAX, &buf, &n);
		if (rc == 0)
			rc = parse_header(buf, n, &events, &bytes, &crc, &hlen);
		if (rc == 0 && (hlen + bytes != n || crc_of(buf + hlen, (size_t)bytes) != crc))
			rc = -EBADMSG;
		if (rc == 0) {
			*b = (struct spool_batch){buf, buf + hlen, (size_t)bytes, events, it.seq};
			return 0;
		}
		free(buf);
		if (rc == -ENOMEM)
			return rc;
		log_error("spool", "'%s' is damaged (%s): dropped, %" PRIu32 " events lost", path,
			  rc == -EBADMSG ? "bad header, length or checksum" : strerror(-rc),
			  it.events);
		plat_unlink(path);
		s->total -= it.bytes;
		s->dropped_batches++;
		s->dropped_events += it.events;
		list_shift(&s->q);
	}
	return -ENOENT;
}

int spool_pop(struct spool *s, uint64_t seq)
{
	char path[4200];
	if (!s->q.n || s->q.v[0].seq != seq)
		return -EINVAL;
	path_of(path, sizeof(path), s->dir, seq, ".spl");
	int rc = plat_unlink(path);
	if (rc < 0 && rc != -ENOENT) {
		log_error("spool", "cannot remove '%s': %s", path, strerror(-rc));
		return rc; /* it would be sent again: the hub keeps one copy */
	}
	s->total -= s->q.v[0].bytes;
	list_shift(&s->q);
	return 0;
}

int spool_set_aside(struct spool *s, uint64_t seq)
{
	char from[4200], to[4200];
	if (!s->q.n || s->q.v[0].seq != seq)
		return -EINVAL;
	struct spool_item it = s->q.v[0];
	while (s->a.n && s->aside_total + it.bytes > s->max_bytes)
		drop_oldest(s, &s->a, s->aside, &s->aside_total, true);
	path_of(from, sizeof(from), s->dir, seq, ".spl");
	path_of(to, sizeof(to), s->aside, seq, ".spl");
	int rc = plat_rename(from, to);
	if (rc < 0) {
		log_error("spool", "cannot move '%s' to '%s': %s", from, to, strerror(-rc));
		return rc;
	}
	s->total -= it.bytes;
	list_shift(&s->q);
	if (list_push(&s->a, it) == 0)
		s->aside_total += it.bytes;
	return 0;
}

void spool_get_stats(const struct spool *s, struct spool_stats *st)
{
	*st = (struct spool_stats){
	    .files = s->q.n,
	    .bytes = s->total,
	    .dropped_batches = s->dropped_batches,
	    .dropped_events = s->dropped_events,
	    .aside_files = s->a.n,
	    .aside_dropped = s->aside_dropped,
	};
}
