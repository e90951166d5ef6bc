/* rules_test.c — POST /rules/test: a rule matched against stored events, off the HTTP
 * threads. The handler compiles the rule and suspends the request; a small pool of workers
 * scans the events within a time budget and resumes the request with the answer. */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/alerts_api.h"
#include "api/api.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/taskpool.h"
#include "detect/ruleset.h"

#define SUB "rules"
#define TEST_SCAN_DEFAULT 10000
#define TEST_SCAN_MAX 100000
#define TEST_PAGE 1000	 /* events read per query; the budget is looked at between pages */
#define TEST_WORKERS 2	 /* tests scanning at once */
#define TEST_QUEUE_MAX 8 /* tests waiting for a worker; beyond, 503 */
#define TEST_PER_USER 1	 /* tests one user may have waiting or scanning; beyond, 429 */
#define TEST_ACTIVE_MAX (TEST_WORKERS + TEST_QUEUE_MAX)
#define TEST_NICE 10 /* the workers' scheduling priority, below the rest of the hub */

static struct metric m_run =
    METRIC_COUNTER_INIT("minisiem_rule_tests_total", NULL, "Rule tests run (POST /rules/test).");
static struct metric m_truncated = METRIC_COUNTER_INIT(
    "minisiem_rule_tests_truncated_total", NULL,
    "Rule tests stopped by their time budget (or the hub stopping) before the end.");
static struct metric m_busy = METRIC_COUNTER_INIT(
    "minisiem_rule_tests_refused_total", "reason=\"user_busy\"",
    "Rule tests refused: the user's previous test still ran (429), or the queue was full "
    "(503).");
static struct metric m_full = METRIC_COUNTER_INIT(
    "minisiem_rule_tests_refused_total", "reason=\"queue_full\"",
    "Rule tests refused: the user's previous test still ran (429), or the queue was full "
    "(503).");

struct test_args {
	int64_t from, to;
	long max_scan, limit;
	bool has_cursor;
	int64_t cur_ts, cur_seq;
	char err[200];
};

/* One request's test: its state across suspend and resume. */
struct rtest {
	struct task task; /* on the workers' queue */
	struct ruletest_pool *pool;
	struct http_req *req;
	char who[128];
	struct test_args ta;
	struct rule **rules; /* detection rules only */
	size_t nrules;
	/* the answer, filled by the worker (or by the stop) before it resumes the request */
	unsigned status;
	const char *retry_after;
	json_t *body;
};

struct ruletest_pool {
	pthread_mutex_t mu;		   /* admission: queued and active */
	size_t queued;			   /* admitted and not yet taken by a worker */
	char active[TEST_ACTIVE_MAX][128]; /* who has a test waiting or scanning */
	size_t nactive;
	atomic_bool stopping;
	struct store *store;
	int64_t budget_ms;
	struct taskpool *workers; /* NULL once stopped */
};

static struct rtest *rtest_of(struct task *task)
{
	return (struct rtest *)(void *)((char *)task - offsetof(struct rtest, task));
}

static void rtest_free(void *arg)
{
	struct rtest *t = arg;
	for (size_t i = 0; i < t->nrules; i++)
		rule_free(t->rules[i]);
	free(t->rules);
	json_decref(t->body);
	free(t);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- admission: the per-user cap and the bounded queue ---- */

static size_t active_count(struct ruletest_pool *p, const char *who)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nactive; i++)
		n += strcmp(p->active[i], who) == 0;
	return n;
}

/* Reserve a place in the queue for t: 0, or 429 / 503 with the reason in *why. */
static unsigned admit(struct ruletest_pool *p, struct rtest *t, const char **why)
{
	unsigned status = 0;
	pthread_mutex_lock(&p->mu);
	if (atomic_load(&p->stopping)) {
		status = 503;
		*why = "the hub is stopping";
	} else if (active_count(p, t->who) >= TEST_PER_USER) {
		status = 429;
		*why = "a rule test of yours is still running: wait for its answer";
		metric_add(&m_busy, 1);
	} else if (p->queued >= TEST_QUEUE_MAX || p->nactive >= TEST_ACTIVE_MAX) {
		status = 503;
		*why = "too many rule tests are waiting: retry later";
		metric_add(&m_full, 1);
	} else {
		snprintf(p->active[p->nactive++], sizeof(p->active[0]), "%s", t->who);
		p->queued++;
	}
	pthread_mutex_unlock(&p->mu);
	return status;
}

