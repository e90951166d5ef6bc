/* api_role.h — broker mode's api role: the alerts other nodes write reach this node's
 * /alerts/stream subscribers. A thread listens on the store's ALERTS_CHANNEL (PostgreSQL
 * LISTEN) and publishes what the store has past what this node published. */
#ifndef SIEM_HUB_API_ROLE_H
#define SIEM_HUB_API_ROLE_H

#include "alert/alert.h"
#include "store/store.h"

struct api_role;
int api_role_start(struct api_role **out, struct store *s, struct alerts *alerts);
void api_role_stop(struct api_role *r);

#endif
