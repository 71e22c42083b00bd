/* libFuzzer target for the playbook loader and the Lua API in the sandbox.
 * An input that starts with "return" is a whole playbook file; anything
 * else is the body of run(), wrapped in a declaration that loads, so that
 * the generated Lua reaches the API. Each is loaded and run against a fixed
 * incident under small limits (1 MiB, 2e5 instructions, 100 ms), with a
 * host that records every action call. Promises checked on every run:
 * it ends within its deadline plus a margin (one guarded C call), its
 * state never held more than its byte cap, the status is a known class
 * with a message when it is not ok, and every action handed to the host
 * has a subject without control characters and parameters that are valid
 * UTF-8 JSON within 64 KiB. A broken promise aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/log.h"
#include "playbooks/pb.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "promise broken: %s\n", #cond);                          \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* The margin past the deadline: one library call under its cap, slowed by
 * the sanitizers. A run that takes longer escaped the clock. */
#define MARGIN_US 2000000

static const pb_sb_limits LIM = {.max_bytes = 1 << 20, .max_instructions = 200000,
                                 .deadline_us = 100000};

static const char INCIDENT[] =
    "{\"incident_id\":\"inc-fuzz\",\"type\":\"extraction\",\"severity\":\"high\","
    "\"api_key_id\":\"k-1\",\"model\":\"m\",\"model_version\":\"v2\","
    "\"summary\":\"two\\nlines\",\"evidence\":{\"queries\":1200,\"alerts\":3},"
    "\"atlas\":[\"AML.T0024\"]}";

static int host_action(void *ud, const pb_call *c, int64_t *id, char *state, size_t statelen,
                       char *err, size_t errlen)
{
    int *calls = ud;
    (void)err;
    (void)errlen;
    CHECK(c->subject && *c->subject);
    CHECK(core_utf8_invalid_at((const unsigned char *)c->subject, strlen(c->subject)) < 0);
    CHECK(core_text_control_at(c->subject, strlen(c->subject)) < 0);
    char *p = cJSON_PrintUnformatted(c->params);
    CHECK(p);
    size_t n = strlen(p);
    CHECK(n <= 65536 + 512);
    CHECK(core_utf8_invalid_at((const unsigned char *)p, n) < 0);
    free(p);
    *id = ++*calls;
    snprintf(state, statelen, "dry_run");
    return 0;
}

static cJSON *host_key_info(void *ud, const char *key)
{
    (void)ud;
    return strcmp(key, "k-1") == 0 ? cJSON_Parse("{\"key_id\":\"k-1\",\"status\":\"active\"}")
                                   : NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* quiet: custos.log of generated playbooks would flood the fuzzer's output */
    core_log_set_level((core_log_level)(CORE_LOG_ERROR + 1));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *src;
    size_t len;
    if (size >= 6 && memcmp(data, "return", 6) == 0) {
        src = malloc(size + 1);
        CHECK(src);
        memcpy(src, data, size);
        len = size;
    } else {
        static const char head[] = "return { name = \"fuzz\", on = { types = \"*\" },\n"
                                   "run = function(incident)\n";
        static const char tail[] = "\nend }\n";
        len = sizeof head - 1 + size + sizeof tail - 1;
        src = malloc(len + 1);
        CHECK(src);
        memcpy(src, head, sizeof head - 1);
        memcpy(src + sizeof head - 1, data, size);
        memcpy(src + sizeof head - 1 + size, tail, sizeof tail - 1);
    }
    src[len] = '\0';
    pb_playbook pb;
    char err[512];
    memset(err, 'x', sizeof err);
    int64_t t0 = core_mono_us();
    int rc = pb_playbook_load_src(&pb, "fuzz.lua", src, len, &LIM, err, sizeof err);
    int64_t load_us = core_mono_us() - t0;
    free(src);
    CHECK(load_us <= LIM.deadline_us + MARGIN_US);
    if (rc != 0) {
        CHECK(rc == -1);
        CHECK(memchr(err, '\0', sizeof err) != NULL && err[0]);
        pb_playbook_free(&pb);
        return 0;
    }
    pb_incident inc;
    CHECK(pb_incident_parse(&inc, INCIDENT, sizeof INCIDENT - 1, err, sizeof err) == 0);
    int calls = 0;
    pb_host host = {.ud = &calls, .action = host_action, .key_info = host_key_info};
    pb_run_result r;
    pb_run(&pb, &inc, &host, &LIM, 8, &r);
    CHECK(r.status < PB_SB_STATUS_COUNT);
    CHECK(r.status == PB_SB_OK || r.err[0]);
    CHECK(r.us <= LIM.deadline_us + MARGIN_US);
    CHECK(r.peak_bytes <= LIM.max_bytes);
    CHECK(r.actions <= 8 && calls <= r.actions);
    pb_incident_free(&inc);
    pb_playbook_free(&pb);
    return 0;
}
