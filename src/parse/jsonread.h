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

#include <jansson.h>

/* The object or array that is the whole of text[0..n) (white space around it allowed), as
 * json_loadb(text, n, JSON_ALLOW_NUL, ...) would return it; NULL when the reader is not
 * sure (then only json_loadb can say what the text is). Never reads outside the text. */
json_t *jsonread_document(const char *text, size_t n);

#endif
