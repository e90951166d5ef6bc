/* parse_cost.c — the cost of POST /ingest's parse and normalization per event, alone: the
 * events of an NDJSON file (`loadgen --sample N`) as one JSON array body, read and normalized
 * REPS times into a batch, by jansson's parser and tree (json_loadb + forward_event_from_json,
 * the way of every body before the ingest reader) or by the ingest reader's members
 * (jsonread + forward_event_from_members, what the hub does now). Prints one JSON line with
 * the nanoseconds per event. For instructions, run it under callgrind with two REPS and take
 * the difference (start-up cancels out):
 *   valgrind --tool=callgrind parse_cost --path reader --reps 1 FILE   (then --reps 3) */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/jsonalloc.h"
#include "ingest/batch.h"
#include "parse/forward.h"
#include "parse/jsonread.h"

static int usage(void)
{
	fprintf(stderr, "usage: parse_cost [--path reader|jansson] [--reps N] EVENTS.ndjson\n");
	return 2;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"path", 1, 0, 'p'}, {"reps", 1, 0, 'r'}, {0, 0, 0, 0}};
	bool reader = true;
	long reps = 10;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p' && (!strcmp(optarg, "reader") || !strcmp(optarg, "jansson")))
			reader = !strcmp(optarg, "reader");
		else if (c == 'r' && (reps = strtol(optarg, NULL, 10)) > 0)
			;
		else
			return usage();
	}
	if (optind != argc - 1)
		return usage();
	FILE *f = fopen(argv[optind], "rb");
	if (!f) {
		perror(argv[optind]);
		return 1;
	}
	size_t cap = 1 << 20, n = 0, k;
	char *text = malloc(cap);
	while (text && (k = fread(text + n, 1, cap - n, f)) > 0)
		if ((n += k) == cap && !(text = realloc(text, cap *= 2)))
			break;
	fclose(f);
	char *body = text ? malloc(n + 2) : NULL;
	if (!body) {
		fprintf(stderr, "parse_cost: out of memory\n");
		return 1;
	}
	/* The lines as one array: "[" line "," line ... "]". */
	size_t len = 0, events = 0;
	body[len++] = '[';
	for (size_t i = 0; i < n; i++) {
		if (text[i] != '\n') {
			body[len++] = text[i];
			continue;
		}
		events++;
		if (i + 1 < n)
			body[len++] = ',';
	}
	if (n && text[n - 1] != '\n')
		events++;
	body[len++] = ']';

	jsonalloc_install();
	size_t stored = 0;
	char err[256];
	double t0 = now_s();
	for (long r = 0; r < reps; r++) {
		struct ingest_batch b;
		if (ingest_batch_init(&b, events ? events : 1, 0, 0) < 0)
			return 1;
		jsonalloc_begin();
		if (reader) {
			struct jsonread jr;
			jsonread_open(&jr, body, len, true);
			while (jsonread_next(&jr) == JSONREAD_OBJECT) {
				struct event *ev = ingest_batch_add_event(&b);
				if (ev && forward_event_from_members(ev, jr.m, jr.n, &b.arena, 1,
								     err, sizeof(err)) == 0)
					stored++;
			}
			jsonread_close(&jr);
		} else {
			json_t *v = json_loadb(body, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
			for (size_t i = 0; i < json_array_size(v); i++) {
				struct event *ev = ingest_batch_add_event(&b);
				if (ev &&
				    forward_event_from_json(ev, json_array_get(v, i), &b.arena, 1,
							    err, sizeof(err)) == 0)
					stored++;
			}
			json_decref(v);
		}
		jsonalloc_end();
		ingest_batch_release(&b);
	}
	double dt = now_s() - t0;
	printf("{\"path\":\"%s\",\"events\":%zu,\"reps\":%ld,\"normalized\":%zu,\"ns_per_event\":%."
	       "0f}\n",
	       reader ? "reader" : "jansson", events, reps, stored,
	       events ? dt * 1e9 / ((double)events * (double)reps) : 0.0);
	free(text);
	free(body);
	return stored == events * (size_t)reps ? 0 : 1;
}
