/* The native JSON decoder: every valid form it accepts and every kind of bad
 * message it refuses, with the reason an operator reads in rejected_events.
 * Every message is also decoded through the registry's native row
 * (coll_decode), which must give the same event or the same reason (the
 * registry itself: test_decoders.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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

/* Decodes exactly n bytes from a heap copy without a NUL after them, so
 * that a read past the end shows up under AddressSanitizer; then through
 * the registry's native row, which must say the same. */
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

/* ---- valid forms ---------------------------------------------------------- */

static void all_fields(void **state)
{
    (void)state;
    core_event ev;
    decode_ok("{\"event_id\":\"evt-0001\",\"ts\":\"2026-11-21T13:04:00.250Z\","
              "\"api_key_id\":\"ak_live_42\",\"model\":\"gpt-4o\",\"model_version\":\"2024-11-20\","
              "\"tenant\":\"acme\",\"user_id\":\"u-7\",\"session_id\":\"s-9\","
              "\"client_ip\":\"203.0.113.9\",\"prompt\":\"Hello, caf\\u00e9 \\ud83d\\ude00\\n\","
              "\"response\":\"Hi \\\"there\\\"\",\"prompt_tokens\":12,\"completion_tokens\":3,"
              "\"latency_ms\":812.5,\"status\":200,\"finish_reason\":\"stop\",\"refusal\":false,"
              "\"scores\":{\"toxicity\":0.02,\"pii\":0},"
              "\"attrs\":{\"region\":\"eu\", \"temperature\": 0.7, \"tags\": [\"a\", 1, null],"
              " \"nested\": {\"x\": true}}}",
              &ev);
    assert_string_equal(ev.event_id, "evt-0001");
    assert_int_equal(ev.ts_us, T_2026_11_21_130400 + 250000);
    assert_string_equal(ev.api_key_id, "ak_live_42");
    assert_string_equal(ev.model, "gpt-4o");
    assert_string_equal(ev.model_version, "2024-11-20");
    assert_string_equal(ev.tenant, "acme");
    assert_string_equal(ev.user_id, "u-7");
    assert_string_equal(ev.session_id, "s-9");
    assert_string_equal(ev.client_ip, "203.0.113.9");
    assert_string_equal(ev.prompt, "Hello, caf\xc3\xa9 \xf0\x9f\x98\x80\n");
    assert_int_equal(ev.prompt_len, strlen(ev.prompt));
    assert_int_equal(ev.prompt_size, ev.prompt_len);
    assert_false(ev.prompt_truncated);
    assert_string_equal(ev.response, "Hi \"there\"");
    assert_false(ev.response_truncated);
    assert_int_equal(ev.prompt_tokens, 12);
    assert_int_equal(ev.completion_tokens, 3);
    assert_true(ev.has_latency);
    assert_true(ev.latency_ms == 812.5);
    assert_true(ev.has_status);
    assert_int_equal(ev.status, 200);
    assert_string_equal(ev.finish_reason, "stop");
    assert_int_equal(ev.refusal, 0);
    assert_int_equal(ev.n_scores, 2);
    assert_string_equal(ev.scores[0].name, "toxicity");
    assert_true(ev.scores[0].value == 0.02);
    assert_string_equal(ev.scores[1].name, "pii");
    assert_true(ev.scores[1].value == 0);
    assert_string_equal(ev.scores_json, "{\"toxicity\":0.02,\"pii\":0}");
    assert_string_equal(ev.attrs_json, "{\"region\":\"eu\",\"temperature\":0.7,"
                                       "\"tags\":[\"a\",1,null],\"nested\":{\"x\":true}}");
    /* provenance is the collector's to set */
    assert_null(ev.topic);
    assert_int_equal(ev.partition, -1);
    assert_int_equal(ev.offset, -1);
    assert_int_equal(ev.kafka_ts_ms, -1);
    core_event_clear(&ev);
}

static void required_fields_only(void **state)
{
    (void)state;
    core_event ev;
    decode_ok("{" REQ "}", &ev);
    assert_string_equal(ev.event_id, "e1");
    assert_int_equal(ev.ts_us, T_2026_11_21_130400);
    assert_string_equal(ev.api_key_id, "k1");
    assert_string_equal(ev.model, "m");
    assert_string_equal(ev.model_version, "v1");
    assert_null(ev.tenant);
    assert_null(ev.user_id);
    assert_null(ev.session_id);
    assert_null(ev.client_ip);
    assert_null(ev.prompt);
    assert_null(ev.response);
    assert_false(ev.prompt_truncated);
    assert_int_equal(ev.prompt_tokens, -1);
    assert_int_equal(ev.completion_tokens, -1);
    assert_false(ev.has_latency);
    assert_false(ev.has_status);
    assert_null(ev.finish_reason);
    assert_int_equal(ev.refusal, -1);
    assert_int_equal(ev.n_scores, 0);
    assert_null(ev.scores_json);
    assert_null(ev.attrs_json);
    core_event_clear(&ev);
}

static void null_optional_fields_are_absent(void **state)
{
    (void)state;
    core_event ev;
    decode_ok("{" REQ ",\"tenant\":null,\"user_id\":null,\"session_id\":null,\"client_ip\":null,"
              "\"prompt\":null,\"response\":null,\"prompt_tokens\":null,"
              "\"completion_tokens\":null,\"latency_ms\":null,\"status\":null,"
              "\"finish_reason\":null,\"refusal\":null,\"scores\":null,\"attrs\":null}",
              &ev);
    assert_null(ev.tenant);
    assert_null(ev.user_id);
    assert_null(ev.session_id);
    assert_null(ev.client_ip);
    assert_null(ev.prompt);
    assert_null(ev.response);
    assert_int_equal(ev.prompt_tokens, -1);
    assert_int_equal(ev.completion_tokens, -1);
    assert_false(ev.has_latency);
    assert_false(ev.has_status);
    assert_null(ev.finish_reason);
    assert_int_equal(ev.refusal, -1);
    assert_null(ev.scores_json);
    assert_null(ev.attrs_json);
    core_event_clear(&ev);
}

