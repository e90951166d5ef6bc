/* loadgen.c — HTTP load for the hub benchmarks: POST /ingest batches (or GET queries) over
 * keep-alive loopback connections from one epoll thread; prints one JSON line of results. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"

#define HDR_ROOM 1024	     /* request headers are written just before the body */
#define RESP_MAX (64u << 20) /* a response larger than this is an error */
#define RETRY_503_NS (10 * 1000000LL)
#define MAX_CONNS 1024
#define MAX_LOGGED 5 /* error responses echoed to stderr */

struct opts {
	int port;
	char prefix[256]; /* path prefix from --url (SIEM_ROOT_PATH) */
	const char *key, *token, *query;
	int conns, batch, warmup;
	long long events, requests, pool, progress;
	double seconds, timeout;
	bool ndjson;
	uint64_t seed;
};

enum cstate { C_IDLE, C_SENDING, C_RECEIVING, C_SLEEPING, C_DONE };

struct conn {
	int fd;
	enum cstate state;
	bool rd_ready, wr_ready, reconnect;
	bool resend; /* sleeping on a 503: the request is kept and sent again */
	char *req;   /* HDR_ROOM + body */
	size_t req_cap, req_off, req_len, sent;
	char *resp;
	size_t resp_len, resp_cap;
	int n_events;			    /* events in the request in flight */
	int64_t t_start, deadline, wake_at; /* monotonic ns */
	struct gen_tscache tsc;
};

/* Latency histogram in microseconds: exact below 1024 us, then 512 sub-buckets per power
 * of two (0.2% resolution), up to about 2^40 us. */
#define H_SUB 512
#define H_BUCKETS (1024 + 31 * H_SUB)
static uint64_t hist[H_BUCKETS];

static size_t h_index(uint64_t us)
{
	if (us < 1024)
		return (size_t)us;
	int shift = 63 - __builtin_clzll(us) - 9;
	if (shift > 31)
		return H_BUCKETS - 1;
	return 1024 + (size_t)(shift - 1) * H_SUB + (size_t)((us >> shift) - H_SUB);
}

static uint64_t h_value(size_t i)
{
	if (i < 1024)
		return i;
	size_t shift = (i - 1024) / H_SUB + 1;
	return (uint64_t)(H_SUB + (i - 1024) % H_SUB) << shift;
}

static double h_quantile(uint64_t total, double q)
{
	uint64_t want = (uint64_t)(q * (double)total), seen = 0;
	if (total == 0)
		return 0;
	if (want >= total)
		want = total - 1;
	for (size_t i = 0; i < H_BUCKETS; i++) {
		seen += hist[i];
		if (seen > want)
			return (double)h_value(i) / 1000.0;
	}
	return 0;
}

/* ---- state ---- */

static struct opts o;
static struct gen gen;
static char *pool_text; /* rendered events, back to back */
static size_t *pool_off, *pool_len, *pool_id, *pool_ts, pool_n, pool_max_len, pool_next;
static uint64_t next_id = 1;
static long long issued_events, issued_requests, in_flight;
static long long n_ok_requests, n_events, n_errors, n_503, n_dups, n_completed;
static long long resp_bytes, resp_rows, max_us;
static long long progress_mark;
static int64_t t0, t_last, t_progress;
static long long progress_events;
static int n_logged;
static double cpu0; /* client CPU seconds when the clock started */
static int ep;

static int64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void die(const char *msg)
{
	fprintf(stderr, "loadgen: %s\n", msg);
	exit(2);
}

static int parse_url(const char *url)
{
	static const char want[] = "http://127.0.0.1:";
	long long port;
	char num[8];
	const char *p, *slash;
	size_t n;

	if (strncmp(url, want, sizeof(want) - 1) != 0)
		return -1; /* loopback only, on purpose */
	p = url + sizeof(want) - 1;
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, p, n);
	num[n] = 0;
	if (gen_parse_count(num, 1, 65535, &port) < 0)
		return -1;
	o.port = (int)port;
	if (slash) {
		size_t k = strlen(slash);
		while (k > 0 && slash[k - 1] == '/')
			k--;
		if (k >= sizeof(o.prefix))
			return -1;
		memcpy(o.prefix, slash, k);
		o.prefix[k] = 0;
	}
	return 0;
}

