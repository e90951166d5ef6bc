/* sigma_parse.c — Sigma YAML (libyaml) into compiled rules: metadata, logsource through
 * rules/mapping.yml, selections, condition, correlation; the unsupported refused. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/config.h"
#include "core/err.h"
#include "detect/sigma_int.h"

struct ydoc {
	yaml_document_t doc;
	size_t visits;
};

static yaml_node_t *yget(struct ydoc *y, int idx)
{
	if (++y->visits > SIGMA_MAX_NODES)
		return NULL;
	return yaml_document_get_node(&y->doc, idx);
}

static unsigned yline(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.line + 1 : 0;
}

static bool yscalar(const yaml_node_t *n, const char **s, size_t *len)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return false;
	*s = (const char *)n->data.scalar.value;
	*len = n->data.scalar.length;
	return true;
}

static bool ykey_is(const yaml_node_t *n, const char *w)
{
	const char *s;
	size_t len;
	return yscalar(n, &s, &len) && len == strlen(w) && !memcmp(s, w, len);
}

static yaml_node_t *ymap_get(struct ydoc *y, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++)
		if (ykey_is(yget(y, p->key), key))
			return yget(y, p->value);
	return NULL;
}

static bool plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
	       n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

static bool all_digits(const char *s, size_t n)
{
	size_t i = (n && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
	if (i == n)
		return false;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool floatish(const char *s, size_t n)
{
	size_t i = (n && (s[0] == '-' || s[0] == '+')) ? 1 : 0, digits = 0, dots = 0;
	for (; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else if (s[i] == '.')
			dots++;
		else
			return false;
	}
	return digits && dots == 1;
}

/* A scalar with the type YAML's core schema gives a plain scalar; quoted ones are strings. */
static void yval_of(const yaml_node_t *n, struct yval *v)
{
	yscalar(n, &v->s, &v->n);
	v->t = YV_STR;
	v->line = yline(n);
	if (!plain(n))
		return;
	if (v->n == 0 || (v->n == 1 && v->s[0] == '~') ||
	    (v->n == 4 && (!memcmp(v->s, "null", 4) || !memcmp(v->s, "Null", 4) ||
			   !memcmp(v->s, "NULL", 4))))
		v->t = YV_NULL;
	else if ((v->n == 4 && sigma_ieq(v->s, 4, "true", 4)) ||
		 (v->n == 5 && sigma_ieq(v->s, 5, "false", 5)))
		v->t = YV_BOOL;
	else if (all_digits(v->s, v->n))
		v->t = YV_INT;
	else if (floatish(v->s, v->n))
		v->t = YV_NUM;
}

static char *adup(struct arena *a, const char *s, size_t n)
{
	return arena_strndup(a, s, n);
}

/* ---- limits, checked on the parser's events before any document tree is built ---- */

struct ylimits {
	size_t doc_bytes; /* one document */
	int depth;	  /* nested sequences and maps */
	size_t nodes;	  /* per document */
};

static const struct ylimits rule_limits = { RULE_TEXT_MAX, RULE_MAX_DEPTH, RULE_MAX_NODES };
static const struct ylimits map_limits = { RULE_FILE_MAX, RULE_MAX_DEPTH, SIGMA_MAX_NODES };

static int yaml_error(const yaml_parser_t *p, size_t docno, char *err, size_t errlen)
{
	if (err && errlen)
		snprintf(err, errlen, "document %zu: line %zu, column %zu: %s%s%s", docno,
			 (size_t)p->problem_mark.line + 1, (size_t)p->problem_mark.column + 1,
			 p->problem ? p->problem : "YAML error", p->context ? " " : "",
			 p->context ? p->context : "");
	return SIEM_EPARSE;
}

/* Walk every event of text and refuse at the first one past a limit. libyaml's scanner
 * costs time in proportion to the nesting it holds open for each token, and loading a
 * document builds the whole tree before anything can look at it: without this pass a
 * deeply nested text costs time quadratic in its length. With it, the scanner never holds
 * open more than the limit (plus the 1024 characters it may look ahead for a key). */
static int yaml_check_limits(const char *text, size_t n, const struct ylimits *lim, char *err,
			     size_t errlen)
{
	yaml_parser_t p;
	size_t docno = 0, nodes = 0, doc_start = 0;
	int depth = 0, rc = 0;
	bool in_doc = false, done = false;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
	while (!done && rc == 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			rc = yaml_error(&p, in_doc ? docno : docno + 1, err, errlen);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			docno++;
			in_doc = true;
			nodes = 0;
			depth = 0;
			doc_start = ev.start_mark.index;
			break;
		case YAML_DOCUMENT_END_EVENT:
			in_doc = false;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			depth++;
			nodes++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			nodes++;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		size_t line = (size_t)ev.start_mark.line + 1,
		       col = (size_t)ev.start_mark.column + 1;
		size_t span = ev.end_mark.index > doc_start ? ev.end_mark.index - doc_start : 0;
		yaml_event_delete(&ev);
		if (depth > lim->depth) {
			if (err && errlen)
				snprintf(
				    err, errlen,
				    "document %zu: line %zu, column %zu: nesting deeper than %d "
				    "levels",
				    docno, line, col, lim->depth);
			rc = SIEM_EPARSE;
		} else if (nodes > lim->nodes) {
			if (err && errlen)
				snprintf(err, errlen,
					 "document %zu: line %zu: more than %zu YAML nodes", docno,
					 line, lim->nodes);
			rc = SIEM_EPARSE;
		} else if (in_doc && span > lim->doc_bytes) {
			if (err && errlen)
				snprintf(
				    err, errlen,
				    "document %zu: larger than %zu bytes (%zu KiB) at line %zu",
				    docno, lim->doc_bytes, lim->doc_bytes / 1024, line);
			rc = SIEM_ETOOBIG;
		}
	}
	yaml_parser_delete(&p);
	return rc;
}

