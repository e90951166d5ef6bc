/* fuzz_winevent.c — libFuzzer driver for winevent_from_xml: every accepted event serializes,
 * stays within its caps and maps again to the same event; every rejection says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "parse/winevent.h"

static bool same_sv(struct sv a, struct sv b)
{
	return !a.p == !b.p && a.n == b.n && (!a.p || !memcmp(a.p, b.p, a.n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct arena a;
	struct event e1, e2;
	char err[256];
	/* A private copy without a terminator: nothing may read past the document. */
	char *x = malloc(n ? n : 1);
	if (!x)
		return 0;
	memcpy(x, data, n);
	arena_init(&a, 0);

	int rc = winevent_from_xml(x, n, &e1, &a, err, sizeof(err));
	if (rc) {
		if (rc != SIEM_EPARSE || !err[0])
			abort();
		goto out;
	}
	if (!e1.data.p || e1.data.n > EV_CAP_DATA || e1.message.n > EV_CAP_MESSAGE ||
	    e1.raw_message.n > EV_CAP_RAW || !e1.event_type.p || e1.severity < 1 || e1.severity > 5)
		abort();
	json_t *d = json_loadb(e1.data.p, e1.data.n, 0, NULL);
	if (!json_is_object(d) || !json_object_get(d, "EventID"))
		abort();
	json_decref(d);
	json_t *o = event_to_json(&e1, true);
	if (!o)
		abort();
	char *s = json_dumps(o, JSON_COMPACT);
	if (!s)
		abort();
	free(s);
	json_decref(o);

	/* deterministic: the same document is the same event (the id above all) */
	if (winevent_from_xml(x, n, &e2, &a, err, sizeof(err)))
		abort();
	if (memcmp(e1.id, e2.id, 16) || !same_sv(e1.data, e2.data) ||
	    !same_sv(e1.message, e2.message) || !same_sv(e1.user, e2.user) ||
	    !same_sv(e1.source_ip, e2.source_ip) || e1.severity != e2.severity)
		abort();
	if (!(e1.flags & EV_TS_MISSING) && e1.ts != e2.ts)
		abort();
out:
	arena_release(&a);
	free(x);
	return 0;
}
