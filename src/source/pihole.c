/* pihole.c — Pi-hole's FTL long-term database (v5 and v6 schemas), read-only: each query after
 * a remembered id becomes an event, blocked ones DNS_BLOCK, the others DNS_QUERY on request. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/err.h"
#include "core/log.h"
#include "core/utf8.h"
#include "source/pihole.h"

#define PIHOLE_DEFAULT_DB "/etc/pihole/pihole-FTL.db"
#define PIHOLE_BUSY_MS 250 /* how long one read waits for FTL's write lock */

/* Columns read from the `queries` table (v5 before database version 10) or view (later).
 * Only the first six are required; a missing one reads as NULL. */
enum col {
	Q_ID,
	Q_TIMESTAMP,
	Q_TYPE,
	Q_STATUS,
	Q_DOMAIN,
	Q_CLIENT,
	Q_FORWARD,
	Q_ADDINFO,
	Q_REPLY_TYPE,
	Q_REPLY_TIME,
	Q_DNSSEC,
	Q_LIST_ID,
	Q_EDE,
	Q_NCOLS,
	Q_REQUIRED = Q_FORWARD,
};

static const char *const col_names[Q_NCOLS] = {
    "id",      "timestamp",	  "type",	"status",     "domain", "client",
    "forward", "additional_info", "reply_type", "reply_time", "dnssec", "list_id",
    "ede",
};

/* FTL's src/enums.h (v6 names; v5 said BLACKLIST for 5 and 11, and had no 18). */
static const char *const status_names[] = {
    "UNKNOWN",
    "GRAVITY",
    "FORWARDED",
    "CACHE",
    "REGEX",
    "DENYLIST",
    "EXTERNAL_BLOCKED_IP",
    "EXTERNAL_BLOCKED_NULL",
    "EXTERNAL_BLOCKED_NXRA",
    "GRAVITY_CNAME",
    "REGEX_CNAME",
    "DENYLIST_CNAME",
    "RETRIED",
    "RETRIED_DNSSEC",
    "IN_PROGRESS",
    "DBBUSY",
    "SPECIAL_DOMAIN",
    "CACHE_STALE",
    "EXTERNAL_BLOCKED_EDE15",
};

static const char *const type_names[] = {
    NULL, "A",	"AAAA",	 "ANY",	   "SRV", "SOA",   "PTR",  "TXT",   "NAPTR",
    "MX", "DS", "RRSIG", "DNSKEY", "NS",  "OTHER", "SVCB", "HTTPS",
};

/* RR types FTL stores as 100 + type (TYPE_OTHER) that have a name worth showing. */
static const struct {
	int type;
	const char *name;
} other_types[] = {
    {5, "CNAME"},   {10, "NULL"}, {13, "HINFO"},   {29, "LOC"},	       {35, "NAPTR"},
    {39, "DNAME"},  {43, "DS"},	  {44, "SSHFP"},   {48, "DNSKEY"},     {52, "TLSA"},
    {53, "SMIMEA"}, {59, "CDS"},  {60, "CDNSKEY"}, {61, "OPENPGPKEY"}, {99, "SPF"},
    {252, "AXFR"},  {255, "ANY"}, {256, "URI"},	   {257, "CAA"},
};

static const char *const reply_names[] = {
    "UNKNOWN",	"NODATA",  "NXDOMAIN", "CNAME", "IP",	  "DOMAIN", "RRNAME",
    "SERVFAIL", "REFUSED", "NOTIMP",   "OTHER", "DNSSEC", "NONE",   "BLOB",
};

static const char *const dnssec_names[] = {
    "UNKNOWN", "SECURE", "INSECURE", "BOGUS", "ABANDONED", "TRUNCATED",
};

#define NAME_OF(tab, i) ((i) >= 0 && (size_t)(i) < sizeof(tab) / sizeof((tab)[0]) ? (tab)[i] : NULL)

struct pihole_reader {
	sqlite3 *db;
	sqlite3_stmt *q;    /* the batch, prepared on first use */
	sqlite3_stmt *name; /* client name by ip (v6 client_by_id), or NULL */
	bool all;
	char *host, *path;
};

/* FTL's is_blocked() (src/datastructure.c): 1 4 5 6 7 8 9 10 11 15 16 18. DBBUSY (15) and
 * SPECIAL_DOMAIN (16) count although no list matched: FTL answered in place of upstream. */
