/* agent.c — the agent's loop: batch the sources' events, send or spool them, drain the spool
 * oldest first, and save positions only once their events are acknowledged or fsync'd. */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/plat.h"
#include "agent/reply.h"
#include "agent/sender.h"
#include "agent/spool.h"
#include "agent/state.h"
#include "core/log.h"
#include "core/metrics.h"

#define BODY_MAX ((size_t)2 << 20) /* a batch is sent at this size whatever its count */
#define DRAIN_BUDGET_MS 1000	   /* spool sending per loop turn, so reading keeps up */
#define ONCE_TRIES 3		   /* --once: attempts per batch before it is spooled */
#define BACKOFF_MIN_MS 500

enum outcome { SENT, RETRY, REFUSED };

static struct metric m_read =
    METRIC_COUNTER_INIT("minisiem_agent_events_read_total", NULL, "Events read from the sources.");
static struct metric m_sent = METRIC_COUNTER_INIT(
    "minisiem_agent_events_sent_total", NULL, "Events the hub acknowledged (duplicates included).");
static struct metric m_spooled = METRIC_COUNTER_INIT("minisiem_agent_events_spooled_total", NULL,
						     "Events written to the spool.");
static struct metric m_dropped = METRIC_COUNTER_INIT("minisiem_agent_events_dropped_total", NULL,
						     "Events lost: spool full or damaged.");
static struct metric m_rejected = METRIC_COUNTER_INIT(
    "minisiem_agent_events_rejected_total", NULL,
    "Events refused: unparsable records, the hub's rejections, batches set aside.");
static struct metric m_spool_files =
    METRIC_GAUGE_INIT("minisiem_agent_spool_batches", NULL, "Batches waiting in the spool.");
static struct metric m_spool_bytes =
    METRIC_GAUGE_INIT("minisiem_agent_spool_bytes", NULL, "Bytes waiting in the spool.");

/* ---- the sink: events into the batch, positions into the state (saved after the ack) ---- */

static struct agent *sink_agent(struct source_sink *k)
{
	return (struct agent *)(void *)((char *)k - offsetof(struct agent, sink));
}

#ifndef _WIN32
static int sink_emit(struct source_sink *k, struct source *s, const struct event *ev)
{
	return agent_emit(sink_agent(k), s, ev);
}
#endif

static int sink_emit_json(struct source_sink *k, struct source *s, const char *json, size_t n)
{
	return agent_emit_json(sink_agent(k), s, json, n);
}

static void sink_reject(struct source_sink *k, struct source *s, const char *where, const char *why)
{
	agent_reject_local(sink_agent(k), s, where, why);
}

static const char *sink_saved(struct source_sink *k, const char *key)
{
	return state_get(sink_agent(k)->state, key);
}

static int sink_checkpoint(struct source_sink *k, const char *key, const char *value)
{
	return state_set(sink_agent(k)->state, key, value);
}

int agent_init(struct agent *a, const struct agent_config *cfg, volatile sig_atomic_t *stop)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	a->stop = stop;
	arena_init(&a->arena, 0);
	a->scfg = (struct source_config){
	    .host = cfg->host,
	    .once = cfg->once,
	    .pihole_all = cfg->pihole_all,
	    .batch_max = cfg->batch_max,
	    .pihole_ms = cfg->pihole_ms,
	    .rotate_wait_ms = cfg->rotate_wait_ms,
	};
	a->sink = (struct source_sink){
	    .arena = &a->arena,
#ifndef _WIN32
	    .emit = sink_emit,
#endif
	    .emit_json = sink_emit_json,
	    .reject = sink_reject,
	    .saved = sink_saved,
	    .checkpoint = sink_checkpoint,
	};
	a->body_max = BODY_MAX;
	if (cfg->spool_max / 4 < a->body_max)
		a->body_max = (size_t)(cfg->spool_max / 4);
	strbuf_init(&a->body, a->body_max + (1u << 20));
	struct metric *ms[] = {&m_read,	    &m_sent,	    &m_spooled,	   &m_dropped,
			       &m_rejected, &m_spool_files, &m_spool_bytes};
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		metric_register(ms[i]);
	return 0;
}

void agent_release(struct agent *a)
{
	for (size_t i = 0; i < a->nsrc; i++) {
		if (a->src[i].ops && a->src[i].priv)
			a->src[i].ops->close(&a->src[i]);
		free(a->src[i].spec);
	}
	free(a->src);
	strbuf_release(&a->body);
	arena_release(&a->arena);
}

