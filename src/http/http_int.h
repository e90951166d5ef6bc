/* http_int.h — what the server's files share: the server and a request as they are held
 * (server.c), and the client address and path prefix a proxy may give (proxy.c). */
#ifndef SIEM_HTTP_INT_H
#define SIEM_HTTP_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>
#include <pthread.h>

#include "core/metrics.h"
#include "http/http.h"

#define MAX_EXTRA_HEADERS 8
#define MAX_PROXIES 32
#define MAX_FORWARDED_HEADERS 8
#define MAX_FORWARDED_HOPS 64

struct route_stat;
struct http_watchdog;

struct http_server {
	struct MHD_Daemon *d;
	atomic_bool closing; /* http_quiesce: new connections are closed as they come */
	const struct http_route *routes;
	size_t nroutes;
	struct http_auth_ops auth;
	size_t max_body;
	pthread_mutex_t cors_mu;
	char *cors;
	char *root; /* "/siem" or NULL */
	size_t root_len;
	char *tls_cert, *tls_key; /* PEM text, kept while the daemon runs */
	atomic_uint inflight;	  /* requests begun */
	atomic_uint busy;	  /* requests whose body is complete and not yet finished */
	unsigned port;
	/* request bodies in memory, all requests together */
	size_t body_budget;
	atomic_size_t body_bytes;
	struct http_watchdog *watchdog; /* closes slow clients */
	struct route_stat *stats;	/* per route, then per method of unknown routes */
	struct metric_family stats_family;
	struct {
		uint8_t lo[16], hi[16];
	} proxies[MAX_PROXIES]; /* --trusted-proxies */
	size_t nproxies;
};

struct http_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	const struct http_route *route;
	const char *method, *url;
	const char *path_arg;
	char *body;
	size_t len, cap;
	bool too_big, over_budget, replied, suspended, counted;
	size_t discarded;
	size_t limit;	  /* this route's body limit */
	size_t announced; /* Content-Length + 1 when sent and within the limit, else 0 */
	size_t reserved;  /* bytes of the body budget this request holds */
	char *decoded;
	size_t decoded_len;
	void *state;
	void (*state_free)(void *);
	char who[128], role[32];
	int64_t key_id;
	char addr[64];
	bool peer_trusted;    /* the peer is a --trusted-proxies address */
	int64_t start_us;     /* monotonic, when the headers were in */
	const char *prefix;   /* http_prefix(), NULL until set */
	char fwd_prefix[128]; /* a trusted X-Forwarded-Prefix */
	size_t nextra;
	const char *extra_name[MAX_EXTRA_HEADERS];
	char *extra_value[MAX_EXTRA_HEADERS];
};

/* --trusted-proxies: CIDR blocks into srv->proxies. 0, or SIEM_EPARSE with the bad one
 * logged. */
int http_set_proxies(struct http_server *srv, const char *list);
/* r->addr: the peer, or the client a trusted proxy names in X-Forwarded-For; r->peer_trusted. */
void http_find_client(struct http_req *r);
/* r->prefix: a trusted proxy's X-Forwarded-Prefix, else the configured root path, else "". */
void http_set_prefix(struct http_req *r);

#endif
