/* pg_events.c — event reads on PostgreSQL: GET /events (filters, text search, pages newest
 * first after a (ts, seq) cursor, a bounded count), one event by id, distinct values with
 * their counts, dead letters and file offsets; the twin of store_query.c, answering with the
 * same JSON. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "store/pg/pg_sql.h"

/* For pg_int.h (other files of the backend read events too):
 *
 * A row selected with pg_event_cols (text format) as event_to_json writes it; full adds
 * raw_message and data. NULL when out of memory.
 */
json_t *pg_row_to_json(const PGresult *r, int row, bool full);

#define SQL_MAX (64 * 1024)

/* ---- row -> JSON ---- */

#define COL(ID) (EF_##ID + 1) /* seq is column 0 */

static struct sv col_sv(const PGresult *r, int row, int i)
{
	struct sv v = {NULL, 0};
	if (pg_null(r, row, i))
		return v;
	v.p = PQgetvalue(r, row, i);
	v.n = (size_t)PQgetlength(r, row, i);
	return v;
}

static double col_f64(const PGresult *r, int row, int i)
{
	const char *v = pg_str(r, row, i);
	return v ? strtod(v, NULL) : 0;
}

static void col_uuid(const PGresult *r, int row, int i, uint8_t out[16])
{
	const char *v = pg_str(r, row, i);
	if (v)
		uuid_parse(v, strlen(v), out);
}

static bool col_ip(const PGresult *r, int row, int i, uint8_t out[16])
{
	uint8_t b[16];
	if (pg_bytea(r, row, i, b, sizeof(b)) != 16)
		return false;
	memcpy(out, b, 16);
	return true;
}

/* A column into field m of ev, as its kind is stored (core/event_fields.h): a NULL number
 * leaves its presence flag clear, as store_query.c reads SQLite's rows. */
#define READ_STR(r, row, i, ev, m, flag) (ev)->m = col_sv(r, row, i)
#define READ_DATA READ_STR
#define READ_KEY READ_STR
#define READ_TAGS READ_STR
#define READ_TIME(r, row, i, ev, m, flag) (ev)->m = pg_i64(r, row, i)
#define READ_KEYID READ_TIME /* NULL reads as 0: no id */
#define READ_NUM(r, row, i, ev, m, flag, get)         \
	do {                                          \
		if (!(flag) || !pg_null(r, row, i)) { \
			(ev)->m = get;                \
			(ev)->flags |= (flag);        \
		}                                     \
	} while (0)
#define READ_INT(r, row, i, ev, m, flag) READ_NUM(r, row, i, ev, m, flag, (int)pg_i64(r, row, i))
#define READ_I64(r, row, i, ev, m, flag) READ_NUM(r, row, i, ev, m, flag, pg_i64(r, row, i))
#define READ_REAL(r, row, i, ev, m, flag) READ_NUM(r, row, i, ev, m, flag, col_f64(r, row, i))
#define READ_UUID(r, row, i, ev, m, flag) col_uuid(r, row, i, (ev)->m)
#define READ_IP(r, row, i, ev, m, flag)         \
	do {                                    \
		if (col_ip(r, row, i, (ev)->m)) \
			(ev)->flags |= (flag);  \
	} while (0)
#define READ_FLAGS(r, row, i, ev, m, flag) (void)0 /* read before the others */
#define READ_FIELD(ID, MEMBER, KIND, FLAG, ...) READ_##KIND(r, row, COL(ID), &ev, MEMBER, FLAG);

json_t *pg_row_to_json(const PGresult *r, int row, bool full)
{
	struct event ev;
	char ipbuf[46];
	memset(&ev, 0, sizeof(ev));
	ev.flags = (unsigned)pg_i64(r, row, COL(FLAGS));
	ev.flags &= ~(unsigned)EV_HAS_ANY;
	EVENT_FIELDS(READ_FIELD)
	if (ev.flags & EV_HAS_IP) {
		ev.source_ip.n = ip_format(ev.ip, ipbuf);
		ev.source_ip.p = ipbuf;
	}
	return event_to_json(&ev, full);
}

/* ---- GET /events ---- */

/* pats grown by half again (or to 8): the new array, or NULL (pats freed) when out of
 * memory. */
static char **reallocarray_or_free(char **pats, size_t *cap)
{
	size_t c = *cap ? *cap * 3 / 2 : 8;
	char **n = realloc(pats, c * sizeof(*n));
	if (!n) {
		free(pats);
		return NULL;
	}
	*cap = c;
	return n;
}

