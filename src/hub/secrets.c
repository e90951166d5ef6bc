/* secrets.c — the hub's two secrets at start-up and on SIGHUP: the admin password hash
 * (a first run makes a password and prints it once) and the token signing key (generated
 * into its own file beside the store). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/tokens.h"
#include "auth/auth.h"
#include "core/err.h"
#include "core/log.h"
#include "hub/secrets.h"

/* The admin password hash: SIEM_ADMIN_PASSWORD_HASH (flag, environment or config file),
 * else the store, else a new password printed once (not on a reload). */
int secrets_admin_hash(struct api *a, struct store *s, const char *conf, bool first)
{
	char *h = NULL;
	int rc;
	if (conf && *conf) {
		if (password_verify(conf, "") == SIEM_EPARSE) {
			log_error("hub", "SIEM_ADMIN_PASSWORD_HASH is neither argon2id nor bcrypt");
			return -EINVAL;
		}
		return tokens_set_admin_hash(a->tokens, conf, false);
	}
	if ((rc = store_meta_get(s, "admin_password_hash", &h)) < 0)
		return rc;
	if (h || !first) {
		rc = h ? tokens_set_admin_hash(a->tokens, h, true) : 0;
		free(h);
		return rc;
	}
	char pw[32], hash[256];
	if ((rc = password_generate(pw, sizeof(pw), 20)) < 0 ||
	    (rc = password_hash(pw, hash, sizeof(hash))) < 0)
		return rc;
	/* Hubs starting at once on one new database: the first to store its hash wins, and the
	 * others take that one (and print nothing: the winner printed the password). */
	if ((rc = store_meta_cas(s, "admin_password_hash", NULL, hash)) == -EAGAIN) {
		explicit_bzero(pw, sizeof(pw));
		return secrets_admin_hash(a, s, conf, false);
	}
	if (rc < 0)
		return rc;
	printf("minisiem: first run: admin password: %s\n", pw);
	printf("minisiem: (shown once; only its hash is stored. Set SIEM_ADMIN_PASSWORD_HASH to "
	       "choose your own.)\n");
	fflush(stdout);
	explicit_bzero(pw, sizeof(pw));
	return tokens_set_admin_hash(a->tokens, hash, true);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#define JWT_FILE_KEY 32 /* bytes of a generated signing key, kept as hex */

/* The generated signing key lives in its own file beside the store (DB-jwt-secret, 0600),
 * never in a database that readers of events could see. Created without following links. */
static int jwt_file(const char *path, uint8_t *key)
{
	char hex[2 * JWT_FILE_KEY + 2];
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (random_bytes(key, JWT_FILE_KEY) < 0)
			return -EIO;
		for (size_t i = 0; i < JWT_FILE_KEY; i++)
			snprintf(hex + 2 * i, 3, "%02x", key[i]);
		hex[2 * JWT_FILE_KEY] = '\n';
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			log_error("hub", "cannot create '%s': %s", path, strerror(errno));
			return -errno;
		}
		ssize_t n = write(fd, hex, 2 * JWT_FILE_KEY + 1);
		int err = n == 2 * JWT_FILE_KEY + 1 && fsync(fd) == 0 ? 0 : errno ? errno : EIO;
		close(fd);
		if (err) {
			unlink(path);
			log_error("hub", "cannot write '%s': %s", path, strerror(err));
			return -err;
		}
		log_info("hub", "token signing key generated in '%s'", path);
		return 0;
	}
	if (fd < 0) {
		log_error("hub", "cannot open '%s': %s", path, strerror(errno));
		return -errno;
	}
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (st.st_mode & 077) {
			log_warn("hub", "'%s' was readable by others: made 0600", path);
			fchmod(fd, 0600);
		}
		n = read(fd, hex, sizeof(hex));
	}
	close(fd);
	if (n < 2 * JWT_FILE_KEY || (n > 2 * JWT_FILE_KEY && hex[2 * JWT_FILE_KEY] != '\n'))
		goto corrupt;
	for (size_t i = 0; i < JWT_FILE_KEY; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto corrupt;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
corrupt:
	log_error("hub",
		  "'%s' is not a token signing key (64 hex digits): remove it to make a new"
		  " one (every login token then ends)",
		  path);
	return -EINVAL;
}

/* The signing key: SIEM_JWT_SECRET (flag, environment or config file), else the key file. */
int secrets_jwt_key(struct api *a, struct store *s, const char *db, const char *conf)
{
	uint8_t key[JWT_FILE_KEY];
	char path[4200], *old = NULL;
	int rc;
	if (conf && *conf) {
		size_t n = strlen(conf);
		if (n < 32) {
			log_error("hub", "SIEM_JWT_SECRET must be at least 32 bytes");
			return -EINVAL;
		}
		return tokens_set_key(a->tokens, (const uint8_t *)conf, n > 64 ? 64 : n);
	}
	/* Older versions kept the key in the store's meta table: it goes, and a new one is made
	 * in the key file (everyone logs in again once). */
	if ((rc = store_meta_get(s, "jwt_secret", &old)) < 0)
		return rc;
	if (old) {
		explicit_bzero(old, strlen(old));
		free(old);
		if ((rc = store_meta_delete(s, "jwt_secret")) < 0)
			return rc;
		log_info("hub", "the token signing key moved out of the store: log in again");
	}
	if (snprintf(path, sizeof(path), "%s-jwt-secret", db) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((rc = jwt_file(path, key)) < 0)
		return rc;
	rc = tokens_set_key(a->tokens, key, sizeof(key));
	explicit_bzero(key, sizeof(key));
	return rc;
}
