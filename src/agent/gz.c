/* gz.c — one-shot gzip of a batch body with zlib (level 6: the batches are small and the CPU
 * of a Raspberry Pi matters more than a few bytes). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <zlib.h>

#include "agent/gz.h"

int gz_compress(const char *in, size_t n, char **out, size_t *out_n)
{
	z_stream z = {0};
	*out = NULL;
	*out_n = 0;
	if (n > (1u << 30))
		return -E2BIG;
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	size_t cap = deflateBound(&z, (uLong)n);
	char *buf = malloc(cap);
	if (!buf) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	size_t len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*out_n = len;
	return 0;
}
