/* sigma_parse.c — Sigma rule documents into compiled rules: metadata, logsource, selections,
 * condition, correlation; the unsupported refused. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "detect/sigma_int.h"

static char *adup(struct arena *a, const char *s, size_t n)
{
	return arena_strndup(a, s, n);
}

static const struct ylimits rule_limits = {RULE_TEXT_MAX, RULE_MAX_DEPTH, RULE_MAX_NODES};
static const struct ylimits file_limits = {RULE_FILE_MAX, RULE_MAX_DEPTH, RULE_FILE_MAX_NODES};

/* ---- small parsers shared with the detector ---- */

int sigma_level_severity(const char *s)
{
	static const char *lv[] = {"informational", "low", "medium", "high", "critical"};
	for (int i = 0; i < 5; i++)
		if (s && !strcmp(s, lv[i]))
			return i + 1;
	return 0;
}

/* parse_duration's syntax, narrowed: a unit is required, only digits before it, and the span
 * is 1 second to a year. */
int sigma_timespan(const char *s, size_t n, int64_t *us)
{
	char b[16];
	int64_t sec;
	if (n < 2 || n > 12 || !s[n - 1] || !strchr("smhd", s[n - 1]))
		return -EINVAL;
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	memcpy(b, s, n);
	b[n] = '\0';
	if (parse_duration(b, &sec) < 0 || sec <= 0 || sec > 366 * 86400)
		return -EINVAL;
	*us = sec * 1000000;
	return 0;
}

/* ---- values of a selection item ---- */

/* Scalar or list of scalars into an arena array. */
static int yvals(struct cctx *cc, struct ydoc *y, yaml_node_t *n, struct yval **out, size_t *nout)
{
	if (n->type == YAML_SCALAR_NODE) {
		*out = arena_alloc(cc->a, sizeof(**out));
		if (!*out)
			return -ENOMEM;
		yval_of(n, *out);
		*nout = 1;
		return 0;
	}
	if (n->type == YAML_MAPPING_NODE)
		return cc_fail(cc, yline(n), "unsupported: a map as a field value");
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	*out = arena_alloc(cc->a, (cnt ? cnt : 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	*nout = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yget(y, *it);
		if (!e)
			return cc_fail(cc, yline(n), "document too large");
		if (e->type != YAML_SCALAR_NODE)
			return cc_fail(cc, yline(e),
				       "unsupported: nested list or map in a value list");
		yval_of(e, &(*out)[(*nout)++]);
	}
	return 0;
}

/* A pair of a map: its key, a string, and its value. */
struct ykv {
	yaml_node_t *k, *v;
	const char *s;
	size_t n;
};

/* Pair p of map into kv; the error when the document is too large or the key is not a
 * string ("a <what> must be a string"). */
static int ypair(struct cctx *cc, struct ydoc *y, yaml_node_t *map, const yaml_node_pair_t *p,
		 const char *what, struct ykv *kv)
{
	kv->k = yget(y, p->key);
	kv->v = yget(y, p->value);
	if (!kv->k || !kv->v)
		return cc_fail(cc, yline(map), "document too large");
	if (!yscalar(kv->k, &kv->s, &kv->n))
		return cc_fail(cc, yline(kv->k), "a %s must be a string", what);
	return 0;
}

/* One map of a selection: its items ANDed. */
static int compile_map(struct cctx *cc, struct ydoc *y, yaml_node_t *map, struct sel_alt *alt)
{
	size_t cnt = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
	if (cnt == 0)
		return cc_fail(cc, yline(map), "empty map in a selection");
	alt->fc = arena_alloc(cc->a, cnt * sizeof(*alt->fc));
	if (!alt->fc)
		return -ENOMEM;
	alt->nfc = 0;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		struct ykv kv;
		struct yval *vals;
		size_t nv;
		int rc = ypair(cc, y, map, p, "field name", &kv);
		if (rc || (rc = yvals(cc, y, kv.v, &vals, &nv)))
			return rc;
		if ((rc = fcond_compile(cc, &alt->fc[alt->nfc], kv.s, kv.n, vals, nv, yline(kv.k))))
			return rc;
		alt->nfc++;
	}
	return 0;
}

