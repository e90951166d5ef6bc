/* smtp.c — alert notifications by email: the RFC 5322 message (UTF-8 subject as RFC 2047
 * words, a multipart/alternative body of a text and an HTML part, quoted-printable) for an
 * alert, a digest or a rate-limit notice, and its delivery over SMTP with libcurl (smtps://,
 * or smtp:// with STARTTLS), with optional login. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/err.h"
#include "notify/notify.h"

#define SUBJECT_MAX 200

/* Copy s into out with control characters (CR, LF, tabs...) as spaces, at most max bytes,
 * cut at a UTF-8 boundary. */
static int add_clean(struct strbuf *out, const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char ch = c < 0x20 || c == 0x7f ? ' ' : (char)c;
		int rc = strbuf_add(out, &ch, 1);
		if (rc)
			return rc;
	}
	return 0;
}

int notify_format_subject(const json_t *alert, struct strbuf *out)
{
	struct notify_content *c = malloc(sizeof(*c));
	struct strbuf t;
	int rc;
	if (!c)
		return -ENOMEM;
	notify_content_build(alert, c);
	strbuf_init(&t, 4096);
	rc = strbuf_addf(&t, "[minisiem] %s%s: %s", c->level, c->backfill ? " (backfill)" : "",
			 c->headline);
	if (!rc)
		rc = add_clean(out, t.p, SUBJECT_MAX);
	strbuf_release(&t);
	free(c);
	return rc;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int add_base64(struct strbuf *out, const unsigned char *p, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
			     i + 1 < n ? b64[(v >> 6) & 63] : '=', i + 2 < n ? b64[v & 63] : '='};
		rc = strbuf_add(out, q, 4);
	}
	return rc;
}

/* A header value after a name of col characters: ASCII folded at spaces into lines of at
 * most 78 characters, else RFC 2047 encoded words (at most 45 bytes each, fewer on the
 * first line: a line is at most 76 characters), split at UTF-8 boundaries and folded. */
static int add_header_text(struct strbuf *out, size_t col, const char *s, size_t n)
{
	bool ascii = true;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			ascii = false;
	if (ascii) {
		int rc = 0;
		while (rc == 0 && col + n > 78) {
			size_t cut = 78 - col;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (cut == 0)
				break; /* one long word: leave it whole */
			rc = strbuf_add(out, s, cut);
			rc = rc ? rc : strbuf_add(out, "\r\n", 2);
			s += cut;
			n -= cut;
			col = 0;
		}
		return rc ? rc : strbuf_add(out, s, n);
	}
	int rc = 0;
	for (size_t off = 0; off < n && rc == 0;) {
		/* a line with an encoded word is at most 76 characters (RFC 2047 2) */
		size_t room = 3 * ((76 - (off ? 1 : col) - 12) / 4);
		size_t k = n - off > room ? room : n - off;
		while (off + k < n && k > 0 && ((unsigned char)s[off + k] & 0xc0) == 0x80)
			k--;
		if (off)
			rc = strbuf_add(out, "\r\n ", 3);
		rc = rc ? rc : strbuf_add(out, "=?UTF-8?B?", 10);
		rc = rc ? rc : add_base64(out, (const unsigned char *)s + off, k);
		rc = rc ? rc : strbuf_add(out, "?=", 2);
		off += k;
	}
	return rc;
}

/* Quoted-printable (RFC 2045) of text whose lines end in "\n"; output lines end in CRLF and
 * are at most 76 characters. */
static int add_qp(struct strbuf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0, col = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
		char enc[3];
		int k;
		if (*p == '\n') {
			rc = strbuf_add(out, "\r\n", 2);
			col = 0;
			continue;
		}
		bool at_eol = p[1] == '\n' || p[1] == '\0';
		if ((*p >= 33 && *p <= 126 && *p != '=') ||
		    ((*p == ' ' || *p == '\t') && !at_eol)) {
			enc[0] = (char)*p;
			k = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			k = 3;
		}
		if (col + k > 75) {
			rc = strbuf_add(out, "=\r\n", 3);
			col = 0;
		}
		rc = rc ? rc : strbuf_add(out, enc, (size_t)k);
		col += k;
	}
	return rc;
}