/* ---- small parsers shared with the detector ---- */

int sigma_level_severity(const char *s)
{
	static const char *lv[] = { "informational", "low", "medium", "high", "critical" };
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
		yaml_node_t *k = yget(y, p->key), *v = yget(y, p->value);
		const char *ks;
		size_t kn;
		if (!k || !v)
			return cc_fail(cc, yline(map), "document too large");
		if (!yscalar(k, &ks, &kn))
			return cc_fail(cc, yline(k), "a field name must be a string");
		struct yval *vals;
		size_t nv;
		int rc = yvals(cc, y, v, &vals, &nv);
		if (rc)
			return rc;
		if ((rc = fcond_compile(cc, &alt->fc[alt->nfc], ks, kn, vals, nv, yline(k))))
			return rc;
		alt->nfc++;
	}
	return 0;
}

/* A search identifier: a map (AND), a list of maps (OR), or a list of keywords. */
static int compile_sel(struct cctx *cc, struct ydoc *y, yaml_node_t *v, struct sel *sel)
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
		sel->alt = arena_alloc(cc->a, sizeof(*sel->alt));
		struct fcond *fc = arena_alloc(cc->a, sizeof(*fc));
		if (!sel->alt || !fc)
			return -ENOMEM;
		sel->nalt = 1;
		sel->alt[0] = (struct sel_alt){ 1, fc };
		return fcond_keywords(cc, fc, "", 0, &yv, 1, yline(v));
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
		sel->alt = arena_alloc(cc->a, sizeof(*sel->alt));
		struct fcond *fc = arena_alloc(cc->a, sizeof(*fc));
		if (!sel->alt || !fc)
			return -ENOMEM;
		sel->nalt = 1;
		sel->alt[0] = (struct sel_alt){ 1, fc };
		return fcond_keywords(cc, fc, "", 0, vals, nv, yline(v));
	}
	if (maps != cnt)
		return cc_fail(cc, yline(v), "unsupported: search identifier '%s' mixes maps and "
			       "other values in one list", sel->name);
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

static int compile_detection(struct cctx *cc, struct ydoc *y, yaml_node_t *det,
			     struct detection *d)
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
		yaml_node_t *k = yget(y, p->key), *v = yget(y, p->value);
		const char *ks;
		size_t kn;
		if (!k || !v)
			return cc_fail(cc, yline(det), "document too large");
		if (!yscalar(k, &ks, &kn))
			return cc_fail(cc, yline(k), "a search identifier must be a string");
		if (kn == 9 && !memcmp(ks, "condition", 9)) {
			cond = v;
			cond_line = yline(k);
			continue;
		}
		if (kn == 9 && !memcmp(ks, "timeframe", 9))
			return cc_fail(cc, yline(k), "unsupported: 'timeframe' in detection (use a "
				       "correlation rule)");
		for (size_t i = 0; i < d->nsel; i++)
			if (strlen(d->sel[i].name) == kn && !memcmp(d->sel[i].name, ks, kn))
				return cc_fail(cc, yline(k), "duplicate search identifier '%.*s'",
					       (int)kn, ks);
		struct sel *sel = &d->sel[d->nsel];
		memset(sel, 0, sizeof(*sel));
		if (!(sel->name = adup(cc->a, ks, kn)))
			return -ENOMEM;
		int rc = compile_sel(cc, y, v, sel);
		if (rc)
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

/* ---- the mapping ---- */

