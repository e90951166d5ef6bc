/* sigma_cost.c — what SigmaHQ's rules cost the detector (BENCHMARKS.md, "The rule engine
 * with SigmaHQ's rules"): the rule files of the folders given whose logsource product is
 * windows or linux, those the engine accepts loaded into one detector, its memory, and the
 * events per second of CPU time of one thread evaluating the bench's mixed events (bench/gen.c:
 * sshd, sudo, Windows security log, Pi-hole, application events) against them. One JSON line.
 *
 *   sigma_cost [--events 2000000] [--products windows,linux|'*'] DIR...
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "gen.h"
#include "core/arena.h"
#include "core/event.h"
#include "core/file.h"
#include "detect/sigma_int.h"

#define POOL 20000

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct set {
	struct rule **r;
	size_t n, cap;
	size_t files, taken, refused;
	const char *products;
};

static bool wanted(const struct set *s, const struct rule *r)
{
	const char *p = r->ls_product;
	size_t n = p ? strlen(p) : 0;
	if (!strcmp(s->products, "*")) /* every accepted rule */
		return true;
	for (const char *q = s->products; p && *q;) {
		const char *c = strchr(q, ',');
		size_t k = c ? (size_t)(c - q) : strlen(q);
		if (k == n && !memcmp(q, p, n))
			return true;
		q += k + (c != NULL);
	}
	return false;
}

static void add_file(struct set *s, const char *path)
{
	char *text = NULL, err[1024];
	size_t n = 0;
	struct rule **rules = NULL;
	size_t nr = 0;
	s->files++;
	if (file_read_all(path, RULE_FILE_MAX, &text, &n))
		return;
	if (rule_compile_file(text, n, path, &rules, &nr, err, sizeof(err))) {
		s->refused++;
		free(text);
		return;
	}
	free(text);
	for (size_t i = 0; i < nr; i++) {
		if (!wanted(s, rules[i]) || rules[i]->corr) {
			rule_free(rules[i]);
			continue;
		}
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 1024;
			s->r = realloc(s->r, s->cap * sizeof(*s->r));
			if (!s->r)
				exit(1);
		}
		s->r[s->n++] = rules[i];
		s->taken++;
	}
	free(rules);
}

static void walk(struct set *s, const char *dir)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char p[4096];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, name);
		size_t len = strlen(name);
		if (name[0] != '.' && lstat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				walk(s, p);
			else if (S_ISREG(st.st_mode) && len > 4 && !strcmp(name + len - 4, ".yml"))
				add_file(s, p);
		}
		free(ents[i]);
	}
	free(ents);
}

static uint64_t hits;
static void sink(void *ctx, const struct detect_hit *h)
{
	(void)ctx;
	(void)h;
	hits++;
}

int main(int argc, char **argv)
{
	long long nev = 2000000;
	struct set s = {0};
	s.products = "windows,linux";
	int first = 1;
	for (; first < argc && argv[first][0] == '-'; first += 2) {
		if (first + 1 >= argc)
			return 2;
		if (!strcmp(argv[first], "--events")) {
			if (gen_parse_count(argv[first + 1], 1000, 1000000000LL, &nev))
				return 2;
		} else if (!strcmp(argv[first], "--products")) {
			s.products = argv[first + 1];
		} else {
			fprintf(stderr, "usage: sigma_cost [--events N] [--products P,Q] DIR...\n");
			return 2;
		}
	}
	if (first >= argc) {
		fprintf(stderr, "usage: sigma_cost [--events N] [--products P,Q] DIR...\n");
		return 2;
	}
	/* the events first, so that the memory measured below is the rules' */
	struct gen g;
	if (gen_init(&g, 42))
		return 1;
	struct arena a;
	arena_init(&a, 0);
	struct event *evs = calloc(POOL, sizeof(*evs));
	char buf[8192];
	int64_t t0 = gen_now_us();
	for (size_t i = 0; i < POOL; i++) {
		struct gen_event ge;
		size_t idoff, tsoff;
		gen_next(&g, &ge, t0 + (int64_t)i * 1000);
		size_t len = gen_json(&ge, buf, sizeof(buf), &idoff, &tsoff);
		json_error_t je;
		json_t *j = json_loadb(buf, len, 0, &je);
		char err[256];
		if (!j || event_from_json(&evs[i], j, &a, t0, err, sizeof(err))) {
			fprintf(stderr, "sigma_cost: event %zu: %s\n", i, j ? err : je.text);
			return 1;
		}
		json_decref(j);
	}
	long rss0 = rss_kb();
	double c0 = now_s();
	for (int i = first; i < argc; i++)
		walk(&s, argv[i]);
	struct detector *d;
	struct detector_config dc = {NULL, 0};
	char err[1024];
	if (detector_open(&d, &dc) || detector_set_rules(d, s.r, s.n, err, sizeof(err))) {
		fprintf(stderr, "sigma_cost: %s\n", err);
		return 1;
	}
	double load_s = now_s() - c0;
	long rss1 = rss_kb();
	/* warm up once, then time */
	for (size_t i = 0; i < POOL; i++)
		detector_eval(d, &evs[i], sink, NULL);
	hits = 0;
	double cpu0 = gen_cpu_seconds();
	for (long long i = 0; i < nev; i++)
		detector_eval(d, &evs[i % POOL], sink, NULL);
	double cpu = gen_cpu_seconds() - cpu0;
	printf("{\"files\":%zu,\"refused\":%zu,\"rules\":%zu,\"products\":\"%s\",\"load_s\":%.2f,"
	       "\"rules_rss_mb\":%.1f,\"events\":%lld,\"cpu_s\":%.2f,\"events_per_s\":%.0f,"
	       "\"hits\":%" PRIu64 "}\n",
	       s.files, s.refused, s.n, s.products, load_s, (double)(rss1 - rss0) / 1024.0, nev,
	       cpu, (double)nev / cpu, hits);
	detector_close(d);
	free(evs);
	arena_release(&a);
	return 0;
}
