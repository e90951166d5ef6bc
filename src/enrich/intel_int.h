/* intel_int.h — what intel.c (loading the lists into tables) and intel_match.c (looking
 * events up in them) share: the tables' layout and the few helpers both use. */
#ifndef SIEM_INTEL_INT_H
#define SIEM_INTEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "enrich/enrich_int.h"

#define LIST_MAX_BYTES ((size_t)1 << 30) /* one list file, read whole */
#define NAME_MAX_LEN 100		 /* a list's name in its tag */
#define SUBTAG_MAX_LEN 64		 /* a CSV row's tag, after the list's name */
#define SET_MAX 4096			 /* tags in one set: more are dropped */
#define EVENT_TAGS_MAX 64		 /* tags on one event */
#define NO_SET UINT32_MAX
#define NO_TAG UINT32_MAX

struct u128 {
	uint64_t h, l;
};

struct r4 { /* [lo, hi] tagged with set */
	uint32_t lo, hi, set;
};

struct r6 {
	struct u128 lo, hi;
	uint32_t set;
};

struct item4 { /* one list's range, before the sweep */
	uint32_t lo, hi, tag;
};

struct item6 {
	struct u128 lo, hi;
	uint32_t tag;
};

struct dslot {
	uint64_t h;
	uint32_t off; /* name in names[] */
	uint32_t set; /* set id + 1; 0: empty slot */
};

/* File names. */
struct strvec {
	char **p;
	size_t n, cap;
};

/* A growable array: p holds n of cap elements. */
#define VEC(T)                 \
	struct {               \
		T *p;          \
		size_t n, cap; \
	}

struct intel {
	/* Tags and their interning table (slot: id + 1, 0 empty). */
	VEC(char *) tag;
	uint32_t *tag_slot;
	size_t tag_slot_cap;

	/* Sets: sorted tag ids set_tags[set_off[i] .. + set_len[i]], interned. */
	VEC(uint32_t) set_off;
	VEC(uint32_t) set_len;
	VEC(uint32_t) set_tags;
	uint32_t *set_slot;
	size_t set_slot_cap;

	VEC(struct r4) v4;
	VEC(struct r6) v6;

	struct dslot *dom;
	size_t dom_cap, dom_n;
	VEC(char) names;

	struct strvec ok_files;	    /* lists loaded (file names) */
	struct strvec failed_files; /* lists that could not be */

	struct intel_stats st;

	/* Load time only. */
	VEC(struct item4) it4;
	VEC(struct item6) it6;
};

static const uint8_t V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static inline struct u128 u128_of(const uint8_t b[16])
{
	struct u128 v = {0, 0};
	for (int i = 0; i < 8; i++) {
		v.h = v.h << 8 | b[i];
		v.l = v.l << 8 | b[8 + i];
	}
	return v;
}

static inline int u128_cmp(struct u128 a, struct u128 b)
{
	if (a.h != b.h)
		return a.h < b.h ? -1 : 1;
	return a.l < b.l ? -1 : a.l > b.l;
}

/* A host name, lower-cased into out (room for 254 bytes): labels of [a-z0-9-_] of 1..63
 * bytes, at most 253 in all, a trailing dot dropped. dots_min: how many dots it needs. A
 * last label of digits only is refused (that is a mistyped address, not a name). */
size_t intel_norm_host(const char *p, size_t n, char out[254], int dots_min);
/* The slot of name p (n bytes, hash h) in the domain table, or the empty slot where it
 * would go. */
size_t intel_dom_find(const struct intel *in, const char *p, size_t n, uint64_t h);

#endif
