/* sigma_prefilter.c — what a compiled rule needs of an event before it is worth evaluating:
 * one of a few event_type, app or os_type values, or data EventIDs, worked out from its
 * selections and condition; the detector indexes rules by them. */
#include <errno.h>
#include <string.h>

#include "detect/sigma_int.h"

static const int pf_fields[3] = {EVF_EVENT_TYPE, EVF_APP, EVF_OS_TYPE};
#define PF_EID 3
#define PF_N 4
#define PF_MAXV 64

struct pfset {
	bool on; /* the field is constrained to vals */
	size_t n;
	const char *v[PF_MAXV];
	size_t vn[PF_MAXV];
};

struct pfc {
	struct pfset f[PF_N];
};

static void pf_union(struct pfset *dst, const struct pfset *a, const struct pfset *b)
{
	/* OR: constrained only when both are; values united */
	struct pfset r = {false, 0, {0}, {0}};
	if (a->on && b->on && a->n + b->n <= PF_MAXV) {
		r = *a;
		for (size_t i = 0; i < b->n; i++) {
			bool dup = false;
			for (size_t j = 0; j < r.n && !dup; j++)
				dup = r.vn[j] == b->vn[i] && !memcmp(r.v[j], b->v[i], b->vn[i]);
			if (!dup) {
				r.v[r.n] = b->v[i];
				r.vn[r.n++] = b->vn[i];
			}
		}
	}
	*dst = r;
}

static void pf_inter(struct pfset *dst, const struct pfset *a, const struct pfset *b)
{
	/* AND: either constraint is necessary; keep the smaller */
	if (a->on && (!b->on || a->n <= b->n))
		*dst = *a;
	else
		*dst = *b;
}

static bool eid_text(const struct vmatch *m)
{
	if (m->kind != VM_EXACT || m->n == 0 || m->n > 9)
		return false;
	for (size_t i = 0; i < m->n; i++)
		if (m->s[i] < '0' || m->s[i] > '9')
			return false;
	return true;
}

static void pf_fcond(const struct fcond *fc, struct pfc *c)
{
	memset(c, 0, sizeof(*c));
	if (fc->keywords || fc->kind != FC_VALUES || fc->neq || fc->or_null || fc->f.ncand != 1 ||
	    fc->nval == 0 || fc->nval > PF_MAXV)
		return;
	const struct field_cand *cand = &fc->f.cand[0];
	int slot = -1;
	for (int i = 0; i < 3; i++)
		if (cand->evf == pf_fields[i])
			slot = i;
	if (cand->evf == EVF_DATA && cand->n == 7 && !memcmp(cand->name, "EventID", 7))
		slot = PF_EID;
	if (slot < 0)
		return;
	struct pfset *s = &c->f[slot];
	for (size_t i = 0; i < fc->nval; i++) {
		const struct vmatch *m = &fc->val[i];
		if (m->kind != VM_EXACT || m->cased || (slot == PF_EID && !eid_text(m)))
			return;
		if (slot != PF_EID && m->is_num)
			return; /* numeric equality is looser than the text index */
		s->v[s->n] = m->s;
		s->vn[s->n++] = m->n;
	}
	s->on = true;
}

static void pf_sel(const struct sel *sel, struct pfc *c)
{
	for (size_t a = 0; a < sel->nalt; a++) {
		struct pfc ac;
		memset(&ac, 0, sizeof(ac));
		for (size_t i = 0; i < sel->alt[a].nfc; i++) {
			struct pfc fcc;
			pf_fcond(&sel->alt[a].fc[i], &fcc);
			for (int f = 0; f < PF_N; f++)
				pf_inter(&ac.f[f], &ac.f[f], &fcc.f[f]);
		}
		if (a == 0) {
			*c = ac;
		} else {
			for (int f = 0; f < PF_N; f++)
				pf_union(&c->f[f], &c->f[f], &ac.f[f]);
		}
	}
}

static void pf_node(const struct detection *d, int n, struct pfc *c, int depth)
{
	memset(c, 0, sizeof(*c));
	if (depth > SIGMA_MAX_DEPTH * 2)
		return;
	const struct cnode *nd = &d->node[n];
	struct pfc a, b;
	switch (nd->op) {
	case CN_AND:
	case CN_OR:
		pf_node(d, nd->a, &a, depth + 1);
		pf_node(d, nd->b, &b, depth + 1);
		for (int f = 0; f < PF_N; f++) {
			if (nd->op == CN_AND)
				pf_inter(&c->f[f], &a.f[f], &b.f[f]);
			else
				pf_union(&c->f[f], &a.f[f], &b.f[f]);
		}
		return;
	case CN_NOT:
		return;
	case CN_SEL:
		pf_sel(&d->sel[nd->sel], c);
		return;
	case CN_ONE_OF:
	case CN_ALL_OF:
		for (int i = 0; i < nd->nsels; i++) {
			pf_sel(&d->sel[nd->sels[i]], &a);
			if (i == 0) {
				*c = a;
				continue;
			}
			for (int f = 0; f < PF_N; f++) {
				if (nd->op == CN_ALL_OF)
					pf_inter(&c->f[f], &c->f[f], &a.f[f]);
				else
					pf_union(&c->f[f], &c->f[f], &a.f[f]);
			}
		}
		return;
	}
}

int prefilter_build(struct rule *r)
{
	struct pfc all, v;
	for (size_t i = 0; i < r->nvar; i++) {
		pf_node(&r->var[i].det, r->var[i].det.root, &v, 0);
		if (r->var[i].logsrc) {
			struct pfc l;
			pf_sel(r->var[i].logsrc, &l);
			for (int f = 0; f < PF_N; f++)
				pf_inter(&v.f[f], &v.f[f], &l.f[f]);
		}
		if (i == 0) {
			all = v;
			continue;
		}
		for (int f = 0; f < PF_N; f++)
			pf_union(&all.f[f], &all.f[f], &v.f[f]);
	}
	r->pf.evf = -1;
	for (int f = 0; f < 3 && r->pf.evf < 0; f++) {
		if (!all.f[f].on)
			continue;
		r->pf.evf = pf_fields[f];
		r->pf.nvals = all.f[f].n;
		r->pf.vals = arena_alloc(&r->a, (all.f[f].n + 1) * sizeof(char *));
		if (!r->pf.vals)
			return -ENOMEM;
		for (size_t k = 0; k < all.f[f].n; k++)
			if (!(r->pf.vals[k] = arena_strndup(&r->a, all.f[f].v[k], all.f[f].vn[k])))
				return -ENOMEM;
	}
	struct pfset *e = &all.f[PF_EID];
	if (e->on) {
		r->pf.eid = arena_alloc(&r->a, (e->n + 1) * sizeof(int64_t));
		if (!r->pf.eid)
			return -ENOMEM;
		for (size_t k = 0; k < e->n; k++) {
			int64_t x = 0;
			for (size_t j = 0; j < e->vn[k]; j++)
				x = x * 10 + (e->v[k][j] - '0');
			r->pf.eid[k] = x;
		}
		r->pf.neid = e->n;
	}
	return 0;
}
