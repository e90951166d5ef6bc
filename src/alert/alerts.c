/* alerts.c — what happens after a hit: suppression in memory (one alert per rule and group
 * within the cooldown), batched persistence and publication by the alerts thread (SSE
 * subscribers, notifications). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/alert_int.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "notify/notify.h"
#include "store/store_alerts.h"

#define SUB "alerts"
#define FLUSH_BATCH 1024
#define PUBLISH_PAGE 500
#define WRITE_RETRY_MS 1000

static struct metric m_hits = METRIC_COUNTER_INIT("minisiem_alerts_hits_total", NULL,
						  "Rule hits received from the detection engine.");
static struct metric m_raised =
    METRIC_COUNTER_INIT("minisiem_alerts_raised_total", NULL, "New alerts.");
static struct metric m_suppressed = METRIC_COUNTER_INIT(
    "minisiem_alerts_suppressed_total", NULL,
    "Hits folded into an open alert of the same rule and group within the cooldown.");
static struct metric m_evicted = METRIC_COUNTER_INIT(
    "minisiem_alerts_evicted_total", NULL,
    "Alerts forgotten by suppression before their cooldown ended (too many open groups).");
static struct metric m_dropped =
    METRIC_COUNTER_INIT("minisiem_alerts_dropped_total", NULL,
			"Hits lost because the alerts table was full of unwritten changes.");
static struct metric m_write_fail = METRIC_COUNTER_INIT("minisiem_alerts_write_failures_total",
							NULL, "Failed alert writes (retried).");

/* ---- in-memory alerts, for suppression ---- */

