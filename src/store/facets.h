/* facets.h — counts of distinct apps, hosts and event types per segment, aggregated in
 * memory during a write transaction and upserted once at commit, so that /apps, /hosts and
 * /event-types read a few rows per segment instead of scanning events. */
#ifndef SIEM_FACETS_H
#define SIEM_FACETS_H

#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/arena.h"
#include "core/event.h"
#include "store/store.h"

#define FACETS_SLOTS 4096 /* at most 65536: order[] holds 16 bits */

struct facet_entry {
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
	uint16_t order[FACETS_SLOTS]; /* the used slots, in the order they were taken */
};

/* Prepare against a segment file's writer connection (again after each new segment). */
int facets_init(struct facets *f, sqlite3 *writer);
void facets_release(struct facets *f);
void facets_reset(struct facets *f);
int facets_add(struct facets *f, const struct event *ev);
/* Write the aggregated counts (inside the writer's transaction). */
int facets_flush(struct facets *f);
/* Add one segment's counts of a field into acc, a JSON object value -> count. */
int facets_query(sqlite3 *db, enum store_distinct_field field, const char *app, json_t *acc);
/* acc as [{"value", "count"}], most frequent first, then by value. */
json_t *facets_sorted(json_t *acc);

#endif
