/* detector.c — the engine: rule set indexed by logsource, the evaluation loop feeding
 * correlations and new-value memories and reporting hits (with their group key, summary and
 * new events), per-rule match counts, rule-set swaps that keep windows, the state file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "detect/sigma_int.h"

#define SUB "detect"
#define STATE_MAGIC_V1 "MSCORR1\n" /* correlation windows only */
#define STATE_MAGIC "MSCORR2\n"	   /* and entries' event counts and values, new-value memories */
#define STATE_VERSION 2
#define STATE_MAX (256u << 20)
#define LATE_CLOCK_US (300 * 1000000LL) /* event times this far past arrival are not trusted */
#define EXPIRE_EVERY_US (10 * 1000000LL)
#define MAX_CHAIN 32
#define IVAL_MAX 256
#define EVF_EID (EVF_COUNT + 1) /* index key: data EventID, for rules that need one */

struct ibucket {
	int evf; /* -1: empty slot */
	const char *v;
	size_t n;
	uint64_t h;
	int *idx;
	size_t nidx, cap;
};

struct detect_set {
	struct rule **r;
	size_t n, ndet, ncorr;
	struct ibucket *bk;
	size_t bkcap;
	int *unidx;
	size_t nunidx;
	struct ugates ug; /* the unindexed rules by their logsource */
	struct kw_automaton *ac;
	bool has_eid;	     /* some rules are indexed by EventID */
	struct cstate **cs;  /* per rule: its state when a correlation */
	struct nvstate **nv; /* per rule: its memory when a new-value rule */
	int **users;	     /* per rule: the correlations that refer to it */
	size_t *nusers;
	_Atomic uint64_t *matches; /* per rule: matches (correlations: hits) */
};

/* A record of the state file waiting for its rule's first rule set. */
struct pending {
	char *id;
	uint32_t type, nrefs, ngroup; /* correlation windows */
	int64_t span;
	uint64_t sig; /* new-value memory: its fields' signature */
	int version;
	uint8_t *blob;
	size_t n;
};

struct detector {
	pthread_mutex_t lock, save_lock;
	struct detect_set *set;
	struct scratch s;
	char *state_path;
	size_t max_groups;
	int64_t watermark, next_expire;
	uint64_t events, hits, evicted_gone;
	bool report_all;
	struct pending *pend; /* correlation windows */
	size_t npend;
	struct pending *pnv; /* new-value memories */
	size_t npnv;
	bool pend_done;
	int *matched;
	size_t matchcap;
	size_t max_new_values;
	uint64_t evicted_nv_gone;
	char key[KEY_BUF];	       /* a detection hit's group key */
	char summary[SUMMARY_MAX + 1]; /* the hit's summary, during the sink call */
};

/* ---- rule sets ---- */

static void set_free(struct detect_set *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		if (rs->cs)
			cstate_free(rs->cs[i]);
		if (rs->nv)
			nvstate_free(rs->nv[i]);
		if (rs->users)
			free(rs->users[i]);
		rule_free(rs->r[i]);
	}
	for (size_t i = 0; i < rs->bkcap; i++)
		free(rs->bk[i].idx);
	free(rs->bk);
	free(rs->unidx);
	ugates_free(&rs->ug);
	kw_free(rs->ac);
	free(rs->cs);
	free(rs->nv);
	free(rs->users);
	free(rs->nusers);
	free(rs->matches);
	free(rs->r);
	free(rs);
}

static uint64_t ikey(int evf, const char *v, size_t n)
{
	return hash_bytes(v, n) ^ ((uint64_t)(unsigned)evf * 0x9e3779b97f4a7c15ull);
}

static struct ibucket *bucket_find(const struct detect_set *rs, int evf, const char *v, size_t n,
				   uint64_t h)
{
	if (!rs->bkcap)
		return NULL;
	size_t mask = rs->bkcap - 1;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct ibucket *b = &rs->bk[i];
		if (b->evf < 0)
			return NULL;
		if (b->h == h && b->evf == evf && b->n == n && !memcmp(b->v, v, n))
			return b;
	}
}

static int bucket_add(struct detect_set *rs, int evf, const char *v, size_t n, int rule)
{
	uint64_t h = ikey(evf, v, n);
	size_t mask = rs->bkcap - 1;
	struct ibucket *b = NULL;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		b = &rs->bk[i];
		if (b->evf < 0) {
			b->evf = evf;
			b->v = v;
			b->n = n;
			b->h = h;
			break;
		}
		if (b->h == h && b->evf == evf && b->n == n && !memcmp(b->v, v, n))
			break;
	}
	if (b->nidx && b->idx[b->nidx - 1] == rule)
		return 0;
	if (b->nidx == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		int *p = realloc(b->idx, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		b->idx = p;
		b->cap = cap;
	}
	b->idx[b->nidx++] = rule;
	return 0;
}

