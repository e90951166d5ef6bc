/* file.c — a file read whole into memory: sized by fstat when it is a regular file (one
 * allocation), else read in growing steps; never more than the caller's bound. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0 /* Windows (the agent): no exec to leak into */
#endif

int file_read_all(const char *path, size_t max, char **out, size_t *n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	size_t cap = 4096, len = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > max) {
			close(fd);
			return SIEM_ETOOBIG;
		}
		cap = (size_t)st.st_size + 1; /* room to see it grow past its size */
	}
	if (cap > max + 1)
		cap = max + 1;
	char *buf = malloc(cap + 1);
	int rc = buf ? 0 : -ENOMEM;
	while (rc == 0) {
		if (len == cap) {
			if (cap > max) {
				rc = SIEM_ETOOBIG;
				break;
			}
			size_t ncap = cap > max / 2 ? max + 1 : cap * 2;
			char *nb = realloc(buf, ncap + 1);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t k = read(fd, buf + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break; /* a read error ends the text where it happened */
		len += (size_t)k;
	}
	close(fd);
	if (rc == 0 && len > max)
		rc = SIEM_ETOOBIG;
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*out = buf;
	*n = len;
	return 0;
}