/* A selection of keywords, ORed. */
static int sel_keywords(struct cctx *cc, struct sel *sel, const struct yval *vals, size_t nv,
			unsigned line)
{
	sel->alt = arena_alloc(cc->a, sizeof(*sel->alt));
	struct fcond *fc = arena_alloc(cc->a, sizeof(*fc));
	if (!sel->alt || !fc)
		return -ENOMEM;
	sel->nalt = 1;
	sel->alt[0] = (struct sel_alt){1, fc};
	return fcond_keywords(cc, fc, "", 0, vals, nv, line);
}

/* A search identifier: a map (AND), a list of maps (OR), or a list of keywords. */
int sel_compile(struct cctx *cc, struct ydoc *y, yaml_node_t *v, struct sel *sel)
{
	if (v->type == YAML_MAPPING_NODE) {
		sel->alt = arena_alloc(cc->a, sizeof(*sel->alt));
		if (!sel->alt)
			return -ENOMEM;
		sel->nalt = 1;
		return compile_map(cc, y, v, &sel->alt[0]);
	}
	if (v->type == YAML_SCALAR_NODE) {
		struct yval yv;
		yval_of(v, &yv);
		if (yv.t == YV_NULL)
			return cc_fail(cc, yline(v), "search identifier '%s' is empty", sel->name);
		return sel_keywords(cc, sel, &yv, 1, yline(v));
	}
	size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (cnt == 0)
		return cc_fail(cc, yline(v), "search identifier '%s' is an empty list", sel->name);
	size_t maps = 0, scalars = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yget(y, *it);
		if (!e)
			return cc_fail(cc, yline(v), "document too large");
		maps += e->type == YAML_MAPPING_NODE;
		scalars += e->type == YAML_SCALAR_NODE;
	}
	if (scalars == cnt) { /* keywords, ORed */
		struct yval *vals;
		size_t nv;
		int rc = yvals(cc, y, v, &vals, &nv);
		if (rc)
			return rc;
		return sel_keywords(cc, sel, vals, nv, yline(v));
	}
	if (maps != cnt)
		return cc_fail(cc, yline(v),
			       "unsupported: search identifier '%s' mixes maps and "
			       "other values in one list",
			       sel->name);
	sel->alt = arena_alloc(cc->a, cnt * sizeof(*sel->alt));
	if (!sel->alt)
		return -ENOMEM;
	sel->nalt = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		int rc = compile_map(cc, y, yget(y, *it), &sel->alt[sel->nalt]);
		if (rc)
			return rc;
		sel->nalt++;
	}
	return 0;
}

