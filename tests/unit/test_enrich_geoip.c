/* test_enrich_geoip.c — GeoIP and ASN enrichment against MaxMind's test databases: the
 * verified lookups of shared/data/maxmind/SOURCE.md, addresses never looked up, damaged and
 * wrong databases refused or read without a crash, hot reload by rename(), and the problems
 * GET /ready shows. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "enrich/enrich.h"
#include "enrich/enrich_int.h"
#include "testdata.h"

#define DEADLINE_MS 10000

static char DATA[600];	   /* shared/data/maxmind */
static char TMP[PATH_MAX]; /* this run's temporary directory */
static struct arena A;

/* A path from a format, in one of a few rotating buffers. */
static const char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *pathf(const char *fmt, ...)
{
	static char p[8][PATH_MAX];
	static int k;
	k = (k + 1) % 8;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p[k], sizeof(p[k]), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(p[k]))
		fail_msg("path too long");
	return p[k];
}

static const char *db(const char *name)
{
	return pathf("%s/test-data/%s", DATA, name);
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_ERROR);
	const char *d = test_data_dir("maxmind/SOURCE.md");
	DATA[0] = '\0';
	if (d)
		snprintf(DATA, sizeof(DATA), "%s/maxmind", d);
	char tmpl[] = "/tmp/test_enrich_geoip.XXXXXX";
	if (!mkdtemp(tmpl) || !realpath(tmpl, TMP))
		return -1;
	arena_init(&A, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_release(&A);
	test_rm_tree(TMP);
	return 0;
}

static void need_data(void)
{
	if (!DATA[0])
		skip();
}

static struct event ev_ip(const char *ip)
{
	struct event ev;
	memset(&ev, 0, sizeof(ev));
	if (ip_parse(ip, strlen(ip), ev.ip) != 0)
		fail_msg("bad test address %s", ip);
	ev.flags = EV_HAS_IP;
	return ev;
}

static bool sv_is(struct sv v, const char *s)
{
	return v.p && v.n == strlen(s) && !memcmp(v.p, s, v.n);
}

#define assert_sv(v, s)                                                                 \
	do {                                                                            \
		if (!sv_is((v), (s)))                                                   \
			fail_msg("%s is '%.*s', want '%s'", #v, (v).p ? (int)(v).n : 6, \
				 (v).p ? (v).p : "(none)", (s));                        \
	} while (0)

static struct enrich *open_cfg(const char *geo, const char *asn)
{
	struct enrich_config c;
	memset(&c, 0, sizeof(c));
	c.geoip_db = geo;
	c.asn_db = asn;
	c.reload_check_ms = 20;
	struct enrich *e = NULL;
	assert_int_equal(enrich_open(&e, &c), 0);
	assert_non_null(e);
	return e;
}

static struct event lookup(struct enrich *e, const char *ip)
{
	struct event ev = ev_ip(ip);
	enrich_events(e, &ev, 1, &A);
	return ev;
}

/* ---- the verified lookups ---- */