static int add_date(struct strbuf *out, int64_t now_us)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(now_us / 1000000);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	return strbuf_addf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
			   tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
			   tm.tm_sec);
}

/* ---- the parts: text/plain and text/html ---- */

/* s escaped for HTML text and attribute values. */
static int add_html(struct strbuf *b, const char *s)
{
	int rc = 0;
	for (; *s && rc == 0; s++) {
		switch (*s) {
		case '&':
			rc = strbuf_add(b, "&amp;", 5);
			break;
		case '<':
			rc = strbuf_add(b, "&lt;", 4);
			break;
		case '>':
			rc = strbuf_add(b, "&gt;", 4);
			break;
		case '"':
			rc = strbuf_add(b, "&quot;", 6);
			break;
		case '\'':
			rc = strbuf_add(b, "&#39;", 5);
			break;
		default:
			rc = strbuf_add(b, s, 1);
		}
	}
	return rc;
}

/* A link when url is a web URL, else the escaped text. */
static int add_html_link(struct strbuf *b, const char *url, const char *text)
{
	if (!notify_is_web_url(url))
		return add_html(b, text);
	int rc = strbuf_add(b, "<a href=\"", 9);
	rc = rc ? rc : add_html(b, url);
	rc = rc ? rc : strbuf_add(b, "\">", 2);
	rc = rc ? rc : add_html(b, text);
	return rc ? rc : strbuf_add(b, "</a>", 4);
}

/* "Name:        value\n", values of several lines indented. */
static int text_field(struct strbuf *b, const char *name, const char *value)
{
	return *value ? strbuf_addf(b, "%-13s%s\n", name, value) : 0;
}

static int text_list(struct strbuf *b, const char *name, const char (*v)[68], size_t n)
{
	int rc = n ? strbuf_addf(b, "%-13s", name) : 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = strbuf_addf(b, "%s%s", i ? ", " : "", v[i]);
	return n && rc == 0 ? strbuf_add(b, "\n", 1) : rc;
}

static int text_alert(const struct notify_content *c, struct strbuf *b)
{
	char sev[48];
	int rc;
	snprintf(sev, sizeof(sev), "%s (%lld)", c->level, c->severity);
	rc = strbuf_addf(b, "%s\n\n", c->headline);
	if (!rc && c->backfill)
		rc = strbuf_add(b, "Raised by imported history (backfill).\n\n", 41);
	rc = rc ? rc : text_field(b, "Severity:", sev);
	rc = rc ? rc : text_field(b, "Host:", c->hosts);
	rc = rc ? rc : text_field(b, "User:", c->users);
	rc = rc ? rc : text_field(b, "Address:", c->addresses);
	rc = rc ? rc : text_field(b, "Open:", c->link);
	if (!rc && c->n_events) {
		rc = c->events_total > (long long)c->n_events
			 ? strbuf_addf(b, "\nEvents (%zu of %lld):\n", c->n_events, c->events_total)
			 : strbuf_add(b, "\nEvents:\n", 9);
		for (size_t i = 0; i < c->n_events && rc == 0; i++)
			rc = strbuf_addf(b, "  %s\n", c->events[i]);
		if (!rc && c->events_total > (long long)c->n_events)
			rc = strbuf_addf(b, "  and %lld more\n",
					 c->events_total - (long long)c->n_events);
	}
	rc = rc ? rc : strbuf_add(b, "\n", 1);
	rc = rc ? rc : text_field(b, "Rule:", c->title);
	rc = rc ? rc : text_field(b, "Description:", c->description);
	rc = rc ? rc : text_list(b, "ATT&CK:", c->attack, c->n_attack);
	rc = rc ? rc : text_list(b, "Tags:", c->tags, c->n_tags);
	for (size_t i = 0; i < c->n_refs && rc == 0; i++)
		rc = text_field(b, i ? "" : "References:", c->refs[i]);
	rc = rc ? rc : strbuf_add(b, "\n", 1);
	rc = rc ? rc : text_field(b, "Rule id:", c->rule_id);
	rc = rc ? rc : text_field(b, "Author:", *c->author ? c->author : "(not given)");
	rc = rc ? rc : text_field(b, "Group:", *c->group ? c->group : "(none)");
	rc = rc ? rc : text_field(b, "First seen:", c->first_seen);
	rc = rc ? rc : text_field(b, "Last seen:", c->last_seen);
	rc = rc ? rc
		: strbuf_addf(b, "%-13s%lld (suppressed repeats: %lld)\n", "Count:", c->count,
			      c->count > 0 ? c->count - 1 : 0);
	rc = rc ? rc : strbuf_addf(b, "%-13s#%lld, %s\n", "Alert:", c->id, c->status);
	return rc;
}

