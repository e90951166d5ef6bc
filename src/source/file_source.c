/* file_source.c — the file sources: linux-auth (one followed file, auth decoders) and jsonl:DIR
 * (every *.jsonl below a directory), each line an event with a deterministic id. */
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

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "parse/logline.h"
#include "core/tz.h"
#include "source/follow.h"
#include "source/nofollow.h"
#include "source/source.h"

#define JSONL_RESCAN_MS 2000
#define JSONL_MAX_FILES 1024
#define JSONL_MAX_DEPTH 8

struct ffile {
	struct follow *f;
	char *key; /* "file:<path>" */
	bool seen;
};

struct fsrc {
	enum log_format fmt;
	char *dir; /* jsonl: the directory */
	struct ffile *files;
	size_t n, cap;
	size_t rr; /* jsonl: the file read first next time (round robin) */
	int64_t next_scan_ms;
	char **forget; /* keys of files gone, removed from the state at the next commit */
	size_t nforget;
	bool full_logged;
	struct tz_map *zones; /* linux-auth: this machine's zone, which the file's times are in */
};

static int jsonl_scan(struct source *s);

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deterministic event id of a line of a file: UUIDv5 of host, inode, offset and the line.
 * The path is left out: a renamed file keeps its inode, and its lines their ids. The line is
 * in: it tells apart lines written at one offset of one inode (copy-truncate). */
static void line_id(const struct source *s, uint64_t ino, int64_t off, const char *line, size_t n,
		    uint8_t id[16])
{
	char stack[2048], *buf = stack;
	int k = snprintf(stack, 320, "agent:%.255s:%" PRIu64 ":%" PRId64 ":",
			 s->cfg->host ? s->cfg->host : "", ino, off);
	if ((size_t)k + n > sizeof(stack)) {
		if (!(buf = malloc((size_t)k + n))) {
			uuid_v4(id); /* out of memory: a fresh id (a re-read may duplicate) */
			return;
		}
		memcpy(buf, stack, (size_t)k);
	}
	memcpy(buf + k, line, n);
	uuid_v5(buf, (size_t)k + n, id);
	if (buf != stack)
		free(buf);
}

static int add_file(struct source *s, const char *path)
{
	struct fsrc *fs = s->priv;
	struct follow_pos pos, *saved = NULL;
	/* jsonl: no symbolic link leads out of the folder; linux-auth: out of the file's own. */
	struct follow_opts o = {.rotate_wait_ms = s->cfg->once ? 0 : s->cfg->rotate_wait_ms,
				.root = fs->dir};
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 4;
		struct ffile *v = realloc(fs->files, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		fs->files = v;
		fs->cap = cap;
	}
	size_t kn = strlen(path) + 6;
	char *key = malloc(kn);
	if (!key)
		return -ENOMEM;
	snprintf(key, kn, "file:%s", path);
	if (follow_pos_parse(source_saved(s, key), &pos) == 0)
		saved = &pos;
	struct ffile *ff = &fs->files[fs->n];
	int rc = follow_open(&ff->f, path, saved, &o);
	if (rc < 0) {
		free(key);
		return rc;
	}
	ff->key = key;
	ff->seen = true;
	fs->n++;
	return 0;
}

static void drop_file(struct fsrc *fs, size_t i)
{
	char **v = realloc(fs->forget, (fs->nforget + 1) * sizeof(*v));
	if (v) {
		fs->forget = v;
		fs->forget[fs->nforget++] = fs->files[i].key;
	} else {
		free(fs->files[i].key);
	}
	follow_close(fs->files[i].f);
	fs->files[i] = fs->files[--fs->n];
}

/* One line of the file at path into an event. */
static void take_line(struct source *s, const char *path, const struct follow_line *ln)
{
	struct fsrc *fs = s->priv;
	struct event ev;
	char err[256];
	size_t sp = 0;
	while (sp < ln->n && (ln->p[sp] == ' ' || ln->p[sp] == '\t' || ln->p[sp] == '\r'))
		sp++;
	if (sp == ln->n)
		return; /* blank */
	const char *host = s->cfg->host;
	struct logline_ctx ctx = {.source = "agent",
				  .os_type = fs->fmt == FMT_AUTH ? "LINUX" : NULL,
				  .host = host,
				  .zones = fs->zones};
	int rc = logline_to_event(fs->fmt, ln->p, ln->n, &ctx, ts_now_us(), &ev, s->sink->arena,
				  err, sizeof(err), NULL);
	if (rc < 0) {
		char where[4200];
		snprintf(where, sizeof(where), "'%s' at byte %lld", path, (long long)ln->off);
		source_reject(s, where, err[0] ? err : siem_strerror(rc));
		return;
	}
	if (ev.flags & EV_ID_GENERATED) {
		line_id(s, ln->ino, ln->off, ln->p, ln->n, ev.id);
		ev.flags &= ~(unsigned)EV_ID_GENERATED;
	}
	/* A JSON line that names no host: this machine (the parser's default is "unknown"). */
	if (host && (!ev.source_host.p ||
		     (ev.source_host.n == 7 && !memcmp(ev.source_host.p, "unknown", 7))))
		ev.source_host = (struct sv){host, strlen(host)};
	size_t pn = strlen(path);
	ev.source_file = (struct sv){path, pn > EV_CAP_SHORT ? EV_CAP_SHORT : pn};
	ev.source_offset = ln->off;
	ev.flags |= EV_HAS_OFFSET;
	source_emit(s, &ev);
}

/* Read up to room lines from one followed file. Returns the lines consumed. */
static int read_file(struct source *s, struct ffile *ff, size_t room)
{
	struct follow_line ln;
	int n = 0;
	const char *path = follow_path(ff->f);
	while ((size_t)n < room && follow_next(ff->f, &ln) > 0) {
		n++;
		take_line(s, path, &ln);
	}
	return n;
}

