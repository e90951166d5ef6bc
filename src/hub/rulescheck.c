/* rulescheck.c — `minisiem rules check DIR...`: compile every rule file of folders of Sigma
 * rules (SigmaHQ's repository, a rule pack), count what is accepted, refused and can never
 * fire, and group the refusals by their reason. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "detect/sigma_int.h"
#include "hub/cmd.h"
#include "hub/rulestest.h"

#define CHECK_MAX_FILES 100000 /* rule files one run reads */
#define CHECK_MAX_DEPTH 32     /* folder nesting */

static const struct opt_def check_opts[] = {
    {"mapping", NULL, OPT_STRING, NULL, "FILE",
     "logsource and field mapping to use instead of the built-in rules/mapping.yml", false, 0, 0},
    {"sigma-placeholders", NULL, OPT_STRING, NULL, "FILE",
     "values of the 'expand' modifier's placeholders (YAML: name: [values])", false, 0, 0},
    {"json", NULL, OPT_FLAG, NULL, NULL, "print one JSON object instead of tables", false, 0, 0},
    {"list", NULL, OPT_FLAG, NULL, NULL, "also print each refused or never-firing file", false, 0,
     0},
};
#define N_OPTS (sizeof(check_opts) / sizeof(check_opts[0]))

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: minisiem rules check [--mapping FILE] [--sigma-placeholders FILE] [--json]\n"
	    "                            [--list] DIR|FILE...\n\n"
	    "Compile every Sigma rule file (*.yml, *.yaml) under the folders given, as the hub\n"
	    "would load them, and print how many are accepted, refused (with each reason and\n"
	    "how many files it refuses) and accepted but unable to fire (their logsource is\n"
	    "mapped, but rules/mapping.yml says no event minisiem receives can match it), in\n"
	    "total and per first-level folder.\n\n"
	    "options:\n");
	config_usage(check_opts, N_OPTS, out);
	fprintf(out, "  --help, -h                   print this help\n\n"
		     "exit status: 0 every file accepted, 1 a file refused or unreadable, 2 usage "
		     "error\n");
}

/* One rule file's outcome. */
struct item {
	char *path;
	const char *group; /* the argument and its first folder (points into path) */
	size_t glen;
	char *product; /* the first rule's logsource product, or NULL */
	char *reason;  /* refused or never fires: why; NULL when accepted and able to fire */
	bool refused;
	size_t nrules;
};

struct check {
	struct item *it;
	size_t n, cap;
	int err;
};

static int add_file(struct check *c, const char *path, size_t rootlen)
{
	if (c->n == CHECK_MAX_FILES)
		return SIEM_ETOOBIG;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct item *it = realloc(c->it, cap * sizeof(*it));
		if (!it)
			return -ENOMEM;
		c->it = it;
		c->cap = cap;
	}
	struct item *i = &c->it[c->n];
	memset(i, 0, sizeof(*i));
	if (!(i->path = strdup(path)))
		return -ENOMEM;
	const char *g = i->path + rootlen;
	while (*g == '/')
		g++;
	const char *slash = strchr(g, '/');
	i->group = i->path;
	i->glen = slash ? (size_t)(slash - i->path) : rootlen;
	c->n++;
	return 0;
}

static bool is_rule_name(const char *name)
{
	size_t n = strlen(name);
	return (n > 4 && !strcmp(name + n - 4, ".yml")) ||
	       (n > 5 && !strcmp(name + n - 5, ".yaml"));
}

/* Rule files under dir, in name order (deterministic output), links not followed. */
static int walk(struct check *c, const char *dir, size_t rootlen, int depth)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "minisiem rules check: cannot read '%s': %s\n", dir,
			strerror(errno));
		return -errno;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		if (rc || name[0] == '.')
			continue;
		size_t len = strlen(dir) + strlen(name) + 2;
		char *p = malloc(len);
		if (!p) {
			rc = -ENOMEM;
			continue;
		}
		snprintf(p, len, "%s/%s", dir, name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (depth < CHECK_MAX_DEPTH)
				rc = walk(c, p, rootlen, depth + 1);
		} else if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && is_rule_name(name)) {
			rc = add_file(c, p, rootlen);
		}
		free(p);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc;
}

