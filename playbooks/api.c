/* The Lua binding: the `custos` table and the read-only `incident`.
 * Every argument is checked here; the host (pb_engine.c) decides what an
 * action becomes. Host context comes from the registry, never a global. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/log.h"
#include "playbooks/pb.h"

#define RO_MAX_DEPTH 16
#define JSON_MAX_DEPTH 8
#define JSON_MAX_ITEMS 4096
#define NOTIFY_MAX_BYTES 65536
#define TTL_MAX_S (30LL * 24 * 3600)

typedef struct {
    const pb_host *host;
    const pb_playbook *pb;
    const pb_incident *inc;
    pb_sb *sb;
    int actions, max_actions;
    bool in_when;   /* the predicate is running: it may read, never act */
    cJSON *pending; /* JSON being built or handed over; pb_run frees what a raise left */
} api_ctx;

static const char CTX_KEY = 'c';

static api_ctx *ctx_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &CTX_KEY);
    api_ctx *c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    pb_sb_check(L);
    return c;
}

/* The context of an action call: refused at load time, when there is no
 * incident yet, and inside when(), which only decides whether run() runs. */
static api_ctx *run_ctx(lua_State *L, const char *fn)
{
    api_ctx *c = ctx_of(L);
    if (!c->inc)
        luaL_error(L, "custos.%s: actions can only be taken inside run(), not while loading", fn);
    if (c->in_when)
        luaL_error(L, "custos.%s: actions can only be taken inside run(), not in when()", fn);
    return c;
}

/* ---- read-only proxies ---- */

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "incident data is read-only (copy what you want to change)");
}

static void ro_data(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        luaL_error(L, "not a read-only table");
    lua_getfield(L, -1, "__index");
    lua_remove(L, -2);
}

