/* The sandbox escape suite: every attempt runs as a real playbook through
 * the real sandbox and API, from outside, and must be denied or killed;
 * after each one a well-behaved playbook must still run and act. */
#include <lauxlib.h>
#include <lualib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "playbooks/pb.h"
#include "tests/lib/pb_fixtures.h"

static const char *INCIDENT =
    "{\"incident_id\":\"inc-1\",\"type\":\"extraction\",\"severity\":\"high\","
    "\"api_key_id\":\"k-1\",\"model\":\"m\",\"model_version\":\"v2\","
    "\"first_seen\":\"2026-11-21T10:00:00Z\",\"detected_at\":\"2026-11-21T10:05:00Z\","
    "\"atlas\":[\"AML.T0024\"],\"owasp\":[\"LLM10\"],\"summary\":\"s\","
    "\"evidence\":{\"queries\":1200,\"alerts\":3}}";

/* The instruction cases must be stopped by the count, not the clock: a
 * deadline far beyond what 10M instructions take even on a loaded machine
 * (at 1 s one hit the deadline first). The deadline's own case sets its
 * own. */
static const pb_sb_limits LIMITS = {.max_bytes = 16 << 20,
                                    .max_instructions = 10000000,
                                    .deadline_us = 30000000};

/* Loads body as the run of playbook name and runs it once against
 * INCIDENT; the load must succeed. */
static pb_run_result run_src(const char *name, const char *body, rec_host *h,
                             const pb_sb_limits *lim)
{
    return pb_fixture_run(name, name, "", body, INCIDENT, h, lim ? lim : &LIMITS);
}

/* After every attempt: a good playbook runs and its action is recorded. */
static void next_playbook_runs(void)
{
    rec_host h = {0};
    pb_run_result r = run_src("good.lua", "local id, st = custos.revoke_key(incident.subject.api_key_id)\n"
                                          "assert(id == 1 and st == 'dry_run')", &h, NULL);
    assert_int_equal(r.status, PB_SB_OK);
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.last_kind, "revoke_key");
    assert_string_equal(h.last_subject, "k-1");
}

/* Runs body under lim (NULL: LIMITS) and expects it stopped with want. */
static void expect_lim(const char *body, pb_sb_status want, const char *needle,
                       const pb_sb_limits *lim)
{
    rec_host h = {0};
    int64_t t0 = core_mono_us();
    pb_run_result r = run_src("evil.lua", body, &h, lim);
    int64_t us = core_mono_us() - t0;
    print_message("  %-12s %6lld us  %s\n", pb_sb_status_name(r.status), (long long)us, r.err);
    if (r.status != want)
        fail_msg("status %s, want %s: %s", pb_sb_status_name(r.status), pb_sb_status_name(want),
                 r.err);
    if (needle && !strstr(r.err, needle))
        fail_msg("message '%s' lacks '%s'", r.err, needle);
    /* No action slipped through after the escape was stopped. */
    assert_int_equal(h.calls, 0);
    /* Killed within the deadline plus slack, never hanging. */
    assert_true(us < (lim ? lim->deadline_us : LIMITS.deadline_us) + 2000000);
    next_playbook_runs();
}

static void expect(const char *body, pb_sb_status want, const char *needle)
{
    expect_lim(body, want, needle, NULL);
}

/* The memory cases prove the byte cap: a deadline far beyond the time they
 * need even on a loaded machine, so that the cap, not the clock, stops them
 * (at 1 s a loaded machine hit the deadline first). */
static const pb_sb_limits MEMORY_LIMITS = {.max_bytes = 16 << 20,
                                           .max_instructions = 1000000000,
                                           .deadline_us = 30000000};

static void t_os_execute(void **s)
{
    (void)s;
    unlink("/tmp/custos-pb-escaped");
    expect("os.execute('touch /tmp/custos-pb-escaped')\ncustos.revoke_key('x')", PB_SB_BLOCKED,
           "'os' is not available");
    assert_int_equal(access("/tmp/custos-pb-escaped", F_OK), -1);
}

static void t_io_open(void **s)
{
    (void)s;
    expect("local f = io.open('/etc/passwd')\ncustos.revoke_key(f:read('a'))", PB_SB_BLOCKED,
           "'io'");
}

