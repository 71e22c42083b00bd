/* The decoder registry and the message -> N events contract: the table
 * finds the configured format, the collector's limits come from the
 * config, and a message holding several events (through a decoder this
 * test registers) becomes one COPY row per event, each with the message's
 * coordinates and its own index, or one dead letter naming the refused
 * event; the offset moves past the message either way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "collector/batch.h"
#include "collector/collector.h"

#define EV(id) "{\"event_id\":\"" id "\",\"ts\":1,\"api_key_id\":\"k\",\"model\":\"m\"," \
               "\"model_version\":\"v\"}"

/* A test-only format: one native event per line. A bad line refuses the
 * message, naming its index. */
static int decode_lines(const coll_limits *lim, const void *buf, size_t len, coll_decoded *out,
                        char *err, size_t errlen)
{
    const char *p = buf, *end = p + len;
    for (long i = 0; p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        core_event *ev = coll_decoded_add(out, err, errlen);
        if (!ev)
            return -1;
        if (coll_decode_native(lim, p, n, ev, err, errlen) < 0) {
            out->failed_at = i; /* its slot stays in out: coll_decode clears it */
            return -1;
        }
        p += n + (nl != NULL);
    }
    return 0;
}

static const coll_decoder g_lines = {"test-lines", decode_lines, NULL, false};

static int setup(void **state)
{
    (void)state;
    return coll_decoder_register(&g_lines);
}

static void registry_finds_the_configured_format(void **state)
{
    (void)state;
    core_config cfg;
    core_config_defaults(&cfg);
    assert_ptr_equal(coll_decoder_for(&cfg), &coll_decoder_native);
    assert_ptr_equal(coll_decoder_find("native"), &coll_decoder_native);
    assert_ptr_equal(coll_decoder_find("test-lines"), &g_lines);
    assert_null(coll_decoder_find("otel"));
    assert_null(coll_decoder_find(""));
    assert_null(coll_decoder_find(NULL));
    /* a name is registered once, and built-in names are taken */
    assert_int_equal(coll_decoder_register(&g_lines), -1);
    const coll_decoder twin = {"native", decode_lines, NULL, false};
    assert_int_equal(coll_decoder_register(&twin), -1);
    assert_ptr_equal(coll_decoder_find("native"), &coll_decoder_native);

    char *fmt = cfg.coll_format;
    cfg.coll_format = "test-lines";
    assert_ptr_equal(coll_decoder_for(&cfg), &g_lines);
    cfg.coll_format = fmt;
    core_config_free(&cfg);
}

static void limits_come_from_the_config(void **state)
{
    (void)state;
    core_config cfg;
    core_config_defaults(&cfg);
    coll_limits d = coll_limits_default(), l = coll_limits_from_config(&cfg);
    assert_memory_equal(&d, &l, sizeof d); /* the config table's defaults */
    assert_int_equal(d.max_message_bytes, 1 << 20);
    assert_int_equal(d.prompt_max_bytes, 32 << 10);
    assert_int_equal(d.response_max_bytes, 64 << 10);
    assert_int_equal(d.attrs_max_bytes, 64 << 10);
    /* each setting lands in its own field */
    cfg.coll_max_message_bytes = 5001;
    cfg.coll_prompt_max_bytes = 5002;
    cfg.coll_response_max_bytes = 5003;
    cfg.coll_attrs_max_bytes = 5004;
    l = coll_limits_from_config(&cfg);
    assert_int_equal(l.max_message_bytes, 5001);
    assert_int_equal(l.prompt_max_bytes, 5002);
    assert_int_equal(l.response_max_bytes, 5003);
    assert_int_equal(l.attrs_max_bytes, 5004);
    core_config_free(&cfg);
}

