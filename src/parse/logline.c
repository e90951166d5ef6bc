/* logline.c — one raw line (syslog, auth.log, JSON lines) into a normalized event: the one
 * path shared by logtest, the tailer, the syslog receivers and the agent. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/jsonw.h"
#include "core/tz.h"
#include "core/utf8.h"
#include "parse/jsonl.h"
#include "parse/auditd.h"
#include "parse/logline.h"
#include "parse/snare.h"
#include "parse/syslog.h"
#include "parse/winevent.h"

/*
 * A syslog or auth.log line becomes an event like this (the decoders may then refine it):
 *   source_host  HOSTNAME, else ctx->host, else "unknown"
 *   app          APP-NAME / the RFC 3164 tag without "[pid]" ("sshd(pam_unix)" is kept)
 *   os_type      ctx->os_type, else "LINUX"
 *   event_type   "SYSLOG"; a decoded line gets its type (LOGIN_FAIL, ...), a line of a
 *                program with a decoder that no pattern knows gets the program's name in
 *                upper case ("SSHD", "SUDO", "SYSTEMD_LOGIND": see the files of decoders/)
 *   severity     from the syslog severity: emerg/alert 5, crit 4, err 3, warning 2, else
 *                (and without PRI) 1; a decoder pattern's severity replaces it
 *   level        "EMERG" ... "DEBUG" (syslog_level_name), absent without PRI
 *   message      MSG (capped), or the whole line when there is none
 *   raw_message  the whole line without its line terminator (capped)
 *   timestamp    the message's, else the receive time with EV_TS_MISSING; a time without a
 *                zone (RFC 3164) is in the sender's zone (ctx->zones), else UTC; a time
 *                more than FUTURE_SKEW ahead of the receive time is replaced by the
 *                receive time and kept in data.future_timestamp
 *   data         {"syslog": {"format": "rfc5424"|"rfc3164", "facility": n, "severity": n,
 *                 "pid": n or "text", "msgid": "...", "sd": {"SD-ID": {"name": "value"}},
 *                 "timezone": "Asia/Tokyo"}, "forwarder": {"host", "app", "timestamp",
 *                 "format"}, "future_timestamp": "...", "invalid_utf8": n,
 *                 ...decoder fields at the top level}
 * A message that is itself a whole syslog line (a file forwarded line by line: rsyslog
 * imfile, syslog-ng file(), Fluent Bit tail) is decoded as that line: host, program, pid
 * and time come from it, and the forwarder's host, program and time go to data.forwarder.
 * Invalid UTF-8 bytes and NULs inside the line are each replaced with U+FFFD before
 * parsing (JSON output and C consumers need valid, NUL-free text) and counted in
 * data.invalid_utf8; the raw_message holds the repaired text.
 */

#define SD_MAX (16 * 1024) /* larger STRUCTURED-DATA is left out of data and flagged */
/* Senders' clocks drift: a time up to this far ahead of the receive time is kept. */
#define FUTURE_SKEW (15 * 60 * 1000000LL)

static const struct {
	const char *name;
	enum log_format fmt;
} formats[] = {
    {"auto", FMT_AUTO},	  {"syslog", FMT_SYSLOG}, {"auth", FMT_AUTH},
    {"jsonl", FMT_JSONL}, {"winxml", FMT_WINXML},
};

int log_format_parse(const char *s, enum log_format *out)
{
	for (size_t i = 0; s && i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (!strcmp(s, formats[i].name)) {
			*out = formats[i].fmt;
			return 0;
		}
	}
	return -EINVAL;
}

static int fail(char *err, size_t errlen, int rc, const char *reason)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", reason);
	return rc;
}

/* Length of the valid UTF-8 sequence at s[i], or 0 when the byte starts none. A NUL
 * counts as invalid: it would cut the value short in any C consumer downstream. */
static size_t utf8_len(const unsigned char *s, size_t i, size_t n)
{
	return s[i] ? utf8_seq_len(s, i, n) : 0;
}

/* Replace each invalid byte (and NUL) with U+FFFD in an arena copy. Returns the number
 * replaced (0: *out is the input itself), or -ENOMEM. */
static long utf8_repair(struct arena *a, const char *in, size_t n, const char **out, size_t *outn)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, bad = 0;
	*out = in;
	*outn = n;
	while (i < n && s[i] && s[i] < 0x80)
		i++;
	if (i == n)
		return 0;
	for (size_t k = i; k < n;) {
		size_t l = utf8_len(s, k, n);
		if (!l) {
			bad++;
			l = 1;
		}
		k += l;
	}
	if (!bad)
		return 0;
	char *c = arena_alloc(a, n + 2 * bad + 1);
	if (!c)
		return -ENOMEM;
	memcpy(c, in, i);
	size_t o = i + utf8_copy_repair(c + i, s + i, n - i, false);
	*out = c;
	*outn = o;
	return (long)bad;
}

