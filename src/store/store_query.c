/* store_query.c — reads: GET /events over the segments newest first (k-way merge of
 * per-segment ordered queries) and its count, one event by id, distinct values, file
 * offsets. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/utf8.h"
#include "store/schema.h"
#include "store/store_int.h"

#define sql_err store_sql_err

#define EV_COLS "seq" EVENT_FIELDS(EVENT_COL_NAME)

static struct sv col_sv(sqlite3_stmt *st, int i)
{
	struct sv v = {NULL, 0};
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return v;
	v.p = (const char *)sqlite3_column_text(st, i);
	v.n = (size_t)sqlite3_column_bytes(st, i);
	if (!v.p)
		v.p = "";
	return v;
}

/* A column of a row selected with EV_COLS into field m of ev, as its kind is stored
 * (core/event_fields.h): a NULL number leaves its presence flag clear. */
#define READ_STR(st, i, ev, m, flag) (ev)->m = col_sv(st, i)
#define READ_DATA READ_STR
#define READ_KEY READ_STR
#define READ_TAGS READ_STR
#define READ_TIME(st, i, ev, m, flag) (ev)->m = sqlite3_column_int64(st, i)
#define READ_KEYID READ_TIME /* NULL reads as 0: no id */
#define READ_NUM(st, i, ev, m, flag, get)                                   \
	do {                                                                \
		if (!(flag) || sqlite3_column_type(st, i) != SQLITE_NULL) { \
			(ev)->m = get(st, i);                               \
			(ev)->flags |= (flag);                              \
		}                                                           \
	} while (0)
#define READ_INT(st, i, ev, m, flag) READ_NUM(st, i, ev, m, flag, sqlite3_column_int)
#define READ_I64(st, i, ev, m, flag) READ_NUM(st, i, ev, m, flag, sqlite3_column_int64)
#define READ_REAL(st, i, ev, m, flag) READ_NUM(st, i, ev, m, flag, sqlite3_column_double)
#define READ_BLOB16(st, i, ev, m, flag)                                  \
	do {                                                             \
		if (sqlite3_column_bytes(st, i) == 16) {                 \
			memcpy((ev)->m, sqlite3_column_blob(st, i), 16); \
			(ev)->flags |= (flag);                           \
		}                                                        \
	} while (0)
#define READ_UUID READ_BLOB16
#define READ_IP READ_BLOB16
#define READ_FLAGS(st, i, ev, m, flag) (void)0 /* read before the others */
#define READ_FIELD(ID, MEMBER, KIND, FLAG, ...) READ_##KIND(st, EVENT_COL(ID), &ev, MEMBER, FLAG);

void store_row_event(sqlite3_stmt *st, struct event *out, char ipbuf[46])
{
	struct event ev;
	memset(&ev, 0, sizeof(ev));
	ev.flags = (unsigned)sqlite3_column_int(st, EVENT_COL(FLAGS));
	ev.flags &= ~(unsigned)EV_HAS_ANY;
	EVENT_FIELDS(READ_FIELD)
	if (ev.flags & EV_HAS_IP) {
		ev.source_ip.n = ip_format(ev.ip, ipbuf);
		ev.source_ip.p = ipbuf;
	}
	*out = ev;
}

/* Row (selected with EV_COLS) -> JSON object. */
static json_t *row_to_json(sqlite3_stmt *st, bool full)
{
	struct event ev;
	char ipbuf[46];
	store_row_event(st, &ev, ipbuf);
	return event_to_json(&ev, full);
}

/* Growable SQL text with a hard cap. */
struct sqlbuf {
	char b[16384];
	size_t n;
	bool over;
};

static void sb_add(struct sqlbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sqlbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(sb->b + sb->n, sizeof(sb->b) - sb->n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= sizeof(sb->b) - sb->n)
		sb->over = true;
	else
		sb->n += (size_t)m;
}

static void sb_in(struct sqlbuf *sb, const char *col, size_t n)
{
	if (n == 0)
		return;
	sb_add(sb, " AND %s IN (", col);
	for (size_t i = 0; i < n; i++)
		sb_add(sb, i ? ",?" : "?");
	sb_add(sb, ")");
}

