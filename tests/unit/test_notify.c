/* test_notify.c — notification channels: message formats (webhook JSON, Slack, email MIME and
 * subject) with hostile alerts, digests and rate-limit notices, the HMAC signature against
 * RFC 4231, the retry schedule, the digest and rate-limit state, the channels file, and
 * delivery to real servers on 127.0.0.1 (an SMTP sink and an HTTP receiver run here as
 * threads), including a refused channel that must never block the caller, and digests,
 * rate limits and backfill on a fake clock. */
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
	assert_non_null(strstr(m, "MIME-Version: 1.0\r\nX-Minisiem-Alert: 42\r\n"
				  "Content-Type: multipart/alternative;\r\n"
				  " boundary=\"=_minisiem_1795244523000000\"\r\n\r\n"));
	assert_non_null(strstr(m, "\r\n--=_minisiem_1795244523000000\r\n"
				  "Content-Type: text/plain; charset=utf-8\r\n"
				  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
	assert_non_null(strstr(m, "\r\n--=_minisiem_1795244523000000\r\n"
				  "Content-Type: text/html; charset=utf-8\r\n"
				  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
	assert_non_null(strstr(m, "\r\n--=_minisiem_1795244523000000--\r\n"));
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

/* ---- what a message says, with hostile alerts ---- */

/* An alert as the alerting module sends it, its text written by an attacker: HTML, CR LF,
 * a bidirectional override, non-ASCII, a 5000-byte message, seven events of twelve. */
static json_t *hostile_alert(void)
{
	char long_msg[5001];
	memset(long_msg, 'A', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	json_t *events = json_array();
	for (int i = 0; i < 7; i++) {
		char ts[40];
		snprintf(ts, sizeof(ts), "2026-12-07T10:01:%02d.000000Z", 2 + i);
		json_array_append_new(
		    events,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "timestamp", ts, "source_host",
			      i == 1 ? "<b>nas2</b>" : "nas", "source_ip", "203.0.113.9", "user",
			      "root", "event_type", "auth_failure", "message",
			      i == 0   ? "Failed password for root from 203.0.113.9"
			      : i == 2 ? long_msg
			      : i == 3 ? "<script>alert(1)</script>\r\nBcc: evil@example.net"
				       : "échec d'authentification pour « root » \xe2\x80\xae"
					 "gpj.exe"));
	}
	json_t *a = json_pack(
	    "{s:i, s:i, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:i, s:s, s:b,"
	    " s:s, s:[s,s,s], s:[s,s], s:o, s:i, s:s}",
	    "id", 42, "version", 7, "rule_id", "r-1", "rule_title", "SSH <brute> force",
	    "rule_level", "high", "rule_author", "minisiem", "severity", 4, "group_key",
	    "source_ip=203.0.113.9,user=root", "first_seen", "2026-12-07T10:01:02.000000Z",
	    "last_seen", "2026-12-07T10:03:12.000000Z", "count", 3, "summary",
	    "Account <img src=x onerror=alert(1)> created on nas\r\nBcc: evil@example.net by "
	    "root — été",
	    "backfill", 0, "rule_description", "Many \"failed\" logins & <then> one that works",
	    "rule_tags", "attack.credential_access", "attack.t1110", "cve.2021-1234",
	    "rule_references", "https://attack.mitre.org/techniques/T1110/", "javascript:alert(1)",
	    "events", events, "n_events", 12, "link", "https://siem.example/ui/alerts?id=42&x=|y");
	assert_non_null(a);
	return a;
}

/* The part of a MIME message with this content type, quoted-printable decoded, "\n" lines. */
static char *mime_part(const char *m, const char *type)
{
	char head[128];
	snprintf(head, sizeof(head),
		 "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: "
		 "quoted-printable\r\n\r\n",
		 type);
	const char *p = strstr(m, head), *end;
	assert_non_null(p);
	p += strlen(head);
	end = strstr(p, "\r\n--=_minisiem_");
	assert_non_null(end);
	char *out = malloc((size_t)(end - p) + 1), *o = out;
	assert_non_null(out);
	while (p < end) {
		if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
			p += 3;
		} else if (p[0] == '=') {
			char hex[3] = {p[1], p[2], 0};
			*o++ = (char)strtol(hex, NULL, 16);
			p += 3;
		} else if (p[0] == '\r' && p[1] == '\n') {
			*o++ = '\n';
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* A header's value, unfolded. */
static void header_value(const char *m, const char *name, char *out, size_t outlen)
{
	char want[64];
	size_t o = 0;
	snprintf(want, sizeof(want), "\r\n%s: ", name);
	const char *p = strstr(m, want);
	assert_non_null(p);
	for (p += strlen(want); *p && o + 1 < outlen; p++) {
		if (p[0] == '\r' && p[1] == '\n' && p[2] != ' ')
			break;
		if (p[0] == '\r' && p[1] == '\n') {
			p++;
			continue;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

static void assert_lines_crlf_78(const char *m)
{
	for (const char *p = m; *p;) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl > p ? nl[-1] == '\r' : false);
		if (nl - p > 78)
			fail_msg("line longer than 78: '%.*s'", (int)(nl - p), p);
		p = nl + 1;
	}
}

static void test_email_content_hostile(void **state)
{
	(void)state;
	struct notify_channel_config c = email_cfg();
	json_t *a = hostile_alert();
	struct strbuf b;
	strbuf_init(&b, 1024 * 1024);
	assert_int_equal(notify_format_email(&c, a, 1795244523000000LL, &b), 0);
	const char *m = b.p;
	assert_true(b.n < 64 * 1024); /* 5000 bytes of message do not make it in */
	assert_lines_crlf_78(m);
	/* the subject is the summary, non-ASCII as RFC 2047 words; no header of the attacker's */
	assert_non_null(strstr(m, "Subject: =?UTF-8?B?"));
	assert_null(strstr(m, "\r\nBcc:"));
	struct strbuf s;
	strbuf_init(&s, 4096);
	assert_int_equal(notify_format_subject(a, &s), 0);
	assert_string_equal(s.p, "[minisiem] HIGH: Account <img src=x onerror=alert(1)> created on "
				 "nas  Bcc: evil@example.net by root — été");
	strbuf_release(&s);

	char *text = mime_part(m, "text/plain");
	assert_true(
	    strncmp(text, "Account <img src=x onerror=alert(1)> created on nas  Bcc:", 57) == 0);
	assert_non_null(strstr(text, "\nSeverity:    HIGH (4)\n"));
	assert_non_null(strstr(text, "\nHost:        nas, <b>nas2</b>\n"));
	assert_non_null(strstr(text, "\nUser:        root\n"));
	assert_non_null(strstr(text, "\nAddress:     203.0.113.9\n"));
	assert_non_null(strstr(text, "\nOpen:        https://siem.example/ui/alerts?id=42&x=|y\n"));
	assert_non_null(strstr(text, "\nEvents (5 of 12):\n"
				     "  2026-12-07 10:01:02  nas  Failed password for root from "
				     "203.0.113.9\n"));
	assert_non_null(strstr(text, "  2026-12-07 10:01:05  nas  <script>alert(1)</script>  Bcc: "
				     "evil@example.net\n"));
	assert_non_null(strstr(text, "\n  and 7 more\n"));
	/* the long message is cut at 300 bytes, with an ellipsis */
	const char *aaa = strstr(text, "  2026-12-07 10:01:04  nas  AAAA");
	assert_non_null(aaa);
	assert_int_equal(strcspn(aaa, "\n"), strlen("  2026-12-07 10:01:04  nas  ") + 297 + 3);
	assert_non_null(strstr(aaa, "AAA\xe2\x80\xa6\n"));
	/* non-ASCII kept, the right-to-left override dropped */
	assert_non_null(strstr(text, "échec d'authentification pour « root » gpj.exe"));
	assert_null(strstr(m, "\xe2\x80\xae"));
	assert_null(strstr(text, "\xe2\x80\xae"));
	assert_non_null(strstr(text, "\nRule:        SSH <brute> force\n"));
	assert_non_null(
	    strstr(text, "\nDescription: Many \"failed\" logins & <then> one that works\n"));
	assert_non_null(strstr(text, "\nATT&CK:      attack.credential_access, attack.t1110\n"));
	assert_non_null(strstr(text, "\nTags:        cve.2021-1234\n"));
	assert_non_null(strstr(text, "\nReferences:  https://attack.mitre.org/techniques/T1110/\n"
				     "             javascript:alert(1)\n"));
	assert_non_null(strstr(text, "\nAuthor:      minisiem\n"));
	free(text);

	char *html = mime_part(m, "text/html");
	/* nothing of the attacker's is markup */
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "<b>nas2"));
	assert_null(strstr(html, "<then>"));
	assert_non_null(strstr(html, "<b>Account &lt;img src=x onerror=alert(1)&gt; created on nas "
				     " Bcc: evil@example.net by root — été</b>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "nas, &lt;b&gt;nas2&lt;/b&gt;"));
	assert_non_null(strstr(html, "Many &quot;failed&quot; logins &amp; &lt;then&gt; one"));
	assert_non_null(strstr(html, "<a href=\"https://siem.example/ui/alerts?id=42&amp;x=|y\">"
				     "Open in minisiem</a>"));
	assert_non_null(strstr(html, "<a href=\"https://attack.mitre.org/techniques/T1110/\">"));
	assert_null(strstr(html, "href=\"javascript"));
	assert_non_null(strstr(html, "<p>and 7 more</p>"));
	free(html);
	strbuf_release(&b);
	json_decref(a);
}

static void test_webhook_and_slack_content_hostile(void **state)
{
	(void)state;
	json_t *a = hostile_alert();
	struct strbuf b;
	strbuf_init(&b, 1024 * 1024);
	assert_int_equal(notify_format_webhook(a, &b), 0);
	assert_true(b.n < 64 * 1024);
	json_t *o = json_loads(b.p, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "alert");
	assert_string_equal(json_string_value(json_object_get(o, "summary")),
			    "Account <img src=x onerror=alert(1)> created on nas  Bcc: "
			    "evil@example.net by root — été");
	assert_string_equal(json_string_value(json_object_get(o, "link")),
			    "https://siem.example/ui/alerts?id=42&x=|y");
	assert_string_equal(json_string_value(json_object_get(o, "description")),
			    "Many \"failed\" logins & <then> one that works");
	assert_string_equal(json_string_value(json_object_get(o, "level")), "high");
	assert_int_equal(json_integer_value(json_object_get(o, "severity")), 4);
	assert_int_equal(json_integer_value(json_object_get(o, "n_events")), 12);
	json_t *tags = json_object_get(o, "tags");
	assert_int_equal(json_array_size(tags), 3);
	assert_string_equal(json_string_value(json_array_get(tags, 1)), "attack.t1110");
	assert_int_equal(json_array_size(json_object_get(o, "references")), 2);
	json_t *events = json_object_get(o, "events");
	assert_int_equal(json_array_size(events), 5);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(events, 0), "message")),
	    "Failed password for root from 203.0.113.9");
	assert_int_equal(json_string_length(json_object_get(json_array_get(events, 2), "message")),
			 300);
	/* the alert keeps its shape; its events are the ones above */
	json_t *inner = json_object_get(o, "alert");
	assert_int_equal(json_integer_value(json_object_get(inner, "id")), 42);
	assert_string_equal(json_string_value(json_object_get(inner, "rule_title")),
			    "SSH <brute> force");
	assert_null(json_object_get(inner, "events"));
	json_decref(o);
	strbuf_release(&b);

	strbuf_init(&b, 1024 * 1024);
	assert_int_equal(notify_format_slack(a, &b), 0);
	o = json_loads(b.p, 0, NULL);
	assert_non_null(o);
	const char *t = json_string_value(json_object_get(o, "text"));
	assert_non_null(t);
	assert_true(strlen(t) < 16 * 1024);
	assert_true(strncmp(t,
			    "*[HIGH] Account &lt;img src=x onerror=alert(1)&gt; created on nas  "
			    "Bcc: evil@example.net by root — été*\n",
			    strlen("*[HIGH] Account &lt;img src=x onerror=alert(1)&gt; created on "
				   "nas  Bcc: evil@example.net by root — été*\n")) == 0);
	assert_null(strchr(t, '\r'));
	assert_non_null(strstr(t, "\nHost nas, &lt;b&gt;nas2&lt;/b&gt; · User root · Address "
				  "203.0.113.9\n"));
	assert_non_null(strstr(t, "\n• 2026-12-07 10:01:02  nas  Failed password for root from "
				  "203.0.113.9\n"));
	assert_non_null(strstr(t, "\n• 2026-12-07 10:01:05  nas  &lt;script&gt;alert(1)&lt;/"
				  "script&gt;  Bcc: evil@example.net\n"));
	assert_non_null(strstr(t, "\nand 7 more\n"));
	assert_non_null(strstr(t, "rule SSH &lt;brute&gt; force by minisiem · "
				  "attack.credential_access, attack.t1110\n"));
	/* the link's '|' would end the URL: encoded; '&' escaped as Slack asks */
	assert_non_null(
	    strstr(t, "\n<https://siem.example/ui/alerts?id=42&amp;x=%7Cy|Open in minisiem>"));
	/* the only '<' and '>' are the link's */
	assert_int_equal(strcspn(t, "<"), strstr(t, "\n<https://") + 1 - t);
	json_decref(o);
	strbuf_release(&b);
	json_decref(a);
}

/* Every member as large as it can be and escaped everywhere: every format still answers,
 * within bounds. */
static void test_huge_alert_bounded(void **state)
{
	(void)state;
	static char big[20001];
	memset(big, '&', sizeof(big) - 1);
	big[10] = '"';
	big[11] = '<';
	json_t *a = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "severity", 4, "summary", big,
			      "rule_title", big, "group_key", big, "rule_description", big,
			      "rule_author", big, "rule_id", big);
	json_t *tags = json_array(), *refs = json_array(), *events = json_array(),
	       *ids = json_array();
	for (int i = 0; i < 200; i++) {
		json_array_append_new(tags, json_string(big + 19000));
		json_array_append_new(refs,
				      json_string("https://x.example/&&&&&&&&&&&&&&&&&&&&&&&"));
		json_array_append_new(ids, json_string(big + 19900));
		json_t *ev =
		    json_pack("{s:s, s:s, s:s, s:s, s:s}", "timestamp", big + 19000, "source_host",
			      big, "user", big, "source_ip", big, "message", big);
		for (int k = 0; k < 150; k++) {
			char key[16];
			snprintf(key, sizeof(key), "k%d", k);
			json_object_set_new(ev, key, json_string(big + 19000));
		}
		json_array_append_new(events, ev);
	}
	json_object_set_new(a, "rule_tags", tags);
	json_object_set_new(a, "rule_references", refs);
	json_object_set_new(a, "events", events);
	json_object_set_new(a, "event_ids", ids);
	struct notify_channel_config c = email_cfg();
	for (int type = 0; type < 3; type++) {
		struct strbuf b;
		c.kind = type == 0 ? NOTIFY_EMAIL : type == 1 ? NOTIFY_SLACK : NOTIFY_WEBHOOK;
		strbuf_init(&b, 1024 * 1024);
		assert_int_equal(notify_format_alert(&c, a, 1795244523000000LL, &b), 0);
		assert_true(b.n < 512 * 1024);
		if (type == 2) {
			json_t *o = json_loads(b.p, 0, NULL);
			assert_non_null(o);
			assert_int_equal(json_array_size(json_object_get(o, "events")), 5);
			json_decref(o);
		}
		strbuf_release(&b);
	}
	json_decref(a);
}

static void test_absent_members(void **state)
{
	(void)state;
	struct notify_channel_config c = email_cfg();
	json_t *empty = json_object(),
	       *bare = json_pack("{s:i, s:s}", "severity", 3, "summary", "");
	json_t *odd =
	    json_pack("{s:i, s:i, s:s, s:i, s:[i,{},{s:i}], s:s, s:s, s:i}", "id", 5, "severity", 2,
		      "rule_title", "Odd", "events", 3, "rule_tags", 1, "a", 2, "link",
		      "javascript:alert(1)", "first_seen", "yesterday", "rule_references", 7);
	json_t *alerts[] = {empty, bare, odd};
	for (size_t i = 0; i < 3; i++) {
		struct strbuf b;
		strbuf_init(&b, 1024 * 1024);
		assert_int_equal(notify_format_email(&c, alerts[i], 1795244523000000LL, &b), 0);
		assert_lines_crlf_78(b.p);
		char *text = mime_part(b.p, "text/plain");
		assert_null(strstr(text, "Events ("));
		assert_null(strstr(text, "Open:"));
		free(text);
		strbuf_release(&b);
		strbuf_init(&b, 1024 * 1024);
		assert_int_equal(notify_format_webhook(alerts[i], &b), 0);
		json_t *o = json_loads(b.p, 0, NULL);
		assert_non_null(o);
		assert_true(json_is_null(json_object_get(o, "link")));
		assert_true(json_is_null(json_object_get(o, "description")));
		assert_int_equal(json_array_size(json_object_get(o, "tags")), 0);
		json_decref(o);
		strbuf_release(&b);
		strbuf_init(&b, 1024 * 1024);
		assert_int_equal(notify_format_slack(alerts[i], &b), 0);
		assert_null(strstr(b.p, "Open in minisiem"));
		strbuf_release(&b);
	}
	struct strbuf s;
	strbuf_init(&s, 4096);
	assert_int_equal(notify_format_subject(bare, &s), 0);
	assert_string_equal(s.p, "[minisiem] MEDIUM: alert #0");
	strbuf_release(&s);
	strbuf_init(&s, 4096);
	assert_int_equal(notify_format_subject(odd, &s), 0);
	assert_string_equal(s.p, "[minisiem] LOW: Odd");
	strbuf_release(&s);
	json_decref(empty);
	json_decref(bare);
	json_decref(odd);
}

static void test_clean(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(notify_clean(out, sizeof(out),
				      "a\r\nb\tc\x7f"
				      "d",
				      100),
			 8);
	assert_string_equal(out, "a  b c d");
	/* C1 controls and line separators are spaces; bidirectional overrides go */
	notify_clean(out, sizeof(out), "x\xc2\x85y\xe2\x80\xa8z\xe2\x80\xae\xe2\x81\xa6w", 100);
	assert_string_equal(out, "x y zw");
	/* cut at a UTF-8 boundary, with an ellipsis in the budget */
	notify_clean(out, sizeof(out), "ééééé", 8); /* 10 bytes */
	assert_string_equal(out, "éé\xe2\x80\xa6");
	notify_clean(out, sizeof(out), "abcdefgh", 8);
	assert_string_equal(out, "abcdefgh");
	notify_clean(out, sizeof(out), "abcdefghi", 8);
	assert_string_equal(out, "abcde\xe2\x80\xa6");
	/* the output buffer bounds it too */
	char small[6];
	notify_clean(small, sizeof(small), "abcdefghi", 100);
	assert_string_equal(small, "ab\xe2\x80\xa6");
	/* invalid UTF-8 */
	notify_clean(out, sizeof(out), "a\xff\xc3(b", 100);
	assert_string_equal(out, "a?"
				 "?(b");
	assert_int_equal(notify_clean(out, sizeof(out), NULL, 10), 0);
	assert_true(notify_is_web_url("https://siem.example/ui/alerts?id=42"));
	assert_false(notify_is_web_url("javascript:alert(1)"));
	assert_false(notify_is_web_url("https://x.example/\"onmouseover=1"));
	assert_false(notify_is_web_url("https://"));
}

static void test_digest_and_notice_format(void **state)
{
	(void)state;
	struct notify_channel_config c = email_cfg();
	c.digest_ms = 3600000;
	c.digest_max_severity = 2;
	c.rate_limit = 20;
	c.rate_window_ms = 3600000;
	struct notify_list l;
	assert_int_equal(notify_list_init(&l, NOTIFY_DIGEST_ITEMS), 0);
	json_t *a = hostile_alert();
	for (int i = 0; i < 55; i++) {
		struct notify_item it;
		json_object_set_new(a, "id", json_integer(100 + i));
		notify_item_build(a, &it);
		notify_list_add(&l, &it);
	}
	assert_int_equal(l.n, 50);
	assert_int_equal(l.total, 55);
	struct strbuf b;
	strbuf_init(&b, 1024 * 1024);
	assert_int_equal(notify_format_list_email(&c, NOTIFY_DIGEST, &l, 1795244523000000LL, &b),
			 0);
	assert_lines_crlf_78(b.p);
	char subject[256];
	header_value(b.p, "Subject", subject, sizeof(subject));
	assert_string_equal(
	    subject, "[minisiem] 55 alerts at LOW or below in the last 1h (digest of channel "
		     "mail)");
	assert_null(strstr(b.p, "X-Minisiem-Alert"));
	char *text = mime_part(b.p, "text/plain");
	assert_non_null(strstr(text,
			       "2026-12-07 10:01:02  HIGH     Account <img src=x "
			       "onerror=alert(1)> created on nas  Bcc: evil@example.net by "
			       "root — été\n    https://siem.example/ui/alerts?id=42&x=|y\n"));
	assert_non_null(strstr(text, "\nand 5 more\n"));
	free(text);
	char *html = mime_part(b.p, "text/html");
	assert_null(strstr(html, "<img"));
	assert_non_null(strstr(html, "<a href=\"https://siem.example/ui/alerts?id=42&amp;x=|y\">"
				     "Account &lt;img"));
	assert_non_null(strstr(html, "<p>and 5 more</p>"));
	free(html);
	strbuf_release(&b);

	strbuf_init(&b, 1024 * 1024);
	assert_int_equal(notify_format_list_webhook(&c, NOTIFY_RATE_NOTICE, &l, &b), 0);
	json_t *o = json_loads(b.p, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "rate_limited");
	assert_string_equal(json_string_value(json_object_get(o, "text")),
			    "55 alerts were not sent (rate limit of 20 per 1h on channel mail)");
	assert_int_equal(json_integer_value(json_object_get(o, "total")), 55);
	assert_int_equal(json_integer_value(json_object_get(o, "more")), 5);
	assert_int_equal(json_array_size(json_object_get(o, "alerts")), 50);
	json_t *first = json_array_get(json_object_get(o, "alerts"), 0);
	assert_int_equal(json_integer_value(json_object_get(first, "id")), 100);
	assert_string_equal(json_string_value(json_object_get(first, "time")),
			    "2026-12-07 10:01:02");
	json_decref(o);
	strbuf_release(&b);

	strbuf_init(&b, 1024 * 1024);
	assert_int_equal(notify_format_list_slack(&c, NOTIFY_DIGEST, &l, &b), 0);
	o = json_loads(b.p, 0, NULL);
	const char *t = json_string_value(json_object_get(o, "text"));
	assert_non_null(strstr(t, "*55 alerts at LOW or below in the last 1h (digest of channel "
				  "mail)*\n• 2026-12-07 10:01:02  HIGH  Account &lt;img"));
	assert_non_null(strstr(t, " <https://siem.example/ui/alerts?id=42&amp;x=%7Cy|open>\n"));
	assert_non_null(strstr(t, "\nand 5 more"));
	json_decref(o);
	strbuf_release(&b);

	/* the worst case: every byte escaped, every link as long as allowed; the message stays
	 * bounded, the list says how many it leaves out */
	notify_list_clear(&l);
	for (int i = 0; i < 60; i++) {
		struct notify_item it;
		memset(&it, 0, sizeof(it));
		memset(it.summary, '&', sizeof(it.summary) - 1);
		memset(it.time, '<', sizeof(it.time) - 1);
		snprintf(it.level, sizeof(it.level), "HIGH");
		memcpy(it.link, "https://x.example/", 18);
		memset(it.link + 18, 'a', NOTIFY_LINK_MAX - 18);
		notify_list_add(&l, &it);
	}
	for (int kind = 0; kind < 2; kind++) {
		struct notify_channel_config k = c;
		for (int type = 0; type < 3; type++) {
			k.kind = type == 0   ? NOTIFY_EMAIL
				 : type == 1 ? NOTIFY_SLACK
					     : NOTIFY_WEBHOOK;
			strbuf_init(&b, 1024 * 1024);
			assert_int_equal(notify_format_list(&k, (enum notify_list_kind)kind, &l,
							    1795244523000000LL, &b),
					 0);
			assert_true(b.n < 1024 * 1024);
			if (type != 2)
				assert_non_null(strstr(b.p, "and "));
			strbuf_release(&b);
		}
	}

	/* one alert: the sentence says so */
	char head[200];
	notify_list_clear(&l);
	struct notify_item it;
	notify_item_build(a, &it);
	notify_list_add(&l, &it);
	notify_list_headline(&c, NOTIFY_RATE_NOTICE, &l, head, sizeof(head));
	assert_string_equal(head, "1 alert was not sent (rate limit of 20 per 1h on channel mail)");
	notify_list_release(&l);
	json_decref(a);
}

/* ---- digests and rate limits on a clock of our own ---- */

static void test_digest_state(void **state)
{
	(void)state;
	struct notify_digest d;
	struct notify_list out;
	struct notify_item it = {.id = 1, .severity = 2};
	assert_int_equal(notify_digest_init(&d, 60000, 2), 0);
	assert_int_equal(notify_list_init(&out, NOTIFY_DIGEST_ITEMS), 0);
	assert_true(notify_digest_wants(&d, 1));
	assert_true(notify_digest_wants(&d, 2));
	assert_false(notify_digest_wants(&d, 3));
	assert_int_equal(notify_digest_deadline(&d), INT64_MAX);
	assert_false(notify_digest_take(&d, 1000000, &out));
	notify_digest_hold(&d, &it, 1000); /* the first one starts the interval */
	it.id = 2;
	notify_digest_hold(&d, &it, 30000);
	assert_int_equal(notify_digest_deadline(&d), 61000);
	assert_false(notify_digest_take(&d, 60999, &out));
	assert_true(notify_digest_take(&d, 61000, &out));
	assert_int_equal(out.total, 2);
	assert_int_equal(out.items[1].id, 2);
	assert_int_equal(notify_digest_deadline(&d), INT64_MAX);
	assert_int_equal(d.held.total, 0);
	assert_int_equal(d.held.cap, NOTIFY_DIGEST_ITEMS);
	notify_digest_hold(&d, &it, 70000);
	assert_int_equal(notify_digest_deadline(&d), 130000);
	notify_digest_release(&d);
	notify_list_release(&out);

	/* off: nothing waits */
	assert_int_equal(notify_digest_init(&d, 0, 2), 0);
	assert_false(notify_digest_wants(&d, 1));
	notify_digest_release(&d);
}

static void test_ratelimit_state(void **state)
{
	(void)state;
	struct notify_ratelimit r;
	struct notify_list out;
	struct notify_item it = {.id = 1};
	assert_int_equal(notify_ratelimit_init(&r, 2, 1000), 0);
	assert_int_equal(notify_list_init(&out, NOTIFY_NOTICE_ITEMS), 0);
	assert_true(notify_ratelimit_allow(&r, 100)); /* the window is 100..1100 */
	assert_true(notify_ratelimit_allow(&r, 500));
	assert_int_equal(notify_ratelimit_deadline(&r), INT64_MAX);
	assert_false(notify_ratelimit_allow(&r, 600));
	notify_ratelimit_refuse(&r, &it);
	for (int i = 0; i < 30; i++) {
		assert_false(notify_ratelimit_allow(&r, 1099));
		it.id = 2 + i;
		notify_ratelimit_refuse(&r, &it);
	}
	assert_int_equal(notify_ratelimit_deadline(&r), 1100);
	assert_false(notify_ratelimit_take_notice(&r, 1099, &out));
	assert_true(notify_ratelimit_take_notice(&r, 1100, &out));
	assert_int_equal(out.total, 31);
	assert_int_equal(out.n, NOTIFY_NOTICE_ITEMS); /* bounded */
	assert_int_equal(out.items[0].id, 1);
	assert_int_equal(notify_ratelimit_deadline(&r), INT64_MAX);
	assert_false(notify_ratelimit_take_notice(&r, 5000, &out));
	notify_list_clear(&out);

	/* a new window starts with the next message */
	assert_true(notify_ratelimit_allow(&r, 5000));
	assert_true(notify_ratelimit_allow(&r, 5999));
	assert_false(notify_ratelimit_allow(&r, 5999));
	notify_ratelimit_refuse(&r, &it);
	/* the window ended, the notice is not taken yet, and a message comes: it opens the
	 * next window; the notice is due at once */
	assert_true(notify_ratelimit_allow(&r, 6000));
	assert_int_equal(notify_ratelimit_deadline(&r), INT64_MIN);
	assert_true(notify_ratelimit_take_notice(&r, 6000, &out));
	assert_int_equal(out.total, 1);
	notify_list_clear(&out);
	assert_true(notify_ratelimit_allow(&r, 6500));
	assert_false(notify_ratelimit_allow(&r, 6600));
	notify_ratelimit_release(&r);
	notify_list_release(&out);

	/* off: everything goes */
	assert_int_equal(notify_ratelimit_init(&r, 0, 0), 0);
	for (int i = 0; i < 1000; i++)
		assert_true(notify_ratelimit_allow(&r, 0));
	notify_ratelimit_release(&r);
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

static void test_config_new_options(void **state)
{
	(void)state;
	struct notify_channel_config *ch = NULL;
	size_t n = 0;
	char err[300];
	const char *good = "[a]\ntype = slack\nurl = https://x\n"
			   "digest = 1h\ndigest_max_severity = medium\n"
			   "rate_limit = 20/1h\nbackfill = true\n"
			   "[b]\ntype = webhook\nurl = https://y\n"
			   "digest = 90s\nrate_limit = 5/250ms\nbackfill = no\n"
			   "[c]\ntype = webhook\nurl = https://z\n"
			   "digest = off\nrate_limit = off\n";
	assert_int_equal(notify_config_parse(good, strlen(good), &ch, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ch[0].digest_ms, 3600000);
	assert_int_equal(ch[0].digest_max_severity, 3);
	assert_int_equal(ch[0].rate_limit, 20);
	assert_int_equal(ch[0].rate_window_ms, 3600000);
	assert_true(ch[0].backfill);
	assert_int_equal(ch[1].digest_ms, 90000);
	assert_int_equal(ch[1].digest_max_severity, 2); /* default: low */
	assert_int_equal(ch[1].rate_limit, 5);
	assert_int_equal(ch[1].rate_window_ms, 250);
	assert_false(ch[1].backfill);
	assert_int_equal(ch[2].digest_ms, 0); /* off, as by default */
	assert_int_equal(ch[2].rate_limit, 0);
	assert_false(ch[2].backfill);
	notify_config_free(ch, n);

	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
	    {"[a]\ntype = slack\nurl = https://x\ndigest = soon\n",
	     "line 4: digest must be off or a duration up to 7d (15m, 1h), not 'soon'"},
	    {"[a]\ntype = slack\nurl = https://x\ndigest = 8d\n", "line 4: digest must be"},
	    {"[a]\ntype = slack\nurl = https://x\n\ndigest_max_severity = 6\n",
	     "line 5: digest_max_severity must be 1..5"},
	    {"[a]\ntype = slack\nurl = https://x\nrate_limit = 20\n",
	     "line 4: rate_limit must be off or N/duration (20/1h; N 1..100000, up to 7d), not "
	     "'20'"},
	    {"[a]\ntype = slack\nurl = https://x\nrate_limit = 0/1h\n", "line 4: rate_limit"},
	    {"[a]\ntype = slack\nurl = https://x\nrate_limit = 20/soon\n", "line 4: rate_limit"},
	    {"[a]\ntype = slack\nurl = https://x\nrate_limit = x/1h\n", "line 4: rate_limit"},
	    {"[a]\ntype = slack\nurl = https://x\nrate_limit = 20/1h/2\n", "line 4: rate_limit"},
	    {"[a]\ntype = slack\nurl = https://x\nbackfill = maybe\n",
	     "line 4: backfill must be true or false, not 'maybe'"},
	};
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
	char bodies[8][65536];
	char sigs[8][128];
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
		char body[65536] = "";
		long got = 0;
		while (got < clen && got < (long)sizeof(body) - 1) {
			long want = clen - got < (long)sizeof(body) - 1 - got
					? clen - got
					: (long)sizeof(body) - 1 - got;
			ssize_t r = read(fd, body + got, (size_t)want);
			if (r <= 0)
				break;
			got += r;
		}
		body[got] = '\0';
		pthread_mutex_lock(&s->mu);
		int i = s->requests++;
		int status = i < 8 && s->statuses[i] ? s->statuses[i] : 200;
		if (i < 8) {
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

/* A clock the test moves by hand: what is due is sent by notifier_wait_idle, never by
 * waiting. */
static _Atomic int64_t fake_now = 1000000;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return atomic_load(&fake_now);
}

static int server_requests(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	int n = s->requests;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Body i as JSON (the caller frees). */
static json_t *server_body(struct server *s, int i)
{
	pthread_mutex_lock(&s->mu);
	json_t *o = json_loads(s->bodies[i], 0, NULL);
	pthread_mutex_unlock(&s->mu);
	assert_non_null(o);
	return o;
}

static json_t *alert_with(int id, const char *level, int sev, const char *summary)
{
	json_t *a = sample_alert("Rule", level, sev);
	json_object_set_new(a, "id", json_integer(id));
	json_object_set_new(a, "summary", json_string(summary));
	char link[64];
	snprintf(link, sizeof(link), "https://siem.example/ui/alerts?id=%d", id);
	json_object_set_new(a, "link", json_string(link));
	return a;
}

static void test_notifier_digest(void **state)
{
	(void)state;
	struct server srv;
	struct notifier *nt = NULL;
	char cfg[512];
	server_start(&srv, http_main);
	snprintf(cfg, sizeof(cfg),
		 "[dig1]\ntype = webhook\nurl = http://127.0.0.1:%d/\nmin_level = informational\n"
		 "digest = 1h\ndigest_max_severity = low\nbackoff = 10ms\n",
		 srv.port);
	atomic_store(&fake_now, 1000000);
	assert_int_equal(notifier_start_clock(&nt, parse_one(cfg), 1, fake_clock, NULL), 0);
	for (int i = 0; i < 53; i++) {
		char sum[64];
		snprintf(sum, sizeof(sum), "low alert %d", i);
		json_t *a =
		    alert_with(100 + i, i % 2 ? "low" : "informational", i % 2 ? 2 : 1, sum);
		notifier_submit(nt, a);
		json_decref(a);
		if (i == 0)
			atomic_store(&fake_now, 1000000 + 60000); /* later ones join the digest */
	}
	json_t *high = alert_with(7, "high", 4, "the high one");
	notifier_submit(nt, high); /* at once */
	json_decref(high);
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 1);
	json_t *o = server_body(&srv, 0);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "alert");
	assert_string_equal(json_string_value(json_object_get(o, "summary")), "the high one");
	json_decref(o);
	json_t *st = channel_status(nt, "dig1");
	assert_int_equal(jint(st, "held"), 53);
	assert_string_equal(json_string_value(json_object_get(st, "digest")), "1h");
	json_decref(st);

	/* the interval started with the first one held */
	atomic_store(&fake_now, 1000000 + 3600000 - 1);
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 1);
	atomic_store(&fake_now, 1000000 + 3600000);
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 2);
	o = server_body(&srv, 1);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "digest");
	assert_string_equal(json_string_value(json_object_get(o, "text")),
			    "53 alerts at LOW or below in the last 1h (digest of channel dig1)");
	json_t *items = json_object_get(o, "alerts");
	assert_int_equal(json_array_size(items), 50);
	assert_int_equal(jint(o, "more"), 3);
	json_t *it = json_array_get(items, 1);
	assert_string_equal(json_string_value(json_object_get(it, "summary")), "low alert 1");
	assert_string_equal(json_string_value(json_object_get(it, "level")), "low");
	assert_string_equal(json_string_value(json_object_get(it, "link")),
			    "https://siem.example/ui/alerts?id=101");
	assert_string_equal(json_string_value(json_object_get(it, "time")), "2026-11-21 07:00:00");
	json_decref(o);
	st = channel_status(nt, "dig1");
	assert_int_equal(jint(st, "held"), 0);
	assert_int_equal(jint(st, "sent"), 2);
	json_decref(st);

	/* nothing held: nothing more is sent */
	atomic_store(&fake_now, 1000000 + 3 * 3600000);
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 2);

	/* held at stop: dropped and counted (the metrics outlive the notifier) */
	json_t *low = alert_with(9, "low", 2, "late");
	notifier_submit(nt, low);
	json_decref(low);
	st = channel_status(nt, "dig1");
	long long dropped = jint(st, "dropped");
	json_decref(st);
	notifier_stop(nt);
	assert_int_equal(notifier_start_clock(&nt, parse_one(cfg), 1, fake_clock, NULL), 0);
	st = channel_status(nt, "dig1");
	assert_int_equal(jint(st, "dropped"), dropped + 1);
	json_decref(st);
	notifier_stop(nt);
	server_stop(&srv);
}

