/* winevent.c — one Windows event as XML (an <Event> from the Event Log API or an evtx export)
 * into a normalized event. expat with no DTD and no entities, bounded in size and depth. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>
#include <jansson.h>

#include "core/err.h"
#include "core/strbuf.h"
#include "parse/winevent.h"
#include "parse/winevent_table.h"

#define WX_MAX_XML (1024 * 1024) /* a rendered event is a few KiB; refuse anything larger */
#define WX_MAX_DEPTH 12		 /* Event/UserData/Wrapper/Field/... is 4; leave room */
#define WX_MAX_NAME 256		 /* element and Data Name lengths */
#define WX_SHRINK_VALUE 1024	 /* when data is over its cap, values are cut to this */

enum ctx {
	C_ROOT,
	C_EVENT,
	C_SYSTEM,
	C_SYSFIELD,
	C_EVENTDATA,
	C_EDFIELD,
	C_USERDATA,
	C_UDELEM,
	C_UDFIELD,
	C_RENDER,
	C_RENDERFIELD,
	C_SKIP,
};

struct wx {
	XML_Parser p;
	int depth;
	enum ctx ctx[WX_MAX_DEPTH + 1];
	bool child[WX_MAX_DEPTH + 1];
	char key[WX_MAX_DEPTH + 1][WX_MAX_NAME];
	struct strbuf text;
	json_t *sys;	  /* System fields, in document order */
	json_t *fields;	  /* EventData / UserData fields, flat */
	json_t *ud;	  /* UserData as {"Wrapper": {"Field": "value"}} */
	json_t *udelem;	  /* the UserData wrapper being read */
	json_t *rendered; /* RenderingInfo/Message */
	unsigned nparam;
	int rc;
	char *err;
	size_t errlen;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return SIEM_EPARSE;
}

/* Stop the parser with an error of our own (the first one wins). */
static void wx_stop(struct wx *w, int rc, const char *fmt, const char *arg)
{
	if (!w->rc) {
		w->rc = rc;
		if (w->err && w->errlen)
			snprintf(w->err, w->errlen, fmt, arg);
	}
	XML_StopParser(w->p, XML_FALSE);
}

static const char *local_name(const char *name)
{
	const char *c = strrchr(name, ':');
	return c ? c + 1 : name;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Set k only when absent: the first value of a name wins. */
static int put_first(json_t *o, const char *k, json_t *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_get(o, k)) {
		json_decref(v);
		return 0;
	}
	return json_object_set_new(o, k, v) ? -ENOMEM : 0;
}

static int put_sys(json_t *sys, const char *k, const char *v, size_t n)
{
	for (size_t i = 0; i < winevent_n_sys_ints; i++)
		if (!strcmp(k, winevent_sys_ints[i]) && all_digits(v, n))
			return put_first(sys, k, json_integer(strtoll(v, NULL, 10)));
	return put_first(sys, k, json_stringn(v, n));
}

static int set_key(struct wx *w, int d, const char *k)
{
	size_t n = strlen(k);
	if (n >= WX_MAX_NAME) {
		wx_stop(w, SIEM_EPARSE, "name '%.64s...' too long", k);
		return -1;
	}
	memcpy(w->key[d], k, n + 1);
	return 0;
}

static const char *attr(const char **atts, const char *name)
{
	for (size_t i = 0; atts[i]; i += 2)
		if (!strcmp(local_name(atts[i]), name))
			return atts[i + 1];
	return NULL;
}

