/* geoip.c — the country, city, location and autonomous system of a source address, from
 * MaxMind DB files (GeoIP2/GeoLite2 City, Country, ASN, ISP) read through libmaxminddb. */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <maxminddb.h>

#include "core/err.h"
#include "core/utf8.h"
#include "enrich/enrich_int.h"

struct geo_db {
	MMDB_s mmdb;
	enum geo_kind kind;
};

int geo_open(struct geo_db **out, const char *path, enum geo_kind kind, char *err, size_t errlen)
{
	*out = NULL;
	struct geo_db *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->kind = kind;
	int st = MMDB_open(path, MMDB_MODE_MMAP, &g->mmdb);
	if (st != MMDB_SUCCESS) {
		/* MMDB_open frees what it allocated when it fails. */
		int saved = errno;
		if (st == MMDB_FILE_OPEN_ERROR || st == MMDB_IO_ERROR)
			snprintf(err, errlen, "%s: %s", MMDB_strerror(st), siem_strerror(-saved));
		else
			snprintf(err, errlen, "%s", MMDB_strerror(st));
		free(g);
		return st == MMDB_OUT_OF_MEMORY_ERROR ? -ENOMEM : SIEM_EPARSE;
	}
	const char *type = g->mmdb.metadata.database_type;
	bool ok = kind == GEO_ANY ||
		  (type && (kind == GEO_LOCATION ? strstr(type, "City") || strstr(type, "Country")
						 : strstr(type, "ASN") || strstr(type, "ISP")));
	if (!ok) {
		snprintf(err, errlen, "database type '%s' is not %s", type ? type : "(none)",
			 kind == GEO_LOCATION ? "a City or Country database"
					      : "an ASN or ISP database");
		MMDB_close(&g->mmdb);
		free(g);
		return SIEM_EPARSE;
	}
	*out = g;
	return 0;
}

void geo_close(struct geo_db *g)
{
	if (!g)
		return;
	MMDB_close(&g->mmdb);
	free(g);
}

void geo_describe(const struct geo_db *g, char *buf, size_t cap)
{
	char day[16] = "?";
	struct tm tm;
	time_t t = (time_t)g->mmdb.metadata.build_epoch;
	if (g->mmdb.metadata.build_epoch <= (uint64_t)253402300799 && gmtime_r(&t, &tm))
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	const char *type = g->mmdb.metadata.database_type;
	snprintf(buf, cap, "%s, built %s", type ? type : "untyped", day);
}

/* Outcome of reading one value: present, absent, or the data is not what it must be. */
enum { V_ABSENT = 0, V_OK = 1, V_BAD = -1 };

/* libmaxminddb says "path does not match the data" for a key the record does not have
 * (a city without a name, an ASN record without a country): that is no error. */
static int value(MMDB_entry_s *e, const char *const *path, MMDB_entry_data_s *d)
{
	int st = MMDB_aget_value(e, d, path);
	if (st == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
		return V_ABSENT;
	if (st != MMDB_SUCCESS)
		return V_BAD;
	return d->has_data ? V_OK : V_ABSENT;
}

static int get(MMDB_entry_s *e, const char *const *path, uint32_t type, MMDB_entry_data_s *d)
{
	int v = value(e, path, d);
	if (v != V_OK)
		return v;
	return d->type == type ? V_OK : V_BAD;
}

/* A string value into the arena. The bytes live in the mapped file, which a reload unmaps,
 * and a damaged file can hold anything: only valid UTF-8 without NUL is taken. */
static int get_str(MMDB_entry_s *e, const char *const *path, struct arena *a, struct sv *dst,
		   unsigned *flags)
{
	MMDB_entry_data_s d;
	int v = get(e, path, MMDB_DATA_TYPE_UTF8_STRING, &d);
	if (v != V_OK)
		return v;
	const unsigned char *s = (const unsigned char *)d.utf8_string;
	size_t n = d.data_size;
	if (n == 0)
		return V_ABSENT;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq_len(s, i, n);
		if (!k || s[i] == 0)
			return V_BAD;
		i += k;
	}
	if (sv_capped(a, dst, d.utf8_string, n, EV_CAP_SHORT, EV_TRUNC_OTHER, flags) < 0)
		return V_BAD;
	return V_OK;
}

static int get_double(MMDB_entry_s *e, const char *const *path, double lim, double *out)
{
	MMDB_entry_data_s d;
	int v = get(e, path, MMDB_DATA_TYPE_DOUBLE, &d);
	if (v != V_OK)
		return v;
	if (!isfinite(d.double_value) || fabs(d.double_value) > lim)
		return V_BAD;
	*out = d.double_value;
	return V_OK;
}

