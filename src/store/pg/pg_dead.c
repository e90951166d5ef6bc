/* pg_dead.c — dead letters on PostgreSQL: listed for GET /dead-letters, read whole for a
 * replay, then removed or given their new reason; the twin of dead.c. A dead letter's id is
 * its bigserial, never given twice. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "core/strbuf.h"
#include "store/pg/pg_sql.h"

/* At most this much of each dead letter's raw record is shown (as store_query.c). */
#define DEAD_LETTER_SHOWN 1024

/* The shown part of a raw record as a JSON string; bytes that are not UTF-8 make every
 * non-ASCII byte U+FFFD (as store_query.c writes them). */
static json_t *raw_json(const uint8_t *raw, long rn)
{
	json_t *rj = json_stringn((const char *)raw, (size_t)rn);
	if (rj)
		return rj;
	char *c = malloc((size_t)rn * 3 + 1);
	size_t k = 0;
	for (long j = 0; c && j < rn; j++) {
		if (raw[j] < 0x80) {
			c[k++] = (char)raw[j];
		} else {
			memcpy(c + k, "\xef\xbf\xbd", 3);
			k += 3;
		}
	}
	rj = c ? json_stringn(c, k) : json_null();
	free(c);
	return rj;
}

/* One row of the dead letters query as store_list_dead_letters writes it. */
static json_t *dead_letter_json(const PGresult *r, int i)
{
	uint8_t raw[DEAD_LETTER_SHOWN];
	char buf[32];
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(pg_i64(r, i, 7)));
	ts_format(pg_i64(r, i, 0), buf);
	json_object_set_new(o, "time", json_string(buf));
	json_object_set_new(o, "source", json_string(pg_str(r, i, 1)));
	const char *f = pg_str(r, i, 2);
	json_object_set_new(o, "file", f ? json_string(f) : json_null());
	json_object_set_new(o, "offset",
			    pg_null(r, i, 3) ? json_null() : json_integer(pg_i64(r, i, 3)));
	json_object_set_new(o, "reason", json_string(pg_str(r, i, 4)));
	long rn = pg_bytea(r, i, 5, raw, sizeof(raw));
	int64_t whole = pg_i64(r, i, 6);
	if (rn < 0)
		rn = 0;
	if (whole > rn) /* cut: end on a character boundary */
		while (rn > 0 && (raw[rn - 1] & 0xc0) == 0x80)
			rn--;
	if (whole > rn && rn > 0 && raw[rn - 1] >= 0xc0)
		rn--;
	json_object_set_new(o, "raw", raw_json(raw, rn));
	json_object_set_new(o, "raw_bytes", json_integer(whole));
	json_object_set_new(o, "raw_truncated", json_boolean(whole > rn));
	return o;
}

int pg_list_dead_letters(struct pg_store *s, int limit, json_t *out)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	int rc, want = limit - (int)json_array_size(out);
	if (want <= 0)
		return 0;
	pg_p_i64(&p, DEAD_LETTER_SHOWN);
	pg_p_i64(&p, want);
	if ((rc =
		 pg_run(s,
			"SELECT ts, source, source_file, source_offset, reason, substr(raw, 1, $1),"
			" length(raw), id FROM dead_letters ORDER BY id DESC LIMIT $2",
			&p, &r, "dead letters")) < 0)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *o = dead_letter_json(r, i);
		if (!o || json_array_append_new(out, o) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	PQclear(r);
	return rc;
}

/* ids as one bigint[] literal, {1,2,3}: numbers we hold, written into the text. */
static char *ids_array(const int64_t *ids, size_t n)
{
	struct strbuf b;
	strbuf_init(&b, 64 + n * 21);
	int rc = strbuf_add(&b, "{", 1);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = strbuf_addf(&b, "%s%" PRId64, i ? "," : "", ids[i]);
	if (rc == 0)
		rc = strbuf_add(&b, "}", 1);
	if (rc < 0) {
		strbuf_release(&b);
		return NULL;
	}
	return strbuf_detach(&b, NULL);
}

