/* plat.c — the parts of plat.h that are the same on every system, over the primitives of
 * plat_posix.c and plat_win.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "agent/plat.h"

/* Where a path splits into folders: '/' on POSIX; '\\' or '/' on Windows, not after a
 * drive letter ("C:\\"). */
static bool folder_end(const char *p)
{
#ifdef _WIN32
	return (*p == '\\' || *p == '/') && p[-1] != ':';
#else
	return *p == '/';
#endif
}

int plat_mkdirs(const char *dir)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%s", dir), rc;
	if (n <= 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (!folder_end(p))
			continue;
		char c = *p;
		*p = '\0';
		if ((rc = plat_mkdir(buf)) < 0)
			return rc;
		*p = c;
	}
	return plat_mkdir(buf);
}

int plat_write_atomic(const char *path, const void *p, size_t n)
{
	char tmp[4200];
	int k = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (k <= 0 || (size_t)k >= sizeof(tmp))
		return -ENAMETOOLONG;
	return plat_write_new(tmp, path, p, n);
}
