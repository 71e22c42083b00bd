/* The life of the actions the playbooks asked for, after they are
 * recorded: execution through the effectors (with the evidence frozen
 * before a rollback), escalation of a failure, humans' decisions, expiry
 * of approvals, auto-revert at the end of a ttl, and recovery of what a
 * stopped process left behind. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/db.h"
#include "core/log.h"
#include "playbooks/pb_engine.h"
#include "playbooks/pb_engine_int.h"
#include "playbooks/pb_gate.h"
#include "playbooks/pb_store.h"
#include "playbooks/playbooks.h" /* PB_DECIDE_* */

/* ---- execution ---- */

/* Freezes the incident, its events and the drift windows into an
 * immutable evidence record (audit_evidence_freeze) before a rollback
 * changes the system, in a transaction of its own. */
static int freeze_evidence(pb_engine *e, const pb_action *a, char *err, size_t errlen)
{
    PGconn *db = e->o.db;
    char *inc = pb_store_incident_json(db, a->incident_id, err, errlen);
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a->params, "model"));
    const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a->params, "from"));
    char sha[65];
    int rc = -1;
    if (core_db_begin(db, err, errlen) < 0)
        goto done;
    if (audit_evidence_freeze(db, a->incident_id, inc, model, from, a->id, "custos",
                              e->o.cfg->pb_evidence_max_events, sha, err, errlen) < 0 ||
        core_db_commit(db, err, errlen) < 0) {
        core_db_rollback(db);
        goto done;
    }
    rc = 0;
done:
    free(inc);
    return rc;
}

/* An escalation did not reach anyone: an action it asked for failed or
 * was skipped, or no playbook listens for action_failed. It does not
 * escalate again (that could loop), so it is made visible: an error line,
 * custos_playbook_escalations_failed_total, and an escalation_failed
 * audit row against the incident. */
static void escalation_failed(pb_engine *e, int64_t action_id, const char *incident_id,
                              const char *kind, const char *why)
{
    pb_metric_add(PB_M_ESCALATION_FAILED, 1);
    char q1[240], q2[600];
    core_log(CORE_LOG_ERROR, "playbooks", "escalation failed",
             "incident=%s action=%" PRId64 " kind=%s error=%s",
             core_log_quote(q1, sizeof q1, incident_id), action_id, kind,
             core_log_quote(q2, sizeof q2, why));
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "action_id", (double)action_id);
    cJSON_AddStringToObject(d, "kind", kind);
    cJSON_AddStringToObject(d, "error", why);
    char *detail = cJSON_PrintUnformatted(d);
    char err[512];
    if (detail && audit_append_tx(e->o.db, "custos", "escalation_failed",
                                  action_id > 0 ? action_id : 0, incident_id, detail, err,
                                  sizeof err) < 0)
        core_log(CORE_LOG_ERROR, "playbooks", "cannot audit the failed escalation", "error=%s",
                 core_log_quote(q2, sizeof q2, err));
    free(detail);
    cJSON_Delete(d);
}

/* An action failed: record it against the incident and give the playbooks
 * that listen for action_failed their turn (once: their own failures do
 * not escalate again). */
