/* tail_fs.c — finding the files to tail: a recursive walk of the directory (at start, then
 * every poll_ms as a safety net), inotify for what changes in between, and the decisions on
 * rotation, truncation, deletion and where to resume after a restart. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "source/nofollow.h"
#include "source/tail_int.h"

#ifdef SIEM_TEST_SEAMS
bool tail_test_no_inotify;
#endif

#define DIR_MASK                                                                            \
	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY | IN_DELETE_SELF | \
	 IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

/* A candidate of the first scan: a *.jsonl file, or a sibling whose name contains ".jsonl"
 * (a.jsonl.1, a.jsonl-20240101: what rotation by rename leaves behind). */
struct cand {
	char *path;
	struct stat st;
	bool jsonl;
};

/* A saved position: which file (by identity) was read up to where, and under which path. */
struct saved {
	uint64_t dev, ino;
	int64_t off;
	const char *path;
	bool used;
};

struct scan {
	bool initial;
	bool siblings; /* runtime: also look at rotated names (see sibling_appeared) */
	struct cand *c;
	size_t n, cap;
};

/* A followed file: *.jsonl or *.csv. */
static bool is_jsonl(const char *name)
{
	size_t n = strlen(name);
	return (n > 6 && memcmp(name + n - 6, ".jsonl", 6) == 0) ||
	       (n > 4 && memcmp(name + n - 4, ".csv", 4) == 0);
}

/* Where a followed file's extension occurs in a name (a.jsonl.1, a.csv-2024...), or NULL. */
static const char *ext_in(const char *name, size_t *len)
{
	const char *j = strstr(name, ".jsonl");
	*len = 6;
	if (!j) {
		j = strstr(name, ".csv");
		*len = 4;
	}
	return j;
}

static bool same_file(const struct stat *st, const struct tail_file *f)
{
	return (uint64_t)st->st_dev == f->dev && (uint64_t)st->st_ino == f->ino;
}

int tail_open(struct tailer *t, const char *path, int flags)
{
	return nofollow_open(t->root, t->root_n, path, flags);
}

int tail_lstat(struct tailer *t, const char *path, struct stat *st)
{
	return nofollow_lstat(t->root, t->root_n, path, st);
}

