/* rules.c — the rule set (built-in rules from a directory, rules added through the API kept
 * in the store) and its resource: GET|POST /rules, GET|PUT|DELETE /rules/{id},
 * POST /rules/{id}/enable|disable (POST /rules/test is rules_test.c). Every change is
 * validated by the engine, takes effect at once (detector_set_rules), is stored and is
 * written to the audit log. */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/alerts_api.h"
#include "api/api.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store_alerts.h"

#define SUB "rules"

struct rentry {
	char *id, *origin, *text;
	bool builtin, enabled;
	char *name, *title, *level, *author, *status, *description;
	int severity;
	enum rule_kind kind;
	char *error; /* why it does not run, or NULL */
	int64_t created_at, updated_at;
	char *created_by, *updated_by;
};

struct ruleset {
	pthread_mutex_t mu;
	struct store *s;
	struct detector *d;
	char *dir;
	struct rentry *v;
	size_t n, cap;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void rentry_release(struct rentry *e)
{
	free(e->id);
	free(e->origin);
	free(e->text);
	free(e->name);
	free(e->title);
	free(e->level);
	free(e->author);
	free(e->status);
	free(e->description);
	free(e->error);
	free(e->created_by);
	free(e->updated_by);
	memset(e, 0, sizeof(*e));
}

static void set_error(struct rentry *e, const char *err)
{
	free(e->error);
	e->error = dup_or_null(err);
}

/* Compile text that must hold exactly one rule; fill e's description of it. */
static int describe(struct rentry *e, const char *text, const char *origin, char *err,
		    size_t errlen)
{
	struct rule **rules = NULL;
	size_t n = 0;
	int rc = rule_compile(text, strlen(text), origin, &rules, &n, err, errlen);
	if (rc < 0)
		return rc;
	if (n != 1) {
		snprintf(err, errlen, "expected one rule, found %zu", n);
		rc = SIEM_ESCHEMA;
	} else {
		const struct rule_info *ri = rule_get_info(rules[0]);
		e->id = dup_or_null(ri->id);
		e->name = dup_or_null(ri->name);
		e->title = dup_or_null(ri->title);
		e->level = dup_or_null(ri->level);
		e->author = dup_or_null(ri->author);
		e->status = dup_or_null(ri->status);
		e->description = dup_or_null(ri->description);
		e->severity = ri->severity;
		e->kind = ri->kind;
		e->origin = strdup(origin);
		e->text = strdup(text);
		if (!e->id || !e->origin || !e->text) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++)
		rule_free(rules[i]);
	free(rules);
	if (rc < 0)
		rentry_release(e);
	return rc;
}

/* ---- YAML documents ---- */

/* Call fn for each document of text ("---" / "..." marker lines split them), with the line
 * it starts on. Documents of only blanks and comments are skipped. */
static int each_doc(const char *text, size_t len,
		    int (*fn)(void *arg, const char *doc, size_t n, int line), void *arg)
{
	size_t start = 0;
	int line = 1, doc_line = 1;
	bool content = false;
	for (size_t off = 0; off <= len; line++) {
		const char *nl = off < len ? memchr(text + off, '\n', len - off) : NULL;
		size_t ll = nl ? (size_t)(nl - (text + off)) : len - off;
		const char *l = text + off;
		bool marker = ll >= 3 && (strncmp(l, "---", 3) == 0 || strncmp(l, "...", 3) == 0) &&
			      (ll == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r');
		if (!marker) {
			size_t i = 0;
			while (i < ll && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r'))
				i++;
			if (i < ll && l[i] != '#')
				content = true;
		}
		if (marker || !nl) {
			size_t stop = marker ? off : len;
			if (content) {
				int rc = fn(arg, text + start, stop - start, doc_line);
				if (rc)
					return rc;
			}
			if (!nl)
				break;
			start = off + ll + 1;
			doc_line = line + 1;
			content = false;
		}
		off += ll + 1;
	}
	return 0;
}

/* ---- building the engine's set ---- */

static struct rentry *find(struct ruleset *rs, const char *id)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->v[i].id, id) == 0)
			return &rs->v[i];
	return NULL;
}

static int push(struct ruleset *rs, struct rentry *e)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 32;
		struct rentry *v = realloc(rs->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = *e;
	memset(e, 0, sizeof(*e));
	return 0;
}

