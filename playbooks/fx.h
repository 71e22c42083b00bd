/* Effectors: what makes an action happen. The PostgreSQL registry
 * (api_keys: fx_keys.c, model_deployments: fx_registry.c, the incident:
 * fx_incident.c), the Kafka control topic (fx_control.c), a signed webhook
 * and the log (fx_notify.c), and the LiteLLM proxy preset (fx_litellm.c),
 * listed in fx.c's table. Several at once, each
 * retried with back-off within effectors.max_wait_ms, each whatever the
 * others did; one that gives up fails the action, and every outcome
 * (done, failed, skipped) is recorded. */
#ifndef PB_FX_H
#define PB_FX_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "playbooks/pb_store.h"

typedef struct pb_fx pb_fx;

/* Makes the effectors that cfg enables (a Kafka producer for the control
 * topic, a curl handle for the webhooks). cfg is borrowed and must outlive
 * the result. Returns NULL with err on a bad setting. The caller owns the
 * result: pb_fx_free(). */
pb_fx *pb_fx_new(const core_config *cfg, char *err, size_t errlen);
void pb_fx_free(pb_fx *fx);
/* Opens the Kafka producer of the control topic now, connected (the daemon
 * does, so that the first action is not slowed by a cold producer); other
 * commands leave it to the first action that needs it. 0, or -1 with err. */
int pb_fx_connect(pb_fx *fx, char *err, size_t errlen);

/* Applies action a with every enabled effector, each retried as
 * configured within effectors.max_wait_ms, each whatever the others did.
 * db is the connection for the registry. *result (owned by the caller,
 * NULL only when out of memory) holds every effector's outcome under
 * "effectors": {"registry": {"state": "done"|"failed"|"skipped", "error"
 * or "why", "attempts"}, ...}. Returns 0 when every effector used is done;
 * 1 when no effector is configured for it (skipped, err says so); -1 when
 * one failed (err names what failed; the others' effects are in
 * *result). */
int pb_fx_apply(pb_fx *fx, PGconn *db, const pb_action *a, cJSON **result, char *err,
                size_t errlen);

/* Logs a warning for every action kind (and notify target) that no
 * effector carries out under cfg: such actions are recorded skipped.
 * Called once at start-up. */
void pb_fx_warn_unconfigured(const core_config *cfg);

/* From now on each effector gets one attempt, no retries (the daemon is
 * stopping and must not hang on a receiver that is down). Thread-safe. */
void pb_fx_hurry(pb_fx *fx);

/* Names the effectors that cfg would use for an action of this kind (and
 * notify target), comma-separated, into buf: what a dry run reports. */
void pb_fx_targets(const core_config *cfg, pb_kind kind, const char *notify_target, char *buf,
                   size_t n);

/* The JSON message that the control topic and the webhook carry for a
 * (docs/playbooks.md). The caller frees it. */
char *pb_fx_message(const pb_action *a);

/* The webhook signature header value for body sent at unix time ts:
 * "v1=" + hex(HMAC-SHA256(secret, ts + "." + body)). */
void pb_fx_sign(const char *secret, long long ts, const char *body, size_t len, char out[80]);

#endif
