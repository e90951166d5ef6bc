/* reply.h — the hub's answer to POST /ingest: {"accepted", "duplicates", "rejected":
 * [{"index", "error"}]}. */
#ifndef SIEM_AGENT_REPLY_H
#define SIEM_AGENT_REPLY_H

#include <stddef.h>

struct reply {
	long accepted, duplicates, rejected;
};

/* Parse body; on_reject is called for each rejection (index into the batch, the hub's
 * reason). Returns 0, or -EBADMSG when the body is not such an answer. */
int reply_parse(const char *body, size_t n, struct reply *r,
		void (*on_reject)(void *ctx, long index, const char *error), void *ctx);

#endif