/* With p->mu held. */
static void release(struct ruletest_pool *p, const struct rtest *t)
{
	for (size_t i = 0; i < p->nactive; i++) {
		if (strcmp(p->active[i], t->who) == 0) {
			memmove(p->active[i], p->active[p->nactive - 1], sizeof(p->active[0]));
			p->nactive--;
			return;
		}
	}
}

/* Give back t's place: it left the queue (taken by a worker: taken, else refused). */
static void unqueue(struct ruletest_pool *p, const struct rtest *t, bool taken)
{
	pthread_mutex_lock(&p->mu);
	p->queued--;
	if (!taken)
		release(p, t);
	pthread_mutex_unlock(&p->mu);
}

static void run(struct task *task);

/* Queue an admitted test; SIEM_ECLOSED when the pool stopped since (the place is given
 * back then). The admission bounds the queue below the workers' own bound. */
static int enqueue(struct ruletest_pool *p, struct rtest *t)
{
	int rc = SIEM_ECLOSED;
	t->task.run = run;
	t->pool = p;
	pthread_mutex_lock(&p->mu);
	if (!atomic_load(&p->stopping))
		rc = taskpool_submit(p->workers, &t->task);
	pthread_mutex_unlock(&p->mu);
	if (rc < 0)
		unqueue(p, t, false);
	return rc;
}

static void set_answer(struct rtest *t, unsigned status, json_t *body, const char *retry_after)
{
	t->status = status;
	t->body = body;
	t->retry_after = retry_after;
}

static json_t *error_body(const char *error, const char *detail)
{
	json_t *o = json_object();
	json_object_set_new(o, "error", json_string(error));
	json_object_set_new(o, "detail", detail ? json_string(detail) : json_null());
	return o;
}

/* ---- the scan, on a worker ---- */

/* A stored event (full JSON) back into an event, as detection saw it. */
static int event_back(json_t *full, struct event *ev, struct arena *a)
{
	char err[160];
	int64_t recv = 0;
	const char *ra = json_string_value(json_object_get(full, "received_at"));
	if (ra)
		ts_parse(ra, strlen(ra), &recv);
	/* Outputs of the hub, not event fields: back through event_from_json they would land
	 * in data, which detection never saw them in. */
	json_object_del(full, "truncated");
	json_object_del(full, "ingest_key");
	int rc = event_from_json(ev, full, a, recv, err, sizeof(err));
	ev->received_at = recv;
	return rc;
}

