/* event_fields.c — the field table (event_fields.h) as data, for code that walks the event's
 * fields at run time: event_to_json, the plain strings of normalization, Sigma field access. */
#include <stddef.h>

#include "event.h"

#define INFO_ROW(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, POS, FULL, DFLT, ...) \
	[EF_##ID] = {NAME, DFLT, offsetof(struct event, MEMBER), EFK_##KIND, FULL, FLAG, CAP},
const struct event_field_info event_fields[EF_COUNT] = {EVENT_FIELDS(INFO_ROW)};
_Static_assert(sizeof(struct event) <= 0xffff, "off is an unsigned short");
_Static_assert(EF_COUNT <= 0xff, "field ids are kept in unsigned chars");

/* Two rows with one POS, or a POS out of range, do not compile: the order is a permutation. */
#define ORDER_ROW(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, POS, ...) [POS] = EF_##ID,
const unsigned char event_fields_json_order[EF_COUNT] = {EVENT_FIELDS(ORDER_ROW)};
