/* correlate.c — Sigma correlation windows per group in event time, bounded (entries, groups
 * with counted eviction, expiry), what each hit adds (new events, value_count's values), and
 * their state as bytes for the detector's state file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"
#include "detect/sigma_int.h"

#define GRACE_US (60 * 1000000LL) /* how late an event may come and still count */
#define VAL_MAX 512		  /* bytes of a group value kept (longer values are cut) */
#define KEY_MAX 8192
#define NONE INT64_MIN
#define VT_LEN 64	/* value_count: bytes of a value's text kept for summaries (with NUL) */
#define VALUES_SHOWN 10 /* values a hit's summary lists */

struct centry {
	int64_t ts;
	uint64_t vh;  /* value_count: hash of the value tuple */
	uint32_t nev; /* events this entry stands for (value_count: repeats of its value) */
	uint8_t id[16];
};

struct cgroup {
	struct cgroup *hnext;	    /* hash chain */
	struct cgroup *prev, *next; /* LRU: most recently fed first */
	uint64_t hash;
	char *key;
	size_t keylen;
	char **vals;
	size_t *valn;
	int64_t start;	 /* close-evaluated windows: first event time */
	int64_t last_ts; /* newest event time seen */
	int64_t count;	 /* close-evaluated windows: events so far */
	size_t n, cap;
	struct centry *e;   /* by time, oldest first */
	char (*vt)[VT_LEN]; /* value_count: each entry's value text, parallel to e */
	int64_t *t1, *t2;   /* temporal: per slot last time; ordered: chain start/end */
	uint8_t (*tid)[16]; /* temporal: per slot id; ordered: chain ids per step */
};

struct cslot {
	const struct rule *ref;
	struct field_ref *group; /* ngroup */
	int *inner;		 /* ngroup: index into the inner correlation's values, or -1 */
	struct field_ref *value; /* nfield */
	int *vinner;
};

struct cstate {
	const struct rule *r;
	const struct corr *c;
	struct arena a;
	struct cslot *slot;
	size_t nslot;
	size_t max_groups, ngroups;
	uint64_t evicted;
	struct cgroup **ht;
	size_t htcap;
	struct cgroup *head, *tail;
	uint8_t (*idbuf)[16];			      /* ids of a hit */
	char valbuf[VALUES_SHOWN * (VT_LEN + 2) + 8]; /* a value_count hit's values */
};

/* ---- buffers ---- */

void wb_put(struct wbuf *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->n) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap - w->n < n) {
			if (cap > ((size_t)1 << 40)) {
				w->err = -E2BIG;
				return;
			}
			cap *= 2;
		}
		uint8_t *q = realloc(w->p, cap);
		if (!q) {
			w->err = -ENOMEM;
			return;
		}
		w->p = q;
		w->cap = cap;
	}
	memcpy(w->p + w->n, p, n);
	w->n += n;
}

void wb_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	wb_put(w, b, 4);
}

void wb_u64(struct wbuf *w, uint64_t v)
{
	wb_u32(w, (uint32_t)v);
	wb_u32(w, (uint32_t)(v >> 32));
}

void wb_str(struct wbuf *w, const char *s, size_t n)
{
	wb_u32(w, (uint32_t)n);
	wb_put(w, s, n);
}