/* Rules keyed on os_type that need an EventID are indexed by the EventID instead: a
 * Windows event then meets only the rules for its own event id. */
static bool by_eid(const struct rule *r)
{
	return r->pf.neid > 0 && (r->pf.evf < 0 || r->pf.evf == EVF_OS_TYPE);
}

static bool indexable(const struct rule *r)
{
	if (by_eid(r))
		return true;
	if (r->pf.evf < 0 || r->pf.nvals == 0)
		return false;
	for (size_t k = 0; k < r->pf.nvals; k++)
		if (strlen(r->pf.vals[k]) >= IVAL_MAX)
			return false;
	return true;
}

static int set_index(struct detect_set *rs)
{
	size_t nv = 0;
	for (size_t i = 0; i < rs->n; i++)
		if (!rs->r[i]->corr && !rs->r[i]->filter && indexable(rs->r[i]))
			nv += by_eid(rs->r[i]) ? rs->r[i]->pf.neid : rs->r[i]->pf.nvals;
	rs->bkcap = 16;
	while (rs->bkcap < nv * 2)
		rs->bkcap *= 2;
	rs->bk = calloc(rs->bkcap, sizeof(*rs->bk));
	rs->unidx = malloc((rs->n ? rs->n : 1) * sizeof(int));
	if (!rs->bk || !rs->unidx)
		return -ENOMEM;
	for (size_t i = 0; i < rs->bkcap; i++)
		rs->bk[i].evf = -1;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = rs->r[i];
		if (r->corr || r->filter) /* filters are evaluated with the rules they apply to */
			continue;
		if (!indexable(r)) {
			rs->unidx[rs->nunidx++] = (int)i;
			continue;
		}
		if (by_eid(r)) {
			rs->has_eid = true;
			for (size_t k = 0; k < r->pf.neid; k++) {
				char num[24];
				int len =
				    snprintf(num, sizeof(num), "%lld", (long long)r->pf.eid[k]);
				char *v = arena_strndup(&r->a, num, (size_t)len);
				int rc =
				    v ? bucket_add(rs, EVF_EID, v, (size_t)len, (int)i) : -ENOMEM;
				if (rc)
					return rc;
			}
			continue;
		}
		for (size_t k = 0; k < r->pf.nvals; k++) {
			int rc =
			    bucket_add(rs, r->pf.evf, r->pf.vals[k], strlen(r->pf.vals[k]), (int)i);
			if (rc)
				return rc;
		}
	}
	return ugates_build(&rs->ug, rs->r, rs->unidx, rs->nunidx);
}

static int find_ref(struct detect_set *rs, const char *ref)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->r[i]->info.id && !strcmp(rs->r[i]->info.id, ref))
			return (int)i;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->r[i]->info.name && !strcmp(rs->r[i]->info.name, ref))
			return (int)i;
	return -1;
}

/* Depth-first: a correlation chain must not loop back on itself. */
static bool cyclic(const struct detect_set *rs, const int *const *refs, int i, uint8_t *mark)
{
	if (mark[i] == 1)
		return true;
	if (mark[i] == 2 || !rs->r[i]->corr)
		return false;
	mark[i] = 1;
	for (size_t k = 0; k < rs->r[i]->corr->nrefs; k++)
		if (cyclic(rs, refs, refs[i][k], mark))
			return true;
	mark[i] = 2;
	return false;
}

