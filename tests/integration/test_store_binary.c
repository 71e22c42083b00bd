/* COPY binary against COPY text through a real PostgreSQL server: the same
 * events (seeded random ones, every column's edge values: NULLs, escapes,
 * multi-byte text, IPv4 and IPv6, extreme numbers, nested JSON, Kafka
 * timestamps) written once as text rows and once as binary tuples, in one
 * store call (two COPYs), read back equal column by column; each binary
 * tuple rendered as text equals the text row; a row PostgreSQL refuses in a
 * binary batch becomes the same dead letter as in a text one. Needs
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
#include "tests/lib/rng.h"

#define N_EVENTS 400

static PGconn *g_db;
static char g_name[64];

static int setup(void **state)
{
    (void)state;
    g_db = t_db_create("store_bin", g_name, sizeof g_name, NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_db_drop(g_db, g_name);
    return 0;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) { return t_xorshift64(&g_rng); }
static int pick(int n) { return (int)(rnd() % (uint64_t)n); }

/* A random text: plain words, COPY text's escaped characters, quotes,
 * multi-byte UTF-8; maybe empty. */
static const char *rnd_text(core_event *ev, size_t max)
{
    static const char *const parts[] = {"hello", " ", "\t", "\n", "\r", "\\", "\\N", "\"",
                                        "'", "é", "日本語", "🙂", "{", "}", ",", "a\\tb", "0"};
    char buf[512];
    size_t n = 0, want = (size_t)pick((int)max + 1);
    while (n < want) {
        const char *p = parts[pick((int)(sizeof parts / sizeof *parts))];
        size_t l = strlen(p);
        if (n + l >= sizeof buf)
            break;
        memcpy(buf + n, p, l);
        n += l;
    }
    return core_event_strdup(ev, buf, n);
}

static const char *maybe_text(core_event *ev, size_t max)
{
    return pick(4) == 0 ? NULL : rnd_text(ev, max);
}

static const char *rnd_json(core_event *ev)
{
    static const char *const docs[] = {
        "{}",
        "{\"toxicity\":0.25,\"pii\":1e-07}",
        "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":\"x\\ty\\nz\\\\\"}",
        "{\"unicode\":\"\\u00e9\\u65e5\\ud83d\\ude42\",\"raw\":\"é🙂\"}",
        "{\"big\":12345678901234567890,\"neg\":-0.0,\"t\":true,\"f\":false}",
        "{\"dup\":1,\"dup\":2}",
    };
    if (pick(3) == 0)
        return NULL;
    const char *d = docs[pick((int)(sizeof docs / sizeof *docs))];
    return core_event_strdup(ev, d, strlen(d));
}

