/* main.c — the minisiem command: serve (the hub), hash-password, keys. */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <grp.h>
#include <pwd.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "api/alerts_api.h"
#include "api/api.h"
#include "auth/auth.h"
#include "core/config.h"
#include "core/err.h"
#include "core/jsonalloc.h"
#include "core/taskpool.h"
#include "core/log.h"
#include "core/metrics.h"
#include "detect/alerts.h"
#include "detect/detect.h"
#include "http/http.h"
#include "http/static.h"
#include "hub/logtest.h"
#include "hub/rulestest.h"
#include "hub/pipeline.h"
#include "store/store.h"
#include "source/syslog_listen.h"
#include "source/tail.h"

#ifndef SIEM_VERSION
#define SIEM_VERSION "dev"
#endif

#define EXIT_USAGE 2

static const struct opt_def serve_opts[] = {
	{ "config", "SIEM_CONFIG", OPT_STRING, NULL, "FILE",
	  "config file of 'name = value' lines (names as flags or SIEM_* variables)", false, 0, 0 },
	{ "listen", "SIEM_LISTEN", OPT_STRING, "127.0.0.1:8080", "ADDR:PORT",
	  "HTTP address (port 0 picks a free port)", false, 0, 0 },
	{ "db", "SIEM_DB_PATH", OPT_STRING, "var/minisiem.db", "PATH", "SQLite store file", false,
	  0, 0 },
	{ "max-body", "SIEM_MAX_BODY", OPT_SIZE, "8m", "BYTES",
	  "largest request body, also after gunzip", false, 1024, 1LL << 30 },
	{ "queue-max", "SIEM_QUEUE_MAX", OPT_INT, "200000", "EVENTS",
	  "events waiting for the writer before ingest answers 503", false, 1, 100000000 },
	{ "txn-max", "SIEM_TXN_MAX", OPT_INT, "50000", "EVENTS",
	  "most events committed in one transaction", false, 1, 10000000 },
	{ "segment-rows", "SIEM_SEGMENT_ROWS", OPT_INT, "500000", "N",
	  "events per store segment (then it is sealed and indexed)", false, 1000, 1000000000 },
	{ "cache-mb", "SIEM_CACHE_MB", OPT_INT, "16", "MB", "writer page cache", false, 1, 65536 },
	{ "http-threads", "SIEM_HTTP_THREADS", OPT_INT, "2", "N", "HTTP listener threads", false, 1,
	  64 },
	{ "parse-threads", "SIEM_PARSE_THREADS", OPT_INT, "0", "N",
	  "threads that parse request bodies (0: one per CPU)", false, 0, 64 },
	{ "max-conns", "SIEM_MAX_CONNS", OPT_INT, "1024", "N", "concurrent connections", false, 1,
	  100000 },
	{ "conn-timeout", "SIEM_CONN_TIMEOUT", OPT_DURATION, "60s", "DURATION",
	  "idle connection timeout", false, 1, 86400 },
	{ "jwt-ttl", "SIEM_JWT_TTL", OPT_DURATION, "7d", "DURATION", "login token lifetime", false,
	  60, 366LL * 86400 },
	{ "cors-origins", "SIEM_CORS_ORIGINS", OPT_STRING, "", "ORIGINS",
	  "comma-separated origins allowed by CORS", false, 0, 0 },
	{ "log-level", "SIEM_LOG_LEVEL", OPT_STRING, "info", "LEVEL", "error, warn, info or debug",
	  false, 0, 0 },
	{ "retention-days", "SIEM_RETENTION_DAYS", OPT_INT, "30", "DAYS",
	  "events older than this are removed, a whole segment at a time (0 keeps all)", false, 0,
	  36500 },
	{ "retention-interval", "SIEM_RETENTION_INTERVAL", OPT_DURATION, "60s", "DURATION",
	  "how often retention looks for expired segments", false, 1, 86400 },
	{ "root-path", "SIEM_ROOT_PATH", OPT_STRING, "", "PREFIX",
	  "serve everything under this path prefix (behind a reverse proxy)", false, 0, 0 },
	{ "tls-cert", "SIEM_TLS_CERT", OPT_STRING, "", "FILE", "PEM certificate (chain): serve HTTPS",
	  false, 0, 0 },
	{ "tls-key", "SIEM_TLS_KEY", OPT_STRING, "", "FILE", "PEM private key of --tls-cert", false,
	  0, 0 },
	{ "syslog-udp", "SIEM_SYSLOG_UDP", OPT_STRING, "", "ADDR:PORT",
	  "receive syslog over UDP (port 0 picks a free port)", false, 0, 0 },
	{ "syslog-tcp", "SIEM_SYSLOG_TCP", OPT_STRING, "", "ADDR:PORT",
	  "receive syslog over TCP, octet-counted or newline-framed (port 0 picks a free port)",
	  false, 0, 0 },
	{ "syslog-max-msg", "SIEM_SYSLOG_MAX_MSG", OPT_SIZE, "64k", "BYTES",
	  "longer syslog messages are stored truncated and flagged", false, 480, 16 << 20 },
	{ "syslog-rcvbuf", "SIEM_SYSLOG_RCVBUF", OPT_SIZE, "8m", "BYTES",
	  "UDP receive buffer (as much as the kernel grants)", false, 4096, 1 << 30 },
	{ "user", "SIEM_USER", OPT_STRING, "", "NAME",
	  "when started as root: run as this user once ports are bound", false, 0, 0 },
	{ "tail-dir", "SIEM_LOG_DIR", OPT_STRING, "", "DIR",
	  "follow every *.jsonl file under DIR, recursively (read-only)", false, 0, 0 },
	{ "rules-dir", "SIEM_RULES_DIR", OPT_STRING, "", "DIR",
	  "built-in Sigma rules (*.yml), read again on SIGHUP (default: the rules/ shipped with"
	  " the binary)", false, 0, 0 },
	{ "alert-cooldown", "SIEM_ALERT_COOLDOWN", OPT_DURATION, "10m", "DURATION",
	  "one alert per rule and group within this time; repeats are counted on it", false, 0,
	  30LL * 86400 },
	{ "notify-config", "SIEM_NOTIFY_CONFIG", OPT_STRING, "", "FILE",
	  "notification channels (email, webhook, Slack): see docs/alerting.md", false, 0, 0 },
	{ NULL, "SIEM_ADMIN_PASSWORD_HASH", OPT_STRING, NULL, NULL,
	  "admin password hash (argon2id or bcrypt) from 'minisiem hash-password'", true, 0, 0 },
	{ NULL, "SIEM_JWT_SECRET", OPT_STRING, NULL, NULL,
	  "token signing secret (default: generated once, kept in the store)", true, 0, 0 },
	{ NULL, "SIEM_API_KEYS", OPT_STRING, NULL, NULL,
	  "agent keys as NAME:KEY,NAME:KEY (in addition to 'minisiem keys')", true, 0, 0 },
};
#define N_SERVE_OPTS (sizeof(serve_opts) / sizeof(serve_opts[0]))

