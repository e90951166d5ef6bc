/* tz.h — time zones for timestamps written without one (RFC 3164 syslog): a fixed offset or
 * an IANA zone read from the system's TZif files, and the per-sender choice among them. */
#ifndef SIEM_TZ_H
#define SIEM_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

struct tz;

/* "UTC", "+09:00" / "-0530", an IANA name ("Asia/Tokyo") under $TZDIR or
 * /usr/share/zoneinfo, or "localtime" (this machine's /etc/localtime, UTC without one).
 * Returns 0, or a negative code with the reason in err. */
int tz_load(const char *name, struct tz **out, char *err, size_t errlen);
void tz_free(struct tz *z);
/* A wall-clock time of zone z (microseconds as if it were UTC) as UTC microseconds. In a
 * gap or an overlap of daylight saving time the offset in force just before is used. */
int64_t tz_local_to_utc(const struct tz *z, int64_t local_us);
const char *tz_name(const struct tz *z);

/* The zone of each sender: "ZONE[,SENDER=ZONE...]" where SENDER is an address (as the
 * receiver sees it) or a host name (as the message names it, any case), and the entry
 * without '=' is the default for everyone else (UTC when there is none). */
struct tz_map;
int tz_map_parse(const char *spec, struct tz_map **out, char *err, size_t errlen);
void tz_map_free(struct tz_map *m);
/* The zone for a message from address addr (NULL when unknown) naming host (p NULL when it
 * names none): an address entry first, then a host entry, then the default; NULL means
 * UTC. */
const struct tz *tz_map_find(const struct tz_map *m, const char *addr, struct sv host);

#endif
