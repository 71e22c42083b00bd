/* /api/v1/models: the models custos knows with their versions (deployment,
 * open incidents, drift state), one version with its deployments,
 * rollbacks, drift evidence, traffic and incidents, and a person's
 * rollback of a version, an action through the playbooks' effectors (the
 * evidence is frozen first, as for a playbook's). The queries are
 * playbooks/'s (pb_read.c) and incidents/'s (inc_list). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "playbooks/playbooks.h"
#include "web/web_internal.h"

web_result web_h_models_list(web_req *r)
{
    static const char *const names[] = {"q", "cursor", "limit"};
    const char *v[3];
    if (web_query_args(r, names, 3, v) < 0)
        return WEB_CLIENT_ERROR;
    pb_model_filter f = {.q = v[0], .cursor = v[1]};
    if ((f.limit = web_query_limit(r, v[2], 50, 500)) < 0)
        return WEB_CLIENT_ERROR;
    bool bad = false;
    cJSON *page = pb_models_page(r->db, &f, &bad, r->err, sizeof r->err);
    if (!page)
        return bad ? web_reply_error(r, 400, "bad_filter", "%s", r->err) : WEB_FAIL;
    return web_reply_json(r, 200, page);
}

web_result web_h_model_version_get(web_req *r)
{
    const char *model = r->params.v[0], *version = r->params.v[1];
    bool found = false;
    cJSON *o = pb_model_version_read(r->db, model, version, r->cfg, &found, r->err,
                                     sizeof r->err);
    if (!o) {
        if (!found && r->err[0] == '\0')
            return web_reply_error(r, 404, "not_found", "no version %s of model %s", version,
                                   model);
        return WEB_FAIL;
    }
    if (web_add_incidents(r, o, NULL, model, version) < 0) {
        cJSON_Delete(o);
        return WEB_FAIL;
    }
    return web_reply_json(r, 200, o);
}

/* POST /api/v1/models/{model}/versions/{version}/rollback: from this
 * version to "to" (a version, or "previous": the one deployed before it). */
web_result web_h_model_rollback(web_req *r)
{
    static const char *const allowed[] = {"reason", "incident_id", "to", "gate", "gate_reason",
                                          NULL};
    if (!web_json_only(r, allowed))
        return WEB_CLIENT_ERROR;
    pb_request rq = {.kind = "rollback_model", .model = r->params.v[0], .from = r->params.v[1]};
    if (web_json_string(r, "to", 128, false, &rq.to) < 0)
        return WEB_CLIENT_ERROR;
    /* A version nobody knows is refused before anything is recorded. */
    bool found = false;
    cJSON *o = pb_model_version_read(r->db, rq.model, rq.from, r->cfg, &found, r->err,
                                     sizeof r->err);
    cJSON_Delete(o);
    if (!found)
        return r->err[0] ? WEB_FAIL
                         : web_reply_error(r, 404, "not_found", "no version %s of model %s",
                                           rq.from, rq.model);
    return web_contain(r, &rq);
}
