/* incidents/ against a real PostgreSQL server: the detector's upsert and
 * the changes of playbooks and analysts meet in one row as the rule says,
 * every change and comment lands in incident_updates and the audit chain in
 * the caller's transaction (and goes with its rollback), and the read
 * queries filter, count and refuse what they should. Needs PGHOST/PGPORT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/db.h"
#include "incidents/incidents.h"

static PGconn *g_admin, *g_c;
static char g_name[96];

static const char *one(const char *sql)
{
    static char buf[4096];
    char err[1024];
    PGresult *r = core_db_query(g_c, sql, 0, NULL, "test query", err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    snprintf(buf, sizeof buf, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    char err[1024], sql[200], dsn[200];
    g_admin = core_db_connect("dbname=postgres", 10, err, sizeof err);
    if (!g_admin)
        fail_msg("needs a PostgreSQL server (PGHOST/PGPORT): %s", err);
    snprintf(g_name, sizeof g_name, "custos_t_inc_db_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", g_name);
    if (core_db_exec(g_admin, sql, err, sizeof err) < 0)
        fail_msg("%s", err);
    snprintf(dsn, sizeof dsn, "dbname=%s", g_name);
    if (!(g_c = core_db_connect(dsn, 10, err, sizeof err)) ||
        core_db_migrate(g_c, err, sizeof err) < 0)
        fail_msg("%s", err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char err[1024], sql[200];
    PQfinish(g_c);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", g_name);
    core_db_exec(g_admin, sql, err, sizeof err);
    PQfinish(g_admin);
    return 0;
}

static inc_record record(const char *id, inc_severity sev, inc_status st, int64_t det_us)
{
    return (inc_record){.incident_id = id, .type = INC_PROBING, .severity = sev, .status = st,
                        .api_key_id = "key-1", .tenant = "tenant-a",
                        .first_seen_us = det_us, .detected_at_us = det_us,
                        .last_seen_us = det_us + 1000000, .alerts = 1,
                        .atlas_array = "{AML.T0054}", .owasp_array = "{LLM01:2025}",
                        .summary = "Key key-1 probed", .doc_json = "{\"severity\":\"x\"}"};
}

static void upsert(const inc_record *r)
{
    char err[1024];
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    if (inc_upsert_detected(g_c, r, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(core_db_commit(g_c, err, sizeof err), 0);
}

/* An open probing incident of key, for alerts to belong to. */
static void seed_incident(const char *id, const char *key)
{
    upsert(&(inc_record){.incident_id = id, .type = INC_PROBING, .severity = INC_HIGH,
                         .status = INC_OPEN, .api_key_id = key, .first_seen_us = 1,
                         .detected_at_us = 1, .last_seen_us = 2, .alerts = 1,
                         .atlas_array = "{}", .owasp_array = "{}", .summary = id,
                         .doc_json = "{}"});
}

static int change(const inc_change *ch, char *err, size_t errlen)
{
    assert_int_equal(core_db_begin(g_c, err, errlen), 0);
    int rc = inc_apply_change(g_c, ch, err, errlen);
    if (rc > 0)
        assert_int_equal(core_db_commit(g_c, err, errlen), 0);
    else
        core_db_rollback(g_c);
    return rc;
}