#define BLOCKED_STATUSES                                                                  \
	(1u << 1 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 7 | 1u << 8 | 1u << 9 | 1u << 10 | \
	 1u << 11 | 1u << 15 | 1u << 16 | 1u << 18)

bool pihole_status_blocked(int status)
{
	return status >= 0 && status < 32 && (BLOCKED_STATUSES >> status & 1u);
}

/* The row's status column (an int64 in a database that could hold anything). */
static bool row_blocked(sqlite3_stmt *q)
{
	int64_t s = sqlite3_column_int64(q, Q_STATUS);
	return s >= 0 && s <= 255 && pihole_status_blocked((int)s);
}

int pihole_open(struct pihole_reader **out, const struct pihole_config *cfg)
{
	struct pihole_reader *r = NULL;
	const char *path = cfg && cfg->db_path ? cfg->db_path : PIHOLE_DEFAULT_DB;
	char host[256];
	struct stat st;
	int rc = 0;
	*out = NULL;
	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (cfg && cfg->host && *cfg->host) {
		snprintf(host, sizeof(host), "%s", cfg->host);
	} else if (gethostname(host, sizeof(host))) {
		snprintf(host, sizeof(host), "localhost");
	}
	host[sizeof(host) - 1] = '\0';
	if (!(r = calloc(1, sizeof(*r))) || !(r->host = strdup(host)) ||
	    !(r->path = strdup(path))) {
		rc = -ENOMEM;
		goto out;
	}
	r->all = cfg && cfg->all_queries;
	/* Nothing is read yet: a database FTL holds locked opens fine and reads -EBUSY. */
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		log_warn("pihole", "cannot open '%s': %s", path,
			 r->db ? sqlite3_errmsg(r->db) : "out of memory");
		rc = r->db ? SIEM_ESQL : -ENOMEM;
		goto out;
	}
	sqlite3_busy_timeout(r->db, PIHOLE_BUSY_MS);
	*out = r;
	return 0;
out:
	pihole_close(r);
	return rc;
}

static void finalize(struct pihole_reader *r)
{
	sqlite3_finalize(r->q);
	sqlite3_finalize(r->name);
	r->q = r->name = NULL;
}

void pihole_close(struct pihole_reader *r)
{
	if (!r)
		return;
	finalize(r);
	sqlite3_close(r->db);
	free(r->host);
	free(r->path);
	free(r);
}

/* An sqlite result as ours: a lock held by FTL is -EBUSY, anything else SIEM_ESQL. */
static int sql_err(struct pihole_reader *r, int src, const char *what)
{
	if (src == SQLITE_BUSY || src == SQLITE_LOCKED || (src & 0xff) == SQLITE_BUSY ||
	    (src & 0xff) == SQLITE_LOCKED)
		return -EBUSY;
	if (src == SQLITE_NOMEM)
		return -ENOMEM;
	log_warn("pihole", "%s '%s': %s", what, r->path, sqlite3_errmsg(r->db));
	return SIEM_ESQL;
}

/* Which columns this database's `queries` has decides the SELECT. */
static int prepare(struct pihole_reader *r)
{
	sqlite3_stmt *st = NULL;
	bool have[Q_NCOLS] = {false};
	char sql[1024];
	int rc = 0, s;
	size_t o;

	if ((s = sqlite3_prepare_v2(r->db, "SELECT name FROM pragma_table_info('queries')", -1, &st,
				    NULL)) != SQLITE_OK) {
		rc = sql_err(r, s, "cannot read the schema of");
		goto out;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		for (int i = 0; n && i < Q_NCOLS; i++)
			if (!strcmp(n, col_names[i]))
				have[i] = true;
	}
	if (s != SQLITE_DONE) {
		rc = sql_err(r, s, "cannot read the schema of");
		goto out;
	}
	for (int i = 0; i < Q_REQUIRED; i++)
		if (!have[i]) {
			log_warn("pihole",
				 "'%s' is not a Pi-hole FTL database (queries.%s missing)", r->path,
				 col_names[i]);
			rc = SIEM_ESQL;
			goto out;
		}
	o = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	for (int i = 0; i < Q_NCOLS; i++)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s%s", i ? ", " : "",
				      have[i] ? col_names[i] : "NULL");
	snprintf(sql + o, sizeof(sql) - o, " FROM queries WHERE id > ?1 ORDER BY id LIMIT ?2");
	if ((s = sqlite3_prepare_v2(r->db, sql, -1, &r->q, NULL)) != SQLITE_OK) {
		rc = sql_err(r, s, "cannot query");
		goto out;
	}
	/* Client names live in client_by_id (database version 10 on); not an error without. */
	sqlite3_prepare_v2(r->db,
			   "SELECT name FROM client_by_id WHERE ip = ?1 AND name <> '' "
			   "ORDER BY id DESC LIMIT 1",
			   -1, &r->name, NULL);