static void run_test(struct ruletest_pool *p, struct rtest *t)
{
	const struct test_args *ta = &t->ta;
	struct event_query q;
	struct arena ar;
	json_t *matches = json_array();
	long scanned = 0, matched = 0;
	bool has_next = true, out_of_time = false, stopping = false;
	int64_t nts = 0, nseq = 0, start = mono_ms();
	int rc = 0;

	memset(&q, 0, sizeof(q));
	q.from = ta->from;
	q.to = ta->to;
	q.has_cursor = ta->has_cursor;
	q.cursor_ts = ta->cur_ts;
	q.cursor_seq = ta->cur_seq;
	arena_init(&ar, 0);
	while (has_next && scanned < ta->max_scan && rc == 0) {
		/* Between pages, so that where the scan stopped is a cursor. */
		if (scanned > 0 && atomic_load(&p->stopping)) {
			stopping = true;
			break;
		}
		if (scanned > 0 && mono_ms() - start >= p->budget_ms) {
			out_of_time = true;
			break;
		}
		json_t *page = json_array();
		long left = ta->max_scan - scanned;
		q.limit = (int)(left < TEST_PAGE ? left : TEST_PAGE);
		has_next = false;
		rc = store_query_events(p->store, &q, page, &has_next, &nts, &nseq);
		size_t i;
		json_t *ev;
		json_array_foreach (page, i, ev) {
			const char *sid = json_string_value(json_object_get(ev, "event_id"));
			uint8_t id[16];
			json_t *full = NULL;
			struct event e;
			scanned++;
			if (!sid || uuid_parse(sid, strlen(sid), id) < 0 ||
			    store_get_event(p->store, id, &full) < 0 || !full)
				continue;
			json_t *shown = json_deep_copy(full);
			arena_reset(&ar);
			bool hit = false;
			if (event_back(full, &e, &ar) == 0)
				for (size_t k = 0; k < t->nrules && !hit; k++)
					hit = rule_matches(t->rules[k], &e);
			json_decref(full);
			if (hit && ++matched <= ta->limit)
				json_array_append(matches, shown);
			json_decref(shown);
		}
		json_decref(page);
		q.has_cursor = true;
		q.cursor_ts = nts;
		q.cursor_seq = nseq;
	}
	arena_release(&ar);
	metric_add(&m_run, 1);
	if (rc < 0) {
		json_decref(matches);
		set_answer(t, 500, error_body("query failed", siem_strerror(rc)), NULL);
		return;
	}
	if (out_of_time || stopping)
		metric_add(&m_truncated, 1);
	json_t *o = json_object();
	json_object_set_new(o, "matches", matches);
	json_object_set_new(o, "matched", json_integer(matched));
	json_object_set_new(o, "scanned", json_integer(scanned));
	json_object_set_new(o, "max_events", json_integer(ta->max_scan));
	json_object_set_new(o, "complete", json_boolean(!has_next));
	json_object_set_new(o, "truncated", json_boolean(out_of_time || stopping));
	json_object_set_new(o, "matches_truncated", json_boolean(matched > ta->limit));
	if (has_next) {
		char c[33];
		cursor_encode(nts, nseq, c);
		json_object_set_new(o, "next_cursor", json_string(c));
		const char *note =
		    stopping ? "the hub is stopping: older events in the range were not scanned"
		    : out_of_time
			? "time budget reached: older events in the range were not scanned (send "
			  "next_cursor back as cursor to go on, or narrow from/to)"
			: "scan limit reached: older events in the range were not scanned (raise "
			  "max_events or narrow from/to)";
		json_object_set_new(o, "note", json_string(note));
	} else {
		json_object_set_new(o, "next_cursor", json_null());
	}
	set_answer(t, 200, o, NULL);
}

/* A test on a worker; the answer resumes its request. */
static void run(struct task *task)
{
	struct rtest *t = rtest_of(task);
	struct ruletest_pool *p = t->pool;
	unqueue(p, t, true);
	run_test(p, t);
	struct http_req *r = t->req;
	pthread_mutex_lock(&p->mu);
	release(p, t); /* before the answer: the user may send the next test at once */
	pthread_mutex_unlock(&p->mu);
	/* The last touch: the request (and t) may be answered and freed right after. */
	http_resume(r);
}

static void register_metrics(void)
{
	metric_register(&m_run);
	metric_register(&m_truncated);
	metric_register(&m_busy);
	metric_register(&m_full);
}

