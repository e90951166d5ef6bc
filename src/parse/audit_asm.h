/* audit_asm.h — the records of one Linux audit event put together: the kernel writes one
 * event as several records (SYSCALL, EXECVE, CWD, PATH ..., PROCTITLE, then EOE) sharing
 * "msg=audit(TIME:SERIAL)", possibly interleaved with other events' records. Each source (a
 * followed file, a syslog sender, logtest's input) has its own assembler: it holds the
 * records of open events and hands an event on, as one text of its records joined by '\n'
 * (the first line whole, the others from their "type="/"node="), when it ends. */
#ifndef SIEM_AUDIT_ASM_H
#define SIEM_AUDIT_ASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The bounds (documented in docs/parsing.md). An event ends at its EOE record, after its
 * PROCTITLE record (the kernel writes it last), or AUDIT_ASM_WAIT_MS after its first record
 * arrived; it holds at most AUDIT_ASM_RECORDS records and AUDIT_ASM_BYTES bytes (later ones
 * are left out and counted); a source holds at most AUDIT_ASM_OPEN open events (one more
 * hands on the oldest). */
#define AUDIT_ASM_WAIT_MS 2000
#define AUDIT_ASM_RECORDS 64
#define AUDIT_ASM_BYTES (60 * 1024)
#define AUDIT_ASM_OPEN 64
#define AUDIT_ASM_TAG_MAX 64

struct audit_asm;

/* An event ended: text[0..n) (valid during the call) and the tag of its first record. A
 * negative return stops the call that handed it on and is returned from it. */
typedef int (*audit_asm_out)(void *ctx, const char *text, size_t n, const void *tag);

struct audit_asm_stats {
	uint64_t events;  /* handed on with more than one record, or ended by EOE/PROCTITLE */
	uint64_t expired; /* ended by the wait */
	uint64_t evicted; /* handed on early: too many open events */
	uint64_t dropped; /* records left out: an event over its bounds */
};

/* tag_size: the bytes of the tag each record comes with (<= AUDIT_ASM_TAG_MAX), e.g. where
 * in a file it starts. wait_ms: 0 for AUDIT_ASM_WAIT_MS. NULL when out of memory. */
struct audit_asm *audit_asm_new(size_t tag_size, int64_t wait_ms);
void audit_asm_free(struct audit_asm *m);

/* Where the audit record of a line starts: 0 for "type="/"node=", after the header of a
 * syslog line from the audit daemons or the kernel ("audispd: ", "audit: " ...), or -1 when
 * the line is not an audit record. */
long audit_asm_record_start(const char *line, size_t n);

/* One line at now_ms (a monotonic clock). Returns 1 when the assembler took it (held, or
 * handed on through out), 0 when it is not a record of a multi-record event (the caller
 * decodes it alone, as before), or a negative error. Events older than the wait are handed
 * on first. */
int audit_asm_feed(struct audit_asm *m, const char *line, size_t n, const void *tag, int64_t now_ms,
		   audit_asm_out out, void *ctx);
/* The same for an assembler that several senders share (a syslog receiver): records are of
 * one event only when they also come from the same scope (the sender's address). */
int audit_asm_feed_from(struct audit_asm *m, const char *scope, const char *line, size_t n,
			const void *tag, int64_t now_ms, audit_asm_out out, void *ctx);
/* Hand on the events whose wait is over (all of them when now_ms is INT64_MAX: the source
 * stops). Returns 0 or out's negative return. */
int audit_asm_expire(struct audit_asm *m, int64_t now_ms, audit_asm_out out, void *ctx);
/* Hand on the open events of one scope (a sender that has gone). Returns 0 or out's negative
 * return. */
int audit_asm_expire_scope(struct audit_asm *m, const char *scope, audit_asm_out out, void *ctx);
/* The open events, and the tag of the oldest one's first record (a position before which a
 * reader must not checkpoint). */
size_t audit_asm_open(const struct audit_asm *m);
bool audit_asm_oldest_tag(const struct audit_asm *m, void *tag);
/* When the next event ends at the latest (INT64_MAX: none open). */
int64_t audit_asm_deadline(const struct audit_asm *m);
void audit_asm_get_stats(const struct audit_asm *m, struct audit_asm_stats *st);

#endif
