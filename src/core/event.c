/* event.c — one JSON object (any client's names) into a struct event (DESIGN §2), and back,
 * by the field table (event_fields.h). On the ingest hot path: one pass over the object, keys
 * found through a small hash table. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "event.h"

struct key {
	const char *name;
	unsigned char len, fid, rank; /* fid: enum event_field; lower rank wins, 0 is canonical */
};

/* The canonical names a client may use (IN), then the aliases. "ingest_key" is not a name
 * here on purpose: the hub sets it from the request's API key (src/api/ingest.c), and a
 * client's "ingest_key" is an unknown field like any other. */
#define KEY_ROW(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, ...) \
	EF_IF_##IN({NAME, sizeof(NAME) - 1, EF_##ID, 0}, )
#define KEY_ALIAS(NAME, ID, RANK, SIGMA) {NAME, sizeof(NAME) - 1, EF_##ID, RANK},
static const struct key keys[] = {EVENT_FIELDS(KEY_ROW) EVENT_ALIASES(KEY_ALIAS)};

/* The shortest and longest names in keys[]: bit n of KEY_LENS is set when one is n bytes
 * long (all are shorter than 32). */
#define KEY_LEN_ROW(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, ...) \
	EF_IF_##IN(| (1u << (sizeof(NAME) - 1)))
#define KEY_LEN_ALIAS(NAME, ...) | (1u << (sizeof(NAME) - 1))
#define KEY_LENS (0u EVENT_FIELDS(KEY_LEN_ROW) EVENT_ALIASES(KEY_LEN_ALIAS))
#define KEY_MIN_LEN ((size_t)__builtin_ctz(KEY_LENS))
#define KEY_MAX_LEN ((size_t)(31 - __builtin_clz(KEY_LENS)))

/* The plain string fields (KIND STR), in the table's order. */
#define STR_ROW(ID, MEMBER, KIND, ...) EF_IF_STR(KIND, EF_##ID, )
static const unsigned char str_fields[] = {EVENT_FIELDS(STR_ROW)};

static const struct {
	const char *name;
	int sev;
} severity_names[] = {
    {"info", 1}, {"low", 2}, {"medium", 3}, {"high", 4}, {"critical", 5},
};

static const struct {
	const char *name;
	int sev;
} level_severity[] = {
    {"debug", 1},   {"trace", 1}, {"info", 1},	{"notice", 1},	  {"warn", 2},
    {"warning", 2}, {"error", 3}, {"err", 3},	{"critical", 4},  {"crit", 4},
    {"alert", 4},   {"fatal", 4}, {"emerg", 5}, {"emergency", 5},
};

struct slot {
	const struct event_member *v;
	const char *key; /* the name the client used, for error messages */
	size_t keylen;
	unsigned rank;
};

/* Key lookup: an open-addressed table on (length, first byte, last byte), filled once;
 * one or two probes per key instead of a binary search. */
#define KEY_SLOTS 64
static unsigned char key_slot[KEY_SLOTS]; /* index into keys[] plus one; 0 is empty */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static unsigned key_hash(const char *s, size_t n)
{
	return ((unsigned)n * 31u + (unsigned char)s[0] * 7u + (unsigned char)s[n - 1]) &
	       (KEY_SLOTS - 1);
}

_Static_assert(sizeof(keys) / sizeof(keys[0]) <= KEY_SLOTS / 2 + 8, "key table too full");

static void key_index(void)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		unsigned h = key_hash(keys[i].name, keys[i].len);
		while (key_slot[h])
			h = (h + 1) & (KEY_SLOTS - 1);
		key_slot[h] = (unsigned char)(i + 1);
	}
}

static const struct key *key_find(const char *s, size_t n)
{
	if (n < KEY_MIN_LEN || n > KEY_MAX_LEN)
		return NULL;
	pthread_once(&key_once, key_index);
	for (unsigned h = key_hash(s, n); key_slot[h]; h = (h + 1) & (KEY_SLOTS - 1)) {
		const struct key *k = &keys[key_slot[h] - 1];
		if (k->len == n && !memcmp(k->name, s, n))
			return k;
	}
	return NULL;
}

