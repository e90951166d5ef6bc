/* err.c — messages for the project's error codes. */
#include <string.h>

#include "err.h"

const char *siem_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case SIEM_ESQL:
		return "store error";
	case SIEM_EPARSE:
		return "malformed input";
	case SIEM_ESCHEMA:
		return "input does not fit the schema";
	case SIEM_ETOOBIG:
		return "input too large";
	case SIEM_EAUTH:
		return "authentication failed";
	case SIEM_EFULL:
		return "queue full";
	case SIEM_ECLOSED:
		return "shutting down";
	case SIEM_ECRYPTO:
		return "cryptographic failure";
	case SIEM_ENOTFOUND:
		return "not found";
	case SIEM_ELIMITED:
		return "rate limited";
	case SIEM_EUNAVAIL:
		return "database unavailable";
	case SIEM_EBROKER:
		return "the message broker cannot take events now";
	default:
		if (err < 0 && err > SIEM_EFIRST)
			return strerror(-err);
		return "unknown error";
	}
}