/* The root (as the operator named it) or a directory below it. */
static int open_dir(struct tailer *t, const char *dir)
{
	if (strcmp(dir, t->root) != 0)
		return tail_open(t, dir, O_RDONLY | O_DIRECTORY);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void tail_skip_link(struct tailer *t, const char *path)
{
	unsigned h = tail_path_hash(path);
	for (struct tail_link *l = t->links[h]; l; l = l->next)
		if (strcmp(l->path, path) == 0)
			return;
	if (t->n_links == TAIL_LINKS_MAX)
		return;
	size_t n = strlen(path) + 1;
	struct tail_link *l = malloc(sizeof(*l) + n);
	if (!l)
		return;
	memcpy(l->path, path, n);
	l->next = t->links[h];
	t->links[h] = l;
	metric_add(&tail_m_links, 1);
	if (++t->n_links == TAIL_LINKS_MAX)
		log_warn("tail",
			 "skipping '%s': symbolic links are not followed (%d links skipped; "
			 "others are skipped without a word)",
			 path, TAIL_LINKS_MAX);
	else
		log_warn("tail",
			 "skipping '%s': symbolic links in the tailed folder are not followed",
			 path);
}

int tail_fs_init(struct tailer *t)
{
	t->ino_fd = -1;
	if (tail_test_no_inotify)
		return 0;
	t->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (t->ino_fd < 0)
		log_warn("tail", "inotify unavailable (%s): polling '%s' every %d ms",
			 strerror(errno), t->root, t->cfg.poll_ms);
	return 0;
}

void tail_fs_release(struct tailer *t)
{
	for (size_t i = 0; i < t->n_watches; i++)
		free(t->watches[i].path);
	free(t->watches);
	t->watches = NULL;
	t->n_watches = 0;
	if (t->ino_fd >= 0)
		close(t->ino_fd);
	t->ino_fd = -1;
	for (size_t i = 0; i < TAIL_HASH; i++) {
		struct tail_link *next;
		for (struct tail_link *l = t->links[i]; l; l = next) {
			next = l->next;
			free(l);
		}
		t->links[i] = NULL;
	}
	t->n_links = 0;
}

static void watch_dir(struct tailer *t, const char *path)
{
	if (t->ino_fd < 0)
		return;
	int wd = inotify_add_watch(t->ino_fd, path, DIR_MASK);
	if (wd < 0) {
		static atomic_bool warned;
		if ((errno == ENOSPC || errno == ENOMEM) && !atomic_exchange(&warned, true))
			log_warn("tail",
				 "no more inotify watches (%s): '%s' and others are polled "
				 "every %d ms (raise fs.inotify.max_user_watches)",
				 strerror(errno), path, t->cfg.poll_ms);
		return;
	}
	if ((size_t)wd >= t->n_watches) {
		size_t n = (size_t)wd + 64;
		struct tail_watch *w = realloc(t->watches, n * sizeof(*w));
		if (!w)
			return;
		memset(w + t->n_watches, 0, (n - t->n_watches) * sizeof(*w));
		t->watches = w;
		t->n_watches = n;
	}
	struct tail_watch *w = &t->watches[wd];
	if (w->path && strcmp(w->path, path) == 0)
		return;
	char *p = strdup(path);
	if (!p)
		return;
	free(w->path); /* the same directory under a new name (renamed) */
	w->path = p;
	w->wd = wd;
}

/* f's path no longer names it (renamed, deleted, or replaced by another file). */
void tail_fs_orphan(struct tailer *t, struct tail_file *f)
{
	if (f->orphan)
		return;
	char *old = strdup(f->name);
	tail_unhash_path(t, f);
	f->orphan = true;
	f->ready = true;
	f->active_us = tail_mono_us();
	tail_file_rekey(t, f);
	/* Its row under the new name goes in the batch now, ahead of any row of the file that
	 * takes its old path: after a crash it is found there, whatever committed first. */
	if (tail_batch_offset(t, f) < 0)
		log_error("tail", "out of memory saving the offset of '%s'", f->name);
	if (f->key && old && strcmp(old, f->name) != 0)
		log_info("tail", "'%s' was renamed to '%s': reading it to the end", old, f->name);
	else
		log_info("tail", "'%s' was rotated or deleted: reading it to the end",
			 old ? old : f->name);
	free(old);
}

/* A *.jsonl regular file at path (runtime: new files start at byte 0). */
static void found(struct tailer *t, const char *path, const struct stat *st)
{
	struct tail_file *f = tail_find_id(t, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
	if (f) {
		f->seen = true;
		if (!f->orphan && strcmp(f->name, path) == 0) {
			if (st->st_size != follow_read_pos(f->fl))
				f->ready = true;
			return;
		}
		struct stat o;
		if (!f->orphan) {
			if (tail_lstat(t, f->name, &o) == 0 && same_file(&o, f))
				return; /* a second name (a hard link): read it once */
			tail_unhash_path(t, f);
			f->orphan = true;
		}
		/* Renamed within the directory, or an orphan that got a *.jsonl name: follow it. */
		struct tail_file *g = tail_find_path(t, path);
		if (g && g != f)
			tail_fs_orphan(t, g);
		char *old = strdup(f->name);
		tail_file_set_key(t, f, path);
		f->orphan = false;
		tail_hash_path(t, f);
		f->ready = true;
		if (tail_batch_offset(t, f) < 0)
			log_error("tail", "out of memory saving the offset of '%s'", f->name);
		if (old && strcmp(old, path) != 0)
			log_info("tail", "'%s' is now '%s'", old, path);
		free(old);
		return;
	}
	struct tail_file *g = tail_find_path(t, path);
	if (g)
		tail_fs_orphan(t, g); /* rotated: the old file is finished first */
	if ((f = tail_file_open(t, path, st, 0, false)))
		f->seen = true;
}

/* Does f's path still name f? If not, f is an orphan, and whatever is there now is new. */
static void check_path(struct tailer *t, struct tail_file *f)
{
	struct stat st;
	if (f->orphan || (tail_lstat(t, f->name, &st) == 0 && same_file(&st, f)))
		return;
	char *path = strdup(f->name);
	tail_fs_orphan(t, f);
	if (path && tail_lstat(t, path, &st) == 0) {
		if (S_ISREG(st.st_mode))
			found(t, path, &st);
		else if (S_ISLNK(st.st_mode))
			tail_skip_link(t, path);
	}
	free(path);
}

static void sibling_appeared(struct tailer *t, const char *path);

static void add_cand(struct scan *sc, const char *path, const struct stat *st, bool jsonl)
{
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 64;
		struct cand *c = realloc(sc->c, cap * sizeof(*c));
		if (!c)
			return;
		sc->c = c;
		sc->cap = cap;
	}
	char *p = strdup(path);
	if (!p)
		return;
	sc->c[sc->n++] = (struct cand){p, *st, jsonl};
}

/* Walk the directory open as dfd (whose path is path[0..len)), and what is below it. */
static void walk(struct tailer *t, int dfd, char *path, size_t len, int depth, struct scan *sc)
{
	watch_dir(t, path);
	DIR *d = fdopendir(dfd);
	if (!d) {
		log_warn("tail", "cannot read directory '%s': %s", path, strerror(errno));
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		size_t nl = strlen(name);
		if (len + 1 + nl >= PATH_MAX)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, name, nl + 1);
		unsigned char type = de->d_type;
		struct stat st;
		bool have_st = false;
		if (type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			have_st = true;
			type = S_ISDIR(st.st_mode)   ? DT_DIR
			       : S_ISLNK(st.st_mode) ? DT_LNK
			       : S_ISREG(st.st_mode) ? DT_REG
						     : DT_UNKNOWN;
		}
		if (type == DT_LNK) {
			tail_skip_link(t, path);
			continue;
		}
		if (type == DT_DIR) {
			if (depth >= TAIL_MAX_DEPTH)
				continue;
			int sub =
			    openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				walk(t, sub, path, len + 1 + nl, depth + 1, sc);
			else if (errno == ELOOP)
				tail_skip_link(t, path); /* made a link since readdir */
			else if (errno != ENOENT && errno != ENOTDIR)
				log_warn("tail", "cannot read directory '%s': %s", path,
					 strerror(errno));
			continue;
		}
		if (type != DT_REG)
			continue;
		bool jl = is_jsonl(name);
		size_t el;
		if (!jl && !((sc->initial || sc->siblings) && ext_in(name, &el)))
			continue;
		if (!have_st && fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			tail_skip_link(t, path);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (sc->initial)
			add_cand(sc, path, &st, jl);
		else if (!jl)
			sibling_appeared(t, path);
		else
			found(t, path, &st);
	}
	path[len] = '\0';
	closedir(d);
}

static void walk_from(struct tailer *t, const char *dir, struct scan *sc)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);
	if (n >= sizeof(path))
		return;
	memcpy(path, dir, n + 1);
	int fd = open_dir(t, dir);
	if (fd == -ELOOP)
		tail_skip_link(t, dir);
	else if (fd < 0 && fd != -ENOENT && fd != -ENOTDIR)
		log_warn("tail", "cannot read directory '%s': %s", dir, strerror(-fd));
	if (fd >= 0)
		walk(t, fd, path, n, 0, sc);
}

