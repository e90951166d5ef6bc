/* migrate_rows.c — `minisiem migrate`: the hub-state tables copied row by row with their
 * keys (upserts: a second run overwrites what the first wrote), the dead letters of each
 * segment (with their ids; each chunk commits with its progress mark, so none is copied twice),
 * the file offsets, and the id sequences moved past what was copied. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/migrate_int.h"
#include "store/pg/pg_sql.h"

#define STATE_CHUNK 1000 /* rows per transaction */

const struct mig_table mig_state_tables[] = {
    {"meta", "key", "key,value", "tt", "key <> 'schema_version'"},
    {"api_keys", "id", "id,name,hash,created_at,last_seen,revoked,events,last_event", "ittiibii",
     NULL},
    {"users", "id", "id,name,role,hash,created_at,token_gen", "itttii", NULL},
    {"revoked_tokens", "sig", "sig,exp", "xi", NULL},
    {"audit_log", "id", "id,ts,actor,client,action,object,detail", "iittttt", NULL},
    {"rules", "id", "id,origin,yaml,enabled,created_at,created_by,updated_at,updated_by",
     "tttbitit", NULL},
    {"alerts", "id",
     "id,rev,rule_id,rule_title,rule_level,rule_author,severity,group_key,first_seen,"
     "last_seen,created_at,updated_at,count,event_ids,n_events,status,acknowledged_by,"
     "acknowledged_at,closed_by,closed_at,summary,backfill",
     "iittttitiiiiixittititb", NULL},
    {"dashboards", "id", "id,owner,name,spec,created_at,updated_at", "itttii", NULL},
};
const size_t mig_n_state = sizeof(mig_state_tables) / sizeof(mig_state_tables[0]);
const struct mig_table mig_offsets_table = {"file_offsets", "path",
					    "path,dev,ino,offset,updated_at", "tiiii", NULL};

/* The SELECT on SQLite and the upsert on PostgreSQL of table t (columns quoted). */
static int table_sql(const struct mig_table *t, char *sel, char *ins, size_t len)
{
	char cols[512] = "", vals[256] = "", set[1024] = "", col[64];
	size_t nc = 0, nv = 0, ns = 0;
	int i = 0;
	for (const char *p = t->cols; *p; i++) {
		size_t n = strcspn(p, ",");
		if (nc >= sizeof(cols) || nv >= sizeof(vals) || ns >= sizeof(set))
			return -E2BIG;
		snprintf(col, sizeof(col), "\"%.*s\"", (int)n, p);
		nc += (size_t)snprintf(cols + nc, sizeof(cols) - nc, "%s%s", i ? "," : "", col);
		nv += (size_t)snprintf(vals + nv, sizeof(vals) - nv, "%s$%d", i ? "," : "", i + 1);
		if (strncmp(p, t->key, n) != 0 || t->key[n])
			ns += (size_t)snprintf(set + ns, sizeof(set) - ns, "%s%s = excluded.%s",
					       ns ? ", " : "", col, col);
		p += n + (p[n] == ',');
	}
	if (nc >= sizeof(cols) || nv >= sizeof(vals) || ns >= sizeof(set))
		return -E2BIG;
	if ((size_t)i != strlen(t->types))
		return -EINVAL; /* a type letter per column */
	int a = snprintf(sel, len, "SELECT %s FROM %s%s%s", cols, t->name,
			 t->where ? " WHERE " : "", t->where ? t->where : "");
	int b = snprintf(ins, len, "INSERT INTO %s(%s) VALUES(%s) ON CONFLICT(\"%s\") DO %s%s",
			 t->name, cols, vals, t->key, ns ? "UPDATE SET " : "NOTHING", set);
	return a < 0 || b < 0 || (size_t)a >= len || (size_t)b >= len ? -E2BIG : 0;
}

/* Column i of the SQLite row as parameter i of the upsert; text is repaired into a malloc'd
 * copy kept in *tmp. */
static int bind_col(struct pg_params *p, sqlite3_stmt *st, int i, char type, char **tmp)
{
	*tmp = NULL;
	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		pg_p_text(p, NULL);
		return 0;
	}
	if (type == 'i') {
		pg_p_i64(p, sqlite3_column_int64(st, i));
	} else if (type == 'b') {
		pg_p_text(p, sqlite3_column_int64(st, i) ? "true" : "false");
	} else if (type == 'x') {
		const void *b = sqlite3_column_blob(st, i);
		pg_p_bytes(p, b ? b : "", (size_t)sqlite3_column_bytes(st, i));
	} else {
		const unsigned char *s = sqlite3_column_text(st, i);
		size_t n = (size_t)sqlite3_column_bytes(st, i);
		if (!(*tmp = pg_text_repair(s ? (const char *)s : "", n)))
			return -ENOMEM;
		pg_p_text(p, *tmp);
	}
	return 0;
}

