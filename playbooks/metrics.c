/* The playbooks' counters, process-wide and lock-free, rendered for
 * Prometheus. Every failing run is counted here by class even when its log
 * line is rate-limited. */
#include <stdatomic.h>
#include <stdio.h>

#include "playbooks/pb.h"
#include "playbooks/playbooks.h"

static _Atomic uint64_t g_runs[PB_SB_STATUS_COUNT];
static _Atomic uint64_t g_m[PB_M_COUNT];

void pb_metric_add(pb_metric m, uint64_t n)
{
    atomic_fetch_add_explicit(&g_m[m], n, memory_order_relaxed);
}

void pb_metric_run(pb_sb_status st)
{
    if (st < PB_SB_STATUS_COUNT)
        atomic_fetch_add_explicit(&g_runs[st], 1, memory_order_relaxed);
}

void pb_metrics_render(FILE *out)
{
    static const struct {
        const char *name, *help;
    } meta[PB_M_COUNT] = {
        [PB_M_INCIDENTS] = {"custos_playbook_incidents_total", "incident deliveries handled"},
        [PB_M_ACTIONS] = {"custos_playbook_actions_total", "action calls recorded"},
        [PB_M_DONE] = {"custos_playbook_actions_done_total", "actions executed to done"},
        [PB_M_FAILED] = {"custos_playbook_actions_failed_total", "actions that failed"},
        [PB_M_ESCALATIONS] = {"custos_playbook_escalations_total", "failed actions escalated"},
        [PB_M_EXPIRED] = {"custos_playbook_approvals_expired_total", "approvals that expired"},
        [PB_M_REVERTED] = {"custos_playbook_reverts_total", "ttl auto-reverts started"},
        [PB_M_DROPPED] = {"custos_playbook_incidents_dropped_total",
                          "incidents dropped (queue full, stopping without a database, or no "
                          "worker left)"},
        [PB_M_SKIPPED] = {"custos_playbook_actions_skipped_total",
                          "actions no effector carried out (none configured for them)"},
        [PB_M_ESCALATION_FAILED] = {"custos_playbook_escalations_failed_total",
                                    "escalations that reached no one: an action of theirs "
                                    "failed or was skipped, or no playbook took them"},
        [PB_M_ABANDONED] = {"custos_playbook_runs_abandoned_total",
                            "runs that overstayed their deadline by the margin: their worker "
                            "was abandoned and replaced"},
    };
    fprintf(out, "# HELP custos_playbook_runs_total playbook runs by outcome\n"
                 "# TYPE custos_playbook_runs_total counter\n");
    for (int i = 0; i < PB_SB_STATUS_COUNT; i++)
        fprintf(out, "custos_playbook_runs_total{class=\"%s\"} %llu\n",
                pb_sb_status_name((pb_sb_status)i),
                (unsigned long long)atomic_load_explicit(&g_runs[i], memory_order_relaxed));
    for (int i = 0; i < PB_M_COUNT; i++)
        fprintf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", meta[i].name, meta[i].help,
                meta[i].name, meta[i].name,
                (unsigned long long)atomic_load_explicit(&g_m[i], memory_order_relaxed));
}
