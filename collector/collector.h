/* The collector: Kafka consumer group -> batches -> PostgreSQL, exactly once.
 * Also the embedded broker, the paced producer and the demo traffic
 * generator, which exist to try and test the collector. */
#ifndef COLL_COLLECTOR_H
#define COLL_COLLECTOR_H

#include <signal.h>
#include <stddef.h>

#include "core/config.h"
#include "core/event.h"
#include "core/sink.h"

/* custos broker: librdkafka's mock cluster on loopback. */
int coll_cmd_broker(int argc, char **argv);
/* custos produce: paced JSON-lines producer. */
int coll_cmd_produce(int argc, char **argv);
/* custos gen: demo traffic as JSON lines. */
int coll_cmd_gen(int argc, char **argv);


/* Runs the collector until *stop becomes non-zero (SIGTERM/SIGINT), then
 * commits what it holds within the grace period and leaves the group.
 * Committed events go to sink (may be NULL). Returns 0 on a clean stop, -1 on a fatal error (logged). */
int coll_run(const core_config *cfg, const core_event_sink *sink, volatile sig_atomic_t *stop);

#endif
