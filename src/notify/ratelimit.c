/* ratelimit.c — a channel's rate limit: at most N messages per window. A window starts with
 * the first message after the previous one ended; what it refuses is remembered (the first
 * NOTIFY_NOTICE_ITEMS summaries, and how many) for one notice when it ends. Pure state on
 * the caller's clock (the notifier holds the channel's lock around it). */
#include <stdint.h>
#include <string.h>

#include "notify/notify.h"

int notify_ratelimit_init(struct notify_ratelimit *r, int limit, int64_t window_ms)
{
	int rc;
	memset(r, 0, sizeof(*r));
	r->limit = limit;
	r->window_ms = window_ms;
	if (limit <= 0)
		return 0;
	if ((rc = notify_list_init(&r->refused, NOTIFY_NOTICE_ITEMS)) < 0 ||
	    (rc = notify_list_init(&r->notice, NOTIFY_NOTICE_ITEMS)) < 0)
		notify_ratelimit_release(r);
	return rc;
}

/* End the window at now: its refusals become the notice (added to one not yet taken). */
static void roll(struct notify_ratelimit *r, int64_t now)
{
	if (!r->active || now < r->end_ms)
		return;
	r->active = false;
	notify_list_merge(&r->notice, &r->refused);
	notify_list_clear(&r->refused);
}

bool notify_ratelimit_allow(struct notify_ratelimit *r, int64_t now)
{
	if (r->limit <= 0)
		return true;
	roll(r, now);
	if (!r->active) {
		r->active = true;
		r->used = 0;
		r->end_ms = now > INT64_MAX - r->window_ms ? INT64_MAX : now + r->window_ms;
	}
	if (r->used >= r->limit)
		return false;
	r->used++;
	return true;
}

void notify_ratelimit_refuse(struct notify_ratelimit *r, const struct notify_item *it)
{
	notify_list_add(&r->refused, it);
}

void notify_ratelimit_refuse_list(struct notify_ratelimit *r, const struct notify_list *l)
{
	notify_list_merge(&r->refused, l);
}

int64_t notify_ratelimit_deadline(const struct notify_ratelimit *r)
{
	if (r->notice.total)
		return INT64_MIN;
	return r->refused.total ? r->end_ms : INT64_MAX;
}

bool notify_ratelimit_take_notice(struct notify_ratelimit *r, int64_t now, struct notify_list *out)
{
	if (r->limit <= 0)
		return false;
	roll(r, now);
	if (!r->notice.total)
		return false;
	struct notify_list t = *out;
	*out = r->notice;
	r->notice = t;
	notify_list_clear(&r->notice);
	return true;
}

void notify_ratelimit_release(struct notify_ratelimit *r)
{
	notify_list_release(&r->refused);
	notify_list_release(&r->notice);
}