static int read_whole(const char *path, char **out, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	char *buf = malloc(RULE_FILE_MAX + 1);
	int rc = 0;
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	*n = fread(buf, 1, RULE_FILE_MAX + 1, f);
	if (ferror(f))
		rc = -EIO;
	else if (*n > RULE_FILE_MAX)
		rc = SIEM_ETOOBIG;
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[*n] = '\0';
	*out = buf;
	return 0;
}

/* The reason without the rule's name and line, so that equal reasons group:
 * "rule 'X' (document 1): line 7: unsupported: modifier 'expand'" -> "unsupported: ...". */
static const char *bare_reason(const char *err)
{
	const char *p = err;
	const char *q = NULL;
	if (!strncmp(p, "rule '", 6) && (q = strstr(p, "): ")))
		p = q + 3;
	else if (!strncmp(p, "document ", 9) && (q = strchr(p, ':')) && q[1] == ' ')
		p = q + 2;
	if (!strncmp(p, "line ", 5)) {
		const char *d = p + 5;
		while (*d >= '0' && *d <= '9')
			d++;
		if (d[0] == ':' && d[1] == ' ')
			p = d + 2;
	}
	return p;
}

/* The logsource product of a file's first document, to count by product whether the rule
 * compiles or not. */
static char *first_product(const char *text, size_t n)
{
	yaml_parser_t parser;
	struct ydoc y;
	char *out = NULL;
	memset(&y, 0, sizeof(y));
	if (!yaml_parser_initialize(&parser))
		return NULL;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
	if (yaml_parser_load(&parser, &y.doc)) {
		yaml_node_t *root = yaml_document_get_root_node(&y.doc);
		yaml_node_t *ls = root && root->type == YAML_MAPPING_NODE
				      ? ymap_get(&y, root, "logsource")
				      : NULL;
		yaml_node_t *p =
		    ls && ls->type == YAML_MAPPING_NODE ? ymap_get(&y, ls, "product") : NULL;
		const char *s;
		size_t sn;
		if (p && yscalar(p, &s, &sn))
			out = strndup(s, sn);
		yaml_document_delete(&y.doc);
	}
	yaml_parser_delete(&parser);
	return out;
}

static int check_file(struct item *it)
{
	char *text = NULL, err[1024];
	size_t n = 0;
	struct rule **rules = NULL;
	size_t nrules = 0;
	int rc = read_whole(it->path, &text, &n);
	if (rc) {
		it->refused = true;
		snprintf(err, sizeof(err), "cannot read: %s", siem_strerror(rc));
		it->reason = strdup(err);
		return it->reason ? 0 : -ENOMEM;
	}
	it->product = first_product(text, n);
	rc = rule_compile_file(text, n, it->path, &rules, &nrules, err, sizeof(err));
	free(text);
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		it->refused = true;
		it->reason = strdup(bare_reason(err));
		return it->reason ? 0 : -ENOMEM;
	}
	it->nrules = nrules;
	const char *never = NULL;
	size_t nnever = 0;
	for (size_t i = 0; i < nrules; i++) {
		const char *why = rule_never_fires(rules[i]);
		if (why) {
			never = why;
			nnever++;
		}
	}
	/* a file fires if any of its rules can (its correlations need them all, but a
	 * correlation over a rule that cannot fire is rare enough to count the file once) */
	if (never && nnever == nrules && !(it->reason = strdup(never)))
		rc = -ENOMEM;
	for (size_t i = 0; i < nrules; i++)
		rule_free(rules[i]);
	free(rules);
	return rc;
}

/* ---- tallies ---- */

struct tally {
	const char *key; /* a reason, or a folder name */
	size_t keyn;
	size_t count, accepted, refused, never;
	size_t first; /* item index of its first file (listing order) */
};

struct tallies {
	struct tally *t;
	size_t n;
};

static struct tally *tally_get(struct tallies *ts, const char *key, size_t keyn, size_t first)
{
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].keyn == keyn && !memcmp(ts->t[i].key, key, keyn))
			return &ts->t[i];
	struct tally *t = realloc(ts->t, (ts->n + 1) * sizeof(*t));
	if (!t)
		return NULL;
	ts->t = t;
	t = &ts->t[ts->n++];
	memset(t, 0, sizeof(*t));
	t->key = key;
	t->keyn = keyn;
	t->first = first;
	return t;
}

static int by_count(const void *a, const void *b)
{
	const struct tally *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->first < y->first ? -1 : x->first > y->first;
}

