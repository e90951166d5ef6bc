/* main.c — the minisiem command: serve (the hub), hash-password, keys. */
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
#include <termios.h>
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
#include "core/jsonalloc.h"
#include "core/taskpool.h"
#include "core/log.h"
#include "core/metrics.h"
#include "detect/detect.h"
#include "detect/ruleset.h"
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
#define PASSWORD_MIN 12 /* characters, for 'users add' and 'users passwd' */

static const struct opt_def serve_opts[] = {
	{ "config", "SIEM_CONFIG", OPT_STRING, NULL, "FILE",
	  "config file of 'name = value' lines (names as flags or SIEM_* variables)", false, 0, 0 },
	{ "listen", "SIEM_LISTEN", OPT_STRING, "127.0.0.1:8080", "ADDR:PORT",
	  "HTTP address (port 0 picks a free port)", false, 0, 0 },
	{ "db", "SIEM_DB_PATH", OPT_STRING, "var/minisiem.db", "PATH", "SQLite store file", false,
	  0, 0 },
	{ "max-body", "SIEM_MAX_BODY", OPT_SIZE, "8m", "BYTES",
	  "largest POST /ingest body, also after gunzip (other routes take a few KiB)", false, 1024,
	  1LL << 30 },
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
	{ "max-conns-per-ip", "SIEM_MAX_CONNS_PER_IP", OPT_INT, "64", "N",
	  "concurrent connections from one address (0: no limit; raise it behind a reverse"
	  " proxy)", false, 0, 100000 },
	{ "header-timeout", "SIEM_HEADER_TIMEOUT", OPT_DURATION, "10s", "DURATION",
	  "time for a request's headers to arrive (and for a kept-alive connection's next"
	  " request)", false, 1, 3600 },
	{ "request-timeout", "SIEM_REQUEST_TIMEOUT", OPT_DURATION, "60s", "DURATION",
	  "time for a request's body to arrive", false, 1, 86400 },
	{ "body-budget", "SIEM_BODY_BUDGET", OPT_SIZE, "64m", "BYTES",
	  "request bodies held in memory at once, all clients together (then 503)", false,
	  64 * 1024, 1LL << 40 },
	{ "jwt-ttl", "SIEM_JWT_TTL", OPT_DURATION, "7d", "DURATION", "login token lifetime", false,
	  60, 366LL * 86400 },
	{ "trusted-proxies", "SIEM_TRUSTED_PROXIES", OPT_STRING, "", "CIDR[,CIDR...]",
	  "reverse proxies whose X-Forwarded-For names the client (rate limits, audit, events)",
	  false, 0, 0 },
	{ "login-max-failures", "SIEM_LOGIN_MAX_FAILURES", OPT_INT, "5", "N",
	  "failed logins per client address a minute, and per user name before its backoff",
	  false, 1, 1000 },
	{ "login-backoff-max", "SIEM_LOGIN_BACKOFF_MAX", OPT_DURATION, "60s", "DURATION",
	  "longest wait of a user name past its failed logins (the wait doubles from 2 s)", false,
	  2, 86400 },
	{ "apikey-max-failures", "SIEM_APIKEY_MAX_FAILURES", OPT_INT, "20", "N",
	  "wrong API keys per client address a minute before it gets 429", false, 1, 100000 },
	{ "max-password-checks", "SIEM_MAX_PASSWORD_CHECKS", OPT_INT, "2", "N",
	  "logins verified at once (64 MiB each); more get 503", false, 1, 64 },
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
	  "token signing secret, 32 bytes or more (default: generated once into the file"
	  " DB-jwt-secret beside the store, mode 0600)", true, 0, 0 },
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

/* Create the missing folders of the store's path, private (0700 whatever the umask). *made,
 * when not NULL, is set to the length of the first folder created (a prefix of the path):
 * that one and those below it are the hub's own; 0 when every folder existed. */
