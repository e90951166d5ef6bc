/* sigma_placeholders.c — the `expand` modifier: values of placeholders (`%Administrators%`,
 * SigmaHQ's names) from a YAML file (`--sigma-placeholders`), and a rule's values with their
 * placeholders replaced by each of those values. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/file.h"
#include "detect/sigma_int.h"

struct placeholder {
	const char *name; /* without the '%' */
	size_t nvals;
	const char **vals;
	size_t *valn;
};

struct placeholders {
	struct arena a;
	size_t n;
	struct placeholder *p;
};

/* The set in force; held while a rule's values are expanded (they are copied into the rule,
 * so a replaced set is freed at once). */
static pthread_mutex_t ph_lock = PTHREAD_MUTEX_INITIALIZER;
static struct placeholders *ph_current;

static const struct ylimits ph_limits = {RULE_FILE_MAX, RULE_MAX_DEPTH, SIGMA_MAX_NODES};

static int ph_parse(struct placeholders *ph, const char *text, size_t n, char *err, size_t errlen)
{
	yaml_parser_t parser;
	struct ydoc y;
	struct cctx cc = {&ph->a, err, errlen, NULL, NULL, false, NULL};
	int rc = 0;
	char lerr[256];
	memset(&y, 0, sizeof(y));
	if ((rc = ylimits_check(text, n, &ph_limits, lerr, sizeof(lerr))) < 0)
		return rc == -ENOMEM ? rc : cc_fail(&cc, 0, "placeholders: %s", lerr);
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
	if (!yaml_parser_load(&parser, &y.doc)) {
		rc = cc_fail(&cc, (unsigned)parser.problem_mark.line + 1, "placeholders: %s",
			     parser.problem ? parser.problem : "YAML error");
		yaml_parser_delete(&parser);
		return rc;
	}
	yaml_node_t *root = yaml_document_get_root_node(&y.doc);
	if (!root) /* an empty file: no placeholders */
		goto out;
	if (root->type != YAML_MAPPING_NODE) {
		rc = cc_fail(&cc, yline(root), "placeholders: a map of names to value lists");
		goto out;
	}
	size_t cnt = (size_t)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
	if (!(ph->p = arena_alloc(&ph->a, (cnt ? cnt : 1) * sizeof(*ph->p)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yget(&y, p->key), *v = yget(&y, p->value);
		struct placeholder *e = &ph->p[ph->n];
		const char *s;
		size_t sn;
		if (!yscalar(k, &s, &sn) || !sn || !v) {
			rc = cc_fail(&cc, yline(k), "placeholders: names must be strings");
			goto out;
		}
		if (sn > 2 && s[0] == '%' && s[sn - 1] == '%') {
			s++;
			sn -= 2;
		}
		e->name = arena_strndup(&ph->a, s, sn);
		size_t nv =
		    v->type == YAML_SEQUENCE_NODE
			? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start)
			: 1;
		e->vals = arena_alloc(&ph->a, (nv ? nv : 1) * sizeof(*e->vals));
		e->valn = arena_alloc(&ph->a, (nv ? nv : 1) * sizeof(*e->valn));
		if (!e->name || !e->vals || !e->valn) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < nv; i++) {
			yaml_node_t *it = v->type == YAML_SEQUENCE_NODE
					      ? yget(&y, v->data.sequence.items.start[i])
					      : v;
			if (!yscalar(it, &s, &sn)) {
				rc = cc_fail(
				    &cc, yline(it ? it : v),
				    "placeholders: '%s' must be a value or a list of values",
				    e->name);
				goto out;
			}
			if (!(e->vals[i] = arena_strndup(&ph->a, s, sn))) {
				rc = -ENOMEM;
				goto out;
			}
			e->valn[i] = sn;
		}
		e->nvals = nv;
		ph->n++;
	}
out:
	yaml_document_delete(&y.doc);
	yaml_parser_delete(&parser);
	return rc;
}

int sigma_placeholders_set(const char *text, size_t n, char *err, size_t errlen)
{
	struct placeholders *ph = calloc(1, sizeof(*ph));
	if (!ph)
		return -ENOMEM;
	arena_init(&ph->a, 0);
	int rc = ph_parse(ph, text, n, err, errlen);
	if (rc) {
		arena_release(&ph->a);
		free(ph);
		return rc;
	}
	pthread_mutex_lock(&ph_lock);
	struct placeholders *old = ph_current;
	ph_current = ph;
	pthread_mutex_unlock(&ph_lock);
	if (old) {
		arena_release(&old->a);
		free(old);
	}
	return 0;
}

