/* main.c — minisiem-agent's command line: one option table for flags, SIEM_AGENT_*
 * variables, the config file and --help; several --source; signals; the exit code. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/main_int.h"
#include "agent/plat.h"
#include "agent/servers.h"
#include "core/config.h"
#include "core/log.h"
#ifndef _WIN32
#include "parse/decode.h"
#endif

#ifdef _WIN32
#define DEFAULT_STATE_DIR "C:\\ProgramData\\minisiem-agent"
#define DEFAULT_SOURCE "wineventlog"
#else
#define DEFAULT_STATE_DIR "/var/lib/minisiem-agent"
#define DEFAULT_SOURCE NULL
#endif

#define MAX_SOURCES 64
#define MAX_SERVER_FLAGS 64

static const struct opt_def agent_opts[] = {
    {"config", "SIEM_AGENT_CONFIG", OPT_STRING, NULL, "FILE",
     "config file of 'name = value' lines (names as flags or SIEM_AGENT_* variables)", false, 0, 0},
    {"server", "SIEM_AGENT_SERVER", OPT_STRING, NULL, "URL",
     "the hub, e.g. https://siem.lan:8080 (events go to URL/ingest); several for failover: "
     "repeat the flag or separate them by commas (also in the variable and the file)",
     false, 0, 0},
    {"failback", "SIEM_AGENT_FAILBACK", OPT_DURATION, "5m", "DURATION",
     "with several --server: after failing over, the first hub is tried again this long later",
     false, 1, 86400},
    {"api-key", "SIEM_AGENT_API_KEY", OPT_STRING, NULL, "KEY",
     "agent API key (prefer the variable or the config file: flags show in ps)", true, 0, 0},
    {"source", "SIEM_AGENT_SOURCE", OPT_STRING, DEFAULT_SOURCE, "SPEC",
     "what to read, repeatable (comma-separated in the variable and file): linux-auth[:PATH], "
     "auditd[:PATH], journald[:DIR], pihole[:DB], jsonl:DIR, evtx:FILE|DIR, "
     "wineventlog[:CHANNEL]",
     false, 0, 0},
    {"state-dir", "SIEM_AGENT_STATE_DIR", OPT_STRING, DEFAULT_STATE_DIR, "DIR",
     "positions, spool and metrics.prom", false, 0, 0},
    {"spool-max-mb", "SIEM_AGENT_SPOOL_MAX_MB", OPT_INT, "100", "N",
     "spool bound; when full the oldest batches are dropped (counted and logged)", false, 1,
     1048576},
    {"batch", "SIEM_AGENT_BATCH", OPT_INT, "500", "N", "events per request", false, 1, 10000},
    {"flush-ms", "SIEM_AGENT_FLUSH_MS", OPT_INT, "1000", "MS",
     "a batch is sent at the latest this long after its first event", false, 1, 600000},
    {"gzip", "SIEM_AGENT_GZIP", OPT_FLAG, NULL, NULL, "compress requests (Content-Encoding: gzip)",
     false, 0, 0},
    {"ca", "SIEM_AGENT_CA", OPT_STRING, NULL, "FILE",
     "PEM certificates to verify the hub with (default: the system's)", false, 0, 0},
    {"insecure", "SIEM_AGENT_INSECURE", OPT_FLAG, NULL, NULL,
     "do not verify the hub's TLS certificate", false, 0, 0},
    {"insecure-http", "SIEM_AGENT_INSECURE_HTTP", OPT_FLAG, NULL, NULL,
     "allow an http:// --server: the API key and the events then cross the network in clear "
     "text (refused without it)",
     false, 0, 0},
    {"once", "SIEM_AGENT_ONCE", OPT_FLAG, NULL, NULL,
     "read what is there, deliver it, exit: 0 when the hub acknowledged every batch, else 1", false,
     0, 0},
    {"dry-run", "SIEM_AGENT_DRY_RUN", OPT_FLAG, NULL, NULL,
     "print the normalized events (NDJSON) instead of sending them; saves no position", false, 0,
     0},
    {"host", "SIEM_AGENT_HOST", OPT_STRING, NULL, "NAME",
     "source_host when a record names none (default: this machine's name)", false, 0, 0},
    {"heartbeat", "SIEM_AGENT_HEARTBEAT", OPT_DURATION, "60s", "DURATION",
     "how often the counters are logged (and written to STATE-DIR/metrics.prom)", false, 1, 86400},
    {"poll-ms", "SIEM_AGENT_POLL_MS", OPT_INT, "250", "MS",
     "how often files and the journal are checked for new data", false, 10, 60000},
    {"pihole-interval", "SIEM_AGENT_PIHOLE_INTERVAL", OPT_DURATION, "60s", "DURATION",
     "how often the Pi-hole database is read", false, 1, 86400},
    {"pihole-all", "SIEM_AGENT_PIHOLE_ALL", OPT_FLAG, NULL, NULL,
     "send every DNS query (DNS_QUERY), not only the blocked ones", false, 0, 0},
    {"retry-max", "SIEM_AGENT_RETRY_MAX", OPT_DURATION, "60s", "DURATION",
     "longest wait between two attempts to reach the hub (the backoff doubles up to it)", false, 1,
     3600},
    {"timeout", "SIEM_AGENT_TIMEOUT", OPT_DURATION, "30s", "DURATION",
     "longest wait for the hub's answer to one request", false, 1, 3600},
    {"rotate-wait-ms", "SIEM_AGENT_ROTATE_WAIT_MS", OPT_INT, "1000", "MS",
     "a rotated log file is read this long after its last line before the new one", false, 0,
     600000},
#ifndef _WIN32
    {"decoders-dir", "SIEM_AGENT_DECODERS_DIR", OPT_STRING, "", "DIR",
     "decoder files (*.yml, as the hub's --decoders-dir) tried before the built-in decoders for "
     "the lines of linux-auth and journald sources, read again on SIGHUP (a broken file keeps "
     "the decoders in force)",
     false, 0, 0},
#endif
    {"log-level", "SIEM_AGENT_LOG_LEVEL", OPT_STRING, "info", "LEVEL", "error, warn, info or debug",
     false, 0, 0},
#ifdef _WIN32
    {"install-service", NULL, OPT_FLAG, NULL, NULL,
     "install as the Windows service 'minisiem-agent' with the other options given, and exit",
     false, 0, 0},
    {"uninstall-service", NULL, OPT_FLAG, NULL, NULL, "remove the Windows service, and exit", false,
     0, 0},
    {"service", NULL, OPT_FLAG, NULL, NULL, "(used by the service manager)", false, 0, 0},
#endif
    {"help", NULL, OPT_FLAG, NULL, NULL, "this help", false, 0, 0},
    {"version", NULL, OPT_FLAG, NULL, NULL, "print the version", false, 0, 0},
};
#define N_OPTS (sizeof(agent_opts) / sizeof(agent_opts[0]))

static volatile sig_atomic_t stop_flag;
#ifndef _WIN32
static volatile sig_atomic_t hup_flag;
#endif

void agent_request_stop(void)
{
	stop_flag = 1;
	plat_wake();
}

#ifndef _WIN32
static void on_signal(int sig)
{
	(void)sig;
	agent_request_stop();
}

static void on_hup(int sig)
{
	(void)sig;
	hup_flag = 1;
	plat_wake();
}

/* SIGHUP: the decoder files of --decoders-dir read again; a broken one keeps the set in
 * force. Lines already decoded keep their types. */
