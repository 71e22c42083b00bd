/* The write path's per-stage time counters (coll_stages.h). */
#include "collector/coll_stages.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

static const char *const g_names[COLL_ST_N] = {
    "decode", "build", "fence", "begin", "copy_send", "copy_exec", "dead_letters", "offsets",
    "commit", "redact",
};

static _Atomic uint64_t g_us[COLL_ST_N];

CORE_METRIC_DEFINE(coll_m_transactions, CORE_COUNTER, "custos_writer_transactions_total",
                   "writer transactions committed (each stores a group of batches)")

void coll_stage_add(coll_stage st, int64_t us)
{
    if (st >= 0 && st < COLL_ST_N && us > 0)
        atomic_fetch_add_explicit(&g_us[st], (uint64_t)us, memory_order_relaxed);
}

uint64_t coll_stage_us(coll_stage st)
{
    return st >= 0 && st < COLL_ST_N ? atomic_load_explicit(&g_us[st], memory_order_relaxed) : 0;
}

void coll_stages_format(char *buf, size_t len)
{
    size_t off = 0;
    if (len)
        buf[0] = '\0';
    for (int i = 0; i < COLL_ST_N && off < len; i++) {
        int n = snprintf(buf + off, len - off, "%s%s:%" PRIu64, i ? "," : "", g_names[i],
                         coll_stage_us((coll_stage)i) / 1000);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

static void render_stages(core_metrics_out *out)
{
    core_metrics_header(out, "custos_ingest_stage_seconds_total", "counter",
                        "time the write path spent in each stage of a batch");
    for (int i = 0; i < COLL_ST_N; i++)
        core_metrics_printf(out, "custos_ingest_stage_seconds_total{stage=\"%s\"} %.6f\n",
                            g_names[i], (double)coll_stage_us((coll_stage)i) / 1e6);
}
CORE_METRICS_FAMILY_DEFINE(g_stage_family, "custos_ingest_stage_seconds_total", render_stages)
