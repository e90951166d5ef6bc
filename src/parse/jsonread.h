/* jsonread.h — the JSON reader of the ingest path (POST /ingest bodies and NDJSON lines,
 * forwarders' records, tailed JSON lines). It reads what events usually hold (objects,
 * arrays, numbers, literals, strings of valid UTF-8 with the two-character escapes) a
 * block of bytes at a time, without jansson's stream callbacks, and builds the values
 * jansson would. It never decides that a text is bad: on anything it is not sure of (a \u
 * escape, a number it cannot convert exactly as jansson does, deep nesting, any syntax
 * error) it gives up and the caller hands the same text to json_loadb, so what is accepted,
 * and every error message, stay jansson's. */
#ifndef SIEM_JSONREAD_H
#define SIEM_JSONREAD_H

#include <stddef.h>

#include <stdbool.h>

#include <jansson.h>

#include "core/event.h"

/* The object or array that is the whole of text[0..n) (white space around it allowed), as
 * json_loadb(text, n, JSON_ALLOW_NUL, ...) would return it; NULL when the reader is not
 * sure (then only json_loadb can say what the text is). Never reads outside the text. */
json_t *jsonread_document(const char *text, size_t n);

/* Reading a request body event by event: each object's members (core/event.h) without a
 * tree, only a value nested in one (an object, an array) built as a jansson value. */
enum jsonread_item {
	JSONREAD_END,	 /* the document is over, nothing but white space after it */
	JSONREAD_OBJECT, /* an object: its members are r->m[0..r->n) */
	JSONREAD_OTHER,	 /* an array element that is no object (read and dropped) */
	JSONREAD_UNSURE, /* only json_loadb can say what the text is */
};

struct jsonread {
	struct event_member *m; /* the object's members, valid until the next call */
	size_t n;
	/* private */
	const unsigned char *p, *end;
	char *tmp, *esc; /* unescaped strings: of nested values, of the object's members */
	size_t tmp_cap, esc_len, esc_cap, cap;
	int depth, state;
	bool array;
};

/* A reader over text[0..n): array true for a request body (one object or an array of
 * elements), false for an NDJSON line (one object). */
void jsonread_open(struct jsonread *r, const char *text, size_t n, bool array);
/* The next item. Once JSONREAD_END or JSONREAD_UNSURE is returned, it is returned again. */
enum jsonread_item jsonread_next(struct jsonread *r);
void jsonread_close(struct jsonread *r);

#endif
