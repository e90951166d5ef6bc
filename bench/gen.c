/* gen.c — synthetic events that look like the real thing (sshd, sudo, Windows security
 * log, Pi-hole, JSON-lines apps), drawn from fixed pools by a weighted template table. */
#include "gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>

/* ---- random numbers ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((splitmix(s) >> 32) * n) >> 32);
}

#define PICK(s, arr) ((arr)[below((s), (uint32_t)(sizeof(arr) / sizeof((arr)[0])))])

/* ---- fixed pools ---- */

enum host_class { HC_LINUX, HC_WINDOWS, HC_PIHOLE, HC_APP, HC_N };

static const struct {
	const char *fmt;
	int count;
	enum host_class cls;
} host_spec[] = {
    {"web-%02d", 8, HC_LINUX},	     {"db-%02d", 4, HC_LINUX},
    {"cache-%02d", 2, HC_LINUX},     {"mail-%02d", 1, HC_LINUX},
    {"vpn-%02d", 1, HC_LINUX},	     {"bastion-%02d", 2, HC_LINUX},
    {"ci-runner-%02d", 3, HC_LINUX}, {"k8s-node-%02d", 6, HC_LINUX},
    {"backup-%02d", 1, HC_LINUX},    {"nas-%02d", 1, HC_LINUX},
    {"monitor-%02d", 1, HC_LINUX},   {"dc%02d", 2, HC_WINDOWS},
    {"fs%02d", 1, HC_WINDOWS},	     {"ws-finance-%02d", 3, HC_WINDOWS},
    {"ws-dev-%02d", 3, HC_WINDOWS},  {"rds%02d", 1, HC_WINDOWS},
    {"pihole-%02d", 2, HC_PIHOLE},   {"api-%02d", 6, HC_APP},
    {"worker-%02d", 2, HC_APP},
};

/* Names attackers try first; they open the user pool. */
static const char *const attack_users[] = {"root", "admin", "test", "oracle",	"ubuntu",
					   "user", "guest", "pi",   "postgres", "ftpuser"};
#define N_ATTACK_USERS 10
static const char *const first_names[] = {
    "alice",  "bob",	 "carol",  "dave",   "erin",   "frank",	 "grace",  "heidi",  "ivan",
    "judy",   "mallory", "niaj",   "olivia", "peggy",  "rupert", "sybil",  "trent",  "victor",
    "walter", "amir",	 "bianca", "chen",   "dmitri", "elena",	 "fatima", "gustav", "hana",
    "igor",   "jonas",	 "kenji",  "lena",   "marco",  "nadia",	 "oscar",  "priya",  "quentin",
    "rosa",   "sanjay",	 "tomas",  "ursula", "vera",   "wei",	 "xavier", "yara",   "zoe",
    "anders", "beatriz", "claude", "dara"};
static const char *const last_names[] = {"smith",    "garcia", "mueller", "rossi", "tanaka",
					 "kowalski", "dubois", "silva",	  "novak", "larsen"};

static struct {
	bool ready;
	char host[GEN_HOSTS][24];
	int host_by_class[HC_N][GEN_HOSTS];
	int n_by_class[HC_N];
	char user[GEN_USERS][32];
	char ip[GEN_IPS][46];
} pool;

