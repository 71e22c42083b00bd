/* The Lua sandbox: counting allocator, instruction hook, deadline, safe
 * libraries, and the guards for the standard functions that loop in C. */
#include "playbooks/sandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* The hook runs every HOOK_EVERY VM instructions: often enough that a
 * deadline is met within microseconds, rarely enough to cost nothing. */
#define HOOK_EVERY 1000

/* Pattern matching and table.move loop in C where no hook runs; these bound
 * the work one call may do (see guard_pattern and guard_move). */
#define PATTERN_BUDGET 2e8
#define MOVE_MAX 1000000
#define SHIFT_MAX 100000
#define SORT_MAX 200000

struct pb_sb {
    lua_State *L;
    size_t used, peak, max_bytes;
    uint64_t instructions, max_instructions;
    int64_t deadline;     /* core_mono_us() value */
    pb_sb_status kill;    /* PB_SB_OK while alive */
    bool switched;        /* the hook now raises at every instruction */
    char where[160];      /* file:line where the kill hit, when known */
    char killmsg[200];
};

const char *const pb_sb_removed_globals[] = {
    "io", "os", "package", "debug", "coroutine", "require", "load", "loadfile", "dofile",
    "loadstring", "collectgarbage", "getmetatable", "setmetatable", "rawset", "rawget",
    "rawequal", "print", "warn", "module", "newproxy", NULL};

static const char KILL_KEY = 'k'; /* registry key of the preallocated kill message */

static pb_sb *sb_of(lua_State *L) { return *(pb_sb **)lua_getextraspace(L); }

const char *pb_sb_status_name(pb_sb_status st)
{
    static const char *const names[PB_SB_STATUS_COUNT] = {
        "ok", "error", "syntax", "blocked", "memory", "instructions", "deadline"};
    return st < PB_SB_STATUS_COUNT ? names[st] : "unknown";
}

/* The allocator counts every byte the state holds and refuses past the cap,
 * the very first allocation (the state itself) included. A refusal kills
 * the run: a script that catches the memory error gets no second chance. */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    pb_sb *sb = ud;
    if (!ptr)
        osize = 0; /* then osize encodes the object type, not a size */
    if (nsize == 0) {
        free(ptr);
        sb->used -= osize;
        return NULL;
    }
    if (nsize > osize && (nsize - osize > sb->max_bytes || sb->used + (nsize - osize) > sb->max_bytes)) {
        if (sb->kill == PB_SB_OK) {
            sb->kill = PB_SB_MEMORY;
            snprintf(sb->killmsg, sizeof sb->killmsg,
                     "memory limit: an allocation of %zu bytes would pass the cap of %zu bytes",
                     nsize, sb->max_bytes);
        }
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    sb->used = sb->used - osize + nsize;
    if (sb->used > sb->peak)
        sb->peak = sb->used;
    return p;
}

static void note_where(lua_State *L, pb_sb *sb)
{
    lua_Debug ar;
    for (int lvl = 0; lua_getstack(L, lvl, &ar); lvl++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            snprintf(sb->where, sizeof sb->where, "%s:%d", ar.short_src, ar.currentline);
            return;
        }
    }
}

/* Counts instructions and watches the clock; once the run is killed it
 * raises before every instruction, so no pcall in the script can resume. */
static void sb_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    pb_sb *sb = sb_of(L);
    if (sb->kill == PB_SB_OK) {
        sb->instructions += HOOK_EVERY;
        if (sb->instructions > sb->max_instructions) {
            sb->kill = PB_SB_INSTRUCTIONS;
            snprintf(sb->killmsg, sizeof sb->killmsg, "instruction limit of %llu passed",
                     (unsigned long long)sb->max_instructions);
        } else if (core_mono_us() > sb->deadline) {
            sb->kill = PB_SB_DEADLINE;
            snprintf(sb->killmsg, sizeof sb->killmsg, "deadline passed");
        } else {
            return;
        }
    }
    if (!sb->switched) {
        sb->switched = true;
        if (!sb->where[0])
            note_where(L, sb);
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &KILL_KEY);
    lua_error(L);
}

/* The clock before a library function that may work long in C (a large
 * string.upper, a capped shift): between two count ticks a loop could make
 * a thousand such calls, each of them now costs at most itself past the
 * deadline. Raises the kill when the run is (or now becomes) killed. */
