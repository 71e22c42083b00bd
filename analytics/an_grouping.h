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

/* Snapshots (an_snapshot.h). Writes every open incident as an
 * AN_SNAP_INCIDENT record into the writer route() picks for its key (NULL
 * api_key_id: a model-scoped incident; a NULL writer: not saved). */
struct an_snap_w;
struct an_snap_r;
void an_incidents_save(const an_incidents *g,
                       struct an_snap_w *(*route)(void *ud, const char *api_key_id), void *ud);
/* Reads one incident record (its tag already read) and keeps it open, as
 * it was, unless an incident of that id is open already. 0, or -1 on a
 * malformed record. */
int an_incidents_load(an_incidents *g, struct an_snap_r *r);
/* Closes the open incidents of the key (a last callback each) and forgets
 * them: its partition went to another owner, who continues them. */
void an_incidents_close_key(an_incidents *g, const char *api_key_id);

#endif
