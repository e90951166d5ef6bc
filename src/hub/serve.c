/* serve.c — `minisiem serve`: its options, and the hub's life: bind the ports, become the
 * service user, open the store, start the writer, detection, sources and HTTP server, wait
 * for signals (SIGHUP reloads the settings), stop in order. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <grp.h>
#include <pwd.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "api/alerts_api.h"
#include "api/api.h"
#include "api/tokens.h"
#include "auth/auth.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "core/taskpool.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/tz.h"
#include "detect/ruleset.h"
#include "detect/detect.h"
#include "http/http.h"
#include "hub/budget.h"
#include "hub/cmd.h"
#include "enrich/enrich.h"
#include "hub/api_role.h"
#include "hub/detect_role.h"
#include "hub/watch.h"
#include "hub/roles.h"
#include "hub/secrets.h"
#include "parse/decode.h"
#include "ingest/pipeline.h"
#include "store/store.h"
#include "source/syslog_listen.h"
#include "source/tail.h"

static const struct opt_def serve_opts[] = {
    {"config", "SIEM_CONFIG", OPT_STRING, NULL, "FILE",
     "config file of 'name = value' lines (names as flags or SIEM_* variables)", false, 0, 0},
    {"listen", "SIEM_LISTEN", OPT_STRING, "127.0.0.1:8080", "ADDR:PORT",
     "HTTP address (port 0 picks a free port)", false, 0, 0},
    {"db", "SIEM_DB_PATH", OPT_STRING, "var/minisiem.db", "PATH",
     "SQLite store file (with --postgres: where the hub's local files go, PATH-*)", false, 0, 0},
    CMD_OPT_POSTGRES,
    ROLES_OPTS,
    {"max-body", "SIEM_MAX_BODY", OPT_SIZE, "8m", "BYTES",
     "largest POST /ingest body, also after gunzip (other routes take a few KiB)", false, 1024,
     1LL << 30},
    BUDGET_OPT,
    {"queue-max", "SIEM_QUEUE_MAX", OPT_INT, "20000", "EVENTS",
     "events waiting for the writer before ingest answers 503 (scaled by the budget)", false, 1,
     100000000},
    {"txn-max", "SIEM_TXN_MAX", OPT_INT, "50000", "EVENTS",
     "most events committed in one transaction", false, 1, 10000000},
    {"segment-rows", "SIEM_SEGMENT_ROWS", OPT_INT, "500000", "N",
     "events per store segment (then it is sealed and indexed; scaled by the budget)", false, 1000,
     1000000000},
    {"cache-mb", "SIEM_CACHE_MB", OPT_INT, "16", "MB", "writer page cache (scaled by the budget)",
     false, 1, 65536},
    {"http-threads", "SIEM_HTTP_THREADS", OPT_INT, "2", "N", "HTTP listener threads", false, 1, 64},
    {"parse-threads", "SIEM_PARSE_THREADS", OPT_INT, "0", "N",
     "threads that parse request bodies (0: one per CPU)", false, 0, 64},
    {"max-conns", "SIEM_MAX_CONNS", OPT_INT, "1024", "N", "concurrent connections", false, 1,
     100000},
    {"conn-timeout", "SIEM_CONN_TIMEOUT", OPT_DURATION, "60s", "DURATION",
     "idle connection timeout", false, 1, 86400},
    {"max-conns-per-ip", "SIEM_MAX_CONNS_PER_IP", OPT_INT, "64", "N",
     "concurrent connections from one address (0: no limit; raise it behind a reverse"
     " proxy)",
     false, 0, 100000},
    {"header-timeout", "SIEM_HEADER_TIMEOUT", OPT_DURATION, "10s", "DURATION",
     "time for a request's headers to arrive (and for a kept-alive connection's next"
     " request)",
     false, 1, 3600},
    {"request-timeout", "SIEM_REQUEST_TIMEOUT", OPT_DURATION, "60s", "DURATION",
     "time for a request's body to arrive", false, 1, 86400},
    {"body-budget", "SIEM_BODY_BUDGET", OPT_SIZE, "16m", "BYTES",
     "request bodies held in memory at once, all clients together (then 503; scaled by the"
     " budget)",
     false, 64 * 1024, 1LL << 40},
    {"jwt-ttl", "SIEM_JWT_TTL", OPT_DURATION, "7d", "DURATION", "login token lifetime", false, 60,
     366LL * 86400},
    {"trusted-proxies", "SIEM_TRUSTED_PROXIES", OPT_STRING, "", "CIDR[,CIDR...]",
     "reverse proxies whose X-Forwarded-For names the client (rate limits, audit, events)", false,
     0, 0},
    {"login-max-failures", "SIEM_LOGIN_MAX_FAILURES", OPT_INT, "5", "N",
     "failed logins per client address a minute, and per user name before its backoff", false, 1,
     1000},
    {"login-backoff-max", "SIEM_LOGIN_BACKOFF_MAX", OPT_DURATION, "60s", "DURATION",
     "longest wait of a user name past its failed logins (the wait doubles from 2 s)", false, 2,
     86400},
    {"apikey-max-failures", "SIEM_APIKEY_MAX_FAILURES", OPT_INT, "20", "N",
     "wrong API keys per client address a minute before it gets 429", false, 1, 100000},
    {"max-password-checks", "SIEM_MAX_PASSWORD_CHECKS", OPT_INT, "2", "N",
     "logins verified at once (64 MiB each); more get 503", false, 1, 64},
    {"cors-origins", "SIEM_CORS_ORIGINS", OPT_STRING, "", "ORIGINS",
     "comma-separated origins allowed by CORS", false, 0, 0},
    {"log-level", "SIEM_LOG_LEVEL", OPT_STRING, "info", "LEVEL", "error, warn, info or debug",
     false, 0, 0},
    {"retention-days", "SIEM_RETENTION_DAYS", OPT_INT, "30", "DAYS",
     "events older than this are removed, a whole segment at a time (0 keeps all)", false, 0,
     36500},
    {"retention-interval", "SIEM_RETENTION_INTERVAL", OPT_DURATION, "60s", "DURATION",
     "how often retention looks for expired segments", false, 1, 86400},
    {"root-path", "SIEM_ROOT_PATH", OPT_STRING, "", "PREFIX",
     "the path prefix a reverse proxy serves the hub under (it may keep or strip it)", false, 0, 0},
    {"tls-cert", "SIEM_TLS_CERT", OPT_STRING, "", "FILE", "PEM certificate (chain): serve HTTPS",
     false, 0, 0},
    {"tls-key", "SIEM_TLS_KEY", OPT_STRING, "", "FILE", "PEM private key of --tls-cert", false, 0,
     0},
    {"syslog-udp", "SIEM_SYSLOG_UDP", OPT_STRING, "", "ADDR:PORT",
     "receive syslog over UDP (port 0 picks a free port)", false, 0, 0},
    {"syslog-tcp", "SIEM_SYSLOG_TCP", OPT_STRING, "", "ADDR:PORT",
     "receive syslog over TCP, octet-counted or newline-framed (port 0 picks a free port)", false,
     0, 0},
    {"syslog-max-msg", "SIEM_SYSLOG_MAX_MSG", OPT_SIZE, "64k", "BYTES",
     "longer syslog messages are stored truncated and flagged", false, 480, 16 << 20},
    {"syslog-rcvbuf", "SIEM_SYSLOG_RCVBUF", OPT_SIZE, "8m", "BYTES",
     "UDP receive buffer (as much as the kernel grants)", false, 4096, 1 << 30},
    {"syslog-timezone", "SIEM_SYSLOG_TIMEZONE", OPT_STRING, "UTC", "ZONES",
     "zone of syslog times written without one: ZONE[,SENDER=ZONE...], SENDER an address or host "
     "name",
     false, 0, 0},
    {"user", "SIEM_USER", OPT_STRING, "", "NAME",
     "when started as root: run as this user once ports are bound", false, 0, 0},
    {"tail-dir", "SIEM_LOG_DIR", OPT_STRING, "", "DIR",
     "follow every *.jsonl and *.csv file under DIR, recursively (read-only)", false, 0, 0},
    {"tail-line-max", "SIEM_TAIL_LINE_MAX", OPT_SIZE, "1m", "BYTES",
     "longer lines of tailed files are dead letters (replayable once it is raised)", false, 128,
     64 << 20},
    {"geoip-db", "SIEM_GEOIP_DB", OPT_STRING, "", "FILE",
     "MaxMind GeoIP2/GeoLite2 City or Country database: geo of public source addresses"
     " (reloaded when the file changes and on SIGHUP)",
     false, 0, 0},
    {"asn-db", "SIEM_ASN_DB", OPT_STRING, "", "FILE",
     "MaxMind GeoLite2 ASN (or GeoIP2 ISP) database: geo.asn and geo.as_org", false, 0, 0},
    {"intel-dir", "SIEM_INTEL_DIR", OPT_STRING, "", "DIR",
     "threat-intel lists (IP/CIDR/domain per line, or CSV): events that match get the tag"
     " intel:<list> (reloaded when a file changes)",
     false, 0, 0},
    {"intel-min-confidence", "SIEM_INTEL_MIN_CONFIDENCE", OPT_INT, "0", "N",
     "CSV indicators with a confidence column below N (0..100) are left out", false, 0, 100},
    {"rdns", "SIEM_RDNS", OPT_FLAG, NULL, NULL,
     "reverse DNS of public source addresses, in the background (the name fills later events)",
     false, 0, 0},
    {"rdns-servers", "SIEM_RDNS_SERVERS", OPT_STRING, "", "ADDR[:PORT],...",
     "DNS servers for --rdns (default: the system's)", false, 0, 0},
    {"rdns-ttl", "SIEM_RDNS_TTL", OPT_DURATION, "5m", "DURATION",
     "how long a reverse DNS answer (or failure) is kept", false, 1, 7 * 86400},
    {"enrich-check-interval", "SIEM_ENRICH_CHECK_INTERVAL", OPT_DURATION, "5s", "DURATION",
     "how often the GeoIP databases and intel lists are checked for a change", false, 1, 3600},
    {"rules-dir", "SIEM_RULES_DIR", OPT_STRING, "", "DIR",
     "built-in Sigma rules (*.yml), read again on SIGHUP (default: the rules/ shipped with"
     " the binary)",
     false, 0, 0},
    {"decoders-dir", "SIEM_DECODERS_DIR", OPT_STRING, "", "DIR",
     "decoder files (*.yml, see docs/parsing.md) tried before the built-in decoders, read"
     " again on SIGHUP (a broken file keeps the decoders in force)",
     false, 0, 0},
    {"sigma-placeholders", "SIEM_SIGMA_PLACEHOLDERS", OPT_STRING, "", "FILE",
     "values of the placeholders of Sigma's 'expand' modifier (YAML: name: [values])", false, 0, 0},
    {"alert-cooldown", "SIEM_ALERT_COOLDOWN", OPT_DURATION, "10m", "DURATION",
     "one alert per rule and group within this time; repeats are counted on it", false, 0,
     30LL * 86400},
    {"notify-config", "SIEM_NOTIFY_CONFIG", OPT_STRING, "", "FILE",
     "notification channels (email, webhook, Slack): see docs/alerting.md", false, 0, 0},
    {"backfill-after", "SIEM_BACKFILL_AFTER", OPT_DURATION, "1h", "DURATION",
     "an alert whose events arrived this long after they happened is imported history:"
     " marked backfill and not notified (unless a channel asks)",
     false, 60, 3650LL * 86400},
    {"public-url", "SIEM_PUBLIC_URL", OPT_STRING, "", "URL",
     "the dashboard's address as users reach it (https://siem.example): links in"
     " notifications",
     false, 0, 0},
    {NULL, "SIEM_ADMIN_PASSWORD_HASH", OPT_STRING, NULL, NULL,
     "admin password hash (argon2id or bcrypt) from 'minisiem hash-password'", true, 0, 0},
    {NULL, "SIEM_JWT_SECRET", OPT_STRING, NULL, NULL,
     "token signing secret, 32 bytes or more (default: generated once into the file"
     " DB-jwt-secret beside the store, mode 0600)",
     true, 0, 0},
    {NULL, "SIEM_API_KEYS", OPT_STRING, NULL, NULL,
     "agent keys as NAME:KEY,NAME:KEY (in addition to 'minisiem keys')", true, 0, 0},
    ROLES_SECRET_OPTS,
};
#define N_SERVE_OPTS (sizeof(serve_opts) / sizeof(serve_opts[0]))

/* Settings SIGHUP can change, read by the writer thread's upkeep. */
static _Atomic int64_t retention_days;
static struct metric m_ret_segments = METRIC_COUNTER_INIT(
    "minisiem_retention_segments_removed_total", NULL, "Segments removed by retention.");
