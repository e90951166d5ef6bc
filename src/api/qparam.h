/* qparam.h — reading a request's query parameters for the list and stats endpoints: the one
 * being read (named in the error text), comma-separated lists and timestamps. */
#ifndef SIEM_QPARAM_H
#define SIEM_QPARAM_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

struct qparam {
	const char *name; /* the parameter being read */
	char err[160];	  /* "name: why", after qparam_bad */
};

/* "name: why" into p->err; returns SIEM_EPARSE. */
int qparam_bad(struct qparam *p, const char *why);

/* The value of parameter name when the request has one and it is not empty, else NULL;
 * name becomes the one being read. */
const char *qparam_get(struct http_req *r, struct qparam *p, const char *name);

/* Every value of parameter name (it may repeat), split on commas, each non-empty piece to
 * add(arg, piece, n); stops at the first non-zero return and returns it. */
int qparam_each(struct http_req *r, struct qparam *p, const char *name,
		int (*add)(void *arg, const char *v, size_t n), void *arg);

/* Every parameter of the request is one of known (a NULL-terminated list), else an error
 * naming the first that is not ("unknown parameter"). A client that misspells a filter or
 * pages with a parameter this endpoint does not take is told, not answered as if it had
 * sent nothing. */
int qparam_known(struct http_req *r, struct qparam *p, const char *const *known);

/* v (ISO-8601 or epoch; NULL: absent, 0) into *out; an error names p->name. */
int qparam_time(struct qparam *p, const char *v, int64_t *out);

#endif
