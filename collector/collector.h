/* The collector: Kafka consumer group -> batches -> PostgreSQL, exactly once.
 * (The broker, producer and traffic generator that try and test it are in
 * tools/.) */
#ifndef COLL_COLLECTOR_H
#define COLL_COLLECTOR_H

#include <stddef.h>

#include "core/config.h"
#include "core/event.h"

/* Where decoded events go after their batch is committed (the analytics).
 * The collector calls deliver() from its writer thread with events it no
 * longer needs: the sink takes ownership of evs[0..n) (each one to be
 * released with core_event_clear(), and the array with free()). deliver()
 * may block to apply back-pressure; it must not call back into the
 * collector. */
typedef struct {
    void (*deliver)(void *ud, core_event *evs, size_t n);
    void *ud;
} coll_sink;

/* Runs the collector until *stop becomes non-zero (SIGTERM/SIGINT), then
 * commits what it holds within the grace period and leaves the group.
 * sink may be NULL. Returns 0 on a clean stop, -1 on a fatal error (logged). */
int coll_run(const core_config *cfg, const coll_sink *sink, volatile int *stop);

#endif
