/* sources.c — the table of source kinds a --source names, per platform (the kinds are in
 * src/source/, behind source.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

static const struct source_ops *const kinds[] = {
#ifndef _WIN32
    &src_linux_auth, &src_auditd, &src_jsonl, &src_pihole,
#ifdef AGENT_HAVE_JOURNALD
    &src_journald,
#endif
#ifdef AGENT_HAVE_EVTX
    &src_evtx,
#endif
#else
    &src_wineventlog,
#endif
};

static const char *const elsewhere[] = {"linux-auth", "auditd", "jsonl",      "journald",
					"pihole",     "evtx",	"wineventlog"};

const struct source_ops *source_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i]->kind, kind))
			return kinds[i];
	return NULL;
}

int source_init(struct source *s, const char *spec, char *err, size_t errlen)
{
	char kind[32];
	const char *colon = strchr(spec, ':');
	size_t kn = colon ? (size_t)(colon - spec) : strlen(spec);
	/* Only the first colon separates: "evtx:C:\logs" is evtx with the path C:\logs. */
	memset(s, 0, sizeof(*s));
	if (kn == 0 || kn >= sizeof(kind)) {
		snprintf(err, errlen, "invalid source '%s'", spec);
		return -EINVAL;
	}
	memcpy(kind, spec, kn);
	kind[kn] = '\0';
	if (!(s->ops = source_find(kind))) {
		for (size_t i = 0; i < sizeof(elsewhere) / sizeof(elsewhere[0]); i++)
			if (!strcmp(elsewhere[i], kind)) {
				snprintf(err, errlen,
					 "source '%s' is not available in this build "
					 "(platform or library missing)",
					 kind);
				return -EINVAL;
			}
		snprintf(err, errlen,
			 "unknown source '%s' (linux-auth[:PATH], auditd[:PATH], journald[:DIR], "
			 "pihole[:DB], "
			 "jsonl:DIR, evtx:FILE|DIR, wineventlog[:CHANNEL])",
			 kind);
		return -EINVAL;
	}
	if (!(s->spec = strdup(spec)))
		return -ENOMEM;
	s->arg = colon && colon[1] ? s->spec + kn + 1 : NULL;
	if (!s->arg && (!strcmp(kind, "jsonl") || !strcmp(kind, "evtx"))) {
		snprintf(err, errlen, "source '%s' needs a path ('%s:PATH')", kind, kind);
		free(s->spec);
		s->spec = NULL;
		return -EINVAL;
	}
	return 0;
}
