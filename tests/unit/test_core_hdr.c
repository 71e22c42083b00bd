/* The log-linear latency histogram (core/hdr.h): exact below 128, never
 * below and at most 1/64 above the true quantile of a known sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hdr.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void t_empty_and_small(void **s)
{
    (void)s;
    static core_hdr h;
    core_hdr_reset(&h);
    assert_int_equal(core_hdr_quantile(&h, 0.5), 0);
    for (int v = 0; v < 100; v++)
        core_hdr_observe(&h, v);
    assert_int_equal(core_hdr_count(&h), 100);
    assert_int_equal(core_hdr_quantile(&h, 0.5), 49);  /* the 50th of 0..99 */
    assert_int_equal(core_hdr_quantile(&h, 0.99), 98); /* the 99th */
    assert_int_equal(core_hdr_quantile(&h, 1.0), 99);
    assert_int_equal(core_hdr_max(&h), 99);
    core_hdr_observe(&h, -5); /* counts as 0 */
    assert_int_equal(core_hdr_quantile(&h, 0.0), 0);
}

/* Random values spread over six decades: every quantile within the bound. */
static void t_relative_error(void **s)
{
    (void)s;
    static core_hdr h;
    core_hdr_reset(&h);
    enum { N = 200000 };
    int64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    srand(7);
    for (int i = 0; i < N; i++) {
        int decade = rand() % 7;
        int64_t x = (int64_t)(rand() % 1000000);
        for (int d = 0; d < decade; d++)
            x = x * 10 + rand() % 10;
        v[i] = x % (INT64_C(1) << 39);
        core_hdr_observe(&h, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_i64);
    const double qs[] = {0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};
    for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
        size_t rank = (size_t)((double)N * qs[k] + 0.999999);
        int64_t truth = v[rank ? rank - 1 : 0];
        int64_t got = core_hdr_quantile(&h, qs[k]);
        assert_true(got >= truth);
        assert_true((double)(got - truth) <= (double)truth / 64.0 + 1.0);
    }
    assert_int_equal(core_hdr_max(&h), v[N - 1]);
    assert_int_equal(core_hdr_quantile(&h, 1.0), v[N - 1]);
    free(v);
}

/* The largest values land in the last bucket, not past the array. */
static void t_range(void **s)
{
    (void)s;
    static core_hdr h;
    core_hdr_reset(&h);
    core_hdr_observe(&h, INT64_MAX);
    core_hdr_observe(&h, (INT64_C(1) << 40) - 1);
    assert_int_equal(core_hdr_count(&h), 2);
    assert_int_equal(core_hdr_quantile(&h, 0.5), (INT64_C(1) << 40) - 1);
    core_hdr_observe(&h, 1000000); /* 1 s in us */
    int64_t p = core_hdr_quantile(&h, 0.3);
    assert_true(p >= 1000000 && p <= 1000000 + 1000000 / 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_empty_and_small),
        cmocka_unit_test(t_relative_error),
        cmocka_unit_test(t_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
