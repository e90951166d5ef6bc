/* test_pipeline.c — the bounded ingest queue and its group-commit writer: many submitters,
 * done() after commit with counts, SIEM_EFULL when full, transaction cap, a batch alone,
 * detection on its own thread beside the writer, the stage counters, a sink instead of the
 * store, drain on stop. */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "core/metrics.h"
#include "ingest/pipeline.h"
#include "store/store.h"

#define NOW 1710506096000000LL
#define DEADLINE_S 10

static char DIRPATH[64];
static char DBPATH[128];
static struct store *S;
static struct arena A;

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_WARN);
	snprintf(DIRPATH, sizeof(DIRPATH), "/tmp/test_pipeline.XXXXXX");
	if (!mkdtemp(DIRPATH))
		return -1;
	snprintf(DBPATH, sizeof(DBPATH), "%s/store", DIRPATH);
	arena_init(&A, 0);
	struct store_config c;
	store_config_defaults(&c);
	c.dir = DBPATH;
	c.segment_rows = 50;
	c.cache_mb = 2;
	c.readers = 2;
	return store_open(&S, &c);
}

static int teardown(void **state)
{
	(void)state;
	store_close(S);
	S = NULL;
	arena_release(&A);
	test_rm_tree(DIRPATH);
	return 0;
}

/* ---- jobs and their completion ---- */

struct tracker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	int bad_rc, not_visible;
	/* gate: a done() with gated set waits here until open */
	bool entered, open;
};

static struct tracker TR;

static void tracker_init(void)
{
	memset(&TR, 0, sizeof(TR));
	pthread_mutex_init(&TR.mu, NULL);
	pthread_cond_init(&TR.cv, NULL);
}

static void tracker_release(void)
{
	pthread_mutex_destroy(&TR.mu);
	pthread_cond_destroy(&TR.cv);
}

static struct timespec deadline(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += DEADLINE_S;
	return t;
}

/* Wait until at least n jobs are done; fails after DEADLINE_S. */
static void wait_done(int n)
{
	struct timespec t = deadline();
	pthread_mutex_lock(&TR.mu);
	while (TR.done < n) {
		if (pthread_cond_timedwait(&TR.cv, &TR.mu, &t) == ETIMEDOUT) {
			int d = TR.done;
			pthread_mutex_unlock(&TR.mu);
			fail_msg("only %d of %d jobs done after %d s", d, n, DEADLINE_S);
		}
	}
	pthread_mutex_unlock(&TR.mu);
}

static void wait_entered(void)
{
	struct timespec t = deadline();
	pthread_mutex_lock(&TR.mu);
	while (!TR.entered) {
		if (pthread_cond_timedwait(&TR.cv, &TR.mu, &t) == ETIMEDOUT) {
			pthread_mutex_unlock(&TR.mu);
			fail_msg("the writer never reached the gated job");
		}
	}
	pthread_mutex_unlock(&TR.mu);
}

static void open_gate(void)
{
	pthread_mutex_lock(&TR.mu);
	TR.open = true;
	pthread_cond_broadcast(&TR.cv);
	pthread_mutex_unlock(&TR.mu);
}

struct job {
	struct ingest_batch j;
	bool gated;
	bool was_done;
	int order; /* position among done() calls */
};

static void on_done(struct ingest_batch *ij)
{
	struct job *jb = (struct job *)ij->ctx;
	/* done() comes after commit: the job's first new event is visible to readers. */
	if (ij->rc == 0 && ij->n > 0 && !ij->dup[0]) {
		json_t *e = NULL;
		if (store_get_event(S, ij->ev[0].id, &e) != 0)
			__atomic_add_fetch(&TR.not_visible, 1, __ATOMIC_SEQ_CST);
		json_decref(e);
	}
	pthread_mutex_lock(&TR.mu);
	if (ij->rc != 0)
		TR.bad_rc++;
	if (jb->gated) {
		TR.entered = true;
		pthread_cond_broadcast(&TR.cv);
		while (!TR.open)
			pthread_cond_wait(&TR.cv, &TR.mu);
	}
	jb->was_done = true;
	jb->order = TR.done++;
	pthread_cond_broadcast(&TR.cv);
	pthread_mutex_unlock(&TR.mu);
}