static struct saved *saved_find(struct saved *s, size_t n, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].dev == dev && s[i].ino == ino)
			return &s[i];
	return NULL;
}

/* The file with identity (dev, ino) in the directory of path, under any name. */
static char *find_in_dir(struct tailer *t, const char *path, uint64_t dev, uint64_t ino,
			 struct stat *st)
{
	char dir[PATH_MAX], p[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	int dfd = open_dir(t, dir[0] ? dir : "/");
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return NULL;
	}
	char *out = NULL;
	struct dirent *de;
	while (!out && (de = readdir(d))) {
		if (de->d_ino != ino)
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >= sizeof(p))
			continue;
		if (fstatat(dirfd(d), de->d_name, st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st->st_mode) && (uint64_t)st->st_dev == dev &&
		    (uint64_t)st->st_ino == ino)
			out = strdup(p);
	}
	closedir(d);
	return out;
}

/* The saved offset of path, merged into sv by file identity (the furthest wins). */
static int lookup(struct tailer *t, const char *path, struct saved *sv, size_t *nsv)
{
	uint64_t dev = 0, ino = 0;
	int64_t off = 0;
	bool ok = false;
	int rc = store_get_offset(t->store, path, &dev, &ino, &off, &ok);
	if (rc < 0) {
		log_error("tail", "cannot read the saved offset of '%s': %s", path,
			  siem_strerror(rc));
		return rc;
	}
	if (!ok)
		return 0;
	for (size_t i = 0; i < *nsv; i++)
		if (sv[i].dev == dev && sv[i].ino == ino) {
			if (off > sv[i].off)
				sv[i].off = off;
			return 0;
		}
	sv[(*nsv)++] = (struct saved){dev, ino, off, path, false};
	return 0;
}

