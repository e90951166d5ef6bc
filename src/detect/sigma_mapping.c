/* sigma_mapping.c — rules/mapping.yml (embedded by fieldmap.c, or rules test --mapping): its
 * field mappings and logsources parsed, the mapping in force, and the entries a rule's
 * logsource selects. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "detect/sigma_int.h"

static const struct ylimits map_limits = {RULE_FILE_MAX, RULE_MAX_DEPTH, SIGMA_MAX_NODES};

/* ---- the mapping ---- */

static int map_targets(struct arena *a, struct ydoc *y, yaml_node_t *v, struct fmap_entry *e)
{
	const char *s;
	size_t n;
	if (yscalar(v, &s, &n)) {
		e->to = arena_alloc(a, sizeof(*e->to));
		if (!e->to || !(e->to[0] = arena_strndup(a, s, n)))
			return -ENOMEM;
		e->nto = 1;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return -EINVAL;
	size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (!cnt)
		return -EINVAL;
	e->to = arena_alloc(a, cnt * sizeof(*e->to));
	if (!e->to)
		return -ENOMEM;
	e->nto = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		if (!yscalar(yget(y, *it), &s, &n))
			return -EINVAL;
		if (!(e->to[e->nto++] = arena_strndup(a, s, n)))
			return -ENOMEM;
	}
	return 0;
}

