/* jsonalloc.c — jansson allocation hooks with a per-thread scratch region: one large
 * reserved mapping per thread, bump-allocated during a section and reset after it. A block
 * is known to be scratch by its address, so free() of heap blocks works unchanged. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/jsonalloc.h"

#define REGION_SIZE ((size_t)512 << 20) /* address space only; pages come on use */
#define KEEP_RESIDENT ((size_t)2 << 20) /* pages kept between sections */

struct region {
	unsigned char *base, *cur, *end;
	bool active, failed;
};

static _Thread_local struct region rg;

static void *ja_malloc(size_t n)
{
	if (rg.active) {
		size_t need = (n + 15) & ~(size_t)15;
		if (need >= n && (size_t)(rg.end - rg.cur) >= need) {
			void *p = rg.cur;
			rg.cur += need;
			return p;
		}
		/* Region exhausted: fall back to the heap, freed normally. */
	}
	return malloc(n);
}

static void ja_free(void *p)
{
	unsigned char *c = p;
	if (rg.base && c >= rg.base && c < rg.end)
		return; /* scratch: recycled at the end of the section */
	free(p);
}

void jsonalloc_install(void)
{
	json_set_alloc_funcs(ja_malloc, ja_free);
}

void jsonalloc_begin(void)
{
	if (!rg.base && !rg.failed) {
		void *m = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED) {
			rg.failed = true; /* parse with malloc instead */
			return;
		}
		rg.base = rg.cur = m;
		rg.end = rg.base + REGION_SIZE;
	}
	rg.active = rg.base != NULL;
}

void jsonalloc_end(void)
{
	if (!rg.active)
		return;
	size_t used = (size_t)(rg.cur - rg.base);
	if (used > KEEP_RESIDENT)
		madvise(rg.base + KEEP_RESIDENT, used - KEEP_RESIDENT, MADV_DONTNEED);
	rg.cur = rg.base;
	rg.active = false;
}
