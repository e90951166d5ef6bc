/* adm.c — statements on the main database connection (meta, keys, users, audit log, alerts,
 * rules, dashboards): any thread, one statement at a time under adm_mu. */
#include <stdarg.h>

#include "store/store_int.h"

int adm_prepare(struct sq_store *s, const char *sql, sqlite3_stmt **st, const char *what)
{
	*st = NULL;
	pthread_mutex_lock(&s->adm_mu);
	if (sqlite3_prepare_v2(s->adm, sql, -1, st, NULL) != SQLITE_OK)
		return store_sql_err(s->adm, what);
	return 0;
}

void adm_end(struct sq_store *s, sqlite3_stmt *st)
{
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->adm_mu);
}

int adm_each_row(struct sq_store *s, sqlite3_stmt *st, int (*row)(sqlite3_stmt *st, void *arg),
		 void *arg, const char *what)
{
	int r, rc = 0;
	while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW)
		rc = row(st, arg);
	if (rc == 0 && r != SQLITE_DONE)
		rc = store_sql_err(s->adm, what);
	return rc;
}

int adm_exec(struct sq_store *s, const char *sql,
	     int (*step)(struct sq_store *s, sqlite3_stmt *st, void *arg), void *arg,
	     const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	int rc = adm_prepare(s, sql, &st, "prepare");
	if (rc == 0) {
		va_list ap;
		va_start(ap, types);
		for (int i = 0; types[i]; i++) {
			if (types[i] == 't') {
				const char *v = va_arg(ap, const char *);
				if (v)
					sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT);
				else
					sqlite3_bind_null(st, i + 1);
			} else {
				sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
			}
		}
		va_end(ap);
		rc = step(s, st, arg);
	}
	adm_end(s, st);
	return rc;
}
