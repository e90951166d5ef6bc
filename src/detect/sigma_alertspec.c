/* sigma_alertspec.c — what an alert of a rule is about and says: the rule's "minisiem:" block
 * (group-by, summary, new-value, new-value-days) or its defaults, its tags and references,
 * and per hit the group key, the rendered summary and the new-value hash. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "detect/sigma_int.h"

#define NAME_MAX_LEN 128  /* bytes of a field name in the block */
#define TEMPLATE_MAX 1024 /* bytes of a summary template */
#define KEY_VALUE_MAX 512 /* bytes of one group-key value (as correlations keep) */
#define NEWVALUE_MAX_DAYS 3650

static const char *const block_keys = "group-by, summary, new-value, new-value-days, channels";

/* Event types about an address: a rule naming one (or source_ip) groups by source_ip. */
static const char *const ip_types[] = {"LOGIN_FAIL", "LOGIN_SUCCESS", "DNS_QUERY", "DNS_BLOCK",
				       "FIREWALL_BLOCK"};
static const char *const by_ip[] = {"source_ip"};
static const char *const by_host_user[] = {"source_host", "user"};

/* ---- reading the block ---- */

/* A list of strings (or one string), each non-empty; into an arena array. */
static int name_list(struct cctx *cc, struct ydoc *y, yaml_node_t *v, const char *what,
		     bool field_names, const char ***out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	size_t cnt = 1;
	if (v->type == YAML_SEQUENCE_NODE)
		cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	else if (v->type != YAML_SCALAR_NODE)
		return cc_fail(cc, yline(v), "minisiem: %s must be a list of strings", what);
	if (cnt > SPEC_MAX_FIELDS)
		return cc_fail(cc, yline(v), "minisiem: %s has more than %d fields", what,
			       SPEC_MAX_FIELDS);
	const char **arr = arena_alloc(cc->a, (cnt ? cnt : 1) * sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *e = v;
		if (v->type == YAML_SEQUENCE_NODE &&
		    !(e = yget(y, v->data.sequence.items.start[i])))
			return cc_fail(cc, yline(v), "document too large");
		struct yval yv;
		if (e->type != YAML_SCALAR_NODE)
			return cc_fail(cc, yline(e), "minisiem: %s must be a list of strings",
				       what);
		yval_of(e, &yv);
		if (yv.t == YV_NULL || yv.n == 0)
			return cc_fail(cc, yline(e), "minisiem: %s has an empty name", what);
		if (yv.n > NAME_MAX_LEN)
			return cc_fail(cc, yline(e), "minisiem: %s name longer than %d bytes", what,
				       NAME_MAX_LEN);
		for (size_t k = 0; field_names && k < yv.n; k++) {
			unsigned char ch = (unsigned char)yv.s[k];
			if (ch < 0x20 || ch == 0x7f || ch == ',' || ch == '=' || ch == '{' ||
			    ch == '}' || ch == ' ')
				return cc_fail(cc, yline(e),
					       "minisiem: %s name '%.*s' has a character a field "
					       "name cannot have",
					       what, (int)yv.n, yv.s);
		}
		for (size_t k = 0; k < i; k++)
			if (strlen(arr[k]) == yv.n && !memcmp(arr[k], yv.s, yv.n))
				return cc_fail(cc, yline(e), "minisiem: %s lists '%.*s' twice",
					       what, (int)yv.n, yv.s);
		if (!(arr[i] = arena_strndup(cc->a, yv.s, yv.n)))
			return -ENOMEM;
	}
	*out = arr;
	*nout = cnt;
	return 0;
}