/* ASCII case-insensitive equality of s[0..n) with a lowercase NUL-terminated word. */
static bool word_ieq(const char *s, size_t n, const char *word)
{
	size_t i = 0;
	for (; i < n && word[i]; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != word[i])
			return false;
	}
	return i == n && !word[i];
}

static int fail(char *err, size_t errlen, const char *field, const char *reason)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", field, reason);
	return SIEM_ESCHEMA;
}

/* A field's error, named as the client named it (the key need not end in a NUL). */
static int fail_key(char *err, size_t errlen, const struct slot *s, const char *reason)
{
	if (err && errlen)
		snprintf(err, errlen, "%.*s: %s", (int)s->keylen, s->key, reason);
	return SIEM_ESCHEMA;
}

size_t utf8_cut(const char *p, size_t n, size_t cap)
{
	if (n <= cap)
		return n;
	size_t k = cap;
	while (k > 0 && ((unsigned char)p[k] & 0xc0) == 0x80)
		k--;
	return k;
}

int sv_capped(struct arena *a, struct sv *dst, const char *p, size_t n, size_t cap, unsigned flag,
	      unsigned *flags)
{
	size_t k = utf8_cut(p, n, cap);
	if (k < n)
		*flags |= flag;
	char *c = arena_strndup(a, p, k);
	if (!c)
		return -ENOMEM;
	dst->p = c;
	dst->n = k;
	return 0;
}

json_t *event_member_json(const struct event_member *m)
{
	if (m->json)
		return json_incref(m->json);
	switch (m->type) {
	case JSON_STRING:
		return json_stringn_nocheck(m->str, m->len);
	case JSON_INTEGER:
		return json_integer(m->integer);
	case JSON_REAL:
		return json_real(m->real);
	case JSON_TRUE:
		return json_true();
	case JSON_FALSE:
		return json_false();
	case JSON_NULL:
		return json_null();
	default:
		return NULL;
	}
}

static bool is_string(const struct event_member *m)
{
	return m->type == JSON_STRING;
}

/* Text of a scalar: a string as it is; a number or boolean as its JSON text (in tmp). */
static int scalar_text(const struct event_member *m, char tmp[64], const char **p, size_t *n)
{
	json_t *v;
	switch (m->type) {
	case JSON_STRING:
		*p = m->str;
		*n = m->len;
		return 0;
	case JSON_INTEGER:
	case JSON_REAL:
	case JSON_TRUE:
	case JSON_FALSE:
		if (!(v = event_member_json(m)))
			return -1;
		*n = json_dumpb(v, tmp, 64, JSON_ENCODE_ANY);
		json_decref(v);
		if (*n == 0 || *n > 64)
			return -1;
		*p = tmp;
		return 0;
	default:
		return -1;
	}
}

