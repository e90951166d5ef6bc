/* fuzz_audit_asm.c — libFuzzer driver for the audit record assembler: any bytes, as lines fed
 * to one assembler at times taken from the input, then the events decoded; every event
 * handed on stays within the bounds, and nothing is held once the source stops. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse/audit_asm.h"
#include "parse/logline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int out(void *ctx, const char *text, size_t n, const void *tag)
{
	(void)ctx;
	(void)tag;
	if (n > AUDIT_ASM_BYTES + 64 * 1024 || text[n] != '\0')
		abort();
	size_t lines = 1;
	for (size_t i = 0; i < n; i++)
		lines += text[i] == '\n';
	if (lines > AUDIT_ASM_RECORDS)
		abort();
	struct arena a;
	arena_init(&a, 0);
	struct event ev;
	char err[256];
	logline_to_event(FMT_SYSLOG, text, n, NULL, 0, &ev, &a, err, sizeof(err), NULL);
	arena_release(&a);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_asm *m = audit_asm_new(sizeof(int), 100);
	if (!m)
		return 0;
	int64_t now = 0;
	size_t i = 0;
	int line = 0;
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t e = nl ? (size_t)(nl - data) : size;
		char *p = malloc(e - i + 1); /* exact size: a read past the line is caught */
		if (!p)
			break;
		memcpy(p, data + i, e - i);
		now += (e - i) % 7 * 10; /* time moves with the input */
		line++;
		audit_asm_feed_from(m, (e - i) % 3 ? NULL : "192.0.2.1", p, e - i, &line, now, out,
				    NULL);
		if (audit_asm_open(m) > AUDIT_ASM_OPEN)
			abort();
		free(p);
		i = e + 1;
	}
	audit_asm_expire(m, INT64_MAX, out, NULL);
	if (audit_asm_open(m))
		abort();
	audit_asm_free(m);
	return 0;
}
