/* /api/v1/actions: the actions across incidents (the approval queue), and
 * /{id}/approve and /reject: a person's decision on a pending containment
 * action, through the same path and audit as `custos actions
 * approve|reject` (pb_action_approve / pb_action_reject: the playbooks
 * audit the decision with the actor and, on approval, run the action
 * through their effectors at once). Also the body of a person's own
 * containment request (web_contain), which the keys and models routes
 * share. The queries are playbooks/'s (pb_read.c). */
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
    case PB_DECIDE_BAD_REASON:
        return web_reply_error(r, 400, "bad_request", "%s", r->err);
    case PB_DECIDE_GATE:
        return web_reply_error(r, 409, "preservation_gate", "%s", r->err);
    default:
        return WEB_FAIL;
    }
}

/* The preservation gate's answer, "gate" of the body (absent: none). 0,
 * or -1 answered 400. */
static int gate_of(web_req *r, pb_gate *gate)
{
    const char *g = NULL;
    *gate = PB_GATE_NONE;
    if (r->json && web_json_string(r, "gate", 32, false, &g) < 0)
        return -1;
    if (g && pb_gate_parse(g) < 0) {
        web_reply_error(r, 400, "bad_request", "gate is authority_informed or override");
        return -1;
    }
    if (g)
        *gate = (pb_gate)pb_gate_parse(g);
    return 0;
}

web_result web_h_action_approve(web_req *r)
{
    int64_t id = web_parse_id(r->params.v[0]);
    if (id < 0)
        return web_reply_error(r, 400, "bad_id", "an action id is a positive number");
    /* The body is optional: {"reason": "...", "gate": "..."} */
    static const char *const allowed[] = {"reason", "gate", NULL};
    const char *reason = NULL;
    pb_gate gate;
    if (r->json && (!web_json_only(r, allowed) ||
                    web_json_string(r, "reason", 1000, false, &reason) < 0))
        return WEB_CLIENT_ERROR;
    if (gate_of(r, &gate) < 0)
        return WEB_CLIENT_ERROR;
    char state[32] = "";
    int rc = pb_action_approve(web_server_actions(r->srv), r->db, id, r->auth.actor, reason,
                               gate, state, sizeof state, r->err, sizeof r->err);
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

/* ---- GET /api/v1/actions: the approval queue and every other state ---- */

web_result web_h_actions_list(web_req *r)
{
    static const char *const names[] = {"state", "incident", "cursor", "limit"};
    const char *v[4];
    if (web_query_args(r, names, 4, v) < 0)
        return WEB_CLIENT_ERROR;
    pb_action_filter f = {.state = v[0], .incident = v[1], .cursor = v[2]};
    if ((f.limit = web_query_limit(r, v[3], 50, 500)) < 0)
        return WEB_CLIENT_ERROR;
    bool bad = false;
    cJSON *page = pb_actions_page(r->db, &f, r->cfg, &bad, r->err, sizeof r->err);
    if (!page)
        return bad ? web_reply_error(r, 400, "bad_filter", "%s", r->err) : WEB_FAIL;
    return web_reply_json(r, 200, page);
}

/* ---- a person's containment (keys and models routes) ---- */

web_result web_contain(web_req *r, pb_request *rq)
{
    if (web_json_string(r, "reason", 1000, true, &rq->reason) < 0 ||
        web_json_string(r, "incident_id", 256, false, &rq->incident_id) < 0 ||
        web_json_string(r, "gate_reason", 1000, false, &rq->gate_reason) < 0 ||
        gate_of(r, &rq->gate) < 0)
        return WEB_CLIENT_ERROR;
    int64_t id = 0;
    char state[32] = "";
    int rc = pb_action_request(web_server_actions(r->srv), r->db, rq, r->auth.actor, &id, state,
                               sizeof state, r->err, sizeof r->err);
    if (rc == 1)
        return web_reply_error(r, 400, "bad_request", "%s", r->err);
    if (rc == 2)
        return web_reply_error(r, 404, "not_found", "%s", r->err);
    if (rc == 3) { /* recorded, held pending by the preservation gate */
        r->audited = true;
        return web_reply_error(r, 409, "preservation_gate", "action %lld is recorded and waits "
                               "for approval: %s", (long long)id, r->err);
    }
    if (rc < 0)
        return WEB_FAIL;
    r->audited = true; /* by the playbooks, with the actor, at every step */
    cJSON *a = pb_action_read(r->db, id, r->cfg, r->err, sizeof r->err);
    if (!a)
        return WEB_FAIL;
    return web_reply_json(r, 201, a);
}
