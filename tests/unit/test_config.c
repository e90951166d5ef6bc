/* test_config.c — the option table: flags, SIEM_* environment, config file, precedence,
 * sizes, durations, bounds, errors and --help text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

static const struct opt_def defs[] = {
    {"config", "SIEM_TEST_CONFIG", OPT_STRING, NULL, "FILE", "config file", false, 0, 0},
    {"listen", "SIEM_TEST_LISTEN", OPT_STRING, "127.0.0.1:8080", "ADDR:PORT", "HTTP address", false,
     0, 0},
    {"port", "SIEM_TEST_PORT", OPT_INT, "8080", "N", "port", false, 1, 65535},
    {"max-body", "SIEM_TEST_MAX_BODY", OPT_SIZE, "8m", "BYTES", "largest body", false, 1024,
     1LL << 30},
    {"ttl", "SIEM_TEST_TTL", OPT_DURATION, "7d", "DURATION", "token lifetime", false, 60,
     366LL * 86400},
    {"verbose", "SIEM_TEST_VERBOSE", OPT_FLAG, NULL, NULL, "more logs", false, 0, 0},
    {"count", NULL, OPT_INT, "3", "N", "unbounded count", false, 0, 0},
    {"name", NULL, OPT_STRING, "", "NAME", "a name", false, 0, 0},
    {NULL, "SIEM_TEST_SECRET", OPT_STRING, NULL, NULL, "a secret", true, 0, 0},
    {NULL, "SIEM_TEST_PIN", OPT_INT, NULL, NULL, "a secret number", true, 0, 9999},
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static struct config C;
static const char *POS[4];
static size_t NPOS;
static char DIRPATH[64];
static char FILEPATH[128];

static void clear_env(void)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (defs[i].env)
			unsetenv(defs[i].env);
}

static int setup(void **state)
{
	(void)state;
	clear_env();
	snprintf(DIRPATH, sizeof(DIRPATH), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(DIRPATH))
		return -1;
	snprintf(FILEPATH, sizeof(FILEPATH), "%s/minisiem.conf", DIRPATH);
	return config_init(&C, defs, NDEFS);
}

static int teardown(void **state)
{
	(void)state;
	config_release(&C);
	clear_env();
	unlink(FILEPATH);
	rmdir(DIRPATH);
	return 0;
}

static void write_file(const char *text)
{
	FILE *f = fopen(FILEPATH, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Parse a NULL-terminated argument list. */
static int parse_v(const char *first, va_list ap)
{
	char *argv[32];
	int argc = 0;
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		assert_true(argc < 32);
		argv[argc++] = (char *)a;
	}
	/* A fresh table each time: every parse starts from the defaults. */
	config_release(&C);
	assert_int_equal(config_init(&C, defs, NDEFS), 0);
	NPOS = 99;
	return config_parse(&C, argc, argv, POS, sizeof(POS) / sizeof(POS[0]), &NPOS);
}

static void ok(const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	int rc = parse_v(first, ap);
	va_end(ap);
	if (rc)
		fail_msg("rc %d: %s", rc, C.err);
}

static void fails(const char *err, const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	int rc = parse_v(first, ap);
	va_end(ap);
	if (rc != -EINVAL || strcmp(C.err, err) != 0)
		fail_msg("rc %d \"%s\", want -EINVAL \"%s\"", rc, C.err, err);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	(void)state;
	ok(NULL);
	assert_int_equal(NPOS, 0);
	assert_string_equal(config_str(&C, "listen"), "127.0.0.1:8080");
	assert_int_equal(config_int(&C, "port"), 8080);
	assert_int_equal(config_int(&C, "max-body"), 8 * 1024 * 1024);
	assert_int_equal(config_int(&C, "ttl"), 7 * 86400);
	assert_false(config_flag(&C, "verbose"));
	assert_int_equal(config_int(&C, "count"), 3);
	assert_string_equal(config_str(&C, "name"), "");
	assert_null(config_str(&C, "config"));
	assert_null(config_str(&C, "SIEM_TEST_SECRET"));
	assert_null(config_str(&C, "no-such-option"));
	assert_int_equal(config_int(&C, "no-such-option"), 0);
}

/* ---- flags ---- */

static void test_flag_with_separate_value(void **state)
{
	(void)state;
	ok("--listen", "0.0.0.0:9000", "--port", "9000", NULL);
	assert_string_equal(config_str(&C, "listen"), "0.0.0.0:9000");
	assert_int_equal(config_int(&C, "port"), 9000);
	assert_int_equal(NPOS, 0);
}

