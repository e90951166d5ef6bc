/* channels.c — the notification channels file: [channel NAME] sections of name = value
 * settings, checked and turned into notify_channel_config (format in docs/alerting.md). */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "core/file.h"
#include "notify/notify.h"

void notify_config_free(struct notify_channel_config *ch, size_t n)
{
	for (size_t i = 0; ch && i < n; i++) {
		struct notify_channel_config *c = &ch[i];
		free(c->url);
		free(c->ca_file);
		free(c->user);
		if (c->password)
			explicit_bzero(c->password, strlen(c->password));
		free(c->password);
		free(c->from);
		if (c->secret)
			explicit_bzero(c->secret, strlen(c->secret));
		free(c->secret);
		free(c->rules);
		free(c->rule_tags);
		for (size_t k = 0; k < c->n_to; k++)
			free(c->to[k]);
		for (size_t k = 0; k < c->n_headers; k++)
			free(c->headers[k]);
	}
	free(ch);
}

static int parse_ms(const char *v, int64_t *out)
{
	size_t n = strlen(v);
	if (n > 2 && strcmp(v + n - 2, "ms") == 0) {
		char *end = NULL;
		errno = 0;
		long long x = strtoll(v, &end, 10);
		if (errno || end != v + n - 2 || x < 0)
			return -EINVAL;
		*out = x;
		return 0;
	}
	int64_t s;
	if (parse_duration(v, &s) < 0 || s > INT64_MAX / 1000)
		return -EINVAL;
	*out = s * 1000;
	return 0;
}

static bool valid_address(const char *v)
{
	const char *at = strchr(v, '@');
	if (!at || at == v || !at[1])
		return false;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ',' || *p == ';' || *p == '"' || *p == '\\')
			if (*p != ' ')
				return false;
	return true;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		s++;
	}
	return s;
}

struct cfg_parse {
	char *err;
	size_t errlen;
	int line;
};

static int cfg_fail(struct cfg_parse *p, const char *fmt, const char *arg)
{
	char msg[256], a[128];
	snprintf(a, sizeof(a), "%.100s", arg);
	snprintf(msg, sizeof(msg), fmt, a);
	snprintf(p->err, p->errlen, "channels: line %d: %s", p->line, msg);
	return SIEM_EPARSE;
}

/* Value with ${NAME} replaced by the environment variable (secrets stay out of the file). */
static int expand(struct cfg_parse *p, const char *v, char **out)
{
	size_t n = strlen(v);
	if (n > 3 && v[0] == '$' && v[1] == '{' && v[n - 1] == '}') {
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)(n - 3), v + 2);
		const char *e = getenv(name);
		if (!e)
			return cfg_fail(p, "environment variable '%s' is not set", name);
		v = e;
	}
	return (*out = strdup(v)) ? 0 : -ENOMEM;
}

/* ---- the settings of a [channel] section: one row each ---- */

enum setting_type {
	SET_WORD,      /* one of words[], into an enum field */
	SET_LEVEL,     /* a level name or 1..5: the minimum severity */
	SET_INT,       /* an int in min..max */
	SET_SIZE,      /* a size_t in min..max */
	SET_MS,	       /* a duration (250ms, 2s, 5m) in ms, min..max */
	SET_STRING,    /* a string; ${NAME} is read from the environment */
	SET_ADDRESS,   /* a string that must be an email address */
	SET_ADDRESSES, /* comma-separated email addresses, added to to[] */
	SET_HEADER,    /* "Name: value" (${NAME} expanded), added to headers[] */
	SET_MS_OFF,    /* SET_MS, or "off" for 0 */
	SET_RATE,      /* "N/duration" (20/1h) into rate_limit and rate_window_ms, or "off" */
	SET_BOOL,      /* true, false, yes, no, on, off, 1, 0 */
};

struct keyword {
	const char *name;
	int value;
};

struct setting {
	const char *name;
	enum setting_type type;
	size_t off; /* the field of struct notify_channel_config */
	long long min, max;
	const struct keyword *words; /* SET_WORD, ending with a NULL name */
	const char *err;	     /* why a value is refused ('%s' is the value) */
};

#define FIELD(f) offsetof(struct notify_channel_config, f)

