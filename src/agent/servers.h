/* servers.h — the hubs an agent sends to: the --server list (repeated flags, commas) and the
 * failover order over it: stay on a hub that answers, move to the next one when it fails, go
 * back to the first one after a while. No clock or network here: the caller passes the time. */
#ifndef SIEM_AGENT_SERVERS_H
#define SIEM_AGENT_SERVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVERS_MAX 16

struct server_list {
	char *url[SERVERS_MAX];
	size_t n;
};

/* Add the URLs of spec, separated by commas (blanks around each are ignored, empty ones
 * skipped). Each must be http:// or https:// with a host; a URL already in the list is not
 * added twice. On error the list is unchanged: -EINVAL (err says why) or -ENOMEM. */
int servers_add(struct server_list *l, const char *spec, char *err, size_t errlen);
/* True when any URL is http:// (not TLS). */
bool servers_any_plain(const struct server_list *l);
void servers_release(struct server_list *l);

/* The failover state over n URLs (index 0 is the first, preferred one). */
struct failover {
	size_t n;
	size_t cur;	       /* where the next batch goes */
	uint32_t fails;	       /* failed attempts since the last success */
	int64_t left_first_ms; /* when it moved away from the first URL */
	int64_t failback_ms;   /* how long it stays away from the first before trying it again */
};

void failover_init(struct failover *f, size_t n, int64_t failback_ms);
/* The URL to send the next batch to. Away from the first URL for failback_ms, it returns to
 * it (once: if the first fails, failover_failed moves on again). Returns true in *back when
 * this call went back to the first. */
size_t failover_pick(struct failover *f, int64_t now_ms, bool *back);
/* The current URL answered (with anything but a failure). */
void failover_ok(struct failover *f);
/* The current URL failed (no connection, a timeout, 5xx, 408 or 429): move to the next one.
 * Returns how many whole rounds over the list have failed since the last success (0 while
 * some URL of the list was not tried yet), for the backoff: the wait doubles per round. */
uint32_t failover_failed(struct failover *f, int64_t now_ms);

#endif
