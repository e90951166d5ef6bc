/* enrich.c — the enrichment stage: loads the databases and lists the configuration names into
 * an immutable snapshot that the receivers read, builds and swaps in a new one when a file
 * changes (or on SIGHUP), and runs the enrichers over each batch.
 *
 * Replacing a list or database: write the new file beside the old one and rename() it over
 * it. A file rewritten in place is reloaded only once its size and time stayed the same for
 * one check, which catches most but not every slow writer. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "enrich/enrich_int.h"

#define PROBLEMS_MAX (16 * 1024)
#define FILE_PARTS 3 /* EN_GEOIP, EN_ASN, EN_INTEL: loaded from files */

/* ---- metrics ---- */

#define PER_ENRICHER(name, help)                                           \
	{                                                                  \
		METRIC_COUNTER_INIT(name, "enricher=\"geoip\"", help),     \
		    METRIC_COUNTER_INIT(name, "enricher=\"asn\"", help),   \
		    METRIC_COUNTER_INIT(name, "enricher=\"intel\"", help), \
		    METRIC_COUNTER_INIT(name, "enricher=\"rdns\"", help),  \
	}

struct metric enrich_m_lookups[EN_N] = PER_ENRICHER(
    "minisiem_enrich_lookups_total",
    "Lookups made by each enricher: one per address or name looked up (rdns: DNS queries sent).");
struct metric enrich_m_hits[EN_N] = PER_ENRICHER(
    "minisiem_enrich_hits_total",
    "Lookups that found something (an entry in the database, a listed indicator, a DNS name).");
struct metric enrich_m_errors[EN_N] = PER_ENRICHER(
    "minisiem_enrich_errors_total",
    "Lookups that failed: unreadable database data, no room left in the batch for a value, DNS "
    "timeouts, refusals and names that are not host names.");
struct metric enrich_m_reloads[EN_N] =
    PER_ENRICHER("minisiem_enrich_reloads_total",
		 "Databases or list directories reloaded after their files changed or on SIGHUP.");
struct metric enrich_m_reload_errors[EN_N] =
    PER_ENRICHER("minisiem_enrich_reload_errors_total",
		 "Reloads that failed; the data loaded before stays in use.");
struct metric enrich_m_skipped_private = METRIC_COUNTER_INIT(
    "minisiem_enrich_skipped_total", "reason=\"private\"",
    "Events whose source address was not looked up in GeoIP databases or the DNS, by reason "
    "(private: a private, loopback, link-local, reserved or documentation address).");
struct metric enrich_m_intel_lists =
    METRIC_GAUGE_INIT("minisiem_intel_lists", NULL, "Threat-intelligence lists loaded.");
struct metric enrich_m_intel_ip = METRIC_GAUGE_INIT(
    "minisiem_intel_indicators", "kind=\"ip\"",
    "Threat-intelligence indicators loaded, by kind (ip: addresses and networks).");
struct metric enrich_m_intel_domain = METRIC_GAUGE_INIT(
    "minisiem_intel_indicators", "kind=\"domain\"",
    "Threat-intelligence indicators loaded, by kind (ip: addresses and networks).");
struct metric enrich_m_rdns_entries = METRIC_GAUGE_INIT(
    "minisiem_rdns_cache_entries", NULL,
    "Addresses in the reverse DNS cache (names, failures and lookups under way).");
struct metric enrich_m_rdns_dropped = METRIC_COUNTER_INIT(
    "minisiem_rdns_queue_dropped_total", NULL,
    "Reverse DNS lookups not made because the queue was full (a later event asks again).");
struct metric enrich_m_rdns_cache_hits =
    METRIC_COUNTER_INIT("minisiem_rdns_cache_hits_total", NULL,
			"Events whose source address had a fresh reverse DNS answer cached.");
struct metric enrich_m_rdns_cache_misses = METRIC_COUNTER_INIT(
    "minisiem_rdns_cache_misses_total", NULL,
    "Events whose source address had no fresh reverse DNS answer cached (asked, or being asked).");

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_register(void)
{
	for (int k = 0; k < EN_N; k++) {
		metric_register(&enrich_m_lookups[k]);
		metric_register(&enrich_m_hits[k]);
		metric_register(&enrich_m_errors[k]);
	}
	for (int k = 0; k < FILE_PARTS; k++) {
		metric_register(&enrich_m_reloads[k]);
		metric_register(&enrich_m_reload_errors[k]);
	}
	metric_register(&enrich_m_skipped_private);
	metric_register(&enrich_m_intel_lists);
	metric_register(&enrich_m_intel_ip);
	metric_register(&enrich_m_intel_domain);
	metric_register(&enrich_m_rdns_entries);
	metric_register(&enrich_m_rdns_dropped);
	metric_register(&enrich_m_rdns_cache_hits);
	metric_register(&enrich_m_rdns_cache_misses);
}

