/* COPY text against COPY binary, for the same rows: the client's cost of
 * building them (coll_copy_row / coll_copy_row_bin, this thread's CPU
 * time, ns a row) and the time PostgreSQL takes to COPY them into
 * interactions (from the COPY statement to its result, wall time; each
 * round's rows are then committed and truncated away, so every round loads
 * the same empty table). The two formats take turns, round after round, so
 * that a busy machine weighs on both alike; the medians, spreads and their
 * ratio are printed. Text is the baseline, measured in the same run.
 *
 *   bench_copy FILE DSN [ROUNDS]   (bench/ingest/copy.sh) */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/batch.h"
#include "collector/collector.h"
#include "bench/ingest/bench_util.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void summary(const char *what, double *v, int n, double *median)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    *median = v[n / 2];
    printf("%-34s median %10.1f   [%.1f .. %.1f]\n", what, *median, v[0], v[n - 1]);
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench_copy: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

/* COPYs rows (text, or binary tuples with header and trailer) into
 * interactions; returns the wall seconds from the statement to its result. */
static double copy_once(PGconn *c, bool binary, const coll_buf *rows)
{
    exec_ok(c, "BEGIN");
    double t0 = wall_s();
    PGresult *r = PQexec(c, binary ? "COPY interactions (" COLL_COPY_COLUMNS
                                     ") FROM STDIN (FORMAT binary)"
                                   : "COPY interactions (" COLL_COPY_COLUMNS ") FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        fprintf(stderr, "bench_copy: COPY: %s", PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
    int ok = 1;
    if (binary)
        ok &= PQputCopyData(c, coll_copy_bin_header(), COLL_COPY_BIN_HEADER_LEN) == 1;
    for (size_t off = 0; off < rows->len && ok; off += 1 << 20) {
        size_t n = rows->len - off < (1 << 20) ? rows->len - off : (1 << 20);
        ok &= PQputCopyData(c, rows->data + off, (int)n) == 1;
    }
    if (binary && ok)
        ok &= PQputCopyData(c, coll_copy_bin_trailer(), COLL_COPY_BIN_TRAILER_LEN) == 1;
    ok &= PQputCopyEnd(c, ok ? NULL : "send failed") == 1;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench_copy: COPY: %s", PQerrorMessage(c));
            exit(1);
        }
        PQclear(r);
    }
    double t = wall_s() - t0;
    if (!ok) {
        fprintf(stderr, "bench_copy: sending failed: %s", PQerrorMessage(c));
        exit(1);
    }
    exec_ok(c, "COMMIT");
    exec_ok(c, "TRUNCATE interactions");
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_copy FILE DSN [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 7;
    if (rounds < 1 || rounds > 1000)
        rounds = 7;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    coll_limits lim = coll_limits_default();
    core_event *evs = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (!len)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            evs = realloc(evs, cap * sizeof *evs);
            if (!evs)
                return 1;
        }
        char err[256];
        memset(&evs[n], 0, sizeof evs[n]);
        if (coll_decode_native(&lim, line, (size_t)len, &evs[n], err, sizeof err) != 0) {
            fprintf(stderr, "bench_copy: line %zu: %s\n", n + 1, err);
            return 1;
        }
        evs[n].topic = "bench.copy";
        evs[n].partition = (int32_t)(n % 16);
        evs[n].offset = (int64_t)n;
        evs[n].kafka_ts_ms = evs[n].ts_us / 1000;
        n++;
    }
    free(line);
    fclose(f);
    if (!n) {
        fprintf(stderr, "bench_copy: no events\n");
        return 1;
    }
    PGconn *c = PQconnectdb(argv[2]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench_copy: %s", PQerrorMessage(c));
        return 1;
    }
    exec_ok(c, "TRUNCATE interactions");
    double *build[2], *srv[2];
    for (int k = 0; k < 2; k++) {
        build[k] = calloc((size_t)rounds, sizeof(double));
        srv[k] = calloc((size_t)rounds, sizeof(double));
    }
    coll_buf rows[2] = {{0}, {0}};
    size_t bytes[2] = {0, 0};
    for (int r = 0; r < rounds; r++) {
        for (int t = 0; t < 2; t++) {
            int k = (r + t) % 2; /* alternately first and second */
            rows[k].len = 0;
            double c0 = cpu_s();
            for (size_t i = 0; i < n; i++)
                if ((k ? coll_copy_row_bin(&rows[k], &evs[i]) : coll_copy_row(&rows[k], &evs[i])) <
                    0) {
                    fprintf(stderr, "bench_copy: out of memory\n");
                    return 1;
                }
            build[k][r] = (cpu_s() - c0) * 1e9 / (double)n;
            bytes[k] = rows[k].len;
            srv[k][r] = copy_once(c, k == 1, &rows[k]);
        }
    }
    printf("%zu rows, %d rounds a format, alternating; text is the baseline\n", n, rounds);
    printf("row bytes: text %.0f, binary %.0f a row\n", (double)bytes[0] / (double)n,
           (double)bytes[1] / (double)n);
    double bt, bb, st, sb;
    summary("build text (ns/row, CPU)", build[0], rounds, &bt);
    summary("build binary (ns/row, CPU)", build[1], rounds, &bb);
    for (int k = 0; k < 2; k++)
        for (int r = 0; r < rounds; r++)
            srv[k][r] *= 1e3;
    summary("COPY text into interactions (ms)", srv[0], rounds, &st);
    summary("COPY binary into interactions (ms)", srv[1], rounds, &sb);
    printf("binary / text: build %.2f, COPY %.2f (%.0f vs %.0f rows/s at the medians)\n",
           bb / bt, sb / st, (double)n / (sb / 1e3), (double)n / (st / 1e3));
    for (size_t i = 0; i < n; i++)
        core_event_clear(&evs[i]);
    free(evs);
    coll_buf_free(&rows[0]);
    coll_buf_free(&rows[1]);
    PQfinish(c);
    return 0;
}
