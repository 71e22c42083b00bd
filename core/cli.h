/* Shared command-line plumbing for the subcommands. */
#ifndef CORE_CLI_H
#define CORE_CLI_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

/* What main prepared for a command, by the flags of its row in the
 * command table (daemon/main.c): the config loaded once from -c/--config
 * (CORE_CMD_CONFIG), and the database (CORE_CMD_DB; with CORE_CMD_SCHEMA
 * the schema is checked too), connected by core_cmd_db() when the command
 * first asks, after it parsed its arguments. main frees both after the
 * command returns. */
typedef struct {
    const core_config *cfg;
    const char *name; /* the command's, for messages */
    unsigned flags;
    PGconn *db; /* use core_cmd_db() */
} core_cmd_ctx;

enum {
    CORE_CMD_CONFIG = 1 << 0,
    CORE_CMD_DB = 1 << 1,     /* implies CORE_CMD_CONFIG */
    CORE_CMD_SCHEMA = 1 << 2, /* implies CORE_CMD_DB */
};

/* A subcommand: argv[0] is its name; --config, --log-level and --help were
 * taken out by main (a --help anywhere calls it with argv {name, "--help"}).
 * Returns the process exit code. */
typedef int (*core_cmd_fn)(core_cmd_ctx *ctx, int argc, char **argv);

/* Exit codes shared by every subcommand. */
enum {
    CORE_EXIT_OK = 0,
    CORE_EXIT_FAIL = 1,
    CORE_EXIT_USAGE = 2,
    CORE_EXIT_CONFIG = 3,
    CORE_EXIT_ABANDONED = 4, /* stopped, but a playbook run had to be abandoned */
};

/* The options main parsed once for the whole process, wherever they were
 * given (`custos -c FILE run` or `custos run --config FILE`): the config
 * file and the log level (either may be NULL). core_cli_config() uses them
 * when its own arguments are NULL. */
void core_cli_set_global(const char *config_path, const char *log_level);
/* The global --log-level, or NULL: for commands that load no config. */
const char *core_cli_global_log_level(void);

/* Loads the config (path may be NULL: then the global -c/--config, then
 * $CUSTOS_CONFIG, then built-in defaults) and applies the log level, with
 * log_level_override (may be NULL: then the global --log-level) winning
 * over the file. Prints the error naming file, line and key to stderr
 * and returns -1 when anything is wrong; cfg must be freed either way. */
int core_cli_config(core_config *cfg, const char *path, const char *log_level_override);

/* Matches "--name VALUE" or "--name=VALUE" at argv[*i]; on a match sets
 * *value, advances *i past what it used and returns true. A missing value
 * prints an error and exits with CORE_EXIT_USAGE. */
bool core_cli_opt(int argc, char **argv, int *i, const char *name, const char **value);

/* A table of such options, each with where its value goes. */
typedef struct {
    const char *name;
    const char **dst;
} core_cli_optv;
/* core_cli_opt for each of the n rows of t at argv[*i]: sets the first
 * matching row's *dst and returns true, false when none matched. */
bool core_cli_opt_table(int argc, char **argv, int *i, const core_cli_optv *t, size_t n);

/* Parses a whole number in [min, max] for option name, or exits with a usage
 * error naming the option. */
/* Connects to PostgreSQL for a command (postgres.dsn), and with
 * check_schema also checks the schema is this binary's. On failure prints
 * one message on stderr in the one wording every command uses (what
 * failed, the setting, the fix) and returns NULL. */
PGconn *core_cli_db(const core_config *cfg, const char *command, bool check_schema);
/* The same, with the message in err instead of on stderr. */
PGconn *core_cli_db_err(const core_config *cfg, bool check_schema, char *err, size_t errlen);

/* The command's database connection (CORE_CMD_DB), connecting on first
 * use; NULL after printing the error (the command then exits 1). */
PGconn *core_cmd_db(core_cmd_ctx *x);

/* The actor a command-line change is audited as: "cli:USER" ($USER, else
 * the effective user's name), control characters replaced. */
void core_cli_actor(char *out, size_t len);

long long core_cli_num(const char *name, const char *value, long long min, long long max);


#endif