static void test_city_db(void **state)
{
	(void)state;
	need_data();
	int64_t err0 = metric_get(&enrich_m_errors[EN_GEOIP]);
	struct enrich *e = open_cfg(db("GeoIP2-City-Test.mmdb"), NULL);
	struct strbuf p;
	strbuf_init(&p, 4096);
	assert_int_equal(enrich_problems(e, &p), 0);
	strbuf_release(&p);

	struct event ev = lookup(e, "81.2.69.142");
	assert_sv(ev.geo_country, "GB");
	assert_sv(ev.geo_country_name, "United Kingdom");
	assert_sv(ev.geo_city, "London");
	assert_true(ev.flags & EV_HAS_GEO_LOC);
	assert_true(ev.geo_lat > 51.5141 && ev.geo_lat < 51.5143);
	assert_true(ev.geo_lon > -0.0932 && ev.geo_lon < -0.0930);
	assert_false(ev.flags & EV_HAS_ASN);
	assert_null(ev.geo_as_org.p);

	ev = lookup(e, "89.160.20.112");
	assert_sv(ev.geo_country, "SE");
	assert_sv(ev.geo_city, "Link\xc3\xb6ping");

	ev = lookup(e, "216.160.83.56");
	assert_sv(ev.geo_country, "US");
	assert_sv(ev.geo_city, "Milton");

	ev = lookup(e, "67.43.156.1"); /* a country without a city */
	assert_sv(ev.geo_country, "BT");
	assert_null(ev.geo_city.p);

	ev = lookup(e, "2001:218::1"); /* IPv6 */
	assert_sv(ev.geo_country, "JP");
	assert_null(ev.geo_city.p);

	ev = lookup(e, "8.8.8.8"); /* public, not in the test data */
	assert_null(ev.geo_country.p);
	assert_false(ev.flags & EV_HAS_GEO_LOC);

	/* An IPv4 address written in its mapped IPv6 form is the same address. */
	ev = lookup(e, "::ffff:81.2.69.160");
	assert_sv(ev.geo_city, "London");
	/* A value the record does not have is no error. */
	assert_int_equal(metric_get(&enrich_m_errors[EN_GEOIP]), err0);
	enrich_close(e);
}

static void test_country_db(void **state)
{
	(void)state;
	need_data();
	struct enrich *e = open_cfg(db("GeoIP2-Country-Test.mmdb"), NULL);
	struct event ev = lookup(e, "81.2.69.142");
	assert_sv(ev.geo_country, "GB");
	assert_null(ev.geo_city.p);
	assert_false(ev.flags & EV_HAS_GEO_LOC);
	ev = lookup(e, "89.160.20.112");
	assert_sv(ev.geo_country, "SE");
	ev = lookup(e, "149.101.100.1");
	assert_sv(ev.geo_country, "US");
	ev = lookup(e, "2001:218::1");
	assert_sv(ev.geo_country, "JP");
	ev = lookup(e, "214.0.0.1"); /* in the City database only */
	assert_null(ev.geo_country.p);
	enrich_close(e);
}

static void test_asn_db(void **state)
{
	(void)state;
	need_data();
	int64_t look0 = metric_get(&enrich_m_lookups[EN_ASN]);
	int64_t hit0 = metric_get(&enrich_m_hits[EN_ASN]);
	int64_t aerr0 = metric_get(&enrich_m_errors[EN_ASN]);
	struct enrich *e = open_cfg(NULL, db("GeoLite2-ASN-Test.mmdb"));
	struct event ev = lookup(e, "89.160.20.112");
	assert_true(ev.flags & EV_HAS_ASN);
	assert_int_equal(ev.geo_asn, 29518);
	assert_non_null(ev.geo_as_org.p);
	assert_null(ev.geo_country.p);

	ev = lookup(e, "1.0.0.1");
	assert_int_equal(ev.geo_asn, 15169);
	assert_sv(ev.geo_as_org, "Google Inc.");
	ev = lookup(e, "12.81.92.1");
	assert_int_equal(ev.geo_asn, 7018);
	assert_sv(ev.geo_as_org, "AT&T Services");
	ev = lookup(e, "216.160.83.56");
	assert_int_equal(ev.geo_asn, 209);

	ev = lookup(e, "81.2.69.142"); /* not in the ASN test data */
	assert_false(ev.flags & EV_HAS_ASN);
	assert_null(ev.geo_as_org.p);
	assert_int_equal(metric_get(&enrich_m_lookups[EN_ASN]) - look0, 5);
	assert_int_equal(metric_get(&enrich_m_hits[EN_ASN]) - hit0, 4);
	assert_int_equal(metric_get(&enrich_m_errors[EN_ASN]), aerr0);
	enrich_close(e);

	/* Both databases on one event; an ISP database serves as the ASN one. */
	e = open_cfg(db("GeoIP2-City-Test.mmdb"), db("GeoIP2-ISP-Test.mmdb"));
	struct strbuf p;
	strbuf_init(&p, 4096);
	assert_int_equal(enrich_problems(e, &p), 0);
	strbuf_release(&p);
	enrich_close(e);
	e = open_cfg(db("GeoIP2-City-Test.mmdb"), db("GeoLite2-ASN-Test.mmdb"));
	ev = lookup(e, "89.160.20.112");
	assert_sv(ev.geo_country, "SE");
	assert_int_equal(ev.geo_asn, 29518);
	enrich_close(e);
}