static void reload_decoders(struct agent *a)
{
	char err[512];
	(void)a;
	if (decode_reload(err, sizeof(err)) < 0)
		log_error("agent", "decoders not reloaded, the running ones kept: %s", err);
	else
		log_info("agent", "decoders reloaded");
}
#endif

static void usage(FILE *out)
{
	fprintf(out, "usage: minisiem-agent --server URL --source SPEC [--source SPEC ...] "
		     "[OPTIONS]\n\n"
		     "Reads security events on this machine and sends them to a minisiem hub.\n"
		     "The API key comes from SIEM_AGENT_API_KEY (or --api-key, or the config "
		     "file).\n\noptions:\n");
	config_usage(agent_opts, N_OPTS, out);
}

/* Every --NAME VALUE (and --NAME=VALUE) on the command line, in order: the options that
 * may be repeated (--source, --server). */
static size_t flag_values(int argc, char **argv, const char *name, const char **out, size_t max)
{
	size_t n = 0, len = strlen(name);
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (strncmp(argv[i], "--", 2) || strncmp(argv[i] + 2, name, len))
			continue;
		const char *rest = argv[i] + 2 + len;
		if (!*rest && i + 1 < argc) {
			if (n < max)
				out[n++] = argv[i + 1];
			i++;
		} else if (*rest == '=' && n < max) {
			out[n++] = rest + 1;
		}
	}
	return n;
}

