/* rulestest.c — `minisiem rules test`: compile a Sigma rule file, run NDJSON events through
 * a fresh detector, print each match and correlation hit as a JSON line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "enrich/enrich.h"
#include "hub/cmd.h"
#include "detect/sigma_int.h"
#include "hub/rulestest.h"

#define EXIT_FAILED 1
#define FILE_MAX RULE_FILE_MAX /* a rule or mapping file, read whole */
#define LINE_MAX_BYTES (1u << 20)

static const struct opt_def rules_opts[] = {
    {"mapping", NULL, OPT_STRING, NULL, "FILE",
     "logsource and field mapping to use instead of the built-in rules/mapping.yml", false, 0, 0},
    {"sigma-placeholders", NULL, OPT_STRING, NULL, "FILE",
     "values of the 'expand' modifier's placeholders (YAML: name: [values])", false, 0, 0},
    {"alerts-only", NULL, OPT_FLAG, NULL, NULL,
     "print only what raises alerts (not the matches of rules a correlation consumes)", false, 0,
     0},
    {"geoip-db", NULL, OPT_STRING, NULL, "FILE",
     "enrich the events as the hub does: geo from this City or Country database", false, 0, 0},
    {"asn-db", NULL, OPT_STRING, NULL, "FILE", "likewise geo.asn and geo.as_org", false, 0, 0},
    {"intel-dir", NULL, OPT_STRING, NULL, "DIR", "likewise the intel:<list> tags", false, 0, 0},
};
#define N_OPTS (sizeof(rules_opts) / sizeof(rules_opts[0]))

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: minisiem rules test [--mapping FILE] [--sigma-placeholders FILE] "
	    "[--alerts-only]\n"
	    "                           [--geoip-db FILE] [--asn-db FILE] [--intel-dir DIR] "
	    "RULE.yml "
	    "[EVENTS.ndjson|-]\n\n"
	    "Compile the Sigma rules of RULE.yml (detection and correlation rules, '---'\n"
	    "separated), read events as NDJSON in the hub's event schema (standard input when\n"
	    "EVENTS is '-' or absent), run them through a fresh detector and print, one JSON\n"
	    "object per line:\n"
	    "  {\"type\":\"match\",\"line\":N,\"rule\":ID,\"title\":...,\"alert\":true|false,"
	    "\"group_key\":...,\n"
	    "   \"summary\":...,\"new_events\":1,\"event_id\":...}\n"
	    "      a detection rule matched the event on input line N\n"
	    "  {\"type\":\"hit\",\"line\":N,\"rule\":ID,\"title\":...,\"alert\":true|false,"
	    "\"group_key\":...,\n"
	    "   \"summary\":...,\"count\":C,\"new_events\":E,\"first_ts\":...,\"last_ts\":...,"
	    "\"event_ids\":[...]}\n"
	    "      a correlation's condition was met by the event on input line N\n"
	    "  {\"error\":...,\"line\":N}\n"
	    "      input line N is not a valid event\n"
	    "\"alert\" says whether the hub would raise an alert for it (rules that a correlation\n"
	    "refers to raise none of their own unless it says 'generate: true'). An alert is per\n"
	    "rule and group_key; \"summary\" is its one-line text and \"new_events\" the events\n"
	    "it adds to the earlier hits of its group. A new-value rule matches only a\n"
	    "combination of values it has not seen before in this run.\n\n"
	    "options:\n");
	config_usage(rules_opts, N_OPTS, out);
	fprintf(
	    out,
	    "  --help, -h                   print this help\n\n"
	    "A summary line goes to standard error. exit status: 0 ok, 1 the rule file does not\n"
	    "compile (the error names the rule, the line and the problem), an input line is not\n"
	    "a valid event, or a file cannot be read; 2 usage error\n");
}