static const struct opt_def backup_opts[] = {
	{ "db", "SIEM_DB_PATH", OPT_STRING, "var/minisiem.db", "PATH", "SQLite store file", false,
	  0, 0 },
};

static const struct opt_def db_opts[] = {
	{ "db", "SIEM_DB_PATH", OPT_STRING, "var/minisiem.db", "PATH", "SQLite store file", false,
	  0, 0 },
};

static const struct opt_def user_opts[] = {
	{ "db", "SIEM_DB_PATH", OPT_STRING, "var/minisiem.db", "PATH", "SQLite store file", false,
	  0, 0 },
	{ "role", NULL, OPT_STRING, "analyst", "ROLE", "admin or analyst (users add)", false, 0, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: minisiem COMMAND [OPTIONS]\n\n"
		"commands:\n"
		"  serve                      run the hub (see 'minisiem serve --help')\n"
		"  hash-password              read a password, print a hash for SIEM_ADMIN_PASSWORD_HASH\n"
		"  keys create NAME           create an agent API key (printed once, stored hashed)\n"
		"  keys list                  list agent API keys\n"
		"  keys revoke ID             revoke an agent API key\n"
		"  users add NAME --role R    add a user (admin or analyst); password from stdin\n"
		"  users list                 list users\n"
		"  users passwd NAME          set a user's password (from stdin)\n"
		"  users remove NAME          remove a user\n"
		"  backup DEST                consistent copy of the store while the hub runs\n"
		"  logtest [FILE]             raw log lines in, normalized events (NDJSON) out\n"
		"  rules test RULE.yml [EV]   which events a Sigma rule matches, which alerts it raises\n"
		"  version                    print the version\n");
}

static int wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

