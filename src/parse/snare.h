/* snare.h — Windows events forwarded as syslog by Snare (and the agents that copy its
 * format): "MSWinEventLog<TAB>criticality<TAB>log<TAB>counter<TAB>time<TAB>EventID<TAB>
 * source<TAB>user<TAB>SID type<TAB>audit<TAB>computer<TAB>category<TAB>data<TAB>message",
 * typed like the agent's Windows events (4625 -> LOGIN_FAIL, ...). */
#ifndef SIEM_SNARE_H
#define SIEM_SNARE_H

#include <stdbool.h>

#include "core/arena.h"
#include "core/event.h"

/* Does a syslog message of program app (p NULL when none) carry a Snare record? */
bool snare_is(struct sv app, struct sv msg);

/* Type ev (already a syslog event) from its Snare record msg: event_type, severity,
 * os_type, user, source_ip, and the record's fields in data.snare. Returns 1 when msg is a
 * Snare record, 0 when not (ev unchanged), -ENOMEM. */
int snare_decode(struct event *ev, struct arena *a, struct sv app, struct sv msg);

#endif
