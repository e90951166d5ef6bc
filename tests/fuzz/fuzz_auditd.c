/* fuzz_auditd.c — libFuzzer driver for auditd_parse and auditd_decode: any bytes; a record's
 * parts lie inside the input or the arena, and decoding an event never breaks its data. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "parse/auditd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading one byte past the end is caught. */
	char *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	memcpy(p, data, size);
	struct arena a;
	arena_init(&a, 0);
	struct audit_rec *r = arena_alloc(&a, sizeof(*r));
	int rc = r ? auditd_parse(p, size, r, &a) : 0;
	if (rc != 0 && rc != SIEM_EPARSE && rc != -ENOMEM)
		abort();
	if (r && rc == 0) {
		if (!r->typen || r->type < p || r->type + r->typen > p + size ||
		    r->n > AUDIT_MAX_FIELDS)
			abort();
		for (size_t i = 0; i < r->n; i++)
			if (!r->f[i].keyn || r->f[i].key < p ||
			    r->f[i].key + r->f[i].keyn > p + size)
				abort();
	}
	/* as the message of an event that had no data, then one with syslog's */
	struct event ev;
	memset(&ev, 0, sizeof(ev));
	ev.message = (struct sv){p, size};
	ev.data = (struct sv){"{\"syslog\":{}}", 13};
	if (auditd_decode(&ev, &a) == 1) {
		json_error_t je;
		json_t *j = json_loadb(ev.data.p, ev.data.n, 0, &je);
		if (!j || !json_is_object(j))
			abort();
		json_decref(j);
	}
	arena_release(&a);
	free(p);
	return 0;
}
