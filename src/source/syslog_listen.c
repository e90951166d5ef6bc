/* syslog_listen.c — the syslog receivers' common part: start and stop, addresses, and the
 * batches that turn received messages into events and dead letters for the pipeline. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "parse/logline.h"
#include "parse/audit_asm.h"
#include "source/syslog_int.h"

#define FREE_BATCHES_MAX 8
#define STOP_SUBMIT_MS (30 * 1000) /* at stop, how long the last batch waits for room */
#define LOST_LOG_US (10 * 1000000LL)

/* Per source; the families shared with other sources (received, rejected, accepted) keep
 * the HTTP ingest's help text, since /metrics prints one HELP per family. */
#define SOURCE_METRICS(src, dropped_name, dropped_help)                                          \
	{                                                                                        \
		METRIC_COUNTER_INIT("minisiem_events_received_total", "source=\"" src "\"",      \
				    "Events received, by source."),                              \
		    METRIC_COUNTER_INIT("minisiem_events_rejected_total", "source=\"" src "\"",  \
					"Events refused as malformed, by source."),              \
		    METRIC_COUNTER_INIT("minisiem_events_accepted_total", "source=\"" src "\"",  \
					"Events stored, by source."),                            \
		    METRIC_COUNTER_INIT(                                                         \
			"minisiem_dead_letters_total", "source=\"" src "\"",                     \
			"Records kept as dead letters (they could not be parsed), "              \
			"by source."),                                                           \
		    METRIC_COUNTER_INIT(dropped_name, NULL, dropped_help),                       \
		    METRIC_COUNTER_INIT("minisiem_syslog_truncated_total", "source=\"" src "\"", \
					"Syslog messages longer than the maximum, stored "       \
					"truncated and flagged."),                               \
	}

static struct syslog_metrics m_udp =
    SOURCE_METRICS("syslog_udp", "minisiem_syslog_udp_dropped_total",
		   "UDP syslog datagrams lost: the kernel's receive buffer was full, or the "
		   "writer's queue stayed full.");
static struct syslog_metrics m_tcp =
    SOURCE_METRICS("syslog_tcp", "minisiem_syslog_tcp_dropped_total",
		   "TCP syslog messages lost: a failed commit, or a stop that found the "
		   "writer gone.");

static unsigned limit_conns = SYSLOG_TCP_MAX_CONNS_DEFAULT;
static int limit_idle_ms = SYSLOG_TCP_IDLE_MS_DEFAULT;

void syslog_listen_set_limits(unsigned max_conns, int idle_ms)
{
	limit_conns = max_conns ? max_conns : SYSLOG_TCP_MAX_CONNS_DEFAULT;
	limit_idle_ms = idle_ms > 0 ? idle_ms : SYSLOG_TCP_IDLE_MS_DEFAULT;
}

static void register_metrics(struct syslog_metrics *m)
{
	metric_register(&m->received);
	metric_register(&m->rejected);
	metric_register(&m->accepted);
	metric_register(&m->dead);
	metric_register(&m->dropped);
	metric_register(&m->truncated);
}

/* ---- addresses ---- */

void syslog_peer_text(const void *sa, char buf[46])
{
	const struct sockaddr *s = sa;
	uint8_t ip[16] = {0};
	if (s->sa_family == AF_INET) {
		const struct sockaddr_in *in = sa;
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &in->sin_addr, 4);
	} else if (s->sa_family == AF_INET6) {
		memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		snprintf(buf, 46, "unknown");
		return;
	}
	ip_format(ip, buf);
}

/* "1.2.3.4:514", "[::1]:514", ":514" (every IPv4 address) into host and port. */
static int split_spec(const char *spec, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *h = spec;
	size_t hn;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = spec + 1;
		hn = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || memchr(spec, ':', (size_t)(colon - spec)))
			return -EINVAL; /* IPv6 needs brackets */
		hn = (size_t)(colon - spec);
	}
	size_t pn = strlen(colon + 1);
	if (hn >= hostlen || pn == 0 || pn >= portlen || strspn(colon + 1, "0123456789") != pn)
		return -EINVAL;
	memcpy(host, h, hn);
	host[hn] = '\0';
	memcpy(port, colon + 1, pn + 1);
	return strtol(port, NULL, 10) > 65535 ? -EINVAL : 0;
}

