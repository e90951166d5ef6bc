/* emit.c — a normalized event into the batch as one NDJSON line (event_to_json, the hub's
 * own serializer), and the deterministic ids of file lines. */
#include <inttypes.h>
#include <stdio.h>
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

void agent_line_id(const struct agent *a, uint64_t ino, int64_t off, const char *line, size_t n,
		   uint8_t id[16])
{
	/* The path is left out: a renamed file keeps its inode, and its lines their ids. The
	 * line is in: it tells apart lines written at one offset of one inode (copy-truncate). */
	char stack[2048], *buf = stack;
	int k = snprintf(stack, 320, "agent:%.255s:%" PRIu64 ":%" PRId64 ":",
			 a->cfg.host ? a->cfg.host : "", ino, off);
	if ((size_t)k + n > sizeof(stack)) {
		if (!(buf = malloc((size_t)k + n))) {
			uuid_v4(id); /* out of memory: a fresh id (a re-read may duplicate) */
			return;
		}
		memcpy(buf, stack, (size_t)k);
	}
	memcpy(buf + k, line, n);
	uuid_v5(buf, (size_t)k + n, id);
	if (buf != stack)
		free(buf);
}
