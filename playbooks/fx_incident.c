/* The registry effector for incidents: set_incident changes the incident
 * through the incidents module's one status rule (inc_apply_change: the
 * row, its incident_updates row, its audit row), in one transaction, and
 * with serious= marks it a serious incident (EU AI Act Art. 73,
 * inc_serious_mark: aware from now, audited) after it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "incidents/incidents.h"
#include "playbooks/fx_effector.h"

/* An incident the analytics never stored (delivered from a file by
 * `custos playbook apply`, or on the control topic by another instance):
 * inc_apply_change has no row to change, so the request is kept in
 * incident_updates as the playbooks always kept it, for the humans and the
 * tests that read it there. */
static fx_rc record_unknown(PGconn *db, const pb_action *a, const char *actor, const char *st,
                            const char *sev, const char *note, char *err, size_t errlen)
{
    char ids[32];
    snprintf(ids, sizeof ids, "%" PRId64, a->id);
    const char *v[] = {a->incident_id, ids, st, sev, note, actor};
    return fx_db_exec(db,
                      "INSERT INTO incident_updates (incident_id, action_id, status, severity, "
                      "note, actor) VALUES ($1, $2::bigint, $3, $4, $5, $6)",
                      6, v, "recording the incident update", err, errlen);
}

static fx_rc run(pb_fx *fx, PGconn *db, const pb_action *a, const char *msg, cJSON *res,
                 char *err, size_t errlen)
{
    (void)fx;
    (void)msg;
    const char *st = fx_pstr(a->params, "status"), *sev = fx_pstr(a->params, "severity"),
               *note = fx_pstr(a->params, "note");
    char actor[128];
    snprintf(actor, sizeof actor, "playbook:%s", a->playbook);
    inc_change ch = {.incident_id = a->incident_id,
                     .actor = actor,
                     .status = st ? inc_status_parse(st) : -1,
                     .severity = sev ? inc_severity_parse(sev) : -1,
                     .disposition = -1,
                     .reason = note,
                     .action_id = a->id};
    if ((st && ch.status < 0) || (sev && ch.severity < 0)) {
        /* the API checked both: a row written by hand, or an older binary */
        snprintf(err, errlen, "set_incident: status '%s' or severity '%s' is not in the "
                 "incidents vocabulary", st ? st : "", sev ? sev : "");
        return FX_PERMANENT;
    }
    PGresult *r = PQexec(db, "BEGIN");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return fx_db_fail(db, r, "starting the incident change", err, errlen);
    PQclear(r);
    int changed = inc_apply_change(db, &ch, err, errlen);
    fx_rc rc = FX_OK;
    if (changed == 0)
        rc = record_unknown(db, a, actor, st, sev, note, err, errlen);
    else if (changed < 0)
        /* The rule refusing the change fails no statement (the transaction
         * is still good): permanent. A failed statement or a lost
         * connection may go another way next time: retried. */
        rc = PQstatus(db) == CONNECTION_OK && PQtransactionStatus(db) == PQTRANS_INTRANS
                 ? FX_PERMANENT
                 : FX_TRANSIENT;
    if (rc != FX_OK) {
        core_db_rollback(db);
        if (PQstatus(db) != CONNECTION_OK)
            PQreset(db);
        return rc;
    }
    r = PQexec(db, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return fx_db_fail(db, r, "committing the incident change", err, errlen);
    PQclear(r);
    const char *serious = fx_pstr(a->params, "serious");
    if (serious) {
        int cat = inc_serious_category_parse(serious);
        int m = cat < 0 ? INC_SERIOUS_REFUSED
                        : inc_serious_mark(db, a->incident_id, (inc_serious_category)cat,
                                           core_wall_us(), actor, NULL, err, errlen);
        if (m == 0 || m == INC_SERIOUS_REFUSED) {
            if (m == 0)
                snprintf(err, errlen, "set_incident: incident %s is not stored, so it cannot be "
                         "marked serious", a->incident_id);
            else if (cat < 0)
                snprintf(err, errlen, "set_incident: serious '%s' is not a category", serious);
            return FX_PERMANENT;
        }
        if (m < 0)
            return FX_TRANSIENT;
        cJSON_AddStringToObject(res, "serious", serious);
    }
    cJSON_AddStringToObject(res, "registry", "ok");
    return FX_OK;
}

const fx_effector fx_incident = {
    .name = "registry",
    .kinds = FX_KIND(PB_K_SET_INCIDENT),
    .off = fx_registry_off,
    .run = run,
};
