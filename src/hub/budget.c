/* budget.c — --memory-budget. The defaults of the options below are sized for the default
 * budget (128 MiB); an option left at its default is scaled by budget / 128 MiB, never
 * below its floor. What each share holds: docs/operations.md, "Memory". */
#include <string.h>

#include "hub/budget.h"
#include "store/store_stats.h"

#define BUDGET_BASE (INT64_C(128) << 20)

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

/* x * budget / 128 MiB without overflow for any budget the option allows (up to 1 TiB). */
static int64_t scale(const struct config *c, int64_t x)
{
	return (int64_t)((double)x * (double)budget(c) / (double)BUDGET_BASE);
}

int64_t budget_int(const struct config *c, const char *name)
{
	int64_t v = config_int(c, name);
	for (size_t i = 0; i < sizeof(scaled_opts) / sizeof(scaled_opts[0]); i++) {
		if (strcmp(scaled_opts[i].name, name) != 0 || !config_is_default(c, name))
			continue;
		v = scale(c, v);
		if (v < scaled_opts[i].floor)
			v = scaled_opts[i].floor;
		if (strcmp(name, "body-budget") == 0 && v < config_int(c, "max-body"))
			v = config_int(c, "max-body");
		break;
	}
	return v;
}

void budget_store_tuning(const struct config *c, struct cmd_store_tuning *t)
{
	int64_t b = budget(c);
	t->segment_rows = budget_int(c, "segment-rows");
	t->cache_mb = (int)budget_int(c, "cache-mb");
	t->index_cache_mb = (int)(b / 16 >> 20) > 1 ? (int)(b / 16 >> 20) : 1;
	t->pending_bytes = (size_t)(b / 4);
	t->sqlite_heap = b * 3 / 8;
}

void budget_apply(const struct config *c)
{
	stats_rollup_set_limit((size_t)(budget(c) / 16));
}
