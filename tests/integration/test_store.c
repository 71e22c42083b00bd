/* The store against a real PostgreSQL server: one transaction per group of
 * batches, fenced per partition on the offset the database holds. Needs
 * PGHOST/PGPORT (the test command sets them); fails without a server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/batch.h"
#include "collector/collector.h"
#include "collector/store.h"
#include "core/db.h"
#include "tests/lib/db_fixture.h"

static PGconn *g_db;
static char g_name[64];

static long long q(const char *sql) { return t_db_int(g_db, sql); }

static int setup(void **state)
{
    (void)state;
    g_db = t_db_create("store", g_name, sizeof g_name, NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_db_drop(g_db, g_name);
    return 0;
}

/* A batch of n events for topic/partition at offsets [first, first+n). */
static coll_batch *mk(const char *topic, int32_t part, int64_t expected, int64_t first, int n,
                      uint64_t seq)
{
    coll_batch *b = calloc(1, sizeof *b);
    coll_limits lim = coll_limits_default();
    assert_non_null(b);
    b->part_topic = topic;
    b->part_partition = part;
    b->expected = expected;
    b->seq = seq;
    for (int i = 0; i < n; i++) {
        char json[256], err[256];
        core_event ev = {0};
        snprintf(json, sizeof json,
                 "{\"event_id\":\"%s-%d-%lld\",\"ts\":\"2026-11-21T10:00:00Z\","
                 "\"api_key_id\":\"k\",\"model\":\"m\",\"model_version\":\"v\"}",
                 topic, (int)part, (long long)(first + i));
        if (coll_decode_native(&lim, json, strlen(json), &ev, err, sizeof err))
            fail_msg("%s", err);
        ev.topic = topic;
        ev.partition = part;
        ev.offset = first + i;
        assert_int_equal(coll_copy_row(&b->copy, &ev), 0);
        core_event_clear(&ev);
        b->n_rows++;
    }
    b->next_offset = first + n;
    return b;
}

static coll_store_rc store(coll_batch **bs, size_t n, coll_store_rc *res, int64_t *stored)
{
    char err[1024];
    coll_store_rc rc = coll_store_batches(g_db, "g", bs, n, res, stored, err, sizeof err);
    if (rc != COLL_STORE_OK)
        fail_msg("store failed: %s", err);
    return rc;
}

static long long stored_offset(const char *topic, int part)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((SELECT next_offset FROM ingest_offsets WHERE consumer_group='g'"
             " AND topic='%s' AND kafka_partition=%d), -99)", topic, part);
    return q(sql);
}

static void test_chain_in_one_transaction(void **state)
{
    (void)state;
    coll_store_rc res[2];
    int64_t st[2];
    coll_batch *bs[2] = {mk("a", 0, -1, 0, 3, 1), mk("a", 0, 3, 3, 2, 2)};
    store(bs, 2, res, st);
    assert_int_equal(res[0], COLL_STORE_OK);
    assert_int_equal(res[1], COLL_STORE_OK);
    assert_int_equal(stored_offset("a", 0), 5);
    assert_int_equal(q("SELECT count(*) FROM interactions WHERE kafka_topic='a'"), 5);
    coll_batch_free(bs[0]);
    coll_batch_free(bs[1]);
}

static void test_fenced_batch_stores_nothing(void **state)
{
    (void)state;
    coll_store_rc res[1];
    int64_t st[1];
    coll_batch *b = mk("b", 0, -1, 0, 4, 1);
    store(&b, 1, res, st);
    coll_batch_free(b);
    /* a stale owner that believes the partition is still at 2 */
    b = mk("b", 0, 2, 2, 5, 2);
    store(&b, 1, res, st);
    assert_int_equal(res[0], COLL_STORE_FENCED);
    assert_int_equal(st[0], 4);
    assert_int_equal(stored_offset("b", 0), 4);
    assert_int_equal(q("SELECT count(*) FROM interactions WHERE kafka_topic='b'"), 4);
    coll_batch_free(b);
}

