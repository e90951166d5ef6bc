/* fuzz_ingest.c — libFuzzer driver for what POST /ingest does with a body: parse it as JSON
 * (object, array or scalar), as NDJSON and as CSV, normalize every object (forwarders' names
 * and log lines included), and write each event back as JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/event.h"
#include "parse/csv.h"
#include "parse/forward.h"

static void normalize(json_t *v, struct arena *a)
{
	struct event ev;
	char err[256];
	if (!json_is_object(v))
		return;
	if (forward_event_from_json(&ev, v, a, 1700000000000000LL, err, sizeof(err)) == 0) {
		json_t *out = event_to_json(&ev, true);
		json_decref(out);
	}
}

static int csv_row(void *arg, size_t row, json_t *obj, const char *err)
{
	(void)row;
	(void)err;
	if (obj)
		normalize(obj, arg);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct arena a;
	json_error_t jerr;
	arena_init(&a, 0);
	json_t *v = json_loadb((const char *)data, n, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach (v, i, e)
			normalize(e, &a);
	} else {
		normalize(v, &a);
	}
	json_decref(v);
	/* The same bytes as NDJSON. */
	for (const char *p = (const char *)data, *end = p + n; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		json_t *line = json_loadb(p, (size_t)(e - p), JSON_ALLOW_NUL, &jerr);
		normalize(line, &a);
		json_decref(line);
		p = nl ? nl + 1 : end;
	}
	/* The same bytes as CSV. */
	char err[256];
	csv_records((const char *)data, n, csv_row, &a, err, sizeof(err));
	arena_release(&a);
	return 0;
}
