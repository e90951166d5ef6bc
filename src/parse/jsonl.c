/* jsonl.c — one line of a JSON-lines application log into an event: the aliases and data of
 * event_from_json (DESIGN §2), the whole line kept as raw_message. A fast JSON reader for
 * the usual lines, with jansson's own parser for anything it is not sure of. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "parse/jsonl.h"

static int fail(char *err, size_t errlen, int rc, const char *reason)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", reason);
	return rc;
}

#ifdef SIEM_TEST_SEAMS
bool jsonl_test_no_fast_path;
#else
#define jsonl_test_no_fast_path false
#endif

/* ---- the fast reader ----
 *
 * jansson's lexer reads a byte at a time through a stream callback and is most of the
 * cost of a tailed line. This reader builds the same jansson values for what application
 * logs usually hold: objects, arrays, numbers, literals, strings of valid UTF-8 with the
 * two-character escapes. On anything else (a \u escape, a number it cannot convert
 * exactly as jansson does, deep nesting, any syntax error) it gives up and the line goes
 * through json_loadb, so that what is accepted, and every error message, stay jansson's. */

#define FAST_MAX_DEPTH 32
#define FAST_MAX_NUMBER 64

struct fast {
	const char *p, *end;
	char *tmp; /* unescaped strings */
	size_t tmp_cap;
	int depth;
};

static json_t *fast_value(struct fast *s);

static void fast_ws(struct fast *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
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

/* The two-character escapes; \u is left to jansson. */
static const unsigned char unescape[0x80] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',	 ['r'] = '\r', ['t'] = '\t',
};

/* A string at s->p (its opening quote): *out and *n, unescaped into s->tmp when needed. */
static int fast_string(struct fast *s, const char **out, size_t *n)
{
	const unsigned char *start = (const unsigned char *)s->p + 1, *q = start;
	const unsigned char *end = (const unsigned char *)s->end;
	while (q < end && *q != '"' && *q != '\\' && *q >= 0x20 && *q < 0x80)
		q++;
	if (q < end && *q == '"') {
		*out = (const char *)start;
		*n = (size_t)(q - start);
		s->p = (const char *)q + 1;
		return 0;
	}
	/* Escapes or non-ASCII: decode into tmp (never longer than the input). */
	size_t cap = (size_t)(end - start);
	if (cap > s->tmp_cap) {
		char *t = realloc(s->tmp, cap);
		if (!t)
			return -1;
		s->tmp = t;
		s->tmp_cap = cap;
	}
	size_t k = (size_t)(q - start);
	memcpy(s->tmp, start, k);
	while (q < end && *q != '"') {
		unsigned char c = *q;
		if (c < 0x20)
			return -1;
		if (c >= 0x80) {
			size_t len = utf8_seq(q, end);
			if (!len)
				return -1;
			memcpy(s->tmp + k, q, len);
			k += len;
			q += len;
			continue;
		}
		if (c == '\\') {
			if (q + 1 >= end)
				return -1;
			c = q[1] < 0x80 ? unescape[q[1]] : 0;
			if (!c)
				return -1; /* \u (surrogates, NUL) is jansson's */
			q++;
		}
		s->tmp[k++] = (char)c;
		q++;
	}
	if (q >= end)
		return -1;
	*out = s->tmp;
	*n = k;
	s->p = (const char *)q + 1;
	return 0;
}

static json_t *fast_number(struct fast *s)
{
	const char *p = s->p, *start = p;
	if (p < s->end && *p == '-')
		p++;
	if (p >= s->end)
		return NULL;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return NULL;
	}
	bool real = false;
	if (p < s->end && *p == '.') {
		real = true;
		p++;
		if (p >= s->end || *p < '0' || *p > '9')
			return NULL;
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < s->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= s->end || *p < '0' || *p > '9')
			return NULL;
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	size_t n = (size_t)(p - start);
	if (!real) {
		/* Up to 18 digits cannot overflow; longer ones get jansson's range checks. */
		const char *d = start + (*start == '-');
		if ((size_t)(p - d) > 18)
			return NULL;
		json_int_t v = 0;
		for (; d < p; d++)
			v = v * 10 + (*d - '0');
		s->p = p;
		return json_integer(*start == '-' ? -v : v);
	}
	/* jansson converts reals with strtod too; overflow is its error to report. */
	char buf[FAST_MAX_NUMBER + 1];
	if (n > FAST_MAX_NUMBER)
		return NULL;
	memcpy(buf, start, n);
	buf[n] = '\0';
	errno = 0;
	char *e;
	double v = strtod(buf, &e);
	if (e != buf + n || !isfinite(v) || (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)))
		return NULL;
	s->p = p;
	return json_real(v);
}

/* Past the opening bracket: true when close follows at once (consumed). */
static bool fast_open(struct fast *s, char close)
{
	s->p++;
	fast_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return true;
	}
	return false;
}

/* After a member or an element: 1 at close (consumed), 0 past a comma and the white space
 * after it, -1 at anything else. */
static int fast_next(struct fast *s, char close)
{
	fast_ws(s);
	if (s->p >= s->end)
		return -1;
	if (*s->p == close) {
		s->p++;
		return 1;
	}
	if (*s->p != ',')
		return -1;
	s->p++;
	fast_ws(s);
	return 0;
}