static void pools_init(void)
{
	uint64_t s = 0x5eed0f5eed0f5eedull; /* fixed: pools are the same in every run */
	int h = 0;

	if (pool.ready)
		return;
	for (size_t i = 0; i < sizeof(host_spec) / sizeof(host_spec[0]); i++)
		for (int k = 1; k <= host_spec[i].count && h < GEN_HOSTS; k++, h++) {
			enum host_class c = host_spec[i].cls;
			snprintf(pool.host[h], sizeof(pool.host[h]), host_spec[i].fmt, k);
			pool.host_by_class[c][pool.n_by_class[c]++] = h;
		}
	for (int i = 0; i < GEN_USERS; i++) {
		if (i < N_ATTACK_USERS)
			snprintf(pool.user[i], sizeof(pool.user[i]), "%s", attack_users[i]);
		else
			snprintf(pool.user[i], sizeof(pool.user[i]), "%s.%s",
				 first_names[(i - N_ATTACK_USERS) % 49],
				 last_names[(i - N_ATTACK_USERS) / 49 % 10]);
	}
	for (int i = 0; i < GEN_IPS_PUBLIC; i++) {
		unsigned a, b;
		do {
			a = 1 + below(&s, 223);
			b = below(&s, 256);
		} while (a == 10 || a == 127 || a == 100 || (a == 172 && b >= 16 && b < 32) ||
			 (a == 192 && b == 168) || (a == 169 && b == 254));
		snprintf(pool.ip[i], sizeof(pool.ip[i]), "%u.%u.%u.%u", a, b, below(&s, 256),
			 1 + below(&s, 254));
	}
	for (int i = 0; i < GEN_IPS_LAN; i++) {
		char *o = pool.ip[GEN_IPS_PUBLIC + i];
		if (i < 250)
			snprintf(o, 46, "192.168.1.%d", i + 2);
		else
			snprintf(o, 46, "10.0.%u.%u", below(&s, 256), 1 + below(&s, 254));
	}
	for (int i = 0; i < GEN_IPS_V6; i++) {
		unsigned g[8];
		g[0] = 0x2001 + below(&s, 0xa00);
		for (int k = 1; k < 8; k++)
			g[k] = 1 + below(&s, 0xffff); /* no zero group: the text is canonical */
		snprintf(pool.ip[GEN_IPS_PUBLIC + GEN_IPS_LAN + i], 46, "%x:%x:%x:%x:%x:%x:%x:%x",
			 g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]);
	}
	pool.ready = true;
}

const char *gen_pool_ip(size_t i)
{
	pools_init();
	return i < GEN_IPS ? pool.ip[i] : "";
}

static const char *any_ip(struct gen *g)
{
	/* remote events: public IPv4 mostly, some IPv6 */
	if (below(&g->rng, 100) < 4)
		return pool.ip[GEN_IPS_PUBLIC + GEN_IPS_LAN + below(&g->rng, GEN_IPS_V6)];
	return pool.ip[below(&g->rng, GEN_IPS_PUBLIC)];
}

static const char *lan_ip(struct gen *g)
{
	return pool.ip[GEN_IPS_PUBLIC + below(&g->rng, GEN_IPS_LAN)];
}

static const char *person(struct gen *g)
{
	return pool.user[N_ATTACK_USERS + below(&g->rng, GEN_USERS - N_ATTACK_USERS)];
}

static const char *host_of(struct gen *g, enum host_class c)
{
	return pool.host[pool.host_by_class[c][below(&g->rng, (uint32_t)pool.n_by_class[c])]];
}

/* ---- ids and time ---- */

int gen_init(struct gen *g, uint64_t seed)
{
	uint64_t r[2];

	pools_init();
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	g->rng = seed;
	g->id_salt = r[0];
	g->id_tail = r[1];
	return 0;
}

/* splitmix64's finalizer: xor-shifts and odd multiplications, so a bijection on 64 bits. */
static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void gen_id(const struct gen *g, uint64_t n, uint8_t out[16])
{
	uint64_t x = mix(n ^ g->id_salt), t = mix(n + g->id_tail);

	/* the 64 bits of x go around the version nibble and the variant bits; the other 58
	 * bits only need to look random */
	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)(x >> (56 - 8 * i));
	out[6] = (uint8_t)(0x40 | ((x >> 12) & 0x0f));
	out[7] = (uint8_t)(x >> 4);
	out[8] = (uint8_t)(0x80 | (t & 0x30) | (x & 0x0f));
	for (int i = 9; i < 16; i++)
		out[i] = (uint8_t)(t >> (8 * (i - 8)));
}