static int ro_len(lua_State *L)
{
    ro_data(L, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

static int ro_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    ro_data(L, 1);
    lua_insert(L, 2);
    if (lua_next(L, 2))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int ro_pairs(lua_State *L)
{
    lua_pushcfunction(L, ro_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

void pb_api_push_ro(lua_State *L, const cJSON *j, int depth)
{
    luaL_checkstack(L, 4, "incident too deep");
    if (!j || cJSON_IsNull(j) || depth > RO_MAX_DEPTH) {
        lua_pushnil(L);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9.0e15)
            lua_pushinteger(L, (lua_Integer)d);
        else
            lua_pushnumber(L, d);
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        lua_newtable(L); /* the proxy */
        lua_newtable(L); /* the data */
        lua_Integer i = 1;
        const cJSON *it;
        cJSON_ArrayForEach(it, j)
        {
            pb_api_push_ro(L, it, depth + 1);
            if (cJSON_IsArray(j))
                lua_rawseti(L, -2, i++);
            else
                lua_setfield(L, -2, it->string ? it->string : "");
        }
        lua_createtable(L, 0, 5);
        lua_insert(L, -2);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, ro_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushcfunction(L, ro_len);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, ro_pairs);
        lua_setfield(L, -2, "__pairs");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_setmetatable(L, -2);
    } else {
        lua_pushnil(L);
    }
}

/* What a string crossing the API may hold. A line (identifiers, reasons,
 * versions, notify keys) is printed on one line of `playbook test` and
 * logs: no NUL, no control character (C0, DEL, C1, U+2028/2029). Free text
 * (a note, a notify value, a log message) may hold tabs and newlines but no
 * NUL (C strings would cut it) and no other C0 control. Both must be valid
 * UTF-8: they go into JSON. */
enum { TEXT_LINE, TEXT_FREE };

static void check_text(lua_State *L, const char *s, size_t n, const char *fn, const char *what,
                       int kind)
{
    if (memchr(s, '\0', n))
        luaL_error(L, "custos.%s: %s must not hold a NUL byte", fn, what);
    long bad = core_utf8_invalid_at((const unsigned char *)s, n);
    if (bad >= 0)
        luaL_error(L, "custos.%s: %s is not valid UTF-8 (at byte %d)", fn, what, (int)bad);
    if (kind == TEXT_LINE) {
        if (core_text_control_at(s, n) >= 0)
            luaL_error(L, "custos.%s: %s must not hold control characters (it is one line)", fn,
                       what);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') || s[i] == 0x7f)
            luaL_error(L, "custos.%s: %s must not hold control characters other than tab and "
                          "newline", fn, what);
}

/* ---- Lua values to JSON (notify payloads) ---- */

/* The bytes s takes as a JSON string, quotes and escapes included. */
static size_t json_str_bytes(const char *s, size_t n)
{
    size_t b = 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        b += c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
                     c == '\t' ? 2 : c < 0x20 ? 6 : 1;
    }
    return b;
}

/* Counts add bytes of JSON text against the limit while the tree is built:
 * a table holding one large string a thousand times must stop at the
 * limit, not after copying it a thousand times with the host's allocator. */
static void json_charge(lua_State *L, size_t *bytes, size_t add, const char *fn)
{
    *bytes += add;
    if (*bytes > NOTIFY_MAX_BYTES)
        luaL_error(L, "custos.%s: the message is larger than %d KiB", fn,
                   NOTIFY_MAX_BYTES / 1024);
}

/* Adds the Lua value at idx to parent (under key for an object). A table's
 * node is attached before it is filled, so that when a check raises, the
 * whole tree hangs from the root that api_ctx.pending owns: nothing leaks.
 * *bytes counts the JSON text built so far (separators and keys included)
 * and raises past NOTIFY_MAX_BYTES before the value is copied. */
static void add_json(lua_State *L, int idx, cJSON *parent, const char *key, int depth, int *items,
                     size_t *bytes, const char *fn)
{
    idx = lua_absindex(L, idx);
    if (++*items > JSON_MAX_ITEMS)
        luaL_error(L, "custos.%s: the table has more than %d values", fn, JSON_MAX_ITEMS);
    /* the separator, and the key with its colon */
    json_charge(L, bytes, 1 + (key && !cJSON_IsArray(parent) ? json_str_bytes(key, strlen(key)) + 1
                                                             : 0), fn);
    cJSON *v = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        json_charge(L, bytes, 4, fn);
        v = cJSON_CreateNull();
        break;
    case LUA_TBOOLEAN:
        json_charge(L, bytes, 5, fn);
        v = cJSON_CreateBool(lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d))
            luaL_error(L, "custos.%s: numbers must be finite", fn);
        json_charge(L, bytes, 24, fn); /* the longest a double prints */
        v = cJSON_CreateNumber(d);
        break;
    }
    case LUA_TSTRING: {
        size_t sl;
        const char *str = lua_tolstring(L, idx, &sl);
        check_text(L, str, sl, fn, "a string value", TEXT_FREE);
        json_charge(L, bytes, json_str_bytes(str, sl), fn);
        v = cJSON_CreateString(str);
        break;
    }
    case LUA_TTABLE:
        break;
    default:
        luaL_error(L, "custos.%s: a %s cannot be sent", fn, luaL_typename(L, idx));
    }
    if (!v && lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "custos.%s: out of memory", fn);
    if (v) {
        if (cJSON_IsArray(parent))
            cJSON_AddItemToArray(parent, v);
        else
            cJSON_AddItemToObject(parent, key, v);
        return;
    }
    if (depth >= JSON_MAX_DEPTH)
        luaL_error(L, "custos.%s: tables nested deeper than %d", fn, JSON_MAX_DEPTH);
    json_charge(L, bytes, 2, fn); /* the brackets */
    luaL_checkstack(L, 6, "table too deep");
    /* A read-only proxy (incident data) is sent as its data. */
    int t = idx;
    if (lua_getmetatable(L, idx)) {
        lua_getfield(L, -1, "__index");
        lua_remove(L, -2);
        if (lua_istable(L, -1))
            t = lua_gettop(L);
        else
            lua_pop(L, 1);
    }
    lua_Unsigned n = lua_rawlen(L, t);
    bool array = true;
    lua_Unsigned count = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        count++;
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 ||
            (lua_Unsigned)lua_tointeger(L, -2) > n)
            array = false;
        lua_pop(L, 1);
    }
    array = array && count > 0;
    v = array ? cJSON_CreateArray() : cJSON_CreateObject();
    if (cJSON_IsArray(parent))
        cJSON_AddItemToArray(parent, v);
    else
        cJSON_AddItemToObject(parent, key, v);
    if (array) {
        for (lua_Unsigned i = 1; i <= n; i++) {
            lua_rawgeti(L, t, (lua_Integer)i);
            add_json(L, -1, v, NULL, depth + 1, items, bytes, fn);
            lua_pop(L, 1);
        }
    } else {
        lua_pushnil(L);
        while (lua_next(L, t)) {
            char kbuf[64];
            const char *k;
            if (lua_type(L, -2) == LUA_TSTRING) {
                size_t kl;
                k = lua_tolstring(L, -2, &kl);
                check_text(L, k, kl, fn, "a table key", TEXT_LINE);
            } else if (lua_type(L, -2) == LUA_TNUMBER) {
                if (lua_isinteger(L, -2))
                    snprintf(kbuf, sizeof kbuf, "%lld", (long long)lua_tointeger(L, -2));
                else
                    snprintf(kbuf, sizeof kbuf, "%.17g", lua_tonumber(L, -2));
                k = kbuf;
            } else {
                luaL_error(L, "custos.%s: table keys must be strings or numbers", fn);
                return;
            }
            /* 1 and "1" are two Lua keys but one JSON name: a body with a
             * name twice means what its reader picks. */
            if (cJSON_GetObjectItemCaseSensitive(v, k))
                luaL_error(L, "custos.%s: the key '%s' is given twice (as a number and as a "
                              "string)", fn, k);
            add_json(L, -1, v, k, depth + 1, items, bytes, fn);
            lua_pop(L, 1);
        }
    }
    if (t != idx)
        lua_pop(L, 1);
}