static void native_row_is_one_message_one_event(void **state)
{
    (void)state;
    coll_limits lim = coll_limits_default();
    coll_decoded out = {0};
    char err[256], want[256];
    const char *good = EV("n1");
    assert_int_equal(coll_decode(&coll_decoder_native, &lim, good, strlen(good), &out, err,
                                 sizeof err), 0);
    assert_int_equal(out.n, 1);
    assert_string_equal(out.evs[0].event_id, "n1");
    /* refused: the native reason, word for word, and nothing left in out */
    const char *bad = "{\"event_id\":\"n2\"}";
    core_event ev = {0};
    assert_int_equal(coll_decode_native(&lim, bad, strlen(bad), &ev, want, sizeof want), -1);
    assert_int_equal(coll_decode(&coll_decoder_native, &lim, bad, strlen(bad), &out, err,
                                 sizeof err), -1);
    assert_string_equal(err, want);
    assert_int_equal(out.n, 0);
    assert_int_equal(out.failed_at, -1);
    coll_decoded_free(&out);
    assert_null(out.evs);
}

static void decoded_holds_a_bounded_number_of_events(void **state)
{
    (void)state;
    coll_decoded out = {0};
    char err[128];
    for (size_t i = 0; i < COLL_DECODED_MAX; i++)
        assert_non_null(coll_decoded_add(&out, err, sizeof err));
    assert_null(coll_decoded_add(&out, err, sizeof err));
    assert_string_equal(err, "the message holds more than 65536 events");
    assert_int_equal(out.n, COLL_DECODED_MAX);
    coll_decoded_reset(&out);
    assert_int_equal(out.n, 0);
    assert_non_null(coll_decoded_add(&out, err, sizeof err)); /* storage kept */
    coll_decoded_free(&out);
}

