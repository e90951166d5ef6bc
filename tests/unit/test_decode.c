/* test_decode.c — the auth decoders: every pattern of the table with exact fields, the
 * generic and unknown-program paths, hostile messages, threads, and the real samples in
 * shared/data (loghub OpenSSH/Linux against their structured CSV, Beats auth.log). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "testdata.h"
#include <jansson.h>

#include "core/err.h"
#include "parse/decode.h"
#include "parse/logline.h"

#define NOW (1795248000LL * 1000000) /* 2026-11-21T08:00:00Z */

static struct arena A;
static struct event EV;
static struct decode_explain EX;

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	return decode_init();
}

static int teardown(void **state)
{
	(void)state;
	arena_release(&A);
	decode_release();
	return 0;
}

static struct sv sv(const char *s)
{
	return (struct sv){s, s ? strlen(s) : 0};
}

static int dec(const char *app, const char *msg)
{
	memset(&EV, 0, sizeof(EV));
	EV.app = sv(app);
	EV.message = sv(msg);
	EV.user = sv("system");
	EV.event_type = sv("SYSLOG");
	EV.severity = 1;
	return decode_auth(&EV, &A, &EX);
}

static bool sv_eq(struct sv v, const char *s)
{
	return v.p && v.n == strlen(s) && !memcmp(v.p, s, v.n);
}

/* data must be a JSON object holding every "key":value member listed in want (compact). */
static void check_data(const char *what, struct sv data, const char *want)
{
	json_error_t e;
	json_t *d = data.p ? json_loadb(data.p, data.n, 0, &e) : NULL;
	if (data.p && !json_is_object(d))
		fail_msg("%s: data is not a JSON object: %.*s", what, (int)data.n, data.p);
	json_decref(d);
	if (!want)
		return;
	if (!data.p)
		fail_msg("%s: no data, want %s", what, want);
	/* Each comma-separated member must appear as written. */
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", want);
	char *save = NULL;
	for (char *m = strtok_r(buf, "|", &save); m; m = strtok_r(NULL, "|", &save)) {
		if (!memmem(data.p, data.n, m, strlen(m)))
			fail_msg("%s: data %.*s lacks %s", what, (int)data.n, data.p, m);
	}
}

struct dcase {
	const char *app, *msg;
	const char *decoder, *pattern; /* as --explain names them */
	const char *type;
	int sev;
	const char *user, *ip; /* NULL: "system" / no address */
	const char *data;      /* members that must be in data, separated by '|' */
};

