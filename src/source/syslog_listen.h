/* syslog_listen.h — syslog receivers: UDP (batched recvmmsg, drops counted) and TCP
 * (octet-counting and newline framing, many connections). */
#ifndef SIEM_SYSLOG_LISTEN_H
#define SIEM_SYSLOG_LISTEN_H

#include <stdbool.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/pipeline.h"

struct syslog_listener;
struct tz_map;

struct syslog_config {
	const char *udp; /* "ADDR:PORT" or NULL */
	const char *tcp; /* "ADDR:PORT" or NULL */
	size_t max_msg;	 /* longer messages are truncated and flagged (default 64 KiB) */
	int rcvbuf;	 /* UDP receive buffer bytes (default 8 MiB, as the kernel allows) */
	/* The zone of times written without one, per sender (NULL: UTC); the caller's, kept
	 * until syslog_listen_stop returns. */
	const struct tz_map *zones;
};

int syslog_listen_start(struct syslog_listener **out, const struct syslog_config *cfg,
			struct pipeline *p);
/* The same in two steps, so that ports below 1024 are bound before privileges are dropped
 * and the store is opened: bind (as root), then run (once the pipeline exists). */
int syslog_listen_bind(struct syslog_listener **out, const struct syslog_config *cfg);
int syslog_listen_run(struct syslog_listener *l, struct pipeline *p);
/* The bound ports (port 0 in the config picks a free one); 0 when not listening. */
unsigned syslog_listen_udp_port(struct syslog_listener *l);
unsigned syslog_listen_tcp_port(struct syslog_listener *l);
/* One protocol's receiver for GET /ready: bound, its port, messages received and dropped. */
struct syslog_listen_stats {
	bool bound;
	unsigned port;
	int64_t received, dropped;
};
void syslog_listen_get_stats(struct syslog_listener *l, bool udp, struct syslog_listen_stats *st);
/* Each listening receiver's counters: [{"protocol": "udp"|"tcp", "address", "received",
 * "accepted", "rejected", "dead_letters", "dropped", "truncated"}] appended to out. */
void syslog_listen_status(struct syslog_listener *l, json_t *out);
void syslog_listen_stop(struct syslog_listener *l);

#endif
