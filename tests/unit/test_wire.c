/* test_wire.c — the broker message of a batch: every field, dead letter and offset survives a
 * round trip; truncated, oversized, mislabelled and corrupted messages are refused with a
 * reason and never read out of bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/wire.h"
#include "core/err.h"

/* Every field of ev set to a value of its own (seed makes two events differ). */
static void fill_event(struct event *ev, struct arena *a, int seed)
{
	for (size_t f = 0; f < EF_COUNT; f++) {
		const struct event_field_info *fi = &event_fields[f];
		char *m = (char *)ev + fi->off;
		char text[64];
		int n =
		    snprintf(text, sizeof(text), "%s-%d-\xc3\xa9", fi->name ? fi->name : "x", seed);
		switch (fi->kind) {
		case EFK_STR:
		case EFK_DATA:
		case EFK_KEY:
		case EFK_TAGS: {
			struct sv *s = (struct sv *)(void *)m;
			s->p = arena_strndup(a, text, (size_t)n);
			s->n = (size_t)n;
			break;
		}
		case EFK_INT:
			*(int *)(void *)m = 3 + seed;
			break;
		case EFK_I64:
		case EFK_TIME:
		case EFK_KEYID:
			*(int64_t *)(void *)m = 1700000000123456LL + (int64_t)f * 1000 + seed;
			break;
		case EFK_REAL:
			*(double *)(void *)m = -12.5 * (double)(f + 1) + seed;
			break;
		case EFK_UUID:
		case EFK_IP:
			for (int i = 0; i < 16; i++)
				m[i] = (char)(f * 16 + (size_t)i + (size_t)seed);
			break;
		case EFK_FLAGS:
			*(unsigned *)(void *)m = EV_HAS_IP | EV_HAS_ASN | EV_TRUNC_RAW;
			break;
		}
	}
	ev->severity = 1 + seed;
	ev->source_ip.p = arena_strndup(a, "2001:db8::1", 11);
	ev->source_ip.n = 11;
}

static void assert_events_equal(const struct event *x, const struct event *y)
{
	for (size_t f = 0; f < EF_COUNT; f++) {
		const struct event_field_info *fi = &event_fields[f];
		const char *a = (const char *)x + fi->off, *b = (const char *)y + fi->off;
		switch (fi->kind) {
		case EFK_STR:
		case EFK_DATA:
		case EFK_KEY:
		case EFK_TAGS: {
			const struct sv *s = (const void *)a, *t = (const void *)b;
			assert_true((s->p == NULL) == (t->p == NULL));
			assert_int_equal(s->n, t->n);
			if (s->p) {
				assert_memory_equal(s->p, t->p, s->n);
				assert_int_equal(t->p[t->n],
						 '\0'); /* NUL-terminated, as from the arena */
			}
			break;
		}
		case EFK_INT:
			assert_int_equal(*(const int *)(const void *)a,
					 *(const int *)(const void *)b);
			break;
		case EFK_I64:
		case EFK_TIME:
		case EFK_KEYID:
		case EFK_REAL:
			assert_memory_equal(a, b, 8);
			break;
		case EFK_UUID:
		case EFK_IP:
			assert_memory_equal(a, b, 16);
			break;
		case EFK_FLAGS:
			assert_int_equal(*(const unsigned *)(const void *)a,
					 *(const unsigned *)(const void *)b);
			break;
		}
	}
	assert_int_equal(x->source_ip.n, y->source_ip.n);
	assert_memory_equal(x->source_ip.p, y->source_ip.p, x->source_ip.n);
}

/* A batch of two full events, one with every string absent, two dead letters and an offset. */
static void make_batch(struct ingest_batch *b)
{
	assert_int_equal(ingest_batch_init(b, 8, 4, 0), 0);
	fill_event(ingest_batch_add_event(b), &b->arena, 0);
	fill_event(ingest_batch_add_event(b), &b->arena, 1);
	struct event *bare = ingest_batch_add_event(b);
	bare->severity = 2;
	assert_int_equal(ingest_batch_add_dead(b, "syslog_udp", NULL, -1, "no header", "x\0y", 3),
			 0);
	assert_int_equal(
	    ingest_batch_add_dead(b, "tail", "/var/log/a.jsonl", 4096, "bad json", "{", 1), 0);
	size_t row = INGEST_NO_ROW;
	assert_int_equal(ingest_batch_set_offset(b, &row, "/var/log/a.jsonl", 2049, 77, 8192), 0);
}