static const struct dcase cases[] = {
    /* sshd, from OpenSSH's auth.c, auth2.c, auth-pam.c, packet.c, kex.c and sshd.c */
    {"sshd", "Failed password for invalid user admin from 203.0.113.7 port 52114 ssh2", "sshd",
     "failed_invalid_user", "LOGIN_FAIL", 3, "admin", "203.0.113.7",
     "\"method\":\"password\"|\"port\":52114|\"invalid_user\":true|\"reason\":\"invalid_user\""},
    {"sshd", "Failed none for invalid user  from 5.6.7.8 port 1 ssh2", "sshd",
     "failed_invalid_user", "LOGIN_FAIL", 3, NULL, "5.6.7.8", "\"invalid_user\":true"},
    {"sshd", "Failed publickey for invalid user git from 2001:db8::9 port 4 ssh2: ED25519 SHA256:x",
     "sshd", "failed_invalid_user", "LOGIN_FAIL", 3, "git", "2001:db8::9",
     "\"method\":\"publickey\"|\"key_type\":\"ED25519\""},
    {"sshd", "Failed publickey for root from 2001:db8::1 port 22 ssh2: RSA SHA256:abc", "sshd",
     "failed_publickey", "PUBKEY_REJECTED", 2, "root", "2001:db8::1",
     "\"method\":\"publickey\"|\"key_type\":\"RSA\"|\"reason\":\"key_rejected\""},
    {"sshd", "Failed hostbased for bob from 192.0.2.30 port 99 ssh2: ECDSA SHA256:h", "sshd",
     "failed_hostbased", "LOGIN_FAIL", 3, "bob", "192.0.2.30",
     "\"method\":\"hostbased\"|\"reason\":\"hostbased_rejected\""},
    {"sshd", "Failed password for root from 183.62.140.253 port 47460 ssh2", "sshd",
     "failed_password", "LOGIN_FAIL", 3, "root", "183.62.140.253",
     "\"method\":\"password\"|\"reason\":\"wrong_password\"|\"port\":47460"},
    {"sshd", "Failed keyboard-interactive/pam for alice from ::ffff:192.0.2.44 port 5 ssh2", "sshd",
     "failed_keyboard_interactive", "LOGIN_FAIL", 3, "alice", "192.0.2.44",
     "\"method\":\"keyboard-interactive/pam\"|\"reason\":\"wrong_password\""},
    {"sshd", "Failed password for root from host-7.example.net port 22 ssh2", "sshd",
     "failed_password", "LOGIN_FAIL", 3, "root", NULL, "\"rhost\":\"host-7.example.net\""},
    {"sshd", "Failed gssapi-with-mic for carol from 192.0.2.31 port 7 ssh2", "sshd", "failed",
     "LOGIN_FAIL", 3, "carol", "192.0.2.31",
     "\"method\":\"gssapi-with-mic\"|\"reason\":\"auth_failed\""},
    {"sshd", "Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2: RSA 39:33:99", "sshd",
     "accepted", "LOGIN_SUCCESS", 1, "vagrant", "10.0.2.2",
     "\"key_type\":\"RSA\"|\"key_fingerprint\":\"39:33:99\"|\"port\":63673"},
    {"sshd", "Accepted password for fztu from 119.137.62.142 port 49116 ssh2", "sshd", "accepted",
     "LOGIN_SUCCESS", 1, "fztu", "119.137.62.142", "\"method\":\"password\""},
    {"sshd", "Accepted keyboard-interactive/pam for root from 198.51.100.3 port 2222 ssh2", "sshd",
     "accepted", "LOGIN_SUCCESS", 1, "root", "198.51.100.3",
     "\"method\":\"keyboard-interactive/pam\""},
    {"sshd", "Accepted rsa for bob from 192.0.2.50 port 1022", "sshd", "accepted", "LOGIN_SUCCESS",
     1, "bob", "192.0.2.50", "\"method\":\"rsa\""},
    {"sshd", "Partial publickey for alice from 192.0.2.52 port 5 ssh2: ED25519 SHA256:k", "sshd",
     "partial", "SSHD", 1, "alice", "192.0.2.52", "\"result\":\"Partial\""},
    {"sshd", "Invalid user webmaster from 173.234.31.186", "sshd", "invalid_user", "LOGIN_FAIL", 3,
     "webmaster", "173.234.31.186", "\"invalid_user\":true|\"reason\":\"invalid_user\""},
    {"sshd", "Invalid user oracle from 10.1.1.1 port 40000", "sshd", "invalid_user", "LOGIN_FAIL",
     3, "oracle", "10.1.1.1", "\"port\":40000|\"method\":\"none\""},
    {"sshd", "Illegal user test from 192.0.2.60", "sshd", "invalid_user", "LOGIN_FAIL", 3, "test",
     "192.0.2.60", NULL},
    {"sshd", "User bob from 192.0.2.1 not allowed because not listed in AllowUsers", "sshd",
     "not_allowed", "LOGIN_FAIL", 3, "bob", "192.0.2.1",
     "\"reason\":\"not_allowed\"|\"detail\":\"not listed in AllowUsers\""},
    {"sshd",
     "User eve from 192.0.2.2 not allowed because none of user's groups are listed in "
     "AllowGroups [preauth]",
     "sshd", "not_allowed", "LOGIN_FAIL", 3, "eve", "192.0.2.2",
     "\"detail\":\"none of user's groups are listed in AllowGroups\""},
    {"sshd", "User daemon not allowed because account is locked", "sshd", "not_allowed_local",
     "LOGIN_FAIL", 3, "daemon", NULL, "\"detail\":\"account is locked\""},
    {"sshd", "ROOT LOGIN REFUSED FROM 192.0.2.70 port 4444", "sshd", "root_refused", "LOGIN_FAIL",
     3, "root", "192.0.2.70", "\"reason\":\"root_refused\"|\"port\":4444"},
    {"sshd", "error: PAM: Authentication failure for illegal user bob from evil.example", "sshd",
     "pam_auth_error", "LOGIN_FAIL", 3, "bob", NULL,
     "\"rhost\":\"evil.example\"|\"reason\":\"pam_failure\""},
    {"sshd", "error: PAM: Authentication failure for root from 192.0.2.71", "sshd",
     "pam_auth_error", "LOGIN_FAIL", 3, "root", "192.0.2.71", NULL},
    {"sshd", "fatal: Access denied for user bob by PAM account configuration [preauth]", "sshd",
     "pam_account_denied", "LOGIN_FAIL", 3, "bob", NULL, "\"method\":\"pam_account\""},
    {"sshd",
     "PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "
     "rhost=183.62.140.253  user=root",
     "sshd", "pam_more_failures", "PAM_AUTH_FAIL", 2, "root", "183.62.140.253", "\"count\":5"},
    {"sshd",
     "error: maximum authentication attempts exceeded for invalid user x from 192.0.2.9 "
     "port 4 ssh2 [preauth]",
     "sshd", "max_auth_attempts", "LOGIN_FAIL", 3, "x", "192.0.2.9",
     "\"reason\":\"max_auth_attempts\""},
    {"sshd",
     "Disconnecting authenticating user root 192.0.2.9 port 51234: Too many authentication "
     "failures [preauth]",
     "sshd", "disconnect_authenticating", "LOGIN_FAIL", 3, "root", "192.0.2.9",
     "\"reason\":\"too_many_failures\""},
    {"sshd",
     "Disconnecting invalid user admin 192.0.2.10 port 7: Too many authentication failures "
     "[preauth]",
     "sshd", "disconnect_authenticating", "LOGIN_FAIL", 3, "admin", "192.0.2.10", NULL},
    {"sshd", "Disconnecting: Too many authentication failures for admin [preauth]", "sshd",
     "too_many_failures", "LOGIN_FAIL", 3, "admin", NULL, "\"reason\":\"too_many_failures\""},
    {"sshd-session", "Connection closed by authenticating user root 192.0.2.9 port 51234 [preauth]",
     "sshd", "closed_authenticating", "LOGIN_FAIL", 3, "root", "192.0.2.9",
     "\"port\":51234|\"reason\":\"closed_preauth\""},
    {"sshd", "Connection closed by invalid user admin 192.0.2.1 port 5 [preauth]", "sshd",
     "closed_invalid_user", "LOGIN_FAIL", 3, "admin", "192.0.2.1",
     "\"invalid_user\":true|\"reason\":\"invalid_user\""},
    {"sshd", "Disconnected from authenticating user root 2001:db8::77 port 61000 [preauth]", "sshd",
     "disconnected_authenticating", "LOGIN_FAIL", 3, "root", "2001:db8::77",
     "\"reason\":\"closed_preauth\""},
    {"sshd", "Did not receive identification string from 2.125.160.217", "sshd",
     "no_identification", "SSH_PROBE", 2, NULL, "2.125.160.217", "\"probe\":\"no_identification\""},
    {"sshd", "Bad protocol version identification 'GET / HTTP/1.1' from 192.0.2.8 port 9", "sshd",
     "bad_protocol", "SSH_PROBE", 2, NULL, "192.0.2.8", "\"banner\":\"GET / HTTP/1.1\""},
    {"sshd", "Protocol major versions differ for 192.0.2.12: SSH-2.0-OpenSSH vs. SSH-1.5-x", "sshd",
     "protocol_mismatch", "SSH_PROBE", 2, NULL, "192.0.2.12", "\"probe\":\"bad_protocol\""},
    {"sshd",
     "Unable to negotiate with 192.0.2.13 port 40112: no matching key exchange method found. "
     "Their offer: diffie-hellman-group1-sha1 [preauth]",
     "sshd", "unable_to_negotiate", "SSH_PROBE", 2, NULL, "192.0.2.13",
     "\"what\":\"key exchange method\"|\"offer\":\"diffie-hellman-group1-sha1\""},
    {"sshd", "error: kex_exchange_identification: Connection closed by remote host", "sshd",
     "kex_identification", "SSH_PROBE", 2, NULL, NULL,
     "\"detail\":\"Connection closed by remote host\""},
    {"sshd",
     "kex_exchange_identification: client sent invalid protocol identifier \"GET / HTTP/1.1\"",
     "sshd", "kex_identification", "SSH_PROBE", 2, NULL, NULL, "\"probe\":\"kex_identification\""},
    {"sshd", "banner exchange: Connection from 192.0.2.14 port 5: invalid format", "sshd",
     "banner_exchange", "SSH_PROBE", 2, NULL, "192.0.2.14", "\"detail\":\"invalid format\""},
    {"sshd",
     "ssh_dispatch_run_fatal: Connection from 192.0.2.15 port 6: message authentication code "
     "incorrect [preauth]",
     "sshd", "dispatch_fatal", "SSH_PROBE", 2, NULL, "192.0.2.15",
     "\"detail\":\"message authentication code incorrect\""},
    {"sshd", "Bad packet length 1349676916. [preauth]", "sshd", "bad_packet_length", "SSH_PROBE", 2,
     NULL, NULL, "\"length\":\"1349676916\""},
    {"sshd", "fatal: Timeout before authentication for 192.0.2.16 port 7", "sshd",
     "timeout_preauth", "SSH_PROBE", 2, NULL, "192.0.2.16", "\"probe\":\"timeout\""},
    {"sshd",
     "Timeout before authentication for connection from 192.0.2.22 to 192.0.2.1, pid = 4242",
     "sshd", "timeout_preauth", "SSH_PROBE", 2, NULL, "192.0.2.22", NULL},
    {"sshd", "error: Bad remote protocol version identification: 'SSH-9-x'", "sshd",
     "bad_remote_version", "SSH_PROBE", 2, NULL, NULL, "\"banner\":\"SSH-9-x\""},
    {"sshd", "Failed password for illegal user guest from 192.0.2.23 port 4 ssh2", "sshd",
     "failed_invalid_user", "LOGIN_FAIL", 3, "guest", "192.0.2.23", "\"invalid_user\":true"},
    {"sshd", "Received disconnect from 139.59.209.18: 11: Bye Bye [preauth]", "sshd",
     "received_disconnect_preauth", "SSH_PROBE", 2, NULL, "139.59.209.18",
     "\"code\":11|\"reason\":\"Bye Bye\"|\"probe\":\"disconnect\""},
    {"sshd", "Received disconnect from 192.0.2.17 port 3333:11: Bye Bye [preauth]", "sshd",
     "received_disconnect_preauth", "SSH_PROBE", 2, NULL, "192.0.2.17", "\"port\":3333"},
    {"sshd", "error: Received disconnect from 1.2.3.4: 3: Auth fail [preauth]", "sshd",
     "received_disconnect_preauth", "SSH_PROBE", 2, NULL, "1.2.3.4", "\"code\":3"},
    {"sshd", "Connection closed by 192.0.2.5 [preauth]", "sshd", "closed_preauth", "SSH_PROBE", 2,
     NULL, "192.0.2.5", "\"probe\":\"closed\""},
    {"sshd-session", "Connection reset by 192.0.2.18 port 50 [preauth]", "sshd", "closed_preauth",
     "SSH_PROBE", 2, NULL, "192.0.2.18", NULL},
    {"sshd", "drop connection #10 from [192.0.2.19]:4567 on [192.0.2.1]:22 past MaxStartups",
     "sshd", "maxstartups_drop", "SSH_PROBE", 2, NULL, "192.0.2.19", "\"probe\":\"maxstartups\""},
    {"sshd", "input_userauth_request: invalid user webmaster [preauth]", "sshd",
     "input_userauth_invalid", "SSHD", 1, "webmaster", NULL, NULL},
    {"sshd", "Received disconnect from 192.0.2.4 port 6000:11: disconnected by user", "sshd",
     "received_disconnect", "SSHD", 1, NULL, "192.0.2.4", "\"code\":11"},
    {"sshd", "Disconnected from user alice 192.0.2.4 port 6000", "sshd", "disconnected_user",
     "SSHD", 1, "alice", "192.0.2.4", NULL},
    {"sshd", "Disconnected from 192.0.2.4 port 6000", "sshd", "disconnected", "SSHD", 1, NULL,
     "192.0.2.4", "\"port\":6000"},
    {"sshd", "Connection closed by 192.0.2.5 port 22", "sshd", "closed", "SSHD", 1, NULL,
     "192.0.2.5", NULL},
    {"sshd", "Connection reset by 192.0.2.6 port 7", "sshd", "reset", "SSHD", 1, NULL, "192.0.2.6",
     NULL},
    {"sshd",
     "reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - "
     "POSSIBLE BREAK-IN ATTEMPT!",
     "sshd", "reverse_mapping", "SSHD", 1, NULL, "173.234.31.186", "\"rhost\":\"ns.example.com\""},
    {"sshd", "Connection from 192.0.2.20 port 5 on 192.0.2.1 port 22 rdomain \"\"", "sshd",
     "connection_from", "SSHD", 1, NULL, "192.0.2.20", "\"local_ip\":\"192.0.2.1\""},
    /* Solaris and illumos: "[ID nnn facility.level]" before the message */
    {"sshd", "[ID 800047 auth.info] Failed password for root from 192.0.2.21 port 22 ssh2", "sshd",
     "failed_password", "LOGIN_FAIL", 3, "root", "192.0.2.21", NULL},
    {"sshd", "Server listening on 0.0.0.0 port 22.", "sshd", "generic", "SSHD", 1, NULL, NULL,
     NULL},
    /* sudo */
    {"sudo", "vagrant : TTY=pts/0 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls", "sudo",
     "command", "SUDO_ESCALATION", 2, "vagrant", NULL,
     "\"tty\":\"pts/0\"|\"pwd\":\"/home/vagrant\"|\"target_user\":\"root\"|"
     "\"command\":\"/bin/ls\""},
    {"sudo", "alice : TTY=pts/1 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/sudo", "sudo", "command",
     "SUDO_ESCALATION", 2, "alice", NULL, "\"command\":\"/usr/bin/sudo\""},
    {"sudo",
     "  bob : TTY=unknown ; PWD=/ ; USER=postgres ; GROUP=pg ; ENV=A=1 ; COMMAND=/bin/sh -c "
     "'x ; y'",
     "sudo", "command", "SUDO_ESCALATION", 2, "bob", NULL,
     "\"target_group\":\"pg\"|\"env\":\"A=1\"|\"command\":\"/bin/sh -c 'x ; y'\""},
    {"sudo",
     "     tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; "
     "COMMAND=/bin/ls",
     "sudo", "not_in_sudoers", "LOGIN_FAIL", 4, "tsg", NULL,
     "\"reason\":\"not_in_sudoers\"|\"target_user\":\"root\"|\"command\":\"/bin/ls\""},
    {"sudo",
     "alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
     "COMMAND=/usr/bin/id",
     "sudo", "incorrect_password", "LOGIN_FAIL", 3, "alice", NULL,
     "\"attempts\":3|\"reason\":\"incorrect_password\""},
    {"sudo",
     "bob : a password is required ; TTY=pts/2 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/id",
     "sudo", "denied", "LOGIN_FAIL", 4, "bob", NULL, "\"reason\":\"a password is required\""},
    {"sudo",
     "carol : 1 incorrect password attempt ; TTY=pts/3 ; PWD=/ ; USER=root ; COMMAND=/bin/ls",
     "sudo", "incorrect_password", "LOGIN_FAIL", 3, "carol", NULL, "\"attempts\":1"},
    {"sudo", "alice : command not allowed ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/rm -rf /",
     "sudo", "denied", "LOGIN_FAIL", 4, "alice", NULL, "\"reason\":\"command not allowed\""},
    {"sudo",
     "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 "
     "tty=/dev/pts/0 ruser=alice rhost=  user=alice",
     "pam", "auth_failure", "PAM_AUTH_FAIL", 2, "alice", NULL,
     "\"service\":\"sudo\"|\"pam_type\":\"auth\"|\"ruser\":\"alice\"|\"reason\":\"pam_failure\""},
    {"sudo", "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
     "pam", "session_opened", "SESSION_OPEN", 1, "root", NULL,
     "\"uid\":0|\"by_user\":\"alice\"|\"by_uid\":1000"},
    {"sudo", "unable to resolve host web1: Name or service not known", "sudo", "generic", "SUDO", 1,
     NULL, NULL, NULL},
    /* su */
    {"su", "FAILED su for root by alice", "su", "failed", "LOGIN_FAIL", 3, "alice", NULL,
     "\"target_user\":\"root\""},
    {"su", "FAILED SU (to root) alice on pts/0", "su", "failed_to", "LOGIN_FAIL", 3, "alice", NULL,
     "\"target_user\":\"root\"|\"tty\":\"pts/0\""},
    {"su", "'su root' failed for lonvick on /dev/pts/8", "su", "failed_rfc3164", "LOGIN_FAIL", 3,
     "lonvick", NULL, "\"tty\":\"/dev/pts/8\""},
    {"su", "- pts/3 alice:root", "su", "failed_short", "LOGIN_FAIL", 3, "alice", NULL,
     "\"target_user\":\"root\""},
    {"su", "Successful su for root by alice", "su", "success", "SU_ESCALATION", 2, "alice", NULL,
     "\"target_user\":\"root\""},
    {"su", "(to root) alice on pts/0", "su", "success_to", "SU_ESCALATION", 2, "alice", NULL,
     "\"target_user\":\"root\""},
    {"su", "+ pts/3 alice:root", "su", "success_short", "SU_ESCALATION", 2, "alice", NULL,
     "\"tty\":\"pts/3\""},
    {"su",
     "pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=pts/0 "
     "ruser=alice rhost=  user=root",
     "pam", "auth_failure", "PAM_AUTH_FAIL", 2, "root", NULL, "\"logname\":\"alice\""},
    /* pam, also under "prog(pam_unix)" tags */
    {"sshd(pam_unix)",
     "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= "
     "rhost=218.188.2.4  user=root",
     "pam", "auth_failure", "PAM_AUTH_FAIL", 2, "root", "218.188.2.4", "\"tty\":\"NODEVssh\""},
    {"sshd(pam_unix)",
     "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=zummit.com ", "pam",
     "auth_failure", "PAM_AUTH_FAIL", 2, NULL, NULL, "\"rhost\":\"zummit.com\""},
    {"sshd", "pam_unix(sshd:auth): check pass; user unknown", "pam", "user_unknown",
     "PAM_AUTH_FAIL", 2, NULL, NULL, "\"reason\":\"user_unknown\"|\"service\":\"sshd\""},
    {"sshd", "pam_unix(sshd:auth): check pass; user (P4ssw0rd) unknown", "pam", "user_unknown",
     "PAM_AUTH_FAIL", 2, NULL, NULL, "\"typed_name\":\"P4ssw0rd\""},
    {"sshd",
     "pam_unix(sshd:auth): 2 more authentication failures; logname= uid=0 euid=0 tty=ssh "
     "ruser= rhost=192.0.2.40  user=root",
     "pam", "more_failures", "PAM_AUTH_FAIL", 2, "root", "192.0.2.40", "\"count\":2"},
    {"sshd",
     "pam_faillock(sshd:auth): Consecutive login failures for user bob account temporarily "
     "locked",
     "pam", "faillock_locked", "ACCOUNT_LOCKED", 4, "bob", NULL, "\"reason\":\"faillock\""},
    {"sshd", "pam_faillock(sshd:auth): User unknown", "pam", "faillock_unknown", "PAM_AUTH_FAIL", 2,
     NULL, NULL, "\"reason\":\"user_unknown\""},
    {"sshd", "pam_tally2(sshd:auth): user root (0) tally 4, deny 3", "pam", "tally_deny",
     "ACCOUNT_LOCKED", 4, "root", NULL, "\"tally\":4|\"deny\":3"},
    {"login",
     "pam_tally2(login:auth): user bob (1000) has time limit [55s left] since last failure.", "pam",
     "tally_time_limit", "ACCOUNT_LOCKED", 3, "bob", NULL, "\"seconds_left\":55"},
    {"sshd", "pam_unix(sshd:account): account bob has expired (account expired)", "pam",
     "account_expired", "PAM_AUTH_FAIL", 2, "bob", NULL, "\"detail\":\"account expired\""},
    {"sshd", "pam_unix(sshd:account): expired password for user carol (password aged)", "pam",
     "account_expired", "PAM_AUTH_FAIL", 2, "carol", NULL, "\"reason\":\"account_expired\""},
    {"su(pam_unix)", "session opened for user news by (uid=0)", "pam", "session_opened",
     "SESSION_OPEN", 1, "news", NULL, "\"by_uid\":0"},
    {"login(pam_unix)", "session opened for user root by LOGIN(uid=0)", "pam", "session_opened",
     "SESSION_OPEN", 1, "root", NULL, "\"by_user\":\"LOGIN\""},
    {"cron", "pam_unix(cron:session): session closed for user root", "pam", "session_closed",
     "SESSION_CLOSE", 1, "root", NULL, "\"service\":\"cron\""},
    {"passwd", "pam_unix(passwd:chauthtok): password changed for bob", "pam", "password_changed",
     "PASSWORD_CHANGE", 3, "bob", NULL, NULL},
    {"unix_chkpwd", "pam_unix(sshd:auth): auth could not identify password for [eve]", "pam",
     "auth_could_not_identify", "PAM_AUTH_FAIL", 2, "eve", NULL, NULL},
    {"pam", "user nobody logged out.", "pam", "generic", "PAM", 1, NULL, NULL, NULL},
    /* shadow-utils */
    {"useradd", "new user: name=apache, UID=48, GID=48, home=/usr/share/httpd, shell=/sbin/nologin",
     "shadow", "new_user", "ACCOUNT_CREATE", 4, "apache", NULL,
     "\"uid\":48|\"gid\":48|\"home\":\"/usr/share/httpd\"|\"shell\":\"/sbin/nologin\""},
    {"useradd",
     "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0",
     "shadow", "new_user", "ACCOUNT_CREATE", 4, "bob", NULL,
     "\"shell\":\"/bin/bash\"|\"from\":\"/dev/pts/0\""},
    {"groupadd", "new group: name=apache, GID=48", "shadow", "new_group", "GROUP_CREATE", 3, NULL,
     NULL, "\"group\":\"apache\"|\"gid\":48"},
    {"userdel", "delete user 'bob'", "shadow", "delete_user", "ACCOUNT_DELETE", 4, "bob", NULL,
     NULL},
    {"userdel", "removed group 'bob' owned by 'bob'", "shadow", "remove_group", "GROUP_DELETE", 3,
     "bob", NULL, "\"group\":\"bob\""},
    {"groupdel", "group 'devs' removed", "shadow", "remove_group", "GROUP_DELETE", 3, NULL, NULL,
     "\"group\":\"devs\""},
    {"usermod", "add 'bob' to group 'sudo'", "shadow", "add_to_admin_group", "ACCOUNT_MODIFY", 4,
     "bob", NULL, "\"group\":\"sudo\""},
    {"usermod", "add 'bob' to group 'video'", "shadow", "add_to_group", "ACCOUNT_MODIFY", 3, "bob",
     NULL, "\"group\":\"video\""},
    {"gpasswd", "delete 'bob' from group 'video'", "shadow", "delete_from_group", "ACCOUNT_MODIFY",
     3, "bob", NULL, "\"group\":\"video\""},
    {"gpasswd", "user bob added by root to group wheel", "shadow", "user_added_to_group",
     "ACCOUNT_MODIFY", 3, "bob", NULL, "\"by_user\":\"root\"|\"group\":\"wheel\""},
    {"usermod", "change user 'bob' password", "shadow", "change_password", "PASSWORD_CHANGE", 3,
     "bob", NULL, NULL},
    {"passwd", "password for 'bob' changed by 'root'", "shadow", "password_changed_by",
     "PASSWORD_CHANGE", 3, "bob", NULL, "\"by_user\":\"root\""},
    {"usermod", "change user 'bob' shell from '/bin/sh' to '/bin/bash'", "shadow", "change_user",
     "ACCOUNT_MODIFY", 3, "bob", NULL,
     "\"attribute\":\"shell\"|\"old\":\"/bin/sh\"|\"new\":\"/bin/bash\""},
    {"usermod", "lock user 'bob' password", "shadow", "lock_user", "ACCOUNT_MODIFY", 3, "bob", NULL,
     "\"action\":\"lock\""},
    {"groupmod", "change group 'devs' name to 'dev'", "shadow", "change_group", "GROUP_MODIFY", 3,
     NULL, NULL, "\"group\":\"devs\"|\"attribute\":\"name\""},
    {"gpasswd", "members of group devs set by root to alice,bob", "shadow", "change_group",
     "GROUP_MODIFY", 3, NULL, NULL, "\"group\":\"devs\"|\"members\":\"alice,bob\""},
    {"chage", "changed password expiry for bob", "shadow", "password_expiry", "ACCOUNT_MODIFY", 3,
     "bob", NULL, NULL},
    {"groupadd", "group added to /etc/group: name=apache, GID=48", "shadow", "group_added_to_file",
     "GROUPADD", 1, NULL, NULL, "\"file\":\"/etc/group\"|\"group\":\"apache\""},
    {"useradd", "failed adding user 'x', data deleted", "shadow", "generic", "USERADD", 1, NULL,
     NULL, NULL},
    /* systemd-logind, login, klogind, ftpd */
    {"systemd-logind", "New session 5 of user alice.", "systemd-logind", "new_session",
     "SESSION_OPEN", 1, "alice", NULL, "\"session\":\"5\""},
    {"systemd-logind", "Removed session c2.", "systemd-logind", "removed_session", "SESSION_CLOSE",
     1, NULL, NULL, "\"session\":\"c2\""},
    {"systemd-logind", "Session 5 logged out. Waiting for processes to exit.", "systemd-logind",
     "logged_out", "SYSTEMD_LOGIND", 1, NULL, NULL, "\"session\":\"5\""},
    {"login", "FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure", "login",
     "failed_login", "LOGIN_FAIL", 3, "root", NULL,
     "\"count\":1|\"tty\":\"/dev/tty1\"|\"reason\":\"Authentication failure\""},
    {"login", "FAILED LOGIN 1 FROM 192.0.2.3 FOR bob, Authentication failure", "login",
     "failed_login", "LOGIN_FAIL", 3, "bob", "192.0.2.3", NULL},
    {"login", "ROOT LOGIN ON tty2", "login", "root_login", "LOGIN_SUCCESS", 2, "root", NULL,
     "\"tty\":\"tty2\""},
    {"login", "LOGIN ON tty1 BY bob", "login", "login", "LOGIN_SUCCESS", 1, "bob", NULL,
     "\"tty\":\"tty1\""},
    {"klogind",
     "Authentication failed from 163.27.187.39 (163.27.187.39): Permission denied in replay "
     "cache code ",
     "klogind", "auth_failed", "LOGIN_FAIL", 3, NULL, "163.27.187.39",
     "\"reason\":\"Permission denied in replay cache code\""},
    /* netfilter: iptables LOG, nftables log, UFW */
    {"kernel",
     "[12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 "
     "SRC=203.0.113.50 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=49 ID=54321 DF PROTO=TCP "
     "SPT=51234 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0",
     "netfilter", "ufw_block", "FIREWALL_BLOCK", 2, NULL, "203.0.113.50",
     "\"destination_ip\":\"192.0.2.10\"|\"protocol\":\"TCP\"|\"source_port\":51234|"
     "\"destination_port\":22|\"in_interface\":\"eth0\"|\"firewall\":\"ufw\""},
    {"kernel",
     "[UFW LIMIT BLOCK] IN=eth0 OUT= MAC= SRC=203.0.113.51 DST=192.0.2.10 LEN=60 "
     "PROTO=TCP SPT=1 DPT=22",
     "netfilter", "ufw_block", "FIREWALL_BLOCK", 2, NULL, "203.0.113.51",
     "\"action\":\"LIMIT BLOCK\""},
    {"kernel",
     "[UFW ALLOW] IN=eth0 OUT= MAC= SRC=198.51.100.7 DST=192.0.2.10 LEN=52 "
     "PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ=1",
     "netfilter", "ufw_allow", "FIREWALL_ALLOW", 1, NULL, "198.51.100.7", "\"protocol\":\"ICMP\""},
    {"kernel", "[UFW AUDIT] IN=lo OUT= MAC= SRC=127.0.0.1 DST=127.0.0.1 PROTO=UDP SPT=1 DPT=2",
     "netfilter", "ufw_other", "FIREWALL_LOG", 1, NULL, "127.0.0.1", "\"action\":\"AUDIT\""},
    {"kernel",
     "IPTables-Dropped: IN=eth0 OUT= MAC= SRC=2001:db8::5 DST=2001:db8::1 LEN=80 TC=0 "
     "HOPLIMIT=64 FLOWLBL=0 PROTO=UDP SPT=5353 DPT=53 LEN=40",
     "netfilter", "prefix_block", "FIREWALL_BLOCK", 2, NULL, "2001:db8::5",
     "\"log_prefix\":\"IPTables-Dropped:\"|\"destination_port\":53"},
    {"kernel", "nft input reject IN=eth1 OUT= SRC=192.0.2.99 DST=192.0.2.1 PROTO=TCP SPT=3 DPT=4",
     "netfilter", "prefix_block", "FIREWALL_BLOCK", 2, NULL, "192.0.2.99", NULL},
    {"kernel", "ACCEPT-SSH: IN=eth0 OUT= SRC=192.0.2.98 DST=192.0.2.1 PROTO=TCP SPT=3 DPT=22",
     "netfilter", "prefix_allow", "FIREWALL_ALLOW", 1, NULL, "192.0.2.98", NULL},
    {"kernel", "IN=eth0 OUT=eth1 SRC=10.0.0.5 DST=10.0.1.5 LEN=40 PROTO=TCP SPT=80 DPT=9",
     "netfilter", "packet", "FIREWALL_LOG", 1, NULL, "10.0.0.5", "\"out_interface\":\"eth1\""},
    /* nginx and Apache through syslog */
    {"nginx",
     "203.0.113.9 - bob [07/Dec/2026:08:00:00 +0000] \"GET /admin/login.php?x=1 HTTP/1.1\" 404 "
     "153 \"-\" \"Mozilla/5.0 (zgrab)\" 0.004",
     "nginx", "access", "http_request", 1, "bob", "203.0.113.9",
     "\"bytes\":153|\"http_version\":\"1.1\""},
    {"nginx",
     "2026/12/07 08:00:00 [error] 123#0: *7 open() \"/var/www/x\" failed (2: No such file or "
     "directory), client: 203.0.113.9, server: _, request: \"GET /x HTTP/1.1\", host: \"web1\"",
     "nginx", "error", "http_error", 1, NULL, "203.0.113.9", "\"pid\":123|\"level\":\"error\""},
    {"apache2",
     "example.org:443 198.51.100.1 - - [07/Dec/2026:08:00:00 +0000] \"POST /wp-login.php "
     "HTTP/1.1\" 200 4523 \"https://example.org/\" \"curl/8.0\" 1532",
     "apache", "access", "http_request", 1, NULL, "198.51.100.1",
     "\"vhost\":\"example.org\"|\"duration_us\":1532|\"referrer\":\"https://example.org/\""},
    {"httpd",
     "[Mon Dec 07 08:00:00.123456 2026] [core:error] [pid 1234:tid 5678] [client "
     "192.0.2.5:5555] AH00126: Invalid URI in request GET /../../etc/passwd HTTP/1.1",
     "apache", "error", "http_error", 1, NULL, "192.0.2.5", "\"code\":\"AH00126\"|\"port\":5555"},
    {"ftpd", "ANONYMOUS FTP LOGIN FROM 84.102.20.2,  (anonymous)", "ftpd", "anonymous_login",
     "LOGIN_SUCCESS", 1, "anonymous", "84.102.20.2", NULL},
    {"vsftpd", "FTP LOGIN FROM 192.0.2.1 [host], bob", "ftpd", "login", "LOGIN_SUCCESS", 1, "bob",
     "192.0.2.1", NULL},
    {"ftpd", "FTP LOGIN FAILED FROM 192.0.2.1, bob", "ftpd", "login_failed", "LOGIN_FAIL", 3, "bob",
     "192.0.2.1", NULL},
    {"ftpd", "connection from 24.54.76.216 (24-54-76-216.bflony.adelphia.net) at Fri Jun 17",
     "ftpd", "connection", "FTPD", 1, NULL, "24.54.76.216",
     "\"rhost\":\"24-54-76-216.bflony.adelphia.net\""},
};

