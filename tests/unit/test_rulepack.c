/* test_rulepack.c — each built-in rule file's sample events raise exactly its expected alerts
 * (rules/tests/NAME.*: line, rule, group key, count, summary, new events), enriched as the hub
 * would with the MaxMind test databases and the lists of rules/tests/intel/; every pack rule
 * says what its alerts are about; also prints the detector's throughput with ~100 rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "testdata.h"
#include <jansson.h>

#include "core/err.h"
#include "core/event.h"
#include "detect/detect.h"
#include "enrich/enrich.h"

#define MAXALERTS 256

struct alert {
	int line;
	char rule[64], key[256], summary[512];
	int64_t count, new_events;
};

static struct alert GOT[MAXALERTS];
static int NGOT, LINE;

static const char *rules_dir(void)
{
	const char *d = getenv("SIEM_RULES_DIR");
	return d ? d : "rules";
}

static const char *data_dir(void)
{
	const char *d = getenv("SIEM_TEST_DATA");
	return d ? d : "../shared/data";
}

static void sink(void *ctx, const struct detect_hit *h)
{
	(void)ctx;
	assert_true(NGOT < MAXALERTS);
	struct alert *a = &GOT[NGOT++];
	a->line = LINE;
	snprintf(a->rule, sizeof(a->rule), "%s", h->rule->id);
	snprintf(a->key, sizeof(a->key), "%s", h->group_key);
	a->count = h->count;
	a->new_events = h->new_events;
	assert_non_null(h->summary);
	/* {events}: the hit's new events (the alerting module writes the alert's total) */
	detect_summary_fill(h->summary, h->new_events, a->summary, sizeof(a->summary));
	assert_non_null(h->rule->author); /* DRL 1.1: every alert names the rule's author */
}

/* Pack rule files, sorted. */
static size_t pack_files(char names[][256], size_t max)
{
	DIR *d = opendir(rules_dir());
	size_t n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".yml") || !strcmp(e->d_name, "mapping.yml"))
			continue;
		snprintf(names[n++], 256, "%.*s", (int)(l - 4), e->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char t[256];
			memcpy(t, names[j], 256);
			memcpy(names[j], names[j - 1], 256);
			memcpy(names[j - 1], t, 256);
		}
	return n;
}

