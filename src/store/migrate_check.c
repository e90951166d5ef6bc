/* migrate_check.c — the check at the end of `minisiem migrate`: the events and every table's
 * rows counted on both sides, then a random sample of events, each read from its segment
 * file and from PostgreSQL (pg_get_event, what GET /events/{id} shows), compared as JSON.
 * PostgreSQL text holds no NUL and only valid UTF-8: the writer stores U+FFFD for such
 * bytes, so the source's texts are repaired the same way before they are compared. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/random.h"
#include "store/migrate_int.h"
#include "store/pg/pg_sql.h"

/* One count on the destination. Counting every event may take longer than the session's
 * statement timeout: this process's connections go without one from here on. */
static int dst_count(struct mig *m, const char *sql, int64_t *n)
{
	PGconn *c = NULL;
	PGresult *res = NULL;
	int rc = pg_conn_get(m->pg, &c);
	if (rc == 0 && (rc = pg_exec(c, "SET statement_timeout = 0", NULL, NULL, "count")) == 0 &&
	    (rc = pg_exec(c, sql, NULL, &res, "count")) == 0)
		*n = pg_i64(res, 0, 0);
	PQclear(res);
	if (c)
		pg_conn_put(m->pg, c);
	return rc < 0 ? mig_fail(m, rc, "cannot count (%s) in PostgreSQL", sql) : 0;
}

/* What to do about a difference in what. */
static int same(struct mig *m, const char *what, int64_t src, int64_t dst)
{
	if (src == dst)
		return 0;
	bool events = strcmp(what, "events") == 0;
	return mig_fail(m, -EBADMSG, "PostgreSQL holds %" PRId64 " %s, the source %" PRId64 "%s",
			dst, what, src,
			events ? ": to send every event again (those there are skipped), delete the"
				 " rows 'migrate.segment.*' of the destination's meta table and run"
				 " again"
			       : " (was a hub using the destination meanwhile?)");
}

/* A count of every segment's table t, or of the newest segment's only. */
static int64_t seg_count(struct mig *m, const char *t, bool newest, int *rc)
{
	char sql[128];
	int64_t n = 0;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t);
	for (size_t i = newest ? m->nseg - 1 : 0; i < m->nseg && *rc == 0; i++) {
		sqlite3 *db = NULL;
		if ((*rc = store_open_conn(m->segs[i].path, true, 2, &db)) == 0)
			n += mig_sq_int(db, sql, 0, rc);
		sqlite3_close(db);
	}
	return n;
}

static int check_counts(struct mig *m)
{
	char sql[256];
	int64_t src, dst = 0;
	int rc;
	m->r->events_source = m->p.events_total;
	if ((rc = dst_count(m, "SELECT count(*) FROM events", &dst)) < 0)
		return rc;
	m->r->events_dest = dst;
	if ((rc = same(m, "events", m->p.events_total, dst)) < 0)
		return rc;
	for (size_t i = 0; i < mig_n_state; i++) {
		const struct mig_table *t = &mig_state_tables[i];
		bool meta = strcmp(t->name, "meta") == 0;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s%s%s", t->name,
			 t->where ? " WHERE " : "", t->where ? t->where : "");
		src = mig_sq_int(m->main, sql, 0, &rc);
		if (rc < 0)
			return mig_fail(m, rc, "cannot count the rows of %s in the source",
					t->name);
		/* the progress marks are the destination's own */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s%s", t->name,
			 meta ? " WHERE key NOT LIKE 'migrate.%'" : "");
		if ((rc = dst_count(m, sql, &dst)) < 0 ||
		    (rc = same(m, meta ? "meta rows" : t->name, src, dst)) < 0)
			return rc;
	}
	if (m->nseg == 0)
		return 0;
	src = seg_count(m, "dead_letters", false, &rc);
	if (rc < 0 || (rc = dst_count(m, "SELECT count(*) FROM dead_letters", &dst)) < 0 ||
	    (rc = same(m, "dead letters", src, dst)) < 0)
		return rc;
	src = seg_count(m, "file_offsets", true, &rc);
	if (rc < 0 || (rc = dst_count(m, "SELECT count(*) FROM file_offsets", &dst)) < 0)
		return rc;
	return same(m, "file offsets", src, dst);
}

/* ---- the sample ---- */

/* A text field as PostgreSQL keeps it: a malloc'd repaired copy (kept in *keep, freed by the
 * caller) replaces it. */
static void repair(struct sv *v, char **keep)
{
	*keep = NULL;
	if (!v->p || !(*keep = pg_text_repair(v->p, v->n)))
		return;
	v->n = strlen(*keep); /* no NUL is left in it */
	v->p = *keep;
}