void gen_id_text(const struct gen *g, uint64_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t id[16];
	int k = 0;

	gen_id(g, n, id);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[id[i] >> 4];
		out[k++] = hex[id[i] & 15];
	}
}

int64_t gen_now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void digits(char *out, int v, int width)
{
	for (int i = width - 1; i >= 0; i--, v /= 10)
		out[i] = (char)('0' + v % 10);
}

void gen_ts_text(struct gen_tscache *c, int64_t us, char *out)
{
	int64_t sec = us / 1000000;
	int frac = (int)(us % 1000000);

	if (sec != c->sec || c->prefix[0] == 0) {
		time_t t = (time_t)sec;
		struct tm tm;
		gmtime_r(&t, &tm);
		digits(c->prefix, tm.tm_year + 1900, 4);
		c->prefix[4] = '-';
		digits(c->prefix + 5, tm.tm_mon + 1, 2);
		c->prefix[7] = '-';
		digits(c->prefix + 8, tm.tm_mday, 2);
		c->prefix[10] = 'T';
		digits(c->prefix + 11, tm.tm_hour, 2);
		c->prefix[13] = ':';
		digits(c->prefix + 14, tm.tm_min, 2);
		c->prefix[16] = ':';
		digits(c->prefix + 17, tm.tm_sec, 2);
		c->prefix[19] = '.';
		c->sec = sec;
	}
	memcpy(out, c->prefix, 20);
	for (int i = 25; i >= 20; i--, frac /= 10)
		out[i] = (char)('0' + frac % 10);
	out[26] = 'Z';
}

static void syslog_time(int64_t us, char out[16])
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, 16, "%s %2d %02d:%02d:%02d", mon[tm.tm_mon], tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
}

/* ---- templates ---- */

static const char *const sudo_cmds[] = {"/usr/bin/systemctl restart nginx",
					"/usr/bin/apt-get upgrade -y",
					"/usr/bin/journalctl -u sshd --since today",
					"/bin/cat /etc/shadow",
					"/usr/bin/docker ps -a",
					"/usr/sbin/iptables -L -n",
					"/usr/bin/vim /etc/hosts",
					"/usr/bin/tail -f /var/log/syslog"};
static const char *const procs[] = {"java",   "postgres", "node",	   "python3",
				    "chrome", "mysqld",	  "elasticsearch", "dotnet"};
static const char *const win_procs[] = {
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\svchost.exe",
    "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
    "C:\\Windows\\System32\\whoami.exe",
    "C:\\Windows\\System32\\net.exe"};
static const char *const blocked[] = {"ads.doubleclick.net",	   "googleads.g.doubleclick.net",
				      "telemetry.microsoft.com",   "graph.facebook.com",
				      "app-measurement.com",	   "ssl.google-analytics.com",
				      "pixel.adsafeprotected.com", "tracking.intl.miui.com",
				      "sb.scorecardresearch.com",  "device-metrics-us.amazon.com"};
static const char *const resolved[] = {"github.com",
				       "api.github.com",
				       "deb.debian.org",
				       "www.wikipedia.org",
				       "time.cloudflare.com",
				       "fonts.gstatic.com",
				       "slack.com",
				       "zoom.us",
				       "update.googleapis.com",
				       "registry.npmjs.org"};
static const char *const apps[] = {"billing-api", "auth-service", "storefront", "admin-portal"};
static const char *const paths[] = {"/api/v1/orders/%u",	"/api/v1/invoices?page=%u",
				    "/api/v1/users/%u/profile", "/api/v1/cart/items",
				    "/api/v1/products/%u",	"/health",
				    "/api/v1/search?q=item%u",	"/api/v1/payments/%u/status"};
static const char *const agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "okhttp/4.12.0"};

struct tpl;
typedef void render_fn(struct gen *g, const struct tpl *t, struct gen_event *ev);