static int linux_auth_open(struct source *s)
{
	struct fsrc *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	s->priv = fs;
	fs->fmt = FMT_AUTH;
	/* syslog writes its traditional file format ("Dec 10 06:55:46") in local time. */
	char err[256];
	if (tz_map_parse("localtime", &fs->zones, err, sizeof(err)) < 0)
		log_warn("agent", "linux-auth: %s: times are read as UTC", err);
	const char *path = s->arg;
	if (!path) {
		struct stat st;
		path = stat("/var/log/auth.log", &st) == 0 || stat("/var/log/secure", &st) < 0
			   ? "/var/log/auth.log"
			   : "/var/log/secure";
	}
	log_info("agent", "linux-auth: following '%s'", path);
	return add_file(s, path);
}

static int file_read(struct source *s, size_t room)
{
	struct fsrc *fs = s->priv;
	int total = 0;
	if (fs->dir && mono_ms() >= fs->next_scan_ms) {
		jsonl_scan(s);
		fs->next_scan_ms = mono_ms() + JSONL_RESCAN_MS;
	}
	for (size_t k = 0; k < fs->n && (size_t)total < room; k++) {
		size_t i = (fs->rr + k) % fs->n;
		total += read_file(s, &fs->files[i], room - (size_t)total);
	}
	if (fs->n)
		fs->rr = (fs->rr + 1) % fs->n;
	return total;
}

static int file_commit(struct source *s)
{
	struct fsrc *fs = s->priv;
	char buf[128];
	for (size_t i = 0; i < fs->n; i++) {
		struct follow_pos p;
		follow_get_pos(fs->files[i].f, &p);
		if (p.ino == 0 && p.off == 0)
			continue; /* not opened yet: nothing to remember */
		if (follow_pos_format(&p, buf, sizeof(buf)) == 0)
			source_checkpoint(s, fs->files[i].key, buf);
	}
	for (size_t i = 0; i < fs->nforget; i++) {
		source_checkpoint(s, fs->forget[i], NULL);
		free(fs->forget[i]);
	}
	fs->nforget = 0;
	return 0;
}

static void file_close(struct source *s)
{
	struct fsrc *fs = s->priv;
	for (size_t i = 0; i < fs->n; i++) {
		follow_close(fs->files[i].f);
		free(fs->files[i].key);
	}
	for (size_t i = 0; i < fs->nforget; i++)
		free(fs->forget[i]);
	free(fs->forget);
	free(fs->files);
	free(fs->dir);
	tz_map_free(fs->zones);
	free(fs);
	s->priv = NULL;
}

const struct source_ops src_linux_auth = {"linux-auth", linux_auth_open, file_read, file_commit,
					  file_close};

/* ---- jsonl:DIR ---- */

static bool is_jsonl(const char *name)
{
	size_t n = strlen(name);
	return n > 6 && !strcmp(name + n - 6, ".jsonl") && name[0] != '.';
}

/* The folder, and each one below it, is opened without following a symbolic link (a link
 * is skipped like any other entry that is not a *.jsonl regular file or a folder). */
static void scan_dir(struct source *s, const char *dir, int depth)
{
	struct fsrc *fs = s->priv;
	size_t root_n = strcmp(fs->dir, "/") ? strlen(fs->dir) : 0;
	int fd = depth == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
			    : nofollow_open(fs->dir, root_n, dir, O_RDONLY | O_DIRECTORY);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", root_n || depth ? dir : "", e->d_name) >=
			(int)sizeof(path) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < JSONL_MAX_DEPTH)
				scan_dir(s, path, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode) || !is_jsonl(e->d_name))
			continue;
		bool known = false;
		for (size_t i = 0; i < fs->n && !known; i++)
			if (!strcmp(follow_path(fs->files[i].f), path))
				known = fs->files[i].seen = true;
		if (known)
			continue;
		if (fs->n >= JSONL_MAX_FILES) {
			if (!fs->full_logged)
				log_error("agent",
					  "%s: more than %d files: '%s' and later ones are "
					  "not read",
					  s->spec, JSONL_MAX_FILES, path);
			fs->full_logged = true;
			continue;
		}
		log_info("agent", "%s: following '%s'", s->spec, path);
		add_file(s, path);
	}
	closedir(d);
}

static int jsonl_scan(struct source *s)
{
	struct fsrc *fs = s->priv;
	for (size_t i = 0; i < fs->n; i++)
		fs->files[i].seen = false;
	scan_dir(s, fs->dir, 0);
	for (size_t i = 0; i < fs->n;) {
		if (!fs->files[i].seen && follow_gone(fs->files[i].f)) {
			log_info("agent", "%s: '%s' is gone", s->spec, follow_path(fs->files[i].f));
			drop_file(fs, i);
			continue;
		}
		i++;
	}
	return 0;
}

static int jsonl_open(struct source *s)
{
	struct fsrc *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	s->priv = fs;
	fs->fmt = FMT_JSONL;
	size_t n = strlen(s->arg);
	while (n > 1 && s->arg[n - 1] == '/')
		n--;
	if (!(fs->dir = strndup(s->arg, n)))
		return -ENOMEM;
	struct stat st;
	if (stat(fs->dir, &st) < 0 || !S_ISDIR(st.st_mode))
		log_warn("agent", "%s: '%s' is not a directory (yet): looked for again", s->spec,
			 fs->dir);
	jsonl_scan(s);
	fs->next_scan_ms = mono_ms() + JSONL_RESCAN_MS;
	return 0;
}

const struct source_ops src_jsonl = {"jsonl", jsonl_open, file_read, file_commit, file_close};
