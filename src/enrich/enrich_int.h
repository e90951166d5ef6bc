/* enrich_int.h — what the enrichers (geoip.c, intel.c, rdns.c) and the stage (enrich.c) share:
 * each enricher's load, lookup and release, the rule for which addresses are looked up, and
 * the stage's metrics (unit tests read them too). */
#ifndef SIEM_ENRICH_INT_H
#define SIEM_ENRICH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "core/strbuf.h"
#include "enrich/enrich.h"

enum enricher { EN_GEOIP, EN_ASN, EN_INTEL, EN_RDNS, EN_N };

/* Counts of one enrich_events call, added to the metrics once at its end (an atomic add per
 * event and field would make every receiver thread fight over a few cache lines). */
struct enrich_tally {
	int64_t lookups[EN_N], hits[EN_N], errors[EN_N];
	int64_t skipped_private;
};

extern struct metric enrich_m_lookups[EN_N], enrich_m_hits[EN_N], enrich_m_errors[EN_N];
extern struct metric enrich_m_reloads[EN_N], enrich_m_reload_errors[EN_N]; /* not EN_RDNS */
extern struct metric enrich_m_skipped_private, enrich_m_intel_lists, enrich_m_intel_ip,
    enrich_m_intel_domain, enrich_m_rdns_entries, enrich_m_rdns_dropped, enrich_m_rdns_cache_hits,
    enrich_m_rdns_cache_misses;

/* Whether ip (16 bytes, IPv4 mapped) is a public unicast address: not private, loopback,
 * link-local, CGNAT, multicast, reserved, unspecified, documentation or benchmarking space,
 * nor an IPv6 unique-local, site-local or translation form of such an address. Only public
 * addresses are looked up in GeoIP databases and in the DNS. */
bool enrich_ip_public(const uint8_t ip[16]);

/* ---- geoip.c ---- */

enum geo_kind {
	GEO_LOCATION, /* a City or Country database: country, city, location */
	GEO_ASN,      /* an ASN or ISP database: autonomous system number and organization */
	GEO_ANY,      /* any type, read as GEO_LOCATION and GEO_ASN (tests: damaged files) */
};

struct geo_db;

/* Open the MaxMind DB at path (memory-mapped) and check that its database_type suits kind.
 * On failure writes the reason into err and returns SIEM_EPARSE (or -ENOMEM). */
int geo_open(struct geo_db **out, const char *path, enum geo_kind kind, char *err, size_t errlen);
void geo_close(struct geo_db *g);
/* "GeoIP2-City, built 2026-02-04" for the load's log line. */
void geo_describe(const struct geo_db *g, char *buf, size_t cap);
/* Look ev's source address up (the caller checked it is public) and set its geo fields,
 * strings copied into a. Corrupt data is counted in t->errors, never fatal. */
void geo_enrich(const struct geo_db *g, struct event *ev, struct arena *a, struct enrich_tally *t);

/* ---- intel.c ---- */

struct intel;

struct intel_stats {
	size_t lists;	   /* lists loaded */
	size_t ip4, ip6;   /* IPv4 and IPv6 indicators (addresses and networks) */
	size_t domains;	   /* domain indicators */
	size_t ranges4;	   /* disjoint IPv4 intervals after merging all lists */
	size_t ranges6;	   /* disjoint IPv6 intervals */
	size_t bad;	   /* lines or rows skipped as not an indicator */
	size_t below_conf; /* CSV rows under the minimum confidence */
	size_t tags, sets; /* distinct tags, distinct tag sets */
	size_t bytes;	   /* memory of the lookup tables */
};

/* Whether a directory entry's name is a list (not hidden, not a editor or temporary file). */
bool intel_file_wanted(const char *name);

/* Load every list of dir. A list that cannot be loaded is left out, its reason appended to
 * problems ("intel: <path>: <reason>", separated by "; ") and counted in *nproblems; an
 * unreadable directory fails the load (a negative errno) with its reason
 * there too. min_confidence drops CSV rows below it. */
int intel_load(struct intel **out, const char *dir, int min_confidence, struct strbuf *problems,
	       int *nproblems);
void intel_free(struct intel *in);
const struct intel_stats *intel_stats(const struct intel *in);
/* Whether a list that next loaded (file name in dir) failed in it: a reload that loses a
 * list this way keeps the previous tables instead. */
bool intel_lost_list(const struct intel *next, const struct intel *prev);
/* Tag ev with every list its source address, its data's address and domain keys and its
 * rdns name are on (ev->tags, merged with any tags it has). */
void intel_enrich(const struct intel *in, struct event *ev, struct arena *a,
		  struct enrich_tally *t);

/* Lookups for tests: the tags of one address or name, joined by ',' into buf ("" when
 * none); returns the length. */
size_t intel_tags_of_ip(const struct intel *in, const uint8_t ip[16], char *buf, size_t cap);
size_t intel_tags_of_domain(const struct intel *in, const char *name, char *buf, size_t cap);

/* ---- rdns.c ---- */

struct rdns;

/* Start the resolver thread with cfg's servers, TTL and bounds; on failure writes the
 * reason into err. */
int rdns_start(struct rdns **out, const struct enrich_config *cfg, char *err, size_t errlen);
void rdns_stop(struct rdns *r);
/* Set ev[i].rdns from the cache for public source addresses; queue the misses. */
void rdns_fill(struct rdns *r, struct event *ev, size_t n, struct arena *a, struct enrich_tally *t);

#endif