static int mkdir_parent(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_store(const char *path, struct store **s, int64_t segment_rows, int cache_mb,
		      bool state_only)
{
	struct store_config sc;
	store_config_defaults(&sc);
	sc.dir = path;
	sc.state_only = state_only;
	if (segment_rows)
		sc.segment_rows = segment_rows;
	if (cache_mb)
		sc.cache_mb = cache_mb;
	int rc = mkdir_parent(path);
	if (rc < 0) {
		fprintf(stderr, "minisiem: cannot create the directory of '%s': %s\n", path,
			strerror(-rc));
		return rc;
	}
	return store_open(s, &sc);
}

/* The admin password hash: environment, else the store, else a new password printed once. */
static int setup_admin(struct api *a, struct store *s)
{
	const char *env = getenv("SIEM_ADMIN_PASSWORD_HASH");
	char *h = NULL;
	int rc;
	if (env && *env) {
		if (password_verify(env, "") == SIEM_EPARSE) {
			log_error("hub", "SIEM_ADMIN_PASSWORD_HASH is neither argon2id nor bcrypt");
			return -EINVAL;
		}
		return (a->admin_hash = strdup(env)) ? 0 : -ENOMEM;
	}
	if ((rc = store_meta_get(s, "admin_password_hash", &h)) < 0)
		return rc;
	if (h) {
		a->admin_hash = h;
		return 0;
	}
	char pw[32], hash[256];
	if ((rc = password_generate(pw, sizeof(pw), 20)) < 0 ||
	    (rc = password_hash(pw, hash, sizeof(hash))) < 0 ||
	    (rc = store_meta_set(s, "admin_password_hash", hash)) < 0)
		return rc;
	printf("minisiem: first run: admin password: %s\n", pw);
	printf("minisiem: (shown once; only its hash is stored. Set SIEM_ADMIN_PASSWORD_HASH to "
	       "choose your own.)\n");
	fflush(stdout);
	explicit_bzero(pw, sizeof(pw));
	return (a->admin_hash = strdup(hash)) ? 0 : -ENOMEM;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int setup_jwt(struct api *a, struct store *s)
{
	const char *env = getenv("SIEM_JWT_SECRET");
	char *hex = NULL;
	int rc;
	if (env && *env) {
		size_t n = strlen(env);
		if (n < 32) {
			log_error("hub", "SIEM_JWT_SECRET must be at least 32 bytes");
			return -EINVAL;
		}
		if (n > sizeof(a->jwt_key))
			n = sizeof(a->jwt_key);
		memcpy(a->jwt_key, env, n);
		a->jwt_keylen = n;
		return 0;
	}
	if ((rc = store_meta_get(s, "jwt_secret", &hex)) < 0)
		return rc;
	if (!hex) {
		uint8_t key[32];
		char buf[65];
		if ((rc = random_bytes(key, sizeof(key))) < 0)
			return rc;
		for (size_t i = 0; i < sizeof(key); i++)
			snprintf(buf + 2 * i, 3, "%02x", key[i]);
		if ((rc = store_meta_set(s, "jwt_secret", buf)) < 0)
			return rc;
		if (!(hex = strdup(buf)))
			return -ENOMEM;
	}
	size_t n = strlen(hex) / 2;
	if (n > sizeof(a->jwt_key))
		n = sizeof(a->jwt_key);
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(hex);
			log_error("hub", "stored jwt secret is corrupt");
			return -EINVAL;
		}
		a->jwt_key[i] = (uint8_t)(hi << 4 | lo);
	}
	a->jwt_keylen = n;
	free(hex);
	return 0;
}

/* Settings SIGHUP can change, read by the writer thread's upkeep. */
static _Atomic int64_t retention_days;
static struct metric m_ret_segments = METRIC_COUNTER_INIT(
	"minisiem_retention_segments_removed_total", NULL, "Segments removed by retention.");
static struct metric m_ret_events = METRIC_COUNTER_INIT(
	"minisiem_retention_events_removed_total", NULL, "Events removed by retention.");

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

/* SIGHUP: read flags, environment and the config file again; apply what can change live
 * (log level, CORS origins, retention, SIEM_API_KEYS). Invalid new settings are refused and
 * the running ones kept. */
static void reload(int argc, char **argv, struct api *a, struct http_server *srv)
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
	log_set_level(lvl);
	ruleset_reload_dir(alerts_api_ctx.rules);
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

/* The writer thread, after each commit: detection, then alerting (neither blocks). */
static void on_committed(void *ctx, const struct event *ev)
{
	struct detect_hook *h = ctx;
	detector_eval(h->det, ev, alerts_sink, h->alerts);
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
		const char *rel[] = { "/../share/minisiem/rules", "/../../rules" };
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			struct stat st;
			if (snprintf(buf, len, "%s%s", exe, rel[i]) < (int)len && stat(buf, &st) == 0 &&
			    S_ISDIR(st.st_mode))
				return buf;
		}
	}
	return "rules";
}

