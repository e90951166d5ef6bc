/* test_syslog_listen.c — the syslog receivers against a real store and pipeline: UDP and TCP
 * (both framings, split writes, many connections), oversize, garbage, limits, drops, stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/strbuf.h"
#include "ingest/pipeline.h"
#include "source/syslog_int.h"
#include "source/syslog_listen.h"
#include "store/store.h"

#define DEADLINE_MS 15000
#define MAX_MSG 1024 /* the listeners' max_msg in these tests */

static char DIRPATH[64];
static char DBPATH[128];
static struct store *S;
static struct pipeline *P;
static struct syslog_listener *L;

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

static int open_all(size_t queue_max, const char *udp, const char *tcp, int rcvbuf)
{
	snprintf(DIRPATH, sizeof(DIRPATH), "/tmp/test_syslog.XXXXXX");
	if (!mkdtemp(DIRPATH))
		return -1;
	snprintf(DBPATH, sizeof(DBPATH), "%s/store", DIRPATH);
	struct store_config c = {0};
	store_config_defaults(&c);
	c.dir = DBPATH;
	c.cache_mb = 2;
	if (store_open(&S, &c) < 0 || pipeline_start(&P, S, queue_max, 0) < 0)
		return -1;
	struct syslog_config sc = {.udp = udp, .tcp = tcp, .max_msg = MAX_MSG, .rcvbuf = rcvbuf};
	return syslog_listen_start(&L, &sc, P) < 0 ? -1 : 0;
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_ERROR);
	syslog_listen_set_limits(0, 0);
	return open_all(0, "127.0.0.1:0", "127.0.0.1:0", 0);
}

static int teardown(void **state)
{
	(void)state;
	syslog_listen_stop(L);
	L = NULL;
	pipeline_stop(P);
	P = NULL;
	store_close(S);
	S = NULL;
	syslog_listen_set_limits(0, 0);
	test_rm_tree(DIRPATH);
	return 0;
}

/* ---- sending ---- */

static struct sockaddr_storage addr_of(int family, unsigned port, socklen_t *len)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	}
	return ss;
}

static int udp_sock(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	return fd;
}

static void udp_send_fd(int fd, int family, unsigned port, const void *p, size_t n)
{
	socklen_t len;
	struct sockaddr_storage ss = addr_of(family, port, &len);
	assert_int_equal(sendto(fd, p, n, 0, (struct sockaddr *)&ss, len), (ssize_t)n);
}

static void udp_send(const char *msg)
{
	int fd = udp_sock();
	udp_send_fd(fd, AF_INET, syslog_listen_udp_port(L), msg, strlen(msg));
	close(fd);
}