int sigma_placeholders_load(const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	size_t n = 0;
	int rc = file_read_all(path, RULE_FILE_MAX, &text, &n);
	if (rc) {
		snprintf(err, errlen, "cannot read '%s': %s", path, siem_strerror(rc));
		return rc;
	}
	char e[512];
	if ((rc = sigma_placeholders_set(text, n, e, sizeof(e))))
		snprintf(err, errlen, "%s: %s", path, rc == -ENOMEM ? "out of memory" : e);
	free(text);
	return rc;
}

static const struct placeholder *ph_find(const struct placeholders *ph, const char *s, size_t n)
{
	for (size_t i = 0; ph && i < ph->n; i++)
		if (strlen(ph->p[i].name) == n && !memcmp(ph->p[i].name, s, n))
			return &ph->p[i];
	return NULL;
}

static bool ph_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* The first placeholder of s[from..n): its start and length with the '%'s, or false. */
static bool next_placeholder(const char *s, size_t n, size_t from, size_t *at, size_t *len)
{
	for (size_t i = from; i + 2 < n; i++) {
		if (s[i] != '%')
			continue;
		size_t j = i + 1;
		while (j < n && ph_char(s[j]))
			j++;
		if (j < n && s[j] == '%' && j > i + 1) {
			*at = i;
			*len = j - i + 1;
			return true;
		}
	}
	return false;
}

struct xlist {
	struct yval *v;
	size_t n, cap;
};

static int xl_push(struct cctx *cc, struct xlist *xl, const char *s, size_t n, unsigned line)
{
	if (xl->n == SIGMA_MAX_VALUES)
		return cc_fail(cc, line, "unsupported: more than %d values after modifiers",
			       SIGMA_MAX_VALUES);
	if (xl->n == xl->cap) {
		size_t cap = xl->cap ? xl->cap * 2 : 8;
		struct yval *v = arena_alloc(cc->a, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		if (xl->n)
			memcpy(v, xl->v, xl->n * sizeof(*v));
		xl->v = v;
		xl->cap = cap;
	}
	char *c = arena_strndup(cc->a, s, n);
	if (!c)
		return -ENOMEM;
	xl->v[xl->n++] = (struct yval){c, n, YV_STR, line};
	return 0;
}

/* s with its placeholders from `from` on replaced, every combination pushed. */
static int expand_one(struct cctx *cc, const struct placeholders *ph, struct xlist *xl,
		      const char *s, size_t n, size_t from, unsigned line, int depth)
{
	size_t at, len;
	if (!next_placeholder(s, n, from, &at, &len))
		return xl_push(cc, xl, s, n, line);
	const struct placeholder *p = ph_find(ph, s + at + 1, len - 2);
	if (!p)
		return cc_fail(cc, line,
			       "unsupported: placeholder '%.*s' without values "
			       "(--sigma-placeholders FILE)",
			       (int)(len > 60 ? 60 : len), s + at);
	if (depth > 8)
		return cc_fail(cc, line, "unsupported: more than 8 placeholders in one value");
	for (size_t i = 0; i < p->nvals; i++) {
		size_t m = n - len + p->valn[i];
		char *b = malloc(m + 1);
		if (!b)
			return -ENOMEM;
		memcpy(b, s, at);
		memcpy(b + at, p->vals[i], p->valn[i]);
		memcpy(b + at + p->valn[i], s + at + len, n - at - len);
		int rc = expand_one(cc, ph, xl, b, m, at + p->valn[i], line, depth + 1);
		free(b);
		if (rc)
			return rc;
	}
	return 0;
}

int placeholders_expand(struct cctx *cc, const struct yval *vals, size_t nvals, struct yval **out,
			size_t *nout, unsigned line)
{
	struct xlist xl = {NULL, 0, 0};
	int rc = 0;
	pthread_mutex_lock(&ph_lock);
	const struct placeholders *ph = ph_current;
	for (size_t i = 0; !rc && i < nvals; i++) {
		const struct yval *v = &vals[i];
		unsigned vl = v->line ? v->line : line;
		if (v->t != YV_STR) { /* numbers, null: nothing to expand */
			if (!(rc = xl_push(cc, &xl, v->s ? v->s : "", v->s ? v->n : 0, vl)))
				xl.v[xl.n - 1].t = v->t;
			continue;
		}
		rc = expand_one(cc, ph, &xl, v->s, v->n, 0, vl, 0);
	}
	pthread_mutex_unlock(&ph_lock);
	if (rc)
		return rc;
	*out = xl.v;
	*nout = xl.n;
	return 0;
}
