/* state.c — the agent's positions file: a few "key<TAB>value" lines, rewritten whole (they are
 * small) through plat_write_atomic, so a crash leaves the previous or the new version. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/plat.h"
#include "agent/state.h"
#include "core/log.h"
#include "core/strbuf.h"

#define STATE_MAX ((size_t)16 << 20)

struct kv {
	char *key, *value;
};

struct state {
	char *path;
	struct kv *v;
	size_t n, cap;
	bool dirty;
};

static long find(const struct state *st, const char *key)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->v[i].key, key))
			return (long)i;
	return -1;
}

int state_set(struct state *st, const char *key, const char *value)
{
	long i = find(st, key);
	if (i >= 0 && value && !strcmp(st->v[i].value, value))
		return 0;
	if (i >= 0) {
		free(st->v[i].value);
		if (!value) {
			free(st->v[i].key);
			st->v[i] = st->v[--st->n];
			st->dirty = true;
			return 0;
		}
		if (!(st->v[i].value = strdup(value))) {
			free(st->v[i].key);
			st->v[i] = st->v[--st->n];
			return -ENOMEM;
		}
		st->dirty = true;
		return 0;
	}
	if (!value)
		return 0;
	if (strchr(key, '\t') || strchr(key, '\n') || strchr(value, '\n'))
		return -EINVAL;
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 16;
		struct kv *v = realloc(st->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		st->v = v;
		st->cap = cap;
	}
	struct kv kv = {strdup(key), strdup(value)};
	if (!kv.key || !kv.value) {
		free(kv.key);
		free(kv.value);
		return -ENOMEM;
	}
	st->v[st->n++] = kv;
	st->dirty = true;
	return 0;
}

int state_open(struct state **out, const char *path)
{
	struct state *st = calloc(1, sizeof(*st));
	char *text = NULL;
	size_t n = 0;
	int rc = 0;
	*out = NULL;
	if (!st)
		return -ENOMEM;
	if (path && !(st->path = strdup(path))) {
		rc = -ENOMEM;
		goto fail;
	}
	if (path && (rc = plat_read_file(path, STATE_MAX, &text, &n)) < 0 && rc != -ENOENT) {
		log_error("agent", "cannot read the state file '%s': %s", path, strerror(-rc));
		goto fail;
	}
	rc = 0;
	for (char *p = text; p && *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		char *tab = strchr(p, '\t');
		if (tab) {
			*tab = '\0';
			if ((rc = state_set(st, p, tab + 1)) < 0)
				goto fail;
		}
		p = nl ? nl + 1 : NULL;
	}
	st->dirty = false;
	free(text);
	*out = st;
	return 0;
fail:
	free(text);
	state_close(st);
	return rc;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++) {
		free(st->v[i].key);
		free(st->v[i].value);
	}
	free(st->v);
	free(st->path);
	free(st);
}

const char *state_get(const struct state *st, const char *key)
{
	long i = find(st, key);
	return i >= 0 ? st->v[i].value : NULL;
}

int state_save(struct state *st)
{
	struct strbuf b;
	int rc = 0;
	if (!st->dirty || !st->path)
		return 0;
	strbuf_init(&b, STATE_MAX);
	for (size_t i = 0; i < st->n && rc == 0; i++)
		rc = strbuf_addf(&b, "%s\t%s\n", st->v[i].key, st->v[i].value);
	if (rc == 0)
		rc = plat_write_atomic(st->path, b.p ? b.p : "", b.n);
	if (rc < 0)
		log_error("agent", "cannot save the state file '%s': %s", st->path, strerror(-rc));
	else
		st->dirty = false;
	strbuf_release(&b);
	return rc;
}
