/* logtest.c — `minisiem logtest`: reads raw log lines and prints one normalized event per
 * line as NDJSON (or an error object), through logline_to_event like the hub. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "core/tz.h"
#include "hub/cmd.h"
#include "hub/logtest.h"
#include "parse/audit_asm.h"
#include "parse/csv.h"
#include "parse/decode.h"
#include "parse/logline.h"

#define EXIT_FAILED 1
#define LINE_MAX_BYTES (1024 * 1024)
#define READ_CHUNK (64 * 1024)

static const struct opt_def logtest_opts[] = {
    {"format", NULL, OPT_STRING, "auto", "FORMAT",
     "auto, syslog, auth, jsonl, csv or winxml (auto: '{' starts jsonl, '<Event' winxml, else "
     "syslog)",
     false, 0, 0},
    {"explain", NULL, OPT_FLAG, NULL, NULL,
     "add \"_explain\" to each event: the decoder, its file, the pattern and the fields it set",
     false, 0, 0},
    {"decoders", NULL, OPT_STRING, "", "DIR",
     "decoder files (*.yml) tried before the built-in ones, as serve --decoders-dir", false, 0, 0},
    {"syslog-timezone", NULL, OPT_STRING, "UTC", "ZONES",
     "zone of times written without one, as the hub's option: ZONE[,SENDER=ZONE...]", false, 0, 0},
};
#define N_OPTS (sizeof(logtest_opts) / sizeof(logtest_opts[0]))

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: minisiem logtest [--format auto|syslog|auth|jsonl|csv|winxml] [--explain]\n"
	    "                        [--syslog-timezone ZONES] [--decoders DIR] [FILE|-]\n\n"
	    "Read raw log lines from FILE (standard input when FILE is '-' or absent) and print\n"
	    "one normalized event per line as NDJSON, parsed as the hub parses them.\n\n"
	    "options:\n");
	config_usage(logtest_opts, N_OPTS, out);
	fprintf(
	    out,
	    "  --help, -h                   print this help\n\n"
	    "A line that cannot be parsed prints {\"error\": \"...\", \"line\": N} instead, so\n"
	    "output line N always belongs to input line N. Lines longer than 1 MiB are cut\n"
	    "and the event lists \"raw_message\" under \"truncated\".\n"
	    "With --format csv the first line is the header (it prints nothing) and a record\n"
	    "whose quoted field holds line breaks prints once, \"line\" its first line.\n"
	    "With --explain, \"_explain\" is {\"decoder\": NAME|null, \"pattern\": NAME|null,\n"
	    "\"file\": FILE|null, \"fields\": \"user=... source_ip=...\"}; FILE is\n"
	    "\"builtin:NAME.yml\" for a built-in decoder.\n\n"
	    "exit status: 0 every line parsed, 1 some line did not parse or FILE could not be\n"
	    "read, 2 usage error\n");
}

struct reader {
	FILE *f;
	char *buf;
	size_t pos, len;
	bool eof;
};

/* Next line into line[0..*n) without its '\n', at most max bytes (the rest of a longer
 * line is skipped and *cut set). Returns 1, 0 at the end, or -EIO. */
static int read_line(struct reader *r, char *line, size_t max, size_t *n, bool *cut)
{
	bool any = false;
	*n = 0;
	*cut = false;
	for (;;) {
		if (r->pos == r->len) {
			if (r->eof)
				return any;
			r->len = fread(r->buf, 1, READ_CHUNK, r->f);
			r->pos = 0;
			if (r->len == 0) {
				if (ferror(r->f))
					return -EIO;
				r->eof = true;
				return any;
			}
		}
		any = true;
		const char *s = r->buf + r->pos;
		size_t avail = r->len - r->pos;
		const char *nl = memchr(s, '\n', avail);
		size_t take = nl ? (size_t)(nl - s) : avail, room = max - *n;
		size_t c = take < room ? take : room;
		memcpy(line + *n, s, c);
		*n += c;
		if (c < take)
			*cut = true;
		r->pos += take + (nl ? 1 : 0);
		if (nl)
			return 1;
	}
}

static json_t *explain_json(const struct decode_explain *ex)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "decoder", ex->decoder ? json_string(ex->decoder) : json_null());
	json_object_set_new(o, "pattern", ex->pattern ? json_string(ex->pattern) : json_null());
	json_object_set_new(o, "file", ex->file ? json_string(ex->file) : json_null());
	json_t *f = json_string(ex->fields);
	json_object_set_new(o, "fields", f ? f : json_string(""));
	return o;
}

static json_t *error_json(const char *err, unsigned long lineno)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_t *e = json_string(err && *err ? err : "unparsable line");
	json_object_set_new(o, "error", e ? e : json_string("unparsable line"));
	json_object_set_new(o, "line", json_integer((json_int_t)lineno));
	return o;
}

/* Each object is serialized into one buffer, kept between lines, and written with one
 * fwrite: jansson's json_dumpf writes token by token, which cost more than decoding. */
static struct {
	char *p;
	size_t cap;
} out_buf;

