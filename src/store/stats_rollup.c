/* stats_rollup.c — the statistics the writer keeps as events are appended: per-minute
 * counts (os_type, event_type, severity) written with each transaction, and the active
 * segment's top-N counts (source IP, user, host, app, DNS domain per event type and 10-minute
 * period) in memory, published at commit. stats_rollup_seal.c writes them into a sealed
 * segment; stats_rollup_read.c answers queries from them. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/stats_int.h"

#define SUB "stats"

/* Per-minute counts are few per transaction (minutes x OS x type x severity): they are
 * aggregated here and upserted at commit. Top-N counts have a key per distinct value,
 * nearly one per event in a busy transaction, so the active segment's are kept in memory
 * (struct segcounts), published when a transaction commits and written out once, when the
 * segment is sealed. */

#define ID_MAX 0xfffeu /* event types and periods of a segment: cells keep 16 bits */
#define PIPE 6	       /* values between two steps of a lookup (top_resolve) */
#define PENDING_LIMITS                                                  \
	2 /* sealed segments' counts waiting for the indexer: this many \
	   * times a segment's memory bound, all together */

static _Atomic size_t mem_limit = 16u << 20;

#define FALLBACK_HELP                                                                        \
	"Top-N fields of a segment counted from its events because their values outgrew the" \
	" memory bound."
static struct metric m_fallback[TOP_FIELDS] = {
    METRIC_COUNTER_INIT("minisiem_stats_top_fallbacks_total", "field=\"source_ip\"", FALLBACK_HELP),
    METRIC_COUNTER_INIT("minisiem_stats_top_fallbacks_total", "field=\"user\"", FALLBACK_HELP),
    METRIC_COUNTER_INIT("minisiem_stats_top_fallbacks_total", "field=\"source_host\"",
			FALLBACK_HELP),
    METRIC_COUNTER_INIT("minisiem_stats_top_fallbacks_total", "field=\"app\"", FALLBACK_HELP),
    METRIC_COUNTER_INIT("minisiem_stats_top_fallbacks_total", "field=\"domain\"", FALLBACK_HELP),
};
static struct metric m_dropped = METRIC_COUNTER_INIT(
    "minisiem_stats_top_dropped_total", NULL,
    "Sealed segments whose top-N counts left memory before the indexer wrote them.");
static struct metric m_bytes =
    METRIC_GAUGE_INIT("minisiem_stats_top_memory_bytes", NULL,
		      "Memory holding the top-N counts of the active and just sealed segments.");

void stats_rollup_set_limit(size_t bytes)
{
	mem_limit = bytes;
}

/* The first and last 8 (4, 1) bytes of p, n <= 16: together they cover it. */
static void load_ends(const unsigned char *p, size_t n, uint64_t *a, uint64_t *b)
{
	uint32_t x, y;
	if (n >= 8) {
		memcpy(a, p, 8);
		memcpy(b, p + n - 8, 8);
	} else if (n >= 4) {
		memcpy(&x, p, 4);
		memcpy(&y, p + n - 4, 4);
		*a = x, *b = y;
	} else {
		*a = n ? (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1] : 0;
		*b = 0;
	}
}

/* A seeded 64-bit hash: values come from the network, and this runs for every value of
 * every event, most of them short. */
uint64_t stats_hash_mem(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL), w;
	if (n <= 16) {
		uint64_t x, y;
		load_ends(b, n, &x, &y);
		h = (h ^ x) * 0xff51afd7ed558ccdULL;
		h = (h ^ (h >> 32) ^ y) * 0xc4ceb9fe1a85ec53ULL;
		return h ^ (h >> 29);
	}
	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 31;
	}
	w = 0;
	if (n)
		memcpy(&w, b, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 29);
}