/* "dir/a.jsonl.1" -> "dir/a.jsonl" (malloc'd), NULL when the name has no ".jsonl". */
static char *rotated_from(const char *path)
{
	const char *name = strrchr(path, '/');
	name = name ? name + 1 : path;
	size_t el;
	const char *j = ext_in(name, &el);
	if (!j || j == name)
		return NULL;
	return strndup(path, (size_t)(j + el - path));
}

static bool is_cand(const struct scan *sc, const char *path)
{
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->c[i].path, path) == 0)
			return true;
	return false;
}

/* The first scan. Each *.jsonl file resumes at the offset saved for its identity (dev and
 * inode), under whichever path it was saved. A path whose saved identity is another file
 * was rotated or replaced: it starts at 0, and the file it used to name is read out from
 * its offset if it is still in the same directory under any name. Rotated siblings
 * (a.jsonl.1, a.jsonl-2024...) are read out too when a row, theirs or the one of the name
 * they were rotated from, says they were not read to the end. Whether a resumed offset
 * still fits the file (not past its end, just after a newline) is checked by the first
 * read. Saved rows of paths that exist no more are not seen otherwise (the store cannot
 * list them): a file renamed while the hub was down to another *.jsonl name is read
 * again from 0, its lines recognized as duplicates by their ids. */
int tail_fs_start(struct tailer *t)
{
	struct scan sc = {.initial = true};
	struct saved *sv = NULL;
	char **bases = NULL;
	size_t nsv = 0;
	int rc = 0;

	walk_from(t, t->root, &sc);
	/* Two lookups per candidate at most: its own path, and for a rotated sibling the path
	 * it was rotated from (a.jsonl.1 -> a.jsonl), which may no longer exist. */
	if (sc.n &&
	    (!(sv = calloc(2 * sc.n, sizeof(*sv))) || !(bases = calloc(sc.n, sizeof(*bases))))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < sc.n && rc == 0; i++) {
		rc = lookup(t, sc.c[i].path, sv, &nsv);
		if (rc == 0 && !sc.c[i].jsonl && (bases[i] = rotated_from(sc.c[i].path)) &&
		    !is_cand(&sc, bases[i]))
			rc = lookup(t, bases[i], sv, &nsv);
	}
	if (rc < 0)
		goto out;
	/* Followed files first, then rotated siblings with a saved offset (read out). */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sc.n; i++) {
			struct cand *c = &sc.c[i];
			if (c->jsonl != (pass == 0))
				continue;
			if (tail_find_id(t, (uint64_t)c->st.st_dev, (uint64_t)c->st.st_ino))
				continue; /* a second name of a file already followed */
			struct saved *s =
			    saved_find(sv, nsv, (uint64_t)c->st.st_dev, (uint64_t)c->st.st_ino);
			if (!c->jsonl && (!s || s->off >= (int64_t)c->st.st_size))
				continue; /* an archive read to its end */
			if (s)
				s->used = true;
			tail_file_open(t, c->path, &c->st, s ? s->off : 0, !c->jsonl);
		}
	}
	for (size_t i = 0; i < nsv; i++) {
		struct stat st;
		if (sv[i].used || tail_find_id(t, sv[i].dev, sv[i].ino))
			continue;
		char *p = find_in_dir(t, sv[i].path, sv[i].dev, sv[i].ino, &st);
		if (p && st.st_size > sv[i].off) {
			log_info("tail", "'%s' was rotated to '%s' while the hub was down",
				 sv[i].path, p);
			tail_file_open(t, p, &st, sv[i].off, true);
		} else if (!p) {
			log_warn("tail",
				 "the file read as '%s' was replaced while the hub was down and "
				 "is gone: whatever it got after byte %" PRId64 " is not read",
				 sv[i].path, sv[i].off);
		}
		free(p);
	}
