/* jwt.c — HS256 JSON Web Tokens for dashboard and API sessions, on libjwt 1.x. Only
 * HS256 is ever accepted, and exp is checked here because libjwt does not check it. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <jwt.h>

#include "auth/auth.h"
#include "core/err.h"

#define JWT_MAX_TOKEN 8192 /* bytes; a token of ours is a few hundred */
#define JWT_MIN_KEY 32	   /* RFC 7518 §3.2: an HS256 key has at least 256 bits */

static bool key_ok(const uint8_t *key, size_t keylen)
{
	return key != NULL && keylen >= JWT_MIN_KEY && keylen <= INT_MAX;
}

/* A NUL-terminated string of at most cap - 1 bytes. */
static bool fits(const char *s, size_t cap)
{
	return strnlen(s, cap) < cap;
}

static int lib_err(int e)
{
	return e == ENOMEM ? -ENOMEM : SIEM_ECRYPTO;
}

static int add_claims(jwt_t *jwt, const struct jwt_claims *c)
{
	int e;

	if ((e = jwt_add_grant(jwt, "sub", c->sub)) != 0)
		return lib_err(e);
	if (c->role[0] != '\0' && (e = jwt_add_grant(jwt, "role", c->role)) != 0)
		return lib_err(e);
	/* A string: the generation is a 64-bit number, wider than a long on a 32-bit Pi. */
	if (c->gen[0] != '\0' && (e = jwt_add_grant(jwt, "gen", c->gen)) != 0)
		return lib_err(e);
	if (c->jti[0] != '\0' && (e = jwt_add_grant(jwt, "jti", c->jti)) != 0)
		return lib_err(e);
	/* jwt_add_grant_int takes a long: 32 bits on a 32-bit Pi. */
	if (c->iat < LONG_MIN || c->iat > LONG_MAX || c->exp < LONG_MIN || c->exp > LONG_MAX)
		return -ERANGE;
	if ((e = jwt_add_grant_int(jwt, "iat", (long)c->iat)) != 0)
		return lib_err(e);
	if ((e = jwt_add_grant_int(jwt, "exp", (long)c->exp)) != 0)
		return lib_err(e);
	return 0;
}

int jwt_sign_hs256(const struct jwt_claims *c, const uint8_t *key, size_t keylen, char **out)
{
	jwt_t *jwt = NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || out == NULL || !key_ok(key, keylen))
		return -EINVAL;
	if (c->sub[0] == '\0' || !fits(c->sub, sizeof(c->sub)) || !fits(c->role, sizeof(c->role)) ||
	    !fits(c->gen, sizeof(c->gen)) || !fits(c->jti, sizeof(c->jti)))
		return -EINVAL;
	if ((rc = jwt_new(&jwt)) != 0) {
		rc = lib_err(rc);
		goto out;
	}
	if ((rc = jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)keylen)) != 0) {
		rc = lib_err(rc);
		goto out;
	}
	if ((rc = add_claims(jwt, c)) < 0)
		goto out;
	if ((*out = jwt_encode_str(jwt)) == NULL)
		rc = lib_err(errno);
out:
	if (jwt != NULL)
		jwt_free(jwt);
	return rc;
}

/* An integer claim; libjwt sets errno when it is missing or not an integer. */
static int get_int(jwt_t *jwt, const char *name, long *v)
{
	errno = 0;
	*v = jwt_get_grant_int(jwt, name);
	return errno == 0 ? 0 : SIEM_EAUTH;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (src == NULL || (n = strnlen(src, cap)) >= cap)
		return SIEM_EAUTH;
	memcpy(dst, src, n + 1);
	return 0;
}

static int read_claims(jwt_t *jwt, int64_t now, struct jwt_claims *c)
{
	const char *role, *gen;
	long exp, iat;

	if (get_int(jwt, "exp", &exp) < 0 || exp <= now)
		return SIEM_EAUTH;
	if (copy_str(c->sub, sizeof(c->sub), jwt_get_grant(jwt, "sub")) < 0 || c->sub[0] == '\0')
		return SIEM_EAUTH;
	/* A missing role reads as "", which grants nothing; an oversize one is refused. */
	if ((role = jwt_get_grant(jwt, "role")) != NULL &&
	    copy_str(c->role, sizeof(c->role), role) < 0)
		return SIEM_EAUTH;
	if ((gen = jwt_get_grant(jwt, "gen")) != NULL && copy_str(c->gen, sizeof(c->gen), gen) < 0)
		return SIEM_EAUTH;
	if (get_int(jwt, "iat", &iat) == 0)
		c->iat = iat;
	c->exp = exp;
	return 0;
}

int jwt_verify_hs256(const char *token, const uint8_t *key, size_t keylen, int64_t now,
		     struct jwt_claims *c)
{
	jwt_t *jwt = NULL;
	int rc = SIEM_EAUTH;

	if (c == NULL)
		return SIEM_EAUTH;
	memset(c, 0, sizeof(*c));
	if (token == NULL || !key_ok(key, keylen))
		return SIEM_EAUTH;
	if (strnlen(token, JWT_MAX_TOKEN + 1) > JWT_MAX_TOKEN)
		return SIEM_EAUTH;
	if (jwt_decode(&jwt, token, key, (int)keylen) != 0)
		goto out;
	/* libjwt checks the signature for the alg the token names; only HS256 is ours. */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto out;
	rc = read_claims(jwt, now, c);
out:
	if (rc < 0)
		memset(c, 0, sizeof(*c));
	if (jwt != NULL)
		jwt_free(jwt);
	return rc;
}