/* ---- addresses that are never looked up ---- */

static void test_private_not_looked_up(void **state)
{
	(void)state;
	need_data();
	static const char *const priv[] = {
	    "10.0.0.1",	    "127.0.0.1",       "192.168.1.1",	   "172.16.5.4",      "169.254.1.1",
	    "100.64.0.1",   "0.0.0.0",	       "224.0.0.1",	   "255.255.255.255", "192.0.2.1",
	    "198.51.100.7", "203.0.113.9",     "198.18.0.1",	   "240.0.0.1",	      "::1",
	    "::",	    "fe80::1",	       "fc00::1",	   "fd12:3456::1",    "ff02::1",
	    "2001:db8::1",  "::ffff:10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a00:1",  "::10.0.0.1",
	};
	size_t n = sizeof(priv) / sizeof(*priv);
	int64_t skip0 = metric_get(&enrich_m_skipped_private);
	int64_t look0 = metric_get(&enrich_m_lookups[EN_GEOIP]);
	struct enrich *e = open_cfg(db("GeoIP2-City-Test.mmdb"), db("GeoLite2-ASN-Test.mmdb"));
	for (size_t i = 0; i < n; i++) {
		assert_false(enrich_ip_public(ev_ip(priv[i]).ip));
		struct event ev = lookup(e, priv[i]);
		assert_null(ev.geo_country.p);
		assert_false(ev.flags & (EV_HAS_ASN | EV_HAS_GEO_LOC));
	}
	assert_int_equal(metric_get(&enrich_m_skipped_private) - skip0, (int64_t)n);
	assert_int_equal(metric_get(&enrich_m_lookups[EN_GEOIP]) - look0, 0);

	/* No address at all: nothing looked up, nothing counted as skipped. */
	struct event ev;
	memset(&ev, 0, sizeof(ev));
	enrich_events(e, &ev, 1, &A);
	assert_null(ev.geo_country.p);
	assert_int_equal(metric_get(&enrich_m_skipped_private) - skip0, (int64_t)n);
	enrich_close(e);

	static const char *const pub[] = {"81.2.69.142",  "8.8.8.8",	 "1.1.1.1",   "2001:218::1",
					  "2a00:1450::1", "100.128.0.1", "172.32.0.1"};
	for (size_t i = 0; i < sizeof(pub) / sizeof(*pub); i++)
		assert_true(enrich_ip_public(ev_ip(pub[i]).ip));
}

/* ---- damaged and wrong databases ---- */

static const char *const PROBE[] = {
    "1.1.1.1",	 "81.2.69.142", "89.160.20.112", "2001:218::1", "2.125.160.216",
    "214.0.0.1", "1.0.0.1",	"2a02:cf40::1",	 "8.8.8.8",	"::ffff:1.2.3.4"};

static int opened, failed_open;

/* Files read without an error: SOURCE.md's "returned data without error" ones (a valid
 * structure, or damage the probed addresses do not reach), and the deep or oversized
 * containers, which sit in parts of the record the enricher never decodes (it reads a few
 * fixed paths, not the whole record as mmdblookup does). Every other damaged file must be
 * refused at open or have its lookups counted as errors. */
