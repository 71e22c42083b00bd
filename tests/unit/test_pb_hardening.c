/* Hardening probes for the playbook sandbox and API (issue 13), run from
 * outside as the escape suite is: each probe is a real playbook through the
 * real loader, sandbox and API. A probe that could hang runs in a child
 * process that the test waits for with a deadline, so a regression fails
 * the test (naming the probe) instead of hanging ctest. */
#include <lauxlib.h>
#include <lualib.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "playbooks/pb.h"
#include "tests/lib/pb_fixtures.h"

static const char *INCIDENT =
    "{\"incident_id\":\"inc-1\",\"type\":\"extraction\",\"severity\":\"high\","
    "\"api_key_id\":\"k-1\",\"model\":\"m\",\"model_version\":\"v2\","
    "\"evidence\":{\"queries\":1200}}";

/* The probes that must end in an error or succeed get a deadline far past
 * what they need (on a busy machine building a 4 MB string can take longer
 * than a second of wall time, and the deadline would then be what stops
 * them, not the guard under test); the probes about the deadline itself
 * run with a 1 s one. */
static const pb_sb_limits LIMITS = {.max_bytes = 16 << 20,
                                    .max_instructions = 100000000,
                                    .deadline_us = 30000000};
static const pb_sb_limits SHORT_DEADLINE = {.max_bytes = 16 << 20,
                                            .max_instructions = 100000000,
                                            .deadline_us = 1000000};
static const pb_sb_limits *g_limits = &LIMITS;

/* Loads a playbook made of decl (extra declaration fields, may be "") and
 * body (run's body) and runs it once against INCIDENT. */
static pb_run_result run_decl(const char *decl, const char *body, rec_host *h)
{
    return pb_fixture_run("probe.lua", "probe", decl, body, INCIDENT, h, g_limits);
}

/* What a child reports about its run. */
typedef struct {
    int status;
    int calls;
    char err[512];
    char params[4096];
} child_report;

/* Runs the probe in a child and waits for it up to wait_s seconds (past
 * the sandbox's deadline: the wait is only there so that a probe that
 * never ends fails instead of hanging). Fails the test when the child does
 * not finish or dies. */
static child_report run_in_child(const char *decl, const char *body, int wait_s)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        rec_host h = {0};
        pb_run_result r = run_decl(decl, body, &h);
        child_report rep = {.status = r.status, .calls = h.calls};
        snprintf(rep.err, sizeof rep.err, "%s", r.err);
        snprintf(rep.params, sizeof rep.params, "%s", h.last_params);
        ssize_t w = write(fd[1], &rep, sizeof rep);
        _exit(w == (ssize_t)sizeof rep ? 0 : 3);
    }
    close(fd[1]);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int wst = 0;
    for (;;) {
        pid_t got = waitpid(pid, &wst, WNOHANG);
        if (got == pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= wait_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &wst, 0);
            close(fd[0]);
            fail_msg("the run did not end within %d s: %s", wait_s, body);
        }
        struct timespec step = {0, 10 * 1000 * 1000};
        nanosleep(&step, NULL);
    }
    child_report rep;
    memset(&rep, 0, sizeof rep);
    ssize_t n = read(fd[0], &rep, sizeof rep);
    close(fd[0]);
    if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0 || n != (ssize_t)sizeof rep)
        fail_msg("the child running the probe died (wait status %d): %s", wst, body);
    return rep;
}

/* The probe ends, with status want and err holding needle, and acts not. */
static void expect_ends(const char *body, pb_sb_status want, const char *needle)
{
    child_report r = run_in_child("", body, 90);
    print_message("  %-8s %s\n", pb_sb_status_name(r.status), r.err);
    if (r.status != (int)want)
        fail_msg("status %s, want %s: %s [%s]", pb_sb_status_name(r.status),
                 pb_sb_status_name(want), r.err, body);
    if (needle && !strstr(r.err, needle))
        fail_msg("message '%s' lacks '%s'", r.err, needle);
    assert_int_equal(r.calls, 0);
}

/* ---- item 1: C loops that no hook sees ---- */

