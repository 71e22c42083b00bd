/* The metrics registry: every module declares its own metrics (name, type,
 * help) where it counts them, and core renders them all in the Prometheus
 * text format into a buffer, for /metrics and the stats log lines.
 *
 *   CORE_METRIC_DEFINE(coll_m_stored, CORE_COUNTER, "custos_events_stored_total",
 *                      "events committed into interactions");
 *   ...
 *   core_metric_add(&coll_m_stored, n);
 *
 * Values are lock-free atomics; a metric is registered before main runs
 * (a constructor), so the registry is never changed while threads count.
 * Metrics with labels or buckets are families: their owner registers a
 * render function (CORE_METRICS_FAMILY_DEFINE) that prints its lines. No
 * family may carry a label per api key (unbounded). */
#ifndef CORE_METRICS_H
#define CORE_METRICS_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CORE_COUNTER, CORE_GAUGE } core_metric_type;

typedef struct core_metric {
    const char *name; /* custos_..., unique */
    const char *help;
    core_metric_type type;
    _Atomic uint64_t v;
    struct core_metric *next; /* the registry's */
} core_metric;

/* The text a family's render function appends to. */
typedef struct core_metrics_out core_metrics_out;

typedef struct core_metrics_family {
    const char *name; /* its metric name (sort key), unique */
    void (*render)(core_metrics_out *out);
    struct core_metrics_family *next;
} core_metrics_family;

void core_metrics_register(core_metric *m);
void core_metrics_register_family(core_metrics_family *f);

#define CORE_METRIC_DEFINE(var, type_, name_, help_)                                        \
    core_metric var = {.name = name_, .help = help_, .type = type_};                        \
    __attribute__((constructor)) static void var##_register(void) { core_metrics_register(&var); }

#define CORE_METRICS_FAMILY_DEFINE(var, name_, fn)                                          \
    static core_metrics_family var = {.name = name_, .render = fn};                         \
    __attribute__((constructor)) static void var##_register(void)                          \
    {                                                                                       \
        core_metrics_register_family(&var);                                                 \
    }

static inline void core_metric_add(core_metric *m, uint64_t n)
{
    atomic_fetch_add_explicit(&m->v, n, memory_order_relaxed);
}
static inline void core_metric_sub(core_metric *m, uint64_t n)
{
    atomic_fetch_sub_explicit(&m->v, n, memory_order_relaxed);
}
/* For a gauge, or a counter whose running total one owner keeps. */
static inline void core_metric_set(core_metric *m, uint64_t v)
{
    atomic_store_explicit(&m->v, v, memory_order_relaxed);
}
static inline uint64_t core_metric_get(const core_metric *m)
{
    return atomic_load_explicit(&((core_metric *)m)->v, memory_order_relaxed);
}

/* The value of the registered metric called name (0 when there is none):
 * for a module that logs another's counter without including its header. */
uint64_t core_metrics_value(const char *name);

/* Appends to a family's text (printf-style); on out of memory the render
 * is marked failed and core_metrics_render returns NULL. */
void core_metrics_printf(core_metrics_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The HELP and TYPE lines of a family's metric. */
void core_metrics_header(core_metrics_out *out, const char *name, const char *type,
                         const char *help);

/* Every registered metric and family, sorted by name, in the Prometheus
 * text exposition format (version 0.0.4). Returns a malloc'd NUL-terminated
 * buffer (its length in *len when len is not NULL), or NULL when out of
 * memory. The caller frees it. */
char *core_metrics_render(size_t *len);

/* A latency histogram with fixed buckets, 1 ms to 8 s. */
#define CORE_HIST_BUCKETS 24
typedef struct {
    _Atomic uint64_t bucket[CORE_HIST_BUCKETS + 1]; /* last: overflow */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
} core_histogram;

void core_histogram_observe_us(core_histogram *h, int64_t us);
/* The latency at quantile q (0..1), in us (the bucket's upper bound), or 0
 * with no samples. */
int64_t core_histogram_quantile_us(const core_histogram *h, double q);
/* Renders h as the Prometheus histogram name (seconds), with its header. */
void core_histogram_render(core_metrics_out *out, const core_histogram *h, const char *name,
                           const char *help);

#endif