static const struct keyword kinds[] = {
    {"email", NOTIFY_EMAIL},
    {"smtp", NOTIFY_EMAIL},
    {"webhook", NOTIFY_WEBHOOK},
    {"slack", NOTIFY_SLACK},
    {NULL, 0},
};
static const struct keyword tls_modes[] = {
    {"off", NOTIFY_TLS_OFF},	       {"no", NOTIFY_TLS_OFF},	     {"try", NOTIFY_TLS_TRY},
    {"required", NOTIFY_TLS_REQUIRED}, {"yes", NOTIFY_TLS_REQUIRED}, {NULL, 0},
};
/* SET_WORD stores an int into the enum field. */
_Static_assert(sizeof(enum notify_kind) == sizeof(int), "enum notify_kind is an int");
_Static_assert(sizeof(enum notify_tls) == sizeof(int), "enum notify_tls is an int");

/* clang-format off */
static const struct setting settings[] = {
	{ "type", SET_WORD, FIELD(kind), 0, 0, kinds,
	  "type must be email, webhook or slack, not '%s'" },
	{ "min_level", SET_LEVEL, FIELD(min_severity), 0, 0, NULL,
	  "min_level must be informational, low, medium, high or critical, not '%s'" },
	{ "retries", SET_INT, FIELD(retries), 0, 100, NULL, "retries must be 0..100, not '%s'" },
	{ "backoff", SET_MS, FIELD(backoff_ms), 1, 86400000LL, NULL,
	  "'%s' is not a duration (250ms, 2s, 5m)" },
	{ "backoff_max", SET_MS, FIELD(backoff_max_ms), 1, 86400000LL, NULL,
	  "'%s' is not a duration (250ms, 2s, 5m)" },
	{ "timeout", SET_MS, FIELD(timeout_ms), 1, 86400000LL, NULL,
	  "'%s' is not a duration (250ms, 2s, 5m)" },
	{ "queue", SET_SIZE, FIELD(queue_max), 1, 100000, NULL,
	  "queue must be 1..100000, not '%s'" },
	{ "starttls", SET_WORD, FIELD(starttls), 0, 0, tls_modes,
	  "starttls must be off, try or required, not '%s'" },
	{ "to", SET_ADDRESSES, FIELD(to), 0, 0, NULL, "'%s' is not an email address" },
	{ "header", SET_HEADER, FIELD(headers), 0, 0, NULL,
	  "header must be 'Name: value', not '%s'" },
	{ "url", SET_STRING, FIELD(url), 0, 0, NULL, NULL },
	{ "ca_file", SET_STRING, FIELD(ca_file), 0, 0, NULL, NULL },
	{ "user", SET_STRING, FIELD(user), 0, 0, NULL, NULL },
	{ "password", SET_STRING, FIELD(password), 0, 0, NULL, NULL },
	{ "from", SET_ADDRESS, FIELD(from), 0, 0, NULL, "'%s' is not an email address" },
	{ "secret", SET_STRING, FIELD(secret), 0, 0, NULL, NULL },
	{ "rules", SET_STRING, FIELD(rules), 0, 0, NULL, NULL },
	{ "rule_tags", SET_STRING, FIELD(rule_tags), 0, 0, NULL, NULL },
	{ "digest", SET_MS_OFF, FIELD(digest_ms), 1, 7 * 86400000LL, NULL,
	  "digest must be off or a duration up to 7d (15m, 1h), not '%s'" },
	{ "digest_max_severity", SET_LEVEL, FIELD(digest_max_severity), 0, 0, NULL,
	  "digest_max_severity must be 1..5 or informational, low, medium, high, critical, "
	  "not '%s'" },
	{ "rate_limit", SET_RATE, FIELD(rate_limit), 1, 100000, NULL,
	  "rate_limit must be off or N/duration (20/1h; N 1..100000, up to 7d), not '%s'" },
	{ "backfill", SET_BOOL, FIELD(backfill), 0, 0, NULL,
	  "backfill must be true or false, not '%s'" },
};
/* clang-format on */