static int compile_detection(struct cctx *cc, struct ydoc *y, yaml_node_t *det, struct detection *d,
			     bool filter)
{
	memset(d, 0, sizeof(*d));
	if (!det || det->type != YAML_MAPPING_NODE)
		return cc_fail(cc, yline(det), "detection must be a map");
	size_t cnt = (size_t)(det->data.mapping.pairs.top - det->data.mapping.pairs.start);
	d->sel = arena_alloc(cc->a, (cnt ? cnt : 1) * sizeof(*d->sel));
	if (!d->sel)
		return -ENOMEM;
	yaml_node_t *cond = NULL;
	unsigned cond_line = yline(det);
	for (yaml_node_pair_t *p = det->data.mapping.pairs.start; p < det->data.mapping.pairs.top;
	     p++) {
		struct ykv kv;
		int rc = ypair(cc, y, det, p, "search identifier", &kv);
		if (rc)
			return rc;
		if (kv.n == 9 && !memcmp(kv.s, "condition", 9)) {
			cond = kv.v;
			cond_line = yline(kv.k);
			continue;
		}
		if (filter && kv.n == 5 && !memcmp(kv.s, "rules", 5))
			continue; /* a filter's rules, not a search identifier */
		if (kv.n == 9 && !memcmp(kv.s, "timeframe", 9))
			return cc_fail(cc, yline(kv.k),
				       "unsupported: 'timeframe' in detection (use a "
				       "correlation rule)");
		for (size_t i = 0; i < d->nsel; i++)
			if (strlen(d->sel[i].name) == kv.n && !memcmp(d->sel[i].name, kv.s, kv.n))
				return cc_fail(cc, yline(kv.k),
					       "duplicate search identifier '%.*s'", (int)kv.n,
					       kv.s);
		struct sel *sel = &d->sel[d->nsel];
		memset(sel, 0, sizeof(*sel));
		if (!(sel->name = adup(cc->a, kv.s, kv.n)))
			return -ENOMEM;
		if ((rc = sel_compile(cc, y, kv.v, sel)))
			return rc;
		d->nsel++;
	}
	if (!cond)
		return cc_fail(cc, yline(det), "detection has no condition");
	/* one condition, or a list of them ORed */
	char *text;
	size_t tn = 0;
	if (cond->type == YAML_SCALAR_NODE) {
		const char *s;
		yscalar(cond, &s, &tn);
		text = adup(cc->a, s, tn);
	} else if (cond->type == YAML_SEQUENCE_NODE) {
		size_t total = 1;
		for (yaml_node_item_t *it = cond->data.sequence.items.start;
		     it < cond->data.sequence.items.top; it++) {
			const char *s;
			size_t n;
			if (!yscalar(yget(y, *it), &s, &n))
				return cc_fail(cc, yline(cond),
					       "condition list items must be strings");
			total += n + 8;
		}
		text = arena_alloc(cc->a, total);
		if (text) {
			for (yaml_node_item_t *it = cond->data.sequence.items.start;
			     it < cond->data.sequence.items.top; it++) {
				const char *s = "";
				size_t n = 0;
				yscalar(yget(y, *it), &s, &n);
				if (tn) {
					memcpy(text + tn, " or ", 4);
					tn += 4;
				}
				text[tn++] = '(';
				memcpy(text + tn, s, n);
				tn += n;
				text[tn++] = ')';
			}
			text[tn] = '\0';
		}
	} else {
		return cc_fail(cc, yline(cond), "condition must be a string or a list of strings");
	}
	if (!text)
		return -ENOMEM;
	return cond_parse(cc, d, text, tn, cond_line, &d->root);
}

/* ---- metadata ---- */

static int meta_str(struct cctx *cc, struct ydoc *y, yaml_node_t *root, const char *key,
		    const char **out)
{
	yaml_node_t *v = ymap_get(y, root, key);
	const char *s;
	size_t n;
	*out = NULL;
	if (!v)
		return 0;
	if (!yscalar(v, &s, &n))
		return cc_fail(cc, yline(v), "'%s' must be a string", key);
	if (n == 0)
		return 0;
	if (!(*out = adup(cc->a, s, n)))
		return -ENOMEM;
	return 0;
}

static int meta_list(struct cctx *cc, struct ydoc *y, yaml_node_t *root, const char *key)
{
	yaml_node_t *v = ymap_get(y, root, key);
	if (!v || v->type == YAML_SCALAR_NODE)
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return cc_fail(cc, yline(v), "'%s' must be a list", key);
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yget(y, *it);
		if (!e || e->type != YAML_SCALAR_NODE)
			return cc_fail(cc, yline(v), "'%s' must be a list of strings", key);
	}
	return 0;
}

