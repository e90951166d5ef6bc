/* cmd_admin.c — the commands that look after a store while the hub runs or not: backup,
 * hash-password, keys (agent API keys) and users (dashboard logins). */
#include <errno.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "api/tokens.h"
#include "auth/auth.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "hub/cmd.h"
#include "store/store.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct opt_def db_opts[] = {
    {"db", "SIEM_DB_PATH", OPT_STRING, "var/minisiem.db", "PATH", "SQLite store file", false, 0, 0},
    CMD_OPT_POSTGRES,
};

static const struct opt_def key_opts[] = {
    {"db", "SIEM_DB_PATH", OPT_STRING, "var/minisiem.db", "PATH", "SQLite store file", false, 0, 0},
    CMD_OPT_POSTGRES,
    {"json", NULL, OPT_FLAG, NULL, NULL, "list: a JSON array instead of a table", false, 0, 0},
};

static const struct opt_def user_opts[] = {
    {"db", "SIEM_DB_PATH", OPT_STRING, "var/minisiem.db", "PATH", "SQLite store file", false, 0, 0},
    CMD_OPT_POSTGRES,
    {"role", NULL, OPT_STRING, "analyst", "ROLE", "admin or analyst (users add)", false, 0, 0},
    {"json", NULL, OPT_FLAG, NULL, NULL, "list: a JSON array instead of a table", false, 0, 0},
};

/* A command that works on the store's settings (keys, users): its usage, its options, a
 * check of its words that says what is wrong (0, or EXIT_USAGE), and its verb, run on the
 * store with up to three words (the exit status). */
struct store_cmd {
	const char *name, *usage;
	const struct opt_def *opts;
	size_t nopts;
	int (*check)(const struct config *c, const char **pos, size_t npos);
	int (*run)(struct store *s, const struct config *c, const char **pos);
};

/* Parse options and words, check them, open the store state-only and run the verb. */
static int store_cmd_main(const struct store_cmd *sc, int argc, char **argv)
{
	struct config c;
	const char *pos[3];
	size_t npos = 0;
	struct store *s = NULL;
	int code;
	if (cmd_wants_help(argc, argv) || argc == 0) {
		fputs(sc->usage, stdout);
		config_usage(sc->opts, sc->nopts, stdout);
		return argc == 0 ? EXIT_USAGE : 0;
	}
	if (config_init(&c, sc->opts, sc->nopts) < 0)
		return 1;
	if (config_parse(&c, argc, argv, pos, 3, &npos) < 0) {
		fprintf(stderr, "minisiem %s: %s\n", sc->name, c.err);
		code = EXIT_USAGE;
		goto out;
	}
	if ((code = sc->check(&c, pos, npos)) != 0)
		goto out;
	log_set_level(LOG_LVL_WARN);
	const struct cmd_store_tuning tune = {.cache_mb = 8};
	const char *db = config_str(&c, "db"), *pg = config_str(&c, "postgres");
	if (cmd_open_store(db, pg, &s, &tune, true) < 0) {
		fprintf(stderr, "minisiem %s: cannot open store '%s'\n", sc->name,
			cmd_store_name(db, pg));
		code = 1;
		goto out;
	}
	code = sc->run(s, &c, pos);
out:
	store_close(s);
	config_release(&c);
	return code;
}

/* A PostgreSQL store is copied by pg_dump (directory format, two jobs), which takes a
 * consistent snapshot while hubs keep writing; pg_restore puts it back. */
static int backup_postgres(const char *url, const char *dest)
{
	if (url_has_password(url)) {
		fprintf(stderr,
			"minisiem backup: the connection string holds a password, which "
			"pg_dump's command line would show: use PGPASSFILE or PGPASSWORD\n");
		return 1;
	}
	char file[4200], db[4200];
	snprintf(file, sizeof(file), "--file=%s", dest);
	snprintf(db, sizeof(db), "--dbname=%s", url);
	char *argv[] = {"pg_dump", "--format=directory", "--jobs=2", file, db, NULL};
	pid_t pid;
	int status = 0, err = posix_spawnp(&pid, "pg_dump", NULL, NULL, argv, environ);
	if (err) {
		fprintf(stderr,
			"minisiem backup: cannot run pg_dump: %s (apt-get install "
			"postgresql-client-15)\n",
			strerror(err));
		return 1;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "minisiem backup: pg_dump failed\n");
		return 1;
	}
	printf("backup of the PostgreSQL store written to '%s' (restore: createdb, then "
	       "pg_restore --jobs=2 --dbname=URL '%s')\n",
	       dest, dest);
	return 0;
}

