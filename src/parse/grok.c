/* grok.c — the standard pattern library and the expansion of %{NAME:field:type} references
 * into a PCRE2 pattern with named groups (expanded once, when decoders load). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "parse/grok.h"

#define MAX_DEPTH 16
#define MAX_RE (64 * 1024)

/* Written for this project in the spirit of grok's base library: permissive where the
 * decoder validates afterwards (addresses go through ip_parse), strict where a field ends. */
static const struct {
	const char *name, *re;
} std_lib[] = {
    /* words and numbers */
    {"WORD", "\\b\\w+\\b"},
    {"NOTSPACE", "\\S+"},
    {"SPACE", "\\s*"},
    {"DATA", ".*?"},
    {"GREEDYDATA", ".*"},
    {"INT", "(?:[+-]?[0-9]+)"},
    {"POSINT", "\\b(?:[1-9][0-9]*)\\b"},
    {"NONNEGINT", "\\b(?:[0-9]+)\\b"},
    {"NUMBER", "(?:[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+))"},
    {"BASE10NUM", "(?:[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+))"},
    {"BASE16NUM", "(?:[+-]?(?:0[xX])?[0-9A-Fa-f]+)"},
    {"QUOTEDSTRING", "(?:\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*')"},
    {"QS", "%{QUOTEDSTRING}"},
    {"UUID", "[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}"},
    /* names */
    {"USERNAME", "[a-zA-Z0-9._@$-]+"},
    {"USER", "%{USERNAME}"},
    {"EMAILLOCALPART", "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+"},
    {"EMAILADDRESS", "%{EMAILLOCALPART}@%{HOSTNAME}"},
    {"PROG", "[\\x21-\\x5a\\x5c\\x5e-\\x7e]+"},
    {"SYSLOGPROG", "%{PROG:program}(?:\\[%{POSINT:pid:int}\\])?"},
    /* networks */
    {"IPV4", "(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
	     "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?![0-9])"},
    /* Any run of hex groups and colons with at least two colons, optionally ending in an
     * IPv4 address (::ffff:192.0.2.1); ip_parse decides whether it is an address. */
    {"IPV6", "(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:%{IPV4}|[0-9A-Fa-f]{1,4}|(?<=:))"
	     "(?:%[0-9A-Za-z]+)?(?![0-9A-Fa-f:.])"},
    {"IP", "(?:%{IPV6}|%{IPV4})"},
    {"HOSTNAME", "\\b(?:[0-9A-Za-z_][0-9A-Za-z_-]{0,62})(?:\\.(?:[0-9A-Za-z_][0-9A-Za-z_-]{0,62}))*"
		 "\\.?"},
    {"HOST", "%{HOSTNAME}"},
    {"IPORHOST", "(?:%{IP}|%{HOSTNAME})"},
    {"HOSTPORT", "%{IPORHOST}:%{POSINT}"},
    {"MAC", "(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}"},
    {"PORT", "\\b(?:[0-9]{1,5})\\b"},
    /* paths and URIs */
    {"UNIXPATH", "(?:/[^\\s/]*)+"},
    {"PATH", "%{UNIXPATH}"},
    {"URIPROTO", "[A-Za-z][A-Za-z0-9+.-]+"},
    {"URIPATH", "(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\\-]*)+"},
    {"URIPARAM", "\\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\\-\\[\\]<>]*"},
    {"URIPATHPARAM", "%{URIPATH}(?:%{URIPARAM})?"},
    {"URI", "%{URIPROTO}://(?:[^@/\\s]+@)?%{IPORHOST}(?::%{POSINT})?(?:%{URIPATHPARAM})?"},
    /* time */
    {"MONTH", "\\b(?:[Jj]an(?:uary)?|[Ff]eb(?:ruary)?|[Mm]ar(?:ch)?|[Aa]pr(?:il)?|[Mm]ay|"
	      "[Jj]une?|[Jj]uly?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo]ct(?:ober)?|"
	      "[Nn]ov(?:ember)?|[Dd]ec(?:ember)?)\\b"},
    {"MONTHNUM", "(?:0?[1-9]|1[0-2])"},
    {"MONTHDAY", "(?:0?[1-9]|[12][0-9]|3[01])"},
    {"DAY", "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"},
    {"YEAR", "(?:\\d\\d){1,2}"},
    {"HOUR", "(?:2[0-3]|[01]?[0-9])"},
    {"MINUTE", "(?:[0-5][0-9])"},
    {"SECOND", "(?:[0-5]?[0-9]|60)(?:[.,][0-9]+)?"},
    {"TIME", "%{HOUR}:%{MINUTE}(?::%{SECOND})?"},
    {"ISO8601_TIMEZONE", "(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))"},
    {"TIMESTAMP_ISO8601", "%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?"
			  "%{ISO8601_TIMEZONE}?"},
    {"SYSLOGTIMESTAMP", "%{MONTH} +%{MONTHDAY} %{TIME}"},
    {"HTTPDATE", "%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}"},
    {"LOGLEVEL", "(?:[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo|INFO|[Ww]arn(?:ing)?|"
		 "WARN(?:ING)?|[Ee]rr(?:or)?|ERR(?:OR)?|[Cc]rit(?:ical)?|CRIT(?:ICAL)?|"
		 "[Ff]atal|FATAL|[Ee]merg(?:ency)?|EMERG(?:ENCY)?|[Aa]lert|ALERT)"},
};

