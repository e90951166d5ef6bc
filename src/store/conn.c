/* conn.c — a SQLite connection as the store opens it (private file modes, WAL and cache
 * pragmas, the text-search functions siem_text_has and siem_fts_text), and how SQLite
 * errors become the project's error codes. */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "store/store_int.h"

#define SUB "store"

int store_sql_err(sqlite3 *db, const char *what)
{
	log_error(SUB, "%s: %s", what, sqlite3_errmsg(db));
	int ext = sqlite3_extended_errcode(db);
	if ((ext & 0xff) == SQLITE_FULL)
		return -ENOSPC;
	if ((ext & 0xff) == SQLITE_BUSY || (ext & 0xff) == SQLITE_LOCKED)
		return -EBUSY;
	return SIEM_ESQL;
}

int store_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error(SUB, "'%.60s': %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return (sqlite3_extended_errcode(db) & 0xff) == SQLITE_FULL ? -ENOSPC : SIEM_ESQL;
	}
	return 0;
}

/* The text a segment's FTS index holds for an event: message, the raw line when it says
 * more, and the HTTP path. */
static void fn_fts_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *m = (const char *)sqlite3_value_text(argv[0]);
	size_t mn = (size_t)sqlite3_value_bytes(argv[0]);
	const char *r = (const char *)sqlite3_value_text(argv[1]);
	size_t rn = (size_t)sqlite3_value_bytes(argv[1]);
	const char *p = (const char *)sqlite3_value_text(argv[2]);
	size_t pn = (size_t)sqlite3_value_bytes(argv[2]);
	if (r && m && rn == mn && memcmp(r, m, mn) == 0)
		r = NULL, rn = 0;
	size_t n = (m ? mn + 1 : 0) + (r ? rn + 1 : 0) + (p ? pn : 0);
	char *out = sqlite3_malloc64(n + 1);
	if (!out) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	size_t k = 0;
	if (m) {
		memcpy(out, m, mn);
		k = mn;
		out[k++] = '\n';
	}
	if (r) {
		memcpy(out + k, r, rn);
		k += rn;
		out[k++] = '\n';
	}
	if (p) {
		memcpy(out + k, p, pn);
		k += pn;
	}
	sqlite3_result_text(ctx, out, (int)k, sqlite3_free);
}

/* siem_text_has(message, raw, path, q): every whitespace-separated term of q occurs in one
 * of the three texts, ASCII case-insensitively, anywhere (a substring). The exact check
 * behind the trigram index; PostgreSQL's siem_text LIKE answers the same (pg/pg_events.c). */
static bool has_term(const unsigned char *t, size_t tn, const unsigned char *w, size_t wn)
{
	if (!t || wn > tn)
		return false;
	int first = tolower(w[0]);
	for (size_t i = 0; i + wn <= tn; i++) {
		if (tolower(t[i]) != first)
			continue;
		size_t j = 1;
		while (j < wn && tolower(t[i + j]) == tolower(w[j]))
			j++;
		if (j == wn)
			return true;
	}
	return false;
}

static void fn_text_has(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *q = sqlite3_value_text(argv[argc - 1]);
	const unsigned char *txt[3];
	size_t len[3];
	for (int i = 0; i < 3; i++) {
		txt[i] = sqlite3_value_text(argv[i]);
		len[i] = (size_t)sqlite3_value_bytes(argv[i]);
	}
	int ok = 1;
	for (const unsigned char *p = q; ok && p && *p;) {
		while (*p && isspace(*p))
			p++;
		const unsigned char *w = p;
		while (*p && !isspace(*p))
			p++;
		size_t wn = (size_t)(p - w);
		if (wn == 0)
			break;
		ok = has_term(txt[0], len[0], w, wn) || has_term(txt[1], len[1], w, wn) ||
		     has_term(txt[2], len[2], w, wn);
	}
	sqlite3_result_int(ctx, ok);
}

/* A new database file is made 0600 before SQLite opens it: SQLite would create it 0644 less
 * the umask, and gives its -wal and -shm the mode of the main file. */
void store_create_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

int store_open_conn(const char *path, bool readonly, int cache_mb, sqlite3 **out)
{
	int flags = SQLITE_OPEN_NOMUTEX |
		    (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	sqlite3 *db = NULL;
	char sql[320];
	int rc;
	if (!readonly)
		store_create_private(path);
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		log_error(SUB, "cannot open '%s': %s", path,
			  db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return SIEM_ESQL;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	if (readonly)
		snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY;",
			 cache_mb * 1024);
	else
		snprintf(
		    sql, sizeof(sql),
		    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-%d;"
		    " PRAGMA temp_store=MEMORY; PRAGMA secure_delete=OFF;"
		    " PRAGMA journal_size_limit=67108864;",
		    cache_mb * 1024);
	if ((rc = store_exec(db, sql)) < 0)
		goto fail;
	if (sqlite3_create_function(db, "siem_text_has", 4, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, fn_text_has, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "siem_fts_text", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, fn_fts_text, NULL, NULL) != SQLITE_OK) {
		rc = store_sql_err(db, "register functions");
		goto fail;
	}
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return rc;
}
