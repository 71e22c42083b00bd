/* The native JSON decoder: every kind of bad message it refuses, with the
 * reason an operator reads in rejected_events (what it accepts:
 * test_decode.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decode_check.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refuses_framing_problems),
        cmocka_unit_test(refuses_bad_bytes),
        cmocka_unit_test(refuses_what_cjson_would_let_through),
        cmocka_unit_test(refuses_oversized_and_deep),
        cmocka_unit_test(refuses_huge_numbers_and_duplicates),
        cmocka_unit_test(refuses_missing_required_fields),
        cmocka_unit_test(refuses_mistyped_fields),
        cmocka_unit_test(refuses_bad_values),
        cmocka_unit_test(poison_corpus_reasons),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
