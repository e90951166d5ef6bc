/* decoder_load.c — decoder files (YAML) read into a decoder set: a file's pattern library,
 * its decoders and their patterns, grok references expanded, compiled once with PCRE2 JIT;
 * every error names the file, the line and the pattern. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/err.h"
#include "core/file.h"
#include "core/jsonw.h"
#include "parse/decode_int.h"
#include "parse/grok.h"

#define FILE_MAX (1024 * 1024)
#define MAX_FILES 256
#define MAX_VISITS 200000 /* node visits per file: aliases cannot make loading run long */

struct lctx {
	struct decoder_set *s;
	yaml_document_t doc;
	const char *file;
	unsigned visits;
	char *err;
	size_t errlen;
	struct grok_lib lib;
};

static int lfail(struct lctx *c, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int lfail(struct lctx *c, unsigned line, const char *fmt, ...)
{
	int k = snprintf(c->err, c->errlen, "%s:%u: ", c->file, line);
	if (k < 0 || (size_t)k >= c->errlen)
		return SIEM_EPARSE;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return SIEM_EPARSE;
}

/* ---- YAML nodes ---- */

static yaml_node_t *node(struct lctx *c, int idx)
{
	if (++c->visits > MAX_VISITS)
		return NULL;
	return yaml_document_get_node(&c->doc, idx);
}

static unsigned line_of(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.line + 1 : 0;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
	       n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

/* A string copied into the set's arena. */
static const char *keep(struct lctx *c, const char *s)
{
	return s ? arena_strndup(&c->s->a, s, strlen(s)) : NULL;
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static size_t map_len(const yaml_node_t *n)
{
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/* Every key of map must be one of keys (NULL-terminated); a typo is an error, not ignored. */
static int check_keys(struct lctx *c, yaml_node_t *map, const char *what, const char *const *keys)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(c, p->key);
		const char *ks = scalar(k);
		if (!ks)
			return lfail(c, line_of(k ? k : map), "%s: keys must be strings", what);
		bool ok = false;
		for (size_t i = 0; keys[i] && !ok; i++)
			ok = !strcmp(ks, keys[i]);
		if (!ok)
			return lfail(c, line_of(k), "%s: unknown key '%s'", what, ks);
	}
	return 0;
}

static yaml_node_t *get(struct lctx *c, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *ks = scalar(node(c, p->key));
		if (ks && !strcmp(ks, key))
			return node(c, p->value);
	}
	return NULL;
}

/* ---- pieces of a decoder ---- */

static bool is_json_literal(const char *v)
{
	if (!strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "null"))
		return true;
	size_t i = v[0] == '-' ? 1 : 0;
	if (!v[i] || (v[i] == '0' && v[i + 1]) || strlen(v) > 15)
		return false;
	for (; v[i]; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

/* data: {key: value, ...} -> "\"key\":value,..." (plain true/false/null/integers as JSON
 * literals, everything else a string). */
static int constants(struct lctx *c, yaml_node_t *m, const char *ctx, const char **out)
{
	if (m->type != YAML_MAPPING_NODE)
		return lfail(c, line_of(m), "%s: 'data' must be a map of constants", ctx);
	struct strbuf b;
	strbuf_init(&b, 64 * 1024);
	int rc = 0;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		const char *ks = scalar(k), *vs = scalar(v);
		if (!ks || !vs || !*ks) {
			rc = lfail(c, line_of(k ? k : m), "%s: 'data' values must be scalars", ctx);
			goto out;
		}
		size_t kn = strlen(ks), vn = strlen(vs);
		char *esc = malloc(JSON_ESCAPE_MAX(kn + vn) + 1);
		if (!esc) {
			rc = -ENOMEM;
			goto out;
		}
		size_t en = json_escape(esc, ks, kn);
		rc = strbuf_addf(&b, "%s\"%.*s\":", b.n ? "," : "", (int)en, esc);
		if (!rc && plain(v) && is_json_literal(vs)) {
			rc = strbuf_add(&b, vs, vn);
		} else if (!rc) {
			en = json_escape(esc, vs, vn);
			rc = strbuf_addf(&b, "\"%.*s\"", (int)en, esc);
		}
		free(esc);
		if (rc)
			goto out;
	}
	if (b.n && !(*out = arena_strndup(&c->s->a, b.p, b.n)))
		rc = -ENOMEM;
out:
	strbuf_release(&b);
	return rc;
}

/* Literal text at the start of a regex: up to the first metacharacter, less a character a
 * quantifier applies to. Patterns keep any top-level alternation inside a group. */
static size_t literal_prefix(const char *re)
{
	size_t i = 0;
	while (re[i] && !strchr("\\^$.[]|()?*+{}", re[i]))
		i++;
	if (i > 0 && re[i] && strchr("?*+{", re[i]))
		i--;
	return i;
}

/* The bytes a match can start with, when PCRE2 knows them: most patterns that cannot match
 * a message are then refused by one table lookup, without calling the matcher. */
static void first_bytes(struct dpattern *p)
{
	uint32_t type = 0, unit = 0, opts = 0;
	const uint8_t *map = NULL;
	pcre2_pattern_info(p->code, PCRE2_INFO_FIRSTCODETYPE, &type);
	pcre2_pattern_info(p->code, PCRE2_INFO_FIRSTBITMAP, &map);
	pcre2_pattern_info(p->code, PCRE2_INFO_ALLOPTIONS, &opts);
	memset(p->first, 0, sizeof(p->first));
	p->first_set = false;
	if (map) {
		memcpy(p->first, map, sizeof(p->first));
		p->first_set = true;
	} else if (type == 1 && !(opts & PCRE2_CASELESS)) {
		pcre2_pattern_info(p->code, PCRE2_INFO_FIRSTCODEUNIT, &unit);
		if (unit < 256) {
			p->first[unit / 8] = (uint8_t)(1u << (unit % 8));
			p->first_set = true;
		}
	}
}

static int by_group(const void *x, const void *y)
{
	const struct dfield *a = x, *b = y;
	return (int)a->group - (int)b->group;
}

struct convert {
	const char *const *names;
	size_t n;
};

static int field_kind(const char *name, bool as_int, const struct convert *cv)
{
	static const struct {
		const char *name;
		int kind;
	} event_fields[] = {
	    {"user", K_USER},
	    {"http_method", K_HTTP_METHOD},
	    {"http_path", K_HTTP_PATH},
	    {"user_agent", K_USER_AGENT},
	    {"request_id", K_REQUEST_ID},
	    {"error_type", K_ERROR_TYPE},
	    {"http_status", K_HTTP_STATUS},
	    {"latency_ms", K_LATENCY_MS},
	    {"latency_s", K_LATENCY_S},
	};
	for (size_t i = 0; i < sizeof(event_fields) / sizeof(event_fields[0]); i++)
		if (!strcmp(name, event_fields[i].name))
			return event_fields[i].kind;
	if (!strcmp(name, "source_ip") || !strcmp(name, "ip"))
		return K_IP;
	if (!strcmp(name, "rhost"))
		return K_IPWEAK;
	for (size_t i = 0; i < cv->n && !as_int; i++)
		as_int = !strcmp(cv->names[i], name);
	return as_int ? K_INT : K_STR;
}

/* The pattern's named groups, sorted by group number, each with its event field. */
static int map_fields(struct lctx *c, struct dpattern *p, const struct grok_out *g,
		      const struct convert *cv, const char *ctx, unsigned line)
{
	uint32_t count, size;
	PCRE2_SPTR table;
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMETABLE, &table);
	if (count > DEC_MAX_FIELDS)
		return lfail(c, line, "%s: more than %d named groups", ctx, DEC_MAX_FIELDS);
	for (uint32_t i = 0; i < count; i++) {
		PCRE2_SPTR e = table + (size_t)i * size;
		struct dfield *f = &p->fields[i];
		const char *gname = (const char *)e + 2, *target = gname;
		bool as_int = false;
		f->group = (unsigned short)((e[0] << 8) | e[1]);
		for (size_t k = 0; k < g->ncaps; k++) {
			if (!strcmp(g->caps[k].group, gname)) {
				target = g->caps[k].target;
				as_int = g->caps[k].as_int;
			}
		}
		bool to_data = !strncmp(target, "data.", 5);
		if (to_data)
			target += 5;
		if (!*target)
			return lfail(c, line, "%s: empty field name", ctx);
		if (!(f->name = keep(c, target)))
			return -ENOMEM;
		f->namelen = (unsigned char)strlen(f->name);
		f->kind = (unsigned char)(to_data ? (as_int ? K_INT : K_STR)
						  : field_kind(f->name, as_int, cv));
	}
	/* A host name where an address was expected (sshd with UseDNS) is kept as data.rhost,
	 * unless the pattern captures an rhost of its own. */
	bool has_rhost = false;
	for (uint32_t i = 0; i < count; i++)
		has_rhost |= !strcmp(p->fields[i].name, "rhost");
	for (uint32_t i = 0; i < count && !has_rhost; i++) {
		if (p->fields[i].kind == K_IP) {
			p->fields[i].name = "rhost";
			p->fields[i].namelen = 5;
		}
	}
	p->nfields = count;
	qsort(p->fields, count, sizeof(p->fields[0]), by_group);
	for (unsigned i = 0; i < count; i++) {
		p->fields[i].first = (unsigned char)i;
		for (unsigned k = 0; k < i; k++) {
			if (!strcmp(p->fields[k].name, p->fields[i].name)) {
				p->fields[i].first = (unsigned char)k;
				break;
			}
		}
	}
	return 0;
}