const uint8_t *rb_get(struct rbuf *r, size_t n)
{
	if (r->err || n > r->n - r->pos) {
		r->err = SIEM_EPARSE;
		return NULL;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += n;
	return p;
}

uint32_t rb_u32(struct rbuf *r)
{
	const uint8_t *b = rb_get(r, 4);
	if (!b)
		return 0;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t rb_u64(struct rbuf *r)
{
	uint64_t lo = rb_u32(r);
	return lo | (uint64_t)rb_u32(r) << 32;
}

const char *rb_str(struct rbuf *r, size_t *n)
{
	*n = rb_u32(r);
	if (*n > (1u << 24)) {
		r->err = SIEM_EPARSE;
		return NULL;
	}
	return (const char *)rb_get(r, *n);
}

/* ---- setup ---- */

static const char *alias_field(const struct corr *c, const char *name, const struct rule *ref)
{
	for (size_t i = 0; i < c->nalias; i++) {
		const struct corr_alias *al = &c->alias[i];
		if (strcmp(al->name, name))
			continue;
		for (size_t k = 0; k < al->n; k++)
			if ((ref->info.name && !strcmp(al->rule[k], ref->info.name)) ||
			    (ref->info.id && !strcmp(al->rule[k], ref->info.id)))
				return al->field[k];
	}
	return name;
}

static int slot_fields(struct cstate *cs, struct cslot *sl, const char **names, size_t n,
		       struct field_ref **refs, int **inner, char *err, size_t errlen)
{
	const struct rule *ref = sl->ref;
	struct cctx cc = {&cs->a, err, errlen, NULL, ref->map, false, NULL};
	if (ref->nvar)
		cc.ls = ref->var[0].ls;
	*refs = arena_alloc(&cs->a, (n ? n : 1) * sizeof(**refs));
	*inner = arena_alloc(&cs->a, (n ? n : 1) * sizeof(**inner));
	if (!*refs || !*inner)
		return -ENOMEM;
	for (size_t g = 0; g < n; g++) {
		const char *f = alias_field(cs->c, names[g], ref);
		(*inner)[g] = -1;
		if (ref->corr)
			for (size_t k = 0; k < ref->corr->ngroup; k++)
				if (!strcmp(ref->corr->group[k], f))
					(*inner)[g] = (int)k;
		int rc = field_ref_compile(&cc, &(*refs)[g], f, strlen(f));
		if (rc)
			return rc;
	}
	return 0;
}

int cstate_new(const struct rule *r, const struct rule *const *refs, size_t max_groups,
	       struct cstate **out, char *err, size_t errlen)
{
	const struct corr *c = r->corr;
	struct cstate *cs = calloc(1, sizeof(*cs));
	int rc = 0;
	if (!cs)
		return -ENOMEM;
	arena_init(&cs->a, 0);
	cs->r = r;
	cs->c = c;
	cs->max_groups = max_groups ? max_groups : 10000;
	cs->nslot = c->nrefs;
	cs->htcap = 64;
	while (cs->htcap < cs->max_groups && cs->htcap < (1u << 20))
		cs->htcap *= 2;
	cs->ht = calloc(cs->htcap, sizeof(*cs->ht));
	cs->slot = arena_alloc(&cs->a, c->nrefs * sizeof(*cs->slot));
	size_t nid = (size_t)(c->keep > SIGMA_MAX_IDS ? SIGMA_MAX_IDS : c->keep) + c->nrefs;
	cs->idbuf = arena_alloc(&cs->a, (nid + 1) * 16);
	if (!cs->ht || !cs->slot || !cs->idbuf) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < c->nrefs; k++) {
		struct cslot *sl = &cs->slot[k];
		memset(sl, 0, sizeof(*sl));
		sl->ref = refs[k];
		if ((rc = slot_fields(cs, sl, c->group, c->ngroup, &sl->group, &sl->inner, err,
				      errlen)) ||
		    (rc = slot_fields(cs, sl, c->field, c->nfield, &sl->value, &sl->vinner, err,
				      errlen)))
			goto out;
	}
out:
	if (rc) {
		cstate_free(cs);
		return rc;
	}
	*out = cs;
	return 0;
}

static void group_free(struct cgroup *g)
{
	free(g->e);
	free(g->vt);
	free(g);
}

void cstate_free(struct cstate *cs)
{
	if (!cs)
		return;
	for (struct cgroup *g = cs->head, *n; g; g = n) {
		n = g->next;
		group_free(g);
	}
	free(cs->ht);
	arena_release(&cs->a);
	free(cs);
}

void cstate_clear(struct cstate *cs)
{
	for (struct cgroup *g = cs->head, *n; g; g = n) {
		n = g->next;
		group_free(g);
	}
	memset(cs->ht, 0, cs->htcap * sizeof(*cs->ht));
	cs->head = cs->tail = NULL;
	cs->ngroups = 0;
	cs->evicted = 0;
}

size_t cstate_ngroups(const struct cstate *cs)
{
	return cs->ngroups;
}

uint64_t cstate_evicted(const struct cstate *cs)
{
	return cs->evicted;
}

const struct rule *cstate_rule(const struct cstate *cs)
{
	return cs->r;
}

bool cstate_refers(const struct cstate *cs, const struct rule *r)
{
	for (size_t k = 0; k < cs->nslot; k++)
		if (cs->slot[k].ref == r)
			return true;
	return false;
}

/* ---- groups ---- */

static void lru_unlink(struct cstate *cs, struct cgroup *g)
{
	if (g->prev)
		g->prev->next = g->next;
	else
		cs->head = g->next;
	if (g->next)
		g->next->prev = g->prev;
	else
		cs->tail = g->prev;
	g->prev = g->next = NULL;
}

static void lru_front(struct cstate *cs, struct cgroup *g)
{
	g->next = cs->head;
	g->prev = NULL;
	if (cs->head)
		cs->head->prev = g;
	cs->head = g;
	if (!cs->tail)
		cs->tail = g;
}

static void group_remove(struct cstate *cs, struct cgroup *g)
{
	struct cgroup **pp = &cs->ht[g->hash & (cs->htcap - 1)];
	while (*pp && *pp != g)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = g->hnext;
	lru_unlink(cs, g);
	cs->ngroups--;
	group_free(g);
}

static size_t nslots_mem(const struct corr *c)
{
	return c->type == CT_TEMPORAL_ORDERED ? c->nrefs * (c->nrefs + 1) / 2 : c->nrefs;
}

static void group_clear(const struct corr *c, struct cgroup *g)
{
	g->n = 0;
	g->count = 0;
	g->start = NONE;
	if (c->type == CT_TEMPORAL || c->type == CT_TEMPORAL_ORDERED)
		for (size_t k = 0; k < c->nrefs; k++)
			g->t1[k] = g->t2[k] = NONE;
}

/* One allocation: the group, its key, its values, its temporal slots. */
static struct cgroup *group_new(struct cstate *cs, uint64_t h, const char *key, size_t keylen,
				size_t nvals, const char *const *vals, const size_t *valn)
{
	const struct corr *c = cs->c;
	size_t vbytes = 0;
	for (size_t i = 0; i < nvals; i++)
		vbytes += valn[i] + 1;
	size_t tmem = (c->type == CT_TEMPORAL || c->type == CT_TEMPORAL_ORDERED) ? c->nrefs : 0;
	size_t idmem = tmem ? nslots_mem(c) : 0;
	size_t sz = sizeof(struct cgroup) + idmem * 16 + tmem * 16 +
		    nvals * (sizeof(char *) + sizeof(size_t)) + keylen + 1 + vbytes + 16;
	struct cgroup *g = calloc(1, sz);
	if (!g)
		return NULL;
	uint8_t *p = (uint8_t *)(g + 1);
	g->tid = (uint8_t(*)[16])p;
	p += idmem * 16;
	g->t1 = (int64_t *)p;
	g->t2 = g->t1 + tmem;
	p += tmem * 16;
	g->vals = (char **)p;
	p += nvals * sizeof(char *);
	g->valn = (size_t *)p;
	p += nvals * sizeof(size_t);
	g->key = (char *)p;
	memcpy(g->key, key, keylen);
	g->key[keylen] = '\0';
	g->keylen = keylen;
	p += keylen + 1;
	for (size_t i = 0; i < nvals; i++) {
		g->vals[i] = (char *)p;
		memcpy(p, vals[i], valn[i]);
		p[valn[i]] = '\0';
		g->valn[i] = valn[i];
		p += valn[i] + 1;
	}
	g->hash = h;
	g->last_ts = NONE;
	group_clear(c, g);
	return g;
}

static struct cgroup *group_get(struct cstate *cs, const char *key, size_t keylen, size_t nvals,
				const char *const *vals, const size_t *valn, bool create)
{
	uint64_t h = hash_bytes(key, keylen);
	struct cgroup *g = cs->ht[h & (cs->htcap - 1)];
	for (; g; g = g->hnext)
		if (g->hash == h && g->keylen == keylen && !memcmp(g->key, key, keylen))
			break;
	if (g) {
		lru_unlink(cs, g);
		lru_front(cs, g);
		return g;
	}
	if (!create)
		return NULL;
	if (cs->ngroups >= cs->max_groups && cs->tail) {
		group_remove(cs, cs->tail);
		cs->evicted++;
	}
	g = group_new(cs, h, key, keylen, nvals, vals, valn);
	if (!g)
		return NULL;
	g->hnext = cs->ht[h & (cs->htcap - 1)];
	cs->ht[h & (cs->htcap - 1)] = g;
	lru_front(cs, g);
	cs->ngroups++;
	return g;
}

void cstate_expire(struct cstate *cs, int64_t watermark)
{
	int64_t limit = watermark - cs->c->span_us - GRACE_US;
	while (cs->tail && cs->tail->last_ts != NONE && cs->tail->last_ts < limit)
		group_remove(cs, cs->tail);
}

/* ---- windows ---- */

static bool entries_grow(struct cgroup *g, int64_t keep, bool text)
{
	size_t cap = g->cap ? g->cap * 2 : 4;
	if ((int64_t)cap > keep)
		cap = (size_t)keep;
	struct centry *e = realloc(g->e, cap * sizeof(*e));
	if (!e)
		return false;
	g->e = e;
	if (text) {
		char(*vt)[VT_LEN] = realloc(g->vt, cap * sizeof(*vt));
		if (!vt)
			return false;
		g->vt = vt;
	}
	g->cap = cap;
	return true;
}

/* Move entries [from, from + n) to start at to (and their texts). */
static void entries_move(struct cgroup *g, size_t to, size_t from, size_t n)
{
	memmove(&g->e[to], &g->e[from], n * sizeof(g->e[0]));
	if (g->vt)
		memmove(&g->vt[to], &g->vt[from], n * sizeof(g->vt[0]));
}

/* Insert an entry in time order; vt is value_count's value text (NULL for other types). */
static void entry_insert(struct cgroup *g, int64_t keep, int64_t ts, uint64_t vh, const uint8_t *id,
			 uint32_t nev, const char *vt)
{
	size_t i = g->n;
	while (i > 0 && g->e[i - 1].ts > ts)
		i--;
	if ((int64_t)g->n >= keep) {
		if (i == 0)
			return; /* older than everything kept: not needed */
		entries_move(g, 0, 1, i - 1);
		i--;
		g->n--;
	} else if (g->n == g->cap && !entries_grow(g, keep, vt != NULL)) {
		return;
	}
	entries_move(g, i + 1, i, g->n - i);
	g->e[i].ts = ts;
	g->e[i].vh = vh;
	g->e[i].nev = nev;
	memcpy(g->e[i].id, id, 16);
	if (vt && g->vt)
		snprintf(g->vt[i], VT_LEN, "%s", vt);
	g->n++;
}

static void entries_drop_before(struct cgroup *g, int64_t t)
{
	size_t k = 0;
	while (k < g->n && g->e[k].ts < t)
		k++;
	if (k) {
		entries_move(g, 0, k, g->n - k);
		g->n -= k;
	}
}

/* Events behind the entries (each at least one). */
static int64_t entries_events(const struct cgroup *g)
{
	int64_t n = 0;
	for (size_t i = 0; i < g->n; i++)
		n += g->e[i].nev ? g->e[i].nev : 1;
	return n;
}

/* value_count: the distinct values of the window, oldest first, "a, b, …" past
 * VALUES_SHOWN; NULL for other types. */
static const char *entries_values(struct cstate *cs, const struct cgroup *g)
{
	if (cs->c->type != CT_VALUE_COUNT || !g->vt)
		return NULL;
	size_t n = 0, cap = sizeof(cs->valbuf);
	for (size_t i = 0; i < g->n; i++) {
		const char *v = g->vt[i];
		size_t vn = strlen(v);
		if (i == VALUES_SHOWN) {
			memcpy(cs->valbuf + n, ", \xe2\x80\xa6", 5);
			n += 5;
			break;
		}
		if (i) {
			memcpy(cs->valbuf + n, ", ", 2);
			n += 2;
		}
		if (vn > cap - n - 8)
			vn = cap - n - 8;
		memcpy(cs->valbuf + n, v, vn);
		n += vn;
	}
	cs->valbuf[n] = '\0';
	return cs->valbuf;
}

static bool cond_holds(const struct corr_cond *cd, int64_t n)
{
	if (cd->has_lo && n < cd->lo)
		return false;
	if (cd->has_hi && n > cd->hi)
		return false;
	if (cd->has_neq && n == cd->neq)
		return false;
	return true;
}

struct fire_ctx {
	struct cstate *cs;
	struct cgroup *g;
	corr_fire_fn fire;
	void *ctx;
};

static void fire_hit(struct fire_ctx *f, int64_t first, int64_t last, int64_t count, size_t nids,
		     int64_t new_events, const char *values)
{
	const struct corr *c = f->cs->c;
	struct corr_hit h = {f->g->key,	 first,
			     last,	 count,
			     nids,	 (const uint8_t(*)[16])f->cs->idbuf,
			     c->ngroup,	 (const char *const *)f->g->vals,
			     f->g->valn, c->group,
			     new_events, values};
	f->fire(f->ctx, f->cs, &h);
}

static size_t ids_of_entries(struct cstate *cs, const struct cgroup *g, size_t from)
{
	size_t k = 0;
	for (size_t i = from; i < g->n && k < SIGMA_MAX_IDS; i++)
		memcpy(cs->idbuf[k++], g->e[i].id, 16);
	return k;
}

/* Sliding window anchored at the newest event: the events no more than span before it. A
 * hit consumes the window, so every event in a hit's window is new to the group's hits. */
static void count_sliding(struct fire_ctx *f, const struct corr_input *in, uint64_t vh,
			  const char *vt)
{
	struct cstate *cs = f->cs;
	const struct corr *c = cs->c;
	struct cgroup *g = f->g;
	uint32_t nev = 1;
	if (c->type == CT_VALUE_COUNT) {
		/* one entry per value, with its newest time and how many events had it */
		size_t i = 0;
		while (i < g->n && g->e[i].vh != vh)
			i++;
		if (i < g->n) {
			if (g->e[i].nev < UINT32_MAX)
				g->e[i].nev++;
			if (g->e[i].ts >= in->ts)
				goto evaluate;
			nev = g->e[i].nev;
			entries_move(g, i, i + 1, g->n - i - 1);
			g->n--;
		}
	}
	entry_insert(g, c->keep, in->ts, vh, in->id, nev, vt);
evaluate:;
	int64_t anchor = g->n ? g->e[g->n - 1].ts : in->ts;
	entries_drop_before(g, anchor - c->span_us);
	int64_t n = (int64_t)g->n; /* value_count keeps one entry per value */
	if (!g->n || !cond_holds(&c->cond, n))
		return;
	size_t nids = ids_of_entries(cs, g, 0);
	int64_t first = g->e[0].ts, last = g->e[g->n - 1].ts;
	int64_t fresh = entries_events(g);
	const char *values = entries_values(cs, g);
	g->n = 0; /* the window is consumed: the next hit needs new events */
	fire_hit(f, first, last, n, nids, fresh, values);
}

/* Tumbling window from a group's first event, judged when an event falls after it; a hit
 * clears it, so all of its events are new. */
static void count_closing(struct fire_ctx *f, const struct corr_input *in, uint64_t vh,
			  const char *vt)
{
	struct cstate *cs = f->cs;
	const struct corr *c = cs->c;
	struct cgroup *g = f->g;
	if (g->start != NONE && in->ts > g->start + c->span_us) {
		int64_t n = c->type == CT_VALUE_COUNT ? (int64_t)g->n : g->count;
		if (g->n && cond_holds(&c->cond, n)) {
			size_t nids = ids_of_entries(cs, g, 0);
			int64_t first = g->start, last = g->e[g->n - 1].ts;
			int64_t fresh = g->count;
			const char *values = entries_values(cs, g);
			group_clear(c, g);
			fire_hit(f, first, last, n, nids, fresh, values);
		} else {
			group_clear(c, g);
		}
	}
	if (g->start == NONE)
		g->start = in->ts;
	g->count++;
	if (c->type == CT_VALUE_COUNT) {
		for (size_t i = 0; i < g->n; i++)
			if (g->e[i].vh == vh) {
				if (g->e[i].nev < UINT32_MAX)
					g->e[i].nev++;
				return;
			}
	}
	entry_insert(g, c->keep, in->ts, vh, in->id, 1, vt);
}

static void temporal(struct fire_ctx *f, const struct corr_input *in, size_t slot)
{
	struct cstate *cs = f->cs;
	const struct corr *c = cs->c;
	struct cgroup *g = f->g;
	if (g->t1[slot] == NONE || in->ts > g->t1[slot]) {
		g->t1[slot] = in->ts;
		memcpy(g->tid[slot], in->id, 16);
	}
	int64_t anchor = NONE;
	for (size_t k = 0; k < c->nrefs; k++)
		if (g->t1[k] > anchor)
			anchor = g->t1[k];
	int64_t n = 0, first = anchor;
	for (size_t k = 0; k < c->nrefs; k++)
		if (g->t1[k] != NONE && g->t1[k] >= anchor - c->span_us) {
			n++;
			if (g->t1[k] < first)
				first = g->t1[k];
		}
	if (!cond_holds(&c->cond, n))
		return;
	/* ids in time order */
	size_t nids = 0;
	bool used[64] = {false};
	for (size_t r = 0; r < (size_t)n; r++) {
		size_t best = c->nrefs;
		for (size_t k = 0; k < c->nrefs; k++)
			if (!used[k] && g->t1[k] != NONE && g->t1[k] >= anchor - c->span_us &&
			    (best == c->nrefs || g->t1[k] < g->t1[best]))
				best = k;
		if (best == c->nrefs)
			break;
		used[best] = true;
		memcpy(cs->idbuf[nids++], g->tid[best], 16);
	}
	group_clear(c, g);
	fire_hit(f, first, anchor, n, nids, n, NULL);
}

/* Ordered: for each step k the partial chain through k with the latest start; the ids of
 * chain k live at tid[k*(k+1)/2 .. +k]. */
static void ordered(struct fire_ctx *f, const struct corr_input *in, size_t k)
{
	struct cstate *cs = f->cs;
	const struct corr *c = cs->c;
	struct cgroup *g = f->g;
	int64_t start, end = in->ts;
	uint8_t(*dst)[16] = &g->tid[k * (k + 1) / 2];
	if (k == 0) {
		start = in->ts;
	} else {
		if (g->t1[k - 1] == NONE || g->t2[k - 1] > in->ts ||
		    in->ts - g->t1[k - 1] > c->span_us)
			return;
		start = g->t1[k - 1];
	}
	if (g->t1[k] != NONE && (start < g->t1[k] || (start == g->t1[k] && end >= g->t2[k])))
		return;
	if (k > 0)
		memcpy(dst, &g->tid[(k - 1) * k / 2], k * 16);
	memcpy(dst[k], in->id, 16);
	g->t1[k] = start;
	g->t2[k] = end;
	if (k + 1 < c->nrefs)
		return;
	size_t nids = c->nrefs < SIGMA_MAX_IDS ? c->nrefs : SIGMA_MAX_IDS;
	memcpy(cs->idbuf, dst, nids * 16);
	group_clear(c, g);
	fire_hit(f, start, end, (int64_t)c->nrefs, nids, (int64_t)c->nrefs, NULL);
}

/* ---- value_sum, value_avg, value_percentile ---- */

static bool num_holds(const struct corr *c, double x)
{
	for (size_t i = 0; i < c->nnum; i++) {
		double v = c->num[i].v;
		bool ok = false;
		switch (c->num[i].op) {
		case 0:
			ok = x > v;
			break;
		case 1:
			ok = x >= v;
			break;
		case 2:
			ok = x < v;
			break;
		case 3:
			ok = x <= v;
			break;
		case 4:
			ok = x == v;
			break;
		default:
			ok = x != v;
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

static double entry_num(const struct centry *e)
{
	double d;
	memcpy(&d, &e->vh, sizeof(d));
	return d;
}

/* The sum or average of the window's values ("%g" in buf for the summary's {values}). */
static double aggregate(const struct corr *c, const struct cgroup *g, char *buf, size_t cap)
{
	double sum = 0;
	for (size_t i = 0; i < g->n; i++)
		sum += entry_num(&g->e[i]);
	double x = c->type == CT_VALUE_AVG && g->n ? sum / (double)g->n : sum;
	snprintf(buf, cap, "%g", x);
	return x;
}

/* value_sum / value_avg: a sliding window ending at the newest event, consumed by a hit
 * (lower bounds), or a window from the group's first event judged when it is over (upper
 * bounds), as event_count's. */
static void value_window(struct fire_ctx *f, const struct corr_input *in, uint64_t bits)
{
	struct cstate *cs = f->cs;
	const struct corr *c = cs->c;
	struct cgroup *g = f->g;
	double x;
	if (c->close_eval) {
		if (g->start != NONE && in->ts > g->start + c->span_us) {
			x = aggregate(c, g, cs->valbuf, sizeof(cs->valbuf));
			if (g->n && num_holds(c, x)) {
				size_t nids = ids_of_entries(cs, g, 0);
				int64_t first = g->start, last = g->e[g->n - 1].ts, n = g->count;
				group_clear(c, g);
				fire_hit(f, first, last, n, nids, n, cs->valbuf);
			} else {
				group_clear(c, g);
			}
		}
		if (g->start == NONE)
			g->start = in->ts;
		g->count++;
		entry_insert(g, c->keep, in->ts, bits, in->id, 1, NULL);
		return;
	}
	entry_insert(g, c->keep, in->ts, bits, in->id, 1, NULL);
	int64_t anchor = g->n ? g->e[g->n - 1].ts : in->ts;
	entries_drop_before(g, anchor - c->span_us);
	x = aggregate(c, g, cs->valbuf, sizeof(cs->valbuf));
	if (!g->n || !num_holds(c, x))
		return;
	size_t nids = ids_of_entries(cs, g, g->n > SIGMA_MAX_IDS ? g->n - SIGMA_MAX_IDS : 0);
	int64_t first = g->e[0].ts, last = g->e[g->n - 1].ts, n = (int64_t)g->n;
	g->n = 0;
	fire_hit(f, first, last, n, nids, n, cs->valbuf);
}

/* value_percentile: the share (in percent) of the group's events in the window whose value
 * is this event's; each event whose share meets the condition (lte: 1, a value seen in at
 * most 1 % of them) is a hit of its own, and the window stays as the baseline. */
static void value_share(struct fire_ctx *f, const struct corr_input *in, uint64_t vh)
{
	struct cstate *cs = f->cs;
	const struct corr *c = cs->c;
	struct cgroup *g = f->g;
	entry_insert(g, c->keep, in->ts, vh, in->id, 1, NULL);
	int64_t anchor = g->e[g->n - 1].ts;
	entries_drop_before(g, anchor - c->span_us);
	size_t same = 0;
	for (size_t i = 0; i < g->n; i++)
		same += g->e[i].vh == vh;
	if (!g->n || in->ts < anchor - c->span_us)
		return;
	double share = 100.0 * (double)same / (double)g->n;
	if (!num_holds(c, share))
		return;
	snprintf(cs->valbuf, sizeof(cs->valbuf), "%.3g%% of %zu", share, g->n);
	memcpy(cs->idbuf[0], in->id, 16);
	fire_hit(f, in->ts, in->ts, (int64_t)g->n, 1, 1, cs->valbuf);
}

/* The text of one group or value field for slot k, or false when absent. */
static bool slot_value(struct scratch *s, const struct corr_input *in, const struct field_ref *fr,
		       int inner, const char **p, size_t *n)
{
	if (inner >= 0 && (size_t)inner < in->nvals) {
		*p = in->vals[inner];
		*n = in->valn[inner];
		return true;
	}
	struct fval v;
	field_get(s, fr, &v);
	if (v.t == FV_ABSENT || v.t == FV_NULL)
		return false;
	*p = v.p;
	*n = v.n > VAL_MAX ? VAL_MAX : v.n;
	return true;
}

static void feed_slot(struct cstate *cs, struct scratch *s, const struct corr_input *in, size_t k,
		      corr_fire_fn fire, void *ctx)
{
	const struct corr *c = cs->c;
	const struct cslot *sl = &cs->slot[k];
	const char *vals[16];
	size_t valn[16];
	char key[KEY_MAX];
	size_t kn = 0;
	for (size_t g = 0; g < c->ngroup; g++) {
		if (!slot_value(s, in, &sl->group[g], sl->inner[g], &vals[g], &valn[g]))
			return; /* no value to group by: not correlated */
		size_t nl = strlen(c->group[g]);
		if (kn + nl + valn[g] + 2 > sizeof(key))
			return;
		if (g)
			key[kn++] = ',';
		memcpy(key + kn, c->group[g], nl);
		kn += nl;
		key[kn++] = '=';
		memcpy(key + kn, vals[g], valn[g]);
		kn += valn[g];
	}
	uint64_t vh = 0;
	char vt[VT_LEN];
	size_t vtn = 0;
	if (c->type == CT_VALUE_COUNT) {
		vh = HASH_FNV_OFFSET;
		for (size_t i = 0; i < c->nfield; i++) {
			const char *p;
			size_t n;
			if (!slot_value(s, in, &sl->value[i], sl->vinner[i], &p, &n))
				return; /* nothing to count */
			/* case-insensitive like Sigma's string matching */
			for (size_t j = 0; j < n; j++) {
				char ch = sigma_lower(p[j]);
				vh = hash_cont(vh, &ch, 1);
			}
			vh = hash_cont(vh, "\x1f", 1);
			/* the text shown: the values joined by '/', cut at a character */
			if (i && vtn < sizeof(vt) - 1)
				vt[vtn++] = '/';
			size_t take = n < sizeof(vt) - 1 - vtn ? n : sizeof(vt) - 1 - vtn;
			while (take < n && take && ((unsigned char)p[take] & 0xc0) == 0x80)
				take--;
			memcpy(vt + vtn, p, take);
			vtn += take;
		}
	}
	vt[vtn] = '\0';
	if (c->type >= CT_VALUE_SUM) {
		const char *p;
		size_t n;
		double d;
		if (!slot_value(s, in, &sl->value[0], sl->vinner[0], &p, &n))
			return; /* nothing to add up */
		if (c->type == CT_VALUE_PERCENTILE) {
			vh = HASH_FNV_OFFSET;
			for (size_t j = 0; j < n; j++) {
				char ch = sigma_lower(p[j]);
				vh = hash_cont(vh, &ch, 1);
			}
		} else if (sigma_parse_number(p, n, &d)) {
			memcpy(&vh, &d, sizeof(vh));
		} else {
			return; /* not a number */
		}
	}
	/* a later step of an ordered chain never starts a group: only the first step does */
	bool create = !(c->type == CT_TEMPORAL_ORDERED && k > 0);
	struct cgroup *g = group_get(cs, key, kn, c->ngroup, vals, valn, create);
	if (!g)
		return;
	if (g->last_ts == NONE || in->ts > g->last_ts)
		g->last_ts = in->ts;
	struct fire_ctx f = {cs, g, fire, ctx};
	switch (c->type) {
	case CT_EVENT_COUNT:
	case CT_VALUE_COUNT:
		if (c->close_eval)
			count_closing(&f, in, vh, c->type == CT_VALUE_COUNT ? vt : NULL);
		else
			count_sliding(&f, in, vh, c->type == CT_VALUE_COUNT ? vt : NULL);
		break;
	case CT_TEMPORAL:
		temporal(&f, in, k);
		break;
	case CT_TEMPORAL_ORDERED:
		ordered(&f, in, k);
		break;
	case CT_VALUE_SUM:
	case CT_VALUE_AVG:
		value_window(&f, in, vh);
		break;
	case CT_VALUE_PERCENTILE:
		value_share(&f, in, vh);
		break;
	}
}

void cstate_feed(struct cstate *cs, struct scratch *s, const struct corr_input *in,
		 corr_fire_fn fire, void *ctx)
{
	if (cs->c->type == CT_TEMPORAL_ORDERED) {
		/* descending: one event never advances a chain by two steps */
		for (size_t k = cs->nslot; k-- > 0;)
			if (cs->slot[k].ref == in->from)
				feed_slot(cs, s, in, k, fire, ctx);
		return;
	}
	/* a rule listed twice counts once */
	for (size_t k = 0; k < cs->nslot; k++)
		if (cs->slot[k].ref == in->from) {
			feed_slot(cs, s, in, k, fire, ctx);
			return;
		}
}

/* ---- persistence ---- */

void cstate_save(const struct cstate *cs, struct wbuf *w)
{
	const struct corr *c = cs->c;
	size_t tmem = (c->type == CT_TEMPORAL || c->type == CT_TEMPORAL_ORDERED) ? c->nrefs : 0;
	size_t idmem = tmem ? nslots_mem(c) : 0;
	wb_u64(w, cs->evicted);
	wb_u32(w, (uint32_t)cs->ngroups);
	/* oldest first, so loading rebuilds the same LRU order */
	for (const struct cgroup *g = cs->tail; g; g = g->prev) {
		wb_str(w, g->key, g->keylen);
		wb_u32(w, (uint32_t)c->ngroup);
		for (size_t i = 0; i < c->ngroup; i++)
			wb_str(w, g->vals[i], g->valn[i]);
		wb_u64(w, (uint64_t)g->start);
		wb_u64(w, (uint64_t)g->last_ts);
		wb_u64(w, (uint64_t)g->count);
		wb_u32(w, (uint32_t)g->n);
		for (size_t i = 0; i < g->n; i++) {
			wb_u64(w, (uint64_t)g->e[i].ts);
			wb_u64(w, g->e[i].vh);
			wb_put(w, g->e[i].id, 16);
			wb_u32(w, g->e[i].nev);
			const char *vt = g->vt ? g->vt[i] : "";
			wb_str(w, vt, strlen(vt));
		}
		wb_u32(w, (uint32_t)tmem);
		for (size_t i = 0; i < tmem; i++) {
			wb_u64(w, (uint64_t)g->t1[i]);
			wb_u64(w, (uint64_t)g->t2[i]);
		}
		wb_u32(w, (uint32_t)idmem);
		for (size_t i = 0; i < idmem; i++)
			wb_put(w, g->tid[i], 16);
	}
}

int cstate_load(struct cstate *cs, struct rbuf *r, int version)
{
	bool text = cs->c->type == CT_VALUE_COUNT;
	const struct corr *c = cs->c;
	size_t tmem = (c->type == CT_TEMPORAL || c->type == CT_TEMPORAL_ORDERED) ? c->nrefs : 0;
	size_t idmem = tmem ? nslots_mem(c) : 0;
	uint64_t evicted = rb_u64(r);
	uint32_t ng = rb_u32(r);
	for (uint32_t i = 0; i < ng && !r->err; i++) {
		size_t kn;
		const char *key = rb_str(r, &kn);
		uint32_t nv = rb_u32(r);
		if (r->err || nv != c->ngroup || nv > 16 || kn > KEY_MAX)
			return SIEM_EPARSE;
		const char *vals[16];
		size_t valn[16];
		for (uint32_t v = 0; v < nv; v++)
			vals[v] = rb_str(r, &valn[v]);
		int64_t start = (int64_t)rb_u64(r), last = (int64_t)rb_u64(r);
		int64_t count = (int64_t)rb_u64(r);
		uint32_t n = rb_u32(r);
		if (r->err || (int64_t)n > c->keep || n > r->n)
			return SIEM_EPARSE;
		struct cgroup *g = group_get(cs, key, kn, nv, vals, valn, true);
		if (!g)
			return -ENOMEM;
		g->start = start;
		g->last_ts = last;
		g->count = count;
		g->n = 0;
		for (uint32_t e = 0; e < n && !r->err; e++) {
			int64_t ts = (int64_t)rb_u64(r);
			uint64_t vh = rb_u64(r);
			const uint8_t *id = rb_get(r, 16);
			uint32_t nev = 1;
			char vt[VT_LEN] = "";
			if (version >= 2) {
				size_t vn;
				nev = rb_u32(r);
				const char *v = rb_str(r, &vn);
				if (v && vn < VT_LEN) {
					memcpy(vt, v, vn);
					vt[vn] = '\0';
				}
			}
			if (id && !r->err)
				entry_insert(g, c->keep, ts, vh, id, nev ? nev : 1,
					     text ? vt : NULL);
		}
		if (rb_u32(r) != tmem)
			return SIEM_EPARSE;
		for (size_t t = 0; t < tmem; t++) {
			g->t1[t] = (int64_t)rb_u64(r);
			g->t2[t] = (int64_t)rb_u64(r);
		}
		if (rb_u32(r) != idmem)
			return SIEM_EPARSE;
		for (size_t t = 0; t < idmem; t++) {
			const uint8_t *id = rb_get(r, 16);
			if (id)
				memcpy(g->tid[t], id, 16);
		}
	}
	cs->evicted += evicted;
	return r->err ? SIEM_EPARSE : 0;
}
