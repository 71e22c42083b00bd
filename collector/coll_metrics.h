/* The collector's metrics (core registry), private to collector/. */
#ifndef COLL_METRICS_H
#define COLL_METRICS_H

#include <stdint.h>

#include "core/hdr.h"
#include "core/metrics.h"

extern core_metric coll_m_consumed, coll_m_stored, coll_m_rejected, coll_m_batches,
    coll_m_batch_retries, coll_m_fenced, coll_m_db_errors, coll_m_kafka_errors, coll_m_pauses,
    coll_m_holds, coll_m_rebalances, coll_m_inflight_bytes, coll_m_log_suppressed,
    coll_m_offset_gaps, coll_m_running, coll_m_assigned, coll_m_gap_messages, coll_m_retention_skips;

/* produce (Kafka timestamp) -> commit latency */
extern core_histogram coll_latency;
/* the same, log-linear (exact to 1/64), for the stats line's percentiles */
extern core_hdr coll_latency_hdr;

/* Per-partition consumer lag (messages behind the high watermark). */
void coll_metrics_set_lag(const char *topic, int32_t partition, int64_t lag);

#endif