static double pct(size_t a, size_t n)
{
	return n ? 100.0 * (double)a / (double)n : 100.0;
}

static json_t *reasons_json(const struct check *c, const struct tallies *ts, bool refused)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < ts->n; i++) {
		const struct tally *t = &ts->t[i];
		json_t *files = json_array();
		for (size_t k = 0; files && k < c->n; k++) {
			const struct item *it = &c->it[k];
			if (it->reason && it->refused == refused && strlen(it->reason) == t->keyn &&
			    !memcmp(it->reason, t->key, t->keyn))
				json_array_append_new(files, json_string(it->path));
		}
		json_array_append_new(arr,
				      json_pack("{s:s%,s:I,s:o*}", "reason", t->key, t->keyn,
						"count", (json_int_t)t->count, "files", files));
	}
	return arr;
}

static json_t *tallies_json(const struct tallies *ts, const char *what)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < ts->n; i++) {
		const struct tally *g = &ts->t[i];
		json_array_append_new(arr, json_pack("{s:s%,s:I,s:I,s:I,s:I}", what, g->key,
						     g->keyn, "files", (json_int_t)g->count,
						     "accepted", (json_int_t)g->accepted, "refused",
						     (json_int_t)g->refused, "never_fires",
						     (json_int_t)g->never));
	}
	return arr;
}

static void print_tallies(const struct tallies *ts, const char *what)
{
	if (ts->n < 2)
		return;
	printf("\n%-40s %6s %9s %6s %8s %6s\n", what, "files", "accepted", "%", "refused", "never");
	for (size_t i = 0; i < ts->n; i++) {
		const struct tally *g = &ts->t[i];
		printf("%-40.*s %6zu %9zu %6.1f %8zu %6zu\n", (int)g->keyn, g->key, g->count,
		       g->accepted, pct(g->accepted, g->count), g->refused, g->never);
	}
}

static int report(const struct check *c, bool as_json, bool list)
{
	struct tallies refused = {0}, never = {0}, groups = {0}, prods = {0};
	size_t nacc = 0, nref = 0, nnever = 0, nrules = 0;
	int rc = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct item *it = &c->it[i];
		const char *pn = it->product ? it->product : "(none)";
		struct tally *g = tally_get(&groups, it->group, it->glen, i);
		struct tally *pr = g ? tally_get(&prods, pn, strlen(pn), i) : NULL;
		if (!pr) {
			rc = -ENOMEM;
			goto out;
		}
		g->count++;
		pr->count++;
		nrules += it->nrules;
		if (it->refused) {
			nref++;
			g->refused++;
			pr->refused++;
		} else {
			nacc++;
			g->accepted++;
			pr->accepted++;
		}
		if (it->reason && !it->refused) {
			nnever++;
			g->never++;
			pr->never++;
		}
		if (it->reason) {
			struct tally *t = tally_get(it->refused ? &refused : &never, it->reason,
						    strlen(it->reason), i);
			if (!t) {
				rc = -ENOMEM;
				goto out;
			}
			t->count++;
		}
	}
	if (refused.n)
		qsort(refused.t, refused.n, sizeof(*refused.t), by_count);
	if (never.n)
		qsort(never.t, never.n, sizeof(*never.t), by_count);
	if (prods.n)
		qsort(prods.t, prods.n, sizeof(*prods.t), by_count);
	if (as_json) {
		json_t *o = json_pack(
		    "{s:I,s:I,s:I,s:I,s:I,s:o*,s:o*,s:o*,s:o*}", "files", (json_int_t)c->n, "rules",
		    (json_int_t)nrules, "accepted", (json_int_t)nacc, "refused", (json_int_t)nref,
		    "never_fires", (json_int_t)nnever, "folders", tallies_json(&groups, "folder"),
		    "products", tallies_json(&prods, "product"), "refusals",
		    reasons_json(c, &refused, true), "never_fires_reasons",
		    reasons_json(c, &never, false));
		if (!o || json_dumpf(o, stdout, JSON_COMPACT) || putchar('\n') == EOF)
			rc = o ? -EIO : -ENOMEM;
		json_decref(o);
		goto out;
	}
	printf("%zu files: %zu accepted (%.1f %%, %zu rules), %zu refused, %zu accepted but "
	       "never fire\n",
	       c->n, nacc, pct(nacc, c->n), nrules, nref, nnever);
	print_tallies(&groups, "folder");
	print_tallies(&prods, "logsource product");
	const struct {
		const char *title;
		const struct tallies *ts;
		bool refused;
	} parts[2] = {{"refused, by reason", &refused, true},
		      {"accepted but never fire, by reason", &never, false}};
	for (int p = 0; p < 2; p++) {
		if (!parts[p].ts->n)
			continue;
		printf("\n%s:\n", parts[p].title);
		for (size_t i = 0; i < parts[p].ts->n; i++) {
			const struct tally *t = &parts[p].ts->t[i];
			printf("%7zu  %.*s\n", t->count, (int)t->keyn, t->key);
			for (size_t k = 0; list && k < c->n; k++) {
				const struct item *it = &c->it[k];
				if (it->reason && it->refused == parts[p].refused &&
				    strlen(it->reason) == t->keyn &&
				    !memcmp(it->reason, t->key, t->keyn))
					printf("           %s\n", it->path);
			}
		}
	}
	if (fflush(stdout))
		rc = -EIO;
