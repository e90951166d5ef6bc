/* jsonl.c — one line of a JSON-lines application log into an event: the aliases and data of
 * event_from_json, the whole line kept as raw_message. The line is read by the ingest
 * path's reader (parse/jsonread.h) as members, without a tree, with jansson's own parser
 * for anything it is not sure of. */
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

static const char *const message_keys[] = {"event_type", "message", "msg", "raw_message", "raw"};

/* has_value over the reader's members. */
static bool member_has_value(const struct event_member *m, size_t n, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < n; i++)
		if (m[i].key_len == kl && !memcmp(m[i].key, key, kl))
			return m[i].type != JSON_NULL &&
			       !(m[i].type == JSON_STRING && m[i].len == 0);
	return false;
}

/* The line read by the ingest reader as members, without a tree: 1 when it was not sure of
 * the line (jansson's turn), else what event_from_members returned. */
static int members_to_event(const char *line, size_t n, int64_t now_us, struct event *ev,
			    struct arena *a, char *err, size_t errlen)
{
	struct jsonread jr;
	int rc = 1;
	jsonread_open(&jr, line, n, false);
	if (jsonread_next(&jr) != JSONREAD_OBJECT)
		goto out;
	bool has = false;
	for (size_t i = 0; !has && i < sizeof(message_keys) / sizeof(message_keys[0]); i++)
		has = member_has_value(jr.m, jr.n, message_keys[i]);
	if (has) {
		rc = event_from_members(ev, jr.m, jr.n, a, now_us, err, errlen);
		goto out;
	}
	/* The line as raw_message, in the place of an empty one or after the others. */
	struct event_member m[65];
	size_t k = jr.n, i;
	if (k >= sizeof(m) / sizeof(m[0]))
		goto out;
	if (k)
		memcpy(m, jr.m, k * sizeof(m[0]));
	for (i = 0; i < k && !(m[i].key_len == 11 && !memcmp(m[i].key, "raw_message", 11)); i++)
		;
	m[i] = (struct event_member){
	    .key = "raw_message", .key_len = 11, .type = JSON_STRING, .str = line, .len = n};
	rc = event_from_members(ev, m, i == k ? k + 1 : k, a, now_us, err, errlen);
out:
	jsonread_close(&jr);
	return rc;
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

	rc = jsonl_test_no_fast_path ? 1 : members_to_event(line, n, now_us, ev, a, err, errlen);
	if (rc <= 0)
		goto done;
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
	bool has = false;
	for (size_t i = 0; !has && i < sizeof(message_keys) / sizeof(message_keys[0]); i++)
		has = has_value(obj, message_keys[i]);
	if (!has) {
		/* The line parsed as JSON, so it is valid UTF-8. */
		if (json_object_set_new(obj, "raw_message", json_stringn_nocheck(line, n))) {
			json_decref(obj);
			return fail(err, errlen, -ENOMEM, "event: out of memory");
		}
	}
	rc = event_from_json(ev, obj, a, now_us, err, errlen);
	json_decref(obj);
done:
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
