/* agent.h — what the agent's files share: its settings, the sources (one per --source) and
 * the loop that batches their events, sends them, spools them and saves positions. */
#ifndef SIEM_AGENT_AGENT_H
#define SIEM_AGENT_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "agent/servers.h"
#include "core/strbuf.h"
#include "source/source.h"

struct agent;
struct event;
struct state;
struct spool;
struct sender;

struct agent_config {
	const struct server_list *servers; /* the hubs, in failover order */
	const char *api_key, *ca_file, *state_dir, *host;
	bool insecure, gzip, once, dry_run, pihole_all;
	bool insecure_http; /* an http:// server was asked for explicitly */
	size_t batch_max;   /* events per batch */
	int64_t flush_ms;   /* a batch is sent this long after its first event at the latest */
	uint64_t spool_max; /* bytes */
	int64_t heartbeat_ms, poll_ms, pihole_ms, retry_max_ms, timeout_s;
	int64_t rotate_wait_ms; /* a renamed log file is read this long after its last line */
	int64_t failback_ms;	/* away from the first hub this long, the agent tries it again */
};

struct agent {
	struct agent_config cfg;
	struct source_config scfg; /* what the sources are told (from cfg) */
	struct source_sink sink;   /* where they put events and positions (agent.c) */
	struct source *src;
	size_t nsrc;
	struct state *state;
	struct spool *spool;
	struct sender *sender[SERVERS_MAX]; /* one per hub, same order as cfg.servers */
	struct failover fo;
	struct arena arena; /* events of one read() call, reset after it */
	volatile sig_atomic_t *stop;
	/* Set by SIGHUP: the loop clears it and calls reload (between two reads). */
	volatile sig_atomic_t *reload_flag;
	void (*reload)(struct agent *a);

	struct strbuf body; /* the batch being filled: NDJSON */
	uint32_t nbody;
	int64_t first_ms; /* when its first event came */
	size_t body_max;
	bool pos_dirty; /* records consumed since positions were last saved */
	bool pending;	/* the batch could neither be sent nor spooled: reading waits */

	int64_t retry_at_ms;
	bool hub_down;
	int64_t next_heartbeat_ms;

	/* counters since start */
	uint64_t n_read, n_sent, n_dups, n_spooled, n_rejected, n_aside;
	bool failed; /* --once: something was not acknowledged */
};

/* Table of source kinds (sources.c): the kinds this build has, from source/source.h. */
const struct source_ops *source_find(const char *kind);
/* Split "kind[:arg]" into s (kind must exist on this platform). */
int source_init(struct source *s, const char *spec, char *err, size_t errlen);

/* Add one event, as a JSON object text without newline, to the batch (or print it with
 * --dry-run). */
int agent_emit_json(struct agent *a, struct source *s, const char *json, size_t n);
/* Serialize ev (event_to_json) and add it. Not in the Windows build (no jansson there). */
int agent_emit(struct agent *a, struct source *s, const struct event *ev);
/* A record the source could not turn into an event: counted and logged (rate-limited). */
void agent_reject_local(struct agent *a, struct source *s, const char *where, const char *why);

int agent_init(struct agent *a, const struct agent_config *cfg, volatile sig_atomic_t *stop);
/* Run until *stop (or, with --once, until every source is read out). Returns the exit code. */
int agent_run(struct agent *a);
void agent_release(struct agent *a);

#endif
