/* syslog_int.h — private to the syslog receivers: the listener, the batches that carry
 * parsed messages to the pipeline, and what the UDP and TCP threads share. */
#ifndef SIEM_SYSLOG_INT_H
#define SIEM_SYSLOG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "ingest/batch.h"
#include "source/syslog_listen.h"

struct audit_asm;

#define SYSLOG_MAX_MSG_DEFAULT (64 * 1024)
#define SYSLOG_MAX_MSG_MIN 480 /* RFC 5426 §3.2: every receiver takes 480 bytes */
#define SYSLOG_MAX_MSG_MAX (16 * 1024 * 1024)
#define SYSLOG_RCVBUF_DEFAULT (8 * 1024 * 1024)

/* A batch goes to the pipeline at this many messages, arena bytes, or age. */
#define SYSLOG_BATCH_MSGS 1000
#define SYSLOG_BATCH_BYTES (4u * 1024 * 1024)
#define SYSLOG_BATCH_MS 50

/* UDP cannot push back: when the pipeline is full it waits this long (the kernel buffer
 * absorbs meanwhile), then drops the batch and counts it. */
#define SYSLOG_UDP_SUBMIT_WAIT_MS 100

#define SYSLOG_TCP_MAX_CONNS_DEFAULT 1024
#define SYSLOG_TCP_IDLE_MS_DEFAULT (15 * 60 * 1000)

/* Messages of one protocol on their way to the pipeline (SYSLOG_BATCH_MSGS at most, events
 * and dead letters), and which receiver made them. */
struct syslog_batch {
	struct ingest_batch batch;
	struct syslog_rx *rx;
	int64_t first_us; /* when its first message arrived (syslog_mono_us) */
	struct syslog_batch *next_free;
};

struct syslog_metrics {
	struct metric received, rejected, accepted, dead, dropped, truncated;
};

/* One protocol's receiver. Only its own thread touches cur. */
struct syslog_rx {
	struct syslog_listener *l;
	const char *source; /* "syslog_udp" / "syslog_tcp", also the dead letters' source */
	struct syslog_metrics *m;
	bool udp;
	int fd;
	unsigned port;
	char bound[64]; /* "ADDR:PORT" as bound, for log lines */
	pthread_t thread;
	bool started;
	struct syslog_batch *cur;
	uint64_t lost_unlogged; /* messages lost since the last log line about it */
	int64_t lost_log_us;	/* when that line was written (syslog_mono_us) */
	void *priv;		/* the protocol's own state (syslog_udp.c, syslog_tcp.c) */
	struct audit_asm *am;	/* the records of audit events, told apart by sender */
	bool in_asm;		/* the assembler is handing events on: no nested expiry */
	const char *scope;	/* TCP: the connection being read ("ADDR/FD"), else NULL */
};

struct syslog_listener {
	struct pipeline *p;
	size_t max_msg;
	int rcvbuf;
	unsigned max_conns;
	int idle_ms;
	const struct tz_map *zones;
	int wake_fd; /* eventfd: readable once stop begins */
	atomic_bool stopping;

	pthread_mutex_t mu; /* guards what done() touches from the writer thread: */
	pthread_cond_t drained;
	unsigned inflight;		/* batches submitted, done() not yet called */
	struct syslog_batch *free_list; /* recycled batches */
	unsigned n_free;

	struct syslog_rx udp, tcp;
};

/* Limits the header does not expose, for listeners started afterwards (tests use them:
 * max_conns 0 and idle_ms 0 restore the defaults). */
void syslog_listen_set_limits(unsigned max_conns, int idle_ms);

/* syslog_listen.c: one received message into the current batch (parsed there, or kept as
 * a dead letter); cut says it was longer than max_msg and is truncated. host is the
 * sender's address text, used when the message names no host. */
/* A TCP connection closed: the audit events of its scope are handed on. */
void syslog_rx_sender_gone(struct syslog_rx *rx, const char *scope);
void syslog_rx_message(struct syslog_rx *rx, const char *msg, size_t n, const char *host, bool cut,
		       int64_t now_us);
/* The clock of every timer here (batch age, idle connections): CLOCK_MONOTONIC, so that a
 * step of the wall clock neither holds a batch back nor closes connections. */
int64_t syslog_mono_us(void);
/* Submit the current batch when it is due at mono_us (force: when it holds anything). */
void syslog_rx_flush(struct syslog_rx *rx, int64_t mono_us, bool force);
/* n messages lost (why: "the writer's queue is full"): counted at once, logged at most
 * every few seconds. Receive thread only. */
void syslog_rx_lost(struct syslog_rx *rx, uint64_t n, const char *why);
/* Milliseconds from mono_us until the current batch is due, -1 when there is none. */
int syslog_rx_due_ms(const struct syslog_rx *rx, int64_t mono_us);
/* Open a socket bound to "ADDR:PORT" / "[V6]:PORT" (SOCK_DGRAM or SOCK_STREAM). */
int syslog_bind(struct syslog_rx *rx, const char *spec, int type);
/* The peer's address as text (IPv4-mapped IPv6 as dotted quad); buf >= 46 bytes. */
void syslog_peer_text(const void *sa, char buf[46]);

/* syslog_udp.c, syslog_tcp.c: socket options and the protocol's state (setup), the receive
 * thread (main), and freeing the state once the thread has ended (release). */
int syslog_udp_setup(struct syslog_rx *rx);
void *syslog_udp_main(void *arg);
int syslog_tcp_setup(struct syslog_rx *rx);
void *syslog_tcp_main(void *arg);
void syslog_udp_release(struct syslog_rx *rx);
void syslog_tcp_release(struct syslog_rx *rx);

#endif
