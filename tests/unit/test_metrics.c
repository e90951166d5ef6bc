/* test_metrics.c — the metrics registry's histograms (bucket bounds inclusive, cumulative
 * buckets, +Inf and _count equal, _sum in seconds), families rendered after the static
 * metrics until they are unregistered, and the per-stage counters (small batches sampled). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/metrics.h"

static void test_histogram_buckets_are_cumulative(void **state)
{
	(void)state;
	struct metric_histogram h;
	memset(&h, 0, sizeof(h));
	metric_histogram_observe(&h, 5000);	/* 5 ms: the first bucket, its bound included */
	metric_histogram_observe(&h, 5001);	/* just over: 0.01 */
	metric_histogram_observe(&h, 2000000);	/* 2 s: 2.5 */
	metric_histogram_observe(&h, 20000000); /* 20 s: past every bound */
	metric_histogram_observe(&h, -3);	/* a clock step back counts as 0 */
	struct strbuf b;
	strbuf_init(&b, 1 << 16);
	assert_int_equal(
	    metric_histogram_render(&b, "x_seconds", "route=\"/a/{id}\",method=\"GET\"", &h), 0);
	const char *want = "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"0.005\"} 2\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"0.01\"} 3\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"0.025\"} 3\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"0.05\"} 3\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"0.1\"} 3\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"0.25\"} 3\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"0.5\"} 3\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"1\"} 3\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"2.5\"} 4\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"5\"} 4\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"10\"} 4\n"
			   "x_seconds_bucket{route=\"/a/{id}\",method=\"GET\",le=\"+Inf\"} 5\n"
			   "x_seconds_sum{route=\"/a/{id}\",method=\"GET\"} 22.010001\n"
			   "x_seconds_count{route=\"/a/{id}\",method=\"GET\"} 5\n";
	assert_string_equal(b.p, want);
	strbuf_release(&b);
}

static void test_histogram_without_labels(void **state)
{
	(void)state;
	struct metric_histogram h;
	memset(&h, 0, sizeof(h));
	metric_histogram_observe(&h, 100);
	struct strbuf b;
	strbuf_init(&b, 1 << 16);
	assert_int_equal(metric_histogram_render(&b, "y", NULL, &h), 0);
	assert_non_null(strstr(b.p, "y_bucket{le=\"0.005\"} 1\n"));
	assert_non_null(strstr(b.p, "y_sum 0.000100\ny_count 1\n"));
	strbuf_release(&b);
}

static int render_fam(struct strbuf *out, void *arg)
{
	return strbuf_addf(out, "fam_total{k=\"%s\"} 1\n", (const char *)arg);
}

static void test_family_rendered_until_unregistered(void **state)
{
	(void)state;
	static struct metric m = METRIC_COUNTER_INIT("static_total", NULL, "A static counter.");
	static struct metric_family f = {render_fam, "v", NULL};
	metric_register(&m);
	metric_family_register(&f);
	metric_family_register(&f); /* twice is once */
	struct strbuf b;
	strbuf_init(&b, 1 << 16);
	assert_int_equal(metrics_render(&b), 0);
	const char *s = strstr(b.p, "static_total 0\n"),
		   *fam = strstr(b.p, "fam_total{k=\"v\"} 1\n");
	assert_non_null(s);
	assert_non_null(fam);
	assert_true(fam > s); /* after the static metrics */
	assert_null(strstr(fam + 1, "fam_total"));
	strbuf_release(&b);
	metric_family_unregister(&f);
	strbuf_init(&b, 1 << 16);
	assert_int_equal(metrics_render(&b), 0);
	assert_null(strstr(b.p, "fam_total"));
	strbuf_release(&b);
}

/* Busy work the compiler cannot drop. */
static volatile uint64_t sink;
static void burn(void)
{
	uint64_t x = 1;
	for (int i = 0; i < 200000; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	sink = x;
}

static void test_stage_small_batches_sampled(void **state)
{
	(void)state;
	int64_t ns0, ns1;
	uint64_t ev0, ev1;
	stage_get(STAGE_NORMALIZE, &ns0, &ev0);
	/* Of 32 batches of one event, two are timed, each counting 16 times over. */
	int timed = 0;
	for (int i = 0; i < 2 * STAGE_SAMPLE_EVERY; i++) {
		struct stage_timer t;
		stage_start(&t, 1);
		if (t.weight) {
			assert_int_equal(t.weight, STAGE_SAMPLE_EVERY);
			timed++;
		}
		burn();
		stage_lap(&t, STAGE_NORMALIZE, 1);
	}
	assert_int_equal(timed, 2);
	stage_get(STAGE_NORMALIZE, &ns1, &ev1);
	assert_int_equal(ev1 - ev0, 2 * STAGE_SAMPLE_EVERY);
	assert_true(ns1 > ns0);

	/* A batch of STAGE_SAMPLE_MIN events is always timed, lap after lap. */
	for (int i = 0; i < 3; i++) {
		struct stage_timer t;
		stage_start(&t, STAGE_SAMPLE_MIN);
		assert_int_equal(t.weight, 1);
		stage_get(STAGE_PARSE, &ns0, &ev0);
		burn();
		stage_lap(&t, STAGE_PARSE, STAGE_SAMPLE_MIN);
		stage_get(STAGE_PARSE, &ns1, &ev1);
		assert_true(ns1 > ns0);
		assert_int_equal(ev1 - ev0, STAGE_SAMPLE_MIN);
	}

	struct strbuf b;
	strbuf_init(&b, 1 << 16);
	assert_int_equal(metrics_render(&b), 0);
	assert_non_null(strstr(b.p, "# TYPE minisiem_stage_cpu_seconds_total counter\n"));
	assert_non_null(strstr(b.p, "minisiem_stage_events_total{stage=\"normalize\"} 32\n"));
	assert_non_null(strstr(b.p, "minisiem_stage_events_total{stage=\"parse\"} 48\n"));
	assert_non_null(
	    strstr(b.p, "minisiem_stage_cpu_seconds_total{stage=\"indexer\"} 0.000000000\n"));
	strbuf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_histogram_buckets_are_cumulative),
	    cmocka_unit_test(test_histogram_without_labels),
	    cmocka_unit_test(test_family_rendered_until_unregistered),
	    cmocka_unit_test(test_stage_small_batches_sampled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