int syslog_bind(struct syslog_rx *rx, const char *spec, int type)
{
	char host[256], port[8];
	const char *proto = type == SOCK_DGRAM ? "udp" : "tcp";
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = type};
	struct addrinfo *ai = NULL;
	int rc = 0, fd = -1, one = 1;

	if (split_spec(spec, host, sizeof(host), port, sizeof(port)) < 0) {
		log_error("syslog", "%s address '%s' is not ADDR:PORT or [V6ADDR]:PORT", proto,
			  spec);
		return -EINVAL;
	}
	/* Addresses are numeric (no resolver at start-up); "localhost" is the one name. */
	if (!host[0])
		hints.ai_family = AF_INET;
	else if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (gai != 0) {
		log_error("syslog", "%s address '%s' is not a numeric IPv4 or IPv6 address: %s",
			  proto, spec, gai_strerror(gai));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)) {
		rc = -errno;
		goto out;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		rc = -errno;
		goto out;
	}
	char text[46];
	syslog_peer_text(&ss, text);
	rx->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						  : ((struct sockaddr_in *)&ss)->sin_port);
	snprintf(rx->bound, sizeof(rx->bound), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", text,
		 rx->port);
	rx->fd = fd;
	fd = -1;
out:
	if (rc < 0)
		log_error("syslog", "cannot listen on %s '%s': %s", proto, spec, siem_strerror(rc));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

/* ---- batches ---- */

static void batch_free(struct syslog_batch *b)
{
	if (!b)
		return;
	ingest_batch_release(&b->batch);
	free(b);
}

int64_t syslog_mono_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static struct syslog_batch *batch_get(struct syslog_rx *rx)
{
	struct syslog_listener *l = rx->l;
	struct syslog_batch *b;
	pthread_mutex_lock(&l->mu);
	if ((b = l->free_list)) {
		l->free_list = b->next_free;
		l->n_free--;
	}
	pthread_mutex_unlock(&l->mu);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		if (ingest_batch_init(&b->batch, SYSLOG_BATCH_MSGS, SYSLOG_BATCH_MSGS, 0) < 0) {
			batch_free(b);
			return NULL;
		}
	}
	b->rx = rx;
	b->first_us = syslog_mono_us();
	b->batch.ctx = b;
	return b;
}

/* Back to the free list (or freed), from the pipeline or at stop. */
static void batch_put(struct syslog_listener *l, struct syslog_batch *b, bool was_inflight)
{
	ingest_batch_reset(&b->batch);
	pthread_mutex_lock(&l->mu);
	if (l->n_free < FREE_BATCHES_MAX) {
		b->next_free = l->free_list;
		l->free_list = b;
		l->n_free++;
		b = NULL;
	}
	if (was_inflight && --l->inflight == 0)
		pthread_cond_broadcast(&l->drained);
	pthread_mutex_unlock(&l->mu);
	batch_free(b);
}

static void batch_done(struct ingest_batch *ib)
{
	struct syslog_batch *b = ib->ctx;
	struct syslog_rx *rx = b->rx;
	if (ib->rc < 0) {
		metric_add(&rx->m->dropped, (int64_t)ingest_batch_records(ib));
		log_error("syslog", "%s: %zu messages lost: commit failed: %s", rx->source,
			  ingest_batch_records(ib), siem_strerror(ib->rc));
	} else {
		metric_add(&rx->m->accepted, (int64_t)ib->accepted);
		metric_add(&rx->m->dead, (int64_t)ib->n_dead);
	}
	batch_put(rx->l, b, true);
}

static void add_dead(struct syslog_batch *b, const char *msg, size_t n, const char *reason,
		     bool cut)
{
	struct syslog_rx *rx = b->rx;
	char why[320];
	snprintf(why, sizeof(why), "%s%s", reason, cut ? " (message truncated)" : "");
	int rc = ingest_batch_add_dead(&b->batch, rx->source, NULL, -1, why, msg, n);
	metric_add(&rx->m->rejected, 1);
	if (rc < 0)
		syslog_rx_lost(rx, 1, "out of memory");
}

