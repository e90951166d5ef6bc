/* grok.h — named reusable regex pieces ("%{IP:source_ip}") expanded into one PCRE2
 * pattern: the standard library written here, a file's own patterns over it. */
#ifndef SIEM_GROK_H
#define SIEM_GROK_H

#include <stddef.h>

#include "core/strbuf.h"

/* A library of name -> regex text, searched before the standard one. */
struct grok_lib {
	const char *const *names;
	const char *const *defs;
	size_t n;
};

/* How a named capture of the expansion maps to the event: %{IP:source_ip} captures into
 * group "source_ip"; %{INT:data.port:int} into group "data_port", target "data.port", int. */
struct grok_capture {
	char group[33];
	char target[65];
	unsigned char as_int;
};

#define GROK_MAX_CAPTURES 32

struct grok_out {
	struct strbuf re; /* the expanded PCRE2 pattern */
	struct grok_capture caps[GROK_MAX_CAPTURES];
	size_t ncaps;
	char err[200]; /* why expansion failed: "unknown pattern 'IPP'" */
};

/* The standard library's regex for name, or NULL. */
const char *grok_std(const char *name, size_t n);

/* Expand src (a regex with %{NAME[:field[:int]]} references) into out->re. Returns 0, or
 * SIEM_EPARSE with out->err set, -ENOMEM, -E2BIG when the expansion is too big. out must be
 * released with grok_out_release whatever the result. */
int grok_expand(const char *src, const struct grok_lib *lib, struct grok_out *out);
void grok_out_init(struct grok_out *out);
void grok_out_release(struct grok_out *out);

#endif
