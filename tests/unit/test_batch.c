/* Batching: COPY text rows (escaping, NULLs, times), COPY binary tuples
 * (their bytes, and read back as the text rows) and dead letters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "collector/batch.h"
#include "collector/collector.h"

static void decode_ok(const char *json, core_event *ev)
{
    coll_limits lim = coll_limits_default();
    char err[256];
    memset(ev, 0, sizeof *ev);
    int rc = coll_decode_native(&lim, json, strlen(json), ev, err, sizeof err);
    if (rc != 0)
        fail_msg("decode failed: %s", err);
}

/* Splits a COPY row (without its newline) into fields. */
static int fields(char *row, char **out, int max)
{
    int n = 0;
    out[n++] = row;
    for (char *p = row; *p && n < max; p++)
        if (*p == '\t') {
            *p = '\0';
            out[n++] = p + 1;
        }
    return n;
}

static void test_minimal_row_has_nulls(void **state)
{
    (void)state;
    core_event ev;
    decode_ok("{\"event_id\":\"e1\",\"ts\":0,\"api_key_id\":\"k\",\"model\":\"m\","
              "\"model_version\":\"v\"}", &ev);
    coll_buf b = {0};
    assert_int_equal(coll_copy_row(&b, &ev), 0);
    assert_true(b.len > 0 && b.data[b.len - 1] == '\n');
    b.data[b.len - 1] = '\0';
    char *f[32];
    assert_int_equal(fields(b.data, f, 32), 25);
    assert_string_equal(f[0], "1970-01-01T00:00:00.000000Z");
    assert_string_equal(f[1], "e1");
    assert_string_equal(f[5], "\\N");   /* tenant */
    assert_string_equal(f[9], "\\N");   /* prompt */
    assert_string_equal(f[11], "f");    /* prompt_truncated */
    assert_string_equal(f[13], "\\N");  /* prompt_tokens */
    assert_string_equal(f[18], "\\N");  /* refusal */
    assert_string_equal(f[22], "\\N");  /* kafka_partition (offline) */
    assert_string_equal(f[24], "\\N");  /* kafka_ts */
    coll_buf_free(&b);
    core_event_clear(&ev);
}

static void test_text_is_escaped(void **state)
{
    (void)state;
    core_event ev;
    decode_ok("{\"event_id\":\"e2\",\"ts\":\"2026-11-21T13:04:00.5+01:00\",\"api_key_id\":\"k\","
              "\"model\":\"m\",\"model_version\":\"v\",\"prompt\":\"a\\tb\\nc\\\\d\\re\","
              "\"response\":\"ok\",\"refusal\":true,\"prompt_tokens\":3,\"latency_ms\":1.25,"
              "\"scores\":{\"tox\":0.5},\"attrs\":{\"x\":[1,\"\\t\"]}}", &ev);
    ev.topic = "t";
    ev.partition = 7;
    ev.offset = 42;
    ev.kafka_ts_ms = 1000;
    coll_buf b = {0};
    assert_int_equal(coll_copy_row(&b, &ev), 0);
    /* exactly one newline: the row's end */
    assert_ptr_equal(memchr(b.data, '\n', b.len), b.data + b.len - 1);
    b.data[b.len - 1] = '\0';
    char *f[32];
    assert_int_equal(fields(b.data, f, 32), 25);
    assert_string_equal(f[0], "2026-11-21T12:04:00.500000Z");
    assert_string_equal(f[9], "a\\tb\\nc\\\\d\\re");
    assert_string_equal(f[13], "3");
    assert_string_equal(f[15], "1.25");
    assert_string_equal(f[18], "t");
    assert_string_equal(f[19], "{\"tox\":0.5}");
    /* cJSON prints the tab inside attrs as \t, which COPY must see as \\t */
    assert_string_equal(f[20], "{\"x\":[1,\"\\\\t\"]}");
    assert_string_equal(f[21], "t");
    assert_string_equal(f[22], "7");
    assert_string_equal(f[23], "42");
    assert_string_equal(f[24], "1970-01-01T00:00:01.000000Z");
    coll_buf_free(&b);
    core_event_clear(&ev);
}

