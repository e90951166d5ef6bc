/* ingest.c — POST /ingest: parse one object, an array or NDJSON, normalize each event,
 * queue the valid ones for the writer, and answer once they are committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "core/err.h"
#include "core/log.h"

#define MAX_REJECTS_LISTED 1000

struct ingest_state {
	struct ingest_job job;
	struct http_req *req;
	struct arena arena;
	json_t *rejected; /* [{"index", "error"}] */
	size_t nrejected;
	int submit_rc;
};

static void state_free(void *p)
{
	struct ingest_state *st = p;
	arena_release(&st->arena);
	json_decref(st->rejected);
	free(st->job.ev);
	free(st->job.dup);
	free(st);
}

static void reject(struct ingest_state *st, size_t index, const char *msg)
{
	st->nrejected++;
	if (json_array_size(st->rejected) >= MAX_REJECTS_LISTED)
		return;
	json_t *o = json_object();
	json_object_set_new(o, "index", json_integer((json_int_t)index));
	json_object_set_new(o, "error", json_string(msg));
	json_array_append_new(st->rejected, o);
}

/* Called by the writer thread after the commit. Resuming is the last thing it does: the
 * request (and this state) may be finished and freed right after. */
static void job_done(struct ingest_job *j)
{
	struct ingest_state *st = j->ctx;
	http_resume(st->req);
}

static int add_event(struct ingest_state *st, json_t *obj, size_t index, int64_t now,
		     const char *source)
{
	char err[256];
	struct event *ev = &st->job.ev[st->job.n];
	int rc = event_from_json(ev, obj, &st->arena, now, err, sizeof(err));
	if (rc == SIEM_ESCHEMA) {
		reject(st, index, err);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!ev->source.p && source) {
		ev->source.p = source;
		ev->source.n = strlen(source);
	}
	st->job.n++;
	return 0;
}

static bool is_ndjson(struct http_req *r)
{
	const char *ct = http_header(r, "Content-Type");
	if (!ct)
		return false;
	return strncasecmp(ct, "application/x-ndjson", 20) == 0 ||
	       strncasecmp(ct, "application/ndjson", 18) == 0;
}

static size_t count_lines(const char *b, size_t n)
{
	size_t c = 1;
	for (const char *p = b; (p = memchr(p, '\n', (size_t)(b + n - p))); p++)
		c++;
	return c;
}

/* Parse and normalize the body into st. Returns HTTP_DONE with a reply queued when the
 * request ends here (400/422/500), else HTTP_SUSPENDED to go on. */
static enum http_result parse_body(struct http_req *r, struct ingest_state *st, const char *source)
{
	size_t len;
	const char *body = http_body(r, &len);
	int64_t now = ts_now_us();
	json_error_t jerr;
	char detail[300];
	int rc = 0;

	if (is_ndjson(r)) {
		size_t cap = count_lines(body, len);
		if (!(st->job.ev = calloc(cap, sizeof(*st->job.ev))))
			return http_reply_error(r, 500, "out of memory", NULL);
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
			json_t *v = json_loadb(ls, (size_t)(le - ls), JSON_ALLOW_NUL, &jerr);
			if (!v) {
				snprintf(detail, sizeof(detail), "malformed JSON at column %d: %s",
					 jerr.column, jerr.text);
				reject(st, index++, detail);
				continue;
			}
			if (json_is_object(v))
				rc = add_event(st, v, index, now, source);
			else
				reject(st, index, "event: must be a JSON object");
			json_decref(v);
			index++;
		}
	} else {
		json_t *v = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
		if (!v) {
			snprintf(detail, sizeof(detail), "line %d, column %d (position %d): %s",
				 jerr.line, jerr.column, jerr.position, jerr.text);
			return http_reply_error(r, 400, "malformed JSON", detail);
		}
		size_t n = json_is_array(v) ? json_array_size(v) : 1;
		if (!(st->job.ev = calloc(n ? n : 1, sizeof(*st->job.ev)))) {
			json_decref(v);
			return http_reply_error(r, 500, "out of memory", NULL);
		}
		if (json_is_array(v)) {
			for (size_t i = 0; i < n && rc == 0; i++) {
				json_t *e = json_array_get(v, i);
				if (json_is_object(e))
					rc = add_event(st, e, i, now, source);
				else
					reject(st, i, "event: must be a JSON object");
			}
		} else if (json_is_object(v)) {
			rc = add_event(st, v, 0, now, source);
		} else {
			reject(st, 0, "event: must be a JSON object");
		}
		json_decref(v);
	}
	if (rc < 0)
		return http_reply_error(r, 500, "internal error", siem_strerror(rc));
	return HTTP_SUSPENDED;
}