static void check_case(const struct dcase *c)
{
	char what[200];
	snprintf(what, sizeof(what), "%s: \"%.120s\"", c->app, c->msg);
	int rc = dec(c->app, c->msg);
	if (rc != 1)
		fail_msg("%s: decode_auth = %d", what, rc);
	if (!EX.decoder || strcmp(EX.decoder, c->decoder) || strcmp(EX.pattern, c->pattern))
		fail_msg("%s: matched %s.%s, want %s.%s", what, EX.decoder ? EX.decoder : "-",
			 EX.pattern ? EX.pattern : "-", c->decoder, c->pattern);
	if (!sv_eq(EV.event_type, c->type))
		fail_msg("%s: type %.*s want %s", what, (int)EV.event_type.n, EV.event_type.p,
			 c->type);
	if (EV.severity != c->sev)
		fail_msg("%s: severity %d want %d", what, EV.severity, c->sev);
	const char *u = c->user ? c->user : "system";
	if (!sv_eq(EV.user, u))
		fail_msg("%s: user \"%.*s\" want \"%s\"", what, (int)EV.user.n, EV.user.p, u);
	if (c->ip) {
		if (!(EV.flags & EV_HAS_IP) || !sv_eq(EV.source_ip, c->ip))
			fail_msg("%s: source_ip \"%.*s\" want %s", what,
				 EV.source_ip.p ? (int)EV.source_ip.n : 0,
				 EV.source_ip.p ? EV.source_ip.p : "", c->ip);
		uint8_t ip[16];
		assert_int_equal(ip_parse(c->ip, strlen(c->ip), ip), 0);
		assert_memory_equal(EV.ip, ip, 16);
	} else if (EV.flags & EV_HAS_IP) {
		fail_msg("%s: unexpected source_ip %.*s", what, (int)EV.source_ip.n,
			 EV.source_ip.p);
	}
	check_data(what, EV.data, c->data);
	if (EV.user.p && EV.user.p[EV.user.n] != '\0')
		fail_msg("%s: user not NUL-terminated", what);
}

