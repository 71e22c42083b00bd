/* The notify effectors: the signed webhook (every action, or a notify to
 * "webhook") and the log line (a notify to "log"). */
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "playbooks/fx_effector.h"

void pb_fx_sign(const char *secret, long long ts, const char *body, size_t len, char out[80])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    char pre[32];
    int pl = snprintf(pre, sizeof pre, "%lld.", ts);
    size_t n = (size_t)pl + len;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        out[0] = '\0';
        return;
    }
    memcpy(buf, pre, (size_t)pl);
    memcpy(buf + pl, body, len);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), buf, n, mac, &ml);
    free(buf);
    memcpy(out, "v1=", 3);
    for (unsigned i = 0; i < ml && i < 32; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", mac[i]);
}

static fx_rc webhook_run(pb_fx *fx, PGconn *db, const pb_action *a, const char *msg, cJSON *res,
                         char *err, size_t errlen)
{
    (void)db;
    long long ts = (long long)time(NULL);
    char sig[80], h1[128], h2[120], h3[64], h4[80];
    pb_fx_sign(fx->cfg->fx_webhook_secret, ts, msg, strlen(msg), sig);
    snprintf(h1, sizeof h1, "X-Custos-Signature: %s", sig);
    snprintf(h2, sizeof h2, "X-Custos-Timestamp: %lld", ts);
    snprintf(h3, sizeof h3, "X-Custos-Action: %" PRId64, a->id);
    snprintf(h4, sizeof h4, "Idempotency-Key: custos-action-%" PRId64, a->id);
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, h1);
    hd = curl_slist_append(hd, h2);
    hd = curl_slist_append(hd, h3);
    hd = curl_slist_append(hd, h4);
    long status = 0;
    fx_rc rc = fx_http_post(fx, "webhook", fx->cfg->fx_webhook_url, msg, hd, &status, err, errlen);
    curl_slist_free_all(hd);
    if (rc == FX_OK)
        cJSON_AddNumberToObject(res, "webhook", (double)status);
    return rc;
}

static const char *webhook_off(const core_config *cfg)
{
    return *cfg->fx_webhook_url ? NULL : "effectors.webhook_url is empty";
}

const fx_effector fx_webhook = {
    .name = "webhook",
    .kinds = FX_KIND(PB_K_COUNT) - 1, /* every kind */
    .target = "webhook",
    .off = webhook_off,
    .run = webhook_run,
};

static fx_rc log_run(pb_fx *fx, PGconn *db, const pb_action *a, const char *msg, cJSON *res,
                     char *err, size_t errlen)
{
    (void)fx;
    (void)db;
    (void)err;
    (void)errlen;
    char qm[1200];
    core_log(CORE_LOG_WARN, "playbook", "notify", "action=%" PRId64 " message=%s", a->id,
             core_log_quote(qm, sizeof qm, msg));
    cJSON_AddStringToObject(res, "log", "ok");
    return FX_OK;
}

/* Always on: a notify to "log" needs no setting. */
static const char *log_off(const core_config *cfg)
{
    (void)cfg;
    return NULL;
}

const fx_effector fx_log = {
    .name = "log",
    .kinds = FX_KIND(PB_K_NOTIFY),
    .target = "log",
    .target_only = true,
    .off = log_off,
    .run = log_run,
};
