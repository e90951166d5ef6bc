/* migrate_int.h — what the files of `minisiem migrate` share: migrate.c (the run: source,
 * destination, events), migrate_rows.c (hub-state tables, dead letters, file offsets) and
 * migrate_check.c (the check at the end). */
#ifndef SIEM_MIGRATE_INT_H
#define SIEM_MIGRATE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/pg/pg_int.h"
#include "store/schema.h"
#include "store/store_int.h"

/* One segment file of the source. */
struct mig_seg {
	int64_t id;
	char *path;
	int64_t rows, min_seq, max_seq; /* of its events */
	int64_t done_seq;		/* copied up to here (the destination's meta) */
};

/* One run. */
struct mig {
	const struct store_migrate_opts *o;
	struct store_migrate_result *r;
	sqlite3 *main;	      /* the source's main database, read-only */
	struct mig_seg *segs; /* oldest first */
	size_t nseg;
	struct pg_store *pg;
	struct store_migrate_progress p;
	int64_t t0_us;
};

/* A table copied row by row with its keys. cols: its columns, comma-separated; types, one
 * letter a column: i integer, t text, b boolean (SQLite 0/1), x blob -> bytea; where: which
 * source rows (NULL: all). A row already in the destination (same key) is overwritten. */
struct mig_table {
	const char *name, *key, *cols, *types, *where;
};
extern const struct mig_table mig_state_tables[];
extern const size_t mig_n_state;
extern const struct mig_table mig_offsets_table;

/* ---- migrate.c ---- */

/* Set r->msg from fmt; returns rc. */
int mig_fail(struct mig *m, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* One integer of a query on a source file, with ? bound to bind when it has one (0 when no
 * row or NULL); an error is left in *rc. */
int64_t mig_sq_int(sqlite3 *db, const char *sql, int64_t bind, int *rc);
/* Prepare the SELECT of a segment's events as store_row_event reads them, followed by tail
 * (WHERE, ORDER BY). A column that an older segment file does not have yet reads as NULL
 * (segment migrations only add columns), so such a file is read without changing it. */
int mig_ev_select(sqlite3 *db, const char *tail, sqlite3_stmt **st);
/* The destination's meta value key as a number (0 when absent); set it, on connection c. */
int mig_meta_i64(struct mig *m, const char *key, int64_t *v);
int mig_meta_set_i64(PGconn *c, const char *key, int64_t v);

/* ---- migrate_rows.c ---- */

int mig_copy_state(struct mig *m);
/* Dead letters of each segment, and the file offsets of the newest. */
int mig_copy_dead_letters(struct mig *m);
int mig_copy_offsets(struct mig *m);
/* Move each bigserial past the largest id copied. */
int mig_bump_sequences(struct mig *m);

/* ---- migrate_check.c ---- */

/* Counts of events and rows, source against destination, then o->sample events compared
 * as JSON. -EBADMSG, with r->msg saying what, on a difference. */
int mig_check(struct mig *m);

#endif
