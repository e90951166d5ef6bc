/* test_evtx.c — the evtx reader on every file of shared/data/evtx: per-file counts of each
 * event id and type (SOURCE.md), and the same events as the file's XML export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"
#include <jansson.h>

#include "core/err.h"
#include "parse/winevent.h"
#include "source/evtx.h"

/* SOURCE.md's table: file, events, "id:count ...", recovered records evtxexport exports, and
 * how many of those are copies of live records (the reader leaves them out). */
static const struct sample {
	const char *file;
	int events;
	const char *ids;
	int recovered;
	int copies;
} samples[] = {
    {"deepbluecli/new-user-security", 4, "4720:1 4728:1 4732:2", 0, 0},
    {"deepbluecli/psattack-security", 24, "1102:1 4688:23", 0, 0},
    {"deepbluecli/smb-password-guessing-security", 3561, "4625:3561", 77, 77},
    {"mdecrevoisier/ID104-1102-Event_log_cleared", 91, "104:90 1102:1", 0, 0},
    {"mdecrevoisier/ID4624-Mimikatz_Pass_the_hash", 8, "1102:1 4624:1 4672:1 4688:2 4964:1 5145:2",
     5, 0},
    {"mdecrevoisier/ID4624_4688_5140_5145-Eternal_Romance-MS17_010_psexec_GLOBAL", 46,
     "1102:1 4624:3 4672:3 4673:2 4688:5 4964:3 5140:5 5145:24", 0, 0},
    {"mdecrevoisier/ID4625-OpenSSH_brutforce_with_non_existing_users", 20,
     "1102:1 4624:1 4625:5 4627:1 4648:1 4672:1 4673:1 4688:2 4717:1 4718:1 4776:5", 0, 0},
    {"mdecrevoisier/ID4625-OpenSSH_brutforce_with_valid_users", 11, "4624:2 4625:5 4648:2 4688:2",
     0, 0},
    {"mdecrevoisier/ID4625-failed_login_with_denied_access_due_to_account_restriction", 2, "4625:2",
     0, 0},
    {"mdecrevoisier/ID4688-Clear_event_log_attempt_wmi", 2, "1102:1 4688:1", 0, 0},
    {"mdecrevoisier/ID4688-User_creation_via_commandline", 9,
     "4656:3 4688:2 4720:1 4722:1 4728:1 4732:1", 21, 0},
    {"mdecrevoisier/ID4688_4648_4624-Runas_execution_with_different_user", 9,
     "1102:1 4624:2 4648:1 4672:1 4688:4", 0, 0},
    {"mdecrevoisier/ID4720-4726_Fast_created-deleted_user", 2, "4720:1 4726:1", 0, 0},
    {"mdecrevoisier/ID4720-Local_user_created", 2, "4720:1 4732:1", 29, 0},
    {"mdecrevoisier/ID_4776_4625-AccountRestore_local_bruteforce", 16, "4625:16", 0, 0},
    {"sbousseaden/CA_4624_4625_LogonType2_LogonProc_chrome", 4, "4624:3 4625:1", 0, 0},
    {"sbousseaden/DE_RDP_Tunnel_5156", 101, "1102:1 4624:5 4648:3 4672:3 4688:17 5156:63 5158:9", 0,
     0},
};

/* The mapping the agent promises (docs/windows.md). */
static const struct {
	int id;
	const char *type;
	int severity;
} typed[] = {
    {4625, "LOGIN_FAIL", 3},	{4720, "ACCOUNT_CREATE", 4},	 {1102, "LOG_TAMPERING", 5},
    {4624, "LOGIN_SUCCESS", 1}, {4672, "SPECIAL_PRIVILEGES", 2}, {4688, "PROCESS_CREATE", 1},
};

static const char *data_dir(void)
{
	return test_data_dir("evtx/SOURCE.md");
}

