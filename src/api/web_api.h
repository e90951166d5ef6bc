/* web_api.h — what the web dashboard reads and keeps: the stats endpoints (stats.c), saved
 * dashboards (dashboards.c) and the dashboard's own files (http/static.c), with the rows
 * api.c's route table takes from WEB_API_ROUTES. */
#ifndef SIEM_WEB_API_H
#define SIEM_WEB_API_H

#include "http/http.h"
#include "http/static.h"

/* GET /stats/summary?from&to: the overview's top row. */
enum http_result api_stats_summary(struct http_req *r);
/* GET /stats/timeseries?from&to&interval=1m&by=os_type: counts per bucket and key. */
enum http_result api_stats_timeseries(struct http_req *r);
/* GET /stats/top?field=source_ip&n=10&event_type=...: the most frequent values. */
enum http_result api_stats_top(struct http_req *r);

/* GET|POST /dashboards, GET|PUT|DELETE /dashboards/{id}: a user's saved dashboards. */
enum http_result api_dashboards_list(struct http_req *r);
enum http_result api_dashboards_create(struct http_req *r);
enum http_result api_dashboards_get(struct http_req *r);
enum http_result api_dashboards_update(struct http_req *r);
enum http_result api_dashboards_delete(struct http_req *r);

/* The parameters every stats endpoint takes (stats.c STATS_PARAMS) */
#define STATS_QUERY                                                                          \
	"from:string,to:string,rollups:boolean,event_type:string,os_type:string,app:string," \
	"source_host:string,host:string,severity:integer,min_severity:integer"

#define WEB_JSON_BODY .body = true, .types = "application/json,*none*"

/* Rows for api_routes[] (api.c). The dashboard's pages and files need no login; the data
 * they show does. */
/* clang-format off */
#define WEB_API_ROUTES                                                                     \
	{ .method = "GET", .path = "/stats/summary", .auth = AUTH_JWT,                     \
	  .fn = api_stats_summary,                                                         \
	  HTTP_DOC("The overview's top row", STATS_QUERY, "200") },                        \
	{ .method = "GET", .path = "/stats/timeseries", .auth = AUTH_JWT,                  \
	  .fn = api_stats_timeseries,                                                      \
	  HTTP_DOC("Event counts per time bucket and key",                                 \
		   STATS_QUERY ",interval:string,by:string,series:integer", "200") },      \
	{ .method = "GET", .path = "/stats/top", .auth = AUTH_JWT, .fn = api_stats_top,    \
	  HTTP_DOC("The most frequent values of a field",                                  \
		   STATS_QUERY ",field:string,n:integer", "200") },                        \
	{ .method = "GET", .path = "/dashboards", .auth = AUTH_JWT,                        \
	  .fn = api_dashboards_list,                                                       \
	  HTTP_DOC("The user's saved dashboards", NULL, "200") },                          \
	{ .method = "POST", .path = "/dashboards", .auth = AUTH_JWT,                       \
	  .fn = api_dashboards_create, WEB_JSON_BODY,                                      \
	  HTTP_DOC("Save a dashboard", NULL, "201,422") },                                 \
	{ .method = "GET", .path = "/dashboards/", .auth = AUTH_JWT,                       \
	  .fn = api_dashboards_get,                                                        \
	  HTTP_DOC("One saved dashboard", NULL, "200,404") },                              \
	{ .method = "PUT", .path = "/dashboards/", .auth = AUTH_JWT,                       \
	  .fn = api_dashboards_update, WEB_JSON_BODY,                                      \
	  HTTP_DOC("Replace a saved dashboard", NULL, "200,404,422") },                    \
	{ .method = "DELETE", .path = "/dashboards/", .auth = AUTH_JWT,                    \
	  .fn = api_dashboards_delete,                                                     \
	  HTTP_DOC("Delete a saved dashboard", NULL, "200,404") },                         \
	{ .method = "GET", .path = "/", .auth = AUTH_NONE, .fn = http_static_serve,        \
	  HTTP_DOC("The dashboard (HTML)", NULL, "200,304") },                             \
	{ .method = "GET", .path = "/ui", .auth = AUTH_NONE, .fn = http_static_serve,      \
	  HTTP_DOC("The dashboard (HTML)", NULL, "200,304") },                             \
	{ .method = "GET", .path = "/ui/", .auth = AUTH_NONE, .fn = http_static_serve,     \
	  HTTP_DOC("A page of the dashboard (HTML)", NULL, "200,304") },                   \
	{ .method = "GET", .path = "/assets/", .auth = AUTH_NONE, .fn = http_static_serve, \
	  HTTP_DOC("The dashboard's scripts, styles and images", NULL, "200,304,404") }
/* clang-format on */

#endif
