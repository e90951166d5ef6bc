/* syslog.c — one syslog message (RFC 5424, RFC 3164 and what real senders and syslog files
 * hold) split into PRI, timestamp, host, program, pid and message, without copying. */
#include <stddef.h>
#include <string.h>

#include "core/calendar.h"
#include "core/err.h"
#include "parse/syslog.h"

#define US_PER_SEC 1000000LL
#define TAG_MAX 255    /* a longer first word is not a program name */
#define PROCID_MAX 128 /* RFC 5424 PROCID limit */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Characters of a hostname or address as senders write them (RFC 1123 plus '_' and the
 * ':' of IPv6); a word with anything else ('#', '%', '[', '"') is no hostname. */
static bool is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
	       c == '-' || c == '_' || c == ':';
}

static const char *skip_spaces(const char *p, const char *e)
{
	while (p < e && is_space(*p))
		p++;
	return p;
}

static const char *word_end(const char *p, const char *e)
{
	while (p < e && *p != ' ')
		p++;
	return p;
}

static int64_t year_of(int64_t us)
{
	int64_t y;
	unsigned m, d;
	civil_from_days(us / (86400 * US_PER_SEC), &y, &m, &d);
	return y;
}

static bool valid_date(int64_t y, int mo, int d)
{
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1)
		return false;
	return (unsigned)d <= days_in_month(y, (unsigned)mo);
}

static int64_t civil_us(int64_t y, int mo, int d, int h, int mi, int s)
{
	return (days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s) *
	       US_PER_SEC;
}

/* Case-insensitive English month abbreviation, 1..12, or 0. */
static int month_of(const char *p)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char w[3];
	for (int i = 0; i < 3; i++)
		w[i] = (char)(p[i] | 0x20);
	for (int m = 0; m < 12; m++)
		if (!memcmp(names + 3 * m, w, 3))
			return m + 1;
	return 0;
}

/* "HH:MM:SS[.frac]" at p; returns the end or NULL. */
static const char *parse_hms(const char *p, const char *e, int *h, int *mi, int *s, int64_t *frac)
{
	if (e - p < 8 || p[2] != ':' || p[5] != ':')
		return NULL;
	*h = date_digits(p, 2);
	*mi = date_digits(p + 3, 2);
	*s = date_digits(p + 6, 2);
	if (*h < 0 || *h > 23 || *mi < 0 || *mi > 59 || *s < 0 || *s > 60)
		return NULL;
	p += 8;
	*frac = 0;
	if (p < e && *p == '.' && p + 1 < e && is_digit(p[1])) {
		int k = 0;
		for (p++; p < e && is_digit(*p); p++, k++)
			if (k < 6)
				*frac = *frac * 10 + (*p - '0');
		for (; k < 6; k++)
			*frac *= 10;
	}
	return p;
}

/* The year of a timestamp written without one: the latest that does not put its date after
 * tomorrow (the sender's zone may be a day ahead of UTC), so a file read in November that
 * holds February lines gets this February, and a "Dec 10" line read on December 6th (or on
 * January 1st) is last year's. */
static int64_t guess_year(int mo, int d, int64_t now_us)
{
	int64_t y0 = year_of(now_us > 0 ? now_us : 0);
	int64_t tomorrow = (now_us > 0 ? now_us : 0) / (86400 * US_PER_SEC) + 1;
	for (int64_t y = y0 + 1; y >= y0 - 8; y--)
		if (valid_date(y, mo, d) &&
		    days_from_civil(y, (unsigned)mo, (unsigned)d) <= tomorrow)
			return y;
	return 0;
}

/* RFC 3164 "Mmm dd [YYYY ]HH:MM:SS[.frac][:]" (day padded or not, any month case) and a
 * year after the time ("Mmm dd HH:MM:SS YYYY"). Returns the end of the timestamp or NULL. */
