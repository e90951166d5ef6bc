/* pg_schema.c — the PostgreSQL backend's tables: versioned migrations run under an advisory
 * lock, and the events table partitioned by day on the event time.
 *
 * Times are bigint microseconds since the epoch (as in the embedded store), event ids uuid,
 * addresses the 16-byte IPv6 form as bytea (a CIDR filter is a range of those), data the
 * event's compact JSON as text (jsonb would refuse a valid "\u0000" and reorder keys). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/calendar.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "store/pg/pg_int.h"

#define SUB "postgres"

/* The events table's columns, from the field table: name and PostgreSQL type by kind. */
#define PG_TYPE_STR "text"
#define PG_TYPE_INT "integer"
#define PG_TYPE_I64 "bigint"
#define PG_TYPE_REAL "double precision"
#define PG_TYPE_TIME "bigint NOT NULL"
#define PG_TYPE_UUID "uuid NOT NULL"
#define PG_TYPE_IP "bytea"
#define PG_TYPE_DATA "text"
#define PG_TYPE_FLAGS "integer NOT NULL"
#define PG_TYPE_KEY "text"
#define PG_TYPE_KEYID "bigint"
#define PG_TYPE_TAGS "text"
#define PG_COL_DDL(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, POS, FULL, DFLT, COLUMN, T) \
	", \"" COLUMN "\" " PG_TYPE_##KIND
#define PG_COL_NAME(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, POS, FULL, DFLT, COLUMN, T) \
	",\"" COLUMN "\""

const char pg_event_cols[] = "\"seq\"" EVENT_FIELDS(PG_COL_NAME);

