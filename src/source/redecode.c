/* redecode.c — a dead letter's record decoded again, as its source decodes records now. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/jsonalloc.h"
#include "parse/jsonl.h"
#include "parse/logline.h"
#include "source/redecode.h"
#include "source/tail.h"

static int fail(char *err, size_t errlen, int rc, const char *reason)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", reason);
	return rc;
}

/* A line of a tailed file, as tail_file.c's add_line takes it. */
static int tail_line(const struct redecode_rec *d, size_t line_max, int64_t now_us,
		     struct event *ev, struct arena *a, char *err, size_t errlen)
{
	size_t n = d->raw_n;
	if (n > line_max) {
		char why[64];
		snprintf(why, sizeof(why), "line longer than %zu bytes", line_max);
		return fail(err, errlen, SIEM_ETOOBIG, why);
	}
	jsonalloc_begin();
	int rc = jsonl_line_to_event(d->raw, n, now_us, ev, a, err, errlen);
	jsonalloc_end();
	if (rc < 0)
		return rc;
	ev->source = (struct sv){"tail", 4};
	if (d->file) {
		size_t fn = strlen(d->file);
		if (fn > EV_CAP_SHORT) {
			fn = EV_CAP_SHORT;
			ev->flags |= EV_TRUNC_OTHER;
		}
		if (!(ev->source_file.p = arena_strndup(a, d->file, fn)))
			return fail(err, errlen, -ENOMEM, "out of memory");
		ev->source_file.n = fn;
	}
	if (d->offset >= 0) {
		ev->source_offset = d->offset;
		ev->flags |= EV_HAS_OFFSET;
	}
	return 0;
}

static int syslog_msg(const struct redecode_rec *d, int64_t now_us, struct event *ev,
		      struct arena *a, char *err, size_t errlen)
{
	struct logline_ctx ctx = {.source = d->source};
	int rc =
	    logline_to_event(FMT_SYSLOG, d->raw, d->raw_n, &ctx, now_us, ev, a, err, errlen, NULL);
	if (rc == 0 && !ev->source.p)
		ev->source = (struct sv){d->source, strlen(d->source)};
	return rc;
}

int redecode(const struct redecode_rec *d, const struct redecode_opts *o, int64_t now_us,
	     struct event *ev, struct arena *a, char *err, size_t errlen)
{
	int rc;
	memset(ev, 0, sizeof(*ev));
	if (err && errlen)
		err[0] = '\0';
	if (strcmp(d->source, "tail") == 0) {
		size_t max = o && o->tail_line_max ? o->tail_line_max : TAIL_DEFAULT_LINE_MAX;
		rc = tail_line(d, max, now_us, ev, a, err, errlen);
	} else if (strcmp(d->source, "syslog_udp") == 0 || strcmp(d->source, "syslog_tcp") == 0) {
		rc = syslog_msg(d, now_us, ev, a, err, errlen);
	} else {
		char why[160];
		snprintf(why, sizeof(why), "no decoder for records of source '%.100s'", d->source);
		return fail(err, errlen, SIEM_EPARSE, why);
	}
	if (rc < 0) {
		if (err && errlen && !err[0])
			snprintf(err, errlen, "%s", siem_strerror(rc));
		return rc;
	}
	if (ev->flags & EV_ID_GENERATED) {
		char head[40];
		int len = snprintf(head, sizeof(head), "dead-letter:%" PRId64 ":", d->id);
		char *name = malloc((size_t)len + d->raw_n);
		if (!name)
			return fail(err, errlen, -ENOMEM, "out of memory");
		memcpy(name, head, (size_t)len);
		memcpy(name + len, d->raw, d->raw_n);
		uuid_v5(name, (size_t)len + d->raw_n, ev->id);
		free(name);
	}
	return 0;
}
