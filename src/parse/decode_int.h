/* decode_int.h — what decode.c (matching) and decoder_load.c (reading decoder files) share:
 * a loaded decoder set, its decoders and their compiled patterns. */
#ifndef SIEM_DECODE_INT_H
#define SIEM_DECODE_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"

#define DEC_MAX_FIELDS 32

/* K_IP sets source_ip from an address (else data); K_IPWEAK only when none is set yet; the
 * K_EV_* kinds set the event field of that name (K_LATENCY_S from seconds). */
enum field_kind {
	K_USER,
	K_IP,
	K_IPWEAK,
	K_STR,
	K_INT,
	K_HTTP_METHOD,
	K_HTTP_PATH,
	K_USER_AGENT,
	K_REQUEST_ID,
	K_ERROR_TYPE,
	K_HTTP_STATUS,
	K_LATENCY_MS,
	K_LATENCY_S,
};

struct dfield {
	const char *name;		    /* the data key (or "user", "source_ip") */
	unsigned short group;		    /* capture group number */
	unsigned char namelen, kind, first; /* first: index of the first field of this group name */
};

struct dpattern {
	const char *name; /* for --explain: "failed_password" */
	const char *type; /* event_type, or NULL for the program's generic type */
	int sev;	  /* 1..5, or 0 to keep */
	const char *re;	  /* the expanded PCRE2 pattern, anchored */
	size_t prefix_n;  /* re[0..prefix_n) is literal text every match starts with */
	bool first_set;	  /* first[]: the bytes a match can start with (from PCRE2) */
	uint8_t first[32];
	const char *extra; /* constant data members ("\"invalid_user\":true"), or NULL */
	const char *user;  /* constant user when the message names none, or NULL */
	pcre2_code *code;
	bool jit;
	unsigned nfields;
	struct dfield fields[DEC_MAX_FIELDS];
};

struct dprogram {
	const char *name;
	size_t n;
	bool prefix;	     /* "pam_*": any program whose name starts with name[0..n) */
	const char *generic; /* event type of this program's unmatched lines, or NULL */
};

struct ddecoder {
	const char *name;
	const char *file; /* where it was defined, "builtin:sshd.yml" for the built-in ones */
	struct dprogram *programs;
	size_t nprograms;      /* 0: every program */
	const char *prefilter; /* literal the message must contain, or NULL */
	size_t prefilter_n;
	const char *generic; /* event type for typeless patterns when the program has none */
	struct dpattern *patterns;
	size_t npatterns;
	/* The patterns a message starting with byte b can match, in order:
	 * by_first[first_at[b] .. first_at[b + 1]). */
	uint32_t first_at[257];
	uint16_t *by_first;
};

/* An immutable set of decoders: the user's (in file name order) then the built-in ones.
 * Readers hold a reference while they decode; a reload swaps in a new set. */
/* The decoders a program's lines meet, in order, worked out when the set loads: those that
 * name the program and those that select at run time (no programs, or a "pam_*" prefix). */
#define DROUTE_CHECK 0x80000000u /* in a route: the decoder selects at run time */

struct droute {
	const char *name; /* the program */
	size_t n;
	const uint32_t *decoders;
	size_t ndecoders;
	const struct ddecoder *generic_decoder; /* the first naming it with a generic type */
};

struct decoder_set {
	struct arena a;
	struct ddecoder *decoders;
	size_t n, cap;
	uint32_t max_groups;
	struct droute *routes; /* sorted by name */
	size_t nroutes;
	const uint32_t *dynamic; /* the run-time selecting decoders, for any other program */
	size_t ndynamic;
	bool prefix_generic; /* some "name*" entry has a generic type */
	atomic_uint refs;
};

/* Load the built-in decoders and, with dir, every *.yml in dir before them. On error
 * returns SIEM_EPARSE (or -errno) with err "FILE:LINE: pattern 'NAME': why". */
int decoder_set_load(const char *dir, struct decoder_set **out, char *err, size_t errlen);
void decoder_set_free(struct decoder_set *s);

/* The built-in decoder files embedded into the binary (decoders_builtin.c). */
struct builtin_file {
	const char *name;
	const char *text; /* NUL-terminated */
};
extern const struct builtin_file decoder_builtin_files[];
extern const size_t decoder_builtin_nfiles;

#endif