out:
	sqlite3_finalize(st);
	if (rc)
		finalize(r);
	return rc;
}

/* ---- one row ---- */

/* Text with invalid UTF-8 bytes replaced by U+FFFD (jansson takes only valid text). */
static char *utf8_clean(struct arena *a, const unsigned char *s, size_t n, size_t *outn)
{
	char *o = arena_alloc(a, 3 * n + 1);
	if (o)
		*outn = utf8_copy_repair(o, s, n, true);
	return o;
}

/* A text column, valid UTF-8, at most EV_CAP_SHORT bytes; NULL for SQL NULL. */
static const char *col_text(sqlite3_stmt *q, int c, struct arena *a, size_t *n, unsigned *flags,
			    int *rc)
{
	if (sqlite3_column_type(q, c) == SQLITE_NULL)
		return NULL;
	const unsigned char *t = sqlite3_column_text(q, c);
	size_t len = (size_t)sqlite3_column_bytes(q, c);
	if (!t) {
		*rc = -ENOMEM;
		return NULL;
	}
	char *s = utf8_clean(a, t, len, n);
	if (!s) {
		*rc = -ENOMEM;
		return NULL;
	}
	size_t k = utf8_cut(s, *n, EV_CAP_SHORT);
	if (k < *n) {
		*flags |= EV_TRUNC_OTHER;
		s[k] = '\0';
		*n = k;
	}
	return s;
}

static bool col_int(sqlite3_stmt *q, int c, int64_t *v)
{
	int t = sqlite3_column_type(q, c);
	if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
		*v = sqlite3_column_int64(q, c);
		return true;
	}
	return false;
}

static int set_str(json_t *o, const char *k, const char *v, size_t n)
{
	json_t *s = json_stringn(v, n);
	return !s || json_object_set_new(o, k, s) ? -ENOMEM : 0;
}

static int set_int(json_t *o, const char *k, int64_t v)
{
	json_t *s = json_integer((json_int_t)v);
	return !s || json_object_set_new(o, k, s) ? -ENOMEM : 0;
}

static int dump(json_t *o, struct arena *a, struct sv *out)
{
	/* 16 digits: microseconds of a timestamp, without 0.00028000000000000003 */
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(16));
	if (!s)
		return -ENOMEM;
	size_t n = strlen(s);
	char *c = arena_strndup(a, s, n);
	free(s);
	if (!c)
		return -ENOMEM;
	*out = (struct sv){c, n};
	return 0;
}

static const char *type_name(int64_t t, char buf[16])
{
	const char *n = NAME_OF(type_names, t);
	if (n)
		return n;
	if (t > 100 && t <= 100 + 65535) {
		for (size_t i = 0; i < sizeof(other_types) / sizeof(other_types[0]); i++)
			if (other_types[i].type == t - 100)
				return other_types[i].name;
		snprintf(buf, 16, "TYPE%d", (int)(t - 100));
		return buf;
	}
	return "UNKNOWN";
}

