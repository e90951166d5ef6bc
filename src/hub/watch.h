/* watch.h — broker mode: what another node changes in the shared PostgreSQL reaches this
 * one. A thread listens on a store channel (PostgreSQL LISTEN) and calls back after each
 * notice, and after each (re)connection for what changed while it was not listening. */
#ifndef SIEM_HUB_WATCH_H
#define SIEM_HUB_WATCH_H

#include "store/store.h"

struct watch;
/* fn(ctx) runs on the watch's thread; channel must outlive the watch. */
int watch_start(struct watch **out, struct store *s, const char *channel, void (*fn)(void *ctx),
		void *ctx);
void watch_stop(struct watch *w);

#endif
