/* decoders.h — the auth decoder table as data: which programs route to which decoder and
 * the PCRE2 patterns each decoder tries in order. Included once, by decode.c. */
#ifndef SIEM_DECODERS_H
#define SIEM_DECODERS_H

/*
 * How a pattern turns into an event (decode.c does the rest):
 *  - a pattern matches the message anchored at its start (PCRE2_ANCHORED);
 *  - its literal prefix (the regex text before the first metacharacter) is compared with
 *    memcmp before PCRE2 runs, so most non-matching patterns cost a few nanoseconds;
 *  - named groups become fields: "user" -> event user, "ip" and "rhost" -> source_ip when
 *    they hold an address (else data[name]), every other name -> data[name], a number for
 *    the names in int_fields[] of decode.c (port, uid, ...); empty groups are skipped;
 *  - type NULL keeps the generic event type of the program (SSHD, SUDO, ...) and only
 *    extracts fields; sev 0 keeps the severity syslog gave;
 *  - extra is constant JSON members added to data; user sets a constant user.
 */
struct pattern_def {
	const char *name;  /* for --explain: "failed_password" */
	const char *type;  /* event_type, or NULL for the program's generic type */
	int sev;	   /* 1..5, or 0 to keep */
	const char *re;	   /* PCRE2, anchored */
	const char *extra; /* constant data members ("\"invalid_user\":true"), or NULL */
	const char *user;  /* constant user when the message names none, or NULL */
};

/* Pieces shared by several patterns. */
#define IP "(?<ip>[0-9A-Fa-f:.]+)"
#define PORT " port (?<port>\\d+)"
#define USERNAME "(?<user>.*?)"
#define PAM_PREFIX "(?:pam_\\w+\\((?<service>[^:)]*)(?::(?<pam_type>[^)]*))?\\):\\s*)?"

static const struct pattern_def sshd_patterns[] = {
    {"failed_invalid_user", "LOGIN_FAIL", 3,
     "Failed (?<auth_method>\\S+) for invalid user " USERNAME " from " IP PORT,
     "\"invalid_user\":true", NULL},
    {"failed", "LOGIN_FAIL", 3, "Failed (?<auth_method>\\S+) for " USERNAME " from " IP PORT, NULL,
     NULL},
    {"accepted", "LOGIN_SUCCESS", 1,
     "Accepted (?<auth_method>\\S+) for " USERNAME " from " IP PORT
     "(?: ssh2(?:: (?<key_type>\\S+) (?<key_fingerprint>\\S+))?)?",
     NULL, NULL},
    {"invalid_user", "LOGIN_FAIL", 3, "Invalid user " USERNAME " from " IP "(?:" PORT ")?\\s*$",
     "\"invalid_user\":true", NULL},
    {"closed_authenticating", "LOGIN_FAIL", 3,
     "Connection closed by authenticating user " USERNAME " " IP PORT, NULL, NULL},
    {"disconnect_authenticating", "LOGIN_FAIL", 3,
     "Disconnecting authenticating user " USERNAME " " IP PORT ": Too many authentication failures",
     "\"reason\":\"too_many_failures\"", NULL},
    {"max_auth_attempts", "LOGIN_FAIL", 3,
     "error: maximum authentication attempts exceeded for (?:invalid user )?" USERNAME
     " from " IP PORT,
     "\"reason\":\"max_auth_attempts\"", NULL},
    {"too_many_failures", "LOGIN_FAIL", 3,
     "Disconnecting(?: invalid user)?: Too many authentication failures(?: for (?:invalid "
     "user )?(?<user>\\S+))?",
     "\"reason\":\"too_many_failures\"", NULL},
    {"pam_more_failures", "LOGIN_FAIL", 3,
     "PAM (?<count>\\d+) more authentication failures?; logname=(?<logname>\\S*) "
     "uid=(?<uid>\\d*) euid=(?<euid>\\d*) tty=(?<tty>\\S*) ruser=(?<ruser>\\S*) "
     "rhost=(?<rhost>\\S*)(?:\\s+user=(?<user>\\S+))?",
     NULL, NULL},
    {"not_allowed", "LOGIN_FAIL", 3,
     "User (?<user>\\S+) from (?<rhost>\\S+) not allowed because (?<reason>.+)", NULL, NULL},
    {"pam_auth_error", "LOGIN_FAIL", 3,
     "error: PAM: Authentication failure for (?:illegal user |invalid user )?" USERNAME
     " from (?<rhost>\\S+)",
     NULL, NULL},
    /* Field extraction only: the generic SSHD event with its user and address. */
    {"closed_invalid_user", NULL, 0, "Connection closed by invalid user " USERNAME " " IP PORT,
     "\"invalid_user\":true", NULL},
    {"input_userauth_invalid", NULL, 0,
     "input_userauth_request: invalid user " USERNAME " \\[preauth\\]", "\"invalid_user\":true",
     NULL},
    {"received_disconnect", NULL, 0,
     "(?:error: )?Received disconnect from " IP "(?:" PORT
     ")?:\\s*(?<code>\\d+)?:?\\s*(?<reason>.*?)"
     "(?: \\[preauth\\])?\\s*$",
     NULL, NULL},
    {"disconnected_user", NULL, 0,
     "Disconnected from (?:user |authenticating user |invalid user )?" USERNAME " " IP PORT, NULL,
     NULL},
    {"disconnected", NULL, 0, "Disconnected from " IP PORT, NULL, NULL},
    {"closed", NULL, 0, "Connection closed by " IP "(?:" PORT ")?", NULL, NULL},
    {"reset", NULL, 0, "Connection reset by " IP "(?:" PORT ")?", NULL, NULL},
    {"no_identification", NULL, 0, "Did not receive identification string from " IP "(?:" PORT ")?",
     NULL, NULL},
    {"reverse_mapping", NULL, 0,
     "reverse mapping checking getaddrinfo for (?<rhost>\\S+) \\[" IP "\\] failed", NULL, NULL},
    {"bad_protocol", NULL, 0,
     "Bad protocol version identification '(?<banner>.*)' from " IP "(?:" PORT ")?", NULL, NULL},
};

