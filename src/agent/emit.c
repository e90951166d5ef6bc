/* emit.c — a normalized event into the batch as one NDJSON line (event_to_json, the hub's
 * own serializer): the sink's emit outside the Windows build. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/agent.h"
#include "core/event.h"

int agent_emit(struct agent *a, struct source *s, const struct event *ev)
{
	json_t *o = event_to_json(ev, true);
	if (o)
		json_object_del(o, "received_at"); /* the hub's to set */
	char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!txt) {
		agent_reject_local(a, s, "event", "out of memory");
		return 0;
	}
	int rc = agent_emit_json(a, s, txt, strlen(txt));
	free(txt);
	return rc;
}