static void escalate(pb_engine *e, const pb_action *a, const char *why)
{
    e->st.escalations++;
    pb_metric_add(PB_M_ESCALATIONS, 1);
    char err[512];
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "action_id", (double)a->id);
    cJSON_AddStringToObject(d, "kind", pb_kinds[a->kind]);
    cJSON_AddStringToObject(d, "error", why);
    char *detail = cJSON_PrintUnformatted(d);
    if (detail)
        audit_append_tx(e->o.db, "custos", "escalated", a->id, a->incident_id, detail, err,
                        sizeof err);
    free(detail);
    if (e->depth > 0) {
        cJSON_Delete(d);
        return;
    }
    char *json = pb_store_incident_json(e->o.db, a->incident_id, err, sizeof err);
    pb_incident inc;
    if (json && pb_incident_parse(&inc, json, strlen(json), err, sizeof err) == 0) {
        inc.event = PB_EV_ACTION_FAILED;
        cJSON_AddStringToObject(d, "subject", a->subject);
        cJSON_AddStringToObject(d, "playbook", a->playbook);
        inc.failed_action = d;
        d = NULL;
        e->depth++;
        /* Keep the outer delivery's run report; escalation runs add theirs. */
        pb_incident *saved = e->cur;
        e->cur = &inc;
        uint64_t matched = e->st.matched;
        pb_engine_run_all(e, &inc);
        e->cur = saved;
        if (e->st.matched == matched)
            escalation_failed(e, a->id, a->incident_id, pb_kinds[a->kind],
                              "no playbook took the escalation (none listens for action_failed "
                              "on this incident)");
        pb_engine_execute_todo(e);
        e->depth--;
    } else {
        char q[600];
        core_log(CORE_LOG_WARN, "playbooks", "escalation without playbooks",
                 "action=%" PRId64 " error=%s", a->id, core_log_quote(q, sizeof q, err));
    }
    if (json)
        pb_incident_free(&inc);
    free(json);
    cJSON_Delete(d);
}

int pb_engine_execute(pb_engine *e, int64_t id, char *err, size_t errlen)
{
    if (!e->o.persist) {
        snprintf(err, errlen, "no database: nothing executes");
        return -1;
    }
    pb_action a;
    int got = pb_store_get(e->o.db, id, &a, err, errlen);
    if (got <= 0) {
        if (got == 0)
            snprintf(err, errlen, "action %" PRId64 " not found", id);
        return -1;
    }
    int rc = 0;
    cJSON *result = NULL;
    char *res = NULL;
    if (strcmp(a.state, "approved") != 0)
        goto done;
    int claimed = pb_store_transition(e->o.db, id, "{approved}", "executing", "custos", NULL, NULL,
                                      err, errlen);
    if (claimed <= 0) {
        rc = claimed;
        goto done;
    }
    char why[512] = "";
    int ok = -1;
    if (!e->o.fx)
        snprintf(why, sizeof why, "no effectors configured in this process");
    else if (pb_gate_alters_system(a.kind) &&
             pb_gate_before_execute(e->o.db, &a, e->o.cfg->pb_evidence_max_events, why,
                                    sizeof why) != 0)
        ; /* the preservation gate (Art. 73(6)) holds it, or its evidence failed */
    else if (a.kind == PB_K_ROLLBACK_MODEL && freeze_evidence(e, &a, why, sizeof why) < 0)
        ; /* no rollback without its evidence */
    else
        ok = pb_fx_apply(e->o.fx, e->o.db, &a, &result, why, sizeof why);
    e->st.executed++;
    if (ok == 0) {
        res = cJSON_PrintUnformatted(result);
        if (pb_store_transition(e->o.db, id, "{executing}", "done", "custos", NULL, res, err,
                                errlen) < 0) {
            rc = -1;
            goto done;
        }
        if (a.revert_of > 0 &&
            pb_store_mark_reverted(e->o.db, a.revert_of, a.id, err, errlen) < 0) {
            rc = -1;
            goto done;
        }
        char q[100];
        core_log(CORE_LOG_INFO, "playbooks", "action done", "action=%" PRId64 " kind=%s subject=%s",
                 id, pb_kinds[a.kind], core_log_quote(q, sizeof q, a.subject));
        pb_metric_add(PB_M_DONE, 1);
        rc = 1;
    } else if (ok == 1) {
        /* No effector carries it out: skipped, with each one's why. */
        res = cJSON_PrintUnformatted(result);
        char q[600];
        core_log(CORE_LOG_WARN, "playbooks", "action skipped", "action=%" PRId64 " kind=%s error=%s",
                 id, pb_kinds[a.kind], core_log_quote(q, sizeof q, why));
        pb_metric_add(PB_M_SKIPPED, 1);
        if (pb_store_transition(e->o.db, id, "{executing}", "skipped", "custos", why, res, err,
                                errlen) < 0) {
            rc = -1;
            goto done;
        }
        if (e->depth > 0)
            escalation_failed(e, a.id, a.incident_id, pb_kinds[a.kind], why);
    } else {
        e->st.exec_failed++;
        pb_metric_add(PB_M_FAILED, 1);
        char q[600];
        core_log(CORE_LOG_ERROR, "playbooks", "action failed", "action=%" PRId64 " kind=%s error=%s",
                 id, pb_kinds[a.kind], core_log_quote(q, sizeof q, why));
        /* what the effectors that did act did (a partial effect) is kept */
        res = result ? cJSON_PrintUnformatted(result) : NULL;
        if (pb_store_transition(e->o.db, id, "{executing}", "failed", "custos", why, res, err,
                                errlen) < 0) {
            rc = -1;
            goto done;
        }
        if (e->depth > 0)
            escalation_failed(e, a.id, a.incident_id, pb_kinds[a.kind], why);
        escalate(e, &a, why);
    }
done:
    free(res);
    cJSON_Delete(result);
    pb_action_clear(&a);
    return rc;
}