static void id_of(int n, uint8_t id[16])
{
	char s[40];
	snprintf(s, sizeof(s), "00000000-0000-4000-8000-%012d", n);
	assert_int_equal(uuid_parse(s, 36, id), 0);
}

static void mk(struct event *ev, int n)
{
	char err[128];
	json_t *o = json_pack("{s:s, s:s}", "event_type", "TICK", "message", "tick");
	assert_int_equal(event_from_json(ev, o, &A, NOW, err, sizeof(err)), 0);
	json_decref(o);
	id_of(n, ev->id);
	ev->ts = NOW + n;
	ev->flags &= ~(unsigned)(EV_TS_MISSING | EV_ID_GENERATED);
}

/* A job of n events numbered first.. (events, flags and job from the heap). */
static struct job *job_new(int first, size_t n)
{
	struct job *jb = calloc(1, sizeof(*jb));
	assert_non_null(jb);
	jb->j.ev = calloc(n ? n : 1, sizeof(struct event));
	jb->j.dup = calloc(n ? n : 1, sizeof(bool));
	assert_non_null(jb->j.ev);
	assert_non_null(jb->j.dup);
	for (size_t i = 0; i < n; i++)
		mk(&jb->j.ev[i], first + (int)i);
	jb->j.n = n;
	jb->j.done = on_done;
	jb->j.ctx = jb;
	return jb;
}

static void job_free(struct job *jb)
{
	free(jb->j.ev);
	free(jb->j.dup);
	free(jb);
}

static int64_t stored_events(void)
{
	struct store_stats st;
	assert_int_equal(store_stats(S, &st), 0);
	return st.events;
}

/* Wait for the writer to account for every finished batch (queued_events back to 0). */
static void wait_queue_empty(struct pipeline *p)
{
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pipeline_stats st;
		pipeline_stats(p, &st);
		if (st.queued_events == 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > DEADLINE_S)
			fail_msg("queue still holds %zu events", st.queued_events);
		sched_yield();
	}
}

/* ---- many submitters ---- */

#define THREADS 4
#define JOBS_PER_THREAD 25
#define EVENTS_PER_JOB 8

struct submitter {
	struct pipeline *p;
	struct job **jobs;
	int n, rejected;
};

static void *submit_main(void *arg)
{
	struct submitter *s = arg;
	for (int i = 0; i < s->n; i++)
		if (pipeline_submit(s->p, &s->jobs[i]->j) != 0)
			s->rejected++;
	return NULL;
}

