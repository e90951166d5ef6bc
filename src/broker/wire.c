/* wire.c — the broker message of a batch. Layout (integers little-endian):
 *
 *   "MSW1"  u32 EF_COUNT  u32 events  u32 dead letters  u32 offsets
 *   each event: its fields in EVENT_FIELDS order, by kind (STR, DATA, KEY, TAGS: a string;
 *     INT: i32; I64, TIME, KEYID: i64; REAL: f64; UUID, IP: 16 bytes; FLAGS: u32), then
 *     the source_ip text
 *   each dead letter: source, file, i64 offset, reason, raw
 *   each offset: path, u64 dev, u64 ino, i64 offset
 *   a string: u32 length (0xffffffff: absent) and its bytes
 *
 * A node that reads a message written with another field table refuses it (the nodes of a
 * cluster run one version). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/wire.h"
#include "core/err.h"

#define MAGIC "MSW1"
#define ABSENT 0xffffffffu
#define HEADER_BYTES 20
#define SHORT_BOUND 4096 /* the short fields, source_ip, dead letter source and reason */
#define PATH_BOUND 4096
#define MAX_TIME_US 253402300799999999LL /* 9999-12-31T23:59:59.999999Z, as ts_parse */

static int put(struct strbuf *o, const void *p, size_t n)
{
	int rc = strbuf_add(o, p, n);
	return rc == -E2BIG ? SIEM_ETOOBIG : rc;
}

static int put_u32(struct strbuf *o, uint32_t v)
{
	unsigned char b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return put(o, b, 4);
}

static int put_u64(struct strbuf *o, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return put(o, b, 8);
}

static int put_str(struct strbuf *o, const char *p, size_t n, size_t bound)
{
	int rc;
	if (!p)
		return put_u32(o, ABSENT);
	if (n > bound)
		return SIEM_ETOOBIG;
	if ((rc = put_u32(o, (uint32_t)n)) < 0)
		return rc;
	return put(o, p, n);
}

static size_t str_bound(unsigned cap)
{
	return cap > SHORT_BOUND ? cap : SHORT_BOUND;
}

static int put_event(struct strbuf *o, const struct event *ev)
{
	int rc = 0;
	for (size_t f = 0; f < EF_COUNT && rc == 0; f++) {
		const struct event_field_info *fi = &event_fields[f];
		const char *m = (const char *)ev + fi->off;
		double d;
		uint64_t u;
		switch (fi->kind) {
		case EFK_STR:
		case EFK_DATA:
		case EFK_KEY:
		case EFK_TAGS: {
			const struct sv *s = (const struct sv *)(const void *)m;
			rc = put_str(o, s->p, s->n, str_bound(fi->cap));
			break;
		}
		case EFK_INT:
			rc = put_u32(o, (uint32_t) * (const int *)(const void *)m);
			break;
		case EFK_I64:
		case EFK_TIME:
		case EFK_KEYID:
			rc = put_u64(o, (uint64_t) * (const int64_t *)(const void *)m);
			break;
		case EFK_REAL:
			d = *(const double *)(const void *)m;
			memcpy(&u, &d, sizeof(u));
			rc = put_u64(o, u);
			break;
		case EFK_UUID:
		case EFK_IP:
			rc = put(o, m, 16);
			break;
		case EFK_FLAGS:
			rc = put_u32(o, *(const unsigned *)(const void *)m);
			break;
		}
	}
	if (rc == 0)
		rc = put_str(o, ev->source_ip.p, ev->source_ip.n, SHORT_BOUND);
	return rc;
}

int wire_encode(const struct ingest_batch *b, struct strbuf *o)
{
	int rc;
	if (b->n + b->n_dead > WIRE_MAX_RECORDS || b->n_offsets > WIRE_MAX_RECORDS)
		return SIEM_ETOOBIG;
	if ((rc = put(o, MAGIC, 4)) < 0 || (rc = put_u32(o, EF_COUNT)) < 0 ||
	    (rc = put_u32(o, (uint32_t)b->n)) < 0 || (rc = put_u32(o, (uint32_t)b->n_dead)) < 0 ||
	    (rc = put_u32(o, (uint32_t)b->n_offsets)) < 0)
		return rc;
	for (size_t i = 0; i < b->n && rc == 0; i++)
		rc = put_event(o, &b->ev[i]);
	for (size_t i = 0; i < b->n_dead && rc == 0; i++) {
		const struct ingest_dead *d = &b->dead[i];
		const char *src = d->source ? d->source : "";
		if ((rc = put_str(o, src, strlen(src), SHORT_BOUND)) < 0 ||
		    (rc = put_str(o, d->file, d->file ? strlen(d->file) : 0, PATH_BOUND)) < 0 ||
		    (rc = put_u64(o, (uint64_t)d->offset)) < 0 ||
		    (rc = put_str(o, d->reason ? d->reason : "", d->reason ? strlen(d->reason) : 0,
				  SHORT_BOUND)) < 0)
			break;
		rc = put_str(o, d->raw ? d->raw : "", d->raw ? d->raw_n : 0, EV_CAP_RAW);
	}
	for (size_t i = 0; i < b->n_offsets && rc == 0; i++) {
		const struct ingest_offset *of = &b->offsets[i];
		if ((rc = put_str(o, of->path, strlen(of->path), PATH_BOUND)) < 0 ||
		    (rc = put_u64(o, of->dev)) < 0 || (rc = put_u64(o, of->ino)) < 0)
			break;
		rc = put_u64(o, (uint64_t)of->offset);
	}
	if (rc == 0 && o->n > WIRE_MAX_BYTES)
		rc = SIEM_ETOOBIG;
	return rc;
}

