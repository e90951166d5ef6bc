/* dashboards.h — saved dashboards: the widget lists a user composes in the web UI, kept in
 * the main database per owner. */
#ifndef SIEM_DASHBOARDS_H
#define SIEM_DASHBOARDS_H

#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* [{"id", "name", "created_at", "updated_at"}] of owner, by name. */
int store_dashboard_list(struct store *s, const char *owner, json_t *out);
/* {"id", "name", "widgets", "created_at", "updated_at"}; SIEM_ENOTFOUND when owner has no
 * such dashboard. */
int store_dashboard_get(struct store *s, const char *owner, int64_t id, json_t **out);
/* spec is the compact JSON of the widgets array. -EEXIST when owner has that name. */
int store_dashboard_add(struct store *s, const char *owner, const char *name, const char *spec,
			int64_t *id);
int store_dashboard_update(struct store *s, const char *owner, int64_t id, const char *name,
			   const char *spec);
int store_dashboard_delete(struct store *s, const char *owner, int64_t id);

#endif