static int read_file(const char *path, char **out, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	char *buf = malloc(FILE_MAX + 1);
	int rc = 0;
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	*n = fread(buf, 1, FILE_MAX + 1, f);
	if (ferror(f))
		rc = -EIO;
	else if (*n > FILE_MAX)
		rc = SIEM_ETOOBIG;
	buf[*n <= FILE_MAX ? *n : FILE_MAX] = '\0';
out:
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

static void read_error(const char *path, int rc)
{
	if (rc == SIEM_ETOOBIG)
		fprintf(stderr,
			"minisiem rules test: '%s' is larger than %d bytes (%d KiB), the limit "
			"for a rule file\n",
			path, FILE_MAX, FILE_MAX / 1024);
	else
		fprintf(stderr, "minisiem rules test: cannot read '%s': %s\n", path,
			siem_strerror(rc));
}

/* The os_type and app values of the events read, to tell which rules none could feed. */
#define SEEN_MAX 1024
struct seen {
	char *v[2][SEEN_MAX];
	size_t n[2];
};

struct run {
	unsigned long line;
	unsigned long matches, hits, alerts;
	bool alerts_only;
	int io;
	struct seen seen;
};

static void seen_add(struct seen *sn, int k, const struct sv *v)
{
	if (!v->p || !v->n || sn->n[k] == SEEN_MAX)
		return;
	for (size_t i = 0; i < sn->n[k]; i++)
		if (strlen(sn->v[k][i]) == v->n && !memcmp(sn->v[k][i], v->p, v->n))
			return;
	if ((sn->v[k][sn->n[k]] = strndup(v->p, v->n)))
		sn->n[k]++;
}

static void seen_release(struct seen *sn)
{
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < sn->n[k]; i++)
			free(sn->v[k][i]);
}

static void print_obj(struct run *r, json_t *o)
{
	if (!o) {
		r->io = -ENOMEM;
		return;
	}
	if (json_dumpf(o, stdout, JSON_COMPACT) || putchar('\n') == EOF)
		r->io = -EIO;
	json_decref(o);
}

static void sink(void *ctx, const struct detect_hit *h)
{
	struct run *r = ctx;
	bool corr = h->rule->kind == RULE_CORRELATION;
	if (corr)
		r->hits++;
	else
		r->matches++;
	if (h->rule->generates)
		r->alerts++;
	if (r->alerts_only && !h->rule->generates)
		return;
	char buf[64];
	json_t *o = json_object();
	if (!o) {
		r->io = -ENOMEM;
		return;
	}
	json_object_set_new(o, "type", json_string(corr ? "hit" : "match"));
	json_object_set_new(o, "line", json_integer((json_int_t)r->line));
	json_object_set_new(o, "rule", json_string(h->rule->id));
	json_object_set_new(o, "title", json_string(h->rule->title));
	json_object_set_new(o, "level", json_string(h->rule->level));
	json_object_set_new(o, "alert", json_boolean(h->rule->generates));
	json_object_set_new(o, "group_key", json_string(h->group_key));
	char sum[1024];
	detect_summary_fill(h->summary, h->new_events, sum, sizeof(sum));
	json_object_set_new(o, "summary", json_string(sum));
	if (!corr) {
		json_object_set_new(o, "new_events", json_integer((json_int_t)h->new_events));
		uuid_format(h->event->id, buf);
		json_object_set_new(o, "event_id", json_stringn(buf, 36));
		print_obj(r, o);
		return;
	}
	json_object_set_new(o, "count", json_integer((json_int_t)h->count));
	json_object_set_new(o, "new_events", json_integer((json_int_t)h->new_events));
	json_object_set_new(o, "first_ts", json_stringn(buf, ts_format(h->first_ts, buf)));
	json_object_set_new(o, "last_ts", json_stringn(buf, ts_format(h->last_ts, buf)));
	json_t *ids = json_array();
	for (size_t i = 0; ids && i < h->n_events; i++) {
		uuid_format(h->event_ids[i], buf);
		json_array_append_new(ids, json_stringn(buf, 36));
	}
	json_object_set_new(o, "event_ids", ids ? ids : json_null());
	print_obj(r, o);
}

static void event_error(struct run *r, const char *msg)
{
	json_t *o = json_object();
	if (o) {
		json_object_set_new(o, "error", json_string(msg));
		json_object_set_new(o, "line", json_integer((json_int_t)r->line));
	}
	print_obj(r, o);
}