static void t_pattern_plain_flag_only_for_find(void **s)
{
    (void)s;
    /* match and gmatch have no plain flag: a 4th argument true must not
     * turn the guard off. */
    expect_ends("local s = string.rep('a', 300000)\n"
                "local m = string.match(s, '.-.-.-.-b', 1, true)\ncustos.revoke_key('x')",
                PB_SB_ERROR, "pattern too expensive");
    expect_ends("local s = string.rep('a', 300000)\n"
                "for x in string.gmatch(s, '(.-)(.-)b', 1, true) do end\ncustos.revoke_key('x')",
                PB_SB_ERROR, "pattern too expensive");
    expect_ends("local s = string.rep('a', 300000)\n"
                "local r = string.gsub(s, '.-.-.-.-b', '', true)\ncustos.revoke_key('x')",
                PB_SB_ERROR, "pattern too expensive");
    /* string.find's plain search compares up to the pattern's length at
     * each position: a long needle in a long haystack is bounded too. */
    expect_ends("local s = string.rep('a', 4000000)\n"
                "local p = string.rep('a', 2000000) .. 'b'\n"
                "local i = string.find(s, p, 1, true)\ncustos.revoke_key('x')",
                PB_SB_ERROR, "pattern too expensive");
    /* A back-reference compares the capture again at every try. */
    expect_ends("local s = string.rep('a', 5000)\n"
                "local i = s:find('(.*)%1b')\ncustos.revoke_key('x')",
                PB_SB_ERROR, "pattern too expensive");
    /* Ordinary uses still work, plain find included. */
    child_report r = run_in_child("",
                                  "assert(('x.y'):find('.', 1, true) == 2)\n"
                                  "assert(('k=v'):match('^(%w+)=(%w+)$', 1) == 'k')\n"
                                  "local n = 0 for w in ('a b c'):gmatch('%a') do n = n + 1 end\n"
                                  "assert(n == 3)\n"
                                  "assert(('abab'):find('(ab)%1') == 1)\n"
                                  "custos.revoke_key('k-ok')",
                                  90);
    assert_int_equal(r.status, PB_SB_OK);
    assert_int_equal(r.calls, 1);
}

static void t_table_shift_and_sort_capped(void **s)
{
    (void)s;
    /* Inserting at the front of a 400k table shifts 400k elements per
     * call: refused, not run for seconds past the deadline. */
    expect_ends("local t = {}\nfor i = 1, 400000 do t[i] = i end\n"
                "for i = 1, 1000000 do table.insert(t, 1, i) end\ncustos.revoke_key('x')",
                PB_SB_ERROR, "table.insert: shifting");
    expect_ends("local t = {}\nfor i = 1, 400000 do t[i] = i end\n"
                "for i = 1, 1000000 do table.remove(t, 1) end\ncustos.revoke_key('x')",
                PB_SB_ERROR, "table.remove: shifting");
    expect_ends("local t = {}\nfor i = 1, 300000 do t[i] = -i end\n"
                "table.sort(t)\ncustos.revoke_key('x')",
                PB_SB_ERROR, "table.sort of 300000 elements refused");
    /* Small tables and appends are untouched. */
    child_report r = run_in_child("",
                                  "local t = {3, 1, 2}\ntable.insert(t, 1, 0)\n"
                                  "table.sort(t)\nassert(table.remove(t, 1) == 0)\n"
                                  "local big = {}\nfor i = 1, 400000 do table.insert(big, i) end\n"
                                  "assert(table.remove(big) == 400000)\n"
                                  "custos.revoke_key('k-ok')",
                                  90);
    if (r.status != PB_SB_OK)
        fail_msg("%s", r.err);
    assert_int_equal(r.calls, 1);
}

static void t_long_c_calls_meet_the_deadline(void **s)
{
    (void)s;
    /* Each call works milliseconds in C; the run still ends by the
     * deadline (the library functions look at the clock first). */
    g_limits = &SHORT_DEADLINE;
    expect_ends("local s = string.rep('x', 1000000)\n"
                "while true do local u = s:upper() end", PB_SB_DEADLINE, "deadline");
    expect_ends("local t = {}\nwhile true do table.move(t, 1, 999999, 2) end", PB_SB_DEADLINE,
                "deadline");
    g_limits = &LIMITS;
}

