/* service_win.c — the Windows entry point: foreground (Ctrl-C stops), or the service
 * "minisiem-agent" (--install-service, --uninstall-service, --service). */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/main_int.h"

#define SVC_NAME "minisiem-agent"

static SERVICE_STATUS_HANDLE svc_handle;
static SERVICE_STATUS svc_status;
static int svc_argc;
static char **svc_argv;

static void report(DWORD state, DWORD code)
{
	svc_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	svc_status.dwCurrentState = state;
	svc_status.dwControlsAccepted =
	    state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
	svc_status.dwWin32ExitCode = code ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
	svc_status.dwServiceSpecificExitCode = code;
	svc_status.dwWaitHint = state == SERVICE_RUNNING ? 0 : 30000;
	SetServiceStatus(svc_handle, &svc_status);
}

static DWORD WINAPI on_control(DWORD ctl, DWORD type, LPVOID data, LPVOID ctx)
{
	(void)type, (void)data, (void)ctx;
	if (ctl == SERVICE_CONTROL_STOP || ctl == SERVICE_CONTROL_SHUTDOWN) {
		report(SERVICE_STOP_PENDING, 0);
		agent_request_stop();
	}
	return NO_ERROR;
}

static void WINAPI service_main(DWORD argc, LPSTR *argv)
{
	(void)argc, (void)argv;
	svc_handle = RegisterServiceCtrlHandlerExA(SVC_NAME, on_control, NULL);
	if (!svc_handle)
		return;
	report(SERVICE_RUNNING, 0);
	int rc = agent_main(svc_argc, svc_argv, NULL);
	report(SERVICE_STOPPED, (DWORD)rc);
}

static BOOL WINAPI on_console(DWORD type)
{
	(void)type;
	agent_request_stop();
	return TRUE;
}

/* The command line the service runs: this binary, --service, and the other options. */
static int install(int argc, char **argv)
{
	char exe[MAX_PATH], cmd[8192];
	size_t n;
	if (!GetModuleFileNameA(NULL, exe, sizeof(exe)))
		return 1;
	n = (size_t)snprintf(cmd, sizeof(cmd), "\"%s\" --service", exe);
	for (int i = 1; i < argc && n < sizeof(cmd); i++) {
		if (!strcmp(argv[i], "--install-service"))
			continue;
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " \"%s\"", argv[i]);
	}
	if (n >= sizeof(cmd)) {
		fprintf(stderr, "minisiem-agent: command line too long for the service\n");
		return 2;
	}
	SC_HANDLE scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_CREATE_SERVICE);
	if (!scm) {
		fprintf(stderr,
			"minisiem-agent: cannot open the service manager (error %lu: run "
			"as an administrator)\n",
			(unsigned long)GetLastError());
		return 1;
	}
	SC_HANDLE svc = CreateServiceA(scm, SVC_NAME, "minisiem agent", SERVICE_ALL_ACCESS,
				       SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
				       SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, NULL, NULL);
	if (!svc) {
		fprintf(stderr, "minisiem-agent: cannot create the service (error %lu)\n",
			(unsigned long)GetLastError());
		CloseServiceHandle(scm);
		return 1;
	}
	SERVICE_DESCRIPTIONA d = {"Sends this machine's security events to a minisiem hub."};
	ChangeServiceConfig2A(svc, SERVICE_CONFIG_DESCRIPTION, &d);
	printf("service '%s' installed: %s\nstart it with: sc start %s\n", SVC_NAME, cmd, SVC_NAME);
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	return 0;
}

static int uninstall(void)
{
	SC_HANDLE scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_CONNECT);
	SC_HANDLE svc = scm ? OpenServiceA(scm, SVC_NAME, SERVICE_STOP | DELETE) : NULL;
	SERVICE_STATUS st;
	int rc = 0;
	if (!svc) {
		fprintf(stderr, "minisiem-agent: no service '%s' (error %lu)\n", SVC_NAME,
			(unsigned long)GetLastError());
		rc = 1;
	} else {
		ControlService(svc, SERVICE_CONTROL_STOP, &st);
		if (!DeleteService(svc)) {
			fprintf(stderr, "minisiem-agent: cannot remove the service (error %lu)\n",
				(unsigned long)GetLastError());
			rc = 1;
		} else {
			printf("service '%s' removed\n", SVC_NAME);
		}
		CloseServiceHandle(svc);
	}
	if (scm)
		CloseServiceHandle(scm);
	return rc;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--install-service"))
			return install(argc, argv);
		if (!strcmp(argv[i], "--uninstall-service"))
			return uninstall();
		if (!strcmp(argv[i], "--service")) {
			svc_argc = argc;
			svc_argv = argv;
			SERVICE_TABLE_ENTRYA table[] = {{(LPSTR)SVC_NAME, service_main},
							{NULL, NULL}};
			return StartServiceCtrlDispatcherA(table) ? 0 : 1;
		}
	}
	SetConsoleCtrlHandler(on_console, TRUE);
	return agent_main(argc, argv, NULL);
}
