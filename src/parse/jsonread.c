/* jsonread.c — the ingest path's JSON reader (jsonread.h): strings scanned eight bytes at a
 * time, values built with jansson's constructors (in the caller's scratch region when it
 * has one, core/jsonalloc.h), nothing decided that jansson would decide otherwise. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "parse/jsonread.h"

#define MAX_DEPTH 32  /* deeper documents are jansson's (its limit is 2048) */
#define MAX_NUMBER 64 /* longer reals are jansson's */
#define MAX_DIGITS 18 /* an integer of up to 18 digits cannot overflow json_int_t */

static json_t *read_value(struct jsonread *r);

static void skip_ws(struct jsonread *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

/* The two-character escapes; \u is jansson's. */
static const unsigned char unescape[0x80] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',	 ['r'] = '\r', ['t'] = '\t',
};

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* A byte a string may hold as it is: printable ASCII but '"' and '\\'. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Past the plain bytes of a string, eight at a time. A byte is flagged when it is a control
 * character (below 0x20), '"', '\\' or 0x80 and above; the lowest flagged byte is always a
 * true one (a borrow runs only upwards, from a byte that matched), and on a little-endian
 * machine it is the first in memory. */
static const unsigned char *skip_plain(const unsigned char *q, const unsigned char *end)
{
	uint64_t w;
	while (end - q >= 8) {
		memcpy(&w, q, 8);
		uint64_t qt = w ^ (ONES * '"'), bs = w ^ (ONES * '\\');
		uint64_t m =
		    (((w - ONES * 0x20) & ~w) | ((qt - ONES) & ~qt) | ((bs - ONES) & ~bs) | w) &
		    HIGHS;
		if (m) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return q + (__builtin_ctzll(m) >> 3);
#else
			break;
#endif
		}
		q += 8;
	}
	while (q < end && plain(*q))
		q++;
	return q;
}

/* A string at r->p (its opening quote): *out and *n point into the text, or, when it has
 * escapes, it is unescaped to (*buf)[*used..], *out is NULL and *used grows past it and a
 * NUL. -1 when jansson must decide. */
static int read_string_to(struct jsonread *r, char **buf, size_t *cap, size_t *used,
			  const char **out, size_t *n)
{
	const unsigned char *start = r->p + 1, *q = start, *end = r->end;
	bool escaped = false;
	for (;;) {
		q = skip_plain(q, end);
		if (q >= end)
			return -1;
		unsigned char c = *q;
		if (c == '"')
			break;
		if (c < 0x20)
			return -1;
		if (c >= 0x80) {
			size_t len = utf8_seq_len(q, 0, (size_t)(end - q));
			if (!len)
				return -1;
			q += len;
			continue;
		}
		/* a backslash */
		if (q + 1 >= end || q[1] >= 0x80 || !unescape[q[1]])
			return -1; /* \u (surrogates, NUL) is jansson's */
		escaped = true;
		q += 2;
	}
	r->p = q + 1;
	if (!escaped) {
		*out = (const char *)start;
		*n = (size_t)(q - start);
		return 0;
	}
	size_t span = (size_t)(q - start); /* the unescaped text is shorter */
	if (*used + span + 1 > *cap) {
		size_t c = *cap ? *cap : 256;
		while (c < *used + span + 1)
			c *= 2;
		char *t = realloc(*buf, c);
		if (!t)
			return -1;
		*buf = t;
		*cap = c;
	}
	char *d = *buf + *used;
	size_t k = 0;
	for (const unsigned char *s = start; s < q; s++)
		d[k++] = (char)(*s == '\\' ? unescape[*++s] : *s);
	d[k] = '\0';
	*used += k + 1;
	*out = NULL;
	*n = k;
	return 0;
}

