/* custos migrate and custos config. */
#include "core/commands.h"

#include <stdio.h>
#include <string.h>

#include "core/cli.h"
#include "core/db.h"
#include "core/log.h"

int core_cmd_migrate(core_cmd_ctx *x, int argc, char **argv)
{
    int status_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: custos [-c FILE] migrate [--status]\n"
                   "\n"
                   "Applies the pending schema migrations (sql/migrations, built into this\n"
                   "binary), each in its own transaction, recorded in schema_migrations.\n"
                   "--status only prints the database's version and this binary's.\n");
            return CORE_EXIT_OK;
        } else if (strcmp(argv[i], "--status") == 0) {
            status_only = 1;
        } else {
            fprintf(stderr, "custos migrate: unknown argument '%s' (see 'custos migrate --help')\n",
                    argv[i]);
            return CORE_EXIT_USAGE;
        }
    }
    PGconn *c = core_cmd_db(x);
    if (!c)
        return CORE_EXIT_FAIL;
    char err[1024];
    int applied;
    if (status_only) {
        if (core_db_schema_version(c, &applied, err, sizeof err) < 0)
            goto fail;
        printf("highest migration applied: %d\nthis custos knows up to:   %d\n", applied,
               core_db_schema_target());
        if (core_db_check_schema(c, err, sizeof err) < 0) {
            printf("%s\n", err);
            return CORE_EXIT_FAIL;
        }
        printf("up to date\n");
        return CORE_EXIT_OK;
    }
    int n = core_db_migrate(c, err, sizeof err);
    if (n < 0)
        goto fail;
    int created = core_db_ensure_partitions(c, (int)x->cfg->pg_partitions_ahead_days, err, sizeof err);
    if (created < 0)
        goto fail;
    core_log(CORE_LOG_INFO, "migrate", "schema up to date", "applied=%d version=%d partitions_created=%d",
             n, core_db_schema_target(), created);
    return CORE_EXIT_OK;
fail:
    core_log(CORE_LOG_ERROR, "migrate", "migration failed", "error=%s",
             core_log_quote((char[768]){0}, 768, err));
    return CORE_EXIT_FAIL;
}

int core_cmd_config(core_cmd_ctx *x, int argc, char **argv, const core_config_check *checks,
                    size_t n)
{
    if (argc == 2 && strcmp(argv[1], "reference") == 0) {
        core_config_reference(stdout);
        return CORE_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "check") != 0 || argc > 3) {
        FILE *out = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
                        ? stdout : stderr;
        fprintf(out, "usage: custos [-c FILE] config check [FILE]\n"
                     "       custos config reference\n"
                     "\n"
                     "Validates FILE (default $CUSTOS_CONFIG, else only the built-in defaults)\n"
                     "with the CUSTOS_<SECTION>_<KEY> environment overrides applied, and prints\n"
                     "the effective configuration with secrets masked; then loads what the\n"
                     "daemon would load from it (the signature rules, the playbooks) and says\n"
                     "what it loaded, so that a file check accepts is one custos run starts\n"
                     "with. Exits 3 on an error, naming the file, line and key, or the rule\n"
                     "or playbook file and its line. 'reference' prints every setting with its\n"
                     "type, default and environment variable (docs/config.md).\n");
        return out == stdout ? CORE_EXIT_OK : CORE_EXIT_USAGE;
    }
    (void)x;
    core_config cfg;
    int rc = core_cli_config(&cfg, argc == 3 ? argv[2] : NULL, NULL);
    if (rc == 0) {
        core_config_print(&cfg, stdout);
        for (size_t i = 0; i < n; i++) {
            char err[1024] = "";
            if (checks[i].fn(&cfg, stdout, err, sizeof err) < 0) {
                fprintf(stderr, "custos: configuration error: %s: %s\n", checks[i].what, err);
                rc = -1;
            }
        }
        if (rc == 0)
            printf("# configuration OK\n");
    }
    core_config_free(&cfg);
    return rc == 0 ? CORE_EXIT_OK : CORE_EXIT_CONFIG;
}