static struct metric m_ret_events = METRIC_COUNTER_INIT("minisiem_retention_events_removed_total",
							NULL, "Events removed by retention.");

static struct detector *upkeep_detector;

static void upkeep(void *arg)
{
	struct store *s = arg;
	int64_t days = atomic_load(&retention_days);
	int64_t segs = 0, evs = 0;
	/* Correlation windows survive a crash up to the last save. */
	if (upkeep_detector)
		detector_save(upkeep_detector);
	/* Hand back the memory that bursts of large batches left free in the heaps. */
	malloc_trim(0);
	if (days <= 0)
		return;
	if (store_retain(s, ts_now_us() - days * 86400LL * 1000000, &segs, &evs) == 0) {
		metric_add(&m_ret_segments, segs);
		metric_add(&m_ret_events, evs);
	}
}

static struct metric m_dec_reloads = METRIC_COUNTER_INIT("minisiem_decoders_reloads_total", NULL,
							 "decoder sets loaded again on SIGHUP");
static struct metric m_dec_reload_errors =
    METRIC_COUNTER_INIT("minisiem_decoders_reload_errors_total", NULL,
			"SIGHUP reloads of the decoders refused (a broken file): the old set kept");

/* The decoders of dir (or only the built-in ones) in place of those in force; lines being
 * decoded finish with the old set. A broken file keeps the old set. */