/* Unsigned decimal of at most 18 digits (no sign, no spaces). */
static int parse_uint(const char *s, size_t n, int64_t *out)
{
	if (n == 0 || n > 18)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* An integer given as a JSON integer, an integral real (3.0) or a digit string. */
static int int_value(const struct event_member *v, int64_t *out)
{
	if (v->type == JSON_INTEGER) {
		*out = v->integer;
		return 0;
	}
	if (v->type == JSON_REAL) {
		double d = v->real;
		if (d < -9e15 || d > 9e15 || d != (double)(int64_t)d)
			return -1;
		*out = (int64_t)d;
		return 0;
	}
	if (is_string(v))
		return parse_uint(v->str, v->len, out);
	return -1;
}

static int parse_severity(const struct event_member *v, int *out)
{
	int64_t x;
	if (is_string(v)) {
		const char *s = v->str;
		size_t n = v->len;
		for (size_t i = 0; i < sizeof(severity_names) / sizeof(severity_names[0]); i++) {
			if (word_ieq(s, n, severity_names[i].name)) {
				*out = severity_names[i].sev;
				return 0;
			}
		}
	}
	if (int_value(v, &x) || x < 1 || x > 5)
		return -1;
	*out = (int)x;
	return 0;
}

static int severity_from_level(struct sv level)
{
	if (!level.p)
		return 1;
	for (size_t i = 0; i < sizeof(level_severity) / sizeof(level_severity[0]); i++)
		if (word_ieq(level.p, level.n, level_severity[i].name))
			return level_severity[i].sev;
	return 1;
}

static int parse_latency(const struct event_member *v, double *out)
{
	double d;
	if (v->type == JSON_INTEGER || v->type == JSON_REAL) {
		d = v->type == JSON_INTEGER ? (double)v->integer : v->real;
	} else if (is_string(v)) {
		const char *s = v->str;
		size_t n = v->len;
		/* strtod alone would take " 1", "inf", "0x10" and stop at an inner NUL. */
		char buf[65];
		if (n == 0 || n > 64)
			return -1;
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (strspn(buf, "0123456789.eE+-") != n)
			return -1;
		char *end;
		d = strtod(buf, &end);
		if (end != buf + n)
			return -1;
	} else {
		return -1;
	}
	if (!isfinite(d) || d < 0)
		return -1;
	*out = d;
	return 0;
}

static bool ip_absent(const char *s, size_t n)
{
	if (n > 7 || (n && s[0] >= '0' && s[0] <= '9'))
		return false;
	return n == 0 || word_ieq(s, n, "n/a") || word_ieq(s, n, "-") || word_ieq(s, n, "unknown");
}

static int put_in_data(json_t **extra, const char *key, size_t keylen, const struct event_member *v)
{
	if (!*extra && !(*extra = json_object()))
		return -ENOMEM;
	return json_object_setn_new(*extra, key, keylen, event_member_json(v)) ? -ENOMEM : 0;
}

/* Serialize data compactly into the arena; over the cap it becomes a marker object,
 * never half a document. */
static int store_data(struct event *ev, json_t *d, struct arena *a)
{
	char stack[2048];
	size_t need = json_dumpb(d, stack, sizeof(stack), JSON_COMPACT);
	if (need == 0)
		return -ENOMEM;
	if (need > EV_CAP_DATA) {
		int len = snprintf(stack, sizeof(stack),
				   "{\"_truncated\":true,\"_original_bytes\":%zu}", need);
		ev->flags |= EV_TRUNC_DATA;
		need = (size_t)len;
	}
	char *p;
	if (need <= sizeof(stack)) {
		p = arena_strndup(a, stack, need);
	} else {
		p = arena_alloc(a, need + 1);
		if (p && json_dumpb(d, p, need, JSON_COMPACT) != need)
			p = NULL;
		if (p)
			p[need] = '\0';
	}
	if (!p)
		return -ENOMEM;
	ev->data.p = p;
	ev->data.n = need;
	return 0;
}

/* The members of a jansson object, in its order. */
static void member_of(struct event_member *m, const char *k, size_t kl, json_t *v)
{
	*m = (struct event_member){.key = k, .key_len = kl, .json = v, .type = json_typeof(v)};
	if (m->type == JSON_STRING) {
		m->str = json_string_value(v);
		m->len = json_string_length(v);
	} else if (m->type == JSON_INTEGER) {
		m->integer = json_integer_value(v);
	} else if (m->type == JSON_REAL) {
		m->real = json_real_value(v);
	}
}

int event_from_json(struct event *ev, json_t *obj, struct arena *a, int64_t now_us, char *err,
		    size_t errlen)
{
	struct event_member stack[32], *m = stack;
	if (!json_is_object(obj)) {
		memset(ev, 0, sizeof(*ev));
		ev->received_at = now_us;
		return fail(err, errlen, "event", "must be a JSON object");
	}
	size_t n = json_object_size(obj), i = 0;
	if (n > sizeof(stack) / sizeof(stack[0]) && !(m = malloc(n * sizeof(*m)))) {
		memset(ev, 0, sizeof(*ev));
		fail(err, errlen, "event", "out of memory");
		return -ENOMEM;
	}
	for (void *it = json_object_iter(obj); it && i < n; it = json_object_iter_next(obj, it))
		member_of(&m[i++], json_object_iter_key(it), json_object_iter_key_len(it),
			  json_object_iter_value(it));
	int rc = event_from_members(ev, m, i, a, now_us, err, errlen);
	if (m != stack)
		free(m);
	return rc;
}

int event_from_members(struct event *ev, const struct event_member *m, size_t nm, struct arena *a,
		       int64_t now_us, char *err, size_t errlen)
{
	struct slot sl[EF_COUNT] = {0};
	json_t *extra = NULL;
	char tmp[64];
	int rc = 0;

	memset(ev, 0, sizeof(*ev));
	ev->received_at = now_us;
	if (err && errlen)
		err[0] = '\0';

	/* One pass: known names into their slot, everything else into data. When a field
	 * comes under two names the better-ranked one is kept and the other goes to data. */
	for (size_t i = 0; i < nm; i++) {
		const char *k = m[i].key;
		size_t kl = m[i].key_len;
		const struct event_member *v = &m[i];
		const struct key *kd = key_find(k, kl);
		if (!kd) {
			if ((rc = put_in_data(&extra, k, kl, v)))
				goto out;
			continue;
		}
		if (kd->fid == EF_RECEIVED_AT || v->type == JSON_NULL)
			continue;
		struct slot *s = &sl[kd->fid];
		if (s->v && s->rank <= kd->rank) {
			if ((rc = put_in_data(&extra, k, kl, v)))
				goto out;
			continue;
		}
		if (s->v && (rc = put_in_data(&extra, s->key, s->keylen, s->v)))
			goto out;
		s->v = v;
		s->key = k;
		s->keylen = kl;
		s->rank = kd->rank;
	}

	struct slot *s = &sl[EF_EVENT_ID];
	if (s->v && !(is_string(s->v) && s->v->len == 0)) {
		if (!is_string(s->v) || uuid_parse(s->v->str, s->v->len, ev->id)) {
			rc = fail_key(err, errlen, s, "not a UUID");
			goto out;
		}
	} else {
		uuid_v4(ev->id);
		ev->flags |= EV_ID_GENERATED;
	}

	s = &sl[EF_TIMESTAMP];
	if (s->v && !(is_string(s->v) && s->v->len == 0)) {
		int r;
		if (is_string(s->v)) {
			r = ts_parse(s->v->str, s->v->len, &ev->ts);
		} else if (s->v->type == JSON_INTEGER) {
			/* Through the text parser: exact for any int64, no double rounding. */
			json_int_t x = s->v->integer;
			int len = snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, x);
			r = x < 0 ? -ERANGE : ts_parse(tmp, (size_t)len, &ev->ts);
		} else if (s->v->type == JSON_REAL) {
			r = ts_from_number(s->v->real, &ev->ts);
		} else {
			r = SIEM_EPARSE;
		}
		if (r) {
			rc = fail_key(err, errlen, s,
				      r == -ERANGE ? "out of range" : "not ISO-8601 or epoch");
			goto out;
		}
	} else {
		ev->ts = now_us;
		ev->flags |= EV_TS_MISSING;
	}

	s = &sl[EF_DATA];
	if (s->v && s->v->type != JSON_OBJECT) {
		rc = fail_key(err, errlen, s, "must be an object");
		goto out;
	}

	/* Plain strings. An empty string counts as absent, like null. */
	for (size_t i = 0; i < sizeof(str_fields); i++) {
		const struct event_field_info *f = &event_fields[str_fields[i]];
		const char *p;
		size_t n;
		s = &sl[str_fields[i]];
		if (!s->v)
			continue;
		if (scalar_text(s->v, tmp, &p, &n)) {
			rc = fail_key(err, errlen, s, "must be a string");
			goto out;
		}
		if (n == 0)
			continue;
		if ((rc = sv_capped(a, (struct sv *)((char *)ev + f->off), p, n, f->cap, f->flag,
				    &ev->flags)))
			goto out;
	}

	s = &sl[EF_SOURCE_IP];
	if (s->v) {
		const char *p = is_string(s->v) ? s->v->str : NULL;
		size_t n = is_string(s->v) ? s->v->len : 0;
		bool absent = p && ip_absent(p, n);
		if (!p || (!absent && ip_parse(p, n, ev->ip))) {
			rc = fail_key(err, errlen, s, "not an IP address");
			goto out;
		}
		if (!absent) {
			char buf[46];
			size_t len = ip_format(ev->ip, buf);
			if (!(ev->source_ip.p = arena_strndup(a, buf, len))) {
				rc = -ENOMEM;
				goto out;
			}
			ev->source_ip.n = len;
			ev->flags |= EV_HAS_IP;
		}
	}

	s = &sl[EF_SEVERITY];
	if (s->v) {
		if (parse_severity(s->v, &ev->severity)) {
			rc = fail_key(err, errlen, s, "must be an integer 1..5");
			goto out;
		}
	} else {
		ev->severity = severity_from_level(ev->level);
	}

	int64_t x;
	s = &sl[EF_HTTP_STATUS];
	if (s->v) {
		if (int_value(s->v, &x) || x < 100 || x > 599) {
			rc = fail_key(err, errlen, s, "must be an integer 100..599");
			goto out;
		}
		ev->http_status = (int)x;
		ev->flags |= EV_HAS_HTTP_STATUS;
	}
	s = &sl[EF_LATENCY_MS];
	if (s->v) {
		if (parse_latency(s->v, &ev->latency_ms)) {
			rc = fail_key(err, errlen, s, "must be a number >= 0");
			goto out;
		}
		ev->flags |= EV_HAS_LATENCY;
	}
	s = &sl[EF_SOURCE_OFFSET];
	if (s->v) {
		if (int_value(s->v, &x) || x < 0) {
			rc = fail_key(err, errlen, s, "must be an integer >= 0");
			goto out;
		}
		ev->source_offset = x;
		ev->flags |= EV_HAS_OFFSET;
	}

	if (!ev->event_type.p && !ev->message.p && !ev->raw_message.p) {
		rc = fail(err, errlen, "event", "needs event_type, message or raw_message");
		goto out;
	}

	/* Defaults. */
	if (!ev->event_type.p)
		ev->event_type = (struct sv){"GENERIC", 7};
	/* os_type and level upper-case: "info" from one sender and "INFO" from another are
	 * one level to queries and rules. */
	if (ev->level.p) {
		char *p = (char *)ev->level.p; /* our own arena copy */
		for (size_t i = 0; i < ev->level.n; i++)
			if (p[i] >= 'a' && p[i] <= 'z')
				p[i] = (char)(p[i] - 'a' + 'A');
	}
	if (ev->os_type.p) {
		char *p = (char *)ev->os_type.p; /* our own arena copy */
		for (size_t i = 0; i < ev->os_type.n; i++)
			if (p[i] >= 'a' && p[i] <= 'z')
				p[i] = (char)(p[i] - 'a' + 'A');
	} else {
		ev->os_type = ev->app.p ? (struct sv){"APP", 3} : (struct sv){"UNKNOWN", 7};
	}
	if (!ev->user.p)
		ev->user = (struct sv){"system", 6};
	if (!ev->source_host.p)
		ev->source_host = (struct sv){"unknown", 7};
	if (!ev->message.p) {
		if (!ev->raw_message.p)
			ev->message = ev->event_type;
		else if (ev->raw_message.n <= EV_CAP_MESSAGE)
			ev->message = ev->raw_message;
		else if ((rc = sv_capped(a, &ev->message, ev->raw_message.p, ev->raw_message.n,
					 EV_CAP_MESSAGE, EV_TRUNC_MESSAGE, &ev->flags)))
			goto out;
	}

	/* Unknown fields and the explicit data object, whose keys win. */
	json_t *d = sl[EF_DATA].v ? sl[EF_DATA].v->json : NULL;
	if (extra && d && json_object_update(extra, d)) {
		rc = -ENOMEM;
		goto out;
	}
	if (extra)
		d = extra;
	if (d && json_object_size(d) && (rc = store_data(ev, d, a)))
		goto out;

out:
	if (rc == -ENOMEM)
		fail(err, errlen, "event", "out of memory");
	json_decref(extra);
	return rc;
}

