/* pg_sql.c — SQL text built piece by piece, with the parameters it owns, for the PostgreSQL
 * backend's reads (pg_sql.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "store/pg/pg_sql.h"

void pg_sql_rc(struct pg_sql *q, int rc)
{
	if (rc < 0 && q->rc == 0)
		q->rc = rc;
}

/* ---- owned parameters ---- */

int pg_qp_own(struct pg_qparams *x, char *s)
{
	if (!s)
		return -ENOMEM;
	if (x->nown >= PG_MAX_PARAMS) {
		free(s);
		return -E2BIG;
	}
	x->own[x->nown++] = s;
	pg_p_text(&x->p, s);
	return x->p.n;
}

int pg_qp_i64(struct pg_qparams *x, int64_t v)
{
	pg_p_i64(&x->p, v);
	return x->p.n;
}

void pg_qp_release(struct pg_qparams *x)
{
	for (int i = 0; i < x->nown; i++)
		free(x->own[i]);
	x->nown = 0;
}

/* ---- client text ---- */

char *pg_text_repair(const char *s, size_t n)
{
	char *d = malloc(3 * n + 1);
	if (d)
		d[utf8_copy_repair(d, (const unsigned char *)s, n, false)] = '\0';
	return d;
}

char *pg_values_array(const char *const *vals, size_t n)
{
	size_t cap = 3;
	for (size_t i = 0; i < n; i++)
		cap += 6 * strlen(vals[i]) + 3;
	char *out = malloc(cap);
	size_t k = 0;
	if (!out)
		return NULL;
	out[k++] = '{';
	for (size_t i = 0; i < n; i++) {
		char *v = pg_text_repair(vals[i], strlen(vals[i]));
		if (!v) {
			free(out);
			return NULL;
		}
		if (i)
			out[k++] = ',';
		out[k++] = '"';
		for (const char *c = v; *c; c++) {
			if (*c == '\\' || *c == '"')
				out[k++] = '\\';
			out[k++] = *c;
		}
		out[k++] = '"';
		free(v);
	}
	out[k++] = '}';
	out[k] = '\0';
	return out;
}

/* ---- conditions ---- */

int pg_where_set(struct pg_sql *q, struct pg_qparams *x, const char *col, const struct strset *set)
{
	if (set->n == 0)
		return 0;
	int k = pg_qp_own(x, pg_values_array(set->v, set->n));
	if (k < 0)
		return k;
	pg_sql_add(q, " AND %s = ANY($%d::text[])", col, k);
	return 0;
}

void pg_where_ints(struct pg_sql *q, const char *col, const int *v, size_t n)
{
	if (n == 0)
		return;
	pg_sql_add(q, " AND %s IN (", col);
	for (size_t i = 0; i < n; i++)
		pg_sql_add(q, "%s%d", i ? "," : "", v[i]);
	pg_sql_add(q, ")");
}
