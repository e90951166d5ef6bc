/* plat.h — the few operating-system services the agent core needs (files made durable,
 * directory listings, clocks, randomness), one API over plat_posix.c and plat_win.c (plat.c
 * holds what is the same on both). */
#ifndef SIEM_AGENT_PLAT_H
#define SIEM_AGENT_PLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#define PLAT_SEP "\\"
#else
#define PLAT_SEP "/"
#endif

/* Milliseconds of a monotonic clock. */
int64_t plat_mono_ms(void);
/* Sleep up to ms, returning early when plat_wake() is called (a signal or the service stop). */
void plat_sleep_ms(int64_t ms);
void plat_wake(void);
/* Fill p with unpredictable bytes (backoff jitter). */
void plat_random(void *p, size_t n);
/* This machine's name, for source_host. */
const char *plat_hostname(void);

/* Create dir and its parents (mode 0700 on POSIX). */
int plat_mkdirs(const char *dir);
/* Create dir (its parent exists); 0 when it exists already. */
int plat_mkdir(const char *dir);
/* Replace path with n bytes, durably: write a temporary file beside it, flush it to disk,
 * rename it over path, flush the directory. A crash leaves the old or the new content. */
int plat_write_atomic(const char *path, const void *p, size_t n);
/* Write a new file durably under a temporary name, then rename it to path (which must not
 * exist). tmp is the temporary name to use. */
int plat_write_new(const char *tmp, const char *path, const void *p, size_t n);
/* The whole file, at most max bytes (-E2BIG past it); NUL-terminated; caller frees. */
int plat_read_file(const char *path, size_t max, char **out, size_t *n);
int plat_file_size(const char *path, int64_t *size);
int plat_unlink(const char *path);
int plat_rename(const char *from, const char *to);
/* Call cb for each entry name of dir (no "." or ".."); stops when cb returns non-zero and
 * returns that. */
int plat_list(const char *dir, int (*cb)(void *ctx, const char *name), void *ctx);

#endif