static void XMLCALL on_start(void *ud, const char *name, const char **atts)
{
	struct wx *w = ud;
	const char *ln = local_name(name);
	if (w->rc) /* expat may still call back once after a stop */
		return;
	if (w->depth >= WX_MAX_DEPTH) {
		wx_stop(w, SIEM_EPARSE, "elements nested too deeply (at <%.64s>)", ln);
		return;
	}
	int d = ++w->depth;
	enum ctx parent = w->ctx[d - 1], c = C_SKIP;
	w->child[d - 1] = true;
	w->child[d] = false;
	w->key[d][0] = '\0';
	w->text.n = 0;
	if (w->text.p)
		w->text.p[0] = '\0';

	switch (parent) {
	case C_ROOT:
		if (strcmp(ln, "Event")) {
			wx_stop(w, SIEM_EPARSE, "root element is <%.64s>, not <Event>", ln);
			return;
		}
		c = C_EVENT;
		break;
	case C_EVENT:
		c = !strcmp(ln, "System")	   ? C_SYSTEM
		    : !strcmp(ln, "EventData")	   ? C_EVENTDATA
		    : !strcmp(ln, "UserData")	   ? C_USERDATA
		    : !strcmp(ln, "RenderingInfo") ? C_RENDER
						   : C_SKIP;
		break;
	case C_SYSTEM:
		c = C_SYSFIELD;
		if (set_key(w, d, ln))
			return;
		/* Attributes become Element_Attribute (Provider_Name), except TimeCreated. */
		for (size_t i = 0; atts[i]; i += 2) {
			const char *an = local_name(atts[i]);
			char k[2 * WX_MAX_NAME];
			if (!strncmp(atts[i], "xmlns", 5))
				continue;
			if (!strcmp(ln, "TimeCreated") && !strcmp(an, "SystemTime"))
				snprintf(k, sizeof(k), "TimeCreated");
			else if (snprintf(k, sizeof(k), "%s_%s", ln, an) >= (int)sizeof(k))
				continue;
			if (put_sys(w->sys, k, atts[i + 1], strlen(atts[i + 1]))) {
				wx_stop(w, -ENOMEM, "%s", "out of memory");
				return;
			}
		}
		break;
	case C_EVENTDATA: {
		c = C_EDFIELD;
		const char *k = ln;
		char pk[32];
		if (!strcmp(ln, "Data")) {
			k = attr(atts, "Name");
			if (!k || !*k) {
				snprintf(pk, sizeof(pk), "param%u", ++w->nparam);
				k = pk;
			}
		}
		if (set_key(w, d, k))
			return;
		break;
	}
	case C_USERDATA: {
		c = C_UDELEM;
		json_t *o = json_object_get(w->ud, ln);
		if (!json_is_object(o)) {
			o = json_object();
			if (put_first(w->ud, ln, o)) {
				wx_stop(w, -ENOMEM, "%s", "out of memory");
				return;
			}
			o = json_object_get(w->ud, ln);
		}
		w->udelem = o;
		break;
	}
	case C_UDELEM:
	case C_UDFIELD:
		c = C_UDFIELD;
		if (set_key(w, d, ln))
			return;
		break;
	case C_RENDER:
		c = C_RENDERFIELD;
		if (set_key(w, d, ln))
			return;
		break;
	default:
		c = C_SKIP;
		break;
	}
	w->ctx[d] = c;
}

static void XMLCALL on_end(void *ud, const char *name)
{
	struct wx *w = ud;
	int d = w->depth, rc = 0;
	(void)name;
	if (d <= 0 || w->rc)
		return;
	if (!w->child[d]) {
		const char *t = w->text.p ? w->text.p : "";
		size_t n = w->text.n;
		switch (w->ctx[d]) {
		case C_SYSFIELD:
			if (n)
				rc = put_sys(w->sys, w->key[d], t, n);
			break;
		case C_EDFIELD:
			rc = put_first(w->fields, w->key[d], json_stringn(t, n));
			break;
		case C_UDFIELD:
			rc = put_first(w->fields, w->key[d], json_stringn(t, n));
			if (!rc && w->udelem)
				rc = put_first(w->udelem, w->key[d], json_stringn(t, n));
			break;
		case C_RENDERFIELD:
			if (!strcmp(w->key[d], "Message") && !w->rendered &&
			    !(w->rendered = json_stringn(t, n)))
				rc = -ENOMEM;
			break;
		default:
			break;
		}
	}
	if (w->ctx[d] == C_UDELEM)
		w->udelem = NULL;
	w->text.n = 0;
	if (w->text.p)
		w->text.p[0] = '\0';
	w->depth--;
	if (rc)
		wx_stop(w, rc, "%s", "out of memory");
}

static void XMLCALL on_text(void *ud, const char *s, int len)
{
	struct wx *w = ud;
	enum ctx c = w->ctx[w->depth];
	if (w->rc)
		return;
	if (c != C_SYSFIELD && c != C_EDFIELD && c != C_UDFIELD && c != C_RENDERFIELD)
		return;
	if (len > 0 && strbuf_add(&w->text, s, (size_t)len))
		wx_stop(w, -ENOMEM, "%s", "out of memory");
}