#define REPAIR_STR(ev, m) repair(&(ev)->m, &keep[nkeep++])
#define REPAIR_DATA REPAIR_STR
#define REPAIR_KEY REPAIR_STR
#define REPAIR_TAGS REPAIR_STR
#define REPAIR_NONE(ev, m) (void)0
#define REPAIR_INT REPAIR_NONE
#define REPAIR_I64 REPAIR_NONE
#define REPAIR_REAL REPAIR_NONE
#define REPAIR_TIME REPAIR_NONE
#define REPAIR_UUID REPAIR_NONE
#define REPAIR_IP REPAIR_NONE
#define REPAIR_FLAGS REPAIR_NONE
#define REPAIR_KEYID REPAIR_NONE
#define REPAIR_FIELD(ID, MEMBER, KIND, ...) REPAIR_##KIND(&ev, MEMBER);

/* Where two event objects differ first: into msg, the key and both values. */
static void describe(const char *id, json_t *a, json_t *b, char *msg, size_t len)
{
	const char *key = NULL;
	json_t *v;
	json_object_foreach (a, key, v)
		if (!json_equal(v, json_object_get(b, key)))
			break;
	if (!key)
		json_object_foreach (b, key, v)
			if (!json_object_get(a, key))
				break;
	char *x = key ? json_dumps(json_object_get(a, key), JSON_ENCODE_ANY) : NULL;
	char *y = key ? json_dumps(json_object_get(b, key), JSON_ENCODE_ANY) : NULL;
	snprintf(msg, len, "event %s differs in \"%s\": source %.150s, PostgreSQL %.150s", id,
		 key ? key : "?", x ? x : "(none)", y ? y : "(none)");
	free(x);
	free(y);
}

/* The first event at or after seq (st selects it): read on both sides and compared. */
static int compare_one(struct mig *m, sqlite3_stmt *st, int64_t seq, char *first, size_t len)
{
	struct event ev;
	char ipbuf[46], id[37], *keep[EF_COUNT];
	size_t nkeep = 0;
	json_t *src = NULL, *dst = NULL;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) != SQLITE_ROW)
		return 0;
	store_row_event(st, &ev, ipbuf);
	EVENT_FIELDS(REPAIR_FIELD)
	uuid_format(ev.id, id);
	src = event_to_json(&ev, true);
	int rc = src ? pg_get_event(m->pg, ev.id, &dst) : -ENOMEM;
	m->r->sampled++;
	if (rc == SIEM_ENOTFOUND) {
		if (!m->r->mismatched++)
			snprintf(first, len, "event %s is not in PostgreSQL", id);
		rc = 0;
	} else if (rc == 0 && !json_equal(src, dst)) {
		if (!m->r->mismatched++)
			describe(id, src, dst, first, len);
	} else if (rc < 0) {
		mig_fail(m, rc, "cannot read event %s back from PostgreSQL: %s", id,
			 siem_strerror(rc));
	}
	json_decref(src);
	json_decref(dst);
	for (size_t i = 0; i < nkeep; i++)
		free(keep[i]);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* o->sample events drawn at random over all the source's events (by segment, and in one by
 * a seq spread over its range). */
static int check_sample(struct mig *m)
{
	int64_t total = m->p.events_total;
	size_t n = (size_t)(m->o->sample < total ? m->o->sample : total), k = 0;
	uint64_t *pick = NULL;
	char first[600] = "";
	int rc = 0;
	if (n == 0)
		return 0;
	if (!(pick = calloc(n, sizeof(*pick))) || random_bytes(pick, n * sizeof(*pick)) < 0) {
		free(pick);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		pick[i] %= (uint64_t)total;
	qsort(pick, n, sizeof(*pick), cmp_u64);
	int64_t base = 0;
	for (size_t i = 0; i < m->nseg && k < n && rc == 0; i++) {
		struct mig_seg *g = &m->segs[i];
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		if (k < n && pick[k] < (uint64_t)(base + g->rows)) {
			if ((rc = store_open_conn(g->path, true, 2, &db)) == 0)
				rc = mig_ev_select(db, "WHERE seq >= ? ORDER BY seq LIMIT 1", &st);
		}
		double span = (double)(g->max_seq - g->min_seq + 1);
		for (; rc == 0 && k < n && pick[k] < (uint64_t)(base + g->rows); k++) {
			double at = (double)(pick[k] - (uint64_t)base) / (double)g->rows;
			rc = compare_one(m, st, g->min_seq + (int64_t)(at * span), first,
					 sizeof(first));
		}
		sqlite3_finalize(st);
		sqlite3_close(db);
		base += g->rows;
	}
	free(pick);
	if (rc == 0 && m->r->mismatched)
		rc = mig_fail(m, -EBADMSG, "%d of %d sampled events differ; the first: %s",
			      m->r->mismatched, m->r->sampled, first);
	return rc;
}

int mig_check(struct mig *m)
{
	int rc = check_counts(m);
	return rc < 0 ? rc : check_sample(m);
}
