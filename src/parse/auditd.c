/* auditd.c — Linux audit records into events: "type=T msg=audit(SEC.MS:SERIAL): k=v ..." (and
 * the kernel's "type=1400 audit(...)" and a "node=" prefix), values quoted, single-quoted
 * (the nested msg='...' of user-space records, whose fields are taken too) or hex-encoded
 * (auditd's way with strings holding spaces or control characters), the enriched fields after
 * the 0x1d separator (SYSCALL=execve, AUID="alice"), all into the event's data. One record is
 * one event, as SigmaHQ's auditd rules expect (type: EXECVE with a0, a1 ...). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/jsonw.h"
#include "parse/auditd.h"

static bool is_hex(const char *p, size_t n)
{
	if (n < 2 || n % 2)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'F') ||
		      (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Fields auditd writes hex-encoded when unquoted (untrusted strings); in EXECVE records the
 * arguments a0, a1 ... too (elsewhere a0..a3 are the syscall's numeric arguments). */
static bool encoded_field(const struct audit_rec *r, const char *k, size_t n)
{
	static const char *const names[] = {"proctitle", "cmd",	     "comm",	 "exe",
					    "cwd",	 "name",     "path",	 "acct",
					    "data",	 "old-name", "new-name", "root_dir"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && !memcmp(names[i], k, n))
			return true;
	if (r->typen == 6 && !memcmp(r->type, "EXECVE", 6) && n >= 2 && k[0] == 'a') {
		size_t i = 1;
		while (i < n && k[i] >= '0' && k[i] <= '9')
			i++;
		return i > 1 && (i == n || k[i] == '['); /* a2 or a2[0] (a long argument) */
	}
	return false;
}

static int decode_hex(struct arena *a, const struct audit_rec *r, struct audit_field *f)
{
	char *o = arena_alloc(a, f->valn / 2 + 1);
	if (!o)
		return -ENOMEM;
	size_t m = f->valn / 2;
	bool title = f->keyn == 9 && !memcmp(f->key, "proctitle", 9);
	for (size_t i = 0; i < m; i++) {
		o[i] = (char)(hexval(f->val[2 * i]) << 4 | hexval(f->val[2 * i + 1]));
		if (o[i] == '\0' && title) /* the command line's arguments, NUL-separated */
			o[i] = ' ';
	}
	while (m && title && o[m - 1] == ' ')
		m--;
	o[m] = '\0';
	(void)r;
	f->val = o;
	f->valn = m;
	return 0;
}

static bool key_char(char c)
{
	return c > ' ' && c != '=' && c != '"' && c != '\'' && c != 0x1d && c != 0x7f;
}

/* key=value pairs of s[0..n) into r (nested: inside msg='...'). */
static int parse_fields(const char *s, size_t n, struct audit_rec *r, struct arena *a, int depth)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == 0x1d || s[i] == ':'))
			i++;
		size_t k0 = i;
		while (i < n && key_char(s[i]))
			i++;
		if (i == k0 || i >= n || s[i] != '=') {
			while (i < n && s[i] != ' ') /* a word that is not key=value */
				i++;
			continue;
		}
		struct audit_field f = {s + k0, NULL, i - k0, 0};
		i++;
		bool quoted = i < n && (s[i] == '"' || s[i] == '\'');
		if (quoted) {
			char q = s[i++];
			const char *end = memchr(s + i, q, n - i);
			size_t e = end ? (size_t)(end - s) : n;
			f.val = s + i;
			f.valn = e - i;
			i = e + (end != NULL);
			if (q == '\'' && depth == 0 && f.keyn == 3 && !memcmp(f.key, "msg", 3)) {
				/* user-space records: their own fields inside msg='...' */
				int rc = parse_fields(f.val, f.valn, r, a, 1);
				if (rc)
					return rc;
				continue;
			}
		} else {
			size_t v0 = i;
			while (i < n && s[i] != ' ' && s[i] != 0x1d)
				i++;
			f.val = s + v0;
			f.valn = i - v0;
			if (encoded_field(r, f.key, f.keyn) && is_hex(f.val, f.valn)) {
				int rc = decode_hex(a, r, &f);
				if (rc)
					return rc;
			}
		}
		if (r->n < AUDIT_MAX_FIELDS)
			r->f[r->n++] = f;
	}
	return 0;
}