/* Sigma's tags or references: absent, one string, or a list of strings (checked before). */
static int meta_strings(struct cctx *cc, struct ydoc *y, yaml_node_t *root, const char *key,
			const char *const **out, size_t *nout)
{
	yaml_node_t *v = ymap_get(y, root, key);
	*out = NULL;
	*nout = 0;
	if (!v)
		return 0;
	size_t cnt = v->type == YAML_SEQUENCE_NODE
			 ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start)
			 : 1;
	const char **arr = arena_alloc(cc->a, (cnt ? cnt : 1) * sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *e =
		    v->type == YAML_SEQUENCE_NODE ? yget(y, v->data.sequence.items.start[i]) : v;
		struct yval yv;
		if (!e || e->type != YAML_SCALAR_NODE)
			return cc_fail(cc, yline(v), "'%s' must be a list of strings", key);
		yval_of(e, &yv);
		if (yv.t == YV_NULL || yv.n == 0)
			continue;
		if (!(arr[n++] = arena_strndup(cc->a, yv.s, yv.n)))
			return -ENOMEM;
	}
	*out = arr;
	*nout = n;
	return 0;
}

static int spec_field(struct cctx *cc, struct field_ref *f, const char *name, size_t n);

/* ---- the summary template ---- */

static const struct {
	const char *name;
	enum tpl_kind kind;
} specials[] = {
    {"count", TP_COUNT},   {"window", TP_WINDOW}, {"rule", TP_RULE}, {"group", TP_GROUP},
    {"values", TP_VALUES}, {"first", TP_FIRST},	  {"last", TP_LAST}, {"events", TP_EVENTS},
};

static int tpl_add(struct cctx *cc, struct tpl_part **parts, size_t *n, size_t *cap,
		   struct tpl_part **out)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct tpl_part *p = arena_alloc(cc->a, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		if (*n)
			memcpy(p, *parts, *n * sizeof(*p));
		*parts = p;
		*cap = nc;
	}
	*out = &(*parts)[(*n)++];
	memset(*out, 0, sizeof(**out));
	(*out)->group = -1;
	return 0;
}

/* Literal text; "{{" and "}}" are a brace each. */
static int tpl_text(struct cctx *cc, struct tpl_part **parts, size_t *n, size_t *cap, const char *s,
		    size_t len)
{
	if (!len)
		return 0;
	struct tpl_part *p;
	int rc = tpl_add(cc, parts, n, cap, &p);
	if (rc)
		return rc;
	char *t = arena_alloc(cc->a, len + 1);
	if (!t)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < len; i++) {
		t[k++] = s[i];
		if ((s[i] == '{' || s[i] == '}') && i + 1 < len && s[i + 1] == s[i])
			i++;
	}
	t[k] = '\0';
	p->kind = TP_TEXT;
	p->s = t;
	p->n = k;
	return 0;
}

static int tpl_compile(struct cctx *cc, struct rule *r, const char *s, size_t len, unsigned line)
{
	struct alert_spec *sp = &r->spec;
	const struct corr *co = r->corr;
	struct tpl_part *parts = NULL;
	size_t n = 0, cap = 0, lit = 0;
	int rc;
	if (len > TEMPLATE_MAX)
		return cc_fail(cc, line, "minisiem: summary longer than %d bytes", TEMPLATE_MAX);
	for (size_t i = 0; i < len;) {
		if (s[i] == '}') {
			if (i + 1 < len && s[i + 1] == '}') {
				i += 2;
				continue;
			}
			return cc_fail(cc, line,
				       "minisiem: summary has a '}' without '{' (write '}}' for "
				       "a brace)");
		}
		if (s[i] != '{') {
			i++;
			continue;
		}
		if (i + 1 < len && s[i + 1] == '{') {
			i += 2;
			continue;
		}
		size_t j = i + 1;
		while (j < len && s[j] != '}' && s[j] != '{')
			j++;
		if (j >= len || s[j] != '}')
			return cc_fail(cc, line,
				       "minisiem: summary has a '{' without '}' (write '{{' for "
				       "a brace)");
		const char *name = s + i + 1;
		size_t nn = j - i - 1;
		if (nn == 0 || nn > NAME_MAX_LEN)
			return cc_fail(cc, line, "minisiem: summary placeholder '{%.*s}' %s",
				       (int)(nn > 40 ? 40 : nn), name,
				       nn ? "is too long" : "names no field");
		if ((rc = tpl_text(cc, &parts, &n, &cap, s + lit, i - lit)))
			return rc;
		struct tpl_part *p;
		if ((rc = tpl_add(cc, &parts, &n, &cap, &p)))
			return rc;
		p->kind = TP_FIELD;
		for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++)
			if (strlen(specials[k].name) == nn && !memcmp(specials[k].name, name, nn))
				p->kind = specials[k].kind;
		if (p->kind == TP_WINDOW && !co)
			return cc_fail(cc, line,
				       "minisiem: summary placeholder '{window}' is for "
				       "correlation rules");
		if (p->kind == TP_VALUES &&
		    (!co || (co->type != CT_VALUE_COUNT && co->type < CT_VALUE_SUM)))
			return cc_fail(cc, line,
				       "minisiem: summary placeholder '{values}' is for "
				       "value_count and value_* correlations");
		if (p->kind == TP_FIELD) {
			if ((rc = spec_field(cc, &p->f, name, nn)))
				return rc;
			for (size_t g = 0; co && g < co->ngroup; g++)
				if (strlen(co->group[g]) == nn && !memcmp(co->group[g], name, nn))
					p->group = (int)g;
		}
		i = lit = j + 1;
	}
	if ((rc = tpl_text(cc, &parts, &n, &cap, s + lit, len - lit)))
		return rc;
	sp->parts = parts;
	sp->nparts = n;
	return 0;
}