static void unknown_fields_are_ignored(void **state)
{
    (void)state;
    core_event ev;
    decode_ok("{\"gateway\":\"gw-1\",\"x\":[1,{\"y\":null}]," REQ
              ",\"Prompt\":\"case matters\",\"extra\":{\"deep\":{\"deeper\":1e10}}}",
              &ev);
    assert_string_equal(ev.event_id, "e1");
    assert_null(ev.prompt); /* "Prompt" is not "prompt" */
    core_event_clear(&ev);
}

static void whitespace_and_order_do_not_matter(void **state)
{
    (void)state;
    core_event ev;
    decode_ok(" \r\n\t{ \"model_version\" : \"v1\" ,\n\"model\":\"m\", \"api_key_id\":\"k1\","
              "\t\"ts\" : \"2026-11-21T13:04:00Z\" , \"event_id\":\"e1\" }\n \r\n",
              &ev);
    assert_string_equal(ev.event_id, "e1");
    assert_string_equal(ev.model_version, "v1");
    core_event_clear(&ev);
}

static void ts_forms(void **state)
{
    (void)state;
    static const struct {
        const char *ts; /* JSON value */
        int64_t us;
    } cases[] = {
        {"\"2026-11-21T13:04:00Z\"", T_2026_11_21_130400},
        {"\"2026-11-21T13:04:00z\"", T_2026_11_21_130400},
        {"\"2026-11-21T14:04:00+01:00\"", T_2026_11_21_130400},
        {"\"2026-11-21T08:04:00-05:00\"", T_2026_11_21_130400},
        {"\"2026-11-21T13:04:00.5Z\"", T_2026_11_21_130400 + 500000},
        {"\"2026-11-21T13:04:00.123456Z\"", T_2026_11_21_130400 + 123456},
        {"\"2026-11-21T13:04:00.123456789Z\"", T_2026_11_21_130400 + 123456},
        {"\"2026-11-21T14:04:00.000001+01:00\"", T_2026_11_21_130400 + 1},
        {"1795266240", T_2026_11_21_130400},
        {"1795266240.0", T_2026_11_21_130400},
        {"1795266240.25", T_2026_11_21_130400 + 250000},
        {"1.79526624e9", T_2026_11_21_130400},
        {"0", 0},
        {"\"1970-01-01T00:00:00Z\"", 0},
        {"4102444799", INT64_C(4102444799000000)},
        {"\"2099-12-31T23:59:59.999999Z\"", INT64_C(4102444799999999)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"event_id\":\"e\",\"ts\":%s,\"api_key_id\":\"k\",\"model\":\"m\","
                 "\"model_version\":\"v\"}",
                 cases[i].ts);
        core_event ev;
        decode_ok(json, &ev);
        if (ev.ts_us != cases[i].us)
            fail_msg("ts %s: got %lld, want %lld", cases[i].ts, (long long)ev.ts_us,
                     (long long)cases[i].us);
        core_event_clear(&ev);
    }
}

static void ip_normalisation(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"192.0.2.1", "192.0.2.1"},
        {"0.0.0.0", "0.0.0.0"},
        {"255.255.255.255", "255.255.255.255"},
        {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
        {"2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"},
        {"0:0:0:0:0:0:0:1", "::1"},
        {"::", "::"},
        {"::FFFF:192.0.2.1", "::ffff:192.0.2.1"},
        {"fe80::1:2", "fe80::1:2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{" REQ ",\"client_ip\":\"%s\"}", cases[i][0]);
        core_event ev;
        decode_ok(json, &ev);
        if (strcmp(ev.client_ip, cases[i][1]) != 0)
            fail_msg("%s normalised to %s, want %s", cases[i][0], ev.client_ip, cases[i][1]);
        core_event_clear(&ev);
    }
}

static void prompt_and_response_truncated_at_utf8_boundary(void **state)
{
    (void)state;
    coll_limits lim = coll_limits_default();
    lim.prompt_max_bytes = 5;
    lim.response_max_bytes = 7;
    /* prompt "abcdé…": é occupies bytes 4-5, so 5 bytes would split it */
    const char *json = "{" REQ ",\"prompt\":\"abcd\\u00e9xyz\",\"response\":\"1234567\"}";
    core_event ev;
    char err[256];
    assert_int_equal(decode_n(&lim, json, strlen(json), &ev, err, sizeof err), 0);
    assert_string_equal(ev.prompt, "abcd");
    assert_int_equal(ev.prompt_len, 4);
    assert_int_equal(ev.prompt_size, 9);
    assert_true(ev.prompt_truncated);
    assert_string_equal(ev.response, "1234567"); /* exactly at the cap: kept whole */
    assert_int_equal(ev.response_len, 7);
    assert_int_equal(ev.response_size, 7);
    assert_false(ev.response_truncated);
    core_event_clear(&ev);

    json = "{" REQ ",\"prompt\":\"\\ud83d\\ude00\\ud83d\\ude00\",\"response\":\"12345678\"}";
    assert_int_equal(decode_n(&lim, json, strlen(json), &ev, err, sizeof err), 0);
    assert_string_equal(ev.prompt, "\xf0\x9f\x98\x80"); /* one 4-byte emoji fits in 5 */
    assert_true(ev.prompt_truncated);
    assert_int_equal(ev.prompt_size, 8);
    assert_string_equal(ev.response, "1234567");
    assert_true(ev.response_truncated);
    assert_int_equal(ev.response_size, 8);
    core_event_clear(&ev);

    /* a cap of zero keeps nothing but still records the size */
    lim.prompt_max_bytes = 0;
    json = "{" REQ ",\"prompt\":\"abc\"}";
    assert_int_equal(decode_n(&lim, json, strlen(json), &ev, err, sizeof err), 0);
    assert_string_equal(ev.prompt, "");
    assert_true(ev.prompt_truncated);
    assert_int_equal(ev.prompt_size, 3);
    core_event_clear(&ev);
}

