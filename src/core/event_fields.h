/* event_fields.h — the event's fields, one row each: the list that normalization, JSON output,
 * Sigma field access and the store's columns are generated from. */
#ifndef SIEM_EVENT_FIELDS_H
#define SIEM_EVENT_FIELDS_H

#include <stdbool.h>

/*
 * EVENT_FIELDS(X) calls, for each field of struct event,
 *
 *   X(ID, MEMBER, KIND, FLAG, CAP,  NAME, IN, SIGMA, POS, FULL, DFLT,  COLUMN, SQLTYPE)
 *
 *   ID       the field's id: EF_<ID> (enum event_field)
 *   MEMBER   its member of struct event
 *   KIND     how it is held and written (enum event_field_kind, EFK_<KIND>):
 *              STR    struct sv, plain text capped at CAP bytes
 *              INT    int, I64 int64_t, REAL double: a number, set when FLAG is (0: always)
 *              TIME   int64_t microseconds, written as ISO-8601
 *              UUID   uint8_t[16], written as text
 *            special, one field each, with code of its own where it is read and written:
 *              IP     uint8_t[16] with EV_HAS_IP, and its text in source_ip
 *              DATA   compact JSON object text
 *              FLAGS  enum event_flags; JSON shows only the capped fields, as "truncated"
 *              KEY    the API key's name, written as {"name", "id"} with KEYID
 *              KEYID  the API key's id in the store (0: none)
 *              TAGS   struct sv, tags joined by ',', written as a JSON array
 *            event_from_json reads STR fields from the table and every other kind by hand
 *            (each has its own rules: ranges, formats, aliases of values)
 *   FLAG     STR, DATA: the EV_TRUNC_* bit a cut sets; INT, I64, REAL, IP: the EV_HAS_* bit
 *            that says it is set
 *   CAP      STR, DATA: the EV_CAP_* it is cut at
 *   NAME     the canonical JSON name (NULL: none); "a.b" is key b of object a (geo.country)
 *   IN       1: event_from_json reads NAME from a client's object (received_at: and drops
 *            it, the hub sets it); 0: the hub sets the field and a client's NAME is an
 *            unknown field like any other (it goes to data)
 *   SIGMA    1: a rule may name it (sigma_fields.c); 0: a rule's NAME is a data key
 *   POS      where event_to_json writes it: its keys come in this order (0 first)
 *   FULL     1: only the full view writes it (the list view leaves it out to keep pages small)
 *   DFLT     what event_to_json writes when it is absent (NULL: the key is left out)
 *   COLUMN   its column in a segment's events table, and the column's SQLTYPE
 *
 * The rows are in the order of the events table's columns (after seq), which is the stored
 * format and never changes: a new field is a new last row, with a segment migration that
 * adds its column (store/schema.c). The aliases a client or a rule may use for NAME are in
 * EVENT_ALIASES below.
 */