static void sb_clock(lua_State *L)
{
    pb_sb *sb = sb_of(L);
    if (sb->kill == PB_SB_OK && core_mono_us() > sb->deadline) {
        sb->kill = PB_SB_DEADLINE;
        snprintf(sb->killmsg, sizeof sb->killmsg, "deadline passed");
        note_where(L, sb);
    }
    pb_sb_check(L);
}

void pb_sb_check(lua_State *L)
{
    pb_sb *sb = sb_of(L);
    if (sb->kill == PB_SB_OK)
        return;
    if (!sb->switched) {
        sb->switched = true;
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &KILL_KEY);
    lua_error(L);
}

int pb_sb_block(lua_State *L, const char *msg)
{
    pb_sb *sb = sb_of(L);
    if (sb->kill == PB_SB_OK) {
        sb->kill = PB_SB_BLOCKED;
        snprintf(sb->killmsg, sizeof sb->killmsg, "%s", msg);
        note_where(L, sb);
    }
    if (!sb->switched) {
        sb->switched = true;
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &KILL_KEY);
    return lua_error(L);
}

/* __index of the globals: reading a removed facility is an escape attempt,
 * not a typo, so it is blocked (and kills the run); anything else is nil. */
static int blocked_global(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (k && lua_type(L, 2) == LUA_TSTRING)
        for (int i = 0; pb_sb_removed_globals[i]; i++)
            if (strcmp(k, pb_sb_removed_globals[i]) == 0) {
                char msg[160];
                snprintf(msg, sizeof msg, "blocked: '%s' is not available in the playbook sandbox",
                         k);
                return pb_sb_block(L, msg);
            }
    lua_pushnil(L);
    return 1;
}

static int blocked_string_field(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (k && lua_type(L, 2) == LUA_TSTRING && strcmp(k, "dump") == 0)
        return pb_sb_block(L, "blocked: 'string.dump' is not available in the playbook sandbox");
    lua_pushnil(L);
    return 1;
}

/* xpcall runs its message handler before unwinding, while the hook that
 * raised the error is still active, that is with hooks disabled: a
 * handler that loops would then run forever. This xpcall unwinds first
 * (as pcall does, which restores the hooks) and calls the handler after,
 * itself protected. Without debug a handler cannot see the stack, so
 * nothing is lost. */
static int safe_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checkany(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checkstack(L, n + 2, "too many arguments");
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++)
        lua_pushvalue(L, i);
    int st = lua_pcall(L, n - 2, LUA_MULTRET, 0);
    pb_sb_check(L);
    if (st == LUA_OK) {
        lua_pushboolean(L, 1);
        lua_insert(L, n + 1);
        return lua_gettop(L) - n;
    }
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    lua_pcall(L, 1, 1, 0);
    pb_sb_check(L);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

/* Runs the original standard function (upvalue 1, a C function without
 * upvalues of its own, as every function of string, table and utf8 is) in
 * this very frame, after a look at the clock: its argument errors then name
 * the function as the caller wrote it ("bad argument #1 to 'upper'"), which
 * a lua_call from here would turn into '?'. */
static int call_original(lua_State *L)
{
    sb_clock(L);
    lua_CFunction f = lua_tocfunction(L, lua_upvalueindex(1));
    if (!f)
        return luaL_error(L, "sandbox: a wrapped function is not a C function");
    return f(L);
}

/* Lua patterns backtrack in C, out of the hook's reach: a subject of n bytes
 * and a pattern with q repetition items can take about n^(q+1) steps
 * (n^q when anchored); a back-reference (%1..%9) and a balance (%b) compare
 * up to n bytes per try, so they count as items too. A plain search (and a
 * pattern without specials, which Lua searches the same way) compares up to
 * the pattern's length at each of n positions. Refuse calls whose bound
 * passes the budget. plain: the call is string.find with its 4th argument
 * true, the only function for which that argument means "plain". */