static int map_targets(struct arena *a, struct ydoc *y, yaml_node_t *v, struct fmap_entry *e)
{
	const char *s;
	size_t n;
	if (yscalar(v, &s, &n)) {
		e->to = arena_alloc(a, sizeof(*e->to));
		if (!e->to || !(e->to[0] = adup(a, s, n)))
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
		if (!(e->to[e->nto++] = adup(a, s, n)))
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
		if (!(e->from = adup(cc->a, s, n)))
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

static int map_parse(struct sigma_mapping *m, const char *text, size_t n, char *err,
		     size_t errlen)
{
	yaml_parser_t parser;
	struct ydoc y;
	memset(&y, 0, sizeof(y));
	struct cctx cc = { &m->a, err, errlen, NULL, NULL, false, &m->res };
	int rc = 0;
	char lerr[256];
	if ((rc = yaml_check_limits(text, n, &map_limits, lerr, sizeof(lerr))) < 0) {
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
		e->name = adup(&m->a, s, sn);
		static const char *keys[3] = { "category", "product", "service" };
		const char **dst[3] = { &e->category, &e->product, &e->service };
		for (int i = 0; i < 3; i++) {
			yaml_node_t *kv = ymap_get(&y, v, keys[i]);
			if (!kv)
				continue;
			if (!yscalar(kv, &s, &sn)) {
				rc = cc_fail(&cc, yline(kv), "mapping: %s must be a string",
					     keys[i]);
				goto out;
			}
			*dst[i] = adup(&m->a, s, sn);
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
			if ((rc = compile_sel(&cc, &y, cond, sel)))
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

static int map_new(const char *text, size_t n, struct sigma_mapping **out, char *err,
		   size_t errlen)
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
static int resolve_logsource(struct cctx *cc, const char *cat, const char *prod, const char *svc,
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
		return cc_fail(cc, line, "unsupported: logsource%s%s%s%s%s%s (no mapping in "
			       "rules/mapping.yml)", cat ? " category=" : "", cat ? cat : "",
			       prod ? " product=" : "", prod ? prod : "", svc ? " service=" : "",
			       svc ? svc : "");
	return 0;
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
		return cc_fail(cc, yv.line, "unsupported: correlation condition '%s: %lld' outside "
			       "0..%d", key, (long long)x, SIGMA_MAX_COUNT);
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
	else if (!strcmp(type, "value_sum") || !strcmp(type, "value_avg") ||
		 !strcmp(type, "value_percentile"))
		return cc_fail(cc, yline(c), "unsupported: correlation type '%s'", type);
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
		return cc_fail(cc, yline(v ? v : c), "correlation timespan must be like 30s, 5m, "
			       "1h or 2d (up to a year)");
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
			const char *ops[6] = { "gt", "gte", "lt", "lte", "eq", "neq" };
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
			if ((rc = parse_count(cc, val, ops[op], &x)))
				return rc;
			struct corr_cond *cd = &co->cond;
			switch (op) {
			case 0: cd->has_lo = true; cd->lo = x + 1; break;
			case 1: cd->has_lo = true; cd->lo = x; break;
			case 2:
				cd->has_hi = true;
				cd->hi = x - 1;
				break;
			case 3: cd->has_hi = true; cd->hi = x; break;
			case 4:
				cd->has_lo = cd->has_hi = true;
				cd->lo = cd->hi = x;
				break;
			case 5: cd->has_neq = true; cd->neq = x; break;
			}
		}
	}
	struct corr_cond *cd = &co->cond;
	if (co->type == CT_EVENT_COUNT || co->type == CT_VALUE_COUNT) {
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
			return cc_fail(cc, yline(v), "unsupported: temporal_ordered with a partial "
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
	struct cctx cc = { &r->a, err, errlen, NULL, map, false, &r->res };
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
		return cc_fail(&cc, yline(root), "unsupported: 'action' documents (Sigma 1 "
			       "collections)");
	if (ymap_get(y, root, "filter"))
		return cc_fail(&cc, yline(root), "unsupported: Sigma filter documents");
	if (in->level && !sigma_level_severity(in->level))
		return cc_fail(&cc, yline(ymap_get(y, root, "level")), "level must be "
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
	if (corr && det)
		return cc_fail(&cc, yline(corr), "a rule has detection or correlation, not both");
	if (corr)
		return compile_corr(&cc, y, root, corr, r);
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
	const struct logsource_map **lsm;
	size_t nls;
	if ((rc = resolve_logsource(&cc, cat, prod, svc, &lsm, &nls, yline(ls))))
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
		rc = compile_detection(&cc, y, det, &v->det);
		r->nvar++;
		if (rc)
			return rc;
	}
	r->keywords = cc.keywords;
	return prefilter_build(r);
}

/* ---- public ---- */

void rule_free(struct rule *r)
{
	if (!r)
		return;
	vmatch_free_all(r);
	arena_release(&r->a);
	free(r);
}

const struct rule_info *rule_get_info(const struct rule *r)
{
	return &r->info;
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
static void mark_generates(struct rule **rules, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		struct rule_info *in = &rules[j]->info;
		bool referred = false, asked = false;
		for (size_t i = 0; i < n; i++) {
			const struct corr *co = rules[i]->corr;
			for (size_t k = 0; co && i != j && k < co->nrefs; k++)
				if ((in->id && !strcmp(in->id, co->refs[k])) ||
				    (in->name && !strcmp(in->name, co->refs[k]))) {
					referred = true;
					asked |= co->generate;
				}
		}
		if (referred)
			in->generates = asked;
	}
}

int sigma_compile(const char *text, size_t n, const char *origin, struct rule ***rules,
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
	if ((rc = yaml_check_limits(text, n, &rule_limits, err, errlen)) < 0)
		return rc;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
	for (;;) {
		struct ydoc y;
		memset(&y, 0, sizeof(y));
		if (!yaml_parser_load(&parser, &y.doc)) {
			rc = yaml_error(&parser, docno + 1, err, errlen);
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
	mark_generates(out, nout);
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
	return sigma_compile(text, n, origin, rules, nrules, err, errlen);
}