static const char *parse_bsd_time(const char *p, const char *e, int64_t now_us, int64_t *ts,
				  bool *local)
{
	if (e - p < 14 || !month_of(p) || p[3] != ' ')
		return NULL;
	int mo = month_of(p), d;
	const char *q = p + 4;
	if (*q == ' ')
		q++;
	if (q < e && is_digit(*q) && q + 1 < e && is_digit(q[1])) {
		d = date_digits(q, 2);
		q += 2;
	} else if (q < e && is_digit(*q)) {
		d = *q - '0';
		q++;
	} else {
		return NULL;
	}
	if (q >= e || *q != ' ')
		return NULL;
	q++;
	int64_t y = 0;
	if (e - q >= 5 && date_digits(q, 4) >= 0 && q[4] == ' ') {
		y = date_digits(q, 4);
		q += 5;
	}
	int h, mi, s;
	int64_t frac;
	if (!(q = parse_hms(q, e, &h, &mi, &s, &frac)))
		return NULL;
	if (q < e && *q == ':')
		q++;
	if (q < e && *q != ' ')
		return NULL;
	/* A year after the time: "AUG 10 22:18:24 2009 host". */
	if (!y && e - q >= 5 && date_digits(q + 1, 4) >= 1970 && date_digits(q + 1, 4) <= 2099 &&
	    (e - q == 5 || q[5] == ' ')) {
		y = date_digits(q + 1, 4);
		q += 5;
	}
	if (!y)
		y = guess_year(mo, d, now_us);
	if (!y || !valid_date(y, mo, d))
		return NULL;
	*ts = civil_us(y, mo, d, h, mi, s) + frac;
	*local = true;
	return q;
}

/* ISO-8601 / RFC 3339 up to the next space. Returns the end or NULL. */
static const char *parse_iso_time(const char *p, const char *e, int64_t *ts)
{
	if (e - p < 19 || p[4] != '-' || p[7] != '-' || date_digits(p, 4) < 0)
		return NULL;
	const char *q = word_end(p, e);
	if (ts_parse(p, (size_t)(q - p), ts))
		return NULL;
	return q;
}

static void set(struct sv *v, const char *b, const char *e)
{
	v->p = b;
	v->n = (size_t)(e - b);
}

/* "name[procid]:" at p: the program name ends at space, tab, ':' or '['. Returns where the
 * message starts, or NULL when p holds no tag (the whole rest is then the message). */
static const char *parse_tag(const char *p, const char *e, struct syslog_msg *m)
{
	const char *q = p;
	while (q < e && *q != ' ' && *q != '\t' && *q != ':' && *q != '[')
		q++;
	if (q == p || q - p > TAG_MAX)
		return NULL;
	set(&m->app, p, q);
	if (q < e && *q == '[') {
		const char *b = q + 1, *c = b;
		while (c < e && *c != ']' && *c != ' ' && c - b <= PROCID_MAX)
			c++;
		if (c < e && *c == ']' && c > b) {
			set(&m->procid, b, c);
			q = c + 1;
		}
	}
	if (q < e && *q == ':')
		q++;
	return q;
}

/* A word ending in ':' or carrying "[pid]" reads as a tag ("sshd[1]:", "su:"). */
static bool looks_like_tag(const char *p, const char *e)
{
	const char *w = word_end(p, e);
	if (w == p || w - p > TAG_MAX + PROCID_MAX)
		return false;
	if (w[-1] == ':')
		return true;
	const char *b = memchr(p, '[', (size_t)(w - p));
	return b && b > p && w[-1] == ']';
}

static bool looks_like_host(const char *p, const char *w)
{
	if (w == p || w - p > 255 || w[-1] == ':')
		return false;
	for (const char *c = p; c < w; c++)
		if (!is_host_char(*c))
			return false;
	return true;
}

static void set_msg(struct syslog_msg *m, const char *p, const char *e)
{
	p = skip_spaces(p, e);
	if (p < e)
		set(&m->msg, p, e);
}

/* The rest of an RFC 3164 message after PRI. */
static void parse_3164(const char *p, const char *e, int64_t now_us, struct syslog_msg *m)
{
	p = skip_spaces(p, e);
	const char *q = parse_bsd_time(p, e, now_us, &m->ts, &m->ts_local);
	if (!q)
		q = parse_iso_time(p, e, &m->ts);
	if (q) {
		p = skip_spaces(q, e);
		const char *w = word_end(p, e);
		if (looks_like_host(p, w)) {
			set(&m->host, p, w);
			p = skip_spaces(w, e);
		}
	} else {
		/* No timestamp: a tag first, or a hostname and then a tag, or plain text. */
		const char *w = word_end(p, e);
		if (!looks_like_tag(p, e)) {
			const char *t = skip_spaces(w, e);
			if (!looks_like_host(p, w) || !looks_like_tag(t, e)) {
				set_msg(m, p, e);
				return;
			}
			set(&m->host, p, w);
			p = t;
		}
	}
	if (p >= e)
		return;
	q = parse_tag(p, e, m);
	set_msg(m, q ? q : p, e);
}