static int print_json(json_t *o)
{
	if (!o)
		return -ENOMEM;
	size_t n = json_dumpb(o, out_buf.p, out_buf.cap, JSON_COMPACT);
	if (n >= out_buf.cap) {
		size_t cap = n + 1 > 4096 ? n + 1 : 4096;
		char *p = realloc(out_buf.p, cap);
		if (!p) {
			json_decref(o);
			return -ENOMEM;
		}
		out_buf.p = p;
		out_buf.cap = cap;
		n = json_dumpb(o, out_buf.p, out_buf.cap, JSON_COMPACT);
	}
	json_decref(o);
	if (n == 0 || n >= out_buf.cap)
		return -EIO;
	out_buf.p[n++] = '\n';
	return fwrite(out_buf.p, 1, n, stdout) == n ? 0 : -EIO;
}

/* --format csv: the header, then one event (or error) per record. */
struct csv_run {
	struct csv_header *hdr;
	char *rec; /* a record whose quoted field is still open */
	size_t rec_n;
	unsigned long rec_line;
};

/* Line lineno of a CSV file into *o (NULL: nothing to print yet). */
static int csv_step(struct csv_run *cr, const char *line, size_t n, unsigned long lineno,
		    struct arena *a, json_t **o)
{
	char err[256];
	int rc;
	*o = NULL;
	while (n && line[n - 1] == '\r')
		n--;
	if (!cr->hdr) {
		if ((rc = csv_header_parse(line, n, &cr->hdr, err, sizeof(err))) == -ENOMEM)
			return rc;
		if (rc < 0)
			*o = error_json(err, lineno);
		return rc < 0 ? 1 : 0;
	}
	if (!cr->rec && n == 0)
		return 0;
	if (cr->rec) {
		if (cr->rec_n + 1 + n > CSV_ROW_MAX) {
			free(cr->rec);
			cr->rec = NULL;
			snprintf(err, sizeof(err), "row longer than %d bytes", CSV_ROW_MAX);
			*o = error_json(err, cr->rec_line);
			return 1;
		}
		cr->rec[cr->rec_n++] = '\n';
		memcpy(cr->rec + cr->rec_n, line, n);
		cr->rec_n += n;
		line = cr->rec;
		n = cr->rec_n;
	} else {
		cr->rec_line = lineno;
	}
	json_t *obj = NULL;
	struct event ev;
	int64_t now = ts_now_us();
	rc = csv_row_parse(cr->hdr, line, n, &obj, err, sizeof(err));
	if (rc == CSV_MORE) {
		if (!cr->rec) {
			if (n > CSV_ROW_MAX || !(cr->rec = malloc(CSV_ROW_MAX + 1)))
				return n > CSV_ROW_MAX
					   ? (*o = error_json("row too long", lineno), 1)
					   : -ENOMEM;
			memcpy(cr->rec, line, n);
			cr->rec_n = n;
		}
		return 0;
	}
	if (rc == -ENOMEM)
		return rc;
	if (rc == 0 && (rc = event_from_json(&ev, obj, a, now, err, sizeof(err))) == 0) {
		ev.received_at = now;
		if (!ev.raw_message.p)
			sv_capped(a, &ev.raw_message, line, n, EV_CAP_RAW, EV_TRUNC_RAW, &ev.flags);
		ev.source = (struct sv){"logtest", 7};
		*o = event_to_json(&ev, true);
	}
	json_decref(obj);
	free(cr->rec);
	cr->rec = NULL;
	if (rc || !*o) {
		*o = error_json(rc ? err : "event cannot be written as JSON", cr->rec_line);
		return 1;
	}
	return 0;
}

struct lt_run {
	enum log_format fmt;
	bool explain;
	const struct logline_ctx *ctx;
	struct arena *a;
	bool *any_failed;
};

/* One line (or the records of one audit event) into its event or error, printed. */
static int print_line(struct lt_run *t, const char *line, size_t n, unsigned long lineno, bool cut)
{
	char err[256];
	struct event ev;
	struct decode_explain ex;
	json_t *o;
	int64_t now = ts_now_us();
	int prc = logline_to_event(t->fmt, line, n, t->ctx, now, &ev, t->a, err, sizeof(err),
				   t->explain ? &ex : NULL);
	ev.received_at = now; /* as the hub would stamp it */
	if (prc) {
		*t->any_failed = true;
		if (cut) {
			char tmp[300];
			int k = snprintf(tmp, sizeof(tmp), "line longer than %d bytes: %.200s",
					 LINE_MAX_BYTES, err);
			memcpy(err, tmp, k > 0 && (size_t)k < sizeof(err) ? (size_t)k + 1 : 1);
			err[sizeof(err) - 1] = '\0';
		}
		o = error_json(err, lineno);
	} else {
		if (cut)
			ev.flags |= EV_TRUNC_RAW;
		o = event_to_json(&ev, true);
		if (!o) {
			*t->any_failed = true;
			o = error_json("event cannot be written as JSON", lineno);
		} else if (t->explain) {
			json_object_set_new(o, "_explain", explain_json(&ex));
		}
	}
	return print_json(o);
}