static int copy_table(struct mig *m, sqlite3 *db, const struct mig_table *t, int64_t *rows)
{
	char sel[2048], ins[2048];
	sqlite3_stmt *st = NULL;
	PGconn *c = NULL;
	int rc, ncol = (int)strlen(t->types), s = SQLITE_DONE;
	int64_t n = 0;
	if ((rc = table_sql(t, sel, ins, sizeof(sel))) < 0)
		return rc;
	if (sqlite3_prepare_v2(db, sel, -1, &st, NULL) != SQLITE_OK)
		return mig_fail(m, store_sql_err(db, t->name), "cannot read table %s of the source",
				t->name);
	if ((rc = pg_conn_get(m->pg, &c)) < 0 ||
	    (rc = pg_exec(c, "BEGIN", NULL, NULL, t->name)) < 0)
		goto out;
	while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
		struct pg_params p = {0};
		char *tmp[PG_MAX_PARAMS] = {0};
		for (int i = 0; i < ncol && rc == 0; i++)
			rc = bind_col(&p, st, i, t->types[i], &tmp[i]);
		if (rc == 0)
			rc = pg_exec(c, ins, &p, NULL, t->name);
		for (int i = 0; i < ncol; i++)
			free(tmp[i]);
		if (rc == 0 && ++n % STATE_CHUNK == 0 &&
		    (rc = pg_exec(c, "COMMIT", NULL, NULL, t->name)) == 0)
			rc = pg_exec(c, "BEGIN", NULL, NULL, t->name);
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = store_sql_err(db, t->name);
	if ((rc = pg_txn_end(c, rc, t->name)) < 0)
		mig_fail(m, rc, "copying table %s failed: %s", t->name, siem_strerror(rc));
	*rows += n;
out:
	if (c)
		pg_conn_put(m->pg, c);
	sqlite3_finalize(st);
	return rc;
}

/* Move each bigserial past the largest id copied, so the next row made gets a new one. */
int mig_bump_sequences(struct mig *m)
{
	static const char *const t[] = {"api_keys", "users", "audit_log", "dashboards",
					"dead_letters"};
	char sql[256];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(sql, sizeof(sql),
			 "SELECT setval(pg_get_serial_sequence('%s', 'id'),"
			 " coalesce((SELECT max(id) FROM %s), 0) + 1, false)",
			 t[i], t[i]);
		int rc = pg_run(m->pg, sql, NULL, NULL, "sequences");
		if (rc < 0)
			return mig_fail(m, rc, "cannot move the id sequence of %s", t[i]);
	}
	return 0;
}

/* Dead letters of segment g after the last one copied, each chunk with its progress mark in
 * one transaction; each keeps its id in the store (dead_letter_id), so what a client named
 * before the move names the same record after it. */
static int copy_dead(struct mig *m, struct mig_seg *g)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	PGconn *c = NULL;
	char key[48];
	int64_t last = 0, n = 0;
	int rc, s = SQLITE_DONE;
	snprintf(key, sizeof(key), "migrate.dead.%08" PRId64, g->id);
	if ((rc = mig_meta_i64(m, key, &last)) < 0 ||
	    (rc = store_open_conn(g->path, true, 2, &db)) < 0)
		return mig_fail(m, rc, "cannot read the dead letters of '%s'", g->path);
	if (sqlite3_prepare_v2(db,
			       "SELECT id, ts, source, source_file, source_offset, reason, raw"
			       " FROM dead_letters WHERE id > ? ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = store_sql_err(db, "dead letters");
		goto out;
	}
	sqlite3_bind_int64(st, 1, last);
	if ((rc = pg_conn_get(m->pg, &c)) < 0 || (rc = pg_exec(c, "BEGIN", NULL, NULL, key)) < 0)
		goto out;
	while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
		struct pg_params p = {0};
		char *tmp[7] = {0};
		pg_p_i64(&p, dead_letter_id(g->id, sqlite3_column_int64(st, 0)));
		for (int i = 1; i < 7 && rc == 0; i++)
			rc = bind_col(&p, st, i, "iittitx"[i], &tmp[i]);
		if (rc == 0)
			rc = pg_exec(
			    c,
			    "INSERT INTO dead_letters(id, ts, source, source_file,"
			    " source_offset, reason, raw) VALUES($1, $2, $3, $4, $5, $6, $7)",
			    &p, NULL, "dead letters");
		for (int i = 0; i < 7; i++)
			free(tmp[i]);
		last = sqlite3_column_int64(st, 0);
		if (rc == 0 && ++n % STATE_CHUNK == 0 &&
		    (rc = mig_meta_set_i64(c, key, last)) == 0 &&
		    (rc = pg_exec(c, "COMMIT", NULL, NULL, key)) == 0)
			rc = pg_exec(c, "BEGIN", NULL, NULL, key);
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = store_sql_err(db, "dead letters");
	if (rc == 0)
		rc = mig_meta_set_i64(c, key, last);
	rc = pg_txn_end(c, rc, key);
	m->r->dead_letters += n;
out:
	if (rc < 0 && !m->r->msg[0])
		mig_fail(m, rc, "copying the dead letters of '%s' failed: %s", g->path,
			 siem_strerror(rc));
	if (c)
		pg_conn_put(m->pg, c);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* The file offsets: the newest segment carries every one of them forward. */
int mig_copy_offsets(struct mig *m)
{
	if (m->nseg == 0)
		return 0;
	sqlite3 *db = NULL;
	int64_t n = 0;
	int rc = store_open_conn(m->segs[m->nseg - 1].path, true, 2, &db);
	if (rc == 0)
		rc = copy_table(m, db, &mig_offsets_table, &n);
	sqlite3_close(db);
	return rc;
}

int mig_copy_state(struct mig *m)
{
	for (size_t i = 0; i < mig_n_state; i++) {
		int rc = copy_table(m, m->main, &mig_state_tables[i], &m->r->state_rows);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int mig_copy_dead_letters(struct mig *m)
{
	for (size_t i = 0; i < m->nseg; i++) {
		int rc = copy_dead(m, &m->segs[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}
