/* Decode cost per event, per format, on one core: the same events (native
 * JSON lines, e.g. from custos gen) as native messages, LiteLLM
 * StandardLoggingPayloads (one a message), and OTLP export requests of 16
 * spans as JSON and as protobuf (tools/gen_format.c makes them), each
 * decoded through the registry (coll_decode) round after round. Native is
 * measured in the same run, as the baseline; the OTLP protobuf reader alone
 * (wire format -> OTLP/JSON tree, before the mapping) is measured apart.
 * The formats take turns, one pass each, round after round; the cost is
 * the thread's CPU time (a busy machine's waits left out), wall time beside
 * it. Prints one line a format: events/s, ns/event, and the ratio to native.
 *
 *   bench_decode FILE [SECONDS_PER_FORMAT]   (bench/ingest/decode.sh) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/collector.h"
#include "collector/decode_map.h"
#include "tools/gen_format.h"
#include "bench/ingest/bench_util.h"


/* One pass over m with d (read_only: the protobuf reader alone); returns
 * the events decoded, adds the CPU and wall seconds it took. */
static size_t pass(const coll_decoder *d, const msgs *m, bool read_only, size_t read_events,
                   double *cpu, double *wall)
{
    static coll_decoded out;
    coll_limits lim = coll_limits_default();
    char err[512];
    size_t ev = 0;
    double c0 = cpu_s(), w0 = wall_s();
    for (size_t i = 0; i < m->count; i++) {
        if (read_only) {
            cJSON *j = coll_otlp_proto_read(m->p[i], m->n[i], err, sizeof err);
            if (!j) {
                fprintf(stderr, "bench_decode: proto read: %s\n", err);
                exit(1);
            }
            cJSON_Delete(j);
            continue;
        }
        if (coll_decode(d, &lim, m->p[i], m->n[i], &out, err, sizeof err) < 0) {
            fprintf(stderr, "bench_decode: %s: message %zu refused: %s\n", d->name, i, err);
            exit(1);
        }
        ev += out.n;
    }
    *cpu += cpu_s() - c0;
    *wall += wall_s() - w0;
    return read_only ? read_events : ev;
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
    const coll_decoder *decs[5] = {&coll_decoder_native, &coll_decoder_litellm,
                                   &coll_decoder_otlp_json, &coll_decoder_otlp_proto,
                                   &coll_decoder_otlp_proto};
    const char *names[5] = {"native", "litellm", "otlp_json", "otlp_proto",
                            "otlp_proto (read only)"};
    const msgs *ms[5] = {&fm[0], &fm[1], &fm[2], &fm[3], &fm[3]};
    /* Interleaved: one pass of each format in turn, round after round, so
     * that the machine's load weighs on every format alike. */
    double cpu[5] = {0}, wall[5] = {0};
    size_t events[5] = {0};
    double t0 = wall_s();
    int rounds = 0;
    do {
        for (int f = 0; f < 5; f++)
            events[f] += pass(decs[f], ms[f], f == 4, total, &cpu[f], &wall[f]);
        rounds++;
    } while (wall_s() - t0 < secs * 5);
    printf("# %zu events, %d interleaved rounds; CPU time of this one thread (one core), "
           "wall time beside it\n", total, rounds);
    printf("%-24s %9s %12s %10s %9s %12s %12s\n", "format", "messages", "events/s(cpu)",
           "ns/event", "x native", "bytes/event", "events/s(wall)");
    for (int f = 0; f < 5; f++) {
        double ns = cpu[f] * 1e9 / (double)events[f], base = cpu[0] * 1e9 / (double)events[0];
        printf("%-24s %9zu %12.0f %10.0f %9.2f %12.0f %12.0f\n", names[f], ms[f]->count,
               (double)events[f] / cpu[f], ns, ns / base,
               f == 4 ? 0.0 : (double)bytes[f] / (double)total, (double)events[f] / wall[f]);
    }
    return 0;
}