static int mkdir_parent(const char *path, size_t *made)
{
	char dir[4096];
	if (made)
		*made = 0;
	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return -ENAMETOOLONG;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(dir, 0700) == 0) {
			if (made && !*made)
				*made = (size_t)(p - dir);
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (!c)
			return 0;
		*p = c;
	}
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
	int rc = mkdir_parent(path, NULL);
	if (rc < 0) {
		fprintf(stderr, "minisiem: cannot create the directory of '%s': %s\n", path,
			strerror(-rc));
		return rc;
	}
	return store_open(s, &sc);
}

/* The admin password hash: SIEM_ADMIN_PASSWORD_HASH (flag, environment or config file),
 * else the store, else a new password printed once (not on a reload). */
static int setup_admin(struct api *a, struct store *s, const char *conf, bool first)
{
	char *h = NULL;
	int rc;
	if (conf && *conf) {
		if (password_verify(conf, "") == SIEM_EPARSE) {
			log_error("hub", "SIEM_ADMIN_PASSWORD_HASH is neither argon2id nor bcrypt");
			return -EINVAL;
		}
		return tokens_set_admin_hash(a->tokens, conf);
	}
	if ((rc = store_meta_get(s, "admin_password_hash", &h)) < 0)
		return rc;
	if (h || !first) {
		rc = h ? tokens_set_admin_hash(a->tokens, h) : 0;
		free(h);
		return rc;
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
	return tokens_set_admin_hash(a->tokens, hash);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#define JWT_FILE_KEY 32 /* bytes of a generated signing key, kept as hex */

/* The generated signing key lives in its own file beside the store (DB-jwt-secret, 0600),
 * never in a database that readers of events could see. Created without following links. */
static int jwt_file(const char *path, uint8_t *key)
{
	char hex[2 * JWT_FILE_KEY + 2];
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (random_bytes(key, JWT_FILE_KEY) < 0)
			return -EIO;
		for (size_t i = 0; i < JWT_FILE_KEY; i++)
			snprintf(hex + 2 * i, 3, "%02x", key[i]);
		hex[2 * JWT_FILE_KEY] = '\n';
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			log_error("hub", "cannot create '%s': %s", path, strerror(errno));
			return -errno;
		}
		ssize_t n = write(fd, hex, 2 * JWT_FILE_KEY + 1);
		int err = n == 2 * JWT_FILE_KEY + 1 && fsync(fd) == 0 ? 0 : errno ? errno : EIO;
		close(fd);
		if (err) {
			unlink(path);
			log_error("hub", "cannot write '%s': %s", path, strerror(err));
			return -err;
		}
		log_info("hub", "token signing key generated in '%s'", path);
		return 0;
	}
	if (fd < 0) {
		log_error("hub", "cannot open '%s': %s", path, strerror(errno));
		return -errno;
	}
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (st.st_mode & 077) {
			log_warn("hub", "'%s' was readable by others: made 0600", path);
			fchmod(fd, 0600);
		}
		n = read(fd, hex, sizeof(hex));
	}
	close(fd);
	if (n < 2 * JWT_FILE_KEY || (n > 2 * JWT_FILE_KEY && hex[2 * JWT_FILE_KEY] != '\n'))
		goto corrupt;
	for (size_t i = 0; i < JWT_FILE_KEY; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto corrupt;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
corrupt:
	log_error("hub", "'%s' is not a token signing key (64 hex digits): remove it to make a new"
		  " one (every login token then ends)", path);
	return -EINVAL;
}

