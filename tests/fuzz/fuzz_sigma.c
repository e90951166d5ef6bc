/* fuzz_sigma.c — libFuzzer driver for the Sigma YAML loader (compiled rules then run through
 * a detector) and, for inputs starting with '?', the condition parser alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/event.h"
#include "detect/detect.h"
#include "detect/sigma_int.h"

static const char *events[] = {
    "{\"event_type\":\"LOGIN_FAIL\",\"source_ip\":\"10.0.0.1\",\"user\":\"root\","
    "\"os_type\":\"LINUX\",\"app\":\"sshd\",\"message\":\"Failed password for root\"}",
    "{\"event_type\":\"X\",\"os_type\":\"WINDOWS\",\"message\":\"m\",\"data\":{\"EventID\":4625,"
    "\"Channel\":\"Security\",\"EventData\":{\"IpAddress\":\"10.0.0.1\",\"LogonType\":3},"
    "\"System\":{\"Provider\":{\"Name\":\"p\"}},\"UserData\":{\"E\":{\"Operation\":\"op\"}},"
    "\"arr\":[1,\"a\",null,{\"b\":2}],\"esc\":\"\\u00e9\\\\\\\"\"}}",
    "{\"event_type\":\"DNS_BLOCK\",\"os_type\":\"PIHOLE\",\"source_ip\":\"fd00::1\","
    "\"message\":\"q\",\"data\":{\"query\":\"aaa.stage.1.example\",\"record_type\":\"A\"}}",
};

static struct event evs[3];
static struct arena arena;
static int ready;

static void init(void)
{
	arena_init(&arena, 0);
	for (size_t i = 0; i < 3; i++) {
		json_t *j = json_loads(events[i], 0, NULL);
		char err[128];
		if (!j || event_from_json(&evs[i], j, &arena, 1700000000000000LL, err, sizeof(err)))
			abort();
		json_decref(j);
	}
	ready = 1;
}

static void sink(void *ctx, const struct detect_hit *h)
{
	(void)ctx;
	if (!h->rule || !h->group_key || !h->event)
		abort();
}

static void fuzz_condition(const char *s, size_t n)
{
	struct arena a;
	arena_init(&a, 0);
	static const char *names[] = {"sel", "sel_a", "sel_b", "filter", "_x", "keywords"};
	struct detection d;
	memset(&d, 0, sizeof(d));
	d.sel = arena_alloc(&a, 6 * sizeof(*d.sel));
	if (d.sel) {
		memset(d.sel, 0, 6 * sizeof(*d.sel));
		for (size_t i = 0; i < 6; i++)
			d.sel[i].name = names[i];
		d.nsel = 6;
		char err[256];
		struct cctx cc = {&a, err, sizeof(err), NULL, NULL, false, NULL};
		int root;
		if (cond_parse(&cc, &d, s, n, 1, &root) == 0 &&
		    (root < 0 || (size_t)root >= d.nnode))
			abort();
	}
	arena_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	if (!ready)
		init();
	char *s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, data, n);
	s[n] = '\0';
	if (n && s[0] == '?') {
		fuzz_condition(s + 1, n - 1);
		free(s);
		return 0;
	}
	struct rule **r;
	size_t nr;
	char err[512];
	if (rule_compile(s, n, "fuzz", &r, &nr, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < nr; i++)
			for (size_t e = 0; e < 3; e++)
				rule_matches(r[i], &evs[e]);
		struct detector *d;
		struct detector_config cfg = {NULL, 16};
		if (detector_open(&d, &cfg) == 0) {
			if (detector_set_rules(d, r, nr, err, sizeof(err)) == 0)
				for (int k = 0; k < 3; k++)
					for (size_t e = 0; e < 3; e++)
						detector_eval(d, &evs[e], sink, NULL);
			detector_close(d);
		} else {
			for (size_t i = 0; i < nr; i++)
				rule_free(r[i]);
			free(r);
		}
	} else if (!err[0]) {
		abort(); /* a refusal always says why */
	}
	free(s);
	return 0;
}
