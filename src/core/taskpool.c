/* taskpool.c — mutex + condition variable work queue with a fixed number of threads. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/resource.h>

#include "core/err.h"
#include "core/taskpool.h"

struct taskpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct task *head, *tail;
	size_t queued, max_queued;
	bool stopping;
	int nice;
	unsigned nthreads;
	pthread_t threads[];
};

static void *worker(void *arg)
{
	struct taskpool *p = arg;
#ifdef __linux__
	if (p->nice)
		setpriority(PRIO_PROCESS, (id_t)gettid(), p->nice);
#endif
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		struct task *t = p->head;
		if (!t)
			break;
		p->head = t->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		t->run(t);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int taskpool_start(struct taskpool **out, unsigned threads, size_t max_queued)
{
	return taskpool_start_nice(out, threads, max_queued, 0);
}

int taskpool_start_nice(struct taskpool **out, unsigned threads, size_t max_queued, int nice)
{
	if (threads == 0)
		threads = 1;
	struct taskpool *p = calloc(1, sizeof(*p) + threads * sizeof(pthread_t));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->max_queued = max_queued ? max_queued : 1024;
	p->nice = nice;
	for (unsigned i = 0; i < threads; i++) {
		int err = pthread_create(&p->threads[i], NULL, worker, p);
		if (err) {
			taskpool_stop(p);
			return -err;
		}
		p->nthreads++;
	}
	*out = p;
	return 0;
}

int taskpool_submit(struct taskpool *p, struct task *t)
{
	int rc = 0;
	t->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		rc = SIEM_ECLOSED;
	} else if (p->queued >= p->max_queued) {
		rc = SIEM_EFULL;
	} else {
		if (p->tail)
			p->tail->next = t;
		else
			p->head = t;
		p->tail = t;
		p->queued++;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

struct task *taskpool_close(struct taskpool *p)
{
	pthread_mutex_lock(&p->mu);
	struct task *waiting = p->head;
	p->stopping = true;
	p->head = p->tail = NULL;
	p->queued = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return waiting;
}

void taskpool_stop(struct taskpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
