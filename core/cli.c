/* Shared command-line plumbing: config loading, options, signals. */
#include "core/cli.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/db.h"
#include "core/log.h"

static const char *g_config_path, *g_log_level;

void core_cli_set_global(const char *config_path, const char *log_level)
{
    g_config_path = config_path;
    g_log_level = log_level;
}

const char *core_cli_global_log_level(void) { return g_log_level; }

int core_cli_config(core_config *cfg, const char *path, const char *log_level_override)
{
    char err[1024];
    if (!path)
        path = g_config_path;
    if (!log_level_override)
        log_level_override = g_log_level;
    if (!path)
        path = getenv("CUSTOS_CONFIG");
    if (path && !*path)
        path = NULL;
    if (core_config_load(cfg, path, err, sizeof err) < 0) {
        fprintf(stderr, "custos: configuration error: %s\n", err);
        return -1;
    }
    const char *lvl = log_level_override ? log_level_override : cfg->log_level;
    int l = core_log_parse_level(lvl);
    if (l < 0) {
        fprintf(stderr, "custos: --log-level '%s' is not one of debug, info, warn, error\n", lvl);
        return -1;
    }
    core_log_set_level((core_log_level)l);
    core_db_set_prepared(strcmp(cfg->pg_prepared, "off") != 0);
    return 0;
}

PGconn *core_cli_db_err(const core_config *cfg, bool check_schema, char *err, size_t errlen)
{
    char why[900];
    PGconn *c = core_db_connect(cfg->pg_dsn, (int)cfg->pg_connect_timeout_s, why, sizeof why);
    if (!c) {
        snprintf(err, errlen,
                 "cannot reach PostgreSQL: %s\n"
                 "  (setting postgres.dsn, or CUSTOS_POSTGRES_DSN; is the server running and is\n"
                 "  this user allowed in?)",
                 why);
        return NULL;
    }
    if (check_schema && core_db_check_schema(c, why, sizeof why) < 0) {
        snprintf(err, errlen, "the database is not at this binary's schema: %s", why);
        PQfinish(c);
        return NULL;
    }
    return c;
}

PGconn *core_cli_db(const core_config *cfg, const char *command, bool check_schema)
{
    char err[1200];
    PGconn *c = core_cli_db_err(cfg, check_schema, err, sizeof err);
    if (!c)
        fprintf(stderr, "custos %s: %s\n", command, err);
    return c;
}

PGconn *core_cmd_db(core_cmd_ctx *x)
{
    if (!x->db && x->cfg && (x->flags & (CORE_CMD_DB | CORE_CMD_SCHEMA)))
        x->db = core_cli_db(x->cfg, x->name, (x->flags & CORE_CMD_SCHEMA) != 0);
    return x->db;
}

bool core_cli_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return false;
    if (a[n] == '=') {
        *value = a + n + 1;
        return true;
    }
    if (a[n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "custos %s: option %s needs a value\n", argv[0], name);
        exit(CORE_EXIT_USAGE);
    }
    *value = argv[++*i];
    return true;
}

bool core_cli_opt_table(int argc, char **argv, int *i, const core_cli_optv *t, size_t n)
{
    const char *v;
    for (size_t k = 0; k < n; k++)
        if (core_cli_opt(argc, argv, i, t[k].name, &v)) {
            *t[k].dst = v;
            return true;
        }
    return false;
}

long long core_cli_num(const char *name, const char *value, long long min, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < min || v > max) {
        fprintf(stderr, "custos: %s '%s' must be a whole number from %lld to %lld\n", name, value,
                min, max);
        exit(CORE_EXIT_USAGE);
    }
    return v;
}

void core_cli_actor(char *out, size_t len)
{
    const char *u = getenv("USER");
    if (!u || !*u) {
        struct passwd *pw = getpwuid(geteuid());
        u = pw && pw->pw_name ? pw->pw_name : "unknown";
    }
    snprintf(out, len, "cli:%.100s", u);
    for (char *p = out; *p; p++) /* an identifier: no control characters */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}
