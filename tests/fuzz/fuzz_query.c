/* fuzz_query.c — libFuzzer driver for the query-string values GET /events parses: cursors,
 * timestamps, IP addresses and CIDR blocks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, data, n);
	s[n] = '\0';
	int64_t ts, seq, us;
	uint8_t lo[16], hi[16], ip[16];
	char buf[46], tbuf[32], cbuf[33];
	if (cursor_decode(s, &ts, &seq) == 0) {
		cursor_encode(ts, seq, cbuf);
		if (strcmp(cbuf, s) != 0)
			abort(); /* a cursor must round-trip */
	}
	if (ts_parse(s, n, &us) == 0)
		ts_format(us, tbuf);
	if (ip_parse(s, n, ip) == 0)
		ip_format(ip, buf);
	if (cidr_parse(s, n, lo, hi) == 0 && memcmp(lo, hi, 16) > 0)
		abort(); /* a range is never inverted */
	free(s);
	return 0;
}
