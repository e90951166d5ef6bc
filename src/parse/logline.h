/* logline.h — one raw log line of any supported format into a normalized event: the single
 * path shared by `minisiem logtest`, the hub's tailer and syslog receivers, and the agent. */
#ifndef SIEM_LOGLINE_H
#define SIEM_LOGLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/event.h"
#include "parse/decode.h"

struct tz_map;

enum log_format {
	FMT_AUTO,   /* JSON object -> jsonl, <Event -> winxml, else syslog */
	FMT_SYSLOG, /* RFC 5424 / 3164, then the auth decoders on the message */
	FMT_AUTH,   /* a line of /var/log/auth.log or /var/log/secure (syslog file format) */
	FMT_JSONL,  /* a JSON-lines application log */
	FMT_WINXML, /* a Windows <Event> XML document on one line */
};

int log_format_parse(const char *s, enum log_format *out);

struct logline_ctx {
	const char *source;  /* "tail", "syslog_udp", "syslog_tcp", "logtest", "agent" */
	const char *os_type; /* default os_type ("LINUX" for auth lines), NULL for none */
	const char *host;    /* default source_host (e.g. the sender's address), NULL for none */
	const struct tz_map *zones; /* the zone of times written without one; NULL: UTC */
};

/* Returns 0, or SIEM_EPARSE / SIEM_ESCHEMA with the reason in err (the line then belongs in
 * dead_letters). ex may be NULL. Strings are copied into a. The event id is a fresh v4 with
 * EV_ID_GENERATED set unless the line carried one: file sources replace it with a
 * deterministic one. */
int logline_to_event(enum log_format fmt, const char *line, size_t n, const struct logline_ctx *ctx,
		     int64_t now_us, struct event *ev, struct arena *a, char *err, size_t errlen,
		     struct decode_explain *ex);

#endif
