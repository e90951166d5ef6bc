/* facets.c — in-memory aggregation of distinct-value counts, flushed per transaction. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "store/facets.h"

enum { F_APP, F_EVENT_TYPE, F_HOST, F_APP_EVENT_TYPE };

int facets_init(struct facets *f, sqlite3 *writer)
{
	facets_release(f);
	memset(f->slot, 0, sizeof(f->slot));
	f->db = writer;
	f->used = 0;
	arena_init(&f->arena, 0);
	if (sqlite3_prepare_v3(
		writer,
		"INSERT INTO facets(field, value, count) VALUES(?,?,?)"
		" ON CONFLICT(field, value) DO UPDATE SET count = count + excluded.count",
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

/* Clear only the used slots: a small transaction uses a few, and zeroing the whole table
 * cost more than the rest of its commit. */
void facets_reset(struct facets *f)
{
	for (size_t i = 0; i < f->used; i++)
		memset(&f->slot[f->order[i]], 0, sizeof(f->slot[0]));
	f->used = 0;
	arena_reset(&f->arena);
}

static uint64_t hash(int field, const char *p, size_t n)
{
	return hash_cont(1469598103934665603ULL ^ ((uint64_t)field << 56), p, n);
}

static int bump(struct facets *f, int field, const char *p, size_t n)
{
	int rc;
	if (f->used >= FACETS_SLOTS * 3 / 4) {
		if ((rc = facets_flush(f)) < 0)
			return rc;
		facets_reset(f);
	}
	size_t i = hash(field, p, n) & (FACETS_SLOTS - 1);
	for (;; i = (i + 1) & (FACETS_SLOTS - 1)) {
		struct facet_entry *e = &f->slot[i];
		if (!e->value) {
			if (!(e->value = arena_strndup(&f->arena, p, n)))
				return -ENOMEM;
			e->field = field;
			e->n = n;
			e->count = 1;
			f->order[f->used++] = (uint16_t)i;
			return 0;
		}
		if (e->field == field && e->n == n && memcmp(e->value, p, n) == 0) {
			e->count++;
			return 0;
		}
	}
}

int facets_add(struct facets *f, const struct event *ev)
{
	int rc = 0;
	char buf[2 * EV_CAP_SHORT + 2];
	if (ev->app.p && (rc = bump(f, F_APP, ev->app.p, ev->app.n)) < 0)
		return rc;
	if (ev->event_type.p &&
	    (rc = bump(f, F_EVENT_TYPE, ev->event_type.p, ev->event_type.n)) < 0)
		return rc;
	if (ev->source_host.p && (rc = bump(f, F_HOST, ev->source_host.p, ev->source_host.n)) < 0)
		return rc;
	if (ev->app.p && ev->event_type.p && ev->app.n + ev->event_type.n + 1 <= sizeof(buf)) {
		/* "app\x1fevent_type": event types per app, read by prefix. */
		memcpy(buf, ev->app.p, ev->app.n);
		buf[ev->app.n] = '\x1f';
		memcpy(buf + ev->app.n + 1, ev->event_type.p, ev->event_type.n);
		rc = bump(f, F_APP_EVENT_TYPE, buf, ev->app.n + 1 + ev->event_type.n);
	}
	return rc;
}

int facets_flush(struct facets *f)
{
	for (size_t i = 0; i < f->used; i++) {
		struct facet_entry *e = &f->slot[f->order[i]];
		sqlite3_bind_int(f->upsert, 1, e->field);
		sqlite3_bind_text(f->upsert, 2, e->value, (int)e->n, SQLITE_STATIC);
		sqlite3_bind_int64(f->upsert, 3, e->count);
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

int facets_query(sqlite3 *db, enum store_distinct_field field, const char *app, json_t *acc)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	char lo[EV_CAP_SHORT + 2], hi[EV_CAP_SHORT + 2];
	const char *sql = "SELECT value, count FROM facets WHERE field = ?";
	int f = field == DISTINCT_APP ? F_APP : field == DISTINCT_HOST ? F_HOST : F_EVENT_TYPE;
	size_t skip = 0;
	if (field == DISTINCT_EVENT_TYPE && app) {
		size_t n = strlen(app);
		if (n > EV_CAP_SHORT)
			return 0; /* no stored app is that long */
		f = F_APP_EVENT_TYPE;
		sql =
		    "SELECT value, count FROM facets WHERE field = ? AND value >= ? AND value < ?";
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
		/* Keys with their length: a value may hold NUL bytes. */
		size_t kn = (size_t)n - skip;
		json_t *cur = json_object_getn(acc, v + skip, kn);
		json_int_t c = sqlite3_column_int64(st, 1) + (cur ? json_integer_value(cur) : 0);
		json_object_setn_new(acc, v + skip, kn, json_integer(c));
	}
	if (r != SQLITE_DONE) {
		log_error("store", "facets query: %s", sqlite3_errmsg(db));
		rc = SIEM_ESQL;
	}
	sqlite3_finalize(st);
	return rc;
}

static int by_count(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t cx = json_integer_value(json_object_get(x, "count"));
	json_int_t cy = json_integer_value(json_object_get(y, "count"));
	if (cx != cy)
		return cx > cy ? -1 : 1;
	json_t *vx = json_object_get(x, "value"), *vy = json_object_get(y, "value");
	size_t nx = json_string_length(vx), ny = json_string_length(vy);
	int c = memcmp(json_string_value(vx), json_string_value(vy), nx < ny ? nx : ny);
	return c ? c : (nx > ny) - (nx < ny);
}

json_t *facets_sorted(json_t *acc)
{
	size_t n = json_object_size(acc), i = 0;
	json_t **items = calloc(n ? n : 1, sizeof(*items));
	json_t *out = json_array();
	const char *k;
	json_t *v;
	if (!items || !out) {
		free(items);
		json_decref(out);
		return NULL;
	}
	json_object_foreach (acc, k, v) {
		json_t *o = json_object();
		json_object_set_new(
		    o, "value",
		    json_stringn(k, json_object_iter_key_len(json_object_key_to_iter(k))));
		json_object_set(o, "count", v);
		items[i++] = o;
	}
	qsort(items, i, sizeof(*items), by_count);
	for (size_t j = 0; j < i; j++)
		json_array_append_new(out, items[j]);
	free(items);
	return out;
}