static int html_row(struct strbuf *b, const char *name, const char *value)
{
	if (!*value)
		return 0;
	int rc = strbuf_addf(b, "<tr><td style=\"color:#666;padding-right:1em\">%s</td><td>", name);
	rc = rc ? rc : add_html(b, value);
	return rc ? rc : strbuf_add(b, "</td></tr>\n", 11);
}

static int html_list_row(struct strbuf *b, const char *name, const char (*v)[68], size_t n)
{
	int rc =
	    n ? strbuf_addf(b, "<tr><td style=\"color:#666;padding-right:1em\">%s</td><td>", name)
	      : 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = i ? strbuf_add(b, ", ", 2) : 0;
		rc = rc ? rc : add_html(b, v[i]);
	}
	return n && rc == 0 ? strbuf_add(b, "</td></tr>\n", 11) : rc;
}

static const char html_head[] = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n"
				"<body style=\"font-family:sans-serif;font-size:14px\">\n";

static int html_alert(const struct notify_content *c, struct strbuf *b)
{
	char sev[48];
	int rc;
	snprintf(sev, sizeof(sev), "%s (%lld)", c->level, c->severity);
	rc = strbuf_add(b, html_head, sizeof(html_head) - 1);
	rc = rc ? rc : strbuf_add(b, "<p style=\"font-size:16px\"><b>", 29);
	rc = rc ? rc : add_html(b, c->headline);
	rc = rc ? rc : strbuf_add(b, "</b></p>\n", 9);
	if (!rc && c->backfill)
		rc = strbuf_addf(b, "<p>Raised by imported history (backfill).</p>\n");
	rc = rc ? rc : strbuf_add(b, "<table>\n", 8);
	rc = rc ? rc : html_row(b, "Severity", sev);
	rc = rc ? rc : html_row(b, "Host", c->hosts);
	rc = rc ? rc : html_row(b, "User", c->users);
	rc = rc ? rc : html_row(b, "Address", c->addresses);
	rc = rc ? rc : strbuf_add(b, "</table>\n", 9);
	if (!rc && *c->link) {
		rc = strbuf_add(b, "<p>", 3);
		rc = rc ? rc : add_html_link(b, c->link, "Open in minisiem");
		rc = rc ? rc : strbuf_add(b, "</p>\n", 5);
	}
	if (!rc && c->n_events) {
		rc = c->events_total > (long long)c->n_events
			 ? strbuf_addf(b, "<p><b>Events</b> (%zu of %lld)</p>\n<pre>", c->n_events,
				       c->events_total)
			 : strbuf_addf(b, "<p><b>Events</b></p>\n<pre>");
		for (size_t i = 0; i < c->n_events && rc == 0; i++) {
			rc = add_html(b, c->events[i]);
			rc = rc ? rc : strbuf_add(b, "\n", 1);
		}
		rc = rc ? rc : strbuf_add(b, "</pre>\n", 7);
		if (!rc && c->events_total > (long long)c->n_events)
			rc = strbuf_addf(b, "<p>and %lld more</p>\n",
					 c->events_total - (long long)c->n_events);
	}
	rc = rc ? rc : strbuf_add(b, "<table>\n", 8);
	rc = rc ? rc : html_row(b, "Rule", c->title);
	rc = rc ? rc : html_row(b, "Description", c->description);
	rc = rc ? rc : html_list_row(b, "MITRE ATT&amp;CK", c->attack, c->n_attack);
	rc = rc ? rc : html_list_row(b, "Tags", c->tags, c->n_tags);
	for (size_t i = 0; i < c->n_refs && rc == 0; i++) {
		rc = strbuf_addf(b, "<tr><td style=\"color:#666;padding-right:1em\">%s</td><td>",
				 i ? "" : "References");
		rc = rc ? rc : add_html_link(b, c->refs[i], c->refs[i]);
		rc = rc ? rc : strbuf_add(b, "</td></tr>\n", 11);
	}
	rc = rc ? rc : html_row(b, "Rule id", c->rule_id);
	rc = rc ? rc : html_row(b, "Author", *c->author ? c->author : "(not given)");
	rc = rc ? rc : html_row(b, "Group", *c->group ? c->group : "(none)");
	rc = rc ? rc : html_row(b, "First seen", c->first_seen);
	rc = rc ? rc : html_row(b, "Last seen", c->last_seen);
	if (!rc) {
		char v[64];
		snprintf(v, sizeof(v), "%lld (suppressed repeats: %lld)", c->count,
			 c->count > 0 ? c->count - 1 : 0);
		rc = html_row(b, "Count", v);
		snprintf(v, sizeof(v), "#%lld, %s", c->id, c->status);
		rc = rc ? rc : html_row(b, "Alert", v);
	}
	return rc ? rc : strbuf_add(b, "</table>\n</body></html>\n", 24);
}

