/* gz.h — gzip a request body (Content-Encoding: gzip), zlib on every platform. */
#ifndef SIEM_AGENT_GZ_H
#define SIEM_AGENT_GZ_H

#include <stddef.h>

/* *out is malloc'd (caller frees). */
int gz_compress(const char *in, size_t n, char **out, size_t *out_n);

#endif
