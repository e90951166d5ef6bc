/* sigma_cond.c — the Sigma condition expression (and, or, not, parentheses, "1 of X*",
 * "all of them"...) parsed into a node array over the selections. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "detect/sigma_int.h"

#define MAX_NODES 4096

enum tk {
	TK_END,
	TK_LP,
	TK_RP,
	TK_AND,
	TK_OR,
	TK_NOT,
	TK_ONE,
	TK_ALL,
	TK_OF,
	TK_THEM,
	TK_ID,
	TK_PIPE
};

struct cparser {
	struct cctx *cc;
	struct detection *d;
	const char *s;
	size_t n, pos;
	unsigned line;
	enum tk tk;
	const char *tp; /* current token text */
	size_t tn;
	int cap;
};

static bool word_is(const char *p, size_t n, const char *w)
{
	return strlen(w) == n && sigma_ieq(p, n, w, n);
}

static void next(struct cparser *p)
{
	while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				 p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
	p->tp = p->s + p->pos;
	p->tn = 0;
	if (p->pos >= p->n) {
		p->tk = TK_END;
		return;
	}
	char c = p->s[p->pos];
	if (c == '(' || c == ')' || c == '|') {
		p->tk = c == '(' ? TK_LP : c == ')' ? TK_RP : TK_PIPE;
		p->tn = 1;
		p->pos++;
		return;
	}
	size_t st = p->pos;
	while (p->pos < p->n && !strchr(" \t\r\n()|", p->s[p->pos]))
		p->pos++;
	p->tn = p->pos - st;
	const char *w = p->s + st;
	size_t n = p->tn;
	p->tk = word_is(w, n, "and")	? TK_AND
		: word_is(w, n, "or")	? TK_OR
		: word_is(w, n, "not")	? TK_NOT
		: word_is(w, n, "1")	? TK_ONE
		: word_is(w, n, "any")	? TK_ONE
		: word_is(w, n, "all")	? TK_ALL
		: word_is(w, n, "of")	? TK_OF
		: word_is(w, n, "them") ? TK_THEM
					: TK_ID;
}

static int fail(struct cparser *p, const char *what)
{
	return cc_fail(p->cc, p->line, "condition '%.*s': %s", (int)(p->n > 120 ? 120 : p->n), p->s,
		       what);
}

