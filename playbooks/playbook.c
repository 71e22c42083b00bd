/* Loading a playbook: compile, run its top level in the sandbox, check the
 * declaration it returns. */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "playbooks/pb.h"

#define MAX_SOURCE (1 << 20)

const char *const pb_kinds[PB_K_COUNT] = {"revoke_key",     "restore_key",    "throttle_key",
                                          "unthrottle_key", "rollback_model", "notify",
                                          "set_incident"};

int pb_kind_parse(const char *s)
{
    for (int i = 0; s && i < PB_K_COUNT; i++)
        if (strcmp(s, pb_kinds[i]) == 0)
            return i;
    return -1;
}

bool pb_kind_contains(pb_kind k) { return k <= PB_K_ROLLBACK_MODEL; }

static int refuse_action(void *ud, const pb_call *call, int64_t *id, char *state,
                         size_t statelen, char *err, size_t errlen)
{
    (void)ud; (void)call; (void)id; (void)state; (void)statelen;
    snprintf(err, errlen, "actions can only be taken inside run(), not while loading");
    return -1;
}

static const pb_host g_load_host = {.action = refuse_action};

typedef struct {
    pb_playbook *pb;
    pb_sb *sb;
    bool syntax;
} load_args;

/* Reads an array of names (or one name) at the top of the stack into a bit
 * set; "*" means all. */
static unsigned name_bits(lua_State *L, const char *field, const char *(*name)(int), int n)
{
    unsigned bits = 0;
    int t = lua_gettop(L);
    if (lua_type(L, t) == LUA_TSTRING) {
        lua_createtable(L, 1, 0);
        lua_pushvalue(L, t);
        lua_rawseti(L, -2, 1);
        lua_replace(L, t);
    }
    if (!lua_istable(L, t))
        luaL_error(L, "declaration: on.%s must be a name or a list of names", field);
    lua_Integer len = (lua_Integer)lua_rawlen(L, t);
    if (len == 0)
        luaL_error(L, "declaration: on.%s is empty", field);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, t, i);
        const char *s = lua_tostring(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "declaration: on.%s[%d] must be a string", field, (int)i);
        if (strcmp(s, "*") == 0) {
            bits = (1u << n) - 1;
        } else {
            int k = -1;
            for (int j = 0; j < n; j++)
                if (strcmp(s, name(j)) == 0)
                    k = j;
            if (k < 0) {
                char list[200] = "";
                for (int j = 0; j < n; j++)
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                             j ? ", " : "", name(j));
                luaL_error(L, "declaration: on.%s: '%s' is not one of %s, *", field, s, list);
            }
            bits |= 1u << k;
        }
        lua_pop(L, 1);
    }
    return bits;
}

static const char *type_name(int i) { return inc_type_name((inc_type)i); }
static const char *event_name(int i) { return pb_events[i]; }

static char *dup_or_raise(lua_State *L, const char *s)
{
    char *d = strdup(s);
    if (!d)
        luaL_error(L, "out of memory");
    return d;
}

/* Checks the declaration table and copies it into pb. Runs protected. */
static int load_steps(lua_State *L)
{
    load_args *a = lua_touserdata(L, 1);
    pb_playbook *pb = a->pb;
    lua_settop(L, 0);
    pb_api_open(a->sb, &g_load_host, pb, NULL, 0);
    if (luaL_loadbufferx(L, pb->src, pb->len, pb->chunk, "t") != LUA_OK) {
        a->syntax = true;
        return lua_error(L);
    }
    lua_call(L, 0, 1);
    if (!lua_istable(L, 1))
        return luaL_error(L, "the playbook must end with 'return { name = ..., on = {...}, "
                             "run = function(incident) ... end }'");
    static const char *const known[] = {"name", "description", "on", "when", "run", "approval",
                                        "dry_run", NULL};
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        bool ok = false;
        for (int i = 0; k && known[i]; i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok)
            return luaL_error(L, "declaration: unknown field '%s' (known: name, description, on, "
                                 "when, run, approval, dry_run)", k ? k : "(not a string)");
        lua_pop(L, 1);
    }
    lua_getfield(L, 1, "name");
    if (!lua_isnil(L, -1)) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (lua_type(L, -1) != LUA_TSTRING || n == 0 || n > 64)
            return luaL_error(L, "declaration: name must be a string of 1 to 64 characters");
        for (size_t i = 0; i < n; i++)
            if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
                  s[i] == '_' || s[i] == '.'))
                return luaL_error(L, "declaration: name '%s' may only hold a-z, 0-9, '-', '_', "
                                     "'.'", s);
        free(pb->name);
        pb->name = dup_or_raise(L, s);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "description");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "declaration: description must be a string");
        pb->description = dup_or_raise(L, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "run");
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "declaration: run must be a function(incident)");
    lua_pop(L, 1);
    lua_getfield(L, 1, "when");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        return luaL_error(L, "declaration: when must be a function(incident) returning a boolean");
    pb->has_when = lua_isfunction(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "approval");
    if (!lua_isnil(L, -1)) {
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (strcmp(s, "required") != 0 && strcmp(s, "none") != 0)
            return luaL_error(L, "declaration: approval must be \"required\" or \"none\"");
        pb->approval = strcmp(s, "required") == 0;
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "dry_run");
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            return luaL_error(L, "declaration: dry_run must be true or false");
        pb->dry_run = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);

    lua_getfield(L, 1, "on");
    if (!lua_istable(L, -1))
        return luaL_error(L, "declaration: on must be a table such as { types = {\"extraction\"}, "
                             "min_severity = \"high\" }");
    int on = lua_gettop(L);
    static const char *const onknown[] = {"types", "min_severity", "events", NULL};
    lua_pushnil(L);
    while (lua_next(L, on)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        bool ok = false;
        for (int i = 0; k && onknown[i]; i++)
            ok = ok || strcmp(k, onknown[i]) == 0;
        if (!ok)
            return luaL_error(L, "declaration: unknown field on.%s (known: types, min_severity, "
                                 "events)", k ? k : "?");
        lua_pop(L, 1);
    }
    lua_getfield(L, on, "types");
    if (lua_isnil(L, -1))
        return luaL_error(L, "declaration: on.types is required (a list of incident types, "
                             "or \"*\")");
    pb->types = name_bits(L, "types", type_name, INC_TYPE_COUNT);
    lua_pop(L, 1);
    lua_getfield(L, on, "events");
    pb->events = lua_isnil(L, -1) ? (1u << PB_EV_OPENED) | (1u << PB_EV_UPDATED)
                                  : name_bits(L, "events", event_name, PB_EV_COUNT);
    lua_pop(L, 1);
    lua_getfield(L, on, "min_severity");
    pb->min_sev = INC_LOW;
    if (!lua_isnil(L, -1)) {
        int sev = lua_type(L, -1) == LUA_TSTRING ? inc_severity_parse(lua_tostring(L, -1)) : -1;
        if (sev < 0)
            return luaL_error(L, "declaration: on.min_severity must be low, medium, high or "
                                 "critical");
        pb->min_sev = sev;
    }
    lua_pop(L, 2);
    return 0;
}

