/* health.c — GET /health (the process answers) and GET /ready (store reachable and
 * writable, writer alive and its lag, queue depth). Neither needs a login. */
#include <stdio.h>

#include "api/api.h"
#include "enrich/enrich.h"

enum http_result api_health(struct http_req *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_string("ok"));
	json_object_set_new(o, "version", json_string(api_ctx->version));
	return http_reply_json(r, 200, o);
}

enum http_result api_ready(struct http_req *r)
{
	struct pipeline_stats ps;
	struct store_stats ss;
	char buf[32];
	pipeline_stats(api_ctx->pipeline, &ps);
	store_stats(api_ctx->store, &ss);
	bool ready = ps.writer_alive && ps.failed_commits_in_row == 0 && ss.reachable;
	/* How far behind the writer is: the time since its last commit while events wait. */
	int64_t lag_us =
	    ps.queued_events && ss.last_commit_us ? ts_now_us() - ss.last_commit_us : 0;
	json_t *o = json_object();
	json_object_set_new(o, "ready", json_boolean(ready));
	json_object_set_new(o, "writer_alive", json_boolean(ps.writer_alive));
	json_object_set_new(o, "store_writable", json_boolean(ps.failed_commits_in_row == 0));
	json_object_set_new(o, "queue_depth", json_integer((json_int_t)ps.queued_events));
	json_object_set_new(o, "queue_max", json_integer((json_int_t)ps.max_events));
	json_object_set_new(o, "store_backend", json_string(ss.backend ? ss.backend : "?"));
	json_object_set_new(o, "store_reachable", json_boolean(ss.reachable));
	json_object_set_new(o, "writer_lag_ms", json_integer(lag_us > 0 ? lag_us / 1000 : 0));
	json_object_set_new(o, "events_stored", json_integer(ss.events));
	json_object_set_new(o, "segments", json_integer(ss.segments));
	if (ss.last_commit_us) {
		ts_format(ss.last_commit_us, buf);
		json_object_set_new(o, "last_commit", json_string(buf));
	}
	json_object_set_new(o, "commit_latency_ms",
			    json_real((double)ps.last_commit_latency_us / 1000.0));
	/* An enricher that failed to load: the hub runs on without it (not a reason for 503) */
	struct strbuf eb;
	strbuf_init(&eb, 4096);
	if (enrich_problems(api_ctx->enrich, &eb) > 0 && eb.p)
		json_object_set_new(o, "enrichment_problems", json_string(eb.p));
	strbuf_release(&eb);
	return http_reply_json(r, ready ? 200 : 503, o);
}
