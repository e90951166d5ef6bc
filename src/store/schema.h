/* schema.h — SQL for the embedded store: migrations of the main database (hub state) and
 * the DDL of a segment file (events and what must commit with them). */
#ifndef SIEM_SCHEMA_H
#define SIEM_SCHEMA_H

#include "core/event_fields.h"

/* main database: migrations[i] brings the schema from version i to i + 1. */
extern const char *const schema_migrations[];
extern const int schema_version;

/* A new segment file: events with the one index ingest keeps up (time; event_ids of the
 * active segment are checked in memory), plus the tables that commit with the events. */
extern const char *const segment_schema;
/* A segment file's version is its PRAGMA user_version: a new file is made at segment_version
 * by segment_schema; segment_migrations[i] brings an older file from version i to i + 1 when
 * the store opens it. A change to segment_schema needs a migration here too. */
extern const char *const segment_migrations[];
extern const int segment_version;
/* The events table's columns after seq, one per row of the field table
 * (core/event_fields.h), as SQL text: EVENT_FIELDS(EVENT_COL_DDL) is
 * ", ts INTEGER NOT NULL, id BLOB NOT NULL, ...", EVENT_FIELDS(EVENT_COL_NAME) ", ts, id, ..."
 * and EVENT_FIELDS(EVENT_COL_PARAM) ",?,?,...". */
#define EVENT_COL_DDL(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, POS, FULL, DFLT, COLUMN, \
		      SQLTYPE)                                                               \
	", " COLUMN " " SQLTYPE
#define EVENT_COL_NAME(ID, MEMBER, KIND, FLAG, CAP, NAME, IN, SIGMA, POS, FULL, DFLT, COLUMN, \
		       SQLTYPE)                                                               \
	", " COLUMN
#define EVENT_COL_PARAM(...) ",?"
/* Where field EF_<ID> is in a row selected as "seq" EVENT_FIELDS(EVENT_COL_NAME) (seq is 0),
 * and its parameter in an insert of those columns (seq is 1). */
#define EVENT_COL(ID) (EF_##ID + 1)
#define EVENT_PARAM(ID) (EF_##ID + 2)

/* Run on a sealed segment by the background indexer: the query indices and text index. */
extern const char *const segment_index_ddl;
/* The part of it that selective filters need (no event id index, no text index): built
 * first, so that a sealed segment's postings can leave memory sooner. */
extern const char *const segment_query_index_ddl;

#endif
