/* jsonw.c — the one JSON string escaper, and a bounded writer for hand-built JSON. */
#include <stdbool.h>
#include <string.h>

#include "jsonw.h"

size_t json_escape(char *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c == 0) {
			/* As logline does: a NUL would cut the value in C consumers. */
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
			continue;
		}
		if (c < 0x80) {
			*o++ = '\\';
			switch (c) {
			case '"':
				*o++ = '"';
				break;
			case '\\':
				*o++ = '\\';
				break;
			case '\n':
				*o++ = 'n';
				break;
			case '\r':
				*o++ = 'r';
				break;
			case '\t':
				*o++ = 't';
				break;
			default:
				*o++ = 'u';
				*o++ = '0';
				*o++ = '0';
				*o++ = hex[c >> 4];
				*o++ = hex[c & 15];
			}
			i++;
			continue;
		}
		size_t len = c >= 0xc2 && c <= 0xdf   ? 2
			     : c >= 0xe0 && c <= 0xef ? 3
			     : c >= 0xf0 && c <= 0xf4 ? 4
						      : 0;
		bool ok = len && i + len <= n;
		for (size_t k = 1; ok && k < len; k++)
			ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
		if (ok && len == 3)
			ok = !(c == 0xe0 && (unsigned char)s[i + 1] < 0xa0) &&
			     !(c == 0xed && (unsigned char)s[i + 1] > 0x9f);
		if (ok && len == 4)
			ok = !(c == 0xf0 && (unsigned char)s[i + 1] < 0x90) &&
			     !(c == 0xf4 && (unsigned char)s[i + 1] > 0x8f);
		if (!ok) {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
			continue;
		}
		memcpy(o, s + i, len);
		o += len;
		i += len;
	}
	return (size_t)(o - out);
}

void jsonw_raw(struct jsonw *b, const char *s, size_t n)
{
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

void jsonw_str(struct jsonw *b, const char *s, size_t n)
{
	b->p[b->n++] = '"';
	b->n += json_escape(b->p + b->n, s, n);
	b->p[b->n++] = '"';
}
