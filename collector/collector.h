/* The collector: Kafka consumer group -> batches -> PostgreSQL, exactly once.
 * (The broker, producer and traffic generator that try and test it are in
 * tools/.) */
#ifndef COLL_COLLECTOR_H
#define COLL_COLLECTOR_H

#include <signal.h>
#include <stddef.h>

#include "core/config.h"
#include "core/event.h"
#include "core/sink.h"


/* Runs the collector until *stop becomes non-zero (SIGTERM/SIGINT), then
 * commits what it holds within the grace period and leaves the group.
 * Committed events go to sink (may be NULL). Returns 0 on a clean stop, -1 on a fatal error (logged). */
int coll_run(const core_config *cfg, const core_event_sink *sink, volatile sig_atomic_t *stop);

#endif