static void t_detector_and_changes(void **state)
{
    (void)state;
    char err[1024];
    inc_record r = record("inc-a", INC_LOW, INC_OPEN, 1700000000000000);
    upsert(&r);
    assert_string_equal(one("SELECT status || severity || tenant FROM incidents WHERE "
                            "incident_id = 'inc-a'"),
                        "openlowtenant-a");
    inc_change pb = {.incident_id = "inc-a", .actor = "playbook:throttle", .status = INC_CONTAINED,
                     .severity = -1, .disposition = -1, .action_id = 0};
    assert_int_equal(change(&pb, err, sizeof err), 1);
    r.severity = INC_HIGH; /* the detector's rise after the playbook's status */
    upsert(&r);
    assert_string_equal(one("SELECT status || ' ' || severity || ' ' || status_by FROM incidents "
                            "WHERE incident_id = 'inc-a'"),
                        "contained high playbook:throttle");
    /* an assignee, then a refused close, then an analyst's close */
    inc_change as = {.incident_id = "inc-a", .actor = "alice", .status = -1, .severity = -1,
                     .disposition = -1, .assignee = "bob"};
    assert_int_equal(change(&as, err, sizeof err), 1);
    inc_change bad = {.incident_id = "inc-a", .actor = "alice", .status = INC_CLOSED,
                      .severity = -1, .disposition = -1, .reason = "done"};
    assert_int_equal(change(&bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "disposition"));
    inc_change ctl = as;
    ctl.assignee = "bob\nINFO forged";
    assert_int_equal(change(&ctl, err, sizeof err), -1);
    inc_change close = bad;
    close.disposition = INC_TRUE_POSITIVE;
    assert_int_equal(change(&close, err, sizeof err), 1);
    assert_string_equal(one("SELECT concat_ws('|', status, disposition, assignee, closed_by, "
                            "close_reason) FROM incidents WHERE incident_id = 'inc-a'"),
                        "closed|true_positive|bob|alice|done");
    /* a playbook after the decision: refused, nothing written */
    assert_int_equal(change(&pb, err, sizeof err), -1);
    assert_string_equal(one("SELECT count(*) FROM incident_updates WHERE incident_id = 'inc-a'"),
                        "3");
    assert_string_equal(one("SELECT string_agg(actor || ':' || event, ',' ORDER BY seq) FROM "
                            "audit_log WHERE incident_id = 'inc-a'"),
                        "playbook:throttle:incident_changed,alice:incident_changed,"
                        "alice:incident_changed");
    /* the detector's later update leaves the decision */
    r.status = INC_OPEN;
    r.severity = INC_CRITICAL;
    upsert(&r);
    assert_string_equal(one("SELECT status || severity FROM incidents WHERE incident_id = 'inc-a'"),
                        "closedcritical");
    inc_change none = {.incident_id = "inc-none", .actor = "alice", .status = -1, .severity = -1,
                       .disposition = -1};
    assert_int_equal(change(&none, err, sizeof err), 0);
    int64_t rows = 0, bad_seq = 0;
    char why[256];
    assert_int_equal(audit_verify(g_c, &rows, &bad_seq, why, sizeof why, err, sizeof err), 0);
    assert_int_equal(rows, 3);
}

static void t_comments(void **state)
{
    (void)state;
    char err[1024];
    inc_record r = record("inc-c", INC_MEDIUM, INC_OPEN, 1700000100000000);
    upsert(&r);
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    int64_t id = inc_comment_add(g_c, "inc-c", "alice", "looks like the red team", err, sizeof err);
    assert_true(id > 0);
    core_db_rollback(g_c); /* the comment and its audit row go together */
    assert_string_equal(one("SELECT count(*) FROM incident_comments"), "0");
    assert_string_equal(one("SELECT count(*) FROM audit_log WHERE incident_id = 'inc-c'"), "0");
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    assert_true(inc_comment_add(g_c, "inc-c", "alice", "looks like the red team", err,
                                sizeof err) > 0);
    assert_int_equal(inc_comment_add(g_c, "inc-missing", "alice", "x", err, sizeof err), -1);
    core_db_rollback(g_c); /* a failed statement aborts the transaction */
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    assert_true(inc_comment_add(g_c, "inc-c", "alice", "looks like the red team", err,
                                sizeof err) > 0);
    assert_int_equal(inc_comment_add(g_c, "inc-c", "alice", "", err, sizeof err), -1);
    char *big = malloc(10002);
    memset(big, 'a', 10001);
    big[10001] = '\0';
    assert_int_equal(inc_comment_add(g_c, "inc-c", "alice", big, err, sizeof err), -1);
    free(big);
    assert_int_equal(core_db_commit(g_c, err, sizeof err), 0);
    assert_string_equal(one("SELECT actor || ':' || event FROM audit_log WHERE incident_id = "
                            "'inc-c'"),
                        "alice:incident_commented");
    bool found = false;
    cJSON *o = inc_get(g_c, "inc-c", false, &found, err, sizeof err);
    assert_non_null(o);
    assert_true(found);
    cJSON *cm = cJSON_GetObjectItemCaseSensitive(o, "comments");
    assert_int_equal(cJSON_GetArraySize(cm), 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                            cJSON_GetArrayItem(cm, 0), "body")),
                        "looks like the red team");
    cJSON_Delete(o);
    assert_null(inc_get(g_c, "inc-zz", false, &found, err, sizeof err));
    assert_false(found);
    assert_string_equal(err, "");
}