/* Which dead letters f selects, within its limit and byte budget: their ids into *ids. */
static int pick_ids(struct pg_store *s, const struct dead_filter *f, int64_t **ids, size_t *n,
		    bool *more)
{
	struct pg_qparams x = {0};
	PGresult *r = NULL;
	int rc = 0;
	*ids = NULL;
	*n = 0;
	if (f->n_ids) {
		rc = pg_qp_own(&x, ids_array(f->ids, f->n_ids));
		if (rc >= 0)
			rc = pg_qp_i64(&x, (int64_t)f->limit + 1);
		if (rc >= 0)
			rc = pg_run(s,
				    "SELECT id, coalesce(length(raw), 0) FROM dead_letters"
				    " WHERE id = ANY($1::bigint[]) ORDER BY id DESC LIMIT $2",
				    &x.p, &r, "read dead letters");
	} else {
		/* $1 source, $2 reason: NULL when any */
		const char *const opt[2] = {f->source, f->reason};
		for (int k = 0; k < 2 && rc >= 0; k++) {
			if (opt[k])
				rc = pg_qp_own(&x, pg_text_repair(opt[k], strlen(opt[k])));
			else
				pg_p_text(&x.p, NULL);
		}
		if (rc >= 0) {
			pg_qp_i64(&x, f->from);
			pg_qp_i64(&x, f->to);
			pg_qp_i64(&x, (int64_t)f->limit + 1);
			rc = pg_run(s,
				    "SELECT id, coalesce(length(raw), 0) FROM dead_letters"
				    " WHERE ($1::text IS NULL OR source = $1)"
				    " AND ($2::text IS NULL OR strpos(reason, $2) > 0)"
				    " AND ts BETWEEN $3 AND $4 ORDER BY id DESC LIMIT $5",
				    &x.p, &r, "read dead letters");
		}
	}
	pg_qp_release(&x);
	if (rc < 0)
		return rc;
	int rows = PQntuples(r);
	size_t bytes = 0;
	if (rows > 0 && !(*ids = malloc((size_t)rows * sizeof(**ids))))
		rc = -ENOMEM;
	for (int i = 0; i < rows && rc == 0; i++) {
		size_t rn = (size_t)pg_i64(r, i, 1);
		if (*n >= f->limit || (*n > 0 && bytes + rn > f->max_bytes)) {
			*more = true;
			break;
		}
		(*ids)[(*n)++] = pg_i64(r, i, 0);
		bytes += rn;
	}
	PQclear(r);
	return rc;
}

static char *dup_col(const PGresult *r, int i, int col)
{
	const char *t = pg_str(r, i, col);
	return t ? strdup(t) : NULL;
}

int pg_read_dead_letters(struct pg_store *s, const struct dead_filter *f, struct dead_letter **out,
			 size_t *n, bool *more)
{
	int64_t *ids = NULL;
	size_t nids = 0;
	struct pg_qparams x = {0};
	PGresult *r = NULL;
	struct dead_letter *v = NULL;
	size_t nv = 0;
	int rc = pick_ids(s, f, &ids, &nids, more);
	if (rc < 0 || nids == 0)
		goto out;
	if ((rc = pg_qp_own(&x, ids_array(ids, nids))) < 0 ||
	    (rc = pg_run(s,
			 "SELECT id, ts, source, source_file, source_offset, reason, raw"
			 " FROM dead_letters WHERE id = ANY($1::bigint[]) ORDER BY id DESC",
			 &x.p, &r, "read dead letters")) < 0)
		goto out;
	int rows = PQntuples(r);
	if (rows > 0 && !(v = calloc((size_t)rows, sizeof(*v)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < rows && rc == 0; i++) {
		struct dead_letter *d = &v[nv++];
		uint8_t *raw = NULL;
		d->id = pg_i64(r, i, 0);
		d->ts = pg_i64(r, i, 1);
		d->source = dup_col(r, i, 2);
		d->file = dup_col(r, i, 3);
		d->offset = pg_null(r, i, 4) ? -1 : pg_i64(r, i, 4);
		d->reason = dup_col(r, i, 5);
		if ((rc = pg_bytea_dup(r, i, 6, &raw, &d->raw_n)) < 0)
			break;
		/* Text for the decoders: NUL-terminated, never NULL. */
		d->raw = realloc(raw, d->raw_n + 1);
		if (!d->raw) {
			free(raw);
			rc = -ENOMEM;
			break;
		}
		d->raw[d->raw_n] = '\0';
		if (!d->source || !d->reason || (!pg_null(r, i, 3) && !d->file))
			rc = -ENOMEM;
	}
out:
	PQclear(r);
	pg_qp_release(&x);
	free(ids);
	if (rc < 0) {
		store_dead_letters_free(v, nv);
		*more = false;
		return rc;
	}
	*out = v;
	*n = nv;
	return 0;
}

int pg_settle_dead_letters(struct pg_store *s, const struct dead_settle *v, size_t n)
{
	PGconn *c;
	int64_t *gone = malloc(n * sizeof(*gone));
	size_t ngone = 0;
	int rc;
	if (!gone)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!v[i].reason)
			gone[ngone++] = v[i].id;
	if ((rc = pg_conn_get(s, &c)) < 0) {
		free(gone);
		return rc;
	}
	if ((rc = pg_exec(c, "BEGIN", NULL, NULL, "settle dead letters")) == 0) {
		if (ngone) {
			struct pg_qparams x = {0};
			if ((rc = pg_qp_own(&x, ids_array(gone, ngone))) >= 0)
				rc = pg_exec(
				    c, "DELETE FROM dead_letters WHERE id = ANY($1::bigint[])",
				    &x.p, NULL, "settle dead letters");
			pg_qp_release(&x);
		}
		for (size_t i = 0; i < n && rc >= 0; i++) {
			if (!v[i].reason)
				continue;
			struct pg_qparams x = {0};
			if ((rc = pg_qp_own(
				 &x, pg_text_repair(v[i].reason, strlen(v[i].reason)))) >= 0) {
				pg_qp_i64(&x, v[i].id);
				rc = pg_exec(c, "UPDATE dead_letters SET reason = $1 WHERE id = $2",
					     &x.p, NULL, "settle dead letters");
			}
			pg_qp_release(&x);
		}
		rc = pg_txn_end(c, rc < 0 ? rc : 0, "settle dead letters");
	}
	pg_conn_put(s, c);
	free(gone);
	return rc;
}
