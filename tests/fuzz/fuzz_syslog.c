/* fuzz_syslog.c — libFuzzer driver for syslog_parse: any bytes, every part must lie inside
 * the input and the fields must be consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "parse/syslog.h"

#define NOW 1795248000000000LL /* 2026-11-21T08:00:00Z */

static void inside(const char *b, size_t n, struct sv v)
{
	if (v.p && (v.p < b || v.p + v.n > b + n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading one byte past the end is caught. */
	char *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	memcpy(p, data, size);
	struct syslog_msg m;
	int rc = syslog_parse(p, size, NOW, &m);
	if (rc != 0 && rc != SIEM_EPARSE)
		abort();
	struct sv parts[] = {m.host, m.app, m.procid, m.msgid, m.sd, m.msg};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		inside(p, size, parts[i]);
	if (m.pri > 191 || (m.pri >= 0 && (m.facility != m.pri >> 3 || m.severity != (m.pri & 7))))
		abort();
	if (m.ts < 0 || (m.severity >= 0 && !syslog_level_name(m.severity)))
		abort();
	free(p);
	return 0;
}
