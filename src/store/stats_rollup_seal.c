/* stats_rollup_seal.c — a sealed segment's top-N counts written into it by the indexer:
 * stats_top (per period) and stats_total (the whole segment), from memory, or from its events
 * for a field memory did not keep. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/stats_int.h"

#define SUB "stats"

/* A top field's rows of stats_top counted from the events (a field memory did not keep). */
static const char *const backfill_top_sql[TOP_FIELDS] = {
    "INSERT INTO stats_top SELECT 4, coalesce(event_type, ''), ts / 600000000,"
    " siem_stats_ip(ip), count(*) FROM events WHERE length(ip) = 16 GROUP BY 2, 3, 4",
    "INSERT INTO stats_top SELECT 5, coalesce(event_type, ''), ts / 600000000, user, count(*)"
    " FROM events WHERE user IS NOT NULL GROUP BY 2, 3, 4",
    "INSERT INTO stats_top SELECT 6, coalesce(event_type, ''), ts / 600000000, host, count(*)"
    " FROM events WHERE host IS NOT NULL GROUP BY 2, 3, 4",
    "INSERT INTO stats_top SELECT 7, coalesce(event_type, ''), ts / 600000000, app, count(*)"
    " FROM events WHERE app IS NOT NULL GROUP BY 2, 3, 4",
    "INSERT INTO stats_top SELECT 8, et, p, v, count(*) FROM (SELECT coalesce(event_type, '')"
    " AS et, ts / 600000000 AS p, siem_stats_domain(event_type, data, message) AS v"
    " FROM events) WHERE v IS NOT NULL GROUP BY 2, 3, 4",
};

static int table_field(int k)
{
	return k == T_IPV4 ? 0 : k;
}

struct rank_item {
	const char *p;
	size_t n;
	int64_t num;
	uint32_t id;
};

static int rank_text_cmp(const void *x, const void *y)
{
	const struct rank_item *a = x, *b = y;
	return cmp_bytes(a->p, a->n, b->p, b->n);
}

static int rank_num_cmp(const void *x, const void *y)
{
	const struct rank_item *a = x, *b = y;
	return (a->num > b->num) - (a->num < b->num);
}

/* rank[id]: where each name comes in the order of a table key (bytes, or text[id] when
 * given, or int64 keys when num); by: the inverse. */
static int rank_names(const struct names *d, const struct sv *text, bool num, uint32_t **rank,
		      uint32_t **by)
{
	size_t n = d->n ? d->n : 1;
	struct rank_item *it = malloc(n * sizeof(*it));
	*rank = malloc(n * sizeof(**rank));
	*by = malloc(n * sizeof(**by));
	if (!it || !*rank || !*by) {
		free(it);
		return -ENOMEM;
	}
	for (size_t k = 0; k < d->n; k++) {
		it[k] = (struct rank_item){name_bytes(&d->v[k]), d->v[k].n, 0, (uint32_t)k};
		if (text)
			it[k].p = text[k].p, it[k].n = text[k].n;
		if (num)
			memcpy(&it[k].num, it[k].p, sizeof(it[k].num));
	}
	qsort(it, d->n, sizeof(*it), num ? rank_num_cmp : rank_text_cmp);
	for (size_t k = 0; k < d->n; k++) {
		(*by)[k] = it[k].id;
		(*rank)[it[k].id] = (uint32_t)k;
	}
	free(it);
	return 0;
}

struct out_row {
	uint64_t key; /* type rank << 48 | period rank << 32 | value rank (or address) */
	uint32_t count, value;
};

struct rows_ctx {
	struct out_row *rows;
	size_t n;
	const uint32_t *trank, *vrank;
	uint64_t prank; /* the period's rank, shifted */
};

static void add_row_cb(void *arg, uint32_t type, uint32_t value, uint32_t count)
{
	struct rows_ctx *x = arg;
	x->rows[x->n++] = (struct out_row){(uint64_t)x->trank[type] << 48 | x->prank |
					       (x->vrank ? x->vrank[value] : value),
					   count, value};
}

static int out_cmp(const void *x, const void *y)
{
	uint64_t a = ((const struct out_row *)x)->key, b = ((const struct out_row *)y)->key;
	return (a > b) - (a < b);
}

/* Table k's rows of stats_top from c, in the table's key order (the IPv4 table's by
 * address, which is near enough). */
