/* custos: one binary, many subcommands. main parses the global options
 * once (-c/--config, --log-level, -h/--help, -V/--version, before or after
 * the command), prepares what the command's row asks for (the config, a
 * database connection) and runs it. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <hs/hs.h>
#include <librdkafka/rdkafka.h>
#include <lua.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "audit/audit.h"
#include "incidents/incidents.h"
#include "collector/collector.h"
#include "tools/tools.h"
#include "web/web.h"
#include "core/cli.h"
#include "core/commands.h"
#include "daemon/daemon.h"
#include "forensics/forensics.h"
#include "core/db.h"
#include "core/log.h"
#include "core/share.h"
#include "playbooks/playbooks.h"
#include "web/web.h"

static const core_config_check g_config_checks[] = {
    {"rules", an_config_check},
    {"playbooks", pb_config_check},
};

static int cmd_config(core_cmd_ctx *x, int argc, char **argv)
{
    return core_cmd_config(x, argc, argv, g_config_checks,
                           sizeof g_config_checks / sizeof g_config_checks[0]);
}

/* The commands not yet moved onto core_cmd_ctx: they load their config
 * themselves (core_cli_config with NULL arguments sees main's options). */
typedef int (*legacy_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    core_cmd_fn fn;
    legacy_fn legacy;
    unsigned flags; /* CORE_CMD_* */
    const char *summary;
} command;

/* The command table: one row per command, in the order --help lists them. */
static const command g_commands[] = {
    {"run", daemon_cmd_run, NULL, CORE_CMD_CONFIG,
     "consume events from Kafka into PostgreSQL, detect, contain (the daemon)"},
    {"web", NULL, web_cmd_web, 0, "serve the console and the JSON API alone, until SIGTERM"},
    {"user", NULL, web_cmd_user, 0,
     "add NAME --role ROLE | list | disable | enable | role | passwd: console users"},
    {"token", NULL, web_cmd_token, 0, "create --role ROLE --name NAME | list | revoke NAME: API tokens"},
    {"migrate", core_cmd_migrate, NULL, CORE_CMD_DB, "apply pending database migrations"},
    {"config", cmd_config, NULL, 0, "config check [FILE] | reference: validate, document"},
    {"analyze", NULL, an_cmd_analyze, 0,
     "run the detectors over JSON-lines event files, print incidents"},
    {"incidents", inc_cmd_incidents, NULL, CORE_CMD_SCHEMA,
     "list | show ID | close ID --disposition D --reason R | serious | report-filed | report | "
     "deadlines: the analyst's queue, Art. 73"},
    {"playbook", NULL, pb_cmd_playbook, 0, "test FILE --incident F | check | reload | apply | serve"},
    {"actions", NULL, pb_cmd_actions, 0, "list | approve ID | reject ID --reason R: containment"},
    {"audit", NULL, audit_cmd, 0,
     "verify | head | checkpoint: the audit log's hash chain and its signed checkpoints"},
    {"broker", NULL, tools_cmd_broker, 0,
     "run the embedded Kafka-protocol broker (testing and demos only)"},
    {"produce", NULL, tools_cmd_produce, 0, "send JSON lines to Kafka at a paced rate"},
    {"gen", NULL, tools_cmd_gen, 0, "generate realistic demo traffic as JSON lines"},
    {"keys", forensics_cmd_keys, NULL, CORE_CMD_SCHEMA,
     "init [--force] | public: the instance's Ed25519 signing key"},
    {"evidence", forensics_cmd_evidence, NULL, CORE_CMD_CONFIG | CORE_CMD_SCHEMA,
     "export --incident ID | --key K --since T --until T -o F | verify F: signed bundles"},
    {"forensics", forensics_cmd_forensics, NULL, CORE_CMD_SCHEMA,
     "query --since T --until T [filters] | named NAME [P=V] | list: forensic queries"},
    {"hold", forensics_cmd_hold, NULL, CORE_CMD_SCHEMA,
     "add --incident ID | --key K | --since T --until T --reason R | list | release ID"},
    {"retention", forensics_cmd_retention, NULL, CORE_CMD_SCHEMA,
     "run [--dry-run]: drop interactions past retention.interactions_days, holds kept"},
};
#define N_COMMANDS (sizeof g_commands / sizeof g_commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "usage: custos [-c FILE] [--log-level LEVEL] COMMAND [ARGS]\n"
            "       custos -V | --version\n"
            "\n"
            "custos is a SIEM for generative-AI traffic: it reads model-interaction logs\n"
            "from Kafka, keeps them in PostgreSQL, finds attacks in them and contains them.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", g_commands[i].name, g_commands[i].summary);
    fprintf(out,
            "\n"
            "options (before or after the command):\n"
            "  -c, --config FILE    the YAML configuration (default: $CUSTOS_CONFIG, else\n"
            "                       the built-in defaults); CUSTOS_<SECTION>_<KEY> variables\n"
            "                       override it (docs/config.md)\n"
            "      --log-level L    debug, info, warn or error (overrides log.level)\n"
            "  -h, --help           this text, or a command's ('custos COMMAND --help')\n"
            "  -V, --version        version and build information\n"
            "\n"
            "exit status: 0 ok, 1 failure, 2 usage error, 3 configuration error,\n"
            "4 stopped with an abandoned playbook run (custos run).\n");
}

