/* test_winevent.c — winevent_from_xml: the typed events, the data fields Sigma rules name,
 * hostile XML, and every <Event> of the evtx XML exports in shared/data/evtx. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testdata.h"
#include <jansson.h>

#include "core/err.h"
#include "parse/winevent.h"

static struct arena A;
static struct event E;
static json_t *D; /* E's data, parsed */
static char ERR[256];

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(D);
	D = NULL;
	arena_release(&A);
	return 0;
}

static int parse_n(const char *xml, size_t n)
{
	json_decref(D);
	D = NULL;
	int rc = winevent_from_xml(xml, n, &E, &A, ERR, sizeof(ERR));
	if (rc == 0) {
		assert_non_null(E.data.p);
		json_error_t je;
		D = json_loadb(E.data.p, E.data.n, 0, &je);
		if (!D || !json_is_object(D))
			fail_msg("data is not a JSON object: %s", je.text);
	}
	return rc;
}

static void parse(const char *xml)
{
	int rc = parse_n(xml, strlen(xml));
	if (rc)
		fail_msg("winevent_from_xml = %d (%s)", rc, ERR);
}

static void reject(const char *xml, size_t n, const char *why)
{
	int rc = parse_n(xml, n);
	if (rc != SIEM_EPARSE)
		fail_msg("accepted (rc %d), want SIEM_EPARSE (%s)", rc, why);
	if (!strstr(ERR, why))
		fail_msg("error \"%s\", want one saying \"%s\"", ERR, why);
}

#define assert_sv(v, want) assert_sv_((v), (want), #v, __LINE__)
static void assert_sv_(struct sv v, const char *want, const char *what, int line)
{
	if (!want) {
		if (v.p)
			fail_msg("line %d: %s = \"%.*s\", want absent", line, what, (int)v.n, v.p);
		return;
	}
	if (!v.p)
		fail_msg("line %d: %s absent, want \"%s\"", line, what, want);
	if (v.n != strlen(want) || memcmp(v.p, want, v.n))
		fail_msg("line %d: %s = \"%.*s\", want \"%s\"", line, what, (int)v.n, v.p, want);
}

/* data.k as text (integers in decimal); NULL when absent. */
static const char *dget(json_t *o, const char *k)
{
	static char num[32];
	json_t *v = json_object_get(o, k);
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return num;
	}
	return json_string_value(v);
}

#define assert_data(k, want) assert_data_(D, (k), (want), __LINE__)
static void assert_data_(json_t *o, const char *k, const char *want, int line)
{
	const char *v = dget(o, k);
	if (!want) {
		if (json_object_get(o, k))
			fail_msg("line %d: data.%s present, want absent", line, k);
		return;
	}
	if (!v || strcmp(v, want))
		fail_msg("line %d: data.%s = \"%s\", want \"%s\"", line, k, v ? v : "(absent)",
			 want);
}

#define EV_HEAD "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n"
#define SYS(prov, id, rec, chan)                                                              \
	"  <System>\n"                                                                        \
	"    <Provider Name=\"" prov "\" Guid=\"{54849625-5478-4994-A5BA-3E3B0328C30D}\"/>\n" \
	"    <EventID>" id "</EventID>\n"                                                     \
	"    <Version>0</Version>\n"                                                          \
	"    <Level>0</Level>\n"                                                              \
	"    <Task>12544</Task>\n"                                                            \
	"    <Opcode>0</Opcode>\n"                                                            \
	"    <Keywords>0x8010000000000000</Keywords>\n"                                       \
	"    <TimeCreated SystemTime=\"2016-09-19T16:50:06.477878900Z\"/>\n"                  \
	"    <EventRecordID>" rec "</EventRecordID>\n"                                        \
	"    <Correlation/>\n"                                                                \
	"    <Execution ProcessID=\"580\" ThreadID=\"1664\"/>\n"                              \
	"    <Channel>" chan "</Channel>\n"                                                   \
	"    <Computer>DESKTOP-M5SN04R</Computer>\n"                                          \
	"    <Security/>\n"                                                                   \
	"  </System>\n"
#define SEC "Microsoft-Windows-Security-Auditing"