static int run_events(struct detector *d, struct enrich *e, FILE *in, struct run *r,
		      unsigned long *bad, unsigned long *events)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	struct arena a;
	arena_init(&a, 0);
	while ((len = getline(&line, &cap, in)) >= 0) {
		r->line++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		size_t sp = 0;
		while (sp < (size_t)len && (line[sp] == ' ' || line[sp] == '\t'))
			sp++;
		if (sp == (size_t)len)
			continue;
		if ((size_t)len > LINE_MAX_BYTES) {
			(*bad)++;
			event_error(r, "line longer than 1 MiB");
			continue;
		}
		json_error_t je;
		json_t *j = json_loadb(line, (size_t)len, JSON_ALLOW_NUL, &je);
		if (!j) {
			char msg[256];
			snprintf(msg, sizeof(msg), "not JSON: %s", je.text);
			(*bad)++;
			event_error(r, msg);
			continue;
		}
		struct event ev;
		char err[256];
		arena_reset(&a);
		int rc = event_from_json(&ev, j, &a, ts_now_us(), err, sizeof(err));
		json_decref(j);
		if (rc) {
			(*bad)++;
			event_error(r, err);
			continue;
		}
		(*events)++;
		seen_add(&r->seen, 0, &ev.os_type);
		seen_add(&r->seen, 1, &ev.app);
		enrich_events(e, &ev, 1, &a);
		detector_eval(d, &ev, sink, r);
		if (r->io)
			break;
	}
	int rc = ferror(in) ? -EIO : r->io;
	free(line);
	arena_release(&a);
	return rc;
}