/* ---- defaults ---- */

static bool names_ip(const struct fcond *fc)
{
	if (fc->keywords || !fc->f.ncand)
		return false;
	const struct field_cand *c = &fc->f.cand[0];
	if (c->evf == EVF_SOURCE_IP)
		return true;
	if (c->evf != EVF_EVENT_TYPE || fc->kind != FC_VALUES)
		return false;
	for (size_t i = 0; i < fc->nval; i++) {
		const struct vmatch *m = &fc->val[i];
		if (m->kind != VM_EXACT)
			continue;
		for (size_t k = 0; k < sizeof(ip_types) / sizeof(ip_types[0]); k++)
			if (sigma_ieq(m->s, m->n, ip_types[k], strlen(ip_types[k])))
				return true;
	}
	return false;
}

/* The default of a detection rule: source_ip when its detection names source_ip or an
 * event type about an address anywhere, else source_host and user. */
static bool default_by_ip(const struct rule *r)
{
	for (size_t v = 0; v < r->nvar; v++) {
		const struct detection *d = &r->var[v].det;
		for (size_t i = 0; i < d->nsel; i++)
			for (size_t a = 0; a < d->sel[i].nalt; a++)
				for (size_t k = 0; k < d->sel[i].alt[a].nfc; k++)
					if (names_ip(&d->sel[i].alt[a].fc[k]))
						return true;
	}
	return false;
}

/* A field name of the block: any name a rule may use, or "data.X" for the key X of the
 * event's data (never one of our fields of that name). */
static int spec_field(struct cctx *cc, struct field_ref *f, const char *name, size_t n)
{
	if (n > 5 && !memcmp(name, "data.", 5))
		return field_ref_compile_data(cc, f, name + 5, n - 5);
	return field_ref_compile(cc, f, name, n);
}

