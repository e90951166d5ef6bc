/* amqp.c — one AMQP connection: the URL, TCP or TLS (peer and host name verified), login with
 * the capabilities we use (publisher confirms, connection.blocked), the channel, the
 * topology declared idempotently, and reconnecting with a backoff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "broker/broker_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

#define CONNECT_TIMEOUT_S 5
#define RPC_TIMEOUT_S 10
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
#define LINK_LOG_EVERY_MS 30000
#define FRAME_MAX 131072
#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

static struct metric m_connects = METRIC_COUNTER_INIT(
    "minisiem_amqp_connects_total", NULL, "Connections to the AMQP broker opened (broker mode).");
static struct metric m_connect_failures = METRIC_COUNTER_INIT(
    "minisiem_amqp_connect_failures_total", NULL, "Failed attempts to connect to the broker.");

int broker_url_check(const char *url, char *err, size_t errlen)
{
	struct amqp_connection_info info;
	char *copy = strdup(url);
	int rc = 0;
	if (!copy)
		return -ENOMEM;
	if (strncmp(url, "amqp://", 7) != 0 && strncmp(url, "amqps://", 8) != 0) {
		snprintf(err, errlen, "'%s' is not an amqp:// or amqps:// URL", url);
		rc = -EINVAL;
	} else if (amqp_parse_url(copy, &info) != AMQP_STATUS_OK) {
		snprintf(err, errlen,
			 "cannot parse the AMQP URL (want amqp[s]://user@host:port/vhost)");
		rc = -EINVAL;
	}
	free(copy);
	return rc;
}

int link_init(struct amqp_link *l, const struct broker_config *c)
{
	static bool registered;
	memset(l, 0, sizeof(*l));
	if (!registered) {
		metric_register(&m_connects);
		metric_register(&m_connect_failures);
		registered = true;
	}
	if (broker_url_check(c->url, l->err, sizeof(l->err)) < 0)
		return -EINVAL;
	l->tls = strncmp(c->url, "amqps://", 8) == 0;
	l->url = strdup(c->url);
	l->password = c->password ? strdup(c->password) : NULL;
	l->ca_file = c->ca_file && *c->ca_file ? strdup(c->ca_file) : NULL;
	l->name = strdup(c->name ? c->name : "minisiem");
	if (!l->url || (c->password && !l->password) || !l->name ||
	    (c->ca_file && *c->ca_file && !l->ca_file)) {
		link_release(l);
		return -ENOMEM;
	}
	amqp_parse_url(l->url, &l->info);
	l->role = "link";
	l->heartbeat_s = c->heartbeat_s;
	l->rpc_timeout_ms = RPC_TIMEOUT_S * 1000;
	l->backoff_ms = BACKOFF_MIN_MS;
	return 0;
}

void link_release(struct amqp_link *l)
{
	link_close(l, true);
	if (l->password)
		explicit_bzero(l->password, strlen(l->password));
	free(l->url);
	free(l->password);
	free(l->ca_file);
	free(l->name);
	l->url = l->password = l->ca_file = l->name = NULL;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A failure in the log: at once when it differs from the last one logged, else at most once
 * per LINK_LOG_EVERY_MS with the count of those not logged (a broker that refuses a consumer
 * every few seconds for an hour is a few lines, not thousands, and never silent). */
static void log_failure(struct amqp_link *l)
{
	int64_t now = now_us();
	bool same = strcmp(l->err, l->logged) == 0;
	l->failures++;
	if (same && now - l->logged_at_us < (int64_t)LINK_LOG_EVERY_MS * 1000) {
		l->repeats++;
		return;
	}
	if (same && l->repeats)
		log_warn("amqp", "%s: %s (%u times in the last %d s)", l->role, l->err,
			 l->repeats + 1, (int)((now - l->logged_at_us) / 1000000));
	else
		log_warn("amqp", "%s: %s", l->role, l->err);
	snprintf(l->logged, sizeof(l->logged), "%s", l->err);
	l->logged_at_us = now;
	l->repeats = 0;
}

void link_close(struct amqp_link *l, bool clean)
{
	if (!l->conn)
		return;
	if (!clean)
		log_failure(l);
	/* A broker that blocks us does not read what we send: no closing handshake then. */
	if (clean && !l->blocked) {
		amqp_channel_close(l->conn, BROKER_CHANNEL, AMQP_REPLY_SUCCESS);
		amqp_connection_close(l->conn, AMQP_REPLY_SUCCESS);
	}
	amqp_destroy_connection(l->conn);
	l->conn = NULL;
	l->blocked = false;
	l->next_try_us = now_us() + (int64_t)l->backoff_ms * 1000;
}

