/* winevent_table.c — the Windows event table: event type, severity and message template by
 * (provider, EventID), and the System values that are numbers. */
#include <string.h>

#include "parse/winevent_table.h"

static const struct winevent_type types[] = {
    {4624, WINEVENT_PROV_SECURITY, "LOGIN_SUCCESS", 1,
     "logon of {TargetUserName}[ from {IpAddress}][, logon type {LogonType}]"},
    {4625, WINEVENT_PROV_SECURITY, "LOGIN_FAIL", 3,
     "failed logon for {TargetUserName}[ from {IpAddress}][, logon type {LogonType}][, status "
     "{Status}][/{SubStatus}]"},
    {4672, WINEVENT_PROV_SECURITY, "SPECIAL_PRIVILEGES", 2,
     "special privileges assigned to {SubjectUserName}[: {PrivilegeList}]"},
    {4688, WINEVENT_PROV_SECURITY, "PROCESS_CREATE", 1,
     "process {NewProcessName} created by {SubjectUserName}[ (parent {ParentProcessName})]"},
    {4720, WINEVENT_PROV_SECURITY, "ACCOUNT_CREATE", 4,
     "account {TargetUserName} created[ in {TargetDomainName}][ by {SubjectUserName}]"},
    {1102, WINEVENT_PROV_EVENTLOG, "LOG_TAMPERING", 5, "audit log cleared[ by {SubjectUserName}]"},
};

const char winevent_generic_msg[] = "event {EventID} from {Provider_Name}[ in {Channel}]";

const char *const winevent_sys_ints[] = {
    "EventID",
    "Version",
    "Level",
    "Task",
    "Opcode",
    "EventRecordID",
    "Execution_ProcessID",
    "Execution_ThreadID",
};
const size_t winevent_n_sys_ints = sizeof(winevent_sys_ints) / sizeof(winevent_sys_ints[0]);

const struct winevent_type *winevent_type_find(unsigned id, const char *provider)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].id == id && (!provider || !strcmp(provider, types[i].provider)))
			return &types[i];
	return NULL;
}
