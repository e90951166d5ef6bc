/* sigma_compile.c — one "Field|modifiers: values" item, or one keyword list, compiled into
 * matchers: the modifiers, wildcards, base64/utf16/windash expansions, regular expressions,
 * CIDRs, comparisons, null and exists. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "detect/sigma_int.h"

int cc_fail(struct cctx *cc, unsigned line, const char *fmt, ...)
{
	if (cc->err && cc->errlen) {
		va_list ap;
		int k = line ? snprintf(cc->err, cc->errlen, "line %u: ", line) : 0;
		if (k < 0 || (size_t)k >= cc->errlen)
			k = 0;
		va_start(ap, fmt);
		vsnprintf(cc->err + k, cc->errlen - (size_t)k, fmt, ap);
		va_end(ap);
	}
	return SIEM_ESCHEMA;
}

/* ---- compiling values and modifiers ---- */

/* A value being built: bytes with a parallel wildcard mask ('*', '?' or 0). */
struct pat {
	char *b;
	uint8_t *w;
	size_t n;
};

enum mod_xform { X_BASE64, X_BASE64OFF, X_UTF16LE, X_UTF16BE, X_UTF16, X_WINDASH };

struct mods {
	int mode; /* 0, 'c' contains, 's' startswith, 'e' endswith */
	bool all, cased, neq, re, cidr, exists, fieldref, expand;
	int cmp; /* -1 or enum cmp_op */
	uint32_t reflags;
	int nx;
	enum mod_xform x[8];
	const char *first_type; /* for conflict messages */
};

static int mods_parse(struct cctx *cc, const char *p, size_t n, struct mods *m, bool keywords,
		      unsigned line)
{
	memset(m, 0, sizeof(*m));
	m->cmp = -1;
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && p[j] != '|')
			j++;
		char w[32];
		size_t wn = j - i;
		if (wn == 0 || wn >= sizeof(w))
			return cc_fail(cc, line, "unsupported: modifier '%.*s'",
				       (int)(wn > 40 ? 40 : wn), p + i);
		memcpy(w, p + i, wn);
		w[wn] = '\0';
		i = j + (j < n);
		bool after_re = m->re && (!strcmp(w, "i") || !strcmp(w, "m") || !strcmp(w, "s"));
		if (after_re) {
			m->reflags |= w[0] == 'i'   ? PCRE2_CASELESS
				      : w[0] == 'm' ? PCRE2_MULTILINE
						    : PCRE2_DOTALL;
			continue;
		}
		const char *type = NULL;
		if (!strcmp(w, "contains") || !strcmp(w, "startswith") || !strcmp(w, "endswith")) {
			if (m->mode)
				return cc_fail(cc, line,
					       "conflicting modifiers: '%s' after another "
					       "of contains/startswith/endswith",
					       w);
			m->mode = w[0] == 'c' ? 'c' : w[0] == 's' ? 's' : 'e';
		} else if (!strcmp(w, "all")) {
			m->all = true;
		} else if (!strcmp(w, "cased")) {
			m->cased = true;
		} else if (!strcmp(w, "neq")) {
			m->neq = true;
		} else if (!strcmp(w, "re")) {
			type = "re";
			m->re = true;
		} else if (!strcmp(w, "cidr")) {
			type = "cidr";
			m->cidr = true;
		} else if (!strcmp(w, "exists")) {
			type = "exists";
			m->exists = true;
		} else if (!strcmp(w, "fieldref")) {
			type = "fieldref";
			m->fieldref = true;
		} else if (!strcmp(w, "gt") || !strcmp(w, "gte") || !strcmp(w, "lt") ||
			   !strcmp(w, "lte")) {
			type = "gt/gte/lt/lte";
			m->cmp = !strcmp(w, "gt")    ? CMP_GT
				 : !strcmp(w, "gte") ? CMP_GTE
				 : !strcmp(w, "lt")  ? CMP_LT
						     : CMP_LTE;
		} else if (!strcmp(w, "base64") || !strcmp(w, "base64offset") ||
			   !strcmp(w, "wide") || !strcmp(w, "utf16le") || !strcmp(w, "utf16be") ||
			   !strcmp(w, "utf16") || !strcmp(w, "windash")) {
			if (m->nx == 8)
				return cc_fail(cc, line, "too many modifiers");
			m->x[m->nx++] = !strcmp(w, "base64")	     ? X_BASE64
					: !strcmp(w, "base64offset") ? X_BASE64OFF
					: !strcmp(w, "windash")	     ? X_WINDASH
					: !strcmp(w, "utf16be")	     ? X_UTF16BE
					: !strcmp(w, "utf16")	     ? X_UTF16
								     : X_UTF16LE;
		} else if (!strcmp(w, "expand")) {
			m->expand = true;
		} else if (!strcmp(w, "minute") || !strcmp(w, "hour") || !strcmp(w, "day") ||
			   !strcmp(w, "week") || !strcmp(w, "month") || !strcmp(w, "year")) {
			return cc_fail(cc, line, "unsupported: time modifier '%s'", w);
		} else {
			return cc_fail(cc, line, "unsupported: modifier '%s'", w);
		}
		if (type) {
			if (m->first_type)
				return cc_fail(cc, line,
					       "unsupported: modifier '%s' combined with '%s'", w,
					       m->first_type);
			m->first_type = type;
		}
	}
	if (m->reflags && !m->re)
		return cc_fail(cc, line, "modifiers i/m/s only follow 're'");
	bool typed = m->re || m->cidr || m->exists || m->fieldref || m->cmp >= 0;
	if (typed && (m->mode || m->nx))
		return cc_fail(cc, line, "unsupported: modifier '%s' combined with %s",
			       m->first_type,
			       m->mode ? "contains/startswith/endswith" : "an encoding modifier");
	if ((m->exists || m->cidr || m->cmp >= 0) && m->cased)
		return cc_fail(cc, line, "unsupported: modifier 'cased' with '%s'", m->first_type);
	if (keywords && (typed || m->neq))
		return cc_fail(cc, line, "unsupported: modifier '%s' on keywords",
			       m->first_type ? m->first_type : "neq");
	return 0;
}