#ifndef CUSTOS_GIT
#define CUSTOS_GIT "unknown"
#endif
#ifndef CUSTOS_BUILD_TYPE
#define CUSTOS_BUILD_TYPE "unknown"
#endif

static void version(void)
{
    printf("custos %s (commit %s, %s build, cc %s)\n", CUSTOS_VERSION, CUSTOS_GIT, CUSTOS_BUILD_TYPE,
           __VERSION__);
    printf("schema version %d\n", core_db_schema_target());
    const char *hs = hs_version(); /* "5.4.9 2023-..." */
    printf("librdkafka %s, libpq %d, cJSON %s, %s, vectorscan %.*s,\n", rd_kafka_version_str(),
           PQlibVersion(), cJSON_Version(), LUA_RELEASE, (int)strcspn(hs, " "), hs);
    printf("libmicrohttpd %s, libsodium %s, libcurl %s, %s\n", MHD_get_version(),
           sodium_version_string(), curl_version_info(CURLVERSION_NOW)->version,
           OpenSSL_version(OPENSSL_VERSION));
}

/* Takes the global options out of argv (up to a "--"), wherever they are,
 * before or after the command; returns the new argc, or -1 after printing
 * a usage error. */
static int take_globals(int argc, char **argv, const char **cfg, const char **lvl, bool *help,
                        bool *ver)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--") == 0) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0)
            slot = cfg;
        else if (strcmp(a, "--log-level") == 0)
            slot = lvl;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "custos: option %s needs a value\n", a);
                return -1;
            }
            *slot = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            *cfg = a + 9;
        } else if (strncmp(a, "--log-level=", 12) == 0) {
            *lvl = a + 12;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            *ver = true;
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    return out;
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, g_commands[i].name) == 0)
            return &g_commands[i];
    return NULL;
}

static int run_command(const command *c, int argc, char **argv)
{
    if (c->legacy)
        return c->legacy(argc, argv);
    core_config cfg;
    core_cmd_ctx x = {.name = c->name, .flags = c->flags};
    int rc;
    if (c->flags & (CORE_CMD_CONFIG | CORE_CMD_DB | CORE_CMD_SCHEMA)) {
        if (core_cli_config(&cfg, NULL, NULL) < 0) {
            core_config_free(&cfg);
            return CORE_EXIT_CONFIG;
        }
        x.cfg = &cfg;
    }
    rc = c->fn(&x, argc, argv);
    if (x.db)
        PQfinish(x.db);
    if (x.cfg)
        core_config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cfgpath = NULL, *lvl = NULL;
    bool help = false, ver = false;
    argc = take_globals(argc, argv, &cfgpath, &lvl, &help, &ver);
    if (argc < 0)
        return CORE_EXIT_USAGE;
    if (ver && argc < 2) {
        version();
        return CORE_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 && !help ? stderr : stdout);
        return argc < 2 && !help ? CORE_EXIT_USAGE : CORE_EXIT_OK;
    }
    if (argv[1][0] == '-') {
        fprintf(stderr, "custos: unknown option '%s' (see 'custos --help')\n", argv[1]);
        return CORE_EXIT_USAGE;
    }
    const command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "custos: unknown command '%s' (see 'custos --help')\n", argv[1]);
        return CORE_EXIT_USAGE;
    }
    if (ver) {
        fprintf(stderr, "custos: --version takes no command\n");
        return CORE_EXIT_USAGE;
    }
    core_cli_set_global(cfgpath, lvl);
    if (help) {
        /* The command's own usage, whatever else was given. */
        char *hargv[] = {argv[1], "--help", NULL};
        return c->legacy ? c->legacy(2, hargv) : c->fn(&(core_cmd_ctx){0}, 2, hargv);
    }
    return run_command(c, argc - 1, argv + 1);
}