/* Trigrams the FTS5 query takes from one term, and from all of q: enough to narrow the
 * candidates (siem_text_has decides), few enough to keep a query cheap. */
#define FTS_TRIGRAMS_PER_TERM 12
#define FTS_TRIGRAMS 36

/* Build the FTS5 query for q: the trigrams (three characters, UTF-8) of every term of three
 * or more characters, each a quoted token, ANDed. The trigram index finds substrings, case
 * folded; it only narrows candidates, and siem_text_has decides. -ENOENT when no term is long
 * enough: the exact check alone decides then. */
static int fts_query(const char *q, char *out, size_t outlen)
{
	size_t n = 0, total = 0;
	for (const unsigned char *p = (const unsigned char *)q; *p && total < FTS_TRIGRAMS;) {
		while (*p && isspace(*p))
			p++;
		const unsigned char *term = p;
		while (*p && !isspace(*p))
			p++;
		size_t tn = (size_t)(p - term), start[3], k = 0;
		for (size_t i = 0, per = 0;
		     i < tn && per < FTS_TRIGRAMS_PER_TERM && total < FTS_TRIGRAMS;) {
			size_t len = utf8_seq_len(term, i, tn);
			if (!len)
				break; /* not UTF-8: the exact check alone */
			start[k % 3] = i;
			i += len;
			if (++k < 3)
				continue;
			size_t from = start[(k - 3) % 3];
			if (n + 2 * (i - from) + 8 >= outlen)
				return -E2BIG;
			if (total)
				n += (size_t)snprintf(out + n, outlen - n, " AND ");
			out[n++] = '"';
			for (size_t j = from; j < i; j++) {
				if (term[j] == '"')
					out[n++] = '"';
				out[n++] = (char)term[j];
			}
			out[n++] = '"';
			per++;
			total++;
		}
	}
	out[n] = '\0';
	return total ? 0 : -ENOENT;
}

/* The FTS5 query of q's text into buf: *fts is buf, or NULL when q has no text or no term
 * long enough (only punctuation: the exact check alone decides then). */
static int text_query(const struct event_query *q, char *buf, size_t len, const char **fts)
{
	*fts = NULL;
	if (!q->q || !q->q[0])
		return 0;
	int rc = fts_query(q->q, buf, len);
	if (rc == 0)
		*fts = buf;
	return rc == -ENOENT ? 0 : rc;
}

struct hit {
	int64_t ts, seq;
	json_t *ev;
};

/* Keep hits sorted newest first, at most cap of them. */
static void hits_insert(struct hit *h, size_t *n, size_t cap, struct hit x)
{
	size_t i = *n;
	while (i > 0 && (h[i - 1].ts < x.ts || (h[i - 1].ts == x.ts && h[i - 1].seq < x.seq)))
		i--;
	if (i >= cap) {
		json_decref(x.ev);
		return;
	}
	if (*n == cap) {
		json_decref(h[cap - 1].ev);
		(*n)--;
	}
	memmove(&h[i + 1], &h[i], (*n - i) * sizeof(*h));
	h[i] = x;
	(*n)++;
}

/* Is the i-th address range of q a single address? */
static bool one_address(const struct event_query *q, size_t i)
{
	return memcmp(q->cidr_lo[i], q->cidr_hi[i], 16) == 0;
}

