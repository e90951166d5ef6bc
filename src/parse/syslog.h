/* syslog.h — one syslog message (RFC 5424, RFC 3164 and the variants real devices send)
 * split into its parts. The parts point into the caller's buffer. */
#ifndef SIEM_SYSLOG_H
#define SIEM_SYSLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/event.h"

struct syslog_msg {
	int pri;		/* -1 when the message has no <PRI> */
	int facility, severity; /* from pri, -1 when absent */
	int64_t ts;		/* UTC microseconds; 0 when the message has no timestamp */
	bool rfc5424;
	bool ts_local; /* ts is a wall-clock time without a zone (RFC 3164), read as UTC */
	struct sv host, app, procid, msgid, sd, msg; /* p == NULL when absent */
};

/* Parse one message. now_us completes a timestamp without a year (RFC 3164: the latest year
 * that puts its date no later than tomorrow, so February lines read in November stay in
 * this year and a "Dec 10" line read on December 6th is last year's). A time without a
 * zone is read as UTC and flagged ts_local: the caller may know the sender's zone.
 * Leading BOM, trailing NULs, CR and LF are ignored. Anything that is not recognizable
 * syslog becomes the whole msg. Returns 0, or SIEM_EPARSE for an empty message. */
int syslog_parse(const char *p, size_t n, int64_t now_us, struct syslog_msg *m);

/* Does p[0..n) start like a whole syslog line ("<PRI>", "Mmm dd ", "YYYY-MM-DDT")? A cheap
 * test before syslog_parse, for messages that may carry a line of their own. */
bool syslog_looks_like_line(const char *p, size_t n);

/* Severity 0..7 as the level name used in events ("EMERG" ... "DEBUG"); NULL outside 0..7
 * (no PRI, no level). */
const char *syslog_level_name(int severity);

#endif