static void test_notifier_rate_limit(void **state)
{
	(void)state;
	struct server srv;
	struct notifier *nt = NULL;
	char cfg[512];
	server_start(&srv, http_main);
	snprintf(cfg, sizeof(cfg),
		 "[rl1]\ntype = slack\nurl = http://127.0.0.1:%d/\nrate_limit = 2/1h\n"
		 "backoff = 10ms\n",
		 srv.port);
	atomic_store(&fake_now, 5000000);
	assert_int_equal(notifier_start_clock(&nt, parse_one(cfg), 1, fake_clock, NULL), 0);
	json_t *st = channel_status(nt, "rl1");
	long long limited0 = jint(st, "rate_limited");
	assert_string_equal(json_string_value(json_object_get(st, "rate_limit")), "2/1h");
	json_decref(st);
	for (int i = 0; i < 6; i++) {
		char sum[64];
		snprintf(sum, sizeof(sum), "brute force <%d> on nas", i);
		json_t *a = alert_with(200 + i, "high", 4, sum);
		notifier_submit(nt, a);
		json_decref(a);
	}
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 2);
	st = channel_status(nt, "rl1");
	assert_int_equal(jint(st, "rate_limited") - limited0, 4);
	assert_int_equal(jint(st, "sent"), 2);
	json_decref(st);

	/* the window ends: one notice, with the summaries */
	atomic_store(&fake_now, 5000000 + 3600000);
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 3);
	json_t *o = server_body(&srv, 2);
	const char *t = json_string_value(json_object_get(o, "text"));
	assert_non_null(t);
	assert_non_null(strstr(t,
			       "*4 alerts were not sent (rate limit of 2 per 1h on channel rl1)*\n"
			       "• 2026-11-21 07:00:00  HIGH  brute force &lt;2&gt; on nas "
			       "<https://siem.example/ui/alerts?id=202|open>\n"));
	assert_non_null(strstr(t, "brute force &lt;5&gt; on nas"));
	json_decref(o);

	/* a new window: two more go, and nothing is due after */
	for (int i = 0; i < 2; i++) {
		json_t *a = alert_with(300 + i, "high", 4, "again");
		notifier_submit(nt, a);
		json_decref(a);
	}
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 5);
	atomic_store(&fake_now, 5000000 + 3 * 3600000);
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 5);
	st = channel_status(nt, "rl1");
	assert_int_equal(jint(st, "rate_limited") - limited0, 4);
	assert_int_equal(jint(st, "sent"), 5);
	json_decref(st);
	notifier_stop(nt);
	server_stop(&srv);
}