static int set_link(struct detect_set *rs, size_t max_groups, size_t max_nv, char *err,
		    size_t errlen)
{
	size_t n1 = rs->n ? rs->n : 1;
	int **refs = calloc(n1, sizeof(*refs));
	uint8_t *mark = calloc(n1, 1);
	int *user = malloc(n1 * sizeof(*user)); /* the first correlation referring to a rule */
	const struct rule **rr = NULL;
	int rc = 0;
	rs->cs = calloc(n1, sizeof(*rs->cs));
	rs->nv = calloc(n1, sizeof(*rs->nv));
	rs->users = calloc(n1, sizeof(*rs->users));
	rs->nusers = calloc(n1, sizeof(*rs->nusers));
	rs->matches = malloc(n1 * sizeof(*rs->matches));
	if (!refs || !mark || !user || !rs->cs || !rs->nv || !rs->users || !rs->nusers ||
	    !rs->matches) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = rs->r[i];
		r->index = (int)i;
		r->info.generates = !r->filter;
		r->info.used_by = NULL;
		user[i] = -1;
		atomic_init(&rs->matches[i], 0);
		if (r->spec.nnew && (rc = nvstate_new(max_nv, r->spec.new_span_us, &rs->nv[i])))
			goto out;
		for (size_t j = 0; j < i; j++) {
			const struct rule_info *a = &rs->r[j]->info;
			if (!strcmp(a->id, r->info.id)) {
				snprintf(err, errlen, "duplicate rule id '%s' (%s and %s)",
					 r->info.id, a->title, r->info.title);
				rc = SIEM_ESCHEMA;
				goto out;
			}
			if (a->name && r->info.name && !strcmp(a->name, r->info.name)) {
				snprintf(err, errlen, "duplicate rule name '%s' (%s and %s)",
					 r->info.name, a->title, r->info.title);
				rc = SIEM_ESCHEMA;
				goto out;
			}
		}
	}
	for (size_t i = 0; i < rs->n; i++) {
		const struct corr *c = rs->r[i]->corr;
		if (!c)
			continue;
		refs[i] = malloc(c->nrefs * sizeof(int));
		if (!refs[i]) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t k = 0; k < c->nrefs; k++) {
			int j = find_ref(rs, c->refs[k]);
			if (j < 0 || j == (int)i) {
				snprintf(err, errlen,
					 "rule '%s': correlation refers to unknown rule "
					 "'%s'",
					 rs->r[i]->info.title, c->refs[k]);
				rc = SIEM_ESCHEMA;
				goto out;
			}
			refs[i][k] = j;
			mark[j] |= c->generate ? 2 : 1;
			if (user[j] < 0)
				user[j] = (int)i;
		}
	}
	/* a referred rule alerts on its own only when a correlation asks (generate: true);
	 * otherwise it is a helper, used by that correlation */
	for (size_t j = 0; j < rs->n; j++) {
		struct rule_info *in = &rs->r[j]->info;
		if (mark[j])
			in->generates = (mark[j] & 2) != 0;
		if (mark[j] && !in->generates) {
			const char *id = rs->r[user[j]]->info.id;
			if (!(in->used_by = arena_strndup(&rs->r[j]->a, id, strlen(id)))) {
				rc = -ENOMEM;
				goto out;
			}
		}
		mark[j] = 0;
	}
	for (size_t i = 0; i < rs->n; i++) {
		if (rs->r[i]->corr && cyclic(rs, (const int *const *)refs, (int)i, mark)) {
			snprintf(err, errlen, "rule '%s': correlation chain refers back to itself",
				 rs->r[i]->info.title);
			rc = SIEM_ESCHEMA;
			goto out;
		}
	}
	rr = malloc(64 * sizeof(*rr));
	if (!rr) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < rs->n; i++) {
		const struct corr *c = rs->r[i]->corr;
		if (!c)
			continue;
		rs->ncorr++;
		for (size_t k = 0; k < c->nrefs; k++) {
			int j = refs[i][k];
			rr[k] = rs->r[j];
			/* users[j] gets i once */
			bool dup = false;
			for (size_t u = 0; u < rs->nusers[j]; u++)
				dup |= rs->users[j][u] == (int)i;
			if (dup)
				continue;
			int *p = realloc(rs->users[j], (rs->nusers[j] + 1) * sizeof(int));
			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			rs->users[j] = p;
			p[rs->nusers[j]++] = (int)i;
		}
		char e2[256] = "";
		if ((rc = cstate_new(rs->r[i], rr, max_groups, &rs->cs[i], e2, sizeof(e2)))) {
			snprintf(err, errlen, "rule '%s': %s", rs->r[i]->info.title,
				 e2[0] ? e2 : siem_strerror(rc));
			goto out;
		}
	}
	if ((rc = filters_attach(rs->r, rs->n)))
		goto out;
	rs->ndet = rs->n - rs->ncorr;
	for (size_t i = 0; i < rs->n; i++)
		rs->ndet -= rs->r[i]->filter != NULL;
out:
	if (refs)
		for (size_t i = 0; i < rs->n; i++)
			free(refs[i]);
	free(refs);
	free(mark);
	free(user);
	free(rr);
	return rc;
}

/* ---- state: migration and the file ---- */

static void state_header(struct wbuf *w, const struct rule *r)
{
	const struct corr *c = r->corr;
	wb_str(w, r->info.id, strlen(r->info.id));
	wb_u32(w, (uint32_t)c->type);
	wb_u32(w, (uint32_t)c->nrefs);
	wb_u32(w, (uint32_t)c->ngroup);
	wb_u64(w, (uint64_t)c->span_us);
}

static bool compatible(const struct corr *c, uint32_t type, uint32_t nrefs, uint32_t ngroup)
{
	return c->type == (enum corr_type)type && c->nrefs == nrefs && c->ngroup == ngroup;
}

/* Carry a kept rule's windows into the new set (same id, same shape); the evictions of
 * rules that go away are remembered in the detector's total. */
