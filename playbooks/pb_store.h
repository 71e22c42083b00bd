/* The playbooks' PostgreSQL side: actions and their state machine, the
 * incident deliveries (audit rows go through audit/). Parameterised SQL only. Functions that
 * say "in the caller's transaction" expect BEGIN to have been sent. */
#ifndef PB_STORE_H
#define PB_STORE_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "playbooks/pb.h"

/* One row of actions, as the executor needs it. Strings owned by the
 * struct: pb_action_clear(). */
typedef struct {
    int64_t id;
    char *incident_id, *playbook, *subject, *state, *actor;
    pb_kind kind;
    cJSON *params;
    int64_t ttl_s;     /* 0: none */
    int64_t revert_of; /* 0: none */
    bool dry_run, approval_required;
    char approval_gate[24]; /* "authority_informed", "override", or "" (schema 14) */
} pb_action;

void pb_action_clear(pb_action *a);

/* Records a new action as proposed, then moves it to first_state
 * (pending_approval, approved or dry_run; result_json, which may be NULL,
 * says what a dry run would have done), auditing both, in one
 * transaction. When the same incident, kind and params (and dry-run flag)
 * is already recorded, nothing is written and *created is false. Writes the
 * id and current state. */
int pb_store_propose(PGconn *c, const char *incident_id, const char *playbook, pb_kind kind,
                     const char *subject, const char *params_json, bool dry_run,
                     bool approval_required, int64_t ttl_s, int64_t revert_of,
                     const char *actor, const char *first_state, int64_t expiry_ms,
                     const char *result_json, int64_t *id, char *state, size_t statelen, bool *created, char *err,
                     size_t errlen);

/* Moves action id from one of the states in from (a PostgreSQL array
 * literal such as "{approved}") to `to`, with the audit row, in one
 * transaction. note is the rejection reason or the error; result (JSON) is
 * kept for done. Returns 1 when moved, 0 when the action was not in a from
 * state (someone else moved it), -1 on error. */
int pb_store_transition(PGconn *c, int64_t id, const char *from, const char *to,
                        const char *actor, const char *note, const char *result_json,
                        char *err, size_t errlen);

/* Reads one action. Returns 1 found, 0 not found, -1 error. */
int pb_store_get(PGconn *c, int64_t id, pb_action *a, char *err, size_t errlen);

/* A person's approval: pending_approval -> approved as actor, with the
 * reason (NULL: none) in decision_reason and the audit row, and the
 * preservation gate's answer (NULL, "authority_informed" or "override") in
 * approval_gate and the audit row, in one transaction. As
 * pb_store_transition: 1 moved, 0 not pending, -1 error. */
int pb_store_approve(PGconn *c, int64_t id, const char *actor, const char *reason,
                     const char *gate, char *err, size_t errlen);

/* Counts a delivery of an incident and keeps its JSON; writes how many
 * deliveries there have been (this one included) and how many actions it
 * has. */
int pb_store_delivery(PGconn *c, const char *incident_id, const char *json, int64_t *deliveries,
                      int64_t *actions, char *err, size_t errlen);

/* The last JSON of an incident, or NULL. The caller frees it. */
char *pb_store_incident_json(PGconn *c, const char *incident_id, char *err, size_t errlen);

/* Ids of actions due for something: pending approvals past expires_at,
 * done actions past revert_at and not reverted. Returns the count written
 * (at most max) or -1. */
int pb_store_due_expiry(PGconn *c, int64_t *ids, int max, char *err, size_t errlen);
int pb_store_due_revert(PGconn *c, int64_t *ids, int max, char *err, size_t errlen);

/* Approved actions nobody executed within stale_s seconds (a process
 * stopped between approval and execution), and actions stuck executing
 * for longer than stuck_s (a process stopped mid-way). */
int pb_store_due_orphans(PGconn *c, int stale_s, int64_t *ids, int max, char *err, size_t errlen);
int pb_store_due_stuck(PGconn *c, int stuck_s, int64_t *ids, int max, char *err, size_t errlen);

/* Marks a done action reverted by revert_id (audited). */
int pb_store_mark_reverted(PGconn *c, int64_t id, int64_t revert_id, char *err, size_t errlen);

/* Writes the actions (filtered by state and incident, both may be NULL) as
 * a table, or JSON lines when json is set. Returns the row count or -1. */
int pb_store_list(PGconn *c, const char *state, const char *incident, int limit, bool json,
                  FILE *out, char *err, size_t errlen);

#endif
