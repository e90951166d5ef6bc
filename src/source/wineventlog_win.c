/* wineventlog_win.c — wineventlog[:CHANNEL] (Windows): EvtSubscribe in pull mode from a saved
 * EvtBookmark, events rendered with EvtRender value contexts (no XML parsing). */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <bcrypt.h>
#include <sddl.h>
#include <winevt.h>
#include <ws2tcpip.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/strbuf.h"
#include "parse/winevent_table.h"
#include "source/source.h"

/*
 * Mapping (the same as src/parse/winevent.c on other platforms, see docs/windows.md):
 * event_type, severity and message template by (provider, EventID) from the one table in
 * src/parse/winevent_table.c ({Field} is a value, [segment] is left out when a field in it is
 * empty or "-"); user TargetUserName,
 * else SubjectUserName; source_ip IpAddress when it is an address; event_id UUIDv5 of
 * "winevent:<Computer>:<Channel>:<EventRecordID>", so a record read here and from an .evtx
 * export of the same log is one event. What differs (documented in docs/agent.md): data holds
 * the System values and the EventData/UserData fields named in ed_fields[] below rather than
 * every field, and raw_message is the XML EvtRender produces.
 */

#define RAW_CAP (64 * 1024)
#define VALUE_CAP 1024
#define BATCH_HANDLES 64

/* EventData fields rendered by name (the ones the mapping, the built-in rules and the common
 * Sigma Windows rules use); UserData leaves (1102) through the "*" step. */
static const char *const ed_fields[] = {
    "SubjectUserSid",
    "SubjectUserName",
    "SubjectDomainName",
    "SubjectLogonId",
    "TargetUserSid",
    "TargetUserName",
    "TargetDomainName",
    "TargetLogonId",
    "LogonType",
    "LogonProcessName",
    "AuthenticationPackageName",
    "WorkstationName",
    "LogonGuid",
    "TransmittedServices",
    "LmPackageName",
    "KeyLength",
    "ProcessId",
    "ProcessName",
    "IpAddress",
    "IpPort",
    "ImpersonationLevel",
    "ElevatedToken",
    "Status",
    "SubStatus",
    "FailureReason",
    "PrivilegeList",
    "NewProcessId",
    "NewProcessName",
    "TokenElevationType",
    "CommandLine",
    "ParentProcessName",
    "MandatoryLabel",
    "SamAccountName",
    "DisplayName",
    "UserPrincipalName",
    "ServiceName",
    "ServiceFileName",
    "ServiceType",
    "StartType",
    "AccountName",
    "ObjectName",
    "ShareName",
    "RelativeTargetName",
    "MemberName",
    "MemberSid",
    "TaskName",
    "TicketEncryptionType",
    "TicketOptions",
    "PreAuthType",
};
#define N_ED (sizeof(ed_fields) / sizeof(ed_fields[0]))
#define N_UD 2 /* UserData: SubjectUserName, SubjectDomainName */

struct pubmeta {
	wchar_t name[128];
	EVT_HANDLE h;
};

struct wsrc {
	wchar_t channel[256];
	char channel8[256];
	char key[300];
	EVT_HANDLE sub, bookmark, sys_ctx, data_ctx;
	HANDLE signal;
	void *vbuf; /* rendered values */
	DWORD vcap;
	struct pubmeta pubs[16];
	size_t npubs;
	struct strbuf js;
	bool any;
};

/* ---- UTF-16 and JSON helpers ---- */

static size_t to_utf8(const wchar_t *w, char *out, size_t cap)
{
	if (!w || !cap)
		return 0;
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)cap, NULL, NULL);
	if (n <= 0) { /* too long: cut */
		n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
		if (n <= 0)
			return out[0] = '\0', 0;
		char *tmp = malloc((size_t)n);
		if (!tmp)
			return out[0] = '\0', 0;
		WideCharToMultiByte(CP_UTF8, 0, w, -1, tmp, n, NULL, NULL);
		size_t k = cap - 1;
		while (k > 0 && ((unsigned char)tmp[k] & 0xc0) == 0x80)
			k--;
		memcpy(out, tmp, k);
		out[k] = '\0';
		free(tmp);
		return k;
	}
	return (size_t)n - 1;
}