/* ---- data: a compact JSON object written by hand (no jansson on this path) ---- */

static void put_key(struct jsonw *b, const char *k)
{
	if (b->n && b->p[b->n - 1] != '{')
		b->p[b->n++] = ',';
	jsonw_str(b, k, strlen(k));
	b->p[b->n++] = ':';
}

static bool all_digits(struct sv v)
{
	if (v.n == 0 || v.n > 15)
		return false;
	for (size_t i = 0; i < v.n; i++)
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
	return true;
}

/* A PARAM-VALUE with its \" \\ \] escapes undone, as a JSON string. */
static void put_sd_value(struct jsonw *b, const char *s, size_t n, char *tmp)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n &&
		    (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == ']'))
			i++;
		tmp[k++] = s[i];
	}
	jsonw_str(b, tmp, k);
}

/* STRUCTURED-DATA as {"SD-ID": {"name": "value", ...}, ...}. Returns false when it does not
 * follow the grammar (b is then restored by the caller). tmp holds sd.n bytes. */
static bool put_sd(struct jsonw *b, struct sv sd, char *tmp)
{
	const char *p = sd.p, *e = sd.p + sd.n;
	b->p[b->n++] = '{';
	while (p < e) {
		if (*p++ != '[')
			return false;
		const char *id = p;
		while (p < e && *p != ' ' && *p != ']' && *p != '=' && *p != '"')
			p++;
		if (p == id || p >= e)
			return false;
		if (b->p[b->n - 1] != '{')
			b->p[b->n++] = ',';
		jsonw_str(b, id, (size_t)(p - id));
		jsonw_raw(b, ":{", 2);
		while (p < e && *p == ' ') {
			while (p < e && *p == ' ')
				p++;
			const char *name = p;
			while (p < e && *p != '=' && *p != ' ' && *p != ']' && *p != '"')
				p++;
			if (p == name)
				break;
			const char *ne = p;
			while (p < e && *p == ' ')
				p++;
			if (p >= e || *p++ != '=')
				return false;
			while (p < e && *p == ' ')
				p++;
			if (p >= e || *p++ != '"')
				return false;
			const char *v = p;
			while (p < e && *p != '"') {
				if (*p == '\\' && p + 1 < e)
					p++;
				p++;
			}
			if (p >= e)
				return false;
			if (b->p[b->n - 1] != '{')
				b->p[b->n++] = ',';
			jsonw_str(b, name, (size_t)(ne - name));
			b->p[b->n++] = ':';
			put_sd_value(b, v, (size_t)(p - v), tmp);
			p++;
		}
		if (p >= e || *p++ != ']')
			return false;
		b->p[b->n++] = '}';
	}
	b->p[b->n++] = '}';
	return true;
}

/* What the line's data says besides its syslog header. */
struct line_extra {
	const struct syslog_msg *outer; /* the forwarder's message around the line, or NULL */
	struct sv outer_host;		/* its host (or the sender's address) */
	const char *zone;		/* the zone a zone-less time was read in, NULL for UTC */
	int64_t future_ts;		/* the time the line gave when it was too far ahead */
};

static void put_time(struct jsonw *b, const char *k, int64_t ts)
{
	char t[32];
	put_key(b, k);
	jsonw_str(b, t, ts_format(ts, t));
}

