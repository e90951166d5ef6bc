/* syslog_tcp.c — the TCP syslog receiver: one epoll thread for every connection, RFC 6587
 * octet counting or newline (or NUL) framing chosen per frame, bounded buffers, a partial
 * frame flushed when its sender pauses, an idle timeout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/event.h"
#include "core/log.h"
#include "source/syslog_int.h"

#define LEN_DIGITS_MAX 9 /* "LEN SP": a longer digit run starts a newline-framed message */
#define READ_CHUNK (64 * 1024)
#define CONN_BUF_KEEP 4096 /* a connection keeps a buffer up to this size when it empties */
#define ACCEPT_BURST 64
#define EVENTS_MAX 64
#define STOP_READS 4 /* reads per connection at stop, for what the kernel holds */
#define LOG_EVERY_US (10 * 1000000LL)
/* A frame without its terminator is taken as it is once its sender has sent nothing for
 * this long (a sender that ends its last message with neither LF nor NUL). */
#define PARTIAL_FLUSH_US (2 * 1000000LL)

static struct metric m_conns =
    METRIC_GAUGE_INIT("minisiem_syslog_tcp_connections", NULL, "Open TCP syslog connections.");
static struct metric m_refused =
    METRIC_COUNTER_INIT("minisiem_syslog_tcp_connections_refused_total", NULL,
			"TCP syslog connections closed at once: the connection limit was reached.");
static struct metric m_idle =
    METRIC_COUNTER_INIT("minisiem_syslog_tcp_idle_closed_total", NULL,
			"TCP syslog connections closed after the idle timeout.");

struct conn {
	int fd;
	char host[46];
	char scope[64]; /* "ADDR/FD": its audit events are its own */
	char *buf;	/* the start of a frame that has not arrived whole */
	size_t len, cap;
	size_t skip;	   /* octets of an oversize counted frame still to discard */
	bool discard_line; /* an oversize line: discard up to its LF */
	bool after_count;  /* an LF right after a counted or NUL-ended frame is its trailer */
	int64_t last_us;   /* last data, syslog_mono_us like every time here */
	struct conn *prev, *next; /* by last activity, oldest first */
};

struct tcp_state {
	int ep;
	char *rbuf; /* a connection's leftover, then what one read brings */
	size_t rcap;
	struct conn *oldest, *newest;
	unsigned n;
	unsigned npartial; /* connections holding the start of a frame */
	bool accept_paused;
	int64_t accept_resume_us;
	int64_t refuse_log_us;
};

int syslog_tcp_setup(struct syslog_rx *rx)
{
	struct tcp_state *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rx->priv = t;
	t->ep = -1;
	/* A leftover is at most one frame of max_msg plus its "LEN " header. */
	t->rcap = rx->l->max_msg + LEN_DIGITS_MAX + 1 + READ_CHUNK;
	if (!(t->rbuf = malloc(t->rcap)))
		return -ENOMEM;
	if ((t->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -errno;
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	struct epoll_event wev = {.events = EPOLLIN, .data.ptr = t};
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, rx->fd, &lev) < 0 ||
	    epoll_ctl(t->ep, EPOLL_CTL_ADD, rx->l->wake_fd, &wev) < 0)
		return -errno;
	metric_register(&m_conns);
	metric_register(&m_refused);
	metric_register(&m_idle);
	return 0;
}

void syslog_tcp_release(struct syslog_rx *rx)
{
	struct tcp_state *t = rx->priv;
	if (!t)
		return;
	if (t->ep >= 0)
		close(t->ep);
	free(t->rbuf);
	free(t);
	rx->priv = NULL;
}

/* ---- framing ---- */

/* Hand every whole frame of p[0..len) to the batch; returns the bytes consumed. What is
 * left is the start of a frame: at most max_msg plus its header. At eof (or when a pause
 * flushes it) the rest is a frame too: a counted one that ended early is flagged truncated
 * and what is still to come of it is skipped. A newline-framed message ends at LF or at NUL
 * (Python's SysLogHandler ends each message with a NUL and no newline). */