static void test_flag_with_equals(void **state)
{
	(void)state;
	ok("--listen=[::1]:9000", "--port=9001", "--name=a=b", NULL);
	assert_string_equal(config_str(&C, "listen"), "[::1]:9000");
	assert_int_equal(config_int(&C, "port"), 9001);
	assert_string_equal(config_str(&C, "name"), "a=b");
}

static void test_flag_empty_value(void **state)
{
	(void)state;
	ok("--name=", "--listen", "", NULL);
	assert_string_equal(config_str(&C, "name"), "");
	assert_string_equal(config_str(&C, "listen"), "");
}

static void test_last_flag_wins(void **state)
{
	(void)state;
	ok("--port", "1", "--port=2", NULL);
	assert_int_equal(config_int(&C, "port"), 2);
}

static void test_unknown_option(void **state)
{
	(void)state;
	fails("unknown option '--nope'", "--nope", NULL);
	fails("unknown option '--nope'", "--nope=1", NULL);
	fails("unknown option '--list'", "--list", "x", NULL); /* no prefix matching */
	fails("unknown option '--SIEM_TEST_PORT'", "--SIEM_TEST_PORT=1", NULL);
}

static void test_missing_value(void **state)
{
	(void)state;
	fails("option '--listen' needs a value", "--listen", NULL);
	fails("option '--port' needs a value", "x", "--port", NULL);
}

static void test_flag_option(void **state)
{
	(void)state;
	ok("--verbose", "file", NULL);
	assert_true(config_flag(&C, "verbose"));
	assert_int_equal(NPOS, 1); /* a flag takes no value: "file" is positional */
	assert_string_equal(POS[0], "file");
}

static void test_flag_option_explicit_values(void **state)
{
	(void)state;
	ok("--verbose=0", NULL);
	assert_false(config_flag(&C, "verbose"));
	ok("--verbose=false", NULL);
	assert_false(config_flag(&C, "verbose"));
	ok("--verbose=no", NULL);
	assert_false(config_flag(&C, "verbose"));
	ok("--verbose=", NULL);
	assert_false(config_flag(&C, "verbose"));
	ok("--verbose=1", NULL);
	assert_true(config_flag(&C, "verbose"));
	ok("--verbose=yes", NULL);
	assert_true(config_flag(&C, "verbose"));
}

static void test_flag_option_from_env(void **state)
{
	(void)state;
	setenv("SIEM_TEST_VERBOSE", "1", 1);
	ok(NULL);
	assert_true(config_flag(&C, "verbose"));
}

/* ---- positional arguments ---- */

static void test_positional_args(void **state)
{
	(void)state;
	ok("serve", "--port", "1", "a", "-", NULL);
	assert_int_equal(NPOS, 3);
	assert_string_equal(POS[0], "serve");
	assert_string_equal(POS[1], "a");
	assert_string_equal(POS[2], "-");
	assert_int_equal(config_int(&C, "port"), 1);
}

static void test_double_dash_ends_options(void **state)
{
	(void)state;
	ok("x", "--", "--port", "--nope", NULL);
	assert_int_equal(NPOS, 3);
	assert_string_equal(POS[0], "x");
	assert_string_equal(POS[1], "--port");
	assert_string_equal(POS[2], "--nope");
	assert_int_equal(config_int(&C, "port"), 8080);
}

static void test_too_many_positional_args(void **state)
{
	(void)state;
	fails("too many arguments", "a", "b", "c", "d", "e", NULL);
	fails("too many arguments", "--", "a", "b", "c", "d", "e", NULL);
	ok("a", "b", "c", "d", NULL);
	assert_int_equal(NPOS, 4);
}

/* ---- numbers ---- */

static void test_bad_number(void **state)
{
	(void)state;
	fails("invalid value for 'port' (from the command line): 'abc'", "--port", "abc", NULL);
	fails("invalid value for 'port' (from the command line): '80x'", "--port=80x", NULL);
	fails("invalid value for 'port' (from the command line): ''", "--port=", NULL);
	fails("invalid value for 'port' (from the command line): '1.5'", "--port", "1.5", NULL);
	fails("invalid value for 'count' (from the command line): '99999999999999999999'",
	      "--count", "99999999999999999999", NULL);
}

