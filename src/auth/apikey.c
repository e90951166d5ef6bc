/* apikey.c — agent API keys (generated, stored as SHA-256 hex) and the shared
 * constant-time comparison. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth/auth.h"
#include "core/err.h"

#define APIKEY_PREFIX "msk_"
#define APIKEY_BODY_LEN 40

bool ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void apikey_hash(const char *key, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];

	/* On a library failure leave an empty string: it matches no stored hash. */
	out[0] = '\0';
	if (SHA256((const unsigned char *)(key ? key : ""), key ? n : 0, md) == NULL)
		return;
	for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[2 * SHA256_DIGEST_LENGTH] = '\0';
}

int apikey_generate(char *out, size_t outlen)
{
	const size_t plen = sizeof(APIKEY_PREFIX) - 1;
	int rc;

	if (out == NULL || outlen < plen + APIKEY_BODY_LEN + 1)
		return -ERANGE;
	memcpy(out, APIKEY_PREFIX, plen);
	/* The body is the same uniform base62 draw as a generated password. */
	rc = password_generate(out + plen, outlen - plen, APIKEY_BODY_LEN);
	if (rc < 0)
		out[0] = '\0';
	return rc;
}
