/* rdns.c — reverse DNS names of source addresses without ever waiting: a bounded cache read
 * by the receivers, and one thread running c-ares for the addresses the cache misses. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ares.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "enrich/enrich_int.h"

#define INFLIGHT_MAX 64 /* queries outstanding at once */
#define QUERY_TIMEOUT_MS 2000
#define QUERY_TRIES 2

enum { E_FREE, E_PENDING, E_NAME, E_FAIL };

struct entry {
	uint8_t ip[16];
	uint8_t state;
	int64_t expires_us; /* E_NAME, E_FAIL: served until then */
	char *name;	    /* E_NAME */
};

struct rdns {
	pthread_mutex_t mu; /* guards everything below but the c-ares state */
	/* The cache: entries in a ring, reused oldest first (least recently inserted), found
	 * through an open-addressing index of entry numbers + 1 (linear probing). */
	struct entry *ent;
	size_t cap, next, used;
	uint32_t *idx;
	size_t idx_mask;
	/* Addresses waiting for the resolver thread (a ring of qcap). */
	uint8_t (*queue)[16];
	size_t qcap, qhead, qlen;
	bool stop;

	int64_t ttl_us;
	int wake_fd;
	pthread_t thread;
	bool started, lib_ok;
	/* The resolver thread's own. */
	ares_channel ch;
	bool ch_ok;
	int inflight;
};

struct query {
	struct rdns *r;
	uint8_t ip[16];
};

static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;

static size_t home(const struct rdns *r, const uint8_t ip[16])
{
	return hash_bytes(ip, 16) & r->idx_mask;
}

/* The index slot holding ip, or the empty slot where it would go. */
static size_t slot_find(const struct rdns *r, const uint8_t ip[16])
{
	size_t i = home(r, ip);
	while (r->idx[i] && memcmp(r->ent[r->idx[i] - 1].ip, ip, 16))
		i = (i + 1) & r->idx_mask;
	return i;
}

/* Backward-shift deletion: the entries after slot i that probed past it move up, so every
 * entry stays reachable from its home slot without tombstones. */
static void slot_delete(struct rdns *r, size_t i)
{
	size_t j = i;
	for (;;) {
		j = (j + 1) & r->idx_mask;
		if (!r->idx[j])
			break;
		size_t k = home(r, r->ent[r->idx[j] - 1].ip);
		bool movable = i <= j ? (k <= i || k > j) : (k <= i && k > j);
		if (movable) {
			r->idx[i] = r->idx[j];
			i = j;
		}
	}
	r->idx[i] = 0;
}

static void entry_clear(struct entry *e)
{
	free(e->name);
	e->name = NULL;
	e->state = E_FREE;
}

/* A new entry for ip at index slot s (from slot_find), taking the oldest one's place when
 * the cache is full. */
static struct entry *entry_insert(struct rdns *r, const uint8_t ip[16])
{
	size_t n = r->next;
	struct entry *e = &r->ent[n];
	if (e->state != E_FREE) {
		slot_delete(r, slot_find(r, e->ip));
		entry_clear(e);
		r->used--;
	}
	size_t s = slot_find(r, ip);
	memcpy(e->ip, ip, 16);
	e->state = E_PENDING;
	e->expires_us = 0;
	r->idx[s] = (uint32_t)n + 1;
	r->next = (n + 1) % r->cap;
	r->used++;
	return e;
}

static bool enqueue(struct rdns *r, const uint8_t ip[16])
{
	if (r->qlen == r->qcap)
		return false;
	memcpy(r->queue[(r->qhead + r->qlen) % r->qcap], ip, 16);
	r->qlen++;
	return true;
}

void rdns_fill(struct rdns *r, struct event *ev, size_t n, struct arena *a, struct enrich_tally *t)
{
	int64_t now = clock_mono_us(), hits = 0, misses = 0, dropped = 0, queued = 0;
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < n; i++) {
		struct event *e = &ev[i];
		if (!(e->flags & EV_HAS_IP) || !enrich_ip_public(e->ip))
			continue;
		size_t s = slot_find(r, e->ip);
		struct entry *c = r->idx[s] ? &r->ent[r->idx[s] - 1] : NULL;
		if (c && c->state == E_PENDING) {
			misses++; /* already asked: the answer fills later events */
			continue;
		}
		if (c && now < c->expires_us) {
			hits++;
			if (c->state == E_NAME &&
			    sv_capped(a, &e->rdns, c->name, strlen(c->name), EV_CAP_SHORT,
				      EV_TRUNC_OTHER, &e->flags) < 0)
				t->errors[EN_RDNS]++;
			continue;
		}
		misses++;
		/* Not known, or known too long ago: ask, unless the queue is full (then a later
		 * event from the address asks again). */
		if (!enqueue(r, e->ip)) {
			dropped++;
			continue;
		}
		queued++;
		if (c) {
			entry_clear(c);
			c->state = E_PENDING;
		} else {
			entry_insert(r, e->ip);
		}
	}
	size_t used = r->used;
	pthread_mutex_unlock(&r->mu);
	if (queued) {
		uint64_t one = 1;
		if (write(r->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("rdns", "cannot wake the resolver: %s", siem_strerror(-errno));
	}
	metric_add(&enrich_m_rdns_cache_hits, hits);
	metric_add(&enrich_m_rdns_cache_misses, misses);
	metric_add(&enrich_m_rdns_dropped, dropped);
	metric_set(&enrich_m_rdns_entries, (int64_t)used);
}

/* The name a DNS server sent is anyone's text: only a host name passes, lower-cased and
 * without its final dot. */
static size_t host_name(const char *s, char out[254])
{
	size_t n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 0;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '_') {
			label++;
		} else if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
			label++;
		} else {
			return 0;
		}
		if (label > 63)
			return 0;
		out[i] = c;
	}
	if (label == 0)
		return 0;
	out[n] = '\0';
	return n;
}