static int pat_alloc(struct cctx *cc, struct pat *p, size_t n)
{
	p->b = arena_alloc(cc->a, n + 1);
	p->w = arena_alloc(cc->a, n + 1);
	p->n = 0;
	return p->b && p->w ? 0 : -ENOMEM;
}

/* Sigma string: '*' and '?' are wildcards; a backslash escapes '*', '?' and itself, and is
 * literal before anything else. */
static int pat_from_sigma(struct cctx *cc, const char *s, size_t n, struct pat *p, bool wild)
{
	if (pat_alloc(cc, p, n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (wild && c == '\\' && i + 1 < n &&
		    (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
			p->b[p->n] = s[++i];
			p->w[p->n++] = 0;
		} else if (wild && (c == '*' || c == '?')) {
			p->b[p->n] = c;
			p->w[p->n++] = (uint8_t)c;
		} else {
			p->b[p->n] = c;
			p->w[p->n++] = 0;
		}
	}
	return 0;
}

static bool pat_has_wild(const struct pat *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->w[i])
			return true;
	return false;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

static int pat_literal(struct cctx *cc, struct pat *p, const char *s, size_t n)
{
	if (pat_alloc(cc, p, n))
		return -ENOMEM;
	memcpy(p->b, s, n);
	memset(p->w, 0, n);
	p->n = n;
	return 0;
}

/* UTF-8 → UTF-16 (le/be), wildcards kept as wildcards. */
static int pat_utf16(struct cctx *cc, struct pat *p, bool be, bool bom)
{
	struct pat q;
	if (pat_alloc(cc, &q, p->n * 4 + 2))
		return -ENOMEM;
	if (bom) {
		q.b[q.n] = be ? (char)0xfe : (char)0xff;
		q.w[q.n++] = 0;
		q.b[q.n] = be ? (char)0xff : (char)0xfe;
		q.w[q.n++] = 0;
	}
	for (size_t i = 0; i < p->n;) {
		if (p->w[i]) {
			q.b[q.n] = p->b[i];
			q.w[q.n++] = p->w[i++];
			continue;
		}
		size_t k = sigma_u8len(p->b + i, p->n - i);
		uint32_t cp = (unsigned char)p->b[i];
		if (k == 2)
			cp = (cp & 0x1f) << 6 | (p->b[i + 1] & 0x3f);
		else if (k == 3)
			cp = (cp & 0x0f) << 12 | (p->b[i + 1] & 0x3f) << 6 | (p->b[i + 2] & 0x3f);
		else if (k == 4)
			cp = (cp & 0x07) << 18 | (p->b[i + 1] & 0x3f) << 12 |
			     (p->b[i + 2] & 0x3f) << 6 | (p->b[i + 3] & 0x3f);
		i += k;
		uint16_t units[2];
		int nu = 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[0] = (uint16_t)(0xd800 + (cp >> 10));
			units[1] = (uint16_t)(0xdc00 + (cp & 0x3ff));
			nu = 2;
		} else {
			units[0] = (uint16_t)cp;
		}
		for (int u = 0; u < nu; u++) {
			char hi = (char)(units[u] >> 8), lo = (char)(units[u] & 0xff);
			q.b[q.n] = be ? hi : lo;
			q.w[q.n++] = 0;
			q.b[q.n] = be ? lo : hi;
			q.w[q.n++] = 0;
		}
	}
	*p = q;
	return 0;
}

static bool is_word(const struct pat *p, size_t i)
{
	if (p->w[i])
		return false;
	unsigned char c = (unsigned char)p->b[i];
	return isalnum(c) || c == '_' || c >= 0x80;
}

/* Apply the value transformations in order; one value may become several. */
static int pats_xform(struct cctx *cc, struct pat **ps, size_t *np, const struct mods *m,
		      unsigned line)
{
	for (int x = 0; x < m->nx; x++) {
		enum mod_xform t = m->x[x];
		size_t outn = 0, cap = *np * (t == X_BASE64OFF ? 3 : 1);
		if (t == X_WINDASH) {
			cap = 0;
			for (size_t i = 0; i < *np; i++) {
				size_t k = 1;
				const struct pat *p = &(*ps)[i];
				for (size_t j = 0; j < p->n; j++)
					if (!p->w[j] && (p->b[j] == '-' || p->b[j] == '/') &&
					    (j == 0 || !is_word(p, j - 1)) && j + 1 < p->n &&
					    is_word(p, j + 1)) {
						k *= 5;
						if (k > SIGMA_MAX_EXPANSION)
							return cc_fail(cc, line,
								       "unsupported: windash "
								       "expansion over %d values",
								       SIGMA_MAX_EXPANSION);
					}
				cap += k;
			}
		}
		if (cap > SIGMA_MAX_EXPANSION)
			return cc_fail(cc, line, "unsupported: more than %d values after modifiers",
				       SIGMA_MAX_EXPANSION);
		struct pat *out = arena_alloc(cc->a, cap * sizeof(*out));
		if (!out)
			return -ENOMEM;
		for (size_t i = 0; i < *np; i++) {
			struct pat p = (*ps)[i];
			switch (t) {
			case X_UTF16LE:
			case X_UTF16BE:
			case X_UTF16:
				if (pat_utf16(cc, &p, t == X_UTF16BE, t == X_UTF16))
					return -ENOMEM;
				out[outn++] = p;
				break;
			case X_BASE64:
			case X_BASE64OFF: {
				if (pat_has_wild(&p))
					return cc_fail(cc, line,
						       "unsupported: base64 of a value "
						       "with wildcards");
				char *enc = arena_alloc(cc->a, (p.n + 4) / 3 * 4 + 8);
				uint8_t *in = arena_alloc(cc->a, p.n + 3);
				if (!enc || !in)
					return -ENOMEM;
				if (t == X_BASE64) {
					size_t k = b64_encode((const uint8_t *)p.b, p.n, enc);
					if (pat_literal(cc, &out[outn++], enc, k))
						return -ENOMEM;
					break;
				}
				/* pySigma: b64encode(i * b" " + value)[start[i] : end[(len + i) %
				 * 3]] */
				static const int start[3] = {0, 2, 3};
				static const int end[3] = {0, -3, -2};
				for (int sh = 0; sh < 3; sh++) {
					memset(in, ' ', (size_t)sh);
					memcpy(in + sh, p.b, p.n);
					size_t k = b64_encode(in, p.n + (size_t)sh, enc);
					int e = end[(p.n + (size_t)sh) % 3];
					size_t lo = (size_t)start[sh],
					       hi = e ? k - (size_t)(-e) : k;
					if (hi < lo || k < (size_t)(-e))
						hi = lo;
					if (pat_literal(cc, &out[outn++], enc + lo, hi - lo))
						return -ENOMEM;
				}
				break;
			}
			case X_WINDASH: {
				size_t pos[16], npos = 0;
				for (size_t j = 0; j < p.n && npos < 16; j++)
					if (!p.w[j] && (p.b[j] == '-' || p.b[j] == '/') &&
					    (j == 0 || !is_word(&p, j - 1)) && j + 1 < p.n &&
					    is_word(&p, j + 1))
						pos[npos++] = j;
				static const char *dash[5] = {"-", "/", "\xe2\x80\x93",
							      "\xe2\x80\x94", "\xe2\x80\x95"};
				size_t combos = 1;
				for (size_t j = 0; j < npos; j++)
					combos *= 5;
				for (size_t c = 0; c < combos; c++) {
					struct pat q;
					if (pat_alloc(cc, &q, p.n + 2 * npos))
						return -ENOMEM;
					size_t cc5 = c, pi = 0;
					for (size_t j = 0; j < p.n; j++) {
						if (pi < npos && pos[pi] == j) {
							const char *d = dash[cc5 % 5];
							cc5 /= 5;
							pi++;
							for (size_t z = 0; d[z]; z++) {
								q.b[q.n] = d[z];
								q.w[q.n++] = 0;
							}
							continue;
						}
						q.b[q.n] = p.b[j];
						q.w[q.n++] = p.w[j];
					}
					out[outn++] = q;
				}
				break;
			}
			}
		}
		*ps = out;
		*np = outn;
	}
	return 0;
}

/* Finish a pattern into a matcher: add the wildcards of contains/startswith/endswith, then
 * pick the cheapest kind that matches it. */
static int vm_from_pat(struct cctx *cc, struct vmatch *vm, const struct pat *p0, int mode,
		       bool cased)
{
	struct pat p;
	if (pat_alloc(cc, &p, p0->n + 2))
		return -ENOMEM;
	if ((mode == 'c' || mode == 'e') && !(p0->n && p0->w[0] == '*')) {
		p.b[p.n] = '*';
		p.w[p.n++] = '*';
	}
	memcpy(p.b + p.n, p0->b, p0->n);
	memcpy(p.w + p.n, p0->w, p0->n);
	p.n += p0->n;
	if ((mode == 'c' || mode == 's') && !(p0->n && p0->w[p0->n - 1] == '*')) {
		p.b[p.n] = '*';
		p.w[p.n++] = '*';
	}
	if (!cased)
		for (size_t i = 0; i < p.n; i++)
			if (!p.w[i])
				p.b[i] = sigma_lower(p.b[i]);
	vm->cased = cased;
	vm->ac_id = -1;
	size_t stars = 0, q = 0, inner = 0;
	for (size_t i = 0; i < p.n; i++) {
		if (p.w[i] == '*') {
			stars++;
			if (i != 0 && i != p.n - 1)
				inner++;
		} else if (p.w[i] == '?') {
			q++;
		}
	}
	bool lead = p.n && p.w[0] == '*', trail = p.n && p.w[p.n - 1] == '*';
	if (q == 0 && inner == 0) {
		if (p.n == stars && stars > 0) {
			vm->kind = VM_ANY;
			return 0;
		}
		vm->s = p.b + lead;
		vm->n = p.n - lead - trail;
		vm->kind = lead && trail ? VM_CONTAINS
			   : lead	 ? VM_SUFFIX
			   : trail	 ? VM_PREFIX
					 : VM_EXACT;
		return 0;
	}
	vm->kind = VM_GLOB;
	vm->s = p.b;
	vm->wild = p.w;
	vm->n = p.n;
	for (size_t i = 0; i < p.n;) {
		size_t j = i;
		while (j < p.n && !p.w[j])
			j++;
		if (j - i > vm->reqn) {
			vm->req = p.b + i;
			vm->reqn = j - i;
		}
		i = j + 1;
	}
	return 0;
}

static int yv_number(const struct yval *v, double *out)
{
	if (v->t == YV_INT || v->t == YV_NUM || v->t == YV_STR)
		return sigma_parse_number(v->s, v->n, out) ? 0 : -1;
	return -1;
}

static int vm_compile_re(struct cctx *cc, struct vmatch *vm, const struct yval *v, uint32_t flags,
			 unsigned line)
{
	int ecode;
	PCRE2_SIZE eoff;
	vm->kind = VM_RE;
	vm->ac_id = -1;
	vm->re = pcre2_compile((PCRE2_SPTR)v->s, v->n, flags, &ecode, &eoff, NULL);
	if (!vm->re) {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		return cc_fail(cc, line, "invalid regular expression '%.*s': %s at offset %zu",
			       (int)(v->n > 80 ? 80 : v->n), v->s, (const char *)msg, (size_t)eoff);
	}
	struct re_node *rn = arena_alloc(cc->a, sizeof(*rn));
	if (!rn) {
		pcre2_code_free(vm->re);
		vm->re = NULL;
		return -ENOMEM;
	}
	rn->re = vm->re;
	rn->next = cc->res ? *cc->res : NULL;
	if (cc->res)
		*cc->res = rn;
	pcre2_jit_compile(vm->re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
	return 0;
}

static int values_compile(struct cctx *cc, struct fcond *fc, const struct mods *m,
			  const struct yval *vals, size_t nvals, bool keywords, unsigned line)
{
	struct vmatch *out = NULL;
	size_t nout = 0, cap = 0;
	for (size_t i = 0; i < nvals; i++) {
		const struct yval *v = &vals[i];
		unsigned vl = v->line ? v->line : line;
		if (v->t == YV_NULL) {
			if (keywords || m->re || m->cidr || m->cmp >= 0 || m->mode || m->nx)
				return cc_fail(cc, vl, "null cannot take modifiers");
			fc->or_null = true;
			continue;
		}
		if (m->re || m->cidr || m->cmp >= 0) {
			if (nout == cap) {
				cap = cap ? cap * 2 : 4;
				struct vmatch *o = arena_alloc(cc->a, cap * sizeof(*o));
				if (!o)
					return -ENOMEM;
				if (nout)
					memcpy(o, out, nout * sizeof(*o));
				out = o;
			}
			struct vmatch *vm = &out[nout];
			memset(vm, 0, sizeof(*vm));
			vm->ac_id = -1;
			if (m->re) {
				int rc = vm_compile_re(cc, vm, v, m->reflags, vl);
				if (rc)
					return rc;
			} else if (m->cidr) {
				vm->kind = VM_CIDR;
				if (cidr_parse(v->s, v->n, vm->lo, vm->hi))
					return cc_fail(cc, vl, "invalid CIDR '%.*s'",
						       (int)(v->n > 60 ? 60 : v->n), v->s);
			} else {
				vm->kind = VM_CMP;
				vm->op = (enum cmp_op)m->cmp;
				if (yv_number(v, &vm->num))
					return cc_fail(cc, vl, "'%.*s' is not a number",
						       (int)(v->n > 60 ? 60 : v->n), v->s);
			}
			nout++;
			continue;
		}
		struct pat *ps = arena_alloc(cc->a, sizeof(*ps));
		size_t np = 1;
		if (!ps || pat_from_sigma(cc, v->s, v->n, ps, true))
			return -ENOMEM;
		int rc = pats_xform(cc, &ps, &np, m, vl);
		if (rc)
			return rc;
		if (nout + np > SIGMA_MAX_VALUES)
			return cc_fail(cc, vl, "unsupported: more than %d values after modifiers",
				       SIGMA_MAX_VALUES);
		if (nout + np > cap) {
			size_t ncap = cap ? cap * 2 : 4;
			while (ncap < nout + np)
				ncap *= 2;
			struct vmatch *o = arena_alloc(cc->a, ncap * sizeof(*o));
			if (!o)
				return -ENOMEM;
			if (nout)
				memcpy(o, out, nout * sizeof(*o));
			out = o;
			cap = ncap;
		}
		double num;
		bool isnum =
		    (v->t == YV_INT || v->t == YV_NUM) && sigma_parse_number(v->s, v->n, &num);
		for (size_t k = 0; k < np; k++) {
			struct vmatch *vm = &out[nout++];
			memset(vm, 0, sizeof(*vm));
			if ((rc = vm_from_pat(cc, vm, &ps[k], keywords ? 'c' : m->mode, m->cased)))
				return rc;
			if (isnum && m->nx == 0 && !m->mode && vm->kind == VM_EXACT) {
				vm->is_num = true;
				vm->num = num;
			}
		}
	}
	fc->val = out;
	fc->nval = nout;
	return 0;
}

/* The expand modifier: placeholders replaced by their values (sigma_placeholders.c). */
static int expand_values(struct cctx *cc, const struct yval **vals, size_t *nvals, unsigned line)
{
	struct yval *x;
	size_t nx;
	int rc = placeholders_expand(cc, *vals, *nvals, &x, &nx, line);
	if (rc)
		return rc;
	if (nx == 0)
		return cc_fail(cc, line, "unsupported: a placeholder with an empty value list");
	*vals = x;
	*nvals = nx;
	return 0;
}

int fcond_keywords(struct cctx *cc, struct fcond *fc, const char *mods, size_t modlen,
		   const struct yval *vals, size_t nvals, unsigned line)
{
	struct mods m;
	memset(fc, 0, sizeof(*fc));
	fc->keywords = true;
	fc->line = line;
	int rc = mods_parse(cc, mods, modlen, &m, true, line);
	if (rc)
		return rc;
	if (m.re)
		return cc_fail(cc, line, "unsupported: modifier 're' on keywords");
	if (m.expand && (rc = expand_values(cc, &vals, &nvals, line)))
		return rc;
	fc->all = m.all;
	fc->kind = FC_VALUES;
	cc->keywords = true;
	if ((rc = values_compile(cc, fc, &m, vals, nvals, true, line)))
		return rc;
	if (fc->nval == 0)
		return cc_fail(cc, line, "keyword list without values");
	/* plain literals first (order does not matter in an OR or an AND) */
	for (size_t i = 0; i < fc->nval; i++) {
		if (fc->val[i].kind != VM_CONTAINS || fc->val[i].cased || fc->val[i].n == 0)
			continue;
		struct vmatch t = fc->val[i];
		memmove(&fc->val[fc->nplain + 1], &fc->val[fc->nplain],
			(i - fc->nplain) * sizeof(t));
		fc->val[fc->nplain++] = t;
	}
	return 0;
}

static bool set_candidate(const struct vmatch *m, enum vm_kind kind, bool cased)
{
	return m->kind == kind && m->cased == cased && !m->is_num;
}

/* A long ORed list: its most common kind of plain literal (exact, startswith, endswith,
 * contains) first, decided by a valset; the rest stay one by one. */
static int fcond_valset(struct cctx *cc, struct fcond *fc)
{
	static const enum vm_kind kinds[4] = {VM_EXACT, VM_PREFIX, VM_SUFFIX, VM_CONTAINS};
	size_t best = 0, bestk = 0;
	bool cased = false;
	if (fc->all || fc->nval < VALSET_MIN)
		return 0;
	for (int c = 0; c < 2; c++)
		for (size_t k = 0; k < 4; k++) {
			size_t cnt = 0;
			for (size_t i = 0; i < fc->nval; i++)
				cnt += set_candidate(&fc->val[i], kinds[k], c);
			if (cnt > best) {
				best = cnt;
				bestk = k;
				cased = c;
			}
		}
	if (best < VALSET_MIN)
		return 0;
	struct vmatch *rest = malloc((fc->nval - best + 1) * sizeof(*rest));
	size_t nrest = 0;
	if (!rest)
		return -ENOMEM;
	for (size_t i = 0; i < fc->nval; i++) {
		if (set_candidate(&fc->val[i], kinds[bestk], cased))
			fc->val[fc->nset++] = fc->val[i];
		else
			rest[nrest++] = fc->val[i];
	}
	memcpy(&fc->val[fc->nset], rest, nrest * sizeof(*rest));
	free(rest);
	return valset_build(cc->a, kinds[bestk], cased, fc->val, fc->nset, &fc->set);
}

int fcond_compile(struct cctx *cc, struct fcond *fc, const char *key, size_t keylen,
		  const struct yval *vals, size_t nvals, unsigned line)
{
	size_t bar = 0;
	while (bar < keylen && key[bar] != '|')
		bar++;
	const char *mods = key + bar + (bar < keylen);
	size_t modlen = bar < keylen ? keylen - bar - 1 : 0;
	if (bar == 0)
		return fcond_keywords(cc, fc, mods, modlen, vals, nvals, line);
	memset(fc, 0, sizeof(*fc));
	fc->line = line;
	struct mods m;
	int rc = mods_parse(cc, mods, modlen, &m, false, line);
	if (rc)
		return rc;
	if ((rc = field_ref_compile(cc, &fc->f, key, bar)))
		return rc;
	fc->all = m.all;
	fc->neq = m.neq;
	if (m.expand && (rc = expand_values(cc, &vals, &nvals, line)))
		return rc;
	if (nvals == 0)
		return cc_fail(cc, line, "field '%.*s' has an empty value list", (int)bar, key);
	if (m.exists) {
		const struct yval *v = &vals[0];
		bool t = v->n == 4 && sigma_ieq(v->s, 4, "true", 4);
		bool f = v->n == 5 && sigma_ieq(v->s, 5, "false", 5);
		if (nvals != 1 || (!t && !f))
			return cc_fail(cc, line, "'exists' needs true or false");
		fc->kind = FC_EXISTS;
		fc->exists = t;
		return 0;
	}
	if (m.fieldref) {
		fc->kind = FC_FIELDREF;
		fc->cased = m.cased;
		if (nvals != 1 || vals[0].t == YV_NULL || m.all)
			return cc_fail(cc, line, "unsupported: 'fieldref' with a value list");
		return field_ref_compile(cc, &fc->ref, vals[0].s, vals[0].n);
	}
	if (nvals == 1 && vals[0].t == YV_NULL) {
		if (m.mode || m.nx || m.re || m.cidr || m.cmp >= 0 || m.all)
			return cc_fail(cc, line, "null cannot take modifiers");
		fc->kind = m.neq ? FC_VALUES : FC_NULL;
		fc->or_null = true;
		return 0;
	}
	fc->kind = FC_VALUES;
	if ((rc = values_compile(cc, fc, &m, vals, nvals, false, line)))
		return rc;
	return fcond_valset(cc, fc);
}

void vmatch_free_all(struct rule *r)
{
	for (struct re_node *n = r->res; n; n = n->next)
		pcre2_code_free(n->re);
	r->res = NULL;
}
