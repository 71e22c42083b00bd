/* libFuzzer target for a foreign-format decoder: built once per format
 * (fuzz_litellm, fuzz_otlp_json, fuzz_otlp_proto: FUZZ_FORMAT names it).
 *
 * Each input is decoded with the default limits and with tiny ones, and what
 * the registry promises is checked on every result: a refused message comes
 * with a reason that names the format and no event; an accepted one holds
 * events that meet the native decoder's rules (every required field, valid
 * UTF-8 within its cap), refused items with a reason naming the format, and
 * indexes that count every item once (events, refused and skipped, in
 * order); for the JSON formats, the tree coll_map_tree builds of a checked
 * object is cJSON's. A broken promise aborts, which libFuzzer reports with
 * its input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/decode_map.h"
#include "core/json_scan.h"

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
    CHECK(core_text_control_at(s, n) < 0 || max > CORE_EVENT_NAME_MAX);
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
    check_str(ev->finish_reason, CORE_EVENT_FINISH_MAX);
    CHECK(ev->ts_us >= 0);
    if (ev->prompt)
        CHECK(strlen(ev->prompt) == ev->prompt_len && ev->prompt_len <= lim->prompt_max_bytes);
    if (ev->response)
        CHECK(strlen(ev->response) == ev->response_len &&
              ev->response_len <= lim->response_max_bytes);
    CHECK(!ev->has_latency || (ev->latency_ms >= 0 && ev->latency_ms < 1e12));
    CHECK(ev->n_scores <= CORE_EVENT_SCORES_MAX);
    if (ev->attrs_json)
        CHECK(strlen(ev->attrs_json) <= lim->attrs_max_bytes && ev->attrs_json[0] == '{');
}

static void run(const coll_decoder *d, const coll_limits *lim, const uint8_t *data, size_t size)
{
    static coll_decoded out;
    char err[512];
    err[0] = '\0';
    size_t fl = strlen(d->name);
    if (coll_decode(d, lim, data, size, &out, err, sizeof err) < 0) {
        CHECK(out.n == 0 && out.n_refused == 0);
        CHECK(memchr(err, '\0', sizeof err) && strncmp(err, d->name, fl) == 0);
        return;
    }
    CHECK(out.n + out.n_refused + out.n_skipped == out.next_index);
    for (size_t i = 0; i < out.n; i++) {
        check_event(&out.evs[i], lim);
        CHECK(out.index[i] < out.next_index && (i == 0 || out.index[i] > out.index[i - 1]));
    }
    for (size_t k = 0; k < out.n_refused; k++) {
        CHECK(out.refused[k].index < out.next_index);
        CHECK(k == 0 || out.refused[k].index > out.refused[k - 1].index);
        CHECK(strncmp(out.refused[k].reason, d->name, fl) == 0);
        for (size_t i = 0; i < out.n; i++)
            CHECK(out.index[i] != out.refused[k].index);
    }
    coll_decoded_reset(&out);
}

/* JSON formats: a checked object's tree from coll_map_tree is cJSON's own
 * (it gives up rather than differ; never builds one where cJSON fails). */
static void same_tree(const uint8_t *data, size_t size)
{
    char err[256];
    if (size == 0 || data[0] != '{' || core_utf8_invalid_at(data, size) >= 0 ||
        core_json_check_object(data, size, err, sizeof err) < 0)
        return;
    cJSON *want = cJSON_ParseWithLength((const char *)data, size);
    cJSON *got = coll_map_tree(data, size);
    CHECK(want || !got);
    if (want && got) {
        char *a = cJSON_PrintUnformatted(want), *b = cJSON_PrintUnformatted(got);
        CHECK(a && b && strcmp(a, b) == 0);
        free(a);
        free(b);
    }
    cJSON_Delete(want);
    cJSON_Delete(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const coll_decoder *d = coll_decoder_find(FUZZ_FORMAT);
    CHECK(d);
    uint8_t *copy = malloc(size ? size : 1); /* exact size: a read past it is caught */
    CHECK(copy);
    memcpy(copy, data, size);
    coll_limits lim = coll_limits_default();
    run(d, &lim, copy, size);
    coll_limits tiny = {4096, 16, 16, 64};
    run(d, &tiny, copy, size);
    if (!d->framed)
        same_tree(copy, size);
    free(copy);
    return 0;
}