static void on_host(void *arg, int status, int timeouts, struct hostent *host)
{
	(void)timeouts;
	struct query *q = arg;
	struct rdns *r = q->r;
	r->inflight--;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		free(q);
		return;
	}
	char name[254];
	size_t n = 0;
	if (status == ARES_SUCCESS && host && host->h_name)
		n = host_name(host->h_name, name);
	if (n > 0)
		metric_add(&enrich_m_hits[EN_RDNS], 1);
	else if (status != ARES_ENOTFOUND && status != ARES_ENODATA)
		metric_add(&enrich_m_errors[EN_RDNS], 1); /* a timeout, a refusal, a bad name */
	char *dup = n > 0 ? strdup(name) : NULL;

	pthread_mutex_lock(&r->mu);
	size_t s = slot_find(r, q->ip);
	/* Evicted while asked (a small cache under many addresses): keep the answer anyway. */
	struct entry *e = r->idx[s] ? &r->ent[r->idx[s] - 1] : entry_insert(r, q->ip);
	entry_clear(e);
	e->state = dup ? E_NAME : E_FAIL;
	e->name = dup;
	e->expires_us = clock_mono_us() + r->ttl_us;
	size_t used = r->used;
	pthread_mutex_unlock(&r->mu);
	metric_set(&enrich_m_rdns_entries, (int64_t)used);
	free(q);
}