/* The first few failures go to stderr with the response's status line and body. */
static void log_error(const char *what, const struct conn *c)
{
	const char *eol, *body;
	int sl = 0, bl = 0;

	if (n_logged++ >= MAX_LOGGED)
		return;
	if (c && c->resp_len && (eol = memmem(c->resp, c->resp_len, "\r\n", 2))) {
		sl = (int)(eol - c->resp);
		body = memmem(c->resp, c->resp_len, "\r\n\r\n", 4);
		body = body ? body + 4 : c->resp + c->resp_len;
		bl = (int)(c->resp + c->resp_len - body);
		while (bl > 0 && (body[bl - 1] == '\n' || body[bl - 1] == '\r'))
			bl--;
		fprintf(stderr, "loadgen: %s: %.*s: %.*s\n", what, sl, c->resp, bl < 300 ? bl : 300,
			body);
	} else {
		fprintf(stderr, "loadgen: %s\n", what);
	}
	if (n_logged == MAX_LOGGED)
		fputs("loadgen: (further errors are only counted)\n", stderr);
}

/* ---- the event pool ---- */

static void pool_build(void)
{
	struct gen_event ev;
	size_t cap = (size_t)o.pool * 2048, used = 0;
	int64_t now = gen_now_us();

	pool_text = malloc(cap);
	pool_off = calloc((size_t)o.pool, sizeof(size_t));
	pool_len = calloc((size_t)o.pool, sizeof(size_t));
	pool_id = calloc((size_t)o.pool, sizeof(size_t));
	pool_ts = calloc((size_t)o.pool, sizeof(size_t));
	if (!pool_text || !pool_off || !pool_len || !pool_id || !pool_ts)
		die("out of memory");
	for (pool_n = 0; pool_n < (size_t)o.pool; pool_n++) {
		size_t idoff, tsoff, n;
		gen_next(&gen, &ev, now);
		n = gen_json(&ev, pool_text + used, cap - used, &idoff, &tsoff);
		if (n == 0)
			die("event larger than its buffer");
		pool_off[pool_n] = used;
		pool_len[pool_n] = n;
		pool_id[pool_n] = idoff;
		pool_ts[pool_n] = tsoff;
		if (n > pool_max_len)
			pool_max_len = n;
		used += n;
	}
}

/* Copy n pool events into dst as one body, each with a fresh id and the current time. */
static size_t body_build(struct conn *c, char *dst, int n)
{
	int64_t now = gen_now_us();
	size_t k = 0;

	if (n > 1 && !o.ndjson)
		dst[k++] = '[';
	for (int i = 0; i < n; i++) {
		size_t e = pool_next;
		char *ev = dst + k;
		pool_next = (pool_next + 1) % pool_n;
		if (i > 0 && !o.ndjson)
			dst[k++] = ',', ev++;
		memcpy(ev, pool_text + pool_off[e], pool_len[e]);
		gen_id_text(&gen, next_id++, ev + pool_id[e]);
		gen_ts_text(&c->tsc, now - (n - 1 - i), ev + pool_ts[e]);
		k += pool_len[e];
		if (o.ndjson)
			dst[k++] = '\n';
	}
	if (n > 1 && !o.ndjson)
		dst[k++] = ']';
	return k;
}

/* ---- requests ---- */

static bool may_issue(int64_t now)
{
	if (now - t0 >= (int64_t)(o.seconds * 1e9))
		return false;
	if (o.query)
		return issued_requests < o.requests + o.warmup;
	return o.events == 0 || issued_events < o.events;
}