/* ---- argument checks ---- */

static void check_opts(lua_State *L, int idx, const char *fn, const char *const allowed[])
{
    if (lua_isnoneornil(L, idx))
        return;
    if (!lua_istable(L, idx))
        luaL_error(L, "custos.%s: argument #%d must be a table of options, not a %s", fn, idx,
                   luaL_typename(L, idx));
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "custos.%s: option names must be strings", fn);
        const char *k = lua_tostring(L, -2);
        bool ok = false;
        char list[160] = "";
        for (int i = 0; allowed[i]; i++) {
            ok = ok || strcmp(k, allowed[i]) == 0;
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     allowed[i]);
        }
        if (!ok)
            luaL_error(L, "custos.%s: unknown option '%s' (allowed: %s)", fn, k, list);
        lua_pop(L, 1);
    }
}

/* A string argument of 1..max bytes without control characters. */
static const char *check_id(lua_State *L, int arg, const char *fn, const char *what, size_t max)
{
    if (lua_type(L, arg) != LUA_TSTRING)
        luaL_error(L, "custos.%s: %s (argument #%d) must be a string, not %s", fn, what, arg,
                   luaL_typename(L, arg));
    size_t n;
    const char *s = lua_tolstring(L, arg, &n);
    if (n == 0 || n > max)
        luaL_error(L, "custos.%s: %s must have 1 to %d bytes", fn, what, (int)max);
    check_text(L, s, n, fn, what, TEXT_LINE);
    return s;
}

static const char *opt_string_k(lua_State *L, int idx, const char *fn, const char *name,
                                size_t max, int kind)
{
    if (lua_isnoneornil(L, idx))
        return NULL;
    lua_getfield(L, idx, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "custos.%s: option '%s' must be a string, not %s", fn, name,
                   luaL_typename(L, -1));
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (n > max)
        luaL_error(L, "custos.%s: option '%s' is longer than %d bytes", fn, name, (int)max);
    char what[80];
    snprintf(what, sizeof what, "option '%s'", name);
    check_text(L, s, n, fn, what, kind);
    lua_pop(L, 1); /* the string stays alive in the options table */
    return s;
}

