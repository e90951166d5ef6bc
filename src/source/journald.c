/* journald.c — journald[:DIR] through sd-journal, resumed from a saved cursor; each entry goes
 * through the syslog path and auth decoders as the RFC 5424 line it stands for. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-journal.h>

#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "parse/logline.h"
#include "source/source.h"

#define FIELD_MAX (64 * 1024)

struct jsrc {
	sd_journal *j;
	char key[4200];
	char *cursor;  /* of the last entry read */
	bool at_entry; /* positioned on an entry not read yet (the saved one was vacuumed) */
	struct strbuf line;
};

/* Value of FIELD in the current entry (not NUL-terminated), or NULL. */
static const char *field(sd_journal *j, const char *name, size_t *n)
{
	const void *d;
	size_t len, nl = strlen(name);
	if (sd_journal_get_data(j, name, &d, &len) < 0 || len <= nl)
		return NULL;
	*n = len - nl - 1;
	return (const char *)d + nl + 1;
}

/* A header token: no spaces, "-" when empty. */
static int add_token(struct strbuf *b, const char *p, size_t n, size_t cap)
{
	int rc = 0;
	if (!p || !n)
		return strbuf_add(b, "-", 1);
	if (n > cap)
		n = cap;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char c = p[i] == ' ' || (unsigned char)p[i] < 0x21 ? '_' : p[i];
		rc = strbuf_add(b, &c, 1);
	}
	return rc;
}

static int small_int(const char *p, size_t n, int def, int max)
{
	int v = 0;
	if (!p || !n || n > 3)
		return def;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return def;
		v = v * 10 + (p[i] - '0');
	}
	return v <= max ? v : def;
}

/* The current entry into an event. 1 emitted, 0 skipped. */
static int take_entry(struct source *s, struct jsrc *js, const char *cursor)
{
	const char *me = s->cfg->host;
	size_t mn = 0, an = 0, hn = 0, pn = 0, prn = 0, fn = 0;
	const char *msg = field(js->j, "MESSAGE", &mn);
	const char *app = field(js->j, "SYSLOG_IDENTIFIER", &an);
	const char *host = field(js->j, "_HOSTNAME", &hn);
	const char *pid = field(js->j, "SYSLOG_PID", &pn);
	const char *pri = field(js->j, "PRIORITY", &prn);
	const char *fac = field(js->j, "SYSLOG_FACILITY", &fn);
	uint64_t usec = 0;
	char ts[32], head[16];
	if (!app)
		app = field(js->j, "_COMM", &an);
	if (!pid)
		pid = field(js->j, "_PID", &pn);
	if (!msg)
		return 0; /* an entry without a message (a coredump's parts, ...) */
	sd_journal_get_realtime_usec(js->j, &usec);
	ts_format((int64_t)usec, ts);
	int prival = small_int(fac, fn, 3, 23) * 8 + small_int(pri, prn, 6, 7);
	struct strbuf *b = &js->line;
	b->n = 0;
	snprintf(head, sizeof(head), "<%d>1 ", prival);
	int rc = strbuf_add(b, head, strlen(head));
	if (rc == 0)
		rc = strbuf_add(b, ts, strlen(ts));
	if (rc == 0)
		rc = strbuf_add(b, " ", 1);
	if (rc == 0)
		rc = add_token(b, host ? host : me, host ? hn : strlen(me), 255);
	if (rc == 0)
		rc = strbuf_add(b, " ", 1);
	if (rc == 0)
		rc = add_token(b, app, an, 48);
	if (rc == 0)
		rc = strbuf_add(b, " ", 1);
	if (rc == 0)
		rc = add_token(b, pid, pn, 128);
	if (rc == 0)
		rc = strbuf_add(b, " - - ", 5);
	if (rc == 0)
		rc = strbuf_add(b, msg, mn);
	if (rc < 0 && rc != -E2BIG) {
		source_reject(s, "entry", "out of memory");
		return 0;
	}
	struct event ev;
	char err[256];
	struct logline_ctx ctx = {.source = "agent", .os_type = "LINUX", .host = me};
	rc = logline_to_event(FMT_SYSLOG, b->p, b->n, &ctx, ts_now_us(), &ev, s->sink->arena, err,
			      sizeof(err), NULL);
	if (rc < 0) {
		source_reject(s, "entry", err[0] ? err : siem_strerror(rc));
		return 0;
	}
	char name[1100];
	int k = snprintf(name, sizeof(name), "journald:%s", cursor);
	uuid_v5(name, (size_t)(k < (int)sizeof(name) ? k : (int)sizeof(name) - 1), ev.id);
	ev.flags &= ~(unsigned)EV_ID_GENERATED;
	source_emit(s, &ev);
	return 1;
}