static const char *need_data(void)
{
	const char *d = data_dir();
	if (!d)
		print_message("shared data not found (../shared/data or $SIEM_TEST_DATA): "
			      "skipping\n");
	return d;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open '%s'", path);
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)sz + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
	b[sz] = '\0';
	fclose(f);
	*n = (size_t)sz;
	return b;
}

/* strstr without the sanitizers' strlen of the whole (multi-MB) rest on every call. */
static const char *find(const char *p, const char *end, const char *needle)
{
	size_t k = strlen(needle);
	while (p && (size_t)(end - p) >= k) {
		if (!memcmp(p, needle, k))
			return p;
		p = memchr(p + 1, needle[0], (size_t)(end - p - 1));
	}
	return NULL;
}

static bool sv_eq(struct sv a, struct sv b)
{
	return !a.p == !b.p && a.n == b.n && (!a.p || !memcmp(a.p, b.p, a.n));
}

/* Everything the mapping produces, field by field (source and offset are the reader's). */
static void same_event(const struct event *a, const struct event *b, const char *what)
{
	static const char *const names[] = {"source_host", "os_type",	  "event_type",
					    "level",	   "source_ip",	  "user",
					    "message",	   "raw_message", "data"};
	const struct sv *fa[] = {&a->source_host, &a->os_type,	   &a->event_type,
				 &a->level,	  &a->source_ip,   &a->user,
				 &a->message,	  &a->raw_message, &a->data};
	const struct sv *fb[] = {&b->source_host, &b->os_type,	   &b->event_type,
				 &b->level,	  &b->source_ip,   &b->user,
				 &b->message,	  &b->raw_message, &b->data};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!sv_eq(*fa[i], *fb[i]))
			fail_msg("%s: %s differs: \"%.*s\" vs \"%.*s\"", what, names[i],
				 (int)(fa[i]->n > 200 ? 200 : fa[i]->n), fa[i]->p ? fa[i]->p : "",
				 (int)(fb[i]->n > 200 ? 200 : fb[i]->n), fb[i]->p ? fb[i]->p : "");
	if (memcmp(a->id, b->id, 16) || a->ts != b->ts || a->severity != b->severity ||
	    memcmp(a->ip, b->ip, 16) ||
	    (a->flags & ~(unsigned)EV_HAS_OFFSET) != (b->flags & ~(unsigned)EV_HAS_OFFSET))
		fail_msg("%s: id, ts, severity, ip or flags differ", what);
}

static int event_id(const struct event *ev)
{
	json_t *d = json_loadb(ev->data.p, ev->data.n, 0, NULL);
	assert_non_null(d);
	int id = (int)json_integer_value(json_object_get(d, "EventID"));
	json_decref(d);
	return id;
}

static const char *type_of(int id, int *severity)
{
	for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++)
		if (typed[i].id == id) {
			*severity = typed[i].severity;
			return typed[i].type;
		}
	*severity = 0;
	return NULL;
}

/* Per-file EventID counts as "id:count" text sorted by id, to compare with SOURCE.md. */
struct counts {
	int id[64], n[64], k;
};

static void count(struct counts *c, int id)
{
	int i = 0;
	while (i < c->k && c->id[i] != id)
		i++;
	if (i == c->k) {
		assert_true(c->k < 64);
		c->id[c->k] = id;
		c->n[c->k++] = 0;
	}
	c->n[i]++;
}

static void counts_text(struct counts *c, char *out, size_t outlen)
{
	for (int i = 0; i < c->k; i++) /* insertion sort by id */
		for (int j = i; j > 0 && c->id[j - 1] > c->id[j]; j--) {
			int t = c->id[j];
			c->id[j] = c->id[j - 1];
			c->id[j - 1] = t;
			t = c->n[j];
			c->n[j] = c->n[j - 1];
			c->n[j - 1] = t;
		}
	size_t o = 0;
	out[0] = '\0';
	for (int i = 0; i < c->k && o < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%d:%d", i ? " " : "", c->id[i],
				      c->n[i]);
}