struct tpl {
	int weight; /* per 10,000 events */
	enum host_class cls;
	const char *os_type, *event_type, *app, *level;
	int severity;
	render_fn *render;
};

static void sshd_fail(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	bool attack = below(&g->rng, 100) < 70;
	ev->user = attack ? pool.user[below(&g->rng, N_ATTACK_USERS)] : person(g);
	snprintf(ev->source_ip, sizeof(ev->source_ip), "%s", any_ip(g));
	snprintf(ev->message, sizeof(ev->message), "Failed password for %s%s from %s port %u ssh2",
		 attack && below(&g->rng, 2) ? "invalid user " : "", ev->user, ev->source_ip,
		 1024 + below(&g->rng, 64000));
	(void)t;
}

static void sshd_ok(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char fp[44];
	for (int i = 0; i < 43; i++)
		fp[i] = b64[below(&g->rng, 64)];
	fp[43] = 0;
	ev->user = person(g);
	snprintf(ev->source_ip, sizeof(ev->source_ip), "%s", any_ip(g));
	if (below(&g->rng, 3) == 0)
		snprintf(ev->message, sizeof(ev->message),
			 "Accepted publickey for %s from %s port %u ssh2: ED25519 SHA256:%s",
			 ev->user, ev->source_ip, 1024 + below(&g->rng, 64000), fp);
	else
		snprintf(ev->message, sizeof(ev->message),
			 "Accepted password for %s from %s port %u ssh2", ev->user, ev->source_ip,
			 1024 + below(&g->rng, 64000));
	(void)t;
}

static void pam_session(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	ev->user = person(g);
	snprintf(ev->message, sizeof(ev->message),
		 "pam_unix(sshd:session): session opened for user %s(uid=%u) by (uid=0)", ev->user,
		 1000 + below(&g->rng, 500));
	(void)t;
}

static void sudo_run(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	ev->user = person(g);
	snprintf(ev->message, sizeof(ev->message),
		 "%s : TTY=pts/%u ; PWD=/home/%s ; USER=root ; COMMAND=%s", ev->user,
		 below(&g->rng, 8), ev->user, PICK(&g->rng, sudo_cmds));
	(void)t;
}

static void useradd(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	unsigned uid = 1001 + below(&g->rng, 3000);
	ev->user = person(g);
	snprintf(
	    ev->message, sizeof(ev->message),
	    "new user: name=%s, UID=%u, GID=%u, home=/home/%s, shell=/bin/bash, from=/dev/pts/%u",
	    ev->user, uid, uid, ev->user, below(&g->rng, 8));
	(void)t;
}

static void journal_vacuum(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	ev->user = person(g);
	snprintf(ev->message, sizeof(ev->message),
		 "journal files " GEN_RARE_WORD
		 " by %s: deleted %u archived journal files, freed %u.%uG",
		 ev->user, 2 + below(&g->rng, 40), below(&g->rng, 8), below(&g->rng, 10));
	(void)t;
}

static void oom_kill(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	snprintf(
	    ev->message, sizeof(ev->message),
	    "Out of memory: Killed process %u (%s) total-vm:%ukB, anon-rss:%ukB, file-rss:0kB, "
	    "shmem-rss:0kB, UID:%u pgtables:%ukB oom_score_adj:0",
	    1000 + below(&g->rng, 60000), PICK(&g->rng, procs), 1000000 + below(&g->rng, 8000000),
	    500000 + below(&g->rng, 4000000), 1000 + below(&g->rng, 100),
	    1000 + below(&g->rng, 9000));
	(void)t;
}

static void win_xml(struct gen_event *ev, int id, const char *fields)
{
	snprintf(ev->raw, sizeof(ev->raw),
		 "<Event><System><EventID>%d</EventID><Computer>%s.corp.local</Computer></System>"
		 "<EventData>%s</EventData></Event>",
		 id, ev->host, fields);
}