static void reload_decoders(const char *dir)
{
	char err[512];
	if (decode_load(dir, err, sizeof(err)) < 0) {
		metric_add(&m_dec_reload_errors, 1);
		log_error("hub", "decoders not reloaded, the running ones kept: %s", err);
		return;
	}
	metric_add(&m_dec_reloads, 1);
	if (dir && *dir)
		log_info("hub", "decoders reloaded from '%s'", dir);
}

/* SIGHUP: read flags, environment and the config file again; apply what can change live
 * (log level, CORS origins, retention, SIEM_API_KEYS). Invalid new settings are refused and
 * the running ones kept. */
static void reload(int argc, char **argv, struct api *a, struct http_server *srv, struct enrich *e)
{
	struct config c;
	const char *pos[1];
	size_t npos = 0;
	enum log_level lvl;
	if (config_init(&c, serve_opts, N_SERVE_OPTS) < 0)
		return;
	if (config_parse(&c, argc, argv, pos, 0, &npos) < 0) {
		log_error("hub", "reload refused, settings kept: %s", c.err);
		goto out;
	}
	if (log_parse_level(config_str(&c, "log-level"), &lvl) < 0) {
		log_error("hub", "reload refused, settings kept: invalid log level '%s'",
			  config_str(&c, "log-level"));
		goto out;
	}
	if (api_load_env_keys(a, config_str(&c, "SIEM_API_KEYS")) < 0) {
		log_error("hub", "reload refused for SIEM_API_KEYS, old keys kept");
		goto out;
	}
	const char *hash = config_str(&c, "SIEM_ADMIN_PASSWORD_HASH");
	const char *secret = config_str(&c, "SIEM_JWT_SECRET");
	if (secrets_admin_hash(a, a->store, hash, false) < 0 ||
	    secrets_jwt_key(a, a->store, config_str(&c, "db"), secret) < 0) {
		log_error("hub", "reload refused for the admin password hash or the token secret");
		goto out;
	}
	log_set_level(lvl);
	reload_decoders(config_str(&c, "decoders-dir"));
	ruleset_reload_dir(alerts_api_ctx.rules);
	enrich_reload(e);
	http_set_cors(srv, config_str(&c, "cors-origins"));
	atomic_store(&retention_days, config_int(&c, "retention-days"));
	store_audit(a->store, "sighup", NULL, "settings.reload", NULL, NULL);
	log_info("hub", "settings reloaded (log level %s, retention %lld days)",
		 config_str(&c, "log-level"), (long long)atomic_load(&retention_days));
out:
	config_release(&c);
}