static void request_build(struct conn *c)
{
	char hdr[HDR_ROOM];
	size_t body = 0;
	int h;

	if (o.query) {
		h = snprintf(
		    hdr, sizeof(hdr),
		    "GET %s%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
		    "Accept: application/json\r\n\r\n",
		    o.prefix, o.query, o.port, o.token);
		c->n_events = 0;
	} else {
		long long left = o.events ? o.events - issued_events : o.batch;
		int n = left < o.batch ? (int)left : o.batch;
		body = body_build(c, c->req + HDR_ROOM, n);
		h = snprintf(hdr, sizeof(hdr),
			     "POST %s/ingest HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-API-Key: %s\r\n"
			     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			     o.prefix, o.port, o.key,
			     o.ndjson ? "application/x-ndjson" : "application/json", body);
		c->n_events = n;
		issued_events += n;
	}
	if (h < 0 || h >= HDR_ROOM)
		die("request headers too long");
	c->req_off = HDR_ROOM - (size_t)h;
	memcpy(c->req + c->req_off, hdr, (size_t)h);
	c->req_len = (size_t)h + body;
	issued_requests++;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
}

static int conn_open(struct conn *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)o.port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				 .data.ptr = c};
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = -errno;
		close(c->fd);
		c->fd = -1;
		return e;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		int e = -errno;
		conn_close(c);
		return e;
	}
	c->rd_ready = c->wr_ready = true;
	c->reconnect = false;
	return 0;
}

/* A request failed for good: count it and start afresh on a new connection. */
static void request_fail(struct conn *c, const char *why)
{
	n_errors++;
	in_flight--;
	log_error(why, c);
	conn_close(c);
	c->reconnect = true;
	c->state = C_IDLE;
}

/* ---- responses ---- */

static const char *find_hdr(const char *h, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = h, *end = h + n;

	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v);
			return v;
		}
		p = eol + 2;
	}
	return NULL;
}

static long long num_at(const char *p, const char *end)
{
	long long v = 0;
	while (p < end && (*p == ' ' || *p == ':' || *p == '\t'))
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	return v;
}

/* Walk a chunked body: 1 when complete (*n = decoded length), 0 when more is needed, -1
 * when malformed. With compact, the decoded body is moved to the front of p; only call
 * it so once the body is known complete, as the move destroys the framing. */
static int dechunk(char *p, size_t avail, size_t *n, bool compact)
{
	size_t r = 0, w = 0;
	for (;;) {
		char *eol = memmem(p + r, avail - r, "\r\n", 2);
		char *end;
		unsigned long long sz;
		if (!eol)
			return 0;
		errno = 0;
		sz = strtoull(p + r, &end, 16);
		if (errno || end == p + r || sz > RESP_MAX)
			return -1;
		r = (size_t)(eol - p) + 2;
		if (sz == 0) {
			/* trailers end with an empty line */
			bool done = (avail - r >= 2 && p[r] == '\r' && p[r + 1] == '\n') ||
				    memmem(p + r, avail - r, "\r\n\r\n", 4);
			*n = w;
			return done ? 1 : 0;
		}
		if (avail - r < sz + 2)
			return 0;
		if (compact)
			memmove(p + w, p + r, sz);
		w += sz;
		r += sz + 2;
	}
}

/* Is the response in c->resp complete? 1 yes (status and body set), 0 need more, -1 bad. */
static int response_parse(struct conn *c, bool eof, int *status, const char **body, size_t *blen,
			  bool *close_after)
{
	char *hend = memmem(c->resp, c->resp_len, "\r\n\r\n", 4);
	const char *v;
	size_t vl, hlen;

	if (!hend)
		return eof ? -1 : 0;
	hlen = (size_t)(hend - c->resp) + 4;
	if (c->resp_len < 12 || memcmp(c->resp, "HTTP/1.", 7) != 0)
		return -1;
	*status = (int)num_at(c->resp + 8, c->resp + 12);
	v = find_hdr(c->resp, hlen, "connection", &vl);
	*close_after = (v && vl >= 5 && strncasecmp(v, "close", 5) == 0) ||
		       memcmp(c->resp, "HTTP/1.0", 8) == 0;
	*body = c->resp + hlen;
	if ((v = find_hdr(c->resp, hlen, "transfer-encoding", &vl)) &&
	    memmem(v, vl, "chunked", 7)) {
		int r = dechunk(c->resp + hlen, c->resp_len - hlen, blen, false);
		if (r == 1)
			dechunk(c->resp + hlen, c->resp_len - hlen, blen, true);
		return r;
	}
	if ((v = find_hdr(c->resp, hlen, "content-length", &vl))) {
		long long cl = num_at(v, v + vl);
		if (cl < 0 || cl > RESP_MAX)
			return -1;
		if (c->resp_len - hlen < (size_t)cl)
			return eof ? -1 : 0;
		*blen = (size_t)cl;
		return 1;
	}
	if (*status == 204 || *status == 304 || (*status >= 100 && *status < 200)) {
		*blen = 0;
		return 1;
	}
	if (!eof)
		return 0; /* delimited by the end of the connection */
	*blen = c->resp_len - hlen;
	*close_after = true;
	return 1;
}