/* An option that is one line: reason, from, to, status, severity. */
static const char *opt_string(lua_State *L, int idx, const char *fn, const char *name, size_t max)
{
    return opt_string_k(L, idx, fn, name, max, TEXT_LINE);
}

/* Returns the number, or NAN when absent. */
static double opt_number(lua_State *L, int idx, const char *fn, const char *name, double min,
                         double max)
{
    if (lua_isnoneornil(L, idx))
        return NAN;
    lua_getfield(L, idx, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NAN;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "custos.%s: option '%s' must be a number, not %s", fn, name,
                   luaL_typename(L, -1));
    double d = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(d >= min && d <= max))
        luaL_error(L, "custos.%s: option '%s' must be from %f to %f", fn, name, min, max);
    return d;
}

static bool opt_approval(lua_State *L, int idx, const char *fn)
{
    const char *a = opt_string(L, idx, fn, "approval", 16);
    if (!a)
        return false;
    if (strcmp(a, "required") == 0)
        return true;
    if (strcmp(a, "none") == 0)
        return false;
    luaL_error(L, "custos.%s: option 'approval' must be \"required\" or \"none\"", fn);
    return false;
}

/* Hands the call to the host and returns (id, state) to Lua. params is
 * owned here and released whatever happens. */
static int submit(lua_State *L, api_ctx *c, pb_kind kind, const char *subject, cJSON *params,
                  int64_t ttl_s, bool approval)
{
    if (c->actions >= c->max_actions) {
        cJSON_Delete(params);
        return luaL_error(L, "custos.%s: more than %d actions in one run", pb_kinds[kind],
                          c->max_actions);
    }
    c->actions++;
    pb_call call = {.playbook = c->pb, .inc = c->inc, .kind = kind, .subject = subject,
                    .params = params, .ttl_s = ttl_s,
                    .approval = approval || (c->pb->approval && pb_kind_contains(kind))};
    int64_t id = 0;
    char state[32] = "", err[256] = "";
    int rc = c->host->action(c->host->ud, &call, &id, state, sizeof state, err, sizeof err);
    cJSON_Delete(params);
    if (rc < 0)
        return luaL_error(L, "custos.%s: %s", pb_kinds[kind], err);
    lua_pushinteger(L, (lua_Integer)id);
    lua_pushstring(L, state);
    return 2;
}

static const char *default_reason(lua_State *L, api_ctx *c)
{
    return lua_pushfstring(L, "incident %s (%s, %s) by playbook %s", c->inc->id, c->inc->type,
                           c->inc->severity, c->pb->name);
}

static int64_t ttl_of(double d) { return isnan(d) ? 0 : (int64_t)ceil(d); }

/* custos.revoke_key(key_id, {reason=, ttl=, approval=}) */
static int l_revoke_key(lua_State *L)
{
    static const char *const allowed[] = {"reason", "ttl", "approval", NULL};
    api_ctx *c = run_ctx(L, "revoke_key");
    const char *key = check_id(L, 1, "revoke_key", "key_id", 256);
    check_opts(L, 2, "revoke_key", allowed);
    const char *reason = opt_string(L, 2, "revoke_key", "reason", 1000);
    int64_t ttl = ttl_of(opt_number(L, 2, "revoke_key", "ttl", 1, (double)TTL_MAX_S));
    bool appr = opt_approval(L, 2, "revoke_key");
    if (!reason)
        reason = default_reason(L, c);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "key_id", key);
    cJSON_AddStringToObject(p, "reason", reason);
    if (ttl)
        cJSON_AddNumberToObject(p, "ttl_s", (double)ttl);
    return submit(L, c, PB_K_REVOKE_KEY, key, p, ttl, appr);
}

/* custos.restore_key(key_id, {reason=, approval=}) */
static int l_restore_key(lua_State *L)
{
    static const char *const allowed[] = {"reason", "approval", NULL};
    api_ctx *c = run_ctx(L, "restore_key");
    const char *key = check_id(L, 1, "restore_key", "key_id", 256);
    check_opts(L, 2, "restore_key", allowed);
    const char *reason = opt_string(L, 2, "restore_key", "reason", 1000);
    bool appr = opt_approval(L, 2, "restore_key");
    if (!reason)
        reason = default_reason(L, c);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "key_id", key);
    cJSON_AddStringToObject(p, "reason", reason);
    return submit(L, c, PB_K_RESTORE_KEY, key, p, 0, appr);
}

