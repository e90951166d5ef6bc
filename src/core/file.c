/* file.c — a small file read whole into memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/file.h"

int file_read_all(const char *path, size_t max, char **out, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char *buf = malloc(max + 1);
	size_t len = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf)
		return -ENOMEM;
	if (len > max) {
		free(buf);
		return SIEM_ETOOBIG;
	}
	buf[len] = '\0';
	*out = buf;
	*n = len;
	return 0;
}