/* clang-format off */
#define EVENT_FIELDS(X) \
/*  ID              MEMBER          KIND   FLAG                 CAP                           */ \
/*    NAME                IN SIGMA POS FULL DFLT          COLUMN           SQLTYPE            */ \
  X(TIMESTAMP,      ts,             TIME,  0,                   0,                              \
      "timestamp",        1, 1,     1, 0,   NULL,         "ts",            "INTEGER NOT NULL")  \
  X(EVENT_ID,       id,             UUID,  0,                   0,                              \
      "event_id",         1, 1,     0, 0,   NULL,         "id",            "BLOB NOT NULL")     \
  X(RECEIVED_AT,    received_at,    TIME,  0,                   0,                              \
      "received_at",      1, 1,     2, 0,   NULL,         "received_at",   "INTEGER NOT NULL")  \
  X(SOURCE_HOST,    source_host,    STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "source_host",      1, 1,     3, 0,   "unknown",    "host",          "TEXT")              \
  X(OS_TYPE,        os_type,        STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "os_type",          1, 1,     4, 0,   "UNKNOWN",    "os_type",       "TEXT")              \
  X(EVENT_TYPE,     event_type,     STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "event_type",       1, 1,     5, 0,   "GENERIC",    "event_type",    "TEXT")              \
  X(SEVERITY,       severity,       INT,   0,                   0,                              \
      "severity",         1, 1,     6, 0,   NULL,         "severity",      "INTEGER")           \
  X(LEVEL,          level,          STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "level",            1, 1,     7, 0,   NULL,         "level",         "TEXT")              \
  X(SOURCE_IP,      ip,             IP,    EV_HAS_IP,           0,                              \
      "source_ip",        1, 1,     8, 0,   "N/A",        "ip",            "BLOB")              \
  X(USER,           user,           STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "user",             1, 1,     9, 0,   "system",     "user",          "TEXT")              \
  X(APP,            app,            STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "app",              1, 1,    11, 0,   NULL,         "app",           "TEXT")              \
  X(MESSAGE,        message,        STR,   EV_TRUNC_MESSAGE,    EV_CAP_MESSAGE,                 \
      "message",          1, 1,    10, 0,   "",           "message",       "TEXT")              \
  X(RAW_MESSAGE,    raw_message,    STR,   EV_TRUNC_RAW,        EV_CAP_RAW,                     \
      "raw_message",      1, 1,    24, 1,   NULL,         "raw",           "TEXT")              \
  X(REQUEST_ID,     request_id,     STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "request_id",       1, 1,    12, 0,   NULL,         "request_id",    "TEXT")              \
  X(USER_AGENT,     user_agent,     STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "user_agent",       1, 1,    13, 0,   NULL,         "user_agent",    "TEXT")              \
  X(HTTP_METHOD,    http_method,    STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "http_method",      1, 1,    14, 0,   NULL,         "http_method",   "TEXT")              \
  X(HTTP_PATH,      http_path,      STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "http_path",        1, 1,    15, 0,   NULL,         "http_path",     "TEXT")              \
  X(HTTP_STATUS,    http_status,    INT,   EV_HAS_HTTP_STATUS,  0,                              \
      "http_status",      1, 1,    16, 0,   NULL,         "http_status",   "INTEGER")           \
  X(LATENCY_MS,     latency_ms,     REAL,  EV_HAS_LATENCY,      0,                              \
      "latency_ms",       1, 1,    17, 0,   NULL,         "latency_ms",    "REAL")              \
  X(ERROR_TYPE,     error_type,     STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "error_type",       1, 1,    18, 0,   NULL,         "error_type",    "TEXT")              \
  X(DATA,           data,           DATA,  EV_TRUNC_DATA,       EV_CAP_DATA,                    \
      "data",             1, 0,    25, 1,   NULL,         "data",          "TEXT")              \
  X(SOURCE,         source,         STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "source",           1, 1,    19, 0,   NULL,         "source",        "TEXT")              \
  X(SOURCE_FILE,    source_file,    STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "source_file",      1, 1,    20, 0,   NULL,         "source_file",   "TEXT")              \
  X(SOURCE_OFFSET,  source_offset,  I64,   EV_HAS_OFFSET,       0,                              \
      "source_offset",    1, 1,    21, 0,   NULL,         "source_offset", "INTEGER")           \
  X(FLAGS,          flags,          FLAGS, 0,                   0,                              \
      "truncated",        0, 0,    23, 0,   NULL,         "flags",         "INTEGER NOT NULL")  \
  X(INGEST_KEY,     ingest_key,     KEY,   0,                   0,                              \
      "ingest_key",       0, 0,    22, 0,   NULL,         "ingest_key",    "TEXT")              \
  X(INGEST_KEY_ID,  ingest_key_id,  KEYID, 0,                   0,                              \
      NULL,               0, 0,    35, 0,   NULL,         "ingest_key_id", "INTEGER")           \
  X(GEO_COUNTRY,    geo_country,    STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "geo.country",      0, 1,    26, 0,   NULL,         "geo_country",   "TEXT")              \
  X(GEO_COUNTRY_NAME, geo_country_name, STR, EV_TRUNC_OTHER,    EV_CAP_SHORT,                   \
      "geo.country_name", 0, 1,    27, 0,   NULL,         "geo_country_name", "TEXT")           \
  X(GEO_CITY,       geo_city,       STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "geo.city",         0, 1,    28, 0,   NULL,         "geo_city",      "TEXT")              \
  X(GEO_LAT,        geo_lat,        REAL,  EV_HAS_GEO_LOC,      0,                              \
      "geo.lat",          0, 1,    29, 0,   NULL,         "geo_lat",       "REAL")              \
  X(GEO_LON,        geo_lon,        REAL,  EV_HAS_GEO_LOC,      0,                              \
      "geo.lon",          0, 1,    30, 0,   NULL,         "geo_lon",       "REAL")              \
  X(GEO_ASN,        geo_asn,        I64,   EV_HAS_ASN,          0,                              \
      "geo.asn",          0, 1,    31, 0,   NULL,         "geo_asn",       "INTEGER")           \
  X(GEO_AS_ORG,     geo_as_org,     STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "geo.as_org",       0, 1,    32, 0,   NULL,         "geo_as_org",    "TEXT")              \
  X(TAGS,           tags,           TAGS,  EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "tags",             0, 1,    33, 0,   NULL,         "tags",          "TEXT")              \
  X(RDNS,           rdns,           STR,   EV_TRUNC_OTHER,      EV_CAP_SHORT,                   \
      "rdns",             0, 1,    34, 0,   NULL,         "rdns",          "TEXT")

