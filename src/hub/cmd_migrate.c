/* cmd_migrate.c — `minisiem migrate`: an embedded (SQLite) store copied into PostgreSQL
 * (store_migrate, src/store/migrate.c), with a progress display, Ctrl-C that stops after the
 * batch at hand, and a summary. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "hub/cmd.h"
#include "store/store.h"

#define REDRAW_US 250000      /* progress on a terminal: redrawn 4 times a second */
#define LINE_EVERY_US 5000000 /* elsewhere (a log, a pipe): a line every 5 s */

static const struct opt_def migrate_opts[] = {
    {"from", "SIEM_DB_PATH", OPT_STRING, "var/minisiem.db", "PATH",
     "the SQLite store to copy (its main database file, read only)", false, 0, 0},
    {"to", "SIEM_POSTGRES_URL", OPT_URL, NULL, "URL",
     "the PostgreSQL database to fill, new and empty (libpq URL or connection string; "
     "password from PGPASSFILE or PGPASSWORD)",
     false, 0, 0},
    {"batch", NULL, OPT_INT, "5000", "N", "events per transaction", false, 1, 100000},
    {"sample", NULL, OPT_INT, "200", "N", "events compared one by one at the end", false, 0,
     1000000},
    {"max-rate", NULL, OPT_INT, "0", "N",
     "copy at most N events per second, to spare a busy server (0: no limit)", false, 0, 100000000},
};
#define N_OPTS (sizeof(migrate_opts) / sizeof(migrate_opts[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"usage: minisiem migrate --from PATH --to URL [--batch N] [--sample N] "
		"[--max-rate N]\n\n"
		"Copies an embedded (SQLite) store into a PostgreSQL database: events, alerts,\n"
		"rules, users, API keys, logged-out tokens, audit log, settings, dashboards, file\n"
		"offsets and dead letters, with their ids. Stop the hub first: the store is read\n"
		"from its files as they are (read only, never changed).\n\n"
		"Progress is kept in the destination: after an interruption (Ctrl-C, a kill, a\n"
		"lost connection) run the same command again and it carries on where it stopped;\n"
		"nothing is copied twice. At the end the copy is checked: events and rows counted\n"
		"on both sides, and --sample events compared one by one. Exit status 0 when all\n"
		"agree, 1 on a difference or a failure (the message says which).\n\n"
		"PostgreSQL text cannot hold a NUL or bytes that are not UTF-8: such characters\n"
		"are stored as U+FFFD, as a hub on PostgreSQL stores them.\n\n"
		"Then run the hub on the copy with the same --db (the login token key and the\n"
		"detection state stay in files beside it, PATH-jwt-secret and PATH-detect.state):\n"
		"  minisiem serve --postgres URL --db PATH\n\n"
		"--to must not hold a password (the command line is visible to every user): use\n"
		"PGPASSWORD, PGPASSFILE, or SIEM_POSTGRES_URL in the environment.\n\n"
		"options:\n");
	config_usage(migrate_opts, N_OPTS, out);
}

/* Ctrl-C or SIGTERM: stop after the batch at hand (a second one ends the process). */
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct display {
	bool tty, open_line;
	const char *phase;
	int64_t t0_us, last_us, first_run_events;
};

/* n with thousands separators. */
static const char *num(int64_t n, char *buf, size_t len)
{
	char digits[32];
	int nd = snprintf(digits, sizeof(digits), "%" PRId64, n < 0 ? -n : n);
	size_t k = 0;
	if (n < 0 && k + 1 < len)
		buf[k++] = '-';
	for (int i = 0; i < nd && k + 2 < len; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = digits[i];
	}
	buf[k] = '\0';
	return buf;
}

static void end_line(struct display *d)
{
	if (d->open_line)
		fputc('\n', stderr);
	d->open_line = false;
}

/* What each phase of store_migrate is called on the screen. */
static const char *const phase_names[][2] = {
    {"state", "copying users, keys, alerts, rules, settings"},
    {"events", "copying events"},
    {"dead letters", "copying dead letters and file offsets"},
    {"verify", "checking the copy"},
};

