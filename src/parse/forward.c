/* forward.c — forwarders' records into events: a table of their names for the event's
 * fields, then the record's log line through the syslog path (parse/logline.c) or the
 * program decoders (parse/decode.c). */
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "parse/decode.h"
#include "parse/forward.h"
#include "parse/logline.h"
#include "parse/syslog.h"

/*
 * Names the forwarders use for the event's fields, each taken only when the record has no
 * field of the canonical name (nor of an alias event.c knows):
 *   Fluent Bit   "date" (its json_date_key), "log" (tail: the raw line), "ident" (syslog input)
 *   Vector       "appname", "file" (file source); "severity" as a level name (below)
 *   Logstash     "host": {"name"|"hostname"}, "event": {"original"}, "program",
 *                "logsource", "process": {"name"}
 *   syslog-ng    format-json's MESSAGE, PROGRAM, HOST, ISODATE, PRIORITY / LEVEL
 * A string "severity" that is a syslog level name ("notice", "err", "info" ...) is the
 * record's level: the event's severity is a number 1..5.
 */
static const struct {
	const char *from; /* a top-level key, or "outer.inner" */
	const char *to;	  /* the canonical name */
} names[] = {
    {"log", "raw_message"},
    {"MESSAGE", "message"},
    {"event.original", "raw_message"},
    {"date", "timestamp"},
    {"ISODATE", "timestamp"},
    {"host.name", "source_host"},
    {"host.hostname", "source_host"},
    {"HOST", "source_host"},
    {"logsource", "source_host"},
    {"PROGRAM", "app"},
    {"appname", "app"},
    {"ident", "app"},
    {"program", "app"},
    {"process.name", "app"},
    {"PRIORITY", "level"},
    {"LEVEL", "level"},
    {"file", "source_file"},
};

/* Keys event.c reads as each canonical field (the field itself and its aliases). */
static const char *const present_keys[][5] = {
    {"message", "msg", NULL},
    {"raw_message", "raw", NULL},
    {"timestamp", "ts", "@timestamp", "time", NULL},
    {"source_host", "host", "hostname", NULL},
    {"app", NULL},
    {"level", NULL},
    {"source_file", NULL},
};
static const char *const canonical[] = {"message", "raw_message", "timestamp",	"source_host",
					"app",	   "level",	  "source_file"};

static bool field_present(json_t *obj, const char *field)
{
	for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
		if (strcmp(canonical[i], field))
			continue;
		for (const char *const *k = present_keys[i]; *k; k++) {
			json_t *v = json_object_get(obj, *k);
			/* A Logstash "host" object is no host name: it is replaced below. */
			if (v && !json_is_null(v) && !json_is_object(v))
				return true;
		}
	}
	return false;
}

/* The value at "a" or "a.b" when it is a non-empty string or a number. */
static json_t *lookup(json_t *obj, const char *path)
{
	const char *dot = strchr(path, '.');
	json_t *v =
	    dot ? json_object_getn(obj, path, (size_t)(dot - path)) : json_object_get(obj, path);
	if (dot)
		v = json_is_object(v) ? json_object_get(v, dot + 1) : NULL;
	if (json_is_string(v) && json_string_length(v) > 0)
		return v;
	return json_is_number(v) ? v : NULL;
}

static const char *const syslog_levels[] = {"emerg", "emergency",     "alert",	 "crit", "critical",
					    "err",   "error",	      "warning", "warn", "notice",
					    "info",  "informational", "debug"};

/* A "severity" that names a level: a syslog level name that is no severity name of the
 * event ("critical" and "info" are both, and stay severities), or any syslog level name in
 * a Vector record, whose severity is always the syslog one. */
static bool is_level_name(json_t *obj, json_t *v)
{
	static const char *const sev_names[] = {"info", "low", "medium", "high", "critical"};
	const char *s = json_string_value(v);
	for (size_t i = 0; s && !json_object_get(obj, "source_type") && i < 5; i++)
		if (!strcasecmp(s, sev_names[i]))
			return false;
	for (size_t i = 0; s && i < sizeof(syslog_levels) / sizeof(syslog_levels[0]); i++)
		if (!strcasecmp(s, syslog_levels[i]))
			return true;
	return false;
}

/* Does obj have a key the mapping may rename? One pass over its keys, so that the events
 * of applications, which have none, cost next to nothing here. */
static bool has_forwarder_key(json_t *obj)
{
	const char *k;
	json_t *v;
	json_object_foreach (obj, k, v) {
		if (!strcmp(k, "severity")) {
			if (is_level_name(obj, v))
				return true;
			continue;
		}
		size_t kl = strlen(k);
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			const char *f = names[i].from;
			/* "a.b" names need an object "a" ("host" as a string is an alias) */
			if (f[0] == k[0] && !strncmp(f, k, kl) &&
			    (f[kl] == '\0' || (f[kl] == '.' && json_is_object(v))))
				return true;
		}
	}
	return false;
}