struct detect_hook {
	struct detector *det;
	struct alerts *alerts;
};

/* The pipeline's detect thread, after each commit: detection, then alerting, then the live tails of
 * GET /events/stream (none blocks). */
static void on_committed(void *ctx, const struct event *ev)
{
	struct detect_hook *h = ctx;
	detector_eval(h->det, ev, alerts_sink, h->alerts);
	events_stream_publish(ev);
}

/* The built-in rules: the flag, else rules/ beside the installed binary
 * (PREFIX/share/minisiem/rules), else the source tree's (build/rel/minisiem -> rules/), else
 * ./rules. */
static const char *find_rules_dir(const char *flag, char *buf, size_t len)
{
	if (flag && *flag)
		return flag;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		const char *rel[] = {"/../share/minisiem/rules", "/../../rules"};
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			struct stat st;
			if (snprintf(buf, len, "%s%s", exe, rel[i]) < (int)len &&
			    stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
				return buf;
		}
	}
	return "rules";
}

/* Give what is at name (in the folder dfd) to pw's user, if it is what the hub put there: a
 * regular file with no other name, or with dir, a folder. A symbolic link is not followed
 * and a hard link not touched, so that nothing planted in the store hands another file to
 * the service account. */
static void give(int dfd, const char *name, const char *shown, bool dir, const struct passwd *pw)
{
	struct stat st;
	const char *why = NULL;
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("hub", "cannot give '%s' to %s: %s", shown, pw->pw_name,
				 strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (S_ISLNK(st.st_mode))
		why = "a symbolic link";
	else if (dir && !S_ISDIR(st.st_mode))
		why = "not a folder";
	else if (!dir && !S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (!dir && st.st_nlink > 1)
		why = "a file with other names (hard links)";
	if (why)
		log_warn("hub", "not giving '%s' to %s: %s", shown, pw->pw_name, why);
	else if ((st.st_uid != pw->pw_uid || st.st_gid != pw->pw_gid) &&
		 fchownat(fd, "", pw->pw_uid, pw->pw_gid, AT_EMPTY_PATH) < 0)
		log_warn("hub", "cannot give '%s' to %s: %s", shown, pw->pw_name, strerror(errno));
	close(fd);
}

/* Started as root: give the store to the user, then become it. Ports are bound already.
 * made: from mkdir_parent, the folders of the store's path the hub created (only those are
 * given; a folder that was there stays as it is). */
static int drop_privileges(const char *user, const char *db, size_t made)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		log_error("hub", "no user '%s'", user);
		return -EINVAL;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s", db);
	char *slash = strrchr(path, '/');
	if (slash && made) {
		*slash = '\0';
		for (size_t i = made;; i++) {
			if (path[i] && path[i] != '/')
				continue;
			char c = path[i];
			path[i] = '\0';
			give(AT_FDCWD, path, path, true, pw);
			if (!c)
				break;
			path[i] = c;
		}
	}
	const char *suffixes[] = {"", "-wal", "-shm", "-jwt-secret", "-detect.state"};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		give(AT_FDCWD, path, path, false, pw);
	}
	/* The segments folder is the hub's own: it and the files in it. */
	snprintf(path, sizeof(path), "%s-segments", db);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 && errno == ELOOP)
		log_warn("hub", "not giving '%s' to %s: a symbolic link", path, user);
	else if (dfd < 0 && errno != ENOENT)
		log_warn("hub", "cannot give '%s' to %s: %s", path, user, strerror(errno));
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (dfd >= 0 && !d) {
		log_warn("hub", "cannot read '%s': %s", path, strerror(errno));
		close(dfd);
	}
	if (d) {
		give(dirfd(d), ".", path, true, pw);
		struct dirent *de;
		while ((de = readdir(d))) {
			char f[4500];
			if (de->d_name[0] == '.')
				continue;
			snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
			give(dirfd(d), de->d_name, f, false, pw);
		}
		closedir(d);
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_error("hub", "cannot become '%s': %s", user, strerror(errno));
		return -errno;
	}
	if (setuid(0) == 0) {
		log_error("hub", "privileges were not dropped");
		return -EPERM;
	}
	log_info("hub", "running as %s", user);
	snprintf(path, sizeof(path), "%s", db);
	slash = strrchr(path, '/');
	if (slash)
		*slash = '\0';
	const char *dir = !slash ? "." : slash == path ? "/" : path;
	if (access(dir, W_OK | X_OK) < 0)
		log_warn("hub",
			 "%s cannot write in '%s' (%s): the store needs it; the hub gives away "
			 "only the folders it creates",
			 user, dir, strerror(errno));
	return 0;
}

/* "minisiem: syslog udp on ADDR:PORT", the address as given and the port as bound. */
static void print_syslog(const char *proto, const char *spec, unsigned port)
{
	const char *colon = strrchr(spec, ':');
	int hn = colon ? (int)(colon - spec) : 0;
	printf("minisiem: syslog %s on %.*s:%u\n", proto, hn ? hn : 7, hn ? spec : "0.0.0.0", port);
}

