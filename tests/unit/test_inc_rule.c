/* The one status rule: the detector's side (inc_rule_detected) and the
 * playbooks' and analysts' side (inc_rule_change). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "incidents/incidents.h"

static const inc_state g_open_low = {INC_OPEN, INC_LOW, INC_DISP_NONE, true};

static void t_detected_new(void **s)
{
    (void)s;
    inc_state n;
    inc_rule_detected(NULL, INC_OPEN, INC_MEDIUM, &n);
    assert_int_equal(n.status, INC_OPEN);
    assert_int_equal(n.severity, INC_MEDIUM);
    assert_int_equal(n.disposition, INC_DISP_NONE);
    assert_true(n.by_detector);
}

/* While the status is the detector's, its status and severity win. */
static void t_detected_owns(void **s)
{
    (void)s;
    inc_state n;
    inc_rule_detected(&g_open_low, INC_CLOSED, INC_HIGH, &n);
    assert_int_equal(n.status, INC_CLOSED);
    assert_int_equal(n.severity, INC_HIGH);
    assert_true(n.by_detector);
}

/* The bug this replaces: once a playbook moved the status, the severity
 * column stopped rising while the doc kept rising. */
static void t_detected_after_playbook(void **s)
{
    (void)s;
    inc_state stored = {INC_CONTAINED, INC_MEDIUM, INC_DISP_NONE, false}, n;
    inc_rule_detected(&stored, INC_OPEN, INC_CRITICAL, &n);
    assert_int_equal(n.status, INC_CONTAINED); /* the playbook's */
    assert_int_equal(n.severity, INC_CRITICAL); /* still the detector's rise */
    assert_false(n.by_detector);
    inc_rule_detected(&stored, INC_CLOSED, INC_LOW, &n); /* never lower */
    assert_int_equal(n.severity, INC_MEDIUM);
    assert_int_equal(n.status, INC_CONTAINED);
    /* a word outside the vocabulary (a playbook's own) is kept as well */
    inc_state word = {-1, INC_LOW, INC_DISP_NONE, false};
    inc_rule_detected(&word, INC_OPEN, INC_HIGH, &n);
    assert_int_equal(n.status, -1);
    assert_int_equal(n.severity, INC_HIGH);
}

/* An analyst's closing survives the detector's later updates. */
static void t_detected_after_close(void **s)
{
    (void)s;
    inc_state closed = {INC_CLOSED, INC_HIGH, INC_FALSE_POSITIVE, false}, n;
    inc_rule_detected(&closed, INC_OPEN, INC_CRITICAL, &n);
    assert_int_equal(n.status, INC_CLOSED);
    assert_int_equal(n.disposition, INC_FALSE_POSITIVE);
    assert_int_equal(n.severity, INC_CRITICAL);
}

static inc_change change(const char *actor, int status, int disp, const char *reason)
{
    return (inc_change){.incident_id = "inc-1", .actor = actor, .status = status,
                        .severity = -1, .disposition = disp, .reason = reason};
}

static void t_close_needs_disposition_and_reason(void **s)
{
    (void)s;
    inc_state n;
    char err[256];
    inc_change c = change("cli:alice", INC_CLOSED, -1, "done");
    assert_int_equal(inc_rule_change(&g_open_low, &c, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "disposition"));
    c = change("cli:alice", INC_CLOSED, INC_FALSE_POSITIVE, NULL);
    assert_int_equal(inc_rule_change(&g_open_low, &c, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "reason"));
    c = change("cli:alice", INC_RESOLVED, INC_TRUE_POSITIVE, "");
    assert_int_equal(inc_rule_change(&g_open_low, &c, &n, err, sizeof err), -1);
    c = change("cli:alice", INC_CLOSED, INC_FALSE_POSITIVE, "test key");
    assert_int_equal(inc_rule_change(&g_open_low, &c, &n, err, sizeof err), 1);
    assert_int_equal(n.status, INC_CLOSED);
    assert_int_equal(n.disposition, INC_FALSE_POSITIVE);
    assert_false(n.by_detector);
    /* the detector closed it (quiet period): an analyst deciding it still
     * owns the status from then on */
    inc_state dclosed = {INC_CLOSED, INC_LOW, INC_DISP_NONE, true};
    assert_int_equal(inc_rule_change(&dclosed, &c, &n, err, sizeof err), 1);
    assert_false(n.by_detector);
}

static void t_refused_values(void **s)
{
    (void)s;
    inc_state n;
    char err[256];
    inc_change c = change("cli:alice", INC_STATUS_COUNT, -1, NULL);
    assert_int_equal(inc_rule_change(&g_open_low, &c, &n, err, sizeof err), -1);
    c = change("cli:alice", -1, INC_DISP_NONE, "x"); /* "none" cannot be set */
    assert_int_equal(inc_rule_change(&g_open_low, &c, &n, err, sizeof err), -1);
    c = change("cli:alice", -1, INC_BENIGN, NULL); /* a disposition needs a reason */
    assert_int_equal(inc_rule_change(&g_open_low, &c, &n, err, sizeof err), -1);
    c = change("", INC_CONTAINED, -1, NULL);
    assert_int_equal(inc_rule_change(&g_open_low, &c, &n, err, sizeof err), -1);
    c = change("cli:alice", -1, -1, NULL);
    c.severity = INC_SEVERITY_COUNT;
    assert_int_equal(inc_rule_change(&g_open_low, &c, &n, err, sizeof err), -1);
}

static void t_playbook(void **s)
{
    (void)s;
    inc_state n;
    char err[256];
    inc_change c = change("playbook:revoke", INC_CONTAINED, -1, NULL);
    assert_int_equal(inc_rule_change(&g_open_low, &c, &n, err, sizeof err), 1);
    assert_int_equal(n.status, INC_CONTAINED);
    assert_false(n.by_detector);
    /* a person decided it: a playbook may no longer move its status */
    inc_state decided = {INC_CLOSED, INC_HIGH, INC_FALSE_POSITIVE, false};
    assert_int_equal(inc_rule_change(&decided, &c, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "decided"));
    /* but may raise its severity */
    c = change("playbook:escalate", -1, -1, NULL);
    c.severity = INC_CRITICAL;
    assert_int_equal(inc_rule_change(&decided, &c, &n, err, sizeof err), 1);
    assert_int_equal(n.severity, INC_CRITICAL);
    assert_int_equal(n.status, INC_CLOSED);
}

static void t_reopen_and_noop(void **s)
{
    (void)s;
    inc_state n;
    char err[256];
    inc_state decided = {INC_CLOSED, INC_HIGH, INC_FALSE_POSITIVE, false};
    inc_change c = change("cli:bob", INC_INVESTIGATING, -1, "not so sure");
    assert_int_equal(inc_rule_change(&decided, &c, &n, err, sizeof err), 1);
    assert_int_equal(n.status, INC_INVESTIGATING);
    assert_int_equal(n.disposition, INC_DISP_NONE); /* undone with the closing */
    c = change("cli:bob", -1, -1, NULL);
    assert_int_equal(inc_rule_change(&decided, &c, &n, err, sizeof err), 0);
    assert_memory_equal(&n, &decided, sizeof n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_detected_new),
        cmocka_unit_test(t_detected_owns),
        cmocka_unit_test(t_detected_after_playbook),
        cmocka_unit_test(t_detected_after_close),
        cmocka_unit_test(t_close_needs_disposition_and_reason),
        cmocka_unit_test(t_refused_values),
        cmocka_unit_test(t_playbook),
        cmocka_unit_test(t_reopen_and_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
