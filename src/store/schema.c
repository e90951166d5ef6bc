/* schema.c — the embedded store's tables. Events live in segment files: ingest writes the
 * active one with only its time and event_id indices; once full it is sealed and the query
 * indices and the text index are built in bulk in the background. Indices being written
 * therefore stay small and in cache however large the store grows, and retention deletes
 * whole files. */
#include "schema.h"

const char *const schema_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE api_keys(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, last_seen INTEGER,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " role TEXT NOT NULL, hash TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE audit_log(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
    " client TEXT, action TEXT NOT NULL, object TEXT, detail TEXT);",
    /* 1 -> 2: alerts and rules (src/store/store_alerts.c) */
    "CREATE TABLE alerts(id INTEGER PRIMARY KEY, rev INTEGER NOT NULL, rule_id TEXT NOT NULL,"
    " rule_title TEXT NOT NULL, rule_level TEXT, rule_author TEXT, severity INTEGER NOT NULL,"
    " group_key TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, count INTEGER NOT NULL,"
    " event_ids BLOB NOT NULL, n_events INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'open',"
    " acknowledged_by TEXT, acknowledged_at INTEGER, closed_by TEXT, closed_at INTEGER);"
    "CREATE UNIQUE INDEX alerts_rev ON alerts(rev);"
    "CREATE INDEX alerts_rule ON alerts(rule_id, id);"
    "CREATE INDEX alerts_status ON alerts(status, id);"
    "CREATE TABLE rules(id TEXT PRIMARY KEY, origin TEXT NOT NULL, yaml TEXT,"
    " enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL, created_by TEXT,"
    " updated_at INTEGER NOT NULL, updated_by TEXT);",
    /* 2 -> 3: saved dashboards of the web UI, per user (src/store/dashboards.c) */
    "CREATE TABLE dashboards(id INTEGER PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,"
    " spec TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " UNIQUE(owner, name));",
    /* 3 -> 4: login tokens end when their user's generation moves on (password change,
     * removal) or when they are logged out (src/api/tokens.c) */
    ("ALTER TABLE users ADD COLUMN token_gen INTEGER NOT NULL DEFAULT 0;"
     "CREATE TABLE revoked_tokens(sig BLOB PRIMARY KEY, exp INTEGER NOT NULL) WITHOUT ROWID;"),
    /* 4 -> 5: what an alert says (its summary) and whether old events raised it (backfill) */
    ("ALTER TABLE alerts ADD COLUMN summary TEXT;"
     "ALTER TABLE alerts ADD COLUMN backfill INTEGER NOT NULL DEFAULT 0;"),
    /* 5 -> 6: events stored from each API key and the time of the last, kept across restarts
     * (src/api/keys.c adds what it counted every few seconds and at stop) */
    ("ALTER TABLE api_keys ADD COLUMN events INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE api_keys ADD COLUMN last_event INTEGER;"),
};

const int schema_version = (int)(sizeof(schema_migrations) / sizeof(schema_migrations[0]));

const char *const segment_schema =
    "CREATE TABLE segment(id INTEGER PRIMARY KEY, min_ts INTEGER NOT NULL,"
    " max_ts INTEGER NOT NULL, rows INTEGER NOT NULL, state INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE events(seq INTEGER PRIMARY KEY" EVENT_FIELDS(
	EVENT_COL_DDL) ");"
		       "CREATE INDEX events_ts ON events(ts);"
		       "CREATE TABLE file_offsets(path TEXT PRIMARY KEY, dev INTEGER NOT NULL,"
		       " ino INTEGER NOT NULL, offset INTEGER NOT NULL, updated_at INTEGER NOT "
		       "NULL);"
		       "CREATE TABLE facets(field INTEGER NOT NULL, value TEXT NOT NULL, count "
		       "INTEGER NOT NULL,"
		       " PRIMARY KEY(field, value)) WITHOUT ROWID;"
		       "CREATE TABLE dead_letters(id INTEGER PRIMARY KEY AUTOINCREMENT,"
		       " ts INTEGER NOT NULL,"
		       " source TEXT NOT NULL, source_file TEXT, source_offset INTEGER, reason "
		       "TEXT NOT NULL,"
		       " raw BLOB);";

