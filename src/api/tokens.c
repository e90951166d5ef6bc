/* tokens.c — which login tokens are still good. A token carries its user's name, role and
 * token generation; a request is let in only while the store has that user with that role
 * and generation, and the token was not logged out. A password change or a removal moves
 * the generation on (store_user_set_hash), which ends every token of that user at once; the
 * built-in admin's generation is kept in the store's meta table beside its hash.
 * Logged-out tokens are kept, by a digest of their signature, until they expire. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "api/tokens.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store.h"

#define SUB "auth"
#define USER_CACHE 64
#define DIGEST 16
#define REVOKED_MAX 65536 /* logged-out tokens kept in memory; past it, logout ends them all */

struct user_entry {
	char name[128];
	char role[32];
	int64_t gen;
	int64_t checked_us; /* 0: empty */
	bool found;
};

struct revoked {
	uint8_t d[DIGEST];
	int64_t exp; /* seconds; 0: empty slot */
};

struct tokens {
	struct store *store;
	pthread_mutex_t mu;
	uint8_t key[64];
	size_t keylen;
	char *admin_hash;
	int64_t admin_gen;
	bool admin_stored; /* admin_hash is the store's, which `users passwd admin` may change */
	struct user_entry cache[USER_CACHE];
	size_t cache_next;
	struct revoked *rev;
	size_t rev_cap, rev_n;
};

static void digest(const char *token, uint8_t out[DIGEST])
{
	uint8_t full[SHA256_DIGEST_LENGTH];
	const char *sig = strrchr(token, '.');
	sig = sig ? sig + 1 : token;
	SHA256((const unsigned char *)sig, strlen(sig), full);
	memcpy(out, full, DIGEST);
}

static size_t slot_of(const uint8_t d[DIGEST], size_t cap)
{
	uint64_t h;
	memcpy(&h, d, sizeof(h)); /* a digest: already uniform */
	return (size_t)(h & (cap - 1));
}

static struct revoked *rev_find(struct tokens *t, const uint8_t d[DIGEST])
{
	if (!t->rev_cap)
		return NULL;
	for (size_t i = slot_of(d, t->rev_cap);; i = (i + 1) & (t->rev_cap - 1)) {
		struct revoked *r = &t->rev[i];
		if (!r->exp)
			return NULL;
		if (memcmp(r->d, d, DIGEST) == 0)
			return r;
	}
}

static void rev_put(struct revoked *tab, size_t cap, const uint8_t d[DIGEST], int64_t exp)
{
	size_t i = slot_of(d, cap);
	while (tab[i].exp && memcmp(tab[i].d, d, DIGEST) != 0)
		i = (i + 1) & (cap - 1);
	memcpy(tab[i].d, d, DIGEST);
	tab[i].exp = exp;
}

/* Rebuild into cap slots without the entries expired at now_s. */
static int rev_rebuild(struct tokens *t, size_t cap, int64_t now_s)
{
	struct revoked *tab = calloc(cap, sizeof(*tab));
	size_t n = 0;
	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < t->rev_cap; i++) {
		if (t->rev[i].exp > now_s) {
			rev_put(tab, cap, t->rev[i].d, t->rev[i].exp);
			n++;
		}
	}
	free(t->rev);
	t->rev = tab;
	t->rev_cap = cap;
	t->rev_n = n;
	return 0;
}

/* Under t->mu. -ENOSPC when the table is full of live entries. */
static int rev_add(struct tokens *t, const uint8_t d[DIGEST], int64_t exp, int64_t now_s)
{
	int rc;
	if (rev_find(t, d))
		return 0;
	if ((t->rev_n + 1) * 2 > t->rev_cap) {
		size_t cap = t->rev_cap ? t->rev_cap : 64;
		size_t live = 0;
		for (size_t i = 0; i < t->rev_cap; i++)
			live += t->rev[i].exp > now_s;
		while ((live + 1) * 2 > cap)
			cap *= 2;
		if (cap > REVOKED_MAX * 2)
			return -ENOSPC;
		if ((rc = rev_rebuild(t, cap, now_s)) < 0)
			return rc;
	}
	rev_put(t->rev, t->rev_cap, d, exp);
	t->rev_n++;
	return 0;
}