static void test_patterns(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}

/* Every pattern of the built-in decoders has a case above. */
static int has_case(void *arg, const char *decoder, const char *file, const char *pattern)
{
	(void)arg;
	assert_non_null(file);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(cases[i].decoder, decoder) && !strcmp(cases[i].pattern, pattern))
			return 0;
	fail_msg("pattern %s.%s has no test case", decoder, pattern);
	return -1;
}

static void test_every_pattern_covered(void **state)
{
	(void)state;
	assert_int_equal(decode_each_pattern(has_case, NULL), 0);
}

static void test_unknown_program(void **state)
{
	(void)state;
	assert_int_equal(dec("kernel", "Failed password for root from 1.2.3.4 port 1 ssh2"), 0);
	assert_true(sv_eq(EV.event_type, "SYSLOG"));
	assert_true(sv_eq(EV.user, "system"));
	assert_null(EV.data.p);
	assert_false(EV.flags & EV_HAS_IP);
	assert_null(EX.decoder);
	assert_null(EX.pattern);
	assert_int_equal(dec(NULL, "x"), 0);
	assert_int_equal(dec("sshd", NULL), 0);
	assert_int_equal(dec("sshd", ""), 0);
	assert_int_equal(dec("", "x"), 0);
	/* A pam line from a program without a decoder that no pam pattern knows. */
	assert_int_equal(dec("cron(pam_unix)", "something else"), 0);
	/* Paths and pam suffixes route by the program's own name. */
	assert_int_equal(dec("/usr/sbin/sshd", "Invalid user x from 1.2.3.4"), 1);
	assert_true(sv_eq(EV.event_type, "LOGIN_FAIL"));
	assert_int_equal(dec("sshd(pam_unix)", "Received disconnect from 1.2.3.4: 11: x"), 1);
	assert_string_equal(EX.pattern, "received_disconnect");
	assert_int_equal(decode_auth(&EV, &A, NULL), 1); /* ex is optional */
}

