/* content.c — what a notification says, taken from the alert object: its summary, who and
 * what it is about (host, user, address), the first events as readable lines, the rule's
 * description, tags and references, the link; and the lines of digests and rate-limit
 * notices. All of it is attacker-influenced text (names, messages): it is cleaned and cut
 * here, so that each format only has to escape it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "notify/notify.h"

/* U+200E/U+200F, U+202A..U+202E, U+2066..U+2069: marks and overrides that make text read in
 * another order than it is ("gpj.exe" shown as "exe.jpg"). */
static bool is_bidi(const unsigned char *p, size_t len)
{
	if (len != 3 || p[0] != 0xe2)
		return false;
	return (p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae))) ||
	       (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9);
}

size_t notify_clean(char *out, size_t outlen, const char *s, size_t max)
{
	static const char ellipsis[] = "\xe2\x80\xa6";
	size_t o = 0, n = s ? strlen(s) : 0;
	if (!outlen)
		return 0;
	if (max > outlen - 1)
		max = outlen - 1;
	for (size_t i = 0; i < n;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t len = utf8_seq_len((const unsigned char *)s, i, n);
		char one = 0;
		if (len == 0) {
			one = '?';
			len = 1;
		} else if (len == 1 && (p[0] < 0x20 || p[0] == 0x7f)) {
			one = ' ';
		} else if (len == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
			one = ' '; /* C1 controls, NEL */
		} else if (len == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
			   (p[2] == 0xa8 || p[2] == 0xa9)) {
			one = ' '; /* line and paragraph separators */
		} else if (is_bidi(p, len)) {
			i += len;
			continue;
		}
		size_t k = one ? 1 : len;
		if (o + k > max) {
			/* cut: make room for the ellipsis */
			while (o > 0 && o + 3 > max) {
				o--;
				while (o > 0 && ((unsigned char)out[o] & 0xc0) == 0x80)
					o--;
			}
			if (o + 3 <= max && outlen - 1 >= o + 3) {
				memcpy(out + o, ellipsis, 3);
				o += 3;
			}
			break;
		}
		if (one)
			out[o] = one;
		else
			memcpy(out + o, p, len);
		o += k;
		i += len;
	}
	out[o] = '\0';
	return o;
}

bool notify_is_web_url(const char *s)
{
	size_t skip = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
	if (!skip || !s[skip])
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\'' || *p == '<' || *p == '>' ||
		    *p == '\\' || *p == '`')
			return false;
	return true;
}

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

/* "2026-12-07T10:01:02.000000Z" -> "2026-12-07 10:01:02"; anything else cleaned. */
static void short_time(const char *ts, char *out, size_t outlen)
{
	if (strlen(ts) >= 19 && ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' &&
	    ts[16] == ':' && outlen >= 20) {
		memcpy(out, ts, 19);
		out[10] = ' ';
		out[19] = '\0';
		for (int i = 0; i < 19; i++)
			if (out[i] != ' ' && out[i] != '-' && out[i] != ':' &&
			    (out[i] < '0' || out[i] > '9'))
				out[i] = '?';
		return;
	}
	notify_clean(out, outlen, ts, outlen - 1);
}

/* Add v to the comma-separated list unless it is there already; past three values, "…"
 * once. */
static void add_value(char *list, size_t len, const char *v)
{
	static const char more[] = "\xe2\x80\xa6";
	char clean[72];
	size_t cl = notify_clean(clean, sizeof(clean), v, 64), count = 0;
	if (!cl)
		return;
	for (const char *p = list; *p; count++) {
		const char *e = strstr(p, ", ");
		size_t k = e ? (size_t)(e - p) : strlen(p);
		if ((k == cl && memcmp(p, clean, cl) == 0) || (k == 3 && memcmp(p, more, 3) == 0))
			return;
		p = e ? e + 2 : p + k;
	}
	size_t used = strlen(list);
	snprintf(list + used, len - used, "%s%s", used ? ", " : "", count >= 3 ? more : clean);
}

static bool key_is(const char *k, size_t n, const char *word)
{
	size_t w = strlen(word);
	return (n == w && memcmp(k, word, w) == 0) ||
	       (n > w && k[n - w - 1] == '_' && memcmp(k + n - w, word, w) == 0);
}

/* group_key is "source_ip=203.0.113.7,user=root": the values of the keys that name a host,
 * a user or an address. */
static void from_group(struct notify_content *c, const char *g)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", g);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (!eq)
			continue;
		while (*t == ' ')
			t++;
		size_t kn = (size_t)(eq - t);
		const char *v = eq + 1;
		if (key_is(t, kn, "host") || key_is(t, kn, "hostname") || key_is(t, kn, "computer"))
			add_value(c->hosts, sizeof(c->hosts), v);
		else if (key_is(t, kn, "user") || key_is(t, kn, "username"))
			add_value(c->users, sizeof(c->users), v);
		else if (key_is(t, kn, "ip") || key_is(t, kn, "address"))
			add_value(c->addresses, sizeof(c->addresses), v);
	}
}

