/* Decode cost per event, per format, on one core: the same events (native
 * JSON lines, e.g. from custos gen) as native messages, LiteLLM
 * StandardLoggingPayloads (one a message), and OTLP export requests of 16
 * spans as JSON and as protobuf (tools/gen_format.c makes them), each
 * decoded through the registry (coll_decode) round after round. Native is
 * measured in the same run, as the baseline; the OTLP protobuf reader alone
 * (wire format -> OTLP/JSON tree, before the mapping) is measured apart.
 * Prints one line a format: events/s, ns/event, and the ratio to native.
 *
 *   bench_decode FILE [SECONDS_PER_FORMAT]   (bench/ingest/decode.sh) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/collector.h"
#include "collector/decode_map.h"
#include "tools/gen_format.h"

typedef struct {
    char **p;
    size_t *n;
    size_t count, cap;
} msgs;

static void add(msgs *m, const void *p, size_t n)
{
    if (m->count == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->p = realloc(m->p, m->cap * sizeof *m->p);
        m->n = realloc(m->n, m->cap * sizeof *m->n);
    }
    m->p[m->count] = malloc(n ? n : 1);
    memcpy(m->p[m->count], p, n);
    m->n[m->count++] = n;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Decodes every message of m with d until secs have passed (whole rounds);
 * returns ns per event and sets *eps. */
static double measure(const coll_decoder *d, const msgs *m, double secs, double *eps,
                      size_t *events_per_round)
{
    coll_limits lim = coll_limits_default();
    coll_decoded out = {0};
    char err[512];
    size_t events = 0, rounds = 0;
    double t0 = now_s(), t;
    do {
        size_t ev = 0;
        for (size_t i = 0; i < m->count; i++) {
            if (coll_decode(d, &lim, m->p[i], m->n[i], &out, err, sizeof err) < 0) {
                fprintf(stderr, "bench_decode: %s: message %zu refused: %s\n", d->name, i, err);
                exit(1);
            }
            ev += out.n;
        }
        events += ev;
        *events_per_round = ev;
        rounds++;
        t = now_s();
    } while (t - t0 < secs);
    coll_decoded_free(&out);
    *eps = (double)events / (t - t0);
    return (t - t0) * 1e9 / (double)events;
}

static double measure_read(const msgs *m, double secs, size_t events_per_round, double *eps)
{
    char err[256];
    size_t events = 0;
    double t0 = now_s(), t;
    do {
        for (size_t i = 0; i < m->count; i++) {
            cJSON *j = coll_otlp_proto_read(m->p[i], m->n[i], err, sizeof err);
            if (!j) {
                fprintf(stderr, "bench_decode: proto read: %s\n", err);
                exit(1);
            }
            cJSON_Delete(j);
        }
        events += events_per_round;
        t = now_s();
    } while (t - t0 < secs);
    *eps = (double)events / (t - t0);
    return (t - t0) * 1e9 / (double)events;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_decode FILE [SECONDS_PER_FORMAT]\n");
        return 2;
    }
    double secs = argc > 2 ? atof(argv[2]) : 3;
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    msgs fm[4] = {{0}};
    char *line = NULL, err[256];
    size_t cap = 0;
    ssize_t n;
    cJSON *batch[TOOLS_GEN_SPANS_PER_REQUEST];
    size_t nb = 0, total = 0;
    size_t bytes[4] = {0};
    while ((n = coll_read_message(in, false, &line, &cap, err, sizeof err)) >= 0 || nb) {
        if (n > 0) {
            add(&fm[GF_NATIVE], line, (size_t)n);
            cJSON *ev = cJSON_ParseWithLength(line, (size_t)n);
            cJSON *p = tools_gen_litellm_payload(ev);
            char *s = cJSON_PrintUnformatted(p);
            add(&fm[GF_LITELLM], s, strlen(s));
            free(s);
            cJSON_Delete(p);
            batch[nb++] = ev;
            total++;
        }
        if (nb == TOOLS_GEN_SPANS_PER_REQUEST || (n < 0 && nb)) {
            cJSON *req = tools_gen_otlp_request(batch, nb, total - nb);
            char *s = cJSON_PrintUnformatted(req);
            add(&fm[GF_OTLP_JSON], s, strlen(s));
            free(s);
            unsigned char *pb;
            size_t pn;
            if (tools_otlp_proto_encode(req, &pb, &pn) < 0)
                return 1;
            add(&fm[GF_OTLP_PROTO], pb, pn);
            free(pb);
            cJSON_Delete(req);
            for (size_t k = 0; k < nb; k++)
                cJSON_Delete(batch[k]);
            nb = 0;
        }
        if (n < 0)
            break;
    }
    fclose(in);
    free(line);
    for (int f = 0; f < 4; f++)
        for (size_t i = 0; i < fm[f].count; i++)
            bytes[f] += fm[f].n[i];
    const coll_decoder *decs[4] = {&coll_decoder_native, &coll_decoder_litellm,
                                   &coll_decoder_otlp_json, &coll_decoder_otlp_proto};
    printf("# %zu events; %.1f s a format; one core (this process, one thread)\n", total, secs);
    printf("%-22s %10s %12s %10s %9s %12s\n", "format", "messages", "events/s", "ns/event",
           "x native", "bytes/event");
    double base = 0;
    size_t per_round = 0;
    for (int f = 0; f < 4; f++) {
        double eps, ns = measure(decs[f], &fm[f], secs, &eps, &per_round);
        if (f == 0)
            base = ns;
        printf("%-22s %10zu %12.0f %10.0f %9.2f %12.0f\n", decs[f]->name, fm[f].count, eps, ns,
               ns / base, (double)bytes[f] / (double)total);
    }
    double eps, ns = measure_read(&fm[GF_OTLP_PROTO], secs, per_round, &eps);
    printf("%-22s %10zu %12.0f %10.0f %9.2f %12s\n", "otlp_proto (read only)",
           fm[GF_OTLP_PROTO].count, eps, ns, ns / base, "-");
    return 0;
}