static int compile(struct lctx *c, struct dpattern *p, const char *src, const struct convert *cv,
		   const char *ctx, unsigned line)
{
	struct grok_out g;
	grok_out_init(&g);
	int rc = grok_expand(src, &c->lib, &g);
	if (rc == -ENOMEM)
		goto out;
	if (rc) {
		rc = lfail(c, line, "%s: %s", ctx, g.err);
		goto out;
	}
	if (!(p->re = arena_strndup(&c->s->a, g.re.p, g.re.n))) {
		rc = -ENOMEM;
		goto out;
	}
	int err;
	PCRE2_SIZE off;
	p->code = pcre2_compile((PCRE2_SPTR)p->re, PCRE2_ZERO_TERMINATED,
				PCRE2_ANCHORED | PCRE2_DUPNAMES, &err, &off, NULL);
	if (!p->code) {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(err, msg, sizeof(msg));
		rc = lfail(c, line, "%s: %s at offset %zu of '%.200s'", ctx, (char *)msg,
			   (size_t)off, p->re);
		goto out;
	}
	p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
	p->prefix_n = literal_prefix(p->re);
	first_bytes(p);
	uint32_t groups;
	pcre2_pattern_info(p->code, PCRE2_INFO_CAPTURECOUNT, &groups);
	if (groups > c->s->max_groups)
		c->s->max_groups = groups;
	rc = map_fields(c, p, &g, cv, ctx, line);
out:
	grok_out_release(&g);
	return rc;
}

