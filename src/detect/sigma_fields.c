/* sigma_fields.c — how a rule's field names reach the values of one event: our event fields
 * by name, the mapping's candidates for a name, a lazy index of the event's data JSON (flat,
 * EventData, System, UserData, Parent_Child names, dotted paths), lower-cased copies. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "detect/sigma_int.h"

/* ---- our event fields ---- */

/* The names a rule may use for them: canonical first, then aliases (core/event_fields.h). */
#define EVF_NAME(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, ...) \
	EF_IF_##SIGMA({NAME, EVF_##ID}, )
#define EVF_ALIAS(NAME, ID, RANK, SIGMA) EF_IF_##SIGMA({NAME, EVF_##ID}, )
static const struct {
	const char *name;
	int evf;
} evf_names[] = {EVENT_FIELDS(EVF_NAME) EVENT_ALIASES(EVF_ALIAS)};

int evf_lookup(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(evf_names) / sizeof(evf_names[0]); i++)
		if (strlen(evf_names[i].name) == n && !memcmp(evf_names[i].name, name, n))
			return evf_names[i].evf;
	return EVF_DATA;
}

const char *evf_name(int evf)
{
	for (size_t i = 0; i < sizeof(evf_names) / sizeof(evf_names[0]); i++)
		if (evf_names[i].evf == evf)
			return evf_names[i].name;
	return "data";
}

/* Each evf's row of the field table. */
#define EVF_ROW(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, ...) \
	EF_IF_##SIGMA([EVF_##ID] = EF_##ID, )
static const unsigned char evf_field[EVF_COUNT] = {EVENT_FIELDS(EVF_ROW)};

/* The fields a rule reads as a struct sv, by evf: plain strings, tags (joined by ','; a
 * value matches any one of them, sigma_match.c) and the source address as text (source_ip,
 * set with EV_HAS_IP). Their offsets; 0: not one. */
#define SV_OFF(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, ...)                             \
	EF_IF_##SIGMA([EVF_##ID] = EFK_##KIND == EFK_STR || EFK_##KIND == EFK_TAGS            \
				       ? offsetof(struct event, MEMBER)                       \
				   : EFK_##KIND == EFK_IP ? offsetof(struct event, source_ip) \
							  : 0, )
static const uint16_t sv_off[EVF_COUNT] = {EVENT_FIELDS(SV_OFF)};

static inline const struct sv *ev_sv(const struct event *ev, int evf)
{
	if (evf < 0 || evf >= EVF_COUNT || !sv_off[evf])
		return NULL;
	return (const struct sv *)((const char *)ev + sv_off[evf]);
}

/* ---- resolving the names a rule uses ---- */

/* One place a name may be found: our field of that name (unless data_only), else the data
 * key, and a dotted name also as a nested path. */
static int cand_init(struct cctx *cc, struct field_cand *c, const char *to, bool data_only)
{
	memset(c, 0, sizeof(*c));
	size_t tn = strlen(to);
	c->name = to;
	c->n = tn;
	c->evf = data_only ? EVF_DATA : evf_lookup(to, tn);
	c->hash = hash_bytes(to, tn);
	size_t dots = 0;
	for (size_t k = 0; k < tn; k++)
		dots += to[k] == '.';
	if (c->evf == EVF_DATA && dots) {
		c->nparts = dots + 1;
		c->part = arena_alloc(cc->a, c->nparts * sizeof(*c->part));
		c->partn = arena_alloc(cc->a, c->nparts * sizeof(*c->partn));
		if (!c->part || !c->partn)
			return -ENOMEM;
		size_t k = 0, st = 0;
		for (size_t j = 0; j <= tn; j++)
			if (j == tn || to[j] == '.') {
				c->part[k] = to + st;
				c->partn[k++] = j - st;
				st = j + 1;
			}
	}
	return 0;
}

