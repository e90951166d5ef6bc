/* consume.c — the store role: one thread owns a connection that consumes minisiem.store into
 * the store's pipeline, with a bounded prefetch, and acknowledges each message after its
 * commit (the writer's done() hands the result back to this thread: a connection belongs to
 * one thread). A redelivered message is absorbed by the store's event_id de-duplication. A
 * message that cannot be decoded is rejected to the dead-letter exchange at once; one whose
 * commit fails while the store is reachable is returned, and the broker dead-letters it after
 * BROKER_DELIVERY_LIMIT deliveries; while the store is away, it waits here and is offered
 * again. Messages on minisiem.dead become rows of dead_letters, with the reason. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/broker_int.h"
#include "broker/wire.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

#define POLL_MS 50
#define RETRY_MS 1000
#define STOP_WAIT_MS 30000
#define TAG_STORE "store"
#define TAG_DEAD "dead"

struct delivery {
	struct ingest_batch b;
	struct broker_store *bs;
	uint64_t tag;
	uint64_t gen; /* the connection it came on: a tag means nothing on another */
	int64_t retry_at_ms;
	struct delivery *next;
};

struct broker_store {
	struct amqp_link link;
	struct pipeline *p;
	int prefetch;
	uint64_t gen;
	pthread_t thread;
	atomic_bool stopping;
	bool up, known; /* as last logged */
	pthread_mutex_t mu;
	struct delivery *finished; /* done() by the writer, for this thread to settle */
	size_t outstanding;	   /* deliveries in the pipeline or waiting for a retry */
	struct delivery *retry;	   /* the store was away: offered again at retry_at_ms */
	struct broker_state st;	   /* under mu, for broker_store_state */
};

static struct metric m_stored = METRIC_COUNTER_INIT(
    "minisiem_amqp_consumed_total", NULL, "Batches committed and acknowledged (store role).");
static struct metric m_returned =
    METRIC_COUNTER_INIT("minisiem_amqp_returned_total", NULL,
			"Batches returned to the broker after a failed commit (store role).");
static struct metric m_undecodable = METRIC_COUNTER_INIT(
    "minisiem_amqp_undecodable_total", NULL,
    "Messages that could not be decoded, sent to the dead-letter exchange (store role).");
static struct metric m_dead =
    METRIC_COUNTER_INIT("minisiem_amqp_dead_letters_total", NULL,
			"Dead-lettered messages written into dead_letters (store role).");

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pipeline, after the commit: hand the delivery back. */
static void delivery_done(struct ingest_batch *b)
{
	struct delivery *d = b->ctx;
	struct broker_store *bs = d->bs;
	pthread_mutex_lock(&bs->mu);
	d->next = bs->finished;
	bs->finished = d;
	pthread_mutex_unlock(&bs->mu);
}

static void delivery_free(struct broker_store *bs, struct delivery *d)
{
	ingest_batch_release(&d->b);
	free(d);
	pthread_mutex_lock(&bs->mu);
	bs->outstanding--;
	pthread_mutex_unlock(&bs->mu);
}

static void settle(struct broker_store *bs, struct delivery *d, bool ack, bool requeue)
{
	if (bs->link.conn && d->gen == bs->gen) {
		int st = ack ? amqp_basic_ack(bs->link.conn, BROKER_CHANNEL, d->tag, 0)
			     : amqp_basic_nack(bs->link.conn, BROKER_CHANNEL, d->tag, 0, requeue);
		if (st != AMQP_STATUS_OK) {
			snprintf(bs->link.err, sizeof(bs->link.err), "acknowledging: %s",
				 amqp_error_string2(st));
			link_close(&bs->link, false);
		}
	}
	/* Else the connection it came on is gone: the broker delivers it again. */
	delivery_free(bs, d);
}

/* Offer a batch to the pipeline, waiting while it is full (the prefetch bounds how much can
 * be waiting). false when the pipeline is closing. */
static bool submit(struct broker_store *bs, struct delivery *d)
{
	d->b.done = delivery_done;
	d->b.ctx = d;
	for (;;) {
		int rc = pipeline_submit_wait(bs->p, &d->b, 200);
		if (rc == 0)
			return true;
		if (rc != SIEM_EFULL || atomic_load(&bs->stopping))
			return false;
	}
}

