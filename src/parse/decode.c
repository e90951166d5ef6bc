/* decode.c — runs the decoder set (decoder_load.c): routes a message by program name and
 * prefilter, matches each selected decoder's patterns with PCRE2 JIT in order (first match
 * wins) and writes what the named groups captured into the event. A reload swaps the set;
 * each thread holds a reference to the set it last used and moves to a new one between
 * lines, so no line is decoded half by one set and half by another. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "parse/decode.h"
#include "parse/decode_int.h"

#define MATCH_LIMIT 200000 /* backtracking steps before a line counts as no match */
#define DEPTH_LIMIT 2000

/* Per-thread match data and the set it was sized for, on a list so that decode_release can
 * free what threads left. */
struct tl_data {
	pcre2_match_data *md;
	struct decoder_set *set;
	unsigned gen;
	struct tl_data *next, **prevp;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool ready;
static atomic_uint generation;	    /* bumped by every swap */
static struct decoder_set *current; /* under lock */
static char *current_dir;	    /* the user decoders' folder, or NULL */
static pcre2_match_context *mctx;
static pthread_key_t tl_key;
static struct tl_data *tl_list;

static void set_unref(struct decoder_set *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		decoder_set_free(s);
}

static void tl_free(void *p)
{
	struct tl_data *t = p;
	pthread_mutex_lock(&lock);
	*t->prevp = t->next;
	if (t->next)
		t->next->prevp = t->prevp;
	pthread_mutex_unlock(&lock);
	pcre2_match_data_free(t->md);
	set_unref(t->set);
	free(t);
}

/* This thread's state, moved to the current set when a reload swapped it. */
static struct tl_data *thread_state(void)
{
	struct tl_data *t = pthread_getspecific(tl_key);
	unsigned gen = atomic_load_explicit(&generation, memory_order_acquire);
	if (t && t->gen == gen && t->set)
		return t;
	if (!t) {
		if (!(t = calloc(1, sizeof(*t))))
			return NULL;
		pthread_mutex_lock(&lock);
		t->next = tl_list;
		if (tl_list)
			tl_list->prevp = &t->next;
		t->prevp = &tl_list;
		tl_list = t;
		pthread_mutex_unlock(&lock);
		if (pthread_setspecific(tl_key, t)) {
			tl_free(t);
			return NULL;
		}
	}
	pthread_mutex_lock(&lock);
	struct decoder_set *old = t->set;
	t->set = current;
	atomic_fetch_add_explicit(&t->set->refs, 1, memory_order_relaxed);
	t->gen = atomic_load_explicit(&generation, memory_order_relaxed);
	pthread_mutex_unlock(&lock);
	set_unref(old);
	if (t->md && pcre2_get_ovector_count(t->md) < t->set->max_groups + 1) {
		pcre2_match_data_free(t->md);
		t->md = NULL;
	}
	if (!t->md && !(t->md = pcre2_match_data_create(t->set->max_groups + 1, NULL)))
		return NULL;
	return t;
}

static void release_locked(void)
{
	while (tl_list) {
		struct tl_data *t = tl_list;
		tl_list = t->next;
		pcre2_match_data_free(t->md);
		set_unref(t->set);
		free(t);
	}
	set_unref(current);
	current = NULL;
	free(current_dir);
	current_dir = NULL;
	pcre2_match_context_free(mctx);
	mctx = NULL;
}

/* Swap in s (under lock). */
static void swap_locked(struct decoder_set *s)
{
	struct decoder_set *old = current;
	current = s;
	atomic_fetch_add_explicit(&generation, 1, memory_order_release);
	set_unref(old);
}

static int init_locked(void)
{
	if (!(mctx = pcre2_match_context_create(NULL)))
		return -ENOMEM;
	pcre2_set_match_limit(mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(mctx, DEPTH_LIMIT);
	int rc = -pthread_key_create(&tl_key, tl_free);
	if (rc) {
		pcre2_match_context_free(mctx);
		mctx = NULL;
	}
	return rc;
}

int decode_load(const char *dir, char *err, size_t errlen)
{
	struct decoder_set *s = NULL;
	int rc = decoder_set_load(dir, &s, err, errlen);
	if (rc)
		return rc;
	char *d = dir && *dir ? strdup(dir) : NULL;
	if (dir && *dir && !d) {
		decoder_set_free(s);
		return -ENOMEM;
	}
	pthread_mutex_lock(&lock);
	if (!atomic_load_explicit(&ready, memory_order_relaxed) && (rc = init_locked())) {
		pthread_mutex_unlock(&lock);
		decoder_set_free(s);
		free(d);
		return rc;
	}
	swap_locked(s);
	free(current_dir);
	current_dir = d;
	atomic_store_explicit(&ready, true, memory_order_release);
	pthread_mutex_unlock(&lock);
	return 0;
}

int decode_reload(char *err, size_t errlen)
{
	pthread_mutex_lock(&lock);
	char *dir = current_dir ? strdup(current_dir) : NULL;
	bool fail = current_dir && !dir;
	pthread_mutex_unlock(&lock);
	if (fail)
		return -ENOMEM;
	int rc = decode_load(dir, err, errlen);
	free(dir);
	return rc;
}

int decode_init(void)
{
	if (atomic_load_explicit(&ready, memory_order_acquire))
		return 0;
	char err[512];
	int rc = decode_load(NULL, err, sizeof(err));
	if (rc)
		log_error("decode", "built-in decoders: %s", err);
	return rc;
}

void decode_release(void)
{
	pthread_mutex_lock(&lock);
	if (atomic_load_explicit(&ready, memory_order_relaxed)) {
		atomic_store_explicit(&ready, false, memory_order_release);
		pthread_key_delete(tl_key);
		release_locked();
	}
	pthread_mutex_unlock(&lock);
}

int decode_each_pattern(int (*fn)(void *arg, const char *decoder, const char *file,
				  const char *pattern),
			void *arg)
{
	int rc = decode_init();
	if (rc)
		return rc;
	/* A reference, not the lock, while fn runs: fn may decode or not return at all. */
	pthread_mutex_lock(&lock);
	struct decoder_set *s = current;
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < s->n && !rc; i++)
		for (size_t k = 0; k < s->decoders[i].npatterns && !rc; k++)
			rc = fn(arg, s->decoders[i].name, s->decoders[i].file,
				s->decoders[i].patterns[k].name);
	set_unref(s);
	return rc;
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

static int set_event_str(struct event *ev, struct arena *a, int kind, const char *v, size_t n)
{
	struct sv *dst = kind == K_HTTP_METHOD	? &ev->http_method
			 : kind == K_HTTP_PATH	? &ev->http_path
			 : kind == K_USER_AGENT ? &ev->user_agent
			 : kind == K_REQUEST_ID ? &ev->request_id
						: &ev->error_type;
	return sv_capped(a, dst, v, n, EV_CAP_SHORT, EV_TRUNC_OTHER, &ev->flags);
}

/* http_status (100..599) or a latency (ms, or seconds for K_LATENCY_S); false when v is not
 * such a number. */
static bool set_event_num(struct event *ev, int kind, const char *v, size_t n)
{
	char buf[32];
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (kind == K_HTTP_STATUS) {
		if (n != 3 || !all_digits(v, n) || v[0] < '1' || v[0] > '5')
			return false;
		ev->http_status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
		ev->flags |= EV_HAS_HTTP_STATUS;
		return true;
	}
	for (size_t i = 0; i < n; i++)
		if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.'))
			return false;
	char *end;
	double d = strtod(buf, &end);
	if (end != buf + n || d < 0 || d > 1e12)
		return false;
	ev->latency_ms = kind == K_LATENCY_S ? d * 1000.0 : d;
	ev->flags |= EV_HAS_LATENCY;
	return true;
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

/* ---- matching ---- */

static const struct droute *find_route(const struct decoder_set *set, const char *s, size_t n)
{
	size_t lo = 0, hi = set->nroutes;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct droute *r = &set->routes[mid];
		int c = memcmp(s, r->name, n < r->n ? n : r->n);
		if (!c)
			c = n < r->n ? -1 : n > r->n;
		if (!c)
			return r;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int run(const struct dpattern *p, pcre2_match_data *md, const char *s, size_t n)
{
	if (p->prefix_n && (n < p->prefix_n || memcmp(s, p->re, p->prefix_n)))
		return 0;
	if (p->first_set && n && !(p->first[(uint8_t)s[0] / 8] & (1u << ((uint8_t)s[0] % 8))))
		return 0;
	int rc = p->jit ? pcre2_jit_match(p->code, (PCRE2_SPTR)s, n, 0, 0, md, mctx)
			: pcre2_match(p->code, (PCRE2_SPTR)s, n, 0, 0, md, mctx);
	return rc > 0;
}

/* memmem for the short prefilters: memchr to the first byte, then compare. */
static bool contains(const char *s, size_t n, const char *w, size_t wn)
{
	const char *e = s + n;
	while ((size_t)(e - s) >= wn && (s = memchr(s, w[0], (size_t)(e - s) - wn + 1))) {
		if (!memcmp(s, w, wn))
			return true;
		s++;
	}
	return false;
}

static bool program_is(const struct dprogram *pr, const char *s, size_t n)
{
	if (!n || pr->name[0] != s[0])
		return false;
	return pr->prefix ? n >= pr->n && !memcmp(pr->name, s, pr->n)
			  : n == pr->n && !memcmp(pr->name, s, n);
}

/* The entry of d's programs that names the program or its module ("pam_unix" of
 * "sshd(pam_unix)"), or NULL. */
static const struct dprogram *selects(const struct ddecoder *d, const char *prog, size_t pn,
				      const char *mod, size_t mn)
{
	for (size_t i = 0; i < d->nprograms; i++)
		if (program_is(&d->programs[i], prog, pn) || program_is(&d->programs[i], mod, mn))
			return &d->programs[i];
	return NULL;
}

/* The generic type of the program's unmatched lines: the first decoder naming the program
 * (not its module) with one. */
static const char *program_generic(const struct decoder_set *s, const char *prog, size_t pn,
				   const struct ddecoder **dec)
{
	for (size_t i = 0; i < s->n; i++)
		for (size_t k = 0; k < s->decoders[i].nprograms; k++) {
			const struct dprogram *pr = &s->decoders[i].programs[k];
			if (pr->generic && program_is(pr, prog, pn)) {
				*dec = &s->decoders[i];
				return pr->generic;
			}
		}
	return NULL;
}

/* Solaris and illumos put "[ID 800047 auth.info] " before the message: skip it. */
static void skip_msgid(const char **s, size_t *n)
{
	const char *p = *s, *e = p + *n;
	if (*n < 12 || memcmp(p, "[ID ", 4))
		return;
	p += 4;
	const char *d = p;
	while (p < e && *p >= '0' && *p <= '9')
		p++;
	if (p == d || p == e || *p != ' ')
		return;
	const char *close = memchr(p, ']', (size_t)(e - p));
	if (!close || close - p > 40 || !memchr(p, '.', (size_t)(close - p)))
		return;
	p = close + 1;
	while (p < e && *p == ' ')
		p++;
	*s = p;
	*n = (size_t)(e - p);
}

static int apply(struct event *ev, struct arena *a, const struct dpattern *p, pcre2_match_data *md,
		 const char *s, const char *generic, int64_t repeated, struct decode_explain *ex)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	uint32_t ovn = pcre2_get_ovector_count(md);
	bool emitted[DEC_MAX_FIELDS] = {false};
	size_t bound = 64 + (p->extra ? strlen(p->extra) : 0);
	int rc;

	for (unsigned i = 0; i < p->nfields; i++) {
		const struct dfield *f = &p->fields[i];
		if (f->group < ovn && ov[2 * f->group] != PCRE2_UNSET)
			bound += f->namelen + 8 + 6 * (ov[2 * f->group + 1] - ov[2 * f->group]);
	}
	struct jsonw b = {arena_alloc(a, bound), 0};
	if (!b.p)
		return -ENOMEM;

	bool user_set = false;
	for (unsigned i = 0; i < p->nfields; i++) {
		const struct dfield *f = &p->fields[i];
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
		case K_IPWEAK:
			if (!ip_parse(v, vn, ip)) {
				if (!(ev->flags & EV_HAS_IP) || f->kind == K_IP) {
					if ((rc = set_ip(ev, a, ip)))
						return rc;
					if (ex)
						explain_add(ex, "source_ip", ev->source_ip.p,
							    ev->source_ip.n);
				}
				continue;
			}
			break;
		case K_HTTP_METHOD:
		case K_HTTP_PATH:
		case K_USER_AGENT:
		case K_REQUEST_ID:
		case K_ERROR_TYPE:
			if ((rc = set_event_str(ev, a, f->kind, v, vn)))
				return rc;
			if (ex)
				explain_add(ex, f->name, v, vn);
			continue;
		case K_HTTP_STATUS:
		case K_LATENCY_MS:
		case K_LATENCY_S:
			if (set_event_num(ev, f->kind, v, vn)) {
				if (ex)
					explain_add(ex, f->name, v, vn);
				continue;
			}
			break; /* not a number: kept in data as text */
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
	if (p->extra) {
		size_t xn = strlen(p->extra);
		if (b.n)
			b.p[b.n++] = ',';
		jsonw_raw(&b, p->extra, xn);
		if (ex)
			explain_add(ex, "extra", p->extra, xn);
	}
	if (repeated) {
		char num[32];
		int len = snprintf(num, sizeof(num), "%lld", (long long)repeated);
		put_key(&b, "repeated", 8);
		jsonw_raw(&b, num, (size_t)len);
	}
	if ((rc = merge_data(ev, a, &b)))
		return rc;
	if (!user_set && p->user)
		ev->user = (struct sv){p->user, strlen(p->user)};
	const char *type = p->type ? p->type : generic;
	ev->event_type = (struct sv){type, strlen(type)};
	if (p->sev)
		ev->severity = p->sev;
	return 1;
}

/* The program's generic type from its route; a program without one may still match a
 * "name*" entry with a generic type. */
static const char *route_generic(const struct decoder_set *set, const struct droute *rt,
				 const char *prog, size_t pn, const struct ddecoder **dec)
{
	if (rt) {
		if (!rt->generic_decoder)
			return NULL;
		*dec = rt->generic_decoder;
		for (size_t k = 0; k < rt->generic_decoder->nprograms; k++) {
			const struct dprogram *pr = &rt->generic_decoder->programs[k];
			if (pr->generic && program_is(pr, prog, pn))
				return pr->generic;
		}
		return NULL;
	}
	return set->prefix_generic ? program_generic(set, prog, pn, dec) : NULL;
}

int decode_auth(struct event *ev, struct arena *a, struct decode_explain *ex)
{
	int rc;
	if (ex) {
		ex->decoder = ex->pattern = ex->file = NULL;
		ex->fields[0] = '\0';
	}
	if (!ev->app.p || !ev->app.n || !ev->message.p || !ev->message.n)
		return 0;
	if (!atomic_load_explicit(&ready, memory_order_acquire) && (rc = decode_init()))
		return rc;
	struct tl_data *t = thread_state();
	if (!t)
		return -ENOMEM;
	const struct decoder_set *set = t->set;
	pcre2_match_data *md = t->md;

	/* The program: "sshd", "/usr/sbin/sshd", "sshd(pam_unix)" all mean sshd; pam_unix is
	 * the module, which decoders may select on too. */
	const char *prog = ev->app.p, *pe = prog + ev->app.n, *mod = NULL;
	size_t mn = 0;
	if (*prog == '/') {
		const char *slash = prog;
		for (const char *c = prog; c < pe; c++)
			if (*c == '/')
				slash = c;
		prog = slash + 1;
	}
	const char *paren = memchr(prog, '(', (size_t)(pe - prog));
	if (paren) {
		const char *close = memchr(paren, ')', (size_t)(pe - paren));
		mod = paren + 1;
		mn = close ? (size_t)(close - mod) : (size_t)(pe - mod);
		pe = paren;
	}
	size_t pn = (size_t)(pe - prog);

	const char *s = ev->message.p;
	size_t n = ev->message.n;
	int64_t repeated = 0;
	unwrap_repeated(&s, &n, &repeated);
	skip_msgid(&s, &n);

	/* The decoders to try: the program's route (or, for a tag with a module, every
	 * decoder, checked one by one). */
	const struct droute *rt = NULL;
	const uint32_t *list = NULL;
	size_t nlist = set->n;
	if (!mod) {
		rt = find_route(set, prog, pn);
		list = rt ? rt->decoders : set->dynamic;
		nlist = rt ? rt->ndecoders : set->ndynamic;
	}
	const struct ddecoder *d = NULL;
	const struct dpattern *p = NULL;
	for (size_t i = 0; i < nlist && !p; i++) {
		uint32_t e = list ? list[i] : (uint32_t)i | DROUTE_CHECK;
		d = &set->decoders[e & ~DROUTE_CHECK];
		if ((e & DROUTE_CHECK) && d->nprograms && !selects(d, prog, pn, mod, mn))
			continue;
		if (d->prefilter && !contains(s, n, d->prefilter, d->prefilter_n))
			continue;
		unsigned char b = (unsigned char)s[0];
		for (uint32_t k = d->first_at[b]; k < d->first_at[b + 1]; k++)
			if (run(&d->patterns[d->by_first[k]], md, s, n)) {
				p = &d->patterns[d->by_first[k]];
				break;
			}
	}
	const struct ddecoder *gd = NULL;
	const char *generic = NULL;
	if (p) {
		if (ex) {
			ex->decoder = d->name;
			ex->file = d->file;
			ex->pattern = p->name;
		}
		/* Only a typeless pattern needs the program's generic type. */
		if (!p->type && !(generic = route_generic(set, rt, prog, pn, &gd)))
			generic = d->generic;
		return apply(ev, a, p, md, s, generic, repeated, ex);
	}
	if (!(generic = route_generic(set, rt, prog, pn, &gd)))
		return 0;

	/* A program we decode, a message we do not know: the program's generic event. */
	if (ex) {
		ex->decoder = gd->name;
		ex->file = gd->file;
		ex->pattern = "generic";
	}
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
