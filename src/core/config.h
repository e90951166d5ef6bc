/* config.h — options as rows of one table: flag name, environment variable, default and
 * help. One table drives parsing (flags > environment > config file > default), --help
 * and the docs. */
#ifndef SIEM_CONFIG_H
#define SIEM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* OPT_URL: a string naming a server (URL or "key=value" connection string) that must not carry
 * a password when it is given on the command line, where every user's ps would show it. */
enum opt_kind { OPT_STRING, OPT_INT, OPT_DURATION, OPT_SIZE, OPT_FLAG, OPT_URL };

struct opt_def {
	const char *name; /* long flag without "--"; NULL for environment-only settings */
	const char *env;  /* SIEM_* variable, or NULL */
	enum opt_kind kind;
	const char *def;  /* default as text, NULL for none */
	const char *meta; /* placeholder in --help ("ADDR:PORT") */
	const char *help;
	bool secret;	  /* never echoed */
	int64_t min, max; /* bounds for numbers */
};

struct config {
	const struct opt_def *defs;
	size_t n;
	const char **val; /* current value per option (points into argv, environ, file, or def) */
	char *file_text;  /* config file contents, values point into it */
	char err[256];
};

int config_init(struct config *c, const struct opt_def *defs, size_t n);
void config_release(struct config *c);
/* Parse argv (starting at argv[0] = first option). Positional arguments are returned in
 * pos (up to maxpos). Returns 0, or -EINVAL with c->err set (a usage error). */
int config_parse(struct config *c, int argc, char **argv, const char **pos, size_t maxpos,
		 size_t *npos);
const char *config_str(const struct config *c, const char *name);
/* Parsed number (OPT_INT / OPT_SIZE bytes / OPT_DURATION seconds). */
int64_t config_int(const struct config *c, const char *name);
bool config_flag(const struct config *c, const char *name);
/* Is name at its default (set by no flag, variable or config file line)? */
bool config_is_default(const struct config *c, const char *name);
/* Print the options as --help text. */
void config_usage(const struct opt_def *defs, size_t n, FILE *out);

/* "30", "30s", "5m", "2h", "7d" -> seconds; "512", "64k", "8m", "1g" -> bytes. */
int parse_duration(const char *s, int64_t *out);
int parse_size(const char *s, int64_t *out);
/* Does a URL ("scheme://user:secret@host") or connection string ("password=...") hold a
 * password? */
bool url_has_password(const char *s);

#endif
