/* The preservation gate (EU AI Act Art. 73(6)), inside playbooks/: an
 * action that alters the AI system (a model rollback: the only kind that
 * does) first freezes the evidence of the incidents it concerns, and when
 * one of them is a serious incident it runs only after an approval that
 * records that the authority was informed, or a recorded override, each
 * with a reason. Checked where actions are approved (pb_engine_approve,
 * which a person's own request also goes through) and again where they
 * execute (pb_engine_execute), so no path skips it. */
#ifndef PB_GATE_H
#define PB_GATE_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "playbooks/pb.h"
#include "playbooks/pb_store.h"
#include "playbooks/playbooks.h"

/* True for the kinds that alter the AI system. */
bool pb_gate_alters_system(pb_kind k);

/* The serious incidents an action of kind with params for incident_id
 * concerns (incidents/inc_serious_touching): a JSON array of ids (caller
 * owns; empty for a kind that does not alter the system), or NULL with
 * err. */
cJSON *pb_gate_serious(PGconn *db, pb_kind kind, const char *incident_id, const cJSON *params,
                       char *err, size_t errlen);

/* An approval of a as gate with reason: 0 when it may go on (no serious
 * incident, or the gate answered with a reason), PB_DECIDE_GATE or
 * PB_DECIDE_NEEDS_REASON with err saying what is missing, -1 on a
 * database error. */
int pb_gate_check_approval(PGconn *db, const pb_action *a, pb_gate gate, const char *reason,
                           char *err, size_t errlen);

/* Before a's effect: 0 when it may run (a recorded gate answer for every
 * serious incident it concerns), 1 refused (why says so), -1 on a
 * database error (why). Freezes, in the same call, the evidence of every
 * serious incident it concerns other than its own (its own is frozen by
 * the executor as for every rollback). */
int pb_gate_before_execute(PGconn *db, const pb_action *a, int64_t max_events, char *why,
                           size_t whylen);

#endif