static const struct pattern_def sudo_patterns[] = {
    {"command", "SUDO_ESCALATION", 2,
     "\\s*(?<user>\\S+) : TTY=(?<tty>\\S+) ; PWD=(?<pwd>.*?) ; USER=(?<target_user>\\S+) ;"
     "(?: GROUP=(?<target_group>\\S+) ;)?(?: TSID=(?<tsid>\\S+) ;)?(?: ENV=(?<env>.*?) ;)?"
     " COMMAND=(?<command>.*?)\\s*$",
     NULL, NULL},
    {"not_in_sudoers", "LOGIN_FAIL", 4,
     "\\s*(?<user>\\S+) : user NOT in sudoers ; TTY=(?<tty>\\S+) ; PWD=(?<pwd>.*?) ; "
     "USER=(?<target_user>\\S+) ;.*? COMMAND=(?<command>.*?)\\s*$",
     "\"reason\":\"not_in_sudoers\"", NULL},
    {"incorrect_password", "LOGIN_FAIL", 3,
     "\\s*(?<user>\\S+) : (?<attempts>\\d+) incorrect password attempts? ; TTY=(?<tty>\\S+) ;"
     " PWD=(?<pwd>.*?) ; USER=(?<target_user>\\S+) ;.*? COMMAND=(?<command>.*?)\\s*$",
     "\"reason\":\"incorrect_password\"", NULL},
    {"denied", "LOGIN_FAIL", 4,
     "\\s*(?<user>\\S+) : (?<reason>command not allowed|user NOT authorized on host|a "
     "password is required) ; TTY=(?<tty>\\S+) ; PWD=(?<pwd>.*?) ; "
     "USER=(?<target_user>\\S+) ;.*? COMMAND=(?<command>.*?)\\s*$",
     NULL, NULL},
};

