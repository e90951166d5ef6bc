/* follow.h — follow one log file by path, line by line, across rename rotation, copy-truncate
 * and rewrites, resuming at a saved position (inode, offset, checksum of the bytes before). */
#ifndef SIEM_SOURCE_FOLLOW_H
#define SIEM_SOURCE_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FOLLOW_MARK 64			    /* bytes before the position that must still be there */
#define FOLLOW_LINE_MAX ((size_t)256 << 10) /* longer lines are cut (the rest is skipped) */

struct follow;

/* Where to resume: the byte after the last line delivered in the file with inode ino. */
struct follow_pos {
	uint64_t ino;
	int64_t off;
	uint32_t mark_crc; /* CRC-32 of the mark_n bytes before off */
	uint32_t mark_n;
};

struct follow_line {
	const char *p; /* without its "\n" or "\r\n"; valid until the next follow_next */
	size_t n;
	uint64_t ino; /* the file it was read from */
	int64_t off;  /* where it starts */
	bool cut;     /* longer than the limit: its first bytes */
};

struct follow_opts {
	size_t line_max;	/* 0: FOLLOW_LINE_MAX */
	int64_t rotate_wait_ms; /* a renamed file is read this long past its end (writers that
				 * still hold it); 0 leaves it at once (--once) */
};

/* saved may be NULL (start at byte 0). A missing file is waited for. */
int follow_open(struct follow **out, const char *path, const struct follow_pos *saved,
		const struct follow_opts *o);
void follow_close(struct follow *f);
/* 1 and a line; 0 when there is no complete line now; negative on an error (logged; the
 * caller tries again later). */
int follow_next(struct follow *f, struct follow_line *ln);
/* The position after the last line delivered. */
void follow_get_pos(const struct follow *f, struct follow_pos *out);
/* Nothing is open and the path is gone (jsonl directories forget such files). */
bool follow_gone(const struct follow *f);
const char *follow_path(const struct follow *f);

/* "ino=N off=N mark=HEX/N" and back. */
int follow_pos_format(const struct follow_pos *p, char *buf, size_t n);
int follow_pos_parse(const char *s, struct follow_pos *p);

#endif
