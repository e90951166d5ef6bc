/* password.c — password hashing (argon2id), verification of bcrypt and argon2id hashes,
 * and random password generation.
 *
 * Why t=3, m=64 MiB, p=1: RFC 9106 §4 gives as its second recommended option, for machines
 * that cannot spend 2 GiB per hash, argon2id with t=3 and m=2^16 KiB (64 MiB), a 128-bit salt
 * and a 256-bit tag. We keep its time and memory cost, which is what makes GPU and ASIC
 * guessing expensive, but use one lane instead of four so that a login takes one core, not
 * all four, of a Raspberry Pi that also runs Pi-hole; 64 MiB for the few hundred ms of a
 * login fits beside it. Hashes made with other parameters still verify: they are encoded
 * in the hash string. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>

#include "auth/auth.h"
#include "core/err.h"

#define A2_T 3
#define A2_M_KIB 65536
#define A2_P 1
#define A2_SALT_LEN 16
#define A2_HASH_LEN 32

/* Longest accepted password: libxcrypt refuses longer ones, and the same cap for argon2id
 * keeps a hash we make always verifiable. bcrypt itself reads only the first 72 bytes. */
#define PASSWORD_MAX (CRYPT_MAX_PASSPHRASE_SIZE - 1)

/* Cost ceilings for a stored hash, far above anything we or common tools make, so that a
 * corrupted or hostile hash cannot make one login allocate gigabytes or run for hours. */
#define A2_MAX_M_KIB (1024UL * 1024) /* 1 GiB */
#define A2_MAX_T 64UL
#define A2_MAX_P 16UL
#define BCRYPT_MAX_COST 16 /* ~5 s on a desktop core, far more on a Pi */

#define BCRYPT_LEN 60 /* "$2b$" "NN" "$" + 22 salt + 31 hash characters */
#define ARGON2ID_PREFIX "$argon2id$"

enum hash_kind { HASH_BCRYPT, HASH_ARGON2ID };

static const char base62[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_bcrypt64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '.' ||
	       c == '/';
}

/* "$2a$", "$2b$" or "$2y$" followed by a two-digit cost and 53 characters of bcrypt base64. */
static int bcrypt_check(const char *h)
{
	int cost;

	if (strnlen(h, BCRYPT_LEN + 1) != BCRYPT_LEN)
		return SIEM_EPARSE;
	if (!is_digit(h[4]) || !is_digit(h[5]) || h[6] != '$')
		return SIEM_EPARSE;
	cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (cost < 4 || cost > BCRYPT_MAX_COST)
		return SIEM_EPARSE;
	for (size_t i = 7; i < BCRYPT_LEN; i++)
		if (!is_bcrypt64(h[i]))
			return SIEM_EPARSE;
	return 0;
}

/* Read "<name>=<decimal>" at *s, in 1..max, and move *s past it. */
static int read_param(const char **s, char name, unsigned long max, unsigned long *v)
{
	const char *p = *s;
	char *end;

	if (p[0] != name || p[1] != '=' || !is_digit(p[2]))
		return SIEM_EPARSE;
	errno = 0;
	*v = strtoul(p + 2, &end, 10);
	if (errno != 0 || *v == 0 || *v > max)
		return SIEM_EPARSE;
	*s = end;
	return 0;
}

/* Check the cost part, "[v=N$]m=M,t=T,p=P$", of an argon2id hash against our ceilings;
 * libargon2 validates the rest when it decodes the hash. */
static int argon2id_check(const char *h)
{
	const char *s = h + strlen(ARGON2ID_PREFIX);
	unsigned long m, t, p;

	if (strncmp(s, "v=", 2) == 0) {
		if ((s = strchr(s, '$')) == NULL)
			return SIEM_EPARSE;
		s++;
	}
	if (read_param(&s, 'm', A2_MAX_M_KIB, &m) < 0 || *s++ != ',')
		return SIEM_EPARSE;
	if (read_param(&s, 't', A2_MAX_T, &t) < 0 || *s++ != ',')
		return SIEM_EPARSE;
	if (read_param(&s, 'p', A2_MAX_P, &p) < 0 || *s != '$')
		return SIEM_EPARSE;
	return 0;
}

