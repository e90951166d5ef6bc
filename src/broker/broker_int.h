/* broker_int.h — what the broker's files share: one AMQP connection (rabbitmq-c) with one
 * channel, opened, logged in and with the topology declared, or closed. A connection is used
 * by one thread only (rabbitmq-c connections are not thread-safe). */
#ifndef SIEM_BROKER_INT_H
#define SIEM_BROKER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <amqp.h>

#include "broker/broker.h"

#define BROKER_CHANNEL 1

struct amqp_link {
	char *url; /* a copy, split by amqp_parse_url */
	struct amqp_connection_info info;
	char *password;
	char *ca_file;
	char *name;
	const char *role; /* "publisher", "store consumer", "detector": names it in the log */
	int heartbeat_s;
	int rpc_timeout_ms; /* connect, login and each synchronous call */
	bool tls;
	amqp_connection_state_t conn; /* NULL when closed */
	bool blocked;		      /* connection.blocked until connection.unblocked */
	int64_t next_try_us;	      /* reconnect backoff */
	int backoff_ms;
	char err[256]; /* the last failure, for logs */
	/* Every failure is logged with the broker's reply; one that repeats, at most once per
	 * LINK_LOG_EVERY_MS with how often it came meanwhile. */
	char logged[256];
	int64_t logged_at_us;
	unsigned repeats;  /* failures not logged since logged_at_us */
	unsigned failures; /* since the link was last open, for the next "connected" line */
};

int link_init(struct amqp_link *l, const struct broker_config *c);
void link_release(struct amqp_link *l);
/* Connect, log in, open the channel and declare the topology, unless the backoff says wait.
 * 0 when open (also when it was), SIEM_EBROKER otherwise (l->err says why). */
int link_open(struct amqp_link *l);
/* The role's own setup on a new connection is done: log it (with the failures before). */
void link_up(struct amqp_link *l);
/* Close (cleanly when clean, else just drop the socket: a failure, l->err says which, and it
 * is logged) and start the backoff. */
void link_close(struct amqp_link *l, bool clean);
/* The result of the last synchronous call, as 0 or SIEM_EBROKER with l->err set. */
int link_reply(struct amqp_link *l, const char *what);
/* A method frame on the connection or channel that is not a reply we wait for: note
 * connection.blocked/unblocked; a close from the broker closes the link. -> true when the
 * link is still open. */
bool link_method(struct amqp_link *l, const amqp_frame_t *f);
/* Wait up to timeout_ms for a delivery of this link's consumers: 1 with *env filled (the
 * caller destroys it), 0 when none came (or a method frame was handled), -1 when the link
 * closed (a cancelled consumer, a lost connection; l->err says why). */
int link_receive(struct amqp_link *l, amqp_envelope_t *env, int timeout_ms);

#endif