static void show(void *arg, const struct store_migrate_progress *p)
{
	struct display *d = arg;
	int64_t now = clock_mono_us();
	if (!d->phase || strcmp(d->phase, p->phase) != 0) {
		const char *name = p->phase;
		for (size_t i = 0; i < sizeof(phase_names) / sizeof(phase_names[0]); i++)
			if (!strcmp(p->phase, phase_names[i][0]))
				name = phase_names[i][1];
		end_line(d);
		d->phase = p->phase;
		fprintf(stderr, "minisiem migrate: %s\n", name);
		d->t0_us = d->last_us = now;
		d->first_run_events = p->run_events;
		return;
	}
	if (strcmp(p->phase, "events") != 0 ||
	    now - d->last_us < (d->tty ? REDRAW_US : LINE_EVERY_US))
		return;
	d->last_us = now;
	double secs = (double)(now - d->t0_us) / 1e6;
	double rate = secs > 0 ? (double)(p->run_events - d->first_run_events) / secs : 0;
	int64_t left = p->events_total - p->events_done,
		eta = rate > 0 ? (int64_t)(left / rate) : -1;
	char a[32], b[32], c[32], e[32] = "?";
	if (eta >= 0)
		snprintf(e, sizeof(e), "%" PRId64 ":%02d:%02d", eta / 3600, (int)(eta / 60 % 60),
			 (int)(eta % 60));
	double pct =
	    p->events_total ? 100.0 * (double)p->events_done / (double)p->events_total : 100;
	fprintf(stderr,
		"%sevents %s / %s (%.1f%%)  %s events/s  ETA %s  segment %" PRId64 "/%" PRId64 "%s",
		d->tty ? "\r  " : "minisiem migrate: ", num(p->events_done, a, sizeof(a)),
		num(p->events_total, b, sizeof(b)), pct, num((int64_t)rate, c, sizeof(c)), e,
		p->segment, p->segments, d->tty ? "\033[K" : "\n");
	fflush(stderr);
	d->open_line = d->tty;
}

static void summary(const char *from, const struct store_migrate_result *r, double secs)
{
	char a[32], b[32], c[32];
	printf("migrated '%s' to PostgreSQL in %.1f s\n", from, secs);
	printf("  events        %s in %" PRId64 " segments (%s copied by this run, %s there "
	       "already)\n",
	       num(r->events_dest, a, sizeof(a)), r->segments, num(r->copied, b, sizeof(b)),
	       num(r->present, c, sizeof(c)));
	printf("  hub state     %s rows (users, keys, alerts, rules, dashboards, audit log, "
	       "settings, tokens)\n",
	       num(r->state_rows, a, sizeof(a)));
	printf("  dead letters  %s copied by this run\n", num(r->dead_letters, a, sizeof(a)));
	printf("  check         counts agree (%s events on both sides); %d sampled events "
	       "identical\n",
	       num(r->events_source, a, sizeof(a)), r->sampled);
}

int cmd_migrate(int argc, char **argv)
{
	struct config c;
	const char *pos[1];
	size_t npos = 0;
	int code = cmd_help_or_bad_option("migrate", argc, argv, usage);
	if (code >= 0)
		return code;
	if (config_init(&c, migrate_opts, N_OPTS) < 0)
		return 1;
	if (config_parse(&c, argc, argv, pos, 1, &npos) < 0 || npos > 0) {
		fprintf(stderr, "minisiem migrate: %s\n",
			npos ? "unexpected argument (see --help)" : c.err);
		config_release(&c);
		return EXIT_USAGE;
	}
	const char *from = config_str(&c, "from"), *to = config_str(&c, "to");
	if (!to || !*to) {
		fprintf(stderr, "minisiem migrate: expected --to URL (or SIEM_POSTGRES_URL)\n");
		config_release(&c);
		return EXIT_USAGE;
	}
	log_set_level(LOG_LVL_WARN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct display d = {.tty = isatty(STDERR_FILENO) == 1};
	struct store_migrate_opts o = {
	    .from = from,
	    .to = to,
	    .batch = (int)config_int(&c, "batch"),
	    .sample = (int)config_int(&c, "sample"),
	    .max_rate = config_int(&c, "max-rate"),
	    .stop = &stop_flag,
	    .progress = show,
	    .arg = &d,
	};
	struct store_migrate_result r;
	int64_t t0 = clock_mono_us();
	int rc = store_migrate(&o, &r);
	end_line(&d);
	if (rc == 0)
		summary(from, &r, (double)(clock_mono_us() - t0) / 1e6);
	else if (rc == -EINTR)
		fprintf(stderr, "minisiem migrate: %s; run the same command again to continue\n",
			r.msg);
	else if (rc == -EBADMSG)
		fprintf(stderr, "minisiem migrate: the check found a difference: %s\n", r.msg);
	else
		fprintf(stderr, "minisiem migrate: %s\n", r.msg);
	config_release(&c);
	return rc == 0 ? 0 : 1;
}