/* One message (or the records of one audit event) into the batch. */
static void add_message(struct syslog_rx *rx, const char *msg, size_t n, const char *host, bool cut,
			int64_t now_us)
{
	if (!rx->cur && !(rx->cur = batch_get(rx))) {
		syslog_rx_lost(rx, 1, "out of memory");
		return;
	}
	struct syslog_batch *b = rx->cur;
	struct event *ev = ingest_batch_add_event(&b->batch); /* never full: flushed at the cap */
	struct logline_ctx ctx = {
	    .source = rx->source, .os_type = NULL, .host = host, .zones = rx->l->zones};
	char err[256] = "";
	int rc = logline_to_event(FMT_SYSLOG, msg, n, &ctx, now_us, ev, &b->batch.arena, err,
				  sizeof(err), NULL);
	if (rc == 0) {
		if (cut)
			ev->flags |= EV_TRUNC_RAW | EV_TRUNC_MESSAGE;
		if (!ev->source.p)
			ev->source = (struct sv){rx->source, strlen(rx->source)};
	} else {
		ingest_batch_cancel_event(&b->batch);
		add_dead(b, msg, n, err[0] ? err : siem_strerror(rc), cut);
	}
	if (ingest_batch_full(&b->batch) || b->batch.arena.used >= SYSLOG_BATCH_BYTES)
		syslog_rx_flush(rx, syslog_mono_us(), true);
}

/* An audit event put together: its tag is the sender's address. */
static int asm_out(void *ctx, const char *text, size_t n, const void *tag)
{
	struct syslog_rx *rx = ctx;
	add_message(rx, text, n, tag, false, ts_now_us());
	return 0;
}

void syslog_rx_message(struct syslog_rx *rx, const char *msg, size_t n, const char *host, bool cut,
		       int64_t now_us)
{
	metric_add(&rx->m->received, 1);
	if (cut)
		metric_add(&rx->m->truncated, 1);
	if (rx->am && !cut) {
		char tag[AUDIT_ASM_TAG_MAX] = "";
		snprintf(tag, sizeof(tag), "%s", host ? host : "");
		rx->in_asm = true;
		int took = audit_asm_feed_from(rx->am, rx->scope ? rx->scope : tag, msg, n, tag,
					       syslog_mono_us() / 1000, asm_out, rx);
		rx->in_asm = false;
		if (took > 0)
			return;
	}
	add_message(rx, msg, n, host, cut, now_us);
}

void syslog_rx_sender_gone(struct syslog_rx *rx, const char *scope)
{
	if (!rx->am || rx->in_asm)
		return;
	rx->in_asm = true;
	audit_asm_expire_scope(rx->am, scope, asm_out, rx);
	rx->in_asm = false;
}

/* The audit events whose wait is over (all of them when the receiver stops). */
static void expire_audit(struct syslog_rx *rx, int64_t mono_us)
{
	if (!rx->am || rx->in_asm)
		return;
	rx->in_asm = true;
	audit_asm_expire(rx->am, atomic_load(&rx->l->stopping) ? INT64_MAX : mono_us / 1000,
			 asm_out, rx);
	rx->in_asm = false;
}

int syslog_rx_due_ms(const struct syslog_rx *rx, int64_t mono_us)
{
	int64_t open = rx->am ? audit_asm_deadline(rx->am) : INT64_MAX;
	if (!rx->cur && open == INT64_MAX)
		return -1;
	int64_t due = rx->cur ? rx->cur->first_us + SYSLOG_BATCH_MS * 1000LL - mono_us : INT64_MAX;
	if (open != INT64_MAX && open * 1000 - mono_us < due)
		due = open * 1000 - mono_us;
	return due <= 0 ? 0 : (int)((due + 999) / 1000);
}

void syslog_rx_flush(struct syslog_rx *rx, int64_t mono_us, bool force)
{
	expire_audit(rx, mono_us);
	struct syslog_batch *b = rx->cur;
	struct syslog_listener *l = rx->l;
	if (!b || (!force && syslog_rx_due_ms(rx, mono_us) > 0))
		return;
	rx->cur = NULL;
	size_t msgs = ingest_batch_records(&b->batch);
	if (msgs == 0) {
		batch_put(l, b, false);
		return;
	}
	b->batch.done = batch_done;
	pthread_mutex_lock(&l->mu);
	l->inflight++;
	pthread_mutex_unlock(&l->mu);

	/* UDP waits briefly, then drops and counts; TCP waits (its senders then wait in turn),
	 * checking now and then whether the hub is stopping. */
	int rc, waited = 0;
	for (;;) {
		int step = rx->udp ? SYSLOG_UDP_SUBMIT_WAIT_MS : 250;
		rc = pipeline_submit_wait(l->p, &b->batch, step);
		waited += step;
		if (rc != SIEM_EFULL || rx->udp)
			break;
		if (atomic_load(&l->stopping) && waited >= STOP_SUBMIT_MS)
			break;
	}
	if (rc == 0)
		return;
	syslog_rx_lost(rx, msgs,
		       rc == SIEM_EFULL ? "the writer's queue is full" : siem_strerror(rc));
	batch_put(l, b, true);
}