static void test_many_submitters_every_event_once(void **state)
{
	(void)state;
	tracker_init();
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 100000, 64), 0);

	/* Each job: 8 new events, then its first event again (a duplicate in the same job). */
	static struct job *jobs[THREADS][JOBS_PER_THREAD];
	int k = 0;
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < JOBS_PER_THREAD; i++) {
			struct job *jb = job_new(k, EVENTS_PER_JOB + 1);
			jb->j.ev[EVENTS_PER_JOB] = jb->j.ev[0];
			jobs[t][i] = jb;
			k += EVENTS_PER_JOB;
		}
	}
	struct submitter sub[THREADS];
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++) {
		sub[t] = (struct submitter){p, jobs[t], JOBS_PER_THREAD, 0};
		assert_int_equal(pthread_create(&th[t], NULL, submit_main, &sub[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(sub[t].rejected, 0);
	}
	wait_done(THREADS * JOBS_PER_THREAD);
	assert_int_equal(TR.bad_rc, 0);
	assert_int_equal(TR.not_visible, 0);
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < JOBS_PER_THREAD; i++) {
			struct ingest_batch *j = &jobs[t][i]->j;
			assert_int_equal(j->rc, 0);
			assert_int_equal(j->accepted, EVENTS_PER_JOB);
			assert_int_equal(j->duplicates, 1);
			for (int e = 0; e < EVENTS_PER_JOB; e++)
				assert_false(j->dup[e]);
			assert_true(j->dup[EVENTS_PER_JOB]);
		}
	}
	wait_queue_empty(p);
	struct pipeline_stats st;
	pipeline_stats(p, &st);
	assert_int_equal(st.committed_events, THREADS * JOBS_PER_THREAD * EVENTS_PER_JOB);
	assert_int_equal(st.duplicate_events, THREADS * JOBS_PER_THREAD);
	assert_int_equal(st.failed_commits, 0);
	assert_true(st.commits >= 1 && st.commits <= THREADS * JOBS_PER_THREAD);
	assert_int_equal(st.max_events, 100000);
	assert_true(st.writer_alive);
	pipeline_stop(p);

	/* Every event is in the store exactly once. */
	int total = THREADS * JOBS_PER_THREAD * EVENTS_PER_JOB;
	assert_int_equal(stored_events(), total);
	struct event_query q;
	memset(&q, 0, sizeof(q));
	q.from = INT64_MIN;
	q.to = INT64_MAX;
	q.limit = 1000;
	json_t *a = json_array();
	bool more = true;
	int64_t nts, nseq;
	assert_int_equal(store_query_events(S, &q, a, &more, &nts, &nseq), 0);
	assert_false(more);
	assert_int_equal(json_array_size(a), total);
	size_t i;
	json_t *e;
	json_array_foreach (a, i, e) {
		/* newest first: timestamps NOW + n, so event total-1-i */
		const char *id = json_string_value(json_object_get(e, "event_id"));
		assert_int_equal(strtol(id + 24, NULL, 10), total - 1 - (long)i);
	}
	json_decref(a);
	for (int t = 0; t < THREADS; t++)
		for (int j = 0; j < JOBS_PER_THREAD; j++)
			job_free(jobs[t][j]);
	tracker_release();
}

static void test_duplicates_across_jobs_and_batches(void **state)
{
	(void)state;
	tracker_init();
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 1000, 1000), 0);
	struct job *a = job_new(0, 5), *b = job_new(3, 5); /* b repeats events 3 and 4 */
	assert_int_equal(pipeline_submit(p, &a->j), 0);
	assert_int_equal(pipeline_submit(p, &b->j), 0);
	wait_done(2);
	assert_int_equal(a->j.accepted, 5);
	assert_int_equal(a->j.duplicates, 0);
	assert_int_equal(b->j.accepted, 3);
	assert_int_equal(b->j.duplicates, 2);
	assert_true(b->j.dup[0] && b->j.dup[1]);
	assert_false(b->j.dup[2] || b->j.dup[3] || b->j.dup[4]);
	/* The same job's events again, later: all duplicates. */
	struct job *c = job_new(0, 8);
	assert_int_equal(pipeline_submit(p, &c->j), 0);
	wait_done(3);
	assert_int_equal(c->j.accepted, 0);
	assert_int_equal(c->j.duplicates, 8);
	pipeline_stop(p);
	assert_int_equal(stored_events(), 8);
	job_free(a);
	job_free(b);
	job_free(c);
	tracker_release();
}

/* ---- a full queue ---- */

static void test_full_queue_answers_efull(void **state)
{
	(void)state;
	tracker_init();
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 4, 100), 0);
	struct job *a = job_new(0, 2), *b = job_new(10, 2), *c = job_new(20, 1);
	a->gated = true;
	assert_int_equal(pipeline_submit(p, &a->j), 0);
	wait_entered(); /* the writer holds a: its 2 events still count against the queue */

	assert_int_equal(pipeline_submit(p, &b->j), 0); /* 2 + 2 = 4 fits */
	assert_int_equal(pipeline_submit(p, &c->j), SIEM_EFULL);
	struct pipeline_stats st;
	pipeline_stats(p, &st);
	assert_int_equal(st.queued_events, 4);
	assert_int_equal(st.max_events, 4);

	open_gate();
	wait_done(2);
	assert_true(b->was_done);
	assert_false(c->was_done);
	assert_int_equal(b->j.accepted, 2);
	/* With room again, c is taken. */
	wait_queue_empty(p);
	assert_int_equal(pipeline_submit(p, &c->j), 0);
	wait_done(3);
	assert_int_equal(c->j.accepted, 1);
	pipeline_stop(p);
	assert_int_equal(stored_events(), 5);
	job_free(a);
	job_free(b);
	job_free(c);
	tracker_release();
}

