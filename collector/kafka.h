/* librdkafka configuration shared by the consumer, the producer and tools. */
#ifndef COLL_KAFKA_H
#define COLL_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

/* Builds a conf from cfg: brokers, client id, security, logging through
 * core_log; with consumer=true also the group and the exactly-once settings
 * (no auto commit, no auto offset store). Every rd_kafka_conf_set is
 * checked: NULL with err names the failing property. The caller owns the
 * conf until rd_kafka_new() takes it. */
rd_kafka_conf_t *coll_kafka_conf(const core_config *cfg, bool consumer, char *err, size_t errlen);

/* Routes librdkafka's own log lines and errors through core_log (logfmt,
 * rate-limited errors), as coll_kafka_conf does. For handles built from a
 * bare conf (the embedded broker's). */
void coll_kafka_set_logging(rd_kafka_conf_t *conf);

/* Sets one property, writing "name=value: reason" into err on failure. */
int coll_kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                   size_t errlen);

/* Splits a comma-separated topic list into a partition list (partition
 * RD_KAFKA_PARTITION_UA) for subscribe; NULL when out of memory. */
rd_kafka_topic_partition_list_t *coll_kafka_topic_list(const char *topics);

#endif