static void jstr(struct strbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	strbuf_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			strbuf_add(b, e, 2);
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			strbuf_add(b, e, 6);
		} else {
			strbuf_add(b, s + i, 1);
		}
	}
	strbuf_add(b, "\"", 1);
}

static void jkey(struct strbuf *b, const char *k)
{
	if (b->n && b->p[b->n - 1] != '{')
		strbuf_add(b, ",", 1);
	jstr(b, k, strlen(k));
	strbuf_add(b, ":", 1);
}

static void jkv(struct strbuf *b, const char *k, const char *v)
{
	jkey(b, k);
	jstr(b, v, strlen(v));
}

/* ---- values ---- */

struct fields {
	char name[N_ED + N_UD + 24][40];
	char *value[N_ED + N_UD + 24];
	size_t n;
	char store[(N_ED + N_UD + 24) * 256];
	size_t used;
};

static const char *get(const struct fields *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->name[i], name))
			return f->value[i];
	return NULL;
}

static bool usable(const char *v)
{
	return v && *v && strcmp(v, "-");
}

static void put(struct fields *f, const char *name, const char *v)
{
	size_t n = strlen(v) + 1;
	if (f->n >= sizeof(f->name) / sizeof(f->name[0]) || get(f, name))
		return; /* System values come first and are never overridden */
	if (n > VALUE_CAP)
		n = VALUE_CAP;
	if (f->used + n > sizeof(f->store))
		return;
	snprintf(f->name[f->n], sizeof(f->name[0]), "%s", name);
	f->value[f->n] = f->store + f->used;
	memcpy(f->value[f->n], v, n - 1);
	f->value[f->n][n - 1] = '\0';
	f->used += n;
	f->n++;
}

/* One rendered value as text (empty when null or of a type not shown). */
static void variant_text(const EVT_VARIANT *v, char *out, size_t cap)
{
	out[0] = '\0';
	switch (v->Type & EVT_VARIANT_TYPE_MASK) {
	case EvtVarTypeString:
		to_utf8(v->StringVal, out, cap);
		break;
	case EvtVarTypeAnsiString:
		snprintf(out, cap, "%s", v->AnsiStringVal ? v->AnsiStringVal : "");
		break;
	case EvtVarTypeSByte:
		snprintf(out, cap, "%d", v->SByteVal);
		break;
	case EvtVarTypeByte:
		snprintf(out, cap, "%u", v->ByteVal);
		break;
	case EvtVarTypeInt16:
		snprintf(out, cap, "%d", v->Int16Val);
		break;
	case EvtVarTypeUInt16:
		snprintf(out, cap, "%u", v->UInt16Val);
		break;
	case EvtVarTypeInt32:
		snprintf(out, cap, "%ld", (long)v->Int32Val);
		break;
	case EvtVarTypeUInt32:
		snprintf(out, cap, "%lu", (unsigned long)v->UInt32Val);
		break;
	case EvtVarTypeInt64:
		snprintf(out, cap, "%" PRId64, (int64_t)v->Int64Val);
		break;
	case EvtVarTypeUInt64:
		snprintf(out, cap, "%" PRIu64, (uint64_t)v->UInt64Val);
		break;
	case EvtVarTypeHexInt32:
		snprintf(out, cap, "0x%lx", (unsigned long)v->UInt32Val);
		break;
	case EvtVarTypeHexInt64:
		snprintf(out, cap, "0x%" PRIx64, (uint64_t)v->UInt64Val);
		break;
	case EvtVarTypeBoolean:
		snprintf(out, cap, "%s", v->BooleanVal ? "true" : "false");
		break;
	case EvtVarTypeGuid:
		if (v->GuidVal) {
			const GUID *g = v->GuidVal;
			snprintf(out, cap, "{%08lX-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
				 (unsigned long)g->Data1, g->Data2, g->Data3, g->Data4[0],
				 g->Data4[1], g->Data4[2], g->Data4[3], g->Data4[4], g->Data4[5],
				 g->Data4[6], g->Data4[7]);
		}
		break;
	case EvtVarTypeSid: {
		LPSTR s = NULL;
		if (v->SidVal && ConvertSidToStringSidA(v->SidVal, &s)) {
			snprintf(out, cap, "%s", s);
			LocalFree(s);
		}
		break;
	}
	default:
		break;
	}
}

