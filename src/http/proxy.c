/* proxy.c — who a request comes from and under which path it is served when a reverse proxy
 * stands in front: X-Forwarded-For and X-Forwarded-Prefix, believed only from
 * --trusted-proxies. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "http/http_int.h"

#define SUB "http"

static bool trusted_proxy(const struct http_server *srv, const uint8_t ip[16])
{
	for (size_t i = 0; i < srv->nproxies; i++) {
		if (memcmp(ip, srv->proxies[i].lo, 16) >= 0 &&
		    memcmp(ip, srv->proxies[i].hi, 16) <= 0)
			return true;
	}
	return false;
}

struct forwarded {
	const char *v[MAX_FORWARDED_HEADERS];
	size_t n;
};

static enum MHD_Result forwarded_cb(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	(void)kind;
	struct forwarded *f = cls;
	if (key && value && strcasecmp(key, "X-Forwarded-For") == 0) {
		if (f->n < MAX_FORWARDED_HEADERS)
			f->v[f->n] = value;
		f->n++;
	}
	return MHD_YES;
}

/* The peer, or behind a trusted proxy the client it names: walking X-Forwarded-For from the
 * right (the hops our proxies added), the first address that is not a trusted proxy. A
 * malformed hop ends the walk at the last trusted address: what lies left of it was written
 * by whoever spoke to that proxy and cannot be believed. */
void http_find_client(struct http_req *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	uint8_t ip[16] = {[10] = 0xff, [11] = 0xff};
	snprintf(r->addr, sizeof(r->addr), "unknown");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		memcpy(ip + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(ip, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	else
		return;
	struct forwarded f = {.n = 0};
	r->peer_trusted = r->srv->nproxies && trusted_proxy(r->srv, ip);
	if (r->peer_trusted)
		MHD_get_connection_values(r->conn, MHD_HEADER_KIND, forwarded_cb, &f);
	size_t hops = 0;
	bool done = f.n > MAX_FORWARDED_HEADERS; /* cannot see the rightmost: the peer it is */
	for (size_t h = f.n; !done && h-- > 0;) {
		const char *v = f.v[h];
		size_t end = strlen(v);
		while (!done) {
			size_t start = end;
			while (start > 0 && v[start - 1] != ',')
				start--;
			size_t a = start, b = end;
			while (a < b && (v[a] == ' ' || v[a] == '\t'))
				a++;
			while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
				b--;
			uint8_t hop[16];
			if (++hops > MAX_FORWARDED_HOPS || ip_parse(v + a, b - a, hop) < 0) {
				done = true;
				break;
			}
			memcpy(ip, hop, sizeof(ip));
			if (!trusted_proxy(r->srv, ip))
				done = true;
			if (start == 0)
				break;
			end = start - 1;
		}
	}
	ip_format(ip, r->addr);
}

/* "CIDR[,CIDR...]" into srv->proxies. */
int http_set_proxies(struct http_server *srv, const char *list)
{
	for (const char *p = list ? list : ""; *p;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		size_t a = 0, b = n;
		while (a < b && p[a] == ' ')
			a++;
		while (b > a && p[b - 1] == ' ')
			b--;
		if (b > a) {
			if (srv->nproxies == MAX_PROXIES) {
				log_error(SUB, "more than %d trusted proxies", MAX_PROXIES);
				return -EINVAL;
			}
			if (cidr_parse(p + a, b - a, srv->proxies[srv->nproxies].lo,
				       srv->proxies[srv->nproxies].hi) < 0) {
				log_error(SUB, "invalid trusted proxy '%.*s' (want CIDR[,CIDR...])",
					  (int)(b - a), p + a);
				return -EINVAL;
			}
			srv->nproxies++;
		}
		p += n + (e ? 1 : 0);
	}
	return 0;
}

/* X-Forwarded-Prefix from a trusted proxy: "/" and segments of [A-Za-z0-9._~-]. */
static bool forwarded_prefix(struct http_req *r)
{
	const char *v = r->peer_trusted ? http_header(r, "X-Forwarded-Prefix") : NULL;
	size_t n = v ? strlen(v) : 0;
	if (!v || n >= sizeof(r->fwd_prefix) || (n && v[0] != '/'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("/._~-", v[i]))
			return false;
	while (n > 0 && v[n - 1] == '/')
		n--;
	memcpy(r->fwd_prefix, v, n);
	r->fwd_prefix[n] = '\0';
	return true;
}

void http_set_prefix(struct http_req *r)
{
	if (forwarded_prefix(r))
		r->prefix = r->fwd_prefix;
	else if (r->srv->root)
		r->prefix = r->srv->root;
}
