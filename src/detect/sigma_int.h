/* sigma_int.h — the detection engine's internals shared by its own files: compiled rules,
 * the YAML reader, field access, the per-evaluation scratch, correlation state. */
#ifndef SIEM_SIGMA_INT_H
#define SIEM_SIGMA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <yaml.h>

#include "core/arena.h"
#include "core/event.h"
#include "detect/detect.h"

/* Limits that keep a hostile rule file from costing unbounded time or memory. */
#define SIGMA_MAX_DEPTH 64	 /* condition nesting (YAML: RULE_MAX_DEPTH) */
#define SIGMA_MAX_NODES 200000	 /* YAML nodes visited per document (aliases included) */
#define SIGMA_MAX_EXPANSION 4096 /* values one value may expand to (windash ...) */
#define SIGMA_MAX_VALUES 200000	 /* values of one field item, after expansion */
#define SIGMA_MAX_COUNT 100000	 /* largest correlation threshold */
#define SIGMA_MAX_IDS 100	 /* event ids carried on a hit */

/* ---- field access ---- */

/* Our normalized event fields a rule may name (SIGMA in core/event_fields.h), addressable by
 * their canonical names and aliases in every rule. */
enum evf {
#define EVF_ENUM(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, ...) EF_IF_##SIGMA(EVF_##ID, )
	EVENT_FIELDS(EVF_ENUM)
#undef EVF_ENUM
	    EVF_COUNT,
	EVF_DATA = -1,	   /* a field of the event's data object */
	EVF_KEYWORDS = -2, /* full text: message or raw_message */
};

/* Look an event field name (or alias) up; returns EVF_DATA when it is not one of ours. */
int evf_lookup(const char *name, size_t n);
const char *evf_name(int evf);

/* One place a field may be found. */
struct field_cand {
	int evf;	  /* enum evf, or EVF_DATA */
	const char *name; /* data key (flat name, e.g. "TargetUserName" or "a.b") */
	size_t n;
	uint64_t hash;
	size_t nparts; /* > 1 when name is dotted: tried as a nested path too */
	const char **part;
	size_t *partn;
};

/* A field as a rule names it, with the places it maps to (first present wins). */
struct field_ref {
	const char *name;
	size_t ncand;
	struct field_cand *cand;
};

enum fv_type { FV_ABSENT, FV_NULL, FV_STR, FV_NUM, FV_BOOL, FV_ARRAY, FV_OBJECT };

/* A field's value in one event. p/n is its text (strings decoded, numbers as written). */
struct fval {
	enum fv_type t;
	const char *p;
	size_t n;
	int tok;	/* data token, or -1 */
	int evf;	/* event field, or EVF_DATA */
	const char *lp; /* lower-cased text once a matcher asked for it, else NULL */
	size_t ln;
};

/* ---- compiled values ---- */

enum vm_kind {
	VM_EXACT,
	VM_PREFIX,
	VM_SUFFIX,
	VM_CONTAINS,
	VM_GLOB, /* string patterns */
	VM_RE,
	VM_CIDR,
	VM_CMP,
	VM_ANY /* VM_ANY: empty pattern "*" */
};

enum cmp_op { CMP_GT, CMP_GTE, CMP_LT, CMP_LTE };

struct vmatch {
	enum vm_kind kind;
	bool cased;
	const char *s; /* the literal (lower-cased unless cased); for VM_GLOB the whole pattern */
	size_t n;
	const uint8_t *wild; /* VM_GLOB: per byte of s, 0 literal, '*' or '?' */
	const char *req;     /* VM_GLOB: its longest literal run, which any match contains */
	size_t reqn;
	pcre2_code *re;
	uint8_t lo[16], hi[16];
	enum cmp_op op;
	double num;
	bool is_num; /* the rule value was a number: also compare numerically */
	int ac_id;   /* keyword literal (s, or req of a glob) id in the rule set's automaton,
		      * or -1 */
};

enum fc_kind { FC_VALUES, FC_NULL, FC_EXISTS, FC_FIELDREF };

