/* config.c — option table parsing: flags, SIEM_* environment, "name = value" config file. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/err.h"
#include "core/file.h"

#define CONFIG_FILE_MAX (1024 * 1024)

int config_init(struct config *c, const struct opt_def *defs, size_t n)
{
	memset(c, 0, sizeof(*c));
	c->defs = defs;
	c->n = n;
	c->val = calloc(n ? n : 1, sizeof(*c->val));
	if (!c->val)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		c->val[i] = defs[i].def;
	return 0;
}

void config_release(struct config *c)
{
	free(c->val);
	free(c->file_text);
	c->val = NULL;
	c->file_text = NULL;
}

static long find(const struct config *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->n; i++) {
		const char *nm = c->defs[i].name;
		if (nm && strlen(nm) == len && strncmp(nm, name, len) == 0)
			return (long)i;
	}
	return -1;
}

static long find_any(const struct config *c, const char *name, size_t len)
{
	long i = find(c, name, len);
	if (i >= 0)
		return i;
	for (size_t j = 0; j < c->n; j++) {
		const char *e = c->defs[j].env;
		if (e && strlen(e) == len && strncmp(e, name, len) == 0)
			return (long)j;
	}
	return -1;
}

struct unit {
	char c;
	int64_t mul;
};

/* s as a non-negative integer and an optional unit letter of units (case folded when
 * fold): the integer times the unit's multiplier, and what follows the letter in *rest. */
static int parse_scaled(const char *s, const struct unit *units, size_t nunits, bool fold,
			int64_t *v, const char **rest)
{
	char *end = NULL;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || end == s || x < 0)
		return -EINVAL;
	int64_t mul = 1;
	*rest = end;
	if (*end) {
		int ch = fold ? tolower((unsigned char)*end) : *end;
		size_t i = 0;
		while (i < nunits && units[i].c != ch)
			i++;
		if (i == nunits)
			return -EINVAL;
		mul = units[i].mul;
		*rest = end + 1;
	}
	if (x > INT64_MAX / mul)
		return -EINVAL;
	*v = x * mul;
	return 0;
}