static long long json_number(const char *b, size_t n, const char *key)
{
	size_t kl = strlen(key);
	const char *p = b;
	while ((p = memmem(p, n - (size_t)(p - b), key, kl))) {
		p += kl;
		if (p < b + n && *p == '"')
			return num_at(p + 1, b + n);
	}
	return -1;
}

static long long count_of(const char *b, size_t n, const char *s)
{
	long long k = 0;
	size_t sl = strlen(s);
	const char *p = b, *q;
	while ((q = memmem(p, n - (size_t)(p - b), s, sl))) {
		k++;
		p = q + sl;
	}
	return k;
}

static void progress(int64_t now)
{
	if (!o.progress || n_events < progress_mark)
		return;
	double dt = (double)(now - t_progress) / 1e9;
	fprintf(stderr, "loadgen: %lld events, %.0f events/s over the last %.1f s\n", n_events,
		dt > 0 ? (double)(n_events - progress_events) / dt : 0.0, dt);
	progress_events = n_events;
	t_progress = now;
	while (progress_mark <= n_events)
		progress_mark += o.progress;
}

static void response_done(struct conn *c, int64_t now, int status, const char *body, size_t blen)
{
	bool ok = status == 200;
	uint64_t us = (uint64_t)(now - c->t_start) / 1000;

	if (status == 503) {
		n_503++;
		c->state = C_SLEEPING;
		c->resend = true;
		c->wake_at = now + RETRY_503_NS;
		return;
	}
	in_flight--;
	n_completed++;
	if (ok && !o.query) {
		long long acc = json_number(body, blen, "\"accepted");
		long long dup = json_number(body, blen, "\"duplicates");
		if (dup > 0)
			n_dups += dup;
		if (acc >= 0)
			n_events += acc;
		if (acc != c->n_events) {
			ok = false;
			log_error("accepted != batch", c);
		}
	} else if (!ok) {
		char why[32];
		snprintf(why, sizeof(why), "status %d", status);
		log_error(why, c);
	}
	if (o.query && n_completed <= o.warmup) {
		c->state = C_IDLE;
		return;
	}
	if (ok) {
		n_ok_requests++;
		hist[h_index(us)]++;
		if ((long long)us > max_us)
			max_us = (long long)us;
		if (o.query) {
			resp_bytes += (long long)blen;
			resp_rows += count_of(body, blen, "\"event_id\"");
		}
	} else {
		n_errors++;
	}
	t_last = now;
	c->state = C_IDLE;
	progress(now);
}