static int severity(struct lctx *c, yaml_node_t *v, const char *ctx, int *out)
{
	const char *s = scalar(v);
	if (!s || strlen(s) != 1 || s[0] < '1' || s[0] > '5')
		return lfail(c, line_of(v), "%s: severity must be 1 to 5", ctx);
	*out = s[0] - '0';
	return 0;
}

static bool type_ok(const char *t)
{
	if (!t || !*t || strlen(t) > 128)
		return false;
	for (; *t; t++)
		if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') ||
		      (*t >= '0' && *t <= '9') || *t == '_' || *t == '-' || *t == '.' || *t == ':'))
			return false;
	return true;
}

static int load_pattern(struct lctx *c, struct ddecoder *d, yaml_node_t *m, struct dpattern *p,
			const struct convert *cv)
{
	static const char *const keys[] = {"name", "match", "type", "severity",
					   "data", "user",  NULL};
	char ctx[200];
	int rc;
	memset(p, 0, sizeof(*p));
	snprintf(ctx, sizeof(ctx), "decoder '%s'", d->name);
	if (m->type != YAML_MAPPING_NODE)
		return lfail(c, line_of(m), "%s: each pattern must be a map", ctx);
	const char *name = scalar(get(c, m, "name"));
	if (!name || !*name)
		return lfail(c, line_of(m), "%s: a pattern needs a 'name'", ctx);
	snprintf(ctx, sizeof(ctx), "decoder '%s' pattern '%.64s'", d->name, name);
	if ((rc = check_keys(c, m, ctx, keys)))
		return rc;
	if (!(p->name = keep(c, name)))
		return -ENOMEM;
	yaml_node_t *v = get(c, m, "match");
	if (!scalar(v))
		return lfail(c, line_of(m), "%s: 'match' must be a string", ctx);
	if ((rc = compile(c, p, scalar(v), cv, ctx, line_of(v))))
		return rc;
	if ((v = get(c, m, "type"))) {
		if (!type_ok(scalar(v)))
			return lfail(c, line_of(v),
				     "%s: 'type' must be a name (A-Z a-z 0-9 _ - . :)", ctx);
		if (!(p->type = keep(c, scalar(v))))
			return -ENOMEM;
	} else if (!d->generic) {
		/* Typeless patterns take the program's generic type: there must be one. */
		bool any = false;
		for (size_t i = 0; i < d->nprograms && !any; i++)
			any = d->programs[i].generic != NULL;
		if (!any)
			return lfail(c, line_of(m),
				     "%s: no 'type', and the decoder has no 'generic' type", ctx);
	}
	if ((v = get(c, m, "severity")) && (rc = severity(c, v, ctx, &p->sev)))
		return rc;
	if ((v = get(c, m, "data")) && (rc = constants(c, v, ctx, &p->extra)))
		return rc;
	if ((v = get(c, m, "user"))) {
		if (!scalar(v) || !*scalar(v))
			return lfail(c, line_of(v), "%s: 'user' must be a string", ctx);
		if (!(p->user = keep(c, scalar(v))))
			return -ENOMEM;
	}
	return 0;
}

