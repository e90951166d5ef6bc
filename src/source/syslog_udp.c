/* syslog_udp.c — the UDP syslog receiver: a large receive buffer, recvmmsg batches, and every
 * datagram the kernel drops counted (SO_RXQ_OVFL on each read, /proc/net/udp once a second). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "core/event.h"
#include "core/log.h"
#include "source/syslog_int.h"

#define VLEN 64		/* datagrams per recvmmsg */
#define SLOT_MAX 65536	/* no UDP payload is longer */
#define DRAIN_MAX 65536 /* datagrams still read at stop */
#define PROC_CHECK_US 1000000

static struct metric m_kernel = METRIC_COUNTER_INIT(
    "minisiem_syslog_udp_kernel_dropped_total", NULL,
    "UDP syslog datagrams the kernel dropped because the receive buffer was full (part of "
    "minisiem_syslog_udp_dropped_total).");
static struct metric m_rcvbuf = METRIC_GAUGE_INIT("minisiem_syslog_udp_rcvbuf_bytes", NULL,
						  "UDP receive buffer the kernel granted.");

union ctrl {
	char buf[CMSG_SPACE(sizeof(uint32_t))];
	struct cmsghdr align;
};

struct udp_state {
	size_t slot; /* bytes per datagram buffer: longer datagrams come back MSG_TRUNC */
	char *bufs;
	struct mmsghdr msgs[VLEN];
	struct iovec iov[VLEN];
	struct sockaddr_storage from[VLEN];
	union ctrl ctrl[VLEN];
	uint32_t drops_seen; /* the socket's drop counter as last seen */
	ino_t ino;
	int family;
	int64_t next_proc_us;	      /* syslog_mono_us, like next_err_log_us */
	struct sockaddr_storage last; /* the sender whose text is in host */
	socklen_t last_len;
	char host[46];
	int64_t next_err_log_us;
};

static void reset_hdr(struct udp_state *u, int i)
{
	struct msghdr *h = &u->msgs[i].msg_hdr;
	h->msg_name = &u->from[i];
	h->msg_namelen = sizeof(u->from[i]);
	h->msg_iov = &u->iov[i];
	h->msg_iovlen = 1;
	h->msg_control = u->ctrl[i].buf;
	h->msg_controllen = sizeof(u->ctrl[i].buf);
	h->msg_flags = 0;
}

/* The socket's drop counter (it wraps at 2^32) went to v: count the difference. */
static void account_drops(struct syslog_rx *rx, struct udp_state *u, uint32_t v)
{
	uint32_t d = v - u->drops_seen;
	if (d == 0 || d > UINT32_MAX / 2)
		return;
	u->drops_seen = v;
	metric_add(&m_kernel, d);
	syslog_rx_lost(rx, d, "the kernel's receive buffer was full");
}

/* The drops column of our socket's line in /proc/net/udp: covers drops after the last
 * datagram read, which no SO_RXQ_OVFL message reports yet. */
static void proc_drops(struct syslog_rx *rx, struct udp_state *u)
{
	FILE *f = fopen(u->family == AF_INET6 ? "/proc/net/udp6" : "/proc/net/udp", "r");
	char line[512];
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long ino;
		unsigned drops;
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %*s %*s %u", &ino,
			   &drops) == 2 &&
		    ino == (unsigned long)u->ino) {
			account_drops(rx, u, drops);
			break;
		}
	}
	fclose(f);
}

