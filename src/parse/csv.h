/* csv.h — CSV (RFC 4180: a header row, fields quoted with commas, quotes and newlines
 * inside) into one JSON object per row keyed by the header, for the event normalizer, which
 * maps the header's names through the same field names and aliases as JSON. Bounded: row
 * size and column count. */
#ifndef SIEM_CSV_H
#define SIEM_CSV_H

#include <jansson.h>
#include <stddef.h>

#define CSV_COLS_MAX 256	/* columns of the header, and of a row */
#define CSV_ROW_MAX (64 * 1024) /* bytes of a row's fields together */

/* Called for each data row (row: 1 for the first after the header), with the row as an
 * object of its non-empty fields, or obj NULL and why the row is refused. Returns 0 to go
 * on, negative to stop (csv_records then returns that). */
typedef int (*csv_row_fn)(void *arg, size_t row, json_t *obj, const char *err);

/* Read every row of p[0..n). Returns 0, a callback's error, or SIEM_EPARSE with the reason
 * in err when the header itself is unusable (empty, duplicate or too many names). */
int csv_records(const char *p, size_t n, csv_row_fn fn, void *arg, char *err, size_t errlen);

/* A file read row by row (the tailer): its header once, then each record, which may span
 * lines when a quoted field holds a line break. */
struct csv_header;
int csv_header_parse(const char *p, size_t n, struct csv_header **out, char *err, size_t errlen);
void csv_header_free(struct csv_header *h);
#define CSV_MORE 1 /* csv_row_parse: a quoted field is still open, the next line belongs to it */
/* One record under h: 0 with *obj (the caller's reference), CSV_MORE, SIEM_EPARSE with the
 * reason in err (a refused row), or -ENOMEM. */
int csv_row_parse(const struct csv_header *h, const char *p, size_t n, json_t **obj, char *err,
		  size_t errlen);

#endif