static int add_program(struct lctx *c, struct ddecoder *d, yaml_node_t *k, const char *generic)
{
	const char *s = scalar(k);
	size_t n = s ? strlen(s) : 0;
	if (!n || n > 128 || strchr(s, '[') || strchr(s, ' '))
		return lfail(c, line_of(k), "decoder '%s': a program is a name like sshd or pam_*",
			     d->name);
	struct dprogram *pr = &d->programs[d->nprograms++];
	pr->prefix = s[n - 1] == '*';
	pr->n = pr->prefix ? n - 1 : n;
	if (!(pr->name = keep(c, s)))
		return -ENOMEM;
	if (generic && !type_ok(generic))
		return lfail(c, line_of(k), "decoder '%s': bad generic type for '%s'", d->name, s);
	pr->generic = generic ? keep(c, generic) : d->generic;
	return 0;
}

/* programs: [a, b] (each with the decoder's generic type) or {a: TYPE_A, b: TYPE_B}. */
static int load_programs(struct lctx *c, struct ddecoder *d, yaml_node_t *v)
{
	int rc;
	size_t n = v->type == YAML_SEQUENCE_NODE  ? seq_len(v)
		   : v->type == YAML_MAPPING_NODE ? map_len(v)
		   : scalar(v)			  ? 1
						  : 0;
	if (!n)
		return lfail(c, line_of(v), "decoder '%s': 'programs' must list program names",
			     d->name);
	if (!(d->programs = arena_alloc(&c->s->a, n * sizeof(*d->programs))))
		return -ENOMEM;
	memset(d->programs, 0, n * sizeof(*d->programs));
	if (scalar(v))
		return add_program(c, d, v, NULL);
	if (v->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++)
			if ((rc = add_program(c, d, node(c, *it), NULL)))
				return rc;
		return 0;
	}
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *gv = node(c, p->value);
		const char *g = scalar(gv);
		if ((rc = add_program(c, d, node(c, p->key), g && *g ? g : NULL)))
			return rc;
	}
	return 0;
}

static bool may_start(const struct dpattern *p, unsigned b)
{
	if (p->prefix_n)
		return (unsigned char)p->re[0] == b;
	return !p->first_set || (p->first[b / 8] & (1u << (b % 8)));
}