/* Started as root: give the store to the user, then become it. Ports are bound already. */
static int drop_privileges(const char *user, const char *db)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		log_error("hub", "no user '%s'", user);
		return -EINVAL;
	}
	char path[4200];
	const char *suffixes[] = { "", "-wal", "-shm", "-segments" };
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		if (chown(path, pw->pw_uid, pw->pw_gid) < 0 && errno != ENOENT)
			log_warn("hub", "cannot give '%s' to %s: %s", path, user, strerror(errno));
	}
	snprintf(path, sizeof(path), "%s-segments", db);
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char f[4500];
		if (de->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
		if (chown(f, pw->pw_uid, pw->pw_gid) < 0)
			log_warn("hub", "cannot give '%s' to %s: %s", f, user, strerror(errno));
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s", db);
	char *slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		if (chown(path, pw->pw_uid, pw->pw_gid) < 0)
			log_warn("hub", "cannot give '%s' to %s: %s", path, user, strerror(errno));
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
	return 0;
}

/* "minisiem: syslog udp on ADDR:PORT", the address as given and the port as bound. */
static void print_syslog(const char *proto, const char *spec, unsigned port)
{
	const char *colon = strrchr(spec, ':');
	int hn = colon ? (int)(colon - spec) : 0;
	printf("minisiem: syslog %s on %.*s:%u\n", proto, hn ? hn : 7, hn ? spec : "0.0.0.0",
	       port);
}

