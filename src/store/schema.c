/* schema.c — the embedded store's tables. Events live in segments ev_<n>, each with its
 * own small indices, so the indices being written stay in cache however large the store
 * grows; queries and retention work segment by segment. */
#include "schema.h"

const char *const schema_migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE segments(id INTEGER PRIMARY KEY, min_ts INTEGER NOT NULL,"
	" max_ts INTEGER NOT NULL, rows INTEGER NOT NULL DEFAULT 0,"
	" sealed INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
	"CREATE TABLE file_offsets(path TEXT PRIMARY KEY, dev INTEGER NOT NULL,"
	" ino INTEGER NOT NULL, offset INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
	"CREATE TABLE api_keys(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
	" hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, last_seen INTEGER,"
	" revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" role TEXT NOT NULL, hash TEXT NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE audit_log(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
	" client TEXT, action TEXT NOT NULL, object TEXT, detail TEXT);"
	"CREATE TABLE dead_letters(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
	" source TEXT NOT NULL, source_file TEXT, source_offset INTEGER, reason TEXT NOT NULL,"
	" raw BLOB);"
	"CREATE INDEX dead_letters_ts ON dead_letters(ts);"
	"CREATE TABLE facets(seg INTEGER NOT NULL, field INTEGER NOT NULL, value TEXT NOT NULL,"
	" count INTEGER NOT NULL, PRIMARY KEY(seg, field, value)) WITHOUT ROWID;",
};

const int schema_version = (int)(sizeof(schema_migrations) / sizeof(schema_migrations[0]));

const char *const segment_ddl =
	"CREATE TABLE ev_%1$lld(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, id BLOB NOT NULL,"
	" received_at INTEGER NOT NULL, host TEXT, os_type TEXT, event_type TEXT,"
	" severity INTEGER, level TEXT, ip BLOB, user TEXT, app TEXT, message TEXT, raw TEXT,"
	" request_id TEXT, user_agent TEXT, http_method TEXT, http_path TEXT,"
	" http_status INTEGER, latency_ms REAL, error_type TEXT, data TEXT, source TEXT,"
	" source_file TEXT, source_offset INTEGER, flags INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX ev_%1$lld_id ON ev_%1$lld(id);"
	"CREATE INDEX ev_%1$lld_ts ON ev_%1$lld(ts);"
	"CREATE INDEX ev_%1$lld_type ON ev_%1$lld(event_type, ts);"
	"CREATE INDEX ev_%1$lld_ip ON ev_%1$lld(ip, ts);"
	"CREATE INDEX ev_%1$lld_app ON ev_%1$lld(app, ts);"
	"CREATE INDEX ev_%1$lld_user ON ev_%1$lld(user, ts);"
	"CREATE INDEX ev_%1$lld_req ON ev_%1$lld(request_id) WHERE request_id IS NOT NULL;"
	"CREATE VIRTUAL TABLE ev_%1$lld_fts USING fts5(txt, content='', detail='none');";
