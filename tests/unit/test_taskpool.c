/* test_taskpool.c — the worker pool: every task runs (stop drains the queue), in order on
 * one thread, in parallel on several, a full queue refuses with SIEM_EFULL, a pool that is
 * stopping refuses with SIEM_ECLOSED, and a closed one hands its queued tasks back. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/taskpool.h"

/* A gate the tasks wait at until the test opens it. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int waiting; /* tasks at the gate */

static void gate_reset(void)
{
	pthread_mutex_lock(&mu);
	gate_open = false;
	waiting = 0;
	pthread_mutex_unlock(&mu);
}

static void gate_wait(void)
{
	pthread_mutex_lock(&mu);
	waiting++;
	pthread_cond_broadcast(&cv);
	while (!gate_open)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void gate_release(void)
{
	pthread_mutex_lock(&mu);
	gate_open = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* Wait (at most 10 s) until n tasks are at the gate. */
static bool gate_reached(int n)
{
	struct timespec end;
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += 10;
	pthread_mutex_lock(&mu);
	while (waiting < n)
		if (pthread_cond_timedwait(&cv, &mu, &end) != 0)
			break;
	bool ok = waiting >= n;
	pthread_mutex_unlock(&mu);
	return ok;
}

struct job {
	struct task t;
	int index;
	bool gated;
};

static atomic_int ran;
static int order[2048]; /* room for every job of a test */
static atomic_int order_n;

static void run_job(struct task *t)
{
	struct job *j = (struct job *)t;
	if (j->gated)
		gate_wait();
	order[atomic_fetch_add(&order_n, 1)] = j->index;
	atomic_fetch_add(&ran, 1);
}

static void reset(struct job *jobs, int n)
{
	atomic_store(&ran, 0);
	atomic_store(&order_n, 0);
	gate_reset();
	for (int i = 0; i < n; i++)
		jobs[i] = (struct job){.t = {.run = run_job}, .index = i};
}

static void test_stop_runs_everything_queued(void **state)
{
	(void)state;
	static struct job jobs[500];
	reset(jobs, 500);
	struct taskpool *p = NULL;
	assert_int_equal(taskpool_start(&p, 3, 1000), 0);
	for (int i = 0; i < 500; i++)
		assert_int_equal(taskpool_submit(p, &jobs[i].t), 0);
	taskpool_stop(p);
	assert_int_equal(atomic_load(&ran), 500);
}

static void test_one_thread_keeps_order(void **state)
{
	(void)state;
	static struct job jobs[200];
	reset(jobs, 200);
	struct taskpool *p = NULL;
	assert_int_equal(taskpool_start(&p, 0, 0), 0); /* 0 threads means one */
	jobs[0].gated = true; /* hold the worker so that the queue fills up behind it */
	for (int i = 0; i < 200; i++)
		assert_int_equal(taskpool_submit(p, &jobs[i].t), 0);
	assert_true(gate_reached(1));
	gate_release();
	taskpool_stop(p);
	assert_int_equal(atomic_load(&order_n), 200);
	for (int i = 0; i < 200; i++)
		assert_int_equal(order[i], i);
}

static void test_full_queue_is_refused(void **state)
{
	(void)state;
	static struct job jobs[4];
	reset(jobs, 4);
	struct taskpool *p = NULL;
	assert_int_equal(taskpool_start(&p, 1, 2), 0);
	jobs[0].gated = true;
	assert_int_equal(taskpool_submit(p, &jobs[0].t), 0);
	assert_true(gate_reached(1)); /* the worker holds job 0: the queue is empty */
	assert_int_equal(taskpool_submit(p, &jobs[1].t), 0);
	assert_int_equal(taskpool_submit(p, &jobs[2].t), 0);
	assert_int_equal(taskpool_submit(p, &jobs[3].t), SIEM_EFULL);
	gate_release();
	taskpool_stop(p);
	assert_int_equal(atomic_load(&ran), 3); /* the refused task never ran */
}

static void test_default_queue_bound(void **state)
{
	(void)state;
	static struct job jobs[1026];
	reset(jobs, 1026);
	struct taskpool *p = NULL;
	assert_int_equal(taskpool_start(&p, 1, 0), 0); /* 0: 1024 waiting at most */
	jobs[0].gated = true;
	assert_int_equal(taskpool_submit(p, &jobs[0].t), 0);
	assert_true(gate_reached(1));
	for (int i = 1; i <= 1024; i++)
		assert_int_equal(taskpool_submit(p, &jobs[i].t), 0);
	assert_int_equal(taskpool_submit(p, &jobs[1025].t), SIEM_EFULL);
	gate_release();
	taskpool_stop(p);
	assert_int_equal(atomic_load(&ran), 1025);
}

static void test_threads_run_in_parallel(void **state)
{
	(void)state;
	static struct job jobs[4];
	reset(jobs, 4);
	struct taskpool *p = NULL;
	assert_int_equal(taskpool_start(&p, 4, 16), 0);
	for (int i = 0; i < 4; i++) {
		jobs[i].gated = true;
		assert_int_equal(taskpool_submit(p, &jobs[i].t), 0);
	}
	bool all = gate_reached(4); /* four tasks at the gate at once: four workers */
	gate_release();
	taskpool_stop(p);
	assert_true(all);
	assert_int_equal(atomic_load(&ran), 4);
}

/* A task that submits while the pool is being stopped is refused. */
static struct taskpool *closing;
static atomic_int late_rc;
static struct job late;

static void submit_late(struct task *t)
{
	(void)t;
	gate_wait();
	int rc = 0;
	for (int i = 0; i < 1000 && rc == 0; i++) { /* until the stopper has marked the pool */
		late = (struct job){.t = {.run = run_job}, .index = 0};
		rc = taskpool_submit(closing, &late.t);
		if (rc == 0) {
			struct timespec ms = {0, 10 * 1000 * 1000};
			nanosleep(&ms, NULL);
		}
	}
	atomic_store(&late_rc, rc);
}

static void *stopper(void *arg)
{
	(void)arg;
	taskpool_stop(closing);
	return NULL;
}

static void test_stopping_pool_refuses(void **state)
{
	(void)state;
	static struct job jobs[1];
	reset(jobs, 1);
	atomic_store(&late_rc, 1);
	struct task t = {.run = submit_late};
	assert_int_equal(taskpool_start(&closing, 1, 8), 0);
	assert_int_equal(taskpool_submit(closing, &t), 0);
	assert_true(gate_reached(1));
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, stopper, NULL), 0);
	gate_release();
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&late_rc), SIEM_ECLOSED);
}