static char *encode(const struct ingest_batch *b, size_t *n)
{
	struct strbuf sb;
	strbuf_init(&sb, WIRE_MAX_BYTES);
	assert_int_equal(wire_encode(b, &sb), 0);
	return strbuf_detach(&sb, n);
}

static void test_round_trip_keeps_everything(void **state)
{
	(void)state;
	struct ingest_batch b, d;
	make_batch(&b);
	size_t n;
	char *msg = encode(&b, &n);
	char err[256] = "";
	assert_int_equal(wire_decode(msg, n, &d, err, sizeof(err)), 0);
	assert_int_equal(d.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_events_equal(&b.ev[i], &d.ev[i]);
	assert_int_equal(d.n_dead, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(d.dead[i].source, b.dead[i].source);
		assert_true((d.dead[i].file == NULL) == (b.dead[i].file == NULL));
		assert_int_equal(d.dead[i].offset, b.dead[i].offset);
		assert_string_equal(d.dead[i].reason, b.dead[i].reason);
		assert_int_equal(d.dead[i].raw_n, b.dead[i].raw_n);
		assert_memory_equal(d.dead[i].raw, b.dead[i].raw, b.dead[i].raw_n);
	}
	assert_string_equal(d.dead[1].file, "/var/log/a.jsonl");
	assert_int_equal(d.n_offsets, 1);
	assert_string_equal(d.offsets[0].path, "/var/log/a.jsonl");
	assert_int_equal(d.offsets[0].dev, 2049);
	assert_int_equal(d.offsets[0].ino, 77);
	assert_int_equal(d.offsets[0].offset, 8192);
	free(msg);
	ingest_batch_release(&b);
	ingest_batch_release(&d);
}

static void test_empty_batch(void **state)
{
	(void)state;
	struct ingest_batch b, d;
	assert_int_equal(ingest_batch_init(&b, 1, 0, 0), 0);
	size_t n;
	char *msg = encode(&b, &n);
	assert_int_equal(n, 20);
	char err[256];
	assert_int_equal(wire_decode(msg, n, &d, err, sizeof(err)), 0);
	assert_int_equal(d.n + d.n_dead + d.n_offsets, 0);
	free(msg);
	ingest_batch_release(&b);
	ingest_batch_release(&d);
}

/* Every prefix of a good message is refused (it ends early), with a reason. */
static void test_every_truncation_is_refused(void **state)
{
	(void)state;
	struct ingest_batch b, d;
	make_batch(&b);
	size_t n;
	char *msg = encode(&b, &n);
	for (size_t cut = 0; cut < n; cut++) {
		char *copy = malloc(cut ? cut : 1); /* exactly cut bytes: ASan sees any overread */
		memcpy(copy, msg, cut);
		char err[256] = "";
		int rc = wire_decode(copy, cut, &d, err, sizeof(err));
		assert_true(rc < 0);
		assert_true(err[0] != '\0');
		ingest_batch_release(&d);
		free(copy);
	}
	free(msg);
	ingest_batch_release(&b);
}

static void put32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (8 * i));
}

static void expect_refused(const char *msg, size_t n, int want_rc, const char *want_text)
{
	struct ingest_batch d;
	char err[256] = "";
	int rc = wire_decode(msg, n, &d, err, sizeof(err));
	assert_int_equal(rc, want_rc);
	if (!strstr(err, want_text))
		fail_msg("error '%s' does not say '%s'", err, want_text);
	ingest_batch_release(&d);
}

