/* auditd.h — Linux audit records (/var/log/audit/audit.log, audispd/audisp-syslog lines and
 * the kernel's "audit:" messages): each record's key=value fields, hex-encoded values decoded,
 * into the event's data as SigmaHQ's auditd rules name them (type, exe, a0, key, SYSCALL ...). */
#ifndef SIEM_AUDITD_H
#define SIEM_AUDITD_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/event.h"

/* One field of a record: its value unquoted and, where auditd wrote it hex-encoded, decoded. */
struct audit_field {
	const char *key, *val;
	size_t keyn, valn;
};

#define AUDIT_MAX_FIELDS 128
#define AUDIT_MAX_RECORDS 65 /* of one assembled event (audit_asm.h) */

/* One record: "type=SYSCALL msg=audit(1700000000.123:456): arch=... syscall=59 ...". */
struct audit_rec {
	const char *type; /* "SYSCALL", "EXECVE", ... or the kernel's number ("1400") */
	size_t typen;
	int64_t ts;	 /* microseconds */
	uint64_t serial; /* the event's serial: every record of one event has the same */
	const char *node;
	size_t noden;
	size_t n;
	struct audit_field f[AUDIT_MAX_FIELDS]; /* the raw fields, then the enriched ones */
};

/* Parse one record (from its "node=" or "type=", after any syslog header was taken off).
 * Decoded values are copied into a. Returns 0, or SIEM_EPARSE when the text is not an audit
 * record. */
int auditd_parse(const char *s, size_t n, struct audit_rec *r, struct arena *a);

/* When ev->message is an audit record, or the records of one event one a line (as audit_asm.h
 * puts them together; the raw message when the message was cut): app auditd (unless a program name
 * other than the audit daemons' and the kernel's says otherwise), event_type AUDIT_<type>, the time
 * of the record, user (auid/uid names when enriched, acct), source_ip (addr), and every field in
 * ev->data beside what is there; for the records of one event, typed PROCESS_START (EXECVE),
 * NETWORK_CONNECT (connect's SOCKADDR), FILE_CREATE/FILE_DELETE/FILE_ACCESS (a syscall's PATH)
 * with the Sigma names (Image, CommandLine, CurrentDirectory, User, ProcessId,
 * ParentProcessId, TargetFilename, DestinationIp, DestinationPort). Returns 1 when it was one, 0
 * when not, negative on error. */
int auditd_decode(struct event *ev, struct arena *a);

#endif