/* What the writer finished: acknowledge, return, or keep for a retry. */
static void settle_finished(struct broker_store *bs)
{
	pthread_mutex_lock(&bs->mu);
	struct delivery *list = bs->finished;
	bs->finished = NULL;
	pthread_mutex_unlock(&bs->mu);
	while (list) {
		struct delivery *d = list;
		list = d->next;
		int rc = d->b.rc;
		if (rc == 0) {
			metric_add(&m_stored, 1);
			settle(bs, d, true, false);
		} else if ((rc == SIEM_EUNAVAIL || rc == -ENOSPC || rc == SIEM_ECLOSED) &&
			   !atomic_load(&bs->stopping)) {
			/* The store is away, not the message at fault: no delivery is spent. */
			d->retry_at_ms = mono_ms() + RETRY_MS;
			d->next = bs->retry;
			bs->retry = d;
		} else if (!d->b.alone && !atomic_load(&bs->stopping)) {
			/* Its whole transaction failed: it may be a neighbour's fault. Once more
			 * on its own before a delivery is spent. */
			d->b.alone = true;
			d->retry_at_ms = mono_ms();
			d->next = bs->retry;
			bs->retry = d;
		} else if (atomic_load(&bs->stopping)) {
			delivery_free(bs, d); /* unacknowledged: the broker delivers it again */
		} else {
			log_warn("amqp",
				 "a batch of %zu events and %zu dead letters was not stored (%s): "
				 "returned to the broker",
				 d->b.n, d->b.n_dead, siem_strerror(rc));
			metric_add(&m_returned, 1);
			settle(bs, d, false, true);
		}
	}
	int64_t now = mono_ms();
	for (struct delivery **pp = &bs->retry; *pp;) {
		struct delivery *d = *pp;
		if (d->retry_at_ms > now && !atomic_load(&bs->stopping)) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		if (atomic_load(&bs->stopping) || d->gen != bs->gen || !submit(bs, d))
			delivery_free(bs, d); /* redelivered by the broker */
	}
}

static struct delivery *delivery_new(struct broker_store *bs, uint64_t tag)
{
	struct delivery *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->bs = bs;
	d->tag = tag;
	d->gen = bs->gen;
	pthread_mutex_lock(&bs->mu);
	bs->outstanding++;
	pthread_mutex_unlock(&bs->mu);
	return d;
}

/* The reason RabbitMQ gave in the x-death header ("rejected", "delivery_limit", ...). */
static void death_reason(const amqp_basic_properties_t *pr, char *out, size_t len)
{
	snprintf(out, len, "dead-lettered");
	if (!(pr->_flags & AMQP_BASIC_HEADERS_FLAG))
		return;
	for (int i = 0; i < pr->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &pr->headers.entries[i];
		if (e->key.len != 7 || memcmp(e->key.bytes, "x-death", 7) != 0 ||
		    e->value.kind != AMQP_FIELD_KIND_ARRAY || e->value.value.array.num_entries < 1)
			continue;
		const amqp_field_value_t *first = &e->value.value.array.entries[0];
		if (first->kind != AMQP_FIELD_KIND_TABLE)
			continue;
		const amqp_table_t *t = &first->value.table;
		for (int k = 0; k < t->num_entries; k++) {
			const amqp_table_entry_t *f = &t->entries[k];
			if (f->key.len == 6 && memcmp(f->key.bytes, "reason", 6) == 0 &&
			    (f->value.kind == AMQP_FIELD_KIND_UTF8 ||
			     f->value.kind == AMQP_FIELD_KIND_BYTES))
				snprintf(out, len, "dead-lettered (%.*s)",
					 (int)f->value.value.bytes.len,
					 (const char *)f->value.value.bytes.bytes);
		}
	}
}

/* A message of minisiem.dead: one row of dead_letters with why it is there. */
static void on_dead(struct broker_store *bs, const amqp_envelope_t *env)
{
	char death[128], err[256], reason[512];
	struct ingest_batch probe;
	death_reason(&env->message.properties, death, sizeof(death));
	int rc =
	    wire_decode(env->message.body.bytes, env->message.body.len, &probe, err, sizeof(err));
	if (rc == 0)
		snprintf(reason, sizeof(reason),
			 "%s: a batch of %zu events the store did not commit"
			 " after %d deliveries",
			 death, probe.n, BROKER_DELIVERY_LIMIT);
	else
		snprintf(reason, sizeof(reason), "%s: cannot decode the message: %s", death, err);
	ingest_batch_release(&probe);
	struct delivery *d = delivery_new(bs, env->delivery_tag);
	if (!d || ingest_batch_init(&d->b, 1, 1, 0) < 0 ||
	    ingest_batch_add_dead(&d->b, "amqp", BROKER_DEAD_QUEUE, -1, reason,
				  env->message.body.bytes, env->message.body.len) < 0) {
		if (d)
			delivery_free(bs, d);
		return; /* out of memory: unacknowledged, delivered again */
	}
	d->b.enriched = true;
	log_warn("amqp", "dead letter: %s", reason);
	metric_add(&m_dead, 1);
	if (!submit(bs, d))
		delivery_free(bs, d);
}

static void on_store(struct broker_store *bs, const amqp_envelope_t *env)
{
	char err[256];
	struct delivery *d = delivery_new(bs, env->delivery_tag);
	if (!d)
		return;
	int rc =
	    wire_decode(env->message.body.bytes, env->message.body.len, &d->b, err, sizeof(err));
	if (rc < 0) {
		log_warn("amqp", "rejecting an undecodable message to the dead-letter exchange: %s",
			 err);
		metric_add(&m_undecodable, 1);
		settle(bs, d, false, false);
		return;
	}
	d->b.enriched = true;	  /* by the ingest node, before publishing */
	d->b.received_set = true; /* likewise */
	if (!submit(bs, d))
		delivery_free(bs, d);
}

