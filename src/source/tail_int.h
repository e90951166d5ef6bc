/* tail_int.h — what the tailer's files share: the tailer, the files it follows, and the batch
 * that lines are read into. Private to src/source/tail*.c. */
#ifndef SIEM_TAIL_INT_H
#define SIEM_TAIL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/metrics.h"
#include "ingest/batch.h"
#include "ingest/pipeline.h"
#include "source/follow.h"
#include "source/tail.h"
#include "store/store.h"

#define TAIL_DEFAULT_POLL_MS 2000
#define TAIL_DEFAULT_BATCH 5000
#define TAIL_BATCH_BYTES ((size_t)4 << 20) /* a batch is sent once it holds this much text */
#define TAIL_READ_CHUNK ((size_t)1 << 20)
#define TAIL_ROTATE_WAIT_US (5 * 1000000LL) /* a rotated file is read this long after EOF */
#define TAIL_ORPHAN_POLL_MS 250
#define TAIL_MAX_DEPTH 64
#define TAIL_HASH 1024	    /* buckets of the path and identity tables */
#define TAIL_ID_PREFIX 64   /* room for "dev:ino:offset:" in decimal */
#define TAIL_LINKS_MAX 4096 /* symbolic links remembered, so that each is logged once */

/* Test seam, compiled in only with -DSIEM_TEST_SEAMS (the unit-test build): when set before
 * tailer_start, inotify is not used (the polling fallback). Elsewhere it is constant false. */
#ifdef SIEM_TEST_SEAMS
extern bool tail_test_no_inotify;
#else
#define tail_test_no_inotify false
#endif

/* One file being read (its lines through source/follow.h). A followed file is found by its
 * path; an orphan is a file whose path now names another file or nothing (rotated,
 * deleted): it is read to EOF, then for TAIL_ROTATE_WAIT_US more in case its writer still
 * appends, then closed. */
struct tail_file {
	char *name; /* the path it was last known by: source_file, dead letters, logs */
	char *key;  /* its file_offsets row (== name while followed), NULL: not saved */
	bool orphan;
	struct follow *fl; /* the open file, its position (the offset to save) and lines */
	uint64_t dev, ino;
	bool ready;	   /* may have unread data */
	bool seen;	   /* found again by the rescan in progress */
	int64_t active_us; /* orphans: when it became one */
	uint64_t slot_gen; /* the batch whose offsets[slot] is this file's row */
	size_t slot;
	uint64_t name_gen; /* the batch holding name_copy, its copy of name (capped) */
	const char *name_copy;
	size_t name_n;
	/* A CSV file (its name has ".csv" and no ".jsonl"): its header (the line at byte 0,
	 * read again from there when resuming), and a record whose quoted field spans lines,
	 * kept until its last line arrives (the offset saved meanwhile is its start). */
	bool csv;
	struct csv_header *hdr;
	char *pend;
	size_t pend_n;
	int64_t pend_off;
	struct tail_file *next, *next_path, *next_id;
};

/* Lines read (batch_max at most, events and dead letters) and the files' offsets after them. */
struct tail_batch {
	struct ingest_batch batch;
	size_t bytes; /* text read into it */
	uint64_t gen;
	bool inflight, done; /* done is set by the writer thread, under t->mu */
	struct tailer *t;
};

struct tail_watch {
	int wd;
	char *path;
};

/* A symbolic link found in the folder: never followed, logged and counted once. */
struct tail_link {
	struct tail_link *next;
	char path[];
};

struct tailer {
	struct tail_config cfg;
	char *root; /* realpath of cfg.dir */
	size_t root_n;
	struct store *store;
	struct pipeline *pipe;

	pthread_t thread;
	atomic_bool stopping;
	int wake_fd;		    /* eventfd: stop, commits */
	int ino_fd;		    /* inotify, -1 when polling only */
	struct tail_watch *watches; /* indexed by wd */
	size_t n_watches;
	bool rescan_now;
	bool siblings_checked;
	int64_t next_rescan_us;

	struct tail_file *files;
	struct tail_file *by_path[TAIL_HASH], *by_id[TAIL_HASH];
	size_t n_open;
	uint64_t open_errors;
	struct tail_link *links[TAIL_HASH];
	size_t n_links;

	char *idbuf; /* "dev:ino:offset:" and a line: the name of its event id */

	pthread_mutex_t mu;
	struct tail_batch b[2];
	int cur; /* the batch being filled; the other may be in flight */
	uint64_t gen;
	int64_t retry_us; /* when a failed commit is tried again */
	int64_t backoff_us;
	bool closed; /* the pipeline refused a batch: it is stopping */
};

/* tail.c */
extern struct metric tail_m_received, tail_m_rejected, tail_m_accepted, tail_m_dups, tail_m_dead,
    tail_m_files, tail_m_links;
int64_t tail_mono_us(void);
/* Room left in the batch being filled. */
bool tail_batch_full(struct tailer *t);

/* tail_file.c */
struct tail_file *tail_file_open(struct tailer *t, const char *path, const struct stat *st,
				 int64_t offset, bool orphan);
void tail_file_close(struct tailer *t, struct tail_file *f);
/* Read f into the batch until EOF or the batch is full. Returns 0 or a negative error. */
int tail_file_read(struct tailer *t, struct tail_file *f);
/* A file about to be closed for good: its unfinished last line is taken as it is. */
int tail_file_finish(struct tailer *t, struct tail_file *f);
/* An orphan's offsets row moves to where it can still be found (or none: NULL key). */
void tail_file_rekey(struct tailer *t, struct tail_file *f);
/* Save f under key from now on, and name it so; a followed file's caller re-hashes it. */
void tail_file_set_key(struct tailer *t, struct tail_file *f, const char *key);
/* Save f's position in the batch being filled. */
int tail_batch_offset(struct tailer *t, struct tail_file *f);

unsigned tail_path_hash(const char *path);
struct tail_file *tail_find_path(struct tailer *t, const char *path);
struct tail_file *tail_find_id(struct tailer *t, uint64_t dev, uint64_t ino);
void tail_hash_path(struct tailer *t, struct tail_file *f);
void tail_unhash_path(struct tailer *t, struct tail_file *f);

/* tail_fs.c */
/* Paths are reached from the root down without following any symbolic link (nofollow.h), so
 * that a link in the folder never leads out of it. Both return a negative errno: -ELOOP
 * when a link is on the way, -EXDEV when path is not under the root. tail_open adds
 * O_NOFOLLOW and O_CLOEXEC to flags. */
int tail_open(struct tailer *t, const char *path, int flags);
int tail_lstat(struct tailer *t, const char *path, struct stat *st);
/* A symbolic link at path was not followed: logged and counted the first time only. */
void tail_skip_link(struct tailer *t, const char *path);
int tail_fs_init(struct tailer *t);
void tail_fs_release(struct tailer *t);
/* The first scan: resume every file from its saved offset. */
int tail_fs_start(struct tailer *t);
/* Walk the tree: new files and directories, rotations, deletions. */
void tail_fs_rescan(struct tailer *t);
/* Handle what inotify reported. */
void tail_fs_events(struct tailer *t);
/* f's path no longer names it: read it out as an orphan. */
void tail_fs_orphan(struct tailer *t, struct tail_file *f);

#endif
