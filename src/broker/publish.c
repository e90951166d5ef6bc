/* publish.c — the ingest role: the pipeline's writer publishes each batch it takes as one
 * persistent message on minisiem.events and waits for the broker's confirms; a batch is
 * answered 0 only once its message is confirmed (durable in the quorum queue). A broker that
 * is away, blocks publishers or confirms too late fails the batch: never a buffer here. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/broker_int.h"
#include "broker/wire.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

#define BUF_KEEP (4u << 20) /* the encoding buffer kept between batches */

struct broker_pub {
	struct amqp_link link;
	int confirm_timeout_ms;
	uint64_t next_tag; /* the delivery tag of the next message on the channel */
	bool up;	   /* as last logged */
	struct strbuf buf;
	pthread_mutex_t st_mu; /* the state as broker_pub_state shows it to other threads */
	struct broker_state st;
};

static struct metric m_published = METRIC_COUNTER_INIT(
    "minisiem_amqp_published_total", NULL, "Batches the broker confirmed (ingest role).");
static struct metric m_publish_failed = METRIC_COUNTER_INIT(
    "minisiem_amqp_publish_failed_total", NULL,
    "Batches failed because the broker was away, blocking or late (ingest role).");
static struct metric m_blocked = METRIC_GAUGE_INIT(
    "minisiem_amqp_blocked", NULL, "1 while the broker blocks publishers (an alarm).");

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void note_state(struct broker_pub *p, bool up)
{
	bool blocked = p->link.conn && p->link.blocked;
	if (up && !p->up)
		log_info("amqp", "publishing to the broker");
	else if (!up && p->up)
		log_warn("amqp", "cannot publish: %s", p->link.err);
	p->up = up;
	metric_set(&m_blocked, blocked);
	pthread_mutex_lock(&p->st_mu);
	p->st.up = up;
	p->st.connected = p->link.conn != NULL;
	p->st.blocked = blocked;
	snprintf(p->st.reason, sizeof(p->st.reason), "%s", up ? "" : p->link.err);
	pthread_mutex_unlock(&p->st_mu);
}

void broker_pub_state(struct broker_pub *p, struct broker_state *st)
{
	pthread_mutex_lock(&p->st_mu);
	*st = p->st;
	pthread_mutex_unlock(&p->st_mu);
}

/* The link open in confirm mode. 0 or SIEM_EBROKER. */
static int ensure_open(struct broker_pub *p)
{
	int rc;
	if (p->link.conn)
		return 0;
	if ((rc = link_open(&p->link)) < 0)
		return rc;
	amqp_confirm_select(p->link.conn, BROKER_CHANNEL);
	if ((rc = link_reply(&p->link, "turning on publisher confirms")) < 0) {
		link_close(&p->link, false);
		return rc;
	}
	p->next_tag = 1;
	link_up(&p->link);
	return 0;
}

/* Frames that arrived unasked (blocked, unblocked, a close), without waiting. */
static void poll_frames(struct broker_pub *p)
{
	while (p->link.conn) {
		amqp_frame_t f;
		struct timeval zero = {0, 0};
		int st = amqp_simple_wait_frame_noblock(p->link.conn, &f, &zero);
		if (st == AMQP_STATUS_TIMEOUT)
			break;
		if (st != AMQP_STATUS_OK) {
			snprintf(p->link.err, sizeof(p->link.err), "connection lost: %s",
				 amqp_error_string2(st));
			link_close(&p->link, false);
			break;
		}
		if (!link_method(&p->link, &f))
			break;
	}
	if (p->link.conn)
		amqp_maybe_release_buffers(p->link.conn);
}

static int pub_idle(void *ctx)
{
	struct broker_pub *p = ctx;
	int rc = ensure_open(p);
	if (rc == 0)
		poll_frames(p);
	bool up = p->link.conn && !p->link.blocked;
	note_state(p, up);
	return up ? 0 : SIEM_EBROKER;
}

static void fail_from(struct ingest_batch *b, int rc)
{
	for (; b; b = b->next)
		if (b->rc == 1) {
			b->rc = rc;
			metric_add(&m_publish_failed, 1);
		}
}

/* Publish every batch of the list, then wait for their confirms. b->rc is 1 while a batch
 * waits for its confirm; tags[i] is the delivery tag of the list's i-th batch. */
