/* detect.h — the detection engine's public face: Sigma rules (detection and correlation)
 * compiled once, evaluated on every committed event by the writer thread, reporting hits to
 * a sink (the alerting module). The engine knows nothing of storage or notification; the
 * alerting module knows nothing of Sigma. */
#ifndef SIEM_DETECT_H
#define SIEM_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

/* ---- rules ---- */

/* A filter (Sigma meta filter) raises nothing: it adds its condition to the detection rules
 * it names (or every rule of its logsource) in the same rule set. */
enum rule_kind { RULE_DETECTION, RULE_CORRELATION, RULE_FILTER };

/* What everything outside the engine may know of a rule. Strings live as long as the rule. */
struct rule_info {
	const char *id;	  /* Sigma id (UUID), or a name when the rule has none */
	const char *name; /* Sigma "name" (correlations refer to rules by it), may be NULL */
	const char *title;
	const char *level;  /* informational|low|medium|high|critical */
	int severity;	    /* 1..5 from level */
	const char *author; /* kept on every alert (DRL 1.1) */
	const char *status, *description;
	const char *origin; /* file path, "builtin:<file>", or "api" */
	enum rule_kind kind;
	bool generates; /* a detection rule that raises its own alerts (correlation
			 * rules' base rules do not, unless the correlation says so) */
	/* What an alert of this rule is about and says (the rule's "minisiem:" block, or the
	 * defaults; docs/detection.md): the fields one alert is per (detection rules; a
	 * correlation's are its group-by), and the summary template. */
	const char *const *group_by;
	size_t n_group_by;
	const char *summary;	 /* template ("Account {user} created on {source_host}"), or NULL */
	const char *const *tags; /* Sigma tags (attack.t1110, ...) and references (URLs) */
	size_t n_tags;
	const char *const *references;
	size_t n_references;
	const char *used_by; /* a rule only a correlation uses: that correlation's id, else NULL */
	/* minisiem: channels: the notification channels its alerts go to (only those, each
	 * still with its min_level); none: every channel that takes them */
	const char *const *channels;
	size_t n_channels;
};

struct rule; /* one compiled rule */

/* Limits on rule text. They are checked on the YAML parser's events before any document
 * tree is built, and the first event past one stops the parse, so hostile text costs time
 * linear in its length (libyaml's cost grows with the nesting it holds open). */
#define RULE_TEXT_MAX (64 * 1024)   /* bytes of one rule (one YAML document) */
#define RULE_FILE_MAX (1024 * 1024) /* bytes of one text of several rules (a rule file) */
#define RULE_MAX_DEPTH 64	    /* nested sequences and maps */
#define RULE_MAX_NODES 10000	    /* YAML nodes (scalars, sequences, maps, aliases) */

/* Compile every rule (YAML documents, "---" separated) of text. On success *rules holds n
 * compiled rules (free each with rule_free, and the array with free). On failure returns
 * SIEM_EPARSE / SIEM_ESCHEMA with err saying which rule (title or index), which line, and
 * what: a syntax error, or "unsupported: <feature>" — a rule using something the engine does
 * not implement is refused, never evaluated wrongly. A document nested deeper than
 * RULE_MAX_DEPTH or with more than RULE_MAX_NODES nodes is SIEM_EPARSE; a text over
 * RULE_FILE_MAX bytes or a document over RULE_TEXT_MAX bytes is SIEM_ETOOBIG. */
int rule_compile(const char *text, size_t n, const char *origin, struct rule ***rules,
		 size_t *nrules, char *err, size_t errlen);
/* The same for a rule file read from disk (the rules directory, rules test, rules check):
 * one document may take the whole RULE_FILE_MAX and RULE_FILE_MAX_NODES nodes, so that a long
 * list (SigmaHQ's vulnerable-driver hashes, 295 KB) loads; the API keeps RULE_TEXT_MAX. */
#define RULE_FILE_MAX_NODES 100000
int rule_compile_file(const char *text, size_t n, const char *origin, struct rule ***rules,
		      size_t *nrules, char *err, size_t errlen);
void rule_free(struct rule *r);
const struct rule_info *rule_get_info(const struct rule *r);
/* Why no event minisiem can receive matches the rule: every logsource its mapping gives it is
 * marked "never-fires" in rules/mapping.yml (e.g. no decoder produces its fields yet). NULL
 * when some source may produce its events (correlations: NULL). */
const char *rule_never_fires(const struct rule *r);

/* ---- which sources a rule needs ---- */

/* The os_type and app values a hub has stored events of (lower-case or not). */
struct seen_sources {
	const char *const *os_types;
	size_t n_os;
	const char *const *apps;
	size_t n_apps;
};
/* The os_type and app values the rule's logsource requires, as text that outlives the rule
 * (malloc'd; one line per alternative, "os_type=linux;app=auditd,audit,audispd*"), or NULL
 * when some alternative requires neither (any source may feed it), for correlations and
 * filters, and when out of memory. */