/* The signing key: SIEM_JWT_SECRET (flag, environment or config file), else the key file. */
static int setup_jwt(struct api *a, struct store *s, const char *db, const char *conf)
{
	uint8_t key[JWT_FILE_KEY];
	char path[4200], *old = NULL;
	int rc;
	if (conf && *conf) {
		size_t n = strlen(conf);
		if (n < 32) {
			log_error("hub", "SIEM_JWT_SECRET must be at least 32 bytes");
			return -EINVAL;
		}
		return tokens_set_key(a->tokens, (const uint8_t *)conf, n > 64 ? 64 : n);
	}
	/* Older versions kept the key in the store's meta table: it goes, and a new one is made
	 * in the key file (everyone logs in again once). */
	if ((rc = store_meta_get(s, "jwt_secret", &old)) < 0)
		return rc;
	if (old) {
		explicit_bzero(old, strlen(old));
		free(old);
		if ((rc = store_meta_delete(s, "jwt_secret")) < 0)
			return rc;
		log_info("hub", "the token signing key moved out of the store: log in again");
	}
	if (snprintf(path, sizeof(path), "%s-jwt-secret", db) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((rc = jwt_file(path, key)) < 0)
		return rc;
	rc = tokens_set_key(a->tokens, key, sizeof(key));
	explicit_bzero(key, sizeof(key));
	return rc;
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
	if (setup_admin(a, a->store, config_str(&c, "SIEM_ADMIN_PASSWORD_HASH"), false) < 0 ||
	    setup_jwt(a, a->store, config_str(&c, "db"), config_str(&c, "SIEM_JWT_SECRET")) < 0) {
		log_error("hub", "reload refused for the admin password hash or the token secret");
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
	const char *suffixes[] = { "", "-wal", "-shm", "-jwt-secret", "-detect.state" };
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
	printf("minisiem: syslog %s on %.*s:%u\n", proto, hn ? hn : 7, hn ? spec : "0.0.0.0",
	       port);
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
			fprintf(stderr, "minisiem serve: invalid --trusted-proxies entry '%.*s' (want"
					" CIDR[,CIDR...])\n", (int)(b - a), p + a);
			return -EINVAL;
		}
		p += n + (e ? 1 : 0);
	}
	return 0;
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
		       " retention, SIEM_API_KEYS, the admin password hash and the token secret.\n\n"
		       "options:\n");
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
	if (check_proxies(config_str(&c, "trusted-proxies")) < 0) {
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
	size_t made = 0;
	if ((rc = mkdir_parent(db, &made)) < 0) {
		log_error("hub", "cannot create the directory of '%s': %s", db, strerror(-rc));
		goto out;
	}
	if (geteuid() == 0 && *user) {
		if ((rc = drop_privileges(user, db, made)) < 0)
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
	struct api_limits lim = {
		.login_max_failures = (int)config_int(&c, "login-max-failures"),
		.login_backoff_max_s = config_int(&c, "login-backoff-max"),
		.apikey_max_failures = (int)config_int(&c, "apikey-max-failures"),
		.max_password_checks = (int)config_int(&c, "max-password-checks"),
	};
	/* Settings first: a first-run password must not be printed by a start that fails. */
	if ((rc = api_load_env_keys(&a, config_str(&c, "SIEM_API_KEYS"))) < 0 ||
	    (rc = tokens_open(&a.tokens, s)) < 0 ||
	    (rc = setup_jwt(&a, s, db, config_str(&c, "SIEM_JWT_SECRET"))) < 0 ||
	    (rc = setup_admin(&a, s, config_str(&c, "SIEM_ADMIN_PASSWORD_HASH"), true)) < 0 ||
	    (rc = api_set_limits(&a, &lim)) < 0)
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
		.max_conns_per_ip = (unsigned)config_int(&c, "max-conns-per-ip"),
		.conn_timeout = (unsigned)config_int(&c, "conn-timeout"),
		.header_timeout = (unsigned)config_int(&c, "header-timeout"),
		.request_timeout = (unsigned)config_int(&c, "request-timeout"),
		.body_budget = (size_t)config_int(&c, "body-budget"),
		.cors_origins = config_str(&c, "cors-origins"),
		.trusted_proxies = config_str(&c, "trusted-proxies"),
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

/* Characters, not bytes: "pässwörd" is 8 of them. */
static size_t utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static int new_hash(char *hash, size_t len)
{
	char pw[1100];
	if (read_password(pw, sizeof(pw)) < 0) {
		fprintf(stderr, "minisiem users: no password given\n");
		return -EINVAL;
	}
	if (utf8_len(pw) < PASSWORD_MIN) {
		fprintf(stderr, "minisiem users: a password needs at least %d characters, this one"
				" has %zu\n", PASSWORD_MIN, utf8_len(pw));
		explicit_bzero(pw, sizeof(pw));
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
		       " line of standard input, and have at least %d characters.\n\noptions:\n",
		       PASSWORD_MIN);
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
