/* intel_match.c — looking an event up in the threat-intelligence tables intel.c built: its
 * source address, the address and domain keys of its data and its reverse DNS name, each
 * match's tags merged into the event's (sorted, distinct). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/hash.h"
#include "enrich/intel_int.h"

/* ---- lookups ---- */

static uint32_t ip_set(const struct intel *in, const uint8_t ip[16])
{
	if (!memcmp(ip, V4_MAPPED, 12)) {
		uint32_t x = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 |
			     (uint32_t)ip[14] << 8 | ip[15];
		size_t lo = 0, hi = in->v4.n; /* first interval with lo > x */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (in->v4.p[mid].lo <= x)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo > 0 && x <= in->v4.p[lo - 1].hi)
			return in->v4.p[lo - 1].set;
		return NO_SET;
	}
	struct u128 x = u128_of(ip);
	size_t lo = 0, hi = in->v6.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (u128_cmp(in->v6.p[mid].lo, x) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && u128_cmp(x, in->v6.p[lo - 1].hi) <= 0)
		return in->v6.p[lo - 1].set;
	return NO_SET;
}

/* The tags found for one event: distinct ids. */
struct found {
	uint32_t id[EVENT_TAGS_MAX];
	size_t n;
};

static void found_set(const struct intel *in, struct found *f, uint32_t set)
{
	const uint32_t *t = in->set_tags.p + in->set_off.p[set];
	for (size_t i = 0; i < in->set_len.p[set]; i++) {
		size_t k = 0;
		while (k < f->n && f->id[k] != t[i])
			k++;
		if (k == f->n && f->n < EVENT_TAGS_MAX)
			f->id[f->n++] = t[i];
	}
}

/* A name and each parent with a dot left: a.b.evil.com, b.evil.com, evil.com. Returns
 * whether any was listed. */
static bool domain_sets(const struct intel *in, const char *p, size_t n, struct found *f)
{
	if (!in->dom_n)
		return false;
	char name[254];
	size_t len = intel_norm_host(p, n, name, 1);
	bool hit = false;
	for (size_t i = 0; len > 0;) {
		const char *s = name + i;
		size_t sn = len - i;
		if (!memchr(s, '.', sn))
			break;
		size_t k = intel_dom_find(in, s, sn, hash_bytes(s, sn));
		if (in->dom[k].set) {
			found_set(in, f, in->dom[k].set - 1);
			hit = true;
		}
		const char *dot = memchr(s, '.', sn);
		i += (size_t)(dot - s) + 1;
	}
	return hit;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The tags joined by ',' (sorted, distinct) into buf; only whole tags that fit. */
static size_t join_tags(const char **s, size_t n, char *buf, size_t cap)
{
	qsort(s, n, sizeof(*s), str_cmp);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && !strcmp(s[i], s[i - 1]))
			continue;
		size_t len = strlen(s[i]);
		if (o + (o > 0) + len + 1 > cap)
			continue;
		if (o > 0)
			buf[o++] = ',';
		memcpy(buf + o, s[i], len);
		o += len;
	}
	if (cap)
		buf[o] = '\0';
	return o;
}

static size_t found_join(const struct intel *in, const struct found *f, char *buf, size_t cap)
{
	const char *s[EVENT_TAGS_MAX];
	for (size_t i = 0; i < f->n; i++)
		s[i] = in->tag.p[f->id[i]];
	return join_tags(s, f->n, buf, cap);
}

size_t intel_tags_of_ip(const struct intel *in, const uint8_t ip[16], char *buf, size_t cap)
{
	struct found f = {.n = 0};
	uint32_t set = ip_set(in, ip);
	if (set != NO_SET)
		found_set(in, &f, set);
	return found_join(in, &f, buf, cap);
}

size_t intel_tags_of_domain(const struct intel *in, const char *name, char *buf, size_t cap)
{
	struct found f = {.n = 0};
	domain_sets(in, name, strlen(name), &f);
	return found_join(in, &f, buf, cap);
}

static const char *const IP_KEYS[] = {"dest_ip",       "dst_ip",      "destination_ip",
				      "DestinationIp", "DestAddress", "remote_ip"};
