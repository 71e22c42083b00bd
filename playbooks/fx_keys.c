/* The registry effector for API keys (api_keys): revoke, restore,
 * throttle and unthrottle. Each statement is idempotent, so a retry after
 * a lost reply does no harm. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "playbooks/fx_effector.h"

static fx_rc run(pb_fx *fx, PGconn *db, const pb_action *a, const char *msg, cJSON *res,
                 char *err, size_t errlen)
{
    (void)fx;
    (void)msg;
    char ids[32], num[64], ttl[32];
    snprintf(ids, sizeof ids, "%" PRId64, a->id);
    const char *key = fx_pstr(a->params, "key_id"), *reason = fx_pstr(a->params, "reason");
    fx_rc rc = FX_PERMANENT;
    switch (a->kind) {
    case PB_K_REVOKE_KEY: {
        const char *v[] = {key, reason, ids};
        rc = fx_db_exec(db,
                        "INSERT INTO api_keys (key_id, status, revoked_at, reason, action_id) "
                        "VALUES ($1, 'revoked', now(), $2, $3::bigint) ON CONFLICT (key_id) DO "
                        "UPDATE SET status = 'revoked', revoked_at = now(), reason = $2, "
                        "action_id = $3::bigint, updated_at = now()",
                        3, v, "revoking the key", err, errlen);
        break;
    }
    case PB_K_RESTORE_KEY: {
        const char *v[] = {key, reason, ids};
        rc = fx_db_exec(db,
                        "INSERT INTO api_keys (key_id, status, restored_at, reason, action_id) "
                        "VALUES ($1, 'active', now(), $2, $3::bigint) ON CONFLICT (key_id) DO "
                        "UPDATE SET status = 'active', restored_at = now(), reason = $2, "
                        "action_id = $3::bigint, updated_at = now()",
                        3, v, "restoring the key", err, errlen);
        break;
    }
    case PB_K_THROTTLE_KEY: {
        snprintf(num, sizeof num, "%.17g", fx_pnum(a->params, "rps"));
        snprintf(ttl, sizeof ttl, "%" PRId64, a->ttl_s);
        const char *v[] = {key, num, a->ttl_s > 0 ? ttl : NULL, ids};
        rc = fx_db_exec(db,
                        "INSERT INTO api_keys (key_id, throttle_rps, throttled_until, action_id) "
                        "VALUES ($1, $2::double precision, now() + $3::bigint * interval "
                        "'1 second', $4::bigint) ON CONFLICT (key_id) DO UPDATE SET throttle_rps "
                        "= $2::double precision, throttled_until = now() + $3::bigint * interval "
                        "'1 second', action_id = $4::bigint, updated_at = now()",
                        4, v, "throttling the key", err, errlen);
        break;
    }
    case PB_K_UNTHROTTLE_KEY: {
        const char *v[] = {key, ids};
        rc = fx_db_exec(db,
                        "INSERT INTO api_keys (key_id, action_id) VALUES ($1, $2::bigint) ON "
                        "CONFLICT (key_id) DO UPDATE SET throttle_rps = NULL, throttled_until = "
                        "NULL, action_id = $2::bigint, updated_at = now()",
                        2, v, "lifting the throttle", err, errlen);
        break;
    }
    default:
        /* the table gives this row the key kinds only */
        snprintf(err, errlen, "registry: %s is not a key action", pb_kinds[a->kind]);
        return FX_PERMANENT;
    }
    if (rc == FX_OK)
        cJSON_AddStringToObject(res, "registry", "ok");
    return rc;
}

const fx_effector fx_keys = {
    .name = "registry",
    .kinds = FX_KIND(PB_K_REVOKE_KEY) | FX_KIND(PB_K_RESTORE_KEY) | FX_KIND(PB_K_THROTTLE_KEY) |
             FX_KIND(PB_K_UNTHROTTLE_KEY),
    .off = fx_registry_off,
    .run = run,
};
