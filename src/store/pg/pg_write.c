/* pg_write.c — the PostgreSQL writer: one thread appends a group commit's events, file
 * offsets and dead letters, and commits them in one transaction.
 *
 * pg_append only encodes the event as a line of COPY text; pg_commit then makes sure the day
 * partitions exist, and in one transaction COPYs the lines into a temporary staging table,
 * moves them into events with INSERT ... ON CONFLICT (id, ts) DO NOTHING RETURNING id, ts
 * (and adds the stored ones to event_days), writes the offsets and dead letters, and commits. The
 * rows RETURNING names were stored; every other appended event was a duplicate (of a stored event,
 * or of an earlier one in the same commit), and its *dup is set. Nothing is acknowledged before
 * COMMIT returns. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/utf8.h"
#include "store/pg/pg_sql.h"

#define SUB "postgres"
#define KNOWN_DAYS 64
#define STR_(x) #x
#define STR(x) STR_(x)
#define EV_TS_MISSING_BIT 1 /* EV_TS_MISSING, as SQL text */
_Static_assert(EV_TS_MISSING == EV_TS_MISSING_BIT, "EV_TS_MISSING_BIT");

struct pending {
	uint8_t id[16];
	int64_t ts;
	bool *dup;
};

struct offset_rec {
	char *path;
	uint64_t dev, ino;
	int64_t offset;
};

struct dead_rec {
	char *source, *file, *reason, *raw;
	int64_t offset, now_us;
	size_t raw_n;
};

struct pg_writer {
	char *buf; /* COPY text of the appended events */
	size_t n, cap;
	struct pending *pend;
	size_t npend, cappend;
	size_t untimed; /* pending events sent without a timestamp */
	struct offset_rec *off;
	size_t noff, capoff;
	struct dead_rec *dead;
	size_t ndead, capdead;
	char *scratch; /* a repaired string before it is escaped */
	size_t capscratch;
	int64_t known[KNOWN_DAYS]; /* days whose partition was ensured (ring) */
	size_t nknown;
	bool failed;
};

/* ---- growing buffers ---- */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *n = realloc(*p, c * size);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = c;
	return 0;
}

static int put(struct pg_writer *w, const char *s, size_t n)
{
	if (grow((void **)&w->buf, &w->cap, w->n + n + 1, 1) < 0) {
		w->failed = true;
		return -ENOMEM;
	}
	memcpy(w->buf + w->n, s, n);
	w->n += n;
	return 0;
}

static void put_c(struct pg_writer *w, char ch)
{
	put(w, &ch, 1);
}

/* ---- COPY text values ---- */

static void put_null(struct pg_writer *w)
{
	put(w, "\\N", 2);
}

static void put_i64(struct pg_writer *w, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRId64, v);
	put(w, b, (size_t)n);
}

static void put_real(struct pg_writer *w, double v)
{
	char b[40];
	if (!isfinite(v)) {
		put_null(w);
		return;
	}
	int n = snprintf(b, sizeof(b), "%.17g", v);
	put(w, b, (size_t)n);
}

/* Text as COPY reads it: valid UTF-8 without NUL bytes (PostgreSQL text holds neither a NUL
 * nor a broken sequence: each becomes U+FFFD), with backslash and the field and row
 * separators escaped. */
static void put_text(struct pg_writer *w, const char *s, size_t n)
{
	if (grow((void **)&w->scratch, &w->capscratch, 3 * n + 1, 1) < 0) {
		w->failed = true;
		return;
	}
	size_t m = utf8_copy_repair(w->scratch, (const unsigned char *)s, n, false);
	if (grow((void **)&w->buf, &w->cap, w->n + 2 * m + 1, 1) < 0) {
		w->failed = true;
		return;
	}
	char *o = w->buf + w->n;
	for (size_t i = 0; i < m; i++) {
		char ch = w->scratch[i];
		switch (ch) {
		case '\\':
			*o++ = '\\', *o++ = '\\';
			break;
		case '\n':
			*o++ = '\\', *o++ = 'n';
			break;
		case '\r':
			*o++ = '\\', *o++ = 'r';
			break;
		case '\t':
			*o++ = '\\', *o++ = 't';
			break;
		default:
			*o++ = ch;
		}
	}
	w->n = (size_t)(o - w->buf);
}

