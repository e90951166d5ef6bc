/* reply.c — read the hub's ingest answer: with jansson where the agent has it, else (the
 * Windows build, which has no jansson) a scan of the hub's own compact answer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/reply.h"

#ifndef _WIN32
#include <jansson.h>

int reply_parse(const char *body, size_t n, struct reply *r,
		void (*on_reject)(void *ctx, long index, const char *error), void *ctx)
{
	json_t *o = json_loadb(body, n, 0, NULL);
	*r = (struct reply){0, 0, 0};
	if (!json_is_object(o)) {
		json_decref(o);
		return -EBADMSG;
	}
	r->accepted = (long)json_integer_value(json_object_get(o, "accepted"));
	r->duplicates = (long)json_integer_value(json_object_get(o, "duplicates"));
	json_t *rej = json_object_get(o, "rejected"), *v;
	size_t i;
	json_array_foreach (rej, i, v) {
		r->rejected++;
		const char *err = json_string_value(json_object_get(v, "error"));
		if (on_reject)
			on_reject(ctx, (long)json_integer_value(json_object_get(v, "index")),
				  err ? err : "?");
	}
	json_t *total = json_object_get(o, "rejected_total");
	if (json_is_integer(total) && json_integer_value(total) > r->rejected)
		r->rejected = (long)json_integer_value(total);
	json_decref(o);
	return 0;
}

#else

/* The value of "key": a number (*num) or, when str is given, a string copied into str. */
static const char *find_key(const char *p, const char *end, const char *key)
{
	size_t kn = strlen(key);
	for (; p && p + kn + 2 < end; p++) {
		p = memchr(p, '"', (size_t)(end - p));
		if (!p || p + kn + 2 >= end)
			return NULL;
		if (!memcmp(p + 1, key, kn) && p[kn + 1] == '"') {
			p += kn + 2;
			while (p < end && (*p == ' ' || *p == ':'))
				p++;
			return p;
		}
	}
	return NULL;
}

int reply_parse(const char *body, size_t n, struct reply *r,
		void (*on_reject)(void *ctx, long index, const char *error), void *ctx)
{
	const char *end = body + n, *p;
	*r = (struct reply){0, 0, 0};
	if (!(p = find_key(body, end, "accepted")))
		return -EBADMSG;
	r->accepted = strtol(p, NULL, 10);
	if ((p = find_key(body, end, "duplicates")))
		r->duplicates = strtol(p, NULL, 10);
	const char *rej = find_key(body, end, "rejected");
	for (p = rej; p && (p = find_key(p, end, "index"));) {
		long idx = strtol(p, NULL, 10);
		char err[512] = "?";
		const char *e = find_key(p, end, "error");
		if (e && *e == '"') {
			size_t k = 0;
			for (e++; e < end && *e != '"' && k + 1 < sizeof(err); e++) {
				if (*e == '\\' && e + 1 < end)
					e++;
				err[k++] = *e;
			}
			err[k] = '\0';
		}
		r->rejected++;
		if (on_reject)
			on_reject(ctx, idx, err);
		p = e ? e : p + 1;
	}
	return 0;
}
#endif
