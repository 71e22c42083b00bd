/* The playbooks' counters in the core metrics registry. Every failing run
 * is counted here by class even when its log line is rate-limited. */
#include <stdatomic.h>
#include <stdio.h>

#include "core/metrics.h"
#include "playbooks/pb.h"
#include "playbooks/playbooks.h"

#define PB_METRIC(var, name, help) static CORE_METRIC_DEFINE(var, CORE_COUNTER, name, help)
PB_METRIC(m_incidents, "custos_playbook_incidents_total", "incident deliveries handled")
PB_METRIC(m_actions, "custos_playbook_actions_total", "action calls recorded")
PB_METRIC(m_done, "custos_playbook_actions_done_total", "actions executed to done")
PB_METRIC(m_failed, "custos_playbook_actions_failed_total", "actions that failed")
PB_METRIC(m_escalations, "custos_playbook_escalations_total", "failed actions escalated")
PB_METRIC(m_expired, "custos_playbook_approvals_expired_total", "approvals that expired")
PB_METRIC(m_reverted, "custos_playbook_reverts_total", "ttl auto-reverts started")
PB_METRIC(m_dropped, "custos_playbook_incidents_dropped_total",
          "incidents dropped (queue full, stopping without a database, or no worker left)")
PB_METRIC(m_skipped, "custos_playbook_actions_skipped_total",
          "actions no effector carried out (none configured for them)")
PB_METRIC(m_escalation_failed, "custos_playbook_escalations_failed_total",
          "escalations that reached no one: an action of theirs failed or was skipped, or no "
          "playbook took them")
PB_METRIC(m_abandoned, "custos_playbook_runs_abandoned_total",
          "runs that overstayed their deadline by the margin: their worker was abandoned and "
          "replaced")

static core_metric *const g_m[PB_M_COUNT] = {
    [PB_M_INCIDENTS] = &m_incidents,   [PB_M_ACTIONS] = &m_actions,
    [PB_M_DONE] = &m_done,             [PB_M_FAILED] = &m_failed,
    [PB_M_ESCALATIONS] = &m_escalations, [PB_M_EXPIRED] = &m_expired,
    [PB_M_REVERTED] = &m_reverted,     [PB_M_DROPPED] = &m_dropped,
    [PB_M_SKIPPED] = &m_skipped,       [PB_M_ESCALATION_FAILED] = &m_escalation_failed,
    [PB_M_ABANDONED] = &m_abandoned,
};

static _Atomic uint64_t g_runs[PB_SB_STATUS_COUNT];

void pb_metric_add(pb_metric m, uint64_t n)
{
    if (m < PB_M_COUNT)
        core_metric_add(g_m[m], n);
}

void pb_metric_run(pb_sb_status st)
{
    if (st < PB_SB_STATUS_COUNT)
        atomic_fetch_add_explicit(&g_runs[st], 1, memory_order_relaxed);
}

static void render_runs(core_metrics_out *out)
{
    core_metrics_header(out, "custos_playbook_runs_total", "counter", "playbook runs by outcome");
    for (int i = 0; i < PB_SB_STATUS_COUNT; i++)
        core_metrics_printf(out, "custos_playbook_runs_total{class=\"%s\"} %llu\n",
                            pb_sb_status_name((pb_sb_status)i),
                            (unsigned long long)atomic_load_explicit(&g_runs[i],
                                                                     memory_order_relaxed));
}
CORE_METRICS_FAMILY_DEFINE(g_runs_family, "custos_playbook_runs_total", render_runs)
