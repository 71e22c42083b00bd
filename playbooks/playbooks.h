/* The playbooks module as the rest of custos sees it: the live side that
 * `custos run` starts, and the subcommands. docs/playbooks.md has the Lua
 * API, the control-topic schema and the webhook signature. */
#ifndef PB_PLAYBOOKS_H
#define PB_PLAYBOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "core/config.h"
#include "core/db.h"

typedef struct pb_live pb_live;

/* Loads the playbooks (playbooks.dir), opens its own PostgreSQL connection
 * and effectors, LISTENs for reload requests (and reloads on SIGHUP: core_reload_generation), and starts its thread, which
 * runs the playbooks for each incident and, every playbooks.tick_ms,
 * expires pending approvals and reverts actions whose ttl ran out. cfg is
 * borrowed and must outlive the result. Returns NULL with err when the
 * database, the schema or an effector setting is wrong (a playbook that
 * does not load is refused and logged, not fatal). The caller owns the
 * result: pb_live_stop(). */
pb_live *pb_live_start(const core_config *cfg, char *err, size_t errlen);

/* Queues one incident (JSON, as `custos analyze` prints) for the
 * playbooks. Thread-safe; copies incident_json; never blocks: past
 * playbooks.queue_max the incident is dropped, logged and counted. */
void pb_live_incident(pb_live *pl, const char *incident_json);


/* Handles what is queued, stops the threads, closes everything and frees
 * pl (NULL is fine), waiting at most collector.shutdown_grace_ms for the
 * worker. Returns 0, or 1 when a playbook run was abandoned (it overstayed
 * its deadline by the margin, or was still running at the end of the
 * grace period): the caller should then exit with CORE_EXIT_ABANDONED
 * (4) at once, since an abandoned thread may still be running, which is
 * why pl is then not freed. */
int pb_live_stop(pb_live *pl);

/* ---- a human's decision on a pending action (the CLI, the web console) ----
 * pb_actions holds what deciding needs and keeps it between calls: the
 * effectors (cfg's) and the playbooks (a failed action escalates through
 * them, as in the daemon). Decisions are serialised inside (the effectors
 * hold one HTTP handle and one producer): any thread may call, one runs at
 * a time. */
typedef struct pb_actions pb_actions;

/* Opens the effectors and loads the playbooks (playbooks.dir), after
 * checking the schema on a connection taken from pool (and given back).
 * cfg and pool are borrowed and must outlive the result. Returns NULL with
 * err (database, schema, an effector setting, an unreadable folder). The
 * caller owns the result: pb_actions_close(). */
pb_actions *pb_actions_open(const core_config *cfg, core_db_pool *pool, char *err,
                            size_t errlen);
void pb_actions_close(pb_actions *pa); /* NULL is fine */

/* Why pb_action_approve / pb_action_reject refused, so that a caller (the
 * web API) answers by a code, never by matching err's words. */
enum {
    PB_DECIDE_FAILED = -1,       /* the database or an effector: err says */
    PB_DECIDE_NOT_FOUND = -2,    /* no such action */
    PB_DECIDE_NOT_PENDING = -3,  /* decided, executed or expired already */
    PB_DECIDE_NEEDS_REASON = -4, /* a rejection without a reason (or a gate answer without one) */
    PB_DECIDE_GATE = -5,         /* the preservation gate (Art. 73(6)): the approval of an
                                    action altering the AI system for a serious incident must
                                    say the authority was informed, or override, with a reason */
    PB_DECIDE_BAD_REASON = -6,   /* a reason that is not one line of at most 1000 bytes */
};

/* The preservation gate's answer on an approval (pb_gate.c). */
typedef enum {
    PB_GATE_NONE,               /* no answer: refused for a serious incident's rollback */
    PB_GATE_AUTHORITY_INFORMED, /* the reason states how and when the authority was informed */
    PB_GATE_OVERRIDE,           /* the reason says why it goes ahead before that */
} pb_gate;
/* "authority_informed", "override"; NULL for PB_GATE_NONE. */
const char *pb_gate_name(pb_gate g);
/* -1 when s is neither name. */
int pb_gate_parse(const char *s);

/* Approves pending action id as actor on db (borrowed, not in a
 * transaction; e.g. from the same pool), audited, and executes it at once,
 * writing its final state ("done", "failed", "skipped") into state.
 * reason (NULL: none; one line, at most 1000 bytes) lands in the audit row
 * and the action's decision_reason. An action that alters the AI system
 * (rollback_model) for a serious incident needs gate (authority informed,
 * or override) and a reason: else PB_DECIDE_GATE and nothing changes.
 * Returns 0, or a PB_DECIDE_* (< 0) with err. */
int pb_action_approve(pb_actions *pa, PGconn *db, int64_t id, const char *actor,
                      const char *reason, pb_gate gate, char *state, size_t statelen, char *err,
                      size_t errlen);
/* Rejects it; reason is required. Returns 0, or a PB_DECIDE_* with err. */
int pb_action_reject(pb_actions *pa, PGconn *db, int64_t id, const char *actor,
                     const char *reason, char *err, size_t errlen);

/* ---- containment a person asks for (the console's keys and models pages,
 * custos actions request) ----
 * One action through the same path as a playbook's that waits for
 * approval: recorded (playbook "manual", proposed by actor, audited), then
 * approved by the same actor at once and executed through the effectors
 * (pb_action_approve), so it is audited, escalates on failure and reverts
 * after its ttl like any other. With playbooks.dry_run on it is only
 * recorded as dry_run. */
