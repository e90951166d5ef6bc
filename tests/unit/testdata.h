/* testdata.h — where the shared real-world samples are: $SIEM_TEST_DATA, else shared/data
 * beside the repository (found from the test's working directory). Tests skip when absent. */
#ifndef SIEM_TESTDATA_H
#define SIEM_TESTDATA_H

#include <stdio.h>
#include <stdlib.h>

/* The data directory holding probe (e.g. "evtx/SOURCE.md"), or NULL. */
static inline const char *test_data_dir(const char *probe)
{
	static char found[512];
	const char *dirs[] = { getenv("SIEM_TEST_DATA"), "../shared/data", "../../shared/data",
			       "../../../shared/data" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char p[600];
		if (!dirs[i])
			continue;
		snprintf(p, sizeof(p), "%s/%s", dirs[i], probe);
		FILE *f = fopen(p, "r");
		if (f) {
			fclose(f);
			snprintf(found, sizeof(found), "%s", dirs[i]);
			return found;
		}
	}
	return NULL;
}

#endif