/* For each first byte, the patterns that can match a message starting with it. */
static int index_first_bytes(struct lctx *c, struct ddecoder *d)
{
	size_t total = 0;
	for (unsigned b = 0; b < 256; b++)
		for (size_t k = 0; k < d->npatterns; k++)
			total += may_start(&d->patterns[k], b);
	if (!(d->by_first = arena_alloc(&c->s->a, (total + 1) * sizeof(*d->by_first))))
		return -ENOMEM;
	size_t at = 0;
	for (unsigned b = 0; b < 256; b++) {
		d->first_at[b] = (uint32_t)at;
		for (size_t k = 0; k < d->npatterns; k++)
			if (may_start(&d->patterns[k], b))
				d->by_first[at++] = (uint16_t)k;
	}
	d->first_at[256] = (uint32_t)at;
	return 0;
}

static int load_decoder(struct lctx *c, yaml_node_t *m)
{
	static const char *const keys[] = {"name",    "programs", "prefilter", "generic",
					   "convert", "patterns", NULL};
	int rc;
	if (m->type != YAML_MAPPING_NODE)
		return lfail(c, line_of(m), "each decoder must be a map");
	const char *name = scalar(get(c, m, "name"));
	if (!name || !*name || strlen(name) > 64)
		return lfail(c, line_of(m), "a decoder needs a 'name' (up to 64 characters)");
	char ctx[120];
	snprintf(ctx, sizeof(ctx), "decoder '%s'", name);
	if ((rc = check_keys(c, m, ctx, keys)))
		return rc;
	if (c->s->n == c->s->cap) {
		size_t cap = c->s->cap ? c->s->cap * 2 : 32;
		struct ddecoder *nd = realloc(c->s->decoders, cap * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		c->s->decoders = nd;
		c->s->cap = cap;
	}
	struct ddecoder *d = &c->s->decoders[c->s->n];
	memset(d, 0, sizeof(*d));
	if (!(d->name = keep(c, name)) || !(d->file = keep(c, c->file)))
		return -ENOMEM;
	yaml_node_t *v;
	if ((v = get(c, m, "generic"))) {
		if (!type_ok(scalar(v)))
			return lfail(c, line_of(v), "%s: 'generic' must be an event type", ctx);
		if (!(d->generic = keep(c, scalar(v))))
			return -ENOMEM;
	}
	if ((v = get(c, m, "programs")) && (rc = load_programs(c, d, v)))
		return rc;
	if ((v = get(c, m, "prefilter"))) {
		const char *s = scalar(v);
		if (!s || !*s)
			return lfail(c, line_of(v), "%s: 'prefilter' must be a non-empty string",
				     ctx);
		if (!(d->prefilter = keep(c, s)))
			return -ENOMEM;
		d->prefilter_n = strlen(s);
	}
	const char *cvn[64];
	struct convert cv = {cvn, 0};
	if ((v = get(c, m, "convert"))) {
		if (v->type != YAML_MAPPING_NODE || map_len(v) > 64)
			return lfail(c, line_of(v), "%s: 'convert' must map field names to int",
				     ctx);
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *kv = node(c, p->key), *tv = node(c, p->value);
			const char *t = scalar(tv);
			if (!scalar(kv) || !t || (strcmp(t, "int") && strcmp(t, "string")))
				return lfail(c, line_of(kv ? kv : v),
					     "%s: 'convert' must map field names to int", ctx);
			if (!strcmp(t, "int"))
				cvn[cv.n++] = scalar(kv);
		}
	}
	v = get(c, m, "patterns");
	if (!v || v->type != YAML_SEQUENCE_NODE || !seq_len(v))
		return lfail(c, line_of(v ? v : m), "%s: 'patterns' must be a non-empty list", ctx);
	size_t n = seq_len(v);
	if (n > 4096)
		return lfail(c, line_of(v), "%s: more than 4096 patterns", ctx);
	if (!(d->patterns = arena_alloc(&c->s->a, n * sizeof(*d->patterns))))
		return -ENOMEM;
	c->s->n++; /* from here on decoder_set_free releases what was compiled */
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *pm = node(c, *it);
		if (!pm)
			return lfail(c, line_of(v), "%s: too many nodes", ctx);
		struct dpattern *p = &d->patterns[d->npatterns];
		rc = load_pattern(c, d, pm, p, &cv);
		if (p->code)
			d->npatterns++;
		if (rc)
			return rc;
	}
	return index_first_bytes(c, d);
}