/* One "Field|modifiers: value(s)" item of a selection (or one keyword group). */
struct fcond {
	struct field_ref f; /* f.ncand == 0 for keywords */
	bool keywords;
	enum fc_kind kind;
	bool all;	      /* values ANDed */
	bool neq;	      /* negated */
	bool exists;	      /* FC_EXISTS: wanted presence */
	bool cased;	      /* FC_FIELDREF */
	struct field_ref ref; /* FC_FIELDREF */
	bool or_null;	      /* a null among the values: absent also matches */
	size_t nplain;	      /* keywords: the first nplain values are plain literals (ORed
			       * ones share one automaton id) */
	size_t nval;
	struct vmatch *val;
	struct valset *set; /* when not NULL: decides val[0..nset) in one pass */
	size_t nset;
	unsigned line;
};

/* A search identifier: OR of alternatives, each an AND of items. */
struct sel {
	const char *name;
	size_t nalt;
	struct sel_alt {
		size_t nfc;
		struct fcond *fc;
	} * alt;
};

enum cn_op { CN_AND, CN_OR, CN_NOT, CN_SEL, CN_ONE_OF, CN_ALL_OF };

struct cnode {
	enum cn_op op;
	int a, b;  /* children (CN_AND/CN_OR: a and b, CN_NOT: a), node indices */
	int sel;   /* CN_SEL */
	int *sels; /* CN_ONE_OF / CN_ALL_OF */
	int nsels;
};

struct detection {
	size_t nsel;
	struct sel *sel;
	size_t nnode;
	struct cnode *node;
	int root;
};

/* ---- long value lists (sigma_valset.c) ---- */

/* A value list is put in a valset when it ORs at least this many plain literals of one kind
 * (below, comparing them one by one is as fast). */
#define VALSET_MIN 16
struct valset;
/* n literals of v, all of kind (VM_EXACT, VM_PREFIX, VM_SUFFIX or VM_CONTAINS), lower-case
 * unless cased; allocated in a (the rule's arena), pointing into v. */
int valset_build(struct arena *a, enum vm_kind kind, bool cased, const struct vmatch *v, size_t n,
		 struct valset **out);
/* Does text p (lower-cased unless the set is cased) match one of the literals? */
bool valset_match(const struct valset *vs, const char *p, size_t n);
bool valset_cased(const struct valset *vs);
enum vm_kind valset_kind(const struct valset *vs);
size_t valset_bytes(const struct valset *vs);

/* ---- logsource and field mapping (rules/mapping.yml) ---- */

struct fmap_entry {
	const char *from;
	size_t nto;
	const char **to;
};

struct logsource_map {
	const char *name, *category, *product, *service;
	const char *never; /* "never-fires": why no event minisiem receives can match, or NULL */
	struct sel *cond;  /* NULL: no condition (every event) */
	size_t nfmap;
	struct fmap_entry *fmap;
};

struct sigma_mapping {
	struct arena a;
	struct re_node *res;
	size_t nls;
	struct logsource_map *ls;
	size_t nglobal; /* field mappings for every logsource */
	struct fmap_entry *global;
};

/* The mapping in force: the embedded rules/mapping.yml unless sigma_mapping_set replaced it.
 * Never NULL after a successful sigma_mapping_get (it fails only on a broken embedded file). */
int sigma_mapping_get(const struct sigma_mapping **out, char *err, size_t errlen);
/* Replace the mapping (rules test --mapping, tests). Rules compiled before keep the old one,
 * which stays allocated. text is YAML. */
int sigma_mapping_set(const char *text, size_t n, char *err, size_t errlen);
/* The embedded mapping text (fieldmap.c). */
extern const char sigma_mapping_text[];
extern const size_t sigma_mapping_len;

/* ---- rules ---- */

/* One way a rule applies: a logsource alternative and the detection compiled with its field
 * mapping. Most rules have one. */
struct variant {
	const struct sel *logsrc; /* NULL: every event */
	const struct logsource_map *ls;
	struct detection det;
};

enum corr_type {
	CT_EVENT_COUNT,
	CT_VALUE_COUNT,
	CT_TEMPORAL,
	CT_TEMPORAL_ORDERED,
	CT_VALUE_SUM, /* the aggregations of a numeric field (value_*): conditions in numv */
	CT_VALUE_AVG,
	CT_VALUE_PERCENTILE
};