static int set_addresses(struct cfg_parse *p, const struct setting *s,
			 struct notify_channel_config *c, const char *v)
{
	char buf[2048];
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		t = trim(t);
		if (!*t)
			continue;
		if (!valid_address(t))
			return cfg_fail(p, s->err, t);
		if (c->n_to >= NOTIFY_MAX_TO)
			return cfg_fail(p, "more than %s recipients", "32");
		if (!(c->to[c->n_to] = strdup(t)))
			return -ENOMEM;
		c->n_to++;
	}
	return 0;
}

/* "20/1h": 20 messages per hour; "off". */
static int set_rate(struct cfg_parse *p, const struct setting *s, struct notify_channel_config *c,
		    const char *v)
{
	char *end = NULL;
	int64_t w;
	if (strcmp(v, "off") == 0) {
		c->rate_limit = 0;
		c->rate_window_ms = 0;
		return 0;
	}
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end != '/' || n < s->min || n > s->max ||
	    parse_ms(end + 1, &w) < 0 || w < 1 || w > 7 * 86400000LL)
		return cfg_fail(p, s->err, v);
	c->rate_limit = (int)n;
	c->rate_window_ms = w;
	return 0;
}

static const struct keyword bools[] = {
    {"true", 1}, {"yes", 1}, {"on", 1}, {"1", 1}, {"false", 0}, {"no", 0}, {"off", 0}, {"0", 0},
};

static int set_key(struct cfg_parse *p, struct notify_channel_config *c, const char *k,
		   const char *v, bool *have_type)
{
	const struct setting *s = NULL;
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]) && !s; i++)
		if (strcmp(settings[i].name, k) == 0)
			s = &settings[i];
	if (!s)
		return cfg_fail(p, "unknown setting '%s'", k);
	char *field = (char *)c + s->off;
	int64_t x;
	switch (s->type) {
	case SET_WORD:
		for (const struct keyword *w = s->words; w->name; w++)
			if (strcmp(v, w->name) == 0) {
				memcpy(field, &w->value, sizeof(int));
				if (s->off == FIELD(kind))
					*have_type = true;
				return 0;
			}
		return cfg_fail(p, s->err, v);
	case SET_LEVEL:
		if ((*(int *)field = notify_level_severity(v)) < 0)
			return cfg_fail(p, s->err, v);
		return 0;
	case SET_INT:
	case SET_SIZE: {
		char *end = NULL;
		long r = strtol(v, &end, 10);
		if (!*v || *end || r < s->min || r > s->max)
			return cfg_fail(p, s->err, v);
		if (s->type == SET_INT)
			*(int *)field = (int)r;
		else
			*(size_t *)field = (size_t)r;
		return 0;
	}
	case SET_MS:
	case SET_MS_OFF:
		if (s->type == SET_MS_OFF && strcmp(v, "off") == 0)
			x = 0;
		else if (parse_ms(v, &x) < 0 || x < s->min || x > s->max)
			return cfg_fail(p, s->err, v);
		*(int64_t *)field = x;
		return 0;
	case SET_RATE:
		return set_rate(p, s, c, v);
	case SET_BOOL:
		for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
			if (strcmp(v, bools[i].name) == 0) {
				*(bool *)field = bools[i].value;
				return 0;
			}
		return cfg_fail(p, s->err, v);
	case SET_ADDRESSES:
		return set_addresses(p, s, c, v);
	case SET_HEADER: {
		const char *colon = strchr(v, ':');
		if (!colon || colon == v)
			return cfg_fail(p, s->err, v);
		if (c->n_headers >= NOTIFY_MAX_HEADERS)
			return cfg_fail(p, "more than %s headers", "8");
		return expand(p, v, &c->headers[c->n_headers++]);
	}
	case SET_ADDRESS:
		if (!valid_address(v))
			return cfg_fail(p, s->err, v);
		/* fall through */
	case SET_STRING: {
		char **slot = (char **)field;
		free(*slot);
		*slot = NULL;
		return expand(p, v, slot);
	}
	}
	return cfg_fail(p, "unknown setting '%s'", k);
}

static bool has_scheme(const char *url, const char *a, const char *b)
{
	return url && (strncmp(url, a, strlen(a)) == 0 || strncmp(url, b, strlen(b)) == 0);
}