/* Hand the entries for which take[i] is set to the engine. Compile errors are recorded on
 * their entry (and the entry left out); a refusal by the engine is returned with err. */
static int set_rules(struct ruleset *rs, const bool *take, char *err, size_t errlen)
{
	struct rule **all = calloc(rs->n + 1, sizeof(*all));
	size_t n = 0;
	char cerr[512];
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule **one = NULL;
		size_t k = 0;
		if (!take[i])
			continue;
		if (rule_compile(rs->v[i].text, strlen(rs->v[i].text), rs->v[i].origin, &one, &k,
				 cerr, sizeof(cerr)) < 0) {
			set_error(&rs->v[i], cerr);
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			if (j == 0)
				all[n++] = one[j];
			else
				rule_free(one[j]);
		}
		free(one);
	}
	/* The engine owns the rules and the array from here, also on failure. */
	if (rs->d)
		return detector_set_rules(rs->d, all, n, err, errlen);
	for (size_t i = 0; i < n; i++)
		rule_free(all[i]);
	free(all);
	return 0;
}

/* The enabled rules that compiled, in the engine; true when every one of them is in. */
static int apply(struct ruleset *rs, char *err, size_t errlen)
{
	bool *take = calloc(rs->n + 1, sizeof(*take));
	if (!take)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++)
		take[i] = rs->v[i].enabled && !rs->v[i].error;
	int rc = set_rules(rs, take, err, errlen);
	free(take);
	return rc;
}

/* At start and on reload: everything enabled; when the engine refuses the whole set, the
 * detection rules, then each correlation that resolves, and note why the others do not. */
static void apply_greedy(struct ruleset *rs)
{
	char err[512];
	for (size_t i = 0; i < rs->n; i++)
		set_error(&rs->v[i], NULL);
	if (apply(rs, err, sizeof(err)) == 0)
		return;
	log_warn(SUB, "rule set refused (%s): loading the rules one kind at a time", err);
	bool *take = calloc(rs->n + 1, sizeof(*take));
	if (!take)
		return;
	for (size_t i = 0; i < rs->n; i++)
		take[i] = rs->v[i].enabled && !rs->v[i].error && rs->v[i].kind == RULE_DETECTION;
	if (set_rules(rs, take, err, sizeof(err)) < 0) {
		/* One by one, then. */
		for (size_t i = 0; i < rs->n; i++)
			take[i] = false;
		for (size_t i = 0; i < rs->n; i++) {
			if (!rs->v[i].enabled || rs->v[i].error || rs->v[i].kind != RULE_DETECTION)
				continue;
			take[i] = true;
			if (set_rules(rs, take, err, sizeof(err)) < 0) {
				take[i] = false;
				set_error(&rs->v[i], err);
			}
		}
	}
	for (size_t i = 0; i < rs->n; i++) {
		if (!rs->v[i].enabled || rs->v[i].error || rs->v[i].kind == RULE_DETECTION)
			continue;
		take[i] = true;
		if (set_rules(rs, take, err, sizeof(err)) < 0) {
			take[i] = false;
			set_error(&rs->v[i], err);
			log_error(SUB, "rule '%s' left out: %s", rs->v[i].id, err);
		}
	}
	set_rules(rs, take, err, sizeof(err));
	free(take);
}

/* ---- loading ---- */

struct file_ctx {
	struct ruleset *rs;
	const char *file;
	char origin[300];
	int loaded, failed;
};