static void win_logon(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	int id = strcmp(t->event_type, "LOGIN_FAIL") == 0 ? 4625 : 4624;
	unsigned type = below(&g->rng, 3) ? 3 : 10;
	char xml[256];
	ev->user =
	    id == 4625 && below(&g->rng, 2) ? pool.user[below(&g->rng, N_ATTACK_USERS)] : person(g);
	snprintf(ev->source_ip, sizeof(ev->source_ip), "%s",
		 below(&g->rng, 2) ? lan_ip(g) : any_ip(g));
	snprintf(ev->message, sizeof(ev->message), "%s: %s from %s (logon type %u)",
		 id == 4625 ? "An account failed to log on"
			    : "An account was successfully logged on",
		 ev->user, ev->source_ip, type);
	snprintf(ev->data, sizeof(ev->data), "{\"EventID\":%d,\"LogonType\":%u,\"Status\":\"%s\"}",
		 id, type, id == 4625 ? "0xc000006d" : "0x0");
	snprintf(xml, sizeof(xml),
		 "<Data Name='TargetUserName'>%s</Data><Data Name='LogonType'>%u</Data>"
		 "<Data Name='IpAddress'>%s</Data>",
		 ev->user, type, ev->source_ip);
	win_xml(ev, id, xml);
}

static void win_process(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	const char *img = PICK(&g->rng, win_procs);
	char esc[160], xml[256];
	size_t k = 0;
	for (const char *p = img; *p && k + 2 < sizeof(esc); p++) {
		if (*p == '\\')
			esc[k++] = '\\';
		esc[k++] = *p;
	}
	esc[k] = 0;
	ev->user = person(g);
	snprintf(ev->message, sizeof(ev->message), "A new process has been created: %s by CORP\\%s",
		 img, ev->user);
	snprintf(ev->data, sizeof(ev->data),
		 "{\"EventID\":4688,\"NewProcessName\":\"%s\",\"NewProcessId\":\"0x%x\"}", esc,
		 0x100 + below(&g->rng, 0xf000));
	snprintf(xml, sizeof(xml),
		 "<Data Name='SubjectUserName'>%s</Data><Data Name='NewProcessName'>%s</Data>",
		 ev->user, img);
	win_xml(ev, 4688, xml);
	(void)t;
}

static void win_account(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	char xml[128];
	ev->user = person(g);
	snprintf(ev->message, sizeof(ev->message),
		 "A user account was created: CORP\\%s by CORP\\%s", ev->user, person(g));
	snprintf(ev->data, sizeof(ev->data),
		 "{\"EventID\":4720,\"TargetUserName\":\"%s\",\"TargetDomainName\":\"CORP\"}",
		 ev->user);
	snprintf(xml, sizeof(xml), "<Data Name='TargetUserName'>%s</Data>", ev->user);
	win_xml(ev, 4720, xml);
	(void)t;
}

static void dns(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	bool block = strcmp(t->event_type, "DNS_BLOCK") == 0;
	const char *domain = block ? PICK(&g->rng, blocked) : PICK(&g->rng, resolved);
	char when[16];

	ev->user = NULL;
	snprintf(ev->source_ip, sizeof(ev->source_ip), "%s", lan_ip(g));
	snprintf(ev->message, sizeof(ev->message), "%s %s for %s",
		 block ? "gravity blocked" : "query[A]", domain, ev->source_ip);
	syslog_time(ev->ts, when);
	if (block)
		snprintf(ev->raw, sizeof(ev->raw), "%s dnsmasq[%u]: gravity blocked %s is 0.0.0.0",
			 when, 800 + below(&g->rng, 50), domain);
	else
		snprintf(ev->raw, sizeof(ev->raw), "%s dnsmasq[%u]: query[A] %s from %s", when,
			 800 + below(&g->rng, 50), domain, ev->source_ip);
}