int cmd_backup(int argc, char **argv)
{
	struct config c;
	const char *pos[2];
	size_t npos = 0;
	if (cmd_wants_help(argc, argv)) {
		printf(
		    "usage: minisiem backup DEST [--db PATH | --postgres URL]\n\n"
		    "Copies the store into the new directory DEST while the hub keeps running: "
		    "the\n"
		    "main database and every segment, each as of one moment, each checked.\n"
		    "To restore: stop the hub, copy DEST's contents next to --db, start the "
		    "hub.\n"
		    "With --postgres it runs pg_dump --format=directory into DEST; restore with\n"
		    "pg_restore (docs/postgres.md).\n\n"
		    "options:\n");
		config_usage(db_opts, sizeof(db_opts) / sizeof(db_opts[0]), stdout);
		return 0;
	}
	if (config_init(&c, db_opts, sizeof(db_opts) / sizeof(db_opts[0])) < 0)
		return 1;
	if (config_parse(&c, argc, argv, pos, 2, &npos) < 0 || npos != 1) {
		fprintf(stderr, "minisiem backup: %s\n", npos != 1 ? "expected DEST" : c.err);
		config_release(&c);
		return EXIT_USAGE;
	}
	const char *pg = config_str(&c, "postgres");
	if (pg && *pg) {
		int code = backup_postgres(pg, pos[0]);
		config_release(&c);
		return code;
	}
	log_set_level(LOG_LVL_WARN);
	int64_t t0 = ts_now_us();
	int rc = store_backup(config_str(&c, "db"), pos[0]);
	if (rc < 0)
		fprintf(stderr, "minisiem backup: failed: %s\n", siem_strerror(rc));
	else
		printf("backup of '%s' written to '%s' in %.1f s\n", config_str(&c, "db"), pos[0],
		       (double)(ts_now_us() - t0) / 1e6);
	config_release(&c);
	return rc < 0 ? 1 : 0;
}

static int read_password(char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	char *ok = fgets(buf, (int)len, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fputc('\n', stderr);
	}
	if (!ok)
		return -EINVAL;
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] ? 0 : -EINVAL;
}

int cmd_hash_password(int argc, char **argv)
{
	if (cmd_wants_help(argc, argv)) {
		printf("usage: minisiem hash-password < password\n\n"
		       "Reads a password (first line of standard input, or typed at the terminal)\n"
		       "and prints an argon2id hash to use as SIEM_ADMIN_PASSWORD_HASH.\n");
		return 0;
	}
	if (argc > 0) {
		fprintf(stderr, "minisiem hash-password: unexpected argument '%s'\n", argv[0]);
		return EXIT_USAGE;
	}
	char pw[1100], hash[256];
	if (read_password(pw, sizeof(pw)) < 0) {
		fprintf(stderr, "minisiem hash-password: no password given\n");
		return 1;
	}
	int rc = password_hash(pw, hash, sizeof(hash));
	explicit_bzero(pw, sizeof(pw));
	if (rc < 0) {
		fprintf(stderr, "minisiem hash-password: %s\n", siem_strerror(rc));
		return 1;
	}
	printf("%s\n", hash);
	return 0;
}

/* Characters, not bytes: "pässwörd" is 8 of them. */
static size_t utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

#define TABLE_COLS 8

/* A cell as it is printed: a name may hold any byte, and a control character would move
 * the cursor (or worse) on the reader's terminal, so it shows as '?'. */
static void print_cell(const char *v, size_t width, bool last)
{
	for (const char *p = v; *p; p++)
		putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
	for (size_t n = utf8_len(v); !last && n < width + 2; n++)
		putchar(' ');
}

/* `keys list` and `users list`: rows (arrays of strings, the first the header) as a table
 * for people, each column as wide as its widest cell and two spaces from the next; or with
 * --json the objects themselves, one per row, for scripts. */