static void set_err(struct amqp_link *l, const char *what, amqp_rpc_reply_t r)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		snprintf(l->err, sizeof(l->err), "%s: ok", what);
		break;
	case AMQP_RESPONSE_NONE:
		snprintf(l->err, sizeof(l->err), "%s: no reply", what);
		break;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		snprintf(l->err, sizeof(l->err), "%s: %s", what,
			 amqp_error_string2(r.library_error));
		break;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD ||
		    r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			/* Both replies start with reply_code and reply_text. */
			amqp_connection_close_t *m = r.reply.decoded;
			snprintf(l->err, sizeof(l->err), "%s: the broker says %u %.*s", what,
				 m->reply_code, (int)m->reply_text.len,
				 (const char *)m->reply_text.bytes);
		} else {
			snprintf(l->err, sizeof(l->err), "%s: the broker answered method 0x%08x",
				 what, r.reply.id);
		}
		break;
	}
}

int link_reply(struct amqp_link *l, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(l->conn);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	set_err(l, what, r);
	return SIEM_EBROKER;
}

static amqp_table_entry_t entry_str(const char *k, const char *v)
{
	amqp_table_entry_t e = {.key = amqp_cstring_bytes(k)};
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

static amqp_table_entry_t entry_bool(const char *k, bool v)
{
	amqp_table_entry_t e = {.key = amqp_cstring_bytes(k)};
	e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
	e.value.value.boolean = v;
	return e;
}

static amqp_table_entry_t entry_i64(const char *k, int64_t v)
{
	amqp_table_entry_t e = {.key = amqp_cstring_bytes(k)};
	e.value.kind = AMQP_FIELD_KIND_I64;
	e.value.value.i64 = v;
	return e;
}

static int declare_queue(struct amqp_link *l, const char *name, amqp_table_entry_t *args, int nargs)
{
	amqp_table_t t = {.num_entries = nargs, .entries = args};
	amqp_queue_declare(l->conn, BROKER_CHANNEL, amqp_cstring_bytes(name), 0, 1, 0, 0, t);
	char what[96];
	snprintf(what, sizeof(what), "declaring queue '%s'", name);
	return link_reply(l, what);
}

/* minisiem.detect; one an older version declared with other arguments (a dead-letter
 * exchange, no length bound) is refused with 406 and closes the channel: then it is used as
 * it is (delete it while no batch waits in it to get the bound). */
static int declare_detect(struct amqp_link *l, amqp_table_entry_t *args, int nargs)
{
	amqp_table_t t = {.num_entries = nargs, .entries = args};
	amqp_queue_declare(l->conn, BROKER_CHANNEL, amqp_cstring_bytes(BROKER_DETECT_QUEUE), 0, 1,
			   0, 0, t);
	amqp_rpc_reply_t r = amqp_get_rpc_reply(l->conn);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	set_err(l, "declaring queue '" BROKER_DETECT_QUEUE "'", r);
	if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION ||
	    r.reply.id != AMQP_CHANNEL_CLOSE_METHOD ||
	    ((amqp_channel_close_t *)r.reply.decoded)->reply_code != AMQP_PRECONDITION_FAILED)
		return SIEM_EBROKER;
	amqp_channel_close_ok_t ok = {0};
	amqp_send_method(l->conn, BROKER_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
	amqp_channel_open(l->conn, BROKER_CHANNEL);
	int rc = link_reply(l, "opening the channel again");
	if (rc == 0) {
		amqp_queue_declare(l->conn, BROKER_CHANNEL, amqp_cstring_bytes(BROKER_DETECT_QUEUE),
				   1, 1, 0, 0, amqp_empty_table);
		rc = link_reply(l, "declaring queue '" BROKER_DETECT_QUEUE "' as it is");
	}
	if (rc == 0)
		log_warn("amqp",
			 "queue '%s' exists with other arguments (an older version's): used "
			 "as it is, without the length bound",
			 BROKER_DETECT_QUEUE);
	return rc;
}

/* The exchanges and queues, each declared with the same arguments every time (a second
 * declaration is a no-op; different arguments would be refused, so they are constants). */
static int declare_topology(struct amqp_link *l)
{
	int rc;
	const char *exchanges[] = {BROKER_EXCHANGE, BROKER_DEAD_EXCHANGE};
	for (size_t i = 0; i < 2; i++) {
		amqp_exchange_declare(l->conn, BROKER_CHANNEL, amqp_cstring_bytes(exchanges[i]),
				      amqp_cstring_bytes("fanout"), 0, 1, 0, 0, amqp_empty_table);
		if ((rc = link_reply(l, "declaring the exchanges")) < 0)
			return rc;
	}
	amqp_table_entry_t store[] = {
	    entry_str("x-queue-type", "quorum"),
	    entry_i64("x-delivery-limit", BROKER_DELIVERY_LIMIT),
	    entry_str("x-dead-letter-exchange", BROKER_DEAD_EXCHANGE),
	};
	/* Declared and bound by every node, so that it holds every batch from the first one on,
	 * also those published before any detector started; bounded for a cluster that runs
	 * none. No dead-letter exchange: what it drops (too many bytes, or delivered too often)
	 * the store queue has too, and must not land in dead_letters. */
	amqp_table_entry_t detect[] = {
	    entry_str("x-queue-type", "quorum"),
	    entry_bool("x-single-active-consumer", true),
	    entry_i64("x-delivery-limit", BROKER_DELIVERY_LIMIT),
	    entry_i64("x-max-length-bytes", BROKER_DETECT_MAX_BYTES),
	    entry_str("x-overflow", "drop-head"),
	};
	/* A dead letter the store cannot write either is dropped after as many deliveries (and
	 * logged by the store node): never redelivered forever. */
	amqp_table_entry_t dead[] = {entry_str("x-queue-type", "quorum"),
				     entry_i64("x-delivery-limit", BROKER_DELIVERY_LIMIT)};
	if ((rc = declare_queue(l, BROKER_STORE_QUEUE, store, 3)) < 0 ||
	    (rc = declare_detect(l, detect, 5)) < 0 ||
	    (rc = declare_queue(l, BROKER_DEAD_QUEUE, dead, 2)) < 0)
		return rc;
	const char *bound[] = {BROKER_STORE_QUEUE, BROKER_DETECT_QUEUE};
	for (size_t i = 0; i < 2; i++) {
		amqp_queue_bind(l->conn, BROKER_CHANNEL, amqp_cstring_bytes(bound[i]),
				amqp_cstring_bytes(BROKER_EXCHANGE), amqp_empty_bytes,
				amqp_empty_table);
		if ((rc = link_reply(l, "binding the store and detect queues")) < 0)
			return rc;
	}
	amqp_queue_bind(l->conn, BROKER_CHANNEL, amqp_cstring_bytes(BROKER_DEAD_QUEUE),
			amqp_cstring_bytes(BROKER_DEAD_EXCHANGE), amqp_empty_bytes,
			amqp_empty_table);
	return link_reply(l, "binding the dead letter queue");
}

static int connect_socket(struct amqp_link *l)
{
	amqp_socket_t *sock;
	if (l->tls) {
		sock = amqp_ssl_socket_new(l->conn);
		if (!sock) {
			snprintf(l->err, sizeof(l->err), "cannot make a TLS socket");
			return SIEM_EBROKER;
		}
		amqp_ssl_socket_set_verify_peer(sock, 1);
		amqp_ssl_socket_set_verify_hostname(sock, 1);
		const char *ca = l->ca_file ? l->ca_file : SYSTEM_CA;
		if (amqp_ssl_socket_set_cacert(sock, ca) != AMQP_STATUS_OK) {
			snprintf(l->err, sizeof(l->err), "cannot read the CA file '%s'", ca);
			return SIEM_EBROKER;
		}
	} else {
		sock = amqp_tcp_socket_new(l->conn);
		if (!sock) {
			snprintf(l->err, sizeof(l->err), "cannot make a socket");
			return SIEM_EBROKER;
		}
	}
	int ms = l->rpc_timeout_ms < CONNECT_TIMEOUT_S * 1000 ? l->rpc_timeout_ms
							      : CONNECT_TIMEOUT_S * 1000;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	int st = amqp_socket_open_noblock(sock, l->info.host, l->info.port, &tv);
	if (st != AMQP_STATUS_OK) {
		snprintf(l->err, sizeof(l->err), "cannot connect to %s:%d: %s", l->info.host,
			 l->info.port, amqp_error_string2(st));
		return SIEM_EBROKER;
	}
	return 0;
}

static int login(struct amqp_link *l)
{
	amqp_table_entry_t caps[] = {
	    entry_bool("publisher_confirms", true),
	    entry_bool("basic.nack", true),
	    entry_bool("connection.blocked", true),
	    entry_bool("consumer_cancel_notify", true),
	    entry_bool("authentication_failure_close", true),
	};
	amqp_table_entry_t props[3] = {entry_str("product", "minisiem"),
				       entry_str("connection_name", l->name)};
	props[2].key = amqp_cstring_bytes("capabilities");
	props[2].value.kind = AMQP_FIELD_KIND_TABLE;
	props[2].value.value.table =
	    (amqp_table_t){.num_entries = sizeof(caps) / sizeof(caps[0]), .entries = caps};
	amqp_table_t pt = {.num_entries = 3, .entries = props};
	const char *pw = l->password ? l->password : l->info.password;
	amqp_rpc_reply_t r =
	    amqp_login_with_properties(l->conn, l->info.vhost, 0, FRAME_MAX, l->heartbeat_s, &pt,
				       AMQP_SASL_METHOD_PLAIN, l->info.user, pw ? pw : "");
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		set_err(l, "logging in", r);
		return SIEM_EBROKER;
	}
	amqp_channel_open(l->conn, BROKER_CHANNEL);
	return link_reply(l, "opening the channel");
}