static int str_list(struct cctx *cc, struct ydoc *y, yaml_node_t *v, const char *what,
		    const char ***out, size_t *nout)
{
	const char *s;
	size_t n;
	*nout = 0;
	if (yscalar(v, &s, &n)) {
		*out = arena_alloc(cc->a, sizeof(**out));
		if (!*out || !((*out)[0] = adup(cc->a, s, n)))
			return -ENOMEM;
		*nout = 1;
		return 0;
	}
	if (!v || v->type != YAML_SEQUENCE_NODE)
		return cc_fail(cc, yline(v), "%s must be a list of strings", what);
	size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	*out = arena_alloc(cc->a, (cnt ? cnt : 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		if (!yscalar(yget(y, *it), &s, &n))
			return cc_fail(cc, yline(v), "%s must be a list of strings", what);
		if (!((*out)[(*nout)++] = adup(cc->a, s, n)))
			return -ENOMEM;
	}
	return 0;
}

static int parse_count(struct cctx *cc, yaml_node_t *v, const char *key, int64_t *out)
{
	struct yval yv;
	if (!v || v->type != YAML_SCALAR_NODE)
		return cc_fail(cc, yline(v), "correlation condition '%s' must be an integer", key);
	yval_of(v, &yv);
	if (yv.t != YV_INT || yv.n > 10)
		return cc_fail(cc, yv.line, "correlation condition '%s' must be an integer", key);
	int64_t x = 0;
	size_t i = yv.s[0] == '-' || yv.s[0] == '+';
	for (; i < yv.n; i++)
		x = x * 10 + (yv.s[i] - '0');
	if (yv.s[0] == '-')
		x = -x;
	if (x < 0 || x > SIGMA_MAX_COUNT)
		return cc_fail(cc, yv.line,
			       "unsupported: correlation condition '%s: %lld' outside "
			       "0..%d",
			       key, (long long)x, SIGMA_MAX_COUNT);
	*out = x;
	return 0;
}

static int compile_corr(struct cctx *cc, struct ydoc *y, yaml_node_t *root, yaml_node_t *c,
			struct rule *r)
{
	struct corr *co = arena_alloc(cc->a, sizeof(*co));
	if (!co)
		return -ENOMEM;
	memset(co, 0, sizeof(*co));
	r->corr = co;
	if (c->type != YAML_MAPPING_NODE)
		return cc_fail(cc, yline(c), "correlation must be a map");
	const char *type;
	int rc = meta_str(cc, y, c, "type", &type);
	if (rc)
		return rc;
	if (!type)
		return cc_fail(cc, yline(c), "correlation has no type");
	if (!strcmp(type, "event_count"))
		co->type = CT_EVENT_COUNT;
	else if (!strcmp(type, "value_count"))
		co->type = CT_VALUE_COUNT;
	else if (!strcmp(type, "temporal"))
		co->type = CT_TEMPORAL;
	else if (!strcmp(type, "temporal_ordered"))
		co->type = CT_TEMPORAL_ORDERED;
	else if (!strcmp(type, "value_sum"))
		co->type = CT_VALUE_SUM;
	else if (!strcmp(type, "value_avg"))
		co->type = CT_VALUE_AVG;
	else if (!strcmp(type, "value_percentile"))
		co->type = CT_VALUE_PERCENTILE;
	else
		return cc_fail(cc, yline(c), "unknown correlation type '%s'", type);
	yaml_node_t *v = ymap_get(y, c, "rules");
	if (!v)
		return cc_fail(cc, yline(c), "correlation has no rules");
	if ((rc = str_list(cc, y, v, "correlation rules", &co->refs, &co->nrefs)))
		return rc;
	if (co->nrefs == 0 || co->nrefs > 64)
		return cc_fail(cc, yline(v), "correlation needs 1..64 rules");
	if ((co->type == CT_TEMPORAL || co->type == CT_TEMPORAL_ORDERED) && co->nrefs < 2)
		return cc_fail(cc, yline(v), "a temporal correlation needs at least 2 rules");
	if (co->type == CT_TEMPORAL_ORDERED && co->nrefs > 16)
		return cc_fail(cc, yline(v),
			       "unsupported: temporal_ordered over more than 16 rules");
	if ((v = ymap_get(y, c, "group-by")) &&
	    (rc = str_list(cc, y, v, "group-by", &co->group, &co->ngroup)))
		return rc;
	if (co->ngroup > 16)
		return cc_fail(cc, yline(v), "unsupported: more than 16 group-by fields");
	v = ymap_get(y, c, "timespan");
	if (!v)
		v = ymap_get(y, c, "timeframe");
	const char *s;
	size_t n;
	if (!yscalar(v, &s, &n) || sigma_timespan(s, n, &co->span_us))
		return cc_fail(cc, yline(v ? v : c),
			       "correlation timespan must be like 30s, 5m, "
			       "1h or 2d (up to a year)");
	if (!(co->window = adup(cc->a, s, n)))
		return -ENOMEM;
	if ((v = ymap_get(y, c, "aliases"))) {
		if (v->type != YAML_MAPPING_NODE)
			return cc_fail(cc, yline(v), "aliases must be a map");
		size_t cnt = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
		co->alias = arena_alloc(cc->a, (cnt ? cnt : 1) * sizeof(*co->alias));
		if (!co->alias)
			return -ENOMEM;
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yget(y, p->key), *m = yget(y, p->value);
			struct corr_alias *al = &co->alias[co->nalias];
			if (!yscalar(k, &s, &n) || !m || m->type != YAML_MAPPING_NODE)
				return cc_fail(cc, yline(k),
					       "each alias maps rule names to fields");
			al->name = adup(cc->a, s, n);
			size_t mc =
			    (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
			al->rule = arena_alloc(cc->a, (mc ? mc : 1) * sizeof(char *));
			al->field = arena_alloc(cc->a, (mc ? mc : 1) * sizeof(char *));
			if (!al->name || !al->rule || !al->field)
				return -ENOMEM;
			al->n = 0;
			for (yaml_node_pair_t *q = m->data.mapping.pairs.start;
			     q < m->data.mapping.pairs.top; q++) {
				const char *rs, *fs;
				size_t rn, fn;
				if (!yscalar(yget(y, q->key), &rs, &rn) ||
				    !yscalar(yget(y, q->value), &fs, &fn))
					return cc_fail(cc, yline(m),
						       "alias entries are rule: field");
				al->rule[al->n] = adup(cc->a, rs, rn);
				al->field[al->n] = adup(cc->a, fs, fn);
				if (!al->rule[al->n] || !al->field[al->n])
					return -ENOMEM;
				al->n++;
			}
			co->nalias++;
		}
	}
	v = ymap_get(y, c, "condition");
	if (v && v->type != YAML_MAPPING_NODE)
		return cc_fail(cc, yline(v), "correlation condition must be a map (gte: 5)");
	if (v) {
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yget(y, p->key), *val = yget(y, p->value);
			int64_t x = 0;
			if (ykey_is(k, "field")) {
				if ((rc = str_list(cc, y, val, "condition field", &co->field,
						   &co->nfield)))
					return rc;
				continue;
			}
			const char *ops[6] = {"gt", "gte", "lt", "lte", "eq", "neq"};
			int op = -1;
			for (int i = 0; i < 6; i++)
				if (ykey_is(k, ops[i]))
					op = i;
			if (op < 0) {
				const char *ks = "?";
				size_t kn = 1;
				yscalar(k, &ks, &kn);
				return cc_fail(cc, yline(k),
					       "unsupported: correlation condition '%.*s'",
					       (int)(kn > 40 ? 40 : kn), ks);
			}
			if (co->type >= CT_VALUE_SUM) {
				struct yval yv;
				double d;
				if (val && val->type == YAML_SCALAR_NODE)
					yval_of(val, &yv);
				if (!val || val->type != YAML_SCALAR_NODE ||
				    (yv.t != YV_INT && yv.t != YV_NUM) ||
				    !sigma_parse_number(yv.s, yv.n, &d))
					return cc_fail(
					    cc, yline(val ? val : k),
					    "correlation condition '%s' must be a number", ops[op]);
				if (co->nnum == 6)
					return cc_fail(cc, yline(k),
						       "too many correlation conditions");
				co->num[co->nnum++] = (struct corr_num){op, d};
				continue;
			}
			if ((rc = parse_count(cc, val, ops[op], &x)))
				return rc;
			struct corr_cond *cd = &co->cond;
			switch (op) {
			case 0:
				cd->has_lo = true;
				cd->lo = x + 1;
				break;
			case 1:
				cd->has_lo = true;
				cd->lo = x;
				break;
			case 2:
				cd->has_hi = true;
				cd->hi = x - 1;
				break;
			case 3:
				cd->has_hi = true;
				cd->hi = x;
				break;
			case 4:
				cd->has_lo = cd->has_hi = true;
				cd->lo = cd->hi = x;
				break;
			case 5:
				cd->has_neq = true;
				cd->neq = x;
				break;
			}
		}
	}
	struct corr_cond *cd = &co->cond;
	if (co->type >= CT_VALUE_SUM) {
		if (co->nfield != 1)
			return cc_fail(cc, yline(c), "%s needs condition.field: one field", type);
		if (!co->nnum)
			return cc_fail(cc, yline(c), "%s needs a condition (gt: 100)", type);
		for (size_t i = 0; i < co->nnum; i++) {
			if (co->type == CT_VALUE_PERCENTILE &&
			    (co->num[i].v < 0 || co->num[i].v > 100))
				return cc_fail(cc, yline(v),
					       "a value_percentile condition is a percentage");
			/* an upper bound is known only once the window is over */
			co->close_eval |= co->type != CT_VALUE_PERCENTILE && co->num[i].op >= 2;
		}
		co->keep = CORR_VALUE_KEEP;
	} else if (co->type == CT_EVENT_COUNT || co->type == CT_VALUE_COUNT) {
		if (!cd->has_lo && !cd->has_hi && !cd->has_neq)
			return cc_fail(cc, yline(c), "%s needs a condition", type);
		if (co->type == CT_VALUE_COUNT && co->nfield == 0)
			return cc_fail(cc, yline(c), "value_count needs condition.field");
		co->close_eval = cd->has_hi || cd->has_neq;
		int64_t keep = cd->has_lo ? cd->lo : 1;
		if (cd->has_hi)
			keep = cd->hi + 1;
		if (cd->has_neq && cd->neq + 1 > keep)
			keep = cd->neq + 1;
		co->keep = keep < 1 ? 1 : keep;
		if (cd->has_lo && cd->has_hi && cd->lo > cd->hi)
			return cc_fail(cc, yline(v), "correlation condition can never hold");
	} else {
		if (cd->has_hi || cd->has_neq)
			return cc_fail(cc, yline(v), "unsupported: upper bound in a %s condition",
				       type);
		if (!cd->has_lo) {
			cd->has_lo = true;
			cd->lo = (int64_t)co->nrefs;
		}
		if (cd->lo < 1 || cd->lo > (int64_t)co->nrefs)
			return cc_fail(cc, yline(v), "a %s condition counts 1..%zu rules", type,
				       co->nrefs);
		if (co->type == CT_TEMPORAL_ORDERED && cd->lo != (int64_t)co->nrefs)
			return cc_fail(cc, yline(v),
				       "unsupported: temporal_ordered with a partial "
				       "condition");
		co->keep = (int64_t)co->nrefs;
	}
	yaml_node_t *g = ymap_get(y, c, "generate");
	if (!g)
		g = ymap_get(y, root, "generate");
	if (g) {
		struct yval yv;
		if (g->type != YAML_SCALAR_NODE)
			return cc_fail(cc, yline(g), "generate must be true or false");
		yval_of(g, &yv);
		if (yv.t != YV_BOOL)
			return cc_fail(cc, yline(g), "generate must be true or false");
		co->generate = yv.s[0] == 't' || yv.s[0] == 'T';
	}
	r->info.kind = RULE_CORRELATION;
	return 0;
}