static const struct pattern_def su_patterns[] = {
    {"failed", "LOGIN_FAIL", 3, "FAILED su for (?<target_user>\\S+) by (?<user>\\S+)", NULL, NULL},
    {"failed_to", "LOGIN_FAIL", 3,
     "FAILED SU \\(to (?<target_user>[^)\\s]+)\\) (?<user>\\S+) on (?<tty>\\S+)", NULL, NULL},
    {"failed_rfc3164", "LOGIN_FAIL", 3,
     "'su (?<target_user>\\S+)' failed for (?<user>\\S+) on (?<tty>\\S+)", NULL, NULL},
    {"failed_short", "LOGIN_FAIL", 3, "- (?<tty>\\S+) (?<user>[^:\\s]+):(?<target_user>\\S+)", NULL,
     NULL},
    {"success", "SU_ESCALATION", 2, "Successful su for (?<target_user>\\S+) by (?<user>\\S+)", NULL,
     NULL},
    {"success_to", "SU_ESCALATION", 2,
     "\\(to (?<target_user>[^)\\s]+)\\) (?<user>\\S+) on (?<tty>\\S+)", NULL, NULL},
    {"success_short", "SU_ESCALATION", 2, "\\+ (?<tty>\\S+) (?<user>[^:\\s]+):(?<target_user>\\S+)",
     NULL, NULL},
};

/* pam_unix and friends, from any program: "pam_unix(sshd:auth): ..." or, under a tag like
 * "sshd(pam_unix)[123]:", the same text without the prefix. */
static const struct pattern_def pam_patterns[] = {
    {"auth_failure", "LOGIN_FAIL", 3,
     PAM_PREFIX "authentication failure; logname=(?<logname>\\S*) uid=(?<uid>\\d*) "
		"euid=(?<euid>\\d*) tty=(?<tty>\\S*) ruser=(?<ruser>\\S*) "
		"rhost=(?<rhost>\\S*)(?:\\s+user=(?<user>\\S+))?",
     NULL, NULL},
    {"user_unknown", "LOGIN_FAIL", 3, PAM_PREFIX "check pass; user unknown",
     "\"reason\":\"user_unknown\"", NULL},
    {"session_opened", "SESSION_OPEN", 1,
     PAM_PREFIX "session opened for user (?<user>[^\\s(]+)(?:\\(uid=(?<uid>\\d+)\\))?"
		"(?: by (?<by_user>[^\\s(]*)(?:\\(uid=(?<by_uid>\\d+)\\))?)?",
     NULL, NULL},
    {"session_closed", "SESSION_CLOSE", 1, PAM_PREFIX "session closed for user (?<user>\\S+)", NULL,
     NULL},
    {"password_changed", "PASSWORD_CHANGE", 3, PAM_PREFIX "password changed for (?<user>\\S+)",
     NULL, NULL},
    {"auth_could_not_identify", "LOGIN_FAIL", 3,
     PAM_PREFIX "auth could not identify password for \\[(?<user>[^\\]]*)\\]", NULL, NULL},
};

/* shadow-utils: useradd, usermod, userdel, groupadd, groupdel, groupmod, gpasswd,
 * passwd, chpasswd, chage, newusers. */