/* The --server flags (each may hold several URLs, comma-separated), else the variable or
 * the config file's value. */
static int collect_servers(struct config *c, int argc, char **argv, struct server_list *l)
{
	const char *flags[MAX_SERVER_FLAGS];
	char err[300];
	size_t nf = flag_values(argc, argv, "server", flags, MAX_SERVER_FLAGS);
	for (size_t i = 0; i < nf; i++)
		if (servers_add(l, flags[i], err, sizeof(err)) < 0)
			goto fail;
	if (nf == 0 && servers_add(l, config_str(c, "server"), err, sizeof(err)) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "minisiem-agent: %s\n", err);
	return -EINVAL;
}

static int add_source(struct agent *a, const char *spec, size_t len)
{
	char buf[4200], err[300];
	while (len && (*spec == ' ' || *spec == '\t'))
		spec++, len--;
	while (len && (spec[len - 1] == ' ' || spec[len - 1] == '\t'))
		len--;
	if (!len)
		return 0;
	if (len >= sizeof(buf)) {
		fprintf(stderr, "minisiem-agent: source too long\n");
		return -EINVAL;
	}
	memcpy(buf, spec, len);
	buf[len] = '\0';
	struct source *v = realloc(a->src, (a->nsrc + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	a->src = v;
	if (source_init(&a->src[a->nsrc], buf, err, sizeof(err)) < 0) {
		fprintf(stderr, "minisiem-agent: %s\n", err);
		return -EINVAL;
	}
	a->nsrc++;
	return 0;
}

int agent_main(int argc, char **argv, int (*run)(struct agent *a))
{
	struct config c;
	struct agent a;
	struct server_list servers = {0};
	const char *pos[1], *flags[MAX_SOURCES];
	size_t npos = 0;
	int rc = 2;
	enum log_level lvl;

	if (config_init(&c, agent_opts, N_OPTS) < 0)
		return 1;
	if (config_parse(&c, argc - 1, argv + 1, pos, 0, &npos) < 0) {
		fprintf(stderr, "minisiem-agent: %s\n", c.err);
		fprintf(stderr, "try 'minisiem-agent --help'\n");
		config_release(&c);
		return 2;
	}
	if (config_flag(&c, "help")) {
		usage(stdout);
		config_release(&c);
		return 0;
	}
	if (config_flag(&c, "version")) {
		printf("minisiem-agent %s\n", SIEM_VERSION);
		config_release(&c);
		return 0;
	}
	if (log_parse_level(config_str(&c, "log-level"), &lvl) < 0) {
		fprintf(stderr, "minisiem-agent: invalid log level '%s'\n",
			config_str(&c, "log-level"));
		goto out_cfg;
	}
	log_set_level(lvl);

	struct agent_config ac = {
	    .servers = &servers,
	    .api_key = config_str(&c, "api-key"),
	    .ca_file = config_str(&c, "ca"),
	    .state_dir = config_str(&c, "state-dir"),
	    .host = config_str(&c, "host"),
	    .insecure = config_flag(&c, "insecure"),
	    .insecure_http = config_flag(&c, "insecure-http"),
	    .gzip = config_flag(&c, "gzip"),
	    .once = config_flag(&c, "once"),
	    .dry_run = config_flag(&c, "dry-run"),
	    .pihole_all = config_flag(&c, "pihole-all"),
	    .batch_max = (size_t)config_int(&c, "batch"),
	    .flush_ms = config_int(&c, "flush-ms"),
	    .spool_max = (uint64_t)config_int(&c, "spool-max-mb") << 20,
	    .heartbeat_ms = config_int(&c, "heartbeat") * 1000,
	    .poll_ms = config_int(&c, "poll-ms"),
	    .pihole_ms = config_int(&c, "pihole-interval") * 1000,
	    .retry_max_ms = config_int(&c, "retry-max") * 1000,
	    .timeout_s = config_int(&c, "timeout"),
	    .rotate_wait_ms = config_int(&c, "rotate-wait-ms"),
	    .failback_ms = config_int(&c, "failback") * 1000,
	};
	if (!ac.host || !*ac.host)
		ac.host = plat_hostname();
	if (!ac.dry_run) {
		if (collect_servers(&c, argc - 1, argv + 1, &servers) < 0)
			goto out_cfg;
		if (servers.n == 0) {
			fprintf(stderr,
				"minisiem-agent: --server URL is required (or --dry-run)\n");
			goto out_cfg;
		}
		if (!ac.api_key || !*ac.api_key || strpbrk(ac.api_key, "\r\n")) {
			fprintf(stderr,
				"minisiem-agent: an API key is required: SIEM_AGENT_API_KEY, "
				"--api-key or 'api-key = ...' in the config file\n");
			goto out_cfg;
		}
		bool plain = servers_any_plain(&servers);
		if (plain && !ac.insecure_http) {
			fprintf(stderr, "minisiem-agent: refusing an http:// --server: the API key "
					"and the events would cross the network in clear text; use "
					"https://, or --insecure-http (SIEM_AGENT_INSECURE_HTTP=1, "
					"'insecure-http = true' in the config file) to send them "
					"unencrypted anyway\n");
			goto out_cfg;
		}
		if (plain)
			log_warn("agent",
				 "--insecure-http: the API key and the events go to the hub "
				 "UNENCRYPTED (http://): anyone on the way can read them "
				 "and reuse the key");
		if (ac.insecure)
			log_warn("agent", "--insecure: the hub's TLS certificate is not verified");
	}
#ifndef _WIN32
	char derr[512];
	if (decode_load(config_str(&c, "decoders-dir"), derr, sizeof(derr)) < 0) {
		fprintf(stderr, "minisiem-agent: decoders: %s\n", derr);
		goto out_cfg;
	}
#endif
	agent_init(&a, &ac, &stop_flag);
	size_t nf = flag_values(argc - 1, argv + 1, "source", flags, MAX_SOURCES);
	for (size_t i = 0; i < nf; i++)
		if (add_source(&a, flags[i], strlen(flags[i])) < 0)
			goto out;
	if (nf == 0) {
		const char *list = config_str(&c, "source");
		for (const char *p = list; p && *p;) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			if (add_source(&a, p, len) < 0)
				goto out;
			p = comma ? comma + 1 : NULL;
		}
	}
	if (a.nsrc == 0) {
		fprintf(stderr, "minisiem-agent: no --source given\n");
		goto out;
	}
#ifndef _WIN32
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	struct sigaction hup = {0};
	hup.sa_handler = on_hup;
	sigaction(SIGHUP, &hup, NULL);
	a.reload_flag = &hup_flag;
	a.reload = reload_decoders;
	signal(SIGPIPE, SIG_IGN);
#endif
	rc = run ? run(&a) : agent_run(&a);
out:
	agent_release(&a);
out_cfg:
	servers_release(&servers);
#ifndef _WIN32
	decode_release();
#endif
	config_release(&c);
	return rc;
}

#ifndef _WIN32
int main(int argc, char **argv)
{
	return agent_main(argc, argv, NULL);
}
#endif