static void empty_prompt_and_text_with_controls(void **state)
{
    (void)state;
    core_event ev;
    decode_ok("{" REQ ",\"prompt\":\"\",\"response\":\"tab\\there\\u0001\"}", &ev);
    assert_string_equal(ev.prompt, "");
    assert_false(ev.prompt_truncated);
    assert_string_equal(ev.response, "tab\there\x01"); /* free text may hold controls */
    core_event_clear(&ev);
}

static void scores_and_attrs_forms(void **state)
{
    (void)state;
    core_event ev;
    decode_ok("{" REQ ",\"scores\":{},\"attrs\":{}}", &ev);
    assert_int_equal(ev.n_scores, 0);
    assert_string_equal(ev.scores_json, "{}");
    assert_string_equal(ev.attrs_json, "{}");
    core_event_clear(&ev);

    decode_ok("{" REQ ",\"scores\":{\"a\":-1.5,\"b\":1e300,\"c\":3},\"refusal\":true}", &ev);
    assert_int_equal(ev.n_scores, 3);
    assert_true(ev.scores[0].value == -1.5);
    assert_true(ev.scores[1].value == 1e300);
    assert_true(ev.scores[2].value == 3);
    assert_int_equal(ev.refusal, 1);
    core_event_clear(&ev);

    /* 64 scores is the limit */
    char json[4096];
    size_t o = (size_t)snprintf(json, sizeof json, "{" REQ ",\"scores\":{");
    for (int i = 0; i < CORE_EVENT_SCORES_MAX; i++)
        o += (size_t)snprintf(json + o, sizeof json - o, "%s\"s%d\":%d", i ? "," : "", i, i);
    snprintf(json + o, sizeof json - o, "}}");
    decode_ok(json, &ev);
    assert_int_equal(ev.n_scores, CORE_EVENT_SCORES_MAX);
    assert_string_equal(ev.scores[63].name, "s63");
    core_event_clear(&ev);

    /* attrs keep any JSON inside; non-ASCII survives the round trip */
    decode_ok("{" REQ ",\"attrs\":{\"k\":\"\\u00e9\",\"n\":-0.5,\"e\":[],\"o\":{}}}", &ev);
    assert_string_equal(ev.attrs_json, "{\"k\":\"\xc3\xa9\",\"n\":-0.5,\"e\":[],\"o\":{}}");
    core_event_clear(&ev);
}

/* What the one-pass parser must read exactly as cJSON did: keys spelled
 * with escapes, numbers longer than 63 bytes, a byte order mark, and the
 * compact form of numbers and strings in attrs. */
static void parser_reads_what_cjson_read(void **state)
{
    (void)state;
    core_event ev;
    /* a key with an escape names the same field; a duplicate spelled
     * differently is still a duplicate */
    decode_ok("{" REQ ",\"us\\u0065r_id\":\"u1\"}", &ev);
    assert_string_equal(ev.user_id, "u1");
    core_event_clear(&ev);
    decode_bad("{" REQ ",\"attrs\":{\"\\u00e9\":1,\"\xc3\xa9\":2}}", "duplicate key \"\xc3\xa9\"");
    decode_bad("{" REQ ",\"m\\u006fdel\":\"m2\"}", "duplicate key \"model\"");

    /* 70 digits: cJSON read every one of them, and strtod() rounds */
    decode_ok("{" REQ ",\"scores\":{\"s\":"
              "1000000000000000000000000000000000000000000000000000000000000000000000}}",
              &ev);
    assert_true(ev.scores[0].value == 1e69);
    core_event_clear(&ev);

    /* a byte order mark is skipped, as cJSON does */
    decode_ok("\xef\xbb\xbf{" REQ "}", &ev);
    assert_string_equal(ev.event_id, "e1");
    core_event_clear(&ev);

    /* attrs come out as cJSON_PrintUnformatted wrote them, except numbers
     * of more than 15 significant digits, which a double would round: those
     * are kept as written */
    decode_ok("{" REQ ",\"attrs\":{\"a\":1.50,\"b\":10.0,\"c\":-0,\"d\":0.00001,\"e\":1E+2,"
              "\"f\":0.1e1,\"g\":123456789012345678,\"h\":\"\\/\\u0001\\ud83d\\ude00\\\"\"}}",
              &ev);
    assert_string_equal(ev.attrs_json, "{\"a\":1.5,\"b\":10,\"c\":-0,\"d\":1e-05,\"e\":100,"
                                       "\"f\":1,\"g\":123456789012345678,"
                                       "\"h\":\"/\\u0001\xf0\x9f\x98\x80\\\"\"}");
    core_event_clear(&ev);

    /* more than 64 keys: the least duplicate in strcmp order is named */
    char json[4096];
    size_t o = (size_t)snprintf(json, sizeof json, "{" REQ ",\"attrs\":{");
    for (int i = 0; i < 80; i++)
        o += (size_t)snprintf(json + o, sizeof json - o, "\"k%d\":%d,", i, i);
    snprintf(json + o, sizeof json - o, "\"k70\":0,\"k12\":0}}");
    decode_bad(json, "duplicate key \"k12\"");
}