/* The first ten event ids, when the alert does not carry its events. */
static int text_event_ids(const json_t *alert, struct strbuf *b)
{
	const json_t *ids = json_object_get(alert, "event_ids");
	size_t n = json_array_size(ids);
	int rc = 0;
	for (size_t i = 0; i < n && i < 10 && rc == 0; i++) {
		char id[40];
		notify_clean(id, sizeof(id), json_string_value(json_array_get(ids, i)), 36);
		rc = strbuf_addf(b, "%s%s\n", i ? "             " : "Events:      ", id);
	}
	if (rc == 0 && n > 10)
		rc = strbuf_addf(b, "             (and %zu more)\n", n - 10);
	return rc;
}

/* ---- the message ---- */

struct email_parts {
	const char *subject, *text, *html;
	const char *id_kind; /* "digest", "notice" (an alert's Message-ID has its id) */
	long long id, version;
};

static int email_message(const struct notify_channel_config *ch, const struct email_parts *p,
			 int64_t now_us, struct strbuf *out)
{
	char boundary[48];
	int rc;
	snprintf(boundary, sizeof(boundary), "=_minisiem_%lld", (long long)now_us);
	if ((rc = add_date(out, now_us)) < 0 ||
	    (rc = strbuf_addf(out, "From: %s\r\nTo: ", ch->from ? ch->from : "")) < 0)
		return rc;
	for (size_t i = 0; i < ch->n_to; i++)
		if ((rc = strbuf_addf(out, "%s%s", i ? ", " : "", ch->to[i])) < 0)
			return rc;
	if ((rc = strbuf_add(out, "\r\nSubject: ", 11)) < 0 ||
	    (rc = add_header_text(out, 9, p->subject, strlen(p->subject))) < 0)
		return rc;
	const char *at = ch->from ? strchr(ch->from, '@') : NULL;
	int dlen = at ? (int)strcspn(at + 1, "> \t") : 0;
	char local[96];
	if (p->id)
		snprintf(local, sizeof(local), "alert-%lld-%lld-%lld", p->id, p->version,
			 (long long)now_us);
	else
		snprintf(local, sizeof(local), "%s-%lld", p->id_kind, (long long)now_us);
	rc = strbuf_addf(out, "\r\nMessage-ID: <%s@%.*s>\r\nMIME-Version: 1.0\r\n", local,
			 dlen ? dlen : 16, dlen ? at + 1 : "minisiem.invalid");
	if (!rc && p->id)
		rc = strbuf_addf(out, "X-Minisiem-Alert: %lld\r\n", p->id);
	/* a boundary starting with "=_" never occurs in quoted-printable text */
	rc = rc ? rc
		: strbuf_addf(out,
			      "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n"
			      "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			      "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
			      boundary, boundary);
	rc = rc ? rc : add_qp(out, p->text ? p->text : "");
	rc = rc ? rc
		: strbuf_addf(out,
			      "\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
			      "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
			      boundary);
	rc = rc ? rc : add_qp(out, p->html ? p->html : "");
	return rc ? rc : strbuf_addf(out, "\r\n--%s--\r\n", boundary);
}