const char *grok_std(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(std_lib) / sizeof(std_lib[0]); i++)
		if (strlen(std_lib[i].name) == n && !memcmp(std_lib[i].name, name, n))
			return std_lib[i].re;
	return NULL;
}

static const char *lookup(const struct grok_lib *lib, const char *name, size_t n)
{
	if (lib)
		for (size_t i = 0; i < lib->n; i++)
			if (strlen(lib->names[i]) == n && !memcmp(lib->names[i], name, n))
				return lib->defs[i];
	return grok_std(name, n);
}

static bool name_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

static int fail(struct grok_out *out, const char *fmt, const char *s, size_t n)
{
	snprintf(out->err, sizeof(out->err), fmt, (int)(n > 64 ? 64 : n), s);
	return SIEM_EPARSE;
}

/* One %{...} reference at s (after "%{", up to the '}' at end). */
static int expand_ref(const char *s, const char *end, const struct grok_lib *lib,
		      struct grok_out *out, int depth);

static int expand(const char *src, const struct grok_lib *lib, struct grok_out *out, int depth)
{
	int rc;
	if (depth > MAX_DEPTH)
		return fail(out, "patterns nest deeper than 16 levels at '%.*s'", src, strlen(src));
	const char *p = src;
	while (*p) {
		const char *pct = strstr(p, "%{");
		/* "\%{" is a literal percent sign followed by a brace. */
		while (pct && pct > src && pct[-1] == '\\')
			pct = strstr(pct + 2, "%{");
		if (!pct)
			return strbuf_add(&out->re, p, strlen(p));
		if ((rc = strbuf_add(&out->re, p, (size_t)(pct - p))))
			return rc;
		const char *close = strchr(pct + 2, '}');
		if (!close)
			return fail(out, "unclosed '%%{' at '%.*s'", pct, strlen(pct));
		if ((rc = expand_ref(pct + 2, close, lib, out, depth)))
			return rc;
		p = close + 1;
	}
	return 0;
}

static int expand_ref(const char *s, const char *end, const struct grok_lib *lib,
		      struct grok_out *out, int depth)
{
	const char *c1 = memchr(s, ':', (size_t)(end - s));
	const char *name_end = c1 ? c1 : end;
	size_t nn = (size_t)(name_end - s);
	for (size_t i = 0; i < nn; i++)
		if (!name_char(s[i], i == 0) && !(i && s[i] >= '0' && s[i] <= '9'))
			return fail(out, "bad pattern name '%.*s'", s, nn);
	if (!nn)
		return fail(out, "empty pattern name in '%%{%.*s}'", s, (size_t)(end - s));
	const char *def = lookup(lib, s, nn);
	if (!def)
		return fail(out, "unknown pattern '%.*s'", s, nn);

	int rc;
	struct grok_capture *cap = NULL;
	if (c1) {
		const char *f = c1 + 1, *c2 = memchr(f, ':', (size_t)(end - f));
		const char *fe = c2 ? c2 : end;
		size_t fn = (size_t)(fe - f);
		if (!fn || fn >= sizeof(cap->target))
			return fail(out, "bad field name '%.*s'", f, fn);
		for (size_t i = 0; i < fn; i++)
			if (!name_char(f[i], i == 0) && f[i] != '.')
				return fail(out, "bad field name '%.*s'", f, fn);
		bool as_int = false;
		if (c2) {
			size_t tn = (size_t)(end - c2 - 1);
			if (tn == 3 && !memcmp(c2 + 1, "int", 3))
				as_int = true;
			else if (!(tn == 6 && !memcmp(c2 + 1, "string", 6)))
				return fail(out, "unknown conversion '%.*s' (int or string)",
					    c2 + 1, tn);
		}
		/* The group's name: the field with '.' as '_', shared by every reference that
		 * names the same field (PCRE2_DUPNAMES). */
		char group[sizeof(cap->group)];
		size_t gn = fn < sizeof(group) - 1 ? fn : sizeof(group) - 1;
		for (size_t i = 0; i < gn; i++)
			group[i] = f[i] == '.' ? '_' : f[i];
		group[gn] = '\0';
		for (size_t i = 0; i < out->ncaps && !cap; i++)
			if (!strcmp(out->caps[i].group, group))
				cap = &out->caps[i];
		if (!cap) {
			if (out->ncaps == GROK_MAX_CAPTURES)
				return fail(out, "more than 32 fields at '%.*s'", f, fn);
			cap = &out->caps[out->ncaps++];
			memcpy(cap->group, group, gn + 1);
			memcpy(cap->target, f, fn);
			cap->target[fn] = '\0';
		}
		cap->as_int |= as_int;
		if ((rc = strbuf_addf(&out->re, "(?<%s>", cap->group)))
			return rc;
	} else if ((rc = strbuf_add(&out->re, "(?:", 3))) {
		return rc;
	}
	if ((rc = expand(def, lib, out, depth + 1)))
		return rc;
	return strbuf_add(&out->re, ")", 1);
}

void grok_out_init(struct grok_out *out)
{
	memset(out, 0, sizeof(*out));
	strbuf_init(&out->re, MAX_RE);
}

void grok_out_release(struct grok_out *out)
{
	strbuf_release(&out->re);
}

int grok_expand(const char *src, const struct grok_lib *lib, struct grok_out *out)
{
	int rc = expand(src, lib, out, 0);
	if (rc == -E2BIG)
		snprintf(out->err, sizeof(out->err), "expands to more than %d bytes", MAX_RE);
	if (!rc && !out->re.p) /* an empty pattern */
		rc = strbuf_add(&out->re, "", 0);
	return rc;
}
