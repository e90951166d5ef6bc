/* intel.c — threat-intelligence lists (plain indicator lists and CSV feeds in one directory)
 * loaded into immutable lookup tables: sorted disjoint IPv4 and IPv6 intervals and a domain
 * hash table, each pointing at an interned set of tags ("intel:<list>"). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csv.h>
#include <jansson.h>

#include "core/err.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/log.h"
#include "enrich/intel_int.h"

/* Room for need elements of elem bytes in the array whose pointer is at pp (any object
 * pointer type: read and written through memcpy, which POSIX's one pointer representation
 * allows without breaking the aliasing rules) with capacity *cap. */
static int vec_grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need) {
		if (c > SIZE_MAX / 2 / elem)
			return -ENOMEM;
		c *= 2;
	}
	void *p;
	memcpy(&p, pp, sizeof(p));
	void *q = realloc(p, c * elem);
	if (!q)
		return -ENOMEM;
	memcpy(pp, &q, sizeof(q));
	*cap = c;
	return 0;
}

/* Give back the room past n elements (the tables stay as loaded until the next reload). */
static void vec_shrink(void *pp, size_t *cap, size_t n, size_t elem)
{
	void *p;
	memcpy(&p, pp, sizeof(p));
	if (n == 0 || n == *cap || !p)
		return;
	void *q = realloc(p, n * elem);
	if (!q)
		return;
	memcpy(pp, &q, sizeof(q));
	*cap = n;
}

#define VEC_PUSH(v, x)                                                       \
	(vec_grow(&(v).p, &(v).cap, (v).n + 1, sizeof(*(v).p)) < 0 ? -ENOMEM \
								   : ((v).p[(v).n++] = (x), 0))

/* ---- tags and tag sets ---- */

static int tag_table_grow(struct intel *in)
{
	size_t cap = in->tag_slot_cap ? in->tag_slot_cap * 2 : 64;
	uint32_t *s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t id = 0; id < in->tag.n; id++) {
		size_t i = hash_bytes(in->tag.p[id], strlen(in->tag.p[id])) & (cap - 1);
		while (s[i])
			i = (i + 1) & (cap - 1);
		s[i] = (uint32_t)id + 1;
	}
	free(in->tag_slot);
	in->tag_slot = s;
	in->tag_slot_cap = cap;
	return 0;
}

/* The id of tag text p[0..n), added when new. */
static int tag_intern(struct intel *in, const char *p, size_t n, uint32_t *id)
{
	if ((in->tag.n + 1) * 2 > in->tag_slot_cap && tag_table_grow(in) < 0)
		return -ENOMEM;
	size_t mask = in->tag_slot_cap - 1, i = hash_bytes(p, n) & mask;
	for (; in->tag_slot[i]; i = (i + 1) & mask) {
		const char *t = in->tag.p[in->tag_slot[i] - 1];
		if (strlen(t) == n && !memcmp(t, p, n)) {
			*id = in->tag_slot[i] - 1;
			return 0;
		}
	}
	char *c = malloc(n + 1);
	if (!c)
		return -ENOMEM;
	memcpy(c, p, n);
	c[n] = '\0';
	if (VEC_PUSH(in->tag, c) < 0) {
		free(c);
		return -ENOMEM;
	}
	*id = (uint32_t)in->tag.n - 1;
	in->tag_slot[i] = *id + 1;
	return 0;
}

static uint64_t set_hash(const uint32_t *t, size_t n)
{
	return hash_bytes(t, n * sizeof(*t));
}

static int set_table_grow(struct intel *in)
{
	size_t cap = in->set_slot_cap ? in->set_slot_cap * 2 : 64;
	uint32_t *s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t id = 0; id < in->set_off.n; id++) {
		size_t i =
		    set_hash(in->set_tags.p + in->set_off.p[id], in->set_len.p[id]) & (cap - 1);
		while (s[i])
			i = (i + 1) & (cap - 1);
		s[i] = (uint32_t)id + 1;
	}
	free(in->set_slot);
	in->set_slot = s;
	in->set_slot_cap = cap;
	return 0;
}