/* --trusted-proxies, checked before anything starts (the HTTP server keeps the ranges). */
static int check_proxies(const char *list)
{
	uint8_t lo[16], hi[16];
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p), a = 0, b = n;
		while (a < b && p[a] == ' ')
			a++;
		while (b > a && p[b - 1] == ' ')
			b--;
		if (b > a && cidr_parse(p + a, b - a, lo, hi) < 0) {
			fprintf(stderr,
				"minisiem serve: invalid --trusted-proxies entry '%.*s' (want"
				" CIDR[,CIDR...])\n",
				(int)(b - a), p + a);
			return -EINVAL;
		}
		p += n + (e ? 1 : 0);
	}
	return 0;
}

/* The running hub: what cmd_serve starts, in this order, and stops. */
struct hub {
	int argc; /* serve's arguments, read again on SIGHUP */
	char **argv;
	struct config c;
	sigset_t sigs;
	int fd; /* the bound HTTP socket, until http_start owns it */
	struct syslog_config scfg;
	struct syslog_listener *sl;
	struct tz_map *zones; /* --syslog-timezone */
	size_t made;	      /* the folders of the store's path the hub created */
	struct store *s;
	struct api a;
	struct pipeline *p;
	struct detector *det;
	struct alerts *alerts;
	struct ruleset *rules;
	struct detect_hook hook;
	struct tailer *tl;
	struct enrich *enrich;
	struct http_config hc;
	struct http_auth_ops ops;
	struct http_server *srv;
	struct roles roles;	  /* broker mode */
	struct pipeline *store_p; /* the store role's writer (broker mode) */
	struct detect_role *dr;	  /* the detect role (broker mode) */
	struct api_role *ar;	  /* the api role (broker mode) */
	struct watch *rules_w;	  /* rules changed by other nodes (broker mode) */
	char state_path[4200], rules_buf[4200];
};

static void serve_usage(void)
{
	printf("usage: minisiem serve [OPTIONS]\n\nRun the hub. Flags override SIEM_*"
	       " environment variables, which override the config file.\n"
	       "SIGTERM or SIGINT stops it cleanly; SIGHUP reloads log level, CORS origins,"
	       " retention, SIEM_API_KEYS, the admin password hash, the token secret and the\n"
	       "decoders.\n\n"
	       "options:\n");
	config_usage(serve_opts, N_SERVE_OPTS, stdout);
}

/* Flags, environment and config file into h->c, checked. 0, or the exit status. */
static int serve_config(struct hub *h, int argc, char **argv)
{
	const char *pos[1];
	size_t npos = 0;
	if (config_init(&h->c, serve_opts, N_SERVE_OPTS) < 0)
		return 1;
	if (config_parse(&h->c, argc, argv, pos, 0, &npos) < 0) {
		fprintf(stderr, "minisiem serve: %s\n", h->c.err);
		config_release(&h->c);
		return EXIT_USAGE;
	}
	enum log_level lvl;
	if (log_parse_level(config_str(&h->c, "log-level"), &lvl) < 0) {
		fprintf(stderr, "minisiem serve: invalid log level '%s'\n",
			config_str(&h->c, "log-level"));
		config_release(&h->c);
		return EXIT_USAGE;
	}
	if (check_proxies(config_str(&h->c, "trusted-proxies")) < 0) {
		config_release(&h->c);
		return EXIT_USAGE;
	}
	int code = roles_config(&h->roles, &h->c);
	if (code != 0) {
		roles_release(&h->roles);
		config_release(&h->c);
		return code;
	}
	const char *pub = config_str(&h->c, "public-url");
	if (pub && *pub && strncmp(pub, "https://", 8) && strncmp(pub, "http://", 7)) {
		fprintf(stderr,
			"minisiem serve: --public-url must be an http:// or https:// URL\n");
		config_release(&h->c);
		return EXIT_USAGE;
	}
	char derr[512];
	const char *ddir = config_str(&h->c, "decoders-dir");
	if (decode_load(ddir, derr, sizeof(derr)) < 0) {
		fprintf(stderr, "minisiem serve: decoders: %s\n", derr);
		config_release(&h->c);
		return 1;
	}
	log_set_level(lvl);
	atomic_store(&retention_days, config_int(&h->c, "retention-days"));
	metric_register(&m_ret_segments);
	metric_register(&m_ret_events);
	metric_register(&m_dec_reloads);
	metric_register(&m_dec_reload_errors);
	h->argc = argc;
	h->argv = argv;
	return 0;
}

/* Signals go to the main thread only: block them before any thread starts. */
static void block_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The HTTP and syslog ports, bound while the hub may still be root (ports below 1024). */
static int bind_ports(struct hub *h)
{
	int rc;
	if ((rc = http_bind(config_str(&h->c, "listen"), &h->fd)) < 0)
		return rc;
	h->scfg = (struct syslog_config){
	    .udp = config_str(&h->c, "syslog-udp"),
	    .tcp = config_str(&h->c, "syslog-tcp"),
	    .max_msg = (size_t)config_int(&h->c, "syslog-max-msg"),
	    .rcvbuf = (int)config_int(&h->c, "syslog-rcvbuf"),
	};
	char err[256];
	if ((rc = tz_map_parse(config_str(&h->c, "syslog-timezone"), &h->zones, err, sizeof(err))) <
	    0) {
		log_error("hub", "--syslog-timezone: %s", err);
		return rc;
	}
	h->scfg.zones = h->zones;
	if ((*h->scfg.udp || *h->scfg.tcp) && (rc = syslog_listen_bind(&h->sl, &h->scfg)) < 0)
		return rc;
	return 0;
}

