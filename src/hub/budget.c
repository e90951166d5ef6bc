/* budget.c — --memory-budget. The defaults of the options below are sized for the default
 * budget (128 MiB); an option left at its default is scaled with what the budget has past
 * a fixed 48 MiB, never below its floor. What each share holds: docs/operations.md,
 * "Memory". */
#include <string.h>

#include "hub/budget.h"
#include "store/store_stats.h"

#define BUDGET_BASE (INT64_C(128) << 20) /* the default budget, that the defaults are for */
#define BUDGET_FIXED (INT64_C(48) << 20) /* what no setting scales */

struct scaled {
	const char *name;
	int64_t floor;
};

static const struct scaled scaled_opts[] = {
    {"segment-rows", 10000}, /* the active segment's ids and postings: ~64 bytes an event */
    {"cache-mb", 2},	     /* the writer's page cache */
    {"queue-max", 1000},     /* events waiting for the writer */
    {"body-budget", 0},	     /* request bodies held at once; never below --max-body */
};

static int64_t budget(const struct config *c)
{
	int64_t b = config_int(c, "memory-budget");
	return b > 0 ? b : BUDGET_BASE;
}

/* x * (budget - 48 MiB) / 80 MiB, at least lo: the first 48 MiB go to what does not scale
 * (the program and its libraries, rules, threads, requests in flight, the allocator's
 * slack), the rest is shared in proportion. Double arithmetic: no overflow for any budget
 * the option allows (up to 1 TiB). */
static int64_t scale(const struct config *c, int64_t x, int64_t lo)
{
	double f = (double)(budget(c) - BUDGET_FIXED) / (double)(BUDGET_BASE - BUDGET_FIXED);
	int64_t v = (int64_t)((double)x * (f > 0 ? f : 0));
	return v > lo ? v : lo;
}

int64_t budget_int(const struct config *c, const char *name)
{
	int64_t v = config_int(c, name);
	for (size_t i = 0; i < sizeof(scaled_opts) / sizeof(scaled_opts[0]); i++) {
		if (strcmp(scaled_opts[i].name, name) != 0 || !config_is_default(c, name))
			continue;
		v = scale(c, v, scaled_opts[i].floor);
		if (strcmp(name, "body-budget") == 0 && v < config_int(c, "max-body"))
			v = config_int(c, "max-body");
		break;
	}
	return v;
}

void budget_store_tuning(const struct config *c, struct cmd_store_tuning *t)
{
	t->segment_rows = budget_int(c, "segment-rows");
	t->cache_mb = (int)budget_int(c, "cache-mb");
	t->index_cache_mb = (int)(scale(c, INT64_C(4) << 20, INT64_C(2) << 20) >> 20);
	t->pending_bytes = (size_t)scale(c, INT64_C(32) << 20, INT64_C(2) << 20);
	t->sqlite_heap = budget(c) * 3 / 8;
}

void budget_apply(const struct config *c)
{
	stats_rollup_set_limit((size_t)scale(c, INT64_C(16) << 20, INT64_C(1) << 20));
}
