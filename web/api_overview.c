/* GET /api/v1/overview: the console's overview. Ingest figures come from
 * this process's metrics registry (core/metrics.h) and so exist only when
 * the collector runs in the same process (`custos run`); under `custos
 * web` alone they are null with the reason. The incident figures are
 * incidents/'s (inc_overview), the pending approvals the playbooks'. */
#include <pthread.h>
#include <stdint.h>

#include "collector/collector.h"
#include "core/log.h"
#include "core/metrics.h"
#include "incidents/incidents.h"
#include "playbooks/playbooks.h"
#include "web/web_internal.h"

/* events/s: the stored-events counter sampled at each overview request;
 * the rate is taken against the oldest sample of the last minute that is
 * at least 2 s old (the console asks every few seconds). */
#define SAMPLES 32
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int64_t ms;
    uint64_t v;
} g_s[SAMPLES];
static int g_ns, g_at;

static double events_rate(int64_t now, uint64_t v, bool *known)
{
    pthread_mutex_lock(&g_mu);
    int best = -1;
    for (int i = 0; i < g_ns; i++) {
        int64_t age = now - g_s[i].ms;
        if (age >= 2000 && age <= 60000 && (best < 0 || g_s[i].ms < g_s[best].ms))
            best = i;
    }
    double rate = 0;
    *known = best >= 0 && v >= g_s[best].v;
    if (*known)
        rate = (double)(v - g_s[best].v) * 1000.0 / (double)(now - g_s[best].ms);
    /* at most one sample a second */
    int last = (g_at + SAMPLES - 1) % SAMPLES;
    if (g_ns == 0 || now - g_s[last].ms >= 1000) {
        g_s[g_at].ms = now;
        g_s[g_at].v = v;
        g_at = (g_at + 1) % SAMPLES;
        if (g_ns < SAMPLES)
            g_ns++;
    }
    pthread_mutex_unlock(&g_mu);
    return rate;
}

web_result web_h_overview(web_req *r)
{
    cJSON *o = inc_overview(r->db, r->err, sizeof r->err);
    if (!o)
        return WEB_FAIL;
    long long pending = pb_pending_count(r->db, r->err, sizeof r->err);
    if (pending < 0) {
        cJSON_Delete(o);
        return WEB_FAIL;
    }
    cJSON_AddNumberToObject(o, "pending_approvals", (double)pending);

    cJSON *in = cJSON_AddObjectToObject(o, "ingest");
    int64_t lag = 0;
    int parts = coll_lag_total(&lag);
    if (parts == 0) {
        cJSON_AddNullToObject(in, "events_per_s");
        cJSON_AddNullToObject(in, "consumer_lag");
        cJSON_AddStringToObject(in, "why",
                                "not available: no collector consumes in this process "
                                "(custos web alone, or no partition assigned yet)");
    } else {
        bool known = false;
        double rate = events_rate(core_mono_ms(), core_metrics_value("custos_events_stored_total"),
                                  &known);
        if (known)
            cJSON_AddNumberToObject(in, "events_per_s", rate);
        else
            cJSON_AddNullToObject(in, "events_per_s");
        cJSON_AddNumberToObject(in, "consumer_lag", (double)lag);
        cJSON_AddNumberToObject(in, "partitions", parts);
        if (!known)
            cJSON_AddStringToObject(in, "why", "measuring: ask again in a few seconds");
    }
    return web_reply_json(r, 200, o);
}
