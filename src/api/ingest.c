/* ingest.c — POST /ingest: parse one object, an array or NDJSON, normalize each event,
 * queue the valid ones for the writer, and answer once they are committed. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "core/err.h"
#include "core/jsonalloc.h"
#include "core/metrics.h"
#include "core/taskpool.h"
#include "core/log.h"
#include "parse/csv.h"
#include "parse/forward.h"
#include "parse/jsonread.h"

#define MAX_REJECTS_LISTED 1000

static struct metric m_received = METRIC_COUNTER_INIT(
    "minisiem_events_received_total", "source=\"http\"", "Events received, by source.");
static struct metric m_rejected = METRIC_COUNTER_INIT(
    "minisiem_events_rejected_total", "source=\"http\"", "Events refused as malformed, by source.");
static struct metric m_accepted = METRIC_COUNTER_INIT(
    "minisiem_events_accepted_total", "source=\"http\"", "Events stored, by source.");
static struct metric m_dups =
    METRIC_COUNTER_INIT("minisiem_events_duplicates_total", "source=\"http\"",
			"Events already stored (same event_id), by source.");
static struct metric m_overload = METRIC_COUNTER_INIT("minisiem_ingest_overloaded_total", NULL,
						      "Ingest requests answered 503 (queue full).");

void api_ingest_register_metrics(void)
{
	metric_register(&m_received);
	metric_register(&m_rejected);
	metric_register(&m_accepted);
	metric_register(&m_dups);
	metric_register(&m_overload);
}
#define INLINE_PARSE_MAX (16 * 1024)

struct reject_entry {
	size_t index;
	const char *error; /* in the batch's arena */
};

/* The request's batch is made once its events are counted; the strings every event carries
 * are copied into it then, so that it stands alone once submitted. */
struct ingest_state {
	struct ingest_batch batch;
	struct task task;
	struct http_req *req;
	char source[160]; /* "http:<key name>" */
	const char *who;  /* the API key's name (the request's) */
	struct sv key;	  /* that name (in the batch's arena) and id: every event's ingest_key */
	int64_t key_id;
	bool ndjson;
	bool csv;
	int64_t now;	 /* while the body is parsed */
	const char *src; /* the batch's copy of source, while the body is parsed */
	unsigned status; /* set by the parser when the request ends there */
	char detail[300];
	struct reject_entry *rejected; /* the first MAX_REJECTS_LISTED */
	size_t nrejected, nlisted;
	int submit_rc;
};

static void state_free(void *p)
{
	struct ingest_state *st = p;
	ingest_batch_release(&st->batch);
	free(st->rejected);
	free(st);
}

/* Runs while the body is parsed: no JSON values here, they would live in the scratch
 * arena. */
static void reject(struct ingest_state *st, size_t index, const char *msg)
{
	st->nrejected++;
	if (st->nlisted >= MAX_REJECTS_LISTED)
		return;
	if (!st->rejected && !(st->rejected = calloc(MAX_REJECTS_LISTED, sizeof(*st->rejected))))
		return;
	const char *copy = arena_strndup(&st->batch.arena, msg, strlen(msg));
	if (!copy)
		return;
	st->rejected[st->nlisted++] = (struct reject_entry){index, copy};
}

static json_t *rejected_json(const struct ingest_state *st)
{
	json_t *a = json_array();
	for (size_t i = 0; i < st->nlisted; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "index", json_integer((json_int_t)st->rejected[i].index));
		json_object_set_new(o, "error", json_string(st->rejected[i].error));
		json_array_append_new(a, o);
	}
	return a;
}

/* Called by the pipeline after the commit. Resuming is the last thing it does: the
 * request (and this state) may be finished and freed right after. */
static void batch_done(struct ingest_batch *b)
{
	struct ingest_state *st = b->ctx;
	if (b->rc == 0) {
		metric_add(&m_accepted, (int64_t)b->accepted);
		metric_add(&m_dups, (int64_t)b->duplicates);
		if (b->accepted)
			api_keys_count(api_ctx, st->key_id, st->who, b->accepted, ts_now_us());
	}
	http_resume(st->req);
}

/* One object into the batch, from a jansson value (obj) or from the reader's members. */
static int add_event(struct ingest_state *st, json_t *obj, const struct jsonread *jr, size_t index,
		     int64_t now, const char *source)
{
	char err[256];
	struct event *ev = ingest_batch_add_event(&st->batch);
	if (!ev)
		return -ENOSPC;
	int rc = obj ? forward_event_from_json(ev, obj, &st->batch.arena, now, err, sizeof(err))
		     : forward_event_from_members(ev, jr->m, jr->n, &st->batch.arena, now, err,
						  sizeof(err));
	if (rc < 0)
		ingest_batch_cancel_event(&st->batch);
	if (rc == SIEM_ESCHEMA) {
		reject(st, index, err);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!ev->source.p && source) {
		ev->source.p = source; /* lives in the batch's arena */
		ev->source.n = strlen(source);
	}
	/* After event_from_json, which never sets it: the body cannot choose the key. */
	ev->ingest_key = st->key;
	ev->ingest_key_id = st->key_id;
	return 0;
}

