/* auditd.c — Linux audit records into events: "type=T msg=audit(SEC.MS:SERIAL): k=v ..." (and
 * the kernel's "type=1400 audit(...)" and a "node=" prefix), values quoted, single-quoted
 * (the nested msg='...' of user-space records, whose fields are taken too) or hex-encoded
 * (auditd's way with strings holding spaces or control characters), the enriched fields after
 * the 0x1d separator (SYSCALL=execve, AUID="alice"), all into the event's data. One record is
 * one event, as SigmaHQ's auditd rules expect (type: EXECVE with a0, a1 ...). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The fields into ev->data beside what the syslog decoder put there (an object): type, the
 * event's serial, node, then f[0..nf) (a key met again is left out). */
static int put_data(struct event *ev, struct arena *a, const struct audit_rec *r,
		    const struct audit_field *f, size_t nf)
{
	size_t bound = ev->data.n + 256 + JSON_ESCAPE_MAX(r->typen + r->noden);
	for (size_t i = 0; i < nf; i++)
		bound += JSON_ESCAPE_MAX(f[i].keyn + f[i].valn) + 8;
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
	for (size_t i = 0; i < nf; i++) {
		bool dup = (f[i].keyn == 4 && !memcmp(f[i].key, "type", 4)) ||
			   (f[i].keyn == 4 && !memcmp(f[i].key, "node", 4));
		for (size_t k = 0; k < i && !dup; k++)
			dup = f[k].keyn == f[i].keyn && !memcmp(f[k].key, f[i].key, f[i].keyn);
		if (dup)
			continue;
		if (b.n + JSON_ESCAPE_MAX(f[i].keyn + f[i].valn) + 8 > EV_CAP_DATA) {
			ev->flags |= EV_TRUNC_DATA; /* marked, the rest left out */
			break;
		}
		jsonw_raw(&b, ",", 1);
		jsonw_str(&b, f[i].key, f[i].keyn);
		jsonw_raw(&b, ":", 1);
		jsonw_str(&b, f[i].val, f[i].valn);
	}
	jsonw_raw(&b, "}", 1);
	b.p[b.n] = '\0';
	ev->data = (struct sv){b.p, b.n};
	return 0;
}

/* ---- the records of one event together ---- */

static const struct audit_field *field_any(const struct audit_rec *r, size_t nr, const char *k)
{
	for (size_t i = 0; i < nr; i++) {
		const struct audit_field *f = field(&r[i], k);
		if (f)
			return f;
	}
	return NULL;
}

static const struct audit_rec *rec_of(const struct audit_rec *r, size_t nr, const char *type)
{
	for (size_t i = 0; i < nr; i++)
		if (sv_is((struct sv){r[i].type, r[i].typen}, type))
			return &r[i];
	return NULL;
}

static void add(struct audit_field *f, size_t *n, const char *k, const char *v, size_t vn)
{
	if (v)
		f[(*n)++] = (struct audit_field){k, v, strlen(k), vn};
}

/* EXECVE's arguments a0 .. a(argc-1) (a long one in pieces aN[0], aN[1] ...) joined by
 * spaces. NULL when there are none. */
static char *command_line(const struct audit_rec *x, struct arena *a, size_t *len)
{
	size_t total = 0;
	for (size_t i = 0; i < x->n; i++)
		total += x->f[i].valn + 1;
	char *o = arena_alloc(a, total + 1);
	if (!o)
		return NULL;
	size_t n = 0;
	for (unsigned k = 0; k < AUDIT_MAX_FIELDS; k++) {
		char key[32];
		int kn = snprintf(key, sizeof(key), "a%u", k);
		const struct audit_field *f = field(x, key);
		bool piece = false;
		for (unsigned j = 0; !f && j < AUDIT_MAX_FIELDS; j++) {
			char pk[40];
			snprintf(pk, sizeof(pk), "%.*s[%u]", kn, key, j);
			const struct audit_field *p = field(x, pk);
			if (!p)
				break;
			if (n && !piece)
				o[n++] = ' ';
			memcpy(o + n, p->val, p->valn);
			n += p->valn;
			piece = true;
		}
		if (!f && !piece)
			break;
		if (f) {
			if (n)
				o[n++] = ' ';
			memcpy(o + n, f->val, f->valn);
			n += f->valn;
		}
	}
	o[n] = '\0';
	*len = n;
	return n ? o : NULL;
}