static void test_job_larger_than_queue_taken_when_empty(void **state)
{
	(void)state;
	tracker_init();
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 4, 100), 0);
	struct job *big = job_new(0, 10);
	assert_int_equal(pipeline_submit(p, &big->j), 0);
	wait_done(1);
	assert_int_equal(big->j.rc, 0);
	assert_int_equal(big->j.accepted, 10);
	pipeline_stop(p);
	assert_int_equal(stored_events(), 10);
	job_free(big);
	tracker_release();
}

static void test_job_larger_than_queue_refused_when_busy(void **state)
{
	(void)state;
	tracker_init();
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 4, 100), 0);
	struct job *a = job_new(0, 1), *big = job_new(10, 10);
	a->gated = true;
	assert_int_equal(pipeline_submit(p, &a->j), 0);
	wait_entered();
	assert_int_equal(pipeline_submit(p, &big->j), SIEM_EFULL);
	open_gate();
	wait_done(1);
	pipeline_stop(p);
	assert_false(big->was_done);
	assert_int_equal(stored_events(), 1);
	job_free(a);
	job_free(big);
	tracker_release();
}

/* ---- group commit ---- */

/* The writer held in its upkeep (it runs there between transactions), so that batches
 * queue up behind it. */
static void gated_upkeep(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&TR.mu);
	TR.entered = true;
	pthread_cond_broadcast(&TR.cv);
	while (!TR.open)
		pthread_cond_wait(&TR.cv, &TR.mu);
	pthread_mutex_unlock(&TR.mu);
}

static void test_transaction_cap_splits_batches(void **state)
{
	(void)state;
	tracker_init();
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 100, 3), 0);
	struct job *a = job_new(0, 1), *b = job_new(10, 2), *c = job_new(20, 2),
		   *d = job_new(30, 1);
	pipeline_set_maintenance(p, gated_upkeep, NULL, 3600 * 1000);
	wait_entered();
	assert_int_equal(pipeline_submit(p, &a->j), 0);
	assert_int_equal(pipeline_submit(p, &b->j), 0);
	assert_int_equal(pipeline_submit(p, &c->j), 0);
	assert_int_equal(pipeline_submit(p, &d->j), 0);
	open_gate();
	wait_done(4);
	/* [a, b], then [c, d] (a + b + c = 5 > 3) in one transaction each; done() in order. */
	assert_int_equal(a->order, 0);
	assert_int_equal(b->order, 1);
	assert_int_equal(c->order, 2);
	assert_int_equal(d->order, 3);
	wait_queue_empty(p);
	struct pipeline_stats st;
	pipeline_stats(p, &st);
	assert_int_equal(st.commits, 2);
	assert_int_equal(st.last_commit_rows, 3);
	assert_int_equal(st.committed_events, 6);
	assert_int_equal(st.failed_commits, 0);
	assert_int_equal(st.failed_commits_in_row, 0);
	assert_true(st.last_commit_us > 0);
	assert_true(st.last_commit_latency_us >= 0);
	pipeline_stop(p);
	assert_int_equal(stored_events(), 6);
	job_free(a);
	job_free(b);
	job_free(c);
	job_free(d);
	tracker_release();
}

/* ---- detection beside the writer ---- */

struct hook_log {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int seen;
	bool hold_first, held, released;
	pthread_t thread;
};