/* A digest is one message for the rate limit; refused, its alerts join the notice. */
static void test_notifier_digest_rate_limited(void **state)
{
	(void)state;
	struct server srv;
	struct notifier *nt = NULL;
	char cfg[512];
	server_start(&srv, http_main);
	snprintf(cfg, sizeof(cfg),
		 "[dr1]\ntype = webhook\nurl = http://127.0.0.1:%d/\nmin_level = low\n"
		 "digest = 10m\nrate_limit = 1/1h\n",
		 srv.port);
	atomic_store(&fake_now, 9000000);
	assert_int_equal(notifier_start_clock(&nt, parse_one(cfg), 1, fake_clock, NULL), 0);
	json_t *high = alert_with(1, "high", 4, "high one"), *low = alert_with(2, "low", 2, "low");
	notifier_submit(nt, high);
	notifier_submit(nt, low);
	notifier_submit(nt, low);
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 1);
	atomic_store(&fake_now, 9000000 + 600000); /* the digest is due; the limit is reached */
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 1);
	json_t *st = channel_status(nt, "dr1");
	assert_int_equal(jint(st, "held"), 0);
	json_decref(st);
	atomic_store(&fake_now, 9000000 + 3600000);
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 2);
	json_t *o = server_body(&srv, 1);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "rate_limited");
	assert_int_equal(jint(o, "total"), 2);
	assert_int_equal(jint(o, "limit"), 1);
	assert_string_equal(json_string_value(json_object_get(o, "window")), "1h");
	json_decref(o);
	json_decref(high);
	json_decref(low);
	notifier_stop(nt);
	server_stop(&srv);
}

