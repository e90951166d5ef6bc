/* broker.h — broker mode over RabbitMQ (AMQP 0-9-1, rabbitmq-c). The ingest role publishes
 * each batch the pipeline takes as one persistent message with a publisher confirm; the store
 * role consumes them into its own pipeline and acknowledges after the commit. The topology
 * (docs/scale-out.md):
 *
 *   exchange minisiem.events (fanout, durable) ─▶ queue minisiem.store (quorum)
 *   exchange minisiem.events ─▶ queue minisiem.detect (quorum, single active consumer, at most
 *   BROKER_DETECT_MAX_BYTES: the oldest batches go past it) ─▶ the active detector
 *   a message not stored after BROKER_DELIVERY_LIMIT deliveries, or that cannot be decoded,
 *   ─▶ exchange minisiem.dead ─▶ queue minisiem.dead ─▶ a store node's dead_letters */
#ifndef SIEM_BROKER_H
#define SIEM_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#include "ingest/batch.h"
#include "ingest/pipeline.h"

#define BROKER_EXCHANGE "minisiem.events"
#define BROKER_DEAD_EXCHANGE "minisiem.dead"
#define BROKER_STORE_QUEUE "minisiem.store"
#define BROKER_DETECT_QUEUE "minisiem.detect"
#define BROKER_DEAD_QUEUE "minisiem.dead"
/* Deliveries of one message before the broker dead-letters it (fixed when the queue is first
 * declared: a queue cannot change its arguments). */
#define BROKER_DELIVERY_LIMIT 5
/* What minisiem.detect holds at most while no detector consumes it (a cluster that runs none,
 * or keeps them stopped): past it the broker drops the oldest batches from the queue (they
 * are stored all the same; only their detection is lost). Fixed when the queue is first
 * declared, like the delivery limit. */
#define BROKER_DETECT_MAX_BYTES (1LL << 30)

struct broker_config {
	const char *url;	/* amqp://user@host:port/vhost or amqps:// */
	const char *password;	/* NULL: the URL's own, else none */
	const char *ca_file;	/* amqps: the CA bundle (NULL: the system's) */
	int heartbeat_s;	/* AMQP heartbeat (0: none) */
	int confirm_timeout_ms; /* ingest: a batch without a confirm by then fails (503) */
	int prefetch;		/* store, detect: unacknowledged messages at once */
	int detect_save_ms;	/* detect: window state saved (and batches acknowledged) this
				 * often; 0: after every batch */
	const char *name;	/* this node's connection name, as the broker shows it */
};

/* A role's link to the broker, for /ready: up (publishing or consuming), connected,
 * blocked by an alarm, and when not up why. */
struct broker_state {
	bool up, connected, blocked;
	bool active; /* detect: this node is the active detector */
	char reason[256];
};

/* Is url an amqp:// or amqps:// URL we can use? 0, or -EINVAL with the reason in err. */
int broker_url_check(const char *url, char *err, size_t errlen);

/* The ingest role: the pipeline's writer hands its batches to the broker. Each batch is one
 * message; its done() sees rc 0 only once the broker confirmed it. Broker away, blocking
 * publishers (a memory or disk alarm) or late with the confirm: rc SIEM_EBROKER. */
struct broker_pub;
int broker_pub_open(struct broker_pub **out, const struct broker_config *c);
/* The pipeline_sink that publishes through pub. */
void broker_pub_sink(struct broker_pub *pub, struct pipeline_sink *sink);
void broker_pub_state(struct broker_pub *pub, struct broker_state *st);
void broker_pub_close(struct broker_pub *pub);

/* The store role: a thread consuming minisiem.store (and minisiem.dead) into p, which
 * commits to the store; each message is acknowledged after its commit. */
struct broker_store;
int broker_store_start(struct broker_store **out, const struct broker_config *c,
		       struct pipeline *p);
/* Stop consuming; wait (30 s at most) for what is in the pipeline to be committed and
 * acknowledged; close the connection (the broker delivers anything unacknowledged again). */
void broker_store_stop(struct broker_store *bs);
void broker_store_state(struct broker_store *bs, struct broker_state *st);
/* Once the pipeline is stopped (no done() can come any more). */
void broker_store_free(struct broker_store *bs);

/* The detect role: a thread consuming minisiem.detect. One consumer of the queue is active at
 * a time. ops run on that thread. Batches are evaluated as they come and acknowledged
 * together after persist succeeded, every detect_save_ms or when prefetch of them wait. */
struct broker_detect_ops {
	/* This node became the active detector: load what the last one persisted. 0 or an
	 * error (retried every second). */
	int (*activate)(void *ctx);
	/* Evaluate one batch (body: the message, for de-duplication; redelivered: the broker
	 * may have delivered it before). <0: the message goes back to the queue. */
	int (*eval)(void *ctx, const struct ingest_batch *b, const void *body, size_t n,
		    bool redelivered);
	/* Make what the evaluations caused durable (alerts, window state); retried every
	 * second until 0, then every batch evaluated so far is acknowledged. */
	int (*persist)(void *ctx);
	void *ctx;
};
struct broker_detect;
int broker_detect_start(struct broker_detect **out, const struct broker_config *c,
			const struct broker_detect_ops *ops);
void broker_detect_state(struct broker_detect *bd, struct broker_state *st);
/* Stop consuming (what is not acknowledged goes to the next detector) and free. */
void broker_detect_stop(struct broker_detect *bd);

#endif