static int tcp_connect_to(int family, unsigned port)
{
	socklen_t len;
	struct sockaddr_storage ss = addr_of(family, port, &len);
	int fd = socket(family, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

static int tcp_connect(void)
{
	return tcp_connect_to(AF_INET, syslog_listen_tcp_port(L));
}

static void tcp_send(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		assert_true(w > 0);
		c += w;
		n -= (size_t)w;
	}
}

static void tcp_sends(int fd, const char *s)
{
	tcp_send(fd, s, strlen(s));
}

/* ---- what the store holds ---- */

/* Every stored event, newest first (pages of 1000). */
static json_t *all_events(void)
{
	json_t *out = json_array();
	struct event_query q;
	memset(&q, 0, sizeof(q));
	q.from = INT64_MIN;
	q.to = INT64_MAX;
	q.limit = 1000;
	for (;;) {
		bool more = false;
		int64_t ts = 0, seq = 0;
		assert_int_equal(store_query_events(S, &q, out, &more, &ts, &seq), 0);
		if (!more)
			return out;
		q.has_cursor = true;
		q.cursor_ts = ts;
		q.cursor_seq = seq;
	}
}

static json_t *all_dead(void)
{
	json_t *out = json_array();
	assert_int_equal(store_list_dead_letters(S, 1000, out), 0);
	return out;
}

/* Poll the store until it holds n events and d dead letters; fail at the deadline or on
 * more. Returns the events. */
static json_t *wait_stored(size_t n, size_t d)
{
	int64_t end = now_ms() + DEADLINE_MS;
	for (;;) {
		json_t *ev = all_events(), *dl = all_dead();
		size_t ne = json_array_size(ev), nd = json_array_size(dl);
		json_decref(dl);
		if (ne == n && nd == d)
			return ev;
		json_decref(ev);
		if (ne > n || nd > d)
			fail_msg("store holds %zu events and %zu dead letters, want %zu and %zu",
				 ne, nd, n, d);
		if (now_ms() > end)
			fail_msg(
			    "after %d ms the store holds %zu events and %zu dead letters, want "
			    "%zu and %zu",
			    DEADLINE_MS, ne, nd, n, d);
		pause_ms(5);
	}
}

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The event whose message is msg (fails when there is none or more than one). */
static json_t *by_message(json_t *events, const char *msg)
{
	json_t *found = NULL, *e;
	size_t i;
	json_array_foreach (events, i, e) {
		const char *m = str(e, "message");
		if (m && strcmp(m, msg) == 0) {
			if (found)
				fail_msg("two events with message '%s'", msg);
			found = e;
		}
	}
	if (!found)
		fail_msg("no event with message '%s'", msg);
	return found;
}

static bool truncated(json_t *e, const char *field)
{
	json_t *t = json_object_get(e, "truncated"), *v;
	size_t i;
	json_array_foreach (t, i, v) {
		if (strcmp(json_string_value(v), field) == 0)
			return true;
	}
	return false;
}

static void check_event(json_t *e, const char *host, const char *app, const char *source)
{
	assert_string_equal(str(e, "source_host"), host);
	if (app)
		assert_string_equal(str(e, "app"), app);
	else
		assert_null(str(e, "app"));
	assert_string_equal(str(e, "source"), source);
	assert_null(json_object_get(e, "truncated"));
}

/* The whole stored event (with raw_message). */
static json_t *full(json_t *e)
{
	uint8_t id[16];
	json_t *out = NULL;
	assert_int_equal(uuid_parse(str(e, "event_id"), 36, id), 0);
	assert_int_equal(store_get_event(S, id, &out), 0);
	return out;
}

/* A metric's current value from the Prometheus rendering ("name" or "name{labels}"). */
static int64_t metric(const char *series)
{
	struct strbuf b;
	strbuf_init(&b, 1 << 20);
	assert_int_equal(metrics_render(&b), 0);
	size_t sl = strlen(series);
	int64_t v = -1;
	for (const char *line = b.p; line && *line;) {
		if (strncmp(line, series, sl) == 0 && line[sl] == ' ') {
			v = strtoll(line + sl + 1, NULL, 10);
			break;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	strbuf_release(&b);
	if (v < 0)
		fail_msg("no metric %s", series);
	return v;
}

static void wait_metric(const char *series, int64_t want)
{
	int64_t end = now_ms() + DEADLINE_MS;
	while (metric(series) < want) {
		if (now_ms() > end)
			fail_msg("%s is %lld after %d ms, want %lld", series,
				 (long long)metric(series), DEADLINE_MS, (long long)want);
		pause_ms(2);
	}
}

static void wait_metric_eq(const char *series, int64_t want)
{
	int64_t end = now_ms() + DEADLINE_MS;
	while (metric(series) != want) {
		if (now_ms() > end)
			fail_msg("%s is %lld after %d ms, want %lld", series,
				 (long long)metric(series), DEADLINE_MS, (long long)want);
		pause_ms(2);
	}
}

/* Wait until the server closed fd (read gives 0 or an error). */
static void wait_closed(int fd)
{
	int64_t end = now_ms() + DEADLINE_MS;
	char c[64];
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int left = (int)(end - now_ms());
		if (left <= 0)
			fail_msg("the server did not close the connection");
		if (poll(&pf, 1, left) == 1) {
			ssize_t r = recv(fd, c, sizeof(c), MSG_DONTWAIT);
			if (r <= 0)
				return;
		}
	}
}

/* ---- UDP ---- */

static void udp_rfc5424_and_3164(void **state)
{
	(void)state;
	unsigned port = syslog_listen_udp_port(L);
	assert_true(port > 0 && port < 65536);
	udp_send("<34>1 2024-03-15T12:34:56.123Z web1.example.com sshd 4242 ID47 - hello 5424");
	udp_send("<13>Mar 15 12:34:56 db2 cron[77]: hello 3164");
	udp_send("<13>1 2024-03-15T12:34:56Z - myapp - - - nil hostname");
	json_t *ev = wait_stored(3, 0);
	check_event(by_message(ev, "hello 5424"), "web1.example.com", "sshd", "syslog_udp");
	check_event(by_message(ev, "hello 3164"), "db2", "cron", "syslog_udp");
	/* No HOSTNAME: the sender's address. */
	check_event(by_message(ev, "nil hostname"), "127.0.0.1", "myapp", "syslog_udp");
	json_t *f = full(by_message(ev, "hello 3164"));
	assert_string_equal(str(f, "raw_message"), "<13>Mar 15 12:34:56 db2 cron[77]: hello 3164");
	json_decref(f);
	json_decref(ev);
}

static void udp_many_datagrams(void **state)
{
	(void)state;
	int fd = udp_sock();
	char msg[128];
	int64_t before = metric("minisiem_events_received_total{source=\"syslog_udp\"}");
	for (int i = 0; i < 300; i++) {
		int n = snprintf(msg, sizeof(msg),
				 "<14>1 2024-03-15T12:00:00Z h%d app - - - udp %d", i % 7, i);
		udp_send_fd(fd, AF_INET, syslog_listen_udp_port(L), msg, (size_t)n);
	}
	close(fd);
	json_t *ev = wait_stored(300, 0);
	for (int i = 0; i < 300; i += 37) {
		char want[32], host[8];
		snprintf(want, sizeof(want), "udp %d", i);
		snprintf(host, sizeof(host), "h%d", i % 7);
		check_event(by_message(ev, want), host, "app", "syslog_udp");
	}
	json_decref(ev);
	assert_int_equal(metric("minisiem_events_received_total{source=\"syslog_udp\"}") - before,
			 300);
}

static void udp_oversize_truncated(void **state)
{
	(void)state;
	char big[3000];
	int n = snprintf(big, sizeof(big), "<13>1 2024-03-15T12:00:00Z host1 big - - - ");
	memset(big + n, 'x', sizeof(big) - (size_t)n - 1);
	big[sizeof(big) - 1] = '\0';
	int64_t before = metric("minisiem_syslog_truncated_total{source=\"syslog_udp\"}");
	udp_send(big);
	udp_send("<13>1 2024-03-15T12:00:00Z host1 small - - - after the big one");
	json_t *ev = wait_stored(2, 0);
	json_t *e = by_message(ev, "after the big one");
	check_event(e, "host1", "small", "syslog_udp");
	json_t *b = NULL, *x;
	size_t i;
	json_array_foreach (ev, i, x) {
		if (str(x, "app") && strcmp(str(x, "app"), "big") == 0)
			b = x;
	}
	assert_non_null(b);
	assert_true(truncated(b, "raw_message"));
	assert_true(truncated(b, "message"));
	json_t *f = full(b);
	assert_int_equal(strlen(str(f, "raw_message")), MAX_MSG);
	assert_memory_equal(str(f, "raw_message"), big, MAX_MSG);
	json_decref(f);
	json_decref(ev);
	assert_int_equal(metric("minisiem_syslog_truncated_total{source=\"syslog_udp\"}") - before,
			 1);
}

static void udp_empty_and_garbage(void **state)
{
	(void)state;
	int fd = udp_sock();
	unsigned port = syslog_listen_udp_port(L);
	static const unsigned char garbage[] = {0x00, 0xff, 0xfe, 0x01, 0x80, 0x00, 0x7f, 0xc3};
	int64_t rej = metric("minisiem_events_rejected_total{source=\"syslog_udp\"}");
	udp_send_fd(fd, AF_INET, port, "", 0);
	udp_send_fd(fd, AF_INET, port, "\r\n", 2);
	udp_send_fd(fd, AF_INET, port, garbage, sizeof(garbage));
	udp_send_fd(fd, AF_INET, port, "<13>1 2024-03-15T12:00:00Z h a - - - still fine", 47);
	close(fd);
	/* The empty ones are dead letters; the garbage is either, but never lost. */
	int64_t end = now_ms() + DEADLINE_MS;
	json_t *ev = NULL, *dl = NULL;
	for (;;) {
		ev = all_events();
		dl = all_dead();
		if (json_array_size(ev) + json_array_size(dl) == 4)
			break;
		assert_true(json_array_size(ev) + json_array_size(dl) < 4);
		assert_true(now_ms() < end);
		json_decref(ev);
		json_decref(dl);
		pause_ms(5);
	}
	check_event(by_message(ev, "still fine"), "h", "a", "syslog_udp");
	assert_true(json_array_size(dl) >= 2);
	size_t empty = 0, i;
	json_t *d;
	json_array_foreach (dl, i, d) {
		assert_string_equal(str(d, "source"), "syslog_udp");
		assert_non_null(str(d, "reason"));
		assert_true(strlen(str(d, "reason")) > 0);
		const char *raw = str(d, "raw");
		if (raw && (strcmp(raw, "") == 0 || strcmp(raw, "\r\n") == 0))
			empty++;
	}
	assert_int_equal(empty, 2);
	assert_int_equal(metric("minisiem_events_rejected_total{source=\"syslog_udp\"}") - rej,
			 (int64_t)json_array_size(dl));
	wait_metric("minisiem_dead_letters_total{source=\"syslog_udp\"}",
		    (int64_t)json_array_size(dl));
	json_decref(ev);
	json_decref(dl);
}

/* ---- TCP ---- */

static void tcp_newline_framing(void **state)
{
	(void)state;
	int fd = tcp_connect();
	tcp_sends(fd, "<13>Mar 15 12:34:56 h1 a1: one\n<13>Mar 15 12:34:56 h1 a1: two\r\n");
	/* One message split over many writes, one byte at a time for a while. */
	const char *m = "<13>Mar 15 12:34:56 h2 a2[9]: three split\n";
	for (size_t i = 0; i < 20; i++)
		tcp_send(fd, m + i, 1);
	tcp_sends(fd, m + 20);
	/* The last message has no LF: it ends with the connection. */
	tcp_sends(fd, "<13>Mar 15 12:34:56 h3 a3: four");
	pause_ms(1);
	close(fd);
	json_t *ev = wait_stored(4, 0);
	check_event(by_message(ev, "one"), "h1", "a1", "syslog_tcp");
	check_event(by_message(ev, "two"), "h1", "a1", "syslog_tcp");
	check_event(by_message(ev, "three split"), "h2", "a2", "syslog_tcp");
	check_event(by_message(ev, "four"), "h3", "a3", "syslog_tcp");
	json_decref(ev);
}

static void tcp_octet_counting(void **state)
{
	(void)state;
	int fd = tcp_connect();
	const char *a = "<13>1 2024-03-15T12:00:00Z h1 oc - - - first\nwith newline inside";
	const char *b = "<13>1 2024-03-15T12:00:00Z h1 oc - - - second";
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%zu %s%zu %s", strlen(a), a, strlen(b), b);
	/* Split inside the length, after it, and inside the body. */
	tcp_send(fd, buf, 1);
	tcp_send(fd, buf + 1, 2);
	tcp_send(fd, buf + 3, 10);
	tcp_send(fd, buf + 13, (size_t)n - 13);
	/* A trailing LF after a counted frame (some senders add one), then newline framing
	 * and counting mixed on one connection; a digit run without a space is text. */
	const char *c = "<13>1 2024-03-15T12:00:00Z h1 oc - - - third";
	n = snprintf(buf, sizeof(buf), "%zu %s\n12345:not a length\n", strlen(c), c);
	tcp_send(fd, buf, (size_t)n);
	close(fd);
	json_t *ev = wait_stored(4, 0);
	check_event(by_message(ev, "first\nwith newline inside"), "h1", "oc", "syslog_tcp");
	check_event(by_message(ev, "second"), "h1", "oc", "syslog_tcp");
	check_event(by_message(ev, "third"), "h1", "oc", "syslog_tcp");
	json_t *e = NULL, *x;
	size_t i;
	json_array_foreach (ev, i, x) {
		json_t *f = full(x);
		if (strcmp(str(f, "raw_message"), "12345:not a length") == 0)
			e = x;
		json_decref(f);
	}
	assert_non_null(e);
	assert_string_equal(str(e, "source_host"), "127.0.0.1");
	json_decref(ev);
}

struct sender {
	pthread_t th;
	int id, msgs;
	unsigned port;
};

static void *send_conn(void *arg)
{
	struct sender *s = arg;
	int fd = tcp_connect_to(AF_INET, s->port);
	char buf[256];
	for (int i = 0; i < s->msgs; i++) {
		const char *fmt =
		    i % 2 ? "<13>1 2024-03-15T12:00:00Z c%d many - - - conn %d msg %d\n" : "%.0s";
		int n;
		if (i % 2) {
			n = snprintf(buf, sizeof(buf), fmt, s->id, s->id, i);
		} else {
			char m[200];
			int k = snprintf(m, sizeof(m),
					 "<13>1 2024-03-15T12:00:00Z c%d many - - - conn %d msg %d",
					 s->id, s->id, i);
			n = snprintf(buf, sizeof(buf), "%d %s", k, m);
		}
		/* Write each message in two pieces, so frames straddle reads. */
		tcp_send(fd, buf, (size_t)n / 2);
		tcp_send(fd, buf + n / 2, (size_t)n - (size_t)n / 2);
	}
	close(fd);
	return NULL;
}

static void tcp_many_connections(void **state)
{
	(void)state;
	enum { CONNS = 60, MSGS = 25 };
	static struct sender s[CONNS];
	for (int i = 0; i < CONNS; i++) {
		s[i] = (struct sender){.id = i, .msgs = MSGS, .port = syslog_listen_tcp_port(L)};
		assert_int_equal(pthread_create(&s[i].th, NULL, send_conn, &s[i]), 0);
	}
	for (int i = 0; i < CONNS; i++)
		pthread_join(s[i].th, NULL);
	json_t *ev = wait_stored(CONNS * MSGS, 0);
	for (int i = 0; i < CONNS; i += 7) {
		for (int j = 0; j < MSGS; j += 6) {
			char want[64], host[16];
			snprintf(want, sizeof(want), "conn %d msg %d", i, j);
			snprintf(host, sizeof(host), "c%d", i);
			check_event(by_message(ev, want), host, "many", "syslog_tcp");
		}
	}
	json_decref(ev);
	wait_metric_eq("minisiem_syslog_tcp_connections", 0);
}

static json_t *by_app(json_t *events, const char *app)
{
	json_t *x, *found = NULL;
	size_t i;
	json_array_foreach (events, i, x) {
		if (str(x, "app") && strcmp(str(x, "app"), app) == 0) {
			assert_null(found);
			found = x;
		}
	}
	assert_non_null(found);
	return found;
}

static void check_cut(json_t *e, const char *head)
{
	assert_true(truncated(e, "raw_message"));
	assert_true(truncated(e, "message"));
	json_t *f = full(e);
	const char *raw = str(f, "raw_message");
	assert_int_equal(strlen(raw), MAX_MSG);
	assert_memory_equal(raw, head, strlen(head));
	json_decref(f);
}

static void tcp_oversize_truncated(void **state)
{
	(void)state;
	int64_t before = metric("minisiem_syslog_truncated_total{source=\"syslog_tcp\"}");
	enum { BIG = 5000 };
	static char line[BIG + 1];
	const char *head = "<13>1 2024-03-15T12:00:00Z big1 nl - - - ";
	memset(line, 'y', BIG);
	memcpy(line, head, strlen(head));
	line[BIG] = '\0';
	int fd = tcp_connect();
	/* Newline framing: cut at MAX_MSG, the rest up to the LF discarded, the next line kept. */
	tcp_send(fd, line, BIG);
	tcp_sends(fd, "\n<13>1 2024-03-15T12:00:00Z h nl-next - - - after the long line\n");
	/* Octet counting: the frame's excess discarded, the next frame kept. */
	const char *head2 = "<13>1 2024-03-15T12:00:00Z big2 oc - - - ";
	memcpy(line, head2, strlen(head2));
	char hdr[16];
	int n = snprintf(hdr, sizeof(hdr), "%d ", BIG);
	tcp_send(fd, hdr, (size_t)n);
	tcp_send(fd, line, BIG);
	const char *next = "<13>1 2024-03-15T12:00:00Z h oc-next - - - after the long frame";
	n = snprintf(hdr, sizeof(hdr), "%zu ", strlen(next));
	tcp_send(fd, hdr, (size_t)n);
	tcp_sends(fd, next);
	/* Exactly MAX_MSG bytes is not cut. */
	static char exact[MAX_MSG + 2];
	const char *head3 = "<13>1 2024-03-15T12:00:00Z h exact - - - ";
	memset(exact, 'z', MAX_MSG);
	memcpy(exact, head3, strlen(head3));
	exact[MAX_MSG] = '\n';
	tcp_send(fd, exact, MAX_MSG + 1);
	close(fd);

	json_t *ev = wait_stored(5, 0);
	check_cut(by_app(ev, "nl"), head);
	check_cut(by_app(ev, "oc"), head2);
	check_event(by_message(ev, "after the long line"), "h", "nl-next", "syslog_tcp");
	check_event(by_message(ev, "after the long frame"), "h", "oc-next", "syslog_tcp");
	json_t *x = by_app(ev, "exact");
	assert_null(json_object_get(x, "truncated"));
	json_t *f = full(x);
	assert_int_equal(strlen(str(f, "raw_message")), MAX_MSG);
	json_decref(f);
	json_decref(ev);
	assert_int_equal(metric("minisiem_syslog_truncated_total{source=\"syslog_tcp\"}") - before,
			 2);
}

static void tcp_empty_and_garbage(void **state)
{
	(void)state;
	int fd = tcp_connect();
	/* An empty line, an empty counted frame ("0 "), then binary garbage with a NUL, which
	 * ends a frame like LF: two frames. */
	tcp_send(fd, "\n0 ", 3);
	static const unsigned char garbage[] = {0x01, 0x00, 0xff, 0xfe, 0x80, '\n'};
	tcp_send(fd, garbage, sizeof(garbage));
	tcp_sends(fd, "<13>1 2024-03-15T12:00:00Z h a - - - still fine\n");
	close(fd);
	int64_t end = now_ms() + DEADLINE_MS;
	json_t *ev = NULL, *dl = NULL;
	for (;;) {
		ev = all_events();
		dl = all_dead();
		if (json_array_size(ev) + json_array_size(dl) == 5)
			break;
		assert_true(json_array_size(ev) + json_array_size(dl) < 5);
		assert_true(now_ms() < end);
		json_decref(ev);
		json_decref(dl);
		pause_ms(5);
	}
	check_event(by_message(ev, "still fine"), "h", "a", "syslog_tcp");
	assert_true(json_array_size(dl) >= 2);
	size_t empty = 0, i;
	json_t *d;
	json_array_foreach (dl, i, d) {
		assert_string_equal(str(d, "source"), "syslog_tcp");
		assert_true(strlen(str(d, "reason")) > 0);
		if (strcmp(str(d, "raw"), "") == 0)
			empty++;
	}
	assert_int_equal(empty, 2);
	json_decref(ev);
	json_decref(dl);
}

/* Python's SysLogHandler over TCP ends each record with a NUL and no newline; a frame left
 * without its terminator is taken once the sender pauses, and the connection stays open. */
static void tcp_nul_frames_and_pause(void **state)
{
	(void)state;
	int fd = tcp_connect();
	char rec[64];
	for (int i = 0; i < 200; i++) {
		int n = snprintf(rec, sizeof(rec), "<14>python: record %d", i);
		tcp_send(fd, rec, (size_t)n + 1); /* with its NUL */
	}
	/* NUL then LF is one terminator; NULs between frames are padding. */
	static const char both[] = "<14>python: nul and lf\0\n\0\0";
	tcp_send(fd, both, sizeof(both) - 1);
	tcp_sends(fd, "<14>python: no terminator yet");
	json_t *ev = wait_stored(202, 0);
	check_event(by_message(ev, "nul and lf"), "127.0.0.1", "python", "syslog_tcp");
	check_event(by_message(ev, "record 0"), "127.0.0.1", "python", "syslog_tcp");
	check_event(by_message(ev, "record 199"), "127.0.0.1", "python", "syslog_tcp");
	check_event(by_message(ev, "no terminator yet"), "127.0.0.1", "python", "syslog_tcp");
	json_decref(ev);
	/* A counted frame cut short by a pause: taken as truncated, its rest skipped when it
	 * comes, the next frame read as usual. */
	const char *part = "<13>1 2024-03-15T12:00:00Z h cut - - - first half";
	char hdr[16];
	int n = snprintf(hdr, sizeof(hdr), "%zu ", strlen(part) + 11);
	tcp_send(fd, hdr, (size_t)n);
	tcp_sends(fd, part);
	json_decref(wait_stored(203, 0));
	tcp_sends(fd, " other half<13>1 2024-03-15T12:00:00Z h after - - - on the same "
		      "connection\n");
	close(fd);
	ev = wait_stored(204, 0);
	check_event(by_message(ev, "on the same connection"), "h", "after", "syslog_tcp");
	json_t *cut = by_message(ev, "first half");
	assert_true(truncated(cut, "raw_message"));
	json_decref(ev);
}

static void tcp_idle_timeout(void **state)
{
	enum { IDLE_MS = 1000 };
	(void)state;
	teardown(state);
	syslog_listen_set_limits(0, IDLE_MS);
	assert_int_equal(open_all(0, NULL, "127.0.0.1:0", 0), 0);
	int64_t idle = metric("minisiem_syslog_tcp_idle_closed_total");
	int fd = tcp_connect();
	/* An unfinished line: kept as it is when the connection times out. */
	int64_t t0 = now_ms();
	tcp_sends(fd, "<13>1 2024-03-15T12:00:00Z h idle - - - no newline yet");
	wait_closed(fd);
	assert_true(now_ms() - t0 >= IDLE_MS - 1);
	close(fd);
	json_t *ev = wait_stored(1, 0);
	check_event(by_message(ev, "no newline yet"), "h", "idle", "syslog_tcp");
	json_decref(ev);
	assert_int_equal(metric("minisiem_syslog_tcp_idle_closed_total") - idle, 1);
	/* A connection that keeps sending is not closed, though it lives past the timeout. */
	fd = tcp_connect();
	for (int i = 0; i < 15; i++) {
		tcp_sends(fd, "<13>1 2024-03-15T12:00:00Z h busy - - - tick\n");
		pause_ms(100);
	}
	ev = wait_stored(16, 0);
	json_decref(ev);
	assert_int_equal(metric("minisiem_syslog_tcp_idle_closed_total") - idle, 1);
	close(fd);
}

static void tcp_connection_limit(void **state)
{
	(void)state;
	teardown(state);
	syslog_listen_set_limits(3, 0);
	assert_int_equal(open_all(0, NULL, "127.0.0.1:0", 0), 0);
	int64_t refused = metric("minisiem_syslog_tcp_connections_refused_total");
	int fds[3];
	char msg[128];
	for (int i = 0; i < 3; i++) {
		fds[i] = tcp_connect();
		snprintf(msg, sizeof(msg), "<13>1 2024-03-15T12:00:00Z h lim - - - conn %d\n", i);
		tcp_sends(fds[i], msg);
	}
	json_decref(wait_stored(3, 0)); /* all three are taken */
	int extra = tcp_connect();
	wait_closed(extra);
	close(extra);
	assert_int_equal(metric("minisiem_syslog_tcp_connections_refused_total") - refused, 1);
	/* Once one ends, a new one is taken. */
	close(fds[0]);
	wait_metric_eq("minisiem_syslog_tcp_connections", 2);
	int fd = tcp_connect();
	tcp_sends(fd, "<13>1 2024-03-15T12:00:00Z h lim - - - later\n");
	close(fd);
	json_t *ev = wait_stored(4, 0);
	check_event(by_message(ev, "later"), "h", "lim", "syslog_tcp");
	json_decref(ev);
	assert_int_equal(metric("minisiem_syslog_tcp_connections_refused_total") - refused, 1);
	close(fds[1]);
	close(fds[2]);
}

static void ipv6_udp_and_tcp(void **state)
{
	(void)state;
	int probe = socket(AF_INET6, SOCK_DGRAM, 0);
	socklen_t len;
	struct sockaddr_storage ss = addr_of(AF_INET6, 0, &len);
	bool ok = probe >= 0 && bind(probe, (struct sockaddr *)&ss, len) == 0;
	if (probe >= 0)
		close(probe);
	if (!ok)
		skip();
	teardown(state);
	assert_int_equal(open_all(0, "[::1]:0", "[::1]:0", 0), 0);
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	const char *m = "<13>1 2024-03-15T12:00:00Z - v6 - - - over udp6";
	udp_send_fd(fd, AF_INET6, syslog_listen_udp_port(L), m, strlen(m));
	close(fd);
	fd = tcp_connect_to(AF_INET6, syslog_listen_tcp_port(L));
	tcp_sends(fd, "<13>1 2024-03-15T12:00:00Z - v6 - - - over tcp6\n");
	close(fd);
	json_t *ev = wait_stored(2, 0);
	check_event(by_message(ev, "over udp6"), "::1", "v6", "syslog_udp");
	check_event(by_message(ev, "over tcp6"), "::1", "v6", "syslog_tcp");
	json_decref(ev);
}

static void bad_addresses(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "127.0.0.1",   "::1:514",  "[::1]514",	"127.0.0.1:99999",
	    "127.0.0.1:x", "[::1:514", "999.1.1.1:514", "host.invalid:514",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct syslog_listener *l = NULL;
		struct syslog_config c = {.udp = bad[i]};
		assert_true(syslog_listen_start(&l, &c, P) < 0);
		assert_null(l);
		c = (struct syslog_config){.tcp = bad[i]};
		assert_true(syslog_listen_start(&l, &c, P) < 0);
	}
	struct syslog_listener *l = NULL;
	struct syslog_config none = {0};
	assert_true(syslog_listen_start(&l, &none, P) < 0);
	/* A port in use. */
	char busy[32];
	snprintf(busy, sizeof(busy), "127.0.0.1:%u", syslog_listen_tcp_port(L));
	struct syslog_config c = {.tcp = busy};
	assert_true(syslog_listen_start(&l, &c, P) < 0);
	assert_int_equal(syslog_listen_udp_port(NULL), 0);
}

/* Bound before the hub drops privileges, receiving once the pipeline runs. */
static void bind_then_run(void **state)
{
	(void)state;
	struct syslog_listener *l = NULL;
	struct syslog_config c = {.udp = "127.0.0.1:0", .tcp = "127.0.0.1:0"};
	assert_int_equal(syslog_listen_bind(&l, &c), 0);
	assert_true(syslog_listen_udp_port(l) > 0);
	assert_true(syslog_listen_tcp_port(l) > 0);
	syslog_listen_stop(l); /* never ran */
	assert_int_equal(syslog_listen_bind(&l, &c), 0);
	int fd = tcp_connect_to(AF_INET, syslog_listen_tcp_port(l));
	tcp_sends(fd, "<13>1 2024-03-15T12:00:00Z h early - - - sent before run\n");
	assert_int_equal(syslog_listen_run(l, P), 0);
	json_t *ev = wait_stored(1, 0);
	check_event(by_message(ev, "sent before run"), "h", "early", "syslog_tcp");
	json_decref(ev);
	close(fd);
	syslog_listen_stop(l);
}

/* ---- the writer blocked: UDP drops are counted, TCP waits, stop commits everything ---- */

struct gate {
	struct ingest_batch j;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool entered, open;
};

static void gate_done(struct ingest_batch *j)
{
	struct gate *g = j->ctx;
	pthread_mutex_lock(&g->mu);
	g->entered = true;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

/* Park the writer in a job's done() until gate_open. */
static void gate_close(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->j.done = gate_done;
	g->j.ctx = g;
	assert_int_equal(pipeline_submit(P, &g->j), 0);
	int64_t end = now_ms() + DEADLINE_MS;
	pthread_mutex_lock(&g->mu);
	while (!g->entered && now_ms() < end) {
		pthread_mutex_unlock(&g->mu);
		pause_ms(1);
		pthread_mutex_lock(&g->mu);
	}
	bool entered = g->entered;
	pthread_mutex_unlock(&g->mu);
	assert_true(entered);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void udp_drops_counted(void **state)
{
	enum { N = 20000 };
	const char *rx = "minisiem_events_received_total{source=\"syslog_udp\"}";
	const char *dr = "minisiem_syslog_udp_dropped_total";
	const char *kd = "minisiem_syslog_udp_kernel_dropped_total";
	teardown(state);
	/* A queue of 50 events and the smallest receive buffer. */
	assert_int_equal(open_all(50, "127.0.0.1:0", NULL, 1), 0);
	int64_t rx0 = metric(rx), dr0 = metric(dr), kd0 = metric(kd);
	struct gate g;
	gate_close(&g);
	int fd = udp_sock();
	char msg[128];
	for (int i = 0; i < N; i++) {
		int n =
		    snprintf(msg, sizeof(msg), "<13>1 2024-03-15T12:00:00Z h drop - - - m %d", i);
		udp_send_fd(fd, AF_INET, syslog_listen_udp_port(L), msg, (size_t)n);
	}
	/* The writer stays parked until a batch has found the queue full for long enough to
	 * be dropped: a message at a time, so that some batch comes after the queued one. */
	int sent = N;
	int64_t end = now_ms() + DEADLINE_MS;
	while (metric(dr) - dr0 - (metric(kd) - kd0) == 0) {
		int n = snprintf(msg, sizeof(msg), "<13>1 2024-03-15T12:00:00Z h drop - - - m %d",
				 sent++);
		udp_send_fd(fd, AF_INET, syslog_listen_udp_port(L), msg, (size_t)n);
		assert_true(now_ms() < end);
		pause_ms(10);
	}
	close(fd);
	gate_open(&g);
	/* Every datagram is stored or counted as dropped; the kernel's drops show up within
	 * a second even when no datagram follows them. */
	end = now_ms() + DEADLINE_MS;
	size_t stored = 0;
	for (;;) {
		json_t *ev = all_events();
		stored = json_array_size(ev);
		json_decref(ev);
		if ((int64_t)stored + metric(dr) - dr0 == sent)
			break;
		if (now_ms() > end)
			fail_msg("stored %zu + dropped %lld != sent %d", stored,
				 (long long)(metric(dr) - dr0), sent);
		pause_ms(10);
	}
	int64_t received = metric(rx) - rx0, dropped = metric(dr) - dr0, kernel = metric(kd) - kd0;
	assert_true(dropped - kernel > 0);
	assert_int_equal(received + kernel, sent);
	assert_int_equal((int64_t)stored + dropped - kernel, received);
	print_message("udp drops: sent %d, stored %zu, dropped %lld (kernel %lld)\n", sent, stored,
		      (long long)dropped, (long long)kernel);
	json_decref(all_dead());
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
}

static void *send_many_tcp(void *arg)
{
	struct sender *s = arg;
	int fd = tcp_connect_to(AF_INET, s->port);
	char buf[128];
	for (int i = 0; i < s->msgs; i++) {
		int n =
		    snprintf(buf, sizeof(buf), "<13>1 2024-03-15T12:00:00Z h bp - - - m %d\n", i);
		tcp_send(fd, buf, (size_t)n);
	}
	close(fd);
	return NULL;
}

static void tcp_backpressure_no_loss(void **state)
{
	enum { N = 5000 };
	teardown(state);
	assert_int_equal(open_all(50, NULL, "127.0.0.1:0", 0), 0);
	int64_t dr0 = metric("minisiem_syslog_tcp_dropped_total");
	int64_t rx0 = metric("minisiem_events_received_total{source=\"syslog_tcp\"}");
	struct gate g;
	gate_close(&g);
	struct sender s = {.msgs = N, .port = syslog_listen_tcp_port(L)};
	assert_int_equal(pthread_create(&s.th, NULL, send_many_tcp, &s), 0);
	/* The receiver has read some and now waits for room instead of dropping. */
	wait_metric("minisiem_events_received_total{source=\"syslog_tcp\"}", rx0 + 100);
	gate_open(&g);
	pthread_join(s.th, NULL);
	json_t *ev = wait_stored(N, 0);
	json_decref(ev);
	assert_int_equal(metric("minisiem_syslog_tcp_dropped_total") - dr0, 0);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
}

static void *stop_thread(void *arg)
{
	syslog_listen_stop(arg);
	return NULL;
}

static void stop_commits_everything(void **state)
{
	(void)state;
	enum { N = 200 };
	int64_t u0 = metric("minisiem_events_received_total{source=\"syslog_udp\"}");
	int64_t t0 = metric("minisiem_events_received_total{source=\"syslog_tcp\"}");
	struct gate g;
	gate_close(&g);
	int ufd = udp_sock(), tfd = tcp_connect();
	char msg[128];
	for (int i = 0; i < N; i++) {
		int n =
		    snprintf(msg, sizeof(msg), "<13>1 2024-03-15T12:00:00Z h stop - - - u %d", i);
		udp_send_fd(ufd, AF_INET, syslog_listen_udp_port(L), msg, (size_t)n);
		n = snprintf(msg, sizeof(msg), "<13>1 2024-03-15T12:00:00Z h stop - - - t %d\n", i);
		tcp_send(tfd, msg, (size_t)n);
	}
	/* An unfinished frame on the open connection is kept at stop too. */
	tcp_sends(tfd, "<13>1 2024-03-15T12:00:00Z h stop - - - unfinished");
	close(ufd);
	wait_metric("minisiem_events_received_total{source=\"syslog_udp\"}", u0 + N);
	wait_metric("minisiem_events_received_total{source=\"syslog_tcp\"}", t0 + N);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, stop_thread, L), 0);
	L = NULL;
	/* stop waits for the commits, which the parked writer holds back. */
	pause_ms(50);
	json_t *ev = all_events();
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);
	gate_open(&g);
	pthread_join(th, NULL);
	/* Once stop returns everything is committed: no waiting here. */
	ev = all_events();
	assert_int_equal(json_array_size(ev), 2 * N + 1);
	check_event(by_message(ev, "u 0"), "h", "stop", "syslog_udp");
	check_event(by_message(ev, "t 199"), "h", "stop", "syslog_tcp");
	check_event(by_message(ev, "unfinished"), "h", "stop", "syslog_tcp");
	json_decref(ev);
	close(tfd);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(udp_rfc5424_and_3164, setup, teardown),
	    cmocka_unit_test_setup_teardown(udp_many_datagrams, setup, teardown),
	    cmocka_unit_test_setup_teardown(udp_oversize_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(udp_empty_and_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(tcp_newline_framing, setup, teardown),
	    cmocka_unit_test_setup_teardown(tcp_octet_counting, setup, teardown),
	    cmocka_unit_test_setup_teardown(tcp_many_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(tcp_oversize_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(tcp_empty_and_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(tcp_nul_frames_and_pause, setup, teardown),
	    cmocka_unit_test_setup_teardown(tcp_idle_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(tcp_connection_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(ipv6_udp_and_tcp, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_addresses, setup, teardown),
	    cmocka_unit_test_setup_teardown(bind_then_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(udp_drops_counted, setup, teardown),
	    cmocka_unit_test_setup_teardown(tcp_backpressure_no_loss, setup, teardown),
	    cmocka_unit_test_setup_teardown(stop_commits_everything, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
