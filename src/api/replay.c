/* replay.c — POST /dead-letters/replay: dead letters decoded again after a decoder fix or a
 * raised limit. What decodes now goes through the pipeline like a new record (enrichment,
 * the store, detection, the live tail); once it is committed its dead letters are removed,
 * and those that still fail keep their new reason. A crash in between leaves a record stored
 * and still a dead letter: replayed again, its event id (redecode.h) makes it a duplicate,
 * and only then is the dead letter removed. Never both lost. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/qparam.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

#define REPLAY_MAX 1000		       /* dead letters per request */
#define REPLAY_BYTES ((size_t)8 << 20) /* of raw records per request */
#define FAILURES_LISTED 100

static struct metric m_replayed = METRIC_COUNTER_INIT(
    "minisiem_dead_letters_replayed_total", NULL,
    "Dead letters decoded again by a replay and stored (or found stored), then removed.");
static struct metric m_still = METRIC_COUNTER_INIT(
    "minisiem_dead_letters_replay_failed_total", NULL,
    "Dead letters a replay decoded again that still failed (kept with the new reason).");

void api_replay_register_metrics(void)
{
	metric_register(&m_replayed);
	metric_register(&m_still);
}

struct replay {
	struct http_req *req;
	struct dead_letter *d;
	size_t n;
	bool more;
	struct dead_settle *settle; /* one per dead letter; reasons malloc'd */
	size_t failed;
	struct ingest_batch batch;
	bool submitted;
	int submit_rc;
};

static void replay_free(void *p)
{
	struct replay *st = p;
	for (size_t i = 0; st->settle && i < st->n; i++)
		free((char *)st->settle[i].reason);
	free(st->settle);
	store_dead_letters_free(st->d, st->n);
	ingest_batch_release(&st->batch);
	free(st);
}

/* Called by the pipeline after the commit; resuming is the last thing it does. */
static void replay_done(struct ingest_batch *b)
{
	struct replay *st = b->ctx;
	http_resume(st->req);
}

static int bad(char *detail, size_t n, const char *key, const char *why)
{
	snprintf(detail, n, "%s: %s", key, why);
	return SIEM_EPARSE;
}