/* A string for a value of a tree: in the text, or unescaped into r->tmp. */
static int read_string(struct jsonread *r, const char **out, size_t *n)
{
	size_t used = 0;
	if (read_string_to(r, &r->tmp, &r->tmp_cap, &used, out, n) < 0)
		return -1;
	if (!*out)
		*out = r->tmp;
	return 0;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* A number at r->p: an integer in *i, or a real in *d (*real set). -1 when jansson must
 * decide. */
static int number_value(struct jsonread *r, bool *real_out, json_int_t *i, double *dv)
{
	const unsigned char *p = r->p, *start = p, *end = r->end;
	if (p < end && *p == '-')
		p++;
	if (p >= end)
		return -1;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < end && is_digit(*p))
			p++;
	} else {
		return -1;
	}
	bool real = false;
	if (p < end && *p == '.') {
		real = true;
		p++;
		if (p >= end || !is_digit(*p))
			return -1;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			return -1;
		while (p < end && is_digit(*p))
			p++;
	}
	size_t n = (size_t)(p - start);
	*real_out = real;
	if (!real) {
		/* Longer ones get jansson's range checks. */
		const unsigned char *d = start + (*start == '-');
		if ((size_t)(p - d) > MAX_DIGITS)
			return -1;
		json_int_t v = 0;
		for (; d < p; d++)
			v = v * 10 + (*d - '0');
		r->p = p;
		*i = *start == '-' ? -v : v;
		return 0;
	}
	/* jansson converts reals with strtod too; overflow is its error to report. */
	char buf[MAX_NUMBER + 1];
	if (n > MAX_NUMBER)
		return -1;
	memcpy(buf, start, n);
	buf[n] = '\0';
	errno = 0;
	char *e;
	double v = strtod(buf, &e);
	if (e != buf + n || !isfinite(v) || (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)))
		return -1;
	r->p = p;
	*dv = v;
	return 0;
}

static json_t *read_number(struct jsonread *r)
{
	bool real;
	json_int_t i;
	double d;
	if (number_value(r, &real, &i, &d) < 0)
		return NULL;
	return real ? json_real(d) : json_integer(i);
}

/* Past the opening bracket: true when close follows at once (consumed). */
static bool open_bracket(struct jsonread *r, unsigned char close)
{
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return true;
	}
	return false;
}

/* After a member or an element: 1 at close (consumed), 0 past a comma and the white space
 * after it, -1 at anything else. */
static int next_item(struct jsonread *r, unsigned char close)
{
	skip_ws(r);
	if (r->p >= r->end)
		return -1;
	if (*r->p == close) {
		r->p++;
		return 1;
	}
	if (*r->p != ',')
		return -1;
	r->p++;
	skip_ws(r);
	return 0;
}

static json_t *read_object(struct jsonread *r)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (open_bracket(r, '}'))
		return o;
	for (;;) {
		const char *k;
		size_t kn;
		if (r->p >= r->end || *r->p != '"' || read_string(r, &k, &kn) < 0)
			goto fail;
		/* An escaped key lives in tmp, which the value's strings reuse: copy it. */
		char kbuf[256], *key = (char *)k;
		if (k == r->tmp) {
			if (kn > sizeof(kbuf) && !(key = malloc(kn)))
				goto fail;
			if (kn <= sizeof(kbuf))
				key = kbuf;
			memcpy(key, k, kn);
		}
		skip_ws(r);
		json_t *v = NULL;
		if (r->p < r->end && *r->p == ':') {
			r->p++;
			skip_ws(r);
			v = read_value(r);
		}
		int bad = !v || json_object_setn_new_nocheck(o, key, kn, v);
		if (key != k && key != kbuf)
			free(key);
		if (bad)
			goto fail;
		int next = next_item(r, '}');
		if (next < 0)
			goto fail;
		if (next)
			return o;
	}
fail:
	json_decref(o);
	return NULL;
}

static json_t *read_array(struct jsonread *r)
{
	json_t *a = json_array();
	if (!a)
		return NULL;
	if (open_bracket(r, ']'))
		return a;
	for (;;) {
		int next;
		if (json_array_append_new(a, read_value(r)) || (next = next_item(r, ']')) < 0)
			goto fail;
		if (next)
			return a;
	}
fail:
	json_decref(a);
	return NULL;
}

static bool read_word(struct jsonread *r, const char *w, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return false;
	r->p += n;
	return true;
}

