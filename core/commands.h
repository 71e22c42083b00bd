/* Subcommands that belong to core: migrate, config. */
#ifndef CORE_COMMANDS_H
#define CORE_COMMANDS_H

#include <stdio.h>

#include "core/cli.h"

/* custos migrate [--status] (CORE_CMD_DB) */
int core_cmd_migrate(core_cmd_ctx *ctx, int argc, char **argv);
#include <stddef.h>

#include "core/config.h"

/* A check that `custos config check` runs after the file loaded: what the
 * daemon would load at start-up from the settings (rules, playbooks), so
 * that check says no where `run` would refuse (as `suricata -T` does). fn
 * returns 0, or -1 with err set; out gets one line of what it loaded. */
typedef struct {
    const char *what; /* "rules", "playbooks" */
    int (*fn)(const core_config *cfg, FILE *out, char *err, size_t errlen);
} core_config_check;

/* custos config check [FILE]: the file, then each of checks (n of them). */
int core_cmd_config(core_cmd_ctx *ctx, int argc, char **argv, const core_config_check *checks,
                    size_t n);

#endif