static size_t frames(struct syslog_rx *rx, struct conn *c, const char *p, size_t len, bool eof,
		     int64_t now)
{
	size_t max = rx->l->max_msg, pos = 0;
	while (pos < len) {
		if (c->skip) {
			size_t k = len - pos < c->skip ? len - pos : c->skip;
			c->skip -= k;
			pos += k;
			continue;
		}
		if (c->discard_line) {
			const char *lf = memchr(p + pos, '\n', len - pos);
			const char *nul =
			    memchr(p + pos, '\0', lf ? (size_t)(lf - (p + pos)) : len - pos);
			if (nul)
				lf = nul;
			if (!lf)
				return len;
			pos = (size_t)(lf - p) + 1;
			c->discard_line = false;
			continue;
		}
		if (c->after_count) {
			c->after_count = false;
			if (p[pos] == '\n') {
				pos++;
				continue;
			}
			if (p[pos] == '\r' && pos + 1 < len && p[pos + 1] == '\n') {
				pos += 2;
				continue;
			}
		}
		if (p[pos] == '\0') {
			pos++; /* NULs between frames are padding, not empty messages */
			continue;
		}

		/* Octet counting: a digit run, then a space. */
		size_t d = 0, flen = 0;
		while (pos + d < len && d <= LEN_DIGITS_MAX && p[pos + d] >= '0' &&
		       p[pos + d] <= '9')
			flen = flen * 10 + (size_t)(p[pos + d++] - '0');
		if (d > 0 && d <= LEN_DIGITS_MAX && pos + d == len && !eof)
			break; /* its end has not arrived: which framing is not known yet */
		if (d > 0 && d <= LEN_DIGITS_MAX && pos + d < len && p[pos + d] == ' ') {
			size_t body = pos + d + 1, have = len - body;
			size_t keep = flen < max ? flen : max;
			if (have < keep) {
				if (!eof)
					break;
				syslog_rx_message(rx, p + body, have, c->host, true, now);
				c->skip = flen - have;
				c->after_count = true;
				return len;
			}
			syslog_rx_message(rx, p + body, keep, c->host, flen > max, now);
			pos = body + keep;
			c->skip = flen - keep;
			c->after_count = true;
			continue;
		}

		/* Newline framing. */
		size_t window = len - pos < max + 1 ? len - pos : max + 1;
		const char *lf = memchr(p + pos, '\n', window);
		const char *nul = memchr(p + pos, '\0', lf ? (size_t)(lf - (p + pos)) : window);
		if (nul)
			lf = nul;
		if (lf) {
			size_t fl = (size_t)(lf - (p + pos));
			syslog_rx_message(rx, p + pos, fl, c->host, false, now);
			pos += fl + 1;
			c->after_count = nul != NULL; /* "msg\0\n": one terminator */
		} else if (len - pos > max) {
			syslog_rx_message(rx, p + pos, max, c->host, true, now);
			pos += max;
			c->discard_line = true;
		} else {
			if (eof) {
				syslog_rx_message(rx, p + pos, len - pos, c->host, false, now);
				pos = len;
			}
			break;
		}
	}
	return pos;
}

/* ---- connections ---- */

static void list_unlink(struct tcp_state *t, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		t->oldest = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		t->newest = c->prev;
	c->prev = c->next = NULL;
}

static void list_append(struct tcp_state *t, struct conn *c)
{
	c->prev = t->newest;
	c->next = NULL;
	if (t->newest)
		t->newest->next = c;
	else
		t->oldest = c;
	t->newest = c;
}

static void conn_close(struct syslog_rx *rx, struct tcp_state *t, struct conn *c)
{
	if (c->scope[0]) /* its open audit events end with it */
		syslog_rx_sender_gone(rx, c->scope);
	if (c->len)
		t->npartial--;
	list_unlink(t, c);
	close(c->fd); /* leaves the epoll set too */
	free(c->buf);
	free(c);
	t->n--;
	metric_add(&m_conns, -1);
}

