/* health.c — GET /health (the process answers) and GET /ready (store writable, writer
 * alive, queue depth). Neither needs a login. */
#include <stdio.h>

#include "api/api.h"

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
	bool ready = ps.writer_alive && ps.failed_commits_in_row == 0;
	json_t *o = json_object();
	json_object_set_new(o, "ready", json_boolean(ready));
	json_object_set_new(o, "writer_alive", json_boolean(ps.writer_alive));
	json_object_set_new(o, "store_writable", json_boolean(ps.failed_commits_in_row == 0));
	json_object_set_new(o, "queue_depth", json_integer((json_int_t)ps.queued_events));
	json_object_set_new(o, "queue_max", json_integer((json_int_t)ps.max_events));
	json_object_set_new(o, "events_stored", json_integer(ss.events));
	json_object_set_new(o, "segments", json_integer(ss.segments));
	if (ss.last_commit_us) {
		ts_format(ss.last_commit_us, buf);
		json_object_set_new(o, "last_commit", json_string(buf));
	}
	json_object_set_new(o, "commit_latency_ms",
			    json_real((double)ps.last_commit_latency_us / 1000.0));
	return http_reply_json(r, ready ? 200 : 503, o);
}
