/* The Lua sandbox: the generic runtime that playbooks run in.
 *
 * One pb_sb is one lua_State for one run (loading a playbook, or one
 * incident through one playbook); it is never shared. The state is created
 * with a counting allocator that refuses past a byte cap (the first
 * allocation included), an instruction-count hook and a monotonic deadline.
 * Only base, string, table, math and utf8 are opened; the dangerous globals
 * are removed and checked to be nil; only source text loads. Once a limit
 * is hit the run is killed: every following instruction raises again, so
 * pcall cannot swallow it, and no further call into the state is made.
 *
 * This file knows nothing about custos' API: api.c binds that. */
#ifndef PB_SANDBOX_H
#define PB_SANDBOX_H

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PB_SB_OK = 0,
    PB_SB_ERROR,        /* a Lua error (runtime error, bad argument, ...) */
    PB_SB_SYNTAX,       /* the source did not compile (or was not text) */
    PB_SB_BLOCKED,      /* the script reached for something the sandbox removed */
    PB_SB_MEMORY,       /* the byte cap refused an allocation */
    PB_SB_INSTRUCTIONS, /* the instruction cap ran out */
    PB_SB_DEADLINE,     /* the wall-clock deadline passed */
    PB_SB_STATUS_COUNT
} pb_sb_status;

typedef struct {
    size_t max_bytes;          /* allocator cap for the whole state */
    uint64_t max_instructions; /* VM instructions for the whole run */
    int64_t deadline_us;       /* wall time for the whole run, from pb_sb_new */
} pb_sb_limits;

typedef struct pb_sb pb_sb;

/* Creates a fresh sandboxed state under lim. Returns NULL with err when
 * the state cannot be made (for instance a cap too small for Lua itself).
 * The caller owns the result: pb_sb_free(). */
pb_sb *pb_sb_new(const pb_sb_limits *lim, char *err, size_t errlen);

/* Closes the state and frees sb (NULL is fine). */
void pb_sb_free(pb_sb *sb);

/* The state, for binding host functions and pushing arguments. Borrowed. */
lua_State *pb_sb_state(pb_sb *sb);

/* Compiles src (text only: bytecode is refused) as chunk name and pushes
 * the function. Returns PB_SB_OK, or PB_SB_SYNTAX/PB_SB_MEMORY with err
 * ("name:line: message") and nothing pushed. */
pb_sb_status pb_sb_load(pb_sb *sb, const char *src, size_t len, const char *name, char *err,
                        size_t errlen);

/* Calls the function below nargs arguments, like lua_pcall, with a message
 * handler that puts the playbook's file:line in front of the message.
 * Returns PB_SB_OK with nresults pushed, or the failure class with err and
 * nothing pushed. A killed state refuses every further call. */
pb_sb_status pb_sb_call(pb_sb *sb, int nargs, int nresults, char *err, size_t errlen);

/* Records that the script reached for a removed facility, for the
 * classification, and raises a Lua error with msg. Does not return. */
int pb_sb_block(lua_State *L, const char *msg);

/* Raises the kill again when the run is already killed (a memory refusal
 * is only seen by the hook at its next tick): host functions call this
 * first, so a script that caught the error cannot act any more. */
void pb_sb_check(lua_State *L);

/* True once a limit killed the run. */
bool pb_sb_killed(const pb_sb *sb);

/* Bytes in use now and at most so far; instructions executed so far
 * (counted in steps of the hook interval). */
size_t pb_sb_bytes(const pb_sb *sb);
size_t pb_sb_peak_bytes(const pb_sb *sb);
uint64_t pb_sb_instructions(const pb_sb *sb);

/* The status' short name for logs and metrics ("memory", "deadline"...). */
const char *pb_sb_status_name(pb_sb_status st);

/* The globals the sandbox removes; checked to be nil in every new state. */
extern const char *const pb_sb_removed_globals[];

/* One allowed global: a value (members and funcs NULL), or a library table
 * whose members are named in members and/or funcs. */
typedef struct {
    const char *name;
    const char *const *members; /* NULL-terminated, or NULL */
    const luaL_Reg *funcs;      /* {NULL, NULL}-terminated, or NULL */
} pb_sb_allow;

/* Walks L's globals and every allowed library table (raw, no metamethod)
 * against the sandbox's allow-list (the safe base functions, string, table,
 * math, utf8) plus extra (the host's bindings, {NULL}-terminated, may be
 * NULL). Returns 0 when nothing else is there, or -1 with err naming the
 * first global or member that is not allowed. Start-up runs it on a state
 * set up as a playbook's (pb_api_check_sandbox). */
int pb_sb_check_allowed(lua_State *L, const pb_sb_allow *extra, char *err, size_t errlen);

#endif
