/* watch.c — a thread per watched channel: LISTEN on a connection of its own, the callback on
 * each notice and after each (re)connection; a lost connection is opened again every second. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "hub/watch.h"

#define WAIT_MS 200
#define RETRY_MS 1000
#define STEP_MS 50

struct watch {
	struct store *s;
	const char *channel;
	void (*fn)(void *ctx);
	void *ctx;
	pthread_t thread;
	atomic_bool stopping;
};

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	struct store_listener *l = NULL;
	bool warned = false;
	while (!atomic_load(&w->stopping)) {
		if (!l) {
			int rc = store_listen(w->s, w->channel, &l);
			if (rc < 0) {
				if (!warned)
					log_warn("hub", "cannot listen on '%s' (%s): retrying",
						 w->channel, siem_strerror(rc));
				warned = true;
				for (int i = 0;
				     i < RETRY_MS / STEP_MS && !atomic_load(&w->stopping); i++) {
					struct timespec ts = {0, STEP_MS * 1000000L};
					nanosleep(&ts, NULL);
				}
				continue;
			}
			warned = false;
			w->fn(w->ctx); /* what changed while not listening */
		}
		int got = store_listener_wait(l, WAIT_MS);
		if (got > 0) {
			w->fn(w->ctx);
		} else if (got < 0) {
			store_listener_close(l);
			l = NULL;
		}
	}
	store_listener_close(l);
	return NULL;
}

int watch_start(struct watch **out, struct store *s, const char *channel, void (*fn)(void *ctx),
		void *ctx)
{
	struct watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->s = s;
	w->channel = channel;
	w->fn = fn;
	w->ctx = ctx;
	int rc = -pthread_create(&w->thread, NULL, watch_main, w);
	if (rc < 0) {
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void watch_stop(struct watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stopping, true);
	pthread_join(w->thread, NULL);
	free(w);
}
