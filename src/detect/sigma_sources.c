/* sigma_sources.c — which sources a rule's logsource needs (the os_type and app values its
 * mapping's conditions require), as text that outlives the compiled rule, and whether the
 * os_type and app values a hub has seen can meet them: what says that a rule cannot fire on
 * this hub because nothing sends it such events. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "detect/sigma_int.h"

#define NEEDS_MAX 4096 /* bytes of a rule's needs text (more: no needs, never a warning) */

/* One value matcher as a pattern: '*' and '?' wildcards, '\' escaping them. */
static void add_pattern(struct strbuf *b, const struct vmatch *m)
{
	char c;
	if (m->kind == VM_SUFFIX || m->kind == VM_CONTAINS || m->kind == VM_ANY)
		strbuf_add(b, "*", 1);
	for (size_t i = 0; m->kind != VM_ANY && i < m->n; i++) {
		c = m->s[i];
		if (m->kind == VM_GLOB && m->wild[i]) {
			strbuf_add(b, &c, 1);
			continue;
		}
		if (c == '*' || c == '?' || c == '\\')
			strbuf_add(b, "\\", 1);
		if (c == ',' || c == ';' || c == '\n')
			c = '?';
		strbuf_add(b, &c, 1);
	}
	if (m->kind == VM_PREFIX || m->kind == VM_CONTAINS)
		strbuf_add(b, "*", 1);
}

/* The os_type / app values one alternative of a logsource condition requires; false when it
 * requires neither (any source may feed it). */
static bool alt_needs(const struct sel_alt *alt, struct strbuf *b)
{
	bool any = false;
	for (int pass = 0; pass < 2; pass++) {
		int evf = pass == 0 ? EVF_OS_TYPE : EVF_APP;
		for (size_t i = 0; i < alt->nfc; i++) {
			const struct fcond *fc = &alt->fc[i];
			if (fc->keywords || fc->kind != FC_VALUES || fc->neq || fc->all ||
			    fc->or_null || fc->f.ncand != 1 || fc->f.cand[0].evf != evf ||
			    !fc->nval)
				continue;
			bool plain = true;
			for (size_t k = 0; k < fc->nval; k++)
				plain &= fc->val[k].kind <= VM_GLOB && !fc->val[k].cased;
			if (!plain)
				continue;
			strbuf_addf(b, "%s%s=", any ? ";" : "", pass == 0 ? "os_type" : "app");
			for (size_t k = 0; k < fc->nval; k++) {
				if (k)
					strbuf_add(b, ",", 1);
				add_pattern(b, &fc->val[k]);
			}
			any = true;
			break; /* one condition per field is enough to tell */
		}
	}
	return any;
}

char *rule_source_needs(const struct rule *r)
{
	struct strbuf b;
	if (r->corr || r->filter || !r->nvar)
		return NULL;
	strbuf_init(&b, NEEDS_MAX);
	for (size_t v = 0; v < r->nvar; v++) {
		const struct sel *ls = r->var[v].logsrc;
		if (!ls)
			goto none;
		for (size_t a = 0; a < ls->nalt; a++) {
			if (b.n)
				strbuf_add(&b, "\n", 1);
			if (!alt_needs(&ls->alt[a], &b))
				goto none;
		}
	}
	if (!b.p || strlen(b.p) != b.n) /* cut at the cap, or out of memory */
		goto none;
	return strbuf_detach(&b, NULL);
none:
	strbuf_release(&b);
	return NULL;
}

/* Sigma's wildcards, ASCII case-insensitively; both sides short. */
static bool glob_ci(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			star_p = pi++;
			star_s = si;
			continue;
		}
		bool esc = pi + 1 < pn && p[pi] == '\\';
		if (pi < pn && !esc && p[pi] == '?') {
			pi++;
			si++;
			continue;
		}
		if (pi < pn && sigma_lower(p[pi + esc]) == sigma_lower(s[si])) {
			pi += 1 + esc;
			si++;
			continue;
		}
		if (star_p == (size_t)-1)
			return false;
		pi = star_p + 1;
		si = ++star_s;
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

/* Does one of the comma-separated patterns of p[0..n) match one of the values? */
static bool any_value(const char *p, size_t n, const char *const *vals, size_t nv)
{
	for (size_t i = 0; i < n;) {
		const char *c = memchr(p + i, ',', n - i);
		size_t e = c ? (size_t)(c - p) : n;
		for (size_t k = 0; k < nv; k++)
			if (glob_ci(p + i, e - i, vals[k], strlen(vals[k])))
				return true;
		i = e + 1;
	}
	return false;
}

bool source_needs_met(const char *needs, const struct seen_sources *seen)
{
	if (!needs)
		return true;
	for (const char *line = needs; *line;) {
		const char *end = strchr(line, '\n');
		size_t ln = end ? (size_t)(end - line) : strlen(line);
		bool ok = true;
		for (size_t i = 0; ok && i < ln;) {
			const char *semi = memchr(line + i, ';', ln - i);
			size_t e = semi ? (size_t)(semi - line) : ln;
			const char *eq = memchr(line + i, '=', e - i);
			if (eq) {
				size_t k = (size_t)(eq - line);
				bool os = k - i == 7 && !memcmp(line + i, "os_type", 7);
				ok = os ? any_value(eq + 1, e - k - 1, seen->os_types, seen->n_os)
					: any_value(eq + 1, e - k - 1, seen->apps, seen->n_apps);
			}
			i = e + 1;
		}
		if (ok)
			return true;
		line = end ? end + 1 : line + ln;
	}
	return false;
}

void source_needs_text(const char *needs, char *buf, size_t n)
{
	/* the first alternative, readably: "os_type linux with app auditd, audit or audispd*" */
	size_t ln = strcspn(needs, "\n"), o = 0;
	char one[512];
	snprintf(one, sizeof(one), "%.*s", (int)(ln < sizeof(one) - 1 ? ln : sizeof(one) - 1),
		 needs);
	buf[0] = '\0';
	for (char *part = one, *next; part && *part; part = next) {
		next = strchr(part, ';');
		if (next)
			*next++ = '\0';
		char *eq = strchr(part, '=');
		if (!eq)
			continue;
		*eq = '\0';
		o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%s ", o ? "with " : "", part);
		char *v = eq + 1;
		size_t nv = 1;
		for (char *c = v; *c; c++)
			nv += *c == ',';
		for (size_t k = 0; k < nv && o < n; k++) {
			char *c = strchr(v, ',');
			if (c)
				*c = '\0';
			o += (size_t)snprintf(buf + o, n - o, "%s%s", v,
					      k + 2 == nv  ? " or "
					      : k + 1 < nv ? ", "
							   : " ");
			v = c ? c + 1 : v + strlen(v);
		}
	}
	if (o && o <= n)
		buf[o - 1] = '\0'; /* the trailing space */
	if (needs[ln])
		snprintf(buf + strlen(buf), n - strlen(buf), " (or another of its alternatives)");
}
