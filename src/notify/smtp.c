/* smtp.c — alert notifications by email: the RFC 5322 message (UTF-8 subject as RFC 2047
 * words, quoted-printable body) and its delivery over SMTP with libcurl (smtps://, or smtp://
 * with STARTTLS), with optional login. */
#include <stdio.h>
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
	char level[16];
	struct strbuf t;
	int rc;
	notify_level_upper(alert, level, sizeof(level));
	strbuf_init(&t, 4096);
	rc = strbuf_addf(&t, "[minisiem] %s: %s", level, notify_str(alert, "rule_title"));
	if (!rc && *notify_str(alert, "group_key"))
		rc = strbuf_addf(&t, " (%s)", notify_str(alert, "group_key"));
	if (!rc)
		rc = add_clean(out, t.p, SUBJECT_MAX);
	strbuf_release(&t);
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
 * most 78 characters, else RFC 2047 encoded words of at most 45 bytes each (75 characters
 * encoded), split at UTF-8 boundaries and folded. */
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
		size_t k = n - off > 45 ? 45 : n - off;
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

/* s without control characters, cut to fit buf. */
static const char *clean(const char *s, char *buf, size_t len)
{
	struct strbuf t;
	strbuf_init(&t, len - 1);
	if (add_clean(&t, s, len - 1) < 0 || !t.p) {
		strbuf_release(&t);
		return "";
	}
	memcpy(buf, t.p, t.n + 1);
	strbuf_release(&t);
	return buf;
}

static int body_text(const json_t *alert, struct strbuf *b)
{
	char level[16], title[1024], rule_id[512], author_buf[512], group_buf[1024];
	const json_t *ids = json_object_get(alert, "event_ids");
	const char *author =
	    clean(notify_str(alert, "rule_author"), author_buf, sizeof(author_buf));
	const char *group = clean(notify_str(alert, "group_key"), group_buf, sizeof(group_buf));
	long long count = notify_int(alert, "count");
	int rc;
	notify_level_upper(alert, level, sizeof(level));
	rc = strbuf_addf(b,
			 "minisiem raised an alert.\n\n"
			 "Rule:        %s\nRule id:     %s\nLevel:       %s (severity %lld)\n"
			 "Author:      %s\nGroup:       %s\nFirst seen:  %s\nLast seen:   %s\n"
			 "Count:       %lld (suppressed repeats: %lld)\n"
			 "Alert:       #%lld, %s\n",
			 clean(notify_str(alert, "rule_title"), title, sizeof(title)),
			 clean(notify_str(alert, "rule_id"), rule_id, sizeof(rule_id)), level,
			 notify_int(alert, "severity"), *author ? author : "(not given)",
			 *group ? group : "(none)", notify_str(alert, "first_seen"),
			 notify_str(alert, "last_seen"), count, count > 0 ? count - 1 : 0,
			 notify_int(alert, "id"), notify_str(alert, "status"));
	size_t n = json_array_size(ids);
	for (size_t i = 0; i < n && i < 10 && rc == 0; i++)
		rc = strbuf_addf(b, "%s%s\n", i ? "             " : "Events:      ",
				 json_string_value(json_array_get(ids, i)));
	if (rc == 0 && n > 10)
		rc = strbuf_addf(b, "             (and %zu more)\n", n - 10);
	return rc;
}

int notify_format_email(const struct notify_channel_config *ch, const json_t *alert, int64_t now_us,
			struct strbuf *out)
{
	struct strbuf subj, body;
	int rc;
	strbuf_init(&subj, 4096);
	strbuf_init(&body, 64 * 1024);
	if ((rc = notify_format_subject(alert, &subj)) < 0 || (rc = body_text(alert, &body)) < 0)
		goto out;
	if ((rc = add_date(out, now_us)) < 0 ||
	    (rc = strbuf_addf(out, "From: %s\r\nTo: ", ch->from ? ch->from : "")) < 0)
		goto out;
	for (size_t i = 0; i < ch->n_to; i++)
		if ((rc = strbuf_addf(out, "%s%s", i ? ", " : "", ch->to[i])) < 0)
			goto out;
	if ((rc = strbuf_add(out, "\r\nSubject: ", 11)) < 0 ||
	    (rc = add_header_text(out, 9, subj.p ? subj.p : "", subj.n)) < 0)
		goto out;
	const char *at = ch->from ? strchr(ch->from, '@') : NULL;
	int dlen = at ? (int)strcspn(at + 1, "> \t") : 0;
	rc = strbuf_addf(out,
			 "\r\nMessage-ID: <alert-%lld-%lld-%lld@%.*s>\r\n"
			 "MIME-Version: 1.0\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n"
			 "X-Minisiem-Alert: %lld\r\n\r\n",
			 notify_int(alert, "id"), notify_int(alert, "version"), (long long)now_us,
			 dlen ? dlen : 16, dlen ? at + 1 : "minisiem.invalid",
			 notify_int(alert, "id"));
	if (rc == 0)
		rc = add_qp(out, body.p ? body.p : "");
out:
	strbuf_release(&subj);
	strbuf_release(&body);
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
