/* forward.h — records as log forwarders post them over HTTP (Fluent Bit's http output,
 * Vector's and Logstash's http sinks, syslog-ng's http() with format-json, the raw envelope
 * {"timestamp", "host", "source", "raw"}) into events, their log line decoded exactly like
 * a syslog or file line. */
#ifndef SIEM_FORWARD_H
#define SIEM_FORWARD_H

#include <jansson.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/event.h"

/* event_from_json, after mapping the forwarders' own names for the event's fields (it may
 * rename keys of obj). Then, unless the record names its event_type: a message that is a
 * whole syslog line is decoded as one (host, program, time and type from the line; the
 * record's host, program and time kept in data.forwarder), and a message of a program the
 * decoders know is decoded by them. Returns like event_from_json. */
int forward_event_from_json(struct event *ev, json_t *obj, struct arena *a, int64_t now_us,
			    char *err, size_t errlen);

/* The same over an object's members (core/event.h), as the ingest reader gives them. */
int forward_event_from_members(struct event *ev, const struct event_member *m, size_t n,
			       struct arena *a, int64_t now_us, char *err, size_t errlen);

#endif
