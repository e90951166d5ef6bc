/* decode.c — runs the decoder table of decoders.h: routes a message by program name,
 * matches its patterns with PCRE2 JIT (compiled once, match data once per thread) and
 * writes what the named groups captured into the event. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/jsonw.h"
#include "parse/decode.h"
#include "parse/decoders.h"

#define MAX_FIELDS 24
#define MATCH_LIMIT 200000 /* backtracking steps before a line counts as no match */
#define DEPTH_LIMIT 2000

enum field_kind { K_USER, K_IP, K_STR, K_INT };

struct field {
	const char *name;		    /* into the pattern's name table */
	unsigned char namelen, kind, first; /* first: index of the first field of this name */
	unsigned short group;
};

struct pattern {
	const struct pattern_def *def;
	pcre2_code *code;
	bool jit;
	size_t prefix_n; /* def->re[0..prefix_n) is literal text every match starts with */
	unsigned nfields;
	struct field fields[MAX_FIELDS];
};

/* Per-thread match data, on a list so that decode_release can free what threads left. */
struct tl_data {
	pcre2_match_data *md;
	struct tl_data *next, **prevp;
};

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool ready;
static struct pattern *decoders[DEC_N];
static pcre2_match_context *mctx;
static uint32_t max_groups;
static pthread_key_t tl_key;
static struct tl_data *tl_list;

static void tl_free(void *p)
{
	struct tl_data *t = p;
	pthread_mutex_lock(&init_lock);
	*t->prevp = t->next;
	if (t->next)
		t->next->prevp = t->prevp;
	pthread_mutex_unlock(&init_lock);
	pcre2_match_data_free(t->md);
	free(t);
}

static pcre2_match_data *match_data(void)
{
	struct tl_data *t = pthread_getspecific(tl_key);
	if (t)
		return t->md;
	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	if (!(t->md = pcre2_match_data_create(max_groups + 1, NULL))) {
		free(t);
		return NULL;
	}
	pthread_mutex_lock(&init_lock);
	t->next = tl_list;
	if (tl_list)
		tl_list->prevp = &t->next;
	t->prevp = &tl_list;
	tl_list = t;
	pthread_mutex_unlock(&init_lock);
	if (pthread_setspecific(tl_key, t)) {
		tl_free(t);
		return NULL;
	}
	return t->md;
}

/* Literal text at the start of a regex: up to the first metacharacter, less a character a
 * quantifier applies to. Patterns keep any top-level alternation inside a group. */
static size_t literal_prefix(const char *re)
{
	size_t i = 0;
	while (re[i] && !strchr("\\^$.[]|()?*+{}", re[i]))
		i++;
	if (i > 0 && re[i] && strchr("?*+{", re[i]))
		i--;
	return i;
}

static int field_kind(const char *name)
{
	if (!strcmp(name, "user"))
		return K_USER;
	if (!strcmp(name, "ip") || !strcmp(name, "rhost"))
		return K_IP;
	for (size_t i = 0; i < sizeof(int_fields) / sizeof(int_fields[0]); i++)
		if (!strcmp(name, int_fields[i]))
			return K_INT;
	return K_STR;
}

static int by_group(const void *x, const void *y)
{
	const struct field *a = x, *b = y;
	return (int)a->group - (int)b->group;
}

static int compile_pattern(struct pattern *p, const struct pattern_def *def, const char *dec)
{
	int err;
	PCRE2_SIZE off;
	p->def = def;
	p->code = pcre2_compile((PCRE2_SPTR)def->re, PCRE2_ZERO_TERMINATED,
				PCRE2_ANCHORED | PCRE2_DUPNAMES, &err, &off, NULL);
	if (!p->code) {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(err, msg, sizeof(msg));
		log_error("decode", "pattern %s.%s: %s at %zu", dec, def->name, (char *)msg,
			  (size_t)off);
		return SIEM_EPARSE;
	}
	p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
	p->prefix_n = literal_prefix(def->re);

	uint32_t count, size, groups;
	PCRE2_SPTR table;
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
	pcre2_pattern_info(p->code, PCRE2_INFO_NAMETABLE, &table);
	pcre2_pattern_info(p->code, PCRE2_INFO_CAPTURECOUNT, &groups);
	if (groups > max_groups)
		max_groups = groups;
	if (count > MAX_FIELDS) {
		log_error("decode", "pattern %s.%s: more than %d named groups", dec, def->name,
			  MAX_FIELDS);
		return SIEM_EPARSE;
	}
	for (uint32_t i = 0; i < count; i++) {
		PCRE2_SPTR e = table + (size_t)i * size;
		struct field *f = &p->fields[i];
		f->group = (unsigned short)((e[0] << 8) | e[1]);
		f->name = (const char *)e + 2;
		f->namelen = (unsigned char)strlen(f->name);
		f->kind = (unsigned char)field_kind(f->name);
	}
	p->nfields = count;
	qsort(p->fields, count, sizeof(p->fields[0]), by_group);
	for (unsigned i = 0; i < count; i++) {
		p->fields[i].first = (unsigned char)i;
		for (unsigned k = 0; k < i; k++) {
			if (!strcmp(p->fields[k].name, p->fields[i].name)) {
				p->fields[i].first = (unsigned char)k;
				break;
			}
		}
	}
	return 0;
}