/* ---- which addresses are looked up ---- */

bool enrich_ip_public(const uint8_t ip[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (!memcmp(ip, mapped, sizeof(mapped))) {
		unsigned a = ip[12], b = ip[13], c = ip[14];
		return !(a == 0 || a == 10 || a == 127 || a >= 224 ||  /* this, private, loop,
									  multicast, reserved */
			 (a == 100 && (b & 0xc0) == 64) ||	       /* CGNAT 100.64/10 */
			 (a == 169 && b == 254) ||		       /* link-local */
			 (a == 172 && (b & 0xf0) == 16) ||	       /* 172.16/12 */
			 (a == 192 && b == 168) ||		       /* 192.168/16 */
			 (a == 192 && b == 0 && (c == 0 || c == 2)) || /* IETF, TEST-NET-1 */
			 (a == 192 && b == 88 && c == 99) ||	       /* 6to4 relay */
			 (a == 198 && (b == 18 || b == 19)) ||	       /* benchmarking */
			 (a == 198 && b == 51 && c == 100) ||	       /* TEST-NET-2 */
			 (a == 203 && b == 0 && c == 113));	       /* TEST-NET-3 */
	}
	/* Only global unicast 2000::/3 is public: outside it are ::, ::1, the IPv4-compatible and
	 * NAT64 forms, 100::/64, ULA fc00::/7, link-local fe80::/10, site-local and multicast. */
	if ((ip[0] & 0xe0) != 0x20)
		return false;
	if (ip[0] == 0x20 && ip[1] == 0x01) {
		if (ip[2] == 0x0d && ip[3] == 0xb8) /* documentation 2001:db8::/32 */
			return false;
		if (ip[2] == 0 && ip[3] == 2 && ip[4] == 0 && ip[5] == 0) /* 2001:2::/48 */
			return false;
		if (ip[2] == 0 && ((ip[3] & 0xf0) == 0x10 || (ip[3] & 0xf0) == 0x20)) /* ORCHID */
			return false;
	}
	if (ip[0] == 0x3f && ip[1] == 0xff && (ip[2] & 0xf0) == 0) /* documentation 3fff::/20 */
		return false;
	return true;
}

/* ---- snapshots ---- */

/* One loaded database or list directory, shared by the snapshots that hold it. */
struct part {
	_Atomic long ref;
	int kind; /* EN_GEOIP, EN_ASN, EN_INTEL */
	void *obj;
};

struct snap {
	_Atomic long ref;
	struct part *p[FILE_PARTS];
};

static void part_put(struct part *p)
{
	if (!p || atomic_fetch_sub_explicit(&p->ref, 1, memory_order_acq_rel) != 1)
		return;
	if (p->kind == EN_INTEL)
		intel_free(p->obj);
	else
		geo_close(p->obj);
	free(p);
}

static void snap_put(struct snap *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->ref, 1, memory_order_acq_rel) != 1)
		return;
	for (int k = 0; k < FILE_PARTS; k++)
		part_put(s->p[k]);
	free(s);
}

/* What a file (or a directory's lists) looked like: reloaded when that changes. */
struct fp {
	bool exists;
	uint64_t h;
};

struct source {
	const char *path;
	struct fp loaded, pending;
	bool has_pending;
};

struct enrich {
	char *geoip_db, *asn_db, *intel_dir, *rdns_servers;
	int intel_min_confidence;
	int check_ms;

	pthread_mutex_t mu; /* guards cur, prob, nprob, stop */
	pthread_cond_t cv;
	struct snap *cur;
	struct strbuf prob[EN_N];
	int nprob[EN_N];
	bool stop;

	pthread_mutex_t reload_mu; /* one reload at a time; guards src */
	struct source src[FILE_PARTS];
	pthread_t watcher;
	bool watching;

	struct rdns *rdns;
};

static struct snap *snap_get(struct enrich *e)
{
	pthread_mutex_lock(&e->mu);
	struct snap *s = e->cur;
	if (s)
		atomic_fetch_add_explicit(&s->ref, 1, memory_order_relaxed);
	pthread_mutex_unlock(&e->mu);
	return s;
}

