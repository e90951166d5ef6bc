/* wire.h — a batch of events as one broker message: every field of every event (the hub-set
 * ones too: event_id, received_at, ingest_key, geo, tags, rdns), the batch's dead letters and
 * file offsets. Decoding trusts nothing: every length and count is bounded and checked. */
#ifndef SIEM_BROKER_WIRE_H
#define SIEM_BROKER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "ingest/batch.h"

/* The largest message either side accepts (RabbitMQ's own default limit), and the most
 * records in one. */
#define WIRE_MAX_BYTES (128u << 20)
#define WIRE_MAX_RECORDS 1000000u

/* Append the batch's encoding to out (out's own bound applies). 0, -ENOMEM or
 * SIEM_ETOOBIG. */
int wire_encode(const struct ingest_batch *b, struct strbuf *out);
/* Fill b (initialised here; ingest_batch_release it also on failure) from msg[0..n). 0, or
 * SIEM_EPARSE / SIEM_ETOOBIG / -ENOMEM with the reason in err. */
int wire_decode(const void *msg, size_t n, struct ingest_batch *b, char *err, size_t errlen);

#endif