static void t_require(void **s)
{
    (void)s;
    expect("local os = require('os')\nos.exit(1)", PB_SB_BLOCKED, "'require'");
}

static void t_package_loadlib(void **s)
{
    (void)s;
    expect("package.loadlib('/lib/x86_64-linux-gnu/libc.so.6', 'system')('id')", PB_SB_BLOCKED,
           "'package'");
}

static void t_load_bytecode(void **s)
{
    (void)s;
    expect("local f = load('\\27Lua\\84\\0', 'x', 'b')\nf()", PB_SB_BLOCKED, "'load'");
    expect("local f = loadstring('return 1')", PB_SB_BLOCKED, "'loadstring'");
    expect("dofile('/etc/passwd')", PB_SB_BLOCKED, "'dofile'");
    expect("loadfile('/etc/passwd')", PB_SB_BLOCKED, "'loadfile'");
}

/* A real precompiled chunk, made outside the sandbox with lua_dump, is
 * refused as a playbook: only text loads. */
typedef struct { char buf[4096]; size_t n; } dumpbuf;
static int writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    dumpbuf *d = ud;
    if (d->n + sz > sizeof d->buf)
        return 1;
    memcpy(d->buf + d->n, p, sz);
    d->n += sz;
    return 0;
}

static void t_bytecode_playbook(void **s)
{
    (void)s;
    lua_State *L = luaL_newstate();
    const char *src = "return { on = { types = '*' }, run = function() end }";
    assert_int_equal(luaL_loadstring(L, src), LUA_OK);
    static dumpbuf d;
    assert_int_equal(lua_dump(L, writer, &d, 0), 0);
    const char *bc = d.buf;
    size_t n = d.n;
    assert_true(n > 4 && bc[0] == '\x1b');
    pb_playbook pb;
    char err[512];
    assert_int_equal(pb_playbook_load_src(&pb, "bytecode.lua", bc, n, &LIMITS, err, sizeof err),
                     -1);
    print_message("  refused: %s\n", err);
    assert_non_null(strstr(err, "binary chunk"));
    pb_playbook_free(&pb);
    lua_close(L);
}

static void t_string_dump(void **s)
{
    (void)s;
    expect("local b = string.dump(function() return 1 end)", PB_SB_BLOCKED, "string.dump");
    expect("local b = (''):dump()", PB_SB_BLOCKED, "string.dump");
}

static void t_debug(void **s)
{
    (void)s;
    expect("local r = debug.getregistry()\nr[1] = nil", PB_SB_BLOCKED, "'debug'");
    expect("local co = coroutine.create(function() end)", PB_SB_BLOCKED, "'coroutine'");
}

static void t_metatables(void **s)
{
    (void)s;
    expect("getmetatable('').__index.upper = function() return 'x' end", PB_SB_BLOCKED,
           "'getmetatable'");
    expect("setmetatable(_G, { __index = function() return os end })", PB_SB_BLOCKED,
           "'setmetatable'");
    expect("rawset(_G, 'os', {})", PB_SB_BLOCKED, "'rawset'");
    expect("local x = rawget(_G, 'io')", PB_SB_BLOCKED, "'rawget'");
    expect("local e = _ENV\nlocal x = e.os", PB_SB_BLOCKED, "'os'");
    expect("local x = _G['pack' .. 'age']", PB_SB_BLOCKED, "'package'");
    /* The incident is read-only; write attempts are errors. */
    expect("incident.severity = 'low'", PB_SB_ERROR, "read-only");
    expect("incident.subject.api_key_id = 'other'", PB_SB_ERROR, "read-only");
    /* pairs over the incident yields the data but not a way to write it */
    rec_host h = {0};
    pb_run_result r = run_src("pairs.lua",
                              "local n = 0\nfor k, v in pairs(incident) do n = n + 1 end\n"
                              "assert(n >= 12, n)\nassert(#incident.atlas == 1)\n"
                              "for i, v in ipairs(incident.atlas) do assert(v == 'AML.T0024') end\n"
                              "local f, t = pairs(incident)\n"
                              "assert(t == incident)\n",
                              &h, NULL);
    assert_int_equal(r.status, PB_SB_OK);
    /* Changing the string library in one run does not reach the next. */
    r = run_src("strmod.lua", "string.upper = function() return 'pwned' end\n"
                              "assert(('a'):upper() == 'pwned')", &h, NULL);
    assert_int_equal(r.status, PB_SB_OK);
    r = run_src("strnext.lua", "assert(('a'):upper() == 'A')", &h, NULL);
    assert_int_equal(r.status, PB_SB_OK);
}