/* Event types as "TYPE:count ..." sorted by name. */
struct tcounts {
	char name[64][32];
	int n[64], k;
};

static void tcount(struct tcounts *c, const char *name, int n)
{
	int i = 0;
	while (i < c->k && strcmp(c->name[i], name))
		i++;
	if (i == c->k) {
		assert_true(c->k < 64);
		snprintf(c->name[c->k], sizeof(c->name[0]), "%s", name);
		c->n[c->k++] = 0;
	}
	c->n[i] += n;
}

static int tcmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void tcounts_text(struct tcounts *c, char *out, size_t outlen)
{
	char lines[64][48];
	for (int i = 0; i < c->k; i++)
		snprintf(lines[i], sizeof(lines[i]), "%s:%d", c->name[i], c->n[i]);
	qsort(lines, (size_t)c->k, sizeof(lines[0]), tcmp);
	size_t o = 0;
	out[0] = '\0';
	for (int i = 0; i < c->k && o < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? " " : "", lines[i]);
}

static const char *type_name(int id, char buf[32])
{
	int sev;
	const char *t = type_of(id, &sev);
	if (t)
		return t;
	snprintf(buf, 32, "WINEVENT_%d", id);
	return buf;
}

/* SOURCE.md's "id:count ..." as event type counts through the mapping. */
static void want_types(const char *ids, char *out, size_t outlen)
{
	struct tcounts c = {0};
	const char *p = ids;
	int id, n, used;
	char buf[32];
	while (sscanf(p, "%d:%d%n", &id, &n, &used) == 2) {
		tcount(&c, type_name(id, buf), n);
		p += used;
	}
	tcounts_text(&c, out, outlen);
}

/* Check one event against the mapping; count its id and type. */
static void check_mapping(const struct event *ev, struct counts *ids, struct tcounts *types,
			  const char *what)
{
	int id = event_id(ev), sev;
	char buf[32];
	const char *want = type_name(id, buf);
	type_of(id, &sev);
	if (ev->event_type.n != strlen(want) || memcmp(ev->event_type.p, want, ev->event_type.n))
		fail_msg("%s: EventID %d is %.*s, want %s", what, id, (int)ev->event_type.n,
			 ev->event_type.p, want);
	if (sev && ev->severity != sev)
		fail_msg("%s: EventID %d severity %d, want %d", what, id, ev->severity, sev);
	assert_true(ev->os_type.n == 7 && !memcmp(ev->os_type.p, "WINDOWS", 7));
	assert_false(ev->flags & (EV_TS_MISSING | EV_TRUNC_DATA | EV_TRUNC_RAW));
	count(ids, id);
	snprintf(buf, sizeof(buf), "%.*s", (int)ev->event_type.n, ev->event_type.p);
	tcount(types, buf, 1);
}

