/* redecode.h — a dead letter's record through today's decoder of the source that kept it,
 * as that source would decode it now: the tailer's JSON lines (with its line limit), the
 * syslog receivers' messages. What POST /dead-letters/replay runs after a decoder fix or a
 * raised limit. */
#ifndef SIEM_REDECODE_H
#define SIEM_REDECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/event.h"

/* What the sources run with now. */
struct redecode_opts {
	size_t tail_line_max; /* the tailer's line limit (0: its default) */
};

/* The dead letter as the store keeps it. */
struct redecode_rec {
	int64_t id; /* the dead letter's id in the store */
	const char *source, *file;
	int64_t offset; /* -1 when none */
	const char *raw;
	size_t raw_n;
};

/* 0 with ev filled (its strings in a), or SIEM_EPARSE / SIEM_ESCHEMA / SIEM_ETOOBIG with the
 * reason in err (the record stays a dead letter with it); -ENOMEM. An event without its own
 * event_id gets uuid_v5 of "dead-letter:<id>:<raw>": replayed twice (a crash before the dead
 * letter was removed), the record is stored once. */
int redecode(const struct redecode_rec *d, const struct redecode_opts *o, int64_t now_us,
	     struct event *ev, struct arena *a, char *err, size_t errlen);

#endif
