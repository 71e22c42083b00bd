/* The helpers of the native decoder's tests (test_decode.c: the forms it
 * accepts; test_decode_refusals.c: what it refuses and why). Every message
 * is decoded from an exact-size heap copy, so that a read past its end
 * shows under AddressSanitizer, and also through the registry's native row
 * (coll_decode), which must give the same event or the same reason (the
 * registry itself: test_decoders.c). Include after <cmocka.h>. */
#ifndef TEST_DECODE_CHECK_H
#define TEST_DECODE_CHECK_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/batch.h"
#include "collector/decode.h"

#define REQ "\"event_id\":\"e1\",\"ts\":\"2026-11-21T13:04:00Z\",\"api_key_id\":\"k1\"," \
            "\"model\":\"m\",\"model_version\":\"v1\""
#define T_2026_11_21_130400 INT64_C(1795266240000000)

static coll_limits g_lim;

/* fails at the caller's file:line, not the helper's */
#define _fail_msg_at(file, line, ...)                                              \
    do {                                                                           \
        print_error("%s:%d: ", (file), (line));                                    \
        print_error(__VA_ARGS__);                                                  \
        print_error("\n");                                                         \
        _fail((file), (line));                                                     \
    } while (0)

/* The same event: the same COPY row, and the same sizes and scores. */
static void assert_same_event(const core_event *a, const core_event *b)
{
    coll_buf ra = {0}, rb = {0};
    assert_int_equal(coll_copy_row(&ra, a), 0);
    assert_int_equal(coll_copy_row(&rb, b), 0);
    assert_int_equal(ra.len, rb.len);
    assert_memory_equal(ra.data, rb.data, ra.len);
    coll_buf_free(&ra);
    coll_buf_free(&rb);
    assert_int_equal(a->prompt_size, b->prompt_size);
    assert_int_equal(a->response_size, b->response_size);
    assert_int_equal(a->n_scores, b->n_scores);
    for (size_t i = 0; i < a->n_scores; i++) {
        assert_string_equal(a->scores[i].name, b->scores[i].name);
        assert_memory_equal(&a->scores[i].value, &b->scores[i].value, sizeof(double));
    }
}

/* Decodes exactly n bytes from a heap copy without a NUL after them; then
 * through the registry's native row, which must say the same. */
static int decode_n(const coll_limits *lim, const char *s, size_t n, core_event *ev, char *err,
                    size_t errlen)
{
    char *copy = malloc(n ? n : 1), *err2 = malloc(errlen);
    assert_non_null(copy);
    assert_non_null(err2);
    memcpy(copy, s, n);
    memset(ev, 0, sizeof *ev);
    err[0] = '\0';
    int rc = coll_decode_native(lim, copy, n, ev, err, errlen);
    coll_decoded out = {0};
    assert_int_equal(coll_decode(&coll_decoder_native, lim, copy, n, &out, err2, errlen), rc);
    if (rc == 0) {
        assert_int_equal(out.n, 1);
        assert_same_event(ev, &out.evs[0]);
    } else {
        assert_int_equal(out.n, 0);
        assert_int_equal(out.failed_at, -1);
        assert_string_equal(err2, err);
    }
    coll_decoded_free(&out);
    free(err2);
    free(copy);
    return rc;
}

static void decode_ok_at(const char *json, core_event *ev, const char *file, int line)
{
    char err[512];
    if (decode_n(&g_lim, json, strlen(json), ev, err, sizeof err) != 0)
        _fail_msg_at(file, line, "refused %s: %s", json, err);
}
#define decode_ok(json, ev) decode_ok_at((json), (ev), __FILE__, __LINE__)

static void decode_bad_n_at(const coll_limits *lim, const char *json, size_t n, const char *want,
                            const char *file, int line)
{
    core_event ev;
    char err[512];
    int rc = decode_n(lim, json, n, &ev, err, sizeof err);
    if (rc != -1) {
        core_event_clear(&ev);
        _fail_msg_at(file, line, "accepted %.*s", (int)(n > 200 ? 200 : n), json);
    }
    if (!strstr(err, want))
        _fail_msg_at(file, line, "reason \"%s\" lacks \"%s\"", err, want);
    /* a refused message leaves nothing allocated and the event zeroed */
    if (ev.arena != NULL || ev.event_id != NULL)
        _fail_msg_at(file, line, "event not cleared after refusal");
}
#define decode_bad(json, want) \
    decode_bad_n_at(&g_lim, (json), strlen(json), (want), __FILE__, __LINE__)
#define decode_bad_n(json, n, want) decode_bad_n_at(&g_lim, (json), (n), (want), __FILE__, __LINE__)
#define decode_bad_lim(lim, json, want) \
    decode_bad_n_at((lim), (json), strlen(json), (want), __FILE__, __LINE__)

static int setup(void **state)
{
    (void)state;
    g_lim = coll_limits_default();
    return 0;
}

#endif
