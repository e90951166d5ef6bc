/* tail.c — the JSON-lines directory tailer: one thread that waits on inotify (and a rescan
 * timer), reads what grew into a batch and hands it to the writer with the files' offsets,
 * so that lines and positions commit together. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "source/tail_int.h"

/* How it behaves (for docs/):
 *
 * - Files: every regular file named *.jsonl under the directory, recursively, also those
 *   created later. Symbolic links are never followed, to files or to directories, nor put in
 *   place of a file or a directory while it is being opened: every path is opened from the
 *   root down with O_NOFOLLOW, and a link is skipped, logged and counted once
 *   (minisiem_tail_links_skipped_total). inotify watches
 *   every directory; a full rescan every poll_ms (2 s) catches what it missed, and is all
 *   there is when inotify is unavailable or out of watches.
 * - Lines: only complete ones ("\n" or "\r\n"); blank lines are skipped. A line longer than
 *   line_max becomes a dead letter "line longer than N bytes", whole when it fits in what
 *   the store keeps (64 KiB; a replay after raising the limit stores it), else its first
 *   64 KiB, the rest skipped up to its newline: never held in memory. Lines that are not
 *   JSON objects, or fail the schema, are dead letters too.
 * - Offsets: a file's row (path, dev, inode, first unread byte) commits in the transaction
 *   of the lines read before it. One batch is in flight at a time; the next is sent once it
 *   has committed (a failed commit is retried), so rows only move forward.
 * - Event ids: a line without its own event_id gets uuid_v5 (the project namespace) of
 *   "<dev>:<ino>:<offset>:<line>": st_dev, st_ino and the byte offset of the line in decimal,
 *   then the line itself (without "\n" or "\r\n"). Read again after a crash, a line gets
 *   the same id and is stored once; the line in the name tells apart the different lines
 *   that copy-truncate or a reused inode put at the same offset of the same inode.
 * - Rotation by rename: the old file stays open, is read to its end before the new file at
 *   its path, then for 5 s after it last grew, then closed; its row follows it to its new
 *   name inside the directory. A deleted file is read to its end through the open
 *   descriptor. Copy-truncate: a file smaller than our position, or whose last line read
 *   (up to 1 KiB of it) is no longer at its place, is read again from byte 0; lines that
 *   were written after our last read and before the truncation are lost (copytruncate's
 *   own race).
 * - Restart: every file resumes at the offset saved for its identity. A path that now
 *   names another file (replaced while the hub was down) starts at 0; the file it named is
 *   read from its saved offset if it is still in the same directory under any name, or
 *   appears there later under a rotated name (a.jsonl.1); else what it got while the hub
 *   was down is lost (logged).
 * - Limits: after a restart the last line read is not known, only that a newline precedes
 *   the saved offset: a file truncated, or deleted and re-created on a reused inode, while
 *   the hub was down, and grown past the saved offset with a newline just before it, has
 *   its beginning skipped. A file renamed to another *.jsonl name while the hub was down is
 *   read again from 0 (its lines are duplicates by id: nothing is stored twice). Copies
 *   named *.jsonl (copytruncate's copy must not end in .jsonl) are new files and read as
 *   such. */

struct metric tail_m_received = METRIC_COUNTER_INIT(
    "minisiem_events_received_total", "source=\"tail\"", "Events received, by source.");
struct metric tail_m_rejected = METRIC_COUNTER_INIT(
    "minisiem_events_rejected_total", "source=\"tail\"", "Events refused as malformed, by source.");
struct metric tail_m_accepted = METRIC_COUNTER_INIT("minisiem_events_accepted_total",
						    "source=\"tail\"", "Events stored, by source.");
struct metric tail_m_dups =
    METRIC_COUNTER_INIT("minisiem_events_duplicates_total", "source=\"tail\"",
			"Events already stored (same event_id), by source.");
struct metric tail_m_dead =
    METRIC_COUNTER_INIT("minisiem_dead_letters_total", "source=\"tail\"",
			"Records that could not be parsed, kept in dead_letters, by source.");
struct metric tail_m_files =
    METRIC_GAUGE_INIT("minisiem_tail_files", NULL, "Files the JSON-lines tailer has open.");
struct metric tail_m_links =
    METRIC_COUNTER_INIT("minisiem_tail_links_skipped_total", NULL,
			"Symbolic links in the tailed folder, not followed (each counted once).");

