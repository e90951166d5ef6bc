/* pg_notify.c — notices between hubs that share a PostgreSQL database (NOTIFY / LISTEN): one
 * sends on a channel through a pooled connection, another waits on a connection of its own
 * that listens there. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/pg/pg_int.h"

#define SUB "postgres"

struct store_listener {
	PGconn *c;
};

int pg_notify(struct pg_store *s, const char *channel, const char *payload)
{
	struct pg_params p = {0};
	pg_p_text(&p, channel);
	pg_p_text(&p, payload);
	return pg_run(s, "SELECT pg_notify($1, $2)", &p, NULL, "notify");
}

int pg_listen(struct pg_store *s, const char *channel, struct store_listener **out)
{
	struct store_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	int rc = pg_connect(s, &l->c);
	if (rc < 0) {
		free(l);
		return rc;
	}
	char *id = PQescapeIdentifier(l->c, channel, strlen(channel));
	char sql[300];
	if (!id || (size_t)snprintf(sql, sizeof(sql), "LISTEN %s", id) >= sizeof(sql))
		rc = -EINVAL;
	else
		rc = pg_exec(l->c, sql, NULL, NULL, "listen");
	PQfreemem(id);
	if (rc < 0) {
		PQfinish(l->c);
		free(l);
		return rc;
	}
	*out = l;
	return 0;
}

int store_listener_wait(struct store_listener *l, int timeout_ms)
{
	int got = 0;
	for (;;) {
		if (!PQconsumeInput(l->c))
			return SIEM_EUNAVAIL;
		PGnotify *n;
		while ((n = PQnotifies(l->c))) {
			got = 1;
			PQfreemem(n);
		}
		if (got || timeout_ms <= 0)
			return got;
		struct pollfd pfd = {.fd = PQsocket(l->c), .events = POLLIN};
		if (pfd.fd < 0)
			return SIEM_EUNAVAIL;
		int k = poll(&pfd, 1, timeout_ms);
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k <= 0)
			return 0;
		timeout_ms = 0; /* read what came, then answer */
	}
}

void store_listener_close(struct store_listener *l)
{
	if (!l)
		return;
	PQfinish(l->c);
	free(l);
}