/* Close hands back what is queued, oldest first, unrun; the task under way finishes; the
 * pool refuses new tasks; workers at a lower priority run the same. */
static void test_close_returns_queued(void **state)
{
	(void)state;
	static struct job jobs[4];
	reset(jobs, 4);
	struct taskpool *p = NULL;
	assert_int_equal(taskpool_start_nice(&p, 1, 8, 5), 0);
	jobs[0].gated = true;
	for (int i = 0; i < 3; i++)
		assert_int_equal(taskpool_submit(p, &jobs[i].t), 0);
	assert_true(gate_reached(1)); /* the worker holds job 0; 1 and 2 wait */
	struct task *back = taskpool_close(p);
	assert_ptr_equal(back, &jobs[1].t);
	assert_ptr_equal(back->next, &jobs[2].t);
	assert_null(back->next->next);
	assert_int_equal(taskpool_submit(p, &jobs[3].t), SIEM_ECLOSED);
	gate_release();
	taskpool_stop(p);
	assert_int_equal(atomic_load(&ran), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stop_runs_everything_queued),
	    cmocka_unit_test(test_one_thread_keeps_order),
	    cmocka_unit_test(test_full_queue_is_refused),
	    cmocka_unit_test(test_default_queue_bound),
	    cmocka_unit_test(test_threads_run_in_parallel),
	    cmocka_unit_test(test_stopping_pool_refuses),
	    cmocka_unit_test(test_close_returns_queued),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