static void pub_write(void *ctx, struct ingest_batch *list)
{
	struct broker_pub *p = ctx;
	size_t n = 0;
	for (struct ingest_batch *b = list; b; b = b->next, n++)
		b->rc = 1;
	uint64_t *tags = calloc(n ? n : 1, sizeof(*tags));
	if (!tags) {
		fail_from(list, -ENOMEM);
		return;
	}
	poll_frames(p);
	if (ensure_open(p) < 0 || p->link.blocked) {
		if (p->link.blocked)
			snprintf(p->link.err, sizeof(p->link.err), "the broker blocks publishers");
		note_state(p, false);
		fail_from(list, SIEM_EBROKER);
		free(tags);
		return;
	}
	amqp_basic_properties_t props = {
	    ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG,
	    .delivery_mode = 2,
	    .content_type = amqp_cstring_bytes("application/x-minisiem-batch"),
	};
	size_t i = 0, pending = 0;
	for (struct ingest_batch *b = list; b; b = b->next, i++) {
		p->buf.n = 0;
		int rc = wire_encode(b, &p->buf);
		if (rc < 0) {
			log_error("amqp", "cannot encode a batch of %zu events: %s", b->n,
				  siem_strerror(rc));
			b->rc = rc;
			metric_add(&m_publish_failed, 1);
			continue;
		}
		amqp_bytes_t body = {.len = p->buf.n, .bytes = p->buf.p};
		int st = amqp_basic_publish(p->link.conn, BROKER_CHANNEL,
					    amqp_cstring_bytes(BROKER_EXCHANGE), amqp_empty_bytes,
					    0, 0, &props, body);
		if (st != AMQP_STATUS_OK) {
			snprintf(p->link.err, sizeof(p->link.err), "publishing: %s",
				 amqp_error_string2(st));
			link_close(&p->link, false);
			break;
		}
		tags[i] = p->next_tag++;
		pending++;
	}
	int64_t deadline = mono_ms() + p->confirm_timeout_ms;
	while (pending && p->link.conn) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			/* The batches fail; the connection stays (a broker that blocks publishers
			 * confirms once the alarm is over). A confirm that comes later is for a
			 * batch already answered: ignored, and a client's retry is deduplicated. */
			snprintf(p->link.err, sizeof(p->link.err), "%s",
				 p->link.blocked ? "the broker blocks publishers"
						 : "no confirm from the broker in time");
			break;
		}
		struct timeval tv = {left / 1000, (left % 1000) * 1000};
		amqp_frame_t f;
		int st = amqp_simple_wait_frame_noblock(p->link.conn, &f, &tv);
		if (st == AMQP_STATUS_TIMEOUT)
			continue;
		if (st != AMQP_STATUS_OK) {
			snprintf(p->link.err, sizeof(p->link.err), "connection lost: %s",
				 amqp_error_string2(st));
			link_close(&p->link, false);
			break;
		}
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		uint64_t tag = 0;
		bool multiple = false, ok = true;
		if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
			amqp_basic_ack_t *m = f.payload.method.decoded;
			tag = m->delivery_tag;
			multiple = m->multiple;
		} else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
			amqp_basic_nack_t *m = f.payload.method.decoded;
			tag = m->delivery_tag;
			multiple = m->multiple;
			ok = false;
		} else {
			if (!link_method(&p->link, &f))
				break;
			continue;
		}
		i = 0;
		for (struct ingest_batch *b = list; b; b = b->next, i++) {
			if (b->rc != 1 || !tags[i] || tags[i] > tag ||
			    (!multiple && tags[i] != tag))
				continue;
			pending--;
			if (ok) {
				b->rc = 0;
				b->accepted = b->n;
				metric_add(&m_published, 1);
			} else {
				b->rc = SIEM_EBROKER;
				metric_add(&m_publish_failed, 1);
			}
		}
	}
	note_state(p, p->link.conn && pending == 0 && !p->link.blocked);
	fail_from(list, SIEM_EBROKER);
	if (p->buf.cap > BUF_KEEP) { /* a rare big batch does not keep its buffer */
		strbuf_release(&p->buf);
		strbuf_init(&p->buf, WIRE_MAX_BYTES);
	}
	if (p->link.conn)
		amqp_maybe_release_buffers(p->link.conn);
	free(tags);
}

int broker_pub_open(struct broker_pub **out, const struct broker_config *c)
{
	static bool registered;
	struct broker_pub *p = calloc(1, sizeof(*p));
	int rc;
	if (!p)
		return -ENOMEM;
	if ((rc = link_init(&p->link, c)) < 0) {
		log_error("amqp", "%s", p->link.err);
		free(p);
		return rc;
	}
	if (!registered) {
		metric_register(&m_published);
		metric_register(&m_publish_failed);
		metric_register(&m_blocked);
		registered = true;
	}
	p->confirm_timeout_ms = c->confirm_timeout_ms > 0 ? c->confirm_timeout_ms : 10000;
	p->link.role = "publisher";
	/* The writer connects between batches: a broker that accepts the TCP connection but
	 * does not answer (frozen) holds it no longer than a confirm would. */
	if (p->link.rpc_timeout_ms > p->confirm_timeout_ms)
		p->link.rpc_timeout_ms = p->confirm_timeout_ms;
	strbuf_init(&p->buf, WIRE_MAX_BYTES);
	pthread_mutex_init(&p->st_mu, NULL);
	/* A first attempt now, for the log; the writer keeps trying with the backoff. */
	p->up = true;
	if (ensure_open(p) < 0)
		log_warn("amqp", "cannot publish yet: %s", p->link.err);
	note_state(p, p->link.conn != NULL);
	*out = p;
	return 0;
}

void broker_pub_sink(struct broker_pub *pub, struct pipeline_sink *sink)
{
	sink->write = pub_write;
	sink->idle = pub_idle;
	sink->ctx = pub;
}

void broker_pub_close(struct broker_pub *p)
{
	if (!p)
		return;
	link_release(&p->link);
	strbuf_release(&p->buf);
	pthread_mutex_destroy(&p->st_mu);
	free(p);
}