static void test_malformed_headers(void **state)
{
	(void)state;
	struct ingest_batch b;
	make_batch(&b);
	size_t n;
	char *msg = encode(&b, &n);
	char *bad = malloc(n + 1);

	memcpy(bad, msg, n);
	bad[0] = 'X';
	expect_refused(bad, n, SIEM_EPARSE, "bad magic");

	memcpy(bad, msg, n);
	put32(bad + 4, EF_COUNT + 1);
	expect_refused(bad, n, SIEM_EPARSE, "another event field table");

	memcpy(bad, msg, n);
	put32(bad + 8, 0xfffffff0u); /* a count that would allocate gigabytes */
	expect_refused(bad, n, SIEM_ETOOBIG, "too many records");

	memcpy(bad, msg, n);
	put32(bad + 8, 1000); /* within bounds, but more than the bytes could hold */
	expect_refused(bad, n, SIEM_EPARSE, "counts larger than the message");

	memcpy(bad, msg, n);
	bad[n] = 0;
	expect_refused(bad, n + 1, SIEM_EPARSE, "bytes after the last record");

	/* The first string of the first event claims 1 GiB. */
	memcpy(bad, msg, n);
	size_t first_str = 20;
	for (size_t f = 0; f < EF_COUNT && event_fields[f].kind != EFK_STR; f++)
		first_str += event_fields[f].kind == EFK_UUID || event_fields[f].kind == EFK_IP ? 16
			     : event_fields[f].kind == EFK_INT || event_fields[f].kind == EFK_FLAGS
				 ? 4
				 : 8;
	put32(bad + first_str, 1u << 30);
	expect_refused(bad, n, SIEM_ETOOBIG, "event 0: a string is over its bound");

	free(bad);
	free(msg);
	ingest_batch_release(&b);
}

static void test_bad_severity_and_times_are_refused(void **state)
{
	(void)state;
	struct ingest_batch b;
	make_batch(&b);
	b.ev[1].severity = 9;
	size_t n;
	char *msg = encode(&b, &n);
	expect_refused(msg, n, SIEM_EPARSE, "event 1: severity");
	free(msg);
	b.ev[1].severity = 3;
	b.ev[2].ts = 253402300800000000LL; /* 10000-01-01: no time the hub parses */
	msg = encode(&b, &n);
	expect_refused(msg, n, SIEM_EPARSE, "event 2: a time outside 1970..9999");
	free(msg);
	b.ev[2].ts = 0;
	b.ev[0].received_at = -1;
	msg = encode(&b, &n);
	expect_refused(msg, n, SIEM_EPARSE, "event 0: a time outside");
	free(msg);
	ingest_batch_release(&b);
}

/* Flipped bytes anywhere: decoded or refused, never a crash or an overread (ASan build). */
static void test_corrupted_bytes(void **state)
{
	(void)state;
	struct ingest_batch b, d;
	make_batch(&b);
	size_t n;
	char *msg = encode(&b, &n);
	unsigned seed = 12345;
	for (int round = 0; round < 3000; round++) {
		char *copy = malloc(n);
		memcpy(copy, msg, n);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			copy[(seed >> 8) % n] ^= (char)(1u << ((seed >> 4) % 8));
		}
		char err[256] = "";
		int rc = wire_decode(copy, n, &d, err, sizeof(err));
		if (rc < 0)
			assert_true(err[0] != '\0');
		ingest_batch_release(&d);
		free(copy);
	}
	free(msg);
	ingest_batch_release(&b);
}

static void test_encoder_bounds(void **state)
{
	(void)state;
	struct ingest_batch b;
	make_batch(&b);
	struct strbuf sb;
	strbuf_init(&sb, 64); /* the output buffer's own bound */
	assert_int_equal(wire_encode(&b, &sb), SIEM_ETOOBIG);
	strbuf_release(&sb);
	ingest_batch_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_keeps_everything),
	    cmocka_unit_test(test_empty_batch),
	    cmocka_unit_test(test_every_truncation_is_refused),
	    cmocka_unit_test(test_malformed_headers),
	    cmocka_unit_test(test_bad_severity_and_times_are_refused),
	    cmocka_unit_test(test_corrupted_bytes),
	    cmocka_unit_test(test_encoder_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