/* Move one connection as far as it can go without blocking. */
static void drive(struct conn *c)
{
	for (;;) {
		int64_t now;
		ssize_t n;

		switch (c->state) {
		case C_IDLE:
			now = mono_ns();
			if (!may_issue(now)) {
				c->state = C_DONE;
				return;
			}
			if (c->reconnect || c->fd < 0) {
				if (conn_open(c) < 0) {
					n_errors++;
					log_error("cannot connect", NULL);
					c->state = C_SLEEPING;
					c->resend = false;
					c->wake_at = now + RETRY_503_NS;
					return;
				}
			}
			request_build(c);
			c->sent = 0;
			c->resp_len = 0;
			c->t_start = now;
			c->deadline = now + (int64_t)(o.timeout * 1e9);
			c->state = C_SENDING;
			in_flight++;
			break;
		case C_SENDING:
			if (!c->wr_ready)
				return;
			n = send(c->fd, c->req + c->req_off + c->sent, c->req_len - c->sent,
				 MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->wr_ready = false;
					return;
				}
				if (errno == EINTR)
					break;
				request_fail(c, "send failed");
				break;
			}
			c->sent += (size_t)n;
			if (c->sent < c->req_len) {
				c->wr_ready = false; /* a short write: the buffer is full */
				return;
			}
			c->state = C_RECEIVING;
			break;
		case C_RECEIVING: {
			int status = 0, r;
			const char *body = NULL;
			size_t blen = 0, room;
			bool eof = false, close_after = false;

			if (!c->rd_ready)
				return;
			if (c->resp_cap - c->resp_len < 4096) {
				size_t nc = c->resp_cap * 2;
				char *p;
				if (nc > RESP_MAX || !(p = realloc(c->resp, nc))) {
					request_fail(c, "response too large");
					break;
				}
				c->resp = p;
				c->resp_cap = nc;
			}
			room = c->resp_cap - c->resp_len;
			n = recv(c->fd, c->resp + c->resp_len, room, 0);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->rd_ready = false;
					return;
				}
				if (errno == EINTR)
					break;
				request_fail(c, "recv failed");
				break;
			}
			if (n == 0)
				eof = true;
			else if ((size_t)n < room)
				c->rd_ready = false; /* drained: the next data brings a new edge */
			c->resp_len += (size_t)n;
			r = response_parse(c, eof, &status, &body, &blen, &close_after);
			if (r < 0) {
				request_fail(c,
					     eof ? "connection closed by the hub" : "bad response");
				break;
			}
			if (r == 0) {
				if (eof) {
					request_fail(c, "connection closed by the hub");
					break;
				}
				if (!c->rd_ready)
					return;
				break;
			}
			now = mono_ns();
			response_done(c, now, status, body, blen);
			if (close_after || eof) {
				conn_close(c);
				c->reconnect = true;
			}
			break;
		}
		case C_SLEEPING:
		case C_DONE:
			return;
		}
	}
}

/* End of a sleep: resend the request a 503 refused, or try to connect again. */
static void wake(struct conn *c, int64_t now)
{
	if (!c->resend) {
		c->state = C_IDLE;
		return;
	}
	c->resend = false;
	if ((c->reconnect || c->fd < 0) && conn_open(c) < 0) {
		request_fail(c, "cannot reconnect");
		return;
	}
	c->sent = 0;
	c->resp_len = 0;
	c->deadline = now + (int64_t)(o.timeout * 1e9);
	c->state = C_SENDING;
}

static void usage(void)
{
	fputs("usage: loadgen --url http://127.0.0.1:PORT --key KEY [--conns N] [--batch B]\n"
	      "               [--events TOTAL] [--seconds S] [--ndjson] [--seed X] [--pool N]\n"
	      "               [--progress EVERY] [--timeout S]\n"
	      "       loadgen --url http://127.0.0.1:PORT --token JWT --query 'PATH?QUERY'\n"
	      "               [--requests N] [--conns C] [--warmup W] [--seconds S]\n"
	      "       loadgen --sample N [--seed X]      print N events as NDJSON\n"
	      "       loadgen --pool-ip I                print address I of the source_ip pool\n"
	      "Counts take k/M suffixes. Load stops at --events or --seconds, whichever comes\n"
	      "first (default 60 s, or 3600 s with --events).\n",
	      stderr);
	exit(2);
}

