/* The preservation gate of EU AI Act Art. 73(6) (pb_gate.h): nothing that
 * alters the AI system before the authority is told, unless a person
 * records why it cannot wait. */
#include "playbooks/pb_gate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/db.h"
#include "incidents/incidents.h"

static const char *const k_gate[] = {NULL, "authority_informed", "override"};

const char *pb_gate_name(pb_gate g)
{
    return (unsigned)g < sizeof k_gate / sizeof k_gate[0] ? k_gate[g] : NULL;
}

int pb_gate_parse(const char *s)
{
    for (int i = 1; s && i < (int)(sizeof k_gate / sizeof k_gate[0]); i++)
        if (strcmp(s, k_gate[i]) == 0)
            return i;
    return -1;
}

bool pb_gate_alters_system(pb_kind k) { return k == PB_K_ROLLBACK_MODEL; }

cJSON *pb_gate_serious(PGconn *db, pb_kind kind, const char *incident_id, const cJSON *params,
                       char *err, size_t errlen)
{
    if (!pb_gate_alters_system(kind))
        return cJSON_CreateArray();
    const char *model =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive((cJSON *)params, "model"));
    return inc_serious_touching(db, incident_id, model, err, errlen);
}

/* "inc-1, inc-2" into out. */
static void join_ids(const cJSON *ids, char *out, size_t n)
{
    size_t at = 0;
    const cJSON *x;
    out[0] = '\0';
    cJSON_ArrayForEach(x, ids)
    {
        int w = snprintf(out + at, n - at, "%s%s", at ? ", " : "", x->valuestring);
        if (w < 0 || (size_t)w >= n - at)
            break;
        at += (size_t)w;
    }
}

int pb_gate_check_approval(PGconn *db, const pb_action *a, pb_gate gate, const char *reason,
                           char *err, size_t errlen)
{
    cJSON *ids = pb_gate_serious(db, a->kind, a->incident_id, a->params, err, errlen);
    if (!ids)
        return -1;
    int rc = 0;
    if (cJSON_GetArraySize(ids) > 0) {
        char list[512];
        join_ids(ids, list, sizeof list);
        if (gate == PB_GATE_NONE) {
            snprintf(err, errlen,
                     "action %" PRId64 " alters the AI system (%s %s) and serious incident(s) %s "
                     "concern it: EU AI Act Art. 73(6) wants the authority informed first. "
                     "Approve with gate authority_informed and a reason saying how and when it "
                     "was informed, or with gate override and the reason it cannot wait",
                     a->id, pb_kinds[a->kind], a->subject, list);
            rc = PB_DECIDE_GATE;
        } else if (!reason || !*reason) {
            snprintf(err, errlen, "the gate's answer %s needs a reason (%s)", pb_gate_name(gate),
                     gate == PB_GATE_AUTHORITY_INFORMED
                         ? "how and when the authority was informed"
                         : "why the change cannot wait for the authority");
            rc = PB_DECIDE_NEEDS_REASON;
        }
    }
    cJSON_Delete(ids);
    return rc;
}

int pb_gate_before_execute(PGconn *db, const pb_action *a, int64_t max_events, char *why,
                           size_t whylen)
{
    cJSON *ids = pb_gate_serious(db, a->kind, a->incident_id, a->params, why, whylen);
    if (!ids)
        return -1;
    int rc = 0;
    if (cJSON_GetArraySize(ids) > 0 && !a->approval_gate[0]) {
        /* An approval recorded without the gate's answer: the incident was
         * marked serious after the approval, or the action was approved
         * by no person (playbooks.approval_kinds without rollback_model). */
        char list[512];
        join_ids(ids, list, sizeof list);
        snprintf(why, whylen,
                 "preservation gate (EU AI Act Art. 73(6)): serious incident(s) %s concern this "
                 "change and its approval does not record that the authority was informed (nor "
                 "an override); propose it again and approve it with the gate's answer",
                 list);
        rc = 1;
        goto done;
    }
    const char *model =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a->params, "model"));
    const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a->params, "from"));
    const cJSON *x;
    cJSON_ArrayForEach(x, ids)
    {
        if (strcmp(x->valuestring, a->incident_id) == 0)
            continue; /* the executor freezes the action's own incident */
        cJSON *inc = NULL;
        bool found = false;
        char err[512] = "";
        inc = inc_get(db, x->valuestring, false, &found, err, sizeof err);
        char *json = inc ? cJSON_PrintUnformatted(inc) : NULL;
        cJSON_Delete(inc);
        char sha[65];
        int f = -1;
        if (json && core_db_begin(db, why, whylen) == 0) {
            f = audit_evidence_freeze(db, x->valuestring, json, model, from, a->id, "custos",
                                      max_events, sha, why, whylen) < 0
                    ? -1
                    : core_db_commit(db, why, whylen);
            if (f < 0)
                core_db_rollback(db);
        } else if (!json) {
            snprintf(why, whylen, "freezing the evidence of %s: %s", x->valuestring,
                     err[0] ? err : "out of memory");
        }
        free(json);
        if (f < 0) {
            rc = -1;
            goto done;
        }
    }
done:
    cJSON_Delete(ids);
    return rc;
}