static void t_collectgarbage(void **s)
{
    (void)s;
    expect("collectgarbage('stop')", PB_SB_BLOCKED, "'collectgarbage'");
    expect("print('hello')", PB_SB_BLOCKED, "'print'");
}

static void t_infinite_loop(void **s)
{
    (void)s;
    expect("while true do end", PB_SB_INSTRUCTIONS, "evil.lua:3:");
    /* With a huge instruction cap the deadline kills it. */
    rec_host h = {0};
    pb_sb_limits lim = LIMITS;
    lim.max_instructions = UINT64_MAX / 2;
    lim.deadline_us = 200000;
    int64_t t0 = core_mono_us();
    pb_run_result r = run_src("loop.lua", "local i = 0\nwhile true do i = i + 1 end", &h, &lim);
    int64_t us = core_mono_us() - t0;
    print_message("  deadline: %s after %lld us\n", r.err, (long long)us);
    assert_int_equal(r.status, PB_SB_DEADLINE);
    /* Not before the deadline; after it by at most a scheduling delay (wide:
     * a loaded machine may not run this process for a while). */
    assert_true(us >= 200000 && us < 200000 + 2000000);
    next_playbook_runs();
}

static void t_deep_recursion(void **s)
{
    (void)s;
    rec_host h = {0};
    pb_run_result r = run_src("rec.lua", "local function f(n) return 1 + f(n + 1) end\nf(1)", &h,
                              NULL);
    print_message("  %s: %s\n", pb_sb_status_name(r.status), r.err);
    assert_true(r.status == PB_SB_ERROR || r.status == PB_SB_MEMORY);
    assert_true(strstr(r.err, "stack overflow") || r.status == PB_SB_MEMORY);
    /* Tail recursion never overflows: the instruction cap ends it. */
    expect("local function f(n) return f(n + 1) end\nf(1)", PB_SB_INSTRUCTIONS, NULL);
    /* Recursion through C (gsub calling back) hits the C-stack limit. */
    r = run_src("crec.lua", "local function f(s) return (s:gsub('.', f)) end\nf('ab')", &h, NULL);
    print_message("  %s: %s\n", pb_sb_status_name(r.status), r.err);
    assert_true(r.status == PB_SB_ERROR || r.status == PB_SB_MEMORY);
    assert_int_equal(h.calls, 0);
    next_playbook_runs();
}

static void t_big_allocation(void **s)
{
    (void)s;
    expect_lim("local s = string.rep('x', 1 << 30)\ncustos.revoke_key(s)", PB_SB_MEMORY,
               "memory limit", &MEMORY_LIMITS);
    expect_lim("local t = {}\nfor i = 1, 1e9 do t[i] = i end", PB_SB_MEMORY, "memory limit",
               &MEMORY_LIMITS);
    expect_lim("local t = {}\nfor i = 1, 1e9 do t[#t + 1] = tostring(i) .. 'padding' end",
               PB_SB_MEMORY, NULL, &MEMORY_LIMITS);
    expect_lim("local s = ('x'):rep(1 << 20)\nlocal t = table.concat({s, s, s, s, s, s, s, s, s, "
               "s, s, s, s, s, s, s, s})", PB_SB_MEMORY, NULL, &MEMORY_LIMITS);
}

