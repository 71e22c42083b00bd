/* The registry effector for models (model_deployments): rollback_model
 * switches the active version, recorded in model_deployment_history under
 * the action, in one transaction. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "playbooks/fx_effector.h"

/* The version to roll back to: `to`, or for "previous" the one deployed
 * last before `from`. FX_OK with target written, else why. */
static fx_rc find_target(PGconn *db, const char *model, const char *from, const char *to,
                         char *target, size_t tlen, char *err, size_t errlen)
{
    if (strcmp(to, "previous") != 0) {
        snprintf(target, tlen, "%s", to);
        return FX_OK;
    }
    const char *v[] = {model, from};
    PGresult *r = PQexecParams(db, "SELECT version FROM model_deployments WHERE model = $1 AND "
                                   "version <> $2 AND deployed_at <= (SELECT deployed_at FROM "
                                   "model_deployments WHERE model = $1 AND version = $2) ORDER "
                                   "BY deployed_at DESC, version DESC LIMIT 1",
                               2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fx_db_fail(db, r, "finding the previous version", err, errlen);
    if (PQntuples(r) == 0) {
        PQclear(r);
        snprintf(err, errlen, "registry: %s has no version deployed before '%s'", model, from);
        return FX_PERMANENT;
    }
    snprintf(target, tlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return FX_OK;
}

/* Switches model from `from` to target and records it, in the open
 * transaction. */
static fx_rc switch_version(PGconn *db, const char *model, const char *from, const char *target,
                            const char *ids, char *err, size_t errlen)
{
    const char *v[] = {model, from, target, ids};
    PGresult *r = PQexecParams(db,
                               "WITH off AS (UPDATE model_deployments SET active = false, "
                               "retired_at = now() WHERE model = $1 AND version = $2 RETURNING "
                               "1) UPDATE model_deployments SET active = true, retired_at = NULL "
                               "WHERE model = $1 AND version = $3 AND EXISTS (SELECT 1 FROM off) "
                               "RETURNING 1",
                               3, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fx_db_fail(db, r, "switching the active version", err, errlen);
    int n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        snprintf(err, errlen, "registry: %s has no version '%s' to roll back to", model, target);
        return FX_PERMANENT;
    }
    return fx_db_exec(db, "INSERT INTO model_deployment_history (model, from_version, "
                          "to_version, action_id) VALUES ($1, $2, $3, $4::bigint)",
                      4, v, "recording the rollback", err, errlen);
}

static fx_rc run(pb_fx *fx, PGconn *db, const pb_action *a, const char *msg, cJSON *res,
                 char *err, size_t errlen)
{
    (void)fx;
    (void)msg;
    const char *model = fx_pstr(a->params, "model"), *from = fx_pstr(a->params, "from"),
               *to = fx_pstr(a->params, "to");
    char ids[32], target[160];
    snprintf(ids, sizeof ids, "%" PRId64, a->id);
    fx_rc rc = FX_TRANSIENT;
    PQclear(PQexec(db, "BEGIN"));
    const char *v1[] = {model};
    PGresult *r = PQexecParams(db, "SELECT version FROM model_deployments WHERE model = $1 AND "
                                   "active FOR UPDATE", 1, NULL, v1, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = fx_db_fail(db, r, "reading model_deployments", err, errlen);
        goto rollback;
    }
    char active[160] = "";
    if (PQntuples(r))
        snprintf(active, sizeof active, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (strcmp(active, from) != 0) {
        /* Done already by this very action (a retry after a lost reply)? */
        const char *v2[] = {model, ids};
        r = PQexecParams(db, "SELECT to_version FROM model_deployment_history WHERE model = $1 "
                             "AND action_id = $2::bigint", 2, NULL, v2, NULL, NULL, 0);
        bool mine = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
        if (mine) {
            cJSON_AddStringToObject(res, "registry", "already rolled back by this action");
            rc = FX_OK;
            goto rollback;
        }
        snprintf(err, errlen, "registry: the active version of %s is '%s', not '%s'", model,
                 *active ? active : "(none)", from);
        rc = FX_PERMANENT;
        goto rollback;
    }
    rc = find_target(db, model, from, to, target, sizeof target, err, errlen);
    if (rc == FX_OK)
        rc = switch_version(db, model, from, target, ids, err, errlen);
    if (rc != FX_OK)
        goto rollback;
    r = PQexec(db, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return fx_db_fail(db, r, "committing the rollback", err, errlen);
    PQclear(r);
    cJSON *o = cJSON_AddObjectToObject(res, "registry");
    cJSON_AddStringToObject(o, "from", from);
    cJSON_AddStringToObject(o, "to", target);
    return FX_OK;
rollback:
    PQclear(PQexec(db, "ROLLBACK"));
    return rc;
}

const fx_effector fx_registry = {
    .name = "registry",
    .kinds = FX_KIND(PB_K_ROLLBACK_MODEL),
    .off = fx_registry_off,
    .run = run,
};