/* After the role's own setup on a new connection (prefetch, consumers): the link is up. */
void link_up(struct amqp_link *l)
{
	if (l->failures)
		log_info("amqp", "%s: connected to %s:%d vhost '%s' as %s after %u failed attempts",
			 l->role, l->info.host, l->info.port, l->info.vhost, l->info.user,
			 l->failures);
	else
		log_info("amqp", "%s: connected to %s:%d vhost '%s' as %s", l->role, l->info.host,
			 l->info.port, l->info.vhost, l->info.user);
	l->failures = l->repeats = 0;
	l->logged[0] = '\0';
}

int link_open(struct amqp_link *l)
{
	int rc;
	if (l->conn)
		return 0;
	if (now_us() < l->next_try_us)
		return SIEM_EBROKER;
	if (!(l->conn = amqp_new_connection())) {
		snprintf(l->err, sizeof(l->err), "out of memory");
		return -ENOMEM;
	}
	struct timeval rpc = {l->rpc_timeout_ms / 1000, (l->rpc_timeout_ms % 1000) * 1000};
	amqp_set_rpc_timeout(l->conn, &rpc);
	amqp_set_handshake_timeout(l->conn, &rpc);
	if ((rc = connect_socket(l)) < 0 || (rc = login(l)) < 0 || (rc = declare_topology(l)) < 0) {
		metric_add(&m_connect_failures, 1);
		link_close(l, false);
		if (l->backoff_ms < BACKOFF_MAX_MS)
			l->backoff_ms *= 2;
		return SIEM_EBROKER;
	}
	/* A send never blocks past the RPC timeout (a broker that stops reading, as it does
	 * with publishers during an alarm, fails the call instead of hanging the thread). */
	setsockopt(amqp_get_sockfd(l->conn), SOL_SOCKET, SO_SNDTIMEO, &rpc, sizeof(rpc));
	metric_add(&m_connects, 1);
	l->backoff_ms = BACKOFF_MIN_MS;
	l->blocked = false;
	return 0;
}