/* FILETIME (100 ns since 1601) as "YYYY-MM-DDTHH:MM:SS.fffffffZ", and microseconds. */
static int64_t filetime_text(ULONGLONG ft, char *out, size_t cap, bool seven)
{
	int64_t us = (int64_t)(ft / 10) - 11644473600000000LL;
	int64_t secs = (int64_t)(ft / 10000000ULL) - 11644473600LL;
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0)
		rem += 86400, days--;
	/* civil_from_days (Howard Hinnant) */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (seven)
		snprintf(out, cap, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%07lluZ",
			 (long long)y, (long long)m, (long long)d, (long long)(rem / 3600),
			 (long long)(rem / 60 % 60), (long long)(rem % 60),
			 (unsigned long long)(ft % 10000000ULL));
	else
		snprintf(out, cap, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%06lluZ",
			 (long long)y, (long long)m, (long long)d, (long long)(rem / 3600),
			 (long long)(rem / 60 % 60), (long long)(rem % 60),
			 (unsigned long long)(ft % 10000000ULL / 10));
	return us;
}

/* ---- the event id: UUIDv5 (SHA-1) in the project's namespace, as src/core/uuid.c ---- */

static const uint8_t ns_minisiem[16] = {0xe0, 0xfb, 0x34, 0x7a, 0x32, 0x94, 0x52, 0xdb,
					0x9b, 0xc2, 0x9b, 0xe6, 0xfe, 0x9d, 0x52, 0x0b};

static int uuid5(const char *name, size_t n, char out[37])
{
	BCRYPT_ALG_HANDLE alg = NULL;
	BCRYPT_HASH_HANDLE h = NULL;
	UCHAR d[20];
	int rc = -EIO;
	if (BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA1_ALGORITHM, NULL, 0) < 0)
		return rc;
	if (BCryptCreateHash(alg, &h, NULL, 0, NULL, 0, 0) >= 0 &&
	    BCryptHashData(h, (PUCHAR)ns_minisiem, 16, 0) >= 0 &&
	    BCryptHashData(h, (PUCHAR)name, (ULONG)n, 0) >= 0 && BCryptFinishHash(h, d, 20, 0) >= 0)
		rc = 0;
	if (h)
		BCryptDestroyHash(h);
	BCryptCloseAlgorithmProvider(alg, 0);
	if (rc)
		return rc;
	d[6] = (UCHAR)((d[6] & 0x0f) | 0x50);
	d[8] = (UCHAR)((d[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12],
		 d[13], d[14], d[15]);
	return 0;
}

/* ---- message templates ---- */

static void render_tmpl(const char *t, const struct fields *f, struct strbuf *out)
{
	struct strbuf seg;
	bool in_seg = false, seg_ok = true;
	strbuf_init(&seg, VALUE_CAP * 4);
	for (const char *p = t; *p; p++) {
		struct strbuf *dst = in_seg ? &seg : out;
		if (*p == '[') {
			in_seg = true, seg_ok = true;
			seg.n = 0;
		} else if (*p == ']') {
			if (seg_ok && seg.n)
				strbuf_add(out, seg.p, seg.n);
			in_seg = false;
		} else if (*p == '{') {
			const char *e = strchr(p, '}');
			char name[64];
			if (!e)
				break;
			snprintf(name, sizeof(name), "%.*s", (int)(e - p - 1), p + 1);
			const char *v = get(f, name);
			if (usable(v))
				strbuf_add(dst, v, strlen(v));
			else if (in_seg)
				seg_ok = false;
			else
				strbuf_add(dst, "-", 1);
			p = e;
		} else {
			strbuf_add(dst, p, 1);
		}
	}
	strbuf_release(&seg);
}

/* ---- rendering one event ---- */