/* What event_to_json writes for a field the event does not have. */
static bool is_placeholder(const char *v)
{
	return !*v || strcmp(v, "unknown") == 0 || strcmp(v, "N/A") == 0 ||
	       strcmp(v, "system") == 0;
}

static void event_line(const json_t *ev, char *out, size_t outlen)
{
	char when[24], host[72], msg[NOTIFY_MESSAGE_MAX + 4];
	const char *m = str(ev, "message");
	short_time(str(ev, "timestamp"), when, sizeof(when));
	notify_clean(host, sizeof(host), *str(ev, "source_host") ? str(ev, "source_host") : "-",
		     64);
	notify_clean(msg, sizeof(msg), *m ? m : str(ev, "event_type"), NOTIFY_MESSAGE_MAX);
	snprintf(out, outlen, "%s  %s  %s", *when ? when : "-", host, msg);
}

static void add_strings(const json_t *arr, char (*dst)[68], size_t *n, size_t cap, bool want_attack)
{
	size_t i;
	const json_t *v;
	json_array_foreach (arr, i, v) {
		const char *s = json_string_value(v);
		if (!s || *n >= cap)
			continue;
		bool attack = strncmp(s, "attack.", 7) == 0;
		if (attack == want_attack && notify_clean(dst[*n], sizeof(dst[0]), s, 64))
			(*n)++;
	}
}

void notify_content_build(const json_t *alert, struct notify_content *c)
{
	memset(c, 0, sizeof(*c));
	notify_clean(c->summary, sizeof(c->summary), str(alert, "summary"), NOTIFY_MESSAGE_MAX);
	notify_clean(c->title, sizeof(c->title), str(alert, "rule_title"), 200);
	notify_clean(c->rule_id, sizeof(c->rule_id), str(alert, "rule_id"), 100);
	notify_clean(c->author, sizeof(c->author), str(alert, "rule_author"), 200);
	notify_clean(c->group, sizeof(c->group), str(alert, "group_key"), 300);
	notify_clean(c->status, sizeof(c->status), str(alert, "status"), 24);
	notify_clean(c->first_seen, sizeof(c->first_seen), str(alert, "first_seen"), 32);
	notify_clean(c->last_seen, sizeof(c->last_seen), str(alert, "last_seen"), 32);
	if (*c->summary)
		snprintf(c->headline, sizeof(c->headline), "%s", c->summary);
	else if (*c->group)
		snprintf(c->headline, sizeof(c->headline), "%s (%s)", c->title, c->group);
	else
		snprintf(c->headline, sizeof(c->headline), "%s", c->title);
	notify_level_upper(alert, c->level, sizeof(c->level));
	c->severity = notify_int(alert, "severity");
	c->id = notify_int(alert, "id");
	if (!*c->headline)
		snprintf(c->headline, sizeof(c->headline), "alert #%lld", c->id);
	c->count = notify_int(alert, "count");
	c->backfill = json_is_true(json_object_get(alert, "backfill"));

	from_group(c, str(alert, "group_key"));
	const json_t *events = json_object_get(alert, "events");
	size_t i;
	const json_t *ev;
	json_array_foreach (events, i, ev) {
		if (!json_is_object(ev))
			continue;
		if (c->n_events < NOTIFY_EVENTS_MAX) {
			event_line(ev, c->events[c->n_events], sizeof(c->events[0]));
			c->n_events++;
		}
		/* after the group's values, the events' (three of each at most) */
		static const char *const fields[3] = {"source_host", "user", "source_ip"};
		char *lists[3] = {c->hosts, c->users, c->addresses};
		for (int f = 0; f < 3; f++)
			if (!is_placeholder(str(ev, fields[f])) && i < NOTIFY_EVENTS_MAX)
				add_value(lists[f], sizeof(c->hosts), str(ev, fields[f]));
	}
	json_t *total = json_object_get(alert, "n_events");
	if (!total)
		total = json_object_get(alert, "events_total");
	c->events_total = json_is_integer(total) ? (long long)json_integer_value(total) : 0;
	if (c->events_total < (long long)json_array_size(events))
		c->events_total = (long long)json_array_size(events);
	c->n_event_ids = json_array_size(json_object_get(alert, "event_ids"));

	notify_clean(c->description, sizeof(c->description), str(alert, "rule_description"), 1000);
	add_strings(json_object_get(alert, "rule_tags"), c->attack, &c->n_attack, NOTIFY_TAGS_MAX,
		    true);
	add_strings(json_object_get(alert, "rule_tags"), c->tags, &c->n_tags, NOTIFY_TAGS_MAX,
		    false);
	const json_t *refs = json_object_get(alert, "rule_references");
	json_array_foreach (refs, i, ev) {
		const char *s = json_string_value(ev);
		if (s && c->n_refs < NOTIFY_REFS_MAX && strlen(s) <= NOTIFY_LINK_MAX &&
		    notify_clean(c->refs[c->n_refs], sizeof(c->refs[0]), s, NOTIFY_LINK_MAX))
			c->n_refs++;
	}
	const char *link = str(alert, "link");
	if (strlen(link) <= NOTIFY_LINK_MAX && notify_is_web_url(link))
		snprintf(c->link, sizeof(c->link), "%s", link);
}