static int compile_fields(struct cctx *cc, const char *const *names, size_t n,
			  struct field_ref **out)
{
	*out = arena_alloc(cc->a, (n ? n : 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int rc = spec_field(cc, &(*out)[i], names[i], strlen(names[i]));
		if (rc)
			return rc;
	}
	return 0;
}

static uint64_t names_sig(const char *const *names, size_t n)
{
	uint64_t h = HASH_FNV_OFFSET;
	for (size_t i = 0; i < n; i++)
		h = hash_cont(hash_cont(h, names[i], strlen(names[i])), "\x1f", 1);
	return h;
}

int alertspec_compile(struct cctx *cc, struct ydoc *y, yaml_node_t *root, struct rule *r)
{
	struct rule_info *in = &r->info;
	struct alert_spec *sp = &r->spec;
	const struct corr *co = r->corr;
	yaml_node_t *gb = NULL, *sum = NULL, *nv = NULL, *nvd = NULL, *chn = NULL;
	int rc;
	sp->dgroup[0] = sp->dgroup[1] = sp->dgroup[2] = -1;
	if ((rc = meta_strings(cc, y, root, "tags", &in->tags, &in->n_tags)) ||
	    (rc = meta_strings(cc, y, root, "references", &in->references, &in->n_references)))
		return rc;
	/* field names resolve as the rule's own do (its first logsource's mapping) */
	cc->ls = r->nvar ? r->var[0].ls : NULL;
	yaml_node_t *m = ymap_get(y, root, "minisiem");
	if (m && m->type != YAML_MAPPING_NODE)
		return cc_fail(cc, yline(m), "minisiem must be a map (%s)", block_keys);
	for (yaml_node_pair_t *p = m ? m->data.mapping.pairs.start : NULL;
	     m && p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yget(y, p->key), *v = yget(y, p->value);
		const char *ks;
		size_t kn;
		if (!k || !v)
			return cc_fail(cc, yline(m), "document too large");
		if (!yscalar(k, &ks, &kn))
			return cc_fail(cc, yline(k), "minisiem: keys must be strings (%s)",
				       block_keys);
		yaml_node_t **slot = ykey_is(k, "group-by")	    ? &gb
				     : ykey_is(k, "summary")	    ? &sum
				     : ykey_is(k, "new-value")	    ? &nv
				     : ykey_is(k, "new-value-days") ? &nvd
				     : ykey_is(k, "channels")	    ? &chn
								    : NULL;
		if (!slot)
			return cc_fail(cc, yline(k), "minisiem: unknown key '%.*s' (%s)",
				       (int)(kn > 40 ? 40 : kn), ks, block_keys);
		if (*slot)
			return cc_fail(cc, yline(k), "minisiem: '%.*s' given twice", (int)kn, ks);
		*slot = v;
	}

	/* group-by */
	if (co) {
		if (gb)
			return cc_fail(cc, yline(gb),
				       "minisiem: group-by is for detection rules (a correlation "
				       "groups by its own group-by)");
		in->group_by = co->group;
		in->n_group_by = co->ngroup;
		for (size_t g = 0; g < co->ngroup; g++) {
			int evf = evf_lookup(co->group[g], strlen(co->group[g]));
			int slot = evf == EVF_SOURCE_HOST ? 0
				   : evf == EVF_USER	  ? 1
				   : evf == EVF_SOURCE_IP ? 2
							  : -1;
			if (slot >= 0 && sp->dgroup[slot] < 0)
				sp->dgroup[slot] = (int)g;
		}
	} else {
		const char **names;
		size_t n;
		if (gb) {
			if ((rc = name_list(cc, y, gb, "group-by", true, &names, &n)))
				return rc;
			in->group_by = names;
			in->n_group_by = n;
		} else if (default_by_ip(r)) {
			in->group_by = by_ip;
			in->n_group_by = 1;
		} else {
			in->group_by = by_host_user;
			in->n_group_by = 2;
		}
		sp->ngroup = in->n_group_by;
		if ((rc = compile_fields(cc, in->group_by, in->n_group_by, &sp->group)))
			return rc;
	}

	/* summary */
	if (sum) {
		struct yval yv;
		if (sum->type != YAML_SCALAR_NODE)
			return cc_fail(cc, yline(sum), "minisiem: summary must be a string");
		yval_of(sum, &yv);
		if (yv.t == YV_NULL || yv.n == 0)
			return cc_fail(cc, yline(sum), "minisiem: summary is empty");
		if ((rc = tpl_compile(cc, r, yv.s, yv.n, yline(sum))))
			return rc;
		if (!(in->summary = arena_strndup(cc->a, yv.s, yv.n)))
			return -ENOMEM;
	}

	/* channels: names as the channels file spells them ([A-Za-z0-9_.-]) */
	if (chn) {
		const char **names;
		size_t n;
		if ((rc = name_list(cc, y, chn, "channels", false, &names, &n)))
			return rc;
		for (size_t i = 0; i < n; i++)
			for (const char *c = names[i]; *c; c++)
				if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
				      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' ||
				      *c == '-'))
					return cc_fail(cc, yline(chn),
						       "minisiem: channel name '%s' is not one of "
						       "[A-Za-z0-9_.-]",
						       names[i]);
		in->channels = names;
		in->n_channels = n;
	}

	/* new-value */
	if (nvd && !nv)
		return cc_fail(cc, yline(nvd), "minisiem: new-value-days without new-value");
	if (nv) {
		const char **names;
		if (co)
			return cc_fail(cc, yline(nv), "minisiem: new-value is for detection rules");
		if ((rc = name_list(cc, y, nv, "new-value", true, &names, &sp->nnew)))
			return rc;
		if (!sp->nnew)
			return cc_fail(cc, yline(nv), "minisiem: new-value needs a field");
		if ((rc = compile_fields(cc, names, sp->nnew, &sp->newv)))
			return rc;
		sp->new_sig = names_sig(names, sp->nnew);
		int64_t days = NEWVALUE_DAYS;
		if (nvd) {
			struct yval yv;
			if (nvd->type == YAML_SCALAR_NODE)
				yval_of(nvd, &yv);
			if (nvd->type != YAML_SCALAR_NODE || yv.t != YV_INT || yv.n > 6 ||
			    yv.s[0] == '-')
				return cc_fail(cc, yline(nvd),
					       "minisiem: new-value-days must be a whole number "
					       "of days, 1 to %d",
					       NEWVALUE_MAX_DAYS);
			days = 0;
			for (size_t i = yv.s[0] == '+'; i < yv.n; i++)
				days = days * 10 + (yv.s[i] - '0');
			if (days < 1 || days > NEWVALUE_MAX_DAYS)
				return cc_fail(cc, yline(nvd),
					       "minisiem: new-value-days must be a whole number "
					       "of days, 1 to %d",
					       NEWVALUE_MAX_DAYS);
		}
		sp->new_span_us = days * 86400 * 1000000LL;
	}
	return 0;
}