static json_t *read_value(struct jsonread *r)
{
	const char *str;
	size_t n;
	json_t *v = NULL;
	if (r->p >= r->end)
		return NULL;
	switch (*r->p) {
	case '{':
	case '[':
		if (r->depth >= MAX_DEPTH)
			return NULL;
		r->depth++;
		v = *r->p == '{' ? read_object(r) : read_array(r);
		r->depth--;
		return v;
	case '"':
		if (read_string(r, &str, &n) < 0)
			return NULL;
		return json_stringn_nocheck(str, n);
	case 't':
		return read_word(r, "true", 4) ? json_true() : NULL;
	case 'f':
		return read_word(r, "false", 5) ? json_false() : NULL;
	case 'n':
		return read_word(r, "null", 4) ? json_null() : NULL;
	default:
		return read_number(r);
	}
}

json_t *jsonread_document(const char *text, size_t n)
{
	struct jsonread r = {.p = (const unsigned char *)text,
			     .end = (const unsigned char *)text + n};
	json_t *v = NULL;
	skip_ws(&r);
	if (r.p < r.end && (*r.p == '{' || *r.p == '[')) {
		v = read_value(&r);
		skip_ws(&r);
		if (v && r.p != r.end) {
			json_decref(v);
			v = NULL;
		}
	}
	free(r.tmp);
	return v;
}

/* ---- a body event by event ---- */

enum { AT_START, IN_ARRAY, AFTER_ELEMENT, AT_END, UNSURE };

void jsonread_open(struct jsonread *r, const char *text, size_t n, bool array)
{
	*r = (struct jsonread){.p = (const unsigned char *)text,
			       .end = (const unsigned char *)text + n,
			       .array = array};
}

static void drop_members(struct jsonread *r)
{
	for (size_t i = 0; i < r->n; i++)
		json_decref(r->m[i].json);
	r->n = 0;
	r->esc_len = 0;
}

void jsonread_close(struct jsonread *r)
{
	drop_members(r);
	free(r->m);
	free(r->tmp);
	free(r->esc);
}

/* A member's value: a scalar by value, a nested object or array as a jansson value. */
static int member_value(struct jsonread *r, struct event_member *m, size_t *str_off)
{
	*str_off = SIZE_MAX;
	m->json = NULL;
	if (r->p >= r->end)
		return -1;
	switch (*r->p) {
	case '{':
	case '[':
		m->json = read_value(r);
		if (!m->json)
			return -1;
		m->type = json_typeof(m->json);
		return 0;
	case '"': {
		size_t at = r->esc_len;
		if (read_string_to(r, &r->esc, &r->esc_cap, &r->esc_len, &m->str, &m->len) < 0)
			return -1;
		if (!m->str)
			*str_off = at;
		m->type = JSON_STRING;
		return 0;
	}
	case 't':
		m->type = JSON_TRUE;
		return read_word(r, "true", 4) ? 0 : -1;
	case 'f':
		m->type = JSON_FALSE;
		return read_word(r, "false", 5) ? 0 : -1;
	case 'n':
		m->type = JSON_NULL;
		return read_word(r, "null", 4) ? 0 : -1;
	default: {
		bool real;
		if (number_value(r, &real, &m->integer, &m->real) < 0)
			return -1;
		m->type = real ? JSON_REAL : JSON_INTEGER;
		return 0;
	}
	}
}

/* The object at r->p into r->m. A repeated key keeps its first place and takes the last
 * value, as jansson's objects do. -1 when jansson must decide. */
