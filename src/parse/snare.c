/* snare.c — Snare's MSWinEventLog syslog records: the tab-separated fields, the event typed
 * by the Windows event table (winevent_table.c, the agent's), legacy (Windows 2003) event
 * ids read as their successors, user and source address from the expanded message. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/jsonw.h"
#include "parse/snare.h"
#include "parse/winevent_table.h"

#define TAG "MSWinEventLog"
#define TAG_N (sizeof(TAG) - 1)

enum {
	F_CRIT,
	F_LOG,
	F_COUNTER,
	F_TIME,
	F_ID,
	F_SOURCE,
	F_USER,
	F_SIDTYPE,
	F_AUDIT,
	F_COMPUTER,
	F_CATEGORY,
	F_DATA,
	F_EXPANDED,
	F_N
};

static const char *const names[F_N] = {
    "criticality", "log",   "counter",	"time",	    "event_id", "source",  "user",
    "sid_type",	   "audit", "computer", "category", "data",	"message",
};

/* Windows 2003 security events and the ones that replaced them. */
static const struct {
	unsigned old, now;
} legacy[] = {
    {528, 4624}, {540, 4624}, {529, 4625}, {530, 4625}, {531, 4625}, {532, 4625},
    {533, 4625}, {534, 4625}, {535, 4625}, {536, 4625}, {537, 4625}, {539, 4625},
    {517, 1102}, {624, 4720}, {576, 4672}, {592, 4688},
};

static bool sv_is(struct sv v, const char *s)
{
	return v.p && v.n == strlen(s) && !memcmp(v.p, s, v.n);
}

bool snare_is(struct sv app, struct sv msg)
{
	if (sv_is(app, TAG))
		return true;
	return !app.p && msg.p && msg.n > TAG_N && !memcmp(msg.p, TAG, TAG_N) &&
	       (msg.p[TAG_N] == '\t' || msg.p[TAG_N] == ' ');
}

/* The value after label in the expanded message: up to a tab, two spaces or the end. */
static struct sv after_label(struct sv text, const char *from, const char *label)
{
	struct sv none = {NULL, 0};
	const char *e = text.p + text.n, *p = text.p;
	if (from) {
		p = memmem(p, (size_t)(e - p), from, strlen(from));
		if (!p)
			return none;
	}
	p = memmem(p, (size_t)(e - p), label, strlen(label));
	if (!p)
		return none;
	p += strlen(label);
	while (p < e && *p == ' ')
		p++;
	const char *q = p;
	while (q < e && *q != '\t' && !(*q == ' ' && q + 1 < e && q[1] == ' '))
		q++;
	while (q > p && q[-1] == ' ')
		q--;
	/* An empty value is followed by the next label ("User Name:      Domain: ..."). */
	if (q == p || q[-1] == ':' || (q - p == 1 && *p == '-'))
		return none;
	return (struct sv){p, (size_t)(q - p)};
}

static bool usable_user(struct sv u)
{
	return u.p && u.n && !sv_is(u, "N/A") && !sv_is(u, "-") && !sv_is(u, "Unknown User");
}

static int put_data(struct event *ev, struct arena *a, const struct sv *f, unsigned id)
{
	size_t bound = ev->data.n + 64;
	for (int i = 0; i < F_N; i++)
		bound += 24 + JSON_ESCAPE_MAX(f[i].n);
	struct jsonw b = {arena_alloc(a, bound), 0};
	if (!b.p)
		return -ENOMEM;
	if (ev->data.p && ev->data.n >= 2) {
		jsonw_raw(&b, ev->data.p, ev->data.n - 1); /* without its '}' */
		if (ev->data.n > 2)
			jsonw_raw(&b, ",", 1);
	} else {
		jsonw_raw(&b, "{", 1);
	}
	jsonw_raw(&b, "\"snare\":{", 9);
	bool first = true;
	for (int i = 0; i < F_N; i++) {
		if (i == F_EXPANDED || !f[i].n)
			continue; /* the expanded message is the event's message */
		if (!first)
			jsonw_raw(&b, ",", 1);
		first = false;
		jsonw_str(&b, names[i], strlen(names[i]));
		jsonw_raw(&b, ":", 1);
		if (i == F_ID) {
			char num[16];
			jsonw_raw(&b, num, (size_t)snprintf(num, sizeof(num), "%u", id));
		} else {
			jsonw_str(&b, f[i].p, f[i].n);
		}
	}
	jsonw_raw(&b, "}}", 2);
	b.p[b.n] = '\0';
	ev->data = (struct sv){b.p, b.n};
	return 0;
}

