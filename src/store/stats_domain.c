/* stats_domain.c — the domain of a DNS event, for its top-N counts, and the SQL functions
 * scans and backfills of the statistics call (siem_stats_domain, siem_stats_ip). */
#include <ctype.h>
#include <string.h>

#include "store/stats_int.h"

bool stats_dns_type(const char *t, size_t n)
{
	return t && n >= 3 && (t[0] == 'D' || t[0] == 'd') && (t[1] == 'N' || t[1] == 'n') &&
	       (t[2] == 'S' || t[2] == 's');
}

static bool domain_char(int c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

/* A host name: domain characters only, a dot inside, a letter somewhere (not an IPv4). */
static size_t domain_norm(const char *p, size_t n, char out[256])
{
	bool dot = false, alpha = false;
	while (n && p[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || p[0] == '.' || p[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!domain_char(c))
			return 0;
		dot |= c == '.' && i > 0;
		alpha |= isalpha(c) != 0;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return dot && alpha ? n : 0;
}

/* The string value of a top-level "domain" key in compact or spaced JSON object text;
 * escaped values are refused (no real domain needs one). */
static size_t data_domain(const char *d, size_t n, char out[256])
{
	int depth = 0;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == '"') {
			size_t s = ++i;
			bool esc = false;
			while (i < n && d[i] != '"') {
				if (d[i] == '\\') {
					esc = true;
					i++;
				}
				i++;
			}
			if (i >= n)
				return 0;
			size_t len = i - s;
			if (depth != 1 || esc || len != 6 || memcmp(d + s, "domain", 6) != 0)
				continue;
			size_t j = i + 1;
			while (j < n && isspace((unsigned char)d[j]))
				j++;
			if (j >= n || d[j] != ':')
				continue; /* a value that happens to read "domain" */
			j++;
			while (j < n && isspace((unsigned char)d[j]))
				j++;
			if (j >= n || d[j] != '"')
				return 0;
			size_t vs = ++j;
			while (j < n && d[j] != '"' && d[j] != '\\')
				j++;
			if (j >= n || d[j] != '"')
				return 0;
			return domain_norm(d + vs, j - vs, out);
		}
	}
	return 0;
}

/* The first whitespace-separated word of a message that is a host name. */
static size_t message_domain(const char *m, size_t n, char out[256])
{
	for (size_t i = 0; i < n;) {
		while (i < n && isspace((unsigned char)m[i]))
			i++;
		size_t s = i;
		bool dot = false;
		while (i < n && !isspace((unsigned char)m[i]))
			dot |= m[i++] == '.';
		size_t k = dot ? domain_norm(m + s, i - s, out) : 0;
		if (k)
			return k;
	}
	return 0;
}

size_t stats_event_domain(const char *type, size_t tn, const char *data, size_t dn, const char *msg,
			  size_t mn, char out[256])
{
	size_t k = 0;
	if (!stats_dns_type(type, tn))
		return 0;
	if (data && (k = data_domain(data, dn, out)))
		return k;
	return msg ? message_domain(msg, mn, out) : 0;
}

/* siem_stats_domain(event_type, data, message): the same, for scans and backfills. */
static void fn_domain(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	char out[256];
	size_t k = stats_event_domain(
	    (const char *)sqlite3_value_text(argv[0]), (size_t)sqlite3_value_bytes(argv[0]),
	    (const char *)sqlite3_value_text(argv[1]), (size_t)sqlite3_value_bytes(argv[1]),
	    (const char *)sqlite3_value_text(argv[2]), (size_t)sqlite3_value_bytes(argv[2]), out);
	if (k)
		sqlite3_result_text(ctx, out, (int)k, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
}

/* siem_stats_ip(ip blob): canonical text, as the API writes source_ip. */
static void fn_ip(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	char buf[46];
	if (sqlite3_value_bytes(argv[0]) != 16) {
		sqlite3_result_null(ctx);
		return;
	}
	size_t n = ip_format(sqlite3_value_blob(argv[0]), buf);
	sqlite3_result_text(ctx, buf, (int)n, SQLITE_TRANSIENT);
}

int stats_register_fns(sqlite3 *db)
{
	if (sqlite3_create_function(db, "siem_stats_domain", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, fn_domain, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "siem_stats_ip", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, fn_ip, NULL, NULL) != SQLITE_OK)
		return store_sql_err(db, "stats functions");
	return 0;
}
