/* The playbook engine: the loaded playbooks, matching, running, and the
 * life of the actions they ask for (recording, approval, execution through
 * the effectors, escalation, expiry, auto-revert). Used by `custos run`
 * (through pb_live.c), the CLI and the tests; single-threaded per engine. */
#ifndef PB_ENGINE_H
#define PB_ENGINE_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "playbooks/fx.h"
#include "playbooks/pb.h"
#include "playbooks/playbooks.h" /* pb_gate */

typedef struct pb_engine pb_engine;

typedef struct {
    const core_config *cfg; /* borrowed, outlives the engine */
    PGconn *db;             /* borrowed; NULL: no database at all */
    bool persist;           /* record actions in db; false: in memory, always dry-run */
    pb_fx *fx;              /* borrowed; NULL: approved actions cannot execute */
    bool force_dry_run;     /* every action is dry_run (custos playbook test) */
    bool audit_loads;       /* audit every (re)load of the folder (the daemon) */
    /* Called before (starting) and after each playbook run, from the
     * engine's thread, so that a watchdog can see a run that overstays
     * its deadline (pb_live.c). May be NULL. */
    void (*on_run)(void *ud, const char *playbook, const char *incident_id, bool starting);
    void *on_run_ud;
} pb_engine_opts;

typedef struct {
    uint64_t incidents, runs, matched, actions;
    uint64_t failed[PB_SB_STATUS_COUNT]; /* runs by outcome (index PB_SB_OK: successes) */
    uint64_t executed, exec_failed, escalations, expired, reverted, dropped;
} pb_engine_stats;

/* Returns an engine with no playbooks, or NULL with err. The caller owns
 * it: pb_engine_free(). */
pb_engine *pb_engine_new(const pb_engine_opts *o, char *err, size_t errlen);
void pb_engine_free(pb_engine *e);

/* The connection for the calls that follow (borrowed): an engine that
 * decides for whoever calls it (pb_actions) takes the caller's connection
 * for each decision. */
void pb_engine_set_db(pb_engine *e, PGconn *db);

/* The playbook folder from the config ("" means the shipped ones). */
const char *pb_engine_dir(const core_config *cfg);

/* (Re)loads every *.lua in dir, in name order. A file that does not load is
 * refused with its file:line, and its previous version (if any) stays;
 * files gone from dir are dropped. Writes one line per file to report when
 * not NULL; audits the reload when persisting. Returns the number refused,
 * or -1 when dir cannot be read (nothing changes then). */
int pb_engine_load_dir(pb_engine *e, const char *dir, FILE *report);

/* Loads one file as an extra playbook (custos playbook test). Returns 0 or
 * -1 with err ("file:line: message"). */
int pb_engine_load_file(pb_engine *e, const char *path, char *err, size_t errlen);

size_t pb_engine_count(const pb_engine *e);

/* Handles one delivery of an incident (JSON as `custos analyze` prints):
 * every matching playbook runs, then the actions they approved execute.
 * event is a PB_EV_* or -1 to tell opened from updated by the deliveries
 * recorded in the database; deliveries overrides the count when > 0 (the
 * test command). Returns 0, or -1 when the incident is not valid (err). */
int pb_engine_incident(pb_engine *e, const char *json, size_t len, int event, int64_t deliveries,
                       char *err, size_t errlen);

/* Executes approved action id: claims it, freezes evidence before a
 * rollback, runs the effectors, records done or failed, escalates a
 * failure. Returns 1 when it ran to done, 0 when it was not approved (or
 * someone else claimed it) or failed, -1 on a database error. */
int pb_engine_execute(pb_engine *e, int64_t id, char *err, size_t errlen);

/* A human's decision on a pending action. approve executes it at once and
 * writes its final state; reason (may be NULL) is kept with the approval,
 * and an action altering the AI system for a serious incident needs gate
 * and a reason (pb_gate.h). Return 0, or a PB_DECIDE_* (playbooks.h) with
 * err: not found, not pending (decided, expired), the gate, or -1
 * (database). */
int pb_engine_approve(pb_engine *e, int64_t id, const char *actor, const char *reason,
                      pb_gate gate, char *state, size_t statelen, char *err, size_t errlen);
int pb_engine_reject(pb_engine *e, int64_t id, const char *actor, const char *reason, char *err,
                     size_t errlen);

/* Expires pending approvals past their time and reverts actions whose ttl
 * ran out. Returns how many it handled, or -1 on a database error. */
int pb_engine_tick(pb_engine *e, char *err, size_t errlen);

/* In-memory mode: the actions recorded so far (a JSON array). Borrowed. */
const cJSON *pb_engine_memory_actions(const pb_engine *e);

/* In-memory mode: forgets the recorded actions (long benchmark loops). */
void pb_engine_memory_reset(pb_engine *e);

/* Run results of the last pb_engine_incident call, one per playbook run
 * (JSON array of {playbook, status, matched, actions, us, error}). */
const cJSON *pb_engine_last_runs(const pb_engine *e);

void pb_engine_stats_get(const pb_engine *e, pb_engine_stats *s);

/* A short sentence saying what an action does ("revoke key k-1 ..."), for
 * dry runs and listings. The caller frees it. */
char *pb_describe(pb_kind kind, const cJSON *params, const core_config *cfg);

#endif