static const char X4625[] =
    EV_HEAD SYS(SEC, "4625", "2455",
		"Security") "  <EventData>\n"
			    "    <Data Name=\"SubjectUserSid\">S-1-0-0</Data>\n"
			    "    <Data Name=\"SubjectUserName\">-</Data>\n"
			    "    <Data Name=\"TargetUserName\">Administrator</Data>\n"
			    "    <Data Name=\"TargetDomainName\">DESKTOP-M5SN04R</Data>\n"
			    "    <Data Name=\"Status\">0xc000006d</Data>\n"
			    "    <Data Name=\"SubStatus\">0xc000006a</Data>\n"
			    "    <Data Name=\"LogonType\">3</Data>\n"
			    "    <Data Name=\"LogonProcessName\">NtLmSsp </Data>\n"
			    "    <Data Name=\"WorkstationName\">hWTkzXP1PbF &amp; co</Data>\n"
			    "    <Data Name=\"IpAddress\">192.168.198.149</Data>\n"
			    "    <Data Name=\"IpPort\">44162</Data>\n"
			    "  </EventData>\n"
			    "</Event>\n";

static void test_login_fail(void **state)
{
	(void)state;
	parse(X4625);
	assert_sv(E.os_type, "WINDOWS");
	assert_sv(E.event_type, "LOGIN_FAIL");
	assert_int_equal(E.severity, 3);
	assert_sv(E.level, "AUDIT_FAILURE");
	assert_sv(E.source_host, "DESKTOP-M5SN04R");
	assert_sv(E.user, "Administrator");
	assert_sv(E.source_ip, "192.168.198.149");
	assert_true(E.flags & EV_HAS_IP);
	static const uint8_t ip4[16] = {0, 0, 0,    0,	  0,   0,   0,	 0,
					0, 0, 0xff, 0xff, 192, 168, 198, 149};
	assert_memory_equal(E.ip, ip4, 16);
	assert_int_equal(E.ts, 1474303806477878LL); /* 2016-09-19T16:50:06.477878Z */
	assert_false(E.flags & (EV_TS_MISSING | EV_ID_GENERATED | EV_TRUNC_DATA | EV_TRUNC_RAW));
	assert_sv(E.message, "failed logon for Administrator from 192.168.198.149, logon type 3, "
			     "status 0xc000006d/0xc000006a");
	/* raw is the document without its final newline */
	assert_int_equal(E.raw_message.n, strlen(X4625) - 1);
	assert_memory_equal(E.raw_message.p, X4625, E.raw_message.n);

	/* System fields under the names Sigma rules use, then EventData flat */
	json_t *id = json_object_get(D, "EventID");
	assert_true(json_is_integer(id));
	assert_int_equal(json_integer_value(id), 4625);
	assert_data("Channel", "Security");
	assert_data("Provider_Name", SEC);
	assert_data("Provider_Guid", "{54849625-5478-4994-A5BA-3E3B0328C30D}");
	assert_data("Computer", "DESKTOP-M5SN04R");
	assert_data("EventRecordID", "2455");
	assert_data("TimeCreated", "2016-09-19T16:50:06.477878900Z");
	assert_data("Keywords", "0x8010000000000000");
	assert_data("Execution_ProcessID", "580");
	assert_data("Execution_ThreadID", "1664");
	assert_data("Correlation", NULL); /* empty elements add nothing */
	assert_data("Security", NULL);
	assert_data("TargetUserName", "Administrator");
	assert_data("SubjectUserName", "-");
	assert_data("LogonType", "3");
	assert_data("LogonProcessName", "NtLmSsp "); /* trailing space as Windows writes it */
	assert_data("WorkstationName", "hWTkzXP1PbF & co");
	assert_data("IpAddress", "192.168.198.149");
	assert_data("SubStatus", "0xc000006a");

	/* the id is derived from Computer, Channel and EventRecordID: stable across reads */
	uint8_t id1[16], id2[16];
	memcpy(id1, E.id, 16);
	uuid_v5("winevent:DESKTOP-M5SN04R:Security:2455", 38, id2);
	assert_memory_equal(id1, id2, 16);
	parse(X4625);
	assert_memory_equal(E.id, id1, 16);
}

