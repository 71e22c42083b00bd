/* custos run: the daemon. */
#include <stdio.h>
#include <string.h>

#include "collector/collector.h"
#include "core/cli.h"
#include "core/log.h"

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
            "this binary's schema version ('custos migrate').\n");
}

int coll_cmd_run(int argc, char **argv)
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
    rc = coll_run(&cfg, NULL, &core_stop) == 0 ? CORE_EXIT_OK : CORE_EXIT_FAIL;
    core_config_free(&cfg);
    return rc;
}
