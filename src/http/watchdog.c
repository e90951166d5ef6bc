/* watchdog.c — the slow-client watchdog: one entry per connection (made and dropped by
 * libmicrohttpd's connection notifications), checked once a second by a thread of its own. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "core/clock.h"
#include "core/metrics.h"
#include "http/watchdog.h"

static struct metric m_slow_closed =
    METRIC_COUNTER_INIT("minisiem_http_slow_closed_total", NULL,
			"Connections closed because headers or a body did not arrive in time.");

struct conn_watch {
	struct conn_watch *prev, *next;
	int fd;
	enum watch_state state;
	int64_t since_us;
	struct sockaddr_storage peer;
	socklen_t peer_len;
};

struct http_watchdog {
	int64_t header_us, request_us;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct conn_watch *watched;
	pthread_t thread;
	bool stopping;
};

/* Once a second: a connection still waiting for headers or a body past its deadline is
 * shut down (MHD then sees the end of the stream and closes it). */
static void *watchdog_main(void *arg)
{
	struct http_watchdog *wd = arg;
	pthread_mutex_lock(&wd->mu);
	while (!wd->stopping) {
		struct timespec ts = clock_deadline_ms(1000);
		pthread_cond_timedwait(&wd->cv, &wd->mu, &ts);
		int64_t now = clock_mono_us();
		for (struct conn_watch *w = wd->watched; w; w = w->next) {
			int64_t limit = w->state == WATCH_HEADERS ? wd->header_us
					: w->state == WATCH_BODY  ? wd->request_us
								  : 0;
			if (!limit || now - w->since_us <= limit)
				continue;
			struct sockaddr_storage peer;
			socklen_t len = sizeof(peer);
			w->state = WATCH_BUSY; /* once */
			if (getpeername(w->fd, (struct sockaddr *)&peer, &len) < 0 ||
			    len != w->peer_len || memcmp(&peer, &w->peer, len) != 0)
				continue;
			shutdown(w->fd, SHUT_RDWR);
			metric_add(&m_slow_closed, 1);
		}
	}
	pthread_mutex_unlock(&wd->mu);
	return NULL;
}

int watchdog_start(struct http_watchdog **out, unsigned header_s, unsigned request_s)
{
	struct http_watchdog *wd = calloc(1, sizeof(*wd));
	int rc;
	if (!wd)
		return -ENOMEM;
	wd->header_us = (int64_t)header_s * 1000000;
	wd->request_us = (int64_t)request_s * 1000000;
	pthread_mutex_init(&wd->mu, NULL);
	pthread_cond_init(&wd->cv, NULL);
	metric_register(&m_slow_closed);
	if ((rc = pthread_create(&wd->thread, NULL, watchdog_main, wd)) != 0) {
		pthread_mutex_destroy(&wd->mu);
		pthread_cond_destroy(&wd->cv);
		free(wd);
		return -rc;
	}
	*out = wd;
	return 0;
}

void watchdog_free(struct http_watchdog *wd)
{
	if (!wd)
		return;
	pthread_mutex_lock(&wd->mu);
	wd->stopping = true;
	pthread_cond_signal(&wd->cv);
	pthread_mutex_unlock(&wd->mu);
	pthread_join(wd->thread, NULL);
	pthread_mutex_destroy(&wd->mu);
	pthread_cond_destroy(&wd->cv);
	free(wd);
}

void watchdog_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		     enum MHD_ConnectionNotificationCode code)
{
	struct http_watchdog *wd = cls;
	struct conn_watch *w = *socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci || !(w = calloc(1, sizeof(*w))))
			return;
		w->fd = ci->connect_fd;
		w->peer_len = sizeof(w->peer);
		if (getpeername(w->fd, (struct sockaddr *)&w->peer, &w->peer_len) < 0)
			w->peer_len = 0;
		w->state = WATCH_HEADERS;
		w->since_us = clock_mono_us();
		pthread_mutex_lock(&wd->mu);
		w->next = wd->watched;
		if (w->next)
			w->next->prev = w;
		wd->watched = w;
		pthread_mutex_unlock(&wd->mu);
		*socket_context = w;
		return;
	}
	if (!w)
		return;
	/* Unlinked before MHD closes the socket, so the watchdog never shuts down a descriptor
	 * that was closed and reused. */
	pthread_mutex_lock(&wd->mu);
	if (w->prev)
		w->prev->next = w->next;
	else
		wd->watched = w->next;
	if (w->next)
		w->next->prev = w->prev;
	pthread_mutex_unlock(&wd->mu);
	free(w);
	*socket_context = NULL;
}

void watchdog_set(struct http_watchdog *wd, struct MHD_Connection *conn, enum watch_state st)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_watch *w = ci ? ci->socket_context : NULL;
	if (!w)
		return;
	pthread_mutex_lock(&wd->mu);
	w->state = st;
	w->since_us = clock_mono_us();
	pthread_mutex_unlock(&wd->mu);
}