static int consume(struct broker_store *bs, const char *queue, const char *tag)
{
	amqp_basic_consume(bs->link.conn, BROKER_CHANNEL, amqp_cstring_bytes(queue),
			   amqp_cstring_bytes(tag), 0, 0, 0, amqp_empty_table);
	return link_reply(&bs->link, "starting to consume");
}

static int ensure_open(struct broker_store *bs)
{
	int rc;
	if (bs->link.conn)
		return 0;
	if ((rc = link_open(&bs->link)) < 0)
		return rc;
	amqp_basic_qos(bs->link.conn, BROKER_CHANNEL, 0, (uint16_t)bs->prefetch, 0);
	if ((rc = link_reply(&bs->link, "setting the prefetch")) < 0 ||
	    (rc = consume(bs, BROKER_STORE_QUEUE, TAG_STORE)) < 0 ||
	    (rc = consume(bs, BROKER_DEAD_QUEUE, TAG_DEAD)) < 0) {
		link_close(&bs->link, false);
		return rc;
	}
	bs->gen++;
	link_up(&bs->link);
	return 0;
}

static void note_state(struct broker_store *bs, bool up)
{
	if (bs->known && up == bs->up)
		return;
	if (up)
		log_info("amqp", "consuming '%s'", BROKER_STORE_QUEUE);
	else
		log_warn("amqp", "not consuming: %s", bs->link.err);
	bs->up = up;
	bs->known = true;
	pthread_mutex_lock(&bs->mu);
	bs->st.up = bs->st.connected = up;
	snprintf(bs->st.reason, sizeof(bs->st.reason), "%s", up ? "" : bs->link.err);
	pthread_mutex_unlock(&bs->mu);
}

void broker_store_state(struct broker_store *bs, struct broker_state *st)
{
	pthread_mutex_lock(&bs->mu);
	*st = bs->st;
	pthread_mutex_unlock(&bs->mu);
}

/* One turn: a delivery, another frame, or POLL_MS of nothing. */
static void receive(struct broker_store *bs)
{
	amqp_envelope_t env;
	if (link_receive(&bs->link, &env, POLL_MS) != 1)
		return;
	if (env.consumer_tag.len == strlen(TAG_DEAD) &&
	    memcmp(env.consumer_tag.bytes, TAG_DEAD, env.consumer_tag.len) == 0)
		on_dead(bs, &env);
	else
		on_store(bs, &env);
	amqp_destroy_envelope(&env);
}

static void *store_main(void *arg)
{
	struct broker_store *bs = arg;
	while (!atomic_load(&bs->stopping)) {
		settle_finished(bs);
		if (ensure_open(bs) < 0) {
			note_state(bs, false);
			struct timespec ts = {0, POLL_MS * 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		note_state(bs, true);
		receive(bs);
	}
	/* Stop taking messages; settle what the pipeline still commits. */
	if (bs->link.conn) {
		amqp_basic_cancel(bs->link.conn, BROKER_CHANNEL, amqp_cstring_bytes(TAG_STORE));
		amqp_basic_cancel(bs->link.conn, BROKER_CHANNEL, amqp_cstring_bytes(TAG_DEAD));
	}
	int64_t end = mono_ms() + STOP_WAIT_MS;
	for (;;) {
		settle_finished(bs);
		pthread_mutex_lock(&bs->mu);
		size_t left = bs->outstanding;
		pthread_mutex_unlock(&bs->mu);
		if (left == 0 || mono_ms() > end)
			break;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	link_close(&bs->link, true);
	return NULL;
}

int broker_store_start(struct broker_store **out, const struct broker_config *c, struct pipeline *p)
{
	static bool registered;
	struct broker_store *bs = calloc(1, sizeof(*bs));
	int rc;
	if (!bs)
		return -ENOMEM;
	if ((rc = link_init(&bs->link, c)) < 0) {
		log_error("amqp", "%s", bs->link.err);
		free(bs);
		return rc;
	}
	if (!registered) {
		metric_register(&m_stored);
		metric_register(&m_returned);
		metric_register(&m_undecodable);
		metric_register(&m_dead);
		registered = true;
	}
	bs->link.role = "store consumer";
	bs->p = p;
	bs->prefetch = c->prefetch > 0 ? c->prefetch : 16;
	snprintf(bs->st.reason, sizeof(bs->st.reason), "connecting to the broker");
	pthread_mutex_init(&bs->mu, NULL);
	if ((rc = -pthread_create(&bs->thread, NULL, store_main, bs)) < 0) {
		pthread_mutex_destroy(&bs->mu);
		link_release(&bs->link);
		free(bs);
		return rc;
	}
	*out = bs;
	return 0;
}

void broker_store_stop(struct broker_store *bs)
{
	if (!bs)
		return;
	atomic_store(&bs->stopping, true);
	pthread_join(bs->thread, NULL);
	link_release(&bs->link);
}

void broker_store_free(struct broker_store *bs)
{
	if (!bs)
		return;
	/* What the pipeline answered after the wait: unacknowledged, the broker's again. */
	while (bs->finished) {
		struct delivery *d = bs->finished;
		bs->finished = d->next;
		delivery_free(bs, d);
	}
	pthread_mutex_destroy(&bs->mu);
	free(bs);
}
