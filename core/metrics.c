/* Process-wide counters and the produce -> commit latency histogram. */
#include "core/metrics.h"

#include <pthread.h>
#include <string.h>

core_metrics core_m;

static const struct {
    const char *name, *type, *help;
} g_meta[M_COUNT] = {
    [M_CONSUMED] = {"custos_kafka_messages_consumed_total", "counter", "Kafka messages read"},
    [M_STORED] = {"custos_events_stored_total", "counter", "events committed into interactions"},
    [M_REJECTED] = {"custos_events_rejected_total", "counter", "dead letters committed"},
    [M_BATCHES] = {"custos_batches_committed_total", "counter", "batch transactions committed"},
    [M_BATCH_RETRIES] = {"custos_batch_retries_total", "counter", "batch transactions retried"},
    [M_FENCED] = {"custos_batches_fenced_total", "counter",
                  "batches dropped because another member advanced the partition"},
    [M_DB_ERRORS] = {"custos_postgres_errors_total", "counter", "PostgreSQL failures"},
    [M_KAFKA_ERRORS] = {"custos_kafka_errors_total", "counter", "Kafka errors seen"},
    [M_PAUSES] = {"custos_consumer_pauses_total", "counter", "pauses on the in-flight byte cap"},
    [M_REBALANCES] = {"custos_rebalances_total", "counter", "assignments and revocations"},
    [M_INFLIGHT_BYTES] = {"custos_inflight_bytes", "gauge", "bytes read and not yet committed"},
    [M_LOG_SUPPRESSED] = {"custos_log_suppressed_total", "counter",
                          "log lines dropped by the rate limiter"},
    [M_OFFSET_GAPS] = {"custos_offset_gaps_total", "counter",
                       "jumps in a partition's offsets: messages gone from the broker"},
    [M_AN_EVENTS] = {"custos_analytics_events_total", "counter", "events through the live analytics"},
    [M_AN_LATE] = {"custos_analytics_late_events_total", "counter",
                   "events older than the reorder window"},
    [M_AN_ALERTS] = {"custos_analytics_alerts_total", "counter", "detector alerts"},
    [M_AN_INCIDENTS] = {"custos_analytics_incidents_total", "counter", "incidents opened"},
    [M_AN_KEYS] = {"custos_analytics_tracked_keys", "gauge", "api keys with detector state"},
    [M_AN_QUEUE_WAITS] = {"custos_analytics_queue_waits_total", "counter",
                          "times ingest waited on the full analytics queue"},
    [M_AN_DB_ERRORS] = {"custos_analytics_db_errors_total", "counter",
                        "failed writes of alerts and incidents"},
    [M_AN_PUBLISHED] = {"custos_analytics_published_total", "counter",
                        "incident messages delivered to the incidents topic"},
    [M_AN_DROPPED] = {"custos_analytics_dropped_total", "counter",
                      "alerts or incident updates given up after retries"},
};

/* 1 ms .. ~8 s in powers of sqrt(2)-ish steps, in microseconds. */
static const int64_t g_bounds[CORE_LAT_BUCKETS] = {
    1000,   1500,   2000,   3000,   5000,    7500,    10000,   15000,
    20000,  30000,  50000,  75000,  100000,  150000,  200000,  300000,
    500000, 750000, 1000000, 1500000, 2000000, 3000000, 5000000, 8000000};

const char *core_metric_name(core_metric m) { return g_meta[m].name; }

void core_metrics_latency(int64_t us)
{
    int i = 0;
    while (i < CORE_LAT_BUCKETS && us > g_bounds[i])
        i++;
    atomic_fetch_add_explicit(&core_m.lat_bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&core_m.lat_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&core_m.lat_sum_us, us > 0 ? (uint64_t)us : 0,
                              memory_order_relaxed);
}

int64_t core_metrics_latency_quantile(double q)
{
    uint64_t n = atomic_load(&core_m.lat_count);
    if (!n)
        return 0;
    uint64_t want = (uint64_t)(q * (double)n + 0.999999);
    if (want < 1)
        want = 1;
    uint64_t acc = 0;
    for (int i = 0; i <= CORE_LAT_BUCKETS; i++) {
        acc += atomic_load(&core_m.lat_bucket[i]);
        if (acc >= want)
            return i < CORE_LAT_BUCKETS ? g_bounds[i] : g_bounds[CORE_LAT_BUCKETS - 1] * 2;
    }
    return g_bounds[CORE_LAT_BUCKETS - 1] * 2;
}

#define MAX_LAG 1024
static pthread_mutex_t g_lag_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char topic[128];
    int32_t partition;
    int64_t lag;
} g_lag[MAX_LAG];
static int g_nlag;

void core_metrics_set_lag(const char *topic, int32_t partition, int64_t lag)
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

void core_metrics_render(FILE *out)
{
    for (int m = 0; m < M_COUNT; m++)
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", g_meta[m].name, g_meta[m].help,
                g_meta[m].name, g_meta[m].type, g_meta[m].name,
                (unsigned long long)core_metric_get((core_metric)m));
    fprintf(out, "# HELP custos_ingest_latency_seconds produce (Kafka timestamp) to commit\n"
                 "# TYPE custos_ingest_latency_seconds histogram\n");
    uint64_t acc = 0;
    for (int i = 0; i < CORE_LAT_BUCKETS; i++) {
        acc += atomic_load(&core_m.lat_bucket[i]);
        fprintf(out, "custos_ingest_latency_seconds_bucket{le=\"%g\"} %llu\n",
                (double)g_bounds[i] / 1e6, (unsigned long long)acc);
    }
    acc += atomic_load(&core_m.lat_bucket[CORE_LAT_BUCKETS]);
    fprintf(out, "custos_ingest_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)acc);
    fprintf(out, "custos_ingest_latency_seconds_sum %g\ncustos_ingest_latency_seconds_count %llu\n",
            (double)atomic_load(&core_m.lat_sum_us) / 1e6,
            (unsigned long long)atomic_load(&core_m.lat_count));
    fprintf(out, "# HELP custos_consumer_lag messages behind the partition's high watermark\n"
                 "# TYPE custos_consumer_lag gauge\n");
    pthread_mutex_lock(&g_lag_mu);
    for (int i = 0; i < g_nlag; i++)
        fprintf(out, "custos_consumer_lag{topic=\"%s\",partition=\"%d\"} %lld\n", g_lag[i].topic,
                g_lag[i].partition, (long long)g_lag[i].lag);
    pthread_mutex_unlock(&g_lag_mu);
}
