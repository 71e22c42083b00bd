/* The types one stage hands its output to the next with, so that modules
 * need not include each other: the collector delivers committed events to
 * an event sink (the analytics), the analytics deliver incidents to an
 * incident sink (the playbooks). daemon/run.c connects them. */
#ifndef CORE_SINK_H
#define CORE_SINK_H

#include <stddef.h>

#include "core/event.h"

/* Committed events. deliver() takes ownership of evs[0..n) (each to be
 * released with core_event_clear(), the array with free()); it may block to
 * apply back-pressure and must not call back into the stage that called it. */
typedef struct {
    void (*deliver)(void *ud, core_event *evs, size_t n);
    void *ud;
} core_event_sink;

/* An incident opened or updated, as JSON (the shape `custos analyze`
 * prints). deliver() must not block long and must not keep the pointer. */
typedef struct {
    void (*deliver)(void *ud, const char *incident_json);
    void *ud;
} core_incident_sink;

#endif