/* A DTD could declare entities (billion laughs, external files): an event never has one. */
static void XMLCALL on_doctype(void *ud, const char *name, const char *sysid, const char *pubid,
			       int has_internal_subset)
{
	(void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
	wx_stop(ud, SIEM_EPARSE, "%s", "DOCTYPE not allowed");
}

/* ---- the event ---- */

/* A field's text: strings as they are, integers in decimal. NULL when absent. */
static const char *field_text(json_t *data, const char *k, char num[24], size_t *n)
{
	json_t *v = json_object_get(data, k);
	if (json_is_string(v)) {
		*n = json_string_length(v);
		return json_string_value(v);
	}
	if (json_is_integer(v)) {
		*n = (size_t)snprintf(num, 24, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return num;
	}
	return NULL;
}

/* A value that says "nobody" or "nothing". */
static bool blank(const char *s, size_t n)
{
	return !s || n == 0 || (n == 1 && s[0] == '-');
}

/* A value in a one-line message: a line break with the indentation around it (4672's
 * PrivilegeList, 4720's UserAccountControl) becomes one space. */
static int put_oneline(struct strbuf *b, const char *v, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		size_t j = i;
		bool brk = false;
		while (j < n && (v[j] == ' ' || v[j] == '\t' || v[j] == '\r' || v[j] == '\n')) {
			brk |= v[j] != ' ';
			j++;
		}
		if (j == i) {
			while (j < n && v[j] != ' ' && v[j] != '\t' && v[j] != '\r' && v[j] != '\n')
				j++;
			rc = strbuf_add(b, v + i, j - i);
		} else if (!brk) {
			rc = strbuf_add(b, v + i, j - i);
		} else if (i > 0 && j < n) {
			rc = strbuf_add(b, " ", 1);
		}
		i = j;
	}
	return rc;
}

static int render(struct strbuf *b, const char *tpl, json_t *data)
{
	size_t seg = 0;
	bool in_seg = false, missing = false;
	int rc = 0;
	for (const char *t = tpl; *t && !rc; t++) {
		if (*t == '[') {
			in_seg = true;
			missing = false;
			seg = b->n;
		} else if (*t == ']') {
			if (missing && b->p) {
				b->n = seg;
				b->p[seg] = '\0';
			}
			in_seg = false;
		} else if (*t == '{') {
			const char *e = strchr(t, '}');
			char k[64], num[24];
			size_t n = 0;
			snprintf(k, sizeof(k), "%.*s", (int)(e - t - 1), t + 1);
			const char *v = field_text(data, k, num, &n);
			if (blank(v, n)) {
				missing = true;
				if (!in_seg)
					rc = strbuf_add(b, "-", 1);
			} else {
				rc = put_oneline(b, v, n);
			}
			t = e;
		} else {
			rc = strbuf_add(b, t, 1);
		}
	}
	return rc;
}

/* A copy of o with string values cut to cap bytes (nested objects too). */
static json_t *shrink(json_t *o, size_t cap)
{
	json_t *r = json_object(), *v;
	const char *k;
	if (!r)
		return NULL;
	json_object_foreach (o, k, v) {
		json_t *c;
		if (json_is_string(v))
			c = json_stringn(
			    json_string_value(v),
			    utf8_cut(json_string_value(v), json_string_length(v), cap));
		else if (json_is_object(v))
			c = shrink(v, cap);
		else
			c = json_incref(v);
		if (!c || json_object_set_new(r, k, c)) {
			json_decref(r);
			return NULL;
		}
	}
	return r;
}

/* data as compact JSON in the arena. Over EV_CAP_DATA, long values are cut (and the object
 * marked "_truncated"); if that is not enough only the System fields stay, then EventID. */
static int store_data(struct event *ev, json_t *data, json_t *sys, struct arena *a)
{
	char *s = json_dumps(data, JSON_COMPACT);
	json_t *alt = NULL;
	int rc = 0;
	if (!s)
		return -ENOMEM;
	size_t n = strlen(s), orig = n;
	for (int pass = 0; n > EV_CAP_DATA && pass < 3; pass++) {
		json_decref(alt);
		if (pass < 2) {
			alt = shrink(pass == 0 ? data : sys, WX_SHRINK_VALUE / (size_t)(pass + 1));
		} else if ((alt = json_object())) {
			json_t *id = json_object_get(sys, "EventID");
			if (id && json_object_set(alt, "EventID", id)) {
				rc = -ENOMEM;
				goto out;
			}
		}
		if (!alt || json_object_set_new(alt, "_truncated", json_true()) ||
		    json_object_set_new(alt, "_original_bytes", json_integer((json_int_t)orig))) {
			rc = -ENOMEM;
			goto out;
		}
		free(s);
		if (!(s = json_dumps(alt, JSON_COMPACT))) {
			rc = -ENOMEM;
			goto out;
		}
		n = strlen(s);
		ev->flags |= EV_TRUNC_DATA;
	}
	char *c = arena_strndup(a, s, n);
	if (!c)
		rc = -ENOMEM;
	else
		ev->data = (struct sv){c, n};
out:
	json_decref(alt);
	free(s);
	return rc;
}

static const char *level_name(json_t *data)
{
	static const char *const names[] = {NULL,      "CRITICAL", "ERROR",
					    "WARNING", "INFO",	   "VERBOSE"};
	json_t *lv = json_object_get(data, "Level");
	json_int_t l = json_is_integer(lv) ? json_integer_value(lv) : -1;
	if (l >= 1 && l <= 5)
		return names[l];
	if (l != 0)
		return NULL;
	/* Level 0 (LogAlways): the Security log says success or failure in its keywords. */
	const char *kw = json_string_value(json_object_get(data, "Keywords"));
	unsigned long long k = kw ? strtoull(kw, NULL, 16) : 0;
	if (k & 0x0010000000000000ULL)
		return "AUDIT_FAILURE";
	if (k & 0x0020000000000000ULL)
		return "AUDIT_SUCCESS";
	return "INFO";
}

static int severity_of_level(json_t *data)
{
	json_t *lv = json_object_get(data, "Level");
	json_int_t l = json_is_integer(lv) ? json_integer_value(lv) : 0;
	return l == 1 ? 4 : l == 2 ? 3 : l == 3 ? 2 : 1;
}

static const struct winevent_type *lookup(json_int_t id, json_t *data)
{
	const char *prov = json_string_value(json_object_get(data, "Provider_Name"));
	return winevent_type_find((unsigned)id, prov);
}

static int fill_event(struct event *ev, struct wx *w, const char *xml, size_t n, struct arena *a,
		      char *err, size_t errlen)
{
	json_t *data = NULL, *v;
	const char *k;
	struct strbuf msg;
	char num[24], tbuf[64];
	int rc = 0;
	strbuf_init(&msg, 4 * WX_MAX_XML);

	json_t *jid = json_object_get(w->sys, "EventID");
	if (!jid) {
		rc = fail(err, errlen, "no System/EventID");
		goto out;
	}
	if (!json_is_integer(jid) || json_integer_value(jid) > 65535) {
		rc = fail(err, errlen, "System/EventID '%.32s' is not an event number",
			  json_is_string(jid) ? json_string_value(jid) : "");
		goto out;
	}
	json_int_t id = json_integer_value(jid);

	/* System first, so an EventData field never shadows EventID, Channel, Computer... */
	if (!(data = json_deep_copy(w->sys))) {
		rc = -ENOMEM;
		goto out;
	}
	json_object_foreach (w->fields, k, v) {
		if ((rc = put_first(data, k, json_incref(v))))
			goto out;
	}
	if (json_object_size(w->ud) && (rc = put_first(data, "UserData", json_incref(w->ud))))
		goto out;

	const struct winevent_type *m = lookup(id, data);
	ev->os_type = (struct sv){"WINDOWS", 7};
	if (m) {
		ev->event_type = (struct sv){m->type, strlen(m->type)};
		ev->severity = m->severity;
	} else {
		int len = snprintf(tbuf, sizeof(tbuf), "WINEVENT_%" JSON_INTEGER_FORMAT, id);
		if ((rc = sv_capped(a, &ev->event_type, tbuf, (size_t)len, EV_CAP_SHORT,
				    EV_TRUNC_OTHER, &ev->flags)))
			goto out;
		ev->severity = severity_of_level(data);
	}
	const char *lv = level_name(data);
	if (lv)
		ev->level = (struct sv){lv, strlen(lv)};

	size_t hn = 0, cn = 0, rn = 0, un = 0;
	char rnum[24];
	const char *host = field_text(data, "Computer", num, &hn);
	const char *chan = field_text(data, "Channel", num, &cn);
	const char *rec = field_text(data, "EventRecordID", rnum, &rn);
	if (host && (rc = sv_capped(a, &ev->source_host, host, hn, EV_CAP_SHORT, EV_TRUNC_OTHER,
				    &ev->flags)))
		goto out;

	/* user: the account acted upon, else the one acting. */
	const char *user = field_text(data, "TargetUserName", num, &un);
	if (blank(user, un))
		user = field_text(data, "SubjectUserName", num, &un);
	if (!blank(user, un) &&
	    (rc = sv_capped(a, &ev->user, user, un, EV_CAP_SHORT, EV_TRUNC_OTHER, &ev->flags)))
		goto out;

	size_t ipn = 0;
	const char *ip = field_text(data, "IpAddress", num, &ipn);
	if (!blank(ip, ipn) && ip_parse(ip, ipn, ev->ip) == 0) {
		char canon[46];
		size_t l = ip_format(ev->ip, canon);
		char *c = arena_strndup(a, canon, l);
		if (!c) {
			rc = -ENOMEM;
			goto out;
		}
		ev->source_ip = (struct sv){c, l};
		ev->flags |= EV_HAS_IP;
	}

	size_t tn = 0;
	const char *ts = field_text(data, "TimeCreated", num, &tn);
	if (!ts || ts_parse(ts, tn, &ev->ts)) {
		ev->ts = ts_now_us();
		ev->flags |= EV_TS_MISSING;
	}

	/* The id: the same record read twice (xml, evtx, a restarted agent) is one event. */
	if (rec) {
		struct strbuf idn;
		strbuf_init(&idn, 3 * EV_CAP_SHORT);
		rc = strbuf_addf(&idn, "winevent:%.*s:%.*s:%.*s", (int)(host ? hn : 0),
				 host ? host : "", (int)(chan ? cn : 0), chan ? chan : "", (int)rn,
				 rec);
		if (!rc)
			uuid_v5(idn.p, idn.n, ev->id);
		strbuf_release(&idn);
		if (rc == -E2BIG) /* absurdly long names: the document itself identifies it */
			uuid_v5(xml, n, ev->id);
		else if (rc)
			goto out;
		rc = 0;
	} else {
		uuid_v5(xml, n, ev->id);
	}

	if (!m && w->rendered && json_string_length(w->rendered))
		rc = strbuf_add(&msg, json_string_value(w->rendered),
				json_string_length(w->rendered));
	else
		rc = render(&msg, m ? m->msg : winevent_generic_msg, data);
	if (rc)
		goto out;
	if ((rc = sv_capped(a, &ev->message, msg.p ? msg.p : "", msg.n, EV_CAP_MESSAGE,
			    EV_TRUNC_MESSAGE, &ev->flags)) ||
	    (rc = sv_capped(a, &ev->raw_message, xml, n, EV_CAP_RAW, EV_TRUNC_RAW, &ev->flags)))
		goto out;
	rc = store_data(ev, data, w->sys, a);
out:
	strbuf_release(&msg);
	json_decref(data);
	return rc;
}

int winevent_from_xml(const char *xml, size_t n, struct event *ev, struct arena *a, char *err,
		      size_t errlen)
{
	struct wx w = {0};
	int rc = 0;
	if (err && errlen)
		err[0] = '\0';
	memset(ev, 0, sizeof(*ev));
	/* The API and the exporters end a record with a newline or a NUL: not part of it. */
	while (n && (xml[n - 1] == '\0' || xml[n - 1] == '\n' || xml[n - 1] == '\r' ||
		     xml[n - 1] == ' ' || xml[n - 1] == '\t'))
		n--;
	if (n == 0)
		return fail(err, errlen, "empty document");
	if (n > WX_MAX_XML)
		return fail(err, errlen, "document of %zu bytes over the %d byte limit", n,
			    WX_MAX_XML);

	strbuf_init(&w.text, WX_MAX_XML);
	w.err = err;
	w.errlen = errlen;
	w.sys = json_object();
	w.fields = json_object();
	w.ud = json_object();
	w.p = XML_ParserCreate(NULL);
	if (!w.sys || !w.fields || !w.ud || !w.p) {
		rc = -ENOMEM;
		goto out;
	}
	XML_SetUserData(w.p, &w);
	XML_SetElementHandler(w.p, on_start, on_end);
	XML_SetCharacterDataHandler(w.p, on_text);
	XML_SetStartDoctypeDeclHandler(w.p, on_doctype);
	XML_SetParamEntityParsing(w.p, XML_PARAM_ENTITY_PARSING_NEVER);

	if (XML_Parse(w.p, xml, (int)n, XML_TRUE) != XML_STATUS_OK) {
		if (w.rc) {
			rc = w.rc;
			if (rc == -ENOMEM)
				fail(err, errlen, "out of memory");
		} else {
			enum XML_Error e = XML_GetErrorCode(w.p);
			rc = fail(err, errlen, "xml: %s at line %lu column %lu", XML_ErrorString(e),
				  (unsigned long)XML_GetCurrentLineNumber(w.p),
				  (unsigned long)XML_GetCurrentColumnNumber(w.p));
			if (e == XML_ERROR_NO_MEMORY)
				rc = -ENOMEM;
		}
		goto out;
	}
	if (w.rc) { /* cannot happen: a stop makes XML_Parse fail */
		rc = w.rc;
		goto out;
	}
	rc = fill_event(ev, &w, xml, n, a, err, errlen);
	if (rc == -ENOMEM)
		fail(err, errlen, "out of memory");
out:
	if (w.p)
		XML_ParserFree(w.p);
	strbuf_release(&w.text);
	json_decref(w.sys);
	json_decref(w.fields);
	json_decref(w.ud);
	json_decref(w.rendered);
	return rc;
}
