/* cmd.h — the hub's commands (the table in main.c runs them) and what they share: --help,
 * the usage exit status, and opening the store. */
#ifndef SIEM_HUB_CMD_H
#define SIEM_HUB_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

#ifndef SIEM_VERSION
#define SIEM_VERSION "dev"
#endif

#define EXIT_USAGE 2

/* argv[0] is the first argument after the command's name; each returns the exit status. */
int cmd_serve(int argc, char **argv);	      /* serve.c */
int cmd_backup(int argc, char **argv);	      /* cmd_admin.c */
int cmd_hash_password(int argc, char **argv); /* cmd_admin.c */
int cmd_keys(int argc, char **argv);	      /* cmd_admin.c */
int cmd_users(int argc, char **argv);	      /* cmd_admin.c */
int cmd_migrate(int argc, char **argv);	      /* cmd_migrate.c */

/* Is --help or -h among the arguments? */
int cmd_wants_help(int argc, char **argv);
/* The arguments in order: --help or -h prints usage on stdout and gives 0; an unknown
 * short option ("-x") gives "minisiem NAME: unknown option", usage on stderr and
 * EXIT_USAGE; -1 when there is neither. */
int cmd_help_or_bad_option(const char *name, int argc, char **argv, void (*usage)(FILE *out));
/* Create the missing folders of the store's path, private (0700 whatever the umask). *made,
 * when not NULL, is set to the length of the first folder created (a prefix of the path):
 * that one and those below it are the hub's own; 0 when every folder existed. */
int cmd_mkdir_parent(const char *path, size_t *made);
/* Store settings of `serve` (0: the defaults). */
struct cmd_store_tuning {
	int64_t segment_rows;
	int cache_mb;
	int retention_days;
	int index_cache_mb; /* the SQLite store's: see struct store_config */
	size_t pending_bytes;
	int64_t sqlite_heap;
};
/* Open the store: PostgreSQL when postgres is set (not NULL or empty), else the SQLite file at
 * path, its folders created first. t may be NULL; state_only: the settings tables, not the
 * events. */
int cmd_open_store(const char *path, const char *postgres, struct store **s,
		   const struct cmd_store_tuning *t, bool state_only);
/* What to call the store in a message (never the connection string: it may hold secrets). */
const char *cmd_store_name(const char *path, const char *postgres);

/* The --postgres option of every command that opens the store. */
#define CMD_OPT_POSTGRES                                                                    \
	{                                                                                   \
		"postgres", "SIEM_POSTGRES_URL", OPT_URL, NULL, "URL",                      \
		    "PostgreSQL store instead of the SQLite file (libpq URL or connection " \
		    "string; password "                                                     \
		    "from PGPASSFILE or PGPASSWORD)",                                       \
		    false, 0, 0                                                             \
	}

#endif
