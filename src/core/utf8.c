/* utf8.c — text made valid UTF-8. */
#include <string.h>

#include "core/utf8.h"

size_t utf8_copy_repair(char *dst, const unsigned char *s, size_t n, bool keep_nul)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t l = s[i] || keep_nul ? utf8_seq_len(s, i, n) : 0;
		if (l) {
			memcpy(dst + o, s + i, l);
			o += l;
			i += l;
		} else {
			memcpy(dst + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	dst[o] = '\0';
	return o;
}