/* Copy n <= 16 bytes: a few loads and stores, no call. */
static void copy_short(char *to, const char *from, size_t n)
{
	uint64_t a, b;
	uint32_t x, y;
	if (n >= 8) {
		memcpy(&a, from, 8);
		memcpy(&b, from + n - 8, 8);
		memcpy(to, &a, 8);
		memcpy(to + n - 8, &b, 8);
	} else if (n >= 4) {
		memcpy(&x, from, 4);
		memcpy(&y, from + n - 4, 4);
		memcpy(to, &x, 4);
		memcpy(to + n - 4, &y, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			to[i] = from[i];
	}
}

/* a and b, n <= 16 bytes each, are equal: a few loads, no call. */
static bool eq_short(const void *a, const void *b, size_t n)
{
	uint64_t a1, a2, b1, b2;
	load_ends(a, n, &a1, &a2);
	load_ends(b, n, &b1, &b2);
	return a1 == b1 && a2 == b2;
}

static bool bytes_eq(const char *a, const char *b, size_t n)
{
	return n <= 16 ? eq_short(a, b, n) : memcmp(a, b, n) == 0;
}

/* ---- interned byte strings ---- */

static void names_release(struct names *d)
{
	free(d->v);
	free(d->slot);
	arena_release(&d->text);
	memset(d, 0, sizeof(*d));
}

static size_t names_bytes(const struct names *d)
{
	return d->cap * sizeof(*d->v) + d->nslot * sizeof(*d->slot) + d->text.used;
}

bool names_find(const struct names *d, const void *p, size_t n, uint64_t h, uint32_t *id)
{
	if (!d->nslot)
		return false;
	for (size_t i = h & (d->nslot - 1); d->slot[i]; i = (i + 1) & (d->nslot - 1)) {
		if (d->slot[i] >> 32 != h >> 32)
			continue;
		uint32_t k = (uint32_t)d->slot[i] - 1;
		const struct name *e = &d->v[k];
		if (e->h != h || e->n != n)
			continue;
		if (n <= NAME_INLINE ? eq_short(e->s.in, p, n) : memcmp(e->s.p, p, n) == 0) {
			*id = k;
			return true;
		}
	}
	return false;
}

/* Prefetch what names_find(h) will read. */
static void names_prefetch(const struct names *d, uint64_t h)
{
	if (!d->nslot)
		return;
	for (size_t i = h & (d->nslot - 1); d->slot[i]; i = (i + 1) & (d->nslot - 1))
		if (d->slot[i] >> 32 == h >> 32) {
			__builtin_prefetch(&d->v[(uint32_t)d->slot[i] - 1]);
			return;
		}
}

/* The id of p, added when new: -E2BIG when that would make more than max. */
static int names_put(struct names *d, const void *p, size_t n, uint64_t h, size_t max, uint32_t *id)
{
	if (names_find(d, p, n, h, id))
		return 0;
	if (d->n >= max || n > UINT32_MAX)
		return -E2BIG;
	if ((d->n + 1) * 4 > d->nslot * 3) {
		size_t nslot = d->nslot ? d->nslot * 2 : 64;
		uint64_t *sl = calloc(nslot, sizeof(*sl));
		if (!sl)
			return -ENOMEM;
		for (size_t k = 0; k < d->n; k++) {
			size_t i = d->v[k].h & (nslot - 1);
			while (sl[i])
				i = (i + 1) & (nslot - 1);
			sl[i] = (d->v[k].h >> 32) << 32 | (k + 1);
		}
		free(d->slot);
		d->slot = sl;
		d->nslot = nslot;
	}
	if (d->n == d->cap) {
		/* Aligned to cache lines, so that an entry is one line, not two. */
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct name *v = aligned_alloc(64, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		if (d->n)
			memcpy(v, d->v, d->n * sizeof(*v));
		free(d->v);
		d->v = v;
		d->cap = cap;
	}
	struct name *e = &d->v[d->n];
	memset(e, 0, sizeof(*e));
	if (n > NAME_INLINE) {
		char *copy = arena_alloc(&d->text, n);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, p, n);
		e->s.p = copy;
	} else if (n) {
		memcpy(e->s.in, p, n);
	}
	e->h = h;
	e->n = (uint32_t)n;
	size_t i = h & (d->nslot - 1);
	while (d->slot[i])
		i = (i + 1) & (d->nslot - 1);
	d->slot[i] = (h >> 32) << 32 | (d->n + 1);
	*id = (uint32_t)d->n++;
	return 0;
}

/* ---- the counts of a segment ---- */

static void topt_release(struct topt *t)
{
	names_release(&t->values);
	for (size_t p = 0; p < t->nper; p++) {
		free(t->per[p].cell);
		free(t->per[p].pk);
		free(t->per[p].tstart);
	}
	free(t->per);
	free(t->log);
	memset(t, 0, sizeof(*t));
}

static size_t topt_bytes(const struct topt *t)
{
	size_t n = names_bytes(&t->values) + t->nper * sizeof(*t->per);
	for (size_t p = 0; p < t->nper; p++)
		n += t->per[p].nslot * sizeof(struct cell) +
		     (t->per[p].pk ? t->per[p].ncell * sizeof(struct pcell) +
					 (t->per[p].ntype + 1) * sizeof(uint32_t)
				   : 0);
	return n;
}

static size_t field_bytes(const struct segcounts *c, int i)
{
	return topt_bytes(&c->t[i]) + (i == 0 ? topt_bytes(&c->t[T_IPV4]) : 0);
}

static size_t counts_bytes(const struct segcounts *c)
{
	size_t n = sizeof(*c) + names_bytes(&c->types) + names_bytes(&c->periods);
	for (int k = 0; k < TOP_TABLES; k++)
		n += topt_bytes(&c->t[k]);
	return n;
}

static void counts_free(struct segcounts *c)
{
	if (!c)
		return;
	names_release(&c->types);
	names_release(&c->periods);
	for (int k = 0; k < TOP_TABLES; k++)
		topt_release(&c->t[k]);
	free(c);
}

/* Give up keeping field i of c in memory (under the lock): queries count it from the
 * events. */
static void field_over(struct segcounts *c, int i, const char *why)
{
	if (c->over[i])
		return;
	topt_release(&c->t[i]);
	if (i == 0)
		topt_release(&c->t[T_IPV4]);
	c->over[i] = true;
	metric_add(&m_fallback[i], 1);
	log_warn(SUB, "segment %lld: %s counted from the events from now on (%s)",
		 (long long)c->seg_id, stats_field_name((enum stats_field)(STATS_SOURCE_IP + i)),
		 why);
}

static void count_failed(struct segcounts *c, int i, int rc)
{
	field_over(c, i,
		   rc == -E2BIG	      ? "too many event types, periods or values in one segment"
		   : rc == -EOVERFLOW ? "a count outgrew 32 bits"
				      : "out of memory");
}

/* Past the memory bound: drop the biggest field. */
static void enforce_limit(struct segcounts *c)
{
	while (counts_bytes(c) > mem_limit) {
		int big = -1;
		size_t most = 0;
		for (int i = 0; i < TOP_FIELDS; i++) {
			size_t b = field_bytes(c, i);
			if (!c->over[i] && b >= most) {
				most = b;
				big = i;
			}
		}
		if (big < 0)
			return;
		field_over(c, big, "too many distinct values for the memory bound");
	}
}

static size_t cell_hash(uint32_t value, uint32_t type)
{
	uint64_t k = (uint64_t)value << 32 | type;
	k = (k ^ (k >> 33)) * 0xff51afd7ed558ccdULL;
	k = (k ^ (k >> 33)) * 0xc4ceb9fe1a85ec53ULL;
	return (size_t)(k ^ (k >> 33));
}

/* Period pid's table of t when it is hashed, else NULL. */
static struct ptab *ptab_of(const struct topt *t, uint32_t pid)
{
	return pid < t->nper && t->per[pid].nslot ? &t->per[pid] : NULL;
}

static int pcell_cmp(const void *x, const void *y)
{
	const struct cell *a = x, *b = y;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return (a->value > b->value) - (a->value < b->value);
}

/* Pack period pid's hashed table of t (under the lock, with no transaction logged): cells
 * a rolled-back transaction made and never counted are left out. ntype: the segment's
 * event types. */
static int ptab_pack(struct topt *t, uint32_t pid, uint32_t ntype)
{
	struct ptab *pt = &t->per[pid];
	size_t n = 0;
	for (size_t k = 0; k < pt->nslot; k++)
		n += pt->cell[k].type != CELL_FREE && pt->cell[k].count;
	struct pcell *pk = malloc((n ? n : 1) * sizeof(*pk));
	uint32_t *ts = malloc(((size_t)ntype + 1) * sizeof(*ts));
	if (!pk || !ts) {
		free(pk);
		free(ts);
		return -ENOMEM;
	}
	n = 0;
	for (size_t k = 0; k < pt->nslot; k++)
		if (pt->cell[k].type != CELL_FREE && pt->cell[k].count)
			pt->cell[n++] = pt->cell[k];
	qsort(pt->cell, n, sizeof(*pt->cell), pcell_cmp);
	for (size_t k = 0, ty = 0; ty <= ntype; ty++) {
		while (k < n && pt->cell[k].type < ty)
			k++;
		ts[ty] = (uint32_t)k;
	}
	for (size_t k = 0; k < n; k++)
		pk[k] = (struct pcell){pt->cell[k].value, pt->cell[k].count};
	t->ncell -= pt->ncell - n;
	free(pt->cell);
	*pt = (struct ptab){NULL, 0, (uint32_t)n, pk, ts, ntype, false};
	return 0;
}

/* The index of (value, type) in packed pt, -1 when it has none. */
static int64_t ptab_search(const struct ptab *pt, uint32_t value, uint32_t type)
{
	if (type >= pt->ntype)
		return -1;
	uint32_t lo = pt->tstart[type], hi = pt->tstart[type + 1];
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (pt->pk[mid].value < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pt->tstart[type + 1] && pt->pk[lo].value == value ? (int64_t)lo : -1;
}

void ptab_each(const struct ptab *pt, const uint8_t *ok_type, cell_fn fn, void *arg)
{
	if (pt->pk) {
		for (uint32_t ty = 0; ty < pt->ntype; ty++)
			for (uint32_t k = pt->tstart[ty];
			     (!ok_type || ok_type[ty]) && k < pt->tstart[ty + 1]; k++)
				if (pt->pk[k].count)
					fn(arg, ty, pt->pk[k].value, pt->pk[k].count);
		return;
	}
	for (uint32_t k = 0; k < pt->nslot; k++) {
		const struct cell *x = &pt->cell[k];
		if (x->type != CELL_FREE && x->count && (!ok_type || ok_type[x->type]))
			fn(arg, x->type, x->value, x->count);
	}
}

/* The count a log entry of t names. */
static uint32_t *log_count(const struct topt *t, uint64_t e)
{
	struct ptab *pt = &t->per[e >> 32];
	return pt->pk ? &pt->pk[(uint32_t)e].count : &pt->cell[(uint32_t)e].count;
}

/* Twice the slots of period pid's table (made with 16 when new); the open transaction's log
 * follows its cells. */
static int cells_grow(struct topt *t, uint32_t pid)
{
	if (pid >= t->nper) {
		size_t nper = pid + 16;
		struct ptab *per = realloc(t->per, nper * sizeof(*per));
		if (!per)
			return -ENOMEM;
		memset(per + t->nper, 0, (nper - t->nper) * sizeof(*per));
		t->per = per;
		t->nper = nper;
	}
	struct ptab *pt = &t->per[pid];
	size_t had = pt->pk ? pt->ncell : pt->nslot; /* the log's indices: cells or slots */
	size_t nslot = pt->nslot ? (size_t)pt->nslot * 2 : 16;
	while (nslot * 3 < ((size_t)pt->ncell + 1) * 4)
		nslot *= 2;
	if (nslot > (size_t)1 << 31)
		return -E2BIG;
	struct cell *n = malloc(nslot * sizeof(*n));
	uint32_t *moved = t->nlog && had ? malloc(had * sizeof(*moved)) : NULL;
	if (!n || (t->nlog && had && !moved)) {
		free(n);
		free(moved);
		return -ENOMEM;
	}
	memset(n, 0xff, nslot * sizeof(*n)); /* every type CELL_FREE */
	for (size_t k = 0, ty = 0; k < had; k++) {
		struct cell x;
		if (pt->pk) {
			while (pt->tstart[ty + 1] <= k)
				ty++;
			x = (struct cell){pt->pk[k].value, pt->pk[k].count, (uint16_t)ty};
		} else if ((x = pt->cell[k]).type == CELL_FREE) {
			continue;
		}
		size_t i = cell_hash(x.value, x.type) & (nslot - 1);
		while (n[i].type != CELL_FREE)
			i = (i + 1) & (nslot - 1);
		n[i] = x;
		if (moved)
			moved[k] = (uint32_t)i;
	}
	for (size_t k = 0; moved && k < t->nlog; k++)
		if (t->log[k] >> 32 == pid)
			t->log[k] = (uint64_t)pid << 32 | moved[(uint32_t)t->log[k]];
	free(moved);
	free(pt->cell);
	if (pt->pk) {
		free(pt->pk);
		free(pt->tstart);
		pt->pk = NULL;
		pt->tstart = NULL;
		pt->ntype = 0;
		pt->rehashed = true;
	}
	pt->cell = n;
	pt->nslot = (uint32_t)nslot;
	return 0;
}

/* The slot of (value, type) in pt, hash ch: true when it is there, else the free slot it
 * would take. */
static bool cell_find(const struct ptab *pt, uint32_t value, uint32_t type, size_t ch, size_t *slot)
{
	for (size_t i = ch & (pt->nslot - 1);; i = (i + 1) & (pt->nslot - 1)) {
		const struct cell *x = &pt->cell[i];
		*slot = i;
		if (x->type == CELL_FREE)
			return false;
		if (x->value == value && x->type == type)
			return true;
	}
}

/* Count (value, type) of period pid of t for the open transaction (under the lock). *grew
 * tells that memory was allocated. */
static int cell_count(struct topt *t, uint32_t value, uint32_t type, uint32_t pid, size_t ch,
		      bool *grew)
{
	struct ptab *pt = ptab_of(t, pid);
	size_t i = 0;
	int64_t at;
	int rc;
	if (pid < t->nper && t->per[pid].pk && (at = ptab_search(&t->per[pid], value, type)) >= 0) {
		i = (size_t)at; /* a late event for a packed period */
	} else if (!pt || !cell_find(pt, value, type, ch, &i)) {
		if (!pt || (pt->ncell + 1) * 4 > pt->nslot * 3) {
			if ((rc = cells_grow(t, pid)) < 0)
				return rc;
			*grew = true;
			pt = &t->per[pid];
			cell_find(pt, value, type, ch, &i);
		}
		pt->cell[i] = (struct cell){value, 0, (uint16_t)type};
		pt->ncell++;
		t->ncell++;
	}
	if (t->nlog == t->caplog) {
		size_t cap = t->caplog ? t->caplog * 2 : 1024;
		uint64_t *l = realloc(t->log, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		t->log = l;
		t->caplog = cap;
	}
	t->log[t->nlog] = (uint64_t)pid << 32 | i;
	uint32_t *n = log_count(t, t->log[t->nlog]);
	if (*n == UINT32_MAX)
		return -EOVERFLOW;
	++*n;
	t->nlog++;
	return 0;
}

/* Count the batch's values into c. A value takes up to four steps, each reading what the
 * one before prefetched: its name's slot, its name, its cell. The steps run PIPE values
 * apart, so that the cache misses of different values overlap instead of following one
 * another: they are most of the cost once a segment's values outgrow the caches. IPv4
 * addresses, which need no name, go first, in two passes. The lock is taken once for the
 * batch (tens of microseconds). */
static void top_resolve(struct stats_rollup *r, struct segcounts *c)
{
	struct item *it = r->item;
	size_t n = r->nitem, first4 = BATCH_ITEMS - r->nitem4;
	bool grew = false;
	int e;
	pthread_mutex_lock(&r->mu);
	for (size_t k = first4; k < BATCH_ITEMS && !c->over[0]; k++) {
		const struct ptab *pt = ptab_of(&c->t[T_IPV4], it[k].period);
		it[k].ch = cell_hash(it[k].value, it[k].type);
		if (pt)
			__builtin_prefetch(&pt->cell[it[k].ch & (pt->nslot - 1)]);
	}
	for (size_t k = first4; k < BATCH_ITEMS && !c->over[0]; k++)
		if ((e = cell_count(&c->t[T_IPV4], it[k].value, it[k].type, it[k].period, it[k].ch,
				    &grew)) < 0)
			count_failed(c, 0, e);
	for (size_t s = 0; s < n + 3 * PIPE; s++) {
		struct item *x;
		struct topt *t;
		if (s < n && !c->over[(x = &it[s])->table] && (t = &c->t[x->table])->values.nslot)
			__builtin_prefetch(&t->values.slot[x->h & (t->values.nslot - 1)]);
		if (s >= PIPE && s - PIPE < n && !c->over[(x = &it[s - PIPE])->table])
			names_prefetch(&c->t[x->table].values, x->h);
		if (s >= 2 * PIPE && s - 2 * PIPE < n && !c->over[(x = &it[s - 2 * PIPE])->table]) {
			size_t had = (t = &c->t[x->table])->values.n;
			if ((e = names_put(&t->values, x->p, x->n, x->h, UINT32_MAX - 1,
					   &x->value)) < 0) {
				count_failed(c, x->table, e);
			} else {
				const struct ptab *pt = ptab_of(t, x->period);
				grew |= t->values.n != had;
				x->ch = cell_hash(x->value, x->type);
				if (pt)
					__builtin_prefetch(&pt->cell[x->ch & (pt->nslot - 1)]);
			}
		}
		if (s >= 3 * PIPE && !c->over[(x = &it[s - 3 * PIPE])->table] &&
		    (e = cell_count(&c->t[x->table], x->value, x->type, x->period, x->ch, &grew)) <
			0)
			count_failed(c, x->table, e);
	}
	if (grew)
		enforce_limit(c);
	pthread_mutex_unlock(&r->mu);
	r->nitem = r->nitem4 = r->nbatch = 0;
	arena_reset(&r->barena);
}

static struct sv or_empty(struct sv v)
{
	return v.p ? v : (struct sv){"", 0};
}

/* The writer is the only thread that changes the counts: it looks them up without the
 * lock, and takes it to add to them. */
static int locked_put(struct stats_rollup *r, struct names *d, const void *p, size_t n, uint64_t h,
		      uint32_t *id)
{
	pthread_mutex_lock(&r->mu);
	int rc = names_put(d, p, n, h, ID_MAX, id);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Queue ev's top-field values for c's next batch lookup (type: its event type, th: that
 * type's hash). */
static void top_count(struct stats_rollup *r, struct segcounts *c, const struct event *ev,
		      struct sv type, uint64_t th)
{
	struct sv v[TOP_FIELDS] = {
	    {(ev->flags & EV_HAS_IP) ? (const char *)ev->ip : NULL, 16},
	    ev->user,
	    ev->source_host,
	    ev->app,
	    {NULL, 0},
	};
	uint32_t tid = 0, pid = 0;
	char dom[256];
	int rc = 0;
	size_t dn = stats_event_domain(ev->event_type.p, ev->event_type.n, ev->data.p, ev->data.n,
				       ev->message.p, ev->message.n, dom);
	if (dn)
		v[4] = (struct sv){dom, dn};
	int64_t period = floor_div(ev->ts, PERIOD_US);
	if (!names_find(&c->types, type.p, type.n, th, &tid))
		rc = locked_put(r, &c->types, type.p, type.n, th, &tid);
	if (rc == 0 && (period != c->last_period || !c->periods.n)) {
		uint64_t ph = stats_hash_mem(&period, sizeof(period), r->seed);
		if (!names_find(&c->periods, &period, sizeof(period), ph, &pid))
			rc = locked_put(r, &c->periods, &period, sizeof(period), ph, &pid);
		if (rc == 0) {
			c->last_period = period;
			c->last_pid = pid;
			if (period > c->newest_period)
				c->newest_period = period;
		}
	}
	for (int i = 0; i < TOP_FIELDS; i++) {
		struct item *x = &r->item[r->nitem];
		if (!v[i].p || c->over[i])
			continue;
		if (rc < 0) {
			pthread_mutex_lock(&r->mu);
			count_failed(c, i, rc);
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		if (i == 0 && memcmp(ev->ip, v4_prefix, sizeof(v4_prefix)) == 0) {
			x = &r->item[BATCH_ITEMS - ++r->nitem4];
			x->value = (uint32_t)ev->ip[12] << 24 | (uint32_t)ev->ip[13] << 16 |
				   (uint32_t)ev->ip[14] << 8 | ev->ip[15];
			x->type = (uint16_t)tid;
			x->period = (uint16_t)c->last_pid;
			continue;
		}
		x->type = (uint16_t)tid;
		x->period = (uint16_t)c->last_pid;
		x->table = (uint8_t)i;
		if (v[i].n <= NAME_INLINE) {
			copy_short(x->in, v[i].p, v[i].n);
			x->p = x->in;
		} else if (!(x->p = arena_strndup(&r->barena, v[i].p, v[i].n))) {
			pthread_mutex_lock(&r->mu);
			count_failed(c, i, -ENOMEM);
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		x->n = (uint32_t)v[i].n;
		x->h = stats_hash_mem(v[i].p, v[i].n, r->seed + (uint64_t)i + 1);
		r->nitem++;
	}
	if (++r->nbatch == BATCH_EVENTS)
		top_resolve(r, c);
}

/* The transaction committed (under the lock): what it counted is no longer taken out. */
static void publish(struct segcounts *c)
{
	for (int k = 0; k < TOP_TABLES; k++)
		c->t[k].nlog = 0;
	if (c->newest_period - 2 <= c->packed_below)
		return;
	/* The events have moved on: pack the periods they left. */
	c->packed_below = c->newest_period - 2;
	for (int k = 0; k < TOP_TABLES; k++) {
		struct topt *t = &c->t[k];
		for (uint32_t p = 0; p < t->nper && p < c->periods.n; p++) {
			int64_t v;
			memcpy(&v, name_bytes(&c->periods.v[p]), sizeof(v));
			if (t->per[p].nslot && !t->per[p].rehashed && v < c->packed_below &&
			    ptab_pack(t, p, (uint32_t)c->types.n) < 0)
				break; /* out of memory: stays hashed */
		}
	}
}

static void update_bytes_metric(struct stats_rollup *r)
{
	size_t n = 0;
	if (r->cur)
		n += counts_bytes(r->cur);
	for (struct segcounts *c = r->sealed; c; c = c->next)
		n += counts_bytes(c);
	metric_set(&m_bytes, (int64_t)n);
}

/* The active segment's counts from its events (after a restart). */
static int counts_load(struct stats_rollup *r, struct segcounts *c, sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int r2, n = 0;
	if (sqlite3_prepare_v2(
		db, "SELECT ts, event_type, ip, user, host, app, data, message FROM events", -1,
		&st, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats counts");
	while ((r2 = sqlite3_step(st)) == SQLITE_ROW) {
		struct event ev;
		memset(&ev, 0, sizeof(ev));
		ev.ts = sqlite3_column_int64(st, 0);
		struct sv *col[] = {&ev.event_type, NULL, &ev.user, &ev.source_host, &ev.app};
		for (int i = 0; i < 5; i++) {
			if (!col[i])
				continue;
			col[i]->p = (const char *)sqlite3_column_text(st, i + 1);
			col[i]->n = (size_t)sqlite3_column_bytes(st, i + 1);
		}
		if (sqlite3_column_bytes(st, 2) == 16) {
			memcpy(ev.ip, sqlite3_column_blob(st, 2), 16);
			ev.flags |= EV_HAS_IP;
		}
		if (stats_dns_type(ev.event_type.p, ev.event_type.n)) {
			ev.data.p = (const char *)sqlite3_column_text(st, 6);
			ev.data.n = (size_t)sqlite3_column_bytes(st, 6);
			ev.message.p = (const char *)sqlite3_column_text(st, 7);
			ev.message.n = (size_t)sqlite3_column_bytes(st, 7);
		}
		struct sv type = or_empty(ev.event_type);
		top_count(r, c, &ev, type, stats_hash_mem(type.p, type.n, r->seed));
		if (++n % 4096 == 0) {
			top_resolve(r, c);
			publish(c); /* not shared yet: no lock needed */
		}
	}
	top_resolve(r, c);
	publish(c);
	sqlite3_finalize(st);
	return r2 == SQLITE_DONE ? 0 : store_sql_err(db, "stats counts");
}

/* ---- per-minute counts of the open transaction ---- */

static int minute_cmp(const void *x, const void *y)
{
	const struct mentry *a = *(const struct mentry *const *)x;
	const struct mentry *b = *(const struct mentry *const *)y;
	int c;
	if (a->minute != b->minute)
		return a->minute < b->minute ? -1 : 1;
	if ((c = cmp_bytes(a->os, a->nos, b->os, b->nos)))
		return c;
	if ((c = cmp_bytes(a->type, a->ntype, b->type, b->ntype)))
		return c;
	return (a->sev > b->sev) - (a->sev < b->sev);
}

/* Clear only the slots the transaction used: a small transaction uses a few of them, and
 * zeroing the whole table cost more than the rest of its commit. */
static void minutes_reset(struct stats_rollup *r)
{
	for (size_t i = 0; i < r->mused; i++)
		memset(r->morder[i], 0, sizeof(*r->morder[i]));
	r->mused = 0;
	arena_reset(&r->marena);
}

/* Upsert the aggregated minutes in the tables' key order, so that the B-tree is walked
 * forward. */
static int minutes_write(struct stats_rollup *r)
{
	size_t n = r->mused;
	qsort(r->morder, n, sizeof(r->morder[0]), minute_cmp);
	for (size_t i = 0; i < n; i++) {
		struct mentry *e = r->morder[i];
		sqlite3_stmt *st = r->up_minute;
		sqlite3_bind_int64(st, 1, e->minute);
		sqlite3_bind_text(st, 2, e->os, (int)e->nos, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e->type, (int)e->ntype, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, e->sev);
		sqlite3_bind_int64(st, 5, e->count);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return store_sql_err(r->db, "stats rollup");
	}
	minutes_reset(r);
	return 0;
}

static int minute_bump(struct stats_rollup *r, int64_t minute, int sev, struct sv os,
		       struct sv type, uint64_t th)
{
	int rc;
	uint64_t h = stats_hash_mem(
	    os.p, os.n, th ^ ((uint64_t)minute * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)(unsigned)sev);
	for (size_t s = h & (MINUTE_SLOTS - 1);; s = (s + 1) & (MINUTE_SLOTS - 1)) {
		struct mentry *e = &r->mslot[s];
		if (!e->os)
			break;
		if (e->h == h && e->minute == minute && e->sev == sev && e->nos == os.n &&
		    e->ntype == type.n && bytes_eq(e->os, os.p, os.n) &&
		    bytes_eq(e->type, type.p, type.n)) {
			e->count++;
			return 0;
		}
	}
	if (r->mused >= MINUTE_SLOTS * 3 / 4 && (rc = minutes_write(r)) < 0)
		return rc; /* full: write what we have, still inside the transaction */
	size_t s = h & (MINUTE_SLOTS - 1);
	while (r->mslot[s].os)
		s = (s + 1) & (MINUTE_SLOTS - 1);
	struct mentry *e = &r->mslot[s];
	if (!(e->os = arena_strndup(&r->marena, os.p, os.n)))
		return -ENOMEM;
	if (!(e->type = arena_strndup(&r->marena, type.p, type.n))) {
		e->os = NULL; /* the last of its probe run: free again */
		return -ENOMEM;
	}
	e->h = h;
	e->nos = (uint32_t)os.n;
	e->ntype = (uint32_t)type.n;
	e->minute = minute;
	e->sev = sev;
	e->count = 1;
	r->morder[r->mused++] = e;
	return 0;
}

/* ---- the hooks ---- */

static const char rollup_ddl[] =
    "CREATE TABLE stats_minute(minute INTEGER NOT NULL, os_type TEXT NOT NULL,"
    " event_type TEXT NOT NULL, severity INTEGER NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(minute, os_type, event_type, severity)) WITHOUT ROWID;"
    "CREATE TABLE stats_top(field INTEGER NOT NULL, event_type TEXT NOT NULL,"
    " period INTEGER NOT NULL, value TEXT NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(field, event_type, period, value)) WITHOUT ROWID;";

int stats_rollup_tables(sqlite3 *db, int *flags)
{
	sqlite3_stmt *st = NULL;
	int r;
	*flags = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT name FROM sqlite_master WHERE type = 'table'"
			       " AND name IN ('stats_minute', 'stats_top', 'stats_total')",
			       -1, &st, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats tables");
	int n = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (strcmp(name, "stats_total") == 0)
			*flags |= ROLL_TOTALS;
		else
			n++;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return store_sql_err(db, "stats tables");
	if (n == 2)
		*flags |= ROLL_KEPT;
	else
		*flags = 0;
	return 0;
}

static const char backfill_minute_sql[] =
    "INSERT INTO stats_minute SELECT ts / 60000000, coalesce(os_type, ''),"
    " coalesce(event_type, ''), coalesce(severity, 0), count(*) FROM events GROUP BY 1, 2, 3, 4;";

int stats_segment_row(sqlite3 *db, const char *what, struct seg_row *out)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, rows, min_ts, max_ts FROM segment", -1, &st, NULL) !=
	    SQLITE_OK)
		return store_sql_err(db, what);
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		out->rows = sqlite3_column_int64(st, 1);
		out->min_ts = sqlite3_column_int64(st, 2);
		out->max_ts = sqlite3_column_int64(st, 3);
	} else {
		rc = store_sql_err(db, what);
	}
	sqlite3_finalize(st);
	return rc;
}

static int rollup_new(struct stats_rollup **out)
{
	struct stats_rollup *r = calloc(1, sizeof(*r));
	uint8_t seed[16];
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->published, NULL);
	arena_init(&r->marena, 0);
	arena_init(&r->barena, 0);
	uuid_v4(seed);
	memcpy(&r->seed, seed, sizeof(r->seed));
	for (int i = 0; i < TOP_FIELDS; i++)
		metric_register(&m_fallback[i]);
	metric_register(&m_dropped);
	metric_register(&m_bytes);
	*out = r;
	return 0;
}

int stats_rollup_init(struct stats_rollup **out, sqlite3 *writer)
{
	struct stats_rollup *r = *out;
	struct segcounts *c = NULL;
	bool fresh = !r;
	int rc, flags = 0;
	if (fresh && (rc = rollup_new(&r)) < 0)
		return rc;
	sqlite3_finalize(r->up_minute);
	r->up_minute = NULL;
	r->db = writer;
	if ((rc = stats_register_fns(writer)) < 0 || (rc = stats_rollup_tables(writer, &flags)) < 0)
		goto fail;
	if (!(flags & ROLL_KEPT)) {
		/* A segment written before rollups existed: its per-minute counts from its
		 * events, in one transaction, so that a reader sees them complete or not at all. */
		int64_t t0 = ts_now_us();
		if ((rc = store_exec(writer, "BEGIN IMMEDIATE")) < 0)
			goto fail;
		if ((rc = store_exec(writer, rollup_ddl)) < 0 ||
		    (rc = store_exec(writer, backfill_minute_sql)) < 0 ||
		    (rc = store_exec(writer, "COMMIT")) < 0) {
			store_exec(writer, "ROLLBACK");
			goto fail;
		}
		int64_t ms = (ts_now_us() - t0) / 1000;
		if (ms > 100)
			log_info(SUB, "rollups of the active segment built in %lld ms",
				 (long long)ms);
	}
	if (sqlite3_prepare_v3(writer,
			       "INSERT INTO stats_minute VALUES(?,?,?,?,?) ON CONFLICT DO UPDATE"
			       " SET count = count + excluded.count",
			       -1, SQLITE_PREPARE_PERSISTENT, &r->up_minute, NULL) != SQLITE_OK) {
		rc = store_sql_err(writer, "stats rollup");
		goto fail;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		rc = -ENOMEM;
		goto fail;
	}
	struct seg_row sr;
	if ((rc = stats_segment_row(writer, "stats segment", &sr)) < 0)
		goto fail;
	c->seg_id = sr.id;
	c->rows = sr.rows;
	c->min_ts = sr.min_ts;
	c->max_ts = sr.max_ts;
	if (c->rows > 0) {
		/* After a restart: the counts were in memory only. */
		int64_t t0 = ts_now_us(), rows = c->rows;
		c->rows = 0;
		if ((rc = counts_load(r, c, writer)) < 0)
			goto fail;
		c->rows = rows;
		log_info(SUB, "top-N counts of segment %lld (%lld events) loaded in %lld ms",
			 (long long)c->seg_id, (long long)rows,
			 (long long)(ts_now_us() - t0) / 1000);
	}
	pthread_mutex_lock(&r->mu);
	counts_free(r->cur);
	r->cur = c;
	update_bytes_metric(r);
	pthread_mutex_unlock(&r->mu);
	*out = r;
	return 0;
fail:
	counts_free(c);
	if (fresh) {
		stats_rollup_free(r);
	} else {
		sqlite3_finalize(r->up_minute);
		r->up_minute = NULL;
		r->db = NULL;
	}
	return rc;
}

void stats_rollup_free(struct stats_rollup *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->up_minute);
	counts_free(r->cur);
	while (r->sealed) {
		struct segcounts *c = r->sealed;
		r->sealed = c->next;
		counts_free(c);
	}
	arena_release(&r->marena);
	arena_release(&r->barena);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->published);
	free(r);
}

void stats_rollup_roll(struct stats_rollup *r)
{
	if (!r)
		return;
	stats_rollup_reset(r);
	sqlite3_finalize(r->up_minute);
	r->up_minute = NULL;
	r->db = NULL;
	pthread_mutex_lock(&r->mu);
	struct segcounts *c = r->cur;
	r->cur = NULL;
	if (c) {
		/* Nothing counts into it any more: packed, it takes about half the memory. */
		for (int k = 0; k < TOP_TABLES; k++) {
			struct topt *t = &c->t[k];
			free(t->log);
			t->log = NULL;
			t->nlog = t->caplog = 0;
			for (uint32_t p = 0; p < t->nper && p < c->periods.n; p++)
				if (t->per[p].nslot && !t->per[p].rehashed)
					ptab_pack(t, p, (uint32_t)c->types.n);
		}
		c->next = r->sealed;
		r->sealed = c;
	}
	/* A lagging indexer: past the bound, the oldest sealed counts leave memory (their
	 * queries scan until the indexer writes their tables from the events). */
	size_t n = 0;
	for (struct segcounts **p = &r->sealed; *p;) {
		struct segcounts *x = *p;
		size_t b = counts_bytes(x);
		if (n + b > PENDING_LIMITS * mem_limit && x != r->sealed && !x->pins) {
			*p = x->next;
			log_warn(SUB,
				 "segment %lld: top-N counts dropped from memory before indexing",
				 (long long)x->seg_id);
			counts_free(x);
			metric_add(&m_dropped, 1);
			continue;
		}
		n += b;
		p = &x->next;
	}
	update_bytes_metric(r);
	pthread_mutex_unlock(&r->mu);
}

void stats_rollup_reset(struct stats_rollup *r)
{
	if (!r)
		return;
	minutes_reset(r);
	r->txn_rows = 0;
	r->txn_min = INT64_MAX;
	r->txn_max = INT64_MIN;
	if (r->cur) {
		pthread_mutex_lock(&r->mu);
		for (int k = 0; k < TOP_TABLES; k++) {
			struct topt *t = &r->cur->t[k];
			for (size_t j = 0; j < t->nlog; j++)
				--*log_count(t, t->log[j]);
			t->nlog = 0;
		}
		pthread_mutex_unlock(&r->mu);
	}
	r->nitem = r->nitem4 = r->nbatch = 0;
	arena_reset(&r->barena);
}

int stats_rollup_add(struct stats_rollup *r, const struct event *ev)
{
	int rc;
	if (!r || !r->db)
		return 0;
	struct sv type = or_empty(ev->event_type);
	uint64_t th = stats_hash_mem(type.p, type.n, r->seed);
	if ((rc = minute_bump(r, floor_div(ev->ts, MINUTE_US), ev->severity, or_empty(ev->os_type),
			      type, th)) < 0)
		return rc;
	r->txn_rows++;
	if (ev->ts < r->txn_min)
		r->txn_min = ev->ts;
	if (ev->ts > r->txn_max)
		r->txn_max = ev->ts;
	if (r->cur)
		top_count(r, r->cur, ev, type, th);
	return 0;
}

int stats_rollup_flush(struct stats_rollup *r)
{
	return r && r->db ? minutes_write(r) : 0;
}

void stats_rollup_commit(struct stats_rollup *r)
{
	if (!r || !r->cur)
		return;
	if (r->nbatch)
		top_resolve(r, r->cur);
	pthread_mutex_lock(&r->mu);
	struct segcounts *c = r->cur;
	publish(c);
	if (r->txn_rows > 0) {
		c->rows += r->txn_rows;
		if (r->txn_min < c->min_ts)
			c->min_ts = r->txn_min;
		if (r->txn_max > c->max_ts)
			c->max_ts = r->txn_max;
		update_bytes_metric(r);
	}
	pthread_cond_broadcast(&r->published);
	pthread_mutex_unlock(&r->mu);
	r->txn_rows = 0;
	r->txn_min = INT64_MAX;
	r->txn_max = INT64_MIN;
}

/* ---- for the indexer and the readers ---- */

size_t stats_ipv4_format(uint32_t a, char buf[46])
{
	uint8_t ip[16];
	memcpy(ip, v4_prefix, sizeof(v4_prefix));
	ip[12] = (uint8_t)(a >> 24), ip[13] = (uint8_t)(a >> 16), ip[14] = (uint8_t)(a >> 8);
	ip[15] = (uint8_t)a;
	return ip_format(ip, buf);
}

struct segcounts *stats_rollup_counts(struct stats_rollup *r, int64_t seg_id)
{
	if (r->cur && r->cur->seg_id == seg_id)
		return r->cur;
	for (struct segcounts *c = r->sealed; c; c = c->next)
		if (c->seg_id == seg_id)
			return c;
	return NULL;
}

void stats_rollup_sealed(struct stats_rollup *r, int64_t seg_id)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	for (struct segcounts **p = &r->sealed; *p; p = &(*p)->next) {
		struct segcounts *c = *p;
		if (c->seg_id == seg_id && !c->pins) {
			*p = c->next;
			counts_free(c);
			break;
		}
	}
	update_bytes_metric(r);
	pthread_mutex_unlock(&r->mu);
}