/* The wrapped library functions still name themselves in argument errors. */
static void t_wrapped_functions_keep_their_names(void **s)
{
    (void)s;
    static const struct { const char *body, *needle; } cases[] = {
        {"local x = string.upper()", "bad argument #1 to 'upper'"},
        {"local x = string.rep('x')", "bad argument #2 to 'rep'"},
        {"local x = ('x'):find({})", "bad argument #1 to 'find'"},
        {"table.insert(1, 2)", "bad argument #1 to 'insert'"},
        {"local x = utf8.char(-1)", "bad argument #1 to 'char'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rec_host h = {0};
        pb_run_result r = run_decl("", cases[i].body, &h);
        if (r.status != PB_SB_ERROR || !strstr(r.err, cases[i].needle))
            fail_msg("[%s] gave %s '%s', want '%s'", cases[i].body, pb_sb_status_name(r.status),
                     r.err, cases[i].needle);
    }
}

/* ---- item 3: when() cannot act ---- */

static void t_when_cannot_act(void **s)
{
    (void)s;
    const char *acts[] = {"custos.revoke_key('k-when')", "custos.notify('log', {x = 1})",
                          "custos.set_incident({note = 'n'})",
                          "custos.throttle_key('k', {rps = 1})"};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        char decl[256];
        snprintf(decl, sizeof decl, "when = function(incident) %s return false end,", acts[i]);
        rec_host h = {0};
        pb_run_result r = run_decl(decl, "custos.revoke_key('from-run')", &h);
        print_message("  %s: %s\n", pb_sb_status_name(r.status), r.err);
        assert_int_equal(h.calls, 0);
        assert_int_equal(r.status, PB_SB_ERROR);
        assert_non_null(strstr(r.err, "inside run(), not in when()"));
        /* pcall around the action in when() does not let it through */
        snprintf(decl, sizeof decl, "when = function(incident) pcall(function() %s end) "
                                    "return false end,", acts[i]);
        r = run_decl(decl, "custos.revoke_key('from-run')", &h);
        assert_int_equal(h.calls, 0);
        assert_false(r.matched);
    }
    /* A when() that says yes lets run() act; reading data still works. */
    rec_host h = {0};
    pb_run_result r = run_decl("when = function(incident) return incident.subject.api_key_id "
                               "== 'k-1' end,",
                               "custos.revoke_key(incident.subject.api_key_id)", &h);
    assert_int_equal(r.status, PB_SB_OK);
    assert_true(r.matched);
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.last_subject, "k-1");
}

/* ---- item 4: strings that are not what they seem ---- */

static void expect_refused(const char *body, const char *needle)
{
    rec_host h = {0};
    pb_run_result r = run_decl("", body, &h);
    if (r.status != PB_SB_ERROR || !strstr(r.err, needle))
        fail_msg("[%s] gave %s '%s', want an error with '%s'", body, pb_sb_status_name(r.status),
                 r.err, needle);
    assert_int_equal(h.calls, 0);
}

