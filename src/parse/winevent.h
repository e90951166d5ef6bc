/* winevent.h — a Windows event (the XML that the Event Log API renders and that evtx exports
 * hold) into a normalized event: 4625 LOGIN_FAIL, 4720 ACCOUNT_CREATE, 1102 LOG_TAMPERING,
 * 4624 LOGIN_SUCCESS, 4672 and 4688 as their own types, every other event kept generic.
 * Platform-neutral: the Linux evtx reader, the tests and the Windows agent share it. */
#ifndef SIEM_WINEVENT_H
#define SIEM_WINEVENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/event.h"

/* Map one <Event> XML document. os_type WINDOWS; source_host from System/Computer; user
 * from TargetUserName (or SubjectUserName); source_ip from IpAddress when it is an address;
 * data holds {"EventID", "Channel", "Provider_Name", "Computer", "EventRecordID", ... System
 * fields, then every EventData (or UserData/<element>) field flat by name}; raw_message the
 * XML; the event id derived (UUIDv5) from Computer, Channel and EventRecordID so a re-read
 * never duplicates. Returns 0, or SIEM_EPARSE with the reason in err. */
int winevent_from_xml(const char *xml, size_t n, struct event *ev, struct arena *a, char *err,
		      size_t errlen);

#endif
