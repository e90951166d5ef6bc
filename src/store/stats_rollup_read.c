/* stats_rollup_read.c — top-N counts of the active segment, or of a sealed one the indexer
 * has not written out, read from memory by a query: the counts its snapshot sees. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "store/stats_int.h"

#define WAIT_PUBLISH_US 2000000 /* a reader waits this long for a commit to be published */

/* The type and value of the cell a log entry of t names. */
static void log_cell(const struct topt *t, uint64_t e, uint32_t *type, uint32_t *value)
{
	const struct ptab *pt = &t->per[e >> 32];
	uint32_t k = (uint32_t)e;
	if (!pt->pk) {
		*type = pt->cell[k].type;
		*value = pt->cell[k].value;
		return;
	}
	uint32_t lo = 0, hi = pt->ntype; /* the last type whose range starts at or before k */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (pt->tstart[mid] <= k)
			lo = mid;
		else
			hi = mid;
	}
	*type = lo;
	*value = pt->pk[k].value;
}

struct v4_sum {
	uint32_t addr;
	int64_t count;
};

struct v4_ctx {
	struct v4_sum *v;
	size_t n;
};

static void v4_cb(void *arg, uint32_t type, uint32_t value, uint32_t count)
{
	struct v4_ctx *x = arg;
	(void)type;
	x->v[x->n++] = (struct v4_sum){value, count};
}

static void sum_cb(void *arg, uint32_t type, uint32_t value, uint32_t count)
{
	(void)type;
	((int64_t *)arg)[value] += count;
}

static int v4_cmp(const void *x, const void *y)
{
	uint32_t a = ((const struct v4_sum *)x)->addr, b = ((const struct v4_sum *)y)->addr;
	return (a > b) - (a < b);
}

/* Whole periods plo..phi of field i into the job's accumulator (under the lock). The IPv4
 * cells that match go to *v4 (*nv4 of them), summed by the caller once the lock is
 * released. */
static int sum_cells(struct stats_rollup *r, struct segcounts *c, int i, struct top_job *j,
		     int64_t plo, int64_t phi, struct v4_sum **v4, size_t *nv4)
{
	const struct topt *t = &c->t[i], *t4 = &c->t[T_IPV4];
	const struct strset *et = &j->f->event_type;
	uint8_t *ok_type = calloc(c->types.n ? c->types.n : 1, 1);
	uint8_t *ok_period = calloc(c->periods.n ? c->periods.n : 1, 1);
	int64_t *sum = calloc(t->values.n ? t->values.n : 1, sizeof(*sum));
	char buf[46];
	int rc = 0;
	*v4 = NULL;
	*nv4 = 0;
	if (!ok_type || !ok_period || !sum) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t p = 0; p < c->periods.n; p++) {
		int64_t v;
		memcpy(&v, name_bytes(&c->periods.v[p]), sizeof(v));
		ok_period[p] = v >= plo && v <= phi;
	}
	if (!et->n)
		memset(ok_type, 1, c->types.n);
	for (size_t k = 0; k < et->n; k++) {
		uint32_t id;
		size_t n = strlen(et->v[k]);
		if (names_find(&c->types, et->v[k], n, stats_hash_mem(et->v[k], n, r->seed), &id))
			ok_type[id] = 1;
	}
	for (size_t p = 0; p < t->nper && p < c->periods.n; p++)
		if (ok_period[p])
			ptab_each(&t->per[p], ok_type, sum_cb, sum);
	/* The open transaction's counts, not committed: out. */
	for (size_t k = 0; k < t->nlog; k++) {
		uint32_t ty, v;
		log_cell(t, t->log[k], &ty, &v);
		if (ok_period[t->log[k] >> 32] && ok_type[ty])
			sum[v]--;
	}
	for (size_t v = 0; v < t->values.n && rc == 0; v++) {
		const struct name *nm = &t->values.v[v];
		if (!sum[v])
			continue;
		if (i == 0)
			rc = acc_add(j->acc, buf, ip_format((const uint8_t *)name_bytes(nm), buf),
				     0, sum[v]);
		else
			rc = acc_add(j->acc, name_bytes(nm), nm->n, 0, sum[v]);
	}
	if (rc == 0 && i == 0 && t4->ncell) {
		if (!(*v4 = malloc((t4->ncell + t4->nlog) * sizeof(**v4)))) {
			rc = -ENOMEM;
			goto out;
		}
		struct v4_ctx vc = {*v4, 0};
		for (size_t p = 0; p < t4->nper && p < c->periods.n; p++)
			if (ok_period[p])
				ptab_each(&t4->per[p], ok_type, v4_cb, &vc);
		for (size_t k = 0; k < t4->nlog; k++) {
			uint32_t ty, v;
			log_cell(t4, t4->log[k], &ty, &v);
			if (ok_period[t4->log[k] >> 32] && ok_type[ty])
				vc.v[vc.n++] = (struct v4_sum){v, -1};
		}
		*nv4 = vc.n;
	}