out:
	free(refused.t);
	free(never.t);
	free(groups.t);
	free(prods.t);
	return rc;
}

int cmd_rules_check(int argc, char **argv)
{
	struct config cfg;
	const char *pos[64];
	size_t npos = 0;
	struct check c = {0};
	int status = 0, rc;
	char err[1024];

	if ((status = cmd_help_or_bad_option("rules check", argc, argv, usage)) >= 0)
		return status;
	status = 0;
	if (config_init(&cfg, check_opts, N_OPTS) < 0)
		return 1;
	if (config_parse(&cfg, argc, argv, pos, 64, &npos) < 0 || npos < 1) {
		fprintf(stderr, "minisiem rules check: %s\n",
			npos < 1 && !cfg.err[0] ? "a folder or file is needed" : cfg.err);
		usage(stderr);
		config_release(&cfg);
		return EXIT_USAGE;
	}
	const char *mapping = config_str(&cfg, "mapping");
	if (mapping) {
		char *text = NULL;
		size_t n = 0;
		if ((rc = read_whole(mapping, &text, &n))) {
			fprintf(stderr, "minisiem rules check: cannot read '%s': %s\n", mapping,
				siem_strerror(rc));
			status = 1;
			goto out;
		}
		rc = sigma_mapping_set(text, n, err, sizeof(err));
		free(text);
		if (rc) {
			fprintf(stderr, "minisiem rules check: %s: %s\n", mapping, err);
			status = 1;
			goto out;
		}
	}
	const char *ph = config_str(&cfg, "sigma-placeholders");
	if (ph && sigma_placeholders_load(ph, err, sizeof(err))) {
		fprintf(stderr, "minisiem rules check: %s\n", err);
		status = 1;
		goto out;
	}
	for (size_t i = 0; i < npos; i++) {
		struct stat st;
		if (stat(pos[i], &st)) {
			fprintf(stderr, "minisiem rules check: cannot read '%s': %s\n", pos[i],
				strerror(errno));
			status = 1;
			goto out;
		}
		size_t rootlen = strlen(pos[i]);
		if (S_ISDIR(st.st_mode))
			rc = walk(&c, pos[i], rootlen, 0);
		else
			rc = add_file(&c, pos[i], rootlen);
		if (rc) {
			if (rc == SIEM_ETOOBIG)
				fprintf(stderr, "minisiem rules check: more than %d files\n",
					CHECK_MAX_FILES);
			status = 1;
			goto out;
		}
	}
	bool any_refused = false;
	for (size_t i = 0; i < c.n; i++) {
		if ((rc = check_file(&c.it[i]))) {
			fprintf(stderr, "minisiem rules check: %s\n", siem_strerror(rc));
			status = 1;
			goto out;
		}
		any_refused |= c.it[i].refused;
	}
	if ((rc = report(&c, config_flag(&cfg, "json"), config_flag(&cfg, "list")))) {
		fprintf(stderr, "minisiem rules check: %s\n", siem_strerror(rc));
		status = 1;
		goto out;
	}
	status = any_refused ? 1 : 0;
out:
	for (size_t i = 0; i < c.n; i++) {
		free(c.it[i].path);
		free(c.it[i].reason);
		free(c.it[i].product);
	}
	free(c.it);
	config_release(&cfg);
	return status;
}