static void numeric_field_edges(void **state)
{
    (void)state;
    core_event ev;
    decode_ok("{" REQ ",\"prompt_tokens\":0,\"completion_tokens\":9007199254740991,"
              "\"latency_ms\":0,\"status\":-2147483648}",
              &ev);
    assert_int_equal(ev.prompt_tokens, 0);
    assert_int_equal(ev.completion_tokens, INT64_C(9007199254740991));
    assert_true(ev.has_latency);
    assert_true(ev.latency_ms == 0);
    assert_int_equal(ev.status, INT32_MIN);
    core_event_clear(&ev);
    decode_ok("{" REQ ",\"prompt_tokens\":5.0,\"status\":2147483647,\"latency_ms\":0.001}", &ev);
    assert_int_equal(ev.prompt_tokens, 5);
    assert_int_equal(ev.status, INT32_MAX);
    core_event_clear(&ev);
}

static void identifier_length_limits(void **state)
{
    (void)state;
    char id[CORE_EVENT_ID_MAX + 1];
    memset(id, 'x', CORE_EVENT_ID_MAX);
    id[CORE_EVENT_ID_MAX] = '\0';
    char json[1024];
    snprintf(json, sizeof json,
             "{\"event_id\":\"%s\",\"ts\":0,\"api_key_id\":\"k\",\"model\":\"m\","
             "\"model_version\":\"v\"}",
             id);
    core_event ev;
    decode_ok(json, &ev); /* exactly 128 bytes */
    assert_int_equal(strlen(ev.event_id), CORE_EVENT_ID_MAX);
    core_event_clear(&ev);
    /* the limit is in bytes, and UTF-8 in an id is fine */
    decode_ok("{\"event_id\":\"\\u00e9v\\u00e9nement\",\"ts\":0,\"api_key_id\":\"cl\\u00e9\","
              "\"model\":\"m\",\"model_version\":\"v\"}",
              &ev);
    assert_string_equal(ev.event_id, "\xc3\xa9v\xc3\xa9nement");
    core_event_clear(&ev);
}

static void message_size_limit_is_inclusive(void **state)
{
    (void)state;
    const char *json = "{" REQ "}";
    coll_limits lim = coll_limits_default();
    lim.max_message_bytes = strlen(json);
    core_event ev;
    char err[256];
    assert_int_equal(decode_n(&lim, json, strlen(json), &ev, err, sizeof err), 0);
    core_event_clear(&ev);
    lim.max_message_bytes = strlen(json) - 1;
    decode_bad_lim(&lim, json, "larger than the");
}

/* ---- invalid messages ------------------------------------------------------ */

static void refuses_framing_problems(void **state)
{
    (void)state;
    decode_bad_n("", 0, "empty message");
    decode_bad("   ", "malformed JSON");
    decode_bad("{" REQ, "malformed JSON");           /* truncated */
    decode_bad("{\"event_id\":\"e1", "malformed JSON");
    decode_bad("{" REQ ",}", "malformed JSON");       /* trailing comma */
    decode_bad("{'event_id':'e1'}", "malformed JSON");
    decode_bad("{" REQ ",\"prompt\":\"bad \\x escape\"}", "bad escape in a string at offset");
    decode_bad("{" REQ "} {}", "trailing data after the JSON value at offset");
    decode_bad("{" REQ "}x", "trailing data");
    decode_bad("[" "{" REQ "}" "]", "an array, not a JSON object");
    decode_bad("\"just a string\"", "a string, not a JSON object");
    decode_bad("42", "a number, not a JSON object");
    decode_bad("true", "a boolean, not a JSON object");
    decode_bad("null", "null, not a JSON object");
}

/* cJSON is lenient where JSON is not; the decoder's pre-scan closes the gaps
 * (the first one silently cut strings at a bad \\u escape). */