typedef struct pb_request {
    const char *kind;        /* revoke_key, restore_key, throttle_key, unthrottle_key,
                                rollback_model */
    const char *key_id;      /* the key kinds */
    const char *model, *from, *to; /* rollback_model: to is a version or "previous" (NULL) */
    double rps;              /* throttle_key: requests per second, 0.001 to 1e6 */
    int64_t ttl_s;           /* revoke_key, throttle_key: undone after it; 0: not */
    const char *reason;      /* required: one line, at most 1000 bytes */
    const char *incident_id; /* NULL: not tied to an incident (it must exist if given) */
    pb_gate gate;            /* rollback_model of a serious incident's model: the
                                preservation gate's answer, with gate_reason */
    const char *gate_reason; /* one line, at most 1000 bytes */
} pb_request;

/* Records and runs rq as actor on db (borrowed, not in a transaction).
 * Writes the new action's id and its final state ("done", "failed",
 * "skipped", "dry_run"). Returns 0; 1 when rq is refused (err says why: the
 * caller's mistake, nothing recorded), 2 when rq->incident_id names no
 * incident; 3 when the preservation gate held it (a rollback for a serious
 * incident without rq->gate: the action is recorded and left
 * pending_approval, its id written, err says what an approval needs); -1
 * on a failure (err). */
int pb_action_request(pb_actions *pa, PGconn *db, const pb_request *rq, const char *actor,
                      int64_t *id, char *state, size_t statelen, char *err, size_t errlen);

/* ---- reads for the console's API (pb_read.c) ---- */

/* "pending" (for pending_approval) or a state's own name, as stored; NULL
 * when s is neither. */
const char *pb_action_state_word(const char *s);

typedef struct {
    const char *state;    /* NULL: any; "pending" or a state */
    const char *incident; /* NULL: any */
    const char *cursor;   /* next_cursor of the previous page; NULL: the first */
    int limit;            /* 1..500 */
} pb_action_filter;

/* One page of actions across incidents: {"actions": [...], "next_cursor"}.
 * Pending approvals oldest first (the next to expire on top), any other
 * filter newest first; keyset on the id, stable under inserts. Each action
 * says what it will do ("will", from cfg's effectors, and "target") and,
 * while pending, "expires_in_s" by the database's clock. NULL with err; *bad
 * true when the filter was refused (the caller's mistake). */
cJSON *pb_actions_page(PGconn *c, const pb_action_filter *f, const core_config *cfg, bool *bad,
                       char *err, size_t errlen);
/* One action in the same shape; NULL with err (also when not found). */
cJSON *pb_action_read(PGconn *c, int64_t id, const core_config *cfg, char *err, size_t errlen);

typedef struct {
    const char *q;      /* part of the key id, case-insensitive; NULL: any */
    const char *status; /* active, throttled, revoked; NULL: any */
    const char *cursor;
    int limit;          /* 1..500 */
} pb_key_filter;

/* The keys of the registry (api_keys) and of incidents, by key id: each
 * with its status (active, throttled, revoked) and until when, reason,
 * last seen, open and total incident counts. {"keys": [...],
 * "next_cursor"}; NULL with err, *bad as above. */
cJSON *pb_keys_page(PGconn *c, const pb_key_filter *f, bool *bad, char *err, size_t errlen);

/* One key: its registry state as in the list, first seen, its actions
 * (the status history, newest first) and the last hour's traffic per
 * minute (requests, tokens, refusals, errors). NULL with err; *found false
 * (err empty) when no table knows the key. */
cJSON *pb_key_read(PGconn *c, const char *key, const core_config *cfg, bool *found, char *err,
                   size_t errlen);

typedef struct {
    const char *q; /* part of the model name; NULL: any */
    const char *cursor;
    int limit;     /* 1..500 */
} pb_model_filter;

/* Models of the registry (model_deployments) and of incidents, by name,
 * each with its active version and its versions (deployment, open
 * incidents, drift state). {"models": [...], "next_cursor"}. */
cJSON *pb_models_page(PGconn *c, const pb_model_filter *f, bool *bad, char *err, size_t errlen);

/* One model version: its deployment, the model's versions, deployment
 * history, rollbacks (actions), drift state with its last PSI evidence,
 * the last hour's traffic per minute. NULL with err; *found as above. */
cJSON *pb_model_version_read(PGconn *c, const char *model, const char *version,
                             const core_config *cfg, bool *found, char *err, size_t errlen);

/* config check's playbooks row: every playbook in playbooks.dir loads in
 * the sandbox (which passes its allow-list), as custos run would load it;
 * writes "# playbooks: N loaded from DIR" to out, or returns -1 with err
 * (each refused file named with its line on stderr). */
int pb_config_check(const core_config *cfg, FILE *out, char *err, size_t errlen);

/* custos playbook test FILE --incident F | check [DIR] | reload */
int pb_cmd_playbook(int argc, char **argv);
/* custos actions list | approve ID | reject ID --reason R | request ... */
int pb_cmd_actions(int argc, char **argv);

/* The actions waiting for approval and not yet expired; -1 with err. */
long long pb_pending_count(PGconn *c, char *err, size_t errlen);

#endif