static void test_number_bounds(void **state)
{
	(void)state;
	fails("invalid value for 'port' (from the command line): '0'", "--port", "0", NULL);
	fails("invalid value for 'port' (from the command line): '65536'", "--port", "65536", NULL);
	fails("invalid value for 'port' (from the command line): '-1'", "--port", "-1", NULL);
	ok("--port", "1", NULL);
	assert_int_equal(config_int(&C, "port"), 1);
	ok("--port", "65535", NULL);
	assert_int_equal(config_int(&C, "port"), 65535);
}

static void test_unbounded_number(void **state)
{
	(void)state;
	ok("--count", "-5", NULL);
	assert_int_equal(config_int(&C, "count"), -5);
	ok("--count", "9223372036854775807", NULL);
	assert_true(config_int(&C, "count") == INT64_MAX);
}

static void test_size_option(void **state)
{
	(void)state;
	ok("--max-body", "64k", NULL);
	assert_int_equal(config_int(&C, "max-body"), 65536);
	ok("--max-body=1g", NULL);
	assert_int_equal(config_int(&C, "max-body"), 1LL << 30);
	ok("--max-body=2MB", NULL);
	assert_int_equal(config_int(&C, "max-body"), 2 * 1024 * 1024);
	ok("--max-body=1024", NULL);
	assert_int_equal(config_int(&C, "max-body"), 1024);
	fails("invalid value for 'max-body' (from the command line): '1023'", "--max-body=1023",
	      NULL);
	fails("invalid value for 'max-body' (from the command line): '2g'", "--max-body=2g", NULL);
	fails("invalid value for 'max-body' (from the command line): '8x'", "--max-body=8x", NULL);
}

static void test_duration_option(void **state)
{
	(void)state;
	ok("--ttl", "2h", NULL);
	assert_int_equal(config_int(&C, "ttl"), 7200);
	ok("--ttl", "60", NULL);
	assert_int_equal(config_int(&C, "ttl"), 60);
	fails("invalid value for 'ttl' (from the command line): '59s'", "--ttl", "59s", NULL);
	fails("invalid value for 'ttl' (from the command line): '367d'", "--ttl", "367d", NULL);
	fails("invalid value for 'ttl' (from the command line): '1w'", "--ttl", "1w", NULL);
}

