/* libFuzzer target for the native event decoder.
 *
 * Each input is decoded twice, with the default limits and with tiny ones
 * (so that truncation and the size checks are reached by small inputs), and
 * what the decoder promises is checked on every result: a refusal comes with
 * a NUL-terminated reason and a cleared event; an accepted event has every
 * required field, and every string is valid UTF-8, NUL-free up to its length
 * and within its cap; and an accepted input is RFC 8259 JSON, as judged by the
 * small independent validator below (cJSON alone lets through "01", raw
 * control characters and "\u00G1", which it read as U+0000). The input is
 * also decoded through the registry's native row (coll_decode, the contract
 * of one message -> N events), which must give one event with the same
 * fields, or no event and the same reason. An accepted event's COPY binary
 * tuple, read back as text, must be its COPY text row byte for byte (the
 * two formats carry the same values). A broken promise aborts, which
 * libFuzzer reports as a crash with its input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/batch.h"
#include "collector/collector.h"
#include "core/json_scan.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond))                                                                 \
            abort();                                                                 \
    } while (0)

/* Compact JSON (attrs, scores) is what core_json_emit writes of it: the
 * decoder copies a message's own text when the parser judged it compact,
 * and this catches a judgement that let something else through. */
static void check_compact(const char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    core_json_buf out, scratch;
    core_json_buf_init(&out);
    core_json_buf_init(&scratch);
    core_json_emit(&out, &scratch, (const unsigned char *)s, (const unsigned char *)s + n);
    CHECK(out.oom || (out.n == n && memcmp(out.p, s, n) == 0));
    core_json_buf_free(&out);
    core_json_buf_free(&scratch);
}

static void check_str(const char *s, size_t max)
{
    if (!s)
        return;
    size_t n = strlen(s);
    CHECK(n <= max);
    CHECK(core_utf8_invalid_at((const unsigned char *)s, n) < 0);
}

static void check_event(const core_event *ev, const coll_limits *lim)
{
    CHECK(ev->event_id && *ev->event_id && ev->api_key_id && ev->model && ev->model_version);
    check_str(ev->event_id, CORE_EVENT_ID_MAX);
    check_str(ev->api_key_id, CORE_EVENT_NAME_MAX);
    check_str(ev->model, CORE_EVENT_NAME_MAX);
    check_str(ev->model_version, CORE_EVENT_VERSION_MAX);
    check_str(ev->tenant, CORE_EVENT_NAME_MAX);
    check_str(ev->user_id, CORE_EVENT_NAME_MAX);
    check_str(ev->session_id, CORE_EVENT_NAME_MAX);
    check_str(ev->client_ip, 64);
    check_str(ev->finish_reason, CORE_EVENT_FINISH_MAX);
    CHECK(ev->ts_us >= 0);
    if (ev->prompt) {
        CHECK(strlen(ev->prompt) == ev->prompt_len);
        CHECK(ev->prompt_len <= lim->prompt_max_bytes);
        CHECK(ev->prompt_truncated == (ev->prompt_len < ev->prompt_size));
        check_str(ev->prompt, ev->prompt_len);
    }
    if (ev->response) {
        CHECK(strlen(ev->response) == ev->response_len);
        CHECK(ev->response_len <= lim->response_max_bytes);
        CHECK(ev->response_truncated == (ev->response_len < ev->response_size));
        check_str(ev->response, ev->response_len);
    }
    CHECK(ev->prompt_tokens >= -1 && ev->completion_tokens >= -1);
    CHECK(!ev->has_latency || (ev->latency_ms >= 0 && ev->latency_ms < 1e12));
    CHECK(ev->refusal >= -1 && ev->refusal <= 1);
    CHECK(ev->n_scores <= CORE_EVENT_SCORES_MAX);
    CHECK((ev->n_scores == 0) || ev->scores_json);
    for (size_t i = 0; i < ev->n_scores; i++)
        check_str(ev->scores[i].name, 64);
    if (ev->attrs_json)
        CHECK(strlen(ev->attrs_json) <= lim->attrs_max_bytes && ev->attrs_json[0] == '{');
    check_compact(ev->attrs_json);
    check_compact(ev->scores_json);
}

/* ---- an independent, strict JSON validator (the oracle) ---- */

typedef struct {
    const uint8_t *s;
    size_t n, i;
} lexer;

static int peek(const lexer *l) { return l->i < l->n ? l->s[l->i] : -1; }

static void skip_ws(lexer *l)
{
    while (l->i < l->n && (l->s[l->i] == ' ' || l->s[l->i] == '\t' || l->s[l->i] == '\n' ||
                           l->s[l->i] == '\r'))
        l->i++;
}

