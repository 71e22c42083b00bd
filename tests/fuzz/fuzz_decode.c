/* libFuzzer target for the native event decoder.
 *
 * Each input is decoded twice, with the default limits and with tiny ones
 * (so that truncation and the size checks are reached by small inputs), and
 * what the decoder promises is checked on every result: a refusal comes with
 * a NUL-terminated reason and a cleared event; an accepted event has every
 * required field, and every string is valid UTF-8, NUL-free up to its length
 * and within its cap. A broken promise aborts, which libFuzzer reports as a
 * crash with the input that caused it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/decode.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond))                                                                 \
            abort();                                                                 \
    } while (0)

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
}

static void run(const coll_limits *lim, const uint8_t *data, size_t size)
{
    core_event ev;
    char err[256];
    memset(&ev, 0, sizeof ev);
    memset(err, 0x7f, sizeof err);
    if (coll_decode_native(lim, data, size, &ev, err, sizeof err) == 0) {
        check_event(&ev, lim);
    } else {
        CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        CHECK(ev.arena == NULL && ev.event_id == NULL);
    }
    core_event_clear(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    coll_limits lim = coll_limits_default();
    run(&lim, data, size);
    coll_limits tiny = {4096, 7, 13, 64};
    run(&tiny, data, size);
    return 0;
}
