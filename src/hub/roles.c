/* roles.c — broker mode's side of `serve`: --roles, the broker URL and password, and the
 * ingest publisher and store consumer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "hub/cmd.h"
#include "hub/budget.h"
#include "hub/roles.h"

#define PASSWORD_FILE_MAX 4096

static const struct {
	const char *name;
	enum hub_role role;
} role_names[] = {
    {"ingest", ROLE_INGEST},
    {"store", ROLE_STORE},
    {"detect", ROLE_DETECT},
    {"api", ROLE_API},
};

static int parse_roles(const char *s, unsigned *mask)
{
	*mask = 0;
	for (const char *p = s; *p;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		size_t i;
		for (i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
			if (strlen(role_names[i].name) == n && !strncmp(p, role_names[i].name, n))
				break;
		if (i == sizeof(role_names) / sizeof(role_names[0])) {
			fprintf(
			    stderr,
			    "minisiem serve: unknown role '%.*s' in --roles (want ingest, store,"
			    " detect, api)\n",
			    (int)n, p);
			return -EINVAL;
		}
		*mask |= role_names[i].role;
		p += n + (e ? 1 : 0);
	}
	if (!*mask) {
		fprintf(stderr, "minisiem serve: --roles names no role\n");
		return -EINVAL;
	}
	return 0;
}

/* SIEM_AMQP_PASSWORD, else the first line of --amqp-password-file, else none (the URL's own,
 * when it came from the environment or a config file). */
static int read_password(struct roles *r, const struct config *c)
{
	const char *env = config_str(c, "SIEM_AMQP_PASSWORD");
	const char *file = config_str(c, "amqp-password-file");
	if (env && *env) {
		r->password = strdup(env);
		return r->password ? 0 : -ENOMEM;
	}
	if (!file || !*file)
		return 0;
	char *text = NULL;
	size_t n = 0;
	int rc = file_read_all(file, PASSWORD_FILE_MAX, &text, &n);
	if (rc < 0) {
		fprintf(stderr, "minisiem serve: cannot read --amqp-password-file '%s': %s\n", file,
			siem_strerror(rc));
		return rc;
	}
	size_t len = strcspn(text, "\r\n");
	text[len] = '\0';
	r->password = text;
	struct stat st;
	if (stat(file, &st) == 0 && (st.st_mode & 077))
		log_warn("hub", "'%s' holds the broker password and others may read it: chmod 600",
			 file);
	return 0;
}

int roles_config(struct roles *r, const struct config *c)
{
	const char *url = config_str(c, "amqp");
	const char *pg = config_str(c, "postgres");
	char err[256];
	memset(r, 0, sizeof(*r));
	r->mask = ROLE_INGEST | ROLE_STORE | ROLE_DETECT | ROLE_API;
	if (!url || !*url) {
		if (strcmp(config_str(c, "roles"), ROLES_ALL) != 0) {
			fprintf(stderr,
				"minisiem serve: --roles needs --amqp (broker mode): without"
				" a broker one hub runs every role\n");
			return EXIT_USAGE;
		}
		return 0;
	}
	r->broker = true;
	if (!pg || !*pg) {
		fprintf(stderr, "minisiem serve: broker mode (--amqp) needs --postgres: the store"
				" nodes share one PostgreSQL\n");
		return EXIT_USAGE;
	}
	if (broker_url_check(url, err, sizeof(err)) < 0) {
		fprintf(stderr, "minisiem serve: invalid --amqp: %s\n", err);
		return EXIT_USAGE;
	}
	if (parse_roles(config_str(c, "roles"), &r->mask) < 0)
		return EXIT_USAGE;
	if (!(r->mask & ROLE_INGEST) &&
	    (*config_str(c, "syslog-udp") || *config_str(c, "syslog-tcp") ||
	     *config_str(c, "tail-dir"))) {
		fprintf(stderr, "minisiem serve: --syslog-udp, --syslog-tcp and --tail-dir need the"
				" ingest role (--roles)\n");
		return EXIT_USAGE;
	}
	if (read_password(r, c) < 0)
		return EXIT_USAGE;
	char host[64] = "";
	gethostname(host, sizeof(host) - 1);
	snprintf(r->name, sizeof(r->name), "minisiem %s pid %ld", host, (long)getpid());
	r->bc = (struct broker_config){
	    .url = url,
	    .password = r->password,
	    .ca_file = config_str(c, "amqp-ca"),
	    .heartbeat_s = (int)config_int(c, "amqp-heartbeat"),
	    .confirm_timeout_ms = (int)config_int(c, "amqp-confirm-timeout") * 1000,
	    .prefetch = (int)config_int(c, "amqp-prefetch"),
	    .detect_save_ms = (int)config_int(c, "detect-save-interval") * 1000,
	    .name = r->name,
	};
	return 0;
}

bool roles_has(const struct roles *r, enum hub_role role)
{
	return (r->mask & role) != 0;
}

int roles_start_ingest(struct roles *r, struct pipeline *p)
{
	int rc;
	struct pipeline_sink sink;
	if ((rc = broker_pub_open(&r->pub, &r->bc)) < 0)
		return rc;
	broker_pub_sink(r->pub, &sink);
	pipeline_set_sink(p, &sink);
	return 0;
}

int roles_start_store(struct roles *r, struct store *s, const struct config *c, struct pipeline *p,
		      struct pipeline **out)
{
	int rc;
	r->store_p = p;
	r->own_store_p = !p;
	if (!p && (rc = pipeline_start(&r->store_p, s, (size_t)budget_int(c, "queue-max"),
				       (size_t)config_int(c, "txn-max"))) < 0) {
		log_error("hub", "cannot start the store writer: %s", siem_strerror(rc));
		return rc;
	}
	if ((rc = broker_store_start(&r->consumer, &r->bc, r->store_p)) < 0)
		return rc;
	*out = r->store_p;
	return 0;
}

void roles_stop(struct roles *r)
{
	broker_store_stop(r->consumer);
	if (r->own_store_p) {
		pipeline_stop(r->store_p);
		broker_store_free(r->consumer); /* no done() can come now */
		r->consumer = NULL;
	}
	r->store_p = NULL;
}

void roles_release(struct roles *r)
{
	broker_store_free(r->consumer); /* fed the hub's pipeline, stopped by now */
	r->consumer = NULL;
	broker_pub_close(r->pub);
	r->pub = NULL;
	if (r->password) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
		r->password = NULL;
	}
}
