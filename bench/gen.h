/* gen.h — realistic synthetic security events for the benchmarks, shared by loadgen
 * (HTTP ingest) and ceiling (straight SQLite inserts) so both write the same content. */
#ifndef BENCH_GEN_H
#define BENCH_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pools are fixed (built from a constant seed) so that queries can name known values;
 * the seed only changes which events are drawn from them. */
#define GEN_HOSTS 50
#define GEN_USERS 500
#define GEN_IPS_PUBLIC 9500 /* public IPv4: the attackers and remote users */
#define GEN_IPS_LAN 300	    /* 192.168/16 and 10/8: Pi-hole clients, internal hosts */
#define GEN_IPS_V6 200
#define GEN_IPS (GEN_IPS_PUBLIC + GEN_IPS_LAN + GEN_IPS_V6)

/* Fixed widths of the two fields patched in place in rendered JSON. */
#define GEN_ID_LEN 36 /* xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx */
#define GEN_TS_LEN 27 /* YYYY-MM-DDTHH:MM:SS.ffffffZ */

/* The rare word every LOG_TAMPERING message carries (about 1 event in 10,000): a `q`
 * search for it is selective. */
#define GEN_RARE_WORD "vacuumed"

struct gen {
	uint64_t rng;	  /* content stream, from --seed */
	uint64_t id_salt; /* per process, from getrandom: ids differ between runs */
	uint64_t id_tail; /* per process: the 58 id bits not taken by the counter */
};

/* One event in the hub's schema. Absent optional strings are NULL or "". */
struct gen_event {
	int64_t ts; /* microseconds since the epoch */
	uint8_t id[16];
	const char *host, *os_type, *event_type, *level, *app, *user;
	int severity;
	char source_ip[46];
	char message[512];
	char raw[1024];
	/* application events only */
	bool has_http;
	char request_id[40];
	const char *http_method, *user_agent, *error_type; /* error_type may be NULL */
	char http_path[160];
	int http_status;
	double latency_ms;
	char data[512]; /* compact JSON object, "" when none */
};

/* Returns 0, or -1 when the system has no random source for the id salt. */
int gen_init(struct gen *g, uint64_t seed);
/* Draw the next event. Its id is gen_id(g, 0); callers patch ids per use. */
void gen_next(struct gen *g, struct gen_event *ev, int64_t now_us);

/* The n-th id of this process: a valid UUIDv4 that looks random (a bijective mix of n
 * fills 64 of its bits) and is unique for every n, so unique ids need only a counter. */
void gen_id(const struct gen *g, uint64_t n, uint8_t out[16]);
/* The same id as 36 characters of text, written in place (no NUL). */
void gen_id_text(const struct gen *g, uint64_t n, char *out);

/* Timestamp text, written in place (no NUL). The cache keeps the formatted second. */
struct gen_tscache {
	int64_t sec;
	char prefix[20]; /* "YYYY-MM-DDTHH:MM:SS." */
};
void gen_ts_text(struct gen_tscache *c, int64_t us, char *out);
int64_t gen_now_us(void);

/* Render ev as one JSON object into buf. On success returns the length and sets the
 * offsets of the 36 id characters and the 27 timestamp characters; returns 0 when buf
 * is too small. */
size_t gen_json(const struct gen_event *ev, char *buf, size_t cap, size_t *id_off, size_t *ts_off);

/* Pool address i (0..GEN_IPS-1) as text; 0..GEN_IPS_PUBLIC-1 are public IPv4. */
const char *gen_pool_ip(size_t i);

/* A count for a command-line option: digits with an optional k (thousand) or M (million)
 * suffix, within min..max. 0, or -1 when it is not one. */
int gen_parse_count(const char *s, long long min, long long max, long long *out);
/* CPU seconds (user and system) this process used so far. */
double gen_cpu_seconds(void);

#endif