/* The batch for cap events, with the strings every event carries (*source and st->key). */
static int batch_open(struct ingest_state *st, size_t cap, const char **source)
{
	struct arena *a = &st->batch.arena;
	if (ingest_batch_init(&st->batch, cap, 0, 0) < 0)
		return -ENOMEM;
	*source = arena_strndup(a, st->source, strlen(st->source));
	st->key = (struct sv){arena_strndup(a, st->who, strlen(st->who)), strlen(st->who)};
	return *source && st->key.p ? 0 : -ENOMEM;
}

/* Read in the listener thread: headers are not touched once the request is handed over. */
static bool is_ndjson(struct http_req *r)
{
	const char *ct = http_header(r, "Content-Type");
	if (!ct)
		return false;
	return strncasecmp(ct, "application/x-ndjson", 20) == 0 ||
	       strncasecmp(ct, "application/ndjson", 18) == 0;
}

static bool is_csv(struct http_req *r)
{
	const char *ct = http_header(r, "Content-Type");
	return ct && strncasecmp(ct, "text/csv", 8) == 0;
}

static size_t count_lines(const char *b, size_t n)
{
	size_t c = 1;
	for (const char *p = b; (p = memchr(p, '\n', (size_t)(b + n - p))); p++)
		c++;
	return c;
}

/* A body or a line: the ingest reader's, or jansson's when the reader is not sure, which
 * then decides what is valid and words the error. */
static json_t *read_json(const char *text, size_t n, size_t flags, json_error_t *jerr)
{
	json_t *v = jsonread_document(text, n);
	return v ? v : json_loadb(text, n, flags, jerr);
}

