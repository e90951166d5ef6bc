/* decode.h — decoders for Linux auth programs (sshd, sudo, su, pam_unix, useradd and
 * friends, systemd-logind): a table of PCRE2 patterns that turn a program's message into a
 * typed event (LOGIN_FAIL, LOGIN_SUCCESS, SUDO_ESCALATION, ACCOUNT_CREATE, ...). */
#ifndef SIEM_DECODE_H
#define SIEM_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/event.h"

/* What matched, for `minisiem logtest --explain`. */
struct decode_explain {
	const char *decoder; /* "sshd", or NULL when nothing matched */
	const char *pattern; /* the pattern's name, e.g. "failed_password" */
	char fields[1024];   /* "user=root source_ip=1.2.3.4 ..." */
};

/* Compile the pattern table once (thread-safe to call more than once). */
int decode_init(void);
void decode_release(void);

/* Decode ev->message as a message of program ev->app (from syslog or journald). On a
 * match sets event_type, severity, user, source_ip and adds fields to ev->data (in a).
 * Returns 1 on a match, 0 when no pattern matched (ev unchanged), negative on error. */
int decode_auth(struct event *ev, struct arena *a, struct decode_explain *ex);

#endif
