/* detect_role.h — broker mode's detect role: the active detector evaluates the batches of
 * minisiem.detect with the hub's detector and alerting, and keeps its window state in
 * PostgreSQL so that the next active detector resumes from it. */
#ifndef SIEM_HUB_DETECT_ROLE_H
#define SIEM_HUB_DETECT_ROLE_H

#include "alert/alert.h"
#include "broker/broker.h"
#include "detect/detect.h"
#include "store/store.h"

/* The meta key the state is kept under. */
#define DETECT_STATE_KEY "detect.state"

struct detect_role;
int detect_role_start(struct detect_role **out, const struct broker_config *bc, struct store *s,
		      struct detector *det, struct alerts *alerts);
/* Its link to the broker, for /ready. */
struct broker_detect *detect_role_link(struct detect_role *r);
/* Stop consuming (what is not acknowledged goes to the next detector) and free. */
void detect_role_stop(struct detect_role *r);

#endif
