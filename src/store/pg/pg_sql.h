/* pg_sql.h — SQL text built piece by piece for the PostgreSQL backend's reads (pg_events.c,
 * pg_stats.c): a capped text whose first error is kept, parameters whose text the query made
 * (freed together), client text made valid UTF-8 as the writer stores it, sets of values as
 * one text[] parameter, and the conditions on a set of values or numbers. */
#ifndef SIEM_PG_SQL_H
#define SIEM_PG_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "store/pg/pg_int.h"

/* SQL text with a hard cap (core/strbuf, strbuf_init'ed by the caller); the first error is
 * kept and reported when the text is used. */
struct pg_sql {
	struct strbuf b;
	int rc;
};

/* Keep rc when it is the first error of q. */
void pg_sql_rc(struct pg_sql *q, int rc);

#define pg_sql_add(q, ...) pg_sql_rc((q), strbuf_addf(&(q)->b, __VA_ARGS__))

/* Parameters, some with text the query made (freed with pg_qp_release). */
struct pg_qparams {
	struct pg_params p;
	char *own[PG_MAX_PARAMS];
	int nown;
};

/* Bind s (owned from now on, NULL when out of memory) as the next text parameter: its
 * number, or -ENOMEM / -E2BIG. */
int pg_qp_own(struct pg_qparams *x, char *s);
/* Bind v as the next parameter: its number. */
int pg_qp_i64(struct pg_qparams *x, int64_t v);
void pg_qp_release(struct pg_qparams *x);

/* Client text as the writer stores text (pg_write.c): valid UTF-8, a broken sequence as
 * U+FFFD, so that a value finds what was stored from the same bytes. Malloc'd; NULL when out
 * of memory. */
char *pg_text_repair(const char *s, size_t n);
/* A set of values as one text[] literal, {"v1","v2"}, each repaired as pg_text_repair does,
 * with \ and " escaped. One parameter per set keeps a query with many values within
 * PG_MAX_PARAMS. Malloc'd; NULL when out of memory. */
char *pg_values_array(const char *const *vals, size_t n);

/* " AND col = ANY($n::text[])" for a non-empty set; 0 or -ENOMEM / -E2BIG. */
int pg_where_set(struct pg_sql *q, struct pg_qparams *x, const char *col, const struct strset *set);
/* " AND col IN (1,2)" for n > 0: numbers we parsed ourselves, written into the text. */
void pg_where_ints(struct pg_sql *q, const char *col, const int *v, size_t n);

#endif