/* Rename the forwarders' keys in obj. Returns 0 or -ENOMEM. */
static int map_names(json_t *obj)
{
	if (!has_forwarder_key(obj))
		return 0;
	json_t *sev = json_object_get(obj, "severity");
	if (is_level_name(obj, sev) && !json_object_get(obj, "level")) {
		if (json_object_set(obj, "level", sev))
			return -ENOMEM;
		json_object_del(obj, "severity");
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (field_present(obj, names[i].to))
			continue;
		json_t *v = lookup(obj, names[i].from);
		if (!v)
			continue;
		json_incref(v);
		bool host_obj = !strncmp(names[i].from, "host.", 5);
		if (host_obj)
			json_object_del(obj, "host"); /* the object goes; its name is the host */
		else if (!strchr(names[i].from, '.'))
			json_object_del(obj, names[i].from);
		int rc = json_object_set_new(obj, names[i].to, v);
		if (rc)
			return -ENOMEM;
	}
	/* A "host" object without a name would fail the schema: it is data. */
	json_t *h = json_object_get(obj, "host");
	if (json_is_object(h)) {
		if (json_object_set(obj, "host_info", h))
			return -ENOMEM;
		json_object_del(obj, "host");
	}
	return 0;
}

/* ---- the record's log line ---- */

/* data: the line's (syslog header, decoder fields), then the record's other fields where
 * the line has none of that name, and "forwarder": the record's host, program and time. */
static int merge_data(struct event *ev, const struct event *line, struct arena *a)
{
	json_t *d = line->data.p ? json_loadb(line->data.p, line->data.n, 0, NULL) : json_object();
	json_t *rec = ev->data.p ? json_loadb(ev->data.p, ev->data.n, 0, NULL) : NULL;
	json_t *fw = json_object();
	char t[32];
	int rc = -ENOMEM;
	if (!d || !fw)
		goto out;
	const char *k;
	json_t *v;
	json_object_foreach (rec, k, v)
		if (!json_object_get(d, k) && json_object_set(d, k, v))
			goto out;
	if (ev->source_host.p && strcmp(ev->source_host.p, "unknown") &&
	    json_object_set_new(fw, "host", json_stringn(ev->source_host.p, ev->source_host.n)))
		goto out;
	if (ev->app.p && json_object_set_new(fw, "app", json_stringn(ev->app.p, ev->app.n)))
		goto out;
	if (!(ev->flags & EV_TS_MISSING) &&
	    json_object_set_new(fw, "timestamp", json_stringn(t, ts_format(ev->ts, t))))
		goto out;
	if (json_object_size(fw) && json_object_set(d, "forwarder", fw))
		goto out;
	/* Into the arena (jansson's own allocations may live in a scratch region). */
	size_t n = json_dumpb(d, NULL, 0, JSON_COMPACT);
	if (n == 0)
		goto out;
	if (n > EV_CAP_DATA) {
		ev->flags |= EV_TRUNC_DATA;
		rc = sv_capped(a, &ev->data, "{\"_truncated\":true}", 18, EV_CAP_DATA, 0,
			       &ev->flags);
		goto out;
	}
	char *text = arena_alloc(a, n + 1);
	if (!text || json_dumpb(d, text, n, JSON_COMPACT) != n)
		goto out;
	text[n] = '\0';
	ev->data = (struct sv){text, n};
	rc = 0;
out:
	json_decref(d);
	json_decref(rec);
	json_decref(fw);
	return rc;
}

/* The record's message as a syslog line: 1 when it was one (ev then holds it), 0 when not,
 * or a negative error. */
static int decode_line(struct event *ev, struct sv text, bool keep_os, bool keep_sev,
		       struct arena *a, int64_t now_us)
{
	struct event line;
	char err[128];
	struct logline_ctx ctx = {.source = NULL, .os_type = NULL, .host = NULL};
	if (logline_to_event(FMT_SYSLOG, text.p, text.n, &ctx, now_us, &line, a, err, sizeof(err),
			     NULL))
		return 0;
	/* A line is a syslog line when it carried a time and a program, or a PRI. */
	if (!line.app.p || ((line.flags & EV_TS_MISSING) && text.p[0] != '<'))
		return 0;
	int rc = merge_data(ev, &line, a);
	if (rc < 0)
		return rc;
	if (!(line.flags & EV_TS_MISSING)) {
		ev->ts = line.ts;
		ev->flags &= ~(unsigned)EV_TS_MISSING;
	}
	ev->flags |= line.flags & (EV_TRUNC_MESSAGE | EV_HAS_IP);
	if (strcmp(line.source_host.p, "unknown"))
		ev->source_host = line.source_host;
	ev->app = line.app;
	ev->message = line.message;
	ev->event_type = line.event_type;
	if (!keep_sev)
		ev->severity = line.severity;
	if (line.level.p)
		ev->level = line.level;
	if (!keep_os)
		ev->os_type = line.os_type;
	if (line.flags & EV_HAS_IP) {
		memcpy(ev->ip, line.ip, sizeof(ev->ip));
		ev->source_ip = line.source_ip;
	}
	if (strcmp(line.user.p, "system"))
		ev->user = line.user;
	if (!ev->raw_message.p) {
		ev->raw_message = line.raw_message;
		if (ev->flags & EV_TRUNC_MESSAGE)
			ev->flags |= EV_TRUNC_RAW; /* the line was the message, capped */
	}
	return 1;
}