/* The id of the set of tags t[0..n) (sorted, distinct), added when new. */
static int set_intern(struct intel *in, const uint32_t *t, size_t n, uint32_t *id)
{
	if ((in->set_off.n + 1) * 2 > in->set_slot_cap && set_table_grow(in) < 0)
		return -ENOMEM;
	size_t mask = in->set_slot_cap - 1, i = set_hash(t, n) & mask;
	for (; in->set_slot[i]; i = (i + 1) & mask) {
		uint32_t s = in->set_slot[i] - 1;
		if (in->set_len.p[s] == n &&
		    !memcmp(in->set_tags.p + in->set_off.p[s], t, n * sizeof(*t))) {
			*id = s;
			return 0;
		}
	}
	if (in->set_tags.n > UINT32_MAX - n ||
	    vec_grow(&in->set_tags.p, &in->set_tags.cap, in->set_tags.n + n, sizeof(uint32_t)) < 0)
		return -ENOMEM;
	uint32_t off = (uint32_t)in->set_tags.n;
	if (VEC_PUSH(in->set_off, off) < 0 || VEC_PUSH(in->set_len, (uint32_t)n) < 0)
		return -ENOMEM;
	memcpy(in->set_tags.p + off, t, n * sizeof(*t));
	in->set_tags.n += n;
	*id = (uint32_t)in->set_off.n - 1;
	in->set_slot[i] = *id + 1;
	return 0;
}

/* The set of set's tags and tag (set may be NO_SET: the empty set). */
static int set_add(struct intel *in, uint32_t set, uint32_t tag, uint32_t *out)
{
	uint32_t buf[SET_MAX];
	size_t n = 0;
	if (set != NO_SET) {
		const uint32_t *t = in->set_tags.p + in->set_off.p[set];
		size_t len = in->set_len.p[set];
		size_t k = 0;
		while (k < len && t[k] < tag)
			buf[n++] = t[k++];
		if (k < len && t[k] == tag) {
			*out = set;
			return 0;
		}
		if (len >= SET_MAX) {
			*out = set;
			return 0;
		}
		buf[n++] = tag;
		while (k < len)
			buf[n++] = t[k++];
	} else {
		buf[n++] = tag;
	}
	return set_intern(in, buf, n, out);
}

/* ---- indicators ---- */

static struct u128 u128_inc(struct u128 a)
{
	a.l++;
	if (a.l == 0)
		a.h++;
	return a;
}

static struct u128 u128_dec(struct u128 a)
{
	if (a.l == 0)
		a.h--;
	a.l--;
	return a;
}

static bool u128_is_max(struct u128 a)
{
	return a.h == UINT64_MAX && a.l == UINT64_MAX;
}

/* ::ffff:0.0.0.0 and ::ffff:255.255.255.255 */
static const struct u128 MAPPED_LO = {0, 0xffff00000000ULL}, MAPPED_HI = {0, 0xffffffffffffULL};

static int add_range6(struct intel *in, struct u128 lo, struct u128 hi, uint32_t tag)
{
	struct item6 it = {lo, hi, tag};
	return VEC_PUSH(in->it6, it);
}

/* An address range lo..hi (16-byte form) with one tag. The part inside ::ffff:0:0/96 goes
 * to the IPv4 table, so ::ffff:1.2.3.4 and 1.2.3.4 are one address (and ::/0 covers IPv4). */
static int add_range(struct intel *in, const uint8_t lo[16], const uint8_t hi[16], uint32_t tag)
{
	struct u128 l = u128_of(lo), h = u128_of(hi);
	int rc;
	if (u128_cmp(h, MAPPED_LO) >= 0 && u128_cmp(l, MAPPED_HI) <= 0) {
		struct u128 a = u128_cmp(l, MAPPED_LO) > 0 ? l : MAPPED_LO;
		struct u128 b = u128_cmp(h, MAPPED_HI) < 0 ? h : MAPPED_HI;
		struct item4 it = {(uint32_t)a.l, (uint32_t)b.l, tag};
		if ((rc = VEC_PUSH(in->it4, it)) < 0)
			return rc;
	}
	if (u128_cmp(l, MAPPED_LO) < 0) {
		struct u128 b = u128_cmp(h, MAPPED_LO) < 0 ? h : u128_dec(MAPPED_LO);
		if ((rc = add_range6(in, l, b, tag)) < 0)
			return rc;
	}
	if (u128_cmp(h, MAPPED_HI) > 0) {
		struct u128 a = u128_cmp(l, MAPPED_HI) > 0 ? l : u128_inc(MAPPED_HI);
		if ((rc = add_range6(in, a, h, tag)) < 0)
			return rc;
	}
	return 0;
}