static void put_sv(struct pg_writer *w, struct sv v)
{
	if (v.p)
		put_text(w, v.p, v.n);
	else
		put_null(w);
}

static void put_uuid(struct pg_writer *w, const uint8_t id[16])
{
	char b[37];
	uuid_format(id, b);
	put(w, b, 36);
}

/* bytea in COPY text: "\\x" and hex (the backslash itself escaped). */
static void put_bytea(struct pg_writer *w, const uint8_t *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	put(w, "\\\\x", 3);
	for (size_t i = 0; i < n; i++) {
		put_c(w, hex[b[i] >> 4]);
		put_c(w, hex[b[i] & 15]);
	}
}

/* A field of ev as its kind is stored (core/event_fields.h), as in the embedded store: a
 * number whose presence flag is clear, an absent string or address, is NULL. */
#define EV_SET(ev, flag) (!(flag) || ((ev)->flags & (flag)) != 0)
#define PUT_STR(w, ev, m, flag) put_sv(w, (ev)->m)
#define PUT_DATA PUT_STR
#define PUT_KEY PUT_STR
#define PUT_TAGS PUT_STR
#define PUT_TIME(w, ev, m, flag) put_i64(w, (ev)->m)
#define PUT_UUID(w, ev, m, flag) put_uuid(w, (ev)->m)
#define PUT_INT(w, ev, m, flag) (EV_SET(ev, flag) ? put_i64(w, (ev)->m) : put_null(w))
#define PUT_I64 PUT_INT
#define PUT_REAL(w, ev, m, flag) (EV_SET(ev, flag) ? put_real(w, (ev)->m) : put_null(w))
#define PUT_IP(w, ev, m, flag) (((ev)->flags & (flag)) ? put_bytea(w, (ev)->m, 16) : put_null(w))
#define PUT_FLAGS(w, ev, m, flag) put_i64(w, (int64_t)(ev)->m)
#define PUT_KEYID(w, ev, m, flag) \
	(((ev)->ingest_key.p && (ev)->m > 0) ? put_i64(w, (ev)->m) : put_null(w))