/* A new snapshot: the current one with part k replaced by np (which it takes). */
static int swap_part(struct enrich *e, int k, struct part *np)
{
	struct snap *ns = calloc(1, sizeof(*ns));
	if (!ns) {
		part_put(np);
		return -ENOMEM;
	}
	atomic_init(&ns->ref, 1);
	pthread_mutex_lock(&e->mu);
	struct snap *old = e->cur;
	for (int i = 0; i < FILE_PARTS; i++) {
		ns->p[i] = i == k ? np : old ? old->p[i] : NULL;
		if (i != k && ns->p[i])
			atomic_fetch_add_explicit(&ns->p[i]->ref, 1, memory_order_relaxed);
	}
	e->cur = ns;
	pthread_mutex_unlock(&e->mu);
	snap_put(old); /* freed when its last reader is done */
	return 0;
}

static void set_problem(struct enrich *e, int k, struct strbuf *text, int n)
{
	pthread_mutex_lock(&e->mu);
	struct strbuf old = e->prob[k];
	e->prob[k] = *text;
	e->nprob[k] = n;
	pthread_mutex_unlock(&e->mu);
	strbuf_release(&old);
	strbuf_init(text, PROBLEMS_MAX);
}

static const char *const EN_NAME[EN_N] = {"geoip", "asn", "intel", "rdns"};

/* 1234567 -> "1,234,567" */
static const char *thousands(size_t v, char buf[32])
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%zu", v), o = 0;
	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

/* Load part k from its file; on success it replaces what was loaded, on failure what was
 * loaded stays and the reason is kept for enrich_problems. */
static void load_part(struct enrich *e, int k, bool initial)
{
	struct strbuf prob;
	int nprob = 0, rc = 0;
	strbuf_init(&prob, PROBLEMS_MAX);
	const char *path = e->src[k].path;
	int64_t t0 = clock_mono_us();
	void *obj = NULL;
	bool keep_old = false;

	if (k == EN_INTEL) {
		struct intel *in = NULL;
		rc = intel_load(&in, path, e->intel_min_confidence, &prob, &nprob);
		if (rc == -ENOMEM && !nprob) {
			(void)strbuf_addf(&prob, "intel: %s: out of memory", path);
			nprob++;
		}
		obj = in;
		if (in) {
			struct snap *s = snap_get(e);
			if (s && s->p[EN_INTEL] && intel_lost_list(in, s->p[EN_INTEL]->obj))
				keep_old = true;
			snap_put(s);
		}
	} else {
		char err[512];
		struct geo_db *g = NULL;
		rc = geo_open(&g, path, k == EN_ASN ? GEO_ASN : GEO_LOCATION, err, sizeof(err));
		if (rc < 0) {
			(void)strbuf_addf(&prob, "%s: %s: %s", EN_NAME[k], path,
					  rc == -ENOMEM ? "out of memory" : err);
			nprob++;
		}
		obj = g;
	}
	double secs = (double)(clock_mono_us() - t0) / 1e6;

	if (keep_old) {
		log_warn("intel",
			 "%s: a list loaded before failed to load: keeping the lists loaded "
			 "before (%s)",
			 path, prob.p ? prob.p : "");
		intel_free(obj);
		obj = NULL;
	}
	if (!obj) {
		if (!keep_old)
			log_error("enrich", "%s", prob.p ? prob.p : "cannot load");
		if (!initial)
			metric_add(&enrich_m_reload_errors[k], 1);
		set_problem(e, k, &prob, nprob);
		strbuf_release(&prob);
		return;
	}

	struct part *p = calloc(1, sizeof(*p));
	if (!p) {
		if (k == EN_INTEL)
			intel_free(obj);
		else
			geo_close(obj);
		log_error(EN_NAME[k], "%s: out of memory", path);
		strbuf_release(&prob);
		return;
	}
	atomic_init(&p->ref, 1);
	p->kind = k;
	p->obj = obj;
	if (nprob) /* lists left out of a load that went on without them */
		log_error("enrich", "%s", prob.p);

	if (k == EN_INTEL) {
		const struct intel_stats *st = intel_stats(obj);
		char a[32], b[32], c[32], d[32], f[32], more[96] = "";
		if (st->bad || st->below_conf)
			snprintf(more, sizeof(more),
				 "; %s entries skipped, %s under the minimum confidence",
				 thousands(st->bad, a), thousands(st->below_conf, b));
		log_info("intel",
			 "%s lists, %s indicators (%s IPv4 ranges, %s IPv6 ranges, %s domains) in "
			 "%.1f s%s",
			 thousands(st->lists, a), thousands(st->ip4 + st->ip6 + st->domains, b),
			 thousands(st->ip4, c), thousands(st->ip6, d), thousands(st->domains, f),
			 secs, more);
		metric_set(&enrich_m_intel_lists, (int64_t)st->lists);
		metric_set(&enrich_m_intel_ip, (int64_t)(st->ip4 + st->ip6));
		metric_set(&enrich_m_intel_domain, (int64_t)st->domains);
	} else {
		char desc[128];
		geo_describe(obj, desc, sizeof(desc));
		log_info(EN_NAME[k], "%s: %s in %.1f s", path, desc, secs);
	}
	if (swap_part(e, k, p) < 0) {
		log_error(EN_NAME[k], "%s: out of memory", path);
		strbuf_release(&prob);
		return;
	}
	if (!initial)
		metric_add(&enrich_m_reloads[k], 1);
	set_problem(e, k, &prob, nprob);
	strbuf_release(&prob);
}