static json_t *fast_object(struct fast *s)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (fast_open(s, '}'))
		return o;
	for (;;) {
		const char *k;
		size_t kn;
		if (s->p >= s->end || *s->p != '"' || fast_string(s, &k, &kn) < 0)
			goto fail;
		/* The key may live in tmp, which the value's strings reuse: copy it first. */
		char kbuf[256], *key = kbuf;
		if (kn >= sizeof(kbuf) && !(key = malloc(kn + 1)))
			goto fail;
		memcpy(key, k, kn);
		key[kn] = '\0';
		fast_ws(s);
		json_t *v = NULL;
		if (s->p < s->end && *s->p == ':') {
			s->p++;
			fast_ws(s);
			v = fast_value(s);
		}
		int bad = !v || json_object_setn_new_nocheck(o, key, kn, v);
		if (key != kbuf)
			free(key);
		if (bad)
			goto fail;
		int next = fast_next(s, '}');
		if (next < 0)
			goto fail;
		if (next)
			return o;
	}
fail:
	json_decref(o);
	return NULL;
}

static json_t *fast_array(struct fast *s)
{
	json_t *a = json_array();
	if (!a)
		return NULL;
	if (fast_open(s, ']'))
		return a;
	for (;;) {
		int next;
		if (json_array_append_new(a, fast_value(s)) || (next = fast_next(s, ']')) < 0)
			goto fail;
		if (next)
			return a;
	}
fail:
	json_decref(a);
	return NULL;
}

static bool fast_word(struct fast *s, const char *w, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	return true;
}

static json_t *fast_value(struct fast *s)
{
	const char *str;
	size_t n;
	json_t *v = NULL;
	if (s->p >= s->end)
		return NULL;
	switch (*s->p) {
	case '{':
	case '[':
		if (s->depth >= FAST_MAX_DEPTH)
			return NULL;
		s->depth++;
		v = *s->p == '{' ? fast_object(s) : fast_array(s);
		s->depth--;
		return v;
	case '"':
		if (fast_string(s, &str, &n) < 0)
			return NULL;
		return json_stringn_nocheck(str, n);
	case 't':
		return fast_word(s, "true", 4) ? json_true() : NULL;
	case 'f':
		return fast_word(s, "false", 5) ? json_false() : NULL;
	case 'n':
		return fast_word(s, "null", 4) ? json_null() : NULL;
	default:
		return fast_number(s);
	}
}

/* The object on the line, or NULL when jansson must decide. */
static json_t *fast_parse(const char *line, size_t n)
{
	struct fast s = {line, line + n, NULL, 0, 0};
	json_t *v = NULL;
	fast_ws(&s);
	if (s.p < s.end && *s.p == '{') {
		s.depth = 1;
		v = fast_object(&s);
		fast_ws(&s);
		if (v && s.p != s.end) {
			json_decref(v);
			v = NULL;
		}
	}
	free(s.tmp);
	return v;
}

/* A value that event_from_json counts as present: not null, not "". */
static bool has_value(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0);
}

int jsonl_line_to_event(const char *line, size_t n, int64_t now_us, struct event *ev,
			struct arena *a, char *err, size_t errlen)
{
	json_error_t jerr;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	memset(ev, 0, sizeof(*ev));
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	/* Editors on Windows start files with a byte order mark; it is not part of the JSON. */
	if (n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		n -= 3;
	}
	size_t sp = 0;
	while (sp < n && (line[sp] == ' ' || line[sp] == '\t' || line[sp] == '\r'))
		sp++;
	if (sp == n)
		return fail(err, errlen, SIEM_EPARSE, "empty line");

	json_t *obj = jsonl_test_no_fast_path ? NULL : fast_parse(line, n);
	if (!obj)
		obj = json_loadb(line, n, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	if (!obj) {
		if (err && errlen)
			snprintf(err, errlen, "malformed JSON at column %d: %s", jerr.column,
				 jerr.text);
		return SIEM_EPARSE;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		return fail(err, errlen, SIEM_ESCHEMA, "event: must be a JSON object");
	}
	/* The line itself is the raw message, so a line with neither event_type nor message is
	 * still an event: event_from_json then takes its message from the line. */
	if (!has_value(obj, "event_type") && !has_value(obj, "message") && !has_value(obj, "msg") &&
	    !has_value(obj, "raw_message") && !has_value(obj, "raw")) {
		/* The line parsed as JSON, so it is valid UTF-8. */
		if (json_object_set_new(obj, "raw_message", json_stringn_nocheck(line, n))) {
			json_decref(obj);
			return fail(err, errlen, -ENOMEM, "event: out of memory");
		}
	}
	rc = event_from_json(ev, obj, a, now_us, err, errlen);
	json_decref(obj);
	if (rc < 0)
		return rc;

	size_t k = utf8_cut(line, n, EV_CAP_RAW);
	char *raw = arena_strndup(a, line, k);
	if (!raw)
		return fail(err, errlen, -ENOMEM, "event: out of memory");
	ev->raw_message.p = raw;
	ev->raw_message.n = k;
	if (k < n)
		ev->flags |= EV_TRUNC_RAW;
	else
		ev->flags &= ~(unsigned)EV_TRUNC_RAW;
	return 0;
}
