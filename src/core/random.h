/* random.h — kernel randomness (keys, salts, event ids, jitter). */
#ifndef SIEM_RANDOM_H
#define SIEM_RANDOM_H

#include <stddef.h>

/* Fill buf with cryptographically random bytes: 0, or -errno. */
int random_bytes(void *buf, size_t n);

#endif
