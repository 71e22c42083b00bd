/* /api/v1/actions/{id}/approve and /reject: a person's decision on a
 * pending containment action, through the same path and audit as
 * `custos actions approve|reject` (pb_action_approve / pb_action_reject:
 * the playbooks audit the decision with the actor and, on approval, run
 * the action through their effectors at once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "playbooks/playbooks.h"
#include "web/web_internal.h"

/* A refusal of the playbooks, by its code (PB_DECIDE_*): the caller's
 * mistakes are answered 4xx, anything else is a failure (500). */
static web_result refused(web_req *r, int rc, int64_t id)
{
    switch (rc) {
    case PB_DECIDE_NOT_FOUND:
        return web_reply_error(r, 404, "not_found", "no action %lld", (long long)id);
    case PB_DECIDE_NOT_PENDING:
        return web_reply_error(r, 409, "not_pending", "%s", r->err);
    case PB_DECIDE_NEEDS_REASON:
        return web_reply_error(r, 400, "bad_request", "%s", r->err);
    default:
        return WEB_FAIL;
    }
}

web_result web_h_action_approve(web_req *r)
{
    int64_t id = web_parse_id(r->params.v[0]);
    if (id < 0)
        return web_reply_error(r, 400, "bad_id", "an action id is a positive number");
    char state[32] = "";
    int rc = pb_action_approve(web_server_actions(r->srv), r->db, id, r->auth.actor, state,
                               sizeof state, r->err, sizeof r->err);
    if (rc < 0)
        return refused(r, rc, id);
    r->audited = true; /* by the playbooks, with the actor */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "decision", "approved");
    cJSON_AddStringToObject(o, "state", state);
    return web_reply_json(r, 200, o);
}

web_result web_h_action_reject(web_req *r)
{
    int64_t id = web_parse_id(r->params.v[0]);
    if (id < 0)
        return web_reply_error(r, 400, "bad_id", "an action id is a positive number");
    const char *reason = NULL;
    if (web_json_string(r, "reason", 1000, true, &reason) < 0)
        return WEB_CLIENT_ERROR;
    if (!*reason)
        return web_reply_error(r, 400, "bad_request", "a rejection needs a reason");
    int rc = pb_action_reject(web_server_actions(r->srv), r->db, id, r->auth.actor, reason,
                              r->err, sizeof r->err);
    if (rc < 0)
        return refused(r, rc, id);
    r->audited = true;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "decision", "rejected");
    cJSON_AddStringToObject(o, "state", "rejected");
    return web_reply_json(r, 200, o);
}