static int cmd_serve(int argc, char **argv)
{
	struct syslog_listener *sl = NULL;
	struct config c;
	const char *pos[1];
	size_t npos = 0;
	struct store *s = NULL;
	struct pipeline *p = NULL;
	struct http_server *srv = NULL;
	struct api a;
	int rc = 0, exit_code = 1, fd = -1;
	struct detector *det = NULL;
	struct tailer *tl = NULL;
	struct alerts *alerts = NULL;
	struct ruleset *rules = NULL;
	static struct detect_hook hook;
	char state_path[4200], rules_buf[4200];

	memset(&a, 0, sizeof(a));
	if (wants_help(argc, argv)) {
		printf("usage: minisiem serve [OPTIONS]\n\nRun the hub. Flags override SIEM_*"
		       " environment variables, which override the config file.\n"
		       "SIGTERM or SIGINT stops it cleanly; SIGHUP reloads log level, CORS origins,"
		       " retention and SIEM_API_KEYS.\n\noptions:\n");
		config_usage(serve_opts, N_SERVE_OPTS, stdout);
		return 0;
	}
	if (config_init(&c, serve_opts, N_SERVE_OPTS) < 0)
		return 1;
	if (config_parse(&c, argc, argv, pos, 0, &npos) < 0) {
		fprintf(stderr, "minisiem serve: %s\n", c.err);
		config_release(&c);
		return EXIT_USAGE;
	}
	enum log_level lvl;
	if (log_parse_level(config_str(&c, "log-level"), &lvl) < 0) {
		fprintf(stderr, "minisiem serve: invalid log level '%s'\n", config_str(&c, "log-level"));
		config_release(&c);
		return EXIT_USAGE;
	}
	log_set_level(lvl);
	atomic_store(&retention_days, config_int(&c, "retention-days"));
	metric_register(&m_ret_segments);
	metric_register(&m_ret_events);

	/* Signals go to the main thread only: block them before any thread starts. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *db = config_str(&c, "db"), *user = config_str(&c, "user");
	if ((rc = http_bind(config_str(&c, "listen"), &fd)) < 0)
		goto out;
	struct syslog_config scfg = {
		.udp = config_str(&c, "syslog-udp"),
		.tcp = config_str(&c, "syslog-tcp"),
		.max_msg = (size_t)config_int(&c, "syslog-max-msg"),
		.rcvbuf = (int)config_int(&c, "syslog-rcvbuf"),
	};
	if ((*scfg.udp || *scfg.tcp) && (rc = syslog_listen_bind(&sl, &scfg)) < 0)
		goto out;
	if ((rc = mkdir_parent(db)) < 0) {
		log_error("hub", "cannot create the directory of '%s': %s", db, strerror(-rc));
		goto out;
	}
	if (geteuid() == 0 && *user) {
		if ((rc = drop_privileges(user, db)) < 0)
			goto out;
	} else if (geteuid() == 0) {
		log_warn("hub", "running as root: use --user NAME to drop privileges");
	}
	if ((rc = open_store(db, &s, config_int(&c, "segment-rows"), (int)config_int(&c, "cache-mb"),
			     false)) < 0)
		goto out;
	api_init(&a, s, NULL);
	a.version = SIEM_VERSION;
	a.jwt_ttl_s = config_int(&c, "jwt-ttl");
	if ((rc = setup_admin(&a, s)) < 0 || (rc = setup_jwt(&a, s)) < 0 ||
	    (rc = api_load_env_keys(&a, config_str(&c, "SIEM_API_KEYS"))) < 0)
		goto out;
	if ((rc = pipeline_start(&p, s, (size_t)config_int(&c, "queue-max"),
				 (size_t)config_int(&c, "txn-max"))) < 0) {
		log_error("hub", "cannot start the writer: %s", siem_strerror(rc));
		goto out;
	}
	a.pipeline = p;
	snprintf(state_path, sizeof(state_path), "%s-detect.state", db);
	struct detector_config dc = { .state_path = state_path, .max_groups = 100000 };
	struct alerts_config ac = { .cooldown_s = config_int(&c, "alert-cooldown"),
				    .channels_file = config_str(&c, "notify-config") };
	const char *rules_dir = find_rules_dir(config_str(&c, "rules-dir"), rules_buf,
					       sizeof(rules_buf));
	if ((rc = detector_open(&det, &dc)) < 0 || (rc = alerts_open(&alerts, s, &ac)) < 0 ||
	    (rc = ruleset_open(&rules, s, det, rules_dir)) < 0) {
		log_error("hub", "cannot start detection: %s", siem_strerror(rc));
		goto out;
	}
	alerts_api_ctx.alerts = alerts;
	alerts_api_ctx.rules = rules;
	hook.det = det;
	hook.alerts = alerts;
	upkeep_detector = det;
	pipeline_set_committed_hook(p, on_committed, &hook);
	if (sl && (rc = syslog_listen_run(sl, p)) < 0)
		goto out;
	if (*config_str(&c, "tail-dir")) {
		struct tail_config tc = { .dir = config_str(&c, "tail-dir") };
		if ((rc = tailer_start(&tl, &tc, s, p)) < 0)
			goto out;
	}
	pipeline_set_maintenance(p, upkeep, s, (int)config_int(&c, "retention-interval") * 1000);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned nparse = (unsigned)config_int(&c, "parse-threads");
	if (nparse == 0)
		nparse = ncpu > 0 ? (unsigned)ncpu : 2;
	if ((rc = taskpool_start(&a.parsers, nparse, 4096)) < 0) {
		log_error("hub", "cannot start the parser threads: %s", siem_strerror(rc));
		goto out;
	}
	if ((rc = ruletest_pool_start(&alerts_api_ctx.tests, s, 0)) < 0) {
		log_error("hub", "cannot start the rule test threads: %s", siem_strerror(rc));
		goto out;
	}
	api_ctx = &a;

	struct http_config hc = {
		.listen = config_str(&c, "listen"),
		.listen_fd = fd,
		.tls_cert = config_str(&c, "tls-cert"),
		.tls_key = config_str(&c, "tls-key"),
		.root_path = config_str(&c, "root-path"),
		.max_body = (size_t)config_int(&c, "max-body"),
		.threads = (unsigned)config_int(&c, "http-threads"),
		.max_conns = (unsigned)config_int(&c, "max-conns"),
		.conn_timeout = (unsigned)config_int(&c, "conn-timeout"),
		.cors_origins = config_str(&c, "cors-origins"),
	};
	struct http_auth_ops ops = api_auth_ops;
	ops.ctx = &a;
	http_static_init(web_assets, web_nassets);
	fd = -1; /* http_start owns it now, also on failure */
	if ((rc = http_start(&srv, &hc, api_routes, api_nroutes, &ops)) < 0)
		goto out;

	char host[128];
	snprintf(host, sizeof(host), "%s", hc.listen);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	if (!host[0] || strcmp(host, "0.0.0.0") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	const char *root = config_str(&c, "root-path");
	printf("minisiem: listening on http%s://%s:%u%s/\n", *hc.tls_cert ? "s" : "", host,
	       http_port(srv), strcmp(root, "/") == 0 ? "" : root);
	printf("minisiem: dashboard at http%s://%s:%u%s/\n", *hc.tls_cert ? "s" : "", host,
	       http_port(srv), strcmp(root, "/") == 0 ? "" : root);
	if (syslog_listen_udp_port(sl))
		print_syslog("udp", scfg.udp, syslog_listen_udp_port(sl));
	if (syslog_listen_tcp_port(sl))
		print_syslog("tcp", scfg.tcp, syslog_listen_tcp_port(sl));
	fflush(stdout);
	log_info("hub", "minisiem %s ready, store '%s'", SIEM_VERSION, db);

	for (;;) {
		int sig = 0;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(argc, argv, &a, srv);
			continue;
		}
		log_info("hub", "signal %d: stopping", sig);
		break;
	}
	/* Requests received whole are always answered (30 s at most); uploads still arriving
	 * get 5 s to finish, so that a stalled or vanished client cannot hold up the stop. */
	http_quiesce(srv);
	http_streams_end(); /* SSE clients: a stream never ends by itself */
	ruletest_pool_stop(alerts_api_ctx.tests); /* rule tests answer what they have found */
	for (int i = 0; i < 3000; i++) {
		if (http_inflight(srv) == 0 && (http_uploading(srv) == 0 || i >= 500))
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	exit_code = 0;
out:
	if (rc < 0)
		log_error("hub", "cannot start: %s", siem_strerror(rc));
	if (fd >= 0)
		close(fd);
	syslog_listen_stop(sl); /* before the pipeline: its last batches are committed */
	tailer_stop(tl);
	taskpool_stop(a.parsers);
	pipeline_stop(p);
	http_stop(srv);
	ruletest_pool_free(alerts_api_ctx.tests);
	alerts_api_ctx.tests = NULL;
	upkeep_detector = NULL;
	ruleset_close(rules); /* after the writer and the server: nothing uses them now */
	alerts_close(alerts);
	detector_close(det);
	if (a.store)
		api_release(&a);
	store_close(s);
	config_release(&c);
	if (exit_code == 0)
		log_info("hub", "stopped");
	return exit_code;
}

static int cmd_backup(int argc, char **argv)
{
	struct config c;
	const char *pos[2];
	size_t npos = 0;
	if (wants_help(argc, argv)) {
		printf("usage: minisiem backup DEST [--db PATH]\n\n"
		       "Copies the store into the new directory DEST while the hub keeps running: the\n"
		       "main database and every segment, each as of one moment, each checked.\n"
		       "To restore: stop the hub, copy DEST's contents next to --db, start the hub.\n\n"
		       "options:\n");
		config_usage(backup_opts, 1, stdout);
		return 0;
	}
	if (config_init(&c, backup_opts, 1) < 0)
		return 1;
	if (config_parse(&c, argc, argv, pos, 2, &npos) < 0 || npos != 1) {
		fprintf(stderr, "minisiem backup: %s\n", npos != 1 ? "expected DEST" : c.err);
		config_release(&c);
		return EXIT_USAGE;
	}
	log_set_level(LOG_LVL_WARN);
	int64_t t0 = ts_now_us();
	int rc = store_backup(config_str(&c, "db"), pos[0]);
	if (rc < 0)
		fprintf(stderr, "minisiem backup: failed: %s\n", siem_strerror(rc));
	else
		printf("backup of '%s' written to '%s' in %.1f s\n", config_str(&c, "db"), pos[0],
		       (double)(ts_now_us() - t0) / 1e6);
	config_release(&c);
	return rc < 0 ? 1 : 0;
}

static int read_password(char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	char *ok = fgets(buf, (int)len, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fputc('\n', stderr);
	}
	if (!ok)
		return -EINVAL;
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] ? 0 : -EINVAL;
}

