/* uuid.c — event ids: random v4 (getrandom), deterministic v5 (SHA-1 in the project's
 * namespace, so a replayed record gets the same id) and the 36-character text form. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "err.h"
#include "event.h"
#include "log.h"
#include "random.h"

/* uuid5(NAMESPACE_URL, "urn:minisiem:event") = e0fb347a-3294-52db-9bc2-9be6fe9d520b.
 * Never change it: every deterministic event id depends on it. */
static const uint8_t ns_minisiem[16] = {0xe0, 0xfb, 0x34, 0x7a, 0x32, 0x94, 0x52, 0xdb,
					0x9b, 0xc2, 0x9b, 0xe6, 0xfe, 0x9d, 0x52, 0x0b};

static void set_version(uint8_t id[16], unsigned version)
{
	id[6] = (uint8_t)((id[6] & 0x0f) | (version << 4));
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

/* One digest context per thread, reused: v5 ids are minted per line by the tailers. */
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha1_key;
static const EVP_MD *sha1_md;

static void sha1_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void sha1_init(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL); /* fetched once, not per digest */
#endif
	if (!sha1_md)
		sha1_md = EVP_sha1();
	if (pthread_key_create(&sha1_key, sha1_ctx_free))
		sha1_md = NULL;
}

static int sha1_2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[20])
{
	pthread_once(&sha1_once, sha1_init);
	if (!sha1_md)
		return SIEM_ECRYPTO;
	EVP_MD_CTX *ctx = pthread_getspecific(sha1_key);
	if (!ctx) {
		ctx = EVP_MD_CTX_new();
		if (!ctx)
			return -ENOMEM;
		if (pthread_setspecific(sha1_key, ctx)) {
			EVP_MD_CTX_free(ctx);
			return -ENOMEM;
		}
	}
	unsigned len = 0;
	if (EVP_DigestInit_ex(ctx, sha1_md, NULL) != 1 || EVP_DigestUpdate(ctx, a, an) != 1 ||
	    EVP_DigestUpdate(ctx, b, bn) != 1 || EVP_DigestFinal_ex(ctx, out, &len) != 1 ||
	    len != 20)
		return SIEM_ECRYPTO;
	return 0;
}

/* getrandom costs a system call (~0.4 us); new ids are minted per event on ingest, so
 * each thread draws 4 KiB at a time. A forked child must not replay its parent's pool. */
static _Thread_local struct {
	uint8_t buf[4096];
	size_t off;
	bool filled;
} pool;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_drop(void)
{
	explicit_bzero(pool.buf, sizeof(pool.buf));
	pool.filled = false;
}

static void pool_atfork(void)
{
	pthread_atfork(NULL, NULL, pool_drop);
}

static int pool_take(uint8_t out[16])
{
	pthread_once(&pool_once, pool_atfork);
	if (!pool.filled || pool.off + 16 > sizeof(pool.buf)) {
		pool.filled = false;
		if (random_bytes(pool.buf, sizeof(pool.buf)))
			return -1;
		pool.filled = true;
		pool.off = 0;
	}
	memcpy(out, pool.buf + pool.off, 16);
	explicit_bzero(pool.buf + pool.off, 16);
	pool.off += 16;
	return 0;
}

void uuid_v4(uint8_t out[16])
{
	if (pool_take(out) && RAND_bytes(out, 16) != 1) {
		/* No entropy source at all: still unique (time, pid, counter), not secret. */
		static atomic_uint_fast64_t counter;
		uint64_t seed[4] = {(uint64_t)ts_now_us(), (uint64_t)getpid(),
				    (uint64_t)atomic_fetch_add(&counter, 1),
				    (uint64_t)(uintptr_t)out};
		uint8_t h[20] = {0};
		log_error("uuid", "no random source, ids from time and counter");
		sha1_2(seed, sizeof(seed), "", 0, h);
		memcpy(out, h, 16);
	}
	set_version(out, 4);
}

void uuid_v5(const void *name, size_t n, uint8_t out[16])
{
	uint8_t h[20];
	if (sha1_2(ns_minisiem, sizeof(ns_minisiem), name, n, h)) {
		/* Only on out-of-memory: a random id may let a replay duplicate the event,
		 * which is better than losing it. */
		log_error("uuid", "SHA-1 failed, using a random id");
		uuid_v4(out);
		return;
	}
	memcpy(out, h, 16);
	set_version(out, 5);
}

/* Hex digit value plus one, 0 for anything else (a table: ids are parsed per event). */
static const unsigned char hex1[256] = {
    ['0'] = 1,	['1'] = 2,  ['2'] = 3,	['3'] = 4,  ['4'] = 5,	['5'] = 6,  ['6'] = 7,	['7'] = 8,
    ['8'] = 9,	['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

int uuid_parse(const char *s, size_t n, uint8_t out[16])
{
	if (!s || (n != 36 && n != 32))
		return SIEM_EPARSE;
	bool hyphens = n == 36;
	if (hyphens && (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-'))
		return SIEM_EPARSE;
	size_t i = 0;
	for (int b = 0; b < 16; b++) {
		if (hyphens && (i == 8 || i == 13 || i == 18 || i == 23))
			i++;
		unsigned hi = hex1[(unsigned char)s[i]], lo = hex1[(unsigned char)s[i + 1]];
		if (!hi || !lo)
			return SIEM_EPARSE;
		out[b] = (uint8_t)((hi - 1) << 4 | (lo - 1));
		i += 2;
	}
	return 0;
}

void uuid_format(const uint8_t id[16], char buf[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int b = 0; b < 16; b++) {
		if (b == 4 || b == 6 || b == 8 || b == 10)
			buf[o++] = '-';
		buf[o++] = hex[id[b] >> 4];
		buf[o++] = hex[id[b] & 0xf];
	}
	buf[o] = '\0';
}