static void app_common(struct gen *g, struct gen_event *ev, const char *method, int status)
{
	static const char hex[] = "0123456789abcdef";
	unsigned n = below(&g->rng, 100000);

	ev->has_http = true;
	ev->user = person(g);
	snprintf(ev->source_ip, sizeof(ev->source_ip), "%s", any_ip(g));
	memcpy(ev->request_id, "req-", 4);
	for (int i = 4; i < 20; i++)
		ev->request_id[i] = hex[below(&g->rng, 16)];
	ev->request_id[20] = 0;
	ev->http_method = method;
	if (ev->http_path[0] == 0)
		snprintf(ev->http_path, sizeof(ev->http_path), PICK(&g->rng, paths), n);
	ev->http_status = status;
	ev->latency_ms = (double)(1 + below(&g->rng, 400)) * (1 + below(&g->rng, 4)) / 10.0;
}

static void app_http(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	static const int status[] = {200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200,
				     200, 201, 204, 304, 304, 400, 401, 404, 404, 500};
	static const char *const method[] = {"GET", "GET",  "GET",  "GET", "GET",   "GET",
					     "GET", "POST", "POST", "PUT", "DELETE"};
	int st = PICK(&g->rng, status);
	app_common(g, ev, PICK(&g->rng, method), st);
	if (below(&g->rng, 3) == 0)
		ev->user_agent = PICK(&g->rng, agents);
	ev->severity = st >= 500 ? 3 : st >= 400 ? 2 : 1;
	ev->level = st >= 500 ? "ERROR" : st >= 400 ? "WARNING" : "INFO";
	snprintf(ev->message, sizeof(ev->message), "%s %s %d %.1fms", ev->http_method,
		 ev->http_path, st, ev->latency_ms);
	(void)t;
}

static void app_oauth(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	snprintf(ev->http_path, sizeof(ev->http_path), "/auth/google/callback");
	app_common(g, ev, "POST", 401);
	ev->error_type = "invalid_grant";
	snprintf(ev->message, sizeof(ev->message),
		 "Google OAuth login failed for %s@example.com: invalid_grant (token expired)",
		 ev->user);
	snprintf(ev->data, sizeof(ev->data), "{\"provider\":\"google\",\"attempt\":%u}",
		 1 + below(&g->rng, 5));
	(void)t;
}

static void app_denied(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	unsigned id = below(&g->rng, 100000);
	snprintf(ev->http_path, sizeof(ev->http_path), "/api/v1/users/%u", id);
	app_common(g, ev, "DELETE", 403);
	ev->error_type = "permission_denied";
	snprintf(ev->message, sizeof(ev->message),
		 "permission denied: %s lacks role admin for DELETE /api/v1/users/%u", ev->user,
		 id);
	(void)t;
}

static void app_exception(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	snprintf(ev->http_path, sizeof(ev->http_path), "/api/v1/checkout");
	app_common(g, ev, "POST", 500);
	ev->error_type = "KeyError";
	snprintf(ev->message, sizeof(ev->message),
		 "unhandled exception in OrderService.checkout: KeyError: 'sku' (cart %u items)",
		 1 + below(&g->rng, 20));
	(void)t;
}

static void app_export(struct gen *g, const struct tpl *t, struct gen_event *ev)
{
	unsigned n = 10 + below(&g->rng, 5000);
	snprintf(ev->http_path, sizeof(ev->http_path), "/api/v1/transactions/export?format=csv");
	app_common(g, ev, "GET", 200);
	snprintf(ev->message, sizeof(ev->message), "user %s exported %u transactions to CSV",
		 ev->user, n);
	snprintf(ev->data, sizeof(ev->data), "{\"rows\":%u,\"format\":\"csv\"}", n);
	(void)t;
}

#define WIN_AUDIT "Microsoft-Windows-Security-Auditing"

/* The mix: roughly what a small team's Linux servers, a Windows domain, a Pi-hole and a
 * few web apps send in a day (DNS the largest share, as on a real Pi-hole); LOG_TAMPERING is the
 * one-in-ten-thousand event. Only applications send a level; local events carry no
 * source_ip and Pi-hole no user, as their agents would send them. */