/* Keep the unconsumed end of rbuf as the connection's leftover. */
static int keep_rest(struct conn *c, const char *rest, size_t n)
{
	if (n > c->cap || (n == 0 && c->cap > CONN_BUF_KEEP)) {
		size_t cap = n < CONN_BUF_KEEP ? CONN_BUF_KEEP : n;
		char *b = n ? realloc(c->buf, cap) : NULL;
		if (n && !b)
			return -ENOMEM;
		if (!n)
			free(c->buf);
		c->buf = b;
		c->cap = n ? cap : 0;
	}
	if (n)
		memmove(c->buf, rest, n);
	c->len = n;
	return 0;
}

/* One read from c; frames handed on. Returns false when the connection is to be closed
 * (its end, an error, or eof forced by the caller). */
static bool conn_read_frames(struct syslog_rx *rx, struct tcp_state *t, struct conn *c,
			     bool force_eof);

/* Read what a connection sent, its audit records told apart from other connections'. */
static bool conn_read(struct syslog_rx *rx, struct tcp_state *t, struct conn *c, bool force_eof)
{
	if (!c->scope[0])
		snprintf(c->scope, sizeof(c->scope), "%s/%d", c->host, c->fd);
	rx->scope = c->scope;
	bool open = conn_read_frames(rx, t, c, force_eof);
	rx->scope = NULL;
	return open;
}

static bool conn_read_frames(struct syslog_rx *rx, struct tcp_state *t, struct conn *c,
			     bool force_eof)
{
	size_t lo = c->len;
	if (lo)
		memcpy(t->rbuf, c->buf, lo);
	ssize_t r = read(c->fd, t->rbuf + lo, t->rcap - lo);
	bool eof = force_eof;
	if (r > 0) {
		lo += (size_t)r;
	} else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		eof = true;
	} else if (!force_eof) {
		return true;
	}
	size_t used = frames(rx, c, t->rbuf, lo, eof, ts_now_us());
	if (c->len)
		t->npartial--;
	if (eof) {
		c->len = 0;
		return false;
	}
	int krc = keep_rest(c, t->rbuf + used, lo - used);
	if (c->len)
		t->npartial++;
	if (krc < 0) {
		log_error("syslog", "tcp: %s: out of memory, closing the connection", c->host);
		syslog_rx_lost(rx, 1, "out of memory");
		return false;
	}
	c->last_us = syslog_mono_us(); /* after frames(), which may have waited for the writer */
	list_unlink(t, c);
	list_append(t, c);
	return true;
}

static void set_accepting(struct syslog_rx *rx, struct tcp_state *t, bool on, int64_t now)
{
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	if (on == !t->accept_paused)
		return;
	epoll_ctl(t->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, rx->fd, &lev);
	t->accept_paused = !on;
	t->accept_resume_us = now + 1000000LL;
}

static void accept_some(struct syslog_rx *rx, struct tcp_state *t, int64_t now)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(rx->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				/* Out of descriptors or memory: retry in a second. */
				log_error("syslog", "tcp: accept failed: %s", strerror(errno));
				set_accepting(rx, t, false, now);
			}
			return;
		}
		if (t->n >= rx->l->max_conns) {
			metric_add(&m_refused, 1);
			close(fd);
			if (now - t->refuse_log_us >= LOG_EVERY_US) {
				log_warn("syslog", "tcp: %u connections: refusing more", t->n);
				t->refuse_log_us = now;
			}
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!c || epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_error("syslog", "tcp: cannot take a connection: %s",
				  c ? strerror(errno) : "out of memory");
			free(c);
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		c->fd = fd;
		syslog_peer_text(&ss, c->host);
		c->last_us = now;
		list_append(t, c);
		t->n++;
		metric_add(&m_conns, 1);
	}
}

