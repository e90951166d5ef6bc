/* sigma_gates.c — the rules the detector's index cannot select (their logsource names no
 * event type, app, os_type or EventID every match needs: web servers, Zeek, the Linux auth
 * files ...), grouped by their logsource condition, so that an event that fails one is
 * spared all of its rules with one cached check. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect/sigma_int.h"

static const struct sel *gate_of(const struct rule *r)
{
	return r->nvar == 1 ? r->var[0].logsrc : NULL;
}

static int by_gate(const void *a, const void *b, void *ctx)
{
	struct rule *const *rules = ctx;
	const struct sel *x = gate_of(rules[*(const int *)a]);
	const struct sel *y = gate_of(rules[*(const int *)b]);
	if (x != y)
		return (uintptr_t)x < (uintptr_t)y ? -1 : 1;
	return *(const int *)a - *(const int *)b;
}

static int by_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int ugates_build(struct ugates *u, struct rule *const *rules, const int *idx, size_t n)
{
	memset(u, 0, sizeof(*u));
	size_t cap = n ? n : 1;
	u->run = malloc(cap * sizeof(int));
	u->cand = malloc(cap * sizeof(int));
	u->g = malloc(cap * sizeof(*u->g));
	if (!u->run || !u->cand || !u->g)
		return -ENOMEM;
	memcpy(u->run, idx, n * sizeof(int));
	qsort_r(u->run, n, sizeof(int), by_gate, (void *)rules);
	for (size_t i = 0; i < n; i++) {
		const struct sel *g = gate_of(rules[u->run[i]]);
		if (!u->n || u->g[u->n - 1].sel != g)
			u->g[u->n++] = (struct ugate){g, i, 0};
		u->g[u->n - 1].n++;
	}
	return 0;
}

const int *ugates_candidates(struct ugates *u, struct scratch *s, size_t *len)
{
	size_t nc = 0;
	for (size_t i = 0; i < u->n; i++) {
		const struct ugate *g = &u->g[i];
		if (g->sel && !logsrc_match(s, g->sel))
			continue;
		memcpy(u->cand + nc, u->run + g->start, g->n * sizeof(int));
		nc += g->n;
	}
	if (nc > 1)
		qsort(u->cand, nc, sizeof(int), by_int);
	*len = nc;
	return u->cand;
}

void ugates_free(struct ugates *u)
{
	free(u->g);
	free(u->run);
	free(u->cand);
	memset(u, 0, sizeof(*u));
}