bool link_method(struct amqp_link *l, const amqp_frame_t *f)
{
	if (f->frame_type != AMQP_FRAME_METHOD)
		return true;
	switch (f->payload.method.id) {
	case AMQP_CONNECTION_BLOCKED_METHOD: {
		amqp_connection_blocked_t *m = f->payload.method.decoded;
		if (!l->blocked)
			log_warn("amqp", "the broker blocks publishing: %.*s", (int)m->reason.len,
				 (const char *)m->reason.bytes);
		l->blocked = true;
		return true;
	}
	case AMQP_CONNECTION_UNBLOCKED_METHOD:
		if (l->blocked)
			log_info("amqp", "the broker takes messages again");
		l->blocked = false;
		return true;
	case AMQP_CONNECTION_CLOSE_METHOD:
	case AMQP_CHANNEL_CLOSE_METHOD: {
		amqp_connection_close_t *m = f->payload.method.decoded;
		snprintf(l->err, sizeof(l->err), "the broker closed the %s: %u %.*s",
			 f->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ? "connection"
									      : "channel",
			 m->reply_code, (int)m->reply_text.len, (const char *)m->reply_text.bytes);
		if (f->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_ok_t ok;
			amqp_send_method(l->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
		}
		link_close(l, false);
		return false;
	}
	default:
		return true;
	}
}

int link_receive(struct amqp_link *l, amqp_envelope_t *env, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	amqp_maybe_release_buffers(l->conn);
	amqp_rpc_reply_t r = amqp_consume_message(l->conn, env, &tv, 0);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 1;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
	    r.library_error == AMQP_STATUS_TIMEOUT)
		return 0;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
	    r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
		amqp_frame_t f;
		struct timeval zero = {0, 0};
		int st = amqp_simple_wait_frame_noblock(l->conn, &f, &zero);
		if (st == AMQP_STATUS_OK && f.frame_type == AMQP_FRAME_METHOD &&
		    f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
			snprintf(l->err, sizeof(l->err),
				 "the broker cancelled the consumer (queue deleted?)");
			link_close(l, false);
			return -1;
		}
		if (st == AMQP_STATUS_OK)
			return link_method(l, &f) ? 0 : -1;
		if (st == AMQP_STATUS_TIMEOUT)
			return 0;
		snprintf(l->err, sizeof(l->err), "connection lost: %s", amqp_error_string2(st));
		link_close(l, false);
		return -1;
	}
	snprintf(l->err, sizeof(l->err), "connection lost: %s",
		 r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
		     ? amqp_error_string2(r.library_error)
		     : "the broker closed it");
	link_close(l, false);
	return -1;
}