static void test_typed_events(void **state)
{
	(void)state;
	static const struct {
		const char *id, *prov, *type;
		int sev;
		const char *ed, *user, *msg;
	} t[] = {
	    {"4624", SEC, "LOGIN_SUCCESS", 1,
	     "<Data Name=\"SubjectUserName\">WIN$</Data><Data Name=\"TargetUserName\">admmig</Data>"
	     "<Data Name=\"LogonType\">10</Data><Data Name=\"IpAddress\">::1</Data>",
	     "admmig", "logon of admmig from ::1, logon type 10"},
	    {"4672", SEC, "SPECIAL_PRIVILEGES", 2,
	     "<Data Name=\"SubjectUserName\">admmig</Data>"
	     "<Data Name=\"PrivilegeList\">SeSecurityPrivilege\r\n\t\t\tSeDebugPrivilege\r\n"
	     "\t\t\tSeBackupPrivilege</Data>",
	     "admmig",
	     "special privileges assigned to admmig: SeSecurityPrivilege SeDebugPrivilege "
	     "SeBackupPrivilege"},
	    {"4688", SEC, "PROCESS_CREATE", 1,
	     "<Data Name=\"SubjectUserName\">admmig</Data><Data Name=\"TargetUserName\">-</Data>"
	     "<Data Name=\"NewProcessName\">C:\\Windows\\System32\\net.exe</Data>"
	     "<Data Name=\"CommandLine\">net user toto3 /add</Data>"
	     "<Data Name=\"ParentProcessName\">C:\\Windows\\System32\\cmd.exe</Data>",
	     "admmig",
	     "process C:\\Windows\\System32\\net.exe created by admmig (parent "
	     "C:\\Windows\\System32\\cmd.exe)"},
	    {"4688", SEC, "PROCESS_CREATE", 1,
	     "<Data Name=\"SubjectUserName\">IE10WIN7$</Data>"
	     "<Data Name=\"NewProcessName\">C:\\x.exe</Data>",
	     "IE10WIN7$", "process C:\\x.exe created by IE10WIN7$"},
	    {"4720", SEC, "ACCOUNT_CREATE", 4,
	     "<Data Name=\"TargetUserName\">toto3</Data><Data Name=\"TargetDomainName\">FS03</Data>"
	     "<Data Name=\"SubjectUserName\">admmig</Data>",
	     "toto3", "account toto3 created in FS03 by admmig"},
	    /* the same numbers from another provider are somebody else's events */
	    {"4625", "Some-Application", "WINEVENT_4625", 1, "<Data>x</Data>", NULL,
	     "event 4625 from Some-Application in Security"},
	    {"7045", "Service Control Manager", "WINEVENT_7045", 1,
	     "<Data Name=\"ServiceName\">evil</Data>", NULL,
	     "event 7045 from Service Control Manager in Security"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char xml[4096];
		snprintf(xml, sizeof(xml),
			 "<Event><System><Provider Name=\"%s\"/><EventID>%s</EventID>"
			 "<Level>0</Level><Keywords>0x8020000000000000</Keywords>"
			 "<TimeCreated SystemTime=\"2021-05-20T12:49:31.8631818Z\"/>"
			 "<EventRecordID>%zu</EventRecordID><Channel>Security</Channel>"
			 "<Computer>fs01.offsec.lan</Computer></System><EventData>%s</EventData>"
			 "</Event>",
			 t[i].prov, t[i].id, i + 1, t[i].ed);
		parse(xml);
		assert_sv(E.event_type, t[i].type);
		assert_int_equal(E.severity, t[i].sev);
		assert_sv(E.user, t[i].user);
		assert_sv(E.message, t[i].msg);
		assert_sv(E.level, "AUDIT_SUCCESS");
		assert_int_equal(E.ts, 1621514971863181LL); /* 2021-05-20T12:49:31.863181Z */
		/* loopback is still an address */
		assert_sv(E.source_ip, i == 0 ? "::1" : NULL);
	}
}

static void test_source_ip(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} t[] = {
	    {"-", NULL},
	    {"", NULL},
	    {"::1", "::1"},
	    {"127.0.0.1", "127.0.0.1"},
	    {"::ffff:10.0.0.7", "10.0.0.7"},
	    {"fe80::1", "fe80::1"},
	    {"WORKSTATION", NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char xml[1024];
		snprintf(xml, sizeof(xml),
			 "<Event><System><Provider Name=\"" SEC "\"/><EventID>4624</EventID>"
			 "<EventRecordID>1</EventRecordID><Computer>h</Computer></System>"
			 "<EventData><Data Name=\"TargetUserName\">u</Data>"
			 "<Data Name=\"IpAddress\">%s</Data></EventData></Event>",
			 t[i].in);
		parse(xml);
		assert_sv(E.source_ip, t[i].want);
		assert_int_equal(!!(E.flags & EV_HAS_IP), t[i].want != NULL);
		assert_data("IpAddress", t[i].in); /* always kept as Windows wrote it */
	}
}

/* 1102 has UserData/LogFileCleared instead of EventData (real record from shared/data). */
static const char X1102[] =
    "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n"
    "  <System>\n"
    "    <Provider Name=\"Microsoft-Windows-Eventlog\" "
    "Guid=\"{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}\"/>\n"
    "    <EventID>1102</EventID>\n"
    "    <Version>0</Version>\n"
    "    <Level>4</Level>\n"
    "    <Task>104</Task>\n"
    "    <Opcode>0</Opcode>\n"
    "    <Keywords>0x4020000000000000</Keywords>\n"
    "    <TimeCreated SystemTime=\"2021-12-19T14:48:19.294246800Z\"/>\n"
    "    <EventRecordID>1210329</EventRecordID>\n"
    "    <Correlation/>\n"
    "    <Execution ProcessID=\"728\" ThreadID=\"3620\"/>\n"
    "    <Channel>Security</Channel>\n"
    "    <Computer>FS03.offsec.lan</Computer>\n"
    "    <Security/>\n"
    "  </System>\n"
    "  <UserData>\n"
    "    <LogFileCleared xmlns=\"http://manifests.microsoft.com/win/2004/08/windows/eventlog\">\n"
    "      <SubjectUserSid>S-1-5-21-4230534742-2542757381-3142984815-1111</SubjectUserSid>\n"
    "      <SubjectUserName>admmig</SubjectUserName>\n"
    "      <SubjectDomainName>OFFSEC</SubjectDomainName>\n"
    "      <SubjectLogonId>0x000000000542c77d</SubjectLogonId>\n"
    "    </LogFileCleared>\n"
    "  </UserData>\n"
    "</Event>";

static void test_log_cleared(void **state)
{
	(void)state;
	parse(X1102);
	assert_sv(E.event_type, "LOG_TAMPERING");
	assert_int_equal(E.severity, 5);
	assert_sv(E.level, "INFO");
	assert_sv(E.user, "admmig");
	assert_sv(E.source_ip, NULL);
	assert_sv(E.message, "audit log cleared by admmig");
	assert_data("EventID", "1102");
	assert_data("Provider_Name", "Microsoft-Windows-Eventlog");
	assert_data("SubjectUserName", "admmig");
	assert_data("SubjectDomainName", "OFFSEC");
	assert_data("SubjectUserSid", "S-1-5-21-4230534742-2542757381-3142984815-1111");
	assert_data("SubjectLogonId", "0x000000000542c77d");
	json_t *lfc = json_object_get(json_object_get(D, "UserData"), "LogFileCleared");
	assert_true(json_is_object(lfc));
	assert_int_equal(json_object_size(lfc), 4);
	assert_data_(lfc, "SubjectUserName", "admmig", __LINE__);
}

/* 104 (System log cleared) has a UserData Channel: System's own Channel keeps the flat name. */
static void test_userdata_collision(void **state)
{
	(void)state;
	parse("<Event><System><Provider Name=\"Microsoft-Windows-Eventlog\"/><EventID>104</EventID>"
	      "<Level>4</Level><EventRecordID>5073</EventRecordID><Channel>System</Channel>"
	      "<Computer>FS03.offsec.lan</Computer>"
	      "<Security UserID=\"S-1-5-21-1\"/></System>"
	      "<UserData><LogFileCleared><SubjectUserName>admmig</SubjectUserName>"
	      "<Channel>Application</Channel><BackupPath/></LogFileCleared></UserData></Event>");
	assert_sv(E.event_type, "WINEVENT_104");
	assert_int_equal(E.severity, 1);
	assert_sv(E.level, "INFO");
	assert_data("Channel", "System");
	assert_data("Security_UserID", "S-1-5-21-1");
	assert_data("BackupPath", "");
	json_t *lfc = json_object_get(json_object_get(D, "UserData"), "LogFileCleared");
	assert_data_(lfc, "Channel", "Application", __LINE__);
	assert_sv(E.message, "event 104 from Microsoft-Windows-Eventlog in System");
	/* an EventData field named like a System one cannot shadow it either, in any order */
	parse("<Event><EventData><Data Name=\"EventID\">4625</Data><Data Name=\"Computer\">x</Data>"
	      "</EventData><System><EventID>4624</EventID><Computer>real</Computer></System>"
	      "</Event>");
	assert_sv(E.event_type, "LOGIN_SUCCESS");
	assert_data("EventID", "4624");
	assert_sv(E.source_host, "real");
}

static void test_generic_shapes(void **state)
{
	(void)state;
	/* classic events: unnamed Data, Binary, a rendered message, qualifiers, a prefix */
	parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<e:Event xmlns:e=\"http://schemas.microsoft.com/win/2004/08/events/event\">"
	      "<e:System><e:Provider Name=\"MsiInstaller\"/>"
	      "<e:EventID Qualifiers=\"0\">11707</e:EventID><e:Level>2</e:Level>"
	      "<e:TimeCreated SystemTime=\"2024-01-02T03:04:05.678Z\"/>"
	      "<e:EventRecordID>77</e:EventRecordID><e:Channel>Application</e:Channel>"
	      "<e:Computer>pc1</e:Computer></e:System>"
	      "<e:EventData><e:Data>Product: X -- Installation completed.</e:Data><e:Data>(NULL)"
	      "</e:Data><e:Binary>7B30</e:Binary></e:EventData>"
	      "<e:RenderingInfo Culture=\"en-US\"><e:Message>Product: X -- done</e:Message>"
	      "<e:Level>Error</e:Level></e:RenderingInfo></e:Event>");
	assert_sv(E.event_type, "WINEVENT_11707");
	assert_int_equal(E.severity, 3);
	assert_sv(E.level, "ERROR");
	assert_sv(E.message, "Product: X -- done");
	assert_sv(E.user, NULL);
	assert_data("param1", "Product: X -- Installation completed.");
	assert_data("param2", "(NULL)");
	assert_data("Binary", "7B30");
	assert_data("EventID_Qualifiers", "0");
	assert_data("Level", "2");
	assert_int_equal(E.ts, 1704164645678000LL);

	/* no EventRecordID: the id comes from the document, still deterministic */
	const char *x = "<Event><System><EventID>1</EventID></System></Event>";
	parse(x);
	uint8_t id[16];
	uuid_v5(x, strlen(x), id);
	assert_memory_equal(E.id, id, 16);
	assert_sv(E.source_host, NULL);
	assert_sv(E.message, "event 1 from -");
	assert_sv(E.level, NULL);
	assert_true(E.flags & EV_TS_MISSING); /* no TimeCreated: now, flagged */

	/* Level 3 warning, 1 critical */
	parse("<Event><System><EventID>9</EventID><Level>3</Level></System></Event>");
	assert_int_equal(E.severity, 2);
	assert_sv(E.level, "WARNING");
	parse("<Event><System><EventID>9</EventID><Level>1</Level></System></Event>");
	assert_int_equal(E.severity, 4);
	assert_sv(E.level, "CRITICAL");

	/* trailing NULs and newlines (as APIs hand records over) are not part of the record */
	static const char t[] = "<Event><System><EventID>5</EventID></System></Event>\r\n\0\0";
	assert_int_equal(parse_n(t, sizeof(t) - 1), 0);
	assert_int_equal(E.raw_message.n,
			 strlen("<Event><System><EventID>5</EventID></System></Event>"));
}