int field_ref_compile(struct cctx *cc, struct field_ref *f, const char *name, size_t n)
{
	const char *tmp[1] = {NULL};
	const char **to = NULL;
	size_t nto = 0;
	char *nm = arena_strndup(cc->a, name, n);
	if (!nm)
		return -ENOMEM;
	f->name = nm;
	/* the logsource's mapping first, then the global one */
	for (int pass = 0; pass < 2 && !to; pass++) {
		const struct fmap_entry *e =
		    pass == 0 ? (cc->ls ? cc->ls->fmap : NULL) : (cc->map ? cc->map->global : NULL);
		size_t ne =
		    pass == 0 ? (cc->ls ? cc->ls->nfmap : 0) : (cc->map ? cc->map->nglobal : 0);
		for (size_t i = 0; i < ne; i++)
			if (strlen(e[i].from) == n && !memcmp(e[i].from, name, n)) {
				to = e[i].to;
				nto = e[i].nto;
				break;
			}
	}
	if (!to) {
		tmp[0] = nm;
		to = tmp;
		nto = 1;
	}
	f->cand = arena_alloc(cc->a, nto * sizeof(*f->cand));
	if (!f->cand)
		return -ENOMEM;
	f->ncand = nto;
	for (size_t i = 0; i < nto; i++) {
		int rc = cand_init(cc, &f->cand[i], to[i], false);
		if (rc)
			return rc;
	}
	return 0;
}

int field_ref_compile_data(struct cctx *cc, struct field_ref *f, const char *name, size_t n)
{
	char *nm = arena_strndup(cc->a, name, n);
	f->cand = arena_alloc(cc->a, sizeof(*f->cand));
	if (!nm || !f->cand)
		return -ENOMEM;
	f->name = nm;
	f->ncand = 1;
	return cand_init(cc, &f->cand[0], nm, true);
}

/* ---- the data JSON index ---- */

/* Where an object sits (jtok.cls), which decides how its keys are indexed. */
enum jcls {
	JC_NONE,
	JC_ROOT,
	JC_EVENTDATA,
	JC_SYSTEM,
	JC_USERDATA,
	JC_USERDATA_CHILD,
	JC_ROOT_CHILD,
	JC_SYSTEM_CHILD
};

#define KEY_NOSPACE (-2)

struct jslot {
	uint64_t h;
	int32_t k1, k2; /* key token; k2 >= 0: composite name "k1_k2"; KEY_NOSPACE: k1 without
			 * its spaces */
	int32_t v;	/* value token */
	int32_t scope;	/* lower wins */
};

struct jparser {
	struct scratch *s;
	const char *t;
	size_t n, pos;
};

static int jtok_new(struct jparser *p, enum jt type, int parent)
{
	struct scratch *s = p->s;
	if (s->ntok == s->tokcap) {
		size_t cap = s->tokcap ? s->tokcap * 2 : 256;
		if (cap > (1u << 24))
			return -1;
		struct jtok *t = realloc(s->tok, cap * sizeof(*t));
		if (!t)
			return -1;
		s->tok = t;
		s->tokcap = cap;
	}
	struct jtok *t = &s->tok[s->ntok];
	memset(t, 0, sizeof(*t));
	t->type = (uint8_t)type;
	t->parent = parent;
	t->off = (uint32_t)p->pos;
	return (int)s->ntok++;
}

static void jws(struct jparser *p)
{
	while (p->pos < p->n && (p->t[p->pos] == ' ' || p->t[p->pos] == '\t' ||
				 p->t[p->pos] == '\n' || p->t[p->pos] == '\r'))
		p->pos++;
}

static int jstring(struct jparser *p, int parent, bool key)
{
	p->pos++; /* the opening quote */
	int i = jtok_new(p, JT_STR, parent);
	if (i < 0)
		return -1;
	size_t start = p->pos;
	bool esc = false;
	while (p->pos < p->n && p->t[p->pos] != '"') {
		if (p->t[p->pos] == '\\') {
			esc = true;
			p->pos++;
		}
		p->pos++;
	}
	if (p->pos >= p->n)
		return -1;
	struct jtok *t = &p->s->tok[i];
	t->off = (uint32_t)start;
	t->len = (uint32_t)(p->pos - start);
	t->esc = esc;
	t->key = key;
	t->next = (uint32_t)i + 1;
	p->pos++;
	return i;
}

