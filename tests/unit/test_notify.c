/* test_notify.c — notification channels: message formats (webhook JSON, Slack, email MIME and
 * subject), the HMAC signature against RFC 4231, the retry schedule, the channels file, and
 * delivery to real servers on 127.0.0.1 (an SMTP sink and an HTTP receiver run here as
 * threads), including a refused channel that must never block the caller. */
#include <arpa/inet.h>
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "notify/notify.h"

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *sample_alert(const char *title, const char *level, int sev)
{
	json_t *a = json_pack(
	    "{s:i, s:i, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:i, s:[s,s],"
	    " s:s}",
	    "id", 42, "version", 7, "rule_id", "6a3f0c1e-0000-4000-8000-00000000000a", "rule_title",
	    title, "rule_level", level, "rule_author", "Florian Roth (Nextron Systems)", "severity",
	    sev, "group_key", "source_ip=203.0.113.7", "first_seen", "2026-11-21T07:00:00.000000Z",
	    "last_seen", "2026-11-21T07:01:00.000000Z", "count", 3, "event_ids",
	    "0a0b0c0d-0000-4000-8000-000000000001", "0a0b0c0d-0000-4000-8000-000000000002",
	    "status", "open");
	assert_non_null(a);
	return a;
}

/* ---- formats ---- */

static void test_hmac_rfc4231(void **state)
{
	(void)state;
	char hex[65];
	/* RFC 4231 test case 2 */
	assert_int_equal(notify_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex),
			 0);
	assert_string_equal(hex,
			    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* RFC 4231 test case 1: key 20 x 0x0b, "Hi There" */
	uint8_t key[20];
	memset(key, 0x0b, sizeof(key));
	assert_int_equal(notify_hmac_sha256_hex(key, sizeof(key), "Hi There", 8, hex), 0);
	assert_string_equal(hex,
			    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

static void test_backoff_schedule(void **state)
{
	(void)state;
	const int64_t want[] = {0, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
	for (int i = 0; i < 8; i++)
		assert_int_equal(notify_backoff_ms(i, 1000, 30000), want[i]);
	assert_int_equal(notify_backoff_ms(200, 1000, 300000), 300000); /* no overflow */
	assert_int_equal(notify_backoff_ms(3, 50, 50), 50);
}

static void test_webhook_and_slack_format(void **state)
{
	(void)state;
	json_t *a = sample_alert("Brute <force> & co", "high", 4);
	struct strbuf b;
	strbuf_init(&b, 65536);
	assert_int_equal(notify_format_webhook(a, &b), 0);
	json_t *o = json_loads(b.p, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "source")), "minisiem");
	assert_string_equal(json_string_value(json_object_get(o, "type")), "alert");
	assert_true(json_equal(json_object_get(o, "alert"), a));
	json_decref(o);
	strbuf_release(&b);

	strbuf_init(&b, 65536);
	assert_int_equal(notify_format_slack(a, &b), 0);
	o = json_loads(b.p, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 1);
	const char *text = json_string_value(json_object_get(o, "text"));
	assert_non_null(text);
	assert_non_null(strstr(text, "*[HIGH] Brute &lt;force&gt; &amp; co*"));
	assert_non_null(strstr(text, "alert #42"));
	assert_non_null(strstr(text, "source_ip=203.0.113.7"));
	assert_non_null(strstr(text, "count 3"));
	assert_non_null(strstr(text, "by Florian Roth (Nextron Systems)"));
	json_decref(o);
	strbuf_release(&b);
	json_decref(a);
}

static struct notify_channel_config email_cfg(void)
{
	struct notify_channel_config c;
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "mail");
	c.kind = NOTIFY_EMAIL;
	c.from = "minisiem <alerts@example.com>";
	c.to[0] = "soc@example.com";
	c.to[1] = "oncall@example.org";
	c.n_to = 2;
	return c;
}