static void ask(struct rdns *r, const uint8_t ip[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	struct query *q = malloc(sizeof(*q));
	if (!q) {
		/* Leave no entry pending for ever: a failure, asked again after the TTL. */
		pthread_mutex_lock(&r->mu);
		size_t s = slot_find(r, ip);
		if (r->idx[s]) {
			struct entry *e = &r->ent[r->idx[s] - 1];
			e->state = E_FAIL;
			e->expires_us = clock_mono_us() + r->ttl_us;
		}
		pthread_mutex_unlock(&r->mu);
		metric_add(&enrich_m_errors[EN_RDNS], 1);
		return;
	}
	q->r = r;
	memcpy(q->ip, ip, 16);
	r->inflight++;
	metric_add(&enrich_m_lookups[EN_RDNS], 1);
	if (!memcmp(ip, mapped, sizeof(mapped)))
		ares_gethostbyaddr(r->ch, ip + 12, 4, AF_INET, on_host, q);
	else
		ares_gethostbyaddr(r->ch, ip, 16, AF_INET6, on_host, q);
}

static void *rdns_main(void *arg)
{
	struct rdns *r = arg;
	for (;;) {
		uint8_t batch[INFLIGHT_MAX][16];
		size_t nb = 0;
		pthread_mutex_lock(&r->mu);
		if (r->stop) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		while (r->qlen > 0 && r->inflight + (int)nb < INFLIGHT_MAX) {
			memcpy(batch[nb++], r->queue[r->qhead], 16);
			r->qhead = (r->qhead + 1) % r->qcap;
			r->qlen--;
		}
		pthread_mutex_unlock(&r->mu);
		for (size_t i = 0; i < nb; i++)
			ask(r, batch[i]);

		struct pollfd pf[1 + ARES_GETSOCK_MAXNUM];
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		int bits = ares_getsock(r->ch, socks, ARES_GETSOCK_MAXNUM);
		nfds_t nf = 0;
		pf[nf++] = (struct pollfd){.fd = r->wake_fd, .events = POLLIN};
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short evs = (short)((ARES_GETSOCK_READABLE(bits, i) ? POLLIN : 0) |
					    (ARES_GETSOCK_WRITABLE(bits, i) ? POLLOUT : 0));
			if (!evs)
				break;
			pf[nf++] = (struct pollfd){.fd = socks[i], .events = evs};
		}
		int timeout = -1;
		struct timeval tv, *tp = ares_timeout(r->ch, NULL, &tv);
		if (tp)
			timeout = (int)(tp->tv_sec * 1000 + (tp->tv_usec + 999) / 1000);
		int k = poll(pf, nf, timeout);
		if (k < 0 && errno != EINTR) {
			log_error("rdns", "poll: %s", siem_strerror(-errno));
			break;
		}
		if (k > 0 && (pf[0].revents & POLLIN)) {
			uint64_t v;
			if (read(r->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_warn("rdns", "wake: %s", siem_strerror(-errno));
		}
		bool any = false;
		for (nfds_t i = 1; k > 0 && i < nf; i++) {
			if (!pf[i].revents)
				continue;
			bool rd = pf[i].revents & (POLLIN | POLLERR | POLLHUP);
			bool wr = pf[i].revents & POLLOUT;
			ares_process_fd(r->ch, rd ? pf[i].fd : ARES_SOCKET_BAD,
					wr ? pf[i].fd : ARES_SOCKET_BAD);
			any = true;
		}
		if (!any) /* timeouts and retries */
			ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	}
	return NULL;
}

int rdns_start(struct rdns **out, const struct enrich_config *cfg, char *err, size_t errlen)
{
	int rc = 0;
	*out = NULL;
	struct rdns *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->wake_fd = -1;
	r->cap = cfg->rdns_cache_max ? cfg->rdns_cache_max : 65536;
	if (r->cap > UINT32_MAX / 4)
		r->cap = UINT32_MAX / 4;
	r->qcap = cfg->rdns_queue_max ? cfg->rdns_queue_max : 1024;
	r->ttl_us = (int64_t)(cfg->rdns_ttl_s > 0 ? cfg->rdns_ttl_s : 300) * 1000000;
	size_t ic = 16;
	while (ic < r->cap * 2)
		ic *= 2;
	r->idx_mask = ic - 1;
	if (!(r->ent = calloc(r->cap, sizeof(*r->ent))) ||
	    !(r->idx = calloc(ic, sizeof(*r->idx))) ||
	    !(r->queue = calloc(r->qcap, sizeof(*r->queue)))) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", siem_strerror(rc));
		goto fail;
	}

	pthread_mutex_lock(&lib_mu);
	int st = ares_library_init(ARES_LIB_INIT_ALL);
	pthread_mutex_unlock(&lib_mu);
	if (st != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(st));
		rc = -EIO;
		goto fail;
	}
	r->lib_ok = true;
	struct ares_options o;
	memset(&o, 0, sizeof(o));
	int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	o.timeout = QUERY_TIMEOUT_MS;
	o.tries = QUERY_TRIES;
	bool servers = cfg->rdns_servers && cfg->rdns_servers[0];
	if (servers) {
		/* Servers named: ask them, not /etc/hosts. */
		mask |= ARES_OPT_LOOKUPS;
		o.lookups = (char *)"b";
	}
	if ((st = ares_init_options(&r->ch, &o, mask)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(st));
		rc = st == ARES_ENOMEM ? -ENOMEM : -EIO;
		goto fail;
	}
	r->ch_ok = true;
	if (servers &&
	    (st = ares_set_servers_ports_csv(r->ch, cfg->rdns_servers)) != ARES_SUCCESS) {
		snprintf(err, errlen, "bad server list '%s': %s", cfg->rdns_servers,
			 ares_strerror(st));
		rc = SIEM_EPARSE;
		goto fail;
	}
	if ((rc = -pthread_create(&r->thread, NULL, rdns_main, r)) < 0) {
		snprintf(err, errlen, "cannot start the resolver thread: %s", siem_strerror(rc));
		goto fail;
	}
	r->started = true;
	log_info("rdns",
		 "reverse DNS of public source addresses via %s (cache %zu, queue %zu, ttl %d s)",
		 servers ? cfg->rdns_servers : "the system's resolvers", r->cap, r->qcap,
		 (int)(r->ttl_us / 1000000));
	*out = r;
	return 0;
fail:
	rdns_stop(r);
	return rc;
}

void rdns_stop(struct rdns *r)
{
	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_mutex_unlock(&r->mu);
		uint64_t one = 1;
		if (write(r->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("rdns", "cannot wake the resolver: %s", siem_strerror(-errno));
		pthread_join(r->thread, NULL);
	}
	if (r->ch_ok)
		ares_destroy(r->ch); /* outstanding queries end with ARES_EDESTRUCTION */
	if (r->lib_ok) {
		pthread_mutex_lock(&lib_mu);
		ares_library_cleanup();
		pthread_mutex_unlock(&lib_mu);
	}
	for (size_t i = 0; r->ent && i < r->cap; i++)
		free(r->ent[i].name);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	free(r->ent);
	free(r->idx);
	free(r->queue);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