int agent_emit_json(struct agent *a, struct source *s, const char *json, size_t n)
{
	s->n_read++;
	a->n_read++;
	if (a->cfg.dry_run) {
		fwrite(json, 1, n, stdout);
		fputc('\n', stdout);
		return 0;
	}
	int rc = strbuf_add(&a->body, json, n);
	if (rc == 0)
		rc = strbuf_add(&a->body, "\n", 1);
	if (rc < 0) {
		agent_reject_local(a, s, "batch", "event too large for a batch");
		return 0;
	}
	if (a->nbody++ == 0)
		a->first_ms = plat_mono_ms();
	return 0;
}

void agent_reject_local(struct agent *a, struct source *s, const char *where, const char *why)
{
	s->n_rejected++;
	a->n_rejected++;
	/* The first ones, then one in a thousand: a garbage file must not flood the log. */
	if (s->n_rejected <= 20 || s->n_rejected % 1000 == 0)
		log_warn("agent", "%s: %s: %s (%" PRIu64 " such records so far)", s->spec, where,
			 why, s->n_rejected);
}

/* ---- positions ---- */

static void commit_positions(struct agent *a)
{
	if (a->cfg.dry_run)
		return;
	for (size_t i = 0; i < a->nsrc; i++)
		if (a->src[i].priv)
			a->src[i].ops->commit(&a->src[i]);
	state_save(a->state);
	a->pos_dirty = false;
}

/* ---- sending ---- */

struct reject_ctx {
	const char *body;
	size_t n;
	uint64_t count;
};

/* The index-th line of an NDJSON body, for the log. */
static void line_at(const char *body, size_t n, long index, const char **p, size_t *len)
{
	const char *s = body, *end = body + n;
	for (long i = 0; i < index && s < end; i++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		s = nl ? nl + 1 : end;
	}
	const char *nl = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;
	*p = s;
	*len = (size_t)((nl ? nl : end) - s);
}

static void on_reject(void *ctx, long index, const char *error)
{
	struct reject_ctx *rc = ctx;
	const char *p;
	size_t len;
	rc->count++;
	if (rc->count > 20)
		return;
	line_at(rc->body, rc->n, index, &p, &len);
	log_warn("agent", "the hub rejected event %ld of a batch: %s: %.*s", index, error,
		 (int)(len > 300 ? 300 : len), p);
}

/* The current hub failed: the next batch goes to the next hub of the list, after a wait that
 * doubles with each whole round of the list that failed (jittered, up to --retry-max). */
static void backoff(struct agent *a, int64_t retry_after_s)
{
	uint32_t rounds = failover_failed(&a->fo, plat_mono_ms());
	int64_t b = BACKOFF_MIN_MS;
	for (uint32_t i = 0; i < rounds && b < a->cfg.retry_max_ms; i++)
		b *= 2;
	if (b > a->cfg.retry_max_ms)
		b = a->cfg.retry_max_ms;
	uint32_t r;
	plat_random(&r, sizeof(r));
	int64_t wait = b / 2 + (int64_t)(r % (uint32_t)(b / 2 + 1)); /* jitter: 50-100 % */
	/* Retry-After is the answering hub's: it holds when the next try goes to it again. */
	if (a->fo.n == 1 && retry_after_s * 1000 > wait)
		wait = retry_after_s * 1000 > a->cfg.retry_max_ms ? a->cfg.retry_max_ms
								  : retry_after_s * 1000;
	a->retry_at_ms = plat_mono_ms() + wait;
}