/* The terms of q that also get a LIKE of their own, which the trigram index can serve (the
 * longest ones of three bytes or more); LIKE ALL over every term decides. */
#define Q_INDEXED_TERMS 3

/* A term as a LIKE pattern, %term%: ASCII upper case lowered (siem_text() is lowered as
 * SQLite's check folds case: ASCII only), and LIKE's \ % _ escaped with its default escape,
 * the backslash. Malloc'd. */
static char *like_pattern(const char *w, size_t n)
{
	char *out = malloc(2 * n + 3);
	size_t k = 0;
	if (!out)
		return NULL;
	out[k++] = '%';
	for (size_t i = 0; i < n; i++) {
		char c = w[i];
		if (c == '\\' || c == '%' || c == '_')
			out[k++] = '\\';
		out[k++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[k++] = '%';
	out[k] = '\0';
	return out;
}

static int cmp_len_desc(const void *a, const void *b)
{
	size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);
	return (x < y) - (x > y);
}

/* q's condition: every whitespace-separated term occurs in message, raw or http_path, ASCII
 * case-insensitively (the same rule as SQLite's siem_text_has). No term (only whitespace):
 * no condition. */
static int where_text(struct pg_sql *sq, struct pg_qparams *x, const char *q)
{
	char *text = pg_text_repair(q, strlen(q)), **pats = NULL;
	size_t n = 0, cap = 0;
	int rc = text ? 0 : -ENOMEM;
	for (char *p = text; rc == 0 && p && *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		char *w = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (p == w)
			break;
		char *pat = like_pattern(w, (size_t)(p - w));
		bool seen = false;
		for (size_t i = 0; pat && i < n && !seen; i++)
			seen = strcmp(pats[i], pat) == 0;
		if (!pat || (!seen && n == cap && !(pats = reallocarray_or_free(pats, &cap))))
			rc = -ENOMEM;
		if (rc == 0 && !seen)
			pats[n++] = pat;
		else
			free(pat);
	}
	if (rc == 0 && n > 0) {
		int all = pg_qp_own(x, pg_values_array((const char *const *)pats, n));
		if ((rc = all < 0 ? all : 0) == 0) {
			qsort(pats, n, sizeof(*pats), cmp_len_desc);
			for (size_t i = 0; rc == 0 && i < n && i < Q_INDEXED_TERMS; i++) {
				if (strlen(pats[i]) < 5) /* %ab%: too short for a trigram */
					break;
				int k = pg_qp_own(x, strdup(pats[i]));
				if (k < 0)
					rc = k;
				else
					pg_sql_add(
					    sq, " AND siem_text(message, raw, http_path) LIKE $%d",
					    k);
			}
			pg_sql_add(sq,
				   " AND siem_text(message, raw, http_path) LIKE ALL ($%d::text[])",
				   all);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(pats[i]);
	free(pats);
	free(text);
	return rc;
}

/* The 16 bytes of an address range bound as SQL text: hex of our own bytes. */
static void sql_ip(struct pg_sql *q, const uint8_t b[16])
{
	char hex[33];
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	pg_sql_add(q, "decode('%s', 'hex')", hex);
}

/* The WHERE conditions of an event query (after "WHERE "), with their parameters. */
static int build_where(struct pg_sql *q, struct pg_qparams *x, const struct event_query *eq)
{
	int rc, a = pg_qp_i64(x, eq->from), b = pg_qp_i64(x, eq->to);
	pg_sql_add(q, "ts >= $%d AND ts <= $%d", a, b);
	if (eq->has_cursor) {
		a = pg_qp_i64(x, eq->cursor_ts);
		b = pg_qp_i64(x, eq->cursor_seq);
		pg_sql_add(q, " AND (ts < $%d OR (ts = $%d AND seq < $%d))", a, a, b);
	}
	if ((rc = pg_where_set(q, x, "event_type", &eq->event_type)) < 0 ||
	    (rc = pg_where_set(q, x, "app", &eq->app)) < 0 ||
	    (rc = pg_where_set(q, x, "upper(level)", &eq->level)) < 0 || /* as sent before */
	    (rc = pg_where_set(q, x, "os_type", &eq->os_type)) < 0 ||
	    (rc = pg_where_set(q, x, "host", &eq->source_host)) < 0 ||
	    (rc = pg_where_set(q, x, "\"user\"", &eq->user)) < 0 ||
	    (rc = pg_where_set(q, x, "request_id", &eq->request_id)) < 0)
		return rc;
	pg_where_ints(q, "severity", eq->severity, eq->n_severity);
	pg_where_ints(q, "http_status", eq->http_status, eq->n_status);
	if (eq->n_cidr) {
		pg_sql_add(q, " AND (");
		for (size_t i = 0; i < eq->n_cidr; i++) {
			pg_sql_add(q, "%sip BETWEEN ", i ? " OR " : "");
			sql_ip(q, eq->cidr_lo[i]);
			pg_sql_add(q, " AND ");
			sql_ip(q, eq->cidr_hi[i]);
		}
		pg_sql_add(q, ")");
	}
	if ((rc = pg_where_set(q, x, "geo_country", &eq->country)) < 0)
		return rc;
	for (size_t i = 0; i < eq->n_asn; i++)
		pg_sql_add(q, "%s%lld%s", i ? "," : " AND geo_asn IN (", (long long)eq->asn[i],
			   i + 1 == eq->n_asn ? ")" : "");
	for (size_t i = 0; i < eq->tag.n; i++) {
		int k = pg_qp_own(x, strdup(eq->tag.v[i]));
		if (k < 0)
			return k;
		pg_sql_add(q, "%sstrpos(',' || tags || ',', $%d) > 0%s", i ? " OR " : " AND (", k,
			   i + 1 == eq->tag.n ? ")" : "");
	}
	if (eq->q && eq->q[0] && (rc = where_text(q, x, eq->q)) < 0)
		return rc;
	return 0;
}

int pg_query_events(struct pg_store *s, const struct event_query *q, json_t *out, bool *has_next,
		    int64_t *next_ts, int64_t *next_seq)
{
	struct pg_sql sql = {.rc = 0};
	struct pg_qparams x = {.nown = 0};
	PGresult *r = NULL;
	json_t *page = NULL;
	int rc;

	*has_next = false;
	if (q->limit < 1)
		return -EINVAL;
	strbuf_init(&sql.b, SQL_MAX);
	pg_sql_add(&sql, "SELECT %s FROM events WHERE ", pg_event_cols);
	if ((rc = build_where(&sql, &x, q)) < 0)
		goto out;
	pg_sql_add(&sql, " ORDER BY ts DESC, seq DESC LIMIT %d", q->limit + 1);
	if ((rc = sql.rc) < 0 || (rc = pg_run(s, sql.b.p, &x.p, &r, "query events")) < 0)
		goto out;
	/* One more row than the page says whether another page follows. */
	int n = PQntuples(r), keep = n > q->limit ? q->limit : n;
	if (!(page = json_array())) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < keep; i++) {
		json_t *e = pg_row_to_json(r, i, false);
		if (!e || json_array_append_new(page, e) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	json_array_extend(out, page);
	if (n > q->limit) {
		*has_next = true;
		*next_ts = pg_i64(r, keep - 1, COL(TIMESTAMP));
		*next_seq = pg_i64(r, keep - 1, 0);
	}
out:
	json_decref(page);
	PQclear(r);
	pg_qp_release(&x);
	strbuf_release(&sql.b);
	return rc;
}

int pg_count_events(struct pg_store *s, const struct event_query *q, int64_t bound, int64_t *n,
		    bool *exact)
{
	struct event_query c = *q; /* every page's events: no cursor */
	struct pg_sql sql = {.rc = 0};
	struct pg_qparams x = {.nown = 0};
	PGresult *r = NULL;
	int rc;

	*n = 0;
	*exact = true;
	if (bound < 0 || bound == INT64_MAX)
		return -EINVAL;
	c.has_cursor = false;
	strbuf_init(&sql.b, SQL_MAX);
	/* One row past bound is enough to know there are more. */
	pg_sql_add(&sql, "SELECT count(*) FROM (SELECT 1 FROM events WHERE ");
	if ((rc = build_where(&sql, &x, &c)) < 0)
		goto out;
	pg_sql_add(&sql, " LIMIT $%d) t", pg_qp_i64(&x, bound + 1));
	if ((rc = sql.rc) < 0 || (rc = pg_run(s, sql.b.p, &x.p, &r, "count events")) < 0)
		goto out;
	int64_t total = PQntuples(r) == 1 ? pg_i64(r, 0, 0) : 0;
	*exact = total <= bound;
	*n = *exact ? total : bound;
out:
	PQclear(r);
	pg_qp_release(&x);
	strbuf_release(&sql.b);
	return rc;
}

/* ---- one event, distinct values ---- */

int pg_get_event(struct pg_store *s, const uint8_t id[16], json_t **out)
{
	struct pg_sql sql = {.rc = 0};
	struct pg_params p = {0};
	PGresult *r = NULL;
	char text[37];
	int rc;
	*out = NULL;
	uuid_format(id, text);
	pg_p_text(&p, text);
	strbuf_init(&sql.b, SQL_MAX);
	/* The id is unique with the event time (the partition key): the first stored wins. */
	pg_sql_add(&sql, "SELECT %s FROM events WHERE id = $1 ORDER BY seq LIMIT 1", pg_event_cols);
	if ((rc = sql.rc) < 0 || (rc = pg_run(s, sql.b.p, &p, &r, "get event")) < 0)
		goto out;
	if (PQntuples(r) == 0)
		rc = SIEM_ENOTFOUND;
	else if (!(*out = pg_row_to_json(r, 0, true)))
		rc = -ENOMEM;
out:
	PQclear(r);
	strbuf_release(&sql.b);
	return rc;
}

int pg_event_position(struct pg_store *s, const uint8_t id[16], int64_t *ts, int64_t *seq)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	char text[37];
	*ts = *seq = 0;
	uuid_format(id, text);
	pg_p_text(&p, text);
	int rc = pg_run(s, "SELECT ts, seq FROM events WHERE id = $1 ORDER BY seq LIMIT 1", &p, &r,
			"event position");
	if (rc == 0 && PQntuples(r) == 0)
		rc = SIEM_ENOTFOUND;
	else if (rc == 0) {
		*ts = pg_i64(r, 0, 0);
		*seq = pg_i64(r, 0, 1);
	}
	PQclear(r);
	return rc;
}

/* Most frequent first, then by value in byte order (facets.c facets_sorted): COLLATE "C"
 * compares UTF-8 text bytewise. */
#define DISTINCT(col, cond)                                                              \
	"SELECT " col ", count(*) FROM events WHERE " cond col " IS NOT NULL GROUP BY 1" \
	" ORDER BY 2 DESC, " col " COLLATE \"C\""

static const char *const distinct_sql[] = {
    [DISTINCT_APP] = DISTINCT("app", ""),
    [DISTINCT_EVENT_TYPE] = DISTINCT("event_type", ""),
    [DISTINCT_HOST] = DISTINCT("host", ""),
};

#define DISTINCT_TYPES_OF_APP DISTINCT("event_type", "app = $1 AND ")

int pg_distinct(struct pg_store *s, enum store_distinct_field f, const char *app, json_t *out)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	json_t *acc = json_array();
	char *app_text = NULL;
	const char *sql = distinct_sql[f];
	int rc = acc ? 0 : -ENOMEM;
	if (rc == 0 && f == DISTINCT_EVENT_TYPE && app) {
		if (!(app_text = pg_text_repair(app, strlen(app))))
			rc = -ENOMEM;
		pg_p_text(&p, app_text);
		sql = DISTINCT_TYPES_OF_APP;
	}
	if (rc == 0)
		rc = pg_run(s, sql, p.n ? &p : NULL, &r, "distinct values");
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		json_t *o = json_object();
		if (!o || json_array_append_new(acc, o) < 0) {
			rc = -ENOMEM;
			break;
		}
		json_object_set_new(
		    o, "value", json_stringn(PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0)));
		json_object_set_new(o, "count", json_integer(pg_i64(r, i, 1)));
	}
	if (rc == 0)
		json_array_extend(out, acc);
	PQclear(r);
	free(app_text);
	json_decref(acc);
	return rc;
}

/* ---- file offsets ---- */

int pg_get_offset(struct pg_store *s, const char *path, uint64_t *dev, uint64_t *ino,
		  int64_t *offset, bool *found)
{
	struct pg_params p = {0};
	PGresult *r = NULL;
	char *text = pg_text_repair(path, strlen(path));
	int rc;
	*found = false;
	*offset = 0;
	if (!text)
		return -ENOMEM;
	pg_p_text(&p, text);
	rc = pg_run(s, "SELECT dev, ino, \"offset\" FROM file_offsets WHERE path = $1", &p, &r,
		    "get offset");
	if (rc == 0 && PQntuples(r) > 0) {
		*dev = (uint64_t)pg_i64(r, 0, 0);
		*ino = (uint64_t)pg_i64(r, 0, 1);
		*offset = pg_i64(r, 0, 2);
		*found = true;
	}
	PQclear(r);
	free(text);
	return rc;
}