#define PUT_FIELD(ID, MEMBER, KIND, FLAG, ...) \
	if (EF_##ID != 0)                      \
		put_c(w, '\t');                \
	PUT_##KIND(w, ev, MEMBER, FLAG);

/* One line of COPY text: the fields after seq, tab-separated. */
static void put_event(struct pg_writer *w, const struct event *ev)
{
	EVENT_FIELDS(PUT_FIELD)
	put_c(w, '\n');
}

/* ---- the writer ---- */

static void writer_reset(struct pg_writer *w)
{
	w->n = 0;
	w->npend = 0;
	w->untimed = 0;
	for (size_t i = 0; i < w->noff; i++)
		free(w->off[i].path);
	w->noff = 0;
	for (size_t i = 0; i < w->ndead; i++) {
		free(w->dead[i].source);
		free(w->dead[i].file);
		free(w->dead[i].reason);
		free(w->dead[i].raw);
	}
	w->ndead = 0;
	w->failed = false;
}

void pg_writer_free(struct pg_writer *w)
{
	if (!w)
		return;
	writer_reset(w);
	free(w->buf);
	free(w->pend);
	free(w->off);
	free(w->dead);
	free(w->scratch);
	free(w);
}

int pg_begin(struct pg_store *s)
{
	if (!s->wr && !(s->wr = calloc(1, sizeof(*s->wr))))
		return -ENOMEM;
	writer_reset(s->wr);
	return 0;
}

int pg_append(struct pg_store *s, const struct event *ev, bool *dup)
{
	struct pg_writer *w = s->wr;
	if (grow((void **)&w->pend, &w->cappend, w->npend + 1, sizeof(*w->pend)) < 0)
		return -ENOMEM;
	struct pending *p = &w->pend[w->npend++];
	memcpy(p->id, ev->id, 16);
	p->ts = ev->ts;
	p->dup = dup;
	*dup = false;
	w->untimed += (ev->flags & EV_TS_MISSING) != 0;
	put_event(w, ev);
	return w->failed ? -ENOMEM : 0;
}

/* s[0..n) as valid UTF-8 without NUL (a parameter PostgreSQL accepts as text). */
int pg_set_offset(struct pg_store *s, const char *path, uint64_t dev, uint64_t ino, int64_t offset)
{
	struct pg_writer *w = s->wr;
	if (grow((void **)&w->off, &w->capoff, w->noff + 1, sizeof(*w->off)) < 0)
		return -ENOMEM;
	struct offset_rec *o = &w->off[w->noff];
	if (!(o->path = pg_text_repair(path, strlen(path))))
		return -ENOMEM;
	o->dev = dev;
	o->ino = ino;
	o->offset = offset;
	w->noff++;
	return 0;
}

int pg_add_dead_letter(struct pg_store *s, const char *source, const char *file, int64_t offset,
		       const char *reason, const char *raw, size_t raw_n, int64_t now_us)
{
	struct pg_writer *w = s->wr;
	if (grow((void **)&w->dead, &w->capdead, w->ndead + 1, sizeof(*w->dead)) < 0)
		return -ENOMEM;
	struct dead_rec *d = &w->dead[w->ndead];
	memset(d, 0, sizeof(*d));
	source = source ? source : "unknown";
	reason = reason ? reason : "unknown";
	d->raw_n = raw_n > EV_CAP_RAW ? EV_CAP_RAW : raw_n;
	d->source = pg_text_repair(source, strlen(source));
	d->reason = pg_text_repair(reason, strlen(reason));
	d->file = file ? pg_text_repair(file, strlen(file)) : NULL;
	d->raw = malloc(d->raw_n + 1);
	d->offset = offset;
	d->now_us = now_us;
	w->ndead++;
	if (!d->source || !d->reason || (file && !d->file) || !d->raw)
		return -ENOMEM;
	memcpy(d->raw, raw ? raw : "", d->raw_n);
	return 0;
}

/* The writer's connection, made when there is none (or the last one was lost). */
static int writer_conn(struct pg_store *s)
{
	if (s->w && PQstatus(s->w) == CONNECTION_OK)
		return 0;
	if (s->w) {
		PQfinish(s->w);
		s->w = NULL;
	}
	s->wr->nknown = 0;
	int rc = pg_connect(s, &s->w);
	if (rc == 0)
		rc = pg_exec(s->w,
			     "CREATE TEMP TABLE stage (LIKE events INCLUDING DEFAULTS)"
			     " ON COMMIT DELETE ROWS",
			     NULL, NULL, "staging table");
	return rc;
}

static bool day_known(const struct pg_writer *w, int64_t d)
{
	size_t n = w->nknown < KNOWN_DAYS ? w->nknown : KNOWN_DAYS;
	for (size_t i = 0; i < n; i++)
		if (w->known[i] == d)
			return true;
	return false;
}

/* The partitions of the days the pending events fall on. */
static int ensure_partitions(struct pg_store *s)
{
	struct pg_writer *w = s->wr;
	int64_t last = INT64_MIN; /* a batch's events are mostly of one day */
	for (size_t i = 0; i < w->npend; i++) {
		int64_t d = pg_day(w->pend[i].ts);
		if (d == last)
			continue;
		last = d;
		if (day_known(w, d))
			continue;
		int rc =
		    pg_partitions_ensure(s->w, d * PG_DAY_US, d * PG_DAY_US, s->retention_days);
		if (rc < 0)
			return rc;
		w->known[w->nknown++ % KNOWN_DAYS] = d;
	}
	return 0;
}

/* COPY the pending lines into the staging table. */
static int copy_events(struct pg_store *s)
{
	struct pg_writer *w = s->wr;
	char sql[1024];
	int rc;
	/* The columns after seq, which the staging table's default numbers in append order (the
	 * staging table is made with the connection, in writer_conn). */
	snprintf(sql, sizeof(sql), "COPY stage (%s) FROM STDIN", strchr(pg_event_cols, ',') + 1);
	PGresult *r = PQexec(s->w, sql);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		rc = pg_err(s->w, r, "copy");
		PQclear(r);
		return rc;
	}
	PQclear(r);
	const size_t chunk = 256 * 1024;
	for (size_t off = 0; off < w->n; off += chunk) {
		size_t len = w->n - off < chunk ? w->n - off : chunk;
		if (PQputCopyData(s->w, w->buf + off, (int)len) != 1)
			return pg_err(s->w, NULL, "copy data");
	}
	if (PQputCopyEnd(s->w, NULL) != 1)
		return pg_err(s->w, NULL, "copy end");
	rc = 0;
	while ((r = PQgetResult(s->w))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
			rc = pg_err(s->w, r, "copy");
		PQclear(r);
	}
	return rc;
}

