/* ratelimit.c — a fixed table of recent offenders; when full, the entry whose window is
 * oldest is reused, so memory stays bounded whatever an attacker does. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/ratelimit.h"

#define SLOTS 1024

struct entry {
	char addr[64];
	int64_t window_start;
	int failures;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry table[SLOTS];
static int max_fail = 5;
static int64_t window_us = 60 * 1000000LL;

void ratelimit_configure(int max_failures, int window_s)
{
	pthread_mutex_lock(&mu);
	max_fail = max_failures > 0 ? max_failures : 5;
	window_us = (window_s > 0 ? window_s : 60) * 1000000LL;
	pthread_mutex_unlock(&mu);
}

static struct entry *find(const char *addr, int64_t now_us, bool create)
{
	struct entry *oldest = &table[0];
	for (int i = 0; i < SLOTS; i++) {
		struct entry *e = &table[i];
		if (e->addr[0] && strcmp(e->addr, addr) == 0) {
			if (now_us - e->window_start >= window_us) {
				e->window_start = now_us;
				e->failures = 0;
			}
			return e;
		}
		if (!e->addr[0] || e->window_start < oldest->window_start)
			oldest = e;
	}
	if (!create)
		return NULL;
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	oldest->window_start = now_us;
	oldest->failures = 0;
	return oldest;
}

int64_t ratelimit_blocked(const char *addr, int64_t now_us)
{
	int64_t wait = 0;
	pthread_mutex_lock(&mu);
	struct entry *e = find(addr, now_us, false);
	if (e && e->failures >= max_fail)
		wait = (e->window_start + window_us - now_us + 999999) / 1000000;
	pthread_mutex_unlock(&mu);
	return wait > 0 ? wait : 0;
}

void ratelimit_fail(const char *addr, int64_t now_us)
{
	pthread_mutex_lock(&mu);
	find(addr, now_us, true)->failures++;
	pthread_mutex_unlock(&mu);
}

void ratelimit_reset(const char *addr)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < SLOTS; i++)
		if (table[i].addr[0] && strcmp(table[i].addr, addr) == 0)
			table[i].addr[0] = '\0';
	pthread_mutex_unlock(&mu);
}