/* ---- decoding ---- */

struct rd {
	const unsigned char *p;
	size_t n, at;
	char *err;
	size_t errlen;
	const char *what; /* the record being read, for messages */
	size_t index;
};

static int fail(struct rd *r, int rc, const char *why)
{
	if (strcmp(r->what, "header") == 0 || strcmp(r->what, "message") == 0)
		snprintf(r->err, r->errlen, "%s: %s", r->what, why);
	else
		snprintf(r->err, r->errlen, "%s %zu: %s", r->what, r->index, why);
	return rc;
}

static int get(struct rd *r, void *dst, size_t n)
{
	if (r->n - r->at < n)
		return fail(r, SIEM_EPARSE, "message ends early");
	memcpy(dst, r->p + r->at, n);
	r->at += n;
	return 0;
}

static int get_u32(struct rd *r, uint32_t *v)
{
	unsigned char b[4];
	int rc = get(r, b, 4);
	*v = 0;
	for (int i = 0; rc == 0 && i < 4; i++)
		*v |= (uint32_t)b[i] << (8 * i);
	return rc;
}

static int get_u64(struct rd *r, uint64_t *v)
{
	unsigned char b[8];
	int rc = get(r, b, 8);
	*v = 0;
	for (int i = 0; rc == 0 && i < 8; i++)
		*v |= (uint64_t)b[i] << (8 * i);
	return rc;
}

/* A string into the arena (NUL-terminated); absent gives p == NULL unless required. */
static int get_str(struct rd *r, struct arena *a, struct sv *out, size_t bound, bool required)
{
	uint32_t len;
	int rc;
	out->p = NULL;
	out->n = 0;
	if ((rc = get_u32(r, &len)) < 0)
		return rc;
	if (len == ABSENT) {
		if (required)
			return fail(r, SIEM_EPARSE, "a required string is absent");
		return 0;
	}
	if (len > bound)
		return fail(r, SIEM_ETOOBIG, "a string is over its bound");
	if (r->n - r->at < len)
		return fail(r, SIEM_EPARSE, "message ends inside a string");
	char *s = arena_strndup(a, (const char *)r->p + r->at, len);
	if (!s)
		return fail(r, -ENOMEM, "out of memory");
	r->at += len;
	out->p = s;
	out->n = len;
	return 0;
}

static int get_event(struct rd *r, struct event *ev, struct arena *a)
{
	int rc = 0;
	for (size_t f = 0; f < EF_COUNT && rc == 0; f++) {
		const struct event_field_info *fi = &event_fields[f];
		char *m = (char *)ev + fi->off;
		uint32_t u32;
		uint64_t u64;
		switch (fi->kind) {
		case EFK_STR:
		case EFK_DATA:
		case EFK_KEY:
		case EFK_TAGS:
			rc = get_str(r, a, (struct sv *)(void *)m, str_bound(fi->cap), false);
			break;
		case EFK_INT:
			if ((rc = get_u32(r, &u32)) == 0)
				*(int *)(void *)m = (int)u32;
			break;
		case EFK_I64:
		case EFK_TIME:
		case EFK_KEYID:
			if ((rc = get_u64(r, &u64)) == 0)
				*(int64_t *)(void *)m = (int64_t)u64;
			break;
		case EFK_REAL:
			if ((rc = get_u64(r, &u64)) == 0)
				memcpy(m, &u64, sizeof(double));
			break;
		case EFK_UUID:
		case EFK_IP:
			rc = get(r, m, 16);
			break;
		case EFK_FLAGS:
			if ((rc = get_u32(r, &u32)) == 0)
				*(unsigned *)(void *)m = u32;
			break;
		}
	}
	if (rc == 0)
		rc = get_str(r, a, &ev->source_ip, SHORT_BOUND, false);
	if (rc == 0 && (ev->severity < 1 || ev->severity > 5))
		rc = fail(r, SIEM_EPARSE, "severity out of 1..5");
	if (rc == 0 && (ev->ts < 0 || ev->ts > MAX_TIME_US || ev->received_at < 0 ||
			ev->received_at > MAX_TIME_US))
		rc = fail(r, SIEM_EPARSE, "a time outside 1970..9999");
	return rc;
}