/* The WHERE conditions of a query (after "WHERE "), and their bindings from index k on. */
static void build_where(struct sqlbuf *sb, const struct event_query *q, bool use_fts)
{
	sb_add(sb, "ts >= ? AND ts <= ?");
	if (q->has_cursor)
		sb_add(sb, " AND (ts < ? OR (ts = ? AND seq < ?))");
	sb_in(sb, "event_type", q->event_type.n);
	sb_in(sb, "app", q->app.n);
	sb_in(sb, "upper(level)", q->level.n); /* upper-case since; before, as sent */
	sb_in(sb, "os_type", q->os_type.n);
	sb_in(sb, "host", q->source_host.n);
	sb_in(sb, "user", q->user.n);
	sb_in(sb, "request_id", q->request_id.n);
	sb_in(sb, "severity", q->n_severity);
	sb_in(sb, "http_status", q->n_status);
	if (q->n_cidr) {
		sb_add(sb, " AND (");
		/* One address is an equality: the planner then picks the (ip, ts) index, whose
		 * statistics say how few rows an address has, over (event_type, ts). */
		for (size_t i = 0; i < q->n_cidr; i++)
			sb_add(sb, "%s(%s)", i ? " OR " : "",
			       one_address(q, i) ? "ip = ?" : "ip BETWEEN ? AND ?");
		sb_add(sb, ")");
	}
	sb_in(sb, "geo_country", q->country.n);
	sb_in(sb, "geo_asn", q->n_asn);
	for (size_t i = 0; i < q->tag.n; i++)
		sb_add(sb, "%sinstr(',' || tags || ',', ?) > 0%s", i ? " OR " : " AND (",
		       i + 1 == q->tag.n ? ")" : "");
	if (use_fts)
		sb_add(sb, " AND seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)");
	if (q->q && q->q[0])
		sb_add(sb, " AND siem_text_has(message, raw, http_path, ?)");
}

static void bind_where(sqlite3_stmt *st, int k, const struct event_query *q, const char *fts)
{
	sqlite3_bind_int64(st, k++, q->from);
	sqlite3_bind_int64(st, k++, q->to);
	if (q->has_cursor) {
		sqlite3_bind_int64(st, k++, q->cursor_ts);
		sqlite3_bind_int64(st, k++, q->cursor_ts);
		sqlite3_bind_int64(st, k++, q->cursor_seq);
	}
	const struct strset *sets[] = {&q->event_type,	&q->app,  &q->level,	 &q->os_type,
				       &q->source_host, &q->user, &q->request_id};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		for (size_t j = 0; j < sets[i]->n; j++)
			sqlite3_bind_text(st, k++, sets[i]->v[j], -1, SQLITE_STATIC);
	for (size_t i = 0; i < q->n_severity; i++)
		sqlite3_bind_int(st, k++, q->severity[i]);
	for (size_t i = 0; i < q->n_status; i++)
		sqlite3_bind_int(st, k++, q->http_status[i]);
	for (size_t i = 0; i < q->n_cidr; i++) {
		sqlite3_bind_blob(st, k++, q->cidr_lo[i], 16, SQLITE_STATIC);
		if (!one_address(q, i))
			sqlite3_bind_blob(st, k++, q->cidr_hi[i], 16, SQLITE_STATIC);
	}
	for (size_t i = 0; i < q->country.n; i++)
		sqlite3_bind_text(st, k++, q->country.v[i], -1, SQLITE_STATIC);
	for (size_t i = 0; i < q->n_asn; i++)
		sqlite3_bind_int64(st, k++, q->asn[i]);
	for (size_t i = 0; i < q->tag.n; i++)
		sqlite3_bind_text(st, k++, q->tag.v[i], -1, SQLITE_STATIC);
	if (fts)
		sqlite3_bind_text(st, k++, fts, -1, SQLITE_STATIC);
	if (q->q && q->q[0])
		sqlite3_bind_text(st, k++, q->q, -1, SQLITE_STATIC);
}

/* Add one result row to the page being built; false once no later row can enter it. */
static int take_row(sqlite3_stmt *st, struct hit *hits, size_t *nhits, size_t cap, bool *stop)
{
	struct hit h = {sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0), NULL};
	*stop = false;
	if (*nhits == cap &&
	    (hits[cap - 1].ts > h.ts || (hits[cap - 1].ts == h.ts && hits[cap - 1].seq > h.seq))) {
		*stop = true;
		return 0;
	}
	if (!(h.ev = row_to_json(st, false)))
		return -ENOMEM;
	hits_insert(hits, nhits, cap, h);
	return 0;
}