static void load_revoked(void *arg, const uint8_t *sig, size_t n, int64_t exp)
{
	struct tokens *t = arg;
	if (n == DIGEST && rev_add(t, sig, exp, ts_now_us() / 1000000) == -ENOSPC)
		log_warn(SUB, "more than %d logged-out tokens: the rest are not loaded",
			 REVOKED_MAX);
}

int tokens_open(struct tokens **out, struct store *s)
{
	struct tokens *t = calloc(1, sizeof(*t));
	int rc;
	if (!t)
		return -ENOMEM;
	t->store = s;
	pthread_mutex_init(&t->mu, NULL);
	if ((rc = store_token_revoked_each(s, ts_now_us() / 1000000, load_revoked, t)) < 0) {
		tokens_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

void tokens_close(struct tokens *t)
{
	if (!t)
		return;
	explicit_bzero(t->key, sizeof(t->key));
	free(t->admin_hash);
	free(t->rev);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

int tokens_set_key(struct tokens *t, const uint8_t *key, size_t n)
{
	if (n < 32 || n > sizeof(t->key))
		return -EINVAL;
	pthread_mutex_lock(&t->mu);
	memcpy(t->key, key, n);
	t->keylen = n;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

/* The built-in admin's generation, kept in the store as "GEN DIGEST" (meta admin_token) with
 * a digest of the hash it belongs to, and moved on when the hash changes (a new
 * SIEM_ADMIN_PASSWORD_HASH) or when force asks it (all admin tokens end). Hubs sharing a
 * store move it on once: the change is a compare-and-set, and a hub that loses the race
 * takes the winner's value. Older stores kept it in admin_token_gen and admin_hash_digest. */
static int admin_generation(struct store *s, const char *hash, bool force, int64_t *gen)
{
	uint8_t d[SHA256_DIGEST_LENGTH];
	char fp[2 * SHA256_DIGEST_LENGTH + 1], val[24 + sizeof(fp)];
	int rc = 0;
	SHA256((const unsigned char *)hash, strlen(hash), d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(fp + 2 * i, 3, "%02x", d[i]);
	for (int tries = 0; tries < 8; tries++) {
		char *cur = NULL, *legacy_fp = NULL, *legacy_gen = NULL, old_fp[sizeof(fp)] = "";
		long long old_gen = 0;
		if ((rc = store_meta_get(s, "admin_token", &cur)) < 0)
			return rc;
		if (cur) {
			if (sscanf(cur, "%lld %64s", &old_gen, old_fp) != 2)
				old_fp[0] = '\0';
		} else if ((rc = store_meta_get(s, "admin_hash_digest", &legacy_fp)) < 0 ||
			   (rc = store_meta_get(s, "admin_token_gen", &legacy_gen)) < 0) {
			free(legacy_fp);
			return rc;
		} else if (legacy_fp && legacy_gen) {
			old_gen = strtoll(legacy_gen, NULL, 10);
			snprintf(old_fp, sizeof(old_fp), "%s", legacy_fp);
		}
		free(legacy_fp);
		free(legacy_gen);
		bool same = !force && strcmp(old_fp, fp) == 0;
		if (same && cur) {
			free(cur);
			*gen = old_gen;
			return 0;
		}
		int64_t now = ts_now_us(), next = same		      ? old_gen
						  : old_gen + 1 > now ? old_gen + 1
								      : now;
		snprintf(val, sizeof(val), "%" PRId64 " %s", next, fp);
		rc = store_meta_cas(s, "admin_token", cur, val);
		free(cur);
		if (rc == 0) {
			*gen = next;
			if (old_fp[0] && !same)
				log_info(SUB,
					 "the admin password changed or its tokens were ended: "
					 "earlier admin tokens are refused");
			return 0;
		}
		if (rc != -EAGAIN)
			return rc;
	}
	return rc;
}

static int admin_set(struct tokens *t, const char *hash, bool force, bool stored)
{
	int64_t gen = 0;
	char *copy = NULL;
	int rc;
	if (hash &&
	    (!(copy = strdup(hash)) || (rc = admin_generation(t->store, hash, force, &gen)) < 0)) {
		free(copy);
		return copy ? rc : -ENOMEM;
	}
	pthread_mutex_lock(&t->mu);
	free(t->admin_hash);
	t->admin_hash = copy;
	t->admin_gen = gen;
	t->admin_stored = hash && stored;
	memset(t->cache, 0, sizeof(t->cache));
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int tokens_set_admin_hash(struct tokens *t, const char *hash, bool stored)
{
	return admin_set(t, hash, false, stored);
}

int tokens_store_admin_hash(struct store *s, const char *hash)
{
	int64_t gen;
	int rc = store_meta_set(s, "admin_password_hash", hash);
	return rc < 0 ? rc : admin_generation(s, hash, true, &gen);
}

/* A hash kept in the store may have been changed by `minisiem users passwd admin` (which
 * also moved the generation on): read both again. Without a hash there, the last one stays. */
static int admin_refresh(struct tokens *t)
{
	char *hash = NULL;
	int64_t gen = 0;
	int rc = 0;
	pthread_mutex_lock(&t->mu);
	bool stored = t->admin_stored;
	pthread_mutex_unlock(&t->mu);
	if (!stored || (rc = store_meta_get(t->store, "admin_password_hash", &hash)) < 0 || !hash)
		return rc;
	if ((rc = admin_generation(t->store, hash, false, &gen)) == 0) {
		pthread_mutex_lock(&t->mu);
		if (t->admin_stored) { /* not meanwhile set from SIEM_ADMIN_PASSWORD_HASH */
			if (gen != t->admin_gen)
				log_info(SUB,
					 "the admin password was changed in the store: earlier "
					 "admin tokens are refused");
			free(t->admin_hash);
			t->admin_hash = hash;
			t->admin_gen = gen;
			hash = NULL;
		}
		pthread_mutex_unlock(&t->mu);
	}
	free(hash);
	return rc;
}

char *tokens_admin_hash(struct tokens *t)
{
	admin_refresh(t); /* the store unreachable: the last hash known */
	pthread_mutex_lock(&t->mu);
	char *h = t->admin_hash ? strdup(t->admin_hash) : NULL;
	pthread_mutex_unlock(&t->mu);
	return h;
}

/* The user as the store has it now: a row of the users table, else the built-in admin. */
static int lookup(struct tokens *t, const char *user, struct user_entry *e, bool fresh)
{
	int64_t now = ts_now_us();
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < USER_CACHE && !fresh; i++) {
		struct user_entry *c = &t->cache[i];
		if (c->checked_us && now - c->checked_us < TOKENS_USER_TTL_US &&
		    strcmp(c->name, user) == 0) {
			*e = *c;
			pthread_mutex_unlock(&t->mu);
			return 0;
		}
	}
	pthread_mutex_unlock(&t->mu);

	char *role = NULL;
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", user);
	int rc = store_user_auth(t->store, user, &role, &e->gen);
	if (rc == 0) {
		e->found = true;
		snprintf(e->role, sizeof(e->role), "%s", role);
		free(role);
	} else if (rc != SIEM_ENOTFOUND) {
		return rc;
	} else if (strcmp(user, "admin") == 0 && (rc = admin_refresh(t)) < 0) {
		return rc;
	}
	pthread_mutex_lock(&t->mu);
	if (!e->found && strcmp(user, "admin") == 0 && t->admin_hash) {
		e->found = true;
		snprintf(e->role, sizeof(e->role), "admin");
		e->gen = t->admin_gen;
	}
	e->checked_us = now;
	if (strlen(user) < sizeof(e->name)) {
		size_t i;
		for (i = 0; i < USER_CACHE; i++)
			if (t->cache[i].checked_us && strcmp(t->cache[i].name, user) == 0)
				break;
		t->cache[i < USER_CACHE ? i : t->cache_next++ % USER_CACHE] = *e;
	}
	pthread_mutex_unlock(&t->mu);
	return 0;
}

void tokens_forget(struct tokens *t, const char *user)
{
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < USER_CACHE; i++)
		if (t->cache[i].checked_us && strcmp(t->cache[i].name, user) == 0)
			t->cache[i].checked_us = 0;
	pthread_mutex_unlock(&t->mu);
}

static size_t copy_key(struct tokens *t, uint8_t *key)
{
	pthread_mutex_lock(&t->mu);
	size_t n = t->keylen;
	memcpy(key, t->key, n);
	pthread_mutex_unlock(&t->mu);
	return n;
}

int tokens_issue(struct tokens *t, const char *user, const char *role, int64_t now_s, int64_t ttl_s,
		 char **out)
{
	struct user_entry e;
	struct jwt_claims c;
	uint8_t key[64];
	int rc = lookup(t, user, &e, true);
	if (rc < 0)
		return rc;
	if (!e.found || strcmp(e.role, role) != 0)
		return SIEM_EAUTH;
	memset(&c, 0, sizeof(c));
	snprintf(c.sub, sizeof(c.sub), "%s", user);
	snprintf(c.role, sizeof(c.role), "%s", role);
	snprintf(c.gen, sizeof(c.gen), "%" PRId64, e.gen);
	uint8_t id[16];
	if ((rc = random_bytes(id, sizeof(id))) < 0)
		return rc;
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(c.jti + 2 * i, 3, "%02x", id[i]);
	c.iat = now_s;
	c.exp = now_s + ttl_s;
	size_t n = copy_key(t, key);
	rc = jwt_sign_hs256(&c, key, n, out);
	explicit_bzero(key, sizeof(key));
	return rc;
}

int tokens_check(struct tokens *t, const char *token, int64_t now_s, struct jwt_claims *c)
{
	uint8_t key[64], d[DIGEST];
	struct user_entry e;
	size_t n = copy_key(t, key);
	int rc = jwt_verify_hs256(token, key, n, now_s, c);
	explicit_bzero(key, sizeof(key));
	if (rc < 0)
		return SIEM_EAUTH;
	char *end = NULL;
	errno = 0;
	long long gen = strtoll(c->gen, &end, 10);
	if (!c->gen[0] || *end || errno)
		return SIEM_EAUTH; /* issued before tokens could end: log in again */
	digest(token, d);
	pthread_mutex_lock(&t->mu);
	bool revoked = rev_find(t, d) != NULL;
	pthread_mutex_unlock(&t->mu);
	if (revoked)
		return SIEM_EAUTH;
	if ((rc = lookup(t, c->sub, &e, false)) < 0)
		return rc;
	if (!e.found || strcmp(e.role, c->role) != 0 || e.gen != gen)
		return SIEM_EAUTH;
	return 0;
}

int tokens_revoke(struct tokens *t, const char *token, const struct jwt_claims *c)
{
	uint8_t d[DIGEST];
	int64_t now_s = ts_now_us() / 1000000;
	int rc;
	digest(token, d);
	pthread_mutex_lock(&t->mu);
	rc = rev_add(t, d, c->exp, now_s);
	pthread_mutex_unlock(&t->mu);
	if (rc == -ENOSPC) {
		/* Too many live logged-out tokens to remember each: end all of this user's. */
		log_warn(SUB, "logout of '%s': revocation list full, ending all of its tokens",
			 c->sub);
		if (strcmp(c->sub, "admin") == 0 &&
		    (rc = store_user_end_tokens(t->store, c->sub)) == SIEM_ENOTFOUND) {
			char *h = tokens_admin_hash(t);
			pthread_mutex_lock(&t->mu);
			bool stored = t->admin_stored;
			pthread_mutex_unlock(&t->mu);
			rc = admin_set(t, h, true, stored);
			free(h);
		} else if (strcmp(c->sub, "admin") != 0) {
			rc = store_user_end_tokens(t->store, c->sub);
		}
		tokens_forget(t, c->sub);
		return rc;
	}
	if (rc < 0)
		return rc;
	return store_token_revoke(t->store, d, DIGEST, c->exp);
}
