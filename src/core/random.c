/* random.c — kernel randomness through getrandom(). */
#include <errno.h>
#include <sys/random.h>

#include "core/random.h"

int random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	/* getrandom() may return fewer bytes than asked (over 256) or be interrupted. */
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}