static void migrate(struct detector *d, struct detect_set *old, struct detect_set *nw)
{
	for (size_t j = 0; old && j < old->n; j++) {
		if (!old->cs[j])
			continue;
		const struct rule *o = old->r[j];
		bool carried = false;
		for (size_t i = 0; i < nw->n && !carried; i++) {
			if (!nw->cs[i] || strcmp(nw->r[i]->info.id, o->info.id))
				continue;
			if (!compatible(nw->r[i]->corr, o->corr->type, (uint32_t)o->corr->nrefs,
					(uint32_t)o->corr->ngroup))
				break;
			struct wbuf w = {0};
			cstate_save(old->cs[j], &w);
			struct rbuf rb = {w.p, w.n, 0, w.err};
			if (!w.err && !cstate_load(nw->cs[i], &rb, STATE_VERSION))
				carried = true;
			else
				log_warn(SUB, "rule '%s': window state not carried over",
					 o->info.title);
			free(w.p);
		}
		if (!carried)
			d->evicted_gone += cstate_evicted(old->cs[j]);
	}
	/* new-value memories move to the rule with the same id and fields */
	for (size_t j = 0; old && j < old->n; j++) {
		if (!old->nv[j])
			continue;
		const struct rule *o = old->r[j];
		for (size_t i = 0; i < nw->n; i++) {
			const struct rule *r = nw->r[i];
			if (!nw->nv[i] || strcmp(r->info.id, o->info.id) ||
			    r->spec.new_sig != o->spec.new_sig)
				continue;
			nvstate_free(nw->nv[i]);
			nw->nv[i] = old->nv[j];
			nvstate_set_span(nw->nv[i], r->spec.new_span_us);
			old->nv[j] = NULL;
			break;
		}
		if (old->nv[j])
			d->evicted_nv_gone += nvstate_evicted(old->nv[j]);
	}
	/* match counts stay with the rule id */
	for (size_t i = 0; old && i < nw->n; i++)
		for (size_t j = 0; j < old->n; j++)
			if (!strcmp(nw->r[i]->info.id, old->r[j]->info.id)) {
				atomic_store(&nw->matches[i], atomic_load(&old->matches[j]));
				break;
			}
}

static void pending_release(struct pending **p, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		free((*p)[i].id);
		free((*p)[i].blob);
	}
	free(*p);
	*p = NULL;
	*n = 0;
}

static void pending_free(struct detector *d)
{
	pending_release(&d->pend, &d->npend);
	pending_release(&d->pnv, &d->npnv);
}

static void adopt_pending(struct detector *d, struct detect_set *nw)
{
	for (size_t i = 0; i < nw->n; i++) {
		if (!nw->cs[i])
			continue;
		const struct rule *r = nw->r[i];
		for (size_t k = 0; k < d->npend; k++) {
			struct pending *p = &d->pend[k];
			if (strcmp(p->id, r->info.id))
				continue;
			if (compatible(r->corr, p->type, p->nrefs, p->ngroup)) {
				struct rbuf rb = {p->blob, p->n, 0, 0};
				if (cstate_load(nw->cs[i], &rb, p->version))
					log_warn(SUB,
						 "rule '%s': saved window state unreadable, "
						 "starting empty",
						 r->info.title);
			}
			break;
		}
	}
	for (size_t i = 0; i < nw->n; i++) {
		if (!nw->nv[i])
			continue;
		const struct rule *r = nw->r[i];
		for (size_t k = 0; k < d->npnv; k++) {
			struct pending *p = &d->pnv[k];
			if (strcmp(p->id, r->info.id))
				continue;
			if (p->sig == r->spec.new_sig) {
				struct rbuf rb = {p->blob, p->n, 0, 0};
				if (nvstate_load(nw->nv[i], &rb))
					log_warn(SUB,
						 "rule '%s': saved new-value memory unreadable, "
						 "starting empty",
						 r->info.title);
			}
			break;
		}
	}
	pending_free(d);
	d->pend_done = true;
}

static uint64_t checksum(const uint8_t *p, size_t n)
{
	return hash_bytes(p, n);
}

static int pending_copy(struct pending *p, const char *id, size_t idn, const uint8_t *blob,
			size_t bn)
{
	p->id = strndup(id, idn);
	p->blob = malloc(bn ? bn : 1);
	if (!p->id || !p->blob) {
		free(p->id);
		free(p->blob);
		return -ENOMEM;
	}
	memcpy(p->blob, blob, bn);
	p->n = bn;
	return 0;
}

/* The saved state (file or exported blob) into the pending records, for the rule set to
 * adopt. */
