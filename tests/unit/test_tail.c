/* test_tail.c — the JSON-lines tailer against a real store and pipeline: complete lines only,
 * CRLF, new files and subdirectories, rotation (rename, copy-truncate), deletion, dead
 * letters, long lines, backpressure, polling, resuming exactly after a restart, and symbolic
 * links never followed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "ingest/pipeline.h"
#include "source/tail.h"
#include "source/tail_int.h"
#include "store/store.h"

#define DEADLINE_MS 10000
#define TS "2024-03-15T12:00:00Z"

static char BASE[PATH_MAX], LOGS[PATH_MAX], DB[PATH_MAX];
static struct store *S;
static struct pipeline *P;
static struct tailer *T;
static struct tail_config CFG;
static size_t QUEUE_MAX;
static int64_t DUPS0;

/* The backpressure test holds the writer in a job's done() until the gate opens. */
static pthread_mutex_t GMU = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t GCV = PTHREAD_COND_INITIALIZER;
static bool GATE_IN, GATE_OPEN;
static int JOBS_DONE;

/* ---- fixture ---- */

static int setup(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/test_tail.XXXXXX";
	log_set_level(LOG_LVL_ERROR);
	if (!mkdtemp(tmpl) || !realpath(tmpl, BASE))
		return -1;
	if ((size_t)snprintf(LOGS, sizeof(LOGS), "%s/logs", BASE) >= sizeof(LOGS) ||
	    (size_t)snprintf(DB, sizeof(DB), "%s/store.db", BASE) >= sizeof(DB) ||
	    mkdir(LOGS, 0755) < 0)
		return -1;
	memset(&CFG, 0, sizeof(CFG));
	CFG.dir = LOGS;
	QUEUE_MAX = 200000;
	tail_test_no_inotify = false;
	DUPS0 = metric_get(&tail_m_dups);
	return 0;
}

static void start_all(void)
{
	struct store_config c;
	memset(&c, 0, sizeof(c));
	store_config_defaults(&c);
	c.dir = DB;
	c.cache_mb = 4;
	assert_int_equal(store_open(&S, &c), 0);
	assert_int_equal(pipeline_start(&P, S, QUEUE_MAX, 0), 0);
	assert_int_equal(tailer_start(&T, &CFG, S, P), 0);
}

static void stop_all(void)
{
	tailer_stop(T);
	pipeline_stop(P);
	store_close(S);
	T = NULL;
	P = NULL;
	S = NULL;
}

static void open_gate(void)
{
	pthread_mutex_lock(&GMU);
	GATE_OPEN = true;
	pthread_cond_broadcast(&GCV);
	pthread_mutex_unlock(&GMU);
}

static int teardown(void **state)
{
	(void)state;
	open_gate(); /* a failed backpressure test must not leave the writer held */
	if (S)
		stop_all();
	tail_test_no_inotify = false;
	test_rm_tree(BASE);
	return 0;
}

/* ---- files ---- */

static const char *path_of(const char *rel)
{
	static char p[4][PATH_MAX];
	static int k;
	k = (k + 1) % 4;
	if ((size_t)snprintf(p[k], sizeof(p[k]), "%s/%s", LOGS, rel) >= sizeof(p[k]))
		fail_msg("path too long");
	return p[k];
}

