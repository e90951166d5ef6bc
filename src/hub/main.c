/* main.c — the minisiem command: the table of commands (name, function, usage line, help),
 * the usage text printed from it, and the dispatch. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "core/jsonalloc.h"
#include "http/static.h"
#include "hub/cmd.h"
#include "hub/logtest.h"
#include "hub/rulestest.h"

struct command {
	const char *name; /* argv[1] */
	int (*run)(int argc, char **argv);
	const char *args; /* after the name in its usage line; NULL: an alias, not listed */
	const char *help;
};

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

/* A command with several forms has a row per form, all running the same function. */
static const struct command commands[] = {
    {"serve", cmd_serve, "", "run the hub (see 'minisiem serve --help')"},
    {"hash-password", cmd_hash_password, "",
     "read a password, print a hash for SIEM_ADMIN_PASSWORD_HASH"},
    {"keys", cmd_keys, "create NAME", "create an agent API key (printed once, stored hashed)"},
    {"keys", cmd_keys, "list [--json]", "list agent API keys (a table, or JSON)"},
    {"keys", cmd_keys, "revoke ID", "revoke an agent API key"},
    {"users", cmd_users, "add NAME --role R", "add a user (admin or analyst); password from stdin"},
    {"users", cmd_users, "list [--json]", "list users, the built-in admin first"},
    {"users", cmd_users, "passwd NAME", "set a user's password (from stdin); also 'admin'"},
    {"users", cmd_users, "remove NAME", "remove a user"},
    {"backup", cmd_backup, "DEST", "consistent copy of the store while the hub runs"},
    {"migrate", cmd_migrate, "--from DB --to URL", "copy a SQLite store into PostgreSQL"},
    {"logtest", cmd_logtest, "[FILE]", "raw log lines in, normalized events (NDJSON) out"},
    {"rules", cmd_rules, "test RULE.yml [EV]",
     "which events a Sigma rule matches, which alerts it raises"},
    {"rules", cmd_rules, "check DIR...",
     "which rules of folders of Sigma rules are accepted, refused, never fire"},
    {"version", cmd_version, "", "print the version"},
    {"--version", cmd_version, NULL, NULL},
    {"help", cmd_help, NULL, NULL},
    {"--help", cmd_help, NULL, NULL},
    {"-h", cmd_help, NULL, NULL},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: minisiem COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct command *c = &commands[i];
		char line[64];
		if (!c->args)
			continue;
		snprintf(line, sizeof(line), "%s%s%s", c->name, *c->args ? " " : "", c->args);
		fprintf(out, "  %-26s %s\n", line, c->help);
	}
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("minisiem %s\n", SIEM_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
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
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 2, argv + 2);
	fprintf(stderr, "minisiem: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