static void t_rep_bombs(void **s)
{
    (void)s;
    expect("local s = ('x'):rep(1e8):rep(1e8)", PB_SB_MEMORY, NULL);
    expect("local s = string.rep('ab', math.maxinteger)", PB_SB_ERROR, "too large");
    /* An empty string repeated 2^62 times loops in C with no allocation:
     * the guard answers at once. */
    rec_host h = {0};
    pb_run_result r = run_src("empty.lua", "assert(string.rep('', 1 << 62) == '')\n"
                                           "assert(string.rep('', 1 << 62, '') == '')\n"
                                           "custos.log('info', 'still here')",
                              &h, NULL);
    /* Unguarded, this loops in C for ever (no hook sees it): finishing at
     * all, within the run's deadline, is the proof. */
    assert_int_equal(r.status, PB_SB_OK);
    assert_true(r.us < LIMITS.deadline_us);
    next_playbook_runs();
}

static void t_c_loops(void **s)
{
    (void)s;
    expect("local t = table.move({}, 1, math.maxinteger - 1, 2)", PB_SB_ERROR, "table.move");
    expect("local s = string.rep('a', 300000)\nlocal i = s:find('.-.-.-.-b')", PB_SB_ERROR,
           "pattern too expensive");
    expect("local s = string.rep('a', 300000)\nfor x in s:gmatch('(.-)(.-)b') do end",
           PB_SB_ERROR, "pattern too expensive");
    /* Ordinary patterns still work. */
    rec_host h = {0};
    pb_run_result r = run_src("pat.lua", "assert(('gpt-4o-2024'):match('^(%w+)%-') == 'gpt')\n"
                                         "assert(('a=1, b=2'):gsub('(%w+)=(%w+)', '%2=%1') == "
                                         "'1=a, 2=b')\n"
                                         "assert(('x.y'):find('.', 1, true) == 2)",
                              &h, NULL);
    assert_int_equal(r.status, PB_SB_OK);
}

static void t_pcall_swallowing(void **s)
{
    (void)s;
    expect("while true do pcall(function() while true do end end) end\n"
           "custos.revoke_key('x')", PB_SB_INSTRUCTIONS, NULL);
    expect("pcall(function() while true do end end)\ncustos.revoke_key('x')", PB_SB_INSTRUCTIONS,
           NULL);
    expect("pcall(string.rep, 'x', 1 << 30)\ncustos.revoke_key('x')", PB_SB_MEMORY, NULL);
    expect("local ok = pcall(function() return os end)\ncustos.revoke_key('x')", PB_SB_BLOCKED,
           NULL);
    expect("xpcall(function() while true do end end, function() while true do end end)\n"
           "custos.revoke_key('x')", PB_SB_INSTRUCTIONS, NULL);
    expect("for i = 1, 100 do pcall(error, {}) end\n"
           "local ok, e = pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end)\n"
           "if not ok then custos.revoke_key('x') end", PB_SB_MEMORY, NULL);
    expect("local ok = pcall(require, 'os')\ncustos.revoke_key('x')", PB_SB_BLOCKED, NULL);
}

