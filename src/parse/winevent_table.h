/* winevent_table.h — the Windows events with a type of their own, one table for the XML
 * decoder (winevent.c) and the Windows agent (source/wineventlog_win.c). Plain C with no
 * library, so that the mingw build compiles it too. */
#ifndef SIEM_WINEVENT_TABLE_H
#define SIEM_WINEVENT_TABLE_H

#include <stddef.h>

#define WINEVENT_PROV_SECURITY "Microsoft-Windows-Security-Auditing"
#define WINEVENT_PROV_EVENTLOG "Microsoft-Windows-Eventlog"

/* A row applies when EventID matches and the event's provider is the row's (or the event
 * names none). The message is a template: {Field} is a data field, and a [segment] is left
 * out when a field in it is absent, empty or "-". */
struct winevent_type {
	unsigned id;
	const char *provider;
	const char *type;
	int severity;
	const char *msg;
};

/* The message of an event without a row. */
extern const char winevent_generic_msg[];
/* System values that are numbers (JSON integers in data). */
extern const char *const winevent_sys_ints[];
extern const size_t winevent_n_sys_ints;

/* The row of EventID id for provider (NULL: the event names none), or NULL. */
const struct winevent_type *winevent_type_find(unsigned id, const char *provider);

#endif