static int jvalue(struct jparser *p, int parent, int depth)
{
	jws(p);
	if (p->pos >= p->n || depth > SIGMA_MAX_DEPTH)
		return -1;
	char c = p->t[p->pos];
	if (c == '"')
		return jstring(p, parent, false);
	if (c == '{' || c == '[') {
		bool obj = c == '{';
		int i = jtok_new(p, obj ? JT_OBJ : JT_ARR, parent);
		if (i < 0)
			return -1;
		p->pos++;
		jws(p);
		if (p->pos < p->n && p->t[p->pos] == (obj ? '}' : ']')) {
			p->pos++;
		} else {
			for (;;) {
				if (obj) {
					jws(p);
					if (p->pos >= p->n || p->t[p->pos] != '"' ||
					    jstring(p, i, true) < 0)
						return -1;
					jws(p);
					if (p->pos >= p->n || p->t[p->pos] != ':')
						return -1;
					p->pos++;
				}
				if (jvalue(p, i, depth + 1) < 0)
					return -1;
				jws(p);
				if (p->pos >= p->n)
					return -1;
				if (p->t[p->pos] == ',') {
					p->pos++;
					continue;
				}
				if (p->t[p->pos] != (obj ? '}' : ']'))
					return -1;
				p->pos++;
				break;
			}
		}
		struct jtok *t = &p->s->tok[i];
		t->len = (uint32_t)(p->pos - t->off);
		t->next = (uint32_t)p->s->ntok;
		return i;
	}
	enum jt type;
	size_t start = p->pos;
	if (c == 't' && p->n - p->pos >= 4 && !memcmp(p->t + p->pos, "true", 4)) {
		type = JT_TRUE;
		p->pos += 4;
	} else if (c == 'f' && p->n - p->pos >= 5 && !memcmp(p->t + p->pos, "false", 5)) {
		type = JT_FALSE;
		p->pos += 5;
	} else if (c == 'n' && p->n - p->pos >= 4 && !memcmp(p->t + p->pos, "null", 4)) {
		type = JT_NULL;
		p->pos += 4;
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		type = JT_NUM;
		while (p->pos < p->n && p->t[p->pos] && strchr("+-0123456789.eE", p->t[p->pos]))
			p->pos++;
	} else {
		return -1;
	}
	int i = jtok_new(p, type, parent);
	if (i < 0)
		return -1;
	p->s->tok[i].off = (uint32_t)start;
	p->s->tok[i].len = (uint32_t)(p->pos - start);
	p->s->tok[i].next = (uint32_t)i + 1;
	return i;
}

static bool tok_is(const struct scratch *s, int k, const char *w)
{
	const struct jtok *t = &s->tok[k];
	size_t n = strlen(w);
	return !t->esc && t->len == n && !memcmp(s->ev->data.p + t->off, w, n);
}

static char *sbuf_alloc(struct scratch *s, size_t n)
{
	if (n > s->cap - s->used)
		return NULL;
	char *p = s->buf + s->used;
	s->used += n;
	return p;
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = sigma_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static size_t utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int hex4(const char *p, size_t left)
{
	if (left < 4)
		return -1;
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexv(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* JSON string unescape; the output is never longer than the input. */
static size_t json_unescape(const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c != '\\' || i + 1 >= n) {
			out[o++] = c;
			continue;
		}
		c = in[++i];
		switch (c) {
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'u': {
			int v = hex4(in + i + 1, n - i - 1);
			if (v < 0) {
				out[o++] = 'u';
				break;
			}
			i += 4;
			uint32_t cp = (uint32_t)v;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 2 < n && in[i + 1] == '\\' &&
			    in[i + 2] == 'u') {
				int lo = hex4(in + i + 3, n - i - 3);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     ((uint32_t)lo - 0xdc00);
					i += 6;
				}
			}
			o += utf8_put(out + o, cp);
			break;
		}
		default:
			out[o++] = c;
			break;
		}
	}
	return o;
}

/* Decoded text of a string token (or the raw text of any other). */
static void tok_text(struct scratch *s, int k, const char **p, size_t *n)
{
	struct jtok *t = &s->tok[k];
	if (!t->dec) {
		t->dec = 1;
		t->dp = s->ev->data.p + t->off;
		t->dn = t->len;
		if (t->type == JT_STR && t->esc) {
			char *o = sbuf_alloc(s, t->len);
			if (o) {
				t->dn = (uint32_t)json_unescape(t->dp, t->len, o);
				t->dp = o;
			}
		}
	}
	*p = t->dp;
	*n = t->dn;
}

static bool key_eq(struct scratch *s, int k, const char *name, size_t n)
{
	const char *p;
	size_t kn;
	tok_text(s, k, &p, &kn);
	return kn == n && sigma_eqb(p, name, n);
}

/* The key without its spaces equals name ("Threat Name" is found as ThreatName). */
static bool key_eq_nospace(struct scratch *s, int k, const char *name, size_t n)
{
	const char *p;
	size_t kn, j = 0;
	tok_text(s, k, &p, &kn);
	for (size_t i = 0; i < kn; i++) {
		if (p[i] == ' ')
			continue;
		if (j == n || p[i] != name[j])
			return false;
		j++;
	}
	return j == n;
}

