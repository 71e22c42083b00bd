/* Mutated input never crashes the playbook loader, the incident parser or
 * a run: thousands of deterministic mutations of the shipped playbooks
 * (byte flips, Lua tokens spliced in, truncations) and of a sample incident
 * go through the real code; each ends as a load, a refusal or a classified
 * run failure, within the deadline. (A libFuzzer target would explore more;
 * this runs in every ctest and under the sanitizers.) */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"
#include "playbooks/pb.h"
#include "tests/lib/rng.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) { return t_xorshift64(&g_rng); }

/* The instruction cap is what bounds a mutated loop; the deadline is far
 * past what any run needs, so that a busy machine (a run preempted for a
 * while) cannot turn an OK or ERROR run into a DEADLINE one. */
static const pb_sb_limits LIM = {.max_bytes = 4 << 20, .max_instructions = 2000000,
                                 .deadline_us = 30000000};

static const char *const TOKENS[] = {
    " end ", " function() ", " while true do ", " return ", "{", "}", "(", ")", "..", " nil ",
    "\"", "'", "[[", "]]", "--[[", " local x = ", " os.exit() ", " custos.revoke_key(",
    " incident.", " pcall(", " string.rep('x', 1 << 40) ", "\0", "\x1bLua", " goto l ", "::l::",
    " 1e309 ", " 0x7fffffffffffffff ", " # ", " ~ ", " // 0 ", " % 0 "};

static char *mutate(const char *src, size_t len, size_t *out)
{
    size_t cap = len + 256;
    char *b = malloc(cap);
    memcpy(b, src, len);
    size_t n = len;
    int edits = 1 + (int)(rnd() % 4);
    for (int e = 0; e < edits && n > 0; e++) {
        size_t at = rnd() % n;
        switch (rnd() % 4) {
        case 0: /* flip a byte */
            b[at] = (char)(rnd() & 0xff);
            break;
        case 1: { /* splice a token */
            const char *t = TOKENS[rnd() % (sizeof TOKENS / sizeof TOKENS[0])];
            size_t tl = strlen(t) ? strlen(t) : 1;
            if (n + tl >= cap)
                break;
            memmove(b + at + tl, b + at, n - at);
            memcpy(b + at, t, tl);
            n += tl;
            break;
        }
        case 2: /* truncate */
            n = at;
            break;
        default: { /* delete a run */
            size_t dl = 1 + rnd() % 16;
            if (at + dl > n)
                dl = n - at;
            memmove(b + at, b + at + dl, n - at - dl);
            n -= dl;
        }
        }
    }
    *out = n;
    return b;
}

static int act(void *ud, const pb_call *c, int64_t *id, char *state, size_t sl, char *err,
               size_t el)
{
    (void)c; (void)err; (void)el;
    ++*(int *)ud;
    *id = *(int *)ud;
    snprintf(state, sl, "dry_run");
    return 0;
}

static const char *INCIDENT =
    "{\"incident_id\":\"inc-1\",\"type\":\"extraction\",\"severity\":\"high\","
    "\"api_key_id\":\"k-1\",\"model\":\"m\",\"model_version\":\"v2\",\"summary\":\"s\","
    "\"first_seen\":\"2026-11-21T10:00:00Z\",\"atlas\":[\"a\"],\"owasp\":[],"
    "\"evidence\":{\"queries\":1,\"windows\":[{\"psi\":0.4}],\"nested\":{\"a\":[1,2,{\"b\":null}]}}}";

static void t_mutated_playbooks(void **s)
{
    (void)s;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/playbooks", getenv("CUSTOS_SOURCE_DIR") ? getenv("CUSTOS_SOURCE_DIR")
                                                                          : CUSTOS_SOURCE_DIR);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int files = 0, loaded = 0, refused = 0, runs = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".lua") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char src[16384];
        size_t n = fread(src, 1, sizeof src, f);
        fclose(f);
        files++;
        for (int i = 0; i < 400; i++) {
            size_t ml;
            char *m = mutate(src, n, &ml);
            pb_playbook pb;
            char err[512];
            int64_t t0 = core_mono_us();
            if (pb_playbook_load_src(&pb, "mut.lua", m, ml, &LIM, err, sizeof err) == 0) {
                loaded++;
                pb_incident inc;
                assert_int_equal(pb_incident_parse(&inc, INCIDENT, strlen(INCIDENT), err,
                                                   sizeof err), 0);
                int calls = 0;
                pb_host host = {.ud = &calls, .action = act};
                pb_run_result r;
                pb_run(&pb, &inc, &host, &LIM, 8, &r);
                assert_true(r.status < PB_SB_STATUS_COUNT);
                assert_true(calls <= 8);
                runs++;
                pb_incident_free(&inc);
            } else {
                refused++;
                assert_true(strlen(err) > 0);
            }
            /* load and run each have their own deadline */
            /* slack for a loaded machine's scheduling, not for the run */
            assert_true(core_mono_us() - t0 < 2 * LIM.deadline_us + 2000000);
            pb_playbook_free(&pb);
            free(m);
        }
    }
    closedir(d);
    print_message("  %d files, %d mutants loaded (%d runs), %d refused\n", files, loaded, runs,
                  refused);
    assert_true(files >= 5);
    assert_true(refused > 0 && loaded > 0);
}

static void t_mutated_incidents(void **s)
{
    (void)s;
    const char *src = "return { on = { types = '*' }, run = function(i)\n"
                      "  local n = 0 for k, v in pairs(i) do n = n + 1 end\n"
                      "  if i.subject.api_key_id then custos.revoke_key(i.subject.api_key_id) end\n"
                      "  custos.notify('log', i)\n"
                      "end }";
    pb_playbook pb;
    char err[512];
    assert_int_equal(pb_playbook_load_src(&pb, "inc.lua", src, strlen(src), &LIM, err, sizeof err),
                     0);
    int ok = 0, bad = 0;
    for (int i = 0; i < 3000; i++) {
        size_t ml;
        char *m = mutate(INCIDENT, strlen(INCIDENT), &ml);
        pb_incident inc;
        if (pb_incident_parse(&inc, m, ml, err, sizeof err) == 0) {
            int calls = 0;
            pb_host host = {.ud = &calls, .action = act};
            pb_run_result r;
            pb_run(&pb, &inc, &host, &LIM, 8, &r);
            /* valid incidents go through; a key id with control characters
             * is refused by the argument checks, as it must be */
            assert_true(r.status == PB_SB_OK || r.status == PB_SB_ERROR);
            ok++;
        } else {
            bad++;
        }
        pb_incident_free(&inc);
        free(m);
    }
    print_message("  %d mutated incidents accepted, %d refused\n", ok, bad);
    assert_true(ok > 0 && bad > 0);
    pb_playbook_free(&pb);
}

int main(void)
{
    core_log_set_level(CORE_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_mutated_playbooks),
        cmocka_unit_test(t_mutated_incidents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