static void write_at(const char *rel, const void *data, size_t n, int flags)
{
	int fd = open(path_of(rel), O_WRONLY | O_CREAT | flags, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static void append(const char *rel, const char *s)
{
	write_at(rel, s, strlen(s), O_APPEND);
}

static void append_n(const char *rel, const void *p, size_t n)
{
	write_at(rel, p, n, O_APPEND);
}

static size_t line_of(char *buf, size_t cap, const char *app, int i)
{
	int n = snprintf(buf, cap, "{\"ts\":\"" TS "\",\"app\":\"%s\",\"message\":\"%s %d\"}\n",
			 app, app, i);
	return (size_t)n;
}

/* Lines from..to-1 of app, in one write. */
static void append_lines(const char *rel, const char *app, int from, int to)
{
	size_t cap = (size_t)(to - from) * 128 + 1, n = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (int i = from; i < to; i++)
		n += line_of(buf + n, cap - n, app, i);
	append_n(rel, buf, n);
	free(buf);
}

static int64_t file_size(const char *rel, uint64_t *ino)
{
	struct stat st;
	assert_int_equal(stat(path_of(rel), &st), 0);
	if (ino)
		*ino = (uint64_t)st.st_ino;
	return (int64_t)st.st_size;
}

static void sh(const char *fmt, ...)
{
	char cmd[PATH_MAX * 3];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

/* ---- the store ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Every stored event of app (any order). */
static json_t *events_of(const char *app)
{
	struct event_query q;
	memset(&q, 0, sizeof(q));
	q.from = INT64_MIN;
	q.to = INT64_MAX;
	q.app.n = 1;
	q.app.v[0] = app;
	q.limit = 1000;
	json_t *all = json_array();
	for (;;) {
		json_t *page = json_array();
		bool more = false;
		int64_t ts, seq;
		assert_int_equal(store_query_events(S, &q, page, &more, &ts, &seq), 0);
		json_array_extend(all, page);
		json_decref(page);
		if (!more)
			break;
		q.has_cursor = true;
		q.cursor_ts = ts;
		q.cursor_seq = seq;
	}
	return all;
}

static size_t count_of(const char *app)
{
	json_t *a = events_of(app);
	size_t n = json_array_size(a);
	json_decref(a);
	return n;
}

static void wait_count(const char *app, size_t n)
{
	int64_t end = mono_ms() + DEADLINE_MS;
	size_t got = 0;
	struct store_stats st;
	/* The store's total first (cheap), then the app's events (a query). */
	while (store_stats(S, &st) != 0 || st.events < (int64_t)n || (got = count_of(app)) < n) {
		if (mono_ms() > end)
			fail_msg("%s: %zu of %zu events stored after %d ms", app, got, n,
				 DEADLINE_MS);
		pause_ms(5);
	}
	if (got != n)
		fail_msg("%s: %zu events stored, want %zu", app, got, n);
}

/* Exactly messages "app 0" .. "app n-1", each once (and nothing else). */
static void assert_exactly(const char *app, int n)
{
	json_t *a = events_of(app);
	int *seen = calloc((size_t)n + 1, sizeof(int));
	assert_non_null(seen);
	size_t i;
	json_t *e;
	size_t plen = strlen(app);
	json_array_foreach (a, i, e) {
		const char *m = json_string_value(json_object_get(e, "message"));
		assert_non_null(m);
		if (strncmp(m, app, plen) != 0 || m[plen] != ' ')
			fail_msg("unexpected message '%s'", m);
		char *end;
		long k = strtol(m + plen + 1, &end, 10);
		if (*end || k < 0 || k >= n)
			fail_msg("unexpected message '%s'", m);
		if (seen[k]++)
			fail_msg("'%s' stored twice", m);
	}
	for (int k = 0; k < n; k++)
		if (!seen[k])
			fail_msg("'%s %d' missing (%zu stored)", app, k, json_array_size(a));
	free(seen);
	json_decref(a);
}

static void wait_exactly(const char *app, int n)
{
	wait_count(app, (size_t)n);
	assert_exactly(app, n);
}

static bool saved(const char *rel, uint64_t *ino, int64_t *off)
{
	uint64_t dev = 0;
	bool found = false;
	assert_int_equal(store_get_offset(S, path_of(rel), &dev, ino, off, &found), 0);
	return found;
}

/* The saved offset of rel is its size (everything read), with its inode. */
static void wait_offset_at_end(const char *rel)
{
	uint64_t ino, sino = 0;
	int64_t size = file_size(rel, &ino), off = -1;
	int64_t end = mono_ms() + DEADLINE_MS;
	while (!saved(rel, &sino, &off) || sino != ino || off != size) {
		if (mono_ms() > end)
			fail_msg("%s: saved offset %" PRId64 " (inode %" PRIu64 "), want %" PRId64
				 " (inode %" PRIu64 ")",
				 rel, off, sino, size, ino);
		pause_ms(5);
	}
}

/* Dead letters of one file, oldest first. */
static json_t *dead_of(const char *rel)
{
	json_t *all = json_array(), *out = json_array();
	assert_int_equal(store_list_dead_letters(S, 1000, all), 0);
	for (size_t i = json_array_size(all); i-- > 0;) {
		json_t *d = json_array_get(all, i);
		const char *f = json_string_value(json_object_get(d, "file"));
		if (f && strcmp(f, path_of(rel)) == 0)
			json_array_append(out, d);
	}
	json_decref(all);
	return out;
}

static void wait_dups(int64_t n)
{
	int64_t end = mono_ms() + DEADLINE_MS;
	while (metric_get(&tail_m_dups) - DUPS0 < n) {
		if (mono_ms() > end)
			fail_msg("%" PRId64 " duplicates counted, want %" PRId64,
				 metric_get(&tail_m_dups) - DUPS0, n);
		pause_ms(5);
	}
	assert_int_equal(metric_get(&tail_m_dups) - DUPS0, n);
}

static void assert_no_rereads(void)
{
	assert_int_equal(metric_get(&tail_m_dups) - DUPS0, 0);
}

/* ---- tests ---- */

static void test_start_errors(void **state)
{
	(void)state;
	struct tail_config c = {0};
	struct store_config sc;
	memset(&sc, 0, sizeof(sc));
	store_config_defaults(&sc);
	sc.dir = DB;
	assert_int_equal(store_open(&S, &sc), 0);
	assert_int_equal(pipeline_start(&P, S, 1000, 0), 0);
	c.dir = path_of("missing");
	assert_int_equal(tailer_start(&T, &c, S, P), -ENOENT);
	append("plain.jsonl", "{}\n");
	c.dir = path_of("plain.jsonl");
	assert_int_equal(tailer_start(&T, &c, S, P), -ENOTDIR);
	c.dir = NULL;
	assert_int_equal(tailer_start(&T, &c, S, P), -EINVAL);
	pipeline_stop(P);
	store_close(S);
	S = NULL;
	P = NULL;
}

static void test_existing_file_complete_lines_only(void **state)
{
	(void)state;
	append_lines("a.jsonl", "basic", 0, 3);
	append("a.jsonl", "{\"ts\":\"" TS "\",\"app\":\"basic\",\"mess");
	start_all();
	wait_exactly("basic", 3);
	/* The partial line waits for its newline: the saved offset is before it. */
	char l[128];
	size_t ln = line_of(l, sizeof(l), "basic", 0);
	uint64_t ino, sino;
	int64_t off;
	file_size("a.jsonl", &ino);
	assert_true(saved("a.jsonl", &sino, &off));
	assert_int_equal(sino, ino);
	assert_int_equal(off, (int64_t)(3 * ln));
	append("a.jsonl", "age\":\"basic 3\"}\n");
	wait_exactly("basic", 4);
	wait_offset_at_end("a.jsonl");

	/* source fields, and the id: uuid_v5("dev:ino:offset:line"). */
	json_t *all = events_of("basic");
	size_t i;
	json_t *e;
	json_array_foreach (all, i, e) {
		const char *m = json_string_value(json_object_get(e, "message"));
		assert_string_equal(json_string_value(json_object_get(e, "source")), "tail");
		assert_string_equal(json_string_value(json_object_get(e, "source_file")),
				    path_of("a.jsonl"));
		int n = m[6] - '0';
		assert_int_equal(json_integer_value(json_object_get(e, "source_offset")),
				 (json_int_t)(n * (int)ln));
	}
	json_decref(all);
	struct stat st;
	assert_int_equal(stat(path_of("a.jsonl"), &st), 0);
	/* The id's name: "dev:ino:offset:" and the line, so uuid5 of exactly that. */
	char name[256];
	int nn = snprintf(name, sizeof(name), "%" PRIu64 ":%" PRIu64 ":%d:%.*s",
			  (uint64_t)st.st_dev, (uint64_t)st.st_ino, 0, (int)(ln - 1), l);
	uint8_t id[16];
	uuid_v5(name, (size_t)nn, id);
	json_t *ev = NULL;
	assert_int_equal(store_get_event(S, id, &ev), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "message")), "basic 0");
	l[ln - 1] = '\0';
	assert_string_equal(json_string_value(json_object_get(ev, "raw_message")), l);
	json_decref(ev);
	assert_no_rereads();
}

static void test_crlf(void **state)
{
	(void)state;
	start_all();
	append("dos.jsonl", "{\"ts\":\"" TS "\",\"app\":\"crlf\",\"message\":\"crlf 0\"}\r\n"
			    "{\"ts\":\"" TS "\",\"app\":\"crlf\",\"message\":\"crlf 1\"}\r");
	wait_exactly("crlf", 1);
	append("dos.jsonl", "\n{\"ts\":\"" TS "\",\"app\":\"crlf\",\"message\":\"crlf 2\"}\r\n");
	wait_exactly("crlf", 3);
	wait_offset_at_end("dos.jsonl");
	json_t *all = events_of("crlf");
	size_t i;
	json_t *e;
	json_array_foreach (all, i, e) {
		uint8_t id[16];
		const char *s = json_string_value(json_object_get(e, "event_id"));
		assert_int_equal(uuid_parse(s, strlen(s), id), 0);
		json_t *full = NULL;
		assert_int_equal(store_get_event(S, id, &full), 0);
		const char *raw = json_string_value(json_object_get(full, "raw_message"));
		assert_null(strchr(raw, '\r'));
		assert_int_equal(raw[strlen(raw) - 1], '}');
		json_decref(full);
	}
	json_decref(all);
	json_t *d = dead_of("dos.jsonl");
	assert_int_equal(json_array_size(d), 0);
	json_decref(d);
}

static void test_new_files_and_subdirectories(void **state)
{
	(void)state;
	sh("mkdir -p %s/outside/inner", BASE);
	start_all();
	append_lines("top.jsonl", "nested", 0, 2);
	sh("mkdir -p %s/sub/deeper/deepest", LOGS);
	append_lines("sub/deeper/deepest/x.jsonl", "nested", 2, 4);
	append_lines("sub/y.jsonl", "nested", 4, 5);
	/* Not *.jsonl: ignored. */
	append_lines("sub/ignored.log", "nested", 100, 101);
	append_lines("sub/ignored.jsonl.tmp", "nested", 101, 102);
	/* A directory moved in from elsewhere, files and all. */
	char p[PATH_MAX];
	assert_true((size_t)snprintf(p, sizeof(p), "%s/outside/inner/z.jsonl", BASE) < sizeof(p));
	int fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	char l[128];
	size_t n = line_of(l, sizeof(l), "nested", 5);
	assert_int_equal(write(fd, l, n), (ssize_t)n);
	close(fd);
	sh("mv %s/outside %s/sub/deeper/moved", BASE, LOGS);
	wait_exactly("nested", 6);
	/* A file made in the moved directory afterwards. */
	append_lines("sub/deeper/moved/inner/w.jsonl", "nested", 6, 8);
	wait_exactly("nested", 8);
	wait_offset_at_end("sub/deeper/deepest/x.jsonl");
	wait_offset_at_end("sub/deeper/moved/inner/w.jsonl");
	assert_no_rereads();
}

static void test_dead_letters(void **state)
{
	(void)state;
	char l[128];
	size_t offs[16], n = 0;
	const char *bad[] = {
	    "garbage{{ not json",
	    "[1,2,3]",
	    "{\"app\":\"dead\",\"message\":\"m\",\"http_status\":\"abc\"}",
	    "{\"app\":\"dead\",\"message\":\"\xff\xfe\"}",
	    "\x01\x02\x03\xff\x80 binary",
	};
	const char *why[] = {"malformed JSON", "must be a JSON object", "http_status",
			     "malformed JSON", "malformed JSON"};
	start_all();
	char *buf = malloc(8192);
	assert_non_null(buf);
	for (int i = 0; i < 5; i++) {
		n += line_of(buf + n, 8192 - n, "dead", i);
		offs[i] = n;
		n += (size_t)snprintf(buf + n, 8192 - n, "%s\n", bad[i]);
	}
	n += (size_t)snprintf(buf + n, 8192 - n, "\n   \n\t\r\n"); /* blank: skipped quietly */
	n += line_of(buf + n, 8192 - n, "dead", 5);
	/* A NUL byte in a line. */
	size_t nul_off = n;
	memcpy(buf + n, "{\"app\":\"dead\",\0\"x\":1}\n", 22);
	n += 22;
	n += line_of(buf + n, 8192 - n, "dead", 6);
	append_n("bad.jsonl", buf, n);
	free(buf);
	wait_exactly("dead", 7);
	wait_offset_at_end("bad.jsonl");
	json_t *d = dead_of("bad.jsonl");
	assert_int_equal(json_array_size(d), 6);
	for (size_t i = 0; i < 5; i++) {
		json_t *x = json_array_get(d, i);
		assert_int_equal(json_integer_value(json_object_get(x, "offset")),
				 (json_int_t)offs[i]);
		const char *reason = json_string_value(json_object_get(x, "reason"));
		if (!strstr(reason, why[i]))
			fail_msg("dead letter %zu: reason '%s', want '%s'", i, reason, why[i]);
		assert_string_equal(json_string_value(json_object_get(x, "source")), "tail");
		if (i < 3)
			assert_string_equal(json_string_value(json_object_get(x, "raw")), bad[i]);
	}
	assert_int_equal(json_integer_value(json_object_get(json_array_get(d, 5), "offset")),
			 (json_int_t)nul_off);
	json_decref(d);
	(void)l;
}

static void test_long_lines(void **state)
{
	(void)state;
	CFG.line_max = 1000;
	start_all();
	char *big = malloc(20000);
	assert_non_null(big);
	size_t n = 0;
	/* A line of exactly line_max bytes is fine. */
	n += (size_t)snprintf(
	    big, 20000, "{\"ts\":\"" TS "\",\"app\":\"long\",\"message\":\"long 0\",\"pad\":\"");
	memset(big + n, 'p', 1000 - n - 2);
	n = 998;
	memcpy(big + n, "\"}", 2);
	n += 2;
	big[n++] = '\n';
	append_n("l.jsonl", big, n);
	wait_exactly("long", 1);

	/* A complete 5002-byte line: a dead letter, whole (the store keeps 64 KiB of it), so
	 * that a replay with a higher limit can store it. */
	int64_t off1 = file_size("l.jsonl", NULL);
	n = (size_t)snprintf(big, 20000, "{\"app\":\"long\",\"message\":\"");
	memset(big + n, 'x', 5000 - n);
	n = 5000;
	memcpy(big + n, "\"}\n", 3);
	n += 3;
	n += line_of(big + n, 20000 - n, "long", 1);
	append_n("l.jsonl", big, n);
	wait_exactly("long", 2);

	/* One written in pieces, longer than line_max before its newline comes. */
	int64_t off2 = file_size("l.jsonl", NULL);
	memset(big, 'y', 3000);
	big[0] = '{';
	append_n("l.jsonl", big, 3000);
	append_n("l.jsonl", big + 1, 2999);
	append_n("l.jsonl", big + 1, 2999);
	append("l.jsonl", "\"}\n");
	append_lines("l.jsonl", "long", 2, 3);
	wait_exactly("long", 3);
	wait_offset_at_end("l.jsonl");
	json_t *d = dead_of("l.jsonl");
	assert_int_equal(json_array_size(d), 2);
	json_t *a = json_array_get(d, 0), *b = json_array_get(d, 1);
	assert_string_equal(json_string_value(json_object_get(a, "reason")),
			    "line longer than 1000 bytes");
	assert_int_equal(json_integer_value(json_object_get(a, "offset")), off1);
	assert_int_equal(json_integer_value(json_object_get(a, "raw_bytes")), 5002);
	assert_int_equal(json_integer_value(json_object_get(b, "offset")), off2);
	assert_int_equal(json_integer_value(json_object_get(b, "raw_bytes")), 9000);
	assert_int_equal(json_string_value(json_object_get(b, "raw"))[0], '{');
	json_decref(d);
	free(big);
}

static void test_rotation_by_rename(void **state)
{
	(void)state;
	start_all();
	append_lines("r.jsonl", "rot", 0, 10);
	wait_exactly("rot", 10);
	uint64_t old_ino;
	file_size("r.jsonl", &old_ino);
	/* The writer appends to the renamed file before and after the new one appears. */
	append_lines("r.jsonl", "rot", 10, 15);
	sh("mv %s %s", path_of("r.jsonl"), path_of("r.jsonl.1"));
	append_lines("r.jsonl.1", "rot", 15, 18);
	append_lines("r.jsonl", "rot", 18, 22);
	append_lines("r.jsonl.1", "rot", 22, 25);
	wait_exactly("rot", 25);
	/* Still read after the new file started (the rotated file is kept open a while). */
	append_lines("r.jsonl.1", "rot", 25, 30);
	append_lines("r.jsonl", "rot", 30, 32);
	wait_exactly("rot", 32);
	wait_offset_at_end("r.jsonl");
	wait_offset_at_end("r.jsonl.1"); /* the rotated file's row follows it */
	uint64_t ino;
	int64_t off;
	assert_true(saved("r.jsonl.1", &ino, &off));
	assert_int_equal(ino, old_ino);

	/* Renamed to another *.jsonl name: the same file, not read again. */
	sh("mv %s %s", path_of("r.jsonl"), path_of("r-2024.jsonl"));
	append_lines("r-2024.jsonl", "rot", 32, 34);
	append_lines("r.jsonl", "rot", 34, 35);
	wait_exactly("rot", 35);
	wait_offset_at_end("r-2024.jsonl");
	wait_offset_at_end("r.jsonl");
	assert_no_rereads();
}

static void test_copy_truncate(void **state)
{
	(void)state;
	start_all();
	append_lines("c.jsonl", "ct", 0, 10);
	wait_exactly("ct", 10);
	sh("cp %s %s", path_of("c.jsonl"), path_of("c.jsonl.1"));
	write_at("c.jsonl", "", 0, O_TRUNC);
	/* New lines at the same offsets of the same inode as old ones: other ids. */
	append_lines("c.jsonl", "ct", 10, 13);
	wait_exactly("ct", 13);
	wait_offset_at_end("c.jsonl");
	append_lines("c.jsonl", "ct", 13, 25);
	wait_exactly("ct", 25);
	wait_offset_at_end("c.jsonl");
	assert_no_rereads();
}

static void test_deletion(void **state)
{
	(void)state;
	start_all();
	append_lines("d.jsonl", "del", 0, 5);
	wait_exactly("del", 5);
	/* Appended, then deleted at once: the open file is still read to its end. */
	append_lines("d.jsonl", "del", 5, 10);
	assert_int_equal(unlink(path_of("d.jsonl")), 0);
	wait_exactly("del", 10);
	/* A new file under the old name starts at 0. */
	append_lines("d.jsonl", "del", 10, 15);
	wait_exactly("del", 15);
	wait_offset_at_end("d.jsonl");
	/* A whole subdirectory removed, then made again. */
	sh("mkdir -p %s/gone", LOGS);
	append_lines("gone/g.jsonl", "del", 15, 17);
	wait_exactly("del", 17);
	sh("rm -rf %s/gone && mkdir -p %s/gone", LOGS, LOGS);
	append_lines("gone/g.jsonl", "del", 17, 19);
	wait_exactly("del", 19);
	assert_no_rereads();
}

static void test_restart_resumes_exactly(void **state)
{
	(void)state;
	start_all();
	append_lines("s.jsonl", "rs", 0, 100);
	sh("mkdir -p %s/d", LOGS);
	append_lines("d/t.jsonl", "rs", 100, 110);
	wait_exactly("rs", 110);
	stop_all();
	/* While the hub is down: more lines, and a partial one. */
	append_lines("s.jsonl", "rs", 110, 150);
	append("s.jsonl", "{\"ts\":\"" TS "\",\"app\":\"rs\",");
	append_lines("d/t.jsonl", "rs", 150, 155);
	start_all();
	wait_exactly("rs", 155);
	append("s.jsonl", "\"message\":\"rs 155\"}\n");
	wait_exactly("rs", 156);
	wait_offset_at_end("s.jsonl");
	wait_offset_at_end("d/t.jsonl");
	/* Stopped with nothing new: nothing read twice. */
	stop_all();
	start_all();
	append_lines("s.jsonl", "rs", 156, 160);
	wait_exactly("rs", 160);
	assert_no_rereads();
}

static void test_rotated_while_down(void **state)
{
	(void)state;
	start_all();
	append_lines("a.jsonl", "down", 0, 10);
	append_lines("b.jsonl", "down", 10, 20);
	append_lines("c.jsonl", "down", 20, 30);
	append_lines("d.jsonl", "downd", 0, 5);
	wait_exactly("down", 30);
	wait_exactly("downd", 5);
	stop_all();
	/* d: renamed with an unread tail, and nothing new at its path. */
	append_lines("d.jsonl", "downd", 5, 10);
	sh("mv %s %s", path_of("d.jsonl"), path_of("d.jsonl.1"));
	/* a: renamed to a.jsonl.1 with an unread tail, a new a.jsonl. */
	append_lines("a.jsonl", "down", 30, 35);
	sh("mv %s %s", path_of("a.jsonl"), path_of("a.jsonl.1"));
	append_lines("a.jsonl", "down", 35, 40);
	/* b: renamed to another *.jsonl name. Its offset is saved under "b.jsonl", which no
	 * longer exists, and the store cannot list saved offsets: b-old.jsonl is read from 0
	 * and its first lines are recognized as duplicates by their ids. */
	append_lines("b.jsonl", "down", 40, 45);
	sh("mv %s %s", path_of("b.jsonl"), path_of("b-old.jsonl"));
	/* c: truncated and rewritten longer than before (no line ends at the old offset). */
	char *buf = malloc(65536);
	assert_non_null(buf);
	size_t n = 0;
	for (int i = 45; i < 60; i++)
		n += (size_t)snprintf(buf + n, 65536 - n,
				      "{\"ts\":\"" TS "\",\"app\":\"down\",\"message\":\"down %d\","
				      "\"pad\":\"%*s\"}\n",
				      i, 13, "");
	write_at("c.jsonl", buf, n, O_TRUNC);
	free(buf);
	start_all();
	wait_exactly("down", 60);
	wait_exactly("downd", 10);
	wait_offset_at_end("a.jsonl");
	wait_offset_at_end("d.jsonl.1");
	wait_offset_at_end("a.jsonl.1");
	wait_offset_at_end("b-old.jsonl");
	wait_offset_at_end("c.jsonl");
	wait_dups(10); /* counted after the commit: it may lag behind what a query sees */
}

static void test_rotated_name_appears_later(void **state)
{
	(void)state;
	start_all();
	append_lines("x.jsonl", "late", 0, 5);
	wait_exactly("late", 5);
	stop_all();
	/* Out of the directory while the hub starts, back under a rotated name afterwards
	 * (what a rename during the first scan looks like): read on from its saved offset. */
	append_lines("x.jsonl", "late", 5, 8);
	sh("mv %s %s/x.jsonl.1", path_of("x.jsonl"), BASE);
	start_all();
	append_lines("y.jsonl", "latey", 0, 1);
	wait_exactly("latey", 1); /* the tailer is up */
	assert_int_equal(count_of("late"), 5);
	sh("mv %s/x.jsonl.1 %s", BASE, path_of("x.jsonl.1"));
	wait_exactly("late", 8);
	wait_offset_at_end("x.jsonl.1");
	assert_no_rereads();
}

static void test_replaced_while_down_old_deleted(void **state)
{
	(void)state;
	start_all();
	append_lines("e.jsonl", "repl", 0, 5);
	wait_exactly("repl", 5);
	stop_all();
	/* The old file is gone with its unread tail (lost: documented); the new one is read
	 * from 0 even if longer than the saved offset. */
	append_lines("e.jsonl", "lost", 0, 3);
	/* Kept alive outside the directory, so that the new file cannot reuse its inode (a
	 * reused inode grown past the saved offset is the documented limit). */
	sh("ln %s %s/kept && rm %s", path_of("e.jsonl"), BASE, path_of("e.jsonl"));
	append_lines("e.jsonl", "repl", 5, 15);
	start_all();
	wait_exactly("repl", 15);
	wait_offset_at_end("e.jsonl");
	assert_int_equal(count_of("lost"), 0);
}

static void test_many_files_small_batches(void **state)
{
	(void)state;
	CFG.batch_max = 64;
	start_all();
	char rel[32];
	for (int k = 0; k < 4; k++)
		for (int f = 0; f < 5; f++) {
			snprintf(rel, sizeof(rel), "m%d.jsonl", f);
			int base = f * 4000 + k * 1000;
			append_lines(rel, "many", base, base + 1000);
		}
	wait_exactly("many", 20000);
	for (int f = 0; f < 5; f++) {
		snprintf(rel, sizeof(rel), "m%d.jsonl", f);
		wait_offset_at_end(rel);
	}
	assert_no_rereads();
}

/* ---- backpressure: the writer is held, the queue is full, the tailer waits ---- */

static void gate_done(struct ingest_batch *j)
{
	pthread_mutex_lock(&GMU);
	if (j->ctx) {
		GATE_IN = true;
		pthread_cond_broadcast(&GCV);
		while (!GATE_OPEN)
			pthread_cond_wait(&GCV, &GMU);
	}
	JOBS_DONE++;
	pthread_cond_broadcast(&GCV);
	pthread_mutex_unlock(&GMU);
}

static void make_job(struct ingest_batch *j, struct event *ev, bool *dup, size_t n, int first,
		     struct arena *a, bool gate)
{
	char err[128];
	memset(j, 0, sizeof(*j));
	for (size_t i = 0; i < n; i++) {
		json_t *o =
		    json_pack("{s:s,s:s,s:s}", "app", "filler", "message", "f", "timestamp", TS);
		assert_int_equal(event_from_json(&ev[i], o, a, 0, err, sizeof(err)), 0);
		json_decref(o);
		char name[32];
		int len = snprintf(name, sizeof(name), "filler-%d", first + (int)i);
		uuid_v5(name, (size_t)len, ev[i].id);
	}
	j->ev = ev;
	j->dup = dup;
	j->n = n;
	j->done = gate_done;
	j->ctx = gate ? (void *)1 : NULL;
}

static void test_backpressure_waits(void **state)
{
	(void)state;
	static struct event ev1[1], ev2[99];
	static bool d1[1], d2[99];
	struct ingest_batch g, fill;
	struct arena a;
	arena_init(&a, 0);
	QUEUE_MAX = 100;
	CFG.batch_max = 50;
	GATE_IN = GATE_OPEN = false;
	JOBS_DONE = 0;
	start_all();
	make_job(&g, ev1, d1, 1, 0, &a, true);
	make_job(&fill, ev2, d2, 99, 1, &a, false);
	assert_int_equal(pipeline_submit(P, &g), 0);
	pthread_mutex_lock(&GMU);
	while (!GATE_IN)
		pthread_cond_wait(&GCV, &GMU);
	pthread_mutex_unlock(&GMU);
	/* The held job still counts: with these 99 events the queue is full. */
	assert_int_equal(pipeline_submit(P, &fill), 0);
	int64_t r0 = metric_get(&tail_m_received);
	append_lines("bp.jsonl", "bp", 0, 500);
	/* The tailer reads its first batch and then has to wait for room. */
	int64_t end = mono_ms() + DEADLINE_MS;
	while (metric_get(&tail_m_received) - r0 < 50) {
		if (mono_ms() > end)
			fail_msg("the tailer read nothing");
		pause_ms(5);
	}
	assert_int_equal(count_of("bp"), 0);
	open_gate();
	wait_exactly("bp", 500);
	wait_offset_at_end("bp.jsonl");
	pthread_mutex_lock(&GMU);
	while (JOBS_DONE < 2)
		pthread_cond_wait(&GCV, &GMU);
	pthread_mutex_unlock(&GMU);
	stop_all();
	arena_release(&a);
}

/* The tailer is held in a submit while a file is truncated and written again, longer than
 * before, with a line ending where it had read to: only what it remembers of the last line
 * it read tells that the file was rewritten. */
static void test_rewritten_behind_our_back(void **state)
{
	(void)state;
	static struct event ev1[1], ev2[99];
	static bool d1[1], d2[99];
	struct ingest_batch g, fill;
	struct arena a;
	arena_init(&a, 0);
	QUEUE_MAX = 100;
	GATE_IN = GATE_OPEN = false;
	JOBS_DONE = 0;
	start_all();
	append_lines("rw.jsonl", "rw", 0, 3);
	wait_exactly("rw", 3);
	make_job(&g, ev1, d1, 1, 1000, &a, true);
	make_job(&fill, ev2, d2, 99, 1001, &a, false);
	assert_int_equal(pipeline_submit(P, &g), 0);
	pthread_mutex_lock(&GMU);
	while (!GATE_IN)
		pthread_cond_wait(&GCV, &GMU);
	pthread_mutex_unlock(&GMU);
	assert_int_equal(pipeline_submit(P, &fill), 0);
	int64_t r0 = metric_get(&tail_m_received);
	append_lines("trigger.jsonl", "rwtrigger", 0, 1);
	int64_t end = mono_ms() + DEADLINE_MS;
	while (metric_get(&tail_m_received) == r0) {
		if (mono_ms() > end)
			fail_msg("the tailer read nothing");
		pause_ms(2);
	}
	/* Now it waits for room in the queue. Same line lengths: a newline where it stopped. */
	write_at("rw.jsonl", "", 0, O_TRUNC);
	append_lines("rw.jsonl", "rw", 3, 7);
	open_gate();
	wait_exactly("rw", 7);
	wait_exactly("rwtrigger", 1);
	wait_offset_at_end("rw.jsonl");
	pthread_mutex_lock(&GMU);
	while (JOBS_DONE < 2)
		pthread_cond_wait(&GCV, &GMU);
	pthread_mutex_unlock(&GMU);
	stop_all();
	arena_release(&a);
}

static void test_polling_without_inotify(void **state)
{
	(void)state;
	tail_test_no_inotify = true;
	CFG.poll_ms = 50;
	append_lines("p.jsonl", "poll", 0, 3);
	start_all();
	wait_exactly("poll", 3);
	append_lines("p.jsonl", "poll", 3, 6);
	sh("mkdir -p %s/later/x", LOGS);
	append_lines("later/x/q.jsonl", "poll", 6, 8);
	wait_exactly("poll", 8);
	sh("mv %s %s", path_of("p.jsonl"), path_of("p.jsonl.1"));
	append_lines("p.jsonl", "poll", 8, 10);
	append_lines("p.jsonl.1", "poll", 10, 12);
	wait_exactly("poll", 12);
	write_at("later/x/q.jsonl", "", 0, O_TRUNC);
	append_lines("later/x/q.jsonl", "poll", 12, 13);
	wait_exactly("poll", 13);
	wait_offset_at_end("later/x/q.jsonl");
	wait_offset_at_end("p.jsonl");
	assert_no_rereads();
}

/* Symbolic links are never followed: to a file or a folder outside, made after the start,
 * or put in place of a file being followed; found by inotify, or by the rescans alone. */
static void links_not_followed(bool poll)
{
	char out[PATH_MAX], dir[PATH_MAX], staged[PATH_MAX];
	tail_test_no_inotify = poll;
	CFG.poll_ms = 50;
	int64_t links0 = metric_get(&tail_m_links);
	assert_true((size_t)snprintf(out, sizeof(out), "%s/outside.jsonl", BASE) < sizeof(out));
	assert_true((size_t)snprintf(dir, sizeof(dir), "%s/outdir", BASE) < sizeof(dir));
	assert_true((size_t)snprintf(staged, sizeof(staged), "%s/staged", BASE) < sizeof(staged));
	assert_int_equal(mkdir(dir, 0755), 0);
	append_lines("../outside.jsonl", "leak", 0, 3);
	append("../outside.jsonl", "secret: not json\n");
	append_lines("../outdir/in.jsonl", "leak", 3, 5);
	assert_int_equal(symlink(out, path_of("link.jsonl")), 0);
	assert_int_equal(symlink(dir, path_of("sub")), 0);
	append_lines("a.jsonl", "links", 0, 2);
	append_lines("swap.jsonl", "links", 2, 3);
	start_all();
	wait_exactly("links", 3);

	assert_int_equal(symlink(out, path_of("late.jsonl")), 0);
	assert_int_equal(symlink(out, staged), 0);
	assert_int_equal(rename(staged, path_of("swap.jsonl")), 0);
	append_lines("a.jsonl", "links", 3, 4);
	wait_exactly("links", 4);
	int64_t end = mono_ms() + DEADLINE_MS;
	while (metric_get(&tail_m_links) - links0 < 4) {
		if (mono_ms() > end)
			fail_msg("%" PRId64 " links skipped, want 4",
				 metric_get(&tail_m_links) - links0);
		pause_ms(5);
	}
	assert_int_equal(metric_get(&tail_m_links) - links0, 4); /* each counted once */
	assert_int_equal(count_of("leak"), 0);
	json_t *all = json_array();
	assert_int_equal(store_list_dead_letters(S, 1000, all), 0);
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);
}

