/* stats_int.h — internals shared by the SQLite files of the dashboard statistics (private to
 * src/store/): stats_query.c (the queries), stats_domain.c (the domain of a DNS event, SQL
 * functions), stats_rollup.c (counting at ingest), stats_rollup_seal.c (writing a sealed
 * segment's counts), stats_rollup_read.c (top-N counts read from memory). What PostgreSQL's
 * pg_stats.c shares with them is in stats_acc.h. */
#ifndef SIEM_STATS_INT_H
#define SIEM_STATS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "core/arena.h"
#include "core/event.h"
#include "store/stats_acc.h"
#include "store/stats_rollup.h"
#include "store/store_int.h"
#include "store/store_stats.h"

#define PERIOD_US (600LL * 1000000) /* a stats_top row covers 10 minutes */

/* ---- SQL functions (stats_domain.c) ---- */

/* siem_stats_domain() and siem_stats_ip() on db, for scans and backfills. */
int stats_register_fns(sqlite3 *db);

/* ---- queries (stats_query.c) ---- */

/* Which whole units (minutes, periods) of [from, to] a segment whose events span
 * [smin, smax] can take from its rollups, and the edges to count from its events. A unit
 * is whole when the range holds every event the segment has in it: a range reaching past
 * a segment's newest or oldest event ("the last hour") needs no edge at that end. */
struct split {
	int64_t ulo, uhi;   /* none when ulo > uhi */
	int64_t edge[2][2]; /* [lo, hi], empty when lo > hi */
};

struct split stats_unit_split(int64_t from, int64_t to, int64_t smin, int64_t smax, int64_t unit);

struct top_job {
	const struct stats_filter *f;
	enum stats_field field;
	struct acc *acc;
	bool used;
	struct sq_store *s;
};

/* Top-N values of [lo, hi] counted from a segment's events. */
int stats_top_raw(sqlite3 *db, struct top_job *j, int64_t lo, int64_t hi);

/* ---- rollups (stats_rollup.c) ---- */

/* The row of a segment's "segment" table as db's transaction sees it (an error is logged
 * as what). */
struct seg_row {
	int64_t id, rows, min_ts, max_ts;
};
int stats_segment_row(sqlite3 *db, const char *what, struct seg_row *out);

enum { ROLL_KEPT = 1, ROLL_TOTALS = 2 };

/* Which rollup tables a segment has: ROLL_KEPT (stats_minute and stats_top, complete since
 * the segment began) and ROLL_TOTALS (stats_total, made when it was sealed). */
int stats_rollup_tables(sqlite3 *db, int *flags);

#define MINUTE_SLOTS 1024 /* a transaction's minute keys before an early write */
#define TOP_FIELDS 5	  /* STATS_SOURCE_IP .. STATS_DOMAIN */
#define T_IPV4 TOP_FIELDS /* a sixth table: IPv4 source addresses, keyed by the address */
#define TOP_TABLES (TOP_FIELDS + 1)
#define CELL_FREE 0xffffu /* the type of a free cell */
#define BATCH_EVENTS 32	  /* events whose top-field values are looked up together */
#define BATCH_ITEMS (BATCH_EVENTS * TOP_FIELDS)

_Static_assert(STATS_SOURCE_IP == 4 && STATS_USER == 5 && STATS_HOST == 6 && STATS_APP == 7 &&
		   STATS_DOMAIN == 8,
	       "top fields are STATS_SOURCE_IP + 0..4, as stats_top numbers them");

/* A seeded 64-bit hash: values come from the network, and this runs for every value of
 * every event, most of them short. */
uint64_t stats_hash_mem(const void *p, size_t n, uint64_t seed);

static inline int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

/* Interned byte strings: dense ids that never change, found by hash. Up to 16 bytes (most
 * names) are kept in the entry itself, which saves a cache miss a lookup. */
#define NAME_INLINE 16

struct name {
	uint64_t h;
	uint32_t n;
	union {
		const char *p;
		char in[NAME_INLINE];
	} s;
};

static inline const char *name_bytes(const struct name *e)
{
	return e->n <= NAME_INLINE ? e->s.in : e->s.p;
}

struct names {
	struct name *v;
	size_t n, cap;
	uint64_t *slot; /* the hash's top half << 32 | id + 1, 0 when free; a power of two, at
			 * most 3/4 full */
	size_t nslot;
	struct arena text; /* the longer ones */
};

/* The count of one value for one event type in one 10-minute period of a segment. */
struct cell {
	uint32_t value; /* the name's id; the address itself in the IPv4 table */
	uint32_t count;
	uint16_t type; /* CELL_FREE for a free cell */
};

/* A cell of a packed period: its type is where it lies. */
struct pcell {
	uint32_t value, count;
};

