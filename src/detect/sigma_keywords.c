/* sigma_keywords.c — keywords, Sigma's full-text search over message and raw_message: one
 * Aho-Corasick automaton over every keyword literal of a rule set, the keyword ids a rule
 * cannot match without, and the matching of keyword items. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "detect/sigma_int.h"

/* ---- the keyword automaton (Aho-Corasick over byte classes) ---- */

/* Outputs are ids, not patterns: the plain literals of one ORed keyword list share an id,
 * so the list is decided by one bit. */
struct kw_automaton {
	size_t npat, nids, nstates, nclass;
	uint8_t cls[256];
	uint16_t *delta;   /* nstates * nclass: 16 bits keep the table in cache */
	int32_t *out;	   /* per state: first output node, or -1 */
	int32_t *out_next; /* per output node (one per pattern): the next in the state's list */
	int32_t *out_id;   /* per output node: the id it sets */
	uint32_t *dict;	   /* per state: nearest proper suffix state with output, or 0 */
	uint8_t *has_out;  /* per state: an output here or on a suffix */
};

void kw_free(struct kw_automaton *ac)
{
	if (!ac)
		return;
	free(ac->delta);
	free(ac->out);
	free(ac->out_next);
	free(ac->out_id);
	free(ac->dict);
	free(ac->has_out);
	free(ac);
}

/* The literal a keyword matcher needs: all of a contains, the longest run of a glob. */
static bool kw_literal(const struct fcond *fc, const struct vmatch *m, const char **p, size_t *n)
{
	if (!fc->keywords || m->cased)
		return false;
	if (m->kind == VM_CONTAINS && m->n > 0) {
		*p = m->s;
		*n = m->n;
		return true;
	}
	if (m->kind == VM_GLOB && m->reqn > 0) {
		*p = m->req;
		*n = m->reqn;
		return true;
	}
	return false;
}

/* Call fn for every item of every selection of r (logsource conditions excluded). */
static void rule_each_fcond(struct rule *r, void (*fn)(struct fcond *fc, void *ctx), void *ctx)
{
	for (size_t v = 0; v < r->nvar; v++) {
		struct detection *d = &r->var[v].det;
		for (size_t i = 0; i < d->nsel; i++)
			for (size_t a = 0; a < d->sel[i].nalt; a++)
				for (size_t f = 0; f < d->sel[i].alt[a].nfc; f++)
					fn(&d->sel[i].alt[a].fc[f], ctx);
	}
}

static void reset_ids(struct fcond *fc, void *ctx)
{
	(void)ctx;
	for (size_t k = 0; k < fc->nval; k++)
		fc->val[k].ac_id = -1;
}

void kw_reset_ids(struct rule *r)
{
	rule_each_fcond(r, reset_ids, NULL);
}

struct kw_build_ctx {
	int pass; /* 0 count, 1 byte classes, 2 trie */
	size_t npat, total, ncls, ns, id, node;
	struct kw_automaton *ac;
};

static void kw_visit(struct fcond *fc, void *ctx)
{
	struct kw_build_ctx *b = ctx;
	struct kw_automaton *ac = b->ac;
	int shared = -1;
	for (size_t k = 0; k < fc->nval; k++) {
		struct vmatch *m = &fc->val[k];
		const char *lit;
		size_t ln;
		if (!kw_literal(fc, m, &lit, &ln))
			continue;
		if (b->pass == 0) {
			b->npat++;
			b->total += ln;
		} else if (b->pass == 1) {
			for (size_t j = 0; j < ln; j++) {
				uint8_t c = (uint8_t)lit[j];
				if (!ac->cls[c] && b->ncls < 256)
					ac->cls[c] = (uint8_t)b->ncls++;
			}
		} else {
			uint32_t st = 0;
			for (size_t j = 0; j < ln; j++) {
				uint16_t *e =
				    &ac->delta[st * ac->nclass + ac->cls[(uint8_t)lit[j]]];
				if (!*e)
					*e = (uint16_t)b->ns++;
				st = *e;
			}
			int id;
			if (!fc->all && m->kind == VM_CONTAINS) {
				if (shared < 0)
					shared = (int)b->id++;
				id = shared;
			} else {
				id = (int)b->id++;
			}
			m->ac_id = id;
			ac->out_id[b->node] = id;
			ac->out_next[b->node] = ac->out[st];
			ac->out[st] = (int32_t)b->node++;
			ac->has_out[st] = 1;
		}
	}
}

