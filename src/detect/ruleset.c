/* ruleset.c — the rule catalog: built-in rules read from a directory (again on SIGHUP),
 * rules added through the API read from the store, their enabled flags, and the set handed
 * to the engine (detector_set_rules); when the engine refuses the whole set, the rules that
 * it takes, one kind and then one rule at a time. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "detect/ruleset.h"
#include "store/store_alerts.h"

#define SUB "rules"

struct ruleset {
	pthread_mutex_t mu;
	struct store *s;
	struct detector *d;
	char *dir;
	struct ruleset_entry *v;
	size_t n, cap;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void ruleset_entry_release(struct ruleset_entry *e)
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
	free(e->needs);
	free(e->never);
	free(e->created_by);
	free(e->updated_by);
	memset(e, 0, sizeof(*e));
}

static void set_error(struct ruleset_entry *e, const char *err)
{
	free(e->error);
	e->error = dup_or_null(err);
}

/* Compile text that must hold exactly one rule; fill e's description of it. */
int ruleset_entry_describe(struct ruleset_entry *e, const char *text, const char *origin, char *err,
			   size_t errlen)
{
	struct rule **rules = NULL;
	size_t n = 0;
	/* the rules directory's files may hold longer rules than the API takes */
	int rc = !strncmp(origin, "builtin:", 8)
		     ? rule_compile_file(text, strlen(text), origin, &rules, &n, err, errlen)
		     : rule_compile(text, strlen(text), origin, &rules, &n, err, errlen);
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
		e->needs = rule_source_needs(rules[0]);
		e->never = dup_or_null(rule_never_fires(rules[0]));
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
		ruleset_entry_release(e);
	return rc;
}

/* ---- YAML documents ---- */

/* Call fn for each document of text ("---" / "..." marker lines split them), with the line
 * it starts on. Documents of only blanks and comments are skipped. */
int ruleset_each_doc(const char *text, size_t len,
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

struct ruleset_entry *ruleset_find(struct ruleset *rs, const char *id)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->v[i].id, id) == 0)
			return &rs->v[i];
	return NULL;
}

