/* sources.h — the source kinds: each file implements one struct source_ops. */
#ifndef SIEM_AGENT_SOURCES_H
#define SIEM_AGENT_SOURCES_H

#include "agent/agent.h"

#ifndef _WIN32
extern const struct source_ops src_linux_auth; /* src_file.c */
extern const struct source_ops src_jsonl;      /* src_file.c */
extern const struct source_ops src_journald;   /* journald.c */
extern const struct source_ops src_pihole;     /* src_pihole.c */
extern const struct source_ops src_evtx;       /* src_evtx.c */
#else
extern const struct source_ops src_wineventlog; /* wineventlog_win.c */
#endif

#endif