static void test_hostile(void **state)
{
	(void)state;
	reject("", 0, "empty");
	reject("   \n", 4, "empty");
	reject("<Event><System><EventID>1</EventID></System>", 44, "xml:");
	reject("<Events><Event/></Events>", 25, "not <Event>");
	reject("<Event><System><Level>1</Level></System></Event>", 48, "no System/EventID");
	reject("<Event><System><EventID>abc</EventID></System></Event>", 54, "not an event number");
	reject("<Event><System><EventID>99999</EventID></System></Event>", 56,
	       "not an event number");
	reject("<Event><System><EventID>1</EventID></System></Event><Event/>", 60, "xml:");
	static const char nul[] = "<Event><System><EventID>1\0</EventID></System></Event>";
	reject(nul, sizeof(nul) - 1, "xml:");
	reject("<Event><System><EventID>&foo;</EventID></System></Event>", 56, "xml:");

	/* billion laughs and external entities: no DTD at all */
	const char *lol = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
			  " <!ENTITY lol \"lol\">\n"
			  " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
			  " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
			  " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
			  "]>\n<Event><System><EventID>&lol4;</EventID></System></Event>";
	reject(lol, strlen(lol), "DOCTYPE not allowed");
	const char *xxe = "<!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
			  "<Event><System><EventID>1</EventID></System><EventData>"
			  "<Data Name=\"a\">&x;</Data></EventData></Event>";
	reject(xxe, strlen(xxe), "DOCTYPE not allowed");

	/* depth */
	char deep[2048];
	size_t k = (size_t)snprintf(deep, sizeof(deep), "<Event><EventData>");
	for (int i = 0; i < 40; i++)
		k += (size_t)snprintf(deep + k, sizeof(deep) - k, "<a>");
	reject(deep, k, "nested too deeply");

	/* a Data Name longer than any real one */
	char longname[1024];
	int ln =
	    snprintf(longname, sizeof(longname),
		     "<Event><System><EventID>1</EventID></System><EventData><Data Name=\"%0300d\">"
		     "x</Data></EventData></Event>",
		     0);
	reject(longname, (size_t)ln, "too long");

	/* size: 1 MiB is the limit */
	size_t big = 1024 * 1024 + 1;
	char *b = malloc(big);
	assert_non_null(b);
	memset(b, 'x', big);
	memcpy(b, "<Event>", 7);
	reject(b, big, "over the 1048576 byte limit");
	free(b);
}

