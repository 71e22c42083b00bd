/* The core runtime: back-off, bounded queue, metrics registry, signals. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/backoff.h"
#include "core/metrics.h"
#include "core/queue.h"
#include "core/signals.h"

static void t_backoff(void **s)
{
    (void)s;
    core_backoff b;
    core_backoff_init(&b, 100, 1000);
    int64_t want[] = {100, 200, 400, 800, 1000, 1000};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(core_backoff_next(&b), want[i]);
    core_backoff_reset(&b);
    assert_int_equal(core_backoff_next(&b), 100);
    core_backoff_init(&b, 0, 0); /* nonsense bounds are clamped, never 0 */
    assert_int_equal(core_backoff_next(&b), 1);
    assert_int_equal(core_backoff_next(&b), 1);
}

static void t_queue_drop_and_weight(void **s)
{
    (void)s;
    core_queue *q = core_queue_new(10);
    int a, b, c;
    assert_int_equal(core_queue_push(q, &a, 6, CORE_QUEUE_DROP, NULL), CORE_QUEUE_OK);
    assert_int_equal(core_queue_push(q, &b, 5, CORE_QUEUE_DROP, NULL), CORE_QUEUE_FULL);
    assert_int_equal(core_queue_push(q, &b, 4, CORE_QUEUE_DROP, NULL), CORE_QUEUE_OK);
    assert_int_equal(core_queue_weight(q), 10);
    assert_int_equal(core_queue_len(q), 2);
    size_t w = 0;
    assert_ptr_equal(core_queue_pop(q, 0, &w), &a);
    assert_int_equal(w, 6);
    assert_ptr_equal(core_queue_pop(q, 0, &w), &b);
    assert_null(core_queue_pop(q, 0, NULL)); /* empty: the timeout */
    /* heavier than the whole queue: still taken when the queue is empty */
    assert_int_equal(core_queue_push(q, &c, 50, CORE_QUEUE_DROP, NULL), CORE_QUEUE_OK);
    assert_int_equal(core_queue_push(q, &a, 1, CORE_QUEUE_DROP, NULL), CORE_QUEUE_FULL);
    assert_true(core_queue_push_front(q, &b, 1));
    assert_ptr_equal(core_queue_pop(q, 0, NULL), &b);
    core_queue_close(q);
    assert_int_equal(core_queue_push(q, &a, 1, CORE_QUEUE_BLOCK, NULL), CORE_QUEUE_CLOSED);
    assert_ptr_equal(core_queue_pop(q, -1, NULL), &c); /* closed: drains, then NULL */
    assert_null(core_queue_pop(q, -1, NULL));
    core_queue_free(q, NULL);
}

static void *consumer(void *arg)
{
    core_queue *q = arg;
    intptr_t sum = 0;
    void *it;
    while ((it = core_queue_pop(q, -1, NULL)))
        sum += (intptr_t)it;
    return (void *)sum;
}

/* A producer blocked on a full queue goes on as the consumer takes items;
 * nothing is lost or duplicated. */
static void t_queue_block(void **s)
{
    (void)s;
    core_queue *q = core_queue_new(4);
    pthread_t th;
    pthread_create(&th, NULL, consumer, q);
    intptr_t want = 0;
    bool any_wait = false;
    for (intptr_t i = 1; i <= 20000; i++) {
        bool waited;
        assert_int_equal(core_queue_push(q, (void *)i, 1, CORE_QUEUE_BLOCK, &waited),
                         CORE_QUEUE_OK);
        any_wait |= waited;
        want += i;
    }
    core_queue_close(q);
    void *got;
    pthread_join(th, &got);
    assert_int_equal((intptr_t)got, want);
    (void)any_wait; /* whether it ever waited depends on scheduling */
    core_queue_free(q, NULL);
}

static CORE_METRIC_DEFINE(t_m_b, CORE_COUNTER, "custos_test_b_total", "test counter b")
static CORE_METRIC_DEFINE(t_m_a, CORE_GAUGE, "custos_test_a", "test gauge a")
static void render_family(core_metrics_out *out)
{
    core_metrics_header(out, "custos_test_c", "gauge", "test family");
    core_metrics_printf(out, "custos_test_c{x=\"1\"} 7\n");
}
CORE_METRICS_FAMILY_DEFINE(g_test_family, "custos_test_c", render_family)

static void t_metrics(void **s)
{
    (void)s;
    core_metric_add(&t_m_b, 3);
    core_metric_set(&t_m_a, 42);
    core_metric_sub(&t_m_a, 2);
    assert_int_equal(core_metrics_value("custos_test_b_total"), 3);
    assert_int_equal(core_metrics_value("custos_test_a"), 40);
    assert_int_equal(core_metrics_value("custos_no_such"), 0);
    size_t len = 0;
    char *text = core_metrics_render(&len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    const char *a = strstr(text, "# HELP custos_test_a test gauge a\n# TYPE custos_test_a gauge\n"
                                 "custos_test_a 40\n");
    const char *b = strstr(text, "# TYPE custos_test_b_total counter\ncustos_test_b_total 3\n");
    const char *c = strstr(text, "custos_test_c{x=\"1\"} 7\n");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(a < b && b < c); /* sorted by name */
    free(text);

    core_histogram h = {0};
    assert_int_equal(core_histogram_quantile_us(&h, 0.5), 0);
    for (int i = 0; i < 99; i++)
        core_histogram_observe_us(&h, 1800); /* the 2 ms bucket */
    core_histogram_observe_us(&h, 9000000); /* overflow */
    assert_int_equal(core_histogram_quantile_us(&h, 0.5), 2000);
    assert_int_equal(core_histogram_quantile_us(&h, 1.0), 16000000);
}

static void t_signals(void **s)
{
    (void)s;
    core_signals_install();
    unsigned g = core_reload_generation();
    raise(SIGHUP);
    assert_int_equal(core_reload_generation(), g + 1);
    assert_int_equal(core_stop, 0);
    raise(SIGTERM);
    assert_int_not_equal(core_stop, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_backoff),      cmocka_unit_test(t_queue_drop_and_weight),
        cmocka_unit_test(t_queue_block),  cmocka_unit_test(t_metrics),
        cmocka_unit_test(t_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
