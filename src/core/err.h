/* err.h — the project's error convention: 0 ok, negative errno or SIEM_E* on failure. */
#ifndef SIEM_ERR_H
#define SIEM_ERR_H

#include <errno.h>

enum {
	SIEM_EFIRST = -10000,
	SIEM_ESQL,	/* store engine failure */
	SIEM_EPARSE,	/* malformed input (JSON, timestamp, config) */
	SIEM_ESCHEMA,	/* well-formed input that fails the event schema */
	SIEM_ETOOBIG,	/* input over its configured limit */
	SIEM_EAUTH,	/* bad credentials or token */
	SIEM_EFULL,	/* a bounded queue is full: try again later */
	SIEM_ECLOSED,	/* the subsystem is shutting down */
	SIEM_ECRYPTO,	/* a crypto library call failed */
	SIEM_ENOTFOUND, /* no such object */
	SIEM_ELIMITED,	/* too many failed attempts from this client: try again later */
	SIEM_EUNAVAIL,	/* the store's database cannot be reached now: try again later */
	SIEM_EBROKER,	/* the message broker cannot take events now: try again later */
	SIEM_ELAST
};

/* Message for an error code: negative errno or SIEM_E*. Never NULL. */
const char *siem_strerror(int err);

#endif