static int row_event(struct pihole_reader *r, sqlite3_stmt *q, struct event *ev, struct arena *a)
{
	json_t *d = json_object(), *raw = json_object();
	int rc = 0;
	int64_t id = sqlite3_column_int64(q, Q_ID), v;
	int64_t status = sqlite3_column_int64(q, Q_STATUS), type = sqlite3_column_int64(q, Q_TYPE);
	bool blocked = row_blocked(q);
	size_t dn = 0, cn = 0, fn = 0, an = 0, nn = 0;
	char tbuf[16];

	memset(ev, 0, sizeof(*ev));
	if (!d || !raw) {
		rc = -ENOMEM;
		goto out;
	}
	const char *domain = col_text(q, Q_DOMAIN, a, &dn, &ev->flags, &rc);
	const char *client = col_text(q, Q_CLIENT, a, &cn, &ev->flags, &rc);
	const char *forward = col_text(q, Q_FORWARD, a, &fn, &ev->flags, &rc);
	const char *addinfo = NULL;
	if (sqlite3_column_type(q, Q_ADDINFO) == SQLITE_TEXT)
		addinfo = col_text(q, Q_ADDINFO, a, &an, &ev->flags, &rc);
	if (rc)
		goto out;
	if (!domain)
		domain = "";
	if (!client)
		client = "";

	/* The row as FTL stored it (values resolved through the view). */
	for (int c = 0; c < Q_NCOLS; c++) {
		json_t *x = NULL;
		size_t tn;
		const char *t;
		switch (sqlite3_column_type(q, c)) {
		case SQLITE_INTEGER:
			x = json_integer(sqlite3_column_int64(q, c));
			break;
		case SQLITE_FLOAT:
			x = json_real(sqlite3_column_double(q, c));
			break;
		case SQLITE_NULL:
			continue;
		default:
			if (!(t = col_text(q, c, a, &tn, &ev->flags, &rc)))
				goto out;
			x = json_stringn(t, tn);
			break;
		}
		if (!x || json_object_set_new(raw, col_names[c], x)) {
			rc = -ENOMEM;
			goto out;
		}
	}

	const char *sname = NAME_OF(status_names, status);
	if (!sname)
		sname = "UNKNOWN";
	const char *tname = type_name(type, tbuf);
	rc = set_int(d, "id", id) || set_str(d, "domain", domain, dn) ||
	     set_str(d, "query", domain, dn) || set_str(d, "type", tname, strlen(tname)) ||
	     set_str(d, "record_type", tname, strlen(tname)) ||
	     set_str(d, "status", sname, strlen(sname)) || set_int(d, "status_code", status) ||
	     json_object_set_new(d, "blocked", json_boolean(blocked)) ||
	     set_str(d, "client", client, cn);
	if (rc)
		goto rc_nomem;

	const char *cname_of_client = NULL;
	if (r->name && *client) {
		sqlite3_bind_text(r->name, 1, client, (int)cn, SQLITE_STATIC);
		if (sqlite3_step(r->name) == SQLITE_ROW)
			cname_of_client = col_text(r->name, 0, a, &nn, &ev->flags, &rc);
		sqlite3_reset(r->name);
		if (rc)
			goto out;
		if (cname_of_client && set_str(d, "client_name", cname_of_client, nn))
			goto rc_nomem;
	}
	if (forward && set_str(d, "forward", forward, fn))
		goto rc_nomem;
	if (col_int(q, Q_REPLY_TYPE, &v) && v > 0) {
		const char *rn = NAME_OF(reply_names, v);
		if (rn && set_str(d, "reply", rn, strlen(rn)))
			goto rc_nomem;
	}
	if (sqlite3_column_type(q, Q_REPLY_TIME) != SQLITE_NULL) {
		json_t *x = json_real(sqlite3_column_double(q, Q_REPLY_TIME));
		if (!x || json_object_set_new(d, "reply_time", x))
			goto rc_nomem;
	}
	if (col_int(q, Q_DNSSEC, &v) && v > 0) {
		const char *sn = NAME_OF(dnssec_names, v);
		if (sn && set_str(d, "dnssec", sn, strlen(sn)))
			goto rc_nomem;
	}
	/* additional_info: a CNAME (text) or a list id (integer: v5 kept the regex id there) */
	if (addinfo) {
		if (set_str(d, "cname", addinfo, an) || set_str(d, "answer", addinfo, an))
			goto rc_nomem;
	}
	if (col_int(q, Q_LIST_ID, &v) || col_int(q, Q_ADDINFO, &v)) {
		if (set_int(d, "list_id", v))
			goto rc_nomem;
	}
	if (col_int(q, Q_EDE, &v) && v != -1 && set_int(d, "ede", v))
		goto rc_nomem;

	/* The event; its id survives a re-read after a crash. */
	char nm[320];
	int ln = snprintf(nm, sizeof(nm), "pihole:%s:%" PRId64, r->host, id);
	uuid_v5(nm, ln < (int)sizeof(nm) ? (size_t)ln : sizeof(nm) - 1, ev->id);

	double ts = sqlite3_column_double(q, Q_TIMESTAMP);
	if (sqlite3_column_type(q, Q_TIMESTAMP) == SQLITE_INTEGER) {
		int64_t s = sqlite3_column_int64(q, Q_TIMESTAMP);
		if (s < 0 || s > 253402300799LL || ts_from_number((double)s, &ev->ts))
			ev->flags |= EV_TS_MISSING;
	} else if (sqlite3_column_type(q, Q_TIMESTAMP) != SQLITE_FLOAT ||
		   ts_from_number(ts, &ev->ts)) {
		ev->flags |= EV_TS_MISSING;
	}
	if (ev->flags & EV_TS_MISSING)
		ev->ts = ts_now_us();

	ev->os_type = (struct sv){"PIHOLE", 6};
	ev->app = (struct sv){"pihole-FTL", 10};
	ev->event_type = blocked ? (struct sv){"DNS_BLOCK", 9} : (struct sv){"DNS_QUERY", 9};
	ev->severity = blocked ? 2 : 1;
	ev->source = (struct sv){"pihole", 6};
	ev->source_offset = id;
	ev->flags |= EV_HAS_OFFSET;
	char *h = arena_strndup(a, r->host, strlen(r->host));
	char *p = arena_strndup(a, r->path, strlen(r->path));
	if (!h || !p) {
		rc = -ENOMEM;
		goto out;
	}
	ev->source_host = (struct sv){h, strlen(h)};
	ev->source_file = (struct sv){p, strlen(p)};
	if (*client && ip_parse(client, cn, ev->ip) == 0) {
		char canon[46];
		size_t l = ip_format(ev->ip, canon);
		char *c = arena_strndup(a, canon, l);
		if (!c) {
			rc = -ENOMEM;
			goto out;
		}
		ev->source_ip = (struct sv){c, l};
		ev->flags |= EV_HAS_IP;
	}

	/* "blocked doubleclick.net for 192.168.1.20 (gravity)" */
	char lower[32];
	size_t sl = strlen(sname);
	for (size_t i = 0; i <= sl && i < sizeof(lower); i++)
		lower[i] =
		    (char)(sname[i] >= 'A' && sname[i] <= 'Z' ? sname[i] - 'A' + 'a' : sname[i]);
	lower[sizeof(lower) - 1] = '\0';
	size_t mcap = dn + cn + 64;
	char *m = arena_alloc(a, mcap);
	if (!m) {
		rc = -ENOMEM;
		goto out;
	}
	int ml = snprintf(m, mcap, "%s %s for %s (%s)", blocked ? "blocked" : "query", domain,
			  *client ? client : "unknown client", lower);
	ev->message = (struct sv){m, (size_t)ml < mcap ? (size_t)ml : mcap - 1};

	if (!(rc = dump(d, a, &ev->data)))
		rc = dump(raw, a, &ev->raw_message);
	goto out;
rc_nomem:
	rc = -ENOMEM;
out:
	json_decref(d);
	json_decref(raw);
	return rc;
}

int pihole_read(struct pihole_reader *r, int64_t after_id, size_t max, struct event *ev, size_t *n,
		struct arena *a, int64_t *last_id)
{
	int64_t last = after_id;
	size_t k = 0;
	int rc = 0, s;
	*n = 0;
	*last_id = after_id;
	if (max == 0)
		return 0;
	if (!r->q && (rc = prepare(r)))
		return rc;
	sqlite3_bind_int64(r->q, 1, after_id);
	sqlite3_bind_int64(r->q, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	while ((s = sqlite3_step(r->q)) == SQLITE_ROW) {
		last = sqlite3_column_int64(r->q, Q_ID);
		if (!r->all && !row_blocked(r->q))
			continue;
		if ((rc = row_event(r, r->q, &ev[k], a)))
			goto fail;
		k++;
	}
	if (s != SQLITE_DONE) {
		rc = sql_err(r, s, "cannot read");
		goto fail;
	}
	sqlite3_reset(r->q);
	*n = k;
	*last_id = last;
	return 0;
fail:
	/* Nothing half-read is handed over: the caller asks again from the same id. */
	sqlite3_reset(r->q);
	if (rc == SIEM_ESQL)
		finalize(r); /* the schema may have changed under us: look again next time */
	return rc;
}