static void test_parse_size(void **state)
{
	(void)state;
	int64_t v = -1;
	assert_int_equal(parse_size("512", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_size("64k", &v), 0);
	assert_int_equal(v, 64 * 1024);
	assert_int_equal(parse_size("8m", &v), 0);
	assert_int_equal(v, 8 * 1024 * 1024);
	assert_int_equal(parse_size("8M", &v), 0);
	assert_int_equal(v, 8 * 1024 * 1024);
	assert_int_equal(parse_size("8MB", &v), 0);
	assert_int_equal(v, 8 * 1024 * 1024);
	assert_int_equal(parse_size("8mib", &v), 0);
	assert_int_equal(v, 8 * 1024 * 1024);
	assert_int_equal(parse_size("1g", &v), 0);
	assert_int_equal(v, 1LL << 30);
	const char *bad[] = {"",
			     "m",
			     "-1",
			     "8x",
			     "8mm",
			     "8mbx",
			     "8mi",
			     "8 m",
			     " ",
			     "1.5m",
			     "99999999999999999999",
			     "9000000000g"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_size(bad[i], &v) != -EINVAL)
			fail_msg("parse_size('%s') accepted", bad[i]);
}

static void test_parse_duration(void **state)
{
	(void)state;
	int64_t v = -1;
	assert_int_equal(parse_duration("30", &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(parse_duration("30s", &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(parse_duration("5m", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(parse_duration("2h", &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(parse_duration("7d", &v), 0);
	assert_int_equal(v, 604800);
	assert_int_equal(parse_duration("0", &v), 0);
	assert_int_equal(v, 0);
	const char *bad[] = {"",
			     "d",
			     "-1",
			     "-1d",
			     "5x",
			     "5mm",
			     "1.5h",
			     "5 m",
			     "99999999999999999999",
			     "200000000000000d"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_duration(bad[i], &v) != -EINVAL)
			fail_msg("parse_duration('%s') accepted", bad[i]);
}

/* ---- environment ---- */

static void test_env_sets_value(void **state)
{
	(void)state;
	setenv("SIEM_TEST_PORT", "9000", 1);
	setenv("SIEM_TEST_TTL", "5m", 1);
	setenv("SIEM_TEST_SECRET", "s3cret", 1);
	ok(NULL);
	assert_int_equal(config_int(&C, "port"), 9000);
	assert_int_equal(config_int(&C, "ttl"), 300);
	assert_string_equal(config_str(&C, "SIEM_TEST_SECRET"), "s3cret");
	assert_string_equal(config_str(&C, "SIEM_TEST_PORT"), "9000"); /* by variable name too */
}

static void test_env_bad_value(void **state)
{
	(void)state;
	setenv("SIEM_TEST_PORT", "x1", 1);
	fails("invalid value for 'port' (from SIEM_TEST_PORT): 'x1'", NULL);
}

static void test_flag_overrides_env(void **state)
{
	(void)state;
	setenv("SIEM_TEST_PORT", "9000", 1);
	ok("--port", "7000", NULL);
	assert_int_equal(config_int(&C, "port"), 7000);
	/* A bad environment value is not looked at when a flag sets the option. */
	setenv("SIEM_TEST_PORT", "bad", 1);
	ok("--port=7001", NULL);
	assert_int_equal(config_int(&C, "port"), 7001);
}

static void test_secret_never_echoed(void **state)
{
	(void)state;
	setenv("SIEM_TEST_PIN", "12345", 1);
	fails("invalid value for 'SIEM_TEST_PIN' (from SIEM_TEST_PIN): '***'", NULL);
	setenv("SIEM_TEST_PIN", "abc", 1);
	fails("invalid value for 'SIEM_TEST_PIN' (from SIEM_TEST_PIN): '***'", NULL);
	setenv("SIEM_TEST_PIN", "1234", 1);
	ok(NULL);
	assert_int_equal(config_int(&C, "SIEM_TEST_PIN"), 1234);
}

/* ---- config file ---- */

static void test_file_values(void **state)
{
	(void)state;
	write_file("# minisiem settings\n"
		   "\n"
		   "   # an indented comment\n"
		   "listen = 10.0.0.1:80\n"
		   "port=81\n"
		   "  max-body   =   16m   \n"
		   "ttl = \"1h\"\n"
		   "name = 'two words'\n"
		   "SIEM_TEST_SECRET = \"p#ss = word\"\n"
		   "count = 42\r\n"
		   "verbose = yes");
	ok("--config", FILEPATH, NULL);
	assert_string_equal(config_str(&C, "listen"), "10.0.0.1:80");
	assert_int_equal(config_int(&C, "port"), 81);
	assert_int_equal(config_int(&C, "max-body"), 16 * 1024 * 1024);
	assert_int_equal(config_int(&C, "ttl"), 3600);
	assert_string_equal(config_str(&C, "name"), "two words");
	assert_string_equal(config_str(&C, "SIEM_TEST_SECRET"), "p#ss = word");
	assert_int_equal(config_int(&C, "count"), 42);
	assert_true(config_flag(&C, "verbose"));
}

static void test_file_quotes(void **state)
{
	(void)state;
	write_file("name = \"\"\n"
		   "listen = \" spaced \"\n");
	ok("--config=", NULL); /* an empty file name reads no file */
	assert_string_equal(config_str(&C, "name"), "");
	ok("--config", FILEPATH, NULL);
	assert_string_equal(config_str(&C, "name"), "");
	assert_string_equal(config_str(&C, "listen"), " spaced ");
	write_file("name = \"unbalanced\n"
		   "listen = \"\n");
	ok("--config", FILEPATH, NULL);
	assert_string_equal(config_str(&C, "name"), "\"unbalanced");
	assert_string_equal(config_str(&C, "listen"), "\"");
}

static void test_file_unknown_setting(void **state)
{
	(void)state;
	char want[256];
	write_file("# comment\nport = 1\nbogus = 2\n");
	snprintf(want, sizeof(want), "%s:3: unknown setting 'bogus'", FILEPATH);
	fails(want, "--config", FILEPATH, NULL);
}

static void test_file_line_without_equals(void **state)
{
	(void)state;
	char want[256];
	write_file("port = 1\nlisten 127.0.0.1:1\n");
	snprintf(want, sizeof(want), "%s:2: expected 'name = value'", FILEPATH);
	fails(want, "--config", FILEPATH, NULL);
}

static void test_file_bad_value(void **state)
{
	(void)state;
	char want[256];
	write_file("port = 70000\n");
	snprintf(want, sizeof(want), "invalid value for 'port' (from %s): '70000'", FILEPATH);
	fails(want, "--config", FILEPATH, NULL);
	write_file("max-body = lots\n");
	snprintf(want, sizeof(want), "invalid value for 'max-body' (from %s): 'lots'", FILEPATH);
	fails(want, "--config", FILEPATH, NULL);
}

static void test_file_missing(void **state)
{
	(void)state;
	char want[256];
	snprintf(want, sizeof(want), "cannot open config file '%s/nope.conf': %s", DIRPATH,
		 strerror(ENOENT));
	char path[128];
	snprintf(path, sizeof(path), "%s/nope.conf", DIRPATH);
	fails(want, "--config", path, NULL);
}

static void test_file_named_by_env(void **state)
{
	(void)state;
	write_file("port = 82\n");
	setenv("SIEM_TEST_CONFIG", FILEPATH, 1);
	ok(NULL);
	assert_int_equal(config_int(&C, "port"), 82);
}

static void test_config_flag_overrides_config_env(void **state)
{
	(void)state;
	char other[160];
	write_file("port = 83\n");
	snprintf(other, sizeof(other), "%s/nope.conf", DIRPATH);
	setenv("SIEM_TEST_CONFIG", other, 1);
	ok("--config", FILEPATH, NULL);
	assert_int_equal(config_int(&C, "port"), 83);
}

static void test_env_overrides_file(void **state)
{
	(void)state;
	write_file("port = 1000\nlisten = file:1\n");
	setenv("SIEM_TEST_PORT", "2000", 1);
	ok("--config", FILEPATH, NULL);
	assert_int_equal(config_int(&C, "port"), 2000);
	assert_string_equal(config_str(&C, "listen"), "file:1");
}

static void test_flag_overrides_env_and_file(void **state)
{
	(void)state;
	write_file("port = 1000\nttl = 1h\n");
	setenv("SIEM_TEST_PORT", "2000", 1);
	setenv("SIEM_TEST_TTL", "2h", 1);
	ok("--config", FILEPATH, "--port", "3000", NULL);
	assert_int_equal(config_int(&C, "port"), 3000);
	assert_int_equal(config_int(&C, "ttl"), 7200);
	/* And without the flag or the variable, the file, then the default. */
	unsetenv("SIEM_TEST_PORT");
	unsetenv("SIEM_TEST_TTL");
	ok("--config", FILEPATH, NULL);
	assert_int_equal(config_int(&C, "port"), 1000);
	assert_int_equal(config_int(&C, "ttl"), 3600);
	assert_int_equal(config_int(&C, "max-body"), 8 * 1024 * 1024);
}

static void test_file_value_overridden_is_not_checked(void **state)
{
	(void)state;
	write_file("port = bad\n");
	ok("--config", FILEPATH, "--port", "5", NULL);
	assert_int_equal(config_int(&C, "port"), 5);
}

static void test_file_flag_option(void **state)
{
	(void)state;
	write_file("verbose = no\n");
	ok("--config", FILEPATH, NULL);
	assert_false(config_flag(&C, "verbose"));
	write_file("verbose = 1\n");
	ok("--config", FILEPATH, NULL);
	assert_true(config_flag(&C, "verbose"));
}

static void test_file_last_line_wins(void **state)
{
	(void)state;
	write_file("port = 1\nport = 2\n");
	ok("--config", FILEPATH, NULL);
	assert_int_equal(config_int(&C, "port"), 2);
}

/* ---- help ---- */

static void test_usage_text(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	config_usage(defs, NDEFS, f);
	fclose(f);
	const char *want =
	    "  --config FILE                config file [env SIEM_TEST_CONFIG]\n"
	    "  --listen ADDR:PORT           HTTP address [env SIEM_TEST_LISTEN; default "
	    "127.0.0.1:8080]\n"
	    "  --port N                     port [env SIEM_TEST_PORT; default 8080]\n"
	    "  --max-body BYTES             largest body [env SIEM_TEST_MAX_BODY; default 8m]\n"
	    "  --ttl DURATION               token lifetime [env SIEM_TEST_TTL; default 7d]\n"
	    "  --verbose                    more logs [env SIEM_TEST_VERBOSE]\n"
	    "  --count N                    unbounded count [default 3]\n"
	    "  --name NAME                  a name\n"
	    "  SIEM_TEST_SECRET             a secret\n"
	    "  SIEM_TEST_PIN                a secret number\n";
	assert_string_equal(buf, want);
	free(buf);
}

/* A password in a server's URL or connection string, wherever libpq and AMQP take one. */
static void test_url_has_password(void **state)
{
	(void)state;
	assert_true(url_has_password("postgresql://siem:secret@db/siem"));
	assert_true(url_has_password("postgres://siem:@db"));
	assert_true(url_has_password("amqps://u:p@mq:5671/vhost"));
	assert_true(url_has_password("postgresql://db/siem?user=siem&password=x"));
	assert_true(url_has_password("host=db user=siem password=x"));
	assert_true(url_has_password("host=db password = x"));
	assert_true(url_has_password("postgresql://u@db/x?pass%77ord=secret")); /* libpq decodes */
	assert_true(url_has_password("PostgreSQL://db/x?PASSWORD=y"));
	assert_false(url_has_password("postgresql://siem@db/siem"));
	assert_false(url_has_password("postgresql://siem@db:5432/siem?sslmode=verify-full"));
	assert_false(url_has_password("postgresql://db:5432/siem")); /* port, not a password */
	assert_false(url_has_password("postgresql:///siem?host=/run/postgresql"));
	assert_false(url_has_password("host=db user=siem dbname=siem"));
}

/* OPT_URL: a password is refused on the command line (ps shows it), taken from the
 * environment. */
static void test_url_option_refuses_password_on_command_line(void **state)
{
	(void)state;
	static const struct opt_def url_defs[] = {
	    {"postgres", "SIEM_TEST_PG", OPT_URL, NULL, "URL", "server", false, 0, 0},
	};
	struct config c;
	char a0[] = "--postgres", a1[] = "postgresql://u:hunter2@db/x";
	char *argv[] = {a0, a1};
	size_t npos = 0;
	assert_int_equal(config_init(&c, url_defs, 1), 0);
	assert_int_equal(config_parse(&c, 2, argv, POS, 4, &npos), -EINVAL);
	assert_non_null(strstr(c.err, "PGPASSFILE"));
	assert_null(strstr(c.err, "hunter2"));
	config_release(&c);

	char b1[] = "postgresql://u@db/x";
	char *ok_argv[] = {a0, b1};
	assert_int_equal(config_init(&c, url_defs, 1), 0);
	assert_int_equal(config_parse(&c, 2, ok_argv, POS, 4, &npos), 0);
	assert_string_equal(config_str(&c, "postgres"), "postgresql://u@db/x");
	config_release(&c);

	setenv("SIEM_TEST_PG", "postgresql://u:hunter2@db/x", 1);
	assert_int_equal(config_init(&c, url_defs, 1), 0);
	assert_int_equal(config_parse(&c, 0, NULL, POS, 4, &npos), 0);
	assert_string_equal(config_str(&c, "postgres"), "postgresql://u:hunter2@db/x");
	config_release(&c);
	unsetenv("SIEM_TEST_PG");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_defaults),
	    T(test_flag_with_separate_value),
	    T(test_flag_with_equals),
	    T(test_flag_empty_value),
	    T(test_last_flag_wins),
	    T(test_unknown_option),
	    T(test_missing_value),
	    T(test_flag_option),
	    T(test_flag_option_explicit_values),
	    T(test_flag_option_from_env),
	    T(test_positional_args),
	    T(test_double_dash_ends_options),
	    T(test_too_many_positional_args),
	    T(test_bad_number),
	    T(test_number_bounds),
	    T(test_unbounded_number),
	    T(test_size_option),
	    T(test_duration_option),
	    T(test_parse_size),
	    T(test_parse_duration),
	    T(test_env_sets_value),
	    T(test_env_bad_value),
	    T(test_flag_overrides_env),
	    T(test_secret_never_echoed),
	    T(test_file_values),
	    T(test_file_quotes),
	    T(test_file_unknown_setting),
	    T(test_file_line_without_equals),
	    T(test_file_bad_value),
	    T(test_file_missing),
	    T(test_file_named_by_env),
	    T(test_config_flag_overrides_config_env),
	    T(test_env_overrides_file),
	    T(test_flag_overrides_env_and_file),
	    T(test_file_value_overridden_is_not_checked),
	    T(test_file_flag_option),
	    T(test_file_last_line_wins),
	    T(test_usage_text),
	    T(test_url_has_password),
	    T(test_url_option_refuses_password_on_command_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
