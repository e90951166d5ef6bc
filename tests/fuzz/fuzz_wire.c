/* fuzz_wire.c — libFuzzer driver for wire_decode, the store role's reading of a broker
 * message: any bytes are decoded or refused with a reason; what decodes encodes again and
 * that encoding decodes to as many records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/wire.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_batch b, again;
	char err[256] = "";
	int rc = wire_decode(data, size, &b, err, sizeof(err));
	if (rc < 0) {
		if (!err[0] || (rc != SIEM_EPARSE && rc != SIEM_ETOOBIG && rc != -ENOMEM))
			abort();
		ingest_batch_release(&b);
		return 0;
	}
	struct strbuf sb;
	strbuf_init(&sb, WIRE_MAX_BYTES);
	if (wire_encode(&b, &sb) != 0)
		abort();
	if (wire_decode(sb.p, sb.n, &again, err, sizeof(err)) != 0 || again.n != b.n ||
	    again.n_dead != b.n_dead || again.n_offsets != b.n_offsets)
		abort();
	for (size_t i = 0; i < b.n; i++)
		if (memcmp(again.ev[i].id, b.ev[i].id, 16) != 0 || again.ev[i].ts != b.ev[i].ts)
			abort();
	strbuf_release(&sb);
	ingest_batch_release(&again);
	ingest_batch_release(&b);
	return 0;
}