/* One RFC 5424 header field: "-" is nil. */
static const char *field_5424(const char *p, const char *e, struct sv *v)
{
	const char *w = word_end(p, e);
	if (w > p && !(w - p == 1 && *p == '-'))
		set(v, p, w);
	return w < e ? w + 1 : w;
}

/* STRUCTURED-DATA: "-" or "[id k=\"v\" ...]..." with \" \\ \] escapes inside values.
 * An unterminated element runs to the end. Returns the end. */
static const char *parse_sd(const char *p, const char *e, struct sv *sd)
{
	if (p < e && *p == '-')
		return p + 1;
	const char *q = p;
	while (q < e && *q == '[') {
		bool quoted = false;
		for (q++; q < e; q++) {
			if (quoted && *q == '\\' && q + 1 < e) {
				q++;
			} else if (*q == '"') {
				quoted = !quoted;
			} else if (*q == ']' && !quoted) {
				q++;
				break;
			}
		}
	}
	if (q > p)
		set(sd, p, q);
	return q;
}

/* "1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]" after PRI; false when it is not RFC 5424. */
static bool parse_5424(const char *p, const char *e, struct syslog_msg *m)
{
	if (e - p < 3 || p[0] != '1' || p[1] != ' ')
		return false;
	const char *t = p + 2, *w = word_end(t, e);
	if (!(w - t == 1 && *t == '-')) {
		/* The timestamp decides: "1 2003-10-11T22:14:15.003Z" or nil. */
		if (w - t < 10 || t[4] != '-' || date_digits(t, 4) < 0)
			return false;
		if (ts_parse(t, (size_t)(w - t), &m->ts))
			m->ts = 0;
	}
	m->rfc5424 = true;
	p = w < e ? w + 1 : w;
	p = field_5424(p, e, &m->host);
	p = field_5424(p, e, &m->app);
	p = field_5424(p, e, &m->procid);
	p = field_5424(p, e, &m->msgid);
	if (p >= e)
		return true;
	p = parse_sd(p, e, &m->sd);
	/* One space separates MSG, but rsyslog's RFC 5424 templates put "%msg%" with its
	 * leading space after it: the message starts after all of them (and a BOM). */
	p = skip_spaces(p, e);
	if (e - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		p = skip_spaces(p + 3, e);
	if (p < e)
		set(&m->msg, p, e);
	return true;
}

int syslog_parse(const char *p, size_t n, int64_t now_us, struct syslog_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->pri = m->facility = m->severity = -1;
	if (!p)
		return SIEM_EPARSE;
	const char *e = p + n;
	if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	while (e > p && (e[-1] == '\0' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	if (p == e)
		return SIEM_EPARSE;

	if (*p == '<') {
		const char *q = p + 1;
		int v = 0;
		while (q < e && is_digit(*q) && q - p <= 3)
			v = v * 10 + (*q++ - '0');
		if (q < e && *q == '>' && q > p + 1 && v <= 191) {
			m->pri = v;
			m->facility = v >> 3;
			m->severity = v & 7;
			p = q + 1;
		}
	}
	if (!parse_5424(p, e, m))
		parse_3164(p, e, now_us, m);
	return 0;
}

bool syslog_looks_like_line(const char *p, size_t n)
{
	if (n < 16)
		return false;
	if (p[0] == '<')
		return is_digit(p[1]);
	if (p[0] >= '1' && p[0] <= '2')
		return p[4] == '-' && p[7] == '-' && p[10] == 'T';
	return month_of(p) && p[3] == ' ' && (is_digit(p[4]) || (p[4] == ' ' && is_digit(p[5])));
}

/* NULL outside 0..7 (no PRI): the event then has no level. */
const char *syslog_level_name(int severity)
{
	static const char *const names[8] = {"EMERG",	"ALERT",  "CRIT", "ERR",
					     "WARNING", "NOTICE", "INFO", "DEBUG"};
	return severity >= 0 && severity < 8 ? names[severity] : NULL;
}