static void test_email_format(void **state)
{
	(void)state;
	struct notify_channel_config c = email_cfg();
	json_t *a = sample_alert("SSH brute force\r\nBcc: evil@example.net", "critical", 5);
	struct strbuf b;
	strbuf_init(&b, 65536);
	/* 2026-11-21T07:02:03Z, a Saturday */
	assert_int_equal(notify_format_email(&c, a, 1795244523000000LL, &b), 0);
	const char *m = b.p;
	assert_non_null(strstr(m, "Date: Sat, 21 Nov 2026 07:02:03 +0000\r\n"));
	assert_non_null(strstr(m, "From: minisiem <alerts@example.com>\r\n"));
	assert_non_null(strstr(m, "To: soc@example.com, oncall@example.org\r\n"));
	/* the CR LF of the title cannot start a header of its own */
	assert_non_null(strstr(m, "Subject: [minisiem] CRITICAL: SSH brute force  Bcc:"
				  " evil@example.net\r\n (source_ip=203.0.113.7)\r\n"));
	assert_null(strstr(m, "\r\nBcc:"));
	assert_non_null(strstr(m, "Message-ID: <alert-42-7-1795244523000000@example.com>\r\n"));
	assert_non_null(strstr(m, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(m, "Content-Type: text/plain; charset=utf-8\r\n"));
	assert_non_null(strstr(m, "Content-Transfer-Encoding: quoted-printable\r\n"
				  "X-Minisiem-Alert: 42\r\n\r\n"));
	assert_non_null(strstr(m, "Author:      Florian Roth (Nextron Systems)\r\n"));
	assert_non_null(strstr(m, "Count:       3 (suppressed repeats: 2)\r\n"));
	assert_non_null(strstr(m, "Events:      0a0b0c0d-0000-4000-8000-000000000001\r\n"));
	/* every line ends in CRLF and is at most 78 characters */
	for (const char *p = m; *p;) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl > p ? nl[-1] == '\r' : false);
		assert_true(nl - p <= 78);
		p = nl + 1;
	}
	strbuf_release(&b);
	json_decref(a);

	/* UTF-8 titles: RFC 2047 words in the subject, quoted-printable in the body */
	a = sample_alert("Connexion refusée à l'administrateur — ça arrive trop souvent", "high",
			 4);
	strbuf_init(&b, 65536);
	assert_int_equal(notify_format_email(&c, a, 1795244523000000LL, &b), 0);
	m = b.p;
	const char *subj = strstr(m, "Subject: =?UTF-8?B?");
	assert_non_null(subj);
	assert_non_null(strstr(subj, "?=\r\n =?UTF-8?B?")); /* folded into several words */
	assert_non_null(strstr(m, "Connexion refus=C3=A9e =C3=A0 l'administrateur"));
	struct strbuf s;
	strbuf_init(&s, 4096);
	assert_int_equal(notify_format_subject(a, &s), 0);
	assert_string_equal(s.p, "[minisiem] HIGH: Connexion refusée à l'administrateur — ça arrive"
				 " trop souvent (source_ip=203.0.113.7)");
	strbuf_release(&s);
	strbuf_release(&b);
	json_decref(a);
}

/* ---- the channels file ---- */

