/* file.h — a small file (configuration, rules, keys) read whole into memory. */
#ifndef SIEM_FILE_H
#define SIEM_FILE_H

#include <stddef.h>

/* The file at path, up to max bytes, into a malloc'd *out (NUL-terminated, *n bytes before
 * the NUL). -errno when it cannot be opened, SIEM_ETOOBIG when it has more than max bytes,
 * -ENOMEM. A read error ends the text where it happened. */
int file_read_all(const char *path, size_t max, char **out, size_t *n);

#endif