#define SUBMIT_WAIT_MS 200
#define BACKOFF_MIN_US 100000LL
#define BACKOFF_MAX_US 5000000LL
#define STOP_SUBMIT_US 5000000LL /* at stop, how long a full queue may hold the last batch */

int64_t tail_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void wake(struct tailer *t)
{
	uint64_t one = 1;
	ssize_t r = write(t->wake_fd, &one, sizeof(one));
	(void)r; /* only fails when the counter is already huge: we are woken anyway */
}

/* From the pipeline, after the commit (or its failure). */
static void batch_done(struct ingest_batch *ib)
{
	struct tail_batch *b = ib->ctx;
	struct tailer *t = b->t;
	pthread_mutex_lock(&t->mu);
	b->done = true;
	wake(t); /* under the lock: once the tailer sees done, we no longer touch it */
	pthread_mutex_unlock(&t->mu);
}

static bool batch_done_now(struct tailer *t, struct tail_batch *b)
{
	pthread_mutex_lock(&t->mu);
	bool d = b->done;
	pthread_mutex_unlock(&t->mu);
	return d;
}

static bool batch_has_work(const struct tail_batch *b)
{
	return b->batch.n || b->batch.n_dead || b->batch.n_offsets;
}

static void batch_reset(struct tailer *t, struct tail_batch *b)
{
	ingest_batch_reset(&b->batch);
	b->bytes = 0;
	b->inflight = b->done = false;
	b->gen = ++t->gen;
}

static int batch_init(struct tailer *t, struct tail_batch *b)
{
	size_t n = t->cfg.batch_max;
	b->t = t;
	if (ingest_batch_init(&b->batch, n, n, 0) < 0)
		return -ENOMEM;
	b->batch.done = batch_done;
	b->batch.ctx = b;
	batch_reset(t, b);
	return 0;
}

/* Queue b, waiting while the queue is full (backpressure: the tailer never drops). Gives
 * up only when the pipeline closes, or at stop after STOP_SUBMIT_US. */
static int submit(struct tailer *t, struct tail_batch *b)
{
	b->batch.rc = 0;
	b->done = false;
	int64_t give_up = 0;
	for (;;) {
		int rc = pipeline_submit_wait(t->pipe, &b->batch, SUBMIT_WAIT_MS);
		if (rc == 0) {
			b->inflight = true;
			return 0;
		}
		if (rc != SIEM_EFULL)
			return rc;
		if (atomic_load(&t->stopping)) {
			int64_t now = tail_mono_us();
			if (!give_up)
				give_up = now + STOP_SUBMIT_US;
			else if (now >= give_up)
				return rc;
		}
	}
}

/* The batch in flight, if it has finished: count it, or retry it after a failed commit.
 * Nothing read after it is sent before it has committed, so offsets only move forward. */
static void collect(struct tailer *t)
{
	struct tail_batch *b = &t->b[t->cur ^ 1];
	if (!b->inflight || !batch_done_now(t, b))
		return;
	if (b->batch.rc == 0) {
		metric_add(&tail_m_accepted, (int64_t)b->batch.accepted);
		metric_add(&tail_m_dups, (int64_t)b->batch.duplicates);
		metric_add(&tail_m_dead, (int64_t)b->batch.n_dead);
		t->backoff_us = 0;
		t->retry_us = 0;
		batch_reset(t, b);
		return;
	}
	int64_t now = tail_mono_us();
	if (!t->retry_us) {
		t->backoff_us = t->backoff_us ? t->backoff_us * 2 : BACKOFF_MIN_US;
		if (t->backoff_us > BACKOFF_MAX_US)
			t->backoff_us = BACKOFF_MAX_US;
		t->retry_us = now + t->backoff_us;
		log_error("tail", "commit of %zu lines failed (%s): retrying in %lld ms",
			  ingest_batch_records(&b->batch), siem_strerror(b->batch.rc),
			  (long long)(t->backoff_us / 1000));
		return;
	}
	if (now < t->retry_us)
		return;
	t->retry_us = 0;
	int rc = submit(t, b);
	if (rc < 0) {
		b->inflight = false;
		t->closed = true;
		log_warn("tail", "the writer is stopping: %zu lines left for the next start",
			 ingest_batch_records(&b->batch));
		batch_reset(t, b);
	}
}

