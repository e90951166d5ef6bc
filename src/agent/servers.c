/* servers.c — the agent's list of hubs and the failover order over it (servers.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/servers.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* An http:// or https:// URL with a host and nothing the headers or the log could be fooled
 * by (blanks, controls). */
static const char *url_problem(const char *u, size_t n)
{
	size_t skip;
	if (n >= 7 && !strncmp(u, "http://", 7))
		skip = 7;
	else if (n >= 8 && !strncmp(u, "https://", 8))
		skip = 8;
	else
		return "is not an http:// or https:// URL";
	if (n == skip || u[skip] == '/' || u[skip] == ':')
		return "names no host";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
			return "has a blank or a control character";
	return NULL;
}

int servers_add(struct server_list *l, const char *spec, char *err, size_t errlen)
{
	struct server_list add = {0};
	int rc = 0;
	for (const char *p = spec; p && *p;) {
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p);
		const char *s = p;
		p = comma ? comma + 1 : NULL;
		while (s < e && blank(*s))
			s++;
		while (e > s && blank(e[-1]))
			e--;
		size_t n = (size_t)(e - s);
		if (!n)
			continue;
		const char *why = url_problem(s, n);
		if (why) {
			snprintf(err, errlen, "--server '%.*s' %s", (int)(n > 200 ? 200 : n), s,
				 why);
			rc = -EINVAL;
			goto out;
		}
		bool seen = false;
		for (size_t i = 0; i < l->n && !seen; i++)
			seen = strlen(l->url[i]) == n && !memcmp(l->url[i], s, n);
		for (size_t i = 0; i < add.n && !seen; i++)
			seen = strlen(add.url[i]) == n && !memcmp(add.url[i], s, n);
		if (seen)
			continue;
		if (l->n + add.n >= SERVERS_MAX) {
			snprintf(err, errlen, "more than %d --server URLs", SERVERS_MAX);
			rc = -EINVAL;
			goto out;
		}
		if (!(add.url[add.n] = malloc(n + 1))) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		memcpy(add.url[add.n], s, n);
		add.url[add.n++][n] = '\0';
	}
	for (size_t i = 0; i < add.n; i++)
		l->url[l->n++] = add.url[i];
	return 0;
out:
	servers_release(&add);
	return rc;
}

bool servers_any_plain(const struct server_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strncmp(l->url[i], "http://", 7))
			return true;
	return false;
}

void servers_release(struct server_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->url[i]);
	l->n = 0;
}

void failover_init(struct failover *f, size_t n, int64_t failback_ms)
{
	*f = (struct failover){.n = n ? n : 1, .failback_ms = failback_ms};
}

size_t failover_pick(struct failover *f, int64_t now_ms, bool *back)
{
	*back = false;
	if (f->cur != 0 && now_ms - f->left_first_ms >= f->failback_ms) {
		f->cur = 0;
		*back = true;
	}
	return f->cur;
}

void failover_ok(struct failover *f)
{
	f->fails = 0;
}

uint32_t failover_failed(struct failover *f, int64_t now_ms)
{
	if (f->cur == 0)
		f->left_first_ms = now_ms;
	f->cur = (f->cur + 1) % f->n;
	if (f->fails < UINT32_MAX)
		f->fails++;
	return (f->fails - 1) / (uint32_t)f->n;
}
