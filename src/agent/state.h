/* state.h — where each source has got to (file inode and offset, journald cursor, Pi-hole
 * id, evtx record), kept in one file of "key<TAB>value" lines replaced atomically. */
#ifndef SIEM_AGENT_STATE_H
#define SIEM_AGENT_STATE_H

#include <stdbool.h>

struct state;

/* Load path (a missing file is an empty state). path NULL: in memory only (--dry-run). */
int state_open(struct state **out, const char *path);
void state_close(struct state *st);
const char *state_get(const struct state *st, const char *key);
/* Set in memory (value NULL removes the key); state_save writes it. */
int state_set(struct state *st, const char *key, const char *value);
/* Write the file if anything changed: temporary file, fsync, rename. */
int state_save(struct state *st);

#endif
