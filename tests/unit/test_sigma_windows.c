/* test_sigma_windows.c — Windows logsources of rules/mapping.yml: every channel and Sysmon
 * category SigmaHQ's tests/thor.yml maps, through the Windows event parser (event XML as the
 * agent renders it); field names with spaces found as SigmaHQ writes them (Threat Name as
 * ThreatName); the antivirus category on Defender detections; the shared EVTX samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testdata.h"

#include "detect/detect.h"
#include "parse/winevent.h"

static struct arena A;
static struct rule **R;
static size_t NR;
static char ERR[1024];

static void free_rules(void)
{
	for (size_t i = 0; i < NR; i++)
		rule_free(R[i]);
	free(R);
	R = NULL;
	NR = 0;
}

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free_rules();
	arena_release(&A);
	return 0;
}

/* A rule over logsource ls ("category: x\n  product: windows") with selection sel. */
static void rule(const char *ls, const char *sel)
{
	char y[2048];
	snprintf(y, sizeof(y),
		 "title: t\nlogsource:\n  %s\ndetection:\n  sel:\n%s\n  condition: sel\n", ls,
		 sel ? sel : "    EventID|exists: true");
	free_rules();
	if (rule_compile(y, strlen(y), "test", &R, &NR, ERR, sizeof(ERR)))
		fail_msg("compile: %s\n%s", ERR, y);
}

/* An event as the Event Log API renders it. */
static struct event *xml_event(const char *channel, int eid, const char *data)
{
	char x[4096];
	snprintf(x, sizeof(x),
		 "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>"
		 "<Provider Name=\"P\"/><EventID>%d</EventID><TimeCreated "
		 "SystemTime=\"2026-03-01T10:00:00.000Z\"/><EventRecordID>7</EventRecordID>"
		 "<Channel>%s</Channel><Computer>ws1.corp.example</Computer></System>"
		 "<EventData>%s</EventData></Event>",
		 eid, channel, data ? data : "");
	struct event *e = arena_alloc(&A, sizeof(*e));
	char err[256];
	if (winevent_from_xml(x, strlen(x), e, &A, err, sizeof(err)))
		fail_msg("winevent: %s\n%s", err, x);
	return e;
}

static const char *SYSMON = "Microsoft-Windows-Sysmon/Operational";

/* Each logsource added from thor.yml: an event of its channel (and id) matches, the same
 * event in another channel (or with another id) does not. */