static void test_reject_keeps_coordinates_and_caps_raw(void **state)
{
    (void)state;
    coll_batch *b = calloc(1, sizeof *b);
    assert_non_null(b);
    char raw[100];
    memset(raw, 'x', sizeof raw);
    assert_int_equal(coll_batch_reject(b, 17, 1234, -1, "bad thing", raw, sizeof raw, 10, NULL, "key", 3), 0);
    assert_int_equal(coll_batch_reject(b, 18, -1, -1, "empty", "", 0, 10, NULL, NULL, 0), 0);
    assert_int_equal(b->n_rej, 2);
    assert_int_equal(b->rej[0].offset, 17);
    assert_int_equal(b->rej[0].kafka_ts_ms, 1234);
    assert_string_equal(b->rej[0].reason, "bad thing");
    assert_int_equal(b->rej[0].raw_len, 10);
    assert_int_equal(b->rej[0].raw_size, 100);
    assert_int_equal(b->rej[0].key_len, 3);
    assert_memory_equal(b->rej[0].key, "key", 3);
    assert_int_equal(b->rej[1].raw_len, 0);
    assert_null(b->rej[1].key);
    coll_batch_free(b);
}

static void test_keep_event_moves_ownership(void **state)
{
    (void)state;
    coll_batch *b = calloc(1, sizeof *b);
    assert_non_null(b);
    for (int i = 0; i < 600; i++) { /* past the first growth */
        core_event ev;
        decode_ok("{\"event_id\":\"e\",\"ts\":1,\"api_key_id\":\"k\",\"model\":\"m\","
                  "\"model_version\":\"v\",\"prompt\":\"hello\"}", &ev);
        assert_int_equal(coll_batch_keep_event(b, &ev), 0);
        assert_null(ev.arena); /* moved */
        assert_int_equal(coll_batch_note_ts(b, i), 0);
    }
    assert_int_equal(b->n_evs, 600);
    assert_int_equal(b->n_kts, 600);
    assert_string_equal(b->evs[599].prompt, "hello");
    assert_int_equal(b->kts[599], 599);
    coll_batch_free(b); /* frees the kept events too (ASan checks) */
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The bytes PostgreSQL's binary COPY expects: field count, then length and
 * value per column in network byte order, -1 for NULL. */
static void test_binary_tuple_bytes(void **state)
{
    (void)state;
    assert_memory_equal(coll_copy_bin_header(), "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
    assert_memory_equal(coll_copy_bin_trailer(), "\377\377", 2);
    core_event ev;
    decode_ok("{\"event_id\":\"e1\",\"ts\":\"2000-01-01T00:00:01Z\",\"api_key_id\":\"k\","
              "\"model\":\"m\",\"model_version\":\"v\",\"client_ip\":\"10.1.2.3\","
              "\"status\":-2,\"latency_ms\":1.5,\"attrs\":{\"a\":1}}", &ev);
    coll_buf b = {0};
    assert_int_equal(coll_copy_row_bin(&b, &ev), 0);
    const unsigned char *p = (const unsigned char *)b.data;
    assert_int_equal(be(p, 2), 25);
    p += 2;
    assert_int_equal(be(p, 4), 8); /* ts: microseconds since 2000-01-01 */
    assert_int_equal(be(p + 4, 8), 1000000);
    p += 12;
    assert_int_equal(be(p, 4), 2); /* event_id */
    assert_memory_equal(p + 4, "e1", 2);
    p += 6;
    for (int i = 0; i < 3; i++) /* api_key_id, model, model_version */
        p += 4 + be(p, 4);
    for (int i = 0; i < 3; i++, p += 4) /* tenant, user_id, session_id */
        assert_int_equal(be(p, 4), 0xffffffffu);
    assert_int_equal(be(p, 4), 8); /* inet: family 2, 32 bits, not cidr, 4 bytes */
    assert_memory_equal(p + 4, "\2\40\0\4\12\1\2\3", 8);
    coll_buf text = {0}, want = {0};
    assert_int_equal(coll_copy_bin_to_text(b.data, b.len, &text), 0);
    assert_int_equal(coll_copy_row(&want, &ev), 0);
    assert_int_equal(text.len, want.len);
    assert_memory_equal(text.data, want.data, want.len);
    /* a cut or padded tuple is refused, the output left as it was */
    size_t had = text.len;
    assert_int_equal(coll_copy_bin_to_text(b.data, b.len - 3, &text), -1);
    assert_int_equal(coll_buf_add(&b, "x", 1), 0);
    assert_int_equal(coll_copy_bin_to_text(b.data, b.len, &text), -1);
    assert_int_equal(text.len, had);
    coll_buf_free(&b);
    coll_buf_free(&text);
    coll_buf_free(&want);
    core_event_clear(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_row_has_nulls),
        cmocka_unit_test(test_text_is_escaped),
        cmocka_unit_test(test_binary_tuple_bytes),
        cmocka_unit_test(test_reject_keeps_coordinates_and_caps_raw),
        cmocka_unit_test(test_keep_event_moves_ownership),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
