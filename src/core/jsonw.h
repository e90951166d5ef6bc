/* jsonw.h — JSON text written by hand into a buffer sized in advance, for the hot parse
 * paths that build an event's data without a jansson tree. One string escaper for all. */
#ifndef SIEM_JSONW_H
#define SIEM_JSONW_H

#include <stddef.h>

/* Worst case of json_escape: every input byte becomes a six-byte escape. */
#define JSON_ESCAPE_MAX(n) (6 * (n))

/* The body of a JSON string for s[0..n) (no quotes): '"' '\' and control characters
 * escaped, NUL and bytes that are not UTF-8 written as U+FFFD. out holds
 * JSON_ESCAPE_MAX(n) bytes. Returns the bytes written. */
size_t json_escape(char *out, const char *s, size_t n);

/* A buffer the caller sized for everything it will put. */
struct jsonw {
	char *p;
	size_t n;
};

void jsonw_raw(struct jsonw *b, const char *s, size_t n);
/* A quoted, escaped string. */
void jsonw_str(struct jsonw *b, const char *s, size_t n);

#endif