/* The committed hook: records its thread; holds on the first event until released. */
static void gated_hook(void *ctx, const struct event *ev)
{
	(void)ev;
	struct hook_log *h = ctx;
	pthread_mutex_lock(&h->mu);
	h->thread = pthread_self();
	if (h->seen++ == 0 && h->hold_first) {
		h->held = true;
		pthread_cond_broadcast(&h->cv);
		while (!h->released)
			pthread_cond_wait(&h->cv, &h->mu);
	}
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static void test_detection_runs_beside_the_writer(void **state)
{
	(void)state;
	tracker_init();
	struct hook_log h = {
	    .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .hold_first = true};
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 1000, 1000), 0);
	pipeline_set_committed_hook(p, gated_hook, &h);
	/* Large enough for the detect thread (a small one the writer runs itself). */
	struct job *a = job_new(0, 100), *b = job_new(1000, 150);
	assert_int_equal(pipeline_submit(p, &a->j), 0);
	struct timespec t = deadline();
	pthread_mutex_lock(&h.mu);
	while (!h.held)
		if (pthread_cond_timedwait(&h.cv, &h.mu, &t) == ETIMEDOUT)
			fail_msg("the hook never saw a's first event");
	pthread_mutex_unlock(&h.mu);

	/* Detection holds a; the writer commits b meanwhile, and answers neither yet: an
	 * answer comes after its events went through the hook, in commit order. */
	assert_int_equal(pipeline_submit(p, &b->j), 0);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pipeline_stats st;
		pipeline_stats(p, &st);
		if (st.committed_events == 250)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > DEADLINE_S)
			fail_msg("the writer did not commit b while detection held a");
		sched_yield();
	}
	assert_int_equal(stored_events(), 250);
	pthread_mutex_lock(&TR.mu);
	assert_int_equal(TR.done, 0);
	pthread_mutex_unlock(&TR.mu);
	/* Both still count against the queue until they are answered. */
	struct pipeline_stats st;
	pipeline_stats(p, &st);
	assert_int_equal(st.queued_events, 250);

	pthread_mutex_lock(&h.mu);
	h.released = true;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	wait_done(2);
	assert_int_equal(a->order, 0);
	assert_int_equal(b->order, 1);
	pthread_mutex_lock(&h.mu);
	assert_int_equal(h.seen, 250);
	assert_false(pthread_equal(h.thread, pthread_self()));
	pthread_mutex_unlock(&h.mu);
	pipeline_stop(p);
	job_free(a);
	job_free(b);
	tracker_release();
}

static void count_hook(void *ctx, const struct event *ev)
{
	(void)ev;
	__atomic_add_fetch((int *)ctx, 1, __ATOMIC_SEQ_CST);
}

/* Each stage the writer and detection pass through counts its events and its CPU time. */
static void test_stage_counters_move(void **state)
{
	(void)state;
	tracker_init();
	const enum stage stages[] = {STAGE_ENRICH, STAGE_INSERT, STAGE_POSTINGS, STAGE_COMMIT,
				     STAGE_DETECT};
	const uint64_t expect[] = {40, 40, 38, 38, 38}; /* 2 duplicates: offered, never stored */
	int64_t ns0[5], ns1[5];
	uint64_t ev0[5], ev1[5];
	for (int i = 0; i < 5; i++)
		stage_get(stages[i], &ns0[i], &ev0[i]);
	int hooked = 0;
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 100, 100), 0);
	pipeline_set_committed_hook(p, count_hook, &hooked);
	/* b repeats 18 and 19; batches of STAGE_SAMPLE_MIN or more are always timed */
	struct job *a = job_new(0, 20), *b = job_new(18, 20);
	assert_int_equal(pipeline_submit(p, &a->j), 0);
	wait_done(1);
	assert_int_equal(pipeline_submit(p, &b->j), 0);
	wait_done(2);
	pipeline_stop(p);
	assert_int_equal(hooked, 38);
	for (int i = 0; i < 5; i++) {
		stage_get(stages[i], &ns1[i], &ev1[i]);
		assert_int_equal(ev1[i] - ev0[i], expect[i]);
		assert_true(ns1[i] >= ns0[i]);
	}
	/* SQLite's inserts and commits take measurable CPU time. */
	assert_true(ns1[1] > ns0[1]);
	assert_true(ns1[3] > ns0[3]);
	job_free(a);
	job_free(b);
	tracker_release();
}