static void check_pattern(lua_State *L, const char *fn, bool plain)
{
    size_t n, pl;
    luaL_checklstring(L, 1, &n);
    const char *p = luaL_checklstring(L, 2, &pl);
    int q = 0;
    bool anchored = !plain && pl > 0 && p[0] == '^';
    for (size_t i = 0; !plain && i < pl; i++) {
        if (p[i] == '%') {
            if (i + 1 < pl && (p[i + 1] == 'b' || p[i + 1] == 'f' ||
                               (p[i + 1] >= '0' && p[i + 1] <= '9')))
                q++;
            i++;
        } else if (p[i] == '[') {
            /* skip the set: a ']' right after '[' or '[^' is literal */
            i++;
            if (i < pl && p[i] == '^')
                i++;
            if (i < pl && p[i] == ']')
                i++;
            while (i < pl && p[i] != ']') {
                if (p[i] == '%')
                    i++;
                i++;
            }
        } else if (p[i] == '*' || p[i] == '+' || p[i] == '-' || p[i] == '?') {
            q++;
        }
    }
    double base = n > 1 ? (double)n : 1.0;
    double cost = pow(base, q + (anchored ? 0 : 1)) * (double)(pl ? pl : 1);
    if (cost > PATTERN_BUDGET)
        luaL_error(L, "string.%s: pattern too expensive for a subject of %d bytes (%d repetition "
                      "items): anchor it with '^', simplify it or shorten the subject",
                   fn, (int)n, q);
}

/* string.find(s, p, init, plain): the only pattern function whose 4th
 * argument means a plain search; match, gmatch and gsub give it no meaning
 * (gsub's is a count), so their patterns are always checked as patterns. */
static int guard_find(lua_State *L)
{
    check_pattern(L, "find", lua_toboolean(L, 4));
    return call_original(L);
}

static int guard_match(lua_State *L)
{
    check_pattern(L, "match", false);
    return call_original(L);
}

static int guard_gmatch(lua_State *L)
{
    check_pattern(L, "gmatch", false);
    return call_original(L);
}

static int guard_gsub(lua_State *L)
{
    check_pattern(L, "gsub", false);
    return call_original(L);
}

/* string.rep of an empty string and separator loops n times in C doing
 * nothing; large results are refused by the allocator anyway. */
static int guard_rep(lua_State *L)
{
    size_t l, lsep = 0;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    return call_original(L);
}

/* table.move loops (e - f) times in C; moving nils allocates nothing, so
 * neither the hook nor the allocator would stop a huge range. */
static int guard_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    if (e >= f && (e - f >= MOVE_MAX || e - f < 0))
        return luaL_error(L, "table.move of more than %d elements refused", MOVE_MAX);
    return call_original(L);
}

/* The length table.insert/remove/sort will see: the raw length of a plain
 * table; a table with a metatable (the read-only incident proxies) answers
 * through __len, which is one of ours and returns at once. */
static lua_Integer table_len(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_getmetatable(L, 1))
        return (lua_Integer)lua_rawlen(L, 1);
    lua_pop(L, 1);
    lua_len(L, 1);
    lua_Integer n = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    return n;
}

/* table.insert(t, pos, v) and table.remove(t, pos) shift every element
 * after pos in C, one call doing up to #t moves while the hook counts one
 * instruction: a loop of them runs seconds between two hook ticks. A shift
 * of more than SHIFT_MAX elements is refused (appending and removing the
 * last element shift nothing and are always allowed). */
static int guard_insert(lua_State *L)
{
    lua_Integer n = table_len(L);
    if (lua_gettop(L) >= 3) {
        lua_Integer pos = luaL_checkinteger(L, 2);
        if (pos >= 1 && pos <= n && n - pos >= SHIFT_MAX)
            return luaL_error(L, "table.insert: shifting %I elements refused (at most %d): "
                                 "append instead, or keep a smaller table",
                              (lua_Integer)(n - pos + 1), SHIFT_MAX);
    }
    return call_original(L);
}

static int guard_remove(lua_State *L)
{
    lua_Integer n = table_len(L);
    if (lua_gettop(L) >= 2 && !lua_isnil(L, 2)) {
        lua_Integer pos = luaL_checkinteger(L, 2);
        if (pos >= 1 && pos <= n && n - pos >= SHIFT_MAX)
            return luaL_error(L, "table.remove: shifting %I elements refused (at most %d): "
                                 "remove from the end, or keep a smaller table",
                              (lua_Integer)(n - pos), SHIFT_MAX);
    }
    return call_original(L);
}

/* table.sort compares n log n times in C; without a Lua comparator no hook
 * runs while it does. Tables over SORT_MAX elements are refused. */
static int guard_sort(lua_State *L)
{
    lua_Integer n = table_len(L);
    if (n > SORT_MAX)
        return luaL_error(L, "table.sort of %I elements refused (at most %d)", n, SORT_MAX);
    return call_original(L);
}

