/* hash.h — the one string hash (64-bit FNV-1a) for every in-memory table. */
#ifndef SIEM_HASH_H
#define SIEM_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_OFFSET 14695981039346656037ULL
#define HASH_FNV_PRIME 1099511628211ULL

/* Continue hash h over p[0..n) (start from HASH_FNV_OFFSET, or a seeded value). */
static inline uint64_t hash_cont(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= HASH_FNV_PRIME;
	}
	return h;
}

static inline uint64_t hash_bytes(const void *p, size_t n)
{
	return hash_cont(HASH_FNV_OFFSET, p, n);
}

#endif