static void test_repeated(void **state)
{
	(void)state;
	assert_int_equal(dec("sshd", "message repeated 2 times: [ Failed password for root from "
				     "183.62.140.253 port 47460 ssh2]"),
			 1);
	assert_true(sv_eq(EV.event_type, "LOGIN_FAIL"));
	assert_true(sv_eq(EV.user, "root"));
	assert_true(sv_eq(EV.source_ip, "183.62.140.253"));
	check_data("repeated", EV.data, "\"repeated\":2|\"port\":47460");
	assert_int_equal(dec("sshd", "message repeated 3 times: [ whatever]"), 1);
	assert_true(sv_eq(EV.event_type, "SSHD"));
	check_data("repeated generic", EV.data, "\"repeated\":3");
	/* Not the reduction: left alone. */
	assert_int_equal(dec("sshd", "message repeated many times: [ Failed password for root "
				     "from 1.2.3.4 port 1 ssh2]"),
			 1);
	assert_true(sv_eq(EV.event_type, "SSHD"));
}

static void test_data_merge_and_explain(void **state)
{
	(void)state;
	memset(&EV, 0, sizeof(EV));
	EV.app = sv("sshd");
	EV.message = sv("Failed password for root from 1.2.3.4 port 22 ssh2");
	EV.data = sv("{\"syslog\":{\"pid\":1}}");
	assert_int_equal(decode_auth(&EV, &A, &EX), 1);
	assert_true(sv_eq(EV.data, "{\"syslog\":{\"pid\":1},\"port\":22,"
				   "\"method\":\"password\",\"reason\":\"wrong_password\"}"));
	assert_string_equal(EX.fields,
			    "user=root source_ip=1.2.3.4 port=22 "
			    "extra=\"method\":\"password\",\"reason\":\"wrong_password\"");
	EV.data = sv("{}");
	assert_int_equal(decode_auth(&EV, &A, &EX), 1);
	assert_true(
	    sv_eq(EV.data, "{\"port\":22,\"method\":\"password\",\"reason\":\"wrong_password\"}"));
	/* A value with a space is quoted in the explanation. */
	assert_int_equal(dec("sudo", "a : TTY=x ; PWD=/ ; USER=root ; COMMAND=/bin/cat /etc/x"), 1);
	assert_non_null(strstr(EX.fields, "command=\"/bin/cat /etc/x\""));
	/* IPv6 is canonicalized. */
	assert_int_equal(dec("sshd", "Invalid user x from 2001:DB8:0:0::1"), 1);
	assert_true(sv_eq(EV.source_ip, "2001:db8::1"));
}

