/* strbuf.c — bounded growable buffer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

void strbuf_init(struct strbuf *b, size_t max)
{
	b->p = NULL;
	b->n = b->cap = 0;
	b->max = max;
}

void strbuf_release(struct strbuf *b)
{
	free(b->p);
	strbuf_init(b, b->max);
}

static int grow(struct strbuf *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	if (need > b->max + 1)
		return -E2BIG;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	char *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int strbuf_add(struct strbuf *b, const void *p, size_t n)
{
	if (n > b->max - b->n)
		return -E2BIG;
	int rc = grow(b, b->n + n + 1);
	if (rc < 0)
		return rc;
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

int strbuf_addf(struct strbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (m < 0)
		return -EINVAL;
	if ((size_t)m < sizeof(tmp))
		return strbuf_add(b, tmp, (size_t)m);
	int rc = grow(b, b->n + (size_t)m + 1);
	if (rc < 0)
		return rc;
	if ((size_t)m > b->max - b->n)
		return -E2BIG;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)m + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)m;
	return 0;
}

char *strbuf_detach(struct strbuf *b, size_t *n)
{
	char *p = b->p;
	if (n)
		*n = b->n;
	strbuf_init(b, b->max);
	return p;
}