/* A batch that asks to be alone gets a transaction of its own, and so do its neighbours. */
static void test_alone_batch_commits_by_itself(void **state)
{
	(void)state;
	tracker_init();
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 100, 100), 0);
	struct job *a = job_new(0, 1), *b = job_new(10, 2), *c = job_new(20, 2),
		   *d = job_new(30, 1);
	a->gated = true;
	c->j.alone = true;
	assert_int_equal(pipeline_submit(p, &a->j), 0);
	wait_entered();
	assert_int_equal(pipeline_submit(p, &b->j), 0);
	assert_int_equal(pipeline_submit(p, &c->j), 0);
	assert_int_equal(pipeline_submit(p, &d->j), 0);
	open_gate();
	wait_done(4);
	wait_queue_empty(p);
	struct pipeline_stats st;
	pipeline_stats(p, &st);
	/* [a], [b], [c], [d]: without c alone, b, c and d would share one. */
	assert_int_equal(st.commits, 4);
	assert_int_equal(st.committed_events, 6);
	pipeline_stop(p);
	job_free(a);
	job_free(b);
	job_free(c);
	job_free(d);
	tracker_release();
}

/* ---- a sink instead of the store ---- */

struct sink_log {
	pthread_mutex_t mu;
	int writes, idles;
	size_t batches;
};

static void sink_write(void *ctx, struct ingest_batch *list)
{
	struct sink_log *l = ctx;
	pthread_mutex_lock(&l->mu);
	l->writes++;
	for (struct ingest_batch *b = list; b; b = b->next) {
		l->batches++;
		b->rc = b->n == 2 ? SIEM_EBROKER : 0; /* the sink refuses batches of two */
		b->accepted = b->rc == 0 ? b->n : 0;
	}
	pthread_mutex_unlock(&l->mu);
}

static int sink_idle(void *ctx)
{
	struct sink_log *l = ctx;
	pthread_mutex_lock(&l->mu);
	l->idles++;
	pthread_mutex_unlock(&l->mu);
	return 0;
}

static void test_sink_takes_batches_instead_of_the_store(void **state)
{
	(void)state;
	tracker_init();
	struct sink_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 100, 100), 0);
	struct pipeline_sink sink = {.write = sink_write, .idle = sink_idle, .ctx = &log};
	pipeline_set_sink(p, &sink);
	struct job *a = job_new(0, 1), *b = job_new(10, 2), *c = job_new(20, 3);
	c->j.received_set = true; /* from the broker: its received_at stays */
	for (size_t i = 0; i < 3; i++)
		c->j.ev[i].received_at = 12345;
	assert_int_equal(pipeline_submit(p, &a->j), 0);
	assert_int_equal(pipeline_submit(p, &b->j), 0);
	assert_int_equal(pipeline_submit(p, &c->j), 0);
	wait_done(3);
	wait_queue_empty(p);
	assert_int_equal(a->j.rc, 0);
	assert_int_equal(a->j.accepted, 1);
	assert_int_equal(b->j.rc, SIEM_EBROKER);
	assert_int_equal(c->j.rc, 0);
	assert_int_equal(c->j.accepted, 3);
	assert_true(a->j.ev[0].received_at >= NOW); /* set when the writer took it */
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(c->j.ev[i].received_at, 12345);
	/* The idle hook runs while nothing is queued (at least once a second). */
	struct timespec t = deadline(), now;
	for (;;) {
		pthread_mutex_lock(&log.mu);
		int idles = log.idles;
		pthread_mutex_unlock(&log.mu);
		if (idles > 0)
			break;
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec > t.tv_sec)
			fail_msg("the sink's idle hook never ran");
		sched_yield();
	}
	struct pipeline_stats st;
	pipeline_stats(p, &st);
	assert_int_equal(log.batches, 3);
	assert_int_equal(st.committed_events, 4);
	assert_true(st.failed_commits >= 1);
	pipeline_stop(p);
	assert_int_equal(stored_events(), 0); /* the store saw nothing */
	job_free(a);
	job_free(b);
	job_free(c);
	tracker_release();
}

