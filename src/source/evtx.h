/* evtx.h — read exported Windows event log files (.evtx) with libevtx, each record through
 * the Windows event mapping (parse/winevent.h). */
#ifndef SIEM_EVTX_H
#define SIEM_EVTX_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/event.h"

struct evtx_reader;

int evtx_open(struct evtx_reader **out, const char *path);
void evtx_close(struct evtx_reader *r);
/* Records in the file (including recovered ones if any). */
size_t evtx_count(struct evtx_reader *r);
/* Event number i (0-based) into ev. SIEM_EPARSE for a record that cannot be read or mapped
 * (err says why: the caller keeps it as a dead letter). */
int evtx_read(struct evtx_reader *r, size_t i, struct event *ev, struct arena *a, char *err,
	      size_t errlen);

#endif
