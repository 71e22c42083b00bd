/* The decision API the CLI and the web console share (pb_actions) against a
 * real PostgreSQL server: one context, opened once, decides several actions
 * on connections from a pool, from two threads at once; each approval
 * executes (the registry revokes the key), a rejection needs a reason, a
 * decided action cannot be decided again, and every decision is audited on
 * a chain that verifies. Needs PGHOST/PGPORT (the test command sets them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/config.h"
#include "core/db.h"
#include "tests/lib/db_fixture.h"
#include "playbooks/pb_store.h"
#include "playbooks/playbooks.h"

static PGconn *g_db;
static char g_name[64], g_dsn[160];

static void text(const char *sql, char *out, size_t n)
{
    PGresult *r = PQexec(g_db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(g_db));
    snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

static int setup(void **state)
{
    (void)state;
    g_db = t_db_create("pb_actions", g_name, sizeof g_name, g_dsn, sizeof g_dsn);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_db_drop(g_db, g_name);
    return 0;
}

/* A revoke of key waiting for a human; returns its id. */
static int64_t pending_revoke(const char *incident, const char *key)
{
    char params[160], state[32], err[512];
    snprintf(params, sizeof params, "{\"key_id\":\"%s\",\"reason\":\"test\"}", key);
    int64_t id = 0;
    bool created = false;
    if (pb_store_propose(g_db, incident, "test", PB_K_REVOKE_KEY, key, params, false, true, 0, 0,
                         "playbook:test", "pending_approval", 3600000, NULL, &id, state,
                         sizeof state, &created, err, sizeof err) < 0)
        fail_msg("propose: %s", err);
    assert_true(created);
    assert_string_equal(state, "pending_approval");
    return id;
}

typedef struct {
    pb_actions *pa;
    core_db_pool *pool;
    int64_t id;
    int rc;
    char state[32], err[512];
} approval;

static void *approve_one(void *arg)
{
    approval *a = arg;
    PGconn *c = core_db_pool_get(a->pool, 10000, a->err, sizeof a->err);
    a->rc = c ? pb_action_approve(a->pa, c, a->id, "alice", NULL, PB_GATE_NONE, a->state, sizeof a->state, a->err,
                                  sizeof a->err)
              : -1;
    if (c)
        core_db_pool_put(a->pool, c);
    return NULL;
}

static void t_decisions_share_one_context(void **s)
{
    (void)s;
    char err[1024], buf[512];
    core_config cfg;
    core_config_defaults(&cfg);
    if (core_config_set(&cfg, "postgres", "dsn", g_dsn, err, sizeof err) < 0 ||
        core_config_set(&cfg, "effectors", "control", "off", err, sizeof err) < 0 ||
        core_config_set(&cfg, "playbooks", "dir", CUSTOS_SOURCE_DIR "/playbooks", err,
                        sizeof err) < 0)
        fail_msg("config: %s", err);
    int64_t a1 = pending_revoke("inc-a", "key-a"), a2 = pending_revoke("inc-b", "key-b"),
            a3 = pending_revoke("inc-c", "key-c");

    core_db_pool *pool = core_db_pool_new(g_dsn, 10, 2);
    assert_non_null(pool);
    pb_actions *pa = pb_actions_open(&cfg, pool, err, sizeof err);
    if (!pa)
        fail_msg("pb_actions_open: %s", err);

    /* two decisions at once on one context, each on its own connection */
    approval x = {.pa = pa, .pool = pool, .id = a1}, y = {.pa = pa, .pool = pool, .id = a2};
    pthread_t tx, ty;
    assert_int_equal(pthread_create(&tx, NULL, approve_one, &x), 0);
    assert_int_equal(pthread_create(&ty, NULL, approve_one, &y), 0);
    pthread_join(tx, NULL);
    pthread_join(ty, NULL);
    if (x.rc != 0 || y.rc != 0)
        fail_msg("approve: %s / %s", x.err, y.err);
    assert_string_equal(x.state, "done");
    assert_string_equal(y.state, "done");
    text("SELECT string_agg(key_id || ':' || status, ',' ORDER BY key_id) FROM api_keys", buf,
         sizeof buf);
    assert_string_equal(buf, "key-a:revoked,key-b:revoked");
    snprintf(err, sizeof err,
             "SELECT string_agg(event || ':' || actor, ',' ORDER BY seq) FROM audit_log WHERE "
             "action_id = %lld",
             (long long)a1);
    text(err, buf, sizeof buf);
    assert_string_equal(buf, "proposed:playbook:test,pending_approval:playbook:test,"
                             "approved:alice,executing:custos,done:custos");

    PGconn *c = core_db_pool_get(pool, 10000, err, sizeof err);
    assert_non_null(c);
    /* decided already: refused, naming the state */
    assert_int_equal(pb_action_approve(pa, c, a1, "alice", NULL, PB_GATE_NONE, buf, sizeof buf, err, sizeof err),
                     PB_DECIDE_NOT_PENDING);
    assert_non_null(strstr(err, "is done, not pending approval"));
    /* a rejection needs a reason */
    assert_int_equal(pb_action_reject(pa, c, a3, "bob", "", err, sizeof err),
                     PB_DECIDE_NEEDS_REASON);
    assert_int_equal(pb_action_reject(pa, c, a3, "bob", "false positive", err, sizeof err), 0);
    snprintf(err, sizeof err,
             "SELECT state || '|' || decided_by || '|' || decision_reason FROM actions WHERE id "
             "= %lld",
             (long long)a3);
    text(err, buf, sizeof buf);
    assert_string_equal(buf, "rejected|bob|false positive");
    assert_int_equal(pb_action_approve(pa, c, 999999, "alice", NULL, PB_GATE_NONE, buf, sizeof buf, err, sizeof err),
                     PB_DECIDE_NOT_FOUND);
    assert_non_null(strstr(err, "not found"));

    int64_t rows = 0, bad = 0;
    char why[256] = "";
    assert_int_equal(audit_verify(c, &rows, &bad, why, sizeof why, err, sizeof err), 0);
    assert_true(rows >= 13);
    core_db_pool_put(pool, c);
    pb_actions_close(pa);
    core_db_pool_free(pool);
    core_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_decisions_share_one_context),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