static enum outcome send_body(struct agent *a, const char *body, size_t n, uint32_t events)
{
	struct sender_reply r;
	bool back;
	size_t i = failover_pick(&a->fo, plat_mono_ms(), &back);
	const char *url = a->cfg.servers->url[i];
	if (back)
		log_info("agent", "trying the first hub again: %s", url);
	int rc = sender_post(a->sender[i], body, n, &r);
	if (rc < 0 || r.status == 429 || r.status == 408 || r.status >= 500 || r.status < 200) {
		if (rc < 0)
			log_warn("agent",
				 "the hub %s cannot be reached (%s): a batch of %" PRIu32
				 " events waits",
				 url, r.err, events);
		else
			log_warn("agent",
				 "the hub %s answered HTTP %ld to a batch of %" PRIu32
				 " events: %.*s",
				 url, r.status, events, (int)(r.body_n > 200 ? 200 : r.body_n),
				 r.body ? r.body : "");
		a->hub_down = true;
		backoff(a, rc < 0 ? 0 : r.retry_after);
		if (a->fo.n > 1)
			log_warn("agent", "the batch goes to %s next, in %" PRId64 " ms",
				 a->cfg.servers->url[a->fo.cur], a->retry_at_ms - plat_mono_ms());
		sender_reply_free(&r);
		return RETRY;
	}
	if (a->hub_down)
		log_info("agent", "the hub %s answers", url);
	a->hub_down = false;
	failover_ok(&a->fo);
	a->retry_at_ms = 0;
	if (r.status != 200) {
		log_error(
		    "agent",
		    "the hub refused a whole batch of %" PRIu32
		    " events with HTTP %ld: %.*s (kept in the set-aside directory, not retried)",
		    events, r.status, (int)(r.body_n > 300 ? 300 : r.body_n), r.body);
		a->n_aside += events;
		a->n_rejected += events;
		sender_reply_free(&r);
		return REFUSED;
	}
	struct reply rep;
	struct reject_ctx rc2 = {body, n, 0};
	if (reply_parse(r.body, r.body_n, &rep, on_reject, &rc2) < 0) {
		log_warn("agent", "the hub's answer is not an ingest answer: %.*s",
			 (int)(r.body_n > 200 ? 200 : r.body_n), r.body);
		rep = (struct reply){events, 0, 0};
	}
	if (rc2.count > 20)
		log_warn("agent", "... and %" PRIu64 " more rejected events in that batch",
			 rc2.count - 20);
	a->n_sent += (uint64_t)(rep.accepted + rep.duplicates);
	a->n_dups += (uint64_t)rep.duplicates;
	a->n_rejected += (uint64_t)rep.rejected;
	sender_reply_free(&r);
	return SENT;
}

static bool may_send(const struct agent *a)
{
	return plat_mono_ms() >= a->retry_at_ms;
}

/* Send what waits in the spool, oldest first, for up to budget_ms. */
static void drain_spool(struct agent *a, int64_t budget_ms)
{
	int64_t end = plat_mono_ms() + budget_ms;
	while (!spool_empty(a->spool) && may_send(a) && plat_mono_ms() < end && !*a->stop) {
		struct spool_batch b;
		if (spool_peek(a->spool, &b) < 0)
			break;
		enum outcome o = send_body(a, b.body, b.n, b.events);
		if (o == SENT)
			spool_pop(a->spool, b.seq);
		else if (o == REFUSED)
			spool_set_aside(a->spool, b.seq);
		free(b.buf);
		if (o == RETRY)
			break;
	}
}

static void reset_batch(struct agent *a)
{
	a->body.n = 0;
	if (a->body.p)
		a->body.p[0] = '\0';
	if (a->body.cap > (256u << 10)) /* do not keep a burst's memory */
		strbuf_release(&a->body);
	a->nbody = 0;
}

/* The batch in hand goes to the hub (when nothing older waits) or to the spool; then, and
 * only then, the positions of its events are saved. */
static int flush(struct agent *a)
{
	if (a->cfg.dry_run) {
		fflush(stdout);
		reset_batch(a);
		return 0;
	}
	if (a->nbody == 0) {
		if (a->pos_dirty)
			commit_positions(a);
		return 0;
	}
	enum outcome o = RETRY;
	if (spool_empty(a->spool)) {
		int tries = a->cfg.once ? ONCE_TRIES * (int)a->fo.n : 1;
		for (int i = 0; i < tries && !*a->stop; i++) {
			if (i)
				plat_sleep_ms(a->retry_at_ms - plat_mono_ms());
			if (!may_send(a) && !a->cfg.once)
				break;
			if ((o = send_body(a, a->body.p, a->body.n, a->nbody)) != RETRY)
				break;
		}
	}
	if (o == SENT) {
		/* acknowledged */
	} else if (o == REFUSED) {
		spool_set_aside_body(a->spool, a->body.p, a->body.n, a->nbody);
		a->failed = true;
	} else if (spool_put(a->spool, a->body.p, a->body.n, a->nbody) == 0) {
		a->n_spooled += a->nbody;
	} else {
		if (!a->pending)
			log_error("agent",
				  "a batch of %" PRIu32 " events can neither be sent nor "
				  "spooled: reading pauses until it can",
				  a->nbody);
		a->pending = true;
		return -EAGAIN;
	}
	if (a->pending)
		log_info("agent", "the waiting batch is out: reading again");
	a->pending = false;
	reset_batch(a);
	commit_positions(a);
	return 0;
}

/* ---- heartbeat ---- */

