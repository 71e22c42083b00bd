/* Signal handlers that only set flags (async-signal-safe). */
#include "core/signals.h"

#include <stdatomic.h>
#include <string.h>

volatile sig_atomic_t core_stop;
static atomic_uint g_reload;

static void on_stop(int sig)
{
    (void)sig;
    core_stop = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    atomic_fetch_add_explicit(&g_reload, 1, memory_order_relaxed);
}

void core_request_stop(void) { core_stop = 1; }

unsigned core_reload_generation(void)
{
    return atomic_load_explicit(&g_reload, memory_order_relaxed);
}

void core_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
