/* evtx_source.c — evtx:FILE|DIR: exported Windows event logs read record by record (source/evtx.h),
 * with each file's inode and next record remembered; growing and new files picked up. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "source/evtx.h"
#include "source/source.h"

#define EVTX_RESCAN_MS 10000
#define EVTX_MAX_FILES 4096

struct efile {
	char *path, *key;
	struct evtx_reader *r;
	uint64_t ino;
	int64_t size, mtime;
	size_t next, count;
	bool seen;
};

struct esrc {
	char *root;
	bool is_dir;
	struct efile *f;
	size_t n, cap;
	int64_t next_scan_ms;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void load_pos(struct source *s, struct efile *f)
{
	const char *v = source_saved(s, f->key);
	uint64_t ino;
	size_t next;
	if (v && sscanf(v, "ino=%" SCNu64 " next=%zu", &ino, &next) == 2 && ino == f->ino)
		f->next = next;
}

/* (Re)open a file whose size or time changed. */
static void refresh(struct source *s, struct efile *f, const struct stat *st)
{
	if (f->r && (uint64_t)st->st_ino == f->ino && st->st_size == f->size &&
	    (int64_t)st->st_mtime == f->mtime)
		return;
	if (f->r)
		evtx_close(f->r);
	f->r = NULL;
	if ((uint64_t)st->st_ino != f->ino && f->ino) {
		log_info("agent", "%s: '%s' was replaced: reading it from its first record",
			 s->spec, f->path);
		f->next = 0;
	}
	f->ino = (uint64_t)st->st_ino;
	f->size = st->st_size;
	f->mtime = (int64_t)st->st_mtime;
	int rc = evtx_open(&f->r, f->path);
	if (rc < 0) {
		log_warn("agent", "%s: cannot open '%s': %s", s->spec, f->path, siem_strerror(rc));
		f->r = NULL;
		f->count = 0;
		return;
	}
	f->count = evtx_count(f->r);
	if (f->next > f->count)
		f->next = f->count;
}

static void see(struct source *s, const char *path, const struct stat *st)
{
	struct esrc *e = s->priv;
	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->f[i].path, path)) {
			e->f[i].seen = true;
			refresh(s, &e->f[i], st);
			return;
		}
	if (e->n >= EVTX_MAX_FILES)
		return;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		struct efile *v = realloc(e->f, cap * sizeof(*v));
		if (!v)
			return;
		e->f = v;
		e->cap = cap;
	}
	struct efile *f = &e->f[e->n];
	memset(f, 0, sizeof(*f));
	size_t kn = strlen(path) + 6;
	if (!(f->path = strdup(path)) || !(f->key = malloc(kn))) {
		free(f->path);
		return;
	}
	snprintf(f->key, kn, "evtx:%s", path);
	f->ino = (uint64_t)st->st_ino;
	load_pos(s, f);
	f->ino = 0; /* refresh opens it */
	f->seen = true;
	e->n++;
	refresh(s, f, st);
	if (f->r)
		log_info("agent", "%s: '%s': %zu records, from record %zu", s->spec, path, f->count,
			 f->next);
}

static void scan(struct source *s)
{
	struct esrc *e = s->priv;
	struct stat st;
	for (size_t i = 0; i < e->n; i++)
		e->f[i].seen = false;
	if (!e->is_dir) {
		if (stat(e->root, &st) == 0 && S_ISREG(st.st_mode))
			see(s, e->root, &st);
		return;
	}
	DIR *d = opendir(e->root);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[4096];
		size_t n = strlen(de->d_name);
		if (n < 6 || strcasecmp(de->d_name + n - 5, ".evtx") || de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", e->root, de->d_name) >= (int)sizeof(path))
			continue;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			see(s, path, &st);
	}
	closedir(d);
}

static int evtx_src_open(struct source *s)
{
	struct esrc *e = calloc(1, sizeof(*e));
	struct stat st;
	if (!e)
		return -ENOMEM;
	s->priv = e;
	if (!(e->root = strdup(s->arg)))
		return -ENOMEM;
	e->is_dir = stat(e->root, &st) == 0 && S_ISDIR(st.st_mode);
	scan(s);
	e->next_scan_ms = mono_ms() + EVTX_RESCAN_MS;
	return 0;
}

static int evtx_src_read(struct source *s, size_t room)
{
	struct esrc *e = s->priv;
	int n = 0;
	char err[256];
	if (mono_ms() >= e->next_scan_ms) {
		scan(s);
		e->next_scan_ms = mono_ms() + EVTX_RESCAN_MS;
	}
	for (size_t i = 0; i < e->n && (size_t)n < room; i++) {
		struct efile *f = &e->f[i];
		while (f->r && f->next < f->count && (size_t)n < room) {
			struct event ev;
			err[0] = '\0';
			int rc = evtx_read(f->r, f->next, &ev, s->sink->arena, err, sizeof(err));
			if (rc < 0) {
				char where[4200];
				snprintf(where, sizeof(where), "'%s' record %zu", f->path, f->next);
				source_reject(s, where, err[0] ? err : siem_strerror(rc));
			} else {
				source_emit(s, &ev);
			}
			f->next++;
			n++;
		}
	}
	return n;
}

static int evtx_src_commit(struct source *s)
{
	struct esrc *e = s->priv;
	char buf[64];
	for (size_t i = 0; i < e->n; i++) {
		if (!e->f[i].ino)
			continue;
		snprintf(buf, sizeof(buf), "ino=%" PRIu64 " next=%zu", e->f[i].ino, e->f[i].next);
		source_checkpoint(s, e->f[i].key, buf);
	}
	return 0;
}

static void evtx_src_close(struct source *s)
{
	struct esrc *e = s->priv;
	for (size_t i = 0; i < e->n; i++) {
		if (e->f[i].r)
			evtx_close(e->f[i].r);
		free(e->f[i].path);
		free(e->f[i].key);
	}
	free(e->f);
	free(e->root);
	free(e);
	s->priv = NULL;
}

const struct source_ops src_evtx = {"evtx", evtx_src_open, evtx_src_read, evtx_src_commit,
				    evtx_src_close};