/* Migrations, in order; migration i moves the schema from version i to i + 1. A new one is a
 * new last entry, never an edit of a shipped one. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    "CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL);"
    "CREATE TABLE api_keys(id bigserial PRIMARY KEY, name text NOT NULL,"
    " hash text NOT NULL UNIQUE, created_at bigint NOT NULL, last_seen bigint,"
    " revoked boolean NOT NULL DEFAULT false);"
    "CREATE TABLE users(id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, role text NOT NULL,"
    " hash text NOT NULL, created_at bigint NOT NULL, token_gen bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE revoked_tokens(sig bytea PRIMARY KEY, exp bigint NOT NULL);"
    "CREATE TABLE audit_log(id bigserial PRIMARY KEY, ts bigint NOT NULL, actor text NOT NULL,"
    " client text, action text NOT NULL, object text, detail text);"
    "CREATE TABLE alerts(id bigint PRIMARY KEY, rev bigint NOT NULL UNIQUE, rule_id text NOT NULL,"
    " rule_title text NOT NULL, rule_level text, rule_author text, severity integer NOT NULL,"
    " group_key text NOT NULL, first_seen bigint NOT NULL, last_seen bigint NOT NULL,"
    " created_at bigint NOT NULL, updated_at bigint NOT NULL, count bigint NOT NULL,"
    " event_ids bytea NOT NULL, n_events bigint NOT NULL, status text NOT NULL DEFAULT 'open',"
    " acknowledged_by text, acknowledged_at bigint, closed_by text, closed_at bigint);"
    "CREATE INDEX alerts_rule ON alerts(rule_id, id);"
    "CREATE INDEX alerts_status ON alerts(status, id);"
    "CREATE INDEX alerts_created ON alerts(created_at);"
    "CREATE TABLE rules(id text PRIMARY KEY, origin text NOT NULL, yaml text,"
    " enabled boolean NOT NULL DEFAULT true, created_at bigint NOT NULL, created_by text,"
    " updated_at bigint NOT NULL, updated_by text);"
    "CREATE TABLE dashboards(id bigserial PRIMARY KEY, owner text NOT NULL, name text NOT NULL,"
    " spec text NOT NULL, created_at bigint NOT NULL, updated_at bigint NOT NULL,"
    " UNIQUE(owner, name));"
    "CREATE TABLE file_offsets(path text PRIMARY KEY, dev bigint NOT NULL, ino bigint NOT NULL,"
    " \"offset\" bigint NOT NULL, updated_at bigint NOT NULL);"
    "CREATE TABLE dead_letters(id bigserial PRIMARY KEY, ts bigint NOT NULL, source text NOT NULL,"
    " source_file text, source_offset bigint, reason text NOT NULL, raw bytea);"
    "CREATE SEQUENCE events_seq;"
    /* Events per day, kept by the writer in the transaction that stores them: /health's
     * count without counting rows. */
    "CREATE TABLE event_days(day bigint PRIMARY KEY, events bigint NOT NULL);"
    /* What q searches, ASCII lower-cased (COLLATE "C": whatever the database's locale, as
     * SQLite's check folds case), the texts apart on lines of their own; the raw line only
     * when it says more than the message (as SQLite's index has it): substrings of it are
     * found through the trigram index. */
    "CREATE FUNCTION siem_text(m text, r text, p text) RETURNS text LANGUAGE sql IMMUTABLE"
    " PARALLEL SAFE AS $$ SELECT lower((coalesce(m, '') || E'\\n' || coalesce(p, '') ||"
    " CASE WHEN r IS NULL OR r = m THEN '' ELSE E'\\n' || r END) COLLATE \"C\") $$;"
    "CREATE TABLE events(seq bigint NOT NULL DEFAULT nextval('events_seq')" EVENT_FIELDS(
	PG_COL_DDL) ") PARTITION BY RANGE (ts);"
		    "CREATE TABLE events_default PARTITION OF events DEFAULT;"
		    "CREATE UNIQUE INDEX events_id ON events(id, ts);"
		    "CREATE INDEX events_ts ON events(ts, seq);"
		    "CREATE INDEX events_type ON events(event_type, ts);"
		    "CREATE INDEX events_app ON events(app, ts);"
		    "CREATE INDEX events_host ON events(host, ts);"
		    "CREATE INDEX events_user ON events(\"user\", ts);"
		    "CREATE INDEX events_ip ON events(ip, ts);"
		    "CREATE INDEX events_req ON events(request_id) WHERE request_id IS NOT NULL;"
		    /* A larger pending list than the default 4 MB: fewer, larger merges
		     * into the trigram index under a steady insert load. */
		    "CREATE INDEX events_text ON events USING gin"
		    " (siem_text(message, raw, http_path) gin_trgm_ops)"
		    " WITH (gin_pending_list_limit = 32768);",
    /* 1 -> 2: enrichment (src/enrich): geo of the source address, tags, reverse DNS name.
     * A database made by this build has them from migration 1 (its columns come from the
     * field table). */
    ("ALTER TABLE events ADD COLUMN IF NOT EXISTS geo_country text,"
     " ADD COLUMN IF NOT EXISTS geo_country_name text, ADD COLUMN IF NOT EXISTS geo_city text,"
     " ADD COLUMN IF NOT EXISTS geo_lat double precision,"
     " ADD COLUMN IF NOT EXISTS geo_lon double precision,"
     " ADD COLUMN IF NOT EXISTS geo_asn bigint, ADD COLUMN IF NOT EXISTS geo_as_org text,"
     " ADD COLUMN IF NOT EXISTS tags text, ADD COLUMN IF NOT EXISTS rdns text;"),
    /* 2 -> 3: what an alert says (its summary) and whether old events raised it (backfill) */
    ("ALTER TABLE alerts ADD COLUMN summary text,"
     " ADD COLUMN backfill boolean NOT NULL DEFAULT false;"),
    /* 3 -> 4: events stored from each API key and the time of the last, kept across restarts */
    ("ALTER TABLE api_keys ADD COLUMN events bigint NOT NULL DEFAULT 0,"
     " ADD COLUMN last_event bigint;"),
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Any 64-bit number of our own for the advisory locks. */
#define LOCK_MIGRATE "7283546101"
#define LOCK_PARTITIONS "7283546102"

