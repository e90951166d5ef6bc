/* health.c — GET /health (the process answers) and GET /ready: overall readiness (the store
 * writer: what stops ingest) and each component with a reason when it is not ready. Neither
 * needs a login. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "api/alerts_api.h"
#include "api/api.h"
#include "broker/broker.h"
#include "enrich/enrich.h"
#include "source/syslog_listen.h"
#include "source/tail.h"

enum http_result api_health(struct http_req *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_string("ok"));
	json_object_set_new(o, "version", json_string(api_ctx->version));
	return http_reply_json(r, 200, o);
}

/* {"ready": ready, "reason": reason (when not ready)} for components */
static json_t *component(bool ready, const char *reason)
{
	json_t *c = json_object();
	json_object_set_new(c, "ready", json_boolean(ready));
	if (!ready && reason)
		json_object_set_new(c, "reason", json_string(reason));
	return c;
}

static json_t *writer_component(const struct pipeline_stats *ps, const struct store_stats *ss,
				int64_t lag_ms, double latency_ms, bool *ready)
{
	const char *why = !ps->writer_alive		  ? "the writer thread stopped"
			  : !ss->reachable		  ? "the store's database does not answer"
			  : ps->failed_commits_in_row > 0 ? "the last commits failed"
							  : NULL;
	*ready = !why;
	json_t *c = component(*ready, why);
	json_object_set_new(c, "alive", json_boolean(ps->writer_alive));
	json_object_set_new(c, "lag_ms", json_integer(lag_ms));
	json_object_set_new(c, "queue_depth", json_integer((json_int_t)ps->queued_events));
	json_object_set_new(c, "commit_latency_ms", json_real(latency_ms));
	json_object_set_new(c, "failed_commits_in_row",
			    json_integer((json_int_t)ps->failed_commits_in_row));
	if (ss->last_commit_us) {
		char buf[32];
		ts_format(ss->last_commit_us, buf);
		json_object_set_new(c, "last_commit", json_string(buf));
	}
	return c;
}

/* Broker mode: both roles' links; not ready while either is down. */
static json_t *broker_component(bool *ready)
{
	struct broker_state ps = {.up = true}, cs = {.up = true}, ds = {.up = true};
	if (api_ctx->broker_pub)
		broker_pub_state(api_ctx->broker_pub, &ps);
	if (api_ctx->broker_store)
		broker_store_state(api_ctx->broker_store, &cs);
	if (api_ctx->broker_detect)
		broker_detect_state(api_ctx->broker_detect, &ds);
	char why[900];
	snprintf(why, sizeof(why), "%s%s%s%s%s", !ps.up ? ps.reason : "",
		 !ps.up && (!cs.up || !ds.up) ? "; " : "", !cs.up ? cs.reason : "",
		 !cs.up && !ds.up ? "; " : "", !ds.up ? ds.reason : "");
	*ready = ps.up && cs.up && ds.up;
	json_t *c = component(*ready, why);
	if (api_ctx->broker_pub) {
		json_object_set_new(c, "publishing", json_boolean(ps.up));
		json_object_set_new(c, "blocked", json_boolean(ps.blocked));
	}
	if (api_ctx->broker_store)
		json_object_set_new(c, "consuming", json_boolean(cs.up));
	if (api_ctx->broker_detect) {
		json_object_set_new(c, "detecting", json_boolean(ds.up));
		json_object_set_new(c, "active_detector", json_boolean(ds.active));
	}
	return c;
}

static json_t *tailer_component(struct tailer *t)
{
	struct tailer_stats st;
	tailer_get_stats(t, &st);
	json_t *c = component(st.running, "the tailer is stopping");
	json_object_set_new(c, "running", json_boolean(st.running));
	json_object_set_new(c, "dir", json_string(st.dir ? st.dir : ""));
	json_object_set_new(c, "files", json_integer(st.files));
	return c;
}

static json_t *syslog_component(struct syslog_listener *l)
{
	json_t *c = json_object();
	bool any = false;
	for (int udp = 1; udp >= 0; udp--) {
		struct syslog_listen_stats st;
		syslog_listen_get_stats(l, udp, &st);
		if (!st.bound)
			continue;
		any = true;
		json_t *p = json_object();
		json_object_set_new(p, "bound", json_true());
		json_object_set_new(p, "port", json_integer(st.port));
		json_object_set_new(p, "received", json_integer(st.received));
		json_object_set_new(p, "dropped", json_integer(st.dropped));
		json_object_set_new(c, udp ? "udp" : "tcp", p);
	}
	json_object_set_new(c, "ready", json_boolean(any));
	if (!any)
		json_object_set_new(c, "reason", json_string("no socket is bound"));
	return c;
}

static json_t *detector_component(struct detector *d)
{
	struct detector_stats st;
	detector_get_stats(d, &st);
	json_t *c = component(st.rules > 0, "no rules are loaded");
	json_object_set_new(c, "rules", json_integer((json_int_t)st.rules));
	json_object_set_new(c, "detection_rules", json_integer((json_int_t)st.detection_rules));
	json_object_set_new(c, "correlation_rules", json_integer((json_int_t)st.correlation_rules));
	return c;
}

