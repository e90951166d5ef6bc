/* pihole.h — Pi-hole's FTL query database (pihole-FTL.db, schema v5 and v6) read-only:
 * queries after a remembered id become events (blocked ones DNS_BLOCK, optionally the
 * others DNS_QUERY). */
#ifndef SIEM_PIHOLE_H
#define SIEM_PIHOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/event.h"

struct pihole_reader;

struct pihole_config {
	const char *db_path; /* default /etc/pihole/pihole-FTL.db */
	bool all_queries;    /* also allowed queries, as DNS_QUERY severity 1 */
	const char *host;    /* source_host of the events (default: this machine's name) */
};

int pihole_open(struct pihole_reader **out, const struct pihole_config *cfg);
void pihole_close(struct pihole_reader *r);
/* Up to max events for queries with id > after_id, oldest first, into ev[]; *n events
 * written, *last_id the id of the last query examined (also when it made no event). A
 * locked or busy database is retried briefly, then -EBUSY (the caller tries again later;
 * never fatal). */
int pihole_read(struct pihole_reader *r, int64_t after_id, size_t max, struct event *ev, size_t *n,
		struct arena *a, int64_t *last_id);
/* Is this FTL status a blocked one (FTL's is_blocked(): 1 4 5 6 7 8 9 10 11 15 16 18)? */
bool pihole_status_blocked(int status);

#endif