static int cmd_hash_password(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		printf("usage: minisiem hash-password < password\n\n"
		       "Reads a password (first line of standard input, or typed at the terminal)\n"
		       "and prints an argon2id hash to use as SIEM_ADMIN_PASSWORD_HASH.\n");
		return 0;
	}
	if (argc > 0) {
		fprintf(stderr, "minisiem hash-password: unexpected argument '%s'\n", argv[0]);
		return EXIT_USAGE;
	}
	char pw[1100], hash[256];
	if (read_password(pw, sizeof(pw)) < 0) {
		fprintf(stderr, "minisiem hash-password: no password given\n");
		return 1;
	}
	int rc = password_hash(pw, hash, sizeof(hash));
	explicit_bzero(pw, sizeof(pw));
	if (rc < 0) {
		fprintf(stderr, "minisiem hash-password: %s\n", siem_strerror(rc));
		return 1;
	}
	printf("%s\n", hash);
	return 0;
}

static int cmd_keys(int argc, char **argv)
{
	struct config c;
	const char *pos[3];
	size_t npos = 0;
	struct store *s = NULL;
	int rc, code = 1;
	if (wants_help(argc, argv) || argc == 0) {
		printf("usage: minisiem keys create NAME | list | revoke ID [--db PATH]\n\noptions:\n");
		config_usage(db_opts, 1, stdout);
		return argc == 0 ? EXIT_USAGE : 0;
	}
	if (config_init(&c, db_opts, 1) < 0)
		return 1;
	if (config_parse(&c, argc, argv, pos, 3, &npos) < 0) {
		fprintf(stderr, "minisiem keys: %s\n", c.err);
		config_release(&c);
		return EXIT_USAGE;
	}
	const char *verb = npos ? pos[0] : "";
	bool ok = (strcmp(verb, "create") == 0 && npos == 2) || (strcmp(verb, "list") == 0 && npos == 1) ||
		  (strcmp(verb, "revoke") == 0 && npos == 2);
	if (!ok) {
		fprintf(stderr, "minisiem keys: expected 'create NAME', 'list' or 'revoke ID'\n");
		config_release(&c);
		return EXIT_USAGE;
	}
	log_set_level(LOG_LVL_WARN);
	if ((rc = open_store(config_str(&c, "db"), &s, 0, 8, true)) < 0) {
		fprintf(stderr, "minisiem keys: cannot open store '%s'\n", config_str(&c, "db"));
		goto out;
	}
	if (strcmp(verb, "create") == 0) {
		char key[64], hash[65];
		int64_t id = 0;
		if (strlen(pos[1]) > 100) {
			fprintf(stderr, "minisiem keys: name longer than 100 bytes\n");
			code = EXIT_USAGE;
			goto out;
		}
		if ((rc = apikey_generate(key, sizeof(key))) < 0)
			goto out;
		apikey_hash(key, strlen(key), hash);
		if ((rc = store_key_add(s, pos[1], hash, &id)) < 0)
			goto out;
		char obj[32];
		snprintf(obj, sizeof(obj), "key:%lld", (long long)id);
		store_audit(s, "cli", NULL, "key.create", obj, pos[1]);
		fprintf(stderr, "key %lld '%s' created; it is shown once:\n", (long long)id, pos[1]);
		printf("%s\n", key);
		code = 0;
	} else if (strcmp(verb, "list") == 0) {
		json_t *keys = json_array();
		if ((rc = store_key_list(s, keys)) == 0) {
			size_t i;
			json_t *k;
			json_array_foreach(keys, i, k)
			{
				char line[1024];
				size_t n = json_dumpb(k, line, sizeof(line) - 1, JSON_COMPACT);
				if (n < sizeof(line)) {
					line[n] = '\0';
					printf("%s\n", line);
				}
			}
			code = 0;
		}
		json_decref(keys);
	} else {
		char *end = NULL;
		long long id = strtoll(pos[1], &end, 10);
		if (!*pos[1] || *end || id <= 0) {
			fprintf(stderr, "minisiem keys: '%s' is not a key id\n", pos[1]);
			code = EXIT_USAGE;
			goto out;
		}
		rc = store_key_revoke(s, id);
		if (rc == SIEM_ENOTFOUND)
			fprintf(stderr, "minisiem keys: no key %lld\n", id);
		else if (rc == 0) {
			char obj[32];
			snprintf(obj, sizeof(obj), "key:%lld", id);
			store_audit(s, "cli", NULL, "key.revoke", obj, NULL);
			printf("key %lld revoked\n", id);
			code = 0;
		}
	}
out:
	store_close(s);
	config_release(&c);
	return code;
}