static void test_files(void **state)
{
	(void)state;
	const char *dir = need_data();
	if (!dir)
		skip();
	struct arena ax, ae;
	arena_init(&ax, 0);
	arena_init(&ae, 0);
	int total = 0, typed_total[6] = {0};
	for (size_t f = 0; f < sizeof(samples) / sizeof(samples[0]); f++) {
		const struct sample *s = &samples[f];
		char path[1024], err[256], got[512];
		struct evtx_reader *r;
		struct counts ids = {0};
		struct tcounts types = {0};
		snprintf(path, sizeof(path), "%s/evtx/%s.evtx", dir, s->file);
		int rc = evtx_open(&r, path);
		if (rc)
			fail_msg("evtx_open(%s) = %d", path, rc);
		assert_int_equal(evtx_count(r), (size_t)(s->events + s->recovered - s->copies));

		/* the XML export, record by record, beside the file */
		size_t xn;
		snprintf(path, sizeof(path), "%s/evtx/%s.evtx.xml", dir, s->file);
		char *xml = slurp(path, &xn);
		const char *p = xml, *end = xml + xn;
		for (int i = 0; i < s->events; i++) {
			struct event ex, ee;
			char what[600];
			snprintf(what, sizeof(what), "%s record %d", s->file, i);
			p = find(p, end, "<Event xmlns=");
			if (!p)
				fail_msg("%s: the export has only %d events", s->file, i);
			const char *e = find(p, end, "</Event>");
			assert_non_null(e);
			e += strlen("</Event>");
			if ((rc =
				 winevent_from_xml(p, (size_t)(e - p), &ex, &ax, err, sizeof(err))))
				fail_msg("%s (xml): %s", what, err);
			p = e;
			if ((rc = evtx_read(r, (size_t)i, &ee, &ae, err, sizeof(err))))
				fail_msg("%s (evtx): %s", what, err);
			assert_true(ee.source.n == 4 && !memcmp(ee.source.p, "evtx", 4));
			assert_true(ee.flags & EV_HAS_OFFSET);
			assert_int_equal(ee.source_offset, i);
			same_event(&ex, &ee, what);
			check_mapping(&ee, &ids, &types, what);
			for (size_t t = 0; t < 6; t++)
				if (ee.event_type.n == strlen(typed[t].type) &&
				    !memcmp(ee.event_type.p, typed[t].type, ee.event_type.n))
					typed_total[t]++;
			arena_reset(&ax);
			arena_reset(&ae);
		}
		assert_null(find(p, end, "<Event xmlns=")); /* and no more in the export */
		free(xml);
		counts_text(&ids, got, sizeof(got));
		if (strcmp(got, s->ids))
			fail_msg("%s: event ids %s, want %s", s->file, got, s->ids);
		char want_t[512];
		want_types(s->ids, want_t, sizeof(want_t));
		tcounts_text(&types, got, sizeof(got));
		if (strcmp(got, want_t))
			fail_msg("%s: event types %s, want %s", s->file, got, want_t);
		total += s->events;
		evtx_close(r);
	}
	assert_int_equal(total, 3912);
	/* in typed[] order: 4625 = 3,590; 4720 = 4; 1102 = 8; 4624 = 17; 4672 = 9; 4688 = 58 */
	static const int want[6] = {3590, 4, 8, 17, 9, 58};
	for (size_t t = 0; t < 6; t++)
		if (typed_total[t] != want[t])
			fail_msg("%s: %d events, want %d", typed[t].type, typed_total[t], want[t]);
	arena_release(&ax);
	arena_release(&ae);
}

/* Deleted records libevtx recovers follow the live ones. In the brute-force file they are old
 * copies of live records (the same EventRecordID and written time): left out, so that each
 * record is sent once. In the Mimikatz file they are 5 records from before the log was
 * cleared. Elsewhere they are fragments whose XML is broken: rejected with a reason (dead
 * letters), never half-read. */
