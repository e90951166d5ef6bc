/* stream.c — responses written as data arrives (Server-Sent Events): a libmicrohttpd content
 * reader that parks its connection (suspend) when there is nothing to send, and a wake that
 * any thread may call to resume it. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <microhttpd.h>

#include "core/log.h"
#include "http/http.h"

struct http_stream {
	pthread_mutex_t mu;
	struct MHD_Connection *conn; /* valid while the response lives */
	bool ready;		     /* a wake came since fill last ran */
	bool parked;		     /* the connection is suspended, waiting for a wake */
	bool closing;		     /* http_streams_end: finish now */
	http_stream_fill fill;
	void *ctx;
	void (*ctx_free)(void *);
	struct http_stream *prev, *next; /* open streams */
};

static pthread_mutex_t streams_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_stream *streams;

struct http_stream *http_stream_new(void)
{
	struct http_stream *st = calloc(1, sizeof(*st));
	if (st)
		pthread_mutex_init(&st->mu, NULL);
	return st;
}

static void stream_free(struct http_stream *st)
{
	pthread_mutex_destroy(&st->mu);
	free(st);
}

void http_stream_free(struct http_stream *st)
{
	if (st)
		stream_free(st);
}

void http_stream_wake(struct http_stream *st)
{
	pthread_mutex_lock(&st->mu);
	st->ready = true;
	if (st->parked) {
		st->parked = false;
		MHD_resume_connection(st->conn);
	}
	pthread_mutex_unlock(&st->mu);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct http_stream *st = cls;
	for (;;) {
		pthread_mutex_lock(&st->mu);
		bool closing = st->closing;
		st->ready = false;
		pthread_mutex_unlock(&st->mu);
		/* fill runs without st->mu: it takes its producer's locks, and producers call
		 * http_stream_wake with theirs held. */
		ssize_t n = closing ? -1 : st->fill(st->ctx, buf, max);
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (n > 0)
			return n;
		pthread_mutex_lock(&st->mu);
		if (st->ready || st->closing) {
			pthread_mutex_unlock(&st->mu);
			continue;
		}
		st->parked = true;
		MHD_suspend_connection(st->conn);
		pthread_mutex_unlock(&st->mu);
		return 0;
	}
}

static void reader_free(void *cls)
{
	struct http_stream *st = cls;
	pthread_mutex_lock(&streams_mu);
	if (st->prev)
		st->prev->next = st->next;
	else if (streams == st)
		streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	pthread_mutex_unlock(&streams_mu);
	if (st->ctx_free)
		st->ctx_free(st->ctx);
	stream_free(st);
}

enum http_result http_reply_stream(struct http_req *r, struct http_stream *st, const char *type,
				   http_stream_fill fill, void *ctx, void (*ctx_free)(void *))
{
	st->conn = http_connection(r);
	st->fill = fill;
	st->ctx = ctx;
	st->ctx_free = ctx_free;
	struct MHD_Response *resp =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, st, reader_free);
	if (!resp) {
		if (ctx_free)
			ctx_free(ctx);
		stream_free(st);
		return http_reply_error(r, 500, "out of memory", NULL);
	}
	pthread_mutex_lock(&streams_mu);
	st->next = streams;
	if (streams)
		streams->prev = st;
	streams = st;
	pthread_mutex_unlock(&streams_mu);
	MHD_add_response_header(resp, "Content-Type", type);
	/* Proxies (nginx) must pass events on as they come. */
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	enum http_result res = http_queue_response(r, 200, resp);
	/* Queued or not, MHD frees st through reader_free when the response goes. */
	MHD_destroy_response(resp);
	return res;
}

void http_streams_end(void)
{
	pthread_mutex_lock(&streams_mu);
	for (struct http_stream *st = streams; st; st = st->next) {
		pthread_mutex_lock(&st->mu);
		st->closing = true;
		pthread_mutex_unlock(&st->mu);
		http_stream_wake(st);
	}
	pthread_mutex_unlock(&streams_mu);
}
