/* retain.c — retention: whole sealed segments whose newest event is older than the cutoff
 * are removed, files and all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store_int.h"

#define SUB "store"

int sq_retain(struct sq_store *s, int64_t cutoff_us, int64_t *removed_segments,
	      int64_t *removed_events)
{
	struct segment *gone[64];
	size_t ngone = 0;
	*removed_segments = *removed_events = 0;
	pthread_mutex_lock(&s->seg_mu);
	/* Oldest first; never the active segment; one that is in use waits for next time. */
	for (size_t i = 0; i + 1 < s->nseg && ngone < sizeof(gone) / sizeof(gone[0]);) {
		struct segment *g = s->segs[i];
		if (g->max_ts >= cutoff_us)
			break;
		if (g->refs > 0) {
			i++;
			continue;
		}
		gone[ngone++] = g;
		memmove(&s->segs[i], &s->segs[i + 1], (s->nseg - i - 1) * sizeof(*s->segs));
		s->nseg--;
		s->events_total -= g->rows;
		s->removed_segments++;
		s->removed_events += g->rows;
		*removed_events += g->rows;
	}
	pthread_mutex_unlock(&s->seg_mu);
	for (size_t i = 0; i < ngone; i++) {
		struct segment *g = gone[i];
		size_t n = strlen(g->path) + 8;
		char *aux = malloc(n);
		log_info(SUB, "retention: segment %lld removed (%lld events, newest %lld s old)",
			 (long long)g->id, (long long)g->rows,
			 (long long)((ts_now_us() - g->max_ts) / 1000000));
		if (unlink(g->path) < 0)
			log_warn(SUB, "cannot remove '%s': %s", g->path, strerror(errno));
		for (int k = 0; aux && k < 2; k++) {
			snprintf(aux, n, "%s%s", g->path, k ? "-shm" : "-wal");
			unlink(aux);
		}
		free(aux);
		seg_free(g);
	}
	*removed_segments = (int64_t)ngone;
	return 0;
}