/* Bodies: at most NOTIFY_EVENTS_MAX lines of NOTIFY_MESSAGE_MAX bytes and a few fields of
 * bounded size, each at most 6 times larger escaped. */
#define BODY_MAX (256 * 1024)
#define LIST_SOFT_MAX (128 * 1024)

int notify_format_email(const struct notify_channel_config *ch, const json_t *alert, int64_t now_us,
			struct strbuf *out)
{
	struct strbuf subj, text, html;
	struct notify_content *c = malloc(sizeof(*c));
	int rc;
	if (!c)
		return -ENOMEM;
	notify_content_build(alert, c);
	strbuf_init(&subj, 4096);
	strbuf_init(&text, BODY_MAX);
	strbuf_init(&html, BODY_MAX);
	if ((rc = notify_format_subject(alert, &subj)) < 0 || (rc = text_alert(c, &text)) < 0 ||
	    (rc = html_alert(c, &html)) < 0)
		goto out;
	if (!c->n_events && (rc = text_event_ids(alert, &text)) < 0)
		goto out;
	struct email_parts p = {subj.p ? subj.p : "",	     text.p, html.p, "alert", c->id,
				notify_int(alert, "version")};
	rc = email_message(ch, &p, now_us, out);
out:
	strbuf_release(&subj);
	strbuf_release(&text);
	strbuf_release(&html);
	free(c);
	return rc;
}

int notify_format_list_email(const struct notify_channel_config *ch, enum notify_list_kind kind,
			     const struct notify_list *l, int64_t now_us, struct strbuf *out)
{
	struct strbuf subj, text, html;
	char head[400];
	int rc;
	notify_list_headline(ch, kind, l, head, sizeof(head));
	strbuf_init(&subj, 4096);
	strbuf_init(&text, BODY_MAX);
	strbuf_init(&html, BODY_MAX);
	rc = strbuf_addf(&subj, "[minisiem] %s", head);
	rc = rc ? rc : strbuf_addf(&text, "%s\n\n", head);
	rc = rc ? rc : strbuf_add(&html, html_head, sizeof(html_head) - 1);
	rc = rc ? rc : strbuf_add(&html, "<p style=\"font-size:16px\"><b>", 29);
	rc = rc ? rc : add_html(&html, head);
	rc = rc ? rc : strbuf_add(&html, "</b></p>\n<table>\n", 17);
	size_t shown = 0;
	/* 50 lines fit; escaped worst cases stop the list early, "and N more" says so */
	for (; shown < l->n && rc == 0 && text.n < LIST_SOFT_MAX && html.n < LIST_SOFT_MAX;
	     shown++) {
		const struct notify_item *it = &l->items[shown];
		rc = strbuf_addf(&text, "%s  %-8s %s\n", it->time, it->level, it->summary);
		if (!rc && *it->link)
			rc = strbuf_addf(&text, "    %s\n", it->link);
		rc = rc ? rc : strbuf_addf(&html, "<tr><td style=\"white-space:nowrap\">");
		rc = rc ? rc : add_html(&html, it->time);
		rc = rc ? rc : strbuf_add(&html, "</td><td>", 9);
		rc = rc ? rc : add_html(&html, it->level);
		rc = rc ? rc : strbuf_add(&html, "</td><td>", 9);
		rc = rc ? rc : add_html_link(&html, it->link, it->summary);
		rc = rc ? rc : strbuf_add(&html, "</td></tr>\n", 11);
	}
	rc = rc ? rc : strbuf_add(&html, "</table>\n", 9);
	if (!rc && l->total > shown) {
		rc = strbuf_addf(&text, "and %zu more\n", l->total - shown);
		rc = rc ? rc : strbuf_addf(&html, "<p>and %zu more</p>\n", l->total - shown);
	}
	rc = rc ? rc : strbuf_add(&html, "</body></html>\n", 15);
	if (rc == 0) {
		struct strbuf clean_subj;
		strbuf_init(&clean_subj, 4096);
		rc = add_clean(&clean_subj, subj.p, SUBJECT_MAX);
		struct email_parts p = {clean_subj.p ? clean_subj.p : "",
					text.p,
					html.p,
					kind == NOTIFY_DIGEST ? "digest" : "notice",
					0,
					0};
		rc = rc ? rc : email_message(ch, &p, now_us, out);
		strbuf_release(&clean_subj);
	}
	strbuf_release(&subj);
	strbuf_release(&text);
	strbuf_release(&html);
	return rc;
}