/* The store's folders, made by whoever started the hub; then, started as root with --user,
 * those folders and the store go to that user and the hub becomes it. */
static int become_user(struct hub *h)
{
	const char *db = config_str(&h->c, "db"), *user = config_str(&h->c, "user");
	int rc;
	if ((rc = cmd_mkdir_parent(db, &h->made)) < 0) {
		log_error("hub", "cannot create the directory of '%s': %s", db, strerror(-rc));
		return rc;
	}
	if (geteuid() == 0 && *user) {
		if ((rc = drop_privileges(user, db, h->made)) < 0)
			return rc;
	} else if (geteuid() == 0) {
		log_warn("hub", "running as root: use --user NAME to drop privileges");
	}
	return 0;
}

/* The store, and the API's settings: keys, secrets, limits. */
static int serve_open(struct hub *h)
{
	const struct config *c = &h->c;
	const char *db = config_str(c, "db");
	int rc;
	struct cmd_store_tuning tune = {.retention_days = (int)config_int(c, "retention-days")};
	budget_store_tuning(c, &tune);
	budget_apply(c);
	if ((rc = cmd_open_store(db, config_str(c, "postgres"), &h->s, &tune, false)) < 0)
		return rc;
	api_init(&h->a, h->s, NULL);
	h->a.version = SIEM_VERSION;
	h->a.jwt_ttl_s = config_int(c, "jwt-ttl");
	struct api_limits lim = {
	    .login_max_failures = (int)config_int(c, "login-max-failures"),
	    .login_backoff_max_s = config_int(c, "login-backoff-max"),
	    .apikey_max_failures = (int)config_int(c, "apikey-max-failures"),
	    .max_password_checks = (int)config_int(c, "max-password-checks"),
	};
	/* Settings first: a first-run password must not be printed by a start that fails. */
	if ((rc = api_load_env_keys(&h->a, config_str(c, "SIEM_API_KEYS"))) < 0 ||
	    (rc = tokens_open(&h->a.tokens, h->s)) < 0 ||
	    (rc = secrets_jwt_key(&h->a, h->s, db, config_str(c, "SIEM_JWT_SECRET"))) < 0 ||
	    (rc = secrets_admin_hash(&h->a, h->s, config_str(c, "SIEM_ADMIN_PASSWORD_HASH"),
				     true)) < 0 ||
	    (rc = api_set_limits(&h->a, &lim)) < 0)
		return rc;
	return 0;
}

/* Broker mode, the store role: the live tail on what it commits (detection is the detect
 * role's). */
static void on_stored(void *ctx, const struct event *ev)
{
	(void)ctx;
	events_stream_publish(ev);
}

/* Broker mode: a rule changed through another node's API (and, after a lost connection to
 * PostgreSQL, whatever changed meanwhile). */
static void reload_rules(void *ctx)
{
	ruleset_reload(ctx);
}

/* Broker mode: the receivers' pipeline publishes (ingest) and a second one commits what the
 * broker delivers (store); on a node without the ingest role the broker feeds the hub's own
 * pipeline, its one store writer, and POST /ingest answers 503. */
static int start_roles(struct hub *h)
{
	int rc;
	if (roles_has(&h->roles, ROLE_INGEST) && (rc = roles_start_ingest(&h->roles, h->p)) < 0) {
		log_error("hub", "cannot start the ingest role: %s", siem_strerror(rc));
		return rc;
	}
	if (roles_has(&h->roles, ROLE_STORE)) {
		/* Without the ingest role the hub's pipeline is free to be the store writer. */
		struct pipeline *into = roles_has(&h->roles, ROLE_INGEST) ? NULL : h->p;
		if ((rc = roles_start_store(&h->roles, h->s, &h->c, into, &h->store_p)) < 0) {
			log_error("hub", "cannot start the store role: %s", siem_strerror(rc));
			return rc;
		}
		pipeline_set_committed_hook(h->store_p, on_stored, NULL);
	}
	h->a.broker_pub = h->roles.pub;
	h->a.broker_store = h->roles.consumer;
	if (!roles_has(&h->roles, ROLE_INGEST))
		h->a.ingest_off = true;
	if (roles_has(&h->roles, ROLE_DETECT) &&
	    (rc = detect_role_start(&h->dr, &h->roles.bc, h->s, h->det, h->alerts)) < 0) {
		log_error("hub", "cannot start the detect role: %s", siem_strerror(rc));
		return rc;
	}
	if (h->dr)
		h->a.broker_detect = detect_role_link(h->dr);
	if (roles_has(&h->roles, ROLE_API) && (rc = api_role_start(&h->ar, h->s, h->alerts)) < 0) {
		log_error("hub", "cannot start the api role: %s", siem_strerror(rc));
		return rc;
	}
	/* Every node: its rules API and its detector (the active one runs it) follow a change
	 * made through any node's API. */
	if ((rc = watch_start(&h->rules_w, h->s, RULES_CHANNEL, reload_rules, h->rules)) < 0) {
		log_error("hub", "cannot watch the rules: %s", siem_strerror(rc));
		return rc;
	}
	return 0;
}