/* Close connections idle past the timeout (a frame they left unfinished is kept). */
static void close_idle(struct syslog_rx *rx, struct tcp_state *t, int64_t now)
{
	int64_t idle_us = (int64_t)rx->l->idle_ms * 1000;
	while (t->oldest && now - t->oldest->last_us >= idle_us) {
		struct conn *c = t->oldest;
		frames(rx, c, c->buf, c->len, true, ts_now_us());
		metric_add(&m_idle, 1);
		conn_close(rx, t, c);
	}
}

/* Take the unfinished frame of every connection whose sender has paused: never hold a
 * message back for longer than PARTIAL_FLUSH_US for want of its terminator. */
static void flush_partials(struct syslog_rx *rx, struct tcp_state *t, int64_t now)
{
	for (struct conn *c = t->oldest; t->npartial && c && now - c->last_us >= PARTIAL_FLUSH_US;
	     c = c->next) {
		if (!c->len)
			continue;
		frames(rx, c, c->buf, c->len, true, ts_now_us());
		c->len = 0;
		t->npartial--;
	}
}

/* When the oldest unfinished frame is due (mono microseconds), -1 when there is none. */
static int64_t partial_due(const struct tcp_state *t)
{
	for (const struct conn *c = t->oldest; t->npartial && c; c = c->next)
		if (c->len)
			return c->last_us + PARTIAL_FLUSH_US;
	return -1;
}

static void earliest(int64_t *w, int64_t cand_ms)
{
	if (cand_ms < 0)
		cand_ms = 0;
	if (*w < 0 || cand_ms < *w)
		*w = cand_ms;
}

static int next_wait_ms(struct syslog_rx *rx, struct tcp_state *t, int64_t now)
{
	int64_t w = -1;
	int due = syslog_rx_due_ms(rx, now);
	if (due >= 0)
		earliest(&w, due);
	if (t->oldest)
		earliest(&w,
			 (t->oldest->last_us + (int64_t)rx->l->idle_ms * 1000 - now + 999) / 1000);
	if (t->accept_paused)
		earliest(&w, (t->accept_resume_us - now + 999) / 1000);
	int64_t pd = partial_due(t);
	if (pd >= 0)
		earliest(&w, (pd - now + 999) / 1000);
	return w > 60000 ? 60000 : (int)w;
}

void *syslog_tcp_main(void *arg)
{
	struct syslog_rx *rx = arg;
	struct syslog_listener *l = rx->l;
	struct tcp_state *t = rx->priv;
	struct epoll_event evs[EVENTS_MAX];
	int64_t now = syslog_mono_us();
	while (!atomic_load(&l->stopping)) {
		int n = epoll_wait(t->ep, evs, EVENTS_MAX, next_wait_ms(rx, t, now));
		if (n < 0 && errno != EINTR)
			log_error("syslog", "tcp: epoll_wait failed: %s", strerror(errno));
		now = syslog_mono_us();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c)
				accept_some(rx, t, now);
			else if ((void *)c != (void *)t && !conn_read(rx, t, c, false))
				conn_close(rx, t, c);
		}
		if (t->accept_paused && now >= t->accept_resume_us)
			set_accepting(rx, t, true, now);
		close_idle(rx, t, now);
		flush_partials(rx, t, now);
		syslog_rx_flush(rx, now, false);
	}
	/* Stopping: what the kernel holds for each connection is still read (a few reads),
	 * an unfinished frame is kept as it is, and the batch is flushed. */
	while (t->oldest) {
		struct conn *c = t->oldest;
		bool open = true;
		for (int i = 0; i < STOP_READS && open; i++)
			open = conn_read(rx, t, c, false);
		if (open)
			conn_read(rx, t, c, true);
		conn_close(rx, t, c);
	}
	syslog_rx_flush(rx, syslog_mono_us(), true);
	return NULL;
}