static int compile_doc(struct ydoc *y, yaml_node_t *root, const char *origin, struct rule *r,
		       const struct sigma_mapping *map, char *err, size_t errlen)
{
	struct cctx cc = {&r->a, err, errlen, NULL, map, false, &r->res};
	struct rule_info *in = &r->info;
	int rc;
	r->line = yline(root);
	r->map = map;
	if (root->type != YAML_MAPPING_NODE)
		return cc_fail(&cc, yline(root), "a rule must be a map");
	if ((rc = meta_str(&cc, y, root, "title", &in->title)) ||
	    (rc = meta_str(&cc, y, root, "id", &in->id)) ||
	    (rc = meta_str(&cc, y, root, "name", &in->name)) ||
	    (rc = meta_str(&cc, y, root, "status", &in->status)) ||
	    (rc = meta_str(&cc, y, root, "description", &in->description)) ||
	    (rc = meta_str(&cc, y, root, "author", &in->author)) ||
	    (rc = meta_str(&cc, y, root, "level", &in->level)))
		return rc;
	if ((rc = meta_list(&cc, y, root, "tags")) || (rc = meta_list(&cc, y, root, "fields")) ||
	    (rc = meta_list(&cc, y, root, "falsepositives")) ||
	    (rc = meta_list(&cc, y, root, "references")))
		return rc;
	if (!in->title)
		return cc_fail(&cc, yline(root), "a rule needs a title");
	if (ymap_get(y, root, "action"))
		return cc_fail(&cc, yline(root),
			       "unsupported: 'action' documents (Sigma 1 "
			       "collections)");
	if (in->level && !sigma_level_severity(in->level))
		return cc_fail(&cc, yline(ymap_get(y, root, "level")),
			       "level must be "
			       "informational, low, medium, high or critical");
	if (!in->level)
		in->level = "medium";
	in->severity = sigma_level_severity(in->level);
	if (!in->id)
		in->id = in->name ? in->name : in->title;
	in->origin = adup(&r->a, origin ? origin : "api", strlen(origin ? origin : "api"));
	in->generates = true;
	in->kind = RULE_DETECTION;

	yaml_node_t *corr = ymap_get(y, root, "correlation");
	yaml_node_t *det = ymap_get(y, root, "detection");
	yaml_node_t *filt = ymap_get(y, root, "filter");
	if ((corr != NULL) + (det != NULL) + (filt != NULL) > 1)
		return cc_fail(&cc, yline(corr ? corr : det),
			       "a rule has one of detection, correlation or filter");
	if (filt) {
		det = filt;
		if ((rc = filter_compile(&cc, y, filt, r)))
			return rc;
	}
	if (corr) {
		if ((rc = compile_corr(&cc, y, root, corr, r)))
			return rc;
		return alertspec_compile(&cc, y, root, r);
	}
	if (!det)
		return cc_fail(&cc, yline(root),
			       "a rule needs a detection (or correlation) section");
	yaml_node_t *ls = ymap_get(y, root, "logsource");
	if (!ls || ls->type != YAML_MAPPING_NODE)
		return cc_fail(&cc, yline(ls ? ls : root), "a rule needs a logsource map");
	const char *cat, *prod, *svc;
	if ((rc = meta_str(&cc, y, ls, "category", &cat)) ||
	    (rc = meta_str(&cc, y, ls, "product", &prod)) ||
	    (rc = meta_str(&cc, y, ls, "service", &svc)))
		return rc;
	r->ls_category = cat;
	r->ls_product = prod;
	r->ls_service = svc;
	const struct logsource_map **lsm;
	size_t nls;
	if ((rc = logsource_resolve(&cc, cat, prod, svc, &lsm, &nls, yline(ls))))
		return rc;
	r->var = arena_alloc(&r->a, nls * sizeof(*r->var));
	if (!r->var)
		return -ENOMEM;
	for (size_t i = 0; i < nls; i++) {
		struct variant *v = &r->var[i];
		v->ls = lsm[i];
		v->logsrc = lsm[i]->cond;
		cc.ls = lsm[i];
		y->visits = 0;
		rc = compile_detection(&cc, y, det, &v->det, filt != NULL);
		r->nvar++;
		if (rc)
			return rc;
	}
	r->keywords = cc.keywords;
	if ((rc = prefilter_build(r)))
		return rc;
	return alertspec_compile(&cc, y, root, r);
}

