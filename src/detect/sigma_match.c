/* sigma_match.c — compiled Sigma matchers: field access (event fields, a lazy index of the
 * data JSON), modifiers compiled into matchers, evaluation without allocating per event. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"
#include "detect/sigma_int.h"

/* ---- helpers ---- */

bool sigma_ieq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (sigma_lower(a[i]) != sigma_lower(b[i]))
			return false;
	return true;
}

/* Byte equality: a loop beats a memcmp call for the short values rules compare. */
static inline bool eqb(const char *a, const char *b, size_t n)
{
	if (n > 16)
		return !memcmp(a, b, n);
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

int cc_fail(struct cctx *cc, unsigned line, const char *fmt, ...)
{
	if (cc->err && cc->errlen) {
		va_list ap;
		int k = line ? snprintf(cc->err, cc->errlen, "line %u: ", line) : 0;
		if (k < 0 || (size_t)k >= cc->errlen)
			k = 0;
		va_start(ap, fmt);
		vsnprintf(cc->err + k, cc->errlen - (size_t)k, fmt, ap);
		va_end(ap);
	}
	return SIEM_ESCHEMA;
}

/* ---- our event fields ---- */

static const struct {
	const char *name;
	int evf;
} evf_names[] = {
	{ "event_id", EVF_EVENT_ID },	    { "timestamp", EVF_TIMESTAMP },
	{ "ts", EVF_TIMESTAMP },	    { "received_at", EVF_RECEIVED_AT },
	{ "source_host", EVF_SOURCE_HOST }, { "host", EVF_SOURCE_HOST },
	{ "os_type", EVF_OS_TYPE },	    { "event_type", EVF_EVENT_TYPE },
	{ "severity", EVF_SEVERITY },	    { "level", EVF_LEVEL },
	{ "source_ip", EVF_SOURCE_IP },	    { "src_ip", EVF_SOURCE_IP },
	{ "user", EVF_USER },		    { "user_id", EVF_USER },
	{ "app", EVF_APP },		    { "message", EVF_MESSAGE },
	{ "raw_message", EVF_RAW_MESSAGE }, { "request_id", EVF_REQUEST_ID },
	{ "user_agent", EVF_USER_AGENT },   { "http_method", EVF_HTTP_METHOD },
	{ "http_path", EVF_HTTP_PATH },	    { "http_status", EVF_HTTP_STATUS },
	{ "latency_ms", EVF_LATENCY_MS },   { "error_type", EVF_ERROR_TYPE },
	{ "source", EVF_SOURCE },	    { "source_file", EVF_SOURCE_FILE },
	{ "source_offset", EVF_SOURCE_OFFSET },
};

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

/* Plain string fields of struct event, by evf: their offsets (0: not a plain string). */
#define SVO(m) (uint16_t)offsetof(struct event, m)
static const uint16_t sv_off[EVF_COUNT] = {
	[EVF_SOURCE_HOST] = SVO(source_host), [EVF_OS_TYPE] = SVO(os_type),
	[EVF_EVENT_TYPE] = SVO(event_type),   [EVF_LEVEL] = SVO(level),
	[EVF_SOURCE_IP] = SVO(source_ip),     [EVF_USER] = SVO(user),
	[EVF_APP] = SVO(app),		      [EVF_MESSAGE] = SVO(message),
	[EVF_RAW_MESSAGE] = SVO(raw_message), [EVF_REQUEST_ID] = SVO(request_id),
	[EVF_USER_AGENT] = SVO(user_agent),   [EVF_HTTP_METHOD] = SVO(http_method),
	[EVF_HTTP_PATH] = SVO(http_path),     [EVF_ERROR_TYPE] = SVO(error_type),
	[EVF_SOURCE] = SVO(source),	      [EVF_SOURCE_FILE] = SVO(source_file),
};

static inline const struct sv *ev_sv(const struct event *ev, int evf)
{
	if (evf < 0 || evf >= EVF_COUNT || !sv_off[evf])
		return NULL;
	return (const struct sv *)((const char *)ev + sv_off[evf]);
}

/* ---- the data JSON index ---- */

enum jt { JT_OBJ, JT_ARR, JT_STR, JT_NUM, JT_TRUE, JT_FALSE, JT_NULL };
enum jcls { JC_NONE, JC_ROOT, JC_EVENTDATA, JC_SYSTEM, JC_USERDATA, JC_USERDATA_CHILD,
	    JC_ROOT_CHILD, JC_SYSTEM_CHILD };

struct jtok {
	uint8_t type, esc, key, cls, dec, low;
	uint32_t off, len; /* strings: between the quotes; others: the whole text */
	uint32_t next;     /* the token after this subtree */
	int32_t parent;    /* enclosing container */
	const char *dp;    /* decoded text (dec) */
	uint32_t dn;
	const char *lp;    /* lower-cased decoded text (low) */
};

struct jslot {
	uint64_t h;
	int32_t k1, k2; /* key token; k2 >= 0: composite name "k1_k2" */
	int32_t v;      /* value token */
	int32_t scope;  /* lower wins */
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
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
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
		default: out[o++] = c; break;
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
	return kn == n && eqb(p, name, n);
}

static bool slot_eq(struct scratch *s, const struct jslot *e, const char *name, size_t n)
{
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
	if (k2 >= 0) {
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
			*e = (struct jslot){ h, k1, k2, v, scope };
			return;
		}
		if (e->h == h && slot_eq(s, e, k2 >= 0 ? name : p, nn)) {
			if (scope < e->scope)
				*e = (struct jslot){ h, k1, k2, v, scope };
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
	struct jparser p = { s, ev->data.p, ev->data.n, 0 };
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
			t->cls = tok_is(s, k, "EventData") ? JC_EVENTDATA :
				 tok_is(s, k, "System")	   ? JC_SYSTEM :
				 tok_is(s, k, "UserData")  ? JC_USERDATA :
							     JC_ROOT_CHILD;
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
		switch (s->tok[par].cls) {
		case JC_ROOT: ht_put(s, k, -1, v, 0); break;
		case JC_EVENTDATA: ht_put(s, k, -1, v, 1); break;
		case JC_SYSTEM: ht_put(s, k, -1, v, 2); break;
		case JC_USERDATA_CHILD: ht_put(s, k, -1, v, 3); break;
		case JC_ROOT_CHILD:
		case JC_SYSTEM_CHILD:
			if (s->tok[v].type != JT_OBJ && s->tok[v].type != JT_ARR)
				ht_put(s, par - 1, k, v, 4);
			break;
		default: break;
		}
	}
	s->data_state = 1;
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
	int obj = 0;
	for (size_t k = 0; k < c->nparts; k++) {
		if (s->tok[obj].type != JT_OBJ)
			return -1;
		int found = -1;
		for (uint32_t i = (uint32_t)obj + 1; i < s->tok[obj].next;
		     i = s->tok[i + 1].next) {
			if (key_eq(s, (int)i, c->part[k], c->partn[k])) {
				found = (int)i + 1;
				break;
			}
		}
		if (found < 0)
			return -1;
		obj = found;
	}
	return obj;
}

/* ---- scratch ---- */

int scratch_init(struct scratch *s)
{
	memset(s, 0, sizeof(*s));
	s->md = pcre2_match_data_create(1, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	if (!s->md || !s->mctx) {
		scratch_release(s);
		return -ENOMEM;
	}
	/* a pathological pattern gives up (no match) instead of stalling the writer */
	pcre2_set_match_limit(s->mctx, 200000);
	pcre2_set_depth_limit(s->mctx, 2000);
	return 0;
}

void scratch_release(struct scratch *s)
{
	free(s->buf);
	free(s->tok);
	free(s->ht);
	free(s->memo);
	free(s->acbits);
	if (s->md)
		pcre2_match_data_free(s->md);
	if (s->mctx)
		pcre2_match_context_free(s->mctx);
	memset(s, 0, sizeof(*s));
}

void scratch_begin(struct scratch *s, const struct event *ev)
{
	s->ev = ev;
	s->gen++;
	if (s->gen == 0) { /* wrapped: forget every cache */
		memset(s->lgen, 0, sizeof(s->lgen));
		memset(s->tgen, 0, sizeof(s->tgen));
		memset(s->lsc, 0, sizeof(s->lsc));
		s->acgen = 0;
		s->gen = 1;
	}
	s->ready = false;
	s->data_state = 0;
	s->eid_done = false;
}

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

static void ev_value(struct scratch *s, int evf, struct fval *out)
{
	const struct event *ev = s->ev;
	*out = (struct fval){ FV_ABSENT, NULL, 0, -1, evf, NULL, 0 };
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
	bool have = true;
	if (s->tgen[evf] != s->gen) {
		char *b = s->txt[evf];
		int k = 0;
		switch (evf) {
		case EVF_EVENT_ID: uuid_format(ev->id, b); k = 36; break;
		case EVF_TIMESTAMP: k = (int)ts_format(ev->ts, b); break;
		case EVF_RECEIVED_AT: k = (int)ts_format(ev->received_at, b); break;
		case EVF_SEVERITY: k = snprintf(b, 48, "%d", ev->severity); break;
		case EVF_HTTP_STATUS:
			if (ev->flags & EV_HAS_HTTP_STATUS)
				k = snprintf(b, 48, "%d", ev->http_status);
			else
				k = -1;
			break;
		case EVF_LATENCY_MS:
			if (ev->flags & EV_HAS_LATENCY)
				k = snprintf(b, 48, "%.17g", ev->latency_ms);
			else
				k = -1;
			break;
		case EVF_SOURCE_OFFSET:
			if (ev->flags & EV_HAS_OFFSET)
				k = snprintf(b, 48, "%lld", (long long)ev->source_offset);
			else
				k = -1;
			break;
		default: k = -1; break;
		}
		s->txtn[evf] = k < 0 || k >= 48 ? (size_t)-1 : (size_t)k;
		s->tgen[evf] = s->gen;
	}
	have = s->txtn[evf] != (size_t)-1;
	if (!have)
		return;
	bool num = evf == EVF_SEVERITY || evf == EVF_HTTP_STATUS || evf == EVF_LATENCY_MS ||
		   evf == EVF_SOURCE_OFFSET;
	out->t = num ? FV_NUM : FV_STR;
	out->p = s->txt[evf];
	out->n = s->txtn[evf];
}

static void tok_value(struct scratch *s, int k, struct fval *out)
{
	const struct jtok *t = &s->tok[k];
	static const enum fv_type map[] = { FV_OBJECT, FV_ARRAY, FV_STR, FV_NUM,
					    FV_BOOL, FV_BOOL, FV_NULL };
	out->t = map[t->type];
	out->tok = k;
	out->evf = EVF_DATA;
	out->lp = NULL;
	out->ln = 0;
	tok_text(s, k, &out->p, &out->n);
}

void field_get(struct scratch *s, const struct field_ref *f, struct fval *out)
{
	*out = (struct fval){ FV_ABSENT, NULL, 0, -1, EVF_DATA, NULL, 0 };
	for (size_t i = 0; i < f->ncand; i++) {
		const struct field_cand *c = &f->cand[i];
		if (c->evf >= 0) {
			ev_value(s, c->evf, out);
		} else {
			scratch_ready(s);
			int k = data_find(s, c);
			if (k >= 0)
				tok_value(s, k, out);
		}
		if (out->t != FV_ABSENT)
			return;
	}
}

static bool parse_number(const char *p, size_t n, double *out);

bool scratch_eventid(struct scratch *s, int64_t *out)
{
	if (!s->eid_done) {
		static const char *name = "EventID";
		struct field_cand c = { EVF_DATA, name, 7, 0, 0, NULL, NULL };
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
				if (parse_number(p, n, &d) && d >= 0 && d < 1e15 &&
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

/* Lower-cased text of a value (cached per event field or data token). */
static void fv_lower(struct scratch *s, const struct fval *v, const char **p, size_t *n)
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

/* ---- value matching ---- */

/* Length of the UTF-8 sequence starting at p[0] (1 for anything malformed). */
static size_t u8len(const char *p, size_t left)
{
	unsigned char b = (unsigned char)p[0];
	size_t k = b < 0xc0 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
	if (k > left)
		return 1;
	for (size_t i = 1; i < k; i++)
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			return 1;
	return k;
}

/* Wildcard match: '*' any run, '?' one character; iterative with one backtrack point. */
static bool glob_match(const char *pat, const uint8_t *wild, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
	while (si < sn) {
		if (pi < pn && wild[pi] == '*') {
			star_p = pi++;
			star_s = si;
			continue;
		}
		if (pi < pn && wild[pi] == '?') {
			pi++;
			si += u8len(s + si, sn - si);
			continue;
		}
		if (pi < pn && pat[pi] == s[si]) {
			pi++;
			si++;
			continue;
		}
		if (star_p == (size_t)-1)
			return false;
		pi = star_p + 1;
		star_s += u8len(s + star_s, sn - star_s);
		si = star_s;
	}
	while (pi < pn && wild[pi] == '*')
		pi++;
	return pi == pn;
}

static bool parse_number(const char *p, size_t n, double *out)
{
	char b[64];
	if (n == 0 || n >= sizeof(b))
		return false;
	bool hex = n > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
	for (size_t i = hex ? 2 : 0; i < n; i++)
		if (!(p[i] && strchr(hex ? "0123456789abcdefABCDEF" : "+-0123456789.eE", p[i])))
			return false;
	memcpy(b, p, n);
	b[n] = '\0';
	char *end;
	double d;
	if (hex)
		d = (double)strtoull(b, &end, 16);
	else
		d = strtod(b, &end);
	if (end != b + n || !isfinite(d))
		return false;
	*out = d;
	return true;
}

/* Substring search: memchr and memcmp beat memmem's setup on the short values of events. */
static bool contains(const char *h, size_t hn, const char *nd, size_t nn)
{
	if (nn == 0)
		return true;
	if (hn < nn)
		return false;
	if (hn > 512)
		return memmem(h, hn, nd, nn) != NULL;
	const char *end = h + hn - nn + 1;
	for (const char *p = h; p < end; p++) {
		p = memchr(p, nd[0], (size_t)(end - p));
		if (!p)
			return false;
		if (eqb(p + 1, nd + 1, nn - 1))
			return true;
	}
	return false;
}

static bool vm_str(struct scratch *s, const struct vmatch *m, struct fval *v)
{
	const char *p;
	size_t n;
	if (m->cased) {
		p = v->p;
		n = v->n;
	} else {
		if (!v->lp)
			fv_lower(s, v, &v->lp, &v->ln);
		p = v->lp;
		n = v->ln;
	}
	switch (m->kind) {
	case VM_ANY: return true;
	case VM_EXACT:
		/* the first byte rejects most candidates before a memcmp call */
		if (n == m->n && (n == 0 || (p[0] == m->s[0] && eqb(p, m->s, n))))
			return true;
		if (m->is_num) {
			double d;
			return parse_number(v->p, v->n, &d) && d == m->num;
		}
		return false;
	case VM_PREFIX:
		return n >= m->n && (m->n == 0 || (p[0] == m->s[0] && eqb(p, m->s, m->n)));
	case VM_SUFFIX:
		return n >= m->n &&
		       (m->n == 0 || (p[n - 1] == m->s[m->n - 1] && eqb(p + n - m->n, m->s, m->n)));
	case VM_CONTAINS: return contains(p, n, m->s, m->n);
	case VM_GLOB:
		if (m->reqn && !contains(p, n, m->req, m->reqn))
			return false;
		return glob_match(m->s, m->wild, m->n, p, n);
	default: return false;
	}
}

static bool vm_scalar(struct scratch *s, const struct vmatch *m, struct fval *v)
{
	switch (m->kind) {
	case VM_RE: {
		int rc = pcre2_match(m->re, (PCRE2_SPTR)v->p, v->n, 0, 0, s->md, s->mctx);
		return rc >= 0;
	}
	case VM_CIDR: {
		uint8_t ip[16];
		if (v->evf == EVF_SOURCE_IP)
			memcpy(ip, s->ev->ip, 16);
		else if (ip_parse(v->p, v->n, ip))
			return false;
		return memcmp(ip, m->lo, 16) >= 0 && memcmp(ip, m->hi, 16) <= 0;
	}
	case VM_CMP: {
		double d;
		if (!parse_number(v->p, v->n, &d))
			return false;
		switch (m->op) {
		case CMP_GT: return d > m->num;
		case CMP_GTE: return d >= m->num;
		case CMP_LT: return d < m->num;
		case CMP_LTE: return d <= m->num;
		}
		return false;
	}
	default: return vm_str(s, m, v);
	}
}

/* A value, or any element of an array value. */
static bool vm_value(struct scratch *s, const struct vmatch *m, struct fval *v)
{
	if (v->t == FV_STR || v->t == FV_NUM || v->t == FV_BOOL)
		return vm_scalar(s, m, v);
	if (v->t != FV_ARRAY)
		return false;
	const struct jtok *a = &s->tok[v->tok];
	for (uint32_t i = (uint32_t)v->tok + 1; i < a->next; i = s->tok[i].next) {
		struct fval e;
		tok_value(s, (int)i, &e);
		if ((e.t == FV_STR || e.t == FV_NUM || e.t == FV_BOOL) && vm_scalar(s, m, &e))
			return true;
	}
	return false;
}

/* ---- the keyword automaton (Aho-Corasick over byte classes) ---- */

/* Outputs are ids, not patterns: the plain literals of one ORed keyword list share an id,
 * so the list is decided by one bit. */
struct kw_automaton {
	size_t npat, nids, nstates, nclass;
	uint8_t cls[256];
	uint16_t *delta;    /* nstates * nclass: 16 bits keep the table in cache */
	int32_t *out;       /* per state: first output node, or -1 */
	int32_t *out_next;  /* per output node (one per pattern): the next in the state's list */
	int32_t *out_id;    /* per output node: the id it sets */
	uint32_t *dict;     /* per state: nearest proper suffix state with output, or 0 */
	uint8_t *has_out;   /* per state: an output here or on a suffix */
};

void kw_free(struct kw_automaton *ac)
{
	if (!ac)
		return;
	free(ac->delta);
	free(ac->out);
	free(ac->out_next);
	free(ac->out_id);
	free(ac->dict);
	free(ac->has_out);
	free(ac);
}

/* The literal a keyword matcher needs: all of a contains, the longest run of a glob. */
static bool kw_literal(const struct fcond *fc, const struct vmatch *m, const char **p, size_t *n)
{
	if (!fc->keywords || m->cased)
		return false;
	if (m->kind == VM_CONTAINS && m->n > 0) {
		*p = m->s;
		*n = m->n;
		return true;
	}
	if (m->kind == VM_GLOB && m->reqn > 0) {
		*p = m->req;
		*n = m->reqn;
		return true;
	}
	return false;
}

/* Call fn for every item of every selection of r (logsource conditions excluded). */
static void rule_each_fcond(struct rule *r, void (*fn)(struct fcond *fc, void *ctx), void *ctx)
{
	for (size_t v = 0; v < r->nvar; v++) {
		struct detection *d = &r->var[v].det;
		for (size_t i = 0; i < d->nsel; i++)
			for (size_t a = 0; a < d->sel[i].nalt; a++)
				for (size_t f = 0; f < d->sel[i].alt[a].nfc; f++)
					fn(&d->sel[i].alt[a].fc[f], ctx);
	}
}

static void reset_ids(struct fcond *fc, void *ctx)
{
	(void)ctx;
	for (size_t k = 0; k < fc->nval; k++)
		fc->val[k].ac_id = -1;
}

void kw_reset_ids(struct rule *r)
{
	rule_each_fcond(r, reset_ids, NULL);
}

struct kw_build_ctx {
	int pass;           /* 0 count, 1 byte classes, 2 trie */
	size_t npat, total, ncls, ns, id, node;
	struct kw_automaton *ac;
};

static void kw_visit(struct fcond *fc, void *ctx)
{
	struct kw_build_ctx *b = ctx;
	struct kw_automaton *ac = b->ac;
	int shared = -1;
	for (size_t k = 0; k < fc->nval; k++) {
		struct vmatch *m = &fc->val[k];
		const char *lit;
		size_t ln;
		if (!kw_literal(fc, m, &lit, &ln))
			continue;
		if (b->pass == 0) {
			b->npat++;
			b->total += ln;
		} else if (b->pass == 1) {
			for (size_t j = 0; j < ln; j++) {
				uint8_t c = (uint8_t)lit[j];
				if (!ac->cls[c] && b->ncls < 256)
					ac->cls[c] = (uint8_t)b->ncls++;
			}
		} else {
			uint32_t st = 0;
			for (size_t j = 0; j < ln; j++) {
				uint16_t *e =
				    &ac->delta[st * ac->nclass + ac->cls[(uint8_t)lit[j]]];
				if (!*e)
					*e = (uint16_t)b->ns++;
				st = *e;
			}
			int id;
			if (!fc->all && m->kind == VM_CONTAINS) {
				if (shared < 0)
					shared = (int)b->id++;
				id = shared;
			} else {
				id = (int)b->id++;
			}
			m->ac_id = id;
			ac->out_id[b->node] = id;
			ac->out_next[b->node] = ac->out[st];
			ac->out[st] = (int32_t)b->node++;
			ac->has_out[st] = 1;
		}
	}
}

/* Build one automaton over every keyword literal of the rule set and number them. */
int kw_build(struct rule **rules, size_t n, struct kw_automaton **out)
{
	struct kw_build_ctx b = { 0, 0, 1, 1, 1, 0, 0, NULL };
	*out = NULL;
	for (size_t r = 0; r < n; r++) {
		kw_reset_ids(rules[r]);
		rule_each_fcond(rules[r], kw_visit, &b);
	}
	if (b.npat == 0)
		return 0;
	struct kw_automaton *ac = calloc(1, sizeof(*ac));
	if (!ac)
		return -ENOMEM;
	b.ac = ac;
	b.pass = 1; /* byte classes: every byte a pattern uses gets its own, others share 0 */
	for (size_t r = 0; r < n; r++)
		rule_each_fcond(rules[r], kw_visit, &b);
	size_t total = b.total, ncls = b.ncls, npat = b.npat;
	if (ncls > 255 || total >= 65535 || total * ncls > (32u << 20)) {
		free(ac); /* too big to be worth it: matchers fall back to memmem */
		return 0;
	}
	ac->nclass = ncls;
	ac->delta = calloc(total * ncls, sizeof(uint16_t));
	ac->out = malloc(total * sizeof(int32_t));
	ac->out_next = malloc(npat * sizeof(int32_t));
	ac->out_id = malloc(npat * sizeof(int32_t));
	ac->dict = calloc(total, sizeof(uint32_t));
	ac->has_out = calloc(total, 1);
	uint32_t *fail = calloc(total, sizeof(uint32_t));
	uint32_t *queue = malloc(total * sizeof(uint32_t));
	int rc = 0;
	if (!ac->delta || !ac->out || !ac->out_next || !ac->out_id || !ac->dict || !ac->has_out ||
	    !fail || !queue) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < total; i++)
		ac->out[i] = -1;
	b.pass = 2; /* the trie; 0 in delta means "no edge" while building (0 is the root) */
	for (size_t r = 0; r < n; r++)
		rule_each_fcond(rules[r], kw_visit, &b);
	ac->nstates = b.ns;
	ac->npat = npat;
	ac->nids = b.id;
	/* BFS: failure links, full transitions, dictionary links */
	size_t qh = 0, qt = 0;
	for (size_t c = 0; c < ncls; c++) {
		uint16_t t = ac->delta[c];
		if (t) {
			fail[t] = 0;
			queue[qt++] = t;
		}
	}
	while (qh < qt) {
		uint32_t st = queue[qh++];
		uint32_t f = fail[st];
		ac->dict[st] = ac->out[f] >= 0 ? f : ac->dict[f];
		if (ac->has_out[f])
			ac->has_out[st] = 1;
		for (size_t c = 0; c < ncls; c++) {
			uint16_t t = ac->delta[st * ncls + c];
			if (t) {
				fail[t] = ac->delta[f * ncls + c];
				queue[qt++] = t;
			} else {
				ac->delta[st * ncls + c] = ac->delta[f * ncls + c];
			}
		}
	}
out:
	free(fail);
	free(queue);
	if (rc) {
		kw_free(ac);
		for (size_t r = 0; r < n; r++)
			kw_reset_ids(rules[r]);
		return rc;
	}
	*out = ac;
	return 0;
}

static void kw_scan(const struct kw_automaton *ac, uint64_t *bits, const char *p, size_t n)
{
	uint32_t st = 0;
	const size_t nc = ac->nclass;
	for (size_t i = 0; i < n; i++) {
		st = ac->delta[st * nc + ac->cls[(uint8_t)sigma_lower(p[i])]];
		if (!ac->has_out[st])
			continue;
		for (uint32_t q = st; q; q = ac->dict[q])
			for (int32_t o = ac->out[q]; o >= 0; o = ac->out_next[o]) {
				int32_t id = ac->out_id[o];
				bits[id >> 6] |= 1ull << (id & 63);
			}
	}
}

static bool kw_hit(struct scratch *s, int id)
{
	if (s->acgen != s->gen) {
		size_t words = (s->ac->nids + 63) / 64;
		if (words > s->acwords) {
			uint64_t *b = realloc(s->acbits, words * sizeof(*b));
			if (!b)
				return false;
			s->acbits = b;
			s->acwords = words;
		}
		memset(s->acbits, 0, words * sizeof(uint64_t));
		const struct event *ev = s->ev;
		if (ev->message.p)
			kw_scan(s->ac, s->acbits, ev->message.p, ev->message.n);
		if (ev->raw_message.p && ev->raw_message.p != ev->message.p)
			kw_scan(s->ac, s->acbits, ev->raw_message.p, ev->raw_message.n);
		s->acgen = s->gen;
	}
	return (s->acbits[id >> 6] >> (id & 63)) & 1;
}

/* The shared id of a selection that is one ORed list of plain keywords, or -1. */
static int sel_kw_id(const struct sel *sel)
{
	if (sel->nalt != 1 || sel->alt[0].nfc != 1)
		return -1;
	const struct fcond *fc = &sel->alt[0].fc[0];
	if (!fc->keywords || fc->all || fc->neq || fc->nplain != fc->nval || !fc->nval)
		return -1;
	return fc->val[0].ac_id;
}

/* Ids of which one must be set for node n to be true, or 0 if none can be told. */
static size_t node_kw(const struct detection *d, int n, int *ids, int depth)
{
	const struct cnode *c = &d->node[n];
	if (depth > 8)
		return 0;
	switch (c->op) {
	case CN_SEL: {
		int id = sel_kw_id(&d->sel[c->sel]);
		if (id < 0)
			return 0;
		ids[0] = id;
		return 1;
	}
	case CN_AND: {
		size_t k = node_kw(d, c->a, ids, depth + 1);
		return k ? k : node_kw(d, c->b, ids, depth + 1);
	}
	case CN_ALL_OF:
		for (int i = 0; i < c->nsels; i++) {
			int id = sel_kw_id(&d->sel[c->sels[i]]);
			if (id >= 0) {
				ids[0] = id;
				return 1;
			}
		}
		return 0;
	case CN_ONE_OF:
		if (c->nsels > 8)
			return 0;
		for (int i = 0; i < c->nsels; i++)
			if ((ids[i] = sel_kw_id(&d->sel[c->sels[i]])) < 0)
				return 0;
		return (size_t)c->nsels;
	case CN_OR: {
		int a[8], b[8];
		size_t na = node_kw(d, c->a, a, depth + 1), nb = node_kw(d, c->b, b, depth + 1);
		if (!na || !nb || na + nb > 8)
			return 0;
		memcpy(ids, a, na * sizeof(int));
		memcpy(ids + na, b, nb * sizeof(int));
		return na + nb;
	}
	default: return 0;
	}
}

void kw_requirements(struct rule *r)
{
	r->nkw_req = 0;
	if (r->nvar == 1 && !r->corr)
		r->nkw_req = node_kw(&r->var[0].det, r->var[0].det.root, r->kw_req, 0);
}

bool kw_pass(struct scratch *s, const struct rule *r)
{
	if (!r->nkw_req || !s->ac)
		return true;
	for (size_t i = 0; i < r->nkw_req; i++)
		if ((size_t)r->kw_req[i] < s->ac->nids && kw_hit(s, r->kw_req[i]))
			return true;
	return false;
}

/* ---- items, selections, conditions ---- */

static bool kw_one(struct scratch *s, const struct vmatch *m)
{
	if (m->ac_id >= 0 && s->ac && (size_t)m->ac_id < s->ac->nids) {
		if (!kw_hit(s, m->ac_id))
			return false; /* the literal it needs is in neither text */
		if (m->kind == VM_CONTAINS)
			return true;
	}
	struct fval v;
	ev_value(s, EVF_MESSAGE, &v);
	if (v.t != FV_ABSENT && vm_scalar(s, m, &v))
		return true;
	if (s->ev->raw_message.p && s->ev->raw_message.p != s->ev->message.p) {
		ev_value(s, EVF_RAW_MESSAGE, &v);
		if (v.t != FV_ABSENT && vm_scalar(s, m, &v))
			return true;
	}
	return false;
}

static bool fv_text_eq(struct scratch *s, const struct fval *a, const struct fval *b, bool cased)
{
	if (a->n != b->n)
		return false;
	if (cased)
		return !memcmp(a->p, b->p, a->n);
	const char *pa, *pb;
	size_t na, nb;
	fv_lower(s, a, &pa, &na);
	fv_lower(s, b, &pb, &nb);
	return na == nb && !memcmp(pa, pb, na);
}

static bool fcond_match(struct scratch *s, const struct fcond *fc)
{
	bool r;
	if (fc->keywords) {
		r = fc->all;
		size_t i = 0;
		if (s->ac && !fc->all && fc->nplain && fc->val[0].ac_id >= 0) {
			/* the plain literals share one bit */
			if (kw_one(s, &fc->val[0])) {
				r = true;
				i = fc->nval;
			} else {
				i = fc->nplain;
			}
		}
		for (; i < fc->nval; i++) {
			const struct vmatch *vm = &fc->val[i];
			bool m = kw_one(s, vm);
			if (m != fc->all) {
				r = m;
				break;
			}
		}
		return fc->neq ? !r : r;
	}
	struct fval v;
	field_get(s, &fc->f, &v);
	switch (fc->kind) {
	case FC_NULL: return v.t == FV_ABSENT || v.t == FV_NULL;
	case FC_EXISTS: return (v.t != FV_ABSENT) == fc->exists;
	case FC_FIELDREF: {
		struct fval w;
		field_get(s, &fc->ref, &w);
		bool scal = (v.t == FV_STR || v.t == FV_NUM || v.t == FV_BOOL) &&
			    (w.t == FV_STR || w.t == FV_NUM || w.t == FV_BOOL);
		r = scal && fv_text_eq(s, &v, &w, fc->cased);
		return fc->neq ? !r : r;
	}
	case FC_VALUES: break;
	}
	if (v.t == FV_ABSENT || v.t == FV_NULL) {
		r = fc->or_null;
	} else {
		r = fc->all;
		for (size_t i = 0; i < fc->nval; i++) {
			bool m = vm_value(s, &fc->val[i], &v);
			if (m != fc->all) {
				r = m;
				break;
			}
		}
	}
	return fc->neq ? !r : r;
}

static bool sel_match(struct scratch *s, const struct sel *sel)
{
	for (size_t a = 0; a < sel->nalt; a++) {
		const struct sel_alt *alt = &sel->alt[a];
		bool ok = true;
		for (size_t i = 0; ok && i < alt->nfc; i++)
			ok = fcond_match(s, &alt->fc[i]);
		if (ok)
			return true;
	}
	return false;
}

static bool sel_memo(struct scratch *s, const struct detection *d, int i)
{
	if (!s->memo[i])
		s->memo[i] = sel_match(s, &d->sel[i]) ? 2 : 1;
	return s->memo[i] == 2;
}

static bool cond_eval(struct scratch *s, const struct detection *d, int n)
{
	const struct cnode *c = &d->node[n];
	switch (c->op) {
	case CN_AND: return cond_eval(s, d, c->a) && cond_eval(s, d, c->b);
	case CN_OR: return cond_eval(s, d, c->a) || cond_eval(s, d, c->b);
	case CN_NOT: return !cond_eval(s, d, c->a);
	case CN_SEL: return sel_memo(s, d, c->sel);
	case CN_ONE_OF:
		for (int i = 0; i < c->nsels; i++)
			if (sel_memo(s, d, c->sels[i]))
				return true;
		return false;
	case CN_ALL_OF:
		for (int i = 0; i < c->nsels; i++)
			if (!sel_memo(s, d, c->sels[i]))
				return false;
		return true;
	}
	return false;
}

/* Many rules share a logsource: decide each once per event. */
static bool logsrc_match(struct scratch *s, const struct sel *sel)
{
	size_t h = ((uintptr_t)sel >> 4) & 63;
	if (s->lsc[h].sel == sel && s->lsc[h].gen == s->gen)
		return s->lsc[h].res;
	bool r = sel_match(s, sel);
	s->lsc[h].sel = sel;
	s->lsc[h].gen = s->gen;
	s->lsc[h].res = r;
	return r;
}

bool variant_match(struct scratch *s, const struct variant *v)
{
	if (v->logsrc && !logsrc_match(s, v->logsrc))
		return false;
	const struct detection *d = &v->det;
	if (d->nsel > s->memocap) {
		size_t cap = d->nsel < 64 ? 64 : d->nsel;
		uint8_t *m = realloc(s->memo, cap);
		if (!m)
			return false;
		s->memo = m;
		s->memocap = cap;
	}
	memset(s->memo, 0, d->nsel);
	return cond_eval(s, d, d->root);
}

bool rule_match_s(struct scratch *s, const struct rule *r)
{
	for (size_t i = 0; i < r->nvar; i++)
		if (variant_match(s, &r->var[i]))
			return true;
	return false;
}

/* ---- compiling values and modifiers ---- */

/* A value being built: bytes with a parallel wildcard mask ('*', '?' or 0). */
struct pat {
	char *b;
	uint8_t *w;
	size_t n;
};

enum mod_xform { X_BASE64, X_BASE64OFF, X_UTF16LE, X_UTF16BE, X_UTF16, X_WINDASH };

struct mods {
	int mode;        /* 0, 'c' contains, 's' startswith, 'e' endswith */
	bool all, cased, neq, re, cidr, exists, fieldref;
	int cmp;         /* -1 or enum cmp_op */
	uint32_t reflags;
	int nx;
	enum mod_xform x[8];
	const char *first_type; /* for conflict messages */
};

static int mods_parse(struct cctx *cc, const char *p, size_t n, struct mods *m, bool keywords,
		      unsigned line)
{
	memset(m, 0, sizeof(*m));
	m->cmp = -1;
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && p[j] != '|')
			j++;
		char w[32];
		size_t wn = j - i;
		if (wn == 0 || wn >= sizeof(w))
			return cc_fail(cc, line, "unsupported: modifier '%.*s'",
				       (int)(wn > 40 ? 40 : wn), p + i);
		memcpy(w, p + i, wn);
		w[wn] = '\0';
		i = j + (j < n);
		bool after_re = m->re && (!strcmp(w, "i") || !strcmp(w, "m") || !strcmp(w, "s"));
		if (after_re) {
			m->reflags |= w[0] == 'i' ? PCRE2_CASELESS : w[0] == 'm' ? PCRE2_MULTILINE :
										PCRE2_DOTALL;
			continue;
		}
		const char *type = NULL;
		if (!strcmp(w, "contains") || !strcmp(w, "startswith") || !strcmp(w, "endswith")) {
			if (m->mode)
				return cc_fail(cc, line,
					       "conflicting modifiers: '%s' after another "
					       "of contains/startswith/endswith",
					       w);
			m->mode = w[0] == 'c' ? 'c' : w[0] == 's' ? 's' : 'e';
		} else if (!strcmp(w, "all")) {
			m->all = true;
		} else if (!strcmp(w, "cased")) {
			m->cased = true;
		} else if (!strcmp(w, "neq")) {
			m->neq = true;
		} else if (!strcmp(w, "re")) {
			type = "re";
			m->re = true;
		} else if (!strcmp(w, "cidr")) {
			type = "cidr";
			m->cidr = true;
		} else if (!strcmp(w, "exists")) {
			type = "exists";
			m->exists = true;
		} else if (!strcmp(w, "fieldref")) {
			type = "fieldref";
			m->fieldref = true;
		} else if (!strcmp(w, "gt") || !strcmp(w, "gte") || !strcmp(w, "lt") ||
			   !strcmp(w, "lte")) {
			type = "gt/gte/lt/lte";
			m->cmp = !strcmp(w, "gt") ? CMP_GT : !strcmp(w, "gte") ? CMP_GTE :
				 !strcmp(w, "lt") ? CMP_LT : CMP_LTE;
		} else if (!strcmp(w, "base64") || !strcmp(w, "base64offset") ||
			   !strcmp(w, "wide") || !strcmp(w, "utf16le") || !strcmp(w, "utf16be") ||
			   !strcmp(w, "utf16") || !strcmp(w, "windash")) {
			if (m->nx == 8)
				return cc_fail(cc, line, "too many modifiers");
			m->x[m->nx++] = !strcmp(w, "base64")	   ? X_BASE64 :
					!strcmp(w, "base64offset") ? X_BASE64OFF :
					!strcmp(w, "windash")	   ? X_WINDASH :
					!strcmp(w, "utf16be")	   ? X_UTF16BE :
					!strcmp(w, "utf16")	   ? X_UTF16 :
								     X_UTF16LE;
		} else if (!strcmp(w, "expand")) {
			return cc_fail(cc, line, "unsupported: modifier 'expand' (placeholders)");
		} else if (!strcmp(w, "minute") || !strcmp(w, "hour") || !strcmp(w, "day") ||
			   !strcmp(w, "week") || !strcmp(w, "month") || !strcmp(w, "year")) {
			return cc_fail(cc, line, "unsupported: time modifier '%s'", w);
		} else {
			return cc_fail(cc, line, "unsupported: modifier '%s'", w);
		}
		if (type) {
			if (m->first_type)
				return cc_fail(cc, line,
					       "unsupported: modifier '%s' combined with '%s'", w,
					       m->first_type);
			m->first_type = type;
		}
	}
	if (m->reflags && !m->re)
		return cc_fail(cc, line, "modifiers i/m/s only follow 're'");
	bool typed = m->re || m->cidr || m->exists || m->fieldref || m->cmp >= 0;
	if (typed && (m->mode || m->nx))
		return cc_fail(cc, line, "unsupported: modifier '%s' combined with %s",
			       m->first_type, m->mode ? "contains/startswith/endswith" :
							"an encoding modifier");
	if ((m->exists || m->cidr || m->cmp >= 0) && m->cased)
		return cc_fail(cc, line, "unsupported: modifier 'cased' with '%s'", m->first_type);
	if (keywords && (typed || m->neq))
		return cc_fail(cc, line, "unsupported: modifier '%s' on keywords",
			       m->first_type ? m->first_type : "neq");
	return 0;
}

static int pat_alloc(struct cctx *cc, struct pat *p, size_t n)
{
	p->b = arena_alloc(cc->a, n + 1);
	p->w = arena_alloc(cc->a, n + 1);
	p->n = 0;
	return p->b && p->w ? 0 : -ENOMEM;
}

/* Sigma string: '*' and '?' are wildcards; a backslash escapes '*', '?' and itself, and is
 * literal before anything else. */
static int pat_from_sigma(struct cctx *cc, const char *s, size_t n, struct pat *p, bool wild)
{
	if (pat_alloc(cc, p, n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (wild && c == '\\' && i + 1 < n &&
		    (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
			p->b[p->n] = s[++i];
			p->w[p->n++] = 0;
		} else if (wild && (c == '*' || c == '?')) {
			p->b[p->n] = c;
			p->w[p->n++] = (uint8_t)c;
		} else {
			p->b[p->n] = c;
			p->w[p->n++] = 0;
		}
	}
	return 0;
}

static bool pat_has_wild(const struct pat *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->w[i])
			return true;
	return false;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

static int pat_literal(struct cctx *cc, struct pat *p, const char *s, size_t n)
{
	if (pat_alloc(cc, p, n))
		return -ENOMEM;
	memcpy(p->b, s, n);
	memset(p->w, 0, n);
	p->n = n;
	return 0;
}

/* UTF-8 → UTF-16 (le/be), wildcards kept as wildcards. */
static int pat_utf16(struct cctx *cc, struct pat *p, bool be, bool bom)
{
	struct pat q;
	if (pat_alloc(cc, &q, p->n * 4 + 2))
		return -ENOMEM;
	if (bom) {
		q.b[q.n] = be ? (char)0xfe : (char)0xff;
		q.w[q.n++] = 0;
		q.b[q.n] = be ? (char)0xff : (char)0xfe;
		q.w[q.n++] = 0;
	}
	for (size_t i = 0; i < p->n;) {
		if (p->w[i]) {
			q.b[q.n] = p->b[i];
			q.w[q.n++] = p->w[i++];
			continue;
		}
		size_t k = u8len(p->b + i, p->n - i);
		uint32_t cp = (unsigned char)p->b[i];
		if (k == 2)
			cp = (cp & 0x1f) << 6 | (p->b[i + 1] & 0x3f);
		else if (k == 3)
			cp = (cp & 0x0f) << 12 | (p->b[i + 1] & 0x3f) << 6 | (p->b[i + 2] & 0x3f);
		else if (k == 4)
			cp = (cp & 0x07) << 18 | (p->b[i + 1] & 0x3f) << 12 |
			     (p->b[i + 2] & 0x3f) << 6 | (p->b[i + 3] & 0x3f);
		i += k;
		uint16_t units[2];
		int nu = 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[0] = (uint16_t)(0xd800 + (cp >> 10));
			units[1] = (uint16_t)(0xdc00 + (cp & 0x3ff));
			nu = 2;
		} else {
			units[0] = (uint16_t)cp;
		}
		for (int u = 0; u < nu; u++) {
			char hi = (char)(units[u] >> 8), lo = (char)(units[u] & 0xff);
			q.b[q.n] = be ? hi : lo;
			q.w[q.n++] = 0;
			q.b[q.n] = be ? lo : hi;
			q.w[q.n++] = 0;
		}
	}
	*p = q;
	return 0;
}

static bool is_word(const struct pat *p, size_t i)
{
	if (p->w[i])
		return false;
	unsigned char c = (unsigned char)p->b[i];
	return isalnum(c) || c == '_' || c >= 0x80;
}

/* Apply the value transformations in order; one value may become several. */
static int pats_xform(struct cctx *cc, struct pat **ps, size_t *np, const struct mods *m,
		      unsigned line)
{
	for (int x = 0; x < m->nx; x++) {
		enum mod_xform t = m->x[x];
		size_t outn = 0, cap = *np * (t == X_BASE64OFF ? 3 : 1);
		if (t == X_WINDASH) {
			cap = 0;
			for (size_t i = 0; i < *np; i++) {
				size_t k = 1;
				const struct pat *p = &(*ps)[i];
				for (size_t j = 0; j < p->n; j++)
					if (!p->w[j] && (p->b[j] == '-' || p->b[j] == '/') &&
					    (j == 0 || !is_word(p, j - 1)) && j + 1 < p->n &&
					    is_word(p, j + 1)) {
						k *= 5;
						if (k > SIGMA_MAX_EXPANSION)
							return cc_fail(cc, line,
								       "unsupported: windash "
								       "expansion over %d values",
								       SIGMA_MAX_EXPANSION);
					}
				cap += k;
			}
		}
		if (cap > SIGMA_MAX_EXPANSION)
			return cc_fail(cc, line, "unsupported: more than %d values after modifiers",
				       SIGMA_MAX_EXPANSION);
		struct pat *out = arena_alloc(cc->a, cap * sizeof(*out));
		if (!out)
			return -ENOMEM;
		for (size_t i = 0; i < *np; i++) {
			struct pat p = (*ps)[i];
			switch (t) {
			case X_UTF16LE:
			case X_UTF16BE:
			case X_UTF16:
				if (pat_utf16(cc, &p, t == X_UTF16BE, t == X_UTF16))
					return -ENOMEM;
				out[outn++] = p;
				break;
			case X_BASE64:
			case X_BASE64OFF: {
				if (pat_has_wild(&p))
					return cc_fail(cc, line, "unsupported: base64 of a value "
						       "with wildcards");
				char *enc = arena_alloc(cc->a, (p.n + 4) / 3 * 4 + 8);
				uint8_t *in = arena_alloc(cc->a, p.n + 3);
				if (!enc || !in)
					return -ENOMEM;
				if (t == X_BASE64) {
					size_t k = b64_encode((const uint8_t *)p.b, p.n, enc);
					if (pat_literal(cc, &out[outn++], enc, k))
						return -ENOMEM;
					break;
				}
				/* pySigma: b64encode(i * b" " + value)[start[i] : end[(len + i) %
				 * 3]] */
				static const int start[3] = { 0, 2, 3 };
				static const int end[3] = { 0, -3, -2 };
				for (int sh = 0; sh < 3; sh++) {
					memset(in, ' ', (size_t)sh);
					memcpy(in + sh, p.b, p.n);
					size_t k = b64_encode(in, p.n + (size_t)sh, enc);
					int e = end[(p.n + (size_t)sh) % 3];
					size_t lo = (size_t)start[sh],
					       hi = e ? k - (size_t)(-e) : k;
					if (hi < lo || k < (size_t)(-e))
						hi = lo;
					if (pat_literal(cc, &out[outn++], enc + lo, hi - lo))
						return -ENOMEM;
				}
				break;
			}
			case X_WINDASH: {
				size_t pos[16], npos = 0;
				for (size_t j = 0; j < p.n && npos < 16; j++)
					if (!p.w[j] && (p.b[j] == '-' || p.b[j] == '/') &&
					    (j == 0 || !is_word(&p, j - 1)) && j + 1 < p.n &&
					    is_word(&p, j + 1))
						pos[npos++] = j;
				static const char *dash[5] = { "-", "/", "\xe2\x80\x93",
							       "\xe2\x80\x94", "\xe2\x80\x95" };
				size_t combos = 1;
				for (size_t j = 0; j < npos; j++)
					combos *= 5;
				for (size_t c = 0; c < combos; c++) {
					struct pat q;
					if (pat_alloc(cc, &q, p.n + 2 * npos))
						return -ENOMEM;
					size_t cc5 = c, pi = 0;
					for (size_t j = 0; j < p.n; j++) {
						if (pi < npos && pos[pi] == j) {
							const char *d = dash[cc5 % 5];
							cc5 /= 5;
							pi++;
							for (size_t z = 0; d[z]; z++) {
								q.b[q.n] = d[z];
								q.w[q.n++] = 0;
							}
							continue;
						}
						q.b[q.n] = p.b[j];
						q.w[q.n++] = p.w[j];
					}
					out[outn++] = q;
				}
				break;
			}
			}
		}
		*ps = out;
		*np = outn;
	}
	return 0;
}

/* Finish a pattern into a matcher: add the wildcards of contains/startswith/endswith, then
 * pick the cheapest kind that matches it. */
static int vm_from_pat(struct cctx *cc, struct vmatch *vm, const struct pat *p0, int mode,
		       bool cased)
{
	struct pat p;
	if (pat_alloc(cc, &p, p0->n + 2))
		return -ENOMEM;
	if ((mode == 'c' || mode == 'e') && !(p0->n && p0->w[0] == '*')) {
		p.b[p.n] = '*';
		p.w[p.n++] = '*';
	}
	memcpy(p.b + p.n, p0->b, p0->n);
	memcpy(p.w + p.n, p0->w, p0->n);
	p.n += p0->n;
	if ((mode == 'c' || mode == 's') && !(p0->n && p0->w[p0->n - 1] == '*')) {
		p.b[p.n] = '*';
		p.w[p.n++] = '*';
	}
	if (!cased)
		for (size_t i = 0; i < p.n; i++)
			if (!p.w[i])
				p.b[i] = sigma_lower(p.b[i]);
	vm->cased = cased;
	vm->ac_id = -1;
	size_t stars = 0, q = 0, inner = 0;
	for (size_t i = 0; i < p.n; i++) {
		if (p.w[i] == '*') {
			stars++;
			if (i != 0 && i != p.n - 1)
				inner++;
		} else if (p.w[i] == '?') {
			q++;
		}
	}
	bool lead = p.n && p.w[0] == '*', trail = p.n && p.w[p.n - 1] == '*';
	if (q == 0 && inner == 0) {
		if (p.n == stars && stars > 0) {
			vm->kind = VM_ANY;
			return 0;
		}
		vm->s = p.b + lead;
		vm->n = p.n - lead - trail;
		vm->kind = lead && trail ? VM_CONTAINS : lead ? VM_SUFFIX : trail ? VM_PREFIX :
			   VM_EXACT;
		return 0;
	}
	vm->kind = VM_GLOB;
	vm->s = p.b;
	vm->wild = p.w;
	vm->n = p.n;
	for (size_t i = 0; i < p.n;) {
		size_t j = i;
		while (j < p.n && !p.w[j])
			j++;
		if (j - i > vm->reqn) {
			vm->req = p.b + i;
			vm->reqn = j - i;
		}
		i = j + 1;
	}
	return 0;
}

static int yv_number(const struct yval *v, double *out)
{
	if (v->t == YV_INT || v->t == YV_NUM || v->t == YV_STR)
		return parse_number(v->s, v->n, out) ? 0 : -1;
	return -1;
}

int field_ref_compile(struct cctx *cc, struct field_ref *f, const char *name, size_t n)
{
	const char *tmp[1] = { NULL };
	const char **to = NULL;
	size_t nto = 0;
	char *nm = arena_strndup(cc->a, name, n);
	if (!nm)
		return -ENOMEM;
	f->name = nm;
	/* the logsource's mapping first, then the global one */
	for (int pass = 0; pass < 2 && !to; pass++) {
		const struct fmap_entry *e = pass == 0 ? (cc->ls ? cc->ls->fmap : NULL) :
				(cc->map ? cc->map->global : NULL);
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
		struct field_cand *c = &f->cand[i];
		memset(c, 0, sizeof(*c));
		size_t tn = strlen(to[i]);
		c->name = to[i];
		c->n = tn;
		c->evf = evf_lookup(to[i], tn);
		c->hash = hash_bytes(to[i], tn);
		size_t dots = 0;
		for (size_t k = 0; k < tn; k++)
			dots += to[i][k] == '.';
		if (c->evf == EVF_DATA && dots) {
			c->nparts = dots + 1;
			c->part = arena_alloc(cc->a, c->nparts * sizeof(*c->part));
			c->partn = arena_alloc(cc->a, c->nparts * sizeof(*c->partn));
			if (!c->part || !c->partn)
				return -ENOMEM;
			size_t k = 0, st = 0;
			for (size_t j = 0; j <= tn; j++)
				if (j == tn || to[i][j] == '.') {
					c->part[k] = to[i] + st;
					c->partn[k++] = j - st;
					st = j + 1;
				}
		}
	}
	return 0;
}

static int vm_compile_re(struct cctx *cc, struct vmatch *vm, const struct yval *v, uint32_t flags,
			 unsigned line)
{
	int ecode;
	PCRE2_SIZE eoff;
	vm->kind = VM_RE;
	vm->ac_id = -1;
	vm->re = pcre2_compile((PCRE2_SPTR)v->s, v->n, flags, &ecode, &eoff, NULL);
	if (!vm->re) {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		return cc_fail(cc, line, "invalid regular expression '%.*s': %s at offset %zu",
			       (int)(v->n > 80 ? 80 : v->n), v->s, (const char *)msg, (size_t)eoff);
	}
	struct re_node *rn = arena_alloc(cc->a, sizeof(*rn));
	if (!rn) {
		pcre2_code_free(vm->re);
		vm->re = NULL;
		return -ENOMEM;
	}
	rn->re = vm->re;
	rn->next = cc->res ? *cc->res : NULL;
	if (cc->res)
		*cc->res = rn;
	pcre2_jit_compile(vm->re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
	return 0;
}

static int values_compile(struct cctx *cc, struct fcond *fc, const struct mods *m,
			  const struct yval *vals, size_t nvals, bool keywords, unsigned line)
{
	struct vmatch *out = NULL;
	size_t nout = 0, cap = 0;
	for (size_t i = 0; i < nvals; i++) {
		const struct yval *v = &vals[i];
		unsigned vl = v->line ? v->line : line;
		if (v->t == YV_NULL) {
			if (keywords || m->re || m->cidr || m->cmp >= 0 || m->mode || m->nx)
				return cc_fail(cc, vl, "null cannot take modifiers");
			fc->or_null = true;
			continue;
		}
		if (m->re || m->cidr || m->cmp >= 0) {
			if (nout == cap) {
				cap = cap ? cap * 2 : 4;
				struct vmatch *o = arena_alloc(cc->a, cap * sizeof(*o));
				if (!o)
					return -ENOMEM;
				if (nout)
					memcpy(o, out, nout * sizeof(*o));
				out = o;
			}
			struct vmatch *vm = &out[nout];
			memset(vm, 0, sizeof(*vm));
			vm->ac_id = -1;
			if (m->re) {
				int rc = vm_compile_re(cc, vm, v, m->reflags, vl);
				if (rc)
					return rc;
			} else if (m->cidr) {
				vm->kind = VM_CIDR;
				if (cidr_parse(v->s, v->n, vm->lo, vm->hi))
					return cc_fail(cc, vl, "invalid CIDR '%.*s'",
						       (int)(v->n > 60 ? 60 : v->n), v->s);
			} else {
				vm->kind = VM_CMP;
				vm->op = (enum cmp_op)m->cmp;
				if (yv_number(v, &vm->num))
					return cc_fail(cc, vl, "'%.*s' is not a number",
						       (int)(v->n > 60 ? 60 : v->n), v->s);
			}
			nout++;
			continue;
		}
		struct pat *ps = arena_alloc(cc->a, sizeof(*ps));
		size_t np = 1;
		if (!ps || pat_from_sigma(cc, v->s, v->n, ps, true))
			return -ENOMEM;
		int rc = pats_xform(cc, &ps, &np, m, vl);
		if (rc)
			return rc;
		if (nout + np > SIGMA_MAX_EXPANSION)
			return cc_fail(cc, vl, "unsupported: more than %d values after modifiers",
				       SIGMA_MAX_EXPANSION);
		if (nout + np > cap) {
			size_t ncap = cap ? cap * 2 : 4;
			while (ncap < nout + np)
				ncap *= 2;
			struct vmatch *o = arena_alloc(cc->a, ncap * sizeof(*o));
			if (!o)
				return -ENOMEM;
			if (nout)
				memcpy(o, out, nout * sizeof(*o));
			out = o;
			cap = ncap;
		}
		double num;
		bool isnum = (v->t == YV_INT || v->t == YV_NUM) && parse_number(v->s, v->n, &num);
		for (size_t k = 0; k < np; k++) {
			struct vmatch *vm = &out[nout++];
			memset(vm, 0, sizeof(*vm));
			if ((rc = vm_from_pat(cc, vm, &ps[k], keywords ? 'c' : m->mode, m->cased)))
				return rc;
			if (isnum && m->nx == 0 && !m->mode && vm->kind == VM_EXACT) {
				vm->is_num = true;
				vm->num = num;
			}
		}
	}
	fc->val = out;
	fc->nval = nout;
	return 0;
}

int fcond_keywords(struct cctx *cc, struct fcond *fc, const char *mods, size_t modlen,
		   const struct yval *vals, size_t nvals, unsigned line)
{
	struct mods m;
	memset(fc, 0, sizeof(*fc));
	fc->keywords = true;
	fc->line = line;
	int rc = mods_parse(cc, mods, modlen, &m, true, line);
	if (rc)
		return rc;
	if (m.re)
		return cc_fail(cc, line, "unsupported: modifier 're' on keywords");
	fc->all = m.all;
	fc->kind = FC_VALUES;
	cc->keywords = true;
	if ((rc = values_compile(cc, fc, &m, vals, nvals, true, line)))
		return rc;
	if (fc->nval == 0)
		return cc_fail(cc, line, "keyword list without values");
	/* plain literals first (order does not matter in an OR or an AND) */
	for (size_t i = 0; i < fc->nval; i++) {
		if (fc->val[i].kind != VM_CONTAINS || fc->val[i].cased || fc->val[i].n == 0)
			continue;
		struct vmatch t = fc->val[i];
		memmove(&fc->val[fc->nplain + 1], &fc->val[fc->nplain],
			(i - fc->nplain) * sizeof(t));
		fc->val[fc->nplain++] = t;
	}
	return 0;
}

int fcond_compile(struct cctx *cc, struct fcond *fc, const char *key, size_t keylen,
		  const struct yval *vals, size_t nvals, unsigned line)
{
	size_t bar = 0;
	while (bar < keylen && key[bar] != '|')
		bar++;
	const char *mods = key + bar + (bar < keylen);
	size_t modlen = bar < keylen ? keylen - bar - 1 : 0;
	if (bar == 0)
		return fcond_keywords(cc, fc, mods, modlen, vals, nvals, line);
	memset(fc, 0, sizeof(*fc));
	fc->line = line;
	struct mods m;
	int rc = mods_parse(cc, mods, modlen, &m, false, line);
	if (rc)
		return rc;
	if ((rc = field_ref_compile(cc, &fc->f, key, bar)))
		return rc;
	fc->all = m.all;
	fc->neq = m.neq;
	if (nvals == 0)
		return cc_fail(cc, line, "field '%.*s' has an empty value list", (int)bar, key);
	if (m.exists) {
		const struct yval *v = &vals[0];
		bool t = v->n == 4 && sigma_ieq(v->s, 4, "true", 4);
		bool f = v->n == 5 && sigma_ieq(v->s, 5, "false", 5);
		if (nvals != 1 || (!t && !f))
			return cc_fail(cc, line, "'exists' needs true or false");
		fc->kind = FC_EXISTS;
		fc->exists = t;
		return 0;
	}
	if (m.fieldref) {
		fc->kind = FC_FIELDREF;
		fc->cased = m.cased;
		if (nvals != 1 || vals[0].t == YV_NULL || m.all)
			return cc_fail(cc, line, "unsupported: 'fieldref' with a value list");
		return field_ref_compile(cc, &fc->ref, vals[0].s, vals[0].n);
	}
	if (nvals == 1 && vals[0].t == YV_NULL) {
		if (m.mode || m.nx || m.re || m.cidr || m.cmp >= 0 || m.all)
			return cc_fail(cc, line, "null cannot take modifiers");
		fc->kind = m.neq ? FC_VALUES : FC_NULL;
		fc->or_null = true;
		return 0;
	}
	fc->kind = FC_VALUES;
	return values_compile(cc, fc, &m, vals, nvals, false, line);
}

void vmatch_free_all(struct rule *r)
{
	for (struct re_node *n = r->res; n; n = n->next)
		pcre2_code_free(n->re);
	r->res = NULL;
}