static void test_thor_logsources(void **state)
{
	(void)state;
	static const struct {
		const char *ls, *channel;
		int eid, other_eid;
		const char *data;
	} c[] = {
	    {"category: registry_delete\n  product: windows", NULL, 12, 13,
	     "<Data Name=\"EventType\">DeleteValue</Data>"},
	    {"category: registry_delete\n  product: windows", NULL, 12, 12,
	     "<Data Name=\"EventType\">DeleteKey</Data>"},
	    {"category: registry_add\n  product: windows", NULL, 12, 13,
	     "<Data Name=\"EventType\">CreateKey</Data>"},
	    {"category: create_stream_hash\n  product: windows", NULL, 15, 11, NULL},
	    {"category: file_change\n  product: windows", NULL, 2, 3, NULL},
	    {"category: raw_access_thread\n  product: windows", NULL, 9, 8, NULL},
	    {"category: process_tampering\n  product: windows", NULL, 25, 24, NULL},
	    {"category: sysmon_status\n  product: windows", NULL, 16, 15, NULL},
	    {"category: sysmon_error\n  product: windows", NULL, 255, 254, NULL},
	    {"category: file_executable_detected\n  product: windows", NULL, 29, 28, NULL},
	    {"category: registry_rename\n  product: windows", NULL, 14, 13, NULL},
	    {"category: clipboard_change\n  product: windows", NULL, 24, 25, NULL},
	    {"category: ps_classic_start\n  product: windows", "Windows PowerShell", 400, 403,
	     NULL},
	    {"category: ps_classic_provider_start\n  product: windows", "Windows PowerShell", 600,
	     400, NULL},
	    {"category: ps_classic_script\n  product: windows", "Windows PowerShell", 800, 600,
	     NULL},
	    {"product: windows\n  service: dns-client", "Microsoft-Windows-DNS-Client/Operational",
	     3008, -1, NULL},
	    {"product: windows\n  service: appxdeployment-server",
	     "Microsoft-Windows-AppXDeploymentServer/Operational", 400, -1, NULL},
	    {"product: windows\n  service: msexchange-management", "MSExchange Management", 1, -1,
	     NULL},
	    {"product: windows\n  service: applocker",
	     "Microsoft-Windows-AppLocker/Packaged app-Execution", 8004, -1, NULL},
	    {"product: windows\n  service: security-mitigations",
	     "Microsoft-Windows-Security-Mitigations/User Mode", 10, -1, NULL},
	    {"product: windows\n  service: capi2", "Microsoft-Windows-CAPI2/Operational", 70, -1,
	     NULL},
	    {"product: windows\n  service: lsa-server", "Microsoft-Windows-LSA/Operational", 300,
	     -1, NULL},
	    {"product: windows\n  service: smbclient-security",
	     "Microsoft-Windows-SmbClient/Security", 31001, -1, NULL},
	    {"product: windows\n  service: iis-configuration",
	     "Microsoft-IIS-Configuration/Operational", 29, -1, NULL},
	    {"product: windows\n  service: dns-server", "DNS Server", 150, -1, NULL},
	    {"product: windows\n  service: shell-core", "Microsoft-Windows-Shell-Core/Operational",
	     9707, -1, NULL},
	    {"product: windows\n  service: microsoft-servicebus-client",
	     "Microsoft-ServiceBus-Client/Operational", 1, -1, NULL},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const char *ch = c[i].channel ? c[i].channel : SYSMON;
		rule(c[i].ls, NULL);
		if (!rule_matches(R[0], xml_event(ch, c[i].eid, c[i].data)))
			fail_msg("%s: %s %d does not match", c[i].ls, ch, c[i].eid);
		if (rule_matches(R[0], xml_event("Application", c[i].eid, c[i].data)))
			fail_msg("%s: the Application channel matches", c[i].ls);
		if (c[i].other_eid >= 0 && c[i].other_eid != c[i].eid &&
		    rule_matches(R[0], xml_event(ch, c[i].other_eid, c[i].data)))
			fail_msg("%s: event id %d matches", c[i].ls, c[i].other_eid);
	}
	/* registry_delete is not every EventID 12: a CreateKey is registry_add */
	rule("category: registry_delete\n  product: windows", NULL);
	assert_false(
	    rule_matches(R[0], xml_event(SYSMON, 12, "<Data Name=\"EventType\">CreateKey</Data>")));
	/* file reads and renames: accepted, and said to be unable to fire */
	rule("category: file_access\n  product: windows", NULL);
	assert_non_null(rule_never_fires(R[0]));
	assert_non_null(strstr(rule_never_fires(R[0]), "Kernel-File analytic"));
	rule("category: registry_delete\n  product: windows", NULL);
	assert_null(rule_never_fires(R[0]));
}

/* A Defender detection (event 1116) as Microsoft documents it: its field names have spaces,
 * SigmaHQ's rules write them without. */
static const char *DEFENDER =
    "<Data Name=\"Product Name\">Microsoft Defender Antivirus</Data>"
    "<Data Name=\"Detection ID\">{2F1A5C4B-3D7E-4A5B-9C1D-0E2F3A4B5C6D}</Data>"
    "<Data Name=\"Threat ID\">2147735505</Data>"
    "<Data Name=\"Threat Name\">HackTool:Win32/Mimikatz.D</Data>"
    "<Data Name=\"Severity Name\">High</Data>"
    "<Data Name=\"Category Name\">Tool</Data>"
    "<Data Name=\"Path\">file:_C:\\Users\\bob\\Downloads\\mimikatz.exe</Data>"
    "<Data Name=\"Detection Origin Name\">Local machine</Data>"
    "<Data Name=\"Detection User\">CORP\\bob</Data>"
    "<Data Name=\"Process Name\">C:\\Windows\\explorer.exe</Data>"
    "<Data Name=\"Source Name\">Real-Time Protection</Data>"
    "<Data Name=\"Action Name\">Not Applicable</Data>";