int parse_duration(const char *s, int64_t *out)
{
	static const struct unit units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	const char *rest;
	int64_t v;
	if (parse_scaled(s, units, 4, false, &v, &rest) < 0 || *rest)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_size(const char *s, int64_t *out)
{
	static const struct unit units[] = {
	    {'k', 1024}, {'m', 1024 * 1024}, {'g', 1024LL * 1024 * 1024}};
	const char *rest;
	int64_t v;
	if (parse_scaled(s, units, 3, true, &v, &rest) < 0)
		return -EINVAL;
	/* "10m", "10mb" or "10mib" */
	if (*rest && !(tolower((unsigned char)rest[0]) == 'b' && !rest[1]) &&
	    !(tolower((unsigned char)rest[0]) == 'i' && tolower((unsigned char)rest[1]) == 'b' &&
	      !rest[2]))
		return -EINVAL;
	*out = v;
	return 0;
}

/* s with its %XX escapes decoded, ASCII lowered, into out (cut to cap - 1 bytes). */
static void url_decode_lower(const char *s, char *out, size_t cap)
{
	size_t k = 0;
	for (const char *p = s; *p && k + 1 < cap; p++) {
		unsigned v;
		char c = *p;
		if (c == '%' && sscanf(p + 1, "%2x", &v) == 1 && isxdigit((unsigned char)p[1]) &&
		    isxdigit((unsigned char)p[2])) {
			c = (char)v;
			p += 2;
		}
		out[k++] = (char)tolower((unsigned char)c);
	}
	out[k] = '\0';
}

bool url_has_password(const char *s)
{
	char d[4096];
	url_decode_lower(s, d, sizeof(d));
	if (strstr(d, "password=") || strstr(d, "password ="))
		return true; /* a keyword, in key=value words or a URL's query */
	const char *scheme = strstr(d, "://");
	if (!scheme)
		return false;
	const char *host = scheme + 3, *at = strchr(host, '@'), *slash = strchr(host, '/');
	return at && (!slash || at < slash) && memchr(host, ':', (size_t)(at - host));
}

static int check_value(struct config *c, size_t i, const char *v, const char *from)
{
	const struct opt_def *d = &c->defs[i];
	int64_t x = 0;
	int rc = 0;
	const char *label = d->name ? d->name : d->env;
	switch (d->kind) {
	case OPT_INT: {
		char *end = NULL;
		errno = 0;
		long long t = strtoll(v, &end, 10);
		if (errno || end == v || *end)
			rc = -EINVAL;
		x = t;
		break;
	}
	case OPT_DURATION:
		rc = parse_duration(v, &x);
		break;
	case OPT_SIZE:
		rc = parse_size(v, &x);
		break;
	case OPT_URL:
		if (strcmp(from, "the command line") == 0 && url_has_password(v)) {
			snprintf(c->err, sizeof(c->err),
				 "'--%s' holds a password, which the command line shows to every "
				 "user: put it in %s (or %s in a config file)",
				 label,
				 d->env && !strcmp(d->env, "SIEM_AMQP_URL")
				     ? "SIEM_AMQP_PASSWORD or --amqp-password-file"
				     : "PGPASSFILE or PGPASSWORD",
				 d->env ? d->env : "the setting");
			return -EINVAL;
		}
		return 0;
	default:
		return 0;
	}
	if (rc == 0 && (d->min || d->max) && (x < d->min || x > d->max))
		rc = -ERANGE;
	if (rc < 0) {
		snprintf(c->err, sizeof(c->err), "invalid value for '%s' (from %s): '%s'", label,
			 from, d->secret ? "***" : v);
		return -EINVAL;
	}
	return 0;
}

static int load_file(struct config *c, const char *path, bool *seen)
{
	char *text = NULL;
	size_t n = 0;
	int rc = file_read_all(path, CONFIG_FILE_MAX, &text, &n);
	if (rc == -ENOMEM)
		return rc;
	if (rc == SIEM_ETOOBIG) {
		snprintf(c->err, sizeof(c->err), "config file '%s' is larger than 1 MiB", path);
		return -EINVAL;
	}
	if (rc < 0) {
		snprintf(c->err, sizeof(c->err), "cannot open config file '%s': %s", path,
			 strerror(-rc));
		return -EINVAL;
	}
	c->file_text = text;
	int line = 0;
	for (char *p = text; p && *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		line++;
		char *s = p;
		p = nl ? nl + 1 : NULL;
		while (isspace((unsigned char)*s))
			s++;
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(c->err, sizeof(c->err), "%s:%d: expected 'name = value'", path,
				 line);
			return -EINVAL;
		}
		char *ke = eq;
		while (ke > s && isspace((unsigned char)ke[-1]))
			ke--;
		char *v = eq + 1;
		while (isspace((unsigned char)*v))
			v++;
		char *ve = v + strlen(v);
		while (ve > v && isspace((unsigned char)ve[-1]))
			*--ve = '\0';
		if (ve - v >= 2 && (*v == '"' || *v == '\'') && ve[-1] == *v) {
			ve[-1] = '\0';
			v++;
		}
		long i = find_any(c, s, (size_t)(ke - s));
		if (i < 0) {
			snprintf(c->err, sizeof(c->err), "%s:%d: unknown setting '%.*s'", path,
				 line, (int)(ke - s), s);
			return -EINVAL;
		}
		if (seen[i])
			continue; /* a flag or environment variable already set it */
		if (check_value(c, (size_t)i, v, path) < 0)
			return -EINVAL;
		c->val[i] = v;
	}
	return 0;
}

