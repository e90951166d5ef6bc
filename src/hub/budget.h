/* budget.h — --memory-budget: how much memory the hub aims to stay within, and how it
 * scales the defaults of the settings that hold memory (docs/operations.md, "Memory"). */
#ifndef SIEM_HUB_BUDGET_H
#define SIEM_HUB_BUDGET_H

#include <stdint.h>

#include "core/config.h"
#include "hub/cmd.h"

/* The budget's option row, in serve's table. */
#define BUDGET_OPT                                                                                \
	{                                                                                         \
		"memory-budget", "SIEM_MEMORY_BUDGET", OPT_SIZE, "128m", "BYTES",                 \
		    "memory the hub aims to stay within: scales the defaults of --segment-rows, " \
		    "--cache-mb, --queue-max and --body-budget, and the store's other caches",    \
		    false, 48LL << 20, 1LL << 40                                                  \
	}

/* The value of option name: as given, or at its default scaled by the budget (for
 * segment-rows, cache-mb, queue-max and body-budget; others as config_int). */
int64_t budget_int(const struct config *c, const char *name);
/* The store's settings from the budget (and the options it scales). */
void budget_store_tuning(const struct config *c, struct cmd_store_tuning *t);
/* Process-wide bounds from the budget: the stats rollups' memory. */
void budget_apply(const struct config *c);

#endif
