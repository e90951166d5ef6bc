/* evtx.c — Windows event log files (.evtx) read with libevtx, each record's XML through the
 * Windows event mapping: the log's own records, then those libevtx recovers from slack space
 * that are not copies of a record already read. */
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
	size_t live, recovered, copies; /* copies: recovered records left out as such */
	int *rec_index;			/* recovered candidates libevtx can render, by its index */
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

/* A record's identity: its EventRecordID and the time it was written. */
struct rec_key {
	uint64_t id, written;
};

static int key_cmp(const void *a, const void *b)
{
	const struct rec_key *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->written < y->written ? -1 : x->written > y->written;
}

static bool record_key(libevtx_record_t *rec, struct rec_key *k)
{
	libevtx_error_t *e = NULL;
	bool ok = libevtx_record_get_identifier(rec, &k->id, &e) == 1 &&
		  libevtx_record_get_written_time(rec, &k->written, &e) == 1;
	libevtx_error_free(&e);
	return ok;
}

/* The keys of the n live records, sorted; NULL (and *nk 0) when none could be read. */
static struct rec_key *live_keys(libevtx_file_t *file, size_t n, size_t *nk)
{
	struct rec_key *k = n ? calloc(n, sizeof(*k)) : NULL;
	*nk = 0;
	for (size_t i = 0; k && i < n; i++) {
		libevtx_record_t *rec = NULL;
		libevtx_error_t *e = NULL;
		if (libevtx_file_get_record_by_index(file, (int)i, &rec, &e) == 1 &&
		    record_key(rec, &k[*nk]))
			(*nk)++;
		libevtx_error_free(&e);
		if (rec)
			libevtx_record_free(&rec, NULL);
	}
	if (k)
		qsort(k, *nk, sizeof(*k), key_cmp);
	return k;
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
	/* Slack space often holds older copies of live records (or two copies of one deleted
	 * record): a record whose EventRecordID and written time were already seen is left
	 * out, so that each record is sent once. */
	size_t nlive = 0, nseen = 0;
	struct rec_key *lk = n > 0 ? live_keys(r->file, r->live, &nlive) : NULL;
	struct rec_key *seen = n > 0 ? calloc((size_t)n, sizeof(*seen)) : NULL;
	if (n > 0 && (!seen || (r->live && !lk))) {
		free(lk);
		free(seen);
		rc = -ENOMEM;
		goto out;
	}
	for (int j = 0; j < n; j++) {
		libevtx_record_t *rec = NULL;
		size_t size = 0;
		struct rec_key k;
		if (libevtx_file_get_recovered_record_by_index(r->file, j, &rec, &e) == 1 &&
		    libevtx_record_get_utf8_xml_string_size(rec, &size, &e) == 1 && size > 1) {
			bool keyed = record_key(rec, &k), copy = false;
			if (keyed)
				copy = bsearch(&k, lk, nlive, sizeof(k), key_cmp) != NULL;
			for (size_t s = 0; keyed && !copy && s < nseen; s++)
				copy = !key_cmp(&k, &seen[s]);
			if (copy) {
				r->copies++;
			} else {
				r->rec_index[r->recovered++] = j;
				if (keyed)
					seen[nseen++] = k;
			}
		}
		libevtx_error_free(&e);
		if (rec)
			libevtx_record_free(&rec, NULL);
	}
	free(lk);
	free(seen);
	if (r->copies)
		log_info("evtx", "'%s': %zu recovered records are copies of others: left out", path,
			 r->copies);
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
