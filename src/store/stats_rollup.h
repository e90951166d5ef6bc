/* stats_rollup.h — the dashboard counts the writer keeps with the events (private to
 * src/store/: the writer and the indexer call these; the queries of store_stats.h read the
 * counts). */
#ifndef SIEM_STATS_ROLLUP_H
#define SIEM_STATS_ROLLUP_H

#include <stdint.h>

#include <sqlite3.h>

#include "core/event.h"

/* One per store (struct sq_store.rollup), from the first writer connection to store_close.
 * Per-minute counts (os_type, event_type, severity) are written in each transaction with
 * its events. The top-N counts (source IP, user, host, app, DNS domain per event type and
 * 10-minute period) of the active segment are kept in memory only, published to readers
 * when a transaction commits, and written into the segment once, when the indexer seals
 * it. A field whose values outgrow the memory bound is counted from the events instead. */
struct stats_rollup;

/* Attach to a segment's writer connection (at open, and again after each roll; the first
 * call allocates *out): creates the rollup tables when missing, filling the per-minute ones
 * from the events already there, and counts the segment's events into memory. */
int stats_rollup_init(struct stats_rollup **out, sqlite3 *writer);
void stats_rollup_free(struct stats_rollup *r);
/* The active segment is being sealed (seg_roll, before the next one is attached): its
 * counts stay in memory, for queries and for the indexer, until stats_rollup_sealed. */
void stats_rollup_roll(struct stats_rollup *r);
/* Forget what the open transaction added (store_begin, store_rollback). */
void stats_rollup_reset(struct stats_rollup *r);
/* Count one appended event (store_append, after the row is written). */
int stats_rollup_add(struct stats_rollup *r, const struct event *ev);
/* Write the transaction's per-minute counts (store_commit, before COMMIT). */
int stats_rollup_flush(struct stats_rollup *r);
/* The transaction committed: readers may see its top-N counts (store_commit, after COMMIT). */
void stats_rollup_commit(struct stats_rollup *r);
/* Write a sealed segment's top-N counts, per period (stats_top) and for the whole segment
 * (stats_total), from memory or, where memory has none, from its events (the indexer,
 * inside its transaction). Nothing to do for a segment without rollups. */
int stats_rollup_seal(struct stats_rollup *r, int64_t seg_id, sqlite3 *db);
/* The indexer committed seg_id's tables: drop its counts from memory. */
void stats_rollup_sealed(struct stats_rollup *r, int64_t seg_id);

#endif
