/* custos run: the daemon, and the one place where the modules are wired
 * together: collector -> analytics -> playbooks. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "collector/collector.h"
#include "core/cli.h"
#include "core/commands.h"
#include "daemon/daemon.h"
#include "core/log.h"
#include "playbooks/playbooks.h"

static pb_live *g_playbooks;

/* SIGHUP: reload the playbooks (only sets a flag: async-signal-safe). */
static void on_hup(int sig)
{
    (void)sig;
    if (g_playbooks)
        pb_live_reload(g_playbooks);
}

/* Every incident opened or updated goes to the playbooks. */
static void incident_to_playbooks(void *ud, const char *incident_json)
{
    pb_live_incident(ud, incident_json);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: custos run [--config FILE] [--log-level LEVEL]\n"
            "\n"
            "Consumes model-interaction events from Kafka (kafka.topics, group kafka.group)\n"
            "and stores each batch with its next offset in one PostgreSQL transaction:\n"
            "every event is stored exactly once, or kept as a dead letter in\n"
            "rejected_events with its Kafka coordinates and the reason.\n"
            "\n"
            "SIGTERM/SIGINT commit the open batches (collector.shutdown_grace_ms), leave the\n"
            "group and exit 0. Logs are logfmt lines on stderr. The database must be at\n"
            "this binary's schema version ('custos migrate').\n"
            "\n"
            "A playbook run that overstays security.lua_deadline_ms by the margin (the\n"
            "deadline again, at least 1 s) is logged and counted, its worker gets no more\n"
            "incidents and a new one takes over; the playbooks get collector.shutdown_grace_ms\n"
            "to stop, and the exit status is then 4 (a run was abandoned).\n"
            "\n"
            "Committed events go to the detectors (collector.analytics: on); incidents are\n"
            "stored in PostgreSQL, published to analytics.incidents_topic and handed to\n"
            "the playbooks (playbooks.dir). SIGHUP, or 'custos playbook reload', reloads\n"
            "the playbooks.\n");
}

int daemon_cmd_run(int argc, char **argv)
{
    const char *cfgpath = NULL, *lvl = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CORE_EXIT_OK;
        } else if (core_cli_opt(argc, argv, &i, "--config", &v)) {
            cfgpath = v;
        } else if (core_cli_opt(argc, argv, &i, "--log-level", &v)) {
            lvl = v;
        } else {
            fprintf(stderr, "custos run: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return CORE_EXIT_USAGE;
        }
    }
    core_config cfg;
    int rc;
    if (core_cli_config(&cfg, cfgpath, lvl) < 0) {
        core_config_free(&cfg);
        return CORE_EXIT_CONFIG;
    }
    core_cli_install_signals();
    an_live *al = NULL;
    pb_live *pl = NULL;
    coll_sink sink, *sinkp = NULL;
    char err[1024];
    rc = CORE_EXIT_FAIL;
    if (strcmp(cfg.coll_analytics, "on") == 0) {
        al = an_live_start(&cfg, err, sizeof err);
        if (!al) {
            core_log(CORE_LOG_ERROR, "run", "cannot start the analytics", "error=%s",
                     core_log_quote((char[1100]){0}, 1100, err));
            goto done;
        }
        pl = pb_live_start(&cfg, err, sizeof err);
        if (!pl) {
            core_log(CORE_LOG_ERROR, "run", "cannot start the playbooks", "error=%s",
                     core_log_quote((char[1100]){0}, 1100, err));
            goto done;
        }
        g_playbooks = pl;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_hup;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGHUP, &sa, NULL);
        an_live_on_incident(al, incident_to_playbooks, pl);
        sink = an_live_sink(al);
        sinkp = &sink;
    }
    rc = coll_run(&cfg, sinkp, &core_stop) == 0 ? CORE_EXIT_OK : CORE_EXIT_FAIL;
done:
    /* Upstream first: the collector has stopped handing events over, the
     * analytics flush their last incidents to the playbooks, which finish. */
    an_live_stop(al);
    signal(SIGHUP, SIG_IGN);
    g_playbooks = NULL;
    if (pb_live_stop(pl)) {
        /* A playbook thread may still be running (abandoned): leave at
         * once, without the exit handlers that it could race with. */
        core_log(CORE_LOG_ERROR, "run", "exiting with an abandoned playbook run",
                 "exit_status=%d", CORE_EXIT_ABANDONED);
        fflush(NULL);
        _exit(CORE_EXIT_ABANDONED);
    }
    core_config_free(&cfg);
    return rc;
}