out:
	for (size_t i = 0; i < sc.n; i++) {
		free(sc.c[i].path);
		if (bases)
			free(bases[i]);
	}
	free(sc.c);
	free(bases);
	free(sv);
	return rc;
}

void tail_fs_rescan(struct tailer *t)
{
	/* Without inotify nothing tells of a file rotated while the first scan ran: the first
	 * rescan looks at rotated names once. */
	struct scan sc = {.initial = false, .siblings = t->ino_fd < 0 && !t->siblings_checked};
	t->siblings_checked = true;
	for (struct tail_file *f = t->files; f; f = f->next)
		f->seen = false;
	walk_from(t, t->root, &sc);
	struct tail_file *next;
	for (struct tail_file *f = t->files; f; f = next) {
		next = f->next;
		if (!f->orphan && !f->seen)
			check_path(t, f);
	}
}

/* A rotated name (a.jsonl.1) appeared for a file we do not have open: it was rotated
 * before we could open it (while the first scan ran). If a saved row says it was not read
 * to its end, it is read out like any rotated file. */
static void sibling_appeared(struct tailer *t, const char *path)
{
	struct saved sv[2];
	size_t nsv = 0;
	struct stat st;
	if (tail_lstat(t, path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    tail_find_id(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino))
		return;
	char *base = rotated_from(path);
	if (lookup(t, path, sv, &nsv) == 0 && base)
		lookup(t, base, sv, &nsv);
	struct saved *s = saved_find(sv, nsv, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	if (s && s->off < (int64_t)st.st_size) {
		log_info("tail", "'%s' was rotated before it could be opened", path);
		tail_file_open(t, path, &st, s->off, true);
	}
	free(base);
}

static void on_event(struct tailer *t, const struct inotify_event *e)
{
	if (e->mask & IN_Q_OVERFLOW) {
		t->rescan_now = true;
		return;
	}
	if (e->wd < 0 || (size_t)e->wd >= t->n_watches || !t->watches[e->wd].path)
		return;
	struct tail_watch *w = &t->watches[e->wd];
	if (e->mask & IN_IGNORED) {
		free(w->path);
		w->path = NULL;
		return;
	}
	if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		t->rescan_now = true;
		return;
	}
	if (!e->len || !e->name[0])
		return;
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", w->path, e->name) >= sizeof(path))
		return;
	if (e->mask & IN_ISDIR) {
		if (e->mask & (IN_CREATE | IN_MOVED_TO)) {
			struct scan sc = {.initial = false};
			walk_from(t, path, &sc);
		} else if (e->mask & (IN_MOVED_FROM | IN_DELETE)) {
			t->rescan_now = true; /* the files under it moved or went */
		}
		return;
	}
	struct tail_file *f = tail_find_path(t, path);
	if ((e->mask & IN_MODIFY) && f) {
		f->ready = true;
		return;
	}
	if (e->mask & (IN_MOVED_FROM | IN_DELETE)) {
		if (f)
			check_path(t, f);
		return;
	}
	if (!is_jsonl(e->name)) {
		size_t el;
		if ((e->mask & (IN_CREATE | IN_MOVED_TO)) && ext_in(e->name, &el))
			sibling_appeared(t, path);
		return;
	}
	struct stat st;
	int rc = tail_lstat(t, path, &st);
	if (rc == 0 && S_ISREG(st.st_mode)) {
		found(t, path, &st);
		return;
	}
	if (rc == 0 && S_ISLNK(st.st_mode))
		tail_skip_link(t, path);
	if (f)
		check_path(t, f);
}

void tail_fs_events(struct tailer *t)
{
	_Alignas(struct inotify_event) char buf[64 * 1024];
	if (t->ino_fd < 0)
		return;
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = read(t->ino_fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)(void *)p;
			on_event(t, e);
			p += sizeof(*e) + e->len;
		}
	}
}
