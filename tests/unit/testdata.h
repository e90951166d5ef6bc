/* testdata.h — where the shared real-world samples are: $SIEM_TEST_DATA, else shared/data
 * beside the repository (found from the test's working directory; tests skip when absent);
 * a file read whole; a temporary directory removed with everything in it. */
#ifndef SIEM_TESTDATA_H
#define SIEM_TESTDATA_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The data directory holding probe (e.g. "evtx/SOURCE.md"), or NULL. */
static inline const char *test_data_dir(const char *probe)
{
	static char found[512];
	const char *dirs[] = {getenv("SIEM_TEST_DATA"), "../shared/data", "../../shared/data",
			      "../../../shared/data"};
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

/* The whole file at path, NUL-terminated (free it), its length in *n; NULL if unreadable. */
static inline char *test_slurp(const char *path, size_t *n)
{
	if (n)
		*n = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
		free(b);
		b = NULL;
	}
	if (b)
		b[len] = '\0';
	if (n)
		*n = b ? (size_t)len : 0;
	fclose(f);
	return b;
}

static inline int test_rm_entry(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb;
	(void)f;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* dir and everything below it (links are removed, not followed). */
static inline void test_rm_tree(const char *dir)
{
	nftw(dir, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
