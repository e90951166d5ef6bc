/* csv.c — CSV rows into JSON objects through libcsv: the header row names the fields, each
 * later row is one record; a row too long, too wide or with an unterminated quote is refused
 * on its own, the others go on. */
#include <csv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "parse/csv.h"

struct csv_state {
	csv_row_fn fn;
	void *arg;
	int rc;			   /* a callback's error: stop */
	char *names[CSV_COLS_MAX]; /* the header's names (malloc'd) */
	size_t ncols;		   /* 0 until the header is read */
	bool header_done;
	char header_err[160];
	json_t *row; /* the row being read */
	size_t col, bytes, rowno;
	char row_err[160]; /* why the row is refused, "" when it is not */
};

static void row_reset(struct csv_state *s)
{
	json_decref(s->row);
	s->row = NULL;
	s->col = s->bytes = 0;
	s->row_err[0] = '\0';
}

static void on_field(void *f, size_t n, void *data)
{
	struct csv_state *s = data;
	const char *v = f ? f : "";
	if (s->rc)
		return;
	if (!s->header_done) {
		if (s->header_err[0])
			return;
		if (s->col >= CSV_COLS_MAX) {
			snprintf(s->header_err, sizeof(s->header_err),
				 "header: more than %d columns", CSV_COLS_MAX);
			return;
		}
		/* A UTF-8 BOM before the first name is no part of it. */
		if (s->col == 0 && n >= 3 && !memcmp(v, "\xEF\xBB\xBF", 3))
			v += 3, n -= 3;
		while (n && (*v == ' ' || *v == '\t'))
			v++, n--;
		while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
			n--;
		json_t *check = json_stringn(v, n);
		json_decref(check);
		if (n == 0 || memchr(v, '\0', n) || !check) {
			snprintf(s->header_err, sizeof(s->header_err),
				 "header: column %zu has no name (or not valid UTF-8)", s->col + 1);
			return;
		}
		for (size_t i = 0; i < s->col; i++) {
			if (strlen(s->names[i]) == n && !memcmp(s->names[i], v, n)) {
				snprintf(s->header_err, sizeof(s->header_err),
					 "header: column '%.*s' twice", (int)(n > 64 ? 64 : n), v);
				return;
			}
		}
		if (!(s->names[s->col] = strndup(v, n))) {
			s->rc = -ENOMEM;
			return;
		}
		s->col++;
		return;
	}
	if (s->row_err[0])
		return;
	if (s->col >= s->ncols) {
		snprintf(s->row_err, sizeof(s->row_err),
			 "row has more than the header's %zu fields", s->ncols);
		return;
	}
	s->bytes += n;
	if (s->bytes > CSV_ROW_MAX) {
		snprintf(s->row_err, sizeof(s->row_err), "row longer than %d bytes", CSV_ROW_MAX);
		return;
	}
	const char *name = s->names[s->col++];
	if (n == 0)
		return;			  /* an empty field is an absent one */
	json_t *str = json_stringn(v, n); /* NULL for invalid UTF-8 too */
	if (!str) {
		snprintf(s->row_err, sizeof(s->row_err), "field '%s': not valid UTF-8", name);
		return;
	}
	if ((!s->row && !(s->row = json_object())) || json_object_set_new(s->row, name, str))
		s->rc = -ENOMEM;
}

static void on_row(int term, void *data)
{
	struct csv_state *s = data;
	(void)term;
	if (s->rc)
		return;
	if (!s->header_done) {
		s->header_done = true;
		s->ncols = s->col;
		s->col = 0;
		return;
	}
	s->rowno++;
	/* A blank line is no record. */
	if (s->col == 1 && !s->row && !s->row_err[0]) {
		row_reset(s);
		return;
	}
	int rc;
	if (s->row_err[0])
		rc = s->fn(s->arg, s->rowno, NULL, s->row_err);
	else if (!s->row)
		rc = s->fn(s->arg, s->rowno, NULL, "row has no field");
	else
		rc = s->fn(s->arg, s->rowno, s->row, NULL);
	if (rc < 0)
		s->rc = rc;
	row_reset(s);
}

/* A row whose quoting is malformed ('a"b', '"a"b'): refused, and reading goes on after the
 * line it was found on, with a fresh parser (the header is kept). */
static int skip_bad_row(struct csv_state *s, const char **p, const char *end)
{
	const char *lf = memchr(*p, '\n', (size_t)(end - *p));
	s->rowno++;
	row_reset(s);
	*p = lf ? lf + 1 : end;
	if (!s->header_done) {
		snprintf(s->header_err, sizeof(s->header_err), "header: malformed quoting");
		return 0;
	}
	int rc = s->fn(s->arg, s->rowno, NULL, "malformed quoting");
	return rc < 0 ? rc : 0;
}