static void test_config_parse(void **state)
{
	(void)state;
	struct notify_channel_config *ch = NULL;
	size_t n = 0;
	char err[300];
	setenv("TEST_NOTIFY_SECRET", "s3cret-from-env", 1);
	const char *good = "# channels\n"
			   "[ops-mail]\n"
			   "type = email\n"
			   "url = smtp://mail.example.com:587\n"
			   "starttls = required\n"
			   "user = alerts@example.com\n"
			   "password = \"pass word\"\n"
			   "from = alerts@example.com\n"
			   "to = soc@example.com, oncall@example.org\n"
			   "min_level = high\n"
			   "\n"
			   "[channel soc-hook]\n"
			   "type = webhook\n"
			   "url = https://soc.example.com/hooks/minisiem\n"
			   "secret = ${TEST_NOTIFY_SECRET}\n"
			   "header = Authorization: Bearer abc\n"
			   "retries = 2\n"
			   "backoff = 250ms\n"
			   "backoff_max = 1m\n"
			   "timeout = 3s\n"
			   "queue = 10\n"
			   "[slack]\n"
			   "type = slack\n"
			   "url = https://hooks.slack.com/services/T0/B0/XYZ\n";
	assert_int_equal(notify_config_parse(good, strlen(good), &ch, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ch[0].name, "ops-mail");
	assert_int_equal(ch[0].kind, NOTIFY_EMAIL);
	assert_int_equal(ch[0].starttls, NOTIFY_TLS_REQUIRED);
	assert_string_equal(ch[0].password, "pass word");
	assert_int_equal(ch[0].n_to, 2);
	assert_string_equal(ch[0].to[1], "oncall@example.org");
	assert_int_equal(ch[0].min_severity, 4);
	assert_int_equal(ch[0].retries, 5); /* defaults */
	assert_int_equal(ch[0].backoff_ms, 1000);
	assert_string_equal(ch[1].name, "soc-hook");
	assert_string_equal(ch[1].secret, "s3cret-from-env");
	assert_int_equal(ch[1].n_headers, 1);
	assert_int_equal(ch[1].retries, 2);
	assert_int_equal(ch[1].backoff_ms, 250);
	assert_int_equal(ch[1].backoff_max_ms, 60000);
	assert_int_equal(ch[1].timeout_ms, 3000);
	assert_int_equal(ch[1].queue_max, 10);
	assert_int_equal(ch[1].min_severity, 2);
	assert_int_equal(ch[2].kind, NOTIFY_SLACK);
	notify_config_free(ch, n);

	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
	    {"type = email\n", "line 1: 'type' outside a [channel] section"},
	    {"[a]\ntype = pager\n", "line 2: type must be email, webhook or slack"},
	    {"[a]\ntype = webhook\nurl = ftp://x\n",
	     "channel 'a': url must be http:// or https://"},
	    {"[a]\ntype = email\nurl = smtp://x\nfrom = a@b\n", "email needs from and to"},
	    {"[a]\ntype = email\nurl = smtp://x\nfrom = a@b\nto = nobody\n",
	     "line 5: 'nobody' is not an email address"},
	    {"[a]\ntype = slack\nurl = https://x\nmin_level = loud\n", "line 4: min_level"},
	    {"[a]\ntype = slack\nurl = https://x\nbackoff = soon\n",
	     "line 4: 'soon' is not a duration"},
	    {"[a]\ntype = slack\nurl = https://x\n[a]\n", "line 4: channel 'a' defined twice"},
	    {"[bad name]\n", "line 1: channel name"},
	    {"[a]\ntype = slack\nurl = https://x\ncolour = red\n",
	     "line 4: unknown setting 'colour'"},
	    {"[a]\ntype = webhook\nurl = https://x\nsecret = ${TEST_NOTIFY_UNSET_VAR}\n",
	     "line 4: environment variable 'TEST_NOTIFY_UNSET_VAR' is not set"},
	    {"[a]\nurl = https://x\n", "channel 'a' has no type"},
	};
	unsetenv("TEST_NOTIFY_UNSET_VAR");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ch = NULL;
		assert_int_equal(notify_config_parse(bad[i].text, strlen(bad[i].text), &ch, &n, err,
						     sizeof(err)),
				 SIEM_EPARSE);
		if (!strstr(err, bad[i].want))
			fail_msg("case %zu: '%s' does not contain '%s'", i, err, bad[i].want);
		assert_null(ch);
	}
}

/* ---- loopback servers ---- */

struct server {
	int lfd;
	int port;
	pthread_t th;
	atomic_bool stop;
	pthread_mutex_t mu;
	int requests;
	/* HTTP */
	int statuses[8]; /* answer per request (200 after the list) */
	char bodies[4][4096];
	char sigs[4][128];
	/* SMTP */
	char mail_from[256], rcpt[4][256], auth[256];
	int nrcpt;
	char data[16384];
};

static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Accept with a short poll, so the thread notices stop. */
static int accept_one(struct server *s)
{
	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->lfd, .events = POLLIN};
		if (poll(&p, 1, 50) == 1)
			return accept(s->lfd, NULL, NULL);
	}
	return -1;
}

