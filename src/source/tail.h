/* tail.h — the JSON-lines directory tailer (--tail-dir / SIEM_LOG_DIR): finds every .jsonl file,
 * follows files as they grow, rotate and disappear, and commits each file's offset in the
 * same transaction as the events read from it. */
#ifndef SIEM_TAIL_H
#define SIEM_TAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "ingest/pipeline.h"
#include "store/store.h"

struct tailer;

#define TAIL_DEFAULT_LINE_MAX ((size_t)1 << 20)

struct tail_config {
	const char *dir;
	int poll_ms;	  /* rescan period when inotify is unavailable or as a safety net */
	size_t batch_max; /* lines per transaction */
	size_t line_max;  /* longer lines are dead letters (0: TAIL_DEFAULT_LINE_MAX) */
};

int tailer_start(struct tailer **out, const struct tail_config *cfg, struct store *s,
		 struct pipeline *p);
/* For GET /ready: the folder, whether the tailer runs and how many files it follows. */
struct tailer_stats {
	const char *dir;
	bool running;
	int64_t files;
};
void tailer_get_stats(struct tailer *t, struct tailer_stats *st);
/* Finish the batch in hand, stop, free. */
void tailer_stop(struct tailer *t);

#endif