char *rule_source_needs(const struct rule *r);
/* Can events of the seen sources meet needs (NULL needs: always)? */
bool source_needs_met(const char *needs, const struct seen_sources *seen);
/* needs for people: "os_type linux with app auditd, audit or audispd*". */
void source_needs_text(const char *needs, char *buf, size_t n);

/* Values of the placeholders of the `expand` modifier (`%Administrators%`), from a YAML file
 * of `name: [values]`; rules compiled after it use them (one a rule needs and the file lacks
 * refuses the rule). err says why it failed. */
int sigma_placeholders_load(const char *path, char *err, size_t errlen);

/* ---- the engine ---- */

/* A hit: a detection rule matched an event, or a correlation's condition was met. */
struct detect_hit {
	const struct rule_info *rule;
	const char *group_key; /* "source_ip=1.2.3.4,user=root"; "" when ungrouped */
	int64_t first_ts, last_ts;
	int64_t count;	 /* events in the window (1 for a detection rule) */
	size_t n_events; /* ids of (up to 100) events behind the hit, oldest first */
	const uint8_t (*event_ids)[16];
	const struct event *event; /* the event that completed it */
	/* The one-line summary of this hit: the rule's template rendered with the event's
	 * fields, or the default one (never NULL; valid during the sink call). Where the
	 * template says {events} it holds DETECT_SUMMARY_EVENTS: the alerting module writes the
	 * alert's event count there (detect_summary_fill). */
	const char *summary;
	/* Events this hit adds to what earlier hits of its rule and group reported: 1 for a
	 * detection rule, the events new in the window since the group's last hit for a
	 * correlation (so summing it over an alert's hits counts each event once). */
	int64_t new_events;
};

typedef void (*detect_sink)(void *ctx, const struct detect_hit *hit);

/* {events} in a rendered summary: a byte no rendered value or template text holds. */
#define DETECT_SUMMARY_EVENTS '\x1e'
/* summary with each {events} mark replaced by events, into out (cap bytes, cut there,
 * always terminated); the length. */
size_t detect_summary_fill(const char *summary, int64_t events, char *out, size_t cap);

struct detector;

struct detector_config {
	const char *state_path; /* correlation window state survives restarts here (a file the
				 * engine owns); NULL keeps it in memory only */
	size_t max_groups;	/* correlation groups kept per rule; beyond, the oldest is
				 * evicted and counted */
};

int detector_open(struct detector **out, const struct detector_config *cfg);
void detector_close(struct detector *d);

/* Replace the rule set (the engine takes ownership of rules, an array of n compiled rules
 * whose correlations refer to each other by id or name). Any thread may call it (the API
 * does, when a rule is added, changed, enabled or deleted); the engine synchronizes with
 * evaluation. Unresolved references are an error (SIEM_ESCHEMA, err says which; the rules
 * are freed and the old set stays). Correlation state of rules whose id is kept survives the
 * swap. */
int detector_set_rules(struct detector *d, struct rule **rules, size_t n, char *err, size_t errlen);

/* Evaluate one committed event against every enabled rule, reporting hits to sink. Does not
 * allocate per event on the common path. Events may come a little out of time order. */
void detector_eval(struct detector *d, const struct event *ev, detect_sink sink, void *ctx);

/* Match one detection rule against one event, outside the live engine (rules test,
 * backtests). */
bool rule_matches(const struct rule *r, const struct event *ev);

/* Persist correlation and new-value state now (also done by detector_close). */
int detector_save(struct detector *d);
/* The same state as a blob (malloc'd *out of *n bytes), and a blob loaded into the rule set
 * in force (its windows and memories replace what it held): broker mode keeps it in
 * PostgreSQL so that another node's detector resumes from it. SIEM_EPARSE: not such a blob. */
int detector_export(struct detector *d, uint8_t **out, size_t *n);
int detector_import(struct detector *d, const uint8_t *buf, size_t n);

struct detector_stats {
	uint64_t events, hits, groups, evicted_groups;
	size_t rules, detection_rules, correlation_rules;
	uint64_t new_values, evicted_new_values; /* new-value rules' remembered combinations,
						  * and those forgotten for room */
};
void detector_get_stats(struct detector *d, struct detector_stats *st);

/* Each rule of the set in force (its info as the running set resolved it: used_by, the
 * grouping) with its matches since the detector started (a detection rule: events it
 * matched, new or not for a new-value rule; a correlation: its hits), counted across
 * rule-set swaps that keep the rule's id. fn is called under the engine's lock, once per
 * rule in set order: it must not call back into the detector. */
void detector_rule_counts(struct detector *d,
			  void (*fn)(void *ctx, const struct rule_info *ri, uint64_t matches),
			  void *ctx);

#endif
