/* ratelimit.c — a fixed table of the keys that have failures or attempts in flight, 8-way
 * set associative under a secret hash seed. A full set gives up the entry that matters least
 * (forgotten, else fewest failures, never one in flight), so memory stays bounded whatever
 * an attacker sends and flooding cannot cheaply evict a key with many failures. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ratelimit.h"
#include "auth/auth.h"
#include "core/err.h"
#include "core/event.h"

#define WAYS 8
#define KEY_MAX 104 /* user names have at most 100 bytes */
#define FAILURES_MAX (1u << 30)

struct entry {
	char key[KEY_MAX]; /* "" when free */
	int64_t first_us;  /* first failure of the current series */
	int64_t last_us;   /* latest failure */
	uint32_t failures;
	uint32_t inflight;
};

struct ratelimit {
	pthread_mutex_t mu;
	int max_failures;
	int64_t window_us;
	int64_t backoff_max_us; /* 0: no backoff */
	uint64_t seed;
	size_t nsets;
	uint64_t evictions;
	struct entry *table;
};

int ratelimit_new(struct ratelimit **out, const struct ratelimit_config *cfg)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->max_failures = cfg->max_failures > 0 ? cfg->max_failures : 5;
	rl->window_us = (cfg->window_s > 0 ? cfg->window_s : 60) * 1000000LL;
	rl->backoff_max_us = cfg->backoff_max_s > 0 ? cfg->backoff_max_s * 1000000LL : 0;
	/* A key under backoff must not be forgotten before its wait is over. */
	if (rl->window_us < rl->backoff_max_us)
		rl->window_us = rl->backoff_max_us;
	rl->nsets = cfg->slots > WAYS ? (cfg->slots + WAYS - 1) / WAYS : 1;
	if (random_bytes(&rl->seed, sizeof(rl->seed)) < 0)
		rl->seed = (uint64_t)(uintptr_t)rl ^ (uint64_t)ts_now_us();
	if (!(rl->table = calloc(rl->nsets * WAYS, sizeof(*rl->table)))) {
		free(rl);
		return -ENOMEM;
	}
	pthread_mutex_init(&rl->mu, NULL);
	*out = rl;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl->table);
	free(rl);
}

uint64_t ratelimit_evictions(struct ratelimit *rl)
{
	pthread_mutex_lock(&rl->mu);
	uint64_t n = rl->evictions;
	pthread_mutex_unlock(&rl->mu);
	return n;
}

/* src cut to cap - 1 bytes, as snprintf("%s") would, without its cost: this runs up to
 * three times on every API request. */
static void copy_key(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* FNV-1a from a secret start, then a final mix: which keys share a set is not guessable. */
static uint64_t hash(const struct ratelimit *rl, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ rl->seed;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static bool forgotten(const struct ratelimit *rl, const struct entry *e, int64_t now)
{
	if (!e->failures)
		return false;
	if (rl->backoff_max_us)
		return now - e->last_us >= rl->window_us;
	return now - e->first_us >= rl->window_us;
}

/* What an entry is worth keeping: its failures, 0 when they no longer count. */
static uint32_t weight(const struct ratelimit *rl, const struct entry *e, int64_t now)
{
	return !e->key[0] || forgotten(rl, e, now) ? 0 : e->failures;
}

static struct entry *find(struct ratelimit *rl, const char *key, int64_t now, bool create)
{
	struct entry *set = &rl->table[(hash(rl, key) % rl->nsets) * WAYS], *victim = NULL;
	for (int i = 0; i < WAYS; i++) {
		struct entry *e = &set[i];
		if (e->key[0] && strcmp(e->key, key) == 0)
			return e;
		if (e->inflight)
			continue;
		if (!victim) {
			victim = e;
			continue;
		}
		uint32_t w = weight(rl, e, now), vw = weight(rl, victim, now);
		bool older = victim->key[0] && e->last_us < victim->last_us;
		if (w < vw || (w == vw && (!e->key[0] || older)))
			victim = e;
	}
	if (!create || !victim)
		return NULL;
	if (weight(rl, victim, now))
		rl->evictions++;
	memset(victim, 0, sizeof(*victim));
	copy_key(victim->key, sizeof(victim->key), key);
	return victim;
}

static int64_t seconds_up(int64_t us)
{
	int64_t s = (us + 999999) / 1000000;
	return s > 0 ? s : 1;
}

/* The wait once past the limit: 2 s, doubling with each further failure, capped. */
static int64_t backoff_us(const struct ratelimit *rl, uint32_t failures)
{
	uint32_t over = failures - (uint32_t)rl->max_failures;
	int64_t us = over < 30 ? (2000000LL << over) : rl->backoff_max_us;
	return us < rl->backoff_max_us ? us : rl->backoff_max_us;
}

int64_t ratelimit_acquire(struct ratelimit *rl, const char *key, int64_t now_us)
{
	char k[KEY_MAX];
	int64_t wait_us = 0;
	copy_key(k, sizeof(k), key);
	pthread_mutex_lock(&rl->mu);
	struct entry *e = find(rl, k, now_us, true);
	if (!e) {
		/* Every entry of the set has an attempt in flight: refuse rather than grow. */
		pthread_mutex_unlock(&rl->mu);
		return 1;
	}
	if (forgotten(rl, e, now_us))
		e->failures = 0;
	uint32_t max = (uint32_t)rl->max_failures;
	if (e->failures >= max) {
		int64_t until = rl->backoff_max_us ? e->last_us + backoff_us(rl, e->failures)
						   : e->first_us + rl->window_us;
		if (until > now_us)
			wait_us = until - now_us;
		else if (e->inflight)
			wait_us = 1; /* past the limit, one attempt at a time */
	} else if (e->failures + e->inflight >= max) {
		wait_us = 1; /* the attempts in flight may use up what is left */
	}
	if (!wait_us)
		e->inflight++;
	pthread_mutex_unlock(&rl->mu);
	return wait_us ? seconds_up(wait_us) : 0;
}

void ratelimit_release(struct ratelimit *rl, const char *key, int64_t now_us,
		       enum ratelimit_outcome how)
{
	char k[KEY_MAX];
	copy_key(k, sizeof(k), key);
	pthread_mutex_lock(&rl->mu);
	/* An entry with an attempt in flight is never evicted, so it is still here. */
	struct entry *e = find(rl, k, now_us, false);
	if (e) {
		if (e->inflight)
			e->inflight--;
		if (forgotten(rl, e, now_us))
			e->failures = 0;
		if (how == RATELIMIT_FAILED) {
			if (!e->failures)
				e->first_us = now_us;
			if (e->failures < FAILURES_MAX)
				e->failures++;
			e->last_us = now_us;
		} else if (how == RATELIMIT_PASSED) {
			e->failures = 0;
		}
		if (!e->failures && !e->inflight)
			e->key[0] = '\0';
	}
	pthread_mutex_unlock(&rl->mu);
}

void ratelimit_addr_key(const char *addr, char *out, size_t len)
{
	static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint8_t ip[16];
	char buf[46];
	if (ip_parse(addr, strlen(addr), ip) < 0) {
		snprintf(out, len, "%s", addr);
		return;
	}
	bool v6 = memcmp(ip, v4_mapped, sizeof(v4_mapped)) != 0;
	if (v6)
		memset(ip + 8, 0, 8);
	ip_format(ip, buf);
	snprintf(out, len, "%s%s", buf, v6 ? "/64" : "");
}