struct upload {
	const char *p;
	size_t n, off;
};

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upload *u = arg;
	size_t room = size * nitems, left = u->n - u->off;
	size_t k = left < room ? left : room;
	memcpy(buf, u->p + u->off, k);
	u->off += k;
	return k;
}

/* "Name <a@b>" or "a@b" -> "<a@b>" for the SMTP envelope. */
static void envelope(const char *addr, char *out, size_t outlen)
{
	const char *lt = strchr(addr, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		snprintf(out, outlen, "%.*s", (int)(gt - lt + 1), lt);
	else
		snprintf(out, outlen, "<%s>", addr);
}

enum notify_result notify_smtp_send(const struct notify_channel_config *ch, const char *msg,
				    size_t n, notify_abort_fn abort_fn, void *abort_arg, char *err,
				    size_t errlen)
{
	char abort_store[NOTIFY_ABORT_CTX_SIZE], addr[320];
	struct curl_slist *rcpt = NULL, *t;
	struct upload u = {msg, n, 0};
	long code = 0;
	CURL *c = notify_curl_open(ch, abort_fn, abort_arg, abort_store, err, errlen);
	if (!c)
		return NOTIFY_RETRY;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	enum notify_tls tls = ch->starttls;
	if (tls == NOTIFY_TLS_DEFAULT)
		tls = ch->user ? NOTIFY_TLS_REQUIRED : NOTIFY_TLS_TRY;
	curl_easy_setopt(c, CURLOPT_USE_SSL,
			 tls == NOTIFY_TLS_REQUIRED ? (long)CURLUSESSL_ALL
			 : tls == NOTIFY_TLS_TRY    ? (long)CURLUSESSL_TRY
						    : (long)CURLUSESSL_NONE);
	if (ch->user)
		curl_easy_setopt(c, CURLOPT_USERNAME, ch->user);
	if (ch->password)
		curl_easy_setopt(c, CURLOPT_PASSWORD, ch->password);
	envelope(ch->from ? ch->from : "", addr, sizeof(addr));
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr);
	for (size_t i = 0; i < ch->n_to; i++) {
		envelope(ch->to[i], addr, sizeof(addr));
		if (!(t = curl_slist_append(rcpt, addr))) {
			curl_slist_free_all(rcpt);
			curl_easy_cleanup(c);
			snprintf(err, errlen, "out of memory");
			return NOTIFY_RETRY;
		}
		rcpt = t;
	}
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)n);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	return notify_curl_result((int)cc, code, true, err, errlen);
}