/* The n-th tab-separated field of COPY row number row in b (0-based). */
static void copy_field(const coll_buf *b, size_t row, int field, char *out, size_t cap)
{
    const char *p = b->data, *end = b->data + b->len;
    for (size_t r = 0; r < row; r++)
        p = memchr(p, '\n', (size_t)(end - p)) + 1;
    for (int f = 0; f < field; f++)
        p = memchr(p, '\t', (size_t)(end - p)) + 1;
    size_t n = strcspn(p, "\t\n");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void message_of_many_events_keeps_each_ones_coordinates(void **state)
{
    (void)state;
    coll_intake in = {.dec = coll_decoder_find("test-lines"), .lim = coll_limits_default(),
                      .raw_max = 1 << 20, .keep_events = true};
    coll_batch *b = calloc(1, sizeof *b);
    assert_non_null(b);
    char err[256], f[64];
    size_t kept = 0;

    /* three events in one message at offset 41 */
    const char *three = EV("a") "\n" EV("b") "\n" EV("c");
    coll_msg m = {"t.events", 3, 41, 1700000000123, three, strlen(three), "key", 3};
    assert_int_equal(coll_batch_add_message(b, &in, &m, &kept, err, sizeof err), 0);
    assert_int_equal(b->n_msgs, 1);
    assert_int_equal(b->n_rows, 3);
    assert_int_equal(b->n_at, 3);
    assert_int_equal(b->n_evs, 3);
    assert_int_equal(b->n_rej, 0);
    assert_int_equal(b->next_offset, 42);
    assert_true(kept > 0);
    const char *ids[] = {"a", "b", "c"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(b->at[i].offset, 41);
        assert_int_equal(b->at[i].index, i);
        assert_int_equal(b->at[i].count, 3);
        const core_event *ev = &b->evs[i];
        assert_string_equal(ev->event_id, ids[i]);
        assert_string_equal(ev->topic, "t.events");
        assert_ptr_not_equal(ev->topic, m.topic); /* the event's own copy */
        assert_int_equal(ev->partition, 3);
        assert_int_equal(ev->offset, 41);
        assert_int_equal(ev->kafka_ts_ms, 1700000000123);
        copy_field(&b->copy, i, 1, f, sizeof f);
        assert_string_equal(f, ids[i]);
        copy_field(&b->copy, i, 21, f, sizeof f);
        assert_string_equal(f, "t.events");
        copy_field(&b->copy, i, 22, f, sizeof f);
        assert_string_equal(f, "3");
        copy_field(&b->copy, i, 23, f, sizeof f);
        assert_string_equal(f, "41");
    }

    /* a bad second event refuses the message: one dead letter at its
     * offset, naming the event, and no row of it */
    const char *bad = EV("d") "\n{\"event_id\":\"e\"}\n" EV("f");
    coll_msg m2 = {"t.events", 3, 42, 1700000000200, bad, strlen(bad), "key2", 4};
    assert_int_equal(coll_batch_add_message(b, &in, &m2, &kept, err, sizeof err), 1);
    assert_string_equal(err, "event 1: required field ts is missing");
    assert_int_equal(kept, 0);
    assert_int_equal(b->n_rows, 3);
    assert_int_equal(b->n_at, 3);
    assert_int_equal(b->n_evs, 3);
    assert_int_equal(b->n_rej, 1);
    assert_int_equal(b->rej[0].offset, 42);
    assert_int_equal(b->rej[0].kafka_ts_ms, 1700000000200);
    assert_string_equal(b->rej[0].reason, "event 1: required field ts is missing");
    assert_int_equal(b->rej[0].raw_size, strlen(bad));
    assert_memory_equal(b->rej[0].raw, bad, strlen(bad));
    assert_int_equal(b->rej[0].key_len, 4);
    assert_memory_equal(b->rej[0].key, "key2", 4);
    assert_int_equal(b->next_offset, 43);
    assert_int_equal(b->n_msgs, 2);

    /* a message with no event still moves the offset */
    coll_msg m3 = {"t.events", 3, 43, -1, "", 0, NULL, 0};
    assert_int_equal(coll_batch_add_message(b, &in, &m3, &kept, err, sizeof err), 0);
    assert_int_equal(b->n_rows, 3);
    assert_int_equal(b->n_rej, 1);
    assert_int_equal(b->next_offset, 44);
    assert_int_equal(b->n_msgs, 3);
    /* the latency clock: one Kafka timestamp per message */
    assert_int_equal(b->n_kts, 3);
    coll_batch_free(b);
    coll_decoded_free(&in.out);
}

static void one_event_formats_keep_their_reasons(void **state)
{
    (void)state;
    coll_intake in = {.dec = &coll_decoder_native, .lim = coll_limits_default(),
                      .raw_max = 4, .keep_events = false};
    coll_batch *b = calloc(1, sizeof *b);
    assert_non_null(b);
    char err[256];
    size_t kept = 7;
    const char *good = EV("g");
    coll_msg m = {"t", 0, 5, -1, good, strlen(good), NULL, 0};
    assert_int_equal(coll_batch_add_message(b, &in, &m, &kept, err, sizeof err), 0);
    assert_int_equal(kept, 0); /* nothing kept without a sink */
    assert_int_equal(b->n_rows, 1);
    assert_int_equal(b->n_evs, 0);
    assert_int_equal(b->at[0].offset, 5);
    assert_int_equal(b->at[0].index, 0);
    assert_int_equal(b->at[0].count, 1);
    coll_msg m2 = {"t", 0, 6, -1, "[1]", 3, NULL, 0};
    assert_int_equal(coll_batch_add_message(b, &in, &m2, &kept, err, sizeof err), 1);
    assert_string_equal(b->rej[0].reason, "the message is an array, not a JSON object");
    assert_int_equal(b->rej[0].raw_len, 3);
    assert_int_equal(b->next_offset, 7);
    coll_batch_free(b);
    coll_decoded_free(&in.out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_finds_the_configured_format),
        cmocka_unit_test(limits_come_from_the_config),
        cmocka_unit_test(native_row_is_one_message_one_event),
        cmocka_unit_test(decoded_holds_a_bounded_number_of_events),
        cmocka_unit_test(message_of_many_events_keeps_each_ones_coordinates),
        cmocka_unit_test(one_event_formats_keep_their_reasons),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
