/* nofollow.c — a path below a folder opened one component at a time with O_NOFOLLOW, from a
 * descriptor of the folder: no symbolic link is followed on the way or at the end. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "source/nofollow.h"

/* The directory holding path, opened from the root one component at a time with
 * O_NOFOLLOW; *name is set to path's last component. A descriptor or a negative errno. */
static int open_parent(const char *root, size_t root_n, const char *path, const char **name)
{
	if (strncmp(path, root, root_n) != 0 || path[root_n] != '/')
		return -EXDEV;
	const char *p = path + root_n + 1;
	int dfd = open(root_n ? root : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > NAME_MAX ||
		    (p[0] == '.' && (n == 1 || (n == 2 && p[1] == '.')))) {
			close(dfd);
			return -EINVAL; /* never made by the walk: "//", "." or ".." */
		}
		if (!slash)
			break;
		char comp[NAME_MAX + 1];
		memcpy(comp, p, n);
		comp[n] = '\0';
		int fd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int err = errno;
		close(dfd);
		if (fd < 0)
			return -err;
		dfd = fd;
		p = slash + 1;
	}
	*name = p;
	return dfd;
}

int nofollow_open(const char *root, size_t root_n, const char *path, int flags)
{
	const char *name;
	int dfd = open_parent(root, root_n, path, &name);
	if (dfd < 0)
		return dfd;
	int fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
	int rc = fd < 0 ? -errno : fd;
	close(dfd);
	return rc;
}

int nofollow_lstat(const char *root, size_t root_n, const char *path, struct stat *st)
{
	const char *name;
	int dfd = open_parent(root, root_n, path, &name);
	if (dfd < 0)
		return dfd;
	int rc = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	close(dfd);
	return rc;
}