static void release_locked(void)
{
	for (int d = 0; d < DEC_N; d++) {
		if (!decoders[d])
			continue;
		for (size_t i = 0; i < decoder_defs[d].n; i++)
			pcre2_code_free(decoders[d][i].code);
		free(decoders[d]);
		decoders[d] = NULL;
	}
	while (tl_list) {
		struct tl_data *t = tl_list;
		tl_list = t->next;
		pcre2_match_data_free(t->md);
		free(t);
	}
	pcre2_match_context_free(mctx);
	mctx = NULL;
	max_groups = 0;
}

int decode_init(void)
{
	int rc = 0;
	if (atomic_load_explicit(&ready, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&init_lock);
	if (atomic_load_explicit(&ready, memory_order_relaxed))
		goto out;
	if (!(mctx = pcre2_match_context_create(NULL))) {
		rc = -ENOMEM;
		goto out;
	}
	pcre2_set_match_limit(mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(mctx, DEPTH_LIMIT);
	for (int d = 0; d < DEC_N; d++) {
		const struct decoder_def *dd = &decoder_defs[d];
		if (!(decoders[d] = calloc(dd->n, sizeof(struct pattern)))) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < dd->n; i++)
			if ((rc = compile_pattern(&decoders[d][i], &dd->patterns[i], dd->name)))
				goto out;
	}
	if ((rc = -pthread_key_create(&tl_key, tl_free)))
		goto out;
	atomic_store_explicit(&ready, true, memory_order_release);
out:
	if (rc)
		release_locked();
	pthread_mutex_unlock(&init_lock);
	return rc;
}

void decode_release(void)
{
	pthread_mutex_lock(&init_lock);
	if (atomic_load_explicit(&ready, memory_order_relaxed)) {
		atomic_store_explicit(&ready, false, memory_order_release);
		pthread_key_delete(tl_key);
		release_locked();
	}
	pthread_mutex_unlock(&init_lock);
}

/* ---- output helpers ---- */

static void put_key(struct jsonw *b, const char *name, size_t n)
{
	if (b->n)
		b->p[b->n++] = ',';
	b->p[b->n++] = '"';
	jsonw_raw(b, name, n);
	jsonw_raw(b, "\":", 2);
}

/* "name=value " for --explain, quoted when the value has a space; cut with "..." when
 * the buffer is full. */
static void explain_add(struct decode_explain *ex, const char *name, const char *v, size_t n)
{
	size_t len = strlen(ex->fields), cap = sizeof(ex->fields);
	if (len + 4 >= cap)
		return;
	bool q = memchr(v, ' ', n) != NULL || n == 0;
	int w = snprintf(ex->fields + len, cap - len, "%s%s=%s%.*s%s", len ? " " : "", name,
			 q ? "\"" : "", (int)(n > 256 ? 256 : n), v, q ? "\"" : "");
	if (w < 0 || (size_t)w >= cap - len)
		memcpy(ex->fields + cap - 4, "...", 4);
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0 || n > 15)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int set_user(struct event *ev, struct arena *a, const char *s, size_t n)
{
	return sv_capped(a, &ev->user, s, n, EV_CAP_SHORT, EV_TRUNC_OTHER, &ev->flags);
}

static int set_ip(struct event *ev, struct arena *a, const uint8_t ip[16])
{
	char buf[46];
	size_t len = ip_format(ip, buf);
	char *c = arena_strndup(a, buf, len);
	if (!c)
		return -ENOMEM;
	memcpy(ev->ip, ip, 16);
	ev->source_ip = (struct sv){c, len};
	ev->flags |= EV_HAS_IP;
	return 0;
}

/* Splice the members in b into ev->data (a compact JSON object) in the arena. */
static int merge_data(struct event *ev, struct arena *a, const struct jsonw *b)
{
	if (!b->n)
		return 0;
	const struct sv old = ev->data;
	bool has = old.p && old.n >= 2 && old.p[0] == '{' && old.p[old.n - 1] == '}';
	size_t base = has ? old.n - 1 : 1, need = base + 1 + b->n + 1;
	if (need > EV_CAP_DATA) {
		ev->flags |= EV_TRUNC_DATA;
		return 0;
	}
	char *p = arena_alloc(a, need + 1);
	if (!p)
		return -ENOMEM;
	size_t n = 0;
	if (has) {
		memcpy(p, old.p, base);
		n = base;
		if (old.n > 2)
			p[n++] = ',';
	} else {
		p[n++] = '{';
	}
	memcpy(p + n, b->p, b->n);
	n += b->n;
	p[n++] = '}';
	p[n] = '\0';
	ev->data = (struct sv){p, n};
	return 0;
}

/* ---- matching ---- */

static int run(const struct pattern *p, pcre2_match_data *md, const char *s, size_t n)
{
	if (p->prefix_n && (n < p->prefix_n || memcmp(s, p->def->re, p->prefix_n)))
		return 0;
	int rc = p->jit ? pcre2_jit_match(p->code, (PCRE2_SPTR)s, n, 0, 0, md, mctx)
			: pcre2_match(p->code, (PCRE2_SPTR)s, n, 0, 0, md, mctx);
	return rc > 0;
}

static const struct pattern *first_match(int d, pcre2_match_data *md, const char *s, size_t n)
{
	for (size_t i = 0; i < decoder_defs[d].n; i++)
		if (run(&decoders[d][i], md, s, n))
			return &decoders[d][i];
	return NULL;
}

static const struct program_def *find_program(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(program_defs) / sizeof(program_defs[0]); i++) {
		const char *name = program_defs[i].name;
		if (name[0] == s[0] && strlen(name) == n && !memcmp(name, s, n))
			return &program_defs[i];
	}
	return NULL;
}