/* Build one automaton over every keyword literal of the rule set and number them. */
int kw_build(struct rule **rules, size_t n, struct kw_automaton **out)
{
	struct kw_build_ctx b = {0, 0, 1, 1, 1, 0, 0, NULL};
	*out = NULL;
	for (size_t r = 0; r < n; r++) {
		kw_reset_ids(rules[r]);
		rule_each_fcond(rules[r], kw_visit, &b);
	}
	if (b.npat == 0)
		return 0;
	struct kw_automaton *ac = calloc(1, sizeof(*ac));
	if (!ac)
		return -ENOMEM;
	b.ac = ac;
	b.pass = 1; /* byte classes: every byte a pattern uses gets its own, others share 0 */
	for (size_t r = 0; r < n; r++)
		rule_each_fcond(rules[r], kw_visit, &b);
	size_t total = b.total, ncls = b.ncls, npat = b.npat;
	if (ncls > 255 || total >= 65535 || total * ncls > (32u << 20)) {
		free(ac); /* too big to be worth it: matchers fall back to memmem */
		return 0;
	}
	ac->nclass = ncls;
	ac->delta = calloc(total * ncls, sizeof(uint16_t));
	ac->out = malloc(total * sizeof(int32_t));
	ac->out_next = malloc(npat * sizeof(int32_t));
	ac->out_id = malloc(npat * sizeof(int32_t));
	ac->dict = calloc(total, sizeof(uint32_t));
	ac->has_out = calloc(total, 1);
	uint32_t *fail = calloc(total, sizeof(uint32_t));
	uint32_t *queue = malloc(total * sizeof(uint32_t));
	int rc = 0;
	if (!ac->delta || !ac->out || !ac->out_next || !ac->out_id || !ac->dict || !ac->has_out ||
	    !fail || !queue) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < total; i++)
		ac->out[i] = -1;
	b.pass = 2; /* the trie; 0 in delta means "no edge" while building (0 is the root) */
	for (size_t r = 0; r < n; r++)
		rule_each_fcond(rules[r], kw_visit, &b);
	ac->nstates = b.ns;
	ac->npat = npat;
	ac->nids = b.id;
	/* BFS: failure links, full transitions, dictionary links */
	size_t qh = 0, qt = 0;
	for (size_t c = 0; c < ncls; c++) {
		uint16_t t = ac->delta[c];
		if (t) {
			fail[t] = 0;
			queue[qt++] = t;
		}
	}
	while (qh < qt) {
		uint32_t st = queue[qh++];
		uint32_t f = fail[st];
		ac->dict[st] = ac->out[f] >= 0 ? f : ac->dict[f];
		if (ac->has_out[f])
			ac->has_out[st] = 1;
		for (size_t c = 0; c < ncls; c++) {
			uint16_t t = ac->delta[st * ncls + c];
			if (t) {
				fail[t] = ac->delta[f * ncls + c];
				queue[qt++] = t;
			} else {
				ac->delta[st * ncls + c] = ac->delta[f * ncls + c];
			}
		}
	}
out:
	free(fail);
	free(queue);
	if (rc) {
		kw_free(ac);
		for (size_t r = 0; r < n; r++)
			kw_reset_ids(rules[r]);
		return rc;
	}
	*out = ac;
	return 0;
}

static void kw_scan(const struct kw_automaton *ac, uint64_t *bits, const char *p, size_t n)
{
	uint32_t st = 0;
	const size_t nc = ac->nclass;
	for (size_t i = 0; i < n; i++) {
		st = ac->delta[st * nc + ac->cls[(uint8_t)sigma_lower(p[i])]];
		if (!ac->has_out[st])
			continue;
		for (uint32_t q = st; q; q = ac->dict[q])
			for (int32_t o = ac->out[q]; o >= 0; o = ac->out_next[o]) {
				int32_t id = ac->out_id[o];
				bits[id >> 6] |= 1ull << (id & 63);
			}
	}
}

static bool kw_hit(struct scratch *s, int id)
{
	if (s->acgen != s->gen) {
		size_t words = (s->ac->nids + 63) / 64;
		if (words > s->acwords) {
			uint64_t *b = realloc(s->acbits, words * sizeof(*b));
			if (!b)
				return false;
			s->acbits = b;
			s->acwords = words;
		}
		memset(s->acbits, 0, words * sizeof(uint64_t));
		const struct event *ev = s->ev;
		if (ev->message.p)
			kw_scan(s->ac, s->acbits, ev->message.p, ev->message.n);
		if (ev->raw_message.p && ev->raw_message.p != ev->message.p)
			kw_scan(s->ac, s->acbits, ev->raw_message.p, ev->raw_message.n);
		s->acgen = s->gen;
	}
	return (s->acbits[id >> 6] >> (id & 63)) & 1;
}

