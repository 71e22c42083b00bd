/* The engine's inside, shared by its two halves: pb_engine.c (loading,
 * matching, runs, the host) and pb_engine_exec.c (execution, escalation,
 * decisions, expiry, auto-revert, recovery). Private to them. */
#ifndef PB_ENGINE_INT_H
#define PB_ENGINE_INT_H

#include "core/log.h"
#include "playbooks/pb_engine.h"

#define MAX_TODO 256
#define TICK_BATCH 100
#define ORPHAN_S 30   /* approved and not executed for this long: orphaned */
#define STUCK_S 600   /* executing for this long: the executor is gone */

typedef struct {
    pb_playbook pb;
    bool loaded;
} slot;

struct pb_engine {
    pb_engine_opts o;
    pb_sb_limits lim;
    slot *pbs;
    size_t n, cap;
    int64_t todo[MAX_TODO]; /* approved actions of the current delivery */
    bool todo_first[MAX_TODO]; /* containment: executed before notify/set_incident */
    int ntodo;
    int depth;              /* > 0 while handling an escalation */
    cJSON *mem;             /* in-memory actions */
    int64_t mem_next;
    cJSON *last_runs;
    pb_engine_stats st;
    core_log_limit run_limit;
    pb_incident *cur;       /* the incident being handled */
};

/* Runs every playbook that wants inc (pb_engine.c). */
void pb_engine_run_all(pb_engine *e, pb_incident *inc);
/* Executes the actions this delivery approved, containment first
 * (pb_engine.c). */
void pb_engine_execute_todo(pb_engine *e);

#endif
