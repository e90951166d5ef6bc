/* watchdog.h — closes connections whose request headers (or, on a kept-alive connection,
 * next request) or body take longer than allowed, so that a client trickling bytes cannot
 * hold a connection slot or a body buffer for long. */
#ifndef SIEM_HTTP_WATCHDOG_H
#define SIEM_HTTP_WATCHDOG_H

#include <microhttpd.h>

struct http_watchdog;

/* What a connection waits for now. */
enum watch_state { WATCH_HEADERS, WATCH_BODY, WATCH_BUSY };

/* Start the thread: header_s for headers, request_s for a body (seconds). */
int watchdog_start(struct http_watchdog **out, unsigned header_s, unsigned request_s);
/* Stop it (after MHD_stop_daemon) and free; NULL is fine. */
void watchdog_free(struct http_watchdog *wd);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the watchdog). */
void watchdog_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		     enum MHD_ConnectionNotificationCode code);
/* The connection now waits for st, from now on. */
void watchdog_set(struct http_watchdog *wd, struct MHD_Connection *conn, enum watch_state st);

#endif