static bool may_read_clean(const char *path)
{
	static const char *const clean[] = {
	    "corrupt-search-tree",	  "empty-array-last-in-metadata",
	    "empty-map-last-in-metadata", "separator-record-min-right",
	    "uint64-max-epoch",		  "deep-nesting",
	    "deep-array-nesting",	  "oversized-array",
	    "broken-pointers-24",	  "broken-search-tree-24"};
	for (size_t i = 0; i < sizeof(clean) / sizeof(*clean); i++)
		if (strstr(path, clean[i]))
			return true;
	return false;
}

static int try_db(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb;
	(void)f;
	size_t n = strlen(path);
	if (type != FTW_F || n < 5 || strcmp(path + n - 5, ".mmdb"))
		return 0;
	struct geo_db *g = NULL;
	char err[256] = "";
	int rc = geo_open(&g, path, GEO_ANY, err, sizeof(err));
	if (rc < 0) {
		assert_int_equal(rc, SIEM_EPARSE);
		assert_true(err[0] != '\0');
		failed_open++;
		return 0;
	}
	opened++;
	struct enrich_tally t;
	memset(&t, 0, sizeof(t));
	for (size_t i = 0; i < sizeof(PROBE) / sizeof(*PROBE); i++) {
		struct event ev = ev_ip(PROBE[i]);
		geo_enrich(g, &ev, &A, &t);
		/* Whatever it read is text fit for an event. */
		if (ev.geo_country.p)
			assert_int_equal(strlen(ev.geo_country.p), ev.geo_country.n);
	}
	if (!may_read_clean(path) && t.errors[EN_GEOIP] + t.errors[EN_ASN] == 0)
		fail_msg("%s: opened and read without an error", path);
	char desc[128]; /* uint64-max-epoch: a build time no calendar has */
	geo_describe(g, desc, sizeof(desc));
	assert_non_null(strstr(desc, ", built "));
	geo_close(g);
	return 0;
}

static void test_bad_data_never_crashes(void **state)
{
	(void)state;
	need_data();
	const char *dir = pathf("%s/bad-data", DATA);
	opened = failed_open = 0;
	assert_int_equal(nftw(dir, try_db, 16, FTW_PHYS), 0);
	assert_int_equal(opened + failed_open, 21);
	try_db(db("GeoIP2-City-Test-Broken-Double-Format.mmdb"), NULL, FTW_F, NULL);
	try_db(db("GeoIP2-City-Test-Invalid-Node-Count.mmdb"), NULL, FTW_F, NULL);
	try_db(db("MaxMind-DB-test-broken-pointers-24.mmdb"), NULL, FTW_F, NULL);
	try_db(db("MaxMind-DB-test-broken-search-tree-24.mmdb"), NULL, FTW_F, NULL);
	assert_int_equal(opened + failed_open, 25);
	assert_true(failed_open >= 10); /* SOURCE.md: 10 of them fail to open */

	/* Through the stage: the database is a problem, the stage runs without it. */
	const char *path = pathf("%s/libmaxminddb/libmaxminddb-offset-integer-overflow.mmdb", dir);
	struct enrich *e = open_cfg(path, NULL);
	struct strbuf p;
	strbuf_init(&p, 4096);
	assert_int_equal(enrich_problems(e, &p), 1);
	const char *want = pathf("geoip: %s: ", path);
	assert_true(strncmp(p.p, want, strlen(want)) == 0);
	strbuf_release(&p);
	struct event ev = lookup(e, "81.2.69.142");
	assert_null(ev.geo_country.p);
	enrich_close(e);
}

static void test_broken_double_counted(void **state)
{
	(void)state;
	need_data();
	/* This file's location doubles are stored with the wrong size. */
	int64_t err0 = metric_get(&enrich_m_errors[EN_GEOIP]);
	struct enrich *e = open_cfg(db("GeoIP2-City-Test-Broken-Double-Format.mmdb"), NULL);
	for (size_t i = 0; i < sizeof(PROBE) / sizeof(*PROBE); i++)
		lookup(e, PROBE[i]);
	assert_true(metric_get(&enrich_m_errors[EN_GEOIP]) > err0);
	enrich_close(e);
}

