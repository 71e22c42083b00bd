/* The composition root: main's command table and `custos run`, the one place
 * where the modules are wired together. Nothing includes this header but
 * daemon/ itself. */
#ifndef DAEMON_DAEMON_H
#define DAEMON_DAEMON_H

#include "core/cli.h"

/* custos run: the daemon (daemon/run.c starts the services in flow order). */
int daemon_cmd_run(core_cmd_ctx *ctx, int argc, char **argv);

#endif