/* custos.throttle_key(key_id, {rps=, ttl=, approval=}) */
static int l_throttle_key(lua_State *L)
{
    static const char *const allowed[] = {"rps", "ttl", "reason", "approval", NULL};
    api_ctx *c = run_ctx(L, "throttle_key");
    const char *key = check_id(L, 1, "throttle_key", "key_id", 256);
    if (!lua_istable(L, 2))
        return luaL_error(L, "custos.throttle_key: argument #2 must be a table with rps=");
    check_opts(L, 2, "throttle_key", allowed);
    double rps = opt_number(L, 2, "throttle_key", "rps", 0.001, 1e6);
    if (isnan(rps))
        return luaL_error(L, "custos.throttle_key: option 'rps' is required");
    int64_t ttl = ttl_of(opt_number(L, 2, "throttle_key", "ttl", 1, (double)TTL_MAX_S));
    const char *reason = opt_string(L, 2, "throttle_key", "reason", 1000);
    bool appr = opt_approval(L, 2, "throttle_key");
    if (!reason)
        reason = default_reason(L, c);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "key_id", key);
    cJSON_AddNumberToObject(p, "rps", rps);
    if (ttl)
        cJSON_AddNumberToObject(p, "ttl_s", (double)ttl);
    cJSON_AddStringToObject(p, "reason", reason);
    return submit(L, c, PB_K_THROTTLE_KEY, key, p, ttl, appr);
}

/* custos.rollback_model(model, {from=version, to=version or "previous", approval=}) */
static int l_rollback_model(lua_State *L)
{
    static const char *const allowed[] = {"from", "to", "reason", "approval", NULL};
    api_ctx *c = run_ctx(L, "rollback_model");
    const char *model = check_id(L, 1, "rollback_model", "model", 256);
    check_opts(L, 2, "rollback_model", allowed);
    const char *from = opt_string(L, 2, "rollback_model", "from", 128);
    const char *to = opt_string(L, 2, "rollback_model", "to", 128);
    const char *reason = opt_string(L, 2, "rollback_model", "reason", 1000);
    bool appr = opt_approval(L, 2, "rollback_model");
    if (!from && c->inc->model && c->inc->model_version && strcmp(model, c->inc->model) == 0)
        from = c->inc->model_version;
    if (!from || !*from)
        return luaL_error(L, "custos.rollback_model: option 'from' is required (the incident "
                             "names no version of this model)");
    if (!to || !*to)
        to = "previous";
    if (strcmp(from, to) == 0)
        return luaL_error(L, "custos.rollback_model: 'from' and 'to' are the same version");
    if (!reason)
        reason = default_reason(L, c);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "model", model);
    cJSON_AddStringToObject(p, "from", from);
    cJSON_AddStringToObject(p, "to", to);
    cJSON_AddStringToObject(p, "reason", reason);
    return submit(L, c, PB_K_ROLLBACK_MODEL, model, p, 0, appr);
}

/* custos.notify(target, table): target is "webhook", "control" or "log". */
static int l_notify(lua_State *L)
{
    api_ctx *c = run_ctx(L, "notify");
    const char *target = check_id(L, 1, "notify", "target", 32);
    if (strcmp(target, "webhook") != 0 && strcmp(target, "control") != 0 &&
        strcmp(target, "log") != 0)
        return luaL_error(L, "custos.notify: target '%s' is not one of webhook, control, log",
                          target);
    if (!lua_istable(L, 2))
        return luaL_error(L, "custos.notify: argument #2 must be a table, not %s",
                          luaL_typename(L, 2));
    if (lua_gettop(L) > 2)
        return luaL_error(L, "custos.notify: takes 2 arguments");
    int items = 0;
    size_t bytes = 0;
    cJSON *p = cJSON_CreateObject();
    if (!p)
        return luaL_error(L, "custos.notify: out of memory");
    c->pending = p;
    cJSON_AddStringToObject(p, "target", target);
    add_json(L, 2, p, "message", 0, &items, &bytes, "notify");
    c->pending = NULL;
    return submit(L, c, PB_K_NOTIFY, target, p, 0, false);
}