/* A record without an event_type, once normalized: its log line decoded. */
static int decode_record(struct event *ev, bool keep_os, bool keep_sev, struct arena *a,
			 int64_t now_us)
{
	int rc;
	/* The raw line when the record has one (capped at 64 KiB, the message at 8 KiB). */
	struct sv text = ev->raw_message.p ? ev->raw_message : ev->message;
	if (text.p && syslog_looks_like_line(text.p, text.n) &&
	    (rc = decode_line(ev, text, keep_os, keep_sev, a, now_us)) != 0)
		return rc < 0 ? rc : 0;
	/* A program the decoders know, its message alone (Vector's, Fluent Bit's syslog
	 * inputs, syslog-ng's PROGRAM and MESSAGE). */
	if (ev->app.p && (rc = decode_auth(ev, a, NULL)) < 0)
		return rc;
	if (!keep_os && ev->app.p && strcmp(ev->event_type.p, "GENERIC"))
		ev->os_type = (struct sv){"LINUX", 5};
	return 0;
}

int forward_event_from_json(struct event *ev, json_t *obj, struct arena *a, int64_t now_us,
			    char *err, size_t errlen)
{
	int rc;
	if (!json_is_object(obj))
		return event_from_json(ev, obj, a, now_us, err, errlen);
	if ((rc = map_names(obj)) < 0)
		return rc;
	bool typed = json_object_get(obj, "event_type") != NULL;
	bool keep_os = json_object_get(obj, "os_type") != NULL;
	bool keep_sev = json_is_number(json_object_get(obj, "severity"));
	if ((rc = event_from_json(ev, obj, a, now_us, err, errlen)) != 0 || typed)
		return rc;
	return decode_record(ev, keep_os, keep_sev, a, now_us);
}

static const struct event_member *member(const struct event_member *m, size_t n, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < n; i++)
		if (m[i].key_len == kl && !memcmp(m[i].key, key, kl))
			return &m[i];
	return NULL;
}

/* has_forwarder_key over members. */
static bool has_forwarder_member(const struct event_member *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *k = m[i].key;
		size_t kl = m[i].key_len;
		if (kl == 8 && !memcmp(k, "severity", 8)) {
			static const char *const sev_names[] = {"info", "low", "medium", "high",
								"critical"};
			if (m[i].type != JSON_STRING)
				continue;
			const char *s = m[i].str;
			size_t sl = m[i].len;
			bool vector = member(m, n, "source_type") != NULL, sev = false;
			for (size_t j = 0; !vector && j < 5; j++)
				sev |=
				    strlen(sev_names[j]) == sl && !strncasecmp(s, sev_names[j], sl);
			for (size_t j = 0;
			     !sev && j < sizeof(syslog_levels) / sizeof(syslog_levels[0]); j++)
				if (strlen(syslog_levels[j]) == sl &&
				    !strncasecmp(s, syslog_levels[j], sl))
					return true;
			continue;
		}
		/* The first letters of names[].from: most keys are none of them. */
		static const char firsts[] = "lMedIhHPaipfL";
		if (!kl || !memchr(firsts, k[0], sizeof(firsts) - 1))
			continue;
		for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
			const char *f = names[j].from;
			if (f[0] == k[0] && !strncmp(f, k, kl) &&
			    (f[kl] == '\0' || (f[kl] == '.' && m[i].type == JSON_OBJECT)))
				return true;
		}
	}
	return false;
}

int forward_event_from_members(struct event *ev, const struct event_member *m, size_t n,
			       struct arena *a, int64_t now_us, char *err, size_t errlen)
{
	int rc;
	if (has_forwarder_member(m, n)) {
		/* The forwarders' own names are renamed in a jansson object: rare enough. */
		json_t *obj = json_object();
		for (size_t i = 0; obj && i < n; i++)
			if (json_object_setn_new_nocheck(obj, m[i].key, m[i].key_len,
							 event_member_json(&m[i]))) {
				json_decref(obj);
				obj = NULL;
			}
		if (!obj) {
			memset(ev, 0, sizeof(*ev));
			return -ENOMEM;
		}
		rc = forward_event_from_json(ev, obj, a, now_us, err, errlen);
		json_decref(obj);
		return rc;
	}
	const struct event_member *sev = member(m, n, "severity");
	bool typed = member(m, n, "event_type") != NULL;
	bool keep_os = member(m, n, "os_type") != NULL;
	bool keep_sev = sev && (sev->type == JSON_INTEGER || sev->type == JSON_REAL);
	if ((rc = event_from_members(ev, m, n, a, now_us, err, errlen)) != 0 || typed)
		return rc;
	return decode_record(ev, keep_os, keep_sev, a, now_us);
}
