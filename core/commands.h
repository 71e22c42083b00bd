/* Subcommands that belong to core: migrate, config. */
#ifndef CORE_COMMANDS_H
#define CORE_COMMANDS_H

/* custos migrate [--config FILE] [--status] */
int core_cmd_migrate(int argc, char **argv);
/* custos run: the daemon (core/run.c wires collector, analytics, playbooks) */
int core_cmd_run(int argc, char **argv);
/* custos config check [FILE] */
int core_cmd_config(int argc, char **argv);

#endif
