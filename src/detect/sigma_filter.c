/* sigma_filter.c — Sigma filters (meta filter documents): which rules a filter names, the
 * filters of a rule set attached to the rules they apply to, and their condition ANDed to
 * those rules' own, as pySigma does ("(rule condition) and (filter condition)"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "detect/sigma_int.h"

int filter_compile(struct cctx *cc, struct ydoc *y, yaml_node_t *f, struct rule *r)
{
	if (f->type != YAML_MAPPING_NODE)
		return cc_fail(cc, yline(f), "filter must be a map");
	yaml_node_t *rules = ymap_get(y, f, "rules");
	struct sfilter *sf = arena_alloc(cc->a, sizeof(*sf));
	if (!sf)
		return -ENOMEM;
	memset(sf, 0, sizeof(*sf));
	const char *s;
	size_t n;
	if (!rules)
		return cc_fail(cc, yline(f),
			       "a filter needs 'rules' (rule ids or names, or 'any' for every rule "
			       "of its logsource)");
	if (yscalar(rules, &s, &n)) {
		if ((n == 3 && sigma_ieq(s, n, "any", 3)) ||
		    (n == 3 && sigma_ieq(s, n, "all", 3))) {
			sf->any = true;
		} else {
			sf->refs = arena_alloc(cc->a, sizeof(*sf->refs));
			if (!sf->refs || !(sf->refs[0] = arena_strndup(cc->a, s, n)))
				return -ENOMEM;
			sf->nrefs = 1;
		}
	} else if (rules->type == YAML_SEQUENCE_NODE) {
		size_t cnt =
		    (size_t)(rules->data.sequence.items.top - rules->data.sequence.items.start);
		sf->any = cnt == 0;
		sf->refs = arena_alloc(cc->a, (cnt ? cnt : 1) * sizeof(*sf->refs));
		if (!sf->refs)
			return -ENOMEM;
		for (size_t i = 0; i < cnt; i++) {
			yaml_node_t *it = yget(y, rules->data.sequence.items.start[i]);
			if (!yscalar(it, &s, &n) || !n)
				return cc_fail(cc, yline(it ? it : rules),
					       "a filter's rules are rule ids or names");
			if (!(sf->refs[sf->nrefs++] = arena_strndup(cc->a, s, n)))
				return -ENOMEM;
		}
	} else {
		return cc_fail(cc, yline(rules),
			       "a filter's rules are rule ids or names, or 'any'");
	}
	r->filter = sf;
	r->info.kind = RULE_FILTER;
	r->info.generates = false;
	return 0;
}

/* Is the rule's logsource within the filter's (every part the filter names, equal)? */
static bool ls_within(const struct rule *f, const struct rule *r)
{
	const char *fp[3] = {f->ls_category, f->ls_product, f->ls_service};
	const char *rp[3] = {r->ls_category, r->ls_product, r->ls_service};
	for (int i = 0; i < 3; i++)
		if (fp[i] && (!rp[i] || strcmp(fp[i], rp[i])))
			return false;
	return true;
}

static bool names(const struct sfilter *sf, const struct rule *r)
{
	if (sf->any)
		return true;
	for (size_t k = 0; k < sf->nrefs; k++)
		if ((r->info.id && !strcmp(sf->refs[k], r->info.id)) ||
		    (r->info.name && !strcmp(sf->refs[k], r->info.name)))
			return true;
	return false;
}

int filters_attach(struct rule **rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rule *r = rules[i];
		free(r->applied);
		r->applied = NULL;
		r->napplied = 0;
		if (r->filter || r->corr)
			continue;
		for (size_t j = 0; j < n; j++) {
			const struct rule *f = rules[j];
			if (!f->filter || !ls_within(f, r) || !names(f->filter, r))
				continue;
			const struct rule **a =
			    realloc(r->applied, (r->napplied + 1) * sizeof(*r->applied));
			if (!a)
				return -ENOMEM;
			r->applied = a;
			a[r->napplied++] = f;
		}
	}
	return 0;
}

bool filters_pass(struct scratch *s, const struct rule *r)
{
	for (size_t i = 0; i < r->napplied; i++) {
		const struct rule *f = r->applied[i];
		bool covered = false, held = false;
		for (size_t v = 0; v < f->nvar && !held; v++) {
			const struct variant *fv = &f->var[v];
			if (fv->logsrc && !logsrc_match(s, fv->logsrc))
				continue;
			covered = true;
			held = variant_match(s, fv);
		}
		if (covered && !held)
			return false;
	}
	return true;
}