static void t_removed_globals_nil(void **s)
{
    (void)s;
    char err[256];
    pb_sb *sb = pb_sb_new(&LIMITS, err, sizeof err);
    assert_non_null(sb);
    lua_State *L = pb_sb_state(sb);
    lua_pushglobaltable(L);
    for (int i = 0; pb_sb_removed_globals[i]; i++) {
        lua_pushstring(L, pb_sb_removed_globals[i]);
        assert_int_equal(lua_rawget(L, -2), LUA_TNIL);
        lua_pop(L, 1);
    }
    /* only the five libraries are there */
    const char *libs[] = {"string", "table", "math", "utf8"};
    for (int i = 0; i < 4; i++) {
        lua_pushstring(L, libs[i]);
        assert_int_equal(lua_rawget(L, -2), LUA_TTABLE);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    pb_sb_free(sb);
}

/* The start-up allow-list: a playbook's state passes, and a global or a
 * library member the list does not name is caught, by name. */
static void t_allow_list(void **s)
{
    (void)s;
    char err[256] = "";
    assert_int_equal(pb_api_check_sandbox(&LIMITS, err, sizeof err), 0);
    pb_sb *sb = pb_sb_new(&LIMITS, err, sizeof err);
    assert_non_null(sb);
    lua_State *L = pb_sb_state(sb);
    assert_int_equal(pb_sb_check_allowed(L, NULL, err, sizeof err), 0);

    lua_pushboolean(L, 1);
    lua_setglobal(L, "sneaky");
    assert_int_equal(pb_sb_check_allowed(L, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "global 'sneaky' is not allowed"));
    lua_pushnil(L);
    lua_setglobal(L, "sneaky");

    /* a function that came back (as an older sandbox would have left it) */
    lua_pushcfunction(L, luaopen_base);
    lua_call(L, 0, 1);
    lua_pop(L, 1);
    assert_int_equal(pb_sb_check_allowed(L, NULL, err, sizeof err), -1);
    print_message("  %s\n", err);
    pb_sb_free(sb);

    sb = pb_sb_new(&LIMITS, err, sizeof err);
    L = pb_sb_state(sb);
    lua_getglobal(L, "string");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "sneaky");
    lua_pop(L, 1);
    assert_int_equal(pb_sb_check_allowed(L, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "string.sneaky is not allowed"));
    pb_sb_free(sb);

    /* the host's table is allowed only as the host declares it */
    sb = pb_sb_new(&LIMITS, err, sizeof err);
    L = pb_sb_state(sb);
    static const luaL_Reg fns[] = {{"ok", luaopen_base}, {NULL, NULL}};
    const pb_sb_allow extra[] = {{"custos", NULL, fns}, {NULL, NULL, NULL}};
    lua_newtable(L);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ok");
    lua_setglobal(L, "custos");
    assert_int_equal(pb_sb_check_allowed(L, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "global 'custos' is not allowed"));
    assert_int_equal(pb_sb_check_allowed(L, extra, err, sizeof err), 0);
    lua_getglobal(L, "custos");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "os_execute");
    lua_pop(L, 1);
    assert_int_equal(pb_sb_check_allowed(L, extra, err, sizeof err), -1);
    assert_non_null(strstr(err, "custos.os_execute is not allowed"));
    pb_sb_free(sb);
}

static void t_first_allocation_capped(void **s)
{
    (void)s;
    char err[256];
    pb_sb_limits lim = LIMITS;
    lim.max_bytes = 200;
    assert_null(pb_sb_new(&lim, err, sizeof err));
    print_message("  %s\n", err);
    lim.max_bytes = 8000; /* enough for the state, not the libraries */
    assert_null(pb_sb_new(&lim, err, sizeof err));
    print_message("  %s\n", err);
}

static void t_error_has_file_line(void **s)
{
    (void)s;
    rec_host h = {0};
    pb_run_result r = run_src("lines.lua", "local x = 1\nlocal y = nil\nreturn y.z", &h, NULL);
    assert_int_equal(r.status, PB_SB_ERROR);
    assert_non_null(strstr(r.err, "lines.lua:5:"));
    /* an error raised by a host function carries the caller's line */
    r = run_src("args.lua", "\ncustos.revoke_key(42)", &h, NULL);
    assert_int_equal(r.status, PB_SB_ERROR);
    print_message("  %s\n", r.err);
    assert_non_null(strstr(r.err, "args.lua:4:"));
    assert_non_null(strstr(r.err, "key_id"));
}