int csv_records(const char *p, size_t n, csv_row_fn fn, void *arg, char *err, size_t errlen)
{
	struct csv_parser cp;
	struct csv_state s = {.fn = fn, .arg = arg};
	const unsigned char opts = CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL;
	const char *end = p + n;
	int rc = 0;
	if (err && errlen)
		err[0] = '\0';
	if (csv_init(&cp, opts) != 0)
		return -ENOMEM;
	/* Fed in slices so that a callback's stop is seen soon. */
	while (p < end && !rc && !s.rc && !s.header_err[0]) {
		size_t k = (size_t)(end - p) < 65536 ? (size_t)(end - p) : 65536;
		size_t used = csv_parse(&cp, p, k, on_field, on_row, &s);
		if (used == k) {
			p += k;
			continue;
		}
		if (csv_error(&cp) != CSV_EPARSE) {
			rc = -ENOMEM;
			break;
		}
		p += used;
		rc = skip_bad_row(&s, &p, end);
		csv_free(&cp);
		if (!rc && csv_init(&cp, opts) != 0)
			return -ENOMEM;
		if (rc)
			csv_init(&cp, opts);
	}
	if (!rc && !s.rc && !s.header_err[0] && csv_fini(&cp, on_field, on_row, &s) != 0) {
		/* The last field opened a quote that never closed: that row is refused. */
		s.rowno++;
		row_reset(&s);
		if (s.header_done)
			rc = fn(arg, s.rowno, NULL, "unterminated quoted field");
		else
			snprintf(s.header_err, sizeof(s.header_err),
				 "header: unterminated quoted field");
	}
	if (!rc && s.rc)
		rc = s.rc;
	if (!rc && !s.header_err[0] && s.ncols == 0)
		snprintf(s.header_err, sizeof(s.header_err), "no header row");
	if (!rc && s.header_err[0]) {
		rc = SIEM_EPARSE;
		if (err && errlen)
			snprintf(err, errlen, "%s", s.header_err);
	}
	json_decref(s.row);
	for (size_t i = 0; i < CSV_COLS_MAX && s.names[i]; i++)
		free(s.names[i]);
	csv_free(&cp);
	return rc;
}

struct csv_header {
	size_t ncols;
	char *names[];
};

/* Keeps the first row it is given (a record is one row). */
struct one_row {
	json_t *obj;
	char err[160];
	bool got;
};

static int take_one(void *arg, size_t row, json_t *obj, const char *err)
{
	struct one_row *o = arg;
	(void)row;
	if (o->got)
		return 0;
	o->got = true;
	if (obj)
		o->obj = json_incref(obj);
	else
		snprintf(o->err, sizeof(o->err), "%s", err);
	return 0;
}

static int header_row(void *arg, size_t row, json_t *obj, const char *err)
{
	(void)arg, (void)row, (void)obj, (void)err;
	return 0;
}

int csv_header_parse(const char *p, size_t n, struct csv_header **out, char *err, size_t errlen)
{
	struct csv_parser cp;
	struct csv_state s = {.fn = header_row};
	int rc = 0;
	*out = NULL;
	if (csv_init(&cp, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
		return -ENOMEM;
	if (csv_parse(&cp, p, n, on_field, on_row, &s) != n)
		snprintf(s.header_err, sizeof(s.header_err), "header: malformed quoting");
	else if (!s.rc && !s.header_err[0] && csv_fini(&cp, on_field, on_row, &s) != 0)
		snprintf(s.header_err, sizeof(s.header_err), "header: unterminated quoted field");
	csv_free(&cp);
	if (s.rc)
		rc = s.rc;
	else if (!s.header_err[0] && s.ncols == 0)
		snprintf(s.header_err, sizeof(s.header_err), "no header row");
	if (!rc && s.header_err[0]) {
		rc = SIEM_EPARSE;
		if (err && errlen)
			snprintf(err, errlen, "%s", s.header_err);
	}
	struct csv_header *h = NULL;
	if (!rc && !(h = malloc(sizeof(*h) + s.ncols * sizeof(char *))))
		rc = -ENOMEM;
	json_decref(s.row);
	if (!rc) {
		h->ncols = s.ncols;
		memcpy(h->names, s.names, s.ncols * sizeof(char *));
		*out = h;
		return 0;
	}
	for (size_t i = 0; i < CSV_COLS_MAX && s.names[i]; i++)
		free(s.names[i]);
	return rc;
}

void csv_header_free(struct csv_header *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->ncols; i++)
		free(h->names[i]);
	free(h);
}

int csv_row_parse(const struct csv_header *h, const char *p, size_t n, json_t **obj, char *err,
		  size_t errlen)
{
	struct csv_parser cp;
	struct one_row o = {.obj = NULL};
	struct csv_state s = {.fn = take_one, .arg = &o, .header_done = true, .ncols = h->ncols};
	int rc = 0;
	*obj = NULL;
	memcpy(s.names, h->names, h->ncols * sizeof(char *));
	if (csv_init(&cp, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
		return -ENOMEM;
	if (csv_parse(&cp, p, n, on_field, on_row, &s) != n) {
		if (!o.got)
			snprintf(o.err, sizeof(o.err), "malformed quoting");
		o.got = true;
	} else if (!s.rc && csv_fini(&cp, on_field, on_row, &s) != 0) {
		rc = CSV_MORE;
	}
	csv_free(&cp);
	json_decref(s.row);
	if (s.rc || rc) {
		json_decref(o.obj);
		return s.rc ? s.rc : rc;
	}
	if (!o.got)
		snprintf(o.err, sizeof(o.err), "row has no field");
	if (!o.obj) {
		if (err && errlen)
			snprintf(err, errlen, "%s", o.err);
		return SIEM_EPARSE;
	}
	*obj = o.obj;
	return 0;
}