static struct rule **compile_file(const char *path, size_t *n)
{
	size_t len = 0;
	char *text = test_slurp(path, &len);
	if (!text)
		fail_msg("cannot read %s", path);
	struct rule **r;
	char err[1024];
	if (rule_compile(text, len, path, &r, n, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
	free(text);
	return r;
}

static struct enrich *ENRICH;

/* GeoIP2-City-Test and GeoLite2-ASN-Test of the shared data, and rules/tests/intel/. */
static void enrich_start(void)
{
	char city[1024], asn[1024], intel[1024];
	const char *dd = test_data_dir("maxmind/SOURCE.md");
	if (!dd)
		fail_msg("the MaxMind test databases (shared/data/maxmind) are missing");
	snprintf(city, sizeof(city), "%s/maxmind/test-data/GeoIP2-City-Test.mmdb", dd);
	snprintf(asn, sizeof(asn), "%s/maxmind/test-data/GeoLite2-ASN-Test.mmdb", dd);
	snprintf(intel, sizeof(intel), "%s/tests/intel", rules_dir());
	struct enrich_config ec = {.geoip_db = city, .asn_db = asn, .intel_dir = intel};
	assert_int_equal(enrich_open(&ENRICH, &ec), 0);
	struct strbuf pb;
	strbuf_init(&pb, 4096);
	if (enrich_problems(ENRICH, &pb) > 0)
		fail_msg("enrichment: %s", pb.p);
	strbuf_release(&pb);
}

static void run_events(struct detector *d, const char *path, struct arena *a)
{
	char *text = test_slurp(path, NULL);
	if (!text)
		fail_msg("cannot read %s", path);
	char *save = NULL;
	LINE = 0;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		LINE++;
		json_error_t je;
		json_t *j = json_loads(l, 0, &je);
		if (!j)
			fail_msg("%s:%d: %s", path, LINE, je.text);
		struct event ev;
		char err[256];
		arena_reset(a);
		if (event_from_json(&ev, j, a, 1750000000000000LL, err, sizeof(err)))
			fail_msg("%s:%d: %s", path, LINE, err);
		json_decref(j);
		enrich_events(ENRICH, &ev, 1, a);
		detector_eval(d, &ev, sink, NULL);
	}
	free(text);
}

static void check_expect(const char *name, const char *path)
{
	json_error_t je;
	json_t *x = json_load_file(path, 0, &je);
	if (!x)
		fail_msg("%s: %s", path, je.text);
	json_t *al = json_object_get(x, "alerts");
	assert_true(json_is_array(al));
	size_t i;
	json_t *v;
	json_array_foreach (al, i, v) {
		if ((int)i >= NGOT)
			fail_msg("%s: alert %zu (line %lld) not raised", name, i + 1,
				 (long long)json_integer_value(json_object_get(v, "line")));
		const struct alert *g = &GOT[i];
		int line = (int)json_integer_value(json_object_get(v, "line"));
		const char *rule = json_string_value(json_object_get(v, "rule"));
		const char *key = json_string_value(json_object_get(v, "group_key"));
		int64_t count = json_integer_value(json_object_get(v, "count"));
		const char *summary = json_string_value(json_object_get(v, "summary"));
		json_t *nev = json_object_get(v, "new_events");
		if (!key || !summary)
			fail_msg("%s: expected alert %zu lacks group_key or summary", name, i + 1);
		if (g->line != line || strcmp(g->rule, rule) || strcmp(g->key, key) ||
		    g->count != count)
			fail_msg("%s: alert %zu is line %d %s \"%s\" x%lld, want line %d %s \"%s\" "
				 "x%lld",
				 name, i + 1, g->line, g->rule, g->key, (long long)g->count, line,
				 rule, key, (long long)count);
		if (strcmp(g->summary, summary))
			fail_msg("%s: alert %zu (line %d) says \"%s\", want \"%s\"", name, i + 1,
				 line, g->summary, summary);
		if (nev && g->new_events != json_integer_value(nev))
			fail_msg("%s: alert %zu (line %d) adds %lld events, want %lld", name, i + 1,
				 line, (long long)g->new_events,
				 (long long)json_integer_value(nev));
	}
	if ((size_t)NGOT != json_array_size(al))
		fail_msg("%s: %d alerts, want %zu (extra: line %d %s)", name, NGOT,
			 json_array_size(al), GOT[json_array_size(al)].line,
			 GOT[json_array_size(al)].rule);
	json_decref(x);
}

static void test_pack(void **state)
{
	(void)state;
	char names[64][256];
	size_t n = pack_files(names, 64);
	assert_true(n >= 12);
	struct arena a;
	arena_init(&a, 0);
	enrich_start();
	for (size_t i = 0; i < n; i++) {
		char path[1024], evp[1024], exp[1024];
		snprintf(path, sizeof(path), "%s/%s.yml", rules_dir(), names[i]);
		snprintf(evp, sizeof(evp), "%s/tests/%s.events.ndjson", rules_dir(), names[i]);
		snprintf(exp, sizeof(exp), "%s/tests/%s.expect.json", rules_dir(), names[i]);
		size_t nr;
		struct rule **r = compile_file(path, &nr);
		for (size_t k = 0; k < nr; k++) {
			const struct rule_info *in = rule_get_info(r[k]);
			if (!in->author)
				fail_msg("%s: rule '%s' has no author", path, in->title);
			/* every pack rule says what its alerts are about (its minisiem: block) */
			if (!in->summary)
				fail_msg("%s: rule '%s' has no summary", path, in->title);
			if (in->kind == RULE_DETECTION && !in->n_group_by)
				fail_msg("%s: rule '%s' groups nothing", path, in->title);
			if (!in->generates && !in->used_by)
				fail_msg("%s: helper rule '%s' names no correlation", path,
					 in->title);
		}
		struct detector *d;
		struct detector_config cfg = {NULL, 0};
		char err[512];
		assert_int_equal(detector_open(&d, &cfg), 0);
		if (detector_set_rules(d, r, nr, err, sizeof(err)))
			fail_msg("%s: %s", path, err);
		NGOT = 0;
		run_events(d, evp, &a);
		check_expect(names[i], exp);
		print_message("%-34s %d alert(s) as expected\n", names[i], NGOT);
		detector_close(d);
	}
	arena_release(&a);
	enrich_close(ENRICH);
	ENRICH = NULL;
}

/* All pack rules together: ids and names are unique across files. */
static struct rule **load_pack(size_t *total)
{
	char names[64][256];
	size_t n = pack_files(names, 64);
	struct rule **all = NULL;
	*total = 0;
	for (size_t i = 0; i < n; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s.yml", rules_dir(), names[i]);
		size_t nr;
		struct rule **r = compile_file(path, &nr);
		all = realloc(all, (*total + nr) * sizeof(*all));
		memcpy(all + *total, r, nr * sizeof(*r));
		*total += nr;
		free(r);
	}
	return all;
}

static void test_pack_together(void **state)
{
	(void)state;
	size_t n;
	struct rule **all = load_pack(&n);
	struct detector *d;
	struct detector_config cfg = {NULL, 0};
	char err[512];
	assert_int_equal(detector_open(&d, &cfg), 0);
	if (detector_set_rules(d, all, n, err, sizeof(err)))
		fail_msg("the whole pack: %s", err);
	struct detector_stats st;
	detector_get_stats(d, &st);
	assert_int_equal(st.rules, n);
	detector_close(d);
}

static void add_sigmahq(const char *dir, struct rule ***all, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			add_sigmahq(path, all, n);
			continue;
		}
		size_t l = strlen(path);
		if (l < 4 || strcmp(path + l - 4, ".yml"))
			continue;
		size_t nr;
		struct rule **r = compile_file(path, &nr);
		*all = realloc(*all, (*n + nr) * sizeof(**all));
		memcpy(*all + *n, r, nr * sizeof(*r));
		*n += nr;
		free(r);
	}
	closedir(d);
}