static int state_parse(struct detector *d, const uint8_t *buf, size_t n)
{
	int rc = 0;
	if (n < 16 || n > STATE_MAX)
		return SIEM_EPARSE;
	uint64_t sum = 0;
	for (int i = 0; i < 8; i++)
		sum |= (uint64_t)buf[n - 8 + i] << (8 * i);
	int version = !memcmp(buf, STATE_MAGIC, 8)	? STATE_VERSION
		      : !memcmp(buf, STATE_MAGIC_V1, 8) ? 1
							: 0;
	if (!version || checksum(buf, n - 8) != sum) {
		rc = SIEM_EPARSE;
		goto out;
	}
	struct rbuf r = {buf, n - 8, 8, 0};
	int64_t wm = (int64_t)rb_u64(&r);
	uint32_t nrec = rb_u32(&r);
	if (r.err || nrec > 1000000) {
		rc = SIEM_EPARSE;
		goto out;
	}
	d->pend = calloc(nrec ? nrec : 1, sizeof(*d->pend));
	if (!d->pend) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < nrec; i++) {
		size_t idn;
		const char *id = rb_str(&r, &idn);
		struct pending p = {0};
		p.type = rb_u32(&r);
		p.nrefs = rb_u32(&r);
		p.ngroup = rb_u32(&r);
		p.span = (int64_t)rb_u64(&r);
		size_t bn;
		const uint8_t *blob = (const uint8_t *)rb_str(&r, &bn);
		if (r.err) {
			rc = SIEM_EPARSE;
			goto out;
		}
		p.version = version;
		if ((rc = pending_copy(&p, id, idn, blob, bn)))
			goto out;
		d->pend[d->npend++] = p;
	}
	uint32_t nnv = version >= 2 ? rb_u32(&r) : 0;
	if (r.err || nnv > 1000000) {
		rc = SIEM_EPARSE;
		goto out;
	}
	d->pnv = calloc(nnv ? nnv : 1, sizeof(*d->pnv));
	if (!d->pnv) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < nnv; i++) {
		size_t idn, bn;
		const char *id = rb_str(&r, &idn);
		struct pending p = {0};
		p.sig = rb_u64(&r);
		const uint8_t *blob = (const uint8_t *)rb_str(&r, &bn);
		if (r.err) {
			rc = SIEM_EPARSE;
			goto out;
		}
		if ((rc = pending_copy(&p, id, idn, blob, bn)))
			goto out;
		d->pnv[d->npnv++] = p;
	}
	d->watermark = wm;
out:
	if (rc)
		pending_free(d);
	return rc;
}

static int state_load(struct detector *d)
{
	int rc = 0;
	uint8_t *buf = NULL;
	FILE *f = fopen(d->state_path, "rb");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	struct stat st;
	if (fstat(fileno(f), &st) || st.st_size < 16 || (uint64_t)st.st_size > STATE_MAX) {
		rc = SIEM_EPARSE;
	} else if (!(buf = malloc((size_t)st.st_size))) {
		rc = -ENOMEM;
	} else if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		rc = -EIO;
	} else {
		rc = state_parse(d, buf, (size_t)st.st_size);
	}
	free(buf);
	fclose(f);
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The state as the file holds it, serialized under the lock; w->err on failure. */
static void state_blob(struct detector *d, struct wbuf *w0)
{
	struct wbuf w = {0};
	pthread_mutex_lock(&d->lock);
	wb_put(&w, STATE_MAGIC, 8);
	wb_u64(&w, (uint64_t)d->watermark);
	struct detect_set *rs = d->set;
	uint32_t nrec = 0;
	for (size_t i = 0; rs && i < rs->n; i++)
		nrec += rs->cs[i] != NULL;
	for (size_t i = 0; !d->pend_done && i < d->npend; i++)
		nrec += d->pend[i].version == STATE_VERSION;
	wb_u32(&w, nrec);
	for (size_t i = 0; rs && i < rs->n; i++) {
		if (!rs->cs[i])
			continue;
		state_header(&w, rs->r[i]);
		struct wbuf b = {0};
		cstate_save(rs->cs[i], &b);
		if (b.err)
			w.err = b.err;
		wb_str(&w, (const char *)b.p, b.n);
		free(b.p);
	}
	for (size_t i = 0; !d->pend_done && i < d->npend; i++) {
		const struct pending *p = &d->pend[i];
		if (p->version != STATE_VERSION)
			continue; /* an older layout cannot be written under the new magic */
		wb_str(&w, p->id, strlen(p->id));
		wb_u32(&w, p->type);
		wb_u32(&w, p->nrefs);
		wb_u32(&w, p->ngroup);
		wb_u64(&w, (uint64_t)p->span);
		wb_str(&w, (const char *)p->blob, p->n);
	}
	uint32_t nnv = 0;
	for (size_t i = 0; rs && i < rs->n; i++)
		nnv += rs->nv[i] != NULL;
	nnv += d->pend_done ? 0 : (uint32_t)d->npnv;
	wb_u32(&w, nnv);
	for (size_t i = 0; rs && i < rs->n; i++) {
		if (!rs->nv[i])
			continue;
		const struct rule *r = rs->r[i];
		wb_str(&w, r->info.id, strlen(r->info.id));
		wb_u64(&w, r->spec.new_sig);
		struct wbuf b = {0};
		nvstate_save(rs->nv[i], &b);
		if (b.err)
			w.err = b.err;
		wb_str(&w, (const char *)b.p, b.n);
		free(b.p);
	}
	for (size_t i = 0; !d->pend_done && i < d->npnv; i++) {
		const struct pending *p = &d->pnv[i];
		wb_str(&w, p->id, strlen(p->id));
		wb_u64(&w, p->sig);
		wb_str(&w, (const char *)p->blob, p->n);
	}
	pthread_mutex_unlock(&d->lock);
	wb_u64(&w, w.err ? 0 : checksum(w.p, w.n));
	*w0 = w;
}