static int write_table(sqlite3 *db, const struct segcounts *c, int k, const uint32_t *trank,
		       const uint32_t *tby, const uint32_t *prank, const uint32_t *pby)
{
	const struct topt *t = &c->t[k];
	uint32_t *vrank = NULL, *vby = NULL;
	struct sv *text = NULL;
	struct out_row *rows = NULL;
	sqlite3_stmt *st = NULL;
	struct arena a;
	char buf[46];
	size_t n = 0;
	int rc = 0;
	arena_init(&a, 0);
	if (k == 0) { /* IPv6 addresses as the text the API answers with, and sorted as such */
		if (!(text = malloc((t->values.n ? t->values.n : 1) * sizeof(*text)))) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t v = 0; v < t->values.n; v++) {
			char *b = arena_alloc(&a, 46);
			if (!b) {
				rc = -ENOMEM;
				goto out;
			}
			text[v] = (struct sv){
			    b, ip_format((const uint8_t *)name_bytes(&t->values.v[v]), b)};
		}
	}
	if (k != T_IPV4 && (rc = rank_names(&t->values, text, false, &vrank, &vby)) < 0)
		goto out;
	if (!(rows = malloc((t->ncell ? t->ncell : 1) * sizeof(*rows)))) {
		rc = -ENOMEM;
		goto out;
	}
	struct rows_ctx rc_ = {rows, 0, trank, vrank, 0};
	for (size_t p = 0; p < t->nper && p < c->periods.n; p++) {
		rc_.prank = (uint64_t)prank[p] << 32;
		ptab_each(&t->per[p], NULL, add_row_cb, &rc_);
	}
	n = rc_.n;
	qsort(rows, n, sizeof(*rows), out_cmp);
	if (sqlite3_prepare_v2(db, "INSERT INTO stats_top VALUES(?,?,?,?,?)", -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = store_sql_err(db, "stats seal");
		goto out;
	}
	for (size_t j = 0; j < n && rc == 0; j++) {
		const struct name *ty = &c->types.v[tby[rows[j].key >> 48]];
		const struct name *pe = &c->periods.v[pby[(rows[j].key >> 32) & 0xffff]];
		int64_t period;
		struct sv val;
		memcpy(&period, name_bytes(pe), sizeof(period));
		if (k == T_IPV4)
			val = (struct sv){buf, stats_ipv4_format(rows[j].value, buf)};
		else if (text)
			val = text[rows[j].value];
		else
			val = (struct sv){name_bytes(&t->values.v[rows[j].value]),
					  t->values.v[rows[j].value].n};
		sqlite3_bind_int(st, 1, STATS_SOURCE_IP + table_field(k));
		sqlite3_bind_text(st, 2, name_bytes(ty), (int)ty->n, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, period);
		sqlite3_bind_text(st, 4, val.p, (int)val.n, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, rows[j].count);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_sql_err(db, "stats seal");
		sqlite3_reset(st);
	}
out:
	sqlite3_finalize(st);
	free(rows);
	free(text);
	free(vrank);
	free(vby);
	arena_release(&a);
	return rc;
}

/* c's fields kept in memory into stats_top; the others from the events. */
static int write_counts(sqlite3 *db, const struct segcounts *c)
{
	uint32_t *trank = NULL, *tby = NULL, *prank = NULL, *pby = NULL;
	int rc = 0;
	if (c && ((rc = rank_names(&c->types, NULL, false, &trank, &tby)) < 0 ||
		  (rc = rank_names(&c->periods, NULL, true, &prank, &pby)) < 0))
		goto out;
	for (int i = 0; i < TOP_FIELDS && rc == 0; i++) {
		if (!c || c->over[i]) {
			rc = store_exec(db, backfill_top_sql[i]);
			continue;
		}
		rc = write_table(db, c, i, trank, tby, prank, pby);
		if (rc == 0 && i == 0)
			rc = write_table(db, c, T_IPV4, trank, tby, prank, pby);
	}
out:
	free(trank);
	free(tby);
	free(prank);
	free(pby);
	return rc;
}

int stats_rollup_seal(struct stats_rollup *r, int64_t seg_id, sqlite3 *db)
{
	struct segcounts *c = NULL;
	int flags = 0, rc = stats_rollup_tables(db, &flags);
	if (rc < 0 || !(flags & ROLL_KEPT))
		return rc;
	if ((rc = stats_register_fns(db)) < 0 ||
	    (rc = store_exec(
		 db, "CREATE TABLE IF NOT EXISTS stats_total(field INTEGER NOT NULL,"
		     " event_type TEXT NOT NULL, value TEXT NOT NULL, count INTEGER NOT NULL,"
		     " PRIMARY KEY(field, event_type, value)) WITHOUT ROWID;"
		     "DELETE FROM stats_total; DELETE FROM stats_top;")) < 0)
		return rc;
	if (r) {
		pthread_mutex_lock(&r->mu);
		if ((c = stats_rollup_counts(r, seg_id)) && c != r->cur)
			c->pins++; /* sealed: nothing changes it any more, read it unlocked */
		else
			c = NULL;
		pthread_mutex_unlock(&r->mu);
	}
	int64_t t0 = ts_now_us();
	rc = write_counts(db, c);
	if (rc == 0)
		rc = store_exec(
		    db, "INSERT INTO stats_total SELECT field, event_type, value, sum(count)"
			" FROM stats_top GROUP BY field, event_type, value;");
	if (c) {
		pthread_mutex_lock(&r->mu);
		c->pins--;
		pthread_mutex_unlock(&r->mu);
	}
	if (rc == 0)
		log_info(SUB, "segment %lld: top-N tables written %s in %lld ms", (long long)seg_id,
			 c ? "from memory" : "from its events",
			 (long long)(ts_now_us() - t0) / 1000);
	return rc;
}
