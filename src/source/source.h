/* source.h — one input of events (a log file or a folder of them, the journal, Pi-hole's
 * database, exported or live Windows event logs) behind one interface: the source reads
 * records into events, its sink keeps them and the positions the source checkpoints. */
#ifndef SIEM_SOURCE_H
#define SIEM_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct event;
struct source;

/* The settings every source is given. */
struct source_config {
	const char *host;	/* this machine: source_host of records that name none */
	bool once;		/* read what there is and stop: a rotated file is left at once */
	bool pihole_all;	/* pihole: the allowed queries too */
	size_t batch_max;	/* events per read() at most */
	int64_t pihole_ms;	/* pihole: how often the database is read */
	int64_t rotate_wait_ms; /* a renamed log file is read this long after its last line */
};

/* Where a source's events and positions go. A position is checkpointed only from commit(),
 * and the sink calls commit() only once every event read before it is safe: the agent's
 * sink when the hub has acknowledged them or they are fsync'd in its spool, then it saves
 * its state file. (The hub's JSON-lines tailer puts each file's offset in the transaction
 * of the events read before it: see tail.h.) */
struct source_sink {
	struct arena *arena; /* where read() builds its events; reset after each read() */
	/* An event read; the sink copies what it keeps. Absent in the Windows build (no
	 * jansson there): its source emits JSON. */
	int (*emit)(struct source_sink *k, struct source *s, const struct event *ev);
	/* An event as a JSON object text, without a newline. */
	int (*emit_json)(struct source_sink *k, struct source *s, const char *json, size_t n);
	/* A record that is not an event: counted and logged (rate-limited). */
	void (*reject)(struct source_sink *k, struct source *s, const char *where, const char *why);
	/* The position checkpointed under key, or NULL. */
	const char *(*saved)(struct source_sink *k, const char *key);
	/* Where the source has got to, under key; value NULL forgets key. */
	int (*checkpoint)(struct source_sink *k, const char *key, const char *value);
};

/* One kind of input. read() emits at most room events and returns how many records it
 * consumed (> 0), 0 when nothing is waiting, or a negative error; commit() checkpoints the
 * position after everything read so far. */
struct source_ops {
	const char *kind;
	int (*open)(struct source *s);
	int (*read)(struct source *s, size_t room);
	int (*commit)(struct source *s);
	void (*close)(struct source *s);
};

struct source {
	const struct source_ops *ops;
	char *spec;	 /* "kind[:arg]" */
	const char *arg; /* after "kind:", or NULL */
	void *priv;
	const struct source_config *cfg;
	struct source_sink *sink;
	int64_t poll_ms; /* how often an idle source is read */
	int64_t next_ms;
	bool idle; /* its last read found nothing */
	uint64_t n_read, n_rejected;
};

static inline int source_emit(struct source *s, const struct event *ev)
{
	return s->sink->emit(s->sink, s, ev);
}

static inline int source_emit_json(struct source *s, const char *json, size_t n)
{
	return s->sink->emit_json(s->sink, s, json, n);
}

static inline void source_reject(struct source *s, const char *where, const char *why)
{
	s->sink->reject(s->sink, s, where, why);
}

static inline const char *source_saved(struct source *s, const char *key)
{
	return s->sink->saved(s->sink, key);
}

static inline int source_checkpoint(struct source *s, const char *key, const char *value)
{
	return s->sink->checkpoint(s->sink, key, value);
}

/* The kinds, one file each (POSIX ones in the Linux builds, wineventlog in the Windows one). */
#ifndef _WIN32
extern const struct source_ops src_linux_auth; /* file_source.c */
extern const struct source_ops src_jsonl;      /* file_source.c */
extern const struct source_ops src_auditd;     /* auditd_source.c */
extern const struct source_ops src_journald;   /* journald.c (with libsystemd) */
extern const struct source_ops src_pihole;     /* pihole_source.c */
extern const struct source_ops src_evtx;       /* evtx_source.c (with libevtx) */
#else
extern const struct source_ops src_wineventlog; /* wineventlog_win.c */
#endif

#endif