int detector_export(struct detector *d, uint8_t **out, size_t *n)
{
	struct wbuf w = {0};
	state_blob(d, &w);
	if (w.err) {
		free(w.p);
		return w.err;
	}
	*out = w.p;
	*n = w.n;
	return 0;
}

int detector_import(struct detector *d, const uint8_t *buf, size_t n)
{
	pthread_mutex_lock(&d->lock);
	pending_free(d);
	int rc = state_parse(d, buf, n);
	d->pend_done = false;
	for (size_t i = 0; rc == 0 && d->set && i < d->set->n; i++) {
		/* the saved state replaces what this detector held */
		if (d->set->cs[i])
			cstate_clear(d->set->cs[i]);
		if (d->set->nv[i])
			nvstate_clear(d->set->nv[i]);
	}
	if (rc == 0 && d->set)
		adopt_pending(d, d->set);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* Serialize under the lock, write outside it: temp file, fsync, rename, fsync the dir. */
int detector_save(struct detector *d)
{
	if (!d->state_path)
		return 0;
	struct wbuf w = {0};
	pthread_mutex_lock(&d->save_lock);
	state_blob(d, &w);
	int rc = w.err;
	char tmp[4096];
	int fd = -1;
	if (rc)
		goto out;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", d->state_path) >= sizeof(tmp)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = write_all(fd, w.p, w.n)) || (fsync(fd) && (rc = -errno))) {
		close(fd);
		fd = -1;
		unlink(tmp);
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, d->state_path)) {
		rc = -errno;
		unlink(tmp);
		goto out;
	}
	/* make the rename itself durable */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", d->state_path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	if (rc)
		log_error(SUB, "cannot save window state to '%s': %s", d->state_path,
			  siem_strerror(rc));
	pthread_mutex_unlock(&d->save_lock);
	free(w.p);
	return rc;
}

/* ---- lifecycle ---- */

int detector_open(struct detector **out, const struct detector_config *cfg)
{
	struct detector *d = calloc(1, sizeof(*d));
	int rc;
	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->save_lock, NULL);
	d->max_groups = cfg && cfg->max_groups ? cfg->max_groups : 10000;
	d->max_new_values = NEWVALUE_MAX;
	d->watermark = INT64_MIN;
	if ((rc = scratch_init(&d->s)))
		goto fail;
	if (cfg && cfg->state_path) {
		if (!(d->state_path = strdup(cfg->state_path))) {
			rc = -ENOMEM;
			goto fail;
		}
		rc = state_load(d);
		if (rc == -ENOMEM)
			goto fail;
		if (rc) /* a damaged file loses windows, never the hub */
			log_warn(SUB, "window state in '%s' unreadable (%s): starting empty",
				 d->state_path, siem_strerror(rc));
	}
	*out = d;
	return 0;
fail:
	scratch_release(&d->s);
	free(d->state_path);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->save_lock);
	free(d);
	return rc;
}

void detector_close(struct detector *d)
{
	if (!d)
		return;
	detector_save(d);
	set_free(d->set);
	pending_free(d);
	scratch_release(&d->s);
	free(d->matched);
	free(d->state_path);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->save_lock);
	free(d);
}

int detector_set_rules(struct detector *d, struct rule **rules, size_t n, char *err, size_t errlen)
{
	struct detect_set *rs = calloc(1, sizeof(*rs));
	char dummy[8];
	int rc = 0;
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!rs) {
		for (size_t i = 0; i < n; i++)
			rule_free(rules[i]);
		free(rules);
		return -ENOMEM;
	}
	rs->r = rules;
	rs->n = n;
	if ((rc = set_link(rs, d->max_groups, d->max_new_values, err, errlen)) ||
	    (rc = set_index(rs)) || (rc = kw_build(rs->r, rs->n, &rs->ac))) {
		if (rc == -ENOMEM && !err[0])
			snprintf(err, errlen, "out of memory");
		set_free(rs);
		return rc;
	}
	for (size_t i = 0; i < n && rs->ac; i++)
		kw_requirements(rs->r[i]);
	int *m = malloc((n ? n : 1) * sizeof(int));
	if (!m) {
		set_free(rs);
		return -ENOMEM;
	}
	pthread_mutex_lock(&d->lock);
	struct detect_set *old = d->set;
	migrate(d, old, rs);
	if (!d->pend_done)
		adopt_pending(d, rs);
	d->set = rs;
	free(d->matched);
	d->matched = m;
	d->matchcap = n;
	d->s.ac = rs->ac;
	pthread_mutex_unlock(&d->lock);
	set_free(old);
	return 0;
}