/* Wraps every C function of library lib not named in skip with
 * call_original, so that it looks at the clock first. */
static void wrap_all(lua_State *L, const char *lib, const char *const skip[])
{
    lua_getglobal(L, lib);
    int t = lua_gettop(L);
    lua_newtable(L); /* the wrapped ones, set after the walk */
    lua_pushnil(L);
    while (lua_next(L, t)) {
        bool skipped = lua_type(L, -2) != LUA_TSTRING || !lua_iscfunction(L, -1);
        for (int i = 0; !skipped && skip[i]; i++)
            skipped = strcmp(lua_tostring(L, -2), skip[i]) == 0;
        if (skipped) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushcclosure(L, call_original, 1);
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, t + 1);
    }
    lua_pushnil(L);
    while (lua_next(L, t + 1)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, t);
    }
    lua_pop(L, 2);
}

static void wrap(lua_State *L, const char *lib, const char *fn, lua_CFunction guard)
{
    lua_getglobal(L, lib);
    lua_getfield(L, -1, fn);
    lua_pushcclosure(L, guard, 1);
    lua_setfield(L, -2, fn);
    lua_pop(L, 1);
}

/* Runs under lua_pcall so that running out of memory while setting up is
 * an error, not a panic. */
static int setup(lua_State *L)
{
    static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
                                    {LUA_STRLIBNAME, luaopen_string},
                                    {LUA_TABLIBNAME, luaopen_table},
                                    {LUA_MATHLIBNAME, luaopen_math},
                                    {LUA_UTF8LIBNAME, luaopen_utf8},
                                    {NULL, NULL}};
    for (const luaL_Reg *l = libs; l->func; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    for (int i = 0; pb_sb_removed_globals[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, pb_sb_removed_globals[i]);
    }
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_newtable(L);
    lua_pushcfunction(L, blocked_string_field);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
    /* The globals' metatable turns reads of removed names into a block;
     * __metatable keeps it out of reach should a getter ever come back. */
    lua_newtable(L);
    lua_pushcfunction(L, blocked_global);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);

    lua_pushcfunction(L, safe_xpcall);
    lua_setglobal(L, "xpcall");
    wrap(L, "string", "find", guard_find);
    wrap(L, "string", "match", guard_match);
    wrap(L, "string", "gmatch", guard_gmatch);
    wrap(L, "string", "gsub", guard_gsub);
    wrap(L, "string", "rep", guard_rep);
    wrap(L, "table", "move", guard_move);
    wrap(L, "table", "insert", guard_insert);
    wrap(L, "table", "remove", guard_remove);
    wrap(L, "table", "sort", guard_sort);
    static const char *const string_own[] = {"find", "match", "gmatch", "gsub", "rep", NULL};
    static const char *const table_own[] = {"move", "insert", "remove", "sort", NULL};
    static const char *const none[] = {NULL};
    wrap_all(L, "string", string_own);
    wrap_all(L, "table", table_own);
    wrap_all(L, "utf8", none);

    lua_pushstring(L, "playbook run killed by the sandbox");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &KILL_KEY);

    /* The promise this file makes, checked in every build (NDEBUG or not):
     * none of these is reachable. */
    lua_pushglobaltable(L);
    for (int i = 0; pb_sb_removed_globals[i]; i++) {
        lua_pushstring(L, pb_sb_removed_globals[i]);
        if (lua_rawget(L, -2) != LUA_TNIL)
            return luaL_error(L, "sandbox invariant broken: '%s' is reachable",
                              pb_sb_removed_globals[i]);
        lua_pop(L, 1);
    }
    lua_getglobal(L, "string");
    lua_pushstring(L, "dump");
    if (lua_rawget(L, -2) != LUA_TNIL)
        return luaL_error(L, "sandbox invariant broken: 'string.dump' is reachable");
    lua_pop(L, 3);
    return 0;
}

/* ---- the allow-list ----
 * What a sandboxed state may hold, by name: anything else found in the
 * globals or in a library table refuses start-up (pb_sb_check_allowed).
 * The removed globals above are the known dangers; this list is what is
 * known to be safe, so a library that grows a function in a new Lua
 * release, or a binding that leaks one, is caught rather than exposed. */
