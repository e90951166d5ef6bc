/* fuzz_decode.c — libFuzzer driver for logline_to_event and decode_auth: the first byte
 * picks the path; every event must serialize, its data must be a JSON object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/tz.h"
#include "parse/decode.h"
#include "parse/logline.h"

#define NOW 1795248000000000LL /* 2026-11-21T08:00:00Z */

static struct arena arena;

static void check(const struct event *ev)
{
	if (ev->data.p) {
		json_t *d = json_loadb(ev->data.p, ev->data.n, 0, NULL);
		if (!json_is_object(d))
			abort();
		json_decref(d);
	}
	json_t *o = event_to_json(ev, true);
	if (!o)
		abort();
	char *s = json_dumps(o, JSON_COMPACT);
	if (!s)
		abort();
	free(s);
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const enum log_format fmts[] = {FMT_AUTO, FMT_SYSLOG, FMT_AUTH, FMT_SYSLOG};
	unsigned mode = data[0] & 7;
	char *p = malloc(size);
	if (!p)
		return 0;
	memcpy(p, data + 1, size - 1);
	struct event ev;
	struct decode_explain ex;
	char err[256];
	arena_reset(&arena);
	if (mode < 4) {
		/* Half the lines with senders' zones (a zone file and a fixed offset). */
		static struct tz_map *zones;
		char zerr[128];
		if (!zones &&
		    tz_map_parse("Europe/Paris,192.0.2.1=+09:00", &zones, zerr, sizeof(zerr)) < 0)
			zones = NULL;
		const struct logline_ctx ctx = {.source = "fuzz",
						.host = mode & 1 ? "192.0.2.1" : NULL,
						.zones = mode & 2 ? zones : NULL};
		int rc = logline_to_event(fmts[mode], p, size - 1, &ctx, NOW, &ev, &arena, err,
					  sizeof(err), mode & 2 ? &ex : NULL);
		if (rc == 0)
			check(&ev);
		else if (rc != SIEM_EPARSE && rc != SIEM_ESCHEMA)
			abort();
	} else {
		/* "program\nmessage": any program name and message straight to the decoders,
		 * as journald or an agent would hand them over (already valid strings). */
		char *nl = memchr(p, '\n', size - 1);
		memset(&ev, 0, sizeof(ev));
		ev.app = (struct sv){p, nl ? (size_t)(nl - p) : size - 1};
		ev.message =
		    nl ? (struct sv){nl + 1, (size_t)(p + size - 1 - nl - 1)} : (struct sv){"", 0};
		if (mode & 1)
			ev.data = (struct sv){"{\"a\":1}", 7};
		int rc = decode_auth(&ev, &arena, mode & 2 ? &ex : NULL);
		if (rc < 0)
			abort();
		if (ev.data.p) {
			json_t *d = json_loadb(ev.data.p, ev.data.n, 0, NULL);
			if (!json_is_object(d))
				abort();
			json_decref(d);
		}
	}
	free(p);
	return 0;
}
