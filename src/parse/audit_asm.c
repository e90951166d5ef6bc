/* audit_asm.c — the records of one audit event put together (see audit_asm.h). Events are
 * told apart by node and "audit(TIME:SERIAL)"; each open one keeps its records' text in one
 * growing buffer, bounded in records and bytes, and the number of open ones is bounded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parse/audit_asm.h"

#define KEY_MAX 200

struct open_ev {
	char key[KEY_MAX];
	size_t keyn;
	char *buf;
	size_t n, cap;
	size_t nrec;
	int64_t first_ms;
	unsigned char tag[AUDIT_ASM_TAG_MAX];
};

struct audit_asm {
	size_t tag_size;
	int64_t wait_ms;
	struct open_ev ev[AUDIT_ASM_OPEN]; /* oldest first */
	size_t n;
	struct audit_asm_stats st;
};

struct audit_asm *audit_asm_new(size_t tag_size, int64_t wait_ms)
{
	if (tag_size > AUDIT_ASM_TAG_MAX)
		return NULL;
	struct audit_asm *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->tag_size = tag_size;
	m->wait_ms = wait_ms > 0 ? wait_ms : AUDIT_ASM_WAIT_MS;
	return m;
}

void audit_asm_free(struct audit_asm *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->ev[i].buf);
	free(m);
}

static bool ends_with(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);
	return n >= k && !memcmp(s + n - k, w, k);
}

long audit_asm_record_start(const char *line, size_t n)
{
	if (n >= 5 && (!memcmp(line, "type=", 5) || !memcmp(line, "node=", 5)))
		return 0;
	/* a syslog line: the first "type=" or "node=" after the program's "NAME: " or
	 * "NAME[PID]: ", which must be an audit daemon's or the kernel's "audit: " */
	for (size_t i = 1; i + 5 <= n; i++) {
		if (line[i - 1] != ' ' ||
		    (memcmp(line + i, "type=", 5) && memcmp(line + i, "node=", 5)))
			continue;
		size_t h = i - 1;
		if (ends_with(line, h, "audit:"))
			return (long)i;
		if (h == 0 || line[h - 1] != ':')
			return -1;
		h--;
		if (h && line[h - 1] == ']') {
			while (h && line[h - 1] != '[')
				h--;
			if (h)
				h--;
		}
		static const char *const names[] = {" audispd", " audisp-syslog", " auditd",
						    "audispd",	"audisp-syslog",  "auditd"};
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (ends_with(line, h, names[k]) &&
			    (names[k][0] == ' ' || h == strlen(names[k])))
				return (long)i;
		return -1;
	}
	return -1;
}

/* The record's key (scope, node and "TIME:SERIAL") and type; false when it has none. */
static bool record_key(const char *scope, const char *r, size_t n, char *key, size_t *keyn,
		       const char **type, size_t *typen)
{
	size_t i = 0, k = 0;
	if (scope) {
		size_t sn = strlen(scope);
		if (sn >= KEY_MAX / 4)
			sn = KEY_MAX / 4;
		memcpy(key, scope, sn);
		key[sn] = '|';
		k = sn + 1;
	}
	if (n >= 5 && !memcmp(r, "node=", 5)) {
		while (i < n && r[i] != ' ')
			i++;
		if (i >= KEY_MAX / 3)
			return false;
		memcpy(key + k, r, i);
		k += i;
		while (i < n && r[i] == ' ')
			i++;
	}
	if (n - i < 5 || memcmp(r + i, "type=", 5))
		return false;
	i += 5;
	*type = r + i;
	while (i < n && r[i] != ' ')
		i++;
	*typen = (size_t)(r + i - *type);
	const char *a = memchr(r + i, '(', n - i);
	if (!a || a - r < 5 || memcmp(a - 5, "audit", 5))
		return false;
	const char *e = memchr(a, ')', n - (size_t)(a - r));
	if (!e || (size_t)(e - a) + k + 1 > KEY_MAX || !memchr(a, ':', (size_t)(e - a)))
		return false;
	key[k++] = ' ';
	memcpy(key + k, a, (size_t)(e - a));
	*keyn = k + (size_t)(e - a);
	return *typen > 0;
}

static bool prefix(const char *t, size_t n, const char *w)
{
	size_t k = strlen(w);
	return n >= k && !memcmp(t, w, k);
}

/* User-space records (USER_*, ADD_USER, CRED_* ...) and the daemon's own are events of one
 * record: decoded alone, at once. */
static bool single_record(const char *t, size_t n)
{
	static const char *const p[] = {
	    "USER_",	     "CRED_",		"ADD_",	       "DEL_",		"GRP_",
	    "CHGRP_",	     "CHUSER_",		"ROLE_",       "DAEMON_",	"SERVICE_",
	    "SYSTEM_",	     "ACCT_",		"ANOM_LOGIN",  "ANOM_ADD_ACCT", "ANOM_DEL_ACCT",
	    "ANOM_MOD_ACCT", "SOFTWARE_UPDATE", "TRUSTED_APP", "USYS_CONFIG",	"LABEL_"};
	if (prefix(t, n, "USER_CMD") || prefix(t, n, "USER_TTY"))
		return true;
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		if (prefix(t, n, p[i]))
			return true;
	/* the kernel's numbered types (its own log lines): user-space ones are 1100-1299 and
	 * 2100-2999 */
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9' || i > 5)
			return false;
		v = v * 10 + (t[i] - '0');
	}
	return (v >= 1100 && v < 1300) || (v >= 2100 && v < 3000);
}