/* Send the batch being filled when nothing is in flight. */
static void flush(struct tailer *t)
{
	struct tail_batch *b = &t->b[t->cur];
	if (t->closed || !batch_has_work(b) || t->b[t->cur ^ 1].inflight)
		return;
	int rc = submit(t, b);
	if (rc < 0) {
		t->closed = true;
		log_warn("tail", "the writer is stopping: %zu lines left for the next start",
			 ingest_batch_records(&b->batch));
		batch_reset(t, b);
		return;
	}
	t->cur ^= 1;
}

static void read_ready(struct tailer *t)
{
	/* Rotated files first: the old file is finished before the new one at its path. */
	for (int pass = 0; pass < 2; pass++) {
		for (struct tail_file *f = t->files; f; f = f->next) {
			if (f->orphan != (pass == 0) || (!f->ready && !f->orphan))
				continue;
			if (tail_batch_full(t))
				return;
			int rc = tail_file_read(t, f);
			if (rc < 0)
				log_error("tail", "reading '%s': %s", f->name, siem_strerror(rc));
		}
	}
}

/* An orphan read to its end and quiet for TAIL_ROTATE_WAIT_US is closed. */
static void close_orphans(struct tailer *t)
{
	int64_t now = tail_mono_us();
	struct tail_file *next;
	for (struct tail_file *f = t->files; f; f = next) {
		next = f->next;
		int64_t data_us = follow_last_data_ms(f->fl) * 1000;
		int64_t active = f->active_us > data_us ? f->active_us : data_us;
		if (!f->orphan || f->ready || now - active < TAIL_ROTATE_WAIT_US)
			continue;
		if (tail_batch_full(t))
			return;
		tail_file_finish(t, f);
		log_info("tail", "done with '%s'", f->name);
		tail_file_close(t, f);
	}
}

static bool any_ready(struct tailer *t, bool *orphans)
{
	bool r = false;
	*orphans = false;
	for (struct tail_file *f = t->files; f; f = f->next) {
		if (f->orphan)
			*orphans = true;
		else if (f->ready)
			r = true;
	}
	return r;
}

static int wait_timeout(struct tailer *t, int64_t now)
{
	bool orphans;
	struct tail_batch *b = &t->b[t->cur];
	bool inflight = t->b[t->cur ^ 1].inflight;
	if (t->closed)
		return 1000;
	if (!inflight && batch_has_work(b))
		return 0;
	bool ready = any_ready(t, &orphans);
	if (ready && !tail_batch_full(t))
		return 0;
	int64_t until = t->rescan_now ? now : t->next_rescan_us;
	if (orphans && until > now + TAIL_ORPHAN_POLL_MS * 1000LL)
		until = now + TAIL_ORPHAN_POLL_MS * 1000LL;
	if (t->retry_us && until > t->retry_us)
		until = t->retry_us;
	if (until <= now)
		return 0;
	int64_t ms = (until - now + 999) / 1000;
	return ms > 60000 ? 60000 : (int)ms;
}

static void drain_wake(struct tailer *t)
{
	uint64_t v;
	ssize_t r = read(t->wake_fd, &v, sizeof(v));
	(void)r;
}

/* At stop: the batch in hand is sent, and what is in flight is waited for (the writer
 * uses its memory until done). */
static void finish(struct tailer *t)
{
	for (int round = 0; round < 2; round++) {
		struct tail_batch *f = &t->b[t->cur ^ 1];
		while (f->inflight) {
			if (batch_done_now(t, f)) {
				if (f->batch.rc < 0) {
					log_error("tail",
						  "commit of %zu lines failed at stop (%s): they "
						  "are read again at the next start",
						  ingest_batch_records(&f->batch),
						  siem_strerror(f->batch.rc));
					batch_reset(t, f);
					t->closed = true; /* what came after it must not commit */
				} else {
					collect(t);
				}
				break;
			}
			struct pollfd pfd = {.fd = t->wake_fd, .events = POLLIN};
			poll(&pfd, 1, 100);
			drain_wake(t);
		}
		if (round == 0)
			flush(t);
	}
}

