/* fuzz_ingest.c — libFuzzer driver for what POST /ingest does with a body: parse it as JSON
 * (object, array or scalar), as NDJSON and as CSV, normalize every object (forwarders' names
 * and log lines included), and write each event back as JSON. Whatever the ingest reader
 * (parse/jsonread.h) takes, jansson must take too, as the same value: the same text once
 * written back, key order and number text included. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/event.h"
#include "parse/csv.h"
#include "parse/forward.h"
#include "parse/jsonread.h"

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

/* The reader's value for text, checked against jansson's; the value is jansson's. */
static json_t *load(const char *text, size_t n, size_t flags)
{
	json_error_t jerr;
	json_t *fast = jsonread_document(text, n);
	json_t *v = json_loadb(text, n, flags, &jerr);
	if (fast) {
		char *a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
		char *b = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		if (!a || !b || strcmp(a, b) != 0)
			abort();
		free(a);
		free(b);
		json_decref(fast);
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct arena a;
	arena_init(&a, 0);
	json_t *v = load((const char *)data, n, JSON_ALLOW_NUL | JSON_DECODE_ANY);
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
		json_t *line = load(p, (size_t)(e - p), JSON_ALLOW_NUL);
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
