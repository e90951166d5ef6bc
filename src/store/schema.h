/* schema.h — SQL for the embedded store: migrations of the main tables and the DDL of one
 * events segment. Kept apart from the code that runs it. */
#ifndef SIEM_SCHEMA_H
#define SIEM_SCHEMA_H

/* migrations[i] brings the schema from version i to i + 1. */
extern const char *const schema_migrations[];
extern const int schema_version;

/* DDL of segment N: printf format with the segment number in every %1$lld. */
extern const char *const segment_ddl;

#endif
