/* The control-topic effector: every action as a custos.control.v1 message
 * on effectors.control_topic (keyed by its subject), done once the broker
 * acknowledges it, so that the gateways can read it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "playbooks/fx_effector.h"

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->_private)
        *(rd_kafka_resp_err_t *)m->_private = m->err;
}

/* Builds the producer's configuration (the caller owns it), or NULL with err. */
static rd_kafka_conf_t *control_conf(const pb_fx *fx, char *err, size_t errlen)
{
    const core_config *cfg = fx->cfg;
    char e[512], tmo[32];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(tmo, sizeof tmo, "%" PRId64, cfg->fx_control_timeout_ms);
    struct {
        const char *k, *v;
    } kv[] = {
        {"bootstrap.servers", cfg->kafka_brokers},
        {"client.id", cfg->kafka_client_id},
        {"security.protocol", cfg->kafka_security_protocol},
        {"enable.idempotence", "true"},
        {"linger.ms", "0"},
        {"message.timeout.ms", tmo},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i].k, kv[i].v, e, sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "control topic producer: %s: %s", kv[i].k, e);
            goto error;
        }
    if (strncmp(cfg->kafka_security_protocol, "sasl", 4) == 0) {
        if (rd_kafka_conf_set(conf, "sasl.mechanism", cfg->kafka_sasl_mechanism, e, sizeof e) ||
            rd_kafka_conf_set(conf, "sasl.username", cfg->kafka_sasl_username, e, sizeof e) ||
            rd_kafka_conf_set(conf, "sasl.password", cfg->kafka_sasl_password, e, sizeof e)) {
            snprintf(err, errlen, "control topic producer: SASL: %s", e);
            goto error;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    return conf;
error:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int fx_control_check(const pb_fx *fx, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = control_conf(fx, err, errlen);
    if (!conf)
        return -1;
    rd_kafka_conf_destroy(conf);
    return 0;
}

int fx_control_open(pb_fx *fx, bool warm, char *err, size_t errlen)
{
    if (fx->rk)
        return 0;
    char e[512];
    rd_kafka_conf_t *conf = control_conf(fx, err, errlen);
    if (!conf)
        return -1;
    fx->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!fx->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "control topic producer: %s", e);
        return -1;
    }
    if (!warm)
        return 0;
    /* Connect now (metadata of the control topic) rather than at the first
     * action: a cold producer adds about a second to it. Not fatal: the
     * broker may come up later. */
    rd_kafka_topic_t *t = rd_kafka_topic_new(fx->rk, fx->cfg->fx_control_topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (t && rd_kafka_metadata(fx->rk, 0, t, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return 0;
}

void fx_control_close(pb_fx *fx)
{
    if (!fx->rk)
        return;
    rd_kafka_flush(fx->rk, 2000);
    rd_kafka_destroy(fx->rk);
    fx->rk = NULL;
}

static fx_rc run(pb_fx *fx, PGconn *db, const pb_action *a, const char *msg, cJSON *res,
                 char *err, size_t errlen)
{
    (void)db;
    /* opened at the first action, unless the daemon warmed it up: a command
     * that sends nothing opens no Kafka client */
    if (fx_control_open(fx, false, err, errlen) < 0)
        return FX_PERMANENT;
    rd_kafka_resp_err_t dr = RD_KAFKA_RESP_ERR__IN_PROGRESS;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        fx->rk, RD_KAFKA_V_TOPIC(fx->cfg->fx_control_topic),
        RD_KAFKA_V_KEY(a->subject, strlen(a->subject)),
        RD_KAFKA_V_VALUE((void *)msg, strlen(msg)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(&dr), RD_KAFKA_V_END);
    if (e) {
        snprintf(err, errlen, "control topic: %s", rd_kafka_err2str(e));
        return FX_TRANSIENT;
    }
    /* Wait for the broker's acknowledgement: the action is only done once
     * the gateways can read it. */
    int64_t deadline = core_mono_ms() + fx->cfg->fx_control_timeout_ms + 1000;
    while (dr == RD_KAFKA_RESP_ERR__IN_PROGRESS && core_mono_ms() < deadline)
        rd_kafka_poll(fx->rk, 50);
    if (dr == RD_KAFKA_RESP_ERR__IN_PROGRESS) {
        /* the message still points at dr: purge it before dr goes away */
        rd_kafka_purge(fx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(fx->rk, 0);
        rd_kafka_flush(fx->rk, 1000);
        snprintf(err, errlen, "control topic: no acknowledgement within %" PRId64 " ms",
                 fx->cfg->fx_control_timeout_ms);
        return FX_TRANSIENT;
    }
    if (dr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "control topic: %s", rd_kafka_err2str(dr));
        return FX_TRANSIENT;
    }
    cJSON_AddStringToObject(res, "control", "ok");
    return FX_OK;
}

static const char *off(const core_config *cfg)
{
    return strcmp(cfg->fx_control, "on") == 0 ? NULL : "effectors.control is off";
}

const fx_effector fx_control = {
    .name = "control",
    .kinds = FX_KIND(PB_K_COUNT) - 1, /* every kind */
    .target = "control",
    .off = off,
    .run = run,
};