static void rnd_event(core_event *ev, const char *topic, int64_t offset)
{
    static const char *const ips[] = {"10.0.0.1", "255.255.255.255", "0.0.0.0", "::1",
                                      "2001:db8::ff00:42:8329", "::ffff:192.0.2.1", "fe80::"};
    static const double lats[] = {0, 0.1, 1e-300, 123456.789, 1.7976931348623157e308, 3.0};
    static const int64_t tss[] = {0, 946684800000000LL, 1763719200123456LL, -1000001LL,
                                  4102444800999999LL};
    memset(ev, 0, sizeof *ev);
    char id[48];
    snprintf(id, sizeof id, "ev-%lld", (long long)offset);
    ev->event_id = core_event_strdup(ev, id, strlen(id));
    ev->ts_us = pick(3) ? tss[pick(5)] : (int64_t)(rnd() % 4102444800000000ULL);
    ev->api_key_id = rnd_text(ev, 6);
    ev->model = rnd_text(ev, 4);
    ev->model_version = rnd_text(ev, 3);
    ev->tenant = maybe_text(ev, 3);
    ev->user_id = maybe_text(ev, 3);
    ev->session_id = maybe_text(ev, 3);
    ev->client_ip = pick(4) ? ips[pick(7)] : NULL;
    if (pick(4)) {
        ev->prompt = rnd_text(ev, 60);
        ev->prompt_len = strlen(ev->prompt);
    }
    if (pick(4)) {
        ev->response = rnd_text(ev, 60);
        ev->response_len = strlen(ev->response);
    }
    ev->prompt_truncated = pick(2);
    ev->response_truncated = pick(2);
    ev->prompt_tokens = pick(3) ? (int64_t)(rnd() >> (1 + pick(63))) : -1;
    ev->completion_tokens = pick(3) ? (pick(2) ? 0 : INT64_MAX) : -1;
    ev->has_latency = pick(3);
    ev->latency_ms = pick(2) ? lats[pick(6)] : (double)(rnd() % 1000000) / 1000.0;
    ev->has_status = pick(3);
    ev->status = pick(2) ? 200 : (int32_t)(rnd() & 0xffffffff);
    ev->finish_reason = maybe_text(ev, 2);
    ev->refusal = pick(3) - 1;
    ev->scores_json = rnd_json(ev);
    ev->attrs_json = rnd_json(ev);
    ev->topic = topic;
    ev->partition = pick(5) ? pick(64) : -1;
    ev->offset = offset;
    ev->kafka_ts_ms = pick(4) ? 1763719200123LL + pick(100000) : -1;
}

static coll_batch *new_batch(const char *topic, bool binary)
{
    coll_batch *b = calloc(1, sizeof *b);
    assert_non_null(b);
    b->part_topic = topic;
    b->part_partition = 0;
    b->expected = -1;
    b->binary = binary;
    return b;
}

/* Adds ev to b in b's format, with its coordinates. */
static void add_row(coll_batch *b, const core_event *ev)
{
    assert_int_equal(b->binary ? coll_copy_row_bin(&b->copy, ev) : coll_copy_row(&b->copy, ev),
                     0);
    b->at = realloc(b->at, (b->n_at + 1) * sizeof *b->at);
    assert_non_null(b->at);
    b->at[b->n_at++] = (coll_event_at){ev->offset, 0, 1, b->copy.len};
    b->n_rows++;
    b->next_offset = ev->offset + 1;
}

static void store(coll_batch **bs, size_t n)
{
    char err[1024];
    coll_store_rc res[4];
    int64_t st[4];
    if (coll_store_batches(g_db, "g", bs, n, res, st, err, sizeof err) != COLL_STORE_OK)
        fail_msg("store failed: %s", err);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(res[i], COLL_STORE_OK);
}

#define READ_SQL                                                                               \
    "SELECT ts, event_id, api_key_id, model, model_version, tenant, user_id, session_id, "   \
    "client_ip, prompt, response, prompt_truncated, response_truncated, prompt_tokens, "     \
    "completion_tokens, latency_ms, status, finish_reason, refusal, scores, attrs, "         \
    "kafka_partition, kafka_offset, kafka_ts FROM interactions WHERE kafka_topic = $1 "      \
    "ORDER BY kafka_offset"

