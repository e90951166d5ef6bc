/* settings.c — the parts of the Settings page that act on the running hub rather than on the
 * store: a test message on a notification channel (POST /alerts/channels/{name}/test). */
#include <stdio.h>
#include <string.h>

#include "alert/alert.h"
#include "api/alerts_api.h"
#include "api/api.h"
#include "core/err.h"

/* 200 when the channel took the message, 502 with its error when not, 404 for no such
 * channel. The send runs on this request's thread, bounded by the channel's timeout. */
enum http_result api_channel_test(struct http_req *r)
{
	const char *arg = http_path_arg(r); /* "{name}/test" */
	char name[64], err[256];
	size_t n = strcspn(arg, "/");
	if (n == 0 || n >= sizeof(name))
		return http_reply_error(r, 404, "not found", "no such channel");
	snprintf(name, sizeof(name), "%.*s", (int)n, arg);
	if (!alerts_api_ctx.alerts)
		return http_reply_error(r, 404, "not found", "alerting is off");
	int rc =
	    alerts_channel_test(alerts_api_ctx.alerts, name, http_identity(r), err, sizeof(err));
	if (rc == SIEM_ENOTFOUND)
		return http_reply_error(r, 404, "not found", err);
	store_audit(api_ctx->store, http_identity(r), http_client_addr(r), "channel.test", name,
		    rc == 0 ? "delivered" : err);
	if (rc < 0)
		return http_reply_error(r, 502, "not delivered", err);
	return http_reply_json(r, 200, json_pack("{s:s, s:b}", "channel", name, "delivered", 1));
}