static void test_wrong_type_refused(void **state)
{
	(void)state;
	need_data();
	struct enrich *e = open_cfg(db("GeoLite2-ASN-Test.mmdb"), db("GeoIP2-City-Test.mmdb"));
	struct strbuf p;
	strbuf_init(&p, 4096);
	assert_int_equal(enrich_problems(e, &p), 2);
	assert_non_null(strstr(p.p, "geoip: "));
	assert_non_null(strstr(p.p, "database type 'GeoLite2-ASN' is not a City or Country "
				    "database"));
	assert_non_null(strstr(p.p, "asn: "));
	assert_non_null(strstr(p.p, "database type 'GeoIP2-City' is not an ASN or ISP database"));
	strbuf_release(&p);
	struct event ev = lookup(e, "89.160.20.112");
	assert_null(ev.geo_country.p);
	assert_false(ev.flags & EV_HAS_ASN);
	enrich_close(e);

	/* A generic MaxMind DB is not a GeoIP database either. */
	e = open_cfg(db("MaxMind-DB-test-decoder.mmdb"), NULL);
	strbuf_init(&p, 4096);
	assert_int_equal(enrich_problems(e, &p), 1);
	assert_non_null(strstr(p.p, "is not a City or Country database"));
	strbuf_release(&p);
	enrich_close(e);
}

static void test_problems_text(void **state)
{
	(void)state;
	struct enrich *e = open_cfg("/nonexistent/GeoIP2-City.mmdb", "/nonexistent/asn.mmdb");
	struct strbuf p;
	strbuf_init(&p, 4096);
	assert_int_equal(enrich_problems(e, &p), 2);
	assert_string_equal(p.p,
			    "geoip: /nonexistent/GeoIP2-City.mmdb: Error opening the specified "
			    "MaxMind DB file: No such file or directory; asn: "
			    "/nonexistent/asn.mmdb: Error opening the specified MaxMind DB "
			    "file: No such file or directory");
	strbuf_release(&p);
	/* Nothing loaded: events pass through untouched. */
	struct event ev = lookup(e, "81.2.69.142");
	assert_null(ev.geo_country.p);
	enrich_close(e);

	/* Nothing configured: no stage at all. */
	struct enrich_config c;
	memset(&c, 0, sizeof(c));
	e = (struct enrich *)&c;
	assert_int_equal(enrich_open(&e, &c), 0);
	assert_null(e);
	enrich_events(NULL, &ev, 1, &A);
	enrich_reload(NULL);
	strbuf_init(&p, 64);
	assert_int_equal(enrich_problems(NULL, &p), 0);
	strbuf_release(&p);
	enrich_close(NULL);
}

/* ---- reload ---- */

