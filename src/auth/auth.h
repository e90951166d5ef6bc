/* auth.h — passwords (bcrypt, argon2id), HS256 JWTs and API-key hashing. */
#ifndef SIEM_AUTH_H
#define SIEM_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/random.h" /* random_bytes */

/* Check a password against a stored hash: bcrypt ($2a$ $2b$ $2y$) or argon2id
 * ($argon2id$...). Returns 0 when it matches, SIEM_EAUTH when not, SIEM_EPARSE when
 * the hash is of no supported kind. Constant-time in the comparison. */
int password_verify(const char *hash, const char *password);
/* A new argon2id hash of password into out (>= 128 bytes). */
int password_hash(const char *password, char *out, size_t outlen);
/* The shortest password a user may choose, in characters (`users add`, POST /users). */
#define PASSWORD_MIN 12
/* A random password of len characters from [A-Za-z0-9] (len < outlen). */
int password_generate(char *out, size_t outlen, size_t len);

struct jwt_claims {
	char sub[128];	  /* user name */
	char role[32];	  /* "admin" | "analyst" */
	char gen[24];	  /* the user's token generation when signed, decimal ("" for none) */
	char jti[40];	  /* a random id, so that two tokens never share a signature */
	int64_t iat, exp; /* seconds since the epoch */
};

/* Sign claims with HS256; *out is malloc'd. */
int jwt_sign_hs256(const struct jwt_claims *c, const uint8_t *key, size_t keylen, char **out);
/* Verify an HS256 token: alg must be HS256 (alg none and others refused), the signature
 * must match, exp must be in the future at now (seconds). Returns 0 or SIEM_EAUTH. */
int jwt_verify_hs256(const char *token, const uint8_t *key, size_t keylen, int64_t now,
		     struct jwt_claims *c);

/* Hex SHA-256 of an API key (65 bytes with NUL). */
void apikey_hash(const char *key, size_t n, char out[65]);
/* A new random API key "msk_" + 40 base62 characters (out >= 48 bytes). */
int apikey_generate(char *out, size_t outlen);
/* Constant-time equality of two equal-length buffers. */
bool ct_equal(const void *a, const void *b, size_t n);

#endif