static int syslog_data(struct event *ev, struct arena *a, const struct syslog_msg *m, long bad_utf8,
		       const struct line_extra *x)
{
	struct sv sd = m->sd;
	bool sd_cut = sd.p && sd.n > SD_MAX;
	size_t bound = 512 + 6 * (m->procid.n + m->msgid.n) + (sd_cut ? 0 : 8 * sd.n) +
		       (x->outer ? 6 * (x->outer_host.n + x->outer->app.n) : 0) +
		       (x->zone ? 6 * strlen(x->zone) : 0);
	struct jsonw b = {arena_alloc(a, bound), 0};
	char num[32];
	if (!b.p)
		return -ENOMEM;
	jsonw_raw(&b, "{\"syslog\":{", 11);
	put_key(&b, "format");
	jsonw_str(&b, m->rfc5424 ? "rfc5424" : "rfc3164", 7);
	if (m->pri >= 0) {
		put_key(&b, "facility");
		jsonw_raw(&b, num, (size_t)snprintf(num, sizeof(num), "%d", m->facility));
		put_key(&b, "severity");
		jsonw_raw(&b, num, (size_t)snprintf(num, sizeof(num), "%d", m->severity));
	}
	if (m->procid.p) {
		put_key(&b, "pid");
		if (all_digits(m->procid)) {
			struct sv v = m->procid;
			while (v.n > 1 && *v.p == '0') /* JSON numbers have no leading zeros */
				v.p++, v.n--;
			jsonw_raw(&b, v.p, v.n);
		} else {
			jsonw_str(&b, m->procid.p, m->procid.n);
		}
	}
	if (m->msgid.p) {
		put_key(&b, "msgid");
		jsonw_str(&b, m->msgid.p, m->msgid.n);
	}
	if (sd_cut) {
		put_key(&b, "sd_truncated");
		jsonw_raw(&b, "true", 4);
		ev->flags |= EV_TRUNC_DATA;
	} else if (sd.p) {
		char *tmp = arena_alloc(a, sd.n + 1);
		if (!tmp)
			return -ENOMEM;
		put_key(&b, "sd");
		size_t mark = b.n;
		if (!put_sd(&b, sd, tmp)) {
			b.n = mark;
			jsonw_str(&b, sd.p, sd.n);
		}
	}
	if (x->zone) {
		put_key(&b, "timezone");
		jsonw_str(&b, x->zone, strlen(x->zone));
	}
	b.p[b.n++] = '}';
	if (x->outer) {
		put_key(&b, "forwarder");
		b.p[b.n++] = '{';
		if (x->outer_host.p) {
			put_key(&b, "host");
			jsonw_str(&b, x->outer_host.p, x->outer_host.n);
		}
		if (x->outer->app.p) {
			put_key(&b, "app");
			jsonw_str(&b, x->outer->app.p, x->outer->app.n);
		}
		if (x->outer->ts)
			put_time(&b, "timestamp", x->outer->ts);
		put_key(&b, "format");
		jsonw_str(&b, x->outer->rfc5424 ? "rfc5424" : "rfc3164", 7);
		b.p[b.n++] = '}';
	}
	if (x->future_ts)
		put_time(&b, "future_timestamp", x->future_ts);
	if (bad_utf8) {
		put_key(&b, "invalid_utf8");
		jsonw_raw(&b, num, (size_t)snprintf(num, sizeof(num), "%ld", bad_utf8));
	}
	b.p[b.n++] = '}';
	b.p[b.n] = '\0';
	ev->data = (struct sv){b.p, b.n};
	return 0;
}

/* Syslog severity 0..7 to event severity 1..5. */
static int severity_of(int s)
{
	static const int map[8] = {5, 5, 4, 3, 2, 1, 1, 1};
	return s >= 0 && s < 8 ? map[s] : 1;
}

/* A message that is a whole line with its own time and program (a forwarded file):
 * *m becomes that line, *outer keeps the forwarder's message. */
static bool unwrap_forwarded(struct syslog_msg *m, struct syslog_msg *outer, int64_t now_us)
{
	struct syslog_msg in;
	if (!m->msg.p || !syslog_looks_like_line(m->msg.p, m->msg.n) ||
	    syslog_parse(m->msg.p, m->msg.n, now_us, &in) || !in.ts || !in.app.p)
		return false;
	/* A program written as a tag ("sshd[1]:", "su:"), not any word after a date. */
	const char *t = in.procid.p ? in.procid.p + in.procid.n + 1 : in.app.p + in.app.n;
	if (!in.rfc5424 && (t >= m->msg.p + m->msg.n || *t != ':'))
		return false;
	*outer = *m;
	if (in.pri < 0) {
		in.pri = outer->pri;
		in.facility = outer->facility;
		in.severity = outer->severity;
	}
	*m = in;
	return true;
}

static int syslog_to_event(enum log_format fmt, const char *line, size_t n,
			   const struct logline_ctx *ctx, int64_t now_us, struct event *ev,
			   struct arena *a, char *err, size_t errlen, struct decode_explain *ex)
{
	struct syslog_msg m, outer;
	struct line_extra x = {0};
	const char *s;
	size_t sn;
	int rc;