static void print_results(void)
{
	double secs = (double)((t_last > t0 ? t_last : mono_ns()) - t0) / 1e9;
	uint64_t total = 0;

	for (size_t i = 0; i < H_BUCKETS; i++)
		total += hist[i];
	if (secs <= 0)
		secs = 1e-9;
	printf("{\"requests\":%lld,\"events\":%lld,\"seconds\":%.3f,\"events_per_s\":%.0f,"
	       "\"requests_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":%lld,"
	       "\"retries_503\":%lld,\"max_ms\":%.3f,\"duplicates\":%lld,\"conns\":%d,"
	       "\"client_cpu_s\":%.3f,",
	       n_ok_requests, n_events, secs, (double)n_events / secs, (double)n_ok_requests / secs,
	       h_quantile(total, 0.50), h_quantile(total, 0.99), n_errors, n_503,
	       (double)max_us / 1000.0, n_dups, o.conns, gen_cpu_seconds() - cpu0);
	if (o.query)
		printf("\"mode\":\"query\",\"avg_bytes\":%.0f,\"avg_rows\":%.1f}\n",
		       n_ok_requests ? (double)resp_bytes / (double)n_ok_requests : 0.0,
		       n_ok_requests ? (double)resp_rows / (double)n_ok_requests : 0.0);
	else
		printf("\"mode\":\"ingest\",\"batch\":%d,\"ndjson\":%s,\"avg_event_bytes\":%.0f}\n",
		       o.batch, o.ndjson ? "true" : "false",
		       pool_n
			   ? (double)(pool_off[pool_n - 1] + pool_len[pool_n - 1]) / (double)pool_n
			   : 0.0);
	fflush(stdout);
}

