/* fuzz_jsonl.c — libFuzzer driver for jsonl_line_to_event (one tailed line). Each input is
 * read twice, by the fast reader and by jansson alone: both must give the same result,
 * the same error, and the same event. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/event.h"
#include "parse/jsonl.h"

#define NOW 1700000000000000LL

static void same_sv(struct sv a, struct sv b)
{
	if (!a.p != !b.p || a.n != b.n || (a.p && memcmp(a.p, b.p, a.n) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct arena a;
	struct event e1, e2;
	char err1[256], err2[256];
	/* A private copy without a terminator: nothing may read past the line. */
	char *line = malloc(n ? n : 1);
	if (!line)
		return 0;
	memcpy(line, data, n);
	arena_init(&a, 0);

	jsonl_test_no_fast_path = false;
	int r1 = jsonl_line_to_event(line, n, NOW, &e1, &a, err1, sizeof(err1));
	jsonl_test_no_fast_path = true;
	int r2 = jsonl_line_to_event(line, n, NOW, &e2, &a, err2, sizeof(err2));
	jsonl_test_no_fast_path = false;

	if (r1 != r2 || strcmp(err1, err2) != 0)
		abort();
	if (r1 == 0) {
		if (e1.flags != e2.flags)
			abort();
		if (e1.flags & EV_ID_GENERATED)
			memcpy(e2.id, e1.id, 16); /* random v4 ids */
		same_sv(e1.data, e2.data);	  /* byte for byte: key order and number text */
		same_sv(e1.raw_message, e2.raw_message);
		json_t *j1 = event_to_json(&e1, true), *j2 = event_to_json(&e2, true);
		if (!j1 || !j2 || !json_equal(j1, j2))
			abort();
		json_decref(j1);
		json_decref(j2);
	}
	arena_release(&a);
	free(line);
	return 0;
}