static int render_values(struct wsrc *w, EVT_HANDLE ctx, EVT_HANDLE ev, DWORD *count)
{
	DWORD used = 0;
	*count = 0;
	if (EvtRender(ctx, ev, EvtRenderEventValues, w->vcap, w->vbuf, &used, count))
		return 0;
	if (GetLastError() != ERROR_INSUFFICIENT_BUFFER)
		return -EIO;
	void *b = realloc(w->vbuf, used);
	if (!b)
		return -ENOMEM;
	w->vbuf = b;
	w->vcap = used;
	return EvtRender(ctx, ev, EvtRenderEventValues, w->vcap, w->vbuf, &used, count) ? 0 : -EIO;
}

static EVT_HANDLE publisher(struct wsrc *w, const wchar_t *name)
{
	for (size_t i = 0; i < w->npubs; i++)
		if (!wcscmp(w->pubs[i].name, name))
			return w->pubs[i].h;
	EVT_HANDLE h = EvtOpenPublisherMetadata(NULL, name, NULL, 0, 0);
	if (w->npubs < sizeof(w->pubs) / sizeof(w->pubs[0]) && wcslen(name) < 128) {
		wcscpy_s(w->pubs[w->npubs].name, 128, name);
		w->pubs[w->npubs++].h = h;
	}
	return h;
}

/* The event's own message (EvtFormatMessage), into out; false when there is none. */
static bool format_message(struct wsrc *w, EVT_HANDLE ev, const wchar_t *prov, struct strbuf *out)
{
	EVT_HANDLE pm = prov ? publisher(w, prov) : NULL;
	DWORD used = 0;
	if (!pm)
		return false;
	if (!EvtFormatMessage(pm, ev, 0, 0, NULL, EvtFormatMessageEvent, 0, NULL, &used) &&
	    GetLastError() != ERROR_INSUFFICIENT_BUFFER)
		return false;
	wchar_t *buf = malloc((size_t)used * sizeof(wchar_t));
	char *u8 = malloc(VALUE_CAP * 8);
	bool ok = buf && u8 &&
		  EvtFormatMessage(pm, ev, 0, 0, NULL, EvtFormatMessageEvent, used, buf, &used);
	if (ok) {
		size_t n = to_utf8(buf, u8, VALUE_CAP * 8);
		while (n && (u8[n - 1] == '\n' || u8[n - 1] == '\r' || u8[n - 1] == ' '))
			n--;
		strbuf_add(out, u8, n);
	}
	free(buf);
	free(u8);
	return ok;
}