/* ---- public ---- */

void rule_free(struct rule *r)
{
	if (!r)
		return;
	vmatch_free_all(r);
	free(r->applied);
	arena_release(&r->a);
	free(r);
}

const struct rule_info *rule_get_info(const struct rule *r)
{
	return &r->info;
}

const char *rule_never_fires(const struct rule *r)
{
	if (r->corr || !r->nvar)
		return NULL;
	for (size_t i = 0; i < r->nvar; i++)
		if (!r->var[i].ls || !r->var[i].ls->never)
			return NULL;
	return r->var[0].ls->never;
}

static void label(char *buf, size_t n, const struct rule *r, size_t docno)
{
	if (r && r->info.title)
		snprintf(buf, n, "rule '%.100s' (document %zu)", r->info.title, docno);
	else
		snprintf(buf, n, "document %zu", docno);
}

static int prefix_err(char *err, size_t errlen, const char *lbl)
{
	if (!err || !errlen)
		return 0;
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s", err);
	snprintf(err, errlen, "%s: %s", lbl, tmp);
	return 0;
}

/* Same-text references: a detection rule a correlation refers to does not alert on its own
 * unless the correlation says generate: true (the detector recomputes this over the set). */
static int mark_generates(struct rule **rules, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		struct rule_info *in = &rules[j]->info;
		const char *user = NULL;
		bool asked = false;
		for (size_t i = 0; i < n; i++) {
			const struct corr *co = rules[i]->corr;
			for (size_t k = 0; co && i != j && k < co->nrefs; k++)
				if ((in->id && !strcmp(in->id, co->refs[k])) ||
				    (in->name && !strcmp(in->name, co->refs[k]))) {
					if (!user)
						user = rules[i]->info.id;
					asked |= co->generate;
				}
		}
		if (!user)
			continue;
		in->generates = asked;
		if (!asked && !(in->used_by = adup(&rules[j]->a, user, strlen(user))))
			return -ENOMEM;
	}
	return 0;
}

