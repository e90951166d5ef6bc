/* facets.c — in-memory aggregation of distinct-value counts, flushed per transaction. */
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/facets.h"

enum { F_APP, F_EVENT_TYPE, F_HOST, F_APP_EVENT_TYPE };

int facets_init(struct facets *f, sqlite3 *writer)
{
	memset(f->slot, 0, sizeof(f->slot));
	f->db = writer;
	f->used = 0;
	arena_init(&f->arena, 0);
	if (sqlite3_prepare_v3(writer,
			       "INSERT INTO facets(seg, field, value, count) VALUES(?,?,?,?)"
			       " ON CONFLICT(seg, field, value) DO UPDATE SET count = count + excluded.count",
			       -1, SQLITE_PREPARE_PERSISTENT, &f->upsert, NULL) != SQLITE_OK) {
		log_error("store", "facets: %s", sqlite3_errmsg(writer));
		return SIEM_ESQL;
	}
	return 0;
}

void facets_release(struct facets *f)
{
	sqlite3_finalize(f->upsert);
	f->upsert = NULL;
	arena_release(&f->arena);
}

void facets_reset(struct facets *f)
{
	if (f->used)
		memset(f->slot, 0, sizeof(f->slot));
	f->used = 0;
	arena_reset(&f->arena);
}

static uint64_t hash(int64_t seg, int field, const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)seg ^ ((uint64_t)field << 56);
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int bump(struct facets *f, int64_t seg, int field, const char *p, size_t n)
{
	int rc;
	if (f->used >= FACETS_SLOTS * 3 / 4) {
		if ((rc = facets_flush(f)) < 0)
			return rc;
		facets_reset(f);
	}
	size_t i = hash(seg, field, p, n) & (FACETS_SLOTS - 1);
	for (;; i = (i + 1) & (FACETS_SLOTS - 1)) {
		struct facet_entry *e = &f->slot[i];
		if (!e->value) {
			if (!(e->value = arena_strndup(&f->arena, p, n)))
				return -ENOMEM;
			e->seg = seg;
			e->field = field;
			e->n = n;
			e->count = 1;
			f->used++;
			return 0;
		}
		if (e->seg == seg && e->field == field && e->n == n && memcmp(e->value, p, n) == 0) {
			e->count++;
			return 0;
		}
	}
}

int facets_add(struct facets *f, int64_t seg, const struct event *ev)
{
	int rc = 0;
	char buf[2 * EV_CAP_SHORT + 2];
	if (ev->app.p && (rc = bump(f, seg, F_APP, ev->app.p, ev->app.n)) < 0)
		return rc;
	if (ev->event_type.p && (rc = bump(f, seg, F_EVENT_TYPE, ev->event_type.p, ev->event_type.n)) < 0)
		return rc;
	if (ev->source_host.p &&
	    (rc = bump(f, seg, F_HOST, ev->source_host.p, ev->source_host.n)) < 0)
		return rc;
	if (ev->app.p && ev->event_type.p && ev->app.n + ev->event_type.n + 1 <= sizeof(buf)) {
		/* "app\x1fevent_type": event types per app, read by prefix. */
		memcpy(buf, ev->app.p, ev->app.n);
		buf[ev->app.n] = '\x1f';
		memcpy(buf + ev->app.n + 1, ev->event_type.p, ev->event_type.n);
		rc = bump(f, seg, F_APP_EVENT_TYPE, buf, ev->app.n + 1 + ev->event_type.n);
	}
	return rc;
}

int facets_flush(struct facets *f)
{
	for (size_t i = 0; i < FACETS_SLOTS && f->used; i++) {
		struct facet_entry *e = &f->slot[i];
		if (!e->value)
			continue;
		sqlite3_bind_int64(f->upsert, 1, e->seg);
		sqlite3_bind_int(f->upsert, 2, e->field);
		sqlite3_bind_text(f->upsert, 3, e->value, (int)e->n, SQLITE_STATIC);
		sqlite3_bind_int64(f->upsert, 4, e->count);
		int r = sqlite3_step(f->upsert);
		sqlite3_reset(f->upsert);
		if (r != SQLITE_DONE) {
			log_error("store", "facets: %s", sqlite3_errmsg(f->db));
			return sqlite3_extended_errcode(f->db) == SQLITE_FULL ? -ENOSPC : SIEM_ESQL;
		}
	}
	facets_reset(f);
	return 0;
}

int facets_query(sqlite3 *db, enum store_distinct_field field, const char *app, json_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	char lo[EV_CAP_SHORT + 2], hi[EV_CAP_SHORT + 2];
	const char *sql = "SELECT value, sum(count) AS c FROM facets WHERE field = ?"
			  " GROUP BY value ORDER BY c DESC, value";
	int f = field == DISTINCT_APP ? F_APP : field == DISTINCT_HOST ? F_HOST : F_EVENT_TYPE;
	size_t skip = 0;
	if (field == DISTINCT_EVENT_TYPE && app) {
		size_t n = strlen(app);
		if (n > EV_CAP_SHORT)
			return 0; /* no stored app is that long */
		f = F_APP_EVENT_TYPE;
		sql = "SELECT value, sum(count) AS c FROM facets WHERE field = ? AND value >= ?"
		      " AND value < ? GROUP BY value ORDER BY c DESC, value";
		memcpy(lo, app, n);
		memcpy(hi, app, n);
		lo[n] = '\x1f';
		hi[n] = '\x20';
		lo[n + 1] = hi[n + 1] = '\0';
		skip = n + 1;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("store", "facets query: %s", sqlite3_errmsg(db));
		return SIEM_ESQL;
	}
	sqlite3_bind_int(st, 1, f);
	if (skip) {
		sqlite3_bind_text(st, 2, lo, (int)skip, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, hi, (int)skip, SQLITE_STATIC);
	}
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		if (!v || (size_t)n < skip)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "value", json_stringn(v + skip, (size_t)n - skip));
		json_object_set_new(o, "count", json_integer(sqlite3_column_int64(st, 1)));
		json_array_append_new(out, o);
	}
	if (r != SQLITE_DONE) {
		log_error("store", "facets query: %s", sqlite3_errmsg(db));
		rc = SIEM_ESQL;
	}
	sqlite3_finalize(st);
	return rc;
}

int facets_drop_segment(sqlite3 *writer, int64_t seg)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(writer, "DELETE FROM facets WHERE seg = ?", -1, &st, NULL) != SQLITE_OK)
		return SIEM_ESQL;
	sqlite3_bind_int64(st, 1, seg);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : SIEM_ESQL;
}