static void copy_file(const char *from, const char *to)
{
	size_t n = 0;
	char *b = test_slurp(from, &n);
	assert_non_null(b);
	FILE *f = fopen(to, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	free(b);
}

/* Copy from to a temporary name, then rename() it over to: a reader never sees half. */
static void replace_file(const char *from, const char *to)
{
	const char *tmp = pathf("%s.new", to);
	copy_file(from, tmp);
	assert_int_equal(rename(tmp, to), 0);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Poll (bounded) until the city of ip is want (NULL: none). */
static bool wait_city(struct enrich *e, const char *ip, const char *want)
{
	for (int waited = 0; waited < DEADLINE_MS; waited += 10) {
		struct event ev = lookup(e, ip);
		if (want ? sv_is(ev.geo_city, want) : ev.geo_city.p == NULL)
			return true;
		sleep_ms(10);
	}
	return false;
}

static void test_hot_reload(void **state)
{
	(void)state;
	need_data();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", pathf("%s/geo.mmdb", TMP));
	copy_file(db("GeoIP2-City-Test.mmdb"), path);
	int64_t rel0 = metric_get(&enrich_m_reloads[EN_GEOIP]);
	int64_t err0 = metric_get(&enrich_m_reload_errors[EN_GEOIP]);
	struct enrich *e = open_cfg(path, NULL);
	struct event ev = lookup(e, "81.2.69.142");
	assert_sv(ev.geo_city, "London");

	/* Country database renamed over the city one: cities go, countries stay. */
	replace_file(db("GeoIP2-Country-Test.mmdb"), path);
	assert_true(wait_city(e, "81.2.69.142", NULL));
	ev = lookup(e, "81.2.69.142");
	assert_sv(ev.geo_country, "GB");
	/* the reload thread counts the reload just after it swaps the snapshot in */
	for (int waited = 0;
	     metric_get(&enrich_m_reloads[EN_GEOIP]) == rel0 && waited < DEADLINE_MS; waited += 10)
		sleep_ms(10);
	assert_int_equal(metric_get(&enrich_m_reloads[EN_GEOIP]) - rel0, 1);

	/* A damaged file renamed in: the reload fails, the country database stays, the
	 * problem shows until a reload works. */
	char bad[PATH_MAX];
	snprintf(bad, sizeof(bad),
		 "%s/bad-data/libmaxminddb/libmaxminddb-metadata-marker-only.mmdb", DATA);
	replace_file(bad, path);
	struct strbuf p;
	strbuf_init(&p, 4096);
	int n = 0;
	for (int waited = 0; n == 0 && waited < DEADLINE_MS; waited += 10) {
		p.n = 0;
		n = enrich_problems(e, &p);
		if (!n)
			sleep_ms(10);
	}
	assert_int_equal(n, 1);
	assert_true(strncmp(p.p, "geoip: ", 7) == 0);
	assert_int_equal(metric_get(&enrich_m_reload_errors[EN_GEOIP]) - err0, 1);
	ev = lookup(e, "81.2.69.142");
	assert_sv(ev.geo_country, "GB");

	/* SIGHUP's reload with the city database back: at once, and the problem is gone. */
	replace_file(db("GeoIP2-City-Test.mmdb"), path);
	enrich_reload(e);
	ev = lookup(e, "81.2.69.142");
	assert_sv(ev.geo_city, "London");
	p.n = 0;
	assert_int_equal(enrich_problems(e, &p), 0);
	strbuf_release(&p);

	/* And once more by the watcher, after SIGHUP's reload. */
	replace_file(db("GeoIP2-Country-Test.mmdb"), path);
	assert_true(wait_city(e, "81.2.69.142", NULL));
	enrich_close(e);
}

/* ---- an arena out of room ---- */

static void test_arena_full(void **state)
{
	(void)state;
	need_data();
	struct enrich *e = open_cfg(db("GeoIP2-City-Test.mmdb"), db("GeoLite2-ASN-Test.mmdb"));
	struct arena small;
	arena_init(&small, 1);
	int64_t err0 = metric_get(&enrich_m_errors[EN_GEOIP]);
	struct event ev = ev_ip("89.160.20.112");
	enrich_events(e, &ev, 1, &small);
	assert_null(ev.geo_country.p);
	assert_null(ev.geo_city.p);
	assert_null(ev.geo_as_org.p);
	/* What needs no room is still set. */
	assert_true(ev.flags & EV_HAS_GEO_LOC);
	assert_int_equal(ev.geo_asn, 29518);
	assert_true(metric_get(&enrich_m_errors[EN_GEOIP]) > err0);
	arena_release(&small);
	enrich_close(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_city_db),
	    cmocka_unit_test(test_country_db),
	    cmocka_unit_test(test_asn_db),
	    cmocka_unit_test(test_private_not_looked_up),
	    cmocka_unit_test(test_bad_data_never_crashes),
	    cmocka_unit_test(test_broken_double_counted),
	    cmocka_unit_test(test_wrong_type_refused),
	    cmocka_unit_test(test_problems_text),
	    cmocka_unit_test(test_hot_reload),
	    cmocka_unit_test(test_arena_full),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
