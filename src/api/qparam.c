/* qparam.c — reading a request's query parameters: error text, comma lists, timestamps. */
#include <stdio.h>
#include <string.h>

#include "api/qparam.h"
#include "core/err.h"
#include "core/event.h"

int qparam_bad(struct qparam *p, const char *why)
{
	snprintf(p->err, sizeof(p->err), "%s: %s", p->name, why);
	return SIEM_EPARSE;
}

const char *qparam_get(struct http_req *r, struct qparam *p, const char *name)
{
	const char *v = http_query(r, name);
	p->name = name;
	return v && *v ? v : NULL;
}

struct split {
	int (*add)(void *arg, const char *v, size_t n);
	void *arg;
};

static int split(void *arg, const char *value)
{
	struct split *sp = arg;
	for (const char *s = value;;) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);
		int rc;
		if (n > 0 && (rc = sp->add(sp->arg, s, n)))
			return rc;
		if (!c)
			return 0;
		s = c + 1;
	}
}

int qparam_each(struct http_req *r, struct qparam *p, const char *name,
		int (*add)(void *arg, const char *v, size_t n), void *arg)
{
	struct split sp = {add, arg};
	p->name = name;
	return http_query_each(r, name, split, &sp);
}

struct known {
	struct qparam *p;
	const char *const *names;
};

static int check_name(void *arg, const char *name)
{
	struct known *k = arg;
	for (const char *const *n = k->names; *n; n++)
		if (strcmp(*n, name) == 0)
			return 0;
	/* The name as the client sent it, cut and made printable for the message. */
	char shown[48];
	size_t i = 0;
	for (; name[i] && i + 1 < sizeof(shown); i++)
		shown[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	shown[i] = '\0';
	snprintf(k->p->err, sizeof(k->p->err), "%s: unknown parameter", shown);
	return SIEM_EPARSE;
}

int qparam_known(struct http_req *r, struct qparam *p, const char *const *known)
{
	struct known k = {p, known};
	return http_query_names(r, check_name, &k);
}

int qparam_time(struct qparam *p, const char *v, int64_t *out)
{
	if (v && ts_parse(v, strlen(v), out) < 0)
		return qparam_bad(p, "not ISO-8601 or epoch");
	return 0;
}