/* The fewest bytes an event, a dead letter and an offset take: what a count is checked
 * against before anything is allocated for it. */
static size_t min_event_bytes(void)
{
	size_t n = 4; /* source_ip */
	for (size_t f = 0; f < EF_COUNT; f++)
		switch (event_fields[f].kind) {
		case EFK_UUID:
		case EFK_IP:
			n += 16;
			break;
		case EFK_I64:
		case EFK_TIME:
		case EFK_KEYID:
		case EFK_REAL:
			n += 8;
			break;
		default:
			n += 4;
		}
	return n;
}
#define MIN_DEAD_BYTES (4 + 4 + 8 + 4 + 4)
#define MIN_OFFSET_BYTES (4 + 8 + 8 + 8)

int wire_decode(const void *msg, size_t n, struct ingest_batch *b, char *err, size_t errlen)
{
	struct rd r = {.p = msg, .n = n, .err = err, .errlen = errlen, .what = "header"};
	uint32_t fields, nev, ndead, noff;
	char magic[4];
	int rc;
	memset(b, 0, sizeof(*b));
	if (n > WIRE_MAX_BYTES)
		return fail(&r, SIEM_ETOOBIG, "message over its bound");
	if ((rc = get(&r, magic, 4)) < 0)
		return rc;
	if (memcmp(magic, MAGIC, 4) != 0)
		return fail(&r, SIEM_EPARSE, "not a minisiem batch (bad magic)");
	if ((rc = get_u32(&r, &fields)) < 0 || (rc = get_u32(&r, &nev)) < 0 ||
	    (rc = get_u32(&r, &ndead)) < 0 || (rc = get_u32(&r, &noff)) < 0)
		return rc;
	if (fields != EF_COUNT)
		return fail(&r, SIEM_EPARSE, "written with another event field table");
	if ((uint64_t)nev + ndead > WIRE_MAX_RECORDS || noff > WIRE_MAX_RECORDS)
		return fail(&r, SIEM_ETOOBIG, "too many records");
	if ((uint64_t)nev * min_event_bytes() + (uint64_t)ndead * MIN_DEAD_BYTES +
		(uint64_t)noff * MIN_OFFSET_BYTES >
	    n - HEADER_BYTES)
		return fail(&r, SIEM_EPARSE, "counts larger than the message");
	if ((rc = ingest_batch_init(b, (size_t)nev + ndead, ndead, 0)) < 0)
		return fail(&r, rc, "out of memory");
	r.what = "event";
	for (r.index = 0; r.index < nev; r.index++) {
		struct event *ev = ingest_batch_add_event(b);
		if ((rc = get_event(&r, ev, &b->arena)) < 0)
			return rc;
	}
	r.what = "dead letter";
	for (r.index = 0; r.index < ndead; r.index++) {
		struct sv src, file, reason, raw;
		uint64_t off;
		if ((rc = get_str(&r, &b->arena, &src, SHORT_BOUND, true)) < 0 ||
		    (rc = get_str(&r, &b->arena, &file, PATH_BOUND, false)) < 0 ||
		    (rc = get_u64(&r, &off)) < 0 ||
		    (rc = get_str(&r, &b->arena, &reason, SHORT_BOUND, true)) < 0 ||
		    (rc = get_str(&r, &b->arena, &raw, EV_CAP_RAW, true)) < 0)
			return rc;
		if ((rc = ingest_batch_add_dead(b, src.p, file.p, (int64_t)off, reason.p, raw.p,
						raw.n)) < 0)
			return fail(&r, rc, "cannot keep it");
	}
	r.what = "offset";
	for (r.index = 0; r.index < noff; r.index++) {
		struct sv path;
		uint64_t dev, ino, off;
		size_t row = INGEST_NO_ROW;
		if ((rc = get_str(&r, &b->arena, &path, PATH_BOUND, true)) < 0 ||
		    (rc = get_u64(&r, &dev)) < 0 || (rc = get_u64(&r, &ino)) < 0 ||
		    (rc = get_u64(&r, &off)) < 0)
			return rc;
		if ((rc = ingest_batch_set_offset(b, &row, path.p, dev, ino, (int64_t)off)) < 0)
			return fail(&r, rc, "cannot keep it");
	}
	r.what = "message";
	r.index = 0;
	if (r.at != n)
		return fail(&r, SIEM_EPARSE, "bytes after the last record");
	return 0;
}
