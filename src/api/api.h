/* api.h — the hub's HTTP resources (DESIGN §3): one file per resource, sharing this
 * context. */
#ifndef SIEM_API_H
#define SIEM_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "ingest/pipeline.h"
#include "source/redecode.h"
#include "store/store.h"

#define API_KEY_CACHE 64

struct api_key_entry {
	char hash[65];
	char name[128];
	int64_t id; /* 0 for keys from SIEM_API_KEYS */
	int64_t checked_us;
	bool valid;
};

/* Events received per key since the hub started (GET /sources); a store key's are also added
 * to its row (pending until then: api_keys_flush), which keeps the totals of GET /keys. */
#define API_KEY_COUNTS 256
struct api_key_count {
	int64_t id; /* 0 for keys from SIEM_API_KEYS, which are told apart by name */
	char name[128];
	uint64_t events;
	uint64_t pending; /* of events, not in the store yet */
	int64_t last_us;  /* the last batch with events */
};

struct taskpool;
struct syslog_listener;
struct ratelimit;

/* Brute-force limits (docs/operations.md, "Login and API-key rate limits"). */
struct api_limits {
	int login_max_failures;	     /* per client address a minute, and per user name */
	int64_t login_backoff_max_s; /* longest wait of a user name past its failures */
	int apikey_max_failures;     /* failed API keys per client address a minute */
	int max_password_checks;     /* password hashes verified at once (64 MiB each) */
};

struct api {
	struct store *store;
	struct pipeline *pipeline;
	struct taskpool *parsers; /* request bodies are parsed here */
	struct enrich *enrich;	  /* for /ready: what failed to load (NULL: nothing enabled) */
	bool ingest_off; /* broker mode without the ingest role: POST /ingest answers 503 */
	/* broker mode: the roles' links to the broker, for /ready (NULL: role not run) */
	struct broker_pub *broker_pub;
	struct broker_store *broker_store;
	struct broker_detect *broker_detect;
	/* for /ready: the receivers besides HTTP (NULL when not configured), set and cleared
	 * with api_set_sources under sources_mu */
	pthread_mutex_t sources_mu;
	struct tailer *tailer;
	struct syslog_listener *syslog;
	const char *version;
	const struct config *config;   /* the running options, for GET /config (NULL: none) */
	const char *tail_dir;	       /* --tail-dir ("" or NULL: none) */
	struct redecode_opts redecode; /* how the sources decode now (dead letter replays) */
	int64_t started_us;

	/* auth: the signing key, the built-in admin's hash and which tokens are still good */
	struct tokens *tokens;
	int64_t jwt_ttl_s;

	/* API keys from the environment (hash, name), then a cache of store lookups */
	size_t n_env_keys;
	struct api_key_entry *env_keys;
	pthread_mutex_t key_mu;
	struct api_key_entry key_cache[API_KEY_CACHE];
	size_t key_cache_next;
	/* events per key (under key_mu); a key past the table's end counts in key_counts_other */
	struct api_key_count key_counts[API_KEY_COUNTS];
	size_t n_key_counts;
	uint64_t key_counts_other;

	/* brute-force limits, from api_set_limits (none when NULL) */
	struct ratelimit *login_addr, *login_name, *key_addr;
	int max_password_checks;
	atomic_int password_checks; /* running now */
};

/* The route table and auth callbacks the server is started with. */
extern const struct http_route api_routes[];
extern const size_t api_nroutes;
extern const struct http_auth_ops api_auth_ops;

/* Set by the hub before http_start; handlers read it. */
extern struct api *api_ctx;

int api_init(struct api *a, struct store *s, struct pipeline *p);
void api_release(struct api *a);
/* The tailer and syslog listener /ready reports on; NULL, NULL before stopping them. */
struct tailer;
struct syslog_listener;
void api_set_sources(struct api *a, struct tailer *t, struct syslog_listener *l);
/* Parse "name:key,name2:key2" (SIEM_API_KEYS); every key has API_KEY_MIN characters or
 * more. */
#define API_KEY_MIN 20
int api_load_env_keys(struct api *a, const char *spec);
/* Start the brute-force limits (once, before http_start); api_release ends them. */
int api_set_limits(struct api *a, const struct api_limits *l);

/* Handlers, one group per file. */
/* A store call failed with rc: 503 + Retry-After while the store's database cannot be
 * reached (SIEM_EUNAVAIL), else 500; error names what failed. */
enum http_result api_store_error(struct http_req *r, int rc, const char *error);
enum http_result api_ingest(struct http_req *r);
void api_ingest_register_metrics(void);
enum http_result api_events_list(struct http_req *r);
enum http_result api_events_get(struct http_req *r);
/* GET /events' filters from r's query string into q (strings in a), taking only the
 * parameters in known (a NULL-terminated subset of GET /events'); SIEM_EPARSE with err
 * naming the parameter. */
struct arena;
int api_events_filter(struct http_req *r, const char *const *known, struct event_query *q,
		      struct arena *a, char *err, size_t errlen);
/* GET /events/stream (events_stream.c), and the writer's hook that feeds it: every stored
 * event, after its commit; never blocks. */
enum http_result api_events_stream(struct http_req *r);
void events_stream_publish(const struct event *ev);
enum http_result api_apps(struct http_req *r);
enum http_result api_hosts(struct http_req *r);
enum http_result api_event_types(struct http_req *r);
enum http_result api_login(struct http_req *r);
enum http_result api_logout(struct http_req *r);
enum http_result api_me(struct http_req *r);
enum http_result api_audit(struct http_req *r);
void api_session_register_metrics(void);
enum http_result api_health(struct http_req *r);
enum http_result api_ready(struct http_req *r);
enum http_result api_keys_list(struct http_req *r);
enum http_result api_keys_create(struct http_req *r);
enum http_result api_keys_delete(struct http_req *r);
/* Count events stored from a key (id 0: a SIEM_API_KEYS key, by name). */
void api_keys_count(struct api *a, int64_t id, const char *name, uint64_t events, int64_t now_us);
/* Add the events counted since the last call to the store keys' rows (store_key_add_events);
 * called with the keys' last-seen updates, by GET /keys, and at stop. */
void api_keys_flush(struct api *a);
enum http_result api_metrics(struct http_req *r);
/* GET /openapi.json (openapi.c): the document made from api_routes[]. */
enum http_result api_openapi(struct http_req *r);
json_t *api_openapi_document(const char *prefix);
enum http_result api_dead_letters(struct http_req *r);
/* POST /dead-letters/replay (replay.c). */
enum http_result api_dead_letters_replay(struct http_req *r);
void api_replay_register_metrics(void);
/* settings.c */
enum http_result api_channel_test(struct http_req *r);
enum http_result api_config(struct http_req *r);
enum http_result api_sources(struct http_req *r);
/* users.c */
enum http_result api_users_list(struct http_req *r);
enum http_result api_users_create(struct http_req *r);
enum http_result api_users_put(struct http_req *r);
enum http_result api_users_password(struct http_req *r);
enum http_result api_users_delete(struct http_req *r);

/* Cursor text <-> (ts, seq). */
void cursor_encode(int64_t ts, int64_t seq, char out[33]);
int cursor_decode(const char *s, int64_t *ts, int64_t *seq);

/* {key: list} (200) for a list the store filled, or when rc < 0 a 500 "query failed" (list
 * is dropped). */
enum http_result api_reply_list(struct http_req *r, int rc, const char *key, json_t *list);

#endif
