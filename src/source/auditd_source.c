/* auditd_source.c — the agent's auditd[:PATH] source: the Linux audit log
 * (/var/log/audit/audit.log unless PATH says otherwise) followed like the linux-auth file,
 * its records put together into one event per audit event (parse/audit_asm.h) before they
 * are decoded. The position checkpointed never passes the first record of an event still
 * open: after a restart its records are read again (the event ids are deterministic, from
 * the file, the offset and the text). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "parse/audit_asm.h"
#include "parse/logline.h"
#include "source/follow.h"
#include "source/source.h"

#define AUDIT_LOG "/var/log/audit/audit.log"

struct asrc {
	struct follow *f;
	char *key; /* "file:<path>" */
	struct audit_asm *am;
	int emitted; /* events handed on by the assembler during this read() */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deterministic id: UUIDv5 of host, inode, offset and the text (as file_source.c does for a
 * line; an assembled event is named by its first record's place). */
static void text_id(const struct source *s, const struct follow_pos *p, const char *t, size_t n,
		    uint8_t id[16])
{
	char head[320];
	int k = snprintf(head, sizeof(head), "agent:%.255s:%" PRIu64 ":%" PRId64 ":",
			 s->cfg->host ? s->cfg->host : "", p->ino, p->off);
	char *buf = malloc((size_t)k + n);
	if (!buf) {
		uuid_v4(id);
		return;
	}
	memcpy(buf, head, (size_t)k);
	memcpy(buf + k, t, n);
	uuid_v5(buf, (size_t)k + n, id);
	free(buf);
}

/* A record alone, or the records of one event, into an event. */
static int take(struct source *s, const char *t, size_t n, const struct follow_pos *at)
{
	struct asrc *as = s->priv;
	struct event ev;
	char err[256];
	const char *path = follow_path(as->f);
	struct logline_ctx ctx = {.source = "agent", .os_type = "LINUX", .host = s->cfg->host};
	int rc = logline_to_event(FMT_SYSLOG, t, n, &ctx, ts_now_us(), &ev, s->sink->arena, err,
				  sizeof(err), NULL);
	if (rc < 0) {
		char where[4200];
		snprintf(where, sizeof(where), "'%s' at byte %lld", path, (long long)at->off);
		source_reject(s, where, err[0] ? err : siem_strerror(rc));
		return 0;
	}
	if (ev.flags & EV_ID_GENERATED) {
		text_id(s, at, t, n, ev.id);
		ev.flags &= ~(unsigned)EV_ID_GENERATED;
	}
	if (s->cfg->host && (!ev.source_host.p ||
			     (ev.source_host.n == 7 && !memcmp(ev.source_host.p, "unknown", 7))))
		ev.source_host = (struct sv){s->cfg->host, strlen(s->cfg->host)};
	size_t pn = strlen(path);
	ev.source_file = (struct sv){path, pn > EV_CAP_SHORT ? EV_CAP_SHORT : pn};
	ev.source_offset = at->off;
	ev.flags |= EV_HAS_OFFSET;
	source_emit(s, &ev);
	return 0;
}

static int asm_out(void *ctx, const char *text, size_t n, const void *tag)
{
	struct source *s = ctx;
	struct asrc *as = s->priv;
	struct follow_pos at;
	memcpy(&at, tag, sizeof(at));
	as->emitted++;
	return take(s, text, n, &at);
}

static int auditd_open(struct source *s)
{
	struct asrc *as = calloc(1, sizeof(*as));
	if (!as)
		return -ENOMEM;
	s->priv = as;
	if (!(as->am = audit_asm_new(sizeof(struct follow_pos), 0)))
		return -ENOMEM;
	const char *path = s->arg ? s->arg : AUDIT_LOG;
	size_t kn = strlen(path) + 6;
	if (!(as->key = malloc(kn)))
		return -ENOMEM;
	snprintf(as->key, kn, "file:%s", path);
	struct follow_pos pos, *saved = NULL;
	if (follow_pos_parse(source_saved(s, as->key), &pos) == 0)
		saved = &pos;
	struct follow_opts o = {.rotate_wait_ms = s->cfg->once ? 0 : s->cfg->rotate_wait_ms};
	log_info("agent", "auditd: following '%s'", path);
	return follow_open(&as->f, path, saved, &o);
}

static int auditd_read(struct source *s, size_t room)
{
	struct asrc *as = s->priv;
	struct follow_line ln;
	int n = 0, rc;
	as->emitted = 0;
	while ((size_t)n < room) {
		struct follow_pos before;
		follow_get_pos(as->f, &before);
		if (follow_next(as->f, &ln) <= 0)
			break;
		n++;
		size_t sp = 0;
		while (sp < ln.n && (ln.p[sp] == ' ' || ln.p[sp] == '\t' || ln.p[sp] == '\r'))
			sp++;
		if (sp == ln.n)
			continue; /* blank */
		before.ino = ln.ino;
		before.off = ln.off;
		int took =
		    ln.cut ? 0 : audit_asm_feed(as->am, ln.p, ln.n, &before, mono_ms(), asm_out, s);
		if (took < 0)
			return took;
		if (!took && (rc = take(s, ln.p, ln.n, &before)) < 0)
			return rc;
	}
	/* the events whose wait is over; all of them once a --once run has read the file */
	bool done = s->cfg->once && n == 0;
	if ((rc = audit_asm_expire(as->am, done ? INT64_MAX : mono_ms(), asm_out, s)) < 0)
		return rc;
	return n ? n : as->emitted;
}

static int auditd_commit(struct source *s)
{
	struct asrc *as = s->priv;
	struct follow_pos p;
	char buf[128];
	/* not past the first record of an event still open */
	if (!audit_asm_oldest_tag(as->am, &p))
		follow_get_pos(as->f, &p);
	if (p.ino == 0 && p.off == 0)
		return 0; /* not opened yet: nothing to remember */
	if (follow_pos_format(&p, buf, sizeof(buf)) == 0)
		source_checkpoint(s, as->key, buf);
	return 0;
}

static void auditd_close(struct source *s)
{
	struct asrc *as = s->priv;
	if (!as)
		return;
	struct audit_asm_stats st;
	if (as->am) {
		audit_asm_get_stats(as->am, &st);
		if (st.dropped || st.evicted)
			log_warn("agent",
				 "auditd: %" PRIu64 " records left out of events over their "
				 "bounds, %" PRIu64 " events handed on early (too many open)",
				 st.dropped, st.evicted);
	}
	follow_close(as->f);
	audit_asm_free(as->am);
	free(as->key);
	free(as);
	s->priv = NULL;
}

const struct source_ops src_auditd = {"auditd", auditd_open, auditd_read, auditd_commit,
				      auditd_close};