static void test_fence_is_per_partition(void **state)
{
    (void)state;
    coll_store_rc res[3];
    int64_t st[3];
    coll_batch *b = mk("c", 1, -1, 0, 1, 1);
    store(&b, 1, res, st);
    coll_batch_free(b);
    /* partition 0 fresh (ok), partition 1 stale (fenced), given out of order */
    coll_batch *bs[3] = {mk("c", 1, 7, 7, 2, 2), mk("c", 0, -1, 0, 2, 3), mk("c", 1, 9, 9, 1, 4)};
    store(bs, 3, res, st);
    for (int i = 0; i < 3; i++) {
        if (bs[i]->part_partition == 0)
            assert_int_equal(res[i], COLL_STORE_OK);
        else
            assert_int_equal(res[i], COLL_STORE_FENCED);
    }
    assert_int_equal(stored_offset("c", 0), 2);
    assert_int_equal(stored_offset("c", 1), 1);
    assert_int_equal(q("SELECT count(*) FROM interactions WHERE kafka_topic='c'"), 3);
    for (int i = 0; i < 3; i++)
        coll_batch_free(bs[i]);
}

static void test_lost_commit_answer_is_not_stored_twice(void **state)
{
    (void)state;
    coll_store_rc res[1];
    int64_t st[1];
    coll_batch *b = mk("d", 0, -1, 0, 3, 1);
    store(&b, 1, res, st);
    coll_batch_free(b);
    /* the same batch again, as after a COMMIT whose answer never arrived */
    b = mk("d", 0, -1, 0, 3, 2);
    store(&b, 1, res, st);
    assert_int_equal(res[0], COLL_STORE_OK);
    assert_int_equal(b->n_rows, 0);
    assert_int_equal(q("SELECT count(*) FROM interactions WHERE kafka_topic='d'"), 3);
    assert_int_equal(stored_offset("d", 0), 3);
    coll_batch_free(b);
}

static void test_refused_row_becomes_dead_letter(void **state)
{
    (void)state;
    coll_store_rc res[1];
    int64_t st[1];
    coll_batch *b = mk("e", 0, -1, 0, 2, 1);
    /* A row PostgreSQL refuses although it passed through the decoder's
     * types: an inet that inet_pton never produced. */
    const char *bad = "2026-11-21T10:00:00Z\tbad\tk\tm\tv\t\\N\t\\N\t\\N\tnot-an-ip\t\\N\t\\N\tf\tf"
                      "\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\te\t0\t2\t\\N\n";
    assert_int_equal(coll_buf_add(&b->copy, bad, strlen(bad)), 0);
    b->n_rows++;
    b->next_offset = 3;
    assert_int_equal(coll_batch_reject(b, 5, -1, -1, "not json", "{", 1, 100, NULL, NULL, 0), 0);
    store(&b, 1, res, st);
    assert_int_equal(res[0], COLL_STORE_OK);
    assert_int_equal(b->n_rows, 2);
    assert_int_equal(q("SELECT count(*) FROM interactions WHERE kafka_topic='e'"), 2);
    assert_int_equal(q("SELECT count(*) FROM rejected_events WHERE topic='e' AND kafka_offset=2"
                       " AND reason LIKE 'PostgreSQL refused the row:%'"), 1);
    assert_int_equal(q("SELECT count(*) FROM rejected_events WHERE topic='e' AND kafka_offset=5"
                       " AND reason = 'not json' AND raw = '\\x7b'::bytea"), 1);
    assert_int_equal(stored_offset("e", 0), 3);
    coll_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_in_one_transaction),
        cmocka_unit_test(test_fenced_batch_stores_nothing),
        cmocka_unit_test(test_fence_is_per_partition),
        cmocka_unit_test(test_lost_commit_answer_is_not_stored_twice),
        cmocka_unit_test(test_refused_row_becomes_dead_letter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