static const struct pattern_def shadow_patterns[] = {
    {"new_user", "ACCOUNT_CREATE", 4,
     "new user: name=(?<user>[^,\\s]+)(?:, UID=(?<uid>\\d+))?(?:, GID=(?<gid>\\d+))?"
     "(?:, home=(?<home>[^,]*))?(?:, shell=(?<shell>[^,]*?))?(?:, from=(?<from>\\S+))?\\s*$",
     NULL, NULL},
    {"new_group", "GROUP_CREATE", 3, "new group: name=(?<group>[^,\\s]+)(?:, GID=(?<gid>\\d+))?",
     NULL, NULL},
    {"delete_user", "ACCOUNT_DELETE", 4, "delete user '(?<user>[^']+)'", NULL, NULL},
    {"remove_group", "GROUP_DELETE", 3,
     "(?:removed group '(?<group>[^']+)' owned by '(?<user>[^']+)'|group '(?<group>[^']+)' "
     "removed\\s*$)",
     NULL, NULL},
    {"add_to_admin_group", "ACCOUNT_MODIFY", 4,
     "add '(?<user>[^']+)' to group '(?<group>sudo|wheel|admin|root|adm|docker)'", NULL, NULL},
    {"add_to_group", "ACCOUNT_MODIFY", 3, "add '(?<user>[^']+)' to group '(?<group>[^']+)'", NULL,
     NULL},
    {"delete_from_group", "ACCOUNT_MODIFY", 3,
     "delete '(?<user>[^']+)' from group '(?<group>[^']+)'", NULL, NULL},
    {"user_added_to_group", "ACCOUNT_MODIFY", 3,
     "user (?<user>\\S+) added by (?<by_user>\\S+) to group (?<group>\\S+)", NULL, NULL},
    {"change_password", "PASSWORD_CHANGE", 3, "change user '(?<user>[^']+)' password", NULL, NULL},
    {"password_changed_by", "PASSWORD_CHANGE", 3,
     "password for '(?<user>[^']+)' changed by '(?<by_user>[^']+)'", NULL, NULL},
    {"change_user", "ACCOUNT_MODIFY", 3,
     "change user '(?<user>[^']+)' (?<attribute>\\S+)(?: from '(?<old>[^']*)' to "
     "'(?<new>[^']*)')?",
     NULL, NULL},
    {"lock_user", "ACCOUNT_MODIFY", 3, "(?<action>lock|unlock) user '(?<user>[^']+)' password",
     NULL, NULL},
    {"change_group", "GROUP_MODIFY", 3,
     "(?:change group '(?<group>[^']+)' (?<attribute>\\S+)|members of group (?<group>\\S+) "
     "set by (?<by_user>\\S+) to (?<members>.*))",
     NULL, NULL},
    {"password_expiry", "ACCOUNT_MODIFY", 3, "changed password expiry for (?<user>\\S+)", NULL,
     NULL},
    /* The per-file lines that come with each change: fields only. */
    {"group_added_to_file", NULL, 0,
     "group added to (?<file>\\S+): name=(?<group>[^,\\s]+)(?:, GID=(?<gid>\\d+))?", NULL, NULL},
};

static const struct pattern_def logind_patterns[] = {
    {"new_session", "SESSION_OPEN", 1,
     "New session (?<session>\\S+) of user (?<user>\\S+?)\\.?\\s*$", NULL, NULL},
    {"removed_session", "SESSION_CLOSE", 1, "Removed session (?<session>\\S+?)\\.?\\s*$", NULL,
     NULL},
    {"logged_out", NULL, 0, "Session (?<session>\\S+) logged out", NULL, NULL},
};

static const struct pattern_def login_patterns[] = {
    {"failed_login", "LOGIN_FAIL", 3,
     "FAILED LOGIN \\(?(?<count>\\d+)\\)? (?:on '(?<tty>[^']*)' |FROM (?<rhost>\\S+) )?FOR "
     "'?(?<user>[^',]+)'?, (?<reason>.*)",
     NULL, NULL},
    {"root_login", "LOGIN_SUCCESS", 2,
     "ROOT LOGIN +(?:ON|on) '?(?<tty>[^'\\s]+)'?(?: FROM (?<rhost>\\S+))?", NULL, "root"},
    {"login", "LOGIN_SUCCESS", 1, "LOGIN ON (?<tty>\\S+) BY (?<user>\\S+)(?: FROM (?<rhost>\\S+))?",
     NULL, NULL},
};

static const struct pattern_def klogind_patterns[] = {
    {"auth_failed", "LOGIN_FAIL", 3,
     "Authentication failed from " IP "(?: \\((?<rhost>[^)]*)\\))?(?::\\s*(?<reason>.*?))?\\s*$",
     NULL, NULL},
};

