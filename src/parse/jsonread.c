/* jsonread.c — the ingest path's JSON reader (jsonread.h): strings scanned eight bytes at a
 * time, values built with jansson's constructors (in the caller's scratch region when it
 * has one, core/jsonalloc.h), nothing decided that jansson would decide otherwise. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse/jsonread.h"

#define MAX_DEPTH 32  /* deeper documents are jansson's (its limit is 2048) */
#define MAX_NUMBER 64 /* longer reals are jansson's */
#define MAX_DIGITS 18 /* an integer of up to 18 digits cannot overflow json_int_t */

struct reader {
	const unsigned char *p, *end;
	char *tmp; /* unescaped strings */
	size_t tmp_cap;
	int depth;
};

static json_t *read_value(struct reader *r);

static void skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

/* Length of the valid UTF-8 sequence at p (2..4 bytes), 0 if invalid: no overlong forms,
 * no surrogates, nothing above U+10FFFF (jansson's rules). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned v;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return n;
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

/* A string at r->p (its opening quote): *out and *n point into the text, or into r->tmp
 * when it has escapes. -1 when jansson must decide. */
static int read_string(struct reader *r, const char **out, size_t *n)
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
			size_t len = utf8_seq(q, end);
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
	if (span > r->tmp_cap) {
		char *t = realloc(r->tmp, span);
		if (!t)
			return -1;
		r->tmp = t;
		r->tmp_cap = span;
	}
	size_t k = 0;
	for (const unsigned char *s = start; s < q; s++)
		r->tmp[k++] = (char)(*s == '\\' ? unescape[*++s] : *s);
	*out = r->tmp;
	*n = k;
	return 0;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static json_t *read_number(struct reader *r)
{
	const unsigned char *p = r->p, *start = p, *end = r->end;
	if (p < end && *p == '-')
		p++;
	if (p >= end)
		return NULL;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < end && is_digit(*p))
			p++;
	} else {
		return NULL;
	}
	bool real = false;
	if (p < end && *p == '.') {
		real = true;
		p++;
		if (p >= end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			return NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	size_t n = (size_t)(p - start);
	if (!real) {
		/* Longer ones get jansson's range checks. */
		const unsigned char *d = start + (*start == '-');
		if ((size_t)(p - d) > MAX_DIGITS)
			return NULL;
		json_int_t v = 0;
		for (; d < p; d++)
			v = v * 10 + (*d - '0');
		r->p = p;
		return json_integer(*start == '-' ? -v : v);
	}
	/* jansson converts reals with strtod too; overflow is its error to report. */
	char buf[MAX_NUMBER + 1];
	if (n > MAX_NUMBER)
		return NULL;
	memcpy(buf, start, n);
	buf[n] = '\0';
	errno = 0;
	char *e;
	double v = strtod(buf, &e);
	if (e != buf + n || !isfinite(v) || (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)))
		return NULL;
	r->p = p;
	return json_real(v);
}

/* Past the opening bracket: true when close follows at once (consumed). */
static bool open_bracket(struct reader *r, unsigned char close)
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
static int next_item(struct reader *r, unsigned char close)
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

static json_t *read_object(struct reader *r)
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

static json_t *read_array(struct reader *r)
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

static bool read_word(struct reader *r, const char *w, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return false;
	r->p += n;
	return true;
}

static json_t *read_value(struct reader *r)
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
	struct reader r = {(const unsigned char *)text, (const unsigned char *)text + n, NULL, 0,
			   0};
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