int syslog_udp_setup(struct syslog_rx *rx)
{
	struct syslog_listener *l = rx->l;
	struct udp_state *u = calloc(1, sizeof(*u));
	int one = 1, want = l->rcvbuf, got = 0;
	socklen_t gl = sizeof(got);
	struct stat st;
	if (!u)
		return -ENOMEM;
	u->slot = l->max_msg < SLOT_MAX ? l->max_msg : SLOT_MAX;
	/* Pages are touched only as long datagrams arrive. */
	if (!(u->bufs = malloc(u->slot * VLEN))) {
		free(u);
		return -ENOMEM;
	}
	for (int i = 0; i < VLEN; i++) {
		u->iov[i].iov_base = u->bufs + (size_t)i * u->slot;
		u->iov[i].iov_len = u->slot;
		reset_hdr(u, i);
	}
	rx->priv = u;

	/* SO_RCVBUFFORCE passes net.core.rmem_max when we may (CAP_NET_ADMIN). */
	if (setsockopt(rx->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0 &&
	    setsockopt(rx->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) < 0)
		log_warn("syslog", "udp: cannot set the receive buffer: %s", strerror(errno));
	getsockopt(rx->fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
	/* The kernel reports twice what it accounts as payload (it counts its overhead). */
	if (got / 2 < want)
		log_warn("syslog",
			 "udp: receive buffer %d bytes, asked %d (raise net.core.rmem_max "
			 "or run with CAP_NET_ADMIN)",
			 got / 2, want);
	else
		log_info("syslog", "udp: receive buffer %d bytes", got / 2);
	metric_register(&m_kernel);
	metric_register(&m_rcvbuf);
	metric_set(&m_rcvbuf, got / 2);

	if (setsockopt(rx->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) < 0)
		log_warn("syslog",
			 "udp: no SO_RXQ_OVFL (%s): kernel drops are read from /proc "
			 "once a second",
			 strerror(errno));
	u->ino = fstat(rx->fd, &st) == 0 ? st.st_ino : 0;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	u->family = getsockname(rx->fd, (struct sockaddr *)&ss, &sl) == 0 ? ss.ss_family : AF_INET;
	return 0;
}

void syslog_udp_release(struct syslog_rx *rx)
{
	struct udp_state *u = rx->priv;
	if (!u)
		return;
	free(u->bufs);
	free(u);
	rx->priv = NULL;
}

static const char *sender(struct udp_state *u, const struct msghdr *h)
{
	if (h->msg_namelen != u->last_len || memcmp(h->msg_name, &u->last, h->msg_namelen) != 0) {
		memcpy(&u->last, h->msg_name, h->msg_namelen);
		u->last_len = h->msg_namelen;
		if (h->msg_namelen > 0)
			syslog_peer_text(h->msg_name, u->host);
		else
			snprintf(u->host, sizeof(u->host), "unknown");
	}
	return u->host;
}

static void handle(struct syslog_rx *rx, struct udp_state *u, int n, int64_t now_us)
{
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &u->msgs[i].msg_hdr;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
				uint32_t v;
				memcpy(&v, CMSG_DATA(c), sizeof(v));
				account_drops(rx, u, v);
			}
		}
		size_t len = u->msgs[i].msg_len;
		bool cut = (h->msg_flags & MSG_TRUNC) != 0;
		syslog_rx_message(rx, u->iov[i].iov_base, len, sender(u, h), cut, now_us);
		reset_hdr(u, i);
	}
}

/* One recvmmsg; the datagrams into the batch. Sets *mono to the time after it. */
static int read_some(struct syslog_rx *rx, struct udp_state *u, int64_t *mono)
{
	int n = recvmmsg(rx->fd, u->msgs, VLEN, MSG_DONTWAIT, NULL);
	int err = errno;
	*mono = syslog_mono_us();
	if (n > 0) {
		handle(rx, u, n, ts_now_us());
	} else if (n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR &&
		   *mono >= u->next_err_log_us) {
		log_error("syslog", "udp: receive failed: %s", strerror(err));
		u->next_err_log_us = *mono + 10 * 1000000LL;
	}
	return n;
}

void *syslog_udp_main(void *arg)
{
	struct syslog_rx *rx = arg;
	struct syslog_listener *l = rx->l;
	struct udp_state *u = rx->priv;
	struct pollfd pf[2] = {{.fd = rx->fd, .events = POLLIN},
			       {.fd = l->wake_fd, .events = POLLIN}};
	int64_t now = syslog_mono_us();
	u->next_proc_us = now + PROC_CHECK_US;
	while (!atomic_load(&l->stopping)) {
		int n = read_some(rx, u, &now);
		if (now >= u->next_proc_us) {
			proc_drops(rx, u);
			u->next_proc_us = now + PROC_CHECK_US;
		}
		syslog_rx_flush(rx, now, false);
		if (n == VLEN)
			continue; /* more is likely waiting */
		int64_t wait = (u->next_proc_us - now + 999) / 1000;
		int due = syslog_rx_due_ms(rx, now);
		if (due >= 0 && due < wait)
			wait = due;
		if (poll(pf, 2, (int)(wait < 0 ? 0 : wait)) < 0 && errno != EINTR)
			log_error("syslog", "udp: poll failed: %s", strerror(errno));
	}
	/* Stopping: what the kernel already holds is still read, then the batch is flushed. */
	for (int got = 0; got < DRAIN_MAX;) {
		int n = read_some(rx, u, &now);
		if (n <= 0)
			break;
		got += n;
	}
	proc_drops(rx, u);
	syslog_rx_flush(rx, now, true);
	return NULL;
}