/* A string for JSON output. Our own events are valid UTF-8; anything else (a damaged
 * store row) has its bad bytes replaced by '?' rather than failing the whole reply. */
static json_t *sv_json(struct sv v)
{
	json_t *j = json_stringn(v.p ? v.p : "", v.p ? v.n : 0);
	if (j || !v.p)
		return j;
	unsigned char *c = malloc(v.n ? v.n : 1);
	if (!c)
		return NULL;
	memcpy(c, v.p, v.n);
	for (size_t i = 0; i < v.n;) {
		unsigned char b = c[i];
		size_t len = b < 0x80		      ? 1
			     : b >= 0xc2 && b <= 0xdf ? 2
			     : b >= 0xe0 && b <= 0xef ? 3
			     : b >= 0xf0 && b <= 0xf4 ? 4
						      : 0;
		bool ok = len && i + len <= v.n;
		for (size_t k = 1; ok && k < len; k++)
			ok = (c[i + k] & 0xc0) == 0x80;
		if (ok && len == 3) /* overlong or surrogate */
			ok = !(b == 0xe0 && c[i + 1] < 0xa0) && !(b == 0xed && c[i + 1] > 0x9f);
		if (ok && len == 4)
			ok = !(b == 0xf0 && c[i + 1] < 0x90) && !(b == 0xf4 && c[i + 1] > 0x8f);
		if (!ok) {
			c[i++] = '?';
			continue;
		}
		i += len;
	}
	j = json_stringn((const char *)c, v.n);
	free(c);
	return j;
}

