/* custos: one binary, many subcommands. */
#include <stdio.h>
#include <string.h>

#include "analytics/analytics.h"
#include "collector/collector.h"
#include "core/cli.h"
#include "core/commands.h"
#include "playbooks/playbooks.h"

typedef struct {
    const char *name;
    core_cmd_fn fn;
    const char *summary;
} command;

/* The subcommand table: one row per command, in the order --help lists them. */
static const command g_commands[] = {
    {"run", core_cmd_run, "consume events from Kafka into PostgreSQL (the daemon)"},
    {"migrate", core_cmd_migrate, "apply pending database migrations"},
    {"config", core_cmd_config, "config check [FILE]: validate and print the effective config"},
    {"broker", coll_cmd_broker, "run the embedded Kafka-protocol broker (testing and demos only)"},
    {"produce", coll_cmd_produce, "send JSON lines to Kafka at a paced rate"},
    {"gen", coll_cmd_gen, "generate realistic demo traffic as JSON lines"},
    {"analyze", an_cmd_analyze, "run the detectors over JSON-lines event files, print incidents"},
    {"playbook", pb_cmd_playbook, "test FILE --incident F | check | reload | apply | serve"},
    {"actions", pb_cmd_actions, "list | approve ID | reject ID --reason R: containment actions"},
    {"audit", pb_cmd_audit, "audit verify: walk the audit log's hash chain"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: custos [--version] [--help] COMMAND [ARGS]\n"
            "\n"
            "custos is a SIEM for generative-AI traffic: it reads model-interaction logs\n"
            "from Kafka, keeps them in PostgreSQL and finds attacks in them.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        fprintf(out, "  %-10s %s\n", g_commands[i].name, g_commands[i].summary);
    fprintf(out,
            "\n"
            "Run 'custos COMMAND --help' for a command's options. Configuration comes from\n"
            "--config FILE (or $CUSTOS_CONFIG), then CUSTOS_<SECTION>_<KEY> variables;\n"
            "see docs/config.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CORE_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CORE_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("custos %s\n", CUSTOS_VERSION);
        return CORE_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        if (strcmp(argv[1], g_commands[i].name) == 0)
            return g_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "custos: unknown command '%s' (see 'custos --help')\n", argv[1]);
    return CORE_EXIT_USAGE;
}
