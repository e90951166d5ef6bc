/* digest.c — a channel's digest: alerts at or below a severity wait, and the first one held
 * starts an interval at whose end they all go out as one message. Pure state on the
 * caller's clock (the notifier holds the channel's lock around it). */
#include <stdint.h>
#include <string.h>

#include "notify/notify.h"

int notify_digest_init(struct notify_digest *d, int64_t interval_ms, int max_severity)
{
	memset(d, 0, sizeof(*d));
	d->interval_ms = interval_ms;
	d->max_severity = max_severity;
	return interval_ms > 0 ? notify_list_init(&d->held, NOTIFY_DIGEST_ITEMS) : 0;
}

bool notify_digest_wants(const struct notify_digest *d, int severity)
{
	return d->interval_ms > 0 && severity <= d->max_severity;
}

void notify_digest_hold(struct notify_digest *d, const struct notify_item *it, int64_t now)
{
	if (!d->pending) {
		d->pending = true;
		d->due_ms = now > INT64_MAX - d->interval_ms ? INT64_MAX : now + d->interval_ms;
	}
	notify_list_add(&d->held, it);
}

int64_t notify_digest_deadline(const struct notify_digest *d)
{
	return d->pending ? d->due_ms : INT64_MAX;
}

bool notify_digest_take(struct notify_digest *d, int64_t now, struct notify_list *out)
{
	if (!d->pending || now < d->due_ms)
		return false;
	struct notify_list t = *out;
	*out = d->held;
	d->held = t;
	notify_list_clear(&d->held);
	d->pending = false;
	return true;
}

void notify_digest_release(struct notify_digest *d)
{
	notify_list_release(&d->held);
	d->pending = false;
}