static const char *const g_allow_string[] = {
    "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "pack",
    "packsize", "rep", "reverse", "sub", "unpack", "upper", NULL};
static const char *const g_allow_table[] = {
    "concat", "insert", "move", "pack", "remove", "sort", "unpack", NULL};
static const char *const g_allow_math[] = {
    "abs", "acos", "asin", "atan", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log",
    "max", "maxinteger", "min", "mininteger", "modf", "pi", "rad", "random", "randomseed",
    "sin", "sqrt", "tan", "tointeger", "type", "ult",
    /* LUA_COMPAT_MATHLIB (Debian builds Lua 5.4 with LUA_COMPAT_5_3) */
    "atan2", "cosh", "sinh", "tanh", "pow", "frexp", "ldexp", "log10", NULL};
static const char *const g_allow_utf8[] = {
    "char", "charpattern", "codepoint", "codes", "len", "offset", NULL};

static const pb_sb_allow g_allow[] = {
    {"assert", NULL, NULL},   {"error", NULL, NULL},    {"ipairs", NULL, NULL},
    {"next", NULL, NULL},     {"pairs", NULL, NULL},    {"pcall", NULL, NULL},
    {"rawlen", NULL, NULL},   {"select", NULL, NULL},   {"tonumber", NULL, NULL},
    {"tostring", NULL, NULL}, {"type", NULL, NULL},     {"xpcall", NULL, NULL},
    {"_G", NULL, NULL},       {"_VERSION", NULL, NULL},
    {"string", g_allow_string, NULL}, {"table", g_allow_table, NULL},
    {"math", g_allow_math, NULL},     {"utf8", g_allow_utf8, NULL},
    {NULL, NULL, NULL}};

