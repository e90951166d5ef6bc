/* tz.c — time zones for zone-less timestamps: fixed offsets and IANA zones read from the
 * system's TZif files (RFC 8536; the 64-bit data of version 2 and later), and the map from
 * senders to zones. Times after a file's last transition keep its last offset. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/tz.h"

#define US_PER_SEC 1000000LL
#define TZ_FILE_MAX (256 * 1024) /* the largest zone file of tzdata is under 4 KiB */
#define TZ_NAME_MAX 128
#define TZ_MAP_MAX 1024 /* entries of one map */

struct tz {
	char name[TZ_NAME_MAX];
	size_t n;	/* transitions */
	int64_t *at;	/* UTC seconds of each transition, ascending */
	int32_t *off;	/* the offset (seconds east of UTC) from at[i] on */
	int32_t before; /* the offset before the first transition (or always, when n is 0) */
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, const char *arg)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, arg);
	return rc;
}

/* "+HH:MM", "-HHMM", "+HH" as seconds east of UTC; false when s is not one. */
static bool fixed_offset(const char *s, int32_t *out)
{
	int sign = s[0] == '+' ? 1 : s[0] == '-' ? -1 : 0;
	size_t n = strlen(s);
	if (!sign || (n != 3 && n != 5 && n != 6))
		return false;
	const char *mm = n == 6 ? s + 4 : s + 3;
	if (n == 6 && s[3] != ':')
		return false;
	int h = (s[1] - '0') * 10 + (s[2] - '0'),
	    m = n == 3 ? 0 : (mm[0] - '0') * 10 + (mm[1] - '0');
	for (size_t i = 1; i < n; i++)
		if (!(i == 3 && n == 6) && (s[i] < '0' || s[i] > '9'))
			return false;
	if (h > 14 || m > 59)
		return false;
	*out = sign * (h * 3600 + m * 60);
	return true;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= TZ_NAME_MAX || s[0] == '/' || strstr(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '/' || c == '_' || c == '-' || c == '+'))
			return false;
	}
	return true;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* The counts of a TZif header at p (44 bytes), and the size of the data block after it
 * with times of tsize bytes. */
struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static size_t tzif_block(const unsigned char *p, struct tzif_counts *c, size_t tsize)
{
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 + c->chars +
	       (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

static int tzif_parse(struct tz *z, const unsigned char *b, size_t n)
{
	struct tzif_counts c;
	if (n < 44 || memcmp(b, "TZif", 4))
		return SIEM_EPARSE;
	size_t v1 = tzif_block(b, &c, 4), tsize = 4;
	const unsigned char *p = b + 44;
	if (b[4] >= '2') {
		/* Skip the 32-bit data: the second header and 64-bit times follow. */
		if (c.time > TZ_FILE_MAX || c.type > 256 || v1 > n - 44 || n - 44 - v1 < 44)
			return SIEM_EPARSE;
		p += v1;
		if (memcmp(p, "TZif", 4))
			return SIEM_EPARSE;
		tzif_block(p, &c, 8);
		p += 44;
		tsize = 8;
	}
	if (c.time > TZ_FILE_MAX || c.type == 0 || c.type > 256)
		return SIEM_EPARSE;
	size_t need = (size_t)c.time * (tsize + 1) + (size_t)c.type * 6;
	if ((size_t)(b + n - p) < need)
		return SIEM_EPARSE;
	const unsigned char *times = p, *idx = p + (size_t)c.time * tsize;
	const unsigned char *types = idx + c.time;
	if (c.time && (!(z->at = calloc(c.time, sizeof(*z->at))) ||
		       !(z->off = calloc(c.time, sizeof(*z->off)))))
		return -ENOMEM;
	for (uint32_t i = 0; i < c.time; i++) {
		if (idx[i] >= c.type)
			return SIEM_EPARSE;
		z->at[i] = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
		z->off[i] = (int32_t)be32(types + 6 * idx[i]);
		if (i && z->at[i] <= z->at[i - 1])
			return SIEM_EPARSE;
	}
	z->n = c.time;
	/* Before the first transition: the first standard-time type (RFC 8536 §3.2). */
	z->before = (int32_t)be32(types);
	for (uint32_t i = 0; i < c.type; i++) {
		if (!types[6 * i + 4]) {
			z->before = (int32_t)be32(types + 6 * i);
			break;
		}
	}
	return 0;
}

static int read_zone_file(const char *path, unsigned char **out, size_t *outn)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	unsigned char *b = malloc(TZ_FILE_MAX);
	size_t n = b ? fread(b, 1, TZ_FILE_MAX, f) : 0;
	fclose(f);
	if (!b)
		return -ENOMEM;
	if (n == 0 || n == TZ_FILE_MAX) {
		free(b);
		return SIEM_EPARSE;
	}
	*out = b;
	*outn = n;
	return 0;
}

int tz_load(const char *name, struct tz **out, char *err, size_t errlen)
{
	struct tz *z = calloc(1, sizeof(*z));
	unsigned char *buf = NULL;
	size_t n = 0;
	int rc = 0;
	*out = NULL;
	if (!z)
		return fail(err, errlen, -ENOMEM, "out of memory%s", "");
	snprintf(z->name, sizeof(z->name), "%s", name);
	if (!strcmp(name, "UTC") || !strcmp(name, "Z") || fixed_offset(name, &z->before))
		goto done;
	if (!strcmp(name, "localtime")) {
		/* This machine's zone; none configured is UTC. */
		if (read_zone_file("/etc/localtime", &buf, &n) < 0)
			goto done;
		if ((rc = tzif_parse(z, buf, n)) < 0)
			fail(err, errlen, rc, "'%s': not a TZif zone file", "/etc/localtime");
		goto done;
	}
	if (!name_ok(name)) {
		rc = fail(err, errlen, SIEM_EPARSE,
			  "'%s': not a zone name (Area/City, UTC or +HH:MM)", name);
		goto done;
	}
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	if ((rc = read_zone_file(path, &buf, &n)) < 0) {
		rc = fail(err, errlen, rc, "unknown time zone '%s'", name);
		goto done;
	}
	if ((rc = tzif_parse(z, buf, n)) < 0)
		fail(err, errlen, rc, "'%s': not a TZif zone file", path);
done:
	free(buf);
	if (rc < 0)
		tz_free(z);
	else
		*out = z;
	return rc;
}

void tz_free(struct tz *z)
{
	if (!z)
		return;
	free(z->at);
	free(z->off);
	free(z);
}

const char *tz_name(const struct tz *z)
{
	return z ? z->name : "UTC";
}

/* The offset in force at UTC second t. */
static int32_t offset_at(const struct tz *z, int64_t t)
{
	if (z->n == 0 || t < z->at[0])
		return z->before;
	size_t lo = 0, hi = z->n; /* at[lo] <= t < at[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->off[lo];
}

int64_t tz_local_to_utc(const struct tz *z, int64_t local_us)
{
	if (!z)
		return local_us;
	int64_t local = local_us / US_PER_SEC;
	/* The offset a day earlier is the one in force before a nearby transition; a second
	 * look settles which side of it the time falls on. */
	int32_t o1 = offset_at(z, local - 86400);
	int32_t o2 = offset_at(z, local - o1);
	if (o2 != o1 && offset_at(z, local - o2) != o2)
		o2 = o1; /* in the gap of a change forward: the offset before it */
	return local_us - (int64_t)o2 * US_PER_SEC;
}

/* ---- the map from senders to zones ---- */

struct tz_entry {
	char *host;	/* lower case; NULL for an address entry */
	uint8_t ip[16]; /* the address when host is NULL */
	struct tz *z;
};

struct tz_map {
	struct tz *dflt;
	struct tz_entry *e;
	size_t n;
};

void tz_map_free(struct tz_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].host);
		tz_free(m->e[i].z);
	}
	free(m->e);
	tz_free(m->dflt);
	free(m);
}