int config_parse(struct config *c, int argc, char **argv, const char **pos, size_t maxpos,
		 size_t *npos)
{
	bool *seen = calloc(c->n ? c->n : 1, sizeof(bool));
	const char *file = NULL;
	int rc = 0;
	if (!seen)
		return -ENOMEM;
	*npos = 0;
	for (int k = 0; k < argc; k++) {
		const char *a = argv[k];
		if (strcmp(a, "--") == 0) {
			for (k++; k < argc; k++) {
				if (*npos >= maxpos)
					goto too_many;
				pos[(*npos)++] = argv[k];
			}
			break;
		}
		if (strncmp(a, "--", 2) != 0 || !a[2]) {
			if (*npos >= maxpos)
				goto too_many;
			pos[(*npos)++] = a;
			continue;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		long i = find(c, name, len);
		if (i < 0) {
			snprintf(c->err, sizeof(c->err), "unknown option '--%.*s'", (int)len, name);
			rc = -EINVAL;
			goto out;
		}
		const char *v;
		if (c->defs[i].kind == OPT_FLAG && !eq) {
			v = "1";
		} else if (eq) {
			v = eq + 1;
		} else if (k + 1 < argc) {
			v = argv[++k];
		} else {
			snprintf(c->err, sizeof(c->err), "option '--%s' needs a value",
				 c->defs[i].name);
			rc = -EINVAL;
			goto out;
		}
		if ((rc = check_value(c, (size_t)i, v, "the command line")) < 0)
			goto out;
		c->val[i] = v;
		seen[i] = true;
		if (strcmp(c->defs[i].name, "config") == 0)
			file = v;
	}
	for (size_t i = 0; i < c->n; i++) {
		const char *e = c->defs[i].env ? getenv(c->defs[i].env) : NULL;
		if (seen[i] || !e)
			continue;
		if ((rc = check_value(c, i, e, c->defs[i].env)) < 0)
			goto out;
		c->val[i] = e;
		seen[i] = true;
		if (c->defs[i].name && strcmp(c->defs[i].name, "config") == 0)
			file = e;
	}
	if (file && *file)
		rc = load_file(c, file, seen);
out:
	free(seen);
	return rc;
too_many:
	snprintf(c->err, sizeof(c->err), "too many arguments");
	free(seen);
	return -EINVAL;
}

static long idx(const struct config *c, const char *name)
{
	long i = find(c, name, strlen(name));
	return i >= 0 ? i : find_any(c, name, strlen(name));
}

const char *config_str(const struct config *c, const char *name)
{
	long i = idx(c, name);
	return i >= 0 ? c->val[i] : NULL;
}

bool config_is_default(const struct config *c, const char *name)
{
	long i = idx(c, name);
	return i < 0 || c->val[i] == c->defs[i].def;
}

int64_t config_int(const struct config *c, const char *name)
{
	long i = idx(c, name);
	int64_t x = 0;
	if (i < 0 || !c->val[i])
		return 0;
	switch (c->defs[i].kind) {
	case OPT_DURATION:
		parse_duration(c->val[i], &x);
		break;
	case OPT_SIZE:
		parse_size(c->val[i], &x);
		break;
	default:
		x = strtoll(c->val[i], NULL, 10);
		break;
	}
	return x;
}

bool config_flag(const struct config *c, const char *name)
{
	const char *v = config_str(c, name);
	return v && *v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 &&
	       strcasecmp(v, "no") != 0 && strcasecmp(v, "off") != 0;
}

void config_usage(const struct opt_def *defs, size_t n, FILE *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct opt_def *d = &defs[i];
		char left[64];
		const char *env = d->name ? d->env : NULL; /* environment-only: named on the left */
		if (d->name)
			snprintf(left, sizeof(left), "--%s%s%s", d->name, d->meta ? " " : "",
				 d->meta ? d->meta : "");
		else
			snprintf(left, sizeof(left), "%s", d->env);
		fprintf(out, "  %-28s %s", left, d->help);
		if (env || (d->def && *d->def)) {
			fprintf(out, " [");
			if (env)
				fprintf(out, "env %s", env);
			if (d->def && *d->def)
				fprintf(out, "%sdefault %s", env ? "; " : "", d->def);
			fprintf(out, "]");
		}
		fputc('\n', out);
	}
}
