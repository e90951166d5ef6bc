/* taskpool.h — a fixed set of worker threads taking tasks from one bounded queue. The hub
 * parses request bodies here, so CPU work spreads over the cores whichever listener thread
 * a connection landed on. */
#ifndef SIEM_TASKPOOL_H
#define SIEM_TASKPOOL_H

#include <stddef.h>

struct taskpool;

struct task {
	void (*run)(struct task *t);
	struct task *next;
};

int taskpool_start(struct taskpool **out, unsigned threads, size_t max_queued);
/* The same with the workers at scheduling priority nice (Linux gives each thread its own):
 * background work, behind the rest of the process on a busy machine. */
int taskpool_start_nice(struct taskpool **out, unsigned threads, size_t max_queued, int nice);
/* Queue t; SIEM_EFULL when max_queued tasks are waiting, SIEM_ECLOSED when stopping. */
int taskpool_submit(struct taskpool *p, struct task *t);
/* Refuse new tasks and take back the ones still queued, which will not run (a list through
 * next, oldest first): the caller answers them. Tasks under way go on; taskpool_stop
 * waits for them. */
struct task *taskpool_close(struct taskpool *p);
/* Run what is queued, then join the workers and free the pool. */
void taskpool_stop(struct taskpool *p);

#endif
