/* apikey.c — agent API keys (generated, stored as SHA-256 hex) and the shared
 * constant-time comparison. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "auth/auth.h"
#include "core/err.h"

#define APIKEY_PREFIX "msk_"
#define APIKEY_BODY_LEN 40

bool ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* Every API request hashes its key: SHA256() looks the algorithm up and allocates a context
 * each time, which cost several times the hashing itself. The algorithm is fetched once and
 * each thread keeps its context (freed when the thread ends). */
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha_ctx_key;
static EVP_MD *sha256_md;
static bool sha_ready;

static void ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void sha_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha_ready = sha256_md && pthread_key_create(&sha_ctx_key, ctx_free) == 0;
}

static bool sha256(const void *p, size_t n, unsigned char md[SHA256_DIGEST_LENGTH])
{
	pthread_once(&sha_once, sha_init);
	if (!sha_ready)
		return SHA256(p, n, md) != NULL;
	EVP_MD_CTX *ctx = pthread_getspecific(sha_ctx_key);
	if (!ctx) {
		if (!(ctx = EVP_MD_CTX_new()))
			return false;
		if (pthread_setspecific(sha_ctx_key, ctx) != 0) {
			EVP_MD_CTX_free(ctx);
			return SHA256(p, n, md) != NULL;
		}
	}
	unsigned int len = 0;
	return EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 && EVP_DigestUpdate(ctx, p, n) == 1 &&
	       EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == SHA256_DIGEST_LENGTH;
}

void apikey_hash(const char *key, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];

	/* On a library failure leave an empty string: it matches no stored hash. */
	out[0] = '\0';
	if (!sha256(key ? key : "", key ? n : 0, md))
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
