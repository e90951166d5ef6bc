/* tokens.h — login tokens that can end: issued with the user's token generation, checked
 * on every request against the user as the store has it now (same role, same generation,
 * cached for at most a second), and revocable one by one (logout). */
#ifndef SIEM_TOKENS_H
#define SIEM_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

struct store;
struct tokens;

/* How long a user's role and generation are trusted before they are read again: a password
 * change or removal made by another process (`minisiem users`) ends tokens within this. */
#define TOKENS_USER_TTL_US 1000000

int tokens_open(struct tokens **out, struct store *s);
void tokens_close(struct tokens *t);

/* The signing key (32..64 bytes). Replacing it ends every token signed with the old one. */
int tokens_set_key(struct tokens *t, const uint8_t *key, size_t n);
/* The built-in admin's password hash (NULL for none). A hash different from the last one
 * this store saw ends every token of the built-in admin. stored: the hash is the store's
 * (meta admin_password_hash), which `minisiem users passwd admin` may change beside a
 * running hub: it is read again at each login and, with the admin's generation, at most
 * TOKENS_USER_TTL_US apart when a token is checked. */
int tokens_set_admin_hash(struct tokens *t, const char *hash, bool stored);
/* Keep hash as the built-in admin's password hash in store s, and end every token of the
 * built-in admin (`minisiem users passwd admin`). */
int tokens_store_admin_hash(struct store *s, const char *hash);
/* A malloc'd copy of the built-in admin's hash, or NULL. */
char *tokens_admin_hash(struct tokens *t);

/* Sign a token for user with role, valid ttl_s seconds from now_s; *out is malloc'd. */
int tokens_issue(struct tokens *t, const char *user, const char *role, int64_t now_s, int64_t ttl_s,
		 char **out);
/* 0 and the claims when the token is good now; SIEM_EAUTH when not (bad signature,
 * expired, logged out, user gone, role or generation changed). */
int tokens_check(struct tokens *t, const char *token, int64_t now_s, struct jwt_claims *c);
/* Logout: this token (already checked) is refused from now on, here and after a restart. */
int tokens_revoke(struct tokens *t, const char *token, const struct jwt_claims *c);
/* Forget what is cached about user (after changing it in this process). */
void tokens_forget(struct tokens *t, const char *user);

#endif