static bool slot_eq(struct scratch *s, const struct jslot *e, const char *name, size_t n)
{
	if (e->k2 == KEY_NOSPACE)
		return key_eq_nospace(s, e->k1, name, n);
	if (e->k2 < 0)
		return key_eq(s, e->k1, name, n);
	const char *p1, *p2;
	size_t n1, n2;
	tok_text(s, e->k1, &p1, &n1);
	tok_text(s, e->k2, &p2, &n2);
	return n1 + 1 + n2 == n && !memcmp(p1, name, n1) && name[n1] == '_' &&
	       !memcmp(p2, name + n1 + 1, n2);
}

static void ht_put(struct scratch *s, int k1, int k2, int v, int scope)
{
	const char *p;
	size_t n;
	tok_text(s, k1, &p, &n);
	uint64_t h = hash_bytes(p, n);
	char name[512];
	size_t nn = n;
	if (k2 == KEY_NOSPACE) {
		/* SigmaHQ writes Windows' "Threat Name", "Source Name" ... without the space */
		if (n > sizeof(name))
			return;
		nn = 0;
		for (size_t i = 0; i < n; i++)
			if (p[i] != ' ')
				name[nn++] = p[i];
		h = hash_bytes(name, nn);
		p = name;
	} else if (k2 >= 0) {
		const char *p2;
		size_t n2;
		tok_text(s, k2, &p2, &n2);
		if (n + 1 + n2 > sizeof(name))
			return;
		memcpy(name, p, n);
		name[n] = '_';
		memcpy(name + n + 1, p2, n2);
		nn = n + 1 + n2;
		h = hash_cont(hash_cont(h, "_", 1), p2, n2);
	}
	size_t mask = s->htcap - 1;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct jslot *e = &s->ht[i];
		if (e->v < 0) {
			*e = (struct jslot){h, k1, k2, v, scope};
			return;
		}
		if (e->h == h && slot_eq(s, e, k2 >= 0 || k2 == KEY_NOSPACE ? name : p, nn)) {
			if (scope < e->scope)
				*e = (struct jslot){h, k1, k2, v, scope};
			return;
		}
	}
}

/* Parse the event's data once, and index its keys: flat first, then under EventData,
 * System, UserData.<element>, then "Parent_Child" names of nested objects (Provider_Name). */
static void data_parse(struct scratch *s)
{
	const struct event *ev = s->ev;
	s->data_state = -1;
	s->ntok = 0;
	if (!ev->data.p || ev->data.n == 0 || ev->data.n > (1u << 30))
		return;
	struct jparser p = {s, ev->data.p, ev->data.n, 0};
	int root = jvalue(&p, -1, 0);
	if (root != 0 || s->tok[0].type != JT_OBJ)
		return;
	size_t nkeys = 0;
	for (size_t i = 0; i < s->ntok; i++)
		nkeys += s->tok[i].key;
	size_t cap = 64;
	while (cap < nkeys * 3)
		cap *= 2;
	if (cap > s->htcap) {
		struct jslot *ht = realloc(s->ht, cap * sizeof(*ht));
		if (!ht)
			return;
		s->ht = ht;
		s->htcap = cap;
	}
	for (size_t i = 0; i < s->htcap; i++)
		s->ht[i].v = -1;
	s->tok[0].cls = JC_ROOT;
	for (size_t i = 1; i < s->ntok; i++) {
		struct jtok *t = &s->tok[i];
		if (t->type != JT_OBJ || t->parent < 0 || !s->tok[i - 1].key)
			continue;
		int pc = s->tok[t->parent].cls;
		int k = (int)i - 1;
		if (pc == JC_ROOT)
			t->cls = tok_is(s, k, "EventData")  ? JC_EVENTDATA
				 : tok_is(s, k, "System")   ? JC_SYSTEM
				 : tok_is(s, k, "UserData") ? JC_USERDATA
							    : JC_ROOT_CHILD;
		else if (pc == JC_USERDATA)
			t->cls = JC_USERDATA_CHILD;
		else if (pc == JC_SYSTEM)
			t->cls = JC_SYSTEM_CHILD;
	}
	for (size_t i = 0; i < s->ntok; i++) {
		const struct jtok *t = &s->tok[i];
		if (!t->key)
			continue;
		int k = (int)i, v = k + 1, par = t->parent;
		int sc = -1;
		switch (s->tok[par].cls) {
		case JC_ROOT:
			sc = 0;
			break;
		case JC_EVENTDATA:
			sc = 1;
			break;
		case JC_SYSTEM:
			sc = 2;
			break;
		case JC_USERDATA_CHILD:
			sc = 3;
			break;
		case JC_ROOT_CHILD:
		case JC_SYSTEM_CHILD:
			if (s->tok[v].type != JT_OBJ && s->tok[v].type != JT_ARR)
				ht_put(s, par - 1, k, v, 8);
			break;
		default:
			break;
		}
		/* scopes doubled: a key found only without its spaces yields to an exact one */
		if (sc >= 0) {
			ht_put(s, k, -1, v, 2 * sc);
			if (memchr(s->ev->data.p + t->off, ' ', t->len))
				ht_put(s, k, KEY_NOSPACE, v, 2 * sc + 1);
		}
	}
	s->data_state = 1;
}