int pb_playbook_load_src(pb_playbook *pb, const char *path, const char *src, size_t len,
                         const pb_sb_limits *lim, char *err, size_t errlen)
{
    int rc = -1;
    pb_sb *sb = NULL;
    memset(pb, 0, sizeof *pb);
    pb->path = strdup(path);
    /* "@path": Lua then names the file as it is, without [string "..."] */
    if (asprintf(&pb->chunk, "@%s", path) < 0)
        pb->chunk = NULL;
    pb->src = malloc(len + 1);
    /* The default name is the file's base name without .lua. */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    if (bl > 4 && strcmp(base + bl - 4, ".lua") == 0)
        bl -= 4;
    pb->name = strndup(base, bl);
    if (!pb->path || !pb->chunk || !pb->src || !pb->name) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    memcpy(pb->src, src, len);
    pb->src[len] = '\0';
    pb->len = len;
    audit_sha256_hex(src, len, pb->sha256);
    sb = pb_sb_new(lim, err, errlen);
    if (!sb)
        goto done;
    load_args a = {.pb = pb, .sb = sb};
    lua_State *L = pb_sb_state(sb);
    lua_pushcfunction(L, load_steps);
    lua_pushlightuserdata(L, &a);
    char msg[512];
    pb_sb_status st = pb_sb_call(sb, 1, 0, msg, sizeof msg);
    if (st != PB_SB_OK) {
        size_t pl = strlen(path);
        /* Lua's own messages start with the chunk name; declaration checks
         * do not know a line, so name the file. */
        if (strncmp(msg, path, pl) == 0 && msg[pl] == ':')
            snprintf(err, errlen, "%s", msg);
        else
            snprintf(err, errlen, "%s: %s", path, msg);
        goto done;
    }
    rc = 0;
done:
    pb_sb_free(sb);
    return rc;
}

int pb_playbook_load_file(pb_playbook *pb, const char *path, const pb_sb_limits *lim, char *err,
                          size_t errlen)
{
    memset(pb, 0, sizeof *pb);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not a playbook file (custos playbook check "
                              "DIR loads a folder)", path);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(MAX_SOURCE + 1);
    size_t n = buf ? fread(buf, 1, MAX_SOURCE + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    int rc = -1;
    if (!buf)
        snprintf(err, errlen, "%s: out of memory", path);
    else if (bad)
        snprintf(err, errlen, "%s: read error", path);
    else if (n > MAX_SOURCE)
        snprintf(err, errlen, "%s: larger than %d bytes", path, MAX_SOURCE);
    else
        rc = pb_playbook_load_src(pb, path, buf, n, lim, err, errlen);
    free(buf);
    return rc;
}

void pb_playbook_free(pb_playbook *pb)
{
    free(pb->name);
    free(pb->path);
    free(pb->chunk);
    free(pb->src);
    free(pb->description);
    memset(pb, 0, sizeof *pb);
}

bool pb_playbook_wants(const pb_playbook *pb, const pb_incident *inc)
{
    return (pb->types & (1u << inc->type_i)) && (pb->events & (1u << inc->event)) &&
           inc->sev >= pb->min_sev;
}
