/* /api/v1/audit: the audit chain for auditors and admins, newest first,
 * filtered by actor and kind (the event), keyset pages on seq; and
 * /api/v1/audit/verify, which walks the whole chain recomputing every hash
 * (audit_verify, as `custos audit verify`) and says whether it holds; the
 * verify itself is then appended to the chain (audit_verified). */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "web/web_internal.h"

#define AUDIT_PAGE 100
#define AUDIT_PAGE_MAX 500

static const char *const k_names[] = {"actor", "kind", "before", "limit"};
enum { A_ACTOR, A_KIND, A_BEFORE, A_LIMIT, A_N };

web_result web_h_audit_list(web_req *r)
{
    const char *v[A_N];
    if (web_args(r, k_names, A_N, v, 128) < 0)
        return WEB_CLIENT_ERROR;
    int64_t before = 0;
    if (v[A_BEFORE] && (before = web_parse_id(v[A_BEFORE])) < 0)
        return web_reply_error(r, 400, "bad_query", "before is a positive seq");
    int limit = AUDIT_PAGE;
    if (v[A_LIMIT]) {
        size_t n = strlen(v[A_LIMIT]);
        if (n > 3 || strspn(v[A_LIMIT], "0123456789") != n || atoi(v[A_LIMIT]) < 1 ||
            atoi(v[A_LIMIT]) > AUDIT_PAGE_MAX)
            return web_reply_error(r, 400, "bad_query", "limit is 1 to %d", AUDIT_PAGE_MAX);
        limit = atoi(v[A_LIMIT]);
    }
    cJSON *o = audit_list(r->db, v[A_ACTOR], v[A_KIND], before, limit, r->err, sizeof r->err);
    if (!o)
        return WEB_FAIL;
    return web_reply_json(r, 200, o);
}

web_result web_h_audit_verify(web_req *r)
{
    int64_t rows = 0, bad = 0, seq = 0;
    char why[256] = "", hash[65] = "";
    int rc = audit_verify(r->db, &rows, &bad, why, sizeof why, r->err, sizeof r->err);
    if (rc < 0)
        return WEB_FAIL;
    if (audit_head(r->db, &seq, hash, r->err, sizeof r->err) < 0)
        return WEB_FAIL;
    /* who verified, and what they were told, is in the chain too (after
     * the walk: the row is not among those checked) */
    char detail[400];
    snprintf(detail, sizeof detail,
             "{\"address\":\"%s\",\"ok\":%s,\"rows\":%lld,\"bad_seq\":%lld}", r->addr,
             rc == 0 ? "true" : "false", (long long)rows, (long long)bad);
    if (audit_append_tx(r->db, r->auth.actor, "audit_verified", 0, NULL, detail, r->err,
                        sizeof r->err) < 0)
        return WEB_FAIL;
    r->audited = true;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", rc == 0);
    cJSON_AddNumberToObject(o, "rows", (double)rows);
    cJSON_AddNumberToObject(o, "head_seq", (double)seq);
    cJSON_AddStringToObject(o, "head_hash", hash);
    if (rc == 1) {
        cJSON_AddNumberToObject(o, "bad_seq", (double)bad);
        cJSON_AddStringToObject(o, "why", why);
    }
    return web_reply_json(r, 200, o);
}