/* Failing: a channel whose last attempt failed (an error newer than its last delivery). */
static json_t *notifier_component(struct alerts *al)
{
	json_t *list = json_array(), *failing = json_array(), *ch;
	json_int_t queued = 0;
	size_t i;
	alerts_channels(al, list);
	json_array_foreach (list, i, ch) {
		const char *err_at = json_string_value(json_object_get(ch, "last_error_at"));
		const char *sent_at = json_string_value(json_object_get(ch, "last_sent_at"));
		queued += json_integer_value(json_object_get(ch, "queued"));
		if (err_at && (!sent_at || strcmp(err_at, sent_at) > 0))
			json_array_append(failing, json_object_get(ch, "name"));
	}
	char why[160];
	snprintf(why, sizeof(why), "%zu of %zu channels failing", json_array_size(failing),
		 json_array_size(list));
	json_t *c = component(json_array_size(failing) == 0, why);
	json_object_set_new(c, "channels", json_integer((json_int_t)json_array_size(list)));
	json_object_set_new(c, "queued", json_integer(queued));
	json_object_set_new(c, "failing", failing);
	json_decref(list);
	return c;
}

enum http_result api_ready(struct http_req *r)
{
	struct pipeline_stats ps;
	struct store_stats ss;
	char buf[32];
	pipeline_stats(api_ctx->pipeline, &ps);
	store_stats(api_ctx->store, &ss);
	/* How far behind the writer is: the time since its last commit while events wait. */
	int64_t lag_us =
	    ps.queued_events && ss.last_commit_us ? ts_now_us() - ss.last_commit_us : 0;
	int64_t lag_ms = lag_us > 0 ? lag_us / 1000 : 0;
	double latency_ms = round((double)ps.last_commit_latency_us) / 1000.0;
	bool ready;
	json_t *comps = json_object();
	json_object_set_new(comps, "writer",
			    writer_component(&ps, &ss, lag_ms, latency_ms, &ready));
	if (api_ctx->broker_pub || api_ctx->broker_store || api_ctx->broker_detect) {
		bool broker_ready;
		json_object_set_new(comps, "broker", broker_component(&broker_ready));
		ready = ready && broker_ready;
	}

	json_t *o = json_object();
	json_object_set_new(o, "ready", json_boolean(ready));
	json_object_set_new(o, "writer_alive", json_boolean(ps.writer_alive));
	json_object_set_new(o, "store_writable", json_boolean(ps.failed_commits_in_row == 0));
	json_object_set_new(o, "queue_depth", json_integer((json_int_t)ps.queued_events));
	json_object_set_new(o, "queue_max", json_integer((json_int_t)ps.max_events));
	json_object_set_new(o, "store_backend", json_string(ss.backend ? ss.backend : "?"));
	json_object_set_new(o, "store_reachable", json_boolean(ss.reachable));
	json_object_set_new(o, "writer_lag_ms", json_integer(lag_ms));
	json_object_set_new(o, "events_stored", json_integer(ss.events));
	json_object_set_new(o, "segments", json_integer(ss.segments));
	if (ss.last_commit_us) {
		ts_format(ss.last_commit_us, buf);
		json_object_set_new(o, "last_commit", json_string(buf));
	}
	json_object_set_new(o, "commit_latency_ms", json_real(latency_ms));

	pthread_mutex_lock(&api_ctx->sources_mu);
	if (api_ctx->tailer)
		json_object_set_new(comps, "tailer", tailer_component(api_ctx->tailer));
	if (api_ctx->syslog)
		json_object_set_new(comps, "syslog", syslog_component(api_ctx->syslog));
	pthread_mutex_unlock(&api_ctx->sources_mu);
	if (alerts_api_ctx.detector)
		json_object_set_new(comps, "detector", detector_component(alerts_api_ctx.detector));
	if (alerts_api_ctx.alerts)
		json_object_set_new(comps, "notifier", notifier_component(alerts_api_ctx.alerts));
	/* An enricher that failed to load: the hub runs on without it (not a reason for 503) */
	struct strbuf eb;
	strbuf_init(&eb, 4096);
	if (enrich_problems(api_ctx->enrich, &eb) > 0 && eb.p) {
		json_object_set_new(o, "enrichment_problems", json_string(eb.p));
		json_object_set_new(comps, "enrichment", component(false, eb.p));
	} else {
		json_object_set_new(comps, "enrichment", component(true, NULL));
	}
	strbuf_release(&eb);
	json_object_set_new(o, "components", comps);
	/* Milliseconds to 3 decimals, printed so (jansson's default prints 17 digits) */
	size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(12);
	size_t n = json_dumpb(o, NULL, 0, flags);
	char *text = n ? malloc(n + 1) : NULL;
	if (text && json_dumpb(o, text, n, flags) != n) {
		free(text);
		text = NULL;
	}
	json_decref(o);
	if (!text)
		return http_reply_error(r, 500, "out of memory", NULL);
	text[n++] = '\n';
	return http_reply_text(r, ready ? 200 : 503, "application/json", text, n);
}