/* "message repeated N times: [ inner]" (rsyslog's reduction) -> inner and N. */
static bool unwrap_repeated(const char **s, size_t *n, int64_t *times)
{
	static const char head[] = "message repeated ";
	const char *p = *s, *e = p + *n;
	if (*n < sizeof(head) + 10 || memcmp(p, head, sizeof(head) - 1))
		return false;
	p += sizeof(head) - 1;
	int64_t v = 0;
	const char *d = p;
	while (p < e && *p >= '0' && *p <= '9' && p - d < 9)
		v = v * 10 + (*p++ - '0');
	if (p == d || e - p < 9 || memcmp(p, " times: [", 9))
		return false;
	p += 9;
	while (p < e && *p == ' ')
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e > p && e[-1] == ']')
		e--;
	*s = p;
	*n = (size_t)(e - p);
	*times = v;
	return true;
}

static int apply(struct event *ev, struct arena *a, const struct pattern *p, pcre2_match_data *md,
		 const char *s, const char *generic, int64_t repeated, struct decode_explain *ex)
{
	const struct pattern_def *def = p->def;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	uint32_t ovn = pcre2_get_ovector_count(md);
	bool emitted[MAX_FIELDS] = {false};
	size_t bound = 64 + (def->extra ? strlen(def->extra) : 0);
	int rc;

	for (unsigned i = 0; i < p->nfields; i++) {
		const struct field *f = &p->fields[i];
		if (f->group < ovn && ov[2 * f->group] != PCRE2_UNSET)
			bound += f->namelen + 8 + 6 * (ov[2 * f->group + 1] - ov[2 * f->group]);
	}
	struct jsonw b = {arena_alloc(a, bound), 0};
	if (!b.p)
		return -ENOMEM;

	bool user_set = false;
	for (unsigned i = 0; i < p->nfields; i++) {
		const struct field *f = &p->fields[i];
		if (f->group >= ovn || ov[2 * f->group] == PCRE2_UNSET)
			continue;
		const char *v = s + ov[2 * f->group];
		size_t vn = ov[2 * f->group + 1] - ov[2 * f->group];
		if (vn == 0 || emitted[f->first])
			continue;
		emitted[f->first] = true;
		uint8_t ip[16];
		switch (f->kind) {
		case K_USER:
			if ((rc = set_user(ev, a, v, vn)))
				return rc;
			user_set = true;
			if (ex)
				explain_add(ex, "user", v, vn);
			continue;
		case K_IP:
			if (!ip_parse(v, vn, ip)) {
				if (!(ev->flags & EV_HAS_IP) || f->name[0] == 'i') {
					if ((rc = set_ip(ev, a, ip)))
						return rc;
					if (ex)
						explain_add(ex, "source_ip", ev->source_ip.p,
							    ev->source_ip.n);
				}
				continue;
			}
			break;
		case K_INT:
			if (all_digits(v, vn)) {
				/* JSON numbers have no leading zeros: "05" is 5. */
				while (vn > 1 && *v == '0')
					v++, vn--;
				put_key(&b, f->name, f->namelen);
				jsonw_raw(&b, v, vn);
				if (ex)
					explain_add(ex, f->name, v, vn);
				continue;
			}
			break;
		}
		put_key(&b, f->name, f->namelen);
		jsonw_str(&b, v, vn);
		if (ex)
			explain_add(ex, f->name, v, vn);
	}
	if (def->extra) {
		size_t xn = strlen(def->extra);
		if (b.n)
			b.p[b.n++] = ',';
		jsonw_raw(&b, def->extra, xn);
		if (ex)
			explain_add(ex, "extra", def->extra, xn);
	}
	if (repeated) {
		char num[32];
		int len = snprintf(num, sizeof(num), "%lld", (long long)repeated);
		put_key(&b, "repeated", 8);
		jsonw_raw(&b, num, (size_t)len);
	}
	if ((rc = merge_data(ev, a, &b)))
		return rc;
	if (!user_set && def->user)
		ev->user = (struct sv){def->user, strlen(def->user)};
	const char *type = def->type ? def->type : generic;
	ev->event_type = (struct sv){type, strlen(type)};
	if (def->sev)
		ev->severity = def->sev;
	return 1;
}