/* The file a PATH record names: nametype CREATE, else DELETE, else the last one; a relative
 * name joined to the working directory. */
static const char *target_file(const struct audit_rec *r, size_t nr, const char *cwd, size_t cwdn,
			       struct arena *a, size_t *len, const char **nametype)
{
	const struct audit_field *best = NULL, *bt = NULL;
	int rank = -1;
	for (size_t i = 0; i < nr; i++) {
		if (!sv_is((struct sv){r[i].type, r[i].typen}, "PATH"))
			continue;
		const struct audit_field *nm = field(&r[i], "name"), *t = field(&r[i], "nametype");
		if (!usable(nm))
			continue;
		int k = t && t->valn == 6 && !memcmp(t->val, "CREATE", 6)   ? 3
			: t && t->valn == 6 && !memcmp(t->val, "DELETE", 6) ? 2
			: t && t->valn == 6 && !memcmp(t->val, "PARENT", 6) ? 0
									    : 1;
		if (k >= rank) {
			rank = k;
			best = nm;
			bt = t;
		}
	}
	if (!best)
		return NULL;
	*nametype = bt && bt->valn == 6 ? bt->val : NULL;
	if (best->val[0] == '/' || !cwd) {
		*len = best->valn;
		return best->val;
	}
	char *o = arena_alloc(a, cwdn + best->valn + 2);
	if (!o)
		return NULL;
	memcpy(o, cwd, cwdn);
	size_t n = cwdn;
	if (!n || o[n - 1] != '/')
		o[n++] = '/';
	memcpy(o + n, best->val, best->valn);
	n += best->valn;
	o[n] = '\0';
	*len = n;
	return o;
}

/* SOCKADDR's saddr (a struct sockaddr in hex): the address and port of an AF_INET or
 * AF_INET6 one. */
static bool sockaddr_ip(const struct audit_field *f, uint8_t ip[16], unsigned *port)
{
	if (!f || !is_hex(f->val, f->valn) || f->valn < 16)
		return false;
	uint8_t b[28];
	size_t n = f->valn / 2 < sizeof(b) ? f->valn / 2 : sizeof(b);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(hexval(f->val[2 * i]) << 4 | hexval(f->val[2 * i + 1]));
	unsigned fam = b[0] | (unsigned)b[1] << 8;
	*port = (unsigned)b[2] << 8 | b[3];
	memset(ip, 0, 16);
	if (fam == 2) {
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, b + 4, 4);
		return true;
	}
	if (fam == 10 && n >= 24) {
		memcpy(ip, b + 8, 16);
		return true;
	}
	return false;
}

static bool syscall_is(const struct audit_rec *sc, const char *name, const char *x86_64)
{
	const struct audit_field *f = field(sc, "SYSCALL"), *arch = field(sc, "arch"),
				 *num = field(sc, "syscall");
	if (f)
		return sv_is((struct sv){f->val, f->valn}, name);
	return arch && num && sv_is((struct sv){arch->val, arch->valn}, "c000003e") &&
	       sv_is((struct sv){num->val, num->valn}, x86_64);
}

/* What the event says, from r[0..nr): app, time, type, severity, user, source_ip, and its
 * fields (primary's first) with the Sigma names of the process, file and network event. */