static PGresult *read_rows(const char *topic)
{
    const char *p[1] = {topic};
    PGresult *r = PQexecParams(g_db, READ_SQL, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s", PQerrorMessage(g_db));
    return r;
}

static void binary_rows_read_back_equal_to_text_rows(void **state)
{
    (void)state;
    coll_batch *bt = new_batch("rt.text", false), *bb = new_batch("rt.bin", true);
    coll_buf rendered = {0};
    for (int i = 0; i < N_EVENTS; i++) {
        core_event et, eb;
        uint64_t seed = g_rng;
        rnd_event(&et, "rt.text", i);
        g_rng = seed; /* the same event again, but for its topic */
        rnd_event(&eb, "rt.bin", i);
        size_t bstart = bb->copy.len;
        add_row(bt, &et);
        add_row(bb, &eb);
        /* the binary tuple, read as text, is the text row (but its topic) */
        rendered.len = 0;
        assert_int_equal(coll_copy_bin_to_text(bb->copy.data + bstart, bb->copy.len - bstart,
                                               &rendered),
                         0);
        coll_buf want = {0};
        assert_int_equal(coll_copy_row(&want, &eb), 0);
        assert_int_equal(rendered.len, want.len);
        assert_memory_equal(rendered.data, want.data, want.len);
        coll_buf_free(&want);
        core_event_clear(&et);
        core_event_clear(&eb);
    }
    coll_buf_free(&rendered);
    coll_batch *bs[2] = {bt, bb};
    store(bs, 2); /* one transaction, a COPY per format */
    PGresult *rt = read_rows("rt.text"), *rb = read_rows("rt.bin");
    assert_int_equal(PQntuples(rt), N_EVENTS);
    assert_int_equal(PQntuples(rb), N_EVENTS);
    assert_int_equal(PQnfields(rt), PQnfields(rb));
    int nulls = 0;
    for (int r = 0; r < N_EVENTS; r++)
        for (int f = 0; f < PQnfields(rt); f++) {
            int nt = PQgetisnull(rt, r, f), nb = PQgetisnull(rb, r, f);
            if (nt != nb)
                fail_msg("row %d column %s: NULL in one format only", r, PQfname(rt, f));
            nulls += nt;
            if (!nt && strcmp(PQgetvalue(rt, r, f), PQgetvalue(rb, r, f)) != 0)
                fail_msg("row %d column %s: text '%s', binary '%s'", r, PQfname(rt, f),
                         PQgetvalue(rt, r, f), PQgetvalue(rb, r, f));
        }
    assert_true(nulls > 0); /* the NULL paths were taken */
    PQclear(rt);
    PQclear(rb);
    coll_batch_free(bt);
    coll_batch_free(bb);
}

static long long q(const char *sql) { return t_db_int(g_db, sql); }

/* An inet no decoder would hand over: the whole batch's COPY is refused,
 * the rows go one by one, the bad one becomes a dead letter at its offset
 * keeping its text row, in either format alike. */
static void refused_binary_row_is_the_same_dead_letter_as_text(void **state)
{
    (void)state;
    const char *topics[2] = {"bad.text", "bad.bin"};
    for (int fmt = 0; fmt < 2; fmt++) {
        coll_batch *b = new_batch(topics[fmt], fmt == 1);
        g_rng = 0x2545f4914f6cdd1dULL; /* the same rows in both formats */
        for (int i = 0; i < 3; i++) {
            core_event ev;
            rnd_event(&ev, topics[fmt], i);
            ev.client_ip = i == 1 ? "not-an-ip\t\\" : "192.0.2.7";
            add_row(b, &ev);
            core_event_clear(&ev);
        }
        coll_batch *bs[1] = {b};
        store(bs, 1);
        assert_int_equal(b->n_rows, 2);
        coll_batch_free(b);
    }
    assert_int_equal(q("SELECT count(*) FROM interactions WHERE kafka_topic = 'bad.bin'"), 2);
    assert_int_equal(q("SELECT count(*) FROM rejected_events WHERE topic = 'bad.bin'"
                       " AND kafka_offset = 1 AND reason LIKE 'PostgreSQL refused the row:%'"),
                     1);
    /* the dead letters keep the same row text, whichever format was sent */
    assert_int_equal(q("SELECT count(*) FROM rejected_events t JOIN rejected_events b"
                       " ON t.topic = 'bad.text' AND b.topic = 'bad.bin'"
                       " AND replace(convert_from(t.raw, 'UTF8'), 'bad.text', 'bad.bin')"
                       "   = convert_from(b.raw, 'UTF8')"
                       " AND position('not-an-ip\\t\\\\' in convert_from(b.raw, 'UTF8')) > 0"),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(binary_rows_read_back_equal_to_text_rows),
        cmocka_unit_test(refused_binary_row_is_the_same_dead_letter_as_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
