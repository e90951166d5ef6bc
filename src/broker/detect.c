/* detect.c — the detect role's link: one thread owns a connection consuming minisiem.detect
 * (declared and bound by every node: amqp.c). The queue has a single active consumer, so one
 * detector at a time sees every batch in order; the others wait, connected, and the broker
 * hands the queue to one of them when the active one goes. Each batch is evaluated at once
 * and kept unacknowledged; every save interval (or when the unacknowledged batches reach the
 * prefetch, past which the broker sends nothing) what they caused (alerts, window state) is
 * made durable, then they are all acknowledged with one basic.ack (multiple). A batch is
 * never acknowledged before a saved state includes it, so a takeover evaluates again, from the
 * last saved state, exactly the batches that state does not include. The first delivery of
 * a connection makes the node the active detector: it loads the state the previous one
 * persisted before evaluating anything. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/broker_int.h"
#include "broker/wire.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

#define POLL_MS 50
#define RETRY_MS 1000
#define TAG_DETECT "detect"

struct broker_detect {
	struct amqp_link link;
	struct broker_detect_ops ops;
	int prefetch;
	int save_ms; /* save and acknowledge this often (0: after every batch) */
	bool active; /* this connection had a delivery: the state is loaded */
	/* Evaluated, not yet saved nor acknowledged (on this connection): how many, the newest's
	 * tag, and when the oldest was evaluated. */
	size_t pending;
	uint64_t last_tag;
	int64_t pending_since_ms;
	pthread_t thread;
	atomic_bool stopping;
	bool up, known;
	pthread_mutex_t mu;
	struct broker_state st; /* under mu */
};

static struct metric m_evaluated =
    METRIC_COUNTER_INIT("minisiem_amqp_detected_total", NULL,
			"Batches evaluated by the detector and acknowledged (detect role).");
static struct metric m_takeovers = METRIC_COUNTER_INIT(
    "minisiem_amqp_detect_takeovers_total", NULL,
    "Times this node became the active detector and loaded the persisted state.");

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void note_state(struct broker_detect *bd, bool up)
{
	if (bd->known && up == bd->up)
		return;
	if (up)
		log_info("amqp", "consuming '%s' (waiting to be the active detector)",
			 BROKER_DETECT_QUEUE);
	else
		log_warn("amqp", "detector not consuming: %s", bd->link.err);
	bd->up = up;
	bd->known = true;
	pthread_mutex_lock(&bd->mu);
	bd->st.up = bd->st.connected = up;
	if (!up)
		bd->st.active = false;
	snprintf(bd->st.reason, sizeof(bd->st.reason), "%s", up ? "" : bd->link.err);
	pthread_mutex_unlock(&bd->mu);
}

void broker_detect_state(struct broker_detect *bd, struct broker_state *st)
{
	pthread_mutex_lock(&bd->mu);
	*st = bd->st;
	pthread_mutex_unlock(&bd->mu);
}

static int ensure_open(struct broker_detect *bd)
{
	int rc;
	if (bd->link.conn)
		return 0;
	if ((rc = link_open(&bd->link)) < 0)
		return rc;
	/* What was pending on the connection before is the broker's again. */
	bd->active = false;
	bd->pending = 0;
	amqp_basic_qos(bd->link.conn, BROKER_CHANNEL, 0, (uint16_t)bd->prefetch, 0);
	if ((rc = link_reply(&bd->link, "setting the prefetch")) < 0)
		goto fail;
	amqp_basic_consume(bd->link.conn, BROKER_CHANNEL, amqp_cstring_bytes(BROKER_DETECT_QUEUE),
			   amqp_cstring_bytes(TAG_DETECT), 0, 0, 0, amqp_empty_table);
	if ((rc = link_reply(&bd->link, "starting to consume")) < 0)
		goto fail;
	link_up(&bd->link);
	return 0;
fail:
	link_close(&bd->link, false);
	return rc;
}

/* Run fn until it succeeds (the store may be away: nothing is acknowledged meanwhile and no
 * delivery is spent). false when stopping first. */
static bool until_done(struct broker_detect *bd, int (*fn)(void *ctx), const char *what)
{
	for (bool logged = false;;) {
		int rc = fn(bd->ops.ctx);
		if (rc == 0)
			return true;
		if (!logged)
			log_warn("amqp", "detector: cannot %s (%s): retrying", what,
				 siem_strerror(rc));
		logged = true;
		for (int i = 0; i < RETRY_MS / POLL_MS; i++) {
			if (atomic_load(&bd->stopping))
				return false;
			sleep_ms(POLL_MS);
		}
	}
}

/* Make what the pending batches caused durable, then acknowledge them all (basic.ack with
 * multiple: every tag up to the newest). Retried while the store is away; when stopping
 * first, or when the broker is lost, nothing is acknowledged and the broker delivers them
 * again to the next active detector. */
