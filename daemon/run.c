/* custos run: the daemon. It is a table of services, the one place where
 * the modules are wired together. Events flow collector -> analytics ->
 * playbooks; each service hands its output to the next through a core sink
 * (core/sink.h), so the services start from the end of the flow (a sink
 * exists before anything delivers into it) and stop from its start (each
 * drains into a downstream that is still running). */
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "collector/collector.h"
#include "core/cli.h"
#include "core/log.h"
#include "core/signals.h"
#include "daemon/daemon.h"
#include "forensics/forensics.h"
#include "playbooks/playbooks.h"
#include "web/web.h"

/* What the services share while the daemon runs. */
typedef struct {
    const core_config *cfg;
    pb_live *playbooks;
    web_server *web;
    forensics_service *forensics;
    an_live *analytics;
    core_incident_sink incidents; /* into the playbooks (deliver NULL: none) */
    core_event_sink events;       /* into the analytics (deliver NULL: none) */
    pthread_t collector;
    bool collector_started;
    int collector_rc;
    volatile sig_atomic_t collector_ended;
    bool abandoned; /* a playbook run had to be abandoned */
} run_ctx;

typedef struct {
    const char *name;
    bool (*enabled)(const core_config *cfg);
    /* Starts the service without blocking; -1 with err stops start-up. */
    int (*start)(run_ctx *x, char *err, size_t errlen);
    /* Stops it, draining what it holds into the next service. */
    void (*stop)(run_ctx *x);
} service;

/* ---- playbooks ---- */

static bool playbooks_enabled(const core_config *cfg)
{
    if (strcmp(cfg->pb_enabled, "auto") == 0)
        return strcmp(cfg->coll_analytics, "on") == 0;
    return strcmp(cfg->pb_enabled, "on") == 0;
}

static void incident_to_playbooks(void *ud, const char *incident_json)
{
    pb_live_incident(ud, incident_json);
}

static int playbooks_start(run_ctx *x, char *err, size_t errlen)
{
    x->playbooks = pb_live_start(x->cfg, err, errlen);
    if (!x->playbooks)
        return -1;
    x->incidents = (core_incident_sink){incident_to_playbooks, x->playbooks};
    return 0;
}

static void playbooks_stop(run_ctx *x)
{
    if (pb_live_stop(x->playbooks))
        x->abandoned = true;
    x->playbooks = NULL;
}

/* ---- analytics ---- */

static bool analytics_enabled(const core_config *cfg)
{
    return strcmp(cfg->coll_analytics, "on") == 0;
}

static int analytics_start(run_ctx *x, char *err, size_t errlen)
{
    x->analytics = an_live_start(x->cfg, err, errlen);
    if (!x->analytics)
        return -1;
    if (x->incidents.deliver)
        an_live_on_incident(x->analytics, x->incidents);
    x->events = an_live_sink(x->analytics);
    return 0;
}

static void analytics_stop(run_ctx *x)
{
    an_live_stop(x->analytics);
    x->analytics = NULL;
}

/* ---- collector ---- */

static bool always(const core_config *cfg)
{
    (void)cfg;
    return true;
}

static void *collector_main(void *arg)
{
    run_ctx *x = arg;
    x->collector_rc = coll_run(x->cfg, x->events.deliver ? &x->events : NULL, &core_stop);
    x->collector_ended = 1;
    return NULL;
}

static int collector_start(run_ctx *x, char *err, size_t errlen)
{
    if (pthread_create(&x->collector, NULL, collector_main, x) != 0) {
        snprintf(err, errlen, "cannot start the collector thread");
        return -1;
    }
    x->collector_started = true;
    return 0;
}

static void collector_stop(run_ctx *x)
{
    /* core_stop is set (or the collector ended on its own): it commits what
     * it holds within collector.shutdown_grace_ms and returns. */
    core_request_stop();
    pthread_join(x->collector, NULL);
    x->collector_started = false;
}

/* ---- web: the console and the API, a client of incidents, playbooks and
 * audit through the database (none of the other services' threads) ---- */

static bool web_enabled(const core_config *cfg) { return strcmp(cfg->web_enabled, "on") == 0; }

static int web_start(run_ctx *x, char *err, size_t errlen)
{
    x->web = web_service_start(x->cfg, err, errlen);
    return x->web ? 0 : -1;
}

static void web_stop(run_ctx *x)
{
    web_service_stop(x->web);
    x->web = NULL;
}

/* ---- forensics: audit checkpoints and retention, on the database alone ---- */

static int forensics_start(run_ctx *x, char *err, size_t errlen)
{
    x->forensics = forensics_service_start(x->cfg, err, errlen);
    return x->forensics ? 0 : -1;
}