static const struct pattern_def ftpd_patterns[] = {
    {"anonymous_login", "LOGIN_SUCCESS", 1,
     "ANONYMOUS FTP LOGIN FROM " IP "(?: \\[[^\\]]*\\])?,\\s*\\(?(?<user>[^)\\s]*)\\)?", NULL,
     NULL},
    {"login", "LOGIN_SUCCESS", 1, "FTP LOGIN FROM " IP "(?: \\[[^\\]]*\\])?,\\s*(?<user>\\S+)",
     NULL, NULL},
    {"login_failed", "LOGIN_FAIL", 3,
     "FTP LOGIN FAILED FROM " IP "(?: \\[[^\\]]*\\])?,\\s*(?<user>\\S+)", NULL, NULL},
    {"connection", NULL, 0, "connection from " IP "(?: \\((?<rhost>[^)]*)\\))?", NULL, NULL},
};

#undef IP
#undef PORT
#undef USERNAME
#undef PAM_PREFIX

struct decoder_def {
	const char *name;
	const struct pattern_def *patterns;
	size_t n;
};

#define DEC(name, arr)                                  \
	{                                               \
		name, arr, sizeof(arr) / sizeof(arr[0]) \
	}
enum {
	DEC_SSHD,
	DEC_SUDO,
	DEC_SU,
	DEC_PAM,
	DEC_SHADOW,
	DEC_LOGIND,
	DEC_LOGIN,
	DEC_KLOGIND,
	DEC_FTPD,
	DEC_N
};
static const struct decoder_def decoder_defs[DEC_N] = {
    [DEC_SSHD] = DEC("sshd", sshd_patterns),
    [DEC_SUDO] = DEC("sudo", sudo_patterns),
    [DEC_SU] = DEC("su", su_patterns),
    [DEC_PAM] = DEC("pam", pam_patterns),
    [DEC_SHADOW] = DEC("shadow", shadow_patterns),
    [DEC_LOGIND] = DEC("systemd-logind", logind_patterns),
    [DEC_LOGIN] = DEC("login", login_patterns),
    [DEC_KLOGIND] = DEC("klogind", klogind_patterns),
    [DEC_FTPD] = DEC("ftpd", ftpd_patterns),
};
#undef DEC

/* Programs (the syslog tag without "[pid]", "(pam_unix)" or a path) and their decoder. A
 * line of one of these programs that no pattern matches keeps the generic type. */
struct program_def {
	const char *name;
	int decoder;
	const char *generic; /* event_type when no pattern matched */
};

static const struct program_def program_defs[] = {
    {"sshd", DEC_SSHD, "SSHD"},
    {"sshd-session", DEC_SSHD, "SSHD"},
    {"sshd-auth", DEC_SSHD, "SSHD"},
    {"sudo", DEC_SUDO, "SUDO"},
    {"su", DEC_SU, "SU"},
    {"pam", DEC_PAM, "PAM"},
    {"unix_chkpwd", DEC_PAM, "UNIX_CHKPWD"},
    {"useradd", DEC_SHADOW, "USERADD"},
    {"usermod", DEC_SHADOW, "USERMOD"},
    {"userdel", DEC_SHADOW, "USERDEL"},
    {"groupadd", DEC_SHADOW, "GROUPADD"},
    {"groupdel", DEC_SHADOW, "GROUPDEL"},
    {"groupmod", DEC_SHADOW, "GROUPMOD"},
    {"gpasswd", DEC_SHADOW, "GPASSWD"},
    {"passwd", DEC_SHADOW, "PASSWD"},
    {"chpasswd", DEC_SHADOW, "CHPASSWD"},
    {"chage", DEC_SHADOW, "CHAGE"},
    {"newusers", DEC_SHADOW, "NEWUSERS"},
    {"systemd-logind", DEC_LOGIND, "SYSTEMD_LOGIND"},
    {"login", DEC_LOGIN, "LOGIN"},
    {"klogind", DEC_KLOGIND, "KLOGIND"},
    {"ftpd", DEC_FTPD, "FTPD"},
    {"vsftpd", DEC_FTPD, "FTPD"},
};

/* Data fields written as JSON numbers. */
static const char *const int_fields[] = {"port",   "uid",   "euid",	"gid",
					 "by_uid", "count", "attempts", "code"};

#endif