/* The writer, then detection and alerting on what it commits. */
static int start_writer(struct hub *h)
{
	const struct config *c = &h->c;
	int rc;
	if ((rc = pipeline_start(&h->p, h->s, (size_t)budget_int(c, "queue-max"),
				 (size_t)config_int(c, "txn-max"))) < 0) {
		log_error("hub", "cannot start the writer: %s", siem_strerror(rc));
		return rc;
	}
	h->a.pipeline = h->p;
	struct enrich_config ec = {
	    .geoip_db = config_str(c, "geoip-db"),
	    .asn_db = config_str(c, "asn-db"),
	    .intel_dir = config_str(c, "intel-dir"),
	    .intel_min_confidence = (int)config_int(c, "intel-min-confidence"),
	    .rdns = config_flag(c, "rdns"),
	    .rdns_servers = config_str(c, "rdns-servers"),
	    .rdns_ttl_s = (int)config_int(c, "rdns-ttl"),
	    .reload_check_ms = (int)config_int(c, "enrich-check-interval") * 1000,
	};
	if ((rc = enrich_open(&h->enrich, &ec)) < 0) {
		log_error("hub", "cannot start enrichment: %s", siem_strerror(rc));
		return rc;
	}
	pipeline_set_enrich(h->p, h->enrich);
	h->a.enrich = h->enrich;
	snprintf(h->state_path, sizeof(h->state_path), "%s-detect.state", config_str(c, "db"));
	/* Broker mode keeps the window state in PostgreSQL (the detect role), not in a file. */
	struct detector_config dc = {.state_path = h->roles.broker ? NULL : h->state_path,
				     .max_groups = 100000};
	struct alerts_config ac = {.cooldown_s = config_int(c, "alert-cooldown"),
				   .channels_file = config_str(c, "notify-config"),
				   .backfill_after_s = config_int(c, "backfill-after"),
				   .public_url = config_str(c, "public-url")};
	const char *rules_dir =
	    find_rules_dir(config_str(c, "rules-dir"), h->rules_buf, sizeof(h->rules_buf));
	const char *ph = config_str(c, "sigma-placeholders");
	char pherr[600];
	if (ph && *ph && (rc = sigma_placeholders_load(ph, pherr, sizeof(pherr))) < 0) {
		log_error("hub", "sigma placeholders: %s", pherr);
		return rc;
	}
	if ((rc = detector_open(&h->det, &dc)) < 0 ||
	    (rc = alerts_open(&h->alerts, h->s, &ac)) < 0 ||
	    (rc = ruleset_open(&h->rules, h->s, h->det, rules_dir)) < 0) {
		log_error("hub", "cannot start detection: %s", siem_strerror(rc));
		return rc;
	}
	alerts_api_ctx.alerts = h->alerts;
	alerts_api_ctx.rules = h->rules;
	alerts_api_ctx.detector = h->det;
	h->hook.det = h->det;
	h->hook.alerts = h->alerts;
	upkeep_detector = h->det;
	if (!h->roles.broker) {
		pipeline_set_committed_hook(h->p, on_committed, &h->hook);
		return 0;
	}
	return start_roles(h);
}

/* The receivers that feed the writer besides HTTP: syslog and the tailed folder. */
static int start_sources(struct hub *h)
{
	int rc;
	if (h->sl && (rc = syslog_listen_run(h->sl, h->p)) < 0)
		return rc;
	if (*config_str(&h->c, "tail-dir")) {
		struct tail_config tc = {.dir = config_str(&h->c, "tail-dir"),
					 .line_max = (size_t)config_int(&h->c, "tail-line-max")};
		if ((rc = tailer_start(&h->tl, &tc, h->s, h->p)) < 0)
			return rc;
	}
	return 0;
}

/* The threads behind the API (body parsers, rule tests), then the HTTP server. */
static int start_http(struct hub *h)
{
	const struct config *c = &h->c;
	int rc;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned nparse = (unsigned)config_int(c, "parse-threads");
	if (nparse == 0)
		nparse = ncpu > 0 ? (unsigned)ncpu : 2;
	if ((rc = taskpool_start(&h->a.parsers, nparse, 4096)) < 0) {
		log_error("hub", "cannot start the parser threads: %s", siem_strerror(rc));
		return rc;
	}
	if ((rc = ruletest_pool_start(&alerts_api_ctx.tests, h->s, 0)) < 0) {
		log_error("hub", "cannot start the rule test threads: %s", siem_strerror(rc));
		return rc;
	}
	h->a.config = &h->c;
	h->a.tail_dir = config_str(c, "tail-dir");
	h->a.redecode.tail_line_max = (size_t)config_int(c, "tail-line-max");
	api_ctx = &h->a;
	api_set_sources(&h->a, h->tl, h->sl);

	h->hc = (struct http_config){
	    .listen = config_str(c, "listen"),
	    .listen_fd = h->fd,
	    .tls_cert = config_str(c, "tls-cert"),
	    .tls_key = config_str(c, "tls-key"),
	    .root_path = config_str(c, "root-path"),
	    .max_body = (size_t)config_int(c, "max-body"),
	    .threads = (unsigned)config_int(c, "http-threads"),
	    .max_conns = (unsigned)config_int(c, "max-conns"),
	    .max_conns_per_ip = (unsigned)config_int(c, "max-conns-per-ip"),
	    .conn_timeout = (unsigned)config_int(c, "conn-timeout"),
	    .header_timeout = (unsigned)config_int(c, "header-timeout"),
	    .request_timeout = (unsigned)config_int(c, "request-timeout"),
	    .body_budget = (size_t)budget_int(c, "body-budget"),
	    .cors_origins = config_str(c, "cors-origins"),
	    .trusted_proxies = config_str(c, "trusted-proxies"),
	};
	h->ops = api_auth_ops;
	h->ops.ctx = &h->a;
	h->fd = -1; /* http_start owns it now, also on failure */
	if ((rc = http_start(&h->srv, &h->hc, api_routes, api_nroutes, &h->ops)) < 0)
		return rc;
	return 0;
}