static int get_uint(MMDB_entry_s *e, const char *const *path, int64_t *out)
{
	MMDB_entry_data_s d;
	int v = value(e, path, &d);
	if (v != V_OK)
		return v;
	switch (d.type) {
	case MMDB_DATA_TYPE_UINT16:
		*out = d.uint16;
		return V_OK;
	case MMDB_DATA_TYPE_UINT32:
		*out = d.uint32;
		return V_OK;
	case MMDB_DATA_TYPE_UINT64:
		if (d.uint64 > INT64_MAX)
			return V_BAD;
		*out = (int64_t)d.uint64;
		return V_OK;
	case MMDB_DATA_TYPE_INT32:
		if (d.int32 < 0)
			return V_BAD;
		*out = d.int32;
		return V_OK;
	default:
		return V_BAD;
	}
}

static const char *const P_ISO[] = {"country", "iso_code", NULL};
static const char *const P_NAME[] = {"country", "names", "en", NULL};
static const char *const P_REG_ISO[] = {"registered_country", "iso_code", NULL};
static const char *const P_REG_NAME[] = {"registered_country", "names", "en", NULL};
static const char *const P_CITY[] = {"city", "names", "en", NULL};
static const char *const P_LAT[] = {"location", "latitude", NULL};
static const char *const P_LON[] = {"location", "longitude", NULL};
static const char *const P_ASN[] = {"autonomous_system_number", NULL};
static const char *const P_ORG[] = {"autonomous_system_organization", NULL};

/* Returns whether anything was found; *bad counts values that could not be read. */
static bool fill_location(MMDB_entry_s *e, struct event *ev, struct arena *a, int *bad)
{
	bool any = false;
	int v = get_str(e, P_ISO, a, &ev->geo_country, &ev->flags);
	const char *const *name_path = P_NAME;
	if (v == V_ABSENT) {
		/* A Country record of an anycast or satellite network may only say where the
		 * network is registered. */
		v = get_str(e, P_REG_ISO, a, &ev->geo_country, &ev->flags);
		name_path = P_REG_NAME;
	}
	any |= v == V_OK;
	*bad += v == V_BAD;
	if (v == V_OK) {
		v = get_str(e, name_path, a, &ev->geo_country_name, &ev->flags);
		*bad += v == V_BAD;
	}
	v = get_str(e, P_CITY, a, &ev->geo_city, &ev->flags);
	any |= v == V_OK;
	*bad += v == V_BAD;

	double lat = 0, lon = 0;
	int vl = get_double(e, P_LAT, 90, &lat), vo = get_double(e, P_LON, 180, &lon);
	*bad += (vl == V_BAD) + (vo == V_BAD);
	if (vl == V_OK && vo == V_OK) {
		ev->geo_lat = lat;
		ev->geo_lon = lon;
		ev->flags |= EV_HAS_GEO_LOC;
		any = true;
	}
	return any;
}

static bool fill_asn(MMDB_entry_s *e, struct event *ev, struct arena *a, int *bad)
{
	bool any = false;
	int64_t asn = 0;
	int v = get_uint(e, P_ASN, &asn);
	*bad += v == V_BAD;
	if (v == V_OK) {
		ev->geo_asn = asn;
		ev->flags |= EV_HAS_ASN;
		any = true;
	}
	v = get_str(e, P_ORG, a, &ev->geo_as_org, &ev->flags);
	*bad += v == V_BAD;
	any |= v == V_OK;
	return any;
}

void geo_enrich(const struct geo_db *g, struct event *ev, struct arena *a, struct enrich_tally *t)
{
	int en = g->kind == GEO_ASN ? EN_ASN : EN_GEOIP;
	/* An IPv4 address goes in as IPv4: the library then walks the database's IPv4
	 * subtree, where an IPv4-mapped IPv6 address would find nothing. */
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} u;
	memset(&u, 0, sizeof(u));
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (!memcmp(ev->ip, mapped, sizeof(mapped))) {
		u.in4.sin_family = AF_INET;
		memcpy(&u.in4.sin_addr, ev->ip + 12, 4);
	} else {
		u.in6.sin6_family = AF_INET6;
		memcpy(&u.in6.sin6_addr, ev->ip, 16);
	}

	t->lookups[en]++;
	int st = MMDB_SUCCESS;
	MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&g->mmdb, &u.sa, &st);
	if (st == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
		return; /* an IPv4-only database knows nothing of this address */
	if (st != MMDB_SUCCESS) {
		t->errors[en]++;
		return;
	}
	if (!r.found_entry)
		return;
	int bad = 0;
	bool any = false;
	if (g->kind != GEO_ASN)
		any |= fill_location(&r.entry, ev, a, &bad);
	if (g->kind != GEO_LOCATION)
		any |= fill_asn(&r.entry, ev, a, &bad);
	t->hits[en] += any;
	t->errors[en] += bad > 0;
}