static int hand_on(struct audit_asm *m, size_t i, audit_asm_out out, void *ctx)
{
	struct open_ev e = m->ev[i];
	memmove(&m->ev[i], &m->ev[i + 1], (m->n - i - 1) * sizeof(m->ev[0]));
	m->n--;
	int rc = out(ctx, e.buf, e.n, e.tag);
	free(e.buf);
	return rc < 0 ? rc : 0;
}

int audit_asm_expire(struct audit_asm *m, int64_t now_ms, audit_asm_out out, void *ctx)
{
	while (m->n && (now_ms == INT64_MAX || now_ms - m->ev[0].first_ms >= m->wait_ms)) {
		m->st.expired++;
		int rc = hand_on(m, 0, out, ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int audit_asm_expire_scope(struct audit_asm *m, const char *scope, audit_asm_out out, void *ctx)
{
	size_t sn = strlen(scope);
	if (sn >= KEY_MAX / 4)
		sn = KEY_MAX / 4;
	for (size_t i = 0; i < m->n;) {
		struct open_ev *e = &m->ev[i];
		if (e->keyn > sn && e->key[sn] == '|' && !memcmp(e->key, scope, sn)) {
			m->st.expired++;
			int rc = hand_on(m, i, out, ctx);
			if (rc < 0)
				return rc;
			continue;
		}
		i++;
	}
	return 0;
}

static int append(struct open_ev *e, const char *p, size_t n, bool sep)
{
	size_t need = e->n + n + 2;
	if (need > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 1024;
		while (cap < need)
			cap *= 2;
		char *b = realloc(e->buf, cap);
		if (!b)
			return -ENOMEM;
		e->buf = b;
		e->cap = cap;
	}
	if (sep)
		e->buf[e->n++] = '\n';
	memcpy(e->buf + e->n, p, n);
	e->n += n;
	e->buf[e->n] = '\0';
	return 0;
}

int audit_asm_feed(struct audit_asm *m, const char *line, size_t n, const void *tag, int64_t now_ms,
		   audit_asm_out out, void *ctx)
{
	return audit_asm_feed_from(m, NULL, line, n, tag, now_ms, out, ctx);
}

int audit_asm_feed_from(struct audit_asm *m, const char *scope, const char *line, size_t n,
			const void *tag, int64_t now_ms, audit_asm_out out, void *ctx)
{
	int rc = audit_asm_expire(m, now_ms, out, ctx);
	if (rc < 0)
		return rc;
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	long start = audit_asm_record_start(line, n);
	char key[KEY_MAX];
	size_t keyn = 0, typen = 0;
	const char *type = NULL;
	if (start < 0 ||
	    !record_key(scope, line + start, n - (size_t)start, key, &keyn, &type, &typen))
		return 0;
	size_t i = 0;
	while (i < m->n && !(m->ev[i].keyn == keyn && !memcmp(m->ev[i].key, key, keyn)))
		i++;
	bool eoe =
	    (typen == 3 && !memcmp(type, "EOE", 3)) || (typen == 4 && !memcmp(type, "1320", 4));
	if (eoe) {
		if (i < m->n) {
			m->st.events++;
			return (rc = hand_on(m, i, out, ctx)) < 0 ? rc : 1;
		}
		return 1; /* the end of an event already handed on, or of none: nothing */
	}
	if (i == m->n && single_record(type, typen))
		return 0;
	if (i == m->n) {
		if (m->n == AUDIT_ASM_OPEN) {
			m->st.evicted++;
			if ((rc = hand_on(m, 0, out, ctx)) < 0)
				return rc;
			i = m->n;
		}
		struct open_ev *e = &m->ev[m->n];
		memset(e, 0, sizeof(*e));
		memcpy(e->key, key, keyn);
		e->keyn = keyn;
		e->first_ms = now_ms;
		if (m->tag_size)
			memcpy(e->tag, tag, m->tag_size);
		if ((rc = append(e, line, n, false)) < 0) {
			free(e->buf);
			return rc;
		}
		e->nrec = 1;
		m->n++;
	} else {
		struct open_ev *e = &m->ev[i];
		size_t rn = n - (size_t)start;
		if (e->nrec >= AUDIT_ASM_RECORDS || e->n + rn + 1 > AUDIT_ASM_BYTES) {
			m->st.dropped++;
		} else {
			if ((rc = append(e, line + start, rn, true)) < 0)
				return rc;
			e->nrec++;
		}
	}
	if ((typen == 9 && !memcmp(type, "PROCTITLE", 9)) ||
	    (typen == 4 && !memcmp(type, "1327", 4))) {
		m->st.events++;
		if ((rc = hand_on(m, i, out, ctx)) < 0)
			return rc;
	}
	return 1;
}

size_t audit_asm_open(const struct audit_asm *m)
{
	return m->n;
}

bool audit_asm_oldest_tag(const struct audit_asm *m, void *tag)
{
	if (!m->n)
		return false;
	/* the events are kept in the order their first records came */
	memcpy(tag, m->ev[0].tag, m->tag_size);
	return true;
}

int64_t audit_asm_deadline(const struct audit_asm *m)
{
	return m->n ? m->ev[0].first_ms + m->wait_ms : INT64_MAX;
}

void audit_asm_get_stats(const struct audit_asm *m, struct audit_asm_stats *st)
{
	*st = m->st;
}
