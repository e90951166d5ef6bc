/* sigma_yaml.c — reading Sigma YAML with libyaml: node access that counts its visits, scalars
 * typed as YAML's core schema types them, and the limits checked before a document is loaded. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "detect/sigma_int.h"

yaml_node_t *yget(struct ydoc *y, int idx)
{
	if (++y->visits > SIGMA_MAX_NODES)
		return NULL;
	return yaml_document_get_node(&y->doc, idx);
}

unsigned yline(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.line + 1 : 0;
}

bool yscalar(const yaml_node_t *n, const char **s, size_t *len)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return false;
	*s = (const char *)n->data.scalar.value;
	*len = n->data.scalar.length;
	return true;
}

bool ykey_is(const yaml_node_t *n, const char *w)
{
	const char *s;
	size_t len;
	return yscalar(n, &s, &len) && len == strlen(w) && !memcmp(s, w, len);
}

yaml_node_t *ymap_get(struct ydoc *y, yaml_node_t *map, const char *key)
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
void yval_of(const yaml_node_t *n, struct yval *v)
{
	yscalar(n, &v->s, &v->n);
	v->t = YV_STR;
	v->line = yline(n);
	if (!plain(n))
		return;
	if (v->n == 0 || (v->n == 1 && v->s[0] == '~') ||
	    (v->n == 4 &&
	     (!memcmp(v->s, "null", 4) || !memcmp(v->s, "Null", 4) || !memcmp(v->s, "NULL", 4))))
		v->t = YV_NULL;
	else if ((v->n == 4 && sigma_ieq(v->s, 4, "true", 4)) ||
		 (v->n == 5 && sigma_ieq(v->s, 5, "false", 5)))
		v->t = YV_BOOL;
	else if (all_digits(v->s, v->n))
		v->t = YV_INT;
	else if (floatish(v->s, v->n))
		v->t = YV_NUM;
}

/* ---- limits, checked on the parser's events before any document tree is built ---- */

int yerror(const yaml_parser_t *p, size_t docno, char *err, size_t errlen)
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
int ylimits_check(const char *text, size_t n, const struct ylimits *lim, char *err, size_t errlen)
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
			rc = yerror(&p, in_doc ? docno : docno + 1, err, errlen);
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