/* Mark every pending event that INSERT ... RETURNING did not name as a duplicate. The
 * returned rows are few and unordered: sort them, then look each pending event up; a
 * returned row is consumed by the first pending event with its id and time. */
struct key {
	uint8_t id[16];
	int64_t ts;
	bool used;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = memcmp(x->id, y->id, 16);
	return c ? c : (x->ts > y->ts) - (x->ts < y->ts);
}

static int mark_dups(struct pg_writer *w, const PGresult *r)
{
	int n = PQntuples(r);
	struct key *k = calloc((size_t)n + 1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const char *id = pg_str(r, i, 0);
		if (!id || uuid_parse(id, strlen(id), k[i].id) < 0) {
			free(k);
			return SIEM_ESQL;
		}
		k[i].ts = pg_i64(r, i, 1);
	}
	qsort(k, (size_t)n, sizeof(*k), key_cmp);
	for (size_t i = 0; i < w->npend; i++) {
		struct key want = {.ts = w->pend[i].ts};
		memcpy(want.id, w->pend[i].id, 16);
		struct key *hit = bsearch(&want, k, (size_t)n, sizeof(*k), key_cmp);
		if (hit && !hit->used)
			hit->used = true;
		else
			*w->pend[i].dup = true;
	}
	free(k);
	return 0;
}