/* A segment with query indices, or one scanned newest first. */
static int query_segment(sqlite3 *db, enum seg_state state, const struct event_query *q,
			 const char *fts, int want, struct hit *hits, size_t *nhits, size_t cap)
{
	struct sqlbuf sb = {.n = 0, .over = false};
	sqlite3_stmt *st = NULL;
	int rc = 0, r = SQLITE_DONE;
	bool stop = false;
	/* The text index exists once the segment is indexed; before, the exact check scans. */
	bool use_fts = fts && state == SEG_INDEXED;

	sb_add(&sb, "SELECT " EV_COLS " FROM events WHERE ");
	build_where(&sb, q, use_fts);
	sb_add(&sb, " ORDER BY ts DESC, seq DESC LIMIT %d", want);
	if (sb.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, sb.b, (int)sb.n, &st, NULL) != SQLITE_OK)
		return sql_err(db, "query");
	bind_where(st, 1, q, use_fts ? fts : NULL);
	while (!stop && rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW)
		rc = take_row(st, hits, nhits, cap, &stop);
	if (rc == 0 && !stop && r != SQLITE_DONE)
		rc = sql_err(db, "query step");
	sqlite3_finalize(st);
	return rc;
}

/* A segment without query indices whose in-memory postings named few candidate events:
 * read just those rows by seq (each still checked against every condition). */
