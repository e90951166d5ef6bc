/* sigma_match.c — compiled rules evaluated on one event without allocating: the value
 * matchers (exact, prefix, suffix, contains, glob, regex, CIDR, comparisons), items,
 * selections, conditions and logsources; the per-evaluation scratch. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/sigma_int.h"

/* ---- helpers ---- */

bool sigma_ieq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (sigma_lower(a[i]) != sigma_lower(b[i]))
			return false;
	return true;
}

bool sigma_parse_number(const char *p, size_t n, double *out)
{
	char b[64];
	if (n == 0 || n >= sizeof(b))
		return false;
	bool hex = n > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
	for (size_t i = hex ? 2 : 0; i < n; i++)
		if (!(p[i] && strchr(hex ? "0123456789abcdefABCDEF" : "+-0123456789.eE", p[i])))
			return false;
	memcpy(b, p, n);
	b[n] = '\0';
	char *end;
	double d;
	if (hex)
		d = (double)strtoull(b, &end, 16);
	else
		d = strtod(b, &end);
	if (end != b + n || !isfinite(d))
		return false;
	*out = d;
	return true;
}

/* ---- scratch ---- */

int scratch_init(struct scratch *s)
{
	memset(s, 0, sizeof(*s));
	s->md = pcre2_match_data_create(1, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	if (!s->md || !s->mctx) {
		scratch_release(s);
		return -ENOMEM;
	}
	/* a pathological pattern gives up (no match) instead of stalling the writer */
	pcre2_set_match_limit(s->mctx, 200000);
	pcre2_set_depth_limit(s->mctx, 2000);
	return 0;
}

void scratch_release(struct scratch *s)
{
	free(s->buf);
	free(s->tok);
	free(s->ht);
	free(s->memo);
	free(s->acbits);
	if (s->md)
		pcre2_match_data_free(s->md);
	if (s->mctx)
		pcre2_match_context_free(s->mctx);
	memset(s, 0, sizeof(*s));
}

void scratch_begin(struct scratch *s, const struct event *ev)
{
	s->ev = ev;
	s->gen++;
	if (s->gen == 0) { /* wrapped: forget every cache */
		memset(s->lgen, 0, sizeof(s->lgen));
		memset(s->tgen, 0, sizeof(s->tgen));
		memset(s->lsc, 0, sizeof(s->lsc));
		s->acgen = 0;
		s->gen = 1;
	}
	s->ready = false;
	s->data_state = 0;
	s->eid_done = false;
}

/* ---- value matching ---- */

/* Wildcard match: '*' any run, '?' one character; iterative with one backtrack point. */
static bool glob_match(const char *pat, const uint8_t *wild, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
	while (si < sn) {
		if (pi < pn && wild[pi] == '*') {
			star_p = pi++;
			star_s = si;
			continue;
		}
		if (pi < pn && wild[pi] == '?') {
			pi++;
			si += sigma_u8len(s + si, sn - si);
			continue;
		}
		if (pi < pn && pat[pi] == s[si]) {
			pi++;
			si++;
			continue;
		}
		if (star_p == (size_t)-1)
			return false;
		pi = star_p + 1;
		star_s += sigma_u8len(s + star_s, sn - star_s);
		si = star_s;
	}
	while (pi < pn && wild[pi] == '*')
		pi++;
	return pi == pn;
}

/* Substring search: memchr and memcmp beat memmem's setup on the short values of events. */
static bool contains(const char *h, size_t hn, const char *nd, size_t nn)
{
	if (nn == 0)
		return true;
	if (hn < nn)
		return false;
	if (hn > 512)
		return memmem(h, hn, nd, nn) != NULL;
	const char *end = h + hn - nn + 1;
	for (const char *p = h; p < end; p++) {
		p = memchr(p, nd[0], (size_t)(end - p));
		if (!p)
			return false;
		if (sigma_eqb(p + 1, nd + 1, nn - 1))
			return true;
	}
	return false;
}

static bool vm_str(struct scratch *s, const struct vmatch *m, struct fval *v)
{
	const char *p;
	size_t n;
	if (m->cased) {
		p = v->p;
		n = v->n;
	} else {
		if (!v->lp)
			field_lower(s, v, &v->lp, &v->ln);
		p = v->lp;
		n = v->ln;
	}
	switch (m->kind) {
	case VM_ANY:
		return true;
	case VM_EXACT:
		/* the first byte rejects most candidates before a memcmp call */
		if (n == m->n && (n == 0 || (p[0] == m->s[0] && sigma_eqb(p, m->s, n))))
			return true;
		if (m->is_num) {
			double d;
			return sigma_parse_number(v->p, v->n, &d) && d == m->num;
		}
		return false;
	case VM_PREFIX:
		return n >= m->n && (m->n == 0 || (p[0] == m->s[0] && sigma_eqb(p, m->s, m->n)));
	case VM_SUFFIX:
		return n >= m->n && (m->n == 0 || (p[n - 1] == m->s[m->n - 1] &&
						   sigma_eqb(p + n - m->n, m->s, m->n)));
	case VM_CONTAINS:
		return contains(p, n, m->s, m->n);
	case VM_GLOB:
		if (m->reqn && !contains(p, n, m->req, m->reqn))
			return false;
		return glob_match(m->s, m->wild, m->n, p, n);
	default:
		return false;
	}
}

bool vmatch_scalar(struct scratch *s, const struct vmatch *m, struct fval *v)
{
	switch (m->kind) {
	case VM_RE: {
		int rc = pcre2_match(m->re, (PCRE2_SPTR)v->p, v->n, 0, 0, s->md, s->mctx);
		return rc >= 0;
	}
	case VM_CIDR: {
		uint8_t ip[16];
		if (v->evf == EVF_SOURCE_IP)
			memcpy(ip, s->ev->ip, 16);
		else if (ip_parse(v->p, v->n, ip))
			return false;
		return memcmp(ip, m->lo, 16) >= 0 && memcmp(ip, m->hi, 16) <= 0;
	}
	case VM_CMP: {
		double d;
		if (!sigma_parse_number(v->p, v->n, &d))
			return false;
		switch (m->op) {
		case CMP_GT:
			return d > m->num;
		case CMP_GTE:
			return d >= m->num;
		case CMP_LT:
			return d < m->num;
		case CMP_LTE:
			return d <= m->num;
		}
		return false;
	}
	default:
		return vm_str(s, m, v);
	}
}

/* Any one of the event's tags (joined by ','; lower-case, so as their own lower-cased
 * text). */
static bool vm_tags(struct scratch *s, const struct vmatch *m, const struct fval *v)
{
	for (size_t i = 0; i < v->n;) {
		const char *c = memchr(v->p + i, ',', v->n - i);
		size_t e = c ? (size_t)(c - v->p) : v->n;
		struct fval t = {FV_STR, v->p + i, e - i, -1, EVF_DATA, NULL, 0};
		if (vmatch_scalar(s, m, &t))
			return true;
		i = e + 1;
	}
	return false;
}

/* A value, or any element of an array value (or of the tags). */
static bool vm_value(struct scratch *s, const struct vmatch *m, struct fval *v)
{
	if (v->evf == EVF_TAGS && v->t == FV_STR)
		return vm_tags(s, m, v);
	if (v->t == FV_STR || v->t == FV_NUM || v->t == FV_BOOL)
		return vmatch_scalar(s, m, v);
	/* contains also looks into an object's JSON text, as SIEMs that keep such fields
	 * as text do (Azure's properties.targetResources|contains: Administrator) */
	if (v->t == FV_OBJECT)
		return m->kind == VM_CONTAINS && vmatch_scalar(s, m, v);
	if (v->t != FV_ARRAY)
		return false;
	const struct jtok *a = &s->tok[v->tok];
	for (uint32_t i = (uint32_t)v->tok + 1; i < a->next; i = s->tok[i].next) {
		struct fval e;
		field_token(s, (int)i, &e);
		if ((e.t == FV_STR || e.t == FV_NUM || e.t == FV_BOOL ||
		     (m->kind == VM_CONTAINS && (e.t == FV_OBJECT || e.t == FV_ARRAY))) &&
		    vmatch_scalar(s, m, &e))
			return true;
	}
	return false;
}

/* A long list's set against a value, or any element of an array value (or of the tags). */
static bool vs_scalar(struct scratch *s, const struct valset *vs, struct fval *v)
{
	if (valset_cased(vs))
		return valset_match(vs, v->p, v->n);
	if (!v->lp)
		field_lower(s, v, &v->lp, &v->ln);
	return valset_match(vs, v->lp, v->ln);
}

static bool vs_value(struct scratch *s, const struct valset *vs, struct fval *v)
{
	if (v->evf == EVF_TAGS && v->t == FV_STR) {
		for (size_t i = 0; i < v->n;) {
			const char *c = memchr(v->p + i, ',', v->n - i);
			size_t e = c ? (size_t)(c - v->p) : v->n;
			if (valset_match(vs, v->p + i, e - i))
				return true;
			i = e + 1;
		}
		return false;
	}
	bool text = valset_kind(vs) == VM_CONTAINS; /* objects as JSON text, as vm_value */
	if (v->t == FV_STR || v->t == FV_NUM || v->t == FV_BOOL || (text && v->t == FV_OBJECT))
		return vs_scalar(s, vs, v);
	if (v->t != FV_ARRAY)
		return false;
	const struct jtok *a = &s->tok[v->tok];
	for (uint32_t i = (uint32_t)v->tok + 1; i < a->next; i = s->tok[i].next) {
		struct fval e;
		field_token(s, (int)i, &e);
		if ((e.t == FV_STR || e.t == FV_NUM || e.t == FV_BOOL ||
		     (text && (e.t == FV_OBJECT || e.t == FV_ARRAY))) &&
		    vs_scalar(s, vs, &e))
			return true;
	}
	return false;
}

/* ---- items, selections, conditions ---- */

static bool fv_text_eq(struct scratch *s, const struct fval *a, const struct fval *b, bool cased)
{
	if (a->n != b->n)
		return false;
	if (cased)
		return !memcmp(a->p, b->p, a->n);
	const char *pa, *pb;
	size_t na, nb;
	field_lower(s, a, &pa, &na);
	field_lower(s, b, &pb, &nb);
	return na == nb && !memcmp(pa, pb, na);
}

static bool fcond_match(struct scratch *s, const struct fcond *fc)
{
	bool r;
	if (fc->keywords)
		return kw_match(s, fc);
	struct fval v;
	field_get(s, &fc->f, &v);
	switch (fc->kind) {
	case FC_NULL:
		return v.t == FV_ABSENT || v.t == FV_NULL;
	case FC_EXISTS:
		return (v.t != FV_ABSENT) == fc->exists;
	case FC_FIELDREF: {
		struct fval w;
		field_get(s, &fc->ref, &w);
		bool scal = (v.t == FV_STR || v.t == FV_NUM || v.t == FV_BOOL) &&
			    (w.t == FV_STR || w.t == FV_NUM || w.t == FV_BOOL);
		r = scal && fv_text_eq(s, &v, &w, fc->cased);
		return fc->neq ? !r : r;
	}
	case FC_VALUES:
		break;
	}
	if (v.t == FV_ABSENT || v.t == FV_NULL) {
		r = fc->or_null;
	} else if (fc->set && vs_value(s, fc->set, &v)) {
		r = true; /* the set's literals are ORed, never 'all' */
	} else {
		r = fc->all;
		for (size_t i = fc->set ? fc->nset : 0; i < fc->nval; i++) {
			bool m = vm_value(s, &fc->val[i], &v);
			if (m != fc->all) {
				r = m;
				break;
			}
		}
	}
	return fc->neq ? !r : r;
}

static bool sel_match(struct scratch *s, const struct sel *sel)
{
	for (size_t a = 0; a < sel->nalt; a++) {
		const struct sel_alt *alt = &sel->alt[a];
		bool ok = true;
		for (size_t i = 0; ok && i < alt->nfc; i++)
			ok = fcond_match(s, &alt->fc[i]);
		if (ok)
			return true;
	}
	return false;
}

static bool sel_memo(struct scratch *s, const struct detection *d, int i)
{
	if (!s->memo[i])
		s->memo[i] = sel_match(s, &d->sel[i]) ? 2 : 1;
	return s->memo[i] == 2;
}

static bool cond_eval(struct scratch *s, const struct detection *d, int n)
{
	const struct cnode *c = &d->node[n];
	switch (c->op) {
	case CN_AND:
		return cond_eval(s, d, c->a) && cond_eval(s, d, c->b);
	case CN_OR:
		return cond_eval(s, d, c->a) || cond_eval(s, d, c->b);
	case CN_NOT:
		return !cond_eval(s, d, c->a);
	case CN_SEL:
		return sel_memo(s, d, c->sel);
	case CN_ONE_OF:
		for (int i = 0; i < c->nsels; i++)
			if (sel_memo(s, d, c->sels[i]))
				return true;
		return false;
	case CN_ALL_OF:
		for (int i = 0; i < c->nsels; i++)
			if (!sel_memo(s, d, c->sels[i]))
				return false;
		return true;
	}
	return false;
}

/* Many rules share a logsource: decide each once per event. */
bool logsrc_match(struct scratch *s, const struct sel *sel)
{
	size_t h = ((uintptr_t)sel >> 4) & 63;
	if (s->lsc[h].sel == sel && s->lsc[h].gen == s->gen)
		return s->lsc[h].res;
	bool r = sel_match(s, sel);
	s->lsc[h].sel = sel;
	s->lsc[h].gen = s->gen;
	s->lsc[h].res = r;
	return r;
}

bool variant_match(struct scratch *s, const struct variant *v)
{
	if (v->logsrc && !logsrc_match(s, v->logsrc))
		return false;
	const struct detection *d = &v->det;
	if (d->nsel > s->memocap) {
		size_t cap = d->nsel < 64 ? 64 : d->nsel;
		uint8_t *m = realloc(s->memo, cap);
		if (!m)
			return false;
		s->memo = m;
		s->memocap = cap;
	}
	memset(s->memo, 0, d->nsel);
	return cond_eval(s, d, d->root);
}

bool rule_match_s(struct scratch *s, const struct rule *r)
{
	for (size_t i = 0; i < r->nvar; i++)
		if (variant_match(s, &r->var[i]))
			return !r->napplied || filters_pass(s, r);
	return false;
}