/* Access logs fill the event's HTTP fields, not data. */
static void test_http_fields(void **state)
{
	(void)state;
	assert_int_equal(dec("nginx", "203.0.113.9 - - [07/Dec/2026:08:00:00 +0000] \"GET "
				      "/a?b=c HTTP/2.0\" 302 0 \"-\" \"curl/8\" rt=1.250"),
			 1);
	assert_true(sv_eq(EV.http_method, "GET"));
	assert_true(sv_eq(EV.http_path, "/a?b=c"));
	assert_true(sv_eq(EV.user_agent, "curl/8"));
	assert_true(EV.flags & EV_HAS_HTTP_STATUS);
	assert_int_equal(EV.http_status, 302);
	assert_true(EV.flags & EV_HAS_LATENCY);
	assert_true(EV.latency_ms > 1249.9 && EV.latency_ms < 1250.1);
	assert_true(sv_eq(EV.user, "system"));
	assert_null(strstr(EV.data.p, "http_method"));
	/* A request line that is not one: kept whole, no method or path. */
	assert_int_equal(dec("nginx", "192.0.2.1 - - [07/Dec/2026:08:00:00 +0000] \"\\x16\\x03\" "
				      "400 157 \"-\" \"-\""),
			 1);
	assert_true(sv_eq(EV.event_type, "http_request"));
	assert_null(EV.http_method.p);
	assert_int_equal(EV.http_status, 400);
	assert_false(EV.flags & EV_HAS_LATENCY);
	/* A status that is not one stays text in data. */
	assert_int_equal(dec("nginx", "192.0.2.1 - - [07/Dec/2026:08:00:00 +0000] \"GET / "
				      "HTTP/1.1\" 999 1"),
			 1);
	assert_false(EV.flags & EV_HAS_HTTP_STATUS);
	assert_non_null(strstr(EV.data.p, "\"http_status\":\"999\""));
}

static void test_hostile(void **state)
{
	(void)state;
	/* Quotes, control characters and invalid UTF-8 in captures: data stays valid JSON. */
	static const char odd[] = "x\"y\\z\x01\xff : TTY=a\"b ; PWD=\xc3( ; USER=r\x7f ; "
				  "COMMAND=\xe2\x82 \"quoted\"\t";
	assert_int_equal(dec("sudo", odd), 1);
	assert_true(sv_eq(EV.event_type, "SUDO_ESCALATION"));
	check_data("odd", EV.data, NULL);
	assert_non_null(EV.data.p);

	/* Fuzzer find: NUL bytes in a capture made "\u0000", which JSON readers refuse. */
	static const char nul[] = "error: Received disconnect from 194.154.37.122: 3: com.jcraft."
				  "jsch.JSchException: Auth fail [p\0\0\0reauth]\r";
	memset(&EV, 0, sizeof(EV));
	EV.app = sv("sshd");
	EV.message = (struct sv){nul, sizeof(nul) - 1};
	assert_int_equal(decode_auth(&EV, &A, &EX), 1);
	assert_string_equal(EX.pattern, "received_disconnect");
	check_data("nul", EV.data,
		   "\"reason\":\"com.jcraft.jsch.JSchException: Auth fail "
		   "[p\\ufffd\\ufffd\\ufffdreauth]\"");

	/* Fuzzer find: "05" was written as the JSON number 05. */
	assert_int_equal(dec("sshd", "Received disconnect from 103.207.39.165: 05: er request. "
				     "[pr\xe5"
				     "auth]\r"),
			 1);
	check_data("leading zero", EV.data,
		   "\"code\":5,|\"reason\":\"er request. [pr\\ufffdauth]\"");

	/* Long messages built to make the lazy user match backtrack: bounded, no match. */
	size_t n = 8192;
	char *m = malloc(n + 1);
	assert_non_null(m);
	memcpy(m, "Failed password for ", 20);
	for (size_t i = 20; i < n; i++)
		m[i] = " from 1111"[i % 10];
	m[n] = '\0';
	clock_t t0 = clock();
	assert_int_equal(dec("sshd", m), 1);
	assert_true(sv_eq(EV.event_type, "SSHD") || sv_eq(EV.event_type, "LOGIN_FAIL"));
	memset(m, ' ', n);
	memcpy(m, "  ", 2);
	assert_int_equal(dec("sudo", m), 1);
	assert_true(sv_eq(EV.event_type, "SUDO"));
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);

	/* A user name longer than the cap is cut and flagged. */
	memset(m, 'u', n);
	memcpy(m, "Invalid user ", 13);
	memcpy(m + n - 15, " from 1.2.3.4 ", 14);
	m[n - 1] = '\0';
	assert_int_equal(dec("sshd", m), 1);
	assert_true(sv_eq(EV.event_type, "LOGIN_FAIL"));
	assert_int_equal(EV.user.n, EV_CAP_SHORT);
	assert_true(EV.flags & EV_TRUNC_OTHER);
	free(m);

	/* Data near its cap is not grown past it. */
	char *big = malloc(EV_CAP_DATA);
	assert_non_null(big);
	memset(big, ' ', EV_CAP_DATA);
	big[0] = '{';
	big[EV_CAP_DATA - 1] = '}';
	memset(&EV, 0, sizeof(EV));
	EV.app = sv("sshd");
	EV.message = sv("Invalid user x from 1.2.3.4 port 9");
	EV.data = (struct sv){big, EV_CAP_DATA};
	assert_int_equal(decode_auth(&EV, &A, &EX), 1);
	assert_true(EV.data.p == big);
	assert_true(EV.flags & EV_TRUNC_DATA);
	free(big);
}

static void *thread_main(void *arg)
{
	(void)arg;
	struct arena a;
	long ok = 0;
	arena_init(&a, 0);
	for (int i = 0; i < 2000; i++) {
		struct event ev = {0};
		ev.app = sv("sshd");
		ev.message = sv("Failed password for root from 1.2.3.4 port 22 ssh2");
		if (decode_auth(&ev, &a, NULL) == 1 && sv_eq(ev.user, "root"))
			ok++;
		if (i % 100 == 0)
			arena_reset(&a);
	}
	arena_release(&a);
	return (void *)ok;
}

static void test_threads_and_reinit(void **state)
{
	(void)state;
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_int_equal((long)r, 2000);
	}
	/* Release and init again; decode_auth initializes on first use too. */
	decode_release();
	decode_release();
	assert_int_equal(dec("sshd", "Invalid user x from 1.2.3.4"), 1);
	assert_int_equal(decode_init(), 0);
	assert_int_equal(decode_init(), 0);
	assert_int_equal(dec("sshd", "Invalid user x from 1.2.3.4"), 1);
}

/* ---- real samples ---- */

static const char *data_dir(void)
{
	return test_data_dir("loghub/SOURCE.md");
}

static char **read_lines(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	size_t cap = 4096, k = 0;
	char **v = malloc(cap * sizeof(*v)), *l = NULL;
	size_t lc = 0;
	ssize_t r;
	while ((r = getline(&l, &lc, f)) >= 0) {
		if (k == cap)
			v = realloc(v, (cap *= 2) * sizeof(*v));
		v[k++] = strndup(l, (size_t)r);
	}
	free(l);
	fclose(f);
	*n = k;
	return v;
}