	while (n && (line[n - 1] == '\0' || line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (n == 0)
		return fail(err, errlen, SIEM_EPARSE, "empty line");
	long bad = utf8_repair(a, line, n, &s, &sn);
	if (bad < 0)
		return fail(err, errlen, -ENOMEM, "out of memory");
	if (syslog_parse(s, sn, now_us, &m))
		return fail(err, errlen, SIEM_EPARSE, "empty line");
	if (unwrap_forwarded(&m, &outer, now_us)) {
		x.outer = &outer;
		x.outer_host = outer.host;
		if (!x.outer_host.p && ctx && ctx->host && *ctx->host)
			x.outer_host = (struct sv){ctx->host, strlen(ctx->host)};
	}
	if (fmt == FMT_AUTH && !m.ts)
		return fail(err, errlen, SIEM_EPARSE,
			    "not an auth log line: no 'Mmm dd HH:MM:SS' or ISO-8601 timestamp");
	if (m.ts && m.ts_local && ctx && ctx->zones) {
		const struct tz *z = tz_map_find(ctx->zones, ctx->host, m.host);
		if (z) {
			m.ts = tz_local_to_utc(z, m.ts);
			x.zone = tz_name(z);
		}
	}

	uuid_v4(ev->id);
	ev->flags |= EV_ID_GENERATED;
	ev->received_at = now_us;
	if (m.ts > now_us + FUTURE_SKEW) {
		x.future_ts = m.ts;
		m.ts = now_us;
	}
	if (m.ts) {
		ev->ts = m.ts;
	} else {
		ev->ts = now_us;
		ev->flags |= EV_TS_MISSING;
	}
	const char *os = ctx && ctx->os_type ? ctx->os_type : "LINUX";
	ev->os_type = (struct sv){os, strlen(os)};
	ev->event_type = (struct sv){"SYSLOG", 6};
	ev->user = (struct sv){"system", 6};
	ev->severity = severity_of(m.severity);
	const char *lvl = syslog_level_name(m.severity);
	if (lvl)
		ev->level = (struct sv){lvl, strlen(lvl)};
	if (ctx && ctx->source)
		ev->source = (struct sv){ctx->source, strlen(ctx->source)};

	struct sv host = m.host;
	if (!host.p && ctx && ctx->host && *ctx->host)
		host = (struct sv){ctx->host, strlen(ctx->host)};
	if (!host.p)
		host = (struct sv){"unknown", 7};
	struct sv raw = {s, sn}, msg = m.msg.p ? m.msg : raw;
	unsigned *fl = &ev->flags;
	if ((rc = sv_capped(a, &ev->source_host, host.p, host.n, EV_CAP_SHORT, EV_TRUNC_OTHER,
			    fl)) ||
	    (m.app.p &&
	     (rc = sv_capped(a, &ev->app, m.app.p, m.app.n, EV_CAP_SHORT, EV_TRUNC_OTHER, fl))) ||
	    (rc = sv_capped(a, &ev->message, msg.p, msg.n, EV_CAP_MESSAGE, EV_TRUNC_MESSAGE, fl)) ||
	    (rc = sv_capped(a, &ev->raw_message, raw.p, raw.n, EV_CAP_RAW, EV_TRUNC_RAW, fl)) ||
	    (rc = syslog_data(ev, a, &m, bad, &x)))
		return fail(err, errlen, rc, "out of memory");

	/* Windows events forwarded by Snare are typed like the agent's. */
	if (m.msg.p && (rc = snare_decode(ev, a, m.app, m.msg)) != 0)
		return rc < 0 ? fail(err, errlen, rc, "out of memory") : 0;
	if ((rc = decode_auth(ev, a, ex)) < 0 || (rc = auditd_decode(ev, a)) < 0)
		return fail(err, errlen, rc, "decoder failed");
	return 0;
}

int logline_to_event(enum log_format fmt, const char *line, size_t n, const struct logline_ctx *ctx,
		     int64_t now_us, struct event *ev, struct arena *a, char *err, size_t errlen,
		     struct decode_explain *ex)
{
	memset(ev, 0, sizeof(*ev));
	if (err && errlen)
		err[0] = '\0';
	if (ex) {
		ex->decoder = ex->pattern = NULL;
		ex->fields[0] = '\0';
	}
	if (!line)
		n = 0;
	if (fmt == FMT_AUTO) {
		size_t i = 0;
		if (n >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3))
			i = 3;
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		fmt = i < n && line[i] == '{'			     ? FMT_JSONL
		      : n - i >= 6 && !memcmp(line + i, "<Event", 6) ? FMT_WINXML
								     : FMT_SYSLOG;
	}
	if (fmt == FMT_WINXML) {
		/* One <Event> document per line, as `wevtutil qe /f:xml` and evtx exports give. */
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 0)
			return fail(err, errlen, SIEM_EPARSE, "empty line");
		int wrc = winevent_from_xml(line, n, ev, a, err, errlen);
		if (!wrc && !ev->source.p && ctx && ctx->source)
			ev->source = (struct sv){ctx->source, strlen(ctx->source)};
		return wrc;
	}
	if (fmt != FMT_JSONL)
		return syslog_to_event(fmt, line, n, ctx, now_us, ev, a, err, errlen, ex);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (n == 0)
		return fail(err, errlen, SIEM_EPARSE, "empty line");
	int rc = jsonl_line_to_event(line, n, now_us, ev, a, err, errlen);
	if (!rc && !ev->source.p && ctx && ctx->source)
		ev->source = (struct sv){ctx->source, strlen(ctx->source)};
	return rc;
}
