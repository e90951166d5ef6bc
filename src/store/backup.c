/* backup.c — an online backup: a consistent copy of each file of the store (VACUUM INTO),
 * checked by opening it, in the store's own layout. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "store/store_int.h"

#define SUB "store"

/* Copy one database file as of one moment, then check the copy. */
static int vacuum_into(const char *from, const char *to)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = store_open_conn(from, true, 2, &db);
	if (rc < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "VACUUM INTO ?", -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(db, "backup");
		goto out;
	}
	store_create_private(to); /* VACUUM INTO takes an empty file */
	sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_sql_err(db, "backup");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	sqlite3_close(db);
	db = NULL;
	/* The copy must open and pass a quick check. */
	if ((rc = store_open_conn(to, true, 2, &db)) < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		log_error(SUB, "backup copy '%s' fails its check", to);
		rc = SIEM_ESQL;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* snprintf that reports truncation instead of hiding it. */
static int path_fmt(char *buf, size_t len, const char *fmt, const char *a, const char *b)
{
	int n = snprintf(buf, len, fmt, a, b);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int store_backup(const char *db_path, const char *dest)
{
	char src[4096], dst[4096], from[4096], to[4096];
	int rc;
	const char *base = strrchr(db_path, '/');
	base = base ? base + 1 : db_path;
	if ((rc = path_fmt(src, sizeof(src), "%s%s", db_path, "-segments")) < 0 ||
	    (rc = path_fmt(dst, sizeof(dst), "%s/%s-segments", dest, base)) < 0)
		return rc;
	if (mkdir(dest, 0700) < 0) {
		log_error(SUB, "cannot create '%s': %s", dest, strerror(errno));
		return -errno;
	}
	/* The same layout as the live store: DEST/NAME and DEST/NAME-segments/. */
	if (mkdir(dst, 0700) < 0)
		return -errno;
	if ((rc = path_fmt(to, sizeof(to), "%s/%s", dest, base)) < 0 ||
	    (rc = vacuum_into(db_path, to)) < 0)
		return rc;
	DIR *d = opendir(src);
	if (!d)
		return -errno;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		long long id;
		char tail[8];
		if (sscanf(de->d_name, "seg-%8lld.%3s", &id, tail) != 2 ||
		    strcmp(tail, "db") != 0 || strlen(de->d_name) != 15)
			continue;
		if ((rc = path_fmt(from, sizeof(from), "%s/%s", src, de->d_name)) < 0 ||
		    (rc = path_fmt(to, sizeof(to), "%s/%s", dst, de->d_name)) < 0)
			break;
		if (access(from, F_OK) < 0)
			continue; /* removed by retention meanwhile */
		rc = vacuum_into(from, to);
	}
	closedir(d);
	return rc;
}