/* patterns: {NAME: regex, ...} — this file's library, searched before the standard one. */
static int load_library(struct lctx *c, yaml_node_t *v)
{
	if (v->type != YAML_MAPPING_NODE)
		return lfail(c, line_of(v), "'patterns' must map NAME to a regex");
	size_t n = map_len(v);
	const char **names = arena_alloc(&c->s->a, (n + 1) * sizeof(char *));
	const char **defs = arena_alloc(&c->s->a, (n + 1) * sizeof(char *));
	if (!names || !defs)
		return -ENOMEM;
	size_t i = 0;
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(c, p->key), *d = node(c, p->value);
		const char *ks = scalar(k), *ds = scalar(d);
		if (!ks || !ds)
			return lfail(c, line_of(k ? k : v), "'patterns' must map NAME to a regex");
		for (const char *q = ks; *q; q++)
			if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
			      (*q >= '0' && *q <= '9') || *q == '_'))
				return lfail(c, line_of(k), "pattern name '%s': use A-Z 0-9 _", ks);
		if (!(names[i] = keep(c, ks)) || !(defs[i] = keep(c, ds)))
			return -ENOMEM;
		i++;
	}
	c->lib = (struct grok_lib){names, defs, i};
	return 0;
}

static int load_text(struct decoder_set *s, const char *file, const char *text, size_t len,
		     char *err, size_t errlen)
{
	static const char *const keys[] = {"patterns", "decoders", NULL};
	struct lctx c = {.s = s, .file = file, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	int rc = 0;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &c.doc)) {
		rc = lfail(&c, (unsigned)parser.problem_mark.line + 1, "%s",
			   parser.problem ? parser.problem : "not YAML");
		yaml_parser_delete(&parser);
		return rc;
	}
	yaml_parser_delete(&parser);
	yaml_node_t *root = yaml_document_get_root_node(&c.doc), *v;
	if (!root || root->type != YAML_MAPPING_NODE) {
		rc = lfail(&c, 1, "a decoder file is a map with 'decoders' (and 'patterns')");
		goto out;
	}
	if ((rc = check_keys(&c, root, "file", keys)))
		goto out;
	if ((v = get(&c, root, "patterns")) && (rc = load_library(&c, v)))
		goto out;
	v = get(&c, root, "decoders");
	if (!v || v->type != YAML_SEQUENCE_NODE) {
		rc = lfail(&c, line_of(v ? v : root), "'decoders' must be a list");
		goto out;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *dm = node(&c, *it);
		if (!dm) {
			rc = lfail(&c, line_of(v), "too many nodes");
			goto out;
		}
		if ((rc = load_decoder(&c, dm)))
			goto out;
	}
out:
	yaml_document_delete(&c.doc);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool yml_name(const char *n)
{
	size_t len = strlen(n);
	return n[0] != '.' && ((len > 4 && !strcmp(n + len - 4, ".yml")) ||
			       (len > 5 && !strcmp(n + len - 5, ".yaml")));
}