static void test_links_not_followed(void **state)
{
	(void)state;
	links_not_followed(false);
}

static void test_links_not_followed_polling(void **state)
{
	(void)state;
	links_not_followed(true);
}

static void test_own_event_id(void **state)
{
	(void)state;
	start_all();
	append("own.jsonl", "{\"event_id\":\"6c1f1d4e-6a0e-4c36-9d3f-2f5bb7f0c0de\",\"ts\":\"" TS
			    "\",\"app\":\"own\",\"message\":\"own 0\"}\n");
	/* The same event again (another offset): stored once, counted as a duplicate. */
	append("own.jsonl", "{\"event_id\":\"6c1f1d4e-6a0e-4c36-9d3f-2f5bb7f0c0de\",\"ts\":\"" TS
			    "\",\"app\":\"own\",\"message\":\"own 0\"}\n");
	append_lines("own.jsonl", "own", 1, 2);
	wait_exactly("own", 2);
	uint8_t id[16];
	assert_int_equal(uuid_parse("6c1f1d4e-6a0e-4c36-9d3f-2f5bb7f0c0de", 36, id), 0);
	json_t *e = NULL;
	assert_int_equal(store_get_event(S, id, &e), 0);
	json_decref(e);
	wait_dups(1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_start_errors),
	    T(test_existing_file_complete_lines_only),
	    T(test_crlf),
	    T(test_new_files_and_subdirectories),
	    T(test_dead_letters),
	    T(test_long_lines),
	    T(test_rotation_by_rename),
	    T(test_copy_truncate),
	    T(test_deletion),
	    T(test_restart_resumes_exactly),
	    T(test_rotated_while_down),
	    T(test_rotated_name_appears_later),
	    T(test_replaced_while_down_old_deleted),
	    T(test_many_files_small_batches),
	    T(test_backpressure_waits),
	    T(test_rewritten_behind_our_back),
	    T(test_polling_without_inotify),
	    T(test_own_event_id),
	    T(test_links_not_followed),
	    T(test_links_not_followed_polling),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
