/* alerts.h — what happens after a hit: suppression (one alert per rule and group within a
 * cooldown, repeats counted on it), the alerts table, live subscribers (SSE) and
 * notification channels (SMTP, webhook, Slack). Fed by the detection engine through
 * alerts_sink on the writer thread, so nothing here may block: storage writes are small and
 * notifications are queued to a thread of their own. */
#ifndef SIEM_ALERTS_H
#define SIEM_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "detect/detect.h"
#include "store/store.h"

struct alerts;

struct alerts_config {
	int64_t cooldown_s;        /* suppression window per rule and group (default 600) */
	const char *channels_file; /* notification channels (format documented in docs/), or NULL */
};

int alerts_open(struct alerts **out, struct store *s, const struct alerts_config *cfg);
/* The detect_sink: ctx is the struct alerts. */
void alerts_sink(void *ctx, const struct detect_hit *hit);
void alerts_close(struct alerts *a);

#endif
