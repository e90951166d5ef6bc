/* main.c — the minisiem command: serve (the hub), hash-password, keys. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "core/jsonalloc.h"
#include "http/static.h"
#include "hub/cmd.h"
#include "hub/logtest.h"
#include "hub/rulestest.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: minisiem COMMAND [OPTIONS]\n\n"
		"commands:\n"
		"  serve                      run the hub (see 'minisiem serve --help')\n"
		"  hash-password              read a password, print a hash for SIEM_ADMIN_PASSWORD_HASH\n"
		"  keys create NAME           create an agent API key (printed once, stored hashed)\n"
		"  keys list                  list agent API keys\n"
		"  keys revoke ID             revoke an agent API key\n"
		"  users add NAME --role R    add a user (admin or analyst); password from stdin\n"
		"  users list                 list users\n"
		"  users passwd NAME          set a user's password (from stdin)\n"
		"  users remove NAME          remove a user\n"
		"  backup DEST                consistent copy of the store while the hub runs\n"
		"  logtest [FILE]             raw log lines in, normalized events (NDJSON) out\n"
		"  rules test RULE.yml [EV]   which events a Sigma rule matches, which alerts it raises\n"
		"  version                    print the version\n");
}

int main(int argc, char **argv)
{
	/* Large tables (id sets, postings, request bodies) come and go with segments and
	 * requests: give them their own mappings, returned to the system when freed, instead of
	 * a heap that only grows. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 2);
	jsonalloc_install();
	/* The dashboard's files: linked into this binary only, not into the unit tests. */
	http_static_init(web_assets, web_nassets);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	if (strcmp(cmd, "hash-password") == 0)
		return cmd_hash_password(argc - 2, argv + 2);
	if (strcmp(cmd, "keys") == 0)
		return cmd_keys(argc - 2, argv + 2);
	if (strcmp(cmd, "users") == 0)
		return cmd_users(argc - 2, argv + 2);
	if (strcmp(cmd, "backup") == 0)
		return cmd_backup(argc - 2, argv + 2);
	if (strcmp(cmd, "logtest") == 0)
		return cmd_logtest(argc - 2, argv + 2);
	if (strcmp(cmd, "rules") == 0)
		return cmd_rules(argc - 2, argv + 2);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("minisiem %s\n", SIEM_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "minisiem: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