static int render_event(struct wsrc *w, struct source *s, EVT_HANDLE ev)
{
	static struct fields f; /* one thread: the agent loop */
	char tmp[VALUE_CAP], ts[40], tc[40], id[37];
	DWORD n = 0;
	int rc;
	memset(&f, 0, sizeof(f));
	if ((rc = render_values(w, w->sys_ctx, ev, &n)) < 0 || n < EvtSystemPropertyIdEND)
		return rc < 0 ? rc : -EIO;
	const EVT_VARIANT *v = w->vbuf;
	wchar_t prov_w[128] = L"";
	if ((v[EvtSystemProviderName].Type & EVT_VARIANT_TYPE_MASK) == EvtVarTypeString &&
	    v[EvtSystemProviderName].StringVal)
		wcsncpy_s(prov_w, 128, v[EvtSystemProviderName].StringVal, _TRUNCATE);
	static const struct {
		int idx;
		const char *name;
	} sys[] = {
	    {EvtSystemProviderName, "Provider_Name"},
	    {EvtSystemProviderGuid, "Provider_Guid"},
	    {EvtSystemEventID, "EventID"},
	    {EvtSystemVersion, "Version"},
	    {EvtSystemLevel, "Level"},
	    {EvtSystemTask, "Task"},
	    {EvtSystemOpcode, "Opcode"},
	    {EvtSystemKeywords, "Keywords"},
	    {EvtSystemEventRecordId, "EventRecordID"},
	    {EvtSystemActivityID, "Correlation_ActivityID"},
	    {EvtSystemProcessID, "Execution_ProcessID"},
	    {EvtSystemThreadID, "Execution_ThreadID"},
	    {EvtSystemChannel, "Channel"},
	    {EvtSystemComputer, "Computer"},
	    {EvtSystemUserID, "Security_UserID"},
	};
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		variant_text(&v[sys[i].idx], tmp, sizeof(tmp));
		if (tmp[0])
			put(&f, sys[i].name, tmp);
	}
	ULONGLONG ft = (v[EvtSystemTimeCreated].Type & EVT_VARIANT_TYPE_MASK) == EvtVarTypeFileTime
			   ? v[EvtSystemTimeCreated].FileTimeVal
			   : 0;
	uint64_t keywords = v[EvtSystemKeywords].UInt64Val;
	unsigned level = v[EvtSystemLevel].ByteVal;
	if (ft) {
		filetime_text(ft, tc, sizeof(tc), true);
		put(&f, "TimeCreated", tc);
		filetime_text(ft, ts, sizeof(ts), false);
	}
	if (render_values(w, w->data_ctx, ev, &n) == 0) {
		const EVT_VARIANT *d = w->vbuf;
		for (DWORD i = 0; i < n && i < N_ED + N_UD; i++) {
			variant_text(&d[i], tmp, sizeof(tmp));
			if (tmp[0])
				put(&f,
				    i < N_ED	? ed_fields[i]
				    : i == N_ED ? "SubjectUserName"
						: "SubjectDomainName",
				    tmp);
		}
	}

	const char *eid = get(&f, "EventID"), *prov = get(&f, "Provider_Name");
	unsigned evid = eid ? (unsigned)strtoul(eid, NULL, 10) : 0;
	const char *type = NULL, *tmpl = winevent_generic_msg;
	int sev = 1;
	char type_buf[32];
	const struct winevent_type *m = winevent_type_find(evid, prov);
	if (m) {
		type = m->type;
		sev = m->severity;
		tmpl = m->msg;
	}
	const char *lvl;
	switch (level) {
	case 1:
		lvl = "CRITICAL";
		break;
	case 2:
		lvl = "ERROR";
		break;
	case 3:
		lvl = "WARNING";
		break;
	case 5:
		lvl = "VERBOSE";
		break;
	case 0:
		lvl = keywords & 0x0020000000000000ULL	 ? "AUDIT_SUCCESS"
		      : keywords & 0x0010000000000000ULL ? "AUDIT_FAILURE"
							 : "INFO";
		break;
	default:
		lvl = "INFO";
		break;
	}
	if (!type) {
		snprintf(type_buf, sizeof(type_buf), "WINEVENT_%u", evid);
		type = type_buf;
		sev = level == 1 ? 4 : level == 2 ? 3 : level == 3 ? 2 : 1;
	}

	/* event id as winevent.c: the same record from the live log or an export is one event */
	char name[600];
	const char *host = get(&f, "Computer"), *chan = get(&f, "Channel"),
		   *rec = get(&f, "EventRecordID");
	int k = snprintf(name, sizeof(name), "winevent:%s:%s:%s", host ? host : "",
			 chan ? chan : "", rec ? rec : "");
	if (uuid5(name, (size_t)(k < (int)sizeof(name) ? k : (int)sizeof(name) - 1), id) < 0)
		return -EIO;

	struct strbuf *b = &w->js;
	b->n = 0;
	strbuf_add(b, "{", 1);
	jkv(b, "event_id", id);
	if (ft)
		jkv(b, "timestamp", ts);
	jkv(b, "source_host", usable(host) ? host : s->cfg->host);
	jkv(b, "os_type", "WINDOWS");
	jkv(b, "event_type", type);
	jkey(b, "severity");
	snprintf(tmp, sizeof(tmp), "%d", sev);
	strbuf_add(b, tmp, strlen(tmp));
	jkv(b, "level", lvl);
	const char *user = get(&f, "TargetUserName");
	if (!usable(user))
		user = get(&f, "SubjectUserName");
	if (usable(user))
		jkv(b, "user", user);
	const char *ip = get(&f, "IpAddress");
	unsigned char addr[16];
	if (usable(ip) && (InetPtonA(AF_INET, ip, addr) == 1 || InetPtonA(AF_INET6, ip, addr) == 1))
		jkv(b, "source_ip", ip);
	struct strbuf msg;
	strbuf_init(&msg, 8 * 1024);
	if (!strncmp(type, "WINEVENT_", 9) &&
	    format_message(w, ev, prov_w[0] ? prov_w : NULL, &msg))
		;
	else
		render_tmpl(tmpl, &f, &msg);
	jkey(b, "message");
	jstr(b, msg.p ? msg.p : "", msg.n);
	strbuf_release(&msg);
	jkv(b, "source", "agent");
	if (rec) {
		jkey(b, "source_offset");
		strbuf_add(b, rec, strlen(rec));
	}
	/* raw_message: the XML the Event Log renders (kept, not parsed) */
	DWORD used = 0, props = 0;
	if (!EvtRender(NULL, ev, EvtRenderEventXml, 0, NULL, &used, &props) &&
	    GetLastError() == ERROR_INSUFFICIENT_BUFFER) {
		wchar_t *xml = malloc(used);
		char *u8 = malloc(RAW_CAP + 1);
		if (xml && u8 && EvtRender(NULL, ev, EvtRenderEventXml, used, xml, &used, &props)) {
			size_t xn = to_utf8(xml, u8, RAW_CAP + 1);
			jkey(b, "raw_message");
			jstr(b, u8, xn);
		}
		free(xml);
		free(u8);
	}
	jkey(b, "data");
	strbuf_add(b, "{", 1);
	for (size_t i = 0; i < f.n; i++) {
		bool num = false;
		for (size_t j = 0; j < winevent_n_sys_ints && !num; j++)
			num = !strcmp(f.name[i], winevent_sys_ints[j]);
		jkey(b, f.name[i]);
		if (num)
			strbuf_add(b, f.value[i], strlen(f.value[i]));
		else
			jstr(b, f.value[i], strlen(f.value[i]));
	}
	strbuf_add(b, "}}", 2);
	return source_emit_json(s, b->p, b->n);
}