static int query_candidates(sqlite3 *db, const struct event_query *q, const int64_t *cand,
			    size_t ncand, struct hit *hits, size_t *nhits, size_t cap)
{
	struct sqlbuf sb = {.n = 0, .over = false};
	sqlite3_stmt *st = NULL;
	int rc = 0;
	bool stop = false;
	sb_add(&sb, "SELECT " EV_COLS " FROM events WHERE seq = ? AND ");
	build_where(&sb, q, false);
	if (sb.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, sb.b, (int)sb.n, &st, NULL) != SQLITE_OK)
		return sql_err(db, "query");
	bind_where(st, 2, q, NULL);
	for (size_t i = 0; i < ncand && rc == 0; i++) {
		sqlite3_bind_int64(st, 1, cand[i]);
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			rc = take_row(st, hits, nhits, cap, &stop);
		else if (r != SQLITE_DONE)
			rc = sql_err(db, "query step");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* A read connection to segment g for q, and q's candidates from the segment's in-memory
 * postings when it has them and they serve q (store_mem_candidates; *cand is then the
 * caller's to free): 1 with candidates, 0 without (read the segment with SQL), negative on
 * error (nothing to release). */
static int segment_open(struct sq_store *s, struct seg_view *g, const struct event_query *q,
			sqlite3 **db, int64_t **cand, size_t *ncand)
{
	int used = g->state == SEG_INDEXED ? 0 : store_mem_candidates(s, g->seg, q, cand, ncand);
	if (used < 0)
		return used;
	int rc = store_reader_get(s, g->seg, db);
	if (rc < 0) {
		free(*cand);
		*cand = NULL;
		return rc;
	}
	return used;
}

/* Blocks of a segment's text filter worth reading one by one: past this many (a common word)
 * reading the segment newest first until the page is full is quicker. */
#define TEXT_BLOCKS_MAX 512

/* The seq ranges of segment g (one without its text index) that may hold q's text at a time
 * in from..to, from its in-memory text filter: 1 with *r (newest first, adjacent blocks
 * merged; the caller frees), 0 when it has none, q has no trigram, or too many blocks may. */
static int text_ranges(struct sq_store *s, const struct seg_view *g, const struct textq *tq,
		       int64_t from, int64_t to, struct text_range **r, size_t *n)
{
	int rc = 0;
	*r = NULL;
	*n = 0;
	if (tq->n == 0 || g->state == SEG_INDEXED)
		return 0;
	struct text_range *v = malloc(TEXT_BLOCKS_MAX * sizeof(*v));
	if (!v)
		return -ENOMEM;
	pthread_mutex_lock(&s->seg_mu);
	bool active = g->seg == s->segs[s->nseg - 1];
	pthread_mutex_unlock(&s->seg_mu);
	pthread_rwlock_rdlock(&s->mem_mu);
	const struct textidx *t = active ? s->text : g->seg->text;
	size_t k = t ? textidx_blocks(t, tq, from, to, v, TEXT_BLOCKS_MAX) : SIZE_MAX;
	pthread_rwlock_unlock(&s->mem_mu);
	if (k <= TEXT_BLOCKS_MAX) {
		size_t m = 0;
		for (size_t i = 0; i < k; i++) {
			if (m && v[m - 1].lo == v[i].hi + 1) {
				v[m - 1].lo = v[i].lo;
				if (v[i].min_ts < v[m - 1].min_ts)
					v[m - 1].min_ts = v[i].min_ts;
				if (v[i].max_ts > v[m - 1].max_ts)
					v[m - 1].max_ts = v[i].max_ts;
			} else {
				v[m++] = v[i];
			}
		}
		*r = v;
		*n = m;
		return 1;
	}
	free(v);
	return rc;
}

/* A segment's events in seq ranges r (each still checked against every condition); a range
 * older than the last event of a full page is skipped. */
static int query_ranges(sqlite3 *db, const struct event_query *q, const struct text_range *r,
			size_t nr, struct hit *hits, size_t *nhits, size_t cap)
{
	struct sqlbuf sb = {.n = 0, .over = false};
	sqlite3_stmt *st = NULL;
	int rc = 0, x = SQLITE_DONE;
	bool stop = false;
	sb_add(&sb, "SELECT " EV_COLS " FROM events WHERE seq >= ? AND seq <= ? AND ");
	build_where(&sb, q, false);
	if (sb.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, sb.b, (int)sb.n, &st, NULL) != SQLITE_OK)
		return sql_err(db, "query");
	bind_where(st, 3, q, NULL);
	for (size_t i = 0; i < nr && rc == 0; i++) {
		if (*nhits == cap && r[i].max_ts < hits[cap - 1].ts)
			continue;
		sqlite3_bind_int64(st, 1, r[i].lo);
		sqlite3_bind_int64(st, 2, r[i].hi);
		while (rc == 0 && (x = sqlite3_step(st)) == SQLITE_ROW)
			rc = take_row(st, hits, nhits, cap, &stop);
		if (rc == 0 && x != SQLITE_DONE)
			rc = sql_err(db, "query step");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

int sq_query_events(struct sq_store *s, const struct event_query *q, json_t *out, bool *has_next,
		    int64_t *next_ts, int64_t *next_seq)
{
	struct seg_view *segs = NULL;
	size_t nseg = 0, nhits = 0, cap = (size_t)q->limit + 1;
	struct hit *hits = NULL;
	char ftsbuf[4096];
	const char *fts = NULL;
	struct textq tq;
	int rc;

	*has_next = false;
	if ((rc = text_query(q, ftsbuf, sizeof(ftsbuf), &fts)) < 0)
		return rc;
	textq_build(&tq, q->q);
	if ((rc = store_snapshot(s, &segs, &nseg)) < 0)
		return rc;
	if (!(hits = calloc(cap, sizeof(*hits)))) {
		rc = -ENOMEM;
		goto out;
	}
	int64_t upper = q->has_cursor && q->cursor_ts < q->to ? q->cursor_ts : q->to;
	/* Newest data first, so that the page fills early and older segments are skipped. */
	for (size_t i = 1; i < nseg; i++) {
		struct seg_view x = segs[i];
		size_t j = i;
		while (j > 0 && segs[j - 1].max_ts < x.max_ts) {
			segs[j] = segs[j - 1];
			j--;
		}
		segs[j] = x;
	}
	for (size_t i = 0; i < nseg && rc == 0; i++) {
		struct seg_view *g = &segs[i];
		if (g->rows == 0 || g->max_ts < q->from || g->min_ts > upper)
			continue;
		if (nhits == cap && g->max_ts < hits[cap - 1].ts)
			break;
		sqlite3 *db = NULL;
		int64_t *cand = NULL;
		size_t ncand = 0;
		int used = segment_open(s, g, q, &db, &cand, &ncand);
		if (used < 0) {
			rc = used;
			break;
		}
		struct text_range *r = NULL;
		size_t nr = 0;
		if (used)
			rc = query_candidates(db, q, cand, ncand, hits, &nhits, cap);
		else if ((rc = text_ranges(s, g, &tq, q->from, upper, &r, &nr)) > 0)
			rc = query_ranges(db, q, r, nr, hits, &nhits, cap);
		else if (rc == 0)
			rc = query_segment(db, g->state, q, fts, (int)cap, hits, &nhits, cap);
		store_reader_put(s, g->seg, db);
		free(cand);
		free(r);
	}
	if (rc < 0)
		goto out;
	size_t keep = nhits > (size_t)q->limit ? (size_t)q->limit : nhits;
	for (size_t i = 0; i < keep; i++) {
		json_array_append_new(out, hits[i].ev);
		hits[i].ev = NULL;
	}
	if (nhits > (size_t)q->limit) {
		*has_next = true;
		*next_ts = hits[keep - 1].ts;
		*next_seq = hits[keep - 1].seq;
	}
out:
	if (hits)
		for (size_t i = 0; i < nhits; i++)
			json_decref(hits[i].ev);
	free(hits);
	store_snapshot_release(s, segs, nseg);
	return rc;
}

/* ---- counting ---- */

/* Does q select by anything but time? */
static bool has_filters(const struct event_query *q)
{
	const struct strset *sets[] = {&q->event_type,	&q->app,  &q->level,	 &q->os_type,
				       &q->source_host, &q->user, &q->request_id};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (sets[i]->n)
			return true;
	return q->n_severity || q->n_status || q->n_cidr || q->country.n || q->n_asn || q->tag.n ||
	       (q->q && q->q[0]);
}

/* The events of a segment matching q (with its text index once indexed, as query_segment
 * reads it), counted up to max. */
static int count_segment(sqlite3 *db, enum seg_state state, const struct event_query *q,
			 const char *fts, int64_t max, int64_t *n)
{
	struct sqlbuf sb = {.n = 0, .over = false};
	sqlite3_stmt *st = NULL;
	int rc = 0;
	bool use_fts = fts && state == SEG_INDEXED;

	sb_add(&sb, "SELECT count(*) FROM (SELECT 1 FROM events WHERE ");
	build_where(&sb, q, use_fts);
	sb_add(&sb, " LIMIT %lld)", (long long)max);
	if (sb.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, sb.b, (int)sb.n, &st, NULL) != SQLITE_OK)
		return sql_err(db, "count");
	bind_where(st, 1, q, use_fts ? fts : NULL);
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		rc = sql_err(db, "count step");
	sqlite3_finalize(st);
	return rc;
}

/* The candidate events (store_mem_candidates) that match every condition of q, counted up
 * to max. */
static int count_candidates(sqlite3 *db, const struct event_query *q, const int64_t *cand,
			    size_t ncand, int64_t max, int64_t *n)
{
	struct sqlbuf sb = {.n = 0, .over = false};
	sqlite3_stmt *st = NULL;
	int rc = 0;
	*n = 0;
	sb_add(&sb, "SELECT 1 FROM events WHERE seq = ? AND ");
	build_where(&sb, q, false);
	if (sb.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, sb.b, (int)sb.n, &st, NULL) != SQLITE_OK)
		return sql_err(db, "count");
	bind_where(st, 2, q, NULL);
	for (size_t i = 0; i < ncand && rc == 0 && *n < max; i++) {
		sqlite3_bind_int64(st, 1, cand[i]);
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			(*n)++;
		else if (r != SQLITE_DONE)
			rc = sql_err(db, "count step");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The events in seq ranges r that match every condition of q, counted up to max. */
static int count_ranges(sqlite3 *db, const struct event_query *q, const struct text_range *r,
			size_t nr, int64_t max, int64_t *n)
{
	struct sqlbuf sb = {.n = 0, .over = false};
	sqlite3_stmt *st = NULL;
	int rc = 0;
	*n = 0;
	sb_add(&sb, "SELECT count(*) FROM (SELECT 1 FROM events WHERE seq >= ? AND seq <= ? AND ");
	build_where(&sb, q, false);
	sb_add(&sb, " LIMIT ?)");
	if (sb.over)
		return -E2BIG;
	if (sqlite3_prepare_v2(db, sb.b, (int)sb.n, &st, NULL) != SQLITE_OK)
		return sql_err(db, "count");
	int k = sqlite3_bind_parameter_count(st);
	bind_where(st, 3, q, NULL);
	for (size_t i = 0; i < nr && rc == 0 && *n < max; i++) {
		sqlite3_bind_int64(st, 1, r[i].lo);
		sqlite3_bind_int64(st, 2, r[i].hi);
		sqlite3_bind_int64(st, k, max - *n);
		if (sqlite3_step(st) == SQLITE_ROW)
			*n += sqlite3_column_int64(st, 0);
		else
			rc = sql_err(db, "count step");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

int sq_count_events(struct sq_store *s, const struct event_query *q, int64_t bound, int64_t *n,
		    bool *exact)
{
	struct event_query c = *q; /* every page's events: no cursor */
	struct seg_view *segs = NULL;
	size_t nseg = 0;
	char ftsbuf[4096];
	const char *fts = NULL;
	struct textq tq;
	int64_t total = 0;
	int rc;

	*n = 0;
	*exact = true;
	if (bound < 0 || bound == INT64_MAX)
		return -EINVAL;
	c.has_cursor = false;
	if ((rc = text_query(&c, ftsbuf, sizeof(ftsbuf), &fts)) < 0)
		return rc;
	textq_build(&tq, c.q);
	if ((rc = store_snapshot(s, &segs, &nseg)) < 0)
		return rc;
	bool filtered = has_filters(&c);
	/* One event past bound is enough to know there are more. */
	for (size_t i = 0; i < nseg && rc == 0 && total <= bound; i++) {
		struct seg_view *g = &segs[i];
		int64_t k = 0, max = bound + 1 - total;
		if (g->rows == 0 || g->max_ts < c.from || g->min_ts > c.to)
			continue;
		if (!filtered && g->min_ts >= c.from && g->max_ts <= c.to) {
			total += g->rows; /* the whole segment: no need to read it */
			continue;
		}
		sqlite3 *db = NULL;
		int64_t *cand = NULL;
		size_t ncand = 0;
		int used = segment_open(s, g, &c, &db, &cand, &ncand);
		if (used < 0) {
			rc = used;
			break;
		}
		struct text_range *r = NULL;
		size_t nr = 0;
		if (used)
			rc = count_candidates(db, &c, cand, ncand, max, &k);
		else if ((rc = text_ranges(s, g, &tq, c.from, c.to, &r, &nr)) > 0)
			rc = count_ranges(db, &c, r, nr, max, &k);
		else if (rc == 0)
			rc = count_segment(db, g->state, &c, fts, max, &k);
		store_reader_put(s, g->seg, db);
		free(cand);
		free(r);
		total += k;
	}
	store_snapshot_release(s, segs, nseg);
	if (rc < 0)
		return rc;
	*exact = total <= bound;
	*n = *exact ? total : bound;
	return 0;
}

/* Find the event with id and call row(st, arg) on its row (selected with EV_COLS): its
 * result, or SIEM_ENOTFOUND. */
static int find_event(struct sq_store *s, const uint8_t id[16],
		      int (*row)(sqlite3_stmt *st, void *arg), void *arg)
{
	struct seg_view *segs = NULL;
	size_t nseg = 0;
	int rc;
	if ((rc = store_snapshot(s, &segs, &nseg)) < 0)
		return rc;
	rc = SIEM_ENOTFOUND;
	for (size_t i = 0; i < nseg && rc == SIEM_ENOTFOUND; i++) {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		if (segs[i].rows == 0)
			continue;
		bool known = false;
		int64_t seq = store_ids_lookup(s, segs[i].seg, id, &known);
		if (known && seq == 0) {
			rc = SIEM_ENOTFOUND;
			continue;
		}
		if ((rc = store_reader_get(s, segs[i].seg, &db)) < 0)
			break;
		const char *sql = known ? "SELECT " EV_COLS " FROM events WHERE seq = ?"
					: "SELECT " EV_COLS " FROM events WHERE id = ?";
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			rc = sql_err(db, "get event");
		} else {
			if (known)
				sqlite3_bind_int64(st, 1, seq);
			else
				sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
			int r = sqlite3_step(st);
			if (r == SQLITE_ROW)
				rc = row(st, arg);
			else if (r != SQLITE_DONE)
				rc = sql_err(db, "get event");
			else
				rc = SIEM_ENOTFOUND;
		}
		sqlite3_finalize(st);
		store_reader_put(s, segs[i].seg, db);
	}
	store_snapshot_release(s, segs, nseg);
	return rc;
}

static int row_event(sqlite3_stmt *st, void *arg)
{
	json_t **out = arg;
	return (*out = row_to_json(st, true)) ? 0 : -ENOMEM;
}

int sq_get_event(struct sq_store *s, const uint8_t id[16], json_t **out)
{
	*out = NULL;
	return find_event(s, id, row_event, out);
}

struct position {
	int64_t ts, seq;
};

static int row_position(sqlite3_stmt *st, void *arg)
{
	struct position *p = arg;
	p->seq = sqlite3_column_int64(st, 0);
	p->ts = sqlite3_column_int64(st, EVENT_COL(TIMESTAMP));
	return 0;
}

int sq_event_position(struct sq_store *s, const uint8_t id[16], int64_t *ts, int64_t *seq)
{
	struct position p = {0, 0};
	int rc = find_event(s, id, row_position, &p);
	*ts = p.ts;
	*seq = p.seq;
	return rc;
}

int sq_distinct(struct sq_store *s, enum store_distinct_field f, const char *app, json_t *out)
{
	struct seg_view *segs = NULL;
	size_t nseg = 0;
	json_t *acc = json_object();
	int rc = acc ? store_snapshot(s, &segs, &nseg) : -ENOMEM;
	for (size_t i = 0; i < nseg && rc == 0; i++) {
		sqlite3 *db = NULL;
		if (segs[i].rows == 0)
			continue;
		if ((rc = store_reader_get(s, segs[i].seg, &db)) < 0)
			break;
		rc = facets_query(db, f, app, acc);
		store_reader_put(s, segs[i].seg, db);
	}
	if (rc == 0) {
		json_t *sorted = facets_sorted(acc);
		if (sorted)
			json_array_extend(out, sorted);
		else
			rc = -ENOMEM;
		json_decref(sorted);
	}
	if (segs)
		store_snapshot_release(s, segs, nseg);
	json_decref(acc);
	return rc;
}

int sq_get_offset(struct sq_store *s, const char *path, uint64_t *dev, uint64_t *ino,
		  int64_t *offset, bool *found)
{
	struct seg_view *segs = NULL;
	size_t nseg = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;
	*found = false;
	*offset = 0;
	if ((rc = store_snapshot(s, &segs, &nseg)) < 0)
		return rc;
	/* The active segment (newest) carries every offset forward. */
	if ((rc = store_reader_get(s, segs[0].seg, &db)) < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT dev, ino, offset FROM file_offsets WHERE path = ?", -1,
			       &st, NULL) != SQLITE_OK) {
		rc = sql_err(db, "get offset");
	} else {
		sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*dev = (uint64_t)sqlite3_column_int64(st, 0);
			*ino = (uint64_t)sqlite3_column_int64(st, 1);
			*offset = sqlite3_column_int64(st, 2);
			*found = true;
		}
	}
	sqlite3_finalize(st);
	store_reader_put(s, segs[0].seg, db);
out:
	store_snapshot_release(s, segs, nseg);
	return rc;
}

int sq_list_offsets(struct sq_store *s, int limit, json_t *out)
{
	struct seg_view *segs = NULL;
	size_t nseg = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;
	if ((rc = store_snapshot(s, &segs, &nseg)) < 0)
		return rc;
	/* The active segment (newest) carries every offset forward. */
	if ((rc = store_reader_get(s, segs[0].seg, &db)) < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT path, offset FROM file_offsets ORDER BY path LIMIT ?",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = sql_err(db, "list offsets");
	} else {
		sqlite3_bind_int(st, 1, limit);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *o = json_object();
			json_object_set_new(o, "path",
					    json_string((const char *)sqlite3_column_text(st, 0)));
			json_object_set_new(o, "offset", json_integer(sqlite3_column_int64(st, 1)));
			json_array_append_new(out, o);
		}
	}
	sqlite3_finalize(st);
	store_reader_put(s, segs[0].seg, db);
out:
	store_snapshot_release(s, segs, nseg);
	return rc;
}