/* custos.set_incident({status=, severity=, note=, serious=}) */
static int l_set_incident(lua_State *L)
{
    static const char *const allowed[] = {"status", "severity", "note", "serious", NULL};
    api_ctx *c = run_ctx(L, "set_incident");
    if (!lua_istable(L, 1))
        return luaL_error(L, "custos.set_incident: argument #1 must be a table");
    check_opts(L, 1, "set_incident", allowed);
    const char *status = opt_string(L, 1, "set_incident", "status", 64);
    const char *sev = opt_string(L, 1, "set_incident", "severity", 16);
    const char *note = opt_string_k(L, 1, "set_incident", "note", 2000, TEXT_FREE);
    /* A serious incident (EU AI Act Art. 73): its category; aware from when it runs. */
    const char *serious = opt_string(L, 1, "set_incident", "serious", 64);
    if (!status && !sev && !note && !serious)
        return luaL_error(L, "custos.set_incident: give at least one of status, severity, note, "
                             "serious");
    if (serious && inc_serious_category_parse(serious) < 0)
        return luaL_error(L, "custos.set_incident: serious '%s' is not one of general, "
                             "widespread_infringement, critical_infrastructure, death", serious);
    if (sev && inc_severity_parse(sev) < 0)
        return luaL_error(L, "custos.set_incident: severity '%s' is not one of low, medium, "
                             "high, critical", sev);
    if (status) {
        for (const char *s = status; *s; s++)
            if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
                return luaL_error(L, "custos.set_incident: status must be lowercase letters and "
                                     "'_' (for example \"contained\")");
        /* The incidents module's statuses; closing needs a person's
         * disposition (inc_apply_change would refuse it at execution). */
        int st = inc_status_parse(status);
        if (st < 0 || inc_status_is_closing(st)) {
            char list[160] = "";
            for (int i = 0; i < INC_STATUS_COUNT; i++)
                if (!inc_status_is_closing(i))
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                             *list ? ", " : "", inc_status_name((inc_status)i));
            return luaL_error(L, "custos.set_incident: status '%s' is not one a playbook may set "
                                 "(%s)", status, list);
        }
    }
    cJSON *p = cJSON_CreateObject();
    if (status)
        cJSON_AddStringToObject(p, "status", status);
    if (sev)
        cJSON_AddStringToObject(p, "severity", inc_severity_name((inc_severity)inc_severity_parse(sev)));
    if (note)
        cJSON_AddStringToObject(p, "note", note);
    if (serious)
        cJSON_AddStringToObject(p, "serious", serious);
    return submit(L, c, PB_K_SET_INCIDENT, c->inc->id, p, 0, false);
}

/* custos.log(level, msg) */
static int l_log(lua_State *L)
{
    api_ctx *c = ctx_of(L);
    const char *lvl = luaL_checkstring(L, 1);
    int l = core_log_parse_level(lvl);
    if (l < 0)
        return luaL_error(L, "custos.log: level '%s' is not one of debug, info, warn, error", lvl);
    if (lua_type(L, 2) != LUA_TSTRING && lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "custos.log: argument #2 must be a string");
    size_t ml;
    const char *msg = lua_tolstring(L, 2, &ml);
    check_text(L, msg, ml, "log", "the message", TEXT_FREE);
    char qm[600], qp[200], qi[240];
    core_log((core_log_level)l, "playbook", "playbook log", "playbook=%s incident=%s text=%s",
             core_log_quote(qp, sizeof qp, c->pb->name), core_log_quote(qi, sizeof qi, c->inc ? c->inc->id : "-"),
             core_log_quote(qm, sizeof qm, msg));
    return 0;
}

