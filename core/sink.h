/* The types one stage hands its output to the next with, so that modules
 * need not include each other: the collector delivers committed events to
 * an event sink (the analytics), the analytics deliver incidents to an
 * incident sink (the playbooks). daemon/run.c connects them. */
#ifndef CORE_SINK_H
#define CORE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

/* Committed events. deliver() takes ownership of evs[0..n) (each to be
 * released with core_event_clear(), the array with free()); it may block to
 * apply back-pressure and must not call back into the stage that called it. */
typedef struct {
    void (*deliver)(void *ud, core_event *evs, size_t n);
    void *ud;
    /* A partition assigned (before any of its events is delivered;
     * next_offset: where reading starts, -1 none stored) or revoked (after
     * its last committed events were delivered). NULL: not wanted. Called
     * on the collector's thread; must not block long. */
    void (*partition)(void *ud, const char *topic, int32_t partition, int64_t next_offset,
                      bool assigned);
} core_event_sink;

/* An incident opened or updated, as JSON (the shape `custos analyze`
 * prints). deliver() must not block long and must not keep the pointer. */
typedef struct {
    void (*deliver)(void *ud, const char *incident_json);
    void *ud;
} core_incident_sink;

#endif
