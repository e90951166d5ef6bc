/* enrich_cost.c — what enrichment costs (BENCHMARKS.md, "Enrichment"): the time and memory to
 * load an intel directory of N indicators, and the time per event of enrich_events with the
 * intel lists alone and with GeoIP + ASN + intel, over events whose source addresses come
 * from the bench pool (bench/gen.c) with one in eight on the list. One JSON line.
 *
 *   enrich_cost --indicators 1000000 [--events 2000000] [--geoip-db F --asn-db F] [--dir D]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/event.h"
#include "enrich/enrich.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS in kB. */
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

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t next32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* A public-looking IPv4 address (first octet 11..223, not 127). */
static uint32_t public_v4(void)
{
	uint32_t a = 11 + next32() % 213;
	if (a == 127)
		a = 128;
	return a << 24 | (next32() & 0xffffff);
}

/* The list: 90 % IPv4 addresses and blocks (/16../32), 5 % IPv6 /48s, 5 % domains. */
static int write_list(const char *dir, long n, uint32_t *listed, size_t nlisted)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/bench_list.txt", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "# enrich_cost: %ld indicators\n", n);
	for (long i = 0; i < n; i++) {
		unsigned k = next32() % 100;
		if ((size_t)i < nlisted) {
			uint32_t a = listed[i];
			fprintf(f, "%u.%u.%u.%u\n", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
				a & 255);
		} else if (k < 90) {
			uint32_t a = public_v4();
			unsigned bits = 16 + next32() % 17;
			a &= bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
			fprintf(f, "%u.%u.%u.%u/%u\n", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
				a & 255, bits);
		} else if (k < 95) {
			fprintf(f, "2001:%x:%x::/48\n", next32() & 0xffff, next32() & 0xffff);
		} else {
			fprintf(f, "d%08x.bench-%u.example\n", next32(), next32() % 1000);
		}
	}
	return fclose(f);
}

int main(int argc, char **argv)
{
	long n = 1000000, events = 2000000;
	const char *geo = NULL, *asn = NULL, *dir = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--indicators"))
			n = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--events"))
			events = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--geoip-db"))
			geo = argv[i + 1];
		else if (!strcmp(argv[i], "--asn-db"))
			asn = argv[i + 1];
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
	}
	char tmp[] = "/tmp/enrich-cost.XXXXXX";
	if (!dir && !(dir = mkdtemp(tmp))) {
		perror("mkdtemp");
		return 1;
	}
	/* the events' addresses: 4096 public ones, every eighth on the list */
	enum { NADDR = 4096 };
	static uint32_t addr[NADDR], listed[NADDR / 8];
	for (size_t i = 0; i < NADDR; i++)
		addr[i] = public_v4();
	for (size_t i = 0; i < NADDR / 8; i++)
		listed[i] = addr[i * 8];
	if (write_list(dir, n, listed, NADDR / 8) < 0) {
		perror("write list");
		return 1;
	}

	long rss0 = rss_kb();
	double t0 = now_s();
	struct enrich *intel = NULL, *all = NULL;
	struct enrich_config ic = {.intel_dir = dir};
	if (enrich_open(&intel, &ic) < 0) {
		fprintf(stderr, "enrich_open failed\n");
		return 1;
	}
	double load_s = now_s() - t0;
	long intel_kb = rss_kb() - rss0;
	struct enrich_config ac = {.geoip_db = geo, .asn_db = asn, .intel_dir = dir};
	if ((geo || asn) && enrich_open(&all, &ac) < 0) {
		fprintf(stderr, "enrich_open (all) failed\n");
		return 1;
	}

	/* batches of 1000 events, as POST /ingest brings them */
	enum { BATCH = 1000 };
	static struct event ev[BATCH];
	struct arena a;
	arena_init(&a, 0);
	double ns[2] = {0, 0};
	long tagged = 0;
	struct enrich *which[2] = {intel, all};
	for (int w = 0; w < 2; w++) {
		if (!which[w])
			continue;
		double spent = 0;
		for (long done = 0; done < events; done += BATCH) {
			for (size_t i = 0; i < BATCH; i++) {
				memset(&ev[i], 0, sizeof(ev[i]));
				uint32_t x = addr[(size_t)(done + (long)i) % NADDR];
				static const uint8_t pfx[12] = {0, 0, 0, 0, 0,	 0,
								0, 0, 0, 0, 255, 255};
				memcpy(ev[i].ip, pfx, 12);
				ev[i].ip[12] = (uint8_t)(x >> 24);
				ev[i].ip[13] = (uint8_t)(x >> 16);
				ev[i].ip[14] = (uint8_t)(x >> 8);
				ev[i].ip[15] = (uint8_t)x;
				ev[i].flags = EV_HAS_IP;
			}
			arena_reset(&a);
			double s = now_s();
			enrich_events(which[w], ev, BATCH, &a);
			spent += now_s() - s;
			if (w == 0)
				for (size_t i = 0; i < BATCH; i++)
					tagged += ev[i].tags.p != NULL;
		}
		ns[w] = spent * 1e9 / (double)events;
	}
	printf("{\"indicators\":%ld,\"load_s\":%.2f,\"intel_rss_mb\":%.1f,\"events\":%ld,"
	       "\"intel_ns_per_event\":%.0f,\"all_ns_per_event\":%.0f,\"tagged_share\":%.3f}\n",
	       n, load_s, (double)intel_kb / 1024, events, ns[0], ns[1],
	       (double)tagged / (double)events);
	arena_release(&a);
	enrich_close(intel);
	enrich_close(all);
	char path[4096];
	snprintf(path, sizeof(path), "%s/bench_list.txt", dir);
	unlink(path);
	if (dir == tmp)
		rmdir(tmp);
	return 0;
}