static void *tail_main(void *arg)
{
	struct tailer *t = arg;
	int rc = tail_fs_start(t);
	if (rc < 0)
		log_error("tail", "first scan of '%s' failed: %s", t->root, siem_strerror(rc));
	t->next_rescan_us = tail_mono_us() + t->cfg.poll_ms * 1000LL;
	while (!atomic_load(&t->stopping)) {
		int64_t now = tail_mono_us();
		if (t->rescan_now || now >= t->next_rescan_us) {
			t->rescan_now = false;
			tail_fs_rescan(t);
			t->next_rescan_us = tail_mono_us() + t->cfg.poll_ms * 1000LL;
		}
		collect(t);
		if (!t->closed) {
			read_ready(t);
			close_orphans(t);
		}
		flush(t);
		collect(t);

		struct pollfd pfd[2] = {{.fd = t->wake_fd, .events = POLLIN},
					{.fd = t->ino_fd, .events = POLLIN}};
		int n = poll(pfd, t->ino_fd >= 0 ? 2 : 1, wait_timeout(t, tail_mono_us()));
		if (n > 0 && (pfd[0].revents & POLLIN))
			drain_wake(t);
		if (n > 0 && t->ino_fd >= 0 && (pfd[1].revents & POLLIN))
			tail_fs_events(t);
	}
	finish(t);
	return NULL;
}

static void tailer_free(struct tailer *t)
{
	while (t->files)
		tail_file_close(t, t->files);
	tail_fs_release(t);
	ingest_batch_release(&t->b[0].batch);
	ingest_batch_release(&t->b[1].batch);
	if (t->wake_fd >= 0)
		close(t->wake_fd);
	pthread_mutex_destroy(&t->mu);
	free(t->idbuf);
	free(t->root);
	free(t);
}

int tailer_start(struct tailer **out, const struct tail_config *cfg, struct store *s,
		 struct pipeline *p)
{
	struct stat st;
	int rc;
	if (!cfg || !cfg->dir || !cfg->dir[0] || !s || !p)
		return -EINVAL;
	struct tailer *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	t->cfg.dir = NULL; /* the caller's string; t->root is ours */
	if (t->cfg.poll_ms <= 0)
		t->cfg.poll_ms = TAIL_DEFAULT_POLL_MS;
	if (!t->cfg.batch_max)
		t->cfg.batch_max = TAIL_DEFAULT_BATCH;
	if (!t->cfg.line_max)
		t->cfg.line_max = TAIL_DEFAULT_LINE_MAX;
	t->store = s;
	t->pipe = p;
	t->wake_fd = t->ino_fd = -1;
	pthread_mutex_init(&t->mu, NULL);
	atomic_init(&t->stopping, false);

	if (!(t->root = realpath(cfg->dir, NULL)) || stat(t->root, &st) < 0) {
		rc = -errno;
		log_error("tail", "cannot open '%s': %s", cfg->dir, strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		rc = -ENOTDIR;
		log_error("tail", "'%s' is not a directory", cfg->dir);
		goto fail;
	}
	t->root_n = strlen(t->root);
	if (t->root_n == 1) /* "/": paths below it are "/x", not "//x" */
		t->root_n = 0;
	if (!(t->idbuf = malloc(TAIL_ID_PREFIX + t->cfg.line_max)) || batch_init(t, &t->b[0]) < 0 ||
	    batch_init(t, &t->b[1]) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		goto fail;
	}
	tail_fs_init(t);
	metric_register(&tail_m_received);
	metric_register(&tail_m_rejected);
	metric_register(&tail_m_accepted);
	metric_register(&tail_m_dups);
	metric_register(&tail_m_dead);
	metric_register(&tail_m_files);
	metric_register(&tail_m_links);
	if ((rc = -pthread_create(&t->thread, NULL, tail_main, t)) < 0)
		goto fail;
	log_info("tail", "tailing *.jsonl and *.csv under '%s' (%s, rescan every %d ms)", t->root,
		 t->ino_fd >= 0 ? "inotify" : "polling", t->cfg.poll_ms);
	*out = t;
	return 0;
fail:
	tailer_free(t);
	return rc;
}

void tailer_get_stats(struct tailer *t, struct tailer_stats *st)
{
	st->dir = t->root;
	st->running = !atomic_load(&t->stopping);
	st->files = metric_get(&tail_m_files);
}

void tailer_stop(struct tailer *t)
{
	if (!t)
		return;
	atomic_store(&t->stopping, true);
	wake(t);
	pthread_join(t->thread, NULL);
	tailer_free(t);
}