static void refuses_what_cjson_would_let_through(void **state)
{
    (void)state;
    decode_bad("{" REQ ",\"prompt\":\"secret\\u00G1hidden\"}",
               "bad \\u escape at offset 112 (needs 4 hex digits)");
    decode_bad("{\"event_id\":\"e1\\u0zzz\",\"ts\":0,\"api_key_id\":\"k\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "bad \\u escape");
    decode_bad("{" REQ ",\"prompt\":\"cut \\u12\"}", "bad \\u escape");
    decode_bad("{" REQ ",\"prompt\":\"a\x01" "b\"}", "control character 0x01 in a string");
    decode_bad("{" REQ ",\"prompt\":\"line\nbreak\"}", "control character 0x0a in a string");
    decode_bad("\x01{" REQ "}", "control character 0x01 outside a string at offset 0");
    decode_bad("{\x0b" REQ "}", "control character 0x0b outside a string at offset 1");
    decode_bad("{" REQ "}\x1f", "control character 0x1f outside a string");
    decode_bad("{" REQ ",\"prompt_tokens\":01}", "malformed number at offset");
    decode_bad("{" REQ ",\"prompt_tokens\":-01}", "malformed number");
    decode_bad("{" REQ ",\"latency_ms\":1.}", "malformed number");
    decode_bad("{" REQ ",\"latency_ms\":1.e3}", "malformed number");
    decode_bad("{" REQ ",\"latency_ms\":1e}", "malformed number");
    decode_bad("{" REQ ",\"latency_ms\":1e5.5}", "malformed number");
    decode_bad("{" REQ ",\"latency_ms\":-}", "malformed number");
    decode_bad("{" REQ ",\"latency_ms\":--1}", "malformed number");
    decode_bad("{" REQ ",\"latency_ms\":+1}", "malformed JSON");
    decode_bad("{" REQ ",\"latency_ms\":.5}", "malformed JSON");
    decode_bad("{" REQ ",\"latency_ms\":NaN}", "malformed JSON");
    decode_bad("{" REQ ",\"latency_ms\":Infinity}", "malformed JSON");
    decode_bad("{" REQ ",\"x\":nulll}", "malformed JSON");
    /* what JSON does allow still passes */
    core_event ev;
    decode_ok("{" REQ ",\"latency_ms\":0.5e+2,\"status\":-0,\"x\":[1E-2,-0.0,10,1e5],"
              "\"prompt\":\"\\/\\b\\f\\n\\r\\t\\\"\\\\\\u00E9\\uD83D\\uDE00\"}",
              &ev);
    assert_true(ev.latency_ms == 50);
    assert_string_equal(ev.prompt, "/\b\f\n\r\t\"\\\xc3\xa9\xf0\x9f\x98\x80");
    core_event_clear(&ev);
    decode_ok("\xef\xbb\xbf{" REQ "}", &ev); /* a UTF-8 byte order mark is skipped */
    core_event_clear(&ev);
}

static void refuses_bad_bytes(void **state)
{
    (void)state;
    decode_bad("{" REQ ",\"prompt\":\"\xc3\x28\"}", "invalid UTF-8 at offset");
    decode_bad("{" REQ ",\"prompt\":\"\xed\xa0\x80\"}", "invalid UTF-8"); /* raw surrogate */
    decode_bad("{" REQ ",\"prompt\":\"\xc0\xaf\"}", "invalid UTF-8");     /* overlong */
    decode_bad("\xff\xfe{}", "invalid UTF-8 at offset 0");
    static const char nul_raw[] = "{" REQ ",\"prompt\":\"a\0b\"}";
    decode_bad_n(nul_raw, sizeof nul_raw - 1, "NUL byte at offset");
    static const char nul_tail[] = "{" REQ "}\0";
    decode_bad_n(nul_tail, sizeof nul_tail - 1, "NUL byte");
    decode_bad("{" REQ ",\"prompt\":\"a\\u0000b\"}", "\\u0000");
    decode_bad("{" REQ ",\"k\\u0000\":1}", "\\u0000"); /* in a key as well */
    /* an escaped backslash followed by u0000 is plain text, not a NUL */
    core_event ev;
    decode_ok("{" REQ ",\"prompt\":\"\\\\u0000\"}", &ev);
    assert_string_equal(ev.prompt, "\\u0000");
    core_event_clear(&ev);
    /* lone or mismatched surrogate escapes cannot become UTF-8 */
    decode_bad("{" REQ ",\"prompt\":\"\\ud800\"}", "lone UTF-16 high surrogate \\uD800");
    decode_bad("{" REQ ",\"prompt\":\"\\udc00x\"}", "lone UTF-16 low surrogate \\uDC00");
    decode_bad("{" REQ ",\"prompt\":\"\\ud83d\\u0041\"}", "lone UTF-16 high surrogate");
    decode_bad("{" REQ ",\"prompt\":\"\\ud83d\"}", "lone UTF-16 high surrogate");
}

static void refuses_oversized_and_deep(void **state)
{
    (void)state;
    size_t n = (1 << 20) + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    memcpy(big, "{" REQ "}", sizeof("{" REQ "}") - 1);
    decode_bad_n(big, n, "message is 1048577 bytes, larger than the 1048576-byte limit");
    free(big);

    /* 10 000 levels of nesting, in attrs */
    size_t depth = 10000;
    char *deep = malloc(64 + sizeof(REQ) + 2 * depth);
    assert_non_null(deep);
    size_t o = (size_t)sprintf(deep, "{" REQ ",\"attrs\":");
    for (size_t i = 0; i < depth; i++)
        deep[o++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[o++] = ']';
    deep[o++] = '}';
    decode_bad_n(deep, o, "nested deeper than 32 levels");
    free(deep);

    /* 32 levels (the event object and 31 arrays) are fine, 33 are not;
     * brackets inside strings do not count */
    char ok[512], bad[512];
    o = (size_t)sprintf(ok, "{" REQ ",\"prompt\":\"[[[[{{{{\",\"x\":");
    size_t ob = (size_t)sprintf(bad, "{" REQ ",\"x\":");
    for (int i = 0; i < 31; i++)
        ok[o++] = '[';
    for (int i = 0; i < 31; i++)
        ok[o++] = ']';
    ok[o++] = '}';
    ok[o] = '\0';
    for (int i = 0; i < 32; i++)
        bad[ob++] = '[';
    for (int i = 0; i < 32; i++)
        bad[ob++] = ']';
    bad[ob++] = '}';
    bad[ob] = '\0';
    core_event ev;
    decode_ok(ok, &ev);
    core_event_clear(&ev);
    decode_bad(bad, "nested deeper than 32 levels");
}

static void refuses_huge_numbers_and_duplicates(void **state)
{
    (void)state;
    decode_bad("{" REQ ",\"latency_ms\":1e400}", "number out of range in latency_ms");
    decode_bad("{" REQ ",\"attrs\":{\"x\":-1e999}}", "number out of range");
    decode_bad("{" REQ ",\"attrs\":{\"a\":[1,2,1e400]}}", "number out of range");
    decode_bad("{\"event_id\":\"e1\",\"ts\":1e400,\"api_key_id\":\"k\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "number out of range in ts");
    decode_bad("{" REQ ",\"event_id\":\"e2\"}", "duplicate key \"event_id\"");
    decode_bad("{" REQ ",\"attrs\":{\"a\":1,\"a\":2}}", "duplicate key \"a\"");
    /* more than 16 keys takes the sorting path */
    char json[2048];
    size_t o = (size_t)snprintf(json, sizeof json, "{" REQ ",\"attrs\":{");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(json + o, sizeof json - o, "\"k%d\":%d,", i, i);
    snprintf(json + o, sizeof json - o, "\"k17\":0}}");
    decode_bad(json, "duplicate key \"k17\"");
}

static void refuses_missing_required_fields(void **state)
{
    (void)state;
    static const char *const fields[] = {"event_id", "ts", "api_key_id", "model",
                                         "model_version"};
    static const char *const values[] = {"\"e1\"", "\"2026-11-21T13:04:00Z\"", "\"k1\"",
                                         "\"m\"", "\"v1\""};
    for (int miss = 0; miss < 5; miss++) {
        for (int as_null = 0; as_null < 2; as_null++) {
            char json[512], want[128];
            size_t o = (size_t)snprintf(json, sizeof json, "{");
            for (int f = 0; f < 5; f++) {
                if (f == miss && !as_null)
                    continue;
                o += (size_t)snprintf(json + o, sizeof json - o, "%s\"%s\":%s",
                                      o > 1 ? "," : "", fields[f],
                                      f == miss ? "null" : values[f]);
            }
            snprintf(json + o, sizeof json - o, "}");
            snprintf(want, sizeof want, "required field %s is missing", fields[miss]);
            decode_bad(json, want);
        }
    }
    decode_bad("{}", "required field event_id is missing");
}

static void refuses_mistyped_fields(void **state)
{
    (void)state;
    decode_bad("{\"event_id\":42,\"ts\":0,\"api_key_id\":\"k\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "field event_id must be a string, got a number");
    decode_bad("{\"event_id\":\"e\",\"ts\":0,\"api_key_id\":[\"k\"],\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "field api_key_id must be a string, got an array");
    decode_bad("{\"event_id\":\"e\",\"ts\":0,\"api_key_id\":\"k\",\"model\":{},"
               "\"model_version\":\"v\"}",
               "field model must be a string, got an object");
    decode_bad("{\"event_id\":\"e\",\"ts\":0,\"api_key_id\":\"k\",\"model\":\"m\","
               "\"model_version\":1.1}",
               "field model_version must be a string, got a number");
    decode_bad("{\"event_id\":\"e\",\"ts\":true,\"api_key_id\":\"k\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "field ts must be an RFC 3339 string or epoch seconds, got a boolean");
    decode_bad("{" REQ ",\"tenant\":7}", "field tenant must be a string, got a number");
    decode_bad("{" REQ ",\"user_id\":true}", "field user_id must be a string, got a boolean");
    decode_bad("{" REQ ",\"session_id\":[]}", "field session_id must be a string, got an array");
    decode_bad("{" REQ ",\"client_ip\":3232235777}",
               "field client_ip must be a string, got a number");
    decode_bad("{" REQ ",\"prompt\":{\"text\":\"hi\"}}",
               "field prompt must be a string, got an object");
    decode_bad("{" REQ ",\"response\":false}", "field response must be a string, got a boolean");
    decode_bad("{" REQ ",\"prompt_tokens\":\"12\"}",
               "field prompt_tokens must be a number, got a string");
    decode_bad("{" REQ ",\"completion_tokens\":[1]}",
               "field completion_tokens must be a number, got an array");
    decode_bad("{" REQ ",\"latency_ms\":\"fast\"}",
               "field latency_ms must be a number, got a string");
    decode_bad("{" REQ ",\"status\":\"200\"}", "field status must be a 32-bit integer");
    decode_bad("{" REQ ",\"finish_reason\":1}", "field finish_reason must be a string");
    decode_bad("{" REQ ",\"refusal\":\"yes\"}", "field refusal must be true or false, got a string");
    decode_bad("{" REQ ",\"refusal\":1}", "field refusal must be true or false, got a number");
    decode_bad("{" REQ ",\"scores\":[0.1]}", "field scores must be an object, got an array");
    decode_bad("{" REQ ",\"scores\":{\"tox\":\"high\"}}",
               "score \"tox\" must be a number, got a string");
    decode_bad("{" REQ ",\"scores\":{\"tox\":null}}", "score \"tox\" must be a number, got null");
    decode_bad("{" REQ ",\"attrs\":[1,2]}", "field attrs must be an object, got an array");
    decode_bad("{" REQ ",\"attrs\":\"k=v\"}", "field attrs must be an object, got a string");
}

static void refuses_bad_values(void **state)
{
    (void)state;
    /* timestamps */
    static const char *const bad_ts[] = {
        "2026-11-21T13:04:00",        /* no zone */
        "2026-02-30T00:00:00Z",       /* Feb 30 */
        "2025-02-29T00:00:00Z",       /* not a leap year */
        "yesterday",
        "",
        "2026-11-21T13:04:00.1234567891Z",
        "1795266240",                 /* epoch seconds must be a number, not a string */
    };
    for (size_t i = 0; i < sizeof bad_ts / sizeof bad_ts[0]; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"event_id\":\"e\",\"ts\":\"%s\",\"api_key_id\":\"k\",\"model\":\"m\","
                 "\"model_version\":\"v\"}",
                 bad_ts[i]);
        decode_bad(json, "is not an RFC 3339 time with a zone");
    }
    decode_bad("{\"event_id\":\"e\",\"ts\":\"1969-12-31T23:59:59Z\",\"api_key_id\":\"k\","
               "\"model\":\"m\",\"model_version\":\"v\"}",
               "field ts is before 1970-01-01");
    decode_bad("{\"event_id\":\"e\",\"ts\":-1,\"api_key_id\":\"k\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "outside 0..4102444799 epoch seconds");
    decode_bad("{\"event_id\":\"e\",\"ts\":4102444800,\"api_key_id\":\"k\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "outside 0..4102444799 epoch seconds");
    /* far in the future, the zone's offset included: year 10000 */
    decode_bad("{\"event_id\":\"e\",\"ts\":\"9999-12-31T23:59:59-23:59\",\"api_key_id\":\"k\","
               "\"model\":\"m\",\"model_version\":\"v\"}",
               "is not before 2100-01-01T00:00:00Z");
    decode_bad("{\"event_id\":\"e\",\"ts\":\"2100-01-01T00:00:00Z\",\"api_key_id\":\"k\","
               "\"model\":\"m\",\"model_version\":\"v\"}",
               "is not before 2100-01-01T00:00:00Z");
    decode_bad("{\"event_id\":\"e\",\"ts\":\"2099-12-31T23:00:00-01:00\",\"api_key_id\":\"k\","
               "\"model\":\"m\",\"model_version\":\"v\"}",
               "is not before 2100-01-01T00:00:00Z");
    decode_bad("{\"event_id\":\"e\",\"ts\":1795266240000,\"api_key_id\":\"k\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "outside"); /* milliseconds by mistake */

    /* addresses */
    static const char *const bad_ip[] = {
        "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "::g", "1:2:3:4:5:6:7:8:9",
        "fe80::1%eth0", "example.com", "", " 1.2.3.4", "1.2.3.4/24", "[::1]"};
    for (size_t i = 0; i < sizeof bad_ip / sizeof bad_ip[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{" REQ ",\"client_ip\":\"%s\"}", bad_ip[i]);
        decode_bad(json, "is not an IPv4 or IPv6 address");
    }

    /* identifiers */
    char json[1024], id[CORE_EVENT_ID_MAX + 2];
    memset(id, 'x', CORE_EVENT_ID_MAX + 1);
    id[CORE_EVENT_ID_MAX + 1] = '\0';
    snprintf(json, sizeof json,
             "{\"event_id\":\"%s\",\"ts\":0,\"api_key_id\":\"k\",\"model\":\"m\","
             "\"model_version\":\"v\"}",
             id);
    decode_bad(json, "field event_id is 129 bytes, longer than 128");
    decode_bad("{\"event_id\":\"\",\"ts\":0,\"api_key_id\":\"k\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "field event_id is empty");
    decode_bad("{\"event_id\":\"e\",\"ts\":0,\"api_key_id\":\"k\\n1\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "field api_key_id holds a control character");
    decode_bad("{\"event_id\":\"e\",\"ts\":0,\"api_key_id\":\"k\",\"model\":\"m\\u007f\","
               "\"model_version\":\"v\"}",
               "field model holds a control character");
    decode_bad("{" REQ ",\"tenant\":\"\"}", "field tenant is empty");
    char fr[CORE_EVENT_FINISH_MAX + 2];
    memset(fr, 's', CORE_EVENT_FINISH_MAX + 1);
    fr[CORE_EVENT_FINISH_MAX + 1] = '\0';
    snprintf(json, sizeof json, "{" REQ ",\"finish_reason\":\"%s\"}", fr);
    decode_bad(json, "field finish_reason is 65 bytes, longer than 64");

    /* counts and numbers */
    decode_bad("{" REQ ",\"prompt_tokens\":-1}", "field prompt_tokens must be a non-negative integer");
    decode_bad("{" REQ ",\"completion_tokens\":2.5}",
               "field completion_tokens must be a non-negative integer");
    decode_bad("{" REQ ",\"prompt_tokens\":9007199254740992}", "non-negative integer below 2^53");
    decode_bad("{" REQ ",\"latency_ms\":-0.5}", "field latency_ms must be between 0 and 1e12");
    decode_bad("{" REQ ",\"latency_ms\":1e12}", "field latency_ms must be between 0 and 1e12");
    decode_bad("{" REQ ",\"status\":200.5}", "field status must be a 32-bit integer");
    decode_bad("{" REQ ",\"status\":2147483648}", "field status must be a 32-bit integer");
    decode_bad("{" REQ ",\"status\":-2147483649}", "field status must be a 32-bit integer");

    /* scores and attrs */
    decode_bad("{" REQ ",\"scores\":{\"\":1}}", "score name \"\" must be 1-64 printable bytes");
    decode_bad("{" REQ ",\"scores\":{\"a\\tb\":1}}", "must be 1-64 printable bytes");
    char name[80];
    memset(name, 'n', 65);
    name[65] = '\0';
    snprintf(json, sizeof json, "{" REQ ",\"scores\":{\"%s\":1}}", name);
    decode_bad(json, "must be 1-64 printable bytes");
    size_t o = (size_t)snprintf(json, sizeof json, "{" REQ ",\"scores\":{");
    for (int i = 0; i <= CORE_EVENT_SCORES_MAX; i++)
        o += (size_t)snprintf(json + o, sizeof json - o, "%s\"s%d\":1", i ? "," : "", i);
    snprintf(json + o, sizeof json - o, "}}");
    decode_bad(json, "field scores has 65 entries, more than 64");
    coll_limits lim = coll_limits_default();
    lim.attrs_max_bytes = 16;
    decode_bad_lim(&lim, "{" REQ ",\"attrs\":{\"key\":\"a value too long\"}}",
                   "field attrs is 26 bytes of JSON, larger than 16");
}

/* Every file of the poison corpus (tests/poison/EXPECTED) is refused with its
 * expected reason; the two generated at test time are covered above. */
static void poison_corpus_reasons(void **state)
{
    (void)state;
    const char *src = getenv("CUSTOS_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/poison/EXPECTED", src && *src ? src : CUSTOS_SOURCE_DIR);
    FILE *ex = fopen(path, "r");
    if (!ex)
        fail_msg("cannot open %s", path);
    char line[1024];
    int checked = 0;
    while (fgets(line, sizeof line, ex)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        if (strcmp(line, "big_2mb.json") == 0 || strcmp(line, "deep_10k.json") == 0)
            continue;
        char file[4200];
        snprintf(file, sizeof file, "%.*s/%s", (int)(strrchr(path, '/') - path), path, line);
        FILE *f = fopen(file, "rb");
        if (!f)
            fail_msg("cannot open %s", file);
        char *buf = malloc(1 << 16);
        assert_non_null(buf);
        size_t n = fread(buf, 1, 1 << 16, f);
        fclose(f);
        decode_bad_n_at(&g_lim, buf, n, tab + 1, line, 0);
        free(buf);
        checked++;
    }
    fclose(ex);
    assert_true(checked >= 20);
}

static void error_buffer_is_bounded(void **state)
{
    (void)state;
    /* a tiny error buffer still gets a NUL-terminated prefix of the reason */
    core_event ev;
    char err[8];
    memset(err, 'z', sizeof err);
    const char *json = "[]";
    char *copy = malloc(2);
    assert_non_null(copy);
    memcpy(copy, json, 2);
    memset(&ev, 0, sizeof ev);
    assert_int_equal(coll_decode_native(&g_lim, copy, 2, &ev, err, sizeof err), -1);
    free(copy);
    assert_int_equal(strlen(err), sizeof err - 1);
    assert_memory_equal(err, "the mes", 7);
}

static void event_can_be_reused_after_clear(void **state)
{
    (void)state;
    core_event ev;
    char err[256];
    for (int i = 0; i < 3; i++) {
        const char *good = "{" REQ ",\"prompt\":\"p\"}";
        assert_int_equal(decode_n(&g_lim, good, strlen(good), &ev, err, sizeof err), 0);
        assert_string_equal(ev.prompt, "p");
        core_event_clear(&ev);
        const char *bad = "{" REQ ",\"prompt\":1}";
        assert_int_equal(decode_n(&g_lim, bad, strlen(bad), &ev, err, sizeof err), -1);
        assert_null(ev.arena);
    }
}

/* Issue 13: numbers kept as written, C1 and line separators refused in
 * identifiers. */
static void events_at_the_edges(void **state)
{
    (void)state;
    core_event ev;
    decode_ok("{" REQ ",\"attrs\":{\"big\":1234567890123456789,\"neg\":-98765432109876543210,"
              "\"frac\":0.12345678901234567,\"small\":12,\"f\":1.50,\"e\":1.2345678901234567e300}}",
              &ev);
    assert_string_equal(ev.attrs_json,
                        "{\"big\":1234567890123456789,\"neg\":-98765432109876543210,"
                        "\"frac\":0.12345678901234567,\"small\":12,\"f\":1.5,"
                        "\"e\":1.2345678901234567e300}");
    core_event_clear(&ev);
    /* C1 NEXT LINE and the line/paragraph separators, raw or escaped */
    decode_bad("{\"event_id\":\"e\",\"ts\":0,\"api_key_id\":\"k\\u0085x\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "field api_key_id holds a control character");
    decode_bad("{\"event_id\":\"e\",\"ts\":0,\"api_key_id\":\"k\xc2\x85x\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "field api_key_id holds a control character");
    decode_bad("{\"event_id\":\"e\",\"ts\":0,\"api_key_id\":\"k\",\"model\":\"m\\u2028\","
               "\"model_version\":\"v\"}",
               "field model holds a control character");
    decode_bad("{\"event_id\":\"e\\u2029\",\"ts\":0,\"api_key_id\":\"k\",\"model\":\"m\","
               "\"model_version\":\"v\"}",
               "field event_id holds a control character");
    /* printable non-ASCII stays fine in identifiers */
    decode_ok("{\"event_id\":\"e\",\"ts\":0,\"api_key_id\":\"clé-\\u00e9\",\"model\":\"m\","
              "\"model_version\":\"v\"}",
              &ev);
    core_event_clear(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_fields),
        cmocka_unit_test(required_fields_only),
        cmocka_unit_test(null_optional_fields_are_absent),
        cmocka_unit_test(unknown_fields_are_ignored),
        cmocka_unit_test(whitespace_and_order_do_not_matter),
        cmocka_unit_test(ts_forms),
        cmocka_unit_test(ip_normalisation),
        cmocka_unit_test(prompt_and_response_truncated_at_utf8_boundary),
        cmocka_unit_test(empty_prompt_and_text_with_controls),
        cmocka_unit_test(scores_and_attrs_forms),
        cmocka_unit_test(parser_reads_what_cjson_read),
        cmocka_unit_test(numeric_field_edges),
        cmocka_unit_test(identifier_length_limits),
        cmocka_unit_test(message_size_limit_is_inclusive),
        cmocka_unit_test(refuses_framing_problems),
        cmocka_unit_test(refuses_bad_bytes),
        cmocka_unit_test(refuses_what_cjson_would_let_through),
        cmocka_unit_test(refuses_oversized_and_deep),
        cmocka_unit_test(refuses_huge_numbers_and_duplicates),
        cmocka_unit_test(refuses_missing_required_fields),
        cmocka_unit_test(refuses_mistyped_fields),
        cmocka_unit_test(refuses_bad_values),
        cmocka_unit_test(poison_corpus_reasons),
        cmocka_unit_test(error_buffer_is_bounded),
        cmocka_unit_test(event_can_be_reused_after_clear),
        cmocka_unit_test(events_at_the_edges),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
