/* custos: one binary, many subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "analytics/engine.h"
#include "audit/audit.h"
#include "collector/collector.h"
#include "core/cli.h"
#include "core/commands.h"
#include "daemon/daemon.h"
#include "core/share.h"
#include "playbooks/pb_engine.h"
#include "playbooks/playbooks.h"
#include "web/web.h"

/* config check: the signature rules compile, as custos run and analyze
 * would compile them. */
static int check_rules(const core_config *cfg, FILE *out, char *err, size_t errlen)
{
    const char *dir = cfg->an_rules_dir && *cfg->an_rules_dir ? cfg->an_rules_dir
                                                               : core_share_default("rules");
    an_rules *r = an_rules_load(dir, strcmp(cfg->an_rules_db, "per_field") == 0,
                                cfg->an_rules_cache_dir, err, errlen);
    if (!r)
        return -1;
    fprintf(out, "# rules: %zu signature rules from %s compiled\n", an_rules_count(r), dir);
    an_rules_free(r);
    return 0;
}

/* config check: every playbook loads in the sandbox, as custos run would
 * load it; a refused file is named with its line. */
static int check_playbooks(const core_config *cfg, FILE *out, char *err, size_t errlen)
{
    const char *dir = pb_engine_dir(cfg);
    pb_engine_opts o = {.cfg = cfg};
    pb_engine *e = pb_engine_new(&o, err, errlen);
    if (!e)
        return -1;
    char *rep = NULL;
    size_t replen = 0;
    FILE *mem = open_memstream(&rep, &replen);
    int refused = pb_engine_load_dir(e, dir, mem ? mem : stderr);
    size_t loaded = pb_engine_count(e);
    pb_engine_free(e);
    if (mem)
        fclose(mem);
    int rc = 0;
    if (refused < 0) {
        snprintf(err, errlen, "playbooks.dir %s cannot be read", dir);
        rc = -1;
    } else if (refused > 0) {
        /* The report's "refused FILE:LINE: why" lines, on stderr. */
        for (char *line = rep ? strtok(rep, "\n") : NULL; line; line = strtok(NULL, "\n"))
            if (strncmp(line, "refused", 7) == 0)
                fprintf(stderr, "custos: %s\n", line);
        snprintf(err, errlen, "%d playbook file(s) in %s refused (custos run would refuse them too)",
                 refused, dir);
        rc = -1;
    } else {
        fprintf(out, "# playbooks: %zu loaded from %s\n", loaded, dir);
    }
    free(rep);
    return rc;
}

static const core_config_check g_config_checks[] = {
    {"rules", check_rules},
    {"playbooks", check_playbooks},
};

static int cmd_config(int argc, char **argv)
{
    return core_cmd_config(argc, argv, g_config_checks,
                           sizeof g_config_checks / sizeof g_config_checks[0]);
}

typedef struct {
    const char *name;
    core_cmd_fn fn;
    const char *summary;
} command;

/* The subcommand table: one row per command, in the order --help lists them. */
static const command g_commands[] = {
    {"run", daemon_cmd_run, "consume events from Kafka into PostgreSQL (the daemon)"},
    {"migrate", core_cmd_migrate, "apply pending database migrations"},
    {"config", cmd_config, "config check [FILE]: validate and print the effective config"},
    {"broker", coll_cmd_broker, "run the embedded Kafka-protocol broker (testing and demos only)"},
    {"produce", coll_cmd_produce, "send JSON lines to Kafka at a paced rate"},
    {"gen", coll_cmd_gen, "generate realistic demo traffic as JSON lines"},
    {"analyze", an_cmd_analyze, "run the detectors over JSON-lines event files, print incidents"},
    {"playbook", pb_cmd_playbook, "test FILE --incident F | check | reload | apply | serve"},
    {"actions", pb_cmd_actions, "list | approve ID | reject ID --reason R: containment actions"},
    {"audit", audit_cmd, "audit verify | head: walk the audit log's hash chain"},
    {"web", web_cmd_web, "the console and the HTTP API alone (no collector)"},
    {"user", web_cmd_user, "add | list | disable | enable | role | passwd: console users"},
    {"token", web_cmd_token, "create | list | revoke: API tokens"},
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
