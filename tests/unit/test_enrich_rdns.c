/* test_enrich_rdns.c — reverse DNS through c-ares against a tiny DNS responder on 127.0.0.1
 * (a thread of this test): a name fills later events, failures are cached, the TTL ends
 * both, the queue is bounded, hostile names are refused, private addresses are never asked,
 * and a listed name tags its event. Nothing leaves the loopback interface. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"

#include "core/arena.h"
#include "core/event.h"
#include "core/log.h"
#include "enrich/enrich.h"
#include "enrich/enrich_int.h"

#define DEADLINE_MS 10000

/* ---- the responder ---- */

static const struct {
	const char *q, *ptr; /* ptr NULL: NXDOMAIN */
} ZONE[] = {
    {"4.3.2.1.in-addr.arpa", "host-1.example.com"},
    {"5.3.2.1.in-addr.arpa", "Host-2.EXAMPLE.com"},
    {"6.3.2.1.in-addr.arpa", "ttl.example.com"},
    {"8.7.6.5.in-addr.arpa", NULL},
    {"7.7.7.7.in-addr.arpa", "evil/host.example.com"},	 /* c-ares lets '/' through */
    {"8.7.7.7.in-addr.arpa", "bad<script>.example.com"}, /* c-ares refuses it itself */
    {"9.9.9.9.in-addr.arpa", "mail.tagged.example.org"},
    {"8.8.8.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.8.4.1.0.0.2.ip6.arpa", "v6.example.net"},
};
#define NZONE (sizeof(ZONE) / sizeof(*ZONE))

static int SOCK = -1;
static unsigned short PORT;
static pthread_t RESPONDER;
static atomic_bool STOP;
static atomic_int COUNT[NZONE], OTHER; /* queries per name, and for names not in ZONE */

static int zone_find(const char *q)
{
	for (size_t i = 0; i < NZONE; i++)
		if (!strcasecmp(ZONE[i].q, q))
			return (int)i;
	return -1;
}

/* Write name as DNS labels at out (room for 256); returns the length. A name with an empty
 * label is written as given, dots and all, to test what a broken server could send. */
static size_t put_name(unsigned char *out, const char *name)
{
	size_t o = 0;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		out[o++] = (unsigned char)n;
		memcpy(out + o, p, n);
		o += n;
		p += n;
		if (*p == '.')
			p++;
	}
	out[o++] = 0;
	return o;
}

static void answer(const unsigned char *q, size_t n, struct sockaddr_in *from, socklen_t flen)
{
	if (n < 12 || q[2] & 0x80 || q[4] != 0 || q[5] != 1)
		return;
	/* The question's name, as text. */
	char name[300];
	size_t i = 12, o = 0;
	while (i < n && q[i]) {
		size_t len = q[i++];
		if (len > 63 || i + len > n || o + len + 1 >= sizeof(name))
			return;
		if (o)
			name[o++] = '.';
		memcpy(name + o, q + i, len);
		o += len;
		i += len;
	}
	name[o] = '\0';
	if (i + 5 > n)
		return;
	size_t qend = i + 5; /* the zero byte, type, class */
	int z = zone_find(name);
	if (z < 0)
		atomic_fetch_add(&OTHER, 1);
	else
		atomic_fetch_add(&COUNT[z], 1);
	bool found = z >= 0 && ZONE[z].ptr;

	unsigned char r[600];
	memcpy(r, q, qend);
	r[2] = (unsigned char)(0x80 | (q[2] & 0x01));	/* QR, RD as asked */
	r[3] = (unsigned char)(0x80 | (found ? 0 : 3)); /* RA; NOERROR or NXDOMAIN */
	r[6] = 0;
	r[7] = found ? 1 : 0;
	memset(r + 8, 0, 4);
	size_t k = qend;
	if (found) {
		static const unsigned char rr[] = {0xc0, 0x0c, 0, 12, 0, 1, 0, 0, 0x0e, 0x10};
		memcpy(r + k, rr, sizeof(rr));
		k += sizeof(rr);
		size_t len = put_name(r + k + 2, ZONE[z].ptr);
		r[k] = (unsigned char)(len >> 8);
		r[k + 1] = (unsigned char)len;
		k += 2 + len;
	}
	(void)sendto(SOCK, r, k, 0, (struct sockaddr *)from, flen);
}