void syslog_rx_lost(struct syslog_rx *rx, uint64_t n, const char *why)
{
	int64_t now_us = syslog_mono_us();
	metric_add(&rx->m->dropped, (int64_t)n);
	rx->lost_unlogged += n;
	if (now_us - rx->lost_log_us < LOST_LOG_US)
		return;
	log_warn("syslog", "%s: %" PRIu64 " messages dropped: %s", rx->source, rx->lost_unlogged,
		 why);
	rx->lost_unlogged = 0;
	rx->lost_log_us = now_us;
}

/* ---- start and stop ---- */

static void stop_threads(struct syslog_listener *l)
{
	atomic_store(&l->stopping, true);
	uint64_t one = 1;
	if (l->wake_fd >= 0 && write(l->wake_fd, &one, sizeof(one)) < 0)
		log_error("syslog", "cannot wake the receivers: %s", strerror(errno));
	if (l->udp.started)
		pthread_join(l->udp.thread, NULL);
	if (l->tcp.started)
		pthread_join(l->tcp.thread, NULL);
	l->udp.started = l->tcp.started = false;
	struct syslog_rx *rxs[] = {&l->udp, &l->tcp};
	for (size_t i = 0; i < 2; i++)
		if (rxs[i]->lost_unlogged)
			log_warn("syslog", "%s: %" PRIu64 " messages dropped", rxs[i]->source,
				 rxs[i]->lost_unlogged);
}

static void free_listener(struct syslog_listener *l)
{
	/* Every batch handed to the pipeline comes back through done(): wait for them. */
	pthread_mutex_lock(&l->mu);
	while (l->inflight > 0) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		if (pthread_cond_timedwait(&l->drained, &l->mu, &until) == ETIMEDOUT)
			log_warn("syslog", "stopping: still waiting for %u batches to commit",
				 l->inflight);
	}
	while (l->free_list) {
		struct syslog_batch *b = l->free_list;
		l->free_list = b->next_free;
		batch_free(b);
	}
	pthread_mutex_unlock(&l->mu);
	syslog_udp_release(&l->udp);
	syslog_tcp_release(&l->tcp);
	struct syslog_rx *rxs[] = {&l->udp, &l->tcp};
	for (size_t i = 0; i < 2; i++) {
		struct audit_asm_stats st;
		if (!rxs[i]->am)
			continue;
		audit_asm_get_stats(rxs[i]->am, &st);
		if (st.dropped || st.evicted)
			log_warn("syslog",
				 "%s: %" PRIu64 " audit records left out of events over their "
				 "bounds, %" PRIu64 " events handed on early (too many open)",
				 rxs[i]->source, st.dropped, st.evicted);
		audit_asm_free(rxs[i]->am);
	}
	if (l->udp.fd >= 0)
		close(l->udp.fd);
	if (l->tcp.fd >= 0)
		close(l->tcp.fd);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->drained);
	free(l);
}

static void rx_init(struct syslog_rx *rx, struct syslog_listener *l, bool udp)
{
	rx->l = l;
	rx->udp = udp;
	rx->source = udp ? "syslog_udp" : "syslog_tcp";
	rx->m = udp ? &m_udp : &m_tcp;
	rx->fd = -1;
	rx->am = audit_asm_new(AUDIT_ASM_TAG_MAX, 0); /* without it: each record alone */
}

static int rx_bind(struct syslog_rx *rx, const char *spec)
{
	int rc;
	if ((rc = syslog_bind(rx, spec, rx->udp ? SOCK_DGRAM : SOCK_STREAM)) < 0)
		return rc;
	register_metrics(rx->m);
	return rx->udp ? syslog_udp_setup(rx) : syslog_tcp_setup(rx);
}

static int rx_run(struct syslog_rx *rx)
{
	if (rx->fd < 0)
		return 0;
	int err =
	    pthread_create(&rx->thread, NULL, rx->udp ? syslog_udp_main : syslog_tcp_main, rx);
	if (err) {
		log_error("syslog", "cannot start the %s thread: %s", rx->source, strerror(err));
		return -err;
	}
	rx->started = true;
	log_info("syslog", "%s on %s", rx->udp ? "udp" : "tcp", rx->bound);
	return 0;
}