static int print_list(json_t *objects, json_t *rows, bool as_json)
{
	size_t width[TABLE_COLS] = {0}, ncols = json_array_size(json_array_get(rows, 0)), i;
	json_t *row;
	if (as_json) {
		int rc = json_dumpf(objects, stdout, JSON_INDENT(2));
		putchar('\n');
		return rc == 0 ? 0 : 1;
	}
	if (ncols > TABLE_COLS)
		return 1;
	json_array_foreach (rows, i, row)
		for (size_t c = 0; c < ncols; c++) {
			size_t n = utf8_len(json_string_value(json_array_get(row, c)));
			width[c] = n > width[c] ? n : width[c];
		}
	json_array_foreach (rows, i, row) {
		for (size_t c = 0; c < ncols; c++)
			print_cell(json_string_value(json_array_get(row, c)), width[c],
				   c + 1 == ncols);
		putchar('\n');
	}
	return 0;
}

/* A string of a row object, or "-" for none (a key never seen). */
static const char *cell(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "-";
}

static int keys_list(struct store *s, bool as_json)
{
	json_t *keys = json_array(), *rows = json_array(), *k;
	size_t i;
	int rc = store_key_list(s, keys);
	json_array_append_new(
	    rows, json_pack("[ssssss]", "ID", "NAME", "CREATED", "LAST SEEN", "EVENTS", "STATUS"));
	json_array_foreach (keys, i, k) {
		char id[24], events[24];
		snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(k, "id")));
		snprintf(events, sizeof(events), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(k, "events")));
		json_array_append_new(
		    rows,
		    json_pack("[ssssss]", id, cell(k, "name"), cell(k, "created_at"),
			      cell(k, "last_seen"), events,
			      json_is_true(json_object_get(k, "revoked")) ? "revoked" : "active"));
	}
	if (rc == 0)
		rc = print_list(keys, rows, as_json);
	json_decref(rows);
	json_decref(keys);
	return rc == 0 ? 0 : 1;
}

static int keys_check(const struct config *c, const char **pos, size_t npos)
{
	const char *verb = npos ? pos[0] : "";
	bool ok = (strcmp(verb, "create") == 0 && npos == 2) ||
		  (strcmp(verb, "list") == 0 && npos == 1) ||
		  (strcmp(verb, "revoke") == 0 && npos == 2);
	if (!ok) {
		fprintf(stderr, "minisiem keys: expected 'create NAME', 'list' or 'revoke ID'\n");
		return EXIT_USAGE;
	}
	if (config_flag(c, "json") && strcmp(verb, "list") != 0) {
		fprintf(stderr, "minisiem keys: --json goes with 'list'\n");
		return EXIT_USAGE;
	}
	return 0;
}

static int keys_run(struct store *s, const struct config *c, const char **pos)
{
	const char *verb = pos[0];
	int rc;
	if (strcmp(verb, "create") == 0) {
		char key[64], hash[65];
		int64_t id = 0;
		if (strlen(pos[1]) > 100) {
			fprintf(stderr, "minisiem keys: name longer than 100 bytes\n");
			return EXIT_USAGE;
		}
		if ((rc = apikey_generate(key, sizeof(key))) < 0)
			return 1;
		apikey_hash(key, strlen(key), hash);
		if ((rc = store_key_add(s, pos[1], hash, &id)) < 0)
			return 1;
		char obj[32];
		snprintf(obj, sizeof(obj), "key:%lld", (long long)id);
		store_audit(s, "cli", NULL, "key.create", obj, pos[1]);
		fprintf(stderr, "key %lld '%s' created; it is shown once:\n", (long long)id,
			pos[1]);
		printf("%s\n", key);
		return 0;
	}
	if (strcmp(verb, "list") == 0)
		return keys_list(s, config_flag(c, "json"));
	char *end = NULL;
	long long id = strtoll(pos[1], &end, 10);
	if (!*pos[1] || *end || id <= 0) {
		fprintf(stderr, "minisiem keys: '%s' is not a key id\n", pos[1]);
		return EXIT_USAGE;
	}
	rc = store_key_revoke(s, id);
	if (rc == SIEM_ENOTFOUND)
		fprintf(stderr, "minisiem keys: no key %lld\n", id);
	else if (rc == 0) {
		char obj[32];
		snprintf(obj, sizeof(obj), "key:%lld", id);
		store_audit(s, "cli", NULL, "key.revoke", obj, NULL);
		printf("key %lld revoked\n", id);
	}
	return rc == 0 ? 0 : 1;
}