static int set_sv(json_t *o, const char *key, struct sv v, const char *dflt)
{
	if (!v.p) {
		if (!dflt)
			return 0;
		v = (struct sv){dflt, strlen(dflt)};
	}
	return json_object_set_new(o, key, sv_json(v));
}

/* Which fields were capped. Short fields share one flag: a field within 3 bytes of the
 * cap is listed (a UTF-8 cut drops at most 3), which may name an uncut one by chance. */
static json_t *truncated_list(const struct event *ev)
{
	json_t *t = json_array();
	int bad = !t;
	if (!bad && (ev->flags & EV_TRUNC_MESSAGE))
		bad |= json_array_append_new(t, json_string("message"));
	if (!bad && (ev->flags & EV_TRUNC_RAW))
		bad |= json_array_append_new(t, json_string("raw_message"));
	if (!bad && (ev->flags & EV_TRUNC_DATA))
		bad |= json_array_append_new(t, json_string("data"));
	for (size_t i = 0; !bad && (ev->flags & EV_TRUNC_OTHER) && i < sizeof(str_fields); i++) {
		const struct event_field_info *f = &event_fields[str_fields[i]];
		const struct sv *v = (const struct sv *)((const char *)ev + f->off);
		if (f->flag == EV_TRUNC_OTHER && v->p && v->n + 3 >= f->cap)
			bad |= json_array_append_new(t, json_string(f->name));
	}
	if (bad) {
		json_decref(t);
		return NULL;
	}
	return t;
}

