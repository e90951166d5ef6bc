/* strbuf.h — a growable byte buffer with a hard cap set at init (curl's dynbuf). */
#ifndef SIEM_STRBUF_H
#define SIEM_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *p;
	size_t n, cap, max;
};

void strbuf_init(struct strbuf *b, size_t max);
void strbuf_release(struct strbuf *b);
/* Append; -E2BIG past max, -ENOMEM when out of memory. The text stays NUL-terminated. */
int strbuf_add(struct strbuf *b, const void *p, size_t n);
int strbuf_addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the buffer over (caller frees) and reset b. */
char *strbuf_detach(struct strbuf *b, size_t *n);

#endif