void detector_set_max_new_values(struct detector *d, size_t max)
{
	pthread_mutex_lock(&d->lock);
	d->max_new_values = max ? max : NEWVALUE_MAX;
	pthread_mutex_unlock(&d->lock);
}

void detector_report_all(struct detector *d, bool on)
{
	pthread_mutex_lock(&d->lock);
	d->report_all = on;
	pthread_mutex_unlock(&d->lock);
}

/* ---- evaluation ---- */

struct eval_ctx {
	struct detector *d;
	const struct event *ev;
	detect_sink sink;
	void *sctx;
	int depth;
};

/* Report a hit of r: a detection rule's match of the event (h NULL), or a correlation's hit. */
static void emit(struct eval_ctx *x, const struct rule *r, const struct corr_hit *h)
{
	struct detector *d = x->d;
	if (!r->info.generates && !d->report_all)
		return;
	struct hit_view v = {d->key, x->ev->ts, x->ev->ts, 1, 0, NULL, NULL, NULL};
	struct detect_hit dh = {
	    &r->info, d->key,	  x->ev->ts, x->ev->ts, 1, 1, (const uint8_t(*)[16])x->ev->id,
	    x->ev,    d->summary, 1};
	if (h) {
		v = (struct hit_view){h->key,	h->first_ts, h->last_ts, h->count,
				      h->nvals, h->vals,     h->valn,	 h->values};
		dh.group_key = h->key;
		dh.first_ts = h->first_ts;
		dh.last_ts = h->last_ts;
		dh.count = h->count;
		dh.n_events = h->nids;
		dh.event_ids = h->ids;
		dh.new_events = h->new_events;
	} else {
		alertspec_key(r, &d->s, d->key);
	}
	alertspec_summary(r, &d->s, &v, d->summary);
	d->hits++;
	if (x->sink)
		x->sink(x->sctx, &dh);
}

static void feed_users(struct eval_ctx *x, const struct rule *r, const struct corr_input *in);

static void on_corr_hit(void *ctx, struct cstate *cs, const struct corr_hit *h)
{
	struct eval_ctx *x = ctx;
	const struct rule *r = cstate_rule(cs);
	atomic_fetch_add_explicit(&x->d->set->matches[r->index], 1, memory_order_relaxed);
	emit(x, r, h);
	if (x->depth >= MAX_CHAIN)
		return;
	const uint8_t *id = h->nids ? h->ids[h->nids - 1] : x->ev->id;
	struct corr_input in = {r, x->ev, h->last_ts, id, h->nvals, h->vals, h->valn, h->names};
	x->depth++;
	feed_users(x, r, &in);
	x->depth--;
}

static void feed_users(struct eval_ctx *x, const struct rule *r, const struct corr_input *in)
{
	struct detect_set *rs = x->d->set;
	for (size_t u = 0; u < rs->nusers[r->index]; u++)
		cstate_feed(rs->cs[rs->users[r->index][u]], &x->d->s, in, on_corr_hit, x);
}

static const int *lookup(const struct detect_set *rs, int evf, const struct sv *v, size_t *n)
{
	char low[IVAL_MAX];
	*n = 0;
	if (!v->p || v->n >= IVAL_MAX)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		low[i] = sigma_lower(v->p[i]);
	const struct ibucket *b = bucket_find(rs, evf, low, v->n, ikey(evf, low, v->n));
	if (!b)
		return NULL;
	*n = b->nidx;
	return b->idx;
}

static bool eid_ok(struct scratch *s, const struct rule *r)
{
	if (!r->pf.neid)
		return true;
	int64_t e;
	if (!scratch_eventid(s, &e))
		return false;
	for (size_t i = 0; i < r->pf.neid; i++)
		if (r->pf.eid[i] == e)
			return true;
	return false;
}

