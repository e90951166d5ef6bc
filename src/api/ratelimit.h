/* ratelimit.h — failed attempts per key (a client address, a user name) in a bounded table.
 * An attempt reserves its place before the credential is checked, so that parallel guesses
 * count at once; past the limit the key must wait (429 with Retry-After). */
#ifndef SIEM_RATELIMIT_H
#define SIEM_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit;

struct ratelimit_config {
	int max_failures;      /* failures, with the attempts in flight, allowed per key */
	int64_t window_s;      /* without backoff: failures count for this long after the first
				* one; with backoff: they are forgotten this long after the last */
	int64_t backoff_max_s; /* 0: past the limit a key waits for its window to end; else it
				* may try once more 2, 4, 8... s after each further failure, at
				* most this long */
	size_t slots;	       /* keys tracked at once: the memory bound */
};

/* How an attempt ended. */
enum ratelimit_outcome {
	RATELIMIT_FAILED,  /* wrong credential: it stays counted */
	RATELIMIT_PASSED,  /* right credential: the key's failures are forgotten */
	RATELIMIT_RELEASE, /* only give the place back (no credential checked, or a right one
			    * that should not wipe the failures) */
};

int ratelimit_new(struct ratelimit **out, const struct ratelimit_config *cfg);
void ratelimit_free(struct ratelimit *rl);
/* Reserve an attempt for key: 0 when it may go on (then ratelimit_release it once), else
 * the seconds to wait, nothing reserved. Keys longer than 100 bytes are cut there. */
int64_t ratelimit_acquire(struct ratelimit *rl, const char *key, int64_t now_us);
void ratelimit_release(struct ratelimit *rl, const char *key, int64_t now_us,
		       enum ratelimit_outcome how);
/* Keys dropped with failures still counted, to make room for others. */
uint64_t ratelimit_evictions(struct ratelimit *rl);

/* The bucket of a client address: IPv4 (also IPv4-mapped IPv6) as it is, IPv6 its /64
 * ("2001:db8:1:2::/64"), since one subscriber usually holds a whole /64. Anything else is
 * copied. */
void ratelimit_addr_key(const char *addr, char *out, size_t len);

#endif
