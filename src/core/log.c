/* log.c — stderr logger: "2026-11-21T07:43:54Z info store: message". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum log_level cur_level = LOG_LVL_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level lvl)
{
	cur_level = lvl;
}
enum log_level log_get_level(void)
{
	return cur_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -22; /* -EINVAL */
}

/* Control characters in a message would let a logged value (a user name, a path) forge
 * lines of its own or move the terminal: they are written as \n, \r, \t or \xNN. */
static size_t escape_controls(char *out, size_t cap, const char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		char esc = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
		if (c >= 0x20 && c != 0x7f) {
			if (o + 1 > cap)
				break;
			out[o++] = (char)c;
		} else if (esc) {
			if (o + 2 > cap)
				break;
			out[o++] = '\\';
			out[o++] = esc;
		} else {
			if (o + 4 > cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	return o;
}

void log_msg(enum log_level lvl, const char *subsys, const char *fmt, ...)
{
	if (lvl > cur_level)
		return;
	char line[2048], msg[2048], stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	int n = snprintf(line, sizeof(line), "%s %s %s: ", stamp, names[lvl], subsys);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t mlen = m < 0 ? 0 : (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1;
	size_t len = (size_t)n + escape_controls(line + n, sizeof(line) - 1 - (size_t)n, msg, mlen);
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}