static const struct store_cmd keys_cmd = {
    "keys",
    "usage: minisiem keys create NAME | list [--json] | revoke ID [--db PATH | --postgres URL]\n\n"
    "'list' prints a table (ID, NAME, CREATED, LAST SEEN, EVENTS, STATUS); with --json a JSON\n"
    "array of objects {\"id\", \"name\", \"created_at\", \"last_seen\", \"revoked\", \"events\",\n"
    "\"last_event\"}, for scripts.\n\n"
    "options:\n",
    key_opts,
    sizeof(key_opts) / sizeof(key_opts[0]),
    keys_check,
    keys_run};

int cmd_keys(int argc, char **argv)
{
	return store_cmd_main(&keys_cmd, argc, argv);
}

static int new_hash(char *hash, size_t len)
{
	char pw[1100];
	if (read_password(pw, sizeof(pw)) < 0) {
		fprintf(stderr, "minisiem users: no password given\n");
		return -EINVAL;
	}
	if (utf8_len(pw) < PASSWORD_MIN) {
		fprintf(stderr,
			"minisiem users: a password needs at least %d characters, this one"
			" has %zu\n",
			PASSWORD_MIN, utf8_len(pw));
		explicit_bzero(pw, sizeof(pw));
		return -EINVAL;
	}
	int rc = password_hash(pw, hash, len);
	explicit_bzero(pw, sizeof(pw));
	if (rc < 0)
		fprintf(stderr, "minisiem users: %s\n", siem_strerror(rc));
	return rc;
}