/* value_sum/avg/percentile: events kept per group window (the oldest leave beyond). */
#define CORR_VALUE_KEEP 4096

/* One numeric comparison of a value_* condition. */
struct corr_num {
	int op; /* 0 gt, 1 gte, 2 lt, 3 lte, 4 eq, 5 neq */
	double v;
};

struct corr_cond {
	bool has_lo, has_hi, has_neq;
	int64_t lo, hi, neq; /* inclusive bounds */
};

struct corr_alias {
	const char *name;
	size_t n;
	const char **rule; /* referenced rule name */
	const char **field;
};

struct corr {
	enum corr_type type;
	size_t nrefs;
	const char **refs; /* rule ids or names as written */
	size_t ngroup;
	const char **group;
	size_t nalias;
	struct corr_alias *alias;
	int64_t span_us;
	const char *window; /* the timespan as written ("5m"), for summaries */
	struct corr_cond cond;
	size_t nnum; /* value_sum/avg/percentile: the condition's comparisons, ANDed */
	struct corr_num num[6];
	size_t nfield; /* value_count: distinct combinations of these */
	const char **field;
	bool generate;
	bool close_eval; /* upper bound: evaluated when the window closes */
	int64_t keep;	 /* window entries worth keeping per group */
};

/* Prefilter: a rule needs the event's field `evf` (os_type, event_type or app) to equal one
 * of `vals` (lower-case), or is unindexed (evf < 0). EventIDs: when neid > 0 the rule also
 * needs data EventID among them. */
struct prefilter {
	int evf;
	size_t nvals;
	const char **vals;
	size_t neid;
	int64_t *eid;
};

/* ---- what an alert of a rule is about and says (sigma_alertspec.c) ---- */

#define SUMMARY_MAX 300	      /* bytes of a rendered summary (cut at a UTF-8 boundary) */
#define SUMMARY_VALUE_MAX 100 /* bytes of one substituted value */
#define SPEC_MAX_FIELDS 16    /* group-by and new-value fields */
#define NEWVALUE_DAYS 30      /* default new-value-days */

enum tpl_kind {
	TP_TEXT,
	TP_FIELD,
	TP_COUNT,
	TP_WINDOW,
	TP_RULE,
	TP_GROUP,
	TP_VALUES,
	TP_FIRST,
	TP_LAST,
	TP_EVENTS
};

/* One piece of a summary template: literal text or a placeholder. */
struct tpl_part {
	enum tpl_kind kind;
	const char *s; /* TP_TEXT */
	size_t n;
	struct field_ref f; /* TP_FIELD */
	int group;	    /* TP_FIELD of a correlation: the group-by field it names, or -1 */
};

/* The rule's "minisiem:" block compiled, or its defaults. */
struct alert_spec {
	size_t ngroup; /* detection rules: the group-by fields */
	struct field_ref *group;
	size_t nparts; /* the summary template; none: the default summary */
	struct tpl_part *parts;
	int dgroup[3]; /* correlations' default summary: the group-by index of source_host,
			* user and source_ip, or -1 */
	size_t nnew;   /* new-value fields (detection rules) */
	struct field_ref *newv;
	int64_t new_span_us; /* new-value-days */
	uint64_t new_sig;    /* the fields' names: state is kept across changes of the rest */
};

/* A filter document's own part: which rules it applies to (sigma_filter.c). */
struct sfilter {
	bool any; /* rules: any / all / [] — every rule of its logsource */
	size_t nrefs;
	const char **refs; /* rule ids or names */
};

struct rule {
	struct rule_info info;
	const char *ls_category, *ls_product, *ls_service; /* the rule's logsource as written */
	struct sfilter *filter;				   /* a filter document, else NULL */
	size_t napplied; /* filters of the rule set that apply to this rule (malloc'd) */
	const struct rule **applied;
	struct alert_spec spec;
	struct arena a;
	unsigned line; /* first line of its document */
	size_t nvar;
	struct variant *var;
	struct corr *corr;
	struct prefilter pf;
	bool keywords; /* uses full-text keywords */
	const struct sigma_mapping *map;
	struct re_node *res;
	/* Set by the detector for the rule set it belongs to. */
	int index;
	size_t nkw_req; /* > 0: the rule can only match when one of these keyword */
	int kw_req[8];	/* automaton ids is set for the event */
};