static char *lower_dup(const char *s, size_t n)
{
	char *c = malloc(n + 1);
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++)
		c[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
	c[n] = '\0';
	return c;
}

int tz_map_parse(const char *spec, struct tz_map **out, char *err, size_t errlen)
{
	struct tz_map *m = calloc(1, sizeof(*m));
	char *copy = spec ? strdup(spec) : NULL;
	int rc = 0;
	*out = NULL;
	if (!m || (spec && !copy)) {
		rc = fail(err, errlen, -ENOMEM, "out of memory%s", "");
		goto out;
	}
	char *save = NULL;
	bool has_dflt = false;
	for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; item;
	     item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ')
			item++;
		char *eq = strchr(item, '=');
		struct tz *z = NULL;
		if ((rc = tz_load(eq ? eq + 1 : item, &z, err, errlen)) < 0)
			goto out;
		if (!eq) {
			if (has_dflt) {
				tz_free(z);
				rc = fail(err, errlen, SIEM_EPARSE,
					  "two default zones (the second is '%s')", item);
				goto out;
			}
			if (z->n == 0 && z->before == 0)
				tz_free(z); /* UTC: nothing to convert */
			else
				m->dflt = z;
			has_dflt = true;
			continue;
		}
		if (m->n == TZ_MAP_MAX || eq == item) {
			tz_free(z);
			rc = fail(err, errlen, SIEM_EPARSE, "'%s': no sender, or too many", item);
			goto out;
		}
		if (!m->n && !(m->e = calloc(TZ_MAP_MAX, sizeof(*m->e)))) {
			tz_free(z);
			rc = fail(err, errlen, -ENOMEM, "out of memory%s", "");
			goto out;
		}
		struct tz_entry *t = &m->e[m->n++];
		t->z = z;
		if (ip_parse(item, (size_t)(eq - item), t->ip) &&
		    !(t->host = lower_dup(item, (size_t)(eq - item)))) {
			rc = fail(err, errlen, -ENOMEM, "out of memory%s", "");
			goto out;
		}
	}
out:
	free(copy);
	if (rc < 0)
		tz_map_free(m);
	else
		*out = m;
	return rc;
}

const struct tz *tz_map_find(const struct tz_map *m, const char *addr, struct sv host)
{
	if (!m)
		return NULL;
	uint8_t ip[16];
	bool have_ip = addr && m->n && !ip_parse(addr, strlen(addr), ip);
	for (size_t i = 0; have_ip && i < m->n; i++)
		if (!m->e[i].host && !memcmp(m->e[i].ip, ip, 16))
			return m->e[i].z;
	for (size_t i = 0; host.p && i < m->n; i++) {
		const char *h = m->e[i].host;
		if (!h || strlen(h) != host.n)
			continue;
		size_t k = 0;
		while (k < host.n && (host.p[k] >= 'A' && host.p[k] <= 'Z' ? host.p[k] - 'A' + 'a'
									   : host.p[k]) == h[k])
			k++;
		if (k == host.n)
			return m->e[i].z;
	}
	return m->dflt;
}
