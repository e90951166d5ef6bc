/* cmd.c — what the hub's commands share: --help, and opening the store with its folders. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hub/cmd.h"

int cmd_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int cmd_help_or_bad_option(const char *name, int argc, char **argv, void (*usage)(FILE *out))
{
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (argv[i][0] == '-' && argv[i][1] && argv[i][1] != '-') {
			fprintf(stderr, "minisiem %s: unknown option '%s'\n", name, argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	return -1;
}

int cmd_mkdir_parent(const char *path, size_t *made)
{
	char dir[4096];
	if (made)
		*made = 0;
	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return -ENAMETOOLONG;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(dir, 0700) == 0) {
			if (made && !*made)
				*made = (size_t)(p - dir);
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (!c)
			return 0;
		*p = c;
	}
}

int cmd_open_store(const char *path, const char *postgres, struct store **s,
		   const struct cmd_store_tuning *t, bool state_only)
{
	struct store_config sc;
	store_config_defaults(&sc);
	sc.dir = path;
	sc.postgres = postgres && *postgres ? postgres : NULL;
	sc.state_only = state_only;
	if (t && t->segment_rows)
		sc.segment_rows = t->segment_rows;
	if (t && t->cache_mb)
		sc.cache_mb = t->cache_mb;
	if (t && t->index_cache_mb)
		sc.index_cache_mb = t->index_cache_mb;
	if (t && t->pending_bytes)
		sc.pending_bytes = t->pending_bytes;
	if (t)
		sc.sqlite_heap = t->sqlite_heap;
	if (t)
		sc.retention_days = t->retention_days;
	if (!sc.postgres) {
		int rc = cmd_mkdir_parent(path, NULL);
		if (rc < 0) {
			fprintf(stderr, "minisiem: cannot create the directory of '%s': %s\n", path,
				strerror(-rc));
			return rc;
		}
	}
	return store_open(s, &sc);
}

const char *cmd_store_name(const char *path, const char *postgres)
{
	return postgres && *postgres ? "PostgreSQL (--postgres)" : path;
}