/* ---- the source ---- */

static int open_subscription(struct wsrc *w, const char *saved)
{
	wchar_t *xml = NULL;
	if (saved) {
		int n = MultiByteToWideChar(CP_UTF8, 0, saved, -1, NULL, 0);
		if (n > 0 && (xml = malloc((size_t)n * sizeof(wchar_t))))
			MultiByteToWideChar(CP_UTF8, 0, saved, -1, xml, n);
	}
	w->bookmark = EvtCreateBookmark(xml);
	if (!w->bookmark && xml) {
		log_warn("agent",
			 "wineventlog: the saved bookmark of %s is not usable: reading from "
			 "the oldest record",
			 w->channel8);
		w->bookmark = EvtCreateBookmark(NULL);
		free(xml);
		xml = NULL;
	}
	if (!w->bookmark) {
		free(xml);
		return -EIO;
	}
	w->sub =
	    EvtSubscribe(NULL, w->signal, w->channel, L"*", xml ? w->bookmark : NULL, NULL, NULL,
			 xml ? EvtSubscribeStartAfterBookmark : EvtSubscribeStartAtOldestRecord);
	if (!w->sub && xml) {
		log_warn("agent",
			 "wineventlog: cannot resume %s after its bookmark (error %lu): "
			 "reading from the oldest record (the hub drops the repeats)",
			 w->channel8, (unsigned long)GetLastError());
		w->sub = EvtSubscribe(NULL, w->signal, w->channel, L"*", NULL, NULL, NULL,
				      EvtSubscribeStartAtOldestRecord);
	}
	free(xml);
	if (!w->sub) {
		log_error("agent",
			  "wineventlog: cannot subscribe to %s (error %lu; the Security "
			  "channel needs an administrator or the Event Log Readers group)",
			  w->channel8, (unsigned long)GetLastError());
		return -EACCES;
	}
	log_info("agent", "wineventlog: reading %s %s", w->channel8,
		 saved ? "after the saved bookmark" : "from its oldest record");
	return 0;
}