static void test_field_names_without_spaces(void **state)
{
	(void)state;
	const char *ch = "Microsoft-Windows-Windows Defender/Operational";
	rule("product: windows\n  service: windefend",
	     "    EventID: 1116\n    ThreatName|contains: mimikatz\n"
	     "    SourceName: Real-Time Protection\n    ProcessName|endswith: '\\explorer.exe'");
	assert_true(rule_matches(R[0], xml_event(ch, 1116, DEFENDER)));
	/* the name as Windows writes it works too */
	rule("product: windows\n  service: windefend", "    'Threat Name|contains': mimikatz");
	assert_true(rule_matches(R[0], xml_event(ch, 1116, DEFENDER)));
	rule("product: windows\n  service: windefend", "    ThreatName|contains: emotet");
	assert_false(rule_matches(R[0], xml_event(ch, 1116, DEFENDER)));
	/* category antivirus: Signature and Filename through thor.yml's field mapping */
	rule("category: antivirus",
	     "    Signature|startswith: 'HackTool:'\n    Filename|endswith: '\\mimikatz.exe'");
	assert_true(rule_matches(R[0], xml_event(ch, 1116, DEFENDER)));
	assert_false(rule_matches(R[0], xml_event(ch, 5001, DEFENDER))); /* not a detection */
	assert_false(rule_matches(R[0], xml_event("Application", 1116, DEFENDER)));
	/* an exact key wins over one that only equals it without spaces */
	rule("product: windows\n  service: windefend", "    ThreatName: exact");
	assert_true(rule_matches(R[0], xml_event(ch, 1116,
						 "<Data Name=\"Threat Name\">spaced</Data>"
						 "<Data Name=\"ThreatName\">exact</Data>")));
}

/* The shared EVTX samples: the System channel's events (log cleared, service installs) are
 * service: system and nothing else of the new logsources. */
static void test_evtx_samples(void **state)
{
	(void)state;
	const char *dir = test_data_dir("evtx/SOURCE.md");
	if (!dir)
		skip();
	char path[1024];
	snprintf(path, sizeof(path), "%s/evtx/mdecrevoisier/ID104-1102-Event_log_cleared.evtx.xml",
		 dir);
	size_t tn;
	char *text = test_slurp(path, &tn);
	assert_non_null(text);
	struct event *ev[64];
	size_t n = 0;
	for (char *p = text;
	     n < 64 && (p = memmem(p, tn - (size_t)(p - text), "<Event xmlns", 12));) {
		char *e = memmem(p, tn - (size_t)(p - text), "</Event>", 8);
		assert_non_null(e);
		e += 8;
		ev[n] = arena_alloc(&A, sizeof(struct event));
		if (winevent_from_xml(p, (size_t)(e - p), ev[n], &A, ERR, sizeof(ERR)))
			fail_msg("%s: %s", path, ERR);
		n++;
		p = e;
	}
	free(text);
	assert_true(n >= 2);
	size_t sys = 0, sec = 0, other = 0;
	static const char *others[] = {
	    "product: windows\n  service: dns-client", "product: windows\n  service: applocker",
	    "category: registry_delete\n  product: windows",
	    "category: ps_classic_start\n  product: windows", "category: antivirus"};
	rule("product: windows\n  service: system", "    EventID: 104");
	for (size_t i = 0; i < n; i++)
		sys += rule_matches(R[0], ev[i]);
	rule("product: windows\n  service: security", "    EventID: 1102");
	for (size_t i = 0; i < n; i++)
		sec += rule_matches(R[0], ev[i]);
	for (size_t k = 0; k < sizeof(others) / sizeof(others[0]); k++) {
		rule(others[k], NULL);
		for (size_t i = 0; i < n; i++)
			other += rule_matches(R[0], ev[i]);
	}
	assert_int_equal(sys + sec, n); /* the file: 104s and a 1102 */
	assert_true(sys > 0 && sec > 0);
	assert_int_equal(other, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_thor_logsources, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_field_names_without_spaces, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_evtx_samples, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