static void t_api_strings_refused(void **s)
{
    (void)s;
    /* NUL bytes used to cut the value silently */
    expect_refused("custos.revoke_key('k', {reason = 'a\\0b'})", "NUL");
    expect_refused("custos.set_incident({note = 'seen\\0 hidden'})", "NUL");
    expect_refused("custos.rollback_model('m', {from = 'v2\\0x', to = 'v1'})", "NUL");
    expect_refused("custos.rollback_model('m', {to = 'v1\\0x'})", "NUL");
    expect_refused("custos.notify('webhook', {amount = 1, ['amount\\0x'] = 1000000})", "NUL");
    expect_refused("custos.notify('webhook', {text = 'a\\0b'})", "NUL");
    expect_refused("custos.log('info', 'a\\0b')", "NUL");
    /* lines forged in `playbook test` output and logs */
    expect_refused("custos.rollback_model('m', {to = 'v1\\nrun other: ok'})", "control");
    expect_refused("custos.rollback_model('m', {from = 'v2\\r', to = 'v1'})", "control");
    expect_refused("custos.revoke_key('k', {reason = 'x\\naction 9 done'})", "control");
    expect_refused("custos.revoke_key('k', {reason = 'x\\u{2028}y'})", "control");
    expect_refused("custos.revoke_key('k\\u{85}x')", "control");
    expect_refused("custos.throttle_key('k', {rps = 1, reason = 'x\\u{2029}'})", "control");
    expect_refused("custos.notify('webhook', {['a\\nb'] = 1})", "control");
    expect_refused("custos.set_incident({note = 'bell\\7'})", "control");
    /* not UTF-8: it goes into JSON */
    expect_refused("custos.revoke_key('k', {reason = 'caf\\xe9'})", "UTF-8");
    expect_refused("custos.notify('log', {text = '\\xff'})", "UTF-8");
    /* one JSON name twice */
    expect_refused("custos.notify('webhook', {[1] = 'a', ['1'] = 'b'})", "twice");
    /* what is fine stays fine */
    rec_host h = {0};
    pb_run_result r = run_decl("",
                               "custos.set_incident({note = 'line 1\\nline 2\\tend'})\n"
                               "custos.revoke_key('k', {reason = 'caf\\u{e9} \\u{2603}'})\n"
                               "custos.notify('webhook', {text = 'a\\nb', n = 1})",
                               &h);
    if (r.status != PB_SB_OK)
        fail_msg("%s", r.err);
    assert_int_equal(h.calls, 3);
    assert_non_null(strstr(h.last_params, "\"text\":\"a\\nb\""));
}

static void expect_incident_refused(const char *json, size_t len, const char *needle)
{
    pb_incident inc;
    char err[512] = "";
    int rc = pb_incident_parse(&inc, json, len, err, sizeof err);
    pb_incident_free(&inc);
    print_message("  %s\n", err);
    if (rc != -1)
        fail_msg("accepted: %.*s", (int)len, json);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
}
#define INC_REFUSED(lit, needle) expect_incident_refused(lit, sizeof lit - 1, needle)

