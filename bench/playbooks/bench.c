/* Playbook benchmarks, in process against the real engine.
 *
 *   bench runs FILE N        playbook runs per second on one core: N incidents
 *                            through the engine in memory (dry run), the
 *                            playbook in FILE matching each; target >= 5,000/s
 *   bench latency N          incident -> action done, p50/p99: N incidents, each
 *                            a new key to revoke, through the shipped playbooks
 *                            with the database and the configured effectors
 *                            (approvals excluded), timed around the engine call;
 *                            target p99 <= 500 ms
 *   bench live N RATE        the same through the daemon's path: pb_live_start,
 *                            incidents queued with pb_live_incident at RATE/s,
 *                            latency = the revoke's finished_at (PostgreSQL)
 *                            minus the time it was queued
 *
 * Configuration comes from the environment (CUSTOS_POSTGRES_DSN, ...). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "playbooks/pb_engine.h"
#include "playbooks/playbooks.h"

#include <time.h>

static const char *TEMPLATE =
    "{\"incident_id\":\"bench-%d-%lld\",\"type\":\"extraction\",\"severity\":\"high\","
    "\"api_key_id\":\"bench-key-%d-%lld\",\"model\":\"acme-chat\",\"model_version\":\"2024-06\","
    "\"first_seen\":\"2026-11-21T10:00:00Z\",\"detected_at\":\"2026-11-21T10:07:00Z\","
    "\"atlas\":[\"AML.T0024\"],\"owasp\":[\"LLM10\"],\"summary\":\"bench\","
    "\"evidence\":{\"queries\":1800,\"alerts\":3}}";

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench runs FILE N | bench latency N\n");
        return 2;
    }
    core_log_set_level(CORE_LOG_WARN);
    core_config cfg;
    char err[1024];
    if (core_config_load(&cfg, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "config: %s\n", err);
        return 1;
    }
    long long stamp = (long long)core_wall_us();
    char json[1024];
    if (strcmp(argv[1], "runs") == 0 && argc == 4) {
        int n = atoi(argv[3]);
        pb_engine_opts o = {.cfg = &cfg, .force_dry_run = true};
        pb_engine *e = pb_engine_new(&o, err, sizeof err);
        if (!e || pb_engine_load_file(e, argv[2], err, sizeof err) < 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        int64_t t0 = core_mono_us();
        for (int i = 0; i < n; i++) {
            snprintf(json, sizeof json, TEMPLATE, i, stamp, i, stamp);
            if (pb_engine_incident(e, json, strlen(json), PB_EV_OPENED, 0, err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            if (i % 64 == 63)
                pb_engine_memory_reset(e);
        }
        int64_t us = core_mono_us() - t0;
        pb_engine_stats st;
        pb_engine_stats_get(e, &st);
        double rate = (double)st.runs / ((double)us / 1e6);
        printf("playbook runs: %" PRIu64 " runs (%" PRIu64 " ok, %" PRIu64 " actions) in %.3f s "
               "on one thread\n", st.runs, st.failed[PB_SB_OK], st.actions, (double)us / 1e6);
        printf("runs per second: %.0f   (target >= 5000)   %s\n", rate,
               rate >= 5000 ? "MET" : "MISSED");
        printf("mean per run: %.1f us (fresh sandbox, compile, declaration, when, run)\n",
               (double)us / (double)st.runs);
        pb_engine_free(e);
        return st.failed[PB_SB_OK] == st.runs ? 0 : 1;
    }
    if (strcmp(argv[1], "latency") == 0) {
        int n = atoi(argv[2]);
        PGconn *db = core_db_connect(cfg.pg_dsn, 10, err, sizeof err);
        if (!db || core_db_check_schema(db, err, sizeof err) < 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        pb_fx *fx = pb_fx_new(&cfg, err, sizeof err);
        if (!fx) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        pb_engine_opts o = {.cfg = &cfg, .db = db, .persist = true, .fx = fx};
        pb_engine *e = pb_engine_new(&o, err, sizeof err);
        if (!e || pb_engine_load_dir(e, pb_engine_dir(&cfg), NULL) != 0) {
            fprintf(stderr, "cannot load the playbooks\n");
            return 1;
        }
        int64_t *lat = calloc((size_t)n, sizeof *lat);
        for (int i = 0; i < n; i++) {
            snprintf(json, sizeof json, TEMPLATE, i, stamp, i, stamp);
            int64_t t0 = core_mono_us();
            if (pb_engine_incident(e, json, strlen(json), -1, 0, err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            lat[i] = core_mono_us() - t0;
        }
        pb_engine_stats st;
        pb_engine_stats_get(e, &st);
        /* every revoke must be done, or the figure means nothing */
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM actions WHERE kind = 'revoke_key' AND state = 'done' AND "
                 "subject LIKE 'bench-key-%%-%lld'", stamp);
        PGresult *r = PQexec(db, sql);
        long done = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
        PQclear(r);
        qsort(lat, (size_t)n, sizeof *lat, cmp64);
        double p50 = (double)lat[n / 2] / 1000, p99 = (double)lat[(n * 99) / 100] / 1000;
        char targets[128];
        pb_fx_targets(&cfg, PB_K_REVOKE_KEY, NULL, targets, sizeof targets);
        printf("incident -> actions done: %d incidents, %ld revokes done, %" PRIu64
               " actions executed (effectors: %s)\n", n, done, st.executed, targets);
        printf("p50 %.1f ms   p99 %.1f ms   max %.1f ms   (target p99 <= 500 ms)   %s\n", p50, p99,
               (double)lat[n - 1] / 1000, p99 <= 500 && done == n ? "MET" : "MISSED");
        free(lat);
        pb_engine_free(e);
        pb_fx_free(fx);
        PQfinish(db);
        return done == n ? 0 : 1;
    }
    if (strcmp(argv[1], "live") == 0 && argc == 4) {
        int n = atoi(argv[2]);
        double rate = atof(argv[3]);
        pb_live *pl = pb_live_start(&cfg, err, sizeof err);
        if (!pl) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        PGconn *db = core_db_connect(cfg.pg_dsn, 10, err, sizeof err);
        if (!db) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        int64_t *queued = calloc((size_t)n, sizeof *queued);
        int64_t start = core_mono_us();
        for (int i = 0; i < n; i++) {
            int64_t due = start + (int64_t)((double)i * 1e6 / rate);
            int64_t now;
            while ((now = core_mono_us()) < due) {
                struct timespec ts = {0, (long)((due - now) * 1000)};
                nanosleep(&ts, NULL);
            }
            snprintf(json, sizeof json, TEMPLATE, i, stamp, i, stamp);
            queued[i] = core_wall_us();
            pb_live_incident(pl, json);
        }
        /* wait for every revoke to be done (or 60 s) */
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM actions WHERE kind = 'revoke_key' AND state = 'done' AND "
                 "subject LIKE 'bench-key-%%-%lld'", stamp);
        long done = 0;
        for (int t = 0; t < 600 && done < n; t++) {
            PGresult *r = PQexec(db, sql);
            done = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
            PQclear(r);
            if (done < n) {
                struct timespec ts = {0, 100000000};
                nanosleep(&ts, NULL);
            }
        }
        snprintf(sql, sizeof sql,
                 "SELECT split_part(subject, '-', 3)::int, (extract(epoch FROM finished_at) * "
                 "1000000)::bigint FROM actions WHERE kind = 'revoke_key' AND state = 'done' AND "
                 "subject LIKE 'bench-key-%%-%lld'", stamp);
        PGresult *r = PQexec(db, sql);
        int m = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : 0;
        int64_t *lat = calloc((size_t)(m ? m : 1), sizeof *lat);
        for (int i = 0; i < m; i++) {
            int idx = atoi(PQgetvalue(r, i, 0));
            lat[i] = strtoll(PQgetvalue(r, i, 1), NULL, 10) - queued[idx];
        }
        PQclear(r);
        pb_live_stop(pl);
        PQfinish(db);
        if (m == 0) {
            fprintf(stderr, "no revoke done\n");
            return 1;
        }
        qsort(lat, (size_t)m, sizeof *lat, cmp64);
        double p50 = (double)lat[m / 2] / 1000, p99 = (double)lat[(m * 99) / 100] / 1000;
        char targets[128];
        pb_fx_targets(&cfg, PB_K_REVOKE_KEY, NULL, targets, sizeof targets);
        printf("live path (pb_live_incident -> revoke done in PostgreSQL): %d incidents at %.0f/s, "
               "%d revokes done (effectors: %s)\n", n, rate, m, targets);
        printf("p50 %.1f ms   p99 %.1f ms   max %.1f ms   (target p99 <= 500 ms)   %s\n", p50, p99,
               (double)lat[m - 1] / 1000, p99 <= 500 && m == n ? "MET" : "MISSED");
        free(lat);
        free(queued);
        return m == n ? 0 : 1;
    }
    fprintf(stderr, "usage: bench runs FILE N | bench latency N | bench live N RATE\n");
    return 2;
}