static int map_fieldmappings(struct cctx *cc, struct ydoc *y, yaml_node_t *m,
			     struct fmap_entry **out, size_t *nout)
{
	*nout = 0;
	if (!m)
		return 0;
	if (m->type != YAML_MAPPING_NODE)
		return cc_fail(cc, yline(m), "fieldmappings must be a map");
	size_t cnt = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	*out = arena_alloc(cc->a, (cnt ? cnt : 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		const char *s;
		size_t n;
		yaml_node_t *k = yget(y, p->key), *v = yget(y, p->value);
		if (!yscalar(k, &s, &n) || !v)
			return cc_fail(cc, yline(m), "fieldmappings keys must be strings");
		struct fmap_entry *e = &(*out)[*nout];
		if (!(e->from = arena_strndup(cc->a, s, n)))
			return -ENOMEM;
		int rc = map_targets(cc->a, y, v, e);
		if (rc == -ENOMEM)
			return rc;
		if (rc)
			return cc_fail(cc, yline(v),
				       "fieldmapping '%s' must be a name or a list of "
				       "names",
				       e->from);
		(*nout)++;
	}
	return 0;
}

static int map_parse(struct sigma_mapping *m, const char *text, size_t n, char *err, size_t errlen)
{
	yaml_parser_t parser;
	struct ydoc y;
	memset(&y, 0, sizeof(y));
	struct cctx cc = {&m->a, err, errlen, NULL, NULL, false, &m->res};
	int rc = 0;
	char lerr[256];
	if ((rc = ylimits_check(text, n, &map_limits, lerr, sizeof(lerr))) < 0) {
		if (rc == -ENOMEM)
			return rc;
		return cc_fail(&cc, 0, "mapping: %s", lerr);
	}
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
	if (!yaml_parser_load(&parser, &y.doc)) {
		rc = cc_fail(&cc, (unsigned)parser.problem_mark.line + 1, "mapping: %s",
			     parser.problem ? parser.problem : "YAML error");
		yaml_parser_delete(&parser);
		return rc;
	}
	yaml_node_t *root = yaml_document_get_root_node(&y.doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		rc = cc_fail(&cc, 1, "mapping: not a map");
		goto out;
	}
	if ((rc = map_fieldmappings(&cc, &y, ymap_get(&y, root, "fieldmappings"), &m->global,
				    &m->nglobal)))
		goto out;
	cc.map = m;
	yaml_node_t *ls = ymap_get(&y, root, "logsources");
	if (!ls || ls->type != YAML_MAPPING_NODE) {
		rc = cc_fail(&cc, yline(root), "mapping: 'logsources' must be a map");
		goto out;
	}
	size_t cnt = (size_t)(ls->data.mapping.pairs.top - ls->data.mapping.pairs.start);
	m->ls = arena_alloc(&m->a, (cnt ? cnt : 1) * sizeof(*m->ls));
	if (!m->ls) {
		rc = -ENOMEM;
		goto out;
	}
	for (yaml_node_pair_t *p = ls->data.mapping.pairs.start; p < ls->data.mapping.pairs.top;
	     p++) {
		const char *s;
		size_t sn;
		yaml_node_t *k = yget(&y, p->key), *v = yget(&y, p->value);
		struct logsource_map *e = &m->ls[m->nls];
		memset(e, 0, sizeof(*e));
		if (!yscalar(k, &s, &sn) || !v || v->type != YAML_MAPPING_NODE) {
			rc = cc_fail(&cc, yline(k), "mapping: each logsource is a named map");
			goto out;
		}
		e->name = arena_strndup(&m->a, s, sn);
		static const char *keys[4] = {"category", "product", "service", "never-fires"};
		const char **dst[4] = {&e->category, &e->product, &e->service, &e->never};
		for (int i = 0; i < 4; i++) {
			yaml_node_t *kv = ymap_get(&y, v, keys[i]);
			if (!kv)
				continue;
			if (!yscalar(kv, &s, &sn)) {
				rc = cc_fail(&cc, yline(kv), "mapping: %s must be a string",
					     keys[i]);
				goto out;
			}
			*dst[i] = arena_strndup(&m->a, s, sn);
		}
		if ((rc = map_fieldmappings(&cc, &y, ymap_get(&y, v, "fieldmappings"), &e->fmap,
					    &e->nfmap)))
			goto out;
		yaml_node_t *cond = ymap_get(&y, v, "conditions");
		if (cond) {
			struct sel *sel = arena_alloc(&m->a, sizeof(*sel));
			if (!sel) {
				rc = -ENOMEM;
				goto out;
			}
			memset(sel, 0, sizeof(*sel));
			sel->name = e->name;
			cc.ls = NULL; /* conditions name the event's own fields */
			if ((rc = sel_compile(&cc, &y, cond, sel)))
				goto out;
			e->cond = sel;
		}
		m->nls++;
	}
out:
	yaml_document_delete(&y.doc);
	yaml_parser_delete(&parser);
	return rc;
}

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct sigma_mapping *map_current;

static int map_new(const char *text, size_t n, struct sigma_mapping **out, char *err, size_t errlen)
{
	struct sigma_mapping *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	arena_init(&m->a, 0);
	int rc = map_parse(m, text, n, err, errlen);
	if (rc) {
		for (struct re_node *q = m->res; q; q = q->next)
			pcre2_code_free(q->re);
		arena_release(&m->a);
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int sigma_mapping_get(const struct sigma_mapping **out, char *err, size_t errlen)
{
	int rc = 0;
	pthread_mutex_lock(&map_lock);
	if (!map_current) {
		struct sigma_mapping *m;
		rc = map_new(sigma_mapping_text, sigma_mapping_len, &m, err, errlen);
		if (!rc)
			map_current = m;
	}
	*out = map_current;
	pthread_mutex_unlock(&map_lock);
	return rc;
}

int sigma_mapping_set(const char *text, size_t n, char *err, size_t errlen)
{
	struct sigma_mapping *m;
	int rc = map_new(text, n, &m, err, errlen);
	if (rc)
		return rc;
	/* the previous mapping stays allocated: rules compiled with it point into it */
	pthread_mutex_lock(&map_lock);
	map_current = m;
	pthread_mutex_unlock(&map_lock);
	return 0;
}

/* ---- logsource resolution ---- */

static bool ls_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

/* Mapping entries for a rule's logsource: category and service must agree exactly (both
 * absent or equal); product must agree unless the rule names none. */
int logsource_resolve(struct cctx *cc, const char *cat, const char *prod, const char *svc,
		      const struct logsource_map ***out, size_t *nout, unsigned line)
{
	const struct sigma_mapping *m = cc->map;
	*nout = 0;
	*out = arena_alloc(cc->a, (m->nls ? m->nls : 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < m->nls; i++) {
		const struct logsource_map *e = &m->ls[i];
		if (!ls_eq(cat, e->category) || !ls_eq(svc, e->service))
			continue;
		if (prod && !ls_eq(prod, e->product))
			continue;
		(*out)[(*nout)++] = e;
	}
	if (*nout == 0)
		return cc_fail(cc, line,
			       "unsupported: logsource%s%s%s%s%s%s (no mapping in "
			       "rules/mapping.yml)",
			       cat ? " category=" : "", cat ? cat : "", prod ? " product=" : "",
			       prod ? prod : "", svc ? " service=" : "", svc ? svc : "");
	return 0;
}