/* Everything runs: the writer, detection, the sources, the API and its server. */
static int serve_start(struct hub *h)
{
	int rc;
	if ((rc = start_writer(h)) < 0 || (rc = start_sources(h)) < 0)
		return rc;
	/* Upkeep (retention) runs where the store is written: in broker mode, the store role. */
	struct pipeline *writer = h->roles.broker ? h->store_p : h->p;
	if (writer)
		pipeline_set_maintenance(writer, upkeep, h->s,
					 (int)config_int(&h->c, "retention-interval") * 1000);
	return start_http(h);
}

/* Where the hub listens, on stdout (scripts and tests read it), and "ready" in the log. */
static void announce(struct hub *h)
{
	char host[128];
	snprintf(host, sizeof(host), "%s", h->hc.listen);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	if (!host[0] || strcmp(host, "0.0.0.0") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	const char *root = config_str(&h->c, "root-path");
	printf("minisiem: listening on http%s://%s:%u%s/\n", *h->hc.tls_cert ? "s" : "", host,
	       http_port(h->srv), strcmp(root, "/") == 0 ? "" : root);
	printf("minisiem: dashboard at http%s://%s:%u%s/\n", *h->hc.tls_cert ? "s" : "", host,
	       http_port(h->srv), strcmp(root, "/") == 0 ? "" : root);
	if (syslog_listen_udp_port(h->sl))
		print_syslog("udp", h->scfg.udp, syslog_listen_udp_port(h->sl));
	if (syslog_listen_tcp_port(h->sl))
		print_syslog("tcp", h->scfg.tcp, syslog_listen_tcp_port(h->sl));
	fflush(stdout);
	log_info("hub", "minisiem %s ready, store '%s'", SIEM_VERSION,
		 cmd_store_name(config_str(&h->c, "db"), config_str(&h->c, "postgres")));
}

/* Until SIGTERM or SIGINT; SIGHUP reloads the settings. */
static void wait_for_signals(struct hub *h)
{
	for (;;) {
		int sig = 0;
		if (sigwait(&h->sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(h->argc, h->argv, &h->a, h->srv, h->enrich);
			continue;
		}
		log_info("hub", "signal %d: stopping", sig);
		break;
	}
}

/* Requests received whole are always answered (30 s at most); uploads still arriving get
 * 5 s to finish, so that a stalled or vanished client cannot hold up the stop. */
static void drain(struct hub *h)
{
	http_quiesce(h->srv);
	http_streams_end();			  /* SSE clients: a stream never ends by itself */
	ruletest_pool_stop(alerts_api_ctx.tests); /* rule tests answer what they have found */
	for (int i = 0; i < 3000; i++) {
		if (http_inflight(h->srv) == 0 && (http_uploading(h->srv) == 0 || i >= 500))
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* Whatever started, stopped in order: the sources before the writer (their last batches
 * are committed), the detection the writer and the server used after both. */
static void serve_stop(struct hub *h)
{
	if (h->fd >= 0)
		close(h->fd);
	if (h->a.store)
		api_set_sources(&h->a, NULL, NULL); /* /ready stops looking at them */
	syslog_listen_stop(h->sl); /* before the pipeline: its last batches are committed */
	tz_map_free(h->zones);
	h->zones = NULL;
	tailer_stop(h->tl);
	taskpool_stop(h->a.parsers);
	h->a.broker_pub = NULL; /* requests are drained: /ready no longer looks */
	h->a.broker_store = NULL;
	h->a.broker_detect = NULL;
	detect_role_stop(h->dr); /* before detection and alerting close */
	h->dr = NULL;
	api_role_stop(h->ar);
	h->ar = NULL;
	watch_stop(h->rules_w);
	h->rules_w = NULL;
	roles_stop(&h->roles); /* the store role's consumer, then its writer */
	h->store_p = NULL;
	pipeline_stop(h->p);
	roles_release(&h->roles); /* the publisher, once the pipeline that used it stopped */
	http_stop(h->srv);
	enrich_close(h->enrich); /* after the server: a request may still be enriching */
	ruletest_pool_free(alerts_api_ctx.tests);
	alerts_api_ctx.tests = NULL;
	upkeep_detector = NULL;
	alerts_api_ctx.detector = NULL;
	ruleset_close(h->rules); /* after the writer and the server: nothing uses them now */
	alerts_close(h->alerts);
	detector_close(h->det);
	if (h->a.store) {
		api_keys_flush(&h->a); /* the server and the writer are done: every count is in */
		api_release(&h->a);
	}
	store_close(h->s);
	config_release(&h->c);
	decode_release();
}

int cmd_serve(int argc, char **argv)
{
	struct hub h;
	int rc, code;
	if (cmd_wants_help(argc, argv)) {
		serve_usage();
		return 0;
	}
	memset(&h, 0, sizeof(h));
	h.fd = -1;
	if ((code = serve_config(&h, argc, argv)) != 0)
		return code;
	block_signals(&h.sigs);
	if ((rc = bind_ports(&h)) == 0 && (rc = become_user(&h)) == 0 &&
	    (rc = serve_open(&h)) == 0 && (rc = serve_start(&h)) == 0) {
		announce(&h);
		wait_for_signals(&h);
		drain(&h);
	}
	if (rc < 0)
		log_error("hub", "cannot start: %s", siem_strerror(rc));
	serve_stop(&h);
	if (rc == 0)
		log_info("hub", "stopped");
	return rc < 0 ? 1 : 0;
}
