/* plat_posix.c — plat.h on Linux and other POSIX systems: fsync'd writes and renames, a
 * self-pipe that lets a signal cut a sleep short. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/plat.h"
#include "core/random.h"

static int wake_pipe[2] = {-1, -1};

int64_t plat_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake_init(void)
{
	if (wake_pipe[0] >= 0)
		return;
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		wake_pipe[0] = wake_pipe[1] = -1;
}

void plat_sleep_ms(int64_t ms)
{
	wake_init();
	if (ms <= 0)
		return;
	struct pollfd p = {.fd = wake_pipe[0], .events = POLLIN};
	int rc = poll(&p, wake_pipe[0] >= 0 ? 1 : 0, (int)(ms > 60000 ? 60000 : ms));
	if (rc > 0) {
		char buf[64];
		while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
			;
	}
}

/* Async-signal-safe. */
void plat_wake(void)
{
	if (wake_pipe[1] >= 0) {
		int e = errno;
		ssize_t r = write(wake_pipe[1], "w", 1);
		(void)r;
		errno = e;
	}
}

void plat_random(void *p, size_t n)
{
	unsigned char *b = p;
	if (random_bytes(p, n) < 0)
		for (size_t i = 0; i < n; i++) /* never happens on Linux >= 3.17 */
			b[i] = (unsigned char)(plat_mono_ms() * 2654435761u >> (i % 24));
}

const char *plat_hostname(void)
{
	static char name[256];
	if (!name[0] && (gethostname(name, sizeof(name) - 1) < 0 || !name[0]))
		snprintf(name, sizeof(name), "unknown");
	return name;
}

int plat_mkdir(const char *dir)
{
	return mkdir(dir, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

static int fsync_dir_of(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int n =
	    slash ? snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + (slash == path)), path)
		  : snprintf(dir, sizeof(dir), ".");
	if (n <= 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 && errno != EINVAL ? -errno : 0;
	close(fd);
	return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_tmp(const char *tmp, const void *p, size_t n)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = write_all(fd, p, n);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int plat_write_new(const char *tmp, const char *path, const void *p, size_t n)
{
	int rc = write_tmp(tmp, p, n);
	if (rc < 0)
		return rc;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return fsync_dir_of(path);
}

int plat_read_file(const char *path, size_t max, char **out, size_t *n)
{
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	size_t have = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	*out = NULL;
	*n = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = -E2BIG;
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	while (have < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + have, (size_t)st.st_size - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	buf[have] = '\0';
	*out = buf;
	*n = have;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int plat_file_size(const char *path, int64_t *size)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	*size = (int64_t)st.st_size;
	return 0;
}

int plat_unlink(const char *path)
{
	return unlink(path) < 0 ? -errno : 0;
}

int plat_rename(const char *from, const char *to)
{
	if (rename(from, to) < 0)
		return -errno;
	return fsync_dir_of(to);
}

int plat_list(const char *dir, int (*cb)(void *ctx, const char *name), void *ctx)
{
	DIR *d = opendir(dir);
	int rc = 0;
	if (!d)
		return -errno;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		rc = cb(ctx, e->d_name);
	}
	closedir(d);
	return rc;
}