static int win_open(struct source *s)
{
	struct wsrc *w = calloc(1, sizeof(*w));
	LPCWSTR paths[N_ED + N_UD];
	wchar_t pathbuf[N_ED + N_UD][96];
	if (!w)
		return -ENOMEM;
	s->priv = w;
	strbuf_init(&w->js, 512 * 1024);
	snprintf(w->channel8, sizeof(w->channel8), "%s", s->arg ? s->arg : "Security");
	MultiByteToWideChar(CP_UTF8, 0, w->channel8, -1, w->channel, 256);
	snprintf(w->key, sizeof(w->key), "wineventlog:%s", w->channel8);
	for (size_t i = 0; i < N_ED; i++) {
		swprintf(pathbuf[i], 96, L"Event/EventData/Data[@Name='%hs']", ed_fields[i]);
		paths[i] = pathbuf[i];
	}
	swprintf(pathbuf[N_ED], 96, L"Event/UserData/*/SubjectUserName");
	swprintf(pathbuf[N_ED + 1], 96, L"Event/UserData/*/SubjectDomainName");
	paths[N_ED] = pathbuf[N_ED];
	paths[N_ED + 1] = pathbuf[N_ED + 1];
	w->sys_ctx = EvtCreateRenderContext(0, NULL, EvtRenderContextSystem);
	w->data_ctx = EvtCreateRenderContext(N_ED + N_UD, paths, EvtRenderContextValues);
	w->signal = CreateEventW(NULL, TRUE, TRUE, NULL);
	if (!w->sys_ctx || !w->data_ctx || !w->signal) {
		log_error("agent", "wineventlog: cannot create render contexts (error %lu)",
			  (unsigned long)GetLastError());
		return -EIO;
	}
	return open_subscription(w, source_saved(s, w->key));
}

static int win_read(struct source *s, size_t room)
{
	struct wsrc *w = s->priv;
	EVT_HANDLE h[BATCH_HANDLES];
	int total = 0;
	while ((size_t)total < room) {
		DWORD want = room - (size_t)total < BATCH_HANDLES ? (DWORD)(room - (size_t)total)
								  : BATCH_HANDLES;
		DWORD got = 0;
		if (!EvtNext(w->sub, want, h, 0, 0, &got)) {
			DWORD e = GetLastError();
			if (e != ERROR_NO_MORE_ITEMS && e != ERROR_TIMEOUT)
				log_warn("agent", "wineventlog: reading %s failed (error %lu)",
					 w->channel8, (unsigned long)e);
			ResetEvent(w->signal);
			break;
		}
		for (DWORD i = 0; i < got; i++) {
			if (render_event(w, s, h[i]) < 0)
				source_reject(s, "event", "cannot render");
			EvtUpdateBookmark(w->bookmark, h[i]);
			w->any = true;
			EvtClose(h[i]);
		}
		total += (int)got;
	}
	return total;
}

static int win_commit(struct source *s)
{
	struct wsrc *w = s->priv;
	DWORD used = 0, props = 0;
	if (!w->any)
		return 0;
	if (EvtRender(NULL, w->bookmark, EvtRenderBookmark, 0, NULL, &used, &props) ||
	    GetLastError() != ERROR_INSUFFICIENT_BUFFER)
		return -EIO;
	wchar_t *xml = malloc(used);
	char *u8 = malloc(used * 2 + 1);
	int rc = -ENOMEM;
	if (xml && u8 &&
	    EvtRender(NULL, w->bookmark, EvtRenderBookmark, used, xml, &used, &props)) {
		to_utf8(xml, u8, used * 2 + 1);
		for (char *p = u8; *p; p++)
			if (*p == '\r' || *p == '\n' || *p == '\t')
				*p = ' '; /* one state line */
		rc = source_checkpoint(s, w->key, u8);
	}
	free(xml);
	free(u8);
	return rc;
}

static void win_close(struct source *s)
{
	struct wsrc *w = s->priv;
	if (w->sub)
		EvtClose(w->sub);
	if (w->bookmark)
		EvtClose(w->bookmark);
	if (w->sys_ctx)
		EvtClose(w->sys_ctx);
	if (w->data_ctx)
		EvtClose(w->data_ctx);
	for (size_t i = 0; i < w->npubs; i++)
		if (w->pubs[i].h)
			EvtClose(w->pubs[i].h);
	if (w->signal)
		CloseHandle(w->signal);
	free(w->vbuf);
	strbuf_release(&w->js);
	free(w);
	s->priv = NULL;
}

const struct source_ops src_wineventlog = {"wineventlog", win_open, win_read, win_commit,
					   win_close};