/* NDJSON: one event per line, a bad line rejected on its own. */
static int parse_ndjson(struct ingest_state *st, const char *body, size_t len, int64_t now,
			char *detail, size_t detlen, const char **source)
{
	json_error_t jerr;
	int rc = 0;
	if (batch_open(st, count_lines(body, len), source) < 0)
		return -ENOMEM;
	size_t index = 0;
	for (const char *p = body, *end = body + len; p < end && rc == 0;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *ls = p, *le = e;
		p = nl ? nl + 1 : end;
		while (ls < le && (*ls == ' ' || *ls == '\t'))
			ls++;
		while (le > ls && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
			le--;
		if (ls == le)
			continue;
		struct jsonread jr;
		jsonread_open(&jr, ls, (size_t)(le - ls), false);
		bool read = jsonread_next(&jr) == JSONREAD_OBJECT;
		if (read)
			rc = add_event(st, NULL, &jr, index++, now, *source);
		jsonread_close(&jr);
		if (read)
			continue;
		json_t *v = read_json(ls, (size_t)(le - ls), JSON_ALLOW_NUL, &jerr);
		if (!v) {
			snprintf(detail, detlen, "malformed JSON at column %d: %s", jerr.column,
				 jerr.text);
			reject(st, index++, detail);
			continue;
		}
		if (json_is_object(v))
			rc = add_event(st, v, NULL, index, now, *source);
		else
			reject(st, index, "event: must be a JSON object");
		json_decref(v);
		index++;
	}
	return rc;
}

/* Room for the events of a body: never more than its '{' bytes, nor than the shortest
 * accepted event ({"msg":1} and a comma: 10 bytes) fits in it, with one to spare for a
 * rejected one. */
static size_t max_events(const char *b, size_t n)
{
	size_t c = 1, most = n / 9 + 2;
	for (const char *p = b; c < most && (p = memchr(p, '{', (size_t)(b + n - p))); p++)
		c++;
	return c;
}

/* A JSON body (one object or an array) read event by event, without a tree: 0 when read
 * (or rc < 0 on a failure), 1 when the reader was not sure of it, with the batch and the
 * rejections left empty for jansson's turn. */
static int read_events(struct ingest_state *st, const char *body, size_t len, int64_t now,
		       const char **source, int *rc)
{
	struct jsonread jr;
	enum jsonread_item it = JSONREAD_UNSURE;
	size_t index = 0;
	*rc = 0;
	if (batch_open(st, max_events(body, len), source) < 0) {
		*rc = -ENOMEM;
		return 0;
	}
	jsonread_open(&jr, body, len, true);
	while (*rc == 0 && (it = jsonread_next(&jr)) != JSONREAD_END) {
		if (it == JSONREAD_UNSURE)
			break;
		if (it == JSONREAD_OBJECT)
			*rc = add_event(st, NULL, &jr, index, now, *source);
		else
			reject(st, index, "event: must be a JSON object");
		index++;
	}
	jsonread_close(&jr);
	if (*rc < 0 || it == JSONREAD_END)
		return 0;
	ingest_batch_release(&st->batch);
	st->nrejected = st->nlisted = 0;
	return 1;
}

/* One CSV row: an event, or a rejection naming the row (its index counts data rows). */
static int csv_row(void *arg, size_t row, json_t *obj, const char *why)
{
	struct ingest_state *st = arg;
	if (!obj) {
		char msg[256];
		snprintf(msg, sizeof(msg), "row %zu: %s", row, why);
		reject(st, row - 1, msg);
		return 0;
	}
	return add_event(st, obj, NULL, row - 1, st->now, st->src);
}

/* Does the body hold one JSON object per line (a forwarder's json_lines sent as
 * application/json)? Only asked once it failed as one JSON document. */
static bool lines_of_objects(const char *b, size_t n, const json_error_t *jerr)
{
	if (json_error_code(jerr) != json_error_end_of_input_expected)
		return false;
	while (n && (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n'))
		b++, n--;
	return n && *b == '{' && memchr(b, '\n', n);
}

/* Parse and normalize the body into st. Returns 0 to go on, or the HTTP status that ends
 * the request here with detail filled in. Runs in the scratch section: it replies nothing. */
static unsigned parse_body(struct http_req *r, struct ingest_state *st, char *detail, size_t detlen)
{
	size_t len;
	const char *body = http_body(r, &len);
	const char *source = NULL;
	int64_t now = ts_now_us();
	json_error_t jerr;
	int rc = 0;
	struct stage_timer clk;
	stage_start(&clk, len / 512); /* about one event in 512 bytes */

	if (st->csv) {
		if (batch_open(st, count_lines(body, len), &source) < 0)
			return 500;
		st->now = now;
		st->src = source;
		rc = csv_records(body, len, csv_row, st, detail, detlen);
		if (rc == SIEM_EPARSE)
			return 400;
	} else if (st->ndjson) {
		if ((rc = parse_ndjson(st, body, len, now, detail, detlen, &source)) == -ENOMEM)
			return 500;
	} else if (read_events(st, body, len, now, &source, &rc) == 0) {
		goto done;
	} else {
		json_t *v = read_json(body, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
		size_t n = !v ? 0 : json_is_array(v) ? json_array_size(v) : 1;
		stage_lap(&clk, STAGE_PARSE, n);
		if (!v && lines_of_objects(body, len, &jerr)) {
			if ((rc = parse_ndjson(st, body, len, now, detail, detlen, &source)) ==
			    -ENOMEM)
				return 500;
			goto done;
		}
		if (!v) {
			snprintf(detail, detlen, "line %d, column %d (position %d): %s", jerr.line,
				 jerr.column, jerr.position, jerr.text);
			return 400;
		}
		if (batch_open(st, n ? n : 1, &source) < 0) {
			json_decref(v);
			return 500;
		}
		if (json_is_array(v)) {
			for (size_t i = 0; i < n && rc == 0; i++) {
				json_t *e = json_array_get(v, i);
				if (json_is_object(e))
					rc = add_event(st, e, NULL, i, now, source);
				else
					reject(st, i, "event: must be a JSON object");
			}
		} else if (json_is_object(v)) {
			rc = add_event(st, v, NULL, 0, now, source);
		} else {
			reject(st, 0, "event: must be a JSON object");
		}
		json_decref(v);
		stage_lap(&clk, STAGE_NORMALIZE, n);
		goto out;
	}
done:
	/* The event reader, CSV and NDJSON read and normalize record by record: one stage for
	 * both. */
	stage_lap(&clk, STAGE_PARSE, st->batch.n + st->nrejected);
out:
	if (rc < 0) {
		snprintf(detail, detlen, "%s", siem_strerror(rc));
		return 500;
	}
	return 0;
}

static json_t *result_body(struct ingest_state *st)
{
	json_t *o = json_object();
	json_object_set_new(o, "accepted", json_integer((json_int_t)st->batch.accepted));
	json_object_set_new(o, "duplicates", json_integer((json_int_t)st->batch.duplicates));
	json_object_set_new(o, "rejected", rejected_json(st));
	if (st->nrejected > st->nlisted)
		json_object_set_new(o, "rejected_total", json_integer((json_int_t)st->nrejected));
	return o;
}

static enum http_result finish(struct http_req *r, struct ingest_state *st)
{
	int rc = st->submit_rc ? st->submit_rc : st->batch.rc;
	if (rc == SIEM_EFULL) {
		metric_add(&m_overload, 1);
		http_add_header(r, "Retry-After", "1");
		return http_reply_error(r, 503, "overloaded",
					"the ingest queue is full, retry later");
	}
	if (rc == SIEM_ECLOSED) {
		http_add_header(r, "Retry-After", "5");
		return http_reply_error(r, 503, "shutting down", NULL);
	}
	if (rc == -ENOSPC) {
		http_add_header(r, "Retry-After", "30");
		return http_reply_error(r, 503, "store full", "no space left on the store's disk");
	}
	if (rc == SIEM_EBROKER) {
		http_add_header(r, "Retry-After", "5");
		return http_reply_error(r, 503, "broker unavailable", siem_strerror(rc));
	}
	if (rc < 0) {
		http_add_header(r, "Retry-After", "5");
		return http_reply_error(r, 503, "store unavailable", siem_strerror(rc));
	}
	if (st->nrejected == 0) {
		/* The usual answer, written without a jansson tree: it is on every request. */
		char *text = malloc(96);
		if (text) {
			int n = snprintf(text, 96,
					 "{\"accepted\":%zu,\"duplicates\":%zu,\"rejected\":[]}\n",
					 st->batch.accepted, st->batch.duplicates);
			return http_reply_text(r, 200, "application/json", text, (size_t)n);
		}
	}
	return http_reply_json(r, 200, result_body(st));
}

/* On a parser thread: parse, normalize, hand the events to the writer. Whatever happens,
 * the request is resumed exactly once: here on failure, by the writer after its commit. */
static void parse_task(struct task *t)
{
	struct ingest_state *st =
	    (struct ingest_state *)(void *)((char *)t - offsetof(struct ingest_state, task));
	struct http_req *r = st->req;

	/* Every JSON value of the body lives in this thread's scratch region and is dropped
	 * before parse_body returns; the events keep only copies in the batch's arena. */
	jsonalloc_begin();
	st->status = parse_body(r, st, st->detail, sizeof(st->detail));
	jsonalloc_end();
	metric_add(&m_received, (int64_t)(st->batch.n + st->nrejected));
	metric_add(&m_rejected, (int64_t)st->nrejected);
	if (st->status == 0 && st->batch.n == 0)
		st->status = 422;
	if (st->status) {
		http_resume(r);
		return;
	}
	st->batch.done = batch_done;
	st->batch.ctx = st;
	/* Once the batch is queued the writer owns the request: it may be answered and freed
	 * before pipeline_submit even returns, so st is touched only on failure. */
	int rc = pipeline_submit(api_ctx->pipeline, &st->batch);
	if (rc < 0) {
		st->submit_rc = rc;
		http_resume(r);
	}
}

enum http_result api_ingest(struct http_req *r)
{
	struct ingest_state *st = http_state(r);
	if (st) {
		if (st->status == 400)
			return http_reply_error(
			    r, 400, st->csv ? "malformed CSV" : "malformed JSON", st->detail);
		if (st->status == 422) {
			json_t *o = result_body(st);
			json_object_set_new(o, "error", json_string("no valid event"));
			json_object_set_new(o, "detail",
					    st->nlisted ? json_string(st->rejected[0].error)
							: json_null());
			return http_reply_json(r, 422, o);
		}
		if (st->status)
			return http_reply_error(r, st->status, "internal error", st->detail);
		return finish(r, st);
	}

	if (api_ctx->ingest_off)
		return http_reply_error(r, 503, "not an ingest node",
					"this node runs without the ingest role: send events to"
					" an ingest node");
	if (!(st = calloc(1, sizeof(*st))))
		return http_reply_error(r, 500, "out of memory", NULL);
	http_set_state(r, st, state_free);
	st->req = r;
	st->ndjson = is_ndjson(r);
	st->csv = is_csv(r);
	snprintf(st->source, sizeof(st->source), "http:%s", http_identity(r));
	st->who = http_identity(r);
	st->key_id = http_key_id(r);

	/* Suspend before handing over: the other threads may resume us before we return. A
	 * small body is parsed right here: handing it to another thread costs more than the
	 * parse. */
	st->task.run = parse_task;
	http_suspend(r);
	size_t len;
	http_body(r, &len);
	if (len <= INLINE_PARSE_MAX) {
		parse_task(&st->task);
		return HTTP_SUSPENDED;
	}
	int rc = taskpool_submit(api_ctx->parsers, &st->task);
	if (rc < 0) {
		st->submit_rc = rc;
		http_resume(r);
	}
	return HTTP_SUSPENDED;
}
