/* metrics.c — GET /metrics (Prometheus text format, no login, like /health) and
 * GET /dead-letters (the newest records that could not be parsed). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"
#include "core/metrics.h"
#include "core/strbuf.h"

static int gauge(struct strbuf *b, const char *name, const char *help, const char *type, double v)
{
	return strbuf_addf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", name, help, name, type,
			   name, v);
}

enum http_result api_metrics(struct http_req *r)
{
	struct strbuf b;
	struct pipeline_stats ps;
	struct store_stats ss;
	strbuf_init(&b, 4 << 20);
	pipeline_stats(api_ctx->pipeline, &ps);
	store_stats(api_ctx->store, &ss);
	int rc = strbuf_addf(&b,
			     "# HELP minisiem_build_info Build version.\n"
			     "# TYPE minisiem_build_info gauge\n"
			     "minisiem_build_info{version=\"%s\"} 1\n",
			     api_ctx->version);
	if (rc == 0)
		rc = gauge(&b, "minisiem_uptime_seconds", "Seconds since the hub started.", "gauge",
			   (double)(ts_now_us() - api_ctx->started_us) / 1e6);
	if (rc == 0)
		rc = gauge(&b, "minisiem_queue_events", "Events waiting for the writer.", "gauge",
			   (double)ps.queued_events);
	if (rc == 0)
		rc = gauge(&b, "minisiem_queue_max_events", "Capacity of the writer queue.",
			   "gauge", (double)ps.max_events);
	if (rc == 0)
		rc = gauge(&b, "minisiem_commits_total", "Write transactions committed.", "counter",
			   (double)ps.commits);
	if (rc == 0)
		rc = gauge(&b, "minisiem_commit_failures_total", "Write transactions that failed.",
			   "counter", (double)ps.failed_commits);
	if (rc == 0)
		rc = gauge(&b, "minisiem_events_committed_total", "Events stored.", "counter",
			   (double)ps.committed_events);
	/* Duplicates are counted per source (minisiem_events_duplicates_total{source}), where
	 * the receivers count what they hear back from the writer. */
	if (rc == 0)
		rc = gauge(&b, "minisiem_last_commit_rows", "Events in the last transaction.",
			   "gauge", (double)ps.last_commit_rows);
	if (rc == 0)
		rc = gauge(&b, "minisiem_last_commit_seconds", "Duration of the last transaction.",
			   "gauge", (double)ps.last_commit_latency_us / 1e6);
	if (rc == 0)
		rc = gauge(&b, "minisiem_store_events", "Events in the store.", "gauge",
			   (double)ss.events);
	if (rc == 0)
		rc = gauge(&b, "minisiem_store_segments", "Segment files in the store.", "gauge",
			   (double)ss.segments);
	if (rc == 0)
		rc = gauge(&b, "minisiem_store_segments_unindexed",
			   "Sealed segments waiting for their indices.", "gauge",
			   (double)ss.unindexed);
	if (rc == 0)
		rc = gauge(&b, "minisiem_store_up", "1 when the store's database answers.", "gauge",
			   ss.reachable ? 1.0 : 0.0);
	if (rc == 0)
		rc = gauge(&b, "minisiem_store_connection_errors_total",
			   "Failed attempts to reach the store's database.", "counter",
			   (double)ss.conn_errors);
	if (rc == 0)
		rc = metrics_render(&b);
	if (rc < 0) {
		strbuf_release(&b);
		return http_reply_error(r, 500, "cannot render metrics", NULL);
	}
	size_t n;
	char *text = strbuf_detach(&b, &n);
	return http_reply_text(r, 200, "text/plain; version=0.0.4", text, n);
}

enum http_result api_dead_letters(struct http_req *r)
{
	const char *v = http_query(r, "limit");
	int limit = 100;
	if (v && *v) {
		char *end = NULL;
		long x = strtol(v, &end, 10);
		if (*end || x < 1 || x > 1000)
			return http_reply_error(r, 400, "invalid query",
						"limit: must be an integer 1..1000");
		limit = (int)x;
	}
	json_t *list = json_array();
	int rc = store_list_dead_letters(api_ctx->store, limit, list);
	return api_reply_list(r, rc, "dead_letters", list);
}
