/* Shared command-line plumbing: config loading, options, signals. */
#include "core/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

int core_cli_config(core_config *cfg, const char *path, const char *log_level_override)
{
    char err[1024];
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
    return 0;
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