static int expire_due(pb_engine *e, char *err, size_t errlen)
{
    int64_t ids[TICK_BATCH];
    int n = pb_store_due_expiry(e->o.db, ids, TICK_BATCH, err, errlen);
    for (int i = 0; i < n; i++) {
        if (pb_store_transition(e->o.db, ids[i], "{pending_approval}", "expired", "expiry",
                                "no decision before the approval expired", NULL, err, errlen) < 0)
            return -1;
        e->st.expired++;
        pb_metric_add(PB_M_EXPIRED, 1);
    }
    return n;
}

/* A human's decision: moves a pending action to `to` ("approved" or
 * "rejected") as actor, after expiring what is due. Returns 0, or with err
 * PB_DECIDE_NOT_FOUND, PB_DECIDE_NOT_PENDING, or -1 (no database, database
 * error). */
static int decide_pending(pb_engine *e, int64_t id, const char *to, const char *actor,
                          const char *reason, pb_gate gate, char *err, size_t errlen)
{
    if (!e->o.persist) {
        snprintf(err, errlen, "no database");
        return -1;
    }
    if (expire_due(e, err, errlen) < 0)
        return -1;
    bool approve = strcmp(to, "approved") == 0;
    if (approve) {
        /* The preservation gate, before anything moves. */
        pb_action a;
        int got = pb_store_get(e->o.db, id, &a, err, errlen);
        int g = got > 0 && strcmp(a.state, "pending_approval") == 0
                    ? pb_gate_check_approval(e->o.db, &a, gate, reason, err, errlen)
                    : 0;
        pb_action_clear(&a);
        if (got < 0)
            return -1;
        if (g != 0)
            return g;
    }
    int m = approve ? pb_store_approve(e->o.db, id, actor, reason, pb_gate_name(gate), err, errlen)
                    : pb_store_transition(e->o.db, id, "{pending_approval}", to, actor, reason,
                                          NULL, err, errlen);
    if (m != 0)
        return m < 0 ? -1 : 0;
    pb_action a;
    int got = pb_store_get(e->o.db, id, &a, err, errlen);
    int rc = PB_DECIDE_FAILED;
    if (got == 0) {
        snprintf(err, errlen, "action %" PRId64 " not found", id);
        rc = PB_DECIDE_NOT_FOUND;
    } else if (got > 0) {
        snprintf(err, errlen, "action %" PRId64 " is %s, not pending approval", id, a.state);
        rc = PB_DECIDE_NOT_PENDING;
    }
    pb_action_clear(&a);
    return rc;
}

int pb_engine_approve(pb_engine *e, int64_t id, const char *actor, const char *reason,
                      pb_gate gate, char *state, size_t statelen, char *err, size_t errlen)
{
    int d = decide_pending(e, id, "approved", actor, reason, gate, err, errlen);
    if (d < 0)
        return d;
    if (pb_engine_execute(e, id, err, errlen) < 0)
        return PB_DECIDE_FAILED;
    pb_action a;
    int got = pb_store_get(e->o.db, id, &a, err, errlen);
    if (got > 0)
        snprintf(state, statelen, "%s", a.state);
    pb_action_clear(&a);
    return got > 0 ? 0 : -1;
}

