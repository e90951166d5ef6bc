/* jsonl.c — one line of a JSON-lines application log into an event: the aliases and data of
 * event_from_json, the whole line kept as raw_message. The line is read by the ingest
 * path's reader (parse/jsonread.h), with jansson's own parser for anything it is not sure
 * of. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "parse/jsonl.h"
#include "parse/jsonread.h"

static int fail(char *err, size_t errlen, int rc, const char *reason)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", reason);
	return rc;
}

#ifdef SIEM_TEST_SEAMS
bool jsonl_test_no_fast_path;
#else
#define jsonl_test_no_fast_path false
#endif

/* A value that event_from_json counts as present: not null, not "". */
static bool has_value(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0);
}

int jsonl_line_to_event(const char *line, size_t n, int64_t now_us, struct event *ev,
			struct arena *a, char *err, size_t errlen)
{
	json_error_t jerr;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	memset(ev, 0, sizeof(*ev));
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	/* Editors on Windows start files with a byte order mark; it is not part of the JSON. */
	if (n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		n -= 3;
	}
	size_t sp = 0;
	while (sp < n && (line[sp] == ' ' || line[sp] == '\t' || line[sp] == '\r'))
		sp++;
	if (sp == n)
		return fail(err, errlen, SIEM_EPARSE, "empty line");

	json_t *obj = jsonl_test_no_fast_path ? NULL : jsonread_document(line, n);
	if (!obj)
		obj = json_loadb(line, n, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	if (!obj) {
		if (err && errlen)
			snprintf(err, errlen, "malformed JSON at column %d: %s", jerr.column,
				 jerr.text);
		return SIEM_EPARSE;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		return fail(err, errlen, SIEM_ESCHEMA, "event: must be a JSON object");
	}
	/* The line itself is the raw message, so a line with neither event_type nor message is
	 * still an event: event_from_json then takes its message from the line. */
	if (!has_value(obj, "event_type") && !has_value(obj, "message") && !has_value(obj, "msg") &&
	    !has_value(obj, "raw_message") && !has_value(obj, "raw")) {
		/* The line parsed as JSON, so it is valid UTF-8. */
		if (json_object_set_new(obj, "raw_message", json_stringn_nocheck(line, n))) {
			json_decref(obj);
			return fail(err, errlen, -ENOMEM, "event: out of memory");
		}
	}
	rc = event_from_json(ev, obj, a, now_us, err, errlen);
	json_decref(obj);
	if (rc < 0)
		return rc;

	size_t k = utf8_cut(line, n, EV_CAP_RAW);
	char *raw = arena_strndup(a, line, k);
	if (!raw)
		return fail(err, errlen, -ENOMEM, "event: out of memory");
	ev->raw_message.p = raw;
	ev->raw_message.n = k;
	if (k < n)
		ev->flags |= EV_TRUNC_RAW;
	else
		ev->flags &= ~(unsigned)EV_TRUNC_RAW;
	return 0;
}