static void forensics_stop(run_ctx *x)
{
    forensics_service_stop(x->forensics);
    x->forensics = NULL;
}

/* In flow order; started from the last, stopped from the first. The web
 * server is last: it starts first (/readyz answers while the rest starts)
 * and stops last. */
static const service g_services[] = {
    {"collector", always, collector_start, collector_stop},
    {"analytics", analytics_enabled, analytics_start, analytics_stop},
    {"playbooks", playbooks_enabled, playbooks_start, playbooks_stop},
    {"web", web_enabled, web_start, web_stop},
    {"forensics", always, forensics_start, forensics_stop},
};
#define N_SERVICES (sizeof g_services / sizeof g_services[0])

static void usage(FILE *out)
{
    fprintf(out,
            "usage: custos [-c FILE] [--log-level LEVEL] run\n"
            "\n"
            "Consumes model-interaction events from Kafka (kafka.topics, group kafka.group)\n"
            "and stores each batch with its next offset in one PostgreSQL transaction:\n"
            "every event is stored exactly once, or kept as a dead letter in\n"
            "rejected_events with its Kafka coordinates and the reason.\n"
            "\n"
            "Services, in the order events flow through them: collector, analytics\n"
            "(collector.analytics: on), playbooks (playbooks.enabled: auto = with the\n"
            "analytics), and the console and API (web.enabled, on web.listen). Committed events go to the detectors; incidents are stored in\n"
            "PostgreSQL, published to analytics.incidents_topic and handed to the\n"
            "playbooks (playbooks.dir). SIGHUP, or 'custos playbook reload', reloads the\n"
            "playbooks. The forensics service signs an audit checkpoint every\n"
            "audit.checkpoint_interval_ms (with audit.signing_key) and applies the\n"
            "retention every retention.interval_ms (docs/forensics.md).\n"
            "\n"
            "SIGTERM/SIGINT commit the open batches (collector.shutdown_grace_ms), leave the\n"
            "group and exit 0. Logs are logfmt lines on stderr. The database must be at\n"
            "this binary's schema version ('custos migrate').\n"
            "\n"
            "A playbook run that overstays security.lua_deadline_ms by the margin (the\n"
            "deadline again, at least 1 s) is logged and counted, its worker gets no more\n"
            "incidents and a new one takes over; the playbooks get collector.shutdown_grace_ms\n"
            "to stop, and the exit status is then 4 (a run was abandoned).\n");
}

/* Waits until a stop is asked for or the collector ends on its own (a
 * fatal error, already logged). */
static void wait_for_stop(run_ctx *x)
{
    while (!core_stop && !x->collector_ended) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int daemon_cmd_run(core_cmd_ctx *cx, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CORE_EXIT_OK;
        }
        fprintf(stderr, "custos run: unknown argument '%s'\n", argv[i]);
        usage(stderr);
        return CORE_EXIT_USAGE;
    }
    const core_config *cfgp = cx->cfg;
    /* glibc gives threads up to 8 malloc arenas a core, each with its own
     * high-water mark; events are allocated on the consumer's thread and
     * freed on the writers' and the analytics' threads. Two arenas keep
     * the peak RSS of an alert storm that outruns the analytics at 240 MB,
     * not 266 MB (bench/ingest/README.md). MALLOC_ARENA_MAX, when set,
     * still decides (glibc reads it). */
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
    core_signals_install();
    run_ctx x = {.cfg = cfgp};
    bool started[N_SERVICES] = {false};
    int rc = CORE_EXIT_OK;
    char err[1024];
    for (size_t i = N_SERVICES; i-- > 0;) {
        const service *s = &g_services[i];
        if (!s->enabled(cfgp))
            continue;
        if (s->start(&x, err, sizeof err) < 0) {
            char q[1100];
            core_log(CORE_LOG_ERROR, "run", "cannot start a service", "service=%s error=%s",
                     s->name, core_log_quote(q, sizeof q, err));
            rc = CORE_EXIT_FAIL;
            break;
        }
        started[i] = true;
    }
    if (rc == CORE_EXIT_OK) {
        wait_for_stop(&x);
    }
    for (size_t i = 0; i < N_SERVICES; i++)
        if (started[i])
            g_services[i].stop(&x);
    if (started[0] && x.collector_rc != 0)
        rc = CORE_EXIT_FAIL;
    if (x.abandoned) {
        /* A playbook thread may still be running (abandoned): leave at
         * once, without the exit handlers that it could race with. */
        core_log(CORE_LOG_ERROR, "run", "exiting with an abandoned playbook run",
                 "exit_status=%d", CORE_EXIT_ABANDONED);
        fflush(NULL);
        _exit(CORE_EXIT_ABANDONED);
    }
    return rc;
}