static void heartbeat(struct agent *a, const char *what)
{
	struct spool_stats ss = {0};
	if (a->spool)
		spool_get_stats(a->spool, &ss);
	metric_set(&m_read, (int64_t)a->n_read);
	metric_set(&m_sent, (int64_t)a->n_sent);
	metric_set(&m_spooled, (int64_t)a->n_spooled);
	metric_set(&m_dropped, (int64_t)ss.dropped_events);
	metric_set(&m_rejected, (int64_t)a->n_rejected);
	metric_set(&m_spool_files, (int64_t)ss.files);
	metric_set(&m_spool_bytes, (int64_t)ss.bytes);
	bool multi = !a->cfg.dry_run && a->fo.n > 1;
	log_info("agent",
		 "%s: read %" PRIu64 " sent %" PRIu64 " (duplicates %" PRIu64 ") spooled %" PRIu64
		 " dropped %" PRIu64 " rejected %" PRIu64 "; spool %" PRIu64 " batches %" PRIu64
		 " bytes; hub %s%s%s",
		 what, a->n_read, a->n_sent, a->n_dups, a->n_spooled, ss.dropped_events,
		 a->n_rejected, ss.files, ss.bytes,
		 a->cfg.dry_run ? "not used (dry run)"
		 : a->hub_down	? "unreachable"
				: "ok",
		 multi ? "; next batch to " : "", multi ? a->cfg.servers->url[a->fo.cur] : "");
	if (a->cfg.dry_run || !a->cfg.state_dir)
		return;
	struct strbuf b;
	char path[4200];
	strbuf_init(&b, 1 << 20);
	if (metrics_render(&b) == 0) {
		snprintf(path, sizeof(path), "%s" PLAT_SEP "metrics.prom", a->cfg.state_dir);
		plat_write_atomic(path, b.p ? b.p : "", b.n);
	}
	strbuf_release(&b);
}

/* ---- the loop ---- */

