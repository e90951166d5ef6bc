/* jsonl.h — one line of a JSON-lines application log into an event (the JSONL-app schema
 * of DESIGN §2, the whole line kept as raw_message). */
#ifndef SIEM_JSONL_H
#define SIEM_JSONL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/event.h"

/* Returns 0, or SIEM_EPARSE / SIEM_ESCHEMA with a reason in err for a dead letter (bad
 * JSON, not an object, a field of the wrong type). A line without a usable timestamp is
 * accepted with the receive time and EV_TS_MISSING set. */
int jsonl_line_to_event(const char *line, size_t n, int64_t now_us, struct event *ev,
			struct arena *a, char *err, size_t errlen);

#ifdef SIEM_TEST_SEAMS
/* Test seam, compiled in only with -DSIEM_TEST_SEAMS (unit-test and fuzz builds): when set,
 * every line is parsed by json_loadb alone, so that a test can compare it with the fast
 * reader. Elsewhere the fast reader is always tried first. */
extern bool jsonl_test_no_fast_path;
#endif

#endif