int ruletest_pool_start(struct ruletest_pool **out, struct store *s, int64_t budget_ms)
{
	struct ruletest_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	register_metrics(); /* registering twice is harmless */
	pthread_mutex_init(&p->mu, NULL);
	p->store = s;
	p->budget_ms = budget_ms > 0 ? budget_ms : RULE_TEST_BUDGET_MS;
	/* Background work: on a busy machine ingest and the HTTP threads go first. */
	int rc = taskpool_start_nice(&p->workers, TEST_WORKERS, TEST_QUEUE_MAX, TEST_NICE);
	if (rc < 0) {
		ruletest_pool_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void ruletest_pool_stop(struct ruletest_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stopping, true);
	pthread_mutex_unlock(&p->mu);
	if (!p->workers)
		return;
	struct task *waiting = taskpool_close(p->workers);
	while (waiting) {
		struct rtest *t = rtest_of(waiting);
		waiting = waiting->next;
		set_answer(t, 503, error_body("shutting down", NULL), "5");
		unqueue(p, t, false);
		http_resume(t->req);
	}
	/* Scans under way stop at their next page and answer with what they found. */
	taskpool_stop(p->workers);
	p->workers = NULL;
}

void ruletest_pool_free(struct ruletest_pool *p)
{
	if (!p)
		return;
	ruletest_pool_stop(p);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* ---- the handler, on an HTTP thread ---- */

static int num_arg(json_t *j, const char *q, long lo, long hi, long *out, const char *name,
		   char *err, size_t errlen)
{
	long v;
	if (j && json_is_integer(j)) {
		v = (long)json_integer_value(j);
	} else if (q) {
		char *end = NULL;
		v = strtol(q, &end, 10);
		if (!*q || *end)
			v = lo - 1;
	} else {
		return 0;
	}
	if (v < lo || v > hi) {
		snprintf(err, errlen, "%s: must be an integer %ld..%ld", name, lo, hi);
		return SIEM_EPARSE;
	}
	*out = v;
	return 0;
}

static int time_arg(json_t *j, const char *q, int64_t *out, const char *name, char *err,
		    size_t errlen)
{
	const char *s = j ? json_string_value(j) : q;
	if (j && json_is_integer(j)) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(j));
		if (ts_parse(buf, strlen(buf), out) == 0)
			return 0;
		s = NULL;
	}
	if (!j && !q)
		return 0;
	if (!s || ts_parse(s, strlen(s), out) < 0) {
		snprintf(err, errlen, "%s: not ISO-8601 or epoch", name);
		return SIEM_EPARSE;
	}
	return 0;
}

static int parse_args(struct http_req *r, json_t *json, struct test_args *ta)
{
	int rc = time_arg(json_object_get(json, "from"), json ? NULL : http_query(r, "from"),
			  &ta->from, "from", ta->err, sizeof(ta->err));
	if (rc == 0)
		rc = time_arg(json_object_get(json, "to"), json ? NULL : http_query(r, "to"),
			      &ta->to, "to", ta->err, sizeof(ta->err));
	if (rc == 0)
		rc = num_arg(json_object_get(json, "max_events"),
			     json ? NULL : http_query(r, "max_events"), 1, TEST_SCAN_MAX,
			     &ta->max_scan, "max_events", ta->err, sizeof(ta->err));
	if (rc == 0)
		rc = num_arg(json_object_get(json, "limit"), json ? NULL : http_query(r, "limit"),
			     1, 1000, &ta->limit, "limit", ta->err, sizeof(ta->err));
	const char *cur =
	    json ? json_string_value(json_object_get(json, "cursor")) : http_query(r, "cursor");
	if (rc == 0 && cur) {
		if (cursor_decode(cur, &ta->cur_ts, &ta->cur_seq) < 0) {
			snprintf(ta->err, sizeof(ta->err), "cursor: not a cursor from this API");
			rc = SIEM_EPARSE;
		}
		ta->has_cursor = true;
	}
	return rc;
}

/* Compile text into t's detection rules; false when a refusal was queued into *res. */
static bool compile(struct http_req *r, struct rtest *t, const char *text, size_t len,
		    enum http_result *res)
{
	char err[600];
	struct rule **rules = NULL;
	size_t nr = 0;
	int rc = rule_compile(text, len, "test", &rules, &nr, err, sizeof(err));
	if (rc < 0) {
		*res = rc == SIEM_ETOOBIG ? rules_reply_too_big(r, RULE_TEXT_MAX, "rule text")
					  : rules_reply_error(r, 422, "invalid rule", err);
		return false;
	}
	size_t ndet = 0;
	for (size_t i = 0; i < nr; i++)
		if (rule_get_info(rules[i])->kind == RULE_DETECTION)
			rules[ndet++] = rules[i];
		else
			rule_free(rules[i]);
	t->rules = rules;
	t->nrules = ndet;
	if (ndet == 0) {
		*res =
		    rules_reply_error(r, 422, "invalid rule",
				      "no detection rule: the test evaluates detection rules only");
		return false;
	}
	return true;
}