static const pb_sb_allow *allow_find(const pb_sb_allow *list, const char *name)
{
    for (const pb_sb_allow *a = list; a && a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

static bool member_allowed(const pb_sb_allow *a, const char *name)
{
    for (int i = 0; a->members && a->members[i]; i++)
        if (strcmp(a->members[i], name) == 0)
            return true;
    for (const luaL_Reg *r = a->funcs; r && r->name; r++)
        if (strcmp(r->name, name) == 0)
            return true;
    return false;
}

/* The table at the top of the stack (the library a) holds only allowed
 * members. Returns 0, or -1 with err naming the first stranger. */
static int check_library(lua_State *L, const pb_sb_allow *a, char *err, size_t errlen)
{
    int t = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING || !member_allowed(a, lua_tostring(L, -2))) {
            snprintf(err, errlen, "sandbox allow-list: %s.%s is not allowed", a->name,
                     lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                    : luaL_typename(L, -2));
            lua_settop(L, t);
            return -1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

int pb_sb_check_allowed(lua_State *L, const pb_sb_allow *extra, char *err, size_t errlen)
{
    if (!lua_checkstack(L, 6)) {
        snprintf(err, errlen, "sandbox allow-list: no stack space");
        return -1;
    }
    int top = lua_gettop(L);
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, g)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        const pb_sb_allow *a = k ? allow_find(g_allow, k) : NULL;
        if (k && !a)
            a = allow_find(extra, k);
        if (!a) {
            snprintf(err, errlen, "sandbox allow-list: global '%s' is not allowed",
                     k ? k : luaL_typename(L, -2));
            goto refused;
        }
        bool library = a->members || a->funcs;
        if (library) {
            if (!lua_istable(L, -1)) {
                snprintf(err, errlen, "sandbox allow-list: '%s' is not a library table", k);
                goto refused;
            }
            if (check_library(L, a, err, errlen) < 0)
                goto refused;
        } else if (lua_istable(L, -1) && !(strcmp(k, "_G") == 0 && lua_rawequal(L, -1, g))) {
            /* a table under a function's name would hide members unchecked */
            snprintf(err, errlen, "sandbox allow-list: global '%s' is a table", k);
            goto refused;
        }
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    return 0;
refused:
    lua_settop(L, top);
    return -1;
}

pb_sb *pb_sb_new(const pb_sb_limits *lim, char *err, size_t errlen)
{
    pb_sb *sb = calloc(1, sizeof *sb);
    if (!sb) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sb->max_bytes = lim->max_bytes;
    sb->max_instructions = lim->max_instructions;
    sb->deadline = core_mono_us() + lim->deadline_us;
    sb->L = lua_newstate(sb_alloc, sb);
    if (!sb->L) {
        snprintf(err, errlen, "cannot create a Lua state within %zu bytes", lim->max_bytes);
        goto error;
    }
    *(pb_sb **)lua_getextraspace(sb->L) = sb;
    lua_pushcfunction(sb->L, setup);
    if (lua_pcall(sb->L, 0, 0, 0) != LUA_OK) {
        snprintf(err, errlen, "cannot set up the sandbox: %s",
                 lua_type(sb->L, -1) == LUA_TSTRING ? lua_tostring(sb->L, -1) : "out of memory");
        goto error;
    }
    if (sb->kill != PB_SB_OK) {
        snprintf(err, errlen, "cannot set up the sandbox: %s", sb->killmsg);
        goto error;
    }
    lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, HOOK_EVERY);
    return sb;
error:
    pb_sb_free(sb);
    return NULL;
}

void pb_sb_free(pb_sb *sb)
{
    if (!sb)
        return;
    if (sb->L)
        lua_close(sb->L);
    free(sb);
}

lua_State *pb_sb_state(pb_sb *sb) { return sb->L; }
bool pb_sb_killed(const pb_sb *sb) { return sb->kill != PB_SB_OK; }
size_t pb_sb_bytes(const pb_sb *sb) { return sb->used; }
size_t pb_sb_peak_bytes(const pb_sb *sb) { return sb->peak; }
uint64_t pb_sb_instructions(const pb_sb *sb) { return sb->instructions; }

static void kill_message(const pb_sb *sb, char *err, size_t errlen)
{
    if (sb->where[0])
        snprintf(err, errlen, "%s: killed: %s", sb->where, sb->killmsg);
    else
        snprintf(err, errlen, "killed: %s", sb->killmsg);
}

pb_sb_status pb_sb_load(pb_sb *sb, const char *src, size_t len, const char *name, char *err,
                        size_t errlen)
{
    if (sb->kill != PB_SB_OK) {
        kill_message(sb, err, errlen);
        return sb->kill;
    }
    /* "t": text only. A precompiled chunk is refused before it is read. */
    int rc = luaL_loadbufferx(sb->L, src, len, name, "t");
    if (rc == LUA_OK)
        return PB_SB_OK;
    const char *m = lua_type(sb->L, -1) == LUA_TSTRING ? lua_tostring(sb->L, -1) : NULL;
    if (sb->kill != PB_SB_OK) {
        kill_message(sb, err, errlen);
        lua_pop(sb->L, 1);
        return sb->kill;
    }
    snprintf(err, errlen, "%s", m ? m : "cannot load");
    lua_pop(sb->L, 1);
    return rc == LUA_ERRMEM ? PB_SB_MEMORY : PB_SB_SYNTAX;
}

/* Message handler: the playbook's file:line in front of the message (errors
 * raised by C functions carry none), without calling any metamethod. */
static int msgh(lua_State *L)
{
    pb_sb *sb = sb_of(L);
    if (sb->kill != PB_SB_OK && !sb->where[0])
        note_where(L, sb); /* the allocator cannot see where it was refused */
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    lua_Debug ar;
    for (int lvl = 1; lua_getstack(L, lvl, &ar); lvl++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            size_t sl = strlen(ar.short_src);
            if (strncmp(msg, ar.short_src, sl) != 0 || msg[sl] != ':')
                lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
            break;
        }
    }
    return 1;
}

pb_sb_status pb_sb_call(pb_sb *sb, int nargs, int nresults, char *err, size_t errlen)
{
    lua_State *L = sb->L;
    if (sb->kill != PB_SB_OK) {
        lua_pop(L, nargs + 1);
        kill_message(sb, err, errlen);
        return sb->kill;
    }
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, nresults, base);
    if (sb->kill != PB_SB_OK) {
        /* Killed, whatever the script's pcalls made of it. */
        lua_settop(L, base - 1);
        kill_message(sb, err, errlen);
        return sb->kill;
    }
    if (rc == LUA_OK) {
        lua_remove(L, base);
        return PB_SB_OK;
    }
    /* Only a string is read: converting anything else could allocate
     * outside protected mode. */
    const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    snprintf(err, errlen, "%s", m ? m : "error (no message)");
    lua_settop(L, base - 1);
    return rc == LUA_ERRMEM ? PB_SB_MEMORY : PB_SB_ERROR;
}
