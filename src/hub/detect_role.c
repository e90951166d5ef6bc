/* detect_role.c — the detect role of broker mode. Each batch of minisiem.detect goes through
 * the detector into the alerts module, as committed events do in one hub; before the batches
 * evaluated since the last save are acknowledged (all at once, every save interval: detect.c)
 * the alerts they raised are written (alerts_flush_all) and the window state is saved into
 * the meta row DETECT_STATE_KEY, with the fingerprints of the last FP_KEEP messages
 * evaluated. A node that becomes the active detector reloads both, and the store's open
 * alerts into its suppression table. So a message delivered again is skipped when its
 * evaluation was saved (its fingerprint is there), and otherwise evaluated from the state
 * saved before it: a hit it repeats lands on the alert the first evaluation wrote (one alert
 * per rule and group within the cooldown, on the events' arrival times that travel with
 * them), never on a second one.
 *
 * The row's value: "MSDET1 " then hex of [u32 count][count u64 fingerprints][state blob]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "hub/detect_role.h"

#define FP_KEEP 1024
#define PREFIX "MSDET1 "

struct detect_role {
	struct store *s;
	struct detector *det;
	struct alerts *alerts;
	struct broker_detect *consumer;
	uint64_t fp[FP_KEEP]; /* a ring, fp_next the next slot */
	size_t n_fp, fp_next;
	bool dirty; /* evaluated since the last save */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The saved row into the fingerprint ring and the detector. */
static int load(struct detect_role *r, const char *text)
{
	size_t tn = strlen(text), pn = strlen(PREFIX);
	if (tn < pn || memcmp(text, PREFIX, pn) || (tn - pn) % 2)
		return SIEM_EPARSE;
	size_t n = (tn - pn) / 2;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(text[pn + 2 * i]), lo = hexval(text[pn + 2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(buf);
			return SIEM_EPARSE;
		}
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	int rc = SIEM_EPARSE;
	uint32_t count = 0;
	if (n >= 4)
		count = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
			(uint32_t)buf[3] << 24;
	if (n >= 4 && count <= FP_KEEP && n - 4 >= (size_t)count * 8) {
		r->n_fp = count;
		r->fp_next = count % FP_KEEP;
		for (uint32_t i = 0; i < count; i++)
			r->fp[i] = get_u64(buf + 4 + 8 * i);
		rc =
		    detector_import(r->det, buf + 4 + 8 * (size_t)count, n - 4 - 8 * (size_t)count);
	}
	free(buf);
	return rc;
}

static int activate(void *ctx)
{
	struct detect_role *r = ctx;
	char *text = NULL;
	int rc;
	if ((rc = alerts_resync(r->alerts)) < 0 ||
	    (rc = store_meta_get(r->s, DETECT_STATE_KEY, &text)) < 0)
		return rc;
	r->n_fp = r->fp_next = 0;
	r->dirty = false;
	if (text && (rc = load(r, text)) < 0)
		log_error("detect", "the saved detection state is unreadable (%s): starting empty",
			  siem_strerror(rc));
	free(text);
	return 0;
}

static bool seen(const struct detect_role *r, uint64_t fp)
{
	for (size_t i = 0; i < r->n_fp; i++)
		if (r->fp[i] == fp)
			return true;
	return false;
}

static int eval(void *ctx, const struct ingest_batch *b, const void *body, size_t n,
		bool redelivered)
{
	struct detect_role *r = ctx;
	uint64_t fp = hash_bytes(body, n);
	if (redelivered && seen(r, fp)) {
		log_info("detect", "a batch delivered again was evaluated before: skipped");
		return 0;
	}
	for (size_t i = 0; i < b->n; i++)
		detector_eval(r->det, &b->ev[i], alerts_sink, r->alerts);
	r->fp[r->fp_next] = fp;
	r->fp_next = (r->fp_next + 1) % FP_KEEP;
	if (r->n_fp < FP_KEEP)
		r->n_fp++;
	r->dirty = true;
	return 0;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int persist(void *ctx)
{
	struct detect_role *r = ctx;
	static const char hex[] = "0123456789abcdef";
	int rc;
	if ((rc = alerts_flush_all(r->alerts)) < 0)
		return rc;
	if (!r->dirty)
		return 0;
	uint8_t *state = NULL;
	size_t sn = 0;
	if ((rc = detector_export(r->det, &state, &sn)) < 0)
		return rc;
	size_t n = 4 + 8 * r->n_fp + sn, pn = strlen(PREFIX);
	uint8_t *buf = malloc(n);
	char *text = malloc(pn + 2 * n + 1);
	if (!buf || !text) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < 4; i++)
		buf[i] = (uint8_t)(r->n_fp >> (8 * i));
	/* Oldest first, so that a reload keeps the ring's order. */
	size_t start = r->n_fp < FP_KEEP ? 0 : r->fp_next;
	for (size_t i = 0; i < r->n_fp; i++)
		put_u64(buf + 4 + 8 * i, r->fp[(start + i) % FP_KEEP]);
	memcpy(buf + 4 + 8 * r->n_fp, state, sn);
	memcpy(text, PREFIX, pn);
	for (size_t i = 0; i < n; i++) {
		text[pn + 2 * i] = hex[buf[i] >> 4];
		text[pn + 2 * i + 1] = hex[buf[i] & 15];
	}
	text[pn + 2 * n] = '\0';
	if ((rc = store_meta_set(r->s, DETECT_STATE_KEY, text)) == 0)
		r->dirty = false;
out:
	free(state);
	free(buf);
	free(text);
	return rc;
}

int detect_role_start(struct detect_role **out, const struct broker_config *bc, struct store *s,
		      struct detector *det, struct alerts *alerts)
{
	struct detect_role *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->s = s;
	r->det = det;
	r->alerts = alerts;
	struct broker_detect_ops ops = {
	    .activate = activate, .eval = eval, .persist = persist, .ctx = r};
	int rc = broker_detect_start(&r->consumer, bc, &ops);
	if (rc < 0) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

struct broker_detect *detect_role_link(struct detect_role *r)
{
	return r->consumer;
}

void detect_role_stop(struct detect_role *r)
{
	if (!r)
		return;
	broker_detect_stop(r->consumer);
	free(r);
}