/* ---- compiling (sigma_parse.c drives, sigma_compile.c/sigma_cond.c build) ---- */

/* Every regex a rule compiled, so a rule that fails half way frees them all. */
struct re_node {
	pcre2_code *re;
	struct re_node *next;
};

struct ydoc;
struct scratch;

struct cctx {
	struct arena *a;
	char *err;
	size_t errlen;
	const struct logsource_map *ls; /* field mappings in force, or NULL */
	const struct sigma_mapping *map;
	bool keywords;	      /* set when a keyword item was compiled */
	struct re_node **res; /* where compiled regexes are recorded */
};

/* A YAML scalar handed to the value compiler. */
enum yv_type { YV_STR, YV_INT, YV_NUM, YV_BOOL, YV_NULL };
struct yval {
	const char *s;
	size_t n;
	enum yv_type t;
	unsigned line;
};

/* Write "line N: <msg>" into cc->err; returns SIEM_ESCHEMA. */
int cc_fail(struct cctx *cc, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Compile "key: values" (key may carry |modifiers, or be empty/"|mods" for keywords). */
int fcond_compile(struct cctx *cc, struct fcond *fc, const char *key, size_t keylen,
		  const struct yval *vals, size_t nvals, unsigned line);
/* The expand modifier's values: each string value with its %placeholders% replaced by every
 * value of the placeholder set in force (sigma_placeholders_set); an unknown placeholder is
 * refused. */
int placeholders_expand(struct cctx *cc, const struct yval *vals, size_t nvals, struct yval **out,
			size_t *nout, unsigned line);
/* Replace the placeholder values (YAML: name: value or [values]); rules compiled later use
 * them. */
int sigma_placeholders_set(const char *text, size_t n, char *err, size_t errlen);
/* Compile a keyword (full-text) value list. */
int fcond_keywords(struct cctx *cc, struct fcond *fc, const char *mods, size_t modlen,
		   const struct yval *vals, size_t nvals, unsigned line);
/* A field name through the mapping in force to the places it may be found (sigma_fields.c). */
int field_ref_compile(struct cctx *cc, struct field_ref *f, const char *name, size_t n);
/* A key of the event's data only (found as field_ref_compile finds data keys, no mapping). */
int field_ref_compile_data(struct cctx *cc, struct field_ref *f, const char *name, size_t n);

/* Parse a condition (one string) into nodes of d, over the selections already in d. */
int cond_parse(struct cctx *cc, struct detection *d, const char *text, size_t n, unsigned line,
	       int *root);

/* A filter document's "rules" (sigma_filter.c). */
int filter_compile(struct cctx *cc, struct ydoc *y, yaml_node_t *f, struct rule *r);
/* Attach every filter of the set to the detection rules it applies to (their logsource
 * within the filter's, named by id or name, or any); filters naming no rule of the set
 * apply to none. */
int filters_attach(struct rule **rules, size_t n);
/* Do the filters attached to r let this event through (each filter whose logsource covers
 * the event must hold)? */
bool filters_pass(struct scratch *s, const struct rule *r);

/* Work out r->pf from a rule's compiled variants (sigma_prefilter.c). */
int prefilter_build(struct rule *r);
/* The mapping entries a rule's logsource selects; none is an error (sigma_mapping.c). */
int logsource_resolve(struct cctx *cc, const char *cat, const char *prod, const char *svc,
		      const struct logsource_map ***out, size_t *nout, unsigned line);

/* ---- reading YAML (sigma_yaml.c) ---- */

/* A loaded document, and the nodes visited in it (aliases can make a walk unbounded). */
struct ydoc {
	yaml_document_t doc;
	size_t visits;
};

/* A node by index; NULL past SIGMA_MAX_NODES visits. */
yaml_node_t *yget(struct ydoc *y, int idx);
unsigned yline(const yaml_node_t *n);
bool yscalar(const yaml_node_t *n, const char **s, size_t *len);
bool ykey_is(const yaml_node_t *n, const char *w);
yaml_node_t *ymap_get(struct ydoc *y, yaml_node_t *map, const char *key);
/* A scalar with the type YAML's core schema gives a plain scalar; quoted ones are strings. */
void yval_of(const yaml_node_t *n, struct yval *v);

/* Limits checked on the parser's events before any document tree is built. */
struct ylimits {
	size_t doc_bytes; /* one document */
	int depth;	  /* nested sequences and maps */
	size_t nodes;	  /* per document */
};
int ylimits_check(const char *text, size_t n, const struct ylimits *lim, char *err, size_t errlen);
/* The parser's error as "document N: line L, column C: problem"; returns SIEM_EPARSE. */
int yerror(const yaml_parser_t *p, size_t docno, char *err, size_t errlen);

/* A search identifier: a map (AND), a list of maps (OR), or a list of keywords
 * (sigma_parse.c; the mapping's logsource conditions too). */
int sel_compile(struct cctx *cc, struct ydoc *y, yaml_node_t *v, struct sel *sel);

/* The rule's "minisiem:" block (or its defaults), tags and references; after its detection or
 * correlation is compiled (sigma_alertspec.c). */
int alertspec_compile(struct cctx *cc, struct ydoc *y, yaml_node_t *root, struct rule *r);

/* ---- evaluating ---- */

/* A token of the event's data JSON, indexed once per event (sigma_fields.c). */
enum jt { JT_OBJ, JT_ARR, JT_STR, JT_NUM, JT_TRUE, JT_FALSE, JT_NULL };
struct jtok {
	uint8_t type, esc, key, cls, dec, low;
	uint32_t off, len; /* strings: between the quotes; others: the whole text */
	uint32_t next;	   /* the token after this subtree */
	int32_t parent;	   /* enclosing container */
	const char *dp;	   /* decoded text (dec) */
	uint32_t dn;
	const char *lp; /* lower-cased decoded text (low) */
};
struct jslot;

/* Per-evaluation scratch, reused across events so evaluation does not allocate. */
struct scratch {
	const struct event *ev;
	uint32_t gen; /* bumped per event: caches compare against it */
	char *buf;    /* decoded and lower-cased copies of this event's values */
	size_t cap, used;
	bool ready;	/* buf sized for this event */
	int data_state; /* 0 not parsed yet, 1 parsed, -1 absent or unparsable */
	struct jtok *tok;
	size_t ntok, tokcap;
	struct jslot *ht;
	size_t htcap;
	uint32_t lgen[EVF_COUNT]; /* lower-cased copies of event fields */
	const char *lp[EVF_COUNT];
	size_t ln[EVF_COUNT];
	uint32_t tgen[EVF_COUNT]; /* text of numeric event fields */
	char txt[EVF_COUNT][48];
	size_t txtn[EVF_COUNT];
	uint8_t *memo; /* selection results: 0 unknown, 1 false, 2 true */
	size_t memocap;
	pcre2_match_data *md;
	pcre2_match_context *mctx; /* bounds the work of one regex on one value */
	struct {		   /* logsource conditions already decided for this event */
		const struct sel *sel;
		uint32_t gen;
		bool res;
	} lsc[64];
	bool eid_done, eid_ok; /* data EventID, for the prefilter */
	int64_t eid;
	/* keyword automaton results for this event (detector only) */
	const struct kw_automaton *ac;
	uint32_t acgen;
	uint64_t *acbits;
	size_t acwords;
};

int scratch_init(struct scratch *s);
void scratch_release(struct scratch *s);
void scratch_begin(struct scratch *s, const struct event *ev);

bool variant_match(struct scratch *s, const struct variant *v);
/* A logsource condition, decided once per event. */
bool logsrc_match(struct scratch *s, const struct sel *sel);
/* One matcher against one scalar value (string, number or boolean). */
bool vmatch_scalar(struct scratch *s, const struct vmatch *m, struct fval *v);
bool rule_match_s(struct scratch *s, const struct rule *r);
/* A field's value; for FV_STR/FV_NUM/FV_BOOL its text. Arrays and objects give their JSON. */
void field_get(struct scratch *s, const struct field_ref *f, struct fval *out);
/* One of our event fields (enum evf), or one token of the data JSON. */
void field_event(struct scratch *s, int evf, struct fval *out);
void field_token(struct scratch *s, int k, struct fval *out);
/* Lower-cased text of a value (cached per event field or data token). */
void field_lower(struct scratch *s, const struct fval *v, const char **p, size_t *n);
/* The event's data EventID as an integer, if any. */
bool scratch_eventid(struct scratch *s, int64_t *out);

/* The rules no index selects, grouped by their one logsource condition (sigma_gates.c): per
 * event a logsource it fails skips its rules at once (rules of several logsources, or none,
 * are always candidates). */
struct ugates {
	struct ugate {
		const struct sel *sel;
		size_t start, n;
	} * g;
	size_t n;
	int *run, *cand; /* rule indices by logsource; this event's candidates */
};
int ugates_build(struct ugates *u, struct rule *const *rules, const int *idx, size_t n);
/* This event's candidates among them, in rule order (valid until the next call). */
const int *ugates_candidates(struct ugates *u, struct scratch *s, size_t *len);
void ugates_free(struct ugates *u);

/* Keyword automaton over every case-insensitive keyword literal of a rule set. */
struct kw_automaton;
int kw_build(struct rule **rules, size_t n, struct kw_automaton **out);
void kw_free(struct kw_automaton *ac);
void kw_reset_ids(struct rule *r);
/* Find the keyword ids a rule cannot match without (after kw_build). */
void kw_requirements(struct rule *r);
/* Is any of the rule's required keyword ids set for this event? */
bool kw_pass(struct scratch *s, const struct rule *r);
/* A keyword item against message and raw_message. */
bool kw_match(struct scratch *s, const struct fcond *fc);

void vmatch_free_all(struct rule *r);

/* ---- correlation state (correlate.c) ---- */

struct cstate;
struct corr_engine;

/* What a correlation is fed: a detection rule's match or a correlation's hit. */
struct corr_input {
	const struct rule *from; /* the rule that matched / hit */
	const struct event *ev;
	int64_t ts;
	const uint8_t *id; /* event id */
	/* When from is a correlation: its group values, by its group-by names. */
	size_t nvals;
	const char *const *vals;
	const size_t *valn;
	const char *const *names;
};

/* A correlation's hit, handed back to the detector. */
struct corr_hit {
	const char *key; /* "source_ip=1.2.3.4,user=root" */
	int64_t first_ts, last_ts, count;
	size_t nids;
	const uint8_t (*ids)[16];
	size_t nvals; /* group values, by the correlation's group-by names */
	const char *const *vals;
	const size_t *valn;
	const char *const *names;
	int64_t new_events; /* events in the window that no earlier hit of the group had */
	const char *values; /* value_count: the distinct values, "a, b, …"; else NULL */
};

typedef void (*corr_fire_fn)(void *ctx, struct cstate *cs, const struct corr_hit *h);

/* Growable output and bounded input buffers for the state file. */
struct wbuf {
	uint8_t *p;
	size_t n, cap;
	int err;
};
struct rbuf {
	const uint8_t *p;
	size_t n, pos;
	int err;
};
void wb_put(struct wbuf *w, const void *p, size_t n);
void wb_u32(struct wbuf *w, uint32_t v);
void wb_u64(struct wbuf *w, uint64_t v);
void wb_str(struct wbuf *w, const char *s, size_t n);
uint32_t rb_u32(struct rbuf *r);
uint64_t rb_u64(struct rbuf *r);
const uint8_t *rb_get(struct rbuf *r, size_t n);
const char *rb_str(struct rbuf *r, size_t *n);

/* State of one correlation rule. refs are its resolved referenced rules (nrefs of them). */
int cstate_new(const struct rule *r, const struct rule *const *refs, size_t max_groups,
	       struct cstate **out, char *err, size_t errlen);
void cstate_free(struct cstate *cs);
/* Forget every group (the windows are replaced by a saved state). */
void cstate_clear(struct cstate *cs);
/* An input from rule in->from (one of the refs): update the groups, report hits. */
void cstate_feed(struct cstate *cs, struct scratch *s, const struct corr_input *in,
		 corr_fire_fn fire, void *ctx);
/* Drop groups with nothing left inside a window that may still grow (event time). */
void cstate_expire(struct cstate *cs, int64_t watermark);
size_t cstate_ngroups(const struct cstate *cs);
uint64_t cstate_evicted(const struct cstate *cs);
const struct rule *cstate_rule(const struct cstate *cs);
bool cstate_refers(const struct cstate *cs, const struct rule *r);
/* State as bytes; version is the state file's (1: entries without event counts and value
 * texts, 2: with). */
void cstate_save(const struct cstate *cs, struct wbuf *w);
int cstate_load(struct cstate *cs, struct rbuf *r, int version);

/* ---- rendering hits (sigma_alertspec.c) ---- */

/* What a hit's summary may say, besides the fields of its event (the scratch's). */
struct hit_view {
	const char *key;
	int64_t first, last, count;
	size_t nvals; /* a correlation's group values, by its group-by names */
	const char *const *vals;
	const size_t *valn;
	const char *values; /* value_count's distinct values, or NULL */
};

/* The group key of a detection rule's hit: "source_host=nas,user=svc-backup" from the event,
 * absent fields empty; "" without group-by fields. out has KEY_BUF bytes. */
#define KEY_BUF 8192
void alertspec_key(const struct rule *r, struct scratch *s, char *out);
/* The one-line summary of a hit into out (SUMMARY_MAX + 1 bytes). */
void alertspec_summary(const struct rule *r, struct scratch *s, const struct hit_view *h,
		       char *out);
/* The hash of a new-value rule's field values for this event (case-insensitive). */
uint64_t alertspec_newvalue_hash(const struct rule *r, struct scratch *s);

/* ---- new-value state (newvalue.c) ---- */

/* The value combinations one new-value rule has seen, each with its newest event time,
 * bounded (the least recently seen forgotten and counted). */
struct nvstate;
int nvstate_new(size_t max, int64_t span_us, struct nvstate **out);
void nvstate_free(struct nvstate *nv);
void nvstate_clear(struct nvstate *nv);
void nvstate_set_span(struct nvstate *nv, int64_t span_us);
/* Is the combination with hash h new at time ts (not seen within the span before)? Either
 * way it is recorded as seen at ts. */
bool nvstate_check(struct nvstate *nv, uint64_t h, int64_t ts);
/* Forget combinations last seen more than the span before watermark. */
void nvstate_expire(struct nvstate *nv, int64_t watermark);
size_t nvstate_count(const struct nvstate *nv);
uint64_t nvstate_evicted(const struct nvstate *nv);
void nvstate_save(const struct nvstate *nv, struct wbuf *w);
int nvstate_load(struct nvstate *nv, struct rbuf *r);

/* ---- small helpers ---- */

static inline char sigma_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}
bool sigma_ieq(const char *a, size_t an, const char *b, size_t bn);
/* Byte equality: a loop beats a memcmp call for the short values rules compare. */
static inline bool sigma_eqb(const char *a, const char *b, size_t n)
{
	if (n > 16)
		return !memcmp(a, b, n);
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}
/* Length of the UTF-8 sequence starting at p[0] (1 for anything malformed). */
static inline size_t sigma_u8len(const char *p, size_t left)
{
	unsigned char b = (unsigned char)p[0];
	size_t k = b < 0xc0 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
	if (k > left)
		return 1;
	for (size_t i = 1; i < k; i++)
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			return 1;
	return k;
}
/* A number as rules and events write it: decimal, or hexadecimal after 0x. */
bool sigma_parse_number(const char *p, size_t n, double *out);
/* Parse a level name; returns severity 1..5 or 0. */
int sigma_level_severity(const char *s);
/* "5m", "30s", "1h", "2d" -> microseconds. */
int sigma_timespan(const char *s, size_t n, int64_t *us);

/* Rule set compilation of text into rules (sigma_parse.c). */
int sigma_compile(const char *text, size_t n, const char *origin, bool file, struct rule ***rules,
		  size_t *nrules, char *err, size_t errlen);

/* detector.c extras for rules test: report hits of every rule, also those that do not
 * generate alerts on their own. */
void detector_report_all(struct detector *d, bool on);
/* Value combinations a new-value rule remembers (default NEWVALUE_MAX; tests set fewer).
 * Takes effect for rule sets set after it. */
#define NEWVALUE_MAX 100000
void detector_set_max_new_values(struct detector *d, size_t max);

#endif