static int journald_open(struct source *s)
{
	struct jsrc *js = calloc(1, sizeof(*js));
	int rc;
	if (!js)
		return -ENOMEM;
	s->priv = js;
	strbuf_init(&js->line, FIELD_MAX + 512);
	snprintf(js->key, sizeof(js->key), "journald%s%s", s->arg ? ":" : "", s->arg ? s->arg : "");
	rc = s->arg ? sd_journal_open_directory(&js->j, s->arg, 0)
		    : sd_journal_open(&js->j, SD_JOURNAL_LOCAL_ONLY);
	if (rc < 0) {
		log_error("agent", "journald: cannot open the journal%s%s: %s",
			  s->arg ? " in " : "", s->arg ? s->arg : "", strerror(-rc));
		js->j = NULL;
		return rc;
	}
	sd_journal_set_data_threshold(js->j, FIELD_MAX);
	sd_journal_get_fd(js->j); /* watch for new and rotated journal files */
	const char *cur = source_saved(s, js->key);
	if (cur && (js->cursor = strdup(cur)) && sd_journal_seek_cursor(js->j, cur) >= 0 &&
	    sd_journal_next(js->j) > 0) {
		/* On the saved entry, or on the next one when it was vacuumed meanwhile. */
		js->at_entry = sd_journal_test_cursor(js->j, cur) <= 0;
		log_info("agent", "journald: resuming after the saved cursor%s",
			 js->at_entry ? " (its entry is gone: from the next one)" : "");
	} else if (s->arg) {
		sd_journal_seek_head(js->j); /* a directory of journal files: all of it */
		log_info("agent", "journald: reading '%s' from its first entry", s->arg);
	} else {
		/* The live journal without a cursor: from now on, not years of history. */
		sd_journal_seek_tail(js->j);
		sd_journal_previous(js->j);
		log_info("agent", "journald: following new entries");
	}
	return 0;
}

static int journald_read(struct source *s, size_t room)
{
	struct jsrc *js = s->priv;
	int n = 0;
	if (!js->j)
		return 0;
	while ((size_t)n < room) {
		if (!js->at_entry) {
			int r = sd_journal_next(js->j);
			if (r < 0) {
				log_warn("agent", "journald: %s", strerror(-r));
				break;
			}
			if (r == 0)
				break;
		}
		js->at_entry = false;
		char *cur = NULL;
		if (sd_journal_get_cursor(js->j, &cur) < 0 || !cur) {
			source_reject(s, "entry", "no cursor");
			continue;
		}
		take_entry(s, js, cur);
		free(js->cursor);
		js->cursor = cur;
		n++;
	}
	if (n == 0)
		sd_journal_process(js->j); /* notice rotated and new journal files */
	return n;
}

static int journald_commit(struct source *s)
{
	struct jsrc *js = s->priv;
	return js->cursor ? source_checkpoint(s, js->key, js->cursor) : 0;
}

static void journald_close(struct source *s)
{
	struct jsrc *js = s->priv;
	if (js->j)
		sd_journal_close(js->j);
	free(js->cursor);
	strbuf_release(&js->line);
	free(js);
	s->priv = NULL;
}

const struct source_ops src_journald = {"journald", journald_open, journald_read, journald_commit,
					journald_close};