static int hash_kind(const char *h, enum hash_kind *kind)
{
	if (h[0] == '$' && h[1] == '2' && (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') &&
	    h[3] == '$') {
		*kind = HASH_BCRYPT;
		return bcrypt_check(h);
	}
	if (strncmp(h, ARGON2ID_PREFIX, strlen(ARGON2ID_PREFIX)) == 0) {
		*kind = HASH_ARGON2ID;
		return argon2id_check(h);
	}
	return SIEM_EPARSE;
}

static int verify_bcrypt(const char *hash, const char *password)
{
	struct crypt_data *cd;
	const char *res;
	size_t n = strlen(hash);
	int rc = 0;

	/* 32 KiB: on the heap, not on a server thread's stack. Must start zeroed. */
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return -ENOMEM;
	res = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	if (res == NULL) {
		rc = errno == ENOMEM ? -ENOMEM : errno == EINVAL ? SIEM_EPARSE : SIEM_ECRYPTO;
		goto out;
	}
	if (strnlen(res, n + 1) != n || CRYPTO_memcmp(res, hash, n) != 0)
		rc = SIEM_EAUTH;
out:
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

static int verify_argon2id(const char *hash, const char *password)
{
	/* argon2id_verify compares the tags in constant time itself. */
	switch (argon2id_verify(hash, password, strlen(password))) {
	case ARGON2_OK:
		return 0;
	case ARGON2_VERIFY_MISMATCH:
		return SIEM_EAUTH;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
		return -ENOMEM;
	case ARGON2_THREAD_FAIL:
		return SIEM_ECRYPTO;
	default:
		return SIEM_EPARSE; /* every other code is a hash string it cannot decode */
	}
}

int password_verify(const char *hash, const char *password)
{
	enum hash_kind kind;
	size_t n;
	int rc;

	if (hash == NULL || hash[0] == '\0')
		return SIEM_EPARSE;
	if ((rc = hash_kind(hash, &kind)) < 0)
		return rc;
	if (password == NULL)
		return SIEM_EAUTH;
	n = strnlen(password, PASSWORD_MAX + 1);
	if (n == 0 || n > PASSWORD_MAX)
		return SIEM_EAUTH;
	if (kind == HASH_BCRYPT)
		return verify_bcrypt(hash, password);
	return verify_argon2id(hash, password);
}

int password_hash(const char *password, char *out, size_t outlen)
{
	uint8_t salt[A2_SALT_LEN];
	size_t n;
	int rc;

	if (password == NULL || out == NULL)
		return -EINVAL;
	n = strnlen(password, PASSWORD_MAX + 1);
	if (n == 0)
		return -EINVAL;
	if (n > PASSWORD_MAX)
		return SIEM_ETOOBIG;
	if (outlen < argon2_encodedlen(A2_T, A2_M_KIB, A2_P, A2_SALT_LEN, A2_HASH_LEN, Argon2_id))
		return -ERANGE;
	if ((rc = random_bytes(salt, sizeof(salt))) < 0)
		return rc;
	rc = argon2id_hash_encoded(A2_T, A2_M_KIB, A2_P, password, n, salt, sizeof(salt),
				   A2_HASH_LEN, out, outlen);
	if (rc == ARGON2_OK)
		return 0;
	out[0] = '\0';
	return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? -ENOMEM : SIEM_ECRYPTO;
}

int password_generate(char *out, size_t outlen, size_t len)
{
	uint8_t buf[64];
	size_t n = 0;
	int rc = 0;

	if (out == NULL || len == 0)
		return -EINVAL;
	if (len >= outlen)
		return -ERANGE;
	while (n < len) {
		if ((rc = random_bytes(buf, sizeof(buf))) < 0)
			goto out;
		/* Reject bytes >= 248 = 4 * 62 so that byte % 62 is uniform. */
		for (size_t i = 0; i < sizeof(buf) && n < len; i++)
			if (buf[i] < 4 * (sizeof(base62) - 1))
				out[n++] = base62[buf[i] % (sizeof(base62) - 1)];
	}
out:
	explicit_bzero(buf, sizeof(buf));
	if (rc < 0)
		explicit_bzero(out, n); /* no half-made secret left behind */
	out[rc < 0 ? 0 : n] = '\0';
	return rc;
}