static int load_doc(void *arg, const char *doc, size_t n, int line)
{
	struct file_ctx *f = arg;
	struct rentry e;
	char err[512];
	char *text = strndup(doc, n);
	memset(&e, 0, sizeof(e));
	if (!text)
		return -ENOMEM;
	int rc = describe(&e, text, f->origin, err, sizeof(err));
	free(text);
	if (rc < 0) {
		log_error(SUB, "'%s' (document at line %d): %s", f->file, line, err);
		f->failed++;
		return 0;
	}
	struct rentry *old = find(f->rs, e.id);
	if (old) {
		log_warn(SUB, "'%s' (line %d): rule id '%s' already loaded from %s: skipped",
			 f->file, line, e.id, old->origin);
		rentry_release(&e);
		f->failed++;
		return 0;
	}
	e.builtin = true;
	e.enabled = true;
	f->loaded++;
	return push(f->rs, &e);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char *buf = malloc(RULE_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, RULE_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (!buf)
		return -ENOMEM;
	if (n > RULE_FILE_MAX) {
		free(buf);
		return SIEM_ETOOBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Every *.yml / *.yaml of the directory, in name order. */
static int load_dir(struct ruleset *rs)
{
	DIR *d = opendir(rs->dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int total = 0, failed = 0;
	if (!d) {
		int e = errno;
		if (e == ENOENT) {
			log_warn(SUB, "no rules directory '%s': no built-in rules", rs->dir);
			return 0;
		}
		log_error(SUB, "cannot open rules directory '%s': %s", rs->dir, strerror(e));
		return -e;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		/* mapping.yml maps Sigma fields onto events (the engine's), it is not a rule. */
		if (de->d_name[0] == '.' || strcmp(de->d_name, "mapping.yml") == 0 ||
		    strcmp(de->d_name, "mapping.yaml") == 0 ||
		    !((l > 4 && strcmp(de->d_name + l - 4, ".yml") == 0) ||
		      (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		char path[4096], *text = NULL;
		size_t len = 0;
		snprintf(path, sizeof(path), "%s/%s", rs->dir, names[i]);
		int rc = read_file(path, &text, &len);
		if (rc == SIEM_ETOOBIG) {
			log_error(SUB,
				  "'%s' is larger than %d bytes (%d KiB), the limit for a rule "
				  "file: skipped",
				  path, RULE_FILE_MAX, RULE_FILE_MAX / 1024);
			failed++;
		} else if (rc < 0) {
			log_error(SUB, "cannot read '%s': %s", path, siem_strerror(rc));
			failed++;
		} else {
			struct file_ctx f = {.rs = rs, .file = path};
			snprintf(f.origin, sizeof(f.origin), "builtin:%s", names[i]);
			each_doc(text, len, load_doc, &f);
			total += f.loaded;
			failed += f.failed;
			free(text);
		}
		free(names[i]);
	}
	free(names);
	log_info(SUB, "%d built-in rules from '%s'%s", total, rs->dir,
		 failed ? " (some refused, see above)" : "");
	return 0;
}

/* API rules from the store, then the stored enabled flags of built-in ones. */
static int load_store(struct ruleset *rs, bool api_rules)
{
	struct rule_row *rows = NULL;
	size_t n = 0;
	char err[512];
	int rc = store_rules_list(rs->s, &rows, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct rule_row *row = &rows[i];
		if (!row->yaml) {
			struct rentry *e = find(rs, row->id);
			if (e && e->builtin)
				e->enabled = row->enabled;
			continue;
		}
		if (!api_rules)
			continue;
		struct rentry e;
		memset(&e, 0, sizeof(e));
		if (describe(&e, row->yaml, "api", err, sizeof(err)) < 0) {
			/* Kept (so it can be fixed or deleted), but not run. */
			log_error(SUB, "stored rule '%s' does not compile: %s", row->id, err);
			e.id = strdup(row->id);
			e.origin = strdup("api");
			e.text = strdup(row->yaml);
			e.title = strdup(row->id);
			e.error = strdup(err);
			if (!e.id || !e.origin || !e.text) {
				rentry_release(&e);
				continue;
			}
		} else if (strcmp(e.id, row->id) != 0) {
			free(e.id);
			e.id = strdup(row->id);
		}
		struct rentry *old = find(rs, e.id);
		if (old) {
			/* An API rule wins over a built-in one that came later with its id. */
			log_warn(SUB, "rule '%s' of %s is shadowed by the API rule", e.id,
				 old->origin);
			rentry_release(old);
			*old = e;
		} else if (push(rs, &e) < 0) {
			rentry_release(&e);
			continue;
		} else {
			old = &rs->v[rs->n - 1];
		}
		old->enabled = row->enabled;
		old->created_at = row->created_at;
		old->updated_at = row->updated_at;
		old->created_by = dup_or_null(row->created_by);
		old->updated_by = dup_or_null(row->updated_by);
	}
	store_rule_rows_free(rows, n);
	return 0;
}

int ruleset_open(struct ruleset **out, struct store *s, struct detector *d, const char *dir)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	pthread_mutex_init(&rs->mu, NULL);
	rs->s = s;
	rs->d = d;
	if (dir && *dir && !(rs->dir = strdup(dir))) {
		ruleset_close(rs);
		return -ENOMEM;
	}
	int rc = 0;
	/* API rules first: they shadow built-in ones with the same id. */
	if ((rc = load_store(rs, true)) < 0 || (rs->dir && (rc = load_dir(rs)) < 0) ||
	    (rc = load_store(rs, false)) < 0) {
		ruleset_close(rs);
		return rc;
	}
	apply_greedy(rs);
	*out = rs;
	return 0;
}

int ruleset_reload_dir(struct ruleset *rs)
{
	int rc = 0;
	if (!rs || !rs->dir)
		return 0;
	pthread_mutex_lock(&rs->mu);
	size_t keep = 0;
	for (size_t i = 0; i < rs->n; i++) {
		if (rs->v[i].builtin)
			rentry_release(&rs->v[i]);
		else
			rs->v[keep++] = rs->v[i];
	}
	rs->n = keep;
	if ((rc = load_dir(rs)) == 0)
		rc = load_store(rs, false);
	apply_greedy(rs);
	pthread_mutex_unlock(&rs->mu);
	store_audit(rs->s, "sighup", NULL, "rules.reload", rs->dir, NULL);
	return rc;
}

size_t ruleset_count(struct ruleset *rs)
{
	pthread_mutex_lock(&rs->mu);
	size_t n = rs->n;
	pthread_mutex_unlock(&rs->mu);
	return n;
}

int ruleset_rule_text(struct ruleset *rs, const char *id, char **text)
{
	int rc = SIEM_ENOTFOUND;
	*text = NULL;
	if (!rs)
		return rc;
	pthread_mutex_lock(&rs->mu);
	struct rentry *e = find(rs, id);
	if (e)
		rc = (*text = strdup(e->text)) ? 0 : -ENOMEM;
	pthread_mutex_unlock(&rs->mu);
	return rc;
}

void ruleset_close(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rentry_release(&rs->v[i]);
	free(rs->v);
	free(rs->dir);
	pthread_mutex_destroy(&rs->mu);
	free(rs);
}

/* ---- JSON ---- */

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static void set_time(json_t *o, const char *k, int64_t us)
{
	char buf[32];
	json_object_set_new(o, k, us ? json_stringn(buf, ts_format(us, buf)) : json_null());
}

static json_t *rule_json(const struct rentry *e, json_t *stats, bool with_text)
{
	json_t *o = json_object(), *st = stats ? json_object_get(stats, e->id) : NULL;
	set_str(o, "id", e->id);
	set_str(o, "name", e->name);
	set_str(o, "title", e->title);
	set_str(o, "level", e->level);
	json_object_set_new(o, "severity", json_integer(e->severity));
	set_str(o, "author", e->author);
	set_str(o, "status", e->status);
	set_str(o, "description", e->description);
	set_str(o, "kind", e->kind == RULE_CORRELATION ? "correlation" : "detection");
	set_str(o, "origin", e->origin);
	json_object_set_new(o, "builtin", json_boolean(e->builtin));
	json_object_set_new(o, "enabled", json_boolean(e->enabled));
	json_object_set_new(o, "running", json_boolean(e->enabled && !e->error));
	set_str(o, "error", e->error);
	json_object_set_new(o, "hits",
			    json_integer(json_integer_value(json_object_get(st, "hits"))));
	json_object_set_new(o, "alerts",
			    json_integer(json_integer_value(json_object_get(st, "alerts"))));
	json_object_set_new(o, "open_alerts",
			    json_integer(json_integer_value(json_object_get(st, "open"))));
	json_t *lh = json_object_get(st, "last_hit");
	json_object_set_new(o, "last_hit", lh ? json_incref(lh) : json_null());
	if (!e->builtin) {
		set_time(o, "created_at", e->created_at);
		set_str(o, "created_by", e->created_by);
		set_time(o, "updated_at", e->updated_at);
		set_str(o, "updated_by", e->updated_by);
	}
	if (with_text)
		set_str(o, "yaml", e->text);
	return o;
}

static struct ruleset *ctx_rules(void)
{
	return alerts_api_ctx.rules;
}

static enum http_result no_rules(struct http_req *r)
{
	return http_reply_error(r, 503, "detection is not running", NULL);
}

enum http_result rules_reply_error(struct http_req *r, unsigned status, const char *what,
				   const char *err)
{
	json_t *o = json_object();
	set_str(o, "error", what);
	set_str(o, "detail", err);
	const char *l = strstr(err, "line ");
	if (l && l[5] >= '0' && l[5] <= '9')
		json_object_set_new(o, "line", json_integer(strtol(l + 5, NULL, 10)));
	return http_reply_json(r, status, o);
}

enum http_result rules_reply_too_big(struct http_req *r, size_t limit, const char *what)
{
	char detail[200];
	if (limit == RULE_TEXT_MAX)
		snprintf(detail, sizeof(detail),
			 "%s over %zu bytes (%zu KiB), the limit for a rule", what, limit,
			 limit / 1024);
	else
		snprintf(detail, sizeof(detail),
			 "%s over %zu bytes (%zu KiB), the limit for a rule request (its rule text "
			 "may have up to %d bytes, 64 KiB)",
			 what, limit, limit / 1024, RULE_TEXT_MAX);
	json_t *o = json_object();
	set_str(o, "error", "rule too large");
	set_str(o, "detail", detail);
	json_object_set_new(o, "limit", json_integer((json_int_t)limit));
	return http_reply_json(r, 413, o);
}

/* The rule id of the path ("{id}" or "{id}/enable"), into buf. */
static const char *path_rule_id(struct http_req *r, char *buf, size_t len)
{
	const char *arg = http_path_arg(r);
	size_t n = arg ? strcspn(arg, "/") : 0;
	if (n == 0 || n >= len)
		return NULL;
	memcpy(buf, arg, n);
	buf[n] = '\0';
	return buf;
}

static void audit(struct http_req *r, const char *action, const char *id, const char *detail)
{
	char obj[300];
	snprintf(obj, sizeof(obj), "rule:%s", id);
	store_audit(api_ctx->store, http_identity(r), http_client_addr(r), action, obj, detail);
}

/* ---- GET /rules, GET /rules/{id} ---- */

enum http_result api_rules_list(struct http_req *r)
{
	struct ruleset *rs = ctx_rules();
	if (!rs)
		return no_rules(r);
	json_t *stats = json_object(), *list = json_array();
	store_alerts_rule_stats(api_ctx->store, stats);
	pthread_mutex_lock(&rs->mu);
	for (size_t i = 0; i < rs->n; i++)
		json_array_append_new(list, rule_json(&rs->v[i], stats, false));
	pthread_mutex_unlock(&rs->mu);
	json_decref(stats);
	json_t *o = json_object();
	json_object_set_new(o, "rules", list);
	return http_reply_json(r, 200, o);
}

enum http_result api_rules_get(struct http_req *r)
{
	struct ruleset *rs = ctx_rules();
	char idbuf[256];
	const char *id = path_rule_id(r, idbuf, sizeof(idbuf));
	if (!rs)
		return no_rules(r);
	if (!id)
		return http_reply_error(r, 400, "invalid rule id", NULL);
	json_t *stats = json_object(), *o = NULL;
	store_alerts_rule_stats(api_ctx->store, stats);
	pthread_mutex_lock(&rs->mu);
	struct rentry *e = find(rs, id);
	if (e)
		o = rule_json(e, stats, true);
	pthread_mutex_unlock(&rs->mu);
	json_decref(stats);
	if (!o)
		return http_reply_error(r, 404, "not found", id);
	return http_reply_json(r, 200, o);
}

/* ---- POST /rules ---- */

/* The rule text of a request: a JSON {"yaml": "..."} body, or the body itself. NULL when
 * the body or the text is over its limit: a 413 was queued into *res. The limits are checked
 * before anything is parsed, so that parsing costs a bounded time. */
static const char *body_text(struct http_req *r, json_t **json, size_t *len, enum http_result *res)
{
	size_t n;
	const char *b = http_body(r, &n);
	const char *ct = http_header(r, "Content-Type");
	bool is_json = ct && strncmp(ct, "application/json", 16) == 0;
	*json = NULL;
	*len = n;
	if (is_json && n > RULE_JSON_BODY_MAX) {
		*res = rules_reply_too_big(r, RULE_JSON_BODY_MAX, "JSON body");
		return NULL;
	}
	if (is_json) {
		*json = json_loadb(b, n, 0, NULL);
		const char *y = json_string_value(json_object_get(*json, "yaml"));
		if (y) {
			*len = strlen(y);
			b = y;
		}
	}
	if (*len > RULE_TEXT_MAX) {
		json_decref(*json);
		*json = NULL;
		*res = rules_reply_too_big(r, RULE_TEXT_MAX, "rule text");
		return NULL;
	}
	return b;
}

struct create_ctx {
	struct rentry *v;
	size_t n, cap;
	char err[600];
};

static int create_doc(void *arg, const char *doc, size_t n, int line)
{
	struct create_ctx *c = arg;
	char err[512];
	char *text = strndup(doc, n);
	if (!text)
		return -ENOMEM;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		struct rentry *v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			free(text);
			return -ENOMEM;
		}
		c->v = v;
		c->cap = cap;
	}
	memset(&c->v[c->n], 0, sizeof(c->v[0]));
	int rc = describe(&c->v[c->n], text, "api", err, sizeof(err));
	free(text);
	if (rc < 0) {
		snprintf(c->err, sizeof(c->err), "document at line %d: %s", line, err);
		return rc;
	}
	c->n++;
	return 0;
}

enum http_result api_rules_create(struct http_req *r)
{
	struct ruleset *rs = ctx_rules();
	struct create_ctx c = {0};
	char err[600];
	json_t *json = NULL;
	size_t len;
	int rc;
	enum http_result res = HTTP_DONE;
	if (!rs)
		return no_rules(r);
	const char *text = body_text(r, &json, &len, &res);
	if (!text)
		return res;
	/* The whole body first, so that error lines count from its first line. */
	struct rule **rules = NULL;
	size_t nr = 0;
	if ((rc = rule_compile(text, len, "api", &rules, &nr, err, sizeof(err))) < 0) {
		json_decref(json);
		return rules_reply_error(r, 422, "invalid rule", err);
	}
	for (size_t i = 0; i < nr; i++)
		rule_free(rules[i]);
	free(rules);
	if (nr == 0) {
		json_decref(json);
		return rules_reply_error(r, 422, "invalid rule", "no rule in the body");
	}
	rc = each_doc(text, len, create_doc, &c);
	json_decref(json);
	if (rc < 0) {
		for (size_t i = 0; i < c.n; i++)
			rentry_release(&c.v[i]);
		free(c.v);
		return rules_reply_error(r, 422, "invalid rule", c.err);
	}
	bool enabled =
	    !(http_query(r, "enabled") && strcmp(http_query(r, "enabled"), "false") == 0);
	pthread_mutex_lock(&rs->mu);
	size_t n0 = rs->n;
	for (size_t i = 0; i < c.n; i++) {
		bool dup = find(rs, c.v[i].id) != NULL;
		for (size_t k = 0; k < i && !dup; k++)
			dup = strcmp(c.v[k].id, c.v[i].id) == 0;
		if (dup) {
			snprintf(err, sizeof(err), "a rule with id '%s' exists", c.v[i].id);
			res = http_reply_error(r, 409, "conflict", err);
			goto undo;
		}
	}
	int64_t now = ts_now_us();
	for (size_t i = 0; i < c.n; i++) {
		c.v[i].enabled = enabled;
		c.v[i].created_at = c.v[i].updated_at = now;
		c.v[i].created_by = strdup(http_identity(r));
		c.v[i].updated_by = strdup(http_identity(r));
		if (push(rs, &c.v[i]) < 0) {
			res = http_reply_error(r, 500, "out of memory", NULL);
			goto undo;
		}
	}
	if ((rc = apply(rs, err, sizeof(err))) < 0) {
		res = rules_reply_error(r, 422, "rule refused by the engine", err);
		goto undo;
	}
	for (size_t i = n0; i < rs->n; i++) {
		if ((rc = store_rule_put(api_ctx->store, rs->v[i].id, "api", rs->v[i].text,
					 rs->v[i].enabled, http_identity(r))) < 0) {
			for (size_t k = n0; k < i; k++)
				store_rule_delete(api_ctx->store, rs->v[k].id);
			res = http_reply_error(r, 500, "cannot store the rule", siem_strerror(rc));
			goto undo;
		}
	}
	json_t *list = json_array();
	for (size_t i = n0; i < rs->n; i++) {
		audit(r, "rule.create", rs->v[i].id, rs->v[i].title);
		log_info(SUB, "rule '%s' added by %s", rs->v[i].id, http_identity(r));
		json_array_append_new(list, rule_json(&rs->v[i], NULL, false));
	}
	pthread_mutex_unlock(&rs->mu);
	for (size_t i = 0; i < c.n; i++)
		rentry_release(&c.v[i]);
	free(c.v);
	json_t *o = json_object();
	json_object_set_new(o, "rules", list);
	return http_reply_json(r, 201, o);
undo:
	while (rs->n > n0)
		rentry_release(&rs->v[--rs->n]);
	apply(rs, err, sizeof(err));
	pthread_mutex_unlock(&rs->mu);
	for (size_t i = 0; i < c.n; i++)
		rentry_release(&c.v[i]);
	free(c.v);
	return res;
}

/* ---- PUT /rules/{id}, enable, disable, DELETE ---- */

static enum http_result set_enabled(struct http_req *r, const char *id, bool enabled)
{
	struct ruleset *rs = ctx_rules();
	char err[600];
	pthread_mutex_lock(&rs->mu);
	struct rentry *e = find(rs, id);
	if (!e) {
		pthread_mutex_unlock(&rs->mu);
		return http_reply_error(r, 404, "not found", id);
	}
	bool was = e->enabled;
	e->enabled = enabled;
	int rc = apply(rs, err, sizeof(err));
	if (rc == 0)
		rc = store_rule_set_enabled(api_ctx->store, id, e->builtin ? "builtin" : "api",
					    enabled, http_identity(r));
	if (rc < 0) {
		char err2[300];
		e->enabled = was;
		apply(rs, err2, sizeof(err2));
		pthread_mutex_unlock(&rs->mu);
		return rc == SIEM_ESCHEMA || rc == SIEM_EPARSE
			   ? rules_reply_error(r, 409, "the rule set would be invalid", err)
			   : http_reply_error(r, 500, "cannot change the rule", siem_strerror(rc));
	}
	if (!e->builtin) {
		e->updated_at = ts_now_us();
		free(e->updated_by);
		e->updated_by = strdup(http_identity(r));
	}
	if (was != enabled)
		audit(r, enabled ? "rule.enable" : "rule.disable", id, NULL);
	json_t *stats = json_object();
	store_alerts_rule_stats(api_ctx->store, stats);
	json_t *o = rule_json(e, stats, false);
	json_decref(stats);
	pthread_mutex_unlock(&rs->mu);
	return http_reply_json(r, 200, o);
}

enum http_result api_rules_enable(struct http_req *r)
{
	char idbuf[256];
	const char *id = path_rule_id(r, idbuf, sizeof(idbuf));
	if (!ctx_rules())
		return no_rules(r);
	return id ? set_enabled(r, id, true) : http_reply_error(r, 400, "invalid rule id", NULL);
}

enum http_result api_rules_disable(struct http_req *r)
{
	char idbuf[256];
	const char *id = path_rule_id(r, idbuf, sizeof(idbuf));
	if (!ctx_rules())
		return no_rules(r);
	return id ? set_enabled(r, id, false) : http_reply_error(r, 400, "invalid rule id", NULL);
}

enum http_result api_rules_put(struct http_req *r)
{
	struct ruleset *rs = ctx_rules();
	char idbuf[256], err[600];
	const char *id = path_rule_id(r, idbuf, sizeof(idbuf));
	json_t *json = NULL;
	size_t len;
	if (!rs)
		return no_rules(r);
	if (!id)
		return http_reply_error(r, 400, "invalid rule id", NULL);
	enum http_result res = HTTP_DONE;
	const char *text = body_text(r, &json, &len, &res);
	if (!text)
		return res;
	/* {"enabled": bool} alone switches the rule on or off. */
	json_t *en = json_object_get(json, "enabled");
	if (json_is_boolean(en) && !json_object_get(json, "yaml")) {
		bool on = json_is_true(en);
		json_decref(json);
		return set_enabled(r, id, on);
	}
	struct rentry e;
	memset(&e, 0, sizeof(e));
	char *t = strndup(text, len);
	int rc = t ? describe(&e, t, "api", err, sizeof(err)) : -ENOMEM;
	free(t);
	json_decref(json);
	if (rc < 0)
		return rules_reply_error(r, 422, "invalid rule", err);
	if (strcmp(e.id, id) != 0) {
		snprintf(err, sizeof(err), "the rule's id is '%s', not '%s'", e.id, id);
		rentry_release(&e);
		return rules_reply_error(r, 422, "invalid rule", err);
	}
	pthread_mutex_lock(&rs->mu);
	struct rentry *old = find(rs, id);
	if (!old || old->builtin) {
		pthread_mutex_unlock(&rs->mu);
		rentry_release(&e);
		return old ? http_reply_error(r, 409, "conflict",
					      "built-in rules can only be enabled or disabled")
			   : http_reply_error(r, 404, "not found", id);
	}
	struct rentry saved = *old;
	e.enabled = saved.enabled;
	e.created_at = saved.created_at;
	e.created_by = dup_or_null(saved.created_by);
	e.updated_at = ts_now_us();
	e.updated_by = strdup(http_identity(r));
	*old = e;
	if ((rc = apply(rs, err, sizeof(err))) < 0 ||
	    (rc = store_rule_put(api_ctx->store, id, "api", old->text, old->enabled,
				 http_identity(r))) < 0) {
		rentry_release(old);
		*old = saved;
		char err2[300];
		apply(rs, err2, sizeof(err2));
		pthread_mutex_unlock(&rs->mu);
		return rc == SIEM_ESCHEMA || rc == SIEM_EPARSE
			   ? rules_reply_error(r, 422, "rule refused by the engine", err)
			   : http_reply_error(r, 500, "cannot store the rule", siem_strerror(rc));
	}
	rentry_release(&saved);
	audit(r, "rule.update", id, old->title);
	json_t *o = rule_json(old, NULL, true);
	pthread_mutex_unlock(&rs->mu);
	return http_reply_json(r, 200, o);
}

enum http_result api_rules_delete(struct http_req *r)
{
	struct ruleset *rs = ctx_rules();
	char idbuf[256], err[600];
	const char *id = path_rule_id(r, idbuf, sizeof(idbuf));
	if (!rs)
		return no_rules(r);
	if (!id)
		return http_reply_error(r, 400, "invalid rule id", NULL);
	pthread_mutex_lock(&rs->mu);
	struct rentry *e = find(rs, id);
	if (!e || e->builtin) {
		pthread_mutex_unlock(&rs->mu);
		return e ? http_reply_error(
			       r, 409, "conflict",
			       "built-in rules cannot be deleted; disable them instead")
			 : http_reply_error(r, 404, "not found", id);
	}
	size_t idx = (size_t)(e - rs->v);
	struct rentry saved = *e;
	memmove(&rs->v[idx], &rs->v[idx + 1], (rs->n - idx - 1) * sizeof(*rs->v));
	rs->n--;
	int rc = apply(rs, err, sizeof(err));
	if (rc == 0)
		rc = store_rule_delete(api_ctx->store, saved.id);
	if (rc < 0) {
		memmove(&rs->v[idx + 1], &rs->v[idx], (rs->n - idx) * sizeof(*rs->v));
		rs->v[idx] = saved;
		rs->n++;
		char err2[300];
		apply(rs, err2, sizeof(err2));
		pthread_mutex_unlock(&rs->mu);
		return rc == SIEM_ESCHEMA || rc == SIEM_EPARSE
			   ? rules_reply_error(r, 409, "other rules refer to it", err)
			   : http_reply_error(r, 500, "cannot delete the rule", siem_strerror(rc));
	}
	audit(r, "rule.delete", saved.id, saved.title);
	log_info(SUB, "rule '%s' deleted by %s", saved.id, http_identity(r));
	json_t *o = json_object();
	set_str(o, "id", saved.id);
	json_object_set_new(o, "deleted", json_true());
	pthread_mutex_unlock(&rs->mu);
	rentry_release(&saved);
	return http_reply_json(r, 200, o);
}