/* Read one line (CRLF-terminated) with a 5 s deadline. */
static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;
	int64_t end = mono_ms() + 5000;
	while (n + 1 < len && mono_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) != 1)
			continue;
		char c;
		if (read(fd, &c, 1) != 1)
			return -1;
		buf[n++] = c;
		if (c == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

static void say(int fd, const char *s)
{
	ssize_t w = write(fd, s, strlen(s));
	(void)w;
}

static void *http_main(void *arg)
{
	struct server *s = arg;
	int fd;
	while ((fd = accept_one(s)) >= 0) {
		char line[4096];
		long clen = 0;
		char sig[128] = "";
		while (read_line(fd, line, sizeof(line)) > 2) {
			if (strncasecmp(line, "Content-Length:", 15) == 0)
				clen = strtol(line + 15, NULL, 10);
			if (strncasecmp(line, "X-Minisiem-Signature:", 21) == 0)
				snprintf(sig, sizeof(sig), "%.*s", (int)strcspn(line + 22, "\r\n"),
					 line + 22);
		}
		char body[4096] = "";
		long got = 0;
		while (got < clen && got < (long)sizeof(body) - 1) {
			ssize_t r = read(fd, body + got, (size_t)(clen - got));
			if (r <= 0)
				break;
			got += r;
		}
		body[got] = '\0';
		pthread_mutex_lock(&s->mu);
		int i = s->requests++;
		int status = i < 8 && s->statuses[i] ? s->statuses[i] : 200;
		if (i < 4) {
			memcpy(s->bodies[i], body, (size_t)got + 1);
			snprintf(s->sigs[i], sizeof(s->sigs[i]), "%s", sig);
		}
		pthread_mutex_unlock(&s->mu);
		char resp[128];
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
		say(fd, resp);
		close(fd);
	}
	return NULL;
}

static void *smtp_main(void *arg)
{
	struct server *s = arg;
	int fd;
	while ((fd = accept_one(s)) >= 0) {
		char line[2048];
		bool in_data = false, want_auth = false;
		size_t dn = 0;
		say(fd, "220 sink ESMTP\r\n");
		while (read_line(fd, line, sizeof(line)) > 0) {
			pthread_mutex_lock(&s->mu);
			if (in_data) {
				if (strcmp(line, ".\r\n") == 0) {
					in_data = false;
					s->data[dn] = '\0';
					s->requests++;
					pthread_mutex_unlock(&s->mu);
					say(fd, "250 queued\r\n");
					continue;
				}
				size_t k = strlen(line);
				if (dn + k < sizeof(s->data)) {
					memcpy(s->data + dn, line, k);
					dn += k;
				}
				pthread_mutex_unlock(&s->mu);
				continue;
			}
			pthread_mutex_unlock(&s->mu);
			if (want_auth) {
				pthread_mutex_lock(&s->mu);
				snprintf(s->auth, sizeof(s->auth), "%.*s",
					 (int)strcspn(line, "\r\n"), line);
				pthread_mutex_unlock(&s->mu);
				want_auth = false;
				say(fd, "235 ok\r\n");
			} else if (strncasecmp(line, "EHLO", 4) == 0) {
				say(fd, "250-sink\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n");
			} else if (strncasecmp(line, "AUTH PLAIN", 10) == 0) {
				if (line[10] == ' ' && line[11] != '\r') {
					pthread_mutex_lock(&s->mu);
					snprintf(s->auth, sizeof(s->auth), "%.*s",
						 (int)strcspn(line + 11, "\r\n"), line + 11);
					pthread_mutex_unlock(&s->mu);
					say(fd, "235 ok\r\n");
				} else {
					want_auth = true;
					say(fd, "334 \r\n");
				}
			} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
				pthread_mutex_lock(&s->mu);
				snprintf(s->mail_from, sizeof(s->mail_from), "%.*s",
					 (int)strcspn(line + 10, " \r\n"), line + 10);
				pthread_mutex_unlock(&s->mu);
				say(fd, "250 ok\r\n");
			} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
				pthread_mutex_lock(&s->mu);
				if (s->nrcpt < 4)
					snprintf(s->rcpt[s->nrcpt++], sizeof(s->rcpt[0]), "%.*s",
						 (int)strcspn(line + 8, "\r\n"), line + 8);
				pthread_mutex_unlock(&s->mu);
				say(fd, "250 ok\r\n");
			} else if (strncasecmp(line, "DATA", 4) == 0) {
				in_data = true;
				dn = 0;
				say(fd, "354 go\r\n");
			} else if (strncasecmp(line, "QUIT", 4) == 0) {
				say(fd, "221 bye\r\n");
				break;
			} else {
				say(fd, "250 ok\r\n");
			}
		}
		close(fd);
	}
	return NULL;
}

