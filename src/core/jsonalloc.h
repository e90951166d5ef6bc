/* jsonalloc.h — route jansson's allocations to a per-thread scratch region while a request
 * body is parsed, so that parsing a batch costs pointer bumps instead of one malloc/free per
 * value. Outside a scratch section jansson uses malloc, so memory it hands to other
 * libraries (libjwt frees with free()) stays ordinary heap memory. */
#ifndef SIEM_JSONALLOC_H
#define SIEM_JSONALLOC_H

/* Install the allocator (once, before any thread uses jansson). */
void jsonalloc_install(void);
/* From here on this thread's new jansson values come from its scratch region. Every value
 * made in the section must be dropped before jsonalloc_end, which recycles the region.
 * Sections do not nest. */
void jsonalloc_begin(void);
void jsonalloc_end(void);

#endif