/* ---- rendering ---- */

/* Output that keeps to valid UTF-8 without control characters, up to cap bytes. */
struct sbuild {
	char *p;
	size_t n, cap;
	bool cut;
};

/* The length of the valid UTF-8 sequence at s (0 when invalid), and whether it is a
 * character a one-line summary leaves out: C0/C1 controls, DEL, line and paragraph
 * separators, and the bidirectional overrides and isolates (they could disguise text). */
static size_t u8_seq(const unsigned char *s, size_t left, bool *drop)
{
	unsigned char b = s[0];
	*drop = false;
	if (b < 0x80) {
		*drop = b < 0x20 || b == 0x7f;
		return 1;
	}
	size_t k;
	unsigned char lo = 0x80, hi = 0xbf;
	if (b >= 0xc2 && b <= 0xdf)
		k = 2;
	else if (b >= 0xe0 && b <= 0xef) {
		k = 3;
		if (b == 0xe0)
			lo = 0xa0;
		if (b == 0xed)
			hi = 0x9f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		k = 4;
		if (b == 0xf0)
			lo = 0x90;
		if (b == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (k > left || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (k == 2 && b == 0xc2 && s[1] < 0xa0)
		*drop = true; /* C1 controls */
	if (k == 3 && b == 0xe2 && s[1] == 0x80 && (s[2] >= 0xa8 && s[2] <= 0xae))
		*drop = true; /* U+2028..U+202E */
	if (k == 3 && b == 0xe2 && s[1] == 0x81 && (s[2] >= 0xa6 && s[2] <= 0xa9))
		*drop = true; /* U+2066..U+2069 */
	return k;
}

static void sb_raw(struct sbuild *b, const char *s, size_t n)
{
	if (b->cut)
		return;
	if (n > b->cap - b->n) {
		b->cut = true;
		return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

/* Append text: control characters left out, invalid bytes as '?', at most max bytes of it
 * (then "…"). */
static void sb_put(struct sbuild *b, const char *s, size_t n, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t used = 0;
	for (size_t i = 0; i < n && !b->cut;) {
		bool drop;
		size_t k = u8_seq(u + i, n - i, &drop);
		const char *out = s + i;
		size_t on = k;
		if (k == 0) {
			out = "?";
			on = 1;
			k = 1;
		}
		i += k;
		if (drop)
			continue;
		if (used + on > max) {
			sb_raw(b, "\xe2\x80\xa6", 3);
			return;
		}
		sb_raw(b, out, on);
		used += on;
	}
}

static void sb_fmt_i64(struct sbuild *b, int64_t v)
{
	char t[32];
	int k = snprintf(t, sizeof(t), "%lld", (long long)v);
	sb_raw(b, t, (size_t)k);
}

/* Finish: when something did not fit, end at a character boundary with "…". */
static void sb_end(struct sbuild *b)
{
	if (b->cut) {
		if (b->n + 3 > b->cap) {
			b->n = b->cap - 3;
			while (b->n && ((unsigned char)b->p[b->n] & 0xc0) == 0x80)
				b->n--;
		}
		memcpy(b->p + b->n, "\xe2\x80\xa6", 3);
		b->n += 3;
	}
	b->p[b->n] = '\0';
}

/* A field of the hit's event as text; false when absent or null. */
static bool event_text(struct scratch *s, const struct field_ref *f, const char **p, size_t *n)
{
	struct fval v;
	field_get(s, f, &v);
	if (v.t == FV_ABSENT || v.t == FV_NULL)
		return false;
	*p = v.p;
	*n = v.n;
	return true;
}

/* Cut n to at most max bytes at a UTF-8 boundary. */
static size_t u8_cut(const char *p, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max && ((unsigned char)p[max] & 0xc0) == 0x80)
		max--;
	return max;
}

void alertspec_key(const struct rule *r, struct scratch *s, char *out)
{
	const struct alert_spec *sp = &r->spec;
	size_t n = 0;
	for (size_t g = 0; g < sp->ngroup; g++) {
		const char *name = r->info.group_by[g], *p = "";
		size_t nl = strlen(name), vn = 0;
		if (event_text(s, &sp->group[g], &p, &vn))
			vn = u8_cut(p, vn, KEY_VALUE_MAX);
		if (n + nl + vn + 3 > KEY_BUF)
			break;
		if (g)
			out[n++] = ',';
		memcpy(out + n, name, nl);
		n += nl;
		out[n++] = '=';
		memcpy(out + n, p, vn);
		n += vn;
	}
	out[n] = '\0';
}

static void put_time(struct sbuild *b, int64_t ts)
{
	char t[40];
	size_t k = ts_format(ts, t);
	sb_raw(b, t, k);
}

static void default_summary(const struct rule *r, struct scratch *s, const struct hit_view *h,
			    struct sbuild *b)
{
	static const char *const pre[3] = {" on ", " for ", " from "};
	static const int evf[3] = {EVF_SOURCE_HOST, EVF_USER, EVF_SOURCE_IP};
	sb_put(b, r->info.title, strlen(r->info.title), SUMMARY_MAX);
	for (int i = 0; i < 3; i++) {
		const char *p = NULL;
		size_t n = 0;
		if (r->corr) {
			int g = r->spec.dgroup[i];
			if (g < 0 || (size_t)g >= h->nvals)
				continue;
			p = h->vals[g];
			n = h->valn[g];
		} else {
			struct fval v;
			field_event(s, evf[i], &v);
			if (v.t == FV_ABSENT)
				continue;
			p = v.p;
			n = v.n;
		}
		/* nothing, or what normalization writes when the event named none */
		if (!n || (i == 0 && n == 7 && !memcmp(p, "unknown", 7)) ||
		    (i == 1 && n == 6 && !memcmp(p, "system", 6)))
			continue;
		sb_raw(b, pre[i], strlen(pre[i]));
		sb_put(b, p, n, SUMMARY_VALUE_MAX);
	}
}

void alertspec_summary(const struct rule *r, struct scratch *s, const struct hit_view *h, char *out)
{
	struct sbuild b = {out, 0, SUMMARY_MAX, false};
	const struct alert_spec *sp = &r->spec;
	bool unparen = false; /* an absent field's " (" was taken back: drop the ")" after it */
	if (!sp->nparts)
		default_summary(r, s, h, &b);
	for (size_t i = 0; i < sp->nparts && !b.cut; i++) {
		const struct tpl_part *p = &sp->parts[i];
		const char *t = NULL;
		size_t n = 0;
		switch (p->kind) {
		case TP_TEXT:
			if (unparen && p->n && p->s[0] == ')')
				sb_put(&b, p->s + 1, p->n - 1, SUMMARY_MAX);
			else
				sb_put(&b, p->s, p->n, SUMMARY_MAX);
			unparen = false;
			continue;
		case TP_COUNT:
			sb_fmt_i64(&b, h->count);
			continue;
		case TP_EVENTS: /* the alert's count: written by detect_summary_fill */
			sb_raw(&b, (const char[]){DETECT_SUMMARY_EVENTS}, 1);
			continue;
		case TP_FIRST:
			put_time(&b, h->first);
			continue;
		case TP_LAST:
			put_time(&b, h->last);
			continue;
		case TP_WINDOW:
			t = r->corr ? r->corr->window : NULL;
			break;
		case TP_RULE:
			t = r->info.title;
			break;
		case TP_GROUP:
			t = h->key;
			break;
		case TP_VALUES:
			t = h->values;
			break;
		case TP_FIELD:
			/* a correlation's group-by field: the group's value (aliases included) */
			if (p->group >= 0 && (size_t)p->group < h->nvals) {
				t = h->vals[p->group];
				n = h->valn[p->group];
			} else if (!event_text(s, &p->f, &t, &n)) {
				t = NULL;
			}
			if (t) {
				sb_put(&b, t, n, SUMMARY_VALUE_MAX);
			} else if (b.n >= 2 && !memcmp(b.p + b.n - 2, " (", 2) &&
				   i + 1 < sp->nparts && sp->parts[i + 1].kind == TP_TEXT &&
				   sp->parts[i + 1].n && sp->parts[i + 1].s[0] == ')') {
				/* " ({geo.country})" with no country: nothing rather than " (?)" */
				b.n -= 2;
				unparen = true;
			} else {
				sb_raw(&b, "?", 1);
			}
			continue;
		}
		if (!t)
			sb_raw(&b, "?", 1);
		else
			sb_put(&b, t, strlen(t),
			       p->kind == TP_VALUES ? SUMMARY_MAX : SUMMARY_VALUE_MAX);
	}
	sb_end(&b);
}

uint64_t alertspec_newvalue_hash(const struct rule *r, struct scratch *s)
{
	uint64_t h = HASH_FNV_OFFSET;
	for (size_t i = 0; i < r->spec.nnew; i++) {
		const char *p;
		size_t n;
		if (event_text(s, &r->spec.newv[i], &p, &n))
			for (size_t j = 0; j < n; j++) {
				char ch = sigma_lower(p[j]);
				h = hash_cont(h, &ch, 1);
			}
		h = hash_cont(h, "\x1f", 1);
	}
	return h;
}

size_t detect_summary_fill(const char *summary, int64_t events, char *out, size_t cap)
{
	size_t o = 0;
	char num[24];
	int k = snprintf(num, sizeof(num), "%lld", (long long)events);
	if (cap == 0)
		return 0;
	for (const char *p = summary ? summary : ""; *p; p++) {
		const char *piece = p;
		size_t n = 1;
		if (*p == DETECT_SUMMARY_EVENTS) {
			piece = num;
			n = (size_t)k;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, piece, n);
		o += n;
	}
	out[o] = '\0';
	return o;
}