/* Is a number or address set: its presence flag, if it has one. */
static bool field_set(const struct event *ev, const struct event_field_info *f)
{
	return !f->flag || (ev->flags & f->flag);
}

/* Tags joined by ',' as a JSON array. */
static json_t *tags_json(struct sv v)
{
	json_t *t = json_array();
	for (size_t i = 0; t && i < v.n;) {
		const char *c = memchr(v.p + i, ',', v.n - i);
		size_t e = c ? (size_t)(c - v.p) : v.n;
		if (e > i && json_array_append_new(t, sv_json((struct sv){v.p + i, e - i}))) {
			json_decref(t);
			return NULL;
		}
		i = e + 1;
	}
	return t;
}

/* One field into o under key, as its kind is written. */
static int field_json(json_t *o, const char *key, const struct event *ev,
		      const struct event_field_info *f)
{
	const void *m = (const char *)ev + f->off;
	char buf[64];
	switch ((enum event_field_kind)f->kind) {
	case EFK_STR:
		return set_sv(o, key, *(const struct sv *)m, f->dflt);
	case EFK_UUID:
		uuid_format(m, buf);
		return json_object_set_new(o, key, json_stringn(buf, 36));
	case EFK_TIME:
		return json_object_set_new(o, key,
					   json_stringn(buf, ts_format(*(const int64_t *)m, buf)));
	case EFK_INT:
		if (!field_set(ev, f))
			return 0;
		return json_object_set_new(o, key, json_integer(*(const int *)m));
	case EFK_I64:
		if (!field_set(ev, f))
			return 0;
		return json_object_set_new(o, key, json_integer(*(const int64_t *)m));
	case EFK_REAL:
		if (!field_set(ev, f))
			return 0;
		return json_object_set_new(o, key, json_real(*(const double *)m));
	case EFK_IP:
		if (field_set(ev, f))
			return json_object_set_new(o, key, json_stringn(buf, ip_format(m, buf)));
		return json_object_set_new(o, key, json_string(f->dflt));
	case EFK_TAGS:
		if (ev->tags.p && ev->tags.n)
			return json_object_set_new(o, key, tags_json(ev->tags));
		return 0;
	case EFK_KEY:
		if (ev->ingest_key.p) {
			json_t *k = json_object();
			int bad = !k || json_object_set_new(k, "name", sv_json(ev->ingest_key)) ||
				  json_object_set_new(k, "id",
						      ev->ingest_key_id > 0
							  ? json_integer(ev->ingest_key_id)
							  : json_null());
			return bad | json_object_set_new(o, key, k);
		}
		return 0;
	case EFK_FLAGS:
		if (ev->flags & (EV_TRUNC_MESSAGE | EV_TRUNC_RAW | EV_TRUNC_DATA | EV_TRUNC_OTHER))
			return json_object_set_new(o, key, truncated_list(ev));
		return 0;
	case EFK_DATA:
		if (ev->data.p) {
			json_t *d = json_loadb(ev->data.p, ev->data.n, JSON_ALLOW_NUL, NULL);
			if (!json_is_object(d)) {
				json_decref(d);
				d = sv_json(ev->data);
			}
			return json_object_set_new(o, key, d);
		}
		return 0;
	case EFK_KEYID: /* inside ingest_key */
		return 0;
	}
	return 0;
}

json_t *event_to_json(const struct event *ev, bool full)
{
	json_t *o = json_object();
	int bad = !o;
	if (bad)
		return NULL;
	for (size_t i = 0; i < EF_COUNT && !bad; i++) {
		const struct event_field_info *f = &event_fields[event_fields_json_order[i]];
		if (f->full && !full)
			continue;
		const char *dot = f->name ? strchr(f->name, '.') : NULL;
		if (!dot) {
			bad |= field_json(o, f->name, ev, f);
			continue;
		}
		/* "geo.country": key country of object geo, made when a key of it is set */
		char parent[16];
		size_t pn = (size_t)(dot - f->name);
		if (pn >= sizeof(parent))
			abort(); /* a name of the field table */
		memcpy(parent, f->name, pn);
		parent[pn] = 0;
		json_t *sub = json_object_get(o, parent);
		bool made = !sub;
		if (made && (bad |= json_object_set_new(o, parent, sub = json_object())))
			break;
		bad |= field_json(sub, dot + 1, ev, f);
		if (made && json_object_size(sub) == 0)
			json_object_del(o, parent);
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
