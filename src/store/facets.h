/* facets.h — per-segment counts of distinct apps, hosts and event types, aggregated in
 * memory during a write transaction and upserted once at commit, so that /apps, /hosts and
 * /event-types read a few rows instead of scanning events. */
#ifndef SIEM_FACETS_H
#define SIEM_FACETS_H

#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/arena.h"
#include "core/event.h"
#include "store/store.h"

#define FACETS_SLOTS 4096

struct facet_entry {
	int64_t seg;
	int field;
	const char *value;
	size_t n;
	int64_t count;
};

struct facets {
	sqlite3 *db;
	sqlite3_stmt *upsert;
	struct arena arena;
	size_t used;
	struct facet_entry slot[FACETS_SLOTS];
};

int facets_init(struct facets *f, sqlite3 *writer);
void facets_release(struct facets *f);
void facets_reset(struct facets *f);
int facets_add(struct facets *f, int64_t seg, const struct event *ev);
/* Write the aggregated counts (inside the writer's transaction). */
int facets_flush(struct facets *f);
/* Distinct values of a field over all segments, most frequent first. */
int facets_query(sqlite3 *db, enum store_distinct_field field, const char *app, json_t *out);
/* Drop the counts of a removed segment (inside the writer's transaction). */
int facets_drop_segment(sqlite3 *writer, int64_t seg);

#endif
