/* decode.h — decoders for programs' syslog messages (sshd, sudo, su, pam_unix, useradd and
 * friends, systemd-logind, and whatever the user's decoder files add): YAML decoder files
 * of grok-style patterns that turn a program's message into a typed event (LOGIN_FAIL,
 * LOGIN_SUCCESS, SUDO_ESCALATION, ACCOUNT_CREATE, ...). docs/parsing.md describes them. */
#ifndef SIEM_DECODE_H
#define SIEM_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/event.h"

/* What matched, for `minisiem logtest --explain`. */
struct decode_explain {
	const char *decoder; /* "sshd", or NULL when nothing matched */
	const char *pattern; /* the pattern's name, e.g. "failed_password", or "generic" */
	const char *file;    /* the decoder's file: "builtin:sshd.yml" or a path */
	char fields[1024];   /* "user=root source_ip=1.2.3.4 ..." */
};

/* Load the built-in decoders once (thread-safe to call more than once). */
int decode_init(void);
void decode_release(void);

/* Load the decoder files of dir (NULL: none), tried before the built-in ones, and swap them
 * in; lines being decoded finish with the set they started with. On error the set in force
 * stays and err says why ("FILE:LINE: decoder 'D' pattern 'P': ..."). */
int decode_load(const char *dir, char *err, size_t errlen);
/* Read the folder of the last decode_load again (SIGHUP); on error the old set stays. */
int decode_reload(char *err, size_t errlen);

/* Call fn for every pattern of the set in force, in the order they are tried; stops at and
 * returns fn's first nonzero result. */
int decode_each_pattern(int (*fn)(void *arg, const char *decoder, const char *file,
				  const char *pattern),
			void *arg);

/* Decode ev->message as a message of program ev->app (from syslog or journald). On a
 * match sets event_type, severity, user, source_ip and adds fields to ev->data (in a).
 * Returns 1 on a match, 0 when no pattern matched (ev unchanged), negative on error. */
int decode_auth(struct event *ev, struct arena *a, struct decode_explain *ex);

#endif
