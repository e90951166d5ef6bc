/* roles.h — broker mode in `minisiem serve`: the roles a node runs (--roles), the broker's
 * settings (--amqp and its password), and the ingest publisher and store consumer they
 * start. Without --amqp none of it runs and the hub is one process as before. */
#ifndef SIEM_HUB_ROLES_H
#define SIEM_HUB_ROLES_H

#include <stdbool.h>

#include "broker/broker.h"
#include "core/config.h"
#include "ingest/pipeline.h"
#include "store/store.h"

enum hub_role { ROLE_INGEST = 1, ROLE_STORE = 2, ROLE_DETECT = 4, ROLE_API = 8 };

/* The option rows of broker mode, in serve's table; the password (environment or config
 * file only) goes with the other secrets at the table's end. */
#define ROLES_ALL "ingest,store,detect,api"
/* clang-format off */
#define ROLES_OPTS \
    {"amqp", "SIEM_AMQP_URL", OPT_URL, NULL, "URL", \
     "broker mode: RabbitMQ at amqp[s]://user@host:port/vhost (needs --postgres; the password" \
     " from SIEM_AMQP_PASSWORD or --amqp-password-file, never the command line)", false, 0, 0}, \
    {"roles", "SIEM_ROLES", OPT_STRING, ROLES_ALL, "ROLES", \
     "broker mode: what this node runs: ingest (receivers, publishing to the broker), store" \
     " (consuming into PostgreSQL), detect (one active detector at a time, its state in" \
     " PostgreSQL), api (streaming the alerts to its SSE clients)", false, 0, 0}, \
    {"amqp-password-file", "SIEM_AMQP_PASSWORD_FILE", OPT_STRING, "", "FILE", \
     "broker mode: the broker password, the first line of FILE", false, 0, 0}, \
    {"amqp-ca", "SIEM_AMQP_CA", OPT_STRING, "", "FILE", \
     "amqps://: the CA certificates the broker's certificate is verified with (default: the" \
     " system's)", false, 0, 0}, \
    {"amqp-heartbeat", "SIEM_AMQP_HEARTBEAT", OPT_DURATION, "30s", "DURATION", \
     "AMQP heartbeat interval: a link that hears nothing from the broker for twice as long" \
     " (a frozen broker) is closed and opened again (0: none)", false, 0, 3600}, \
    {"amqp-confirm-timeout", "SIEM_AMQP_CONFIRM_TIMEOUT", OPT_DURATION, "10s", "DURATION", \
     "ingest: a batch the broker has not confirmed by then fails (503)", false, 1, 300}, \
    {"amqp-prefetch", "SIEM_AMQP_PREFETCH", OPT_INT, "16", "N", \
     "store and detect: messages taken from the broker before they are acknowledged", false, \
     1, 10000}, \
    {"detect-save-interval", "SIEM_DETECT_SAVE_INTERVAL", OPT_DURATION, "1s", "DURATION", \
     "detect: how often the active detector saves its window state to PostgreSQL and" \
     " acknowledges the batches evaluated since (sooner when --amqp-prefetch of them wait;" \
     " 0: after every batch)", false, 0, 3600}
#define ROLES_SECRET_OPTS \
    {NULL, "SIEM_AMQP_PASSWORD", OPT_STRING, NULL, NULL, \
     "broker mode: the broker password (or --amqp-password-file)", true, 0, 0}
/* clang-format on */

struct roles {
	unsigned mask; /* enum hub_role; all of them without --amqp */
	bool broker;   /* --amqp given */
	struct broker_config bc;
	char *password;
	char name[128];
	struct broker_pub *pub;
	struct pipeline *store_p; /* the store role's writer */
	bool own_store_p;	  /* made by roles_start_store (else the hub's own) */
	struct broker_store *consumer;
};

/* Read and check the broker settings from c (usage errors on stderr). 0, or EXIT_USAGE. */
int roles_config(struct roles *r, const struct config *c);
bool roles_has(const struct roles *r, enum hub_role role);
/* The ingest role: pipeline p publishes instead of committing. */
int roles_start_ingest(struct roles *r, struct pipeline *p);
/* The store role: the broker feeds pipeline p when given (a node without the ingest role:
 * its one writer), else a second pipeline on s (the first one publishes). *out is the
 * pipeline fed. A store has one writer: never two pipelines that both commit to it. */
int roles_start_store(struct roles *r, struct store *s, const struct config *c, struct pipeline *p,
		      struct pipeline **out);
/* Stop consuming; a pipeline of our own commits what it has and stops. */
void roles_stop(struct roles *r);
/* After the hub's pipeline stopped. */
void roles_release(struct roles *r);

#endif