static void *responder(void *arg)
{
	(void)arg;
	while (!atomic_load(&STOP)) {
		struct pollfd pf = {.fd = SOCK, .events = POLLIN};
		if (poll(&pf, 1, 20) <= 0)
			continue;
		unsigned char q[512];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(SOCK, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
		if (n > 0)
			answer(q, (size_t)n, &from, flen);
	}
	return NULL;
}

static int queries(const char *q)
{
	int z = zone_find(q);
	assert_true(z >= 0);
	return atomic_load(&COUNT[z]);
}

static int total_queries(void)
{
	int t = atomic_load(&OTHER);
	for (size_t i = 0; i < NZONE; i++)
		t += atomic_load(&COUNT[i]);
	return t;
}

/* ---- fixture ---- */

static char TMP[PATH_MAX];
static char SERVERS[64];
static struct arena A;

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_ERROR);
	char tmpl[] = "/tmp/test_enrich_rdns.XXXXXX";
	if (!mkdtemp(tmpl) || !realpath(tmpl, TMP))
		return -1;
	if ((SOCK = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sa);
	if (bind(SOCK, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(SOCK, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	PORT = ntohs(sa.sin_port);
	snprintf(SERVERS, sizeof(SERVERS), "127.0.0.1:%u", PORT);
	atomic_store(&STOP, false);
	if (pthread_create(&RESPONDER, NULL, responder, NULL))
		return -1;
	arena_init(&A, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	atomic_store(&STOP, true);
	pthread_join(RESPONDER, NULL);
	close(SOCK);
	arena_release(&A);
	test_rm_tree(TMP);
	return 0;
}

static struct enrich *open_rdns(int ttl_s, size_t cache_max, size_t queue_max, const char *intel)
{
	struct enrich_config c;
	memset(&c, 0, sizeof(c));
	c.rdns = true;
	c.rdns_servers = SERVERS;
	c.rdns_ttl_s = ttl_s;
	c.rdns_cache_max = cache_max;
	c.rdns_queue_max = queue_max;
	c.intel_dir = intel;
	struct enrich *e = NULL;
	assert_int_equal(enrich_open(&e, &c), 0);
	assert_non_null(e);
	struct strbuf p;
	strbuf_init(&p, 1024);
	if (enrich_problems(e, &p))
		fail_msg("problems: %s", p.p);
	strbuf_release(&p);
	return e;
}

static struct event event_of(const char *ip)
{
	struct event ev;
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(ip_parse(ip, strlen(ip), ev.ip), 0);
	ev.flags = EV_HAS_IP;
	return ev;
}

static char NAME[300];

static const char *rdns_of(struct enrich *e, const char *ip)
{
	struct event ev = event_of(ip);
	enrich_events(e, &ev, 1, &A);
	snprintf(NAME, sizeof(NAME), "%.*s", ev.rdns.p ? (int)ev.rdns.n : 0,
		 ev.rdns.p ? ev.rdns.p : "");
	return NAME;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Send events from ip until one comes back with name want (bounded). */
static void wait_name(struct enrich *e, const char *ip, const char *want)
{
	for (int waited = 0; waited < DEADLINE_MS; waited += 5) {
		if (!strcmp(rdns_of(e, ip), want))
			return;
		sleep_ms(5);
	}
	fail_msg("%s: rdns '%s', want '%s'", ip, NAME, want);
}

/* Send events from ip until the cache answers for it (a name or a failure). */
static void wait_cached(struct enrich *e, const char *ip)
{
	for (int waited = 0; waited < DEADLINE_MS; waited += 5) {
		int64_t h0 = metric_get(&enrich_m_rdns_cache_hits);
		rdns_of(e, ip);
		if (metric_get(&enrich_m_rdns_cache_hits) > h0)
			return;
		sleep_ms(5);
	}
	fail_msg("%s: never cached", ip);
}

/* ---- tests ---- */

static void test_name_fills_later_events(void **state)
{
	(void)state;
	int64_t miss0 = metric_get(&enrich_m_rdns_cache_misses);
	int64_t look0 = metric_get(&enrich_m_lookups[EN_RDNS]);
	struct enrich *e = open_rdns(0, 0, 0, NULL);
	/* The first event goes on without a name: nothing waits for the DNS. */
	assert_string_equal(rdns_of(e, "1.2.3.4"), "");
	assert_true(metric_get(&enrich_m_rdns_cache_misses) > miss0);
	wait_name(e, "1.2.3.4", "host-1.example.com");
	assert_int_equal(queries("4.3.2.1.in-addr.arpa"), 1);
	/* Later events: from the cache, no more queries. */
	int64_t hit0 = metric_get(&enrich_m_rdns_cache_hits);
	for (int i = 0; i < 20; i++)
		assert_string_equal(rdns_of(e, "1.2.3.4"), "host-1.example.com");
	assert_int_equal(metric_get(&enrich_m_rdns_cache_hits) - hit0, 20);
	assert_int_equal(queries("4.3.2.1.in-addr.arpa"), 1);
	assert_int_equal(metric_get(&enrich_m_lookups[EN_RDNS]) - look0, 1);

	/* Lower case, whatever the server sent. IPv6 too, and its mapped IPv4 form. */
	wait_name(e, "1.2.3.5", "host-2.example.com");
	wait_name(e, "2001:4860::8888", "v6.example.net");
	assert_string_equal(rdns_of(e, "::ffff:1.2.3.4"), "host-1.example.com");
	assert_true(metric_get(&enrich_m_rdns_entries) >= 3);

	/* Many events of one batch from one new address: one query. */
	struct event b[16];
	for (int i = 0; i < 16; i++)
		b[i] = event_of("9.9.9.9");
	enrich_events(e, b, 16, &A);
	wait_name(e, "9.9.9.9", "mail.tagged.example.org");
	assert_int_equal(queries("9.9.9.9.in-addr.arpa"), 1);
	enrich_close(e);
}

static void test_failure_cached(void **state)
{
	(void)state;
	int before = queries("8.7.6.5.in-addr.arpa");
	struct enrich *e = open_rdns(0, 0, 0, NULL);
	wait_cached(e, "5.6.7.8");
	assert_int_equal(queries("8.7.6.5.in-addr.arpa") - before, 1);
	for (int i = 0; i < 50; i++)
		assert_string_equal(rdns_of(e, "5.6.7.8"), "");
	/* Queries go out in order: once a later address has its name, a second query for the
	 * failed one would have been answered too. */
	wait_name(e, "1.2.3.6", "ttl.example.com");
	assert_int_equal(queries("8.7.6.5.in-addr.arpa") - before, 1);
	enrich_close(e);
}

static void test_ttl_expiry(void **state)
{
	(void)state;
	struct enrich *e = open_rdns(1, 0, 0, NULL);
	int before = queries("6.3.2.1.in-addr.arpa");
	int nx = queries("8.7.6.5.in-addr.arpa");
	wait_name(e, "1.2.3.6", "ttl.example.com");
	wait_cached(e, "5.6.7.8");
	assert_int_equal(queries("6.3.2.1.in-addr.arpa") - before, 1);
	/* Past the TTL the name and the failure are asked again. */
	bool again = false;
	for (int waited = 0; !again && waited < DEADLINE_MS; waited += 10) {
		rdns_of(e, "1.2.3.6");
		rdns_of(e, "5.6.7.8");
		again = queries("6.3.2.1.in-addr.arpa") - before >= 2 &&
			queries("8.7.6.5.in-addr.arpa") - nx >= 2;
		if (!again)
			sleep_ms(10);
	}
	assert_true(again);
	wait_name(e, "1.2.3.6", "ttl.example.com");
	enrich_close(e);
}

static void test_queue_bound(void **state)
{
	(void)state;
	int64_t drop0 = metric_get(&enrich_m_rdns_dropped);
	struct enrich *e = open_rdns(0, 0, 4, NULL);
	/* 200 new addresses in one batch: 4 queued, 196 dropped and counted. */
	struct event b[200];
	for (int i = 0; i < 200; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "11.0.%d.%d", i / 100, i % 100 + 1);
		b[i] = event_of(ip);
	}
	enrich_events(e, b, 200, &A);
	assert_int_equal(metric_get(&enrich_m_rdns_dropped) - drop0, 196);
	for (int i = 0; i < 200; i++)
		assert_null(b[i].rdns.p);
	/* A dropped address is asked by a later event. */
	wait_name(e, "1.2.3.4", "host-1.example.com");
	enrich_close(e);

	/* A cache of two: the oldest address makes room (and is asked again). */
	e = open_rdns(0, 2, 0, NULL);
	int q0 = queries("4.3.2.1.in-addr.arpa");
	wait_name(e, "1.2.3.4", "host-1.example.com");
	wait_name(e, "1.2.3.5", "host-2.example.com");
	wait_name(e, "1.2.3.6", "ttl.example.com");
	assert_true(metric_get(&enrich_m_rdns_entries) <= 2);
	wait_name(e, "1.2.3.4", "host-1.example.com");
	assert_int_equal(queries("4.3.2.1.in-addr.arpa") - q0, 2);
	enrich_close(e);
}

static void test_hostile_names_refused(void **state)
{
	(void)state;
	int64_t err0 = metric_get(&enrich_m_errors[EN_RDNS]);
	int64_t hit0 = metric_get(&enrich_m_hits[EN_RDNS]);
	struct enrich *e = open_rdns(0, 0, 0, NULL);
	wait_cached(e, "7.7.7.7");
	wait_cached(e, "7.7.7.8");
	assert_true(queries("7.7.7.7.in-addr.arpa") >= 1);
	assert_string_equal(rdns_of(e, "7.7.7.7"), "");
	assert_string_equal(rdns_of(e, "7.7.7.8"), "");
	assert_int_equal(metric_get(&enrich_m_errors[EN_RDNS]) - err0, 2);
	assert_int_equal(metric_get(&enrich_m_hits[EN_RDNS]) - hit0, 0);
	enrich_close(e);
}

static void test_private_never_asked(void **state)
{
	(void)state;
	static const char *const priv[] = {
	    "10.0.0.1",	   "192.168.1.1", "127.0.0.1", "172.16.0.1", "100.64.0.1",
	    "169.254.0.1", "::1",	  "fe80::1",   "fd00::1",    "::ffff:10.1.1.1"};
	struct enrich *e = open_rdns(0, 0, 0, NULL);
	int total0 = total_queries();
	int64_t skip0 = metric_get(&enrich_m_skipped_private);
	for (size_t i = 0; i < sizeof(priv) / sizeof(*priv); i++)
		assert_string_equal(rdns_of(e, priv[i]), "");
	wait_name(e, "1.2.3.4", "host-1.example.com");
	assert_int_equal(total_queries() - total0, 1);
	assert_int_equal(metric_get(&enrich_m_skipped_private) - skip0,
			 (int64_t)(sizeof(priv) / sizeof(*priv)));
	enrich_close(e);
}

static void test_listed_name_tags(void **state)
{
	(void)state;
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/ptr.txt", TMP);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("tagged.example.org\n", f);
	fclose(f);
	struct enrich *e = open_rdns(0, 0, 0, TMP);
	wait_name(e, "9.9.9.9", "mail.tagged.example.org");
	struct event ev = event_of("9.9.9.9");
	enrich_events(e, &ev, 1, &A);
	assert_non_null(ev.tags.p);
	assert_int_equal(ev.tags.n, strlen("intel:ptr"));
	assert_memory_equal(ev.tags.p, "intel:ptr", ev.tags.n);
	enrich_close(e);
}

static void test_bad_server_list(void **state)
{
	(void)state;
	struct enrich_config c;
	memset(&c, 0, sizeof(c));
	c.rdns = true;
	c.rdns_servers = "not a server";
	struct enrich *e = NULL;
	assert_int_equal(enrich_open(&e, &c), 0);
	assert_non_null(e);
	struct strbuf p;
	strbuf_init(&p, 1024);
	assert_int_equal(enrich_problems(e, &p), 1);
	assert_true(strncmp(p.p, "rdns: bad server list 'not a server': ", 38) == 0);
	strbuf_release(&p);
	/* The stage runs without names. */
	assert_string_equal(rdns_of(e, "1.2.3.4"), "");
	enrich_close(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_fills_later_events),
	    cmocka_unit_test(test_failure_cached),
	    cmocka_unit_test(test_ttl_expiry),
	    cmocka_unit_test(test_queue_bound),
	    cmocka_unit_test(test_hostile_names_refused),
	    cmocka_unit_test(test_private_never_asked),
	    cmocka_unit_test(test_listed_name_tags),
	    cmocka_unit_test(test_bad_server_list),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