static void test_empty_job_is_answered(void **state)
{
	(void)state;
	tracker_init();
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 10, 10), 0);
	struct job *z = job_new(0, 0);
	assert_int_equal(pipeline_submit(p, &z->j), 0);
	wait_done(1);
	assert_int_equal(z->j.rc, 0);
	assert_int_equal(z->j.accepted, 0);
	assert_int_equal(z->j.duplicates, 0);
	pipeline_stop(p);
	job_free(z);
	tracker_release();
}

/* ---- stop ---- */

struct stopper {
	struct pipeline *p;
};

static void *stop_main(void *arg)
{
	pipeline_stop(((struct stopper *)arg)->p);
	return NULL;
}

static void test_stop_drains_queued_jobs(void **state)
{
	(void)state;
	tracker_init();
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 10, 2), 0);
	struct job *a = job_new(0, 1), *b = job_new(10, 2), *c = job_new(20, 2);
	struct job *probe = job_new(100, 50); /* too big to ever be queued while a is held */
	a->gated = true;
	assert_int_equal(pipeline_submit(p, &a->j), 0);
	wait_entered();
	assert_int_equal(pipeline_submit(p, &b->j), 0);
	assert_int_equal(pipeline_submit(p, &c->j), 0);

	/* Stop from another thread while b and c wait; once stopping, submit says ECLOSED. */
	struct stopper sp = {p};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, stop_main, &sp), 0);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int rc = pipeline_submit(p, &probe->j);
		if (rc == SIEM_ECLOSED)
			break;
		assert_int_equal(rc, SIEM_EFULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > DEADLINE_S)
			fail_msg("pipeline_stop never started stopping");
		sched_yield();
	}
	open_gate();
	pthread_join(th, NULL);

	assert_int_equal(TR.done, 3);
	assert_true(b->was_done && c->was_done);
	assert_false(probe->was_done);
	assert_int_equal(b->j.rc, 0);
	assert_int_equal(c->j.rc, 0);
	assert_int_equal(b->j.accepted, 2);
	assert_int_equal(c->j.accepted, 2);
	assert_int_equal(stored_events(), 5);
	job_free(a);
	job_free(b);
	job_free(c);
	job_free(probe);
	tracker_release();
}

static void test_stop_idle_pipeline(void **state)
{
	(void)state;
	struct pipeline *p = NULL;
	assert_int_equal(pipeline_start(&p, S, 0, 0), 0);
	struct pipeline_stats st;
	pipeline_stats(p, &st);
	assert_int_equal(st.max_events, 200000); /* 0 asks for the default */
	assert_int_equal(st.queued_events, 0);
	assert_int_equal(st.commits, 0);
	assert_true(st.writer_alive);
	pipeline_stop(p);
	pipeline_stop(NULL);
	assert_int_equal(stored_events(), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_many_submitters_every_event_once),
	    T(test_duplicates_across_jobs_and_batches),
	    T(test_full_queue_answers_efull),
	    T(test_job_larger_than_queue_taken_when_empty),
	    T(test_job_larger_than_queue_refused_when_busy),
	    T(test_transaction_cap_splits_batches),
	    T(test_alone_batch_commits_by_itself),
	    T(test_detection_runs_beside_the_writer),
	    T(test_stage_counters_move),
	    T(test_sink_takes_batches_instead_of_the_store),
	    T(test_empty_job_is_answered),
	    T(test_stop_drains_queued_jobs),
	    T(test_stop_idle_pipeline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
