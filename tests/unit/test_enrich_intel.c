/* test_enrich_intel.c — threat-intelligence lists: plain and CSV lists, the merged interval
 * tables (/0, /32, /128, overlaps, nesting, adjacency, IPv4-mapped forms), domains and their
 * parents, which event fields are matched, tags on events, reload after a list changes, and a
 * large list. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"

#include "core/arena.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "enrich/enrich.h"
#include "enrich/enrich_int.h"

#define DEADLINE_MS 10000

static char DIR_[PATH_MAX];
static struct arena A;
static char OUT[2048];

/* Each test gets an empty list directory. */
static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_ERROR);
	char tmpl[] = "/tmp/test_enrich_intel.XXXXXX";
	if (!mkdtemp(tmpl) || !realpath(tmpl, DIR_))
		return -1;
	arena_init(&A, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_release(&A);
	test_rm_tree(DIR_);
	return 0;
}

static const char *path_of(const char *name)
{
	static char p[2][PATH_MAX + 64];
	static int k;
	k ^= 1;
	if ((size_t)snprintf(p[k], sizeof(p[k]), "%s/%s", DIR_, name) >= sizeof(p[k]))
		fail_msg("path too long");
	return p[k];
}

static void write_at(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void write_list(const char *name, const char *text)
{
	write_at(path_of(name), text);
}

/* Written beside, then renamed over: how lists should be replaced. */
static void replace_list(const char *name, const char *text)
{
	char tmp[PATH_MAX + 64];
	snprintf(tmp, sizeof(tmp), "%s", path_of(".incoming"));
	write_at(tmp, text);
	assert_int_equal(rename(tmp, path_of(name)), 0);
}

static struct intel *load(int min_conf, int want_problems, char *problems, size_t cap)
{
	struct intel *in = NULL;
	struct strbuf p;
	strbuf_init(&p, 8192);
	int n = 0;
	assert_int_equal(intel_load(&in, DIR_, min_conf, &p, &n), 0);
	assert_non_null(in);
	if (n != want_problems)
		fail_msg("%d problems, want %d: %s", n, want_problems, p.p ? p.p : "");
	if (problems)
		snprintf(problems, cap, "%s", p.p ? p.p : "");
	strbuf_release(&p);
	return in;
}

static const char *tags_ip(const struct intel *in, const char *ip)
{
	uint8_t b[16];
	if (ip_parse(ip, strlen(ip), b))
		fail_msg("bad test address %s", ip);
	intel_tags_of_ip(in, b, OUT, sizeof(OUT));
	return OUT;
}

static const char *tags_dom(const struct intel *in, const char *name)
{
	intel_tags_of_domain(in, name, OUT, sizeof(OUT));
	return OUT;
}

/* ---- address ranges ---- */

static void test_zero_prefixes(void **state)
{
	(void)state;
	write_list("all4.txt", "0.0.0.0/0\n");
	struct intel *in = load(0, 0, NULL, 0);
	assert_string_equal(tags_ip(in, "0.0.0.0"), "intel:all4");
	assert_string_equal(tags_ip(in, "1.2.3.4"), "intel:all4");
	assert_string_equal(tags_ip(in, "255.255.255.255"), "intel:all4");
	assert_string_equal(tags_ip(in, "::ffff:9.9.9.9"), "intel:all4");
	assert_string_equal(tags_ip(in, "2001:db8::1"), "");
	assert_string_equal(tags_ip(in, "::1"), "");
	assert_int_equal(intel_stats(in)->ranges4, 1);
	intel_free(in);

	/* ::/0 is every address, IPv4 ones too. */
	write_list("all6.txt", "::/0\n");
	in = load(0, 0, NULL, 0);
	assert_string_equal(tags_ip(in, "1.2.3.4"), "intel:all4,intel:all6");
	assert_string_equal(tags_ip(in, "::"), "intel:all6");
	assert_string_equal(tags_ip(in, "2001:db8::1"), "intel:all6");
	assert_string_equal(tags_ip(in, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "intel:all6");
	assert_int_equal(intel_stats(in)->ip4, 1);
	assert_int_equal(intel_stats(in)->ip6, 1);
	intel_free(in);
}

static void test_single_addresses(void **state)
{
	(void)state;
	write_list("hosts.txt", "10.1.2.3/32\n10.1.2.5\n2001:db8::7/128\n2001:db8::9\n");
	struct intel *in = load(0, 0, NULL, 0);
	assert_string_equal(tags_ip(in, "10.1.2.3"), "intel:hosts");
	assert_string_equal(tags_ip(in, "10.1.2.2"), "");
	assert_string_equal(tags_ip(in, "10.1.2.4"), "");
	assert_string_equal(tags_ip(in, "10.1.2.5"), "intel:hosts");
	assert_string_equal(tags_ip(in, "2001:db8::7"), "intel:hosts");
	assert_string_equal(tags_ip(in, "2001:db8::6"), "");
	assert_string_equal(tags_ip(in, "2001:db8::8"), "");
	assert_string_equal(tags_ip(in, "2001:db8::9"), "intel:hosts");
	assert_int_equal(intel_stats(in)->ip4, 2);
	assert_int_equal(intel_stats(in)->ip6, 2);
	intel_free(in);
}

static void test_overlaps_and_nesting(void **state)
{
	(void)state;
	/* a: 10.0.0.0/16; b: 10.0.128.0/17 overlaps its upper half and goes beyond it. */
	write_list("a.txt", "10.0.0.0/16\n");
	write_list("b.txt", "10.0.128.0/17\n10.1.0.0/16\n");
	/* c: one address inside a's /16, and a /8 of its own around everything. */
	write_list("c.txt", "10.0.0.77\n");
	write_list("d.txt", "10.0.0.0/8\n");
	struct intel *in = load(0, 0, NULL, 0);
	assert_string_equal(tags_ip(in, "10.0.0.1"), "intel:a,intel:d");
	assert_string_equal(tags_ip(in, "10.0.0.76"), "intel:a,intel:d");
	assert_string_equal(tags_ip(in, "10.0.0.77"), "intel:a,intel:c,intel:d");
	assert_string_equal(tags_ip(in, "10.0.0.78"), "intel:a,intel:d");
	assert_string_equal(tags_ip(in, "10.0.127.255"), "intel:a,intel:d");
	assert_string_equal(tags_ip(in, "10.0.128.0"), "intel:a,intel:b,intel:d");
	assert_string_equal(tags_ip(in, "10.0.255.255"), "intel:a,intel:b,intel:d");
	assert_string_equal(tags_ip(in, "10.1.0.0"), "intel:b,intel:d");
	assert_string_equal(tags_ip(in, "10.2.0.0"), "intel:d");
	assert_string_equal(tags_ip(in, "10.255.255.255"), "intel:d");
	assert_string_equal(tags_ip(in, "11.0.0.0"), "");
	assert_string_equal(tags_ip(in, "9.255.255.255"), "");
	intel_free(in);

	/* The same in IPv6: a /128 inside a /32 of another list. */
	write_list("e.txt", "2001:db8::/32\n");
	write_list("f.txt", "2001:db8::1:2\n");
	in = load(0, 0, NULL, 0);
	assert_string_equal(tags_ip(in, "2001:db8::1:1"), "intel:e");
	assert_string_equal(tags_ip(in, "2001:db8::1:2"), "intel:e,intel:f");
	assert_string_equal(tags_ip(in, "2001:db8::1:3"), "intel:e");
	assert_string_equal(tags_ip(in, "2001:db9::"), "");
	assert_string_equal(tags_ip(in, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), "");
	/* The /128 splits the /32 into three intervals. */
	assert_int_equal(intel_stats(in)->ranges6, 3);
	intel_free(in);
}

static void test_adjacent_ranges_merge(void **state)
{
	(void)state;
	write_list("a.txt", "192.0.2.0/25\n192.0.2.128/25\n198.51.100.0/24\n198.51.101.0/24\n"
			    "203.0.113.0/25\n");
	write_list("b.txt", "203.0.113.128/25\n");
	struct intel *in = load(0, 0, NULL, 0);
	assert_string_equal(tags_ip(in, "192.0.2.127"), "intel:a");
	assert_string_equal(tags_ip(in, "192.0.2.128"), "intel:a");
	assert_string_equal(tags_ip(in, "192.0.3.0"), "");
	assert_string_equal(tags_ip(in, "198.51.101.255"), "intel:a");
	assert_string_equal(tags_ip(in, "203.0.113.127"), "intel:a");
	assert_string_equal(tags_ip(in, "203.0.113.128"), "intel:b");
	/* Touching ranges of one list become one interval; of two lists they stay two. */
	assert_int_equal(intel_stats(in)->ranges4, 4);
	intel_free(in);
}

static void test_ipv4_mapped_both_ways(void **state)
{
	(void)state;
	write_list("m.txt", "::ffff:1.2.3.4\n::ffff:5.6.0.0/112\n");
	write_list("p.txt", "7.7.7.7\n");
	write_list("w.txt", "::/80\n"); /* from :: to ::ffff:255.255.255.255 */
	struct intel *in = load(0, 0, NULL, 0);
	assert_string_equal(tags_ip(in, "1.2.3.4"), "intel:m,intel:w");
	assert_string_equal(tags_ip(in, "::ffff:1.2.3.4"), "intel:m,intel:w");
	assert_string_equal(tags_ip(in, "5.6.255.1"), "intel:m,intel:w");
	assert_string_equal(tags_ip(in, "5.7.0.0"), "intel:w");
	assert_string_equal(tags_ip(in, "::ffff:7.7.7.7"), "intel:p,intel:w");
	assert_string_equal(tags_ip(in, "::1"), "intel:w");
	assert_string_equal(tags_ip(in, "::1:0:0:0"), "");
	assert_string_equal(tags_ip(in, "2001:db8::1"), "");
	/* The mapped list's entries count as IPv4; ::/80 is one IPv6 indicator. */
	assert_int_equal(intel_stats(in)->ip4, 3);
	assert_int_equal(intel_stats(in)->ip6, 1);
	intel_free(in);
}

/* ---- domains ---- */

static void test_domains(void **state)
{
	(void)state;
	write_list("doms.txt", "evil.com\nEXAMPLE.ORG.\n*.wild.net\n.dot.io\nsub.nested.biz\n"
			       "under_score.info\n");
	struct intel *in = load(0, 0, NULL, 0);
	assert_string_equal(tags_dom(in, "evil.com"), "intel:doms");
	assert_string_equal(tags_dom(in, "EVIL.com."), "intel:doms");
	assert_string_equal(tags_dom(in, "a.evil.com"), "intel:doms");
	assert_string_equal(tags_dom(in, "a.b.c.evil.com"), "intel:doms");
	assert_string_equal(tags_dom(in, "notevil.com"), "");
	assert_string_equal(tags_dom(in, "evil.com.au"), "");
	assert_string_equal(tags_dom(in, "evil.co"), "");
	assert_string_equal(tags_dom(in, "com"), "");
	assert_string_equal(tags_dom(in, "www.example.org"), "intel:doms");
	assert_string_equal(tags_dom(in, "wild.net"), "intel:doms");
	assert_string_equal(tags_dom(in, "x.wild.net"), "intel:doms");
	assert_string_equal(tags_dom(in, "dot.io"), "intel:doms");
	assert_string_equal(tags_dom(in, "nested.biz"), "");
	assert_string_equal(tags_dom(in, "a.sub.nested.biz"), "intel:doms");
	assert_string_equal(tags_dom(in, "under_score.info"), "intel:doms");
	assert_int_equal(intel_stats(in)->domains, 6);
	intel_free(in);
}

/* ---- list syntax ---- */

static void test_comments_blank_and_bad_lines(void **state)
{
	(void)state;
	write_list("Spamhaus DROP.txt", "; Spamhaus DROP List\r\n"
					"# a comment\n"
					"\n"
					"   \t\n"
					"1.10.16.0/20 ; SBL256894\r\n"
					"  2.56.192.0/22;SBL459831\n"
					"evil.example.com # trailing comment\n"
					"bad indicator!\n"    /* "bad" has no dot */
					"999.1.1.1\n"	      /* not an address */
					"10.0.0.0/33\n"	      /* not a prefix */
					"http://x.example/\n" /* a URL */
					"1.2.3.4.5\n"
					"no-dot\n"
					"-\n"
					"3.3.3.3"); /* no final newline */
	struct intel *in = load(0, 0, NULL, 0);
	const struct intel_stats *st = intel_stats(in);
	assert_int_equal(st->lists, 1);
	assert_int_equal(st->ip4, 3);
	assert_int_equal(st->domains, 1);
	assert_int_equal(st->bad, 7);
	/* The name: no extension, lower case, the space as '_'. */
	assert_string_equal(tags_ip(in, "1.10.31.255"), "intel:spamhaus_drop");
	assert_string_equal(tags_ip(in, "2.56.195.1"), "intel:spamhaus_drop");
	assert_string_equal(tags_ip(in, "3.3.3.3"), "intel:spamhaus_drop");
	assert_string_equal(tags_dom(in, "evil.example.com"), "intel:spamhaus_drop");
	intel_free(in);
}

static void test_which_files_are_lists(void **state)
{
	(void)state;
	write_list("good.list", "1.1.1.1\n");
	write_list("noext", "2.2.2.2\n");
	write_list("edit.txt~", "3.3.3.3\n");
	write_list("part.tmp", "4.4.4.4\n");
	write_list(".good.list.swp", "5.5.5.5\n");
	write_list("x.swp", "5.5.5.6\n");
	write_list(".hidden", "6.6.6.6\n");
	assert_int_equal(mkdir(path_of("sub"), 0755), 0);
	write_list("sub/deep.txt", "7.7.7.7\n");
	assert_int_equal(symlink(path_of("good.list"), path_of("link.txt")), 0);
	struct intel *in = load(0, 0, NULL, 0);
	assert_int_equal(intel_stats(in)->lists, 3);
	assert_string_equal(tags_ip(in, "1.1.1.1"), "intel:good,intel:link");
	assert_string_equal(tags_ip(in, "2.2.2.2"), "intel:noext");
	assert_string_equal(tags_ip(in, "3.3.3.3"), "");
	assert_string_equal(tags_ip(in, "4.4.4.4"), "");
	assert_string_equal(tags_ip(in, "5.5.5.5"), "");
	assert_string_equal(tags_ip(in, "5.5.5.6"), "");
	assert_string_equal(tags_ip(in, "6.6.6.6"), "");
	assert_string_equal(tags_ip(in, "7.7.7.7"), "");
	intel_free(in);
}

static void test_csv(void **state)
{
	(void)state;
	write_list("Feed.CSV", "Description,Confidence,IOC,Tag\r\n"
			       "\"C2 server, seen twice\",90,\"1.2.3.4\",c2\r\n"
			       "\"says \"\"hello\"\"\",50,\"evil.example.com\",\"Phishing Kit\"\r\n"
			       "\"multi\nline\",10,5.5.5.0/24,\r\n"
			       ",,6.6.6.6,\r\n"		 /* no confidence: kept */
			       "bad,101,7.7.7.7,x\r\n"	 /* confidence out of range */
			       "bad,abc,8.8.8.8,x\r\n"	 /* not a number */
			       "bad,80,not an ioc,x\r\n" /* not an indicator */
			       "short row\r\n");	 /* no indicator field */
	struct intel *in = load(0, 0, NULL, 0);
	const struct intel_stats *st = intel_stats(in);
	assert_int_equal(st->ip4, 3);
	assert_int_equal(st->domains, 1);
	assert_int_equal(st->bad, 4);
	assert_string_equal(tags_ip(in, "1.2.3.4"), "intel:feed,intel:feed/c2");
	assert_string_equal(tags_dom(in, "www.evil.example.com"),
			    "intel:feed,intel:feed/phishing_kit");
	assert_string_equal(tags_ip(in, "5.5.5.9"), "intel:feed");
	assert_string_equal(tags_ip(in, "6.6.6.6"), "intel:feed");
	assert_string_equal(tags_ip(in, "7.7.7.7"), "");
	intel_free(in);

	/* A minimum confidence leaves the rows under it out (not counted as bad). */
	in = load(60, 0, NULL, 0);
	st = intel_stats(in);
	assert_string_equal(tags_ip(in, "1.2.3.4"), "intel:feed,intel:feed/c2");
	assert_string_equal(tags_dom(in, "evil.example.com"), "");
	assert_string_equal(tags_ip(in, "5.5.5.9"), "");
	assert_string_equal(tags_ip(in, "6.6.6.6"), "intel:feed");
	assert_int_equal(st->below_conf, 2);
	assert_int_equal(st->bad, 4);
	intel_free(in);
}

static void test_csv_without_indicator_column(void **state)
{
	(void)state;
	write_list("nocol.csv", "name,score\n1.2.3.4,10\n");
	write_list("empty.csv", "");
	write_list("ok.csv", "ip\n9.9.9.9\n");
	char problems[2048];
	struct intel *in = load(0, 2, problems, sizeof(problems));
	char want[PATH_MAX * 2 + 200];
	snprintf(want, sizeof(want),
		 "intel: %s: empty, no header row; intel: %s: no indicator column in the header "
		 "(indicator, ioc, value, ip, domain, network or cidr)",
		 path_of("empty.csv"), path_of("nocol.csv"));
	assert_string_equal(problems, want);
	assert_int_equal(intel_stats(in)->lists, 1);
	assert_string_equal(tags_ip(in, "9.9.9.9"), "intel:ok");
	assert_string_equal(tags_ip(in, "1.2.3.4"), "");
	intel_free(in);

	/* A directory that cannot be read fails the load. */
	struct intel *none = NULL;
	struct strbuf p;
	strbuf_init(&p, 1024);
	int n = 0;
	assert_true(intel_load(&none, "/nonexistent/intel", 0, &p, &n) < 0);
	assert_null(none);
	assert_int_equal(n, 1);
	assert_string_equal(p.p, "intel: /nonexistent/intel: cannot open directory: No such file "
				 "or directory");
	strbuf_release(&p);
}

/* ---- events ---- */

static struct enrich *open_dir(int check_ms)
{
	struct enrich_config c;
	memset(&c, 0, sizeof(c));
	c.intel_dir = DIR_;
	c.reload_check_ms = check_ms;
	struct enrich *e = NULL;
	assert_int_equal(enrich_open(&e, &c), 0);
	assert_non_null(e);
	return e;
}

static struct event event_of(const char *ip, const char *data)
{
	struct event ev;
	memset(&ev, 0, sizeof(ev));
	if (ip) {
		assert_int_equal(ip_parse(ip, strlen(ip), ev.ip), 0);
		ev.flags |= EV_HAS_IP;
	}
	if (data) {
		ev.data.p = data;
		ev.data.n = strlen(data);
	}
	return ev;
}

static const char *tags_of(struct event *ev)
{
	snprintf(OUT, sizeof(OUT), "%.*s", ev->tags.p ? (int)ev->tags.n : 0,
		 ev->tags.p ? ev->tags.p : "");
	return OUT;
}

static void test_event_fields(void **state)
{
	(void)state;
	write_list("b.txt", "6.6.6.6\n10.0.0.5\nevil.com\n");
	write_list("a.txt", "6.6.6.0/24\nbad.org\n");
	write_list("c.txt", "2001:db8::66\n");
	struct enrich *e = open_dir(0);

	/* The source address, private or not. */
	struct event ev = event_of("10.0.0.5", NULL);
	enrich_events(e, &ev, 1, &A);
	assert_string_equal(tags_of(&ev), "intel:b");

	/* Addresses and domains in the data's top-level keys; tags each once, sorted. */
	ev = event_of("6.6.6.6", "{\"dest_ip\":\"6.6.6.7\",\"domain\":\"www.evil.com\",\"n\":1,"
				 "\"nested\":{\"dest_ip\":\"2001:db8::66\"}}");
	enrich_events(e, &ev, 1, &A);
	assert_string_equal(tags_of(&ev), "intel:a,intel:b");

	static const char *const data[] = {
	    "{\"dst_ip\":\"6.6.6.6\"}",	       "{\"destination_ip\":\"6.6.6.6\"}",
	    "{\"DestinationIp\":\"6.6.6.6\"}", "{\"DestAddress\":\"6.6.6.6\"}",
	    "{\"remote_ip\":\"6.6.6.6\"}",     "{\"query\":\"x.evil.com\"}",
	    "{\"QueryName\":\"evil.com.\"}",   "{\"dns_query\":\"EVIL.COM\"}",
	    "{\"dest_domain\":\"evil.com\"}",
	};
	for (size_t i = 0; i < sizeof(data) / sizeof(*data); i++) {
		ev = event_of(NULL, data[i]);
		enrich_events(e, &ev, 1, &A);
		if (!strstr(tags_of(&ev), "intel:b"))
			fail_msg("%s: tags '%s'", data[i], OUT);
	}

	/* Not matched: nested keys, other keys, values of the wrong kind, bad JSON. */
	static const char *const none[] = {
	    "{\"nested\":{\"dest_ip\":\"6.6.6.6\"}}",
	    "{\"src\":\"6.6.6.6\"}",
	    "{\"dest_ip\":[\"6.6.6.6\"]}",
	    "{\"dest_ip\":\"6.6.6.6:443\"}",
	    "{\"domain\":\"notevil.com\"}",
	    "{\"dest_ip\":\"6.6.6.6\"",
	    "[\"dest_ip\",\"6.6.6.6\"]",
	    "{\"message\":\"\\\"dest_ip\\\" 6.6.6.6\"}",
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(*none); i++) {
		ev = event_of(NULL, none[i]);
		enrich_events(e, &ev, 1, &A);
		if (ev.tags.p)
			fail_msg("%s: tags '%s'", none[i], tags_of(&ev));
	}

	/* The reverse DNS name. */
	ev = event_of(NULL, NULL);
	ev.rdns.p = "host.bad.org";
	ev.rdns.n = strlen(ev.rdns.p);
	enrich_events(e, &ev, 1, &A);
	assert_string_equal(tags_of(&ev), "intel:a");

	/* Tags the event has stay, merged in order. */
	ev = event_of("2001:db8::66", "{\"dest_ip\":\"6.6.6.6\"}");
	ev.tags.p = "zeta,intel:b,alpha";
	ev.tags.n = strlen(ev.tags.p);
	enrich_events(e, &ev, 1, &A);
	assert_string_equal(tags_of(&ev), "alpha,intel:a,intel:b,intel:c,zeta");

	/* A batch: each event its own tags. */
	struct event b[3] = {event_of("6.6.6.1", NULL), event_of("1.1.1.1", NULL),
			     event_of("10.0.0.5", NULL)};
	int64_t look0 = metric_get(&enrich_m_lookups[EN_INTEL]);
	int64_t hit0 = metric_get(&enrich_m_hits[EN_INTEL]);
	enrich_events(e, b, 3, &A);
	assert_string_equal(tags_of(&b[0]), "intel:a");
	assert_null(b[1].tags.p);
	assert_string_equal(tags_of(&b[2]), "intel:b");
	assert_int_equal(metric_get(&enrich_m_lookups[EN_INTEL]) - look0, 3);
	assert_int_equal(metric_get(&enrich_m_hits[EN_INTEL]) - hit0, 2);
	assert_int_equal(metric_get(&enrich_m_intel_lists), 3);
	assert_int_equal(metric_get(&enrich_m_intel_ip), 4);
	assert_int_equal(metric_get(&enrich_m_intel_domain), 2);

	/* No room in the batch's arena: no tags, counted, no failure. */
	struct arena small;
	arena_init(&small, 1);
	int64_t err0 = metric_get(&enrich_m_errors[EN_INTEL]);
	ev = event_of("6.6.6.6", NULL);
	enrich_events(e, &ev, 1, &small);
	assert_null(ev.tags.p);
	assert_int_equal(metric_get(&enrich_m_errors[EN_INTEL]) - err0, 1);
	arena_release(&small);
	enrich_close(e);
}

/* ---- reload ---- */

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static bool wait_tags(struct enrich *e, const char *ip, const char *want)
{
	for (int waited = 0; waited < DEADLINE_MS; waited += 10) {
		struct event ev = event_of(ip, NULL);
		enrich_events(e, &ev, 1, &A);
		if (!strcmp(tags_of(&ev), want))
			return true;
		sleep_ms(10);
	}
	fail_msg("%s: tags '%s', want '%s'", ip, OUT, want);
	return false;
}

static void test_reload(void **state)
{
	(void)state;
	write_list("a.txt", "1.1.1.1\n");
	int64_t rel0 = metric_get(&enrich_m_reloads[EN_INTEL]);
	struct enrich *e = open_dir(20);
	wait_tags(e, "1.1.1.1", "intel:a");

	/* A list replaced, a list added, a list removed. */
	replace_list("a.txt", "2.2.2.2\n");
	wait_tags(e, "2.2.2.2", "intel:a");
	wait_tags(e, "1.1.1.1", "");
	replace_list("b.csv", "indicator,tag\n2.2.2.2,scan\n");
	wait_tags(e, "2.2.2.2", "intel:a,intel:b,intel:b/scan");
	assert_int_equal(unlink(path_of("a.txt")), 0);
	wait_tags(e, "2.2.2.2", "intel:b,intel:b/scan");
	assert_true(metric_get(&enrich_m_reloads[EN_INTEL]) - rel0 >= 3);

	/* A list that loaded before and now fails: everything loaded before stays, and the
	 * problem shows until a reload works. */
	int64_t err0 = metric_get(&enrich_m_reload_errors[EN_INTEL]);
	replace_list("b.csv", "oops\n3.3.3.3\n");
	struct strbuf p;
	strbuf_init(&p, 4096);
	int n = 0;
	for (int waited = 0; !n && waited < DEADLINE_MS; waited += 10) {
		p.n = 0;
		if (!(n = enrich_problems(e, &p)))
			sleep_ms(10);
	}
	assert_int_equal(n, 1);
	assert_non_null(strstr(p.p, "b.csv: no indicator column"));
	assert_int_equal(metric_get(&enrich_m_reload_errors[EN_INTEL]) - err0, 1);
	wait_tags(e, "2.2.2.2", "intel:b,intel:b/scan");

	/* Fixed, and reloaded at once by SIGHUP's enrich_reload. */
	replace_list("b.csv", "ioc\n3.3.3.3\n");
	enrich_reload(e);
	struct event ev = event_of("3.3.3.3", NULL);
	enrich_events(e, &ev, 1, &A);
	assert_string_equal(tags_of(&ev), "intel:b");
	p.n = 0;
	assert_int_equal(enrich_problems(e, &p), 0);
	strbuf_release(&p);
	enrich_close(e);
}

/* A list growing by appends is not loaded half-written: it must be the same size and time
 * on two checks in a row. */
static void test_reload_waits_for_a_stable_file(void **state)
{
	(void)state;
	write_list("a.txt", "1.1.1.1\n");
	struct enrich *e = open_dir(200);
	int64_t rel0 = metric_get(&enrich_m_reloads[EN_INTEL]);
	FILE *f = fopen(path_of("a.txt"), "a");
	assert_non_null(f);
	/* Append a line every 50 ms for a second: each check sees a new size. */
	for (int i = 0; i < 20; i++) {
		fprintf(f, "4.4.4.%d\n", i);
		fflush(f);
		sleep_ms(50);
	}
	fclose(f);
	int64_t during = metric_get(&enrich_m_reloads[EN_INTEL]) - rel0;
	wait_tags(e, "4.4.4.19", "intel:a");
	assert_true(metric_get(&enrich_m_reloads[EN_INTEL]) - rel0 >= 1);
	/* Not a proof (a slow machine can pause the writer past two checks), but on one that
	 * keeps up there is no reload while the file grows. */
	if (during > 0)
		print_message("note: %lld reloads while the file grew\n", (long long)during);
	enrich_close(e);
}

/* Receivers enrich batches while lists are swapped under them: every event sees one whole
 * snapshot, old or new, and every snapshot is freed (ASan) once its last reader is done. */
struct reader {
	struct enrich *e;
	atomic_bool *stop;
	atomic_long n, torn;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct arena a;
	arena_init(&a, 0);
	static const char data[] = "{\"domain\":\"x.evil.com\"}";
	while (!atomic_load(r->stop)) {
		struct event b[8];
		memset(b, 0, sizeof(b));
		for (int i = 0; i < 8; i++) {
			(void)ip_parse("1.1.1.1", 7, b[i].ip);
			b[i].flags = EV_HAS_IP;
			b[i].data.p = data;
			b[i].data.n = sizeof(data) - 1;
		}
		enrich_events(r->e, b, 8, &a);
		for (int i = 0; i < 8; i++) {
			struct sv t = b[i].tags;
			bool old = t.n == 7 && !memcmp(t.p, "intel:a", 7);
			bool new = t.n == 15 && !memcmp(t.p, "intel:a,intel:b", 15);
			if (!old && !new)
				atomic_fetch_add(&r->torn, 1);
		}
		arena_reset(&a);
		atomic_fetch_add(&r->n, 1);
	}
	arena_release(&a);
	return NULL;
}

static void test_readers_during_reloads(void **state)
{
	(void)state;
	write_list("a.txt", "1.1.1.1\n");
	write_list("b.txt", "other.com\n");
	struct enrich *e = open_dir(5);
	atomic_bool stop = false;
	struct reader r[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		r[i].e = e;
		r[i].stop = &stop;
		atomic_init(&r[i].n, 0);
		atomic_init(&r[i].torn, 0);
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
	}
	for (int k = 0; k < 30; k++) {
		replace_list("b.txt", k % 2 ? "other.com\n" : "evil.com\n");
		if (k % 3 == 0)
			enrich_reload(e); /* and the watcher reloads the others */
		sleep_ms(5);
	}
	for (int waited = 0; waited < DEADLINE_MS; waited += 5) {
		if (atomic_load(&r[0].n) > 0 && atomic_load(&r[1].n) > 0)
			break;
		sleep_ms(5);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_true(atomic_load(&r[i].n) > 0);
		assert_int_equal(atomic_load(&r[i].torn), 0);
	}
	enrich_close(e);
}

/* ---- size ---- */

static void test_large_list(void **state)
{
	(void)state;
	FILE *f = fopen(path_of("big.txt"), "w");
	assert_non_null(f);
	/* 150,000 addresses (every other one of 300,000: no two merge), 20,000 networks,
	 * 30,000 domains. */
	for (unsigned i = 0; i < 150000; i++) {
		unsigned v = 0x0b000000u + 2 * i;
		fprintf(f, "%u.%u.%u.%u\n", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
	}
	for (unsigned i = 0; i < 20000; i++)
		fprintf(f, "2001:db8:%x::/48\n", i);
	for (unsigned i = 0; i < 30000; i++)
		fprintf(f, "host%u.bad%u.example\n", i, i % 97);
	fclose(f);
	write_list("small.txt", "11.0.0.0/24\n");
	struct intel *in = load(0, 0, NULL, 0);
	const struct intel_stats *st = intel_stats(in);
	assert_int_equal(st->ip4, 150001);
	assert_int_equal(st->ip6, 20000);
	assert_int_equal(st->domains, 30000);
	assert_int_equal(st->bad, 0);
	/* 11.0.0.0/24 holds 128 listed addresses: 128 shared + 128 gaps = 256 intervals,
	 * merged where neighbours have the same tags; the rest one each. */
	assert_true(st->ranges4 >= 150000 - 128);
	assert_true(st->bytes / (st->ranges4 + st->ranges6 + st->domains) < 64);
	assert_string_equal(tags_ip(in, "11.0.0.2"), "intel:big,intel:small");
	assert_string_equal(tags_ip(in, "11.0.0.3"), "intel:small");
	assert_string_equal(tags_ip(in, "11.4.147.222"), "intel:big"); /* the last one */
	assert_string_equal(tags_ip(in, "11.4.147.223"), "");
	assert_string_equal(tags_ip(in, "2001:db8:4e1f::1"), "intel:big");
	assert_string_equal(tags_ip(in, "2001:db8:4e20::1"), "");
	assert_string_equal(tags_dom(in, "www.host29999.bad26.example"), "intel:big");
	assert_string_equal(tags_dom(in, "host29999.bad27.example"), "");
	intel_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_zero_prefixes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_single_addresses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlaps_and_nesting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_adjacent_ranges_merge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv4_mapped_both_ways, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_comments_blank_and_bad_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_which_files_are_lists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_without_indicator_column, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_waits_for_a_stable_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readers_during_reloads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_list, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
