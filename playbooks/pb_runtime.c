/* The life of one playbook run: a fresh sandbox, the binding opened in it,
 * the chunk, `when`, then `run`, and what the run used. The binding
 * (api.c) knows the Lua API; the sandbox (sandbox.c) the limits; this file
 * only the order of the steps (Redis keeps script.c apart from
 * script_lua.c the same way). */
#include <lauxlib.h>
#include <string.h>

#include "core/log.h"
#include "playbooks/pb.h"

typedef struct {
    const pb_playbook *pb;
    pb_incident *inc;
    const pb_host *host;
    pb_sb *sb;
    int max_actions;
    bool syntax, matched;
} run_args;

/* Everything that touches the state runs in here, under the sandbox's
 * pcall: an allocation refused outside protected mode would be a panic. */
static int run_steps(lua_State *L)
{
    run_args *a = lua_touserdata(L, 1);
    lua_settop(L, 0);
    if (a->host)
        pb_api_open(a->sb, a->host, a->pb, a->inc, a->max_actions);
    if (luaL_loadbufferx(L, a->pb->src, a->pb->len, a->pb->chunk, "t") != LUA_OK) {
        a->syntax = true;
        return lua_error(L);
    }
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1))
        return luaL_error(L, "%s: the playbook must return its declaration table", a->pb->path);
    int decl = lua_gettop(L);
    const cJSON *view = pb_incident_view(a->inc);
    if (!view)
        return luaL_error(L, "out of memory");
    pb_api_push_ro(L, view, 0);
    int incidx = lua_gettop(L);
    if (a->pb->has_when) {
        lua_getfield(L, decl, "when");
        lua_pushvalue(L, incidx);
        pb_api_set_in_when(L, true);
        lua_call(L, 1, 1); /* an error leaves in_when set: the run is over anyway */
        pb_api_set_in_when(L, false);
        a->matched = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (!a->matched)
            return 0;
    }
    a->matched = true;
    lua_getfield(L, decl, "run");
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "%s: run is not a function", a->pb->path);
    lua_pushvalue(L, incidx);
    lua_call(L, 1, 0);
    return 0;
}

void pb_run(const pb_playbook *pb, pb_incident *inc, const pb_host *host, const pb_sb_limits *lim,
            int max_actions, pb_run_result *res)
{
    memset(res, 0, sizeof *res);
    int64_t t0 = core_mono_us();
    run_args a = {.pb = pb, .inc = inc, .host = host, .max_actions = max_actions};
    a.sb = pb_sb_new(lim, res->err, sizeof res->err);
    if (!a.sb) {
        res->status = PB_SB_MEMORY;
        goto done;
    }
    lua_State *L = pb_sb_state(a.sb);
    lua_pushcfunction(L, run_steps);
    lua_pushlightuserdata(L, &a);
    res->status = pb_sb_call(a.sb, 1, 0, res->err, sizeof res->err);
    if (res->status == PB_SB_ERROR && a.syntax)
        res->status = PB_SB_SYNTAX;
    res->matched = a.matched;
    res->actions = pb_api_finish(L);
    res->peak_bytes = pb_sb_peak_bytes(a.sb);
    res->instructions = pb_sb_instructions(a.sb);
done:
    pb_sb_free(a.sb);
    res->us = core_mono_us() - t0;
}
