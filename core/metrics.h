/* Process-wide counters, in one place for the console and /metrics.
 * Counters are lock-free atomics; the latency histogram has fixed buckets. */
#ifndef CORE_METRICS_H
#define CORE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    M_CONSUMED,        /* Kafka messages read */
    M_STORED,          /* events committed into interactions */
    M_REJECTED,        /* dead letters committed into rejected_events */
    M_BATCHES,         /* batch transactions committed */
    M_BATCH_RETRIES,   /* batch transactions retried after a failure */
    M_FENCED,          /* batches dropped: another member advanced the offsets */
    M_DB_ERRORS,       /* PostgreSQL failures */
    M_KAFKA_ERRORS,    /* Kafka errors reported to the consumer */
    M_PAUSES,          /* times consumption paused on the in-flight cap */
    M_REBALANCES,      /* partition assignments and revocations */
    M_INFLIGHT_BYTES,  /* gauge: bytes read but not committed */
    M_LOG_SUPPRESSED,  /* log lines dropped by the rate limiter */
    M_OFFSET_GAPS,     /* jumps in a partition's offsets (data gone from the broker) */
    M_AN_EVENTS,       /* events through the live analytics */
    M_AN_LATE,         /* events older than the reorder window: judged late */
    M_AN_ALERTS,       /* detector alerts */
    M_AN_INCIDENTS,    /* incidents opened */
    M_AN_KEYS,         /* gauge: api keys with detector state */
    M_AN_QUEUE_WAITS,  /* times the collector waited on the full analytics queue */
    M_AN_DB_ERRORS,    /* failed writes of alerts and incidents */
    M_AN_PUBLISHED,    /* incident messages delivered to the incidents topic */
    M_AN_DROPPED,      /* alerts or incident updates given up after retries */
    M_COUNT
} core_metric;

/* Latency buckets in microseconds (upper bounds). */
#define CORE_LAT_BUCKETS 24

typedef struct {
    _Atomic uint64_t v[M_COUNT];
    _Atomic uint64_t lat_bucket[CORE_LAT_BUCKETS + 1]; /* last: overflow */
    _Atomic uint64_t lat_count;
    _Atomic uint64_t lat_sum_us;
} core_metrics;

extern core_metrics core_m;

static inline void core_metric_add(core_metric m, uint64_t n)
{
    atomic_fetch_add_explicit(&core_m.v[m], n, memory_order_relaxed);
}
static inline void core_metric_sub(core_metric m, uint64_t n)
{
    atomic_fetch_sub_explicit(&core_m.v[m], n, memory_order_relaxed);
}
/* For a counter kept elsewhere (a single owner's running total) or a gauge. */
static inline void core_metric_set(core_metric m, uint64_t v)
{
    atomic_store_explicit(&core_m.v[m], v, memory_order_relaxed);
}
static inline uint64_t core_metric_get(core_metric m)
{
    return atomic_load_explicit(&core_m.v[m], memory_order_relaxed);
}

/* Records one produce -> commit latency sample. */
void core_metrics_latency(int64_t us);

/* Returns the latency at quantile q (0..1) from the histogram, in us (the
 * bucket's upper bound), or 0 with no samples. */
int64_t core_metrics_latency_quantile(double q);

/* Per-partition consumer lag, set by the collector. */
void core_metrics_set_lag(const char *topic, int32_t partition, int64_t lag);

/* Writes every metric in the Prometheus text format. */
void core_metrics_render(FILE *out);

/* The metric's Prometheus name (custos_...). */
const char *core_metric_name(core_metric m);

#endif