/* A huge CommandLine: raw and data are capped and marked, never cut without trace. */
static void test_caps(void **state)
{
	(void)state;
	size_t vn = 900 * 1024;
	char *x = malloc(vn + 1024);
	assert_non_null(x);
	size_t k =
	    (size_t)snprintf(x, 1024,
			     "<Event><System><Provider Name=\"" SEC "\"/><EventID>4688</EventID>"
			     "<EventRecordID>3</EventRecordID><Computer>h</Computer></System>"
			     "<EventData><Data Name=\"SubjectUserName\">u</Data>"
			     "<Data Name=\"NewProcessName\">C:\\a.exe</Data>"
			     "<Data Name=\"CommandLine\">");
	memset(x + k, 'A', vn);
	k += vn;
	k += (size_t)snprintf(x + k, 1024, "</Data></EventData></Event>");
	assert_int_equal(parse_n(x, k), 0);
	assert_sv(E.event_type, "PROCESS_CREATE");
	assert_true(E.flags & EV_TRUNC_DATA);
	assert_true(E.flags & EV_TRUNC_RAW);
	assert_true(E.data.n <= EV_CAP_DATA);
	assert_true(E.raw_message.n <= EV_CAP_RAW);
	assert_data("EventID", "4688");
	assert_data("NewProcessName", "C:\\a.exe");
	assert_true(json_is_true(json_object_get(D, "_truncated")));
	assert_int_equal(strlen(dget(D, "CommandLine")), 1024);
	free(x);
}

