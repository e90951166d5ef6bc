/* ratelimit.h — failed logins per client address in a sliding minute, in a bounded table:
 * past the limit the address is refused (429) until its window ends. */
#ifndef SIEM_RATELIMIT_H
#define SIEM_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* Seconds until addr may try again, 0 when it may now. */
int64_t ratelimit_blocked(const char *addr, int64_t now_us);
/* Count a failure for addr. */
void ratelimit_fail(const char *addr, int64_t now_us);
/* A success forgets addr's failures. */
void ratelimit_reset(const char *addr);
/* Limits: max failures per window (default 5 per 60 s). */
void ratelimit_configure(int max_failures, int window_s);

#endif
