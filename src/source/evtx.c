/* evtx.c — Windows event log files (.evtx) read with libevtx, each record's XML through the
 * Windows event mapping: the log's own records, then those libevtx recovers from slack space. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libevtx.h>

#include "core/err.h"
#include "core/log.h"
#include "parse/winevent.h"
#include "source/evtx.h"

#define EVTX_MAX_XML (1024 * 1024 + 1) /* winevent's limit, with the NUL */

struct evtx_reader {
	libevtx_file_t *file;
	size_t live, recovered;
	int *rec_index; /* recovered candidates libevtx can render, by its index */
	char *path;
	char *buf;
	size_t cap;
};

/* libevtx's error text on one line, then the error freed. */
static void evtx_errmsg(libevtx_error_t **e, char *out, size_t outlen)
{
	if (!out || !outlen) {
		libevtx_error_free(e);
		return;
	}
	out[0] = '\0';
	if (*e && libevtx_error_sprint(*e, out, outlen) > 0) {
		for (char *c = out; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ';';
	}
	libevtx_error_free(e);
}

int evtx_open(struct evtx_reader **out, const char *path)
{
	struct evtx_reader *r = NULL;
	libevtx_error_t *e = NULL;
	struct stat st;
	int rc = 0, n = 0;
	*out = NULL;
	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (access(path, R_OK))
		return -errno;
	if (!(r = calloc(1, sizeof(*r))) || !(r->path = strdup(path))) {
		rc = -ENOMEM;
		goto out;
	}
	if (libevtx_file_initialize(&r->file, &e) != 1) {
		rc = -ENOMEM;
		goto out;
	}
	if (libevtx_file_open(r->file, path, LIBEVTX_OPEN_READ, &e) != 1) {
		char m[256];
		evtx_errmsg(&e, m, sizeof(m));
		log_warn("evtx", "cannot open '%s': %s", path, *m ? m : "not an evtx file");
		rc = SIEM_EPARSE; /* readable, but not an evtx file */
		goto out;
	}
	if (libevtx_file_get_number_of_records(r->file, &n, &e) != 1 || n < 0) {
		rc = SIEM_EPARSE;
		goto out;
	}
	r->live = (size_t)n;
	/* Most recovery candidates are fragments libevtx cannot even render: they are not
	 * records, so they are left out here rather than reported one by one as bad. */
	n = 0;
	if (libevtx_file_get_number_of_recovered_records(r->file, &n, &e) == 1 && n > 0 &&
	    !(r->rec_index = calloc((size_t)n, sizeof(int)))) {
		rc = -ENOMEM;
		goto out;
	}
	libevtx_error_free(&e);
	for (int j = 0; j < n; j++) {
		libevtx_record_t *rec = NULL;
		size_t size = 0;
		if (libevtx_file_get_recovered_record_by_index(r->file, j, &rec, &e) == 1 &&
		    libevtx_record_get_utf8_xml_string_size(rec, &size, &e) == 1 && size > 1)
			r->rec_index[r->recovered++] = j;
		libevtx_error_free(&e);
		if (rec)
			libevtx_record_free(&rec, NULL);
	}
	*out = r;
	return 0;
out:
	libevtx_error_free(&e);
	evtx_close(r);
	return rc;
}

void evtx_close(struct evtx_reader *r)
{
	if (!r)
		return;
	if (r->file) {
		libevtx_file_close(r->file, NULL);
		libevtx_file_free(&r->file, NULL);
	}
	free(r->rec_index);
	free(r->buf);
	free(r->path);
	free(r);
}

size_t evtx_count(struct evtx_reader *r)
{
	return r ? r->live + r->recovered : 0;
}

/* Record i could not be read: libevtx's reason into err; SIEM_EPARSE. */
static int record_error(libevtx_error_t **e, size_t i, char *err, size_t errlen)
{
	char m[256];
	evtx_errmsg(e, m, sizeof(m));
	if (err && errlen)
		snprintf(err, errlen, "record %zu: %s", i, *m ? m : "unreadable");
	return SIEM_EPARSE;
}

int evtx_read(struct evtx_reader *r, size_t i, struct event *ev, struct arena *a, char *err,
	      size_t errlen)
{
	libevtx_record_t *rec = NULL;
	libevtx_error_t *e = NULL;
	size_t size = 0;
	int rc = 0, got;
	bool recovered = i >= r->live;
	if (err && errlen)
		err[0] = '\0';
	memset(ev, 0, sizeof(*ev));
	if (i >= r->live + r->recovered) {
		if (err && errlen)
			snprintf(err, errlen, "record %zu of %zu does not exist", i,
				 r->live + r->recovered);
		return SIEM_ENOTFOUND;
	}
	if (recovered)
		got = libevtx_file_get_recovered_record_by_index(r->file, r->rec_index[i - r->live],
								 &rec, &e);
	else
		got = libevtx_file_get_record_by_index(r->file, (int)i, &rec, &e);
	if (got != 1 || libevtx_record_get_utf8_xml_string_size(rec, &size, &e) != 1) {
		rc = record_error(&e, i, err, errlen);
		goto out;
	}
	if (size == 0 || size > EVTX_MAX_XML) {
		if (err && errlen)
			snprintf(err, errlen, "record %zu: XML of %zu bytes", i, size);
		rc = SIEM_EPARSE;
		goto out;
	}
	if (size > r->cap) {
		char *b = realloc(r->buf, size);
		if (!b) {
			rc = -ENOMEM;
			goto out;
		}
		r->buf = b;
		r->cap = size;
	}
	if (libevtx_record_get_utf8_xml_string(rec, (uint8_t *)r->buf, size, &e) != 1) {
		rc = record_error(&e, i, err, errlen);
		goto out;
	}
	r->buf[size - 1] = '\0';
	if ((rc = winevent_from_xml(r->buf, strnlen(r->buf, size), ev, a, err, errlen)))
		goto out;
	ev->source = recovered ? (struct sv){"evtx-recovered", 14} : (struct sv){"evtx", 4};
	char *p = arena_strndup(a, r->path, strlen(r->path));
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	ev->source_file = (struct sv){p, strlen(p)};
	/* The record's index is its position (libevtx 20181227 reports every offset as 0). */
	ev->source_offset = (int64_t)i;
	ev->flags |= EV_HAS_OFFSET;
out:
	libevtx_error_free(&e);
	if (rec)
		libevtx_record_free(&rec, NULL);
	return rc;
}