static int push_info(lua_State *L, api_ctx *c, cJSON *info)
{
    if (!info) {
        lua_pushnil(L);
        return 1;
    }
    /* Held in ctx while pushing: a memory error raised halfway would skip
     * the delete below, and pb_run frees it then. */
    c->pending = info;
    pb_api_push_ro(L, info, 0);
    c->pending = NULL;
    cJSON_Delete(info);
    return 1;
}

/* custos.key_info(key_id) -> {status=, reason=, throttle_rps=, ...} or nil */
static int l_key_info(lua_State *L)
{
    api_ctx *c = ctx_of(L);
    const char *key = check_id(L, 1, "key_info", "key_id", 256);
    return push_info(L, c, c->host->key_info ? c->host->key_info(c->host->ud, key) : NULL);
}

/* custos.model_info(model) -> {active_version=, versions={...}} or nil */
static int l_model_info(lua_State *L)
{
    api_ctx *c = ctx_of(L);
    const char *model = check_id(L, 1, "model_info", "model", 256);
    return push_info(L, c, c->host->model_info ? c->host->model_info(c->host->ud, model) : NULL);
}

static const luaL_Reg g_api[] = {
    {"revoke_key", l_revoke_key},         {"restore_key", l_restore_key},
    {"throttle_key", l_throttle_key},     {"rollback_model", l_rollback_model},
    {"notify", l_notify},                 {"set_incident", l_set_incident},
    {"log", l_log},                       {"key_info", l_key_info},
    {"model_info", l_model_info},         {NULL, NULL}};

void pb_api_open(pb_sb *sb, const pb_host *host, const pb_playbook *pb, const pb_incident *inc,
                 int max_actions)
{
    lua_State *L = pb_sb_state(sb);
    api_ctx *c = lua_newuserdatauv(L, sizeof *c, 0);
    *c = (api_ctx){.host = host, .pb = pb, .inc = inc, .sb = sb, .max_actions = max_actions};
    lua_rawsetp(L, LUA_REGISTRYINDEX, &CTX_KEY);
    luaL_newlib(L, g_api);
    lua_setglobal(L, "custos");
}

/* ---- what the runtime (pb_runtime.c) needs of the binding ---- */

/* The context of L's run, or NULL when the API was not opened. */
static api_ctx *ctx_raw(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &CTX_KEY);
    api_ctx *c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return c;
}

void pb_api_set_in_when(lua_State *L, bool in_when)
{
    api_ctx *c = ctx_raw(L);
    if (c)
        c->in_when = in_when;
}

int pb_api_finish(lua_State *L)
{
    api_ctx *c = ctx_raw(L);
    if (!c)
        return 0;
    cJSON_Delete(c->pending);
    c->pending = NULL;
    return c->actions;
}

/* ---- the start-up check ---- */

static const pb_sb_allow g_api_allow[] = {{"custos", NULL, g_api}, {NULL, NULL, NULL}};

static int check_steps(lua_State *L)
{
    static const pb_host host;
    static const pb_playbook pb;
    pb_sb *sb = lua_touserdata(L, 1);
    char *err = lua_touserdata(L, 2);
    lua_settop(L, 0);
    pb_api_open(sb, &host, &pb, NULL, 0);
    if (pb_sb_check_allowed(L, g_api_allow, err, 512) < 0)
        return luaL_error(L, "%s", err);
    return 0;
}

int pb_api_check_sandbox(const pb_sb_limits *lim, char *err, size_t errlen)
{
    char e[512] = "";
    pb_sb *sb = pb_sb_new(lim, err, errlen);
    if (!sb)
        return -1;
    lua_State *L = pb_sb_state(sb);
    lua_pushcfunction(L, check_steps);
    lua_pushlightuserdata(L, sb);
    lua_pushlightuserdata(L, e);
    pb_sb_status st = pb_sb_call(sb, 2, 0, err, errlen);
    pb_sb_free(sb);
    if (st != PB_SB_OK && e[0])
        snprintf(err, errlen, "%s", e); /* without the file:line of a C caller */
    return st == PB_SB_OK ? 0 : -1;
}
