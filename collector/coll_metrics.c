/* The collector's metrics: counters, the produce -> commit latency
 * histogram and the per-partition lag gauges. */
#include "collector/coll_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

CORE_METRIC_DEFINE(coll_m_consumed, CORE_COUNTER, "custos_kafka_messages_consumed_total",
                   "Kafka messages read")
CORE_METRIC_DEFINE(coll_m_stored, CORE_COUNTER, "custos_events_stored_total",
                   "events committed into interactions")
CORE_METRIC_DEFINE(coll_m_rejected, CORE_COUNTER, "custos_events_rejected_total",
                   "dead letters committed")
CORE_METRIC_DEFINE(coll_m_batches, CORE_COUNTER, "custos_batches_committed_total",
                   "batch transactions committed")
CORE_METRIC_DEFINE(coll_m_batch_retries, CORE_COUNTER, "custos_batch_retries_total",
                   "batch transactions retried")
CORE_METRIC_DEFINE(coll_m_fenced, CORE_COUNTER, "custos_batches_fenced_total",
                   "batches dropped because another member advanced the partition")
CORE_METRIC_DEFINE(coll_m_db_errors, CORE_COUNTER, "custos_postgres_errors_total",
                   "PostgreSQL failures")
CORE_METRIC_DEFINE(coll_m_kafka_errors, CORE_COUNTER, "custos_kafka_errors_total",
                   "Kafka errors seen")
CORE_METRIC_DEFINE(coll_m_pauses, CORE_COUNTER, "custos_consumer_pauses_total",
                   "pauses on the in-flight byte cap (held past collector.inflight_hold_ms)")
CORE_METRIC_DEFINE(coll_m_holds, CORE_COUNTER, "custos_consumer_holds_total",
                   "times the consumer stopped taking messages at the in-flight byte cap")
CORE_METRIC_DEFINE(coll_m_rebalances, CORE_COUNTER, "custos_rebalances_total",
                   "assignments and revocations")
CORE_METRIC_DEFINE(coll_m_inflight_bytes, CORE_GAUGE, "custos_inflight_bytes",
                   "bytes read and not yet committed")
CORE_METRIC_DEFINE(coll_m_log_suppressed, CORE_COUNTER, "custos_log_suppressed_total",
                   "log lines dropped by the rate limiter")
CORE_METRIC_DEFINE(coll_m_offset_gaps, CORE_COUNTER, "custos_offset_gaps_total",
                   "jumps in a partition's offsets: messages gone from the broker")
CORE_METRIC_DEFINE(coll_m_retention_skips, CORE_COUNTER, "custos_retention_skips_total",
                   "partitions moved ahead by the retention watchdog (stuck behind the log's start)")
CORE_METRIC_DEFINE(coll_m_gap_messages, CORE_COUNTER, "custos_ingest_gap_messages_total",
                   "messages recorded in ingest_gaps: gone from the broker before they were read")

/* For /readyz (web/ reads them by name): whether this process consumes, and
 * how many partitions it holds. */
CORE_METRIC_DEFINE(coll_m_running, CORE_GAUGE, "custos_collector_running",
                   "1 while this process runs the collector")
CORE_METRIC_DEFINE(coll_m_assigned, CORE_GAUGE, "custos_consumer_partitions_assigned",
                   "Kafka partitions assigned to this process's consumer now")

core_histogram coll_latency;
core_hdr coll_latency_hdr;

static void render_latency(core_metrics_out *out)
{
    core_histogram_render(out, &coll_latency, "custos_ingest_latency_seconds",
                          "produce (Kafka timestamp) to commit");
}
CORE_METRICS_FAMILY_DEFINE(g_latency_family, "custos_ingest_latency_seconds", render_latency)

#define MAX_LAG 1024
static pthread_mutex_t g_lag_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char topic[128];
    int32_t partition;
    int64_t lag;
} g_lag[MAX_LAG];
static int g_nlag;

void coll_metrics_set_lag(const char *topic, int32_t partition, int64_t lag)
{
    pthread_mutex_lock(&g_lag_mu);
    int i;
    for (i = 0; i < g_nlag; i++)
        if (g_lag[i].partition == partition && strcmp(g_lag[i].topic, topic) == 0)
            break;
    if (i == g_nlag && g_nlag < MAX_LAG) {
        snprintf(g_lag[i].topic, sizeof g_lag[i].topic, "%s", topic);
        g_lag[i].partition = partition;
        g_nlag++;
    }
    if (i < MAX_LAG)
        g_lag[i].lag = lag;
    pthread_mutex_unlock(&g_lag_mu);
}

static void render_lag(core_metrics_out *out)
{
    core_metrics_header(out, "custos_consumer_lag", "gauge",
                        "messages behind the partition's high watermark");
    pthread_mutex_lock(&g_lag_mu);
    for (int i = 0; i < g_nlag; i++)
        core_metrics_printf(out, "custos_consumer_lag{topic=\"%s\",partition=\"%d\"} %lld\n",
                            g_lag[i].topic, g_lag[i].partition, (long long)g_lag[i].lag);
    pthread_mutex_unlock(&g_lag_mu);
}
CORE_METRICS_FAMILY_DEFINE(g_lag_family, "custos_consumer_lag", render_lag)

int coll_lag_total(int64_t *total)
{
    pthread_mutex_lock(&g_lag_mu);
    int64_t sum = 0;
    for (int i = 0; i < g_nlag; i++)
        sum += g_lag[i].lag > 0 ? g_lag[i].lag : 0;
    int n = g_nlag;
    pthread_mutex_unlock(&g_lag_mu);
    *total = sum;
    return n;
}