static void test_notifier_backfill(void **state)
{
	(void)state;
	struct server srv;
	struct notifier *nt = NULL;
	char cfg[1024];
	server_start(&srv, http_main);
	snprintf(cfg, sizeof(cfg),
		 "[bf-no]\ntype = webhook\nurl = http://127.0.0.1:%d/no\n"
		 "[bf-yes]\ntype = webhook\nurl = http://127.0.0.1:%d/yes\nbackfill = true\n",
		 srv.port, srv.port);
	struct notify_channel_config *ch = NULL;
	size_t n = 0;
	char err[300];
	assert_int_equal(notify_config_parse(cfg, strlen(cfg), &ch, &n, err, sizeof(err)), 0);
	assert_int_equal(notifier_start(&nt, ch, n), 0);
	json_t *st = channel_status(nt, "bf-no");
	long long skipped0 = jint(st, "backfill_skipped");
	json_decref(st);
	json_t *a = alert_with(77, "high", 4, "old history");
	json_object_set_new(a, "backfill", json_true());
	notifier_submit(nt, a);
	assert_true(notifier_wait_idle(nt, 10000));
	assert_int_equal(server_requests(&srv), 1);
	st = channel_status(nt, "bf-no");
	assert_int_equal(jint(st, "backfill_skipped") - skipped0, 1);
	assert_int_equal(jint(st, "sent"), 0);
	json_decref(st);
	st = channel_status(nt, "bf-yes");
	assert_int_equal(jint(st, "sent"), 1);
	json_decref(st);
	json_t *o = server_body(&srv, 0);
	assert_string_equal(json_string_value(json_object_get(o, "summary")), "old history");
	assert_true(json_is_true(json_object_get(json_object_get(o, "alert"), "backfill")));
	json_decref(o);
	json_decref(a);
	notifier_stop(nt);
	server_stop(&srv);
}