static bool label_ch(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* A host name, lower-cased into out (room for 254 bytes): labels of [a-z0-9-_] of 1..63
 * bytes, at most 253 in all, a trailing dot dropped. dots_min: how many dots it needs. A
 * last label of digits only is refused (that is a mistyped address, not a name). */
size_t intel_norm_host(const char *p, size_t n, char out[254], int dots_min)
{
	if (n > 0 && p[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 0;
	int dots = 0;
	size_t label = 0;
	bool digits = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		out[i] = (char)c;
		if (c == '.') {
			if (label == 0)
				return 0;
			dots++;
			label = 0;
			digits = true;
			continue;
		}
		if (!label_ch(c) || ++label > 63)
			return 0;
		digits &= c >= '0' && c <= '9';
	}
	if (label == 0 || dots < dots_min || digits)
		return 0;
	out[n] = '\0';
	return n;
}

size_t intel_dom_find(const struct intel *in, const char *p, size_t n, uint64_t h)
{
	size_t mask = in->dom_cap - 1, i = h & mask;
	for (; in->dom[i].set; i = (i + 1) & mask) {
		const struct dslot *s = &in->dom[i];
		if (s->h == h && !memcmp(in->names.p + s->off, p, n) &&
		    in->names.p[s->off + n] == 0)
			return i;
	}
	return i;
}

static int dom_grow(struct intel *in)
{
	size_t cap = in->dom_cap ? in->dom_cap * 2 : 1024;
	struct dslot *d = calloc(cap, sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (size_t k = 0; k < in->dom_cap; k++) {
		if (!in->dom[k].set)
			continue;
		size_t i = in->dom[k].h & (cap - 1);
		while (d[i].set)
			i = (i + 1) & (cap - 1);
		d[i] = in->dom[k];
	}
	free(in->dom);
	in->dom = d;
	in->dom_cap = cap;
	return 0;
}

static int add_domain(struct intel *in, const char *p, size_t n, uint32_t tag)
{
	int rc;
	if ((in->dom_n + 1) * 2 > in->dom_cap && (rc = dom_grow(in)) < 0)
		return rc;
	uint64_t h = hash_bytes(p, n);
	size_t i = intel_dom_find(in, p, n, h);
	struct dslot *s = &in->dom[i];
	uint32_t set;
	if (s->set) {
		if ((rc = set_add(in, s->set - 1, tag, &set)) < 0)
			return rc;
		s->set = set + 1;
		return 0;
	}
	if (in->names.n + n + 1 > UINT32_MAX)
		return -ENOMEM;
	if ((rc = vec_grow(&in->names.p, &in->names.cap, in->names.n + n + 1, 1)) < 0 ||
	    (rc = set_add(in, NO_SET, tag, &set)) < 0)
		return rc;
	s->h = h;
	s->off = (uint32_t)in->names.n;
	s->set = set + 1;
	memcpy(in->names.p + in->names.n, p, n);
	in->names.p[in->names.n + n] = '\0';
	in->names.n += n + 1;
	in->dom_n++;
	return 0;
}

/* One indicator (an address, a network or a domain) with one or two tags: 0, SIEM_EPARSE
 * when it is none of those, or -ENOMEM. */
static int add_indicator(struct intel *in, const char *p, size_t n, uint32_t tag1, uint32_t tag2)
{
	int rc = 0;
	bool ipish = memchr(p, ':', n) || memchr(p, '/', n);
	if (!ipish) {
		ipish = true;
		for (size_t i = 0; i < n && ipish; i++)
			ipish = (p[i] >= '0' && p[i] <= '9') || p[i] == '.';
	}
	if (ipish) {
		uint8_t lo[16], hi[16];
		if (cidr_parse(p, n, lo, hi))
			return SIEM_EPARSE;
		if ((rc = add_range(in, lo, hi, tag1)) < 0 ||
		    (tag2 != NO_TAG && (rc = add_range(in, lo, hi, tag2)) < 0))
			return rc;
		if (!memcmp(lo, V4_MAPPED, 12) && !memcmp(hi, V4_MAPPED, 12))
			in->st.ip4++;
		else
			in->st.ip6++;
		return 0;
	}
	if (n >= 2 && p[0] == '*' && p[1] == '.')
		p += 2, n -= 2;
	else if (n >= 1 && p[0] == '.')
		p++, n--;
	char name[254];
	size_t len = intel_norm_host(p, n, name, 1);
	if (!len)
		return SIEM_EPARSE;
	if ((rc = add_domain(in, name, len, tag1)) < 0 ||
	    (tag2 != NO_TAG && (rc = add_domain(in, name, len, tag2)) < 0))
		return rc;
	in->st.domains++;
	return 0;
}

/* ---- list files ---- */

bool intel_file_wanted(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || name[0] == '.' || name[n - 1] == '~')
		return false;
	return !(n >= 4 && (!strcmp(name + n - 4, ".tmp") || !strcmp(name + n - 4, ".swp")));
}

/* "Spamhaus DROP.txt" -> "spamhaus_drop": the name without its last extension, lower case,
 * anything but [a-z0-9_.-] as '_'. */
static void list_name(const char *file, char *out, size_t cap)
{
	size_t n = strlen(file);
	const char *dot = strrchr(file, '.');
	if (dot && dot != file)
		n = (size_t)(dot - file);
	if (n > cap - 1)
		n = cap - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tolower((unsigned char)file[i]);
		out[i] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
				 c == '-'
			     ? (char)c
			     : '_';
	}
	out[n] = '\0';
}

/* What one list's parse found. */
struct list_result {
	size_t bad, first_bad; /* lines (or CSV rows) refused, the first one's number */
	size_t below;	       /* CSV rows under the minimum confidence */
	char reason[160];      /* why the list as a whole failed */
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int parse_plain(struct intel *in, const char *p, size_t n, uint32_t tag,
		       struct list_result *res)
{
	size_t line = 0;
	if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3, n -= 3;
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t len = nl ? (size_t)(nl - p) : n;
		line++;
		/* "#" and ";" start a comment anywhere: "1.2.3.0/24 ; SBL123" */
		size_t end = 0;
		while (end < len && p[end] != '#' && p[end] != ';')
			end++;
		size_t i = 0;
		while (i < end && is_space(p[i]))
			i++;
		size_t j = i;
		while (j < end && !is_space(p[j]))
			j++;
		if (j > i) {
			int rc = add_indicator(in, p + i, j - i, tag, NO_TAG);
			if (rc == -ENOMEM)
				return rc;
			if (rc < 0 && res->bad++ == 0)
				res->first_bad = line;
		}
		if (!nl)
			break;
		n -= len + 1;
		p = nl + 1;
	}
	return 0;
}

/* CSV through libcsv: the header row names the columns; each later row is one indicator. */
struct csv_ctx {
	struct intel *in;
	struct list_result *res;
	const char *list; /* the list's name, for a row's own tag */
	uint32_t tag;
	int min_conf;
	size_t row, col;
	long ind_col, tag_col, conf_col;
	char ind[512], rtag[SUBTAG_MAX_LEN + 1], conf[16];
	size_t ind_n, rtag_n, conf_n;
	bool ind_long, conf_long, failed;
	int err;
};

static bool header_is(const char *p, size_t n, const char *name)
{
	while (n > 0 && (is_space(*p) || *p == '\n'))
		p++, n--;
	while (n > 0 && (is_space(p[n - 1]) || p[n - 1] == '\n'))
		n--;
	return strlen(name) == n && !strncasecmp(p, name, n);
}

static void keep(char *dst, size_t cap, size_t *dn, bool *too_long, const char *p, size_t n)
{
	if (n >= cap) {
		if (too_long)
			*too_long = true;
		n = cap - 1;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
	*dn = n;
}

static void csv_field(void *s, size_t n, void *data)
{
	struct csv_ctx *c = data;
	const char *p = s ? s : "";
	long col = (long)c->col++;
	if (c->failed || c->err)
		return;
	if (c->row == 0) {
		static const char *const ind_names[] = {"indicator", "ioc",	"value", "ip",
							"domain",    "network", "cidr"};
		for (size_t i = 0; c->ind_col < 0 && i < sizeof(ind_names) / sizeof(*ind_names);
		     i++)
			if (header_is(p, n, ind_names[i]))
				c->ind_col = col;
		if (c->tag_col < 0 && header_is(p, n, "tag"))
			c->tag_col = col;
		if (c->conf_col < 0 && header_is(p, n, "confidence"))
			c->conf_col = col;
		return;
	}
	if (col == c->ind_col)
		keep(c->ind, sizeof(c->ind), &c->ind_n, &c->ind_long, p, n);
	else if (col == c->tag_col)
		keep(c->rtag, sizeof(c->rtag), &c->rtag_n, NULL, p, n);
	else if (col == c->conf_col)
		keep(c->conf, sizeof(c->conf), &c->conf_n, &c->conf_long, p, n);
}

static void trim(const char **p, size_t *n)
{
	while (*n > 0 && (is_space(**p) || **p == '\n'))
		(*p)++, (*n)--;
	while (*n > 0 && (is_space((*p)[*n - 1]) || (*p)[*n - 1] == '\n'))
		(*n)--;
}

/* 0..100, or -1 when s is not such a number; an empty field counts as 100. */
static int confidence(const char *p, size_t n)
{
	trim(&p, &n);
	if (n == 0)
		return 100;
	if (n > 3)
		return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v <= 100 ? v : -1;
}

static int row_tag(struct csv_ctx *c, uint32_t *id)
{
	const char *p = c->rtag;
	size_t n = c->rtag_n;
	*id = NO_TAG;
	trim(&p, &n);
	if (n == 0)
		return 0;
	char buf[sizeof("intel:") + NAME_MAX_LEN + 1 + SUBTAG_MAX_LEN + 1];
	int k = snprintf(buf, sizeof(buf), "intel:%s/", c->list);
	if (k < 0 || (size_t)k >= sizeof(buf))
		return 0;
	size_t o = (size_t)k;
	for (size_t i = 0; i < n && o < sizeof(buf) - 1; i++) {
		unsigned char ch = (unsigned char)tolower((unsigned char)p[i]);
		buf[o++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
				   ch == '.' || ch == '-'
			       ? (char)ch
			       : '_';
	}
	return tag_intern(c->in, buf, o, id);
}

static void csv_row(int term, void *data)
{
	(void)term;
	struct csv_ctx *c = data;
	size_t row = ++c->row;
	c->col = 0;
	if (c->failed || c->err)
		return;
	if (row == 1) {
		if (c->ind_col < 0) {
			snprintf(c->res->reason, sizeof(c->res->reason),
				 "no indicator column in the header (indicator, ioc, value, ip, "
				 "domain, network or cidr)");
			c->failed = true;
		}
		return;
	}
	const char *p = c->ind;
	size_t n = c->ind_n;
	trim(&p, &n);
	int conf = c->conf_col >= 0 ? confidence(c->conf, c->conf_n) : 100;
	int rc = SIEM_EPARSE;
	uint32_t sub = NO_TAG;
	if (n > 0 && !c->ind_long && !c->conf_long && conf >= 0) {
		if (conf < c->min_conf) {
			c->res->below++;
			rc = 0;
		} else if ((rc = row_tag(c, &sub)) == 0) {
			rc = add_indicator(c->in, p, n, c->tag, sub);
		}
	}
	if (rc == -ENOMEM)
		c->err = rc;
	else if (rc < 0 && c->res->bad++ == 0)
		c->res->first_bad = row;
	c->ind_n = c->rtag_n = c->conf_n = 0;
	c->ind_long = c->conf_long = false;
}

static int parse_csv(struct intel *in, const char *p, size_t n, const char *list, uint32_t tag,
		     int min_conf, struct list_result *res)
{
	struct csv_parser cp;
	if (csv_init(&cp, 0) != 0)
		return -ENOMEM;
	struct csv_ctx c = {.in = in,
			    .res = res,
			    .list = list,
			    .tag = tag,
			    .min_conf = min_conf,
			    .ind_col = -1,
			    .tag_col = -1,
			    .conf_col = -1};
	if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3, n -= 3;
	int rc = 0;
	if (csv_parse(&cp, p, n, csv_field, csv_row, &c) != n ||
	    csv_fini(&cp, csv_field, csv_row, &c))
		rc = csv_error(&cp) == CSV_ENOMEM ? -ENOMEM : SIEM_EPARSE;
	if (rc == SIEM_EPARSE)
		snprintf(res->reason, sizeof(res->reason), "%s", csv_strerror(csv_error(&cp)));
	csv_free(&cp);
	if (c.err)
		return c.err;
	if (!rc && c.row == 0) {
		snprintf(res->reason, sizeof(res->reason), "empty, no header row");
		return SIEM_EPARSE;
	}
	if (!rc && c.failed)
		return SIEM_EPARSE;
	return rc;
}

/* One list file into in's indicators. On SIEM_EPARSE res->reason says why. */
static int load_list(struct intel *in, const char *path, const char *file, int min_conf,
		     struct list_result *res)
{
	char *text = NULL;
	size_t n = 0;
	int rc = file_read_all(path, LIST_MAX_BYTES, &text, &n);
	if (rc < 0) {
		snprintf(res->reason, sizeof(res->reason), "cannot read: %s", siem_strerror(rc));
		return rc == -ENOMEM ? rc : SIEM_EPARSE;
	}
	char name[NAME_MAX_LEN + 1], tagtext[sizeof("intel:") + NAME_MAX_LEN];
	list_name(file, name, sizeof(name));
	if (!name[0])
		snprintf(name, sizeof(name), "list");
	snprintf(tagtext, sizeof(tagtext), "intel:%s", name);
	uint32_t tag;
	if ((rc = tag_intern(in, tagtext, strlen(tagtext), &tag)) < 0)
		goto out;
	size_t fn = strlen(file);
	if (fn >= 4 && !strcasecmp(file + fn - 4, ".csv"))
		rc = parse_csv(in, text, n, name, tag, min_conf, res);
	else
		rc = parse_plain(in, text, n, tag, res);
out:
	free(text);
	return rc;
}

/* ---- building the interval tables ---- */

struct ev4 {
	uint64_t pos;
	uint32_t tag;
	int32_t d;
};

struct ev6 {
	struct u128 pos;
	uint32_t tag;
	int32_t d;
};

static int ev4_cmp(const void *a, const void *b)
{
	const struct ev4 *x = a, *y = b;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int ev6_cmp(const void *a, const void *b)
{
	const struct ev6 *x = a, *y = b;
	return u128_cmp(x->pos, y->pos);
}

/* The tags active at a point of the sweep: a count per tag and the sorted ids of those above
 * zero. */
struct active {
	uint32_t *cnt, *ids;
	size_t n;
};

static void active_apply(struct active *a, uint32_t tag, int32_t d)
{
	uint32_t before = a->cnt[tag];
	a->cnt[tag] = (uint32_t)((int64_t)before + d);
	if (before == 0 && d > 0) {
		size_t i = a->n;
		while (i > 0 && a->ids[i - 1] > tag) {
			a->ids[i] = a->ids[i - 1];
			i--;
		}
		a->ids[i] = tag;
		a->n++;
	} else if (before > 0 && a->cnt[tag] == 0) {
		size_t i = 0;
		while (a->ids[i] != tag)
			i++;
		memmove(a->ids + i, a->ids + i + 1, (a->n - i - 1) * sizeof(*a->ids));
		a->n--;
	}
}

static int active_set(struct intel *in, struct active *a, uint32_t *set)
{
	if (a->n == 0) {
		*set = NO_SET;
		return 0;
	}
	return set_intern(in, a->ids, a->n > SET_MAX ? SET_MAX : a->n, set);
}

/* Every list's IPv4 ranges into sorted disjoint intervals: a sweep over the range ends; where
 * ranges of several lists overlap, the interval between two ends carries all their tags. */
static int build4(struct intel *in, struct active *a)
{
	int rc = 0;
	size_t ne = in->it4.n * 2;
	struct ev4 *e = ne ? malloc(ne * sizeof(*e)) : NULL;
	if (ne && !e)
		return -ENOMEM;
	for (size_t i = 0; i < in->it4.n; i++) {
		const struct item4 *it = &in->it4.p[i];
		e[2 * i] = (struct ev4){it->lo, it->tag, 1};
		e[2 * i + 1] = (struct ev4){(uint64_t)it->hi + 1, it->tag, -1};
	}
	free(in->it4.p);
	in->it4.p = NULL;
	in->it4.n = in->it4.cap = 0;
	if (ne)
		qsort(e, ne, sizeof(*e), ev4_cmp);
	uint32_t set = NO_SET;
	for (size_t i = 0; i < ne;) {
		uint64_t pos = e[i].pos;
		for (; i < ne && e[i].pos == pos; i++)
			active_apply(a, e[i].tag, e[i].d);
		if ((rc = active_set(in, a, &set)) < 0)
			goto out;
		if (set == NO_SET || i == ne)
			continue;
		uint32_t hi = (uint32_t)(e[i].pos - 1);
		struct r4 *last = in->v4.n ? &in->v4.p[in->v4.n - 1] : NULL;
		if (last && last->set == set && (uint64_t)last->hi + 1 == pos) {
			last->hi = hi;
			continue;
		}
		struct r4 r = {(uint32_t)pos, hi, set};
		if ((rc = VEC_PUSH(in->v4, r)) < 0)
			goto out;
	}
out:
	free(e);
	return rc;
}

static int build6(struct intel *in, struct active *a)
{
	int rc = 0;
	size_t ne = 0;
	struct ev6 *e = in->it6.n ? malloc(in->it6.n * 2 * sizeof(*e)) : NULL;
	if (in->it6.n && !e)
		return -ENOMEM;
	for (size_t i = 0; i < in->it6.n; i++) {
		const struct item6 *it = &in->it6.p[i];
		e[ne++] = (struct ev6){it->lo, it->tag, 1};
		/* A range up to the last address has no end: it is active to the end. */
		if (!u128_is_max(it->hi))
			e[ne++] = (struct ev6){u128_inc(it->hi), it->tag, -1};
	}
	free(in->it6.p);
	in->it6.p = NULL;
	in->it6.n = in->it6.cap = 0;
	if (ne)
		qsort(e, ne, sizeof(*e), ev6_cmp);
	uint32_t set = NO_SET;
	for (size_t i = 0; i < ne;) {
		struct u128 pos = e[i].pos;
		for (; i < ne && !u128_cmp(e[i].pos, pos); i++)
			active_apply(a, e[i].tag, e[i].d);
		if ((rc = active_set(in, a, &set)) < 0)
			goto out;
		if (set == NO_SET)
			continue;
		struct u128 hi =
		    i == ne ? (struct u128){UINT64_MAX, UINT64_MAX} : u128_dec(e[i].pos);
		struct r6 *last = in->v6.n ? &in->v6.p[in->v6.n - 1] : NULL;
		if (last && last->set == set && !u128_cmp(u128_inc(last->hi), pos)) {
			last->hi = hi;
			continue;
		}
		struct r6 r = {pos, hi, set};
		if ((rc = VEC_PUSH(in->v6, r)) < 0)
			goto out;
	}
out:
	free(e);
	return rc;
}

static int build(struct intel *in)
{
	struct active a = {NULL, NULL, 0};
	int rc = -ENOMEM;
	size_t nt = in->tag.n ? in->tag.n : 1;
	if (!(a.cnt = calloc(nt, sizeof(*a.cnt))) || !(a.ids = calloc(nt, sizeof(*a.ids))))
		goto out;
	if ((rc = build4(in, &a)) < 0)
		goto out;
	memset(a.cnt, 0, nt * sizeof(*a.cnt));
	a.n = 0;
	if ((rc = build6(in, &a)) < 0)
		goto out;
	vec_shrink(&in->v4.p, &in->v4.cap, in->v4.n, sizeof(*in->v4.p));
	vec_shrink(&in->v6.p, &in->v6.cap, in->v6.n, sizeof(*in->v6.p));
	vec_shrink(&in->names.p, &in->names.cap, in->names.n, 1);
out:
	free(a.cnt);
	free(a.ids);
	return rc;
}

/* ---- load ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void problem(struct strbuf *problems, int *nproblems, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct strbuf *problems, int *nproblems, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (problems)
		(void)strbuf_addf(problems, "%s%s", problems->n ? "; " : "", msg);
	if (nproblems)
		(*nproblems)++;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int push_name(struct strvec *v, const char *s)
{
	char *c = strdup(s);
	if (!c || VEC_PUSH(*v, c) < 0) {
		free(c);
		return -ENOMEM;
	}
	return 0;
}

int intel_load(struct intel **out, const char *dir, int min_confidence, struct strbuf *problems,
	       int *nproblems)
{
	int rc = 0;
	*out = NULL;
	struct strvec files = {NULL, 0, 0};
	struct intel *in = calloc(1, sizeof(*in));
	char path[4096];
	if (!in)
		return -ENOMEM;
	DIR *d = opendir(dir);
	if (!d) {
		rc = -errno;
		problem(problems, nproblems, "intel: %s: cannot open directory: %s", dir,
			siem_strerror(rc));
		goto fail;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (!intel_file_wanted(de->d_name) || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if ((rc = push_name(&files, de->d_name)) < 0)
			break;
	}
	closedir(d);
	if (rc < 0)
		goto fail;
	if (files.n)
		qsort(files.p, files.n, sizeof(*files.p), name_cmp);

	for (size_t i = 0; i < files.n; i++) {
		struct list_result res;
		memset(&res, 0, sizeof(res));
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, files.p[i]) >=
		    sizeof(path)) {
			snprintf(res.reason, sizeof(res.reason), "path too long");
			rc = SIEM_EPARSE;
		} else {
			rc = load_list(in, path, files.p[i], min_confidence, &res);
		}
		if (rc == -ENOMEM)
			goto fail;
		if (rc < 0) {
			/* Ranges and names the list added before it failed stay: only a whole
			 * parse error (a CSV without its column) fails, before any row. */
			problem(problems, nproblems, "intel: %s: %s", path, res.reason);
			if ((rc = push_name(&in->failed_files, files.p[i])) < 0)
				goto fail;
			continue;
		}
		if ((rc = push_name(&in->ok_files, files.p[i])) < 0)
			goto fail;
		in->st.lists++;
		in->st.bad += res.bad;
		in->st.below_conf += res.below;
		if (res.bad)
			log_warn(
			    "intel",
			    "%s: %zu %s skipped (not an address, network or domain), the first "
			    "at %s %zu",
			    path, res.bad, res.bad == 1 ? "entry" : "entries",
			    strlen(files.p[i]) >= 4 &&
				    !strcasecmp(files.p[i] + strlen(files.p[i]) - 4, ".csv")
				? "row"
				: "line",
			    res.first_bad);
	}
	if ((rc = build(in)) < 0)
		goto fail;
	in->st.ranges4 = in->v4.n;
	in->st.ranges6 = in->v6.n;
	in->st.tags = in->tag.n;
	in->st.sets = in->set_off.n;
	in->st.bytes = in->v4.n * sizeof(struct r4) + in->v6.n * sizeof(struct r6) +
		       in->dom_cap * sizeof(struct dslot) + in->names.cap +
		       in->set_tags.cap * sizeof(uint32_t) + in->set_off.cap * 2 * sizeof(uint32_t);
	free_names(files.p, files.n);
	*out = in;
	return 0;
fail:
	free_names(files.p, files.n);
	intel_free(in);
	return rc;
}

void intel_free(struct intel *in)
{
	if (!in)
		return;
	free_names(in->tag.p, in->tag.n);
	free(in->tag_slot);
	free(in->set_off.p);
	free(in->set_len.p);
	free(in->set_tags.p);
	free(in->set_slot);
	free(in->v4.p);
	free(in->v6.p);
	free(in->dom);
	free(in->names.p);
	free_names(in->ok_files.p, in->ok_files.n);
	free_names(in->failed_files.p, in->failed_files.n);
	free(in->it4.p);
	free(in->it6.p);
	free(in);
}

const struct intel_stats *intel_stats(const struct intel *in)
{
	return &in->st;
}

bool intel_lost_list(const struct intel *next, const struct intel *prev)
{
	for (size_t i = 0; i < next->failed_files.n; i++)
		for (size_t k = 0; k < prev->ok_files.n; k++)
			if (!strcmp(next->failed_files.p[i], prev->ok_files.p[k]))
				return true;
	return false;
}