static void t_list_and_counts(void **state)
{
    (void)state;
    char err[1024];
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "inc-l%d", i);
        inc_record r = record(id, i % 2 ? INC_HIGH : INC_LOW, i < 2 ? INC_CLOSED : INC_OPEN,
                              1700001000000000 + i * 1000000LL);
        r.tenant = i == 4 ? "tenant-b" : "tenant-a";
        upsert(&r);
    }
    inc_filter f = {.tenant = "tenant-b", .limit = 10};
    cJSON *page = inc_list(g_c, &f, err, sizeof err);
    assert_non_null(page);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "incidents")), 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(page, "next_cursor")));
    cJSON_Delete(page);
    inc_filter g = {.severity = "HIGH", .since_us = 1700001000000000, .limit = 10};
    page = inc_list(g_c, &g, err, sizeof err);
    assert_non_null(page);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "incidents")), 2);
    cJSON_Delete(page);
    inc_filter all = {.since_us = 1700001000000000, .limit = 10};
    cJSON *n = inc_counts_by_status(g_c, &all, err, sizeof err);
    assert_non_null(n);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(n, "open")), 3);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(n, "closed")), 2);
    cJSON_Delete(n);
    inc_filter text = {.text = "KEY-1 PROBED", .since_us = 1700001000000000, .limit = 10};
    page = inc_list(g_c, &text, err, sizeof err);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "incidents")), 5);
    cJSON_Delete(page);
    /* refused: bad values, a limit out of range, times the wrong way round */
    inc_filter b1 = {.type = "phishing", .limit = 10}, b2 = {.limit = 501},
               b3 = {.since_us = 2, .until_us = 1, .limit = 10},
               b4 = {.status = "open'; --", .limit = 10}, b5 = {.cursor = "c1zz", .limit = 10};
    const inc_filter *bads[] = {&b1, &b2, &b3, &b4, &b5};
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        err[0] = '\0';
        assert_null(inc_list(g_c, bads[i], err, sizeof err));
        assert_true(err[0] != '\0');
    }
}

/* inc_upsert_detected_many leaves each row as inc_upsert_detected does,
 * one by one: the same steps on twin incidents ("one-X" one by one,
 * "many-X" in batches) give the same columns: new ones, a later update
 * with a severity rise, one whose status a playbook moved (the status
 * stays theirs, the severity follows the detector's up), one closed by the
 * detector, and records read in place from a larger struct (stride). */