/* Parts k.. of a dotted name from token t: through objects by key, and through arrays by
 * their first element that has the rest (GCP's protoPayload.authorizationInfo.permission). */
static int path_find(struct scratch *s, const struct field_cand *c, int t, size_t k)
{
	if (k == c->nparts)
		return t;
	if (s->tok[t].type == JT_ARR) {
		for (uint32_t i = (uint32_t)t + 1; i < s->tok[t].next; i = s->tok[i].next) {
			int r = path_find(s, c, (int)i, k);
			if (r >= 0)
				return r;
		}
		return -1;
	}
	if (s->tok[t].type != JT_OBJ)
		return -1;
	for (uint32_t i = (uint32_t)t + 1; i < s->tok[t].next; i = s->tok[i + 1].next)
		if (key_eq(s, (int)i, c->part[k], c->partn[k]))
			return path_find(s, c, (int)i + 1, k + 1);
	return -1;
}

static int data_find(struct scratch *s, const struct field_cand *c)
{
	if (s->data_state == 0)
		data_parse(s);
	if (s->data_state < 0)
		return -1;
	size_t mask = s->htcap - 1;
	for (size_t i = (size_t)c->hash & mask;; i = (i + 1) & mask) {
		const struct jslot *e = &s->ht[i];
		if (e->v < 0)
			break;
		if (e->h == c->hash && slot_eq(s, e, c->name, c->n))
			return e->v;
	}
	if (c->nparts < 2)
		return -1;
	/* a.b.c as a nested path from the root */
	return path_find(s, c, 0, 0);
}

/* ---- the scratch buffer ---- */

/* Size the buffer for everything this event may need: decoded data strings and lower-cased
 * copies (never longer than the data text) and lower-cased event strings. Done once per
 * event before any pointer into the buffer is handed out. */
static void scratch_ready(struct scratch *s)
{
	if (s->ready)
		return;
	const struct event *ev = s->ev;
	size_t need = 2 * ev->data.n + 64;
	for (int f = 0; f < EVF_COUNT; f++) {
		const struct sv *v = ev_sv(ev, f);
		if (v && v->p)
			need += v->n;
	}
	if (need > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < need)
			cap *= 2;
		char *b = realloc(s->buf, cap);
		if (b) {
			s->buf = b;
			s->cap = cap;
		}
	}
	s->used = 0;
	s->ready = true;
}

static void lower_copy(char *o, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		o[i] = sigma_lower(p[i]);
}

/* ---- field access ---- */