static const struct tpl tpls[] = {
    {1800, HC_LINUX, "LINUX", "LOGIN_FAIL", "sshd", NULL, 3, sshd_fail},
    {700, HC_LINUX, "LINUX", "LOGIN_SUCCESS", "sshd", NULL, 1, sshd_ok},
    {500, HC_LINUX, "LINUX", "SESSION_OPEN", "sshd", NULL, 1, pam_session},
    {300, HC_LINUX, "LINUX", "SUDO_ESCALATION", "sudo", NULL, 3, sudo_run},
    {20, HC_LINUX, "LINUX", "ACCOUNT_CREATE", "useradd", NULL, 4, useradd},
    {1, HC_LINUX, "LINUX", "LOG_TAMPERING", "systemd-journald", NULL, 5, journal_vacuum},
    {30, HC_LINUX, "LINUX", "CRITICAL_ERROR", "kernel", NULL, 5, oom_kill},
    {300, HC_WINDOWS, "WINDOWS", "LOGIN_FAIL", WIN_AUDIT, NULL, 3, win_logon},
    {350, HC_WINDOWS, "WINDOWS", "LOGIN_SUCCESS", WIN_AUDIT, NULL, 1, win_logon},
    {240, HC_WINDOWS, "WINDOWS", "PROCESS_CREATE", WIN_AUDIT, NULL, 1, win_process},
    {10, HC_WINDOWS, "WINDOWS", "ACCOUNT_CREATE", WIN_AUDIT, NULL, 4, win_account},
    {1500, HC_PIHOLE, "PIHOLE", "DNS_BLOCK", "pihole-FTL", NULL, 1, dns},
    {2000, HC_PIHOLE, "PIHOLE", "DNS_QUERY", "pihole-FTL", NULL, 1, dns},
    {1729, HC_APP, "APP", "http_request", NULL, NULL, 1, app_http},
    {250, HC_APP, "APP", "auth_oauth_google_login_failed", NULL, "WARNING", 3, app_oauth},
    {200, HC_APP, "APP", "permission_denied", NULL, "WARNING", 3, app_denied},
    {40, HC_APP, "APP", "unhandled_exception", NULL, "ERROR", 4, app_exception},
    {30, HC_APP, "APP", "audit_transactions_exported", NULL, "INFO", 2, app_export},
};
#define N_TPLS (sizeof(tpls) / sizeof(tpls[0]))

static const struct tpl *pick_tpl(struct gen *g)
{
	static int total;
	int r;

	if (total == 0)
		for (size_t i = 0; i < N_TPLS; i++)
			total += tpls[i].weight;
	r = (int)below(&g->rng, (uint32_t)total);
	for (size_t i = 0; i < N_TPLS; i++) {
		if (r < tpls[i].weight)
			return &tpls[i];
		r -= tpls[i].weight;
	}
	return &tpls[0];
}

/* raw_message: what the source really wrote — a syslog line, or the app's own JSON line.
 * Templates whose source writes something else (Windows XML, dnsmasq) fill it themselves. */
static void render_raw(struct gen *g, struct gen_event *ev)
{
	char when[16], ts[GEN_TS_LEN + 1];
	struct gen_tscache c = {0};

	if (ev->raw[0])
		return;
	if (ev->has_http) {
		/* apps log milliseconds */
		gen_ts_text(&c, ev->ts, ts);
		memcpy(ts + 23, "Z", 2);
		snprintf(ev->raw, sizeof(ev->raw),
			 "{\"time\":\"%s\",\"level\":\"%s\",\"event\":\"%s\",\"request_id\":\"%s\","
			 "\"status\":%d,\"ms\":%.1f}",
			 ts, ev->level, ev->event_type, ev->request_id, ev->http_status,
			 ev->latency_ms);
		return;
	}
	syslog_time(ev->ts, when);
	snprintf(ev->raw, sizeof(ev->raw), "%s %s %s[%u]: %s", when, ev->host, ev->app,
		 100 + below(&g->rng, 60000), ev->message);
}