static int new_hash(char *hash, size_t len)
{
	char pw[1100];
	if (read_password(pw, sizeof(pw)) < 0) {
		fprintf(stderr, "minisiem users: no password given\n");
		return -EINVAL;
	}
	int rc = password_hash(pw, hash, len);
	explicit_bzero(pw, sizeof(pw));
	if (rc < 0)
		fprintf(stderr, "minisiem users: %s\n", siem_strerror(rc));
	return rc;
}

static int cmd_users(int argc, char **argv)
{
	struct config c;
	const char *pos[3];
	size_t npos = 0;
	struct store *s = NULL;
	int rc, code = 1;
	if (wants_help(argc, argv) || argc == 0) {
		printf("usage: minisiem users add NAME [--role admin|analyst] | list | passwd NAME |"
		       " remove NAME [--db PATH]\n\nPasswords are read from the terminal or the first"
		       " line of standard input.\n\noptions:\n");
		config_usage(user_opts, 2, stdout);
		return argc == 0 ? EXIT_USAGE : 0;
	}
	if (config_init(&c, user_opts, 2) < 0)
		return 1;
	if (config_parse(&c, argc, argv, pos, 3, &npos) < 0) {
		fprintf(stderr, "minisiem users: %s\n", c.err);
		config_release(&c);
		return EXIT_USAGE;
	}
	const char *verb = npos ? pos[0] : "", *role = config_str(&c, "role");
	bool named = npos == 2 && (strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0 ||
				   strcmp(verb, "remove") == 0);
	if (!named && !(strcmp(verb, "list") == 0 && npos == 1)) {
		fprintf(stderr, "minisiem users: expected 'add NAME', 'list', 'passwd NAME' or"
				" 'remove NAME'\n");
		config_release(&c);
		return EXIT_USAGE;
	}
	if (strcmp(role, "admin") != 0 && strcmp(role, "analyst") != 0) {
		fprintf(stderr, "minisiem users: role must be admin or analyst, not '%s'\n", role);
		config_release(&c);
		return EXIT_USAGE;
	}
	if (named && (!*pos[1] || strlen(pos[1]) > 100)) {
		fprintf(stderr, "minisiem users: a name has 1 to 100 bytes\n");
		config_release(&c);
		return EXIT_USAGE;
	}
	log_set_level(LOG_LVL_WARN);
	if ((rc = open_store(config_str(&c, "db"), &s, 0, 8, true)) < 0) {
		fprintf(stderr, "minisiem users: cannot open store '%s'\n", config_str(&c, "db"));
		goto out;
	}
	char hash[256];
	if (strcmp(verb, "add") == 0) {
		if (new_hash(hash, sizeof(hash)) < 0)
			goto out;
		rc = store_user_add(s, pos[1], role, hash);
		if (rc == -EEXIST)
			fprintf(stderr, "minisiem users: '%s' exists already\n", pos[1]);
		if (rc == 0) {
			store_audit(s, "cli", NULL, "user.add", pos[1], role);
			printf("user '%s' added (%s)\n", pos[1], role);
		}
	} else if (strcmp(verb, "passwd") == 0) {
		if (new_hash(hash, sizeof(hash)) < 0)
			goto out;
		if ((rc = store_user_set_hash(s, pos[1], hash)) == 0) {
			store_audit(s, "cli", NULL, "user.passwd", pos[1], NULL);
			printf("password of '%s' changed\n", pos[1]);
		}
	} else if (strcmp(verb, "remove") == 0) {
		if ((rc = store_user_remove(s, pos[1])) == 0) {
			store_audit(s, "cli", NULL, "user.remove", pos[1], NULL);
			printf("user '%s' removed\n", pos[1]);
		}
	} else {
		json_t *users = json_array();
		if ((rc = store_user_list(s, users)) == 0) {
			size_t i;
			json_t *u;
			json_array_foreach(users, i, u)
				printf("%-24s %-8s %s\n", json_string_value(json_object_get(u, "name")),
				       json_string_value(json_object_get(u, "role")),
				       json_string_value(json_object_get(u, "created_at")));
		}
		json_decref(users);
	}
	if (rc == SIEM_ENOTFOUND)
		fprintf(stderr, "minisiem users: no user '%s'\n", pos[1]);
	code = rc == 0 ? 0 : 1;
out:
	store_close(s);
	config_release(&c);
	return code;
}

int main(int argc, char **argv)
{
	/* Large tables (id sets, postings, request bodies) come and go with segments and
	 * requests: give them their own mappings, returned to the system when freed, instead of
	 * a heap that only grows. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 2);
	jsonalloc_install();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	if (strcmp(cmd, "hash-password") == 0)
		return cmd_hash_password(argc - 2, argv + 2);
	if (strcmp(cmd, "keys") == 0)
		return cmd_keys(argc - 2, argv + 2);
	if (strcmp(cmd, "users") == 0)
		return cmd_users(argc - 2, argv + 2);
	if (strcmp(cmd, "backup") == 0)
		return cmd_backup(argc - 2, argv + 2);
	if (strcmp(cmd, "logtest") == 0)
		return cmd_logtest(argc - 2, argv + 2);
	if (strcmp(cmd, "rules") == 0)
		return cmd_rules(argc - 2, argv + 2);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("minisiem %s\n", SIEM_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "minisiem: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
