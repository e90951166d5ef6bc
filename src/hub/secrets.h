/* secrets.h — the admin password hash and the token signing key, set into the API's tokens
 * when the hub starts and again on SIGHUP. */
#ifndef SIEM_HUB_SECRETS_H
#define SIEM_HUB_SECRETS_H

#include <stdbool.h>

#include "api/api.h"
#include "store/store.h"

/* The admin password hash: SIEM_ADMIN_PASSWORD_HASH (conf: flag, environment or config
 * file), else the store, else, when first (not on a reload), a new password printed once. */
int secrets_admin_hash(struct api *a, struct store *s, const char *conf, bool first);
/* The signing key: SIEM_JWT_SECRET (conf), else the key file DB-jwt-secret beside the store
 * db (made when missing, mode 0600). */
int secrets_jwt_key(struct api *a, struct store *s, const char *db, const char *conf);

#endif