/*
 * EVENT_ALIASES(X) calls X(NAME, ID, RANK, SIGMA) for each other name of a field. A client's
 * object may use any of them: when it gives a field under two names, the lower RANK wins (the
 * canonical name is rank 0) and the other goes to data. A rule may use it when SIGMA is 1.
 */
#define EVENT_ALIASES(X) \
  X("ts",          TIMESTAMP,   1, 1) \
  X("@timestamp",  TIMESTAMP,   2, 0) \
  X("time",        TIMESTAMP,   3, 0) \
  X("host",        SOURCE_HOST, 1, 1) \
  X("hostname",    SOURCE_HOST, 2, 0) \
  X("src_ip",      SOURCE_IP,   1, 1) \
  X("ip",          SOURCE_IP,   2, 0) \
  X("client_ip",   SOURCE_IP,   3, 0) \
  X("user_id",     USER,        1, 1) \
  X("username",    USER,        2, 0) \
  X("msg",         MESSAGE,     1, 0) \
  X("raw",         RAW_MESSAGE, 1, 0)
/* clang-format on */

/* EF_IF_<0|1>(...): nothing, or the arguments; for the table's 0/1 columns. */
#define EF_IF_0(...)
#define EF_IF_1(...) __VA_ARGS__

/* EF_IF_STR(KIND, ...): the arguments when KIND is STR, else nothing. */
#define EF_IF_STR(KIND, ...) EF_IF_STR_##KIND(__VA_ARGS__)
#define EF_IF_STR_STR(...) __VA_ARGS__
#define EF_IF_STR_INT(...)
#define EF_IF_STR_I64(...)
#define EF_IF_STR_REAL(...)
#define EF_IF_STR_TIME(...)
#define EF_IF_STR_UUID(...)
#define EF_IF_STR_IP(...)
#define EF_IF_STR_DATA(...)
#define EF_IF_STR_FLAGS(...)
#define EF_IF_STR_KEY(...)
#define EF_IF_STR_KEYID(...)
#define EF_IF_STR_TAGS(...)

enum event_field {
#define EF_ENUM(ID, ...) EF_##ID,
	EVENT_FIELDS(EF_ENUM)
#undef EF_ENUM
	    EF_COUNT
};

enum event_field_kind {
	EFK_STR,
	EFK_INT,
	EFK_I64,
	EFK_REAL,
	EFK_TIME,
	EFK_UUID,
	EFK_IP,
	EFK_DATA,
	EFK_FLAGS,
	EFK_KEY,
	EFK_KEYID,
	EFK_TAGS,
};

/* A row of EVENT_FIELDS for code that walks the fields at run time. */
struct event_field_info {
	const char *name;   /* NAME */
	const char *dflt;   /* DFLT */
	unsigned short off; /* offsetof(struct event, MEMBER) */
	unsigned char kind; /* enum event_field_kind */
	bool full;	    /* FULL */
	unsigned flag, cap;
};

/* event_fields[EF_x] is field x's row; event_fields_json_order lists the fields in the order
 * event_to_json writes them (POS). */
extern const struct event_field_info event_fields[EF_COUNT];
extern const unsigned char event_fields_json_order[EF_COUNT];

#endif