static int open_all(struct agent *a)
{
	char path[4200], aside[4200];
	int rc;
	if (!a->cfg.dry_run) {
		if ((rc = plat_mkdirs(a->cfg.state_dir)) < 0) {
			log_error("agent", "cannot create the state directory '%s': %s",
				  a->cfg.state_dir, strerror(-rc));
			return rc;
		}
		snprintf(path, sizeof(path), "%s" PLAT_SEP "spool", a->cfg.state_dir);
		snprintf(aside, sizeof(aside), "%s" PLAT_SEP "rejected", a->cfg.state_dir);
		if ((rc = spool_open(&a->spool, path, aside, a->cfg.spool_max)) < 0)
			return rc;
		failover_init(&a->fo, a->cfg.servers->n, a->cfg.failback_ms);
		for (size_t i = 0; i < a->cfg.servers->n; i++) {
			struct sender_config sc = {
			    .server = a->cfg.servers->url[i],
			    .api_key = a->cfg.api_key,
			    .ca_file = a->cfg.ca_file,
			    .insecure = a->cfg.insecure,
			    .allow_http = a->cfg.insecure_http,
			    .gzip = a->cfg.gzip,
			    .timeout_s = a->cfg.timeout_s,
			};
			if ((rc = sender_open(&a->sender[i], &sc)) < 0) {
				log_error("agent", "cannot set up the HTTP client for %s: %s",
					  sc.server, strerror(-rc));
				return rc;
			}
		}
		snprintf(path, sizeof(path), "%s" PLAT_SEP "state", a->cfg.state_dir);
	}
	if ((rc = state_open(&a->state, a->cfg.dry_run ? NULL : path)) < 0)
		return rc;
	for (size_t i = 0; i < a->nsrc; i++) {
		struct source *s = &a->src[i];
		s->poll_ms = a->cfg.poll_ms;
		s->cfg = &a->scfg;
		s->sink = &a->sink;
		if ((rc = s->ops->open(s)) < 0) {
			log_error("agent", "cannot open source '%s': %s", s->spec, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void close_all(struct agent *a)
{
	for (size_t i = 0; i < a->nsrc; i++) {
		if (a->src[i].priv)
			a->src[i].ops->close(&a->src[i]);
		a->src[i].priv = NULL;
	}
	state_close(a->state);
	a->state = NULL;
	spool_close(a->spool);
	a->spool = NULL;
	for (size_t i = 0; i < SERVERS_MAX; i++) {
		sender_close(a->sender[i]);
		a->sender[i] = NULL;
	}
}

static bool batch_full(const struct agent *a)
{
	return a->nbody >= a->cfg.batch_max || a->body.n >= a->body_max;
}

/* One pass over the sources that are due. Returns true when any had something. */
static bool read_sources(struct agent *a)
{
	bool any = false;
	for (size_t i = 0; i < a->nsrc && !*a->stop && !a->pending; i++) {
		struct source *s = &a->src[i];
		int64_t now = plat_mono_ms();
		if (now < s->next_ms)
			continue;
		size_t room = a->cfg.dry_run ? a->cfg.batch_max : a->cfg.batch_max - a->nbody;
		int n = s->ops->read(s, room);
		arena_reset(&a->arena);
		if (n > 0) {
			any = true;
			a->pos_dirty = true;
			s->idle = false;
			s->next_ms = now; /* more may be waiting */
		} else {
			s->idle = true;
			s->next_ms = now + s->poll_ms;
		}
		if (a->cfg.dry_run || batch_full(a))
			flush(a);
	}
	return any;
}

static int64_t next_wake(const struct agent *a, int64_t now)
{
	int64_t t = now + 1000;
	for (size_t i = 0; i < a->nsrc; i++)
		if (a->src[i].next_ms < t)
			t = a->src[i].next_ms;
	if (a->nbody && a->first_ms + a->cfg.flush_ms < t)
		t = a->first_ms + a->cfg.flush_ms;
	if ((a->nbody == 0 && a->pos_dirty) || a->pending)
		t = now + (a->pending ? 1000 : a->cfg.flush_ms);
	if (a->spool && !spool_empty(a->spool) && a->retry_at_ms < t)
		t = a->retry_at_ms;
	if (a->next_heartbeat_ms < t)
		t = a->next_heartbeat_ms;
	return t;
}

int agent_run(struct agent *a)
{
	int rc = open_all(a);
	if (rc < 0) {
		close_all(a);
		return 1;
	}
	log_info(
	    "agent", "minisiem-agent %s: %" PRIu64 " sources, %s", SIEM_VERSION, (uint64_t)a->nsrc,
	    a->cfg.dry_run ? "dry run (events printed, nothing sent)" : a->cfg.servers->url[0]);
	for (size_t i = 1; !a->cfg.dry_run && i < a->cfg.servers->n; i++)
		log_info("agent", "failover hub %" PRIu64 ": %s", (uint64_t)i + 1,
			 a->cfg.servers->url[i]);
	a->next_heartbeat_ms = plat_mono_ms() + a->cfg.heartbeat_ms;
	if (a->cfg.once && !a->cfg.dry_run)
		drain_spool(a, INT64_MAX / 4);
	while (!*a->stop) {
		if (a->reload_flag && *a->reload_flag) {
			*a->reload_flag = 0;
			if (a->reload)
				a->reload(a);
		}
		int64_t now = plat_mono_ms();
		if (a->pending && flush(a) < 0) {
			plat_sleep_ms(1000);
			continue;
		}
		bool any = read_sources(a);
		now = plat_mono_ms();
		if ((a->nbody && now - a->first_ms >= a->cfg.flush_ms) ||
		    (a->nbody == 0 && a->pos_dirty && !any))
			flush(a);
		if (a->cfg.once && !any) {
			bool idle = true;
			for (size_t i = 0; i < a->nsrc; i++)
				idle = idle && a->src[i].idle;
			if (idle)
				break;
		}
		if (a->spool && !spool_empty(a->spool) && (!a->cfg.once || may_send(a)))
			drain_spool(a, DRAIN_BUDGET_MS);
		now = plat_mono_ms();
		if (now >= a->next_heartbeat_ms) {
			heartbeat(a, "heartbeat");
			a->next_heartbeat_ms = now + a->cfg.heartbeat_ms;
		}
		if (!any)
			plat_sleep_ms(next_wake(a, now) - now);
	}
	/* Stopping: what was read goes to the hub or the spool, and its positions are saved. */
	flush(a);
	if (a->cfg.once && !a->cfg.dry_run && !*a->stop) {
		for (int i = 0;
		     i < ONCE_TRIES * (int)a->fo.n && !spool_empty(a->spool) && !*a->stop; i++) {
			plat_sleep_ms(a->retry_at_ms - plat_mono_ms());
			drain_spool(a, INT64_MAX / 4);
		}
	}
	if (!a->cfg.dry_run && a->pending) {
		log_error("agent",
			  "stopping with a batch that could not be spooled: its events are "
			  "read again at the next start");
		a->failed = true;
	}
	if (a->spool && !spool_empty(a->spool))
		a->failed = true;
	heartbeat(a, "stopping");
	close_all(a);
	return a->cfg.once && a->failed ? 1 : 0;
}