void field_event(struct scratch *s, int evf, struct fval *out)
{
	const struct event *ev = s->ev;
	*out = (struct fval){FV_ABSENT, NULL, 0, -1, evf, NULL, 0};
	if (evf < 0 || evf >= EVF_COUNT)
		return;
	const struct sv *v = ev_sv(ev, evf);
	if (v) {
		if (evf == EVF_SOURCE_IP && !(ev->flags & EV_HAS_IP))
			return;
		if (v->p) {
			out->t = FV_STR;
			out->p = v->p;
			out->n = v->n;
		}
		return;
	}
	/* the others as text, once per event */
	const struct event_field_info *f = &event_fields[evf_field[evf]];
	if (s->tgen[evf] != s->gen) {
		const void *m = (const char *)ev + f->off;
		bool set = !f->flag || (ev->flags & f->flag);
		char *b = s->txt[evf];
		int k = 0;
		switch ((enum event_field_kind)f->kind) {
		case EFK_UUID:
			uuid_format(m, b);
			k = 36;
			break;
		case EFK_TIME:
			k = (int)ts_format(*(const int64_t *)m, b);
			break;
		case EFK_INT:
			k = set ? snprintf(b, 48, "%d", *(const int *)m) : -1;
			break;
		case EFK_REAL:
			k = set ? snprintf(b, 48, "%.17g", *(const double *)m) : -1;
			break;
		case EFK_I64:
			k = set ? snprintf(b, 48, "%lld", (long long)*(const int64_t *)m) : -1;
			break;
		default:
			k = -1;
			break;
		}
		s->txtn[evf] = k < 0 || k >= 48 ? (size_t)-1 : (size_t)k;
		s->tgen[evf] = s->gen;
	}
	if (s->txtn[evf] == (size_t)-1)
		return;
	bool num = f->kind == EFK_INT || f->kind == EFK_I64 || f->kind == EFK_REAL;
	out->t = num ? FV_NUM : FV_STR;
	out->p = s->txt[evf];
	out->n = s->txtn[evf];
}

void field_token(struct scratch *s, int k, struct fval *out)
{
	const struct jtok *t = &s->tok[k];
	static const enum fv_type map[] = {FV_OBJECT, FV_ARRAY, FV_STR, FV_NUM,
					   FV_BOOL,   FV_BOOL,	FV_NULL};
	out->t = map[t->type];
	out->tok = k;
	out->evf = EVF_DATA;
	out->lp = NULL;
	out->ln = 0;
	tok_text(s, k, &out->p, &out->n);
}

void field_get(struct scratch *s, const struct field_ref *f, struct fval *out)
{
	*out = (struct fval){FV_ABSENT, NULL, 0, -1, EVF_DATA, NULL, 0};
	for (size_t i = 0; i < f->ncand; i++) {
		const struct field_cand *c = &f->cand[i];
		if (c->evf >= 0) {
			field_event(s, c->evf, out);
		} else {
			scratch_ready(s);
			int k = data_find(s, c);
			if (k >= 0)
				field_token(s, k, out);
		}
		if (out->t != FV_ABSENT)
			return;
	}
}

bool scratch_eventid(struct scratch *s, int64_t *out)
{
	if (!s->eid_done) {
		static const char *name = "EventID";
		struct field_cand c = {EVF_DATA, name, 7, 0, 0, NULL, NULL};
		c.hash = hash_bytes(name, 7);
		s->eid_done = true;
		s->eid_ok = false;
		if (s->ev->data.p && memmem(s->ev->data.p, s->ev->data.n, "EventID", 7)) {
			scratch_ready(s);
			int k = data_find(s, &c);
			if (k >= 0 && (s->tok[k].type == JT_NUM || s->tok[k].type == JT_STR)) {
				/* the same numbers an EventID: 4624 matcher accepts ("04624",
				 * 4624.0) */
				const char *p;
				size_t n;
				double d;
				tok_text(s, k, &p, &n);
				if (sigma_parse_number(p, n, &d) && d >= 0 && d < 1e15 &&
				    d == (double)(int64_t)d) {
					s->eid = (int64_t)d;
					s->eid_ok = true;
				}
			}
		}
	}
	*out = s->eid;
	return s->eid_ok;
}

void field_lower(struct scratch *s, const struct fval *v, const char **p, size_t *n)
{
	*p = v->p;
	*n = v->n;
	if (v->tok >= 0) {
		struct jtok *t = &s->tok[v->tok];
		if (!t->low) {
			t->low = 1;
			t->lp = v->p;
			char *o = sbuf_alloc(s, v->n);
			if (o || v->n == 0) {
				if (o)
					lower_copy(o, v->p, v->n);
				t->lp = o ? o : v->p;
			}
		}
		*p = t->lp;
		return;
	}
	if (v->evf < 0 || v->evf >= EVF_COUNT)
		return;
	if (!ev_sv(s->ev, v->evf))
		return; /* our numeric and formatted fields are lower-case already */
	if (s->lgen[v->evf] != s->gen) {
		scratch_ready(s);
		char *o = sbuf_alloc(s, v->n);
		if (o)
			lower_copy(o, v->p, v->n);
		s->lp[v->evf] = o ? o : v->p;
		s->ln[v->evf] = v->n;
		s->lgen[v->evf] = s->gen;
	}
	*p = s->lp[v->evf];
	*n = s->ln[v->evf];
}