static json_t *result_body(struct ingest_state *st)
{
	json_t *o = json_object();
	json_object_set_new(o, "accepted", json_integer((json_int_t)st->job.accepted));
	json_object_set_new(o, "duplicates", json_integer((json_int_t)st->job.duplicates));
	json_object_set(o, "rejected", st->rejected);
	if (st->nrejected > json_array_size(st->rejected))
		json_object_set_new(o, "rejected_total", json_integer((json_int_t)st->nrejected));
	return o;
}

static enum http_result finish(struct http_req *r, struct ingest_state *st)
{
	int rc = st->submit_rc ? st->submit_rc : st->job.rc;
	if (rc == SIEM_EFULL) {
		http_add_header(r, "Retry-After", "1");
		return http_reply_error(r, 503, "overloaded", "the ingest queue is full, retry later");
	}
	if (rc == SIEM_ECLOSED) {
		http_add_header(r, "Retry-After", "5");
		return http_reply_error(r, 503, "shutting down", NULL);
	}
	if (rc == -ENOSPC) {
		http_add_header(r, "Retry-After", "30");
		return http_reply_error(r, 503, "store full", "no space left on the store's disk");
	}
	if (rc < 0) {
		http_add_header(r, "Retry-After", "5");
		return http_reply_error(r, 503, "store unavailable", siem_strerror(rc));
	}
	return http_reply_json(r, 200, result_body(st));
}

enum http_result api_ingest(struct http_req *r)
{
	struct ingest_state *st = http_state(r);
	if (st)
		return finish(r, st);

	if (!(st = calloc(1, sizeof(*st))))
		return http_reply_error(r, 500, "out of memory", NULL);
	http_set_state(r, st, state_free);
	st->req = r;
	arena_init(&st->arena, 0);
	st->rejected = json_array();

	char source[160];
	snprintf(source, sizeof(source), "http:%s", http_identity(r));
	if (parse_body(r, st, source) == HTTP_DONE)
		return HTTP_DONE;
	/* parse_body pointed sources at the stack buffer: copy once into the arena. */
	const char *src = arena_strndup(&st->arena, source, strlen(source));
	for (size_t i = 0; i < st->job.n; i++)
		if (st->job.ev[i].source.p == source)
			st->job.ev[i].source.p = src;

	if (st->job.n == 0) {
		json_t *o = result_body(st);
		json_object_set_new(o, "error", json_string("no valid event"));
		json_t *first = json_array_get(st->rejected, 0);
		json_object_set(o, "detail", first ? json_object_get(first, "error") : json_null());
		return http_reply_json(r, 422, o);
	}
	if (!(st->job.dup = calloc(st->job.n, sizeof(bool))))
		return http_reply_error(r, 500, "out of memory", NULL);
	st->job.done = job_done;
	st->job.ctx = st;
	/* Suspend before submitting: the writer may resume us before we return. */
	http_suspend(r);
	if ((st->submit_rc = pipeline_submit(api_ctx->pipeline, &st->job)) < 0)
		http_resume(r);
	return HTTP_SUSPENDED;
}