static int read_members(struct jsonread *r)
{
	/* Offsets into r->esc of escaped keys and strings, made pointers once the object is
	 * read (r->esc may move as it grows). */
	size_t koff[64], soff[64];
	uint64_t seen = 0;
	drop_members(r);
	if (r->depth >= MAX_DEPTH)
		return -1;
	r->depth++;
	int rc = -1;
	if (open_bracket(r, '}')) {
		rc = 0;
		goto out;
	}
	for (;;) {
		struct event_member m = {0};
		size_t ko = SIZE_MAX, so;
		size_t at = r->esc_len;
		if (r->p >= r->end || *r->p != '"' ||
		    read_string_to(r, &r->esc, &r->esc_cap, &r->esc_len, &m.key, &m.key_len) < 0)
			goto out;
		if (!m.key)
			ko = at;
		skip_ws(r);
		if (r->p >= r->end || *r->p != ':')
			goto out;
		r->p++;
		skip_ws(r);
		if (member_value(r, &m, &so) < 0)
			goto out;
		/* the key's text, wherever it is; a repeated one is looked for only when a key
		 * of its length and ends came before */
		const char *kt = ko == SIZE_MAX ? m.key : r->esc + ko;
		uint64_t bit = m.key_len ? (uint64_t)1 << ((m.key_len * 7 + (unsigned char)kt[0] +
							    (unsigned char)kt[m.key_len - 1]) &
							   63)
					 : 1;
		size_t i = (seen & bit) ? 0 : r->n;
		seen |= bit;
		for (; i < r->n; i++) {
			const char *ki = koff[i] == SIZE_MAX ? r->m[i].key : r->esc + koff[i];
			if (r->m[i].key_len == m.key_len && !memcmp(ki, kt, m.key_len))
				break;
		}
		if (i < r->n) { /* a repeated key */
			json_decref(r->m[i].json);
			m.key = r->m[i].key;
			ko = koff[i];
		} else {
			if (r->n == sizeof(koff) / sizeof(koff[0])) {
				json_decref(m.json);
				goto out; /* a record of more fields than events have */
			}
			if (r->n == r->cap) {
				size_t c = r->cap ? 2 * r->cap : 16;
				struct event_member *nm = realloc(r->m, c * sizeof(*nm));
				if (!nm) {
					json_decref(m.json);
					goto out;
				}
				r->m = nm;
				r->cap = c;
			}
			r->n++;
		}
		r->m[i] = m;
		koff[i] = ko;
		soff[i] = so;
		int next = next_item(r, '}');
		if (next < 0)
			goto out;
		if (next)
			break;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (koff[i] != SIZE_MAX)
			r->m[i].key = r->esc + koff[i];
		if (soff[i] != SIZE_MAX)
			r->m[i].str = r->esc + soff[i];
	}
	rc = 0;
out:
	r->depth--;
	if (rc < 0)
		drop_members(r);
	return rc;
}

/* Only white space left: the document is over. */
static enum jsonread_item at_end(struct jsonread *r)
{
	skip_ws(r);
	r->state = r->p == r->end ? AT_END : UNSURE;
	return r->state == AT_END ? JSONREAD_END : JSONREAD_UNSURE;
}

enum jsonread_item jsonread_next(struct jsonread *r)
{
	drop_members(r);
	switch (r->state) {
	case AT_START:
		skip_ws(r);
		if (r->p < r->end && *r->p == '{') {
			/* one object: the whole document, checked to its end before it counts */
			if (read_members(r) < 0 || at_end(r) != JSONREAD_END) {
				drop_members(r);
				r->state = UNSURE;
				return JSONREAD_UNSURE;
			}
			return JSONREAD_OBJECT;
		}
		if (!r->array || r->p >= r->end || *r->p != '[') {
			r->state = UNSURE;
			return JSONREAD_UNSURE;
		}
		r->depth = 1;
		if (open_bracket(r, ']'))
			return at_end(r);
		r->state = IN_ARRAY;
		break;
	case AFTER_ELEMENT: {
		int next = next_item(r, ']');
		if (next < 0) {
			r->state = UNSURE;
			return JSONREAD_UNSURE;
		}
		if (next)
			return at_end(r);
		r->state = IN_ARRAY;
		break;
	}
	case AT_END:
		return JSONREAD_END;
	default:
		return JSONREAD_UNSURE;
	}
	/* an element of the array */
	r->state = AFTER_ELEMENT;
	if (r->p < r->end && *r->p == '{') {
		if (read_members(r) == 0)
			return JSONREAD_OBJECT;
	} else {
		json_t *v = read_value(r);
		if (v) {
			json_decref(v);
			return JSONREAD_OTHER;
		}
	}
	r->state = UNSURE;
	return JSONREAD_UNSURE;
}