int cmd_rules(int argc, char **argv)
{
	struct config c;
	const char *pos[3];
	size_t npos = 0;
	char *text = NULL, err[1024];
	size_t n = 0;
	struct rule **rules = NULL;
	size_t nrules = 0, nneeds = 0;
	char **needs = NULL, **titles = NULL;
	struct detector *d = NULL;
	struct enrich *e = NULL;
	FILE *in = stdin;
	int status = 0, rc;
	bool cinit = false;

	if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h") ||
	    !strcmp(argv[0], "help")) {
		usage(argc < 1 ? stderr : stdout);
		return argc < 1 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[0], "check"))
		return cmd_rules_check(argc - 1, argv + 1);
	if (strcmp(argv[0], "test")) {
		fprintf(stderr,
			"minisiem rules: unknown command '%s' (try 'minisiem rules test' or "
			"'minisiem rules check')\n",
			argv[0]);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	if ((status = cmd_help_or_bad_option("rules test", argc, argv, usage)) >= 0)
		return status;
	status = 0;
	if (config_init(&c, rules_opts, N_OPTS) < 0)
		return EXIT_FAILED;
	cinit = true;
	if (config_parse(&c, argc, argv, pos, 2, &npos) < 0 || npos < 1) {
		fprintf(stderr, "minisiem rules test: %s\n",
			npos < 1 && !c.err[0] ? "a rule file is needed" : c.err);
		usage(stderr);
		status = EXIT_USAGE;
		goto out;
	}
	const char *mapping = config_str(&c, "mapping");
	if (mapping) {
		if ((rc = read_file(mapping, &text, &n))) {
			read_error(mapping, rc);
			status = EXIT_FAILED;
			goto out;
		}
		if ((rc = sigma_mapping_set(text, n, err, sizeof(err)))) {
			fprintf(stderr, "minisiem rules test: %s: %s\n", mapping, err);
			status = EXIT_FAILED;
			goto out;
		}
		free(text);
		text = NULL;
	}
	const char *ph = config_str(&c, "sigma-placeholders");
	if (ph && sigma_placeholders_load(ph, err, sizeof(err))) {
		fprintf(stderr, "minisiem rules test: %s\n", err);
		status = EXIT_FAILED;
		goto out;
	}
	if ((rc = read_file(pos[0], &text, &n))) {
		read_error(pos[0], rc);
		status = EXIT_FAILED;
		goto out;
	}
	if ((rc = rule_compile_file(text, n, pos[0], &rules, &nrules, err, sizeof(err)))) {
		fprintf(stderr, "minisiem rules test: %s: %s\n", pos[0], err);
		status = EXIT_FAILED;
		goto out;
	}
	size_t ncorr = 0;
	if (!(needs = calloc(nrules + 1, sizeof(*needs))) ||
	    !(titles = calloc(nrules + 1, sizeof(*titles)))) {
		status = EXIT_FAILED;
		goto out;
	}
	nneeds = nrules;
	for (size_t i = 0; i < nrules; i++) {
		const struct rule_info *ri = rule_get_info(rules[i]);
		needs[i] = rule_source_needs(rules[i]);
		titles[i] = strdup(ri->title ? ri->title : ri->id);
	}
	for (size_t i = 0; i < nrules; i++) {
		const struct rule_info *ri = rule_get_info(rules[i]);
		const char *never = rule_never_fires(rules[i]);
		ncorr += ri->kind == RULE_CORRELATION;
		if (never)
			fprintf(stderr,
				"minisiem rules test: warning: rule '%s' can never fire: %s\n",
				ri->title ? ri->title : ri->id, never);
	}
	struct detector_config dc = {NULL, 0};
	if ((rc = detector_open(&d, &dc))) {
		fprintf(stderr, "minisiem rules test: %s\n", siem_strerror(rc));
		status = EXIT_FAILED;
		goto out;
	}
	rc = detector_set_rules(d, rules, nrules, err, sizeof(err));
	rules = NULL; /* the detector owns them now, also on failure */
	if (rc) {
		fprintf(stderr, "minisiem rules test: %s: %s\n", pos[0], err);
		status = EXIT_FAILED;
		goto out;
	}
	detector_report_all(d, true);
	if (npos > 1 && strcmp(pos[1], "-") && !(in = fopen(pos[1], "rb"))) {
		fprintf(stderr, "minisiem rules test: cannot open '%s': %s\n", pos[1],
			strerror(errno));
		status = EXIT_FAILED;
		goto out;
	}
	struct enrich_config ec = {.geoip_db = config_str(&c, "geoip-db"),
				   .asn_db = config_str(&c, "asn-db"),
				   .intel_dir = config_str(&c, "intel-dir")};
	struct strbuf eb;
	strbuf_init(&eb, 4096);
	if ((rc = enrich_open(&e, &ec)) < 0 || enrich_problems(e, &eb) > 0) {
		fprintf(stderr, "minisiem rules test: enrichment: %s\n",
			rc < 0 ? siem_strerror(rc) : eb.p);
		strbuf_release(&eb);
		status = EXIT_FAILED;
		goto out;
	}
	strbuf_release(&eb);
	struct run r = {0, 0, 0, 0, config_flag(&c, "alerts-only"), 0, {{{0}}, {0}}};
	unsigned long bad = 0, events = 0;
	rc = run_events(d, e, in, &r, &bad, &events);
	struct seen_sources ss = {(const char *const *)r.seen.v[0], r.seen.n[0],
				  (const char *const *)r.seen.v[1], r.seen.n[1]};
	for (size_t i = 0; events && i < nneeds; i++) {
		char what[512];
		if (!needs[i] || source_needs_met(needs[i], &ss))
			continue;
		source_needs_text(needs[i], what, sizeof(what));
		fprintf(stderr,
			"minisiem rules test: warning: rule '%s': none of the %lu events is of its "
			"logsource (it needs %s)\n",
			titles[i] ? titles[i] : "?", events, what);
	}
	seen_release(&r.seen);
	if (fflush(stdout) && !rc)
		rc = -EIO;
	fprintf(stderr,
		"rules test: %zu rules (%zu detection, %zu correlation), %lu events, %lu "
		"unreadable, %lu matches, %lu correlation hits, %lu alerts\n",
		nrules, nrules - ncorr, ncorr, events, bad, r.matches, r.hits, r.alerts);
	if (rc) {
		fprintf(stderr, "minisiem rules test: %s\n", siem_strerror(rc));
		status = EXIT_FAILED;
	} else if (bad) {
		status = EXIT_FAILED;
	}
out:
	if (rules) {
		for (size_t i = 0; i < nrules; i++)
			rule_free(rules[i]);
		free(rules);
	}
	for (size_t i = 0; i < nneeds; i++) {
		free(needs[i]);
		free(titles[i]);
	}
	free(needs);
	free(titles);
	detector_close(d);
	enrich_close(e);
	if (in && in != stdin)
		fclose(in);
	free(text);
	if (cinit)
		config_release(&c);
	return status;
}