/* An audit event put together: printed as its first record's line. */
static int asm_out(void *ctx, const char *text, size_t n, const void *tag)
{
	unsigned long lineno;
	memcpy(&lineno, tag, sizeof(lineno));
	return print_line(ctx, text, n, lineno, false);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run(FILE *in, enum log_format fmt, bool csv, bool explain, const struct tz_map *zones,
	       bool *any_failed)
{
	struct csv_run cr = {.hdr = NULL};
	struct arena a;
	struct reader r = {in, malloc(READ_CHUNK), 0, 0, false};
	char *line = malloc(LINE_MAX_BYTES);
	const struct logline_ctx ctx = {.source = "logtest", .zones = zones};
	struct lt_run t = {fmt, explain, &ctx, &a, any_failed};
	/* the records of one Linux audit event, as the hub's sources put them together */
	struct audit_asm *am = fmt == FMT_SYSLOG || fmt == FMT_AUTO || fmt == FMT_AUTH
				   ? audit_asm_new(sizeof(unsigned long), 0)
				   : NULL;
	unsigned long lineno = 0;
	int rc = 0;

	arena_init(&a, 0);
	if (!r.buf || !line || (!am && !csv && fmt != FMT_JSONL && fmt != FMT_WINXML)) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		size_t n;
		bool cut;

		if ((rc = read_line(&r, line, LINE_MAX_BYTES, &n, &cut)) <= 0)
			break;
		lineno++;
		arena_reset(&a);
		if (csv) {
			json_t *o;
			int step = csv_step(&cr, line, n, lineno, &a, &o);
			if (step < 0) {
				rc = step;
				break;
			}
			if (step > 0)
				*any_failed = true;
			if (o && (rc = print_json(o)))
				break;
			continue;
		}
		if (am && !cut) {
			int took = audit_asm_feed(am, line, n, &lineno, mono_ms(), asm_out, &t);
			if (took < 0) {
				rc = took;
				break;
			}
			if (took)
				continue;
		}
		if ((rc = print_line(&t, line, n, lineno, cut)))
			break;
	}
	if (!rc && am) { /* the input ended: every event still open */
		arena_reset(&a);
		rc = audit_asm_expire(am, INT64_MAX, asm_out, &t);
	}
	if (!rc && cr.rec) {
		*any_failed = true;
		rc = print_json(error_json("unterminated quoted field", cr.rec_line));
	}
	if (!rc && fflush(stdout))
		rc = -EIO;
out:
	audit_asm_free(am);
	csv_header_free(cr.hdr);
	free(cr.rec);
	arena_release(&a);
	free(r.buf);
	free(line);
	return rc;
}

int cmd_logtest(int argc, char **argv)
{
	struct config c;
	const char *pos[2];
	size_t npos = 0;
	enum log_format fmt;
	FILE *in = stdin;
	struct tz_map *zones = NULL;
	bool failed = false;
	int status = 0, rc;

	if ((status = cmd_help_or_bad_option("logtest", argc, argv, usage)) >= 0)
		return status;
	status = 0;
	if (config_init(&c, logtest_opts, N_OPTS) < 0)
		return EXIT_FAILED;
	if (config_parse(&c, argc, argv, pos, 1, &npos) < 0) {
		fprintf(stderr, "minisiem logtest: %s\n", c.err);
		usage(stderr);
		status = EXIT_USAGE;
		goto out;
	}
	bool csv = !strcmp(config_str(&c, "format"), "csv");
	fmt = FMT_AUTO;
	if (!csv && log_format_parse(config_str(&c, "format"), &fmt) < 0) {
		fprintf(stderr,
			"minisiem logtest: unknown format '%s' (auto, syslog, auth, jsonl, csv, "
			"winxml)\n",
			config_str(&c, "format"));
		status = EXIT_USAGE;
		goto out;
	}
	if (npos && strcmp(pos[0], "-") != 0 && !(in = fopen(pos[0], "rb"))) {
		fprintf(stderr, "minisiem logtest: cannot open '%s': %s\n", pos[0],
			strerror(errno));
		status = EXIT_FAILED;
		goto out;
	}
	char derr[512];
	if ((rc = decode_load(config_str(&c, "decoders"), derr, sizeof(derr))) < 0) {
		fprintf(stderr, "minisiem logtest: decoders: %s\n", derr);
		status = EXIT_FAILED;
		goto out;
	}
	char zerr[256];
	if (tz_map_parse(config_str(&c, "syslog-timezone"), &zones, zerr, sizeof(zerr)) < 0) {
		fprintf(stderr, "minisiem logtest: --syslog-timezone: %s\n", zerr);
		status = EXIT_USAGE;
		goto out;
	}
	if ((rc = run(in, fmt, csv, config_flag(&c, "explain"), zones, &failed)) < 0) {
		fprintf(stderr, "minisiem logtest: %s\n", siem_strerror(rc));
		status = EXIT_FAILED;
	} else if (failed) {
		status = EXIT_FAILED;
	}
	decode_release();
out:
	free(out_buf.p);
	out_buf.p = NULL;
	out_buf.cap = 0;
	if (in && in != stdin)
		fclose(in);
	tz_map_free(zones);
	config_release(&c);
	return status;
}