static json_t *bench_event(unsigned i)
{
	char ip[32], user[32];
	snprintf(ip, sizeof(ip), "203.0.%u.%u", (i / 256) % 256, i % 256);
	snprintf(user, sizeof(user), "user%u", i % 97);
	switch (i % 8) {
	case 0:
		return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "os_type", "LINUX", "app",
				 "sshd", "event_type", "LOGIN_FAIL", "source_ip", ip, "user", user,
				 "message",
				 "Failed password for invalid user admin from 203.0.113.5 "
				 "port 52144 ssh2");
	case 1:
		return json_pack("{s:s, s:s, s:s, s:s, s:s}", "os_type", "LINUX", "app", "CRON",
				 "event_type", "GENERIC", "user", "root", "message",
				 "pam_unix(cron:session): session opened for user root by (uid=0)");
	case 2:
		return json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:s, s:s, s:s, s:{s:s, s:s, s:s, "
				 "s:s, s:s, s:s, s:s}}}",
				 "os_type", "WINDOWS", "event_type", "LOGIN_FAIL", "source_ip", ip,
				 "message", "An account failed to log on.", "data", "EventID", 4625,
				 "Channel", "Security", "Provider_Name",
				 "Microsoft-Windows-Security-Auditing", "Computer", "DC01",
				 "EventData", "TargetUserName", user, "IpAddress", ip, "LogonType",
				 "3", "WorkstationName", "WKS042", "AuthenticationPackageName",
				 "NTLM", "SubStatus", "0xc000006a", "SubjectUserSid", "S-1-0-0");
	case 3:
		return json_pack(
		    "{s:s, s:s, s:s, s:{s:i, s:s, s:s, s:s, s:s, s:s, s:s}}", "os_type", "WINDOWS",
		    "event_type", "PROCESS_START", "message", "A new process has been created.",
		    "data", "EventID", 4688, "Channel", "Security", "NewProcessName",
		    "C:\\Windows\\System32\\cmd.exe", "ParentProcessName",
		    "C:\\Windows\\explorer.exe", "CommandLine", "cmd.exe /c dir C:\\Users\\Public",
		    "SubjectUserName", user, "Computer", "WKS042");
	case 4:
		return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:i}}", "os_type", "PIHOLE",
				 "event_type", i % 3 ? "DNS_QUERY" : "DNS_BLOCK", "source_ip",
				 "192.168.1.20", "message", "www.example.org", "data", "query",
				 "www.example.org", "record_type", "A", "status", 2);
	case 5:
		return json_pack("{s:s, s:s, s:s, s:s, s:i}", "app", "billing", "event_type",
				 "http_request", "src_ip", ip, "message",
				 "GET /api/v1/invoices 200", "http_status", 200);
	case 6:
		return json_pack("{s:s, s:s, s:s, s:s}", "app", "billing", "event_type",
				 i % 5 ? "permission_denied" : "auth_oauth_google_login_failed",
				 "src_ip", ip, "user_id", user);
	default:
		return json_pack("{s:s, s:s, s:s, s:s, s:s}", "os_type", "LINUX", "app", "sudo",
				 "event_type", "SUDO_ESCALATION", "user", user, "message",
				 "bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/ls");
	}
}