static int describe(struct event *ev, struct arena *a, const struct audit_rec *r, size_t nr)
{
	const struct audit_rec *exe = rec_of(r, nr, "EXECVE"), *sc = rec_of(r, nr, "SYSCALL"),
			       *sa = rec_of(r, nr, "SOCKADDR"), *cwdr = rec_of(r, nr, "CWD");
	/* the record that says what the event is: EXECVE; else the first that is not a
	 * syscall's (CONFIG_CHANGE, AVC, LOGIN ...); else SYSCALL */
	const struct audit_rec *p = exe;
	static const char *const aux[] = {"SYSCALL", "CWD",  "PATH",	"PROCTITLE",  "SOCKADDR",
					  "EOE",     "MMAP", "1300",	"1302",	      "1307",
					  "1327",    "1306", "FD_PAIR", "BPRM_FCAPS", "CAPSET"};
	for (size_t i = 0; i < nr && !p; i++) {
		bool is_aux = false;
		for (size_t k = 0; k < sizeof(aux) / sizeof(aux[0]) && !is_aux; k++)
			is_aux = sv_is((struct sv){r[i].type, r[i].typen}, aux[k]);
		if (!is_aux)
			p = &r[i];
	}
	if (!p)
		p = sc ? sc : &r[0];
	int rc;
	if (!ev->app.n || sv_is(ev->app, "kernel") || sv_is(ev->app, "audispd") ||
	    sv_is(ev->app, "audisp-syslog"))
		ev->app = (struct sv){"auditd", 6};
	ev->ts = r[0].ts;
	ev->flags &= ~(unsigned)EV_TS_MISSING;
	for (size_t i = 0; i < nr; i++) {
		const struct audit_field *res = field(&r[i], "res"), *ok = field(&r[i], "success");
		if ((res && res->valn >= 4 && !memcmp(res->val, "fail", 4)) ||
		    (ok && ok->valn == 2 && !memcmp(ok->val, "no", 2)))
			ev->severity = 2;
	}
	/* who: the login user (enriched AUID, or acct), else the uid's name */
	static const char *const who[] = {"AUID", "acct", "UID", "auid", "uid"};
	for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		const struct audit_field *f = field_any(r, nr, who[i]);
		if (usable(f)) {
			if ((rc = sv_capped(a, &ev->user, f->val, f->valn, EV_CAP_SHORT,
					    EV_TRUNC_OTHER, &ev->flags)))
				return rc;
			break;
		}
	}
	const struct audit_field *addr = field_any(r, nr, "addr");
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

	size_t cap = 24;
	for (size_t i = 0; i < nr; i++)
		cap += r[i].n;
	struct audit_field *f = arena_alloc(a, cap * sizeof(*f));
	if (!f)
		return -ENOMEM;
	size_t nf = 0;
	const char *type = NULL;
	/* the Sigma names of process_creation, file_event and network_connection */
	const struct audit_field *img = sc ? field(sc, "exe") : field_any(r, nr, "exe");
	const struct audit_field *cwd = cwdr ? field(cwdr, "cwd") : NULL;
	if (usable(img) && nr > 1)
		add(f, &nf, "Image", img->val, img->valn);
	if (exe) {
		size_t cn = 0;
		const char *cl = command_line(exe, a, &cn);
		add(f, &nf, "CommandLine", cl, cn);
		type = "PROCESS_START";
	} else {
		const struct audit_field *t = field_any(r, nr, "proctitle");
		if (t && nr > 1)
			add(f, &nf, "CommandLine", t->val, t->valn);
	}
	if (usable(cwd))
		add(f, &nf, "CurrentDirectory", cwd->val, cwd->valn);
	if (ev->user.n && nr > 1)
		add(f, &nf, "User", ev->user.p, ev->user.n);
	const struct audit_field *pid = sc ? field(sc, "pid") : NULL,
				 *ppid = sc ? field(sc, "ppid") : NULL;
	if (usable(pid) && nr > 1)
		add(f, &nf, "ProcessId", pid->val, pid->valn);
	if (usable(ppid) && nr > 1)
		add(f, &nf, "ParentProcessId", ppid->val, ppid->valn);
	unsigned port = 0;
	if (sa && sc && syscall_is(sc, "connect", "42") &&
	    sockaddr_ip(field(sa, "saddr"), ip, &port)) {
		char buf[46], *c, pn[8];
		size_t len = ip_format(ip, buf);
		int k = snprintf(pn, sizeof(pn), "%u", port);
		if (!(c = arena_strndup(a, buf, len)))
			return -ENOMEM;
		add(f, &nf, "DestinationIp", c, len);
		if (!(c = arena_strndup(a, pn, (size_t)k)))
			return -ENOMEM;
		add(f, &nf, "DestinationPort", c, (size_t)k);
		add(f, &nf, "Initiated", "true", 4);
		type = "NETWORK_CONNECT";
	} else if (!exe && sc) {
		size_t tn = 0;
		const char *nt = NULL;
		const char *tf = target_file(r, nr, usable(cwd) ? cwd->val : NULL,
					     usable(cwd) ? cwd->valn : 0, a, &tn, &nt);
		if (tf) {
			add(f, &nf, "TargetFilename", tf, tn);
			type = nt && !memcmp(nt, "CREATE", 6)	? "FILE_CREATE"
			       : nt && !memcmp(nt, "DELETE", 6) ? "FILE_DELETE"
								: "FILE_ACCESS";
		}
	}
	if (type && nr > 1) { /* a record alone keeps its own type */
		ev->event_type = (struct sv){type, strlen(type)};
	} else {
		char *et = arena_alloc(a, 6 + p->typen + 1);
		if (!et)
			return -ENOMEM;
		memcpy(et, "AUDIT_", 6);
		memcpy(et + 6, p->type, p->typen);
		et[6 + p->typen] = '\0';
		ev->event_type = (struct sv){et, 6 + p->typen};
	}
	if (nr > 1) { /* which records it was made of */
		size_t tn = 0;
		for (size_t i = 0; i < nr; i++)
			tn += r[i].typen + 1;
		char *t = arena_alloc(a, tn + 1);
		if (!t)
			return -ENOMEM;
		tn = 0;
		for (size_t i = 0; i < nr; i++) {
			if (tn)
				t[tn++] = ',';
			memcpy(t + tn, r[i].type, r[i].typen);
			tn += r[i].typen;
		}
		add(f, &nf, "records", t, tn);
	}
	/* the primary record's fields, then the others' (a key met first wins; the syscall's
	 * own arguments a0..a3 are left out beside EXECVE's) */
	for (size_t i = 0; i < p->n; i++)
		f[nf++] = p->f[i];
	for (size_t k = 0; k < nr; k++) {
		if (&r[k] == p)
			continue;
		for (size_t i = 0; i < r[k].n; i++) {
			const struct audit_field *x = &r[k].f[i];
			if (exe && &r[k] == sc && x->keyn == 2 && x->key[0] == 'a' &&
			    x->key[1] >= '0' && x->key[1] <= '3')
				continue;
			f[nf++] = *x;
		}
	}
	return put_data(ev, a, p, f, nf);
}

