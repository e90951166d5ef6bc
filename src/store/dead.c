/* dead.c — the embedded store's dead letters: listed for GET /dead-letters, read whole for a
 * replay, then removed or given their new reason. Each segment file keeps the dead letters
 * of its time in its own table; a dead letter's id in the store is its segment's id and its
 * row id together (segment << 32 | row), and AUTOINCREMENT keeps a removed row's id from
 * being given again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/store_int.h"

#define sql_err store_sql_err

/* At most this much of each dead letter's raw record is shown: enough to see what went
 * wrong, not a way to read whole files through the API. */
#define DEAD_LETTER_SHOWN 1024

/* The shown part of a raw record as a JSON string; bytes that are not UTF-8 make every
 * non-ASCII byte U+FFFD. */
static json_t *raw_json(const char *raw, int rn)
{
	json_t *rj = json_stringn(raw ? raw : "", (size_t)rn);
	if (rj)
		return rj;
	char *c = malloc((size_t)rn * 3 + 1);
	size_t k = 0;
	for (int j = 0; c && j < rn; j++) {
		unsigned char b = (unsigned char)raw[j];
		if (b < 0x80) {
			c[k++] = (char)b;
		} else {
			memcpy(c + k, "\xef\xbf\xbd", 3);
			k += 3;
		}
	}
	rj = c ? json_stringn(c, k) : json_null();
	free(c);
	return rj;
}

static json_t *row_json(sqlite3_stmt *st, int64_t seg)
{
	char buf[32];
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "id",
			    json_integer(dead_letter_id(seg, sqlite3_column_int64(st, 0))));
	ts_format(sqlite3_column_int64(st, 1), buf);
	json_object_set_new(o, "time", json_string(buf));
	json_object_set_new(o, "source", json_string((const char *)sqlite3_column_text(st, 2)));
	const char *f = (const char *)sqlite3_column_text(st, 3);
	json_object_set_new(o, "file", f ? json_string(f) : json_null());
	json_object_set_new(o, "offset",
			    sqlite3_column_type(st, 4) == SQLITE_NULL
				? json_null()
				: json_integer(sqlite3_column_int64(st, 4)));
	json_object_set_new(o, "reason", json_string((const char *)sqlite3_column_text(st, 5)));
	const char *raw = sqlite3_column_blob(st, 6);
	int rn = sqlite3_column_bytes(st, 6);
	int64_t whole = sqlite3_column_int64(st, 7);
	if (whole > rn) /* cut: end on a character boundary */
		while (rn > 0 && ((unsigned char)raw[rn - 1] & 0xc0) == 0x80)
			rn--;
	if (whole > rn && rn > 0 && (unsigned char)raw[rn - 1] >= 0xc0)
		rn--;
	json_object_set_new(o, "raw", raw_json(raw, rn));
	json_object_set_new(o, "raw_bytes", json_integer(whole));
	json_object_set_new(o, "raw_truncated", json_boolean(whole > rn));
	return o;
}

int sq_list_dead_letters(struct sq_store *s, int limit, json_t *out)
{
	struct seg_view *segs = NULL;
	size_t nseg = 0;
	int rc;
	if ((rc = store_snapshot(s, &segs, &nseg)) < 0)
		return rc;
	for (size_t i = 0; i < nseg && rc == 0 && (int)json_array_size(out) < limit; i++) {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		if ((rc = store_reader_get(s, segs[i].seg, &db)) < 0)
			break;
		if (sqlite3_prepare_v2(db,
				       "SELECT id, ts, source, source_file, source_offset, reason,"
				       " substr(raw, 1, ?), length(raw) FROM dead_letters"
				       " ORDER BY id DESC LIMIT ?",
				       -1, &st, NULL) != SQLITE_OK) {
			rc = sql_err(db, "dead letters");
		} else {
			sqlite3_bind_int(st, 1, DEAD_LETTER_SHOWN);
			sqlite3_bind_int(st, 2, limit - (int)json_array_size(out));
			while (sqlite3_step(st) == SQLITE_ROW) {
				json_t *o = row_json(st, segs[i].id);
				if (!o || json_array_append_new(out, o) < 0) {
					rc = -ENOMEM;
					break;
				}
			}
		}
		sqlite3_finalize(st);
		store_reader_put(s, segs[i].seg, db);
	}
	store_snapshot_release(s, segs, nseg);
	return rc;
}

/* ---- reading them whole ---- */

struct dead_read {
	const struct dead_filter *f;
	struct dead_letter *v;
	size_t n, cap, bytes;
	bool more;
};

static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? strdup(t) : NULL;
}

/* The row st is on, kept when there is room: 1 when full (*more set), 0 kept, or -ENOMEM. */
static int keep_row(struct dead_read *d, sqlite3_stmt *st, int64_t seg)
{
	size_t rn = (size_t)sqlite3_column_bytes(st, 6);
	if (d->n >= d->f->limit || (d->n > 0 && d->bytes + rn > d->f->max_bytes)) {
		d->more = true;
		return 1;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct dead_letter *v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	struct dead_letter *x = &d->v[d->n];
	memset(x, 0, sizeof(*x));
	x->id = dead_letter_id(seg, sqlite3_column_int64(st, 0));
	x->ts = sqlite3_column_int64(st, 1);
	x->source = col_dup(st, 2);
	x->file = col_dup(st, 3);
	x->offset = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 4);
	x->reason = col_dup(st, 5);
	x->raw = malloc(rn + 1);
	d->n++; /* freed with the others, whatever failed */
	if (!x->source || !x->reason || !x->raw ||
	    (sqlite3_column_type(st, 3) != SQLITE_NULL && !x->file))
		return -ENOMEM;
	if (rn)
		memcpy(x->raw, sqlite3_column_blob(st, 6), rn);
	x->raw[rn] = '\0';
	x->raw_n = rn;
	d->bytes += rn;
	return 0;
}