int syslog_listen_bind(struct syslog_listener **out, const struct syslog_config *cfg)
{
	struct syslog_listener *l;
	int rc = 0;
	*out = NULL;
	if ((!cfg->udp || !*cfg->udp) && (!cfg->tcp || !*cfg->tcp))
		return -EINVAL;
	if (!(l = calloc(1, sizeof(*l))))
		return -ENOMEM;
	l->max_msg = cfg->max_msg ? cfg->max_msg : SYSLOG_MAX_MSG_DEFAULT;
	if (l->max_msg < SYSLOG_MAX_MSG_MIN)
		l->max_msg = SYSLOG_MAX_MSG_MIN;
	if (l->max_msg > SYSLOG_MAX_MSG_MAX)
		l->max_msg = SYSLOG_MAX_MSG_MAX;
	l->rcvbuf = cfg->rcvbuf > 0 ? cfg->rcvbuf : SYSLOG_RCVBUF_DEFAULT;
	l->zones = cfg->zones;
	l->max_conns = limit_conns;
	l->idle_ms = limit_idle_ms;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->drained, NULL);
	rx_init(&l->udp, l, true);
	rx_init(&l->tcp, l, false);
	if ((l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		rc = -errno;
	if (rc == 0 && cfg->udp && *cfg->udp)
		rc = rx_bind(&l->udp, cfg->udp);
	if (rc == 0 && cfg->tcp && *cfg->tcp)
		rc = rx_bind(&l->tcp, cfg->tcp);
	if (rc < 0) {
		free_listener(l);
		return rc;
	}
	*out = l;
	return 0;
}

int syslog_listen_run(struct syslog_listener *l, struct pipeline *p)
{
	int rc;
	l->p = p;
	if ((rc = rx_run(&l->udp)) < 0 || (rc = rx_run(&l->tcp)) < 0)
		stop_threads(l); /* the caller still calls syslog_listen_stop */
	return rc;
}

int syslog_listen_start(struct syslog_listener **out, const struct syslog_config *cfg,
			struct pipeline *p)
{
	struct syslog_listener *l;
	int rc = syslog_listen_bind(&l, cfg);
	if (rc < 0)
		return rc;
	if ((rc = syslog_listen_run(l, p)) < 0) {
		syslog_listen_stop(l);
		return rc;
	}
	*out = l;
	return 0;
}

unsigned syslog_listen_udp_port(struct syslog_listener *l)
{
	return l && l->udp.fd >= 0 ? l->udp.port : 0;
}

unsigned syslog_listen_tcp_port(struct syslog_listener *l)
{
	return l && l->tcp.fd >= 0 ? l->tcp.port : 0;
}

void syslog_listen_get_stats(struct syslog_listener *l, bool udp, struct syslog_listen_stats *st)
{
	struct syslog_rx *rx = udp ? &l->udp : &l->tcp;
	*st = (struct syslog_listen_stats){.bound = rx->fd >= 0, .port = rx->port};
	if (st->bound && rx->m) {
		st->received = metric_get(&rx->m->received);
		st->dropped = metric_get(&rx->m->dropped);
	}
}

void syslog_listen_status(struct syslog_listener *l, json_t *out)
{
	struct syslog_rx *rxs[2] = {l ? &l->udp : NULL, l ? &l->tcp : NULL};
	for (int i = 0; i < 2; i++) {
		struct syslog_rx *rx = rxs[i];
		if (!rx || rx->fd < 0 || !rx->m)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "protocol", json_string(rx->udp ? "udp" : "tcp"));
		json_object_set_new(o, "address", json_string(rx->bound));
		json_object_set_new(o, "received", json_integer(metric_get(&rx->m->received)));
		json_object_set_new(o, "accepted", json_integer(metric_get(&rx->m->accepted)));
		json_object_set_new(o, "rejected", json_integer(metric_get(&rx->m->rejected)));
		json_object_set_new(o, "dead_letters", json_integer(metric_get(&rx->m->dead)));
		json_object_set_new(o, "dropped", json_integer(metric_get(&rx->m->dropped)));
		json_object_set_new(o, "truncated", json_integer(metric_get(&rx->m->truncated)));
		json_array_append_new(out, o);
	}
}

void syslog_listen_stop(struct syslog_listener *l)
{
	if (!l)
		return;
	stop_threads(l); /* each thread reads what is queued, flushes its batch, and ends */
	free_listener(l);
	log_info("syslog", "stopped");
}