/* The cells of one period. While events arrive for it, an open-addressing table keyed by
 * value and type: a table per period keeps the cells events count (the current period's)
 * together, a fraction of the segment's that stays in the caches. Once the segment's events
 * have moved on two periods, packed: sorted by type and value, 8 bytes a cell, found by
 * binary search (a late event), and hashed again for good if one brings a new cell. */
struct ptab {
	struct cell *cell; /* hashed: a power of two, at most 3/4 full */
	uint32_t nslot, ncell;
	struct pcell *pk; /* packed: ncell of them, by type then value */
	uint32_t *tstart; /* packed: type t's cells are pk[tstart[t]] .. pk[tstart[t + 1] - 1] */
	uint32_t ntype;	  /* packed: types 0 .. ntype - 1 have a range */
	bool rehashed;	  /* packed once and hashed again: stays hashed */
};

/* The counts of a field: one table set per top field, and one for IPv4 source addresses,
 * which need no names (the most frequent of the many-valued fields: a lookup fewer). */
struct topt {
	struct names values; /* IPv6 source addresses as their 16 bytes, the others as text */
	struct ptab *per;    /* by period id */
	size_t nper, ncell;
	uint64_t *log; /* what the open transaction counted, an entry per event and value
			* (period id << 32 | slot): its counts are in the cells already, readers
			* take them out and a rollback undoes them. Its size follows the
			* transaction's. */
	size_t nlog, caplog;
};

/* The top-N counts of one segment: the active one, or a sealed one the indexer has not
 * written out yet. Guarded by stats_rollup.mu (the writer, the only thread that changes
 * them, reads them without it); a sealed segment's never change again. */
struct segcounts {
	int64_t seg_id;
	int64_t rows, min_ts, max_ts; /* as of the last published commit */
	struct names types, periods;  /* event types; periods as their int64 bytes */
	int64_t last_period;	      /* the writer's */
	uint32_t last_pid;
	int64_t newest_period; /* of the segment's events */
	int64_t packed_below;  /* periods before it are packed (unless hashed again) */
	struct topt t[TOP_TABLES];
	bool over[TOP_FIELDS]; /* outgrew the memory bound: counted from the events */
	int pins;	       /* the indexer is reading it without the lock */
	struct segcounts *next;
};

/* A top-field value of an appended event, waiting for its batch's lookup. */
struct item {
	uint64_t h;
	const char *p; /* in[] or the batch's arena */
	uint32_t n;
	uint32_t value; /* the address (IPv4), else the name's id once looked up */
	uint16_t type, period;
	uint8_t table; /* of a name: the field */
	size_t ch;     /* hash of the cell */
	char in[NAME_INLINE];
};

struct mentry {
	uint64_t h;
	int64_t minute, count;
	const char *os, *type;
	uint32_t nos, ntype;
	int sev;
};

struct stats_rollup {
	pthread_mutex_t mu;
	pthread_cond_t published;
	uint64_t seed;
	sqlite3 *db; /* the active segment's writer connection */
	sqlite3_stmt *up_minute;
	struct segcounts *cur;	  /* the active segment's counts */
	struct segcounts *sealed; /* newest first */
	/* the open transaction (writer thread only) */
	int64_t txn_rows, txn_min, txn_max;
	size_t mused;
	struct arena marena;
	struct mentry mslot[MINUTE_SLOTS];
	struct mentry *morder[MINUTE_SLOTS]; /* the used slots, in the order they were taken */
	/* top-field values waiting for a batch lookup: names from the start, IPv4 addresses
	 * from the end; and their events */
	size_t nitem, nitem4, nbatch;
	struct arena barena; /* the longer of those values */
	struct item item[BATCH_ITEMS];
};

/* The id of p (hash h) in d, when d has it. */
bool names_find(const struct names *d, const void *p, size_t n, uint64_t h, uint32_t *id);

/* Visit the counted cells of period table pt whose type ok_type admits (NULL: all). */
typedef void (*cell_fn)(void *arg, uint32_t type, uint32_t value, uint32_t count);
void ptab_each(const struct ptab *pt, const uint8_t *ok_type, cell_fn fn, void *arg);

/* The counts of segment seg_id, when memory holds them (under the lock). */
struct segcounts *stats_rollup_counts(struct stats_rollup *r, int64_t seg_id);
/* An IPv4 address (host order) as the API writes it. */
size_t stats_ipv4_format(uint32_t a, char buf[46]);

/* ---- top-N counts read from memory (stats_rollup_read.c) ---- */

/* The top-N counts of g's whole periods from memory, the edges from its events: *kept is
 * false when memory has no counts for g (the caller scans its events). */
int stats_rollup_top(struct sq_store *s, sqlite3 *db, const struct seg_view *g, struct top_job *j,
		     bool *kept);

#endif
