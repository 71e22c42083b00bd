/* The one status rule, as pure functions: what the detector may change of a
 * stored incident (inc_rule_detected) and what a playbook or an analyst may
 * (inc_rule_change). inc_write.c reads the stored row, asks here and writes
 * what comes back, so the two sides cannot drift apart. */
#include <stdio.h>
#include <string.h>

#include "incidents/incidents.h"

bool inc_status_is_closing(int status) { return status == INC_CLOSED || status == INC_RESOLVED; }

void inc_rule_detected(const inc_state *stored, inc_status status, inc_severity severity,
                       inc_state *next)
{
    if (!stored) {
        *next = (inc_state){status, severity, INC_DISP_NONE, true};
        return;
    }
    *next = *stored;
    if (stored->by_detector)
        next->status = status;
    /* never lower: a playbook's or an analyst's raise stays, and the
     * detector's rises always land (the bug this replaces froze the column
     * once a playbook had moved the status, while the doc kept rising) */
    if (severity > stored->severity)
        next->severity = severity;
}

static bool by_playbook(const char *actor) { return strncmp(actor, "playbook:", 9) == 0; }

static bool same_state(const inc_state *a, const inc_state *b)
{
    return a->status == b->status && a->severity == b->severity &&
           a->disposition == b->disposition && a->by_detector == b->by_detector;
}

int inc_rule_change(const inc_state *stored, const inc_change *ch, inc_state *next, char *err,
                    size_t errlen)
{
    *next = *stored;
    bool has_reason = ch->reason && *ch->reason;
    if (!ch->actor || !*ch->actor) {
        snprintf(err, errlen, "a change needs an actor");
        return -1;
    }
    if (ch->status < -1 || ch->status >= INC_STATUS_COUNT) {
        snprintf(err, errlen, "unknown status %d", ch->status);
        return -1;
    }
    if (ch->severity < -1 || ch->severity >= INC_SEVERITY_COUNT) {
        snprintf(err, errlen, "unknown severity %d", ch->severity);
        return -1;
    }
    /* INC_DISP_NONE is not settable: a decision is undone by reopening */
    if (ch->disposition < -1 || ch->disposition == INC_DISP_NONE ||
        ch->disposition >= INC_DISPOSITION_COUNT) {
        snprintf(err, errlen, "unknown disposition %d", ch->disposition);
        return -1;
    }
    if (ch->disposition >= 0 && !has_reason) {
        snprintf(err, errlen, "setting a disposition needs a reason");
        return -1;
    }
    if (ch->status >= 0 && ch->status != stored->status && by_playbook(ch->actor) &&
        stored->disposition != INC_DISP_NONE) {
        snprintf(err, errlen, "the incident was decided (%s): a playbook may not change its status",
                 inc_disposition_name(stored->disposition));
        return -1;
    }
    if (ch->status >= 0) {
        int disp = ch->disposition >= 0 ? ch->disposition : (int)stored->disposition;
        if (inc_status_is_closing(ch->status)) {
            if (disp == INC_DISP_NONE) {
                snprintf(err, errlen, "closing an incident needs a disposition (%s, %s, %s, %s)",
                         inc_disposition_name(INC_TRUE_POSITIVE),
                         inc_disposition_name(INC_FALSE_POSITIVE), inc_disposition_name(INC_BENIGN),
                         inc_disposition_name(INC_DUPLICATE));
                return -1;
            }
            if (!has_reason) {
                snprintf(err, errlen, "closing an incident needs a reason");
                return -1;
            }
        }
        /* whoever sets a status owns it from then on, even the same word
         * (an analyst closing what the detector closed decides it) */
        next->status = ch->status;
        next->by_detector = false;
        /* reopened: the decision is undone with the closing */
        if (!inc_status_is_closing(ch->status) && inc_status_is_closing(stored->status) &&
            ch->disposition < 0)
            next->disposition = INC_DISP_NONE;
    }
    if (ch->severity >= 0)
        next->severity = (inc_severity)ch->severity;
    if (ch->disposition >= 0)
        next->disposition = (inc_disposition)ch->disposition;
    return same_state(stored, next) ? 0 : 1;
}
