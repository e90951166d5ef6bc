/* follow.h — one log file followed line by line, for the hub's tailer and the agent's file
 * sources: complete lines only, lines longer than a cap cut, truncation and rewrites noticed,
 * and a position (inode, offset, checksum of the bytes before) that survives restarts. No
 * symbolic link is ever followed. Followed by path (follow_open), it also moves across
 * rename rotation, reading the old file to its end first; opened from a descriptor
 * (follow_attach), its caller watches the paths (the tailer: a whole folder). */
#ifndef SIEM_SOURCE_FOLLOW_H
#define SIEM_SOURCE_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define FOLLOW_MARK 64 /* bytes before a saved position that must still be there */
#define FOLLOW_LINE_MAX ((size_t)256 << 10) /* longer lines are cut (the rest is skipped) */

struct follow;

/* Where to resume: the byte after the last line delivered in the file with inode ino. */
struct follow_pos {
	uint64_t ino;
	int64_t off;
	uint32_t mark_crc; /* CRC-32 of the mark_n bytes before off (0 bytes: a newline there) */
	uint32_t mark_n;
};

struct follow_line {
	const char *p; /* without its "\n" or "\r\n"; valid until the next follow_next */
	size_t n;
	uint64_t ino; /* the file it was read from */
	int64_t off;  /* where it starts */
	bool cut;     /* longer than line_max: its first head_max bytes, the rest skipped */
};

struct follow_opts {
	size_t line_max;	/* 0: FOLLOW_LINE_MAX */
	int64_t rotate_wait_ms; /* by path: a renamed file is read this long past its end (writers
				 * that still hold it); 0 leaves it at once (--once) */
	size_t head_max;	/* bytes of a cut line delivered (0: line_max) */
	size_t read_max;	/* bytes read at a time at most (0: 64 KiB) */
	const char *root;	/* by path: the folder it is under, which no link may lead out of
				 * (NULL: the file's own folder) */
	const char *log_as;	/* the subsystem of its log lines (NULL: "follow") */
};

/* Follow path; saved may be NULL (start at byte 0). A missing file is waited for; the file
 * the saved position is in is looked for beside path when path names another one now. */
int follow_open(struct follow **out, const char *path, const struct follow_pos *saved,
		const struct follow_opts *o);
/* Follow the open regular file fd (taken over; st is its fstat) from byte off, which must
 * follow a newline (checked at the first read). name is for log lines (kept as a pointer:
 * see follow_set_name). */
int follow_attach(struct follow **out, int fd, const struct stat *st, int64_t off, const char *name,
		  const struct follow_opts *o);
void follow_close(struct follow *f);

/* 1 and a line; 0 when there is no complete line now; negative on an error (logged; the
 * caller tries again later). */
int follow_next(struct follow *f, struct follow_line *ln);
/* The file is done (follow_attach): 1 and its unfinished last line as it is (an overlong
 * one's first bytes, cut), or 0 when it ended with a newline. */
int follow_finish(struct follow *f, struct follow_line *ln);

/* The position after the last line delivered. */
void follow_get_pos(const struct follow *f, struct follow_pos *out);
/* Its offset alone: where a line starts that is not delivered yet. */
int64_t follow_offset(const struct follow *f);
/* The next byte to read from the file (all before it read, delivered or not). */
int64_t follow_read_pos(const struct follow *f);
/* The last follow_next found nothing more in the file (not just no complete line). */
bool follow_at_end(const struct follow *f);
/* When data was last read from the file (CLOCK_MONOTONIC, ms). */
int64_t follow_last_data_ms(const struct follow *f);
/* The open file (-1: none), for its name in /proc/self/fd. */
int follow_fd(const struct follow *f);
/* The name in log lines from now on. */
void follow_set_name(struct follow *f, const char *name);

/* Followed by path: nothing is open and the path is gone (jsonl folders forget such files). */
bool follow_gone(const struct follow *f);
const char *follow_path(const struct follow *f);

/* "ino=N off=N mark=HEX/N" and back. */
int follow_pos_format(const struct follow_pos *p, char *buf, size_t n);
int follow_pos_parse(const char *s, struct follow_pos *p);

#endif