static void flush(struct broker_detect *bd)
{
	if (!bd->pending || !bd->link.conn)
		return;
	if (!until_done(bd, bd->ops.persist, "persist alerts and window state")) {
		snprintf(bd->link.err, sizeof(bd->link.err),
			 "stopping before the alerts were saved: the batches go back to the queue");
		link_close(&bd->link, false);
		return;
	}
	int st = amqp_basic_ack(bd->link.conn, BROKER_CHANNEL, bd->last_tag, 1);
	if (st != AMQP_STATUS_OK) {
		snprintf(bd->link.err, sizeof(bd->link.err), "acknowledging: %s",
			 amqp_error_string2(st));
		link_close(&bd->link, false);
		return;
	}
	metric_add(&m_evaluated, (int64_t)bd->pending);
	bd->pending = 0;
}

static void on_delivery(struct broker_detect *bd, const amqp_envelope_t *env)
{
	char err[256];
	struct ingest_batch b = {0};
	if (!bd->active) {
		if (!until_done(bd, bd->ops.activate, "load the persisted detection state")) {
			snprintf(bd->link.err, sizeof(bd->link.err),
				 "stopping before the state loaded");
			link_close(&bd->link, false);
			return;
		}
		bd->active = true;
		pthread_mutex_lock(&bd->mu);
		bd->st.active = true;
		pthread_mutex_unlock(&bd->mu);
		metric_add(&m_takeovers, 1);
		log_info("amqp", "this node is the active detector");
	}
	int rc = 0;
	if (wire_decode(env->message.body.bytes, env->message.body.len, &b, err, sizeof(err)) < 0)
		/* The store role dead-letters it from its own queue: here it is only skipped
		 * (acknowledged with the next save). */
		log_warn("amqp", "detector: skipping an undecodable message: %s", err);
	else
		rc = bd->ops.eval(bd->ops.ctx, &b, env->message.body.bytes, env->message.body.len,
				  env->redelivered);
	ingest_batch_release(&b);
	if (rc < 0) {
		/* Not evaluated: it goes back with the others pending, and the next active
		 * detector (maybe this node again) starts from the persisted state. */
		snprintf(bd->link.err, sizeof(bd->link.err),
			 "cannot evaluate a batch: it goes back to the queue");
		link_close(&bd->link, false);
		return;
	}
	if (!bd->pending++)
		bd->pending_since_ms = clock_mono_us() / 1000;
	bd->last_tag = env->delivery_tag;
	/* The broker sends no more than the prefetch unacknowledged: save then at the latest. */
	if (bd->save_ms == 0 || bd->pending >= (size_t)bd->prefetch)
		flush(bd);
}

static void receive(struct broker_detect *bd)
{
	amqp_envelope_t env;
	if (link_receive(&bd->link, &env, POLL_MS) != 1)
		return;
	on_delivery(bd, &env);
	amqp_destroy_envelope(&env);
}

static void *detect_main(void *arg)
{
	struct broker_detect *bd = arg;
	while (!atomic_load(&bd->stopping)) {
		if (ensure_open(bd) < 0) {
			note_state(bd, false);
			sleep_ms(POLL_MS);
			continue;
		}
		note_state(bd, true);
		receive(bd);
		if (bd->pending && bd->link.conn &&
		    clock_mono_us() / 1000 - bd->pending_since_ms >= bd->save_ms)
			flush(bd);
	}
	/* One attempt to save what is pending (until_done tries once when stopping); what
	 * stays unacknowledged goes to the next detector. */
	flush(bd);
	link_close(&bd->link, true);
	return NULL;
}

int broker_detect_start(struct broker_detect **out, const struct broker_config *c,
			const struct broker_detect_ops *ops)
{
	static bool registered;
	struct broker_detect *bd = calloc(1, sizeof(*bd));
	int rc;
	if (!bd)
		return -ENOMEM;
	if ((rc = link_init(&bd->link, c)) < 0) {
		log_error("amqp", "%s", bd->link.err);
		free(bd);
		return rc;
	}
	if (!registered) {
		metric_register(&m_evaluated);
		metric_register(&m_takeovers);
		registered = true;
	}
	bd->link.role = "detector";
	bd->ops = *ops;
	bd->prefetch = c->prefetch > 0 ? c->prefetch : 16;
	bd->save_ms = c->detect_save_ms > 0 ? c->detect_save_ms : 0;
	snprintf(bd->st.reason, sizeof(bd->st.reason), "connecting to the broker");
	pthread_mutex_init(&bd->mu, NULL);
	if ((rc = -pthread_create(&bd->thread, NULL, detect_main, bd)) < 0) {
		pthread_mutex_destroy(&bd->mu);
		link_release(&bd->link);
		free(bd);
		return rc;
	}
	*out = bd;
	return 0;
}

void broker_detect_stop(struct broker_detect *bd)
{
	if (!bd)
		return;
	atomic_store(&bd->stopping, true);
	pthread_join(bd->thread, NULL);
	link_release(&bd->link);
	pthread_mutex_destroy(&bd->mu);
	free(bd);
}