int auditd_parse(const char *s, size_t n, struct audit_rec *r, struct arena *a)
{
	memset(r, 0, sizeof(*r));
	size_t i = 0;
	while (i < n && s[i] == ' ')
		i++;
	if (n - i > 5 && !memcmp(s + i, "node=", 5)) {
		size_t v = i + 5;
		while (i < n && s[i] != ' ')
			i++;
		r->node = s + v;
		r->noden = i - v;
		while (i < n && s[i] == ' ')
			i++;
	}
	if (n - i < 5 || memcmp(s + i, "type=", 5))
		return SIEM_EPARSE;
	i += 5;
	r->type = s + i;
	while (i < n && s[i] != ' ')
		i++;
	r->typen = (size_t)(s + i - r->type);
	while (i < n && s[i] == ' ')
		i++;
	if (n - i > 4 && !memcmp(s + i, "msg=", 4))
		i += 4;
	if (n - i < 6 || memcmp(s + i, "audit(", 6) || !r->typen)
		return SIEM_EPARSE;
	i += 6;
	/* SEC.MS:SERIAL */
	int64_t sec = 0, ms = 0;
	uint64_t serial = 0;
	size_t d0 = i;
	while (i < n && s[i] >= '0' && s[i] <= '9' && i - d0 < 12)
		sec = sec * 10 + (s[i++] - '0');
	if (i == d0 || i >= n || s[i] != '.')
		return SIEM_EPARSE;
	i++;
	size_t m0 = i;
	while (i < n && s[i] >= '0' && s[i] <= '9' && i - m0 < 3)
		ms = ms * 10 + (s[i++] - '0');
	if (i - m0 != 3 || i >= n || s[i] != ':')
		return SIEM_EPARSE;
	i++;
	size_t s0 = i;
	while (i < n && s[i] >= '0' && s[i] <= '9' && i - s0 < 19)
		serial = serial * 10 + (uint64_t)(s[i++] - '0');
	if (i == s0 || i >= n || s[i] != ')')
		return SIEM_EPARSE;
	i++;
	if (i < n && s[i] == ':')
		i++;
	r->ts = sec * 1000000 + ms * 1000;
	r->serial = serial;
	return parse_fields(s + i, n - i, r, a, 0);
}

/* ---- into an event ---- */

static const struct audit_field *field(const struct audit_rec *r, const char *k)
{
	size_t kn = strlen(k);
	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].keyn == kn && !memcmp(r->f[i].key, k, kn))
			return &r->f[i];
	return NULL;
}

static bool usable(const struct audit_field *f)
{
	return f && f->valn && !(f->valn == 1 && f->val[0] == '?') &&
	       !(f->valn == 5 && !memcmp(f->val, "unset", 5)) &&
	       !(f->valn == 6 && !memcmp(f->val, "(null)", 6)) &&
	       !(f->valn == 10 && !memcmp(f->val, "4294967295", 10));
}

static bool sv_is(struct sv v, const char *w)
{
	return v.n == strlen(w) && !memcmp(v.p, w, v.n);
}