/* The records of an assembled event, one a line: from the raw record when the message was
 * cut (the message is the raw line's end, after the syslog header). */
static struct sv event_text(const struct event *ev, struct sv m)
{
	if (!(ev->flags & EV_TRUNC_MESSAGE) || !ev->raw_message.n || m.n < 16)
		return m;
	const char *at = memmem(ev->raw_message.p, ev->raw_message.n, m.p, 16);
	if (!at)
		return m;
	return (struct sv){at, ev->raw_message.n - (size_t)(at - ev->raw_message.p)};
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
	struct sv t = memchr(m.p, '\n', m.n) ? event_text(ev, m) : m;
	size_t lines = 1;
	for (size_t i = 0; i < t.n; i++)
		lines += t.p[i] == '\n';
	if (lines > AUDIT_MAX_RECORDS)
		lines = AUDIT_MAX_RECORDS;
	struct audit_rec *r = calloc(lines, sizeof(*r));
	if (!r)
		return -ENOMEM;
	size_t nr = 0;
	int rc = 0;
	for (size_t i = 0; i < t.n && nr < lines && rc != -ENOMEM;) {
		const char *nl = memchr(t.p + i, '\n', t.n - i);
		size_t e = nl ? (size_t)(nl - t.p) : t.n;
		rc = auditd_parse(t.p + i, e - i, &r[nr], a);
		if (!rc)
			nr++;
		i = e + 1;
	}
	if (rc != -ENOMEM)
		rc = nr ? describe(ev, a, r, nr) : 0;
	free(r);
	return rc < 0 ? rc : nr > 0;
}