/* CPU time of this thread: the machine may be busy with other work */
static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void count_sink(void *ctx, const struct detect_hit *h)
{
	(void)h;
	(*(uint64_t *)ctx)++;
}

/* Throughput of one detector thread with the pack and SigmaHQ's rules (about 100), over a
 * mix of Linux, Windows, Pi-hole and application events. Printed, not asserted: this
 * binary also runs under sanitizers. */
static void test_throughput(void **state)
{
	(void)state;
	size_t n;
	struct rule **all = load_pack(&n);
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/sigma/rules", data_dir());
	add_sigmahq(dir, &all, &n);
	snprintf(dir, sizeof(dir), "%s/sigma/rules-emerging-threats", data_dir());
	add_sigmahq(dir, &all, &n);
	struct detector *d;
	struct detector_config cfg = {NULL, 0};
	char err[512];
	assert_int_equal(detector_open(&d, &cfg), 0);
	if (detector_set_rules(d, all, n, err, sizeof(err)))
		fail_msg("%s", err);
	enum { NEV = 4096 };
	struct arena a;
	arena_init(&a, 0);
	struct event *ev = calloc(NEV, sizeof(*ev));
	for (unsigned i = 0; i < NEV; i++) {
		json_t *j = bench_event(i);
		json_object_set_new(j, "timestamp", json_integer(1750000000 + i / 8));
		if (event_from_json(&ev[i], j, &a, 1750000000000000LL, err, sizeof(err)))
			fail_msg("bench event %u: %s", i, err);
		json_decref(j);
	}
	uint64_t hits = 0, done = 0;
	double t0 = now_s(), t;
	do {
		for (unsigned i = 0; i < NEV; i++)
			detector_eval(d, &ev[i], count_sink, &hits);
		done += NEV;
	} while ((t = now_s() - t0) < 0.5);
	struct detector_stats st;
	detector_get_stats(d, &st);
	print_message("throughput: %zu rules, %llu events in %.3f s: %.0f events/s, %llu hits\n",
		      st.rules, (unsigned long long)done, t, (double)done / t,
		      (unsigned long long)hits);
	assert_int_equal(st.events, done);
	detector_close(d);
	free(ev);
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pack),
	    cmocka_unit_test(test_pack_together),
	    cmocka_unit_test(test_throughput),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