static int put_data(struct event *ev, struct arena *a, const struct audit_rec *r)
{
	/* the fields beside what the syslog decoder put there (ev->data is an object) */
	size_t bound = ev->data.n + 256 + JSON_ESCAPE_MAX(r->typen + r->noden);
	for (size_t i = 0; i < r->n; i++)
		bound += JSON_ESCAPE_MAX(r->f[i].keyn + r->f[i].valn) + 8;
	struct jsonw b = {arena_alloc(a, bound), 0};
	if (!b.p)
		return -ENOMEM;
	bool any = false;
	if (ev->data.n >= 2 && ev->data.p[0] == '{') {
		size_t end = ev->data.n;
		while (end && ev->data.p[end - 1] != '}')
			end--;
		jsonw_raw(&b, ev->data.p, end - 1);
		any = end > 2;
	} else {
		jsonw_raw(&b, "{", 1);
	}
	char num[64];
	jsonw_raw(&b, any ? ",\"type\":" : "\"type\":", any ? 8 : 7);
	jsonw_str(&b, r->type, r->typen);
	jsonw_raw(&b, num,
		  (size_t)snprintf(num, sizeof(num), ",\"audit_serial\":%llu",
				   (unsigned long long)r->serial));
	if (r->node) {
		jsonw_raw(&b, ",\"node\":", 8);
		jsonw_str(&b, r->node, r->noden);
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct audit_field *f = &r->f[i];
		bool dup = (f->keyn == 4 && !memcmp(f->key, "type", 4)) ||
			   (f->keyn == 4 && !memcmp(f->key, "node", 4));
		for (size_t k = 0; k < i && !dup; k++)
			dup = r->f[k].keyn == f->keyn && !memcmp(r->f[k].key, f->key, f->keyn);
		if (dup)
			continue;
		if (b.n + JSON_ESCAPE_MAX(f->keyn + f->valn) + 8 > EV_CAP_DATA) {
			ev->flags |= EV_TRUNC_DATA; /* marked, the rest left out */
			break;
		}
		jsonw_raw(&b, ",", 1);
		jsonw_str(&b, f->key, f->keyn);
		jsonw_raw(&b, ":", 1);
		jsonw_str(&b, f->val, f->valn);
	}
	jsonw_raw(&b, "}", 1);
	b.p[b.n] = '\0';
	ev->data = (struct sv){b.p, b.n};
	return 0;
}

int auditd_decode(struct event *ev, struct arena *a)
{
	struct sv m = ev->message;
	if (m.n > 7 && !memcmp(m.p, "audit: ", 7)) { /* the kernel's own audit messages */
		m.p += 7;
		m.n -= 7;
	}
	if (m.n < 12 || (memcmp(m.p, "type=", 5) && memcmp(m.p, "node=", 5)))
		return 0;
	/* a program that is not an audit daemon (or the kernel) writing "type=..." is not one */
	if (ev->app.n && !sv_is(ev->app, "audispd") && !sv_is(ev->app, "audisp-syslog") &&
	    !sv_is(ev->app, "auditd") && !sv_is(ev->app, "audit") && !sv_is(ev->app, "kernel"))
		return 0;
	struct audit_rec *r = arena_alloc(a, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = auditd_parse(m.p, m.n, r, a);
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return 0;
	if (!ev->app.n || sv_is(ev->app, "kernel") || sv_is(ev->app, "audispd") ||
	    sv_is(ev->app, "audisp-syslog"))
		ev->app = (struct sv){"auditd", 6};
	ev->ts = r->ts;
	ev->flags &= ~(unsigned)EV_TS_MISSING;
	char *et = arena_alloc(a, 6 + r->typen + 1);
	if (!et)
		return -ENOMEM;
	memcpy(et, "AUDIT_", 6);
	memcpy(et + 6, r->type, r->typen);
	et[6 + r->typen] = '\0';
	ev->event_type = (struct sv){et, 6 + r->typen};
	const struct audit_field *res = field(r, "res"), *ok = field(r, "success");
	if ((res && res->valn >= 4 && !memcmp(res->val, "fail", 4)) ||
	    (ok && ok->valn == 2 && !memcmp(ok->val, "no", 2)))
		ev->severity = 2;
	/* who: the login user (enriched AUID, or acct), else the uid's name */
	static const char *const who[] = {"AUID", "acct", "UID", "auid", "uid"};
	for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		const struct audit_field *f = field(r, who[i]);
		if (usable(f)) {
			if ((rc = sv_capped(a, &ev->user, f->val, f->valn, EV_CAP_SHORT,
					    EV_TRUNC_OTHER, &ev->flags)))
				return rc;
			break;
		}
	}
	const struct audit_field *addr = field(r, "addr");
	uint8_t ip[16];
	if (usable(addr) && !ip_parse(addr->val, addr->valn, ip)) {
		char buf[46];
		size_t len = ip_format(ip, buf);
		char *c = arena_strndup(a, buf, len);
		if (!c)
			return -ENOMEM;
		memcpy(ev->ip, ip, 16);
		ev->source_ip = (struct sv){c, len};
		ev->flags |= EV_HAS_IP;
	}
	if ((rc = put_data(ev, a, r)))
		return rc;
	return 1;
}