/* ---- the XML exports in shared/data/evtx ---- */

static const char *data_dir(void)
{
	return test_data_dir("evtx/SOURCE.md");
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open '%s'", path);
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)sz + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
	b[sz] = '\0';
	fclose(f);
	*n = (size_t)sz;
	return b;
}

static const char *const xml_files[] = {
    "deepbluecli/new-user-security",
    "deepbluecli/psattack-security",
    "deepbluecli/smb-password-guessing-security",
    "mdecrevoisier/ID104-1102-Event_log_cleared",
    "mdecrevoisier/ID4624-Mimikatz_Pass_the_hash",
    "mdecrevoisier/ID4624_4688_5140_5145-Eternal_Romance-MS17_010_psexec_GLOBAL",
    "mdecrevoisier/ID4625-OpenSSH_brutforce_with_non_existing_users",
    "mdecrevoisier/ID4625-OpenSSH_brutforce_with_valid_users",
    "mdecrevoisier/ID4625-failed_login_with_denied_access_due_to_account_restriction",
    "mdecrevoisier/ID4688-Clear_event_log_attempt_wmi",
    "mdecrevoisier/ID4688-User_creation_via_commandline",
    "mdecrevoisier/ID4688_4648_4624-Runas_execution_with_different_user",
    "mdecrevoisier/ID4720-4726_Fast_created-deleted_user",
    "mdecrevoisier/ID4720-Local_user_created",
    "mdecrevoisier/ID_4776_4625-AccountRestore_local_bruteforce",
    "sbousseaden/CA_4624_4625_LogonType2_LogonProc_chrome",
    "sbousseaden/DE_RDP_Tunnel_5156",
};