void gen_next(struct gen *g, struct gen_event *ev, int64_t now_us)
{
	const struct tpl *t = pick_tpl(g);

	memset(ev, 0, sizeof(*ev));
	ev->ts = now_us;
	gen_id(g, 0, ev->id);
	ev->host = host_of(g, t->cls);
	ev->os_type = t->os_type;
	ev->event_type = t->event_type;
	ev->app = t->app ? t->app : PICK(&g->rng, apps);
	ev->level = t->level;
	ev->severity = t->severity;
	ev->user = NULL;
	t->render(g, t, ev);
	render_raw(g, ev);
}

/* ---- JSON ---- */

struct jw {
	char *p;
	size_t n, cap;
	bool full;
};

static void put(struct jw *w, const char *s, size_t n)
{
	if (w->full || w->cap - w->n < n) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->n, s, n);
	w->n += n;
}

static void puts_lit(struct jw *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_str(struct jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	put(w, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put(w, e, 2);
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			put(w, e, 6);
		} else {
			put(w, (const char *)&c, 1);
		}
	}
	put(w, "\"", 1);
}

static void field(struct jw *w, const char *name, const char *val)
{
	if (!val || !val[0])
		return;
	put(w, ",\"", 2);
	puts_lit(w, name);
	put(w, "\":", 2);
	put_str(w, val);
}

static void field_num(struct jw *w, const char *name, const char *fmt, double v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), fmt, v);
	put(w, ",\"", 2);
	puts_lit(w, name);
	put(w, "\":", 2);
	put(w, num, (size_t)n);
}

size_t gen_json(const struct gen_event *ev, char *buf, size_t cap, size_t *id_off, size_t *ts_off)
{
	struct jw w = {buf, 0, cap, false};
	struct gen_tscache c = {0};
	char id[GEN_ID_LEN + 1], ts[GEN_TS_LEN + 1];

	/* the id is re-patched per use; any valid id keeps the width */
	for (int i = 0; i < GEN_ID_LEN; i++)
		id[i] = (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : '0';
	id[14] = '4';
	id[19] = '8';
	id[GEN_ID_LEN] = 0;
	gen_ts_text(&c, ev->ts, ts);
	ts[GEN_TS_LEN] = 0;

	puts_lit(&w, "{\"event_id\":\"");
	*id_off = w.n;
	put(&w, id, GEN_ID_LEN);
	puts_lit(&w, "\",\"timestamp\":\"");
	*ts_off = w.n;
	put(&w, ts, GEN_TS_LEN);
	put(&w, "\"", 1);
	field(&w, "source_host", ev->host);
	field(&w, "os_type", ev->os_type);
	field(&w, "event_type", ev->event_type);
	field_num(&w, "severity", "%.0f", ev->severity);
	field(&w, "level", ev->level);
	field(&w, "source_ip", ev->source_ip);
	field(&w, "user", ev->user);
	field(&w, "app", ev->app);
	field(&w, "message", ev->message);
	field(&w, "raw_message", ev->raw);
	if (ev->has_http) {
		field(&w, "request_id", ev->request_id);
		field(&w, "http_method", ev->http_method);
		field(&w, "http_path", ev->http_path);
		field_num(&w, "http_status", "%.0f", ev->http_status);
		field_num(&w, "latency_ms", "%.1f", ev->latency_ms);
		field(&w, "user_agent", ev->user_agent);
		field(&w, "error_type", ev->error_type);
	}
	if (ev->data[0]) {
		puts_lit(&w, ",\"data\":");
		puts_lit(&w, ev->data);
	}
	put(&w, "}", 1);
	return w.full ? 0 : w.n;
}

int gen_parse_count(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		v *= 1000, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1000000, end++;
	if (*end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

double gen_cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