static int hexval(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int json_string(lexer *l)
{
    if (peek(l) != '"')
        return 0;
    l->i++;
    for (;;) {
        int c = peek(l);
        if (c < 0x20) /* end of input or a raw control character */
            return 0;
        l->i++;
        if (c == '"')
            return 1;
        if (c != '\\')
            continue;
        c = peek(l);
        l->i++;
        if (c == 'u') {
            for (int k = 0; k < 4; k++, l->i++)
                if (!hexval(peek(l)))
                    return 0;
        } else if (c <= 0 || !strchr("\"\\/bfnrt", c)) {
            return 0;
        }
    }
}

static int digits1(lexer *l)
{
    size_t start = l->i;
    while (peek(l) >= '0' && peek(l) <= '9')
        l->i++;
    return l->i > start;
}

static int json_number(lexer *l)
{
    if (peek(l) == '-')
        l->i++;
    if (peek(l) == '0')
        l->i++;
    else if (!digits1(l))
        return 0;
    if (peek(l) == '.') {
        l->i++;
        if (!digits1(l))
            return 0;
    }
    if (peek(l) == 'e' || peek(l) == 'E') {
        l->i++;
        if (peek(l) == '+' || peek(l) == '-')
            l->i++;
        if (!digits1(l))
            return 0;
    }
    return 1;
}

static int json_literal(lexer *l, const char *lit)
{
    size_t k = strlen(lit);
    if (l->n - l->i < k || memcmp(l->s + l->i, lit, k) != 0)
        return 0;
    l->i += k;
    return 1;
}

static int json_value(lexer *l, int depth)
{
    if (depth > 64)
        return 0;
    skip_ws(l);
    int c = peek(l);
    if (c == '"')
        return json_string(l);
    if (c == '-' || (c >= '0' && c <= '9'))
        return json_number(l);
    if (c == 't')
        return json_literal(l, "true");
    if (c == 'f')
        return json_literal(l, "false");
    if (c == 'n')
        return json_literal(l, "null");
    if (c != '{' && c != '[')
        return 0;
    int close = c == '{' ? '}' : ']';
    l->i++;
    skip_ws(l);
    if (peek(l) == close) {
        l->i++;
        return 1;
    }
    for (;;) {
        if (close == '}') {
            skip_ws(l);
            if (!json_string(l))
                return 0;
            skip_ws(l);
            if (peek(l) != ':')
                return 0;
            l->i++;
        }
        if (!json_value(l, depth + 1))
            return 0;
        skip_ws(l);
        c = peek(l);
        l->i++;
        if (c == close)
            return 1;
        if (c != ',')
            return 0;
    }
}

/* The whole input is one JSON value (after an optional UTF-8 byte order
 * mark, which the decoder documents that it skips). */
static int is_json(const uint8_t *s, size_t n)
{
    lexer l = {s, n, 0};
    if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        l.i = 3;
    if (!json_value(&l, 0))
        return 0;
    skip_ws(&l);
    return l.i == n;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The registry's event is the direct decoder's (the fields that vary). */
static void check_same(const core_event *a, const core_event *b)
{
    CHECK(same_str(a->event_id, b->event_id) && a->ts_us == b->ts_us);
    CHECK(same_str(a->api_key_id, b->api_key_id) && same_str(a->model, b->model));
    CHECK(same_str(a->client_ip, b->client_ip) && same_str(a->prompt, b->prompt));
    CHECK(same_str(a->response, b->response) && same_str(a->attrs_json, b->attrs_json));
    CHECK(same_str(a->scores_json, b->scores_json) && a->n_scores == b->n_scores);
    CHECK(a->prompt_len == b->prompt_len && a->response_len == b->response_len);
}

/* The event's binary tuple, rendered as text, is its text row. */
static void check_copy(const core_event *ev)
{
    coll_buf text = {0}, bin = {0}, back = {0};
    CHECK(coll_copy_row(&text, ev) == 0 && coll_copy_row_bin(&bin, ev) == 0);
    CHECK(coll_copy_bin_to_text(bin.data, bin.len, &back) == 0);
    CHECK(back.len == text.len && memcmp(back.data, text.data, text.len) == 0);
    CHECK(bin.len < 2 || coll_copy_bin_to_text(bin.data, bin.len - 1, &back) < 0);
    coll_buf_free(&text);
    coll_buf_free(&bin);
    coll_buf_free(&back);
}

static void run(const coll_limits *lim, const uint8_t *data, size_t size, coll_decoded *out)
{
    core_event ev;
    char err[256], err2[256];
    memset(&ev, 0, sizeof ev);
    memset(err, 0x7f, sizeof err);
    int rc = coll_decode_native(lim, data, size, &ev, err, sizeof err);
    CHECK(coll_decode(&coll_decoder_native, lim, data, size, out, err2, sizeof err2) == rc);
    if (rc == 0) {
        check_event(&ev, lim);
        check_copy(&ev);
        CHECK(is_json(data, size));
        CHECK(out->n == 1);
        check_same(&ev, &out->evs[0]);
    } else {
        CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        CHECK(ev.arena == NULL && ev.event_id == NULL);
        CHECK(out->n == 0 && out->failed_at == -1 && strcmp(err, err2) == 0);
    }
    core_event_clear(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static coll_decoded out; /* reused from input to input, as the collector does */
    coll_limits lim = coll_limits_default();
    run(&lim, data, size, &out);
    coll_limits tiny = {4096, 7, 13, 64};
    run(&tiny, data, size, &out);
    coll_decoded_reset(&out);
    return 0;
}
