/* librdkafka configuration and logging glue. */
#include "collector/collector.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "collector/coll_metrics.h"

static core_log_limit g_rl;

/* librdkafka's own log lines go through core_log, rate-limited for errors. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    core_log_level l = level <= 3 ? CORE_LOG_ERROR : level <= 5 ? CORE_LOG_WARN
                       : level == 6 ? CORE_LOG_INFO : CORE_LOG_DEBUG;
    if (l < core_log_get_level())
        return;
    if (l >= CORE_LOG_WARN) {
        int64_t sup = core_log_limit_check(&g_rl, 10000);
        if (sup < 0) {
            core_metric_add(&coll_m_log_suppressed, 1);
            return;
        }
        char q[512];
        core_log(l, "kafka", "librdkafka", "facility=%s detail=%s suppressed=%" PRId64, fac,
                 core_log_quote(q, sizeof q, buf), sup);
        return;
    }
    char q[512];
    core_log(l, "kafka", "librdkafka", "facility=%s detail=%s", fac, core_log_quote(q, sizeof q, buf));
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    core_metric_add(&coll_m_kafka_errors, 1);
    int64_t sup = core_log_limit_check(&g_rl, 10000);
    if (sup < 0) {
        core_metric_add(&coll_m_log_suppressed, 1);
        return;
    }
    char q[512];
    core_log(err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ? CORE_LOG_ERROR : CORE_LOG_WARN, "kafka",
             "kafka error", "code=%s detail=%s suppressed=%" PRId64,
             rd_kafka_err2name((rd_kafka_resp_err_t)err), core_log_quote(q, sizeof q, reason), sup);
}

int coll_kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                   size_t errlen)
{
    char why[512];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "%s: %s", name, why);
        return -1;
    }
    return 0;
}

void coll_kafka_set_logging(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
}

rd_kafka_conf_t *coll_kafka_conf(const core_config *cfg, bool consumer, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char num[32];
    if (!conf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (coll_kafka_set(conf, "bootstrap.servers", cfg->kafka_brokers, err, errlen) ||
        coll_kafka_set(conf, "client.id", cfg->kafka_client_id, err, errlen) ||
        coll_kafka_set(conf, "security.protocol", cfg->kafka_security_protocol, err, errlen) ||
        coll_kafka_set(conf, "log.connection.close", "false", err, errlen))
        goto fail;
    if (cfg->kafka_sasl_mechanism[0] &&
        (coll_kafka_set(conf, "sasl.mechanism", cfg->kafka_sasl_mechanism, err, errlen) ||
         coll_kafka_set(conf, "sasl.username", cfg->kafka_sasl_username, err, errlen) ||
         coll_kafka_set(conf, "sasl.password", cfg->kafka_sasl_password, err, errlen)))
        goto fail;
    if (consumer) {
        /* The bytes librdkafka may prefetch count toward memory, so bound
         * them by the collector's own in-flight cap. */
        int64_t kb = cfg->coll_max_inflight_bytes / 1024 / 4;
        if (kb < 4096)
            kb = 4096;
        snprintf(num, sizeof num, "%" PRId64, kb);
        if (coll_kafka_set(conf, "group.id", cfg->kafka_group, err, errlen) ||
            coll_kafka_set(conf, "enable.auto.commit", "false", err, errlen) ||
            coll_kafka_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
            coll_kafka_set(conf, "enable.partition.eof", "false", err, errlen) ||
            coll_kafka_set(conf, "auto.offset.reset", cfg->kafka_auto_offset_reset, err, errlen) ||
            coll_kafka_set(conf, "partition.assignment.strategy", "range,roundrobin", err,
                           errlen) ||
            coll_kafka_set(conf, "queued.max.messages.kbytes", num, err, errlen))
            goto fail;
        snprintf(num, sizeof num, "%" PRId64, cfg->kafka_fetch_wait_max_ms);
        if (coll_kafka_set(conf, "fetch.wait.max.ms", num, err, errlen))
            goto fail;
        /* After an offset reset (retention deleted what the partition was
         * to read next) librdkafka backs the partition off by this much
         * before it fetches at the reset offset; longer than the broker
         * keeps the partition, and the reset offset is gone again: the
         * partition stalls for as long as traffic keeps coming
         * (tests/integration/collector/live_gap.sh). */
        snprintf(num, sizeof num, "%" PRId64, cfg->kafka_fetch_error_backoff_ms);
        if (coll_kafka_set(conf, "fetch.error.backoff.ms", num, err, errlen))
            goto fail;
        snprintf(num, sizeof num, "%" PRId64, cfg->kafka_session_timeout_ms);
        if (coll_kafka_set(conf, "session.timeout.ms", num, err, errlen))
            goto fail;
        snprintf(num, sizeof num, "%" PRId64, cfg->kafka_session_timeout_ms / 3);
        if (coll_kafka_set(conf, "heartbeat.interval.ms", num, err, errlen))
            goto fail;
        /* A message over the event limit must still be fetched, to be
         * recorded as a dead letter rather than block the partition. */
        int64_t maxmsg = cfg->coll_max_message_bytes * 4 + (1 << 20);
        if (maxmsg < 8 << 20)
            maxmsg = 8 << 20;
        snprintf(num, sizeof num, "%" PRId64, maxmsg);
        if (coll_kafka_set(conf, "max.partition.fetch.bytes", num, err, errlen) ||
            coll_kafka_set(conf, "fetch.max.bytes", num, err, errlen))
            goto fail;
        snprintf(num, sizeof num, "%" PRId64, maxmsg + (1 << 20));
        if (coll_kafka_set(conf, "receive.message.max.bytes", num, err, errlen))
            goto fail;
    }
    coll_kafka_set_logging(conf);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_topic_partition_list_t *coll_kafka_topic_list(const char *topics)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    char *dup = strdup(topics);
    if (!l || !dup) {
        free(dup);
        if (l)
            rd_kafka_topic_partition_list_destroy(l);
        return NULL;
    }
    char *save = NULL;
    for (char *t = strtok_r(dup, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        char *eq = strchr(t, '='); /* "topic=format": the format is the decoders' */
        if (eq)
            *eq = '\0';
        rd_kafka_topic_partition_list_add(l, t, RD_KAFKA_PARTITION_UA);
    }
    free(dup);
    return l;
}
