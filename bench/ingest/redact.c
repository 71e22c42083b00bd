/* Redaction cost per event (collector.redact_*), on one core, beside the
 * decode of the same events as the baseline measured in the same run: the
 * events (native JSON lines, e.g. from custos gen) are decoded once, and
 * each round times one native decode pass of all the messages, then one
 * coll_redact_event pass per setting over the decoded events: secrets
 * masked (the default), secrets and personal data masked, both
 * pseudonymised; then the same over a copy of the events whose responses
 * each carry an AWS key and an e-mail address (every event redacted,
 * tokens built). Thread CPU time (a busy machine's waits left out).
 *
 *   bench_redact FILE [SECONDS]   (bench/ingest/redact.sh) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/collector.h"
#include "collector/redact_event.h"
#include "bench/ingest/bench_util.h"


static core_event *decode_all(const msgs *m)
{
    coll_limits lim = coll_limits_default();
    core_event *evs = calloc(m->count, sizeof *evs);
    char err[256];
    for (size_t i = 0; i < m->count; i++)
        if (coll_decode_native(&lim, m->p[i], m->n[i], &evs[i], err, sizeof err) != 0) {
            fprintf(stderr, "bench_redact: event %zu refused: %s\n", i, err);
            exit(1);
        }
    return evs;
}

static double decode_pass(const msgs *m)
{
    static coll_decoded out;
    coll_limits lim = coll_limits_default();
    char err[256];
    double c0 = cpu_s();
    for (size_t i = 0; i < m->count; i++)
        if (coll_decode(&coll_decoder_native, &lim, m->p[i], m->n[i], &out, err, sizeof err) < 0)
            exit(1);
    return cpu_s() - c0;
}

static size_t g_changed;

static double redact_pass(coll_redactor *r, const core_event *evs, size_t n)
{
    double c0 = cpu_s();
    for (size_t i = 0; i < n; i++) {
        const core_event *v = coll_redact_event(r, &evs[i]);
        if (!v)
            exit(1);
        g_changed += v != &evs[i];
    }
    return cpu_s() - c0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_redact FILE [SECONDS]\n");
        return 2;
    }
    double secs = argc > 2 ? atof(argv[2]) : 3;
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    msgs plain = {0}, dirty = {0};
    char *line = NULL;
    size_t cap = 0, bytes = 0;
    ssize_t n;
    static const char mark[] = "\"response\":\"";
    static const char leak[] = "AWS_ACCESS_KEY_ID=AKIAZ7QX3MB2W9KD4PLT owner alice@example.org ";
    while ((n = getline(&line, &cap, in)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (!n)
            continue;
        add(&plain, line, (size_t)n);
        bytes += (size_t)n;
        char *at = strstr(line, mark);
        char *d = malloc((size_t)n + sizeof leak);
        size_t k = at ? (size_t)(at - line) + sizeof mark - 1 : (size_t)n;
        memcpy(d, line, k);
        memcpy(d + k, at ? leak : "", at ? sizeof leak - 1 : 0);
        memcpy(d + k + (at ? sizeof leak - 1 : 0), line + k, (size_t)n - k);
        add(&dirty, d, (size_t)n + (at ? sizeof leak - 1 : 0));
        free(d);
    }
    fclose(in);
    free(line);
    if (!plain.count)
        return 1;
    core_event *pe = decode_all(&plain), *de = decode_all(&dirty);
    unsigned char key[CORE_PSEUDONYM_KEY_BYTES] = {7};
    struct {
        const char *name;
        coll_redactor *r;
        const core_event *evs;
    } runs[] = {
        {"secrets mask (default)", coll_redactor_new(COLL_RD_MASK, COLL_RD_OFF, NULL), pe},
        {"secrets+personal mask", coll_redactor_new(COLL_RD_MASK, COLL_RD_MASK, NULL), pe},
        {"both pseudonymise", coll_redactor_new(COLL_RD_PSEUDONYMISE, COLL_RD_PSEUDONYMISE, key), pe},
        {"leaky: secrets mask", coll_redactor_new(COLL_RD_MASK, COLL_RD_OFF, NULL), de},
        {"leaky: both pseudonymise",
         coll_redactor_new(COLL_RD_PSEUDONYMISE, COLL_RD_PSEUDONYMISE, key), de},
    };
    enum { NR = sizeof runs / sizeof runs[0] };
    double dec = 0, cpu[NR] = {0};
    size_t changed[NR] = {0};
    int rounds = 0;
    double t0 = cpu_s();
    do {
        dec += decode_pass(&plain);
        for (int i = 0; i < NR; i++) {
            size_t before = g_changed;
            cpu[i] += redact_pass(runs[i].r, runs[i].evs, plain.count);
            changed[i] += g_changed - before;
        }
        rounds++;
    } while (cpu_s() - t0 < secs * (NR + 1));
    double per = (double)plain.count * rounds;
    double base = dec * 1e9 / per;
    printf("# %zu events (%.0f bytes each on average), %d interleaved rounds; CPU time of this "
           "one thread\n", plain.count, (double)bytes / (double)plain.count, rounds);
    printf("%-28s %10s %10s %14s\n", "pass", "ns/event", "x decode", "events changed");
    printf("%-28s %10.0f %10.2f %14s\n", "decode native (baseline)", base, 1.0, "-");
    for (int i = 0; i < NR; i++) {
        double ns = cpu[i] * 1e9 / per;
        printf("%-28s %10.0f %10.2f %13.1f%%\n", runs[i].name, ns, ns / base,
               100.0 * (double)changed[i] / per);
        coll_redactor_free(runs[i].r);
    }
    for (size_t i = 0; i < plain.count; i++) {
        core_event_clear(&pe[i]);
        core_event_clear(&de[i]);
    }
    return 0;
}