struct entry {
	struct entry *hnext;	     /* hash chain, while in the table */
	struct entry *older, *newer; /* age list, while in the table */
	struct entry *dnext;	     /* dirty list */
	uint64_t hash;
	int64_t id;
	char *rule_id, *rule_title, *rule_level, *rule_author, *group_key; /* one block */
	char *summary; /* the latest hit's (malloc'd; replaced under a->mu) */
	json_t *meta;  /* what a notification says of the rule: description, tags, references */
	bool backfill;
	int severity;
	int64_t first_seen, last_seen, created_at, updated_at, count, n_events;
	size_t n_ids, cap_ids;
	uint8_t (*ids)[16];
	uint64_t mods;
	bool in_table, dirty, is_new;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t key_hash(const char *rule, const char *group)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = rule; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (const char *p = group; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

static struct entry *lookup(struct alerts *a, uint64_t h, const char *rule, const char *group)
{
	for (struct entry *e = a->buckets[h & (a->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && strcmp(e->rule_id, rule) == 0 &&
		    strcmp(e->group_key, group) == 0)
			return e;
	return NULL;
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	free(e->rule_id);
	free(e->summary);
	json_decref(e->meta);
	free(e->ids);
	free(e);
}

static struct entry *entry_new(const char *rule_id, const char *title, const char *level,
			       const char *author, const char *group)
{
	const char *src[5] = {rule_id, title ? title : "", level ? level : "", author ? author : "",
			      group};
	size_t len[5], total = 0;
	for (int i = 0; i < 5; i++)
		total += (len[i] = strlen(src[i])) + 1;
	struct entry *e = calloc(1, sizeof(*e));
	char *block = malloc(total);
	if (!e || !block) {
		free(e);
		free(block);
		return NULL;
	}
	char **dst[5] = {&e->rule_id, &e->rule_title, &e->rule_level, &e->rule_author,
			 &e->group_key};
	for (int i = 0; i < 5; i++) {
		memcpy(block, src[i], len[i] + 1);
		*dst[i] = block;
		block += len[i] + 1;
	}
	return e;
}

static void table_insert(struct alerts *a, struct entry *e)
{
	size_t b = e->hash & (a->nbuckets - 1);
	e->hnext = a->buckets[b];
	a->buckets[b] = e;
	e->older = a->newest;
	e->newer = NULL;
	if (a->newest)
		a->newest->newer = e;
	else
		a->oldest = e;
	a->newest = e;
	e->in_table = true;
	a->in_table++;
}

/* Take e out of the table; free it unless a write of it is pending. */
static void table_remove(struct alerts *a, struct entry *e)
{
	struct entry **pp = &a->buckets[e->hash & (a->nbuckets - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		a->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		a->newest = e->older;
	e->in_table = false;
	a->in_table--;
	if (e->dirty)
		a->retired++;
	else
		entry_free(e);
}

/* Append e to the dirty list; true when the list was empty. */
static bool dirty_append(struct alerts *a, struct entry *e)
{
	e->dnext = NULL;
	if (a->dirty_tail) {
		a->dirty_tail->dnext = e;
		a->dirty_tail = e;
		return false;
	}
	a->dirty = a->dirty_tail = e;
	return true;
}

static void mark_dirty(struct alerts *a, struct entry *e)
{
	e->mods++;
	if (e->dirty)
		return;
	e->dirty = true;
	/* the alerts thread, woken by the first change, writes what is dirty by then */
	if (dirty_append(a, e))
		pthread_cond_signal(&a->cv);
}

/* The first ALERT_MAX_EVENTS distinct ids behind the alert (how many events are behind it
 * is counted apart, from the hits' new_events). */
static int add_ids(struct entry *e, const uint8_t (*ids)[16], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (e->n_ids >= ALERT_MAX_EVENTS)
			return 0;
		bool seen = false;
		for (size_t k = e->n_ids; k-- > 0 && !seen;)
			seen = memcmp(e->ids[k], ids[i], 16) == 0;
		if (seen)
			continue;
		if (e->n_ids == e->cap_ids) {
			size_t cap = e->cap_ids ? e->cap_ids * 4 : 4;
			if (cap > ALERT_MAX_EVENTS)
				cap = ALERT_MAX_EVENTS;
			uint8_t(*nids)[16] = realloc(e->ids, cap * 16);
			if (!nids)
				return -ENOMEM;
			e->ids = nids;
			e->cap_ids = cap;
		}
		memcpy(e->ids[e->n_ids++], ids[i], 16);
	}
	return 0;
}

/* Make room for one more alert: forget the oldest written one. False when every alert in
 * the table still waits for its write (or too many retired ones do). */
static bool make_room(struct alerts *a)
{
	if (a->retired >= a->t.max_open)
		return false;
	if (a->in_table < a->t.max_open)
		return true;
	int scanned = 0;
	for (struct entry *e = a->oldest; e && scanned < 256; e = e->newer, scanned++) {
		if (e->dirty)
			continue;
		/* Past its window it was of no use anyway; otherwise suppression is weakened. */
		if (e->created_at + a->cooldown_us > a->clock) {
			metric_add(&m_evicted, 1);
			atomic_fetch_add(&a->evicted, 1);
		}
		table_remove(a, e);
		return true;
	}
	return false;
}

/* A rule's strings as a JSON array (NULL when none). */
static json_t *str_array(const char *const *v, size_t n)
{
	if (!n)
		return NULL;
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		if (v[i])
			json_array_append_new(arr, json_string(v[i]));
	return arr;
}

/* What notifications say of the rule, kept with the alert (the rule may change meanwhile). */
static json_t *rule_meta(const struct rule_info *ri)
{
	json_t *m = json_object();
	if (!m)
		return NULL;
	if (ri->description)
		json_object_set_new(m, "rule_description", json_string(ri->description));
	json_t *t = str_array(ri->tags, ri->n_tags),
	       *r = str_array(ri->references, ri->n_references),
	       *c = str_array(ri->channels, ri->n_channels);
	if (t)
		json_object_set_new(m, "rule_tags", t);
	if (r)
		json_object_set_new(m, "rule_references", r);
	if (c)
		json_object_set_new(m, "rule_channels", c);
	return m;
}

/* The hit's summary as the alert keeps it: its own copy (NULL when out of memory). */
static char *summary_dup(const struct detect_hit *hit)
{
	const char *s = hit->summary && *hit->summary ? hit->summary : hit->rule->title;
	return strdup(s ? s : "");
}

void alerts_sink(void *ctx, const struct detect_hit *hit)
{
	struct alerts *a = ctx;
	const struct rule_info *ri = hit->rule;
	const char *group = hit->group_key ? hit->group_key : "";
	int64_t now = hit->event && hit->event->received_at ? hit->event->received_at : ts_now_us();
	const uint8_t(*ids)[16] = hit->event_ids;
	size_t nids = hit->n_events;
	if (!ri || !ri->id)
		return;
	if (nids == 0 && hit->event) {
		ids = (const uint8_t(*)[16])hit->event->id;
		nids = 1;
	}
	int64_t first = hit->first_ts, last = hit->last_ts;
	if (!first && hit->event)
		first = hit->event->ts;
	if (!last && hit->event)
		last = hit->event->ts;
	if (last < first)
		last = first;
	metric_add(&m_hits, 1);
	atomic_fetch_add(&a->hits, 1);
	uint64_t h = key_hash(ri->id, group);

	pthread_mutex_lock(&a->mu);
	if (now > a->clock)
		a->clock = now;
	struct entry *e = lookup(a, h, ri->id, group);
	if (e && now >= e->created_at + a->cooldown_us) {
		table_remove(a, e);
		e = NULL;
	}
	if (e) {
		char *sum = summary_dup(hit);
		if (sum) {
			free(e->summary);
			e->summary = sum;
		}
		e->count++;
		if (first < e->first_seen)
			e->first_seen = first;
		if (last > e->last_seen)
			e->last_seen = last;
		if (ri->severity > e->severity)
			e->severity = ri->severity;
		e->updated_at = ts_now_us();
		add_ids(e, ids, nids);
		e->n_events += hit->new_events > 0 ? hit->new_events : 1;
		mark_dirty(a, e);
		metric_add(&m_suppressed, 1);
		atomic_fetch_add(&a->suppressed, 1);
		pthread_mutex_unlock(&a->mu);
		return;
	}
	if (!make_room(a) || !(e = entry_new(ri->id, ri->title, ri->level, ri->author, group))) {
		pthread_mutex_unlock(&a->mu);
		metric_add(&m_dropped, 1);
		atomic_fetch_add(&a->dropped, 1);
		return;
	}
	e->hash = h;
	e->id = ++a->next_id;
	e->severity = ri->severity >= 1 && ri->severity <= 5 ? ri->severity : 3;
	e->first_seen = first;
	e->last_seen = last;
	e->created_at = now;
	e->updated_at = ts_now_us();
	e->count = 1;
	e->is_new = true;
	e->summary = summary_dup(hit);
	e->meta = rule_meta(ri);
	/* Imported history: the event that completed the hit came long after it happened. */
	e->backfill = a->backfill_us >= 0 && hit->event && hit->event->received_at &&
		      hit->event->received_at - last > a->backfill_us;
	add_ids(e, ids, nids);
	e->n_events = hit->new_events > 0 ? hit->new_events : (int64_t)e->n_ids;
	table_insert(a, e);
	mark_dirty(a, e);
	pthread_mutex_unlock(&a->mu);
	metric_add(&m_raised, 1);
	atomic_fetch_add(&a->raised, 1);
}

/* ---- writing and publishing (alerts thread, or alerts_flush) ---- */

struct snap {
	struct entry *e;
	uint64_t mods;
	bool is_new;
};

/* Where id is in ids, or -1. */
static ssize_t id_at(const int64_t *ids, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return (ssize_t)i;
	return -1;
}

#define NOTIFY_EVENTS 5 /* events a notification shows */

/* What a notification needs beyond the alert as the API shows it: the rule's description,
 * tags and references (meta), the first few events behind it as GET /events lists them,
 * and a link to its page. */
static json_t *notification(struct alerts *a, const json_t *row, const json_t *meta)
{
	json_t *o = json_deep_copy(row), *evs = json_array();
	if (!o || !evs) {
		json_decref(o);
		json_decref(evs);
		return NULL;
	}
	if (meta)
		json_object_update(o, (json_t *)meta);
	json_t *ids = json_object_get(row, "event_ids");
	for (size_t i = 0; i < json_array_size(ids) && json_array_size(evs) < NOTIFY_EVENTS; i++) {
		const char *t = json_string_value(json_array_get(ids, i));
		uint8_t id[16];
		json_t *ev = NULL;
		if (!t || uuid_parse(t, strlen(t), id) < 0 || store_get_event(a->s, id, &ev) < 0 ||
		    !ev)
			continue;
		json_object_del(ev, "raw_message");
		json_object_del(ev, "data");
		json_array_append_new(evs, ev);
	}
	json_object_set_new(o, "events", evs);
	json_object_set_new(o, "n_events", json_incref(json_object_get(row, "events_total")));
	if (a->public_url) {
		char link[2048];
		snprintf(link, sizeof(link), "%s/ui/alerts?id=%lld", a->public_url,
			 (long long)json_integer_value(json_object_get(row, "id")));
		json_object_set_new(o, "link", json_string(link));
	}
	return o;
}

/* Publish every change after published_rev: to subscribers, and new alerts to the
 * notifier. Called with db_mu held, right after a write of the versions after `before`
 * (-1: after changes other hubs wrote). */
static void publish(struct alerts *a, int64_t before, const int64_t *new_ids,
		    json_t *const *new_meta, size_t n_new)
{
	/* Nobody to tell, and nothing unpublished but this hub's own write: it counts as
	 * published without reading it back. A subscriber that comes later is sent what is
	 * written after it subscribed, and reads what came before from the store (its
	 * Last-Event-ID). Versions are unique, so none between `before` and a->rev is another
	 * hub's. */
	if (!a->notifier && before >= 0 && a->published_rev == before) {
		pthread_mutex_lock(&a->sub_mu);
		bool none = a->nsubs == 0;
		if (none)
			a->published_rev = a->rev;
		pthread_mutex_unlock(&a->sub_mu);
		if (none)
			return;
	}
	for (;;) {
		json_t *rows = json_array();
		if (!rows || store_alerts_since(a->s, a->published_rev, PUBLISH_PAGE, rows) < 0) {
			json_decref(rows);
			return;
		}
		size_t n = json_array_size(rows);
		for (size_t i = 0; i < n; i++) {
			json_t *row = json_array_get(rows, i);
			struct alerts_msg *m = alerts_msg_new(row);
			if (m) {
				alerts_fan_out(a, m);
				alerts_msg_put(m);
			}
			ssize_t k =
			    id_at(new_ids, n_new, json_integer_value(json_object_get(row, "id")));
			json_t *note =
			    a->notifier && k >= 0 ? notification(a, row, new_meta[k]) : NULL;
			if (note)
				notifier_submit(a->notifier, note);
			json_decref(note);
			a->published_rev = json_integer_value(json_object_get(row, "version"));
			/* another hub sharing the store may have written it: our next version
			 * comes after it */
			pthread_mutex_lock(&a->mu);
			if (a->published_rev > a->rev)
				a->rev = a->published_rev;
			pthread_mutex_unlock(&a->mu);
		}
		json_decref(rows);
		if (n < PUBLISH_PAGE)
			return;
	}
}

/* Under db_mu, after a failed write: versions continue after the store's newest, which
 * another hub sharing the store may have written. true when that moved a->rev. */
static bool rev_catch_up(struct alerts *a)
{
	int64_t max_id = 0, max_rev = 0;
	if (store_alerts_max(a->s, &max_id, &max_rev) < 0)
		return false;
	pthread_mutex_lock(&a->mu);
	bool moved = max_rev > a->rev;
	if (moved)
		a->rev = max_rev;
	pthread_mutex_unlock(&a->mu);
	return moved;
}

int alerts_flush(struct alerts *a)
{
	struct alert_rec *recs = NULL;
	struct snap *snaps = NULL;
	bool *is_new = NULL;
	uint8_t(*idbuf)[16] = NULL;
	int64_t *new_ids = NULL;
	json_t **new_meta = NULL;
	char **sums = NULL;
	size_t n = 0, n_new = 0, nid = 0;
	int rc = 0;

	pthread_mutex_lock(&a->db_mu);
	pthread_mutex_lock(&a->mu);
	size_t want = 0, want_ids = 0;
	for (struct entry *e = a->dirty; e && want < FLUSH_BATCH; e = e->dnext) {
		want++;
		want_ids += e->n_ids;
	}
	if (want == 0) {
		pthread_mutex_unlock(&a->mu);
		goto out;
	}
	recs = calloc(want, sizeof(*recs));
	snaps = calloc(want, sizeof(*snaps));
	is_new = calloc(want, sizeof(*is_new));
	new_ids = calloc(want, sizeof(*new_ids));
	new_meta = calloc(want, sizeof(*new_meta));
	sums = calloc(want, sizeof(*sums));
	idbuf = malloc((want_ids ? want_ids : 1) * 16);
	if (!recs || !snaps || !is_new || !new_ids || !new_meta || !sums || !idbuf) {
		pthread_mutex_unlock(&a->mu);
		rc = -ENOMEM;
		goto out;
	}
	int64_t rev0 = a->rev;
	/* Take the first `want` entries off the dirty list; they stay marked dirty (so the sink
	 * does not list them again) until their write is known. */
	struct entry *e = a->dirty;
	for (; e && n < want; e = e->dnext) {
		struct alert_rec *r = &recs[n];
		snaps[n] = (struct snap){e, e->mods, e->is_new};
		is_new[n] = e->is_new;
		if (e->is_new) {
			new_meta[n_new] = json_incref(e->meta);
			new_ids[n_new++] = e->id;
		}
		/* the sink replaces the summary meanwhile: this write's own copy, with the
		 * alert's event count where the template says {events} */
		if (e->summary) {
			char buf[1024];
			detect_summary_fill(e->summary, e->n_events, buf, sizeof(buf));
			sums[n] = strdup(buf);
		}
		if (e->n_ids)
			memcpy(idbuf[nid], e->ids, e->n_ids * 16);
		*r = (struct alert_rec){
		    .id = e->id,
		    .rev = ++a->rev,
		    .rule_id = e->rule_id,
		    .rule_title = e->rule_title,
		    .rule_level = *e->rule_level ? e->rule_level : NULL,
		    .rule_author = *e->rule_author ? e->rule_author : NULL,
		    .severity = e->severity,
		    .group_key = e->group_key,
		    .first_seen = e->first_seen,
		    .last_seen = e->last_seen,
		    .created_at = e->created_at,
		    .updated_at = e->updated_at,
		    .count = e->count,
		    .n_events = e->n_events,
		    .n_ids = e->n_ids,
		    .event_ids = (const uint8_t(*)[16])idbuf[nid],
		    .summary = sums[n],
		    .backfill = e->backfill,
		};
		nid += e->n_ids;
		n++;
	}
	a->dirty = e; /* what is left for the next batch */
	if (!e)
		a->dirty_tail = NULL;
	pthread_mutex_unlock(&a->mu);

	/* Strings of dirty entries are stable: only this function frees a dirty entry. */
	rc = store_alerts_write(a->s, recs, is_new, n);

	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < n; i++) {
		struct entry *x = snaps[i].e;
		if (rc == 0) {
			x->is_new = false;
			if (x->mods == snaps[i].mods) {
				x->dirty = false;
				if (!x->in_table) {
					a->retired--;
					entry_free(x);
				}
				continue;
			}
		}
		dirty_append(a, x);
	}
	if (rc < 0) {
		a->rev = rev0;
		a->retry_at = mono_ms() + WRITE_RETRY_MS;
	}
	pthread_mutex_unlock(&a->mu);
	if (rc < 0 && rev_catch_up(a)) {
		/* another hub sharing the store had taken those versions: again at once */
		log_info(SUB, "alert versions continue after another hub's: writing again");
		pthread_mutex_lock(&a->mu);
		a->retry_at = 0;
		pthread_mutex_unlock(&a->mu);
		rc = 0; /* still pending: alerts_flush_all goes on */
	} else if (rc < 0) {
		metric_add(&m_write_fail, 1);
		atomic_fetch_add(&a->write_failures, 1);
		log_error(SUB, "cannot write %zu alerts (kept, retried): %s", n, siem_strerror(rc));
	} else {
		publish(a, rev0, new_ids, new_meta, n_new);
		/* Hubs sharing the store (broker mode's api nodes) publish it to their own
		 * subscribers. A notice lost is caught up by the next one. */
		char id[24];
		snprintf(id, sizeof(id), "%lld", (long long)recs[n - 1].id);
		if (store_notify(a->s, ALERTS_CHANNEL, id) < 0)
			log_warn(SUB, "cannot notify other hubs of alert %s", id);
	}
out:
	pthread_mutex_unlock(&a->db_mu);
	free(recs);
	free(snaps);
	free(is_new);
	free(new_ids);
	for (size_t i = 0; new_meta && i < n_new; i++)
		json_decref(new_meta[i]);
	free(new_meta);
	for (size_t i = 0; sums && i < n; i++)
		free(sums[i]);
	free(sums);
	free(idbuf);
	return rc;
}

int alerts_flush_all(struct alerts *a)
{
	for (;;) {
		int rc = alerts_flush(a);
		if (rc < 0)
			return rc;
		pthread_mutex_lock(&a->mu);
		bool more = a->dirty != NULL;
		pthread_mutex_unlock(&a->mu);
		if (!more)
			return 0;
	}
}

static int load_open(struct alerts *a);

void alerts_publish_stored(struct alerts *a)
{
	pthread_mutex_lock(&a->db_mu);
	publish(a, -1, NULL, NULL, 0);
	pthread_mutex_unlock(&a->db_mu);
}

int alerts_resync(struct alerts *a)
{
	int64_t max_id = 0, max_rev = 0;
	pthread_mutex_lock(&a->db_mu);
	int rc = store_alerts_max(a->s, &max_id, &max_rev);
	pthread_mutex_lock(&a->mu);
	if (rc == 0) {
		if (max_id > a->next_id)
			a->next_id = max_id;
		if (max_rev > a->rev)
			a->rev = max_rev;
		/* What this node remembers may be stale: the store's open alerts instead. */
		for (struct entry *e = a->oldest, *nx; e; e = nx) {
			nx = e->newer;
			if (!e->dirty)
				table_remove(a, e);
		}
		rc = load_open(a);
	}
	pthread_mutex_unlock(&a->mu);
	pthread_mutex_unlock(&a->db_mu);
	return rc;
}

int alerts_set_status(struct alerts *a, int64_t id, enum alert_status to, const char *who,
		      json_t **out)
{
	if (out)
		*out = NULL;
	pthread_mutex_lock(&a->db_mu);
	int64_t rev = a->rev + 1;
	int rc = store_alert_set_status(a->s, id, to, who, ts_now_us(), rev);
	if (rc < 0 && rc != SIEM_ENOTFOUND && rc != -EPERM && rc != -EALREADY && rev_catch_up(a)) {
		rev = a->rev + 1; /* another hub sharing the store took that version */
		rc = store_alert_set_status(a->s, id, to, who, ts_now_us(), rev);
	}
	if (rc == 0) {
		a->rev = rev;
		pthread_mutex_lock(&a->mu);
		for (struct entry *e = a->oldest; e; e = e->newer)
			if (e->id == id) {
				if (to == ALERT_CLOSED)
					table_remove(a, e);
				break;
			}
		pthread_mutex_unlock(&a->mu);
		publish(a, rev - 1, NULL, NULL, 0);
	} else if (rc == -EALREADY) {
		rc = 0;
	}
	if (rc == 0 && out)
		rc = store_alert_get(a->s, id, out);
	pthread_mutex_unlock(&a->db_mu);
	return rc;
}

/* Expired entries (their window is over by the newest hit's clock) that are written. */
static void prune(struct alerts *a)
{
	pthread_mutex_lock(&a->mu);
	for (struct entry *e = a->oldest, *nx; e; e = nx) {
		nx = e->newer;
		if (e->created_at + a->cooldown_us > a->clock)
			break;
		if (!e->dirty)
			table_remove(a, e);
	}
	pthread_mutex_unlock(&a->mu);
}

/* How often subscribers are woken (so that each can send its keep-alive in time) and
 * expired alerts are pruned. Streams may ask for keep-alives every second. */
static int64_t tick_ms(const struct alerts *a)
{
	return a->t.keepalive_ms / 2 < 500 ? a->t.keepalive_ms / 2 : 500;
}

static void *alerts_main(void *arg)
{
	struct alerts *a = arg;
	pthread_setname_np(pthread_self(), "siem-alerts"); /* for top -H and perf */
	int64_t next_tick = mono_ms() + tick_ms(a);
	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		int64_t now = mono_ms();
		bool can_write = a->dirty && now >= a->retry_at;
		if (!can_write && now < next_tick) {
			int64_t until = next_tick;
			if (a->dirty && a->retry_at < until)
				until = a->retry_at;
			struct timespec ts = clock_deadline_ms(until - now);
			pthread_cond_timedwait(&a->cv, &a->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&a->mu);
		if (can_write) {
			struct stage_timer st;
			stage_start(&st, SIZE_MAX);
			alerts_flush(a);
			stage_lap(&st, STAGE_ALERTS, 0);
		}
		if (mono_ms() >= next_tick) {
			alerts_wake_all(a, false);
			prune(a);
			next_tick = mono_ms() + tick_ms(a);
		}
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ---- life cycle ---- */

void alerts_tuning_defaults(struct alerts_tuning *t)
{
	t->max_open = 4096;
	t->sub_queue = 256;
	t->max_subs = 32;
	t->keepalive_ms = 15000;
	t->manual = false;
}

static void register_metrics(void)
{
	metric_register(&m_hits);
	metric_register(&m_raised);
	metric_register(&m_suppressed);
	metric_register(&m_evicted);
	metric_register(&m_dropped);
	metric_register(&m_write_fail);
	alerts_stream_register_metrics();
}

/* Open alerts still inside their window come back into the suppression table. */
static int load_open(struct alerts *a)
{
	struct alert_open_row *rows = NULL;
	size_t n = 0;
	int64_t now = ts_now_us();
	int rc = store_alerts_open_since(a->s, a->cooldown_us > now ? 0 : now - a->cooldown_us,
					 a->t.max_open, &rows, &n);
	if (rc < 0)
		return rc;
	/* Oldest first, so that the age list is in order. */
	for (size_t i = n; i-- > 0;) {
		struct alert_open_row *r = &rows[i];
		uint64_t h = key_hash(r->rule_id, r->group_key);
		if (lookup(a, h, r->rule_id, r->group_key))
			continue;
		struct entry *e = entry_new(r->rule_id, r->rule_title, r->rule_level,
					    r->rule_author, r->group_key);
		if (!e) {
			rc = -ENOMEM;
			break;
		}
		e->hash = h;
		e->id = r->id;
		e->severity = r->severity;
		e->first_seen = r->first_seen;
		e->last_seen = r->last_seen;
		e->created_at = r->created_at;
		e->updated_at = r->created_at;
		e->count = r->count;
		e->n_events = r->n_events;
		e->backfill = r->backfill;
		e->summary = r->summary ? strdup(r->summary) : NULL;
		if (r->n_ids && (e->ids = malloc(ALERT_MAX_EVENTS * 16))) {
			memcpy(e->ids, r->ids, r->n_ids * 16);
			e->n_ids = r->n_ids;
			e->cap_ids = ALERT_MAX_EVENTS;
		}
		table_insert(a, e);
		if (e->created_at > a->clock)
			a->clock = e->created_at;
	}
	store_alert_open_rows_free(rows, n);
	return rc;
}

int alerts_open_tuned(struct alerts **out, struct store *s, const struct alerts_config *cfg,
		      const struct alerts_tuning *t)
{
	struct notify_channel_config *chans = NULL;
	size_t nchans = 0;
	char err[512];
	int rc;
	struct alerts *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	register_metrics();
	a->s = s;
	a->t = *t;
	if (a->t.max_open < 16)
		a->t.max_open = 16;
	if (a->t.sub_queue < 4)
		a->t.sub_queue = 4;
	if (a->t.keepalive_ms < 20)
		a->t.keepalive_ms = 20;
	int64_t cd = cfg && cfg->cooldown_s >= 0 ? cfg->cooldown_s : 600;
	a->cooldown_us = cd * 1000000;
	int64_t bf = cfg && cfg->backfill_after_s ? cfg->backfill_after_s : 3600;
	a->backfill_us = bf < 0 ? -1 : bf * 1000000;
	if (cfg && cfg->public_url && *cfg->public_url) {
		size_t n = strlen(cfg->public_url);
		while (n && cfg->public_url[n - 1] == '/')
			n--;
		if (!(a->public_url = strndup(cfg->public_url, n))) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	for (a->nbuckets = 64; a->nbuckets < 2 * a->t.max_open; a->nbuckets *= 2)
		;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_mutex_init(&a->db_mu, NULL);
	pthread_mutex_init(&a->sub_mu, NULL);
	if (!(a->buckets = calloc(a->nbuckets, sizeof(*a->buckets)))) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = store_alerts_max(s, &a->next_id, &a->rev)) < 0 || (rc = load_open(a)) < 0)
		goto fail;
	a->published_rev = a->rev;
	if (cfg && cfg->channels_file && *cfg->channels_file) {
		if ((rc = notify_config_load(cfg->channels_file, &chans, &nchans, err,
					     sizeof(err))) < 0) {
			log_error(SUB, "%s", err);
			goto fail;
		}
		if ((rc = notifier_start(&a->notifier, chans, nchans)) < 0)
			goto fail;
		log_info(SUB, "%zu notification channels from '%s'", nchans, cfg->channels_file);
	}
	if (!a->t.manual && pthread_create(&a->thread, NULL, alerts_main, a) != 0) {
		rc = -EAGAIN;
		goto fail;
	}
	a->thread_started = !a->t.manual;
	*out = a;
	return 0;
fail:
	alerts_close(a);
	return rc;
}

int alerts_open(struct alerts **out, struct store *s, const struct alerts_config *cfg)
{
	struct alerts_tuning t;
	alerts_tuning_defaults(&t);
	return alerts_open_tuned(out, s, cfg, &t);
}

int alerts_keepalive_ms(struct alerts *a)
{
	return a->t.keepalive_ms;
}

void alerts_channels(struct alerts *a, json_t *out)
{
	if (a->notifier)
		notifier_status(a->notifier, out);
}

int alerts_channel_test(struct alerts *a, const char *name, const char *who, char *err,
			size_t errlen)
{
	snprintf(err, errlen, "no channel '%s'", name);
	return a->notifier ? notifier_test(a->notifier, name, who, err, errlen) : SIEM_ENOTFOUND;
}

bool alerts_notify_idle(struct alerts *a, int timeout_ms)
{
	return !a->notifier || notifier_wait_idle(a->notifier, timeout_ms);
}

void alerts_get_stats(struct alerts *a, struct alerts_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->hits = atomic_load(&a->hits);
	st->raised = atomic_load(&a->raised);
	st->suppressed = atomic_load(&a->suppressed);
	st->evicted = atomic_load(&a->evicted);
	st->dropped = atomic_load(&a->dropped);
	st->write_failures = atomic_load(&a->write_failures);
	st->sse_dropped = atomic_load(&a->sse_dropped);
	pthread_mutex_lock(&a->mu);
	st->open_tracked = a->in_table;
	pthread_mutex_unlock(&a->mu);
	pthread_mutex_lock(&a->sub_mu);
	st->subscribers = a->nsubs;
	pthread_mutex_unlock(&a->sub_mu);
}

void alerts_close(struct alerts *a)
{
	if (!a)
		return;
	if (a->thread_started) {
		pthread_mutex_lock(&a->mu);
		a->stop = true;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
	}
	if (a->buckets && alerts_flush(a) < 0)
		log_error(SUB, "alerts not written at stop");
	/* Streams end after what they hold; their connections unsubscribe as they close. */
	alerts_wake_all(a, true);
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&a->sub_mu);
		size_t n = a->nsubs;
		pthread_mutex_unlock(&a->sub_mu);
		if (n == 0)
			break;
		if (i == 499) {
			/* A subscriber still points here: leaking beats a use after free. */
			log_error(SUB, "%zu stream subscribers still open at stop", n);
			notifier_stop(a->notifier);
			return;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	notifier_stop(a->notifier);
	for (struct entry *e = a->dirty, *nx; e; e = nx) {
		nx = e->dnext;
		if (!e->in_table)
			entry_free(e);
	}
	for (struct entry *e = a->oldest, *nx; e; e = nx) {
		nx = e->newer;
		entry_free(e);
	}
	free(a->buckets);
	free(a->public_url);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->db_mu);
	pthread_mutex_destroy(&a->sub_mu);
	free(a);
}
