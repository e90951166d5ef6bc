/* api_role.c — the listener of the api role: on each notice of ALERTS_CHANNEL (and after each
 * (re)connection, for what was written meanwhile) the alert changes in the store past the
 * last this node published go to its SSE subscribers, in version order. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "hub/api_role.h"

#define WAIT_MS 200
#define RETRY_MS 1000

struct api_role {
	struct store *s;
	struct alerts *alerts;
	pthread_t thread;
	atomic_bool stopping;
};

static void *listen_main(void *arg)
{
	struct api_role *r = arg;
	struct store_listener *l = NULL;
	bool warned = false;
	while (!atomic_load(&r->stopping)) {
		if (!l) {
			int rc = store_listen(r->s, ALERTS_CHANNEL, &l);
			if (rc < 0) {
				if (!warned)
					log_warn("hub",
						 "cannot listen for new alerts (%s): retrying",
						 siem_strerror(rc));
				warned = true;
				for (int i = 0; i < RETRY_MS / 50 && !atomic_load(&r->stopping);
				     i++) {
					struct timespec ts = {0, 50 * 1000000L};
					nanosleep(&ts, NULL);
				}
				continue;
			}
			warned = false;
			alerts_publish_stored(r->alerts); /* what was written while not listening */
		}
		int got = store_listener_wait(l, WAIT_MS);
		if (got > 0) {
			alerts_publish_stored(r->alerts);
		} else if (got < 0) {
			store_listener_close(l);
			l = NULL;
		}
	}
	store_listener_close(l);
	return NULL;
}

int api_role_start(struct api_role **out, struct store *s, struct alerts *alerts)
{
	struct api_role *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->s = s;
	r->alerts = alerts;
	int rc = -pthread_create(&r->thread, NULL, listen_main, r);
	if (rc < 0) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void api_role_stop(struct api_role *r)
{
	if (!r)
		return;
	atomic_store(&r->stopping, true);
	pthread_join(r->thread, NULL);
	free(r);
}