int pg_migrate(PGconn *c)
{
	PGresult *r = NULL;
	int rc, version = 0;
	if ((rc = pg_exec(c, "SELECT pg_advisory_lock(" LOCK_MIGRATE ")", NULL, NULL,
			  "migration lock")) < 0)
		return rc;
	if ((rc =
		 pg_exec(c,
			 "CREATE TABLE IF NOT EXISTS schema_migrations(version integer PRIMARY KEY,"
			 " applied_at timestamptz NOT NULL DEFAULT now())",
			 NULL, NULL, "migrations table")) < 0)
		goto out;
	if ((rc = pg_exec(c, "SELECT coalesce(max(version), 0) FROM schema_migrations", NULL, &r,
			  "schema version")) < 0)
		goto out;
	version = (int)pg_i64(r, 0, 0);
	PQclear(r);
	if (version > N_MIGRATIONS) {
		log_error(SUB, "database schema version %d is newer than this build (%d)", version,
			  N_MIGRATIONS);
		rc = SIEM_ESQL;
		goto out;
	}
	for (int v = version; v < N_MIGRATIONS; v++) {
		struct pg_params p = {0};
		pg_p_i64(&p, v + 1);
		if ((rc = pg_exec(c, "BEGIN", NULL, NULL, "migration")) < 0)
			goto out;
		if ((rc = pg_exec(c, migrations[v], NULL, NULL, "migration")) == 0)
			rc = pg_exec(c, "INSERT INTO schema_migrations(version) VALUES ($1)", &p,
				     NULL, "migration");
		if ((rc = pg_txn_end(c, rc, "migration")) < 0)
			goto out;
		log_info(SUB, "schema migrated to version %d", v + 1);
	}
out:
	pg_exec(c, "SELECT pg_advisory_unlock(" LOCK_MIGRATE ")", NULL, NULL, "migration unlock");
	return rc;
}

/* Days before now and after it that get partitions of their own; events of other days go to
 * the default partition (a burst of hostile timestamps must not make thousands of tables). */
#define PART_DAYS_BACK 400
#define PART_DAYS_AHEAD 7

/* Partition of day d (days since the epoch): created empty like events, filled with what the
 * default partition holds of that day, and attached, in one transaction. */
static int make_partition(PGconn *c, int64_t d)
{
	char name[40], sql[1024];
	int64_t y;
	unsigned m, md;
	civil_from_days(d, &y, &m, &md);
	snprintf(name, sizeof(name), "events_%04lld%02u%02u", (long long)y, m, md);
	int64_t lo = d * PG_DAY_US, hi = lo + PG_DAY_US;
	PGresult *r = NULL;
	struct pg_params p = {0};
	pg_p_text(&p, name);
	int rc = pg_exec(c, "BEGIN", NULL, NULL, "partition");
	if (rc < 0)
		return rc;
	if ((rc = pg_exec(c, "SELECT pg_advisory_xact_lock(" LOCK_PARTITIONS ")", NULL, NULL,
			  "partition lock")) == 0)
		rc = pg_exec(c, "SELECT 1 FROM pg_class WHERE relname = $1", &p, &r, "partition");
	bool exists = rc == 0 && PQntuples(r) > 0;
	PQclear(r);
	if (rc == 0 && !exists) {
		snprintf(sql, sizeof(sql),
			 "CREATE TABLE %s (LIKE events INCLUDING DEFAULTS);"
			 "WITH moved AS (DELETE FROM events_default WHERE ts >= %" PRId64
			 " AND ts < %" PRId64 " RETURNING *) INSERT INTO %s SELECT * FROM moved;"
			 "ALTER TABLE events ATTACH PARTITION %s FOR VALUES FROM (%" PRId64
			 ") TO (%" PRId64 ")",
			 name, lo, hi, name, name, lo, hi);
		rc = pg_exec(c, sql, NULL, NULL, "partition");
	}
	if ((rc = pg_txn_end(c, rc, "partition")) == 0 && !exists)
		log_info(SUB, "partition %s created", name);
	return rc;
}

int pg_partitions_ensure(PGconn *c, int64_t from_us, int64_t to_us, int retention_days)
{
	int64_t today = pg_day(ts_now_us());
	int64_t a = pg_day(from_us), b = pg_day(to_us);
	int64_t back = retention_days > 0 ? retention_days + 2 : PART_DAYS_BACK;
	if (a < today - back)
		a = today - back;
	if (b > today + PART_DAYS_AHEAD)
		b = today + PART_DAYS_AHEAD;
	for (int64_t d = a; d <= b; d++) {
		int rc = make_partition(c, d);
		if (rc < 0)
			return rc;
	}
	return 0;
}