/* The body into f (ids into the caller's ids[REPLAY_MAX]); SIEM_EPARSE with detail. */
static int parse_body(struct http_req *r, struct dead_filter *f, int64_t *ids, char *detail,
		      size_t dn)
{
	size_t len;
	const char *body = http_body(r, &len);
	json_error_t jerr;
	json_t *v = json_loadb(body ? body : "", len, 0, &jerr), *x;
	const char *key;
	int rc = 0;
	*f = (struct dead_filter){
	    .from = INT64_MIN, .to = INT64_MAX, .limit = 100, .max_bytes = REPLAY_BYTES};
	if (!json_is_object(v)) {
		json_decref(v);
		snprintf(detail, dn, "expected an object: ids, or source, reason, from, to, limit");
		return SIEM_EPARSE;
	}
	bool by_filter = false;
	json_object_foreach (v, key, x) {
		if (rc < 0)
			break;
		if (strcmp(key, "ids") == 0) {
			size_t i;
			json_t *e;
			if (!json_is_array(x) || json_array_size(x) == 0) {
				rc = bad(detail, dn, key, "a non-empty array of dead letter ids");
				continue;
			}
			if (json_array_size(x) > REPLAY_MAX) {
				char why[64];
				snprintf(why, sizeof(why), "at most %d ids", REPLAY_MAX);
				rc = bad(detail, dn, key, why);
				continue;
			}
			json_array_foreach (x, i, e) {
				if (!json_is_integer(e) || json_integer_value(e) < 1) {
					rc = bad(detail, dn, key, "every id a positive integer");
					break;
				}
				ids[i] = json_integer_value(e);
			}
			f->ids = ids;
			f->n_ids = json_array_size(x);
			f->limit = f->n_ids;
		} else if (strcmp(key, "source") == 0 || strcmp(key, "reason") == 0) {
			const char *s = json_string_value(x);
			if (!s || !*s || strlen(s) > 256) {
				rc = bad(detail, dn, key, "a string of 1 to 256 bytes");
				continue;
			}
			*(key[0] == 's' ? &f->source : &f->reason) = s;
			by_filter = true;
		} else if (strcmp(key, "from") == 0 || strcmp(key, "to") == 0) {
			struct qparam p = {.name = key};
			const char *s = json_string_value(x);
			if (!s || qparam_time(&p, s, key[0] == 'f' ? &f->from : &f->to) < 0) {
				rc = bad(detail, dn, key, "not ISO-8601 or epoch");
				continue;
			}
			by_filter = true;
		} else if (strcmp(key, "limit") == 0) {
			if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			    json_integer_value(x) > REPLAY_MAX) {
				char why[64];
				snprintf(why, sizeof(why), "an integer 1..%d", REPLAY_MAX);
				rc = bad(detail, dn, key, why);
				continue;
			}
			f->limit = (size_t)json_integer_value(x);
			by_filter = true;
		} else {
			rc = bad(detail, dn, key, "unknown field");
		}
	}
	if (rc == 0 && f->n_ids && by_filter)
		rc = bad(detail, dn, "ids", "either ids or a filter, not both");
	if (rc < 0) {
		json_decref(v);
		return rc;
	}
	/* f's strings point into v: copies outlive it (the caller frees them). */
	const char *src = f->source, *why = f->reason;
	f->source = src ? strdup(src) : NULL;
	f->reason = why ? strdup(why) : NULL;
	json_decref(v);
	if ((src && !f->source) || (why && !f->reason)) {
		free((char *)f->source);
		free((char *)f->reason);
		snprintf(detail, dn, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static json_t *result_json(const struct replay *st)
{
	size_t stored = st->batch.n;
	json_t *o = json_object(), *fails = json_array();
	for (size_t i = 0; i < st->n && json_array_size(fails) < FAILURES_LISTED; i++)
		if (st->settle[i].reason)
			json_array_append_new(fails, json_pack("{s:I, s:s}", "id",
							       (json_int_t)st->settle[i].id,
							       "reason", st->settle[i].reason));
	json_object_set_new(o, "selected", json_integer((json_int_t)st->n));
	json_object_set_new(o, "replayed", json_integer((json_int_t)stored));
	json_object_set_new(o, "stored", json_integer((json_int_t)st->batch.accepted));
	json_object_set_new(o, "duplicates", json_integer((json_int_t)st->batch.duplicates));
	json_object_set_new(o, "failed", json_integer((json_int_t)st->failed));
	json_object_set_new(o, "more", json_boolean(st->more));
	json_object_set_new(o, "failures", fails);
	return o;
}

/* After the commit (or with nothing to store): settle the dead letters, audit, answer. */
static enum http_result finish(struct http_req *r, struct replay *st)
{
	int rc = st->submit_rc < 0 ? st->submit_rc : st->submitted ? st->batch.rc : 0;
	if (rc < 0) {
		http_add_header(r, "Retry-After", "5");
		return http_reply_error(r, 503, "nothing replayed: the store did not commit",
					siem_strerror(rc));
	}
	if ((rc = store_settle_dead_letters(api_ctx->store, st->settle, st->n)) < 0)
		return api_store_error(
		    r, rc, "events stored, dead letters not removed: replay them again");
	char detail[160];
	snprintf(detail, sizeof(detail),
		 "selected %zu, replayed %zu (%zu already stored), failed %zu", st->n, st->batch.n,
		 st->batch.duplicates, st->failed);
	metric_add(&m_replayed, (int64_t)st->batch.n);
	metric_add(&m_still, (int64_t)st->failed);
	store_audit(api_ctx->store, http_identity(r), http_client_addr(r), "dead_letters.replay",
		    "dead-letters", detail);
	log_info("api", "dead letters replayed by %s: %s", http_identity(r), detail);
	return http_reply_json(r, 200, result_json(st));
}

/* Each dead letter through its source's decoder: an event in the batch, or a new reason. */
static int decode_all(struct replay *st)
{
	int64_t now = ts_now_us();
	char err[256];
	for (size_t i = 0; i < st->n; i++) {
		const struct dead_letter *d = &st->d[i];
		struct redecode_rec rec = {d->id, d->source, d->file, d->offset, d->raw, d->raw_n};
		struct event *ev = ingest_batch_add_event(&st->batch);
		if (!ev)
			return -ENOMEM;
		int rc =
		    redecode(&rec, &api_ctx->redecode, now, ev, &st->batch.arena, err, sizeof(err));
		st->settle[i].id = d->id;
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			ingest_batch_cancel_event(&st->batch);
			if (!(st->settle[i].reason = strdup(err)))
				return -ENOMEM;
			st->failed++;
		}
	}
	return 0;
}

enum http_result api_dead_letters_replay(struct http_req *r)
{
	struct replay *st = http_state(r);
	if (st)
		return finish(r, st);

	int64_t *ids = malloc(REPLAY_MAX * sizeof(*ids));
	struct dead_filter f;
	char detail[160];
	int rc;
	if (!ids)
		return http_reply_error(r, 500, "out of memory", NULL);
	if ((rc = parse_body(r, &f, ids, detail, sizeof(detail))) < 0) {
		free(ids);
		return rc == -ENOMEM ? http_reply_error(r, 500, "out of memory", NULL)
				     : http_reply_error(r, 400, "invalid replay", detail);
	}
	if (!(st = calloc(1, sizeof(*st)))) {
		free(ids);
		free((char *)f.source);
		free((char *)f.reason);
		return http_reply_error(r, 500, "out of memory", NULL);
	}
	http_set_state(r, st, replay_free);
	st->req = r;
	rc = store_read_dead_letters(api_ctx->store, &f, &st->d, &st->n, &st->more);
	free(ids);
	free((char *)f.source);
	free((char *)f.reason);
	if (rc < 0)
		return api_store_error(r, rc, "cannot read the dead letters");
	if (ingest_batch_init(&st->batch, st->n ? st->n : 1, 0, 0) < 0 ||
	    !(st->settle = calloc(st->n ? st->n : 1, sizeof(*st->settle))) || decode_all(st) < 0)
		return http_reply_error(r, 500, "out of memory", NULL);
	if (st->batch.n == 0)
		return finish(r, st);

	st->batch.done = replay_done;
	st->batch.ctx = st;
	st->submitted = true;
	/* Suspend before handing over: the writer may resume us before submit returns. */
	http_suspend(r);
	if ((rc = pipeline_submit(api_ctx->pipeline, &st->batch)) < 0) {
		st->submit_rc = rc;
		http_resume(r);
	}
	return HTTP_SUSPENDED;
}
