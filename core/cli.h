/* Shared command-line plumbing for the subcommands. */
#ifndef CORE_CLI_H
#define CORE_CLI_H

#include <stdbool.h>

#include "core/config.h"

/* A subcommand: argv[0] is its name. Returns the process exit code. */
typedef int (*core_cmd_fn)(int argc, char **argv);

/* Exit codes shared by every subcommand. */
enum {
    CORE_EXIT_OK = 0,
    CORE_EXIT_FAIL = 1,
    CORE_EXIT_USAGE = 2,
    CORE_EXIT_CONFIG = 3,
    CORE_EXIT_ABANDONED = 4, /* stopped, but a playbook run had to be abandoned */
};

/* Loads the config (path may be NULL: then $CUSTOS_CONFIG, then built-in
 * defaults) and applies the log level, with log_level_override (may be NULL)
 * winning over the file. Prints the error naming file, line and key to stderr
 * and returns -1 when anything is wrong; cfg must be freed either way. */
int core_cli_config(core_config *cfg, const char *path, const char *log_level_override);

/* Matches "--name VALUE" or "--name=VALUE" at argv[*i]; on a match sets
 * *value, advances *i past what it used and returns true. A missing value
 * prints an error and exits with CORE_EXIT_USAGE. */
bool core_cli_opt(int argc, char **argv, int *i, const char *name, const char **value);

/* Parses a whole number in [min, max] for option name, or exits with a usage
 * error naming the option. */
long long core_cli_num(const char *name, const char *value, long long min, long long max);


#endif