int snare_decode(struct event *ev, struct arena *a, struct sv app, struct sv msg)
{
	if (!snare_is(app, msg))
		return 0;
	const char *p = msg.p, *e = msg.p + msg.n;
	if (!sv_is(app, TAG))
		p += TAG_N + 1;
	struct sv f[F_N] = {{NULL, 0}};
	int k = 0;
	/* The criticality may follow the tag after a space ("MSWinEventLog 0<TAB>..."). */
	while (k < F_N && p <= e) {
		const char *t = memchr(p, '\t', (size_t)(e - p));
		const char *end = t ? t : e;
		f[k++] = (struct sv){p, (size_t)(end - p)};
		if (!t)
			break;
		p = t + 1;
	}
	if (k < F_EXPANDED)
		return 0; /* too few fields: the line stays a plain syslog event */
	unsigned id = 0;
	for (size_t i = 0; i < f[F_ID].n; i++) {
		char c = f[F_ID].p[i];
		if (c < '0' || c > '9' || id > 100000000)
			return 0;
		id = id * 10 + (unsigned)(c - '0');
	}
	if (!f[F_ID].n)
		return 0;
	unsigned now = id;
	for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++)
		if (legacy[i].old == id)
			now = legacy[i].now;
	const struct winevent_type *wt = winevent_type_find(now, NULL);
	bool failure = sv_is(f[F_AUDIT], "Failure Audit");
	int rc;

	ev->os_type = (struct sv){"WINDOWS", 7};
	if (wt) {
		ev->event_type = (struct sv){wt->type, strlen(wt->type)};
		ev->severity = wt->severity;
	} else {
		char t[32];
		int n = snprintf(t, sizeof(t), "WINEVENT_%u", id);
		if ((rc = sv_capped(a, &ev->event_type, t, (size_t)n, EV_CAP_SHORT, EV_TRUNC_OTHER,
				    &ev->flags)))
			return rc;
		ev->severity = failure ? 3 : 1;
	}
	ev->level = failure				 ? (struct sv){"AUDIT_FAILURE", 13}
		    : sv_is(f[F_AUDIT], "Success Audit") ? (struct sv){"AUDIT_SUCCESS", 13}
							 : ev->level;

	/* The account acted upon: the failed or new logon's, else the record's user. */
	struct sv text = f[F_EXPANDED];
	struct sv user = after_label(text, "Account For Which Logon Failed:", "Account Name:");
	if (!usable_user(user))
		user = after_label(text, "New Logon:", "Account Name:");
	if (!usable_user(user))
		user = after_label(text, NULL, "User Name:");
	if (!usable_user(user))
		user = after_label(text, NULL, "Logon account:");
	if (!usable_user(user))
		user = f[F_USER];
	if (usable_user(user) && (rc = sv_capped(a, &ev->user, user.p, user.n, EV_CAP_SHORT,
						 EV_TRUNC_OTHER, &ev->flags)))
		return rc;
	static const char *const ip_labels[] = {
	    "Source Network Address:", "Client Address:", "Source Address:"};
	for (size_t i = 0; i < 3 && !(ev->flags & EV_HAS_IP); i++) {
		struct sv ip = after_label(text, NULL, ip_labels[i]);
		if (ip.p && ip.n < 64 && !ip_parse(ip.p, ip.n, ev->ip)) {
			char canon[46];
			size_t l = ip_format(ev->ip, canon);
			if ((rc = sv_capped(a, &ev->source_ip, canon, l, 64, 0, &ev->flags)))
				return rc;
			ev->flags |= EV_HAS_IP;
		}
	}
	if (text.n && (rc = sv_capped(a, &ev->message, text.p, text.n, EV_CAP_MESSAGE,
				      EV_TRUNC_MESSAGE, &ev->flags)))
		return rc;
	return (rc = put_data(ev, a, f, id)) < 0 ? rc : 1;
}