static void free_lines(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* One CSV record (RFC 4180 quoting) into at most max fields, in place. */
static int csv_fields(char *s, char **f, int max)
{
	int k = 0;
	char *o = s;
	while (k < max) {
		f[k++] = o;
		if (*s == '"') {
			s++;
			for (;;) {
				if (!*s)
					break;
				if (*s == '"' && s[1] == '"') {
					*o++ = '"';
					s += 2;
				} else if (*s == '"') {
					s++;
					break;
				} else {
					*o++ = *s++;
				}
			}
		} else {
			while (*s && *s != ',' && *s != '\r' && *s != '\n')
				*o++ = *s++;
		}
		if (*s != ',') {
			*o = '\0';
			break;
		}
		*o++ = '\0';
		s++;
	}
	return k;
}

/* Fill the "<*>" of a loghub template from a line's content: caps[i] is the i-th. */
static bool tmpl_match(const char *t, const char *s, char caps[][128], int *ncap)
{
	const char *w = strstr(t, "<*>");
	if (!w)
		return !strcmp(t, s);
	size_t lit = (size_t)(w - t);
	if (strncmp(t, s, lit))
		return false;
	s += lit;
	t = w + 3;
	int k = (*ncap)++;
	for (size_t len = 0; len <= strlen(s); len++) { /* shortest first */
		if (tmpl_match(t, s + len, caps, ncap)) {
			snprintf(caps[k], 128, "%.*s", (int)len, s);
			return true;
		}
		*ncap = k + 1;
	}
	(*ncap)--;
	return false;
}

struct sample {
	char **lines, **rows;
	size_t n, nrows;
};

static void parse_line(const char *line, struct event *ev, struct decode_explain *ex)
{
	char err[256];
	const struct logline_ctx ctx = {.source = "test"};
	int rc =
	    logline_to_event(FMT_AUTH, line, strlen(line), &ctx, NOW, ev, &A, err, sizeof(err), ex);
	if (rc)
		fail_msg("\"%s\": %s", line, err);
}

static void test_openssh_sample(void **state)
{
	(void)state;
	const char *dir = data_dir();
	if (!dir)
		skip();
	char path[600];
	size_t n, nrows;
	snprintf(path, sizeof(path), "%s/loghub/OpenSSH/OpenSSH_2k.log", dir);
	char **lines = read_lines(path, &n);
	snprintf(path, sizeof(path), "%s/loghub/OpenSSH/OpenSSH_2k.log_structured.csv", dir);
	char **rows = read_lines(path, &nrows);
	assert_int_equal(n, 2000);
	assert_int_equal(nrows, 2001);

	int failed_password = 0, e9 = 0, e10 = 0, e14 = 0, invalid = 0, accepted = 0, pam = 0;
	int login_fail = 0, want_login_fail = 0, probe = 0;
	for (size_t i = 0; i < n; i++) {
		char *f[9], caps[8][128];
		int nc = 0;
		assert_int_equal(csv_fields(rows[i + 1], f, 9), 9);
		const char *content = f[6], *id = f[7], *tmpl = f[8];
		struct event ev;
		struct decode_explain ex;
		arena_reset(&A);
		parse_line(lines[i], &ev, &ex);
		char what[300];
		snprintf(what, sizeof(what), "OpenSSH line %zu (%s): %s", i + 1, id, content);
		if (!sv_eq(ev.message, content) &&
		    !(ev.message.n == strlen(content) + 1 && ev.message.p[ev.message.n - 1] == ' '))
			fail_msg("%s: message \"%.*s\"", what, (int)ev.message.n, ev.message.p);
		assert_true(sv_eq(ev.source_host, "LabSZ"));
		assert_true(sv_eq(ev.app, "sshd"));
		if (!tmpl_match(tmpl, content, caps, &nc))
			fail_msg("%s: template %s does not fit", what, tmpl);
		for (int k = 0; k < nc; k++) /* "rhost=<*> user=" has two spaces in the log */
			for (size_t e = strlen(caps[k]); e > 0 && caps[k][e - 1] == ' '; e--)
				caps[k][e - 1] = '\0';
		if (sv_eq(ev.event_type, "LOGIN_FAIL"))
			login_fail++;

		const char *user = NULL, *ip = NULL, *type = NULL;
		if (!strcmp(id, "E9") || !strcmp(id, "E10") || !strcmp(id, "E8")) {
			user = caps[0], ip = caps[1], type = "LOGIN_FAIL";
			e9 += !strcmp(id, "E9");
			e10 += !strcmp(id, "E10");
		} else if (!strcmp(id, "E14")) {
			user = "root", ip = caps[1], type = "LOGIN_FAIL", e14++;
		} else if (!strcmp(id, "E13")) {
			user = caps[0], ip = caps[1], type = "LOGIN_FAIL", invalid++;
		} else if (!strcmp(id, "E1")) {
			user = caps[0], ip = caps[1], type = "LOGIN_SUCCESS", accepted++;
		} else if (!strcmp(id, "E20")) {
			/* PAM's line of an attempt sshd logs as "Failed password": its own type */
			user = caps[3], ip = caps[2], type = "PAM_AUTH_FAIL", pam++;
		} else if (!strcmp(id, "E19")) {
			ip = caps[2], type = "PAM_AUTH_FAIL", pam++;
		} else if (!strcmp(id, "E21") || !strcmp(id, "E15") || !strcmp(id, "E16") ||
			   !strcmp(id, "E17")) {
			type = "PAM_AUTH_FAIL";
		} else if (!strcmp(id, "E4") || !strcmp(id, "E5")) {
			type = "LOGIN_FAIL";
		} else if (!strcmp(id, "E23")) {
			user = caps[0], type = "SESSION_OPEN";
		} else if (!strcmp(id, "E22")) {
			user = caps[0], type = "SESSION_CLOSE";
		} else if (!strcmp(id, "E24") || !strcmp(id, "E25") || !strcmp(id, "E2") ||
			   !strcmp(id, "E3") || !strcmp(id, "E6") || !strcmp(id, "E7")) {
			/* "Connection closed by <*> [preauth]" and friends: probing, the address */
			ip = caps[0], type = "SSH_PROBE", probe++;
		} else if (!strcmp(id, "E26") || !strcmp(id, "E27")) {
			ip = !strcmp(id, "E27") ? caps[1] : caps[0], type = "SSHD";
		} else {
			type = "SSHD";
		}
		if (!strcmp(type, "LOGIN_FAIL"))
			want_login_fail++;
		if (strstr(content, "Failed password"))
			failed_password++;
		if (!sv_eq(ev.event_type, type))
			fail_msg("%s: type %.*s want %s", what, (int)ev.event_type.n,
				 ev.event_type.p, type);
		if (user && !sv_eq(ev.user, user))
			fail_msg("%s: user \"%.*s\" want \"%s\"", what, (int)ev.user.n, ev.user.p,
				 user);
		uint8_t b[16];
		if (ip && ip_parse(ip, strlen(ip), b)) {
			/* A host name in rhost= stays in data. */
			char member[200];
			snprintf(member, sizeof(member), "\"rhost\":\"%s\"", ip);
			check_data(what, ev.data, member);
			assert_false(ev.flags & EV_HAS_IP);
		} else if (ip && !sv_eq(ev.source_ip, ip)) {
			fail_msg("%s: source_ip \"%.*s\" want \"%s\"", what,
				 ev.source_ip.p ? (int)ev.source_ip.n : 3,
				 ev.source_ip.p ? ev.source_ip.p : "N/A", ip);
		}
		/* Dec 10, no year: the latest December 10th before now. */
		assert_true(ev.ts > 1796860800LL * 1000000 - 366LL * 86400 * 1000000);
	}
	/* Counts from SOURCE.md: E9 383, E10 135, E14 2 => 520 "Failed password" lines. */
	assert_int_equal(e9, 383);
	assert_int_equal(e10, 135);
	assert_int_equal(e14, 2);
	assert_int_equal(failed_password, 520);
	assert_int_equal(invalid, 113);
	assert_int_equal(accepted, 1);
	assert_int_equal(pam, 494);
	assert_int_equal(login_fail, want_login_fail);
	free_lines(lines, n);
	free_lines(rows, nrows);
}

static void test_linux_sample(void **state)
{
	(void)state;
	const char *dir = data_dir();
	if (!dir)
		skip();
	char path[600];
	size_t n, nrows;
	snprintf(path, sizeof(path), "%s/loghub/Linux/Linux_2k.log", dir);
	char **lines = read_lines(path, &n);
	snprintf(path, sizeof(path), "%s/loghub/Linux/Linux_2k.log_structured.csv", dir);
	char **rows = read_lines(path, &nrows);
	assert_int_equal(n, 2000);
	assert_int_equal(nrows, 2001);
	int fails = 0, opened = 0, closed = 0, generic = 0, klog = 0;
	for (size_t i = 0; i < n; i++) {
		char *f[10], caps[8][128];
		assert_int_equal(csv_fields(rows[i + 1], f, 10), 10);
		const char *comp = f[5], *content = f[7];
		struct event ev;
		arena_reset(&A);
		parse_line(lines[i], &ev, NULL);
		char what[300];
		snprintf(what, sizeof(what), "Linux line %zu (%s): %s", i + 1, comp, content);
		assert_true(sv_eq(ev.source_host, "combo"));
		bool pam = strstr(comp, "(pam_unix)") != NULL;
		const char *type = NULL, *user = NULL, *ip = NULL;
		int nc = 0;
		if (pam && !strncmp(content, "authentication failure;", 23)) {
			/* PAM's lines of an attempt: the service's own line counts it. */
			type = "PAM_AUTH_FAIL";
			assert_true(
			    tmpl_match("authentication failure; logname=<*> uid=<*> euid=<*> "
				       "tty=<*> ruser=<*> rhost=<*>",
				       content, caps, &nc));
			char *u = strstr(caps[5], "  user=");
			if (u) {
				user = u + 7;
				*u = '\0';
			}
			uint8_t b[16];
			char *end = caps[5] + strlen(caps[5]);
			while (end > caps[5] && end[-1] == ' ')
				*--end = '\0';
			if (!ip_parse(caps[5], strlen(caps[5]), b))
				ip = caps[5];
			fails++;
		} else if (pam && !strcmp(content, "check pass; user unknown")) {
			type = "PAM_AUTH_FAIL", fails++;
		} else if (pam &&
			   tmpl_match("session opened for user <*> by <*>", content, caps, &nc)) {
			type = "SESSION_OPEN", user = caps[0], opened++;
		} else if (pam && (nc = 0,
				   tmpl_match("session closed for user <*>", content, caps, &nc))) {
			type = "SESSION_CLOSE", user = caps[0], closed++;
			char *end = caps[0] + strlen(caps[0]);
			while (end > caps[0] && end[-1] == ' ')
				*--end = '\0';
		} else if (!strcmp(comp, "klogind") &&
			   (nc = 0, tmpl_match("Authentication failed from <*> (<*>): <*>", content,
					       caps, &nc))) {
			type = "LOGIN_FAIL", ip = caps[0], klog++;
		}
		if (!type) {
			/* Everything else is still an event, with its program. */
			generic++;
			assert_true(ev.message.p != NULL);
			if (ev.severity != 1 && !sv_eq(ev.event_type, "LOGIN_SUCCESS"))
				fail_msg("%s: severity %d", what, ev.severity);
			continue;
		}
		if (!sv_eq(ev.event_type, type))
			fail_msg("%s: type %.*s want %s", what, (int)ev.event_type.n,
				 ev.event_type.p, type);
		if (user && !sv_eq(ev.user, user))
			fail_msg("%s: user \"%.*s\" want \"%s\"", what, (int)ev.user.n, ev.user.p,
				 user);
		if (!user && !sv_eq(ev.user, "system"))
			fail_msg("%s: user \"%.*s\"", what, (int)ev.user.n, ev.user.p);
		if (ip && !sv_eq(ev.source_ip, ip))
			fail_msg("%s: source_ip \"%.*s\" want \"%s\"", what,
				 ev.source_ip.p ? (int)ev.source_ip.n : 3,
				 ev.source_ip.p ? ev.source_ip.p : "N/A", ip);
	}
	/* From the structured CSV: 351+117+17+4 auth failures, 117 check pass (sshd) + 1
	 * (gdm) + 1 (gdm auth failure), sessions of sshd, su and login. */
	assert_int_equal(fails, 490 + 117);
	assert_int_equal(opened, 36 + 86 + 1);
	assert_int_equal(closed, 36 + 86 + 1);
	assert_int_equal(klog, 23);
	assert_int_equal(fails + opened + closed + klog + generic, 2000);
	free_lines(lines, n);
	free_lines(rows, nrows);
}

static void test_beats_sample(void **state)
{
	(void)state;
	const char *dir = data_dir();
	if (!dir)
		skip();
	static const struct {
		const char *type, *user, *ip, *app, *host, *data;
		int sev;
	} want[] = {
	    {"LOGIN_SUCCESS", "vagrant", "10.0.2.2", "sshd", "localhost",
	     "\"method\":\"publickey\"", 1},
	    {"LOGIN_SUCCESS", "vagrant", "192.168.33.1", "sshd", "localhost",
	     "\"method\":\"password\"", 1},
	    {"LOGIN_FAIL", "test", "10.0.2.2", "sshd", "localhost", "\"invalid_user\":true", 3},
	    {"LOGIN_FAIL", "root", "216.160.83.57", "sshd", "slave22", "\"port\":29160", 3},
	    {"SUDO_ESCALATION", "vagrant", NULL, "sudo", "localhost",
	     "\"target_user\":\"root\"|\"command\":\"/bin/ls\"|\"tty\":\"pts/0\"", 2},
	    {"SSH_PROBE", "system", "2.125.160.217", "sshd", "slave22",
	     "\"probe\":\"no_identification\"", 2},
	    {"SUDO_ESCALATION", "vagrant", NULL, "sudo", "localhost",
	     "\"command\":\"/bin/cat /var/log/secure\"", 2},
	    {"LOGIN_FAIL", "tsg", NULL, "sudo", "precise32",
	     "\"reason\":\"not_in_sudoers\"|\"target_user\":\"root\"", 4},
	    {"GROUP_CREATE", "system", NULL, "groupadd", "localhost",
	     "\"group\":\"apache\"|\"gid\":48", 3},
	    {"ACCOUNT_CREATE", "apache", NULL, "useradd", "localhost",
	     "\"uid\":48|\"gid\":48|\"shell\":\"/sbin/nologin\"", 4},
	    {"SESSION_OPEN", "root", NULL, "sudo", "localhost",
	     "\"by_user\":\"userauth3\"|\"service\":\"sudo-i\"", 1},
	    {"PAM", "system", NULL, "pam", "localhost", NULL, 1},
	};
	char path[600];
	size_t n1, n2;
	snprintf(path, sizeof(path), "%s/authlog/beats/test.log", dir);
	char **l1 = read_lines(path, &n1);
	snprintf(path, sizeof(path), "%s/authlog/beats/timestamp.log", dir);
	char **l2 = read_lines(path, &n2);
	assert_int_equal(n1 + n2, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n1 + n2; i++) {
		const char *line = i < n1 ? l1[i] : l2[i - n1];
		struct event ev;
		arena_reset(&A);
		parse_line(line, &ev, NULL);
		char what[300];
		snprintf(what, sizeof(what), "beats line %zu: %s", i + 1, line);
		if (!sv_eq(ev.event_type, want[i].type) || !sv_eq(ev.user, want[i].user) ||
		    !sv_eq(ev.app, want[i].app) || !sv_eq(ev.source_host, want[i].host) ||
		    ev.severity != want[i].sev)
			fail_msg("%s: got %.*s user %.*s app %.*s host %.*s sev %d", what,
				 (int)ev.event_type.n, ev.event_type.p, (int)ev.user.n, ev.user.p,
				 (int)ev.app.n, ev.app.p, (int)ev.source_host.n, ev.source_host.p,
				 ev.severity);
		if (want[i].ip ? !sv_eq(ev.source_ip, want[i].ip) : (ev.flags & EV_HAS_IP) != 0)
			fail_msg("%s: source_ip", what);
		check_data(what, ev.data, want[i].data);
		assert_true(sv_eq(ev.os_type, "LINUX"));
	}
	free_lines(l1, n1);
	free_lines(l2, n2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_patterns),
	    cmocka_unit_test(test_every_pattern_covered),
	    cmocka_unit_test(test_unknown_program),
	    cmocka_unit_test(test_repeated),
	    cmocka_unit_test(test_data_merge_and_explain),
	    cmocka_unit_test(test_http_fields),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_threads_and_reinit),
	    cmocka_unit_test(test_openssh_sample),
	    cmocka_unit_test(test_linux_sample),
	    cmocka_unit_test(test_beats_sample),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