static void t_upsert_many(void **state)
{
    (void)state;
    char err[1024];
    enum { K = 4 };
    const char *names[K] = {"p", "q", "r", "s"};
    struct {
        char pad[3];
        inc_record rec;
        char one_id[32], many_id[32];
    } x[K];
    for (int k = 0; k < K; k++) {
        snprintf(x[k].one_id, sizeof x[k].one_id, "one-%s", names[k]);
        snprintf(x[k].many_id, sizeof x[k].many_id, "many-%s", names[k]);
        x[k].rec = record(x[k].many_id, INC_LOW, INC_OPEN, 1700000000000000LL + k);
        x[k].rec.tenant = k == 2 ? NULL : "tenant-a";
    }
    /* step 1: all new */
    for (int k = 0; k < K; k++) {
        inc_record r = x[k].rec;
        r.incident_id = x[k].one_id;
        upsert(&r);
    }
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    if (inc_upsert_detected_many(g_c, &x[0].rec, K, sizeof x[0], err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(core_db_commit(g_c, err, sizeof err), 0);
    /* a playbook contains q in both */
    for (int twin = 0; twin < 2; twin++) {
        inc_change pb = {.incident_id = twin ? x[1].many_id : x[1].one_id,
                         .actor = "playbook:throttle", .status = INC_CONTAINED, .severity = -1,
                         .disposition = -1};
        assert_int_equal(change(&pb, err, sizeof err), 1);
    }
    /* step 2: rises, more alerts, s closed by the detector, r's tenant learnt;
     * p stays out of this flush, and one new incident comes in */
    for (int k = 0; k < K; k++) {
        x[k].rec.severity = k == 3 ? INC_MEDIUM : INC_CRITICAL;
        x[k].rec.alerts = 10 + k;
        x[k].rec.last_seen_us += 5000000;
        x[k].rec.summary = "later";
        x[k].rec.doc_json = "{\"n\": 2}";
        x[k].rec.tenant = "tenant-b";
    }
    x[3].rec.status = INC_CLOSED;
    x[0].rec = record(x[0].many_id, INC_HIGH, INC_OPEN, 1700000000000009LL);
    snprintf(x[0].one_id, sizeof x[0].one_id, "one-t");
    snprintf(x[0].many_id, sizeof x[0].many_id, "many-t");
    for (int k = 0; k < K; k++) {
        inc_record r = x[k].rec;
        r.incident_id = x[k].one_id;
        upsert(&r);
    }
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    if (inc_upsert_detected_many(g_c, &x[0].rec, K, sizeof x[0], err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(core_db_commit(g_c, err, sizeof err), 0);
    const char *cols = "string_agg(concat_ws('|', substr(incident_id, strpos(incident_id, '-') + 1),"
                       " type, severity, status, status_by, api_key_id, first_seen, detected_at,"
                       " last_seen, alerts, atlas, owasp, summary, doc, tenant), ';' ORDER BY"
                       " incident_id)";
    char q1[1024], q2[1024], a[4096];
    snprintf(q1, sizeof q1, "SELECT %s FROM incidents WHERE incident_id LIKE 'one-%%'", cols);
    snprintf(q2, sizeof q2, "SELECT %s FROM incidents WHERE incident_id LIKE 'many-%%'", cols);
    snprintf(a, sizeof a, "%s", one(q1));
    assert_string_equal(one(q2), a);
    assert_string_equal(one("SELECT count(*) FROM incidents WHERE incident_id LIKE 'many-%'"),
                        "5");
    assert_string_equal(one("SELECT status || ' ' || severity FROM incidents WHERE"
                            " incident_id = 'many-q'"),
                        "contained critical");
    /* a bad record refuses the call */
    inc_record bad = x[1].rec;
    bad.doc_json = NULL;
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    assert_int_equal(inc_upsert_detected_many(g_c, &bad, 1, sizeof bad, err, sizeof err), -1);
    core_db_rollback(g_c);
}

/* inc_alerts_insert stores what inc_alert_insert and inc_link_event store
 * one by one: every alert (across the 2,000-row statements), a repeat
 * ignored, alerts alone without a link, text with quotes, backslashes,
 * commas and braces kept byte for byte. */
static void t_alerts_many(void **state)
{
    (void)state;
    char err[1024];
    seed_incident("inc-many", "key-m");
    enum { N = 4500 };
    static inc_alert as[N + 2];
    static char ids[N][32];
    const char *odd = "a \"quoted\", back\\slash, {braces} NULL";
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "ev-%d", i);
        as[i] = (inc_alert){.incident_id = i % 3 ? "inc-many" : NULL, .type = INC_PROBING,
                            .severity = INC_HIGH, .ts_us = 1700000000000000LL + i,
                            .event_id = ids[i], .api_key_id = "key-m", .model = "m",
                            .model_version = i % 2 ? "v1" : NULL, .summary = odd,
                            .evidence_json = "{\"rule\": \"jb\\\\x\"}"};
    }
    as[N] = as[1];     /* a repeat of an incident's alert */
    as[N + 1] = as[0]; /* a repeat of an alert alone */
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    if (inc_alerts_insert(g_c, as, N + 2, sizeof *as, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(core_db_commit(g_c, err, sizeof err), 0);
    char want[32];
    snprintf(want, sizeof want, "%d", N);
    assert_string_equal(one("SELECT count(*) FROM alerts WHERE api_key_id = 'key-m'"), want);
    snprintf(want, sizeof want, "%d", N / 3);
    assert_string_equal(one("SELECT count(*) FROM alerts WHERE api_key_id = 'key-m'"
                            " AND incident_id IS NULL"), want);
    snprintf(want, sizeof want, "%d", N - N / 3);
    assert_string_equal(one("SELECT count(*) FROM incident_events WHERE incident_id = 'inc-many'"),
                        want);
    assert_string_equal(one("SELECT count(DISTINCT summary) || ' ' || min(summary) FROM alerts"
                            " WHERE api_key_id = 'key-m'"),
                        "1 a \"quoted\", back\\slash, {braces} NULL");
    assert_string_equal(one("SELECT evidence->>'rule' FROM alerts WHERE event_id = 'ev-7'"),
                        "jb\\x");
    assert_string_equal(one("SELECT count(*) FROM alerts WHERE event_id = 'ev-2'"
                            " AND model_version IS NULL AND ts = '2023-11-14 22:13:20.000002+00'"),
                        "1");
    /* a bad row refuses the whole call, in the caller's transaction */
    inc_alert bad = as[5];
    bad.event_id = NULL;
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    assert_int_equal(inc_alerts_insert(g_c, &bad, 1, sizeof bad, err, sizeof err), -1);
    core_db_rollback(g_c);
}

/* Numbered and coalesced rows (inc_alert_groups_insert): one row for many
 * alerts of an incident, read in place from a larger record (stride); a
 * flush replayed after a crash stores only the alert numbers no row covers
 * yet (so the counts still add up to the alerts raised), a row wholly
 * covered nothing, a repeated single alert nothing; two alerts of one
 * event are both counted; a coalesced row beside a single alert of the same
 * event is kept; a bad row refuses the call. */
static void t_alert_groups(void **state)
{
    (void)state;
    char err[1024];
    seed_incident("inc-grp", "key-g");
    struct {
        int pad;
        inc_alert_group g;
        char tail[8];
    } rec[2];
    const int64_t t0 = 1700000000000000LL;
    inc_alert_group base = {.a = {.incident_id = "inc-grp", .type = INC_PROBING,
                                  .severity = INC_MEDIUM, .event_id = "ev-g101",
                                  .api_key_id = "key-g", .model = "m",
                                  .summary = "jailbreak \"x\"",
                                  .evidence_json = "{\"rule_id\": \"jb\"}"}};
    /* single alerts, numbered: the first of the same event the first group
     * starts at; the second and third both of one event (each counted) */
    inc_alert single[3] = {
        {.incident_id = "inc-grp", .type = INC_PROBING, .severity = INC_HIGH, .ts_us = t0,
         .event_id = "ev-g101", .api_key_id = "key-g", .seq = 1},
        {.incident_id = "inc-grp", .type = INC_PROBING, .severity = INC_HIGH, .ts_us = t0 + 1,
         .event_id = "ev-dup", .api_key_id = "key-g", .seq = 2},
        {.incident_id = "inc-grp", .type = INC_PROBING, .severity = INC_HIGH, .ts_us = t0 + 1,
         .event_id = "ev-dup", .api_key_id = "key-g", .seq = 3}};
    rec[0].g = base;
    rec[0].g.a.ts_us = t0 + 10, rec[0].g.last_ts_us = t0 + 99;
    rec[0].g.count = 50, rec[0].g.a.seq = 101, rec[0].g.last_seq = 150;
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    if (inc_alerts_insert(g_c, single, 3, sizeof single[0], err, sizeof err) < 0 ||
        inc_alerts_insert(g_c, &single[1], 1, sizeof single[0], err, sizeof err) < 0 || /* a replay */
        inc_alert_groups_insert(g_c, &rec[0].g, 1, sizeof rec[0], err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(core_db_commit(g_c, err, sizeof err), 0);
    /* the replay: numbers 121..180 (121..150 stored) and a row of 151..160
     * stored whole after it */
    rec[0].g = base;
    rec[0].g.a.event_id = "ev-g121";
    rec[0].g.a.ts_us = t0 + 50, rec[0].g.last_ts_us = t0 + 200;
    rec[0].g.count = 60, rec[0].g.a.seq = 121, rec[0].g.last_seq = 180;
    rec[0].g.a.severity = INC_CRITICAL;
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    if (inc_alert_groups_insert(g_c, &rec[0].g, 1, sizeof rec[0], err, sizeof err) < 0)
        fail_msg("%s", err);
    /* and once more, wholly covered */
    if (inc_alert_groups_insert(g_c, &rec[0].g, 1, sizeof rec[0], err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(core_db_commit(g_c, err, sizeof err), 0);
    assert_string_equal(one("SELECT string_agg(concat_ws(' ', first_seq, last_seq, count, severity,"
                            " event_id), ', ' ORDER BY first_seq NULLS FIRST) FROM alerts"
                            " WHERE incident_id = 'inc-grp'"),
                        "1 1 1 high ev-g101, 2 2 1 high ev-dup, 3 3 1 high ev-dup, "
                        "101 150 50 medium ev-g101, 151 180 30 critical ev-g121");
    assert_string_equal(one("SELECT sum(count) FROM alerts WHERE incident_id = 'inc-grp'"), "83");
    assert_string_equal(one("SELECT summary || ' ' || (evidence->>'rule_id') || ' ' ||"
                            " (last_ts - ts)::text FROM alerts WHERE first_seq = 101"
                            " AND incident_id = 'inc-grp'"),
                        "jailbreak \"x\" jb 00:00:00.000089");
    /* coalesced rows link no evidence: the key over the incident's span finds it */
    assert_string_equal(one("SELECT count(*) FROM incident_events WHERE incident_id = 'inc-grp'"),
                        "2");
    /* bad rows refuse the call */
    rec[1].g = base;
    rec[1].g.a.ts_us = rec[1].g.last_ts_us = t0;
    rec[1].g.a.seq = 200, rec[1].g.last_seq = 209, rec[1].g.count = 11; /* more than 10 numbers */
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    assert_int_equal(inc_alert_groups_insert(g_c, &rec[1].g, 1, sizeof rec[1], err, sizeof err), -1);
    core_db_rollback(g_c);
    rec[1].g.count = 10;
    rec[1].g.a.incident_id = NULL; /* a coalesced row belongs to an incident */
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    assert_int_equal(inc_alert_groups_insert(g_c, &rec[1].g, 1, sizeof rec[1], err, sizeof err), -1);
    core_db_rollback(g_c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_detector_and_changes),
        cmocka_unit_test(t_comments),
        cmocka_unit_test(t_list_and_counts),
        cmocka_unit_test(t_upsert_many),
        cmocka_unit_test(t_alerts_many),
        cmocka_unit_test(t_alert_groups),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