/* Keep in step with segment_schema: what it adds to an older file, column for column (a new
 * last row of EVENT_FIELDS is a new events column, added here to the files made before it). */
const char *const segment_migrations[] = {
    /* 0 -> 1: the API key that sent each event, apart from its client-set source */
    ("ALTER TABLE events ADD COLUMN ingest_key TEXT;"
     "ALTER TABLE events ADD COLUMN ingest_key_id INTEGER;"),
    /* 1 -> 2: q finds substrings: an indexed segment's word index becomes a trigram index
     * (rebuilt here; a segment not indexed yet gets it when it is) */
    ("DROP TABLE IF EXISTS events_fts;"
     "CREATE VIRTUAL TABLE events_fts USING fts5(txt, content='', detail='none',"
     " tokenize='trigram');"
     "INSERT INTO events_fts(rowid, txt) SELECT seq, siem_fts_text(message, raw, http_path)"
     " FROM events WHERE (SELECT state FROM segment) = 2;"),
    /* 2 -> 3: enrichment (src/enrich): geo of the source address, tags, reverse DNS name */
    ("ALTER TABLE events ADD COLUMN geo_country TEXT;"
     "ALTER TABLE events ADD COLUMN geo_country_name TEXT;"
     "ALTER TABLE events ADD COLUMN geo_city TEXT;"
     "ALTER TABLE events ADD COLUMN geo_lat REAL;"
     "ALTER TABLE events ADD COLUMN geo_lon REAL;"
     "ALTER TABLE events ADD COLUMN geo_asn INTEGER;"
     "ALTER TABLE events ADD COLUMN geo_as_org TEXT;"
     "ALTER TABLE events ADD COLUMN tags TEXT;"
     "ALTER TABLE events ADD COLUMN rdns TEXT;"),
    /* 3 -> 4: a dead letter's id is never given again once it is removed (replayed), so
     * an id a client holds names one record only */
    ("CREATE TABLE dead_letters_new(id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,"
     " source TEXT NOT NULL, source_file TEXT, source_offset INTEGER, reason TEXT NOT NULL,"
     " raw BLOB);"
     "INSERT INTO dead_letters_new SELECT id, ts, source, source_file, source_offset, reason,"
     " raw FROM dead_letters;"
     "DROP TABLE dead_letters;"
     "ALTER TABLE dead_letters_new RENAME TO dead_letters;"),
};

const int segment_version = (int)(sizeof(segment_migrations) / sizeof(segment_migrations[0]));

/* The B-tree indices a selective filter uses. */
#define SEGMENT_QUERY_INDICES                                                  \
	"CREATE INDEX IF NOT EXISTS events_type ON events(event_type, ts);"    \
	"CREATE INDEX IF NOT EXISTS events_ip ON events(ip, ts);"              \
	"CREATE INDEX IF NOT EXISTS events_app ON events(app, ts);"            \
	"CREATE INDEX IF NOT EXISTS events_user ON events(user, ts);"          \
	"CREATE INDEX IF NOT EXISTS events_country ON events(geo_country, ts)" \
	" WHERE geo_country IS NOT NULL;"                                      \
	"CREATE INDEX IF NOT EXISTS events_req ON events(request_id)"          \
	" WHERE request_id IS NOT NULL;"

const char *const segment_query_index_ddl = SEGMENT_QUERY_INDICES "PRAGMA analysis_limit=1000;"
								  "ANALYZE;";

const char *const segment_index_ddl =
    "CREATE INDEX IF NOT EXISTS events_id ON events(id);" SEGMENT_QUERY_INDICES
    "DROP TABLE IF EXISTS events_fts;"
    "CREATE VIRTUAL TABLE events_fts USING fts5(txt, content='', detail='none',"
    " tokenize='trigram');"
    "INSERT INTO events_fts(rowid, txt)"
    " SELECT seq, siem_fts_text(message, raw, http_path) FROM events;"
    "INSERT INTO events_fts(events_fts) VALUES('optimize');"
    "PRAGMA analysis_limit=1000;"
    "ANALYZE;";