/* Every *.yml (and *.yaml) of dir, in name order. */
static int load_dir(struct decoder_set *s, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	char *names[MAX_FILES];
	size_t n = 0;
	int rc = 0;
	if (!d) {
		rc = -errno;
		snprintf(err, errlen, "cannot open decoders folder '%s': %s", dir,
			 siem_strerror(rc));
		return rc;
	}
	for (struct dirent *de; (de = readdir(d));) {
		if (!yml_name(de->d_name))
			continue;
		if (n == MAX_FILES) {
			snprintf(err, errlen, "%s: more than %d decoder files", dir, MAX_FILES);
			rc = SIEM_ETOOBIG;
			goto out;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (size_t i = 0; i < n && !rc; i++) {
		char path[4096], *text = NULL;
		size_t len;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((rc = file_read_all(path, FILE_MAX, &text, &len)) < 0) {
			snprintf(err, errlen, "cannot read '%s': %s", path, siem_strerror(rc));
			break;
		}
		rc = load_text(s, path, text, len, err, errlen);
		free(text);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	closedir(d);
	return rc;
}

static bool dynamic(const struct ddecoder *d)
{
	if (!d->nprograms)
		return true;
	for (size_t i = 0; i < d->nprograms; i++)
		if (d->programs[i].prefix)
			return true;
	return false;
}

static int cmp_routes(const void *x, const void *y)
{
	const struct droute *a = x, *b = y;
	return strcmp(a->name, b->name);
}

/* The route of every program a decoder names exactly, and the list for all others. */
static int build_routes(struct decoder_set *s)
{
	size_t names = 0;
	for (size_t i = 0; i < s->n; i++)
		names += s->decoders[i].nprograms;
	uint32_t *dyn = arena_alloc(&s->a, (s->n + 1) * sizeof(*dyn));
	s->routes = arena_alloc(&s->a, (names + 1) * sizeof(*s->routes));
	if (!dyn || !s->routes)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		if (dynamic(&s->decoders[i]))
			dyn[s->ndynamic++] = (uint32_t)i | DROUTE_CHECK;
		for (size_t k = 0; k < s->decoders[i].nprograms; k++) {
			const struct dprogram *pr = &s->decoders[i].programs[k];
			if (pr->prefix) {
				s->prefix_generic |= pr->generic != NULL;
				continue;
			}
			bool seen = false;
			for (size_t r = 0; r < s->nroutes && !seen; r++)
				seen = s->routes[r].n == pr->n &&
				       !memcmp(s->routes[r].name, pr->name, pr->n);
			if (!seen)
				s->routes[s->nroutes++] =
				    (struct droute){pr->name, pr->n, NULL, 0, NULL};
		}
	}
	s->dynamic = dyn;
	for (size_t r = 0; r < s->nroutes; r++) {
		struct droute *rt = &s->routes[r];
		uint32_t *list = arena_alloc(&s->a, (s->n + 1) * sizeof(*list));
		if (!list)
			return -ENOMEM;
		for (size_t i = 0; i < s->n; i++) {
			const struct ddecoder *d = &s->decoders[i];
			bool named = false;
			for (size_t k = 0; k < d->nprograms && !named; k++) {
				const struct dprogram *pr = &d->programs[k];
				named = pr->prefix
					    ? rt->n >= pr->n && !memcmp(rt->name, pr->name, pr->n)
					    : rt->n == pr->n && !memcmp(rt->name, pr->name, pr->n);
				if (named && pr->generic && !rt->generic_decoder)
					rt->generic_decoder = d;
			}
			/* One that does not name the program selects at run time (DROUTE_CHECK). */
			if (named)
				list[rt->ndecoders++] = (uint32_t)i;
			else if (dynamic(d))
				list[rt->ndecoders++] = (uint32_t)i | DROUTE_CHECK;
		}
		rt->decoders = list;
	}
	qsort(s->routes, s->nroutes, sizeof(*s->routes), cmp_routes);
	return 0;
}

void decoder_set_free(struct decoder_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		for (size_t k = 0; k < s->decoders[i].npatterns; k++)
			pcre2_code_free(s->decoders[i].patterns[k].code);
	free(s->decoders);
	arena_release(&s->a);
	free(s);
}

int decoder_set_load(const char *dir, struct decoder_set **out, char *err, size_t errlen)
{
	struct decoder_set *s = calloc(1, sizeof(*s));
	int rc = 0;
	err[0] = '\0';
	if (!s)
		return -ENOMEM;
	arena_init(&s->a, 0);
	atomic_init(&s->refs, 1);
	if (dir && *dir && (rc = load_dir(s, dir, err, errlen)))
		goto out;
	for (size_t i = 0; i < decoder_builtin_nfiles && !rc; i++) {
		char name[128];
		snprintf(name, sizeof(name), "builtin:%s", decoder_builtin_files[i].name);
		const char *t = decoder_builtin_files[i].text;
		rc = load_text(s, name, t, strlen(t), err, errlen);
	}
	if (!rc)
		rc = build_routes(s);
out:
	if (rc == -ENOMEM && !err[0])
		snprintf(err, errlen, "out of memory");
	if (rc) {
		decoder_set_free(s);
		return rc;
	}
	*out = s;
	return 0;
}