static const char *const DOMAIN_KEYS[] = {"domain", "query", "QueryName", "dns_query",
					  "dest_domain"};

static bool has_key(const struct sv *data, const char *key)
{
	char q[32];
	size_t n = strlen(key);
	q[0] = '"';
	memcpy(q + 1, key, n);
	q[n + 1] = '"';
	return memmem(data->p, data->n, q, n + 2) != NULL;
}

/* The data's top-level address and domain keys, looked up. */
static void match_data(const struct intel *in, const struct sv *data, struct found *f,
		       struct enrich_tally *t)
{
	bool any = false, ips = in->v4.n || in->v6.n;
	for (size_t i = 0; ips && !any && i < sizeof(IP_KEYS) / sizeof(*IP_KEYS); i++)
		any = has_key(data, IP_KEYS[i]);
	for (size_t i = 0; !any && in->dom_n && i < sizeof(DOMAIN_KEYS) / sizeof(*DOMAIN_KEYS); i++)
		any = has_key(data, DOMAIN_KEYS[i]);
	if (!any)
		return;
	json_t *o = json_loadb(data->p, data->n, 0, NULL);
	if (!json_is_object(o))
		goto out;
	for (size_t i = 0; ips && i < sizeof(IP_KEYS) / sizeof(*IP_KEYS); i++) {
		json_t *v = json_object_get(o, IP_KEYS[i]);
		uint8_t ip[16];
		if (!json_is_string(v) ||
		    ip_parse(json_string_value(v), json_string_length(v), ip) != 0)
			continue;
		t->lookups[EN_INTEL]++;
		uint32_t set = ip_set(in, ip);
		if (set != NO_SET) {
			found_set(in, f, set);
			t->hits[EN_INTEL]++;
		}
	}
	for (size_t i = 0; in->dom_n && i < sizeof(DOMAIN_KEYS) / sizeof(*DOMAIN_KEYS); i++) {
		json_t *v = json_object_get(o, DOMAIN_KEYS[i]);
		if (!json_is_string(v))
			continue;
		t->lookups[EN_INTEL]++;
		t->hits[EN_INTEL] +=
		    domain_sets(in, json_string_value(v), json_string_length(v), f);
	}
out:
	json_decref(o);
}

void intel_enrich(const struct intel *in, struct event *ev, struct arena *a, struct enrich_tally *t)
{
	struct found f = {.n = 0};
	if (ev->flags & EV_HAS_IP) {
		t->lookups[EN_INTEL]++;
		uint32_t set = ip_set(in, ev->ip);
		if (set != NO_SET) {
			found_set(in, &f, set);
			t->hits[EN_INTEL]++;
		}
	}
	if (ev->data.p && ev->data.n)
		match_data(in, &ev->data, &f, t);
	if (ev->rdns.p && ev->rdns.n) {
		t->lookups[EN_INTEL]++;
		t->hits[EN_INTEL] += domain_sets(in, ev->rdns.p, ev->rdns.n, &f);
	}
	if (f.n == 0)
		return;

	/* The union with the tags the event has, each once, sorted. */
	char old[EV_CAP_SHORT + 1];
	const char *s[2 * EVENT_TAGS_MAX];
	size_t n = 0;
	if (ev->tags.p && ev->tags.n) {
		size_t on = ev->tags.n < EV_CAP_SHORT ? ev->tags.n : EV_CAP_SHORT;
		memcpy(old, ev->tags.p, on);
		old[on] = '\0';
		char *save = NULL;
		for (char *tok = strtok_r(old, ",", &save); tok && n < EVENT_TAGS_MAX;
		     tok = strtok_r(NULL, ",", &save))
			s[n++] = tok;
	}
	for (size_t i = 0; i < f.n; i++)
		s[n++] = in->tag.p[f.id[i]];
	char buf[EV_CAP_SHORT + 1];
	size_t len = join_tags(s, n, buf, sizeof(buf));
	char *c = arena_strndup(a, buf, len);
	if (!c) {
		t->errors[EN_INTEL]++;
		return;
	}
	ev->tags.p = c;
	ev->tags.n = len;
}