/* ---- watching the files ---- */

static uint64_t stat_hash(uint64_t h, const struct stat *st)
{
	uint64_t v[5] = {(uint64_t)st->st_dev, (uint64_t)st->st_ino, (uint64_t)st->st_size,
			 (uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec};
	return hash_cont(h, v, sizeof(v));
}

static struct fp fingerprint(int k, const char *path)
{
	struct fp f = {false, 0};
	struct stat st;
	if (k != EN_INTEL) {
		if (stat(path, &st) == 0) {
			f.exists = true;
			f.h = stat_hash(HASH_FNV_OFFSET, &st);
		}
		return f;
	}
	DIR *d = opendir(path);
	if (!d)
		return f;
	f.exists = true;
	struct dirent *de;
	/* A sum of each list's hash: the order readdir gives does not matter. */
	while ((de = readdir(d))) {
		if (!intel_file_wanted(de->d_name) || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		uint64_t h = hash_bytes(de->d_name, strlen(de->d_name) + 1);
		f.h += stat_hash(h, &st);
	}
	closedir(d);
	return f;
}

static bool fp_eq(struct fp a, struct fp b)
{
	return a.exists == b.exists && a.h == b.h;
}

/* Reload part k if its file changed and has stayed the same since the last check (or at
 * once when forced). */
static void check_part(struct enrich *e, int k, bool force)
{
	pthread_mutex_lock(&e->reload_mu);
	struct source *s = &e->src[k];
	struct fp now = fingerprint(k, s->path);
	if (!force) {
		if (fp_eq(now, s->loaded)) {
			s->has_pending = false;
			goto out;
		}
		if (!s->has_pending || !fp_eq(now, s->pending)) {
			s->pending = now;
			s->has_pending = true;
			goto out;
		}
	}
	s->has_pending = false;
	s->loaded = now;
	load_part(e, k, false);
out:
	pthread_mutex_unlock(&e->reload_mu);
}

static void *watch_main(void *arg)
{
	struct enrich *e = arg;
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		struct timespec dl = clock_deadline_ms(e->check_ms);
		int rc = 0;
		while (!e->stop && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&e->cv, &e->mu, &dl);
		if (e->stop)
			break;
		pthread_mutex_unlock(&e->mu);
		for (int k = 0; k < FILE_PARTS; k++)
			if (e->src[k].path)
				check_part(e, k, false);
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* ---- the stage ---- */

static int dup_opt(char **dst, const char *s)
{
	if (!s || !s[0])
		return 0;
	return (*dst = strdup(s)) ? 0 : -ENOMEM;
}

int enrich_open(struct enrich **out, const struct enrich_config *cfg)
{
	int rc = 0;
	*out = NULL;
	bool any = (cfg->geoip_db && cfg->geoip_db[0]) || (cfg->asn_db && cfg->asn_db[0]) ||
		   (cfg->intel_dir && cfg->intel_dir[0]) || cfg->rdns;
	if (!any)
		return 0;
	pthread_once(&metrics_once, metrics_register);

	struct enrich *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->reload_mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	for (int k = 0; k < EN_N; k++)
		strbuf_init(&e->prob[k], PROBLEMS_MAX);
	if (dup_opt(&e->geoip_db, cfg->geoip_db) < 0 || dup_opt(&e->asn_db, cfg->asn_db) < 0 ||
	    dup_opt(&e->intel_dir, cfg->intel_dir) < 0 ||
	    dup_opt(&e->rdns_servers, cfg->rdns_servers) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	e->intel_min_confidence = cfg->intel_min_confidence;
	e->check_ms = cfg->reload_check_ms > 0 ? cfg->reload_check_ms : 5000;
	e->src[EN_GEOIP].path = e->geoip_db;
	e->src[EN_ASN].path = e->asn_db;
	e->src[EN_INTEL].path = e->intel_dir;

	bool files = false;
	for (int k = 0; k < FILE_PARTS; k++) {
		if (!e->src[k].path)
			continue;
		files = true;
		e->src[k].loaded = fingerprint(k, e->src[k].path);
		load_part(e, k, true);
	}

	if (cfg->rdns) {
		struct enrich_config rc_cfg = *cfg;
		rc_cfg.rdns_servers = e->rdns_servers;
		char err[512] = "";
		rc = rdns_start(&e->rdns, &rc_cfg, err, sizeof(err));
		if (rc == -ENOMEM)
			goto fail;
		if (rc < 0) {
			/* A bad server list or resolver setup: the hub runs without names. */
			log_error("rdns", "%s", err);
			struct strbuf p;
			strbuf_init(&p, PROBLEMS_MAX);
			(void)strbuf_addf(&p, "rdns: %s", err);
			set_problem(e, EN_RDNS, &p, 1);
			strbuf_release(&p);
			rc = 0;
		}
	}
	if (files) {
		if ((rc = -pthread_create(&e->watcher, NULL, watch_main, e)) < 0) {
			log_error("enrich", "cannot start the reload thread: %s",
				  siem_strerror(rc));
			goto fail;
		}
		e->watching = true;
	}
	*out = e;
	return 0;
fail:
	enrich_close(e);
	return rc;
}

void enrich_events(struct enrich *e, struct event *ev, size_t n, struct arena *a)
{
	if (!e || n == 0)
		return;
	struct enrich_tally t;
	memset(&t, 0, sizeof(t));
	struct snap *s = snap_get(e);
	const struct geo_db *geo = s && s->p[EN_GEOIP] ? s->p[EN_GEOIP]->obj : NULL;
	const struct geo_db *asn = s && s->p[EN_ASN] ? s->p[EN_ASN]->obj : NULL;
	const struct intel *in = s && s->p[EN_INTEL] ? s->p[EN_INTEL]->obj : NULL;
	bool by_address = geo || asn || e->rdns;

	/* Per event: GeoIP and ASN, then the cached name, then the lists (which see the name). */
	for (size_t i = 0; by_address && i < n; i++) {
		if (!(ev[i].flags & EV_HAS_IP))
			continue;
		if (!enrich_ip_public(ev[i].ip)) {
			t.skipped_private++;
			continue;
		}
		if (geo)
			geo_enrich(geo, &ev[i], a, &t);
		if (asn)
			geo_enrich(asn, &ev[i], a, &t);
	}
	if (e->rdns)
		rdns_fill(e->rdns, ev, n, a, &t);
	for (size_t i = 0; in && i < n; i++)
		intel_enrich(in, &ev[i], a, &t);
	snap_put(s);

	for (int k = 0; k < EN_N; k++) {
		if (t.lookups[k])
			metric_add(&enrich_m_lookups[k], t.lookups[k]);
		if (t.hits[k])
			metric_add(&enrich_m_hits[k], t.hits[k]);
		if (t.errors[k])
			metric_add(&enrich_m_errors[k], t.errors[k]);
	}
	if (t.skipped_private)
		metric_add(&enrich_m_skipped_private, t.skipped_private);
}

void enrich_reload(struct enrich *e)
{
	if (!e)
		return;
	for (int k = 0; k < FILE_PARTS; k++)
		if (e->src[k].path)
			check_part(e, k, true);
}

int enrich_problems(struct enrich *e, struct strbuf *out)
{
	if (!e)
		return 0;
	int n = 0;
	pthread_mutex_lock(&e->mu);
	for (int k = 0; k < EN_N; k++) {
		if (!e->nprob[k] || !e->prob[k].n)
			continue;
		(void)strbuf_addf(out, "%s%s", out->n ? "; " : "", e->prob[k].p);
		n += e->nprob[k];
	}
	pthread_mutex_unlock(&e->mu);
	return n;
}

void enrich_close(struct enrich *e)
{
	if (!e)
		return;
	if (e->watching) {
		pthread_mutex_lock(&e->mu);
		e->stop = true;
		pthread_cond_broadcast(&e->cv);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->watcher, NULL);
	}
	rdns_stop(e->rdns);
	snap_put(e->cur);
	for (int k = 0; k < EN_N; k++)
		strbuf_release(&e->prob[k]);
	free(e->geoip_db);
	free(e->asn_db);
	free(e->intel_dir);
	free(e->rdns_servers);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->reload_mu);
	pthread_mutex_destroy(&e->mu);
	free(e);
}
