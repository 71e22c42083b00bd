/* The registry effector for incidents: set_incident records the status,
 * severity or note on the incident. */
#include <inttypes.h>
#include <stdio.h>

#include "playbooks/fx_effector.h"

static fx_rc run(pb_fx *fx, PGconn *db, const pb_action *a, const char *msg, cJSON *res,
                 char *err, size_t errlen)
{
    (void)fx;
    (void)msg;
    char ids[32];
    snprintf(ids, sizeof ids, "%" PRId64, a->id);
    const char *st = fx_pstr(a->params, "status"), *sev = fx_pstr(a->params, "severity"),
               *note = fx_pstr(a->params, "note");
    const char *v[] = {a->incident_id, ids, st, sev, note};
    fx_rc rc = fx_db_exec(db,
                          "INSERT INTO incident_updates (incident_id, action_id, status, "
                          "severity, note) VALUES ($1, $2::bigint, $3, $4, $5)",
                          5, v, "recording the incident update", err, errlen);
    if (rc == FX_OK && (st || sev)) {
        const char *v2[] = {a->incident_id, st, sev};
        rc = fx_db_exec(db,
                        "UPDATE incidents SET status = coalesce($2, status), severity = "
                        "coalesce($3, severity), updated_at = now() WHERE incident_id = $1",
                        3, v2, "updating the incident", err, errlen);
    }
    if (rc == FX_OK)
        cJSON_AddStringToObject(res, "registry", "ok");
    return rc;
}

const fx_effector fx_incident = {
    .name = "registry",
    .kinds = FX_KIND(PB_K_SET_INCIDENT),
    .off = fx_registry_off,
    .run = run,
};
