/* nofollow.h — paths under a folder opened from the folder down without following any
 * symbolic link, so that a link in it (to a file or a folder, or put in place of one at
 * any moment) never leads out of it: the hub's tailer and the agent's file sources. */
#ifndef SIEM_SOURCE_NOFOLLOW_H
#define SIEM_SOURCE_NOFOLLOW_H

#include <stddef.h>
#include <sys/stat.h>

/* root is the folder (root_n its length; 0 for "/"), path a path below it ("root/a/b").
 * Both return a negative errno: -ELOOP when a link is on the way, -EXDEV when path is not
 * under root. nofollow_open adds O_NOFOLLOW and O_CLOEXEC to flags and returns the fd. */
int nofollow_open(const char *root, size_t root_n, const char *path, int flags);
int nofollow_lstat(const char *root, size_t root_n, const char *path, struct stat *st);

#endif