int sigma_compile(const char *text, size_t n, const char *origin, bool file, struct rule ***rules,
		  size_t *nrules, char *err, size_t errlen)
{
	yaml_parser_t parser;
	struct rule **out = NULL;
	size_t nout = 0, cap = 0, docno = 0;
	const struct sigma_mapping *map;
	int rc;
	char lbl[160];

	*rules = NULL;
	*nrules = 0;
	if (err && errlen)
		err[0] = '\0';
	if ((rc = sigma_mapping_get(&map, err, errlen)))
		return rc;
	if (n > RULE_FILE_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "rule text larger than %d bytes (%d KiB)",
				 RULE_FILE_MAX, RULE_FILE_MAX / 1024);
		return SIEM_ETOOBIG;
	}
	/* Within the limits, loading the documents below costs a bounded time. */
	if ((rc = ylimits_check(text, n, file ? &file_limits : &rule_limits, err, errlen)) < 0)
		return rc;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
	for (;;) {
		struct ydoc y;
		memset(&y, 0, sizeof(y));
		if (!yaml_parser_load(&parser, &y.doc)) {
			rc = yerror(&parser, docno + 1, err, errlen);
			goto out;
		}
		yaml_node_t *root = yaml_document_get_root_node(&y.doc);
		if (!root) {
			yaml_document_delete(&y.doc);
			break;
		}
		docno++;
		if (root->type == YAML_SCALAR_NODE) {
			struct yval yv;
			yval_of(root, &yv);
			if (yv.t == YV_NULL) { /* an empty document ("---" twice) */
				yaml_document_delete(&y.doc);
				continue;
			}
		}
		if (nout == cap) {
			cap = cap ? cap * 2 : 4;
			struct rule **o = realloc(out, cap * sizeof(*o));
			if (!o) {
				yaml_document_delete(&y.doc);
				rc = -ENOMEM;
				goto out;
			}
			out = o;
		}
		struct rule *r = calloc(1, sizeof(*r));
		if (!r) {
			yaml_document_delete(&y.doc);
			rc = -ENOMEM;
			goto out;
		}
		arena_init(&r->a, 0);
		r->index = -1;
		rc = compile_doc(&y, root, origin, r, map, err, errlen);
		yaml_document_delete(&y.doc);
		if (rc) {
			if (rc == -ENOMEM && err && errlen)
				snprintf(err, errlen, "out of memory");
			label(lbl, sizeof(lbl), r, docno);
			prefix_err(err, errlen, lbl);
			rule_free(r);
			if (rc != SIEM_EPARSE)
				rc = SIEM_ESCHEMA;
			goto out;
		}
		out[nout++] = r;
	}
	if (nout == 0) {
		if (err && errlen)
			snprintf(err, errlen, "no rule in the text");
		rc = SIEM_ESCHEMA;
		goto out;
	}
	if ((rc = mark_generates(out, nout))) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	*rules = out;
	*nrules = nout;
	out = NULL;
	nout = 0;
	rc = 0;
out:
	for (size_t i = 0; i < nout; i++)
		rule_free(out[i]);
	free(out);
	yaml_parser_delete(&parser);
	return rc;
}

int rule_compile(const char *text, size_t n, const char *origin, struct rule ***rules,
		 size_t *nrules, char *err, size_t errlen)
{
	return sigma_compile(text, n, origin, false, rules, nrules, err, errlen);
}

int rule_compile_file(const char *text, size_t n, const char *origin, struct rule ***rules,
		      size_t *nrules, char *err, size_t errlen)
{
	return sigma_compile(text, n, origin, true, rules, nrules, err, errlen);
}