static void sample(long long n)
{
	struct conn c = {0};
	o.batch = 1;
	o.ndjson = true;
	o.pool = n;
	pool_build();
	c.req = malloc(pool_max_len + 2);
	if (!c.req)
		die("out of memory");
	for (long long i = 0; i < n; i++) {
		size_t k = body_build(&c, c.req, 1);
		fwrite(c.req, 1, k, stdout);
	}
	free(c.req);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"url", 1, 0, 'u'},
					   {"key", 1, 0, 'k'},
					   {"token", 1, 0, 't'},
					   {"conns", 1, 0, 'c'},
					   {"batch", 1, 0, 'b'},
					   {"events", 1, 0, 'e'},
					   {"seconds", 1, 0, 's'},
					   {"ndjson", 0, 0, 'n'},
					   {"seed", 1, 0, 'S'},
					   {"query", 1, 0, 'q'},
					   {"requests", 1, 0, 'r'},
					   {"pool", 1, 0, 'p'},
					   {"progress", 1, 0, 'P'},
					   {"timeout", 1, 0, 'T'},
					   {"warmup", 1, 0, 'w'},
					   {"sample", 1, 0, 'x'},
					   {"pool-ip", 1, 0, 'i'},
					   {"help", 0, 0, 'h'},
					   {0, 0, 0, 0}};
	long long v, sample_n = 0, pool_ip = -1;
	bool have_url = false;
	int opt;

	o.conns = 1;
	o.batch = 1;
	o.requests = 100;
	o.pool = 20000;
	o.seconds = -1;
	o.timeout = 30;
	o.seed = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'u':
			if (parse_url(optarg) < 0)
				die("--url must be http://127.0.0.1:PORT[/prefix] (loopback only)");
			have_url = true;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 't':
			o.token = optarg;
			break;
		case 'q':
			o.query = optarg;
			break;
		case 'n':
			o.ndjson = true;
			break;
		case 'c':
			if (gen_parse_count(optarg, 1, MAX_CONNS, &v) < 0)
				die("bad --conns");
			o.conns = (int)v;
			break;
		case 'b':
			if (gen_parse_count(optarg, 1, 100000, &v) < 0)
				die("bad --batch");
			o.batch = (int)v;
			break;
		case 'e':
			if (gen_parse_count(optarg, 1, 1000000000000LL, &o.events) < 0)
				die("bad --events");
			break;
		case 'r':
			if (gen_parse_count(optarg, 1, 100000000, &o.requests) < 0)
				die("bad --requests");
			break;
		case 'p':
			if (gen_parse_count(optarg, 1, 1000000, &o.pool) < 0)
				die("bad --pool");
			break;
		case 'P':
			if (gen_parse_count(optarg, 1, 1000000000000LL, &o.progress) < 0)
				die("bad --progress");
			break;
		case 'w':
			if (gen_parse_count(optarg, 0, 1000000, &v) < 0)
				die("bad --warmup");
			o.warmup = (int)v;
			break;
		case 'S':
			if (gen_parse_count(optarg, 0, INT64_MAX / 1000000, &v) < 0)
				die("bad --seed");
			o.seed = (uint64_t)v;
			break;
		case 'x':
			if (gen_parse_count(optarg, 1, 100000, &sample_n) < 0)
				die("bad --sample");
			break;
		case 'i':
			if (gen_parse_count(optarg, 0, GEN_IPS - 1, &pool_ip) < 0)
				die("bad --pool-ip");
			break;
		case 's':
		case 'T': {
			char *end;
			double d = strtod(optarg, &end);
			if (*end || !(d > 0 && d <= 86400))
				die(opt == 's' ? "bad --seconds" : "bad --timeout");
			*(opt == 's' ? &o.seconds : &o.timeout) = d;
			break;
		}
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (pool_ip >= 0) {
		printf("%s\n", gen_pool_ip((size_t)pool_ip));
		return 0;
	}
	if (gen_init(&gen, o.seed) < 0)
		die("no random source");
	if (sample_n) {
		sample(sample_n);
		return 0;
	}
	if (!have_url || (o.query ? !o.token : !o.key))
		usage();
	if (strlen(o.key ? o.key : o.token) > 600 || (o.query && strlen(o.query) > 300))
		die("key, token or query too long");
	if (o.seconds < 0)
		o.seconds = o.events && !o.query ? 3600 : 60;
	if (!o.query && o.pool < o.batch)
		o.pool = o.batch; /* a batch never repeats an event body */

	signal(SIGPIPE, SIG_IGN);
	if (!o.query)
		pool_build();
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1 failed");

	struct conn *cs = calloc((size_t)o.conns, sizeof(*cs));
	if (!cs)
		die("out of memory");
	for (int i = 0; i < o.conns; i++) {
		struct conn *c = &cs[i];
		int e;
		c->fd = -1;
		c->req_cap = HDR_ROOM + (o.query ? 0 : (size_t)o.batch * (pool_max_len + 1) + 2);
		c->resp_cap = 64 * 1024;
		c->req = malloc(c->req_cap);
		c->resp = malloc(c->resp_cap);
		if (!c->req || !c->resp)
			die("out of memory");
		if ((e = conn_open(c)) < 0) {
			fprintf(stderr, "loadgen: cannot connect to 127.0.0.1:%d: %s\n", o.port,
				strerror(-e));
			return 1;
		}
	}
	/* pool ids and bodies are ready: the clock starts here */
	cpu0 = gen_cpu_seconds();
	t0 = t_progress = mono_ns();
	progress_mark = o.progress;
	for (int i = 0; i < o.conns; i++)
		drive(&cs[i]);

	int64_t hard_stop = t0 + (int64_t)((o.seconds + o.timeout) * 1e9);
	struct epoll_event evs[64];
	for (;;) {
		int64_t now = mono_ns(), next = now + 100 * 1000000LL;
		bool busy = false;

		for (int i = 0; i < o.conns; i++) {
			struct conn *c = &cs[i];
			if (c->state == C_SLEEPING) {
				if (c->wake_at <= now) {
					wake(c, now);
					drive(c);
				} else if (c->wake_at < next) {
					next = c->wake_at;
				}
			}
			if ((c->state == C_SENDING || c->state == C_RECEIVING) && now > c->deadline)
				request_fail(c, "request timed out"), drive(c);
			if (c->state == C_IDLE)
				drive(c);
			if (c->state != C_DONE)
				busy = true;
		}
		if (!busy)
			break;
		if (now >= hard_stop) {
			for (int i = 0; i < o.conns; i++)
				if (cs[i].state == C_SENDING || cs[i].state == C_RECEIVING ||
				    (cs[i].state == C_SLEEPING && cs[i].resend))
					n_errors++, log_error("unfinished at the time limit", NULL);
			break;
		}
		int ms = (int)((next - now) / 1000000) + 1;
		int n = epoll_wait(ep, evs, 64, ms);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			uint32_t e = evs[i].events;
			if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				c->rd_ready = true;
			if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
				c->wr_ready = true;
			drive(c);
		}
	}
	print_results();
	for (int i = 0; i < o.conns; i++) {
		conn_close(&cs[i]);
		free(cs[i].req);
		free(cs[i].resp);
	}
	free(cs);
	return n_errors ? 1 : 0;
}