static enum http_result answer(struct http_req *r, struct rtest *t)
{
	json_t *body = t->body;
	t->body = NULL;
	if (t->retry_after)
		http_add_header(r, "Retry-After", t->retry_after);
	return http_reply_json(r, t->status ? t->status : 500, body);
}

enum http_result api_rules_test(struct http_req *r)
{
	struct ruletest_pool *p = alerts_api_ctx.tests;
	struct rtest *t = http_state(r);
	if (t) /* resumed: the worker has answered */
		return answer(r, t);
	if (!p)
		return http_reply_error(r, 503, "rule tests are not running", NULL);

	size_t len;
	json_t *json = NULL;
	const char *text = NULL;
	char *owned = NULL;
	enum http_result res = HTTP_DONE;
	const char *body = http_body(r, &len);
	const char *ct = http_header(r, "Content-Type");
	bool is_json = ct && strncmp(ct, "application/json", 16) == 0;
	/* Refused before anything is parsed. A JSON body may be larger than the text it holds
	 * (escapes), within reason. */
	if (len > (is_json ? RULE_JSON_BODY_MAX : RULE_TEXT_MAX))
		return is_json ? rules_reply_too_big(r, RULE_JSON_BODY_MAX, "JSON body")
			       : rules_reply_too_big(r, RULE_TEXT_MAX, "rule text");
	if (!(t = calloc(1, sizeof(*t))))
		return http_reply_error(r, 500, "out of memory", NULL);
	t->req = r;
	snprintf(t->who, sizeof(t->who), "%s", http_identity(r));
	t->ta.from = ts_now_us() - 86400LL * 1000000;
	t->ta.to = INT64_MAX;
	t->ta.limit = 100;
	t->ta.max_scan =
	    alerts_api_ctx.test_max_scan > 0 ? alerts_api_ctx.test_max_scan : TEST_SCAN_DEFAULT;
	if (is_json) {
		json = json_loadb(body, len, 0, NULL);
		if (!json_is_object(json)) {
			res = http_reply_error(r, 400, "malformed JSON", NULL);
			goto out;
		}
		text = json_string_value(json_object_get(json, "rule"));
		if (!text)
			text = json_string_value(json_object_get(json, "yaml"));
		const char *rid = json_string_value(json_object_get(json, "rule_id"));
		if (!text && rid) {
			int rc = ruleset_rule_text(alerts_api_ctx.rules, rid, &owned);
			if (rc < 0) {
				res = rc == SIEM_ENOTFOUND
					  ? http_reply_error(r, 404, "not found", rid)
					  : http_reply_error(r, 500, "internal error",
							     siem_strerror(rc));
				goto out;
			}
			text = owned;
		}
		if (!text) {
			res = http_reply_error(r, 422, "invalid request",
					       "rule: a Sigma rule (YAML text) is required");
			goto out;
		}
		len = strlen(text);
		if (len > RULE_TEXT_MAX) {
			res = rules_reply_too_big(r, RULE_TEXT_MAX, "rule text");
			goto out;
		}
	} else {
		text = body;
	}
	if (parse_args(r, json, &t->ta) < 0) {
		res = http_reply_error(r, 400, "invalid request", t->ta.err);
		goto out;
	}
	if (!compile(r, t, text, len, &res))
		goto out;
	json_decref(json);
	free(owned);
	json = NULL;
	owned = NULL;

	const char *why = NULL;
	unsigned status = admit(p, t, &why);
	if (status) {
		http_add_header(r, "Retry-After", status == 429 ? "5" : "10");
		res = http_reply_error(r, status,
				       status == 429 ? "too many requests" : "overloaded", why);
		goto out;
	}
	/* Suspend before handing over: a worker may resume the request before we return. */
	http_set_state(r, t, rtest_free);
	http_suspend(r);
	if (enqueue(p, t) < 0) {
		set_answer(t, 503, error_body("shutting down", NULL), "5");
		http_resume(r);
	}
	return HTTP_SUSPENDED;
out:
	json_decref(json);
	free(owned);
	rtest_free(t);
	return res;
}