static void server_start(struct server *s, void *(*fn)(void *))
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = listen_loopback(&s->port);
	assert_int_equal(pthread_create(&s->th, NULL, fn, s), 0);
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->th, NULL);
	close(s->lfd);
	pthread_mutex_destroy(&s->mu);
}

static json_t *channel_status(struct notifier *nt, const char *name)
{
	json_t *all = json_array(), *found = NULL;
	notifier_status(nt, all);
	size_t i;
	json_t *c;
	json_array_foreach (all, i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			found = json_incref(c);
	json_decref(all);
	assert_non_null(found);
	return found;
}

static long long jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static struct notify_channel_config *parse_one(const char *text)
{
	struct notify_channel_config *ch = NULL;
	size_t n = 0;
	char err[300];
	if (notify_config_parse(text, strlen(text), &ch, &n, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(n, 1);
	return ch;
}

static void test_webhook_delivery_signed_with_retry(void **state)
{
	(void)state;
	struct server srv;
	struct notifier *nt = NULL;
	char cfg[512];
	server_start(&srv, http_main);
	srv.statuses[0] = 503; /* the first attempt fails and is retried */
	snprintf(cfg, sizeof(cfg),
		 "[hook1]\ntype = webhook\nurl = http://127.0.0.1:%d/hook?x=1\n"
		 "secret = topsecret\nretries = 3\nbackoff = 10ms\nmin_level = medium\n",
		 srv.port);
	assert_int_equal(notifier_start(&nt, parse_one(cfg), 1), 0);
	json_t *low = sample_alert("low one", "low", 2), *high = sample_alert("Brute", "high", 4);
	notifier_submit(nt, low); /* below the channel's level: not sent */
	notifier_submit(nt, high);
	assert_true(notifier_wait_idle(nt, 10000));
	pthread_mutex_lock(&srv.mu);
	assert_int_equal(srv.requests, 2);
	for (int i = 0; i < 2; i++) {
		char hex[65], want[80];
		assert_int_equal(notify_hmac_sha256_hex("topsecret", 9, srv.bodies[i],
							strlen(srv.bodies[i]), hex),
				 0);
		snprintf(want, sizeof(want), "sha256=%s", hex);
		assert_string_equal(srv.sigs[i], want);
		json_t *o = json_loads(srv.bodies[i], 0, NULL);
		assert_true(json_equal(json_object_get(o, "alert"), high));
		json_decref(o);
	}
	pthread_mutex_unlock(&srv.mu);
	json_t *st = channel_status(nt, "hook1");
	assert_int_equal(jint(st, "sent"), 1);
	assert_int_equal(jint(st, "retries"), 1);
	assert_int_equal(jint(st, "failed"), 0);
	assert_int_equal(jint(st, "queued"), 0);
	assert_string_equal(json_string_value(json_object_get(st, "last_error")), "HTTP 503");
	/* the status never shows the URL's path or query (Slack URLs are secrets) */
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	assert_string_equal(json_string_value(json_object_get(st, "url")), url);
	json_decref(st);
	notifier_stop(nt);
	server_stop(&srv);
	json_decref(low);
	json_decref(high);
}

static void test_slack_permanent_failure(void **state)
{
	(void)state;
	struct server srv;
	struct notifier *nt = NULL;
	char cfg[512];
	server_start(&srv, http_main);
	srv.statuses[0] = 400; /* a 4xx is not retried */
	snprintf(cfg, sizeof(cfg),
		 "[slack1]\ntype = slack\nurl = http://127.0.0.1:%d/services/T/B/X\nretries = 3\n"
		 "backoff = 10ms\n",
		 srv.port);
	assert_int_equal(notifier_start(&nt, parse_one(cfg), 1), 0);
	json_t *a = sample_alert("Sudo", "medium", 3);
	notifier_submit(nt, a);
	notifier_submit(nt, a);
	assert_true(notifier_wait_idle(nt, 10000));
	pthread_mutex_lock(&srv.mu);
	assert_int_equal(srv.requests, 2);
	json_t *o = json_loads(srv.bodies[1], 0, NULL);
	assert_non_null(json_string_value(json_object_get(o, "text")));
	assert_string_equal(srv.sigs[1], ""); /* Slack payloads are not signed */
	json_decref(o);
	pthread_mutex_unlock(&srv.mu);
	json_t *st = channel_status(nt, "slack1");
	assert_int_equal(jint(st, "failed"), 1);
	assert_int_equal(jint(st, "sent"), 1);
	assert_int_equal(jint(st, "retries"), 0);
	json_decref(st);
	notifier_stop(nt);
	server_stop(&srv);
	json_decref(a);
}

static void test_smtp_delivery(void **state)
{
	(void)state;
	struct server srv;
	struct notifier *nt = NULL;
	char cfg[512];
	server_start(&srv, smtp_main);
	snprintf(cfg, sizeof(cfg),
		 "[mail1]\ntype = email\nurl = smtp://127.0.0.1:%d\nstarttls = off\n"
		 "user = alerts\npassword = pw\nfrom = minisiem <alerts@example.com>\n"
		 "to = soc@example.com, oncall@example.org\nretries = 0\n",
		 srv.port);
	assert_int_equal(notifier_start(&nt, parse_one(cfg), 1), 0);
	json_t *a = sample_alert("SSH brute force", "high", 4);
	notifier_submit(nt, a);
	assert_true(notifier_wait_idle(nt, 10000));
	json_t *st = channel_status(nt, "mail1");
	if (jint(st, "sent") != 1)
		fail_msg("not sent: %s", json_string_value(json_object_get(st, "last_error")));
	json_decref(st);
	pthread_mutex_lock(&srv.mu);
	assert_int_equal(srv.requests, 1);
	assert_string_equal(srv.mail_from, "<alerts@example.com>");
	assert_int_equal(srv.nrcpt, 2);
	assert_string_equal(srv.rcpt[0], "<soc@example.com>");
	assert_string_equal(srv.rcpt[1], "<oncall@example.org>");
	assert_string_equal(srv.auth, "AGFsZXJ0cwBwdw=="); /* base64("\0alerts\0pw") */
	assert_non_null(strstr(srv.data, "Subject: [minisiem] HIGH: SSH brute force"
					 " (source_ip=203.0.113.7)\r\n"));
	assert_non_null(strstr(srv.data, "X-Minisiem-Alert: 42\r\n"));
	pthread_mutex_unlock(&srv.mu);
	notifier_stop(nt);
	server_stop(&srv);
	json_decref(a);
}

static void test_refused_channel_never_blocks(void **state)
{
	(void)state;
	struct notifier *nt = NULL;
	char cfg[512];
	int port = 0;
	int fd = listen_loopback(&port);
	close(fd); /* nothing listens there now: connection refused */
	snprintf(cfg, sizeof(cfg),
		 "[dead1]\ntype = webhook\nurl = http://127.0.0.1:%d/\nretries = 2\n"
		 "backoff = 20ms\nqueue = 3\n",
		 port);
	assert_int_equal(notifier_start(&nt, parse_one(cfg), 1), 0);
	json_t *a = sample_alert("x", "high", 4);
	int64_t t0 = mono_ms();
	for (int i = 0; i < 50; i++)
		notifier_submit(nt, a);
	int64_t spent = mono_ms() - t0;
	assert_true(spent < 1000); /* formatting and queueing only; no network */
	assert_true(notifier_wait_idle(nt, 20000));
	json_t *st = channel_status(nt, "dead1");
	long long failed = jint(st, "failed"), dropped = jint(st, "dropped");
	assert_int_equal(jint(st, "sent"), 0);
	assert_int_equal(failed + dropped, 50);
	assert_true(failed >= 3);   /* at least the queue (3) was tried */
	assert_true(dropped >= 40); /* the rest did not fit: dropped, counted */
	assert_int_equal(jint(st, "retries"), 2 * failed);
	assert_non_null(json_string_value(json_object_get(st, "last_error")));
	json_decref(st);
	notifier_stop(nt);
	json_decref(a);
}

int main(void)
{
	log_set_level(LOG_LVL_ERROR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hmac_rfc4231),
	    cmocka_unit_test(test_backoff_schedule),
	    cmocka_unit_test(test_webhook_and_slack_format),
	    cmocka_unit_test(test_email_format),
	    cmocka_unit_test(test_config_parse),
	    cmocka_unit_test(test_webhook_delivery_signed_with_retry),
	    cmocka_unit_test(test_slack_permanent_failure),
	    cmocka_unit_test(test_smtp_delivery),
	    cmocka_unit_test(test_refused_channel_never_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
