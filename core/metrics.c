/* The metrics registry and its Prometheus text rendering. */
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Both lists are built by constructors before main, then only read. */
static core_metric *g_metrics;
static core_metrics_family *g_families;

void core_metrics_register(core_metric *m)
{
    m->next = g_metrics;
    g_metrics = m;
}

void core_metrics_register_family(core_metrics_family *f)
{
    f->next = g_families;
    g_families = f;
}

uint64_t core_metrics_value(const char *name)
{
    for (const core_metric *m = g_metrics; m; m = m->next)
        if (strcmp(m->name, name) == 0)
            return core_metric_get(m);
    return 0;
}

struct core_metrics_out {
    FILE *f;
    int failed;
};

void core_metrics_printf(core_metrics_out *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(out->f, fmt, ap) < 0)
        out->failed = 1;
    va_end(ap);
}

void core_metrics_header(core_metrics_out *out, const char *name, const char *type,
                         const char *help)
{
    core_metrics_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One entry of the sorted rendering: a metric or a family. */
typedef struct {
    const char *name;
    const core_metric *m;
    const core_metrics_family *f;
} entry;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

char *core_metrics_render(size_t *len)
{
    size_t n = 0;
    for (const core_metric *m = g_metrics; m; m = m->next)
        n++;
    for (const core_metrics_family *f = g_families; f; f = f->next)
        n++;
    entry *e = calloc(n ? n : 1, sizeof *e);
    if (!e)
        return NULL;
    size_t i = 0;
    for (const core_metric *m = g_metrics; m; m = m->next)
        e[i++] = (entry){m->name, m, NULL};
    for (const core_metrics_family *f = g_families; f; f = f->next)
        e[i++] = (entry){f->name, NULL, f};
    qsort(e, n, sizeof *e, by_name);

    char *buf = NULL;
    size_t blen = 0;
    core_metrics_out out = {open_memstream(&buf, &blen), 0};
    if (!out.f) {
        free(e);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (e[i].m) {
            const core_metric *m = e[i].m;
            core_metrics_header(&out, m->name, m->type == CORE_GAUGE ? "gauge" : "counter",
                                m->help);
            core_metrics_printf(&out, "%s %llu\n", m->name,
                                (unsigned long long)core_metric_get(m));
        } else {
            e[i].f->render(&out);
        }
    }
    free(e);
    if (fclose(out.f) != 0 || out.failed) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = blen;
    return buf;
}

/* 1 ms .. 8 s in roughly sqrt(2) steps, in microseconds. */
static const int64_t g_bounds[CORE_HIST_BUCKETS] = {
    1000,   1500,   2000,   3000,    5000,    7500,    10000,   15000,
    20000,  30000,  50000,  75000,   100000,  150000,  200000,  300000,
    500000, 750000, 1000000, 1500000, 2000000, 3000000, 5000000, 8000000};

void core_histogram_observe_us(core_histogram *h, int64_t us)
{
    int i = 0;
    while (i < CORE_HIST_BUCKETS && us > g_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us > 0 ? (uint64_t)us : 0, memory_order_relaxed);
}

int64_t core_histogram_quantile_us(const core_histogram *hc, double q)
{
    core_histogram *h = (core_histogram *)hc;
    uint64_t n = atomic_load(&h->count);
    if (!n)
        return 0;
    uint64_t want = (uint64_t)(q * (double)n + 0.999999);
    if (want < 1)
        want = 1;
    uint64_t acc = 0;
    for (int i = 0; i <= CORE_HIST_BUCKETS; i++) {
        acc += atomic_load(&h->bucket[i]);
        if (acc >= want)
            return i < CORE_HIST_BUCKETS ? g_bounds[i] : g_bounds[CORE_HIST_BUCKETS - 1] * 2;
    }
    return g_bounds[CORE_HIST_BUCKETS - 1] * 2;
}

void core_histogram_render(core_metrics_out *out, const core_histogram *hc, const char *name,
                           const char *help)
{
    core_histogram *h = (core_histogram *)hc;
    core_metrics_header(out, name, "histogram", help);
    uint64_t acc = 0;
    for (int i = 0; i < CORE_HIST_BUCKETS; i++) {
        acc += atomic_load(&h->bucket[i]);
        core_metrics_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, (double)g_bounds[i] / 1e6,
                            (unsigned long long)acc);
    }
    acc += atomic_load(&h->bucket[CORE_HIST_BUCKETS]);
    core_metrics_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)acc);
    core_metrics_printf(out, "%s_sum %g\n%s_count %llu\n", name,
                        (double)atomic_load(&h->sum_us) / 1e6, name,
                        (unsigned long long)atomic_load(&h->count));
}
