/* /api/v1/users and /api/v1/tokens: administration (admin role). Users are
 * created and changed with custos user; tokens created with custos token. */
#include <stdio.h>

#include "web/web_internal.h"

web_result web_h_users_list(web_req *r)
{
    cJSON *a = web_user_list(r->db, r->err, sizeof r->err);
    if (!a)
        return WEB_FAIL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "users", a);
    return web_reply_json(r, 200, o);
}

web_result web_h_tokens_list(web_req *r)
{
    cJSON *a = web_token_list(r->db, r->err, sizeof r->err);
    if (!a)
        return WEB_FAIL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "tokens", a);
    return web_reply_json(r, 200, o);
}

web_result web_h_token_revoke(web_req *r)
{
    int64_t id = web_parse_id(r->params.v[0]);
    if (id < 0)
        return web_reply_error(r, 400, "bad_id", "a token id is a positive number");
    char key[24];
    snprintf(key, sizeof key, "#%lld", (long long)id);
    int rc = web_token_revoke(r->db, r->auth.actor, key, r->err, sizeof r->err);
    if (rc < 0)
        return WEB_FAIL;
    if (rc > 0)
        return web_reply_error(r, 404, "not_found", "no live token %lld", (long long)id);
    r->audited = true;
    return web_reply_empty(r, 204);
}
