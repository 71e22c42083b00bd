/* custos migrate and custos config. */
#include "core/commands.h"

#include <stdio.h>
#include <string.h>

#include "core/cli.h"
#include "core/db.h"
#include "core/log.h"

int core_cmd_migrate(int argc, char **argv)
{
    const char *cfgpath = NULL, *lvl = NULL;
    int status_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: custos migrate [--config FILE] [--log-level LEVEL] [--status]\n"
                   "\n"
                   "Applies the pending schema migrations (sql/migrations, built into this\n"
                   "binary), each in its own transaction, recorded in schema_migrations.\n"
                   "--status only prints the database's version and this binary's.\n");
            return CORE_EXIT_OK;
        } else if (core_cli_opt(argc, argv, &i, "--config", &v)) {
            cfgpath = v;
        } else if (core_cli_opt(argc, argv, &i, "--log-level", &v)) {
            lvl = v;
        } else if (strcmp(argv[i], "--status") == 0) {
            status_only = 1;
        } else {
            fprintf(stderr, "custos migrate: unknown argument '%s'\n", argv[i]);
            return CORE_EXIT_USAGE;
        }
    }
    core_config cfg;
    int rc = CORE_EXIT_FAIL;
    PGconn *c = NULL;
    char err[1024];
    if (core_cli_config(&cfg, cfgpath, lvl) < 0) {
        rc = CORE_EXIT_CONFIG;
        goto done;
    }
    c = core_db_connect(cfg.pg_dsn, (int)cfg.pg_connect_timeout_s, err, sizeof err);
    if (!c) {
        core_log(CORE_LOG_ERROR, "migrate", "cannot connect", "error=%s",
                 core_log_quote((char[768]){0}, 768, err));
        goto done;
    }
    int applied;
    if (status_only) {
        if (core_db_schema_version(c, &applied, err, sizeof err) < 0)
            goto fail;
        printf("highest migration applied: %d\nthis custos knows up to:   %d\n", applied,
               core_db_schema_target());
        if (core_db_check_schema(c, err, sizeof err) < 0) {
            printf("%s\n", err);
            rc = CORE_EXIT_FAIL;
        } else {
            printf("up to date\n");
            rc = CORE_EXIT_OK;
        }
        goto done;
    }
    int n = core_db_migrate(c, err, sizeof err);
    if (n < 0)
        goto fail;
    int created = core_db_ensure_partitions(c, (int)cfg.pg_partitions_ahead_days, err, sizeof err);
    if (created < 0)
        goto fail;
    core_log(CORE_LOG_INFO, "migrate", "schema up to date", "applied=%d version=%d partitions_created=%d",
             n, core_db_schema_target(), created);
    rc = CORE_EXIT_OK;
    goto done;
fail:
    core_log(CORE_LOG_ERROR, "migrate", "migration failed", "error=%s",
             core_log_quote((char[768]){0}, 768, err));
done:
    if (c)
        PQfinish(c);
    core_config_free(&cfg);
    return rc;
}

int core_cmd_config(int argc, char **argv, const core_config_check *checks, size_t n)
{
    if (argc == 2 && strcmp(argv[1], "reference") == 0) {
        core_config_reference(stdout);
        return CORE_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "check") != 0 || argc > 3) {
        FILE *out = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
                        ? stdout : stderr;
        fprintf(out, "usage: custos config check [FILE]\n"
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