static void test_recovered(void **state)
{
	(void)state;
	const char *dir = need_data();
	if (!dir)
		skip();
	struct arena a;
	arena_init(&a, 0);
	for (size_t f = 0; f < sizeof(samples) / sizeof(samples[0]); f++) {
		const struct sample *s = &samples[f];
		if (!s->recovered)
			continue;
		char path[1024], err[256];
		struct evtx_reader *r;
		snprintf(path, sizeof(path), "%s/evtx/%s.evtx", dir, s->file);
		assert_int_equal(evtx_open(&r, path), 0);
		size_t live = (size_t)s->events, n = evtx_count(r), xn;
		/* the live records as the XML export has them (libevtx is slow under ASan) */
		snprintf(path, sizeof(path), "%s/evtx/%s.evtx.xml", dir, s->file);
		char *xml = slurp(path, &xn);
		const char **at = calloc(live, sizeof(*at)), *p = xml, *end = xml + xn;
		size_t *len = calloc(live, sizeof(*len));
		uint8_t(*ids)[16] = calloc(live, 16);
		assert_true(at && len && ids);
		struct event ev;
		for (size_t i = 0; i < live; i++) {
			at[i] = p = find(p, end, "<Event xmlns=");
			assert_non_null(p);
			p = find(p, end, "</Event>") + strlen("</Event>");
			len[i] = (size_t)(p - at[i]);
			assert_int_equal(
			    winevent_from_xml(at[i], len[i], &ev, &a, err, sizeof(err)), 0);
			memcpy(ids[i], ev.id, 16);
			arena_reset(&a);
		}
		int ok = 0, dup = 0, bad = 0;
		for (size_t i = live; i < n; i++) {
			int rc = evtx_read(r, i, &ev, &a, err, sizeof(err));
			if (rc) {
				assert_int_equal(rc, SIEM_EPARSE);
				assert_true(strlen(err) > 0);
				bad++;
				continue;
			}
			ok++;
			assert_true(ev.source.n == 14 &&
				    !memcmp(ev.source.p, "evtx-recovered", 14));
			for (size_t j = 0; j < live; j++)
				if (!memcmp(ids[j], ev.id, 16)) {
					/* the very same record: the same event */
					struct event lv;
					struct arena b;
					arena_init(&b, 0);
					assert_int_equal(winevent_from_xml(at[j], len[j], &lv, &b,
									   err, sizeof(err)),
							 0);
					same_event(&lv, &ev, s->file);
					arena_release(&b);
					dup++;
					break;
				}
			arena_reset(&a);
		}
		assert_int_equal(n, live + (size_t)(s->recovered - s->copies));
		assert_int_equal(dup, 0); /* no record is sent twice */
		if (!strcmp(s->file, "deepbluecli/smb-password-guessing-security")) {
			assert_int_equal(ok, 0);
			assert_int_equal(bad, 0);
		} else if (!strcmp(s->file, "mdecrevoisier/ID4624-Mimikatz_Pass_the_hash")) {
			assert_int_equal(ok, 5);
			assert_int_equal(dup, 0);
		} else {
			assert_int_equal(bad, s->recovered);
		}
		assert_int_equal(ok + bad, s->recovered - s->copies);
		free(ids);
		free(at);
		free(len);
		free(xml);
		evtx_close(r);
	}
	arena_release(&a);
}

static void test_errors(void **state)
{
	(void)state;
	struct evtx_reader *r = (struct evtx_reader *)1;
	assert_int_equal(evtx_open(&r, "/nonexistent/x.evtx"), -ENOENT);
	assert_null(r);
	assert_int_equal(evtx_open(&r, "/"), -EINVAL);
	/* a file that is not an evtx log */
	char tmp[] = "/tmp/test_evtx.XXXXXX";
	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ElfFile\0 but not really, just text", 35), 35);
	close(fd);
	assert_int_equal(evtx_open(&r, tmp), SIEM_EPARSE);
	unlink(tmp);
	assert_int_equal(evtx_count(NULL), 0);
	evtx_close(NULL);

	const char *dir = need_data();
	if (!dir)
		skip();
	char path[1024], err[256];
	struct arena a;
	struct event ev;
	arena_init(&a, 0);
	snprintf(path, sizeof(path), "%s/evtx/deepbluecli/new-user-security.evtx", dir);
	assert_int_equal(evtx_open(&r, path), 0);
	assert_int_equal(evtx_count(r), 4);
	assert_int_equal(evtx_read(r, 4, &ev, &a, err, sizeof(err)), SIEM_ENOTFOUND);
	assert_non_null(strstr(err, "does not exist"));
	assert_int_equal(evtx_read(r, 1, &ev, &a, err, sizeof(err)), 0);
	assert_true(ev.event_type.n == 14 && !memcmp(ev.event_type.p, "ACCOUNT_CREATE", 14));
	assert_true(ev.source_file.n == strlen(path) &&
		    !memcmp(ev.source_file.p, path, ev.source_file.n));
	evtx_close(r);
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_recovered),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
