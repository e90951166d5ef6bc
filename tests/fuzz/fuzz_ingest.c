/* fuzz_ingest.c — libFuzzer driver for what POST /ingest does with a body: parse it as JSON
 * (object, array or scalar), as NDJSON and as CSV, normalize every object (forwarders' names
 * and log lines included), and write each event back as JSON. Whatever the ingest reader
 * (parse/jsonread.h) takes, jansson must take too, as the same value: the same text once
 * written back, key order and number text included; and each object the reader gives as
 * members must normalize to the event its jansson value gives. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/event.h"
#include "parse/csv.h"
#include "parse/forward.h"
#include "parse/jsonread.h"

#define NOW 1700000000000000LL

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

static void same_sv(struct sv a, struct sv b)
{
	if (!a.p != !b.p || a.n != b.n || (a.p && memcmp(a.p, b.p, a.n) != 0))
		abort();
}

/* The reader's objects against doc, jansson's value of the same text. */
static void same_events(const char *text, size_t n, json_t *doc, bool array, struct arena *a)
{
	struct jsonread jr;
	enum jsonread_item it;
	size_t i = 0;
	jsonread_open(&jr, text, n, array);
	while ((it = jsonread_next(&jr)) == JSONREAD_OBJECT || it == JSONREAD_OTHER) {
		if (!doc)
			continue; /* the reader gives up later on, or it is a bug caught at the end
				   */
		json_t *want = json_is_array(doc) ? json_array_get(doc, i) : doc;
		i++;
		if (!want || (it == JSONREAD_OTHER) == json_is_object(want))
			abort();
		if (it == JSONREAD_OTHER)
			continue;
		json_t *copy = json_deep_copy(want);
		struct event e1, e2;
		char err1[256] = "", err2[256] = "";
		int r1 = forward_event_from_members(&e1, jr.m, jr.n, a, NOW, err1, sizeof(err1));
		int r2 = forward_event_from_json(&e2, copy, a, NOW, err2, sizeof(err2));
		json_decref(copy);
		if (r1 != r2 || strcmp(err1, err2) != 0)
			abort();
		if (r1 != 0)
			continue;
		if (e1.flags != e2.flags)
			abort();
		if (e1.flags & EV_ID_GENERATED)
			memcpy(e2.id, e1.id, 16);
		same_sv(e1.data, e2.data);
		same_sv(e1.raw_message, e2.raw_message);
		json_t *j1 = event_to_json(&e1, true), *j2 = event_to_json(&e2, true);
		if (!j1 || !j2 || !json_equal(j1, j2))
			abort();
		json_decref(j1);
		json_decref(j2);
	}
	if (it == JSONREAD_END &&
	    (!doc || i != (json_is_array(doc) && array ? json_array_size(doc) : 1)))
		abort();
	jsonread_close(&jr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct arena a;
	arena_init(&a, 0);
	json_t *v = load((const char *)data, n, JSON_ALLOW_NUL | JSON_DECODE_ANY);
	same_events((const char *)data, n, v, true, &a);
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
		same_events(p, (size_t)(e - p), line, false, &a);
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