/* The shared id of a selection that is one ORed list of plain keywords, or -1. */
static int sel_kw_id(const struct sel *sel)
{
	if (sel->nalt != 1 || sel->alt[0].nfc != 1)
		return -1;
	const struct fcond *fc = &sel->alt[0].fc[0];
	if (!fc->keywords || fc->all || fc->neq || fc->nplain != fc->nval || !fc->nval)
		return -1;
	return fc->val[0].ac_id;
}

/* Ids of which one must be set for node n to be true, or 0 if none can be told. */
static size_t node_kw(const struct detection *d, int n, int *ids, int depth)
{
	const struct cnode *c = &d->node[n];
	if (depth > 8)
		return 0;
	switch (c->op) {
	case CN_SEL: {
		int id = sel_kw_id(&d->sel[c->sel]);
		if (id < 0)
			return 0;
		ids[0] = id;
		return 1;
	}
	case CN_AND: {
		size_t k = node_kw(d, c->a, ids, depth + 1);
		return k ? k : node_kw(d, c->b, ids, depth + 1);
	}
	case CN_ALL_OF:
		for (int i = 0; i < c->nsels; i++) {
			int id = sel_kw_id(&d->sel[c->sels[i]]);
			if (id >= 0) {
				ids[0] = id;
				return 1;
			}
		}
		return 0;
	case CN_ONE_OF:
		if (c->nsels > 8)
			return 0;
		for (int i = 0; i < c->nsels; i++)
			if ((ids[i] = sel_kw_id(&d->sel[c->sels[i]])) < 0)
				return 0;
		return (size_t)c->nsels;
	case CN_OR: {
		int a[8], b[8];
		size_t na = node_kw(d, c->a, a, depth + 1), nb = node_kw(d, c->b, b, depth + 1);
		if (!na || !nb || na + nb > 8)
			return 0;
		memcpy(ids, a, na * sizeof(int));
		memcpy(ids + na, b, nb * sizeof(int));
		return na + nb;
	}
	default:
		return 0;
	}
}

void kw_requirements(struct rule *r)
{
	r->nkw_req = 0;
	if (r->nvar == 1 && !r->corr)
		r->nkw_req = node_kw(&r->var[0].det, r->var[0].det.root, r->kw_req, 0);
}

bool kw_pass(struct scratch *s, const struct rule *r)
{
	if (!r->nkw_req || !s->ac)
		return true;
	for (size_t i = 0; i < r->nkw_req; i++)
		if ((size_t)r->kw_req[i] < s->ac->nids && kw_hit(s, r->kw_req[i]))
			return true;
	return false;
}

/* ---- keyword items ---- */

static bool kw_one(struct scratch *s, const struct vmatch *m)
{
	if (m->ac_id >= 0 && s->ac && (size_t)m->ac_id < s->ac->nids) {
		if (!kw_hit(s, m->ac_id))
			return false; /* the literal it needs is in neither text */
		if (m->kind == VM_CONTAINS)
			return true;
	}
	struct fval v;
	field_event(s, EVF_MESSAGE, &v);
	if (v.t != FV_ABSENT && vmatch_scalar(s, m, &v))
		return true;
	if (s->ev->raw_message.p && s->ev->raw_message.p != s->ev->message.p) {
		field_event(s, EVF_RAW_MESSAGE, &v);
		if (v.t != FV_ABSENT && vmatch_scalar(s, m, &v))
			return true;
	}
	return false;
}

bool kw_match(struct scratch *s, const struct fcond *fc)
{
	bool r = fc->all;
	size_t i = 0;
	if (s->ac && !fc->all && fc->nplain && fc->val[0].ac_id >= 0) {
		/* the plain literals share one bit */
		if (kw_one(s, &fc->val[0])) {
			r = true;
			i = fc->nval;
		} else {
			i = fc->nplain;
		}
	}
	for (; i < fc->nval; i++) {
		const struct vmatch *vm = &fc->val[i];
		bool m = kw_one(s, vm);
		if (m != fc->all) {
			r = m;
			break;
		}
	}
	return fc->neq ? !r : r;
}