#define DEAD_COLS "SELECT id, ts, source, source_file, source_offset, reason, raw FROM dead_letters"

/* The dead letters of one segment that d's filter selects. */
static int read_segment(struct dead_read *d, sqlite3 *db, int64_t seg)
{
	const struct dead_filter *f = d->f;
	sqlite3_stmt *st = NULL;
	int rc = 0, r;
	const char *sql = f->n_ids ? DEAD_COLS " WHERE id = ?"
				   : DEAD_COLS " WHERE (?1 IS NULL OR source = ?1)"
					       " AND (?2 IS NULL OR instr(reason, ?2) > 0)"
					       " AND ts BETWEEN ?3 AND ?4 ORDER BY id DESC";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_err(db, "read dead letters");
	if (f->n_ids) {
		for (size_t i = 0; i < f->n_ids && rc == 0 && !d->more; i++) {
			if (f->ids[i] >> DEAD_ROW_BITS != seg)
				continue;
			sqlite3_reset(st);
			sqlite3_bind_int64(st, 1, f->ids[i] & DEAD_ROW_MASK);
			if ((r = sqlite3_step(st)) == SQLITE_ROW)
				rc = keep_row(d, st, seg);
			else if (r != SQLITE_DONE)
				rc = sql_err(db, "read dead letters");
		}
	} else {
		if (f->source)
			sqlite3_bind_text(st, 1, f->source, -1, SQLITE_STATIC);
		if (f->reason)
			sqlite3_bind_text(st, 2, f->reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, f->from);
		sqlite3_bind_int64(st, 4, f->to);
		while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW)
			rc = keep_row(d, st, seg);
		if (rc == 0 && r != SQLITE_DONE)
			rc = sql_err(db, "read dead letters");
	}
	sqlite3_finalize(st);
	return rc < 0 ? rc : 0;
}

static bool wanted_segment(const struct dead_filter *f, int64_t seg)
{
	if (!f->n_ids)
		return true;
	for (size_t i = 0; i < f->n_ids; i++)
		if (f->ids[i] >> DEAD_ROW_BITS == seg)
			return true;
	return false;
}

int sq_read_dead_letters(struct sq_store *s, const struct dead_filter *f, struct dead_letter **out,
			 size_t *n, bool *more)
{
	struct seg_view *segs = NULL;
	size_t nseg = 0;
	struct dead_read d = {.f = f};
	int rc;
	if ((rc = store_snapshot(s, &segs, &nseg)) < 0)
		return rc;
	for (size_t i = 0; i < nseg && rc == 0 && !d.more; i++) {
		sqlite3 *db = NULL;
		if (!wanted_segment(f, segs[i].id))
			continue;
		if ((rc = store_reader_get(s, segs[i].seg, &db)) < 0)
			break;
		rc = read_segment(&d, db, segs[i].id);
		store_reader_put(s, segs[i].seg, db);
	}
	store_snapshot_release(s, segs, nseg);
	if (rc < 0) {
		store_dead_letters_free(d.v, d.n);
		return rc;
	}
	*out = d.v;
	*n = d.n;
	*more = d.more;
	return 0;
}

/* ---- settling them ---- */

/* v's entries for segment seg, in one transaction on a connection of its own (the writer
 * keeps its own; SQLite's lock orders the two). */
static int settle_segment(struct segment *g, int64_t seg, const struct dead_settle *v, size_t n)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *del = NULL, *upd = NULL;
	int rc;
	if ((rc = store_open_conn(g->path, false, 1, &db)) < 0)
		return rc;
	if (sqlite3_prepare_v2(db, "DELETE FROM dead_letters WHERE id = ?", -1, &del, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE dead_letters SET reason = ? WHERE id = ?", -1, &upd,
			       NULL) != SQLITE_OK) {
		rc = sql_err(db, "settle dead letters");
		goto out;
	}
	if ((rc = store_exec(db, "BEGIN IMMEDIATE")) < 0)
		goto out;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (v[i].id >> DEAD_ROW_BITS != seg)
			continue;
		sqlite3_stmt *st = v[i].reason ? upd : del;
		sqlite3_reset(st);
		if (v[i].reason) {
			sqlite3_bind_text(st, 1, v[i].reason, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, v[i].id & DEAD_ROW_MASK);
		} else {
			sqlite3_bind_int64(st, 1, v[i].id & DEAD_ROW_MASK);
		}
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = sql_err(db, "settle dead letters");
	}
	if (rc == 0)
		rc = store_exec(db, "COMMIT");
	if (rc < 0)
		store_exec(db, "ROLLBACK");
out:
	sqlite3_finalize(del);
	sqlite3_finalize(upd);
	sqlite3_close(db);
	return rc;
}

int sq_settle_dead_letters(struct sq_store *s, const struct dead_settle *v, size_t n)
{
	struct seg_view *segs = NULL;
	size_t nseg = 0;
	int rc;
	if (s->state_only)
		return -ENOTSUP;
	if ((rc = store_snapshot(s, &segs, &nseg)) < 0)
		return rc;
	for (size_t i = 0; i < nseg && rc == 0; i++) {
		bool any = false;
		for (size_t k = 0; k < n && !any; k++)
			any = v[k].id >> DEAD_ROW_BITS == segs[i].id;
		if (any)
			rc = settle_segment(segs[i].seg, segs[i].id, v, n);
	}
	store_snapshot_release(s, segs, nseg);
	return rc;
}
