/* The native JSON decoder: every valid form it accepts, with what the
 * event then holds (what it refuses: test_decode_refusals.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decode_check.h"

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

    /* attrs already in compact form are taken as written; one value written
     * otherwise anywhere inside, or any whitespace, and they are rewritten */
    static const char *const forms[][2] = {
        {"{\"a\":[1,{\"b\":\"x\"}],\"c\":-0,\"d\":0,\"e\":true,\"f\":null,\"g\":0.25}",
         "{\"a\":[1,{\"b\":\"x\"}],\"c\":-0,\"d\":0,\"e\":true,\"f\":null,\"g\":0.25}"},
        {"{\"a\":[1,[2.50]]}", "{\"a\":[1,[2.5]]}"},
        {"{\"a\":{\"b\":0.0}}", "{\"a\":{\"b\":0}}"},
        {"{\"a\":-0.0}", "{\"a\":-0}"},
        {"{\"a\":1e5}", "{\"a\":100000}"},
        {"{\"a\":0.00001}", "{\"a\":1e-05}"},
        {"{\"a\":[\"\\/\"]}", "{\"a\":[\"/\"]}"},
        {"{\"\\u0061\":1}", "{\"a\":1}"},
        {"{\"a\":[1 ]}", "{\"a\":[1]}"},
        {"{\"a\" :1}", "{\"a\":1}"},
        {"{\"a\":1,\n\"b\":2}", "{\"a\":1,\"b\":2}"},
        {"{ }", "{}"},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char msg[512];
        snprintf(msg, sizeof msg, "{" REQ ",\"attrs\":%s,\"scores\":{\"s\":1.50}}", forms[i][0]);
        decode_ok(msg, &ev);
        assert_string_equal(ev.attrs_json, forms[i][1]);
        assert_string_equal(ev.scores_json, "{\"s\":1.5}");
        core_event_clear(&ev);
    }

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

/* An identifier's control check reads printable ASCII eight bytes a step:
 * each kind of control character at every position of a 40-byte identifier
 * (in every place of a step and in the tail) is refused, and printable
 * non-ASCII there is not. */
static void control_characters_anywhere_in_a_long_identifier(void **state)
{
    (void)state;
    static const char *const bad[] = {"\\u0001", "\\u001f", "\\u007f", "\\u0085", "\\u009f",
                                      "\\u2028", "\\u2029", "\\t", "\\n", "\x7f", "\xc2\x80",
                                      "\xc2\x9f", "\xe2\x80\xa8", "\xe2\x80\xa9"};
    static const char *const good[] = {" ", "~", "\\u00a0", "\xc2\xa0", "\xc3\xa9",
                                       "\xe2\x80\xa7", "\xe2\x80\xaa", "\xf0\x9f\x98\x80"};
    char id[128], json[320];
    for (size_t at = 0; at < 40; at++) {
        for (size_t k = 0; k < sizeof bad / sizeof *bad + sizeof good / sizeof *good; k++) {
            bool is_bad = k < sizeof bad / sizeof *bad;
            const char *c = is_bad ? bad[k] : good[k - sizeof bad / sizeof *bad];
            snprintf(id, sizeof id, "%.*s%s%.*s", (int)at,
                     "ak_0123456789abcdefghijklmnopqrstuvwxyz", c, (int)(39 - at),
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd");
            snprintf(json, sizeof json,
                     "{\"event_id\":\"e\",\"ts\":0,\"api_key_id\":\"%s\",\"model\":\"m\","
                     "\"model_version\":\"v\"}",
                     id);
            if (is_bad) {
                decode_bad(json, "field api_key_id holds a control character");
            } else {
                core_event ev;
                decode_ok(json, &ev);
                core_event_clear(&ev);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_fields),
        cmocka_unit_test(control_characters_anywhere_in_a_long_identifier),
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
        cmocka_unit_test(error_buffer_is_bounded),
        cmocka_unit_test(event_can_be_reused_after_clear),
        cmocka_unit_test(events_at_the_edges),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
