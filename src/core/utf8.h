/* utf8.h — which bytes are valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * past U+10FFFF). */
#ifndef SIEM_UTF8_H
#define SIEM_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s[i] (s has n bytes), or 0 when the byte starts
 * none. A NUL is a valid one-byte sequence. */
static inline size_t utf8_seq_len(const unsigned char *s, size_t i, size_t n)
{
	unsigned char c = s[i];
	if (c < 0x80)
		return 1;
	size_t len = c >= 0xc2 && c <= 0xdf   ? 2
		     : c >= 0xe0 && c <= 0xef ? 3
		     : c >= 0xf0 && c <= 0xf4 ? 4
					      : 0;
	if (!len || i + len > n)
		return 0;
	for (size_t k = 1; k < len; k++)
		if ((s[i + k] & 0xc0) != 0x80)
			return 0;
	if (len == 3 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f)))
		return 0;
	if (len == 4 && ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f)))
		return 0;
	return len;
}

/* s[0..n) into dst, each byte that starts no valid sequence (and each NUL unless keep_nul)
 * replaced by U+FFFD; dst has room for what that takes (3 * n is always enough) and a NUL
 * after it. Returns the length written. */
size_t utf8_copy_repair(char *dst, const unsigned char *s, size_t n, bool keep_nul);

#endif
