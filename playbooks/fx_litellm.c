/* The LiteLLM proxy preset: revoke_key and restore_key block and unblock
 * the key on the proxy's admin API (/key/block, /key/unblock). The admin
 * token is a secret: never logged, wiped after use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "playbooks/fx_effector.h"

static fx_rc run(pb_fx *fx, PGconn *db, const pb_action *a, const char *msg, cJSON *res,
                 char *err, size_t errlen)
{
    (void)db;
    (void)msg;
    const char *path = a->kind == PB_K_REVOKE_KEY ? "/key/block" : "/key/unblock";
    const char *base = fx->cfg->fx_litellm_url;
    char url[1024];
    size_t bl = strlen(base);
    snprintf(url, sizeof url, "%.*s%s", (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base,
             path);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "key", a->subject);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    char *auth = NULL;
    if (!body || asprintf(&auth, "Authorization: Bearer %s", fx->litellm_token) < 0) {
        free(body);
        snprintf(err, errlen, "litellm: out of memory");
        return FX_TRANSIENT;
    }
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, auth);
    long status = 0;
    fx_rc rc = fx_http_post(fx, "litellm", url, body, hd, &status, err, errlen);
    curl_slist_free_all(hd);
    /* the token is a secret: wipe it from the heap copy */
    explicit_bzero(auth, strlen(auth));
    free(auth);
    free(body);
    if (rc == FX_OK)
        cJSON_AddStringToObject(res, "litellm", path);
    return rc;
}

static const char *off(const core_config *cfg)
{
    return *cfg->fx_litellm_url ? NULL : "effectors.litellm_url is empty";
}

const fx_effector fx_litellm = {
    .name = "litellm",
    .kinds = FX_KIND(PB_K_REVOKE_KEY) | FX_KIND(PB_K_RESTORE_KEY),
    .off = off,
    .run = run,
};
