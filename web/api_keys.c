/* /api/v1/keys: the API keys custos knows (registry state, last seen,
 * incidents), one key with its status history and last hour of traffic,
 * and a person's containment of a key (revoke, restore, throttle, lift the
 * throttle), each an action through the playbooks' effectors. The queries
 * are playbooks/'s (pb_read.c) and incidents/'s (inc_list). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incidents/incidents.h"
#include "playbooks/playbooks.h"
#include "web/web_internal.h"

#define TTL_MAX_S (30.0 * 24 * 3600)

web_result web_h_keys_list(web_req *r)
{
    static const char *const names[] = {"q", "status", "cursor", "limit"};
    const char *v[4];
    if (web_query_args(r, names, 4, v) < 0)
        return WEB_CLIENT_ERROR;
    pb_key_filter f = {.q = v[0], .status = v[1], .cursor = v[2]};
    if ((f.limit = web_query_limit(r, v[3], 50, 500)) < 0)
        return WEB_CLIENT_ERROR;
    bool bad = false;
    cJSON *page = pb_keys_page(r->db, &f, &bad, r->err, sizeof r->err);
    if (!page)
        return bad ? web_reply_error(r, 400, "bad_filter", "%s", r->err) : WEB_FAIL;
    return web_reply_json(r, 200, page);
}

int web_add_incidents(web_req *r, cJSON *o, const char *api_key, const char *model,
                      const char *version)
{
    inc_filter f = {.api_key_id = api_key, .model = model, .model_version = version, .limit = 50};
    cJSON *page = inc_list(r->db, &f, r->err, sizeof r->err);
    if (!page)
        return -1;
    cJSON_AddItemToObject(o, "incidents",
                          cJSON_DetachItemFromObjectCaseSensitive(page, "incidents"));
    cJSON_AddBoolToObject(o, "incidents_more",
                          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(page, "next_cursor")));
    cJSON_Delete(page);
    return 0;
}

web_result web_h_key_get(web_req *r)
{
    const char *key = r->params.v[0];
    bool found = false;
    cJSON *k = pb_key_read(r->db, key, r->cfg, &found, r->err, sizeof r->err);
    if (!k) {
        if (!found && r->err[0] == '\0')
            return web_reply_error(r, 404, "not_found", "no key %s", key);
        return WEB_FAIL;
    }
    if (web_add_incidents(r, k, key, NULL, NULL) < 0) {
        cJSON_Delete(k);
        return WEB_FAIL;
    }
    return web_reply_json(r, 200, k);
}

/* POST /api/v1/keys/{key}/KIND: kind's members, then the shared part. */
static web_result contain_key(web_req *r, const char *kind)
{
    static const char *const plain[] = {"reason", "incident_id", NULL};
    static const char *const revoke[] = {"reason", "incident_id", "ttl_s", NULL};
    static const char *const throttle[] = {"reason", "incident_id", "rps", "ttl_s", NULL};
    bool is_revoke = strcmp(kind, "revoke_key") == 0, is_throttle = strcmp(kind, "throttle_key") == 0;
    if (!web_json_only(r, is_throttle ? throttle : is_revoke ? revoke : plain))
        return WEB_CLIENT_ERROR;
    pb_request rq = {.kind = kind, .key_id = r->params.v[0]};
    double ttl = 0, rps = 0;
    if (web_json_number(r, "ttl_s", 1, TTL_MAX_S, true, &ttl) < 0)
        return WEB_CLIENT_ERROR;
    if (is_throttle) {
        int got = web_json_number(r, "rps", 0.001, 1e6, false, &rps);
        if (got < 0)
            return WEB_CLIENT_ERROR;
        if (got == 0)
            return web_reply_error(r, 400, "bad_request",
                                   "'rps' (the requests per second the key keeps) is required");
    }
    rq.ttl_s = (int64_t)ttl;
    rq.rps = rps;
    return web_contain(r, &rq);
}

web_result web_h_key_revoke(web_req *r) { return contain_key(r, "revoke_key"); }
web_result web_h_key_restore(web_req *r) { return contain_key(r, "restore_key"); }
web_result web_h_key_throttle(web_req *r) { return contain_key(r, "throttle_key"); }
web_result web_h_key_unthrottle(web_req *r) { return contain_key(r, "unthrottle_key"); }