static void t_incident_files_meet_the_decoder_rules(void **s)
{
    (void)s;
#define HEAD "{\"incident_id\":\"i\",\"type\":\"extraction\","
    /* \u0000 cut api_key_id to another key */
    INC_REFUSED(HEAD "\"severity\":\"high\",\"api_key_id\":\"key-a\\u0000ttacker\"}", "\\u0000");
    /* a second severity used to win */
    INC_REFUSED(HEAD "\"severity\":\"low\",\"severity\":\"critical\"}", "duplicate key");
    INC_REFUSED(HEAD "\"severity\":\"low\",\"evidence\":{\"n\":1,\"n\":2}}", "duplicate key");
    INC_REFUSED(HEAD "\"severity\":\"low\"} trailing", "trailing data");
    INC_REFUSED(HEAD "\"severity\":\"low\"}{}", "trailing data");
    INC_REFUSED(HEAD "\"severity\":\"low\",\"summary\":\"\xff\"}", "invalid UTF-8");
    INC_REFUSED(HEAD "\"severity\":\"low\",\"api_key_id\":\"k\xc2\x85x\"}", "control character");
    INC_REFUSED(HEAD "\"severity\":\"low\",\"model\":\"m\\u2028x\"}", "control character");
    INC_REFUSED(HEAD "\"severity\":\"low\",\"api_key_id\":\"k\\nx\"}", "control character");
    /* item 10: a lone surrogate is said as such */
    INC_REFUSED(HEAD "\"severity\":\"low\",\"summary\":\"\\ud800\"}", "high surrogate");
    INC_REFUSED(HEAD "\"severity\":\"low\",\"summary\":\"\\udc00\"}", "low surrogate");
#undef HEAD
    /* a good one, a summary with a newline and a surrogate pair included */
    const char *good = "{\"incident_id\":\"i\",\"type\":\"probing\",\"severity\":\"medium\","
                       "\"api_key_id\":\"k-1\",\"summary\":\"two\\nlines \\ud83d\\ude00\"}";
    pb_incident inc;
    char err[512];
    if (pb_incident_parse(&inc, good, strlen(good), err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(inc.api_key_id, "k-1");
    pb_incident_free(&inc);
}

/* ---- item 2: host copies count against the limit while they are built ---- */

/* cJSON's allocations, counted (malloc_usable_size, so that a buffer freed
 * with plain free() cannot make the count wrong by more than itself). */
static size_t g_cj_now, g_cj_peak;
static void *cj_malloc(size_t n)
{
    void *p = malloc(n);
    if (p) {
        g_cj_now += malloc_usable_size(p);
        if (g_cj_now > g_cj_peak)
            g_cj_peak = g_cj_now;
    }
    return p;
}
static void cj_free(void *p)
{
    if (p) {
        size_t u = malloc_usable_size(p);
        g_cj_now = u > g_cj_now ? 0 : g_cj_now - u;
    }
    free(p);
}

static void t_notify_counts_while_building(void **s)
{
    (void)s;
    cJSON_Hooks hooks = {.malloc_fn = cj_malloc, .free_fn = cj_free};
    cJSON_InitHooks(&hooks);
    static const char *const bombs[] = {
        /* 200 references to one 1 MiB string: 200 MiB of copies before */
        "local big = string.rep('x', 1 << 20)\nlocal t = {}\n"
        "for i = 1, 200 do t[i] = big end\ncustos.notify('webhook', t)",
        /* the same under keys, and escapes that grow when printed */
        "local big = string.rep('\"', 1 << 19)\nlocal t = {}\n"
        "for i = 1, 200 do t['k' .. i] = big end\ncustos.notify('log', {nested = t})",
    };
    for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
        g_cj_now = g_cj_peak = 0;
        rec_host h = {0};
        pb_run_result r = run_decl("", bombs[i], &h);
        print_message("  %s: %s; cJSON peak %zu bytes\n", pb_sb_status_name(r.status), r.err,
                      g_cj_peak);
        assert_int_equal(r.status, PB_SB_ERROR);
        assert_non_null(strstr(r.err, "larger than 64 KiB"));
        assert_int_equal(h.calls, 0);
        /* stopped at the limit: what was built stays near it */
        assert_true(g_cj_peak < (4u << 20));
    }
    /* a message up to the limit goes through */
    g_cj_now = g_cj_peak = 0;
    rec_host h = {0};
    pb_run_result r = run_decl("", "custos.notify('webhook', {text = string.rep('y', 60000)})",
                               &h);
    cJSON_InitHooks(NULL);
    if (r.status != PB_SB_OK)
        fail_msg("%s", r.err);
    assert_int_equal(h.calls, 1);
}

/* ---- item 10: clearer errors ---- */

static void t_directory_as_playbook_file(void **s)
{
    (void)s;
    char dir[] = "/tmp/custos-pb-dir.XXXXXX";
    assert_non_null(mkdtemp(dir));
    pb_playbook pb;
    char err[512] = "";
    assert_int_equal(pb_playbook_load_file(&pb, dir, &LIMITS, err, sizeof err), -1);
    pb_playbook_free(&pb);
    rmdir(dir);
    print_message("  %s\n", err);
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, "is a directory"));
}

int main(void)
{
    core_log_set_level(CORE_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_pattern_plain_flag_only_for_find),
        cmocka_unit_test(t_table_shift_and_sort_capped),
        cmocka_unit_test(t_long_c_calls_meet_the_deadline),
        cmocka_unit_test(t_wrapped_functions_keep_their_names),
        cmocka_unit_test(t_when_cannot_act),
        cmocka_unit_test(t_api_strings_refused),
        cmocka_unit_test(t_incident_files_meet_the_decoder_rules),
        cmocka_unit_test(t_notify_counts_while_building),
        cmocka_unit_test(t_directory_as_playbook_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
