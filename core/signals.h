/* The process's signals, in one place: SIGTERM and SIGINT ask every part to
 * stop, SIGHUP asks for a reload, SIGPIPE is ignored. The handlers only set
 * flags; the parts poll them. */
#ifndef CORE_SIGNALS_H
#define CORE_SIGNALS_H

#include <signal.h>

/* Non-zero once SIGTERM or SIGINT arrived (or core_request_stop ran). */
extern volatile sig_atomic_t core_stop;

/* Installs the handlers (idempotent). */
void core_signals_install(void);

/* Asks for a stop as SIGTERM would. Async-signal-safe. */
void core_request_stop(void);

/* Goes up by one per SIGHUP: a part that reloads keeps the value it last
 * acted on and reloads when this differs. */
unsigned core_reload_generation(void);

#endif