static int check_channel(struct cfg_parse *p, struct notify_channel_config *c, bool have_type)
{
	if (!have_type)
		return cfg_fail(p, "channel '%s' has no type", c->name);
	if (c->kind == NOTIFY_EMAIL) {
		if (!has_scheme(c->url, "smtp://", "smtps://"))
			return cfg_fail(p, "channel '%s': url must be smtp:// or smtps://",
					c->name);
		if (!c->from || c->n_to == 0)
			return cfg_fail(p, "channel '%s': email needs from and to", c->name);
	} else if (!has_scheme(c->url, "http://", "https://")) {
		return cfg_fail(p, "channel '%s': url must be http:// or https://", c->name);
	}
	if (c->backoff_max_ms < c->backoff_ms)
		c->backoff_max_ms = c->backoff_ms;
	return 0;
}

static void channel_defaults(struct notify_channel_config *c)
{
	c->min_severity = 2;
	c->retries = 5;
	c->backoff_ms = 1000;
	c->backoff_max_ms = 300000;
	c->timeout_ms = 10000;
	c->queue_max = 256;
	c->digest_max_severity = 2;
}

int notify_config_parse(const char *text, size_t len, struct notify_channel_config **out, size_t *n,
			char *err, size_t errlen)
{
	struct cfg_parse p = {err, errlen, 0};
	struct notify_channel_config *ch = calloc(NOTIFY_MAX_CHANNELS, sizeof(*ch));
	size_t cnt = 0;
	bool have_type = false;
	int rc = 0;
	char line[4096];
	*out = NULL;
	*n = 0;
	err[0] = '\0';
	if (!ch)
		return -ENOMEM;
	for (size_t off = 0; off < len && rc == 0;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (text + off)) : len - off;
		p.line++;
		if (ll >= sizeof(line)) {
			rc = cfg_fail(&p, "line longer than %s bytes", "4095");
			break;
		}
		memcpy(line, text + off, ll);
		line[ll] = '\0';
		off += ll + (nl ? 1 : 0);
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || e[1 + strspn(e + 1, " \t\r")] != '\0') {
				rc = cfg_fail(&p, "malformed section '%s'", s);
				break;
			}
			*e = '\0';
			char *name = trim(s + 1);
			if (strncmp(name, "channel ", 8) == 0)
				name = trim(name + 8);
			size_t nlen = strlen(name);
			if (nlen == 0 || nlen > 48 ||
			    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "abcdefghijklmnopqrstuvwxyz0123456789_.-") != nlen) {
				rc = cfg_fail(
				    &p, "channel name '%s' must be 1..48 of A-Z a-z 0-9 _ . -",
				    name);
				break;
			}
			for (size_t i = 0; i < cnt; i++)
				if (strcmp(ch[i].name, name) == 0)
					rc = cfg_fail(&p, "channel '%s' defined twice", name);
			if (rc == 0 && cnt && (rc = check_channel(&p, &ch[cnt - 1], have_type)) < 0)
				break;
			if (rc == 0 && cnt == NOTIFY_MAX_CHANNELS)
				rc = cfg_fail(&p, "more than %s channels", "32");
			if (rc < 0)
				break;
			channel_defaults(&ch[cnt]);
			memcpy(ch[cnt].name, name, nlen + 1);
			cnt++;
			have_type = false;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = cfg_fail(&p, "expected 'name = value', got '%s'", s);
			break;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		if (cnt == 0) {
			rc = cfg_fail(&p, "'%s' outside a [channel] section", k);
			break;
		}
		rc = set_key(&p, &ch[cnt - 1], k, v, &have_type);
	}
	if (rc == 0 && cnt) {
		p.line++;
		rc = check_channel(&p, &ch[cnt - 1], have_type);
	}
	explicit_bzero(line, sizeof(line));
	if (rc < 0) {
		notify_config_free(ch, cnt);
		return rc;
	}
	*out = ch;
	*n = cnt;
	return 0;
}

int notify_config_load(const char *path, struct notify_channel_config **out, size_t *n, char *err,
		       size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = file_read_all(path, 1024 * 1024, &buf, &len);
	if (rc == SIEM_ETOOBIG)
		snprintf(err, errlen, "'%s' is larger than 1 MiB", path);
	else if (rc < 0 && rc != -ENOMEM)
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(-rc));
	if (rc < 0)
		return rc;
	char perr[400];
	rc = notify_config_parse(buf, len, out, n, perr, sizeof(perr));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, perr);
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}