int ruleset_push(struct ruleset *rs, struct ruleset_entry *e)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 32;
		struct ruleset_entry *v = realloc(rs->v, cap * sizeof(*v));
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
		const char *t = rs->v[i].text;
		if ((rs->v[i].builtin ? rule_compile_file(t, strlen(t), rs->v[i].origin, &one, &k,
							  cerr, sizeof(cerr))
				      : rule_compile(t, strlen(t), rs->v[i].origin, &one, &k, cerr,
						     sizeof(cerr))) < 0) {
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
int ruleset_apply(struct ruleset *rs, char *err, size_t errlen)
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
	if (ruleset_apply(rs, err, sizeof(err)) == 0)
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
	struct ruleset_entry e;
	char err[512];
	char *text = strndup(doc, n);
	memset(&e, 0, sizeof(e));
	if (!text)
		return -ENOMEM;
	int rc = ruleset_entry_describe(&e, text, f->origin, err, sizeof(err));
	free(text);
	if (rc < 0) {
		log_error(SUB, "'%s' (document at line %d): %s", f->file, line, err);
		f->failed++;
		return 0;
	}
	struct ruleset_entry *old = ruleset_find(f->rs, e.id);
	if (old) {
		log_warn(SUB, "'%s' (line %d): rule id '%s' already loaded from %s: skipped",
			 f->file, line, e.id, old->origin);
		ruleset_entry_release(&e);
		f->failed++;
		return 0;
	}
	e.builtin = true;
	e.enabled = true;
	f->loaded++;
	return ruleset_push(f->rs, &e);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
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
		int rc = file_read_all(path, RULE_FILE_MAX, &text, &len);
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
			ruleset_each_doc(text, len, load_doc, &f);
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
			struct ruleset_entry *e = ruleset_find(rs, row->id);
			if (e && e->builtin)
				e->enabled = row->enabled;
			continue;
		}
		if (!api_rules)
			continue;
		struct ruleset_entry e;
		memset(&e, 0, sizeof(e));
		if (ruleset_entry_describe(&e, row->yaml, "api", err, sizeof(err)) < 0) {
			/* Kept (so it can be fixed or deleted), but not run. */
			log_error(SUB, "stored rule '%s' does not compile: %s", row->id, err);
			e.id = strdup(row->id);
			e.origin = strdup("api");
			e.text = strdup(row->yaml);
			e.title = strdup(row->id);
			e.error = strdup(err);
			if (!e.id || !e.origin || !e.text) {
				ruleset_entry_release(&e);
				continue;
			}
		} else if (strcmp(e.id, row->id) != 0) {
			free(e.id);
			e.id = strdup(row->id);
		}
		struct ruleset_entry *old = ruleset_find(rs, e.id);
		if (old) {
			/* An API rule wins over a built-in one that came later with its id. */
			log_warn(SUB, "rule '%s' of %s is shadowed by the API rule", e.id,
				 old->origin);
			ruleset_entry_release(old);
			*old = e;
		} else if (ruleset_push(rs, &e) < 0) {
			ruleset_entry_release(&e);
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
			ruleset_entry_release(&rs->v[i]);
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

int ruleset_reload(struct ruleset *rs)
{
	/* Read into a catalog of its own, outside the lock (the store may be slow), then swap. */
	struct ruleset fresh = {.s = rs->s, .dir = rs->dir};
	int rc;
	if ((rc = load_store(&fresh, true)) < 0 || (fresh.dir && (rc = load_dir(&fresh)) < 0) ||
	    (rc = load_store(&fresh, false)) < 0) {
		log_warn(SUB, "cannot read the rules again (%s): the rules in force stay",
			 siem_strerror(rc));
	} else {
		pthread_mutex_lock(&rs->mu);
		struct ruleset_entry *v = rs->v;
		size_t n = rs->n, cap = rs->cap;
		rs->v = fresh.v;
		rs->n = fresh.n;
		rs->cap = fresh.cap;
		fresh.v = v;
		fresh.n = n;
		fresh.cap = cap;
		apply_greedy(rs);
		pthread_mutex_unlock(&rs->mu);
	}
	for (size_t i = 0; i < fresh.n; i++)
		ruleset_entry_release(&fresh.v[i]);
	free(fresh.v);
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
	struct ruleset_entry *e = ruleset_find(rs, id);
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
		ruleset_entry_release(&rs->v[i]);
	free(rs->v);
	free(rs->dir);
	pthread_mutex_destroy(&rs->mu);
	free(rs);
}

/* ---- changes, for the rules API ---- */

void ruleset_lock(struct ruleset *rs)
{
	pthread_mutex_lock(&rs->mu);
}

void ruleset_unlock(struct ruleset *rs)
{
	pthread_mutex_unlock(&rs->mu);
}

size_t ruleset_len(struct ruleset *rs)
{
	return rs->n;
}

struct ruleset_entry *ruleset_at(struct ruleset *rs, size_t i)
{
	return &rs->v[i];
}

void ruleset_truncate(struct ruleset *rs, size_t n)
{
	while (rs->n > n)
		ruleset_entry_release(&rs->v[--rs->n]);
}

size_t ruleset_remove(struct ruleset *rs, struct ruleset_entry *e, struct ruleset_entry *out)
{
	size_t idx = (size_t)(e - rs->v);
	*out = *e;
	memmove(&rs->v[idx], &rs->v[idx + 1], (rs->n - idx - 1) * sizeof(*rs->v));
	rs->n--;
	return idx;
}

void ruleset_reinsert(struct ruleset *rs, size_t i, const struct ruleset_entry *e)
{
	memmove(&rs->v[i + 1], &rs->v[i], (rs->n - i) * sizeof(*rs->v));
	rs->v[i] = *e;
	rs->n++;
}