static int node(struct cparser *p, enum cn_op op, int a, int b)
{
	struct detection *d = p->d;
	if (d->nnode == (size_t)p->cap) {
		if (p->cap >= MAX_NODES)
			return -E2BIG;
		int cap = p->cap ? p->cap * 2 : 16;
		struct cnode *nn = arena_alloc(p->cc->a, (size_t)cap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		if (d->nnode)
			memcpy(nn, d->node, d->nnode * sizeof(*nn));
		d->node = nn;
		p->cap = cap;
	}
	struct cnode *c = &d->node[d->nnode];
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->a = a;
	c->b = b;
	return (int)d->nnode++;
}

/* '*' in a pattern matches any run of characters. */
static bool name_match(const char *pat, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, sp = (size_t)-1, ss = 0;
	while (si < sn) {
		if (pi < pn && pat[pi] == '*') {
			sp = pi++;
			ss = si;
		} else if (pi < pn && pat[pi] == s[si]) {
			pi++;
			si++;
		} else if (sp != (size_t)-1) {
			pi = sp + 1;
			si = ++ss;
		} else {
			return false;
		}
	}
	while (pi < pn && pat[pi] == '*')
		pi++;
	return pi == pn;
}

static int expr(struct cparser *p, int depth);

static int quant(struct cparser *p, bool all)
{
	next(p);
	if (p->tk != TK_OF)
		return fail(p, all ? "'all' must be followed by 'of'"
				   : "'1' must be followed by 'of' (other counts are unsupported)");
	next(p);
	bool them = p->tk == TK_THEM;
	if (!them && p->tk != TK_ID)
		return fail(p, "'of' must be followed by 'them' or a search identifier pattern");
	const char *pat = p->tp;
	size_t pn = p->tn;
	int *sels = arena_alloc(p->cc->a, (p->d->nsel ? p->d->nsel : 1) * sizeof(int));
	if (!sels)
		return -ENOMEM;
	int k = 0;
	for (size_t i = 0; i < p->d->nsel; i++) {
		const char *nm = p->d->sel[i].name;
		if (them ? nm[0] != '_' : name_match(pat, pn, nm, strlen(nm)))
			sels[k++] = (int)i;
	}
	if (k == 0)
		return cc_fail(p->cc, p->line, "condition: '%.*s' matches no search identifier",
			       (int)(pn > 60 ? 60 : pn), pat);
	int n = node(p, all ? CN_ALL_OF : CN_ONE_OF, -1, -1);
	if (n < 0)
		return n;
	p->d->node[n].sels = sels;
	p->d->node[n].nsels = k;
	next(p);
	return n;
}

static int primary(struct cparser *p, int depth)
{
	if (depth > SIGMA_MAX_DEPTH)
		return fail(p, "nested too deeply");
	switch (p->tk) {
	case TK_LP: {
		next(p);
		int n = expr(p, depth + 1);
		if (n < 0)
			return n;
		if (p->tk != TK_RP)
			return fail(p, "missing ')'");
		next(p);
		return n;
	}
	case TK_ONE:
		return quant(p, false);
	case TK_ALL:
		return quant(p, true);
	case TK_ID: {
		for (size_t i = 0; i < p->d->nsel; i++) {
			const char *nm = p->d->sel[i].name;
			if (strlen(nm) == p->tn && !memcmp(nm, p->tp, p->tn)) {
				int n = node(p, CN_SEL, -1, -1);
				if (n < 0)
					return n;
				p->d->node[n].sel = (int)i;
				next(p);
				return n;
			}
		}
		if (memchr(p->tp, '*', p->tn))
			return cc_fail(p->cc, p->line,
				       "condition: pattern '%.*s' needs '1 of' or "
				       "'all of'",
				       (int)(p->tn > 60 ? 60 : p->tn), p->tp);
		if (p->tn && strspn(p->tp, "0123456789") >= p->tn)
			return cc_fail(p->cc, p->line,
				       "unsupported: '%.*s of' (only '1 of' and "
				       "'all of')",
				       (int)(p->tn > 20 ? 20 : p->tn), p->tp);
		if (word_is(p->tp, p->tn, "near"))
			return cc_fail(p->cc, p->line,
				       "unsupported: condition operator 'near' "
				       "(use a temporal correlation rule)");
		return cc_fail(p->cc, p->line, "condition: unknown search identifier '%.*s'",
			       (int)(p->tn > 60 ? 60 : p->tn), p->tp);
	}
	case TK_PIPE:
		return cc_fail(p->cc, p->line,
			       "unsupported: aggregation in condition ('| ...'; "
			       "use a correlation rule)");
	case TK_END:
		return fail(p, "unexpected end");
	default:
		return cc_fail(p->cc, p->line, "condition: unexpected '%.*s'", (int)p->tn, p->tp);
	}
}

static int unary(struct cparser *p, int depth)
{
	if (p->tk == TK_NOT) {
		if (depth > SIGMA_MAX_DEPTH)
			return fail(p, "nested too deeply");
		next(p);
		int a = unary(p, depth + 1);
		if (a < 0)
			return a;
		return node(p, CN_NOT, a, -1);
	}
	return primary(p, depth);
}

static int and_expr(struct cparser *p, int depth)
{
	int a = unary(p, depth);
	while (a >= 0 && p->tk == TK_AND) {
		next(p);
		int b = unary(p, depth);
		if (b < 0)
			return b;
		a = node(p, CN_AND, a, b);
	}
	return a;
}

static int expr(struct cparser *p, int depth)
{
	int a = and_expr(p, depth);
	while (a >= 0 && p->tk == TK_OR) {
		next(p);
		int b = and_expr(p, depth);
		if (b < 0)
			return b;
		a = node(p, CN_OR, a, b);
	}
	return a;
}

int cond_parse(struct cctx *cc, struct detection *d, const char *text, size_t n, unsigned line,
	       int *root)
{
	/* nodes already there were allocated exactly: the first new one copies them */
	struct cparser p = {cc, d, text, n, 0, line, TK_END, NULL, 0, (int)d->nnode};
	next(&p);
	if (p.tk == TK_END)
		return cc_fail(cc, line, "empty condition");
	int r = expr(&p, 0);
	if (r == -E2BIG)
		return cc_fail(cc, line, "condition too large");
	if (r < 0)
		return r;
	if (p.tk == TK_PIPE)
		return cc_fail(cc, line,
			       "unsupported: aggregation in condition ('| ...'; use a "
			       "correlation rule)");
	if (p.tk != TK_END)
		return cc_fail(cc, line, "condition '%.*s': unexpected '%.*s'",
			       (int)(n > 120 ? 120 : n), text, (int)p.tn, p.tp);
	*root = r;
	return 0;
}
