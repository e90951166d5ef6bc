/* api_role.c — the api role: on each notice of ALERTS_CHANNEL (and after each (re)connection,
 * for what was written meanwhile) the alert changes in the store past the last this node
 * published go to its SSE subscribers, in version order. */
#include <stdlib.h>

#include "core/err.h"
#include "hub/api_role.h"
#include "hub/watch.h"

struct api_role {
	struct watch *w;
};

static void publish_stored(void *ctx)
{
	alerts_publish_stored(ctx);
}

int api_role_start(struct api_role **out, struct store *s, struct alerts *alerts)
{
	struct api_role *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = watch_start(&r->w, s, ALERTS_CHANNEL, publish_stored, alerts);
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
	watch_stop(r->w);
	free(r);
}
