/* enrich.h — the enrichment stage of the ingest pipeline: GeoIP and ASN of the source
 * address (geoip.c, libmaxminddb), threat-intelligence tags from local lists (intel.c) and
 * the reverse DNS name of the source address (rdns.c, c-ares). It runs on the receivers'
 * threads, on each batch before it is queued for the store, so rules and queries see its
 * fields (struct event's geo_*, tags, rdns). Nothing here ever waits on the network: a
 * reverse lookup that is not cached yet is queued and its name fills later events. */
#ifndef SIEM_ENRICH_H
#define SIEM_ENRICH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/event.h"
#include "core/strbuf.h"

struct enrich_config {
	const char *geoip_db;	  /* a GeoIP2/GeoLite2 City or Country database, or NULL */
	const char *asn_db;	  /* a GeoLite2 ASN (or GeoIP2 ISP) database, or NULL */
	const char *intel_dir;	  /* a directory of indicator lists, or NULL */
	int intel_min_confidence; /* CSV rows with a lower "confidence" are left out; 0: none */
	bool rdns;		  /* reverse DNS of source addresses */
	const char *rdns_servers; /* "ADDR[:PORT],..." (c-ares syntax), NULL: the system's */
	int rdns_ttl_s;		  /* how long a name (or a failure) is kept; 0: 300 */
	size_t rdns_cache_max;	  /* addresses kept; 0: 65536 */
	size_t rdns_queue_max;	  /* lookups waiting; 0: 1024 */
	int reload_check_ms;	  /* how often the files are checked for change; 0: 5000 */
};

struct enrich;

/* Start the enrichers cfg names. A database or list that cannot be loaded is logged with
 * its reason and left out (the hub runs without it; enrich_problems names it); only running
 * out of memory or failing to start a thread fails this (-ENOMEM, -EIO). *out is NULL
 * when cfg names no enricher at all. */
int enrich_open(struct enrich **out, const struct enrich_config *cfg);

/* Fill the enrichment fields of ev[0..n) (copied into a, the batch's arena). Thread-safe:
 * any number of receivers call it at once. e may be NULL (nothing to do). */
void enrich_events(struct enrich *e, struct event *ev, size_t n, struct arena *a);

/* Reload every database and list now (SIGHUP); they are also reloaded by themselves when
 * their files change (and then stayed the same for one check). A reload that fails keeps
 * what was loaded before. Replace a file by writing the new one beside it and rename()-ing
 * it over the old one, so that no reload ever reads half a file. */
void enrich_reload(struct enrich *e);

/* For GET /ready: one line per enricher configured that is not working, "geoip: <reason>",
 * into out (separated by "; "); returns how many. */
int enrich_problems(struct enrich *e, struct strbuf *out);

void enrich_close(struct enrich *e);

#endif