static void t_api_argument_checks(void **s)
{
    (void)s;
    static const struct { const char *body, *needle; } bad[] = {
        {"custos.revoke_key()", "must be a string"},
        {"custos.revoke_key('')", "1 to 256"},
        {"custos.revoke_key('k', {ttl = -1})", "'ttl' must be from"},
        {"custos.revoke_key('k', {ttl = 'soon'})", "'ttl' must be a number"},
        {"custos.revoke_key('k', {reson = 'typo'})", "unknown option 'reson'"},
        {"custos.revoke_key('k', 'why')", "table of options"},
        {"custos.revoke_key('k\\n')", "control characters"},
        {"custos.throttle_key('k')", "rps="},
        {"custos.throttle_key('k', {ttl = 60})", "'rps' is required"},
        {"custos.throttle_key('k', {rps = 0})", "'rps' must be from"},
        {"custos.rollback_model('other')", "'from' is required"},
        {"custos.rollback_model('m', {to = 'v2'})", "same version"},
        {"custos.notify('pager', {})", "not one of webhook"},
        {"custos.notify('webhook', 'text')", "must be a table"},
        {"custos.notify('webhook', {f = function() end})", "cannot be sent"},
        {"local t = {} t.t = t custos.notify('log', t)", "nested deeper"},
        {"custos.set_incident({})", "at least one"},
        {"custos.set_incident({severity = 'huge'})", "not one of low"},
        {"custos.set_incident({status = 'Contained!'})", "lowercase"},
        {"custos.log('loud', 'x')", "not one of debug"},
        {"custos.key_info(nil)", "must be a string"},
        {"for i = 1, 40 do custos.notify('log', {i = i}) end", "more than 32 actions"},
        {"custos.revoke_key('k', {approval = 'maybe'})", "\"required\" or \"none\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rec_host h = {0};
        pb_run_result r = run_src("api.lua", bad[i].body, &h, NULL);
        if (r.status != PB_SB_ERROR || !strstr(r.err, bad[i].needle))
            fail_msg("[%s] gave %s '%s', want error with '%s'", bad[i].body,
                     pb_sb_status_name(r.status), r.err, bad[i].needle);
    }
    /* and the good calls pass their parameters through */
    rec_host h = {0};
    pb_run_result r = run_src("ok.lua",
                              "custos.throttle_key('k9', {rps = 2, ttl = 60})\n"
                              "local info = custos.key_info('k-known')\n"
                              "assert(info.status == 'active')\n"
                              "assert(custos.key_info('nope') == nil)\n"
                              "custos.rollback_model('m', {to = 'previous'})\n",
                              &h, NULL);
    assert_int_equal(r.status, PB_SB_OK);
    assert_int_equal(h.calls, 2);
    assert_string_equal(h.last_kind, "rollback_model");
    assert_non_null(strstr(h.last_params, "\"from\":\"v2\",\"to\":\"previous\""));
}

static void t_declaration_checks(void **s)
{
    (void)s;
    static const struct { const char *src, *needle; } bad[] = {
        {"return 42", "must end with"},
        {"return { on = { types = '*' } }", "run must be a function"},
        {"return { on = { types = {'extraktion'} }, run = function() end }", "'extraktion'"},
        {"return { on = { types = '*', min_severity = 'urgent' }, run = function() end }",
         "min_severity"},
        {"return { on = { types = '*' }, runn = function() end, run = function() end }",
         "unknown field 'runn'"},
        {"return { on = { types = '*' }, run = function() end, approval = 'yes' }", "approval"},
        {"local x = \nreturn {}", "bad.lua:2:"},
        {"custos.revoke_key('k')\nreturn {}", "inside run()"},
        {"while true do end", "killed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pb_playbook pb;
        char err[512];
        int rc = pb_playbook_load_src(&pb, "bad.lua", bad[i].src, strlen(bad[i].src), &LIMITS,
                                      err, sizeof err);
        if (rc != -1 || !strstr(err, bad[i].needle))
            fail_msg("[%s] gave rc %d '%s', want '%s'", bad[i].src, rc, err, bad[i].needle);
        pb_playbook_free(&pb);
    }
}

int main(void)
{
    core_log_set_level(CORE_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_removed_globals_nil),
        cmocka_unit_test(t_allow_list),
        cmocka_unit_test(t_first_allocation_capped),
        cmocka_unit_test(t_os_execute),
        cmocka_unit_test(t_io_open),
        cmocka_unit_test(t_require),
        cmocka_unit_test(t_package_loadlib),
        cmocka_unit_test(t_load_bytecode),
        cmocka_unit_test(t_bytecode_playbook),
        cmocka_unit_test(t_string_dump),
        cmocka_unit_test(t_debug),
        cmocka_unit_test(t_metatables),
        cmocka_unit_test(t_collectgarbage),
        cmocka_unit_test(t_infinite_loop),
        cmocka_unit_test(t_deep_recursion),
        cmocka_unit_test(t_big_allocation),
        cmocka_unit_test(t_rep_bombs),
        cmocka_unit_test(t_c_loops),
        cmocka_unit_test(t_pcall_swallowing),
        cmocka_unit_test(t_error_has_file_line),
        cmocka_unit_test(t_api_argument_checks),
        cmocka_unit_test(t_declaration_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
