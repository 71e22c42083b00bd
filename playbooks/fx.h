/* Effectors: what makes an action happen. The PostgreSQL registry
 * (api_keys, model_deployments, incident_updates), the Kafka control topic,
 * a signed webhook, and the LiteLLM proxy preset. Several at once, each
 * retried with back-off; the first that gives up fails the action. */
#ifndef PB_FX_H
#define PB_FX_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "playbooks/store.h"

typedef struct pb_fx pb_fx;

/* Makes the effectors that cfg enables (a Kafka producer for the control
 * topic, a curl handle for the webhooks). cfg is borrowed and must outlive
 * the result. Returns NULL with err on a bad setting. The caller owns the
 * result: pb_fx_free(). */
pb_fx *pb_fx_new(const core_config *cfg, char *err, size_t errlen);
void pb_fx_free(pb_fx *fx);

/* Applies action a with every enabled effector, retrying each as
 * configured. db is the connection for the registry. On success returns 0
 * and *result (owned by the caller) says what each effector did. On failure
 * returns -1 with err naming the effector. */
int pb_fx_apply(pb_fx *fx, PGconn *db, const pb_action *a, cJSON **result, char *err,
                size_t errlen);

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
