/* The analytics' event-time clock at the edges (issue 13): one event far in
 * the future must not move the clock, evict every key as idle nor make
 * every later event late; a real jump (traffic resuming after a long
 * pause) still moves it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "analytics/an_detectors.h"
#include "analytics/an_engine.h"
#include "analytics/an_features.h"
#include "analytics/an_grouping.h"
#include "analytics/an_rules.h"
#include "collector/decode.h"

#define T0 1795132800LL /* 2026-11-20T00:00:00Z, seconds */

static void on_incident(void *ud, const an_incident_view *v)
{
    (void)ud;
    (void)v;
}

static void push(an_engine *e, long long ts_s, const char *key, int n)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"event_id\":\"e-%s-%lld-%d\",\"ts\":%lld,\"api_key_id\":\"%s\",\"model\":\"m\","
             "\"model_version\":\"v1\",\"prompt\":\"hello\",\"response\":\"hi\",\"status\":200}",
             key, ts_s, n, ts_s, key);
    coll_limits lim = coll_limits_default();
    core_event ev = {0};
    char err[256];
    if (coll_decode_native(&lim, json, strlen(json), &ev, err, sizeof err) != 0)
        fail_msg("decode: %s", err);
    assert_int_equal(an_engine_push(e, &ev, 0, 0), 0);
    core_event_clear(&ev);
}

static an_engine *engine(core_config *cfg)
{
    char err[512];
    core_config_defaults(cfg);
    an_callbacks cb = {on_incident, NULL, NULL};
    an_engine *e = an_engine_new(cfg, &cb, err, sizeof err);
    if (!e)
        fail_msg("engine: %s", err);
    return e;
}

static void one_future_event_moves_nothing(void **state)
{
    (void)state;
    core_config cfg;
    an_engine *e = engine(&cfg);
    char key[32];
    /* 50 keys over the first hour */
    for (int m = 0; m < 60; m++)
        for (int k = 0; k < 50; k++) {
            snprintf(key, sizeof key, "k%02d", k);
            push(e, T0 + m * 60 + k, key, m);
        }
    /* one event in 2099 (the decoder's last accepted year) */
    push(e, 4102444000LL, "k-future", 0);
    /* and the same keys for the next 8 hours, past key_idle_ms (6 h) */
    for (int m = 60; m < 8 * 60; m += 2)
        for (int k = 0; k < 50; k++) {
            snprintf(key, sizeof key, "k%02d", k);
            push(e, T0 + m * 60 + k, key, m);
        }
    an_engine_finish(e);
    an_engine_stats st;
    an_engine_stats_get(e, &st);
    print_message("  events=%llu late=%llu evicted=%llu keys=%llu outliers=%llu\n",
                  (unsigned long long)st.events, (unsigned long long)st.late,
                  (unsigned long long)st.keys_evicted, (unsigned long long)st.keys,
                  (unsigned long long)st.clock_outliers);
    assert_int_equal(st.late, 0);
    assert_int_equal(st.keys_evicted, 0);
    assert_int_equal(st.clock_outliers, 1);
    assert_int_equal(st.keys, 51);
    an_engine_free(e);
    core_config_free(&cfg);
}

static void resumed_traffic_moves_the_clock(void **state)
{
    (void)state;
    core_config cfg;
    an_engine *e = engine(&cfg);
    push(e, T0, "k-old", 0);
    /* a day of silence, then traffic: the second event confirms the jump */
    push(e, T0 + 86400, "k-new", 0);
    push(e, T0 + 86400 + 60, "k-new", 1);
    /* an event two minutes later still counts as in order; the old key,
     * idle for a day, goes at the next minute's sweep */
    push(e, T0 + 86400 + 180, "k-new", 2);
    an_engine_finish(e);
    an_engine_stats st;
    an_engine_stats_get(e, &st);
    print_message("  late=%llu evicted=%llu outliers=%llu\n", (unsigned long long)st.late,
                  (unsigned long long)st.keys_evicted, (unsigned long long)st.clock_outliers);
    assert_int_equal(st.late, 0);
    assert_int_equal(st.clock_outliers, 1);
    assert_int_equal(st.keys_evicted, 1);
    an_engine_free(e);
    core_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_future_event_moves_nothing),
        cmocka_unit_test(resumed_traffic_moves_the_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