int decode_auth(struct event *ev, struct arena *a, struct decode_explain *ex)
{
	int rc;
	if (ex) {
		ex->decoder = ex->pattern = NULL;
		ex->fields[0] = '\0';
	}
	if (!ev->app.p || !ev->app.n || !ev->message.p || !ev->message.n)
		return 0;
	if (!atomic_load_explicit(&ready, memory_order_acquire) && (rc = decode_init()))
		return rc;
	pcre2_match_data *md = match_data();
	if (!md)
		return -ENOMEM;

	/* The program: "sshd", "/usr/sbin/sshd", "sshd(pam_unix)" all mean sshd. */
	const char *prog = ev->app.p, *pe = prog + ev->app.n;
	if (*prog == '/') {
		const char *slash = prog;
		for (const char *c = prog; c < pe; c++)
			if (*c == '/')
				slash = c;
		prog = slash + 1;
	}
	const char *paren = memchr(prog, '(', (size_t)(pe - prog));
	bool pam_tag = paren && pe - paren > 5 && !memcmp(paren, "(pam_", 5);
	if (paren)
		pe = paren;
	const struct program_def *pd = prog < pe ? find_program(prog, (size_t)(pe - prog)) : NULL;

	const char *s = ev->message.p;
	size_t n = ev->message.n;
	int64_t repeated = 0;
	unwrap_repeated(&s, &n, &repeated);

	const struct pattern *p = NULL;
	int dec = -1;
	if (pam_tag || (n > 4 && !memcmp(s, "pam_", 4))) {
		dec = DEC_PAM;
		p = first_match(DEC_PAM, md, s, n);
	}
	if (!p && pd && pd->decoder != dec) {
		dec = pd->decoder;
		p = first_match(dec, md, s, n);
	}
	if (!p && !pd)
		return 0;
	if (ex) {
		ex->decoder = decoder_defs[dec].name;
		ex->pattern = p ? p->def->name : "generic";
	}
	const char *generic = pd ? pd->generic : "PAM";
	if (p)
		return apply(ev, a, p, md, s, generic, repeated, ex);

	/* A program we decode, a message we do not know: the program's generic event. */
	if (repeated) {
		char num[48];
		struct jsonw b = {num, 0};
		int len = snprintf(num, sizeof(num), "\"repeated\":%lld", (long long)repeated);
		b.n = (size_t)len;
		if ((rc = merge_data(ev, a, &b)))
			return rc;
	}
	ev->event_type = (struct sv){generic, strlen(generic)};
	return 1;
}