int main(void)
{
	log_set_level(LOG_LVL_ERROR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hmac_rfc4231),
	    cmocka_unit_test(test_backoff_schedule),
	    cmocka_unit_test(test_webhook_and_slack_format),
	    cmocka_unit_test(test_email_format),
	    cmocka_unit_test(test_clean),
	    cmocka_unit_test(test_email_content_hostile),
	    cmocka_unit_test(test_webhook_and_slack_content_hostile),
	    cmocka_unit_test(test_huge_alert_bounded),
	    cmocka_unit_test(test_absent_members),
	    cmocka_unit_test(test_digest_and_notice_format),
	    cmocka_unit_test(test_digest_state),
	    cmocka_unit_test(test_ratelimit_state),
	    cmocka_unit_test(test_config_parse),
	    cmocka_unit_test(test_config_new_options),
	    cmocka_unit_test(test_webhook_delivery_signed_with_retry),
	    cmocka_unit_test(test_slack_permanent_failure),
	    cmocka_unit_test(test_smtp_delivery),
	    cmocka_unit_test(test_refused_channel_never_blocks),
	    cmocka_unit_test(test_notifier_digest),
	    cmocka_unit_test(test_notifier_rate_limit),
	    cmocka_unit_test(test_notifier_digest_rate_limited),
	    cmocka_unit_test(test_notifier_backfill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