static int users_check(const struct config *c, const char **pos, size_t npos)
{
	const char *verb = npos ? pos[0] : "", *role = config_str(c, "role");
	bool named = npos == 2 && (strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0 ||
				   strcmp(verb, "remove") == 0);
	if (!named && !(strcmp(verb, "list") == 0 && npos == 1)) {
		fprintf(stderr, "minisiem users: expected 'add NAME', 'list', 'passwd NAME' or"
				" 'remove NAME'\n");
		return EXIT_USAGE;
	}
	if (strcmp(role, "admin") != 0 && strcmp(role, "analyst") != 0) {
		fprintf(stderr, "minisiem users: role must be admin or analyst, not '%s'\n", role);
		return EXIT_USAGE;
	}
	if (named && (!*pos[1] || strlen(pos[1]) > 100)) {
		fprintf(stderr, "minisiem users: a name has 1 to 100 bytes\n");
		return EXIT_USAGE;
	}
	if (config_flag(c, "json") && strcmp(verb, "list") != 0) {
		fprintf(stderr, "minisiem users: --json goes with 'list'\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* The built-in admin first (unless a user of the table is named admin, who then takes its
 * place), then the users of the table by name. */
static int users_list(struct store *s, bool as_json)
{
	json_t *users = json_array(), *rows = json_array(), *u;
	size_t i, first = 0;
	int rc = store_user_list(s, users);
	json_array_foreach (users, i, u)
		json_object_set_new(u, "builtin", json_false());
	for (i = 0; i < json_array_size(users); i++)
		if (strcmp(cell(json_array_get(users, i), "name"), "admin") == 0)
			break;
	if (i < json_array_size(users)) {
		u = json_incref(json_array_get(users, i));
		json_array_remove(users, i);
		json_array_insert_new(users, 0, u);
	} else {
		json_array_insert_new(users, 0,
				      json_pack("{s:s, s:s, s:n, s:b}", "name", "admin", "role",
						"admin", "created_at", "builtin", 1));
		first = 1;
	}
	json_array_append_new(rows, json_pack("[sss]", "NAME", "ROLE", "CREATED"));
	json_array_foreach (users, i, u)
		json_array_append_new(rows,
				      json_pack("[sss]", cell(u, "name"), cell(u, "role"),
						i < first ? "built-in" : cell(u, "created_at")));
	if (rc == 0)
		rc = print_list(users, rows, as_json);
	json_decref(rows);
	json_decref(users);
	return rc == 0 ? 0 : 1;
}

/* A user of the table, else the built-in admin: its hash is the store's unless
 * SIEM_ADMIN_PASSWORD_HASH sets it, and then the environment wins and this is refused. */
static int users_passwd(struct store *s, const char *name)
{
	char hash[256], *role = NULL, *old = NULL;
	int rc = store_user_get(s, name, &role, &old);
	bool builtin = rc == SIEM_ENOTFOUND && strcmp(name, "admin") == 0;
	const char *env = getenv("SIEM_ADMIN_PASSWORD_HASH");
	free(role);
	free(old);
	if (builtin && env && *env) {
		fprintf(stderr,
			"minisiem users: the built-in admin's password is set by "
			"SIEM_ADMIN_PASSWORD_HASH, which wins over the store: put a new hash there"
			" ('minisiem hash-password'), then restart the hub or send it SIGHUP\n");
		return 1;
	}
	if (rc < 0 && !builtin) {
		if (rc == SIEM_ENOTFOUND)
			fprintf(stderr, "minisiem users: no user '%s'\n", name);
		return 1;
	}
	if (new_hash(hash, sizeof(hash)) < 0)
		return 1;
	rc = builtin ? tokens_store_admin_hash(s, hash) : store_user_set_hash(s, name, hash);
	if (rc == SIEM_ENOTFOUND)
		fprintf(stderr, "minisiem users: no user '%s'\n", name);
	if (rc < 0)
		return 1;
	store_audit(s, "cli", NULL, "user.passwd", name, builtin ? "built-in" : NULL);
	if (builtin)
		printf("password of the built-in admin changed; its tokens end within a second\n");
	else
		printf("password of '%s' changed\n", name);
	return 0;
}

static int users_run(struct store *s, const struct config *c, const char **pos)
{
	const char *verb = pos[0], *role = config_str(c, "role");
	char hash[256];
	int rc;
	if (strcmp(verb, "add") == 0) {
		if (new_hash(hash, sizeof(hash)) < 0)
			return 1;
		rc = store_user_add(s, pos[1], role, hash);
		if (rc == -EEXIST)
			fprintf(stderr, "minisiem users: '%s' exists already\n", pos[1]);
		if (rc == 0) {
			store_audit(s, "cli", NULL, "user.add", pos[1], role);
			printf("user '%s' added (%s)\n", pos[1], role);
		}
	} else if (strcmp(verb, "passwd") == 0) {
		return users_passwd(s, pos[1]);
	} else if (strcmp(verb, "remove") == 0) {
		if ((rc = store_user_remove(s, pos[1])) == 0) {
			store_audit(s, "cli", NULL, "user.remove", pos[1], NULL);
			printf("user '%s' removed\n", pos[1]);
		} else if (rc == SIEM_ENOTFOUND && strcmp(pos[1], "admin") == 0) {
			fprintf(stderr, "minisiem users: the built-in admin cannot be removed (its"
					" password can be changed: 'users passwd admin')\n");
			return 1;
		}
	} else {
		return users_list(s, config_flag(c, "json"));
	}
	if (rc == SIEM_ENOTFOUND)
		fprintf(stderr, "minisiem users: no user '%s'\n", pos[1]);
	return rc == 0 ? 0 : 1;
}

static const struct store_cmd users_cmd = {
    "users",
    "usage: minisiem users add NAME [--role admin|analyst] | list [--json] | passwd NAME |"
    " remove NAME\n       [--db PATH | --postgres URL]\n\n"
    "Passwords are read from the terminal or the first line of standard input, and have at\n"
    "least " STR(PASSWORD_MIN) " characters (characters, not bytes).\n\n"
			       "'passwd admin' sets the built-in admin's password, a lost one too "
			       "(unless a user of the\n"
			       "table is named admin). It is refused while "
			       "SIEM_ADMIN_PASSWORD_HASH is set: that\n"
			       "variable wins over the store, also in a hub started with it. A "
			       "running hub takes the\n"
			       "new password at once and refuses the admin's earlier tokens within "
			       "a second.\n\n"
			       "'list' prints a table (NAME, ROLE, CREATED), the built-in admin "
			       "first; with --json a\n"
			       "JSON array of objects {\"name\", \"role\", \"created_at\", "
			       "\"builtin\"}, for scripts.\n\n"
			       "options:\n",
    user_opts,
    sizeof(user_opts) / sizeof(user_opts[0]),
    users_check,
    users_run};

int cmd_users(int argc, char **argv)
{
	return store_cmd_main(&users_cmd, argc, argv);
}