out:
	free(ok_type);
	free(ok_period);
	free(sum);
	return rc;
}

/* The IPv4 cells sum_cells found, by address, into the accumulator. */
static int sum_v4(struct top_job *j, struct v4_sum *v, size_t n)
{
	char buf[46];
	int rc = 0;
	qsort(v, n, sizeof(*v), v4_cmp);
	for (size_t k = 0; k < n && rc == 0;) {
		int64_t sum = 0;
		uint32_t a = v[k].addr;
		for (; k < n && v[k].addr == a; k++)
			sum += v[k].count;
		if (sum)
			rc = acc_add(j->acc, buf, stats_ipv4_format(a, buf), 0, sum);
	}
	return rc;
}

int stats_rollup_top(struct sq_store *s, sqlite3 *db, const struct seg_view *g, struct top_job *j,
		     bool *kept)
{
	struct stats_rollup *r = s->rollup;
	int i = (int)j->field - STATS_SOURCE_IP, rc = 0;
	struct v4_sum *v4 = NULL;
	size_t nv4 = 0;
	struct split sp;
	*kept = false;
	if (!r)
		return 0;
	for (int attempt = 0; attempt < 8; attempt++) {
		/* The rows the reader's snapshot of the segment holds. */
		struct seg_row sr;
		if ((rc = stats_segment_row(db, "stats rows", &sr)) < 0)
			return rc;
		int64_t rows = sr.rows;
		pthread_mutex_lock(&r->mu);
		struct segcounts *c = stats_rollup_counts(r, g->id);
		int64_t until = ts_now_us() + WAIT_PUBLISH_US;
		/* The writer has committed what this snapshot sees and is about to publish. */
		while (c && !c->over[i] && c->rows < rows && ts_now_us() < until) {
			struct timespec ts = clock_deadline_ms(10);
			pthread_cond_timedwait(&r->published, &r->mu, &ts);
			c = stats_rollup_counts(r, g->id);
		}
		if (!c || c->over[i] || c->rows < rows) {
			pthread_mutex_unlock(&r->mu);
			return 0;
		}
		if (c->rows > rows) {
			/* The snapshot is older than the counts: read again from a newer one. */
			pthread_mutex_unlock(&r->mu);
			if ((rc = store_exec(db, "COMMIT")) < 0 ||
			    (rc = store_exec(db, "BEGIN")) < 0)
				return rc;
			continue;
		}
		sp = stats_unit_split(j->f->from, j->f->to, c->min_ts, c->max_ts, PERIOD_US);
		if (sp.ulo <= sp.uhi) {
			rc = sum_cells(r, c, i, j, sp.ulo, sp.uhi, &v4, &nv4);
			j->used = true;
		}
		pthread_mutex_unlock(&r->mu);
		*kept = true;
		if (rc == 0 && v4)
			rc = sum_v4(j, v4, nv4);
		free(v4);
		for (int e = 0; e < 2 && rc == 0; e++)
			if (sp.edge[e][0] <= sp.edge[e][1])
				rc = stats_top_raw(db, j, sp.edge[e][0], sp.edge[e][1]);
		return rc;
	}
	return 0;
}