void detector_eval(struct detector *d, const struct event *ev, detect_sink sink, void *ctx)
{
	pthread_mutex_lock(&d->lock);
	d->events++;
	struct detect_set *rs = d->set;
	if (!rs || !rs->n)
		goto out;
	if (!ev->received_at || ev->ts <= ev->received_at + LATE_CLOCK_US) {
		if (ev->ts > d->watermark)
			d->watermark = ev->ts;
	}
	struct scratch *s = &d->s;
	scratch_begin(s, ev);
	/* candidates: the index lists for this event's event_type, app and os_type, and the
	 * unindexed rules, merged in rule order */
	const int *list[5];
	size_t len[5], pos[5] = {0, 0, 0, 0, 0};
	list[0] = lookup(rs, EVF_EVENT_TYPE, &ev->event_type, &len[0]);
	list[1] = lookup(rs, EVF_APP, &ev->app, &len[1]);
	list[2] = lookup(rs, EVF_OS_TYPE, &ev->os_type, &len[2]);
	list[3] = ugates_candidates(&rs->ug, s, &len[3]);
	list[4] = NULL;
	len[4] = 0;
	int64_t eid;
	if (rs->has_eid && scratch_eventid(s, &eid)) {
		char num[24];
		int k = snprintf(num, sizeof(num), "%lld", (long long)eid);
		struct sv v = {num, (size_t)k};
		list[4] = lookup(rs, EVF_EID, &v, &len[4]);
	}
	size_t nm = 0;
	for (;;) {
		int best = -1, bi = -1;
		for (int k = 0; k < 5; k++)
			if (pos[k] < len[k] && (best < 0 || list[k][pos[k]] < best)) {
				best = list[k][pos[k]];
				bi = k;
			}
		if (bi < 0)
			break;
		pos[bi]++;
		const struct rule *r = rs->r[best];
		if (!eid_ok(s, r) || !kw_pass(s, r) || !rule_match_s(s, r))
			continue;
		atomic_fetch_add_explicit(&rs->matches[best], 1, memory_order_relaxed);
		/* a new-value rule hits only for a combination it has not seen lately */
		if (rs->nv[best] &&
		    !nvstate_check(rs->nv[best], alertspec_newvalue_hash(r, s), ev->ts))
			continue;
		d->matched[nm++] = best;
	}
	struct eval_ctx x = {d, ev, sink, ctx, 0};
	for (size_t i = 0; i < nm; i++)
		emit(&x, rs->r[d->matched[i]], NULL);
	for (size_t i = 0; i < nm; i++) {
		const struct rule *r = rs->r[d->matched[i]];
		if (!rs->nusers[r->index])
			continue;
		struct corr_input in = {r, ev, ev->ts, ev->id, 0, NULL, NULL, NULL};
		feed_users(&x, r, &in);
	}
	if (d->watermark >= d->next_expire) {
		for (size_t i = 0; i < rs->n; i++) {
			if (rs->cs[i])
				cstate_expire(rs->cs[i], d->watermark);
			if (rs->nv[i])
				nvstate_expire(rs->nv[i], d->watermark);
		}
		d->next_expire = d->watermark + EXPIRE_EVERY_US;
	}
out:
	pthread_mutex_unlock(&d->lock);
}

void detector_get_stats(struct detector *d, struct detector_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&d->lock);
	st->events = d->events;
	st->hits = d->hits;
	st->evicted_groups = d->evicted_gone;
	st->evicted_new_values = d->evicted_nv_gone;
	struct detect_set *rs = d->set;
	if (rs) {
		st->rules = rs->n;
		st->detection_rules = rs->ndet;
		st->correlation_rules = rs->ncorr;
		for (size_t i = 0; i < rs->n; i++) {
			if (rs->cs[i]) {
				st->groups += cstate_ngroups(rs->cs[i]);
				st->evicted_groups += cstate_evicted(rs->cs[i]);
			}
			if (rs->nv[i]) {
				st->new_values += nvstate_count(rs->nv[i]);
				st->evicted_new_values += nvstate_evicted(rs->nv[i]);
			}
		}
	}
	pthread_mutex_unlock(&d->lock);
}

void detector_rule_counts(struct detector *d,
			  void (*fn)(void *ctx, const struct rule_info *ri, uint64_t matches),
			  void *ctx)
{
	pthread_mutex_lock(&d->lock);
	struct detect_set *rs = d->set;
	for (size_t i = 0; rs && i < rs->n; i++)
		fn(ctx, &rs->r[i]->info,
		   atomic_load_explicit(&rs->matches[i], memory_order_relaxed));
	pthread_mutex_unlock(&d->lock);
}

/* ---- one rule, outside the engine ---- */

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
	scratch_release(p);
	free(p);
}

static void tls_init(void)
{
	pthread_key_create(&tls_key, tls_free);
}

bool rule_matches(const struct rule *r, const struct event *ev)
{
	if (!r || r->corr)
		return false;
	pthread_once(&tls_once, tls_init);
	struct scratch *s = pthread_getspecific(tls_key);
	if (!s) {
		s = malloc(sizeof(*s));
		if (!s || scratch_init(s)) {
			free(s);
			return false;
		}
		pthread_setspecific(tls_key, s);
	}
	scratch_begin(s, ev);
	s->ac = NULL;
	return rule_match_s(s, r);
}
