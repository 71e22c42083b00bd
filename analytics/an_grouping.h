/* Alert grouping (an_grouping.c): alerts of one type and subject group into
 * one open incident until a quiet period closes it. */
#ifndef AN_GROUPING_H
#define AN_GROUPING_H

#include <stdint.h>

#include "analytics/an_engine.h"
#include "core/config.h"

typedef struct an_incidents an_incidents;
an_incidents *an_incidents_new(const core_config *cfg, const an_callbacks *cb);
void an_incidents_free(an_incidents *g);
/* Routes an alert; takes a->evidence. An alert_only alert goes to the alert
 * callback alone. */
void an_incidents_alert(an_incidents *g, an_alert *a);
/* Closes incidents quiet since before now_us - quiet. */
void an_incidents_tick(an_incidents *g, int64_t now_us);
/* Publishes the last changes of every open incident and closes them all. */
void an_incidents_finish(an_incidents *g);
uint64_t an_incidents_count(const an_incidents *g);

#endif
