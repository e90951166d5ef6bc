/* ruleset.h — the rule catalog: built-in rules (a directory) and rules added through the API
 * (kept in the store), each with its text, description, enabled flag and why it does not
 * run; the enabled ones that compile are handed to the engine (detector_set_rules). */
#ifndef SIEM_RULESET_H
#define SIEM_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/detect.h"
#include "store/store.h"

/* One rule of the catalog. Strings are malloc'd (NULL when the rule does not say). */
struct ruleset_entry {
	char *id, *origin, *text;
	bool builtin, enabled;
	char *name, *title, *level, *author, *status, *description;
	int severity;
	enum rule_kind kind;
	char *error; /* why it does not run, or NULL */
	char *needs; /* the os_type and app values its logsource needs (rule_source_needs) */
	char *never; /* why it can never fire (rule_never_fires), or NULL */
	int64_t created_at, updated_at;
	char *created_by, *updated_by;
};

struct ruleset;

/* Load every *.yml / *.yaml of dir (origin "builtin:<file>"; may be NULL) and the API rules
 * of the store, apply the stored enabled flags, and hand the enabled ones to d. A rule that
 * fails to compile or to resolve is logged, listed with its error, and left out. */
int ruleset_open(struct ruleset **out, struct store *s, struct detector *d, const char *dir);
/* SIGHUP: read the directory again (API rules and enabled flags stay). */
int ruleset_reload_dir(struct ruleset *rs);
/* The channel of store_notify the rules API sends on after a change (payload: the rule id),
 * for the other hubs sharing the store (broker mode). */
#define RULES_CHANNEL "minisiem_rules"
/* Another hub changed the rules in the store: read the API rules, the enabled flags and the
 * directory again and hand the enabled ones to the engine (the window state of every rule
 * whose id stays survives). On failure the catalog in force stays. */
int ruleset_reload(struct ruleset *rs);
void ruleset_close(struct ruleset *rs);
size_t ruleset_count(struct ruleset *rs);
/* The text of rule id, malloc'd into *text; SIEM_ENOTFOUND when there is no such rule. */
int ruleset_rule_text(struct ruleset *rs, const char *id, char **text);

/* ---- changes (the rules API): between ruleset_lock and ruleset_unlock ---- */

void ruleset_lock(struct ruleset *rs);
void ruleset_unlock(struct ruleset *rs);
/* The number of entries, and the i-th (valid until the next change). */
size_t ruleset_len(struct ruleset *rs);
struct ruleset_entry *ruleset_at(struct ruleset *rs, size_t i);
struct ruleset_entry *ruleset_find(struct ruleset *rs, const char *id);
/* Append *e (the catalog takes its strings; *e is cleared). */
int ruleset_push(struct ruleset *rs, struct ruleset_entry *e);
/* Release the entries from n on. */
void ruleset_truncate(struct ruleset *rs, size_t n);
/* Take entry e out into *out (the caller owns its strings); returns where it was. */
size_t ruleset_remove(struct ruleset *rs, struct ruleset_entry *e, struct ruleset_entry *out);
/* Undo ruleset_remove: put *e back at index i. */
void ruleset_reinsert(struct ruleset *rs, size_t i, const struct ruleset_entry *e);
/* The enabled rules that compiled, in the engine; 0 when every one of them is in, or the
 * engine's refusal with err. */
int ruleset_apply(struct ruleset *rs, char *err, size_t errlen);

/* ---- one rule's text ---- */

/* Compile text that must hold exactly one rule; fill e's description of it. */
int ruleset_entry_describe(struct ruleset_entry *e, const char *text, const char *origin, char *err,
			   size_t errlen);
void ruleset_entry_release(struct ruleset_entry *e);
/* Call fn for each document of text ("---" / "..." marker lines split them), with the line
 * it starts on. Documents of only blanks and comments are skipped. */
int ruleset_each_doc(const char *text, size_t len,
		     int (*fn)(void *arg, const char *doc, size_t n, int line), void *arg);

#endif