struct tally {
	int events, login_fail, login_success, account_create, log_tampering, process_create,
	    special_privileges, generic, with_ip;
};

/* strstr without the sanitizers' strlen of the whole (multi-MB) rest on every call. */
static const char *find(const char *p, const char *end, const char *needle)
{
	size_t k = strlen(needle);
	while (p && (size_t)(end - p) >= k) {
		if (!memcmp(p, needle, k))
			return p;
		p = memchr(p + 1, needle[0], (size_t)(end - p - 1));
	}
	return NULL;
}

/* Every <Event>...</Event> of an evtxexport output file through f. */
static int each_event(const char *path, void (*f)(const char *x, size_t n, void *arg), void *arg)
{
	size_t n;
	char *b = slurp(path, &n);
	int k = 0;
	const char *p = b, *end = b + n;
	while ((p = find(p, end, "<Event xmlns=")) != NULL) {
		const char *e = find(p, end, "</Event>");
		assert_non_null(e);
		e += strlen("</Event>");
		f(p, (size_t)(e - p), arg);
		k++;
		p = e;
	}
	free(b);
	return k;
}

static void count_one(const char *x, size_t n, void *arg)
{
	struct tally *t = arg;
	arena_reset(&A);
	if (parse_n(x, n))
		fail_msg("event %d: %s", t->events, ERR);
	t->events++;
	t->with_ip += !!(E.flags & EV_HAS_IP);
	struct {
		const char *type;
		int *n;
	} m[] = {
	    {"LOGIN_FAIL", &t->login_fail},	    {"LOGIN_SUCCESS", &t->login_success},
	    {"ACCOUNT_CREATE", &t->account_create}, {"LOG_TAMPERING", &t->log_tampering},
	    {"PROCESS_CREATE", &t->process_create}, {"SPECIAL_PRIVILEGES", &t->special_privileges},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (E.event_type.n == strlen(m[i].type) &&
		    !memcmp(E.event_type.p, m[i].type, E.event_type.n)) {
			(*m[i].n)++;
			return;
		}
	assert_true(E.event_type.n > 9 && !memcmp(E.event_type.p, "WINEVENT_", 9));
	t->generic++;
}

/* Totals from evtx/SOURCE.md over the 17 files: 3,912 events; 4625 = 3,590; 4720 = 4;
 * 1102 = 8; 4688 = 58; 4672 = 9; 4624 = 17. (Per-file counts: test_evtx.c.) */
static void test_exports_totals(void **state)
{
	(void)state;
	const char *dir = data_dir();
	if (!dir) {
		print_message("shared data not found (../shared/data or $SIEM_TEST_DATA): "
			      "skipping\n");
		skip();
	}
	struct tally t = {0};
	for (size_t i = 0; i < sizeof(xml_files) / sizeof(xml_files[0]); i++) {
		char p[1024];
		snprintf(p, sizeof(p), "%s/evtx/%s.evtx.xml", dir, xml_files[i]);
		each_event(p, count_one, &t);
	}
	assert_int_equal(t.events, 3912);
	assert_int_equal(t.login_fail, 3590);
	assert_int_equal(t.account_create, 4);
	assert_int_equal(t.log_tampering, 8);
	assert_int_equal(t.process_create, 58);
	assert_int_equal(t.special_privileges, 9);
	assert_int_equal(t.login_success, 17);
	assert_int_equal(t.generic, 3912 - 3590 - 4 - 8 - 58 - 9 - 17);
}

/* The content facts SOURCE.md states for the brute-force samples. */
struct bf {
	int n, admin, other, ip, lt3, lt8, s6a, s72, s64, ntlm;
	const char *other_user;
};

static void bf_one(const char *x, size_t n, void *arg)
{
	struct bf *b = arg;
	arena_reset(&A);
	if (parse_n(x, n))
		fail_msg("event %d: %s", b->n, ERR);
	b->n++;
	assert_sv(E.event_type, "LOGIN_FAIL");
	const char *u = dget(D, "TargetUserName");
	if (!strcmp(u, "Administrator"))
		b->admin++;
	else if (b->other_user && !strcmp(u, b->other_user))
		b->other++;
	if (E.flags & EV_HAS_IP) {
		assert_sv(E.source_ip, "192.168.198.149");
		b->ip++;
	}
	const char *lt = dget(D, "LogonType"), *ss = dget(D, "SubStatus");
	b->lt3 += !strcmp(lt, "3");
	b->lt8 += !strcmp(lt, "8");
	b->s6a += !strcmp(ss, "0xc000006a");
	b->s72 += !strcmp(ss, "0xc0000072");
	b->s64 += !strcmp(ss, "0xc0000064");
	b->ntlm += !strcmp(dget(D, "LogonProcessName"), "NtLmSsp ");
}

static void nouser_one(const char *x, size_t n, void *arg)
{
	struct bf *b = arg;
	arena_reset(&A);
	if (parse_n(x, n))
		fail_msg("%s", ERR);
	if (strcmp(dget(D, "EventID"), "4625"))
		return;
	b->n++;
	assert_sv(E.user, "NOUSER");
	assert_sv(E.source_ip, NULL); /* IpAddress "-" */
	assert_data("IpAddress", "-");
	assert_data("LogonType", "8");
	assert_data("SubStatus", "0xc0000064");
	assert_sv(E.source_host, "fs01.offsec.lan");
}

static void test_exports_content(void **state)
{
	(void)state;
	const char *dir = data_dir();
	if (!dir) {
		print_message("shared data not found (../shared/data or $SIEM_TEST_DATA): "
			      "skipping\n");
		skip();
	}
	char p[1024];
	struct bf b = {.other_user = "JcDfcZTc"};
	snprintf(p, sizeof(p), "%s/evtx/deepbluecli/smb-password-guessing-security.evtx.xml", dir);
	each_event(p, bf_one, &b);
	assert_int_equal(b.n, 3561);
	assert_int_equal(b.admin, 3560);
	assert_int_equal(b.other, 1);
	assert_int_equal(b.ip, 3561);
	assert_int_equal(b.lt3, 3561);
	assert_int_equal(b.s6a, 3558);
	assert_int_equal(b.s72, 2);
	assert_int_equal(b.s64, 1);
	assert_int_equal(b.ntlm, 3561);

	struct bf nu = {0};
	snprintf(p, sizeof(p),
		 "%s/evtx/mdecrevoisier/ID4625-OpenSSH_brutforce_with_non_existing_users.evtx.xml",
		 dir);
	each_event(p, nouser_one, &nu);
	assert_int_equal(nu.n, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_login_fail),
	    cmocka_unit_test(test_typed_events),
	    cmocka_unit_test(test_source_ip),
	    cmocka_unit_test(test_log_cleared),
	    cmocka_unit_test(test_userdata_collision),
	    cmocka_unit_test(test_generic_shapes),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_exports_totals),
	    cmocka_unit_test(test_exports_content),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