static int write_offsets(struct pg_store *s)
{
	struct pg_writer *w = s->wr;
	for (size_t i = 0; i < w->noff; i++) {
		struct pg_params p = {0};
		pg_p_text(&p, w->off[i].path);
		pg_p_i64(&p, (int64_t)w->off[i].dev);
		pg_p_i64(&p, (int64_t)w->off[i].ino);
		pg_p_i64(&p, w->off[i].offset);
		pg_p_i64(&p, ts_now_us());
		int rc = pg_exec(s->w,
				 "INSERT INTO file_offsets(path, dev, ino, \"offset\", updated_at)"
				 " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (path) DO UPDATE SET"
				 " dev = $2, ino = $3, \"offset\" = $4, updated_at = $5",
				 &p, NULL, "file offset");
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int write_dead(struct pg_store *s)
{
	struct pg_writer *w = s->wr;
	for (size_t i = 0; i < w->ndead; i++) {
		struct dead_rec *d = &w->dead[i];
		struct pg_params p = {0};
		pg_p_i64(&p, d->now_us);
		pg_p_text(&p, d->source);
		pg_p_text(&p, d->file);
		if (d->offset >= 0)
			pg_p_i64(&p, d->offset);
		else
			pg_p_text(&p, NULL);
		pg_p_text(&p, d->reason);
		pg_p_bytes(&p, d->raw, d->raw_n);
		int rc = pg_exec(s->w,
				 "INSERT INTO dead_letters(ts, source, source_file, source_offset,"
				 " reason, raw) VALUES ($1, $2, $3, $4, $5, $6)",
				 &p, NULL, "dead letter");
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* An event sent without a timestamp is stored at its receive time, so a retry of it has
 * another (id, ts) than the copy already stored, and the unique key would not catch it: such
 * events are looked up by id among the last day's events (as the embedded store catches any
 * id in its active segment), and dropped from the staging table when found. So is such an
 * event when an earlier row of the same commit has its id: a retry that lands in the same
 * group commit as its original (in broker mode, a late message and the client's retry). */
#define RETRY_WINDOW_US (24 * 3600 * INT64_C(1000000))

/* clang-format off */
#define DROP_RETRIES_SQL                                                                     \
	"DELETE FROM stage s WHERE s.flags & " STR(EV_TS_MISSING_BIT) " <> 0 AND"            \
	" (EXISTS (SELECT 1 FROM events e WHERE e.id = s.id AND e.ts >= $1)"                 \
	" OR EXISTS (SELECT 1 FROM stage t WHERE t.id = s.id AND t.seq < s.seq))"
/* clang-format on */

static int drop_retries(struct pg_store *s)
{
	struct pg_params p = {0};
	pg_p_i64(&p, ts_now_us() - RETRY_WINDOW_US);
	return pg_exec(s->w, DROP_RETRIES_SQL, &p, NULL, "retries");
}

static int commit_txn(struct pg_store *s)
{
	struct pg_writer *w = s->wr;
	PGresult *r = NULL;
	int rc;
	if ((rc = pg_exec(s->w, "BEGIN", NULL, NULL, "begin")) < 0)
		return rc;
	if (w->npend > 0) {
		if ((rc = copy_events(s)) < 0 || (w->untimed && (rc = drop_retries(s)) < 0))
			goto fail;
		if ((rc = pg_exec(s->w,
				  "WITH ins AS (INSERT INTO events SELECT * FROM stage ORDER BY seq"
				  " ON CONFLICT (id, ts) DO NOTHING RETURNING id, ts),"
				  " days AS (INSERT INTO event_days(day, events)"
				  " SELECT ts / 86400000000, count(*) FROM ins GROUP BY 1"
				  " ON CONFLICT (day) DO UPDATE SET events = event_days.events"
				  " + excluded.events)"
				  " SELECT id, ts FROM ins",
				  NULL, &r, "insert events")) < 0)
			goto fail;
		rc = mark_dups(w, r);
		PQclear(r);
		if (rc < 0)
			goto fail;
	}
	if ((rc = write_offsets(s)) < 0 || (rc = write_dead(s)) < 0)
		goto fail;
	if ((rc = pg_exec(s->w, "COMMIT", NULL, NULL, "commit")) < 0)
		goto fail;
	return 0;
fail:
	if (PQstatus(s->w) == CONNECTION_OK)
		pg_exec(s->w, "ROLLBACK", NULL, NULL, "rollback");
	return rc;
}

int pg_commit(struct pg_store *s)
{
	struct pg_writer *w = s->wr;
	int64_t t0 = clock_mono_us();
	int rc = w->failed ? -ENOMEM : 0;
	if (rc == 0 && (w->npend || w->noff || w->ndead)) {
		if ((rc = writer_conn(s)) == 0 && (rc = ensure_partitions(s)) == 0)
			rc = commit_txn(s);
		if (rc < 0) /* not committed: nothing is a duplicate of anything */
			for (size_t i = 0; i < w->npend; i++)
				*w->pend[i].dup = false;
	}
	int64_t t1 = clock_mono_us();
	pthread_mutex_lock(&s->stat_mu);
	if (rc == 0) {
		s->commits++;
		s->last_commit_us = ts_now_us();
		s->commit_latency_us = t1 - t0;
	} else {
		s->commit_errors++;
	}
	pthread_mutex_unlock(&s->stat_mu);
	writer_reset(w);
	return rc;
}

int pg_ping(struct pg_store *s)
{
	if (!s->wr && !(s->wr = calloc(1, sizeof(*s->wr))))
		return -ENOMEM;
	int rc = writer_conn(s);
	if (rc == 0)
		rc = pg_exec(s->w, "SELECT 1", NULL, NULL, "ping");
	return rc;
}

void pg_rollback(struct pg_store *s)
{
	if (s->wr)
		writer_reset(s->wr);
}