int pb_engine_reject(pb_engine *e, int64_t id, const char *actor, const char *reason, char *err,
                     size_t errlen)
{
    return decide_pending(e, id, "rejected", actor, reason, PB_GATE_NONE, err, errlen);
}

static int revert_due(pb_engine *e, char *err, size_t errlen)
{
    int64_t ids[TICK_BATCH];
    int n = pb_store_due_revert(e->o.db, ids, TICK_BATCH, err, errlen);
    for (int i = 0; i < n; i++) {
        pb_action a;
        if (pb_store_get(e->o.db, ids[i], &a, err, errlen) <= 0)
            return -1;
        pb_kind k = a.kind == PB_K_REVOKE_KEY ? PB_K_RESTORE_KEY : PB_K_UNTHROTTLE_KEY;
        if (a.kind != PB_K_REVOKE_KEY && a.kind != PB_K_THROTTLE_KEY) {
            pb_store_mark_reverted(e->o.db, a.id, 0, err, errlen);
            pb_action_clear(&a);
            continue;
        }
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "key_id", a.subject);
        char reason[96];
        snprintf(reason, sizeof reason, "ttl of action %" PRId64 " ran out", a.id);
        cJSON_AddStringToObject(p, "reason", reason);
        char *params = cJSON_PrintUnformatted(p);
        cJSON_Delete(p);
        int64_t rid = 0;
        char state[32];
        bool created;
        int rc = params ? pb_store_propose(e->o.db, a.incident_id, a.playbook, k, a.subject,
                                           params, false, false, 0, a.id, "auto-revert",
                                           "approved", 0, NULL, &rid, state, sizeof state,
                                           &created, err, errlen)
                        : -1;
        free(params);
        pb_action_clear(&a);
        if (rc < 0)
            return -1;
        if (strcmp(state, "approved") == 0) {
            if (pb_engine_execute(e, rid, err, errlen) < 0)
                return -1;
        } else if (strcmp(state, "done") == 0) {
            pb_store_mark_reverted(e->o.db, ids[i], rid, err, errlen);
        }
        e->st.reverted++;
        pb_metric_add(PB_M_REVERTED, 1);
    }
    return n;
}

/* A process that stopped between approval and execution leaves approved
 * actions behind: execute them (the claim is atomic, so two daemons do not
 * both). One that stopped mid-execution leaves an action executing: whether
 * its effect happened is unknown, so it fails and escalates for a human. */
static int recover(pb_engine *e, char *err, size_t errlen)
{
    int64_t ids[TICK_BATCH];
    int n = pb_store_due_orphans(e->o.db, ORPHAN_S, ids, TICK_BATCH, err, errlen);
    for (int i = 0; i < n; i++)
        if (pb_engine_execute(e, ids[i], err, errlen) < 0)
            return -1;
    int m = pb_store_due_stuck(e->o.db, STUCK_S, ids, TICK_BATCH, err, errlen);
    for (int i = 0; i < m; i++) {
        int moved = pb_store_transition(e->o.db, ids[i], "{executing}", "failed", "custos",
                                        "interrupted: custos stopped while executing it", NULL,
                                        err, errlen);
        if (moved < 0)
            return -1;
        pb_action a;
        if (moved == 1 && pb_store_get(e->o.db, ids[i], &a, err, errlen) == 1) {
            escalate(e, &a, "interrupted: custos stopped while executing it");
            pb_action_clear(&a);
        }
    }
    return n < 0 || m < 0 ? -1 : n + m;
}

int pb_engine_tick(pb_engine *e, char *err, size_t errlen)
{
    if (!e->o.persist)
        return 0;
    int a = expire_due(e, err, errlen);
    if (a < 0)
        return -1;
    int b = revert_due(e, err, errlen);
    if (b < 0)
        return -1;
    int c = e->o.fx ? recover(e, err, errlen) : 0;
    if (c < 0)
        return -1;
    return a + b + c;
}