void notify_item_build(const json_t *alert, struct notify_item *it)
{
	char title[204], group[304];
	memset(it, 0, sizeof(*it));
	it->id = notify_int(alert, "id");
	it->severity = (int)notify_int(alert, "severity");
	notify_level_upper(alert, it->level, sizeof(it->level));
	short_time(*str(alert, "first_seen") ? str(alert, "first_seen") : str(alert, "created_at"),
		   it->time, sizeof(it->time));
	if (notify_clean(it->summary, sizeof(it->summary), str(alert, "summary"),
			 NOTIFY_MESSAGE_MAX) == 0) {
		notify_clean(title, sizeof(title), str(alert, "rule_title"), 200);
		notify_clean(group, sizeof(group), str(alert, "group_key"), 300);
		snprintf(it->summary, sizeof(it->summary), *group ? "%s (%s)" : "%s%s", title,
			 group);
	}
	const char *link = str(alert, "link");
	if (strlen(link) <= NOTIFY_LINK_MAX && notify_is_web_url(link))
		snprintf(it->link, sizeof(it->link), "%s", link);
}

/* ---- lists of alerts (digests, rate-limit notices) ---- */

int notify_list_init(struct notify_list *l, size_t cap)
{
	memset(l, 0, sizeof(*l));
	l->cap = cap;
	if (cap && !(l->items = calloc(cap, sizeof(*l->items))))
		return -ENOMEM;
	return 0;
}

void notify_list_add(struct notify_list *l, const struct notify_item *it)
{
	if (l->n < l->cap)
		l->items[l->n++] = *it;
	l->total++;
}

void notify_list_merge(struct notify_list *l, const struct notify_list *src)
{
	for (size_t i = 0; i < src->n && l->n < l->cap; i++)
		l->items[l->n++] = src->items[i];
	l->total += src->total;
}

void notify_list_clear(struct notify_list *l)
{
	l->n = 0;
	l->total = 0;
}

void notify_list_release(struct notify_list *l)
{
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void notify_duration_text(int64_t ms, char *out, size_t outlen)
{
	static const struct {
		int64_t ms;
		const char *unit;
	} units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms > 0 && ms % units[i].ms == 0) {
			snprintf(out, outlen, "%lld%s", (long long)(ms / units[i].ms),
				 units[i].unit);
			return;
		}
	snprintf(out, outlen, "%lldms", (long long)ms);
}

void notify_list_headline(const struct notify_channel_config *ch, enum notify_list_kind kind,
			  const struct notify_list *l, char *out, size_t outlen)
{
	static const char *const levels[] = {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
	char d[32];
	bool one = l->total == 1;
	if (kind == NOTIFY_DIGEST) {
		int sev = ch->digest_max_severity;
		notify_duration_text(ch->digest_ms, d, sizeof(d));
		snprintf(out, outlen,
			 "%zu alert%s at %s or below in the last %s (digest of channel %s)",
			 l->total, one ? "" : "s", sev >= 1 && sev <= 5 ? levels[sev - 1] : "?", d,
			 ch->name);
	} else {
		notify_duration_text(ch->rate_window_ms, d, sizeof(d));
		snprintf(out, outlen,
			 "%zu alert%s not sent (rate limit of %d per %s on channel %s)", l->total,
			 one ? " was" : "s were", ch->rate_limit, d, ch->name);
	}
}

/* ---- the message for a channel's kind ---- */

int notify_format_alert(const struct notify_channel_config *ch, const json_t *alert, int64_t now_us,
			struct strbuf *out)
{
	switch (ch->kind) {
	case NOTIFY_EMAIL:
		return notify_format_email(ch, alert, now_us, out);
	case NOTIFY_SLACK:
		return notify_format_slack(alert, out);
	case NOTIFY_WEBHOOK:
		break;
	}
	return notify_format_webhook(alert, out);
}

int notify_format_list(const struct notify_channel_config *ch, enum notify_list_kind kind,
		       const struct notify_list *l, int64_t now_us, struct strbuf *out)
{
	switch (ch->kind) {
	case NOTIFY_EMAIL:
		return notify_format_list_email(ch, kind, l, now_us, out);
	case NOTIFY_SLACK:
		return notify_format_list_slack(ch, kind, l, out);
	case NOTIFY_WEBHOOK:
		break;
	}
	return notify_format_list_webhook(ch, kind, l, out);
}
